/* Operating routes: health, metrics, the OpenAPI document. */
#include <json-c/json.h>

#include "api/api.h"
#include "app/app.h"
#include "app/clickhouse.h"
#include "app/redis.h"
#include "app/sesscache.h"
#include "blob/blob.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/metrics.h"
#include "http/assets.h"
#include "http/http.h"
#include "store/shards.h"
#include "store/subs.h"
#include "store/tenant.h"
#include "vault/vault.h"

void api_openapi(struct http_req *r)
{
	const struct asset *a = assets_find("docs/openapi.json");

	if (!a) {
		http_error(r, 404, "not_found", "no OpenAPI document in this build");
		return;
	}
	http_add_header(r, "Cache-Control", "public, max-age=300");
	http_respond(r, 200, "application/json", a->data, a->size);
}

void api_healthz(struct http_req *r)
{
	struct app *app = http_app(r);
	struct account acc;
	int64_t count;
	int t_rc, s_rc, d_rc, b_rc, ok, dedicated = 0;
	json_object *o = json_object_new_object(), *stores = json_object_new_object();

	/* A real read from each store: a lookup that finds nothing still
	 * proves the database answers. */
	t_rc = tenant_account_get(app->tenant, -1, NULL, &acc);
	t_rc = t_rc == INLET_ENOTFOUND ? 0 : t_rc;
	s_rc = substore_count(app->shared, -1, &count);
	d_rc = app->shards ? shards_check(app->shards, &dedicated) : 0;
	/* The folder is writable, or the bucket answers a list of one key. */
	b_rc = blob_check(app->blobs);
	ok = !t_rc && !s_rc && !d_rc && !b_rc;
	json_object_object_add(stores, "tenant", json_object_new_string(t_rc ? inlet_errname(t_rc) : "ok"));
	json_object_object_add(stores, "submissions", json_object_new_string(s_rc ? inlet_errname(s_rc) : "ok"));
	/* Busy endpoints' own databases, all of them read. */
	json_object_object_add(stores, "endpoint_databases", json_object_new_string(d_rc ? inlet_errname(d_rc) : "ok"));
	json_object_object_add(o, "endpoint_databases", json_object_new_int(dedicated));
	json_object_object_add(stores, "blobs", json_object_new_string(b_rc ? inlet_errname(b_rc) : "ok"));
	/* Analytics fall back to the embedded rollups without ClickHouse, so
	 * it is reported, never a reason for a 503. */
	if (app->ch)
		json_object_object_add(o, "clickhouse", json_object_new_string(ch_ping(app->ch) ? "down" : "ok"));
	{
		/* The engine the stores are on, and whether it answers: the
		 * tenant read above went to it (on PostgreSQL every store is a
		 * schema of the one database). */
		json_object *db = json_object_new_object();

		json_object_object_add(db, "engine", json_object_new_string(app->cfg.database_url ? "postgres" : "sqlite"));
		json_object_object_add(db, "status", json_object_new_string(t_rc ? inlet_errname(t_rc) : "ok"));
		json_object_object_add(o, "database", db);
	}
	json_object_object_add(o, "status", json_object_new_string(ok ? "ok" : "degraded"));
	json_object_object_add(o, "stores", stores);
	/* Shared limits and fan-out; without Redis a node works alone (local
	 * limits, its own streams), so a down Redis is said, not failed on. */
	if (app->redis)
		json_object_object_add(o, "redis", json_object_new_string(rds_check(app->redis) ? "down" : "ok"));
	http_add_header(r, "Cache-Control", "no-store");
	http_respond_json(r, ok ? 200 : 503, o);
	json_object_put(o);
}

/* The session cache's counters (app/sesscache.h). */
static int session_metrics(struct app *app, struct buf *b)
{
	uint64_t hits, misses;
	size_t entries;

	sesscache_stats(app->sessions, &hits, &misses, &entries);
	return buf_printf(b,
			  "# HELP inlet_session_cache_hits_total Cookie sessions found in this node's cache.\n"
			  "# TYPE inlet_session_cache_hits_total counter\ninlet_session_cache_hits_total %llu\n"
			  "# HELP inlet_session_cache_misses_total Cookie sessions read from the tenant store.\n"
			  "# TYPE inlet_session_cache_misses_total counter\ninlet_session_cache_misses_total %llu\n"
			  "# TYPE inlet_session_cache_entries gauge\ninlet_session_cache_entries %zu\n",
			  (unsigned long long)hits, (unsigned long long)misses, entries) ? -1 : 0;
}

void api_metrics(struct http_req *r)
{
	struct app *app = http_app(r);
	uint64_t hits, misses;
	size_t entries;
	struct buf b;

	buf_init(&b, 4u << 20);
	vault_cache_stats(app->vault, &hits, &misses, &entries);
	if (metrics_render(&b, hits, misses, entries) || (app->ch && ch_metrics_render(app->ch, &b)) ||
	    session_metrics(app, &b))
		http_error(r, 500, "internal", "metrics too large");
	else
		http_respond(r, 200, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len);
	buf_free(&b);
}
