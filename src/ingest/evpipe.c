#include "ingest/evpipe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "app/app.h"
#include "app/clickhouse.h"
#include "app/evdicts.h"
#include "app/live.h"
#include "core/alloc.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/enc.h"
#include "core/err.h"
#include "core/jsonw.h"
#include "core/log.h"
#include "endpoint/cache.h"
#include "events/search.h"
#include "events/zcodec.h"
#include "jobs/runner.h"
#include "http/http.h"
#include "store/events.h"
#include "store/subs.h"
#include "vault/vault.h"

#define EVP_MAX_EVENTS 100 /* a report post's reports */
#define EVP_MAX_SESSIONS 64

/* What the writer needs to make a new issue's search tokens. */
struct search_src {
	struct evp *p;
	const char *text;
};

struct evp {
	struct http_req *r;
	struct app *app;
	struct arena *a;
	struct ep_entry *ep;
	struct vault_key *key;
	struct zcodec_dict *dict;   /* the endpoint's current dictionary, or NULL */
	int64_t now;
	uint8_t sid[EV_SID_BYTES];
	int has_sid;
	const char *ua, *origin;
	struct ev_batch batch;
	struct ev_record events[EVP_MAX_EVENTS];
	struct search_src search[EVP_MAX_EVENTS];
	const char *level[EVP_MAX_EVENTS]; /* each event's level and kind (arena), */
	const char *kind[EVP_MAX_EVENTS];  /* for ClickHouse's row of it */
	struct ev_session sessions[EVP_MAX_SESSIONS];
	struct ev_aggregate *aggs;  /* arena */
	size_t naggs_cap;
	uint8_t *owned[3 * EVP_MAX_EVENTS]; /* heap blobs freed with the arena */
	size_t nowned;
	evp_done_fn done;
};

static void evp_cleanup(void *arg)
{
	struct evp *p = arg;

	for (size_t i = 0; i < p->nowned; i++)
		free(p->owned[i]);
	free(p->batch.hours);
	zcodec_dict_release(p->dict);
	vault_key_release(p->key);
}

int evp_begin(struct http_req *r, struct ep_entry *ep, const char *origin, struct evp **out)
{
	struct app *app = http_app(r);
	struct arena *a = http_arena(r);
	struct evp *p = arena_zalloc(a, sizeof(*p));
	const char *ua = http_header(r, "User-Agent");
	int rc;

	p->r = r;
	p->app = app;
	p->a = a;
	p->ep = ep;
	p->now = now_ms();
	p->ua = ua ? ua : "";
	p->origin = origin ? origin : "";
	p->batch.endpoint_id = ep->id;
	p->batch.now_ms = p->now;
	p->batch.shard_threshold = (int64_t)ep->settings.shard_threshold;
	p->batch.outbox = ep->jobs;
	p->batch.events = p->events;
	p->batch.sessions = p->sessions;
	p->batch.collect_hours = app->ch != NULL;
	arena_on_destroy(a, evp_cleanup, p);
	rc = vault_key_get(app->vault, ep->pid, ep->key_version, ep->wrapped, ep->wrapped_len, &p->key);
	if (rc) {
		log_msg(LOG_ERROR, "endpoint %s: data key unavailable: %s", ep->pid, inlet_strerror(rc));
		return rc;
	}
	p->dict = evdicts_current(app->dicts, ep->id, p->key);
	p->has_sid = app_session_id(app, p->origin, http_client_ip(r), p->ua, p->sid) == 0;
	*out = p;
	return 0;
}

int64_t evp_new_id(struct evp *p, char pid[PUBID_MAX])
{
	int64_t id = sub_id_next();

	pubid_encode(p->app->ids, "evt_", id, p->ep->id, pid);
	return id;
}

size_t evp_events(const struct evp *p)
{
	return p->batch.nevents;
}

size_t evp_has_sessions(const struct evp *p)
{
	return p->batch.nsessions + p->batch.naggregates;
}

struct arena *evp_arena(struct evp *p)
{
	return p->a;
}

const struct vault_key *evp_key(const struct evp *p)
{
	return p->key;
}

int evp_stored(const struct evp *p, size_t i)
{
	return i < p->batch.nevents && p->events[i].stored;
}

static uint8_t *own(struct evp *p, uint8_t *blob)
{
	p->owned[p->nowned++] = blob;
	return blob;
}

static void put_str(struct jsonw *w, const char *key, const char *val)
{
	if (val && *val) {
		jsonw_key(w, key, strlen(key));
		jsonw_str(w, val, strlen(val));
	}
}

static int seal_json(struct evp *p, const char *record_id, struct buf *b, const uint8_t **out, size_t *len)
{
	uint8_t *sealed;
	int rc = vault_seal(p->key, record_id, b->data ? b->data : "", b->len, &sealed, len);

	if (b->data)
		secure_wipe(b->data, b->len);
	buf_reset(b);
	if (rc)
		return rc;
	*out = own(p, sealed);
	return 0;
}

static char *make_search(void *ctx)
{
	struct search_src *s = ctx;
	struct vault_mac *m = vault_key_mac(s->p->key, "search");
	char *tokens = search_tokens(m, s->text, strlen(s->text));

	vault_mac_destroy(m);
	return tokens;
}

/* The stored record: what arrived and what Inlet made of it. */
static int write_record(struct evp *p, const struct evp_event *e, const struct fp_result *fp,
			const char *title, const char *pid, struct buf *out)
{
	const char *ip = http_client_ip(p->r);
	struct jsonw w;
	char iphash[65];
	size_t len;
	const char *js;

	jsonw_init(&w, out);
	jsonw_open(&w, '{');
	put_str(&w, "id", pid);
	put_str(&w, "kind", e->kind);
	put_str(&w, "event_id", e->event_id);
	jsonw_key(&w, "received", 8);
	jsonw_int(&w, p->now);
	put_str(&w, "title", title);
	put_str(&w, "culprit", fp->culprit);
	put_str(&w, "level", e->level && *e->level ? e->level : "error");
	put_str(&w, "uri", e->uri);
	put_str(&w, "release", e->release);
	put_str(&w, "environment", e->environment);
	jsonw_key(&w, "meta", 4);
	jsonw_open(&w, '{');
	put_str(&w, "user_agent", p->ua);
	put_str(&w, "origin", p->origin);
	if (p->ep->settings.ip == IP_STORE)
		put_str(&w, "ip", ip);
	else if (p->ep->settings.ip == IP_HASH && app_ip_hash(p->app, ip, iphash) == 0)
		put_str(&w, "ip_hash", iphash);
	jsonw_close(&w, '}');
	if (e->attachments) {
		js = json_object_to_json_string_length(e->attachments, JSON_C_TO_STRING_PLAIN, &len);
		jsonw_key(&w, "attachments", 11);
		jsonw_raw(&w, js, len);
	}
	if (e->raw) {
		js = e->raw;
		len = e->raw_len;
	} else {
		js = json_object_to_json_string_length(e->data, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE,
						       &len);
	}
	jsonw_key(&w, "data", 4);
	jsonw_raw(&w, js, len);
	jsonw_close(&w, '}');
	return w.rc;
}

int evp_add_event(struct evp *p, const struct evp_event *e, char pid_out[PUBID_MAX])
{
	struct ev_record *rec;
	struct fp_result fp;
	struct vault_mac *m;
	struct buf plain, packed;
	struct jsonw w;
	const char *title;
	char pid[PUBID_MAX], fphex[2 * EV_FP_BYTES + 1], *rid;
	int rc;

	if (p->batch.nevents >= EVP_MAX_EVENTS)
		return INLET_ETOOMANY;
	if ((rc = fp_compute(p->a, e->group ? e->group : e->data, e->fmt, NULL, &fp)))
		return rc;
	rec = &p->events[p->batch.nevents];
	memset(rec, 0, sizeof(*rec));
	title = e->title && *e->title ? e->title : fp.title;

	/* The fingerprint is keyed: equal within the endpoint, and no
	 * dictionary of common messages can be run against it. */
	m = vault_key_mac(p->key, "fingerprint");
	vault_mac_compute(m, fp.hash, strlen(fp.hash), rec->fingerprint);
	vault_mac_destroy(m);
	hex_encode(fphex, rec->fingerprint, EV_FP_BYTES);

	if (e->pre_id) {
		rec->id = e->pre_id;
		pubid_encode(p->app->ids, "evt_", rec->id, p->ep->id, pid);
	} else {
		rec->id = evp_new_id(p, pid);
	}
	rec->new_issue_id = sub_id_next();
	rec->key_version = p->ep->key_version;
	if (p->has_sid) {
		memcpy(rec->sid, p->sid, EV_SID_BYTES);
		rec->has_sid = 1;
		rec->visit = strcmp(e->kind, "sentry") != 0;
	}

	buf_init(&plain, 0);
	buf_init(&packed, 0);
	if ((rc = write_record(p, e, &fp, title, pid, &plain)))
		goto out;
	if ((rc = zcodec_compress(p->dict, plain.data, plain.len, &packed)))
		goto out;
	rec->dict_id = p->dict ? zcodec_dict_id(p->dict) : 0;
	secure_wipe(plain.data, plain.len);
	buf_reset(&plain);
	if ((rc = seal_json(p, pid, &packed, &rec->sealed, &rec->sealed_len)))
		goto out;

	/* The issue's head (kept from its first event) and last-event fields,
	 * sealed under ids bound to the fingerprint. */
	jsonw_init(&w, &plain);
	jsonw_open(&w, '{');
	put_str(&w, "title", title);
	put_str(&w, "culprit", fp.culprit);
	put_str(&w, "kind", e->kind);
	jsonw_close(&w, '}');
	rid = arena_printf(p->a, "ih:%s", fphex);
	if ((rc = w.rc) || (rc = seal_json(p, rid, &plain, &rec->meta, &rec->meta_len)))
		goto out;
	jsonw_init(&w, &plain);
	jsonw_open(&w, '{');
	put_str(&w, "level", e->level && *e->level ? e->level : "error");
	put_str(&w, "uri", e->uri);
	put_str(&w, "release", e->release);
	put_str(&w, "environment", e->environment);
	put_str(&w, "event", pid);
	jsonw_close(&w, '}');
	rid = arena_printf(p->a, "il:%s", fphex);
	if ((rc = w.rc) || (rc = seal_json(p, rid, &plain, &rec->last, &rec->last_len)))
		goto out;

	p->level[p->batch.nevents] = arena_strdup(p->a, e->level && *e->level ? e->level : "error");
	p->kind[p->batch.nevents] = arena_strdup(p->a, e->kind);
	p->search[p->batch.nevents].p = p;
	p->search[p->batch.nevents].text = arena_printf(p->a, "%s\n%s", title, fp.culprit);
	rec->search = make_search;
	rec->search_ctx = &p->search[p->batch.nevents];
	p->batch.nevents++;
	if (pid_out)
		memcpy(pid_out, pid, PUBID_MAX);
out:
	if (plain.data)
		secure_wipe(plain.data, plain.cap);
	buf_free(&plain);
	buf_free(&packed);
	return rc;
}

void evp_add_session(struct evp *p, const char *sid, int64_t started_ms, int init, int errored,
		     int crashed)
{
	struct ev_session *s;

	if (p->batch.nsessions >= EVP_MAX_SESSIONS)
		return;
	s = &p->sessions[p->batch.nsessions];
	if (sid) {
		/* An SDK's own session id, keyed like a visitor's so that no
		 * identifier is stored as sent. */
		if (app_session_id(p->app, "sentry", sid, "", s->sid))
			return;
	} else if (p->has_sid) {
		memcpy(s->sid, p->sid, EV_SID_BYTES);
	} else {
		return;
	}
	s->ms = started_ms > 0 && started_ms <= p->now ? started_ms : p->now;
	s->init = init;
	s->errored = errored;
	s->crashed = crashed;
	p->batch.nsessions++;
}

void evp_add_aggregate(struct evp *p, int64_t started_ms, int64_t sessions, int64_t errored,
		       int64_t crashed)
{
	if (p->batch.naggregates == p->naggs_cap) {
		size_t cap = p->naggs_cap ? 2 * p->naggs_cap : 8;
		struct ev_aggregate *bigger = arena_alloc(p->a, cap * sizeof(*bigger));

		if (p->batch.naggregates)
			memcpy(bigger, p->aggs, p->batch.naggregates * sizeof(*bigger));
		p->aggs = bigger;
		p->naggs_cap = cap;
		p->batch.aggregates = bigger;
	}
	p->aggs[p->batch.naggregates++] = (struct ev_aggregate){
		.hour_ms = started_ms > 0 && started_ms <= p->now ? started_ms : p->now,
		.sessions = sessions, .errored = errored, .crashed = crashed };
}

/* Tells watching dashboards about the issues the batch touched, now that
 * it is durable: one event per issue (its figures after the batch's last
 * event of it), created when one of its events made it. */
static void publish(struct evp *p)
{
	static const char *const states[] = { "open", "resolved", "ignored" };
	const struct ev_record *ev = p->events;
	char pid[PUBID_MAX], json[256];

	for (size_t i = 0; i < p->batch.nevents; i++) {
		int created = ev[i].issue_new, later = 0;

		if (!ev[i].stored)
			continue;
		for (size_t j = 0; j < p->batch.nevents; j++) {
			if (j == i || ev[j].issue_id != ev[i].issue_id)
				continue;
			created |= ev[j].issue_new;
			later |= j > i && ev[j].stored;
		}
		if (later)
			continue;
		pubid_encode(p->app->ids, "iss_", ev[i].issue_id, p->ep->id, pid);
		snprintf(json, sizeof(json),
			 "{\"id\":\"%s\",\"endpoint\":\"%s\",\"state\":\"%s\",\"count\":%lld,\"last_seen\":%lld}",
			 pid, p->ep->pid, states[(unsigned)ev[i].issue_state % 3], (long long)ev[i].issue_count,
			 (long long)ev[i].issue_last_seen);
		live_publish(p->app->live, p->ep->account_id, p->ep->pid, created ? "issue.created" : "issue.updated",
			     json);
	}
}

/* The committed batch's rows for ClickHouse: its stored events (as
 * issue_hours counts them) and what it added to session_hours. */
static void feed_clickhouse(struct evp *p)
{
	struct ch *ch = p->app->ch;

	for (size_t i = 0; i < p->batch.nevents; i++) {
		const struct ev_record *ev = &p->events[i];
		struct ch_event row = { .id = ev->id, .account_id = p->ep->account_id, .endpoint_id = p->ep->id,
					.issue_id = ev->issue_id, .ts = sub_id_ms(ev->id), .level = p->level[i],
					.kind = p->kind[i], .sid = ev->has_sid ? ev->sid : NULL };

		if (ev->stored)
			ch_add_event(ch, &row);
	}
	for (size_t i = 0; i < p->batch.nhours; i++) {
		const struct ev_aggregate *h = &p->batch.hours[i];

		ch_add_session_hour(ch, p->ep->account_id, p->ep->id, h->hour_ms, h->sessions, h->errored, h->crashed);
	}
}

static void committed(void *ctx, int rc)
{
	struct evp *p = ctx;
	size_t stored = 0;

	for (size_t i = 0; !rc && i < p->batch.nevents; i++)
		stored += (size_t)p->events[i].stored;
	if (!rc && p->app->ch)
		feed_clickhouse(p);
	if (!rc && stored)
		publish(p);
	evdicts_note(p->app->dicts, p->ep, stored);
	if (p->ep->jobs)
		runner_kick(p->app->runner);
	p->done(p->r, p, rc);
}

void evp_commit(struct evp *p, evp_done_fn done)
{
	p->done = done;
	http_suspend(p->r);
	evstore_submit(app_subs(p->app, p->ep->id), &p->batch, committed, p);
}
