/* Error tracking's API: issues (list with sort, state filter, search and
 * keyset pages; one; state changes), an issue's events (newest first) and
 * graph, one event opened (unsealed, decompressed) with its neighbours.
 * Ids are public ids naming the endpoint too (vault/pubid.h); an endpoint
 * of another account answers 404 whatever the id. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "api/api.h"
#include "app/app.h"
#include "app/live.h"
#include "app/evdicts.h"
#include "core/alloc.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/enc.h"
#include "core/err.h"
#include "core/log.h"
#include "events/search.h"
#include "events/zcodec.h"
#include "http/http.h"
#include "store/events.h"
#include "store/subs.h"
#include "store/tenant.h"
#include "vault/pubid.h"
#include "vault/vault.h"

#define LIST_DEFAULT 50
#define LIST_MAX 200
#define SEARCH_SCAN_MAX 5000     /* candidates one search request may open */
#define EVENT_PLAIN_MAX (8u << 20)

static const char *const state_names[] = { "open", "resolved", "ignored" };
static const char *const sort_names[] = { "last_seen", "first_seen", "events", "sessions" };

static int name_index(const char *const *names, int n, const char *s)
{
	for (int i = 0; i < n; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -1;
}

/* ---- opening what was sealed ---------------------------------------------- */

/* A sealed JSON object; NULL on failure (logged). */
static json_object *open_json(const struct vault_key *key, const char *rid, const uint8_t *sealed, size_t len)
{
	uint8_t *plain = NULL;
	size_t pl;
	json_object *o = NULL;

	if (vault_open_record(key, rid, sealed, len, &plain, &pl) == 0) {
		o = json_tokener_parse((const char *)plain);
		secure_wipe(plain, pl);
		free(plain);
	}
	return o;
}

static void copy_member(json_object *to, json_object *from, const char *name)
{
	json_object *v;

	if (from && json_object_object_get_ex(from, name, &v))
		json_object_object_add(to, name, json_object_get(v));
	else
		json_object_object_add(to, name, NULL);
}

/* The issue as the API shows it; *head gets the opened head (caller puts)
 * when not NULL. */
json_object *api_issue_json(struct app *app, const struct endpoint *e, const struct vault_key *key,
			    const struct ev_issue *is, json_object **head_out)
{
	json_object *o = json_object_new_object(), *head, *last;
	char pid[PUBID_MAX], fphex[2 * EV_FP_BYTES + 1], rid[2 * EV_FP_BYTES + 8];

	hex_encode(fphex, is->fingerprint, EV_FP_BYTES);
	snprintf(rid, sizeof(rid), "ih:%s", fphex);
	head = open_json(key, rid, is->meta, is->meta_len);
	snprintf(rid, sizeof(rid), "il:%s", fphex);
	last = open_json(key, rid, is->last, is->last_len);
	pubid_encode(app->ids, "iss_", is->id, e->id, pid);
	json_object_object_add(o, "id", json_object_new_string(pid));
	json_object_object_add(o, "endpoint_id", json_object_new_string(e->pid));
	copy_member(o, head, "title");
	copy_member(o, head, "culprit");
	copy_member(o, head, "kind");
	json_object_object_add(o, "state", json_object_new_string(state_names[is->state % 3]));
	json_object_object_add(o, "count", json_object_new_int64(is->count));
	json_object_object_add(o, "sessions", json_object_new_int64(is->sessions));
	json_object_object_add(o, "dropped", json_object_new_int64(is->dropped));
	json_object_object_add(o, "first_seen", json_object_new_int64(is->first_seen));
	json_object_object_add(o, "last_seen", json_object_new_int64(is->last_seen));
	json_object_object_add(o, "state_changed", is->state_changed ? json_object_new_int64(is->state_changed) : NULL);
	copy_member(o, last, "level");
	copy_member(o, last, "uri");
	copy_member(o, last, "release");
	copy_member(o, last, "environment");
	{
		json_object *v;

		json_object_object_add(o, "last_event", last && json_object_object_get_ex(last, "event", &v)
								? json_object_get(v) : NULL);
	}
	if (!head || !last)
		json_object_object_add(o, "error", json_object_new_string("tampered"));
	if (head_out)
		*head_out = head;
	else
		json_object_put(head);
	json_object_put(last);
	return o;
}

/* Opens one event row: sealed, then zstd (with its dictionary). */
static json_object *event_record(struct app *app, const struct endpoint *e, const struct vault_key *key,
				 const struct ev_row *row, int *rc_out)
{
	struct zcodec_dict *dict = NULL;
	uint8_t *packed = NULL;
	size_t plen;
	struct buf plain;
	char pid[PUBID_MAX];
	json_object *o = NULL;
	int rc;

	buf_init(&plain, EVENT_PLAIN_MAX);
	pubid_encode(app->ids, "evt_", row->id, e->id, pid);
	if ((rc = vault_open_record(key, pid, row->sealed, row->sealed_len, &packed, &plen)))
		goto out;
	if (row->dict_id && !(dict = evdicts_get(app->dicts, e->id, row->dict_id, key))) {
		rc = INLET_ENOTFOUND;
		goto out;
	}
	if ((rc = zcodec_decompress(dict, packed, plen, &plain)) ||
	    (rc = buf_putc(&plain, '\0')))
		goto out;
	if (!(o = json_tokener_parse(plain.data)))
		rc = INLET_EDB;
out:
	if (rc)
		log_msg(LOG_ERROR, "event %s: cannot open: %s", pid, inlet_strerror(rc));
	if (packed) {
		secure_wipe(packed, plen);
		free(packed);
	}
	if (plain.data)
		secure_wipe(plain.data, plain.len);
	buf_free(&plain);
	zcodec_dict_release(dict);
	*rc_out = rc;
	return o;
}

/* ---- resolving ids ------------------------------------------------------- */

/* {id} (prefix) to the caller's endpoint and row id; answers 404 itself. */
static int resolve(struct http_req *r, int64_t aid, const char *prefix, const char *what, struct endpoint *e,
		   int64_t *id)
{
	struct app *app = http_app(r);
	int64_t epid;
	int rc;

	rc = pubid_decode(app->ids, prefix, http_param(r, "id"), id, &epid);
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

static int issue_of(struct http_req *r, int64_t aid, struct endpoint *e, struct ev_issue *is)
{
	struct app *app = http_app(r);
	int64_t id;
	int rc;

	if ((rc = resolve(r, aid, "iss_", "issue", e, &id)))
		return rc;
	rc = evstore_issue(app_subs(app, e->id), e->id, id, http_arena(r), is);
	if (rc == INLET_ENOTFOUND)
		http_error(r, 404, "not_found", "No such issue.");
	else if (rc)
		http_error_rc(r, rc);
	return rc;
}

static int key_for(struct http_req *r, const struct endpoint *e, uint32_t version, struct vault_key **key)
{
	int rc = api_endpoint_key(http_app(r), e, version, key);

	if (rc)
		http_error_rc(r, rc);
	return rc;
}

/* ---- issues -------------------------------------------------------------- */

static int parse_query(struct http_req *r, struct issue_query *q)
{
	const char *v;

	q->state = -1;
	q->sort = ISSUE_SORT_LAST;
	if ((v = http_query(r, "state")) && *v && (q->state = name_index(state_names, 3, v)) < 0) {
		http_error(r, 400, "invalid", "state must be open, resolved or ignored.");
		return INLET_EINVAL;
	}
	if ((v = http_query(r, "sort")) && *v && (q->sort = name_index(sort_names, 4, v)) < 0) {
		http_error(r, 400, "invalid", "sort must be last_seen, first_seen, events or sessions.");
		return INLET_EINVAL;
	}
	return api_limit(r, LIST_DEFAULT, LIST_MAX, &q->limit);
}

void api_issues_list(struct http_req *r)
{
	struct app *app = http_app(r);
	struct arena *a = http_arena(r);
	struct issue_query q = { 0 };
	struct vault_key *key = NULL;
	struct endpoint e;
	struct ev_issue *rows;
	const char *v, *text = http_query(r, "q");
	size_t n, want, found = 0, scanned = 0;
	int64_t aid, last_key = 0, last_id = 0;
	json_object *o, *data;
	int more = 0, rc;

	if (api_auth(r, &aid) || api_endpoint(r, aid, &e) || parse_query(r, &q))
		return;
	if ((v = http_query(r, "cursor")) && *v) {
		int64_t k, id;

		/* The cursor holds the last row's (sort key, id). */
		if (pubid_decode(app->ids, "cur_", v, &id, &k)) {
			http_error(r, 400, "invalid", "cursor is not valid.");
			return;
		}
		q.after_id = id;
		q.after_key = k;
	}
	if (key_for(r, &e, e.key_version, &key))
		return;
	if (text && *text) {
		struct vault_mac *m = vault_key_mac(key, "search");

		q.match = search_query_tokens(a, m, text, strlen(text));
		vault_mac_destroy(m);
	} else {
		text = NULL;
	}
	q.endpoint_id = e.id;
	want = q.limit;
	data = json_object_new_array();
	/* Pages of candidates until the page is full: with a search, the
	 * index gives a superset, checked against the opened head. */
	while (found <= want) {
		q.limit = text ? 100 : want + 1;
		if ((rc = evstore_issues(app_subs(app, e.id), &q, a, &rows, &n))) {
			json_object_put(data);
			vault_key_release(key);
			http_error_rc(r, rc);
			return;
		}
		for (size_t i = 0; i < n; i++) {
			json_object *head = NULL, *is;
			struct vault_key *k = key;

			if (rows[i].key_version != e.key_version && key_for(r, &e, rows[i].key_version, &k)) {
				json_object_put(data);
				vault_key_release(key);
				return;
			}
			is = api_issue_json(app, &e, k, &rows[i], &head);
			if (k != key)
				vault_key_release(k);
			if (text) {
				json_object *t, *c;
				const char *ts = head && json_object_object_get_ex(head, "title", &t) ? json_object_get_string(t) : "";
				const char *cs = head && json_object_object_get_ex(head, "culprit", &c) ? json_object_get_string(c) : "";
				char *hay = arena_printf(a, "%s\n%s", ts ? ts : "", cs ? cs : "");

				if (!search_match(hay, text)) {
					json_object_put(is);
					is = NULL;
				}
			}
			json_object_put(head);
			scanned++;
			if (!is)
				continue;
			if (found == want) {
				more = 1;
				json_object_put(is);
				break;
			}
			json_object_array_add(data, is);
			found++;
			last_key = evstore_issue_key(&rows[i], q.sort);
			last_id = rows[i].id;
		}
		if (more || n < q.limit)
			break;
		q.after_key = evstore_issue_key(&rows[n - 1], q.sort);
		q.after_id = rows[n - 1].id;
		if (scanned >= SEARCH_SCAN_MAX) {
			/* Bounded work per request: the rest is on the next page. */
			more = 1;
			last_key = q.after_key;
			last_id = q.after_id;
			break;
		}
	}
	vault_key_release(key);
	o = json_object_new_object();
	json_object_object_add(o, "data", data);
	if (more) {
		char cur[PUBID_MAX];

		pubid_encode(app->ids, "cur_", last_id, last_key, cur);
		json_object_object_add(o, "next_cursor", json_object_new_string(cur));
	} else {
		json_object_object_add(o, "next_cursor", NULL);
	}
	http_respond_json(r, 200, o);
	json_object_put(o);
}

static void respond_issue(struct http_req *r, const struct endpoint *e, const struct ev_issue *is)
{
	struct vault_key *key;
	json_object *o;

	if (key_for(r, e, is->key_version, &key))
		return;
	o = api_issue_json(http_app(r), e, key, is, NULL);
	vault_key_release(key);
	http_respond_json(r, 200, o);
	json_object_put(o);
}

void api_issue_get(struct http_req *r)
{
	struct endpoint e;
	struct ev_issue is;
	int64_t aid;

	if (api_auth(r, &aid) || issue_of(r, aid, &e, &is))
		return;
	respond_issue(r, &e, &is);
}

/* The issue's new state, for watching dashboards (committed by now: the
 * state change is a synchronous write through the writer). */
static void publish_issue(struct app *app, const struct endpoint *e, const struct ev_issue *is)
{
	char pid[PUBID_MAX], json[256];

	pubid_encode(app->ids, "iss_", is->id, e->id, pid);
	snprintf(json, sizeof(json), "{\"id\":\"%s\",\"endpoint\":\"%s\",\"state\":\"%s\",\"count\":%lld,\"last_seen\":%lld}",
		 pid, e->pid, state_names[is->state % 3], (long long)is->count, (long long)is->last_seen);
	live_publish(app->live, e->account_id, e->pid, "issue.updated", json);
}

void api_issue_patch(struct http_req *r)
{
	struct app *app = http_app(r);
	struct endpoint e;
	struct ev_issue is;
	json_object *body;
	const char *state;
	int64_t aid;
	int st, rc;

	if (api_auth(r, &aid) || issue_of(r, aid, &e, &is) || !(body = api_body(r)))
		return;
	if (api_get_string(r, body, "state", &state))
		goto out;
	if (!state || (st = name_index(state_names, 3, state)) < 0) {
		http_error(r, 400, "invalid", "\"state\" must be \"open\", \"resolved\" or \"ignored\".");
		goto out;
	}
	if ((rc = evstore_issue_state(app_subs(app, e.id), e.id, is.id, st)) ||
	    (rc = evstore_issue(app_subs(app, e.id), e.id, is.id, http_arena(r), &is))) {
		http_error_rc(r, rc);
		goto out;
	}
	publish_issue(app, &e, &is);
	respond_issue(r, &e, &is);
out:
	json_object_put(body);
}

/* ---- events -------------------------------------------------------------- */

static json_object *event_summary(struct app *app, const struct endpoint *e, const struct vault_key *key,
				  const struct ev_row *row)
{
	json_object *o = json_object_new_object(), *rec;
	char pid[PUBID_MAX];
	int rc;

	pubid_encode(app->ids, "evt_", row->id, e->id, pid);
	json_object_object_add(o, "id", json_object_new_string(pid));
	json_object_object_add(o, "received", json_object_new_int64(sub_id_ms(row->id)));
	rec = event_record(app, e, key, row, &rc);
	if (!rec) {
		json_object_object_add(o, "error", json_object_new_string(inlet_errname(rc)));
		return o;
	}
	copy_member(o, rec, "event_id");
	copy_member(o, rec, "title");
	copy_member(o, rec, "level");
	copy_member(o, rec, "uri");
	copy_member(o, rec, "release");
	json_object_put(rec);
	return o;
}

void api_issue_events(struct http_req *r)
{
	struct app *app = http_app(r);
	struct vault_key *key = NULL;
	struct endpoint e;
	struct ev_issue is;
	struct ev_row *rows;
	int64_t aid, before = 0;
	size_t limit, n;
	const char *v;
	json_object *o, *data;
	int rc;

	if (api_auth(r, &aid) || issue_of(r, aid, &e, &is) || api_limit(r, LIST_DEFAULT, LIST_MAX, &limit))
		return;
	if ((v = http_query(r, "cursor")) && *v) {
		int64_t ep;

		if (pubid_decode(app->ids, "evt_", v, &before, &ep) || ep != e.id) {
			http_error(r, 400, "invalid", "cursor is not valid for this issue.");
			return;
		}
	}
	if ((rc = evstore_events(app_subs(app, e.id), e.id, is.id, before, limit + 1, http_arena(r), &rows, &n))) {
		http_error_rc(r, rc);
		return;
	}
	data = json_object_new_array();
	for (size_t i = 0; i < n && i < limit; i++) {
		if (!key || rows[i].key_version != e.key_version) {
			vault_key_release(key);
			key = NULL;
			if (key_for(r, &e, rows[i].key_version, &key)) {
				json_object_put(data);
				return;
			}
		}
		json_object_array_add(data, event_summary(app, &e, key, &rows[i]));
	}
	vault_key_release(key);
	o = json_object_new_object();
	json_object_object_add(o, "data", data);
	if (n > limit) {
		char pid[PUBID_MAX];

		pubid_encode(app->ids, "evt_", rows[limit - 1].id, e.id, pid);
		json_object_object_add(o, "next_cursor", json_object_new_string(pid));
	} else {
		json_object_object_add(o, "next_cursor", NULL);
	}
	http_respond_json(r, 200, o);
	json_object_put(o);
}

static json_object *event_ref(struct app *app, const struct endpoint *e, int64_t id)
{
	char pid[PUBID_MAX];

	if (id <= 0)
		return NULL;
	pubid_encode(app->ids, "evt_", id, e->id, pid);
	return json_object_new_string(pid);
}

/* {id} to the caller's event, opened; NULL when answered (404, 500). */
static json_object *open_event(struct http_req *r, int64_t aid, struct endpoint *e, struct ev_row *row)
{
	struct app *app = http_app(r);
	struct vault_key *key = NULL;
	json_object *rec;
	int64_t id;
	int rc;

	if (resolve(r, aid, "evt_", "event", e, &id))
		return NULL;
	rc = evstore_event(app_subs(app, e->id), e->id, id, http_arena(r), row);
	if (rc == INLET_ENOTFOUND) {
		http_error(r, 404, "not_found", "No such event.");
		return NULL;
	}
	if (rc) {
		http_error_rc(r, rc);
		return NULL;
	}
	if (key_for(r, e, row->key_version, &key))
		return NULL;
	rec = event_record(app, e, key, row, &rc);
	vault_key_release(key);
	if (!rec) {
		if (rc == INLET_ETAMPERED)
			http_error(r, 500, "tampered", "The stored event failed its integrity check.");
		else
			http_error_rc(r, rc);
	}
	return rec;
}

void api_event_get(struct http_req *r)
{
	struct app *app = http_app(r);
	struct endpoint e;
	struct ev_row row;
	int64_t aid, prev, next, first, last;
	char ipid[PUBID_MAX];
	json_object *o;
	int rc;

	if (api_auth(r, &aid) || !(o = open_event(r, aid, &e, &row)))
		return;
	if ((rc = evstore_event_nav(app_subs(app, e.id), row.issue_id, row.id, &prev, &next, &first, &last))) {
		json_object_put(o);
		http_error_rc(r, rc);
		return;
	}
	/* The stored record is the answer, with its place among its issue's
	 * events added. */
	pubid_encode(app->ids, "iss_", row.issue_id, e.id, ipid);
	json_object_object_add(o, "endpoint_id", json_object_new_string(e.pid));
	json_object_object_add(o, "issue", json_object_new_string(ipid));
	json_object_object_add(o, "previous", event_ref(app, &e, prev));
	json_object_object_add(o, "next", event_ref(app, &e, next));
	json_object_object_add(o, "first", event_ref(app, &e, first));
	json_object_object_add(o, "last", event_ref(app, &e, last));
	http_respond_json(r, 200, o);
	json_object_put(o);
}

void api_event_attachment(struct http_req *r)
{
	struct app *app = http_app(r);
	struct endpoint e;
	struct ev_row row;
	int64_t aid, size = -1;
	const char *ns = http_param(r, "n"), *ctype = "application/octet-stream", *name = "attachment";
	json_object *rec, *atts, *att = NULL, *v;
	char pid[PUBID_MAX], *end;
	long n;

	if (api_auth(r, &aid) || !(rec = open_event(r, aid, &e, &row)))
		return;
	n = strtol(ns, &end, 10);
	if (!*end && n >= 0 && json_object_object_get_ex(rec, "attachments", &atts))
		for (size_t i = 0; i < json_object_array_length(atts) && !att; i++) {
			json_object *a = json_object_array_get_idx(atts, i);

			if (json_object_object_get_ex(a, "index", &v) && json_object_get_int64(v) == n)
				att = a;
		}
	if (!att) {
		http_error(r, 404, "not_found", "No such attachment.");
		json_object_put(rec);
		return;
	}
	if (json_object_object_get_ex(att, "content_type", &v))
		ctype = json_object_get_string(v);
	if (json_object_object_get_ex(att, "name", &v))
		name = json_object_get_string(v);
	if (json_object_object_get_ex(att, "size", &v) && json_object_is_type(v, json_type_int))
		size = json_object_get_int64(v);
	pubid_encode(app->ids, "evt_", row.id, e.id, pid);
	if (size < 0)
		http_error_rc(r, INLET_EDB);
	else
		api_file_send(r, &e, row.key_version, pid, (uint32_t)n, (uint64_t)size, ctype, name);
	json_object_put(rec);
}
