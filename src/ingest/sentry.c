/* The Sentry ingest protocol, so that the official SDKs report here:
 *   POST /api/{project}/envelope/   an envelope (events, sessions,
 *                                   attachments, client reports, ...)
 *   POST /api/{project}/store/      one event (older SDKs)
 * The key comes from the sentry_key query argument (browsers, to avoid a
 * preflight), the X-Sentry-Auth header (servers), or the envelope
 * header's dsn. Bodies may be chunked and gzip, deflate or br encoded.
 * Every item of a request is stored in one transaction, and the answer,
 * 200 {"id": event_id}, comes after the commit. */
#include "ingest/sentry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "app/app.h"
#include "blob/blob.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/enc.h"
#include "core/err.h"
#include "core/log.h"
#include "endpoint/cache.h"
#include "events/decompress.h"
#include "events/envelope.h"
#include "events/sentry_auth.h"
#include "events/sentry_items.h"
#include "http/http.h"
#include "ingest/evgate.h"
#include "ingest/evpipe.h"
#include "vault/vault.h"

#define SENTRY_EVENT_MAX (1u << 20)           /* bytes of one event */
#define SENTRY_DECODED_MAX (100u << 20)       /* bytes of a decoded envelope */
#define SENTRY_ATTACHMENTS_MAX 16             /* per event */

struct sentry_req {
	struct evgate *g;           /* NULL until a key is known */
	int store;                  /* /store/ rather than /envelope/ */
	char event_id[33];
	struct app *app;
	char *blob_keys[SENTRY_ATTACHMENTS_MAX]; /* arena; stored attachments */
	size_t nblobs;
	int keep_blobs;
};

static void req_cleanup(void *arg)
{
	struct sentry_req *q = arg;

	/* Attachments of an event that was not stored do not stay behind. */
	if (!q->keep_blobs)
		for (size_t i = 0; i < q->nblobs; i++)
			q->app->blobs->ops->remove(q->app->blobs, q->blob_keys[i]);
}

/* The key from the query or the X-Sentry-Auth header, or NULL. */
static const char *request_key(struct http_req *r, struct sentry_auth *auth, int *bad)
{
	const char *k = http_query(r, "sentry_key"), *h = http_header(r, "X-Sentry-Auth");

	*bad = 0;
	if (k && *k)
		return k;
	if (h) {
		if (sentry_auth_parse_header(h, strlen(h), auth) == 0)
			return auth->key;
		*bad = 1;
	}
	return NULL;
}

void sentry_begin(struct http_req *r)
{
	struct arena *a = http_arena(r);
	struct sentry_req *q = arena_zalloc(a, sizeof(*q));
	struct sentry_auth auth = { 0 };
	const char *key, *ce = http_header(r, "Content-Encoding");
	int bad;

	q->app = http_app(r);
	q->store = strstr(http_path(r), "/store") != NULL;
	arena_on_destroy(a, req_cleanup, q);
	http_set_state(r, q);
	key = request_key(r, &auth, &bad);
	if (bad) {
		q->g = evgate_new(r, 1);
		evgate_fail(q->g, 401, "bad_auth", "The X-Sentry-Auth header is malformed.");
	} else if (key) {
		q->g = evgate_open(r, key, EVGATE_SENTRY);
	}
	if (decompress_check(ce)) {
		if (!q->g)
			q->g = evgate_open(r, key, EVGATE_SENTRY);
		evgate_fail(q->g, 415, "unsupported_encoding", "This Content-Encoding is not supported.");
	}
	/* Refused before the body is read: it is never needed. */
	if (q->g && q->g->fail_status)
		evgate_respond_failure(r, q->g);
}

/* The project in the path must be the key's. */
static int project_matches(struct http_req *r, struct sentry_req *q)
{
	char want[24];

	app_project_id(q->app, q->g->ep->id, want);
	return strcmp(http_param(r, "project"), want) == 0;
}

/* An event without an id gets one, as Sentry's relay gives it. */
static void new_event_id(char out[33])
{
	uint8_t b[16];

	rand_bytes(b, sizeof(b));
	hex_encode(out, b, sizeof(b));
}

static void answer(struct http_req *r, struct sentry_req *q)
{
	char body[64];

	if (!q->event_id[0])
		new_event_id(q->event_id);
	evgate_cors(r, q->g);
	snprintf(body, sizeof(body), "{\"id\":\"%s\"}", q->event_id);
	http_respond(r, 200, "application/json", body, strlen(body));
}

static void committed(struct http_req *r, struct evp *p, int rc)
{
	struct sentry_req *q = http_state(r);
	size_t n = evp_events(p), stored = 0;

	if (rc) {
		evgate_fail(q->g, rc == INLET_ESHUTDOWN ? 503 : 500, "internal",
			    "The envelope could not be stored. Please retry.");
		evgate_respond_failure(r, q->g);
	} else {
		for (size_t i = 0; i < n; i++)
			stored += (size_t)evp_stored(p, i);
		q->keep_blobs = stored > 0;
		evgate_count(r, q->g, "events", (long)stored);
		evgate_count(r, q->g, "ignored", (long)(n - stored));
		answer(r, q);
	}
	http_resume(r);
}

static int fail(struct http_req *r, struct sentry_req *q, int status, const char *code, const char *msg)
{
	evgate_fail(q->g, status, code, msg);
	evgate_respond_failure(r, q->g);
	return -1;
}

/* Parses one event item (or the /store/ body) into a json-c object. */
static struct json_object *parse_event(const char *p, size_t len)
{
	struct json_tokener *tok = json_tokener_new_ex(64);
	struct json_object *ev;

	if (!tok)
		return NULL;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	ev = json_tokener_parse_ex(tok, p, (int)len);
	if (ev && (json_tokener_get_parse_end(tok) != len || !json_object_is_type(ev, json_type_object))) {
		json_object_put(ev);
		ev = NULL;
	}
	json_tokener_free(tok);
	return ev;
}

static int add_event(struct http_req *r, struct sentry_req *q, struct evp *p, struct json_object *ev,
		     const char *raw, size_t raw_len, int64_t pre_id, struct json_object *attachments)
{
	struct sentry_summary sum;
	struct evp_event e = { .kind = "sentry", .fmt = FP_FORMAT_SENTRY, .data = ev, .raw = raw,
			       .raw_len = raw_len, .attachments = attachments, .pre_id = pre_id };

	if (sentry_event_summary(ev, &sum))
		memset(&sum, 0, sizeof(sum));
	if (sum.is_transaction)
		return 0; /* performance data, not an error: skipped */
	if (sum.event_id[0])
		memcpy(q->event_id, sum.event_id, sizeof(q->event_id));
	else if (!q->event_id[0])
		new_event_id(q->event_id);
	e.event_id = q->event_id;
	e.level = sum.level;
	e.release = sum.release;
	e.environment = sum.environment;
	e.uri = sum.uri;
	return evp_add_event(p, &e, NULL);
}

/* ---- attachments --------------------------------------------------------- */

struct sink {
	struct blob_store *bs;
	struct blob_writer *bw;
};

static int sink_blob(void *ctx, const void *data, size_t len)
{
	struct sink *s = ctx;

	return s->bs->ops->put_write(s->bw, data, len);
}

/* Seals one attachment into the blob store as file n of the event pid;
 * its description goes into arr. */
static int store_attachment(struct sentry_req *q, struct evp *p, struct ep_entry *ep, const char *pid,
			    const struct env_item *it, struct json_object *arr)
{
	struct blob_store *bs = q->app->blobs;
	struct sink s = { .bs = bs };
	struct vault_writer *vw;
	struct json_object *o, *v;
	size_t n = q->nblobs;
	char *key;
	int rc;

	if (n >= SENTRY_ATTACHMENTS_MAX || it->len > q->app->cfg.upload_body_max)
		return INLET_ETOOBIG;
	key = arena_printf(evp_arena(p), "%s/%s.%zu", ep->pid, pid, n);
	if ((rc = blob_put_begin(bs, key, &s.bw)))
		return rc;
	vw = vault_writer_create(evp_key(p), pid, (uint32_t)n, sink_blob, &s);
	rc = vault_writer_write(vw, it->payload, it->len);
	if (!rc)
		rc = vault_writer_finish(vw);
	vault_writer_destroy(vw);
	if (rc) {
		bs->ops->put_abort(s.bw);
		return rc;
	}
	if ((rc = bs->ops->put_commit(s.bw)))
		return rc;
	q->blob_keys[q->nblobs++] = key;
	o = json_object_new_object();
	json_object_object_add(o, "index", json_object_new_int64((int64_t)n));
	json_object_object_add(o, "name", json_object_new_string(
		json_object_object_get_ex(it->header, "filename", &v) && json_object_is_type(v, json_type_string)
			? json_object_get_string(v) : "attachment"));
	json_object_object_add(o, "size", json_object_new_int64((int64_t)it->len));
	json_object_object_add(o, "content_type", json_object_new_string(
		json_object_object_get_ex(it->header, "content_type", &v) && json_object_is_type(v, json_type_string)
			? json_object_get_string(v) : "application/octet-stream"));
	json_object_array_add(arr, o);
	return 0;
}

/* ---- the envelope --------------------------------------------------------- */

static int is_binary_type(const struct env_item *it)
{
	return env_item_is(it, "attachment");
}

/* Everything the envelope holds, into p. Returns 0 or -1 (answered). */
static int take_items(struct http_req *r, struct sentry_req *q, struct evp *p, const struct envelope *env)
{
	const struct env_item *event_item = NULL;
	struct json_object *ev = NULL, *atts = NULL;
	char pid[PUBID_MAX];
	int64_t id = 0;
	int rc = 0;

	for (size_t i = 0; i < env->n; i++)
		if (env_item_is(&env->items[i], "event") && !event_item)
			event_item = &env->items[i];
	if (event_item) {
		if (event_item->len > SENTRY_EVENT_MAX)
			return fail(r, q, 413, "too_big", "The event is over 1 MiB.");
		if (!(ev = parse_event(event_item->payload, event_item->len)))
			return fail(r, q, 400, "invalid_event", "The event is not a JSON object.");
		id = evp_new_id(p, pid);
		atts = json_object_new_array();
	}
	for (size_t i = 0; i < env->n; i++) {
		const struct env_item *it = &env->items[i];

		if (env_item_is(it, "session")) {
			struct sentry_session s;

			if (sentry_session_parse(it->payload, it->len, &s) == 0 && s.sid[0])
				evp_add_session(p, s.sid, s.started_ms, s.init,
						s.status == SENTRY_SESSION_ERRORED || s.status == SENTRY_SESSION_CRASHED ||
						s.status == SENTRY_SESSION_ABNORMAL || s.status == SENTRY_SESSION_UNHANDLED ||
							s.errors > 0,
						s.status == SENTRY_SESSION_CRASHED);
		} else if (env_item_is(it, "sessions")) {
			struct sentry_aggregate *ag;
			size_t n;

			if (sentry_sessions_parse(it->payload, it->len, http_arena(r), &ag, &n) == 0)
				for (size_t k = 0; k < n; k++)
					evp_add_aggregate(p, ag[k].started_ms,
							  ag[k].exited + ag[k].errored + ag[k].abnormal + ag[k].crashed,
							  ag[k].errored + ag[k].abnormal + ag[k].crashed, ag[k].crashed);
		} else if (env_item_is(it, "client_report")) {
			uint64_t discarded = 0;

			if (sentry_client_report_parse(it->payload, it->len, &discarded) == 0)
				evgate_count(r, q->g, "client_discarded", (long)discarded);
		} else if (is_binary_type(it) && ev) {
			if ((rc = store_attachment(q, p, q->g->ep, pid, it, atts)) && rc != INLET_ETOOBIG)
				break;
			if (rc == INLET_ETOOBIG)
				evgate_count(r, q->g, "attachments_dropped", 1);
			rc = 0;
		}
	}
	if (!rc && ev)
		rc = add_event(r, q, p, ev, event_item->payload, event_item->len, id,
			       json_object_array_length(atts) ? atts : NULL);
	json_object_put(ev);
	json_object_put(atts);
	if (rc)
		return fail(r, q, 500, "internal", "The envelope could not be stored.");
	return 0;
}

void sentry_post(struct http_req *r)
{
	struct sentry_req *q = http_state(r);
	struct arena *a = http_arena(r);
	struct envelope *env = NULL;
	struct env_limits lim;
	struct buf dec;
	struct evp *p;
	const char *body, *ce = http_header(r, "Content-Encoding");
	size_t len;
	int rc;

	if (!q) {
		http_error(r, 500, "internal", "the route was not set up");
		return;
	}
	if (http_answered(r))
		return;
	if (http_body_too_big(r)) {
		if (!q->g)
			q->g = evgate_new(r, 1);
		evgate_fail(q->g, 413, "too_big", "The envelope is over 20 MiB.");
	}
	if (q->g && q->g->fail_status) {
		evgate_respond_failure(r, q->g);
		return;
	}
	body = http_body(r, &len);
	buf_init(&dec, q->store ? SENTRY_EVENT_MAX : SENTRY_DECODED_MAX);
	if (ce && *ce) {
		if ((rc = decompress_body(ce, body, len, &dec))) {
			if (!q->g)
				q->g = evgate_open(r, NULL, EVGATE_SENTRY);
			if (rc == INLET_ETOOBIG)
				fail(r, q, 413, "too_big", "The body is too large once decompressed.");
			else
				fail(r, q, 400, "bad_encoding", "The body is not what its Content-Encoding says.");
			goto out;
		}
		body = dec.data ? dec.data : "";
		len = dec.len;
	}
	if (!q->store) {
		env_limits_default(&lim);
		lim.max_total = SENTRY_DECODED_MAX;
		lim.max_item_size = SENTRY_EVENT_MAX;
		lim.max_attachment_size = q->app->cfg.upload_body_max;
		rc = env_parse(a, body, len, &lim, &env);
		if (!q->g) {
			/* The last place a key can be: the envelope's dsn. */
			struct sentry_dsn dsn;

			if (env && env->dsn && sentry_auth_parse_dsn(env->dsn, env->dsn_len, &dsn) == 0)
				q->g = evgate_open(r, arena_strdup(a, dsn.key), EVGATE_SENTRY);
			else
				q->g = evgate_open(r, NULL, EVGATE_SENTRY);
		}
		if (q->g->fail_status) {
			evgate_respond_failure(r, q->g);
			goto out;
		}
		if (rc) {
			fail(r, q, rc == INLET_ETOOBIG ? 413 : 400, rc == INLET_ETOOBIG ? "too_big" : "invalid_envelope",
			     rc == INLET_ETOOBIG ? "An item of the envelope is too large." : "The envelope is malformed.");
			goto out;
		}
		if (env->event_id[0])
			memcpy(q->event_id, env->event_id, sizeof(q->event_id));
	} else if (!q->g) {
		q->g = evgate_open(r, NULL, EVGATE_SENTRY);
		evgate_respond_failure(r, q->g);
		goto out;
	}
	if (!project_matches(r, q)) {
		fail(r, q, 403, "wrong_project", "This key belongs to another project.");
		goto out;
	}
	if (evp_begin(r, q->g->ep, q->g->origin, &p)) {
		fail(r, q, 500, "internal", "The event could not be stored.");
		goto out;
	}
	if (q->store) {
		struct json_object *ev;

		if (len > SENTRY_EVENT_MAX) {
			fail(r, q, 413, "too_big", "The event is over 1 MiB.");
			goto out;
		}
		if (!(ev = parse_event(body, len))) {
			fail(r, q, 400, "invalid_event", "The event is not a JSON object.");
			goto out;
		}
		rc = add_event(r, q, p, ev, body, len, 0, NULL);
		json_object_put(ev);
		if (rc) {
			fail(r, q, 500, "internal", "The event could not be stored.");
			goto out;
		}
	} else if (take_items(r, q, p, env)) {
		goto out;
	}
	if (evp_events(p) == 0 && evp_has_sessions(p) == 0) {
		answer(r, q);
		goto out;
	}
	evp_commit(p, committed);
out:
	buf_free(&dec);
}

void sentry_preflight(struct http_req *r)
{
	evgate_preflight(r, http_query(r, "sentry_key"), "POST, OPTIONS");
}
