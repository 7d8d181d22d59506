#include "ingest/evgate.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "app/app.h"
#include "app/tally.h"
#include "core/arena.h"
#include "core/enc.h"
#include "core/err.h"
#include "core/metrics.h"
#include "endpoint/cache.h"
#include "events/sentry_items.h"
#include "http/http.h"
#include "ingest/header.h"
#include "ingest/ratelimit.h"

static void gate_cleanup(void *arg)
{
	struct evgate *g = arg;

	ep_entry_release(g->ep);
}

void evgate_fail(struct evgate *g, int status, const char *code, const char *msg)
{
	if (g->fail_status)
		return;
	g->fail_status = status;
	g->fail_code = code;
	g->fail_msg = msg;
}

static void request_origin(struct http_req *r, char *out, size_t size)
{
	const char *o = http_header(r, "Origin"), *ref = http_header(r, "Referer");

	out[0] = '\0';
	if (o && strcmp(o, "null") != 0 && header_origin(o, out, size) == 0)
		return;
	out[0] = '\0';
	if (ref && header_origin(ref, out, size) != 0)
		out[0] = '\0';
}

struct evgate *evgate_new(struct http_req *r, int sentry)
{
	struct arena *a = http_arena(r);
	struct evgate *g = arena_zalloc(a, sizeof(*g));

	g->sentry = sentry;
	arena_on_destroy(a, gate_cleanup, g);
	request_origin(r, g->origin, sizeof(g->origin));
	return g;
}

struct evgate *evgate_open(struct http_req *r, const char *key, unsigned flags)
{
	struct app *app = http_app(r);
	int sentry = (flags & EVGATE_SENTRY) != 0;
	struct evgate *g = evgate_new(r, sentry);
	unsigned wait;
	int rc;

	if (!key || !*key) {
		evgate_fail(g, 401, "missing_key", "No project key was given.");
		return g;
	}
	rc = ep_cache_get(app->endpoints, key, &g->ep);
	if (rc) {
		if (rc == INLET_ENOTFOUND)
			evgate_fail(g, sentry ? 401 : 404, "unknown_key", "No project has this key.");
		else
			evgate_fail(g, 500, "internal", "The project could not be loaded.");
		return g;
	}
	if (strcmp(g->ep->kind, "events") != 0 && !(flags & EVGATE_FORMS)) {
		evgate_fail(g, 404, "not_an_events_endpoint", "This key belongs to a form, not to a project.");
		return g;
	}
	/* Server SDKs send no Origin: only a page's origin is checked. */
	if (g->origin[0] && !settings_origin_allowed(&g->ep->settings, g->origin)) {
		evgate_fail(g, 403, "origin_not_allowed", "This project does not accept events from this site.");
		return g;
	}
	if (!g->ep->settings.active) {
		evgate_fail(g, 403, "inactive", "This project is not accepting events.");
		return g;
	}
	wait = ratelimit_take(app->rl, g->ep->id, http_client_ip(r), g->ep->settings.rl_per_minute,
			      g->ep->settings.rl_burst, now_ms());
	if (wait) {
		g->retry_after = wait;
		evgate_fail(g, 429, "rate_limited", "Too many events. Please slow down.");
	}
	return g;
}

void evgate_cors(struct http_req *r, struct evgate *g)
{
	if (g->origin[0] && g->ep && settings_origin_allowed(&g->ep->settings, g->origin)) {
		http_add_header(r, "Access-Control-Allow-Origin", g->origin);
		http_add_header(r, "Access-Control-Expose-Headers", "X-Sentry-Error, X-Sentry-Rate-Limits, Retry-After");
		http_add_header(r, "Vary", "Origin");
	}
}

void evgate_count(struct http_req *r, struct evgate *g, const char *name, long n)
{
	struct app *app = http_app(r);

	if (n > 0)
		tally_add(app->tally, g->ep ? g->ep->account_id : 0, g->ep ? g->ep->id : 0, name, n);
}

void evgate_respond_failure(struct http_req *r, struct evgate *g)
{
	char name[64], val[64];

	snprintf(name, sizeof(name), "denied.%s", g->fail_code);
	evgate_count(r, g, name, 1);
	metrics_ingest(g->fail_code);
	evgate_cors(r, g);
	if (g->retry_after) {
		snprintf(val, sizeof(val), "%u", g->retry_after);
		http_add_header(r, "Retry-After", val);
		if (g->sentry) {
			sentry_rate_limit_header(g->retry_after, val, sizeof(val));
			http_add_header(r, "X-Sentry-Rate-Limits", val);
		}
	}
	http_error(r, g->fail_status, g->fail_code, g->fail_msg);
}

void evgate_preflight(struct http_req *r, const char *key, const char *methods)
{
	struct app *app = http_app(r);
	struct ep_entry *ep = NULL;
	char origin[300];
	const char *o = http_header(r, "Origin");

	int ok = o && header_origin(o, origin, sizeof(origin)) == 0;

	/* Without a key (a Sentry preflight carries none: credentials come in
	 * the header it asks about) the real request is checked instead. */
	if (ok && key && *key)
		ok = ep_cache_get(app->endpoints, key, &ep) == 0 && strcmp(ep->kind, "events") == 0 &&
		     settings_origin_allowed(&ep->settings, origin);
	if (ok) {
		http_add_header(r, "Access-Control-Allow-Origin", origin);
		http_add_header(r, "Access-Control-Allow-Methods", methods);
		http_add_header(r, "Access-Control-Allow-Headers",
				"Content-Type, Content-Encoding, X-Sentry-Auth, sentry-trace, baggage");
		http_add_header(r, "Access-Control-Max-Age", "86400");
		http_add_header(r, "Vary", "Origin");
	}
	ep_entry_release(ep);
	http_respond_empty(r, 204);
}
