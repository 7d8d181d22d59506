/* Members, invitations and new accounts, on store/sql.h; the contract is
 * in members.h. The statements are the same on both engines but for two
 * row locks PostgreSQL gets (see tx_begin). */
#include "store/members.h"

#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/enc.h"
#include "core/err.h"
#include "store/sql.h"
#include "store/tenant.h"
#include "store/tenant_int.h"

/* ---- transactions ---------------------------------------------------------- */

/* A write transaction on a pooled connection. What a change checks (the
 * owners left, the invitation still pending) must not move before it
 * commits. On SQLite, SQL_TX_WRITE is BEGIN IMMEDIATE: the write lock is
 * taken before the first read, and that is all it takes. On PostgreSQL
 * (READ COMMITTED) the same is done with row locks: a change to an
 * account's members locks the account's row first (lock_account), and an
 * acceptance reads its invitation FOR UPDATE, so a second acceptance of
 * the same token waits for the first and then finds it accepted. */
struct tx {
	struct tenant *t;
	struct sql_conn *c; /* held from tx_begin to tx_end; NULL when acquiring failed */
	int64_t now;        /* one clock reading for every check and write of the change */
};

static int tx_begin(struct tenant *t, struct tx *x)
{
	int rc;

	x->t = t;
	x->c = NULL;
	x->now = now_ms();
	if ((rc = tenant_sql_get(t, &x->c))) {
		x->c = NULL;
		return rc;
	}
	return sql_begin(x->c, SQL_TX_WRITE);
}

/* Commits when rc is 0, else rolls back; releases the connection. Returns
 * rc, or the commit's failure. */
static int tx_end(struct tx *x, int rc)
{
	if (!x->c)
		return rc;
	if (!rc && sql_in_tx(x->c))
		rc = sql_commit(x->c);
	if (sql_in_tx(x->c))
		sql_rollback(x->c);
	tenant_sql_put(x->t, x->c);
	x->c = NULL;
	return rc;
}

static int pg(const struct tx *x)
{
	return sql_engine(x->c) == SQL_POSTGRES;
}

/* Runs a statement to its end (rows are not wanted) and finalizes it. */
static int run(struct sql_stmt *st)
{
	int rc;

	while ((rc = sql_step(st)) == SQL_ROW)
		;
	sql_finalize(st);
	return rc;
}

/* 1 when text (two int64 parameters, or an int64 and a text) finds a row. */
static int exists(struct tx *x, const char *text, int64_t p1, int64_t p2, const char *s, int *found)
{
	struct sql_stmt *st;
	int rc;

	if ((rc = sql_prepare(x->c, text, &st)))
		return rc;
	sql_bind_int64(st, 1, p1);
	if (s)
		sql_bind_str(st, 2, s);
	else
		sql_bind_int64(st, 2, p2);
	rc = sql_step(st);
	sql_finalize(st);
	if (rc < 0)
		return rc;
	*found = rc == SQL_ROW;
	return 0;
}

/* PostgreSQL: serializes the changes to one account's people (see tx).
 * SQLite's write lock does that already. */
static int lock_account(struct tx *x, int64_t account_id)
{
	struct sql_stmt *st;
	int rc;

	if (!pg(x))
		return 0;
	if ((rc = sql_prepare(x->c, "SELECT id FROM accounts WHERE id=? FOR UPDATE", &st)))
		return rc;
	sql_bind_int64(st, 1, account_id);
	return run(st);
}

static int add_membership(struct tx *x, int64_t user_id, int64_t account_id, const char *role)
{
	struct sql_stmt *st;
	int rc;

	if ((rc = sql_prepare(x->c, "INSERT INTO memberships(user_id,account_id,role,created_ms) VALUES(?,?,?,?)",
			      &st)))
		return rc;
	sql_bind_int64(st, 1, user_id);
	sql_bind_int64(st, 2, account_id);
	sql_bind_str(st, 3, role);
	sql_bind_int64(st, 4, x->now);
	return run(st);
}

/* ---- invitations ----------------------------------------------------------- */

#define INV_COLS "i.id,i.pid,i.account_id,a.pid,a.name,i.email,i.role,coalesce(i.invited_by,0)," \
		 "i.created_ms,i.expires_ms,i.accepted_ms"
#define INV_FROM " FROM invites i JOIN accounts a ON a.id=i.account_id"
#define INV_BY_ID "SELECT " INV_COLS INV_FROM " WHERE i.id=?"

static void invite_row(struct arena *a, struct sql_stmt *st, struct invite *v)
{
	v->id = sql_column_int64(st, 0);
	v->pid = tenant_sql_str(a, st, 1);
	v->account_id = sql_column_int64(st, 2);
	v->account_pid = tenant_sql_str(a, st, 3);
	v->account_name = tenant_sql_str(a, st, 4);
	v->email = tenant_sql_str(a, st, 5);
	v->role = tenant_sql_str(a, st, 6);
	v->invited_by = sql_column_int64(st, 7);
	v->created_ms = sql_column_int64(st, 8);
	v->expires_ms = sql_column_int64(st, 9);
	v->accepted_ms = sql_column_int64(st, 10);
}

/* The one invitation text (an INV_COLS query) finds on c with its
 * parameters: the blob hash (when not NULL), then the int64 p.
 * INLET_ENOTFOUND when none. */
static int invite_one(struct sql_conn *c, const char *text, const uint8_t *hash, int64_t p, struct arena *a,
		      struct invite *out)
{
	struct sql_stmt *st;
	int rc, i = 1;

	if ((rc = sql_prepare(c, text, &st)))
		return rc;
	if (hash)
		sql_bind_blob(st, i++, hash, 32);
	sql_bind_int64(st, i, p);
	rc = sql_step(st);
	if (rc == SQL_ROW)
		invite_row(a, st, out);
	sql_finalize(st);
	return rc == SQL_ROW ? 0 : rc == SQL_DONE ? INLET_ENOTFOUND : rc;
}

#define PENDING_BY_TOKEN "SELECT " INV_COLS INV_FROM " WHERE i.token_hash=? AND i.accepted_ms=0 AND i.expires_ms>?"

static int pending_by_token(struct sql_conn *c, const uint8_t hash[32], int64_t now, struct arena *a,
			    struct invite *out)
{
	return invite_one(c, PENDING_BY_TOKEN, hash, now, a, out);
}

/* The same inside an acceptance: on PostgreSQL the invitation's row is
 * locked, so that of two acceptances racing the second finds it taken. */
static int pending_for_accept(struct tx *x, const uint8_t hash[32], struct arena *a, struct invite *out)
{
	return invite_one(x->c, pg(x) ? PENDING_BY_TOKEN " FOR UPDATE OF i" : PENDING_BY_TOKEN, hash, x->now, a,
			  out);
}

int members_invite_create(struct tenant *t, int64_t account_id, const char *email, const char *role,
			  const uint8_t token_hash[32], int64_t invited_by, struct arena *a,
			  struct invite *out)
{
	struct tx x;
	struct sql_stmt *st = NULL;
	char *pid = rand_id("inv_", 12);
	int64_t id = 0;
	int rc, found = 0;

	if ((rc = tx_begin(t, &x)) || (rc = lock_account(&x, account_id)))
		goto out;
	/* users.email is COLLATE NOCASE: the comparison ignores case. */
	if ((rc = exists(&x, "SELECT 1 FROM memberships m JOIN users u ON u.id=m.user_id"
			     " WHERE m.account_id=? AND u.email=?", account_id, 0, email, &found)))
		goto out;
	if (found) {
		rc = INLET_EEXISTS;
		goto out;
	}
	/* The new link replaces the old one: a second invitation of the same
	 * person must not leave two keys to the account around. */
	if ((rc = sql_prepare(x.c, "DELETE FROM invites WHERE account_id=? AND email=? AND accepted_ms=0", &st)))
		goto out;
	sql_bind_int64(st, 1, account_id);
	sql_bind_str(st, 2, email);
	rc = run(st);
	st = NULL;
	if (rc || (rc = sql_prepare(x.c, "INSERT INTO invites(pid,account_id,email,role,token_hash,invited_by,"
					 "created_ms,expires_ms) VALUES(?,?,?,?,?,?,?,?) RETURNING id", &st)))
		goto out;
	sql_bind_str(st, 1, pid);
	sql_bind_int64(st, 2, account_id);
	sql_bind_str(st, 3, email);
	sql_bind_str(st, 4, role);
	sql_bind_blob(st, 5, token_hash, 32);
	if (invited_by > 0)
		sql_bind_int64(st, 6, invited_by);
	else
		sql_bind_null(st, 6);
	sql_bind_int64(st, 7, x.now);
	sql_bind_int64(st, 8, x.now + MEMBERS_INVITE_TTL_MS);
	if ((rc = sql_step(st)) == SQL_ROW)
		id = sql_column_int64(st, 0);
	rc = rc == SQL_ROW ? 0 : rc == SQL_DONE ? INLET_EDB : rc;
	sql_finalize(st);
	st = NULL;
	if (!rc)
		rc = invite_one(x.c, INV_BY_ID, NULL, id, a, out);
out:
	sql_finalize(st);
	free(pid);
	return tx_end(&x, rc);
}

int members_invites(struct tenant *t, int64_t account_id, struct arena *a, struct invite **out, size_t *n)
{
	struct sq q;
	size_t cap = 0;
	int rc;

	*n = 0;
	*out = NULL;
	if ((rc = tenant_sq_prepare(t, &q, "SELECT " INV_COLS INV_FROM " WHERE i.account_id=? AND i.accepted_ms=0"
					   " AND i.expires_ms>? ORDER BY i.id")))
		return rc;
	sql_bind_int64(q.st, 1, account_id);
	sql_bind_int64(q.st, 2, now_ms());
	while ((rc = sql_step(q.st)) == SQL_ROW) {
		*out = arena_grow(a, *out, *n, &cap, sizeof(**out));
		invite_row(a, q.st, &(*out)[(*n)++]);
	}
	tenant_sq_finish(&q);
	return rc;
}

int members_invite_revoke(struct tenant *t, int64_t account_id, const char *pid)
{
	struct sq q;
	int rc;

	if ((rc = tenant_sq_prepare(t, &q, "DELETE FROM invites WHERE account_id=? AND pid=? AND accepted_ms=0")))
		return rc;
	sql_bind_int64(q.st, 1, account_id);
	sql_bind_str(q.st, 2, pid);
	return tenant_sq_change(&q);
}

int members_invite_by_token(struct tenant *t, const uint8_t token_hash[32], struct arena *a,
			    struct invite *out)
{
	struct sql_conn *c;
	int rc;

	if ((rc = tenant_sql_get(t, &c)))
		return rc;
	rc = pending_by_token(c, token_hash, now_ms(), a, out);
	tenant_sql_put(t, c);
	return rc;
}

int members_invite_by_id(struct tenant *t, int64_t id, struct arena *a, struct invite *out)
{
	struct sql_conn *c;
	int rc;

	if ((rc = tenant_sql_get(t, &c)))
		return rc;
	rc = invite_one(c, INV_BY_ID, NULL, id, a, out);
	tenant_sql_put(t, c);
	return rc;
}

/* The accepted mark; the row must still be pending (the transaction's
 * lock makes that certain, the condition says it). */
static int mark_accepted(struct tx *x, struct invite *v)
{
	struct sql_stmt *st;
	int64_t changed;
	int rc;

	if ((rc = sql_prepare(x->c, "UPDATE invites SET accepted_ms=? WHERE id=? AND accepted_ms=0", &st)))
		return rc;
	sql_bind_int64(st, 1, x->now);
	sql_bind_int64(st, 2, v->id);
	rc = sql_step(st);
	changed = sql_changes(st);
	sql_finalize(st);
	if (rc)
		return rc;
	if (changed != 1)
		return INLET_ENOTFOUND;
	v->accepted_ms = x->now;
	return 0;
}

int members_invite_accept(struct tenant *t, const uint8_t token_hash[32], int64_t user_id, struct arena *a,
			  struct invite *out)
{
	struct tx x;
	int rc, found = 0;

	if ((rc = tx_begin(t, &x)) || (rc = pending_for_accept(&x, token_hash, a, out)))
		return tx_end(&x, rc);
	rc = exists(&x, "SELECT 1 FROM memberships WHERE account_id=? AND user_id=?", out->account_id, user_id,
		    NULL, &found);
	if (!rc && found)
		rc = INLET_EEXISTS;
	if (!rc)
		rc = add_membership(&x, user_id, out->account_id, out->role);
	if (!rc)
		rc = mark_accepted(&x, out);
	return tx_end(&x, rc);
}

int members_invite_accept_new(struct tenant *t, const uint8_t token_hash[32], const char *name,
			      const char *password_hash, struct arena *a, struct invite *out, int64_t *user_id)
{
	struct tx x;
	struct sql_stmt *st = NULL;
	char *pid = rand_id("usr_", 12);
	int rc, found = 0;

	if ((rc = tx_begin(t, &x)) || (rc = pending_for_accept(&x, token_hash, a, out)))
		goto out;
	if ((rc = sql_prepare(x.c, "SELECT 1 FROM users WHERE email=?", &st)))
		goto out;
	sql_bind_str(st, 1, out->email);
	found = sql_step(st);
	sql_finalize(st);
	st = NULL;
	if (found != SQL_DONE) {
		rc = found == SQL_ROW ? INLET_EEXISTS : found;
		goto out;
	}
	if ((rc = sql_prepare(x.c, "INSERT INTO users(pid,email,name,password_hash,created_ms) VALUES(?,?,?,?,?)"
				   " RETURNING id", &st)))
		goto out;
	sql_bind_str(st, 1, pid);
	sql_bind_str(st, 2, out->email);
	sql_bind_str(st, 3, name ? name : "");
	sql_bind_str(st, 4, password_hash);
	sql_bind_int64(st, 5, x.now);
	if ((rc = sql_step(st)) == SQL_ROW)
		*user_id = sql_column_int64(st, 0);
	rc = rc == SQL_ROW ? 0 : rc == SQL_DONE ? INLET_EDB : rc;
	sql_finalize(st);
	st = NULL;
	if (rc)
		goto out;
	if (!(rc = add_membership(&x, *user_id, out->account_id, out->role)))
		rc = mark_accepted(&x, out);
out:
	sql_finalize(st);
	free(pid);
	return tx_end(&x, rc);
}

/* ---- members --------------------------------------------------------------- */

#define MEM_COLS "u.id,u.pid,u.email,u.name,m.role,m.created_ms"
#define MEM_FROM " FROM memberships m JOIN users u ON u.id=m.user_id"

static void member_row(struct arena *a, struct sql_stmt *st, struct member *m)
{
	m->user_id = sql_column_int64(st, 0);
	m->user_pid = tenant_sql_str(a, st, 1);
	m->email = tenant_sql_str(a, st, 2);
	m->name = tenant_sql_str(a, st, 3);
	m->role = tenant_sql_str(a, st, 4);
	m->joined_ms = sql_column_int64(st, 5);
}

int members_list(struct tenant *t, int64_t account_id, struct arena *a, struct member **out, size_t *n)
{
	struct sq q;
	size_t cap = 0;
	int rc;

	*n = 0;
	*out = NULL;
	if ((rc = tenant_sq_prepare(t, &q, "SELECT " MEM_COLS MEM_FROM " WHERE m.account_id=? ORDER BY"
					   " CASE m.role WHEN 'owner' THEN 0 WHEN 'admin' THEN 1 WHEN 'member' THEN 2"
					   " ELSE 3 END, m.created_ms, u.id")))
		return rc;
	sql_bind_int64(q.st, 1, account_id);
	while ((rc = sql_step(q.st)) == SQL_ROW) {
		*out = arena_grow(a, *out, *n, &cap, sizeof(**out));
		member_row(a, q.st, &(*out)[(*n)++]);
	}
	tenant_sq_finish(&q);
	return rc;
}

/* Member user_pid of the account, inside a transaction. */
static int member_of(struct tx *x, int64_t account_id, const char *user_pid, struct arena *a, struct member *out)
{
	struct sql_stmt *st;
	int rc;

	if ((rc = sql_prepare(x->c, "SELECT " MEM_COLS MEM_FROM " WHERE m.account_id=? AND u.pid=?", &st)))
		return rc;
	sql_bind_int64(st, 1, account_id);
	sql_bind_str(st, 2, user_pid);
	rc = sql_step(st);
	if (rc == SQL_ROW)
		member_row(a, st, out);
	sql_finalize(st);
	return rc == SQL_ROW ? 0 : rc == SQL_DONE ? INLET_ENOTFOUND : rc;
}

/* Whether member m may stop being an owner (or was none): the checks that
 * members_set_role and members_remove share. */
static int owner_change_ok(struct tx *x, int64_t account_id, const struct member *m, int as_owner)
{
	struct sql_stmt *st;
	int64_t owners = 0;
	int rc;

	if (strcmp(m->role, "owner") != 0)
		return 0;
	if (!as_owner)
		return INLET_EFORBIDDEN;
	if ((rc = sql_prepare(x->c, "SELECT count(*) FROM memberships WHERE account_id=? AND role='owner'", &st)))
		return rc;
	sql_bind_int64(st, 1, account_id);
	if ((rc = sql_step(st)) == SQL_ROW)
		owners = sql_column_int64(st, 0);
	sql_finalize(st);
	if (rc < 0)
		return rc;
	return owners > 1 ? 0 : INLET_ECONFLICT;
}

int members_set_role(struct tenant *t, int64_t account_id, const char *user_pid, const char *role,
		     int as_owner, struct arena *a, struct member *out)
{
	struct tx x;
	struct sql_stmt *st;
	int rc;

	if ((rc = tx_begin(t, &x)) || (rc = lock_account(&x, account_id)) ||
	    (rc = member_of(&x, account_id, user_pid, a, out)))
		return tx_end(&x, rc);
	if (strcmp(out->role, role) == 0)
		return tx_end(&x, 0);
	if (strcmp(role, "owner") == 0 && !as_owner)
		return tx_end(&x, INLET_EFORBIDDEN);
	if ((rc = owner_change_ok(&x, account_id, out, as_owner)))
		return tx_end(&x, rc);
	if ((rc = sql_prepare(x.c, "UPDATE memberships SET role=? WHERE account_id=? AND user_id=?", &st)))
		return tx_end(&x, rc);
	sql_bind_str(st, 1, role);
	sql_bind_int64(st, 2, account_id);
	sql_bind_int64(st, 3, out->user_id);
	if (!(rc = run(st)))
		out->role = arena_strdup(a, role);
	return tx_end(&x, rc);
}

int members_remove(struct tenant *t, int64_t account_id, const char *user_pid, int as_owner)
{
	struct arena *a = arena_create(512);
	struct member m;
	struct tx x;
	struct sql_stmt *st;
	int rc;

	if ((rc = tx_begin(t, &x)) || (rc = lock_account(&x, account_id)) ||
	    (rc = member_of(&x, account_id, user_pid, a, &m)) || (rc = owner_change_ok(&x, account_id, &m, as_owner)))
		goto out;
	if ((rc = sql_prepare(x.c, "DELETE FROM memberships WHERE account_id=? AND user_id=?", &st)))
		goto out;
	sql_bind_int64(st, 1, account_id);
	sql_bind_int64(st, 2, m.user_id);
	rc = run(st);
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
	struct sql_stmt *st = NULL;
	char *pid = rand_id("acc_", 12);
	int rc;

	if ((rc = tx_begin(t, &x)) ||
	    (rc = sql_prepare(x.c, "INSERT INTO accounts(pid,name,created_ms) VALUES(?,?,?) RETURNING id", &st)))
		goto out;
	sql_bind_str(st, 1, pid);
	sql_bind_str(st, 2, name);
	sql_bind_int64(st, 3, x.now);
	if ((rc = sql_step(st)) == SQL_ROW)
		out->id = sql_column_int64(st, 0);
	rc = rc == SQL_ROW ? 0 : rc == SQL_DONE ? INLET_EDB : rc;
	sql_finalize(st);
	st = NULL;
	if (rc)
		goto out;
	out->pid = arena_strdup(a, pid);
	out->name = arena_strdup(a, name);
	out->created_ms = x.now;
	rc = add_membership(&x, user_id, out->id, "owner");
out:
	sql_finalize(st);
	free(pid);
	return tx_end(&x, rc);
}
