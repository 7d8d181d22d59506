/* trackx_event_parse and trackx_json_parse: what the TrackX clients send,
 * every rule of TrackX's event route with its boundaries (at the limit and
 * one over, counted in UTF-16 code units), and JSON the way JSON.parse
 * reads it. JSON below is written with single quotes and turned into
 * double quotes before parsing (dq()); none of the texts needs a literal
 * apostrophe. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "core/err.h"
#include "events/trackx.h"

struct fx {
	struct trackx_limits lim;
	struct json_object *out;
	struct trackx_error err;
	char *text; /* the last dq() result */
};

static int setup(void **state)
{
	static struct fx fx;

	memset(&fx, 0, sizeof(fx));
	trackx_limits_default(&fx.lim);
	*state = &fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	json_object_put(fx->out);
	fx->out = NULL;
	free(fx->text);
	fx->text = NULL;
	return 0;
}

static char *dq(struct fx *fx, const char *s)
{
	char *p;

	free(fx->text);
	fx->text = strdup(s);
	assert_non_null(fx->text);
	for (p = fx->text; *p; p++)
		if (*p == '\'')
			*p = '"';
	return fx->text;
}

/* Parses raw bytes with fx->lim; the previous result is released. */
static int parse_raw(struct fx *fx, const char *body, size_t len)
{
	json_object_put(fx->out);
	fx->out = NULL;
	return trackx_event_parse(body, len, &fx->lim, &fx->out, &fx->err);
}

/* A literal's bytes, NULs included, without the terminating one. */
#define RAW(fx, lit) parse_raw(fx, lit, sizeof(lit) - 1)

static int parse(struct fx *fx, const char *s)
{
	const char *d = dq(fx, s);

	return parse_raw(fx, d, strlen(d));
}

/* {"<key>":"<unit x count>"}, with unit given as raw UTF-8 bytes. */
static int parse_repeat(struct fx *fx, const char *key, const char *unit, size_t count)
{
	size_t ul = strlen(unit), kl = strlen(key), len = kl + 6 + ul * count + 2, i;
	char *b = malloc(len + 1), *p = b;
	int rc;

	assert_non_null(b);
	p += snprintf(p, len + 1, "{\"%s\":\"", key);
	for (i = 0; i < count; i++, p += ul)
		memcpy(p, unit, ul);
	memcpy(p, "\"}", 3);
	rc = parse_raw(fx, b, strlen(b));
	free(b);
	return rc;
}

/* {"meta":{"a":"<k times x><tail>"}}: JSON.stringify(meta) is k + 8
 * characters, plus what tail becomes. */
static int parse_meta(struct fx *fx, size_t k, const char *tail)
{
	static const char head[] = "{\"meta\":{\"a\":\"", end[] = "\"}}";
	size_t hl = sizeof(head) - 1, tl = tail ? strlen(tail) : 0;
	size_t len = hl + k + tl + sizeof(end) - 1;
	char *b = malloc(len + 1);
	int rc;

	assert_non_null(b);
	memcpy(b, head, hl);
	memset(b + hl, 'x', k);
	if (tl)
		memcpy(b + hl + k, tail, tl);
	memcpy(b + hl + k + tl, end, sizeof(end));
	rc = parse_raw(fx, b, len);
	free(b);
	return rc;
}

/* The call failed with this status, code and field (NULL for none). */
static void refused(const struct fx *fx, int rc, int status, const char *code, const char *field)
{
	assert_int_equal(rc, status == 413 ? INLET_ETOOBIG : INLET_EINVAL);
	assert_null(fx->out);
	assert_int_equal(fx->err.status, status);
	assert_string_equal(fx->err.code, code);
	if (field)
		assert_string_equal(fx->err.field, field);
	else
		assert_null(fx->err.field);
	assert_non_null(fx->err.message);
}

#define INVALID(fx, rc, field) refused(fx, rc, 422, "INVALID_VALUE", field)
#define BAD_JSON(fx, rc) refused(fx, rc, 400, "INVALID_JSON", NULL)

static const char *get_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* ---- what the clients send ---- */

/* default.ts: XMLHttpRequest, application/json, an Error caught by
 * window.onerror. */
#define DEFAULT_CLIENT_EVENT                                                                     \
	"{'name':'TypeError','message':'Cannot read properties of undefined (reading id)',"      \
	"'stack':'TypeError: Cannot read properties of undefined (reading id)\\n"                \
	"    at render (https://app.example/assets/index-4f2a.js:1:2345)\\n"                     \
	"    at https://app.example/assets/index-4f2a.js:1:9876','type':1,"                      \
	"'uri':'https://app.example/dashboard?tab=2','meta':{'_c':'d','_v':'0.5.1'}}"

static void t_client_events(void **state)
{
	struct fx *fx = *state;
	struct json_object *v;

	assert_int_equal(parse(fx, DEFAULT_CLIENT_EVENT), 0);
	assert_true(json_object_is_type(fx->out, json_type_object));
	assert_int_equal(json_object_object_length(fx->out), 6);
	assert_string_equal(get_str(fx->out, "name"), "TypeError");
	assert_string_equal(get_str(fx->out, "uri"), "https://app.example/dashboard?tab=2");
	assert_true(json_object_object_get_ex(fx->out, "type", &v));
	assert_true(json_object_is_type(v, json_type_int));
	assert_int_equal(json_object_get_int(v), TRACKX_UNHANDLED_ERROR);
	assert_true(json_object_object_get_ex(fx->out, "meta", &v));
	assert_string_equal(get_str(v, "_c"), "d");

	/* console.error(1, 2) in the modern client: no name (args is an
	 * array, so ex.name is undefined and left out), message from
	 * String(args), a synthetic stack. */
	assert_int_equal(parse(fx, "{'message':'1,2','stack':'Error\\n    at https://a.example/m.js:1:1',"
				   "'type':3,'uri':'https://a.example/','meta':{'_c':'m','_v':'0.5.1'}}"), 0);
	assert_int_equal(json_object_object_length(fx->out), 5);
	assert_null(get_str(fx->out, "name"));

	/* The node client: uri is file://, or left out; extra meta. */
	assert_int_equal(parse(fx, "{'name':'Error','message':'boom','stack':'Error: boom\\n    at Object.<anonymous> "
				   "(/srv/app/index.js:3:7)','type':4,'uri':'file:///srv/app/index.js',"
				   "'meta':{'_c':'n','_v':'0.5.1','release':'1.2.3','user':{'id':7}}}"), 0);
	assert_int_equal(parse(fx, "{'name':'Error','message':'x','type':2,'meta':{'_c':'n'}}"), 0);

	/* Every key is optional. */
	assert_int_equal(parse(fx, "{}"), 0);
	assert_int_equal(json_object_object_length(fx->out), 0);
	assert_int_equal(parse(fx, "{'type':99}"), 0);
}

/* ---- 400: only the six keys ---- */

static void t_unexpected_property(void **state)
{
	struct fx *fx = *state;

	refused(fx, parse(fx, "{'foo':1}"), 400, "UNEXPECTED_PROPERTY", NULL);
	assert_string_equal(fx->err.message, "Unexpected property");
	refused(fx, parse(fx, "{'name':'x','extra':null}"), 400, "UNEXPECTED_PROPERTY", NULL);
	/* Names are case-sensitive. */
	refused(fx, parse(fx, "{'Name':'x'}"), 400, "UNEXPECTED_PROPERTY", NULL);
	refused(fx, parse(fx, "{'name ':'x'}"), 400, "UNEXPECTED_PROPERTY", NULL);
	refused(fx, parse(fx, "{'__proto__':{}}"), 400, "UNEXPECTED_PROPERTY", NULL);
	refused(fx, parse(fx, "{'':1}"), 400, "UNEXPECTED_PROPERTY", NULL);
	/* TrackX looks for extra keys before it looks at any value. */
	refused(fx, parse(fx, "{'name':5,'x':1}"), 400, "UNEXPECTED_PROPERTY", NULL);
	/* json-c would cut a key at \u0000 and make this "name": refused. */
	BAD_JSON(fx, parse(fx, "{'name\\u0000x':'a'}"));
	assert_string_equal(fx->err.message, "\\u0000 in an object key");
	BAD_JSON(fx, parse(fx, "{'meta':{'\\u0000':1}}"));
	/* In values it is a character like any other; an escaped backslash
	 * before u0000 is no escape. */
	assert_int_equal(parse(fx, "{'meta':{'a\\\\u0000':'\\u0000'}}"), 0);
	/* Keys inside meta are free. */
	assert_int_equal(parse(fx, "{'meta':{'foo':1,'name':[]}}"), 0);
}

/* ---- 422: each value ---- */

static void t_name(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(parse_repeat(fx, "name", "a", 512), 0);
	INVALID(fx, parse_repeat(fx, "name", "a", 513), "name");
	assert_string_equal(fx->err.message, "Invalid name");
	assert_int_equal(parse(fx, "{'name':''}"), 0);
	INVALID(fx, parse(fx, "{'name':5}"), "name");
	INVALID(fx, parse(fx, "{'name':null}"), "name");
	INVALID(fx, parse(fx, "{'name':['x']}"), "name");
	INVALID(fx, parse(fx, "{'name':{}}"), "name");
	INVALID(fx, parse(fx, "{'name':true}"), "name");
}

/* Lengths are UTF-16 code units, as String.length counts. */
static void t_utf16_lengths(void **state)
{
	struct fx *fx = *state;

	/* é: 2 bytes, 1 unit. 512 of them are 1,024 bytes and allowed. */
	assert_int_equal(parse_repeat(fx, "name", "\xc3\xa9", 512), 0);
	INVALID(fx, parse_repeat(fx, "name", "\xc3\xa9", 513), "name");
	/* 日: 3 bytes, 1 unit. */
	assert_int_equal(parse_repeat(fx, "name", "\xe6\x97\xa5", 512), 0);
	INVALID(fx, parse_repeat(fx, "name", "\xe6\x97\xa5", 513), "name");
	/* 😀: 4 bytes, 2 units (a surrogate pair). */
	assert_int_equal(parse_repeat(fx, "name", "\xf0\x9f\x98\x80", 256), 0);
	INVALID(fx, parse_repeat(fx, "name", "\xf0\x9f\x98\x80", 257), "name");
	/* 510 a + 1 emoji = 512; 511 a + 1 emoji = 513. */
	{
		char b[600];

		memset(b, 'a', sizeof(b));
		memcpy(b, "{\"name\":\"", 9);
		memcpy(b + 9 + 510, "\xf0\x9f\x98\x80\"}", 6);
		assert_int_equal(parse_raw(fx, b, 9 + 510 + 6), 0);
		memset(b, 'a', sizeof(b));
		memcpy(b, "{\"name\":\"", 9);
		memcpy(b + 9 + 511, "\xf0\x9f\x98\x80\"}", 6);
		INVALID(fx, parse_raw(fx, b, 9 + 511 + 6), "name");
	}
	/* Escapes count as the character they stand for. */
	assert_int_equal(parse_repeat(fx, "name", "\\ud83d\\ude00", 256), 0);
	INVALID(fx, parse_repeat(fx, "name", "\\ud83d\\ude00", 257), "name");
	assert_int_equal(parse_repeat(fx, "name", "\\n", 512), 0);
	INVALID(fx, parse_repeat(fx, "name", "\\u0041", 513), "name");
	/* "\u0000" is valid JSON: kept, one unit. */
	assert_int_equal(parse_repeat(fx, "name", "\\u0000", 512), 0);
	INVALID(fx, parse_repeat(fx, "name", "\\u0000", 513), "name");
}

static void t_message(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(parse_repeat(fx, "message", "m", 10000), 0);
	INVALID(fx, parse_repeat(fx, "message", "m", 10001), "message");
	assert_string_equal(fx->err.message, "Invalid message");
	assert_int_equal(parse_repeat(fx, "message", "\xf0\x9f\x98\x80", 5000), 0);
	INVALID(fx, parse_repeat(fx, "message", "\xf0\x9f\x98\x80", 5001), "message");
	INVALID(fx, parse(fx, "{'message':404}"), "message");
	INVALID(fx, parse(fx, "{'message':null}"), "message");
}

static void t_type(void **state)
{
	struct fx *fx = *state;
	struct json_object *v;
	static const char *const ok[][2] = {
		{ "{'type':0}", "0" },      { "{'type':99}", "99" },   { "{'type':-0}", "0" },
		{ "{'type':4.0}", "4" },    { "{'type':4e0}", "4" },   { "{'type':0.4e1}", "4" },
		{ "{'type':99.0}", "99" },  { "{'type':-0.0}", "0" },  { "{'type':9.9E1}", "99" },
		{ "{'type':1}", "1" },      { "{'type':70}", "70" },
	};
	static const char *const bad[] = {
		"{'type':-1}", "{'type':100}", "{'type':4.5}", "{'type':99.5}", "{'type':-0.5}",
		"{'type':'1'}", "{'type':null}", "{'type':true}", "{'type':[1]}", "{'type':{}}",
		"{'type':1e400}", "{'type':-1e400}", "{'type':12345678901234567890}",
		"{'type':-12345678901234567890}",
	};
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(parse(fx, ok[i][0]), 0);
		assert_true(json_object_object_get_ex(fx->out, "type", &v));
		assert_true(json_object_is_type(v, json_type_int));
		assert_string_equal(json_object_get_string(v), ok[i][1]);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		INVALID(fx, parse(fx, bad[i]), "type");
		assert_string_equal(fx->err.message, "Invalid type");
	}
	/* 1e-400 is 0 in JavaScript and in strtod. */
	assert_int_equal(parse(fx, "{'type':1e-400}"), 0);
}

static void t_uri_and_stack(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(parse_repeat(fx, "uri", "u", 1000), 0);
	INVALID(fx, parse_repeat(fx, "uri", "u", 1001), "uri");
	assert_string_equal(fx->err.message, "Invalid uri");
	INVALID(fx, parse(fx, "{'uri':1}"), "uri");
	INVALID(fx, parse(fx, "{'uri':null}"), "uri");

	assert_int_equal(parse_repeat(fx, "stack", "s", 131072), 0);
	INVALID(fx, parse_repeat(fx, "stack", "s", 131073), "stack");
	assert_string_equal(fx->err.message, "Invalid stack");
	INVALID(fx, parse(fx, "{'stack':['at x']}"), "stack");

	/* Limits are settings. */
	fx->lim.max_uri = 10;
	assert_int_equal(parse(fx, "{'uri':'https://a/'}"), 0);
	INVALID(fx, parse(fx, "{'uri':'https://ab/'}"), "uri");
	fx->lim.max_stack = 0;
	assert_int_equal(parse(fx, "{'stack':''}"), 0);
	INVALID(fx, parse(fx, "{'stack':'x'}"), "stack");
}

/* meta's limit is on the length of JSON.stringify(meta). */
static void t_meta(void **state)
{
	struct fx *fx = *state;
	/* body, and the JSON.stringify of its meta */
	static const char *const cases[][2] = {
		{ "{'meta':{}}", "{}" },
		{ "{'meta':{'a':1}}", "{'a':1}" },
		{ "{'meta' : { 'a' : [ 1 , 2 ] , 'b' : null } }", "{'a':[1,2],'b':null}" },
		{ "{'meta':{'a':1e2}}", "{'a':100}" },
		{ "{'meta':{'a':1E+2}}", "{'a':100}" },
		{ "{'meta':{'a':1.50}}", "{'a':1.5}" },
		{ "{'meta':{'a':-0.0}}", "{'a':0}" },
		{ "{'meta':{'a':1e21}}", "{'a':1e+21}" },
		{ "{'meta':{'a':1e20}}", "{'a':100000000000000000000}" },
		{ "{'meta':{'a':0.0000001}}", "{'a':1e-7}" },
		{ "{'meta':{'a':0.000001}}", "{'a':0.000001}" },
		{ "{'meta':{'a':1e400}}", "{'a':null}" },
		{ "{'meta':{'a':0.1}}", "{'a':0.1}" },
		{ "{'meta':{'a':9007199254740993}}", "{'a':9007199254740992}" },
		{ "{'meta':{'a':true,'b':false}}", "{'a':true,'b':false}" },
		{ "{'meta':{'a':'\\/'}}", "{'a':'/'}" },
		{ "{'meta':{'a':'\\u0001'}}", "{'a':'\\u0001'}" },
		{ "{'meta':{'a':'\\t\\\\\\''}}", "{'a':'\\t\\\\\\''}" },
		{ "{'meta':{'a':'\\u00e9'}}", "{'a':'x'}" },
		{ "{'meta':{'\\ud83d\\ude00':'\xf0\x9f\x98\x80'}}", "{'xx':'xx'}" },
		{ "{'meta':{'a':{'b':{'c':[]}}}}", "{'a':{'b':{'c':[]}}}" },
		{ "{'meta':{'a':1,'a':22}}", "{'a':22}" },
	};
	size_t i, n;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		n = strlen(cases[i][1]);
		fx->lim.max_meta = n;
		assert_int_equal(parse(fx, cases[i][0]), 0);
		fx->lim.max_meta = n - 1;
		INVALID(fx, parse(fx, cases[i][0]), "meta");
		assert_string_equal(fx->err.message, "Invalid meta");
	}
	trackx_limits_default(&fx->lim);
	INVALID(fx, parse(fx, "{'meta':[]}"), "meta");
	INVALID(fx, parse(fx, "{'meta':null}"), "meta");
	INVALID(fx, parse(fx, "{'meta':'x'}"), "meta");
	INVALID(fx, parse(fx, "{'meta':1}"), "meta");

	/* The default, 1,048,576, at the limit and one over. */
	fx->lim.max_body = 2u << 20;
	assert_int_equal(parse_meta(fx, TRACKX_MAX_META - 8, NULL), 0);
	INVALID(fx, parse_meta(fx, TRACKX_MAX_META - 7, NULL), "meta");
	/* An escape is as long as JavaScript writes it: "\n" is 2, "\/" 1. */
	assert_int_equal(parse_meta(fx, TRACKX_MAX_META - 8 - 2, "\\n"), 0);
	INVALID(fx, parse_meta(fx, TRACKX_MAX_META - 8 - 1, "\\n"), "meta");
	assert_int_equal(parse_meta(fx, TRACKX_MAX_META - 8 - 1, "\\/"), 0);
	/* TrackX before June 2022 capped meta at 128,000. */
	fx->lim.max_meta = 128000;
	assert_int_equal(parse_meta(fx, 128000 - 8, NULL), 0);
	INVALID(fx, parse_meta(fx, 128000 - 7, NULL), "meta");
}

/* The first bad value in TrackX's order: name, message, type, uri, stack,
 * meta. */
static void t_order(void **state)
{
	struct fx *fx = *state;

	INVALID(fx, parse(fx, "{'meta':[],'name':1}"), "name");
	INVALID(fx, parse(fx, "{'meta':[],'stack':1,'type':-1}"), "type");
	INVALID(fx, parse(fx, "{'meta':[],'stack':1,'uri':2}"), "uri");
	INVALID(fx, parse(fx, "{'meta':[],'stack':1}"), "stack");
}

/* ---- 400: the JSON itself ---- */

static void t_json(void **state)
{
	struct fx *fx = *state;
	static const char *const bad[] = {
		"", " ", "{", "}", "{'name':'x'", "{'name':'x'}}", "{} x", "{}{}", "{'a' 1}",
		"{'name':'x',}", "{name:'x'}", "{\\'name\\':1}", "/* */{}", "{}//",
		"{'type':NaN}", "{'type':Infinity}", "{'type':-Infinity}", "{'type':1.}",
		"{'type':1.e1}", "{'type':-.5}", "{'type':01}", "{'type':-01}", "{'type':+1}",
		"{'type':0x1}", "{'name':'\\x'}", "{'name':'\\u12'}", "{'meta':{'a':[1,]}}",
		"{'name':undefined}",
	};
	/* JSON, but not an object ("null" too: valid JSON without a value). */
	static const char *const not_object[] = { "[]", "[{}]", "'x'", "1", "true", "null" };
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		BAD_JSON(fx, parse(fx, bad[i]));
	for (i = 0; i < sizeof(not_object) / sizeof(not_object[0]); i++) {
		refused(fx, parse(fx, not_object[i]), 400, "INVALID_BODY", NULL);
		assert_string_equal(fx->err.message, "Invalid body");
	}
	/* White space around the object is fine, JSON's four kinds only. */
	assert_int_equal(parse(fx, " \t\r\n{ 'name' : 'x' }\r\n "), 0);
	BAD_JSON(fx, parse(fx, "\f{}"));
	BAD_JSON(fx, parse(fx, "{}\v"));
	/* Raw bytes JSON.parse refuses and json-c alone would take. */
	BAD_JSON(fx, RAW(fx, "{\"name\":\"a\tb\"}"));       /* raw tab */
	BAD_JSON(fx, RAW(fx, "{\"name\":\"a\nb\"}"));       /* raw newline */
	BAD_JSON(fx, RAW(fx, "{\"name\":\"a\x01\"}"));
	BAD_JSON(fx, RAW(fx, "{\"name\":\"a\"}\0"));        /* NUL after */
	BAD_JSON(fx, RAW(fx, "{\"name\":\"a\0b\"}"));       /* NUL inside */
	BAD_JSON(fx, RAW(fx, "\xef\xbb\xbf{}"));             /* BOM */
	BAD_JSON(fx, RAW(fx, "{\"name\":\"\xc0\x80\"}"));   /* overlong NUL */
	BAD_JSON(fx, RAW(fx, "{\"name\":\"\xe0\x80\x80\"}"));
	BAD_JSON(fx, RAW(fx, "{\"name\":\"\xed\xa0\x80\"}")); /* surrogate */
	BAD_JSON(fx, RAW(fx, "{\"name\":\"\xf4\x90\x80\x80\"}")); /* > U+10FFFF */
	BAD_JSON(fx, RAW(fx, "{\"name\":\"\xe6\x97\"}"));   /* cut short */
	BAD_JSON(fx, RAW(fx, "{\"name\":\"\x80\"}"));       /* stray continuation */
	BAD_JSON(fx, RAW(fx, "{\"name\":\"\xff\"}"));
	/* ...and what it takes: DEL, U+2028, unpaired surrogate escapes
	 * (json-c makes them U+FFFD), the largest code point. */
	assert_int_equal(RAW(fx, "{\"name\":\"\x7f\"}"), 0);
	assert_int_equal(RAW(fx, "{\"name\":\"\xe2\x80\xa8\"}"), 0);
	assert_int_equal(parse(fx, "{'name':'\\ud800 \\udc00'}"), 0);
	assert_string_equal(get_str(fx->out, "name"), "\xef\xbf\xbd \xef\xbf\xbd");
	assert_int_equal(RAW(fx, "{\"name\":\"\xf4\x8f\xbf\xbf\"}"), 0);
	/* Duplicate keys: the last wins, as in JSON.parse. */
	assert_int_equal(parse(fx, "{'name':'a','name':'b'}"), 0);
	assert_string_equal(get_str(fx->out, "name"), "b");
	INVALID(fx, parse(fx, "{'name':'a','name':1}"), "name");
	assert_int_equal(parse(fx, "{'name':1,'name':'a'}"), 0);
}

/* Nesting: {} is 1. The default is 32. */
static void t_depth(void **state)
{
	struct fx *fx = *state;
	char b[256];
	int d;

	/* {"meta": + 31 more objects = 32 */
	for (d = 31; d <= 32; d++) {
		int i, n = 0;

		n += snprintf(b + n, sizeof(b) - (size_t)n, "{\"meta\":");
		for (i = 0; i < d; i++)
			n += snprintf(b + n, sizeof(b) - (size_t)n, "%s", i + 1 < d ? "{\"a\":" : "{}");
		for (i = 0; i < d; i++)
			b[n++] = '}';
		if (d == 31)
			assert_int_equal(parse_raw(fx, b, (size_t)n), 0);
		else
			BAD_JSON(fx, parse_raw(fx, b, (size_t)n));
	}
	assert_string_equal(fx->err.message, "JSON nested too deep");
	fx->lim.max_depth = 2;
	assert_int_equal(parse(fx, "{'meta':{'a':1}}"), 0);
	assert_int_equal(parse(fx, "{'meta':{}}"), 0);
	/* An empty container at the bottom counts too. */
	BAD_JSON(fx, parse(fx, "{'meta':{'a':{}}}"));
	BAD_JSON(fx, parse(fx, "{'meta':{'a':[]}}"));
	/* Brackets inside strings are text. */
	assert_int_equal(parse(fx, "{'meta':{'a':'[[[{{{'}}"), 0);
	fx->lim.max_depth = 1;
	assert_int_equal(parse(fx, "{'name':'x'}"), 0);
	BAD_JSON(fx, parse(fx, "{'meta':{}}"));
	fx->lim.max_depth = 0;
	BAD_JSON(fx, parse(fx, "{}"));
	/* Past the ceiling it is the ceiling. */
	fx->lim.max_depth = 100000;
	assert_int_equal(parse(fx, "{'meta':{'a':{'b':{}}}}"), 0);
}

static void t_body_cap(void **state)
{
	struct fx *fx = *state;

	fx->lim.max_body = 11;
	assert_int_equal(parse(fx, "{'name':''}"), 0); /* 11 bytes */
	refused(fx, parse(fx, "{'name':'x'}"), 413, "TOO_BIG", NULL);
	fx->lim.max_body = 0;
	BAD_JSON(fx, RAW(fx, ""));
}

static void t_defaults(void **state)
{
	struct fx *fx = *state;
	struct trackx_limits lim;
	const char *d = dq(fx, DEFAULT_CLIENT_EVENT);

	trackx_limits_default(&lim);
	assert_int_equal(lim.max_name, 512);
	assert_int_equal(lim.max_message, 10000);
	assert_int_equal(lim.max_uri, 1000);
	assert_int_equal(lim.max_stack, 131072);
	assert_int_equal(lim.max_meta, 1048576);
	assert_int_equal(lim.max_body, 1048576);
	assert_int_equal(lim.max_depth, 32);
	/* NULL limits are the defaults. */
	assert_int_equal(trackx_event_parse(d, strlen(d), NULL, &fx->out, &fx->err), 0);
	assert_non_null(fx->out);
}

/* The result is the caller's: it outlives the input. */
static void t_ownership(void **state)
{
	struct fx *fx = *state;
	char *copy = strdup(dq(fx, "{'name':'kept','meta':{'k':'v'}}"));
	struct json_object *o, *m;

	assert_int_equal(trackx_event_parse(copy, strlen(copy), &fx->lim, &o, &fx->err), 0);
	memset(copy, 'x', strlen(copy));
	free(copy);
	assert_string_equal(get_str(o, "name"), "kept");
	assert_true(json_object_object_get_ex(o, "meta", &m));
	assert_string_equal(get_str(m, "k"), "v");
	json_object_put(o);
	/* On failure *out is NULL (ASan's leak check covers the release). */
	o = (struct json_object *)(uintptr_t)1;
	assert_int_equal(trackx_event_parse("{\"x\":{}}", 8, &fx->lim, &o, &fx->err), INLET_EINVAL);
	assert_null(o);
}

/* trackx_json_parse on its own: any JSON value. */
static void t_json_parse(void **state)
{
	struct json_object *o;
	const char *why;

	(void)state;
	assert_int_equal(trackx_json_parse(" 12 ", 4, 8, &o, &why), 0);
	assert_int_equal(json_object_get_int(o), 12);
	assert_null(why);
	json_object_put(o);
	assert_int_equal(trackx_json_parse("true", 4, 8, &o, &why), 0);
	json_object_put(o);
	assert_int_equal(trackx_json_parse("\"s\"", 3, 8, &o, &why), 0);
	json_object_put(o);
	assert_int_equal(trackx_json_parse("[1,[2]]", 7, 2, &o, &why), 0);
	json_object_put(o);
	assert_int_equal(trackx_json_parse("[1,[[2]]]", 9, 2, &o, &why), INLET_EINVAL);
	assert_null(o);
	assert_string_equal(why, "JSON nested too deep");
	assert_int_equal(trackx_json_parse("null", 4, 8, &o, &why), INLET_EINVAL);
	assert_int_equal(trackx_json_parse("", 0, 8, &o, &why), INLET_EINVAL);
	assert_string_equal(why, "empty body");
	assert_int_equal(trackx_json_parse("1 2", 3, 8, &o, &why), INLET_EINVAL);
	assert_int_equal(trackx_json_parse("\"\x80\"", 3, 8, &o, &why), INLET_EINVAL);
	assert_string_equal(why, "invalid UTF-8");
	assert_int_equal(trackx_json_parse("[\"a\tb\"]", 7, 8, &o, &why), INLET_EINVAL);
	assert_string_equal(why, "control character in a string");
	assert_int_equal(trackx_json_parse("[0]\0", 4, 8, &o, &why), INLET_EINVAL);
	assert_string_equal(why, "NUL byte in the body");
	/* Exponents may have leading zeros; integers may not. */
	assert_int_equal(trackx_json_parse("[1e05,1E-05,0,-0,0.5,-0.0e+00]", 30, 8, &o, &why), 0);
	json_object_put(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(t_client_events, setup, teardown),
		cmocka_unit_test_setup_teardown(t_unexpected_property, setup, teardown),
		cmocka_unit_test_setup_teardown(t_name, setup, teardown),
		cmocka_unit_test_setup_teardown(t_utf16_lengths, setup, teardown),
		cmocka_unit_test_setup_teardown(t_message, setup, teardown),
		cmocka_unit_test_setup_teardown(t_type, setup, teardown),
		cmocka_unit_test_setup_teardown(t_uri_and_stack, setup, teardown),
		cmocka_unit_test_setup_teardown(t_meta, setup, teardown),
		cmocka_unit_test_setup_teardown(t_order, setup, teardown),
		cmocka_unit_test_setup_teardown(t_json, setup, teardown),
		cmocka_unit_test_setup_teardown(t_depth, setup, teardown),
		cmocka_unit_test_setup_teardown(t_body_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(t_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(t_ownership, setup, teardown),
		cmocka_unit_test_setup_teardown(t_json_parse, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
