/* The caller's account (GET /api/v1/account, with its usage: endpoints,
 * stored submissions and this calendar month's counters, UTC) and the
 * accounts of a user:
 *   GET /api/v1/accounts    a session: every account of the user, with the
 *                           role; an API key: its own account
 *   POST /api/v1/accounts   {"name"}: a new account, the user its owner
 *                           (a session only: a key acts for one account)
 * The dashboard switches between accounts with X-Inlet-Account. */
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "api/api.h"
#include "app/app.h"
#include "app/tally.h"
#include "core/arena.h"
#include "core/enc.h"
#include "core/err.h"
#include "http/http.h"
#include "store/events.h"
#include "store/members.h"
#include "store/sessions.h"
#include "store/subs.h"
#include "store/tenant.h"

#define ACCOUNT_NAME_MAX 200

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
	tally_counts(app->tally, aid, -1, today - (tm.tm_mday - 1), today, a, &rows, &nrows);
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

static json_object *account_json(const char *pid, const char *name, const char *role)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_string(pid));
	json_object_object_add(o, "name", json_object_new_string(name));
	json_object_object_add(o, "role", json_object_new_string(role));
	return o;
}

/* The session's user, with 401 answered when there is none. */
static int session_user(struct http_req *r, int csrf, struct user *u)
{
	int rc = api_session_user(r, csrf, u);

	if (rc == INLET_EAUTH)
		http_error(r, 401, "unauthorized", "Not logged in.");
	else if (rc && rc != INLET_EFORBIDDEN) /* the CSRF refusal is answered */
		http_error_rc(r, rc);
	return rc;
}

void api_accounts_list(struct http_req *r)
{
	struct app *app = http_app(r);
	struct arena *a = http_arena(r);
	json_object *o, *data = NULL;
	int rc;

	if (http_header(r, "Authorization")) {
		struct account acc;
		int64_t aid;

		if (api_auth(r, &aid))
			return;
		if ((rc = tenant_account_get(app->tenant, aid, a, &acc))) {
			http_error_rc(r, rc);
			return;
		}
		data = json_object_new_array();
		json_object_array_add(data, account_json(acc.pid, acc.name, "owner"));
	} else {
		struct membership *ms;
		struct user u;
		size_t n = 0;

		if (session_user(r, 0, &u))
			return;
		if ((rc = sessions_memberships(app->tenant, u.id, a, &ms, &n))) {
			http_error_rc(r, rc);
			return;
		}
		data = json_object_new_array();
		for (size_t i = 0; i < n; i++)
			json_object_array_add(data, account_json(ms[i].account_pid, ms[i].account_name, ms[i].role));
	}
	o = json_object_new_object();
	json_object_object_add(o, "data", data);
	http_respond_json(r, 200, o);
	json_object_put(o);
}

void api_accounts_create(struct http_req *r)
{
	struct app *app = http_app(r);
	struct account acc;
	struct user u;
	json_object *body, *o;
	const char *name = NULL;
	int rc;

	if (http_header(r, "Authorization")) {
		http_error(r, 403, "forbidden", "An API key acts for its one account: log in to create another.");
		return;
	}
	if (session_user(r, 1, &u) || !(body = api_body(r)))
		return;
	if (api_get_string(r, body, "name", &name))
		goto out;
	if (!name || !*name || strlen(name) > ACCOUNT_NAME_MAX) {
		http_error(r, 400, "invalid", "\"name\" is required (1 to 200 characters).");
		goto out;
	}
	if ((rc = members_account_create(app->tenant, u.id, name, http_arena(r), &acc))) {
		http_error_rc(r, rc);
		goto out;
	}
	o = account_json(acc.pid, acc.name, "owner");
	json_object_object_add(o, "created_at", api_time_json(acc.created_ms));
	http_respond_json(r, 201, o);
	json_object_put(o);
out:
	json_object_put(body);
}
