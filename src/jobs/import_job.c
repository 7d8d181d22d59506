#include "jobs/import_job.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "api/api.h"
#include "app/app.h"
#include "blob/blob.h"
#include "core/alloc.h"
#include "core/arena.h"
#include "core/enc.h"
#include "core/err.h"
#include "ingest/import.h"
#include "store/queue.h"
#include "store/tenant.h"
#include "vault/vault.h"

#define NOTE_EVERY_MS 500
#define LEASE_MS (30LL * 60 * 1000)

struct source {
	struct blob_store *bs;
	struct blob_reader *br;
};

static long source_blob(void *ctx, void *buf, size_t len)
{
	struct source *s = ctx;

	return s->bs->ops->get_read(s->br, buf, len);
}

int import_job_run(struct app *app, const struct queue_job *job, const char *worker, char *err, size_t errsize,
		   int *permanent)
{
	struct arena *a = arena_create(4096);
	struct json_object *p = json_tokener_parse((const char *)job->payload), *v, *report = NULL;
	struct source src = { .bs = app->blobs };
	struct vault_key *key = NULL;
	struct vault_reader *vr = NULL;
	struct import *im = NULL;
	struct endpoint e;
	char upload[64] = "", bkey[200] = "", *buf = NULL;
	int64_t size = 0, done = 0, last_note = 0;
	int fmt = 0, rc;

	*permanent = 0;
	if (!p || !json_object_object_get_ex(p, "upload", &v) || !json_object_is_type(v, json_type_string)) {
		snprintf(err, errsize, "malformed job payload");
		*permanent = 1;
		rc = INLET_EINVAL;
		goto out;
	}
	snprintf(upload, sizeof(upload), "%s", json_object_get_string(v));
	if (json_object_object_get_ex(p, "format", &v))
		fmt = json_object_get_int(v);
	if (json_object_object_get_ex(p, "size", &v))
		size = json_object_get_int64(v);
	if (!json_object_object_get_ex(p, "endpoint_id", &v) ||
	    (rc = tenant_endpoint_by_id(app->tenant, json_object_get_int64(v), a, &e))) {
		snprintf(err, errsize, "the endpoint is gone");
		*permanent = 1;
		rc = INLET_ENOTFOUND;
		goto out;
	}
	snprintf(bkey, sizeof(bkey), "%s/%s.0", e.pid, upload);
	if ((rc = app->blobs->ops->get_open(app->blobs, bkey, &src.br))) {
		snprintf(err, errsize, "the upload is gone");
		*permanent = 1;
		goto out;
	}
	if ((rc = api_endpoint_key(app, &e, e.key_version, &key)) ||
	    (rc = import_create(&im, app, &e, (enum importfmt_format)fmt))) {
		snprintf(err, errsize, "the import could not start: %s", inlet_strerror(rc));
		goto out;
	}
	vr = vault_reader_create(key, upload, 0, source_blob, &src);
	buf = xmalloc(VAULT_CHUNK_BYTES);
	for (;;) {
		long n = vault_reader_read(vr, buf, VAULT_CHUNK_BYTES);

		if (n < 0) {
			rc = (int)n;
			snprintf(err, errsize, "the upload cannot be read: %s", inlet_strerror(rc));
			*permanent = rc == INLET_ETAMPERED;
			goto out;
		}
		if (n == 0)
			break;
		if ((rc = import_feed(im, buf, (size_t)n)))
			break;
		done += n;
		if (now_ms() - last_note >= NOTE_EVERY_MS) {
			(void)queue_note(app->queue, job->id, worker, done, size, NULL);
			(void)queue_extend(app->queue, job->id, worker, LEASE_MS);
			last_note = now_ms();
		}
	}
	if (!rc)
		rc = import_finish(im);
	/* The report is the result whatever happened: what was imported is
	 * committed, and a malformed file is the file's fault, not retried. */
	report = import_report(im);
	if (rc && import_error(im))
		json_object_object_add(report, "error", json_object_new_string(import_error(im)));
	(void)queue_note(app->queue, job->id, worker, done, size,
			 json_object_to_json_string_ext(report, JSON_C_TO_STRING_PLAIN));
	if (rc == INLET_EINVAL) {
		snprintf(err, errsize, "%s", import_error(im) ? import_error(im) : "the file is malformed");
		*permanent = 1;
	} else if (rc) {
		snprintf(err, errsize, "the import stopped: %s", inlet_strerror(rc));
	}
out:
	if (bkey[0] && (!rc || *permanent))
		app->blobs->ops->remove(app->blobs, bkey); /* done with; a retry needs it */
	if (buf) {
		secure_wipe(buf, VAULT_CHUNK_BYTES);
		free(buf);
	}
	vault_reader_destroy(vr);
	if (src.br)
		app->blobs->ops->get_close(src.br);
	import_destroy(im);
	vault_key_release(key);
	json_object_put(report);
	json_object_put(p);
	arena_destroy(a);
	return rc;
}
