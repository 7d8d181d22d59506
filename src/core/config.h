/* Every setting and every cap in one struct. Precedence: command-line flags
 * over INLET_* environment over the defaults below. */
#ifndef INLET_CORE_CONFIG_H
#define INLET_CORE_CONFIG_H

#include <limits.h>
#include <stddef.h>

#define CONFIG_SHARD_SERVERS 8

struct config {
	char listen_host[64];     /* INLET_LISTEN host part; default 127.0.0.1 */
	unsigned listen_port;     /* INLET_LISTEN port part; default 8080 */
	char data_dir[PATH_MAX];  /* INLET_DATA_DIR; default ./data */
	char public_url[256];     /* INLET_PUBLIC_URL; default http://<listen> */
	int public_url_given;     /* 1: INLET_PUBLIC_URL was set, so links that a browser
				   * follows use it rather than the request's Host */
	const char *master_key;   /* INLET_MASTER_KEY (base64 of 32 bytes) or NULL */
	unsigned threads;         /* INLET_THREADS; HTTP worker pool, default max(2, cores) */
	unsigned max_connections; /* INLET_MAX_CONNECTIONS; default 4096 */
	unsigned max_per_ip;      /* INLET_MAX_CONNECTIONS_PER_IP; default 0 = off */
	unsigned timeout_s;       /* INLET_CONNECTION_TIMEOUT; idle seconds, default 30 */
	int trust_proxy;          /* INLET_TRUST_PROXY=N: N proxies of ours in front; the client IP is the
				   * address N entries from the right of X-Forwarded-For */
	unsigned node_id;         /* INLET_NODE_ID 0..255, goes into submission ids */
	int node_id_given;        /* 1: INLET_NODE_ID was set, so a job lease taken under this
				   * node id is this node's own (a shared queue releases only those) */
	const char *database_url; /* INLET_DATABASE_URL, postgres[ql]://...: every store in that
				   * PostgreSQL database (one schema each) instead of SQLite files
				   * in the data folder; NULL: SQLite. May hold a password: log it
				   * only through config_redact_url */
	size_t key_cache;         /* INLET_KEY_CACHE; unwrapped data keys kept, default 1024 */
	size_t shard_threshold;   /* INLET_SHARD_THRESHOLD; an endpoint past this many submissions
				   * moves to a database of its own; 0 = never. Default 10,000 */
	size_t move_batch;        /* INLET_MOVE_BATCH; rows per copy step of a move, default 2,000 */
	size_t move_pause_ms;     /* INLET_MOVE_PAUSE_MS; pause between copy steps, to leave
				   * room for live ingest on a busy disk; default 0 */
	/* PostgreSQL. */
	struct config_server {
		char name[32];    /* [a-z0-9_]{1,31} */
		char url[512];    /* postgres://... */
	} shard_servers[CONFIG_SHARD_SERVERS]; /* INLET_SHARD_SERVERS="name=postgres://...;name2=..."
				   * other servers dedicated stores may live on */
	unsigned nshard_servers;
	const char *pg_dump;      /* INLET_PG_DUMP; the pg_dump `inlet backup` runs, NULL: found on PATH
				   * or in /usr/lib/postgresql/<newest>/bin */
	char shard_move_to[32];   /* INLET_SHARD_MOVE_TO; the server new moves go to: "" (main) or a name
				   * of shard_servers */
	unsigned jobs_fast;       /* INLET_JOBS_FAST; worker threads of the fast lane, default 2 */
	unsigned jobs_slow;       /* INLET_JOBS_SLOW; worker threads of the slow lane, default 1 */
	size_t webhook_timeout_ms; /* INLET_WEBHOOK_TIMEOUT_MS; one delivery attempt, default 10 s */
	size_t retention_every_ms; /* INLET_RETENTION_EVERY_MS; how often clean-up runs, default 1 h */
	/* Live updates (GET /api/v1/stream, app/live.h). */
	size_t live_ring;         /* INLET_LIVE_RING; recent events kept for resuming streams, 4096 */
	unsigned streams_per_account; /* INLET_STREAMS_PER_ACCOUNT; open streams, 64 (more: 429) */
	unsigned stream_ping_ms;  /* INLET_STREAM_PING_MS; a quiet stream's keep-alive, 15 s */
	size_t endpoint_cache_ttl_ms; /* INLET_ENDPOINT_CACHE_TTL_MS; how long a node trusts its copy of
				   * an endpoint's settings when nobody announced a change, 5 s */
	size_t session_cache_ttl_ms; /* INLET_SESSION_CACHE_TTL_MS; how long a node trusts its copy of a
				  * cookie session when nobody announced its end, 5 s; 0: no cache */
	/* Several nodes (app/redis.h). */
	const char *redis_url;    /* INLET_REDIS_URL, redis://[[user]:password@]host[:port][/db];
				   * NULL: one node, everything in process memory */
	char redis_prefix[64];    /* INLET_REDIS_PREFIX; keys and channels, default "inlet" */
	unsigned redis_connect_ms; /* INLET_REDIS_CONNECT_TIMEOUT_MS; one attempt, default 50 */
	unsigned redis_timeout_ms; /* INLET_REDIS_TIMEOUT_MS; one command, default 100 */
	unsigned redis_pool;      /* INLET_REDIS_POOL; connections for requests, default threads + 2 */
	/* ClickHouse for analytics (app/clickhouse.h); off when the URL is unset. */
	const char *clickhouse_url; /* INLET_CLICKHOUSE_URL, http[s]://user:pass@host:port/db, or NULL */
	size_t ch_batch_rows;     /* INLET_CLICKHOUSE_BATCH; rows per insert, 10,000 */
	size_t ch_flush_ms;       /* INLET_CLICKHOUSE_FLUSH_MS; longest wait of a queued row, 1 s */
	size_t ch_backlog_rows;   /* INLET_CLICKHOUSE_BACKLOG; rows held while it is away, 100,000 */
	/* Caps on what one request may bring. */
	size_t form_body_max;     /* INLET_FORM_BODY_MAX; a post without files, 64 KiB */
	size_t upload_body_max;   /* INLET_UPLOAD_BODY_MAX; a multipart post, 25 MiB */
	size_t api_body_max;      /* management API bodies, 1 MiB */
	size_t max_fields;        /* INLET_MAX_FIELDS; pairs per post, 500 */
	size_t max_name_len;      /* field name bytes, 256 */
	size_t max_value_len;     /* INLET_MAX_FIELD_LENGTH; one value's bytes, 64 KiB */
	size_t max_parts_header;  /* one multipart part's header bytes, 8 KiB */
	/* The blob store: DATA/blobs, unless s3_bucket is set (blob/s3.h). */
	char s3_endpoint[512];    /* INLET_S3_ENDPOINT; http(s)://host[:port] */
	char s3_bucket[64];       /* INLET_S3_BUCKET; set: sealed files go to this bucket */
	char s3_region[64];       /* INLET_S3_REGION; default us-east-1 ("auto" for R2) */
	char s3_prefix[256];      /* INLET_S3_PREFIX; "" or ending in '/' (added when missing) */
	const char *s3_access_key; /* INLET_S3_ACCESS_KEY, pointing into the environment */
	const char *s3_secret_key; /* INLET_S3_SECRET_KEY, pointing into the environment */
	int s3_path_style;        /* INLET_S3_PATH_STYLE=1: endpoint/bucket/key, else bucket.host/key */
	size_t s3_part_size;      /* INLET_S3_PART_SIZE; what one upload holds in memory, 8 MiB */
	size_t s3_timeout_ms;     /* INLET_S3_TIMEOUT_MS; connect limit and longest stall, 30 s */
};

void config_defaults(struct config *c);
/* Applies INLET_* variables; on a bad value writes a message into err and
 * returns INLET_EINVAL. */
int config_from_env(struct config *c, char *err, size_t errsize);
/* Parses "HOST:PORT" (IPv6 as [::1]:8080) into the config. */
int config_set_listen(struct config *c, const char *hostport);
/* Fills public_url from listen when unset, using the bound port. */
void config_finish(struct config *c, unsigned bound_port);
/* url with the password of its userinfo (user:PASSWORD@) and any password=
 * query parameter replaced by ***, into out (cut to size, NUL-terminated):
 * what a log line may show of INLET_DATABASE_URL. */
void config_redact_url(const char *url, char *out, size_t size);

#endif
