/* store/sql.h on SQLite: a thin layer over sqlite3_*, opened through
 * store/db.c so that both APIs see the same pragmas and the same error
 * mapping (db_rc) while the stores move from one to the other. */
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/err.h"
#include "store/db.h"
#include "store/sql_int.h"

/* Idle prepared statements kept per connection, so that the stores'
 * prepare-per-call habit costs a hash look-up instead of SQLite's parser
 * and planner each time (the PostgreSQL side keeps one too). A statement
 * is in the cache only while nobody holds it: sql_finalize puts it back,
 * reset and unbound. */
#define LITE_CACHE 48

struct lite_cached {
	sqlite3_stmt *st;    /* NULL: a free slot */
	uint64_t hash;       /* of its text */
	unsigned long used;  /* LRU tick */
};

struct lite_conn {
	struct sql_conn base; /* first: sql.c sees this */
	sqlite3 *db;          /* owned */
	struct lite_cached cache[LITE_CACHE];
	unsigned long tick;
};

struct lite_stmt {
	struct sql_stmt base; /* first */
	sqlite3_stmt *st;     /* owned */
};

static sqlite3 *db_of(const struct sql_conn *c)
{
	return ((const struct lite_conn *)c)->db;
}

static int fail(struct sql_conn *c, int src)
{
	sql_set_err(c, sqlite3_errmsg(db_of(c)));
	return db_rc(db_of(c), src);
}

static int lite_open(const char *target, int flags, struct sql_conn **out)
{
	struct lite_conn *c = xcalloc(1, sizeof(*c));
	int rc;

	c->base.ops = &sql_sqlite_ops;
	c->base.flags = flags;
	if ((rc = db_open(target, flags & SQL_READONLY, &c->db))) {
		free(c);
		return rc;
	}
	*out = &c->base;
	return 0;
}

static void lite_close(struct sql_conn *c)
{
	struct lite_conn *lc = (struct lite_conn *)c;

	for (int i = 0; i < LITE_CACHE; i++)
		sqlite3_finalize(lc->cache[i].st);
	db_close(db_of(c));
	free(c);
}

static uint64_t text_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

/* Takes an idle statement of this text out of the cache, or NULL. */
static sqlite3_stmt *cache_take(struct lite_conn *c, const char *text, uint64_t hash)
{
	for (int i = 0; i < LITE_CACHE; i++) {
		struct lite_cached *e = &c->cache[i];

		if (e->st && e->hash == hash && !strcmp(sqlite3_sql(e->st), text)) {
			sqlite3_stmt *st = e->st;

			e->st = NULL;
			return st;
		}
	}
	return NULL;
}

/* Gives a statement back: kept in a free slot, or in place of the least
 * recently used one; finalized when its text is cached already. */
static void cache_put(struct lite_conn *c, sqlite3_stmt *st)
{
	const char *text = sqlite3_sql(st);
	uint64_t hash = text ? text_hash(text) : 0;
	struct lite_cached *slot = NULL;

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	for (int i = 0; text && i < LITE_CACHE; i++) {
		struct lite_cached *e = &c->cache[i];

		if (e->st && e->hash == hash && !strcmp(sqlite3_sql(e->st), text)) {
			sqlite3_finalize(st);
			return;
		}
		if (!e->st) {
			if (!slot || slot->st)
				slot = e;
		} else if (!slot || (slot->st && e->used < slot->used)) {
			slot = e;
		}
	}
	if (!slot) {
		sqlite3_finalize(st);
		return;
	}
	sqlite3_finalize(slot->st);
	slot->st = st;
	slot->hash = hash;
	slot->used = ++c->tick;
}

static int lite_check(struct sql_conn *c)
{
	(void)c;
	return 0; /* a file does not go away between statements */
}

static int lite_set_schema(struct sql_conn *c, const char *schema)
{
	/* One file is one schema: Inlet opens another file for another store. */
	(void)c;
	return schema ? INLET_EINVAL : 0;
}

static int lite_exec(struct sql_conn *c, const char *text)
{
	char *err = NULL;
	int src = sqlite3_exec(db_of(c), text, NULL, NULL, &err);

	if (src != SQLITE_OK) {
		sql_set_err(c, err ? err : sqlite3_errmsg(db_of(c)));
		sqlite3_free(err);
		return db_rc(db_of(c), src);
	}
	return 0;
}

static int lite_prepare(struct sql_conn *c, const char *text, struct sql_stmt **out)
{
	struct lite_stmt *s;
	sqlite3_stmt *st = cache_take((struct lite_conn *)c, text, text_hash(text));

	if (!st) {
		int src = sqlite3_prepare_v3(db_of(c), text, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);

		if (src != SQLITE_OK)
			return fail(c, src);
		if (!st) { /* only a comment or white space */
			sql_set_err(c, "empty statement");
			return INLET_EINVAL;
		}
	}
	s = xcalloc(1, sizeof(*s));
	s->base.ops = &sql_sqlite_ops;
	s->base.conn = c;
	s->st = st;
	*out = &s->base;
	return 0;
}

static sqlite3_stmt *st_of(const struct sql_stmt *st)
{
	return ((const struct lite_stmt *)st)->st;
}

static int lite_bind(struct sql_stmt *st, int idx, int kind, int64_t i, const void *p, size_t n)
{
	sqlite3_stmt *s = st_of(st);
	int src;

	switch (kind) {
	case SQL_V_INT:
		src = sqlite3_bind_int64(s, idx, i);
		break;
	case SQL_V_TEXT:
		src = sqlite3_bind_text64(s, idx, p, n, SQLITE_TRANSIENT, SQLITE_UTF8);
		break;
	case SQL_V_BLOB:
		src = sqlite3_bind_blob64(s, idx, p, n, SQLITE_TRANSIENT);
		break;
	default:
		src = sqlite3_bind_null(s, idx);
		break;
	}
	if (src == SQLITE_RANGE)
		return INLET_EINVAL;
	return src == SQLITE_OK ? 0 : fail(st->conn, src);
}

static int lite_step(struct sql_stmt *st)
{
	int src = sqlite3_step(st_of(st));

	if (src == SQLITE_ROW)
		return SQL_ROW;
	if (src == SQLITE_DONE) {
		st->changes = sqlite3_changes64(db_of(st->conn));
		return SQL_DONE;
	}
	return fail(st->conn, src);
}

static int lite_reset(struct sql_stmt *st)
{
	/* sqlite3_reset repeats the last step's error; the caller has seen it. */
	sqlite3_reset(st_of(st));
	st->changes = 0;
	return 0;
}

static void lite_finalize(struct sql_stmt *st)
{
	cache_put((struct lite_conn *)st->conn, st_of(st));
	free(st);
}

static int lite_column_count(const struct sql_stmt *st)
{
	return sqlite3_column_count(st_of(st));
}

static int lite_column_null(struct sql_stmt *st, int col)
{
	return sqlite3_column_type(st_of(st), col) == SQLITE_NULL;
}

static int64_t lite_column_int64(struct sql_stmt *st, int col)
{
	return sqlite3_column_int64(st_of(st), col);
}

static const char *lite_column_text(struct sql_stmt *st, int col, size_t *len)
{
	const char *s = (const char *)sqlite3_column_text(st_of(st), col);

	*len = s ? (size_t)sqlite3_column_bytes(st_of(st), col) : 0;
	return s;
}

static const void *lite_column_blob(struct sql_stmt *st, int col, size_t *len)
{
	sqlite3_stmt *s = st_of(st);
	const void *p;

	if (sqlite3_column_type(s, col) == SQLITE_NULL) {
		*len = 0;
		return NULL;
	}
	p = sqlite3_column_blob(s, col);
	*len = (size_t)sqlite3_column_bytes(s, col);
	/* SQLite answers NULL for an empty blob; only SQL NULL reads as NULL here. */
	return p ? p : "";
}

static int lite_broken(const struct sql_conn *c)
{
	(void)c;
	return 0;
}

static int lite_tx_aborted(const struct sql_conn *c)
{
	return sqlite3_get_autocommit(db_of(c)) != 0;
}


static int lite_migrate_prepare(struct sql_conn *c)
{
	(void)c;
	return 0;
}

static int lite_version_get(struct sql_conn *c, int *version)
{
	sqlite3_stmt *st = NULL;
	int src = sqlite3_prepare_v2(db_of(c), "PRAGMA user_version", -1, &st, NULL);
	int rc = 0;

	if (src != SQLITE_OK) {
		rc = fail(c, src);
		goto out;
	}
	if ((src = sqlite3_step(st)) != SQLITE_ROW) {
		rc = src == SQLITE_DONE ? INLET_EDB : fail(c, src);
		goto out;
	}
	*version = sqlite3_column_int(st, 0);
out:
	sqlite3_finalize(st);
	return rc;
}

static int lite_version_set(struct sql_conn *c, int version)
{
	char q[64];

	snprintf(q, sizeof(q), "PRAGMA user_version=%d", version);
	return lite_exec(c, q);
}

const struct sql_ops sql_sqlite_ops = {
	.engine = SQL_SQLITE,
	.open = lite_open,
	.close = lite_close,
	.check = lite_check,
	.set_schema = lite_set_schema,
	.exec = lite_exec,
	.prepare = lite_prepare,
	.bind = lite_bind,
	.step = lite_step,
	.reset = lite_reset,
	.finalize = lite_finalize,
	.column_count = lite_column_count,
	.column_null = lite_column_null,
	.column_int64 = lite_column_int64,
	.column_text = lite_column_text,
	.column_blob = lite_column_blob,
	.broken = lite_broken,
	.tx_aborted = lite_tx_aborted,
	.migrate_prepare = lite_migrate_prepare,
	.version_get = lite_version_get,
	.version_set = lite_version_set,
};
