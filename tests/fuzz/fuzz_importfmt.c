/* libFuzzer driver for importfmt (CSV and JSON exports) and its time
 * parser. The first byte picks the format, the limits and how the input is
 * cut into chunks; the rest is the file. Besides the sanitizers, it checks
 * what the contract promises: rows numbered 1, 2, … in order, every
 * accepted row within the limits, and the same rows whatever the chunking
 * (the file whole against the file cut at the selector's step). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "core/err.h"
#include "ingest/importfmt.h"

#define CHECK(x)                   \
	do {                       \
		if (!(x))          \
			abort();   \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct digest {
	const struct importfmt_limits *lim;
	size_t n;
	uint64_t h; /* FNV-1a over what came out */
};

static void mix(struct digest *d, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		d->h = (d->h ^ b[i]) * 1099511628211ull;
}

static int on_row(void *ctx, const struct importfmt_row *r)
{
	struct digest *d = ctx;

	CHECK(r->row == ++d->n);
	CHECK(r->status >= -1 && r->status <= 2);
	CHECK(r->source && r->source[0]);
	mix(d, &r->row, sizeof(r->row));
	if (r->reject) {
		CHECK(r->reject[0]);
		mix(d, r->reject, strlen(r->reject));
		return 0;
	}
	CHECK(r->fields && json_object_is_type(r->fields, json_type_object));
	CHECK(json_object_object_length(r->fields) > 0);
	CHECK((size_t)json_object_object_length(r->fields) <= d->lim->max_fields);
	json_object_object_foreach(r->fields, k, v) {
		CHECK(strlen(k) <= d->lim->max_name_len);
		if (json_object_is_type(v, json_type_string))
			CHECK((size_t)json_object_get_string_len(v) <= d->lim->max_value_len);
	}
	if (r->has_time) {
		CHECK(r->ms >= 0);
		mix(d, &r->ms, sizeof(r->ms));
	}
	mix(d, &r->status, sizeof(r->status));
	if (r->source_id)
		mix(d, r->source_id, strlen(r->source_id));
	{
		const char *s = json_object_to_json_string_ext(r->fields, JSON_C_TO_STRING_PLAIN);

		mix(d, s, strlen(s));
	}
	return 0;
}

static int run(enum importfmt_format fmt, const struct importfmt_limits *lim, const char *body, size_t size,
	       size_t step, struct digest *d)
{
	struct importfmt *p;
	int rc = 0;

	memset(d, 0, sizeof(*d));
	d->lim = lim;
	d->h = 14695981039346656037ull;
	p = importfmt_create(fmt, lim, on_row, d);
	for (size_t at = 0; at < size && !rc;) {
		size_t n = step && size - at > step ? step : size - at;

		rc = importfmt_feed(p, body + at, n);
		at += n;
	}
	if (!rc)
		rc = importfmt_finish(p);
	CHECK(rc == 0 || rc == INLET_EINVAL);
	CHECK(rc == 0 || importfmt_error(p));
	CHECK(importfmt_rows(p) == d->n);
	importfmt_destroy(p);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct importfmt_limits lim;
	struct digest whole, cut;
	enum importfmt_format fmt;
	const char *body;
	int64_t ms;
	uint8_t sel;
	int rc;

	if (size < 1)
		return 0;
	sel = data[0];
	body = (const char *)data + 1;
	size--;
	fmt = sel & 1 ? IMPORTFMT_JSON : IMPORTFMT_CSV;
	lim.max_fields = sel & 2 ? 3 : 1000;
	lim.max_name_len = sel & 4 ? 4 : 256;
	lim.max_value_len = sel & 8 ? 6 : 1 << 16;
	lim.max_row_bytes = sel & 16 ? 48 : 1 << 20;
	lim.max_columns = sel & 2 ? 4 : 1000;
	rc = run(fmt, &lim, body, size, 0, &whole);
	CHECK(run(fmt, &lim, body, size, (size_t)(sel >> 5) + 1, &cut) == rc);
	CHECK(cut.n == whole.n && cut.h == whole.h);
	if (size < 80 && importfmt_parse_time(body, size, &ms) == 0)
		CHECK(ms >= 0);
	return 0;
}
