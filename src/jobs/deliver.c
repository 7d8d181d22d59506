#include "jobs/deliver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "api/api.h"
#include "app/app.h"
#include "core/alloc.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/enc.h"
#include "core/err.h"
#include "core/log.h"
#include "jobs/runner.h"
#include "jobs/webhook.h"
#include "store/events.h"
#include "store/queue.h"
#include "store/subs.h"
#include "store/tenant.h"
#include "store/webhooks.h"
#include "vault/pubid.h"
#include "vault/vault.h"

struct ids {
	int64_t webhook_id, endpoint_id, sub_id;
	char event[64];
	char delivery[96]; /* set by a redelivery: the original's id */
};

static int parse(const struct queue_job *job, struct ids *x)
{
	struct json_object *o = json_tokener_parse((const char *)job->payload), *v;
	int rc = INLET_EINVAL;

	memset(x, 0, sizeof(*x));
	if (o && json_object_object_get_ex(o, "webhook_id", &v) && (x->webhook_id = json_object_get_int64(v)) > 0 &&
	    json_object_object_get_ex(o, "endpoint_id", &v) && (x->endpoint_id = json_object_get_int64(v)) > 0 &&
	    json_object_object_get_ex(o, "sub_id", &v) && (x->sub_id = json_object_get_int64(v)) > 0 &&
	    json_object_object_get_ex(o, "event", &v) && json_object_is_type(v, json_type_string)) {
		snprintf(x->event, sizeof(x->event), "%s", json_object_get_string(v));
		if (json_object_object_get_ex(o, "delivery", &v) && json_object_is_type(v, json_type_string))
			snprintf(x->delivery, sizeof(x->delivery), "%s", json_object_get_string(v));
		rc = 0;
	}
	json_object_put(o);
	return rc;
}

/* The webhook's secret, unsealed (caller wipes and frees). */
static int open_secret(struct app *app, const struct endpoint *e, const struct webhook *w, uint8_t **secret,
		       size_t *len)
{
	struct vault_key *key = NULL;
	int rc = api_endpoint_key(app, e, w->key_version, &key);

	if (!rc)
		rc = vault_open_record(key, w->pid, w->secret, w->secret_len, secret, len);
	vault_key_release(key);
	return rc;
}

/* The submission as the API shows it. */
static int submission_body(struct app *app, struct arena *a, const struct endpoint *e, int64_t id,
			   struct json_object **out, int64_t *created)
{
	struct sub_row row;
	int rc = substore_get(app_subs(app, e->id), e->id, id, a, &row);

	if (rc)
		return rc;
	*out = api_submission_json(app, e, &row, &rc);
	*created = sub_id_ms(id);
	return rc;
}

/* The issue of event id as the API shows it, with its main attributes
 * also under "fields", which the Slack and Discord formats render. */
static int issue_body(struct app *app, struct arena *a, const struct endpoint *e, int64_t id,
		      struct json_object **out, int64_t *created)
{
	struct ev_row ev;
	static const char *const shown[] = { "title", "culprit", "level", "count", "sessions", "uri", "release",
					     "environment" };
	struct vault_key *key = NULL;
	struct ev_issue is;
	struct json_object *o, *f, *v;
	int rc = evstore_event(app_subs(app, e->id), e->id, id, a, &ev);

	if (rc || (rc = evstore_issue(app_subs(app, e->id), e->id, ev.issue_id, a, &is)) ||
	    (rc = api_endpoint_key(app, e, is.key_version, &key)))
		return rc;
	o = api_issue_json(app, e, key, &is, NULL);
	vault_key_release(key);
	f = json_object_new_object();
	for (size_t i = 0; i < sizeof(shown) / sizeof(*shown); i++)
		if (json_object_object_get_ex(o, shown[i], &v) && v)
			json_object_object_add(f, shown[i], json_object_get(v));
	json_object_object_add(o, "fields", f);
	*out = o;
	*created = sub_id_ms(id);
	return 0;
}

int deliver_run(struct app *app, const struct queue_job *job, const char *worker, char *err, size_t errsize,
		int *permanent)
{
	struct arena *a = arena_create(8192);
	struct ids x;
	struct webhook w;
	struct endpoint e;
	struct webhook_request req = { 0 };
	struct webhook_result res;
	struct delivery d = { 0 };
	struct json_object *sub = NULL;
	enum webhook_format fmt = WEBHOOK_JSON;
	struct buf body;
	uint8_t *secret = NULL;
	size_t secret_len = 0;
	char pid[PUBID_MAX], delivery[96];
	int64_t created = 0;
	int disabled = 0, rc, ok;

	(void)worker;
	buf_init(&body, 4u << 20);
	*permanent = 0;
	if (parse(job, &x)) {
		snprintf(err, errsize, "malformed job payload");
		*permanent = 1;
		rc = INLET_EINVAL;
		goto out;
	}
	rc = webhooks_by_id(app->tenant, x.webhook_id, a, &w);
	if (rc == INLET_ENOTFOUND || (!rc && !w.enabled)) {
		/* Deleted or switched off since: nothing to deliver to. */
		snprintf(err, errsize, "the webhook is %s", rc ? "deleted" : "switched off");
		*permanent = JOB_CANCEL;
		rc = INLET_ENOTFOUND;
		goto out;
	}
	if (!rc)
		rc = tenant_endpoint_by_id(app->tenant, x.endpoint_id, a, &e);
	if (!rc)
		rc = strncmp(x.event, "issue.", 6) == 0 ? issue_body(app, a, &e, x.sub_id, &sub, &created)
							: submission_body(app, a, &e, x.sub_id, &sub, &created);
	if (rc == INLET_ENOTFOUND) {
		rc = 0; /* erased since */
		goto out;
	}
	if (rc || (rc = open_secret(app, &e, &w, &secret, &secret_len))) {
		snprintf(err, errsize, "cannot open what to deliver or the secret: %s", inlet_strerror(rc));
		goto out;
	}
	/* One delivery id for every attempt of this event to this webhook:
	 * receivers drop duplicates by it. */
	pubid_encode(app->ids, "sub_", x.sub_id, x.endpoint_id, pid);
	snprintf(delivery, sizeof(delivery), "%s",
		 x.delivery[0] ? x.delivery : job->idempotency_key ? job->idempotency_key : pid);
	(void)webhook_format_parse(w.format, &fmt);
	if ((rc = webhook_payload(&body, fmt, x.event, delivery, created / 1000, sub))) {
		snprintf(err, errsize, "cannot build the payload: %s", inlet_strerror(rc));
		*permanent = 1;
		goto out;
	}
	req.url = w.url;
	req.event = x.event;
	req.delivery_id = delivery;
	req.body = body.data;
	req.body_len = body.len;
	req.secret = secret;
	req.secret_len = secret_len;
	req.allow = app->webhook_allow;
	req.timeout_ms = (long)app->cfg.webhook_timeout_ms;
	rc = webhook_deliver(&req, &res);
	ok = rc == 0 && res.status >= 200 && res.status < 300;
	d.webhook_id = w.id;
	d.event = x.event;
	d.delivery = delivery;
	d.ref = x.sub_id;
	d.attempt = job->attempts;
	d.status = (int)res.status;
	d.latency_ms = res.latency_ms;
	d.response = res.body;
	d.error = ok ? "" : res.error[0] ? res.error : arena_printf(a, "HTTP %ld", res.status);
	if (!ok)
		snprintf(err, errsize, "%s", d.error);
	if (webhooks_record(app->tenant, &d, ok,
			    arena_printf(a, "%d deliveries failed in a row; the last: %s", WEBHOOK_DISABLE_AFTER, d.error),
			    &disabled))
		log_msg(LOG_ERROR, "webhook %s: the delivery log could not be written", w.pid);
	if (disabled) {
		log_msg(LOG_WARN, "webhook %s switched off after %d failures in a row", w.pid, WEBHOOK_DISABLE_AFTER);
		*permanent = 1;
	}
	rc = ok ? 0 : INLET_EIO;
out:
	if (secret) {
		secure_wipe(secret, secret_len);
		free(secret);
	}
	if (body.data)
		secure_wipe(body.data, body.len);
	buf_free(&body);
	json_object_put(sub);
	arena_destroy(a);
	return rc;
}
