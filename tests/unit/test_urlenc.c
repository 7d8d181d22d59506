/* urlenc_parse, urlenc_decode and the kv list they fill. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/arena.h"
#include "core/err.h"
#include "ingest/kv.h"
#include "ingest/urlenc.h"

static const struct form_limits roomy = { 100, 1000, 10000 };

struct fx {
	struct arena *a;
	struct kv_list l;
};

static int setup(void **state)
{
	static struct fx fx;

	fx.a = arena_create(0);
	kv_init(&fx.l);
	*state = &fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	arena_destroy(fx->a);
	return 0;
}

static int parse(struct fx *fx, const char *s, const struct form_limits *lim)
{
	return urlenc_parse(fx->a, s, strlen(s), lim, &fx->l);
}

/* Asserts pair i is exactly name/value (lengths included, so embedded
 * NULs are compared too) and that both are NUL-terminated. */
static void pair_is(const struct fx *fx, size_t i, const char *name, size_t nl,
		    const char *value, size_t vl)
{
	const struct kv *kv;

	assert_true(i < fx->l.n);
	kv = &fx->l.items[i];
	assert_int_equal(kv->name_len, nl);
	assert_memory_equal(kv->name, name, nl + 1);
	assert_int_equal(kv->value_len, vl);
	assert_memory_equal(kv->value, value, vl + 1);
}

#define PAIR(fx, i, n, v) pair_is(fx, i, n, sizeof(n) - 1, v, sizeof(v) - 1)

static void t_empty(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(urlenc_parse(fx->a, "", 0, &roomy, &fx->l), 0);
	assert_int_equal(fx->l.n, 0);
	assert_int_equal(urlenc_parse(fx->a, NULL, 0, &roomy, &fx->l), 0);
	assert_int_equal(fx->l.n, 0);
	assert_null(kv_get(&fx->l, "a"));
}

static void t_simple(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(parse(fx, "a=1&b=two", &roomy), 0);
	assert_int_equal(fx->l.n, 2);
	PAIR(fx, 0, "a", "1");
	PAIR(fx, 1, "b", "two");
}

static void t_only_separators(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(parse(fx, "&&&", &roomy), 0);
	assert_int_equal(fx->l.n, 0);
	assert_int_equal(parse(fx, "&a=1&&b=2&", &roomy), 0);
	assert_int_equal(fx->l.n, 2);
	PAIR(fx, 0, "a", "1");
	PAIR(fx, 1, "b", "2");
}

static void t_plus_and_escapes(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(parse(fx, "q=a+b%20c&x%2By=%2b&%41=%e2%82%AC", &roomy), 0);
	assert_int_equal(fx->l.n, 3);
	PAIR(fx, 0, "q", "a b c");
	PAIR(fx, 1, "x+y", "+");
	PAIR(fx, 2, "A", "\xe2\x82\xac");
}

static void t_malformed_percent(void **state)
{
	struct fx *fx = *state;

	/* Kept literally, the following bytes decoded normally. */
	assert_int_equal(parse(fx, "a=%&b=%4&c=%zz&d=%4g&e=100%&f=%%41&g=%+", &roomy), 0);
	assert_int_equal(fx->l.n, 7);
	PAIR(fx, 0, "a", "%");
	PAIR(fx, 1, "b", "%4");
	PAIR(fx, 2, "c", "%zz");
	PAIR(fx, 3, "d", "%4g");
	PAIR(fx, 4, "e", "100%");
	PAIR(fx, 5, "f", "%A");
	PAIR(fx, 6, "g", "% ");
}

static void t_nul_byte(void **state)
{
	struct fx *fx = *state;
	const struct kv *kv;

	assert_int_equal(parse(fx, "a%00b=x%00y", &roomy), 0);
	assert_int_equal(fx->l.n, 1);
	pair_is(fx, 0, "a\0b", 3, "x\0y", 3);
	/* A C-string lookup must not match a prefix up to the NUL. */
	assert_null(kv_get(&fx->l, "a"));
	/* A raw NUL byte in the input is data too. */
	assert_int_equal(urlenc_parse(fx->a, "k=\0v", 4, &roomy, &fx->l), 0);
	kv = kv_get(&fx->l, "k");
	assert_non_null(kv);
	assert_int_equal(kv->value_len, 2);
	assert_memory_equal(kv->value, "\0v", 3);
}

static void t_repeated_names(void **state)
{
	struct fx *fx = *state;
	const struct kv *kv;

	assert_int_equal(parse(fx, "t=1&u=x&t=2&t=3", &roomy), 0);
	assert_int_equal(fx->l.n, 4);
	PAIR(fx, 0, "t", "1");
	PAIR(fx, 1, "u", "x");
	PAIR(fx, 2, "t", "2");
	PAIR(fx, 3, "t", "3");
	kv = kv_get(&fx->l, "t");
	assert_ptr_equal(kv, &fx->l.items[0]);
}

static void t_missing_equals(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(parse(fx, "flag&a=&=v&=&b==c", &roomy), 0);
	assert_int_equal(fx->l.n, 5);
	PAIR(fx, 0, "flag", "");
	PAIR(fx, 1, "a", "");
	PAIR(fx, 2, "", "v");
	PAIR(fx, 3, "", "");
	PAIR(fx, 4, "b", "=c"); /* split on the first '=' only */
}

static void t_appends(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(parse(fx, "a=1", &roomy), 0);
	assert_int_equal(parse(fx, "b=2", &roomy), 0);
	assert_int_equal(fx->l.n, 2);
	PAIR(fx, 1, "b", "2");
}

static void t_many_fields_grow(void **state)
{
	struct fx *fx = *state;
	struct form_limits lim = { 1000, 10, 10 };
	char body[1000 * 6];
	size_t i, n = 0;

	for (i = 0; i < 1000; i++)
		n += (size_t)snprintf(body + n, sizeof(body) - n, "%s%03zu=%zu",
				      i ? "&" : "", i, i % 10);
	assert_int_equal(urlenc_parse(fx->a, body, n, &lim, &fx->l), 0);
	assert_int_equal(fx->l.n, 1000);
	PAIR(fx, 0, "000", "0");
	PAIR(fx, 999, "999", "9");
	assert_string_equal(kv_get(&fx->l, "512")->value, "2");
}

static void t_limit_fields(void **state)
{
	struct fx *fx = *state;
	struct form_limits lim = { 2, 10, 10 };

	assert_int_equal(parse(fx, "a=1&b=2", &lim), 0);
	assert_int_equal(fx->l.n, 2);
	kv_init(&fx->l);
	assert_int_equal(parse(fx, "a=1&b=2&c=3", &lim), INLET_ETOOMANY);
	/* Empty pairs do not count. */
	kv_init(&fx->l);
	assert_int_equal(parse(fx, "&&a=1&&b=2&&", &lim), 0);
	/* The limit covers pairs already in the list. */
	assert_int_equal(parse(fx, "c=3", &lim), INLET_ETOOMANY);
	kv_init(&fx->l);
	lim.max_fields = 0;
	assert_int_equal(parse(fx, "a", &lim), INLET_ETOOMANY);
	assert_int_equal(parse(fx, "", &lim), 0);
}

static void t_limit_lengths(void **state)
{
	struct fx *fx = *state;
	struct form_limits lim = { 10, 3, 4 };

	/* Decoded lengths count, not raw ones. */
	assert_int_equal(parse(fx, "%41%42%43=%31+%32%33", &lim), 0);
	PAIR(fx, 0, "ABC", "1 23");
	kv_init(&fx->l);
	assert_int_equal(parse(fx, "abcd=1", &lim), INLET_ETOOBIG);
	kv_init(&fx->l);
	assert_int_equal(parse(fx, "abc=12345", &lim), INLET_ETOOBIG);
	kv_init(&fx->l);
	assert_int_equal(parse(fx, "abcd", &lim), INLET_ETOOBIG);
	kv_init(&fx->l);
	lim.max_value_len = 0;
	assert_int_equal(parse(fx, "a=&b", &lim), 0);
	assert_int_equal(parse(fx, "c=1", &lim), INLET_ETOOBIG);
}

static void t_decode(void **state)
{
	char in1[] = "a+b%2Bc%", in2[] = "a+b%2Bc", buf[64];
	size_t n;

	(void)state;
	/* In place, as the header allows. */
	n = urlenc_decode(in1, in1, strlen(in1), 1);
	assert_int_equal(n, 6);
	assert_memory_equal(in1, "a b+c%", 6);

	n = urlenc_decode(in2, in2, strlen(in2), 0);
	assert_int_equal(n, 5);
	assert_memory_equal(in2, "a+b+c", 5);

	n = urlenc_decode(buf, "%00%ff%FF%fF", 12, 0);
	assert_int_equal(n, 4);
	assert_memory_equal(buf, "\0\xff\xff\xff", 4);

	assert_int_equal(urlenc_decode(buf, "", 0, 1), 0);
	/* Escapes cut short by len are literal. */
	n = urlenc_decode(buf, "%41", 2, 0);
	assert_int_equal(n, 2);
	assert_memory_equal(buf, "%4", 2);
}

static void t_kv_add_direct(void **state)
{
	struct fx *fx = *state;
	const char big[5] = "abcd";
	struct form_limits lim = { 3, 4, 4 };

	assert_int_equal(kv_add(fx->a, &fx->l, &lim, "", 0, "", 0), 0);
	assert_int_equal(kv_add(fx->a, &fx->l, &lim, NULL, 0, NULL, 0), 0);
	PAIR(fx, 1, "", "");
	assert_int_equal(kv_add(fx->a, &fx->l, &lim, big, 5, "x", 1), INLET_ETOOBIG);
	assert_int_equal(kv_add(fx->a, &fx->l, &lim, "x", 1, big, 5), INLET_ETOOBIG);
	assert_int_equal(kv_add(fx->a, &fx->l, &lim, big, 4, big, 4), 0);
	assert_int_equal(kv_add(fx->a, &fx->l, &lim, "y", 1, "y", 1), INLET_ETOOMANY);
	assert_int_equal(fx->l.n, 3);
	/* Copies, not references. */
	assert_ptr_not_equal(fx->l.items[2].name, big);
	assert_string_equal(kv_get(&fx->l, "abcd")->value, "abcd");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(t_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(t_simple, setup, teardown),
		cmocka_unit_test_setup_teardown(t_only_separators, setup, teardown),
		cmocka_unit_test_setup_teardown(t_plus_and_escapes, setup, teardown),
		cmocka_unit_test_setup_teardown(t_malformed_percent, setup, teardown),
		cmocka_unit_test_setup_teardown(t_nul_byte, setup, teardown),
		cmocka_unit_test_setup_teardown(t_repeated_names, setup, teardown),
		cmocka_unit_test_setup_teardown(t_missing_equals, setup, teardown),
		cmocka_unit_test_setup_teardown(t_appends, setup, teardown),
		cmocka_unit_test_setup_teardown(t_many_fields_grow, setup, teardown),
		cmocka_unit_test_setup_teardown(t_limit_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(t_limit_lengths, setup, teardown),
		cmocka_unit_test(t_decode),
		cmocka_unit_test_setup_teardown(t_kv_add_direct, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
