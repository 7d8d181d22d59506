/* libFuzzer driver for urlenc_parse and urlenc_decode. The first byte
 * picks the limits and arena shape, the rest is the body. Besides the
 * sanitizers, the driver checks what the contract promises: results within
 * the limits, NUL-terminated strings, one pair per non-empty '&' segment,
 * and in-place decoding equal to decoding into a fresh buffer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/err.h"
#include "ingest/kv.h"
#include "ingest/urlenc.h"

#define CHECK(x)                   \
	do {                       \
		if (!(x))          \
			abort();   \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t count_pairs(const char *s, size_t n)
{
	size_t i, pairs = 0, seg = 0;

	for (i = 0; i <= n; i++) {
		if (i == n || s[i] == '&') {
			pairs += seg > 0;
			seg = 0;
		} else {
			seg++;
		}
	}
	return pairs;
}

static void check_parse(const char *body, size_t size, uint8_t sel)
{
	struct form_limits lim;
	struct arena *a = arena_create(sel & 8 ? 64 : 0);
	struct kv_list l;
	size_t i, total = 0;
	int rc;

	lim.max_fields = sel & 1 ? 4 : 100000;
	lim.max_name_len = sel & 2 ? 3 : 1 << 20;
	lim.max_value_len = sel & 4 ? 5 : 1 << 20;
	kv_init(&l);
	rc = urlenc_parse(a, body, size, &lim, &l);
	CHECK(rc == 0 || rc == INLET_ETOOMANY || rc == INLET_ETOOBIG);
	CHECK(l.n <= lim.max_fields && l.n <= l.cap);
	for (i = 0; i < l.n; i++) {
		const struct kv *kv = &l.items[i];

		CHECK(kv->name_len <= lim.max_name_len);
		CHECK(kv->value_len <= lim.max_value_len);
		CHECK(kv->name[kv->name_len] == '\0');
		CHECK(kv->value[kv->value_len] == '\0');
		total += kv->name_len + kv->value_len;
	}
	CHECK(total <= size);
	if (rc == 0) {
		CHECK(l.n == count_pairs(body, size));
		if (l.n && !memchr(l.items[0].name, '\0', l.items[0].name_len))
			CHECK(kv_get(&l, l.items[0].name) == &l.items[0]);
	}
	arena_destroy(a);
}

static void check_decode(const char *body, size_t size, int plus)
{
	/* Exact-size heap copies, so ASan sees any overrun. */
	char *inplace = malloc(size ? size : 1), *fresh = malloc(size ? size : 1);
	size_t n1, n2;

	CHECK(inplace && fresh);
	if (size)
		memcpy(inplace, body, size);
	n1 = urlenc_decode(inplace, inplace, size, plus);
	n2 = urlenc_decode(fresh, body, size, plus);
	CHECK(n1 == n2 && n1 <= size);
	CHECK(n1 == 0 || memcmp(inplace, fresh, n1) == 0);
	/* Nothing to decode means nothing changes. */
	if (!memchr(body, '%', size) && !(plus && memchr(body, '+', size)))
		CHECK(n1 == size && (size == 0 || memcmp(fresh, body, size) == 0));
	free(inplace);
	free(fresh);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t sel;
	const char *body;

	if (size < 1)
		return 0;
	sel = data[0];
	body = (const char *)data + 1;
	size--;
	check_parse(body, size, sel);
	check_decode(body, size, sel & 16);
	return 0;
}
