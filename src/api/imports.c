/* POST /api/v1/endpoints/{id}/imports: an export of Formspree or of Inlet
 * (CSV, JSON, NDJSON) as the request body becomes submissions of the
 * endpoint (ingest/import.h). The body streams through the parser as it
 * arrives, so memory is one batch whatever the file's size; the answer,
 * the report, comes once every imported row is committed.
 *
 * The caps: the route's body_max (64 MiB: over it by Content-Length, 413
 * before anything is imported; a chunked body that passes it stops there,
 * the rows before it kept and counted in the answer), and a few imports at
 * a time per server (half the HTTP threads, at least one; 503 with
 * Retry-After past that), because an import holds its thread while its
 * batches commit. */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "api/api.h"
#include "app/app.h"
#include "core/arena.h"
#include "core/err.h"
#include "http/http.h"
#include "ingest/import.h"
#include "blob/blob.h"
#include "core/alloc.h"
#include "core/enc.h"
#include "store/queue.h"
#include "store/tenant.h"
#include "vault/pubid.h"
#include "vault/vault.h"

struct api_import {
	struct import *im;  /* heap; destroyed with the request's arena */
	/* ?async=true: the upload is sealed into the blob store as it comes,
	 * and a slow-lane job imports it (jobs/import_job.c). */
	int async;
	struct endpoint e;
	struct vault_key *key;
	struct vault_writer *vw;
	struct blob_writer *bw;
	int fmt;            /* enum importfmt_format */
	int committed;      /* the upload blob is stored (and the job owns it) */
	int queued;         /* a job took it */
	char upload[64];    /* the upload's record id and blob name */
	char bkey[200];
	uint64_t seen;      /* body bytes */
	int too_big;        /* the body passed the route's cap */
	int rc;             /* what stopped the import while the body came */
	int slot;           /* holds one of the running imports' places */
	struct app *app;
};

static int sink_upload(void *ctx, const void *data, size_t len)
{
	struct api_import *st = ctx;

	return st->app->blobs->ops->put_write(st->bw, data, len);
}

static atomic_uint running; /* imports under way in this process */

static void api_import_cleanup(void *arg)
{
	struct api_import *st = arg;
	struct blob_store *bs = st->app ? st->app->blobs : NULL;

	import_destroy(st->im);
	vault_writer_destroy(st->vw);
	if (st->bw)
		bs->ops->put_abort(st->bw);
	if (st->committed && !st->queued)
		bs->ops->remove(bs, st->bkey);
	vault_key_release(st->key);
	if (st->slot)
		atomic_fetch_sub(&running, 1);
}

/* The file's format from its media type; -1 when it is none we read. */
static int media_format(const char *ctype)
{
	static const char *const json_types[] = { "application/json", "application/x-ndjson", "application/ndjson",
						  "application/jsonl", "application/x-jsonlines",
						  "application/jsonlines" };
	size_t n;

	if (!ctype)
		return -1;
	n = strcspn(ctype, "; \t");
	if (n == 8 && strncasecmp(ctype, "text/csv", n) == 0)
		return IMPORTFMT_CSV;
	for (size_t i = 0; i < sizeof(json_types) / sizeof(*json_types); i++)
		if (n == strlen(json_types[i]) && strncasecmp(ctype, json_types[i], n) == 0)
			return IMPORTFMT_JSON;
	return -1;
}

void api_imports_begin(struct http_req *r)
{
	struct app *app = http_app(r);
	struct arena *a = http_arena(r);
	struct api_import *st;
	struct endpoint e;
	unsigned max = app->cfg.threads / 2 ? app->cfg.threads / 2 : 1;
	int64_t aid;
	int fmt, rc;

	if (api_auth(r, &aid) || api_endpoint(r, aid, &e))
		return;
	if (strcmp(e.kind, "form") != 0) {
		http_error(r, 400, "invalid", "An events endpoint takes no imports.");
		return;
	}
	if ((fmt = media_format(http_header(r, "Content-Type"))) < 0) {
		http_error(r, 415, "unsupported_media_type",
			   "Send the file as text/csv, application/json or application/x-ndjson.");
		return;
	}
	if (http_body_too_big(r)) {
		http_error(r, 413, "too_big", "An import takes at most 64 MiB; split the file.");
		return;
	}
	if (http_query(r, "async") && strcmp(http_query(r, "async"), "true") == 0) {
		/* No thread is held: the body goes to disk, sealed, and a job
		 * imports it; no limit on how many are queued. */
		char *tok = rand_id("up_", 12);

		st = arena_zalloc(a, sizeof(*st));
		st->app = app;
		st->async = 1;
		st->e = e;
		st->fmt = fmt;
		snprintf(st->upload, sizeof(st->upload), "%s", tok);
		free(tok);
		snprintf(st->bkey, sizeof(st->bkey), "%s/%s.0", e.pid, st->upload);
		arena_on_destroy(a, api_import_cleanup, st);
		http_set_state(r, st);
		if ((rc = api_endpoint_key(app, &e, e.key_version, &st->key)) ||
		    (rc = blob_put_begin(app->blobs, st->bkey, &st->bw))) {
			http_error_rc(r, rc);
			return;
		}
		st->vw = vault_writer_create(st->key, st->upload, 0, sink_upload, st);
		return;
	}
	if (atomic_fetch_add(&running, 1) >= max) {
		atomic_fetch_sub(&running, 1);
		http_add_header(r, "Retry-After", "10");
		http_error(r, 503, "busy", "Other imports are running; try again shortly.");
		return;
	}
	st = arena_zalloc(a, sizeof(*st));
	st->app = app;
	st->slot = 1;
	arena_on_destroy(a, api_import_cleanup, st);
	http_set_state(r, st);
	if ((rc = import_create(&st->im, app, &e, (enum importfmt_format)fmt)))
		http_error_rc(r, rc);
}

int api_imports_body(struct http_req *r, const char *data, size_t len)
{
	struct api_import *st = http_state(r);

	if (!st || (!st->im && !st->vw) || st->rc || st->too_big)
		return 1;
	st->seen += len;
	if (st->seen > http_route(r)->body_max) {
		st->too_big = 1;
		return 1;
	}
	if (st->async) {
		st->rc = vault_writer_write(st->vw, data, len);
		return st->rc ? 1 : 0;
	}
	/* Blocks while a batch commits: back-pressure on the upload. */
	st->rc = import_feed(st->im, data, len);
	return st->rc ? 1 : 0;
}

/* {"error":{"code","message"},"report":{…}}: what was imported before the
 * stop is committed, so the answer says how much. */
static void respond_stopped(struct http_req *r, int status, const char *code, const char *message,
			    json_object *report)
{
	json_object *root = json_object_new_object(), *err = json_object_new_object();

	json_object_object_add(err, "code", json_object_new_string(code));
	json_object_object_add(err, "message", json_object_new_string(message));
	json_object_object_add(root, "error", err);
	json_object_object_add(root, "report", json_object_get(report));
	http_respond_json(r, status, root);
	json_object_put(root);
}

/* The upload is stored: queue its import and answer 202. */
static void queue_import(struct http_req *r, struct api_import *st)
{
	struct app *app = http_app(r);
	struct queue_spec spec = { 0 };
	char *payload, pid[PUBID_MAX];
	int64_t job;
	json_object *o;
	struct blob_writer *bw;
	int rc = st->rc;

	if (st->too_big) {
		http_error(r, 413, "too_big", "An import takes at most 64 MiB; split the file.");
		return;
	}
	if (st->seen == 0) {
		http_error(r, 400, "invalid", "Send the file to import as the request body.");
		return;
	}
	if (rc || (rc = vault_writer_finish(st->vw))) {
		http_error_rc(r, rc); /* the cleanup drops the half-written upload */
		return;
	}
	bw = st->bw;
	st->bw = NULL; /* commit frees it, whatever it answers */
	if ((rc = app->blobs->ops->put_commit(bw))) {
		http_error_rc(r, rc);
		return;
	}
	st->committed = 1;
	payload = arena_printf(http_arena(r), "{\"endpoint_id\":%lld,\"format\":%d,\"upload\":\"%s\",\"size\":%llu}",
			       (long long)st->e.id, st->fmt, st->upload, (unsigned long long)st->seen);
	spec.lane = QUEUE_SLOW;
	spec.kind = "import.run";
	spec.payload = payload;
	spec.len = strlen(payload);
	spec.max_attempts = 3;
	spec.scope = st->e.account_id;
	if ((rc = queue_enqueue(app->queue, &spec, &job))) {
		http_error_rc(r, rc);
		return;
	}
	st->queued = 1;
	pubid_encode(app->ids, "imp_", job, st->e.id, pid);
	o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_string(pid));
	json_object_object_add(o, "endpoint_id", json_object_new_string(st->e.pid));
	json_object_object_add(o, "job_id", json_object_new_int64(job));
	json_object_object_add(o, "state", json_object_new_string("queued"));
	http_respond_json(r, 202, o);
	json_object_put(o);
}

void api_imports_post(struct http_req *r)
{
	struct api_import *st = http_state(r);
	json_object *report;
	int rc;

	if (st && st->async) {
		queue_import(r, st);
		return;
	}
	if (!st || !st->im) {
		http_error(r, 500, "internal", "the import was not set up");
		return;
	}
	if (st->seen == 0 && !st->rc) {
		http_error(r, 400, "invalid", "Send the file to import as the request body.");
		return;
	}
	rc = import_finish(st->im);
	report = import_report(st->im);
	/* The import's place is free before the answer leaves: a client that
	 * sends its next import as soon as it reads this one's report must not
	 * find it still taken (the arena goes only after the answer is sent). */
	if (st->slot) {
		atomic_fetch_sub(&running, 1);
		st->slot = 0;
	}
	if (st->too_big) {
		respond_stopped(r, 413, "too_big", "An import takes at most 64 MiB; the rows before the cap were imported.",
				report);
	} else if (rc == INLET_EINVAL && import_error(st->im)) {
		respond_stopped(r, 400, "invalid", import_error(st->im), report);
	} else if (rc) {
		respond_stopped(r, rc == INLET_ESHUTDOWN || rc == INLET_EBUSY ? 503 : 500, inlet_errname(rc),
				inlet_strerror(rc), report);
	} else {
		http_respond_json(r, 200, report);
	}
	json_object_put(report);
}

void api_import_get(struct http_req *r)
{
	struct queue_job job;
	struct endpoint e;
	int64_t aid;
	json_object *o;

	if (api_auth(r, &aid) || api_job_of(r, aid, "imp_", "import.run", "import", &job, &e))
		return;
	o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_string(http_param(r, "id")));
	json_object_object_add(o, "endpoint_id", json_object_new_string(e.pid));
	json_object_object_add(o, "job_id", json_object_new_int64(job.id));
	json_object_object_add(o, "state", json_object_new_string(queue_state_name(job.state)));
	/* Progress in bytes of the upload read. */
	json_object_object_add(o, "progress", json_object_new_int64(job.progress));
	json_object_object_add(o, "total", json_object_new_int64(job.total));
	json_object_object_add(o, "error", job.last_error && job.state != QUEUE_DONE ? json_object_new_string(job.last_error)
										   : NULL);
	json_object_object_add(o, "report", job.result ? json_tokener_parse(job.result) : NULL);
	json_object_object_add(o, "created_at", api_time_json(job.created_ms));
	http_respond_json(r, 200, o);
	json_object_put(o);
}
