/* Hashes, constant-time comparison, API tokens and passwords: the vault's
 * keyless half. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <argon2.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "core/alloc.h"
#include "core/enc.h"
#include "core/err.h"
#include "vault/vault_int.h"

#define TOKEN_PREFIX "inlet_sk_"
#define TOKEN_RAW 32

/* argon2id parameters (RFC 9106's second recommendation, 64 MiB). */
#define ARGON2_T 3
#define ARGON2_M_KIB 65536u
#define ARGON2_M_MIN_KIB 1024u
#define ARGON2_P 1
#define ARGON2_SALT 16
#define ARGON2_HASH 32

void vault_sha256(const void *data, size_t len, uint8_t out[32])
{
	size_t n = 0;

	/* SHA-256 over memory cannot fail; if OpenSSL says otherwise nothing
	 * that hashes tokens or ids can go on. */
	if (EVP_Q_digest(NULL, "SHA256", NULL, len ? data : "", len, out, &n) != 1 || n != 32)
		abort();
}

void vault_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
		       uint8_t out[32])
{
	size_t n = 0;

	if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key_len ? key : "", key_len,
		       len ? data : (const void *)"", len, out, 32, &n) ||
	    n != 32)
		abort();
}

int vault_ct_equal(const void *a, const void *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) == 0;
}

void vault_token_new(char **token, uint8_t hash[32])
{
	uint8_t raw[TOKEN_RAW];
	size_t pl = sizeof(TOKEN_PREFIX) - 1;
	char *t = xmalloc(pl + b64url_encoded_size(sizeof(raw)));

	rand_bytes(raw, sizeof(raw));
	memcpy(t, TOKEN_PREFIX, pl);
	b64url_encode(t + pl, raw, sizeof(raw));
	secure_wipe(raw, sizeof(raw));
	vault_sha256(t, strlen(t), hash);
	*token = t;
}

/* INLET_ARGON2_MEMORY_KIB only lowers the cost (tests); anything
 * unparsable or above the default leaves the default. */
static uint32_t argon2_memory(void)
{
	const char *s = getenv("INLET_ARGON2_MEMORY_KIB");
	uint32_t m = ARGON2_M_KIB;
	char *end;

	if (s && *s && *s != '-') {
		unsigned long v;

		errno = 0;
		v = strtoul(s, &end, 10);
		if (!errno && !*end && v < ARGON2_M_KIB)
			m = v < ARGON2_M_MIN_KIB ? ARGON2_M_MIN_KIB : (uint32_t)v;
	}
	return m;
}

/* other: the code for every failure not named here. */
static int argon2_rc(int r, int other)
{
	int rc;

	switch (r) {
	case ARGON2_OK:
		rc = 0;
		break;
	case ARGON2_VERIFY_MISMATCH:
		rc = INLET_EAUTH;
		break;
	case ARGON2_MEMORY_ALLOCATION_ERROR:
		rc = INLET_ENOMEM;
		break;
	case ARGON2_PWD_TOO_LONG:
		rc = INLET_EINVAL;
		break;
	default:
		rc = other;
		break;
	}
	return rc;
}

int vault_password_hash(const char *password, char **encoded)
{
	uint8_t salt[ARGON2_SALT];
	uint32_t m = argon2_memory();
	size_t n;
	char *enc = NULL;
	int rc;

	*encoded = NULL;
	if (!password) {
		rc = INLET_EINVAL;
		goto out;
	}
	rand_bytes(salt, sizeof(salt));
	n = argon2_encodedlen(ARGON2_T, m, ARGON2_P, ARGON2_SALT, ARGON2_HASH, Argon2_id) + 1;
	enc = xmalloc(n);
	rc = argon2_rc(argon2id_hash_encoded(ARGON2_T, m, ARGON2_P, password, strlen(password),
					     salt, sizeof(salt), ARGON2_HASH, enc, n),
		       INLET_ECRYPTO);
	if (rc)
		goto out;
	*encoded = enc;
	enc = NULL;
out:
	free(enc);
	return rc;
}

int vault_password_verify(const char *encoded, const char *password)
{
	int rc = INLET_EINVAL;

	/* Any failure other than a mismatch means the stored string is not a
	 * valid argon2id encoding. */
	if (encoded && password)
		rc = argon2_rc(argon2id_verify(encoded, password, strlen(password)), INLET_EINVAL);
	return rc;
}
