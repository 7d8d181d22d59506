/* Exports as jobs: asked for, followed, downloaded. For exports too large
 * to wait for (GET /api/v1/endpoints/{id}/export streams smaller ones at
 * once): a slow-lane job writes the file, sealed, into the blob store. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "api/api.h"
#include "api/export.h"
#include "app/app.h"
#include "core/arena.h"
#include "core/err.h"
#include "http/http.h"
#include "store/queue.h"
#include "store/subs.h"
#include "store/tenant.h"
#include "vault/pubid.h"

void api_exports_create(struct http_req *r)
{
	struct app *app = http_app(r);
	struct arena *a = http_arena(r);
	struct endpoint e;
	struct queue_spec spec = { 0 };
	json_object *body = NULL, *o;
	const char *format = NULL, *since = NULL, *until = NULL, *status = NULL;
	enum export_format f;
	int64_t aid, job, ms, min_id = 0, max_id = 0;
	int st = -1, rc;
	char pid[PUBID_MAX], *payload;

	if (api_auth(r, &aid) || api_endpoint(r, aid, &e) || !(body = api_body(r)))
		goto out;
	if (api_get_string(r, body, "format", &format) || api_get_string(r, body, "since", &since) ||
	    api_get_string(r, body, "until", &until) || api_get_string(r, body, "status", &status))
		goto out;
	if (strcmp(e.kind, "form") != 0) {
		http_error(r, 400, "invalid", "Only a form's submissions are exported.");
		goto out;
	}
	if (export_format_parse(format ? format : "csv", &f)) {
		http_error(r, 400, "invalid", "\"format\" must be \"csv\", \"json\" or \"ndjson\".");
		goto out;
	}
	if (since) {
		if (api_parse_time(since, &ms) || ms < 0) {
			http_error(r, 400, "invalid", "\"since\" must be an ISO 8601 time or unix milliseconds.");
			goto out;
		}
		min_id = ms << 20;
	}
	if (until) {
		if (api_parse_time(until, &ms) || ms < 0) {
			http_error(r, 400, "invalid", "\"until\" must be an ISO 8601 time or unix milliseconds.");
			goto out;
		}
		max_id = ms << 20;
	}
	if (status && (st = api_status_parse(status)) < 0) {
		http_error(r, 400, "invalid", "\"status\" must be inbox, spam or trash.");
		goto out;
	}
	payload = arena_printf(a, "{\"endpoint_id\":%lld,\"format\":\"%s\",\"min_id\":%lld,\"max_id\":%lld,\"status\":%d}",
			       (long long)e.id, format ? format : "csv", (long long)min_id, (long long)max_id, st);
	spec.lane = QUEUE_SLOW;
	spec.kind = "export.run";
	spec.payload = payload;
	spec.len = strlen(payload);
	spec.max_attempts = 5;
	spec.scope = aid;
	if ((rc = queue_enqueue(app->queue, &spec, &job))) {
		http_error_rc(r, rc);
		goto out;
	}
	pubid_encode(app->ids, "exp_", job, e.id, pid);
	o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_string(pid));
	json_object_object_add(o, "endpoint_id", json_object_new_string(e.pid));
	json_object_object_add(o, "job_id", json_object_new_int64(job));
	json_object_object_add(o, "state", json_object_new_string("queued"));
	http_respond_json(r, 202, o);
	json_object_put(o);
out:
	json_object_put(body);
}

int api_job_of(struct http_req *r, int64_t aid, const char *prefix, const char *kind, const char *what,
	       struct queue_job *job, struct endpoint *e)
{
	struct app *app = http_app(r);
	int64_t id, epid;
	int rc = pubid_decode(app->ids, prefix, http_param(r, "id"), &id, &epid);

	if (!rc)
		rc = queue_get(app->queue, id, http_arena(r), job);
	if (!rc && (job->scope != aid || strcmp(job->kind, kind) != 0))
		rc = INLET_ENOTFOUND;
	if (!rc)
		rc = tenant_endpoint_by_id(app->tenant, epid, http_arena(r), e);
	if (!rc && e->account_id != aid)
		rc = INLET_ENOTFOUND;
	if (rc == INLET_ENOTFOUND) {
		char msg[64];

		snprintf(msg, sizeof(msg), "No such %s.", what);
		http_error(r, 404, "not_found", msg);
	} else if (rc) {
		http_error_rc(r, rc);
	}
	return rc;
}

static int export_of(struct http_req *r, int64_t aid, struct queue_job *job, struct endpoint *e)
{
	return api_job_of(r, aid, "exp_", "export.run", "export", job, e);
}

void api_export_get(struct http_req *r)
{
	struct queue_job job;
	struct endpoint e;
	int64_t aid;
	json_object *o, *res;

	if (api_auth(r, &aid) || export_of(r, aid, &job, &e))
		return;
	o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_string(http_param(r, "id")));
	json_object_object_add(o, "endpoint_id", json_object_new_string(e.pid));
	json_object_object_add(o, "job_id", json_object_new_int64(job.id));
	json_object_object_add(o, "state", json_object_new_string(queue_state_name(job.state)));
	json_object_object_add(o, "rows", json_object_new_int64(job.progress));
	json_object_object_add(o, "total", json_object_new_int64(job.total));
	json_object_object_add(o, "error", job.last_error && job.state != QUEUE_DONE ? json_object_new_string(job.last_error)
										   : NULL);
	json_object_object_add(o, "created_at", api_time_json(job.created_ms));
	res = job.state == QUEUE_DONE && job.result ? json_tokener_parse(job.result) : NULL;
	json_object_object_add(o, "file", res);
	json_object_object_add(o, "download", res ? json_object_new_string(
		arena_printf(http_arena(r), "/api/v1/exports/%s/file", http_param(r, "id"))) : NULL);
	http_respond_json(r, 200, o);
	json_object_put(o);
}

void api_export_file(struct http_req *r)
{
	struct queue_job job;
	struct endpoint e;
	int64_t aid;
	json_object *res, *v;
	const char *name = "export", *ctype = "application/octet-stream";
	int64_t size = -1;

	if (api_auth(r, &aid) || export_of(r, aid, &job, &e))
		return;
	if (job.state != QUEUE_DONE || !job.result || !(res = json_tokener_parse(job.result))) {
		http_error(r, 409, "not_ready", "The export is not finished.");
		return;
	}
	if (json_object_object_get_ex(res, "name", &v))
		name = json_object_get_string(v);
	if (json_object_object_get_ex(res, "content_type", &v))
		ctype = json_object_get_string(v);
	if (json_object_object_get_ex(res, "size", &v))
		size = json_object_get_int64(v);
	if (size < 0)
		http_error_rc(r, INLET_EDB);
	else
		api_file_send(r, &e, e.key_version, http_param(r, "id"), 0, (uint64_t)size, ctype, name);
	json_object_put(res);
}
