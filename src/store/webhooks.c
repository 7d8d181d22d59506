#include "store/webhooks.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/arena.h"
#include "core/enc.h"
#include "core/err.h"
#include "store/db.h"
#include "store/tenant_int.h"

#define WH_COLS "id,account_id,endpoint_id,pid,url,events,format,secret,key_version,enabled," \
		"disabled_reason,failures,created_ms"
#define DL_COLS "id,webhook_id,ref,pid,event,delivery,attempt,status,latency_ms,response,error,created_ms"

static void wh_row(struct arena *a, sqlite3_stmt *st, struct webhook *w)
{
	memset(w, 0, sizeof(*w));
	w->id = sqlite3_column_int64(st, 0);
	w->account_id = sqlite3_column_int64(st, 1);
	w->endpoint_id = sqlite3_column_int64(st, 2);
	w->pid = tenant_col_str(a, st, 3);
	w->url = tenant_col_str(a, st, 4);
	w->events = tenant_col_str(a, st, 5);
	w->format = tenant_col_str(a, st, 6);
	w->secret_len = (size_t)sqlite3_column_bytes(st, 7);
	w->secret = arena_memdup(a, sqlite3_column_blob(st, 7), w->secret_len);
	w->key_version = (uint32_t)sqlite3_column_int64(st, 8);
	w->enabled = sqlite3_column_int(st, 9);
	w->disabled_reason = tenant_col_str(a, st, 10);
	w->failures = sqlite3_column_int(st, 11);
	w->created_ms = sqlite3_column_int64(st, 12);
}

static void dl_row(struct arena *a, sqlite3_stmt *st, struct delivery *d)
{
	memset(d, 0, sizeof(*d));
	d->id = sqlite3_column_int64(st, 0);
	d->webhook_id = sqlite3_column_int64(st, 1);
	d->ref = sqlite3_column_int64(st, 2);
	d->pid = tenant_col_str(a, st, 3);
	d->event = tenant_col_str(a, st, 4);
	d->delivery = tenant_col_str(a, st, 5);
	d->attempt = sqlite3_column_int(st, 6);
	d->status = sqlite3_column_int(st, 7);
	d->latency_ms = sqlite3_column_int64(st, 8);
	d->response = tenant_col_str(a, st, 9);
	d->error = tenant_col_str(a, st, 10);
	d->created_ms = sqlite3_column_int64(st, 11);
}

/* Steps q collecting webhook rows. */
static int wh_rows(struct q *q, struct arena *a, struct webhook **out, size_t *n)
{
	size_t cap = 0;
	int rc;

	*n = 0;
	*out = NULL;
	while ((rc = sqlite3_step(q->st)) == SQLITE_ROW) {
		*out = arena_grow(a, *out, *n, &cap, sizeof(**out));
		wh_row(a, q->st, &(*out)[(*n)++]);
	}
	rc = rc == SQLITE_DONE ? 0 : db_rc(q->db, rc);
	tenant_q_finish(q);
	return rc;
}

static int wh_one(struct q *q, struct arena *a, struct webhook *out)
{
	struct webhook *rows;
	size_t n;
	int rc = wh_rows(q, a, &rows, &n);

	if (rc)
		return rc;
	if (!n)
		return INLET_ENOTFOUND;
	*out = rows[0];
	return 0;
}

int webhooks_create(struct tenant *t, const struct webhook *w)
{
	struct q q;
	int rc;

	if ((rc = tenant_q_prepare(t, &q, "INSERT INTO webhooks(pid,account_id,endpoint_id,url,events,format,"
					  "secret,key_version,enabled,created_ms) VALUES(?,?,?,?,?,?,?,?,?,?)")))
		return rc;
	sqlite3_bind_text(q.st, 1, w->pid, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q.st, 2, w->account_id);
	sqlite3_bind_int64(q.st, 3, w->endpoint_id);
	sqlite3_bind_text(q.st, 4, w->url, -1, SQLITE_STATIC);
	sqlite3_bind_text(q.st, 5, w->events, -1, SQLITE_STATIC);
	sqlite3_bind_text(q.st, 6, w->format, -1, SQLITE_STATIC);
	sqlite3_bind_blob(q.st, 7, w->secret, (int)w->secret_len, SQLITE_STATIC);
	sqlite3_bind_int64(q.st, 8, w->key_version);
	sqlite3_bind_int(q.st, 9, w->enabled);
	sqlite3_bind_int64(q.st, 10, w->created_ms ? w->created_ms : now_ms());
	rc = tenant_q_run(&q);
	tenant_q_finish(&q);
	return rc;
}

int webhooks_list(struct tenant *t, int64_t account_id, int64_t endpoint_id, struct arena *a,
		  struct webhook **out, size_t *n)
{
	struct q q;
	int rc;

	if ((rc = tenant_q_prepare(t, &q, "SELECT " WH_COLS " FROM webhooks WHERE account_id=? AND endpoint_id=?"
					  " ORDER BY id")))
		return rc;
	sqlite3_bind_int64(q.st, 1, account_id);
	sqlite3_bind_int64(q.st, 2, endpoint_id);
	return wh_rows(&q, a, out, n);
}

int webhooks_get(struct tenant *t, int64_t account_id, const char *pid, struct arena *a, struct webhook *out)
{
	struct q q;
	int rc;

	if ((rc = tenant_q_prepare(t, &q, "SELECT " WH_COLS " FROM webhooks WHERE pid=?1 AND (?2=0 OR account_id=?2)")))
		return rc;
	sqlite3_bind_text(q.st, 1, pid, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q.st, 2, account_id);
	return wh_one(&q, a, out);
}

int webhooks_by_id(struct tenant *t, int64_t id, struct arena *a, struct webhook *out)
{
	struct q q;
	int rc;

	if ((rc = tenant_q_prepare(t, &q, "SELECT " WH_COLS " FROM webhooks WHERE id=?")))
		return rc;
	sqlite3_bind_int64(q.st, 1, id);
	return wh_one(&q, a, out);
}

int webhooks_update(struct tenant *t, int64_t account_id, const char *pid, const char *url, const char *events,
		    const char *format, int enabled)
{
	struct q q;
	int rc;

	if ((rc = tenant_q_prepare(t, &q, "UPDATE webhooks SET url=coalesce(?3,url), events=coalesce(?4,events),"
					  " format=coalesce(?5,format),"
					  " failures=CASE WHEN ?6=1 AND enabled=0 THEN 0 ELSE failures END,"
					  " disabled_reason=CASE WHEN ?6=1 THEN '' ELSE disabled_reason END,"
					  " enabled=CASE WHEN ?6>=0 THEN ?6 ELSE enabled END"
					  " WHERE pid=?1 AND account_id=?2")))
		return rc;
	sqlite3_bind_text(q.st, 1, pid, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q.st, 2, account_id);
	if (url)
		sqlite3_bind_text(q.st, 3, url, -1, SQLITE_STATIC);
	if (events)
		sqlite3_bind_text(q.st, 4, events, -1, SQLITE_STATIC);
	if (format)
		sqlite3_bind_text(q.st, 5, format, -1, SQLITE_STATIC);
	sqlite3_bind_int(q.st, 6, enabled);
	return tenant_q_change(&q);
}

int webhooks_delete(struct tenant *t, int64_t account_id, const char *pid)
{
	struct q q;
	int rc;

	if ((rc = tenant_q_prepare(t, &q, "DELETE FROM webhooks WHERE pid=? AND account_id=?")))
		return rc;
	sqlite3_bind_text(q.st, 1, pid, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q.st, 2, account_id);
	return tenant_q_change(&q);
}

int webhooks_for_event(struct tenant *t, int64_t endpoint_id, const char *event, struct arena *a,
		       struct webhook **out, size_t *n)
{
	struct q q;
	int rc;

	/* events is a JSON array of names from a fixed set: a quoted match
	 * inside it is exact. */
	if ((rc = tenant_q_prepare(t, &q, "SELECT " WH_COLS " FROM webhooks WHERE endpoint_id=?1 AND enabled=1"
					  " AND instr(events, '\"' || ?2 || '\"') > 0 ORDER BY id")))
		return rc;
	sqlite3_bind_int64(q.st, 1, endpoint_id);
	sqlite3_bind_text(q.st, 2, event, -1, SQLITE_STATIC);
	return wh_rows(&q, a, out, n);
}

int webhooks_any(struct tenant *t, int64_t endpoint_id, int *any)
{
	struct q q;
	int rc;

	*any = 0;
	if ((rc = tenant_q_prepare(t, &q, "SELECT 1 FROM webhooks WHERE endpoint_id=? AND enabled=1 LIMIT 1")))
		return rc;
	sqlite3_bind_int64(q.st, 1, endpoint_id);
	rc = sqlite3_step(q.st);
	*any = rc == SQLITE_ROW;
	rc = (rc == SQLITE_ROW || rc == SQLITE_DONE) ? 0 : db_rc(q.db, rc);
	tenant_q_finish(&q);
	return rc;
}

int webhooks_record(struct tenant *t, struct delivery *d, int ok, const char *reason, int *disabled)
{
	struct q q;
	char *pid = rand_id("att_", 12);
	int rc;

	*disabled = 0;
	/* The time is taken inside the write, under SQLite's lock, so it
	 * grows with the id (the order the log is read in). */
	if ((rc = tenant_q_prepare(t, &q, "INSERT INTO deliveries(pid,webhook_id,event,delivery,ref,attempt,status,"
					  "latency_ms,response,error,created_ms) VALUES(?,?,?,?,?,?,?,?,?,?,"
					  "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER))")))
		goto out;
	sqlite3_bind_text(q.st, 1, pid, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q.st, 2, d->webhook_id);
	sqlite3_bind_text(q.st, 3, d->event, -1, SQLITE_STATIC);
	sqlite3_bind_text(q.st, 4, d->delivery, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q.st, 5, d->ref);
	sqlite3_bind_int(q.st, 6, d->attempt);
	sqlite3_bind_int(q.st, 7, d->status);
	sqlite3_bind_int64(q.st, 8, d->latency_ms);
	sqlite3_bind_text(q.st, 9, d->response ? d->response : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(q.st, 10, d->error ? d->error : "", -1, SQLITE_STATIC);
	rc = tenant_q_run(&q);
	tenant_q_finish(&q);
	if (rc)
		goto out;
	/* Count the attempt; the 50th straight failure switches it off. */
	if ((rc = tenant_q_prepare(t, &q, "UPDATE webhooks SET"
					  " failures=CASE WHEN ?2 THEN 0 ELSE failures+1 END,"
					  " enabled=CASE WHEN ?2=0 AND failures+1>=?3 THEN 0 ELSE enabled END,"
					  " disabled_reason=CASE WHEN ?2=0 AND failures+1>=?3 AND enabled=1 THEN ?4"
					  "   ELSE disabled_reason END"
					  " WHERE id=?1 RETURNING enabled")))
		goto out;
	sqlite3_bind_int64(q.st, 1, d->webhook_id);
	sqlite3_bind_int(q.st, 2, ok ? 1 : 0);
	sqlite3_bind_int(q.st, 3, WEBHOOK_DISABLE_AFTER);
	sqlite3_bind_text(q.st, 4, reason ? reason : "", -1, SQLITE_STATIC);
	rc = sqlite3_step(q.st);
	if (rc == SQLITE_ROW)
		*disabled = !ok && sqlite3_column_int(q.st, 0) == 0;
	while (rc == SQLITE_ROW)
		rc = sqlite3_step(q.st);
	rc = rc == SQLITE_DONE ? 0 : db_rc(q.db, rc);
	tenant_q_finish(&q);
out:
	free(pid);
	return rc;
}

int webhooks_deliveries(struct tenant *t, int64_t webhook_id, int64_t before, size_t limit, struct arena *a,
			struct delivery **out, size_t *n)
{
	struct q q;
	int rc;

	*n = 0;
	*out = arena_alloc(a, (limit ? limit : 1) * sizeof(**out));
	if ((rc = tenant_q_prepare(t, &q, "SELECT " DL_COLS " FROM deliveries WHERE webhook_id=?1"
					  " AND (?2=0 OR id<?2) ORDER BY webhook_id DESC, id DESC LIMIT ?3")))
		return rc;
	sqlite3_bind_int64(q.st, 1, webhook_id);
	sqlite3_bind_int64(q.st, 2, before);
	sqlite3_bind_int64(q.st, 3, (int64_t)limit);
	while ((rc = sqlite3_step(q.st)) == SQLITE_ROW && *n < limit)
		dl_row(a, q.st, &(*out)[(*n)++]);
	rc = (rc == SQLITE_DONE || rc == SQLITE_ROW) ? 0 : db_rc(q.db, rc);
	tenant_q_finish(&q);
	return rc;
}

int webhooks_delivery_get(struct tenant *t, int64_t account_id, const char *pid, struct arena *a,
			  struct delivery *out, struct webhook *wh)
{
	struct q q;
	int rc;

	if ((rc = tenant_q_prepare(t, &q, "SELECT " DL_COLS " FROM deliveries WHERE pid=?")))
		return rc;
	sqlite3_bind_text(q.st, 1, pid, -1, SQLITE_STATIC);
	rc = sqlite3_step(q.st);
	if (rc == SQLITE_ROW)
		dl_row(a, q.st, out);
	rc = rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? INLET_ENOTFOUND : db_rc(q.db, rc);
	tenant_q_finish(&q);
	if (rc)
		return rc;
	if ((rc = webhooks_by_id(t, out->webhook_id, a, wh)))
		return rc;
	return wh->account_id == account_id ? 0 : INLET_ENOTFOUND;
}
