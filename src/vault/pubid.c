#include "vault/pubid.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "core/alloc.h"
#include "core/enc.h"
#include "core/err.h"

struct pubid {
	uint8_t key[32];
};

struct pubid *pubid_create(const uint8_t key[32])
{
	struct pubid *p = xmalloc(sizeof(*p));

	memcpy(p->key, key, 32);
	return p;
}

void pubid_destroy(struct pubid *p)
{
	if (!p)
		return;
	secure_wipe(p->key, sizeof(p->key));
	free(p);
}

/* One AES-256 block, either way. A context per call keeps this free of
 * shared state; it costs about a microsecond. */
static int block(const uint8_t key[32], int enc, const uint8_t in[16], uint8_t out[16])
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int len = 0, ok;

	if (!ctx)
		abort();
	ok = EVP_CipherInit_ex(ctx, EVP_aes_256_ecb(), NULL, key, NULL, enc) == 1 &&
	     EVP_CIPHER_CTX_set_padding(ctx, 0) == 1 &&
	     EVP_CipherUpdate(ctx, out, &len, in, 16) == 1 && len == 16;
	EVP_CIPHER_CTX_free(ctx);
	return ok ? 0 : INLET_ECRYPTO;
}

void pubid_encode(struct pubid *p, const char *prefix, int64_t id, int64_t scope, char out[PUBID_MAX])
{
	uint8_t in[16] = { 0 }, ct[16];
	size_t plen = strlen(prefix);

	for (int i = 0; i < 8; i++)
		in[i] = (uint8_t)((uint64_t)id >> (56 - 8 * i));
	for (int i = 0; i < 6; i++)
		in[8 + i] = (uint8_t)((uint64_t)scope >> (40 - 8 * i));
	if (block(p->key, 1, in, ct))
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
	if (block(p->key, 0, ct, pt) || pt[14] || pt[15])
		return INLET_ENOTFOUND;
	for (int i = 0; i < 8; i++)
		a = a << 8 | pt[i];
	for (int i = 0; i < 6; i++)
		b = b << 8 | pt[8 + i];
	*id = (int64_t)a;
	*scope = (int64_t)b;
	return 0;
}
