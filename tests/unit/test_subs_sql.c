/* The submission store (store/subs.c) on store/sql.h through its public
 * calls: open and migrate (twice), inserts with their outbox rows, reads by
 * id and by keyset pages (newest or oldest first, status filter, id
 * bounds), status changes, deletes, endpoint purges, what retention and
 * the trash let go, the outbox read and drained by the ids read, counts and
 * the newest id, and a batch in which one insert fails while the rest
 * commit. Every case runs on a fresh SQLite file, and again on PostgreSQL
 * (a fresh schema each, the migrations through sql_migrate and the dialect
 * rewriter) when INLET_TEST_DATABASE_URL is set, as tests/e2e/
 * subs_pg.test.mjs does with a throwaway server.
 *
 * INLET_TEST_OLD_SUBS_DB may name a SQLite store made by the code before
 * the port: t_old_file then opens a copy of it and reads it unchanged. */
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

#include "core/arena.h"
#include "core/enc.h"
#include "core/err.h"
#include "store/sql.h"
#include "store/subs.h"

#include "engines.h"

static int setup(void **state)
{
	(void)state;
	return engine_setup("s", "shared.db");
}

static int teardown(void **state)
{
	(void)state;
	return engine_teardown();
}

static struct substore *open_store(void)
{
	struct substore *s = NULL;

	assert_int_equal(pg ? substore_open_target(&s, url, schema, "subs") : substore_open_target(&s, path, NULL, "subs"),
			 0);
	assert_non_null(s);
	return s;
}

/* A plain connection to the store's database, for looking at it. */
static struct sql_conn *raw_conn(void)
{
	struct sql_conn *c = NULL;

	assert_int_equal(sql_open(pg ? url : path, 0, &c), 0);
	if (pg)
		assert_int_equal(sql_set_schema(c, schema), 0);
	return c;
}

/* The one integer text selects (no parameters). */
static int64_t raw_int(const char *text)
{
	struct sql_conn *c = raw_conn();
	struct sql_stmt *st;
	int64_t v;

	if (sql_prepare(c, text, &st))
		fail_msg("%s: %s", text, sql_errmsg(c));
	assert_int_equal(sql_step(st), SQL_ROW);
	v = sql_column_int64(st, 0);
	sql_finalize(st);
	sql_close(c);
	return v;
}

/* ---- inserts, waited for ---------------------------------------------------- */

struct waiter {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int left;
	int rc[64];
};

struct slot {
	struct waiter *w;
	int i;
};

static void on_done(void *ctx, int rc)
{
	struct slot *sl = ctx;

	pthread_mutex_lock(&sl->w->lock);
	sl->w->rc[sl->i] = rc;
	sl->w->left--;
	pthread_cond_signal(&sl->w->cond);
	pthread_mutex_unlock(&sl->w->lock);
}

static struct sub_row mkrow(int64_t id, int64_t endpoint, int status, int outbox)
{
	static char body[64][32];
	static int next;
	char *b = body[next++ % 64];
	struct sub_row r = { .id = id, .endpoint_id = endpoint, .status = status, .key_version = 3,
			     .nfiles = (int)(id & 3), .outbox = outbox };

	snprintf(b, 32, "sealed-%lld", (long long)id);
	r.sealed = (const uint8_t *)b;
	r.sealed_len = strlen(b);
	return r;
}

/* Submits n rows at once (so the writer may take them as one batch) and
 * waits for all; their results go to rcs. */
static void insert_many(struct substore *s, const struct sub_row *rows, int n, int *rcs)
{
	struct waiter w = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, n, { 0 } };
	struct slot sl[64];

	assert_true(n <= 64);
	for (int i = 0; i < n; i++) {
		sl[i] = (struct slot){ &w, i };
		substore_insert(s, &rows[i], on_done, &sl[i]);
	}
	pthread_mutex_lock(&w.lock);
	while (w.left)
		pthread_cond_wait(&w.cond, &w.lock);
	pthread_mutex_unlock(&w.lock);
	memcpy(rcs, w.rc, (size_t)n * sizeof(*rcs));
}

static int insert_one(struct substore *s, struct sub_row r)
{
	int rc;

	insert_many(s, &r, 1, &rc);
	return rc;
}

/* ---- cases ------------------------------------------------------------------ */

static void t_migrate(void **state)
{
	struct substore *s;
	struct sql_conn *c;
	int v = -1;

	(void)state;
	s = open_store();
	substore_close(s);
	s = open_store(); /* again: nothing left to do */
	substore_close(s);
	c = raw_conn();
	assert_int_equal(sql_schema_version(c, &v), 0);
	assert_int_equal(v, 5);
	sql_close(c);
	if (pg) {
		/* Migration 3's own PostgreSQL text: a GIN index, no FTS5. */
		assert_int_equal(raw_int("SELECT count(*) FROM pg_indexes WHERE schemaname=current_schema()"
					 " AND indexname='issues_search'"),
				 1);
		assert_int_equal(raw_int("SELECT count(*) FROM pg_class WHERE relname='issues_fts'"), 0);
		assert_int_equal(raw_int("SELECT max(version) FROM schema_migrations"), 5);
	} else {
		assert_int_equal(raw_int("PRAGMA user_version"), 5);
		assert_int_equal(raw_int("SELECT count(*) FROM sqlite_master WHERE name='issues_fts'"
					 " OR name LIKE 'issues_fts_a_'"),
				 4);
	}
	/* A schema on a SQLite file is refused. */
	if (!pg)
		assert_int_equal(substore_open_target(&s, path, "x", "subs"), INLET_EINVAL);
}

static void t_insert_list(void **state)
{
	struct substore *s = open_store();
	struct arena *a = arena_create(1 << 14);
	struct sub_row *rows, one;
	int64_t ids[20];
	size_t n;
	int rcs[20];
	struct sub_row in[20];

	(void)state;
	for (int i = 0; i < 20; i++) {
		ids[i] = sub_id_next();
		in[i] = mkrow(ids[i], 11, i % 4 == 0 ? SUB_SPAM : SUB_INBOX, 0);
	}
	insert_many(s, in, 20, rcs);
	for (int i = 0; i < 20; i++)
		assert_int_equal(rcs[i], 0);
	assert_int_equal(insert_one(s, mkrow(sub_id_next(), 12, SUB_INBOX, 0)), 0);

	/* get: the row as stored, only under its own endpoint */
	assert_int_equal(substore_get(s, 11, ids[5], a, &one), 0);
	assert_int_equal(one.id, ids[5]);
	assert_int_equal(one.endpoint_id, 11);
	assert_int_equal(one.status, SUB_INBOX);
	assert_int_equal(one.key_version, 3);
	assert_int_equal(one.nfiles, (int)(ids[5] & 3));
	assert_int_equal(one.sealed_len, in[5].sealed_len);
	{
		char want[32];

		snprintf(want, sizeof(want), "sealed-%lld", (long long)ids[5]);
		assert_memory_equal(one.sealed, want, strlen(want));
	}
	assert_int_equal(substore_get(s, 12, ids[5], a, &one), INLET_ENOTFOUND);
	assert_int_equal(substore_get(s, 11, 12345, a, &one), INLET_ENOTFOUND);

	/* newest first, keyset pages of 6: 6 + 6 + 6 + 2 */
	{
		struct sub_query q = { .endpoint_id = 11, .status = -1, .limit = 6 };
		int seen = 0;

		for (;;) {
			assert_int_equal(substore_list(s, &q, a, &rows, &n), 0);
			for (size_t i = 0; i < n; i++)
				assert_int_equal(rows[i].id, ids[19 - seen - (int)i]);
			seen += (int)n;
			if (n < q.limit)
				break;
			q.before_id = rows[n - 1].id;
		}
		assert_int_equal(seen, 20);
	}
	/* status filter: the five spam rows, newest first */
	{
		struct sub_query q = { .endpoint_id = 11, .status = SUB_SPAM, .limit = 50 };

		assert_int_equal(substore_list(s, &q, a, &rows, &n), 0);
		assert_int_equal(n, 5);
		assert_int_equal(rows[0].id, ids[16]);
		assert_int_equal(rows[4].id, ids[0]);
		q.status = SUB_TRASH;
		assert_int_equal(substore_list(s, &q, a, &rows, &n), 0);
		assert_int_equal(n, 0);
	}
	/* oldest first, paging on with min_id = last + 1 */
	{
		struct sub_query q = { .endpoint_id = 11, .status = -1, .limit = 7, .oldest_first = 1 };
		int seen = 0;

		for (;;) {
			assert_int_equal(substore_list(s, &q, a, &rows, &n), 0);
			for (size_t i = 0; i < n; i++)
				assert_int_equal(rows[i].id, ids[seen + (int)i]);
			seen += (int)n;
			if (n < q.limit)
				break;
			q.min_id = rows[n - 1].id + 1;
		}
		assert_int_equal(seen, 20);
	}
	/* id bounds: [ids[3], ids[9]) both ways; before_id inside them */
	{
		struct sub_query q = { .endpoint_id = 11, .status = -1, .limit = 50, .min_id = ids[3],
				       .max_id = ids[9] };

		assert_int_equal(substore_list(s, &q, a, &rows, &n), 0);
		assert_int_equal(n, 6);
		assert_int_equal(rows[0].id, ids[8]);
		assert_int_equal(rows[5].id, ids[3]);
		q.before_id = ids[6];
		assert_int_equal(substore_list(s, &q, a, &rows, &n), 0);
		assert_int_equal(n, 3);
		assert_int_equal(rows[0].id, ids[5]);
		q.before_id = 0;
		q.oldest_first = 1;
		assert_int_equal(substore_list(s, &q, a, &rows, &n), 0);
		assert_int_equal(n, 6);
		assert_int_equal(rows[0].id, ids[3]);
		assert_int_equal(rows[5].id, ids[8]);
	}
	arena_destroy(a);
	substore_close(s);
}

static void t_modify(void **state)
{
	struct substore *s = open_store();
	struct arena *a = arena_create(1 << 12);
	struct sub_row one, in[4];
	int64_t ids[4], count;
	int rcs[4];

	(void)state;
	for (int i = 0; i < 4; i++)
		in[i] = mkrow(ids[i] = sub_id_next(), i < 3 ? 21 : 22, SUB_INBOX, 0);
	insert_many(s, in, 4, rcs);
	assert_int_equal(substore_count(s, 21, &count), 0);
	assert_int_equal(count, 3);

	assert_int_equal(substore_set_status(s, 21, ids[0], SUB_SPAM), 0);
	assert_int_equal(substore_get(s, 21, ids[0], a, &one), 0);
	assert_int_equal(one.status, SUB_SPAM);
	assert_int_equal(substore_set_status(s, 22, ids[0], SUB_SPAM), INLET_ENOTFOUND);
	assert_int_equal(substore_set_status(s, 21, 999, SUB_SPAM), INLET_ENOTFOUND);

	assert_int_equal(substore_delete(s, 21, ids[1]), 0);
	assert_int_equal(substore_delete(s, 21, ids[1]), INLET_ENOTFOUND);
	assert_int_equal(substore_delete(s, 22, ids[2]), INLET_ENOTFOUND);
	assert_int_equal(substore_get(s, 21, ids[1], a, &one), INLET_ENOTFOUND);
	assert_int_equal(substore_count(s, 21, &count), 0);
	assert_int_equal(count, 2);

	assert_int_equal(substore_delete_endpoint(s, 21), 0);
	assert_int_equal(substore_count(s, 21, &count), 0);
	assert_int_equal(count, 0);
	assert_int_equal(substore_get(s, 21, ids[0], a, &one), INLET_ENOTFOUND);
	assert_int_equal(substore_get(s, 21, ids[2], a, &one), INLET_ENOTFOUND);
	/* the other endpoint is untouched */
	assert_int_equal(substore_get(s, 22, ids[3], a, &one), 0);
	assert_int_equal(substore_count(s, 22, &count), 0);
	assert_int_equal(count, 1);
	arena_destroy(a);
	substore_close(s);
}

static void t_expired(void **state)
{
	struct substore *s = open_store();
	struct arena *a = arena_create(1 << 12);
	struct sub_row *rows;
	int64_t now = now_ms(), day = 86400000;
	/* two old rows (40 and 35 days), an old row already in the trash
	 * (status_ms 0: its own time counts), a new one put in the trash now,
	 * a new inbox row */
	int64_t old1 = (now - 40 * day) << 20, old2 = (now - 35 * day) << 20;
	int64_t oldtrash = (now - 31 * day) << 20, fresh = sub_id_next(), newtrash = sub_id_next();
	struct sub_row in[5] = { mkrow(old1, 31, SUB_INBOX, 0), mkrow(old2, 31, SUB_INBOX, 0),
				 mkrow(oldtrash, 31, SUB_TRASH, 0), mkrow(fresh, 31, SUB_INBOX, 0),
				 mkrow(newtrash, 31, SUB_INBOX, 0) };
	int rcs[5];
	size_t n;
	int64_t got[8];

	(void)state;
	insert_many(s, in, 5, rcs);
	for (int i = 0; i < 5; i++)
		assert_int_equal(rcs[i], 0);
	assert_int_equal(substore_set_status(s, 31, newtrash, SUB_TRASH), 0);

	/* retention of 36 days, trash of 30: old1, and the old trash row */
	assert_int_equal(substore_expired(s, 31, (now - 36 * day) << 20, now - 30 * day, 10, a, &rows, &n), 0);
	assert_int_equal(n, 2);
	for (size_t i = 0; i < n; i++) {
		got[i] = rows[i].id;
		assert_int_equal(rows[i].endpoint_id, 31);
	}
	assert_true((got[0] == old1 && got[1] == oldtrash) || (got[1] == old1 && got[0] == oldtrash));
	/* no retention, trash from a second ago: both trash rows */
	assert_int_equal(substore_expired(s, 31, 0, now_ms() + 1000, 10, a, &rows, &n), 0);
	assert_int_equal(n, 2);
	assert_true((rows[0].id == oldtrash && rows[1].id == newtrash) ||
		    (rows[1].id == oldtrash && rows[0].id == newtrash));
	/* the limit holds; another endpoint has nothing */
	assert_int_equal(substore_expired(s, 31, fresh + 1, now_ms() + 1000, 3, a, &rows, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(substore_expired(s, 32, fresh + 1, now_ms() + 1000, 10, a, &rows, &n), 0);
	assert_int_equal(n, 0);
	arena_destroy(a);
	substore_close(s);
}

static void t_outbox(void **state)
{
	struct substore *s = open_store();
	struct arena *a = arena_create(1 << 12);
	struct outbox_row *o;
	struct sub_row in[6];
	int64_t ids[6], done[3];
	int rcs[6];
	size_t n;

	(void)state;
	for (int i = 0; i < 6; i++)
		in[i] = mkrow(ids[i] = sub_id_next(), 41, SUB_INBOX, i != 5); /* the last: no outbox */
	insert_many(s, in, 6, rcs);
	assert_int_equal(substore_outbox_read(s, 2, a, &o, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(substore_outbox_read(s, 100, a, &o, &n), 0);
	assert_int_equal(n, 5);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(o[i].ref, ids[i]);
		assert_int_equal(o[i].endpoint_id, 41);
		assert_string_equal(o[i].event, "submission.created");
		assert_true(o[i].created_ms > 0);
		if (i)
			assert_true(o[i].id > o[i - 1].id);
	}
	/* Only the ids named go: the first, third and fifth. */
	done[0] = o[0].id;
	done[1] = o[2].id;
	done[2] = o[4].id;
	assert_int_equal(substore_outbox_done(s, done, 3), 0);
	assert_int_equal(substore_outbox_done(s, done, 0), 0);
	assert_int_equal(substore_outbox_read(s, 100, a, &o, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(o[0].ref, ids[1]);
	assert_int_equal(o[1].ref, ids[3]);
	/* done twice is harmless (a drain repeated after a crash) */
	assert_int_equal(substore_outbox_done(s, done, 3), 0);
	done[0] = o[0].id;
	done[1] = o[1].id;
	assert_int_equal(substore_outbox_done(s, done, 2), 0);
	assert_int_equal(substore_outbox_read(s, 100, a, &o, &n), 0);
	assert_int_equal(n, 0);
	arena_destroy(a);
	substore_close(s);
}

static void t_count_last(void **state)
{
	struct substore *s = open_store();
	int64_t count = -1, last = -1, ids[3];
	struct sub_row in[3];
	int rcs[3];

	(void)state;
	assert_int_equal(substore_count(s, 51, &count), 0);
	assert_int_equal(count, 0);
	assert_int_equal(substore_last(s, 51, &last), 0);
	assert_int_equal(last, 0);
	for (int i = 0; i < 3; i++)
		in[i] = mkrow(ids[i] = sub_id_next(), 51, SUB_INBOX, 0);
	insert_many(s, in, 3, rcs);
	assert_int_equal(insert_one(s, mkrow(sub_id_next(), 52, SUB_INBOX, 0)), 0);
	assert_int_equal(substore_count(s, 51, &count), 0);
	assert_int_equal(count, 3);
	assert_int_equal(substore_last(s, 51, &last), 0);
	assert_int_equal(last, ids[2]);
	assert_int_equal(sub_id_ms(last), ids[2] >> 20);
	assert_int_equal(substore_delete(s, 51, ids[2]), 0);
	assert_int_equal(substore_count(s, 51, &count), 0);
	assert_int_equal(count, 2);
	assert_int_equal(substore_last(s, 51, &last), 0);
	assert_int_equal(last, ids[1]);
	/* Counts are upserts that add: a second store on the same database
	 * (another node's writer) adds to the same row. */
	{
		struct substore *s2 = open_store();

		assert_int_equal(insert_one(s2, mkrow(sub_id_next(), 51, SUB_INBOX, 0)), 0);
		assert_int_equal(insert_one(s, mkrow(sub_id_next(), 51, SUB_INBOX, 0)), 0);
		assert_int_equal(substore_count(s2, 51, &count), 0);
		assert_int_equal(count, 4);
		substore_close(s2);
	}
	substore_close(s);
}

/* Several inserts submitted at once, so the writer takes them in one
 * batch (or a few): one repeats a committed id, two share a new one. Those
 * fail with INLET_EEXISTS; the rest, before and after them, commit. */
static void t_batch_failure(void **state)
{
	struct substore *s = open_store();
	struct arena *a = arena_create(1 << 14);
	struct sub_row in[40], *rows;
	int64_t first = sub_id_next(), count;
	int rcs[40], failed = 0;
	size_t n;
	struct outbox_row *o;

	(void)state;
	assert_int_equal(insert_one(s, mkrow(first, 61, SUB_INBOX, 1)), 0);
	for (int i = 0; i < 40; i++)
		in[i] = mkrow(sub_id_next(), 61, SUB_INBOX, 1);
	in[10].id = first;
	in[21].id = in[20].id;
	insert_many(s, in, 40, rcs);
	for (int i = 0; i < 40; i++) {
		if (i == 10 || i == 21)
			assert_int_equal(rcs[i], INLET_EEXISTS);
		else
			assert_int_equal(rcs[i], 0);
		failed += rcs[i] != 0;
	}
	assert_int_equal(failed, 2);
	/* 1 + 38 rows, each with its count and outbox row, nothing for the
	 * failed ones */
	assert_int_equal(substore_count(s, 61, &count), 0);
	assert_int_equal(count, 39);
	{
		struct sub_query q = { .endpoint_id = 61, .status = -1, .limit = 100 };

		assert_int_equal(substore_list(s, &q, a, &rows, &n), 0);
		assert_int_equal(n, 39);
	}
	assert_int_equal(substore_outbox_read(s, 100, a, &o, &n), 0);
	assert_int_equal(n, 39);
	/* and the store goes on */
	assert_int_equal(insert_one(s, mkrow(sub_id_next(), 61, SUB_INBOX, 0)), 0);
	assert_int_equal(substore_count(s, 61, &count), 0);
	assert_int_equal(count, 40);
	arena_destroy(a);
	substore_close(s);
}

/* A store made before the port (SQLite): opens without migrating and
 * reads as it did. Needs INLET_TEST_OLD_SUBS_DB (see the top). */
static void t_old_file(void **state)
{
	const char *old = getenv("INLET_TEST_OLD_SUBS_DB");
	struct substore *s;
	struct arena *a;
	struct sub_row *rows;
	struct outbox_row *o;
	char cmd[700];
	int64_t count, before_ver;
	size_t n;
	struct sub_query q = { .endpoint_id = 7, .status = -1, .limit = 100 };

	(void)state;
	if (pg || !old || !*old)
		skip();
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", old, path);
	assert_int_equal(system(cmd), 0);
	before_ver = raw_int("PRAGMA user_version");
	assert_int_equal(before_ver, 5);
	a = arena_create(1 << 12);
	s = open_store();
	assert_int_equal(substore_count(s, 7, &count), 0);
	assert_int_equal(count, 10);
	assert_int_equal(substore_list(s, &q, a, &rows, &n), 0);
	assert_int_equal(n, 10);
	assert_int_equal(rows[0].status, SUB_TRASH);
	assert_int_equal(rows[0].sealed_len, 4);
	assert_int_equal(substore_outbox_read(s, 100, a, &o, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(insert_one(s, mkrow(sub_id_next(), 7, SUB_INBOX, 1)), 0);
	assert_int_equal(substore_count(s, 7, &count), 0);
	assert_int_equal(count, 11);
	substore_close(s);
	assert_int_equal(raw_int("PRAGMA user_version"), 5);
	arena_destroy(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(t_migrate, setup, teardown),
		cmocka_unit_test_setup_teardown(t_insert_list, setup, teardown),
		cmocka_unit_test_setup_teardown(t_modify, setup, teardown),
		cmocka_unit_test_setup_teardown(t_expired, setup, teardown),
		cmocka_unit_test_setup_teardown(t_outbox, setup, teardown),
		cmocka_unit_test_setup_teardown(t_count_last, setup, teardown),
		cmocka_unit_test_setup_teardown(t_batch_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(t_old_file, setup, teardown),
	};
	int failed;

	url = getenv("INLET_TEST_DATABASE_URL");
	pg = 0;
	failed = cmocka_run_group_tests_name("subs_sql_sqlite", tests, NULL, NULL);
	if (url && *url) {
		pg = 1;
		failed += cmocka_run_group_tests_name("subs_sql_postgres", tests, NULL, NULL);
	}
	return failed ? 1 : 0;
}
