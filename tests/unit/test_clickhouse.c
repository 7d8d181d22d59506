/* ch_url_parse: INLET_CLICKHOUSE_URL taken apart, and what it refuses. The
 * rest of app/clickhouse.c talks to a real server: tests/e2e/clickhouse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "app/clickhouse.h"
#include "core/err.h"

static void t_full(void **state)
{
	struct ch_url u;

	(void)state;
	assert_int_equal(ch_url_parse("http://inlet:s3cret@127.0.0.1:8124/analytics", &u), 0);
	assert_string_equal(u.base, "http://127.0.0.1:8124/");
	assert_string_equal(u.user, "inlet");
	assert_string_equal(u.password, "s3cret");
	assert_string_equal(u.database, "analytics");
}

static void t_defaults(void **state)
{
	struct ch_url u;

	(void)state;
	/* No port: ClickHouse's, not HTTP's; no path: the database "inlet". */
	assert_int_equal(ch_url_parse("http://ch.internal", &u), 0);
	assert_string_equal(u.base, "http://ch.internal:8123/");
	assert_string_equal(u.user, "");
	assert_string_equal(u.password, "");
	assert_string_equal(u.database, "inlet");
	assert_int_equal(ch_url_parse("https://ch.internal/db_2/", &u), 0);
	assert_string_equal(u.base, "https://ch.internal:8443/");
	assert_string_equal(u.database, "db_2");
	assert_int_equal(ch_url_parse("http://[::1]:9999/x", &u), 0);
	assert_string_equal(u.base, "http://[::1]:9999/");
}

static void t_escapes(void **state)
{
	struct ch_url u;

	(void)state;
	/* Credentials are percent-decoded, and never part of the base. */
	assert_int_equal(ch_url_parse("http://us%40er:p%40ss%3Aw%2Frd%20x@h:1/d", &u), 0);
	assert_string_equal(u.user, "us@er");
	assert_string_equal(u.password, "p@ss:w/rd x");
	assert_null(strstr(u.base, "ss"));
	assert_string_equal(u.base, "http://h:1/");
	assert_int_equal(ch_url_parse("http://onlyuser@h:1/d", &u), 0);
	assert_string_equal(u.user, "onlyuser");
	assert_string_equal(u.password, "");
}

static void t_refused(void **state)
{
	static const char *const bad[] = {
		"", "127.0.0.1:8123", "ftp://h/d", "file:///tmp/x", "http://h/a/b", "http://h/bad-name",
		"http://h/db?x=1", "http://h/db#frag", "http://h/d%60b", "http://h/" /* fine */,
	};
	struct ch_url u;

	(void)state;
	for (size_t i = 0; i + 1 < sizeof(bad) / sizeof(*bad); i++) {
		assert_int_equal(ch_url_parse(bad[i], &u), INLET_EINVAL);
		assert_string_equal(u.password, "");
	}
	assert_int_equal(ch_url_parse(bad[sizeof(bad) / sizeof(*bad) - 1], &u), 0);
	assert_int_equal(ch_url_parse(NULL, &u), INLET_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_full),
		cmocka_unit_test(t_defaults),
		cmocka_unit_test(t_escapes),
		cmocka_unit_test(t_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
