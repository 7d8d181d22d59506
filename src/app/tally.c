#include "app/tally.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/clickhouse.h"
#include "core/alloc.h"
#include "core/enc.h"
#include "core/err.h"
#include "core/log.h"
#include "store/events.h"

#define TALLY_MAX 512       /* distinct counters held before a write */
#define TALLY_EVERY_MS 1000 /* at most one background write per this */

struct tally {
	struct substore *store;
	struct ch *ch;                  /* or NULL; gets a copy of each write */
	pthread_mutex_t lock;
	struct ev_count_delta *pending; /* heap, TALLY_MAX; under lock */
	size_t n;
	int64_t last_ms;
};

struct tally *tally_create(struct substore *shared, struct ch *ch)
{
	struct tally *t = xcalloc(1, sizeof(*t));

	t->store = shared;
	t->ch = ch;
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
	if (d) {
		ch_add_counts(t->ch, d, nd);
		evstore_count_submit(t->store, d, nd);
	}
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
	ch_add_counts(t->ch, d, n);
	rc = evstore_count_add(t->store, d, n);
	free(d);
	return rc;
}

int tally_counts(struct tally *t, int64_t account_id, int64_t endpoint_id, int64_t from_day, int64_t to_day,
		 struct arena *a, struct ev_count **rows, size_t *n)
{
	int rc;

	/* Counters are written about once a second: flush so the answer is
	 * current, in both places. */
	tally_flush(t);
	if (t->ch) {
		if ((rc = ch_flush(t->ch)) == 0 &&
		    (rc = ch_counts(t->ch, account_id, endpoint_id, from_day, to_day, a, rows, n)) == 0)
			return 0;
		log_msg(LOG_WARN, "clickhouse: counters answered from the embedded rollups (%s)", inlet_strerror(rc));
	}
	return evstore_counts(t->store, account_id, endpoint_id, from_day, to_day, a, rows, n);
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
