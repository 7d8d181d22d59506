/* Boxes: small secrets at rest that belong to no endpoint (an invitation
 * link waiting in the job queue), sealed under a subkey of the master key
 * for one purpose.
 *   key = vault_derive("box:" | label)
 *   box = base64url(0x01 | nonce(12) | ct(n) | tag(16))
 *   ad  = "inlet-box-v1" | u8 len | label | context
 * The context names the row the secret belongs to, so a box copied to
 * another row does not open there. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/enc.h"
#include "core/err.h"
#include "vault/vault_int.h"

static const char box_label[] = "inlet-box-v1";

#define NAD 4

static int box_key(struct vault *v, const char *label, uint8_t key[VAULT_KEY_BYTES])
{
	size_t n = strlen(label);
	char *name;

	if (n == 0 || n > VAULT_BOX_LABEL_MAX)
		return INLET_EINVAL;
	name = xasprintf("box:%s", label);
	vault_derive(v, name, key);
	free(name);
	return 0;
}

static void box_ad(const char *label, const char *context, uint8_t *len, struct vault__ad ad[NAD])
{
	*len = (uint8_t)strlen(label);
	ad[0] = (struct vault__ad){ box_label, sizeof(box_label) - 1 };
	ad[1] = (struct vault__ad){ len, 1 };
	ad[2] = (struct vault__ad){ label, *len };
	ad[3] = (struct vault__ad){ context, strlen(context) };
}

int vault_box_seal(struct vault *v, const char *label, const char *context, const void *plain, size_t len,
		   char **out)
{
	struct vault__ad ad[NAD];
	uint8_t key[VAULT_KEY_BYTES], ll, *buf = NULL;
	size_t n = len + VAULT_SEAL_OVERHEAD;
	int rc;

	*out = NULL;
	if (!context || (len && !plain) || len > VAULT_BOX_MAX)
		return INLET_EINVAL;
	if ((rc = box_key(v, label, key)))
		return rc;
	buf = xmalloc(n);
	buf[0] = VAULT__FORMAT;
	rand_bytes(buf + 1, VAULT__NONCE);
	box_ad(label, context, &ll, ad);
	rc = vault__gcm_seal(vault__thread_ctx(), key, buf + 1, ad, NAD, plain, buf + 1 + VAULT__NONCE, len,
			     buf + 1 + VAULT__NONCE + len);
	if (!rc) {
		*out = xmalloc(b64url_encoded_size(n));
		b64url_encode(*out, buf, n);
	}
	secure_wipe(key, sizeof(key));
	free(buf); /* ciphertext only */
	return rc;
}

int vault_box_open(struct vault *v, const char *label, const char *context, const char *box, char **out)
{
	struct vault__ad ad[NAD];
	uint8_t key[VAULT_KEY_BYTES], ll, *buf = NULL;
	size_t cap = VAULT_BOX_MAX + VAULT_SEAL_OVERHEAD, n = 0, plen;
	char *plain = NULL;
	int rc;

	*out = NULL;
	if (!context || !box)
		return INLET_EINVAL;
	buf = xmalloc(cap);
	if ((rc = b64_decode(buf, cap, &n, box, strlen(box))))
		goto out;
	if (n < VAULT_SEAL_OVERHEAD || buf[0] != VAULT__FORMAT) {
		rc = INLET_EINVAL;
		goto out;
	}
	if ((rc = box_key(v, label, key)))
		goto out;
	plen = n - VAULT_SEAL_OVERHEAD;
	plain = xmalloc(plen + 1);
	box_ad(label, context, &ll, ad);
	rc = vault__gcm_open(vault__thread_ctx(), key, buf + 1, ad, NAD, buf + 1 + VAULT__NONCE,
			     (uint8_t *)plain, plen, buf + 1 + VAULT__NONCE + plen);
	secure_wipe(key, sizeof(key));
	if (rc) {
		secure_wipe(plain, plen); /* unverified plaintext */
		goto out;
	}
	plain[plen] = '\0';
	*out = plain;
	plain = NULL;
out:
	free(plain);
	free(buf);
	return rc;
}
