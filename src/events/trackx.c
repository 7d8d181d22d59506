#include "events/trackx.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "core/err.h"

void trackx_limits_default(struct trackx_limits *lim)
{
	lim->max_body = TRACKX_MAX_BODY;
	lim->max_name = TRACKX_MAX_NAME;
	lim->max_message = TRACKX_MAX_MESSAGE;
	lim->max_uri = TRACKX_MAX_URI;
	lim->max_stack = TRACKX_MAX_STACK;
	lim->max_meta = TRACKX_MAX_META;
	lim->max_depth = TRACKX_MAX_DEPTH;
}

/* ---- JSON as JSON.parse reads it ---- */

/* Bytes in the well-formed UTF-8 sequence at s[0..n) (RFC 3629: no
 * overlong forms, no surrogates, nothing past U+10FFFF), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned c = s[0], lo = 0x80, hi = 0xbf;
	size_t k, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		k = 2;
	else if (c >= 0xe0 && c <= 0xef)
		k = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		k = 4;
	else
		return 0;
	if (n < k)
		return 0;
	/* The second byte's range is what rules out overlong forms (E0, F0),
	 * surrogates (ED) and code points past U+10FFFF (F4). */
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < k; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return k;
}

static int is_digit(unsigned c)
{
	return c >= '0' && c <= '9';
}

/* Does a '0' at s[i] (outside strings) start a number's integer part?
 * Then a digit may not follow it ("01", "-01"). A sign right after an
 * exponent mark belongs to the exponent, where leading zeros are fine. */
static int starts_int_part(const unsigned char *s, size_t i)
{
	unsigned p;

	if (i == 0)
		return 1;
	p = s[i - 1];
	if (p == '-')
		return i < 2 || (s[i - 2] != 'e' && s[i - 2] != 'E');
	return !is_digit(p) && p != '.' && p != '+' && p != 'e' && p != 'E';
}

/* What json-c's strict mode lets through and JSON.parse does not, found in
 * one pass: bad UTF-8, NUL, raw control characters in strings, the
 * literals NaN and Infinity (no such letters are allowed outside strings),
 * "1.", "-.5" and "-01"; "\u0000" in an object key (json-c would cut the
 * key there and so merge two keys); and nesting past max_depth. json-c checks the rest of the
 * grammar. Returns NULL or why not. */
static const char *json_prescan(const unsigned char *s, size_t n, int max_depth)
{
	static const char literal[] = "truefalsn"; /* letters of true, false, null */
	size_t i = 0, k;
	int depth = 0, in_str = 0, nul_esc = 0, last_nul_esc = 0;

	while (i < n) {
		unsigned c = s[i];

		if (c == 0)
			return "NUL byte in the body";
		if (c >= 0x80) {
			if (!(k = utf8_seq(s + i, n - i)))
				return "invalid UTF-8";
			if (!in_str)
				return "invalid JSON";
			i += k;
			continue;
		}
		if (in_str) {
			if (c < 0x20)
				return "control character in a string";
			if (c == '"') {
				in_str = 0;
				last_nul_esc = nul_esc;
			} else if (c == '\\') {
				/* json-c checks which escapes are valid;
				 * this only must not skip a byte unseen. */
				if (i + 1 >= n || s[i + 1] < 0x20 || s[i + 1] >= 0x80)
					return "invalid JSON";
				if (n - i >= 6 && memcmp(s + i + 1, "u0000", 5) == 0)
					nul_esc = 1;
				i++;
			}
			i++;
			continue;
		}
		switch (c) {
		case '"':
			in_str = 1;
			nul_esc = 0;
			break;
		case ':':
			/* json-c cuts a key at "\u0000", so "a\u0000b"
			 * would become "a", another key. */
			if (last_nul_esc)
				return "\\u0000 in an object key";
			break;
		case '{':
		case '[':
			if (++depth > max_depth)
				return "JSON nested too deep";
			break;
		case '}':
		case ']':
			depth--;
			break;
		case '.':
		case '-':
		case '+':
			/* json-c takes "1.", "1.e5" and "-.5" */
			if (i + 1 >= n || !is_digit(s[i + 1]))
				return "invalid JSON";
			break;
		case '0':
			if (starts_int_part(s, i) && i + 1 < n && is_digit(s[i + 1]))
				return "invalid JSON";
			break;
		case ' ':
		case '\t':
		case '\n':
		case '\r':
		case ',':
		case 'e':
		case 'E':
			break;
		default:
			if (!is_digit(c) && !memchr(literal, (int)c, sizeof(literal) - 1))
				return "invalid JSON";
		}
		i++;
	}
	return NULL;
}

static int is_json_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int trackx_json_parse(const char *body, size_t len, int max_depth,
		      struct json_object **out, const char **why)
{
	struct json_tokener *tok = NULL;
	struct json_object *o = NULL;
	enum json_tokener_error jerr;
	size_t i, end;
	int rc = INLET_EINVAL;

	*out = NULL;
	*why = "invalid JSON";
	if (max_depth < 1)
		return INLET_EINVAL;
	if (max_depth > TRACKX_DEPTH_CEIL)
		max_depth = TRACKX_DEPTH_CEIL;
	if (len == 0 || len > INT_MAX) {
		*why = len ? "body too large to parse" : "empty body";
		return INLET_EINVAL;
	}
	if ((*why = json_prescan((const unsigned char *)body, len, max_depth)))
		return INLET_EINVAL;
	*why = "invalid JSON";
	/* The prescan bounds the nesting; json-c counts a scalar inside the
	 * deepest container as one level more. */
	tok = json_tokener_new_ex(max_depth + 1);
	if (!tok)
		return INLET_ENOMEM;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, body, (int)len);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	/* A scalar alone is complete only when json-c sees what follows it;
	 * then all of body was taken. */
	if (!o && jerr == json_tokener_continue) {
		o = json_tokener_parse_ex(tok, " ", 1);
		jerr = json_tokener_get_error(tok);
		end = len;
	}
	if (!o || jerr != json_tokener_success) {
		/* "null" parses to NULL with success: valid JSON, no value. */
		if (jerr == json_tokener_success && !o)
			*why = TRACKX_WHY_NULL;
		goto out;
	}
	for (i = end; i < len; i++)
		if (!is_json_ws(body[i]))
			goto out;
	*out = o;
	o = NULL;
	*why = NULL;
	rc = 0;
out:
	json_object_put(o);
	json_tokener_free(tok);
	return rc;
}

const char TRACKX_WHY_NULL[] = "JSON null where a value was expected";

/* ---- lengths as JavaScript counts them ---- */

/* String.length of valid UTF-8 s[0..n): UTF-16 code units. */
static size_t utf16_len(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i, units = 0;

	for (i = 0; i < n; i++) {
		if ((p[i] & 0xc0) == 0x80)
			continue;
		units += p[i] >= 0xf0 ? 2 : 1;
	}
	return units;
}

/* Length of JSON.stringify of a string: quotes, and the escapes
 * JavaScript writes (\" \\ \b \f \n \r \t, \u00XX for other controls). */
static size_t js_string_len(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i, units = 2;

	for (i = 0; i < n; i++) {
		unsigned c = p[i];

		if (c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' ||
		    c == '\r' || c == '\t')
			units += 2;
		else if (c < 0x20)
			units += 6;
		else if ((c & 0xc0) != 0x80)
			units += c >= 0xf0 ? 2 : 1;
	}
	return units;
}

static size_t decimal_digits(uint64_t v)
{
	size_t k = 1;

	while (v >= 10) {
		v /= 10;
		k++;
	}
	return k;
}

/* Length of JavaScript's Number#toString(d) (ECMA-262 Number::toString):
 * the fewest significant digits that read back as d, written plainly
 * while the decimal exponent is in -7 < e < 21 and as 1.5e+21 outside;
 * NaN and the infinities become null in JSON. */
static size_t js_number_len(double d)
{
	char buf[40], *e;
	size_t len = 0;
	long x;
	int p, k, n;

	if (isnan(d) || isinf(d))
		return 4;
	if (d == 0)
		return 1; /* -0 too */
	if (d < 0) {
		len = 1;
		d = -d;
	}
	for (p = 1; p < 17; p++) {
		snprintf(buf, sizeof(buf), "%.*e", p - 1, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	snprintf(buf, sizeof(buf), "%.*e", p - 1, d);
	e = strchr(buf, 'e');
	x = e ? strtol(e + 1, NULL, 10) : 0;
	k = p;
	n = (int)x + 1;
	if (k <= n && n <= 21)
		return len + (size_t)n;
	if (n > 0 && n <= 21)
		return len + (size_t)k + 1;
	if (n > -6 && n <= 0)
		return len + 2 + (size_t)-n + (size_t)k;
	x = labs(x);
	return len + (size_t)k + (k > 1) + 2 + (x >= 100 ? 3 : x >= 10 ? 2 : 1);
}

/* JSON.parse keeps integers as doubles: exact up to 2^53, rounded past. */
static size_t js_int_len(struct json_object *o)
{
	int64_t v = json_object_get_int64(o);
	uint64_t u;

	if (v == INT64_MAX && (u = json_object_get_uint64(o)) > (uint64_t)INT64_MAX)
		return js_number_len((double)u);
	if (v > (INT64_C(1) << 53) || v < -(INT64_C(1) << 53))
		return js_number_len((double)v);
	if (v < 0)
		return 1 + decimal_digits((uint64_t)-v);
	return decimal_digits((uint64_t)v);
}

/* JSON.stringify(o).length; stops adding once past cap (the depth is
 * bounded by the parse). */
static size_t js_json_len(struct json_object *o, size_t cap)
{
	size_t len = 0, i, n;

	switch (json_object_get_type(o)) {
	case json_type_null:
		return 4;
	case json_type_boolean:
		return json_object_get_boolean(o) ? 4 : 5;
	case json_type_int:
		return js_int_len(o);
	case json_type_double:
		return js_number_len(json_object_get_double(o));
	case json_type_string:
		return js_string_len(json_object_get_string(o),
				     (size_t)json_object_get_string_len(o));
	case json_type_array:
		n = json_object_array_length(o);
		len = 2 + (n ? n - 1 : 0);
		for (i = 0; i < n && len <= cap; i++)
			len += js_json_len(json_object_array_get_idx(o, i), cap);
		return len;
	case json_type_object:
		/* {} and a comma between members; each is "key":value */
		n = (size_t)json_object_object_length(o);
		len = 2 + (n ? n - 1 : 0);
		json_object_object_foreach(o, key, val) {
			if (len > cap)
				break;
			len += js_string_len(key, strlen(key)) + 1 + js_json_len(val, cap);
		}
		return len;
	}
	return len;
}

/* ---- the event ---- */

enum field { F_NAME, F_MESSAGE, F_TYPE, F_URI, F_STACK, F_META, F_N };

static const char *const field_names[F_N] = {
	"name", "message", "type", "uri", "stack", "meta",
};

static const char *const field_errors[F_N] = {
	"Invalid name", "Invalid message", "Invalid type",
	"Invalid uri", "Invalid stack", "Invalid meta",
};

static int fail(struct trackx_error *err, int status, const char *code,
		const char *field, const char *message)
{
	err->status = status;
	err->code = code;
	err->field = field;
	err->message = message;
	return status == 413 ? INLET_ETOOBIG : INLET_EINVAL;
}

static int field_index(const char *key)
{
	int i;

	for (i = 0; i < F_N; i++)
		if (strcmp(key, field_names[i]) == 0)
			return i;
	return -1;
}

static int string_ok(struct json_object *v, size_t max)
{
	return json_object_is_type(v, json_type_string) &&
	       utf16_len(json_object_get_string(v),
			 (size_t)json_object_get_string_len(v)) <= max;
}

/* type: a whole number 0..99, whichever way it was written. */
static int type_value(struct json_object *v, int *out)
{
	double d;

	if (json_object_is_type(v, json_type_int)) {
		int64_t i = json_object_get_int64(v);

		if (i < 0 || i > 99)
			return -1;
		*out = (int)i;
		return 0;
	}
	if (!json_object_is_type(v, json_type_double))
		return -1;
	d = json_object_get_double(v);
	if (!(d >= 0 && d <= 99) || d != floor(d))
		return -1;
	*out = (int)d;
	return 0;
}

static int check_value(int f, struct json_object *v, const struct trackx_limits *lim)
{
	int t;

	switch (f) {
	case F_NAME:
		return string_ok(v, lim->max_name);
	case F_MESSAGE:
		return string_ok(v, lim->max_message);
	case F_URI:
		return string_ok(v, lim->max_uri);
	case F_STACK:
		return string_ok(v, lim->max_stack);
	case F_TYPE:
		return type_value(v, &t) == 0;
	case F_META:
		return json_object_is_type(v, json_type_object) &&
		       js_json_len(v, lim->max_meta) <= lim->max_meta;
	}
	return 0;
}

int trackx_event_parse(const char *body, size_t len, const struct trackx_limits *lim,
		       struct json_object **out, struct trackx_error *err)
{
	struct trackx_limits defaults;
	struct json_object *root = NULL, *v;
	const char *why;
	int rc, f, t;

	*out = NULL;
	memset(err, 0, sizeof(*err));
	if (!lim) {
		trackx_limits_default(&defaults);
		lim = &defaults;
	}
	if (len > lim->max_body)
		return fail(err, 413, "TOO_BIG", NULL, "Body too large");
	if ((rc = trackx_json_parse(body, len, lim->max_depth, &root, &why))) {
		if (rc == INLET_ENOMEM)
			return rc;
		if (why == TRACKX_WHY_NULL) /* JSON, but not an object */
			return fail(err, 400, "INVALID_BODY", NULL, "Invalid body");
		return fail(err, 400, "INVALID_JSON", NULL, why);
	}
	if (!json_object_is_type(root, json_type_object)) {
		rc = fail(err, 400, "INVALID_BODY", NULL, "Invalid body");
		goto out;
	}
	/* TrackX refuses unknown keys (400) before it looks at any value. */
	{
		json_object_object_foreach(root, key, val) {
			(void)val;
			if (field_index(key) < 0) {
				rc = fail(err, 400, "UNEXPECTED_PROPERTY", NULL,
					  "Unexpected property");
				goto out;
			}
		}
	}
	/* Then each value in TrackX's order, the first bad one reported. */
	for (f = 0; f < F_N; f++) {
		if (!json_object_object_get_ex(root, field_names[f], &v))
			continue;
		if (!check_value(f, v, lim)) {
			rc = fail(err, 422, "INVALID_VALUE", field_names[f], field_errors[f]);
			goto out;
		}
	}
	if (json_object_object_get_ex(root, "type", &v) &&
	    !json_object_is_type(v, json_type_int)) {
		(void)type_value(v, &t);
		json_object_object_add(root, "type", json_object_new_int(t));
	}
	*out = root;
	root = NULL;
	rc = 0;
out:
	json_object_put(root);
	return rc;
}
