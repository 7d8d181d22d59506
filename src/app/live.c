#include "app/live.h"

#include <assert.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/enc.h"
#include "core/err.h"

#define BUCKETS 256          /* subscriber lists, by account */
#define ENDPOINT_MAX 48      /* an endpoint's public id, NUL included */

/* One event in the ring. */
struct slot {
	uint64_t id;                /* 0: never filled */
	int64_t account_id;
	char endpoint[ENDPOINT_MAX];
	char type[LIVE_TYPE_MAX];
	char *data;                 /* heap; freed when the slot is reused */
};

/* A subscriber. Every field but the constants is under l->lock. */
struct live_sub {
	struct live *l;
	struct live_sub *prev, *next; /* in l->subs[bucket] */
	int64_t account_id;           /* constant */
	char endpoint[ENDPOINT_MAX];  /* constant; "" for every endpoint */
	uint64_t start;               /* constant: the cursor it began with */
	uint64_t cursor;              /* every event <= cursor has been looked at */
	int reset;                    /* a LIVE_RESET is owed before anything else */
	int ping_due;                 /* the timer found it quiet for ping_ms */
	int64_t quiet_since;          /* monotonic ms of the last thing given */
	live_wake_fn wake;            /* NULL until live_sub_waker */
	void *wake_arg;
};

struct live {
	pthread_mutex_t lock;
	pthread_cond_t tick;          /* the timer sleeps on it; destroy signals it */
	struct slot *ring;            /* cap slots; event id lives at id % cap */
	size_t cap;
	uint64_t base;                /* this process's ids are > base (random, see live_create) */
	uint64_t head;                /* the newest id; base while there is none */
	/* The newest id evicted from the ring per account bucket: a cursor
	 * below it may have missed one of its account's events (or another
	 * account's of the same bucket: a reset too many, never one too few). */
	uint64_t evicted[BUCKETS];
	struct live_sub *subs[BUCKETS];
	size_t nsubs;
	unsigned per_account;
	unsigned ping_ms;
	live_forward_fn forward;      /* constant once set; NULL: a single node */
	void *forward_arg;
	pthread_t timer;
	int timer_started;
	int stopping;
};

static unsigned bucket_of(int64_t account_id)
{
	return (unsigned)(((uint64_t)account_id * 0x9E3779B97F4A7C15ULL) >> 56) % BUCKETS;
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The oldest id still in the ring (head + 1 when it is empty). */
static uint64_t oldest(const struct live *l)
{
	return l->head - l->base > l->cap ? l->head - l->cap + 1 : l->base + 1;
}

int live_create(struct live **out, size_t ring, unsigned per_account, unsigned ping_ms)
{
	struct live *l = xcalloc(1, sizeof(*l));
	pthread_condattr_t ca;

	l->cap = ring < 16 ? 16 : ring;
	l->ring = xcalloc(l->cap, sizeof(*l->ring));
	/* A random multiple of 2^40 below 2^62: ids of another process (an
	 * earlier run, another node) fall outside [base, head] whatever the
	 * clocks say, so resuming with one is a reset, never a replay from a
	 * wrong place. Started from the clock, two nodes started in the same
	 * millisecond (or a node 1,000 events ahead) shared a range. */
	rand_bytes(&l->base, sizeof(l->base));
	l->base = (l->base & ((UINT64_C(1) << 62) - 1)) & ~((UINT64_C(1) << 40) - 1);
	l->head = l->base;
	l->per_account = per_account;
	l->ping_ms = ping_ms ? ping_ms : 15000;
	pthread_mutex_init(&l->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&l->tick, &ca);
	pthread_condattr_destroy(&ca);
	*out = l;
	return 0;
}

void live_destroy(struct live *l)
{
	if (!l)
		return;
	pthread_mutex_lock(&l->lock);
	l->stopping = 1;
	pthread_cond_signal(&l->tick);
	pthread_mutex_unlock(&l->lock);
	if (l->timer_started)
		pthread_join(l->timer, NULL);
	/* The server has stopped: every stream has ended and unsubscribed. */
	assert(l->nsubs == 0);
	for (size_t i = 0; i < l->cap; i++)
		free(l->ring[i].data);
	free(l->ring);
	pthread_cond_destroy(&l->tick);
	pthread_mutex_destroy(&l->lock);
	free(l);
}

static int sub_matches(const struct live_sub *s, int64_t account_id, const char *endpoint)
{
	return s->account_id == account_id && (!s->endpoint[0] || strcmp(s->endpoint, endpoint) == 0);
}

int live_inject(struct live *l, int64_t account_id, const char *endpoint_pid, const char *type,
		const char *json)
{
	size_t dlen = strlen(json);
	unsigned b = bucket_of(account_id);
	char *data, *old = NULL;
	struct slot *s;

	if (!l)
		return 0;
	if (strlen(type) >= LIVE_TYPE_MAX || dlen >= LIVE_DATA_MAX || strlen(endpoint_pid) >= ENDPOINT_MAX)
		return INLET_ETOOBIG;
	if (memchr(json, '\n', dlen) || memchr(json, '\r', dlen))
		return INLET_EINVAL;
	data = xmemdup(json, dlen + 1);
	pthread_mutex_lock(&l->lock);
	s = &l->ring[(l->head + 1) % l->cap];
	if (s->id) {
		unsigned ob = bucket_of(s->account_id);

		if (s->id > l->evicted[ob])
			l->evicted[ob] = s->id;
		old = s->data;
	}
	s->id = ++l->head;
	s->account_id = account_id;
	memcpy(s->endpoint, endpoint_pid, strlen(endpoint_pid) + 1);
	memcpy(s->type, type, strlen(type) + 1);
	s->data = data;
	for (struct live_sub *x = l->subs[b]; x; x = x->next)
		if (x->wake && sub_matches(x, account_id, endpoint_pid))
			x->wake(x->wake_arg);
	pthread_mutex_unlock(&l->lock);
	free(old);
	return 0;
}

int live_publish(struct live *l, int64_t account_id, const char *endpoint_pid, const char *type,
		 const char *json)
{
	int rc = live_inject(l, account_id, endpoint_pid, type, json);

	if (!rc && l && l->forward)
		l->forward(l->forward_arg, account_id, endpoint_pid, type, json);
	return rc;
}

void live_on_publish(struct live *l, live_forward_fn fn, void *arg)
{
	l->forward = fn;
	l->forward_arg = arg;
}

uint64_t live_head(struct live *l)
{
	uint64_t h;

	pthread_mutex_lock(&l->lock);
	h = l->head;
	pthread_mutex_unlock(&l->lock);
	return h;
}

/* Wakes subscribers that have been quiet for ping_ms, so that each sends a
 * keep-alive: proxies keep the connection, the client learns it is alive,
 * and a client that left is found out by the failing write. Checks four
 * times per ping interval (at most once a second), so a ping is late by at
 * most a quarter of it. */
static void *timer_main(void *arg)
{
	struct live *l = arg;
	int64_t period = l->ping_ms / 4 > 1000 ? 1000 : l->ping_ms / 4 < 10 ? 10 : l->ping_ms / 4;

	pthread_mutex_lock(&l->lock);
	while (!l->stopping) {
		int64_t now = mono_ms();
		struct timespec until;

		for (unsigned b = 0; b < BUCKETS; b++)
			for (struct live_sub *s = l->subs[b]; s; s = s->next)
				if (!s->ping_due && now - s->quiet_since >= (int64_t)l->ping_ms) {
					s->ping_due = 1;
					if (s->wake)
						s->wake(s->wake_arg);
				}
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += period / 1000;
		until.tv_nsec += (period % 1000) * 1000000;
		if (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&l->tick, &l->lock, &until);
	}
	pthread_mutex_unlock(&l->lock);
	return NULL;
}

int live_subscribe(struct live *l, int64_t account_id, const char *endpoint_pid, int resume, uint64_t last_id,
		   struct live_sub **out)
{
	unsigned b = bucket_of(account_id), n = 0;
	struct live_sub *s;
	int rc = 0;

	*out = NULL;
	if (endpoint_pid && strlen(endpoint_pid) >= ENDPOINT_MAX)
		return INLET_EINVAL;
	s = xcalloc(1, sizeof(*s));
	s->l = l;
	s->account_id = account_id;
	if (endpoint_pid)
		memcpy(s->endpoint, endpoint_pid, strlen(endpoint_pid) + 1);
	s->quiet_since = mono_ms();
	pthread_mutex_lock(&l->lock);
	for (struct live_sub *x = l->subs[b]; x; x = x->next)
		n += x->account_id == account_id;
	if (n >= l->per_account) {
		rc = INLET_ERATELIMIT;
		goto out;
	}
	if (!l->timer_started) {
		if (pthread_create(&l->timer, NULL, timer_main, l)) {
			rc = INLET_EIO;
			goto out;
		}
		l->timer_started = 1;
	}
	/* A resume point is good when it is this process's and nothing of
	 * the account after it has been evicted. */
	if (resume && (last_id < l->base || last_id > l->head || l->evicted[b] > last_id)) {
		s->reset = 1;
		s->cursor = l->head;
	} else {
		s->cursor = resume ? last_id : l->head;
	}
	s->start = s->cursor;
	s->next = l->subs[b];
	if (s->next)
		s->next->prev = s;
	l->subs[b] = s;
	l->nsubs++;
out:
	pthread_mutex_unlock(&l->lock);
	if (rc) {
		free(s);
		return rc;
	}
	*out = s;
	return 0;
}

uint64_t live_sub_start(const struct live_sub *s)
{
	return s->start;
}

void live_sub_waker(struct live_sub *s, live_wake_fn wake, void *arg)
{
	pthread_mutex_lock(&s->l->lock);
	s->wake = wake;
	s->wake_arg = arg;
	pthread_mutex_unlock(&s->l->lock);
}

enum live_next live_next(struct live_sub *s, struct live_event *ev)
{
	struct live *l = s->l;
	enum live_next ret = LIVE_NONE;
	uint64_t first;

	pthread_mutex_lock(&l->lock);
	first = oldest(l);
	if (!s->reset && s->cursor + 1 < first) {
		/* Behind the ring: harmless if what left it was others'. */
		if (l->evicted[bucket_of(s->account_id)] > s->cursor) {
			s->reset = 1;
			s->cursor = l->head;
		} else {
			s->cursor = first - 1;
		}
	}
	if (s->reset) {
		s->reset = 0;
		ev->id = s->cursor;
		memcpy(ev->type, "reset", 6);
		memcpy(ev->data, "{}", 3);
		ret = LIVE_RESET;
		goto out;
	}
	while (s->cursor < l->head) {
		const struct slot *x = &l->ring[++s->cursor % l->cap];

		if (!sub_matches(s, x->account_id, x->endpoint))
			continue;
		ev->id = x->id;
		memcpy(ev->type, x->type, sizeof(ev->type));
		memcpy(ev->data, x->data, strlen(x->data) + 1);
		ret = LIVE_EVENT;
		goto out;
	}
	if (s->ping_due)
		ret = LIVE_PING;
out:
	if (ret != LIVE_NONE) {
		s->ping_due = 0;
		s->quiet_since = mono_ms();
	}
	pthread_mutex_unlock(&l->lock);
	return ret;
}

void live_unsubscribe(struct live_sub *s)
{
	struct live *l;

	if (!s)
		return;
	l = s->l;
	pthread_mutex_lock(&l->lock);
	if (s->prev)
		s->prev->next = s->next;
	else
		l->subs[bucket_of(s->account_id)] = s->next;
	if (s->next)
		s->next->prev = s->prev;
	l->nsubs--;
	pthread_mutex_unlock(&l->lock);
	free(s);
}
