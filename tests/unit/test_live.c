/* The live bus (app/live.c): delivery by account and endpoint, resume
 * points, eviction from the ring (a reset only for whom lost something),
 * the per-account cap, wakes and keep-alives. */
#include <setjmp.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "app/live.h"
#include "core/err.h"

/* Accounts 1 and 2 fall in different buckets of the bus. */
#define A 1
#define B 2

static void pub(struct live *l, int64_t account, const char *ep, const char *id)
{
	char json[64];

	snprintf(json, sizeof(json), "{\"id\":\"%s\"}", id);
	assert_int_equal(live_publish(l, account, ep, "submission.created", json), 0);
}

static void expect(struct live_sub *s, const char *id)
{
	struct live_event ev;
	char json[64];

	snprintf(json, sizeof(json), "{\"id\":\"%s\"}", id);
	assert_int_equal(live_next(s, &ev), LIVE_EVENT);
	assert_string_equal(ev.type, "submission.created");
	assert_string_equal(ev.data, json);
}

static void delivery(void **state)
{
	struct live *l;
	struct live_sub *all, *one, *other;
	struct live_event ev;

	(void)state;
	assert_int_equal(live_create(&l, 64, 8, 60000), 0);
	pub(l, A, "ep_1", "before");
	assert_int_equal(live_subscribe(l, A, NULL, 0, 0, &all), 0);
	assert_int_equal(live_subscribe(l, A, "ep_2", 0, 0, &one), 0);
	assert_int_equal(live_subscribe(l, B, NULL, 0, 0, &other), 0);
	assert_int_equal(live_sub_start(all), live_head(l));
	pub(l, A, "ep_1", "x");
	pub(l, B, "ep_9", "theirs");
	pub(l, A, "ep_2", "y");
	expect(all, "x");
	expect(all, "y");
	assert_int_equal(live_next(all, &ev), LIVE_NONE);
	expect(one, "y");
	assert_int_equal(live_next(one, &ev), LIVE_NONE);
	expect(other, "theirs");
	assert_int_equal(live_next(other, &ev), LIVE_NONE);
	live_unsubscribe(all);
	live_unsubscribe(one);
	live_unsubscribe(other);
	live_destroy(l);
}

static void resume(void **state)
{
	struct live *l;
	struct live_sub *s;
	struct live_event ev;
	uint64_t first;

	(void)state;
	assert_int_equal(live_create(&l, 64, 8, 60000), 0);
	pub(l, A, "ep_1", "1");
	first = live_head(l);
	pub(l, A, "ep_1", "2");
	pub(l, A, "ep_1", "3");
	assert_int_equal(live_subscribe(l, A, NULL, 1, first, &s), 0);
	expect(s, "2");
	expect(s, "3");
	assert_int_equal(live_next(s, &ev), LIVE_NONE);
	live_unsubscribe(s);
	/* The head itself: nothing is owed. */
	assert_int_equal(live_subscribe(l, A, NULL, 1, live_head(l), &s), 0);
	assert_int_equal(live_next(s, &ev), LIVE_NONE);
	live_unsubscribe(s);
	/* Not this process's ids (an earlier one's, or from the future). */
	for (int i = 0; i < 2; i++) {
		uint64_t bad = i ? live_head(l) + 1 : 7;

		assert_int_equal(live_subscribe(l, A, NULL, 1, bad, &s), 0);
		assert_int_equal(live_next(s, &ev), LIVE_RESET);
		assert_string_equal(ev.type, "reset");
		assert_int_equal(ev.id, live_head(l));
		assert_int_equal(live_next(s, &ev), LIVE_NONE);
		pub(l, A, "ep_1", "after");
		expect(s, "after");
		live_unsubscribe(s);
	}
	live_destroy(l);
}

static void eviction(void **state)
{
	struct live *l;
	struct live_sub *s;
	struct live_event ev;
	uint64_t mine;
	char id[16];

	(void)state;
	assert_int_equal(live_create(&l, 16, 8, 60000), 0);
	assert_int_equal(live_subscribe(l, A, NULL, 0, 0, &s), 0);
	/* Others' events flooding the ring cost this subscriber nothing. */
	for (int i = 0; i < 40; i++)
		pub(l, B, "ep_9", "theirs");
	assert_int_equal(live_next(s, &ev), LIVE_NONE);
	pub(l, A, "ep_1", "mine");
	mine = live_head(l);
	expect(s, "mine");
	/* Its own events pushed out before it read them: a reset, then live. */
	for (int i = 0; i < 20; i++) {
		snprintf(id, sizeof(id), "%d", i);
		pub(l, A, "ep_1", id);
	}
	assert_int_equal(live_next(s, &ev), LIVE_RESET);
	assert_int_equal(ev.id, live_head(l));
	assert_int_equal(live_next(s, &ev), LIVE_NONE);
	live_unsubscribe(s);
	/* A resume point whose successors left the ring resets too... */
	assert_int_equal(live_subscribe(l, A, NULL, 1, mine, &s), 0);
	assert_int_equal(live_next(s, &ev), LIVE_RESET);
	live_unsubscribe(s);
	/* ...but one after them replays what is left. */
	assert_int_equal(live_subscribe(l, A, NULL, 1, live_head(l) - 2, &s), 0);
	expect(s, "18");
	expect(s, "19");
	live_unsubscribe(s);
	live_destroy(l);
}

static void caps(void **state)
{
	struct live *l;
	struct live_sub *s[3], *b;
	char big[LIVE_DATA_MAX + 8];

	(void)state;
	assert_int_equal(live_create(&l, 16, 2, 60000), 0);
	assert_int_equal(live_subscribe(l, A, NULL, 0, 0, &s[0]), 0);
	assert_int_equal(live_subscribe(l, A, NULL, 0, 0, &s[1]), 0);
	assert_int_equal(live_subscribe(l, A, NULL, 0, 0, &s[2]), INLET_ERATELIMIT);
	assert_null(s[2]);
	assert_int_equal(live_subscribe(l, B, NULL, 0, 0, &b), 0); /* per account */
	live_unsubscribe(s[0]);
	assert_int_equal(live_subscribe(l, A, NULL, 0, 0, &s[0]), 0);
	assert_int_equal(live_publish(l, A, "ep_1", "x", "{\"a\":\n1}"), INLET_EINVAL);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(live_publish(l, A, "ep_1", "x", big), INLET_ETOOBIG);
	assert_int_equal(live_publish(NULL, A, "ep_1", "x", "{}"), 0);
	live_unsubscribe(s[0]);
	live_unsubscribe(s[1]);
	live_unsubscribe(b);
	live_destroy(l);
}

/* Runs on the publishing thread or the bus's timer. */
static void count_wake(void *arg)
{
	atomic_fetch_add((atomic_int *)arg, 1);
}

static void wakes_and_pings(void **state)
{
	struct live *l;
	struct live_sub *s;
	struct live_event ev;
	atomic_int woken = 0;
	struct timespec nap = { 0, 20 * 1000000 };

	(void)state;
	assert_int_equal(live_create(&l, 16, 2, 100), 0);
	assert_int_equal(live_subscribe(l, A, "ep_1", 0, 0, &s), 0);
	live_sub_waker(s, count_wake, &woken);
	pub(l, B, "ep_1", "theirs");
	pub(l, A, "ep_2", "other endpoint");
	assert_int_equal(atomic_load(&woken), 0);
	pub(l, A, "ep_1", "x");
	assert_int_equal(atomic_load(&woken), 1);
	expect(s, "x");
	/* Quiet for the ping interval: woken for a keep-alive, once. */
	for (int i = 0; i < 100 && atomic_load(&woken) < 2; i++)
		nanosleep(&nap, NULL);
	assert_int_equal(atomic_load(&woken), 2);
	assert_int_equal(live_next(s, &ev), LIVE_PING);
	assert_int_equal(live_next(s, &ev), LIVE_NONE);
	live_unsubscribe(s);
	live_destroy(l);
}

struct forwarded {
	int n;
	int64_t account;
	char endpoint[16], type[32], json[64];
};

static void forward(void *arg, int64_t account_id, const char *endpoint_pid, const char *type, const char *json)
{
	struct forwarded *f = arg;

	f->n++;
	f->account = account_id;
	snprintf(f->endpoint, sizeof(f->endpoint), "%s", endpoint_pid);
	snprintf(f->type, sizeof(f->type), "%s", type);
	snprintf(f->json, sizeof(f->json), "%s", json);
}

/* Several nodes: this node's events go out through the hook, other nodes'
 * come in through live_inject (and do not go out again); both get this
 * bus's next ids, so a stream sees one sequence. */
static void forwarding(void **state)
{
	struct forwarded f = { 0 };
	struct live *l;
	struct live_sub *s;
	struct live_event ev;
	uint64_t first;

	(void)state;
	assert_int_equal(live_create(&l, 16, 2, 60000), 0);
	live_on_publish(l, forward, &f);
	assert_int_equal(live_subscribe(l, A, NULL, 0, 0, &s), 0);
	pub(l, A, "ep_1", "mine");
	assert_int_equal(f.n, 1);
	assert_int_equal(f.account, A);
	assert_string_equal(f.endpoint, "ep_1");
	assert_string_equal(f.type, "submission.created");
	assert_string_equal(f.json, "{\"id\":\"mine\"}");
	assert_int_equal(live_inject(l, A, "ep_7", "submission.created", "{\"id\":\"theirs\"}"), 0);
	assert_int_equal(f.n, 1);
	/* Refused events are not forwarded either. */
	assert_int_equal(live_publish(l, A, "ep_1", "x", "{\n}"), INLET_EINVAL);
	assert_int_equal(f.n, 1);
	assert_int_equal(live_next(s, &ev), LIVE_EVENT);
	first = ev.id;
	assert_string_equal(ev.data, "{\"id\":\"mine\"}");
	assert_int_equal(live_next(s, &ev), LIVE_EVENT);
	assert_int_equal(ev.id, first + 1);
	assert_string_equal(ev.data, "{\"id\":\"theirs\"}");
	live_unsubscribe(s);
	live_destroy(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(delivery),
		cmocka_unit_test(resume),
		cmocka_unit_test(eviction),
		cmocka_unit_test(caps),
		cmocka_unit_test(wakes_and_pings),
		cmocka_unit_test(forwarding),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
