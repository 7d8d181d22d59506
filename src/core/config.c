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
	if ((v = getenv("INLET_CLICKHOUSE_URL")) && *v)
		c->clickhouse_url = v;
	rc = rc ? rc : env_uint("INLET_THREADS", &c->threads, 2, 256, err, errsize);
	rc = rc ? rc : env_uint("INLET_MAX_CONNECTIONS", &c->max_connections, 16, 1000000, err, errsize);
	rc = rc ? rc : env_uint("INLET_MAX_CONNECTIONS_PER_IP", &c->max_per_ip, 0, 1000000, err, errsize);
	rc = rc ? rc : env_uint("INLET_CONNECTION_TIMEOUT", &c->timeout_s, 1, 3600, err, errsize);
	rc = rc ? rc : env_uint("INLET_NODE_ID", &c->node_id, 0, 255, err, errsize);
	rc = rc ? rc : env_size("INLET_TRUST_PROXY", &trust, 0, 1, err, errsize);
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
	rc = rc ? rc : env_size("INLET_CLICKHOUSE_BATCH", &c->ch_batch_rows, 1, 1000000, err, errsize);
	rc = rc ? rc : env_size("INLET_CLICKHOUSE_FLUSH_MS", &c->ch_flush_ms, 10, 60000, err, errsize);
	rc = rc ? rc : env_size("INLET_CLICKHOUSE_BACKLOG", &c->ch_backlog_rows, 1, 10000000, err, errsize);
	rc = rc ? rc : env_size("INLET_FORM_BODY_MAX", &c->form_body_max, 1024, 64u << 20, err, errsize);
	rc = rc ? rc : env_size("INLET_UPLOAD_BODY_MAX", &c->upload_body_max, 1024, 1u << 30, err, errsize);
	rc = rc ? rc : env_size("INLET_MAX_FIELDS", &c->max_fields, 1, 100000, err, errsize);
	rc = rc ? rc : env_size("INLET_MAX_FIELD_LENGTH", &c->max_value_len, 16, 16u << 20, err, errsize);
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
