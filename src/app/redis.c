/* Redis through hiredis (see redis.h for the contract). Two kinds of
 * connection: a pool lent to callers for one command at a time (rate-limit
 * takes, health checks, the background thread's PUBLISHes), and the
 * subscriber, which belongs to the background thread alone. hiredis
 * contexts are not thread-safe; a lent context has one user until it is
 * given back. */
#include "app/redis.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "core/alloc.h"
#include "core/enc.h"
#include "core/err.h"
#include "core/log.h"
#include "core/metrics.h"

#define TAG_LEN 16             /* hex of 8 random bytes */
#define QUEUE_MAX 4096         /* messages waiting for the background thread */
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000
#define STABLE_MS 10000        /* up this long: a failure after it starts the backoff over */
#define TICK_MS 1000           /* the background thread looks around at least this often */
#define SUB_PING_MS 5000       /* a quiet subscriber sends PING... */
#define SUB_PONG_MS 3000       /* ...and is dropped when nothing answers in this time */

/* The token bucket, one atomic step: refill by the time passed on Redis's
 * clock (so nodes' clocks need not agree; TIME in a script needs Redis 5's
 * effect replication), take a token or say how long until there is one.
 * A missing key is a full bucket, which is why the key may expire once
 * the bucket would have refilled. KEYS[1] the bucket; ARGV per minute,
 * burst. Returns the seconds to wait, 0 when a token was taken. The same
 * arithmetic as ingest/ratelimit.c, so a fallback behaves alike. */
static const char BUCKET_LUA[] =
	"local t = redis.call('TIME')\n"
	"local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
	"local rate = tonumber(ARGV[1]) / 60000\n"
	"local burst = tonumber(ARGV[2])\n"
	"local b = redis.call('HMGET', KEYS[1], 'tokens', 'last')\n"
	"local tokens, last = tonumber(b[1]), tonumber(b[2])\n"
	"if not tokens or not last then tokens, last = burst, now end\n"
	"if now > last then\n"
	"  tokens = math.min(burst, tokens + (now - last) * rate)\n"
	"  last = now\n"
	"end\n"
	"local wait = 0\n"
	"if tokens >= 1 then\n"
	"  tokens = tokens - 1\n"
	"else\n"
	"  wait = math.max(1, math.ceil((1 - tokens) / rate / 1000))\n"
	"end\n"
	"redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens), 'last', string.format('%d', last))\n"
	"redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate) + 1000)\n"
	"return wait\n";

/* A message on its way to PUBLISH. */
struct msg {
	struct msg *next;
	const char *channel;  /* into buf: "<prefix>:<channel>" */
	const char *data;     /* into buf: "<tag> <message>" */
	size_t len;           /* of data */
	char buf[];
};

struct listener {
	char channel[RDS_PREFIX_MAX + 64]; /* the full name */
	rds_msg_fn fn;
	void *arg;
};

struct rds {
	/* Constant once rds_start has run. */
	struct rds_url url;
	char prefix[RDS_PREFIX_MAX];
	struct timeval connect_tv, command_tv;
	unsigned command_ms;
	unsigned pool_size;
	char tag[TAG_LEN + 1];            /* this process's node tag */
	struct listener listeners[RDS_CHANNELS_MAX];
	size_t nlisteners;
	rds_resync_fn resync;
	void *resync_arg;
	int wake[2];                      /* a byte in wake[1] wakes the thread */

	pthread_mutex_t lock;
	pthread_cond_t freed;             /* a connection went back to idle, or up changed */
	/* Under lock. */
	int up;                           /* the pool is connected; 0: callers fall back */
	uint64_t gen;                     /* bumped when the pool goes down: a lent connection
					   * of an older gen is closed when it comes back */
	redisContext *idle[RDS_POOL_MAX]; /* connections of gen not lent out */
	size_t nidle;                     /* <= pool_size */
	char sha[41];                     /* the bucket script's SHA1 (SCRIPT LOAD); "" unknown */
	int sub_in;                       /* the subscriber has joined every channel */
	struct msg *qhead, **qtail;       /* to PUBLISH, oldest first */
	size_t qlen;
	int stopping;

	pthread_t thread;                 /* the owner's: rds_start and rds_destroy */
	int started;
};

/* The background thread's own state (on its stack). */
struct bg {
	redisContext *sub;       /* the subscriber; NULL while away */
	size_t joined;           /* channels it has confirmed since it connected */
	int64_t sub_at;          /* no new subscriber before (monotonic ms) */
	int64_t sub_backoff;
	int64_t last_rx;         /* when the subscriber last received anything */
	int64_t ping_at;         /* when a PING went unanswered since; 0: none out */
	int pool_was_up;         /* what the thread saw last time round */
	int64_t pool_at;         /* no new pool before */
	int64_t pool_backoff;
	int64_t up_since;
	int said_down;           /* "unavailable" logged since the last "connected" */
};

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct timeval tv_of(unsigned ms)
{
	return (struct timeval){ .tv_sec = ms / 1000, .tv_usec = (suseconds_t)(ms % 1000) * 1000 };
}

static void wake(struct rds *r)
{
	ssize_t n = write(r->wake[1], "", 1);

	(void)n; /* a full pipe wakes the thread as well as one more byte would */
}

static void log_where(enum log_level lvl, const struct rds *r, const char *msg, const char *why)
{
	char fields[512] = "";

	log_field_str(fields, sizeof(fields), "host", r->url.host);
	log_field_int(fields, sizeof(fields), "port", r->url.port);
	if (why && *why)
		log_field_str(fields, sizeof(fields), "error", why);
	log_emit(lvl, msg, fields);
}

/* ---- connections ---------------------------------------------------------- */

static int reply_ok(const redisReply *rep)
{
	return rep && rep->type == REDIS_REPLY_STATUS && strcmp(rep->str, "OK") == 0;
}

/* A new connection, logged in and on the URL's database, with the command
 * timeout on its socket; NULL on failure (counted). Blocks at most the
 * connect timeout plus two command timeouts. */
static redisContext *connect_one(struct rds *r, char *why, size_t whysize)
{
	redisContext *c = redisConnectWithTimeout(r->url.host, (int)r->url.port, r->connect_tv);
	redisReply *rep = NULL;

	if (!c || c->err)
		goto fail;
	if (redisSetTimeout(c, r->command_tv) != REDIS_OK)
		goto fail;
	if (r->url.password[0]) {
		if (r->url.user[0])
			rep = redisCommand(c, "AUTH %s %s", r->url.user, r->url.password);
		else
			rep = redisCommand(c, "AUTH %s", r->url.password);
		if (!reply_ok(rep))
			goto fail;
		freeReplyObject(rep);
		rep = NULL;
	}
	if (r->url.db) {
		rep = redisCommand(c, "SELECT %u", r->url.db);
		if (!reply_ok(rep))
			goto fail;
		freeReplyObject(rep);
	}
	return c;
fail:
	snprintf(why, whysize, "%s", !c ? "out of memory" : c->err ? c->errstr
			       : rep && rep->type == REDIS_REPLY_ERROR ? rep->str : "unexpected answer");
	if (rep)
		freeReplyObject(rep);
	redisFree(c);
	metrics_redis(METRICS_REDIS_ERROR);
	return NULL;
}

/* Under lock: the pool is down. Idle connections close now, lent ones as
 * they come back; waiting borrowers give up; the thread reconnects. */
static void mark_down_locked(struct rds *r)
{
	if (!r->up)
		return;
	r->up = 0;
	r->gen++;
	while (r->nidle)
		redisFree(r->idle[--r->nidle]);
	pthread_cond_broadcast(&r->freed);
	wake(r);
}

/* A pool connection for one command, or NULL at once when Redis is down,
 * or after one command timeout when every connection is lent out. *gen
 * and sha (41 bytes, may be NULL) are what give_back and EVALSHA need. */
static redisContext *borrow(struct rds *r, uint64_t *gen, char *sha)
{
	redisContext *c = NULL;
	struct timespec until;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += r->command_ms / 1000;
	until.tv_nsec += (long)(r->command_ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&r->lock);
	while (r->up && !r->nidle && !r->stopping)
		if (pthread_cond_timedwait(&r->freed, &r->lock, &until) == ETIMEDOUT)
			break;
	if (r->up && r->nidle) {
		c = r->idle[--r->nidle];
		*gen = r->gen;
		if (sha)
			memcpy(sha, r->sha, sizeof(r->sha));
	}
	pthread_mutex_unlock(&r->lock);
	return c;
}

/* Returns c to the pool, or closes it: broken (its first failure takes
 * the pool down), or of a pool that went down while it was lent. */
static void give_back(struct rds *r, redisContext *c, uint64_t gen)
{
	pthread_mutex_lock(&r->lock);
	if (c->err || gen != r->gen) {
		if (c->err && gen == r->gen) {
			metrics_redis(METRICS_REDIS_ERROR);
			mark_down_locked(r);
		}
		redisFree(c);
	} else {
		assert(r->nidle < r->pool_size);
		r->idle[r->nidle++] = c;
		pthread_cond_signal(&r->freed);
	}
	pthread_mutex_unlock(&r->lock);
}

/* ---- the callers' side ------------------------------------------------------ */

int rds_create(struct rds **out, const struct rds_config *cfg)
{
	struct rds *r;
	pthread_condattr_t ca;
	uint8_t raw[TAG_LEN / 2];
	size_t plen = cfg->prefix ? strlen(cfg->prefix) : 0;

	*out = NULL;
	if (plen == 0 || plen >= RDS_PREFIX_MAX || strspn(cfg->prefix, "abcdefghijklmnopqrstuvwxyz"
					"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.:{}") != plen)
		return INLET_EINVAL;
	if (cfg->pool < 1 || cfg->pool > RDS_POOL_MAX || !cfg->connect_ms || !cfg->command_ms)
		return INLET_EINVAL;
	r = xcalloc(1, sizeof(*r));
	if (rds_url_parse(cfg->url, &r->url)) {
		secure_wipe(&r->url, sizeof(r->url));
		free(r);
		return INLET_EINVAL;
	}
	if (pipe2(r->wake, O_CLOEXEC | O_NONBLOCK)) {
		secure_wipe(&r->url, sizeof(r->url));
		free(r);
		return INLET_EIO;
	}
	memcpy(r->prefix, cfg->prefix, plen + 1);
	r->connect_tv = tv_of(cfg->connect_ms);
	r->command_tv = tv_of(cfg->command_ms);
	r->command_ms = cfg->command_ms;
	r->pool_size = cfg->pool;
	rand_bytes(raw, sizeof(raw));
	hex_encode(r->tag, raw, sizeof(raw));
	pthread_mutex_init(&r->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->freed, &ca);
	pthread_condattr_destroy(&ca);
	r->qtail = &r->qhead;
	*out = r;
	return 0;
}

int rds_listen(struct rds *r, const char *channel, rds_msg_fn fn, void *arg)
{
	struct listener *l;

	assert(!r->started);
	if (r->nlisteners == RDS_CHANNELS_MAX)
		return INLET_ETOOMANY;
	l = &r->listeners[r->nlisteners];
	if ((size_t)snprintf(l->channel, sizeof(l->channel), "%s:%s", r->prefix, channel) >= sizeof(l->channel))
		return INLET_ETOOBIG;
	l->fn = fn;
	l->arg = arg;
	r->nlisteners++;
	return 0;
}

void rds_on_resync(struct rds *r, rds_resync_fn fn, void *arg)
{
	assert(!r->started);
	r->resync = fn;
	r->resync_arg = arg;
}

int rds_bucket_take(struct rds *r, const char *name, unsigned per_minute, unsigned burst, unsigned *wait)
{
	char key[RDS_PREFIX_MAX + 128], sha[41];
	redisReply *rep = NULL;
	redisContext *c;
	uint64_t gen;
	int rc = INLET_EIO;

	*wait = 0;
	if ((size_t)snprintf(key, sizeof(key), "%s:rl:%s", r->prefix, name) >= sizeof(key))
		return INLET_ETOOBIG;
	if (!(c = borrow(r, &gen, sha)))
		return INLET_EIO;
	if (sha[0]) {
		rep = redisCommand(c, "EVALSHA %s 1 %s %u %u", sha, key, per_minute, burst);
		/* NOSCRIPT: the script cache was flushed (SCRIPT FLUSH, a
		 * failover to a replica that never saw SCRIPT LOAD). EVAL
		 * runs it and caches it again. */
		if (rep && rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, "NOSCRIPT", 8) == 0) {
			freeReplyObject(rep);
			rep = NULL;
		}
	}
	if (!rep && !c->err)
		rep = redisCommand(c, "EVAL %s 1 %s %u %u", BUCKET_LUA, key, per_minute, burst);
	if (rep && rep->type == REDIS_REPLY_INTEGER && rep->integer >= 0) {
		*wait = rep->integer > UINT_MAX ? UINT_MAX : (unsigned)rep->integer;
		rc = 0;
	} else if (rep) {
		/* An error answer (a read-only replica, an ACL refusal, OOM):
		 * the connection is fine, this take is decided locally. */
		metrics_redis(METRICS_REDIS_ERROR);
		log_msg(LOG_DEBUG, "redis: bucket script: %s", rep->type == REDIS_REPLY_ERROR ? rep->str : "unexpected answer");
	}
	if (rep)
		freeReplyObject(rep);
	give_back(r, c, gen);
	return rc;
}

int rds_publish(struct rds *r, const char *channel, const char *msg, size_t len)
{
	size_t clen = strlen(r->prefix) + 1 + strlen(channel) + 1, dlen = TAG_LEN + 1 + len;
	struct msg *m;
	int rc = 0;

	if (dlen > RDS_MSG_MAX) {
		metrics_redis(METRICS_REDIS_DROPPED);
		return INLET_ETOOBIG;
	}
	m = xmalloc(sizeof(*m) + clen + dlen + 1);
	m->next = NULL;
	snprintf(m->buf, clen, "%s:%s", r->prefix, channel);
	memcpy(m->buf + clen, r->tag, TAG_LEN);
	m->buf[clen + TAG_LEN] = ' ';
	memcpy(m->buf + clen + TAG_LEN + 1, msg, len);
	m->buf[clen + dlen] = '\0';
	m->channel = m->buf;
	m->data = m->buf + clen;
	m->len = dlen;
	pthread_mutex_lock(&r->lock);
	if (!r->up || r->stopping) {
		rc = INLET_EIO;
	} else if (r->qlen >= QUEUE_MAX) {
		rc = INLET_EBUSY;
	} else {
		*r->qtail = m;
		r->qtail = &m->next;
		r->qlen++;
	}
	pthread_mutex_unlock(&r->lock);
	if (rc) {
		free(m);
		metrics_redis(METRICS_REDIS_DROPPED);
	} else {
		wake(r);
	}
	return rc;
}

int rds_check(struct rds *r)
{
	redisContext *c;
	redisReply *rep;
	uint64_t gen;
	int rc = INLET_EIO, sub_in;

	if (!(c = borrow(r, &gen, NULL)))
		return INLET_EIO;
	rep = redisCommand(c, "PING");
	if (rep && rep->type == REDIS_REPLY_STATUS && strcmp(rep->str, "PONG") == 0)
		rc = 0;
	if (rep)
		freeReplyObject(rep);
	give_back(r, c, gen);
	pthread_mutex_lock(&r->lock);
	sub_in = r->sub_in;
	pthread_mutex_unlock(&r->lock);
	return rc ? rc : sub_in || !r->nlisteners ? 0 : INLET_EIO;
}

/* ---- the background thread ---------------------------------------------------- */

/* Connects the pool: one connection that also loads the script, then as
 * many more as come (at least one is a working pool). */
static int pool_fill(struct rds *r, char *why, size_t whysize)
{
	redisContext *cs[RDS_POOL_MAX];
	redisReply *rep;
	char sha[41] = "";
	size_t n = 0;

	if (!(cs[0] = connect_one(r, why, whysize)))
		return INLET_EIO;
	rep = redisCommand(cs[0], "SCRIPT LOAD %s", BUCKET_LUA);
	if (!rep) {
		snprintf(why, whysize, "%s", cs[0]->errstr);
		redisFree(cs[0]);
		metrics_redis(METRICS_REDIS_ERROR);
		return INLET_EIO;
	}
	/* Anything but a SHA (scripts refused by an ACL, say): takes go
	 * straight to EVAL, which answers with the reason. */
	if (rep->type == REDIS_REPLY_STRING && rep->len == 40)
		memcpy(sha, rep->str, 41);
	freeReplyObject(rep);
	for (n = 1; n < r->pool_size; n++)
		if (!(cs[n] = connect_one(r, why, whysize)))
			break;
	pthread_mutex_lock(&r->lock);
	assert(!r->up && r->nidle == 0);
	for (size_t i = 0; i < n; i++)
		r->idle[r->nidle++] = cs[i];
	memcpy(r->sha, sha, sizeof(sha));
	r->up = 1;
	pthread_cond_broadcast(&r->freed);
	pthread_mutex_unlock(&r->lock);
	return 0;
}

static void sub_drop(struct rds *r, struct bg *b, const char *why)
{
	log_where(LOG_WARN, r, "redis subscriber lost; reconnecting", why);
	metrics_redis(METRICS_REDIS_ERROR);
	redisFree(b->sub);
	b->sub = NULL;
	b->sub_at = mono_ms() + b->sub_backoff;
	pthread_mutex_lock(&r->lock);
	r->sub_in = 0;
	pthread_mutex_unlock(&r->lock);
}

/* A subscriber that has sent SUBSCRIBE for every channel; the confirmations
 * arrive with the messages (sub_reply). */
static int sub_connect(struct rds *r, struct bg *b, char *why, size_t whysize)
{
	const char *argv[RDS_CHANNELS_MAX + 1];
	redisContext *c;
	int done = 0;

	if (!(c = connect_one(r, why, whysize)))
		return INLET_EIO;
	argv[0] = "SUBSCRIBE";
	for (size_t i = 0; i < r->nlisteners; i++)
		argv[i + 1] = r->listeners[i].channel;
	if (redisAppendCommandArgv(c, (int)r->nlisteners + 1, argv, NULL) != REDIS_OK)
		goto fail;
	while (!done)
		if (redisBufferWrite(c, &done) != REDIS_OK)
			goto fail;
	b->sub = c;
	b->joined = 0;
	b->last_rx = mono_ms();
	b->ping_at = 0;
	return 0;
fail:
	snprintf(why, whysize, "%s", c->errstr);
	redisFree(c);
	metrics_redis(METRICS_REDIS_ERROR);
	return INLET_EIO;
}

static void sub_reply(struct rds *r, struct bg *b, const redisReply *rep)
{
	const redisReply *kind, *ch, *body;

	b->last_rx = mono_ms();
	b->ping_at = 0;
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 1 || rep->element[0]->type != REDIS_REPLY_STRING)
		return;
	kind = rep->element[0];
	if (strcmp(kind->str, "subscribe") == 0) {
		/* Every channel in: from now on nothing is missed, so what was
		 * missed before can be dropped. */
		if (++b->joined == r->nlisteners) {
			pthread_mutex_lock(&r->lock);
			r->sub_in = 1;
			pthread_mutex_unlock(&r->lock);
			b->sub_backoff = BACKOFF_MIN_MS;
			log_where(LOG_INFO, r, "redis subscriber in", NULL);
			if (r->resync)
				r->resync(r->resync_arg);
		}
		return;
	}
	if (strcmp(kind->str, "message") != 0 || rep->elements != 3)
		return; /* "pong" and the like: alive, nothing more */
	ch = rep->element[1];
	body = rep->element[2];
	if (ch->type != REDIS_REPLY_STRING || body->type != REDIS_REPLY_STRING || body->len < TAG_LEN + 1 ||
	    body->str[TAG_LEN] != ' ' || memcmp(body->str, r->tag, TAG_LEN) == 0)
		return; /* not ours to read, or our own message coming back */
	for (size_t i = 0; i < r->nlisteners; i++) {
		const struct listener *l = &r->listeners[i];

		if (strlen(l->channel) == ch->len && memcmp(l->channel, ch->str, ch->len) == 0) {
			l->fn(l->arg, body->str + TAG_LEN + 1, body->len - TAG_LEN - 1);
			return;
		}
	}
}

static void sub_read(struct rds *r, struct bg *b)
{
	void *rep;

	if (redisBufferRead(b->sub) != REDIS_OK) {
		sub_drop(r, b, b->sub->errstr);
		return;
	}
	for (;;) {
		if (redisGetReplyFromReader(b->sub, &rep) != REDIS_OK) {
			sub_drop(r, b, b->sub->errstr);
			return;
		}
		if (!rep)
			return;
		sub_reply(r, b, (const redisReply *)rep);
		freeReplyObject(rep);
	}
}

/* A quiet subscriber might be talking to a Redis that vanished without a
 * word (a dropped route sends no FIN): a PING finds out. */
static void sub_keepalive(struct rds *r, struct bg *b, int64_t now)
{
	int done = 0;

	if (b->ping_at) {
		if (now - b->ping_at > SUB_PONG_MS)
			sub_drop(r, b, "no answer to PING");
		return;
	}
	if (now - b->last_rx < SUB_PING_MS)
		return;
	if (redisAppendCommand(b->sub, "PING") != REDIS_OK) {
		sub_drop(r, b, b->sub->errstr);
		return;
	}
	while (!done)
		if (redisBufferWrite(b->sub, &done) != REDIS_OK) {
			sub_drop(r, b, b->sub->errstr);
			return;
		}
	b->ping_at = now;
}

/* Sends what rds_publish queued, pipelined on one pool connection. When
 * Redis is down the messages are dropped (counted): a live event is worth
 * nothing late, and an invalidation is covered by the cache's TTL. */
static void send_queued(struct rds *r)
{
	struct msg *list, *m, *next;
	redisContext *c;
	uint64_t gen;
	size_t n = 0, sent = 0;

	pthread_mutex_lock(&r->lock);
	list = r->qhead;
	r->qhead = NULL;
	r->qtail = &r->qhead;
	r->qlen = 0;
	pthread_mutex_unlock(&r->lock);
	if (!list)
		return;
	if ((c = borrow(r, &gen, NULL))) {
		for (m = list; m; m = m->next)
			if (redisAppendCommand(c, "PUBLISH %s %b", m->channel, m->data, m->len) == REDIS_OK)
				n++;
		while (sent < n) {
			void *rep;

			if (redisGetReply(c, &rep) != REDIS_OK)
				break;
			freeReplyObject(rep);
			sent++;
		}
		give_back(r, c, gen);
	}
	for (m = list; m; m = next) {
		next = m->next;
		if (sent)
			sent--;
		else
			metrics_redis(METRICS_REDIS_DROPPED);
		free(m);
	}
}

/* The pool: after a failure, a new attempt at once the first time (a
 * restarted Redis is back quickly), then with a backoff that doubles up to
 * BACKOFF_MAX_MS. A pool that fails again soon after it came up (a Redis
 * too slow to answer within the command timeout) keeps its backoff, so
 * that requests do not pay one timeout per reconnection. */
static void pool_tend(struct rds *r, struct bg *b, int up, int64_t now)
{
	char why[160] = "";

	if (b->pool_was_up && !up) {
		if (now - b->up_since < STABLE_MS) {
			b->pool_at = now + b->pool_backoff;
		} else {
			b->pool_backoff = BACKOFF_MIN_MS;
			b->pool_at = now;
		}
		log_where(LOG_WARN, r, "redis unavailable; rate limits are local until it is back", NULL);
		b->said_down = 1;
	}
	b->pool_was_up = up;
	if (up || now < b->pool_at)
		return;
	if (pool_fill(r, why, sizeof(why)) == 0) {
		b->pool_was_up = 1;
		b->up_since = now;
		b->said_down = 0;
		log_where(LOG_INFO, r, "redis connected", NULL);
		return;
	}
	if (!b->said_down) {
		log_where(LOG_WARN, r, "redis unavailable; rate limits are local until it is back", why);
		b->said_down = 1;
	}
	b->pool_at = now + b->pool_backoff;
	b->pool_backoff = b->pool_backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : b->pool_backoff * 2;
}

static void *bg_main(void *arg)
{
	struct rds *r = arg;
	struct bg b = { .sub_backoff = BACKOFF_MIN_MS, .pool_backoff = BACKOFF_MIN_MS };

	for (;;) {
		int64_t now = mono_ms(), wait = TICK_MS;
		struct pollfd pf[2] = { { .fd = r->wake[0], .events = POLLIN }, { .fd = -1 } };
		char why[160] = "", drain[64];
		int up, stopping;

		pthread_mutex_lock(&r->lock);
		up = r->up;
		stopping = r->stopping;
		pthread_mutex_unlock(&r->lock);
		if (stopping)
			break;
		pool_tend(r, &b, up, now);
		if (!b.sub && now >= b.sub_at && r->nlisteners) {
			if (sub_connect(r, &b, why, sizeof(why))) {
				b.sub_at = now + b.sub_backoff;
				b.sub_backoff = b.sub_backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : b.sub_backoff * 2;
			}
		}
		if (b.sub)
			sub_keepalive(r, &b, now);
		send_queued(r);

		now = mono_ms();
		if (!b.pool_was_up && b.pool_at - now < wait)
			wait = b.pool_at - now;
		if (!b.sub && r->nlisteners && b.sub_at - now < wait)
			wait = b.sub_at - now;
		if (b.sub) {
			pf[1].fd = b.sub->fd;
			pf[1].events = POLLIN;
		}
		if (poll(pf, 2, wait < 0 ? 0 : (int)wait) < 0 && errno != EINTR)
			break; /* cannot happen with two valid descriptors */
		if (b.sub && pf[1].revents)
			sub_read(r, &b);
		if (pf[0].revents)
			while (read(r->wake[0], drain, sizeof(drain)) > 0)
				;
	}
	redisFree(b.sub);
	return NULL;
}

int rds_start(struct rds *r)
{
	if (pthread_create(&r->thread, NULL, bg_main, r))
		return INLET_EIO;
	r->started = 1;
	return 0;
}

void rds_destroy(struct rds *r)
{
	struct msg *m, *next;

	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	r->stopping = 1;
	pthread_cond_broadcast(&r->freed);
	pthread_mutex_unlock(&r->lock);
	wake(r);
	if (r->started)
		pthread_join(r->thread, NULL);
	while (r->nidle)
		redisFree(r->idle[--r->nidle]);
	for (m = r->qhead; m; m = next) {
		next = m->next;
		free(m);
	}
	close(r->wake[0]);
	close(r->wake[1]);
	pthread_cond_destroy(&r->freed);
	pthread_mutex_destroy(&r->lock);
	secure_wipe(&r->url, sizeof(r->url));
	free(r);
}
