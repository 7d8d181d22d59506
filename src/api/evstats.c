/* Error tracking's figures: an issue's events per hour or day, an
 * endpoint's sessions per hour (with those that saw an error or a crash),
 * and the daily counters (events, pings, reports, refusals by reason,
 * management API requests). With ClickHouse configured each figure is
 * read from it, and from the embedded rollups when it fails: the same
 * answer either way (app/clickhouse.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "api/api.h"
#include "app/app.h"
#include "app/clickhouse.h"
#include "app/tally.h"
#include "core/arena.h"
#include "core/enc.h"
#include "core/err.h"
#include "core/log.h"
#include "http/http.h"
#include "store/events.h"
#include "store/tenant.h"
#include "vault/pubid.h"

#define GRAPH_MAX_HOURS (24 * 92)  /* a quarter of hourly points */
#define STATS_MAX_DAYS 366

/* ?from=&to= (ISO 8601 or ms), default the last `def_ms`; answers 400. */
static int range(struct http_req *r, int64_t def_ms, int64_t *from, int64_t *to)
{
	const char *f = http_query(r, "from"), *t = http_query(r, "to");

	*to = now_ms();
	if (t && *t && api_parse_time(t, to)) {
		http_error(r, 400, "invalid", "to must be an ISO 8601 time or unix milliseconds.");
		return INLET_EINVAL;
	}
	*from = *to - def_ms;
	if (f && *f && api_parse_time(f, from)) {
		http_error(r, 400, "invalid", "from must be an ISO 8601 time or unix milliseconds.");
		return INLET_EINVAL;
	}
	if (*from > *to) {
		http_error(r, 400, "invalid", "from must not be after to.");
		return INLET_EINVAL;
	}
	return 0;
}

/* ClickHouse's answer, or (logged) the embedded rollups'. Flushes first:
 * an event just answered 2xx is in the graph. */
static int issue_points(struct app *app, int64_t endpoint_id, int64_t issue_id, int64_t from, int64_t to,
			int64_t bucket, struct arena *a, struct ev_point **pts, size_t *n)
{
	int rc;

	if (app->ch) {
		if ((rc = ch_flush(app->ch)) == 0 &&
		    (rc = ch_issue_graph(app->ch, endpoint_id, issue_id, from, to, bucket, a, pts, n)) == 0)
			return 0;
		log_msg(LOG_WARN, "clickhouse: issue graph answered from the embedded rollups (%s)", inlet_strerror(rc));
	}
	return evstore_issue_graph(app_subs(app, endpoint_id), issue_id, from, to, bucket, a, pts, n);
}

static int session_points(struct app *app, int64_t endpoint_id, int64_t from, int64_t to, struct arena *a,
			  struct ev_point **pts, size_t *n)
{
	int rc;

	if (app->ch) {
		if ((rc = ch_flush(app->ch)) == 0 &&
		    (rc = ch_session_graph(app->ch, endpoint_id, from, to, a, pts, n)) == 0)
			return 0;
		log_msg(LOG_WARN, "clickhouse: sessions graph answered from the embedded rollups (%s)",
			inlet_strerror(rc));
	}
	return evstore_session_graph(app_subs(app, endpoint_id), endpoint_id, from, to, a, pts, n);
}

static const char *const issue_cols[] = { "count" };
static const char *const session_cols[] = { "sessions", "errored", "crashed" };

/* [{"t": ms, cols[0]: a, cols[1]: b, cols[2]: c}, ...] */
static json_object *points_json(const struct ev_point *pts, size_t n, const char *const *cols, int ncols)
{
	json_object *data = json_object_new_array();

	for (size_t i = 0; i < n; i++) {
		json_object *p = json_object_new_object();
		const int64_t v[3] = { pts[i].a, pts[i].b, pts[i].c };

		json_object_object_add(p, "t", json_object_new_int64(pts[i].t));
		for (int k = 0; k < ncols && k < 3; k++)
			json_object_object_add(p, cols[k], json_object_new_int64(v[k]));
		json_object_array_add(data, p);
	}
	return data;
}

void api_issue_graph(struct http_req *r)
{
	struct app *app = http_app(r);
	struct endpoint e = { 0 };
	struct ev_point *pts;
	const char *iv = http_query(r, "interval");
	int64_t aid, id, epid, from, to, bucket = EV_HOUR_MS;
	size_t n;
	json_object *o, *data;
	int rc;

	if (api_auth(r, &aid))
		return;
	rc = pubid_decode(app->ids, "iss_", http_param(r, "id"), &id, &epid);
	if (!rc)
		rc = tenant_endpoint_by_id(app->tenant, epid, http_arena(r), &e);
	if (!rc && e.account_id != aid)
		rc = INLET_ENOTFOUND;
	if (rc) {
		http_error(r, 404, "not_found", "No such issue.");
		return;
	}
	{
		struct ev_issue is;

		rc = evstore_issue(app_subs(app, e.id), e.id, id, http_arena(r), &is);
		if (rc) {
			if (rc == INLET_ENOTFOUND)
				http_error(r, 404, "not_found", "No such issue.");
			else
				http_error_rc(r, rc);
			return;
		}
	}
	if (iv && *iv) {
		if (strcmp(iv, "day") == 0) {
			bucket = EV_DAY_MS;
		} else if (strcmp(iv, "hour") != 0) {
			http_error(r, 400, "invalid", "interval must be hour or day.");
			return;
		}
	}
	if (range(r, bucket == EV_DAY_MS ? 30 * EV_DAY_MS : EV_DAY_MS, &from, &to))
		return;
	if ((to - from) / bucket > GRAPH_MAX_HOURS) {
		http_error(r, 400, "invalid", "The range has too many points; use interval=day or a shorter range.");
		return;
	}
	if ((rc = issue_points(app, e.id, id, from - from % bucket, to, bucket, http_arena(r), &pts, &n))) {
		http_error_rc(r, rc);
		return;
	}
	data = points_json(pts, n, issue_cols, 1);
	o = json_object_new_object();
	json_object_object_add(o, "interval", json_object_new_string(bucket == EV_DAY_MS ? "day" : "hour"));
	json_object_object_add(o, "data", data);
	http_respond_json(r, 200, o);
	json_object_put(o);
}

void api_sessions_graph(struct http_req *r)
{
	struct app *app = http_app(r);
	struct endpoint e;
	struct ev_point *pts;
	int64_t aid, from, to;
	size_t n;
	json_object *o, *data;
	int rc;

	if (api_auth(r, &aid) || api_endpoint(r, aid, &e) || range(r, EV_DAY_MS, &from, &to))
		return;
	if ((to - from) / EV_HOUR_MS > GRAPH_MAX_HOURS) {
		http_error(r, 400, "invalid", "The range is longer than 92 days.");
		return;
	}
	if ((rc = session_points(app, e.id, from - from % EV_HOUR_MS, to, http_arena(r), &pts, &n))) {
		http_error_rc(r, rc);
		return;
	}
	data = points_json(pts, n, session_cols, 3);
	o = json_object_new_object();
	json_object_object_add(o, "data", data);
	http_respond_json(r, 200, o);
	json_object_put(o);
}

static void day_name(int64_t day, char out[16])
{
	time_t t = (time_t)(day * 86400);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 16, "%Y-%m-%d", &tm);
}

/* Days [today - days + 1, today] of (account, endpoint), one object per
 * day with every counter; "denied.<reason>" counters go under "denied". */
static void respond_counts(struct http_req *r, int64_t aid, int64_t epid, const char *const *names, int nnames)
{
	struct app *app = http_app(r);
	const char *v = http_query(r, "days");
	struct ev_count *rows;
	int64_t today = now_ms() / EV_DAY_MS, days = 30;
	size_t n, k = 0;
	json_object *o, *data;
	int rc;

	if (v && *v) {
		char *end;

		days = strtol(v, &end, 10);
		if (*end || days < 1 || days > STATS_MAX_DAYS) {
			http_error(r, 400, "invalid", "days must be a whole number from 1 to 366.");
			return;
		}
	}
	if ((rc = tally_counts(app->tally, aid, epid, today - days + 1, today, http_arena(r), &rows, &n))) {
		http_error_rc(r, rc);
		return;
	}
	data = json_object_new_array();
	for (int64_t d = today - days + 1; d <= today; d++) {
		json_object *day = json_object_new_object(), *denied = json_object_new_object();
		char name[16];

		day_name(d, name);
		json_object_object_add(day, "day", json_object_new_string(name));
		for (int i = 0; i < nnames; i++)
			json_object_object_add(day, names[i], json_object_new_int64(0));
		for (; k < n && rows[k].day == d; k++) {
			if (strncmp(rows[k].name, "denied.", 7) == 0)
				json_object_object_add(denied, rows[k].name + 7, json_object_new_int64(rows[k].n));
			else
				json_object_object_add(day, rows[k].name, json_object_new_int64(rows[k].n));
		}
		if (epid > 0)
			json_object_object_add(day, "denied", denied);
		else
			json_object_put(denied);
		json_object_array_add(data, day);
	}
	o = json_object_new_object();
	json_object_object_add(o, "data", data);
	http_respond_json(r, 200, o);
	json_object_put(o);
}

void api_endpoint_stats(struct http_req *r)
{
	static const char *const events[] = { "events", "pings", "reports", "ignored" };
	static const char *const forms[] = { "submissions", "spam", "views" };
	struct endpoint e;
	int64_t aid;

	if (api_auth(r, &aid) || api_endpoint(r, aid, &e))
		return;
	if (strcmp(e.kind, "form") == 0)
		respond_counts(r, aid, e.id, forms, 3);
	else
		respond_counts(r, aid, e.id, events, 4);
}

void api_account_stats(struct http_req *r)
{
	static const char *const names[] = { "api", "submissions", "spam", "views", "events" };
	int64_t aid;

	if (api_auth(r, &aid))
		return;
	/* Every endpoint's counters summed, and the account's own (api). */
	respond_counts(r, aid, -1, names, 5);
}
