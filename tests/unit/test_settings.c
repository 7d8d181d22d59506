#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "endpoint/settings.h"

static void defaults(void **state)
{
	struct settings s;
	char err[200];

	(void)state;
	assert_int_equal(settings_parse(NULL, &s, err, sizeof(err)), 0);
	assert_null(s.redirect_url);
	assert_int_equal(s.norigins, 0);
	assert_true(s.files_enabled);
	assert_int_equal(s.files_max_count, 10);
	assert_true(s.active);
	assert_int_equal(s.ip, IP_HASH);
	assert_int_equal(s.rl_per_minute, 120);
	assert_true(settings_origin_allowed(&s, "https://anything.example"));
	settings_free(&s);
}

static void full(void **state)
{
	struct settings s;
	char err[200];
	const char *json =
		"{\"redirect_url\":\"https://example.com/thanks\","
		"\"allowed_origins\":[\"https://Example.com/\",\"http://localhost:3000\"],"
		"\"required_fields\":[{\"name\":\"email\",\"type\":\"email\"},{\"name\":\"age\",\"type\":\"number\"},{\"name\":\"msg\"}],"
		"\"files\":{\"enabled\":false,\"max_count\":2,\"max_size\":1000},"
		"\"active\":false,\"ip\":\"drop\",\"rate_limit\":{\"per_minute\":0,\"burst\":5}}";

	(void)state;
	assert_int_equal(settings_parse(json, &s, err, sizeof(err)), 0);
	assert_string_equal(s.redirect_url, "https://example.com/thanks");
	assert_int_equal(s.norigins, 2);
	assert_true(settings_origin_allowed(&s, "https://example.com"));
	assert_true(settings_origin_allowed(&s, "http://localhost:3000"));
	assert_false(settings_origin_allowed(&s, "https://evil.example"));
	assert_int_equal(s.nrequired, 3);
	assert_int_equal(s.required[0].type, FIELD_EMAIL);
	assert_int_equal(s.required[1].type, FIELD_NUMBER);
	assert_int_equal(s.required[2].type, FIELD_TEXT);
	assert_false(s.files_enabled);
	assert_int_equal(s.files_max_size, 1000);
	assert_false(s.active);
	assert_int_equal(s.ip, IP_DROP);
	assert_int_equal(s.rl_per_minute, 0);
	settings_free(&s);
}

static void rejects(void **state)
{
	static const char *const bad[] = {
		"[]",
		"{\"redirect_url\":\"javascript:alert(1)\"}",
		"{\"redirect_url\":5}",
		"{\"allowed_origins\":\"https://x.example\"}",
		"{\"allowed_origins\":[\"not a url\"]}",
		"{\"required_fields\":[{\"type\":\"email\"}]}",
		"{\"required_fields\":[{\"name\":\"a\",\"type\":\"date\"}]}",
		"{\"files\":{\"max_count\":-1}}",
		"{\"files\":{\"enabled\":\"yes\"}}",
		"{\"active\":1}",
		"{\"ip\":\"keep\"}",
		"{\"rate_limit\":{\"per_minute\":1.5}}",
		"not json",
	};
	struct settings s;
	char err[200];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		err[0] = '\0';
		if (settings_parse(bad[i], &s, err, sizeof(err)) == 0)
			fail_msg("accepted: %s", bad[i]);
		assert_true(strlen(err) > 0);
	}
}

static void merge(void **state)
{
	char *out = NULL, err[200];
	json_object *patch = json_tokener_parse("{\"ip\":\"store\",\"files\":{\"max_count\":3}}");
	json_object *o, *v, *f;

	(void)state;
	assert_int_equal(settings_merge("{\"redirect_url\":\"https://a.example/x\",\"ip\":\"drop\"}", patch, &out,
					err, sizeof(err)), 0);
	o = json_tokener_parse(out);
	assert_true(json_object_object_get_ex(o, "ip", &v));
	assert_string_equal(json_object_get_string(v), "store");
	assert_true(json_object_object_get_ex(o, "redirect_url", &v));
	assert_string_equal(json_object_get_string(v), "https://a.example/x");
	/* A nested object is replaced as a whole, its missing keys defaulted. */
	assert_true(json_object_object_get_ex(o, "files", &f));
	assert_true(json_object_object_get_ex(f, "max_count", &v));
	assert_int_equal(json_object_get_int(v), 3);
	assert_true(json_object_object_get_ex(f, "enabled", &v));
	assert_true(json_object_get_boolean(v));
	json_object_put(o);
	json_object_put(patch);
	free(out);

	patch = json_tokener_parse("{\"ip\":\"nope\"}");
	assert_int_not_equal(settings_merge(NULL, patch, &out, err, sizeof(err)), 0);
	json_object_put(patch);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(defaults),
		cmocka_unit_test(full),
		cmocka_unit_test(rejects),
		cmocka_unit_test(merge),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
