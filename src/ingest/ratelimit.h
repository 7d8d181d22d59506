/* Token buckets per (endpoint, client) in bounded memory: a fixed table per
 * shard, so a flood of distinct clients evicts old buckets instead of
 * growing without end. An evicted client starts with a full bucket, which
 * errs on the side of letting posts through. */
#ifndef INLET_INGEST_RATELIMIT_H
#define INLET_INGEST_RATELIMIT_H

#include <stdint.h>

struct ratelimit;

struct ratelimit *ratelimit_create(void);
void ratelimit_destroy(struct ratelimit *rl);
/* Takes one token for (endpoint_id, client). Returns 0 if allowed, else
 * the seconds to wait (>= 1) before a token is available. */
unsigned ratelimit_take(struct ratelimit *rl, int64_t endpoint_id, const char *client,
			unsigned per_minute, unsigned burst, int64_t now_ms);

#endif
