#include "ingest/v1.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "core/arena.h"
#include "core/err.h"
#include "endpoint/cache.h"
#include "events/report.h"
#include "events/trackx.h"
#include "http/http.h"
#include "ingest/evgate.h"
#include "ingest/evpipe.h"
#include "ingest/header.h"

/* 1×1 transparent GIF: what an <img> ping gets back. */
static const unsigned char pixel[] = {
	0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00,
	0x00, 0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00,
	0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
};

/* Error codes are lower case in JSON errors, whatever the parser says. */
static const char *lower(struct arena *a, const char *code)
{
	char *s = arena_strdup(a, code ? code : "invalid");

	for (char *c = s; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	return s;
}

struct v1 {
	struct evgate *g;
	char pid[PUBID_MAX];
	size_t skipped;
};

void v1_begin(struct http_req *r)
{
	struct v1 *v = arena_zalloc(http_arena(r), sizeof(*v));

	/* A form's page pings too (inlet.js): its views, for conversion. */
	v->g = evgate_open(r, http_param(r, "key"), http_route(r)->handle == v1_ping ? EVGATE_FORMS : 0);
	http_set_state(r, v);
	/* Refused before the body is read: it is never needed. */
	if (v->g->fail_status)
		evgate_respond_failure(r, v->g);
}

static void no_store(struct http_req *r)
{
	http_add_header(r, "Cache-Control", "no-cache, no-store, must-revalidate");
}

/* Checks common to the three routes once the body is in. */
static struct v1 *after_body(struct http_req *r)
{
	struct v1 *v = http_state(r);

	if (!v) {
		http_error(r, 500, "internal", "the route was not set up");
		return NULL;
	}
	if (http_answered(r))
		return NULL;
	if (!v->g->fail_status && http_body_too_big(r))
		evgate_fail(v->g, 413, "too_big", "The body is too large.");
	if (v->g->fail_status) {
		evgate_respond_failure(r, v->g);
		return NULL;
	}
	return v;
}

static int start(struct http_req *r, struct v1 *v, struct evp **p)
{
	if (evp_begin(r, v->g->ep, v->g->origin, p)) {
		evgate_fail(v->g, 500, "internal", "The event could not be stored.");
		evgate_respond_failure(r, v->g);
		return -1;
	}
	return 0;
}

/* Runs on the writer thread: the request is parked, nothing else has it. */
static int done_common(struct http_req *r, struct v1 *v, int rc)
{
	if (!rc)
		return 0;
	evgate_fail(v->g, rc == INLET_ESHUTDOWN ? 503 : 500, "internal", "It could not be stored. Please retry.");
	evgate_respond_failure(r, v->g);
	http_resume(r);
	return rc;
}

/* ---- event --------------------------------------------------------------- */

static void event_done(struct http_req *r, struct evp *p, int rc)
{
	struct v1 *v = http_state(r);
	char body[128];

	if (done_common(r, v, rc))
		return;
	evgate_count(r, v->g, evp_stored(p, 0) ? "events" : "ignored", 1);
	evgate_cors(r, v->g);
	no_store(r);
	snprintf(body, sizeof(body), "{\"id\":\"%s\"}", v->pid);
	http_respond(r, 200, "application/json", body, strlen(body));
	http_resume(r);
}

void v1_event(struct http_req *r)
{
	struct v1 *v = after_body(r);
	struct trackx_limits lim;
	struct trackx_error err;
	struct json_object *ev = NULL, *u;
	struct evp_event e = { .kind = "trackx", .fmt = FP_FORMAT_TRACKX, .level = "error" };
	struct evp *p;
	const char *body;
	size_t len;

	if (!v)
		return;
	body = http_body(r, &len);
	trackx_limits_default(&lim);
	if (trackx_event_parse(body, len, &lim, &ev, &err)) {
		evgate_fail(v->g, err.status, lower(http_arena(r), err.code), err.message);
		evgate_respond_failure(r, v->g);
		return;
	}
	/* TrackX's rule: without a uri, the page is the Referer, else the origin. */
	if (json_object_object_get_ex(ev, "uri", &u))
		e.uri = json_object_get_string(u);
	else if (http_header(r, "Referer"))
		e.uri = http_header(r, "Referer");
	else
		e.uri = v->g->origin;
	e.data = ev;
	e.raw = body;
	e.raw_len = len;
	if (start(r, v, &p) == 0) {
		if (evp_add_event(p, &e, v->pid)) {
			evgate_fail(v->g, 500, "internal", "The event could not be stored.");
			evgate_respond_failure(r, v->g);
		} else {
			evp_commit(p, event_done);
		}
	}
	json_object_put(ev);
}

/* ---- ping ---------------------------------------------------------------- */

static void ping_done(struct http_req *r, struct evp *p, int rc)
{
	struct v1 *v = http_state(r);
	const char *accept = http_header(r, "Accept");

	(void)p;
	if (done_common(r, v, rc))
		return;
	evgate_count(r, v->g, strcmp(v->g->ep->kind, "form") == 0 ? "views" : "pings", 1);
	evgate_cors(r, v->g);
	no_store(r);
	if (strcmp(http_method(r), "GET") == 0 && accept && strstr(accept, "image"))
		http_respond(r, 200, "image/gif", pixel, sizeof(pixel));
	else
		http_respond(r, 200, "text/plain; charset=utf-8", "ok", 2);
	http_resume(r);
}

void v1_ping(struct http_req *r)
{
	struct v1 *v = after_body(r);
	struct evp *p;

	if (!v || start(r, v, &p))
		return;
	evp_add_session(p, NULL, 0, 1, 0, 0);
	evp_commit(p, ping_done);
}

/* ---- report -------------------------------------------------------------- */

static void report_done(struct http_req *r, struct evp *p, int rc)
{
	struct v1 *v = http_state(r);
	size_t stored = 0, n = evp_events(p);
	char body[96];

	if (done_common(r, v, rc))
		return;
	for (size_t i = 0; i < n; i++)
		stored += (size_t)evp_stored(p, i);
	evgate_count(r, v->g, "reports", (long)stored);
	evgate_count(r, v->g, "ignored", (long)(n - stored));
	evgate_cors(r, v->g);
	no_store(r);
	snprintf(body, sizeof(body), "{\"accepted\":%zu,\"skipped\":%zu}", n, v->skipped);
	http_respond(r, 200, "application/json", body, strlen(body));
	http_resume(r);
}

void v1_report(struct http_req *r)
{
	struct v1 *v = after_body(r);
	struct arena *a = http_arena(r);
	struct report_limits lim;
	struct report_error err;
	struct report_list *list;
	struct evp *p;
	const char *body, *ctype = http_header(r, "Content-Type");
	char media[128];
	size_t len, ml = 0;

	if (!v)
		return;
	/* The media type without parameters, lower case. */
	for (const char *c = ctype ? ctype : ""; *c && *c != ';' && ml + 1 < sizeof(media); c++)
		if (!isspace((unsigned char)*c))
			media[ml++] = (char)tolower((unsigned char)*c);
	media[ml] = '\0';
	body = http_body(r, &len);
	report_limits_default(&lim);
	if (report_parse(a, media, body, len, &lim, &list, &err)) {
		evgate_fail(v->g, err.status, lower(a, err.code), err.message);
		evgate_respond_failure(r, v->g);
		return;
	}
	v->skipped = list->skipped + list->dropped;
	if (start(r, v, &p))
		return;
	for (size_t i = 0; i < list->n; i++) {
		struct report_event *re = &list->items[i];
		struct json_object *grp = json_object_new_object(), *fpa = json_object_new_array();
		struct evp_event e = { .kind = "report", .fmt = FP_FORMAT_SENTRY, .level = "warning",
				       .title = re->title, .uri = re->uri, .data = re->body };

		/* Grouping by the report's own stable parts (events/report.h). */
		json_object_array_add(fpa, json_object_new_string("report"));
		json_object_array_add(fpa, json_object_new_string(re->type));
		for (size_t k = 0; k < re->n_fingerprint; k++)
			json_object_array_add(fpa, json_object_new_string(re->fingerprint[k]));
		json_object_object_add(grp, "fingerprint", fpa);
		e.group = grp;
		if (evp_add_event(p, &e, NULL))
			v->skipped++;
		json_object_put(grp);
	}
	if (evp_events(p) == 0) {
		evgate_cors(r, v->g);
		no_store(r);
		snprintf(media, sizeof(media), "{\"accepted\":0,\"skipped\":%zu}", v->skipped);
		http_respond(r, 200, "application/json", media, strlen(media));
		return;
	}
	evp_commit(p, report_done);
}

void v1_preflight(struct http_req *r)
{
	evgate_preflight(r, http_param(r, "key"), "GET, POST, OPTIONS");
}
