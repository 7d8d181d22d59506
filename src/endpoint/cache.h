/* Endpoints by public key, for the ingest path: one lookup per post must
 * not cost a database query. Entries are immutable and refcounted; a
 * change through the API invalidates the key, and entries also expire
 * after a short TTL so that changes made by another process (the CLI, a
 * second node) are seen. */
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
void ep_cache_invalidate(struct ep_cache *c, const char *key);

#endif
