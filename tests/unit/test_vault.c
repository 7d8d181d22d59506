/* The vault: key wrapping and cache, sealed records, sealed file streams,
 * the master key file, hashes, tokens and passwords. */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/alloc.h"
#include "core/enc.h"
#include "core/err.h"
#include "core/log.h"
#include "vault/vault.h"
/* White-box: a copy of a key handle with one field changed shows that the
 * AD alone (same key bytes) binds endpoint and version. */
#include "vault/vault_int.h"

/* base64 of 32 bytes 0x00..0x1f */
static const char master_a[] = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
/* base64 of 32 bytes 0xff */
static const char master_b[] = "//////////////////////////////////////////8=";

/* ---- helpers ---- */

struct gbuf {
	uint8_t *p;
	size_t len, cap;
};

static int gbuf_sink(void *ctx, const void *data, size_t len)
{
	struct gbuf *g = ctx;

	if (g->len + len > g->cap) {
		g->cap = (g->len + len) * 2 + 64;
		g->p = xrealloc(g->p, g->cap);
	}
	if (len)
		memcpy(g->p + g->len, data, len);
	g->len += len;
	return 0;
}

static void gbuf_free(struct gbuf *g)
{
	free(g->p);
	memset(g, 0, sizeof(*g));
}

struct src {
	const uint8_t *p;
	size_t len, off, step;
};

static long src_read(void *ctx, void *buf, size_t len)
{
	struct src *s = ctx;
	size_t n = s->len - s->off;

	if (n > len)
		n = len;
	if (n > s->step)
		n = s->step;
	memcpy(buf, s->p + s->off, n);
	s->off += n;
	return (long)n;
}

static uint8_t *random_bytes(size_t n)
{
	uint8_t *p = xmalloc(n);

	rand_bytes(p, n);
	return p;
}

static struct vault *open_env(const char *master, size_t cache)
{
	struct vault *v = NULL;

	assert_int_equal(vault_open(&v, NULL, master, cache), 0);
	assert_non_null(v);
	return v;
}

static struct vault_key *get_key(struct vault *v, const char *eid, uint32_t ver,
				 const uint8_t wrapped[VAULT_WRAPPED_BYTES])
{
	struct vault_key *k = NULL;

	assert_int_equal(vault_key_get(v, eid, ver, wrapped, VAULT_WRAPPED_BYTES, &k), 0);
	assert_non_null(k);
	return k;
}

/* Seals data as a file, writing it in pieces of varying size. */
static int seal_file(const struct vault_key *k, const char *rid, uint32_t idx, const uint8_t *data,
		     size_t len, struct gbuf *out)
{
	static const size_t pieces[] = { 1, 7, 1000, 65536, 70001, 3 };
	struct vault_writer *w = vault_writer_create(k, rid, idx, gbuf_sink, out);
	size_t off = 0, i = 0;
	int rc = 0;

	while (!rc && off < len) {
		size_t n = pieces[i++ % 6];

		if (n > len - off)
			n = len - off;
		rc = vault_writer_write(w, data + off, n);
		off += n;
	}
	/* No cmocka asserts here: worker threads call this too. */
	if (!rc && vault_writer_size(w) != len)
		rc = INLET_EINTERNAL;
	if (!rc)
		rc = vault_writer_finish(w);
	vault_writer_destroy(w);
	return rc;
}

static int open_file(const struct vault_key *k, const char *rid, uint32_t idx, const uint8_t *sealed,
		     size_t len, size_t step, struct gbuf *out)
{
	struct src s = { sealed, len, 0, step };

	return vault_open_stream(k, rid, idx, src_read, &s, gbuf_sink, out);
}

/* ---- fixture: a vault under master_a and one endpoint key ---- */

struct fx {
	struct vault *v;
	uint8_t wrapped[VAULT_WRAPPED_BYTES];
	struct vault_key *k;
};

static int setup(void **state)
{
	static struct fx fx;

	fx.v = open_env(master_a, 16);
	assert_int_equal(vault_key_create(fx.v, "ep_test", 1, fx.wrapped), 0);
	fx.k = get_key(fx.v, "ep_test", 1, fx.wrapped);
	*state = &fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	vault_key_release(fx->k);
	vault_destroy(fx->v);
	return 0;
}

/* ---- records ---- */

static void test_seal_roundtrip(void **state)
{
	struct fx *fx = *state;
	static const size_t sizes[] = { 0, 1, 100 * 1024 };

	for (size_t i = 0; i < 3; i++) {
		uint8_t *plain = random_bytes(sizes[i]), *sealed, *back;
		size_t slen, blen;

		assert_int_equal(vault_seal(fx->k, "sub_1", plain, sizes[i], &sealed, &slen), 0);
		assert_int_equal(slen, sizes[i] + VAULT_SEAL_OVERHEAD);
		assert_int_equal(sealed[0], 1);
		assert_int_equal(vault_open_record(fx->k, "sub_1", sealed, slen, &back, &blen), 0);
		assert_int_equal(blen, sizes[i]);
		assert_memory_equal(back, plain, sizes[i]);
		assert_int_equal(back[blen], 0);
		free(plain);
		free(sealed);
		free(back);
	}
}

static void test_seal_nonce_fresh(void **state)
{
	struct fx *fx = *state;
	uint8_t *a, *b;
	size_t al, bl;

	assert_int_equal(vault_seal(fx->k, "sub_1", "same", 4, &a, &al), 0);
	assert_int_equal(vault_seal(fx->k, "sub_1", "same", 4, &b, &bl), 0);
	assert_int_equal(al, bl);
	assert_memory_not_equal(a, b, al);
	free(a);
	free(b);
}

static void test_seal_tamper_every_byte(void **state)
{
	struct fx *fx = *state;
	static const char msg[] = "{\"email\":\"a@b.c\"}";
	uint8_t *sealed, *back = (uint8_t *)"x";
	size_t slen, blen = 7;

	assert_int_equal(vault_seal(fx->k, "sub_1", msg, sizeof(msg) - 1, &sealed, &slen), 0);
	for (size_t i = 0; i < slen; i++) {
		for (int bit = 0; bit < 8; bit++) {
			int rc;

			sealed[i] ^= (uint8_t)(1u << bit);
			rc = vault_open_record(fx->k, "sub_1", sealed, slen, &back, &blen);
			sealed[i] ^= (uint8_t)(1u << bit);
			assert_true(rc == INLET_ETAMPERED || rc == INLET_EINVAL);
			assert_null(back);
			assert_int_equal(blen, 0);
		}
	}
	/* Every truncation, and one byte too many. */
	for (size_t n = 0; n < slen; n++) {
		int rc = vault_open_record(fx->k, "sub_1", sealed, n, &back, &blen);

		assert_int_equal(rc, n < VAULT_SEAL_OVERHEAD ? INLET_EINVAL : INLET_ETAMPERED);
	}
	sealed = xrealloc(sealed, slen + 1);
	sealed[slen] = 0;
	assert_int_equal(vault_open_record(fx->k, "sub_1", sealed, slen + 1, &back, &blen),
			 INLET_ETAMPERED);
	/* The format byte is checked before anything else. */
	sealed[0] = 2;
	assert_int_equal(vault_open_record(fx->k, "sub_1", sealed, slen, &back, &blen), INLET_EINVAL);
	free(sealed);
}

static void test_seal_wrong_binding(void **state)
{
	struct fx *fx = *state;
	struct vault_key forged;
	uint8_t *sealed, *back;
	size_t slen, blen;

	assert_int_equal(vault_seal(fx->k, "sub_1", "hello", 5, &sealed, &slen), 0);
	assert_int_equal(vault_open_record(fx->k, "sub_2", sealed, slen, &back, &blen),
			 INLET_ETAMPERED);
	assert_int_equal(vault_open_record(fx->k, "sub_", sealed, slen, &back, &blen),
			 INLET_ETAMPERED);
	assert_int_equal(vault_open_record(fx->k, "", sealed, slen, &back, &blen), INLET_ETAMPERED);

	/* Same key bytes, other endpoint id: the AD alone must refuse. The
	 * length prefix keeps "ep_tes"+"tsub_1" apart from "ep_test"+"sub_1". */
	forged = *fx->k;
	snprintf(forged.eid, sizeof(forged.eid), "ep_other");
	forged.eid_len = (uint8_t)strlen(forged.eid);
	assert_int_equal(vault_open_record(&forged, "sub_1", sealed, slen, &back, &blen),
			 INLET_ETAMPERED);
	forged = *fx->k;
	forged.eid[6] = '\0';
	forged.eid_len = 6;
	assert_int_equal(vault_open_record(&forged, "tsub_1", sealed, slen, &back, &blen),
			 INLET_ETAMPERED);
	/* Same key bytes, other version. */
	forged = *fx->k;
	forged.version = 2;
	assert_int_equal(vault_open_record(&forged, "sub_1", sealed, slen, &back, &blen),
			 INLET_ETAMPERED);
	/* The handle itself still works. */
	assert_int_equal(vault_open_record(fx->k, "sub_1", sealed, slen, &back, &blen), 0);
	assert_memory_equal(back, "hello", 6);
	free(back);
	free(sealed);
}

static void test_seal_other_endpoint_key(void **state)
{
	struct fx *fx = *state;
	uint8_t wrapped[VAULT_WRAPPED_BYTES], *sealed, *back;
	struct vault_key *other;
	size_t slen, blen;

	assert_int_equal(vault_key_create(fx->v, "ep_other", 1, wrapped), 0);
	other = get_key(fx->v, "ep_other", 1, wrapped);
	assert_int_equal(vault_seal(fx->k, "sub_1", "hello", 5, &sealed, &slen), 0);
	assert_int_equal(vault_open_record(other, "sub_1", sealed, slen, &back, &blen),
			 INLET_ETAMPERED);
	vault_key_release(other);
	free(sealed);
}

/* ---- wrapped keys ---- */

static void test_wrapped_tamper(void **state)
{
	struct fx *fx = *state;
	uint8_t w[VAULT_WRAPPED_BYTES];
	struct vault_key *k = (struct vault_key *)1;
	uint64_t hits, misses;
	size_t entries, before;

	vault_cache_stats(fx->v, NULL, NULL, &before);
	assert_int_equal(vault_key_create(fx->v, "ep_w", 7, w), 0);
	assert_int_equal(w[0], 1);
	for (size_t i = 0; i < VAULT_WRAPPED_BYTES; i++) {
		w[i] ^= 0x20;
		assert_int_equal(vault_key_get(fx->v, "ep_w", 7, w, sizeof(w), &k), INLET_ETAMPERED);
		assert_null(k);
		w[i] ^= 0x20;
	}
	assert_int_equal(vault_key_get(fx->v, "ep_x", 7, w, sizeof(w), &k), INLET_ETAMPERED);
	assert_int_equal(vault_key_get(fx->v, "ep_", 7, w, sizeof(w), &k), INLET_ETAMPERED);
	assert_int_equal(vault_key_get(fx->v, "ep_w", 8, w, sizeof(w), &k), INLET_ETAMPERED);
	assert_int_equal(vault_key_get(fx->v, "ep_w", 7, w, sizeof(w) - 1, &k), INLET_EINVAL);
	assert_int_equal(vault_key_get(fx->v, "ep_w", 7, w, sizeof(w) + 1, &k), INLET_EINVAL);
	/* Nothing that failed was cached. */
	vault_cache_stats(fx->v, &hits, &misses, &entries);
	assert_int_equal(entries, before);
	/* Another master key cannot unwrap it. */
	{
		struct vault *vb = open_env(master_b, 4);

		assert_int_equal(vault_key_get(vb, "ep_w", 7, w, sizeof(w), &k), INLET_ETAMPERED);
		vault_destroy(vb);
	}
	/* The untouched blob still unwraps. */
	k = get_key(fx->v, "ep_w", 7, w);
	vault_key_release(k);
}

static void test_wrapped_differs_same_id(void **state)
{
	struct fx *fx = *state;
	uint8_t w1[VAULT_WRAPPED_BYTES], w2[VAULT_WRAPPED_BYTES], *sealed, *back;
	struct vault_key *k1, *k2;
	size_t slen, blen;

	/* An endpoint recreated under the same id and version: the cache must
	 * not hand out the old key for the new wrapped bytes. */
	assert_int_equal(vault_key_create(fx->v, "ep_re", 1, w1), 0);
	assert_int_equal(vault_key_create(fx->v, "ep_re", 1, w2), 0);
	k1 = get_key(fx->v, "ep_re", 1, w1);
	assert_int_equal(vault_seal(k1, "sub_1", "one", 3, &sealed, &slen), 0);
	k2 = get_key(fx->v, "ep_re", 1, w2);
	assert_ptr_not_equal(k1, k2);
	assert_int_equal(vault_open_record(k2, "sub_1", sealed, slen, &back, &blen), INLET_ETAMPERED);
	assert_int_equal(vault_open_record(k1, "sub_1", sealed, slen, &back, &blen), 0);
	free(back);
	free(sealed);
	vault_key_release(k1);
	vault_key_release(k2);
}

/* ---- streams ---- */

static size_t sealed_size(size_t n)
{
	/* Full chunks leave at once, so the last chunk is short or empty. */
	size_t chunks = n / VAULT_CHUNK_BYTES + 1;

	return 5 + chunks * (4 + 12 + 16) + n;
}

static void test_stream_roundtrip(void **state)
{
	struct fx *fx = *state;
	static const size_t sizes[] = { 0, 1, 65535, 65536, 65537, (1u << 20) + 3 };

	for (size_t i = 0; i < 6; i++) {
		uint8_t *plain = random_bytes(sizes[i]);
		struct gbuf sealed = { 0 }, back = { 0 };

		assert_int_equal(seal_file(fx->k, "sub_1", 3, plain, sizes[i], &sealed), 0);
		assert_int_equal(sealed.len, sealed_size(sizes[i]));
		assert_memory_equal(sealed.p, "\x01ILBF", 5);
		assert_int_equal(open_file(fx->k, "sub_1", 3, sealed.p, sealed.len, 7, &back), 0);
		assert_int_equal(back.len, sizes[i]);
		if (sizes[i])
			assert_memory_equal(back.p, plain, sizes[i]);
		/* One read of everything at once works the same. */
		back.len = 0;
		assert_int_equal(open_file(fx->k, "sub_1", 3, sealed.p, sealed.len, SIZE_MAX, &back), 0);
		assert_int_equal(back.len, sizes[i]);
		free(plain);
		gbuf_free(&sealed);
		gbuf_free(&back);
	}
}

/* Reads the whole file through a vault_reader, len bytes per call, into
 * out. Returns 0 at the end, else the reader's error, checking on the way
 * that every read stays within its buffer and that an error sticks. */
static int reader_all(const struct vault_key *k, const char *rid, uint32_t idx, const uint8_t *sealed,
		      size_t slen, size_t step, size_t len, struct gbuf *out)
{
	struct src s = { sealed, slen, 0, step };
	struct vault_reader *r = vault_reader_create(k, rid, idx, src_read, &s);
	uint8_t *buf = xmalloc(len);
	long n;

	while ((n = vault_reader_read(r, buf, len)) > 0) {
		assert_true((size_t)n <= len);
		gbuf_sink(out, buf, (size_t)n);
	}
	/* The end comes only once the source is exhausted. */
	if (n == 0)
		assert_int_equal(s.off, slen);
	/* The end, or the error, is what every later call says too. */
	assert_int_equal(vault_reader_read(r, buf, len), n);
	assert_int_equal(vault_reader_fill(r), (int)n);
	vault_reader_destroy(r);
	free(buf);
	return (int)n;
}

/* Opens a damaged copy of plain's sealed file both ways, push
 * (vault_open_stream) and pull (vault_reader with several buffer sizes),
 * and returns the result, which all must agree on. Whatever plaintext
 * came out before a failure is a prefix of plain: never a byte that was not
 * sealed, never more than was sealed. */
static int expect_fail(const struct vault_key *k, const uint8_t *plain, size_t plain_len,
		       const uint8_t *p, size_t len)
{
	static const size_t bufs[] = { 7, 4096, 100000 };
	struct gbuf back = { 0 };
	int rc = open_file(k, "sub_1", 0, p, len, 4096, &back);

	assert_true(back.len <= plain_len);
	if (back.len)
		assert_memory_equal(back.p, plain, back.len);
	for (size_t i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++) {
		back.len = 0;
		assert_int_equal(reader_all(k, "sub_1", 0, p, len, 4096, bufs[i], &back), rc);
		assert_true(back.len <= plain_len);
		if (back.len)
			assert_memory_equal(back.p, plain, back.len);
		if (rc == 0)
			assert_int_equal(back.len, plain_len);
	}
	gbuf_free(&back);
	return rc;
}

#define CHUNK_SEALED (4 + 12 + VAULT_CHUNK_BYTES + 16)

static void test_stream_tamper(void **state)
{
	struct fx *fx = *state;
	size_t n = 2 * VAULT_CHUNK_BYTES + 100, c0 = 5, c1 = c0 + CHUNK_SEALED, c2 = c1 + CHUNK_SEALED;
	uint8_t *plain = random_bytes(n), *t;
	struct gbuf s = { 0 }, back = { 0 };
	static const size_t cuts[] = { 0, 1, 4, 5, 6, 8, 9, 20, 5 + CHUNK_SEALED - 1 };

	assert_int_equal(seal_file(fx->k, "sub_1", 0, plain, n, &s), 0);
	assert_int_equal(s.len, c2 + 4 + 12 + 100 + 16);
	t = xmalloc(s.len + 2 * CHUNK_SEALED);

	/* Truncation anywhere, including exactly at a chunk boundary. */
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++)
		assert_int_not_equal(expect_fail(fx->k, plain, n, s.p, cuts[i]), 0);
	assert_int_equal(expect_fail(fx->k, plain, n, s.p, c1), INLET_ETAMPERED);
	assert_int_equal(expect_fail(fx->k, plain, n, s.p, c2), INLET_ETAMPERED);
	assert_int_equal(expect_fail(fx->k, plain, n, s.p, c2 + 3), INLET_ETAMPERED);
	assert_int_equal(expect_fail(fx->k, plain, n, s.p, s.len - 1), INLET_ETAMPERED);
	assert_int_equal(expect_fail(fx->k, plain, n, s.p, s.len - 16), INLET_ETAMPERED);

	/* Chunks 0 and 1 swapped (same length). */
	memcpy(t, s.p, s.len);
	memcpy(t + c0, s.p + c1, CHUNK_SEALED);
	memcpy(t + c1, s.p + c0, CHUNK_SEALED);
	assert_int_equal(expect_fail(fx->k, plain, n, t, s.len), INLET_ETAMPERED);

	/* Chunk 1 dropped. */
	memcpy(t, s.p, c1);
	memcpy(t + c1, s.p + c2, s.len - c2);
	assert_int_equal(expect_fail(fx->k, plain, n, t, s.len - CHUNK_SEALED), INLET_ETAMPERED);

	/* Chunk 0 duplicated. */
	memcpy(t, s.p, c1);
	memcpy(t + c1, s.p + c0, s.len - c0);
	assert_int_equal(expect_fail(fx->k, plain, n, t, s.len + CHUNK_SEALED), INLET_ETAMPERED);

	/* Trailing bytes: 1, 4 (a whole length), 100, and a copy of the last chunk. */
	memcpy(t, s.p, s.len);
	memset(t + s.len, 0, 100);
	assert_int_equal(expect_fail(fx->k, plain, n, t, s.len + 1), INLET_ETAMPERED);
	assert_int_equal(expect_fail(fx->k, plain, n, t, s.len + 4), INLET_ETAMPERED);
	assert_int_equal(expect_fail(fx->k, plain, n, t, s.len + 100), INLET_ETAMPERED);
	memcpy(t + s.len, s.p + c2, s.len - c2);
	assert_int_equal(expect_fail(fx->k, plain, n, t, s.len + (s.len - c2)), INLET_ETAMPERED);

	/* A length over one chunk is refused before anything is read. */
	memcpy(t, s.p, s.len);
	vault__put_be32(t + c0, VAULT_CHUNK_BYTES + 1);
	assert_int_equal(expect_fail(fx->k, plain, n, t, s.len), INLET_ETAMPERED);
	vault__put_be32(t + c0, 0xffffffffu);
	assert_int_equal(expect_fail(fx->k, plain, n, t, s.len), INLET_ETAMPERED);

	/* Flipped bytes here and there: header, lengths, nonces, bodies, tags. */
	{
		const size_t at[] = { 0, 1, 4, c0, c0 + 3, c0 + 4, c0 + 15, c0 + 16, c0 + 1000,
				      c1 - 1, c1 + 3, c1 + 20, c2, c2 + 3, c2 + 16, c2 + 50, s.len - 1 };

		for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
			memcpy(t, s.p, s.len);
			t[at[i]] ^= 0x01;
			assert_int_not_equal(expect_fail(fx->k, plain, n, t, s.len), 0);
		}
	}

	/* Another file index, record id or endpoint cannot open it. */
	assert_int_equal(open_file(fx->k, "sub_1", 1, s.p, s.len, 4096, &back), INLET_ETAMPERED);
	back.len = 0;
	assert_int_equal(open_file(fx->k, "sub_2", 0, s.p, s.len, 4096, &back), INLET_ETAMPERED);
	back.len = 0;
	{
		struct vault_key forged = *fx->k;

		forged.version = 9;
		assert_int_equal(open_file(&forged, "sub_1", 0, s.p, s.len, 4096, &back),
				 INLET_ETAMPERED);
	}
	/* And the original still opens. */
	back.len = 0;
	assert_int_equal(open_file(fx->k, "sub_1", 0, s.p, s.len, 4096, &back), 0);
	assert_int_equal(back.len, n);
	assert_memory_equal(back.p, plain, n);

	free(t);
	free(plain);
	gbuf_free(&s);
	gbuf_free(&back);
}

static void test_stream_small_every_byte(void **state)
{
	struct fx *fx = *state;
	struct gbuf s = { 0 };

	/* Empty file: header + one empty last chunk. */
	assert_int_equal(seal_file(fx->k, "sub_1", 0, NULL, 0, &s), 0);
	assert_int_equal(s.len, 5 + 4 + 12 + 16);
	assert_memory_equal(s.p + 5, "\0\0\0\0", 4);
	gbuf_free(&s);

	assert_int_equal(seal_file(fx->k, "sub_1", 0, (const uint8_t *)"0123456789", 10, &s), 0);
	for (size_t i = 0; i < s.len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			int rc;

			s.p[i] ^= (uint8_t)(1u << bit);
			rc = expect_fail(fx->k, (const uint8_t *)"0123456789", 10, s.p, s.len);
			s.p[i] ^= (uint8_t)(1u << bit);
			assert_true(rc == INLET_ETAMPERED || rc == INLET_EINVAL);
		}
	}
	for (size_t n = 0; n < s.len; n++)
		assert_int_not_equal(expect_fail(fx->k, (const uint8_t *)"0123456789", 10, s.p, n), 0);
	assert_int_equal(expect_fail(fx->k, (const uint8_t *)"0123456789", 10, s.p, s.len), 0);
	gbuf_free(&s);
}

static int failing_sink(void *ctx, const void *data, size_t len)
{
	int *calls = ctx;

	return ++*calls >= 2 ? INLET_EIO : 0;
}

static long failing_source(void *ctx, void *buf, size_t len)
{
	return INLET_EBUSY;
}

static void test_stream_errors(void **state)
{
	struct fx *fx = *state;
	struct vault_writer *w;
	struct gbuf s = { 0 };
	char long_id[300];
	int calls = 0;
	uint8_t *big = random_bytes(3 * VAULT_CHUNK_BYTES);

	/* A sink error stops the writer and sticks. */
	w = vault_writer_create(fx->k, "sub_1", 0, failing_sink, &calls);
	assert_int_equal(vault_writer_write(w, big, 3 * VAULT_CHUNK_BYTES), INLET_EIO);
	assert_int_equal(vault_writer_write(w, big, 1), INLET_EIO);
	assert_int_equal(vault_writer_finish(w), INLET_EIO);
	vault_writer_destroy(w);

	/* Writing after finish is a caller bug. */
	w = vault_writer_create(fx->k, "sub_1", 0, gbuf_sink, &s);
	assert_int_equal(vault_writer_finish(w), 0);
	assert_int_equal(vault_writer_write(w, "x", 1), INLET_EINVAL);
	vault_writer_destroy(w);
	vault_writer_destroy(NULL);

	/* A record id too long for its u8 length: creation still returns a
	 * writer, the first call reports it. */
	memset(long_id, 'r', sizeof(long_id) - 1);
	long_id[sizeof(long_id) - 1] = '\0';
	w = vault_writer_create(fx->k, long_id, 0, gbuf_sink, &s);
	assert_non_null(w);
	assert_int_equal(vault_writer_write(w, "x", 1), INLET_EINVAL);
	vault_writer_destroy(w);

	/* Source and sink errors on the reading side are passed up. */
	s.len = 0;
	assert_int_equal(seal_file(fx->k, "sub_1", 0, big, 3 * VAULT_CHUNK_BYTES, &s), 0);
	calls = 0;
	{
		struct src src = { s.p, s.len, 0, 4096 };

		assert_int_equal(vault_open_stream(fx->k, "sub_1", 0, src_read, &src, failing_sink,
						   &calls),
				 INLET_EIO);
		assert_int_equal(calls, 2);
	}
	assert_int_equal(vault_open_stream(fx->k, "sub_1", 0, failing_source, NULL, gbuf_sink, &s),
			 INLET_EBUSY);
	free(big);
	gbuf_free(&s);
}

/* ---- the pull-style reader ---- */

static void test_reader_roundtrip(void **state)
{
	struct fx *fx = *state;
	static const size_t sizes[] = { 0, 1, 65535, 65536, 65537, (1u << 20) + 3 };
	static const size_t bufs[] = { 1, 7, 4096, 100000 };
	static const size_t steps[] = { 7, SIZE_MAX };

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint8_t *plain = random_bytes(sizes[i]);
		struct gbuf sealed = { 0 }, back = { 0 };

		assert_int_equal(seal_file(fx->k, "sub_1", 3, plain, sizes[i], &sealed), 0);
		for (size_t b = 0; b < sizeof(bufs) / sizeof(bufs[0]); b++) {
			for (size_t st = 0; st < sizeof(steps) / sizeof(steps[0]); st++) {
				back.len = 0;
				assert_int_equal(reader_all(fx->k, "sub_1", 3, sealed.p, sealed.len,
							    steps[st], bufs[b], &back),
						 0);
				assert_int_equal(back.len, sizes[i]);
				if (sizes[i])
					assert_memory_equal(back.p, plain, sizes[i]);
			}
		}
		/* Bound to its file: another index or record id gives nothing. */
		back.len = 0;
		assert_int_equal(reader_all(fx->k, "sub_1", 4, sealed.p, sealed.len, 4096, 4096, &back),
				 INLET_ETAMPERED);
		assert_int_equal(reader_all(fx->k, "sub_2", 3, sealed.p, sealed.len, 4096, 4096, &back),
				 INLET_ETAMPERED);
		assert_int_equal(back.len, 0);
		free(plain);
		gbuf_free(&sealed);
		gbuf_free(&back);
	}
}

/* The reader pulls one chunk (and the next length) at a time, and fill
 * authenticates without consuming. */
static void test_reader_lazy(void **state)
{
	struct fx *fx = *state;
	size_t n = 3 * VAULT_CHUNK_BYTES + 10;
	/* One spare byte, so a read at the end still offers room. */
	uint8_t *plain = random_bytes(n), *buf = xmalloc(n + 1);
	struct gbuf s = { 0 };
	struct src src;
	struct vault_reader *r;
	size_t total = 0;
	long got;

	assert_int_equal(seal_file(fx->k, "sub_1", 0, plain, n, &s), 0);
	src = (struct src){ s.p, s.len, 0, SIZE_MAX };
	r = vault_reader_create(fx->k, "sub_1", 0, src_read, &src);
	assert_int_equal(src.off, 0); /* creation reads nothing */
	assert_int_equal(vault_reader_fill(r), 0);
	assert_int_equal(src.off, 5 + CHUNK_SEALED + 4);
	assert_int_equal(vault_reader_fill(r), 0);
	assert_int_equal(src.off, 5 + CHUNK_SEALED + 4);
	/* Nothing was consumed: the first read starts at byte 0, and a large
	 * buffer still gets at most the one chunk held. */
	got = vault_reader_read(r, buf, n);
	assert_int_equal(got, VAULT_CHUNK_BYTES);
	assert_memory_equal(buf, plain, VAULT_CHUNK_BYTES);
	assert_int_equal(src.off, 5 + CHUNK_SEALED + 4);
	total = (size_t)got;
	while ((got = vault_reader_read(r, buf + total, n + 1 - total)) > 0) {
		total += (size_t)got;
		/* Never more than one chunk beyond what was handed out. */
		assert_true(src.off <= 5 + (total / VAULT_CHUNK_BYTES + 1) * CHUNK_SEALED + 4);
	}
	assert_int_equal(got, 0);
	assert_int_equal(total, n);
	assert_memory_equal(buf, plain, n);
	assert_int_equal(src.off, s.len);
	vault_reader_destroy(r);

	/* A tampered first chunk fails at fill, before any plaintext. */
	s.p[5 + 4 + 12 + 100] ^= 1;
	src = (struct src){ s.p, s.len, 0, SIZE_MAX };
	r = vault_reader_create(fx->k, "sub_1", 0, src_read, &src);
	assert_int_equal(vault_reader_fill(r), INLET_ETAMPERED);
	assert_int_equal(vault_reader_read(r, buf, 1), INLET_ETAMPERED);
	vault_reader_destroy(r);
	s.p[5 + 4 + 12 + 100] ^= 1;

	/* A tampered third chunk: two chunks of plaintext, then the error. */
	s.p[5 + 2 * CHUNK_SEALED + 4 + 12 + 100] ^= 1;
	src = (struct src){ s.p, s.len, 0, SIZE_MAX };
	r = vault_reader_create(fx->k, "sub_1", 0, src_read, &src);
	assert_int_equal(vault_reader_fill(r), 0);
	total = 0;
	while ((got = vault_reader_read(r, buf + total, 1000)) > 0)
		total += (size_t)got;
	assert_int_equal(got, INLET_ETAMPERED);
	assert_int_equal(total, 2 * VAULT_CHUNK_BYTES);
	assert_memory_equal(buf, plain, total);
	vault_reader_destroy(r);

	/* An empty file: fill verifies the end, read says so. */
	s.len = 0;
	assert_int_equal(seal_file(fx->k, "sub_1", 0, NULL, 0, &s), 0);
	src = (struct src){ s.p, s.len, 0, SIZE_MAX };
	r = vault_reader_create(fx->k, "sub_1", 0, src_read, &src);
	assert_int_equal(vault_reader_fill(r), 0);
	assert_int_equal(src.off, s.len);
	assert_int_equal(vault_reader_read(r, buf, 1), 0);
	vault_reader_destroy(r);

	free(plain);
	free(buf);
	gbuf_free(&s);
}

static void test_reader_errors(void **state)
{
	struct fx *fx = *state;
	struct vault_reader *r;
	struct gbuf s = { 0 };
	struct src src;
	char long_id[300], c;

	vault_reader_destroy(NULL);

	/* Bad arguments surface at the first call and stick. */
	memset(long_id, 'r', sizeof(long_id) - 1);
	long_id[sizeof(long_id) - 1] = '\0';
	r = vault_reader_create(fx->k, long_id, 0, src_read, &src);
	assert_non_null(r);
	assert_int_equal(vault_reader_read(r, &c, 1), INLET_EINVAL);
	assert_int_equal(vault_reader_fill(r), INLET_EINVAL);
	vault_reader_destroy(r);
	r = vault_reader_create(NULL, "sub_1", 0, src_read, &src);
	assert_int_equal(vault_reader_read(r, &c, 1), INLET_EINVAL);
	vault_reader_destroy(r);
	r = vault_reader_create(fx->k, "sub_1", 0, NULL, NULL);
	assert_int_equal(vault_reader_read(r, &c, 1), INLET_EINVAL);
	vault_reader_destroy(r);

	/* A source error is passed up and sticks. */
	r = vault_reader_create(fx->k, "sub_1", 0, failing_source, NULL);
	assert_int_equal(vault_reader_read(r, &c, 1), INLET_EBUSY);
	assert_int_equal(vault_reader_read(r, &c, 1), INLET_EBUSY);
	vault_reader_destroy(r);

	/* A zero-length read cannot say "end", so it is refused, harmlessly. */
	assert_int_equal(seal_file(fx->k, "sub_1", 0, (const uint8_t *)"ab", 2, &s), 0);
	src = (struct src){ s.p, s.len, 0, 1 };
	r = vault_reader_create(fx->k, "sub_1", 0, src_read, &src);
	assert_int_equal(vault_reader_read(r, &c, 0), INLET_EINVAL);
	assert_int_equal(vault_reader_read(r, &c, 1), 1);
	assert_int_equal(c, 'a');
	assert_int_equal(vault_reader_read(r, &c, 0), INLET_EINVAL);
	assert_int_equal(vault_reader_read(r, &c, 1), 1);
	assert_int_equal(c, 'b');
	assert_int_equal(vault_reader_read(r, &c, 1), 0);
	vault_reader_destroy(r);

	/* Another format's header. */
	s.p[0] = 2;
	src = (struct src){ s.p, s.len, 0, SIZE_MAX };
	r = vault_reader_create(fx->k, "sub_1", 0, src_read, &src);
	assert_int_equal(vault_reader_read(r, &c, 1), INLET_EINVAL);
	vault_reader_destroy(r);
	gbuf_free(&s);
}

/* ---- the documented formats, rebuilt here byte by byte ---- */

static size_t put(uint8_t *ad, size_t o, const void *p, size_t n)
{
	memcpy(ad + o, p, n);
	return o + n;
}

static size_t put32(uint8_t *ad, size_t o, uint32_t v)
{
	vault__put_be32(ad + o, v);
	return o + 4;
}

static size_t put64(uint8_t *ad, size_t o, uint64_t v)
{
	vault__put_be64(ad + o, v);
	return o + 8;
}

static void test_formats_by_hand(void **state)
{
	static const uint8_t data_key[32] = { 9, 8, 7, 6, 5, 4, 3, 2, 1 };
	struct vault *v = open_env(master_a, 4);
	uint8_t master[32], wrapped[VAULT_WRAPPED_BYTES], ad[600], *buf, *back;
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	struct vault_key *k;
	struct vault__ad a;
	struct gbuf out = { 0 };
	size_t n = 0, o, blen;
	const size_t flen = VAULT_CHUNK_BYTES;

	assert_int_equal(b64_decode(master, sizeof(master), &n, master_a, strlen(master_a)), 0);

	/* wrapped key = 0x01 | nonce | ct(32) | tag, ad = "inlet-key-v1" | u32 version | id */
	o = put(ad, 0, "inlet-key-v1", 12);
	o = put32(ad, o, 5);
	o = put(ad, o, "ep_h", 4);
	a = (struct vault__ad){ ad, o };
	wrapped[0] = 1;
	memset(wrapped + 1, 0xaa, 12);
	assert_int_equal(vault__gcm_seal(ctx, master, wrapped + 1, &a, 1, data_key, wrapped + 13, 32,
					 wrapped + 45),
			 0);
	k = get_key(v, "ep_h", 5, wrapped);

	/* sealed record = 0x01 | nonce | ct | tag,
	 * ad = "inlet-rec-v1" | u32 version | u8 len | endpoint id | record id */
	o = put(ad, 0, "inlet-rec-v1", 12);
	o = put32(ad, o, 5);
	ad[o++] = 4;
	o = put(ad, o, "ep_h", 4);
	o = put(ad, o, "sub_9", 5);
	a = (struct vault__ad){ ad, o };
	buf = xmalloc(5 + VAULT_SEAL_OVERHEAD);
	buf[0] = 1;
	memset(buf + 1, 0xbb, 12);
	assert_int_equal(vault__gcm_seal(ctx, data_key, buf + 1, &a, 1, (const uint8_t *)"hello",
					 buf + 13, 5, buf + 18),
			 0);
	assert_int_equal(vault_open_record(k, "sub_9", buf, 5 + VAULT_SEAL_OVERHEAD, &back, &blen), 0);
	assert_memory_equal(back, "hello", 6);
	free(back);
	free(buf);

	/* A file whose last chunk is full (the format allows it; our writer
	 * never makes one): header | u32 len | nonce | ct | tag,
	 * ad = "inlet-blob-v1" | u32 version | u8 len | id | u8 len | record id
	 *      | u32 file index | u64 chunk index | u8 last */
	o = put(ad, 0, "inlet-blob-v1", 13);
	o = put32(ad, o, 5);
	ad[o++] = 4;
	o = put(ad, o, "ep_h", 4);
	ad[o++] = 5;
	o = put(ad, o, "sub_9", 5);
	o = put32(ad, o, 2);
	o = put64(ad, o, 0);
	ad[o++] = 1;
	a = (struct vault__ad){ ad, o };
	buf = xmalloc(5 + 4 + 12 + flen + 16);
	memcpy(buf, "\x01ILBF", 5);
	vault__put_be32(buf + 5, (uint32_t)flen);
	memset(buf + 9, 0xcc, 12);
	memset(buf + 21, 'z', flen);
	assert_int_equal(vault__gcm_seal(ctx, data_key, buf + 9, &a, 1, buf + 21, buf + 21, flen,
					 buf + 21 + flen),
			 0);
	assert_int_equal(open_file(k, "sub_9", 2, buf, 5 + 4 + 12 + flen + 16, 7, &out), 0);
	assert_int_equal(out.len, flen);
	assert_int_equal(out.p[0], 'z');
	assert_int_equal(out.p[flen - 1], 'z');
	free(buf);
	gbuf_free(&out);

	vault_key_release(k);
	EVP_CIPHER_CTX_free(ctx);
	vault_destroy(v);
}

/* ---- master key ---- */

static char *make_tmpdir(void)
{
	char *d = xstrdup("/tmp/inlet-vault-XXXXXX");

	assert_non_null(mkdtemp(d));
	return d;
}

static void rm_tmpdir(char *d)
{
	DIR *dir = opendir(d);
	struct dirent *e;

	assert_non_null(dir);
	while ((e = readdir(dir))) {
		char *p;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		p = xasprintf("%s/%s", d, e->d_name);
		if (unlink(p))
			rmdir(p);
		free(p);
	}
	closedir(dir);
	assert_int_equal(rmdir(d), 0);
	free(d);
}

static void write_text(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, mode), 0);
}

static void test_master_file(void **state)
{
	char *dir = make_tmpdir(), *path = xasprintf("%s/master.key", dir);
	uint8_t w[VAULT_WRAPPED_BYTES], *sealed, *back, key[33];
	struct vault *v;
	struct vault_key *k;
	struct stat st;
	char text[128];
	size_t slen, blen, klen;
	FILE *f;

	log_set_level(LOG_ERROR); /* the creation warning is expected */
	v = NULL;
	assert_int_equal(vault_open(&v, dir, NULL, 4), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(text, sizeof(text), f));
	fclose(f);
	assert_int_equal(strlen(text), 45);
	assert_int_equal(text[44], '\n');
	assert_int_equal(b64_decode(key, sizeof(key), &klen, text, 44), 0);
	assert_int_equal(klen, 32);

	assert_int_equal(vault_key_create(v, "ep_f", 1, w), 0);
	k = get_key(v, "ep_f", 1, w);
	assert_int_equal(vault_seal(k, "sub_1", "kept", 4, &sealed, &slen), 0);
	vault_key_release(k);
	vault_destroy(v);

	/* Reopened from the file: the same key. */
	assert_int_equal(vault_open(&v, dir, NULL, 4), 0);
	k = get_key(v, "ep_f", 1, w);
	assert_int_equal(vault_open_record(k, "sub_1", sealed, slen, &back, &blen), 0);
	assert_memory_equal(back, "kept", 5);
	free(back);
	vault_key_release(k);
	vault_destroy(v);

	/* The same key given as base64 (the file's text, newline and all). */
	assert_int_equal(vault_open(&v, NULL, text, 4), 0);
	k = get_key(v, "ep_f", 1, w);
	vault_key_release(k);
	vault_destroy(v);

	/* A wider mode still opens (with a warning). */
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(vault_open(&v, dir, NULL, 4), 0);
	vault_destroy(v);

	/* The environment key wins over the file. */
	assert_int_equal(vault_open(&v, dir, master_a, 4), 0);
	assert_int_equal(vault_key_get(v, "ep_f", 1, w, sizeof(w), &k), INLET_ETAMPERED);
	vault_destroy(v);

	/* Only the key file is left behind: no temp files. */
	{
		DIR *d = opendir(dir);
		struct dirent *e;
		int n = 0;

		while ((e = readdir(d)))
			n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
		closedir(d);
		assert_int_equal(n, 1);
	}
	free(sealed);
	free(path);
	rm_tmpdir(dir);
	log_set_level(LOG_INFO);
}

static void test_master_env_no_file(void **state)
{
	char *dir = make_tmpdir(), *path = xasprintf("%s/master.key", dir);
	struct vault *v = NULL;
	struct stat st;

	assert_int_equal(vault_open(&v, dir, master_b, 1), 0);
	assert_int_equal(stat(path, &st), -1);
	assert_int_equal(errno, ENOENT);
	vault_destroy(v);
	free(path);
	rm_tmpdir(dir);
}

static void test_master_bad(void **state)
{
	char *dir = make_tmpdir(), *path = xasprintf("%s/master.key", dir);
	struct vault *v = (struct vault *)1;
	char b64[64];
	uint8_t raw[33] = { 0 };

	log_set_level(LOG_ERROR + 1); /* errors below are expected */
	assert_int_equal(vault_open(&v, dir, "abc", 1), INLET_EINVAL);
	assert_null(v);
	assert_int_equal(vault_open(&v, dir, "", 1), INLET_EINVAL);
	assert_int_equal(vault_open(&v, dir, "not base64 at all!!", 1), INLET_EINVAL);
	b64_encode(b64, raw, 31);
	assert_int_equal(vault_open(&v, dir, b64, 1), INLET_EINVAL);
	b64_encode(b64, raw, 33);
	assert_int_equal(vault_open(&v, dir, b64, 1), INLET_EINVAL);
	assert_int_equal(vault_open(&v, dir, master_a, 0), INLET_EINVAL);

	/* Bad file content. */
	write_text(path, "hello\n", 0600);
	assert_int_equal(vault_open(&v, dir, NULL, 1), INLET_EINVAL);
	b64_encode(b64, raw, 31);
	write_text(path, b64, 0600);
	assert_int_equal(vault_open(&v, dir, NULL, 1), INLET_EINVAL);
	write_text(path, "", 0600);
	assert_int_equal(vault_open(&v, dir, NULL, 1), INLET_EINVAL);
	unlink(path);

	/* Unreadable: a directory in its place, a dangling symlink, no data
	 * directory at all. (Mode 000 means nothing to root, who runs CI.) */
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(vault_open(&v, dir, NULL, 1), INLET_EIO);
	rmdir(path);
	assert_int_equal(symlink("/nonexistent/inlet-key", path), 0);
	assert_int_equal(vault_open(&v, dir, NULL, 1), INLET_EIO);
	unlink(path);
	assert_int_equal(vault_open(&v, "/nonexistent/inlet-dir", NULL, 1), INLET_EIO);
	if (geteuid() != 0) {
		write_text(path, master_a, 0000);
		assert_int_equal(vault_open(&v, dir, NULL, 1), INLET_EIO);
		unlink(path);
	}
	log_set_level(LOG_INFO);
	free(path);
	rm_tmpdir(dir);
}

/* ---- cache ---- */

static void stats_are(struct vault *v, uint64_t hits, uint64_t misses, size_t entries)
{
	uint64_t h, m;
	size_t e;

	vault_cache_stats(v, &h, &m, &e);
	assert_int_equal(h, hits);
	assert_int_equal(m, misses);
	assert_int_equal(e, entries);
}

/* Gets ep_<i>'s key, opens its record, releases. */
static void use_key(struct vault *v, int i, const uint8_t *w, const uint8_t *sealed, size_t slen)
{
	struct vault_key *k;
	uint8_t *back;
	size_t blen;
	char eid[16];

	snprintf(eid, sizeof(eid), "ep_%d", i);
	k = get_key(v, eid, 1, w);
	assert_int_equal(vault_open_record(k, "sub_1", sealed, slen, &back, &blen), 0);
	assert_int_equal(blen, strlen(eid));
	assert_memory_equal(back, eid, blen);
	free(back);
	vault_key_release(k);
}

static void test_cache_eviction(void **state)
{
	struct vault *v = open_env(master_a, 2);
	uint8_t w[5][VAULT_WRAPPED_BYTES], *sealed[5];
	size_t slen[5];
	char eid[16];

	for (int i = 0; i < 5; i++) {
		struct vault_key *k;

		snprintf(eid, sizeof(eid), "ep_%d", i);
		assert_int_equal(vault_key_create(v, eid, 1, w[i]), 0);
		k = get_key(v, eid, 1, w[i]);
		assert_int_equal(vault_seal(k, "sub_1", eid, strlen(eid), &sealed[i], &slen[i]), 0);
		vault_key_release(k);
	}
	stats_are(v, 0, 5, 2);

	/* Backwards from ep_4: ep_4 and ep_3 are cached, the rest are not. */
	for (int i = 4; i >= 0; i--)
		use_key(v, i, w[i], sealed[i], slen[i]);
	stats_are(v, 2, 8, 2);
	/* Cached now: ep_0, ep_1. A cycle of five through two slots hits
	 * those two and then never again. */
	for (int round = 0; round < 2; round++)
		for (int i = 0; i < 5; i++)
			use_key(v, i, w[i], sealed[i], slen[i]);
	stats_are(v, 4, 16, 2);
	/* Back to back: one miss, then hits. */
	for (int i = 0; i < 3; i++)
		use_key(v, 0, w[0], sealed[0], slen[0]);
	stats_are(v, 6, 17, 2);
	/* Forget drops it; the next get unwraps again. */
	vault_key_forget(v, "ep_0", 1);
	vault_key_forget(v, "ep_none", 1);
	stats_are(v, 6, 17, 1);
	use_key(v, 0, w[0], sealed[0], slen[0]);
	stats_are(v, 6, 18, 2);

	for (int i = 0; i < 5; i++)
		free(sealed[i]);
	vault_destroy(v);
}

static void test_cache_refcount(void **state)
{
	struct vault *v = open_env(master_a, 1);
	uint8_t w0[VAULT_WRAPPED_BYTES], w1[VAULT_WRAPPED_BYTES], *sealed, *back;
	struct vault_key *k0, *k1, *again;
	size_t slen, blen, entries;

	assert_int_equal(vault_key_create(v, "ep_0", 1, w0), 0);
	assert_int_equal(vault_key_create(v, "ep_1", 1, w1), 0);
	k0 = get_key(v, "ep_0", 1, w0);
	assert_int_equal(vault_seal(k0, "sub_1", "held", 4, &sealed, &slen), 0);
	/* ep_1 takes the only slot; k0 is evicted but still held. */
	k1 = get_key(v, "ep_1", 1, w1);
	vault_cache_stats(v, NULL, NULL, &entries);
	assert_int_equal(entries, 1);
	assert_int_equal(vault_open_record(k0, "sub_1", sealed, slen, &back, &blen), 0);
	assert_memory_equal(back, "held", 5);
	free(back);
	free(sealed);
	assert_int_equal(vault_seal(k0, "sub_2", "more", 4, &sealed, &slen), 0);
	/* Forgetting a held key leaves the handle usable too. */
	vault_key_forget(v, "ep_1", 1);
	vault_cache_stats(v, NULL, NULL, &entries);
	assert_int_equal(entries, 0);
	assert_int_equal(vault_seal(k1, "sub_3", "x", 1, &back, &blen), 0);
	free(back);
	/* A fresh get of ep_0 is a new cached entry, same key material. */
	again = get_key(v, "ep_0", 1, w0);
	assert_int_equal(vault_open_record(again, "sub_2", sealed, slen, &back, &blen), 0);
	free(back);
	free(sealed);
	vault_key_release(k0); /* the evicted one: wiped and freed here */
	vault_key_release(k1);
	vault_key_release(again);
	vault_key_release(NULL);
	vault_destroy(v);
	vault_destroy(NULL);
}

/* ---- threads ---- */

#define THREADS 4
#define ROUNDS 300
#define TENDP 3

struct tctx {
	struct vault *v;
	uint8_t (*w)[VAULT_WRAPPED_BYTES];
	int id, failures;
};

static void *worker(void *arg)
{
	struct tctx *t = arg;
	char eid[16], rid[32];

	for (int i = 0; i < ROUNDS; i++) {
		int e = (t->id + i) % TENDP;
		struct vault_key *k = NULL;
		uint8_t plain[300], *sealed = NULL, *back = NULL;
		size_t n = (size_t)(i * 7 + t->id) % sizeof(plain), slen, blen;

		snprintf(eid, sizeof(eid), "ep_%d", e);
		snprintf(rid, sizeof(rid), "sub_%d_%d", t->id, i);
		rand_bytes(plain, n);
		if (vault_key_get(t->v, eid, 1, t->w[e], VAULT_WRAPPED_BYTES, &k) ||
		    vault_seal(k, rid, plain, n, &sealed, &slen) ||
		    vault_open_record(k, rid, sealed, slen, &back, &blen) || blen != n ||
		    memcmp(back, plain, n) != 0)
			t->failures++;
		if (i % 50 == 0) {
			struct gbuf s = { 0 }, b = { 0 };
			size_t fl = VAULT_CHUNK_BYTES + (size_t)i;
			uint8_t *fp = random_bytes(fl);

			if (!k || seal_file(k, rid, (uint32_t)i, fp, fl, &s) ||
			    open_file(k, rid, (uint32_t)i, s.p, s.len, 1000, &b) || b.len != fl ||
			    memcmp(b.p, fp, fl) != 0)
				t->failures++;
			free(fp);
			gbuf_free(&s);
			gbuf_free(&b);
		}
		if (i % 97 == 0)
			vault_key_forget(t->v, eid, 1);
		free(sealed);
		free(back);
		vault_key_release(k);
	}
	return NULL;
}

static void test_threads(void **state)
{
	struct vault *v = open_env(master_a, 2);
	uint8_t w[TENDP][VAULT_WRAPPED_BYTES];
	struct tctx t[THREADS];
	pthread_t th[THREADS];
	uint64_t hits, misses;
	char eid[16];

	for (int e = 0; e < TENDP; e++) {
		snprintf(eid, sizeof(eid), "ep_%d", e);
		assert_int_equal(vault_key_create(v, eid, 1, w[e]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		t[i] = (struct tctx){ v, w, i, 0 };
		assert_int_equal(pthread_create(&th[i], NULL, worker, &t[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(t[i].failures, 0);
	}
	vault_cache_stats(v, &hits, &misses, NULL);
	assert_int_equal(hits + misses, THREADS * ROUNDS);
	vault_destroy(v);
}

/* ---- hashes, tokens, passwords ---- */

static void hex_is(const uint8_t *b, const char *want)
{
	char hex[65];

	hex_encode(hex, b, 32);
	assert_string_equal(hex, want);
}

/* ---- boxes ---- */

static void test_box(void **state)
{
	struct fx *fx = *state;
	struct vault *other = open_env(master_b, 4);
	const char *link = "https://inlet.example/#/invite/inlet_iv_secret";
	char *box = NULL, *back = NULL, *box2 = NULL;
	uint8_t raw[VAULT_BOX_MAX + VAULT_SEAL_OVERHEAD];
	size_t n = 0;

	assert_int_equal(vault_box_seal(fx->v, "invite-link", "inv_1", link, strlen(link), &box), 0);
	assert_null(strstr(box, "inlet_iv_secret"));
	assert_int_equal(vault_box_open(fx->v, "invite-link", "inv_1", box, &back), 0);
	assert_string_equal(back, link);
	free(back);
	/* Fresh nonces: the same secret twice gives two boxes. */
	assert_int_equal(vault_box_seal(fx->v, "invite-link", "inv_1", link, strlen(link), &box2), 0);
	assert_string_not_equal(box, box2);
	free(box2);
	box2 = NULL;
	/* Another row, purpose or master key: no opening. */
	assert_int_equal(vault_box_open(fx->v, "invite-link", "inv_2", box, &back), INLET_ETAMPERED);
	assert_null(back);
	assert_int_equal(vault_box_open(fx->v, "other", "inv_1", box, &back), INLET_ETAMPERED);
	assert_int_equal(vault_box_open(other, "invite-link", "inv_1", box, &back), INLET_ETAMPERED);
	/* Every changed byte is caught. */
	assert_int_equal(b64_decode(raw, sizeof(raw), &n, box, strlen(box)), 0);
	for (size_t i = 1; i < n; i++) {
		char *b64 = xmalloc(b64url_encoded_size(n));

		raw[i] ^= 0x01;
		b64url_encode(b64, raw, n);
		assert_int_equal(vault_box_open(fx->v, "invite-link", "inv_1", b64, &back), INLET_ETAMPERED);
		raw[i] ^= 0x01;
		free(b64);
	}
	/* Not a box at all, and bad arguments. */
	assert_int_equal(vault_box_open(fx->v, "invite-link", "inv_1", "AAAA", &back), INLET_EINVAL);
	assert_int_equal(vault_box_open(fx->v, "invite-link", "inv_1", "not base64!", &back), INLET_EINVAL);
	assert_int_equal(vault_box_seal(fx->v, "", "inv_1", link, strlen(link), &box2), INLET_EINVAL);
	assert_null(box2);
	free(box);
	vault_destroy(other);
}

static void test_hashes(void **state)
{
	struct fx *fx = *state;
	uint8_t out[32], a[32], b[32], master[32];
	size_t n = 0;
	char msg[64];

	vault_sha256("abc", 3, out);
	hex_is(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	vault_sha256(NULL, 0, out);
	hex_is(out, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	/* RFC 4231 test case 2 */
	vault_hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, out);
	hex_is(out, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");

	assert_true(vault_ct_equal("abcd", "abcd", 4));
	assert_false(vault_ct_equal("abcd", "abce", 4));
	assert_true(vault_ct_equal("a", "b", 0));

	/* derive = HMAC-SHA256(master, "inlet-derive-v1" | label) */
	vault_derive(fx->v, "pubid", a);
	vault_derive(fx->v, "other", b);
	assert_memory_not_equal(a, b, 32);
	assert_int_equal(b64_decode(master, sizeof(master), &n, master_a, strlen(master_a)), 0);
	snprintf(msg, sizeof(msg), "inlet-derive-v1pubid");
	vault_hmac_sha256(master, 32, msg, strlen(msg), b);
	assert_memory_equal(a, b, 32);
}

static void test_token(void **state)
{
	char *t1, *t2;
	uint8_t h1[32], h2[32], check[32];

	vault_token_new(&t1, h1);
	vault_token_new(&t2, h2);
	assert_int_equal(strncmp(t1, "inlet_sk_", 9), 0);
	assert_int_equal(strlen(t1), 9 + 43);
	assert_int_equal(strspn(t1 + 9, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
			 43);
	vault_sha256(t1, strlen(t1), check);
	assert_memory_equal(h1, check, 32);
	assert_string_not_equal(t1, t2);
	assert_memory_not_equal(h1, h2, 32);
	free(t1);
	free(t2);
}

static void test_password(void **state)
{
	char *h1 = NULL, *h2 = NULL;

	assert_int_equal(setenv("INLET_ARGON2_MEMORY_KIB", "1024", 1), 0);
	assert_int_equal(vault_password_hash("correct horse", &h1), 0);
	assert_int_equal(strncmp(h1, "$argon2id$v=19$m=1024,t=3,p=1$", 30), 0);
	assert_int_equal(vault_password_verify(h1, "correct horse"), 0);
	assert_int_equal(vault_password_verify(h1, "correct horsE"), INLET_EAUTH);
	assert_int_equal(vault_password_verify(h1, ""), INLET_EAUTH);
	/* Fresh salt each time. */
	assert_int_equal(vault_password_hash("correct horse", &h2), 0);
	assert_string_not_equal(h1, h2);
	assert_int_equal(vault_password_verify(h2, "correct horse"), 0);
	/* Bad encodings. */
	assert_int_equal(vault_password_verify("", "x"), INLET_EINVAL);
	assert_int_equal(vault_password_verify("$argon2id$garbage", "x"), INLET_EINVAL);
	assert_int_equal(vault_password_verify("$argon2i$v=19$m=1024,t=3,p=1$c2FsdHNhbHRzYWx0$aGFzaA", "x"),
			 INLET_EINVAL);
	free(h1);
	free(h2);
	/* Below the floor is raised to it. */
	assert_int_equal(setenv("INLET_ARGON2_MEMORY_KIB", "8", 1), 0);
	assert_int_equal(vault_password_hash("pw", &h1), 0);
	assert_int_equal(strncmp(h1, "$argon2id$v=19$m=1024,", 22), 0);
	free(h1);
	unsetenv("INLET_ARGON2_MEMORY_KIB");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_seal_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_seal_nonce_fresh, setup, teardown),
		cmocka_unit_test_setup_teardown(test_seal_tamper_every_byte, setup, teardown),
		cmocka_unit_test_setup_teardown(test_seal_wrong_binding, setup, teardown),
		cmocka_unit_test_setup_teardown(test_seal_other_endpoint_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrapped_tamper, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrapped_differs_same_id, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_tamper, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_small_every_byte, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reader_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reader_lazy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reader_errors, setup, teardown),
		cmocka_unit_test(test_formats_by_hand),
		cmocka_unit_test(test_master_file),
		cmocka_unit_test(test_master_env_no_file),
		cmocka_unit_test(test_master_bad),
		cmocka_unit_test(test_cache_eviction),
		cmocka_unit_test(test_cache_refcount),
		cmocka_unit_test(test_threads),
		cmocka_unit_test_setup_teardown(test_box, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hashes, setup, teardown),
		cmocka_unit_test(test_token),
		cmocka_unit_test(test_password),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
