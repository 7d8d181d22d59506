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

/* ---- email: notify, autoresponse, subject_template ---- */

static void email_defaults(void **state)
{
	struct settings s;
	char err[200];
	json_object *o, *v, *ar;

	(void)state;
	assert_int_equal(settings_parse("{\"active\":true}", &s, err, sizeof(err)), 0);
	assert_int_equal(s.nnotify, 0);
	assert_false(s.autoresponse.enabled);
	assert_null(s.autoresponse.subject);
	assert_null(s.autoresponse.text);
	assert_null(s.subject_template);
	o = settings_to_json(&s);
	assert_true(json_object_object_get_ex(o, "notify", &v));
	assert_int_equal(json_object_array_length(v), 0);
	assert_true(json_object_object_get_ex(o, "autoresponse", &ar));
	assert_true(json_object_object_get_ex(ar, "enabled", &v));
	assert_false(json_object_get_boolean(v));
	assert_true(json_object_object_get_ex(ar, "text", &v));
	assert_null(v);
	assert_true(json_object_object_get_ex(o, "subject_template", &v));
	assert_null(v);
	json_object_put(o);
	settings_free(&s);
}

static void email_full(void **state)
{
	struct settings s, again;
	char err[200];
	const char *json =
		"{\"notify\":[\"ops@example.org\",\"Owner@Example.org\",\"OPS@example.org\",\"owner@example.org\","
		"\"sales@example.org\"],"
		"\"autoresponse\":{\"enabled\":true,\"subject\":\"Thanks from {endpoint}\","
		"\"text\":\"We got it.\\nWe answer within a day.\"},"
		"\"subject_template\":\"[{endpoint}] new post {id}\"}";
	json_object *o;

	(void)state;
	assert_int_equal(settings_parse(json, &s, err, sizeof(err)), 0);
	/* duplicates (any case) dropped, the first spelling and the order kept */
	assert_int_equal(s.nnotify, 3);
	assert_string_equal(s.notify[0], "ops@example.org");
	assert_string_equal(s.notify[1], "Owner@Example.org");
	assert_string_equal(s.notify[2], "sales@example.org");
	assert_true(s.autoresponse.enabled);
	assert_string_equal(s.autoresponse.subject, "Thanks from {endpoint}");
	assert_string_equal(s.autoresponse.text, "We got it.\nWe answer within a day.");
	assert_string_equal(s.subject_template, "[{endpoint}] new post {id}");

	/* what settings_to_json writes reads back the same */
	o = settings_to_json(&s);
	assert_int_equal(settings_from_json(o, &again, err, sizeof(err)), 0);
	assert_int_equal(again.nnotify, 3);
	for (size_t i = 0; i < 3; i++)
		assert_string_equal(again.notify[i], s.notify[i]);
	assert_true(again.autoresponse.enabled);
	assert_string_equal(again.autoresponse.subject, s.autoresponse.subject);
	assert_string_equal(again.autoresponse.text, s.autoresponse.text);
	assert_string_equal(again.subject_template, s.subject_template);
	json_object_put(o);
	settings_free(&again);
	settings_free(&s);

	/* disabled keeps its text (so it can be switched on again), needs none;
	 * empty strings mean the default */
	assert_int_equal(settings_parse("{\"autoresponse\":{\"enabled\":false,\"text\":\"later\",\"subject\":\"\"},"
					"\"subject_template\":\"\",\"notify\":null}", &s, err, sizeof(err)), 0);
	assert_false(s.autoresponse.enabled);
	assert_string_equal(s.autoresponse.text, "later");
	assert_null(s.autoresponse.subject);
	assert_null(s.subject_template);
	assert_int_equal(s.nnotify, 0);
	settings_free(&s);
	assert_int_equal(settings_parse("{\"autoresponse\":{}}", &s, err, sizeof(err)), 0);
	assert_false(s.autoresponse.enabled);
	settings_free(&s);
}

static void email_limits(void **state)
{
	struct settings s;
	char err[200];
	char *big = malloc(10002);
	json_object *o, *a, *ar;

	(void)state;
	/* MAIL_MAX_TO addresses pass, one more does not */
	o = json_object_new_object();
	a = json_object_new_array();
	for (int i = 0; i < 50; i++) {
		char addr[40];

		snprintf(addr, sizeof(addr), "user%d@example.org", i);
		json_object_array_add(a, json_object_new_string(addr));
	}
	json_object_object_add(o, "notify", a);
	assert_int_equal(settings_from_json(o, &s, err, sizeof(err)), 0);
	assert_int_equal(s.nnotify, 50);
	settings_free(&s);
	json_object_array_add(a, json_object_new_string("one-more@example.org"));
	assert_int_not_equal(settings_from_json(o, &s, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "notify"));
	json_object_put(o);

	/* text: 10,000 bytes pass, 10,001 do not; subject: 400 and 401 */
	assert_non_null(big);
	memset(big, 'x', 10001);
	big[10001] = '\0';
	o = json_object_new_object();
	ar = json_object_new_object();
	json_object_object_add(ar, "enabled", json_object_new_boolean(1));
	json_object_object_add(ar, "text", json_object_new_string_len(big, 10000));
	json_object_object_add(ar, "subject", json_object_new_string_len(big, 400));
	json_object_object_add(o, "autoresponse", ar);
	json_object_object_add(o, "subject_template", json_object_new_string_len(big, 400));
	assert_int_equal(settings_from_json(o, &s, err, sizeof(err)), 0);
	assert_int_equal(strlen(s.autoresponse.text), 10000);
	settings_free(&s);
	json_object_object_add(ar, "text", json_object_new_string_len(big, 10001));
	assert_int_not_equal(settings_from_json(o, &s, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "autoresponse.text"));
	json_object_object_add(ar, "text", json_object_new_string("ok"));
	json_object_object_add(ar, "subject", json_object_new_string_len(big, 401));
	assert_int_not_equal(settings_from_json(o, &s, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "autoresponse.subject"));
	json_object_object_add(ar, "subject", NULL);
	json_object_object_add(o, "subject_template", json_object_new_string_len(big, 401));
	assert_int_not_equal(settings_from_json(o, &s, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "subject_template"));
	/* a NUL inside would cut the text short in C: refused */
	json_object_object_add(o, "subject_template", json_object_new_string_len("a\0b", 3));
	assert_int_not_equal(settings_from_json(o, &s, err, sizeof(err)), 0);
	json_object_put(o);
	free(big);
}

static void email_rejects(void **state)
{
	static const char *const bad[] = {
		"{\"notify\":\"ops@example.org\"}",
		"{\"notify\":[\"not an address\"]}",
		"{\"notify\":[\"Ops <ops@example.org>\"]}",
		"{\"notify\":[\"ops@example.org\\r\\nBcc: evil@example.com\"]}",
		"{\"notify\":[\"ops@localhost\"]}",
		"{\"notify\":[\"ops@[127.0.0.1]\"]}",
		"{\"notify\":[\"ops@example.org\",5]}",
		"{\"notify\":[null]}",
		"{\"notify\":{}}",
		"{\"autoresponse\":true}",
		"{\"autoresponse\":{\"enabled\":\"yes\",\"text\":\"t\"}}",
		"{\"autoresponse\":{\"enabled\":true}}",
		"{\"autoresponse\":{\"enabled\":true,\"text\":\"\"}}",
		"{\"autoresponse\":{\"enabled\":true,\"text\":\" \\n\\t \"}}",
		"{\"autoresponse\":{\"enabled\":true,\"text\":5}}",
		"{\"autoresponse\":{\"enabled\":true,\"text\":\"t\",\"subject\":\"a\\r\\nBcc: x@y.example\"}}",
		"{\"autoresponse\":{\"enabled\":true,\"text\":\"t\",\"subject\":[]}}",
		"{\"subject_template\":\"New\\nsubmission\"}",
		"{\"subject_template\":7}",
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
	assert_int_equal(settings_parse("{\"autoresponse\":{\"enabled\":true}}", &s, err, sizeof(err)),
			 INLET_EINVAL);
	assert_string_equal(err, "autoresponse.text is required when the autoresponse is enabled");
	assert_int_equal(settings_parse("{\"notify\":[\"a@example.org\",\"nope\"]}", &s, err, sizeof(err)),
			 INLET_EINVAL);
	assert_string_equal(err, "notify item 2 is not an email address like ops@example.org");
}

/* The API patches with a shallow merge: a new notify list or autoresponse
 * object replaces the old one whole; the other email settings stay. */
static void email_merge(void **state)
{
	char *out = NULL, *out2 = NULL, err[200];
	json_object *patch, *o, *v;

	(void)state;
	patch = json_tokener_parse("{\"notify\":[\"a@example.org\",\"A@example.org\"],"
				   "\"autoresponse\":{\"enabled\":true,\"text\":\"Thanks\"}}");
	assert_int_equal(settings_merge(NULL, patch, &out, err, sizeof(err)), 0);
	json_object_put(patch);
	patch = json_tokener_parse("{\"notify\":[\"b@example.org\"]}");
	assert_int_equal(settings_merge(out, patch, &out2, err, sizeof(err)), 0);
	json_object_put(patch);
	o = json_tokener_parse(out2);
	assert_true(json_object_object_get_ex(o, "notify", &v));
	assert_int_equal(json_object_array_length(v), 1);
	assert_string_equal(json_object_get_string(json_object_array_get_idx(v, 0)), "b@example.org");
	assert_true(json_object_object_get_ex(o, "autoresponse", &v));
	assert_true(json_object_object_get_ex(v, "text", &v));
	assert_string_equal(json_object_get_string(v), "Thanks");
	json_object_put(o);
	free(out2);

	/* switching it on again without text is refused */
	patch = json_tokener_parse("{\"autoresponse\":{\"enabled\":true}}");
	assert_int_equal(settings_merge(out, patch, &out2, err, sizeof(err)), INLET_EINVAL);
	json_object_put(patch);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(defaults),
		cmocka_unit_test(full),
		cmocka_unit_test(rejects),
		cmocka_unit_test(merge),
		cmocka_unit_test(email_defaults),
		cmocka_unit_test(email_full),
		cmocka_unit_test(email_limits),
		cmocka_unit_test(email_rejects),
		cmocka_unit_test(email_merge),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
