#include "store/tenant.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/arena.h"
#include "core/enc.h"
#include "core/err.h"
#include "core/log.h"
#include "store/db.h"
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

int tenant_open(struct tenant **out, const char *path)
{
	struct tenant *t = xcalloc(1, sizeof(*t));
	sqlite3 *db = NULL;
	int rc;

	if ((rc = db_open(path, 0, &db)))
		goto out;
	if ((rc = db_migrate(db, migrations, NMIGRATIONS, "tenant")))
		goto out;
	t->pool = db_pool_create(path, 0);
	db_pool_release(t->pool, db);
	db = NULL;
	/* The modules on store/sql.h reach the same file through this pool
	 * (tenant_int.h says why two pools are safe). */
	t->sql = sql_pool_create(path, 0, 0, 0);
out:
	db_close(db);
	if (rc) {
		free(t);
		t = NULL;
	}
	*out = t;
	return rc;
}

int tenant_open_target(struct tenant **out, const char *target, const char *schema)
{
	struct tenant *t;
	struct sql_conn *c = NULL;
	int rc;

	*out = NULL;
	if (!sql_is_postgres(target))
		return schema ? INLET_EINVAL : tenant_open(out, target);
	if (!schema)
		schema = TENANT_SCHEMA_DEFAULT;
	t = xcalloc(1, sizeof(*t));
	t->schema = xstrdup(schema);
	t->sql = sql_pool_create(target, 0, 0, 0);
	/* The same migrations, rewritten by store/sql_dialect.c. */
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

void tenant_close(struct tenant *t)
{
	if (!t)
		return;
	if (t->pool)
		db_pool_destroy(t->pool);
	sql_pool_destroy(t->sql);
	free(t->schema);
	free(t);
}

/* tenant.c's own connection (sqlite3); none on PostgreSQL yet. */
static int tenant_db(struct tenant *t, sqlite3 **db)
{
	*db = NULL;
	return t->pool ? db_pool_acquire(t->pool, db) : INLET_EUNAVAILABLE;
}

/* ---- statement helpers -------------------------------------------------- */

/* A statement with its connection; finish() releases both. */
int tenant_q_prepare(struct tenant *t, struct q *q, const char *sql)
{
	int rc;

	q->t = t;
	q->st = NULL;
	if ((rc = tenant_db(t, &q->db)))
		return rc;
	rc = sqlite3_prepare_v2(q->db, sql, -1, &q->st, NULL);
	if (rc != SQLITE_OK) {
		rc = db_rc(q->db, rc);
		db_pool_release(t->pool, q->db);
		q->db = NULL;
		return rc ? rc : INLET_EDB;
	}
	return 0;
}

void tenant_q_finish(struct q *q)
{
	sqlite3_finalize(q->st);
	q->st = NULL;
	if (q->db)
		db_pool_release(q->t->pool, q->db);
	q->db = NULL;
}

int tenant_q_run(struct q *q)
{
	int rc = sqlite3_step(q->st);

	return rc == SQLITE_DONE ? 0 : db_rc(q->db, rc);
}

int tenant_q_change(struct q *q)
{
	int rc = tenant_q_run(q);

	if (!rc && sqlite3_changes(q->db) == 0)
		rc = INLET_ENOTFOUND;
	tenant_q_finish(q);
	return rc;
}

const char *tenant_col_str(struct arena *a, sqlite3_stmt *st, int i)
{
	const unsigned char *s = sqlite3_column_text(st, i);

	return arena_strndup(a, s ? (const char *)s : "", (size_t)sqlite3_column_bytes(st, i));
}

/* ---- the same on store/sql.h ---------------------------------------------- */

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

/* ---- accounts and users ------------------------------------------------- */

int tenant_init_owner(struct tenant *t, const char *email, const char *password_hash,
		      const char *account_name, struct arena *a, struct account *out)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	char *apid = rand_id("acc_", 12), *upid = rand_id("usr_", 12);
	int64_t now = now_ms(), uid, aid;
	int rc, in_tx = 0;

	if ((rc = tenant_db(t, &db)))
		goto out;
	if ((rc = db_exec(db, "BEGIN IMMEDIATE")))
		goto out;
	in_tx = 1;
	rc = sqlite3_prepare_v2(db, "INSERT INTO users(pid,email,password_hash,created_ms) VALUES(?,?,?,?)",
				-1, &st, NULL);
	if (rc != SQLITE_OK)
		goto dberr;
	sqlite3_bind_text(st, 1, upid, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, email, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, password_hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, now);
	if ((rc = sqlite3_step(st)) != SQLITE_DONE)
		goto dberr;
	uid = sqlite3_last_insert_rowid(db);
	sqlite3_finalize(st);
	rc = sqlite3_prepare_v2(db, "INSERT INTO accounts(pid,name,created_ms) VALUES(?,?,?)", -1, &st, NULL);
	if (rc != SQLITE_OK)
		goto dberr;
	sqlite3_bind_text(st, 1, apid, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, account_name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, now);
	if ((rc = sqlite3_step(st)) != SQLITE_DONE)
		goto dberr;
	aid = sqlite3_last_insert_rowid(db);
	sqlite3_finalize(st);
	rc = sqlite3_prepare_v2(db, "INSERT INTO memberships(user_id,account_id,role,created_ms) VALUES(?,?,'owner',?)",
				-1, &st, NULL);
	if (rc != SQLITE_OK)
		goto dberr;
	sqlite3_bind_int64(st, 1, uid);
	sqlite3_bind_int64(st, 2, aid);
	sqlite3_bind_int64(st, 3, now);
	if ((rc = sqlite3_step(st)) != SQLITE_DONE)
		goto dberr;
	if ((rc = db_exec(db, "COMMIT")))
		goto out;
	in_tx = 0;
	out->id = aid;
	out->pid = arena_strdup(a, apid);
	out->name = arena_strdup(a, account_name);
	out->created_ms = now;
	rc = 0;
	goto out;
dberr:
	rc = db_rc(db, rc);
	if (!rc)
		rc = INLET_EDB;
out:
	sqlite3_finalize(st);
	if (in_tx)
		db_exec(db, "ROLLBACK");
	if (db)
		db_pool_release(t->pool, db);
	free(apid);
	free(upid);
	return rc;
}

static int account_query(struct tenant *t, const char *sql, int64_t id, const char *pid,
			 struct arena *a, struct account *out)
{
	struct q q;
	int rc;

	if ((rc = tenant_q_prepare(t, &q, sql)))
		return rc;
	if (pid)
		sqlite3_bind_text(q.st, 1, pid, -1, SQLITE_STATIC);
	else
		sqlite3_bind_int64(q.st, 1, id);
	rc = sqlite3_step(q.st);
	if (rc == SQLITE_ROW) {
		out->id = sqlite3_column_int64(q.st, 0);
		out->pid = tenant_col_str(a, q.st, 1);
		out->name = tenant_col_str(a, q.st, 2);
		out->created_ms = sqlite3_column_int64(q.st, 3);
		rc = 0;
	} else {
		rc = rc == SQLITE_DONE ? INLET_ENOTFOUND : db_rc(q.db, rc);
	}
	tenant_q_finish(&q);
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

static void key_row(struct arena *a, sqlite3_stmt *st, struct api_key *k)
{
	k->id = sqlite3_column_int64(st, 0);
	k->pid = tenant_col_str(a, st, 1);
	k->account_id = sqlite3_column_int64(st, 2);
	k->name = tenant_col_str(a, st, 3);
	k->prefix = tenant_col_str(a, st, 4);
	k->created_ms = sqlite3_column_int64(st, 5);
	k->last_used_ms = sqlite3_column_int64(st, 6);
	k->revoked_ms = sqlite3_column_int64(st, 7);
}

int tenant_key_create(struct tenant *t, int64_t account_id, const char *name,
		      const uint8_t hash[32], const char *prefix, struct arena *a,
		      struct api_key *out)
{
	struct q q;
	char *pid = rand_id("key_", 12);
	int rc;

	if ((rc = tenant_q_prepare(t, &q, "INSERT INTO api_keys(pid,account_id,name,token_hash,prefix,created_ms)"
				   " VALUES(?,?,?,?,?,?) RETURNING " KEY_COLS)))
		goto out;
	sqlite3_bind_text(q.st, 1, pid, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q.st, 2, account_id);
	sqlite3_bind_text(q.st, 3, name, -1, SQLITE_STATIC);
	sqlite3_bind_blob(q.st, 4, hash, 32, SQLITE_STATIC);
	sqlite3_bind_text(q.st, 5, prefix, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q.st, 6, now_ms());
	rc = sqlite3_step(q.st);
	if (rc == SQLITE_ROW) {
		key_row(a, q.st, out);
		rc = 0;
	} else {
		rc = db_rc(q.db, rc);
		if (!rc)
			rc = INLET_EDB;
	}
	tenant_q_finish(&q);
out:
	free(pid);
	return rc;
}

int tenant_key_list(struct tenant *t, int64_t account_id, struct arena *a,
		    struct api_key **out, size_t *n)
{
	struct q q;
	size_t cap = 0;
	int rc;

	*n = 0;
	*out = NULL;
	if ((rc = tenant_q_prepare(t, &q, "SELECT " KEY_COLS " FROM api_keys WHERE account_id=? ORDER BY id")))
		return rc;
	sqlite3_bind_int64(q.st, 1, account_id);
	while ((rc = sqlite3_step(q.st)) == SQLITE_ROW) {
		*out = arena_grow(a, *out, *n, &cap, sizeof(**out));
		key_row(a, q.st, &(*out)[(*n)++]);
	}
	rc = rc == SQLITE_DONE ? 0 : db_rc(q.db, rc);
	tenant_q_finish(&q);
	return rc;
}

int tenant_key_revoke(struct tenant *t, int64_t account_id, const char *key_pid)
{
	struct q q;
	int rc;

	if ((rc = tenant_q_prepare(t, &q, "UPDATE api_keys SET revoked_ms=? WHERE account_id=? AND pid=? AND revoked_ms=0")))
		return rc;
	sqlite3_bind_int64(q.st, 1, now_ms());
	sqlite3_bind_int64(q.st, 2, account_id);
	sqlite3_bind_text(q.st, 3, key_pid, -1, SQLITE_STATIC);
	return tenant_q_change(&q);
}

int tenant_key_auth(struct tenant *t, const uint8_t hash[32], int64_t *account_id)
{
	struct q q;
	int64_t id = 0, last = 0, now = now_ms();
	int rc;

	/* The lookup is by the hash's unique index: the token itself is never
	 * compared, so there is no timing channel on its bytes. */
	if ((rc = tenant_q_prepare(t, &q, "SELECT id,account_id,last_used_ms FROM api_keys WHERE token_hash=? AND revoked_ms=0")))
		return rc;
	sqlite3_bind_blob(q.st, 1, hash, 32, SQLITE_STATIC);
	rc = sqlite3_step(q.st);
	if (rc == SQLITE_ROW) {
		id = sqlite3_column_int64(q.st, 0);
		*account_id = sqlite3_column_int64(q.st, 1);
		last = sqlite3_column_int64(q.st, 2);
		rc = 0;
	} else {
		rc = rc == SQLITE_DONE ? INLET_EAUTH : db_rc(q.db, rc);
	}
	tenant_q_finish(&q);
	if (rc || now - last < 60000)
		return rc;
	if (tenant_q_prepare(t, &q, "UPDATE api_keys SET last_used_ms=? WHERE id=?") == 0) {
		sqlite3_bind_int64(q.st, 1, now);
		sqlite3_bind_int64(q.st, 2, id);
		(void)tenant_q_run(&q); /* best effort: a busy database must not fail auth */
		tenant_q_finish(&q);
	}
	return 0;
}

/* ---- endpoints ---------------------------------------------------------- */

#define EP_COLS "e.id,e.pid,e.account_id,e.key,e.kind,e.name,e.settings,e.key_version," \
		"k.wrapped,e.location,e.created_ms"
#define EP_FROM " FROM endpoints e JOIN endpoint_keys k ON k.endpoint_id=e.id AND k.version=e.key_version"

static void endpoint_row(struct arena *a, sqlite3_stmt *st, struct endpoint *e)
{
	size_t wl = (size_t)sqlite3_column_bytes(st, 8);

	e->id = sqlite3_column_int64(st, 0);
	e->pid = tenant_col_str(a, st, 1);
	e->account_id = sqlite3_column_int64(st, 2);
	e->key = tenant_col_str(a, st, 3);
	e->kind = tenant_col_str(a, st, 4);
	e->name = tenant_col_str(a, st, 5);
	e->settings = tenant_col_str(a, st, 6);
	e->key_version = (uint32_t)sqlite3_column_int64(st, 7);
	if (wl > sizeof(e->wrapped))
		wl = 0; /* impossible by construction; an empty key fails to unwrap */
	if (wl)
		memcpy(e->wrapped, sqlite3_column_blob(st, 8), wl);
	e->wrapped_len = wl;
	e->location = tenant_col_str(a, st, 9);
	e->created_ms = sqlite3_column_int64(st, 10);
}

int tenant_endpoint_create(struct tenant *t, struct endpoint *e)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int rc, in_tx = 0;

	if ((rc = tenant_db(t, &db)))
		goto out;
	if ((rc = db_exec(db, "BEGIN IMMEDIATE")))
		goto out;
	in_tx = 1;
	rc = sqlite3_prepare_v2(db, "INSERT INTO endpoints(pid,account_id,key,kind,name,settings,key_version,location,created_ms)"
				    " VALUES(?,?,?,?,?,?,?,?,?)", -1, &st, NULL);
	if (rc != SQLITE_OK)
		goto dberr;
	sqlite3_bind_text(st, 1, e->pid, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, e->account_id);
	sqlite3_bind_text(st, 3, e->key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, e->kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, e->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, e->settings, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, e->key_version);
	sqlite3_bind_text(st, 8, e->location, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 9, e->created_ms);
	if ((rc = sqlite3_step(st)) != SQLITE_DONE)
		goto dberr;
	e->id = sqlite3_last_insert_rowid(db);
	sqlite3_finalize(st);
	rc = sqlite3_prepare_v2(db, "INSERT INTO endpoint_keys(endpoint_id,version,wrapped,created_ms) VALUES(?,?,?,?)",
				-1, &st, NULL);
	if (rc != SQLITE_OK)
		goto dberr;
	sqlite3_bind_int64(st, 1, e->id);
	sqlite3_bind_int64(st, 2, e->key_version);
	sqlite3_bind_blob(st, 3, e->wrapped, (int)e->wrapped_len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, e->created_ms);
	if ((rc = sqlite3_step(st)) != SQLITE_DONE)
		goto dberr;
	if ((rc = db_exec(db, "COMMIT")))
		goto out;
	in_tx = 0;
	rc = 0;
	goto out;
dberr:
	rc = db_rc(db, rc);
	if (!rc)
		rc = INLET_EDB;
out:
	sqlite3_finalize(st);
	if (in_tx)
		db_exec(db, "ROLLBACK");
	if (db)
		db_pool_release(t->pool, db);
	return rc;
}

static int endpoint_one(struct tenant *t, const char *where, int64_t account_id, int64_t id,
			const char *text, struct arena *a, struct endpoint *out)
{
	struct q q;
	char sql[512];
	int rc, i = 1;

	snprintf(sql, sizeof(sql), "SELECT " EP_COLS EP_FROM " WHERE %s%s", where,
		 account_id ? " AND e.account_id=?" : "");
	if ((rc = tenant_q_prepare(t, &q, sql)))
		return rc;
	if (text)
		sqlite3_bind_text(q.st, i++, text, -1, SQLITE_STATIC);
	else
		sqlite3_bind_int64(q.st, i++, id);
	if (account_id)
		sqlite3_bind_int64(q.st, i, account_id);
	rc = sqlite3_step(q.st);
	if (rc == SQLITE_ROW) {
		endpoint_row(a, q.st, out);
		rc = 0;
	} else {
		rc = rc == SQLITE_DONE ? INLET_ENOTFOUND : db_rc(q.db, rc);
	}
	tenant_q_finish(&q);
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
	struct q q;
	size_t cap = 0;
	int rc;

	*n = 0;
	*out = NULL;
	if ((rc = tenant_q_prepare(t, &q, "SELECT " EP_COLS EP_FROM " WHERE ?1=0 OR e.account_id=?1 ORDER BY e.id")))
		return rc;
	sqlite3_bind_int64(q.st, 1, account_id);
	while ((rc = sqlite3_step(q.st)) == SQLITE_ROW) {
		*out = arena_grow(a, *out, *n, &cap, sizeof(**out));
		endpoint_row(a, q.st, &(*out)[(*n)++]);
	}
	rc = rc == SQLITE_DONE ? 0 : db_rc(q.db, rc);
	tenant_q_finish(&q);
	return rc;
}

int tenant_endpoint_update(struct tenant *t, int64_t account_id, const char *pid,
			   const char *name, const char *settings)
{
	struct q q;
	int rc;

	if ((rc = tenant_q_prepare(t, &q, "UPDATE endpoints SET name=coalesce(?,name), settings=coalesce(?,settings)"
				   " WHERE pid=? AND account_id=?")))
		return rc;
	sqlite3_bind_text(q.st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(q.st, 2, settings, -1, SQLITE_STATIC);
	sqlite3_bind_text(q.st, 3, pid, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q.st, 4, account_id);
	return tenant_q_change(&q);
}

int tenant_endpoint_delete(struct tenant *t, int64_t account_id, const char *pid)
{
	struct q q;
	int rc;

	if ((rc = tenant_q_prepare(t, &q, "DELETE FROM endpoints WHERE pid=? AND account_id=?")))
		return rc;
	sqlite3_bind_text(q.st, 1, pid, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q.st, 2, account_id);
	return tenant_q_change(&q);
}

int tenant_endpoint_key(struct tenant *t, int64_t endpoint_id, uint32_t version,
			uint8_t *wrapped, size_t size, size_t *len)
{
	struct q q;
	int rc;

	if ((rc = tenant_q_prepare(t, &q, "SELECT wrapped FROM endpoint_keys WHERE endpoint_id=? AND version=?")))
		return rc;
	sqlite3_bind_int64(q.st, 1, endpoint_id);
	sqlite3_bind_int64(q.st, 2, version);
	rc = sqlite3_step(q.st);
	if (rc == SQLITE_ROW) {
		size_t n = (size_t)sqlite3_column_bytes(q.st, 0);

		if (n > size) {
			rc = INLET_ETOOBIG;
		} else {
			memcpy(wrapped, sqlite3_column_blob(q.st, 0), n);
			*len = n;
			rc = 0;
		}
	} else {
		rc = rc == SQLITE_DONE ? INLET_ENOTFOUND : db_rc(q.db, rc);
	}
	tenant_q_finish(&q);
	return rc;
}

int tenant_daily_salt(struct tenant *t, int64_t day, uint8_t out[32])
{
	struct q q;
	uint8_t fresh[32];
	int rc;

	rand_bytes(fresh, sizeof(fresh));
	/* Insert-or-keep, then read: two nodes racing agree on one salt. */
	if ((rc = tenant_q_prepare(t, &q, "INSERT INTO daily_salts(day,salt) VALUES(?,?) ON CONFLICT(day) DO NOTHING")))
		return rc;
	sqlite3_bind_int64(q.st, 1, day);
	sqlite3_bind_blob(q.st, 2, fresh, 32, SQLITE_STATIC);
	rc = tenant_q_run(&q);
	tenant_q_finish(&q);
	if (rc)
		return rc;
	if ((rc = tenant_q_prepare(t, &q, "SELECT salt FROM daily_salts WHERE day=?")))
		return rc;
	sqlite3_bind_int64(q.st, 1, day);
	rc = sqlite3_step(q.st);
	if (rc == SQLITE_ROW && sqlite3_column_bytes(q.st, 0) == 32) {
		memcpy(out, sqlite3_column_blob(q.st, 0), 32);
		rc = 0;
	} else {
		rc = INLET_EDB;
	}
	tenant_q_finish(&q);
	if (rc)
		return rc;
	if (tenant_q_prepare(t, &q, "DELETE FROM daily_salts WHERE day<?") == 0) {
		sqlite3_bind_int64(q.st, 1, day - 1);
		(void)tenant_q_run(&q);
		tenant_q_finish(&q);
	}
	return 0;
}

/* ---- shard map and moves ----------------------------------------------------- */

int tenant_locations(struct tenant *t, struct arena *a, struct endpoint_location **out, size_t *n)
{
	struct q q;
	size_t cap = 0;
	int rc;

	*n = 0;
	*out = NULL;
	if ((rc = tenant_q_prepare(t, &q, "SELECT id,pid,location FROM endpoints WHERE location<>'shared' ORDER BY id")))
		return rc;
	while ((rc = sqlite3_step(q.st)) == SQLITE_ROW) {
		*out = arena_grow(a, *out, *n, &cap, sizeof(**out));
		(*out)[*n].endpoint_id = sqlite3_column_int64(q.st, 0);
		(*out)[*n].pid = tenant_col_str(a, q.st, 1);
		(*out)[(*n)++].location = tenant_col_str(a, q.st, 2);
	}
	rc = rc == SQLITE_DONE ? 0 : db_rc(q.db, rc);
	tenant_q_finish(&q);
	return rc;
}

int tenant_endpoints_brief(struct tenant *t, struct arena *a, struct endpoint_brief **out, size_t *n)
{
	struct q q;
	size_t cap = 0;
	int rc;

	*n = 0;
	*out = NULL;
	/* The settings are validated JSON: their retention_days is read here
	 * rather than parsing every endpoint's whole settings. */
	if ((rc = tenant_q_prepare(t, &q, "SELECT id,pid,kind,coalesce(json_extract(settings,'$.retention_days'),0)"
					  " FROM endpoints ORDER BY id")))
		return rc;
	while ((rc = sqlite3_step(q.st)) == SQLITE_ROW) {
		int64_t days = sqlite3_column_int64(q.st, 3);

		*out = arena_grow(a, *out, *n, &cap, sizeof(**out));
		(*out)[*n].id = sqlite3_column_int64(q.st, 0);
		(*out)[*n].pid = tenant_col_str(a, q.st, 1);
		(*out)[*n].kind = tenant_col_str(a, q.st, 2);
		(*out)[(*n)++].retention_days = days > 0 ? (uint64_t)days : 0;
	}
	rc = rc == SQLITE_DONE ? 0 : db_rc(q.db, rc);
	tenant_q_finish(&q);
	return rc;
}

static void move_row(struct arena *a, sqlite3_stmt *st, struct shard_move *m)
{
	m->endpoint_id = sqlite3_column_int64(st, 0);
	m->state = tenant_col_str(a, st, 1);
	m->target = tenant_col_str(a, st, 2);
	m->rows_copied = sqlite3_column_int64(st, 3);
	m->rows_total = sqlite3_column_int64(st, 4);
	m->started_ms = sqlite3_column_int64(st, 5);
	m->updated_ms = sqlite3_column_int64(st, 6);
}

#define MOVE_COLS "endpoint_id,state,target,rows_copied,rows_total,started_ms,updated_ms"

int tenant_moves(struct tenant *t, struct arena *a, struct shard_move **out, size_t *n)
{
	struct q q;
	size_t cap = 0;
	int rc;

	*n = 0;
	*out = NULL;
	if ((rc = tenant_q_prepare(t, &q, "SELECT " MOVE_COLS " FROM shard_moves ORDER BY started_ms")))
		return rc;
	while ((rc = sqlite3_step(q.st)) == SQLITE_ROW) {
		*out = arena_grow(a, *out, *n, &cap, sizeof(**out));
		move_row(a, q.st, &(*out)[(*n)++]);
	}
	rc = rc == SQLITE_DONE ? 0 : db_rc(q.db, rc);
	tenant_q_finish(&q);
	return rc;
}

int tenant_move_get(struct tenant *t, int64_t endpoint_id, struct arena *a, struct shard_move *out)
{
	struct q q;
	int rc;

	if ((rc = tenant_q_prepare(t, &q, "SELECT " MOVE_COLS " FROM shard_moves WHERE endpoint_id=?")))
		return rc;
	sqlite3_bind_int64(q.st, 1, endpoint_id);
	rc = sqlite3_step(q.st);
	if (rc == SQLITE_ROW) {
		move_row(a, q.st, out);
		rc = 0;
	} else {
		rc = rc == SQLITE_DONE ? INLET_ENOTFOUND : db_rc(q.db, rc);
	}
	tenant_q_finish(&q);
	return rc;
}

int tenant_move_set(struct tenant *t, int64_t endpoint_id, const char *state, const char *target,
		    int64_t rows_copied, int64_t rows_total)
{
	struct q q;
	int64_t now = now_ms();
	int rc;

	if ((rc = tenant_q_prepare(t, &q, "INSERT INTO shard_moves(" MOVE_COLS ") VALUES(?1,?2,?3,?4,?5,?6,?6)"
				   " ON CONFLICT(endpoint_id) DO UPDATE SET state=?2, target=?3,"
				   " rows_copied=?4, rows_total=?5, updated_ms=?6")))
		return rc;
	sqlite3_bind_int64(q.st, 1, endpoint_id);
	sqlite3_bind_text(q.st, 2, state, -1, SQLITE_STATIC);
	sqlite3_bind_text(q.st, 3, target ? target : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(q.st, 4, rows_copied);
	sqlite3_bind_int64(q.st, 5, rows_total);
	sqlite3_bind_int64(q.st, 6, now);
	rc = tenant_q_run(&q);
	tenant_q_finish(&q);
	return rc;
}

int tenant_move_request(struct tenant *t, int64_t endpoint_id)
{
	struct q q;
	int rc;

	/* Only a new request: a move under way keeps its state. */
	if ((rc = tenant_q_prepare(t, &q, "INSERT INTO shard_moves(endpoint_id,state,started_ms,updated_ms)"
				   " SELECT ?1,'requested',?2,?2 WHERE NOT EXISTS"
				   " (SELECT 1 FROM endpoints WHERE id=?1 AND location<>'shared')"
				   " ON CONFLICT(endpoint_id) DO NOTHING")))
		return rc;
	sqlite3_bind_int64(q.st, 1, endpoint_id);
	sqlite3_bind_int64(q.st, 2, now_ms());
	rc = tenant_q_run(&q);
	tenant_q_finish(&q);
	return rc;
}

int tenant_move_commit(struct tenant *t, int64_t endpoint_id, const char *location)
{
	sqlite3 *db = NULL;
	char sql[64];
	sqlite3_stmt *st = NULL;
	int rc, in_tx = 0;

	/* The one commit point of a move: the endpoint's location and the
	 * move's state change together. */
	if ((rc = tenant_db(t, &db)))
		return rc;
	if ((rc = db_exec(db, "BEGIN IMMEDIATE")))
		goto out;
	in_tx = 1;
	if (sqlite3_prepare_v2(db, "UPDATE endpoints SET location=?1 WHERE id=?2", -1, &st, NULL) != SQLITE_OK) {
		rc = INLET_EDB;
		goto out;
	}
	sqlite3_bind_text(st, 1, location, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, endpoint_id);
	if (sqlite3_step(st) != SQLITE_DONE || sqlite3_changes(db) != 1) {
		rc = INLET_ENOTFOUND;
		goto out;
	}
	snprintf(sql, sizeof(sql), "UPDATE shard_moves SET state='cleanup' WHERE endpoint_id=%lld",
		 (long long)endpoint_id);
	if ((rc = db_exec(db, sql)) || (rc = db_exec(db, "COMMIT")))
		goto out;
	in_tx = 0;
out:
	sqlite3_finalize(st);
	if (in_tx)
		db_exec(db, "ROLLBACK");
	db_pool_release(t->pool, db);
	return rc;
}

int tenant_move_done(struct tenant *t, int64_t endpoint_id)
{
	struct q q;
	int rc;

	if ((rc = tenant_q_prepare(t, &q, "DELETE FROM shard_moves WHERE endpoint_id=?")))
		return rc;
	sqlite3_bind_int64(q.st, 1, endpoint_id);
	rc = tenant_q_run(&q);
	tenant_q_finish(&q);
	return rc;
}
