#include "jobs/export_job.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "api/api.h"
#include "api/export.h"
#include "app/app.h"
#include "blob/blob.h"
#include "core/alloc.h"
#include "core/arena.h"
#include "core/enc.h"
#include "core/err.h"
#include "store/queue.h"
#include "store/subs.h"
#include "store/tenant.h"
#include "vault/pubid.h"
#include "vault/vault.h"

#define NOTE_EVERY_MS 500
#define LEASE_MS (30LL * 60 * 1000)

struct sink {
	struct blob_store *bs;
	struct blob_writer *bw;
};

static int sink_blob(void *ctx, const void *data, size_t len)
{
	struct sink *s = ctx;

	return s->bs->ops->put_write(s->bw, data, len);
}

static int64_t member_i64(struct json_object *o, const char *k)
{
	struct json_object *v;

	return json_object_object_get_ex(o, k, &v) ? json_object_get_int64(v) : 0;
}

int export_job_run(struct app *app, const struct queue_job *job, const char *worker, char *err, size_t errsize,
		   int *permanent)
{
	struct arena *a = arena_create(4096);
	struct json_object *p = json_tokener_parse((const char *)job->payload), *v;
	struct export_opts o = { .status = -1 };
	struct export_stats st;
	struct export *x = NULL;
	struct endpoint e;
	struct vault_key *key = NULL;
	struct vault_writer *vw = NULL;
	struct sink sk = { .bs = app->blobs };
	char pid[PUBID_MAX], bkey[200], name[256], *buf = NULL, *result;
	int64_t total = 0, size = 0, last_note = 0;
	int rc;

	*permanent = 0;
	if (!p || !json_object_object_get_ex(p, "format", &v) ||
	    export_format_parse(json_object_get_string(v), &o.format)) {
		snprintf(err, errsize, "malformed job payload");
		*permanent = 1;
		rc = INLET_EINVAL;
		goto out;
	}
	o.min_id = member_i64(p, "min_id");
	o.max_id = member_i64(p, "max_id");
	if (json_object_object_get_ex(p, "status", &v))
		o.status = json_object_get_int(v);
	if ((rc = tenant_endpoint_by_id(app->tenant, member_i64(p, "endpoint_id"), a, &e))) {
		snprintf(err, errsize, "the endpoint is gone");
		*permanent = 1;
		goto out;
	}
	pubid_encode(app->ids, "exp_", job->id, e.id, pid);
	snprintf(bkey, sizeof(bkey), "%s/%s.0", e.pid, pid);
	substore_count(app_subs(app, e.id), e.id, &total);
	if ((rc = api_endpoint_key(app, &e, e.key_version, &key)) || (rc = export_create(app, &e, &o, &x)) ||
	    (rc = export_prepare(x, NULL, NULL)) || (rc = blob_put_begin(app->blobs, bkey, &sk.bw))) {
		snprintf(err, errsize, "the export could not start: %s", inlet_strerror(rc));
		goto out;
	}
	vw = vault_writer_create(key, pid, 0, sink_blob, &sk);
	buf = xmalloc(VAULT_CHUNK_BYTES);
	for (;;) {
		long n = export_read(x, buf, VAULT_CHUNK_BYTES);

		if (n < 0) {
			rc = (int)n;
			break;
		}
		if (n == 0)
			break;
		if ((rc = vault_writer_write(vw, buf, (size_t)n)))
			break;
		size += n;
		if (now_ms() - last_note >= NOTE_EVERY_MS) {
			export_stats(x, &st);
			(void)queue_note(app->queue, job->id, worker, st.rows, total, NULL);
			(void)queue_extend(app->queue, job->id, worker, LEASE_MS);
			last_note = now_ms();
		}
	}
	if (!rc)
		rc = vault_writer_finish(vw);
	if (!rc)
		rc = app->blobs->ops->put_commit(sk.bw);
	else
		app->blobs->ops->put_abort(sk.bw);
	sk.bw = NULL;
	if (rc) {
		snprintf(err, errsize, "the export stopped: %s", inlet_strerror(rc));
		goto out;
	}
	export_stats(x, &st);
	export_filename(e.name, o.format, job->created_ms, name, sizeof(name));
	{
		struct json_object *r = json_object_new_object();

		json_object_object_add(r, "size", json_object_new_int64(size));
		json_object_object_add(r, "rows", json_object_new_int64(st.rows));
		json_object_object_add(r, "unreadable", json_object_new_int64(st.unreadable));
		json_object_object_add(r, "name", json_object_new_string(name));
		json_object_object_add(r, "content_type", json_object_new_string(export_content_type(o.format)));
		result = xstrdup(json_object_to_json_string_ext(r, JSON_C_TO_STRING_PLAIN));
		json_object_put(r);
	}
	rc = queue_note(app->queue, job->id, worker, st.rows, st.rows, result);
	free(result);
out:
	if (buf) {
		secure_wipe(buf, VAULT_CHUNK_BYTES);
		free(buf);
	}
	vault_writer_destroy(vw);
	if (sk.bw)
		app->blobs->ops->put_abort(sk.bw);
	export_destroy(x);
	vault_key_release(key);
	json_object_put(p);
	arena_destroy(a);
	return rc;
}
