/* Dashboard sessions and the users behind them, on store/sql.h; the
 * contract is in sessions.h. Every statement is the same text on both
 * engines. */
#include "store/sessions.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/arena.h"
#include "core/enc.h"
#include "core/err.h"
#include "store/sql.h"
#include "store/tenant_int.h"

#define TOUCH_EVERY_MS 60000

static int user_one(struct tenant *t, const char *text, const char *s, int64_t id, struct arena *a,
		    struct user *out)
{
	struct sq q;
	int rc;

	if ((rc = tenant_sq_prepare(t, &q, text)))
		return rc;
	if (s)
		sql_bind_str(q.st, 1, s);
	else
		sql_bind_int64(q.st, 1, id);
	rc = sql_step(q.st);
	if (rc == SQL_ROW) {
		out->id = sql_column_int64(q.st, 0);
		out->pid = tenant_sql_str(a, q.st, 1);
		out->email = tenant_sql_str(a, q.st, 2);
		out->password_hash = tenant_sql_str(a, q.st, 3);
		rc = 0;
	} else if (rc == SQL_DONE) {
		rc = INLET_ENOTFOUND;
	}
	tenant_sq_finish(&q);
	return rc;
}

int sessions_user_by_email(struct tenant *t, const char *email, struct arena *a, struct user *out)
{
	return user_one(t, "SELECT id,pid,email,password_hash FROM users WHERE email=? COLLATE NOCASE", email, 0, a,
			out);
}

int sessions_user_by_id(struct tenant *t, int64_t id, struct arena *a, struct user *out)
{
	return user_one(t, "SELECT id,pid,email,password_hash FROM users WHERE id=?", NULL, id, a, out);
}

int sessions_user_count(struct tenant *t, int64_t *n)
{
	struct sq q;
	int rc;

	*n = 0;
	if ((rc = tenant_sq_prepare(t, &q, "SELECT count(*) FROM users")))
		return rc;
	rc = sql_step(q.st);
	if (rc == SQL_ROW)
		*n = sql_column_int64(q.st, 0);
	rc = rc == SQL_ROW ? 0 : rc;
	tenant_sq_finish(&q);
	return rc;
}

int sessions_memberships(struct tenant *t, int64_t user_id, struct arena *a, struct membership **out, size_t *n)
{
	struct sq q;
	size_t cap = 0;
	int rc;

	*n = 0;
	*out = NULL;
	if ((rc = tenant_sq_prepare(t, &q, "SELECT a.id,a.pid,a.name,m.role FROM memberships m"
					   " JOIN accounts a ON a.id=m.account_id WHERE m.user_id=?"
					   " ORDER BY m.created_ms, a.id")))
		return rc;
	sql_bind_int64(q.st, 1, user_id);
	while ((rc = sql_step(q.st)) == SQL_ROW) {
		struct membership *m;

		*out = arena_grow(a, *out, *n, &cap, sizeof(**out));
		m = &(*out)[(*n)++];
		m->account_id = sql_column_int64(q.st, 0);
		m->account_pid = tenant_sql_str(a, q.st, 1);
		m->account_name = tenant_sql_str(a, q.st, 2);
		m->role = tenant_sql_str(a, q.st, 3);
	}
	tenant_sq_finish(&q);
	return rc;
}

int sessions_create(struct tenant *t, int64_t user_id, const uint8_t token_hash[32], const char *user_agent,
		    char **out_pid)
{
	struct sq q;
	int64_t now = now_ms();
	char *pid = rand_id("ses_", 12);
	int rc;

	if ((rc = tenant_sq_prepare(t, &q, "INSERT INTO sessions(pid,token_hash,user_id,user_agent,created_ms,"
					   "last_seen_ms,expires_ms) VALUES(?,?,?,?,?,?,?)"))) {
		free(pid);
		return rc;
	}
	sql_bind_str(q.st, 1, pid);
	sql_bind_blob(q.st, 2, token_hash, 32);
	sql_bind_int64(q.st, 3, user_id);
	sql_bind_str(q.st, 4, user_agent ? user_agent : "");
	sql_bind_int64(q.st, 5, now);
	sql_bind_int64(q.st, 6, now);
	sql_bind_int64(q.st, 7, now + SESSION_TTL_MS);
	rc = tenant_sq_run(&q);
	tenant_sq_finish(&q);
	if (rc) {
		free(pid);
		return rc;
	}
	*out_pid = pid;
	return 0;
}

#define SES_COLS "id,pid,user_id,user_agent,created_ms,last_seen_ms,expires_ms"

static void ses_row(struct arena *a, struct sql_stmt *st, struct session *s)
{
	s->id = sql_column_int64(st, 0);
	s->pid = tenant_sql_str(a, st, 1);
	s->user_id = sql_column_int64(st, 2);
	s->user_agent = tenant_sql_str(a, st, 3);
	s->created_ms = sql_column_int64(st, 4);
	s->last_seen_ms = sql_column_int64(st, 5);
	s->expires_ms = sql_column_int64(st, 6);
}

int sessions_get(struct tenant *t, const uint8_t token_hash[32], struct arena *a, struct session *out)
{
	struct sq q;
	int64_t now = now_ms();
	int rc;

	if ((rc = tenant_sq_prepare(t, &q, "SELECT " SES_COLS " FROM sessions WHERE token_hash=? AND expires_ms>?")))
		return rc;
	sql_bind_blob(q.st, 1, token_hash, 32);
	sql_bind_int64(q.st, 2, now);
	rc = sql_step(q.st);
	if (rc == SQL_ROW)
		ses_row(a, q.st, out);
	rc = rc == SQL_ROW ? 0 : rc == SQL_DONE ? INLET_ENOTFOUND : rc;
	tenant_sq_finish(&q);
	if (rc || now - out->last_seen_ms < TOUCH_EVERY_MS)
		return rc;
	/* Seen now: rarely written, so reads stay reads. */
	if (tenant_sq_prepare(t, &q, "UPDATE sessions SET last_seen_ms=?, expires_ms=? WHERE id=?") == 0) {
		sql_bind_int64(q.st, 1, now);
		sql_bind_int64(q.st, 2, now + SESSION_TTL_MS);
		sql_bind_int64(q.st, 3, out->id);
		(void)tenant_sq_run(&q);
		tenant_sq_finish(&q);
	}
	return 0;
}

int sessions_delete(struct tenant *t, const uint8_t token_hash[32])
{
	struct sq q;
	int rc;

	if ((rc = tenant_sq_prepare(t, &q, "DELETE FROM sessions WHERE token_hash=?")))
		return rc;
	sql_bind_blob(q.st, 1, token_hash, 32);
	rc = tenant_sq_run(&q);
	tenant_sq_finish(&q);
	return rc;
}

int sessions_list(struct tenant *t, int64_t user_id, struct arena *a, struct session **out, size_t *n)
{
	struct sq q;
	size_t cap = 0;
	int rc;

	*n = 0;
	*out = NULL;
	if ((rc = tenant_sq_prepare(t, &q, "SELECT " SES_COLS " FROM sessions WHERE user_id=? AND expires_ms>?"
					   " ORDER BY id DESC")))
		return rc;
	sql_bind_int64(q.st, 1, user_id);
	sql_bind_int64(q.st, 2, now_ms());
	while ((rc = sql_step(q.st)) == SQL_ROW) {
		*out = arena_grow(a, *out, *n, &cap, sizeof(**out));
		ses_row(a, q.st, &(*out)[(*n)++]);
	}
	tenant_sq_finish(&q);
	return rc;
}

int sessions_revoke(struct tenant *t, int64_t user_id, const char *pid)
{
	struct sq q;
	int rc;

	if ((rc = tenant_sq_prepare(t, &q, "DELETE FROM sessions WHERE pid=? AND user_id=?")))
		return rc;
	sql_bind_str(q.st, 1, pid);
	sql_bind_int64(q.st, 2, user_id);
	return tenant_sq_change(&q);
}
