#include "ingest/ratelimit.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/redis.h"
#include "core/alloc.h"
#include "core/enc.h"
#include "core/metrics.h"
#include "vault/vault.h"

#define SHARDS 16
#define SLOTS 4096 /* per shard */
#define PROBE 8

struct bucket {
	uint64_t key;   /* hash of (endpoint, client); 0 = empty */
	double tokens;
	int64_t last_ms;
};

struct shard {
	pthread_mutex_t lock;
	struct bucket slots[SLOTS];
};

struct ratelimit {
	struct shard shards[SHARDS];
	struct rds *shared;         /* NULL: local only. Set once, before any take */
	struct vault_mac *name_mac; /* names a client in Redis keys; with shared */
};

struct ratelimit *ratelimit_create(void)
{
	struct ratelimit *rl = xcalloc(1, sizeof(*rl));

	for (int i = 0; i < SHARDS; i++)
		pthread_mutex_init(&rl->shards[i].lock, NULL);
	return rl;
}

void ratelimit_destroy(struct ratelimit *rl)
{
	if (!rl)
		return;
	for (int i = 0; i < SHARDS; i++)
		pthread_mutex_destroy(&rl->shards[i].lock);
	vault_mac_destroy(rl->name_mac);
	free(rl);
}

void ratelimit_share(struct ratelimit *rl, struct rds *r, const uint8_t name_key[32])
{
	rl->shared = r;
	rl->name_mac = vault_mac_create(name_key, 32);
}

/* The bucket's name in Redis: "<endpoint>:<128 bits of HMAC of the client>",
 * so Redis holds no client address. */
static void shared_name(const struct ratelimit *rl, int64_t endpoint_id, const char *client, char out[64])
{
	uint8_t mac[32];
	char hex[33];

	vault_mac_compute(rl->name_mac, client, strlen(client), mac);
	hex_encode(hex, mac, 16);
	snprintf(out, 64, "%lld:%s", (long long)endpoint_id, hex);
}

static uint64_t mix(int64_t endpoint_id, const char *client)
{
	uint64_t h = 1469598103934665603ull ^ (uint64_t)endpoint_id * 0x9e3779b97f4a7c15ull;

	while (*client)
		h = (h ^ (unsigned char)*client++) * 1099511628211ull;
	return h ? h : 1;
}

unsigned ratelimit_take(struct ratelimit *rl, int64_t endpoint_id, const char *client,
			unsigned per_minute, unsigned burst, int64_t now)
{
	uint64_t key = mix(endpoint_id, client);
	struct shard *sh = &rl->shards[key % SHARDS];
	struct bucket *b = NULL, *oldest = NULL;
	double rate = per_minute / 60000.0; /* tokens per ms */
	unsigned wait = 0;
	size_t start = (size_t)(key / SHARDS) % SLOTS;

	if (per_minute == 0)
		return 0;
	if (rl->shared) {
		char name[64];

		shared_name(rl, endpoint_id, client, name);
		if (rds_bucket_take(rl->shared, name, per_minute, burst, &wait) == 0)
			return wait;
		metrics_redis(METRICS_REDIS_FALLBACK);
		wait = 0;
	}
	pthread_mutex_lock(&sh->lock);
	for (size_t i = 0; i < PROBE; i++) {
		struct bucket *s = &sh->slots[(start + i) % SLOTS];

		if (s->key == key) {
			b = s;
			break;
		}
		if (!oldest || s->key == 0 || (oldest->key != 0 && s->last_ms < oldest->last_ms))
			oldest = s;
	}
	if (!b) {
		b = oldest;
		b->key = key;
		b->tokens = burst;
		b->last_ms = now;
	}
	if (now > b->last_ms) {
		b->tokens += (double)(now - b->last_ms) * rate;
		if (b->tokens > burst)
			b->tokens = burst;
		b->last_ms = now;
	}
	if (b->tokens >= 1.0) {
		b->tokens -= 1.0;
	} else {
		wait = (unsigned)ceil((1.0 - b->tokens) / rate / 1000.0);
		if (wait < 1)
			wait = 1;
	}
	pthread_mutex_unlock(&sh->lock);
	return wait;
}
