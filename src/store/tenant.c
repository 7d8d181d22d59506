#include "store/tenant.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "core/alloc.h"
#include "core/arena.h"
#include "core/enc.h"
#include "core/err.h"
#include "core/log.h"
#include "store/tenant_int.h"

/* Numbered migrations: append, never edit a released one. */
static const char *const migrations[] = {
	/* 1: the tenant model */
	"CREATE TABLE accounts("
	"  id INTEGER PRIMARY KEY, pid TEXT NOT NULL UNIQUE, name TEXT NOT NULL,"
	"  created_ms INTEGER NOT NULL);"
	"CREATE TABLE users("
	"  id INTEGER PRIMARY KEY, pid TEXT NOT NULL UNIQUE,"
	"  email TEXT NOT NULL UNIQUE COLLATE NOCASE, password_hash TEXT NOT NULL,"
	"  created_ms INTEGER NOT NULL);"
	"CREATE TABLE memberships("
	"  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"  account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
	"  role TEXT NOT NULL CHECK (role IN ('owner','admin','member','viewer')),"
	"  created_ms INTEGER NOT NULL, PRIMARY KEY (user_id, account_id));"
	"CREATE INDEX memberships_account ON memberships(account_id);"
	"CREATE TABLE api_keys("
	"  id INTEGER PRIMARY KEY, pid TEXT NOT NULL UNIQUE,"
	"  account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
	"  name TEXT NOT NULL, token_hash BLOB NOT NULL UNIQUE, prefix TEXT NOT NULL,"
	"  created_ms INTEGER NOT NULL, last_used_ms INTEGER NOT NULL DEFAULT 0,"
	"  revoked_ms INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX api_keys_account ON api_keys(account_id);"
	"CREATE TABLE endpoints("
	"  id INTEGER PRIMARY KEY, pid TEXT NOT NULL UNIQUE,"
	"  account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
	"  key TEXT NOT NULL UNIQUE, kind TEXT NOT NULL CHECK (kind IN ('form','events')),"
	"  name TEXT NOT NULL, settings TEXT NOT NULL, key_version INTEGER NOT NULL,"
	"  location TEXT NOT NULL DEFAULT 'shared', created_ms INTEGER NOT NULL);"
	"CREATE INDEX endpoints_account ON endpoints(account_id, id);"
	"CREATE TABLE endpoint_keys("
	"  endpoint_id INTEGER NOT NULL REFERENCES endpoints(id) ON DELETE CASCADE,"
	"  version INTEGER NOT NULL, wrapped BLOB NOT NULL, created_ms INTEGER NOT NULL,"
	"  PRIMARY KEY (endpoint_id, version));"
	"CREATE TABLE daily_salts(day INTEGER PRIMARY KEY, salt BLOB NOT NULL);",
	/* 2: moves of busy endpoints to databases of their own (store/shards.c).
	 * state: requested | copying | cleanup. The row goes when the move is done. */
	"CREATE TABLE shard_moves("
	"  endpoint_id INTEGER PRIMARY KEY REFERENCES endpoints(id) ON DELETE CASCADE,"
	"  state TEXT NOT NULL, target TEXT NOT NULL DEFAULT '', rows_copied INTEGER NOT NULL DEFAULT 0,"
	"  rows_total INTEGER NOT NULL DEFAULT 0, started_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL);",
	/* 3: webhooks and their delivery log (store/webhooks.c). The secret is
	 * sealed with the endpoint's data key; a response excerpt is what the
	 * receiver said, not submission data. */
	"CREATE TABLE webhooks("
	"  id INTEGER PRIMARY KEY, pid TEXT NOT NULL UNIQUE,"
	"  account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
	"  endpoint_id INTEGER NOT NULL REFERENCES endpoints(id) ON DELETE CASCADE,"
	"  url TEXT NOT NULL, events TEXT NOT NULL, format TEXT NOT NULL,"
	"  secret BLOB NOT NULL, key_version INTEGER NOT NULL, enabled INTEGER NOT NULL DEFAULT 1,"
	"  disabled_reason TEXT NOT NULL DEFAULT '', failures INTEGER NOT NULL DEFAULT 0,"
	"  created_ms INTEGER NOT NULL);"
	"CREATE INDEX webhooks_endpoint ON webhooks(endpoint_id, id);"
	"CREATE TABLE deliveries("
	"  id INTEGER PRIMARY KEY, pid TEXT NOT NULL UNIQUE,"
	"  webhook_id INTEGER NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,"
	"  event TEXT NOT NULL, delivery TEXT NOT NULL, ref INTEGER NOT NULL, attempt INTEGER NOT NULL,"
	"  status INTEGER NOT NULL, latency_ms INTEGER NOT NULL, response TEXT NOT NULL DEFAULT '',"
	"  error TEXT NOT NULL DEFAULT '', created_ms INTEGER NOT NULL);"
	"CREATE INDEX deliveries_webhook ON deliveries(webhook_id, id);",
	/* 4: dashboard sessions (store/sessions.c): the cookie's token only as
	 * its SHA-256, as API keys are kept. */
	"CREATE TABLE sessions("
	"  id INTEGER PRIMARY KEY, pid TEXT NOT NULL UNIQUE, token_hash BLOB NOT NULL UNIQUE,"
	"  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"  user_agent TEXT NOT NULL DEFAULT '', created_ms INTEGER NOT NULL,"
	"  last_seen_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL);"
	"CREATE INDEX sessions_user ON sessions(user_id, id);",
	/* 5: invitations to an account (store/members.c). The link's token is
	 * kept only as its SHA-256, as sessions and API keys are; a pending
	 * invite has accepted_ms 0, and revoking one deletes its row.
	 * invited_by is NULL when an API key invited. */
	"CREATE TABLE invites("
	"  id INTEGER PRIMARY KEY, pid TEXT NOT NULL UNIQUE,"
	"  account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
	"  email TEXT NOT NULL COLLATE NOCASE,"
	"  role TEXT NOT NULL CHECK (role IN ('owner','admin','member','viewer')),"
	"  token_hash BLOB NOT NULL UNIQUE,"
	"  invited_by INTEGER REFERENCES users(id) ON DELETE SET NULL,"
	"  created_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL,"
	"  accepted_ms INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX invites_account ON invites(account_id, email);"
	/* what a person who accepts an invitation calls themselves */
	"ALTER TABLE users ADD COLUMN name TEXT NOT NULL DEFAULT '';",
};


#define NMIGRATIONS ((int)(sizeof(migrations) / sizeof(*migrations)))

/* Opens the store on target (a SQLite path, or a PostgreSQL URL with
 * schema) and brings its schema up to date. On SQLite the version stays in
 * PRAGMA user_version, as db_migrate kept it, so existing files open
 * unchanged. */
static int tenant_open_on(struct tenant **out, const char *target, const char *schema)
{
	struct tenant *t = xcalloc(1, sizeof(*t));
	struct sql_conn *c = NULL;
	int rc;

	*out = NULL;
	t->schema = schema ? xstrdup(schema) : NULL;
	t->sql = sql_pool_create(target, 0, 0, 0);
	/* The same migrations, rewritten by store/sql_dialect.c on PostgreSQL. */
	if (!(rc = tenant_sql_get(t, &c)))
		rc = sql_migrate(c, migrations, NMIGRATIONS, "tenant");
	if (rc && c)
		log_msg(LOG_ERROR, "tenant: cannot open the store: %s", sql_errmsg(c));
	tenant_sql_put(t, c);
	if (rc) {
		tenant_close(t);
		return rc;
	}
	*out = t;
	return 0;
}

int tenant_open(struct tenant **out, const char *path)
{
	return tenant_open_on(out, path, NULL);
}

int tenant_open_target(struct tenant **out, const char *target, const char *schema)
{
	*out = NULL;
	if (!sql_is_postgres(target))
		return schema ? INLET_EINVAL : tenant_open(out, target);
	return tenant_open_on(out, target, schema ? schema : TENANT_SCHEMA_DEFAULT);
}

void tenant_close(struct tenant *t)
{
	if (!t)
		return;
	sql_pool_destroy(t->sql);
	free(t->schema);
	free(t);
}

/* ---- statement helpers ------------------------------------------------------ */

int tenant_sql_get(struct tenant *t, struct sql_conn **out)
{
	return sql_pool_get(t->sql, t->schema, out);
}

void tenant_sql_put(struct tenant *t, struct sql_conn *c)
{
	sql_pool_put(t->sql, c);
}

int tenant_sq_prepare(struct tenant *t, struct sq *q, const char *text)
{
	int rc;

	q->t = t;
	q->st = NULL;
	if ((rc = tenant_sql_get(t, &q->c))) {
		q->c = NULL;
		return rc;
	}
	if ((rc = sql_prepare(q->c, text, &q->st))) {
		log_msg(LOG_ERROR, "tenant: %s", sql_errmsg(q->c));
		tenant_sql_put(t, q->c);
		q->c = NULL;
		q->st = NULL;
	}
	return rc;
}

void tenant_sq_finish(struct sq *q)
{
	sql_finalize(q->st);
	q->st = NULL;
	if (q->c)
		tenant_sql_put(q->t, q->c);
	q->c = NULL;
}

int tenant_sq_run(struct sq *q)
{
	int rc;

	while ((rc = sql_step(q->st)) == SQL_ROW)
		;
	return rc;
}

int tenant_sq_change(struct sq *q)
{
	int rc = tenant_sq_run(q);

	if (!rc && sql_changes(q->st) == 0)
		rc = INLET_ENOTFOUND;
	tenant_sq_finish(q);
	return rc;
}

const char *tenant_sql_str(struct arena *a, struct sql_stmt *st, int i)
{
	size_t n = 0;
	const char *s = sql_column_text(st, i, &n);

	return arena_strndup(a, s ? s : "", s ? n : 0);
}

/* Steps q's one-row query: 0 with a row ready, INLET_ENOTFOUND (or
 * missing) when there is none, or the engine's error. */
static int sq_one(struct sq *q, int missing)
{
	int rc = sql_step(q->st);

	return rc == SQL_ROW ? 0 : rc == SQL_DONE ? missing : rc;
}

/* Inside a transaction on c: runs st, a statement made by the caller,
 * then finalizes it. With id set, st is an INSERT ... RETURNING id and
 * *id gets the new row's id. */
static int tx_run(struct sql_stmt *st, int64_t *id)
{
	int rc = sql_step(st);

	if (id && rc == SQL_ROW) {
		*id = sql_column_int64(st, 0);
		rc = sql_step(st);
	} else if (id && rc == SQL_DONE) {
		rc = INLET_EDB; /* RETURNING gave no row */
	}
	while (rc == SQL_ROW)
		rc = sql_step(st);
	sql_finalize(st);
	return rc;
}

/* Ends c's transaction: commits when rc is 0, else rolls back. Returns rc,
 * or the commit's failure. */
static int tx_end(struct sql_conn *c, int rc)
{
	if (!rc && sql_in_tx(c))
		rc = sql_commit(c);
	if (sql_in_tx(c))
		sql_rollback(c);
	return rc;
}

/* ---- accounts and users ------------------------------------------------- */

int tenant_init_owner(struct tenant *t, const char *email, const char *password_hash,
		      const char *account_name, struct arena *a, struct account *out)
{
	struct sql_conn *c = NULL;
	struct sql_stmt *st;
	char *apid = rand_id("acc_", 12), *upid = rand_id("usr_", 12);
	int64_t now = now_ms(), uid = 0, aid = 0;
	int rc;

	if ((rc = tenant_sql_get(t, &c))) {
		c = NULL;
		goto out;
	}
	if ((rc = sql_begin(c, SQL_TX_WRITE)))
		goto out;
	/* users.email is UNIQUE: a second owner with the email is INLET_EEXISTS. */
	if ((rc = sql_prepare(c, "INSERT INTO users(pid,email,password_hash,created_ms) VALUES(?,?,?,?) RETURNING id",
			      &st)))
		goto out;
	sql_bind_str(st, 1, upid);
	sql_bind_str(st, 2, email);
	sql_bind_str(st, 3, password_hash);
	sql_bind_int64(st, 4, now);
	if ((rc = tx_run(st, &uid)))
		goto out;
	if ((rc = sql_prepare(c, "INSERT INTO accounts(pid,name,created_ms) VALUES(?,?,?) RETURNING id", &st)))
		goto out;
	sql_bind_str(st, 1, apid);
	sql_bind_str(st, 2, account_name);
	sql_bind_int64(st, 3, now);
	if ((rc = tx_run(st, &aid)))
		goto out;
	if ((rc = sql_prepare(c, "INSERT INTO memberships(user_id,account_id,role,created_ms) VALUES(?,?,'owner',?)",
			      &st)))
		goto out;
	sql_bind_int64(st, 1, uid);
	sql_bind_int64(st, 2, aid);
	sql_bind_int64(st, 3, now);
	if ((rc = tx_run(st, NULL)))
		goto out;
	if ((rc = tx_end(c, 0)))
		goto out;
	out->id = aid;
	out->pid = arena_strdup(a, apid);
	out->name = arena_strdup(a, account_name);
	out->created_ms = now;
out:
	if (c) {
		(void)tx_end(c, rc ? rc : INLET_EDB);
		tenant_sql_put(t, c);
	}
	free(apid);
	free(upid);
	return rc;
}

static int account_query(struct tenant *t, const char *text, int64_t id, const char *pid,
			 struct arena *a, struct account *out)
{
	struct sq q;
	int rc;

	if ((rc = tenant_sq_prepare(t, &q, text)))
		return rc;
	if (pid)
		sql_bind_str(q.st, 1, pid);
	else
		sql_bind_int64(q.st, 1, id);
	if (!(rc = sq_one(&q, INLET_ENOTFOUND))) {
		out->id = sql_column_int64(q.st, 0);
		out->pid = tenant_sql_str(a, q.st, 1);
		out->name = tenant_sql_str(a, q.st, 2);
		out->created_ms = sql_column_int64(q.st, 3);
	}
	tenant_sq_finish(&q);
	return rc;
}

int tenant_account_get(struct tenant *t, int64_t account_id, struct arena *a, struct account *out)
{
	return account_query(t, "SELECT id,pid,name,created_ms FROM accounts WHERE id=?",
			     account_id, NULL, a, out);
}

int tenant_account_by_pid(struct tenant *t, const char *pid, struct arena *a, struct account *out)
{
	return account_query(t, "SELECT id,pid,name,created_ms FROM accounts WHERE pid=?",
			     0, pid, a, out);
}

/* ---- API keys ----------------------------------------------------------- */

#define KEY_COLS "id,pid,account_id,name,prefix,created_ms,last_used_ms,revoked_ms"

static void key_row(struct arena *a, struct sql_stmt *st, struct api_key *k)
{
	k->id = sql_column_int64(st, 0);
	k->pid = tenant_sql_str(a, st, 1);
	k->account_id = sql_column_int64(st, 2);
	k->name = tenant_sql_str(a, st, 3);
	k->prefix = tenant_sql_str(a, st, 4);
	k->created_ms = sql_column_int64(st, 5);
	k->last_used_ms = sql_column_int64(st, 6);
	k->revoked_ms = sql_column_int64(st, 7);
}

int tenant_key_create(struct tenant *t, int64_t account_id, const char *name,
		      const uint8_t hash[32], const char *prefix, struct arena *a,
		      struct api_key *out)
{
	struct sq q;
	char *pid = rand_id("key_", 12);
	int rc;

	if ((rc = tenant_sq_prepare(t, &q, "INSERT INTO api_keys(pid,account_id,name,token_hash,prefix,created_ms)"
				    " VALUES(?,?,?,?,?,?) RETURNING " KEY_COLS)))
		goto out;
	sql_bind_str(q.st, 1, pid);
	sql_bind_int64(q.st, 2, account_id);
	sql_bind_str(q.st, 3, name);
	sql_bind_blob(q.st, 4, hash, 32);
	sql_bind_str(q.st, 5, prefix);
	sql_bind_int64(q.st, 6, now_ms());
	if (!(rc = sq_one(&q, INLET_EDB))) {
		key_row(a, q.st, out);
		rc = tenant_sq_run(&q);
	}
	tenant_sq_finish(&q);
out:
	free(pid);
	return rc;
}

int tenant_key_list(struct tenant *t, int64_t account_id, struct arena *a,
		    struct api_key **out, size_t *n)
{
	struct sq q;
	size_t cap = 0;
	int rc;

	*n = 0;
	*out = NULL;
	if ((rc = tenant_sq_prepare(t, &q, "SELECT " KEY_COLS " FROM api_keys WHERE account_id=? ORDER BY id")))
		return rc;
	sql_bind_int64(q.st, 1, account_id);
	while ((rc = sql_step(q.st)) == SQL_ROW) {
		*out = arena_grow(a, *out, *n, &cap, sizeof(**out));
		key_row(a, q.st, &(*out)[(*n)++]);
	}
	tenant_sq_finish(&q);
	return rc;
}

int tenant_key_revoke(struct tenant *t, int64_t account_id, const char *key_pid)
{
	struct sq q;
	int rc;

	if ((rc = tenant_sq_prepare(t, &q, "UPDATE api_keys SET revoked_ms=? WHERE account_id=? AND pid=? AND revoked_ms=0")))
		return rc;
	sql_bind_int64(q.st, 1, now_ms());
	sql_bind_int64(q.st, 2, account_id);
	sql_bind_str(q.st, 3, key_pid);
	return tenant_sq_change(&q);
}

int tenant_key_auth(struct tenant *t, const uint8_t hash[32], int64_t *account_id)
{
	struct sq q;
	int64_t id = 0, last = 0, now = now_ms();
	int rc;

	/* The lookup is by the hash's unique index: the token itself is never
	 * compared, so there is no timing channel on its bytes. */
	if ((rc = tenant_sq_prepare(t, &q, "SELECT id,account_id,last_used_ms FROM api_keys WHERE token_hash=? AND revoked_ms=0")))
		return rc;
	sql_bind_blob(q.st, 1, hash, 32);
	if (!(rc = sq_one(&q, INLET_EAUTH))) {
		id = sql_column_int64(q.st, 0);
		*account_id = sql_column_int64(q.st, 1);
		last = sql_column_int64(q.st, 2);
	}
	tenant_sq_finish(&q);
	if (rc || now - last < 60000)
		return rc;
	if (tenant_sq_prepare(t, &q, "UPDATE api_keys SET last_used_ms=? WHERE id=?") == 0) {
		sql_bind_int64(q.st, 1, now);
		sql_bind_int64(q.st, 2, id);
		(void)tenant_sq_run(&q); /* best effort: a busy database must not fail auth */
		tenant_sq_finish(&q);
	}
	return 0;
}

/* ---- endpoints ---------------------------------------------------------- */

#define EP_COLS "e.id,e.pid,e.account_id,e.key,e.kind,e.name,e.settings,e.key_version," \
		"k.wrapped,e.location,e.created_ms"
#define EP_FROM " FROM endpoints e JOIN endpoint_keys k ON k.endpoint_id=e.id AND k.version=e.key_version"

static void endpoint_row(struct arena *a, struct sql_stmt *st, struct endpoint *e)
{
	size_t wl = 0;
	const void *w = sql_column_blob(st, 8, &wl);

	e->id = sql_column_int64(st, 0);
	e->pid = tenant_sql_str(a, st, 1);
	e->account_id = sql_column_int64(st, 2);
	e->key = tenant_sql_str(a, st, 3);
	e->kind = tenant_sql_str(a, st, 4);
	e->name = tenant_sql_str(a, st, 5);
	e->settings = tenant_sql_str(a, st, 6);
	e->key_version = (uint32_t)sql_column_int64(st, 7);
	if (wl > sizeof(e->wrapped) || !w)
		wl = 0; /* impossible by construction; an empty key fails to unwrap */
	if (wl)
		memcpy(e->wrapped, w, wl);
	e->wrapped_len = wl;
	e->location = tenant_sql_str(a, st, 9);
	e->created_ms = sql_column_int64(st, 10);
}

int tenant_endpoint_create(struct tenant *t, struct endpoint *e)
{
	struct sql_conn *c = NULL;
	struct sql_stmt *st;
	int64_t id = 0;
	int rc;

	if ((rc = tenant_sql_get(t, &c))) {
		c = NULL;
		goto out;
	}
	if ((rc = sql_begin(c, SQL_TX_WRITE)))
		goto out;
	if ((rc = sql_prepare(c, "INSERT INTO endpoints(pid,account_id,key,kind,name,settings,key_version,location,created_ms)"
				 " VALUES(?,?,?,?,?,?,?,?,?) RETURNING id", &st)))
		goto out;
	sql_bind_str(st, 1, e->pid);
	sql_bind_int64(st, 2, e->account_id);
	sql_bind_str(st, 3, e->key);
	sql_bind_str(st, 4, e->kind);
	sql_bind_str(st, 5, e->name);
	sql_bind_str(st, 6, e->settings);
	sql_bind_int64(st, 7, e->key_version);
	sql_bind_str(st, 8, e->location);
	sql_bind_int64(st, 9, e->created_ms);
	if ((rc = tx_run(st, &id)))
		goto out;
	if ((rc = sql_prepare(c, "INSERT INTO endpoint_keys(endpoint_id,version,wrapped,created_ms) VALUES(?,?,?,?)",
			      &st)))
		goto out;
	sql_bind_int64(st, 1, id);
	sql_bind_int64(st, 2, e->key_version);
	sql_bind_blob(st, 3, e->wrapped, e->wrapped_len);
	sql_bind_int64(st, 4, e->created_ms);
	if ((rc = tx_run(st, NULL)))
		goto out;
	if ((rc = tx_end(c, 0)))
		goto out;
	e->id = id;
out:
	if (c) {
		(void)tx_end(c, rc ? rc : INLET_EDB);
		tenant_sql_put(t, c);
	}
	return rc;
}

static int endpoint_one(struct tenant *t, const char *where, int64_t account_id, int64_t id,
			const char *text, struct arena *a, struct endpoint *out)
{
	struct sq q;
	char sql[512];
	int rc, i = 1;

	snprintf(sql, sizeof(sql), "SELECT " EP_COLS EP_FROM " WHERE %s%s", where,
		 account_id ? " AND e.account_id=?" : "");
	if ((rc = tenant_sq_prepare(t, &q, sql)))
		return rc;
	if (text)
		sql_bind_str(q.st, i++, text);
	else
		sql_bind_int64(q.st, i++, id);
	if (account_id)
		sql_bind_int64(q.st, i, account_id);
	if (!(rc = sq_one(&q, INLET_ENOTFOUND)))
		endpoint_row(a, q.st, out);
	tenant_sq_finish(&q);
	return rc;
}

int tenant_endpoint_get(struct tenant *t, int64_t account_id, const char *pid,
			struct arena *a, struct endpoint *out)
{
	return endpoint_one(t, "e.pid=?", account_id, 0, pid, a, out);
}

int tenant_endpoint_by_key(struct tenant *t, const char *key, struct arena *a, struct endpoint *out)
{
	return endpoint_one(t, "e.key=?", 0, 0, key, a, out);
}

int tenant_endpoint_by_id(struct tenant *t, int64_t id, struct arena *a, struct endpoint *out)
{
	return endpoint_one(t, "e.id=?", 0, id, NULL, a, out);
}

int tenant_endpoint_list(struct tenant *t, int64_t account_id, struct arena *a,
			 struct endpoint **out, size_t *n)
{
	struct sq q;
	size_t cap = 0;
	int rc;

	*n = 0;
	*out = NULL;
	/* ?1 meets the column first, so PostgreSQL types it as the id. */
	if ((rc = tenant_sq_prepare(t, &q, "SELECT " EP_COLS EP_FROM " WHERE e.account_id=?1 OR ?1=0 ORDER BY e.id")))
		return rc;
	sql_bind_int64(q.st, 1, account_id);
	while ((rc = sql_step(q.st)) == SQL_ROW) {
		*out = arena_grow(a, *out, *n, &cap, sizeof(**out));
		endpoint_row(a, q.st, &(*out)[(*n)++]);
	}
	tenant_sq_finish(&q);
	return rc;
}

int tenant_endpoint_update(struct tenant *t, int64_t account_id, const char *pid,
			   const char *name, const char *settings)
{
	struct sq q;
	int rc;

	if ((rc = tenant_sq_prepare(t, &q, "UPDATE endpoints SET name=coalesce(?,name), settings=coalesce(?,settings)"
				    " WHERE pid=? AND account_id=?")))
		return rc;
	sql_bind_str(q.st, 1, name);
	sql_bind_str(q.st, 2, settings);
	sql_bind_str(q.st, 3, pid);
	sql_bind_int64(q.st, 4, account_id);
	return tenant_sq_change(&q);
}

int tenant_endpoint_delete(struct tenant *t, int64_t account_id, const char *pid)
{
	struct sq q;
	int rc;

	if ((rc = tenant_sq_prepare(t, &q, "DELETE FROM endpoints WHERE pid=? AND account_id=?")))
		return rc;
	sql_bind_str(q.st, 1, pid);
	sql_bind_int64(q.st, 2, account_id);
	return tenant_sq_change(&q);
}

int tenant_endpoint_key(struct tenant *t, int64_t endpoint_id, uint32_t version,
			uint8_t *wrapped, size_t size, size_t *len)
{
	struct sq q;
	int rc;

	if ((rc = tenant_sq_prepare(t, &q, "SELECT wrapped FROM endpoint_keys WHERE endpoint_id=? AND version=?")))
		return rc;
	sql_bind_int64(q.st, 1, endpoint_id);
	sql_bind_int64(q.st, 2, version);
	if (!(rc = sq_one(&q, INLET_ENOTFOUND))) {
		size_t n = 0;
		const void *w = sql_column_blob(q.st, 0, &n);

		if (n > size) {
			rc = INLET_ETOOBIG;
		} else {
			if (n)
				memcpy(wrapped, w, n);
			*len = n;
		}
	}
	tenant_sq_finish(&q);
	return rc;
}

int tenant_daily_salt(struct tenant *t, int64_t day, uint8_t out[32])
{
	struct sq q;
	uint8_t fresh[32];
	int rc;

	rand_bytes(fresh, sizeof(fresh));
	/* Insert-or-keep, then read: two nodes racing agree on one salt. */
	if ((rc = tenant_sq_prepare(t, &q, "INSERT INTO daily_salts(day,salt) VALUES(?,?) ON CONFLICT(day) DO NOTHING")))
		return rc;
	sql_bind_int64(q.st, 1, day);
	sql_bind_blob(q.st, 2, fresh, 32);
	rc = tenant_sq_run(&q);
	tenant_sq_finish(&q);
	if (rc)
		return rc;
	if ((rc = tenant_sq_prepare(t, &q, "SELECT salt FROM daily_salts WHERE day=?")))
		return rc;
	sql_bind_int64(q.st, 1, day);
	rc = sql_step(q.st);
	if (rc == SQL_ROW) {
		size_t n = 0;
		const void *s = sql_column_blob(q.st, 0, &n);

		rc = n == 32 && s ? (memcpy(out, s, 32), 0) : INLET_EDB;
	} else {
		rc = INLET_EDB;
	}
	tenant_sq_finish(&q);
	if (rc)
		return rc;
	if (tenant_sq_prepare(t, &q, "DELETE FROM daily_salts WHERE day<?") == 0) {
		sql_bind_int64(q.st, 1, day - 1);
		(void)tenant_sq_run(&q);
		tenant_sq_finish(&q);
	}
	return 0;
}

/* ---- shard map and moves ----------------------------------------------------- */

int tenant_locations(struct tenant *t, struct arena *a, struct endpoint_location **out, size_t *n)
{
	struct sq q;
	size_t cap = 0;
	int rc;

	*n = 0;
	*out = NULL;
	if ((rc = tenant_sq_prepare(t, &q, "SELECT id,pid,location FROM endpoints WHERE location<>'shared' ORDER BY id")))
		return rc;
	while ((rc = sql_step(q.st)) == SQL_ROW) {
		*out = arena_grow(a, *out, *n, &cap, sizeof(**out));
		(*out)[*n].endpoint_id = sql_column_int64(q.st, 0);
		(*out)[*n].pid = tenant_sql_str(a, q.st, 1);
		(*out)[(*n)++].location = tenant_sql_str(a, q.st, 2);
	}
	tenant_sq_finish(&q);
	return rc;
}

/* An endpoint's retention_days from its settings, as SQLite's
 * coalesce(json_extract(settings,'$.retention_days'),0) read as an integer
 * gave it: 0 when absent, not a number, or the settings do not parse. */
static uint64_t settings_retention(const char *settings)
{
	struct json_object *o = json_tokener_parse(settings), *v;
	int64_t days = 0;

	if (o && json_object_is_type(o, json_type_object) &&
	    json_object_object_get_ex(o, "retention_days", &v) && v &&
	    (json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double) ||
	     json_object_is_type(v, json_type_boolean)))
		days = json_object_get_int64(v);
	json_object_put(o);
	return days > 0 ? (uint64_t)days : 0;
}

int tenant_endpoints_brief(struct tenant *t, struct arena *a, struct endpoint_brief **out, size_t *n)
{
	struct sq q;
	size_t cap = 0;
	int rc;

	*n = 0;
	*out = NULL;
	/* retention_days is read from the settings here, in C: PostgreSQL has no
	 * json_extract, and the settings column is text on both engines. */
	if ((rc = tenant_sq_prepare(t, &q, "SELECT id,pid,kind,settings FROM endpoints ORDER BY id")))
		return rc;
	while ((rc = sql_step(q.st)) == SQL_ROW) {
		size_t len = 0;
		const char *s = sql_column_text(q.st, 3, &len);

		*out = arena_grow(a, *out, *n, &cap, sizeof(**out));
		(*out)[*n].id = sql_column_int64(q.st, 0);
		(*out)[*n].pid = tenant_sql_str(a, q.st, 1);
		(*out)[*n].kind = tenant_sql_str(a, q.st, 2);
		(*out)[(*n)++].retention_days = s ? settings_retention(s) : 0;
	}
	tenant_sq_finish(&q);
	return rc;
}

static void move_row(struct arena *a, struct sql_stmt *st, struct shard_move *m)
{
	m->endpoint_id = sql_column_int64(st, 0);
	m->state = tenant_sql_str(a, st, 1);
	m->target = tenant_sql_str(a, st, 2);
	m->rows_copied = sql_column_int64(st, 3);
	m->rows_total = sql_column_int64(st, 4);
	m->started_ms = sql_column_int64(st, 5);
	m->updated_ms = sql_column_int64(st, 6);
}

#define MOVE_COLS "endpoint_id,state,target,rows_copied,rows_total,started_ms,updated_ms"

int tenant_moves(struct tenant *t, struct arena *a, struct shard_move **out, size_t *n)
{
	struct sq q;
	size_t cap = 0;
	int rc;

	*n = 0;
	*out = NULL;
	if ((rc = tenant_sq_prepare(t, &q, "SELECT " MOVE_COLS " FROM shard_moves ORDER BY started_ms")))
		return rc;
	while ((rc = sql_step(q.st)) == SQL_ROW) {
		*out = arena_grow(a, *out, *n, &cap, sizeof(**out));
		move_row(a, q.st, &(*out)[(*n)++]);
	}
	tenant_sq_finish(&q);
	return rc;
}

int tenant_move_get(struct tenant *t, int64_t endpoint_id, struct arena *a, struct shard_move *out)
{
	struct sq q;
	int rc;

	if ((rc = tenant_sq_prepare(t, &q, "SELECT " MOVE_COLS " FROM shard_moves WHERE endpoint_id=?")))
		return rc;
	sql_bind_int64(q.st, 1, endpoint_id);
	if (!(rc = sq_one(&q, INLET_ENOTFOUND)))
		move_row(a, q.st, out);
	tenant_sq_finish(&q);
	return rc;
}

int tenant_move_set(struct tenant *t, int64_t endpoint_id, const char *state, const char *target,
		    int64_t rows_copied, int64_t rows_total)
{
	struct sq q;
	int64_t now = now_ms();
	int rc;

	if ((rc = tenant_sq_prepare(t, &q, "INSERT INTO shard_moves(" MOVE_COLS ") VALUES(?1,?2,?3,?4,?5,?6,?6)"
				    " ON CONFLICT(endpoint_id) DO UPDATE SET state=?2, target=?3,"
				    " rows_copied=?4, rows_total=?5, updated_ms=?6")))
		return rc;
	sql_bind_int64(q.st, 1, endpoint_id);
	sql_bind_str(q.st, 2, state);
	sql_bind_str(q.st, 3, target ? target : "");
	sql_bind_int64(q.st, 4, rows_copied);
	sql_bind_int64(q.st, 5, rows_total);
	sql_bind_int64(q.st, 6, now);
	rc = tenant_sq_run(&q);
	tenant_sq_finish(&q);
	return rc;
}

int tenant_move_request(struct tenant *t, int64_t endpoint_id)
{
	struct sq q;
	int rc;

	/* Only a new request: a move under way keeps its state. The casts give
	 * PostgreSQL the parameters' types, which a bare select list lacks. */
	if ((rc = tenant_sq_prepare(t, &q, "INSERT INTO shard_moves(endpoint_id,state,started_ms,updated_ms)"
				    " SELECT CAST(?1 AS INTEGER),'requested',CAST(?2 AS INTEGER),CAST(?2 AS INTEGER)"
				    " WHERE NOT EXISTS (SELECT 1 FROM endpoints WHERE id=?1 AND location<>'shared')"
				    " ON CONFLICT(endpoint_id) DO NOTHING")))
		return rc;
	sql_bind_int64(q.st, 1, endpoint_id);
	sql_bind_int64(q.st, 2, now_ms());
	rc = tenant_sq_run(&q);
	tenant_sq_finish(&q);
	return rc;
}

int tenant_move_commit(struct tenant *t, int64_t endpoint_id, const char *location)
{
	struct sql_conn *c = NULL;
	struct sql_stmt *st;
	int rc;

	/* The one commit point of a move: the endpoint's location and the
	 * move's state change together. */
	if ((rc = tenant_sql_get(t, &c)))
		return rc;
	if ((rc = sql_begin(c, SQL_TX_WRITE)))
		goto out;
	if (sql_prepare(c, "UPDATE endpoints SET location=?1 WHERE id=?2", &st)) {
		rc = INLET_EDB;
		goto out;
	}
	sql_bind_str(st, 1, location);
	sql_bind_int64(st, 2, endpoint_id);
	if (sql_step(st) != SQL_DONE || sql_changes(st) != 1) {
		sql_finalize(st);
		rc = INLET_ENOTFOUND;
		goto out;
	}
	sql_finalize(st);
	if ((rc = sql_prepare(c, "UPDATE shard_moves SET state='cleanup' WHERE endpoint_id=?", &st)))
		goto out;
	sql_bind_int64(st, 1, endpoint_id);
	if ((rc = tx_run(st, NULL)))
		goto out;
	rc = tx_end(c, 0);
out:
	(void)tx_end(c, rc ? rc : INLET_EDB);
	tenant_sql_put(t, c);
	return rc;
}

int tenant_move_done(struct tenant *t, int64_t endpoint_id)
{
	struct sq q;
	int rc;

	if ((rc = tenant_sq_prepare(t, &q, "DELETE FROM shard_moves WHERE endpoint_id=?")))
		return rc;
	sql_bind_int64(q.st, 1, endpoint_id);
	rc = tenant_sq_run(&q);
	tenant_sq_finish(&q);
	return rc;
}
