#include "store/shards.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/arena.h"
#include "core/enc.h"
#include "core/err.h"
#include "core/log.h"
#include "store/move.h"
#include "store/queue.h"
#include "store/sql.h"
#include "store/subs.h"
#include "store/subs_int.h"
#include "store/tenant.h"

#define COPY_BATCH 2000
#define CLEANUP_BATCH 5000
/* Readers that picked the shared store just before a cut-over finish long
 * before this; only then do the endpoint's old rows start to go. */
#define CLEANUP_GRACE_MS 2000
/* PostgreSQL: another node may move an endpoint out of the shared store.
 * A reader here learns it from the shard map, asked again for an endpoint
 * once this long has passed (well inside CLEANUP_GRACE_MS, so no read
 * picks the shared store once the endpoint's rows start to go there).
 * Writes need no such wait: the cut-over mark refuses them (subs.c). */
#define ROUTE_CHECK_MS 500
/* Copy rounds past the scan's before a move cuts over regardless. */
#define CATCH_UP_ROUNDS 64
#define ROUTE_CHECKS 1024 /* slots of the when-last-asked table */

struct route {
	int64_t endpoint_id;
	char *location;          /* file name under dir */
	struct substore *store;  /* owned */
};

struct shards {
	struct tenant *t;
	char dir[PATH_MAX];          /* DATA/submissions */
	char *db_url;                /* NULL: SQLite files under dir; else the main server */
	struct shard_server *servers; /* heap copies */
	size_t nservers;
	char *move_to;               /* NULL: the main server */
	struct substore *shared;
	int64_t threshold;
	size_t batch;
	int pause_ms;

	/* When the shard map was last asked about an endpoint still routed to
	 * the shared store (PostgreSQL): a lossy table, a slot per id hash. */
	pthread_mutex_t clock;
	struct { int64_t endpoint_id, at_ms; } checked[ROUTE_CHECKS];
	pthread_rwlock_t lock;       /* guards routes */
	struct route *routes;
	size_t nroutes, cap;

	pthread_mutex_t mlock;       /* guards the fields below */
	pthread_cond_t mwake;
	int stopping;
	int64_t *wanted;             /* endpoints whose count passed the threshold */
	size_t nwanted, wanted_cap;
	int64_t active;              /* endpoint being moved, or 0 */
	int64_t cancel;              /* endpoint whose move must stop */
	pthread_t thread;
	int started;

	/* With a queue (the server), moves run as slow-lane jobs
	 * (shards_run_move) and the mover thread only finds them and queues
	 * them; without one (the CLI) the mover thread runs them itself. */
	struct queue *q;
	int64_t queued;              /* under mlock: endpoint whose move job is out */
	pthread_mutex_t run_lock;    /* one move at a time, whoever runs it */

	/* Stores of deleted endpoints: closed at shutdown, since an op queued
	 * just before the delete may still be forwarded to one. */
	struct substore **retired;
	size_t nretired;
};

/* ---- routes ------------------------------------------------------------------ */

static struct route *find_route(struct shards *s, int64_t endpoint_id)
{
	for (size_t i = 0; i < s->nroutes; i++)
		if (s->routes[i].endpoint_id == endpoint_id)
			return &s->routes[i];
	return NULL;
}

size_t shards_stores(struct shards *s, struct substore ***out)
{
	size_t n = 0;

	pthread_rwlock_rdlock(&s->lock);
	*out = xmalloc((s->nroutes + 1) * sizeof(**out));
	(*out)[n++] = s->shared;
	for (size_t i = 0; i < s->nroutes; i++)
		(*out)[n++] = s->routes[i].store;
	pthread_rwlock_unlock(&s->lock);
	return n;
}

static struct substore *routed(struct shards *s, int64_t endpoint_id)
{
	struct substore *st = s->shared;
	struct route *r;

	pthread_rwlock_rdlock(&s->lock);
	if ((r = find_route(s, endpoint_id)))
		st = r->store;
	pthread_rwlock_unlock(&s->lock);
	return st;
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* 1 when the shard map is due to be asked about the endpoint again (and
 * notes that it is being asked now). */
static int check_due(struct shards *s, int64_t endpoint_id)
{
	size_t slot = (size_t)((uint64_t)endpoint_id * 0x9E3779B97F4A7C15ull >> 54) % ROUTE_CHECKS;
	int64_t now = mono_ms();
	int due;

	pthread_mutex_lock(&s->clock);
	due = s->checked[slot].endpoint_id != endpoint_id || now - s->checked[slot].at_ms >= ROUTE_CHECK_MS;
	if (due) {
		s->checked[slot].endpoint_id = endpoint_id;
		s->checked[slot].at_ms = now;
	}
	pthread_mutex_unlock(&s->clock);
	return due;
}

static struct substore *follow_move(struct shards *s, int64_t endpoint_id);

struct substore *shards_store(struct shards *s, int64_t endpoint_id)
{
	struct substore *st = routed(s, endpoint_id), *moved;

	if (st == s->shared && s->db_url && check_due(s, endpoint_id) && (moved = follow_move(s, endpoint_id)))
		return moved;
	return st;
}

const char *shards_location(struct shards *s, int64_t endpoint_id)
{
	const char *loc = "shared";
	struct route *r;

	(void)shards_store(s, endpoint_id); /* follows another node's move */

	pthread_rwlock_rdlock(&s->lock);
	if ((r = find_route(s, endpoint_id)))
		loc = r->location;
	pthread_rwlock_unlock(&s->lock);
	return loc;
}

/* Adds a route; the caller holds the write lock. */
static void add_route_locked(struct shards *s, int64_t endpoint_id, const char *location, struct substore *st)
{
	if (s->nroutes == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 16;
		s->routes = xrealloc(s->routes, s->cap * sizeof(*s->routes));
	}
	s->routes[s->nroutes].endpoint_id = endpoint_id;
	s->routes[s->nroutes].location = xstrdup(location);
	s->routes[s->nroutes++].store = st;
}

static void add_route(struct shards *s, int64_t endpoint_id, const char *location, struct substore *st)
{
	pthread_rwlock_wrlock(&s->lock);
	add_route_locked(s, endpoint_id, location, st);
	pthread_rwlock_unlock(&s->lock);
}

/* The URL of the server a location names ("<server>:<schema>", or a bare
 * schema on the main server) and the schema; NULL when the server is not
 * configured (INLET_SHARD_SERVERS lost a name the map still uses). */
static const char *server_of(struct shards *s, const char *location, char *schema, size_t size)
{
	const char *colon = strchr(location, ':');

	snprintf(schema, size, "%s", colon ? colon + 1 : location);
	if (!colon)
		return s->db_url;
	for (size_t i = 0; i < s->nservers; i++)
		if (strlen(s->servers[i].name) == (size_t)(colon - location) &&
		    strncmp(s->servers[i].name, location, (size_t)(colon - location)) == 0)
			return s->servers[i].url;
	return NULL;
}

static int open_store(struct shards *s, const char *location, struct substore **out)
{
	char path[PATH_MAX + 256];
	const char *url;

	if (!s->db_url) {
		snprintf(path, sizeof(path), "%s/%s", s->dir, location);
		return substore_open(out, path, location);
	}
	if (!(url = server_of(s, location, path, sizeof(path)))) {
		log_msg(LOG_ERROR, "store %s: no such server in INLET_SHARD_SERVERS", location);
		*out = NULL;
		return INLET_EINVAL;
	}
	return substore_open_target(out, url, path, location);
}

/* Where a new move of the endpoint goes: a file "ep-<pid>.db" (SQLite), or
 * schema "ep_<pid>" lower-cased, other characters as '_' (a schema name is
 * [a-z_][a-z0-9_]*), prefixed with the server's name when it is not the
 * main one. */
static void location_of(struct shards *s, const char *pid, char *out, size_t size)
{
	char schema[64];
	size_t n = 0;

	if (!s->db_url) {
		snprintf(out, size, "ep-%s.db", pid);
		return;
	}
	n = (size_t)snprintf(schema, sizeof(schema), "ep_");
	for (const char *p = pid; *p && n + 1 < sizeof(schema); p++) {
		char ch = *p >= 'A' && *p <= 'Z' ? (char)(*p - 'A' + 'a') : *p;

		schema[n++] = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ? ch : '_';
	}
	schema[n] = '\0';
	if (s->move_to)
		snprintf(out, size, "%s:%s", s->move_to, schema);
	else
		snprintf(out, size, "%s", schema);
}

/* Removes a dedicated store that no endpoint uses any more. */
static void drop_store(struct shards *s, const char *location)
{
	char path[PATH_MAX + 256], wal[PATH_MAX + 270];
	const char *url;
	struct sql_conn *c = NULL;

	if (!s->db_url) {
		snprintf(path, sizeof(path), "%s/%s", s->dir, location);
		unlink(path);
		snprintf(wal, sizeof(wal), "%s-wal", path);
		unlink(wal);
		snprintf(wal, sizeof(wal), "%s-shm", path);
		unlink(wal);
		return;
	}
	if (!(url = server_of(s, location, path, sizeof(path))))
		return;
	/* The schema name was checked by substore_open_target when the store
	 * was made ([a-z_][a-z0-9_]*), so it is safe inside the statement. */
	if (strspn(path, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(path) || !path[0])
		return;
	snprintf(wal, sizeof(wal), "DROP SCHEMA IF EXISTS %.64s CASCADE", path);
	if (sql_open(url, 0, &c) || sql_exec(c, wal))
		log_msg(LOG_ERROR, "dropping store %s failed: %s", location, c ? sql_errmsg(c) : "no connection");
	sql_close(c);
}

/* ---- threshold --------------------------------------------------------------- */

static void want(struct shards *s, int64_t endpoint_id)
{
	pthread_mutex_lock(&s->mlock);
	for (size_t i = 0; i < s->nwanted; i++)
		if (s->wanted[i] == endpoint_id)
			goto out;
	if (s->active == endpoint_id)
		goto out;
	if (s->nwanted == s->wanted_cap) {
		s->wanted_cap = s->wanted_cap ? 2 * s->wanted_cap : 8;
		s->wanted = xrealloc(s->wanted, s->wanted_cap * sizeof(*s->wanted));
	}
	s->wanted[s->nwanted++] = endpoint_id;
	pthread_cond_signal(&s->mwake);
out:
	pthread_mutex_unlock(&s->mlock);
}

/* On the shared store's writer thread, after each batch's counts. */
static void on_count(void *ctx, struct substore *st, int64_t endpoint_id, int64_t total, int64_t threshold)
{
	struct shards *s = ctx;
	int64_t limit = threshold > 0 ? threshold : s->threshold;

	(void)st;
	if (limit > 0 && total >= limit && !substore_moved_to(s->shared, endpoint_id))
		want(s, endpoint_id);
}

int shards_request(struct shards *s, int64_t endpoint_id)
{
	int rc = tenant_move_request(s->t, endpoint_id);

	if (!rc)
		shards_kick(s);
	return rc;
}

int shards_check(struct shards *s, int *stores)
{
	int rc = 0;

	pthread_rwlock_rdlock(&s->lock);
	*stores = (int)s->nroutes;
	for (size_t i = 0; i < s->nroutes && !rc; i++) {
		int64_t n;

		rc = substore_count(s->routes[i].store, -1, &n);
	}
	pthread_rwlock_unlock(&s->lock);
	return rc;
}

void shards_kick(struct shards *s)
{
	pthread_mutex_lock(&s->mlock);
	pthread_cond_signal(&s->mwake);
	pthread_mutex_unlock(&s->mlock);
}

/* ---- the mover ------------------------------------------------------------------ */

static int stop_requested(struct shards *s, int64_t endpoint_id)
{
	int stop;

	pthread_mutex_lock(&s->mlock);
	stop = s->stopping || s->cancel == endpoint_id;
	pthread_mutex_unlock(&s->mlock);
	return stop;
}

struct cut_ctx {
	struct shards *s;
	int64_t endpoint_id;
	const char *location;
	struct substore *dst;
};

static int cut_commit(void *arg)
{
	struct cut_ctx *c = arg;

	return tenant_move_commit(c->s->t, c->endpoint_id, c->location);
}

static void cut_switched(void *arg)
{
	struct cut_ctx *c = arg;

	add_route(c->s, c->endpoint_id, c->location, c->dst);
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static int cleanup(struct shards *s, int64_t endpoint_id, int events)
{
	int left = 1, rc = 0;

	sleep_ms(CLEANUP_GRACE_MS);
	while (left && !stop_requested(s, endpoint_id)) {
		if ((rc = move_cleanup_step(s->shared, endpoint_id, events, CLEANUP_BATCH, &left)))
			return rc;
	}
	if (!left) {
		rc = tenant_move_done(s->t, endpoint_id);
		log_msg(LOG_INFO, "endpoint %lld: old rows removed from the shared store", (long long)endpoint_id);
	}
	return rc;
}

static int move_one(struct shards *s, int64_t endpoint_id)
{
	struct arena *a = arena_create(4096);
	struct endpoint ep;
	struct shard_move mv;
	struct substore *dst = NULL;
	struct cut_ctx cut;
	char location[128];
	int64_t total = 0, copied = 0, step, scan_done;
	int caught_up = 0, complete, rc, published = 0, events;
	int64_t rounds = 0, max_rounds;

	if ((rc = tenant_endpoint_by_id(s->t, endpoint_id, a, &ep)))
		goto out;
	events = strcmp(ep.kind, "events") == 0;
	if (tenant_move_get(s->t, endpoint_id, a, &mv) == 0 && strcmp(mv.state, "cleanup") == 0) {
		rc = cleanup(s, endpoint_id, events);
		goto out;
	}
	if (strcmp(ep.location, "shared") != 0)
		goto out; /* already moved */
	location_of(s, ep.pid, location, sizeof(location));
	if ((rc = open_store(s, location, &dst)))
		goto out;
	substore_count(s->shared, endpoint_id, &total);
	(void)move_progress(dst, endpoint_id, &scan_done, &complete);
	if ((rc = tenant_move_set(s->t, endpoint_id, "copying", location, 0, total)))
		goto out;
	/* From here every write to the endpoint's rows is logged. */
	if ((rc = move_track(s->shared, endpoint_id, 1)))
		goto out;
	log_msg(LOG_INFO, "endpoint %s: moving %lld %s to %s", ep.pid, (long long)total,
		events ? "events" : "submissions", location);
	/* Writes faster than the copy would keep the log from ever running
	 * short: after the rounds the scan needs and CATCH_UP_ROUNDS more,
	 * the cutover takes the rest in one go (writes to this store wait
	 * for it meanwhile, however long the rest is). */
	max_rounds = (total > 0 ? total : 0) / (int64_t)s->batch + 1 + CATCH_UP_ROUNDS;
	while (!caught_up) {
		if (stop_requested(s, endpoint_id)) {
			rc = INLET_ESHUTDOWN;
			goto out;
		}
		if (rounds++ >= max_rounds) {
			log_msg(LOG_WARN, "endpoint %s: writes outpace the copy; cutting over with the rest", ep.pid);
			break;
		}
		if ((rc = move_copy_step(s->shared, dst, endpoint_id, events, s->batch, &step, &caught_up)))
			goto out;
		copied += step;
		(void)tenant_move_set(s->t, endpoint_id, "copying", location, copied, total);
		if (s->pause_ms && !caught_up)
			sleep_ms(s->pause_ms);
	}
	cut = (struct cut_ctx){ .s = s, .endpoint_id = endpoint_id, .location = location, .dst = dst };
	if ((rc = move_cutover(s->shared, dst, endpoint_id, events, cut_commit, cut_switched, &cut)))
		goto out;
	published = 1; /* the route owns dst now */
	(void)tenant_move_set(s->t, endpoint_id, "cleanup", location, total > copied ? total : copied, total);
	log_msg(LOG_INFO, "endpoint %s: now lives in %s", ep.pid, location);
	rc = cleanup(s, endpoint_id, events);
out:
	if (!published)
		substore_close(dst);
	arena_destroy(a);
	return rc;
}

/* The next endpoint to work on: a pending move in tenant.db (resumed or
 * requested by another process) first, then one that passed its threshold. */
static int64_t next_move(struct shards *s)
{
	struct arena *a = arena_create(4096);
	struct shard_move *mv;
	size_t n;
	int64_t id = 0;

	if (tenant_moves(s->t, a, &mv, &n) == 0 && n > 0)
		id = mv[0].endpoint_id;
	arena_destroy(a);
	if (id)
		return id;
	pthread_mutex_lock(&s->mlock);
	if (s->nwanted) {
		id = s->wanted[0];
		memmove(s->wanted, s->wanted + 1, --s->nwanted * sizeof(*s->wanted));
	}
	pthread_mutex_unlock(&s->mlock);
	if (id && tenant_move_request(s->t, id))
		id = 0;
	return id;
}

static void *mover_main(void *arg)
{
	struct shards *s = arg;

	for (;;) {
		int64_t id;
		int rc;

		pthread_mutex_lock(&s->mlock);
		if (s->stopping) {
			pthread_mutex_unlock(&s->mlock);
			break;
		}
		pthread_mutex_unlock(&s->mlock);
		id = next_move(s);
		if (id && s->q) {
			/* The slow lane runs it; queue it once (a job that fails is
			 * retried by the queue, and one left from a dead process
			 * only finds the move done or resumes it). */
			pthread_mutex_lock(&s->mlock);
			if (s->queued != id && s->active != id) {
				char payload[64];
				struct queue_spec spec = { .lane = QUEUE_SLOW, .kind = "shard.move", .payload = payload,
							   .max_attempts = QUEUE_ATTEMPTS_MAX };
				int64_t job;

				snprintf(payload, sizeof(payload), "{\"endpoint_id\":%lld}", (long long)id);
				spec.len = strlen(payload);
				if (queue_enqueue(s->q, &spec, &job) == 0)
					s->queued = id;
			}
			pthread_mutex_unlock(&s->mlock);
			id = 0; /* and wait, as when there is nothing to do */
		}
		if (!id) {
			/* Nothing to do: sleep until woken, or poll tenant.db for
			 * requests from other processes once a second. */
			struct timespec until;

			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += 1;
			pthread_mutex_lock(&s->mlock);
			if (!s->stopping && !s->nwanted)
				pthread_cond_timedwait(&s->mwake, &s->mlock, &until);
			pthread_mutex_unlock(&s->mlock);
			continue;
		}
		rc = shards_run_move(s, id);
		if (rc && rc != INLET_ESHUTDOWN) {
			log_msg(LOG_ERROR, "moving endpoint %lld failed: %s; retrying later", (long long)id,
				inlet_strerror(rc));
			sleep_ms(1000);
		}
	}
	return NULL;
}

int shards_run_move(struct shards *s, int64_t endpoint_id)
{
	int rc;

	pthread_mutex_lock(&s->run_lock);
	pthread_mutex_lock(&s->mlock);
	s->active = endpoint_id;
	pthread_mutex_unlock(&s->mlock);
	rc = move_one(s, endpoint_id);
	pthread_mutex_lock(&s->mlock);
	s->active = 0;
	if (s->cancel == endpoint_id)
		s->cancel = 0;
	if (!rc && s->queued == endpoint_id)
		s->queued = 0;
	pthread_cond_signal(&s->mwake);
	pthread_mutex_unlock(&s->mlock);
	pthread_mutex_unlock(&s->run_lock);
	return rc;
}

void shards_use_queue(struct shards *s, struct queue *q)
{
	pthread_mutex_lock(&s->mlock);
	s->q = q;
	pthread_mutex_unlock(&s->mlock);
}

void shards_halt(struct shards *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->mlock);
	s->stopping = 1;
	pthread_cond_broadcast(&s->mwake);
	pthread_mutex_unlock(&s->mlock);
}

/* ---- lifecycle -------------------------------------------------------------- */

/* Another node may have moved the endpoint out of the shared store: its
 * route comes from the shard map, its store is opened here once. The
 * store, or NULL while the map still says "shared" (or on failure). */
static struct substore *follow_move(struct shards *s, int64_t endpoint_id)
{
	struct arena *a = arena_create(1024);
	struct substore *st = NULL, *had;
	struct endpoint ep;

	if ((had = routed(s, endpoint_id)) != s->shared)
		goto out;
	had = NULL;
	if (tenant_endpoint_by_id(s->t, endpoint_id, a, &ep) || strcmp(ep.location, "shared") == 0)
		goto out;
	if (open_store(s, ep.location, &st)) {
		log_msg(LOG_ERROR, "endpoint %lld: moved to %s by another node, but that store cannot be opened",
			(long long)endpoint_id, ep.location);
		goto out;
	}
	pthread_rwlock_wrlock(&s->lock);
	if (find_route(s, endpoint_id)) {
		had = find_route(s, endpoint_id)->store; /* a move of ours got there first */
	} else {
		add_route_locked(s, endpoint_id, ep.location, st);
		had = st;
		st = NULL;
		log_msg(LOG_INFO, "endpoint %lld: moved to %s by another node; following", (long long)endpoint_id,
			ep.location);
	}
	pthread_rwlock_unlock(&s->lock);
	substore_close(st); /* the one opened in vain, if any */
out:
	arena_destroy(a);
	return had;
}

/* The shared store's resolve_cut (store/subs_int.h), on its writer
 * thread: a write for an endpoint another node's cutover marked. */
static struct substore *resolve_cut(void *ctx, int64_t endpoint_id)
{
	return follow_move(ctx, endpoint_id);
}

int shards_open(struct shards **out, struct tenant *t, const char *data_dir,
		struct substore *shared, const struct shards_config *cfg)
{
	struct shards *s = xcalloc(1, sizeof(*s));
	struct arena *a = arena_create(4096);
	struct endpoint_location *locs;
	struct shard_move *mv;
	size_t n, nm;
	int rc;

	s->t = t;
	s->shared = shared;
	s->threshold = cfg->threshold;
	s->batch = cfg->batch ? cfg->batch : COPY_BATCH;
	s->pause_ms = cfg->pause_ms;
	s->db_url = cfg->db_url ? xstrdup(cfg->db_url) : NULL;
	if (cfg->nservers) {
		s->servers = xcalloc(cfg->nservers, sizeof(*s->servers));
		for (size_t i = 0; i < cfg->nservers; i++) {
			s->servers[i].name = xstrdup(cfg->servers[i].name);
			s->servers[i].url = xstrdup(cfg->servers[i].url);
		}
		s->nservers = cfg->nservers;
	}
	if (cfg->move_to && *cfg->move_to && strcmp(cfg->move_to, "main") != 0)
		s->move_to = xstrdup(cfg->move_to);
	snprintf(s->dir, sizeof(s->dir), "%s/submissions", data_dir);
	pthread_rwlock_init(&s->lock, NULL);
	pthread_mutex_init(&s->clock, NULL);
	pthread_mutex_init(&s->mlock, NULL);
	pthread_mutex_init(&s->run_lock, NULL);
	pthread_cond_init(&s->mwake, NULL);
	if ((rc = tenant_locations(t, a, &locs, &n)))
		goto out;
	for (size_t i = 0; i < n; i++) {
		struct substore *st;

		if ((rc = open_store(s, locs[i].location, &st)))
			goto out;
		add_route(s, locs[i].endpoint_id, locs[i].location, st);
		/* Ops for it that reach the shared store are forwarded (the
		 * store does not serve yet, so this is not racing its writer). */
		substore_set_moved(shared, locs[i].endpoint_id, st);
	}
	if ((rc = tenant_moves(t, a, &mv, &nm)))
		goto out;
	for (size_t i = 0; i < nm; i++)
		if (strcmp(mv[i].state, "copying") == 0)
			substore_set_tracked(shared, mv[i].endpoint_id, 1);
	shared->on_count = on_count;
	shared->on_count_ctx = s;
	shared->resolve_cut = resolve_cut;
	shared->resolve_ctx = s;
	if (pthread_create(&s->thread, NULL, mover_main, s) != 0) {
		rc = INLET_EIO;
		goto out;
	}
	s->started = 1;
out:
	arena_destroy(a);
	if (rc) {
		shards_close(s);
		s = NULL;
	}
	*out = s;
	return rc;
}

void shards_forget(struct shards *s, int64_t endpoint_id)
{
	struct substore *st = NULL;
	char location[256];
	int shared_by_other = 0;

	pthread_mutex_lock(&s->mlock);
	for (size_t i = 0; i < s->nwanted; i++)
		if (s->wanted[i] == endpoint_id)
			s->wanted[i] = s->wanted[--s->nwanted];
	if (s->active == endpoint_id) {
		s->cancel = endpoint_id;
		while (s->active == endpoint_id) {
			pthread_mutex_unlock(&s->mlock);
			sleep_ms(10);
			pthread_mutex_lock(&s->mlock);
		}
	}
	pthread_mutex_unlock(&s->mlock);
	location[0] = '\0';
	pthread_rwlock_wrlock(&s->lock);
	for (size_t i = 0; i < s->nroutes; i++) {
		if (s->routes[i].endpoint_id == endpoint_id) {
			st = s->routes[i].store;
			snprintf(location, sizeof(location), "%s", s->routes[i].location);
			free(s->routes[i].location);
			s->routes[i] = s->routes[--s->nroutes];
			break;
		}
	}
	/* Two pids that differ only in case make one schema name: then the
	 * store stays for the other endpoint (its rows are keyed by endpoint). */
	for (size_t i = 0; st && i < s->nroutes; i++)
		shared_by_other |= strcmp(s->routes[i].location, location) == 0;
	pthread_rwlock_unlock(&s->lock);
	/* Requests that resolved the store just before may still use it; the
	 * endpoint is already gone from the tenant store, so they are few and
	 * brief. The store stays open (forwarding target) until shutdown. */
	if (st) {
		(void)move_track(s->shared, endpoint_id, 0);
		if (shared_by_other)
			(void)substore_delete_endpoint(st, endpoint_id);
		else
			drop_store(s, location);
		pthread_rwlock_wrlock(&s->lock);
		s->retired = xrealloc(s->retired, (s->nretired + 1) * sizeof(*s->retired));
		s->retired[s->nretired++] = st;
		pthread_rwlock_unlock(&s->lock);
	}
}

void shards_stop(struct shards *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->mlock);
	s->stopping = 1;
	pthread_cond_broadcast(&s->mwake);
	pthread_mutex_unlock(&s->mlock);
	if (s->started)
		pthread_join(s->thread, NULL);
	s->started = 0;
	/* Unhook, then forget: the shared store is closed right after. */
	if (s->shared)
		s->shared->on_count = NULL;
	s->shared = NULL;
}

void shards_close(struct shards *s)
{
	if (!s)
		return;
	shards_stop(s);
	for (size_t i = 0; i < s->nroutes; i++) {
		substore_close(s->routes[i].store);
		free(s->routes[i].location);
	}
	for (size_t i = 0; i < s->nretired; i++)
		substore_close(s->retired[i]);
	free(s->retired);
	free(s->routes);
	for (size_t i = 0; i < s->nservers; i++) {
		free((char *)s->servers[i].name);
		free((char *)s->servers[i].url);
	}
	free(s->servers);
	free(s->db_url);
	free(s->move_to);
	free(s->wanted);
	pthread_cond_destroy(&s->mwake);
	pthread_mutex_destroy(&s->mlock);
	pthread_mutex_destroy(&s->clock);
	pthread_mutex_destroy(&s->run_lock);
	pthread_rwlock_destroy(&s->lock);
	free(s);
}
