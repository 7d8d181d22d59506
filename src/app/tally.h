/* Daily counters (events, pings, reports, denied requests by reason,
 * management API requests), added up in memory and written to the shared
 * database at most about once a second, so that counting never costs a
 * transaction per request. A crash loses at most the last second of
 * counts; counters are statistics, never data. */
#ifndef INLET_APP_TALLY_H
#define INLET_APP_TALLY_H

#include <stdint.h>

struct substore;
struct tally;

struct tally *tally_create(struct substore *shared);
/* Writes what is pending, synchronously. Accepts NULL. */
void tally_destroy(struct tally *t);
/* Adds n to today's counter name of (account, endpoint); 0 for unknown.
 * Any thread, the writer's included: it never waits for the database. */
void tally_add(struct tally *t, int64_t account_id, int64_t endpoint_id, const char *name, int64_t n);
/* Writes what is pending and waits (before reading the counters back).
 * Not from a writer thread. */
int tally_flush(struct tally *t);

#endif
