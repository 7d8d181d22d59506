/* sub_id_past: ids at a past ms for imported rows. They carry the ms and
 * the node, 4,096 calls in a row at one ms are all different, and an ms
 * that is not in the past is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/enc.h"
#include "core/err.h"
#include "store/subs.h"

static int cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static void past_ids(void **state)
{
	static int64_t ids[4096];
	int64_t ms = 1541230109707, id;

	(void)state;
	sub_id_set_node(7);
	for (size_t i = 0; i < 4096; i++) {
		assert_int_equal(sub_id_past(ms, &ids[i]), 0);
		assert_int_equal(sub_id_ms(ids[i]), ms);
		assert_int_equal((ids[i] >> 12) & 0xff, 7);
	}
	qsort(ids, 4096, sizeof(*ids), cmp);
	for (size_t i = 1; i < 4096; i++)
		assert_true(ids[i] != ids[i - 1]);
	/* Not in the past: the live generator's. */
	assert_int_equal(sub_id_past(now_ms() + 1000, &id), INLET_EINVAL);
	assert_int_equal(sub_id_past(0, &id), INLET_EINVAL);
	assert_int_equal(sub_id_past(-5, &id), INLET_EINVAL);
	/* Live ids stay above every past one. */
	assert_true(sub_id_next() > ids[4095]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(past_ids),
	};

	return cmocka_run_group_tests_name("subid_past", tests, NULL, NULL);
}
