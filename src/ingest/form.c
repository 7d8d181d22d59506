/* POST /f/{key}: the path of one submission.
 *   begin:  endpoint (cache), origin, active, rate limit, content type, caps;
 *           a multipart post gets its id and key now, so files can stream.
 *   body:   multipart parts stream through the Vault into the blob store;
 *           other bodies collect up to the form cap.
 *   handle: fields, special fields, validation, honeypot, metadata; the
 *           record is sealed and handed to the endpoint's writer, and the
 *           request is parked until the writer has committed it. Only then
 *           does the client get its answer. */

#include "ingest/form.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "api/api.h"
#include "app/app.h"
#include "app/live.h"
#include "app/tally.h"
#include "blob/blob.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/alloc.h"
#include "core/enc.h"
#include "core/jsonw.h"
#include "core/err.h"
#include "core/log.h"
#include "core/metrics.h"
#include "endpoint/cache.h"
#include "http/http.h"
#include "ingest/fields.h"
#include "ingest/header.h"
#include "ingest/kv.h"
#include "ingest/multipart.h"
#include "ingest/page.h"
#include "ingest/ratelimit.h"
#include "ingest/urlenc.h"
#include "jobs/runner.h"
#include "store/subs.h"
#include "vault/pubid.h"
#include "vault/vault.h"

#define MAX_FILES 100

struct form_file {
	const char *name, *field, *ctype; /* arena */
	uint64_t size;
	char blob_key[160];
	int committed;              /* blob is in the store */
};

struct form {
	struct app *app;
	struct arena *arena;        /* the request's */
	struct ep_entry *ep;        /* reference; released with the arena */
	int html;                   /* the client wants a page, not JSON */
	enum media media;
	size_t cap, seen;           /* body cap for this post, bytes seen */
	char origin[300];           /* from Origin, else Referer; "" if none */

	/* The first failure wins; the answer is sent after the body. */
	int fail_status;
	const char *fail_code, *fail_field, *fail_msg;
	unsigned retry_after;

	struct form_limits lim;
	struct kv_list kv;
	struct buf body;            /* non-multipart bodies */

	/* multipart streaming */
	struct mp_parser *mp;
	int part_kind;              /* 0 field, 1 file, 2 skipped */
	const char *part_name;
	struct buf part_value;
	struct vault_key *key;
	struct vault_writer *vw;
	struct blob_writer *bw;
	struct form_file *files;    /* arena; grown as file parts arrive */
	size_t nfiles, files_cap;

	int64_t sub_id;
	char sub_pid[PUBID_MAX];
	int status;                 /* enum sub_status of the stored row */
	int committed;              /* the row is durable: keep the blobs */

	/* The success answer, prepared before the commit. */
	char *next_url;
	char *ok_json;
};

static void fail(struct form *f, int status, const char *code, const char *field, const char *msg)
{
	if (f->fail_status)
		return;
	f->fail_status = status;
	f->fail_code = code;
	f->fail_field = field;
	f->fail_msg = msg;
}

/* ---- cleanup ------------------------------------------------------------- */

static void form_cleanup(void *arg)
{
	struct form *f = arg;

	mp_destroy(f->mp);
	vault_writer_destroy(f->vw);
	if (f->bw)
		f->app->blobs->ops->put_abort(f->bw);
	if (!f->committed)
		for (size_t i = 0; i < f->nfiles; i++)
			if (f->files[i].committed)
				f->app->blobs->ops->remove(f->app->blobs, f->files[i].blob_key);
	vault_key_release(f->key);
	ep_entry_release(f->ep);
	buf_free(&f->body);
	buf_free(&f->part_value);
}

/* ---- answers ------------------------------------------------------------- */

static void cors(struct http_req *r, struct form *f)
{
	if (f->origin[0] && f->ep && settings_origin_allowed(&f->ep->settings, f->origin)) {
		http_add_header(r, "Access-Control-Allow-Origin", f->origin);
		http_add_header(r, "Vary", "Origin");
	}
}

static void respond_failure(struct http_req *r, struct form *f)
{
	char retry[16];

	metrics_ingest(f->fail_code);
	cors(r, f);
	if (f->retry_after) {
		snprintf(retry, sizeof(retry), "%u", f->retry_after);
		http_add_header(r, "Retry-After", retry);
	}
	if (f->html) {
		page_respond(r, f->fail_status, "Your submission was not sent", f->fail_msg,
			     http_header(r, "Referer"));
		return;
	}
	json_object *root = json_object_new_object(), *errs = json_object_new_array(),
		    *e = json_object_new_object();

	json_object_object_add(e, "code", json_object_new_string(f->fail_code));
	if (f->fail_field)
		json_object_object_add(e, "field", json_object_new_string(f->fail_field));
	json_object_object_add(e, "message", json_object_new_string(f->fail_msg));
	json_object_array_add(errs, e);
	json_object_object_add(root, "error", json_object_new_string(f->fail_msg));
	json_object_object_add(root, "errors", errs);
	http_respond_json(r, f->fail_status, root);
	json_object_put(root);
}

/* ---- begin --------------------------------------------------------------- */

static void request_origin(struct http_req *r, struct form *f)
{
	const char *o = http_header(r, "Origin"), *ref = http_header(r, "Referer");

	f->origin[0] = '\0';
	if (o && strcmp(o, "null") != 0 && header_origin(o, f->origin, sizeof(f->origin)) == 0)
		return;
	f->origin[0] = '\0';
	if (ref && header_origin(ref, f->origin, sizeof(f->origin)) != 0)
		f->origin[0] = '\0';
}

static int mp_part_begin(void *ctx, const struct mp_part *part);
static int mp_part_data(void *ctx, const char *data, size_t len);
static int mp_part_end(void *ctx);
static const struct mp_callbacks mp_cb = { mp_part_begin, mp_part_data, mp_part_end };

static int start_record(struct form *f)
{
	int rc = vault_key_get(f->app->vault, f->ep->pid, f->ep->key_version, f->ep->wrapped,
			       f->ep->wrapped_len, &f->key);

	if (rc) {
		log_msg(LOG_ERROR, "endpoint %s: data key unavailable: %s", f->ep->pid, inlet_strerror(rc));
		return rc;
	}
	f->sub_id = sub_id_next();
	pubid_encode(f->app->ids, "sub_", f->sub_id, f->ep->id, f->sub_pid);
	return 0;
}

void form_begin(struct http_req *r)
{
	struct app *app = http_app(r);
	struct arena *a = http_arena(r);
	struct form *f = arena_zalloc(a, sizeof(*f));
	const char *ctype = http_header(r, "Content-Type"), *cl;
	unsigned wait;
	int rc;

	f->app = app;
	f->arena = a;
	buf_init(&f->body, 0);
	buf_init(&f->part_value, app->cfg.max_value_len);
	kv_init(&f->kv);
	f->lim.max_fields = app->cfg.max_fields;
	f->lim.max_name_len = app->cfg.max_name_len;
	f->lim.max_value_len = app->cfg.max_value_len;
	http_set_state(r, f);
	arena_on_destroy(a, form_cleanup, f);
	f->html = header_prefers_html(http_header(r, "Accept"));
	request_origin(r, f);

	rc = ep_cache_get(app->endpoints, http_param(r, "key"), &f->ep);
	if (!rc && strcmp(f->ep->kind, "form") != 0)
		rc = INLET_ENOTFOUND; /* an events endpoint takes no form posts */
	if (rc) {
		fail(f, rc == INLET_ENOTFOUND ? 404 : 500, rc == INLET_ENOTFOUND ? "FORM_NOT_FOUND" : "INTERNAL",
		     NULL, rc == INLET_ENOTFOUND ? "This form does not exist." : "The form could not be loaded.");
		return;
	}
	if (f->origin[0] && !settings_origin_allowed(&f->ep->settings, f->origin)) {
		fail(f, 403, "ORIGIN_NOT_ALLOWED", NULL, "This form does not accept submissions from this site.");
		return;
	}
	if (!f->ep->settings.active) {
		fail(f, 403, "INACTIVE", NULL, "This form is not accepting submissions.");
		return;
	}
	wait = ratelimit_take(app->rl, f->ep->id, http_client_ip(r), f->ep->settings.rl_per_minute,
			      f->ep->settings.rl_burst, now_ms());
	if (wait) {
		f->retry_after = wait;
		fail(f, 429, "RATE_LIMITED", NULL, "Too many submissions. Please try again later.");
		return;
	}
	f->media = header_media(ctype);
	switch (f->media) {
	case MEDIA_URLENCODED:
	case MEDIA_JSON:
		f->cap = app->cfg.form_body_max;
		buf_init(&f->body, f->cap);
		break;
	case MEDIA_MULTIPART: {
		char boundary[80];
		struct mp_limits ml = { .max_parts = app->cfg.max_fields + MAX_FILES,
					.max_header_bytes = app->cfg.max_parts_header };

		f->cap = app->cfg.upload_body_max;
		if (mp_boundary(ctype, boundary, sizeof(boundary))) {
			fail(f, 400, "INVALID", NULL, "The multipart body has no boundary.");
			return;
		}
		if (start_record(f)) {
			fail(f, 500, "INTERNAL", NULL, "The submission could not be stored.");
			return;
		}
		f->mp = mp_create(boundary, &ml, &mp_cb, f);
		break;
	}
	default:
		fail(f, 415, "UNSUPPORTED_CONTENT_TYPE", NULL,
		     "Send the form as application/x-www-form-urlencoded, multipart/form-data or application/json.");
		return;
	}
	cl = http_header(r, "Content-Length");
	if (cl && strtoull(cl, NULL, 10) > f->cap)
		fail(f, 413, "BODY_TOO_BIG", NULL, "The submission is too large.");
}

/* ---- multipart streaming ------------------------------------------------- */

static int sink_blob(void *ctx, const void *data, size_t len)
{
	struct form *f = ctx;

	return f->app->blobs->ops->put_write(f->bw, data, len);
}

static int mp_part_begin(void *ctx, const struct mp_part *part)
{
	struct form *f = ctx;
	struct settings *s = &f->ep->settings;
	struct form_file *ff;
	int rc;

	f->part_name = arena_strdup(f->arena, part->name);
	buf_reset(&f->part_value);
	if (!part->filename) {
		f->part_kind = 0;
		return 0;
	}
	if (part->filename[0] == '\0') {
		/* A file input left empty: browsers send an empty part. */
		f->part_kind = 2;
		return 0;
	}
	if (!s->files_enabled) {
		fail(f, 400, "NO_FILE_UPLOADS", f->part_name, "This form does not accept file uploads.");
		return INLET_EFORBIDDEN;
	}
	if (f->nfiles >= s->files_max_count || f->nfiles >= MAX_FILES) {
		fail(f, 413, "TOO_MANY_FILES", f->part_name, "Too many files were attached.");
		return INLET_ETOOMANY;
	}
	if (f->nfiles == f->files_cap) {
		/* Most posts carry no file: the table exists only once one does. */
		size_t cap = f->files_cap ? 2 * f->files_cap : 4;
		struct form_file *bigger = arena_zalloc(f->arena, cap * sizeof(*bigger));

		if (f->nfiles)
			memcpy(bigger, f->files, f->nfiles * sizeof(*bigger));
		f->files = bigger;
		f->files_cap = cap;
	}
	ff = &f->files[f->nfiles];
	ff->name = arena_strdup(f->arena, part->filename);
	ff->field = f->part_name;
	ff->ctype = arena_strdup(f->arena, part->content_type ? part->content_type
							      : "application/octet-stream");
	snprintf(ff->blob_key, sizeof(ff->blob_key), "%s/%s.%zu", f->ep->pid, f->sub_pid, f->nfiles);
	if ((rc = blob_put_begin(f->app->blobs, ff->blob_key, &f->bw))) {
		fail(f, 500, "INTERNAL", NULL, "The file could not be stored.");
		return rc;
	}
	f->vw = vault_writer_create(f->key, f->sub_pid, (uint32_t)f->nfiles, sink_blob, f);
	f->nfiles++;
	f->part_kind = 1;
	return 0;
}

static int mp_part_data(void *ctx, const char *data, size_t len)
{
	struct form *f = ctx;
	struct form_file *ff;
	int rc;

	if (f->part_kind == 2)
		return 0;
	if (f->part_kind == 0) {
		if (buf_append(&f->part_value, data, len)) {
			fail(f, 413, "BODY_TOO_BIG", f->part_name, "A field is too long.");
			return INLET_ETOOBIG;
		}
		return 0;
	}
	ff = &f->files[f->nfiles - 1];
	ff->size += len;
	if (ff->size > f->ep->settings.files_max_size) {
		fail(f, 413, "FILES_TOO_BIG", ff->field, "An attached file is too large.");
		return INLET_ETOOBIG;
	}
	if ((rc = vault_writer_write(f->vw, data, len))) {
		fail(f, 500, "INTERNAL", NULL, "The file could not be stored.");
		return rc;
	}
	return 0;
}

static int mp_part_end(void *ctx)
{
	struct form *f = ctx;
	struct blob_writer *bw;
	int rc;

	if (f->part_kind == 2)
		return 0;
	if (f->part_kind == 0) {
		rc = kv_add(f->arena, &f->kv, &f->lim, f->part_name, strlen(f->part_name),
			    f->part_value.data ? f->part_value.data : "", f->part_value.len);
		if (rc)
			fail(f, 413, rc == INLET_ETOOMANY ? "TOO_MANY_FIELDS" : "BODY_TOO_BIG", f->part_name,
			     rc == INLET_ETOOMANY ? "The form has too many fields." : "A field is too long.");
		return rc;
	}
	rc = vault_writer_finish(f->vw);
	vault_writer_destroy(f->vw);
	f->vw = NULL;
	bw = f->bw;
	f->bw = NULL;
	if (rc) {
		f->app->blobs->ops->put_abort(bw);
	} else if (!(rc = f->app->blobs->ops->put_commit(bw))) {
		f->files[f->nfiles - 1].committed = 1;
	}
	if (rc)
		fail(f, 500, "INTERNAL", NULL, "The file could not be stored.");
	return rc;
}

int form_body(struct http_req *r, const char *data, size_t len)
{
	struct form *f = http_state(r);
	int rc;

	if (!f || f->fail_status)
		return 1;
	f->seen += len;
	if (f->seen > f->cap) {
		fail(f, 413, "BODY_TOO_BIG", NULL, "The submission is too large.");
		return 1;
	}
	if (f->mp) {
		rc = mp_feed(f->mp, data, len);
		if (rc && !f->fail_status) {
			if (rc == INLET_ETOOMANY)
				fail(f, 413, "TOO_MANY_FIELDS", NULL, "The form has too many fields.");
			else if (rc == INLET_ETOOBIG)
				fail(f, 413, "BODY_TOO_BIG", NULL, "A part of the form is too large.");
			else
				fail(f, 400, "INVALID", NULL, "The multipart body is malformed.");
		}
		return rc ? 1 : 0;
	}
	if (buf_append(&f->body, data, len)) {
		fail(f, 413, "BODY_TOO_BIG", NULL, "The submission is too large.");
		return 1;
	}
	return 0;
}

/* ---- where next --------------------------------------------------------- */

/* _next is honoured only towards an origin the endpoint trusts: one of its
 * allowed origins, or, when it allows any, the site the post came from.
 * Anything else would make the form an open redirect. */
static int next_allowed(struct form *f, const char *next)
{
	char origin[300];

	if (header_origin(next, origin, sizeof(origin)))
		return 0;
	if (f->ep->settings.norigins)
		return settings_origin_allowed(&f->ep->settings, origin);
	return f->origin[0] && strcmp(origin, f->origin) == 0;
}

/* ---- commit -------------------------------------------------------------- */

/* Tells watching dashboards, now that the row is durable: a client that
 * fetches it on this event finds it. Ids, status and time only; never a
 * field (public ids and ISO times need no JSON escaping). */
static void publish(struct form *f)
{
	char when[40], json[256];

	api_time(sub_id_ms(f->sub_id), when, sizeof(when));
	snprintf(json, sizeof(json), "{\"id\":\"%s\",\"endpoint\":\"%s\",\"status\":\"%s\",\"created_at\":\"%s\"}",
		 f->sub_pid, f->ep->pid, f->status == SUB_SPAM ? "spam" : "inbox", when);
	live_publish(f->app->live, f->ep->account_id, f->ep->pid, "submission.created", json);
}

static void committed(void *ctx, int rc)
{
	struct http_req *r = ctx;
	struct form *f = http_state(r);

	/* Writer thread; the request is parked, so nothing else touches it. */
	if (rc) {
		fail(f, rc == INLET_ESHUTDOWN ? 503 : 500, "INTERNAL", NULL,
		     "The submission could not be stored. Please try again.");
		respond_failure(r, f);
	} else {
		f->committed = 1;
		/* Analytics: submissions per day and the spam among them. */
		tally_add(f->app->tally, f->ep->account_id, f->ep->id, "submissions", 1);
		if (f->status == SUB_SPAM)
			tally_add(f->app->tally, f->ep->account_id, f->ep->id, "spam", 1);
		if (f->ep->jobs)
			runner_kick(f->app->runner);
		publish(f);
		cors(r, f);
		if (f->html) {
			http_add_header(r, "Location", f->next_url);
			http_respond(r, 303, "text/plain; charset=utf-8", "See Other\n", 10);
		} else {
			http_respond(r, 200, "application/json", f->ok_json, strlen(f->ok_json));
		}
	}
	http_resume(r);
}

static void meta_str(struct jsonw *w, const char *key, const char *val)
{
	if (val && *val) {
		jsonw_key(w, key, strlen(key));
		jsonw_str(w, val, strlen(val));
	}
}

void form_post(struct http_req *r)
{
	struct form *f = http_state(r);
	struct app *app = http_app(r);
	json_object *fields = NULL, *special = NULL;
	struct fields fs = { 0 };
	struct field_error ferr;
	const char **file_fields;
	const char *v, *gotcha, *next;
	struct sub_row row = { 0 };
	struct buf rec, ok;
	struct jsonw w;
	uint8_t *sealed = NULL;
	size_t sealed_len, nfields;
	char iphash[65];
	int rc;

	if (!f) {
		http_error(r, 500, "internal", "the form was not set up");
		return;
	}
	/* The record is at most the body plus metadata: cap it well above. */
	buf_init(&rec, f->seen + 64 * 1024);
	buf_init(&ok, 8 * 1024);
	if (!f->fail_status && f->mp && mp_finish(f->mp))
		fail(f, 400, "INVALID", NULL, "The multipart body is truncated.");
	if (f->fail_status)
		goto failed;
	if (f->media == MEDIA_URLENCODED) {
		rc = urlenc_parse(f->arena, f->body.data ? f->body.data : "", f->body.len, &f->lim, &f->kv);
		if (rc)
			fail(f, 413, rc == INLET_ETOOMANY ? "TOO_MANY_FIELDS" : "BODY_TOO_BIG", NULL,
			     "The form has too many or too long fields.");
	}
	if (f->media == MEDIA_JSON) {
		fields = json_object_new_object();
		special = json_object_new_object();
		if (fields_parse_json(f->body.data, f->body.len, &f->lim, fields, special, &ferr))
			fail(f, ferr.status, ferr.code, ferr.field, ferr.message);
	}
	if (f->fail_status)
		goto failed;
	file_fields = arena_alloc(f->arena, (f->nfiles ? f->nfiles : 1) * sizeof(*file_fields));
	for (size_t i = 0; i < f->nfiles; i++)
		file_fields[i] = f->files[i].field;
	fs = (struct fields){ .kv = fields ? NULL : &f->kv, .json = fields, .special = special,
			      .file_fields = file_fields, .nfile_fields = f->nfiles };

	/* {"fields":{…},"files":[…],"meta":{…}}, written directly: building a
	 * json-c tree of a form only to print it cost more than the rest of
	 * the post. A JSON body's values are already json-c objects. */
	jsonw_init(&w, &rec);
	jsonw_open(&w, '{');
	jsonw_key(&w, "fields", 6);
	if (fields) {
		size_t len;
		const char *js = json_object_to_json_string_length(
			fields, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);

		jsonw_raw(&w, js, len);
		nfields = (size_t)json_object_object_length(fields);
	} else {
		nfields = fields_write_kv(&w, f->arena, &f->kv);
	}
	if (nfields == 0 && f->nfiles == 0) {
		fail(f, 422, "EMPTY", NULL, "The submission has no fields.");
		goto failed;
	}
	if (fields_validate(f->arena, &f->ep->settings, &fs, &ferr)) {
		fail(f, ferr.status, ferr.code, ferr.field, ferr.message);
		goto failed;
	}
	if (!f->key && (rc = start_record(f))) {
		fail(f, 500, "INTERNAL", NULL, "The submission could not be stored.");
		goto failed;
	}

	jsonw_key(&w, "files", 5);
	jsonw_open(&w, '[');
	for (size_t i = 0; i < f->nfiles; i++) {
		jsonw_sep(&w);
		jsonw_open(&w, '{');
		meta_str(&w, "name", f->files[i].name);
		meta_str(&w, "field", f->files[i].field);
		jsonw_key(&w, "size", 4);
		jsonw_int(&w, (int64_t)f->files[i].size);
		meta_str(&w, "content_type", f->files[i].ctype);
		jsonw_close(&w, '}');
	}
	jsonw_close(&w, ']');

	jsonw_key(&w, "meta", 4);
	jsonw_open(&w, '{');
	meta_str(&w, "user_agent", http_header(r, "User-Agent"));
	meta_str(&w, "referrer", http_header(r, "Referer"));
	meta_str(&w, "origin", http_header(r, "Origin"));
	if (f->ep->settings.ip == IP_STORE)
		meta_str(&w, "ip", http_client_ip(r));
	else if (f->ep->settings.ip == IP_HASH && app_ip_hash(app, http_client_ip(r), iphash) == 0)
		meta_str(&w, "ip_hash", iphash);
	meta_str(&w, "subject", fields_str(&fs, 1, "_subject"));
	v = fields_str(&fs, 1, "_replyto");
	meta_str(&w, "reply_to", v ? v : fields_str(&fs, 0, "email"));
	meta_str(&w, "cc", fields_str(&fs, 1, "_cc"));
	next = fields_str(&fs, 1, "_next");
	meta_str(&w, "next", next);
	meta_str(&w, "format", fields_str(&fs, 1, "_format"));
	gotcha = fields_str(&fs, 1, "_gotcha");
	if (!(gotcha && *gotcha) && f->ep->settings.honeypot)
		gotcha = fields_str(&fs, 0, f->ep->settings.honeypot);
	if (gotcha && *gotcha)
		meta_str(&w, "spam_reason", "honeypot");
	jsonw_close(&w, '}');
	jsonw_close(&w, '}');
	if (w.rc) {
		fail(f, 413, "BODY_TOO_BIG", NULL, "The submission is too large.");
		goto failed;
	}

	/* Where the client goes next, decided now so the writer thread only
	 * has to copy a prepared answer. */
	if (f->ep->settings.redirect_url)
		f->next_url = arena_strdup(f->arena, f->ep->settings.redirect_url);
	else if (next && next_allowed(f, next))
		f->next_url = arena_strdup(f->arena, next);
	else
		f->next_url = arena_printf(f->arena, "%s/f/%s/thanks", app->cfg.public_url, f->ep->key);
	jsonw_init(&w, &ok);
	jsonw_raw(&w, "{\"ok\":true,\"next\":", 18);
	jsonw_str(&w, f->next_url, strlen(f->next_url));
	jsonw_raw(&w, ",\"id\":", 6);
	jsonw_str(&w, f->sub_pid, strlen(f->sub_pid));
	jsonw_raw(&w, "}", 1);
	f->ok_json = arena_strndup(f->arena, ok.data ? ok.data : "{}", ok.len);

	rc = vault_seal(f->key, f->sub_pid, rec.data, rec.len, &sealed, &sealed_len);
	secure_wipe(rec.data, rec.len);
	if (rc) {
		fail(f, 500, "INTERNAL", NULL, "The submission could not be sealed.");
		goto failed;
	}
	row.id = f->sub_id;
	row.endpoint_id = f->ep->id;
	row.status = gotcha && *gotcha ? SUB_SPAM : SUB_INBOX;
	f->status = row.status;
	row.key_version = f->ep->key_version;
	row.nfiles = (int)f->nfiles;
	row.sealed = sealed;
	row.sealed_len = sealed_len;
	row.shard_threshold = (int64_t)f->ep->settings.shard_threshold;
	/* Spam causes no notification or webhook. */
	row.outbox = f->ep->jobs && row.status == SUB_INBOX;
	metrics_ingest(row.status == SUB_SPAM ? "spam" : "accepted");
	json_object_put(fields);
	json_object_put(special);
	buf_free(&rec);
	buf_free(&ok);
	/* Park first: the writer may finish before substore_insert returns. */
	http_suspend(r);
	substore_insert(app_subs(app, f->ep->id), &row, committed, r);
	free(sealed);
	return;
failed:
	json_object_put(fields);
	json_object_put(special);
	if (rec.data)
		secure_wipe(rec.data, rec.len);
	buf_free(&rec);
	buf_free(&ok);
	respond_failure(r, f);
}

/* ---- the other routes ---------------------------------------------------- */

void form_preflight(struct http_req *r)
{
	struct app *app = http_app(r);
	struct ep_entry *ep = NULL;
	char origin[300];
	const char *o = http_header(r, "Origin");

	if (ep_cache_get(app->endpoints, http_param(r, "key"), &ep)) {
		http_error(r, 404, "not_found", "This form does not exist.");
		return;
	}
	if (o && header_origin(o, origin, sizeof(origin)) == 0 && settings_origin_allowed(&ep->settings, origin)) {
		http_add_header(r, "Access-Control-Allow-Origin", origin);
		http_add_header(r, "Access-Control-Allow-Methods", "POST, OPTIONS");
		http_add_header(r, "Access-Control-Allow-Headers",
				"Content-Type, Accept, Formspree-Client, Formspree-Session-Data, X-Requested-With");
		http_add_header(r, "Access-Control-Max-Age", "86400");
		http_add_header(r, "Vary", "Origin");
	}
	ep_entry_release(ep);
	http_respond_empty(r, 204);
}

void form_thanks(struct http_req *r)
{
	struct app *app = http_app(r);
	struct ep_entry *ep = NULL;

	if (ep_cache_get(app->endpoints, http_param(r, "key"), &ep)) {
		page_respond(r, 404, "Form not found", "This form does not exist.", NULL);
		return;
	}
	ep_entry_release(ep);
	page_respond(r, 200, "Thank you!", "Your submission has been received.", NULL);
}

void form_get(struct http_req *r)
{
	/* The form's own routes answer in Formspree's shape throughout. */
	struct form f = { .html = header_prefers_html(http_header(r, "Accept")) };

	http_add_header(r, "Allow", "POST, OPTIONS");
	fail(&f, 405, "METHOD_NOT_ALLOWED", NULL, "This address takes form submissions (POST) only.");
	respond_failure(r, &f);
}
