/* decompress_body and decompress_check. Inputs are compressed here, with
 * zlib and brotli's encoder. The binary links only the brotli decoder (as
 * the server does), so the encoder is loaded at run time from libbrotli1's
 * libbrotlienc.so.1, which ships beside the decoder; brotli tests are
 * skipped if it is missing. */
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include <cmocka.h>
#include <brotli/encode.h>
#define ZLIB_CONST
#include <zlib.h>

#include "core/buf.h"
#include "core/err.h"
#include "events/decompress.h"

#define GZIP (15 + 16)
#define ZLIB 15
#define RAW (-15)

static const size_t mib = 1u << 20;

/* ---- encoders ---- */

/* Appends the deflate of in[0..n) (gzip, zlib or raw per bits) to out. */
static void zenc(int bits, const void *in, size_t n, struct buf *out)
{
	unsigned char chunk[16384];
	z_stream zs;
	int zrc;

	memset(&zs, 0, sizeof(zs));
	assert_int_equal(deflateInit2(&zs, 6, Z_DEFLATED, bits, 8, Z_DEFAULT_STRATEGY), Z_OK);
	zs.next_in = in;
	zs.avail_in = (uInt)n;
	do {
		zs.next_out = chunk;
		zs.avail_out = sizeof(chunk);
		zrc = deflate(&zs, Z_FINISH);
		assert_true(zrc == Z_OK || zrc == Z_STREAM_END || zrc == Z_BUF_ERROR);
		assert_int_equal(buf_append(out, chunk, sizeof(chunk) - zs.avail_out), 0);
	} while (zrc != Z_STREAM_END);
	deflateEnd(&zs);
}

/* The deflate of `total` zero bytes, fed 64 KiB at a time. */
static void zenc_zeros(int bits, size_t total, struct buf *out)
{
	static const unsigned char zeros[65536];
	unsigned char chunk[16384];
	z_stream zs;
	int zrc;

	memset(&zs, 0, sizeof(zs));
	assert_int_equal(deflateInit2(&zs, 6, Z_DEFLATED, bits, 8, Z_DEFAULT_STRATEGY), Z_OK);
	for (;;) {
		int flush = total ? Z_NO_FLUSH : Z_FINISH;

		if (zs.avail_in == 0 && total) {
			size_t take = total < sizeof(zeros) ? total : sizeof(zeros);

			zs.next_in = zeros;
			zs.avail_in = (uInt)take;
			total -= take;
			flush = total ? Z_NO_FLUSH : Z_FINISH;
		}
		zs.next_out = chunk;
		zs.avail_out = sizeof(chunk);
		zrc = deflate(&zs, flush);
		assert_int_equal(buf_append(out, chunk, sizeof(chunk) - zs.avail_out), 0);
		if (zrc == Z_STREAM_END)
			break;
	}
	deflateEnd(&zs);
}

static struct {
	void *lib;
	__typeof__(BrotliEncoderCreateInstance) *create;
	__typeof__(BrotliEncoderSetParameter) *set;
	__typeof__(BrotliEncoderCompressStream) *stream;
	__typeof__(BrotliEncoderIsFinished) *finished;
	__typeof__(BrotliEncoderDestroyInstance) *destroy;
} br;

static int br_load(void)
{
	if (br.lib)
		return 1;
	br.lib = dlopen("libbrotlienc.so.1", RTLD_NOW | RTLD_LOCAL);
	if (!br.lib)
		return 0;
	*(void **)&br.create = dlsym(br.lib, "BrotliEncoderCreateInstance");
	*(void **)&br.set = dlsym(br.lib, "BrotliEncoderSetParameter");
	*(void **)&br.stream = dlsym(br.lib, "BrotliEncoderCompressStream");
	*(void **)&br.finished = dlsym(br.lib, "BrotliEncoderIsFinished");
	*(void **)&br.destroy = dlsym(br.lib, "BrotliEncoderDestroyInstance");
	assert_non_null(br.create);
	assert_non_null(br.set);
	assert_non_null(br.stream);
	assert_non_null(br.finished);
	assert_non_null(br.destroy);
	return 1;
}

#define NEED_BROTLI()                                                  \
	do {                                                           \
		if (!br_load()) {                                      \
			print_message("libbrotlienc.so.1 not found\n"); \
			skip();                                        \
		}                                                      \
	} while (0)

/* Appends the brotli of in[0..n) to out; with in NULL, of n zero bytes. */
static void brenc(const void *in, size_t n, struct buf *out)
{
	static const unsigned char zeros[65536];
	unsigned char chunk[16384];
	BrotliEncoderState *s = br.create(NULL, NULL, NULL);
	const uint8_t *next_in = in;
	size_t avail_in = in ? n : 0, left = in ? 0 : n;

	assert_non_null(s);
	assert_true(br.set(s, BROTLI_PARAM_QUALITY, 5));
	while (!br.finished(s)) {
		uint8_t *next_out = chunk;
		size_t avail_out = sizeof(chunk);
		BrotliEncoderOperation op;

		if (avail_in == 0 && left) {
			avail_in = left < sizeof(zeros) ? left : sizeof(zeros);
			next_in = zeros;
			left -= avail_in;
		}
		op = avail_in || left ? BROTLI_OPERATION_PROCESS : BROTLI_OPERATION_FINISH;
		assert_true(br.stream(s, op, &avail_in, &next_in, &avail_out, &next_out, NULL));
		assert_int_equal(buf_append(out, chunk, sizeof(chunk) - avail_out), 0);
	}
	br.destroy(s);
}

/* ---- inputs ---- */

/* n bytes that look like a stream of Sentry events, with a random tail in
 * each line so they do not compress to nothing. Deterministic. */
static void make_input(struct buf *b, size_t n)
{
	uint32_t x = 2463534242u;
	size_t i = 0;

	buf_init(b, 0);
	while (b->len < n) {
		char line[256];
		int k = snprintf(line, sizeof(line),
				 "{\"event_id\":\"%032zx\",\"level\":\"error\",\"exception\":{\"values\":"
				 "[{\"type\":\"TypeError\",\"value\":\"x is undefined\"}]},\"r\":\"",
				 i++);
		int j;

		for (j = 0; j < 24; j++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			line[k++] = (char)('!' + x % 90);
		}
		line[k++] = '"';
		line[k++] = '}';
		line[k++] = '\n';
		assert_int_equal(buf_append(b, line, (size_t)k < n - b->len ? (size_t)k : n - b->len), 0);
	}
}

/* Decodes enc with `coding` into a fresh buffer capped at max and checks
 * the result is want[0..n). */
static void round_trip(const char *coding, const struct buf *enc, const void *want,
		       size_t n, size_t max)
{
	struct buf out;

	buf_init(&out, max);
	assert_int_equal(decompress_body(coding, enc->data, enc->len, &out), 0);
	assert_int_equal(out.len, n);
	if (n)
		assert_memory_equal(out.data, want, n);
	assert_true(out.cap <= max);
	buf_free(&out);
}

static int decode(const char *coding, const void *in, size_t n, size_t max)
{
	struct buf out;
	int rc;

	buf_init(&out, max);
	rc = decompress_body(coding, in, n, &out);
	assert_true(out.cap <= max);
	if (rc)
		assert_int_equal(out.len, 0);
	buf_free(&out);
	return rc;
}

/* ---- tests ---- */

static void t_check(void **state)
{
	static const char *const ok[] = {
		NULL, "", "identity", "gzip", "x-gzip", "GZip", "deflate", "br",
		" gzip ", "gzip, br", "br,gzip", "identity, gzip", ",,gzip,,",
		"gzip, gzip, gzip, gzip", "gzip, identity, gzip, gzip, identity, gzip",
	};
	static const char *const bad[] = {
		"zstd", "compress", "x-compress", "gzip, zstd", "gzip;q=1", "gz",
		"brotli", "*", "gzip br", "gzip, gzip, gzip, gzip, gzip",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (decompress_check(ok[i]) != 0)
			fail_msg("refused: %s", ok[i]);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (decompress_check(bad[i]) != INLET_EMEDIATYPE)
			fail_msg("accepted: %s", bad[i]);
		assert_int_equal(decode(bad[i], "x", 1, 100), INLET_EMEDIATYPE);
	}
}

static void t_identity(void **state)
{
	static const char *const codings[] = { NULL, "", "identity", " Identity , identity" };
	struct buf out;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(codings) / sizeof(codings[0]); i++) {
		buf_init(&out, 5);
		assert_int_equal(decompress_body(codings[i], "hello", 5, &out), 0);
		assert_string_equal(out.data, "hello");
		assert_int_equal(decompress_body(codings[i], "!", 1, &out), INLET_ETOOBIG);
		assert_string_equal(out.data, "hello");
		buf_free(&out);
	}
	buf_init(&out, 5);
	assert_int_equal(decompress_body(NULL, NULL, 0, &out), 0);
	assert_int_equal(out.len, 0);
	buf_free(&out);
}

static void t_gzip(void **state)
{
	struct buf in, enc, two;

	(void)state;
	make_input(&in, 100000);
	buf_init(&enc, 0);
	zenc(GZIP, in.data, in.len, &enc);
	assert_true(enc.len < in.len / 2);
	round_trip("gzip", &enc, in.data, in.len, 200000);
	round_trip("x-gzip", &enc, in.data, in.len, 200000);
	round_trip(" GZIP ", &enc, in.data, in.len, 200000);

	/* Two members one after the other decode to both texts. */
	buf_init(&two, 0);
	zenc(GZIP, "first,", 6, &two);
	zenc(GZIP, "second", 6, &two);
	round_trip("gzip", &two, "first,second", 12, 100);

	/* An empty member is fine. */
	buf_reset(&two);
	zenc(GZIP, "", 0, &two);
	round_trip("gzip", &two, "", 0, 100);

	/* zlib and raw streams are not gzip. */
	buf_reset(&enc);
	zenc(ZLIB, in.data, in.len, &enc);
	assert_int_equal(decode("gzip", enc.data, enc.len, 200000), INLET_EINVAL);
	buf_free(&two);
	buf_free(&enc);
	buf_free(&in);
}

static void t_deflate(void **state)
{
	struct buf in, enc;
	/* Raw deflate whose first two bytes pass as a zlib header (0x78 0x01:
	 * a stored block of 1 byte, whose padding bits happen to be 01111),
	 * so the zlib attempt fails and the raw one must take over. */
	static const unsigned char tricky[] = {
		0x78, 0x01, 0x00, 0xfe, 0xff, 'A', 0x01, 0x00, 0x00, 0xff, 0xff,
	};
	struct buf t = { (char *)tricky, sizeof(tricky), sizeof(tricky), sizeof(tricky) };

	(void)state;
	make_input(&in, 70000);
	buf_init(&enc, 0);
	zenc(ZLIB, in.data, in.len, &enc);
	round_trip("deflate", &enc, in.data, in.len, 70000);
	buf_reset(&enc);
	zenc(RAW, in.data, in.len, &enc);
	round_trip("deflate", &enc, in.data, in.len, 70000);
	buf_reset(&enc);
	zenc(RAW, "", 0, &enc);
	round_trip("deflate", &enc, "", 0, 10);
	round_trip("deflate", &t, "A", 1, 10);
	/* gzip is not deflate. */
	buf_reset(&enc);
	zenc(GZIP, in.data, in.len, &enc);
	assert_int_equal(decode("deflate", enc.data, enc.len, 70000), INLET_EINVAL);
	buf_free(&enc);
	buf_free(&in);
}

static void t_brotli(void **state)
{
	struct buf in, enc;

	(void)state;
	NEED_BROTLI();
	make_input(&in, 100000);
	buf_init(&enc, 0);
	brenc(in.data, in.len, &enc);
	assert_true(enc.len < in.len / 2);
	round_trip("br", &enc, in.data, in.len, 100000);
	buf_reset(&enc);
	brenc("", 0, &enc);
	round_trip("br", &enc, "", 0, 10);
	buf_free(&enc);
	buf_free(&in);
}

/* Codings listed in the order applied, undone last first. */
static void t_chain(void **state)
{
	struct buf in, a, b, c, d;

	(void)state;
	make_input(&in, 50000);
	buf_init(&a, 0);
	buf_init(&b, 0);
	buf_init(&c, 0);
	buf_init(&d, 0);
	zenc(GZIP, in.data, in.len, &a);
	zenc(ZLIB, a.data, a.len, &b); /* gzip, then deflate */
	round_trip("gzip, deflate", &b, in.data, in.len, 50000);
	assert_int_equal(decode("deflate, gzip", b.data, b.len, 50000), INLET_EINVAL);
	/* Identity anywhere changes nothing. */
	round_trip("identity,gzip, identity ,deflate", &b, in.data, in.len, 50000);
	/* Four deep, the most there may be. */
	zenc(RAW, b.data, b.len, &c);
	zenc(GZIP, c.data, c.len, &d);
	round_trip("gzip,deflate,deflate,gzip", &d, in.data, in.len, 50000);
	if (br_load()) {
		buf_reset(&c);
		brenc(a.data, a.len, &c); /* gzip, then br */
		round_trip("gzip, br", &c, in.data, in.len, 50000);
	}
	buf_free(&d);
	buf_free(&c);
	buf_free(&b);
	buf_free(&a);
	buf_free(&in);
}

static void t_bad_data(void **state)
{
	static const char text[] = "this is not compressed at all, just text";
	struct buf in, enc;
	size_t cut;

	(void)state;
	assert_int_equal(decode("gzip", text, sizeof(text) - 1, 1000), INLET_EINVAL);
	assert_int_equal(decode("deflate", text, sizeof(text) - 1, 1000), INLET_EINVAL);
	assert_int_equal(decode("gzip", "", 0, 1000), INLET_EINVAL);
	assert_int_equal(decode("deflate", "", 0, 1000), INLET_EINVAL);
	assert_int_equal(decode("gzip", NULL, 0, 1000), INLET_EINVAL);

	make_input(&in, 5000);
	buf_init(&enc, 0);
	zenc(GZIP, in.data, in.len, &enc);
	/* Every truncation fails, including losing the last trailer byte. */
	for (cut = 0; cut < enc.len; cut++)
		assert_int_equal(decode("gzip", enc.data, cut, 10000), INLET_EINVAL);
	/* Trailing garbage, a bad CRC, a flipped byte inside. */
	assert_int_equal(buf_append(&enc, "x", 1), 0);
	assert_int_equal(decode("gzip", enc.data, enc.len, 10000), INLET_EINVAL);
	enc.len--;
	enc.data[enc.len - 8] ^= 1;
	assert_int_equal(decode("gzip", enc.data, enc.len, 10000), INLET_EINVAL);
	enc.data[enc.len - 8] ^= 1;
	assert_int_equal(decode("gzip", enc.data, enc.len, 10000), 0);
	enc.data[enc.len / 2] ^= 0x55;
	assert_int_equal(decode("gzip", enc.data, enc.len, 10000), INLET_EINVAL);

	buf_reset(&enc);
	zenc(ZLIB, in.data, in.len, &enc);
	for (cut = 0; cut < enc.len; cut += 7)
		assert_int_equal(decode("deflate", enc.data, cut, 10000), INLET_EINVAL);
	assert_int_equal(buf_append(&enc, "\0", 1), 0);
	assert_int_equal(decode("deflate", enc.data, enc.len, 10000), INLET_EINVAL);

	if (br_load()) {
		assert_int_equal(decode("br", text, sizeof(text) - 1, 1000), INLET_EINVAL);
		assert_int_equal(decode("br", "", 0, 1000), INLET_EINVAL);
		buf_reset(&enc);
		brenc(in.data, in.len, &enc);
		for (cut = 0; cut < enc.len; cut += 3)
			assert_int_equal(decode("br", enc.data, cut, 10000), INLET_EINVAL);
		assert_int_equal(buf_append(&enc, "x", 1), 0);
		assert_int_equal(decode("br", enc.data, enc.len, 10000), INLET_EINVAL);
	}
	buf_free(&enc);
	buf_free(&in);
}

/* The cap: an output of exactly max passes, max - 1 fails at once, and
 * what out held before is kept either way. */
static void t_cap_exact(void **state)
{
	static const char *const codings[] = { "identity", "gzip", "deflate", "deflate", "br",
					       "gzip, gzip" };
	static const int bits[] = { 0, GZIP, ZLIB, RAW, 0, GZIP };
	struct buf in, enc, out;
	size_t i;

	(void)state;
	make_input(&in, 40000);
	for (i = 0; i < sizeof(codings) / sizeof(codings[0]); i++) {
		buf_init(&enc, 0);
		if (i == 0) {
			assert_int_equal(buf_append(&enc, in.data, in.len), 0);
		} else if (i == 4) {
			if (!br_load()) {
				buf_free(&enc);
				continue;
			}
			brenc(in.data, in.len, &enc);
		} else if (i == 5) {
			struct buf once;

			buf_init(&once, 0);
			zenc(GZIP, in.data, in.len, &once);
			zenc(GZIP, once.data, once.len, &enc);
			buf_free(&once);
		} else {
			zenc(bits[i], in.data, in.len, &enc);
		}

		buf_init(&out, 6 + in.len);
		assert_int_equal(buf_append(&out, "prior:", 6), 0);
		assert_int_equal(decompress_body(codings[i], enc.data, enc.len, &out), 0);
		assert_int_equal(out.len, 6 + in.len);
		assert_memory_equal(out.data + 6, in.data, in.len);
		buf_free(&out);

		buf_init(&out, 6 + in.len - 1);
		assert_int_equal(buf_append(&out, "prior:", 6), 0);
		assert_int_equal(decompress_body(codings[i], enc.data, enc.len, &out), INLET_ETOOBIG);
		assert_int_equal(out.len, 6);
		assert_string_equal(out.data, "prior:");
		assert_true(out.cap <= out.max);
		buf_free(&out);

		/* No room at all: only an empty output fits. */
		buf_init(&out, 6);
		assert_int_equal(buf_append(&out, "prior:", 6), 0);
		assert_int_equal(decompress_body(codings[i], enc.data, enc.len, &out), INLET_ETOOBIG);
		assert_string_equal(out.data, "prior:");
		buf_free(&out);
		buf_free(&enc);
	}
	buf_free(&in);
}

static long max_rss_kib(void)
{
	struct rusage ru;

	assert_int_equal(getrusage(RUSAGE_SELF, &ru), 0);
	return ru.ru_maxrss;
}

/* 100 MB of zeros, compressed to ~100 KB, against a 1 MiB cap: refused,
 * with the buffer never allocated past the cap and the process's peak
 * memory barely moving (it would grow by 100 MB if the output were
 * buffered). */
static void bomb(const char *coding, const struct buf *enc)
{
	struct buf out;
	long before = max_rss_kib();

	buf_init(&out, mib);
	assert_int_equal(decompress_body(coding, enc->data, enc->len, &out), INLET_ETOOBIG);
	assert_int_equal(out.len, 0);
	assert_true(out.cap <= mib);
	buf_free(&out);
	assert_true(max_rss_kib() - before < 32 * 1024);
}

static void t_zip_bomb(void **state)
{
	const size_t total = 100u * 1000 * 1000;
	struct buf enc, twice;

	(void)state;
	buf_init(&enc, 0);
	zenc_zeros(GZIP, total, &enc);
	assert_true(enc.len < total / 500);
	bomb("gzip", &enc);
	/* Compressed twice: 100 MB -> ~100 KB -> a few hundred bytes. */
	buf_init(&twice, 0);
	zenc(GZIP, enc.data, enc.len, &twice);
	assert_true(twice.len < 2000);
	bomb("gzip, gzip", &twice);
	buf_free(&twice);

	buf_reset(&enc);
	zenc_zeros(ZLIB, total, &enc);
	bomb("deflate", &enc);
	buf_reset(&enc);
	zenc_zeros(RAW, total, &enc);
	bomb("deflate", &enc);
	if (br_load()) {
		buf_reset(&enc);
		brenc(NULL, total, &enc);
		assert_true(enc.len < total / 500);
		bomb("br", &enc);
	}
	buf_free(&enc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_check),
		cmocka_unit_test(t_identity),
		cmocka_unit_test(t_gzip),
		cmocka_unit_test(t_deflate),
		cmocka_unit_test(t_brotli),
		cmocka_unit_test(t_chain),
		cmocka_unit_test(t_bad_data),
		cmocka_unit_test(t_cap_exact),
		cmocka_unit_test(t_zip_bomb),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);

	if (br.lib)
		dlclose(br.lib);
	return rc;
}
