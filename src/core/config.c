#include "core/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"

void config_defaults(struct config *c)
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);

	memset(c, 0, sizeof(*c));
	snprintf(c->listen_host, sizeof(c->listen_host), "127.0.0.1");
	c->listen_port = 8080;
	snprintf(c->data_dir, sizeof(c->data_dir), "./data");
	c->threads = cores > 2 ? (unsigned)cores : 2;
	c->max_connections = 4096;
	c->max_per_ip = 0;
	c->timeout_s = 30;
	c->key_cache = 1024;
	c->shard_threshold = 10000;
	c->move_batch = 2000;
	c->jobs_fast = 2;
	c->jobs_slow = 1;
	c->webhook_timeout_ms = 10000;
	c->retention_every_ms = 3600000;
	c->live_ring = 4096;
	c->streams_per_account = 64;
	c->stream_ping_ms = 15000;
	c->endpoint_cache_ttl_ms = 5000;
	c->session_cache_ttl_ms = 5000;
	snprintf(c->redis_prefix, sizeof(c->redis_prefix), "inlet");
	c->redis_connect_ms = 50;
	c->redis_timeout_ms = 100;
	c->ch_batch_rows = 10000;
	c->ch_flush_ms = 1000;
	c->ch_backlog_rows = 100000;
	c->form_body_max = 64 * 1024;
	c->upload_body_max = 25 * 1024 * 1024;
	c->api_body_max = 1024 * 1024;
	c->max_fields = 500;
	c->max_name_len = 256;
	c->max_value_len = 64 * 1024;
	c->max_parts_header = 8 * 1024;
	snprintf(c->s3_region, sizeof(c->s3_region), "us-east-1");
	c->s3_part_size = 8u << 20;
	c->s3_timeout_ms = 30000;
}

int config_set_listen(struct config *c, const char *hostport)
{
	const char *colon, *host = hostport;
	size_t hlen;
	char *end;
	unsigned long port;

	if (hostport[0] == '[') {
		const char *close = strchr(hostport, ']');

		if (!close || close[1] != ':')
			return INLET_EINVAL;
		host = hostport + 1;
		hlen = (size_t)(close - host);
		colon = close + 1;
	} else {
		colon = strrchr(hostport, ':');
		if (!colon)
			return INLET_EINVAL;
		hlen = (size_t)(colon - hostport);
	}
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (errno || *end || colon[1] == '\0' || port > 65535 || hlen == 0 ||
	    hlen >= sizeof(c->listen_host))
		return INLET_EINVAL;
	memcpy(c->listen_host, host, hlen);
	c->listen_host[hlen] = '\0';
	c->listen_port = (unsigned)port;
	return 0;
}

static int env_size(const char *name, size_t *out, size_t min, size_t max, char *err, size_t errsize)
{
	const char *v = getenv(name);
	unsigned long long n;
	char *end;

	if (!v || !*v)
		return 0;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno || *end || n < min || n > max) {
		snprintf(err, errsize, "%s must be a whole number from %zu to %zu", name, min, max);
		return INLET_EINVAL;
	}
	*out = (size_t)n;
	return 0;
}

static int env_uint(const char *name, unsigned *out, unsigned min, unsigned max, char *err, size_t errsize)
{
	size_t v = *out;
	int rc = env_size(name, &v, min, max, err, errsize);

	*out = (unsigned)v;
	return rc;
}

/* Copies variable name into out when set; INLET_EINVAL when it does not fit. */
static int env_str(const char *name, char *out, size_t size, char *err, size_t errsize)
{
	const char *v = getenv(name);

	if (!v || !*v)
		return 0;
	if (strlen(v) >= size) {
		snprintf(err, errsize, "%s is longer than %zu bytes", name, size - 1);
		return INLET_EINVAL;
	}
	memcpy(out, v, strlen(v) + 1);
	return 0;
}

static int server_name_ok(const char *s, size_t n)
{
	return n > 0 && n < sizeof(((struct config_server *)0)->name) &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") >= n;
}

/* INLET_SHARD_SERVERS="name=postgres://...;name2=postgres://..." and
 * INLET_SHARD_MOVE_TO=name. The URLs stay in memory only: the shard map
 * stores "<name>:<schema>". */
static int shard_servers_from_env(struct config *c, char *err, size_t errsize)
{
	const char *v = getenv("INLET_SHARD_SERVERS"), *p;
	int rc;

	for (p = v && *v ? v : ""; *p;) {
		size_t len = strcspn(p, ";"), nlen = strcspn(p, "=");
		struct config_server *sv;

		if (len == 0) {
			p++;
			continue;
		}
		if (nlen >= len || !server_name_ok(p, nlen) || (nlen == 4 && strncmp(p, "main", 4) == 0)) {
			snprintf(err, errsize, "INLET_SHARD_SERVERS must be name=postgres://...;... with names of"
					       " 1 to 31 of [a-z0-9_] (not \"main\")");
			return INLET_EINVAL;
		}
		if (c->nshard_servers == CONFIG_SHARD_SERVERS) {
			snprintf(err, errsize, "INLET_SHARD_SERVERS names more than %d servers", CONFIG_SHARD_SERVERS);
			return INLET_EINVAL;
		}
		sv = &c->shard_servers[c->nshard_servers];
		if (len - nlen - 1 >= sizeof(sv->url) ||
		    (strncmp(p + nlen + 1, "postgres://", 11) != 0 && strncmp(p + nlen + 1, "postgresql://", 13) != 0)) {
			snprintf(err, errsize, "INLET_SHARD_SERVERS: the server %.*s needs a postgres:// URL"
					       " (of at most %zu bytes)", (int)nlen, p, sizeof(sv->url) - 1);
			return INLET_EINVAL;
		}
		for (unsigned i = 0; i < c->nshard_servers; i++) {
			if (strlen(c->shard_servers[i].name) == nlen && strncmp(c->shard_servers[i].name, p, nlen) == 0) {
				snprintf(err, errsize, "INLET_SHARD_SERVERS names %.*s twice", (int)nlen, p);
				return INLET_EINVAL;
			}
		}
		memcpy(sv->name, p, nlen);
		sv->name[nlen] = '\0';
		memcpy(sv->url, p + nlen + 1, len - nlen - 1);
		sv->url[len - nlen - 1] = '\0';
		c->nshard_servers++;
		p += len;
	}
	if ((rc = env_str("INLET_SHARD_MOVE_TO", c->shard_move_to, sizeof(c->shard_move_to), err, errsize)))
		return rc;
	if (c->shard_move_to[0] && strcmp(c->shard_move_to, "main") != 0) {
		unsigned i;

		for (i = 0; i < c->nshard_servers; i++)
			if (strcmp(c->shard_servers[i].name, c->shard_move_to) == 0)
				break;
		if (i == c->nshard_servers) {
			snprintf(err, errsize, "INLET_SHARD_MOVE_TO names %s, which INLET_SHARD_SERVERS does not",
				 c->shard_move_to);
			return INLET_EINVAL;
		}
	}
	return 0;
}

/* INLET_S3_*: only whether what must go together is there; blob_s3_open
 * checks the values themselves. */
static int s3_from_env(struct config *c, char *err, size_t errsize)
{
	size_t path_style = 0, n;
	int rc = 0;

	rc = rc ? rc : env_str("INLET_S3_BUCKET", c->s3_bucket, sizeof(c->s3_bucket), err, errsize);
	rc = rc ? rc : env_str("INLET_S3_ENDPOINT", c->s3_endpoint, sizeof(c->s3_endpoint), err, errsize);
	rc = rc ? rc : env_str("INLET_S3_REGION", c->s3_region, sizeof(c->s3_region), err, errsize);
	/* One byte kept for the '/' added below. */
	rc = rc ? rc : env_str("INLET_S3_PREFIX", c->s3_prefix, sizeof(c->s3_prefix) - 1, err, errsize);
	rc = rc ? rc : env_size("INLET_S3_PATH_STYLE", &path_style, 0, 1, err, errsize);
	rc = rc ? rc : env_size("INLET_S3_PART_SIZE", &c->s3_part_size, 5u << 20, 1u << 30, err, errsize);
	rc = rc ? rc : env_size("INLET_S3_TIMEOUT_MS", &c->s3_timeout_ms, 100, 600000, err, errsize);
	if (rc)
		return rc;
	c->s3_path_style = (int)path_style;
	c->s3_access_key = getenv("INLET_S3_ACCESS_KEY");
	c->s3_secret_key = getenv("INLET_S3_SECRET_KEY");
	n = strlen(c->s3_prefix);
	if (n && c->s3_prefix[n - 1] != '/') {
		c->s3_prefix[n] = '/';
		c->s3_prefix[n + 1] = '\0';
	}
	if (!c->s3_bucket[0])
		return 0;
	if (!c->s3_endpoint[0] || !c->s3_access_key || !*c->s3_access_key || !c->s3_secret_key ||
	    !*c->s3_secret_key) {
		snprintf(err, errsize, "INLET_S3_BUCKET needs INLET_S3_ENDPOINT, INLET_S3_ACCESS_KEY and "
				       "INLET_S3_SECRET_KEY");
		return INLET_EINVAL;
	}
	return 0;
}

int config_from_env(struct config *c, char *err, size_t errsize)
{
	const char *v;
	size_t trust = 0;
	int rc = 0;

	if ((v = getenv("INLET_LISTEN")) && *v && config_set_listen(c, v)) {
		snprintf(err, errsize, "INLET_LISTEN must be HOST:PORT");
		return INLET_EINVAL;
	}
	if ((v = getenv("INLET_DATA_DIR")) && *v)
		snprintf(c->data_dir, sizeof(c->data_dir), "%s", v);
	if ((v = getenv("INLET_PUBLIC_URL")) && *v) {
		snprintf(c->public_url, sizeof(c->public_url), "%s", v);
		size_t n = strlen(c->public_url);

		if (n && c->public_url[n - 1] == '/')
			c->public_url[n - 1] = '\0';
		c->public_url_given = 1;
	}
	if ((v = getenv("INLET_MASTER_KEY")) && *v)
		c->master_key = v;
	/* Read as it is (it may hold a password); app/redis.c checks its form. */
	if ((v = getenv("INLET_REDIS_URL")) && *v)
		c->redis_url = v;
	if ((v = getenv("INLET_REDIS_PREFIX")) && *v) {
		size_t n = strlen(v);

		if (n >= sizeof(c->redis_prefix) || strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
							   "0123456789_-.:{}") != n) {
			snprintf(err, errsize, "INLET_REDIS_PREFIX must be 1 to 63 letters, digits and _-.:{}");
			return INLET_EINVAL;
		}
		memcpy(c->redis_prefix, v, n + 1);
	}
	if ((v = getenv("INLET_PG_DUMP")) && *v)
		c->pg_dump = v;
	if ((v = getenv("INLET_CLICKHOUSE_URL")) && *v)
		c->clickhouse_url = v;
	/* Only the scheme is checked here; libpq judges the rest when the
	 * stores connect. Never echoed: it may hold a password. */
	if ((v = getenv("INLET_DATABASE_URL")) && *v) {
		if (strncmp(v, "postgres://", 11) && strncmp(v, "postgresql://", 13)) {
			snprintf(err, errsize, "INLET_DATABASE_URL must be a postgres:// or postgresql:// URL "
					       "(unset: SQLite files in the data folder)");
			return INLET_EINVAL;
		}
		c->database_url = v;
	}
	c->node_id_given = (v = getenv("INLET_NODE_ID")) && *v;
	rc = rc ? rc : env_uint("INLET_THREADS", &c->threads, 2, 256, err, errsize);
	rc = rc ? rc : env_uint("INLET_MAX_CONNECTIONS", &c->max_connections, 16, 1000000, err, errsize);
	rc = rc ? rc : env_uint("INLET_MAX_CONNECTIONS_PER_IP", &c->max_per_ip, 0, 1000000, err, errsize);
	rc = rc ? rc : env_uint("INLET_CONNECTION_TIMEOUT", &c->timeout_s, 1, 3600, err, errsize);
	rc = rc ? rc : env_uint("INLET_NODE_ID", &c->node_id, 0, 255, err, errsize);
	rc = rc ? rc : env_size("INLET_TRUST_PROXY", &trust, 0, 8, err, errsize);
	rc = rc ? rc : env_size("INLET_KEY_CACHE", &c->key_cache, 1, 1000000, err, errsize);
	rc = rc ? rc : env_size("INLET_SHARD_THRESHOLD", &c->shard_threshold, 0, (size_t)1 << 40, err, errsize);
	rc = rc ? rc : env_size("INLET_MOVE_BATCH", &c->move_batch, 1, 1000000, err, errsize);
	rc = rc ? rc : env_size("INLET_MOVE_PAUSE_MS", &c->move_pause_ms, 0, 60000, err, errsize);
	rc = rc ? rc : env_uint("INLET_JOBS_FAST", &c->jobs_fast, 1, 8, err, errsize);
	rc = rc ? rc : env_uint("INLET_JOBS_SLOW", &c->jobs_slow, 1, 8, err, errsize);
	rc = rc ? rc : env_size("INLET_WEBHOOK_TIMEOUT_MS", &c->webhook_timeout_ms, 100, 60000, err, errsize);
	rc = rc ? rc : env_size("INLET_RETENTION_EVERY_MS", &c->retention_every_ms, 100, 7 * 86400000UL, err, errsize);
	rc = rc ? rc : env_size("INLET_LIVE_RING", &c->live_ring, 16, 1000000, err, errsize);
	rc = rc ? rc : env_uint("INLET_STREAMS_PER_ACCOUNT", &c->streams_per_account, 1, 100000, err, errsize);
	rc = rc ? rc : env_uint("INLET_STREAM_PING_MS", &c->stream_ping_ms, 100, 300000, err, errsize);
	rc = rc ? rc : env_size("INLET_ENDPOINT_CACHE_TTL_MS", &c->endpoint_cache_ttl_ms, 0, 3600000, err, errsize);
	rc = rc ? rc : env_size("INLET_SESSION_CACHE_TTL_MS", &c->session_cache_ttl_ms, 0, 3600000, err, errsize);
	rc = rc ? rc : env_uint("INLET_REDIS_CONNECT_TIMEOUT_MS", &c->redis_connect_ms, 1, 10000, err, errsize);
	rc = rc ? rc : env_uint("INLET_REDIS_TIMEOUT_MS", &c->redis_timeout_ms, 1, 10000, err, errsize);
	rc = rc ? rc : env_uint("INLET_REDIS_POOL", &c->redis_pool, 0, 64, err, errsize);
	rc = rc ? rc : env_size("INLET_CLICKHOUSE_BATCH", &c->ch_batch_rows, 1, 1000000, err, errsize);
	rc = rc ? rc : env_size("INLET_CLICKHOUSE_FLUSH_MS", &c->ch_flush_ms, 10, 60000, err, errsize);
	rc = rc ? rc : env_size("INLET_CLICKHOUSE_BACKLOG", &c->ch_backlog_rows, 1, 10000000, err, errsize);
	rc = rc ? rc : env_size("INLET_FORM_BODY_MAX", &c->form_body_max, 1024, 64u << 20, err, errsize);
	rc = rc ? rc : env_size("INLET_UPLOAD_BODY_MAX", &c->upload_body_max, 1024, 1u << 30, err, errsize);
	rc = rc ? rc : env_size("INLET_MAX_FIELDS", &c->max_fields, 1, 100000, err, errsize);
	rc = rc ? rc : env_size("INLET_MAX_FIELD_LENGTH", &c->max_value_len, 16, 16u << 20, err, errsize);
	rc = rc ? rc : s3_from_env(c, err, errsize);
	rc = rc ? rc : shard_servers_from_env(c, err, errsize);
	c->trust_proxy = (int)trust;
	return rc;
}

void config_finish(struct config *c, unsigned bound_port)
{
	if (c->public_url[0])
		return;
	if (strchr(c->listen_host, ':'))
		snprintf(c->public_url, sizeof(c->public_url), "http://[%s]:%u", c->listen_host, bound_port);
	else
		snprintf(c->public_url, sizeof(c->public_url), "http://%s:%u",
			 strcmp(c->listen_host, "0.0.0.0") == 0 ? "127.0.0.1" : c->listen_host, bound_port);
}

void config_redact_url(const char *url, char *out, size_t size)
{
	const char *auth = strstr(url, "://"), *at, *colon, *q;
	size_t n = 0;

	if (!size)
		return;
	out[0] = '\0';
	auth = auth ? auth + 3 : url;
	/* The userinfo ends at the last '@' before the path: a password may
	 * hold an unencoded '@' (libpq takes the last one too). */
	at = NULL;
	for (const char *p = auth; *p && *p != '/' && *p != '?'; p++)
		if (*p == '@')
			at = p;
	colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
	if (colon)
		n = (size_t)snprintf(out, size, "%.*s***%.*s", (int)(colon + 1 - url), url,
				     (int)strcspn(at, "?"), at);
	else
		n = (size_t)snprintf(out, size, "%.*s", (int)strcspn(url, "?"), url);
	if (n >= size)
		return;
	/* Query parameters: password=... hidden, the rest kept. */
	if ((q = strchr(auth, '?'))) {
		while (*q && n < size) {
			size_t len = strcspn(q + 1, "&");

			if (!strncmp(q + 1, "password=", 9))
				n += (size_t)snprintf(out + n, size - n, "%cpassword=***", *q);
			else
				n += (size_t)snprintf(out + n, size - n, "%c%.*s", *q, (int)len, q + 1);
			q += 1 + len;
		}
	}
}
