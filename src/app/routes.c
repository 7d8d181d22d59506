#include "app/routes.h"

#include <stdint.h>

#include "api/api.h"
#include "app/web.h"
#include "ingest/form.h"
#include "ingest/sentry.h"
#include "ingest/v1.h"

#define FORM_MAX SIZE_MAX /* the form handler applies its own caps (INLET_*_BODY_MAX) */
#define API_MAX (1024u * 1024)
#define TRACKX_EVENT_MAX (1024u * 1024)  /* TrackX's own limit */
#define REPORT_MAX (100u * 1024)
#define ENVELOPE_MAX (20u * 1024 * 1024) /* compressed; 100 MiB decoded */
#define IMPORT_MAX (64u * 1024 * 1024) /* an export file; streamed, never held whole */

const struct route app_routes[] = {
	{ "POST", "/f/{key}", form_post, form_begin, form_body, FORM_MAX, 0, "Submit a form" },
	{ "OPTIONS", "/f/{key}", form_preflight, NULL, NULL, 0, 0, "CORS preflight for a form" },
	{ "GET", "/f/{key}", form_get, NULL, NULL, 0, 0, "Tells a browser that forms take POST" },
	{ "GET", "/f/{key}/thanks", form_thanks, NULL, NULL, 0, 0, "Thank-you page" },

	{ "POST", "/v1/{key}/event", v1_event, v1_begin, NULL, TRACKX_EVENT_MAX, ROUTE_OWN_413, "TrackX: an error event" },
	{ "GET", "/v1/{key}/ping", v1_ping, v1_begin, NULL, 0, ROUTE_OWN_413, "TrackX: a session ping" },
	{ "POST", "/v1/{key}/ping", v1_ping, v1_begin, NULL, 0, ROUTE_OWN_413, "TrackX: a session ping" },
	{ "POST", "/v1/{key}/report", v1_report, v1_begin, NULL, REPORT_MAX, ROUTE_OWN_413, "Browser reports (CSP, Reporting API)" },
	{ "OPTIONS", "/v1/{key}/event", v1_preflight, NULL, NULL, 0, 0, "CORS preflight" },
	{ "OPTIONS", "/v1/{key}/ping", v1_preflight, NULL, NULL, 0, 0, "CORS preflight" },
	{ "OPTIONS", "/v1/{key}/report", v1_preflight, NULL, NULL, 0, 0, "CORS preflight" },
	{ "POST", "/api/{project}/envelope/", sentry_post, sentry_begin, NULL, ENVELOPE_MAX, ROUTE_OWN_413, "Sentry: an envelope" },
	{ "POST", "/api/{project}/store/", sentry_post, sentry_begin, NULL, ENVELOPE_MAX, ROUTE_OWN_413, "Sentry: one event (older SDKs)" },
	{ "OPTIONS", "/api/{project}/envelope/", sentry_preflight, NULL, NULL, 0, 0, "CORS preflight" },
	{ "OPTIONS", "/api/{project}/store/", sentry_preflight, NULL, NULL, 0, 0, "CORS preflight" },

	{ "GET", "/api/v1/auth/setup", api_auth_setup, NULL, NULL, 0, ROUTE_API, "Whether the first account is still to be made" },
	{ "POST", "/api/v1/auth/signup", api_auth_signup, NULL, NULL, API_MAX, ROUTE_API, "The first account and its owner (first start only)" },
	{ "POST", "/api/v1/auth/login", api_auth_login, NULL, NULL, API_MAX, ROUTE_API, "Log in: a session cookie" },
	{ "POST", "/api/v1/auth/logout", api_auth_logout, NULL, NULL, API_MAX, ROUTE_API, "Log out" },
	{ "GET", "/api/v1/auth/session", api_auth_session, NULL, NULL, 0, ROUTE_API, "The session: user, accounts, CSRF token" },
	{ "GET", "/api/v1/auth/sessions", api_auth_sessions, NULL, NULL, 0, ROUTE_API, "The user's sessions" },
	{ "DELETE", "/api/v1/auth/sessions/{id}", api_auth_session_revoke, NULL, NULL, 0, ROUTE_API, "End a session" },
	{ "GET", "/api/v1/account", api_account_get, NULL, NULL, 0, ROUTE_API, "The caller's account" },
	{ "GET", "/api/v1/accounts", api_accounts_list, NULL, NULL, 0, ROUTE_API, "The user's accounts, with roles" },
	{ "POST", "/api/v1/accounts", api_accounts_create, NULL, NULL, API_MAX, ROUTE_API, "A new account, the user its owner" },
	{ "GET", "/api/v1/members", api_members_list, NULL, NULL, 0, ROUTE_API, "The account's members" },
	{ "PATCH", "/api/v1/members/{id}", api_member_patch, NULL, NULL, API_MAX, ROUTE_API, "Change a member's role" },
	{ "DELETE", "/api/v1/members/{id}", api_member_delete, NULL, NULL, 0, ROUTE_API | ROUTE_SELF, "Remove a member, or leave" },
	{ "POST", "/api/v1/invites", api_invites_create, NULL, NULL, API_MAX, ROUTE_API, "Invite someone by email (a link)" },
	{ "GET", "/api/v1/invites", api_invites_list, NULL, NULL, 0, ROUTE_API, "Pending invitations" },
	{ "GET", "/api/v1/invites/lookup", api_invite_lookup, NULL, NULL, 0, ROUTE_API, "What an invitation link offers" },
	{ "POST", "/api/v1/invites/accept", api_invite_accept, NULL, NULL, API_MAX, ROUTE_API, "Accept an invitation" },
	{ "DELETE", "/api/v1/invites/{id}", api_invite_revoke, NULL, NULL, 0, ROUTE_API, "Revoke an invitation" },
	{ "GET", "/api/v1/endpoints", api_endpoints_list, NULL, NULL, 0, ROUTE_API, "List endpoints" },
	{ "POST", "/api/v1/endpoints", api_endpoints_create, NULL, NULL, API_MAX, ROUTE_API, "Create an endpoint" },
	{ "GET", "/api/v1/endpoints/{id}", api_endpoint_get, NULL, NULL, 0, ROUTE_API, "One endpoint" },
	{ "PATCH", "/api/v1/endpoints/{id}", api_endpoint_patch, NULL, NULL, API_MAX, ROUTE_API, "Change an endpoint" },
	{ "DELETE", "/api/v1/endpoints/{id}", api_endpoint_delete, NULL, NULL, 0, ROUTE_API, "Delete an endpoint and its data" },
	{ "GET", "/api/v1/endpoints/{id}/submissions", api_submissions_list, NULL, NULL, 0, ROUTE_API, "List submissions" },
	{ "POST", "/api/v1/endpoints/{id}/imports", api_imports_post, api_imports_begin, api_imports_body, IMPORT_MAX, ROUTE_API | ROUTE_MEMBER, "Import an export (CSV, JSON, NDJSON) as submissions" },
	{ "GET", "/api/v1/endpoints/{id}/export", api_endpoint_export, NULL, NULL, 0, ROUTE_API, "Export submissions (CSV, JSON, NDJSON), streamed" },
	{ "GET", "/api/v1/endpoints/{id}/issues", api_issues_list, NULL, NULL, 0, ROUTE_API, "List issues (sort, state, search)" },
	{ "GET", "/api/v1/endpoints/{id}/sessions", api_sessions_graph, NULL, NULL, 0, ROUTE_API, "Sessions per hour" },
	{ "GET", "/api/v1/endpoints/{id}/stats", api_endpoint_stats, NULL, NULL, 0, ROUTE_API, "Daily counters of an endpoint" },
	{ "GET", "/api/v1/issues/{id}", api_issue_get, NULL, NULL, 0, ROUTE_API, "One issue" },
	{ "PATCH", "/api/v1/issues/{id}", api_issue_patch, NULL, NULL, API_MAX, ROUTE_API | ROUTE_MEMBER, "Resolve, ignore or reopen an issue" },
	{ "GET", "/api/v1/issues/{id}/events", api_issue_events, NULL, NULL, 0, ROUTE_API, "An issue's events, newest first" },
	{ "GET", "/api/v1/issues/{id}/graph", api_issue_graph, NULL, NULL, 0, ROUTE_API, "An issue's events per hour or day" },
	{ "GET", "/api/v1/events/{id}", api_event_get, NULL, NULL, 0, ROUTE_API, "One event, opened" },
	{ "GET", "/api/v1/events/{id}/attachments/{n}", api_event_attachment, NULL, NULL, 0, ROUTE_API, "Download an event's attachment" },
	{ "GET", "/api/v1/stats", api_account_stats, NULL, NULL, 0, ROUTE_API, "Daily counters of the account" },
	{ "POST", "/api/v1/endpoints/{id}/webhooks", api_webhooks_create, NULL, NULL, API_MAX, ROUTE_API, "Add a webhook" },
	{ "GET", "/api/v1/endpoints/{id}/webhooks", api_webhooks_list, NULL, NULL, 0, ROUTE_API, "An endpoint's webhooks" },
	{ "GET", "/api/v1/webhooks/{id}", api_webhook_get, NULL, NULL, 0, ROUTE_API, "One webhook" },
	{ "PATCH", "/api/v1/webhooks/{id}", api_webhook_patch, NULL, NULL, API_MAX, ROUTE_API, "Change a webhook (url, events, format, enabled)" },
	{ "DELETE", "/api/v1/webhooks/{id}", api_webhook_delete, NULL, NULL, 0, ROUTE_API, "Remove a webhook" },
	{ "GET", "/api/v1/webhooks/{id}/deliveries", api_webhook_deliveries, NULL, NULL, 0, ROUTE_API, "A webhook's delivery log" },
	{ "POST", "/api/v1/deliveries/{id}/redeliver", api_delivery_redeliver, NULL, NULL, API_MAX, ROUTE_API, "Deliver again" },
	{ "GET", "/api/v1/jobs", api_jobs_list, NULL, NULL, 0, ROUTE_API, "The account's jobs" },
	{ "POST", "/api/v1/endpoints/{id}/exports", api_exports_create, NULL, NULL, API_MAX, ROUTE_API | ROUTE_MEMBER, "Export as a job (large exports)" },
	{ "GET", "/api/v1/exports/{id}", api_export_get, NULL, NULL, 0, ROUTE_API, "An export job: state, progress, file" },
	{ "GET", "/api/v1/exports/{id}/file", api_export_file, NULL, NULL, 0, ROUTE_API, "Download a finished export" },
	{ "GET", "/api/v1/imports/{id}", api_import_get, NULL, NULL, 0, ROUTE_API, "An import job: state, progress, report" },
	{ "GET", "/api/v1/keys", api_keys_list, NULL, NULL, 0, ROUTE_API, "List API keys" },
	{ "POST", "/api/v1/keys", api_keys_create, NULL, NULL, API_MAX, ROUTE_API, "Create an API key" },
	{ "DELETE", "/api/v1/keys/{id}", api_key_delete, NULL, NULL, 0, ROUTE_API, "Revoke an API key" },
	{ "GET", "/api/v1/submissions/{id}", api_submission_get, NULL, NULL, 0, ROUTE_API, "One submission" },
	{ "PATCH", "/api/v1/submissions/{id}", api_submission_patch, NULL, NULL, API_MAX, ROUTE_API | ROUTE_MEMBER, "Change a submission's status" },
	{ "DELETE", "/api/v1/submissions/{id}", api_submission_delete, NULL, NULL, 0, ROUTE_API | ROUTE_MEMBER, "Erase a submission" },
	{ "GET", "/api/v1/submissions/{id}/files/{n}", api_submission_file, NULL, NULL, 0, ROUTE_API, "Download a file" },
	{ "GET", "/api/v1/stream", api_stream, NULL, NULL, 0, ROUTE_API, "Live updates of the account (Server-Sent Events)" },
	{ "GET", "/api/v1/openapi.json", api_openapi, NULL, NULL, 0, ROUTE_API, "This API's OpenAPI document" },

	{ "GET", "/", web_index, NULL, NULL, 0, 0, "The dashboard" },
	{ "GET", "/assets/{name}", web_asset, NULL, NULL, 0, 0, "The dashboard's scripts and styles" },
	{ "GET", "/inlet.js", web_inlet_js, NULL, NULL, 0, 0, "The form script for a site's pages" },
	{ "GET", "/healthz", api_healthz, NULL, NULL, 0, 0, "Liveness and store readiness" },
	{ "GET", "/metrics", api_metrics, NULL, NULL, 0, 0, "Prometheus metrics" },
	{ NULL, NULL, NULL, NULL, NULL, 0, 0, NULL },
};
