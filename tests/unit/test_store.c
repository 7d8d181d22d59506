/* The stores against real SQLite files in a temporary folder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/arena.h"
#include "core/err.h"
#include "store/subs.h"
#include "store/tenant.h"

static char dir[256];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/inlet-store-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void tenant_scoping(void **state)
{
	struct tenant *t;
	struct arena *a = arena_create(4096);
	struct account acc1, acc2, got;
	struct endpoint e, out;
	struct api_key k;
	uint8_t hash[32] = { 1 };
	int64_t who;
	char path[300];

	(void)state;
	snprintf(path, sizeof(path), "%s/tenant.db", dir);
	assert_int_equal(tenant_open(&t, path), 0);
	assert_int_equal(tenant_init_owner(t, "a@example.com", "h", "A", a, &acc1), 0);
	assert_int_equal(tenant_init_owner(t, "b@example.com", "h", "B", a, &acc2), 0);
	/* Emails are unique regardless of case. */
	assert_int_equal(tenant_init_owner(t, "A@Example.com", "h", "A2", a, &got), INLET_EEXISTS);
	assert_int_equal(tenant_account_by_pid(t, acc1.pid, a, &got), 0);
	assert_int_equal(got.id, acc1.id);

	memset(&e, 0, sizeof(e));
	e.pid = "ep_one";
	e.key = "key-one-0123456789";
	e.account_id = acc1.id;
	e.kind = "form";
	e.name = "One";
	e.settings = "{}";
	e.key_version = 1;
	e.location = "shared";
	e.wrapped_len = 4;
	memcpy(e.wrapped, "wrap", 4);
	assert_int_equal(tenant_endpoint_create(t, &e), 0);
	assert_int_equal(tenant_endpoint_get(t, acc1.id, "ep_one", a, &out), 0);
	assert_int_equal(out.wrapped_len, 4);
	assert_memory_equal(out.wrapped, "wrap", 4);
	/* Another account sees nothing, and cannot change or delete it. */
	assert_int_equal(tenant_endpoint_get(t, acc2.id, "ep_one", a, &out), INLET_ENOTFOUND);
	assert_int_equal(tenant_endpoint_update(t, acc2.id, "ep_one", "x", NULL), INLET_ENOTFOUND);
	assert_int_equal(tenant_endpoint_delete(t, acc2.id, "ep_one"), INLET_ENOTFOUND);
	assert_int_equal(tenant_endpoint_by_key(t, "key-one-0123456789", a, &out), 0);
	assert_string_equal(out.pid, "ep_one");

	assert_int_equal(tenant_key_create(t, acc1.id, "ci", hash, "inlet_sk_x", a, &k), 0);
	assert_int_equal(tenant_key_auth(t, hash, &who), 0);
	assert_int_equal(who, acc1.id);
	assert_int_equal(tenant_key_revoke(t, acc2.id, k.pid), INLET_ENOTFOUND);
	assert_int_equal(tenant_key_revoke(t, acc1.id, k.pid), 0);
	assert_int_equal(tenant_key_auth(t, hash, &who), INLET_EAUTH);

	uint8_t s1[32], s2[32];

	assert_int_equal(tenant_daily_salt(t, 20000, s1), 0);
	assert_int_equal(tenant_daily_salt(t, 20000, s2), 0);
	assert_memory_equal(s1, s2, 32);
	assert_int_equal(tenant_daily_salt(t, 20001, s2), 0);
	assert_memory_not_equal(s1, s2, 32);
	tenant_close(t);
	arena_destroy(a);
}

/* ---- submissions: group commit under concurrent submitters ------------- */

#define THREADS 8
#define PER_THREAD 500

struct waiter {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int done, rc;
};

static void on_done(void *ctx, int rc)
{
	struct waiter *w = ctx;

	pthread_mutex_lock(&w->lock);
	w->done = 1;
	w->rc = rc;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

struct worker_arg {
	struct substore *s;
	int64_t endpoint_id;
	int64_t ids[PER_THREAD];
};

static void *submitter(void *p)
{
	struct worker_arg *wa = p;

	for (int i = 0; i < PER_THREAD; i++) {
		struct waiter w = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, -1 };
		char body[32];
		struct sub_row row = { .id = sub_id_next(), .endpoint_id = wa->endpoint_id, .key_version = 1 };

		snprintf(body, sizeof(body), "row-%d", i);
		row.sealed = (const uint8_t *)body;
		row.sealed_len = strlen(body);
		wa->ids[i] = row.id;
		substore_insert(wa->s, &row, on_done, &w);
		pthread_mutex_lock(&w.lock);
		while (!w.done)
			pthread_cond_wait(&w.cond, &w.lock);
		pthread_mutex_unlock(&w.lock);
		if (w.rc)
			return (void *)1;
	}
	return NULL;
}

static void group_commit(void **state)
{
	struct substore *s;
	struct worker_arg args[THREADS];
	pthread_t th[THREADS];
	struct arena *a = arena_create(1 << 16);
	struct sub_row *rows, one;
	size_t n, seen = 0;
	int64_t count, before = 0, prev = INT64_MAX;
	char path[300];

	(void)state;
	snprintf(path, sizeof(path), "%s/subs.db", dir);
	assert_int_equal(substore_open(&s, path, "test"), 0);
	for (int i = 0; i < THREADS; i++) {
		args[i].s = s;
		args[i].endpoint_id = 1 + i % 2;
		assert_int_equal(pthread_create(&th[i], NULL, submitter, &args[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		void *ret;

		pthread_join(th[i], &ret);
		assert_null(ret);
	}
	/* Counts kept by the writer match what was acknowledged. */
	assert_int_equal(substore_count(s, 1, &count), 0);
	assert_int_equal(count, THREADS / 2 * PER_THREAD);
	/* Keyset pages over endpoint 1: newest first, no gap, no repeat. */
	for (;;) {
		struct sub_query q = { .endpoint_id = 1, .before_id = before, .status = -1, .limit = 333 };

		assert_int_equal(substore_list(s, &q, a, &rows, &n), 0);
		if (n == 0)
			break;
		for (size_t i = 0; i < n; i++) {
			assert_true(rows[i].id < prev);
			assert_int_equal(rows[i].endpoint_id, 1);
			prev = rows[i].id;
		}
		seen += n;
		before = rows[n - 1].id;
	}
	assert_int_equal(seen, THREADS / 2 * PER_THREAD);
	/* Status, delete, scoping by endpoint. */
	int64_t id = args[0].ids[0];

	assert_int_equal(substore_get(s, 1, id, a, &one), 0);
	assert_int_equal(substore_get(s, 2, id, a, &one), INLET_ENOTFOUND);
	assert_int_equal(substore_set_status(s, 1, id, SUB_SPAM), 0);
	assert_int_equal(substore_set_status(s, 2, id, SUB_SPAM), INLET_ENOTFOUND);
	{
		struct sub_query q = { .endpoint_id = 1, .status = SUB_SPAM, .limit = 10 };

		assert_int_equal(substore_list(s, &q, a, &rows, &n), 0);
		assert_int_equal(n, 1);
		assert_int_equal(rows[0].id, id);
	}
	assert_int_equal(substore_delete(s, 1, id), 0);
	assert_int_equal(substore_delete(s, 1, id), INLET_ENOTFOUND);
	assert_int_equal(substore_count(s, 1, &count), 0);
	assert_int_equal(count, THREADS / 2 * PER_THREAD - 1);
	assert_int_equal(substore_delete_endpoint(s, 2), 0);
	assert_int_equal(substore_count(s, 2, &count), 0);
	assert_int_equal(count, 0);
	substore_close(s);
	arena_destroy(a);
}

static void ids_monotonic(void **state)
{
	int64_t prev = 0;

	(void)state;
	for (int i = 0; i < 100000; i++) {
		int64_t id = sub_id_next();

		assert_true(id > prev);
		prev = id;
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(tenant_scoping),
		cmocka_unit_test(group_commit),
		cmocka_unit_test(ids_monotonic),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
