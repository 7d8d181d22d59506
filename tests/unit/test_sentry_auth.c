/* sentry_auth_parse_header, sentry_auth_from_query, sentry_auth_from_kv
 * and sentry_auth_parse_dsn. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/arena.h"
#include "core/err.h"
#include "events/sentry_auth.h"
#include "ingest/kv.h"
#include "ingest/urlenc.h"

static int header(const char *s, struct sentry_auth *a)
{
	return sentry_auth_parse_header(s, strlen(s), a);
}

static int query(const char *s, struct sentry_auth *a)
{
	return sentry_auth_from_query(s, strlen(s), a);
}

static int dsn(const char *s, struct sentry_dsn *d)
{
	return sentry_auth_parse_dsn(s, strlen(s), d);
}

/* The result is all zero, as every function leaves it on failure. */
static void is_zero(const void *p, size_t n)
{
	const unsigned char *b = p;
	size_t i;

	for (i = 0; i < n; i++)
		assert_int_equal(b[i], 0);
}

/* ---- X-Sentry-Auth ---- */

static void t_header_sdks(void **state)
{
	struct sentry_auth a;

	(void)state;
	/* @sentry/node 8 and 9: sentry_version first. Older SDKs put the key
	 * first, with no space after the commas. */
	assert_int_equal(header("Sentry sentry_version=7, sentry_client=sentry.javascript.node/9.1.0, "
				"sentry_key=0123456789abcdef0123456789abcdef",
				&a),
			 0);
	assert_string_equal(a.key, "0123456789abcdef0123456789abcdef");
	assert_int_equal(a.version, 7);
	assert_string_equal(a.client, "sentry.javascript.node/9.1.0");
	assert_string_equal(a.secret, "");

	assert_int_equal(header("Sentry sentry_key=abc,sentry_version=7,sentry_client=raven-node/2.6.4", &a), 0);
	assert_string_equal(a.key, "abc");
	assert_string_equal(a.client, "raven-node/2.6.4");

	/* With a secret and a timestamp (old SDKs), the doc's folded form. */
	assert_int_equal(header("Sentry sentry_version=7,\r\n  sentry_client=sentry.python/1.0,\r\n"
				"  sentry_timestamp=1329096377,\r\n  sentry_key=public_key,\r\n"
				"  sentry_secret=secret-key",
				&a),
			 0);
	assert_string_equal(a.key, "public_key");
	assert_string_equal(a.secret, "secret-key");
	assert_string_equal(a.client, "sentry.python/1.0");
}

static void t_header_spacing_and_case(void **state)
{
	static const char *const ok[] = {
		"Sentry sentry_key=k1",
		"sentry sentry_key=k1",
		"SENTRY sentry_key=k1",
		"  Sentry   sentry_key = k1 ",
		"Sentry\tsentry_key=k1,",
		"Sentry ,, sentry_key=k1 ,,",
		"Sentry sentry_key=\"k1\", sentry_version=\"7\"",
		"Sentry SENTRY_KEY=k1",
		"Sentry sentry_version=7, bare, sentry_key=k1",
		"Sentry sentry_key=k1, sentry_key=k1", /* the same twice */
		"Sentry sentry_key=k1, sentry_secret=",
		"Sentry other=x=y, sentry_key=k1",
	};
	struct sentry_auth a;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (header(ok[i], &a) != 0)
			fail_msg("refused: %s", ok[i]);
		assert_string_equal(a.key, "k1");
	}
	assert_int_equal(header("Sentry sentry_key=k1, sentry_version=7", &a), 0);
	assert_int_equal(a.version, 7);
	assert_int_equal(header("Sentry sentry_key=k1", &a), 0);
	assert_int_equal(a.version, 0);
}

static void t_header_missing_key(void **state)
{
	static const char *const none[] = {
		"Sentry",
		"Sentry ",
		"Sentry sentry_version=7, sentry_client=x/1",
		"Sentry sentry_keys=k1",
		"Sentry key=k1",
		"Sentry sentry_key",
		"",
	};
	struct sentry_auth a;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
		/* "" has no scheme: malformed rather than keyless. */
		int want = none[i][0] ? INLET_EAUTH : INLET_EINVAL;

		if (header(none[i], &a) != want)
			fail_msg("case %zu: %s", i, none[i]);
		is_zero(&a, sizeof(a));
	}
	assert_int_equal(sentry_auth_parse_header(NULL, 0, &a), INLET_EAUTH);
}

static void t_header_malformed(void **state)
{
	static const char *const bad[] = {
		"Bearer sentry_key=k1",
		"Sentry_key=k1",
		"Sentryx sentry_key=k1",
		"sentry_key=k1, sentry_version=7",
		"Sentry sentry_key=",
		"Sentry sentry_key=\"\"",
		"Sentry sentry_key=k 1",
		"Sentry sentry_key=k1/..",
		"Sentry sentry_key=k1;x",
		"Sentry sentry_key=k\xc3\xa9",
		"Sentry sentry_key=k1, sentry_key=k2",
		"Sentry sentry_key=k1, sentry_version=seven",
		"Sentry sentry_key=k1, sentry_version=-7",
		"Sentry sentry_key=k1, sentry_version=77777",
		"Sentry sentry_key=k1, sentry_secret=s e",
		"Sentry sentry_key=k1, sentry_client=a\x01b",
		"Sentry sentry_key=0123456789012345678901234567890123456789012345678901234567890123456789",
	};
	struct sentry_auth a;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (header(bad[i], &a) != INLET_EINVAL)
			fail_msg("case %zu: %s", i, bad[i]);
		is_zero(&a, sizeof(a));
	}
	/* A NUL inside the value is not the end of it. */
	assert_int_equal(sentry_auth_parse_header("Sentry sentry_key=k\0x", 21, &a), INLET_EINVAL);
}

static void t_header_limits(void **state)
{
	struct sentry_auth a;
	char h[2048];
	size_t n;

	(void)state;
	/* A 64-byte key is the longest. */
	n = (size_t)snprintf(h, sizeof(h), "Sentry sentry_key=");
	memset(h + n, 'k', SENTRY_KEY_MAX);
	h[n + SENTRY_KEY_MAX] = '\0';
	assert_int_equal(header(h, &a), 0);
	assert_int_equal(strlen(a.key), SENTRY_KEY_MAX);
	h[n + SENTRY_KEY_MAX] = 'k';
	h[n + SENTRY_KEY_MAX + 1] = '\0';
	assert_int_equal(header(h, &a), INLET_EINVAL);

	/* A long sentry_client is cut; a very long one refused. */
	n = (size_t)snprintf(h, sizeof(h), "Sentry sentry_key=k, sentry_client=");
	memset(h + n, 'c', 300);
	h[n + 300] = '\0';
	assert_int_equal(header(h, &a), 0);
	assert_int_equal(strlen(a.client), SENTRY_CLIENT_MAX);
	memset(h + n, 'c', 1025);
	h[n + 1025] = '\0';
	assert_int_equal(header(h, &a), INLET_EINVAL);
	/* ...but only for parameters we read. */
	n = (size_t)snprintf(h, sizeof(h), "Sentry sentry_key=k, other=");
	memset(h + n, 'o', 1500);
	h[n + 1500] = '\0';
	assert_int_equal(header(h, &a), 0);
}

/* ---- query string ---- */

static void t_query(void **state)
{
	struct sentry_auth a;

	(void)state;
	/* What @sentry/browser puts on the envelope URL. */
	assert_int_equal(query("sentry_key=0123456789abcdef0123456789abcdef&sentry_version=7"
			       "&sentry_client=sentry.javascript.browser%2F9.5.0",
			       &a),
			 0);
	assert_string_equal(a.key, "0123456789abcdef0123456789abcdef");
	assert_int_equal(a.version, 7);
	assert_string_equal(a.client, "sentry.javascript.browser/9.5.0");

	/* Order, other parameters, empty pairs, encoded names. */
	assert_int_equal(query("x=1&&sentry_version=7&sentry%5Fkey=k%31&utm=a+b", &a), 0);
	assert_string_equal(a.key, "k1");
	assert_int_equal(query("sentry_client=a+b&sentry_key=k", &a), 0);
	assert_string_equal(a.client, "a b");

	assert_int_equal(query("", &a), INLET_EAUTH);
	assert_int_equal(query("sentry_version=7", &a), INLET_EAUTH);
	assert_int_equal(query("sentry_key", &a), INLET_EINVAL); /* present, empty */
	assert_int_equal(query("sentry_key=", &a), INLET_EINVAL);
	assert_int_equal(query("sentry_key=a%20b", &a), INLET_EINVAL);
	assert_int_equal(query("sentry_key=a+b", &a), INLET_EINVAL);
	assert_int_equal(query("sentry_key=k1&sentry_key=k2", &a), INLET_EINVAL);
	assert_int_equal(query("sentry_key=k1&sentry_client=%00", &a), INLET_EINVAL);
	is_zero(&a, sizeof(a));
	assert_int_equal(sentry_auth_from_query(NULL, 0, &a), INLET_EAUTH);
	/* Bytes after len are not read. */
	assert_int_equal(sentry_auth_from_query("sentry_key=k1&sentry_key=k2", 13, &a), 0);
	assert_string_equal(a.key, "k1");
}

static void t_query_long_values(void **state)
{
	struct sentry_auth a;
	char q[4096];
	size_t n;

	(void)state;
	/* A long value of a parameter we do not read is skipped unread. */
	n = (size_t)snprintf(q, sizeof(q), "sentry_key=k&junk=");
	memset(q + n, 'j', 3000);
	q[n + 3000] = '\0';
	assert_int_equal(query(q, &a), 0);
	/* Long names are not ours either. */
	memset(q, 'n', 3000);
	memcpy(q + 3000, "=v&sentry_key=k", 16);
	assert_int_equal(query(q, &a), 0);
	assert_string_equal(a.key, "k");
	/* A long value of one we do read is refused. */
	n = (size_t)snprintf(q, sizeof(q), "sentry_key=k&sentry_client=");
	memset(q + n, 'c', 1025);
	q[n + 1025] = '\0';
	assert_int_equal(query(q, &a), INLET_EINVAL);
	/* Fully percent-encoded, a key takes three bytes a character. */
	assert_int_equal(query("%73%65%6e%74%72%79%5f%6b%65%79=%6b%65%79", &a), 0);
	assert_string_equal(a.key, "key");
}

static void t_kv(void **state)
{
	static const struct form_limits lim = { 100, 1000, 10000 };
	struct arena *ar = arena_create(0);
	struct kv_list l;
	struct sentry_auth a;
	static const char qs[] = "sentry_version=7&sentry_key=abc123&sentry_client=x%2F1";

	(void)state;
	kv_init(&l);
	assert_int_equal(urlenc_parse(ar, qs, sizeof(qs) - 1, &lim, &l), 0);
	assert_int_equal(sentry_auth_from_kv(&l, &a), 0);
	assert_string_equal(a.key, "abc123");
	assert_string_equal(a.client, "x/1");
	assert_int_equal(a.version, 7);

	kv_init(&l);
	assert_int_equal(sentry_auth_from_kv(&l, &a), INLET_EAUTH);
	assert_int_equal(sentry_auth_from_kv(NULL, &a), INLET_EAUTH);
	/* A value with a NUL in it (decoded %00) is not a key. */
	kv_init(&l);
	assert_int_equal(kv_add(ar, &l, &lim, "sentry_key", 10, "ab\0c", 4), 0);
	assert_int_equal(sentry_auth_from_kv(&l, &a), INLET_EINVAL);
	kv_init(&l);
	assert_int_equal(kv_add(ar, &l, &lim, "sentry_key\0x", 12, "abc", 3), 0);
	assert_int_equal(sentry_auth_from_kv(&l, &a), INLET_EAUTH);
	arena_destroy(ar);
}

/* ---- DSN ---- */

static void t_dsn_forms(void **state)
{
	struct sentry_dsn d;

	(void)state;
	assert_int_equal(dsn("https://public@sentry.example.com/1", &d), 0);
	assert_string_equal(d.scheme, "https");
	assert_string_equal(d.key, "public");
	assert_string_equal(d.secret, "");
	assert_string_equal(d.host, "sentry.example.com");
	assert_int_equal(d.port, 0);
	assert_string_equal(d.path, "");
	assert_string_equal(d.project, "1");

	/* sentry.io's own shape. */
	assert_int_equal(dsn("https://0123456789abcdef0123456789abcdef@o447951.ingest.us.sentry.io/4508"
			     "369530920960",
			     &d),
			 0);
	assert_string_equal(d.key, "0123456789abcdef0123456789abcdef");
	assert_string_equal(d.host, "o447951.ingest.us.sentry.io");
	assert_string_equal(d.project, "4508369530920960");

	/* Port, secret, path prefix. */
	assert_int_equal(dsn("http://pub:sec@localhost:9000/sentry/api-prefix/42", &d), 0);
	assert_string_equal(d.scheme, "http");
	assert_string_equal(d.key, "pub");
	assert_string_equal(d.secret, "sec");
	assert_string_equal(d.host, "localhost");
	assert_int_equal(d.port, 9000);
	assert_string_equal(d.path, "/sentry/api-prefix");
	assert_string_equal(d.project, "42");

	/* The spec's envelope example: an empty secret. */
	assert_int_equal(dsn("https://e12d836b15bb49d7bbf99e64295d995b:@sentry.io/42", &d), 0);
	assert_string_equal(d.key, "e12d836b15bb49d7bbf99e64295d995b");
	assert_string_equal(d.secret, "");

	/* Scheme and host are case-insensitive and come out lowercased; the
	 * key and project id keep their case (Inlet's are base64url). */
	assert_int_equal(dsn("HTTPS://AbC-_x@Errors.Example.COM:443/p/Ep_7x-Z", &d), 0);
	assert_string_equal(d.scheme, "https");
	assert_string_equal(d.key, "AbC-_x");
	assert_string_equal(d.host, "errors.example.com");
	assert_int_equal(d.port, 443);
	assert_string_equal(d.path, "/p");
	assert_string_equal(d.project, "Ep_7x-Z");

	/* IP literals. */
	assert_int_equal(dsn("http://k@127.0.0.1:8080/3", &d), 0);
	assert_string_equal(d.host, "127.0.0.1");
	assert_int_equal(d.port, 8080);
	assert_int_equal(dsn("http://k@[::1]:8080/3", &d), 0);
	assert_string_equal(d.host, "[::1]");
	assert_int_equal(d.port, 8080);
	assert_int_equal(dsn("http://k@[2001:DB8::1]/3", &d), 0);
	assert_string_equal(d.host, "[2001:db8::1]");
	assert_int_equal(d.port, 0);

	/* Only len bytes are read. */
	assert_int_equal(sentry_auth_parse_dsn("http://k@h/12345", 13, &d), 0);
	assert_string_equal(d.project, "12");
}

static void t_dsn_bad(void **state)
{
	static const char *const bad[] = {
		"",
		"sentry.example.com/1",
		"ftp://k@host/1",
		"https:/k@host/1",
		"https://host/1",                /* no key */
		"https://@host/1",
		"https://:secret@host/1",
		"https://k@host",                /* no project */
		"https://k@host/",
		"https://k@host/1/",
		"https://k@/1",
		"https://k@:80/1",
		"https://k@host:/1",
		"https://k@host:0/1",
		"https://k@host:65536/1",
		"https://k@host:8x/1",
		"https://k@host:1234567/1",
		"https://k@ho st/1",
		"https://k@host/1?x=y",
		"https://k@host/1#frag",
		"https://k@host/a b/1",
		"https://k@host\\evil/1",
		"https://k@evil@host/1",
		"https://k:s:t@host/1",
		"https://k@[::1/1",
		"https://k@[]/1",
		"https://k@[::g]/1",
		"https://k@[::1]x/1",
		"https://k\n@host/1",
		"https://k@host/1\n",
		" https://k@host/1",
	};
	struct sentry_dsn d;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (dsn(bad[i], &d) != INLET_EINVAL)
			fail_msg("accepted: case %zu: %s", i, bad[i]);
		is_zero(&d, sizeof(d));
	}
	assert_int_equal(sentry_auth_parse_dsn(NULL, 0, &d), INLET_EINVAL);
	assert_int_equal(sentry_auth_parse_dsn("https://k@host/1\0", 17, &d), INLET_EINVAL);
}

static void t_dsn_limits(void **state)
{
	struct sentry_dsn d;
	char s[1024];
	size_t n;

	(void)state;
	/* A host of 253 bytes passes, 254 does not. */
	n = (size_t)snprintf(s, sizeof(s), "https://k@");
	memset(s + n, 'h', SENTRY_HOST_MAX);
	memcpy(s + n + SENTRY_HOST_MAX, "/1", 3);
	assert_int_equal(dsn(s, &d), 0);
	assert_int_equal(strlen(d.host), SENTRY_HOST_MAX);
	memset(s + n, 'h', SENTRY_HOST_MAX + 1);
	memcpy(s + n + SENTRY_HOST_MAX + 1, "/1", 3);
	assert_int_equal(dsn(s, &d), INLET_EINVAL);

	/* A path prefix of 255 bytes passes, 256 does not. */
	n = (size_t)snprintf(s, sizeof(s), "https://k@h");
	memset(s + n, 'p', SENTRY_PATH_MAX);
	s[n] = '/';
	memcpy(s + n + SENTRY_PATH_MAX, "/1", 3);
	assert_int_equal(dsn(s, &d), 0);
	assert_int_equal(strlen(d.path), SENTRY_PATH_MAX);
	memset(s + n, 'p', SENTRY_PATH_MAX + 1);
	s[n] = '/';
	memcpy(s + n + SENTRY_PATH_MAX + 1, "/1", 3);
	assert_int_equal(dsn(s, &d), INLET_EINVAL);

	/* A 65-byte project id is refused. */
	n = (size_t)snprintf(s, sizeof(s), "https://k@h/");
	memset(s + n, '7', SENTRY_KEY_MAX + 1);
	s[n + SENTRY_KEY_MAX + 1] = '\0';
	assert_int_equal(dsn(s, &d), INLET_EINVAL);
	s[n + SENTRY_KEY_MAX] = '\0';
	assert_int_equal(dsn(s, &d), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_header_sdks),
		cmocka_unit_test(t_header_spacing_and_case),
		cmocka_unit_test(t_header_missing_key),
		cmocka_unit_test(t_header_malformed),
		cmocka_unit_test(t_header_limits),
		cmocka_unit_test(t_query),
		cmocka_unit_test(t_query_long_values),
		cmocka_unit_test(t_kv),
		cmocka_unit_test(t_dsn_forms),
		cmocka_unit_test(t_dsn_bad),
		cmocka_unit_test(t_dsn_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
