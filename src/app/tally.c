#include "app/tally.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/enc.h"
#include "store/events.h"

#define TALLY_MAX 512       /* distinct counters held before a write */
#define TALLY_EVERY_MS 1000 /* at most one background write per this */

struct tally {
	struct substore *store;
	pthread_mutex_t lock;
	struct ev_count_delta *pending; /* heap, TALLY_MAX; under lock */
	size_t n;
	int64_t last_ms;
};

struct tally *tally_create(struct substore *shared)
{
	struct tally *t = xcalloc(1, sizeof(*t));

	t->store = shared;
	pthread_mutex_init(&t->lock, NULL);
	t->pending = xcalloc(TALLY_MAX, sizeof(*t->pending));
	t->last_ms = now_ms();
	return t;
}

/* Takes the pending counters (under lock); the caller owns them. */
static struct ev_count_delta *take(struct tally *t, size_t *n)
{
	struct ev_count_delta *d = t->pending;

	*n = t->n;
	t->pending = xcalloc(TALLY_MAX, sizeof(*t->pending));
	t->n = 0;
	return d;
}

void tally_add(struct tally *t, int64_t account_id, int64_t endpoint_id, const char *name, int64_t n)
{
	int64_t now = now_ms(), day = now / EV_DAY_MS;
	struct ev_count_delta *d = NULL;
	size_t i, nd = 0;

	if (!t)
		return;
	pthread_mutex_lock(&t->lock);
	for (i = 0; i < t->n; i++) {
		struct ev_count_delta *c = &t->pending[i];

		if (c->account_id == account_id && c->endpoint_id == endpoint_id && c->day == day &&
		    strcmp(c->name, name) == 0)
			break;
	}
	if (i == t->n) {
		struct ev_count_delta *c = &t->pending[t->n++];

		c->account_id = account_id;
		c->endpoint_id = endpoint_id;
		c->day = day;
		snprintf(c->name, sizeof(c->name), "%s", name);
		c->n = 0;
	}
	t->pending[i].n += n;
	if (t->n == TALLY_MAX || now - t->last_ms >= TALLY_EVERY_MS) {
		d = take(t, &nd);
		t->last_ms = now;
	}
	pthread_mutex_unlock(&t->lock);
	if (d)
		evstore_count_submit(t->store, d, nd);
}

int tally_flush(struct tally *t)
{
	struct ev_count_delta *d;
	size_t n;
	int rc;

	pthread_mutex_lock(&t->lock);
	d = take(t, &n);
	t->last_ms = now_ms();
	pthread_mutex_unlock(&t->lock);
	rc = evstore_count_add(t->store, d, n);
	free(d);
	return rc;
}

void tally_destroy(struct tally *t)
{
	if (!t)
		return;
	tally_flush(t);
	free(t->pending);
	pthread_mutex_destroy(&t->lock);
	free(t);
}
