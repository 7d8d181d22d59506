/* libFuzzer driver for decompress_body. The first byte picks the coding and
 * the cap, the rest is the body. Two checks beyond the sanitizers:
 *   - decoding the body as it is: a documented code, the output within the
 *     cap and the buffer never allocated past it, out untouched on failure;
 *   - a round trip: the body compressed here with zlib (gzip, zlib or raw
 *     deflate) decodes to itself when the cap allows exactly its size, and
 *     is refused when it allows one byte less. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ZLIB_CONST
#include <zlib.h>

#include "core/buf.h"
#include "core/err.h"
#include "events/decompress.h"

#define CHECK(x)                   \
	do {                       \
		if (!(x))          \
			abort();   \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const codings[] = {
	"identity", "gzip", "deflate", "br", "gzip, br", "deflate, gzip", "br, br", "x-gzip",
};
static const size_t caps[] = { 1, 100, 4096, 1 << 20 };

static void check_decode(const char *coding, const uint8_t *in, size_t n, size_t cap)
{
	struct buf out;
	int rc;

	buf_init(&out, cap + 3);
	CHECK(buf_append(&out, "pre", 3) == 0);
	rc = decompress_body(coding, in, n, &out);
	CHECK(rc == 0 || rc == INLET_EINVAL || rc == INLET_ETOOBIG);
	CHECK(out.len <= out.max && out.cap <= out.max);
	CHECK(memcmp(out.data, "pre", 3) == 0 && out.data[out.len] == '\0');
	if (rc)
		CHECK(out.len == 3);
	if (rc == 0 && strcmp(coding, "identity") == 0)
		CHECK(out.len == 3 + n && (n == 0 || memcmp(out.data + 3, in, n) == 0));
	buf_free(&out);
}

/* in compressed with windowBits bits, into a heap buffer (*outlen bytes). */
static unsigned char *zenc(const uint8_t *in, size_t n, int bits, int level, size_t *outlen)
{
	z_stream zs;
	size_t cap;
	unsigned char *out;

	memset(&zs, 0, sizeof(zs));
	CHECK(deflateInit2(&zs, level, Z_DEFLATED, bits, 8, Z_DEFAULT_STRATEGY) == Z_OK);
	cap = deflateBound(&zs, (uLong)n) + 32;
	out = malloc(cap);
	CHECK(out);
	zs.next_in = in;
	zs.avail_in = (uInt)n;
	zs.next_out = out;
	zs.avail_out = (uInt)cap;
	CHECK(deflate(&zs, Z_FINISH) == Z_STREAM_END);
	*outlen = cap - zs.avail_out;
	deflateEnd(&zs);
	return out;
}

static void check_round_trip(const uint8_t *in, size_t n, uint8_t sel)
{
	static const int bits[] = { 15 + 16, 15, -15 };
	static const char *const names[] = { "gzip", "deflate", "deflate" };
	int which = (sel >> 5) % 3;
	size_t elen;
	unsigned char *enc = zenc(in, n, bits[which], sel & 1 ? 1 : 6, &elen);
	struct buf out;

	buf_init(&out, n ? n : 1);
	CHECK(decompress_body(names[which], enc, elen, &out) == 0);
	CHECK(out.len == n && (n == 0 || memcmp(out.data, in, n) == 0));
	buf_free(&out);
	if (n > 1) {
		buf_init(&out, n - 1);
		CHECK(decompress_body(names[which], enc, elen, &out) == INLET_ETOOBIG);
		CHECK(out.len == 0 && out.cap <= n - 1);
		buf_free(&out);
	}
	free(enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t sel;

	if (size < 1)
		return 0;
	sel = data[0];
	data++;
	size--;
	check_decode(codings[sel & 7], data, size, caps[(sel >> 3) & 3]);
	CHECK(decompress_check(codings[sel & 7]) == 0);
	check_round_trip(data, size, sel);
	return 0;
}
