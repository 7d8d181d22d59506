/* The job queue: the life of a job, idempotency, leases (a worker that
 * dies, a process that crashes), backoff within its jitter bounds,
 * operator actions, listing, the scheduler, and claims from several
 * threads at once. Every case runs on a fresh SQLite file in a temporary
 * folder, and again on PostgreSQL (a fresh schema each) when
 * INLET_TEST_DATABASE_URL is set, as tests/e2e/queue_pg.test.mjs does with
 * a throwaway server. Two cases belong to one engine: a jobs.db made by
 * the SQLite-only queue opens and carries on (SQLite), and claimers on
 * many connections skip each other's locked rows (PostgreSQL). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <sqlite3.h>

#include "core/arena.h"
#include "core/err.h"
#include "store/queue.h"
#include "store/sql.h"

#include "engines.h"

/* Where queue_open_target finds this case's queue. */
static int open_queue(struct queue **q)
{
	return pg ? queue_open_target(q, url, schema) : queue_open_target(q, path, NULL);
}

static int setup(void **state)
{
	(void)state;
	return engine_setup("q", "jobs.db");
}

static int teardown(void **state)
{
	(void)state;
	return engine_teardown();
}

/* ---- a clock, dice and a doorbell the tests control -------------------- */

struct fake {
	int64_t now;
	uint64_t dice;    /* what rand() answers, unless random is set */
	int random;       /* 1: answer real-looking random numbers */
	uint64_t state;   /* xorshift state when random */
	int rang[QUEUE_NLANES];
};

static int64_t fake_now(void *ctx)
{
	return ((struct fake *)ctx)->now;
}

static uint64_t fake_rand(void *ctx)
{
	struct fake *f = ctx;

	if (!f->random)
		return f->dice;
	f->state ^= f->state << 13;
	f->state ^= f->state >> 7;
	f->state ^= f->state << 17;
	return f->state;
}

static void fake_notify(void *ctx, enum queue_lane lane)
{
	((struct fake *)ctx)->rang[lane]++;
}

static struct queue *open_fake(struct fake *f)
{
	struct queue_hooks h = { fake_now, fake_rand, fake_notify, f };
	struct queue *q = NULL;

	assert_int_equal(open_queue(&q), 0);
	queue_set_hooks(q, &h);
	return q;
}

static int64_t add(struct queue *q, enum queue_lane lane, const char *kind, const char *key,
		   int64_t run_at, int max_attempts)
{
	struct queue_spec s = { 0 };
	int64_t id = 0;

	s.lane = lane;
	s.kind = kind;
	s.payload = kind;
	s.len = strlen(kind);
	s.idempotency_key = key;
	s.run_at_ms = run_at;
	s.max_attempts = max_attempts;
	assert_int_equal(queue_enqueue(q, &s, &id), 0);
	assert_true(id > 0);
	return id;
}

static size_t count(struct queue *q, int state, int lane, const char *kind)
{
	struct arena *a = arena_create(4096);
	struct queue_filter f = { .state = state, .lane = lane, .kind = kind, .limit = QUEUE_LIST_MAX };
	struct queue_job *jobs;
	size_t n, total = 0;

	for (;;) {
		assert_int_equal(queue_list(q, &f, a, &jobs, &n), 0);
		total += n;
		if (n < f.limit)
			break;
		f.before_id = jobs[n - 1].id;
	}
	arena_destroy(a);
	return total;
}

static enum queue_state state_of(struct queue *q, int64_t id)
{
	struct arena *a = arena_create(1024);
	struct queue_job j;
	enum queue_state s;

	assert_int_equal(queue_get(q, id, a, &j), 0);
	s = j.state;
	arena_destroy(a);
	return s;
}

/* ---- the life of a job ------------------------------------------------------ */

static void t_enqueue_claim_complete(void **state)
{
	struct fake f = { .now = 10000 };
	struct queue *q = open_fake(&f);
	struct arena *a = arena_create(4096);
	static const uint8_t bytes[] = { 0x00, 0xff, 0x10, 0x00, 0x7f };
	struct queue_spec s = { 0 };
	struct queue_job j;
	int64_t id, later, slow, empty, ms;

	(void)state;
	s.lane = QUEUE_FAST;
	s.kind = "webhook.deliver";
	s.payload = bytes;
	s.len = sizeof(bytes);
	assert_int_equal(queue_enqueue(q, &s, &id), 0);
	assert_int_equal(f.rang[QUEUE_FAST], 1);
	later = add(q, QUEUE_FAST, "email.notify", NULL, 20000, 0);
	slow = add(q, QUEUE_SLOW, "export.run", NULL, 0, 0);
	s.payload = NULL;
	s.len = 0;
	assert_int_equal(queue_enqueue(q, &s, &empty), 0);

	/* Stored as given: payload bytes, defaults filled. */
	assert_int_equal(queue_get(q, id, a, &j), 0);
	assert_int_equal(j.state, QUEUE_QUEUED);
	assert_int_equal(j.lane, QUEUE_FAST);
	assert_string_equal(j.kind, "webhook.deliver");
	assert_int_equal(j.payload_len, sizeof(bytes));
	assert_memory_equal(j.payload, bytes, sizeof(bytes));
	assert_int_equal(j.max_attempts, QUEUE_ATTEMPTS_DEFAULT);
	assert_int_equal(j.run_at_ms, 10000);
	assert_int_equal(j.created_ms, 10000);
	assert_null(j.idempotency_key);
	assert_null(j.worker);
	assert_null(j.last_error);

	/* The fast lane gives its due jobs in order, never the slow one's. */
	assert_int_equal(queue_claim(q, QUEUE_FAST, "w1", 30000, 10000, a, &j), 0);
	assert_int_equal(j.id, id);
	assert_int_equal(j.state, QUEUE_RUNNING);
	assert_int_equal(j.attempts, 1);
	assert_int_equal(j.lease_until_ms, 40000);
	assert_string_equal(j.worker, "w1");
	assert_memory_equal(j.payload, bytes, sizeof(bytes));
	assert_int_equal(queue_claim(q, QUEUE_FAST, "w1", 30000, 10000, a, &j), 0);
	assert_int_equal(j.id, empty);
	assert_int_equal(j.payload_len, 0);
	assert_non_null(j.payload);
	/* later is not due yet. */
	assert_int_equal(queue_claim(q, QUEUE_FAST, "w2", 30000, 19999, a, &j), INLET_ENOTFOUND);
	assert_int_equal(queue_next_due_ms(q, QUEUE_FAST, &ms), 0);
	assert_int_equal(ms, 20000);
	assert_int_equal(queue_claim(q, QUEUE_FAST, "w2", 30000, 20000, a, &j), 0);
	assert_int_equal(j.id, later);
	assert_int_equal(queue_claim(q, QUEUE_SLOW, "s1", 30000, 10000, a, &j), 0);
	assert_int_equal(j.id, slow);
	assert_int_equal(queue_claim(q, QUEUE_SLOW, "s1", 30000, 10000, a, &j), INLET_ENOTFOUND);

	/* Only the holder completes, once. */
	assert_int_equal(queue_complete(q, id, "w2"), INLET_EBUSY);
	assert_int_equal(queue_complete(q, 999999, "w1"), INLET_ENOTFOUND);
	f.now = 11000;
	assert_int_equal(queue_complete(q, id, "w1"), 0);
	assert_int_equal(queue_complete(q, id, "w1"), INLET_EBUSY);
	assert_int_equal(queue_get(q, id, a, &j), 0);
	assert_int_equal(j.state, QUEUE_DONE);
	assert_int_equal(j.updated_ms, 11000);
	assert_int_equal(j.lease_until_ms, 0);
	assert_int_equal(queue_complete(q, empty, "w1"), 0);
	assert_int_equal(queue_complete(q, later, "w2"), 0);
	assert_int_equal(queue_complete(q, slow, "s1"), 0);
	assert_int_equal(queue_next_due_ms(q, QUEUE_FAST, &ms), INLET_ENOTFOUND);
	assert_int_equal(queue_next_due_ms(q, QUEUE_SLOW, &ms), INLET_ENOTFOUND);
	assert_int_equal(count(q, QUEUE_DONE, -1, NULL), 4);

	queue_close(q);
	arena_destroy(a);
}

static void t_bad_input(void **state)
{
	struct fake f = { .now = 1 };
	struct queue *q = open_fake(&f);
	struct arena *a = arena_create(1024);
	struct queue_spec s = { 0 };
	struct queue_job j;
	struct queue_filter flt = { -1, -1, NULL, 0, QUEUE_LIST_MAX + 1, 0 };
	struct queue_job *jobs;
	char long_kind[QUEUE_KIND_MAX + 2], long_key[QUEUE_KEY_MAX + 2];
	size_t n;
	int64_t id;

	(void)state;
	memset(long_kind, 'k', sizeof(long_kind) - 1);
	long_kind[sizeof(long_kind) - 1] = 0;
	memset(long_key, 'x', sizeof(long_key) - 1);
	long_key[sizeof(long_key) - 1] = 0;

	s.kind = NULL;
	assert_int_equal(queue_enqueue(q, &s, &id), INLET_EINVAL);
	s.kind = "has space";
	assert_int_equal(queue_enqueue(q, &s, &id), INLET_EINVAL);
	s.kind = long_kind;
	assert_int_equal(queue_enqueue(q, &s, &id), INLET_ETOOBIG);
	long_kind[QUEUE_KIND_MAX] = 0; /* exactly the cap is fine */
	assert_int_equal(queue_enqueue(q, &s, &id), 0);
	s.kind = "ok";
	s.lane = (enum queue_lane)7;
	assert_int_equal(queue_enqueue(q, &s, &id), INLET_EINVAL);
	s.lane = QUEUE_SLOW;
	s.len = QUEUE_PAYLOAD_MAX + 1;
	s.payload = "";
	assert_int_equal(queue_enqueue(q, &s, &id), INLET_ETOOBIG);
	s.len = 3;
	s.payload = NULL;
	assert_int_equal(queue_enqueue(q, &s, &id), INLET_EINVAL);
	s.len = 0;
	s.idempotency_key = "";
	assert_int_equal(queue_enqueue(q, &s, &id), INLET_EINVAL);
	s.idempotency_key = long_key;
	assert_int_equal(queue_enqueue(q, &s, &id), INLET_ETOOBIG);
	s.idempotency_key = NULL;
	s.max_attempts = QUEUE_ATTEMPTS_MAX + 1;
	assert_int_equal(queue_enqueue(q, &s, &id), INLET_EINVAL);
	s.max_attempts = -1;
	assert_int_equal(queue_enqueue(q, &s, &id), INLET_EINVAL);

	assert_int_equal(queue_claim(q, QUEUE_SLOW, "", 1000, 1, a, &j), INLET_EINVAL);
	assert_int_equal(queue_claim(q, QUEUE_SLOW, "w\n", 1000, 1, a, &j), INLET_EINVAL);
	assert_int_equal(queue_claim(q, QUEUE_SLOW, "w", 0, 1, a, &j), INLET_EINVAL);
	assert_int_equal(queue_claim(q, QUEUE_SLOW, "w", QUEUE_LEASE_MAX_MS + 1, 1, a, &j), INLET_EINVAL);
	assert_int_equal(queue_claim(q, (enum queue_lane)2, "w", 1000, 1, a, &j), INLET_EINVAL);
	assert_int_equal(queue_list(q, &flt, a, &jobs, &n), INLET_EINVAL);
	flt.limit = 0;
	flt.state = QUEUE_NSTATES;
	assert_int_equal(queue_list(q, &flt, a, &jobs, &n), INLET_EINVAL);
	assert_int_equal(queue_purge(q, QUEUE_QUEUED, 10, NULL), INLET_EINVAL);
	assert_int_equal(queue_schedule(q, "x", QUEUE_SLOW, "k", 0, 1), INLET_EINVAL);
	assert_int_equal(queue_schedule(q, "bad name", QUEUE_SLOW, "k", 10, 1), INLET_EINVAL);

	/* Names round-trip. */
	for (int i = 0; i < QUEUE_NSTATES; i++) {
		enum queue_state st;

		assert_int_equal(queue_state_parse(queue_state_name(i), &st), 0);
		assert_int_equal((int)st, i);
	}
	for (int i = 0; i < QUEUE_NLANES; i++) {
		enum queue_lane ln;

		assert_int_equal(queue_lane_parse(queue_lane_name(i), &ln), 0);
		assert_int_equal((int)ln, i);
	}
	{
		enum queue_lane ln;

		assert_int_equal(queue_lane_parse("medium", &ln), INLET_EINVAL);
		assert_null(queue_state_name(-1));
	}
	queue_close(q);
	arena_destroy(a);
}

/* ---- idempotency ------------------------------------------------------------ */

static void t_idempotency(void **state)
{
	struct fake f = { .now = 1000 };
	struct queue *q = open_fake(&f);
	struct arena *a = arena_create(4096);
	struct queue_spec batch[3] = { 0 };
	struct queue_job j;
	int64_t id, again, other, ids[3], purged, fresh;

	(void)state;
	id = add(q, QUEUE_FAST, "webhook.deliver", "sub-1:hook-1", 0, 0);
	again = add(q, QUEUE_FAST, "webhook.deliver", "sub-1:hook-1", 0, 0);
	assert_int_equal(again, id);
	assert_int_equal(count(q, -1, -1, NULL), 1);
	/* Unique per kind: another kind may use the same key. */
	other = add(q, QUEUE_FAST, "email.notify", "sub-1:hook-1", 0, 0);
	assert_true(other != id);
	assert_int_equal(queue_get(q, id, a, &j), 0);
	assert_string_equal(j.idempotency_key, "sub-1:hook-1");

	/* Whatever the job's state: a finished job still holds its key. */
	assert_int_equal(queue_claim(q, QUEUE_FAST, "w", 1000, 1000, a, &j), 0);
	assert_int_equal(queue_complete(q, j.id, "w"), 0);
	assert_int_equal(add(q, QUEUE_FAST, "webhook.deliver", "sub-1:hook-1", 0, 0), id);

	/* In one batch: a repeat inside the batch and one from before. */
	for (int i = 0; i < 3; i++) {
		batch[i].lane = QUEUE_SLOW;
		batch[i].kind = "webhook.deliver";
	}
	batch[0].idempotency_key = "b";
	batch[1].idempotency_key = "b";
	batch[2].idempotency_key = "sub-1:hook-1";
	assert_int_equal(queue_enqueue_batch(q, batch, 3, ids), 0);
	assert_int_equal(ids[0], ids[1]);
	assert_int_equal(ids[2], id);
	assert_int_equal(count(q, -1, -1, NULL), 3);

	/* A bad spec anywhere adds nothing at all. */
	batch[0].idempotency_key = "c";
	batch[2].kind = "";
	assert_int_equal(queue_enqueue_batch(q, batch, 3, ids), INLET_EINVAL);
	assert_int_equal(count(q, -1, -1, NULL), 3);

	/* Purged, the key is free; ids are never reused. */
	f.now = 5000;
	assert_int_equal(queue_purge(q, QUEUE_DONE, 4000, &purged), 0);
	assert_int_equal(purged, 1);
	assert_int_equal(queue_get(q, id, a, &j), INLET_ENOTFOUND);
	fresh = add(q, QUEUE_FAST, "webhook.deliver", "sub-1:hook-1", 0, 0);
	assert_true(fresh > ids[0] && fresh > other);
	queue_close(q);
	arena_destroy(a);
}

/* ---- leases ------------------------------------------------------------------ */

static void t_lease_expiry(void **state)
{
	struct fake f = { .now = 0 };
	struct queue *q = open_fake(&f);
	struct arena *a = arena_create(4096);
	struct queue_job j;
	int64_t id, ms;
	int runs = 0;

	(void)state;
	id = add(q, QUEUE_FAST, "webhook.deliver", NULL, 0, 5);
	assert_int_equal(queue_claim(q, QUEUE_FAST, "w1", 1000, 0, a, &j), 0);
	runs++;
	/* w1 dies. Until its lease ends nobody else gets the job. */
	assert_int_equal(queue_claim(q, QUEUE_FAST, "w2", 1000, 999, a, &j), INLET_ENOTFOUND);
	assert_int_equal(queue_next_due_ms(q, QUEUE_FAST, &ms), 0);
	assert_int_equal(ms, 1000);
	assert_int_equal(queue_claim(q, QUEUE_FAST, "w2", 1000, 1000, a, &j), 0);
	runs++;
	assert_int_equal(j.id, id);
	assert_int_equal(j.attempts, 2);
	assert_string_equal(j.worker, "w2");
	assert_int_equal(j.lease_until_ms, 2000);
	/* w1 was only slow: its late reports are dropped, w2 decides. */
	assert_int_equal(queue_complete(q, id, "w1"), INLET_EBUSY);
	assert_int_equal(queue_fail(q, id, "w1", "late", 1500), INLET_EBUSY);
	assert_int_equal(queue_extend(q, id, "w1", 1000), INLET_EBUSY);
	/* Long job: w2 extends its lease, so w3 must wait. */
	f.now = 1900;
	assert_int_equal(queue_extend(q, id, "w2", 5000), 0);
	assert_int_equal(queue_claim(q, QUEUE_FAST, "w3", 1000, 2000, a, &j), INLET_ENOTFOUND);
	assert_int_equal(queue_claim(q, QUEUE_FAST, "w3", 1000, 6899, a, &j), INLET_ENOTFOUND);
	/* A holder whose lease ran out but whom nobody replaced still counts. */
	f.now = 7000;
	assert_int_equal(queue_complete(q, id, "w2"), 0);
	assert_int_equal(state_of(q, id), QUEUE_DONE);
	/* At least once: the job ran twice, and finished once. */
	assert_int_equal(runs, 2);
	assert_int_equal(queue_claim(q, QUEUE_FAST, "w3", 1000, 100000, a, &j), INLET_ENOTFOUND);
	queue_close(q);
	arena_destroy(a);
}

/* A job that kills its worker on every attempt ends dead, not in a loop. */
static void t_lease_poison(void **state)
{
	struct fake f = { .now = 0 };
	struct queue *q = open_fake(&f);
	struct arena *a = arena_create(4096);
	struct queue_job j;
	int64_t id, other;

	(void)state;
	id = add(q, QUEUE_FAST, "poison", NULL, 0, 2);
	other = add(q, QUEUE_FAST, "fine", NULL, 10, 0);
	assert_int_equal(queue_claim(q, QUEUE_FAST, "w1", 100, 0, a, &j), 0);
	assert_int_equal(j.id, id);
	assert_int_equal(queue_claim(q, QUEUE_FAST, "w2", 100, 100, a, &j), 0);
	assert_int_equal(j.id, id);
	assert_int_equal(j.attempts, 2);
	/* The second lease runs out too: the next claim buries it and moves on. */
	assert_int_equal(queue_claim(q, QUEUE_FAST, "w3", 100, 200, a, &j), 0);
	assert_int_equal(j.id, other);
	assert_int_equal(queue_get(q, id, a, &j), 0);
	assert_int_equal(j.state, QUEUE_DEAD);
	assert_string_equal(j.last_error, "lease expired on the last attempt");
	/* Burying commits even when nothing is left to claim. */
	assert_int_equal(queue_complete(q, other, "w3"), 0);
	id = add(q, QUEUE_SLOW, "poison", NULL, 0, 1);
	assert_int_equal(queue_claim(q, QUEUE_SLOW, "w1", 100, 300, a, &j), 0);
	assert_int_equal(queue_claim(q, QUEUE_SLOW, "w2", 100, 400, a, &j), INLET_ENOTFOUND);
	assert_int_equal(state_of(q, id), QUEUE_DEAD);
	queue_close(q);
	arena_destroy(a);
}

/* ---- retries and backoff ---------------------------------------------------- */

static void t_backoff_math(void **state)
{
	(void)state;
	assert_int_equal(queue_backoff_ceiling_ms(0), 1000);
	assert_int_equal(queue_backoff_ceiling_ms(1), 1000);
	assert_int_equal(queue_backoff_ceiling_ms(2), 2000);
	assert_int_equal(queue_backoff_ceiling_ms(3), 4000);
	assert_int_equal(queue_backoff_ceiling_ms(12), 2048000);
	assert_int_equal(queue_backoff_ceiling_ms(13), 3600000);
	assert_int_equal(queue_backoff_ceiling_ms(1000), 3600000);
	assert_int_equal(queue_backoff_ceiling_ms(INT32_MAX), 3600000);
	assert_int_equal(queue_backoff_ms(1, 0), 0);
	assert_int_equal(queue_backoff_ms(1, 1000), 1000);
	assert_int_equal(queue_backoff_ms(1, 1001), 0);
	assert_int_equal(queue_backoff_ms(3, 4000), 4000);
	assert_int_equal(queue_backoff_ms(20, 3600000), 3600000);
	for (int n = 1; n < 40; n++) {
		int64_t c = queue_backoff_ceiling_ms(n);

		assert_true(queue_backoff_ms(n, UINT64_MAX) <= c);
		assert_true(queue_backoff_ms(n, (uint64_t)(c + 1) * 7 + 5) == 5);
	}
}

static void t_retry_backoff_dead(void **state)
{
	struct fake f = { .now = 0, .random = 1, .state = 0x9e3779b97f4a7c15ull };
	struct queue *q = open_fake(&f);
	struct arena *a = arena_create(4096);
	struct queue_job j;
	char err[3000];
	int64_t id, now = 1000000;

	(void)state;
	id = add(q, QUEUE_FAST, "webhook.deliver", NULL, 0, 8);
	for (int attempt = 1; attempt <= 8; attempt++) {
		int64_t c = queue_backoff_ceiling_ms(attempt);
		int rang = f.rang[QUEUE_FAST];

		assert_int_equal(queue_claim(q, QUEUE_FAST, "w", 60000, now, a, &j), 0);
		assert_int_equal(j.id, id);
		assert_int_equal(j.attempts, attempt);
		snprintf(err, sizeof(err), "HTTP 500 on attempt %d", attempt);
		assert_int_equal(queue_fail(q, id, "w", err, now), 0);
		assert_int_equal(queue_get(q, id, a, &j), 0);
		assert_string_equal(j.last_error, err);
		if (attempt == 8) {
			/* The last attempt failed: dead, nothing more to claim. */
			assert_int_equal(j.state, QUEUE_DEAD);
			assert_int_equal(f.rang[QUEUE_FAST], rang);
			break;
		}
		assert_int_equal(j.state, QUEUE_QUEUED);
		assert_int_equal(f.rang[QUEUE_FAST], rang + 1);
		/* Full jitter: anywhere in [now, now + ceiling]. */
		assert_true(j.run_at_ms >= now);
		assert_true(j.run_at_ms <= now + c);
		if (j.run_at_ms > now)
			assert_int_equal(queue_claim(q, QUEUE_FAST, "w", 60000, j.run_at_ms - 1, a, &j),
					 INLET_ENOTFOUND);
		assert_int_equal(queue_get(q, id, a, &j), 0);
		now = j.run_at_ms;
	}
	assert_int_equal(queue_claim(q, QUEUE_FAST, "w", 60000, now + 10000000, a, &j), INLET_ENOTFOUND);

	/* Exact, with fixed dice: ceiling 1000 → dice 777 is 777 ms; at the
	 * fourth attempt (ceiling 8000) dice 8000 + 8001 * 3 is 8000 ms. */
	f.random = 0;
	id = add(q, QUEUE_SLOW, "export.run", NULL, 0, 0);
	f.dice = 777;
	assert_int_equal(queue_claim(q, QUEUE_SLOW, "s", 60000, 0, a, &j), 0);
	assert_int_equal(queue_fail(q, id, "s", NULL, 50), 0);
	assert_int_equal(queue_get(q, id, a, &j), 0);
	assert_int_equal(j.run_at_ms, 50 + 777);
	assert_null(j.last_error);
	for (int attempt = 2; attempt <= 3; attempt++) {
		assert_int_equal(queue_claim(q, QUEUE_SLOW, "s", 60000, j.run_at_ms, a, &j), 0);
		assert_int_equal(queue_fail(q, id, "s", "x", j.run_at_ms), 0);
		assert_int_equal(queue_get(q, id, a, &j), 0);
	}
	f.dice = 8000 + 8001ull * 3;
	{
		int64_t t = j.run_at_ms;

		assert_int_equal(queue_claim(q, QUEUE_SLOW, "s", 60000, t, a, &j), 0);
		assert_int_equal(j.attempts, 4);
		assert_int_equal(queue_fail(q, id, "s", "x", t), 0);
		assert_int_equal(queue_get(q, id, a, &j), 0);
		assert_int_equal(j.run_at_ms, t + 8000);
	}

	/* A long error is cut at the cap, never inside a UTF-8 sequence. */
	id = add(q, QUEUE_SLOW, "email.notify", NULL, 0, 0);
	memset(err, 0, sizeof(err));
	for (size_t i = 0; i + 3 < sizeof(err); i += 3)
		memcpy(err + i, "\xe2\x82\xac", 3); /* € */
	assert_int_equal(queue_claim(q, QUEUE_SLOW, "s", 60000, 1, a, &j), 0);
	assert_int_equal(j.id, id);
	assert_int_equal(queue_fail(q, id, "s", err, 1), 0);
	assert_int_equal(queue_get(q, id, a, &j), 0);
	assert_true(strlen(j.last_error) <= QUEUE_ERROR_MAX);
	assert_true(strlen(j.last_error) > QUEUE_ERROR_MAX - 3);
	assert_int_equal(strlen(j.last_error) % 3, 0);
	assert_memory_equal(j.last_error, err, strlen(j.last_error));
	queue_close(q);
	arena_destroy(a);
}

/* ---- operator actions --------------------------------------------------------- */

static void t_retry_cancel(void **state)
{
	struct fake f = { .now = 100 };
	struct queue *q = open_fake(&f);
	struct arena *a = arena_create(4096);
	struct queue_job j;
	int64_t dead, queued, running, done;

	(void)state;
	dead = add(q, QUEUE_FAST, "a", NULL, 0, 1);
	assert_int_equal(queue_claim(q, QUEUE_FAST, "w", 1000, 100, a, &j), 0);
	assert_int_equal(queue_fail(q, dead, "w", "boom", 100), 0);
	assert_int_equal(state_of(q, dead), QUEUE_DEAD);

	/* Dead → queued now, attempts reset. */
	f.now = 200;
	assert_int_equal(queue_retry(q, dead), 0);
	assert_int_equal(f.rang[QUEUE_FAST], 2);
	assert_int_equal(queue_get(q, dead, a, &j), 0);
	assert_int_equal(j.state, QUEUE_QUEUED);
	assert_int_equal(j.attempts, 0);
	assert_int_equal(j.run_at_ms, 200);
	assert_string_equal(j.last_error, "boom"); /* kept until the next failure */
	assert_int_equal(queue_claim(q, QUEUE_FAST, "w", 1000, 200, a, &j), 0);
	assert_int_equal(j.id, dead);
	assert_int_equal(j.attempts, 1);
	assert_int_equal(queue_complete(q, dead, "w"), 0);
	done = dead;

	/* Cancel a queued job: never claimed; retry brings it back. */
	queued = add(q, QUEUE_FAST, "b", NULL, 0, 0);
	assert_int_equal(queue_cancel(q, queued), 0);
	assert_int_equal(state_of(q, queued), QUEUE_CANCELLED);
	assert_int_equal(queue_claim(q, QUEUE_FAST, "w", 1000, 10000, a, &j), INLET_ENOTFOUND);
	assert_int_equal(queue_retry(q, queued), 0);
	assert_int_equal(state_of(q, queued), QUEUE_QUEUED);

	/* Cancel a running job: the worker's report is refused. */
	assert_int_equal(queue_claim(q, QUEUE_FAST, "w", 1000, 300, a, &j), 0);
	running = j.id;
	assert_int_equal(running, queued);
	assert_int_equal(queue_cancel(q, running), 0);
	assert_int_equal(queue_complete(q, running, "w"), INLET_EBUSY);
	assert_int_equal(queue_fail(q, running, "w", "x", 300), INLET_EBUSY);
	assert_int_equal(state_of(q, running), QUEUE_CANCELLED);
	/* Nor does its old lease bring it back. */
	assert_int_equal(queue_claim(q, QUEUE_FAST, "w", 1000, 100000, a, &j), INLET_ENOTFOUND);

	/* A queued job waiting out a backoff: retry makes it due now. */
	queued = add(q, QUEUE_SLOW, "c", NULL, 0, 0);
	f.dice = 999;
	assert_int_equal(queue_claim(q, QUEUE_SLOW, "s", 1000, 400, a, &j), 0);
	assert_int_equal(queue_fail(q, queued, "s", "x", 400), 0);
	assert_int_equal(queue_get(q, queued, a, &j), 0);
	assert_int_equal(j.run_at_ms, 1399);
	f.now = 500;
	assert_int_equal(queue_retry(q, queued), 0);
	assert_int_equal(queue_get(q, queued, a, &j), 0);
	assert_int_equal(j.run_at_ms, 500);
	assert_int_equal(j.attempts, 1);

	/* States that allow neither. */
	assert_int_equal(queue_retry(q, done), INLET_EBUSY);
	assert_int_equal(queue_cancel(q, done), INLET_EBUSY);
	assert_int_equal(queue_claim(q, QUEUE_SLOW, "s", 1000, 500, a, &j), 0);
	assert_int_equal(queue_retry(q, queued), INLET_EBUSY); /* running */
	assert_int_equal(queue_retry(q, 424242), INLET_ENOTFOUND);
	assert_int_equal(queue_cancel(q, 424242), INLET_ENOTFOUND);
	queue_close(q);
	arena_destroy(a);
}

/* ---- listing ------------------------------------------------------------------ */

static void t_list_paging(void **state)
{
	struct fake f = { .now = 1 };
	struct queue *q = open_fake(&f);
	struct arena *a = arena_create(1 << 16);
	static const char *const kinds[] = { "webhook.deliver", "email.notify", "export.run" };
	struct queue_filter flt = { -1, -1, NULL, 0, 7, 0 };
	struct queue_job *jobs, j;
	int64_t ids[25], last = INT64_MAX;
	size_t n, seen = 0;

	(void)state;
	for (int i = 0; i < 25; i++)
		ids[i] = add(q, i % 2 ? QUEUE_SLOW : QUEUE_FAST, kinds[i % 3], NULL, 0, 0);
	/* Finish the first four fast jobs. */
	for (int i = 0; i < 4; i++) {
		assert_int_equal(queue_claim(q, QUEUE_FAST, "w", 1000, 1, a, &j), 0);
		assert_int_equal(queue_complete(q, j.id, "w"), 0);
	}

	/* Every job once, newest first, seven to a page. */
	for (;;) {
		assert_int_equal(queue_list(q, &flt, a, &jobs, &n), 0);
		for (size_t i = 0; i < n; i++) {
			assert_true(jobs[i].id < last);
			assert_null(jobs[i].payload);
			assert_int_equal(jobs[i].payload_len, strlen(jobs[i].kind));
			last = jobs[i].id;
			assert_int_equal(last, ids[24 - seen]);
			seen++;
		}
		if (n < flt.limit)
			break;
		flt.before_id = jobs[n - 1].id;
	}
	assert_int_equal(seen, 25);

	/* Filters, alone and together. */
	assert_int_equal(count(q, -1, QUEUE_FAST, NULL), 13);
	assert_int_equal(count(q, -1, QUEUE_SLOW, NULL), 12);
	assert_int_equal(count(q, -1, -1, "email.notify"), 8);
	assert_int_equal(count(q, QUEUE_DONE, -1, NULL), 4);
	assert_int_equal(count(q, QUEUE_QUEUED, -1, NULL), 21);
	assert_int_equal(count(q, QUEUE_QUEUED, QUEUE_FAST, NULL), 9);
	/* Fast jobs are the even ones: kinds cycle 0,2,1,0,2,1...; the done
	 * ones are 0,2,4,6 → webhook, export, email, webhook. */
	assert_int_equal(count(q, QUEUE_DONE, QUEUE_FAST, "webhook.deliver"), 2);
	assert_int_equal(count(q, QUEUE_DONE, QUEUE_SLOW, NULL), 0);
	assert_int_equal(count(q, -1, QUEUE_SLOW, "nothing"), 0);

	/* A page by state, from a cursor. */
	flt.state = QUEUE_QUEUED;
	flt.lane = -1;
	flt.before_id = ids[10];
	flt.limit = 0; /* default */
	assert_int_equal(queue_list(q, &flt, a, &jobs, &n), 0);
	assert_int_equal(n, 6); /* ids[0..9] minus the four done */
	assert_int_equal(jobs[0].id, ids[9]);
	assert_int_equal(jobs[n - 1].id, ids[1]);
	queue_close(q);
	arena_destroy(a);
}

static void t_next_due_and_purge(void **state)
{
	struct fake f = { .now = 0 };
	struct queue *q = open_fake(&f);
	struct arena *a = arena_create(4096);
	struct queue_job j;
	int64_t ms, n, a1, a2;

	(void)state;
	assert_int_equal(queue_next_due_ms(q, QUEUE_SLOW, &ms), INLET_ENOTFOUND);
	a1 = add(q, QUEUE_SLOW, "x", NULL, 5000, 0);
	assert_int_equal(queue_next_due_ms(q, QUEUE_SLOW, &ms), 0);
	assert_int_equal(ms, 5000);
	assert_int_equal(queue_claim(q, QUEUE_SLOW, "w", 100, 5000, a, &j), 0);
	/* Running: the lease end is when it could come back. */
	assert_int_equal(queue_next_due_ms(q, QUEUE_SLOW, &ms), 0);
	assert_int_equal(ms, 5100);
	a2 = add(q, QUEUE_SLOW, "x", NULL, 3000, 0);
	assert_int_equal(queue_next_due_ms(q, QUEUE_SLOW, &ms), 0);
	assert_int_equal(ms, 3000);
	assert_int_equal(queue_next_due_ms(q, QUEUE_FAST, &ms), INLET_ENOTFOUND);

	/* Purge takes only the state asked, and only old rows. */
	f.now = 6000;
	assert_int_equal(queue_complete(q, a1, "w"), 0);
	assert_int_equal(queue_cancel(q, a2), 0);
	for (int i = 0; i < 1200; i++) {
		int64_t id = add(q, QUEUE_FAST, "bulk", NULL, 0, 0);

		assert_int_equal(queue_cancel(q, id), 0);
	}
	assert_int_equal(queue_purge(q, QUEUE_DONE, 6000, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(queue_purge(q, QUEUE_DEAD, 7000, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(queue_purge(q, QUEUE_CANCELLED, 7000, &n), 0);
	assert_int_equal(n, 1201);
	assert_int_equal(queue_purge(q, QUEUE_DONE, 6001, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(count(q, -1, -1, NULL), 0);
	queue_close(q);
	arena_destroy(a);
}

/* ---- the scheduler ---------------------------------------------------------- */

static void t_scheduler(void **state)
{
	struct fake f = { .now = 0 };
	struct queue *q = open_fake(&f);
	struct arena *a = arena_create(1 << 15);
	struct queue_filter flt = { -1, -1, "retention.run", 0, 10, 0 };
	struct queue_job *jobs;
	size_t n;

	(void)state;
	/* Registering in slot [5000, 6000) enqueues that slot's job now. */
	assert_int_equal(queue_schedule(q, "retention", QUEUE_SLOW, "retention.run", 1000, 5300), 0);
	assert_int_equal(f.rang[QUEUE_SLOW], 1);
	assert_int_equal(queue_list(q, &flt, a, &jobs, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(jobs[0].idempotency_key, "retention:5000");
	assert_int_equal(jobs[0].lane, QUEUE_SLOW);
	assert_int_equal(jobs[0].payload_len, 0);

	/* Ticked many times within the slot: still one job. */
	for (int64_t t = 5300; t < 6000; t += 7)
		assert_int_equal(queue_tick(q, t), 0);
	assert_int_equal(count(q, -1, -1, "retention.run"), 1);
	assert_int_equal(f.rang[QUEUE_SLOW], 1);
	/* The next slot gives the next job. */
	assert_int_equal(queue_tick(q, 6000), 0);
	assert_int_equal(queue_tick(q, 6001), 0);
	assert_int_equal(count(q, -1, -1, "retention.run"), 2);
	/* Slots missed while nothing ticked give one job, not a burst. */
	assert_int_equal(queue_tick(q, 9500), 0);
	assert_int_equal(count(q, -1, -1, "retention.run"), 3);
	assert_int_equal(queue_list(q, &flt, a, &jobs, &n), 0);
	assert_string_equal(jobs[0].idempotency_key, "retention:9000");

	/* A restart registers the same schedule again: nothing new. */
	queue_close(q);
	q = open_fake(&f);
	assert_int_equal(queue_schedule(q, "retention", QUEUE_SLOW, "retention.run", 1000, 9600), 0);
	assert_int_equal(queue_tick(q, 9900), 0);
	assert_int_equal(count(q, -1, -1, "retention.run"), 3);

	/* A second schedule in the other lane, with its own slots. */
	assert_int_equal(queue_schedule(q, "live", QUEUE_FAST, "live.flush", 300, 9950), 0);
	assert_int_equal(count(q, -1, QUEUE_FAST, "live.flush"), 1);
	assert_int_equal(queue_tick(q, 10000), 0); /* retention's slot turns */
	assert_int_equal(count(q, -1, -1, "live.flush"), 1);
	assert_int_equal(queue_tick(q, 10200), 0); /* and then live's */
	assert_int_equal(count(q, -1, -1, "retention.run"), 4);
	assert_int_equal(count(q, -1, -1, "live.flush"), 2);

	/* A new period starts over from the current slot. */
	assert_int_equal(queue_schedule(q, "retention", QUEUE_SLOW, "retention.run", 700, 10300), 0);
	assert_int_equal(count(q, -1, -1, "retention.run"), 5);
	assert_int_equal(queue_list(q, &flt, a, &jobs, &n), 0);
	assert_string_equal(jobs[0].idempotency_key, "retention:9800");

	/* Gone: no more jobs. */
	assert_int_equal(queue_unschedule(q, "retention"), 0);
	assert_int_equal(queue_unschedule(q, "retention"), INLET_ENOTFOUND);
	assert_int_equal(queue_tick(q, 50000), 0);
	assert_int_equal(count(q, -1, -1, "retention.run"), 5);
	assert_int_equal(count(q, -1, -1, "live.flush"), 3);
	queue_close(q);
	arena_destroy(a);
}

/* ---- concurrency -------------------------------------------------------------- */

#define CLAIMERS 8
#define NJOBS 10000

struct claimer {
	struct queue *q;
	int64_t first;      /* the id of job 0 */
	atomic_int *claims; /* per job */
	int index;
	int claimed, errors;
	int njobs;          /* jobs from first on; 0: NJOBS */
	int64_t now;        /* the claims' clock; 0: 1000 */
	int abandon;        /* 1: claim and never report, as a dead worker */
};

static void *claim_loop(void *arg)
{
	struct claimer *c = arg;
	char worker[32];

	int njobs = c->njobs ? c->njobs : NJOBS;

	snprintf(worker, sizeof(worker), "thread-%d", c->index);
	for (;;) {
		struct arena *a = arena_create(1024);
		struct queue_job j;
		int rc = queue_claim(c->q, QUEUE_FAST, worker, 600000, c->now ? c->now : 1000, a, &j);

		if (rc == 0) {
			if (j.id >= c->first && j.id < c->first + njobs)
				atomic_fetch_add(&c->claims[j.id - c->first], 1);
			else
				c->errors++;
			c->claimed++;
			if (!c->abandon && queue_complete(c->q, j.id, worker) != 0)
				c->errors++;
		}
		arena_destroy(a);
		if (rc == INLET_ENOTFOUND)
			break;
		if (rc != 0) {
			c->errors++;
			break;
		}
	}
	return NULL;
}

/* Eight threads, half of them through a second handle (a second
 * connection, as another process would have): each job claimed once. */
static void t_concurrent_claims(void **state)
{
	struct fake f = { .now = 1000 };
	struct queue *q = open_fake(&f), *q2 = open_fake(&f);
	static atomic_int claims[NJOBS];
	struct queue_spec *specs = calloc(500, sizeof(*specs));
	int64_t *ids = calloc(NJOBS, sizeof(*ids));
	struct claimer c[CLAIMERS];
	pthread_t th[CLAIMERS];
	int total = 0;

	(void)state;
	assert_non_null(specs);
	assert_non_null(ids);
	for (int i = 0; i < 500; i++) {
		specs[i].lane = QUEUE_FAST;
		specs[i].kind = "bulk";
		specs[i].payload = &specs[i];
		specs[i].len = sizeof(specs[i]);
	}
	for (int b = 0; b < NJOBS / 500; b++)
		assert_int_equal(queue_enqueue_batch(q, specs, 500, ids + b * 500), 0);
	for (int i = 1; i < NJOBS; i++)
		assert_int_equal(ids[i], ids[0] + i);
	for (int i = 0; i < NJOBS; i++)
		atomic_init(&claims[i], 0);

	for (int i = 0; i < CLAIMERS; i++) {
		c[i] = (struct claimer){ .q = i % 2 ? q2 : q, .first = ids[0], .claims = claims, .index = i };
		assert_int_equal(pthread_create(&th[i], NULL, claim_loop, &c[i]), 0);
	}
	for (int i = 0; i < CLAIMERS; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(c[i].errors, 0);
		total += c[i].claimed;
	}
	assert_int_equal(total, NJOBS);
	for (int i = 0; i < NJOBS; i++)
		assert_int_equal(atomic_load(&claims[i]), 1);
	assert_int_equal(count(q, QUEUE_DONE, QUEUE_FAST, "bulk"), NJOBS);
	assert_int_equal(count(q, QUEUE_QUEUED, -1, NULL), 0);
	queue_close(q2);
	queue_close(q);
	free(specs);
	free(ids);
}

/* ---- scopes and burials --------------------------------------------------- */

/* Each account lists its own jobs; a job buried is dead whatever attempts
 * it had left, and retry revives it. */
static void t_scope_and_bury(void **state)
{
	struct fake f = { .now = 10000 };
	struct queue *q = open_fake(&f);
	struct arena *a = arena_create(4096);
	struct queue_spec s = { .lane = QUEUE_FAST, .kind = "mail.notify", .max_attempts = 10 };
	struct queue_filter flt = { .state = -1, .lane = -1 };
	struct queue_job *jobs, j;
	int64_t id7, id8, id0;
	size_t n;

	(void)state;
	s.scope = 7;
	assert_int_equal(queue_enqueue(q, &s, &id7), 0);
	s.scope = 8;
	assert_int_equal(queue_enqueue(q, &s, &id8), 0);
	s.scope = 0;
	assert_int_equal(queue_enqueue(q, &s, &id0), 0);
	flt.scope = 7;
	assert_int_equal(queue_list(q, &flt, a, &jobs, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(jobs[0].id, id7);
	assert_int_equal(jobs[0].scope, 7);
	flt.scope = 0; /* any */
	assert_int_equal(queue_list(q, &flt, a, &jobs, &n), 0);
	assert_int_equal(n, 3);

	assert_int_equal(queue_claim(q, QUEUE_FAST, "w1", 30000, 10000, a, &j), 0);
	assert_int_equal(j.id, id7);
	assert_int_equal(queue_bury(q, id7, "w2", "no", 10001), INLET_EBUSY); /* not its lease */
	assert_int_equal(queue_bury(q, id7, "w1", "550 no such user", 10001), 0);
	assert_int_equal(queue_get(q, id7, a, &j), 0);
	assert_int_equal(j.state, QUEUE_DEAD);
	assert_int_equal(j.attempts, 1);
	assert_string_equal(j.last_error, "550 no such user");
	assert_int_equal(queue_retry(q, id7), 0);
	assert_int_equal(queue_get(q, id7, a, &j), 0);
	assert_int_equal(j.state, QUEUE_QUEUED);

	/* A new process takes back what the dead one held, at once. */
	{
		int64_t released = 0;

		assert_int_equal(queue_claim(q, QUEUE_FAST, "old-1", 600000, 10002, a, &j), 0);
		assert_int_equal(queue_release_all(q, 10003, &released), 0);
		assert_int_equal(released, 1);
		assert_int_equal(queue_get(q, j.id, a, &j), 0);
		assert_int_equal(j.state, QUEUE_QUEUED);
		assert_int_equal(j.run_at_ms, 10003);
		assert_int_equal(queue_claim(q, QUEUE_FAST, "new-1", 600000, 10003, a, &j), 0);
		assert_int_equal(queue_release_all(q, 10004, &released), 0);
		assert_int_equal(released, 1);
		assert_int_equal(queue_release_all(q, 10005, &released), 0);
		assert_int_equal(released, 0);
	}
	arena_destroy(a);
	queue_close(q);
}

/* On a queue several nodes share, a node that starts again takes back
 * only what its own previous incarnation held ("node1/..."), not another
 * node's running jobs, nor "node10/..." whose id merely begins alike. */
static void t_release_owner(void **state)
{
	struct fake f = { .now = 10000 };
	struct queue *q = open_fake(&f);
	struct arena *a = arena_create(4096);
	const char *workers[] = { "node1/ab12:fast-0", "node2/cd34:fast-0", "node10/ef56:fast-0", "anon/0a1b:fast-1" };
	int64_t ids[4], released = -1;
	struct queue_job j;

	(void)state;
	for (int i = 0; i < 4; i++)
		ids[i] = add(q, QUEUE_FAST, "mail.notify", NULL, 0, 0);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(queue_claim(q, QUEUE_FAST, workers[i], 600000, 10001, a, &j), 0);
		assert_int_equal(j.id, ids[i]);
	}
	assert_int_equal(queue_release_owner(q, "node1", 10002, &released), 0);
	assert_int_equal(released, 1);
	assert_int_equal(queue_get(q, ids[0], a, &j), 0);
	assert_int_equal(j.state, QUEUE_QUEUED);
	assert_int_equal(j.run_at_ms, 10002);
	for (int i = 1; i < 4; i++)
		assert_int_equal(state_of(q, ids[i]), QUEUE_RUNNING);
	assert_int_equal(queue_release_owner(q, "node1", 10003, &released), 0);
	assert_int_equal(released, 0);
	/* Not an owner: refused, nothing released. */
	assert_int_equal(queue_release_owner(q, "", 10003, &released), INLET_EINVAL);
	assert_int_equal(queue_release_owner(q, "node1/ab12", 10003, &released), INLET_EINVAL);
	assert_int_equal(queue_release_owner(q, NULL, 10003, &released), INLET_EINVAL);
	assert_int_equal(queue_release_owner(q, "node10", 10004, &released), 0);
	assert_int_equal(released, 1);
	assert_int_equal(state_of(q, ids[1]), QUEUE_RUNNING);
	assert_int_equal(state_of(q, ids[3]), QUEUE_RUNNING);
	arena_destroy(a);
	queue_close(q);
}

/* ---- crashes ------------------------------------------------------------------- */

static void t_close_without_complete(void **state)
{
	struct fake f = { .now = 1000 };
	struct queue *q = open_fake(&f);
	struct arena *a = arena_create(4096);
	struct queue_job j;
	int64_t id;

	(void)state;
	id = add(q, QUEUE_FAST, "webhook.deliver", "sub-9", 0, 0);
	assert_int_equal(queue_claim(q, QUEUE_FAST, "w1", 30000, 1000, a, &j), 0);
	queue_close(q);

	/* The process comes back before the lease ends, then after. */
	q = open_fake(&f);
	assert_int_equal(state_of(q, id), QUEUE_RUNNING);
	assert_int_equal(queue_claim(q, QUEUE_FAST, "w2", 30000, 30999, a, &j), INLET_ENOTFOUND);
	assert_int_equal(queue_claim(q, QUEUE_FAST, "w2", 30000, 31000, a, &j), 0);
	assert_int_equal(j.id, id);
	assert_int_equal(j.attempts, 2);
	assert_memory_equal(j.payload, "webhook.deliver", j.payload_len);
	assert_int_equal(queue_complete(q, id, "w2"), 0);
	queue_close(q);
	arena_destroy(a);
}

/* A child process claims and dies without closing anything (as kill -9
 * would leave it); the parent, reopening the file, gets the job back. */
static void t_process_dies(void **state)
{
	struct fake f = { .now = 1000 };
	struct queue *q = open_fake(&f);
	struct arena *a = arena_create(4096);
	struct queue_job j;
	int64_t id, other;
	pid_t pid;
	int status;

	(void)state;
	id = add(q, QUEUE_SLOW, "export.run", NULL, 0, 0);
	other = add(q, QUEUE_SLOW, "export.run", NULL, 0, 0);
	queue_close(q);

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct queue *cq = NULL;
		struct arena *ca = arena_create(1024);
		struct queue_job cj;

		if (open_queue(&cq) != 0 ||
		    queue_claim(cq, QUEUE_SLOW, "child", 5000, 1000, ca, &cj) != 0 || cj.id != id)
			_exit(1);
		_exit(0); /* no complete, no close */
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);

	q = open_fake(&f);
	/* Its lease still runs: the other job comes first. */
	assert_int_equal(queue_claim(q, QUEUE_SLOW, "parent", 5000, 2000, a, &j), 0);
	assert_int_equal(j.id, other);
	assert_int_equal(queue_complete(q, other, "parent"), 0);
	assert_int_equal(queue_claim(q, QUEUE_SLOW, "parent", 5000, 5999, a, &j), INLET_ENOTFOUND);
	assert_int_equal(queue_claim(q, QUEUE_SLOW, "parent", 5000, 6000, a, &j), 0);
	assert_int_equal(j.id, id);
	assert_int_equal(j.attempts, 2);
	assert_int_equal(queue_complete(q, id, "parent"), 0);
	assert_int_equal(queue_complete(q, id, "child"), INLET_EBUSY);
	queue_close(q);
	arena_destroy(a);
}

/* ---- one engine only ------------------------------------------------------ */

/* A jobs.db as the SQLite-only queue (main at 04fdf47) left it, dumped with
 * sqlite3(1) .dump; PRAGMA user_version is not in a dump and is added.
 * Job 1 done (with progress and a result), 2 running under w1 until
 * 1700000030000, 3 dead, 4 queued for later, 5 the "retention" schedule's
 * job, next slot at 1700006400000. */
static const char legacy_jobs_db[] =
	"PRAGMA foreign_keys=OFF;"
	"BEGIN TRANSACTION;"
	"CREATE TABLE jobs(  id INTEGER PRIMARY KEY AUTOINCREMENT,  lane TEXT NOT NULL CHECK(lane IN ('fast','slow')),"
	"  kind TEXT NOT NULL,  payload BLOB NOT NULL,  idem_key TEXT,"
	"  state TEXT NOT NULL CHECK(state IN ('queued','running','done','dead','cancelled')),"
	"  attempts INTEGER NOT NULL DEFAULT 0,  max_attempts INTEGER NOT NULL,  run_at_ms INTEGER NOT NULL,"
	"  lease_until_ms INTEGER NOT NULL DEFAULT 0,  worker TEXT,  last_error TEXT,  created_ms INTEGER NOT NULL,"
	"  updated_ms INTEGER NOT NULL, scope INTEGER NOT NULL DEFAULT 0, progress INTEGER NOT NULL DEFAULT 0,"
	" total INTEGER NOT NULL DEFAULT 0, result TEXT);"
	"INSERT INTO jobs VALUES(1,'fast','webhook.deliver',X'7b2261223a317d','sub-1:wh-1','done',1,20,1700000000000,0,"
	"'w1',NULL,1700000000000,1700000000000,7,5,10,'{\"file\":\"f\"}');"
	"INSERT INTO jobs VALUES(2,'fast','webhook.deliver',X'7b2261223a317d','sub-2:wh-1','running',1,20,1700000000000,"
	"1700000030000,'w1',NULL,1700000000000,1700000000000,7,0,0,NULL);"
	"INSERT INTO jobs VALUES(3,'fast','webhook.deliver',X'7b2261223a317d','sub-3:wh-1','dead',1,1,1700000000000,0,"
	"'w1','refused',1700000000000,1700000000000,7,0,0,NULL);"
	"INSERT INTO jobs VALUES(4,'slow','export.run',X'780079',NULL,'queued',0,20,1700000060000,0,NULL,NULL,"
	"1700000000000,1700000000000,0,0,0,NULL);"
	"INSERT INTO jobs VALUES(5,'slow','retention.run',X'','retention:1699920000000','queued',0,20,1700000000000,0,"
	"NULL,NULL,1700000000000,1700000000000,0,0,0,NULL);"
	"CREATE TABLE schedules(  name TEXT PRIMARY KEY,  lane TEXT NOT NULL CHECK(lane IN ('fast','slow')),"
	"  kind TEXT NOT NULL,  period_ms INTEGER NOT NULL CHECK(period_ms > 0),  next_ms INTEGER NOT NULL) WITHOUT ROWID;"
	"INSERT INTO schedules VALUES('retention','slow','retention.run',86400000,1700006400000);"
	"DELETE FROM sqlite_sequence;"
	"INSERT INTO sqlite_sequence VALUES('jobs',5);"
	"CREATE INDEX jobs_due ON jobs(lane, state, run_at_ms);"
	"CREATE INDEX jobs_state ON jobs(state, id);"
	"CREATE UNIQUE INDEX jobs_idem ON jobs(kind, idem_key) WHERE idem_key IS NOT NULL;"
	"CREATE INDEX jobs_scope ON jobs(scope, id);"
	"COMMIT;"
	"PRAGMA user_version=3;";

/* The file opens without a migration and every kind of job carries on:
 * reads, the running lease, idempotency keys, the schedule, new ids. */
static void t_legacy_file(void **state)
{
	struct fake f = { .now = 1700000001000LL };
	struct arena *a;
	struct queue_filter flt = { .state = -1, .lane = -1 };
	struct queue_job j, *jobs;
	struct queue *q;
	sqlite3 *db = NULL;
	int64_t id;
	size_t n;

	(void)state;
	if (pg)
		skip();
	a = arena_create(4096);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, legacy_jobs_db, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	q = open_fake(&f);
	assert_int_equal(queue_list(q, &flt, a, &jobs, &n), 0);
	assert_int_equal(n, 5);
	assert_int_equal(queue_get(q, 1, a, &j), 0);
	assert_int_equal(j.state, QUEUE_DONE);
	assert_int_equal(j.scope, 7);
	assert_int_equal(j.progress, 5);
	assert_string_equal(j.result, "{\"file\":\"f\"}");
	assert_int_equal(j.payload_len, 7);
	assert_memory_equal(j.payload, "{\"a\":1}", 8); /* and the NUL after */
	assert_int_equal(queue_get(q, 4, a, &j), 0);
	assert_int_equal(j.payload_len, 3);
	assert_memory_equal(j.payload, "x\0y", 3);
	assert_int_equal(queue_get(q, 3, a, &j), 0);
	assert_string_equal(j.last_error, "refused");

	/* Kept keys still hold; a new job takes the next id. */
	assert_int_equal(add(q, QUEUE_FAST, "webhook.deliver", "sub-2:wh-1", 0, 0), 2);
	id = add(q, QUEUE_FAST, "webhook.deliver", "sub-9:wh-1", 0, 0);
	assert_int_equal(id, 6);

	/* The schedule's slot has its job: ticking adds none until the next. */
	assert_int_equal(queue_tick(q, 1700000002000LL), 0);
	assert_int_equal(count(q, -1, -1, "retention.run"), 1);
	assert_int_equal(queue_tick(q, 1700006400000LL), 0);
	assert_int_equal(count(q, -1, -1, "retention.run"), 2);

	/* w1's lease runs until 1700000030000: the new job comes first, then
	 * job 2 once the lease is out, and w1's late report is refused. */
	assert_int_equal(queue_claim(q, QUEUE_FAST, "w2", 30000, 1700000002000LL, a, &j), 0);
	assert_int_equal(j.id, 6);
	assert_int_equal(queue_claim(q, QUEUE_FAST, "w2", 30000, 1700000029999LL, a, &j), INLET_ENOTFOUND);
	assert_int_equal(queue_claim(q, QUEUE_FAST, "w2", 30000, 1700000030000LL, a, &j), 0);
	assert_int_equal(j.id, 2);
	assert_int_equal(j.attempts, 2);
	assert_int_equal(queue_complete(q, 2, "w1"), INLET_EBUSY);
	assert_int_equal(queue_complete(q, 2, "w2"), 0);
	assert_int_equal(queue_retry(q, 3), 0);
	assert_int_equal(state_of(q, 3), QUEUE_QUEUED);
	queue_close(q);

	/* Still version 3: nothing was migrated. */
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	{
		sqlite3_stmt *st = NULL;

		assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		assert_int_equal(sqlite3_column_int(st, 0), 3);
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
	arena_destroy(a);
}

#define PG_CLAIMERS 8
#define PG_JOBS 2000

/* Starts n claimers, each on its own handle (its own connection, as
 * separate nodes would be), over the jobs from first on; returns the
 * claims made. */
static int run_claimers(struct queue **qs, int n, int64_t first, int njobs, int64_t now,
			int abandon, atomic_int *claims)
{
	struct claimer c[PG_CLAIMERS];
	pthread_t th[PG_CLAIMERS];
	int total = 0;

	for (int i = 0; i < njobs; i++)
		atomic_init(&claims[i], 0);
	for (int i = 0; i < n; i++) {
		c[i] = (struct claimer){ .q = qs[i], .first = first, .claims = claims, .index = i,
					 .njobs = njobs, .now = now, .abandon = abandon };
		assert_int_equal(pthread_create(&th[i], NULL, claim_loop, &c[i]), 0);
	}
	for (int i = 0; i < n; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(c[i].errors, 0);
		total += c[i].claimed;
	}
	return total;
}

/* PostgreSQL: a row another transaction holds is passed over, not waited
 * for; claimers on eight connections at once each get distinct jobs, none
 * twice and none lost; leases they abandon run out and every job is
 * claimed once more. */
static void t_pg_skip_locked(void **state)
{
	struct fake f = { .now = 1000 };
	struct queue *qs[PG_CLAIMERS];
	static atomic_int claims[PG_JOBS];
	struct queue_spec *specs;
	int64_t *ids;
	struct arena *a;
	struct sql_conn *other = NULL;
	struct sql_stmt *st = NULL;
	struct queue_job j;

	(void)state;
	if (!pg)
		skip();
	specs = calloc(PG_JOBS, sizeof(*specs));
	ids = calloc(PG_JOBS, sizeof(*ids));
	a = arena_create(4096);
	assert_non_null(specs);
	assert_non_null(ids);
	for (int i = 0; i < PG_CLAIMERS; i++)
		qs[i] = open_fake(&f);
	for (int i = 0; i < PG_JOBS; i++) {
		specs[i].lane = QUEUE_FAST;
		specs[i].kind = "bulk";
	}
	assert_int_equal(queue_enqueue_batch(qs[0], specs, PG_JOBS, ids), 0);
	for (int i = 1; i < PG_JOBS; i++)
		assert_int_equal(ids[i], ids[0] + i);

	/* Another session locks the first due job: a claim takes the second
	 * at once; once that session lets go, the first is there again. */
	assert_int_equal(sql_open(url, 0, &other), 0);
	assert_int_equal(sql_set_schema(other, schema), 0);
	assert_int_equal(sql_begin(other, SQL_TX_WRITE), 0);
	assert_int_equal(sql_prepare(other, "SELECT id FROM jobs WHERE id=?1 FOR UPDATE", &st), 0);
	assert_int_equal(sql_bind_int64(st, 1, ids[0]), 0);
	assert_int_equal(sql_step(st), SQL_ROW);
	sql_finalize(st);
	assert_int_equal(queue_claim(qs[1], QUEUE_FAST, "w", 5000, 1000, a, &j), 0);
	assert_int_equal(j.id, ids[1]);
	assert_int_equal(sql_rollback(other), 0);
	sql_close(other);
	assert_int_equal(queue_claim(qs[1], QUEUE_FAST, "w", 5000, 1000, a, &j), 0);
	assert_int_equal(j.id, ids[0]);
	assert_int_equal(queue_complete(qs[1], ids[0], "w"), 0);
	assert_int_equal(queue_complete(qs[1], ids[1], "w"), 0);

	/* Eight at once over the rest, abandoning every lease (600 s). */
	assert_int_equal(run_claimers(qs, PG_CLAIMERS, ids[2], PG_JOBS - 2, 1000, 1, claims), PG_JOBS - 2);
	for (int i = 0; i < PG_JOBS - 2; i++)
		assert_int_equal(atomic_load(&claims[i]), 1);
	assert_int_equal(count(qs[0], QUEUE_RUNNING, -1, NULL), PG_JOBS - 2);
	assert_int_equal(queue_claim(qs[0], QUEUE_FAST, "late", 5000, 600999, a, &j), INLET_ENOTFOUND);

	/* The leases run out: each job is claimed again exactly once, now
	 * completed, on its second attempt. */
	assert_int_equal(run_claimers(qs, PG_CLAIMERS, ids[2], PG_JOBS - 2, 601000, 0, claims), PG_JOBS - 2);
	for (int i = 0; i < PG_JOBS - 2; i++)
		assert_int_equal(atomic_load(&claims[i]), 1);
	assert_int_equal(count(qs[0], QUEUE_DONE, -1, NULL), PG_JOBS);
	assert_int_equal(queue_get(qs[0], ids[PG_JOBS - 1], a, &j), 0);
	assert_int_equal(j.attempts, 2);

	for (int i = 0; i < PG_CLAIMERS; i++)
		queue_close(qs[i]);
	arena_destroy(a);
	free(specs);
	free(ids);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(t_enqueue_claim_complete, setup, teardown),
		cmocka_unit_test_setup_teardown(t_bad_input, setup, teardown),
		cmocka_unit_test_setup_teardown(t_idempotency, setup, teardown),
		cmocka_unit_test_setup_teardown(t_lease_expiry, setup, teardown),
		cmocka_unit_test_setup_teardown(t_lease_poison, setup, teardown),
		cmocka_unit_test(t_backoff_math),
		cmocka_unit_test_setup_teardown(t_retry_backoff_dead, setup, teardown),
		cmocka_unit_test_setup_teardown(t_retry_cancel, setup, teardown),
		cmocka_unit_test_setup_teardown(t_list_paging, setup, teardown),
		cmocka_unit_test_setup_teardown(t_next_due_and_purge, setup, teardown),
		cmocka_unit_test_setup_teardown(t_scheduler, setup, teardown),
		cmocka_unit_test_setup_teardown(t_concurrent_claims, setup, teardown),
		cmocka_unit_test_setup_teardown(t_scope_and_bury, setup, teardown),
		cmocka_unit_test_setup_teardown(t_release_owner, setup, teardown),
		cmocka_unit_test_setup_teardown(t_close_without_complete, setup, teardown),
		cmocka_unit_test_setup_teardown(t_process_dies, setup, teardown),
		cmocka_unit_test_setup_teardown(t_legacy_file, setup, teardown),
		cmocka_unit_test_setup_teardown(t_pg_skip_locked, setup, teardown),
	};
	int failed;

	url = getenv("INLET_TEST_DATABASE_URL");
	pg = 0;
	failed = cmocka_run_group_tests_name("queue_sqlite", tests, NULL, NULL);
	if (url && *url) {
		pg = 1;
		failed += cmocka_run_group_tests_name("queue_postgres", tests, NULL, NULL);
	}
	return failed ? 1 : 0;
}
