/* ClickHouse for analytics at scale (INLET_CLICKHOUSE_URL), over its HTTP
 * interface with libcurl. What the embedded rollups hold is also streamed
 * here: the daily counters (from tally), one row per stored event and the
 * session-hour deltas (from the events pipeline, after the commit). The
 * analytics reads ask ClickHouse when it is configured, and the embedded
 * rollups when it answers an error; both give the same answers because
 * ClickHouse receives exactly the deltas the embedded store applies.
 *
 * Only ids, times, counts, levels and kinds leave Inlet: no submission or
 * event content, no name a client chose (levels are mapped onto a fixed
 * vocabulary), and the session column is the daily keyed MAC the embedded
 * store keeps too.
 *
 * Feeding never waits for the network: rows go into a bounded in-memory
 * queue (INLET_CLICKHOUSE_BACKLOG rows; past it the oldest are dropped and
 * counted) that one background thread sends in batches (every
 * INLET_CLICKHOUSE_FLUSH_MS, or at INLET_CLICKHOUSE_BATCH rows), retrying
 * with backoff while ClickHouse is down. Delivery is at least once: an
 * insert that timed out after ClickHouse took it is sent again. */
#ifndef INLET_APP_CLICKHOUSE_H
#define INLET_APP_CLICKHOUSE_H

#include <stddef.h>
#include <stdint.h>

struct arena;
struct buf;
struct ch;
struct ev_count;
struct ev_count_delta;
struct ev_point;

/* INLET_CLICKHOUSE_URL taken apart: http[s]://[user[:password]@]host[:port][/database].
 * The port defaults to 8123 (http) or 8443 (https), the database to "inlet". */
struct ch_url {
	char base[512];     /* scheme://host:port/, without the credentials (safe to log) */
	char user[128];     /* "" for ClickHouse's default user */
	char password[256];
	char database[64];  /* [A-Za-z0-9_], so it can sit in SQL as is */
};

/* INLET_EINVAL for anything else than the form above (a query string, a
 * path of more than one segment, a database name with other characters). */
int ch_url_parse(const char *url, struct ch_url *out);

struct ch_config {
	const char *url;      /* INLET_CLICKHOUSE_URL */
	size_t batch_rows;    /* rows per insert at most; a full batch goes at once */
	size_t flush_ms;      /* a row waits at most this long before it is sent */
	size_t backlog_rows;  /* rows held while ClickHouse is away; the oldest go past it */
};

/* Parses the URL, starts the sender thread and tries once to create the
 * database and the tables (when ClickHouse is down the sender creates them
 * before its first insert). INLET_EINVAL on a bad URL. */
int ch_create(const struct ch_config *cfg, struct ch **out);
/* Sends what is queued (one attempt, a few seconds at most), stops the
 * thread, frees everything. Accepts NULL. */
void ch_destroy(struct ch *c);

/* ---- feeding: any thread, never blocks on the network ------------------ */

/* The deltas tally applies to daily_counts (copied). */
void ch_add_counts(struct ch *c, const struct ev_count_delta *d, size_t n);

struct ch_event {
	int64_t id, account_id, endpoint_id, issue_id;
	int64_t ts;                 /* ms, the event id's time (as issue_hours uses) */
	const char *level, *kind;   /* as sent; reduced to a fixed vocabulary here */
	const uint8_t *sid;         /* 16 bytes, the visitor's session MAC, or NULL */
};
/* One stored event (not one of an ignored issue: issue_hours skips those). */
void ch_add_event(struct ch *c, const struct ch_event *e);
/* What a batch added to session_hours for one (endpoint, hour). */
void ch_add_session_hour(struct ch *c, int64_t account_id, int64_t endpoint_id, int64_t hour_ms,
			 int64_t sessions, int64_t errored, int64_t crashed);
/* The endpoint is gone: its rows are deleted (a ClickHouse mutation, sent
 * after the rows queued before it). */
void ch_delete_endpoint(struct ch *c, int64_t endpoint_id);

/* ---- reading ------------------------------------------------------------ */

/* Waits until every row added before the call is in ClickHouse (a few
 * seconds at most). INLET_EIO at once when the sender's last attempt failed
 * (what is queued is not there, so ClickHouse's answer would be short). */
int ch_flush(struct ch *c);

/* The same rows as evstore_counts (store/events.h), in the same order:
 * by day, then name (bytewise). Rows in the arena. INLET_EIO (logged) when
 * ClickHouse does not answer. */
int ch_counts(struct ch *c, int64_t account_id, int64_t endpoint_id, int64_t from_day, int64_t to_day,
	      struct arena *a, struct ev_count **rows, size_t *n);
/* As evstore_issue_graph: events of an issue per bucket, [from, to). */
int ch_issue_graph(struct ch *c, int64_t endpoint_id, int64_t issue_id, int64_t from, int64_t to,
		   int64_t bucket_ms, struct arena *a, struct ev_point **pts, size_t *n);
/* As evstore_session_graph. */
int ch_session_graph(struct ch *c, int64_t endpoint_id, int64_t from, int64_t to, struct arena *a,
		     struct ev_point **pts, size_t *n);

/* 0 when ClickHouse runs a statement for these credentials within a second. */
int ch_ping(struct ch *c);
/* Appends the inlet_clickhouse_* figures (Prometheus text) to out. */
int ch_metrics_render(struct ch *c, struct buf *out);

#endif
