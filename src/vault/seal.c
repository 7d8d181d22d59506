/* Sealed records: one AES-256-GCM message per submission.
 *   0x01 | nonce(12) | ct(n) | tag(16)
 *   ad = "inlet-rec-v1" | u32 version | u8 len | endpoint id | record id
 * The endpoint id carries its length so the (endpoint id, record id) split
 * is unambiguous; the record id runs to the end of the AD. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/enc.h"
#include "core/err.h"
#include "vault/vault_int.h"

static const char rec_label[] = "inlet-rec-v1";

#define NAD 5

/* Describes the record AD in ad[]; ver is storage for the u32. */
static void record_ad(const struct vault_key *k, const char *record_id, uint8_t ver[4],
		      struct vault__ad ad[NAD])
{
	vault__put_be32(ver, k->version);
	ad[0] = (struct vault__ad){ rec_label, sizeof(rec_label) - 1 };
	ad[1] = (struct vault__ad){ ver, 4 };
	ad[2] = (struct vault__ad){ &k->eid_len, 1 };
	ad[3] = (struct vault__ad){ k->eid, k->eid_len };
	ad[4] = (struct vault__ad){ record_id, strlen(record_id) };
}

int vault_seal(const struct vault_key *k, const char *record_id, const void *plain, size_t len,
	       uint8_t **out, size_t *out_len)
{
	struct vault__ad ad[NAD];
	uint8_t ver[4], *buf = NULL;
	int rc;

	*out = NULL;
	*out_len = 0;
	if (!k || !record_id || (len && !plain)) {
		rc = INLET_EINVAL;
		goto out;
	}
	if (len > SIZE_MAX - VAULT_SEAL_OVERHEAD) {
		rc = INLET_ETOOBIG;
		goto out;
	}
	buf = xmalloc(len + VAULT_SEAL_OVERHEAD);
	buf[0] = VAULT__FORMAT;
	rand_bytes(buf + 1, VAULT__NONCE);
	record_ad(k, record_id, ver, ad);
	rc = vault__gcm_seal(vault__thread_ctx(), k->key, buf + 1, ad, NAD, plain,
			     buf + 1 + VAULT__NONCE, len, buf + 1 + VAULT__NONCE + len);
	if (rc)
		goto out;
	*out = buf;
	*out_len = len + VAULT_SEAL_OVERHEAD;
	buf = NULL;
out:
	free(buf); /* ciphertext only: nothing to wipe */
	return rc;
}

int vault_open_record(const struct vault_key *k, const char *record_id, const uint8_t *sealed,
		      size_t len, uint8_t **out, size_t *out_len)
{
	struct vault__ad ad[NAD];
	uint8_t ver[4], *plain = NULL;
	size_t n = 0;
	int rc;

	*out = NULL;
	*out_len = 0;
	if (!k || !record_id || !sealed || len < VAULT_SEAL_OVERHEAD || sealed[0] != VAULT__FORMAT) {
		rc = INLET_EINVAL;
		goto out;
	}
	n = len - VAULT_SEAL_OVERHEAD;
	plain = xmalloc(n + 1);
	record_ad(k, record_id, ver, ad);
	rc = vault__gcm_open(vault__thread_ctx(), k->key, sealed + 1, ad, NAD,
			     sealed + 1 + VAULT__NONCE, plain, n, sealed + 1 + VAULT__NONCE + n);
	if (rc)
		goto out;
	plain[n] = '\0';
	*out = plain;
	*out_len = n;
	plain = NULL;
out:
	if (plain) {
		/* Unverified plaintext is still plaintext. */
		secure_wipe(plain, n);
		free(plain);
	}
	return rc;
}
