#include "store/move.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/arena.h"
#include "core/err.h"
#include "core/log.h"
#include "store/subs_int.h"
#include "store/sql.h"
#include "store/writer.h"

/* Every table a move copies, with its columns and their kinds, so rows
 * travel between engines as plain values: 'i' an integer, 'b' a blob, 't'
 * a text (a NULL stays NULL whatever the kind). The stores' schemas are the
 * same in source and target. */
struct move_table {
	const char *name;
	const char *cols;
	const char *kinds;
	const char *key;   /* the primary key, for the upsert on PostgreSQL */
	const char *where; /* which rows are the endpoint's (?1) */
};

/* The endpoint's own rows, copied by scan and log: submissions for a form,
 * events for an events endpoint. */
static const struct move_table tables[2] = {
	{ "submissions", "id,endpoint_id,status,key_version,nfiles,sealed,status_ms", "iiiiibi", "id", NULL },
	{ "events", "id,endpoint_id,issue_id,key_version,dict_id,sealed", "iiiiib", "id", NULL },
};

/* An events endpoint's other tables: small next to its events, and
 * changed by every event (counters, hours, sessions), so they are copied
 * whole in the cutover, alone on the source's writer. Issues come before
 * the rows that name them. */
static const struct move_table aggregates[] = {
	{ "issues", "id,endpoint_id,fingerprint,state,count,sessions,dropped,first_seen,last_seen,"
		    "state_changed,key_version,meta,last,search", "iibiiiiiiiibbt", "id", "endpoint_id=?1" },
	{ "issue_hours", "issue_id,hour,n", "iii", "issue_id,hour",
	  "issue_id IN (SELECT id FROM issues WHERE endpoint_id=?1)" },
	{ "issue_sessions", "issue_id,sid,day", "ibi", "issue_id,sid",
	  "issue_id IN (SELECT id FROM issues WHERE endpoint_id=?1)" },
	{ "sessions", "endpoint_id,sid,day,hour,errored", "ibiii", "endpoint_id,sid", "endpoint_id=?1" },
	{ "session_hours", "endpoint_id,hour,sessions,errored,crashed", "iiiii", "endpoint_id,hour",
	  "endpoint_id=?1" },
	{ "zdicts", "endpoint_id,dict_id,key_version,sealed,created", "iiibi", "endpoint_id,dict_id",
	  "endpoint_id=?1" },
};
#define NAGG (sizeof(aggregates) / sizeof(*aggregates))

/* "No limit" for a LIMIT parameter: PostgreSQL refuses SQLite's -1. */
#define NO_LIMIT INT32_MAX

/* One copied value; kind 0 is NULL. Bytes live in the copy's arena. */
struct val {
	char kind;
	int64_t i;
	const void *p;
	size_t n;
};

/* Rows of one table as copied values, ncols per row. */
struct rowset {
	struct val *v;
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

/* Appends the current row of st, read as t's columns. */
static void add_row(struct arena *a, const struct move_table *t, struct rowset *rs, struct sql_stmt *st)
{
	size_t need = (rs->nrows + 1) * (size_t)rs->ncols;
	struct val *v;

	if (need > rs->cap) {
		rs->cap = rs->cap ? 2 * rs->cap : 64 * (size_t)rs->ncols;
		if (rs->cap < need)
			rs->cap = need;
		rs->v = xrealloc(rs->v, rs->cap * sizeof(*rs->v));
	}
	v = rs->v + rs->nrows * (size_t)rs->ncols;
	for (int i = 0; i < rs->ncols; i++) {
		memset(&v[i], 0, sizeof(v[i]));
		if (sql_column_null(st, i))
			continue;
		v[i].kind = t->kinds[i];
		if (v[i].kind == 'i') {
			v[i].i = sql_column_int64(st, i);
		} else {
			const void *p = v[i].kind == 'b' ? sql_column_blob(st, i, &v[i].n)
							  : (const void *)sql_column_text(st, i, &v[i].n);

			/* A blob of 0 bytes still needs a non-NULL pointer to
			 * stay a blob rather than become NULL. */
			v[i].p = arena_memdup(a, p ? p : "", v[i].n);
		}
	}
	rs->nrows++;
}

static void rowset_free(struct rowset *rs)
{
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

static int ncols_of(const struct move_table *t)
{
	return (int)strlen(t->kinds);
}

/* The engine's failure on c, never 0. */
static int failed(struct sql_conn *c, int rc, const char *what)
{
	log_msg(LOG_ERROR, "move: %s: %s", what, sql_errmsg(c));
	return rc < 0 ? rc : INLET_EDB;
}

/* Reads, from conn (the source), rows past scan_done and then log entries
 * past log_done (limit each; 0 = no limit), re-reading each logged row's
 * current state. Rows read later are applied later, so the newest read of
 * a row wins in the target. */
static int read_changes(struct sql_conn *conn, struct arena *a, int64_t endpoint_id, int64_t scan_done,
			int64_t log_done, int64_t log_upto, size_t limit, struct copy_set *c, size_t *nscan,
			size_t *nlog)
{
	struct sql_stmt *scan = NULL, *logq = NULL, *one = NULL;
	int rc = 0, src;

	*nscan = *nlog = 0;
	c->scan_done = scan_done;
	c->log_done = log_done;
	c->rows.ncols = ncols_of(c->t);
	if ((rc = sql_prepare(conn, arena_printf(a, "SELECT %s FROM %s WHERE endpoint_id=?1 AND id>?2"
						   " ORDER BY endpoint_id, id LIMIT ?3", c->t->cols, c->t->name),
			      &scan)) ||
	    (rc = sql_prepare(conn, log_upto == INT64_MAX ? "SELECT seq,id FROM move_log WHERE endpoint_id=?1 AND seq>?2"
							   " ORDER BY endpoint_id, seq LIMIT ?3"
							 : "SELECT seq,id FROM move_log WHERE endpoint_id=?1 AND seq>?2"
							   " AND seq<=?4 ORDER BY endpoint_id, seq LIMIT ?3", &logq)) ||
	    (rc = sql_prepare(conn, arena_printf(a, "SELECT %s FROM %s WHERE id=?1 AND endpoint_id=?2", c->t->cols,
						 c->t->name), &one))) {
		rc = failed(conn, rc, "prepare");
		goto out;
	}
	sql_bind_int64(scan, 1, endpoint_id);
	sql_bind_int64(scan, 2, scan_done);
	sql_bind_int64(scan, 3, limit ? (int64_t)limit : NO_LIMIT);
	while ((src = sql_step(scan)) == SQL_ROW) {
		add_row(a, c->t, &c->rows, scan);
		c->scan_done = sql_column_int64(scan, 0);
		(*nscan)++;
	}
	if (src < 0) {
		rc = failed(conn, src, "scan");
		goto out;
	}
	sql_bind_int64(logq, 1, endpoint_id);
	sql_bind_int64(logq, 2, log_done);
	sql_bind_int64(logq, 3, limit ? (int64_t)limit : NO_LIMIT);
	if (log_upto != INT64_MAX)
		sql_bind_int64(logq, 4, log_upto);
	while ((src = sql_step(logq)) == SQL_ROW) {
		int64_t seq = sql_column_int64(logq, 0), id = sql_column_int64(logq, 1);

		sql_reset(one);
		sql_bind_int64(one, 1, id);
		sql_bind_int64(one, 2, endpoint_id);
		src = sql_step(one);
		if (src == SQL_ROW)
			add_row(a, c->t, &c->rows, one);
		else if (src == SQL_DONE)
			add_del(a, c, id);
		else
			break;
		c->log_done = seq;
		(*nlog)++;
	}
	if (src < 0)
		rc = failed(conn, src, "log");
out:
	sql_finalize(scan);
	sql_finalize(logq);
	sql_finalize(one);
	return rc;
}

/* Every aggregate row of the endpoint, from conn (the source). */
static int read_aggregates(struct sql_conn *conn, struct arena *a, int64_t endpoint_id, struct copy_set *c)
{
	int rc = 0, src;

	c->with_agg = 1;
	for (size_t i = 0; i < NAGG && !rc; i++) {
		struct sql_stmt *st = NULL;

		if ((rc = sql_prepare(conn, arena_printf(a, "SELECT %s FROM %s WHERE %s", aggregates[i].cols,
							 aggregates[i].name, aggregates[i].where), &st))) {
			rc = failed(conn, rc, "prepare");
			break;
		}
		c->agg[i].ncols = ncols_of(&aggregates[i]);
		sql_bind_int64(st, 1, endpoint_id);
		while ((src = sql_step(st)) == SQL_ROW)
			add_row(a, &aggregates[i], &c->agg[i], st);
		if (src < 0)
			rc = failed(conn, src, aggregates[i].name);
		sql_finalize(st);
	}
	return rc;
}

/* ---- writing into the target ---------------------------------------------- */

struct copy_op {
	struct writer_op op; /* first */
	int64_t endpoint_id;
	const struct copy_set *c;
	const char *schema; /* the target's (PostgreSQL), for its lock */
};

static int step_values(struct sql_conn *conn, struct sql_stmt *st, const struct val *v, int n)
{
	int rc = 0;

	sql_reset(st);
	for (int i = 0; i < n && !rc; i++) {
		switch (v[i].kind) {
		case 'i': rc = sql_bind_int64(st, i + 1, v[i].i); break;
		case 'b': rc = sql_bind_blob(st, i + 1, v[i].p, v[i].n); break;
		case 't': rc = sql_bind_text(st, i + 1, v[i].p, v[i].n); break;
		default: rc = sql_bind_null(st, i + 1); break;
		}
	}
	if (!rc && (rc = sql_step(st)) == SQL_DONE)
		rc = 0;
	sql_reset(st);
	return rc ? failed(conn, rc, "write") : 0;
}

/* The statement that writes a whole row of t, replacing the row of the
 * same key: SQLite's INSERT OR REPLACE as always; PostgreSQL has no such
 * statement, so an upsert on the key there (each table has no other unique
 * key a copied row could collide with: issues_fp is per endpoint, and the
 * endpoint's issues are deleted before they are written again). */
static char *upsert_text(struct arena *a, struct sql_conn *conn, const struct move_table *t)
{
	int n = ncols_of(t);
	char *q, *set = NULL;
	const char *col = t->cols;

	if (sql_engine(conn) != SQL_POSTGRES) {
		q = arena_printf(a, "INSERT OR REPLACE INTO %s(%s) VALUES(?", t->name, t->cols);
		for (int i = 1; i < n; i++)
			q = arena_printf(a, "%s,?", q);
		return arena_printf(a, "%s)", q);
	}
	q = arena_printf(a, "INSERT INTO %s(%s) VALUES(?", t->name, t->cols);
	for (int i = 1; i < n; i++)
		q = arena_printf(a, "%s,?", q);
	while (*col) {
		size_t len = strcspn(col, ",");
		char *name = arena_strndup(a, col, len);

		/* key columns stay as they are */
		if (!strstr(arena_printf(a, ",%s,", t->key), arena_printf(a, ",%s,", name)))
			set = arena_printf(a, "%s%s%s=excluded.%s", set ? set : "", set ? "," : "", name, name);
		col += len + (col[len] == ',');
	}
	if (!set)
		return arena_printf(a, "%s) ON CONFLICT(%s) DO NOTHING", q, t->key);
	return arena_printf(a, "%s) ON CONFLICT(%s) DO UPDATE SET %s", q, t->key, set);
}

/* Runs text (?1: the endpoint) for its effect on conn. */
static int exec_endpoint(struct sql_conn *conn, const char *text, int64_t endpoint_id)
{
	struct sql_stmt *st = NULL;
	int rc;

	if ((rc = sql_prepare(conn, text, &st)))
		return failed(conn, rc, text);
	sql_bind_int64(st, 1, endpoint_id);
	if ((rc = sql_step(st)) == SQL_DONE)
		rc = 0;
	else
		rc = failed(conn, rc, text);
	sql_finalize(st);
	return rc;
}

/* The endpoint's aggregate rows replace whatever the target holds of them
 * (an earlier cutover that did not reach its commit point). */
static int write_aggregates(struct sql_conn *conn, struct arena *a, int64_t endpoint_id, const struct copy_set *c)
{
	int rc = 0;

	for (size_t i = NAGG; i-- > 0 && !rc;)
		rc = exec_endpoint(conn, arena_printf(a, "DELETE FROM %s WHERE %s", aggregates[i].name,
						      aggregates[i].where), endpoint_id);
	for (size_t i = 0; i < NAGG && !rc; i++) {
		const struct rowset *rs = &c->agg[i];
		struct sql_stmt *st = NULL;

		if (!rs->nrows)
			continue;
		if ((rc = sql_prepare(conn, upsert_text(a, conn, &aggregates[i]), &st)))
			return failed(conn, rc, "prepare");
		for (size_t r = 0; r < rs->nrows && !rc; r++)
			rc = step_values(conn, st, rs->v + r * (size_t)rs->ncols, rs->ncols);
		sql_finalize(st);
	}
	return rc;
}

/* Writer slots (store/writer.h: 0..15 are the submission store's); subs.c
 * has 0..7 and 15. */
enum {
	SLOT_INS_SUB = 8,
	SLOT_DEL_SUB = 9,
	SLOT_META = 10,
	SLOT_CLEAN_SUB = 11,
	SLOT_INS_EV = 12,
	SLOT_DEL_EV = 13,
	SLOT_CLEAN_EV = 14,
};

static int take_lock(struct sql_conn *c, const char *schema, int exclusive);

static int copy_apply(struct writer *w, struct sql_conn *conn, struct writer_op *op)
{
	struct copy_op *co = (struct copy_op *)op;
	const struct copy_set *c = co->c;
	const int ev = c->t == &tables[1];
	struct arena *a = arena_create(4096);
	struct sql_stmt *ins = writer_sql(w, ev ? SLOT_INS_EV : SLOT_INS_SUB, upsert_text(a, conn, c->t));
	struct sql_stmt *del = writer_sql(w, ev ? SLOT_DEL_EV : SLOT_DEL_SUB,
					  ev ? "DELETE FROM events WHERE id=? AND endpoint_id=?"
					     : "DELETE FROM submissions WHERE id=? AND endpoint_id=?");
	struct sql_stmt *meta = writer_sql(w, SLOT_META, "INSERT INTO move_meta(endpoint_id,scan_done,log_done,complete)"
							 " VALUES(?1,?2,?3,?4) ON CONFLICT(endpoint_id) DO UPDATE SET"
							 " scan_done=?2, log_done=?3, complete=?4");
	int rc = 0;

	if (!ins || !del || !meta) {
		rc = INLET_EDB;
		goto out;
	}
	for (size_t i = 0; i < c->rows.nrows && !rc; i++)
		rc = step_values(conn, ins, c->rows.v + i * (size_t)c->rows.ncols, c->rows.ncols);
	for (size_t i = 0; i < c->ndels && !rc; i++) {
		sql_reset(del);
		sql_bind_int64(del, 1, c->dels[i]);
		sql_bind_int64(del, 2, co->endpoint_id);
		if ((rc = sql_step(del)) == SQL_DONE)
			rc = 0;
		else
			rc = failed(conn, rc, "delete");
	}
	sql_reset(del);
	if (!rc && c->with_agg)
		rc = write_aggregates(conn, a, co->endpoint_id, c);
	if (rc)
		goto out;
	sql_bind_int64(meta, 1, co->endpoint_id);
	sql_bind_int64(meta, 2, c->scan_done);
	sql_bind_int64(meta, 3, c->log_done);
	sql_bind_int64(meta, 4, c->complete);
	rc = sql_step(meta);
	sql_reset(meta);
	if (rc != SQL_DONE) {
		rc = failed(conn, rc, "move_meta");
		goto out;
	}
	rc = 0;
	/* The target's count starts exact; the writer keeps it from here. On
	 * PostgreSQL another node that already follows the move may be
	 * writing here: the store's lock exclusive waits out its batches
	 * (which add to the count as they commit) and holds back the next,
	 * so the count and the rows it counts agree. */
	if (c->complete && sql_engine(conn) == SQL_POSTGRES && co->schema)
		rc = take_lock(conn, co->schema, 1);
	if (c->complete && !rc)
		rc = exec_endpoint(conn, arena_printf(a, "INSERT INTO endpoint_counts(endpoint_id,total)"
						      " SELECT CAST(?1 AS INTEGER), count(*) FROM %s WHERE endpoint_id=?1"
						      " ON CONFLICT(endpoint_id) DO UPDATE SET total=excluded.total",
						      c->t->name), co->endpoint_id);
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
			      .endpoint_id = endpoint_id, .c = c, .schema = dst->schema };

	return writer_run(dst->writer, &co.op);
}

/* The target's watermarks for the endpoint (all 0 before the first step). */
static int read_meta(struct substore *dst, int64_t endpoint_id, int64_t *scan_done, int64_t *log_done,
		     int *complete)
{
	struct sql_conn *conn;
	struct sql_stmt *st = NULL;
	int rc;

	*scan_done = *log_done = 0;
	*complete = 0;
	if ((rc = substore_reader(dst, &conn)))
		return rc;
	if ((rc = sql_prepare(conn, "SELECT scan_done, log_done, complete FROM move_meta WHERE endpoint_id=?",
			      &st))) {
		rc = failed(conn, rc, "prepare");
		goto out;
	}
	sql_bind_int64(st, 1, endpoint_id);
	if ((rc = sql_step(st)) == SQL_ROW) {
		*scan_done = sql_column_int64(st, 0);
		*log_done = sql_column_int64(st, 1);
		*complete = (int)sql_column_int64(st, 2);
	}
	rc = rc < 0 ? failed(conn, rc, "move_meta") : 0;
out:
	sql_finalize(st);
	substore_reader_put(dst, conn);
	return rc;
}

int move_progress(struct substore *dst, int64_t endpoint_id, int64_t *scan_done, int *complete)
{
	int64_t log_done;

	return read_meta(dst, endpoint_id, scan_done, &log_done, complete);
}

/* ---- several nodes (PostgreSQL) -------------------------------------------- */

/* On PostgreSQL several processes may run a writer on the same store, so
 * "every write passes through the source's one queue" no longer holds and
 * the in-memory tracked list is per process. The store itself therefore
 * keeps which endpoints are tracked (state 1) and which have been cut over
 * (2), in move_state, and an advisory lock of the store orders them with
 * the batches of every node: each batch takes it shared first (the begin
 * hook) and reads move_state, and track-on/off and the cutover take it
 * exclusive, so no batch of any node straddles them. SQLite has one writer
 * per file, which already serialises all of this; none of it runs there. */
#define STATE_TRACKED 1
#define STATE_CUT 2

/* The advisory lock's key: the store's schema, hashed (FNV-1a), within a
 * namespace of Inlet's own. Advisory locks are per database, so the schema
 * names a store uniquely. */
static int64_t lock_key(const char *schema)
{
	uint64_t h = 1469598103934665603ull;

	for (const char *p = "inlet.move:"; *p; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ull;
	for (const char *p = schema ? schema : "public"; *p; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ull;
	return (int64_t)h;
}

static int take_lock(struct sql_conn *c, const char *schema, int exclusive)
{
	struct sql_stmt *st = NULL;
	int rc;

	if ((rc = sql_prepare(c, exclusive ? "SELECT pg_advisory_xact_lock(CAST(?1 AS INTEGER))"
					   : "SELECT pg_advisory_xact_lock_shared(CAST(?1 AS INTEGER))", &st)))
		return failed(c, rc, "prepare lock");
	sql_bind_int64(st, 1, lock_key(schema));
	rc = sql_step(st);
	sql_finalize(st);
	return rc == SQL_ROW ? 0 : failed(c, rc, "lock");
}

int move_store_init(struct sql_conn *c, const char *schema)
{
	int rc;

	/* Under the lock: two nodes opening the store at once would otherwise
	 * race to create the table. */
	if ((rc = sql_begin(c, SQL_TX_WRITE)))
		return rc;
	if ((rc = take_lock(c, schema, 1)) ||
	    (rc = sql_exec(c, "CREATE TABLE IF NOT EXISTS move_state(endpoint_id BIGINT PRIMARY KEY,"
			      " state INTEGER NOT NULL)"))) {
		sql_rollback(c);
		return rc;
	}
	return sql_commit(c);
}

int substore_is_cut(const struct substore *s, int64_t endpoint_id)
{
	for (int i = 0; i < s->ncut; i++)
		if (s->cut[i] == endpoint_id)
			return 1;
	return 0;
}

int move_batch_begin(void *ctx, struct writer *w, struct sql_conn *c)
{
	struct substore *s = ctx;
	struct sql_stmt *st = NULL;
	int rc;

	(void)w;
	/* Two statements: under READ COMMITTED each statement reads a new
	 * snapshot, so the read after the lock sees every track-on and
	 * cutover committed before the lock was granted. */
	if ((rc = take_lock(c, s->schema, 0)))
		return rc;
	if ((rc = sql_prepare(c, "SELECT endpoint_id, state FROM move_state", &st)))
		return failed(c, rc, "move_state");
	s->ntracked = 0;
	s->ncut = 0;
	while ((rc = sql_step(st)) == SQL_ROW) {
		int64_t id = sql_column_int64(st, 0);

		if (sql_column_int64(st, 1) == STATE_TRACKED) {
			substore_set_tracked(s, id, 1);
		} else {
			if (s->ncut == s->cut_cap) {
				s->cut_cap = s->cut_cap ? 2 * s->cut_cap : 8;
				s->cut = xrealloc(s->cut, (size_t)s->cut_cap * sizeof(*s->cut));
			}
			s->cut[s->ncut++] = id;
		}
	}
	sql_finalize(st);
	return rc < 0 ? failed(c, rc, "move_state") : 0;
}

/* Writes the endpoint's move state (0: none) in the transaction open on c,
 * which holds the store's lock exclusive. */
static int set_state(struct sql_conn *c, int64_t endpoint_id, int state)
{
	struct sql_stmt *st = NULL;
	int rc;

	if ((rc = sql_prepare(c, state ? "INSERT INTO move_state(endpoint_id,state) VALUES(?1,?2)"
					 " ON CONFLICT(endpoint_id) DO UPDATE SET state=excluded.state"
				       : "DELETE FROM move_state WHERE endpoint_id=?1", &st)))
		return failed(c, rc, "move_state");
	sql_bind_int64(st, 1, endpoint_id);
	if (state)
		sql_bind_int64(st, 2, state);
	rc = sql_step(st);
	sql_finalize(st);
	return rc == SQL_DONE ? 0 : failed(c, rc, "move_state");
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
	struct track_op *t = (struct track_op *)op;
	int rc;

	(void)w;
	if (sql_engine(conn) == SQL_POSTGRES) {
		/* Alone on this writer (exclusive), and under the store's lock
		 * exclusive: every batch of every node that began before has
		 * committed, and every later one logs the endpoint's writes. */
		if ((rc = sql_begin(conn, SQL_TX_WRITE)))
			return rc;
		if ((rc = take_lock(conn, t->s->schema, 1)) ||
		    (rc = set_state(conn, t->endpoint_id, t->on ? STATE_TRACKED : 0)) || (rc = sql_commit(conn))) {
			sql_rollback(conn);
			return rc;
		}
	}
	substore_set_tracked(t->s, t->endpoint_id, t->on);
	return 0;
}

int move_track(struct substore *src, int64_t endpoint_id, int on)
{
	/* SQLite: an op like the others, ordered by the one writer. */
	struct track_op t = { .op = { .apply = track_apply, .done = copy_done,
				      .exclusive = sql_is_postgres(src->path) },
			      .s = src, .endpoint_id = endpoint_id, .on = on };

	return writer_run(src->writer, &t.op);
}

/* PostgreSQL with several nodes: move_log's seq is handed out when a row is
 * inserted, but batches of different nodes commit in any order, so a step
 * that read past seq 101 while a batch holding seq 100 was still open would
 * never see 100. The store's lock taken exclusive waits for every batch
 * under way; the highest seq then is a horizon below which nothing is still
 * to commit, and the step reads the log up to it. Writers pause for the
 * moment the lock is held (one query), not for the step. */
static int log_horizon(struct sql_conn *c, const char *schema, int64_t endpoint_id, int64_t *upto)
{
	struct sql_stmt *st = NULL;
	int rc;

	if ((rc = sql_begin(c, SQL_TX_WRITE)))
		return rc;
	if ((rc = take_lock(c, schema, 1)) ||
	    (rc = sql_prepare(c, "SELECT COALESCE(MAX(seq), 0) FROM move_log WHERE endpoint_id=?1", &st))) {
		rc = rc < 0 ? rc : INLET_EDB;
		goto out;
	}
	sql_bind_int64(st, 1, endpoint_id);
	if ((rc = sql_step(st)) == SQL_ROW) {
		*upto = sql_column_int64(st, 0);
		rc = 0;
	} else {
		rc = failed(c, rc, "move_log horizon");
	}
out:
	sql_finalize(st);
	if (rc)
		sql_rollback(c);
	else
		rc = sql_commit(c);
	return rc;
}

/* ---- copy ------------------------------------------------------------------- */

int move_copy_step(struct substore *src, struct substore *dst, int64_t endpoint_id, int events,
		   size_t batch, int64_t *copied, int *caught_up)
{
	struct arena *a = arena_create(1 << 20);
	struct copy_set c;
	int64_t scan_done, log_done, log_upto = INT64_MAX;
	size_t nscan, nlog;
	struct sql_conn *conn = NULL;
	int rc, complete;

	memset(&c, 0, sizeof(c));
	c.t = &tables[events ? 1 : 0];
	*copied = 0;
	*caught_up = 0;
	if ((rc = read_meta(dst, endpoint_id, &scan_done, &log_done, &complete)))
		goto out;
	if ((rc = substore_reader(src, &conn)))
		goto out;
	if (sql_engine(conn) == SQL_POSTGRES)
		rc = log_horizon(conn, src->schema, endpoint_id, &log_upto);
	if (!rc)
		rc = read_changes(conn, a, endpoint_id, scan_done, log_done, log_upto, batch, &c, &nscan, &nlog);
	substore_reader_put(src, conn);
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
	struct cutover_op *co = (struct cutover_op *)op;
	const int pg = sql_engine(conn) == SQL_POSTGRES;
	struct arena *a = arena_create(1 << 20);
	struct copy_set c;
	int64_t scan_done, log_done;
	size_t nscan, nlog;
	int rc, complete;

	(void)w;
	memset(&c, 0, sizeof(c));
	c.t = &tables[co->events ? 1 : 0];
	/* Alone on the source's writer: what is read here is final. On
	 * PostgreSQL other nodes' writers too must stand still: the store's
	 * lock exclusive waits for their batches under way to commit and
	 * holds back their next ones until the endpoint is marked cut over. */
	if (pg && ((rc = sql_begin(conn, SQL_TX_WRITE)) || (rc = take_lock(conn, co->src->schema, 1))))
		goto out;
	if ((rc = read_meta(co->dst, co->endpoint_id, &scan_done, &log_done, &complete)))
		goto out;
	if ((rc = read_changes(conn, a, co->endpoint_id, scan_done, log_done, INT64_MAX, 0, &c, &nscan, &nlog)))
		goto out;
	if (co->events && (rc = read_aggregates(conn, a, co->endpoint_id, &c)))
		goto out;
	c.complete = 1;
	if ((rc = write_target(co->dst, co->endpoint_id, &c)))
		goto out;
	if (pg && (rc = set_state(conn, co->endpoint_id, STATE_CUT)))
		goto out;
	if ((rc = co->commit(co->ctx)))
		goto out;
	if (pg && (rc = sql_commit(conn))) {
		/* The shard map already names the target: writes other nodes
		 * still make here would be lost, so say so loudly. */
		log_msg(LOG_ERROR, "endpoint %lld: the cut-over mark did not commit in the source (%s);"
				   " restart the other nodes", (long long)co->endpoint_id, sql_errmsg(conn));
		rc = 0;
	}
	substore_set_tracked(co->src, co->endpoint_id, 0);
	substore_set_moved(co->src, co->endpoint_id, co->dst);
	co->switched(co->ctx);
	log_msg(LOG_INFO, "endpoint %lld moved: %zu rows and %zu changes in the final step",
		(long long)co->endpoint_id, nscan, nlog);
out:
	if (pg && sql_in_tx(conn))
		sql_rollback(conn);
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
	struct cleanup_op *c = (struct cleanup_op *)op;
	struct sql_stmt *st = c->events ? writer_sql(w, SLOT_CLEAN_EV, "DELETE FROM events WHERE id IN"
								       " (SELECT id FROM events WHERE endpoint_id=?1 LIMIT ?2)")
					: writer_sql(w, SLOT_CLEAN_SUB, "DELETE FROM submissions WHERE id IN"
									" (SELECT id FROM submissions WHERE endpoint_id=?1"
									" LIMIT ?2)");
	int rc;

	if (!st)
		return INLET_EDB;
	sql_bind_int64(st, 1, c->endpoint_id);
	sql_bind_int64(st, 2, (int64_t)c->batch);
	rc = sql_step(st);
	c->left_any = rc == SQL_DONE && sql_changes(st) > 0;
	sql_reset(st);
	if (rc != SQL_DONE)
		return failed(conn, rc, "cleanup");
	if (!c->left_any) {
		char q[200];

		/* The aggregates of an events endpoint go last, in one step:
		 * they are small next to its events. */
		for (size_t k = 0; c->events && k < NAGG; k++) {
			const struct move_table *t = &aggregates[NAGG - 1 - k]; /* issues last */

			snprintf(q, sizeof(q), "DELETE FROM %s WHERE %s", t->name, t->where);
			if ((rc = exec_endpoint(conn, q, c->endpoint_id)))
				return rc;
		}
		/* Gone: its log and count go too. */
		if ((rc = exec_endpoint(conn, "DELETE FROM move_log WHERE endpoint_id=?1", c->endpoint_id)) ||
		    (rc = exec_endpoint(conn, "DELETE FROM endpoint_counts WHERE endpoint_id=?1", c->endpoint_id)))
			return rc;
		/* SQLite: freed pages go back to the file system a slice at a
		 * time (auto_vacuum=INCREMENTAL). PostgreSQL's autovacuum
		 * reclaims the space by itself. */
		if (sql_engine(conn) == SQL_SQLITE)
			return sql_exec(conn, "PRAGMA incremental_vacuum(4096);");
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
