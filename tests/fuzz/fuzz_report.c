/* libFuzzer driver for report_parse. The first byte picks the media type
 * and the limits, the rest is the body. Besides the sanitizers, the driver
 * checks what the contract promises: a documented code and status, *out
 * NULL on failure, 415 exactly for the media types not supported; on
 * success at most max_reports reports, each with a valid type, a title and
 * fingerprint components that are valid UTF-8 within their caps and free
 * of control characters, the type first in the fingerprint, a body that is
 * a JSON object, an age within two days; and the same result again from a
 * second parse (nothing depends on what the arena held before). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "core/arena.h"
#include "core/err.h"
#include "events/report.h"

#define CHECK(x)                   \
	do {                       \
		if (!(x))          \
			abort();   \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const media[8] = {
	"application/reports+json", "application/json", "application/csp-report",
	"text/plain", "application/expect-ct-report+json", "Application/JSON",
	"application/xml", NULL,
};

/* Valid UTF-8 with no control characters and no NUL before the end. */
static int clean_text(const char *s, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), i = 0;

	if (n > max)
		return 0;
	while (i < n) {
		unsigned c = p[i], lo, hi;
		size_t k, j;

		if (c < 0x20 || c == 0x7f)
			return 0;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			k = 2;
		else if (c >= 0xe0 && c <= 0xef)
			k = 3;
		else if (c >= 0xf0 && c <= 0xf4)
			k = 4;
		else
			return 0;
		if (n - i < k)
			return 0;
		lo = c == 0xe0 ? 0xa0 : c == 0xf0 ? 0x90 : 0x80;
		hi = c == 0xed ? 0x9f : c == 0xf4 ? 0x8f : 0xbf;
		if (p[i + 1] < lo || p[i + 1] > hi)
			return 0;
		for (j = 2; j < k; j++)
			if ((p[i + j] & 0xc0) != 0x80)
				return 0;
		i += k;
	}
	return 1;
}

static void check_event(const struct report_event *ev)
{
	size_t i, n = strlen(ev->type);

	CHECK(n >= 1 && n <= REPORT_TYPE_MAX);
	for (i = 0; i < n; i++)
		CHECK(ev->type[i] > 0x20 && ev->type[i] < 0x7f);
	CHECK(clean_text(ev->title, REPORT_TITLE_MAX) && ev->title[0]);
	CHECK(ev->uri && ev->uri[ev->uri_len] == '\0' && strlen(ev->uri) <= ev->uri_len);
	CHECK(ev->n_fingerprint >= 2 && ev->n_fingerprint <= 6);
	CHECK(strcmp(ev->fingerprint[0], ev->type) == 0);
	for (i = 0; i < ev->n_fingerprint; i++)
		CHECK(clean_text(ev->fingerprint[i], REPORT_FP_MAX));
	CHECK(json_object_is_type(ev->body, json_type_object));
	CHECK(ev->age_ms >= 0 && ev->age_ms <= REPORT_MAX_AGE_MS);
}

static void same(const struct report_list *x, const struct report_list *y)
{
	size_t i, k;

	CHECK(x->n == y->n && x->skipped == y->skipped && x->dropped == y->dropped);
	for (i = 0; i < x->n; i++) {
		const struct report_event *a = &x->items[i], *b = &y->items[i];

		CHECK(strcmp(a->type, b->type) == 0 && strcmp(a->title, b->title) == 0);
		CHECK(a->uri_len == b->uri_len && memcmp(a->uri, b->uri, a->uri_len) == 0);
		CHECK(a->n_fingerprint == b->n_fingerprint && a->age_ms == b->age_ms);
		for (k = 0; k < a->n_fingerprint; k++)
			CHECK(strcmp(a->fingerprint[k], b->fingerprint[k]) == 0);
		CHECK(json_object_equal(a->body, b->body));
	}
}

static void check(const char *body, size_t size, uint8_t sel)
{
	const char *m = media[sel & 7];
	struct report_limits lim;
	struct report_error err;
	struct report_list *l = (struct report_list *)(uintptr_t)1, *l2;
	struct arena *a = arena_create(sel & 8 ? 64 : 0), *a2;
	size_t i;
	int rc;

	report_limits_default(&lim);
	if (sel & 16)
		lim.max_reports = 2;
	if (sel & 32)
		lim.max_depth = 3;
	if (sel & 64)
		lim.max_reports = 0;
	rc = report_parse(a, m, body, size, &lim, &l, &err);
	if (rc) {
		CHECK(l == NULL && err.code && err.message);
		if (rc == INLET_EMEDIATYPE)
			CHECK(err.status == 415 && (sel & 7) >= 6);
		else
			CHECK(rc == INLET_EINVAL && err.status == 400 && (sel & 7) < 6);
		arena_destroy(a);
		return;
	}
	CHECK((sel & 7) < 6);
	CHECK(l && l->n <= lim.max_reports);
	for (i = 0; i < l->n; i++)
		check_event(&l->items[i]);
	a2 = arena_create(0);
	CHECK(report_parse(a2, m, body, size, &lim, &l2, &err) == 0);
	same(l, l2);
	arena_destroy(a2);
	arena_destroy(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	check((const char *)data + 1, size - 1, data[0]);
	return 0;
}
