#include "store/sessions.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/arena.h"
#include "core/enc.h"
#include "core/err.h"
#include "store/db.h"
#include "store/tenant_int.h"

#define TOUCH_EVERY_MS 60000

static int user_one(struct tenant *t, const char *sql, const char *s, int64_t id, struct arena *a,
		    struct user *out)
{
	struct q q;
	int rc;

	if ((rc = tenant_q_prepare(t, &q, sql)))
		return rc;
	if (s)
		sqlite3_bind_text(q.st, 1, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_int64(q.st, 1, id);
	rc = sqlite3_step(q.st);
	if (rc == SQLITE_ROW) {
		out->id = sqlite3_column_int64(q.st, 0);
		out->pid = tenant_col_str(a, q.st, 1);
		out->email = tenant_col_str(a, q.st, 2);
		out->password_hash = tenant_col_str(a, q.st, 3);
		rc = 0;
	} else {
		rc = rc == SQLITE_DONE ? INLET_ENOTFOUND : db_rc(q.db, rc);
	}
	tenant_q_finish(&q);
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
	struct q q;
	int rc;

	*n = 0;
	if ((rc = tenant_q_prepare(t, &q, "SELECT count(*) FROM users")))
		return rc;
	rc = sqlite3_step(q.st);
	if (rc == SQLITE_ROW)
		*n = sqlite3_column_int64(q.st, 0);
	rc = rc == SQLITE_ROW ? 0 : db_rc(q.db, rc);
	tenant_q_finish(&q);
	return rc;
}

int sessions_memberships(struct tenant *t, int64_t user_id, struct arena *a, struct membership **out, size_t *n)
{
	struct q q;
	size_t cap = 0;
	int rc;

	*n = 0;
	*out = NULL;
	if ((rc = tenant_q_prepare(t, &q, "SELECT a.id,a.pid,a.name,m.role FROM memberships m"
					  " JOIN accounts a ON a.id=m.account_id WHERE m.user_id=?"
					  " ORDER BY m.created_ms, a.id")))
		return rc;
	sqlite3_bind_int64(q.st, 1, user_id);
	while ((rc = sqlite3_step(q.st)) == SQLITE_ROW) {
		struct membership *m;

		*out = arena_grow(a, *out, *n, &cap, sizeof(**out));
		m = &(*out)[(*n)++];
		m->account_id = sqlite3_column_int64(q.st, 0);
		m->account_pid = tenant_col_str(a, q.st, 1);
		m->account_name = tenant_col_str(a, q.st, 2);
		m->role = tenant_col_str(a, q.st, 3);
	}
	rc = rc == SQLITE_DONE ? 0 : db_rc(q.db, rc);
	tenant_q_finish(&q);
	return rc;
}

int sessions_create(struct tenant *t, int64_t user_id, const uint8_t token_hash[32], const char *user_agent,
		    char **out_pid)
{
	struct q q;
	int64_t now = now_ms();
	char *pid = rand_id("ses_", 12);
	int rc;

	if ((rc = tenant_q_prepare(t, &q, "INSERT INTO sessions(pid,token_hash,user_id,user_agent,created_ms,"
					  "last_seen_ms,expires_ms) VALUES(?,?,?,?,?,?,?)"))) {
		free(pid);
		return rc;
	}
	sqlite3_bind_text(q.st, 1, pid, -1, SQLITE_STATIC);
	sqlite3_bind_blob(q.st, 2, token_hash, 32, SQLITE_STATIC);
	sqlite3_bind_int64(q.st, 3, user_id);
	sqlite3_bind_text(q.st, 4, user_agent ? user_agent : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(q.st, 5, now);
	sqlite3_bind_int64(q.st, 6, now);
	sqlite3_bind_int64(q.st, 7, now + SESSION_TTL_MS);
	rc = tenant_q_run(&q);
	tenant_q_finish(&q);
	if (rc) {
		free(pid);
		return rc;
	}
	*out_pid = pid;
	return 0;
}

#define SES_COLS "id,pid,user_id,user_agent,created_ms,last_seen_ms,expires_ms"

static void ses_row(struct arena *a, sqlite3_stmt *st, struct session *s)
{
	s->id = sqlite3_column_int64(st, 0);
	s->pid = tenant_col_str(a, st, 1);
	s->user_id = sqlite3_column_int64(st, 2);
	s->user_agent = tenant_col_str(a, st, 3);
	s->created_ms = sqlite3_column_int64(st, 4);
	s->last_seen_ms = sqlite3_column_int64(st, 5);
	s->expires_ms = sqlite3_column_int64(st, 6);
}

int sessions_get(struct tenant *t, const uint8_t token_hash[32], struct arena *a, struct session *out)
{
	struct q q;
	int64_t now = now_ms();
	int rc;

	if ((rc = tenant_q_prepare(t, &q, "SELECT " SES_COLS " FROM sessions WHERE token_hash=? AND expires_ms>?")))
		return rc;
	sqlite3_bind_blob(q.st, 1, token_hash, 32, SQLITE_STATIC);
	sqlite3_bind_int64(q.st, 2, now);
	rc = sqlite3_step(q.st);
	if (rc == SQLITE_ROW)
		ses_row(a, q.st, out);
	rc = rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? INLET_ENOTFOUND : db_rc(q.db, rc);
	tenant_q_finish(&q);
	if (rc || now - out->last_seen_ms < TOUCH_EVERY_MS)
		return rc;
	/* Seen now: rarely written, so reads stay reads. */
	if (tenant_q_prepare(t, &q, "UPDATE sessions SET last_seen_ms=?, expires_ms=? WHERE id=?") == 0) {
		sqlite3_bind_int64(q.st, 1, now);
		sqlite3_bind_int64(q.st, 2, now + SESSION_TTL_MS);
		sqlite3_bind_int64(q.st, 3, out->id);
		(void)tenant_q_run(&q);
		tenant_q_finish(&q);
	}
	return 0;
}

int sessions_delete(struct tenant *t, const uint8_t token_hash[32])
{
	struct q q;
	int rc;

	if ((rc = tenant_q_prepare(t, &q, "DELETE FROM sessions WHERE token_hash=?")))
		return rc;
	sqlite3_bind_blob(q.st, 1, token_hash, 32, SQLITE_STATIC);
	rc = tenant_q_run(&q);
	tenant_q_finish(&q);
	return rc;
}

int sessions_list(struct tenant *t, int64_t user_id, struct arena *a, struct session **out, size_t *n)
{
	struct q q;
	size_t cap = 0;
	int rc;

	*n = 0;
	*out = NULL;
	if ((rc = tenant_q_prepare(t, &q, "SELECT " SES_COLS " FROM sessions WHERE user_id=? AND expires_ms>?"
					  " ORDER BY id DESC")))
		return rc;
	sqlite3_bind_int64(q.st, 1, user_id);
	sqlite3_bind_int64(q.st, 2, now_ms());
	while ((rc = sqlite3_step(q.st)) == SQLITE_ROW) {
		*out = arena_grow(a, *out, *n, &cap, sizeof(**out));
		ses_row(a, q.st, &(*out)[(*n)++]);
	}
	rc = rc == SQLITE_DONE ? 0 : db_rc(q.db, rc);
	tenant_q_finish(&q);
	return rc;
}

int sessions_revoke(struct tenant *t, int64_t user_id, const char *pid)
{
	struct q q;
	int rc;

	if ((rc = tenant_q_prepare(t, &q, "DELETE FROM sessions WHERE pid=? AND user_id=?")))
		return rc;
	sqlite3_bind_text(q.st, 1, pid, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q.st, 2, user_id);
	return tenant_q_change(&q);
}
