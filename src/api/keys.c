#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "api/api.h"
#include "app/app.h"
#include "core/alloc.h"
#include "core/arena.h"
#include "core/err.h"
#include "http/http.h"
#include "store/tenant.h"
#include "vault/vault.h"

/* Tokens start "inlet_sk_"; the display prefix shows that and a few more
 * characters, enough to tell keys apart, far too few to guess the rest. */
#define PREFIX_LEN 14

static json_object *key_json(const struct api_key *k)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_string(k->pid));
	json_object_object_add(o, "name", json_object_new_string(k->name));
	json_object_object_add(o, "prefix", json_object_new_string(k->prefix));
	json_object_object_add(o, "created_at", api_time_json(k->created_ms));
	json_object_object_add(o, "last_used_at", k->last_used_ms ? api_time_json(k->last_used_ms) : NULL);
	json_object_object_add(o, "revoked_at", k->revoked_ms ? api_time_json(k->revoked_ms) : NULL);
	return o;
}

void api_keys_list(struct http_req *r)
{
	struct app *app = http_app(r);
	struct api_key *keys;
	size_t n;
	int64_t aid;
	json_object *o, *data;
	int rc;

	if (api_auth(r, &aid))
		return;
	if ((rc = tenant_key_list(app->tenant, aid, http_arena(r), &keys, &n))) {
		http_error_rc(r, rc);
		return;
	}
	o = json_object_new_object();
	data = json_object_new_array();
	for (size_t i = 0; i < n; i++)
		json_object_array_add(data, key_json(&keys[i]));
	json_object_object_add(o, "data", data);
	http_respond_json(r, 200, o);
	json_object_put(o);
}

void api_keys_create(struct http_req *r)
{
	struct app *app = http_app(r);
	struct api_key k;
	int64_t aid;
	json_object *body, *o;
	const char *name;
	char *token = NULL, prefix[PREFIX_LEN + 1];
	uint8_t hash[32];
	int rc;

	if (api_auth(r, &aid))
		return;
	if (!(body = api_body(r)))
		return;
	if (api_get_string(r, body, "name", &name))
		goto out;
	if (!name || !*name || strlen(name) > 200) {
		http_error(r, 400, "invalid", "\"name\" is required (1 to 200 characters).");
		goto out;
	}
	vault_token_new(&token, hash);
	snprintf(prefix, sizeof(prefix), "%s", token);
	if ((rc = tenant_key_create(app->tenant, aid, name, hash, prefix, http_arena(r), &k))) {
		http_error_rc(r, rc);
		goto out;
	}
	o = key_json(&k);
	json_object_object_add(o, "token", json_object_new_string(token));
	http_respond_json(r, 201, o);
	json_object_put(o);
out:
	if (token) {
		secure_wipe(token, strlen(token));
		free(token);
	}
	json_object_put(body);
}

void api_key_delete(struct http_req *r)
{
	struct app *app = http_app(r);
	int64_t aid;
	int rc;

	if (api_auth(r, &aid))
		return;
	rc = tenant_key_revoke(app->tenant, aid, http_param(r, "id"));
	if (rc == INLET_ENOTFOUND)
		http_error(r, 404, "not_found", "No such API key.");
	else if (rc)
		http_error_rc(r, rc);
	else
		http_respond_empty(r, 204);
}
