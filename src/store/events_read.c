/* Error tracking: the reads (store/events.h), on the store's reader pool
 * (store/sql.h, either engine). */
#include "store/events.h"

#include <string.h>

#include "core/arena.h"
#include "core/err.h"
#include "store/sql.h"
#include "store/subs_int.h"

/* A prepared statement on a pooled reader, released together. */
struct rd {
	struct substore *s;
	struct sql_conn *c;
	struct sql_stmt *st;
};

static int rd_open(struct rd *r, struct substore *s, const char *text)
{
	int rc;

	r->s = s;
	r->st = NULL;
	if ((rc = substore_reader(s, &r->c)))
		return rc;
	if ((rc = sql_prepare(r->c, text, &r->st))) {
		substore_reader_put(s, r->c);
		return rc;
	}
	return 0;
}

static void rd_close(struct rd *r)
{
	sql_finalize(r->st);
	substore_reader_put(r->s, r->c);
}

/* Closes r; step_rc is the last sql_step's answer. */
static int rd_end(struct rd *r, int step_rc)
{
	rd_close(r);
	return step_rc < 0 ? step_rc : 0;
}

static const uint8_t *col_blob(struct arena *a, struct sql_stmt *st, int col, size_t *len)
{
	const void *p = sql_column_blob(st, col, len);

	return arena_memdup(a, p, *len);
}

/* ---- issues -------------------------------------------------------------- */

#define ISSUE_COLS "id,endpoint_id,state,count,sessions,dropped,first_seen,last_seen," \
		   "state_changed,key_version,meta,last,fingerprint"

static void issue_from(struct arena *a, struct sql_stmt *st, struct ev_issue *i)
{
	size_t fl;
	const void *fp;

	memset(i, 0, sizeof(*i));
	i->id = sql_column_int64(st, 0);
	i->endpoint_id = sql_column_int64(st, 1);
	i->state = (int)sql_column_int64(st, 2);
	i->count = sql_column_int64(st, 3);
	i->sessions = sql_column_int64(st, 4);
	i->dropped = sql_column_int64(st, 5);
	i->first_seen = sql_column_int64(st, 6);
	i->last_seen = sql_column_int64(st, 7);
	i->state_changed = sql_column_int64(st, 8);
	i->key_version = (uint32_t)sql_column_int64(st, 9);
	i->meta = col_blob(a, st, 10, &i->meta_len);
	i->last = col_blob(a, st, 11, &i->last_len);
	fp = sql_column_blob(st, 12, &fl);
	if (fp && fl == EV_FP_BYTES)
		memcpy(i->fingerprint, fp, EV_FP_BYTES);
}

int64_t evstore_issue_key(const struct ev_issue *i, int sort)
{
	switch (sort) {
	case ISSUE_SORT_FIRST: return i->first_seen;
	case ISSUE_SORT_EVENTS: return i->count;
	case ISSUE_SORT_SESSIONS: return i->sessions;
	default: return i->last_seen;
	}
}

/* The list's SQL on SQLite: one text per sort column, the optional filters
 * switched off by NULL parameters, the search through issues_fts (the
 * tokens, space-separated, are an FTS5 AND of bare words). */
static char *issues_sql_sqlite(struct arena *a, const char *col)
{
	return arena_printf(a,
		"SELECT " ISSUE_COLS " FROM issues WHERE endpoint_id=?1 AND (?2 IS NULL OR state=?2)"
		" AND (?3 IS NULL OR %s<?3 OR (%s=?3 AND id<?4))"
		" AND (?5 IS NULL OR id IN (SELECT rowid FROM issues_fts WHERE issues_fts MATCH ?5))"
		" ORDER BY endpoint_id DESC, %s DESC, id DESC LIMIT ?6", col, col, col);
}

/* On PostgreSQL: only the filters in use are written (a generic plan made
 * for "?5 IS NULL OR ..." could not use the index), and the search is
 * array containment over the GIN index on string_to_array(search, ' ')
 * (migration 3's PostgreSQL text): every token of the query is among the
 * issue's. The parameters keep their numbers; ?6, the limit, is always
 * there, so unused numbers below it are bound as harmless constants in
 * CAST(?N AS BIGINT) IS NULL terms. */
static char *issues_sql_pg(struct arena *a, const char *col, const struct issue_query *q)
{
	return arena_printf(a,
		"SELECT " ISSUE_COLS " FROM issues WHERE endpoint_id=?1 AND %s AND %s AND %s"
		" ORDER BY endpoint_id DESC, %s DESC, id DESC LIMIT ?6",
		q->state >= 0 ? "state=?2" : "CAST(?2 AS BIGINT) IS NULL",
		q->after_id ? arena_printf(a, "(%s<?3 OR (%s=?3 AND id<?4))", col, col) :
			      "CAST(?3 AS BIGINT) IS NULL AND CAST(?4 AS BIGINT) IS NULL",
		q->match ? "string_to_array(search, ' ') @> string_to_array(?5, ' ')" :
			   "CAST(?5 AS TEXT) IS NULL",
		col);
}

int evstore_issues(struct substore *s, const struct issue_query *q, struct arena *a,
		   struct ev_issue **rows, size_t *n)
{
	/* One statement per sort column (a column name cannot be bound);
	 * each has its (endpoint_id, column, id) index. */
	static const char *const cols[] = { "last_seen", "first_seen", "count", "sessions" };
	int sort = q->sort >= 0 && q->sort < 4 ? q->sort : 0;
	const char *col = cols[sort];
	struct rd r;
	int rc;

	*n = 0;
	*rows = arena_alloc(a, (q->limit ? q->limit : 1) * sizeof(**rows));
	r.s = s;
	r.st = NULL;
	if ((rc = substore_reader(s, &r.c)))
		return rc;
	if ((rc = sql_prepare(r.c, sql_engine(r.c) == SQL_POSTGRES ? issues_sql_pg(a, col, q) :
				   issues_sql_sqlite(a, col), &r.st))) {
		substore_reader_put(s, r.c);
		return rc;
	}
	sql_bind_int64(r.st, 1, q->endpoint_id);
	if (q->state >= 0)
		sql_bind_int64(r.st, 2, q->state);
	else
		sql_bind_null(r.st, 2);
	if (q->after_id) {
		sql_bind_int64(r.st, 3, q->after_key);
		sql_bind_int64(r.st, 4, q->after_id);
	} else {
		sql_bind_null(r.st, 3);
		sql_bind_null(r.st, 4);
	}
	sql_bind_str(r.st, 5, q->match);
	sql_bind_int64(r.st, 6, (int64_t)q->limit);
	while ((rc = sql_step(r.st)) == SQL_ROW && *n < q->limit)
		issue_from(a, r.st, &(*rows)[(*n)++]);
	return rd_end(&r, rc);
}

int evstore_issue(struct substore *s, int64_t endpoint_id, int64_t id, struct arena *a,
		  struct ev_issue *out)
{
	struct rd r;
	int rc;

	if ((rc = rd_open(&r, s, "SELECT " ISSUE_COLS " FROM issues WHERE id=? AND endpoint_id=?")))
		return rc;
	sql_bind_int64(r.st, 1, id);
	sql_bind_int64(r.st, 2, endpoint_id);
	rc = sql_step(r.st);
	if (rc == SQL_ROW)
		issue_from(a, r.st, out);
	rd_close(&r);
	return rc == SQL_ROW ? 0 : rc == SQL_DONE ? INLET_ENOTFOUND : rc;
}

/* ---- events -------------------------------------------------------------- */

#define EVENT_COLS "id,issue_id,key_version,dict_id,sealed"

static void event_from(struct arena *a, struct sql_stmt *st, struct ev_row *e)
{
	e->id = sql_column_int64(st, 0);
	e->issue_id = sql_column_int64(st, 1);
	e->key_version = (uint32_t)sql_column_int64(st, 2);
	e->dict_id = (uint32_t)sql_column_int64(st, 3);
	e->sealed = col_blob(a, st, 4, &e->sealed_len);
}

static int event_rows(struct rd *r, size_t limit, struct arena *a, struct ev_row **rows, size_t *n)
{
	int rc;

	*n = 0;
	*rows = arena_alloc(a, (limit ? limit : 1) * sizeof(**rows));
	while ((rc = sql_step(r->st)) == SQL_ROW && *n < limit)
		event_from(a, r->st, &(*rows)[(*n)++]);
	return rd_end(r, rc);
}

int evstore_events(struct substore *s, int64_t endpoint_id, int64_t issue_id, int64_t before,
		   size_t limit, struct arena *a, struct ev_row **rows, size_t *n)
{
	struct rd r;
	int rc;

	/* (PostgreSQL cannot type a bare ?3 IS NULL.) */
	if ((rc = rd_open(&r, s, "SELECT " EVENT_COLS " FROM events WHERE issue_id=?1 AND endpoint_id=?2"
				 " AND (CAST(?3 AS INTEGER) IS NULL OR id<?3) ORDER BY issue_id DESC, id DESC LIMIT ?4")))
		return rc;
	sql_bind_int64(r.st, 1, issue_id);
	sql_bind_int64(r.st, 2, endpoint_id);
	if (before)
		sql_bind_int64(r.st, 3, before);
	else
		sql_bind_null(r.st, 3);
	sql_bind_int64(r.st, 4, (int64_t)limit);
	return event_rows(&r, limit, a, rows, n);
}

int evstore_recent(struct substore *s, int64_t endpoint_id, size_t limit, struct arena *a,
		   struct ev_row **rows, size_t *n)
{
	struct rd r;
	int rc;

	if ((rc = rd_open(&r, s, "SELECT " EVENT_COLS " FROM events WHERE endpoint_id=?1"
				 " ORDER BY endpoint_id DESC, id DESC LIMIT ?2")))
		return rc;
	sql_bind_int64(r.st, 1, endpoint_id);
	sql_bind_int64(r.st, 2, (int64_t)limit);
	return event_rows(&r, limit, a, rows, n);
}

int evstore_event(struct substore *s, int64_t endpoint_id, int64_t id, struct arena *a,
		  struct ev_row *out)
{
	struct ev_row *rows;
	struct rd r;
	size_t n;
	int rc;

	if ((rc = rd_open(&r, s, "SELECT " EVENT_COLS " FROM events WHERE id=?1 AND endpoint_id=?2")))
		return rc;
	sql_bind_int64(r.st, 1, id);
	sql_bind_int64(r.st, 2, endpoint_id);
	if ((rc = event_rows(&r, 1, a, &rows, &n)))
		return rc;
	if (!n)
		return INLET_ENOTFOUND;
	*out = rows[0];
	return 0;
}

/* The one integer text's first row gives (0 when it gives none), with
 * nparams of a and b bound. */
static int one_i64(struct sql_conn *c, const char *text, int nparams, int64_t a, int64_t b, int64_t *out)
{
	struct sql_stmt *st;
	int rc;

	*out = 0;
	if ((rc = sql_prepare(c, text, &st)))
		return rc;
	sql_bind_int64(st, 1, a);
	if (nparams > 1)
		sql_bind_int64(st, 2, b);
	if ((rc = sql_step(st)) == SQL_ROW)
		*out = sql_column_int64(st, 0);
	sql_finalize(st);
	return rc < 0 ? rc : 0;
}

int evstore_event_nav(struct substore *s, int64_t issue_id, int64_t id, int64_t *prev,
		      int64_t *next, int64_t *first, int64_t *last)
{
	struct sql_conn *c;
	int rc;

	*prev = *next = *first = *last = 0;
	if ((rc = substore_reader(s, &c)))
		return rc;
	/* Four reads of one snapshot, so they agree with each other. */
	if ((rc = sql_begin(c, SQL_TX_READ)))
		goto out;
	if (!(rc = one_i64(c, "SELECT max(id) FROM events WHERE issue_id=? AND id<?", 2, issue_id, id, prev)) &&
	    !(rc = one_i64(c, "SELECT min(id) FROM events WHERE issue_id=? AND id>?", 2, issue_id, id, next)) &&
	    !(rc = one_i64(c, "SELECT min(id) FROM events WHERE issue_id=?", 1, issue_id, 0, first)))
		rc = one_i64(c, "SELECT max(id) FROM events WHERE issue_id=?", 1, issue_id, 0, last);
	if (rc)
		sql_rollback(c);
	else
		rc = sql_commit(c);
out:
	substore_reader_put(s, c);
	return rc;
}

int evstore_event_count(struct substore *s, int64_t endpoint_id, int64_t *out)
{
	struct sql_conn *c;
	int rc;

	if ((rc = substore_reader(s, &c)))
		return rc;
	rc = one_i64(c, "SELECT count(*) FROM events WHERE endpoint_id=?", 1, endpoint_id, 0, out);
	substore_reader_put(s, c);
	return rc;
}

int evstore_totals(struct substore *s, int64_t endpoint_id, int64_t *events, int64_t *last_seen)
{
	struct rd r;
	int rc;

	*events = *last_seen = 0;
	/* One row per issue, not per event: the issues' own counters. */
	if ((rc = rd_open(&r, s, "SELECT COALESCE(SUM(count),0), COALESCE(MAX(last_seen),0) FROM issues"
				 " WHERE endpoint_id=?")))
		return rc;
	sql_bind_int64(r.st, 1, endpoint_id);
	if ((rc = sql_step(r.st)) == SQL_ROW) {
		*events = sql_column_int64(r.st, 0);
		*last_seen = sql_column_int64(r.st, 1);
	}
	return rd_end(&r, rc);
}

/* ---- graphs and counters --------------------------------------------------- */

static int points(struct rd *r, int ncols, struct arena *a, struct ev_point **pts, size_t *n)
{
	size_t cap = 0;
	int rc;

	*n = 0;
	*pts = NULL;
	while ((rc = sql_step(r->st)) == SQL_ROW) {
		struct ev_point *p;

		*pts = arena_grow(a, *pts, *n, &cap, sizeof(**pts));
		p = &(*pts)[(*n)++];
		memset(p, 0, sizeof(*p));
		p->t = sql_column_int64(r->st, 0);
		p->a = sql_column_int64(r->st, 1);
		if (ncols > 2)
			p->b = sql_column_int64(r->st, 2);
		if (ncols > 3)
			p->c = sql_column_int64(r->st, 3);
	}
	return rd_end(r, rc);
}

int evstore_issue_graph(struct substore *s, int64_t issue_id, int64_t from, int64_t to,
			int64_t bucket_ms, struct arena *a, struct ev_point **pts, size_t *n)
{
	struct rd r;
	int rc;

	if (bucket_ms <= 0)
		bucket_ms = EV_HOUR_MS;
	if ((rc = rd_open(&r, s, "SELECT hour - hour % ?4 AS t, sum(n) FROM issue_hours"
				 " WHERE issue_id=?1 AND hour>=?2 AND hour<?3 GROUP BY t ORDER BY t")))
		return rc;
	sql_bind_int64(r.st, 1, issue_id);
	sql_bind_int64(r.st, 2, from);
	sql_bind_int64(r.st, 3, to);
	sql_bind_int64(r.st, 4, bucket_ms);
	return points(&r, 2, a, pts, n);
}

int evstore_session_graph(struct substore *s, int64_t endpoint_id, int64_t from, int64_t to,
			  struct arena *a, struct ev_point **pts, size_t *n)
{
	struct rd r;
	int rc;

	if ((rc = rd_open(&r, s, "SELECT hour, sessions, errored, crashed FROM session_hours"
				 " WHERE endpoint_id=?1 AND hour>=?2 AND hour<?3 ORDER BY hour")))
		return rc;
	sql_bind_int64(r.st, 1, endpoint_id);
	sql_bind_int64(r.st, 2, from);
	sql_bind_int64(r.st, 3, to);
	return points(&r, 4, a, pts, n);
}

int evstore_counts(struct substore *s, int64_t account_id, int64_t endpoint_id, int64_t from_day,
		   int64_t to_day, struct arena *a, struct ev_count **rows, size_t *n)
{
	size_t cap = 0;
	struct rd r;
	int rc;

	if ((rc = rd_open(&r, s, endpoint_id < 0 ?
			  "SELECT day, name, SUM(n) FROM daily_counts WHERE account_id=?1"
			  " AND ?2 < 0 AND day>=?3 AND day<=?4 GROUP BY day, name ORDER BY day, name" :
			  "SELECT day, name, n FROM daily_counts WHERE account_id=?1"
			  " AND endpoint_id=?2 AND day>=?3 AND day<=?4 ORDER BY day, name")))
		return rc;
	sql_bind_int64(r.st, 1, account_id);
	sql_bind_int64(r.st, 2, endpoint_id);
	sql_bind_int64(r.st, 3, from_day);
	sql_bind_int64(r.st, 4, to_day);
	*n = 0;
	*rows = NULL;
	while ((rc = sql_step(r.st)) == SQL_ROW) {
		size_t len;
		const char *name = sql_column_text(r.st, 1, &len);

		*rows = arena_grow(a, *rows, *n, &cap, sizeof(**rows));
		(*rows)[*n].day = sql_column_int64(r.st, 0);
		(*rows)[*n].name = arena_strdup(a, name ? name : "");
		(*rows)[(*n)++].n = sql_column_int64(r.st, 2);
	}
	return rd_end(&r, rc);
}

int evstore_dicts(struct substore *s, int64_t endpoint_id, struct arena *a, struct ev_dict_row **rows,
		  size_t *n)
{
	size_t cap = 8;
	struct rd r;
	int rc;

	if ((rc = rd_open(&r, s, "SELECT dict_id, key_version, sealed FROM zdicts WHERE endpoint_id=?"
				 " ORDER BY created DESC")))
		return rc;
	sql_bind_int64(r.st, 1, endpoint_id);
	*n = 0;
	*rows = arena_alloc(a, cap * sizeof(**rows));
	while ((rc = sql_step(r.st)) == SQL_ROW && *n < cap) {
		struct ev_dict_row *d = &(*rows)[(*n)++];

		d->dict_id = (uint32_t)sql_column_int64(r.st, 0);
		d->key_version = (uint32_t)sql_column_int64(r.st, 1);
		d->sealed = col_blob(a, r.st, 2, &d->len);
	}
	return rd_end(&r, rc);
}
