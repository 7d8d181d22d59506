#include "app/app.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "app/clickhouse.h"
#include "app/evdicts.h"
#include "app/live.h"
#include "app/redis.h"
#include "app/sesscache.h"
#include "app/tally.h"
#include "jobs/runner.h"
#include "jobs/webhook.h"
#include "store/queue.h"
#include "blob/blob.h"
#include "blob/s3.h"
#include "core/alloc.h"
#include "core/enc.h"
#include "core/err.h"
#include "core/log.h"
#include "endpoint/cache.h"
#include "ingest/ratelimit.h"
#include "jobs/smtp.h"
#include "store/shards.h"
#include "store/subs.h"
#include "store/tenant.h"
#include "vault/pubid.h"
#include "vault/vault.h"

static int ensure_dir(const char *path)
{
	if (mkdir(path, 0700) && errno != EEXIST) {
		log_msg(LOG_ERROR, "cannot create %s: %s", path, strerror(errno));
		return INLET_EIO;
	}
	return 0;
}

/* Email settings are checked at the start, not at the first submission:
 * a typo in INLET_SMTP_* should stop the server, not kill mail jobs later. */
static int open_smtp(struct app *a)
{
	struct smtp_config *c = xcalloc(1, sizeof(*c));
	int rc = smtp_config_from_env(c);

	if (rc == INLET_ENOTFOUND) {
		free(c);
		return 0;
	}
	if (rc) {
		log_msg(LOG_ERROR, "INLET_SMTP_URL must be smtp:// or smtps:// with a host, INLET_SMTP_FROM "
				   "an address, and INLET_SMTP_USER and INLET_SMTP_PASSWORD both set or both unset");
		free(c);
		return rc;
	}
	a->smtp = c;
	return 0;
}

/* ---- several nodes: what goes through Redis ---------------------------------
 * "<prefix>:live"       "<account id>\n<endpoint pid>\n<type>\n<json>" per event
 * "<prefix>:endpoints"  "<endpoint id>" per change of an endpoint's settings
 * "<prefix>:sessions"   "s:<session id>" or "u:<user id>" per session ended
 * Ids are the rows' own: the nodes share one tenant store (PostgreSQL). */

#define WIRE_MAX (24 + 48 + LIVE_TYPE_MAX + LIVE_DATA_MAX)

static void forward_live(void *arg, int64_t account_id, const char *endpoint_pid, const char *type,
			 const char *json)
{
	struct app *a = arg;
	char wire[WIRE_MAX];
	int n = snprintf(wire, sizeof(wire), "%lld\n%s\n%s\n%s", (long long)account_id, endpoint_pid, type, json);

	if (a->redis && n > 0 && (size_t)n < sizeof(wire))
		(void)rds_publish(a->redis, "live", wire, (size_t)n); /* a drop is counted there */
}

/* Splits s at its next '\n' (replaced by NUL); NULL when there is none. */
static char *field_end(char *s)
{
	char *nl = strchr(s, '\n');

	if (nl)
		*nl = '\0';
	return nl ? nl + 1 : NULL;
}

/* Another node's event, onto this node's bus under this node's next id.
 * Another node runs this build too, but what Redis carries is checked as
 * any input is: live_inject refuses what exceeds its caps. */
static void on_live(void *arg, const char *msg, size_t len)
{
	struct app *a = arg;
	char wire[WIRE_MAX], *endpoint, *type, *json, *end;
	long long account;

	if (len >= sizeof(wire) || memchr(msg, '\0', len))
		return;
	memcpy(wire, msg, len + 1);
	if (!(endpoint = field_end(wire)) || !(type = field_end(endpoint)) || !(json = field_end(type)))
		return;
	errno = 0;
	account = strtoll(wire, &end, 10);
	if (errno || end == wire || *end || account <= 0)
		return;
	(void)live_inject(a->live, account, endpoint, type, json);
}

static void forward_invalidation(void *arg, int64_t endpoint_id)
{
	struct app *a = arg;
	char wire[24];
	int n = snprintf(wire, sizeof(wire), "%lld", (long long)endpoint_id);

	if (a->redis)
		(void)rds_publish(a->redis, "endpoints", wire, (size_t)n);
}

static void on_invalidation(void *arg, const char *msg, size_t len)
{
	struct app *a = arg;
	long long id;
	char *end;

	(void)len;
	errno = 0;
	id = strtoll(msg, &end, 10);
	if (!errno && end != msg && !*end)
		ep_cache_forget(a->endpoints, id);
}

static void forward_session_end(void *arg, const char *msg, size_t len)
{
	struct app *a = arg;

	if (a->redis)
		(void)rds_publish(a->redis, "sessions", msg, len);
}

static void on_session_end(void *arg, const char *msg, size_t len)
{
	struct app *a = arg;

	(void)sesscache_apply(a->sessions, msg, len);
}

/* The subscriber (re)joined: invalidations sent while it was away are
 * lost, so every cached endpoint and session is read again. */
static void on_resync(void *arg)
{
	struct app *a = arg;

	ep_cache_clear(a->endpoints);
	sesscache_clear(a->sessions);
}

static int open_redis(struct app *a)
{
	const struct config *cfg = &a->cfg;
	unsigned pool = cfg->redis_pool ? cfg->redis_pool : cfg->threads + 2;
	struct rds_config rc = { .url = cfg->redis_url, .prefix = cfg->redis_prefix,
				 .connect_ms = cfg->redis_connect_ms, .command_ms = cfg->redis_timeout_ms,
				 .pool = pool > RDS_POOL_MAX ? RDS_POOL_MAX : pool };
	uint8_t key[32];
	int err;

	if (!cfg->redis_url)
		return 0;
	if ((err = rds_create(&a->redis, &rc))) {
		/* Not the URL itself: it may hold a password. */
		log_msg(LOG_ERROR, "INLET_REDIS_URL must be redis://[[user]:password@]host[:port][/db] "
				   "(a password's reserved characters %%-encoded)");
		return err;
	}
	if ((err = rds_listen(a->redis, "live", on_live, a)) ||
	    (err = rds_listen(a->redis, "endpoints", on_invalidation, a)) ||
	    (err = rds_listen(a->redis, "sessions", on_session_end, a)))
		return err;
	rds_on_resync(a->redis, on_resync, a);
	/* The same on every node (one master key), so every node names a
	 * client's bucket alike. */
	vault_derive(a->vault, "ratelimit-names", key);
	ratelimit_share(a->rl, a->redis, key);
	secure_wipe(key, sizeof(key));
	live_on_publish(a->live, forward_live, a);
	ep_cache_on_invalidate(a->endpoints, forward_invalidation, a);
	sesscache_on_invalidate(a->sessions, forward_session_end, a);
	return rds_start(a->redis);
}

/* Sealed files go to the S3 bucket when INLET_S3_BUCKET names one, else to
 * DATA/blobs (which is then never created). */
static int open_blobs(struct app *a)
{
	const struct config *c = &a->cfg;
	char path[PATH_MAX + 16];
	int rc;

	if (c->s3_bucket[0]) {
		struct blob_s3_config sc = {
			.endpoint = c->s3_endpoint, .bucket = c->s3_bucket, .region = c->s3_region,
			.prefix = c->s3_prefix, .access_key = c->s3_access_key, .secret_key = c->s3_secret_key,
			.path_style = c->s3_path_style, .part_size = c->s3_part_size,
			.timeout_ms = (long)c->s3_timeout_ms,
		};

		if ((rc = blob_s3_open(&a->blobs, &sc)))
			return rc;
		log_msg(LOG_INFO, "blob store: S3 bucket %s at %s (%s URLs, prefix \"%s\")", c->s3_bucket,
			c->s3_endpoint, c->s3_path_style ? "path-style" : "virtual-hosted", c->s3_prefix);
		return 0;
	}
	snprintf(path, sizeof(path), "%s/blobs", c->data_dir);
	if ((rc = blob_fs_open(&a->blobs, path)))
		return rc;
	log_msg(LOG_INFO, "blob store: folder %s", path);
	return 0;
}

/* ---- the stores: SQLite files in the data folder, or one PostgreSQL -------
 * With INLET_DATABASE_URL every store lives in that database, a schema
 * each ("tenant", "jobs", "shared", "ep_<endpoint>"), and the data folder
 * keeps only the master key (and the blobs when they are not in S3): no
 * store may fall back to a file there, or two nodes would each see their
 * own. */

static void log_database(const struct config *cfg)
{
	char shown[512];

	config_redact_url(cfg->database_url, shown, sizeof(shown));
	log_msg(LOG_INFO, "database: PostgreSQL at %s", shown);
}

static int open_tenant(struct app *a)
{
	const struct config *cfg = &a->cfg;
	char path[PATH_MAX + 16];
	int rc;

	if (cfg->database_url) {
		log_database(cfg);
		if ((rc = tenant_open_target(&a->tenant, cfg->database_url, "tenant")))
			log_msg(LOG_ERROR, "cannot open the tenant store in INLET_DATABASE_URL: %s",
				inlet_strerror(rc));
		return rc;
	}
	snprintf(path, sizeof(path), "%s/tenant.db", cfg->data_dir);
	return tenant_open(&a->tenant, path);
}

int app_open_queue(const struct config *cfg, struct queue **out)
{
	char path[PATH_MAX + 16];
	int rc;

	if (cfg->database_url) {
		if ((rc = queue_open_target(out, cfg->database_url, "jobs")))
			log_msg(LOG_ERROR, "cannot open the job queue in INLET_DATABASE_URL: %s", inlet_strerror(rc));
		return rc;
	}
	snprintf(path, sizeof(path), "%s/jobs.db", cfg->data_dir);
	return queue_open(out, path);
}

static int open_submissions(struct app *a)
{
	const struct config *cfg = &a->cfg;
	struct shard_server servers[CONFIG_SHARD_SERVERS];
	/* Dedicated stores go where the shared one is: schemas "ep_<pid>" of
	 * INLET_DATABASE_URL (or of an INLET_SHARD_SERVERS server), else
	 * files DATA/submissions/ep-<pid>.db. */
	struct shards_config sc = { .threshold = (int64_t)cfg->shard_threshold, .batch = cfg->move_batch,
				    .pause_ms = (int)cfg->move_pause_ms, .db_url = cfg->database_url,
				    .servers = servers, .nservers = cfg->nshard_servers,
				    .move_to = cfg->shard_move_to };
	char path[PATH_MAX + 32];
	int rc;

	for (unsigned i = 0; i < cfg->nshard_servers; i++)
		servers[i] = (struct shard_server){ cfg->shard_servers[i].name, cfg->shard_servers[i].url };
	if (cfg->database_url) {
		if ((rc = substore_open_target(&a->shared, cfg->database_url, "shared", "shared"))) {
			log_msg(LOG_ERROR, "cannot open the submission store in INLET_DATABASE_URL: %s",
				inlet_strerror(rc));
			return rc;
		}
	} else {
		snprintf(path, sizeof(path), "%s/submissions", cfg->data_dir);
		if ((rc = ensure_dir(path)))
			return rc;
		snprintf(path, sizeof(path), "%s/submissions/shared.db", cfg->data_dir);
		if ((rc = substore_open(&a->shared, path, "shared")))
			return rc;
	}
	return shards_open(&a->shards, a->tenant, cfg->data_dir, a->shared, &sc);
}

int app_open(struct app **out, const struct config *cfg, int full)
{
	struct app *a = xcalloc(1, sizeof(*a));
	uint8_t idkey[32];
	int rc;

	a->cfg = *cfg;
	pthread_mutex_init(&a->salt_lock, NULL);
	a->salt_day = -1;
	sub_id_set_node(cfg->node_id);
	if ((rc = ensure_dir(cfg->data_dir)))
		goto out;
	if ((rc = vault_open(&a->vault, cfg->data_dir, cfg->master_key, cfg->key_cache))) {
		log_msg(LOG_ERROR, "cannot open the vault: %s", inlet_strerror(rc));
		goto out;
	}
	vault_derive(a->vault, "pubid", idkey);
	a->ids = pubid_create(idkey);
	vault_derive(a->vault, "project-id", idkey);
	a->project_mac = vault_mac_create(idkey, sizeof(idkey));
	vault_derive(a->vault, "csrf", idkey);
	a->csrf_mac = vault_mac_create(idkey, sizeof(idkey));
	secure_wipe(idkey, sizeof(idkey));
	if ((rc = open_tenant(a)))
		goto out;
	if (!full)
		goto out;
	if ((rc = open_submissions(a)))
		goto out;
	if ((rc = open_blobs(a)))
		goto out;
	a->endpoints = ep_cache_create(a->tenant, 10000, (int64_t)cfg->endpoint_cache_ttl_ms);
	a->sessions = sesscache_create(SESSCACHE_MAX, (int64_t)cfg->session_cache_ttl_ms);
	a->rl = ratelimit_create();
	if (cfg->clickhouse_url) {
		struct ch_config cc = { .url = cfg->clickhouse_url, .batch_rows = cfg->ch_batch_rows,
					.flush_ms = cfg->ch_flush_ms, .backlog_rows = cfg->ch_backlog_rows };

		if ((rc = ch_create(&cc, &a->ch))) {
			log_msg(LOG_ERROR, "INLET_CLICKHOUSE_URL must be http[s]://[user[:password]@]host[:port][/database]"
					   " (a database name of letters, digits and _)");
			goto out;
		}
	}
	a->tally = tally_create(a->shared, a->ch);
	a->dicts = evdicts_create(a);
	if ((rc = live_create(&a->live, cfg->live_ring, cfg->streams_per_account, cfg->stream_ping_ms)))
		goto out;
	if ((rc = app_open_queue(cfg, &a->queue)))
		goto out;
	a->webhook_allow = xcalloc(1, sizeof(*a->webhook_allow));
	if ((rc = webhook_allowlist_parse(getenv("INLET_WEBHOOK_ALLOW"), a->webhook_allow))) {
		log_msg(LOG_ERROR, "INLET_WEBHOOK_ALLOW must be a comma list of host names and CIDRs");
		goto out;
	}
	if ((rc = open_smtp(a)))
		goto out;
	if ((rc = open_redis(a)))
		goto out;
out:
	if (rc) {
		app_close(a);
		a = NULL;
	}
	*out = a;
	return rc;
}

void app_close(struct app *a)
{
	if (!a)
		return;
	/* The mover first (it drives the shared writer), then the shared
	 * store (its writer may forward queued ops into dedicated stores),
	 * then the dedicated stores. The counters go first, into the shared
	 * store (the server has drained: nothing adds to them any more). */
	shards_halt(a->shards); /* a move job stops at its next step... */
	runner_stop(a->runner); /* ...so the runner can stop: its jobs use everything below */
	evdicts_destroy(a->dicts);
	tally_destroy(a->tally);
	shards_stop(a->shards);
	substore_close(a->shared);
	shards_close(a->shards);
	/* After the writers (their completions publish), before the bus and
	 * the cache (its thread feeds them). */
	rds_destroy(a->redis);
	a->redis = NULL;
	ch_destroy(a->ch); /* after the counters and the writers: they feed it */
	live_destroy(a->live); /* after the writers: their completions publish */
	ep_cache_destroy(a->endpoints);
	sesscache_destroy(a->sessions);
	ratelimit_destroy(a->rl);
	blob_close(a->blobs);
	tenant_close(a->tenant);
	pubid_destroy(a->ids);
	vault_destroy(a->vault);
	vault_mac_destroy(a->ip_mac);
	vault_mac_destroy(a->project_mac);
	vault_mac_destroy(a->csrf_mac);
	queue_close(a->queue);
	free(a->webhook_allow);
	pthread_mutex_destroy(&a->salt_lock);
	smtp_config_free(a->smtp); /* last: mail workers may read it until they stop */
	free(a->smtp);
	free(a);
}

int app_start_jobs(struct app *a)
{
	return runner_start(a, a->queue, a->cfg.jobs_fast, a->cfg.jobs_slow, &a->runner);
}

struct substore *app_subs(struct app *a, int64_t endpoint_id)
{
	return a->shards ? shards_store(a->shards, endpoint_id) : a->shared;
}

/* HMAC under today's salt, which is replaced every day so that values
 * cannot be linked across days. */
static int salted_mac(struct app *a, const void *data, size_t len, uint8_t mac[32])
{
	int64_t day = now_ms() / 86400000;
	uint8_t salt[32];
	int rc = 0;

	pthread_mutex_lock(&a->salt_lock);
	if (a->salt_day != day) {
		rc = tenant_daily_salt(a->tenant, day, salt);
		if (!rc) {
			vault_mac_destroy(a->ip_mac);
			a->ip_mac = vault_mac_create(salt, sizeof(salt));
			a->salt_day = day;
		}
		secure_wipe(salt, sizeof(salt));
	}
	if (!rc)
		vault_mac_compute(a->ip_mac, data, len, mac);
	pthread_mutex_unlock(&a->salt_lock);
	return rc;
}

int app_ip_hash(struct app *a, const char *ip, char out[65])
{
	uint8_t mac[32];
	int rc = salted_mac(a, ip, strlen(ip), mac);

	if (!rc)
		hex_encode(out, mac, sizeof(mac));
	return rc;
}

int app_session_id(struct app *a, const char *origin, const char *ip, const char *ua, uint8_t out[16])
{
	/* "s" and NUL separators: no session id equals an IP hash, and
	 * moving bytes between the parts changes the id. */
	size_t lo = strlen(origin), li = strlen(ip), lu = strlen(ua), n = 0;
	char *buf = xmalloc(2 + lo + 1 + li + 1 + lu);
	uint8_t mac[32];
	int rc;

	buf[n++] = 's';
	buf[n++] = '\0';
	memcpy(buf + n, origin, lo);
	n += lo;
	buf[n++] = '\0';
	memcpy(buf + n, ip, li);
	n += li;
	buf[n++] = '\0';
	memcpy(buf + n, ua, lu);
	n += lu;
	rc = salted_mac(a, buf, n, mac);
	free(buf);
	if (!rc)
		memcpy(out, mac, 16);
	return rc;
}

void app_project_id(struct app *a, int64_t endpoint_id, char out[24])
{
	uint8_t in[8], mac[32];
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		in[i] = (uint8_t)((uint64_t)endpoint_id >> (56 - 8 * i));
	vault_mac_compute(a->project_mac, in, sizeof(in), mac);
	for (int i = 0; i < 8; i++)
		v = v << 8 | mac[i];
	/* Ten digits, never a leading zero: what a Sentry DSN takes. */
	snprintf(out, 24, "%llu", (unsigned long long)(1000000000ULL + v % 9000000000ULL));
}
