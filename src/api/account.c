/* GET /api/v1/account: the account and its usage (what the dashboard's
 * account page shows): endpoints, stored submissions, and this calendar
 * month's counters (UTC). */
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "api/api.h"
#include "app/app.h"
#include "core/arena.h"
#include "app/tally.h"
#include "core/enc.h"
#include "http/http.h"
#include "store/events.h"
#include "store/subs.h"
#include "store/tenant.h"

static json_object *usage_json(struct app *app, int64_t aid, struct arena *a)
{
	json_object *u = json_object_new_object(), *month = json_object_new_object();
	static const char *const names[] = { "submissions", "spam", "views", "events", "api" };
	struct endpoint *eps = NULL;
	struct ev_count *rows = NULL;
	size_t n = 0, nrows = 0;
	int64_t total = 0, forms = 0, today = now_ms() / EV_DAY_MS;
	time_t t = (time_t)(today * 86400);
	struct tm tm;

	if (tenant_endpoint_list(app->tenant, aid, a, &eps, &n) == 0) {
		for (size_t i = 0; i < n; i++) {
			int64_t c = 0;

			substore_count(app_subs(app, eps[i].id), eps[i].id, &c);
			total += c;
			forms += strcmp(eps[i].kind, "form") == 0;
		}
	}
	json_object_object_add(u, "endpoints", json_object_new_int64((int64_t)n));
	json_object_object_add(u, "forms", json_object_new_int64(forms));
	json_object_object_add(u, "projects", json_object_new_int64((int64_t)n - forms));
	json_object_object_add(u, "stored", json_object_new_int64(total));
	gmtime_r(&t, &tm);
	tally_flush(app->tally);
	evstore_counts(app->shared, aid, -1, today - (tm.tm_mday - 1), today, a, &rows, &nrows);
	for (size_t k = 0; k < sizeof(names) / sizeof(*names); k++) {
		int64_t sum = 0;

		for (size_t i = 0; i < nrows; i++)
			if (strcmp(rows[i].name, names[k]) == 0)
				sum += rows[i].n;
		json_object_object_add(month, names[k], json_object_new_int64(sum));
	}
	json_object_object_add(u, "this_month", month);
	return u;
}

void api_account_get(struct http_req *r)
{
	struct app *app = http_app(r);
	struct account acc;
	int64_t aid;
	json_object *o;
	int rc;

	if (api_auth(r, &aid))
		return;
	if ((rc = tenant_account_get(app->tenant, aid, http_arena(r), &acc))) {
		http_error_rc(r, rc);
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_string(acc.pid));
	json_object_object_add(o, "name", json_object_new_string(acc.name));
	json_object_object_add(o, "created_at", api_time_json(acc.created_ms));
	json_object_object_add(o, "usage", usage_json(app, aid, http_arena(r)));
	http_respond_json(r, 200, o);
	json_object_put(o);
}
