/* Error tracking in the submission database where an events endpoint
 * lives (tables of migration 3, store/subs.c): events grouped into issues,
 * unique sessions, hourly graphs, zstd dictionaries, daily counters and
 * the daily session salt. Writes go through the store's writer (group
 * commit), reads through its reader pool.
 *
 * Nothing readable is stored: an event, an issue's head (title, culprit)
 * and its last-event fields are sealed by the caller; the fingerprint and
 * the search tokens are keyed MACs (vault_key_mac); session ids are MACs
 * under the daily salt (app_session_id), so the per-day session rows are
 * pruned once their day is over (they could never match again); the
 * hourly counts stay. */
#ifndef INLET_STORE_EVENTS_H
#define INLET_STORE_EVENTS_H

#include <stddef.h>
#include <stdint.h>

struct arena;
struct substore;

enum issue_state { ISSUE_OPEN = 0, ISSUE_RESOLVED = 1, ISSUE_IGNORED = 2 };

#define EV_FP_BYTES 32
#define EV_SID_BYTES 16
#define EV_HOUR_MS 3600000LL
#define EV_DAY_MS 86400000LL

/* One event to store. */
struct ev_record {
	int64_t id;                      /* sub_id_next(): sorts by time */
	uint8_t fingerprint[EV_FP_BYTES];
	uint32_t key_version;
	uint32_t dict_id;                /* zstd dictionary of the payload; 0: none */
	const uint8_t *sealed;           /* the event */
	size_t sealed_len;
	const uint8_t *meta;             /* sealed head, used if the issue is new */
	size_t meta_len;
	const uint8_t *last;             /* sealed last-event fields */
	size_t last_len;
	/* The blind search tokens of a new issue, made only when the issue
	 * turns out to be new (on the writer thread): heap, freed here. */
	char *(*search)(void *ctx);
	void *search_ctx;
	int64_t new_issue_id;            /* the issue's id if it is new */
	uint8_t sid[EV_SID_BYTES];       /* the visitor's session of the day */
	int has_sid;
	int visit;                       /* the visitor's session counts in the
					  * graph too (TrackX: sessions are
					  * visits); Sentry SDKs report their own */
	/* out, set by the writer */
	int stored;                      /* 0: its issue is ignored, dropped */
	int64_t issue_id;
	int issue_new;                   /* the event made its issue */
	int issue_state;                 /* stored: the issue after this event */
	int64_t issue_count, issue_last_seen;
};

/* A session seen: a TrackX ping (init), or a Sentry session update. */
struct ev_session {
	uint8_t sid[EV_SID_BYTES];
	int64_t ms;                      /* when it started */
	int init;                        /* counts as a new session if unseen */
	int errored, crashed;
};

/* Pre-aggregated Sentry session counts for one hour. */
struct ev_aggregate {
	int64_t hour_ms;
	int64_t sessions, errored, crashed;
};

/* What one request stores: applied in one transaction, all or nothing. */
struct ev_batch {
	int64_t endpoint_id;
	int64_t now_ms;
	int64_t shard_threshold;         /* the endpoint's move threshold (0: the server's) */
	int outbox;                      /* new and reopened issues go to the outbox (webhooks) */
	struct ev_record *events;
	size_t nevents;
	struct ev_session *sessions;
	size_t nsessions;
	struct ev_aggregate *aggregates;
	size_t naggregates;
	/* With collect_hours set, the writer lists what the batch added to
	 * session_hours (hour_ms the hour's start), for a copy elsewhere
	 * (ClickHouse): valid once done reports 0. Heap, grown by the writer;
	 * the caller frees hours with free() whatever the outcome. */
	int collect_hours;
	struct ev_aggregate *hours;
	size_t nhours, hours_cap;
};

typedef void (*ev_done_fn)(void *ctx, int rc);
/* Queues the batch (not copied: it and what it points to must live until
 * done runs on the writer thread, rc 0 once durable). */
void evstore_submit(struct substore *s, struct ev_batch *b, ev_done_fn done, void *ctx);

/* ---- issues ------------------------------------------------------------ */

struct ev_issue {
	int64_t id, endpoint_id;
	int state;
	int64_t count, sessions, dropped, first_seen, last_seen, state_changed;
	uint32_t key_version;
	const uint8_t *meta, *last; /* sealed, in the caller's arena */
	size_t meta_len, last_len;
	uint8_t fingerprint[EV_FP_BYTES];
};

enum issue_sort { ISSUE_SORT_LAST, ISSUE_SORT_FIRST, ISSUE_SORT_EVENTS, ISSUE_SORT_SESSIONS };

struct issue_query {
	int64_t endpoint_id;
	int sort;               /* enum issue_sort, descending */
	int state;              /* enum issue_state, or -1 for any */
	int64_t after_key, after_id; /* keyset: rows strictly after (key, id); after_id 0 = start */
	const char *match;      /* blind tokens the issue must all hold, space-
				 * separated (search_query_tokens), or NULL */
	size_t limit;
};

int evstore_issues(struct substore *s, const struct issue_query *q, struct arena *a,
		   struct ev_issue **rows, size_t *n);
int evstore_issue(struct substore *s, int64_t endpoint_id, int64_t id, struct arena *a,
		  struct ev_issue *out);
/* INLET_ENOTFOUND when the issue is not the endpoint's. */
int evstore_issue_state(struct substore *s, int64_t endpoint_id, int64_t id, int state);
/* The sort key of an issue under sort, for cursors. */
int64_t evstore_issue_key(const struct ev_issue *i, int sort);

/* ---- events ------------------------------------------------------------ */

struct ev_row {
	int64_t id, issue_id;
	uint32_t key_version, dict_id;
	const uint8_t *sealed;
	size_t sealed_len;
};

/* The issue's events, newest first, ids < before (0: from the newest). */
int evstore_events(struct substore *s, int64_t endpoint_id, int64_t issue_id, int64_t before,
		   size_t limit, struct arena *a, struct ev_row **rows, size_t *n);
int evstore_event(struct substore *s, int64_t endpoint_id, int64_t id, struct arena *a,
		  struct ev_row *out);
/* Neighbours of event id in its issue (0 where there is none), and the
 * issue's first and last events. */
int evstore_event_nav(struct substore *s, int64_t issue_id, int64_t id, int64_t *prev,
		      int64_t *next, int64_t *first, int64_t *last);
/* The endpoint's newest events of any issue (dictionary training). */
int evstore_recent(struct substore *s, int64_t endpoint_id, size_t limit, struct arena *a,
		   struct ev_row **rows, size_t *n);
int evstore_event_count(struct substore *s, int64_t endpoint_id, int64_t *out);
/* The events the endpoint's issues have counted and their latest
 * last_seen (ms): read from the issues alone, so cheap for a list. */
int evstore_totals(struct substore *s, int64_t endpoint_id, int64_t *events, int64_t *last_seen);

/* ---- graphs and counters ----------------------------------------------- */

struct ev_point {
	int64_t t;                 /* hour or day start, ms */
	int64_t a, b, c;           /* events | sessions, errored, crashed */
};

/* Events of an issue per hour (bucket_ms EV_HOUR_MS) or day, [from, to). */
int evstore_issue_graph(struct substore *s, int64_t issue_id, int64_t from, int64_t to,
			int64_t bucket_ms, struct arena *a, struct ev_point **pts, size_t *n);
/* Sessions of an endpoint per hour: a sessions, b errored, c crashed. */
int evstore_session_graph(struct substore *s, int64_t endpoint_id, int64_t from, int64_t to,
			  struct arena *a, struct ev_point **pts, size_t *n);

struct ev_count {
	int64_t day;               /* days since the epoch */
	const char *name;          /* arena */
	int64_t n;
};
struct ev_count_delta {
	int64_t account_id, endpoint_id, day;
	char name[48];
	int64_t n;
};
/* Adds deltas to the daily counters (synchronously, through the writer). */
int evstore_count_add(struct substore *s, const struct ev_count_delta *d, size_t n);
/* The same without waiting: d (heap) is the store's, freed once applied.
 * Safe from the writer thread itself. */
void evstore_count_submit(struct substore *s, struct ev_count_delta *d, size_t n);
/* Counters of (account, endpoint) for days [from_day, to_day]; endpoint_id
 * -1 sums every endpoint of the account (and its own counters, id 0). */
int evstore_counts(struct substore *s, int64_t account_id, int64_t endpoint_id, int64_t from_day,
		   int64_t to_day, struct arena *a, struct ev_count **rows, size_t *n);

/* ---- salts and dictionaries -------------------------------------------- */

int evstore_dict_put(struct substore *s, int64_t endpoint_id, uint32_t dict_id, uint32_t key_version,
		     const uint8_t *sealed, size_t len);
struct ev_dict_row {
	uint32_t dict_id, key_version;
	const uint8_t *sealed;
	size_t len;
};
/* The endpoint's dictionaries, newest first. */
int evstore_dicts(struct substore *s, int64_t endpoint_id, struct arena *a, struct ev_dict_row **rows,
		  size_t *n);

/* Everything of the endpoint's error tracking, on endpoint delete. */
int evstore_delete_endpoint(struct substore *s, int64_t endpoint_id);

#endif
