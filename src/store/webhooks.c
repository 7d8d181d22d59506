/* Webhooks and their delivery log, on store/sql.h; the contract is in
 * webhooks.h. One statement has a PostgreSQL suffix (the row lock in
 * webhooks_record); every other text is the same on both engines. */
#include "store/webhooks.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/arena.h"
#include "core/enc.h"
#include "core/err.h"
#include "store/sql.h"
#include "store/tenant_int.h"

#define WH_COLS "id,account_id,endpoint_id,pid,url,events,format,secret,key_version,enabled," \
		"disabled_reason,failures,created_ms"
#define DL_COLS "id,webhook_id,ref,pid,event,delivery,attempt,status,latency_ms,response,error,created_ms"

static void wh_row(struct arena *a, struct sql_stmt *st, struct webhook *w)
{
	const void *secret;

	memset(w, 0, sizeof(*w));
	w->id = sql_column_int64(st, 0);
	w->account_id = sql_column_int64(st, 1);
	w->endpoint_id = sql_column_int64(st, 2);
	w->pid = tenant_sql_str(a, st, 3);
	w->url = tenant_sql_str(a, st, 4);
	w->events = tenant_sql_str(a, st, 5);
	w->format = tenant_sql_str(a, st, 6);
	secret = sql_column_blob(st, 7, &w->secret_len);
	w->secret = arena_memdup(a, secret, w->secret_len);
	w->key_version = (uint32_t)sql_column_int64(st, 8);
	w->enabled = (int)sql_column_int64(st, 9);
	w->disabled_reason = tenant_sql_str(a, st, 10);
	w->failures = (int)sql_column_int64(st, 11);
	w->created_ms = sql_column_int64(st, 12);
}

static void dl_row(struct arena *a, struct sql_stmt *st, struct delivery *d)
{
	memset(d, 0, sizeof(*d));
	d->id = sql_column_int64(st, 0);
	d->webhook_id = sql_column_int64(st, 1);
	d->ref = sql_column_int64(st, 2);
	d->pid = tenant_sql_str(a, st, 3);
	d->event = tenant_sql_str(a, st, 4);
	d->delivery = tenant_sql_str(a, st, 5);
	d->attempt = (int)sql_column_int64(st, 6);
	d->status = (int)sql_column_int64(st, 7);
	d->latency_ms = sql_column_int64(st, 8);
	d->response = tenant_sql_str(a, st, 9);
	d->error = tenant_sql_str(a, st, 10);
	d->created_ms = sql_column_int64(st, 11);
}

/* Steps q collecting webhook rows, then finishes it. */
static int wh_rows(struct sq *q, struct arena *a, struct webhook **out, size_t *n)
{
	size_t cap = 0;
	int rc;

	*n = 0;
	*out = NULL;
	while ((rc = sql_step(q->st)) == SQL_ROW) {
		*out = arena_grow(a, *out, *n, &cap, sizeof(**out));
		wh_row(a, q->st, &(*out)[(*n)++]);
	}
	tenant_sq_finish(q);
	return rc;
}

static int wh_one(struct sq *q, struct arena *a, struct webhook *out)
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
	struct sq q;
	int rc;

	if ((rc = tenant_sq_prepare(t, &q, "INSERT INTO webhooks(pid,account_id,endpoint_id,url,events,format,"
					   "secret,key_version,enabled,created_ms) VALUES(?,?,?,?,?,?,?,?,?,?)")))
		return rc;
	sql_bind_str(q.st, 1, w->pid);
	sql_bind_int64(q.st, 2, w->account_id);
	sql_bind_int64(q.st, 3, w->endpoint_id);
	sql_bind_str(q.st, 4, w->url);
	sql_bind_str(q.st, 5, w->events);
	sql_bind_str(q.st, 6, w->format);
	sql_bind_blob(q.st, 7, w->secret, w->secret_len);
	sql_bind_int64(q.st, 8, w->key_version);
	sql_bind_int64(q.st, 9, w->enabled);
	sql_bind_int64(q.st, 10, w->created_ms ? w->created_ms : now_ms());
	rc = tenant_sq_run(&q);
	tenant_sq_finish(&q);
	return rc;
}

int webhooks_list(struct tenant *t, int64_t account_id, int64_t endpoint_id, struct arena *a,
		  struct webhook **out, size_t *n)
{
	struct sq q;
	int rc;

	*n = 0;
	*out = NULL;
	if ((rc = tenant_sq_prepare(t, &q, "SELECT " WH_COLS " FROM webhooks WHERE account_id=? AND endpoint_id=?"
					   " ORDER BY id")))
		return rc;
	sql_bind_int64(q.st, 1, account_id);
	sql_bind_int64(q.st, 2, endpoint_id);
	return wh_rows(&q, a, out, n);
}

int webhooks_get(struct tenant *t, int64_t account_id, const char *pid, struct arena *a, struct webhook *out)
{
	struct sq q;
	int rc;

	if ((rc = tenant_sq_prepare(t, &q, "SELECT " WH_COLS " FROM webhooks WHERE pid=?1 AND (?2=0 OR account_id=?2)")))
		return rc;
	sql_bind_str(q.st, 1, pid);
	sql_bind_int64(q.st, 2, account_id);
	return wh_one(&q, a, out);
}

int webhooks_by_id(struct tenant *t, int64_t id, struct arena *a, struct webhook *out)
{
	struct sq q;
	int rc;

	if ((rc = tenant_sq_prepare(t, &q, "SELECT " WH_COLS " FROM webhooks WHERE id=?")))
		return rc;
	sql_bind_int64(q.st, 1, id);
	return wh_one(&q, a, out);
}

int webhooks_update(struct tenant *t, int64_t account_id, const char *pid, const char *url, const char *events,
		    const char *format, int enabled)
{
	struct sq q;
	int rc;

	/* A NULL url, events or format keeps the column: typed casts, since
	 * PostgreSQL cannot infer a parameter that may be NULL. */
	if ((rc = tenant_sq_prepare(t, &q, "UPDATE webhooks SET url=coalesce(CAST(?3 AS TEXT),url),"
					   " events=coalesce(CAST(?4 AS TEXT),events),"
					   " format=coalesce(CAST(?5 AS TEXT),format),"
					   " failures=CASE WHEN ?6=1 AND enabled=0 THEN 0 ELSE failures END,"
					   " disabled_reason=CASE WHEN ?6=1 THEN '' ELSE disabled_reason END,"
					   " enabled=CASE WHEN ?6>=0 THEN ?6 ELSE enabled END"
					   " WHERE pid=?1 AND account_id=?2")))
		return rc;
	sql_bind_str(q.st, 1, pid);
	sql_bind_int64(q.st, 2, account_id);
	sql_bind_str(q.st, 3, url);
	sql_bind_str(q.st, 4, events);
	sql_bind_str(q.st, 5, format);
	sql_bind_int64(q.st, 6, enabled);
	return tenant_sq_change(&q);
}

int webhooks_delete(struct tenant *t, int64_t account_id, const char *pid)
{
	struct sq q;
	int rc;

	if ((rc = tenant_sq_prepare(t, &q, "DELETE FROM webhooks WHERE pid=? AND account_id=?")))
		return rc;
	sql_bind_str(q.st, 1, pid);
	sql_bind_int64(q.st, 2, account_id);
	return tenant_sq_change(&q);
}

int webhooks_for_event(struct tenant *t, int64_t endpoint_id, const char *event, struct arena *a,
		       struct webhook **out, size_t *n)
{
	struct sq q;
	int rc;

	*n = 0;
	*out = NULL;
	/* events is a JSON array of names from a fixed set: a quoted match
	 * inside it is exact. (instr is STRPOS on PostgreSQL.) */
	if ((rc = tenant_sq_prepare(t, &q, "SELECT " WH_COLS " FROM webhooks WHERE endpoint_id=?1 AND enabled=1"
					   " AND instr(events, '\"' || CAST(?2 AS TEXT) || '\"') > 0 ORDER BY id")))
		return rc;
	sql_bind_int64(q.st, 1, endpoint_id);
	sql_bind_str(q.st, 2, event);
	return wh_rows(&q, a, out, n);
}

int webhooks_any(struct tenant *t, int64_t endpoint_id, int *any)
{
	struct sq q;
	int rc;

	*any = 0;
	if ((rc = tenant_sq_prepare(t, &q, "SELECT 1 FROM webhooks WHERE endpoint_id=? AND enabled=1 LIMIT 1")))
		return rc;
	sql_bind_int64(q.st, 1, endpoint_id);
	rc = sql_step(q.st);
	*any = rc == SQL_ROW;
	rc = rc == SQL_ROW ? 0 : rc;
	tenant_sq_finish(&q);
	return rc;
}

/* Runs text (no parameters but the webhook's id as ?1) on c. */
static int run_id(struct sql_conn *c, const char *text, int64_t id)
{
	struct sql_stmt *st = NULL;
	int rc;

	if ((rc = sql_prepare(c, text, &st)))
		return rc;
	sql_bind_int64(st, 1, id);
	while ((rc = sql_step(st)) == SQL_ROW)
		;
	sql_finalize(st);
	return rc;
}

int webhooks_record(struct tenant *t, struct delivery *d, int ok, const char *reason, int *disabled)
{
	struct sql_conn *c = NULL;
	struct sql_stmt *st = NULL;
	char *pid = rand_id("att_", 12);
	int rc;

	*disabled = 0;
	if ((rc = tenant_sql_get(t, &c)))
		goto out;
	/* The time is read inside the write transaction, after its lock
	 * (SQLite's write lock; on PostgreSQL the webhook's row), so for one
	 * webhook it grows with the id, the order the log is read in. */
	if ((rc = sql_begin(c, SQL_TX_WRITE)))
		goto out;
	if (sql_engine(c) == SQL_POSTGRES &&
	    (rc = run_id(c, "SELECT id FROM webhooks WHERE id=?1 FOR UPDATE", d->webhook_id)))
		goto out;
	if ((rc = sql_prepare(c, "INSERT INTO deliveries(pid,webhook_id,event,delivery,ref,attempt,status,"
				 "latency_ms,response,error,created_ms) VALUES(?,?,?,?,?,?,?,?,?,?,?)", &st)))
		goto out;
	sql_bind_str(st, 1, pid);
	sql_bind_int64(st, 2, d->webhook_id);
	sql_bind_str(st, 3, d->event);
	sql_bind_str(st, 4, d->delivery);
	sql_bind_int64(st, 5, d->ref);
	sql_bind_int64(st, 6, d->attempt);
	sql_bind_int64(st, 7, d->status);
	sql_bind_int64(st, 8, d->latency_ms);
	sql_bind_str(st, 9, d->response ? d->response : "");
	sql_bind_str(st, 10, d->error ? d->error : "");
	sql_bind_int64(st, 11, now_ms());
	rc = sql_step(st);
	sql_finalize(st);
	st = NULL;
	if (rc)
		goto out;
	/* Count the attempt; the 50th straight failure switches it off. */
	if ((rc = sql_prepare(c, "UPDATE webhooks SET"
				 " failures=CASE WHEN ?2=1 THEN 0 ELSE failures+1 END,"
				 " enabled=CASE WHEN ?2=0 AND failures+1>=?3 THEN 0 ELSE enabled END,"
				 " disabled_reason=CASE WHEN ?2=0 AND failures+1>=?3 AND enabled=1 THEN ?4"
				 "   ELSE disabled_reason END"
				 " WHERE id=?1 RETURNING enabled", &st)))
		goto out;
	sql_bind_int64(st, 1, d->webhook_id);
	sql_bind_int64(st, 2, ok ? 1 : 0);
	sql_bind_int64(st, 3, WEBHOOK_DISABLE_AFTER);
	sql_bind_str(st, 4, reason ? reason : "");
	rc = sql_step(st);
	if (rc == SQL_ROW)
		*disabled = !ok && sql_column_int64(st, 0) == 0;
	while (rc == SQL_ROW)
		rc = sql_step(st);
	sql_finalize(st);
	st = NULL;
	if (!rc)
		rc = sql_commit(c);
out:
	sql_finalize(st);
	if (c && sql_in_tx(c))
		sql_rollback(c);
	if (rc)
		*disabled = 0;
	tenant_sql_put(t, c);
	free(pid);
	return rc;
}

int webhooks_deliveries(struct tenant *t, int64_t webhook_id, int64_t before, size_t limit, struct arena *a,
			struct delivery **out, size_t *n)
{
	struct sq q;
	int rc;

	*n = 0;
	*out = arena_alloc(a, (limit ? limit : 1) * sizeof(**out));
	if ((rc = tenant_sq_prepare(t, &q, "SELECT " DL_COLS " FROM deliveries WHERE webhook_id=?1"
					   " AND (?2=0 OR id<?2) ORDER BY webhook_id DESC, id DESC LIMIT ?3")))
		return rc;
	sql_bind_int64(q.st, 1, webhook_id);
	sql_bind_int64(q.st, 2, before);
	sql_bind_int64(q.st, 3, (int64_t)limit);
	while ((rc = sql_step(q.st)) == SQL_ROW && *n < limit)
		dl_row(a, q.st, &(*out)[(*n)++]);
	rc = rc == SQL_ROW ? 0 : rc;
	tenant_sq_finish(&q);
	return rc;
}

int webhooks_delivery_get(struct tenant *t, int64_t account_id, const char *pid, struct arena *a,
			  struct delivery *out, struct webhook *wh)
{
	struct sq q;
	int rc;

	if ((rc = tenant_sq_prepare(t, &q, "SELECT " DL_COLS " FROM deliveries WHERE pid=?")))
		return rc;
	sql_bind_str(q.st, 1, pid);
	rc = sql_step(q.st);
	if (rc == SQL_ROW)
		dl_row(a, q.st, out);
	rc = rc == SQL_ROW ? 0 : rc == SQL_DONE ? INLET_ENOTFOUND : rc;
	tenant_sq_finish(&q);
	if (rc)
		return rc;
	if ((rc = webhooks_by_id(t, out->webhook_id, a, wh)))
		return rc;
	return wh->account_id == account_id ? 0 : INLET_ENOTFOUND;
}
