/* libFuzzer driver for events/zcodec.h. A dictionary is trained once, at
 * start, on small generated events. The first byte of an input picks the
 * dictionary (or none) and the output cap; the rest is used three ways:
 *   - as a frame: zcodec_decompress gives a documented code, never writes
 *     past the cap, leaves out as it was on failure, and succeeds only on
 *     a frame naming the dictionary it was given;
 *   - as content: compressed and decompressed again it comes back the
 *     same, under a cap of exactly its size, and is refused (ETOOBIG)
 *     under one byte less; the frame names the dictionary used;
 *   - as a dictionary (when the high bit of the first byte is set):
 *     zcodec_dict_load gives a documented code, and a dictionary it
 *     accepts works for a round trip. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/err.h"
#include "events/zcodec.h"

#define CHECK(x)                   \
	do {                       \
		if (!(x))          \
			abort();   \
	} while (0)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_DICT_ID 0x10203040u

static struct zcodec_dict *dict;
static const size_t caps[] = { 1, 64, 4096, 1 << 20 };

/* 400 small events, alike as a project's are, varied as ids are. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char *const types[] = { "TypeError", "ReferenceError", "Error", "RangeError" };
	static const char *const files[] = { "app.js", "vendor.js", "checkout.js", "api.js", "store.js" };
	struct buf samples, out;
	size_t sizes[400];
	unsigned i;

	buf_init(&samples, 0);
	buf_init(&out, 0);
	for (i = 0; i < 400; i++) {
		size_t before = samples.len;

		CHECK(buf_printf(&samples,
				 "{\"event_id\":\"%08x%08x%016x\",\"timestamp\":%u.%03u,"
				 "\"platform\":\"javascript\",\"level\":\"error\",\"release\":\"web@1.%u.0\","
				 "\"exception\":{\"values\":[{\"type\":\"%s\",\"value\":\"x%u is not defined\","
				 "\"stacktrace\":{\"frames\":[{\"filename\":\"https://app.example.com/%s\","
				 "\"function\":\"f%u\",\"lineno\":%u,\"colno\":%u,\"in_app\":true}]}}]},"
				 "\"sdk\":{\"name\":\"sentry.javascript.browser\",\"version\":\"9.5.0\"}}",
				 i * 2654435761u, i ^ 0x5bd1e995u, i * 40503u, 1736500000u + i * 61u,
				 i % 1000u, i % 7u, types[i % 4u], i % 13u, files[i % 5u], i % 11u,
				 1 + i % 300u, 1 + (i * 37u) % 9000u) == 0);
		sizes[i] = samples.len - before;
	}
	CHECK(zcodec_train(samples.data, sizes, 400, FUZZ_DICT_ID, &out) == 0);
	CHECK(zcodec_dict_load(out.data, out.len, NULL, &dict) == 0);
	buf_free(&samples);
	buf_free(&out);
	return 0;
}

static void check_decompress(const struct zcodec_dict *d, const uint8_t *in, size_t n, size_t cap)
{
	struct buf out;
	int rc;

	buf_init(&out, cap + 3);
	CHECK(buf_append(&out, "pre", 3) == 0);
	rc = zcodec_decompress(d, in, n, &out);
	CHECK(rc == 0 || rc == INLET_EINVAL || rc == INLET_ETOOBIG);
	CHECK(out.len <= out.max && out.cap <= out.max);
	CHECK(memcmp(out.data, "pre", 3) == 0 && out.data[out.len] == '\0');
	if (rc)
		CHECK(out.len == 3);
	else
		CHECK(zcodec_frame_dict_id(in, n) == (d ? zcodec_dict_id(d) : 0));
	buf_free(&out);
}

static void check_round_trip(const struct zcodec_dict *d, const uint8_t *in, size_t n)
{
	struct buf z, out;

	buf_init(&z, 0);
	CHECK(zcodec_compress(d, in, n, &z) == 0);
	CHECK(zcodec_frame_dict_id(z.data, z.len) == (d ? zcodec_dict_id(d) : 0));
	buf_init(&out, n ? n : 1);
	CHECK(zcodec_decompress(d, z.data, z.len, &out) == 0);
	CHECK(out.len == n && (n == 0 || memcmp(out.data, in, n) == 0));
	buf_free(&out);
	if (n > 1) {
		buf_init(&out, n - 1);
		CHECK(zcodec_decompress(d, z.data, z.len, &out) == INLET_ETOOBIG);
		CHECK(out.len == 0 && out.cap <= n - 1);
		buf_free(&out);
	}
	/* The other choice (the trained dictionary or none) cannot read it. */
	if (!d || d == dict) {
		buf_init(&out, 0);
		CHECK(zcodec_decompress(d ? NULL : dict, z.data, z.len, &out) == INLET_EINVAL);
		buf_free(&out);
	}
	/* Too little room for the frame: refused, out untouched. */
	buf_init(&out, z.len - 1);
	CHECK(zcodec_compress(d, in, n, &out) == INLET_ETOOBIG && out.len == 0);
	buf_free(&out);
	buf_free(&z);
}

static void check_dict_load(const uint8_t *in, size_t n)
{
	struct zcodec_dict *d = (struct zcodec_dict *)(uintptr_t)1;
	uint32_t id = 1;
	int rc = zcodec_dict_load(in, n, &id, &d);

	CHECK(rc == 0 || rc == INLET_EINVAL || rc == INLET_ETOOBIG);
	if (rc) {
		CHECK(d == NULL && id == 0);
		return;
	}
	CHECK(id != 0 && zcodec_dict_id(d) == id);
	check_round_trip(d, (const uint8_t *)"{\"level\":\"error\",\"message\":\"hello\"}", 36);
	zcodec_dict_release(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct zcodec_dict *d;
	uint8_t sel;

	if (size < 1)
		return 0;
	sel = data[0];
	data++;
	size--;
	d = sel & 1 ? dict : NULL;
	(void)zcodec_frame_dict_id(data, size);
	check_decompress(d, data, size, caps[(sel >> 1) & 3]);
	check_round_trip(d, data, size);
	if (sel & 0x80)
		check_dict_load(data, size);
	return 0;
}
