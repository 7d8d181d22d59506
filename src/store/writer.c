#include "store/writer.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/enc.h"
#include "core/err.h"
#include "core/log.h"
#include "core/metrics.h"
#include "store/sql.h"

#define NSTMT 64
/* Runs of a batch that PostgreSQL refused for a deadlock or lock timeout. */
#define BUSY_ATTEMPTS 4

struct writer {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct writer_op *head, *tail; /* queue, under lock */
	int stopping;                  /* under lock: no new ops accepted */
	struct sql_conn *conn;         /* writer thread only */
	struct sql_stmt *stmts[NSTMT]; /* writer thread only */
	unsigned max_batch;
	struct writer_hooks hooks;
	char name[64];
};

struct sql_stmt *writer_sql(struct writer *w, int slot, const char *sql)
{
	if (slot < 0 || slot >= NSTMT)
		return NULL;
	if (!w->stmts[slot] && sql_prepare(w->conn, sql, &w->stmts[slot])) {
		log_msg(LOG_ERROR, "writer %s: prepare failed: %s", w->name, sql_errmsg(w->conn));
		return NULL;
	}
	sql_reset(w->stmts[slot]);
	return w->stmts[slot];
}

static double ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/* One op inside the batch. On PostgreSQL a failed statement spoils the
 * whole transaction, so in a careful run each op runs under a savepoint
 * there and a failure undoes just that op, as SQLite's statement rollback
 * does. A savepoint costs two round trips per op, so a batch first runs
 * without them and only a batch in which an op failed runs again,
 * carefully (run_batch). */
static int apply_one(struct writer *w, struct writer_op *op, int careful)
{
	int sp = careful && sql_engine(w->conn) == SQL_POSTGRES;
	int rc;

	if (sp && (rc = sql_savepoint(w->conn, "op")))
		return rc;
	rc = op->apply(w, w->conn, op);
	/* A failed statement leaves PostgreSQL's transaction marked failed
	 * (sql_tx_aborted) until it is rolled back to the savepoint, so a
	 * failed op always tries that; only when it cannot (a lost server)
	 * does the transaction stay aborted, and run_batch gives it up. */
	if (sp && ((rc && rc != WRITER_FORWARDED) || !sql_tx_aborted(w->conn))) {
		int rc2 = rc && rc != WRITER_FORWARDED ? sql_rollback_to(w->conn, "op") : 0;

		rc2 = rc2 ? rc2 : sql_release(w->conn, "op");
		if (rc2 && !rc)
			rc = rc2;
	}
	return rc;
}

/* run_batch's answer when an op failed in a quick run on PostgreSQL:
 * nothing was kept, run it again carefully. */
#define BATCH_CAREFUL 2

/* Applies and commits one batch; fills each op's result into rcs. */
static int run_batch(struct writer *w, struct writer_op **ops, int *rcs, size_t n, int careful)
{
	int rc;

	if (n == 1 && ops[0]->exclusive) {
		rcs[0] = ops[0]->apply(w, w->conn, ops[0]);
		return 0;
	}
	if ((rc = sql_begin(w->conn, SQL_TX_WRITE)))
		return rc;
	if (w->hooks.begin && (rc = w->hooks.begin(w->hooks.ctx, w, w->conn))) {
		sql_rollback(w->conn);
		return rc;
	}
	for (size_t i = 0; i < n; i++) {
		if (rcs[i] == WRITER_FORWARDED)
			continue; /* another writer's since an earlier attempt */
		rcs[i] = apply_one(w, ops[i], careful);
		if (rcs[i] == INLET_EBUSY && sql_engine(w->conn) == SQL_POSTGRES) {
			/* A deadlock or a lock timeout against another node's
			 * writer: the locks taken by earlier ops are still
			 * held, so the whole batch goes and runs again. */
			sql_rollback(w->conn);
			return INLET_EBUSY;
		}
		if (rcs[i] && rcs[i] != WRITER_FORWARDED && !careful && sql_engine(w->conn) == SQL_POSTGRES) {
			/* What the op wrote before it failed is in the
			 * transaction, and its failed statement spoiled it. */
			sql_rollback(w->conn);
			return BATCH_CAREFUL;
		}
		if (rcs[i] && rcs[i] != WRITER_FORWARDED && sql_tx_aborted(w->conn)) {
			/* The engine gave the whole transaction up (I/O
			 * error, full disk, lost server): nothing of this
			 * batch is kept. */
			sql_rollback(w->conn);
			return rcs[i];
		}
	}
	if (w->hooks.before_commit && (rc = w->hooks.before_commit(w->hooks.ctx, w, w->conn))) {
		sql_rollback(w->conn);
		return rc;
	}
	return sql_commit(w->conn);
}

/* Before a batch runs again: its own state (hooks) and its ops' results
 * start afresh, except for ops already handed to another writer. */
static void reset_batch(struct writer *w, int *rcs, size_t n, int rc)
{
	if (w->hooks.after_batch)
		w->hooks.after_batch(w->hooks.ctx, rc);
	for (size_t i = 0; i < n; i++)
		if (rcs[i] != WRITER_FORWARDED)
			rcs[i] = 0;
}

/* Sleeps 1..max_ms ms, at random. */
static void pause_ms_upto(int max_ms)
{
	uint32_t r;

	rand_bytes(&r, sizeof(r));
	usleep((useconds_t)(1000 + r % (1000u * (unsigned)max_ms)));
}

/* Takes the next batch off the queue (under lock): up to max_batch ops,
 * stopping before an exclusive op, which always forms a batch of its own. */
static size_t take_batch(struct writer *w, struct writer_op **ops)
{
	size_t n = 0;

	while (w->head && n < w->max_batch) {
		struct writer_op *op = w->head;

		if (op->exclusive && n > 0)
			break;
		w->head = op->next;
		op->next = NULL;
		ops[n++] = op;
		if (op->exclusive)
			break;
	}
	if (!w->head)
		w->tail = NULL;
	return n;
}

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	int *rcs = xcalloc(w->max_batch, sizeof(*rcs));
	struct writer_op **ops = xcalloc(w->max_batch, sizeof(*ops));

	for (;;) {
		struct timespec t0;
		size_t n;
		int rc;

		pthread_mutex_lock(&w->lock);
		while (!w->head && !w->stopping)
			pthread_cond_wait(&w->wake, &w->lock);
		if (!w->head && w->stopping) {
			pthread_mutex_unlock(&w->lock);
			break;
		}
		n = take_batch(w, ops);
		pthread_mutex_unlock(&w->lock);

		memset(rcs, 0, n * sizeof(*rcs));
		clock_gettime(CLOCK_MONOTONIC, &t0);
		rc = run_batch(w, ops, rcs, n, 0);
		if (rc == BATCH_CAREFUL) {
			reset_batch(w, rcs, n, rc);
			rc = run_batch(w, ops, rcs, n, 1);
		}
		for (int attempt = 1; rc == INLET_EBUSY && attempt < BUSY_ATTEMPTS; attempt++) {
			/* A deadlock or lock timeout against another node's
			 * writer on PostgreSQL (or, on SQLite, a BEGIN or
			 * COMMIT that outwaited the busy timeout): nothing of
			 * the batch is kept, its own state is reset as after
			 * any failure, and every op applies afresh after a
			 * short random pause, so the two do not meet again. */
			reset_batch(w, rcs, n, rc);
			log_msg(LOG_WARN, "writer %s: batch of %zu met another writer (attempt %d); again", w->name, n,
				attempt);
			pause_ms_upto(5 * attempt);
			rc = run_batch(w, ops, rcs, n, 1);
		}
		if (!(n == 1 && ops[0]->exclusive))
			metrics_batch(n, ms_since(&t0));
		if (w->hooks.after_batch)
			w->hooks.after_batch(w->hooks.ctx, rc);
		if (rc)
			log_msg(LOG_ERROR, "writer %s: batch of %zu failed: %s", w->name, n, inlet_strerror(rc));
		for (size_t i = 0; i < n; i++)
			if (rcs[i] != WRITER_FORWARDED)
				ops[i]->done(ops[i], rc ? rc : rcs[i]);
	}
	free(ops);
	free(rcs);
	return NULL;
}

int writer_create(struct writer **out, const char *target, const char *schema, const char *name,
		  unsigned max_batch, const struct writer_hooks *hooks)
{
	struct writer *w = xcalloc(1, sizeof(*w));
	int rc;

	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->wake, NULL);
	w->max_batch = max_batch ? max_batch : 1024;
	if (hooks)
		w->hooks = *hooks;
	snprintf(w->name, sizeof(w->name), "%s", name);
	if ((rc = sql_open(target, 0, &w->conn)))
		goto out;
	if (schema && (rc = sql_set_schema(w->conn, schema)))
		goto out;
	if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
		rc = INLET_EIO;
		goto out;
	}
out:
	if (rc) {
		sql_close(w->conn);
		pthread_cond_destroy(&w->wake);
		pthread_mutex_destroy(&w->lock);
		free(w);
		w = NULL;
	}
	*out = w;
	return rc;
}

void writer_submit(struct writer *w, struct writer_op *op)
{
	op->next = NULL;
	pthread_mutex_lock(&w->lock);
	if (w->stopping) {
		pthread_mutex_unlock(&w->lock);
		op->done(op, INLET_ESHUTDOWN);
		return;
	}
	if (w->tail)
		w->tail->next = op;
	else
		w->head = op;
	w->tail = op;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
}

/* writer_run: the op is wrapped so the caller can wait on a condition. */
struct sync_op {
	struct writer_op op;   /* first: the writer sees this */
	struct writer_op *inner;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int finished, rc;
};

static int sync_apply(struct writer *w, struct sql_conn *c, struct writer_op *op)
{
	struct sync_op *s = (struct sync_op *)op;

	return s->inner->apply(w, c, s->inner);
}

static void sync_done(struct writer_op *op, int rc)
{
	struct sync_op *s = (struct sync_op *)op;

	pthread_mutex_lock(&s->lock);
	s->finished = 1;
	s->rc = rc;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

int writer_run(struct writer *w, struct writer_op *op)
{
	struct sync_op s = { .op = { .apply = sync_apply, .done = sync_done, .exclusive = op->exclusive },
			     .inner = op };
	int rc;

	pthread_mutex_init(&s.lock, NULL);
	pthread_cond_init(&s.cond, NULL);
	writer_submit(w, &s.op);
	pthread_mutex_lock(&s.lock);
	while (!s.finished)
		pthread_cond_wait(&s.cond, &s.lock);
	rc = s.rc;
	pthread_mutex_unlock(&s.lock);
	pthread_cond_destroy(&s.cond);
	pthread_mutex_destroy(&s.lock);
	return rc;
}

void writer_destroy(struct writer *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->stopping = 1;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	for (int i = 0; i < NSTMT; i++)
		sql_finalize(w->stmts[i]);
	sql_close(w->conn);
	pthread_cond_destroy(&w->wake);
	pthread_mutex_destroy(&w->lock);
	free(w);
}
