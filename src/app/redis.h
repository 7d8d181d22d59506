/* Redis (INLET_REDIS_URL), for what several inlet nodes behind one load
 * balancer share: rate-limit buckets, the live bus's events and the
 * endpoint cache's invalidations.
 *
 * Redis helps; it is never needed. Request threads never connect and never
 * wait on a Redis that is known to be down: they borrow a connection from a
 * small pool, and when there is none (Redis down, or every connection busy
 * for longer than one command timeout) the caller falls back at once to
 * what it does without Redis (the local limiter). The first failed command
 * marks Redis down; one background thread, started by rds_start, connects
 * again with a growing backoff, keeps the subscriber connection, receives
 * the channels' messages and sends what rds_publish queued (publishing never
 * waits either: messages go into a bounded queue).
 *
 * Every message a node publishes starts with its node tag (random per
 * process), so the subscriber skips its own and hands the others to the
 * channel's handler. Pub/sub ignores Redis's database number: two
 * installations that share one Redis need different prefixes. */
#ifndef INLET_APP_REDIS_H
#define INLET_APP_REDIS_H

#include <stddef.h>

#define RDS_HOST_MAX 256
#define RDS_SECRET_MAX 256
#define RDS_PREFIX_MAX 64
#define RDS_POOL_MAX 64
#define RDS_CHANNELS_MAX 4
#define RDS_MSG_MAX 2048 /* one published message, node tag included */

/* What INLET_REDIS_URL says: redis://[[user]:password@]host[:port][/db]. */
struct rds_url {
	char host[RDS_HOST_MAX];       /* a name or an address (IPv6 without its brackets) */
	unsigned port;                 /* 6379 unless given */
	char user[RDS_SECRET_MAX];     /* "": AUTH with the password alone */
	char password[RDS_SECRET_MAX]; /* percent-decoded; "": no AUTH */
	unsigned db;                   /* SELECTed on every connection; 0 unless given */
};

/* Parses url into *out. INLET_EINVAL for anything else than the form
 * above (another scheme, rediss:// included; an empty host; a port out of
 * 1..65535; a db that is not a number; a query or fragment; a bad %XX;
 * parts longer than their fields). Touches no network. */
int rds_url_parse(const char *url, struct rds_url *out);

struct rds_config {
	const char *url;        /* INLET_REDIS_URL (copied, parsed) */
	const char *prefix;     /* keys and channels are "<prefix>:..." (copied) */
	unsigned connect_ms;    /* one connection attempt, e.g. 50 */
	unsigned command_ms;    /* one command's answer, e.g. 100 */
	unsigned pool;          /* connections lent to callers, 1..RDS_POOL_MAX */
};

struct rds;

/* A channel's handler: runs on the background thread with one message of
 * another node (the node tag removed; msg is NUL-terminated, len excludes
 * the NUL). It should be quick (the next messages wait) and must not
 * call rds_destroy. */
typedef void (*rds_msg_fn)(void *arg, const char *msg, size_t len);
/* Runs on the background thread each time the subscriber has (re)joined
 * every channel: messages sent while it was away are lost, so what they
 * would have invalidated should be dropped now. */
typedef void (*rds_resync_fn)(void *arg);

/* Parses the URL and makes the object; connects nothing (rds_start does).
 * INLET_EINVAL: a bad URL, prefix or pool size. */
int rds_create(struct rds **out, const struct rds_config *cfg);
/* Subscribes fn to "<prefix>:<channel>". Before rds_start only;
 * INLET_ETOOMANY past RDS_CHANNELS_MAX. */
int rds_listen(struct rds *r, const char *channel, rds_msg_fn fn, void *arg);
/* Before rds_start only. */
void rds_on_resync(struct rds *r, rds_resync_fn fn, void *arg);
/* Starts the background thread, which connects (callers fall back until
 * it has). INLET_EIO if the thread cannot start. */
int rds_start(struct rds *r);
/* Stops the thread and closes every connection. No caller may be using r
 * (the HTTP server and the writers have stopped). Accepts NULL. */
void rds_destroy(struct rds *r);

/* Takes one token of the shared bucket "<prefix>:rl:<name>" (one atomic
 * script; Redis's clock, so nodes' clocks need not agree). 0 and *wait = 0
 * (allowed) or the seconds until a token is there; INLET_EIO when Redis
 * did not answer in time or is down: the caller decides locally. The key
 * expires once the bucket would be full again. */
int rds_bucket_take(struct rds *r, const char *name, unsigned per_minute, unsigned burst, unsigned *wait);
/* Queues msg (len bytes, copied) for "<prefix>:<channel>" and returns at
 * once. INLET_EIO when Redis is down, INLET_ETOOBIG past RDS_MSG_MAX,
 * INLET_EBUSY when the queue is full: the message is dropped (and
 * counted); what it said reaches the other nodes late (cache TTL) or not
 * at all (a live event). */
int rds_publish(struct rds *r, const char *channel, const char *msg, size_t len);
/* 0 when a PING answers and the subscriber is in; INLET_EIO otherwise.
 * Waits at most one command timeout, and not at all when Redis is known
 * to be down. */
int rds_check(struct rds *r);

#endif
