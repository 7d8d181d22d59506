#include "vault/pubid.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "core/alloc.h"
#include "core/enc.h"
#include "core/err.h"

struct pubid {
	uint8_t key[32];
	uint64_t gen; /* unique per pubid ever made: names the key to thread contexts */
};

static atomic_ullong next_gen = 1;

struct pubid *pubid_create(const uint8_t key[32])
{
	struct pubid *p = xmalloc(sizeof(*p));

	memcpy(p->key, key, 32);
	p->gen = atomic_fetch_add(&next_gen, 1);
	return p;
}

void pubid_destroy(struct pubid *p)
{
	if (!p)
		return;
	/* Thread contexts keyed by it stay until their thread re-keys them
	 * for another pubid (a new generation) or exits. */
	secure_wipe(p->key, sizeof(p->key));
	free(p);
}

/* One AES-256 block, either way, on this thread's keyed contexts: setting
 * up a context per call cost more than the cipher itself (a public id is
 * made for every post). Contexts are re-keyed when another pubid (by
 * generation, not address) uses the thread, and freed at thread exit. */
struct tl_ctx {
	EVP_CIPHER_CTX *c[2];      /* [0] decrypt, [1] encrypt */
	uint64_t gen;              /* the pubid whose key they hold; 0 none */
};

static pthread_key_t tl_key;
static pthread_once_t tl_once = PTHREAD_ONCE_INIT;

static void tl_free(void *p)
{
	struct tl_ctx *t = p;

	EVP_CIPHER_CTX_free(t->c[0]);
	EVP_CIPHER_CTX_free(t->c[1]);
	free(t);
}

static void tl_init(void)
{
	if (pthread_key_create(&tl_key, tl_free))
		abort();
}

static int block(const struct pubid *p, int enc, const uint8_t in[16], uint8_t out[16])
{
	struct tl_ctx *t;
	int len = 0;

	pthread_once(&tl_once, tl_init);
	t = pthread_getspecific(tl_key);
	if (!t) {
		t = xcalloc(1, sizeof(*t));
		if (!(t->c[0] = EVP_CIPHER_CTX_new()) || !(t->c[1] = EVP_CIPHER_CTX_new()))
			abort();
		pthread_setspecific(tl_key, t);
	}
	if (t->gen != p->gen) {
		for (int e = 0; e < 2; e++)
			if (EVP_CipherInit_ex(t->c[e], EVP_aes_256_ecb(), NULL, p->key, NULL, e) != 1 ||
			    EVP_CIPHER_CTX_set_padding(t->c[e], 0) != 1)
				return INLET_ECRYPTO;
		t->gen = p->gen;
	}
	/* ECB holds no state between blocks, so a keyed context is reused as is. */
	if (EVP_CipherUpdate(t->c[enc], out, &len, in, 16) != 1 || len != 16)
		return INLET_ECRYPTO;
	return 0;
}

void pubid_encode(struct pubid *p, const char *prefix, int64_t id, int64_t scope, char out[PUBID_MAX])
{
	uint8_t in[16] = { 0 }, ct[16];
	size_t plen = strlen(prefix);

	for (int i = 0; i < 8; i++)
		in[i] = (uint8_t)((uint64_t)id >> (56 - 8 * i));
	for (int i = 0; i < 6; i++)
		in[8 + i] = (uint8_t)((uint64_t)scope >> (40 - 8 * i));
	if (block(p, 1, in, ct))
		abort(); /* AES on a valid key cannot fail */
	if (plen > PUBID_MAX - 23)
		plen = PUBID_MAX - 23;
	memcpy(out, prefix, plen);
	b64url_encode(out + plen, ct, 16);
}

int pubid_decode(struct pubid *p, const char *prefix, const char *s, int64_t *id, int64_t *scope)
{
	size_t plen = strlen(prefix), len;
	uint8_t ct[16], pt[16];
	uint64_t a = 0, b = 0;

	if (strncmp(s, prefix, plen) != 0 || strlen(s + plen) != 22)
		return INLET_ENOTFOUND;
	if (b64_decode(ct, sizeof(ct), &len, s + plen, 22) || len != 16)
		return INLET_ENOTFOUND;
	if (block(p, 0, ct, pt) || pt[14] || pt[15])
		return INLET_ENOTFOUND;
	for (int i = 0; i < 8; i++)
		a = a << 8 | pt[i];
	for (int i = 0; i < 6; i++)
		b = b << 8 | pt[8 + i];
	*id = (int64_t)a;
	*scope = (int64_t)b;
	return 0;
}
