#include "endpoint/cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/arena.h"
#include "core/enc.h"
#include "core/err.h"
#include "core/log.h"
#include "store/webhooks.h"

#define NBUCKETS 1024

struct node {
	struct node *next;
	struct ep_entry *e; /* the cache holds one reference */
};

struct ep_cache {
	pthread_mutex_t lock;
	struct tenant *t;
	struct node *buckets[NBUCKETS]; /* under lock */
	size_t n, max;                  /* under lock */
	uint64_t gen;                   /* under lock: bumped by every invalidation */
	int64_t ttl_ms;
	ep_cache_notify_fn notify;      /* constant once set; NULL: nobody to tell */
	void *notify_arg;
};

static unsigned hash(const char *s)
{
	unsigned h = 2166136261u;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h % NBUCKETS;
}

void ep_entry_release(struct ep_entry *e)
{
	if (!e || atomic_fetch_sub(&e->refs, 1) != 1)
		return;
	free(e->pid);
	free(e->key);
	free(e->kind);
	free(e->name);
	free(e->location);
	settings_free(&e->settings);
	free(e);
}

struct ep_cache *ep_cache_create(struct tenant *t, size_t max_entries, int64_t ttl_ms)
{
	struct ep_cache *c = xcalloc(1, sizeof(*c));

	pthread_mutex_init(&c->lock, NULL);
	c->t = t;
	c->max = max_entries ? max_entries : 10000;
	c->ttl_ms = ttl_ms;
	return c;
}

static void clear_all(struct ep_cache *c)
{
	for (int i = 0; i < NBUCKETS; i++) {
		struct node *nd = c->buckets[i], *next;

		for (; nd; nd = next) {
			next = nd->next;
			ep_entry_release(nd->e);
			free(nd);
		}
		c->buckets[i] = NULL;
	}
	c->n = 0;
}

void ep_cache_destroy(struct ep_cache *c)
{
	if (!c)
		return;
	clear_all(c);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

/* Unlinks key's node (under lock); returns 1 if one was removed. */
static int unlink_key(struct ep_cache *c, const char *key)
{
	struct node **pp = &c->buckets[hash(key)];

	for (; *pp; pp = &(*pp)->next) {
		if (strcmp((*pp)->e->key, key) == 0) {
			struct node *nd = *pp;

			*pp = nd->next;
			ep_entry_release(nd->e);
			free(nd);
			c->n--;
			return 1;
		}
	}
	return 0;
}

/* Entries are found by key, changes name the endpoint by id: a walk over
 * every bucket, which changes are rare enough to afford. */
static void unlink_id(struct ep_cache *c, int64_t id)
{
	for (int i = 0; i < NBUCKETS; i++) {
		for (struct node **pp = &c->buckets[i]; *pp;) {
			struct node *nd = *pp;

			if (nd->e->id != id) {
				pp = &nd->next;
				continue;
			}
			*pp = nd->next;
			ep_entry_release(nd->e);
			free(nd);
			c->n--;
		}
	}
}

void ep_cache_forget(struct ep_cache *c, int64_t endpoint_id)
{
	pthread_mutex_lock(&c->lock);
	c->gen++;
	unlink_id(c, endpoint_id);
	pthread_mutex_unlock(&c->lock);
}

void ep_cache_invalidate(struct ep_cache *c, int64_t endpoint_id)
{
	ep_cache_forget(c, endpoint_id);
	if (c->notify)
		c->notify(c->notify_arg, endpoint_id);
}

void ep_cache_clear(struct ep_cache *c)
{
	pthread_mutex_lock(&c->lock);
	c->gen++;
	clear_all(c);
	pthread_mutex_unlock(&c->lock);
}

void ep_cache_on_invalidate(struct ep_cache *c, ep_cache_notify_fn fn, void *arg)
{
	c->notify = fn;
	c->notify_arg = arg;
}

static int load(struct ep_cache *c, const char *key, struct ep_entry **out)
{
	struct arena *a = arena_create(4096);
	struct endpoint ep;
	struct ep_entry *e;
	char err[200];
	int rc;

	if ((rc = tenant_endpoint_by_key(c->t, key, a, &ep)))
		goto out;
	e = xcalloc(1, sizeof(*e));
	atomic_init(&e->refs, 1);
	e->id = ep.id;
	e->account_id = ep.account_id;
	e->pid = xstrdup(ep.pid);
	e->key = xstrdup(ep.key);
	e->kind = xstrdup(ep.kind);
	e->name = xstrdup(ep.name);
	e->location = xstrdup(ep.location);
	e->key_version = ep.key_version;
	memcpy(e->wrapped, ep.wrapped, ep.wrapped_len);
	e->wrapped_len = ep.wrapped_len;
	e->loaded_ms = now_ms();
	if (settings_parse(ep.settings, &e->settings, err, sizeof(err))) {
		/* Stored settings were validated on the way in; if they are
		 * unreadable now, fall back to defaults rather than refuse posts. */
		log_msg(LOG_WARN, "endpoint %s: stored settings invalid (%s); using defaults", ep.pid, err);
		settings_parse(NULL, &e->settings, err, sizeof(err));
	}
	/* Whether a submission causes jobs, so a post writes the outbox only
	 * when something will read it. */
	{
		int hooks = 0;

		(void)webhooks_any(c->t, ep.id, &hooks);
		e->jobs = hooks || e->settings.nnotify || e->settings.autoresponse.enabled;
	}
	*out = e;
out:
	arena_destroy(a);
	return rc;
}

int ep_cache_get(struct ep_cache *c, const char *key, struct ep_entry **out)
{
	struct node *nd;
	struct ep_entry *e = NULL;
	int64_t now = now_ms();
	uint64_t gen;
	int rc;

	pthread_mutex_lock(&c->lock);
	gen = c->gen;
	for (nd = c->buckets[hash(key)]; nd; nd = nd->next) {
		if (strcmp(nd->e->key, key) == 0) {
			if (now - nd->e->loaded_ms < c->ttl_ms) {
				e = nd->e;
				atomic_fetch_add(&e->refs, 1);
			}
			break;
		}
	}
	pthread_mutex_unlock(&c->lock);
	if (e) {
		*out = e;
		return 0;
	}
	if ((rc = load(c, key, &e)))
		return rc;
	pthread_mutex_lock(&c->lock);
	if (c->gen != gen) {
		/* Invalidated while this load read the tenant store: what was
		 * read may predate the change, so it serves this caller only. */
		pthread_mutex_unlock(&c->lock);
		*out = e;
		return 0;
	}
	unlink_key(c, key);
	if (c->n >= c->max)
		clear_all(c); /* rare: a cache this full is cheaper to refill */
	nd = xmalloc(sizeof(*nd));
	nd->e = e;
	atomic_fetch_add(&e->refs, 1);
	nd->next = c->buckets[hash(key)];
	c->buckets[hash(key)] = nd;
	c->n++;
	pthread_mutex_unlock(&c->lock);
	*out = e;
	return 0;
}
