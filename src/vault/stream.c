/* Sealed files: a stream of chunks, each its own AES-256-GCM message.
 *   header 0x01 "ILBF", then per chunk: u32 ct_len | nonce(12) | ct | tag(16)
 *   ad = "inlet-blob-v1" | u32 version | u8 len | endpoint id | u8 len | record id
 *        | u32 file index | u64 chunk index | u8 last
 * The chunk index stops reordering, dropping and duplicating; the file
 * index and ids stop splicing between files; the last flag stops
 * truncation at a chunk boundary. The reader learns which chunk is meant to
 * be last from the end of its input and checks that against the flag, so
 * bytes after the real last chunk fail as surely as a missing last chunk.
 * Both sides hold one chunk at a time, whatever the file size. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/enc.h"
#include "core/err.h"
#include "vault/vault_int.h"

static const uint8_t file_header[5] = { VAULT__FORMAT, 'I', 'L', 'B', 'F' };
static const char blob_label[] = "inlet-blob-v1";

#define LABEL_LEN (sizeof(blob_label) - 1)
/* The AD: label, version, two length-prefixed ids, file index, then the
 * chunk index and last flag that change per chunk. */
#define AD_MAX (LABEL_LEN + 4 + 2 * (1 + VAULT__ID_MAX) + 4 + 8 + 1)
/* A chunk as stored: length, nonce, ciphertext, tag. */
#define CHUNK_HEAD (4 + VAULT__NONCE)
#define CHUNK_MAX (CHUNK_HEAD + VAULT_CHUNK_BYTES + VAULT__TAG)

/* Writes the fixed part of the AD into ad; returns its length, or 0 when
 * the record id cannot be encoded (longer than a u8 length allows). */
static size_t blob_ad_prefix(const struct vault_key *k, const char *record_id,
			     uint32_t file_index, uint8_t ad[AD_MAX])
{
	size_t rl = record_id ? strlen(record_id) : 0, o = 0;

	if (!record_id || rl > VAULT__ID_MAX)
		return 0;
	memcpy(ad, blob_label, LABEL_LEN);
	o += LABEL_LEN;
	vault__put_be32(ad + o, k->version);
	o += 4;
	ad[o++] = k->eid_len;
	memcpy(ad + o, k->eid, k->eid_len);
	o += k->eid_len;
	ad[o++] = (uint8_t)rl;
	memcpy(ad + o, record_id, rl);
	o += rl;
	vault__put_be32(ad + o, file_index);
	o += 4;
	assert(o + 9 <= AD_MAX);
	return o;
}

/* Completes the AD for one chunk; returns the whole AD's length. */
static size_t blob_ad_chunk(uint8_t *ad, size_t prefix, uint64_t chunk, int last)
{
	vault__put_be64(ad + prefix, chunk);
	ad[prefix + 8] = last ? 1 : 0;
	return prefix + 9;
}

/* ---- writer ---- */

struct vault_writer {
	const struct vault_key *k; /* borrowed: the caller keeps its reference until destroy */
	vault_sink_fn sink;
	void *sink_ctx;
	int rc;			   /* sticky: the first failure, returned by every later call */
	int header_sent;
	int finished;
	uint64_t chunk;		   /* index of the next chunk to seal */
	uint64_t total;		   /* plaintext bytes accepted */
	size_t fill;		   /* plaintext bytes waiting in buf, <= VAULT_CHUNK_BYTES */
	size_t ad_prefix;	   /* bytes of ad before the chunk index */
	uint8_t ad[AD_MAX];
	/* One chunk laid out as it goes to the sink. Plaintext collects in the
	 * ciphertext area and is encrypted in place, so no second copy exists
	 * and a sealed chunk leaves in one sink call. */
	uint8_t buf[CHUNK_MAX];
};

struct vault_writer *vault_writer_create(const struct vault_key *k, const char *record_id,
					 uint32_t file_index, vault_sink_fn sink, void *ctx)
{
	struct vault_writer *w = xcalloc(1, sizeof(*w));

	w->k = k;
	w->sink = sink;
	w->sink_ctx = ctx;
	/* Creation cannot fail by contract; a bad argument surfaces at the
	 * first write or at finish instead. */
	if (!k || !sink || !(w->ad_prefix = blob_ad_prefix(k, record_id, file_index, w->ad)))
		w->rc = INLET_EINVAL;
	return w;
}

/* Seals the fill bytes in buf and hands the chunk to the sink. */
static int seal_chunk(struct vault_writer *w, int last)
{
	uint8_t *ct = w->buf + CHUNK_HEAD;
	struct vault__ad ad = { w->ad, blob_ad_chunk(w->ad, w->ad_prefix, w->chunk, last) };
	int rc;

	if (!w->header_sent) {
		if ((rc = w->sink(w->sink_ctx, file_header, sizeof(file_header))))
			goto out;
		w->header_sent = 1;
	}
	vault__put_be32(w->buf, (uint32_t)w->fill);
	rand_bytes(w->buf + 4, VAULT__NONCE);
	rc = vault__gcm_seal(vault__thread_ctx(), w->k->key, w->buf + 4, &ad, 1, ct, ct, w->fill,
			     ct + w->fill);
	if (rc)
		goto out;
	rc = w->sink(w->sink_ctx, w->buf, CHUNK_HEAD + w->fill + VAULT__TAG);
	w->chunk++;
	w->fill = 0;
out:
	if (rc)
		w->rc = rc;
	return rc;
}

int vault_writer_write(struct vault_writer *w, const void *data, size_t len)
{
	const uint8_t *p = data;
	int rc = w->rc;

	if (!rc && w->finished)
		rc = w->rc = INLET_EINVAL;
	while (!rc && len > 0) {
		size_t n = VAULT_CHUNK_BYTES - w->fill;

		if (n > len)
			n = len;
		memcpy(w->buf + CHUNK_HEAD + w->fill, p, n);
		w->fill += n;
		w->total += n;
		p += n;
		len -= n;
		/* A full chunk goes out at once, so the last chunk is always
		 * short (possibly empty); readers do not depend on that. */
		if (w->fill == VAULT_CHUNK_BYTES)
			rc = seal_chunk(w, 0);
	}
	return rc;
}

int vault_writer_finish(struct vault_writer *w)
{
	int rc = w->rc;

	if (!rc && w->finished)
		rc = w->rc = INLET_EINVAL;
	if (!rc)
		rc = seal_chunk(w, 1);
	w->finished = 1;
	return rc;
}

void vault_writer_destroy(struct vault_writer *w)
{
	if (!w)
		return;
	/* buf may hold plaintext that never got sealed. */
	secure_wipe(w, sizeof(*w));
	free(w);
}

uint64_t vault_writer_size(const struct vault_writer *w)
{
	return w->total;
}

/* ---- reader ----
 *
 * Pull-style: the caller asks for plaintext, the reader pulls sealed bytes
 * from the source one chunk at a time and hands out only bytes of a chunk
 * that has authenticated. It reads the length of the chunk after the one it
 * opens before opening it, so it knows whether the source ends there, which
 * is what the last flag in the AD must say. Hence "end" (0) is reported only
 * after the chunk flagged last has opened and the source is exhausted. */

/* Reads until n bytes or end of input; *got says how many arrived. A
 * source error comes back as an INLET code (INLET_EIO if it gave none). */
static int read_full(vault_source_fn source, void *ctx, uint8_t *buf, size_t n, size_t *got)
{
	int rc = 0;

	*got = 0;
	while (*got < n) {
		long r = source(ctx, buf + *got, n - *got);

		if (r < 0) {
			rc = r > INLET_E__FIRST && r < INLET_E__LAST ? (int)r : INLET_EIO;
			break;
		}
		if (r == 0)
			break;
		if ((size_t)r > n - *got) { /* a source that overfills a buffer is broken */
			rc = INLET_EIO;
			break;
		}
		*got += (size_t)r;
	}
	return rc;
}

struct vault_reader {
	const struct vault_key *k; /* borrowed: the caller keeps its reference until destroy */
	vault_source_fn source;
	void *source_ctx;
	int rc;			   /* sticky: the first failure, returned by every later call */
	int started;		   /* header checked and the first chunk length read into next */
	int last;		   /* the chunk in buf was the last one; nothing follows it */
	uint64_t chunk;		   /* index of the next chunk to open */
	size_t ad_prefix;	   /* bytes of ad before the chunk index */
	size_t off, len;	   /* plaintext of the current chunk at buf + VAULT__NONCE:
				    * len bytes, of which off are handed out; off <= len */
	uint8_t next[4];	   /* length of the chunk after the one in buf, read ahead */
	uint8_t ad[AD_MAX];
	/* nonce | ct | tag of one chunk; opened in place, so the plaintext and
	 * the ciphertext of a chunk share these bytes. */
	uint8_t buf[CHUNK_MAX - 4];
};

struct vault_reader *vault_reader_create(const struct vault_key *k, const char *record_id,
					 uint32_t file_index, vault_source_fn source,
					 void *source_ctx)
{
	struct vault_reader *r = xcalloc(1, sizeof(*r));

	r->k = k;
	r->source = source;
	r->source_ctx = source_ctx;
	/* As with the writer, a bad argument surfaces at the first read. */
	if (!k || !source || !(r->ad_prefix = blob_ad_prefix(k, record_id, file_index, r->ad)))
		r->rc = INLET_EINVAL;
	return r;
}

/* Checks the file header and reads the first chunk's length. */
static int reader_start(struct vault_reader *r)
{
	uint8_t head[sizeof(file_header)];
	size_t got;
	int rc;

	if ((rc = read_full(r->source, r->source_ctx, head, sizeof(head), &got)))
		return rc;
	if (got < sizeof(head))
		return INLET_ETAMPERED;
	if (memcmp(head, file_header, sizeof(head)) != 0)
		return INLET_EINVAL;
	if ((rc = read_full(r->source, r->source_ctx, r->next, 4, &got)))
		return rc;
	if (got < 4) /* not even one chunk: truncated */
		return INLET_ETAMPERED;
	r->started = 1;
	return 0;
}

/* Reads the chunk whose length is in next, the length after it, and opens
 * the chunk in place. On failure buf holds nothing worth keeping: it is
 * wiped, since a failed open leaves unverified plaintext there. */
static int reader_load(struct vault_reader *r)
{
	size_t ct_len = vault__get_be32(r->next), got;
	struct vault__ad a;
	int rc;

	assert(r->off == r->len && !r->last);
	r->off = r->len = 0;
	if (ct_len > VAULT_CHUNK_BYTES) {
		rc = INLET_ETAMPERED;
		goto out;
	}
	if ((rc = read_full(r->source, r->source_ctx, r->buf, VAULT__NONCE + ct_len + VAULT__TAG,
			    &got)))
		goto out;
	if (got < VAULT__NONCE + ct_len + VAULT__TAG) {
		rc = INLET_ETAMPERED;
		goto out;
	}
	if ((rc = read_full(r->source, r->source_ctx, r->next, 4, &got)))
		goto out;
	if (got != 0 && got != 4) { /* a torn length: truncated or padded */
		rc = INLET_ETAMPERED;
		goto out;
	}
	a = (struct vault__ad){ r->ad, blob_ad_chunk(r->ad, r->ad_prefix, r->chunk, got == 0) };
	rc = vault__gcm_open(vault__thread_ctx(), r->k->key, r->buf, &a, 1, r->buf + VAULT__NONCE,
			     r->buf + VAULT__NONCE, ct_len, r->buf + VAULT__NONCE + ct_len);
	if (rc)
		goto out;
	r->last = got == 0;
	r->len = ct_len;
	r->chunk++;
out:
	if (rc)
		secure_wipe(r->buf, sizeof(r->buf));
	return rc;
}

/* Points *p at the authenticated plaintext not yet handed out, loading
 * chunks until some is there (*n > 0) or the end is verified (*n == 0).
 * Sticky errors as for vault_reader_read. The caller consumes by moving
 * r->off. */
static int reader_pending(struct vault_reader *r, const uint8_t **p, size_t *n)
{
	int rc = r->rc;

	*p = NULL;
	*n = 0;
	if (!rc && !r->started)
		rc = reader_start(r);
	/* Non-last chunks may be empty (the format allows it), so loop; each
	 * turn consumes at least one chunk head from the source. */
	while (!rc && r->off == r->len && !r->last)
		rc = reader_load(r);
	if (rc) {
		r->rc = rc;
		return rc;
	}
	*p = r->buf + VAULT__NONCE + r->off;
	*n = r->len - r->off;
	return 0;
}

int vault_reader_fill(struct vault_reader *r)
{
	const uint8_t *p;
	size_t n;

	return reader_pending(r, &p, &n);
}

long vault_reader_read(struct vault_reader *r, void *buf, size_t len)
{
	const uint8_t *p;
	size_t n;
	int rc;

	if (len == 0) /* 0 must keep meaning "authenticated end" */
		return INLET_EINVAL;
	if ((rc = reader_pending(r, &p, &n)))
		return rc;
	if (n > len)
		n = len;
	memcpy(buf, p, n);
	r->off += n;
	return (long)n;
}

void vault_reader_destroy(struct vault_reader *r)
{
	if (!r)
		return;
	/* buf may hold plaintext not yet handed out, or handed out and still
	 * secret. */
	secure_wipe(r, sizeof(*r));
	free(r);
}

int vault_open_stream(const struct vault_key *k, const char *record_id, uint32_t file_index,
		      vault_source_fn source, void *source_ctx, vault_sink_fn sink, void *sink_ctx)
{
	struct vault_reader *r;
	const uint8_t *p;
	size_t n;
	int rc;

	if (!sink)
		return INLET_EINVAL;
	r = vault_reader_create(k, record_id, file_index, source, source_ctx);
	/* Whole chunks go to the sink straight from the reader's buffer. */
	while (!(rc = reader_pending(r, &p, &n)) && n > 0) {
		r->off += n;
		if ((rc = sink(sink_ctx, p, n)))
			break;
	}
	vault_reader_destroy(r);
	return rc;
}
