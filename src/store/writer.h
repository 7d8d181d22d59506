/* One writer thread per database, doing group commit: request threads hand
 * over operations and are told when their transaction is durable. The
 * writer takes everything queued (up to a cap) as one batch, applies it in
 * one transaction and commits; what arrives during that commit forms the
 * next batch. Batches therefore size themselves to the load, and an idle
 * server commits a lone row at once: no timer adds latency. */
#ifndef INLET_STORE_WRITER_H
#define INLET_STORE_WRITER_H

struct sql_conn;
struct sql_stmt;
struct writer;
struct writer_op;

/* apply() returns this when it has handed the op to another writer: the
 * op is then that writer's, and this one neither applies nor completes it. */
#define WRITER_FORWARDED 1

struct writer_op {
	/* Runs on the writer thread inside the batch's transaction. A
	 * non-zero return fails this op only (what it wrote is undone: by
	 * SQLite's statement rollback, or a savepoint around each op on
	 * PostgreSQL, where a failed statement spoils the transaction); the
	 * rest of the batch still commits. An exclusive op runs
	 * alone, between batches, outside any transaction: everything queued
	 * before it is committed first, nothing after it has started. */
	int (*apply)(struct writer *w, struct sql_conn *c, struct writer_op *op);
	/* Runs on the writer thread after commit (rc 0) or failure. The op's
	 * memory may be freed from here on. */
	void (*done)(struct writer_op *op, int rc);
	struct writer_op *next; /* writer-owned while queued */
	int exclusive;          /* run alone, outside a transaction */
};

struct writer_hooks {
	/* Optional: runs first in each batch's transaction (not for an
	 * exclusive op); a failure fails the whole batch. */
	int (*begin)(void *ctx, struct writer *w, struct sql_conn *c);
	/* Optional: runs inside each batch's transaction before COMMIT. */
	int (*before_commit)(void *ctx, struct writer *w, struct sql_conn *c);
	/* Optional: runs after each batch with its outcome. */
	void (*after_batch)(void *ctx, int rc);
	void *ctx;
};

/* Opens its own connection to target (store/sql.h: a SQLite file or a
 * postgres:// URL; already migrated), scoped to schema (NULL: the
 * default), and starts the thread. max_batch caps the ops per transaction. */
int writer_create(struct writer **out, const char *target, const char *schema, const char *name,
		  unsigned max_batch, const struct writer_hooks *hooks);
/* Queues op; done() will be called exactly once. After writer_stop the op
 * fails at once with INLET_ESHUTDOWN. */
void writer_submit(struct writer *w, struct writer_op *op);
/* Queues op and waits for its outcome (its done is replaced; apply must
 * not forward it). */
int writer_run(struct writer *w, struct writer_op *op);
/* A statement cached on the writer's connection (slot < 64), for apply(),
 * rewound; bind every parameter again. Slots 0..15 belong to store/subs.c
 * and store/move.c, 16..63 to store/events.c. NULL if it fails to prepare
 * (logged). */
struct sql_stmt *writer_sql(struct writer *w, int slot, const char *sql);
/* Commits everything already queued, then stops the thread. Accepts NULL. */
void writer_destroy(struct writer *w);

#endif
