/* A pre-keyed HMAC-SHA256. OpenSSL 3 looks algorithms up by name on every
 * one-shot call (EVP_Q_mac), which costs more than the MAC of a short
 * input; a keyed context duplicated per call skips the lookup and the key
 * setup. The shared context is only read (duplicated), never updated. */
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "core/alloc.h"
#include "core/alloc.h"
#include "vault/vault_int.h"

struct vault_mac {
	EVP_MAC_CTX *keyed; /* initialised with the key; read-only after create */
};

struct vault_mac *vault_mac_create(const void *key, size_t key_len)
{
	struct vault_mac *m = xcalloc(1, sizeof(*m));
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
		OSSL_PARAM_construct_end(),
	};

	if (!mac || !(m->keyed = EVP_MAC_CTX_new(mac)) ||
	    EVP_MAC_init(m->keyed, key, key_len, params) != 1)
		abort(); /* HMAC-SHA256 is always present in libcrypto */
	EVP_MAC_free(mac);
	return m;
}

void vault_mac_compute(const struct vault_mac *m, const void *data, size_t len, uint8_t out[32])
{
	EVP_MAC_CTX *c = EVP_MAC_CTX_dup(m->keyed);
	size_t n = 0;

	if (!c || EVP_MAC_update(c, data, len) != 1 || EVP_MAC_final(c, out, &n, 32) != 1 || n != 32)
		abort();
	EVP_MAC_CTX_free(c);
}

void vault_mac_destroy(struct vault_mac *m)
{
	if (!m)
		return;
	EVP_MAC_CTX_free(m->keyed);
	free(m);
}

struct vault_mac *vault_key_mac(const struct vault_key *k, const char *label)
{
	static const char domain[] = "inlet-mac-v1";
	uint8_t msg[sizeof(domain) + 64], sub[32];
	size_t ll = strlen(label);
	struct vault_mac *m;

	if (ll > 64)
		ll = 64;
	memcpy(msg, domain, sizeof(domain)); /* with its NUL: a separator */
	memcpy(msg + sizeof(domain), label, ll);
	vault_hmac_sha256(k->key, VAULT_KEY_BYTES, msg, sizeof(domain) + ll, sub);
	m = vault_mac_create(sub, sizeof(sub));
	secure_wipe(sub, sizeof(sub));
	return m;
}
