/* libFuzzer driver for events/sentry_auth.h. The first byte picks the
 * parser, the rest is its input. Beyond the sanitizers: documented codes,
 * a zeroed result on failure, fields made only of the characters promised;
 * the query parser agrees with urlenc_parse + sentry_auth_from_kv on the
 * same string; a DSN written back from its parts parses to the same
 * parts. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/err.h"
#include "events/sentry_auth.h"
#include "ingest/kv.h"
#include "ingest/urlenc.h"

#define CHECK(x)                   \
	do {                       \
		if (!(x))          \
			abort();   \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int is_zero(const void *p, size_t n)
{
	const unsigned char *b = p;
	size_t i;

	for (i = 0; i < n; i++)
		if (b[i])
			return 0;
	return 1;
}

static int key_ok(const char *k, int may_be_empty)
{
	size_t i, n = strlen(k);

	if (n > SENTRY_KEY_MAX || (n == 0 && !may_be_empty))
		return 0;
	for (i = 0; i < n; i++) {
		char c = k[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
			return 0;
	}
	return 1;
}

static void check_auth(int rc, const struct sentry_auth *a)
{
	size_t i;

	CHECK(rc == 0 || rc == INLET_EAUTH || rc == INLET_EINVAL);
	if (rc) {
		CHECK(is_zero(a, sizeof(*a)));
		return;
	}
	CHECK(key_ok(a->key, 0) && key_ok(a->secret, 1));
	CHECK(a->version >= 0 && a->version <= 9999);
	CHECK(strlen(a->client) <= SENTRY_CLIENT_MAX);
	for (i = 0; a->client[i]; i++)
		CHECK(a->client[i] >= 0x20 && a->client[i] <= 0x7e);
}

static void check_query(const char *s, size_t n)
{
	static const struct form_limits lim = { 1000000, 1 << 20, 1 << 20 };
	struct sentry_auth a, b;
	struct arena *ar = arena_create(0);
	struct kv_list l;
	int rc1, rc2;

	rc1 = sentry_auth_from_query(s, n, &a);
	check_auth(rc1, &a);
	kv_init(&l);
	CHECK(urlenc_parse(ar, s, n, &lim, &l) == 0);
	rc2 = sentry_auth_from_kv(&l, &b);
	CHECK(rc1 == rc2 && memcmp(&a, &b, sizeof(a)) == 0);
	arena_destroy(ar);
}

static void check_dsn(const char *s, size_t n)
{
	struct sentry_dsn d, again;
	char text[1024], port[8] = "";
	int rc = sentry_auth_parse_dsn(s, n, &d), k;

	CHECK(rc == 0 || rc == INLET_EINVAL);
	if (rc) {
		CHECK(is_zero(&d, sizeof(d)));
		return;
	}
	CHECK(key_ok(d.key, 0) && key_ok(d.secret, 1) && key_ok(d.project, 0));
	CHECK(strcmp(d.scheme, "http") == 0 || strcmp(d.scheme, "https") == 0);
	CHECK(d.host[0] && d.port <= 65535);
	CHECK(d.path[0] == '\0' || d.path[0] == '/');
	if (d.port)
		snprintf(port, sizeof(port), ":%u", d.port);
	k = snprintf(text, sizeof(text), "%s://%s%s%s@%s%s%s/%s", d.scheme, d.key,
		     d.secret[0] ? ":" : "", d.secret, d.host, port, d.path, d.project);
	CHECK(k > 0 && (size_t)k < sizeof(text));
	CHECK(sentry_auth_parse_dsn(text, (size_t)k, &again) == 0);
	CHECK(memcmp(&d, &again, sizeof(d)) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sentry_auth a;
	const char *s;

	if (size < 1)
		return 0;
	s = (const char *)data + 1;
	size--;
	switch (data[0] % 3) {
	case 0:
		check_auth(sentry_auth_parse_header(s, size, &a), &a);
		break;
	case 1:
		check_query(s, size);
		break;
	default:
		check_dsn(s, size);
		break;
	}
	return 0;
}
