#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "api/api.h"
#include "app/routes.h"
#include "http/server.h"

static int match(const char *pattern, const char *path, const char **names, const char **values)
{
	static char buf[512];

	return route_match(pattern, path, buf, sizeof(buf), names, values, 4);
}

static void literal_paths(void **state)
{
	const char *n[4], *v[4];

	(void)state;
	assert_int_equal(match("/healthz", "/healthz", n, v), 0);
	assert_int_equal(match("/healthz", "/healthz/", n, v), -1);
	assert_int_equal(match("/healthz", "/health", n, v), -1);
	assert_int_equal(match("/api/v1/keys", "/api/v1/keys", n, v), 0);
	assert_int_equal(match("/api/v1/keys", "/api/v1", n, v), -1);
	assert_int_equal(match("/", "/", n, v), 0);
}

static void parameters(void **state)
{
	const char *n[4], *v[4];

	(void)state;
	assert_int_equal(match("/f/{key}", "/f/abc123", n, v), 1);
	assert_string_equal(n[0], "key");
	assert_string_equal(v[0], "abc123");
	assert_int_equal(match("/api/v1/submissions/{id}/files/{n}", "/api/v1/submissions/sub_x/files/3", n, v), 2);
	assert_string_equal(n[0], "id");
	assert_string_equal(v[0], "sub_x");
	assert_string_equal(n[1], "n");
	assert_string_equal(v[1], "3");
	/* A parameter takes exactly one non-empty segment. */
	assert_int_equal(match("/f/{key}", "/f/", n, v), -1);
	assert_int_equal(match("/f/{key}", "/f/a/b", n, v), -1);
	assert_int_equal(match("/f/{key}/thanks", "/f/a/thanks", n, v), 1);
	assert_int_equal(match("/f/{key}/thanks", "/f/a/thank", n, v), -1);
}

static void buffer_too_small(void **state)
{
	char buf[8];
	const char *n[4], *v[4];

	(void)state;
	assert_int_equal(route_match("/f/{key}", "/f/abcdefghijkl", buf, sizeof(buf), n, v, 4), -1);
}

/* Every route in the table is unambiguous: no path matches two routes of
 * the same method (the first would silently shadow the second). */
static void table_unambiguous(void **state)
{
	(void)state;
	for (int i = 0; app_routes[i].method; i++) {
		char sample[256];
		const char *n[4], *v[4];
		size_t o = 0;

		/* A concrete path for route i: parameters become "x1". */
		for (const char *p = app_routes[i].pattern; *p && o < sizeof(sample) - 4;) {
			if (*p == '{') {
				while (*p && *p != '}')
					p++;
				if (*p)
					p++;
				sample[o++] = 'x';
				sample[o++] = '1';
			} else {
				sample[o++] = *p++;
			}
		}
		sample[o] = '\0';
		assert_true(match(app_routes[i].pattern, sample, n, v) >= 0);
		for (int j = 0; app_routes[j].method; j++) {
			if (j == i || strcmp(app_routes[i].method, app_routes[j].method) != 0)
				continue;
			if (match(app_routes[j].pattern, sample, n, v) >= 0)
				fail_msg("%s %s is shadowed by %s", app_routes[i].method, app_routes[i].pattern,
					 app_routes[j].pattern);
		}
	}
}

static void time_parse(void **state)
{
	int64_t ms;

	(void)state;
	assert_int_equal(api_parse_time("1700000000000", &ms), 0);
	assert_int_equal(ms, 1700000000000LL);
	assert_int_equal(api_parse_time("2026-11-23", &ms), 0);
	assert_int_equal(ms, 1795392000000LL);
	assert_int_equal(api_parse_time("2026-11-23T15:00:00Z", &ms), 0);
	assert_int_equal(ms, 1795392000000LL + 15 * 3600000LL);
	assert_int_equal(api_parse_time("2026-11-23T15:00:00.123Z", &ms), 0);
	assert_int_equal(ms, 1795392000000LL + 15 * 3600000LL + 123);
	assert_int_equal(api_parse_time("2026-11-23T16:00:00+01:00", &ms), 0);
	assert_int_equal(ms, 1795392000000LL + 15 * 3600000LL);
	assert_int_not_equal(api_parse_time("2026-13-01", &ms), 0);
	assert_int_not_equal(api_parse_time("yesterday", &ms), 0);
	assert_int_not_equal(api_parse_time("2026-11-23T15", &ms), 0);
	assert_int_not_equal(api_parse_time("", &ms), 0);

	char out[40];

	api_time(1795392000123LL, out, sizeof(out));
	assert_string_equal(out, "2026-11-23T00:00:00.123Z");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(literal_paths),
		cmocka_unit_test(parameters),
		cmocka_unit_test(buffer_too_small),
		cmocka_unit_test(table_unambiguous),
		cmocka_unit_test(time_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
