/* Process-wide counters for GET /metrics (Prometheus text format). Lock-free
 * atomics: any thread may bump them. Routes are counted by their index in
 * the route table, statuses by a fixed list (others count as "other"). */
#ifndef INLET_CORE_METRICS_H
#define INLET_CORE_METRICS_H

#include <stddef.h>

struct buf;
struct route;

void metrics_init(const struct route *routes);
void metrics_http(int route_index, int status);
void metrics_conn(int delta);
/* outcome: "accepted" or a refusal reason such as "RATE_LIMITED". */
void metrics_ingest(const char *outcome);
void metrics_batch(size_t rows, double commit_ms);
/* Redis (app/redis.c) trouble, each counted once where it happens. */
enum metrics_redis {
	METRICS_REDIS_ERROR,    /* a connection or a command failed */
	METRICS_REDIS_FALLBACK, /* a rate-limit take decided locally instead */
	METRICS_REDIS_DROPPED,  /* a message for the other nodes was not sent */
};
void metrics_redis(enum metrics_redis what);
/* Appends the whole exposition; vault figures are passed in by the caller. */
int metrics_render(struct buf *out, unsigned long long cache_hits,
		   unsigned long long cache_misses, size_t cache_entries);

#endif
