/* Sessions for the dashboard and for scripts that log in:
 *   POST /api/v1/auth/login   {"email","password"} -> the session cookie and
 *                             {"user","accounts","csrf_token"}
 *   POST /api/v1/auth/logout  GET /api/v1/auth/session
 *   GET /api/v1/auth/sessions, DELETE /api/v1/auth/sessions/{id}
 * The cookie (inlet_session) holds a random 256-bit token; the store keeps
 * its SHA-256. A cookie-authenticated request that changes state must carry
 * X-CSRF-Token, an HMAC of the token under a server key (nothing stored);
 * API keys (Bearer) need none. Failed logins answer the same whether the
 * email exists or not, in the same time (a password hash is checked
 * either way), and are rate-limited per client. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "api/api.h"
#include "app/app.h"
#include "app/sesscache.h"
#include "core/alloc.h"
#include "core/arena.h"
#include "core/enc.h"
#include "core/err.h"
#include "core/log.h"
#include "http/http.h"
#include "ingest/ratelimit.h"
#include "jobs/mail.h"
#include "store/tenant.h"
#include "store/sessions.h"
#include "vault/vault.h"

#define COOKIE "inlet_session"
#define LOGIN_PER_MINUTE 10
#define LOGIN_BURST 10
#define LOGIN_SCOPE (-1) /* the rate limiter's "endpoint" for logins */

/* ---- tokens ---------------------------------------------------------------- */

int api_session_token(struct http_req *r, char *out, size_t size)
{
	const char *c = http_header(r, "Cookie");

	for (const char *p = c; p && *p;) {
		size_t n;

		while (*p == ' ' || *p == ';')
			p++;
		n = strcspn(p, ";");
		if (n > sizeof(COOKIE) && strncmp(p, COOKIE "=", sizeof(COOKIE)) == 0 && n - sizeof(COOKIE) < size) {
			memcpy(out, p + sizeof(COOKIE), n - sizeof(COOKIE));
			out[n - sizeof(COOKIE)] = '\0';
			return 0;
		}
		p += n;
	}
	return INLET_ENOTFOUND;
}

void api_csrf_token(struct app *app, const char *token, char out[65])
{
	uint8_t mac[32];

	vault_mac_compute(app->csrf_mac, token, strlen(token), mac);
	hex_encode(out, mac, sizeof(mac));
}

/* ---- answers ---------------------------------------------------------------- */

static json_object *session_json(struct http_req *r, const struct user *u, const char *token)
{
	struct app *app = http_app(r);
	struct membership *ms;
	size_t n = 0;
	json_object *o = json_object_new_object(), *user = json_object_new_object(), *accs = json_object_new_array();
	char csrf[65];

	json_object_object_add(user, "id", json_object_new_string(u->pid));
	json_object_object_add(user, "email", json_object_new_string(u->email));
	json_object_object_add(o, "user", user);
	if (sessions_memberships(app->tenant, u->id, http_arena(r), &ms, &n) == 0)
		for (size_t i = 0; i < n; i++) {
			json_object *a = json_object_new_object();

			json_object_object_add(a, "id", json_object_new_string(ms[i].account_pid));
			json_object_object_add(a, "name", json_object_new_string(ms[i].account_name));
			json_object_object_add(a, "role", json_object_new_string(ms[i].role));
			json_object_array_add(accs, a);
		}
	json_object_object_add(o, "accounts", accs);
	api_csrf_token(app, token, csrf);
	json_object_object_add(o, "csrf_token", json_object_new_string(csrf));
	return o;
}

static void set_cookie(struct http_req *r, const char *token, int64_t max_age_s)
{
	struct app *app = http_app(r);
	char *c = arena_printf(http_arena(r), COOKIE "=%s; Path=/; HttpOnly; SameSite=Lax; Max-Age=%lld%s", token,
			       (long long)max_age_s, strncmp(app->cfg.public_url, "https:", 6) == 0 ? "; Secure" : "");

	http_add_header(r, "Set-Cookie", c);
	http_add_header(r, "Cache-Control", "no-store");
}

/* A password hash to check when the email is unknown, so that both cases
 * take the same time. */
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;
static char *dummy_hash;

static void make_dummy(void)
{
	uint8_t raw[16];
	char pw[33];

	rand_bytes(raw, sizeof(raw));
	hex_encode(pw, raw, sizeof(raw));
	if (vault_password_hash(pw, &dummy_hash))
		dummy_hash = NULL;
}

void api_session_start(struct http_req *r, const struct user *u, int status)
{
	struct app *app = http_app(r);
	uint8_t raw[32], hash[32];
	char token[64], *pid = NULL;
	json_object *o;
	int rc;

	rand_bytes(raw, sizeof(raw));
	memcpy(token, "inlet_ss_", 9);
	b64url_encode(token + 9, raw, sizeof(raw));
	secure_wipe(raw, sizeof(raw));
	vault_sha256(token, strlen(token), hash);
	if ((rc = sessions_create(app->tenant, u->id, hash, http_header(r, "User-Agent"), &pid))) {
		http_error_rc(r, rc);
	} else {
		set_cookie(r, token, SESSION_TTL_MS / 1000);
		o = session_json(r, u, token);
		http_respond_json(r, status, o);
		json_object_put(o);
	}
	secure_wipe(token, sizeof(token));
	free(pid);
}

void api_auth_login(struct http_req *r)
{
	struct app *app = http_app(r);
	struct arena *a = http_arena(r);
	struct user u;
	json_object *body;
	const char *email = NULL, *password = NULL;
	unsigned wait;
	int found, ok;

	wait = ratelimit_take(app->rl, LOGIN_SCOPE, http_client_ip(r), LOGIN_PER_MINUTE, LOGIN_BURST, now_ms());
	if (wait) {
		char s[16];

		snprintf(s, sizeof(s), "%u", wait);
		http_add_header(r, "Retry-After", s);
		http_error(r, 429, "rate_limited", "Too many login attempts. Try again later.");
		return;
	}
	if (!(body = api_body(r)))
		return;
	if (api_get_string(r, body, "email", &email) || api_get_string(r, body, "password", &password))
		goto out;
	if (!email || !password) {
		http_error(r, 400, "invalid", "\"email\" and \"password\" are required.");
		goto out;
	}
	found = sessions_user_by_email(app->tenant, email, a, &u) == 0;
	pthread_once(&dummy_once, make_dummy);
	ok = vault_password_verify(found ? u.password_hash : dummy_hash ? dummy_hash : "", password) == 0;
	if (!found || !ok) {
		http_error(r, 401, "invalid_credentials", "The email or the password is wrong.");
		goto out;
	}
	api_session_start(r, &u, 200);
out:
	json_object_put(body);
}

/* The session of a token hash and its user (password_hash NULL): from
 * this node's cache, else from the tenant store and then cached. */
static int session_lookup(struct http_req *r, const uint8_t hash[32], struct session *s, struct user *u)
{
	struct app *app = http_app(r);
	int64_t now = now_ms();
	uint64_t gen;
	int rc;

	if (sesscache_get(app->sessions, hash, now, http_arena(r), s, u) == 0)
		return 0;
	gen = sesscache_gen(app->sessions); /* before the read: an end announced meanwhile wins */
	rc = sessions_get(app->tenant, hash, http_arena(r), s);
	if (!rc)
		rc = sessions_user_by_id(app->tenant, s->user_id, http_arena(r), u);
	if (!rc) {
		sesscache_put(app->sessions, gen, hash, now, s, u);
		u->password_hash = NULL; /* as from the cache: nobody past a session needs it */
	}
	return rc;
}

/* The caller's cookie session and user; 401 answered when there is none. */
static int cookie_session(struct http_req *r, char token[64], struct session *s, struct user *u)
{
	uint8_t hash[32];
	int rc;

	if (api_session_token(r, token, 64)) {
		http_error(r, 401, "unauthorized", "Not logged in.");
		return INLET_EAUTH;
	}
	vault_sha256(token, strlen(token), hash);
	rc = session_lookup(r, hash, s, u);
	if (rc) {
		http_error(r, 401, "unauthorized", "The session has ended; log in again.");
		return INLET_EAUTH;
	}
	return 0;
}

void api_auth_session(struct http_req *r)
{
	struct session s;
	struct user u;
	char token[64];
	json_object *o;

	if (cookie_session(r, token, &s, &u))
		return;
	o = session_json(r, &u, token);
	http_add_header(r, "Cache-Control", "no-store");
	http_respond_json(r, 200, o);
	json_object_put(o);
}

/* State-changing cookie requests carry the CSRF token; 403 answered. */
static int csrf_ok(struct http_req *r, const char *token)
{
	const char *h = http_header(r, "X-CSRF-Token");
	char want[65];

	api_csrf_token(http_app(r), token, want);
	if (!h || strlen(h) != 64 || !vault_ct_equal(h, want, 64)) {
		http_error(r, 403, "csrf", "This request needs the session's X-CSRF-Token header.");
		return 0;
	}
	return 1;
}

void api_auth_logout(struct http_req *r)
{
	struct app *app = http_app(r);
	struct session s;
	struct user u;
	uint8_t hash[32];
	char token[64];

	if (cookie_session(r, token, &s, &u) || !csrf_ok(r, token))
		return;
	vault_sha256(token, strlen(token), hash);
	(void)sessions_delete(app->tenant, hash);
	/* Here and, through Redis, on every other node at once. */
	sesscache_invalidate_session(app->sessions, s.id);
	set_cookie(r, "", 0);
	http_respond_empty(r, 204);
}

void api_auth_sessions(struct http_req *r)
{
	struct app *app = http_app(r);
	struct session s, *all;
	struct user u;
	size_t n = 0;
	char token[64];
	json_object *o, *data;
	int rc;

	if (cookie_session(r, token, &s, &u))
		return;
	if ((rc = sessions_list(app->tenant, u.id, http_arena(r), &all, &n))) {
		http_error_rc(r, rc);
		return;
	}
	data = json_object_new_array();
	for (size_t i = 0; i < n; i++) {
		json_object *x = json_object_new_object();

		json_object_object_add(x, "id", json_object_new_string(all[i].pid));
		json_object_object_add(x, "user_agent", json_object_new_string(all[i].user_agent));
		json_object_object_add(x, "created_at", api_time_json(all[i].created_ms));
		json_object_object_add(x, "last_seen_at", api_time_json(all[i].last_seen_ms));
		json_object_object_add(x, "current", json_object_new_boolean(all[i].id == s.id));
		json_object_array_add(data, x);
	}
	o = json_object_new_object();
	json_object_object_add(o, "data", data);
	http_respond_json(r, 200, o);
	json_object_put(o);
}

void api_auth_session_revoke(struct http_req *r)
{
	struct app *app = http_app(r);
	struct session s;
	struct user u;
	char token[64];
	int rc;

	if (cookie_session(r, token, &s, &u) || !csrf_ok(r, token))
		return;
	rc = sessions_revoke(app->tenant, u.id, http_param(r, "id"));
	/* Only the user is known by id here: all of the user's entries go
	 * (the others are read again). */
	if (!rc)
		sesscache_invalidate_user(app->sessions, u.id);
	if (rc == INLET_ENOTFOUND)
		http_error(r, 404, "not_found", "No such session.");
	else if (rc)
		http_error_rc(r, rc);
	else
		http_respond_empty(r, 204);
}

int api_role_rank(const char *role)
{
	static const char *const ranks[] = { "viewer", "member", "admin", "owner" };

	for (int i = 0; i < 4; i++)
		if (strcmp(role, ranks[i]) == 0)
			return i;
	return -1;
}

int api_session_user(struct http_req *r, int csrf, struct user *u)
{
	struct session s;
	uint8_t hash[32];
	char token[64];
	int rc;

	if (api_session_token(r, token, sizeof(token)))
		return INLET_EAUTH;
	vault_sha256(token, strlen(token), hash);
	rc = session_lookup(r, hash, &s, u);
	if (rc == INLET_ENOTFOUND)
		rc = INLET_EAUTH;
	if (!rc && csrf && !csrf_ok(r, token))
		rc = INLET_EFORBIDDEN;
	secure_wipe(token, sizeof(token));
	return rc;
}

int api_auth_cookie(struct http_req *r, int64_t *account_id, int *rank, int64_t *user_id)
{
	struct app *app = http_app(r);
	const char *m = http_method(r), *want = http_header(r, "X-Inlet-Account");
	struct membership *ms;
	struct session s;
	struct user u;
	size_t n = 0;
	char token[64];

	if (cookie_session(r, token, &s, &u))
		return INLET_EAUTH;
	if (strcmp(m, "GET") && strcmp(m, "HEAD") && strcmp(m, "OPTIONS") && !csrf_ok(r, token))
		return INLET_EFORBIDDEN;
	/* What cannot send a header (an EventSource, a download link) names
	 * the account in the query; reads only. */
	if (!want && (strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0))
		want = http_query(r, "account");
	if (sessions_memberships(app->tenant, u.id, http_arena(r), &ms, &n) || n == 0) {
		http_error(r, 403, "forbidden", "This user belongs to no account.");
		return INLET_EFORBIDDEN;
	}
	for (size_t i = 0; i < n; i++)
		if (!want || strcmp(want, ms[i].account_pid) == 0) {
			*account_id = ms[i].account_id;
			*rank = api_role_rank(ms[i].role);
			*user_id = u.id;
			return 0;
		}
	http_error(r, 403, "forbidden", "X-Inlet-Account (or ?account=) names no account of this user.");
	return INLET_EFORBIDDEN;
}

/* ---- the first start ------------------------------------------------------- */

#define PASSWORD_MIN 10
#define PASSWORD_MAX 1024 /* argon2 takes more, but nobody types more */

int api_password_ok(struct http_req *r, const char *password)
{
	size_t n = password ? strlen(password) : 0;

	if (n < PASSWORD_MIN || n > PASSWORD_MAX) {
		http_error(r, 400, "weak_password", "\"password\" must have 10 to 1024 characters.");
		return 0;
	}
	return 1;
}

static pthread_mutex_t signup_lock = PTHREAD_MUTEX_INITIALIZER;

void api_auth_setup(struct http_req *r)
{
	struct app *app = http_app(r);
	int64_t n = 0;
	int rc = sessions_user_count(app->tenant, &n);
	json_object *o;

	if (rc) {
		http_error_rc(r, rc);
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, "needs_setup", json_object_new_boolean(n == 0));
	http_respond_json(r, 200, o);
	json_object_put(o);
}

void api_auth_signup(struct http_req *r)
{
	struct app *app = http_app(r);
	struct arena *a = http_arena(r);
	struct account acc;
	struct user u;
	json_object *body;
	const char *email = NULL, *password = NULL, *name = NULL;
	char *hash = NULL;
	int64_t n = 1;
	int rc;

	if (!(body = api_body(r)))
		return;
	if (api_get_string(r, body, "email", &email) || api_get_string(r, body, "password", &password) ||
	    api_get_string(r, body, "account", &name))
		goto out;
	if (!email || !mail_address_valid(email)) {
		http_error(r, 400, "invalid", "\"email\" must be an email address.");
		goto out;
	}
	if (!api_password_ok(r, password))
		goto out;
	/* One process serves a data folder (serve.lock): this lock makes the
	 * check and the creation one step. */
	pthread_mutex_lock(&signup_lock);
	rc = sessions_user_count(app->tenant, &n);
	if (!rc && n > 0) {
		pthread_mutex_unlock(&signup_lock);
		http_error(r, 403, "closed", "Inlet is set up already; ask an admin of an account for an invitation.");
		goto out;
	}
	if (!rc)
		rc = vault_password_hash(password, &hash);
	if (!rc)
		rc = tenant_init_owner(app->tenant, email, hash, name && *name ? name : email, a, &acc);
	pthread_mutex_unlock(&signup_lock);
	if (!rc)
		rc = sessions_user_by_email(app->tenant, email, a, &u);
	if (rc) {
		http_error_rc(r, rc);
		goto out;
	}
	api_session_start(r, &u, 201);
out:
	free(hash);
	json_object_put(body);
}
