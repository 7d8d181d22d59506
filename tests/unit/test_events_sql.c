/* The error-tracking store (store/events.c, store/events_read.c) on
 * store/sql.h through its public calls: events grouped into new and
 * existing issues, an ignored issue's events dropped, resolved issues
 * reopened, state changes; issue counts, hourly graphs, sessions (visits,
 * errored and crashed, pre-aggregated hours); daily counters; zstd
 * dictionary rows; an endpoint's rows deleted; search by blind tokens
 * (candidates found, the rest not); keyset pages of issues and events; and
 * two writers (two nodes) making the same new issue at once: one issue,
 * both counts, one issue.created. Every case runs on a fresh SQLite file,
 * and again in a fresh PostgreSQL schema when INLET_TEST_DATABASE_URL is
 * set (tests/e2e/events_pg.test.mjs). */
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
#include "events/search.h"
#include "store/events.h"
#include "store/subs.h"
#include "vault/vault.h"

#include "engines.h"

#define EP 7
#define EP2 8
#define ACC 3
#define HOUR0 (1700000000000LL - 1700000000000LL % EV_DAY_MS) /* a day's start */

static int setup(void **state)
{
	(void)state;
	return engine_setup("ev", "subs.db");
}

static int teardown(void **state)
{
	(void)state;
	return engine_teardown();
}

static struct substore *open_store(void)
{
	struct substore *s = NULL;

	assert_int_equal(pg ? substore_open_target(&s, url, schema, "ev") :
			      substore_open_target(&s, path, NULL, "ev"), 0);
	assert_non_null(s);
	return s;
}

/* ---- helpers ---------------------------------------------------------------- */

struct waiter {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int done, rc;
};

static void wake(void *ctx, int rc)
{
	struct waiter *w = ctx;

	pthread_mutex_lock(&w->lock);
	w->done = 1;
	w->rc = rc;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

/* Submits b and waits until it is durable; its rc. */
static int submit(struct substore *s, struct ev_batch *b)
{
	struct waiter w = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

	evstore_submit(s, b, wake, &w);
	pthread_mutex_lock(&w.lock);
	while (!w.done)
		pthread_cond_wait(&w.cond, &w.lock);
	pthread_mutex_unlock(&w.lock);
	return w.rc;
}

/* An event id at ms (a unique low part per call). */
static int64_t ev_id(int64_t ms)
{
	static int64_t n;

	return ms << 20 | (++n & 0xfffff);
}

static void record(struct ev_record *e, int fp, int64_t ms, const char *body)
{
	memset(e, 0, sizeof(*e));
	e->id = ev_id(ms);
	memset(e->fingerprint, fp, EV_FP_BYTES);
	e->key_version = 1;
	e->sealed = (const uint8_t *)body;
	e->sealed_len = strlen(body);
	e->meta = (const uint8_t *)"meta";
	e->meta_len = 4;
	e->last = (const uint8_t *)body;
	e->last_len = strlen(body);
	e->new_issue_id = ev_id(ms);
}

/* One event of fingerprint fp at ms into endpoint ep; the record back. */
static struct ev_record one(struct substore *s, int64_t ep, int fp, int64_t ms, const char *body)
{
	struct ev_record e;
	struct ev_batch b = { .endpoint_id = ep, .now_ms = ms, .events = &e, .nevents = 1, .outbox = 1 };

	record(&e, fp, ms, body);
	assert_int_equal(submit(s, &b), 0);
	return e;
}

static struct ev_issue *issues(struct substore *s, struct arena *a, int64_t ep, int sort, size_t *n)
{
	struct issue_query q = { .endpoint_id = ep, .sort = sort, .state = -1, .limit = 50 };
	struct ev_issue *rows;

	assert_int_equal(evstore_issues(s, &q, a, &rows, n), 0);
	return rows;
}

static size_t outbox_count(struct substore *s, struct arena *a, const char *event)
{
	struct outbox_row *rows;
	size_t n, k = 0;

	assert_int_equal(substore_outbox_read(s, 1000, a, &rows, &n), 0);
	for (size_t i = 0; i < n; i++)
		k += strcmp(rows[i].event, event) == 0;
	return k;
}

/* ---- cases ------------------------------------------------------------------ */

static void t_issues(void **state)
{
	struct substore *s = open_store();
	struct arena *a = arena_create(0);
	struct ev_record e1, e2, e3, e4;
	struct ev_issue *rows, one_issue;
	struct ev_row *evs, ev;
	struct ev_point *pts;
	int64_t n64, last, prev, next, first, lastid;
	size_t n;

	(void)state;
	e1 = one(s, EP, 1, HOUR0 + 1000, "first");
	assert_true(e1.stored);
	assert_true(e1.issue_new);
	assert_int_equal(e1.issue_id, e1.new_issue_id);
	assert_int_equal(e1.issue_count, 1);
	e2 = one(s, EP, 1, HOUR0 + 2000, "second");
	assert_false(e2.issue_new);
	assert_int_equal(e2.issue_id, e1.issue_id);
	assert_int_equal(e2.issue_count, 2);
	assert_int_equal(e2.issue_last_seen, HOUR0 + 2000);
	e3 = one(s, EP, 2, HOUR0 + EV_HOUR_MS + 5, "other");
	assert_true(e3.issue_new);
	e4 = one(s, EP, 1, HOUR0 + 2 * EV_HOUR_MS + 7, "third");
	assert_int_equal(e4.issue_count, 3);
	one(s, EP2, 1, HOUR0 + 3000, "elsewhere"); /* same fingerprint, another endpoint */

	rows = issues(s, a, EP, ISSUE_SORT_EVENTS, &n);
	assert_int_equal(n, 2);
	assert_int_equal(rows[0].id, e1.issue_id);
	assert_int_equal(rows[0].count, 3);
	assert_int_equal(rows[0].first_seen, HOUR0 + 1000);
	assert_int_equal(rows[0].last_seen, HOUR0 + 2 * EV_HOUR_MS + 7);
	assert_int_equal(rows[0].meta_len, 4);
	assert_memory_equal(rows[0].meta, "meta", 4);
	assert_int_equal(rows[0].last_len, 5);
	assert_memory_equal(rows[0].last, "third", 5);
	assert_int_equal(rows[0].fingerprint[0], 1);
	assert_int_equal(rows[1].id, e3.issue_id);
	assert_int_equal(outbox_count(s, a, "issue.created"), 3);

	assert_int_equal(evstore_issue(s, EP, e3.issue_id, a, &one_issue), 0);
	assert_int_equal(one_issue.count, 1);
	assert_int_equal(evstore_issue(s, EP2, e3.issue_id, a, &one_issue), INLET_ENOTFOUND);

	assert_int_equal(evstore_events(s, EP, e1.issue_id, 0, 10, a, &evs, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(evs[0].id, e4.id);
	assert_int_equal(evs[2].id, e1.id);
	assert_int_equal(evs[2].sealed_len, 5);
	assert_memory_equal(evs[2].sealed, "first", 5);
	assert_int_equal(evstore_event(s, EP, e2.id, a, &ev), 0);
	assert_int_equal(ev.issue_id, e1.issue_id);
	assert_int_equal(evstore_event(s, EP2, e2.id, a, &ev), INLET_ENOTFOUND);
	assert_int_equal(evstore_event_nav(s, e1.issue_id, e2.id, &prev, &next, &first, &lastid), 0);
	assert_int_equal(prev, e1.id);
	assert_int_equal(next, e4.id);
	assert_int_equal(first, e1.id);
	assert_int_equal(lastid, e4.id);
	assert_int_equal(evstore_event_nav(s, e1.issue_id, e1.id, &prev, &next, &first, &lastid), 0);
	assert_int_equal(prev, 0);
	assert_int_equal(evstore_event_count(s, EP, &n64), 0);
	assert_int_equal(n64, 4);
	assert_int_equal(evstore_totals(s, EP, &n64, &last), 0);
	assert_int_equal(n64, 4);
	assert_int_equal(last, HOUR0 + 2 * EV_HOUR_MS + 7);
	assert_int_equal(evstore_recent(s, EP, 2, a, &evs, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(evs[0].id, e4.id);

	/* Hourly, then per two hours. */
	assert_int_equal(evstore_issue_graph(s, e1.issue_id, HOUR0, HOUR0 + 3 * EV_HOUR_MS, 0, a, &pts, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(pts[0].t, HOUR0);
	assert_int_equal(pts[0].a, 2);
	assert_int_equal(pts[1].t, HOUR0 + 2 * EV_HOUR_MS);
	assert_int_equal(pts[1].a, 1);
	assert_int_equal(evstore_issue_graph(s, e1.issue_id, HOUR0, HOUR0 + 3 * EV_HOUR_MS, 4 * EV_HOUR_MS, a,
					     &pts, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(pts[0].a, 3);
	substore_close(s);
	arena_destroy(a);
}

static void t_states(void **state)
{
	struct substore *s = open_store();
	struct arena *a = arena_create(0);
	struct ev_record e;
	struct ev_issue i;
	struct ev_issue *rows;
	struct issue_query q = { .endpoint_id = EP, .state = ISSUE_IGNORED, .limit = 10 };
	size_t n;

	(void)state;
	e = one(s, EP, 1, HOUR0, "a");
	one(s, EP, 2, HOUR0, "b");
	assert_int_equal(evstore_issue_state(s, EP2, e.issue_id, ISSUE_IGNORED), INLET_ENOTFOUND);
	assert_int_equal(evstore_issue_state(s, EP, e.issue_id, ISSUE_IGNORED), 0);
	assert_int_equal(evstore_issues(s, &q, a, &rows, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(rows[0].id, e.issue_id);

	/* Ignored: counted as dropped, not stored. */
	e = one(s, EP, 1, HOUR0 + 10, "dropped");
	assert_false(e.stored);
	assert_int_equal(evstore_issue(s, EP, e.issue_id, a, &i), 0);
	assert_int_equal(i.count, 1);
	assert_int_equal(i.dropped, 1);
	assert_int_equal(i.state, ISSUE_IGNORED);

	/* Resolved: the next event reopens it, and says so in the outbox. */
	assert_int_equal(evstore_issue_state(s, EP, e.issue_id, ISSUE_RESOLVED), 0);
	assert_int_equal(evstore_issue(s, EP, e.issue_id, a, &i), 0);
	assert_int_equal(i.state, ISSUE_RESOLVED);
	assert_true(i.state_changed > 0);
	e = one(s, EP, 1, HOUR0 + 20, "back");
	assert_true(e.stored);
	assert_int_equal(e.issue_state, ISSUE_OPEN);
	assert_int_equal(e.issue_count, 2);
	assert_int_equal(evstore_issue(s, EP, e.issue_id, a, &i), 0);
	assert_int_equal(i.state_changed, HOUR0 + 20);
	assert_int_equal(outbox_count(s, a, "issue.reopened"), 1);
	q.state = ISSUE_OPEN;
	assert_int_equal(evstore_issues(s, &q, a, &rows, &n), 0);
	assert_int_equal(n, 2);
	substore_close(s);
	arena_destroy(a);
}

static void t_sessions(void **state)
{
	struct substore *s = open_store();
	struct arena *a = arena_create(0);
	struct ev_record e[3];
	struct ev_session ss[3];
	struct ev_aggregate g = { .hour_ms = HOUR0 + 5, .sessions = 10, .errored = 2, .crashed = 1 };
	struct ev_batch b = { .endpoint_id = EP, .now_ms = HOUR0, .collect_hours = 1 };
	struct ev_issue i;
	struct ev_point *pts;
	size_t n;

	(void)state;
	/* Two visitors start (one twice); one crashes later. */
	memset(ss, 0, sizeof(ss));
	memset(ss[0].sid, 0xa1, EV_SID_BYTES);
	ss[0].ms = HOUR0 + 1;
	ss[0].init = 1;
	ss[1] = ss[0];
	memset(ss[2].sid, 0xa2, EV_SID_BYTES);
	ss[2].ms = HOUR0 + 2;
	ss[2].init = 1;
	b.sessions = ss;
	b.nsessions = 3;
	b.aggregates = &g;
	b.naggregates = 1;
	assert_int_equal(submit(s, &b), 0);
	assert_int_equal(b.nhours, 3); /* two sessions, then the aggregate */
	free(b.hours);

	memset(&b, 0, sizeof(b));
	b.endpoint_id = EP;
	b.now_ms = HOUR0 + EV_HOUR_MS;
	memset(ss, 0, sizeof(ss));
	memset(ss[0].sid, 0xa2, EV_SID_BYTES);
	ss[0].ms = HOUR0 + EV_HOUR_MS;
	ss[0].crashed = 1;
	b.sessions = ss;
	b.nsessions = 1;
	assert_int_equal(submit(s, &b), 0);
	assert_int_equal(submit(s, &b), 0); /* again: counted once */

	/* Events with a session: the issue's sessions count distinct ones;
	 * a TrackX visit errors its session (in the hour it started). */
	for (int k = 0; k < 3; k++) {
		record(&e[k], 5, HOUR0 + EV_HOUR_MS + k, "boom");
		e[k].has_sid = 1;
		memset(e[k].sid, k < 2 ? 0xa1 : 0xa3, EV_SID_BYTES);
		e[k].visit = 1;
	}
	memset(&b, 0, sizeof(b));
	b.endpoint_id = EP;
	b.now_ms = HOUR0 + EV_HOUR_MS;
	b.events = e;
	b.nevents = 3;
	assert_int_equal(submit(s, &b), 0);
	assert_int_equal(evstore_issue(s, EP, e[0].issue_id, a, &i), 0);
	assert_int_equal(i.count, 3);
	assert_int_equal(i.sessions, 2);

	assert_int_equal(evstore_session_graph(s, EP, HOUR0, HOUR0 + 2 * EV_HOUR_MS, a, &pts, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(pts[0].t, HOUR0);
	assert_int_equal(pts[0].a, 12);     /* a1, a2, and the aggregate's 10 */
	assert_int_equal(pts[0].b, 2 + 2);  /* a2 crashed, a1 errored, both in hour 0 */
	assert_int_equal(pts[0].c, 1 + 1);
	assert_int_equal(pts[1].t, HOUR0 + EV_HOUR_MS);
	assert_int_equal(pts[1].a, 1);      /* a3, new with its event */
	assert_int_equal(pts[1].b, 1);
	assert_int_equal(pts[1].c, 0);

	/* A new day prunes the session rows of earlier days: a1 is new again. */
	memset(&b, 0, sizeof(b));
	b.endpoint_id = EP;
	b.now_ms = HOUR0 + EV_DAY_MS;
	memset(ss, 0, sizeof(ss));
	memset(ss[0].sid, 0xa1, EV_SID_BYTES);
	ss[0].ms = HOUR0 + EV_DAY_MS;
	ss[0].init = 1;
	b.sessions = ss;
	b.nsessions = 1;
	assert_int_equal(submit(s, &b), 0);
	assert_int_equal(evstore_session_graph(s, EP, HOUR0 + EV_DAY_MS, HOUR0 + EV_DAY_MS + 1, a, &pts, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(pts[0].a, 1);
	substore_close(s);
	arena_destroy(a);
}

static void t_counts_dicts(void **state)
{
	struct substore *s = open_store();
	struct arena *a = arena_create(0);
	struct ev_count_delta d[3] = {
		{ .account_id = ACC, .endpoint_id = EP, .day = 100, .name = "events", .n = 5 },
		{ .account_id = ACC, .endpoint_id = EP2, .day = 100, .name = "events", .n = 2 },
		{ .account_id = ACC, .endpoint_id = EP, .day = 101, .name = "dropped", .n = 1 },
	};
	struct ev_count_delta *heap = malloc(sizeof(d));
	struct ev_count *rows;
	struct ev_dict_row *dicts;
	size_t n;

	(void)state;
	memcpy(heap, d, sizeof(d));
	assert_int_equal(evstore_count_add(s, d, 3), 0);
	evstore_count_submit(s, heap, 3); /* adds, and frees heap */
	assert_int_equal(evstore_count_add(s, d, 1), 0);
	assert_int_equal(evstore_counts(s, ACC, EP, 100, 101, a, &rows, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(rows[0].day, 100);
	assert_string_equal(rows[0].name, "events");
	assert_int_equal(rows[0].n, 15);
	assert_string_equal(rows[1].name, "dropped");
	assert_int_equal(rows[1].n, 2);
	assert_int_equal(evstore_counts(s, ACC, -1, 100, 100, a, &rows, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(rows[0].n, 19);

	assert_int_equal(evstore_dict_put(s, EP, 11, 1, (const uint8_t *)"d11", 3), 0);
	usleep(2000);
	assert_int_equal(evstore_dict_put(s, EP, 12, 2, (const uint8_t *)"d\0012", 4), 0);
	assert_int_equal(evstore_dict_put(s, EP, 12, 2, (const uint8_t *)"again", 5), INLET_EEXISTS);
	assert_int_equal(evstore_dicts(s, EP, a, &dicts, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(dicts[0].dict_id, 12);
	assert_int_equal(dicts[0].key_version, 2);
	assert_int_equal(dicts[0].len, 4);
	assert_memory_equal(dicts[0].sealed, "d\0012", 4);
	assert_int_equal(dicts[1].dict_id, 11);
	/* The writer carries on after the failed op. */
	one(s, EP, 1, HOUR0, "after");
	substore_close(s);
	arena_destroy(a);
}

static void t_delete(void **state)
{
	struct substore *s = open_store();
	struct arena *a = arena_create(0);
	struct ev_count_delta d = { .account_id = ACC, .endpoint_id = EP, .day = 1, .name = "x", .n = 1 };
	struct ev_dict_row *dicts;
	struct ev_count *rows;
	struct ev_point *pts;
	int64_t n64;
	size_t n;
	struct ev_record e;

	(void)state;
	e = one(s, EP, 1, HOUR0, "a");
	one(s, EP2, 1, HOUR0, "b");
	assert_int_equal(evstore_count_add(s, &d, 1), 0);
	assert_int_equal(evstore_dict_put(s, EP, 1, 1, (const uint8_t *)"d", 1), 0);
	assert_int_equal(evstore_delete_endpoint(s, EP), 0);
	issues(s, a, EP, 0, &n);
	assert_int_equal(n, 0);
	assert_int_equal(evstore_event_count(s, EP, &n64), 0);
	assert_int_equal(n64, 0);
	assert_int_equal(evstore_issue_graph(s, e.issue_id, 0, INT64_MAX, 0, a, &pts, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(evstore_counts(s, ACC, EP, 0, 10, a, &rows, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(evstore_dicts(s, EP, a, &dicts, &n), 0);
	assert_int_equal(n, 0);
	issues(s, a, EP2, 0, &n);
	assert_int_equal(n, 1);
	substore_close(s);
	arena_destroy(a);
}

/* ---- search ----------------------------------------------------------------- */

static const char *const texts[] = {
	"TypeError: Cannot read properties of undefined (reading 'id')",
	"ReferenceError: x is not defined",
	"Error: Order 42 failed: upstream timeout",
};

struct tok_ctx {
	struct vault_mac *m;
	const char *text;
};

static char *make_tokens(void *ctx)
{
	struct tok_ctx *t = ctx;

	return search_tokens(t->m, t->text, strlen(t->text));
}

/* Issue ids (as a bit set of texts[] indexes) the index offers for q. */
static unsigned candidates(struct substore *s, struct arena *a, struct vault_mac *m, const int64_t *ids,
			   const char *q)
{
	struct issue_query iq = { .endpoint_id = EP, .state = -1, .limit = 50 };
	struct ev_issue *rows;
	unsigned bits = 0;
	size_t n;

	iq.match = search_query_tokens(a, m, q, strlen(q));
	assert_int_equal(evstore_issues(s, &iq, a, &rows, &n), 0);
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < 3; k++)
			if (rows[i].id == ids[k])
				bits |= 1u << k;
	return bits;
}

static void t_search(void **state)
{
	struct substore *s = open_store();
	struct arena *a = arena_create(0);
	uint8_t key[32] = { 4, 5, 6 };
	struct vault_mac *m = vault_mac_create(key, sizeof(key));
	struct tok_ctx tc[3];
	int64_t ids[3];

	(void)state;
	for (int k = 0; k < 3; k++) {
		struct ev_record e;
		struct ev_batch b = { .endpoint_id = EP, .now_ms = HOUR0, .events = &e, .nevents = 1 };

		record(&e, 10 + k, HOUR0 + k, "x");
		tc[k] = (struct tok_ctx){ m, texts[k] };
		e.search = make_tokens;
		e.search_ctx = &tc[k];
		assert_int_equal(submit(s, &b), 0);
		ids[k] = e.issue_id;
	}
	/* Another endpoint's issue with the same words never shows. */
	{
		struct ev_record e;
		struct ev_batch b = { .endpoint_id = EP2, .now_ms = HOUR0, .events = &e, .nevents = 1 };

		record(&e, 10, HOUR0, "x");
		e.search = make_tokens;
		e.search_ctx = &tc[0];
		assert_int_equal(submit(s, &b), 0);
	}
	assert_int_equal(candidates(s, a, m, ids, "properties of"), 1u << 0);
	assert_int_equal(candidates(s, a, m, ids, "PROPERTIES"), 1u << 0);
	assert_int_equal(candidates(s, a, m, ids, "is not def"), 1u << 1);
	assert_int_equal(candidates(s, a, m, ids, "Error"), 7u);
	assert_int_equal(candidates(s, a, m, ids, "upstream"), 1u << 2);
	assert_int_equal(candidates(s, a, m, ids, "nothing like it"), 0);
	assert_int_equal(candidates(s, a, m, ids, "ab"), 7u); /* too short: no filter */
	vault_mac_destroy(m);
	substore_close(s);
	arena_destroy(a);
}

/* ---- pages -------------------------------------------------------------------- */

static void t_pages(void **state)
{
	struct substore *s = open_store();
	struct arena *a = arena_create(0);
	int64_t seen[12] = { 0 };
	struct ev_record e;
	struct ev_row *evs;
	size_t n, total = 0;

	(void)state;
	/* Issue k has k+1 events, the last at HOUR0 + k. */
	for (int k = 0; k < 12; k++)
		for (int j = 0; j <= k; j++)
			e = one(s, EP, 40 + k, HOUR0 + k - (k - j) * 100000, "p");
	for (int sort = 0; sort < 4; sort++) {
		struct issue_query q = { .endpoint_id = EP, .sort = sort, .state = -1, .limit = 5 };
		int64_t prev_key = INT64_MAX, prev_id = INT64_MAX;

		total = 0;
		memset(seen, 0, sizeof(seen));
		for (;;) {
			struct ev_issue *rows;

			assert_int_equal(evstore_issues(s, &q, a, &rows, &n), 0);
			for (size_t i = 0; i < n; i++) {
				int64_t k = evstore_issue_key(&rows[i], sort);

				assert_true(k < prev_key || (k == prev_key && rows[i].id < prev_id));
				prev_key = k;
				prev_id = rows[i].id;
				assert_int_equal(seen[rows[i].fingerprint[0] - 40]++, 0);
				total++;
			}
			if (n < q.limit)
				break;
			q.after_key = evstore_issue_key(&rows[n - 1], sort);
			q.after_id = rows[n - 1].id;
		}
		assert_int_equal(total, 12);
	}
	/* Events of the last issue (12 of them), in pages of 5. */
	{
		int64_t before = 0;

		total = 0;
		do {
			assert_int_equal(evstore_events(s, EP, e.issue_id, before, 5, a, &evs, &n), 0);
			for (size_t i = 0; i < n; i++)
				assert_true(before == 0 || evs[i].id < before);
			total += n;
			if (n)
				before = evs[n - 1].id;
		} while (n == 5);
		assert_int_equal(total, 12);
	}
	substore_close(s);
	arena_destroy(a);
}

/* ---- two nodes -------------------------------------------------------------- */

struct racer {
	struct substore *s;
	pthread_barrier_t *go;
	struct ev_record e[8];
	int rc;
};

static void *race(void *arg)
{
	struct racer *r = arg;
	struct ev_batch b = { .endpoint_id = EP, .now_ms = HOUR0, .events = r->e, .nevents = 8, .outbox = 1 };

	pthread_barrier_wait(r->go);
	r->rc = submit(r->s, &b);
	return NULL;
}

static void t_two_writers(void **state)
{
	struct arena *a = arena_create(0);
	struct racer r[2];
	pthread_t th[2];
	pthread_barrier_t go;
	struct ev_issue *rows;
	size_t n;
	int64_t total = 0;

	(void)state;
	/* Two stores on one database: each has its own writer, as two nodes
	 * would. Each round both make the same eight new issues at once. */
	r[0].s = open_store();
	r[1].s = open_store();
	for (int round = 0; round < 5; round++) {
		pthread_barrier_init(&go, NULL, 2);
		for (int i = 0; i < 2; i++) {
			r[i].go = &go;
			for (int k = 0; k < 8; k++) {
				record(&r[i].e[k], 100 + round * 8 + k, HOUR0 + round, "race");
				r[i].e[k].has_sid = 1;
				memset(r[i].e[k].sid, 0x50 + k, EV_SID_BYTES);
				r[i].e[k].visit = 1;
			}
			pthread_create(&th[i], NULL, race, &r[i]);
		}
		for (int i = 0; i < 2; i++) {
			pthread_join(th[i], NULL);
			assert_int_equal(r[i].rc, 0);
		}
		pthread_barrier_destroy(&go);
		for (int k = 0; k < 8; k++) {
			assert_int_equal(r[0].e[k].issue_id, r[1].e[k].issue_id);
			assert_int_equal(r[0].e[k].issue_new + r[1].e[k].issue_new, 1);
		}
	}
	rows = issues(r[0].s, a, EP, ISSUE_SORT_EVENTS, &n);
	assert_int_equal(n, 40);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(rows[i].count, 2);
		assert_int_equal(rows[i].sessions, 1);
		total += rows[i].count;
	}
	assert_int_equal(total, 80);
	assert_int_equal(outbox_count(r[0].s, a, "issue.created"), 40);
	{
		struct ev_point *pts;

		/* Eight visitors, each counted once however many nodes saw it. */
		assert_int_equal(evstore_session_graph(r[0].s, EP, HOUR0, HOUR0 + EV_HOUR_MS, a, &pts, &n), 0);
		assert_int_equal(n, 1);
		assert_int_equal(pts[0].a, 8);
		assert_int_equal(pts[0].b, 8);
	}
	substore_close(r[0].s);
	substore_close(r[1].s);
	arena_destroy(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(t_issues, setup, teardown),
		cmocka_unit_test_setup_teardown(t_states, setup, teardown),
		cmocka_unit_test_setup_teardown(t_sessions, setup, teardown),
		cmocka_unit_test_setup_teardown(t_counts_dicts, setup, teardown),
		cmocka_unit_test_setup_teardown(t_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(t_search, setup, teardown),
		cmocka_unit_test_setup_teardown(t_pages, setup, teardown),
		cmocka_unit_test_setup_teardown(t_two_writers, setup, teardown),
	};
	int failed;

	url = getenv("INLET_TEST_DATABASE_URL");
	pg = 0;
	failed = cmocka_run_group_tests_name("events_sql_sqlite", tests, NULL, NULL);
	if (url && *url) {
		pg = 1;
		failed += cmocka_run_group_tests_name("events_sql_postgres", tests, NULL, NULL);
	}
	return failed ? 1 : 0;
}
