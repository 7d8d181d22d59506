#include "app/sesscache.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/arena.h"
#include "core/err.h"
#include "store/sessions.h"

#define NBUCKETS 1024

/* One cached lookup. Strings are the entry's own (heap). */
struct entry {
	struct entry *next;         /* in its bucket */
	struct entry *older, *newer; /* in the cache's age list */
	uint8_t hash[32];
	int64_t loaded_ms;
	struct session s;           /* pid and user_agent owned */
	struct user u;              /* pid and email owned; password_hash NULL */
};

struct sesscache {
	pthread_mutex_t lock;
	struct entry *buckets[NBUCKETS]; /* under lock */
	struct entry *oldest, *newest;   /* under lock: put order, the oldest is evicted */
	size_t n, max;                   /* under lock */
	uint64_t gen;                    /* under lock: bumped by every drop that is not an eviction */
	uint64_t hits, misses;           /* under lock */
	int64_t ttl_ms;                  /* constant */
	sesscache_notify_fn notify;      /* constant once set; NULL: nobody to tell */
	void *notify_arg;
};

/* The key is a SHA-256 already: its first bytes are as good as any hash. */
static unsigned bucket_of(const uint8_t hash[32])
{
	uint32_t h;

	memcpy(&h, hash, sizeof(h));
	return h % NBUCKETS;
}

static void entry_free(struct entry *e)
{
	free((char *)e->s.pid);
	free((char *)e->s.user_agent);
	free((char *)e->u.pid);
	free((char *)e->u.email);
	free(e);
}

/* Unlinks e from its bucket and the age list and frees it; under lock. */
static void unlink_entry(struct sesscache *c, struct entry *e)
{
	struct entry **p = &c->buckets[bucket_of(e->hash)];

	while (*p != e)
		p = &(*p)->next;
	*p = e->next;
	if (e->older)
		e->older->newer = e->newer;
	else
		c->oldest = e->newer;
	if (e->newer)
		e->newer->older = e->older;
	else
		c->newest = e->older;
	c->n--;
	entry_free(e);
}

static struct entry *find(struct sesscache *c, const uint8_t hash[32])
{
	struct entry *e = c->buckets[bucket_of(hash)];

	while (e && memcmp(e->hash, hash, 32))
		e = e->next;
	return e;
}

struct sesscache *sesscache_create(size_t max_entries, int64_t ttl_ms)
{
	struct sesscache *c = xcalloc(1, sizeof(*c));

	pthread_mutex_init(&c->lock, NULL);
	c->max = max_entries ? max_entries : SESSCACHE_MAX;
	c->ttl_ms = ttl_ms;
	return c;
}

static void clear_locked(struct sesscache *c)
{
	while (c->oldest)
		unlink_entry(c, c->oldest);
	c->gen++;
}

void sesscache_destroy(struct sesscache *c)
{
	if (!c)
		return;
	clear_locked(c);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

int sesscache_get(struct sesscache *c, const uint8_t hash[32], int64_t now_ms, struct arena *a,
		  struct session *s, struct user *u)
{
	struct entry *e;
	int rc = INLET_ENOTFOUND;

	if (!c)
		return INLET_ENOTFOUND;
	pthread_mutex_lock(&c->lock);
	if ((e = find(c, hash))) {
		/* The session's own expiry first: an expired session is never
		 * served, whatever the TTL says. */
		if (now_ms >= e->s.expires_ms || now_ms - e->loaded_ms >= c->ttl_ms || now_ms < e->loaded_ms) {
			unlink_entry(c, e);
		} else {
			*s = e->s;
			s->pid = arena_strdup(a, e->s.pid);
			s->user_agent = arena_strdup(a, e->s.user_agent);
			*u = e->u;
			u->pid = arena_strdup(a, e->u.pid);
			u->email = arena_strdup(a, e->u.email);
			u->password_hash = NULL;
			rc = 0;
		}
	}
	if (rc)
		c->misses++;
	else
		c->hits++;
	pthread_mutex_unlock(&c->lock);
	return rc;
}

uint64_t sesscache_gen(struct sesscache *c)
{
	uint64_t g;

	if (!c)
		return 0;
	pthread_mutex_lock(&c->lock);
	g = c->gen;
	pthread_mutex_unlock(&c->lock);
	return g;
}

void sesscache_put(struct sesscache *c, uint64_t gen, const uint8_t hash[32], int64_t now_ms,
		   const struct session *s, const struct user *u)
{
	struct entry *e, *old;

	if (!c || c->ttl_ms <= 0 || now_ms >= s->expires_ms || s->user_id != u->id)
		return;
	/* Copies made outside the lock: the hit path should not wait on malloc. */
	e = xcalloc(1, sizeof(*e));
	memcpy(e->hash, hash, 32);
	e->loaded_ms = now_ms;
	e->s = *s;
	e->s.pid = xstrdup(s->pid ? s->pid : "");
	e->s.user_agent = xstrdup(s->user_agent ? s->user_agent : "");
	e->u.id = u->id;
	e->u.pid = xstrdup(u->pid ? u->pid : "");
	e->u.email = xstrdup(u->email ? u->email : "");
	pthread_mutex_lock(&c->lock);
	if (gen != c->gen) {
		/* Something was invalidated while the caller read the store:
		 * what it read may be what was just ended. */
		pthread_mutex_unlock(&c->lock);
		entry_free(e);
		return;
	}
	if ((old = find(c, hash)))
		unlink_entry(c, old);
	while (c->n >= c->max && c->oldest)
		unlink_entry(c, c->oldest);
	e->next = c->buckets[bucket_of(hash)];
	c->buckets[bucket_of(hash)] = e;
	e->older = c->newest;
	if (c->newest)
		c->newest->newer = e;
	else
		c->oldest = e;
	c->newest = e;
	c->n++;
	pthread_mutex_unlock(&c->lock);
}

/* Drops the entries of session id (user 0) or of user id (session 0);
 * under lock. A scan: invalidations are rare, the cache small. */
static void drop_locked(struct sesscache *c, int64_t session_id, int64_t user_id)
{
	struct entry *e = c->oldest, *next;

	for (; e; e = next) {
		next = e->newer;
		if ((session_id && e->s.id == session_id) || (user_id && e->u.id == user_id))
			unlink_entry(c, e);
	}
	c->gen++;
}

static void drop(struct sesscache *c, char kind, int64_t id, int tell)
{
	char msg[SESSCACHE_MSG_MAX];
	int n;

	pthread_mutex_lock(&c->lock);
	drop_locked(c, kind == 's' ? id : 0, kind == 'u' ? id : 0);
	pthread_mutex_unlock(&c->lock);
	if (!tell || !c->notify)
		return;
	n = snprintf(msg, sizeof(msg), "%c:%" PRId64, kind, id);
	if (n > 0 && (size_t)n < sizeof(msg))
		c->notify(c->notify_arg, msg, (size_t)n);
}

void sesscache_invalidate_session(struct sesscache *c, int64_t session_id)
{
	if (c && session_id > 0)
		drop(c, 's', session_id, 1);
}

void sesscache_invalidate_user(struct sesscache *c, int64_t user_id)
{
	if (c && user_id > 0)
		drop(c, 'u', user_id, 1);
}

int sesscache_apply(struct sesscache *c, const char *msg, size_t len)
{
	long long id;
	char *end;

	if (len < 3 || len >= SESSCACHE_MSG_MAX || memchr(msg, '\0', len) || (msg[0] != 's' && msg[0] != 'u') ||
	    msg[1] != ':' || msg[2] < '1' || msg[2] > '9')
		return INLET_EINVAL;
	errno = 0;
	id = strtoll(msg + 2, &end, 10);
	if (errno || end != msg + len || id <= 0)
		return INLET_EINVAL;
	if (c)
		drop(c, msg[0], (int64_t)id, 0);
	return 0;
}

void sesscache_clear(struct sesscache *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	clear_locked(c);
	pthread_mutex_unlock(&c->lock);
}

void sesscache_on_invalidate(struct sesscache *c, sesscache_notify_fn fn, void *arg)
{
	if (!c)
		return;
	c->notify = fn;
	c->notify_arg = arg;
}

void sesscache_stats(struct sesscache *c, uint64_t *hits, uint64_t *misses, size_t *entries)
{
	*hits = *misses = 0;
	*entries = 0;
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	*hits = c->hits;
	*misses = c->misses;
	*entries = c->n;
	pthread_mutex_unlock(&c->lock);
}
