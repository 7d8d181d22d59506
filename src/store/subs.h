/* A submission store: one database of sealed submissions (the shared one,
 * DATA/submissions/shared.db, and later one per busy endpoint), with its
 * own writer thread (group commit) and a pool of reader connections.
 *
 * A submission's id is a 64-bit integer that sorts by time:
 *   ms since epoch << 20 | node << 12 | sequence (12 bits)
 * so inserts append at the end of the primary key, and a keyset page is a
 * range scan. It is the row id inside the process only: the public id is
 * this id and the endpoint's id enciphered together (vault/pubid.h). */
#ifndef INLET_STORE_SUBS_H
#define INLET_STORE_SUBS_H

#include <stddef.h>
#include <stdint.h>

struct arena;
struct substore;

enum sub_status { SUB_INBOX = 0, SUB_SPAM = 1, SUB_TRASH = 2 };

struct sub_row {
	int64_t id;
	int64_t endpoint_id;
	int status;            /* enum sub_status */
	uint32_t key_version;  /* data key that sealed it */
	int nfiles;
	const uint8_t *sealed; /* vault_seal output */
	size_t sealed_len;
	int64_t shard_threshold; /* inserts: the endpoint's move threshold (0: the default) */
	int outbox;            /* inserts: also write "submission.created" to the outbox */
};

/* ms of a submission id. */
static inline int64_t sub_id_ms(int64_t id) { return id >> 20; }
/* A fresh id, strictly greater than any this process made before. */
int64_t sub_id_next(void);
/* node (0..255) goes into every id this process makes. */
void sub_id_set_node(unsigned node);
/* An id at a past time ms, for a row brought in from elsewhere (imports),
 * so it sorts where its source had it. Live ids take sequence 0, 1, … of
 * their ms; these take the next value of a per-process counter that runs
 * down from a random start, so two calls 4,096 apart may repeat and the id
 * may name a row that exists (a live row of that ms, an earlier import):
 * the insert then fails with INLET_EEXISTS and the caller asks again,
 * moving to the next ms when that one is full (4,096 ids per ms and node).
 * INLET_EINVAL when ms is not in the past: ids of now are sub_id_next's. */
int sub_id_past(int64_t ms, int64_t *out);

int substore_open(struct substore **out, const char *path, const char *name);
/* The same on any store/sql.h target: a SQLite file (schema NULL), or a
 * postgres:// URL and the schema that holds this store ("shared",
 * "ep_<endpoint>"), made and migrated if absent. */
int substore_open_target(struct substore **out, const char *target, const char *schema, const char *name);
/* Commits what is queued, stops the writer, closes. Accepts NULL. */
void substore_close(struct substore *s);

typedef void (*substore_done_fn)(void *ctx, int rc);
/* Queues the row (copied); done(ctx, rc) runs on the writer thread once
 * the row is durable (rc 0) or has failed. */
void substore_insert(struct substore *s, const struct sub_row *row, substore_done_fn done, void *ctx);

int substore_get(struct substore *s, int64_t endpoint_id, int64_t id, struct arena *a,
		 struct sub_row *out);

struct sub_query {
	int64_t endpoint_id;
	int64_t before_id; /* keyset cursor: rows with id < before_id; 0 = from the newest */
	int64_t min_id;    /* inclusive; 0 = none */
	int64_t max_id;    /* exclusive; 0 = none */
	int status;        /* enum sub_status, or -1 for any */
	size_t limit;
	int oldest_first;  /* 1: ascending ids, for exports (before_id is
			    * ignored: page on with min_id = last id + 1) */
};
/* Newest first, or oldest first when asked. */
int substore_list(struct substore *s, const struct sub_query *q, struct arena *a,
		  struct sub_row **rows, size_t *n);

/* Rows due to go (id and nfiles only): older than before_id (retention;
 * 0: none), or in the trash since before trash_before_ms. */
int substore_expired(struct substore *s, int64_t endpoint_id, int64_t before_id, int64_t trash_before_ms,
		     size_t limit, struct arena *a, struct sub_row **rows, size_t *n);

/* Synchronous writes through the writer (so they never race its batches). */
int substore_set_status(struct substore *s, int64_t endpoint_id, int64_t id, int status);
int substore_delete(struct substore *s, int64_t endpoint_id, int64_t id);
int substore_delete_endpoint(struct substore *s, int64_t endpoint_id);
/* The transactional outbox: rows written with the submission they are
 * about, in the same transaction, read by the job runner and deleted once
 * their jobs are in the queue (enqueueing is idempotent, so a crash in
 * between only enqueues them again). */
struct outbox_row {
	int64_t id, endpoint_id, ref, created_ms;
	const char *event;     /* "submission.created" */
};
/* The oldest limit rows (by id) that have committed. */
int substore_outbox_read(struct substore *s, size_t limit, struct arena *a, struct outbox_row **rows,
			 size_t *n);
/* Deletes exactly the rows with these ids (those read), through the
 * writer. Never "every id up to": on PostgreSQL ids are taken when a row is
 * written but become visible when its transaction commits, so a row with a
 * lower id than the ones read may commit later, and must stay for the next
 * read. */
int substore_outbox_done(struct substore *s, const int64_t *ids, size_t n);

/* Rows stored for the endpoint, from the counts the writer keeps. */
int substore_count(struct substore *s, int64_t endpoint_id, int64_t *out);
/* The newest submission's id of the endpoint (sub_id_ms gives its time), 0
 * when it has none. */
int substore_last(struct substore *s, int64_t endpoint_id, int64_t *id);

#endif
