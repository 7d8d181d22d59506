/* Webhooks: per endpoint, several allowed; their delivery log and
 * redelivery; and the account's jobs. The secret is made here, shown once
 * in the creation answer, and stored sealed with the endpoint's data key. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "api/api.h"
#include "app/app.h"
#include "core/alloc.h"
#include "core/arena.h"
#include "core/enc.h"
#include "core/err.h"
#include "endpoint/cache.h"
#include "http/http.h"
#include "jobs/runner.h"
#include "jobs/webhook.h"
#include "store/queue.h"
#include "store/tenant.h"
#include "store/webhooks.h"
#include "vault/pubid.h"
#include "vault/vault.h"

#define URL_MAX 2048
#define LIST_MAX 200

/* The events a webhook may take, by endpoint kind. */
static const char *const form_events[] = { "submission.created" };
static const char *const issue_events[] = { "issue.created", "issue.reopened" };

static json_object *webhook_json(const struct webhook *w, const char *endpoint_pid)
{
	json_object *o = json_object_new_object(), *ev = json_tokener_parse(w->events);

	json_object_object_add(o, "id", json_object_new_string(w->pid));
	json_object_object_add(o, "endpoint_id", json_object_new_string(endpoint_pid));
	json_object_object_add(o, "url", json_object_new_string(w->url));
	json_object_object_add(o, "events", ev ? ev : json_object_new_array());
	json_object_object_add(o, "format", json_object_new_string(w->format));
	json_object_object_add(o, "enabled", json_object_new_boolean(w->enabled));
	json_object_object_add(o, "disabled_reason", w->disabled_reason[0] ? json_object_new_string(w->disabled_reason)
									 : NULL);
	json_object_object_add(o, "failures", json_object_new_int(w->failures));
	json_object_object_add(o, "created_at", api_time_json(w->created_ms));
	return o;
}

/* url: http(s), a host, no white space or control bytes. */
static int url_ok(const char *u)
{
	size_t n = strlen(u);

	if (n > URL_MAX || (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0))
		return 0;
	for (const char *p = u; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return 0;
	return u[strncmp(u, "https://", 8) == 0 ? 8 : 7] != '\0';
}

/* "events" (absent: all of the kind) as normalized JSON text, or NULL with
 * the 400 answered. */
static char *events_of(struct http_req *r, json_object *body, int required, const char *kind)
{
	int issues = strcmp(kind, "events") == 0;
	const char *const *names = issues ? issue_events : form_events;
	size_t nnames = issues ? 2 : 1;
	json_object *v, *out;
	char *s;

	if (!json_object_object_get_ex(body, "events", &v) || json_object_is_type(v, json_type_null)) {
		if (required)
			return xstrdup(issues ? "[\"issue.created\",\"issue.reopened\"]" : "[\"submission.created\"]");
		return NULL;
	}
	if (!json_object_is_type(v, json_type_array) || json_object_array_length(v) == 0) {
		http_error(r, 400, "invalid", "\"events\" must be a non-empty array of event names.");
		return (char *)-1;
	}
	out = json_object_new_array();
	for (size_t i = 0; i < json_object_array_length(v); i++) {
		json_object *e = json_object_array_get_idx(v, i);
		const char *name = json_object_is_type(e, json_type_string) ? json_object_get_string(e) : "";
		size_t k;

		for (k = 0; k < nnames; k++)
			if (strcmp(name, names[k]) == 0)
				break;
		if (k == nnames) {
			json_object_put(out);
			http_error(r, 400, "invalid", issues ? "Unknown event; an events endpoint's webhooks take"
								" \"issue.created\" and \"issue.reopened\"."
							      : "Unknown event; a form's webhooks take \"submission.created\".");
			return (char *)-1;
		}
		/* Each once, in the order given. */
		for (k = 0; k < json_object_array_length(out); k++)
			if (strcmp(json_object_get_string(json_object_array_get_idx(out, k)), name) == 0)
				break;
		if (k == json_object_array_length(out))
			json_object_array_add(out, json_object_new_string(name));
	}
	s = xstrdup(json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN));
	json_object_put(out);
	return s;
}

/* url and format of body; 400 answered on a bad one. */
static int url_format(struct http_req *r, json_object *body, const char **url, const char **format)
{
	enum webhook_format f;

	if (api_get_string(r, body, "url", url) || api_get_string(r, body, "format", format))
		return INLET_EINVAL;
	if (*url && !url_ok(*url)) {
		http_error(r, 400, "invalid", "\"url\" must be an http:// or https:// URL.");
		return INLET_EINVAL;
	}
	if (*format && webhook_format_parse(*format, &f)) {
		http_error(r, 400, "invalid", "\"format\" must be \"json\", \"slack\" or \"discord\".");
		return INLET_EINVAL;
	}
	return 0;
}

void api_webhooks_create(struct http_req *r)
{
	struct app *app = http_app(r);
	struct endpoint e;
	struct webhook w = { 0 };
	struct vault_key *key = NULL;
	json_object *body = NULL, *o;
	const char *url = NULL, *format = NULL;
	char *events = NULL, *pid = NULL, *secret = NULL;
	uint8_t raw[32], *sealed = NULL;
	size_t sealed_len;
	int64_t aid;
	int rc;

	if (api_auth(r, &aid) || api_endpoint(r, aid, &e) || !(body = api_body(r)))
		goto out;
	if (url_format(r, body, &url, &format))
		goto out;
	if (!url) {
		http_error(r, 400, "invalid", "\"url\" is required.");
		goto out;
	}
	if ((events = events_of(r, body, 1, e.kind)) == (char *)-1) {
		events = NULL;
		goto out;
	}
	pid = rand_id("wh_", 12);
	rand_bytes(raw, sizeof(raw));
	secret = xmalloc(6 + b64url_encoded_size(sizeof(raw)));
	memcpy(secret, "whsec_", 6);
	b64url_encode(secret + 6, raw, sizeof(raw));
	secure_wipe(raw, sizeof(raw));
	if ((rc = api_endpoint_key(app, &e, e.key_version, &key)) ||
	    (rc = vault_seal(key, pid, secret, strlen(secret), &sealed, &sealed_len))) {
		http_error_rc(r, rc);
		goto out;
	}
	w = (struct webhook){ .pid = pid, .account_id = aid, .endpoint_id = e.id, .url = url, .events = events,
			      .format = format ? format : "json", .secret = sealed, .secret_len = sealed_len,
			      .key_version = e.key_version, .enabled = 1, .disabled_reason = "", .created_ms = now_ms() };
	if ((rc = webhooks_create(app->tenant, &w))) {
		http_error_rc(r, rc);
		goto out;
	}
	/* Posts to this endpoint now write the outbox. */
	ep_cache_invalidate(app->endpoints, e.id);
	o = webhook_json(&w, e.pid);
	json_object_object_add(o, "secret", json_object_new_string(secret)); /* shown once */
	http_respond_json(r, 201, o);
	json_object_put(o);
out:
	if (secret) {
		secure_wipe(secret, strlen(secret));
		free(secret);
	}
	free(sealed);
	free(events);
	free(pid);
	vault_key_release(key);
	json_object_put(body);
}

void api_webhooks_list(struct http_req *r)
{
	struct app *app = http_app(r);
	struct endpoint e;
	struct webhook *ws;
	size_t n;
	int64_t aid;
	json_object *o, *data;
	int rc;

	if (api_auth(r, &aid) || api_endpoint(r, aid, &e))
		return;
	if ((rc = webhooks_list(app->tenant, aid, e.id, http_arena(r), &ws, &n))) {
		http_error_rc(r, rc);
		return;
	}
	data = json_object_new_array();
	for (size_t i = 0; i < n; i++)
		json_object_array_add(data, webhook_json(&ws[i], e.pid));
	o = json_object_new_object();
	json_object_object_add(o, "data", data);
	http_respond_json(r, 200, o);
	json_object_put(o);
}

/* {id} to the caller's webhook and its endpoint; 404 answered. */
static int webhook_of(struct http_req *r, int64_t aid, struct webhook *w, struct endpoint *e)
{
	struct app *app = http_app(r);
	int rc = webhooks_get(app->tenant, aid, http_param(r, "id"), http_arena(r), w);

	if (!rc)
		rc = tenant_endpoint_by_id(app->tenant, w->endpoint_id, http_arena(r), e);
	if (rc == INLET_ENOTFOUND)
		http_error(r, 404, "not_found", "No such webhook.");
	else if (rc)
		http_error_rc(r, rc);
	return rc;
}

static void respond_webhook(struct http_req *r, int status, const struct webhook *w, const struct endpoint *e)
{
	json_object *o = webhook_json(w, e->pid);

	http_respond_json(r, status, o);
	json_object_put(o);
}

void api_webhook_get(struct http_req *r)
{
	struct webhook w;
	struct endpoint e;
	int64_t aid;

	if (api_auth(r, &aid) || webhook_of(r, aid, &w, &e))
		return;
	respond_webhook(r, 200, &w, &e);
}

void api_webhook_patch(struct http_req *r)
{
	struct app *app = http_app(r);
	struct webhook w;
	struct endpoint e;
	json_object *body = NULL, *v;
	const char *url = NULL, *format = NULL;
	char *events = NULL;
	int64_t aid;
	int enabled = -1, rc;

	if (api_auth(r, &aid) || webhook_of(r, aid, &w, &e) || !(body = api_body(r)))
		goto out;
	if (url_format(r, body, &url, &format))
		goto out;
	if ((events = events_of(r, body, 0, e.kind)) == (char *)-1) {
		events = NULL;
		goto out;
	}
	if (json_object_object_get_ex(body, "enabled", &v) && !json_object_is_type(v, json_type_null)) {
		if (!json_object_is_type(v, json_type_boolean)) {
			http_error(r, 400, "invalid", "\"enabled\" must be true or false.");
			goto out;
		}
		enabled = json_object_get_boolean(v) ? 1 : 0;
	}
	if ((rc = webhooks_update(app->tenant, aid, w.pid, url, events, format, enabled)) ||
	    (rc = webhooks_get(app->tenant, aid, w.pid, http_arena(r), &w))) {
		http_error_rc(r, rc);
		goto out;
	}
	ep_cache_invalidate(app->endpoints, e.id);
	respond_webhook(r, 200, &w, &e);
out:
	free(events);
	json_object_put(body);
}

void api_webhook_delete(struct http_req *r)
{
	struct app *app = http_app(r);
	struct webhook w;
	struct endpoint e;
	int64_t aid;
	int rc;

	if (api_auth(r, &aid) || webhook_of(r, aid, &w, &e))
		return;
	if ((rc = webhooks_delete(app->tenant, aid, w.pid))) {
		http_error_rc(r, rc);
		return;
	}
	ep_cache_invalidate(app->endpoints, e.id);
	http_respond_empty(r, 204);
}

static json_object *delivery_json(const struct delivery *d, const char *webhook_pid)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_string(d->pid));
	json_object_object_add(o, "webhook_id", json_object_new_string(webhook_pid));
	json_object_object_add(o, "event", json_object_new_string(d->event));
	json_object_object_add(o, "delivery", json_object_new_string(d->delivery));
	json_object_object_add(o, "attempt", json_object_new_int(d->attempt));
	json_object_object_add(o, "status", d->status ? json_object_new_int(d->status) : NULL);
	json_object_object_add(o, "ok", json_object_new_boolean(d->status >= 200 && d->status < 300 && !d->error[0]));
	json_object_object_add(o, "latency_ms", json_object_new_int64(d->latency_ms));
	json_object_object_add(o, "response", json_object_new_string(d->response));
	json_object_object_add(o, "error", d->error[0] ? json_object_new_string(d->error) : NULL);
	json_object_object_add(o, "created_at", api_time_json(d->created_ms));
	return o;
}

void api_webhook_deliveries(struct http_req *r)
{
	struct app *app = http_app(r);
	struct webhook w;
	struct endpoint e;
	struct delivery *ds, cur;
	struct webhook cw;
	size_t n, limit;
	int64_t aid, before = 0;
	const char *c = http_query(r, "cursor");
	json_object *o, *data;
	int rc;

	if (api_auth(r, &aid) || webhook_of(r, aid, &w, &e) || api_limit(r, 50, LIST_MAX, &limit))
		return;
	if (c && *c) {
		if (webhooks_delivery_get(app->tenant, aid, c, http_arena(r), &cur, &cw) || cw.id != w.id) {
			http_error(r, 400, "invalid", "cursor is not valid for this webhook.");
			return;
		}
		before = cur.id;
	}
	if ((rc = webhooks_deliveries(app->tenant, w.id, before, limit + 1, http_arena(r), &ds, &n))) {
		http_error_rc(r, rc);
		return;
	}
	data = json_object_new_array();
	for (size_t i = 0; i < n && i < limit; i++)
		json_object_array_add(data, delivery_json(&ds[i], w.pid));
	o = json_object_new_object();
	json_object_object_add(o, "data", data);
	json_object_object_add(o, "next_cursor", n > limit ? json_object_new_string(ds[limit - 1].pid) : NULL);
	http_respond_json(r, 200, o);
	json_object_put(o);
}

void api_delivery_redeliver(struct http_req *r)
{
	struct app *app = http_app(r);
	struct delivery d;
	struct webhook w;
	struct queue_spec spec = { 0 };
	int64_t aid, job;
	char *payload;
	json_object *o;
	int rc;

	if (api_auth(r, &aid))
		return;
	rc = webhooks_delivery_get(app->tenant, aid, http_param(r, "id"), http_arena(r), &d, &w);
	if (rc) {
		if (rc == INLET_ENOTFOUND)
			http_error(r, 404, "not_found", "No such delivery.");
		else
			http_error_rc(r, rc);
		return;
	}
	/* A new job with the same Inlet-Delivery id: the receiver sees the
	 * same event again, and may drop it if it already has it. */
	payload = arena_printf(http_arena(r), "{\"webhook_id\":%lld,\"endpoint_id\":%lld,\"sub_id\":%lld,"
					       "\"event\":\"%s\",\"delivery\":\"%s\"}",
			       (long long)w.id, (long long)w.endpoint_id, (long long)d.ref, d.event, d.delivery);
	spec.lane = QUEUE_FAST;
	spec.kind = "webhook.deliver";
	spec.payload = payload;
	spec.len = strlen(payload);
	spec.max_attempts = RUNNER_WEBHOOK_ATTEMPTS;
	spec.scope = aid;
	if ((rc = queue_enqueue(app->queue, &spec, &job))) {
		http_error_rc(r, rc);
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, "job_id", json_object_new_int64(job));
	json_object_object_add(o, "delivery", json_object_new_string(d.delivery));
	http_respond_json(r, 202, o);
	json_object_put(o);
}

/* Exports and imports are known to the API by their own ids (exp_…,
 * imp_…, naming the endpoint too): the list gives them, so a client can
 * open the export's file or the import's report from it. */
static void job_ref(struct app *app, const struct queue_job *j, json_object *o, struct arena *a)
{
	const char *prefix = strcmp(j->kind, "export.run") == 0 ? "exp_" :
			     strcmp(j->kind, "import.run") == 0 ? "imp_" : NULL;
	struct queue_job full;
	json_object *p, *v;
	char pid[PUBID_MAX];

	if (!prefix || queue_get(app->queue, j->id, a, &full) || !full.payload)
		return;
	p = json_tokener_parse((const char *)full.payload);
	if (p && json_object_object_get_ex(p, "endpoint_id", &v)) {
		pubid_encode(app->ids, prefix, j->id, json_object_get_int64(v), pid);
		json_object_object_add(o, "ref", json_object_new_string(pid));
	}
	json_object_put(p);
}

void api_jobs_list(struct http_req *r)
{
	struct app *app = http_app(r);
	struct queue_filter f = { .state = -1, .lane = -1 };
	struct queue_job *jobs;
	size_t n, limit;
	const char *v;
	int64_t aid;
	json_object *o, *data;
	int rc;

	if (api_auth(r, &aid) || api_limit(r, 50, LIST_MAX, &limit))
		return;
	f.scope = aid;
	f.limit = limit + 1;
	if ((v = http_query(r, "state")) && *v) {
		enum queue_state s;

		if (queue_state_parse(v, &s)) {
			http_error(r, 400, "invalid", "state must be queued, running, done, dead or cancelled.");
			return;
		}
		f.state = (int)s;
	}
	if ((v = http_query(r, "kind")) && *v)
		f.kind = v;
	if ((v = http_query(r, "cursor")) && *v) {
		char *end;

		f.before_id = strtoll(v, &end, 10);
		if (*end || f.before_id <= 0) {
			http_error(r, 400, "invalid", "cursor is not valid.");
			return;
		}
	}
	if ((rc = queue_list(app->queue, &f, http_arena(r), &jobs, &n))) {
		http_error_rc(r, rc);
		return;
	}
	data = json_object_new_array();
	for (size_t i = 0; i < n && i < limit; i++) {
		json_object *j = json_object_new_object();

		json_object_object_add(j, "id", json_object_new_int64(jobs[i].id));
		json_object_object_add(j, "kind", json_object_new_string(jobs[i].kind));
		job_ref(app, &jobs[i], j, http_arena(r));
		json_object_object_add(j, "lane", json_object_new_string(queue_lane_name(jobs[i].lane)));
		json_object_object_add(j, "state", json_object_new_string(queue_state_name(jobs[i].state)));
		json_object_object_add(j, "attempts", json_object_new_int(jobs[i].attempts));
		json_object_object_add(j, "max_attempts", json_object_new_int(jobs[i].max_attempts));
		json_object_object_add(j, "progress", json_object_new_int64(jobs[i].progress));
		json_object_object_add(j, "total", json_object_new_int64(jobs[i].total));
		json_object_object_add(j, "last_error", jobs[i].last_error ? json_object_new_string(jobs[i].last_error) : NULL);
		json_object_object_add(j, "run_at", api_time_json(jobs[i].run_at_ms));
		json_object_object_add(j, "created_at", api_time_json(jobs[i].created_ms));
		json_object_object_add(j, "updated_at", api_time_json(jobs[i].updated_ms));
		json_object_array_add(data, j);
	}
	o = json_object_new_object();
	json_object_object_add(o, "data", data);
	if (n > limit) {
		char cur[24];

		snprintf(cur, sizeof(cur), "%lld", (long long)jobs[limit - 1].id);
		json_object_object_add(o, "next_cursor", json_object_new_string(cur));
	} else {
		json_object_object_add(o, "next_cursor", NULL);
	}
	http_respond_json(r, 200, o);
	json_object_put(o);
}
