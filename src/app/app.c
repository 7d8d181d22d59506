#include "app/app.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "blob/blob.h"
#include "core/alloc.h"
#include "core/enc.h"
#include "core/err.h"
#include "core/log.h"
#include "endpoint/cache.h"
#include "ingest/ratelimit.h"
#include "store/shards.h"
#include "store/subs.h"
#include "store/tenant.h"
#include "vault/pubid.h"
#include "vault/vault.h"

static int ensure_dir(const char *path)
{
	if (mkdir(path, 0700) && errno != EEXIST) {
		log_msg(LOG_ERROR, "cannot create %s: %s", path, strerror(errno));
		return INLET_EIO;
	}
	return 0;
}

int app_open(struct app **out, const struct config *cfg, int full)
{
	struct app *a = xcalloc(1, sizeof(*a));
	char path[PATH_MAX + 64];
	uint8_t idkey[32];
	int rc;

	a->cfg = *cfg;
	pthread_mutex_init(&a->salt_lock, NULL);
	a->salt_day = -1;
	sub_id_set_node(cfg->node_id);
	if ((rc = ensure_dir(cfg->data_dir)))
		goto out;
	if ((rc = vault_open(&a->vault, cfg->data_dir, cfg->master_key, cfg->key_cache))) {
		log_msg(LOG_ERROR, "cannot open the vault: %s", inlet_strerror(rc));
		goto out;
	}
	vault_derive(a->vault, "pubid", idkey);
	a->ids = pubid_create(idkey);
	secure_wipe(idkey, sizeof(idkey));
	snprintf(path, sizeof(path), "%s/tenant.db", cfg->data_dir);
	if ((rc = tenant_open(&a->tenant, path)))
		goto out;
	if (!full)
		goto out;
	snprintf(path, sizeof(path), "%s/submissions", cfg->data_dir);
	if ((rc = ensure_dir(path)))
		goto out;
	snprintf(path, sizeof(path), "%s/submissions/shared.db", cfg->data_dir);
	if ((rc = substore_open(&a->shared, path, "shared")))
		goto out;
	{
		struct shards_config sc = { .threshold = (int64_t)cfg->shard_threshold,
					    .batch = cfg->move_batch, .pause_ms = (int)cfg->move_pause_ms };

		if ((rc = shards_open(&a->shards, a->tenant, cfg->data_dir, a->shared, &sc)))
			goto out;
	}
	snprintf(path, sizeof(path), "%s/blobs", cfg->data_dir);
	if ((rc = blob_fs_open(&a->blobs, path)))
		goto out;
	a->endpoints = ep_cache_create(a->tenant, 10000, 5000);
	a->rl = ratelimit_create();
out:
	if (rc) {
		app_close(a);
		a = NULL;
	}
	*out = a;
	return rc;
}

void app_close(struct app *a)
{
	if (!a)
		return;
	/* The mover first (it drives the shared writer), then the shared
	 * store (its writer may forward queued ops into dedicated stores),
	 * then the dedicated stores. */
	shards_stop(a->shards);
	substore_close(a->shared);
	shards_close(a->shards);
	ep_cache_destroy(a->endpoints);
	ratelimit_destroy(a->rl);
	blob_close(a->blobs);
	tenant_close(a->tenant);
	pubid_destroy(a->ids);
	vault_destroy(a->vault);
	vault_mac_destroy(a->ip_mac);
	pthread_mutex_destroy(&a->salt_lock);
	free(a);
}

struct substore *app_subs(struct app *a, int64_t endpoint_id)
{
	return a->shards ? shards_store(a->shards, endpoint_id) : a->shared;
}

int app_ip_hash(struct app *a, const char *ip, char out[65])
{
	int64_t day = now_ms() / 86400000;
	uint8_t salt[32], mac[32];
	int rc = 0;

	pthread_mutex_lock(&a->salt_lock);
	if (a->salt_day != day) {
		/* A new day: a new salt, so hashes cannot be linked across days. */
		rc = tenant_daily_salt(a->tenant, day, salt);
		if (!rc) {
			vault_mac_destroy(a->ip_mac);
			a->ip_mac = vault_mac_create(salt, sizeof(salt));
			a->salt_day = day;
		}
		secure_wipe(salt, sizeof(salt));
	}
	if (!rc)
		vault_mac_compute(a->ip_mac, ip, strlen(ip), mac);
	pthread_mutex_unlock(&a->salt_lock);
	if (!rc)
		hex_encode(out, mac, sizeof(mac));
	return rc;
}
