/* Members, invitations and new accounts; the contract is in members.h. */
#include "store/members.h"

#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/enc.h"
#include "core/err.h"
#include "store/db.h"
#include "store/tenant.h"
#include "store/tenant_int.h"

/* ---- transactions ---------------------------------------------------------- */

/* A write transaction on a pooled connection. BEGIN IMMEDIATE takes the
 * write lock before the first read, so what a change checks (the owners
 * left, the invitation still pending) cannot move before it commits. */
struct tx {
	struct tenant *t;
	sqlite3 *db;  /* held from tx_begin to tx_end; NULL when acquiring failed */
	int64_t now;  /* one clock reading for every check and write of the change */
};

static int tx_begin(struct tenant *t, struct tx *x)
{
	int rc;

	x->t = t;
	x->db = NULL;
	x->now = now_ms();
	if ((rc = db_pool_acquire(t->pool, &x->db))) {
		x->db = NULL;
		return rc;
	}
	return db_exec(x->db, "BEGIN IMMEDIATE");
}

/* Commits when rc is 0, else rolls back; releases the connection. Returns
 * rc, or the commit's failure. */
static int tx_end(struct tx *x, int rc)
{
	if (!x->db)
		return rc;
	if (!rc && !sqlite3_get_autocommit(x->db))
		rc = db_exec(x->db, "COMMIT");
	if (!sqlite3_get_autocommit(x->db))
		db_exec(x->db, "ROLLBACK");
	db_pool_release(x->t->pool, x->db);
	x->db = NULL;
	return rc;
}

static int prep(sqlite3 *db, sqlite3_stmt **st, const char *sql)
{
	int rc = sqlite3_prepare_v2(db, sql, -1, st, NULL);

	if (rc == SQLITE_OK)
		return 0;
	*st = NULL;
	rc = db_rc(db, rc);
	return rc ? rc : INLET_EDB;
}

/* One step: 1 for a row, 0 at the end, else an INLET_E* code. */
static int step(sqlite3 *db, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	rc = db_rc(db, rc);
	return rc ? rc : INLET_EDB;
}

/* Runs a statement to its end and finalizes it. */
static int run(sqlite3 *db, sqlite3_stmt *st)
{
	int rc = step(db, st);

	sqlite3_finalize(st);
	return rc > 0 ? 0 : rc;
}

/* 1 when sql (two int64 parameters, or an int64 and a text) finds a row. */
static int exists(sqlite3 *db, const char *sql, int64_t p1, int64_t p2, const char *text, int *found)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = prep(db, &st, sql)))
		return rc;
	sqlite3_bind_int64(st, 1, p1);
	if (text)
		sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
	else
		sqlite3_bind_int64(st, 2, p2);
	rc = step(db, st);
	sqlite3_finalize(st);
	if (rc < 0)
		return rc;
	*found = rc;
	return 0;
}

static int add_membership(sqlite3 *db, int64_t user_id, int64_t account_id, const char *role, int64_t now)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = prep(db, &st, "INSERT INTO memberships(user_id,account_id,role,created_ms) VALUES(?,?,?,?)")))
		return rc;
	sqlite3_bind_int64(st, 1, user_id);
	sqlite3_bind_int64(st, 2, account_id);
	sqlite3_bind_text(st, 3, role, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, now);
	return run(db, st);
}

/* ---- invitations ----------------------------------------------------------- */

#define INV_COLS "i.id,i.pid,i.account_id,a.pid,a.name,i.email,i.role,coalesce(i.invited_by,0)," \
		 "i.created_ms,i.expires_ms,i.accepted_ms"
#define INV_FROM " FROM invites i JOIN accounts a ON a.id=i.account_id"

static void invite_row(struct arena *a, sqlite3_stmt *st, struct invite *v)
{
	v->id = sqlite3_column_int64(st, 0);
	v->pid = tenant_col_str(a, st, 1);
	v->account_id = sqlite3_column_int64(st, 2);
	v->account_pid = tenant_col_str(a, st, 3);
	v->account_name = tenant_col_str(a, st, 4);
	v->email = tenant_col_str(a, st, 5);
	v->role = tenant_col_str(a, st, 6);
	v->invited_by = sqlite3_column_int64(st, 7);
	v->created_ms = sqlite3_column_int64(st, 8);
	v->expires_ms = sqlite3_column_int64(st, 9);
	v->accepted_ms = sqlite3_column_int64(st, 10);
}

/* The one invitation sql (an INV_COLS query) finds with its parameters:
 * the blob hash (when not NULL), then the int64 p. INLET_ENOTFOUND when
 * none. */
static int invite_one(sqlite3 *db, const char *sql, const uint8_t *hash, int64_t p, struct arena *a,
		      struct invite *out)
{
	sqlite3_stmt *st;
	int rc, i = 1;

	if ((rc = prep(db, &st, sql)))
		return rc;
	if (hash)
		sqlite3_bind_blob(st, i++, hash, 32, SQLITE_STATIC);
	sqlite3_bind_int64(st, i, p);
	rc = step(db, st);
	if (rc == 1)
		invite_row(a, st, out);
	sqlite3_finalize(st);
	return rc == 1 ? 0 : rc == 0 ? INLET_ENOTFOUND : rc;
}

static int pending_by_token(sqlite3 *db, const uint8_t hash[32], int64_t now, struct arena *a,
			    struct invite *out)
{
	return invite_one(db, "SELECT " INV_COLS INV_FROM " WHERE i.token_hash=? AND i.accepted_ms=0 AND i.expires_ms>?",
			  hash, now, a, out);
}

int members_invite_create(struct tenant *t, int64_t account_id, const char *email, const char *role,
			  const uint8_t token_hash[32], int64_t invited_by, struct arena *a,
			  struct invite *out)
{
	struct tx x;
	sqlite3_stmt *st = NULL;
	char *pid = rand_id("inv_", 12);
	int rc, found = 0;

	if ((rc = tx_begin(t, &x)))
		goto out;
	/* users.email is COLLATE NOCASE: the comparison ignores case. */
	if ((rc = exists(x.db, "SELECT 1 FROM memberships m JOIN users u ON u.id=m.user_id"
			       " WHERE m.account_id=? AND u.email=?", account_id, 0, email, &found)))
		goto out;
	if (found) {
		rc = INLET_EEXISTS;
		goto out;
	}
	/* The new link replaces the old one: a second invitation of the same
	 * person must not leave two keys to the account around. */
	if ((rc = prep(x.db, &st, "DELETE FROM invites WHERE account_id=? AND email=? AND accepted_ms=0")))
		goto out;
	sqlite3_bind_int64(st, 1, account_id);
	sqlite3_bind_text(st, 2, email, -1, SQLITE_STATIC);
	rc = run(x.db, st);
	st = NULL;
	if (rc || (rc = prep(x.db, &st, "INSERT INTO invites(pid,account_id,email,role,token_hash,invited_by,"
					 "created_ms,expires_ms) VALUES(?,?,?,?,?,?,?,?)")))
		goto out;
	sqlite3_bind_text(st, 1, pid, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, account_id);
	sqlite3_bind_text(st, 3, email, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, role, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 5, token_hash, 32, SQLITE_STATIC);
	if (invited_by > 0)
		sqlite3_bind_int64(st, 6, invited_by);
	else
		sqlite3_bind_null(st, 6);
	sqlite3_bind_int64(st, 7, x.now);
	sqlite3_bind_int64(st, 8, x.now + MEMBERS_INVITE_TTL_MS);
	rc = run(x.db, st);
	st = NULL;
	if (!rc)
		rc = invite_one(x.db, "SELECT " INV_COLS INV_FROM " WHERE i.id=?", NULL, sqlite3_last_insert_rowid(x.db),
				a, out);
out:
	sqlite3_finalize(st);
	free(pid);
	return tx_end(&x, rc);
}

int members_invites(struct tenant *t, int64_t account_id, struct arena *a, struct invite **out, size_t *n)
{
	struct q q;
	size_t cap = 0;
	int rc;

	*n = 0;
	*out = NULL;
	if ((rc = tenant_q_prepare(t, &q, "SELECT " INV_COLS INV_FROM " WHERE i.account_id=? AND i.accepted_ms=0"
					  " AND i.expires_ms>? ORDER BY i.id")))
		return rc;
	sqlite3_bind_int64(q.st, 1, account_id);
	sqlite3_bind_int64(q.st, 2, now_ms());
	while ((rc = sqlite3_step(q.st)) == SQLITE_ROW) {
		*out = arena_grow(a, *out, *n, &cap, sizeof(**out));
		invite_row(a, q.st, &(*out)[(*n)++]);
	}
	rc = rc == SQLITE_DONE ? 0 : db_rc(q.db, rc);
	tenant_q_finish(&q);
	return rc;
}

int members_invite_revoke(struct tenant *t, int64_t account_id, const char *pid)
{
	struct q q;
	int rc;

	if ((rc = tenant_q_prepare(t, &q, "DELETE FROM invites WHERE account_id=? AND pid=? AND accepted_ms=0")))
		return rc;
	sqlite3_bind_int64(q.st, 1, account_id);
	sqlite3_bind_text(q.st, 2, pid, -1, SQLITE_STATIC);
	return tenant_q_change(&q);
}

int members_invite_by_token(struct tenant *t, const uint8_t token_hash[32], struct arena *a,
			    struct invite *out)
{
	sqlite3 *db;
	int rc;

	if ((rc = db_pool_acquire(t->pool, &db)))
		return rc;
	rc = pending_by_token(db, token_hash, now_ms(), a, out);
	db_pool_release(t->pool, db);
	return rc;
}

int members_invite_by_id(struct tenant *t, int64_t id, struct arena *a, struct invite *out)
{
	sqlite3 *db;
	int rc;

	if ((rc = db_pool_acquire(t->pool, &db)))
		return rc;
	rc = invite_one(db, "SELECT " INV_COLS INV_FROM " WHERE i.id=?", NULL, id, a, out);
	db_pool_release(t->pool, db);
	return rc;
}

/* The accepted mark; the row must still be pending (the transaction's
 * write lock makes that certain, the condition says it). */
static int mark_accepted(struct tx *x, struct invite *v)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = prep(x->db, &st, "UPDATE invites SET accepted_ms=? WHERE id=? AND accepted_ms=0")))
		return rc;
	sqlite3_bind_int64(st, 1, x->now);
	sqlite3_bind_int64(st, 2, v->id);
	if ((rc = run(x->db, st)))
		return rc;
	if (sqlite3_changes(x->db) != 1)
		return INLET_ENOTFOUND;
	v->accepted_ms = x->now;
	return 0;
}

int members_invite_accept(struct tenant *t, const uint8_t token_hash[32], int64_t user_id, struct arena *a,
			  struct invite *out)
{
	struct tx x;
	int rc, found = 0;

	if ((rc = tx_begin(t, &x)) || (rc = pending_by_token(x.db, token_hash, x.now, a, out)))
		return tx_end(&x, rc);
	rc = exists(x.db, "SELECT 1 FROM memberships WHERE account_id=? AND user_id=?", out->account_id, user_id,
		    NULL, &found);
	if (!rc && found)
		rc = INLET_EEXISTS;
	if (!rc)
		rc = add_membership(x.db, user_id, out->account_id, out->role, x.now);
	if (!rc)
		rc = mark_accepted(&x, out);
	return tx_end(&x, rc);
}

int members_invite_accept_new(struct tenant *t, const uint8_t token_hash[32], const char *name,
			      const char *password_hash, struct arena *a, struct invite *out, int64_t *user_id)
{
	struct tx x;
	sqlite3_stmt *st = NULL;
	char *pid = rand_id("usr_", 12);
	int rc, found = 0;

	if ((rc = tx_begin(t, &x)) || (rc = pending_by_token(x.db, token_hash, x.now, a, out)))
		goto out;
	if ((rc = prep(x.db, &st, "SELECT 1 FROM users WHERE email=?")))
		goto out;
	sqlite3_bind_text(st, 1, out->email, -1, SQLITE_STATIC);
	found = step(x.db, st);
	sqlite3_finalize(st);
	st = NULL;
	if (found != 0) {
		rc = found == 1 ? INLET_EEXISTS : found;
		goto out;
	}
	if ((rc = prep(x.db, &st, "INSERT INTO users(pid,email,name,password_hash,created_ms) VALUES(?,?,?,?,?)")))
		goto out;
	sqlite3_bind_text(st, 1, pid, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, out->email, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, name ? name : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, password_hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, x.now);
	rc = run(x.db, st);
	st = NULL;
	if (rc)
		goto out;
	*user_id = sqlite3_last_insert_rowid(x.db);
	if (!(rc = add_membership(x.db, *user_id, out->account_id, out->role, x.now)))
		rc = mark_accepted(&x, out);
out:
	sqlite3_finalize(st);
	free(pid);
	return tx_end(&x, rc);
}

/* ---- members --------------------------------------------------------------- */

#define MEM_COLS "u.id,u.pid,u.email,u.name,m.role,m.created_ms"
#define MEM_FROM " FROM memberships m JOIN users u ON u.id=m.user_id"

static void member_row(struct arena *a, sqlite3_stmt *st, struct member *m)
{
	m->user_id = sqlite3_column_int64(st, 0);
	m->user_pid = tenant_col_str(a, st, 1);
	m->email = tenant_col_str(a, st, 2);
	m->name = tenant_col_str(a, st, 3);
	m->role = tenant_col_str(a, st, 4);
	m->joined_ms = sqlite3_column_int64(st, 5);
}

int members_list(struct tenant *t, int64_t account_id, struct arena *a, struct member **out, size_t *n)
{
	struct q q;
	size_t cap = 0;
	int rc;

	*n = 0;
	*out = NULL;
	if ((rc = tenant_q_prepare(t, &q, "SELECT " MEM_COLS MEM_FROM " WHERE m.account_id=? ORDER BY"
					  " CASE m.role WHEN 'owner' THEN 0 WHEN 'admin' THEN 1 WHEN 'member' THEN 2"
					  " ELSE 3 END, m.created_ms, u.id")))
		return rc;
	sqlite3_bind_int64(q.st, 1, account_id);
	while ((rc = sqlite3_step(q.st)) == SQLITE_ROW) {
		*out = arena_grow(a, *out, *n, &cap, sizeof(**out));
		member_row(a, q.st, &(*out)[(*n)++]);
	}
	rc = rc == SQLITE_DONE ? 0 : db_rc(q.db, rc);
	tenant_q_finish(&q);
	return rc;
}

/* Member user_pid of the account, inside a transaction. */
static int member_of(struct tx *x, int64_t account_id, const char *user_pid, struct arena *a, struct member *out)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = prep(x->db, &st, "SELECT " MEM_COLS MEM_FROM " WHERE m.account_id=? AND u.pid=?")))
		return rc;
	sqlite3_bind_int64(st, 1, account_id);
	sqlite3_bind_text(st, 2, user_pid, -1, SQLITE_STATIC);
	rc = step(x->db, st);
	if (rc == 1)
		member_row(a, st, out);
	sqlite3_finalize(st);
	return rc == 1 ? 0 : rc == 0 ? INLET_ENOTFOUND : rc;
}

/* Whether member m may stop being an owner (or was none): the checks that
 * members_set_role and members_remove share. */
static int owner_change_ok(struct tx *x, int64_t account_id, const struct member *m, int as_owner)
{
	sqlite3_stmt *st;
	int64_t owners = 0;
	int rc;

	if (strcmp(m->role, "owner") != 0)
		return 0;
	if (!as_owner)
		return INLET_EFORBIDDEN;
	if ((rc = prep(x->db, &st, "SELECT count(*) FROM memberships WHERE account_id=? AND role='owner'")))
		return rc;
	sqlite3_bind_int64(st, 1, account_id);
	if ((rc = step(x->db, st)) == 1)
		owners = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (rc < 0)
		return rc;
	return owners > 1 ? 0 : INLET_ECONFLICT;
}

int members_set_role(struct tenant *t, int64_t account_id, const char *user_pid, const char *role,
		     int as_owner, struct arena *a, struct member *out)
{
	struct tx x;
	sqlite3_stmt *st;
	int rc;

	if ((rc = tx_begin(t, &x)) || (rc = member_of(&x, account_id, user_pid, a, out)))
		return tx_end(&x, rc);
	if (strcmp(out->role, role) == 0)
		return tx_end(&x, 0);
	if (strcmp(role, "owner") == 0 && !as_owner)
		return tx_end(&x, INLET_EFORBIDDEN);
	if ((rc = owner_change_ok(&x, account_id, out, as_owner)))
		return tx_end(&x, rc);
	if ((rc = prep(x.db, &st, "UPDATE memberships SET role=? WHERE account_id=? AND user_id=?")))
		return tx_end(&x, rc);
	sqlite3_bind_text(st, 1, role, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, account_id);
	sqlite3_bind_int64(st, 3, out->user_id);
	if (!(rc = run(x.db, st)))
		out->role = arena_strdup(a, role);
	return tx_end(&x, rc);
}

int members_remove(struct tenant *t, int64_t account_id, const char *user_pid, int as_owner)
{
	struct arena *a = arena_create(512);
	struct member m;
	struct tx x;
	sqlite3_stmt *st;
	int rc;

	if ((rc = tx_begin(t, &x)) || (rc = member_of(&x, account_id, user_pid, a, &m)) ||
	    (rc = owner_change_ok(&x, account_id, &m, as_owner)))
		goto out;
	if ((rc = prep(x.db, &st, "DELETE FROM memberships WHERE account_id=? AND user_id=?")))
		goto out;
	sqlite3_bind_int64(st, 1, account_id);
	sqlite3_bind_int64(st, 2, m.user_id);
	rc = run(x.db, st);
out:
	rc = tx_end(&x, rc);
	arena_destroy(a);
	return rc;
}

/* ---- accounts -------------------------------------------------------------- */

int members_account_create(struct tenant *t, int64_t user_id, const char *name, struct arena *a,
			   struct account *out)
{
	struct tx x;
	sqlite3_stmt *st;
	char *pid = rand_id("acc_", 12);
	int rc;

	if ((rc = tx_begin(t, &x)) ||
	    (rc = prep(x.db, &st, "INSERT INTO accounts(pid,name,created_ms) VALUES(?,?,?)")))
		goto out;
	sqlite3_bind_text(st, 1, pid, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, x.now);
	if ((rc = run(x.db, st)))
		goto out;
	out->id = sqlite3_last_insert_rowid(x.db);
	out->pid = arena_strdup(a, pid);
	out->name = arena_strdup(a, name);
	out->created_ms = x.now;
	rc = add_membership(x.db, user_id, out->id, "owner", x.now);
out:
	free(pid);
	return tx_end(&x, rc);
}
