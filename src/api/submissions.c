/* Submissions: list (keyset pages, newest first), one, status, erase, and
 * file download. Every id in a URL is a public id (vault/pubid.h) that
 * names the endpoint too; the endpoint must belong to the caller, else the
 * answer is 404 whatever the id is. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "api/api.h"
#include "app/app.h"
#include "blob/blob.h"
#include "core/alloc.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "http/http.h"
#include "store/subs.h"
#include "store/tenant.h"
#include "vault/pubid.h"
#include "vault/vault.h"

#define LIST_DEFAULT 50
#define LIST_MAX 200
#define SEARCH_SCAN 5000 /* rows one search request opens at most */

static const char *const status_names[] = { "inbox", "spam", "trash" };

int api_status_parse(const char *s)
{
	for (int i = 0; i < 3; i++)
		if (strcmp(s, status_names[i]) == 0)
			return i;
	return -1;
}

const char *api_status_name(int status)
{
	return status_names[(unsigned)status % 3];
}

int api_sub_filters(struct http_req *r, struct sub_query *q)
{
	const char *v;
	int64_t ms;

	if ((v = http_query(r, "status")) && *v && (q->status = api_status_parse(v)) < 0) {
		http_error(r, 400, "invalid", "status must be inbox, spam or trash.");
		return INLET_EINVAL;
	}
	if ((v = http_query(r, "since")) && *v) {
		if (api_parse_time(v, &ms) || ms < 0) {
			http_error(r, 400, "invalid", "since must be an ISO 8601 time or unix milliseconds.");
			return INLET_EINVAL;
		}
		q->min_id = ms << 20;
	}
	if ((v = http_query(r, "until")) && *v) {
		if (api_parse_time(v, &ms) || ms < 0) {
			http_error(r, 400, "invalid", "until must be an ISO 8601 time or unix milliseconds.");
			return INLET_EINVAL;
		}
		q->max_id = ms << 20; /* exclusive */
	}
	return 0;
}

/* Opens the row's sealed record into a JSON object ({fields, files, meta}). */
static int open_record(struct app *app, const struct endpoint *e, const struct sub_row *row,
		       const char *pid, json_object **out)
{
	struct vault_key *key = NULL;
	uint8_t *plain = NULL;
	size_t len;
	int rc;

	*out = NULL;
	if ((rc = api_endpoint_key(app, e, row->key_version, &key)))
		goto out;
	if ((rc = vault_open_record(key, pid, row->sealed, row->sealed_len, &plain, &len)))
		goto out;
	*out = json_tokener_parse((const char *)plain);
	if (!*out)
		rc = INLET_EDB;
out:
	if (rc)
		log_msg(LOG_ERROR, "submission %s: cannot open: %s", pid, inlet_strerror(rc));
	if (plain) {
		secure_wipe(plain, len);
		free(plain);
	}
	vault_key_release(key);
	return rc;
}

static json_object *submission_json(struct app *app, const struct endpoint *e,
				    const struct sub_row *row, int *rc_out)
{
	char pid[PUBID_MAX];
	json_object *rec, *o, *v;
	int rc;

	pubid_encode(app->ids, "sub_", row->id, e->id, pid);
	if ((rc = open_record(app, e, row, pid, &rec))) {
		*rc_out = rc;
		return NULL;
	}
	o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_string(pid));
	json_object_object_add(o, "endpoint_id", json_object_new_string(e->pid));
	json_object_object_add(o, "created_at", api_time_json(sub_id_ms(row->id)));
	json_object_object_add(o, "status", json_object_new_string(api_status_name(row->status)));
	json_object_object_add(o, "fields", json_object_object_get_ex(rec, "fields", &v) ? json_object_get(v)
											  : json_object_new_object());
	json_object_object_add(o, "files", json_object_object_get_ex(rec, "files", &v) ? json_object_get(v)
											: json_object_new_array());
	json_object_object_add(o, "meta", json_object_object_get_ex(rec, "meta", &v) ? json_object_get(v)
										      : json_object_new_object());
	json_object_put(rec);
	*rc_out = 0;
	return o;
}

json_object *api_submission_json(struct app *app, const struct endpoint *e, const struct sub_row *row,
				 int *rc)
{
	char pid[PUBID_MAX];
	json_object *s = submission_json(app, e, row, rc);

	if (s)
		return s;
	/* One unreadable row must not hide the others. */
	pubid_encode(app->ids, "sub_", row->id, e->id, pid);
	s = json_object_new_object();
	json_object_object_add(s, "id", json_object_new_string(pid));
	json_object_object_add(s, "endpoint_id", json_object_new_string(e->pid));
	json_object_object_add(s, "created_at", api_time_json(sub_id_ms(row->id)));
	json_object_object_add(s, "status", json_object_new_string(api_status_name(row->status)));
	json_object_object_add(s, "error", json_object_new_string(inlet_errname(*rc)));
	return s;
}

static void respond_open_error(struct http_req *r, int rc)
{
	if (rc == INLET_ETAMPERED)
		http_error(r, 500, "tampered", "The stored submission failed its integrity check.");
	else
		http_error_rc(r, rc);
}

/* Whether any field value holds q (ASCII case-insensitive). */
static int fields_match(json_object *sub, const char *q)
{
	json_object *fields;

	if (!json_object_object_get_ex(sub, "fields", &fields) || !json_object_is_type(fields, json_type_object))
		return 0;
	json_object_object_foreach(fields, name, val) {
		size_t n = json_object_is_type(val, json_type_array) ? json_object_array_length(val) : 1;

		if (strcasestr(name, q))
			return 1;
		for (size_t i = 0; i < n; i++) {
			json_object *v = json_object_is_type(val, json_type_array) ? json_object_array_get_idx(val, i) : val;
			const char *t = v ? json_object_get_string(v) : NULL;

			if (t && strcasestr(t, q))
				return 1;
		}
	}
	return 0;
}

void api_submissions_list(struct http_req *r)
{
	struct app *app = http_app(r);
	struct arena *a = http_arena(r);
	struct sub_query q = { .status = -1 };
	struct endpoint e;
	struct sub_row *rows;
	size_t n, found = 0, scanned = 0, limit;
	int64_t aid, cid, cep, last = 0;
	const char *v, *search = http_query(r, "q");
	json_object *o, *data;
	int rc, more = 0;

	if (api_auth(r, &aid))
		return;
	if ((rc = tenant_endpoint_get(app->tenant, aid, http_param(r, "id"), a, &e))) {
		if (rc == INLET_ENOTFOUND)
			http_error(r, 404, "not_found", "No such endpoint.");
		else
			http_error_rc(r, rc);
		return;
	}
	q.endpoint_id = e.id;
	if (api_limit(r, LIST_DEFAULT, LIST_MAX, &limit) || api_sub_filters(r, &q))
		return;
	if ((v = http_query(r, "cursor")) && *v) {
		if (pubid_decode(app->ids, "sub_", v, &cid, &cep) || cep != e.id) {
			http_error(r, 400, "invalid", "cursor is not valid for this endpoint.");
			return;
		}
		q.before_id = cid;
	}
	if (search && !*search)
		search = NULL;
	if (search && strlen(search) > 200) {
		http_error(r, 400, "invalid", "q is at most 200 characters.");
		return;
	}
	data = json_object_new_array();
	/* Rows are sealed, so a search opens them: batch by batch, newest
	 * first, until the page is full or SEARCH_SCAN rows were read; then
	 * the cursor continues where the scan stopped. One row more than asked
	 * tells whether there is a next page. */
	do {
		q.limit = search ? LIST_MAX : limit + 1;
		if ((rc = substore_list(app_subs(app, e.id), &q, a, &rows, &n))) {
			json_object_put(data);
			http_error_rc(r, rc);
			return;
		}
		for (size_t i = 0; i < n; i++) {
			json_object *sub;

			if (found == limit) {
				more = 1;
				break;
			}
			sub = api_submission_json(app, &e, &rows[i], &rc);
			scanned++;
			if (search && !fields_match(sub, search)) {
				json_object_put(sub);
			} else {
				json_object_array_add(data, sub);
				found++;
			}
			last = rows[i].id;
		}
		if (n == q.limit && !more && search && scanned >= SEARCH_SCAN)
			more = 1;
		q.before_id = last;
	} while (search && !more && n == q.limit);
	o = json_object_new_object();
	json_object_object_add(o, "data", data);
	if (more) {
		char pid[PUBID_MAX];

		pubid_encode(app->ids, "sub_", last, e.id, pid);
		json_object_object_add(o, "next_cursor", json_object_new_string(pid));
	} else {
		json_object_object_add(o, "next_cursor", NULL);
	}
	if (search)
		json_object_object_add(o, "scanned", json_object_new_int64((int64_t)scanned));
	http_respond_json(r, 200, o);
	json_object_put(o);
}

/* Resolves {id} to the caller's endpoint and the row. Answers 404 itself. */
static int resolve(struct http_req *r, int64_t aid, struct endpoint *e, struct sub_row *row)
{
	struct app *app = http_app(r);
	int64_t id, epid;
	int rc;

	rc = pubid_decode(app->ids, "sub_", http_param(r, "id"), &id, &epid);
	if (!rc)
		rc = tenant_endpoint_by_id(app->tenant, epid, http_arena(r), e);
	if (!rc && e->account_id != aid)
		rc = INLET_ENOTFOUND;
	if (!rc && row)
		rc = substore_get(app_subs(app, epid), epid, id, http_arena(r), row);
	if (rc == INLET_ENOTFOUND)
		http_error(r, 404, "not_found", "No such submission.");
	else if (rc)
		http_error_rc(r, rc);
	return rc;
}

static void respond_submission(struct http_req *r, const struct endpoint *e, const struct sub_row *row)
{
	int rc;
	json_object *o = submission_json(http_app(r), e, row, &rc);

	if (!o) {
		respond_open_error(r, rc);
		return;
	}
	http_respond_json(r, 200, o);
	json_object_put(o);
}

void api_submission_get(struct http_req *r)
{
	struct endpoint e;
	struct sub_row row;
	int64_t aid;

	if (api_auth(r, &aid) || resolve(r, aid, &e, &row))
		return;
	respond_submission(r, &e, &row);
}

void api_submission_patch(struct http_req *r)
{
	struct app *app = http_app(r);
	struct endpoint e;
	struct sub_row row;
	int64_t aid;
	json_object *body;
	const char *status;
	int st, rc;

	if (api_auth(r, &aid))
		return;
	if (!(body = api_body(r)))
		return;
	if (api_get_string(r, body, "status", &status))
		goto out;
	if (!status || (st = api_status_parse(status)) < 0) {
		http_error(r, 400, "invalid", "\"status\" must be \"inbox\", \"spam\" or \"trash\".");
		goto out;
	}
	if (resolve(r, aid, &e, &row))
		goto out;
	if ((rc = substore_set_status(app_subs(app, e.id), e.id, row.id, st))) {
		http_error_rc(r, rc);
		goto out;
	}
	row.status = st;
	respond_submission(r, &e, &row);
out:
	json_object_put(body);
}

void api_submission_delete(struct http_req *r)
{
	struct app *app = http_app(r);
	struct endpoint e;
	struct sub_row row;
	char pid[PUBID_MAX], key[160];
	int64_t aid;
	int rc;

	if (api_auth(r, &aid) || resolve(r, aid, &e, &row))
		return;
	if ((rc = substore_delete(app_subs(app, e.id), e.id, row.id))) {
		http_error_rc(r, rc);
		return;
	}
	pubid_encode(app->ids, "sub_", row.id, e.id, pid);
	for (int i = 0; i < row.nfiles; i++) {
		snprintf(key, sizeof(key), "%s/%s.%d", e.pid, pid, i);
		app->blobs->ops->remove(app->blobs, key);
	}
	http_respond_empty(r, 204);
}

/* ---- file download -------------------------------------------------------- */

/* One download: what the body needs once the handler has returned. The
 * handler builds it; from http_respond_stream on, the response owns it and
 * file_stream_free runs when MHD is done (on the MHD thread). Only one
 * thread at a time touches it: the handler's, then MHD's calls in turn. */
void api_submission_file(struct http_req *r)
{
	struct app *app = http_app(r);
	struct endpoint e;
	struct sub_row row;
	json_object *rec = NULL, *files, *file = NULL, *v;
	char pid[PUBID_MAX], *end;
	const char *ns = http_param(r, "n"), *ctype = "application/octet-stream", *name = "file";
	int64_t size = -1, aid;
	long n;
	int rc;

	if (api_auth(r, &aid) || resolve(r, aid, &e, &row))
		goto out;
	n = strtol(ns, &end, 10);
	if (*end || n < 0 || n >= row.nfiles) {
		http_error(r, 404, "not_found", "No such file.");
		goto out;
	}
	pubid_encode(app->ids, "sub_", row.id, e.id, pid);
	if ((rc = open_record(app, &e, &row, pid, &rec))) {
		respond_open_error(r, rc);
		goto out;
	}
	if (json_object_object_get_ex(rec, "files", &files))
		file = json_object_array_get_idx(files, (size_t)n);
	if (file) {
		if (json_object_object_get_ex(file, "content_type", &v))
			ctype = json_object_get_string(v);
		if (json_object_object_get_ex(file, "name", &v))
			name = json_object_get_string(v);
		/* The plaintext size, as counted when the file was sealed: it
		 * goes out as Content-Length before the body is read. */
		if (json_object_object_get_ex(file, "size", &v) && json_object_is_type(v, json_type_int))
			size = json_object_get_int64(v);
	}
	if (size < 0) {
		log_msg(LOG_ERROR, "submission %s: file %ld has no size in its record", pid, n);
		http_error_rc(r, INLET_EDB);
		goto out;
	}
	api_file_send(r, &e, row.key_version, pid, (uint32_t)n, (uint64_t)size, ctype, name);
out:
	json_object_put(rec);
}
