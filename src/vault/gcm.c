/* AES-256-GCM for the vault, on one EVP context per thread.
 *
 * A context is not thread-safe, and creating one per message costs
 * allocations and a provider lookup, so each thread keeps its own for its
 * lifetime. After the first init only the key and nonce change, which
 * reuses the provider state instead of fetching the cipher again. The
 * context keeps the last key schedule until the next message or thread
 * exit; data keys also sit in the cache, so that adds no new exposure,
 * and the master key never goes through these contexts (key.c). */
#include <assert.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "vault/vault_int.h"

/* EVP takes int lengths; larger inputs go in pieces of this size. */
#define PIECE_MAX (1u << 30)

static pthread_once_t tls_once = PTHREAD_ONCE_INIT;
static pthread_key_t tls_key; /* value: this thread's EVP_CIPHER_CTX, or NULL */

static void tls_destroy(void *p)
{
	EVP_CIPHER_CTX_free(p);
}

static void tls_init(void)
{
	if (pthread_key_create(&tls_key, tls_destroy))
		abort(); /* only fails when the process is out of keys or memory */
}

EVP_CIPHER_CTX *vault__thread_ctx(void)
{
	EVP_CIPHER_CTX *ctx;

	pthread_once(&tls_once, tls_init);
	ctx = pthread_getspecific(tls_key);
	if (!ctx) {
		ctx = EVP_CIPHER_CTX_new();
		if (!ctx || pthread_setspecific(tls_key, ctx))
			abort(); /* out of memory: the xmalloc policy */
	}
	return ctx;
}

void vault__thread_ctx_free(void)
{
	EVP_CIPHER_CTX *ctx;

	pthread_once(&tls_once, tls_init);
	ctx = pthread_getspecific(tls_key);
	if (ctx) {
		pthread_setspecific(tls_key, NULL);
		EVP_CIPHER_CTX_free(ctx);
	}
}

void vault__put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

void vault__put_be64(uint8_t *p, uint64_t v)
{
	vault__put_be32(p, (uint32_t)(v >> 32));
	vault__put_be32(p + 4, (uint32_t)v);
}

uint32_t vault__get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Keys the context and feeds AD and data; the caller finishes. */
static int gcm_run(EVP_CIPHER_CTX *ctx, int enc, const uint8_t *key, const uint8_t *nonce,
		   const struct vault__ad *ad, size_t nad, const uint8_t *in, uint8_t *out,
		   size_t len)
{
	int n, rc = INLET_ECRYPTO;

	if (!EVP_CIPHER_CTX_get0_cipher(ctx) &&
	    EVP_CipherInit_ex2(ctx, EVP_aes_256_gcm(), NULL, NULL, enc, NULL) != 1)
		goto out;
	/* The default GCM nonce length is 12, which is VAULT__NONCE. */
	if (EVP_CipherInit_ex2(ctx, NULL, key, nonce, enc, NULL) != 1)
		goto out;
	for (size_t i = 0; i < nad; i++) {
		assert(ad[i].n <= PIECE_MAX);
		if (ad[i].n && EVP_CipherUpdate(ctx, NULL, &n, ad[i].p, (int)ad[i].n) != 1)
			goto out;
	}
	for (size_t off = 0; off < len;) {
		size_t piece = len - off < PIECE_MAX ? len - off : PIECE_MAX;

		if (EVP_CipherUpdate(ctx, out + off, &n, in + off, (int)piece) != 1 ||
		    (size_t)n != piece)
			goto out;
		off += piece;
	}
	rc = 0;
out:
	return rc;
}

int vault__gcm_seal(EVP_CIPHER_CTX *ctx, const uint8_t key[VAULT_KEY_BYTES],
		    const uint8_t nonce[VAULT__NONCE], const struct vault__ad *ad, size_t nad,
		    const uint8_t *in, uint8_t *out, size_t len, uint8_t tag[VAULT__TAG])
{
	uint8_t none[16]; /* GCM's final writes nothing, but wants somewhere to */
	int n, rc;

	if ((rc = gcm_run(ctx, 1, key, nonce, ad, nad, in, out, len)))
		goto out;
	if (EVP_CipherFinal_ex(ctx, none, &n) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, VAULT__TAG, tag) != 1)
		rc = INLET_ECRYPTO;
out:
	return rc;
}

int vault__gcm_open(EVP_CIPHER_CTX *ctx, const uint8_t key[VAULT_KEY_BYTES],
		    const uint8_t nonce[VAULT__NONCE], const struct vault__ad *ad, size_t nad,
		    const uint8_t *in, uint8_t *out, size_t len, const uint8_t tag[VAULT__TAG])
{
	uint8_t want[VAULT__TAG], none[16];
	int n, rc;

	/* The ctrl takes a non-const pointer; give it a copy. */
	memcpy(want, tag, sizeof(want));
	if ((rc = gcm_run(ctx, 0, key, nonce, ad, nad, in, out, len)))
		goto out;
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, VAULT__TAG, want) != 1) {
		rc = INLET_ECRYPTO;
		goto out;
	}
	if (EVP_CipherFinal_ex(ctx, none, &n) != 1)
		rc = INLET_ETAMPERED;
out:
	return rc;
}
