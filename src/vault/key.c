/* The vault object: master key, wrapping of endpoint data keys, and the
 * bounded cache of unwrapped keys.
 *
 * The cache is a memo of unwrap: an entry is found by (endpoint id,
 * version) but only used when the caller presents the same wrapped bytes
 * it was made from, so a stale entry (an endpoint recreated under the same
 * id, a key re-wrapped) can never hand out the wrong key. Entries are
 * refcounted: eviction unlinks an entry and drops the cache's reference;
 * the key is wiped and freed when the last handle is released. */
#include <assert.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "core/alloc.h"
#include "core/enc.h"
#include "core/err.h"
#include "vault/vault_int.h"

static const char key_ad_label[] = "inlet-key-v1";
static const char derive_label[] = "inlet-derive-v1";

struct vault {
	uint8_t master[VAULT_KEY_BYTES]; /* written by vault_open, read-only after: no lock */
	uint64_t seed;			 /* hash seed for the buckets; read-only */
	size_t cap;			 /* most cached entries, >= 1; read-only */
	size_t nbuckets;		 /* power of two; read-only */

	pthread_mutex_t lock; /* guards everything below and the cache fields of keys */
	struct vault_key **buckets;	   /* hash chains of cached keys */
	struct vault_key *lru_head, *lru_tail; /* cached keys, most recent first */
	size_t entries;			   /* cached keys, <= cap */
	size_t handles;			   /* caller references out, 0 at destroy */
	uint64_t hits, misses;
};

/* ---- wrapping (master key) ---- */

/* Seals in (the data key) into wrapped's ciphertext, or opens wrapped's
 * ciphertext into out. wrapped is the whole VAULT_WRAPPED_BYTES blob.
 * The master key goes through a context made for the one message and
 * freed at once, so its key schedule never lingers in a thread context. */
static int wrap_run(const struct vault *v, int seal, const char *eid, uint32_t version,
		    const uint8_t *in, uint8_t *out, uint8_t wrapped[VAULT_WRAPPED_BYTES])
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	uint8_t ver[4];
	struct vault__ad ad[3] = {
		{ key_ad_label, sizeof(key_ad_label) - 1 },
		{ ver, sizeof(ver) },
		{ eid, strlen(eid) },
	};
	const uint8_t *nonce = wrapped + 1;
	uint8_t *tag = wrapped + 1 + VAULT__NONCE + VAULT_KEY_BYTES;
	int rc;

	if (!ctx)
		abort(); /* out of memory */
	vault__put_be32(ver, version);
	if (seal)
		rc = vault__gcm_seal(ctx, v->master, nonce, ad, 3, in, out, VAULT_KEY_BYTES, tag);
	else
		rc = vault__gcm_open(ctx, v->master, nonce, ad, 3, in, out, VAULT_KEY_BYTES, tag);
	EVP_CIPHER_CTX_free(ctx); /* clears the key schedule */
	return rc;
}

static int id_ok(const char *eid)
{
	return eid && strlen(eid) <= VAULT__ID_MAX;
}

int vault_key_create(struct vault *v, const char *endpoint_id, uint32_t version,
		     uint8_t wrapped[VAULT_WRAPPED_BYTES])
{
	uint8_t key[VAULT_KEY_BYTES];
	int rc;

	if (!v || !id_ok(endpoint_id)) {
		rc = INLET_EINVAL;
		goto out;
	}
	rand_bytes(key, sizeof(key));
	wrapped[0] = VAULT__FORMAT;
	rand_bytes(wrapped + 1, VAULT__NONCE);
	rc = wrap_run(v, 1, endpoint_id, version, key, wrapped + 1 + VAULT__NONCE, wrapped);
out:
	secure_wipe(key, sizeof(key));
	return rc;
}

/* ---- the cache; every function here runs under v->lock ---- */

static size_t bucket_of(const struct vault *v, const char *eid, uint32_t version)
{
	uint64_t h = v->seed ^ 0xcbf29ce484222325ull; /* FNV-1a, seeded */

	for (const unsigned char *p = (const unsigned char *)eid; *p; p++)
		h = (h ^ *p) * 0x100000001b3ull;
	for (int i = 0; i < 4; i++)
		h = (h ^ (uint8_t)(version >> (8 * i))) * 0x100000001b3ull;
	return (size_t)(h ^ h >> 32) & (v->nbuckets - 1);
}

static struct vault_key *cache_find(struct vault *v, const char *eid, uint32_t version)
{
	struct vault_key *k = v->buckets[bucket_of(v, eid, version)];

	while (k && (k->version != version || strcmp(k->eid, eid) != 0))
		k = k->hnext;
	return k;
}

static void lru_unlink(struct vault *v, struct vault_key *k)
{
	if (k->lru_prev)
		k->lru_prev->lru_next = k->lru_next;
	else
		v->lru_head = k->lru_next;
	if (k->lru_next)
		k->lru_next->lru_prev = k->lru_prev;
	else
		v->lru_tail = k->lru_prev;
	k->lru_prev = k->lru_next = NULL;
}

static void lru_push_front(struct vault *v, struct vault_key *k)
{
	k->lru_prev = NULL;
	k->lru_next = v->lru_head;
	if (v->lru_head)
		v->lru_head->lru_prev = k;
	else
		v->lru_tail = k;
	v->lru_head = k;
}

static void key_free(struct vault_key *k)
{
	secure_wipe(k, sizeof(*k));
	free(k);
}

/* Drops one reference; the last one wipes the key. */
static void key_unref(struct vault_key *k)
{
	assert(k->refs > 0);
	if (--k->refs == 0) {
		assert(!k->cached);
		key_free(k);
	}
}

static void cache_remove(struct vault *v, struct vault_key *k)
{
	struct vault_key **pp = &v->buckets[bucket_of(v, k->eid, k->version)];

	assert(k->cached);
	while (*pp != k)
		pp = &(*pp)->hnext;
	*pp = k->hnext;
	k->hnext = NULL;
	lru_unlink(v, k);
	k->cached = 0;
	v->entries--;
	key_unref(k);
}

static void cache_insert(struct vault *v, struct vault_key *k)
{
	size_t b = bucket_of(v, k->eid, k->version);

	assert(!k->cached && !cache_find(v, k->eid, k->version));
	k->hnext = v->buckets[b];
	v->buckets[b] = k;
	lru_push_front(v, k);
	k->cached = 1;
	k->refs++;
	v->entries++;
	while (v->entries > v->cap)
		cache_remove(v, v->lru_tail);
}

/* A cached key made from these wrapped bytes, with a new reference. */
static struct vault_key *cache_take(struct vault *v, const char *eid, uint32_t version,
				    const uint8_t *wrapped)
{
	struct vault_key *k = cache_find(v, eid, version);

	if (k && memcmp(k->wrapped, wrapped, VAULT_WRAPPED_BYTES) != 0)
		k = NULL;
	if (k) {
		lru_unlink(v, k);
		lru_push_front(v, k);
		k->refs++;
		v->handles++;
	}
	return k;
}

/* ---- public ---- */

int vault_key_get(struct vault *v, const char *endpoint_id, uint32_t version,
		  const uint8_t *wrapped, size_t wrapped_len, struct vault_key **out)
{
	struct vault_key *k = NULL, *old;
	int rc = 0;

	if (!v || !id_ok(endpoint_id) || !wrapped || wrapped_len != VAULT_WRAPPED_BYTES) {
		rc = INLET_EINVAL;
		goto out;
	}
	pthread_mutex_lock(&v->lock);
	k = cache_take(v, endpoint_id, version, wrapped);
	if (k)
		v->hits++;
	else
		v->misses++;
	pthread_mutex_unlock(&v->lock);
	if (k)
		goto out;

	/* Unwrap outside the lock; other threads keep hitting meanwhile. A
	 * wrapped key has one format only, so any other first byte is as
	 * unauthentic as a flipped tag. */
	if (wrapped[0] != VAULT__FORMAT) {
		rc = INLET_ETAMPERED;
		goto out;
	}
	k = xcalloc(1, sizeof(*k));
	k->v = v;
	k->version = version;
	k->eid_len = (uint8_t)strlen(endpoint_id);
	memcpy(k->eid, endpoint_id, k->eid_len);
	memcpy(k->wrapped, wrapped, VAULT_WRAPPED_BYTES);
	rc = wrap_run(v, 0, endpoint_id, version, k->wrapped + 1 + VAULT__NONCE, k->key, k->wrapped);
	if (rc) {
		key_free(k); /* wipes the unverified plaintext too */
		k = NULL;
		goto out;
	}

	pthread_mutex_lock(&v->lock);
	old = cache_take(v, endpoint_id, version, wrapped);
	if (old) {
		/* Another thread unwrapped the same key first; share theirs. */
		key_free(k);
		k = old;
	} else {
		/* An entry under the same id made from other bytes is stale. */
		if ((old = cache_find(v, endpoint_id, version)))
			cache_remove(v, old);
		k->refs = 1;
		v->handles++;
		cache_insert(v, k);
	}
	pthread_mutex_unlock(&v->lock);
out:
	*out = k;
	return rc;
}

void vault_key_release(struct vault_key *k)
{
	struct vault *v;

	if (!k)
		return;
	v = k->v;
	pthread_mutex_lock(&v->lock);
	assert(v->handles > 0);
	v->handles--;
	key_unref(k);
	pthread_mutex_unlock(&v->lock);
}

void vault_key_forget(struct vault *v, const char *endpoint_id, uint32_t version)
{
	struct vault_key *k;

	if (!v || !id_ok(endpoint_id))
		return;
	pthread_mutex_lock(&v->lock);
	if ((k = cache_find(v, endpoint_id, version)))
		cache_remove(v, k);
	pthread_mutex_unlock(&v->lock);
}

int vault_open(struct vault **out, const char *data_dir, const char *master_b64,
	       size_t cache_entries)
{
	struct vault *v = NULL;
	int rc = 0;

	if (cache_entries < 1) {
		rc = INLET_EINVAL;
		goto out;
	}
	v = xcalloc(1, sizeof(*v));
	if ((rc = vault__master_load(data_dir, master_b64, v->master)))
		goto out;
	rand_bytes(&v->seed, sizeof(v->seed));
	v->cap = cache_entries;
	/* About one entry per bucket when full, within a sane bound. */
	v->nbuckets = 16;
	while (v->nbuckets < cache_entries && v->nbuckets < (1u << 20))
		v->nbuckets <<= 1;
	v->buckets = xcalloc(v->nbuckets, sizeof(*v->buckets));
	pthread_mutex_init(&v->lock, NULL);
out:
	if (rc) {
		if (v) {
			secure_wipe(v, sizeof(*v));
			free(v);
		}
		v = NULL;
	}
	*out = v;
	return rc;
}

void vault_destroy(struct vault *v)
{
	if (!v)
		return;
	/* A handle still out would point into freed memory after this. */
	assert(v->handles == 0);
	pthread_mutex_lock(&v->lock);
	while (v->lru_head)
		cache_remove(v, v->lru_head);
	pthread_mutex_unlock(&v->lock);
	pthread_mutex_destroy(&v->lock);
	free(v->buckets);
	/* The main thread never runs thread-exit destructors. */
	vault__thread_ctx_free();
	secure_wipe(v, sizeof(*v));
	free(v);
}

void vault_derive(struct vault *v, const char *label, uint8_t out[32])
{
	size_t dl = sizeof(derive_label) - 1, ll = strlen(label);
	uint8_t *msg = xmalloc(dl + ll);

	memcpy(msg, derive_label, dl);
	memcpy(msg + dl, label, ll);
	vault_hmac_sha256(v->master, sizeof(v->master), msg, dl + ll, out);
	free(msg);
}

void vault_cache_stats(struct vault *v, uint64_t *hits, uint64_t *misses, size_t *entries)
{
	pthread_mutex_lock(&v->lock);
	if (hits)
		*hits = v->hits;
	if (misses)
		*misses = v->misses;
	if (entries)
		*entries = v->entries;
	pthread_mutex_unlock(&v->lock);
}
