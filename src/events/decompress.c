#include "events/decompress.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ZLIB_CONST
#include <brotli/decode.h>
#include <zlib.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/err.h"

/* Output goes through a stack chunk into the capped buffer, so nothing is
 * allocated for output beyond what buf_append lets through. */
#define CHUNK (16 * 1024)

enum coding { C_GZIP, C_DEFLATE, C_BR };

static const unsigned char empty[1];

static int is_ws(char c)
{
	return c == ' ' || c == '\t';
}

static int span_ieq(const char *s, size_t n, const char *lit)
{
	return n == strlen(lit) && strncasecmp(s, lit, n) == 0;
}

/* The codings of a Content-Encoding value in the order listed, identity
 * left out. Empty elements (", ,") are skipped. */
static int parse_codings(const char *ce, enum coding *out, size_t *n)
{
	const char *p = ce, *end;

	*n = 0;
	if (!ce)
		return 0;
	end = ce + strlen(ce);
	while (p < end) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		const char *s = p, *e = comma ? comma : end;
		enum coding c;

		p = comma ? comma + 1 : end;
		while (s < e && is_ws(*s))
			s++;
		while (e > s && is_ws(e[-1]))
			e--;
		if (s == e || span_ieq(s, (size_t)(e - s), "identity"))
			continue;
		if (span_ieq(s, (size_t)(e - s), "gzip") || span_ieq(s, (size_t)(e - s), "x-gzip"))
			c = C_GZIP;
		else if (span_ieq(s, (size_t)(e - s), "deflate"))
			c = C_DEFLATE;
		else if (span_ieq(s, (size_t)(e - s), "br"))
			c = C_BR;
		else
			return INLET_EMEDIATYPE;
		if (*n == DECOMPRESS_MAX_CODINGS)
			return INLET_EMEDIATYPE;
		out[(*n)++] = c;
	}
	return 0;
}

int decompress_check(const char *content_encoding)
{
	enum coding c[DECOMPRESS_MAX_CODINGS];
	size_t n;

	return parse_codings(content_encoding, c, &n);
}

/* Back to len bytes (undoing a failed or abandoned decode). */
static void truncate_to(struct buf *b, size_t len)
{
	b->len = len;
	if (b->data)
		b->data[len] = '\0';
}

/* ---- zlib: gzip, zlib and raw deflate ---- */

/* The one allocation policy holds inside zlib too: out of memory aborts. */
static voidpf z_alloc(voidpf opaque, uInt items, uInt size)
{
	(void)opaque;
	return xmalloc((size_t)items * size);
}

static void z_free(voidpf opaque, voidpf p)
{
	(void)opaque;
	free(p);
}

/* window_bits: 15 + 16 for gzip only, 15 for zlib, -15 for raw deflate. */
static int inflate_into(const unsigned char *in, size_t len, int window_bits,
			struct buf *out)
{
	unsigned char chunk[CHUNK];
	z_stream zs;
	size_t left = len; /* bytes not yet handed to zlib */
	int zrc, rc = 0;

	memset(&zs, 0, sizeof(zs));
	zs.zalloc = z_alloc;
	zs.zfree = z_free;
	if (inflateInit2(&zs, window_bits) != Z_OK)
		return INLET_ENOMEM;
	zs.next_in = in;
	for (;;) {
		size_t produced;

		/* avail_in is 32 bits wide; feed the input in slices. */
		if (zs.avail_in == 0 && left > 0) {
			zs.avail_in = left > UINT_MAX ? UINT_MAX : (uInt)left;
			left -= zs.avail_in;
		}
		zs.next_out = chunk;
		zs.avail_out = sizeof(chunk);
		zrc = inflate(&zs, Z_NO_FLUSH);
		produced = sizeof(chunk) - zs.avail_out;
		if (produced && (rc = buf_append(out, chunk, produced)))
			break;
		if (zrc == Z_OK)
			continue;
		if (zrc == Z_STREAM_END) {
			size_t rest = zs.avail_in + left;

			if (rest == 0)
				break;
			/* gzip members may follow one another (RFC 1952 2.2,
			 * `cat a.gz b.gz`); anything else after the end is
			 * not what the coding says. */
			if (window_bits > 15 && rest >= 2 && zs.next_in[0] == 0x1f &&
			    zs.next_in[1] == 0x8b && inflateReset(&zs) == Z_OK)
				continue;
			rc = INLET_EINVAL;
			break;
		}
		/* Z_BUF_ERROR: no progress with all input given, so the stream
		 * was cut short; Z_DATA_ERROR, Z_NEED_DICT: corrupt. */
		rc = zrc == Z_MEM_ERROR ? INLET_ENOMEM : INLET_EINVAL;
		break;
	}
	inflateEnd(&zs);
	return rc;
}

/* A zlib header (RFC 1950): method 8, window <= 32 KiB, check bits. */
static int zlib_header(const unsigned char *in, size_t len)
{
	return len >= 2 && (in[0] & 0x0f) == 8 && (in[0] >> 4) <= 7 &&
	       ((unsigned)in[0] << 8 | in[1]) % 31 == 0;
}

/* "deflate" is zlib-wrapped by the standard, raw by some clients (and by
 * old browsers). A stream that starts like zlib is tried as zlib first, and
 * as raw deflate when that fails: a raw stream can begin with two bytes
 * that look like a zlib header, but then it does not end with a valid
 * Adler-32. Costs at most two passes. */
static int inflate_deflate(const unsigned char *in, size_t len, struct buf *out)
{
	size_t mark = out->len;
	int rc;

	if (zlib_header(in, len)) {
		rc = inflate_into(in, len, 15, out);
		if (rc != INLET_EINVAL)
			return rc;
		truncate_to(out, mark);
	}
	return inflate_into(in, len, -15, out);
}

/* ---- brotli ---- */

static void *br_alloc(void *opaque, size_t n)
{
	(void)opaque;
	return xmalloc(n);
}

static void br_free(void *opaque, void *p)
{
	(void)opaque;
	free(p);
}

static int brotli_into(const unsigned char *in, size_t len, struct buf *out)
{
	unsigned char chunk[CHUNK];
	BrotliDecoderState *s = BrotliDecoderCreateInstance(br_alloc, br_free, NULL);
	const uint8_t *next_in = in;
	size_t avail_in = len;
	int rc = 0;

	if (!s)
		return INLET_ENOMEM;
	for (;;) {
		uint8_t *next_out = chunk;
		size_t avail_out = sizeof(chunk), produced;
		BrotliDecoderResult r = BrotliDecoderDecompressStream(
			s, &avail_in, &next_in, &avail_out, &next_out, NULL);

		produced = sizeof(chunk) - avail_out;
		if (produced && (rc = buf_append(out, chunk, produced)))
			break;
		if (r == BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT)
			continue;
		/* NEEDS_MORE_INPUT with all input given: cut short. */
		if (r != BROTLI_DECODER_RESULT_SUCCESS || avail_in != 0)
			rc = INLET_EINVAL;
		break;
	}
	BrotliDecoderDestroyInstance(s);
	return rc;
}

static int decode_one(enum coding c, const unsigned char *in, size_t len,
		      struct buf *out)
{
	switch (c) {
	case C_GZIP:
		return inflate_into(in, len, 15 + 16, out);
	case C_DEFLATE:
		return inflate_deflate(in, len, out);
	case C_BR:
		return brotli_into(in, len, out);
	}
	return INLET_EINVAL;
}

int decompress_body(const char *content_encoding, const void *in, size_t len,
		    struct buf *out)
{
	enum coding codings[DECOMPRESS_MAX_CODINGS];
	struct buf stage[2];
	const unsigned char *src = in ? in : empty;
	size_t n, i, mark = out->len, room = out->max - out->len;
	int rc;

	if ((rc = parse_codings(content_encoding, codings, &n)))
		return rc;
	if (n == 0)
		return buf_append(out, src, len);
	/* Intermediate results get the room left in out as their cap (a
	 * buf's max of 0 means unlimited, so 0 room is checked by hand). */
	buf_init(&stage[0], room ? room : 1);
	buf_init(&stage[1], room ? room : 1);
	for (i = n; i-- > 0;) {
		struct buf *dst = i == 0 ? out : &stage[i & 1];

		if (dst != out)
			buf_reset(dst);
		if ((rc = decode_one(codings[i], src, len, dst)))
			break;
		if (dst != out) {
			if (dst->len > room) {
				rc = INLET_ETOOBIG;
				break;
			}
			src = dst->data ? (const unsigned char *)dst->data : empty;
			len = dst->len;
		}
	}
	buf_free(&stage[0]);
	buf_free(&stage[1]);
	if (rc)
		truncate_to(out, mark);
	return rc;
}
