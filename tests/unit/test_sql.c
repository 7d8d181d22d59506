/* store/sql.h against both engines: every case runs on a fresh SQLite file,
 * and again on PostgreSQL (a fresh schema each) when
 * INLET_TEST_DATABASE_URL is set, which tests/e2e/sql_pg.test.mjs does
 * with a throwaway server. INLET_TEST_PG_RESTART, when set, is a shell
 * command that restarts that server in place.
 *
 * Covered: placeholders, type round trips (int64 extremes, blobs with NULs,
 * empty values, UTF-8, NULL), constraint errors, transactions, savepoints,
 * RETURNING and change counts, a pool shared by threads, lost connections
 * and a restarted server, schemas, migrations, and the dialect rewrite
 * (as text, and by the same queries answering the same on both). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/err.h"
#include "store/sql.h"
#include "store/sql_dialect.h"

static const char *target;  /* file path or URL of the engine under test */
static int pg;              /* 1 when target is PostgreSQL */
static char dir[256];       /* SQLite: the temporary folder */
static char schema[64];     /* PostgreSQL: this test's schema */
static int seq;

/* ---- fixtures ------------------------------------------------------------ */

static char file_path[320];

static int open_conn(struct sql_conn **c)
{
	int rc = sql_open(target, 0, c);

	if (!rc && pg)
		rc = sql_set_schema(*c, schema);
	return rc;
}

static void drop_schema(const char *name)
{
	struct sql_conn *admin = NULL;
	char q[200];

	if (sql_open(target, 0, &admin) == 0) {
		snprintf(q, sizeof(q), "DROP SCHEMA IF EXISTS %s CASCADE", name);
		sql_exec(admin, q);
	}
	sql_close(admin);
}

static int setup(void **state)
{
	struct sql_conn *c = NULL;

	seq++;
	if (pg) {
		snprintf(schema, sizeof(schema), "t%d_%d", (int)getpid(), seq);
		drop_schema(schema);
		char q[128];

		snprintf(q, sizeof(q), "CREATE SCHEMA %s", schema);
		if (sql_open(target, 0, &c) || sql_exec(c, q) || sql_set_schema(c, schema))
			goto fail;
	} else {
		snprintf(file_path, sizeof(file_path), "%s/t%d.db", dir, seq);
		target = file_path;
		if (sql_open(target, 0, &c))
			goto fail;
	}
	*state = c;
	return 0;
fail:
	if (c)
		fprintf(stderr, "setup: %s\n", sql_errmsg(c));
	sql_close(c);
	return -1;
}

static int teardown(void **state)
{
	sql_close(*state);
	if (pg)
		drop_schema(schema);
	return 0;
}

/* Runs q, which must answer one integer. */
static int64_t one(struct sql_conn *c, const char *q)
{
	struct sql_stmt *st = NULL;
	int64_t v = -999;

	assert_int_equal(sql_prepare(c, q, &st), 0);
	assert_int_equal(sql_step(st), SQL_ROW);
	v = sql_column_int64(st, 0);
	assert_int_equal(sql_step(st), SQL_DONE);
	sql_finalize(st);
	return v;
}

static void exec_ok(struct sql_conn *c, const char *q)
{
	int rc = sql_exec(c, q);

	if (rc)
		fprintf(stderr, "exec failed: %s: %s\n", q, sql_errmsg(c));
	assert_int_equal(rc, 0);
}

/* ---- round trips --------------------------------------------------------- */

static void t_types(void **state)
{
	struct sql_conn *c = *state;
	struct sql_stmt *st = NULL;
	static const unsigned char bin[] = { 0, 1, 0, 255, 0x80, 0x7f, 0, '\\', 'x', 0 };
	static const char utf8[] = "h\xc3\xa9llo \xe2\x98\x83 \xf0\x9d\x84\x9e";
	static const int64_t ints[] = { INT64_MIN, INT64_MAX, 0, -1, 1, 4294967296LL };
	const void *p;
	size_t n;

	exec_ok(c, "CREATE TABLE t(id INTEGER PRIMARY KEY, i INTEGER, s TEXT, b BLOB)");
	assert_int_equal(sql_prepare(c, "INSERT INTO t(id,i,s,b) VALUES(?1,?2,?3,?4)", &st), 0);
	for (int k = 0; k < 6; k++) {
		assert_int_equal(sql_bind_int64(st, 1, k + 1), 0);
		assert_int_equal(sql_bind_int64(st, 2, ints[k]), 0);
		assert_int_equal(sql_bind_str(st, 3, k == 0 ? utf8 : k == 1 ? "" : NULL), 0);
		if (k == 0)
			assert_int_equal(sql_bind_blob(st, 4, bin, sizeof(bin)), 0);
		else if (k == 1)
			assert_int_equal(sql_bind_blob(st, 4, NULL, 0), 0); /* empty, not NULL */
		else
			assert_int_equal(sql_bind_null(st, 4), 0);
		assert_int_equal(sql_step(st), SQL_DONE);
		assert_int_equal(sql_changes(st), 1);
		assert_int_equal(sql_reset(st), 0);
	}
	assert_int_equal(sql_bind_int64(st, 5, 1), INLET_EINVAL); /* no ?5 */
	sql_finalize(st);

	assert_int_equal(sql_prepare(c, "SELECT i,s,b FROM t ORDER BY id", &st), 0);
	assert_int_equal(sql_step(st), SQL_ROW);
	assert_int_equal(sql_column_count(st), 3);
	assert_true(sql_column_int64(st, 0) == INT64_MIN);
	assert_string_equal(sql_column_text(st, 1, &n), utf8);
	assert_int_equal(n, strlen(utf8));
	p = sql_column_blob(st, 2, &n);
	assert_int_equal(n, sizeof(bin));
	assert_memory_equal(p, bin, sizeof(bin));
	assert_false(sql_column_null(st, 2));

	assert_int_equal(sql_step(st), SQL_ROW);
	assert_true(sql_column_int64(st, 0) == INT64_MAX);
	assert_non_null(sql_column_text(st, 1, &n));
	assert_int_equal(n, 0);
	assert_false(sql_column_null(st, 1));
	p = sql_column_blob(st, 2, &n);
	assert_non_null(p);
	assert_int_equal(n, 0);
	assert_false(sql_column_null(st, 2));

	for (int k = 2; k < 6; k++) {
		assert_int_equal(sql_step(st), SQL_ROW);
		assert_true(sql_column_int64(st, 0) == ints[k]);
		assert_true(sql_column_null(st, 1));
		assert_null(sql_column_text(st, 1, &n));
		assert_int_equal(n, 0);
		assert_true(sql_column_null(st, 2));
		assert_null(sql_column_blob(st, 2, &n));
		assert_int_equal(sql_column_int64(st, 2), 0);
	}
	assert_int_equal(sql_step(st), SQL_DONE);
	sql_finalize(st);
}

static void t_placeholders(void **state)
{
	struct sql_conn *c = *state;
	struct sql_stmt *st = NULL;

	exec_ok(c, "CREATE TABLE t(a INTEGER, b INTEGER, c INTEGER, d TEXT)");
	/* A bare ? is numbered after the highest so far: here ?3. */
	assert_int_equal(sql_prepare(c, "INSERT INTO t(a,b,c,d) VALUES(?2, ?1, ?, ?4)", &st), 0);
	sql_bind_int64(st, 1, 10);
	sql_bind_int64(st, 2, 20);
	sql_bind_int64(st, 3, 40);
	sql_bind_str(st, 4, "it's ? not a placeholder");
	assert_int_equal(sql_step(st), SQL_DONE);
	sql_finalize(st);

	/* ? inside strings, quoted names and comments is left alone; a
	 * parameter used twice keeps one number. */
	assert_int_equal(sql_prepare(c, "SELECT a, b, c, d, '?' /* ? */ FROM t -- ?\n"
				     " WHERE a = ?1 AND d LIKE '%?%' AND (?1 = a)", &st), 0);
	sql_bind_int64(st, 1, 20);
	assert_int_equal(sql_step(st), SQL_ROW);
	assert_int_equal(sql_column_int64(st, 0), 20);
	assert_int_equal(sql_column_int64(st, 1), 10);
	assert_int_equal(sql_column_int64(st, 2), 40);
	assert_string_equal(sql_column_text(st, 3, NULL), "it's ? not a placeholder");
	assert_string_equal(sql_column_text(st, 4, NULL), "?");
	assert_int_equal(sql_step(st), SQL_DONE);
	/* reset keeps bindings; a new binding changes the answer */
	assert_int_equal(sql_reset(st), 0);
	assert_int_equal(sql_step(st), SQL_ROW);
	assert_int_equal(sql_reset(st), 0);
	sql_bind_int64(st, 1, 21);
	assert_int_equal(sql_step(st), SQL_DONE);
	sql_finalize(st);

	/* A prepare error is reported at prepare, on both engines. */
	assert_int_not_equal(sql_prepare(c, "SELECT nope FROM t", &st), 0);
	assert_null(st);
	assert_true(strlen(sql_errmsg(c)) > 0);
}

/* ---- errors, transactions ------------------------------------------------ */

static void t_constraints(void **state)
{
	struct sql_conn *c = *state;
	struct sql_stmt *st = NULL;

	exec_ok(c, "CREATE TABLE t(id INTEGER PRIMARY KEY, k TEXT NOT NULL UNIQUE)");
	exec_ok(c, "INSERT INTO t(id,k) VALUES(1,'a')");
	assert_int_equal(sql_exec(c, "INSERT INTO t(id,k) VALUES(1,'b')"), INLET_EEXISTS);
	assert_int_equal(sql_prepare(c, "INSERT INTO t(id,k) VALUES(?,?)", &st), 0);
	sql_bind_int64(st, 1, 2);
	sql_bind_str(st, 2, "a");
	assert_int_equal(sql_step(st), INLET_EEXISTS);
	/* NOT NULL is a constraint too, reported as store/db.c always has */
	sql_reset(st);
	sql_bind_null(st, 2);
	assert_int_equal(sql_step(st), INLET_EEXISTS);
	sql_reset(st);
	sql_bind_str(st, 2, "b");
	assert_int_equal(sql_step(st), SQL_DONE);
	sql_finalize(st);
	assert_int_equal(one(c, "SELECT count(*) FROM t"), 2);
	assert_int_equal(sql_exec(c, "SELEKT 1"), INLET_EDB);
}

static void t_transactions(void **state)
{
	struct sql_conn *c = *state;

	exec_ok(c, "CREATE TABLE t(id INTEGER PRIMARY KEY)");
	assert_int_equal(sql_begin(c, SQL_TX_WRITE), 0);
	assert_true(sql_in_tx(c));
	assert_int_equal(sql_begin(c, SQL_TX_WRITE), INLET_EINVAL);
	exec_ok(c, "INSERT INTO t(id) VALUES(1)");
	assert_int_equal(sql_rollback(c), 0);
	assert_false(sql_in_tx(c));
	assert_int_equal(one(c, "SELECT count(*) FROM t"), 0);

	assert_int_equal(sql_begin(c, SQL_TX_SERIAL), 0);
	exec_ok(c, "INSERT INTO t(id) VALUES(1)");
	assert_int_equal(sql_commit(c), 0);

	/* A failed statement inside a savepoint is undone alone, on both
	 * engines (PostgreSQL would otherwise spoil the transaction). */
	assert_int_equal(sql_begin(c, SQL_TX_WRITE), 0);
	exec_ok(c, "INSERT INTO t(id) VALUES(2)");
	assert_int_equal(sql_savepoint(c, "op"), 0);
	assert_int_equal(sql_exec(c, "INSERT INTO t(id) VALUES(1)"), INLET_EEXISTS);
	assert_int_equal(sql_rollback_to(c, "op"), 0);
	assert_int_equal(sql_release(c, "op"), 0);
	exec_ok(c, "INSERT INTO t(id) VALUES(3)");
	assert_int_equal(sql_commit(c), 0);
	assert_int_equal(one(c, "SELECT count(*) FROM t"), 3);

	/* A read transaction sees the rows. */
	assert_int_equal(sql_begin(c, SQL_TX_READ), 0);
	assert_int_equal(one(c, "SELECT max(id) FROM t"), 3);
	assert_int_equal(sql_commit(c), 0);
	assert_int_equal(sql_savepoint(c, "bad name"), INLET_EINVAL);
}

static void t_returning(void **state)
{
	struct sql_conn *c = *state;
	struct sql_stmt *st = NULL;

	/* The id comes from the engine when not given: rowid or identity. */
	exec_ok(c, "CREATE TABLE t(id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT NOT NULL)");
	assert_int_equal(sql_prepare(c, "INSERT INTO t(v) VALUES(?) RETURNING id", &st), 0);
	for (int k = 1; k <= 3; k++) {
		sql_bind_str(st, 1, "x");
		assert_int_equal(sql_step(st), SQL_ROW);
		assert_int_equal(sql_column_int64(st, 0), k);
		assert_int_equal(sql_step(st), SQL_DONE);
		sql_reset(st);
	}
	sql_finalize(st);
	assert_int_equal(sql_prepare(c, "UPDATE t SET v='y' WHERE id>=?", &st), 0);
	sql_bind_int64(st, 1, 2);
	assert_int_equal(sql_step(st), SQL_DONE);
	assert_int_equal(sql_changes(st), 2);
	sql_finalize(st);
	assert_int_equal(sql_prepare(c, "DELETE FROM t WHERE v='nothing'", &st), 0);
	assert_int_equal(sql_step(st), SQL_DONE);
	assert_int_equal(sql_changes(st), 0);
	sql_finalize(st);
}

/* ---- the pool ------------------------------------------------------------ */

struct worker {
	struct sql_pool *pool;
	int base;
	int rc;
};

#define POOL_ROWS 40

static void *pool_worker(void *arg)
{
	struct worker *w = arg;

	for (int i = 0; i < POOL_ROWS && !w->rc; i++) {
		struct sql_conn *c = NULL;
		struct sql_stmt *st = NULL;

		if ((w->rc = sql_pool_get(w->pool, pg ? schema : NULL, &c)))
			break;
		if (!(w->rc = sql_begin(c, SQL_TX_WRITE)) &&
		    !(w->rc = sql_prepare(c, "INSERT INTO t(id, who) VALUES(?, ?)", &st))) {
			sql_bind_int64(st, 1, w->base + i);
			sql_bind_int64(st, 2, w->base);
			w->rc = sql_step(st);
			sql_finalize(st);
			w->rc = w->rc ? w->rc : sql_commit(c);
		}
		if (sql_in_tx(c))
			sql_rollback(c);
		sql_pool_put(w->pool, c);
	}
	return NULL;
}

static void t_pool_threads(void **state)
{
	struct sql_conn *c = *state;
	struct sql_pool *pool;
	struct worker w[6];
	pthread_t th[6];

	exec_ok(c, "CREATE TABLE t(id INTEGER PRIMARY KEY, who INTEGER NOT NULL)");
	/* Fewer connections than threads: some wait for a free one. */
	pool = sql_pool_create(target, 0, 3, 30000);
	for (int i = 0; i < 6; i++) {
		w[i] = (struct worker){ .pool = pool, .base = (i + 1) * 1000 };
		assert_int_equal(pthread_create(&th[i], NULL, pool_worker, &w[i]), 0);
	}
	for (int i = 0; i < 6; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(w[i].rc, 0);
	}
	assert_int_equal(one(c, "SELECT count(*) FROM t"), 6 * POOL_ROWS);
	assert_int_equal(one(c, "SELECT count(DISTINCT who) FROM t"), 6);
	{
		struct sql_conn *x = NULL;

		assert_int_equal(sql_pool_get(pool, "Bad-Name", &x), INLET_EINVAL);
		if (!pg)
			assert_int_equal(sql_pool_get(pool, "other", &x), INLET_EINVAL);
	}
	sql_pool_destroy(pool);
}

/* A pool of one connection with a 200 ms wait: a second taker times out. */
static void t_pool_bounded(void **state)
{
	struct sql_pool *pool = sql_pool_create(target, 0, 1, 200);
	struct sql_conn *a = NULL, *b = NULL;

	(void)state;
	assert_int_equal(sql_pool_get(pool, pg ? schema : NULL, &a), 0);
	assert_int_equal(sql_pool_get(pool, pg ? schema : NULL, &b), INLET_EBUSY);
	/* Left inside a transaction: the pool rolls it back. */
	assert_int_equal(sql_begin(a, SQL_TX_WRITE), 0);
	sql_pool_put(pool, a);
	assert_int_equal(sql_pool_get(pool, pg ? schema : NULL, &b), 0);
	assert_ptr_equal(a, b);
	assert_false(sql_in_tx(b));
	assert_int_equal(one(b, "SELECT 7"), 7);
	sql_pool_put(pool, b);
	sql_pool_destroy(pool);
}

/* ---- lost connections (PostgreSQL) --------------------------------------- */

/* Ends every other session of this database from a fresh connection. */
static void kill_others(void)
{
	struct sql_conn *k = NULL;

	assert_int_equal(sql_open(target, 0, &k), 0);
	exec_ok(k, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
		   " WHERE datname = current_database() AND pid <> pg_backend_pid()"
		   " AND backend_type = 'client backend'");
	sql_close(k);
	usleep(200 * 1000); /* the goodbye reaches the sockets */
}

static void t_reconnect(void **state)
{
	struct sql_conn *c = *state, *p1 = NULL;
	struct sql_pool *pool;
	const char *restart = getenv("INLET_TEST_PG_RESTART");

	if (!pg)
		skip();
	exec_ok(c, "CREATE TABLE t(id INTEGER PRIMARY KEY)");
	exec_ok(c, "INSERT INTO t(id) VALUES(1)");
	pool = sql_pool_create(target, 0, 2, 5000);
	assert_int_equal(sql_pool_get(pool, schema, &p1), 0);
	assert_int_equal(one(p1, "SELECT count(*) FROM t"), 1);
	sql_pool_put(pool, p1);

	/* Idle connections whose server session ended: both the pool's and a
	 * standalone one carry on, in their schema, with statements prepared
	 * before the loss. */
	{
		struct sql_stmt *st = NULL;

		assert_int_equal(sql_prepare(c, "SELECT count(*) FROM t WHERE id >= ?", &st), 0);
		kill_others();
		assert_int_equal(sql_pool_get(pool, schema, &p1), 0);
		assert_int_equal(one(p1, "SELECT count(*) FROM t"), 1);
		sql_pool_put(pool, p1);
		sql_bind_int64(st, 1, 1);
		assert_int_equal(sql_step(st), SQL_ROW);
		assert_int_equal(sql_column_int64(st, 0), 1);
		sql_finalize(st);
	}

	/* Lost inside a transaction: the transaction fails, visibly, and the
	 * connection works again after the rollback. */
	assert_int_equal(sql_begin(c, SQL_TX_WRITE), 0);
	exec_ok(c, "INSERT INTO t(id) VALUES(2)");
	kill_others();
	assert_int_equal(sql_exec(c, "INSERT INTO t(id) VALUES(3)"), INLET_EUNAVAILABLE);
	assert_int_equal(sql_rollback(c), 0);
	assert_int_equal(one(c, "SELECT count(*) FROM t"), 1);

	/* The server itself restarts. */
	if (restart && *restart) {
		assert_int_equal(system(restart), 0);
		assert_int_equal(one(c, "SELECT count(*) FROM t"), 1);
		assert_int_equal(sql_pool_get(pool, schema, &p1), 0);
		assert_int_equal(one(p1, "SELECT count(*) FROM t"), 1);
		sql_pool_put(pool, p1);
	}
	sql_pool_destroy(pool);
}

/* ---- schemas ------------------------------------------------------------- */

static void t_schemas(void **state)
{
	struct sql_conn *c = *state;
	char other[80], q[400];
	struct sql_pool *pool;
	struct sql_conn *a = NULL;

	if (!pg) {
		/* SQLite: a store is a file; schemas are PostgreSQL's. */
		assert_int_equal(sql_set_schema(c, NULL), 0);
		assert_int_equal(sql_set_schema(c, "ep_x"), INLET_EINVAL);
		return;
	}
	snprintf(other, sizeof(other), "%s_b", schema);
	snprintf(q, sizeof(q), "CREATE SCHEMA %s; CREATE TABLE %s.t(v TEXT); INSERT INTO %s.t VALUES('b')",
		 other, other, other);
	exec_ok(c, q);
	exec_ok(c, "CREATE TABLE t(v TEXT); INSERT INTO t VALUES('a'), ('a2')");
	pool = sql_pool_create(target, 0, 1, 5000);
	/* One connection, switched between schemas at each checkout. */
	for (int i = 0; i < 3; i++) {
		assert_int_equal(sql_pool_get(pool, schema, &a), 0);
		assert_int_equal(one(a, "SELECT count(*) FROM t"), 2);
		sql_pool_put(pool, a);
		assert_int_equal(sql_pool_get(pool, other, &a), 0);
		assert_int_equal(one(a, "SELECT count(*) FROM t"), 1);
		sql_pool_put(pool, a);
	}
	assert_int_equal(sql_set_schema(c, "x;drop"), INLET_EINVAL);
	sql_pool_destroy(pool);
	drop_schema(other);
}

/* ---- migrations ---------------------------------------------------------- */

static const char *const migs[] = {
	"CREATE TABLE m(id INTEGER PRIMARY KEY, v TEXT NOT NULL);"
	"CREATE TABLE kv(k TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;",
	"INSERT INTO m(v) VALUES('seed');"
	"ALTER TABLE m ADD COLUMN extra BLOB;",
	"CREATE TABLE later(x INTEGER); SELECT nope FROM nowhere;",
};

static void t_migrate(void **state)
{
	struct sql_conn *c = *state, *d = NULL;
	int v = -1;

	assert_int_equal(sql_schema_version(c, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(sql_migrate(c, migs, 2, "test"), 0);
	assert_int_equal(sql_schema_version(c, &v), 0);
	assert_int_equal(v, 2);
	/* Applied once: a second run changes nothing. */
	assert_int_equal(sql_migrate(c, migs, 2, "test"), 0);
	assert_int_equal(one(c, "SELECT count(*) FROM m"), 1);
	/* A failing migration leaves nothing of itself behind. */
	assert_int_not_equal(sql_migrate(c, migs, 3, "test"), 0);
	assert_int_equal(sql_schema_version(c, &v), 0);
	assert_int_equal(v, 2);
	assert_int_not_equal(sql_exec(c, "SELECT count(*) FROM later"), 0);
	/* A binary that knows fewer migrations refuses the newer database. */
	assert_int_equal(open_conn(&d), 0);
	assert_int_equal(sql_migrate(d, migs, 1, "test"), INLET_EDB);
	sql_close(d);
	assert_false(sql_in_tx(c));
}

struct migrator {
	int rc;
};

static void *migrate_thread(void *arg)
{
	struct migrator *m = arg;
	struct sql_conn *c = NULL;

	m->rc = open_conn(&c);
	if (!m->rc)
		m->rc = sql_migrate(c, migs, 2, "test");
	sql_close(c);
	return NULL;
}

/* Processes starting together migrate one after the other: each step is
 * applied once (the seed row once), and nobody fails. */
static void t_migrate_concurrent(void **state)
{
	struct migrator m[4] = { 0 };
	pthread_t th[4];
	int v = -1;

	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, migrate_thread, &m[i]), 0);
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(m[i].rc, 0);
	}
	assert_int_equal(sql_schema_version(*state, &v), 0);
	assert_int_equal(v, 2);
	assert_int_equal(one(*state, "SELECT count(*) FROM m"), 1);
}

/* ---- the dialect --------------------------------------------------------- */

struct rewrite_case {
	const char *in, *out;
	int nparams;
};

static const struct rewrite_case rewrites[] = {
	{ "SELECT ?, ?3, ?", "SELECT $1, $3, $4", 4 },
	{ "SELECT '?', \"a?\", ? -- ?\n", "SELECT '?', \"a?\", $1 -- ?\n", 1 },
	{ "SELECT 'it''s ?', ?2", "SELECT 'it''s ?', $2", 2 },
	{ "CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB, r REAL) WITHOUT ROWID;",
	  "CREATE TABLE t(id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, b BYTEA,"
	  " r DOUBLE PRECISION) ;", 0 },
	{ "CREATE TABLE j(id integer primary key autoincrement, n INTEGER NOT NULL)",
	  "CREATE TABLE j(id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, n BIGINT NOT NULL)", 0 },
	{ "INSERT OR IGNORE INTO s(a,b) VALUES(?,?)",
	  "INSERT INTO s(a,b) VALUES($1,$2) ON CONFLICT DO NOTHING", 2 },
	{ "INSERT OR IGNORE INTO s(a) VALUES(1) RETURNING a; SELECT 1",
	  "INSERT INTO s(a) VALUES(1) ON CONFLICT DO NOTHING RETURNING a; SELECT 1", 0 },
	{ "INSERT OR IGNORE INTO s(a) VALUES(1);INSERT INTO s(a) VALUES(2)",
	  "INSERT INTO s(a) VALUES(1) ON CONFLICT DO NOTHING;INSERT INTO s(a) VALUES(2)", 0 },
	{ "UPDATE i SET last=max(last, ?2), first=MIN(first,?3), n=(SELECT max(x) FROM y)",
	  "UPDATE i SET last=GREATEST(last, $2), first=LEAST(first,$3), n=(SELECT max(x) FROM y)", 3 },
	{ "SELECT max(coalesce(a, 1), b), min(f(a, b))",
	  "SELECT GREATEST(coalesce(a, 1), b), min(f(a, b))", 0 },
	{ "SELECT ifnull(a, 0), instr(e, ?)", "SELECT COALESCE(a, 0), STRPOS(e, $1)", 1 },
	{ "WHERE a IS ? AND b IS NOT ?2 AND c IS NULL AND d IS NOT NULL AND e IS NOT DISTINCT FROM f",
	  "WHERE a IS NOT DISTINCT FROM $1 AND b IS DISTINCT FROM $2 AND c IS NULL AND d IS NOT NULL"
	  " AND e IS NOT DISTINCT FROM f", 2 },
	{ "WHERE a == 1 AND b LIKE 'x%'", "WHERE a = 1 AND b ILIKE 'x%'", 0 },
	{ "BEGIN IMMEDIATE", "BEGIN", 0 },
	{ "email TEXT NOT NULL COLLATE NOCASE", "email TEXT NOT NULL COLLATE NOCASE", 0 },
	{ "SELECT excluded.total, t.max, \"integer\" FROM t", "SELECT excluded.total, t.max, \"integer\" FROM t", 0 },
	{ "SELECT 1.5e3, x1", "SELECT 1.5e3, x1", 0 },
	{ "DEFAULT x'00ff', X'', x 'a'", "DEFAULT '\\x00ff'::bytea, '\\x'::bytea, x 'a'", 0 },
	/* upserts: bare columns in DO UPDATE mean the stored row */
	{ "INSERT INTO c(e,total) VALUES(?1,?2) ON CONFLICT(e) DO UPDATE SET total=total+?2 RETURNING total",
	  "INSERT INTO c(e,total) VALUES($1,$2) ON CONFLICT(e) DO UPDATE SET total=c.total+$2 RETURNING total", 2 },
	{ "INSERT INTO s(name,lane,p,nx) VALUES(?1,?2,?3,?4) ON CONFLICT(name) DO UPDATE SET"
	  " lane=excluded.lane, nx=CASE WHEN p=excluded.p THEN nx ELSE excluded.nx END,p=excluded.p"
	  " WHERE lane <> 'x' AND max(p, 1) > 0",
	  "INSERT INTO s(name,lane,p,nx) VALUES($1,$2,$3,$4) ON CONFLICT(name) DO UPDATE SET"
	  " lane=excluded.lane, nx=CASE WHEN s.p=excluded.p THEN s.nx ELSE excluded.nx END,p=excluded.p"
	  " WHERE s.lane <> 'x' AND GREATEST(s.p, 1) > 0", 4 },
	{ "INSERT INTO h AS x(k,n) VALUES(1,1) ON CONFLICT(k) DO UPDATE SET n=n+1; UPDATE h SET n=n+1",
	  "INSERT INTO h AS x(k,n) VALUES(1,1) ON CONFLICT(k) DO UPDATE SET n=x.n+1; UPDATE h SET n=n+1", 0 },
	{ "INSERT OR IGNORE INTO d(day) VALUES(?) ON CONFLICT(day) DO NOTHING",
	  "INSERT INTO d(day) VALUES($1) ON CONFLICT(day) DO NOTHING ON CONFLICT DO NOTHING", 1 },
};

static const char *const refused[] = {
	"INSERT OR REPLACE INTO t VALUES(1)",
	"REPLACE INTO t VALUES(1)",
	"PRAGMA user_version",
	"SELECT rowid FROM t",
	"DELETE FROM t WHERE t.rowid IN (1)",
	"CREATE VIRTUAL TABLE f USING fts5(x)",
	"SELECT * FROM f WHERE f MATCH ?",
	"CREATE TRIGGER x AFTER INSERT ON t BEGIN SELECT 1; END",
	"SELECT json_extract(s, '$.a')",
	"SELECT julianday('now')",
	"SELECT * FROM t WHERE a = :name",
	"SELECT 'open",
	"SELECT (1",
	"SELECT x GLOB 'a*'",
	"INSERT INTO t(a) VALUES(1) ON CONFLICT(a) DO UPDATE SET a=(SELECT max(b) FROM u)",
};

static void t_dialect_text(void **state)
{
	char why[200];

	(void)state;
	for (size_t i = 0; i < sizeof(rewrites) / sizeof(*rewrites); i++) {
		char *out = NULL;
		int n = -1;

		assert_int_equal(sql_dialect_rewrite(rewrites[i].in, &out, &n, why, sizeof(why)), 0);
		if (strcmp(out, rewrites[i].out) != 0)
			fprintf(stderr, "rewrite %zu:\n  in:   %s\n  got:  %s\n  want: %s\n", i, rewrites[i].in,
				out, rewrites[i].out);
		assert_string_equal(out, rewrites[i].out);
		assert_int_equal(n, rewrites[i].nparams);
		free(out);
	}
	for (size_t i = 0; i < sizeof(refused) / sizeof(*refused); i++) {
		char *out = (char *)"unchanged";
		int n;

		why[0] = '\0';
		assert_int_equal(sql_dialect_rewrite(refused[i], &out, &n, why, sizeof(why)), INLET_EINVAL);
		assert_null(out);
		assert_true(strlen(why) > 0);
	}
}

/* The same schema and queries answer the same on both engines. */
static void t_dialect_live(void **state)
{
	struct sql_conn *c = *state;
	struct sql_stmt *st = NULL;

	/* COLLATE NOCASE needs the collation sql_migrate makes on PostgreSQL. */
	assert_int_equal(sql_migrate(c, NULL, 0, "test"), 0);
	exec_ok(c, "CREATE TABLE u(id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE COLLATE NOCASE,"
		   " a INTEGER, b INTEGER, note TEXT, raw BLOB NOT NULL DEFAULT x'00ff01');"
		   "CREATE TABLE h(k INTEGER NOT NULL, hour INTEGER NOT NULL, n INTEGER NOT NULL,"
		   " PRIMARY KEY(k, hour)) WITHOUT ROWID;");
	exec_ok(c, "INSERT INTO u(email,a,b,note) VALUES('Ann@Example.org', 5, 9, 'Hello'),"
		   " ('bob@example.org', 7, 2, NULL)");
	assert_int_equal(sql_exec(c, "INSERT INTO u(email) VALUES('ANN@example.ORG')"), INLET_EEXISTS);
	assert_int_equal(one(c, "SELECT id FROM u WHERE email='ann@EXAMPLE.org' COLLATE NOCASE"), 1);
	assert_int_equal(one(c, "SELECT sum(max(a, b)) FROM u"), 9 + 7);
	assert_int_equal(one(c, "SELECT sum(min(a, b)) FROM u"), 5 + 2);
	assert_int_equal(one(c, "SELECT max(a) FROM u"), 7);
	assert_int_equal(one(c, "SELECT ifnull(note, 'x') = 'x' FROM u WHERE id = 2"), 1);
	assert_int_equal(one(c, "SELECT instr(note, 'llo') FROM u WHERE id = 1"), 3);
	assert_int_equal(one(c, "SELECT count(*) FROM u WHERE note LIKE 'hel%'"), 1);
	assert_int_equal(one(c, "SELECT length(raw) FROM u WHERE id = 2"), 3);
	assert_int_equal(one(c, "SELECT count(*) FROM u WHERE raw = x'00FF01'"), 2);
	assert_int_equal(sql_prepare(c, "UPDATE u SET raw = ? WHERE id = 1", &st), 0);
	assert_int_equal(sql_bind_blob(st, 1, "\0\xff", 2), 0);
	assert_int_equal(sql_step(st), SQL_DONE);
	sql_finalize(st);
	assert_int_equal(one(c, "SELECT length(raw) FROM u WHERE id = 1"), 2);

	/* IS with a parameter matches NULL as a value. */
	assert_int_equal(sql_prepare(c, "SELECT count(*) FROM u WHERE note IS ?", &st), 0);
	sql_bind_null(st, 1);
	assert_int_equal(sql_step(st), SQL_ROW);
	assert_int_equal(sql_column_int64(st, 0), 1);
	sql_finalize(st);

	/* INSERT OR IGNORE, then an upsert both engines take as written. */
	assert_int_equal(sql_prepare(c, "INSERT OR IGNORE INTO h(k,hour,n) VALUES(?,?,1)", &st), 0);
	for (int i = 0; i < 2; i++) {
		sql_bind_int64(st, 1, 1);
		sql_bind_int64(st, 2, 100);
		assert_int_equal(sql_step(st), SQL_DONE);
		assert_int_equal(sql_changes(st), i == 0 ? 1 : 0);
		sql_reset(st);
	}
	sql_finalize(st);
	assert_int_equal(sql_prepare(c, "INSERT INTO h(k,hour,n) VALUES(?1,?2,?3)"
				     " ON CONFLICT(k,hour) DO UPDATE SET n=n+excluded.n RETURNING n", &st), 0);
	sql_bind_int64(st, 1, 1);
	sql_bind_int64(st, 2, 100);
	sql_bind_int64(st, 3, 41);
	assert_int_equal(sql_step(st), SQL_ROW);
	assert_int_equal(sql_column_int64(st, 0), 42);
	sql_finalize(st);
	/* A comparison reads as 1 or 0 on both. */
	assert_int_equal(sql_prepare(c, "SELECT n > 40, n < 40 FROM h", &st), 0);
	assert_int_equal(sql_step(st), SQL_ROW);
	assert_int_equal(sql_column_int64(st, 0), 1);
	assert_string_equal(sql_column_text(st, 1, NULL), "0");
	sql_finalize(st);
}

#define CASES(X)                                                                  \
	X(t_types) X(t_placeholders) X(t_constraints) X(t_transactions) X(t_returning) \
	X(t_pool_threads) X(t_pool_bounded) X(t_reconnect) X(t_schemas) X(t_migrate)  \
	X(t_migrate_concurrent) X(t_dialect_live)

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown),
	const struct CMUnitTest tests[] = { CASES(T) };
#undef T
	const struct CMUnitTest text[] = { cmocka_unit_test(t_dialect_text) };
	const char *url = getenv("INLET_TEST_DATABASE_URL");
	char cmd[300];
	int failed = 0;

	failed += cmocka_run_group_tests_name("sql_dialect", text, NULL, NULL);

	snprintf(dir, sizeof(dir), "/tmp/inlet-sql-XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	pg = 0;
	failed += cmocka_run_group_tests_name("sql_sqlite", tests, NULL, NULL);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		failed++;

	if (url && *url) {
		target = url;
		pg = 1;
		failed += cmocka_run_group_tests_name("sql_postgres", tests, NULL, NULL);
	}
	return failed ? 1 : 0;
}
