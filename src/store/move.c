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
#include "store/sql.h"
#include "store/writer.h"

/* The endpoint's own rows, copied by scan and log: submissions for a form,
 * events for an events endpoint. Rows travel as SQLite values, so one copy
 * serves both tables (their schemas are the same in source and target). */
struct move_table {
	const char *name;
	const char *cols;
	int ncols;
};

static const struct move_table tables[2] = {
	{ "submissions", "id,endpoint_id,status,key_version,nfiles,sealed,status_ms", 7 },
	{ "events", "id,endpoint_id,issue_id,key_version,dict_id,sealed", 6 },
};

/* An events endpoint's other tables: small next to its events, and
 * changed by every event (counters, hours, sessions), so they are copied
 * whole in the cutover, alone on the source's writer. Each: the table and
 * which of its rows are the endpoint's (?1). Issues come before the rows
 * that name them. */
static const struct { const char *table, *where; } aggregates[] = {
	{ "issues", "endpoint_id=?1" },
	{ "issue_hours", "issue_id IN (SELECT id FROM issues WHERE endpoint_id=?1)" },
	{ "issue_sessions", "issue_id IN (SELECT id FROM issues WHERE endpoint_id=?1)" },
	{ "sessions", "endpoint_id=?1" },
	{ "session_hours", "endpoint_id=?1" },
	{ "zdicts", "endpoint_id=?1" },
};
#define NAGG (sizeof(aggregates) / sizeof(*aggregates))

/* Rows of one table as copied values, ncols per row. */
struct rowset {
	sqlite3_value **v;
	size_t nrows, cap; /* cap in values */
	int ncols;
};

/* What one step writes into the target. */
struct copy_set {
	const struct move_table *t;
	struct rowset rows;   /* upserts, in the order read */
	int64_t *dels;        /* ids gone from the source */
	size_t ndels, dels_cap;
	int64_t scan_done, log_done;
	int complete;
	struct rowset agg[NAGG]; /* cutover of an events endpoint only */
	int with_agg;
};

static int add_row(struct rowset *rs, sqlite3_stmt *st)
{
	size_t need = (rs->nrows + 1) * (size_t)rs->ncols;

	if (need > rs->cap) {
		rs->cap = rs->cap ? 2 * rs->cap : 64 * (size_t)rs->ncols;
		if (rs->cap < need)
			rs->cap = need;
		rs->v = xrealloc(rs->v, rs->cap * sizeof(*rs->v));
	}
	for (int i = 0; i < rs->ncols; i++)
		if (!(rs->v[rs->nrows * (size_t)rs->ncols + (size_t)i] = sqlite3_value_dup(sqlite3_column_value(st, i))))
			abort(); /* out of memory */
	rs->nrows++;
	return 0;
}

static void rowset_free(struct rowset *rs)
{
	for (size_t i = 0; i < rs->nrows * (size_t)rs->ncols; i++)
		sqlite3_value_free(rs->v[i]);
	free(rs->v);
	memset(rs, 0, sizeof(*rs));
}

static void copy_set_free(struct copy_set *c)
{
	rowset_free(&c->rows);
	for (size_t i = 0; i < NAGG; i++)
		rowset_free(&c->agg[i]);
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
	char *q;
	int rc = 0, src;

	*nscan = *nlog = 0;
	c->scan_done = scan_done;
	c->log_done = log_done;
	c->rows.ncols = c->t->ncols;
	q = arena_printf(a, "SELECT %s FROM %s WHERE endpoint_id=?1 AND id>?2 ORDER BY endpoint_id, id LIMIT ?3",
			 c->t->cols, c->t->name);
	if (sqlite3_prepare_v2(db, q, -1, &scan, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT seq,id FROM move_log WHERE endpoint_id=?1 AND seq>?2"
				   " ORDER BY endpoint_id, seq LIMIT ?3", -1, &logq, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, arena_printf(a, "SELECT %s FROM %s WHERE id=?1 AND endpoint_id=?2", c->t->cols,
						c->t->name), -1, &one, NULL) != SQLITE_OK) {
		rc = INLET_EDB;
		goto out;
	}
	sqlite3_bind_int64(scan, 1, endpoint_id);
	sqlite3_bind_int64(scan, 2, scan_done);
	sqlite3_bind_int64(scan, 3, limit ? (int64_t)limit : -1);
	while ((src = sqlite3_step(scan)) == SQLITE_ROW) {
		add_row(&c->rows, scan);
		c->scan_done = sqlite3_column_int64(scan, 0);
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
			add_row(&c->rows, one);
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

/* Every aggregate row of the endpoint, from db (the source). */
static int read_aggregates(sqlite3 *db, struct arena *a, int64_t endpoint_id, struct copy_set *c)
{
	int rc = 0, src = SQLITE_DONE;

	c->with_agg = 1;
	for (size_t i = 0; i < NAGG && !rc; i++) {
		sqlite3_stmt *st = NULL;

		if (sqlite3_prepare_v2(db, arena_printf(a, "SELECT * FROM %s WHERE %s", aggregates[i].table,
							aggregates[i].where), -1, &st, NULL) != SQLITE_OK) {
			rc = INLET_EDB;
			break;
		}
		c->agg[i].ncols = sqlite3_column_count(st);
		sqlite3_bind_int64(st, 1, endpoint_id);
		while ((src = sqlite3_step(st)) == SQLITE_ROW)
			add_row(&c->agg[i], st);
		if (src != SQLITE_DONE)
			rc = db_rc(db, src) ? db_rc(db, src) : INLET_EDB;
		sqlite3_finalize(st);
	}
	return rc;
}

/* ---- writing into the target ---------------------------------------------- */

struct copy_op {
	struct writer_op op; /* first */
	int64_t endpoint_id;
	const struct copy_set *c;
};

static int step_values(sqlite3 *db, sqlite3_stmt *st, sqlite3_value *const *v, int n)
{
	int rc;

	sqlite3_reset(st);
	for (int i = 0; i < n; i++)
		sqlite3_bind_value(st, i + 1, v[i]);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : (db_rc(db, rc) ? db_rc(db, rc) : INLET_EDB);
}

/* An INSERT OR REPLACE of a whole row of n columns into table. */
static sqlite3_stmt *insert_stmt(sqlite3 *db, struct arena *a, const char *table, int n)
{
	sqlite3_stmt *st = NULL;
	char *q = arena_printf(a, "INSERT OR REPLACE INTO %s VALUES(?", table);

	for (int i = 1; i < n; i++)
		q = arena_printf(a, "%s,?", q);
	q = arena_printf(a, "%s)", q);
	if (sqlite3_prepare_v2(db, q, -1, &st, NULL) != SQLITE_OK)
		return NULL;
	return st;
}

/* The endpoint's aggregate rows replace whatever the target holds of them
 * (an earlier cutover that did not reach its commit point). */
static int write_aggregates(sqlite3 *db, struct arena *a, int64_t endpoint_id, const struct copy_set *c)
{
	int rc = 0;

	for (size_t i = NAGG; i-- > 0 && !rc;) {
		sqlite3_stmt *st = NULL;

		if (sqlite3_prepare_v2(db, arena_printf(a, "DELETE FROM %s WHERE %s", aggregates[i].table,
							aggregates[i].where), -1, &st, NULL) != SQLITE_OK)
			return INLET_EDB;
		sqlite3_bind_int64(st, 1, endpoint_id);
		rc = sqlite3_step(st) == SQLITE_DONE ? 0 : INLET_EDB;
		sqlite3_finalize(st);
	}
	for (size_t i = 0; i < NAGG && !rc; i++) {
		const struct rowset *rs = &c->agg[i];
		sqlite3_stmt *st;

		if (!rs->nrows)
			continue;
		if (!(st = insert_stmt(db, a, aggregates[i].table, rs->ncols)))
			return INLET_EDB;
		for (size_t r = 0; r < rs->nrows && !rc; r++)
			rc = step_values(db, st, rs->v + r * (size_t)rs->ncols, rs->ncols);
		sqlite3_finalize(st);
	}
	return rc;
}

static int copy_apply(struct writer *w, struct sql_conn *conn, struct writer_op *op)
{
	sqlite3 *db = sql_sqlite_handle(conn);
	struct copy_op *co = (struct copy_op *)op;
	const struct copy_set *c = co->c;
	const int ev = c->t == &tables[1];
	struct arena *a = arena_create(4096);
	sqlite3_stmt *ins = writer_stmt(w, ev ? 12 : 8, ev ? "INSERT OR REPLACE INTO events(id,endpoint_id,issue_id,"
							      "key_version,dict_id,sealed) VALUES(?,?,?,?,?,?)"
							    : "INSERT OR REPLACE INTO submissions(id,endpoint_id,"
							      "status,key_version,nfiles,sealed,status_ms)"
							      " VALUES(?,?,?,?,?,?,?)");
	sqlite3_stmt *del = writer_stmt(w, ev ? 13 : 9, ev ? "DELETE FROM events WHERE id=? AND endpoint_id=?"
							  : "DELETE FROM submissions WHERE id=? AND endpoint_id=?");
	sqlite3_stmt *meta = writer_stmt(w, 10, "INSERT INTO move_meta(endpoint_id,scan_done,log_done,complete)"
						" VALUES(?1,?2,?3,?4) ON CONFLICT(endpoint_id) DO UPDATE SET"
						" scan_done=?2, log_done=?3, complete=?4");
	int rc = 0;

	if (!ins || !del || !meta) {
		rc = INLET_EDB;
		goto out;
	}
	for (size_t i = 0; i < c->rows.nrows && !rc; i++)
		rc = step_values(db, ins, c->rows.v + i * (size_t)c->rows.ncols, c->rows.ncols);
	for (size_t i = 0; i < c->ndels && !rc; i++) {
		sqlite3_reset(del);
		sqlite3_bind_int64(del, 1, c->dels[i]);
		sqlite3_bind_int64(del, 2, co->endpoint_id);
		if ((rc = sqlite3_step(del)) != SQLITE_DONE)
			rc = db_rc(db, rc) ? db_rc(db, rc) : INLET_EDB;
		else
			rc = 0;
	}
	sqlite3_reset(del);
	if (!rc && c->with_agg)
		rc = write_aggregates(db, a, co->endpoint_id, c);
	if (rc)
		goto out;
	sqlite3_bind_int64(meta, 1, co->endpoint_id);
	sqlite3_bind_int64(meta, 2, c->scan_done);
	sqlite3_bind_int64(meta, 3, c->log_done);
	sqlite3_bind_int(meta, 4, c->complete);
	rc = sqlite3_step(meta);
	sqlite3_reset(meta);
	if (rc != SQLITE_DONE) {
		rc = INLET_EDB;
		goto out;
	}
	rc = 0;
	if (c->complete) {
		/* The target's count starts exact; the writer keeps it from here. */
		char sql[200];

		snprintf(sql, sizeof(sql), "INSERT OR REPLACE INTO endpoint_counts(endpoint_id,total)"
					   " SELECT %lld, count(*) FROM %s WHERE endpoint_id=%lld",
			 (long long)co->endpoint_id, c->t->name, (long long)co->endpoint_id);
		rc = db_exec(db, sql);
	}
out:
	arena_destroy(a);
	return rc;
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
	if ((rc = db_pool_acquire(dst->raw_readers, &db)))
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
	db_pool_release(dst->raw_readers, db);
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

static int track_apply(struct writer *w, struct sql_conn *conn, struct writer_op *op)
{
	sqlite3 *db = sql_sqlite_handle(conn);
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

int move_copy_step(struct substore *src, struct substore *dst, int64_t endpoint_id, int events,
		   size_t batch, int64_t *copied, int *caught_up)
{
	struct arena *a = arena_create(1 << 20);
	struct copy_set c;
	int64_t scan_done, log_done;
	size_t nscan, nlog;
	sqlite3 *db = NULL;
	int rc, complete;

	memset(&c, 0, sizeof(c));
	c.t = &tables[events ? 1 : 0];
	*copied = 0;
	*caught_up = 0;
	if ((rc = read_meta(dst, endpoint_id, &scan_done, &log_done, &complete)))
		goto out;
	if ((rc = db_pool_acquire(src->raw_readers, &db)))
		goto out;
	rc = read_changes(db, a, endpoint_id, scan_done, log_done, batch, &c, &nscan, &nlog);
	db_pool_release(src->raw_readers, db);
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
	copy_set_free(&c);
	arena_destroy(a);
	return rc;
}

/* ---- cutover ---------------------------------------------------------------- */

struct cutover_op {
	struct writer_op op;
	struct substore *src, *dst;
	int64_t endpoint_id;
	int events;
	int (*commit)(void *ctx);
	void (*switched)(void *ctx);
	void *ctx;
};

static int cutover_apply(struct writer *w, struct sql_conn *conn, struct writer_op *op)
{
	sqlite3 *db = sql_sqlite_handle(conn);
	struct cutover_op *co = (struct cutover_op *)op;
	struct arena *a = arena_create(1 << 20);
	struct copy_set c;
	int64_t scan_done, log_done;
	size_t nscan, nlog;
	int rc, complete;

	(void)w;
	memset(&c, 0, sizeof(c));
	c.t = &tables[co->events ? 1 : 0];
	/* Alone on the source's writer: what is read here is final. */
	if ((rc = read_meta(co->dst, co->endpoint_id, &scan_done, &log_done, &complete)))
		goto out;
	if ((rc = read_changes(db, a, co->endpoint_id, scan_done, log_done, 0, &c, &nscan, &nlog)))
		goto out;
	if (co->events && (rc = read_aggregates(db, a, co->endpoint_id, &c)))
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
	copy_set_free(&c);
	arena_destroy(a);
	return rc;
}

int move_cutover(struct substore *src, struct substore *dst, int64_t endpoint_id, int events,
		 int (*commit)(void *ctx), void (*switched)(void *ctx), void *ctx)
{
	struct cutover_op co = { .op = { .apply = cutover_apply, .done = copy_done, .exclusive = 1 },
				 .src = src, .dst = dst, .endpoint_id = endpoint_id, .events = events,
				 .commit = commit, .switched = switched, .ctx = ctx };

	return writer_run(src->writer, &co.op);
}

/* ---- cleanup ---------------------------------------------------------------- */

struct cleanup_op {
	struct writer_op op;
	int64_t endpoint_id;
	int events;
	size_t batch;
	int left_any;
};

static int cleanup_apply(struct writer *w, struct sql_conn *conn, struct writer_op *op)
{
	sqlite3 *db = sql_sqlite_handle(conn);
	struct cleanup_op *c = (struct cleanup_op *)op;
	sqlite3_stmt *st = c->events ? writer_stmt(w, 14, "DELETE FROM events WHERE rowid IN"
							  " (SELECT id FROM events WHERE endpoint_id=?1 LIMIT ?2)")
				     : writer_stmt(w, 11, "DELETE FROM submissions WHERE rowid IN"
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

		/* The aggregates of an events endpoint go last, in one step:
		 * they are small next to its events. */
		for (size_t i = NAGG; c->events && i-- > 0;) {
			char *q = sqlite3_mprintf("DELETE FROM %s WHERE %s", aggregates[i].table, aggregates[i].where);
			sqlite3_stmt *del = NULL;

			rc = sqlite3_prepare_v2(db, q, -1, &del, NULL) == SQLITE_OK ? 0 : INLET_EDB;
			sqlite3_free(q);
			if (!rc) {
				sqlite3_bind_int64(del, 1, c->endpoint_id);
				rc = sqlite3_step(del) == SQLITE_DONE ? 0 : INLET_EDB;
			}
			sqlite3_finalize(del);
			if (rc)
				return rc;
		}
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

int move_cleanup_step(struct substore *src, int64_t endpoint_id, int events, size_t batch, int *left_any)
{
	struct cleanup_op c = { .op = { .apply = cleanup_apply, .done = copy_done },
				.endpoint_id = endpoint_id, .events = events, .batch = batch };
	int rc = writer_run(src->writer, &c.op);

	*left_any = c.left_any;
	return rc;
}
