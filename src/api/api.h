/* Management API handlers (/api/v1), one file per resource, and the
 * helpers they share. Every handler authenticates first and scopes every
 * query to the caller's account. */
#ifndef INLET_API_API_H
#define INLET_API_API_H

#include <stddef.h>
#include <stdint.h>

struct http_req;
struct json_object;

/* The caller's account from "Authorization: Bearer <token>"; on failure
 * the 401 answer is already set and a non-zero code returned. */
int api_auth(struct http_req *r, int64_t *account_id);
/* The request body as a JSON object (caller puts it); on failure the 400
 * answer is set and NULL returned. */
struct json_object *api_body(struct http_req *r);
/* "2026-11-23T15:00:00.123Z" into out (at least 32 bytes). */
void api_time(int64_t ms, char *out, size_t size);
struct json_object *api_time_json(int64_t ms);
/* Parses ISO 8601 (date, or date-time with optional fraction and Z or
 * offset) or unix milliseconds. INLET_EINVAL otherwise. */
int api_parse_time(const char *s, int64_t *ms);
/* A string member of obj, or NULL when absent/null; INLET_EINVAL (and a
 * 400 answer) when present with another type. */
int api_get_string(struct http_req *r, struct json_object *obj, const char *key, const char **out);

struct app;
struct endpoint;
struct vault_key;
/* The data key of version for endpoint e: its current one, or an older
 * version from the tenant store. Caller releases. */
int api_endpoint_key(struct app *app, const struct endpoint *e, uint32_t version, struct vault_key **out);
/* The caller's endpoint {id}; answers 404 (or the error) itself. */
int api_endpoint(struct http_req *r, int64_t aid, struct endpoint *e);
/* ?limit=: default def, 1..max; answers 400 itself. */
int api_limit(struct http_req *r, size_t def, size_t max, size_t *out);

/* Content-Disposition: attachment with an ASCII fallback and the exact
 * UTF-8 name (RFC 6266 / RFC 5987). */
void api_disposition(struct http_req *r, const char *name);
/* Streams file n of record pid (sealed under e's key_version) from the
 * blob store as the answer: size plaintext bytes, the first chunk
 * authenticated before the status is sent. Answers errors itself. */
void api_file_send(struct http_req *r, const struct endpoint *e, uint32_t key_version, const char *pid,
		   uint32_t n, uint64_t size, const char *ctype, const char *name);

/* Sessions (api/auth.c). The inlet_session cookie's token into out, or
 * INLET_ENOTFOUND; the CSRF token of a session token (64 hex digits); the
 * account of a cookie-authenticated request (answers 401/403 itself). */
int api_session_token(struct http_req *r, char *out, size_t size);
void api_csrf_token(struct app *app, const char *token, char out[65]);
int api_auth_cookie(struct http_req *r, int64_t *account_id, int *rank, int64_t *user_id);
/* viewer 0, member 1, admin 2, owner 3; -1 for another word. */
int api_role_rank(const char *role);
struct user;
/* The user of the request's live session cookie, answering nothing:
 * INLET_EAUTH when there is none. With csrf set, a wrong or missing
 * X-CSRF-Token answers 403 and gives INLET_EFORBIDDEN. u lives in the
 * request's arena. */
int api_session_user(struct http_req *r, int csrf, struct user *u);
/* Logs u in as POST /auth/login does: a new session, its cookie, and
 * {"user","accounts","csrf_token"} answered with status. */
void api_session_start(struct http_req *r, const struct user *u, int status);
/* The password rule (10 to 1024 characters): 1 when password keeps it,
 * else 0 with 400 weak_password answered. */
int api_password_ok(struct http_req *r, const char *password);

/* Who calls: the account, the role's rank (an API key ranks as owner: it
 * has its account's full rights) and the user (0 for an API key). */
struct api_caller {
	int64_t account_id;
	int64_t user_id;
	int rank;
};
/* api_auth, with the caller's role and user. */
int api_caller(struct http_req *r, struct api_caller *c);
void api_auth_login(struct http_req *r);
void api_auth_setup(struct http_req *r);
void api_auth_signup(struct http_req *r);
void api_auth_logout(struct http_req *r);
void api_auth_session(struct http_req *r);
void api_auth_sessions(struct http_req *r);
void api_auth_session_revoke(struct http_req *r);

void api_account_get(struct http_req *r);
void api_accounts_list(struct http_req *r);
void api_accounts_create(struct http_req *r);

/* Invitations (api/invites.c) and members (api/members.c). */
void api_invites_create(struct http_req *r);
void api_invites_list(struct http_req *r);
void api_invite_revoke(struct http_req *r);
void api_invite_lookup(struct http_req *r);
void api_invite_accept(struct http_req *r);
void api_members_list(struct http_req *r);
void api_member_patch(struct http_req *r);
void api_member_delete(struct http_req *r);

void api_endpoints_list(struct http_req *r);
void api_endpoints_create(struct http_req *r);
void api_endpoint_get(struct http_req *r);
void api_endpoint_patch(struct http_req *r);
void api_endpoint_delete(struct http_req *r);

void api_keys_list(struct http_req *r);
void api_keys_create(struct http_req *r);
void api_key_delete(struct http_req *r);

struct sub_row;
struct sub_query;
/* A submission as GET /api/v1/submissions/{id} shows it ({id, endpoint_id,
 * created_at, status, fields, files, meta}). A row that cannot be opened
 * (logged) gives {id, endpoint_id, created_at, status, error} instead, with
 * its code in *rc (0 otherwise), so one bad row never hides the others.
 * Never NULL; caller puts. */
struct json_object *api_submission_json(struct app *app, const struct endpoint *e, const struct sub_row *row,
					int *rc);
/* "inbox", "spam", "trash"; parse gives -1 for another word. */
const char *api_status_name(int status);
int api_status_parse(const char *s);
/* ?status=, ?since= (inclusive), ?until= (exclusive) into q; answers 400
 * itself and returns INLET_EINVAL on a bad value. */
int api_sub_filters(struct http_req *r, struct sub_query *q);

void api_submissions_list(struct http_req *r);
void api_submission_get(struct http_req *r);
void api_submission_patch(struct http_req *r);
void api_submission_delete(struct http_req *r);
void api_submission_file(struct http_req *r);
void api_endpoint_export(struct http_req *r);

/* POST /api/v1/endpoints/{id}/imports (api/imports.c): begin checks, the
 * body streams into the importer, post answers with the report. */
void api_imports_begin(struct http_req *r);
int api_imports_body(struct http_req *r, const char *data, size_t len);
void api_imports_post(struct http_req *r);

struct ev_issue;
/* An issue as GET /api/v1/issues/{id} shows it (its sealed head and last
 * fields opened with key); *head (may be NULL) gets the opened head. */
struct json_object *api_issue_json(struct app *app, const struct endpoint *e, const struct vault_key *key,
				   const struct ev_issue *is, struct json_object **head);

void api_issues_list(struct http_req *r);
void api_issue_get(struct http_req *r);
void api_issue_patch(struct http_req *r);
void api_issue_events(struct http_req *r);
void api_issue_graph(struct http_req *r);
void api_event_get(struct http_req *r);
void api_event_attachment(struct http_req *r);
void api_sessions_graph(struct http_req *r);
void api_endpoint_stats(struct http_req *r);
void api_account_stats(struct http_req *r);

void api_webhooks_create(struct http_req *r);
void api_webhooks_list(struct http_req *r);
void api_webhook_get(struct http_req *r);
void api_webhook_patch(struct http_req *r);
void api_webhook_delete(struct http_req *r);
void api_webhook_deliveries(struct http_req *r);
void api_delivery_redeliver(struct http_req *r);
void api_jobs_list(struct http_req *r);
struct queue_job;
/* {id}, a public id of prefix naming a job of kind and its endpoint, to the
 * caller's job and endpoint; 404 "No such <what>." answered otherwise. */
int api_job_of(struct http_req *r, int64_t aid, const char *prefix, const char *kind, const char *what,
	       struct queue_job *job, struct endpoint *e);
void api_exports_create(struct http_req *r);
void api_export_get(struct http_req *r);
void api_export_file(struct http_req *r);
void api_import_get(struct http_req *r);

/* GET /api/v1/stream (api/stream.c): live updates as Server-Sent Events. */
void api_stream(struct http_req *r);

void api_openapi(struct http_req *r);
void api_healthz(struct http_req *r);
void api_metrics(struct http_req *r);

#endif
