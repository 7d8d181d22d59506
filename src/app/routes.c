#include "app/routes.h"

#include <stdint.h>

#include "api/api.h"
#include "ingest/form.h"

#define FORM_MAX SIZE_MAX /* the form handler applies its own caps (INLET_*_BODY_MAX) */
#define API_MAX (1024u * 1024)

const struct route app_routes[] = {
	{ "POST", "/f/{key}", form_post, form_begin, form_body, FORM_MAX, 0, "Submit a form" },
	{ "OPTIONS", "/f/{key}", form_preflight, NULL, NULL, 0, 0, "CORS preflight for a form" },
	{ "GET", "/f/{key}", form_get, NULL, NULL, 0, 0, "Tells a browser that forms take POST" },
	{ "GET", "/f/{key}/thanks", form_thanks, NULL, NULL, 0, 0, "Thank-you page" },

	{ "GET", "/api/v1/account", api_account_get, NULL, NULL, 0, ROUTE_API, "The caller's account" },
	{ "GET", "/api/v1/endpoints", api_endpoints_list, NULL, NULL, 0, ROUTE_API, "List endpoints" },
	{ "POST", "/api/v1/endpoints", api_endpoints_create, NULL, NULL, API_MAX, ROUTE_API, "Create an endpoint" },
	{ "GET", "/api/v1/endpoints/{id}", api_endpoint_get, NULL, NULL, 0, ROUTE_API, "One endpoint" },
	{ "PATCH", "/api/v1/endpoints/{id}", api_endpoint_patch, NULL, NULL, API_MAX, ROUTE_API, "Change an endpoint" },
	{ "DELETE", "/api/v1/endpoints/{id}", api_endpoint_delete, NULL, NULL, 0, ROUTE_API, "Delete an endpoint and its data" },
	{ "GET", "/api/v1/endpoints/{id}/submissions", api_submissions_list, NULL, NULL, 0, ROUTE_API, "List submissions" },
	{ "GET", "/api/v1/keys", api_keys_list, NULL, NULL, 0, ROUTE_API, "List API keys" },
	{ "POST", "/api/v1/keys", api_keys_create, NULL, NULL, API_MAX, ROUTE_API, "Create an API key" },
	{ "DELETE", "/api/v1/keys/{id}", api_key_delete, NULL, NULL, 0, ROUTE_API, "Revoke an API key" },
	{ "GET", "/api/v1/submissions/{id}", api_submission_get, NULL, NULL, 0, ROUTE_API, "One submission" },
	{ "PATCH", "/api/v1/submissions/{id}", api_submission_patch, NULL, NULL, API_MAX, ROUTE_API, "Change a submission's status" },
	{ "DELETE", "/api/v1/submissions/{id}", api_submission_delete, NULL, NULL, 0, ROUTE_API, "Erase a submission" },
	{ "GET", "/api/v1/submissions/{id}/files/{n}", api_submission_file, NULL, NULL, 0, ROUTE_API, "Download a file" },
	{ "GET", "/api/v1/openapi.json", api_openapi, NULL, NULL, 0, ROUTE_API, "This API's OpenAPI document" },

	{ "GET", "/healthz", api_healthz, NULL, NULL, 0, 0, "Liveness and store readiness" },
	{ "GET", "/metrics", api_metrics, NULL, NULL, 0, 0, "Prometheus metrics" },
	{ NULL, NULL, NULL, NULL, NULL, 0, 0, NULL },
};
