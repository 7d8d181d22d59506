#include <json-c/json.h>

#include "api/api.h"
#include "app/app.h"
#include "core/arena.h"
#include "http/http.h"
#include "store/tenant.h"

void api_account_get(struct http_req *r)
{
	struct app *app = http_app(r);
	struct account acc;
	int64_t aid;
	json_object *o;
	int rc;

	if (api_auth(r, &aid))
		return;
	if ((rc = tenant_account_get(app->tenant, aid, http_arena(r), &acc))) {
		http_error_rc(r, rc);
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_string(acc.pid));
	json_object_object_add(o, "name", json_object_new_string(acc.name));
	json_object_object_add(o, "created_at", api_time_json(acc.created_ms));
	http_respond_json(r, 200, o);
	json_object_put(o);
}
