/* The tenant store on store/sql.h through its public calls: accounts and
 * owners, API keys (auth, last use, revocation), endpoints with their key
 * versions, daily salts and the shard map (tenant.c); sessions made, found, touched, expired and
 * revoked; webhooks made, listed, changed, switched off by failures and
 * deleted, with their delivery log; invitations made, replaced, accepted
 * once and revoked; roles changed under the last-owner rule, also by
 * threads racing. Every case runs on a fresh SQLite tenant.db, and again on
 * PostgreSQL (a fresh schema each, the tenant migrations run through
 * sql_migrate and the dialect rewriter) when INLET_TEST_DATABASE_URL is
 * set, as tests/e2e/tenant_pg.test.mjs does with a throwaway server.
 * The module cases put the rows they hang from (users, accounts,
 * endpoints) in with plain SQL. */
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
#include "store/members.h"
#include "store/sessions.h"
#include "store/sql.h"
#include "store/tenant.h"
#include "store/tenant_int.h"
#include "store/webhooks.h"

#include "engines.h"


static int setup(void **state)
{
	(void)state;
	return engine_setup("t", "tenant.db");
}

static int teardown(void **state)
{
	(void)state;
	return engine_teardown();
}

static struct tenant *open_tenant(void)
{
	struct tenant *t = NULL;

	assert_int_equal(pg ? tenant_open_target(&t, url, schema) : tenant_open_target(&t, path, NULL), 0);
	assert_non_null(t);
	return t;
}

/* ---- rows put in with plain SQL ------------------------------------------- */

/* Runs text, whose parameters are ?1 and ?2 (integers), for its effect. */
static void sqlv(struct tenant *t, const char *text, int64_t p1, int64_t p2)
{
	struct sql_conn *c;
	struct sql_stmt *st;
	int rc;

	assert_int_equal(tenant_sql_get(t, &c), 0);
	if ((rc = sql_prepare(c, text, &st)))
		fail_msg("%s: %s", text, sql_errmsg(c));
	if (strstr(text, "?1"))
		sql_bind_int64(st, 1, p1);
	if (strstr(text, "?2"))
		sql_bind_int64(st, 2, p2);
	if ((rc = sql_step(st)) != SQL_DONE)
		fail_msg("%s: %d %s", text, rc, sql_errmsg(c));
	sql_finalize(st);
	tenant_sql_put(t, c);
}

static int64_t add_user(struct tenant *t, const char *email)
{
	char *pid = rand_id("usr_", 8);
	struct sql_conn *c;
	struct sql_stmt *st;
	int64_t id = 0;

	assert_int_equal(tenant_sql_get(t, &c), 0);
	assert_int_equal(sql_prepare(c, "INSERT INTO users(pid,email,password_hash,created_ms) VALUES(?,?,'x',?)"
				       " RETURNING id", &st), 0);
	sql_bind_str(st, 1, pid);
	sql_bind_str(st, 2, email);
	sql_bind_int64(st, 3, now_ms());
	assert_int_equal(sql_step(st), SQL_ROW);
	id = sql_column_int64(st, 0);
	sql_finalize(st);
	tenant_sql_put(t, c);
	free(pid);
	return id;
}

/* A new account with user as its owner (members_account_create). */
static int64_t add_account(struct tenant *t, int64_t user, const char *name)
{
	struct arena *a = arena_create(1024);
	struct account acc;
	int64_t id;

	assert_int_equal(members_account_create(t, user, name, a, &acc), 0);
	assert_true(acc.id > 0);
	assert_string_equal(acc.name, name);
	id = acc.id;
	arena_destroy(a);
	return id;
}

static int64_t add_endpoint(struct tenant *t, int64_t account)
{
	char *pid = rand_id("ep_", 8), *key = rand_id("k", 8);
	struct sql_conn *c;
	struct sql_stmt *st;
	int64_t id;

	assert_int_equal(tenant_sql_get(t, &c), 0);
	assert_int_equal(sql_prepare(c, "INSERT INTO endpoints(pid,account_id,key,kind,name,settings,key_version,"
				       "created_ms) VALUES(?,?,?,'form','f','{}',1,0) RETURNING id", &st), 0);
	sql_bind_str(st, 1, pid);
	sql_bind_int64(st, 2, account);
	sql_bind_str(st, 3, key);
	assert_int_equal(sql_step(st), SQL_ROW);
	id = sql_column_int64(st, 0);
	sql_finalize(st);
	tenant_sql_put(t, c);
	free(pid);
	free(key);
	return id;
}

static void add_member(struct tenant *t, int64_t user, int64_t account, const char *role)
{
	struct sql_conn *c;
	struct sql_stmt *st;

	assert_int_equal(tenant_sql_get(t, &c), 0);
	assert_int_equal(sql_prepare(c, "INSERT INTO memberships(user_id,account_id,role,created_ms) VALUES(?,?,?,?)",
				       &st), 0);
	sql_bind_int64(st, 1, user);
	sql_bind_int64(st, 2, account);
	sql_bind_str(st, 3, role);
	sql_bind_int64(st, 4, now_ms());
	assert_int_equal(sql_step(st), SQL_DONE);
	sql_finalize(st);
	tenant_sql_put(t, c);
}

/* ---- the schema ------------------------------------------------------------ */

static void t_schema(void **state)
{
	struct tenant *t = open_tenant();
	struct sql_conn *c;
	int v = -1;

	(void)state;
	assert_int_equal(tenant_sql_get(t, &c), 0);
	assert_int_equal(sql_schema_version(c, &v), 0);
	assert_int_equal(v, 5);
	tenant_sql_put(t, c);
	tenant_close(t);
	/* A second open finds the store migrated and changes nothing. */
	t = open_tenant();
	tenant_close(t);
	if (!pg) {
		/* The file tenant_open makes is the one the SQLite-only code made:
		 * both ways in see it. */
		struct tenant *t2 = NULL;

		assert_int_equal(tenant_open(&t, path), 0);
		assert_int_equal(tenant_open_target(&t2, path, "x"), INLET_EINVAL);
		assert_null(t2);
		tenant_close(t);
	}
}

/* ---- accounts and users (tenant.c) ------------------------------------------ */

static void t_accounts(void **state)
{
	struct tenant *t = open_tenant();
	struct arena *a = arena_create(4096);
	struct account acc, got, other;
	struct member *ms;
	size_t n;

	(void)state;
	assert_int_equal(tenant_init_owner(t, "Owner@Example.test", "hash", "Acme", a, &acc), 0);
	assert_true(acc.id > 0);
	assert_string_equal(acc.name, "Acme");
	assert_true(strncmp(acc.pid, "acc_", 4) == 0);
	assert_int_equal(tenant_account_get(t, acc.id, a, &got), 0);
	assert_string_equal(got.pid, acc.pid);
	assert_string_equal(got.name, "Acme");
	assert_int_equal(got.created_ms, acc.created_ms);
	assert_int_equal(tenant_account_by_pid(t, acc.pid, a, &got), 0);
	assert_int_equal(got.id, acc.id);
	assert_int_equal(tenant_account_get(t, acc.id + 100, a, &got), INLET_ENOTFOUND);
	assert_int_equal(tenant_account_by_pid(t, "acc_none", a, &got), INLET_ENOTFOUND);
	/* The owner is the account's one member. */
	assert_int_equal(members_list(t, acc.id, a, &ms, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(ms[0].role, "owner");
	/* The same email (in any case) again: refused, and nothing is left
	 * behind by the rolled-back transaction. */
	assert_int_equal(tenant_init_owner(t, "owner@example.TEST", "hash", "Other", a, &other), INLET_EEXISTS);
	assert_int_equal(tenant_account_get(t, acc.id + 1, a, &got), INLET_ENOTFOUND);
	/* The store still takes writes after the failure. */
	assert_int_equal(tenant_init_owner(t, "second@example.test", "hash", "Second", a, &other), 0);
	assert_true(other.id > acc.id);
	arena_destroy(a);
	tenant_close(t);
}

/* ---- API keys (tenant.c) ------------------------------------------------------ */

static void t_keys(void **state)
{
	struct tenant *t = open_tenant();
	struct arena *a = arena_create(4096);
	uint8_t h1[32], h2[32], h3[32];
	struct account acc, acc2;
	struct api_key k1, k2, *list;
	int64_t who = 0;
	size_t n;

	(void)state;
	rand_bytes(h1, 32);
	rand_bytes(h2, 32);
	rand_bytes(h3, 32);
	assert_int_equal(tenant_init_owner(t, "k@example.test", "hash", "Keys", a, &acc), 0);
	assert_int_equal(tenant_init_owner(t, "k2@example.test", "hash", "Keys2", a, &acc2), 0);
	assert_int_equal(tenant_key_create(t, acc.id, "ci", h1, "ink_abcd", a, &k1), 0);
	assert_true(k1.id > 0);
	assert_true(strncmp(k1.pid, "key_", 4) == 0);
	assert_string_equal(k1.name, "ci");
	assert_string_equal(k1.prefix, "ink_abcd");
	assert_int_equal(k1.account_id, acc.id);
	assert_int_equal(k1.last_used_ms, 0);
	assert_int_equal(k1.revoked_ms, 0);
	assert_int_equal(tenant_key_create(t, acc.id, "deploy", h2, "ink_efgh", a, &k2), 0);
	/* A token's hash is unique. */
	assert_int_equal(tenant_key_create(t, acc2.id, "dup", h1, "ink_dup", a, &k2), INLET_EEXISTS);
	assert_int_equal(tenant_key_list(t, acc.id, a, &list, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(list[0].name, "ci");
	assert_string_equal(list[1].name, "deploy");
	assert_int_equal(tenant_key_list(t, acc2.id, a, &list, &n), 0);
	assert_int_equal(n, 0);
	/* Auth finds the account and records the use (once a minute). */
	assert_int_equal(tenant_key_auth(t, h1, &who), 0);
	assert_int_equal(who, acc.id);
	assert_int_equal(tenant_key_list(t, acc.id, a, &list, &n), 0);
	assert_true(list[0].last_used_ms > 0);
	sqlv(t, "UPDATE api_keys SET last_used_ms=?2 WHERE id=?1", list[0].id, 5);
	assert_int_equal(tenant_key_auth(t, h1, &who), 0);
	assert_int_equal(tenant_key_list(t, acc.id, a, &list, &n), 0);
	assert_true(list[0].last_used_ms > 5);
	{
		int64_t before = now_ms() - 1000;

		sqlv(t, "UPDATE api_keys SET last_used_ms=?2 WHERE id=?1", list[0].id, before);
		assert_int_equal(tenant_key_auth(t, h1, &who), 0);
		assert_int_equal(tenant_key_list(t, acc.id, a, &list, &n), 0);
		assert_int_equal(list[0].last_used_ms, before); /* within the minute: not written */
	}
	assert_int_equal(tenant_key_auth(t, h3, &who), INLET_EAUTH);
	/* Revoked: by its own account only, once, and then refused. */
	assert_int_equal(tenant_key_revoke(t, acc2.id, k1.pid), INLET_ENOTFOUND);
	assert_int_equal(tenant_key_revoke(t, acc.id, k1.pid), 0);
	assert_int_equal(tenant_key_revoke(t, acc.id, k1.pid), INLET_ENOTFOUND);
	assert_int_equal(tenant_key_auth(t, h1, &who), INLET_EAUTH);
	assert_int_equal(tenant_key_auth(t, h2, &who), 0);
	assert_int_equal(tenant_key_list(t, acc.id, a, &list, &n), 0);
	assert_true(list[0].revoked_ms > 0);
	assert_int_equal(list[1].revoked_ms, 0);
	arena_destroy(a);
	tenant_close(t);
}

/* ---- endpoints and their keys (tenant.c) ------------------------------------ */

static void endpoint_fill(struct endpoint *e, int64_t account, const char *pid, const char *key,
			  const char *settings, uint8_t fill)
{
	memset(e, 0, sizeof(*e));
	e->pid = pid;
	e->account_id = account;
	e->key = key;
	e->kind = "form";
	e->name = "Contact";
	e->settings = settings;
	e->key_version = 1;
	memset(e->wrapped, fill, 60);
	e->wrapped_len = 60;
	e->location = "shared";
	e->created_ms = now_ms();
}

static void t_endpoints(void **state)
{
	struct tenant *t = open_tenant();
	struct arena *a = arena_create(8192);
	struct account acc, acc2;
	struct endpoint e1, e2, got, *list;
	struct endpoint_brief *brief;
	uint8_t w[ENDPOINT_WRAPPED_MAX], small[8];
	size_t n, wl = 0;

	(void)state;
	assert_int_equal(tenant_init_owner(t, "e@example.test", "hash", "Eps", a, &acc), 0);
	assert_int_equal(tenant_init_owner(t, "e2@example.test", "hash", "Eps2", a, &acc2), 0);
	endpoint_fill(&e1, acc.id, "ep_one", "key1", "{\"retention_days\":30}", 0xa1);
	assert_int_equal(tenant_endpoint_create(t, &e1), 0);
	assert_true(e1.id > 0);
	endpoint_fill(&e2, acc2.id, "ep_two", "key2", "{}", 0xb2);
	assert_int_equal(tenant_endpoint_create(t, &e2), 0);
	assert_true(e2.id > e1.id);
	/* A key already taken: refused, and the endpoint is not half made. */
	{
		struct endpoint dup;

		endpoint_fill(&dup, acc.id, "ep_dup", "key1", "{}", 0);
		assert_int_equal(tenant_endpoint_create(t, &dup), INLET_EEXISTS);
		assert_int_equal(tenant_endpoint_get(t, acc.id, "ep_dup", a, &got), INLET_ENOTFOUND);
	}
	assert_int_equal(tenant_endpoint_get(t, acc.id, "ep_one", a, &got), 0);
	assert_int_equal(got.id, e1.id);
	assert_string_equal(got.key, "key1");
	assert_string_equal(got.kind, "form");
	assert_string_equal(got.name, "Contact");
	assert_string_equal(got.location, "shared");
	assert_int_equal(got.key_version, 1);
	assert_int_equal(got.wrapped_len, 60);
	assert_int_equal(got.wrapped[59], 0xa1);
	assert_int_equal(got.created_ms, e1.created_ms);
	/* Scoped to its account. */
	assert_int_equal(tenant_endpoint_get(t, acc2.id, "ep_one", a, &got), INLET_ENOTFOUND);
	assert_int_equal(tenant_endpoint_by_key(t, "key2", a, &got), 0);
	assert_string_equal(got.pid, "ep_two");
	assert_int_equal(tenant_endpoint_by_key(t, "nokey", a, &got), INLET_ENOTFOUND);
	assert_int_equal(tenant_endpoint_by_id(t, e2.id, a, &got), 0);
	assert_string_equal(got.key, "key2");
	assert_int_equal(tenant_endpoint_list(t, acc.id, a, &list, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(list[0].pid, "ep_one");
	assert_int_equal(tenant_endpoint_list(t, 0, a, &list, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(list[1].pid, "ep_two");
	/* Retention read from the settings, in C. */
	assert_int_equal(tenant_endpoints_brief(t, a, &brief, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(brief[0].retention_days, 30);
	assert_string_equal(brief[0].kind, "form");
	assert_int_equal(brief[1].retention_days, 0);
	/* Updates: either field alone, by its own account only. */
	assert_int_equal(tenant_endpoint_update(t, acc.id, "ep_one", "Renamed", NULL), 0);
	assert_int_equal(tenant_endpoint_update(t, acc.id, "ep_one", NULL, "{\"retention_days\":7}"), 0);
	assert_int_equal(tenant_endpoint_update(t, acc2.id, "ep_one", "X", NULL), INLET_ENOTFOUND);
	assert_int_equal(tenant_endpoint_get(t, acc.id, "ep_one", a, &got), 0);
	assert_string_equal(got.name, "Renamed");
	assert_string_equal(got.settings, "{\"retention_days\":7}");
	assert_int_equal(tenant_endpoints_brief(t, a, &brief, &n), 0);
	assert_int_equal(brief[0].retention_days, 7);
	/* Key versions: the current one joins the endpoint, older stay readable. */
	assert_int_equal(tenant_endpoint_key(t, e1.id, 1, w, sizeof(w), &wl), 0);
	assert_int_equal(wl, 60);
	assert_int_equal(w[0], 0xa1);
	assert_int_equal(tenant_endpoint_key(t, e1.id, 1, small, sizeof(small), &wl), INLET_ETOOBIG);
	assert_int_equal(tenant_endpoint_key(t, e1.id, 2, w, sizeof(w), &wl), INLET_ENOTFOUND);
	{
		struct sql_conn *c;
		struct sql_stmt *st;
		uint8_t v2[48];

		memset(v2, 0xc3, sizeof(v2));
		assert_int_equal(tenant_sql_get(t, &c), 0);
		assert_int_equal(sql_prepare(c, "INSERT INTO endpoint_keys(endpoint_id,version,wrapped,created_ms)"
					       " VALUES(?,2,?,0)", &st), 0);
		sql_bind_int64(st, 1, e1.id);
		sql_bind_blob(st, 2, v2, sizeof(v2));
		assert_int_equal(sql_step(st), SQL_DONE);
		sql_finalize(st);
		tenant_sql_put(t, c);
	}
	sqlv(t, "UPDATE endpoints SET key_version=2 WHERE id=?1", e1.id, 0);
	assert_int_equal(tenant_endpoint_get(t, acc.id, "ep_one", a, &got), 0);
	assert_int_equal(got.key_version, 2);
	assert_int_equal(got.wrapped_len, 48);
	assert_int_equal(got.wrapped[0], 0xc3);
	assert_int_equal(tenant_endpoint_key(t, e1.id, 1, w, sizeof(w), &wl), 0);
	assert_int_equal(wl, 60);
	/* Deleted by its own account only; its keys go with it. */
	assert_int_equal(tenant_endpoint_delete(t, acc2.id, "ep_one"), INLET_ENOTFOUND);
	assert_int_equal(tenant_endpoint_delete(t, acc.id, "ep_one"), 0);
	assert_int_equal(tenant_endpoint_delete(t, acc.id, "ep_one"), INLET_ENOTFOUND);
	assert_int_equal(tenant_endpoint_get(t, acc.id, "ep_one", a, &got), INLET_ENOTFOUND);
	assert_int_equal(tenant_endpoint_key(t, e1.id, 1, w, sizeof(w), &wl), INLET_ENOTFOUND);
	arena_destroy(a);
	tenant_close(t);
}

/* ---- daily salts and the shard map (tenant.c) ------------------------------- */

static int64_t salt_days(struct tenant *t)
{
	struct sql_conn *c;
	struct sql_stmt *st;
	int64_t n;

	assert_int_equal(tenant_sql_get(t, &c), 0);
	assert_int_equal(sql_prepare(c, "SELECT count(*) FROM daily_salts", &st), 0);
	assert_int_equal(sql_step(st), SQL_ROW);
	n = sql_column_int64(st, 0);
	sql_finalize(st);
	tenant_sql_put(t, c);
	return n;
}

static void t_salts(void **state)
{
	struct tenant *t = open_tenant();
	uint8_t s1[32], s1b[32], s2[32], s3[32];

	(void)state;
	assert_int_equal(tenant_daily_salt(t, 100, s1), 0);
	assert_int_equal(tenant_daily_salt(t, 100, s1b), 0);
	assert_memory_equal(s1, s1b, 32); /* one salt per day */
	assert_int_equal(tenant_daily_salt(t, 101, s2), 0);
	assert_memory_not_equal(s1, s2, 32);
	assert_int_equal(salt_days(t), 2); /* yesterday's is kept */
	assert_int_equal(tenant_daily_salt(t, 103, s3), 0);
	assert_int_equal(salt_days(t), 1); /* older days are deleted */
	assert_int_equal(tenant_daily_salt(t, 103, s1b), 0);
	assert_memory_equal(s3, s1b, 32);
	tenant_close(t);
}

static void t_moves(void **state)
{
	struct tenant *t = open_tenant();
	struct arena *a = arena_create(4096);
	struct account acc;
	struct endpoint e, got;
	struct endpoint_location *locs;
	struct shard_move m, *ms;
	size_t n;

	(void)state;
	assert_int_equal(tenant_init_owner(t, "m@example.test", "hash", "Moves", a, &acc), 0);
	endpoint_fill(&e, acc.id, "ep_m", "keym", "{}", 1);
	assert_int_equal(tenant_endpoint_create(t, &e), 0);
	assert_int_equal(tenant_move_get(t, e.id, a, &m), INLET_ENOTFOUND);
	assert_int_equal(tenant_move_request(t, e.id), 0);
	assert_int_equal(tenant_move_get(t, e.id, a, &m), 0);
	assert_string_equal(m.state, "requested");
	assert_true(m.started_ms > 0);
	assert_int_equal(tenant_move_set(t, e.id, "copying", "ep_m.db", 5, 10), 0);
	assert_int_equal(tenant_move_request(t, e.id), 0); /* under way: kept */
	assert_int_equal(tenant_moves(t, a, &ms, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(ms[0].state, "copying");
	assert_string_equal(ms[0].target, "ep_m.db");
	assert_int_equal(ms[0].rows_copied, 5);
	assert_int_equal(ms[0].rows_total, 10);
	assert_int_equal(tenant_move_commit(t, e.id + 100, "x.db"), INLET_ENOTFOUND);
	assert_int_equal(tenant_move_commit(t, e.id, "ep_m.db"), 0);
	assert_int_equal(tenant_move_get(t, e.id, a, &m), 0);
	assert_string_equal(m.state, "cleanup");
	assert_int_equal(tenant_endpoint_by_id(t, e.id, a, &got), 0);
	assert_string_equal(got.location, "ep_m.db");
	assert_int_equal(tenant_locations(t, a, &locs, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(locs[0].pid, "ep_m");
	assert_string_equal(locs[0].location, "ep_m.db");
	assert_int_equal(tenant_move_done(t, e.id), 0);
	assert_int_equal(tenant_moves(t, a, &ms, &n), 0);
	assert_int_equal(n, 0);
	/* An endpoint moved already is not requested again. */
	assert_int_equal(tenant_move_request(t, e.id), 0);
	assert_int_equal(tenant_move_get(t, e.id, a, &m), INLET_ENOTFOUND);
	arena_destroy(a);
	tenant_close(t);
}

/* ---- sessions -------------------------------------------------------------- */

static void t_sessions(void **state)
{
	struct tenant *t = open_tenant();
	struct arena *a = arena_create(4096);
	uint8_t h1[32], h2[32], h3[32];
	struct session s, *list;
	struct membership *ms;
	struct user u;
	char *p1 = NULL, *p2 = NULL, *p3 = NULL;
	int64_t uid, other, acc, n64;
	size_t n;

	(void)state;
	assert_int_equal(sessions_user_count(t, &n64), 0);
	assert_int_equal(n64, 0);
	uid = add_user(t, "Owner@Example.test");
	other = add_user(t, "other@example.test");
	acc = add_account(t, uid, "Acme");
	assert_int_equal(sessions_user_count(t, &n64), 0);
	assert_int_equal(n64, 2);
	assert_int_equal(sessions_user_by_email(t, "owner@EXAMPLE.test", a, &u), 0);
	assert_int_equal(u.id, uid);
	assert_string_equal(u.email, "Owner@Example.test");
	assert_int_equal(sessions_user_by_email(t, "nobody@example.test", a, &u), INLET_ENOTFOUND);
	assert_int_equal(sessions_user_by_id(t, other, a, &u), 0);
	assert_string_equal(u.email, "other@example.test");
	assert_int_equal(sessions_user_by_id(t, 9999, a, &u), INLET_ENOTFOUND);
	assert_int_equal(sessions_memberships(t, uid, a, &ms, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(ms[0].account_id, acc);
	assert_string_equal(ms[0].account_name, "Acme");
	assert_string_equal(ms[0].role, "owner");
	assert_int_equal(sessions_memberships(t, other, a, &ms, &n), 0);
	assert_int_equal(n, 0);

	rand_bytes(h1, 32);
	rand_bytes(h2, 32);
	rand_bytes(h3, 32);
	assert_int_equal(sessions_create(t, uid, h1, "curl/8", &p1), 0);
	assert_int_equal(sessions_create(t, uid, h2, NULL, &p2), 0);
	assert_int_equal(sessions_create(t, other, h3, "x", &p3), 0);
	assert_int_equal(sessions_create(t, uid, h1, "again", &p3) == INLET_EEXISTS, 1); /* one hash, one session */
	assert_int_equal(sessions_get(t, h1, a, &s), 0);
	assert_string_equal(s.pid, p1);
	assert_int_equal(s.user_id, uid);
	assert_string_equal(s.user_agent, "curl/8");
	assert_true(s.expires_ms > now_ms() + SESSION_TTL_MS - 60000);
	assert_int_equal(sessions_list(t, uid, a, &list, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(list[0].pid, p2); /* newest first */
	assert_string_equal(list[0].user_agent, "");
	/* last_seen moves forward when it is over a minute old. */
	sqlv(t, "UPDATE sessions SET last_seen_ms=5 WHERE id=?1", s.id, 0);
	assert_int_equal(sessions_get(t, h1, a, &s), 0);
	assert_int_equal(sessions_get(t, h1, a, &s), 0);
	assert_true(s.last_seen_ms > now_ms() - 60000);
	/* Expired: neither found nor listed. */
	sqlv(t, "UPDATE sessions SET expires_ms=?1 WHERE id=?2", now_ms() - 1, s.id);
	assert_int_equal(sessions_get(t, h1, a, &s), INLET_ENOTFOUND);
	assert_int_equal(sessions_list(t, uid, a, &list, &n), 0);
	assert_int_equal(n, 1);
	/* Revoke: only the user's own. */
	assert_int_equal(sessions_revoke(t, other, p2), INLET_ENOTFOUND);
	assert_int_equal(sessions_revoke(t, uid, p2), 0);
	assert_int_equal(sessions_revoke(t, uid, p2), INLET_ENOTFOUND);
	assert_int_equal(sessions_get(t, h2, a, &s), INLET_ENOTFOUND);
	/* Logout by hash. */
	assert_int_equal(sessions_get(t, h3, a, &s), 0);
	assert_int_equal(sessions_delete(t, h3), 0);
	assert_int_equal(sessions_get(t, h3, a, &s), INLET_ENOTFOUND);
	assert_int_equal(sessions_delete(t, h3), 0);
	free(p1);
	free(p2);
	free(p3);
	arena_destroy(a);
	tenant_close(t);
}

/* ---- webhooks -------------------------------------------------------------- */

static void make_webhook(struct tenant *t, int64_t acc, int64_t ep, const char *pid, const char *events)
{
	static const uint8_t secret[20] = { 0, 1, 2, 3, 0, 255 };
	struct webhook w = { .account_id = acc, .endpoint_id = ep, .pid = pid, .url = "https://h.test/x",
			     .events = events, .format = "json", .secret = secret, .secret_len = sizeof(secret),
			     .key_version = 3, .enabled = 1 };

	assert_int_equal(webhooks_create(t, &w), 0);
}

static void t_webhooks(void **state)
{
	struct tenant *t = open_tenant();
	struct arena *a = arena_create(8192);
	struct webhook w, *ws;
	struct delivery d = { 0 }, *ds, dg;
	int64_t u1, u2, acc, acc2, ep, ep2, last_created = 0, last_id = INT64_MAX;
	int any, disabled;
	size_t n;

	(void)state;
	u1 = add_user(t, "a@example.test");
	u2 = add_user(t, "b@example.test");
	acc = add_account(t, u1, "A");
	acc2 = add_account(t, u2, "B");
	ep = add_endpoint(t, acc);
	ep2 = add_endpoint(t, acc2);
	assert_int_equal(webhooks_any(t, ep, &any), 0);
	assert_int_equal(any, 0);
	make_webhook(t, acc, ep, "wh_one", "[\"submission.created\"]");
	make_webhook(t, acc, ep, "wh_two", "[\"issue.created\",\"issue.reopened\"]");
	make_webhook(t, acc2, ep2, "wh_three", "[\"submission.created\"]");
	assert_int_equal(webhooks_list(t, acc, ep, a, &ws, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(ws[0].pid, "wh_one");
	assert_int_equal(ws[0].secret_len, 20);
	assert_int_equal(ws[0].secret[5], 255);
	assert_int_equal(ws[0].key_version, 3);
	assert_int_equal(ws[0].enabled, 1);
	assert_int_equal(webhooks_list(t, acc2, ep, a, &ws, &n), 0);
	assert_int_equal(n, 0);
	/* Scoped by account; 0 is the runner's "any". */
	assert_int_equal(webhooks_get(t, acc2, "wh_one", a, &w), INLET_ENOTFOUND);
	assert_int_equal(webhooks_get(t, 0, "wh_one", a, &w), 0);
	assert_int_equal(webhooks_get(t, acc, "wh_one", a, &w), 0);
	assert_int_equal(webhooks_by_id(t, w.id, a, &w), 0);
	assert_string_equal(w.url, "https://h.test/x");
	/* The event match is exact. */
	assert_int_equal(webhooks_for_event(t, ep, "submission.created", a, &ws, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(webhooks_for_event(t, ep, "issue.reopened", a, &ws, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(ws[0].pid, "wh_two");
	assert_int_equal(webhooks_for_event(t, ep, "issue", a, &ws, &n), 0);
	assert_int_equal(n, 0);
	/* Update changes what is given only. */
	assert_int_equal(webhooks_update(t, acc, "wh_one", "https://h.test/y", NULL, NULL, -1), 0);
	assert_int_equal(webhooks_get(t, acc, "wh_one", a, &w), 0);
	assert_string_equal(w.url, "https://h.test/y");
	assert_string_equal(w.events, "[\"submission.created\"]");
	assert_string_equal(w.format, "json");
	assert_int_equal(w.enabled, 1);
	assert_int_equal(webhooks_update(t, acc, "wh_one", NULL, NULL, "slack", 0), 0);
	assert_int_equal(webhooks_get(t, acc, "wh_one", a, &w), 0);
	assert_string_equal(w.format, "slack");
	assert_int_equal(w.enabled, 0);
	assert_int_equal(webhooks_for_event(t, ep, "submission.created", a, &ws, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(webhooks_update(t, acc2, "wh_one", "https://evil.test", NULL, NULL, 1), INLET_ENOTFOUND);
	assert_int_equal(webhooks_update(t, acc, "wh_one", NULL, "[\"submission.created\"]", NULL, 1), 0);

	/* Fifty straight failures switch it off, once, with the reason. */
	d.webhook_id = w.id;
	d.event = "submission.created";
	d.delivery = "dlv_1";
	d.ref = 42;
	for (int i = 1; i <= WEBHOOK_DISABLE_AFTER + 2; i++) {
		d.attempt = i;
		d.status = 500;
		d.latency_ms = i;
		d.response = "oops";
		d.error = "HTTP 500";
		assert_int_equal(webhooks_record(t, &d, 0, "too many failures", &disabled), 0);
		assert_int_equal(disabled, i == WEBHOOK_DISABLE_AFTER ? 1 : 0 + (i > WEBHOOK_DISABLE_AFTER));
	}
	assert_int_equal(webhooks_get(t, acc, "wh_one", a, &w), 0);
	assert_int_equal(w.enabled, 0);
	assert_int_equal(w.failures, WEBHOOK_DISABLE_AFTER + 2);
	assert_string_equal(w.disabled_reason, "too many failures");
	assert_int_equal(webhooks_any(t, ep, &any), 0);
	assert_int_equal(any, 1); /* wh_two */
	/* Enabling again clears the failures and the reason; a success too. */
	assert_int_equal(webhooks_update(t, acc, "wh_one", NULL, NULL, NULL, 1), 0);
	assert_int_equal(webhooks_get(t, acc, "wh_one", a, &w), 0);
	assert_int_equal(w.failures, 0);
	assert_string_equal(w.disabled_reason, "");
	d.status = 200;
	d.error = NULL;
	assert_int_equal(webhooks_record(t, &d, 0, NULL, &disabled), 0);
	assert_int_equal(webhooks_record(t, &d, 1, NULL, &disabled), 0);
	assert_int_equal(disabled, 0);
	assert_int_equal(webhooks_get(t, acc, "wh_one", a, &w), 0);
	assert_int_equal(w.failures, 0);

	/* The log: newest first, paged by id, times growing with ids. */
	assert_int_equal(webhooks_deliveries(t, w.id, 0, 10, a, &ds, &n), 0);
	assert_int_equal(n, 10);
	assert_int_equal(ds[0].status, 200);
	assert_string_equal(ds[0].error, "");
	assert_string_equal(ds[2].response, "oops");
	assert_int_equal(ds[0].ref, 42);
	assert_string_equal(ds[0].delivery, "dlv_1");
	size_t total = 0;
	int64_t before = 0;

	do {
		assert_int_equal(webhooks_deliveries(t, w.id, before, 7, a, &ds, &n), 0);
		for (size_t i = 0; i < n; i++) {
			assert_true(ds[i].id < last_id);
			if (last_created)
				assert_true(ds[i].created_ms <= last_created);
			last_id = ds[i].id;
			last_created = ds[i].created_ms;
		}
		total += n;
		before = n ? ds[n - 1].id : 0;
	} while (n == 7);
	assert_int_equal(total, WEBHOOK_DISABLE_AFTER + 4);
	assert_int_equal(webhooks_deliveries(t, w.id, 0, 1, a, &ds, &n), 0);
	assert_int_equal(webhooks_delivery_get(t, acc, ds[0].pid, a, &dg, &w), 0);
	assert_int_equal(dg.id, ds[0].id);
	assert_string_equal(w.pid, "wh_one");
	assert_int_equal(webhooks_delivery_get(t, acc2, ds[0].pid, a, &dg, &w), INLET_ENOTFOUND);
	assert_int_equal(webhooks_delivery_get(t, acc, "att_none", a, &dg, &w), INLET_ENOTFOUND);

	/* Delete: scoped, once; its log goes with it. */
	assert_int_equal(webhooks_delete(t, acc2, "wh_one"), INLET_ENOTFOUND);
	assert_int_equal(webhooks_delete(t, acc, "wh_one"), 0);
	assert_int_equal(webhooks_delete(t, acc, "wh_one"), INLET_ENOTFOUND);
	assert_int_equal(webhooks_deliveries(t, w.id, 0, 10, a, &ds, &n), 0);
	assert_int_equal(n, 0);
	/* A delivery for a webhook that is gone breaks the foreign key. */
	assert_int_equal(webhooks_record(t, &d, 1, NULL, &disabled), INLET_EEXISTS);
	arena_destroy(a);
	tenant_close(t);
}

/* ---- invitations ----------------------------------------------------------- */

static void t_invites(void **state)
{
	struct tenant *t = open_tenant();
	struct arena *a = arena_create(8192);
	uint8_t h1[32], h2[32], h3[32], h4[32];
	struct invite v, *vs;
	struct member *ms;
	int64_t owner, joiner, acc, newuser = 0;
	size_t n;

	(void)state;
	rand_bytes(h1, 32);
	rand_bytes(h2, 32);
	rand_bytes(h3, 32);
	rand_bytes(h4, 32);
	owner = add_user(t, "owner@example.test");
	joiner = add_user(t, "joiner@example.test");
	acc = add_account(t, owner, "Acme");
	/* A member already: refused (whatever the case). */
	assert_int_equal(members_invite_create(t, acc, "OWNER@example.test", "admin", h1, owner, a, &v),
			 INLET_EEXISTS);
	assert_int_equal(members_invite_create(t, acc, "joiner@example.test", "member", h1, owner, a, &v), 0);
	assert_string_equal(v.account_name, "Acme");
	assert_int_equal(v.invited_by, owner);
	assert_int_equal(v.accepted_ms, 0);
	assert_int_equal(v.expires_ms, v.created_ms + MEMBERS_INVITE_TTL_MS);
	/* A second invitation of the same person replaces the first link. */
	assert_int_equal(members_invite_create(t, acc, "Joiner@Example.test", "admin", h2, 0, a, &v), 0);
	assert_int_equal(v.invited_by, 0);
	assert_int_equal(members_invite_by_token(t, h1, a, &v), INLET_ENOTFOUND);
	assert_int_equal(members_invite_by_token(t, h2, a, &v), 0);
	assert_string_equal(v.role, "admin");
	assert_int_equal(members_invites(t, acc, a, &vs, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(members_invite_by_id(t, v.id, a, &v), 0);
	/* Accepted once. */
	assert_int_equal(members_invite_accept(t, h2, joiner, a, &v), 0);
	assert_true(v.accepted_ms > 0);
	assert_int_equal(members_invite_accept(t, h2, joiner, a, &v), INLET_ENOTFOUND);
	assert_int_equal(members_invite_by_token(t, h2, a, &v), INLET_ENOTFOUND);
	assert_int_equal(members_invite_by_id(t, v.id, a, &v), 0); /* any state */
	assert_true(v.accepted_ms > 0);
	assert_int_equal(members_invites(t, acc, a, &vs, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(members_invite_revoke(t, acc, v.pid), INLET_ENOTFOUND); /* accepted: not pending */
	assert_int_equal(members_list(t, acc, a, &ms, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(ms[1].role, "admin");
	/* A user who is a member already: the invitation stays pending. */
	assert_int_equal(members_invite_create(t, acc, "someone@example.test", "viewer", h3, owner, a, &v), 0);
	assert_int_equal(members_invite_accept(t, h3, joiner, a, &v), INLET_EEXISTS);
	assert_int_equal(members_invite_by_token(t, h3, a, &v), 0);
	/* A new user through the invitation. */
	assert_int_equal(members_invite_accept_new(t, h3, "Some One", "$argon2id$x", a, &v, &newuser), 0);
	assert_true(newuser > 0);
	assert_int_equal(members_invite_accept_new(t, h3, "", "h", a, &v, &newuser), INLET_ENOTFOUND);
	assert_int_equal(members_list(t, acc, a, &ms, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(ms[2].name, "Some One");
	assert_string_equal(ms[2].role, "viewer");
	/* accept_new when a user has the email already. */
	assert_int_equal(members_invite_create(t, acc, "x@example.test", "member", h4, 0, a, &v), 0);
	add_user(t, "X@example.test");
	assert_int_equal(members_invite_accept_new(t, h4, "", "h", a, &v, &newuser), INLET_EEXISTS);
	/* Revoke; expiry. */
	assert_int_equal(members_invite_revoke(t, acc + 1000, v.pid), INLET_ENOTFOUND);
	assert_int_equal(members_invite_revoke(t, acc, v.pid), 0);
	assert_int_equal(members_invite_by_token(t, h4, a, &v), INLET_ENOTFOUND);
	rand_bytes(h4, 32);
	assert_int_equal(members_invite_create(t, acc, "late@example.test", "member", h4, 0, a, &v), 0);
	sqlv(t, "UPDATE invites SET expires_ms=?1 WHERE id=?2", now_ms() - 1, v.id);
	assert_int_equal(members_invite_by_token(t, h4, a, &v), INLET_ENOTFOUND);
	assert_int_equal(members_invite_accept(t, h4, joiner, a, &v), INLET_ENOTFOUND);
	arena_destroy(a);
	tenant_close(t);
}

/* ---- members and the last-owner rule --------------------------------------- */

static void t_roles(void **state)
{
	struct tenant *t = open_tenant();
	struct arena *a = arena_create(8192);
	struct member m, *ms;
	struct account acc2;
	char pid1[64], pid2[64], pid3[64];
	int64_t u1, u2, u3, acc;
	size_t n;

	(void)state;
	u1 = add_user(t, "one@example.test");
	u2 = add_user(t, "two@example.test");
	u3 = add_user(t, "three@example.test");
	acc = add_account(t, u1, "Acme");
	add_member(t, u2, acc, "member");
	add_member(t, u3, acc, "viewer");
	assert_int_equal(members_list(t, acc, a, &ms, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(ms[0].user_id, u1);
	assert_string_equal(ms[0].role, "owner");
	assert_string_equal(ms[2].role, "viewer");
	snprintf(pid1, sizeof(pid1), "%s", ms[0].user_pid);
	snprintf(pid2, sizeof(pid2), "%s", ms[1].user_pid);
	snprintf(pid3, sizeof(pid3), "%s", ms[2].user_pid);
	/* The last owner stays one. */
	assert_int_equal(members_set_role(t, acc, pid1, "admin", 1, a, &m), INLET_ECONFLICT);
	assert_int_equal(members_remove(t, acc, pid1, 1), INLET_ECONFLICT);
	/* Only an owner touches the owner role. */
	assert_int_equal(members_set_role(t, acc, pid2, "owner", 0, a, &m), INLET_EFORBIDDEN);
	assert_int_equal(members_set_role(t, acc, pid1, "admin", 0, a, &m), INLET_EFORBIDDEN);
	assert_int_equal(members_remove(t, acc, pid1, 0), INLET_EFORBIDDEN);
	assert_int_equal(members_set_role(t, acc, pid2, "owner", 1, a, &m), 0);
	assert_string_equal(m.role, "owner");
	assert_int_equal(members_set_role(t, acc, pid2, "owner", 1, a, &m), 0); /* no change */
	assert_int_equal(members_set_role(t, acc, pid1, "admin", 1, a, &m), 0);
	assert_int_equal(members_set_role(t, acc, pid2, "member", 1, a, &m), INLET_ECONFLICT);
	assert_int_equal(members_set_role(t, acc, pid3, "member", 0, a, &m), 0);
	assert_int_equal(members_set_role(t, acc, "usr_nobody", "member", 1, a, &m), INLET_ENOTFOUND);
	/* Another account's member is not found from this one. */
	assert_int_equal(members_account_create(t, u3, "Other", a, &acc2), 0);
	assert_int_equal(members_set_role(t, acc2.id, pid1, "member", 1, a, &m), INLET_ENOTFOUND);
	assert_int_equal(members_remove(t, acc2.id, pid2, 1), INLET_ENOTFOUND);
	assert_int_equal(members_remove(t, acc, pid3, 0), 0);
	assert_int_equal(members_remove(t, acc, pid3, 0), INLET_ENOTFOUND);
	assert_int_equal(members_list(t, acc, a, &ms, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(ms[0].role, "owner");
	assert_string_equal(ms[1].role, "admin");
	/* A role the schema does not know is refused by its CHECK. */
	assert_int_equal(members_set_role(t, acc, pid1, "king", 1, a, &m), INLET_EEXISTS);
	arena_destroy(a);
	tenant_close(t);
}

/* ---- races ---------------------------------------------------------------- */

#define RACERS 6

struct racer {
	struct tenant *t;
	pthread_barrier_t *go;
	const uint8_t *hash;   /* accept: the token */
	int64_t user, account; /* accept: who; demote: where */
	const char *pid;       /* demote: whom */
	int rc;
};

static void *accept_one(void *p)
{
	struct racer *r = p;
	struct arena *a = arena_create(1024);
	struct invite v;

	pthread_barrier_wait(r->go);
	r->rc = members_invite_accept(r->t, r->hash, r->user, a, &v);
	arena_destroy(a);
	return NULL;
}

static void *demote_one(void *p)
{
	struct racer *r = p;
	struct arena *a = arena_create(1024);
	struct member m;

	pthread_barrier_wait(r->go);
	r->rc = members_set_role(r->t, r->account, r->pid, "member", 1, a, &m);
	arena_destroy(a);
	return NULL;
}

/* A token works once and an account keeps an owner, with the callers
 * racing on connections of their own. */
static void t_races(void **state)
{
	struct tenant *t = open_tenant();
	struct arena *a = arena_create(8192);
	pthread_t th[RACERS];
	struct racer r[RACERS];
	pthread_barrier_t go;
	int64_t owner, acc, users[RACERS];
	uint8_t h[32];
	struct invite v;
	struct member *ms;
	size_t n;

	(void)state;
	owner = add_user(t, "boss@example.test");
	acc = add_account(t, owner, "Acme");
	for (int i = 0; i < RACERS; i++) {
		char email[64];

		snprintf(email, sizeof(email), "u%d@example.test", i);
		users[i] = add_user(t, email);
	}
	for (int round = 0; round < 3; round++) {
		int ok = 0, gone = 0;
		char email[64];

		rand_bytes(h, 32);
		snprintf(email, sizeof(email), "round%d@example.test", round);
		assert_int_equal(members_invite_create(t, acc, email, "member", h, owner, a, &v), 0);
		pthread_barrier_init(&go, NULL, RACERS);
		for (int i = 0; i < RACERS; i++) {
			r[i] = (struct racer){ .t = t, .go = &go, .hash = h, .user = users[i] };
			pthread_create(&th[i], NULL, accept_one, &r[i]);
		}
		for (int i = 0; i < RACERS; i++) {
			pthread_join(th[i], NULL);
			ok += r[i].rc == 0;
			gone += r[i].rc == INLET_ENOTFOUND || r[i].rc == INLET_EEXISTS;
		}
		pthread_barrier_destroy(&go);
		assert_int_equal(ok, 1);
		assert_int_equal(gone, RACERS - 1);
	}
	/* Every owner demoted at once: one stays. */
	assert_int_equal(members_list(t, acc, a, &ms, &n), 0);
	for (size_t i = 0; i < n; i++)
		if (ms[i].user_id != owner)
			sqlv(t, "UPDATE memberships SET role='owner' WHERE user_id=?1 AND account_id=?2", ms[i].user_id,
			     acc);
	assert_int_equal(members_list(t, acc, a, &ms, &n), 0);
	assert_true(n >= 2 && n <= RACERS + 1);
	{
		int k = n < RACERS ? (int)n : RACERS, ok = 0, conflict = 0;

		pthread_barrier_init(&go, NULL, (unsigned)k);
		for (int i = 0; i < k; i++) {
			r[i] = (struct racer){ .t = t, .go = &go, .account = acc, .pid = ms[i].user_pid };
			pthread_create(&th[i], NULL, demote_one, &r[i]);
		}
		for (int i = 0; i < k; i++) {
			pthread_join(th[i], NULL);
			ok += r[i].rc == 0;
			conflict += r[i].rc == INLET_ECONFLICT;
		}
		pthread_barrier_destroy(&go);
		assert_int_equal(ok + conflict, k);
		assert_int_equal(ok, (int)n - 1 < k ? (int)n - 1 : k);
		assert_int_equal(members_list(t, acc, a, &ms, &n), 0);
		assert_string_equal(ms[0].role, "owner");
		assert_true(n == 1 || strcmp(ms[1].role, "owner") != 0 || k < (int)n);
	}
	arena_destroy(a);
	tenant_close(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(t_schema, setup, teardown),
		cmocka_unit_test_setup_teardown(t_accounts, setup, teardown),
		cmocka_unit_test_setup_teardown(t_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(t_endpoints, setup, teardown),
		cmocka_unit_test_setup_teardown(t_salts, setup, teardown),
		cmocka_unit_test_setup_teardown(t_moves, setup, teardown),
		cmocka_unit_test_setup_teardown(t_sessions, setup, teardown),
		cmocka_unit_test_setup_teardown(t_webhooks, setup, teardown),
		cmocka_unit_test_setup_teardown(t_invites, setup, teardown),
		cmocka_unit_test_setup_teardown(t_roles, setup, teardown),
		cmocka_unit_test_setup_teardown(t_races, setup, teardown),
	};
	int failed;

	url = getenv("INLET_TEST_DATABASE_URL");
	pg = 0;
	failed = cmocka_run_group_tests_name("tenant_sql_sqlite", tests, NULL, NULL);
	if (url && *url) {
		pg = 1;
		failed += cmocka_run_group_tests_name("tenant_sql_postgres", tests, NULL, NULL);
	}
	return failed ? 1 : 0;
}
