/* The session cache (app/sesscache.c): hits within the TTL, misses past it
 * and past the session's own expiry, the bound (oldest evicted), drops by
 * session and by user with the notify hook's message, another node's
 * message applied (and bad ones refused), a put that lost to an
 * invalidation, the whole cache cleared, and several threads at once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "app/sesscache.h"
#include "core/arena.h"
#include "core/err.h"
#include "store/sessions.h"

#define T0 1000000
#define DAY (86400LL * 1000)

static void key(uint8_t h[32], unsigned n)
{
	memset(h, 0xa5, 32);
	memcpy(h, &n, sizeof(n));
	h[31] = (uint8_t)n;
}

static void fill(unsigned n, int64_t user_id, int64_t expires, struct session *s, struct user *u)
{
	static char pids[8][32];
	static unsigned next;
	char *p = pids[next++ % 8];

	snprintf(p, 32, "ses_%u", n);
	memset(s, 0, sizeof(*s));
	s->id = n;
	s->user_id = user_id;
	s->pid = p;
	s->user_agent = "agent";
	s->created_ms = T0 - 10;
	s->last_seen_ms = T0 - 5;
	s->expires_ms = expires;
	u->id = user_id;
	u->pid = "usr_x";
	u->email = "a@example.com";
	u->password_hash = "$argon2id$secret";
}

static void put(struct sesscache *c, unsigned n, int64_t user_id, int64_t now, int64_t expires)
{
	struct session s;
	struct user u;
	uint8_t h[32];

	key(h, n);
	fill(n, user_id, expires, &s, &u);
	sesscache_put(c, sesscache_gen(c), h, now, &s, &u);
}

static int get(struct sesscache *c, unsigned n, int64_t now, struct session *s, struct user *u)
{
	struct arena *a = arena_create(4096);
	struct session s0;
	struct user u0;
	uint8_t h[32];
	int rc;

	key(h, n);
	rc = sesscache_get(c, h, now, a, s ? s : &s0, u ? u : &u0);
	arena_destroy(a); /* the strings are checked before, in test_hit */
	return rc;
}

static void test_hit(void **state)
{
	struct sesscache *c = sesscache_create(0, 5000);
	struct arena *a = arena_create(4096);
	struct session s;
	struct user u;
	uint8_t h[32];
	uint64_t hits, misses;
	size_t n;

	(void)state;
	assert_int_equal(get(c, 1, T0, NULL, NULL), INLET_ENOTFOUND);
	put(c, 1, 7, T0, T0 + DAY);
	key(h, 1);
	assert_int_equal(sesscache_get(c, h, T0 + 4999, a, &s, &u), 0);
	assert_int_equal(s.id, 1);
	assert_int_equal(s.user_id, 7);
	assert_string_equal(s.pid, "ses_1");
	assert_string_equal(s.user_agent, "agent");
	assert_int_equal(s.expires_ms, T0 + DAY);
	assert_int_equal(u.id, 7);
	assert_string_equal(u.pid, "usr_x");
	assert_string_equal(u.email, "a@example.com");
	assert_null(u.password_hash); /* never kept */
	assert_int_equal(get(c, 2, T0, NULL, NULL), INLET_ENOTFOUND);
	sesscache_stats(c, &hits, &misses, &n);
	assert_int_equal(hits, 1);
	assert_int_equal(misses, 2);
	assert_int_equal(n, 1);
	arena_destroy(a);
	sesscache_destroy(c);
}

static void test_ttl(void **state)
{
	struct sesscache *c = sesscache_create(0, 5000), *off = sesscache_create(0, 0);
	uint64_t hits, misses;
	size_t n;

	(void)state;
	put(c, 1, 7, T0, T0 + DAY);
	assert_int_equal(get(c, 1, T0 + 4999, NULL, NULL), 0);
	assert_int_equal(get(c, 1, T0 + 5000, NULL, NULL), INLET_ENOTFOUND);
	sesscache_stats(c, &hits, &misses, &n);
	assert_int_equal(n, 0); /* the stale entry went */
	/* A clock that went back does not stretch the TTL either. */
	put(c, 1, 7, T0, T0 + DAY);
	assert_int_equal(get(c, 1, T0 - 1, NULL, NULL), INLET_ENOTFOUND);
	/* TTL 0: nothing is kept. */
	put(off, 1, 7, T0, T0 + DAY);
	assert_int_equal(get(off, 1, T0, NULL, NULL), INLET_ENOTFOUND);
	sesscache_stats(off, &hits, &misses, &n);
	assert_int_equal(n, 0);
	/* No cache at all: a miss, and every call is harmless. */
	assert_int_equal(get(NULL, 1, T0, NULL, NULL), INLET_ENOTFOUND);
	put(NULL, 1, 7, T0, T0 + DAY);
	sesscache_invalidate_user(NULL, 7);
	sesscache_clear(NULL);
	sesscache_destroy(off);
	sesscache_destroy(c);
}

static void test_expiry(void **state)
{
	struct sesscache *c = sesscache_create(0, 60000);
	uint64_t hits, misses;
	size_t n;

	(void)state;
	/* The session ends in 100 ms, well inside the TTL: never served past it. */
	put(c, 1, 7, T0, T0 + 100);
	assert_int_equal(get(c, 1, T0 + 99, NULL, NULL), 0);
	assert_int_equal(get(c, 1, T0 + 100, NULL, NULL), INLET_ENOTFOUND);
	/* An expired session is not even kept. */
	put(c, 2, 7, T0, T0);
	sesscache_stats(c, &hits, &misses, &n);
	assert_int_equal(n, 0);
	sesscache_destroy(c);
}

static void test_bound(void **state)
{
	struct sesscache *c = sesscache_create(3, 5000);
	uint64_t hits, misses;
	size_t n;

	(void)state;
	for (unsigned i = 1; i <= 5; i++)
		put(c, i, 7, T0 + i, T0 + DAY);
	sesscache_stats(c, &hits, &misses, &n);
	assert_int_equal(n, 3);
	assert_int_equal(get(c, 1, T0 + 10, NULL, NULL), INLET_ENOTFOUND);
	assert_int_equal(get(c, 2, T0 + 10, NULL, NULL), INLET_ENOTFOUND);
	for (unsigned i = 3; i <= 5; i++)
		assert_int_equal(get(c, i, T0 + 10, NULL, NULL), 0);
	/* Putting a cached key again replaces it (no double entry). */
	put(c, 4, 7, T0 + 20, T0 + DAY);
	sesscache_stats(c, &hits, &misses, &n);
	assert_int_equal(n, 3);
	put(c, 6, 7, T0 + 21, T0 + DAY); /* evicts 3, now the oldest */
	assert_int_equal(get(c, 3, T0 + 30, NULL, NULL), INLET_ENOTFOUND);
	assert_int_equal(get(c, 4, T0 + 30, NULL, NULL), 0);
	assert_int_equal(get(c, 5, T0 + 30, NULL, NULL), 0);
	assert_int_equal(get(c, 6, T0 + 30, NULL, NULL), 0);
	sesscache_destroy(c);
}

static char told[64];
static int ntold;

static void notify(void *arg, const char *msg, size_t len)
{
	(void)arg;
	assert_true(len < sizeof(told));
	memcpy(told, msg, len);
	told[len] = '\0';
	ntold++;
}

static void test_invalidate(void **state)
{
	struct sesscache *c = sesscache_create(0, 60000);

	(void)state;
	sesscache_on_invalidate(c, notify, NULL);
	put(c, 1, 7, T0, T0 + DAY);
	put(c, 2, 7, T0, T0 + DAY);
	put(c, 3, 8, T0, T0 + DAY);
	put(c, 4, 8, T0, T0 + DAY);
	/* One session (a logout). */
	sesscache_invalidate_session(c, 1);
	assert_string_equal(told, "s:1");
	assert_int_equal(get(c, 1, T0, NULL, NULL), INLET_ENOTFOUND);
	assert_int_equal(get(c, 2, T0, NULL, NULL), 0);
	/* Every session of a user (a revoke). */
	sesscache_invalidate_user(c, 8);
	assert_string_equal(told, "u:8");
	assert_int_equal(get(c, 3, T0, NULL, NULL), INLET_ENOTFOUND);
	assert_int_equal(get(c, 4, T0, NULL, NULL), INLET_ENOTFOUND);
	assert_int_equal(get(c, 2, T0, NULL, NULL), 0);
	assert_int_equal(ntold, 2);
	/* Another node's messages: dropped here, nobody told again. */
	assert_int_equal(sesscache_apply(c, "u:7", 3), 0);
	assert_int_equal(get(c, 2, T0, NULL, NULL), INLET_ENOTFOUND);
	put(c, 5, 9, T0, T0 + DAY);
	assert_int_equal(sesscache_apply(c, "s:5", 3), 0);
	assert_int_equal(get(c, 5, T0, NULL, NULL), INLET_ENOTFOUND);
	assert_int_equal(ntold, 2);
	/* What is not such a message drops nothing. */
	put(c, 6, 9, T0, T0 + DAY);
	static const char *const bad[] = { "", "s:", "x:6", "s:0", "s:-6", "s:06", "s:6x", "u: 9", "s:6\n",
					   "u:99999999999999999999999" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		assert_int_equal(sesscache_apply(c, bad[i], strlen(bad[i])), INLET_EINVAL);
	assert_int_equal(sesscache_apply(c, "s:6\0", 4), INLET_EINVAL);
	assert_int_equal(get(c, 6, T0, NULL, NULL), 0);
	/* A resync: everything goes. */
	put(c, 7, 9, T0, T0 + DAY);
	sesscache_clear(c);
	assert_int_equal(get(c, 6, T0, NULL, NULL), INLET_ENOTFOUND);
	assert_int_equal(get(c, 7, T0, NULL, NULL), INLET_ENOTFOUND);
	sesscache_destroy(c);
}

/* A request read the store, then a logout was announced, then it puts
 * what it read: the put is refused. */
static void test_put_loses_to_invalidation(void **state)
{
	struct sesscache *c = sesscache_create(0, 60000);
	struct session s;
	struct user u;
	uint8_t h[32];
	uint64_t gen;

	(void)state;
	key(h, 1);
	fill(1, 7, T0 + DAY, &s, &u);
	gen = sesscache_gen(c);
	assert_int_equal(sesscache_apply(c, "s:1", 3), 0);
	sesscache_put(c, gen, h, T0, &s, &u);
	assert_int_equal(get(c, 1, T0, NULL, NULL), INLET_ENOTFOUND);
	/* A put whose generation is current is kept. */
	sesscache_put(c, sesscache_gen(c), h, T0, &s, &u);
	assert_int_equal(get(c, 1, T0, NULL, NULL), 0);
	/* A user mismatch (never from the store) is not kept. */
	key(h, 2);
	fill(2, 7, T0 + DAY, &s, &u);
	u.id = 8;
	sesscache_put(c, sesscache_gen(c), h, T0, &s, &u);
	assert_int_equal(get(c, 2, T0, NULL, NULL), INLET_ENOTFOUND);
	sesscache_destroy(c);
}

static struct sesscache *shared;

static void *hammer(void *arg)
{
	unsigned base = (unsigned)(uintptr_t)arg;
	struct arena *a = arena_create(4096);
	struct session s;
	struct user u;

	for (unsigned i = 0; i < 20000; i++) {
		unsigned n = base + i % 300;
		uint8_t h[32];

		key(h, n);
		if (sesscache_get(shared, h, T0, a, &s, &u) == 0) {
			assert_int_equal(s.id, n);
			assert_int_equal(u.id, n % 17 + 1);
		} else {
			put(shared, n, n % 17 + 1, T0, T0 + DAY);
		}
		if (i % 97 == 0)
			sesscache_invalidate_user(shared, i % 17 + 1);
		if (i % 1001 == 0)
			sesscache_clear(shared);
		if (i % 64 == 0) {
			arena_destroy(a);
			a = arena_create(4096);
		}
	}
	arena_destroy(a);
	return NULL;
}

static void test_threads(void **state)
{
	pthread_t th[4];
	uint64_t hits, misses;
	size_t n;

	(void)state;
	/* Room for every key the threads use (about 900), so that a thread
	 * that runs alone still meets its own entries again. */
	shared = sesscache_create(1024, 60000);
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, hammer, (void *)(uintptr_t)(i * 200 + 1)), 0);
	for (unsigned i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	sesscache_stats(shared, &hits, &misses, &n);
	assert_true(n <= 1024);
	assert_true(hits > 0);
	assert_int_equal(hits + misses, 4 * 20000);
	sesscache_destroy(shared);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hit),
		cmocka_unit_test(test_ttl),
		cmocka_unit_test(test_expiry),
		cmocka_unit_test(test_bound),
		cmocka_unit_test(test_invalidate),
		cmocka_unit_test(test_put_loses_to_invalidation),
		cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
