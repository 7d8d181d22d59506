/* Members of the caller's account:
 *   GET /api/v1/members               every role
 *   PATCH /api/v1/members/{id}        {"role"}: an admin; the owner role
 *                                     (given or taken) needs an owner
 *   DELETE /api/v1/members/{id}       an admin removes (an owner removes an
 *                                     owner); anyone may remove themselves
 * {id} is the user's public id. The account always keeps an owner: the
 * last one can be neither demoted nor removed (409 last_owner), checked in
 * the same transaction as the change (store/members.c). A removed member
 * loses access at their next request, since every cookie request reads the
 * memberships afresh (api_auth_cookie). */
#include <string.h>

#include <json-c/json.h>

#include "api/api.h"
#include "app/app.h"
#include "core/err.h"
#include "http/http.h"
#include "store/members.h"
#include "store/sessions.h"

static json_object *member_json(const struct member *m, int64_t me)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_string(m->user_pid));
	json_object_object_add(o, "email", json_object_new_string(m->email));
	json_object_object_add(o, "name", json_object_new_string(m->name));
	json_object_object_add(o, "role", json_object_new_string(m->role));
	json_object_object_add(o, "joined_at", api_time_json(m->joined_ms));
	json_object_object_add(o, "you", json_object_new_boolean(me && m->user_id == me));
	return o;
}

/* The answer to a refused change of members (store/members.h's codes). */
static void change_error(struct http_req *r, int rc, const char *forbidden)
{
	if (rc == INLET_ENOTFOUND)
		http_error(r, 404, "not_found", "No such member.");
	else if (rc == INLET_EFORBIDDEN)
		http_error(r, 403, "forbidden", forbidden);
	else if (rc == INLET_ECONFLICT)
		http_error(r, 409, "last_owner", "The account's last owner must stay: make another owner first.");
	else
		http_error_rc(r, rc);
}

void api_members_list(struct http_req *r)
{
	struct app *app = http_app(r);
	struct api_caller c;
	struct member *all;
	size_t n = 0;
	json_object *o, *data;
	int rc;

	if (api_caller(r, &c))
		return;
	if ((rc = members_list(app->tenant, c.account_id, http_arena(r), &all, &n))) {
		http_error_rc(r, rc);
		return;
	}
	data = json_object_new_array();
	for (size_t i = 0; i < n; i++)
		json_object_array_add(data, member_json(&all[i], c.user_id));
	o = json_object_new_object();
	json_object_object_add(o, "data", data);
	http_respond_json(r, 200, o);
	json_object_put(o);
}

void api_member_patch(struct http_req *r)
{
	struct app *app = http_app(r);
	struct api_caller c;
	struct member m;
	json_object *body, *o;
	const char *role = NULL;
	int rc;

	if (api_caller(r, &c) || !(body = api_body(r)))
		return;
	if (api_get_string(r, body, "role", &role))
		goto out;
	if (!role || api_role_rank(role) < 0) {
		http_error(r, 400, "invalid", "\"role\" must be owner, admin, member or viewer.");
		goto out;
	}
	rc = members_set_role(app->tenant, c.account_id, http_param(r, "id"), role, c.rank >= 3, http_arena(r), &m);
	if (rc) {
		change_error(r, rc, "Only an owner may make an owner or change an owner's role.");
		goto out;
	}
	o = member_json(&m, c.user_id);
	http_respond_json(r, 200, o);
	json_object_put(o);
out:
	json_object_put(body);
}

void api_member_delete(struct http_req *r)
{
	struct app *app = http_app(r);
	const char *id = http_param(r, "id");
	struct api_caller c;
	struct user me;
	int rc, self = 0;

	/* The route is ROUTE_SELF: api_caller lets every role through, and
	 * the rule is here: leaving is one's own business, removing others
	 * an admin's. */
	if (api_caller(r, &c))
		return;
	if (c.user_id) {
		if ((rc = sessions_user_by_id(app->tenant, c.user_id, http_arena(r), &me))) {
			http_error_rc(r, rc);
			return;
		}
		self = strcmp(me.pid, id) == 0;
	}
	if (!self && c.rank < 2) {
		http_error(r, 403, "forbidden", "This needs the admin role or more (anyone may remove themselves).");
		return;
	}
	rc = members_remove(app->tenant, c.account_id, id, c.rank >= 3);
	if (rc)
		change_error(r, rc, "Only an owner may remove an owner.");
	else
		http_respond_empty(r, 204);
}
