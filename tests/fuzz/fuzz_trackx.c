/* libFuzzer driver for trackx_event_parse and trackx_json_parse. The first
 * byte picks the limits, the rest is the body. Besides the sanitizers, the
 * driver checks what the contracts promise: a documented code and status,
 * *out NULL on failure; on success only the six keys, each of its kind and
 * within its limit (lengths counted again here, in UTF-16 units), valid
 * UTF-8 everywhere, "type" an int 0..99; a round trip: the result written
 * out by json-c and parsed again is accepted and equal; and that
 * trackx_json_parse never takes what json-c's strict mode refuses. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "core/err.h"
#include "events/trackx.h"

#define CHECK(x)                   \
	do {                       \
		if (!(x))          \
			abort();   \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void pick_limits(uint8_t sel, struct trackx_limits *lim)
{
	trackx_limits_default(lim);
	if (sel & 1)
		lim->max_name = 4;
	if (sel & 2)
		lim->max_message = 3;
	if (sel & 4)
		lim->max_uri = 8;
	if (sel & 8)
		lim->max_stack = 2;
	if (sel & 16)
		lim->max_meta = 12;
	if (sel & 32)
		lim->max_depth = 2;
	if (sel & 64)
		lim->max_body = 40;
}

/* Well-formed UTF-8 (RFC 3629), NULs allowed (from "\u0000"). */
static int utf8_ok(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned c = s[i], lo = 0x80, hi = 0xbf;
		size_t k, j;

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
		if (s[i + 1] < lo || s[i + 1] > hi)
			return 0;
		for (j = 2; j < k; j++)
			if ((s[i + j] & 0xc0) != 0x80)
				return 0;
		i += k;
	}
	return 1;
}

static size_t units(struct json_object *v)
{
	const unsigned char *s = (const unsigned char *)json_object_get_string(v);
	size_t n = (size_t)json_object_get_string_len(v), i, u = 0;

	for (i = 0; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			u += s[i] >= 0xf0 ? 2 : 1;
	return u;
}

/* Every string (keys too) in o is valid UTF-8, and no container is
 * deeper than max (o itself at depth). */
static void check_tree(struct json_object *o, int depth, int max)
{
	size_t i, n;

	if (json_object_is_type(o, json_type_array) || json_object_is_type(o, json_type_object))
		CHECK(depth <= max);
	switch (json_object_get_type(o)) {
	case json_type_string:
		CHECK(utf8_ok((const unsigned char *)json_object_get_string(o),
			      (size_t)json_object_get_string_len(o)));
		break;
	case json_type_array:
		n = json_object_array_length(o);
		for (i = 0; i < n; i++)
			check_tree(json_object_array_get_idx(o, i), depth + 1, max);
		break;
	case json_type_object: {
		json_object_object_foreach(o, key, val) {
			CHECK(utf8_ok((const unsigned char *)key, strlen(key)));
			check_tree(val, depth + 1, max);
		}
		break;
	}
	default:
		break;
	}
}

static int is_string_within(struct json_object *o, const char *key, size_t max)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v))
		return 1;
	return json_object_is_type(v, json_type_string) && units(v) <= max;
}

static void check_event(struct json_object *o, const struct trackx_limits *lim)
{
	static const char *const keys[] = { "name", "message", "type", "uri", "stack", "meta" };
	struct json_object *v;
	size_t i, known = 0;

	CHECK(json_object_is_type(o, json_type_object));
	for (i = 0; i < 6; i++)
		known += json_object_object_get_ex(o, keys[i], NULL) ? 1 : 0;
	CHECK(known == (size_t)json_object_object_length(o));
	CHECK(is_string_within(o, "name", lim->max_name));
	CHECK(is_string_within(o, "message", lim->max_message));
	CHECK(is_string_within(o, "uri", lim->max_uri));
	CHECK(is_string_within(o, "stack", lim->max_stack));
	if (json_object_object_get_ex(o, "type", &v)) {
		CHECK(json_object_is_type(v, json_type_int));
		CHECK(json_object_get_int64(v) >= 0 && json_object_get_int64(v) <= 99);
	}
	if (json_object_object_get_ex(o, "meta", &v))
		CHECK(json_object_is_type(v, json_type_object));
	check_tree(o, 1, lim->max_depth < TRACKX_DEPTH_CEIL ? lim->max_depth : TRACKX_DEPTH_CEIL);
}

/* json-c's strict mode must accept whatever trackx_json_parse accepts. */
static void check_stricter(const char *body, size_t size, int depth)
{
	struct json_object *o, *p;
	struct json_tokener *tok;
	const char *why;
	int rc = trackx_json_parse(body, size, depth, &o, &why);

	CHECK(rc == 0 || rc == INLET_EINVAL);
	CHECK(rc ? (o == NULL && why != NULL) : (o != NULL && why == NULL));
	if (rc)
		return;
	tok = json_tokener_new_ex(depth + 1);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	p = json_tokener_parse_ex(tok, body, (int)size);
	if (!p && json_tokener_get_error(tok) == json_tokener_continue)
		p = json_tokener_parse_ex(tok, " ", 1);
	CHECK(p && json_tokener_get_error(tok) == json_tokener_success);
	CHECK(json_object_equal(o, p));
	json_tokener_free(tok);
	json_object_put(p);
	json_object_put(o);
}

static void check(const char *body, size_t size, uint8_t sel)
{
	struct trackx_limits lim, roomy;
	struct trackx_error err;
	struct json_object *out = (struct json_object *)(uintptr_t)1, *again;
	const char *text;
	int rc;

	pick_limits(sel, &lim);
	rc = trackx_event_parse(body, size, &lim, &out, &err);
	if (rc) {
		CHECK(out == NULL);
		CHECK(err.code && err.message);
		if (rc == INLET_ETOOBIG)
			CHECK(err.status == 413 && size > lim.max_body && !err.field);
		else if (err.status == 422)
			CHECK(rc == INLET_EINVAL && err.field);
		else
			CHECK(rc == INLET_EINVAL && err.status == 400 && !err.field);
		return;
	}
	CHECK(size <= lim.max_body);
	check_event(out, &lim);
	/* Round trip: json-c may write it longer (escapes), never deeper. */
	roomy = lim;
	roomy.max_body = SIZE_MAX;
	text = json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN |
						   JSON_C_TO_STRING_NOSLASHESCAPE);
	CHECK(trackx_event_parse(text, strlen(text), &roomy, &again, &err) == 0);
	CHECK(json_object_equal(out, again));
	json_object_put(again);
	json_object_put(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	check((const char *)data + 1, size - 1, data[0]);
	if (size <= 1 << 16)
		check_stricter((const char *)data + 1, size - 1, data[0] & 128 ? 3 : 32);
	return 0;
}
