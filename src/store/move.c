#include "store/move.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/arena.h"
#include "core/err.h"
#include "core/log.h"
#include "store/db.h"
#include "store/subs_int.h"
#include "store/writer.h"

#define ROW_COLS "id,endpoint_id,status,key_version,nfiles,sealed"

/* What one step writes into the target. */
struct copy_set {
	struct sub_row *rows; /* upserts, in the order read */
	size_t nrows, rows_cap;
	int64_t *dels;        /* ids gone from the source */
	size_t ndels, dels_cap;
	int64_t scan_done, log_done;
	int complete;
};

static void add_row(struct arena *a, struct copy_set *c, sqlite3_stmt *st)
{
	c->rows = arena_grow(a, c->rows, c->nrows, &c->rows_cap, sizeof(*c->rows));
	substore_row_from(a, st, &c->rows[c->nrows++]);
}

static void add_del(struct arena *a, struct copy_set *c, int64_t id)
{
	c->dels = arena_grow(a, c->dels, c->ndels, &c->dels_cap, sizeof(*c->dels));
	c->dels[c->ndels++] = id;
}

/* Reads, from db (the source), rows past scan_done and then log entries
 * past log_done (limit each; 0 = no limit), re-reading each logged row's
 * current state. Rows read later are applied later, so the newest read of
 * a row wins in the target. */
static int read_changes(sqlite3 *db, struct arena *a, int64_t endpoint_id, int64_t scan_done,
			int64_t log_done, size_t limit, struct copy_set *c, size_t *nscan, size_t *nlog)
{
	sqlite3_stmt *scan = NULL, *logq = NULL, *one = NULL;
	int rc = 0, src;

	*nscan = *nlog = 0;
	c->scan_done = scan_done;
	c->log_done = log_done;
	if (sqlite3_prepare_v2(db, "SELECT " ROW_COLS " FROM submissions WHERE endpoint_id=?1 AND id>?2"
				   " ORDER BY endpoint_id, id LIMIT ?3", -1, &scan, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT seq,id FROM move_log WHERE endpoint_id=?1 AND seq>?2"
				   " ORDER BY endpoint_id, seq LIMIT ?3", -1, &logq, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT " ROW_COLS " FROM submissions WHERE id=?1 AND endpoint_id=?2",
			       -1, &one, NULL) != SQLITE_OK) {
		rc = INLET_EDB;
		goto out;
	}
	sqlite3_bind_int64(scan, 1, endpoint_id);
	sqlite3_bind_int64(scan, 2, scan_done);
	sqlite3_bind_int64(scan, 3, limit ? (int64_t)limit : -1);
	while ((src = sqlite3_step(scan)) == SQLITE_ROW) {
		add_row(a, c, scan);
		c->scan_done = c->rows[c->nrows - 1].id;
		(*nscan)++;
	}
	if (src != SQLITE_DONE) {
		rc = db_rc(db, src) ? db_rc(db, src) : INLET_EDB;
		goto out;
	}
	sqlite3_bind_int64(logq, 1, endpoint_id);
	sqlite3_bind_int64(logq, 2, log_done);
	sqlite3_bind_int64(logq, 3, limit ? (int64_t)limit : -1);
	while ((src = sqlite3_step(logq)) == SQLITE_ROW) {
		int64_t seq = sqlite3_column_int64(logq, 0), id = sqlite3_column_int64(logq, 1);

		sqlite3_reset(one);
		sqlite3_bind_int64(one, 1, id);
		sqlite3_bind_int64(one, 2, endpoint_id);
		src = sqlite3_step(one);
		if (src == SQLITE_ROW)
			add_row(a, c, one);
		else if (src == SQLITE_DONE)
			add_del(a, c, id);
		else
			break;
		c->log_done = seq;
		(*nlog)++;
	}
	if (src != SQLITE_DONE && src != SQLITE_ROW)
		rc = db_rc(db, src) ? db_rc(db, src) : INLET_EDB;
out:
	sqlite3_finalize(scan);
	sqlite3_finalize(logq);
	sqlite3_finalize(one);
	return rc;
}

/* ---- writing into the target ---------------------------------------------- */

struct copy_op {
	struct writer_op op; /* first */
	int64_t endpoint_id;
	const struct copy_set *c;
};

static int copy_apply(struct writer *w, sqlite3 *db, struct writer_op *op)
{
	struct copy_op *co = (struct copy_op *)op;
	const struct copy_set *c = co->c;
	sqlite3_stmt *ins = writer_stmt(w, 8, "INSERT OR REPLACE INTO submissions(" ROW_COLS ") VALUES(?,?,?,?,?,?)");
	sqlite3_stmt *del = writer_stmt(w, 9, "DELETE FROM submissions WHERE id=? AND endpoint_id=?");
	sqlite3_stmt *meta = writer_stmt(w, 10, "INSERT INTO move_meta(endpoint_id,scan_done,log_done,complete)"
						" VALUES(?1,?2,?3,?4) ON CONFLICT(endpoint_id) DO UPDATE SET"
						" scan_done=?2, log_done=?3, complete=?4");
	int rc;

	if (!ins || !del || !meta)
		return INLET_EDB;
	for (size_t i = 0; i < c->nrows; i++) {
		const struct sub_row *r = &c->rows[i];

		sqlite3_reset(ins);
		sqlite3_bind_int64(ins, 1, r->id);
		sqlite3_bind_int64(ins, 2, r->endpoint_id);
		sqlite3_bind_int(ins, 3, r->status);
		sqlite3_bind_int64(ins, 4, r->key_version);
		sqlite3_bind_int(ins, 5, r->nfiles);
		sqlite3_bind_blob(ins, 6, r->sealed, (int)r->sealed_len, SQLITE_STATIC);
		if ((rc = sqlite3_step(ins)) != SQLITE_DONE)
			return db_rc(db, rc) ? db_rc(db, rc) : INLET_EDB;
	}
	sqlite3_reset(ins);
	for (size_t i = 0; i < c->ndels; i++) {
		sqlite3_reset(del);
		sqlite3_bind_int64(del, 1, c->dels[i]);
		sqlite3_bind_int64(del, 2, co->endpoint_id);
		if ((rc = sqlite3_step(del)) != SQLITE_DONE)
			return db_rc(db, rc) ? db_rc(db, rc) : INLET_EDB;
	}
	sqlite3_reset(del);
	sqlite3_bind_int64(meta, 1, co->endpoint_id);
	sqlite3_bind_int64(meta, 2, c->scan_done);
	sqlite3_bind_int64(meta, 3, c->log_done);
	sqlite3_bind_int(meta, 4, c->complete);
	rc = sqlite3_step(meta);
	sqlite3_reset(meta);
	if (rc != SQLITE_DONE)
		return INLET_EDB;
	if (c->complete) {
		/* The target's count starts exact; the writer keeps it from here. */
		char sql[160];

		snprintf(sql, sizeof(sql), "INSERT OR REPLACE INTO endpoint_counts(endpoint_id,total)"
					   " SELECT %lld, count(*) FROM submissions WHERE endpoint_id=%lld",
			 (long long)co->endpoint_id, (long long)co->endpoint_id);
		if ((rc = db_exec(db, sql)))
			return rc;
	}
	return 0;
}

static void copy_done(struct writer_op *op, int rc)
{
	(void)op;
	(void)rc;
}

static int write_target(struct substore *dst, int64_t endpoint_id, const struct copy_set *c)
{
	struct copy_op co = { .op = { .apply = copy_apply, .done = copy_done },
			      .endpoint_id = endpoint_id, .c = c };

	return writer_run(dst->writer, &co.op);
}

/* The target's watermarks for the endpoint (all 0 before the first step). */
static int read_meta(struct substore *dst, int64_t endpoint_id, int64_t *scan_done, int64_t *log_done,
		     int *complete)
{
	sqlite3 *db;
	sqlite3_stmt *st = NULL;
	int rc;

	*scan_done = *log_done = 0;
	*complete = 0;
	if ((rc = db_pool_acquire(dst->readers, &db)))
		return rc;
	if (sqlite3_prepare_v2(db, "SELECT scan_done, log_done, complete FROM move_meta WHERE endpoint_id=?",
			       -1, &st, NULL) != SQLITE_OK) {
		rc = INLET_EDB;
		goto out;
	}
	sqlite3_bind_int64(st, 1, endpoint_id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		*scan_done = sqlite3_column_int64(st, 0);
		*log_done = sqlite3_column_int64(st, 1);
		*complete = sqlite3_column_int(st, 2);
	}
out:
	sqlite3_finalize(st);
	db_pool_release(dst->readers, db);
	return rc;
}

int move_progress(struct substore *dst, int64_t endpoint_id, int64_t *scan_done, int *complete)
{
	int64_t log_done;

	return read_meta(dst, endpoint_id, scan_done, &log_done, complete);
}

/* ---- track ------------------------------------------------------------------ */

struct track_op {
	struct writer_op op;
	struct substore *s;
	int64_t endpoint_id;
	int on;
};

static int track_apply(struct writer *w, sqlite3 *db, struct writer_op *op)
{
	struct track_op *t = (struct track_op *)op;

	(void)w;
	(void)db;
	substore_set_tracked(t->s, t->endpoint_id, t->on);
	return 0;
}

int move_track(struct substore *src, int64_t endpoint_id, int on)
{
	struct track_op t = { .op = { .apply = track_apply, .done = copy_done }, .s = src,
			      .endpoint_id = endpoint_id, .on = on };

	return writer_run(src->writer, &t.op);
}

/* ---- copy ------------------------------------------------------------------- */

int move_copy_step(struct substore *src, struct substore *dst, int64_t endpoint_id,
		   size_t batch, int64_t *copied, int *caught_up)
{
	struct arena *a = arena_create(1 << 20);
	struct copy_set c;
	int64_t scan_done, log_done;
	size_t nscan, nlog;
	sqlite3 *db = NULL;
	int rc, complete;

	memset(&c, 0, sizeof(c));
	*copied = 0;
	*caught_up = 0;
	if ((rc = read_meta(dst, endpoint_id, &scan_done, &log_done, &complete)))
		goto out;
	if ((rc = db_pool_acquire(src->readers, &db)))
		goto out;
	rc = read_changes(db, a, endpoint_id, scan_done, log_done, batch, &c, &nscan, &nlog);
	db_pool_release(src->readers, db);
	if (rc)
		goto out;
	if (nscan == 0 && nlog == 0) {
		*caught_up = 1;
		goto out;
	}
	if ((rc = write_target(dst, endpoint_id, &c)))
		goto out;
	*copied = (int64_t)nscan;
	*caught_up = nscan < batch && nlog < batch;
out:
	arena_destroy(a);
	return rc;
}

/* ---- cutover ---------------------------------------------------------------- */

struct cutover_op {
	struct writer_op op;
	struct substore *src, *dst;
	int64_t endpoint_id;
	int (*commit)(void *ctx);
	void (*switched)(void *ctx);
	void *ctx;
};

static int cutover_apply(struct writer *w, sqlite3 *db, struct writer_op *op)
{
	struct cutover_op *co = (struct cutover_op *)op;
	struct arena *a = arena_create(1 << 20);
	struct copy_set c;
	int64_t scan_done, log_done;
	size_t nscan, nlog;
	int rc, complete;

	(void)w;
	memset(&c, 0, sizeof(c));
	/* Alone on the source's writer: what is read here is final. */
	if ((rc = read_meta(co->dst, co->endpoint_id, &scan_done, &log_done, &complete)))
		goto out;
	if ((rc = read_changes(db, a, co->endpoint_id, scan_done, log_done, 0, &c, &nscan, &nlog)))
		goto out;
	c.complete = 1;
	if ((rc = write_target(co->dst, co->endpoint_id, &c)))
		goto out;
	if ((rc = co->commit(co->ctx)))
		goto out;
	substore_set_tracked(co->src, co->endpoint_id, 0);
	substore_set_moved(co->src, co->endpoint_id, co->dst);
	co->switched(co->ctx);
	log_msg(LOG_INFO, "endpoint %lld moved: %zu rows and %zu changes in the final step",
		(long long)co->endpoint_id, nscan, nlog);
out:
	arena_destroy(a);
	return rc;
}

int move_cutover(struct substore *src, struct substore *dst, int64_t endpoint_id,
		 int (*commit)(void *ctx), void (*switched)(void *ctx), void *ctx)
{
	struct cutover_op co = { .op = { .apply = cutover_apply, .done = copy_done, .exclusive = 1 },
				 .src = src, .dst = dst, .endpoint_id = endpoint_id,
				 .commit = commit, .switched = switched, .ctx = ctx };

	return writer_run(src->writer, &co.op);
}

/* ---- cleanup ---------------------------------------------------------------- */

struct cleanup_op {
	struct writer_op op;
	int64_t endpoint_id;
	size_t batch;
	int left_any;
};

static int cleanup_apply(struct writer *w, sqlite3 *db, struct writer_op *op)
{
	struct cleanup_op *c = (struct cleanup_op *)op;
	sqlite3_stmt *st = writer_stmt(w, 11, "DELETE FROM submissions WHERE rowid IN"
					      " (SELECT id FROM submissions WHERE endpoint_id=?1 LIMIT ?2)");
	int rc;

	if (!st)
		return INLET_EDB;
	sqlite3_bind_int64(st, 1, c->endpoint_id);
	sqlite3_bind_int64(st, 2, (int64_t)c->batch);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return INLET_EDB;
	c->left_any = sqlite3_changes(db) > 0;
	if (!c->left_any) {
		char sql[200];

		/* Gone: its log and count go too, and freed pages go back to
		 * the file system a slice at a time (auto_vacuum=INCREMENTAL). */
		snprintf(sql, sizeof(sql), "DELETE FROM move_log WHERE endpoint_id=%lld;"
					   " DELETE FROM endpoint_counts WHERE endpoint_id=%lld;"
					   " PRAGMA incremental_vacuum(4096);",
			 (long long)c->endpoint_id, (long long)c->endpoint_id);
		return db_exec(db, sql);
	}
	return 0;
}

int move_cleanup_step(struct substore *src, int64_t endpoint_id, size_t batch, int *left_any)
{
	struct cleanup_op c = { .op = { .apply = cleanup_apply, .done = copy_done },
				.endpoint_id = endpoint_id, .batch = batch };
	int rc = writer_run(src->writer, &c.op);

	*left_any = c.left_any;
	return rc;
}
