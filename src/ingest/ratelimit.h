/* Token buckets per (endpoint, client) in bounded memory: a fixed table per
 * shard, so a flood of distinct clients evicts old buckets instead of
 * growing without end. An evicted client starts with a full bucket, which
 * errs on the side of letting posts through. */
#ifndef INLET_INGEST_RATELIMIT_H
#define INLET_INGEST_RATELIMIT_H

#include <stdint.h>

struct ratelimit;
struct rds;

struct ratelimit *ratelimit_create(void);
void ratelimit_destroy(struct ratelimit *rl);
/* From now on the buckets live in Redis (app/redis.h), shared by every node
 * that uses the same Redis, and the table here only answers when Redis
 * does not (down, or slower than its command timeout). Redis keys name a
 * client by an HMAC under name_key (32 bytes, the same on every node, from
 * the master key), never by its address. r must outlive rl's use; call
 * before the first take. */
void ratelimit_share(struct ratelimit *rl, struct rds *r, const uint8_t name_key[32]);
/* Takes one token for (endpoint_id, client). Returns 0 if allowed, else
 * the seconds to wait (>= 1) before a token is available. Never fails:
 * without an answer from Redis the local bucket decides. */
unsigned ratelimit_take(struct ratelimit *rl, int64_t endpoint_id, const char *client,
			unsigned per_minute, unsigned burst, int64_t now_ms);

#endif
