/* Inside the submission store: shared by store/subs.c and store/move.c. */
#ifndef INLET_STORE_SUBS_INT_H
#define INLET_STORE_SUBS_INT_H

#include <stdint.h>

#include "store/subs.h"

struct arena;
struct writer;
struct sql_conn;
struct sql_pool;
struct sql_stmt;

#define PENDING_MAX 64

struct substore {
	struct writer *writer;
	struct sql_pool *readers; /* substore_reader */
	char *path;   /* the target: a SQLite file or a postgres:// URL */
	char *schema; /* PostgreSQL schema, or NULL */
	/* Per-batch count deltas, folded into endpoint_counts before commit,
	 * with the last shard threshold seen for each. Writer thread only. */
	struct { int64_t endpoint_id, delta, threshold; } pending[PENDING_MAX];
	int npending;
	/* Endpoints whose writes are logged into move_log (a move is copying
	 * them out). Writer thread only (changed by ops it runs). */
	int64_t *tracked; /* heap */
	int ntracked, tracked_cap;
	/* Endpoints that now live elsewhere: ops still queued here for them
	 * are forwarded to that store's writer. Writer thread only, except
	 * before the store serves (at open, by shards.c). */
	struct moved_to { int64_t endpoint_id; struct substore *to; } *moved; /* heap */
	int nmoved, moved_cap;
	/* PostgreSQL: endpoints another node's cutover moved out (move_state,
	 * read at the start of each batch): writes to them are refused here
	 * unless moved forwards them. Writer thread only. */
	int64_t *cut; /* heap */
	int ncut, cut_cap;
	/* Day whose earlier session rows are pruned (store/events.c). Writer
	 * thread only. */
	int64_t ev_prune_day;
	/* Finds (opening it if need be) the store an endpoint cut over by
	 * another node lives in now, from the shard map; NULL when it
	 * cannot. Runs on the writer thread (store/shards.c sets it). */
	struct substore *(*resolve_cut)(void *ctx, int64_t endpoint_id);
	void *resolve_ctx;
	/* Called after each commit with (endpoint, new total, threshold). */
	void (*on_count)(void *ctx, struct substore *s, int64_t endpoint_id, int64_t total, int64_t threshold);
	void *on_count_ctx;
};

/* Reads a row selected as "id,endpoint_id,status,key_version,nfiles,sealed"
 * (the sealed bytes are copied into a). */
void substore_row_from_sql(struct arena *a, struct sql_stmt *st, struct sub_row *r);

/* A reader connection (scoped to the store's schema), and back. */
int substore_reader(struct substore *s, struct sql_conn **out);
void substore_reader_put(struct substore *s, struct sql_conn *c);

/* Writer-thread helpers. */
int substore_is_tracked(const struct substore *s, int64_t endpoint_id);
/* Where ops for the endpoint go now: a store it moved to (by this
 * process's move, or found through resolve_cut when another node's
 * cutover moved it), else NULL: here. Writer thread. */
struct substore *substore_moved_to(struct substore *s, int64_t endpoint_id);
/* Adds delta to the endpoint's row count at the end of the batch (the
 * count that decides when it moves); threshold 0 keeps the last one. */
void substore_count_delta(struct substore *s, int64_t endpoint_id, int64_t delta, int64_t threshold);
/* Appends an outbox row on the writer's connection (inside the batch). */
int substore_outbox_write(struct writer *w, int64_t endpoint_id, const char *event, int64_t ref);
/* Appends (endpoint, id) to move_log on the writer's connection. */
int substore_log_write(struct writer *w, int64_t endpoint_id, int64_t id);
struct writer *substore_writer(struct substore *s);
/* Marks endpoint_id as living in `to` (NULL: stop forwarding), or as
 * tracked (on = 1) / not (0). Writer thread, or before the store serves. */
void substore_set_moved(struct substore *s, int64_t endpoint_id, struct substore *to);
void substore_set_tracked(struct substore *s, int64_t endpoint_id, int on);

/* Several nodes on one PostgreSQL store (store/move.c). move_store_init
 * makes the move_state table on an opened store's connection;
 * move_batch_begin is the writer's begin hook there (ctx: the substore):
 * it takes the store's move lock shared and reloads tracked and cut from
 * move_state; substore_is_cut tells an op its endpoint is gone. */
int move_store_init(struct sql_conn *c, const char *schema);
int move_batch_begin(void *ctx, struct writer *w, struct sql_conn *c);
int substore_is_cut(const struct substore *s, int64_t endpoint_id);

#endif
