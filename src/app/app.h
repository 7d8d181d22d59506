/* The application: every long-lived object the handlers use, opened from
 * the config in dependency order and closed in reverse. Handlers reach it
 * through http_app(). Layout of the data folder:
 *   DATA/master.key              the master key (unless INLET_MASTER_KEY)
 *   DATA/tenant.db               accounts, users, keys, endpoints
 *   DATA/submissions/shared.db   sealed submissions of every endpoint
 *   DATA/jobs.db                 the job queue
 *   DATA/blobs/<endpoint>/...    sealed files (or, with INLET_S3_BUCKET,
 *                                objects <endpoint>/... in that bucket)
 * With INLET_DATABASE_URL no .db file is made: the stores are schemas of
 * that PostgreSQL database (tenant, jobs, shared, ep_<endpoint>). */
#ifndef INLET_APP_APP_H
#define INLET_APP_APP_H

#include <pthread.h>
#include <stdint.h>

#include "core/config.h"

struct vault;
struct tenant;
struct substore;
struct shards;
struct blob_store;
struct ep_cache;
struct ratelimit;
struct pubid;
struct vault_mac;
struct tally;
struct queue;
struct runner;
struct webhook_allowlist;
struct evdicts;
struct smtp_config;
struct live;
struct rds;
struct ch;

struct app {
	struct config cfg;
	struct vault *vault;
	struct tenant *tenant;
	struct substore *shared;  /* DATA/submissions/shared.db */
	struct shards *shards;    /* which store holds each endpoint; the mover */
	struct blob_store *blobs; /* DATA/blobs or an S3 bucket (blob/s3.h) */
	struct ep_cache *endpoints;
	struct sesscache *sessions; /* cookie sessions by token hash (app/sesscache.h); NULL
				     * without the full app: every lookup reads the store */
	struct ratelimit *rl;
	struct pubid *ids;
	struct tally *tally;      /* daily counters */
	struct ch *ch;            /* ClickHouse (INLET_CLICKHOUSE_URL), or NULL: analytics read
				   * the embedded rollups alone */
	struct queue *queue;      /* DATA/jobs.db, the durable job queue */
	struct runner *runner;    /* its workers and the outbox drainer (serve only) */
	struct webhook_allowlist *webhook_allow; /* INLET_WEBHOOK_ALLOW */
	pthread_mutex_t salt_lock;
	int64_t salt_day;         /* under salt_lock */
	struct vault_mac *ip_mac; /* keyed with salt_day's salt; under salt_lock */
	struct vault_mac *project_mac; /* derives Sentry project ids */
	struct vault_mac *csrf_mac;    /* derives sessions' CSRF tokens */
	struct evdicts *dicts;    /* zstd dictionaries of events endpoints */
	struct live *live;        /* the live bus: what changed, for GET /api/v1/stream
				   * (opened with the full app; NULL otherwise) */
	/* INLET_SMTP_*, read once when the server opens (a bad value stops
	 * the start); NULL: email is off (INLET_SMTP_URL unset). Read-only
	 * afterwards, shared by the mail workers. */
	struct smtp_config *smtp;
	/* INLET_REDIS_URL (app/redis.h): shared rate limits, the live bus and
	 * endpoint and session invalidations across nodes; NULL: one node (or the app of a
	 * CLI command that needs no server parts). */
	struct rds *redis;
};

/* Opens the data folder (creating it). full = 0 opens only what the CLI
 * needs (tenant store and vault). */
int app_open(struct app **out, const struct config *cfg, int full);
/* Opens the job queue the config names (DATA/jobs.db or the "jobs"
 * schema of INLET_DATABASE_URL), for the app and for `inlet jobs`. */
struct queue;
int app_open_queue(const struct config *cfg, struct queue **out);
/* Flushes writers and closes everything. Accepts NULL. */
void app_close(struct app *a);

/* Starts the job workers and the outbox drainer (the server does). */
int app_start_jobs(struct app *a);

/* The submission store that holds endpoint_id's submissions. */
struct substore *app_subs(struct app *a, int64_t endpoint_id);

/* Hex HMAC of the client IP under today's salt (out: 65 bytes). */
int app_ip_hash(struct app *a, const char *ip, char out[65]);
/* The Sentry project id of an endpoint (the DSN's last segment): ten
 * digits derived from its id under a key, so it reveals no count. */
void app_project_id(struct app *a, int64_t endpoint_id, char out[24]);
/* A visitor's session of the day: HMAC under today's salt of (origin, IP,
 * user agent), 16 bytes. No raw IP is kept anywhere. */
int app_session_id(struct app *a, const char *origin, const char *ip, const char *ua, uint8_t out[16]);

#endif
