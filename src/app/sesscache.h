/* Cookie sessions by token hash, for the dashboard API: without it every
 * cookie request reads the session and its user from the tenant store.
 *
 * An entry is a copy (heap-owned, no password hash) of what
 * sessions_get and sessions_user_by_id answered, trusted for ttl_ms after
 * it was read and never past the session's own expiry. What ends a
 * session drops the entries here at once and tells the notify hook
 * (app/app.c publishes on Redis "<prefix>:sessions"), so every other node
 * drops them too; without Redis another node notices within the TTL.
 * Memberships are not cached here: roles change at once everywhere.
 *
 * Thread-safe: one mutex; the hit path copies a few strings under it.
 * Every function accepts c == NULL (no cache: always a miss). */
#ifndef INLET_APP_SESSCACHE_H
#define INLET_APP_SESSCACHE_H

#include <stddef.h>
#include <stdint.h>

struct arena;
struct session;
struct user;
struct sesscache;

#define SESSCACHE_MAX 4096
#define SESSCACHE_MSG_MAX 32 /* "s:<id>" or "u:<id>", NUL included */

/* max_entries 0: SESSCACHE_MAX. ttl_ms 0: a cache that never keeps
 * anything (every lookup reads the store). */
struct sesscache *sesscache_create(size_t max_entries, int64_t ttl_ms);
void sesscache_destroy(struct sesscache *c);

/* The cached session and user of hash at time now_ms, their strings
 * copied into a; password_hash is NULL. INLET_ENOTFOUND: not cached,
 * older than the TTL, or the session expired (the entry is dropped). */
int sesscache_get(struct sesscache *c, const uint8_t hash[32], int64_t now_ms, struct arena *a,
		  struct session *s, struct user *u);
/* The generation to pass to sesscache_put: read it before the store is
 * read, so that an invalidation between the read and the put wins. */
uint64_t sesscache_gen(struct sesscache *c);
/* Keeps a copy of s and u under hash (loaded at now_ms), unless an
 * invalidation came after gen was read, the session has expired, or the
 * TTL is 0. The oldest entry goes when the cache is full. */
void sesscache_put(struct sesscache *c, uint64_t gen, const uint8_t hash[32], int64_t now_ms,
		   const struct session *s, const struct user *u);

/* A session ended (logout): its entry goes here and the hook is told. */
void sesscache_invalidate_session(struct sesscache *c, int64_t session_id);
/* A user's sessions changed (one revoked, a password or the user gone):
 * every entry of the user goes here and the hook is told. */
void sesscache_invalidate_user(struct sesscache *c, int64_t user_id);
/* Another node's message (msg NUL-terminated, as the hook produced it):
 * the entries it names go, nobody is told. INLET_EINVAL: not a message of
 * this form (nothing dropped). */
int sesscache_apply(struct sesscache *c, const char *msg, size_t len);
/* Drops every entry: invalidations may have been missed. */
void sesscache_clear(struct sesscache *c);

/* Called by the invalidate functions after the local drop, on the caller's
 * thread, with the message for sesscache_apply on the other nodes; it
 * must not block on the network (app.c queues it). */
typedef void (*sesscache_notify_fn)(void *arg, const char *msg, size_t len);
/* Set once, before the cache is used by more than one thread. */
void sesscache_on_invalidate(struct sesscache *c, sesscache_notify_fn fn, void *arg);

/* Hits, misses (lookups that went to the store) and entries, for /metrics. */
void sesscache_stats(struct sesscache *c, uint64_t *hits, uint64_t *misses, size_t *entries);

#endif
