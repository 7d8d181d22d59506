/* Invitations:
 *   POST /api/v1/invites {"email","role"}   an admin invites (an owner for "owner")
 *   GET /api/v1/invites, DELETE /api/v1/invites/{id}
 *   GET /api/v1/invites/lookup?token=      what a link offers (no login)
 *   POST /api/v1/invites/accept            takes it: for the logged-in user,
 *                                          or as a new user who is logged in
 * The link "<base>/#/invite/<token>" is the capability: whoever holds it may
 * join, whatever email they log in with, as a link shared by hand would
 * work. Its token is random (256 bits), shown once in the answer (and mailed
 * when SMTP is set), kept only as its SHA-256, and works once, for 7 days.
 * Lookups and accepts are rate-limited per client, like logins. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "api/api.h"
#include "app/app.h"
#include "core/alloc.h"
#include "core/arena.h"
#include "core/enc.h"
#include "core/err.h"
#include "core/log.h"
#include "http/http.h"
#include "ingest/ratelimit.h"
#include "jobs/invite_job.h"
#include "jobs/mail.h"
#include "store/members.h"
#include "store/sessions.h"
#include "vault/vault.h"

#define TOKEN_PREFIX "inlet_iv_"
#define TOKEN_MAX 200     /* longer is no token of ours: not even hashed */
#define NAME_MAX_LEN 200
#define LINK_PER_MINUTE 10
#define LINK_BURST 10
#define LINK_SCOPE (-2)   /* the rate limiter's "endpoint" for links (logins are -1) */

static json_object *invite_json(const struct invite *v)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_string(v->pid));
	json_object_object_add(o, "email", json_object_new_string(v->email));
	json_object_object_add(o, "role", json_object_new_string(v->role));
	json_object_object_add(o, "created_at", api_time_json(v->created_ms));
	json_object_object_add(o, "expires_at", api_time_json(v->expires_ms));
	return o;
}

/* Where the invitee's browser goes: INLET_PUBLIC_URL when it is set; else
 * the address the inviter reached us at (Host, and X-Forwarded-Proto for
 * the scheme), which is right behind a proxy that nobody configured us
 * for. A Host that is not a plain host[:port] falls back to public_url. */
static const char *link_base(struct http_req *r)
{
	struct app *app = http_app(r);
	const char *host = http_header(r, "Host"), *proto = http_header(r, "X-Forwarded-Proto");
	size_t n = host ? strlen(host) : 0;

	if (app->cfg.public_url_given || n == 0 || n > 255 ||
	    strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]") != n)
		return app->cfg.public_url;
	return arena_printf(http_arena(r), "%s://%s",
			    proto && strncasecmp(proto, "https", 5) == 0 && (proto[5] == '\0' || proto[5] == ',')
				    ? "https" : "http", host);
}

/* 1 when the client may try another link now; else 429 answered. */
static int link_allowed(struct http_req *r)
{
	struct app *app = http_app(r);
	unsigned wait = ratelimit_take(app->rl, LINK_SCOPE, http_client_ip(r), LINK_PER_MINUTE, LINK_BURST, now_ms());
	char s[16];

	if (!wait)
		return 1;
	snprintf(s, sizeof(s), "%u", wait);
	http_add_header(r, "Retry-After", s);
	http_error(r, 429, "rate_limited", "Too many attempts. Try again later.");
	return 0;
}

static void not_found(struct http_req *r)
{
	http_error(r, 404, "invite_not_found", "This invitation does not exist, has expired or was used already.");
}

/* The SHA-256 of a token as given, or 0 with the answer set. */
static int token_hash(struct http_req *r, const char *token, uint8_t hash[32])
{
	if (!token || !*token) {
		http_error(r, 400, "invalid", "\"token\" is required.");
		return 0;
	}
	if (strlen(token) > TOKEN_MAX) {
		not_found(r);
		return 0;
	}
	vault_sha256(token, strlen(token), hash);
	return 1;
}

void api_invites_create(struct http_req *r)
{
	struct app *app = http_app(r);
	struct api_caller c;
	struct invite v;
	json_object *body, *o;
	const char *email = NULL, *role = NULL;
	char token[64] = "", *url = NULL;
	uint8_t raw[32], hash[32];
	int rc, emailed = 0;

	if (api_caller(r, &c) || !(body = api_body(r)))
		return;
	if (api_get_string(r, body, "email", &email) || api_get_string(r, body, "role", &role))
		goto out;
	if (!email || !mail_address_valid(email)) {
		http_error(r, 400, "invalid", "\"email\" must be an email address.");
		goto out;
	}
	if (!role || api_role_rank(role) < 0) {
		http_error(r, 400, "invalid", "\"role\" must be owner, admin, member or viewer.");
		goto out;
	}
	if (api_role_rank(role) == 3 && c.rank < 3) {
		http_error(r, 403, "forbidden", "Only an owner may invite an owner.");
		goto out;
	}
	rand_bytes(raw, sizeof(raw));
	memcpy(token, TOKEN_PREFIX, sizeof(TOKEN_PREFIX) - 1);
	b64url_encode(token + sizeof(TOKEN_PREFIX) - 1, raw, sizeof(raw));
	secure_wipe(raw, sizeof(raw));
	vault_sha256(token, strlen(token), hash);
	rc = members_invite_create(app->tenant, c.account_id, email, role, hash, c.user_id, http_arena(r), &v);
	if (rc == INLET_EEXISTS) {
		http_error(r, 409, "already_member", "A user with this email is a member of the account already.");
		goto out;
	}
	if (rc) {
		http_error_rc(r, rc);
		goto out;
	}
	url = xasprintf("%s/#/invite/%s", link_base(r), token);
	if (app->smtp) {
		/* The invitation stands without its email: the inviter has the
		 * link in this answer and can pass it on. */
		if ((rc = invite_job_enqueue(app, &v, url)))
			log_msg(LOG_WARN, "invitation %s: cannot queue its email: %s", v.pid, inlet_strerror(rc));
		emailed = rc == 0;
	}
	o = invite_json(&v);
	json_object_object_add(o, "url", json_object_new_string(url));
	json_object_object_add(o, "emailed", json_object_new_boolean(emailed));
	http_add_header(r, "Cache-Control", "no-store");
	http_respond_json(r, 201, o);
	json_object_put(o);
out:
	secure_wipe(token, sizeof(token));
	if (url) {
		secure_wipe(url, strlen(url));
		free(url);
	}
	json_object_put(body);
}

void api_invites_list(struct http_req *r)
{
	struct app *app = http_app(r);
	struct invite *all;
	size_t n = 0;
	int64_t aid;
	json_object *o, *data;
	int rc;

	if (api_auth(r, &aid))
		return;
	if ((rc = members_invites(app->tenant, aid, http_arena(r), &all, &n))) {
		http_error_rc(r, rc);
		return;
	}
	data = json_object_new_array();
	for (size_t i = 0; i < n; i++)
		json_object_array_add(data, invite_json(&all[i]));
	o = json_object_new_object();
	json_object_object_add(o, "data", data);
	http_respond_json(r, 200, o);
	json_object_put(o);
}

void api_invite_revoke(struct http_req *r)
{
	struct app *app = http_app(r);
	int64_t aid;
	int rc;

	if (api_auth(r, &aid))
		return;
	rc = members_invite_revoke(app->tenant, aid, http_param(r, "id"));
	if (rc == INLET_ENOTFOUND)
		http_error(r, 404, "not_found", "No such pending invitation.");
	else if (rc)
		http_error_rc(r, rc);
	else
		http_respond_empty(r, 204);
}

void api_invite_lookup(struct http_req *r)
{
	struct app *app = http_app(r);
	struct arena *a = http_arena(r);
	struct invite v;
	struct user u;
	uint8_t hash[32];
	json_object *o, *acc;
	int rc;

	if (!link_allowed(r) || !token_hash(r, http_query(r, "token"), hash))
		return;
	rc = members_invite_by_token(app->tenant, hash, a, &v);
	if (rc == INLET_ENOTFOUND) {
		not_found(r);
		return;
	}
	if (rc) {
		http_error_rc(r, rc);
		return;
	}
	/* Whether to ask for a password or a login. Only the link's holder
	 * learns it, about the one address the inviter chose. */
	rc = sessions_user_by_email(app->tenant, v.email, a, &u);
	if (rc && rc != INLET_ENOTFOUND) {
		http_error_rc(r, rc);
		return;
	}
	o = json_object_new_object();
	acc = json_object_new_object();
	json_object_object_add(acc, "name", json_object_new_string(v.account_name));
	json_object_object_add(o, "account", acc);
	json_object_object_add(o, "email", json_object_new_string(v.email));
	json_object_object_add(o, "role", json_object_new_string(v.role));
	json_object_object_add(o, "expires_at", api_time_json(v.expires_ms));
	json_object_object_add(o, "has_user", json_object_new_boolean(rc == 0));
	http_add_header(r, "Cache-Control", "no-store");
	http_respond_json(r, 200, o);
	json_object_put(o);
}

/* (a) The logged-in user takes the invitation. */
static void accept_as(struct http_req *r, const uint8_t hash[32], const struct user *u)
{
	struct app *app = http_app(r);
	struct invite v;
	json_object *o, *acc;
	int rc = members_invite_accept(app->tenant, hash, u->id, http_arena(r), &v);

	if (rc == INLET_ENOTFOUND) {
		not_found(r);
		return;
	}
	if (rc == INLET_EEXISTS) {
		http_error(r, 409, "already_member", "You are a member of this account already.");
		return;
	}
	if (rc) {
		http_error_rc(r, rc);
		return;
	}
	o = json_object_new_object();
	acc = json_object_new_object();
	json_object_object_add(acc, "id", json_object_new_string(v.account_pid));
	json_object_object_add(acc, "name", json_object_new_string(v.account_name));
	json_object_object_add(acc, "role", json_object_new_string(v.role));
	json_object_object_add(o, "account", acc);
	http_respond_json(r, 200, o);
	json_object_put(o);
}

/* (b) Someone without a session: a new user of the invitation's email,
 * logged in. An email that has a user already must log in first. */
static void accept_new(struct http_req *r, const uint8_t hash[32], const char *password, const char *name)
{
	struct app *app = http_app(r);
	struct arena *a = http_arena(r);
	struct invite v;
	struct user u;
	char *phash = NULL;
	int64_t uid = 0;
	int rc = members_invite_by_token(app->tenant, hash, a, &v);

	if (rc == INLET_ENOTFOUND) {
		not_found(r);
		goto out;
	}
	if (!rc && (rc = sessions_user_by_email(app->tenant, v.email, a, &u)) == 0) {
		rc = INLET_EEXISTS;
	} else if (rc == INLET_ENOTFOUND) {
		if (!api_password_ok(r, password))
			goto out;
		/* Hashing takes a while: outside the transaction, which checks
		 * everything again. */
		rc = vault_password_hash(password, &phash);
		if (!rc)
			rc = members_invite_accept_new(app->tenant, hash, name, phash, a, &v, &uid);
		if (rc == INLET_ENOTFOUND) {
			not_found(r);
			goto out;
		}
	}
	if (rc == INLET_EEXISTS) {
		http_error(r, 409, "login_required", "A user with this email exists: log in, then accept the invitation.");
		goto out;
	}
	if (!rc)
		rc = sessions_user_by_id(app->tenant, uid, a, &u);
	if (rc) {
		http_error_rc(r, rc);
		goto out;
	}
	api_session_start(r, &u, 201);
out:
	if (phash) {
		secure_wipe(phash, strlen(phash));
		free(phash);
	}
}

void api_invite_accept(struct http_req *r)
{
	json_object *body;
	const char *token = NULL, *password = NULL, *name = NULL;
	uint8_t hash[32];
	struct user u;
	int rc;

	if (!link_allowed(r) || !(body = api_body(r)))
		return;
	if (api_get_string(r, body, "token", &token) || api_get_string(r, body, "password", &password) ||
	    api_get_string(r, body, "name", &name) || !token_hash(r, token, hash))
		goto out;
	if (name && strlen(name) > NAME_MAX_LEN) {
		http_error(r, 400, "invalid", "\"name\" must have at most 200 characters.");
		goto out;
	}
	rc = api_session_user(r, 1, &u);
	if (rc == 0)
		accept_as(r, hash, &u);
	else if (rc == INLET_EAUTH)
		accept_new(r, hash, password, name);
	else if (rc != INLET_EFORBIDDEN) /* a 403 for the CSRF token is answered */
		http_error_rc(r, rc);
out:
	json_object_put(body);
}
