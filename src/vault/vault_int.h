/* Folder-private to src/vault/: the key handle every sealing file reads,
 * the AES-256-GCM primitive they all share, and the master-key loader.
 * Nothing outside src/vault/ includes this; the public contract is vault.h. */
#ifndef INLET_VAULT_VAULT_INT_H
#define INLET_VAULT_VAULT_INT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "vault/vault.h"

#define VAULT__FORMAT 0x01 /* first byte of every wrapped key, record and file */
#define VAULT__NONCE 12
#define VAULT__TAG 16
/* Ids travel behind a u8 length in the record and file formats, so a key
 * handle only ever exists for an endpoint id of at most this many bytes. */
#define VAULT__ID_MAX 255

/* An unwrapped data key. The fields above the line are written once, before
 * the handle is published, and only read afterwards, so sealing needs no
 * lock; the fields below belong to the cache and are guarded by v->lock. */
struct vault_key {
	struct vault *v;		      /* owner; must outlive every handle */
	uint8_t key[VAULT_KEY_BYTES];	      /* the data key; wiped before free */
	uint32_t version;		      /* key version, part of every AD */
	uint8_t eid_len;		      /* strlen(eid), <= VAULT__ID_MAX */
	char eid[VAULT__ID_MAX + 1];	      /* endpoint public id, NUL-terminated */
	uint8_t wrapped[VAULT_WRAPPED_BYTES]; /* the blob it was unwrapped from: a
					       * cache hit must present the same one */
	/* ---- guarded by v->lock ---- */
	size_t refs;			      /* caller handles, +1 while cached; freed at 0 */
	int cached;			      /* linked into the LRU list and a hash chain */
	struct vault_key *lru_prev, *lru_next; /* most recently used at v->lru_head */
	struct vault_key *hnext;	      /* next in the same hash bucket */
};

/* One piece of associated data; the GCM helpers feed the pieces in order,
 * so callers describe the AD of the formats without building it in a copy. */
struct vault__ad {
	const void *p;
	size_t n;
};

/* The calling thread's cipher context: created on first use, freed by a
 * thread-exit destructor (or vault__thread_ctx_free). Never NULL. */
EVP_CIPHER_CTX *vault__thread_ctx(void);
/* Frees the calling thread's context now (the main thread never runs
 * thread-exit destructors). The next vault__thread_ctx() makes a new one. */
void vault__thread_ctx_free(void);

/* AES-256-GCM over len bytes of in into out (in == out is allowed), with
 * the ad pieces as associated data. Seal writes tag; open checks it and
 * returns INLET_ETAMPERED on mismatch, in which case out holds unverified
 * plaintext that the caller must wipe. INLET_ECRYPTO if OpenSSL fails. */
int vault__gcm_seal(EVP_CIPHER_CTX *ctx, const uint8_t key[VAULT_KEY_BYTES],
		    const uint8_t nonce[VAULT__NONCE], const struct vault__ad *ad, size_t nad,
		    const uint8_t *in, uint8_t *out, size_t len, uint8_t tag[VAULT__TAG]);
int vault__gcm_open(EVP_CIPHER_CTX *ctx, const uint8_t key[VAULT_KEY_BYTES],
		    const uint8_t nonce[VAULT__NONCE], const struct vault__ad *ad, size_t nad,
		    const uint8_t *in, uint8_t *out, size_t len, const uint8_t tag[VAULT__TAG]);

void vault__put_be32(uint8_t *p, uint32_t v);
void vault__put_be64(uint8_t *p, uint64_t v);
uint32_t vault__get_be32(const uint8_t *p);

/* The master key: decoded from master_b64 when given, else read from
 * data_dir/master.key, else created there (see master.c). key is wiped on
 * failure. INLET_EINVAL for content that is not base64 of 32 bytes,
 * INLET_EIO when the file cannot be read or written. */
int vault__master_load(const char *data_dir, const char *master_b64,
		       uint8_t key[VAULT_KEY_BYTES]);

#endif
