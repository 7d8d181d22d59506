/* Daily counters (events, pings, reports, denied requests by reason,
 * management API requests), added up in memory and written to the shared
 * database at most about once a second, so that counting never costs a
 * transaction per request. A crash loses at most the last second of
 * counts; counters are statistics, never data. With ClickHouse configured
 * the same deltas also go there (app/clickhouse.h), and the reads ask it
 * first; the embedded counters stay the fallback and the truth without it. */
#ifndef INLET_APP_TALLY_H
#define INLET_APP_TALLY_H

#include <stddef.h>
#include <stdint.h>

struct arena;
struct ch;
struct ev_count;
struct substore;
struct tally;

/* ch: NULL when ClickHouse is not configured; it must outlive the tally. */
struct tally *tally_create(struct substore *shared, struct ch *ch);
/* Writes what is pending, synchronously. Accepts NULL. */
void tally_destroy(struct tally *t);
/* Adds n to today's counter name of (account, endpoint); 0 for unknown.
 * Any thread, the writer's included: it never waits for the database. */
void tally_add(struct tally *t, int64_t account_id, int64_t endpoint_id, const char *name, int64_t n);
/* Writes what is pending and waits (before reading the counters back).
 * Not from a writer thread. */
int tally_flush(struct tally *t);
/* Flushes, then reads the counters as evstore_counts does (same rows, same
 * order): from ClickHouse when configured, from the embedded store when it
 * is not or when ClickHouse fails (logged). Not from a writer thread. */
int tally_counts(struct tally *t, int64_t account_id, int64_t endpoint_id, int64_t from_day, int64_t to_day,
		 struct arena *a, struct ev_count **rows, size_t *n);

#endif
