/* header_media, header_prefers_html and header_origin. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/err.h"
#include "ingest/header.h"

static void t_media(void **state)
{
	static const struct {
		const char *in;
		enum media want;
	} cases[] = {
		{ NULL, MEDIA_NONE },
		{ "", MEDIA_NONE },
		{ "   ", MEDIA_NONE },
		{ "; charset=utf-8", MEDIA_NONE },
		{ "application/x-www-form-urlencoded", MEDIA_URLENCODED },
		{ "Application/X-WWW-Form-URLEncoded; charset=UTF-8", MEDIA_URLENCODED },
		{ "multipart/form-data; boundary=----x", MEDIA_MULTIPART },
		{ "  MULTIPART/FORM-DATA  ;boundary=x", MEDIA_MULTIPART },
		{ "multipart/mixed; boundary=x", MEDIA_OTHER },
		{ "application/json", MEDIA_JSON },
		{ "application/json;charset=utf-8", MEDIA_JSON },
		{ "\tAPPLICATION/JSON\t", MEDIA_JSON },
		{ "application/vnd.api+json", MEDIA_JSON },
		{ "application/problem+JSON; charset=utf-8", MEDIA_JSON },
		{ "application/+json", MEDIA_OTHER }, /* no subtype before the suffix */
		{ "+json", MEDIA_OTHER },
		{ "application/jsonx", MEDIA_OTHER },
		{ "application/json-seq", MEDIA_OTHER },
		{ "application/json garbage", MEDIA_OTHER },
		{ "application/vnd.api+jsonp", MEDIA_OTHER },
		{ "text/json", MEDIA_OTHER },
		{ "text/plain", MEDIA_TEXT },
		{ "Text/Plain; charset=us-ascii", MEDIA_TEXT },
		{ "text/plainx", MEDIA_OTHER },
		{ "text/html", MEDIA_OTHER },
		{ "application/octet-stream", MEDIA_OTHER },
		{ "garbage", MEDIA_OTHER },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (header_media(cases[i].in) != cases[i].want)
			fail_msg("header_media(\"%s\") = %d, want %d",
				 cases[i].in ? cases[i].in : "(null)",
				 header_media(cases[i].in), cases[i].want);
}

static void t_prefers_html(void **state)
{
	static const struct {
		const char *in;
		int want;
	} cases[] = {
		/* Chrome and Firefox navigations (a form post). */
		{ "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,"
		  "image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7", 1 },
		{ "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", 1 },
		/* Safari */
		{ "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", 1 },
		/* API clients */
		{ NULL, 0 },
		{ "", 0 },
		{ "*/*", 0 },          /* curl */
		{ "application/json", 0 },
		{ "application/json, text/plain, */*", 0 }, /* axios */
		{ "application/json, text/html", 0 },      /* JSON first */
		{ "text/html, application/json", 1 },
		{ "application/json;q=0.9, text/html", 1 }, /* q beats order */
		{ "text/html;q=0.5, application/json", 0 },
		{ "text/html;q=0.5, application/json;q=0.5", 1 },
		{ "application/json;q=0.5, text/html;q=0.5", 0 },
		{ "text/html;q=0", 0 },
		{ "text/html;q=0, */*", 0 },
		{ "*/*;q=0.1, text/html;q=0.2", 1 },
		{ "text/*", 1 },
		{ "text/*, application/*", 1 },
		{ "application/*, text/*", 0 },
		{ "TEXT/HTML", 1 },
		{ "  text/html  ;  q = 1.0  ", 1 },
		/* The most specific range decides, wherever it is. */
		{ "*/*;q=1, text/html;q=0.1", 0 },
		{ "application/json;q=0.1, */*", 1 },
		{ "text/html;level=1, application/json", 1 },
		/* Malformed q: the range is ignored. */
		{ "text/html;q=2", 0 },
		{ "text/html;q=abc", 0 },
		{ "text/html;q=0.1234", 0 },
		{ "text/html;q=", 0 },
		{ "text/html;q=1.5, application/json;q=0.1", 0 },
		{ "text/html;q=1.000, application/json;q=0.999", 1 },
		{ "text/html;qs=0.1", 1 },
		{ ",,, text/html ,,", 1 },
		{ ";q=0.5", 0 },
		{ "text/htmlx, application/json;q=0.1", 0 },
		{ "application/xhtml+xml", 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (header_prefers_html(cases[i].in) != cases[i].want)
			fail_msg("header_prefers_html(\"%s\") != %d",
				 cases[i].in ? cases[i].in : "(null)", cases[i].want);
}

static void t_origin(void **state)
{
	static const struct {
		const char *in;
		int rc;
		const char *want;
	} cases[] = {
		{ "https://Example.com:8443/path?x", 0, "https://example.com:8443" },
		{ "https://example.com", 0, "https://example.com" },
		{ "HTTP://EXAMPLE.COM/", 0, "http://example.com" },
		{ "http://localhost:8080", 0, "http://localhost:8080" },
		{ "https://a.example?q#f", 0, "https://a.example" },
		{ "https://a.example#f", 0, "https://a.example" },
		/* Default ports are left out, as in a browser's Origin. */
		{ "https://example.com:443", 0, "https://example.com" },
		{ "http://example.com:80/x", 0, "http://example.com" },
		{ "http://example.com:443", 0, "http://example.com:443" },
		{ "https://example.com:80", 0, "https://example.com:80" },
		/* Ports: leading zeros dropped, empty allowed, bounded. */
		{ "http://example.com:0080", 0, "http://example.com" },
		{ "http://example.com:08080", 0, "http://example.com:8080" },
		{ "http://example.com:0", 0, "http://example.com:0" },
		{ "http://example.com:", 0, "http://example.com" },
		{ "http://example.com:65535", 0, "http://example.com:65535" },
		{ "http://example.com:65536", INLET_EINVAL, NULL },
		{ "http://example.com:8a", INLET_EINVAL, NULL },
		{ "http://example.com:-1", INLET_EINVAL, NULL },
		/* Credentials are not part of an origin. */
		{ "https://user:pw@Example.com/", 0, "https://example.com" },
		{ "https://a@b@c.example/", 0, "https://c.example" },
		/* IPv6 and IPv4 literals. */
		{ "http://[::1]:3000/", 0, "http://[::1]:3000" },
		{ "http://[2001:DB8::1]", 0, "http://[2001:db8::1]" },
		{ "http://127.0.0.1:9/", 0, "http://127.0.0.1:9" },
		{ "http://[::1", INLET_EINVAL, NULL },
		{ "http://[]/", INLET_EINVAL, NULL },
		{ "http://[::g]/", INLET_EINVAL, NULL },
		/* Surrounding white space is trimmed. */
		{ "  https://example.com  ", 0, "https://example.com" },
		/* Not an http(s) origin. */
		{ NULL, INLET_EINVAL, NULL },
		{ "", INLET_EINVAL, NULL },
		{ "null", INLET_EINVAL, NULL },
		{ "ftp://x", INLET_EINVAL, NULL },
		{ "file:///etc/passwd", INLET_EINVAL, NULL },
		{ "javascript:alert(1)", INLET_EINVAL, NULL },
		{ "//example.com", INLET_EINVAL, NULL },
		{ "/relative", INLET_EINVAL, NULL },
		{ "http:/example.com", INLET_EINVAL, NULL },
		{ "https://", INLET_EINVAL, NULL },
		{ "https:///path", INLET_EINVAL, NULL },
		{ "https://user@", INLET_EINVAL, NULL },
		{ "https://:443", INLET_EINVAL, NULL },
		{ "httpss://x", INLET_EINVAL, NULL },
		/* Nothing that could break a response header gets through. */
		{ "https://exa mple.com", INLET_EINVAL, NULL },
		{ "https://example.com\r\nSet-Cookie: a=b", INLET_EINVAL, NULL },
		{ "https://ex\"ample.com", INLET_EINVAL, NULL },
		/* A browser reads '\\' as '/': the host is example.com. */
		{ "https://example.com\\@evil.com", 0, "https://example.com" },
		{ "https://evil.com\\@example.com", 0, "https://evil.com" },
		{ "https://ex%41mple.com", INLET_EINVAL, NULL },
		{ "https://\xc3\xa9xample.com", INLET_EINVAL, NULL },
	};
	char out[300];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = header_origin(cases[i].in, out, sizeof(out));

		if (rc != cases[i].rc)
			fail_msg("header_origin(\"%s\") = %d, want %d",
				 cases[i].in ? cases[i].in : "(null)", rc, cases[i].rc);
		if (rc == 0)
			assert_string_equal(out, cases[i].want);
	}
}

static void t_origin_sizes(void **state)
{
	char out[64], host[300];

	(void)state;
	/* "https://example.com:8443" is 24 bytes: 25 with the NUL. */
	assert_int_equal(header_origin("https://example.com:8443/", out, 25), 0);
	assert_string_equal(out, "https://example.com:8443");
	assert_int_equal(header_origin("https://example.com:8443/", out, 24), INLET_ETOOBIG);
	assert_int_equal(header_origin("https://example.com", NULL, 0), INLET_ETOOBIG);
	/* A host past any DNS name's length. */
	memcpy(host, "http://", 7);
	memset(host + 7, 'a', 280);
	host[287] = '\0';
	assert_int_equal(header_origin(host, out, sizeof(out)), INLET_EINVAL);
}

static void t_origin_idempotent(void **state)
{
	static const char *const ins[] = {
		"https://Example.com:8443/path?x", "http://[::1]:80", "http://a:",
		"https://u@x.example:0443",
	};
	char once[128], twice[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ins) / sizeof(ins[0]); i++) {
		assert_int_equal(header_origin(ins[i], once, sizeof(once)), 0);
		assert_int_equal(header_origin(once, twice, sizeof(twice)), 0);
		assert_string_equal(once, twice);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_media),
		cmocka_unit_test(t_prefers_html),
		cmocka_unit_test(t_origin),
		cmocka_unit_test(t_origin_sizes),
		cmocka_unit_test(t_origin_idempotent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
