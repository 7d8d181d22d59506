/* Endpoints by public key, for the ingest path: one lookup per post must
 * not cost a database query. Entries are immutable and refcounted; a
 * change through the API invalidates the endpoint here and, through the
 * notify hook (Redis, app/app.c), on every other node; entries also expire
 * after a short TTL so that changes nobody announced (the CLI, a lost
 * message) are seen. */
#ifndef INLET_ENDPOINT_CACHE_H
#define INLET_ENDPOINT_CACHE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "endpoint/settings.h"
#include "store/tenant.h"

struct ep_entry {
	atomic_int refs;
	int64_t id, account_id;
	char *pid, *key, *kind, *name, *location;
	uint32_t key_version;
	uint8_t wrapped[ENDPOINT_WRAPPED_MAX];
	size_t wrapped_len;
	struct settings settings;
	int jobs;              /* a submission causes jobs (webhooks, email): write the outbox */
	int64_t loaded_ms;
};

struct ep_cache;

struct ep_cache *ep_cache_create(struct tenant *t, size_t max_entries, int64_t ttl_ms);
void ep_cache_destroy(struct ep_cache *c);
/* A reference to the endpoint with this public key, or INLET_ENOTFOUND. */
int ep_cache_get(struct ep_cache *c, const char *key, struct ep_entry **out);
void ep_entry_release(struct ep_entry *e);
/* The endpoint changed (or is gone): its entry is dropped, a load running
 * now keeps what it read to itself, and the notify hook is told. */
void ep_cache_invalidate(struct ep_cache *c, int64_t endpoint_id);
/* Drops the endpoint's entry without telling anyone: another node's
 * invalidation arriving here. */
void ep_cache_forget(struct ep_cache *c, int64_t endpoint_id);
/* Drops every entry: invalidations may have been missed. */
void ep_cache_clear(struct ep_cache *c);

/* Called by ep_cache_invalidate after the local drop, on the caller's
 * thread; it must not block on the network (app.c queues a message). */
typedef void (*ep_cache_notify_fn)(void *arg, int64_t endpoint_id);
/* Set once, before the cache is used by more than one thread. */
void ep_cache_on_invalidate(struct ep_cache *c, ep_cache_notify_fn fn, void *arg);

#endif
