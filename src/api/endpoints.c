#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "api/api.h"
#include "app/app.h"
#include "app/clickhouse.h"
#include "blob/blob.h"
#include "core/alloc.h"
#include "core/arena.h"
#include "core/enc.h"
#include "core/err.h"
#include "core/log.h"
#include "endpoint/cache.h"
#include "endpoint/settings.h"
#include "http/http.h"
#include "store/events.h"
#include "store/shards.h"
#include "store/subs.h"
#include "store/tenant.h"
#include "vault/vault.h"

/* What the clients of an events endpoint are given: Sentry's DSN
 * (scheme://key@host/project) and TrackX's setup() address. */
static void events_fields(struct app *app, const struct endpoint *e, json_object *o)
{
	const char *url = app->cfg.public_url, *sep = strstr(url, "://");
	char project[24], *v;

	app_project_id(app, e->id, project);
	json_object_object_add(o, "project_id", json_object_new_string(project));
	if (sep)
		v = xasprintf("%.*s://%s@%s/%s", (int)(sep - url), url, e->key, sep + 3, project);
	else
		v = xasprintf("http://%s@%s/%s", e->key, url, project);
	json_object_object_add(o, "dsn", json_object_new_string(v));
	free(v);
	v = xasprintf("%s/v1/%s", url, e->key);
	json_object_object_add(o, "url", json_object_new_string(v));
	json_object_object_add(o, "ingest_url", json_object_new_string(v));
	free(v);
}

static json_object *endpoint_json(struct app *app, const struct endpoint *e)
{
	json_object *o = json_object_new_object(), *settings = json_tokener_parse(e->settings);
	int64_t count = 0;

	json_object_object_add(o, "id", json_object_new_string(e->pid));
	json_object_object_add(o, "key", json_object_new_string(e->key));
	json_object_object_add(o, "name", json_object_new_string(e->name));
	json_object_object_add(o, "kind", json_object_new_string(e->kind));
	if (strcmp(e->kind, "events") == 0) {
		events_fields(app, e, o);
	} else {
		char *url = xasprintf("%s/f/%s", app->cfg.public_url, e->key);

		json_object_object_add(o, "url", json_object_new_string(url));
		free(url);
	}
	json_object_object_add(o, "settings", settings ? settings : json_object_new_object());
	substore_count(app_subs(app, e->id), e->id, &count);
	json_object_object_add(o, "submission_count", json_object_new_int64(count));
	if (strcmp(e->kind, "form") == 0) {
		int64_t last = 0;

		substore_last(app_subs(app, e->id), e->id, &last);
		json_object_object_add(o, "last_submission_at", last ? api_time_json(sub_id_ms(last)) : NULL);
	} else {
		int64_t events = 0, last = 0;

		evstore_totals(app_subs(app, e->id), e->id, &events, &last);
		json_object_object_add(o, "event_count", json_object_new_int64(events));
		json_object_object_add(o, "last_event_at", last ? api_time_json(last) : NULL);
	}
	/* Where its submissions live: "shared", or its own database. */
	json_object_object_add(o, "location", json_object_new_string(
						     app->shards ? shards_location(app->shards, e->id) : e->location));
	{
		struct arena *a = arena_create(1024);
		struct shard_move mv;

		if (tenant_move_get(app->tenant, e->id, a, &mv) == 0) {
			json_object *m = json_object_new_object();

			json_object_object_add(m, "state", json_object_new_string(mv.state));
			json_object_object_add(m, "target", json_object_new_string(mv.target));
			json_object_object_add(m, "rows_copied", json_object_new_int64(mv.rows_copied));
			json_object_object_add(m, "rows_total", json_object_new_int64(mv.rows_total));
			json_object_object_add(m, "started_at", api_time_json(mv.started_ms));
			json_object_object_add(o, "move", m);
		} else {
			json_object_object_add(o, "move", NULL);
		}
		arena_destroy(a);
	}
	json_object_object_add(o, "created_at", api_time_json(e->created_ms));
	return o;
}

static void respond_endpoint(struct http_req *r, int status, const struct endpoint *e)
{
	json_object *o = endpoint_json(http_app(r), e);

	http_respond_json(r, status, o);
	json_object_put(o);
}

void api_endpoints_list(struct http_req *r)
{
	struct app *app = http_app(r);
	struct endpoint *eps;
	size_t n;
	int64_t aid;
	json_object *o, *data;
	int rc;

	if (api_auth(r, &aid))
		return;
	if ((rc = tenant_endpoint_list(app->tenant, aid, http_arena(r), &eps, &n))) {
		http_error_rc(r, rc);
		return;
	}
	o = json_object_new_object();
	data = json_object_new_array();
	for (size_t i = 0; i < n; i++)
		json_object_array_add(data, endpoint_json(app, &eps[i]));
	json_object_object_add(o, "data", data);
	http_respond_json(r, 200, o);
	json_object_put(o);
}

void api_endpoints_create(struct http_req *r)
{
	struct app *app = http_app(r);
	struct endpoint e;
	int64_t aid;
	json_object *body, *settings = NULL;
	const char *name, *kind;
	char *pid = NULL, *key = NULL, *settings_json = NULL, err[256];
	int rc;

	if (api_auth(r, &aid))
		return;
	if (!(body = api_body(r)))
		return;
	if (api_get_string(r, body, "name", &name) || api_get_string(r, body, "kind", &kind))
		goto out;
	if (!name || !*name || strlen(name) > 200) {
		http_error(r, 400, "invalid", "\"name\" is required (1 to 200 characters).");
		goto out;
	}
	if (!kind)
		kind = "form";
	if (strcmp(kind, "form") != 0 && strcmp(kind, "events") != 0) {
		http_error(r, 400, "invalid", "\"kind\" must be \"form\" or \"events\".");
		goto out;
	}
	json_object_object_get_ex(body, "settings", &settings);
	if (settings && json_object_is_type(settings, json_type_null))
		settings = NULL;
	{
		/* Absent settings mean all defaults; merging over nothing also
		 * validates and fills in what is missing. */
		json_object *given = settings ? json_object_get(settings) : json_object_new_object();

		rc = settings_merge(NULL, given, &settings_json, err, sizeof(err));
		json_object_put(given);
		if (rc) {
			http_error(r, 400, "invalid", err);
			goto out;
		}
	}
	memset(&e, 0, sizeof(e));
	pid = rand_id("ep_", 12);
	if (strcmp(kind, "events") == 0) {
		/* Sentry's DSN parser takes a key of word characters only:
		 * 128 random bits in hex, as Sentry's own keys are. */
		uint8_t raw[16];

		rand_bytes(raw, sizeof(raw));
		key = xmalloc(2 * sizeof(raw) + 1);
		hex_encode(key, raw, sizeof(raw));
	} else {
		key = rand_id("", 12);
	}
	e.pid = pid;
	e.key = key;
	e.account_id = aid;
	e.kind = kind;
	e.name = name;
	e.settings = settings_json;
	e.key_version = 1;
	e.location = "shared";
	e.created_ms = now_ms();
	if ((rc = vault_key_create(app->vault, pid, 1, e.wrapped))) {
		http_error_rc(r, rc);
		goto out;
	}
	e.wrapped_len = VAULT_WRAPPED_BYTES;
	if ((rc = tenant_endpoint_create(app->tenant, &e))) {
		http_error_rc(r, rc);
		goto out;
	}
	respond_endpoint(r, 201, &e);
out:
	free(pid);
	free(key);
	free(settings_json);
	json_object_put(body);
}

void api_endpoint_get(struct http_req *r)
{
	struct app *app = http_app(r);
	struct endpoint e;
	int64_t aid;
	int rc;

	if (api_auth(r, &aid))
		return;
	rc = tenant_endpoint_get(app->tenant, aid, http_param(r, "id"), http_arena(r), &e);
	if (rc == INLET_ENOTFOUND)
		http_error(r, 404, "not_found", "No such endpoint.");
	else if (rc)
		http_error_rc(r, rc);
	else
		respond_endpoint(r, 200, &e);
}

void api_endpoint_patch(struct http_req *r)
{
	struct app *app = http_app(r);
	struct endpoint e;
	int64_t aid;
	json_object *body, *settings = NULL;
	const char *name, *id = http_param(r, "id");
	char *settings_json = NULL, err[256];
	int rc;

	if (api_auth(r, &aid))
		return;
	if (!(body = api_body(r)))
		return;
	if (api_get_string(r, body, "name", &name))
		goto out;
	if (name && (!*name || strlen(name) > 200)) {
		http_error(r, 400, "invalid", "\"name\" must be 1 to 200 characters.");
		goto out;
	}
	if ((rc = tenant_endpoint_get(app->tenant, aid, id, http_arena(r), &e))) {
		if (rc == INLET_ENOTFOUND)
			http_error(r, 404, "not_found", "No such endpoint.");
		else
			http_error_rc(r, rc);
		goto out;
	}
	if (json_object_object_get_ex(body, "settings", &settings) &&
	    settings_merge(e.settings, settings, &settings_json, err, sizeof(err))) {
		http_error(r, 400, "invalid", err);
		goto out;
	}
	if ((rc = tenant_endpoint_update(app->tenant, aid, id, name, settings_json))) {
		http_error_rc(r, rc);
		goto out;
	}
	ep_cache_invalidate(app->endpoints, e.id);
	if ((rc = tenant_endpoint_get(app->tenant, aid, id, http_arena(r), &e)))
		http_error_rc(r, rc);
	else
		respond_endpoint(r, 200, &e);
out:
	free(settings_json);
	json_object_put(body);
}

void api_endpoint_delete(struct http_req *r)
{
	struct app *app = http_app(r);
	struct endpoint e;
	int64_t aid;
	const char *id = http_param(r, "id");
	char prefix[96];
	int rc;

	if (api_auth(r, &aid))
		return;
	if ((rc = tenant_endpoint_get(app->tenant, aid, id, http_arena(r), &e))) {
		if (rc == INLET_ENOTFOUND)
			http_error(r, 404, "not_found", "No such endpoint.");
		else
			http_error_rc(r, rc);
		return;
	}
	/* The tenant row goes first: from then on the form answers 404 and no
	 * new submission can arrive for the purge below to miss. */
	if ((rc = tenant_endpoint_delete(app->tenant, aid, id))) {
		http_error_rc(r, rc);
		return;
	}
	ep_cache_invalidate(app->endpoints, e.id);
	/* Its rows may be in the shared store, its own database, or (mid-move)
	 * both: purge the shared store always, then drop its own database. */
	if ((rc = substore_delete_endpoint(app->shared, e.id)))
		log_msg(LOG_ERROR, "endpoint %s: purge of submissions failed: %s", e.pid, inlet_strerror(rc));
	if ((rc = evstore_delete_endpoint(app->shared, e.id)))
		log_msg(LOG_ERROR, "endpoint %s: purge of events failed: %s", e.pid, inlet_strerror(rc));
	ch_delete_endpoint(app->ch, e.id); /* its analytics rows, as daily_counts' above */
	if (app->shards)
		shards_forget(app->shards, e.id);
	snprintf(prefix, sizeof(prefix), "%s/", e.pid);
	app->blobs->ops->remove_prefix(app->blobs, prefix);
	vault_key_forget(app->vault, e.pid, e.key_version);
	http_respond_empty(r, 204);
}
