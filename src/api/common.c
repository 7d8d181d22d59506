#include "api/api.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <json-c/json.h>

#include "app/app.h"
#include "app/tally.h"
#include "core/err.h"
#include "core/isotime.h"
#include "http/http.h"
#include "ingest/header.h"
#include "store/tenant.h"
#include "vault/vault.h"

int api_auth(struct http_req *r, int64_t *account_id)
{
	struct api_caller c;
	int rc = api_caller(r, &c);

	if (!rc)
		*account_id = c.account_id;
	return rc;
}

int api_caller(struct http_req *r, struct api_caller *c)
{
	struct app *app = http_app(r);
	const char *h = http_header(r, "Authorization");
	int64_t *account_id = &c->account_id;
	uint8_t hash[32];
	int rc;

	c->account_id = 0;
	c->user_id = 0;
	c->rank = -1;
	if (!h && http_header(r, "Cookie")) {
		/* The dashboard: a session cookie instead of an API key, and the
		 * member's role decides what it may do. A route marked
		 * ROUTE_SELF checks the role itself. */
		const char *m = http_method(r);
		unsigned flags = http_route(r)->flags;
		int need, rc2 = api_auth_cookie(r, account_id, &c->rank, &c->user_id);

		if (rc2)
			return rc2;
		need = !strcmp(m, "GET") || !strcmp(m, "HEAD") || !strcmp(m, "OPTIONS") || (flags & ROUTE_SELF) ? 0
		       : (flags & ROUTE_MEMBER) ? 1 : 2;
		if (c->rank < need) {
			http_error(r, 403, "forbidden", need == 1 ? "This needs the member role or more."
								  : "This needs the admin role or more.");
			return INLET_EFORBIDDEN;
		}
		tally_add(app->tally, *account_id, 0, "api", 1);
		return 0;
	}
	if (!h || strncasecmp(h, "Bearer ", 7) != 0 || strlen(h + 7) > 200) {
		http_add_header(r, "WWW-Authenticate", "Bearer");
		http_error(r, 401, "unauthorized", "Send an API key as \"Authorization: Bearer <key>\".");
		return INLET_EAUTH;
	}
	h += 7;
	while (*h == ' ')
		h++;
	vault_sha256(h, strlen(h), hash);
	rc = tenant_key_auth(app->tenant, hash, account_id);
	if (rc == INLET_EAUTH) {
		http_add_header(r, "WWW-Authenticate", "Bearer error=\"invalid_token\"");
		http_error(r, 401, "unauthorized", "The API key is not valid.");
	} else if (rc) {
		http_error_rc(r, rc);
	} else {
		c->rank = 3; /* an API key has its account's full rights */
		tally_add(app->tally, *account_id, 0, "api", 1);
	}
	return rc;
}

json_object *api_body(struct http_req *r)
{
	size_t len;
	const char *body = http_body(r, &len);
	struct json_tokener *tok;
	json_object *o;

	const char *ctype = http_header(r, "Content-Type");

	if (http_body_too_big(r)) {
		http_error(r, 413, "too_big", "The request body is too large.");
		return NULL;
	}
	if (ctype && header_media(ctype) != MEDIA_JSON) {
		http_error(r, 415, "unsupported_media_type", "Send the body as application/json.");
		return NULL;
	}
	if (len == 0) {
		http_error(r, 400, "invalid", "Send a JSON object as the request body.");
		return NULL;
	}
	tok = json_tokener_new_ex(32);
	o = json_tokener_parse_ex(tok, body, (int)len);
	if (!o || json_tokener_get_error(tok) != json_tokener_success) {
		json_object_put(o);
		o = NULL;
		http_error(r, 400, "invalid", "The request body is not valid JSON.");
	} else if (!json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		o = NULL;
		http_error(r, 400, "invalid", "The request body must be a JSON object.");
	}
	json_tokener_free(tok);
	return o;
}

void api_time(int64_t ms, char *out, size_t size)
{
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&secs, &tm);
	snprintf(out, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

json_object *api_time_json(int64_t ms)
{
	char buf[40];

	api_time(ms, buf, sizeof(buf));
	return json_object_new_string(buf);
}

int api_parse_time(const char *s, int64_t *ms)
{
	char *end;

	if (*s && strspn(s, "0123456789") == strlen(s)) {
		long long v = strtoll(s, &end, 10);

		if (*end || strlen(s) > 15)
			return INLET_EINVAL;
		*ms = v;
		return 0;
	}
	return time_parse_iso(s, ms);
}

int api_get_string(struct http_req *r, json_object *obj, const char *key, const char **out)
{
	json_object *v;

	*out = NULL;
	if (!json_object_object_get_ex(obj, key, &v) || !v)
		return 0;
	if (!json_object_is_type(v, json_type_string)) {
		char msg[128];

		snprintf(msg, sizeof(msg), "\"%s\" must be a string.", key);
		http_error(r, 400, "invalid", msg);
		return INLET_EINVAL;
	}
	*out = json_object_get_string(v);
	return 0;
}

int api_endpoint_key(struct app *app, const struct endpoint *e, uint32_t version, struct vault_key **out)
{
	uint8_t wrapped[ENDPOINT_WRAPPED_MAX];
	size_t len;
	int rc;

	if (version == e->key_version)
		return vault_key_get(app->vault, e->pid, version, e->wrapped, e->wrapped_len, out);
	if ((rc = tenant_endpoint_key(app->tenant, e->id, version, wrapped, sizeof(wrapped), &len)))
		return rc;
	return vault_key_get(app->vault, e->pid, version, wrapped, len, out);
}

int api_endpoint(struct http_req *r, int64_t aid, struct endpoint *e)
{
	struct app *app = http_app(r);
	int rc = tenant_endpoint_get(app->tenant, aid, http_param(r, "id"), http_arena(r), e);

	if (rc == INLET_ENOTFOUND)
		http_error(r, 404, "not_found", "No such endpoint.");
	else if (rc)
		http_error_rc(r, rc);
	return rc;
}

int api_limit(struct http_req *r, size_t def, size_t max, size_t *out)
{
	const char *v = http_query(r, "limit");
	char *end;
	long l;

	*out = def;
	if (!v)
		return 0;
	l = strtol(v, &end, 10);
	if (!*v || *end || l < 1 || (size_t)l > max) {
		char msg[80];

		snprintf(msg, sizeof(msg), "limit must be a whole number from 1 to %zu.", max);
		http_error(r, 400, "invalid", msg);
		return INLET_EINVAL;
	}
	*out = (size_t)l;
	return 0;
}
