/* libFuzzer driver for the multipart push parser. Input layout:
 *   byte 0  bits 0-2: k, how many chunk-size bytes follow (0: one chunk)
 *           bit 3: tight limits; bits 4-7: if non-zero, the part_begin or
 *           part_end call with that number returns STOP (a caller aborting
 *           mid-body; part_data never stops, as how many pieces data
 *           arrives in depends on the chunking)
 *   bytes 1..k  chunk sizes, (b % 64) + 1 each, used in turn
 *   the rest    the body, boundary "bnd"
 * The body is parsed twice, whole and in those chunks; the callbacks
 * (data pieces joined) and results must be identical, so chunking is
 * fuzzed against the parser's own one-shot answer. The callback order
 * (begin, data*, end) is checked as well. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/err.h"
#include "ingest/multipart.h"

#define CHECK(x)                   \
	do {                       \
		if (!(x))          \
			abort();   \
	} while (0)

#define STOP 12345

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct trace {
	struct buf log;  /* the callbacks as bytes */
	int in_part;     /* between part_begin and part_end */
	int last_data;   /* the last event was data: join the next piece */
	unsigned calls;   /* part_begin and part_end calls */
	unsigned stop_at; /* 0: never */
};

static int counted(struct trace *t)
{
	return ++t->calls == t->stop_at ? STOP : 0;
}

static void put_str(struct trace *t, const char *s)
{
	/* strlen reads to the NUL: a missing terminator shows up in ASan. */
	if (s) {
		CHECK(buf_puts(&t->log, s) == 0);
		CHECK(buf_putc(&t->log, '\0') == 0);
	} else {
		CHECK(buf_puts(&t->log, "\xff(null)") == 0);
	}
}

static int on_begin(void *ctx, const struct mp_part *part)
{
	struct trace *t = ctx;

	CHECK(!t->in_part && part->name);
	t->in_part = 1;
	t->last_data = 0;
	CHECK(buf_putc(&t->log, 'B') == 0);
	put_str(t, part->name);
	put_str(t, part->filename);
	put_str(t, part->content_type);
	return counted(t);
}

static int on_data(void *ctx, const char *d, size_t n)
{
	struct trace *t = ctx;

	CHECK(t->in_part && n > 0);
	if (!t->last_data)
		CHECK(buf_putc(&t->log, 'D') == 0);
	t->last_data = 1;
	CHECK(buf_append(&t->log, d, n) == 0);
	return 0;
}

static int on_end(void *ctx)
{
	struct trace *t = ctx;

	CHECK(t->in_part);
	t->in_part = 0;
	t->last_data = 0;
	CHECK(buf_putc(&t->log, 'E') == 0);
	return counted(t);
}

static const struct mp_callbacks cbs = { on_begin, on_data, on_end };

static int run(const char *body, size_t len, const uint8_t *sizes, size_t k,
	       const struct mp_limits *lim, struct trace *t)
{
	struct mp_parser *p = mp_create("bnd", lim, &cbs, t);
	size_t off = 0, i = 0;
	int rc = 0;

	while (off < len && rc == 0) {
		size_t n = k ? (size_t)(sizes[i++ % k] % 64) + 1 : len;

		if (n > len - off)
			n = len - off;
		rc = mp_feed(p, body + off, n);
		off += n;
	}
	if (rc == 0) {
		rc = mp_finish(p);
		if (rc == 0)
			CHECK(!t->in_part);
	} else {
		/* Errors are sticky. */
		CHECK(mp_feed(p, "x", 1) == rc);
		CHECK(mp_finish(p) == rc);
	}
	CHECK(rc == 0 || rc == INLET_EINVAL || rc == INLET_ETOOBIG ||
	      rc == INLET_ETOOMANY || rc == STOP);
	mp_destroy(p);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mp_limits lim;
	struct trace whole, split;
	const uint8_t *sizes;
	size_t k;
	int rc1, rc2;

	if (size < 1)
		return 0;
	k = data[0] & 7;
	if (size < 1 + k)
		return 0;
	lim.max_parts = data[0] & 8 ? 3 : 64;
	lim.max_header_bytes = data[0] & 8 ? 64 : 1024;
	sizes = data + 1;
	memset(&whole, 0, sizeof(whole));
	memset(&split, 0, sizeof(split));
	buf_init(&whole.log, 0);
	buf_init(&split.log, 0);
	whole.stop_at = split.stop_at = data[0] >> 4;

	rc1 = run((const char *)data + 1 + k, size - 1 - k, NULL, 0, &lim, &whole);
	rc2 = run((const char *)data + 1 + k, size - 1 - k, sizes, k, &lim, &split);
	CHECK(rc1 == rc2);
	CHECK(whole.calls == split.calls);
	CHECK(whole.log.len == split.log.len);
	CHECK(whole.log.len == 0 || memcmp(whole.log.data, split.log.data, whole.log.len) == 0);
	buf_free(&whole.log);
	buf_free(&split.log);
	return 0;
}
