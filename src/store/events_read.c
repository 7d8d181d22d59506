/* Error tracking: the reads (store/events.h), on the store's reader pool. */
#include "store/events.h"

#include <string.h>

#include "core/arena.h"
#include "core/err.h"
#include "store/db.h"
#include "store/subs_int.h"

/* A prepared statement on a pooled reader, released together. */
struct rd {
	struct substore *s;
	sqlite3 *db;
	sqlite3_stmt *st;
};

static int rd_open(struct rd *r, struct substore *s, const char *sql)
{
	int rc;

	r->s = s;
	r->st = NULL;
	if ((rc = db_pool_acquire(s->raw_readers, &r->db)))
		return rc;
	if (sqlite3_prepare_v2(r->db, sql, -1, &r->st, NULL) != SQLITE_OK) {
		db_pool_release(s->raw_readers, r->db);
		return INLET_EDB;
	}
	return 0;
}

static void rd_close(struct rd *r)
{
	sqlite3_finalize(r->st);
	db_pool_release(r->s->raw_readers, r->db);
}

static int rd_end(struct rd *r, int step_rc)
{
	int rc = (step_rc == SQLITE_DONE || step_rc == SQLITE_ROW) ? 0 : db_rc(r->db, step_rc);

	rd_close(r);
	return rc ? rc : 0;
}

static const uint8_t *col_blob(struct arena *a, sqlite3_stmt *st, int col, size_t *len)
{
	*len = (size_t)sqlite3_column_bytes(st, col);
	return arena_memdup(a, sqlite3_column_blob(st, col), *len);
}

/* ---- issues -------------------------------------------------------------- */

#define ISSUE_COLS "id,endpoint_id,state,count,sessions,dropped,first_seen,last_seen," \
		   "state_changed,key_version,meta,last,fingerprint"

static void issue_from(struct arena *a, sqlite3_stmt *st, struct ev_issue *i)
{
	size_t fl;
	const void *fp;

	memset(i, 0, sizeof(*i));
	i->id = sqlite3_column_int64(st, 0);
	i->endpoint_id = sqlite3_column_int64(st, 1);
	i->state = sqlite3_column_int(st, 2);
	i->count = sqlite3_column_int64(st, 3);
	i->sessions = sqlite3_column_int64(st, 4);
	i->dropped = sqlite3_column_int64(st, 5);
	i->first_seen = sqlite3_column_int64(st, 6);
	i->last_seen = sqlite3_column_int64(st, 7);
	i->state_changed = sqlite3_column_int64(st, 8);
	i->key_version = (uint32_t)sqlite3_column_int64(st, 9);
	i->meta = col_blob(a, st, 10, &i->meta_len);
	i->last = col_blob(a, st, 11, &i->last_len);
	fl = (size_t)sqlite3_column_bytes(st, 12);
	fp = sqlite3_column_blob(st, 12);
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

int evstore_issues(struct substore *s, const struct issue_query *q, struct arena *a,
		   struct ev_issue **rows, size_t *n)
{
	/* One statement per sort column (a column name cannot be bound);
	 * each has its (endpoint_id, column, id) index. */
	static const char *const cols[] = { "last_seen", "first_seen", "count", "sessions" };
	int sort = q->sort >= 0 && q->sort < 4 ? q->sort : 0;
	const char *col = cols[sort];
	char *sql = arena_printf(a,
		"SELECT " ISSUE_COLS " FROM issues WHERE endpoint_id=?1 AND (?2 IS NULL OR state=?2)"
		" AND (?3 IS NULL OR %s<?3 OR (%s=?3 AND id<?4))"
		" AND (?5 IS NULL OR id IN (SELECT rowid FROM issues_fts WHERE issues_fts MATCH ?5))"
		" ORDER BY endpoint_id DESC, %s DESC, id DESC LIMIT ?6", col, col, col);
	struct rd r;
	int rc;

	*n = 0;
	*rows = arena_alloc(a, (q->limit ? q->limit : 1) * sizeof(**rows));
	if ((rc = rd_open(&r, s, sql)))
		return rc;
	sqlite3_bind_int64(r.st, 1, q->endpoint_id);
	if (q->state >= 0)
		sqlite3_bind_int(r.st, 2, q->state);
	if (q->after_id) {
		sqlite3_bind_int64(r.st, 3, q->after_key);
		sqlite3_bind_int64(r.st, 4, q->after_id);
	}
	if (q->match)
		sqlite3_bind_text(r.st, 5, q->match, -1, SQLITE_STATIC);
	sqlite3_bind_int64(r.st, 6, (sqlite3_int64)q->limit);
	while ((rc = sqlite3_step(r.st)) == SQLITE_ROW && *n < q->limit)
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
	sqlite3_bind_int64(r.st, 1, id);
	sqlite3_bind_int64(r.st, 2, endpoint_id);
	rc = sqlite3_step(r.st);
	if (rc == SQLITE_ROW)
		issue_from(a, r.st, out);
	else if (rc == SQLITE_DONE)
		rc = INLET_ENOTFOUND;
	if (rc == INLET_ENOTFOUND) {
		rd_close(&r);
		return rc;
	}
	return rd_end(&r, rc);
}

/* ---- events -------------------------------------------------------------- */

#define EVENT_COLS "id,issue_id,key_version,dict_id,sealed"

static void event_from(struct arena *a, sqlite3_stmt *st, struct ev_row *e)
{
	e->id = sqlite3_column_int64(st, 0);
	e->issue_id = sqlite3_column_int64(st, 1);
	e->key_version = (uint32_t)sqlite3_column_int64(st, 2);
	e->dict_id = (uint32_t)sqlite3_column_int64(st, 3);
	e->sealed = col_blob(a, st, 4, &e->sealed_len);
}

static int event_rows(struct rd *r, size_t limit, struct arena *a, struct ev_row **rows, size_t *n)
{
	int rc;

	*n = 0;
	*rows = arena_alloc(a, (limit ? limit : 1) * sizeof(**rows));
	while ((rc = sqlite3_step(r->st)) == SQLITE_ROW && *n < limit)
		event_from(a, r->st, &(*rows)[(*n)++]);
	return rd_end(r, rc);
}

int evstore_events(struct substore *s, int64_t endpoint_id, int64_t issue_id, int64_t before,
		   size_t limit, struct arena *a, struct ev_row **rows, size_t *n)
{
	struct rd r;
	int rc;

	if ((rc = rd_open(&r, s, "SELECT " EVENT_COLS " FROM events WHERE issue_id=?1 AND endpoint_id=?2"
				 " AND (?3 IS NULL OR id<?3) ORDER BY issue_id DESC, id DESC LIMIT ?4")))
		return rc;
	sqlite3_bind_int64(r.st, 1, issue_id);
	sqlite3_bind_int64(r.st, 2, endpoint_id);
	if (before)
		sqlite3_bind_int64(r.st, 3, before);
	sqlite3_bind_int64(r.st, 4, (sqlite3_int64)limit);
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
	sqlite3_bind_int64(r.st, 1, endpoint_id);
	sqlite3_bind_int64(r.st, 2, (sqlite3_int64)limit);
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
	sqlite3_bind_int64(r.st, 1, id);
	sqlite3_bind_int64(r.st, 2, endpoint_id);
	if ((rc = event_rows(&r, 1, a, &rows, &n)))
		return rc;
	if (!n)
		return INLET_ENOTFOUND;
	*out = rows[0];
	return 0;
}

static int64_t one_i64(sqlite3 *db, const char *sql, int64_t a, int64_t b)
{
	sqlite3_stmt *st;
	int64_t v = 0;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(st, 1, a);
	sqlite3_bind_int64(st, 2, b);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

int evstore_event_nav(struct substore *s, int64_t issue_id, int64_t id, int64_t *prev,
		      int64_t *next, int64_t *first, int64_t *last)
{
	sqlite3 *db;
	int rc;

	if ((rc = db_pool_acquire(s->raw_readers, &db)))
		return rc;
	*prev = one_i64(db, "SELECT max(id) FROM events WHERE issue_id=? AND id<?", issue_id, id);
	*next = one_i64(db, "SELECT min(id) FROM events WHERE issue_id=? AND id>?", issue_id, id);
	*first = one_i64(db, "SELECT min(id) FROM events WHERE issue_id=? AND ?2=?2", issue_id, 0);
	*last = one_i64(db, "SELECT max(id) FROM events WHERE issue_id=? AND ?2=?2", issue_id, 0);
	db_pool_release(s->raw_readers, db);
	return (*prev < 0 || *next < 0 || *first < 0 || *last < 0) ? INLET_EDB : 0;
}

int evstore_event_count(struct substore *s, int64_t endpoint_id, int64_t *out)
{
	sqlite3 *db;
	int rc;

	if ((rc = db_pool_acquire(s->raw_readers, &db)))
		return rc;
	*out = one_i64(db, "SELECT count(*) FROM events WHERE endpoint_id=? AND ?2=?2", endpoint_id, 0);
	db_pool_release(s->raw_readers, db);
	return *out < 0 ? INLET_EDB : 0;
}

int evstore_totals(struct substore *s, int64_t endpoint_id, int64_t *events, int64_t *last_seen)
{
	sqlite3 *db;
	sqlite3_stmt *st = NULL;
	int rc;

	*events = *last_seen = 0;
	if ((rc = db_pool_acquire(s->raw_readers, &db)))
		return rc;
	/* One row per issue, not per event: the issues' own counters. */
	if (sqlite3_prepare_v2(db, "SELECT COALESCE(SUM(count),0), COALESCE(MAX(last_seen),0) FROM issues"
				   " WHERE endpoint_id=?", -1, &st, NULL) != SQLITE_OK) {
		rc = INLET_EDB;
		goto out;
	}
	sqlite3_bind_int64(st, 1, endpoint_id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		*events = sqlite3_column_int64(st, 0);
		*last_seen = sqlite3_column_int64(st, 1);
	}
out:
	sqlite3_finalize(st);
	db_pool_release(s->raw_readers, db);
	return rc;
}

/* ---- graphs and counters --------------------------------------------------- */

static int points(struct rd *r, int ncols, struct arena *a, struct ev_point **pts, size_t *n)
{
	size_t cap = 0;
	int rc;

	*n = 0;
	*pts = NULL;
	while ((rc = sqlite3_step(r->st)) == SQLITE_ROW) {
		struct ev_point *p;

		*pts = arena_grow(a, *pts, *n, &cap, sizeof(**pts));
		p = &(*pts)[(*n)++];
		memset(p, 0, sizeof(*p));
		p->t = sqlite3_column_int64(r->st, 0);
		p->a = sqlite3_column_int64(r->st, 1);
		if (ncols > 2)
			p->b = sqlite3_column_int64(r->st, 2);
		if (ncols > 3)
			p->c = sqlite3_column_int64(r->st, 3);
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
	sqlite3_bind_int64(r.st, 1, issue_id);
	sqlite3_bind_int64(r.st, 2, from);
	sqlite3_bind_int64(r.st, 3, to);
	sqlite3_bind_int64(r.st, 4, bucket_ms);
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
	sqlite3_bind_int64(r.st, 1, endpoint_id);
	sqlite3_bind_int64(r.st, 2, from);
	sqlite3_bind_int64(r.st, 3, to);
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
	sqlite3_bind_int64(r.st, 1, account_id);
	sqlite3_bind_int64(r.st, 2, endpoint_id);
	sqlite3_bind_int64(r.st, 3, from_day);
	sqlite3_bind_int64(r.st, 4, to_day);
	*n = 0;
	*rows = NULL;
	while ((rc = sqlite3_step(r.st)) == SQLITE_ROW) {
		*rows = arena_grow(a, *rows, *n, &cap, sizeof(**rows));
		(*rows)[*n].day = sqlite3_column_int64(r.st, 0);
		(*rows)[*n].name = arena_strdup(a, (const char *)sqlite3_column_text(r.st, 1));
		(*rows)[(*n)++].n = sqlite3_column_int64(r.st, 2);
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
	sqlite3_bind_int64(r.st, 1, endpoint_id);
	*n = 0;
	*rows = arena_alloc(a, cap * sizeof(**rows));
	while ((rc = sqlite3_step(r.st)) == SQLITE_ROW && *n < cap) {
		struct ev_dict_row *d = &(*rows)[(*n)++];

		d->dict_id = (uint32_t)sqlite3_column_int64(r.st, 0);
		d->key_version = (uint32_t)sqlite3_column_int64(r.st, 1);
		d->sealed = col_blob(a, r.st, 2, &d->len);
	}
	return rd_end(&r, rc);
}
