#include "jobs/runner.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "app/app.h"
#include "core/alloc.h"
#include "core/arena.h"
#include "core/enc.h"
#include "core/err.h"
#include "core/log.h"
#include "endpoint/settings.h"
#include "jobs/deliver.h"
#include "jobs/export_job.h"
#include "jobs/import_job.h"
#include "jobs/invite_job.h"
#include "jobs/mail.h"
#include "jobs/notify.h"
#include "jobs/retention.h"
#include "store/queue.h"
#include "store/shards.h"
#include "store/subs.h"
#include "store/tenant.h"
#include "store/webhooks.h"
#include "vault/pubid.h"

#define MAX_THREADS 16
#define DRAIN_EVERY_MS 250
#define DRAIN_BATCH 500
#define IDLE_MAX_MS 1000              /* a worker rechecks the queue at least this often */
#define LEASE_MS { 120000, 1800000 }  /* fast, slow: longer than any attempt */

struct runner {
	struct app *app;
	struct queue *q;
	pthread_mutex_t lock;
	pthread_cond_t wake[QUEUE_NLANES];
	pthread_cond_t drain_wake;
	int stopping;
	int kicked;
	pthread_t threads[MAX_THREADS];
	int lanes[MAX_THREADS];
	unsigned nthreads;
	pthread_t drainer;
	int drainer_started;
	/* The lease owner this process claims under, the part of every worker
	 * id before its '/': "node<INLET_NODE_ID>" when that is set, else
	 * "proc-<random>" (a start then knows no predecessor of its own).
	 * Written once before the workers start. */
	char owner[QUEUE_OWNER_MAX + 1];
	char token[17];   /* random per process: worker ids unique across hosts */
};

/* ---- handlers ------------------------------------------------------------- */

static int payload_ids(const struct queue_job *job, int64_t *endpoint_id, int64_t *sub_id)
{
	struct json_object *o = json_tokener_parse((const char *)job->payload), *v;
	int rc = INLET_EINVAL;

	if (o && json_object_object_get_ex(o, "endpoint_id", &v) && (*endpoint_id = json_object_get_int64(v)) > 0 &&
	    json_object_object_get_ex(o, "sub_id", &v) && (*sub_id = json_object_get_int64(v)) > 0)
		rc = 0;
	json_object_put(o);
	return rc;
}

static int run_mail(struct app *app, const struct queue_job *job, enum mail_kind kind, char *err, size_t errsize,
		    int *permanent)
{
	int64_t endpoint_id, sub_id;

	if (payload_ids(job, &endpoint_id, &sub_id)) {
		snprintf(err, errsize, "malformed job payload");
		*permanent = 1;
		return INLET_EINVAL;
	}
	return notify_run(app, endpoint_id, sub_id, kind, job->idempotency_key, err, errsize, permanent);
}

static int run_notify(struct app *app, const struct queue_job *job, const char *worker, char *err, size_t errsize,
		      int *permanent)
{
	(void)worker;
	return run_mail(app, job, MAIL_NOTIFICATION, err, errsize, permanent);
}

static int run_autoresponse(struct app *app, const struct queue_job *job, const char *worker, char *err,
			    size_t errsize, int *permanent)
{
	(void)worker;
	return run_mail(app, job, MAIL_AUTORESPONSE, err, errsize, permanent);
}

/* A busy endpoint's move to a database of its own (store/shards.h). */
static int run_move(struct app *app, const struct queue_job *job, const char *worker, char *err, size_t errsize,
		    int *permanent)
{
	struct json_object *o = json_tokener_parse((const char *)job->payload), *v;
	int64_t id = o && json_object_object_get_ex(o, "endpoint_id", &v) ? json_object_get_int64(v) : 0;
	int rc;

	(void)worker;
	json_object_put(o);
	if (id <= 0 || !app->shards) {
		snprintf(err, errsize, "malformed job payload");
		*permanent = 1;
		return INLET_EINVAL;
	}
	if ((rc = shards_run_move(app->shards, id)))
		snprintf(err, errsize, "the move paused: %s", inlet_strerror(rc));
	return rc;
}

static const struct { const char *kind; job_handler fn; } handlers[] = {
	{ "webhook.deliver", deliver_run },
	{ "mail.notify", run_notify },
	{ "mail.autoresponse", run_autoresponse },
	{ "mail.invite", invite_job_run },
	{ "retention.run", retention_run },
	{ "export.run", export_job_run },
	{ "import.run", import_job_run },
	{ "shard.move", run_move },
};

static job_handler handler_of(const char *kind)
{
	for (size_t i = 0; i < sizeof(handlers) / sizeof(*handlers); i++)
		if (strcmp(handlers[i].kind, kind) == 0)
			return handlers[i].fn;
	return NULL;
}

/* ---- workers -------------------------------------------------------------- */

struct worker_arg {
	struct runner *r;
	int lane;
	unsigned n;
};

static void wait_ms(struct runner *r, pthread_cond_t *c, int64_t ms)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += (time_t)(ms / 1000);
	until.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(c, &r->lock, &until);
}

static void run_one(struct runner *r, const char *worker, const struct queue_job *job)
{
	job_handler fn = handler_of(job->kind);
	char err[512] = "";
	int permanent = 0, rc;

	if (!fn) {
		snprintf(err, sizeof(err), "no handler for job kind %s", job->kind);
		rc = INLET_EINVAL;
		permanent = 1;
	} else {
		rc = fn(r->app, job, worker, err, sizeof(err), &permanent);
	}
	if (!rc) {
		rc = queue_complete(r->q, job->id, worker);
	} else if (permanent == JOB_CANCEL) {
		/* Nothing left to do it for (its webhook is gone or off). */
		rc = queue_cancel(r->q, job->id);
	} else {
		if (!err[0])
			snprintf(err, sizeof(err), "%s", inlet_strerror(rc));
		log_msg(LOG_WARN, "job %lld (%s) attempt %d failed: %s", (long long)job->id, job->kind, job->attempts,
			err);
		rc = permanent ? queue_bury(r->q, job->id, worker, err, now_ms())
			       : queue_fail(r->q, job->id, worker, err, now_ms());
	}
	if (rc)
		log_msg(LOG_ERROR, "job %lld: cannot record its outcome: %s", (long long)job->id, inlet_strerror(rc));
}

static void *worker_main(void *arg)
{
	struct worker_arg *wa = arg;
	struct runner *r = wa->r;
	const int64_t leases[QUEUE_NLANES] = LEASE_MS;
	char worker[QUEUE_OWNER_MAX + 64];

	snprintf(worker, sizeof(worker), "%s/%s:%s-%d-%u", r->owner, r->token, queue_lane_name(wa->lane),
		 (int)getpid(), wa->n);
	for (;;) {
		struct arena *a = arena_create(4096);
		struct queue_job job;
		int rc;

		pthread_mutex_lock(&r->lock);
		if (r->stopping) {
			pthread_mutex_unlock(&r->lock);
			arena_destroy(a);
			break;
		}
		pthread_mutex_unlock(&r->lock);
		rc = queue_claim(r->q, (enum queue_lane)wa->lane, worker, leases[wa->lane], now_ms(), a, &job);
		if (rc == 0) {
			run_one(r, worker, &job);
		} else {
			int64_t due = 0, wait = IDLE_MAX_MS;

			if (rc != INLET_ENOTFOUND)
				log_msg(LOG_ERROR, "worker %s: claim failed: %s", worker, inlet_strerror(rc));
			else if (queue_next_due_ms(r->q, (enum queue_lane)wa->lane, &due) == 0 && due > 0)
				wait = due - now_ms();
			if (wait > IDLE_MAX_MS)
				wait = IDLE_MAX_MS;
			pthread_mutex_lock(&r->lock);
			if (!r->stopping && wait > 0)
				wait_ms(r, &r->wake[wa->lane], wait);
			pthread_mutex_unlock(&r->lock);
		}
		arena_destroy(a);
	}
	free(wa);
	return NULL;
}

static void notify_lane(void *ctx, enum queue_lane lane)
{
	struct runner *r = ctx;

	pthread_mutex_lock(&r->lock);
	pthread_cond_broadcast(&r->wake[lane]);
	pthread_mutex_unlock(&r->lock);
}

/* ---- the outbox drainer ------------------------------------------------------ */

static void add_spec(struct arena *a, struct queue_spec **specs, size_t *n, size_t *cap, enum queue_lane lane,
		     const char *kind, const char *payload, const char *key, int max_attempts, int64_t scope)
{
	struct queue_spec *s;

	*specs = arena_grow(a, *specs, *n, cap, sizeof(**specs));
	s = &(*specs)[(*n)++];
	memset(s, 0, sizeof(*s));
	s->lane = lane;
	s->kind = kind;
	s->payload = payload;
	s->len = strlen(payload);
	s->idempotency_key = key;
	s->max_attempts = max_attempts;
	s->scope = scope;
}

/* The jobs one outbox row causes. */
static void expand(struct runner *r, struct arena *a, const struct outbox_row *o, struct queue_spec **specs,
		   size_t *n, size_t *cap)
{
	struct tenant *t = r->app->tenant;
	struct endpoint e;
	struct settings st;
	struct webhook *wh;
	size_t nwh = 0;
	char errbuf[128], key[PUBID_MAX];
	const char *ids;

	if (tenant_endpoint_by_id(t, o->endpoint_id, a, &e))
		return; /* deleted since: nothing to cause */
	ids = arena_printf(a, "{\"endpoint_id\":%lld,\"sub_id\":%lld}", (long long)o->endpoint_id, (long long)o->ref);
	if (webhooks_for_event(t, o->endpoint_id, o->event, a, &wh, &nwh) == 0)
		for (size_t i = 0; i < nwh; i++)
			add_spec(a, specs, n, cap, QUEUE_FAST, "webhook.deliver",
				 arena_printf(a, "{\"webhook_id\":%lld,\"endpoint_id\":%lld,\"sub_id\":%lld,\"event\":\"%s\"}",
					      (long long)wh[i].id, (long long)o->endpoint_id, (long long)o->ref, o->event),
				 /* The key is also the Inlet-Delivery id: stable
				  * across retries, opaque (no count, no time). */
				 (pubid_encode(r->app->ids, "dlv_", o->ref, wh[i].id, key), arena_strdup(a, key)),
				 RUNNER_WEBHOOK_ATTEMPTS, e.account_id);
	/* Email is for submissions; issues go to webhooks only. */
	if (strcmp(o->event, "submission.created") == 0 && settings_parse(e.settings, &st, errbuf, sizeof(errbuf)) == 0) {
		/* Keys double as Message-ID local parts: opaque as well. */
		if (st.nnotify) {
			pubid_encode(r->app->ids, "ntf_", o->ref, o->endpoint_id, key);
			add_spec(a, specs, n, cap, QUEUE_FAST, "mail.notify", ids, arena_strdup(a, key),
				 RUNNER_MAIL_ATTEMPTS, e.account_id);
		}
		if (st.autoresponse.enabled) {
			pubid_encode(r->app->ids, "aut_", o->ref, o->endpoint_id, key);
			add_spec(a, specs, n, cap, QUEUE_FAST, "mail.autoresponse", ids, arena_strdup(a, key),
				 RUNNER_MAIL_ATTEMPTS, e.account_id);
		}
		settings_free(&st);
	}
}

/* Drains one store's outbox: its jobs enter the queue in one transaction,
 * then the rows go. Returns the rows drained, or -1. */
static long drain_store(struct runner *r, struct substore *s)
{
	struct arena *a = arena_create(1 << 16);
	struct outbox_row *rows;
	struct queue_spec *specs = NULL;
	size_t n = 0, nspecs = 0, cap = 0;
	int64_t *ids, *done_ids;
	long out = -1;

	if (substore_outbox_read(s, DRAIN_BATCH, a, &rows, &n))
		goto done;
	if (n == 0) {
		out = 0;
		goto done;
	}
	for (size_t i = 0; i < n; i++)
		expand(r, a, &rows[i], &specs, &nspecs, &cap);
	ids = arena_alloc(a, (nspecs ? nspecs : 1) * sizeof(*ids));
	if (nspecs && queue_enqueue_batch(r->q, specs, nspecs, ids))
		goto done;
	/* The rows read, by id: a row that commits meanwhile with a lower id
	 * (PostgreSQL, several writers) is left for the next drain. */
	done_ids = arena_alloc(a, n * sizeof(*done_ids));
	for (size_t i = 0; i < n; i++)
		done_ids[i] = rows[i].id;
	if (substore_outbox_done(s, done_ids, n))
		goto done;
	out = (long)n;
done:
	if (out < 0)
		log_msg(LOG_ERROR, "outbox: a drain failed; it is retried");
	arena_destroy(a);
	return out;
}

static void *drainer_main(void *arg)
{
	struct runner *r = arg;

	for (;;) {
		struct substore **stores = NULL, *only[1] = { r->app->shared };
		size_t ns = 1;
		long moved = 0;

		pthread_mutex_lock(&r->lock);
		if (r->stopping) {
			pthread_mutex_unlock(&r->lock);
			break;
		}
		if (!r->kicked)
			wait_ms(r, &r->drain_wake, DRAIN_EVERY_MS);
		r->kicked = 0;
		pthread_mutex_unlock(&r->lock);
		(void)queue_tick(r->q, now_ms()); /* periodic jobs due: enqueued */
		/* Every database, however many endpoints have their own. */
		if (r->app->shards)
			ns = shards_stores(r->app->shards, &stores);
		for (size_t i = 0; i < ns; i++) {
			long k = drain_store(r, stores ? stores[i] : only[i]);

			moved += k > 0 ? k : 0;
		}
		free(stores);
		/* A full batch: more may wait, go round at once. */
		if (moved >= DRAIN_BATCH) {
			pthread_mutex_lock(&r->lock);
			r->kicked = 1;
			pthread_mutex_unlock(&r->lock);
		}
	}
	return NULL;
}

/* ---- lifecycle ---------------------------------------------------------------- */

int runner_start(struct app *app, struct queue *q, unsigned fast, unsigned slow, struct runner **out)
{
	struct runner *r = xcalloc(1, sizeof(*r));
	struct queue_hooks h = { .notify = notify_lane };

	r->app = app;
	r->q = q;
	pthread_mutex_init(&r->lock, NULL);
	for (int i = 0; i < QUEUE_NLANES; i++)
		pthread_cond_init(&r->wake[i], NULL);
	pthread_cond_init(&r->drain_wake, NULL);
	h.ctx = r;
	queue_set_hooks(q, &h);
	{
		uint8_t rnd[8];

		rand_bytes(rnd, sizeof(rnd));
		hex_encode(r->token, rnd, sizeof(rnd));
		if (app->cfg.node_id_given)
			snprintf(r->owner, sizeof(r->owner), "node%u", app->cfg.node_id);
		else
			snprintf(r->owner, sizeof(r->owner), "proc-%.8s", r->token);
	}
	{
		/* Jobs the last process held when it died: theirs again now,
		 * not when their leases would have run out. In a data folder
		 * the server holds serve.lock, so every running job was its
		 * predecessor's; a shared PostgreSQL queue has other nodes'
		 * running jobs too, so only this node id's are taken back, and
		 * without a node id none (they come back as leases run out). */
		int64_t n = 0;
		int rc = !app->cfg.database_url ? queue_release_all(q, now_ms(), &n)
			 : app->cfg.node_id_given ? queue_release_owner(q, r->owner, now_ms(), &n) : 0;

		if (rc == 0 && n)
			log_msg(LOG_INFO, "jobs: %lld left running by the last process queued again", (long long)n);
	}
	/* Moves of busy endpoints run on the slow lane from now on. */
	if (app->shards)
		shards_use_queue(app->shards, q);
	/* Clean-up runs every hour on the slow lane; the drainer ticks the
	 * schedule. */
	if (queue_schedule(q, "retention", QUEUE_SLOW, "retention.run", (int64_t)app->cfg.retention_every_ms,
			   now_ms()))
		log_msg(LOG_ERROR, "jobs: the clean-up could not be scheduled");
	if (fast < 1)
		fast = 1;
	if (slow < 1)
		slow = 1;
	for (unsigned i = 0; i < fast + slow && r->nthreads < MAX_THREADS; i++) {
		struct worker_arg *wa = xcalloc(1, sizeof(*wa));
		int lane = i < fast ? QUEUE_FAST : QUEUE_SLOW;

		wa->r = r;
		wa->lane = lane;
		wa->n = i;
		if (pthread_create(&r->threads[r->nthreads], NULL, worker_main, wa)) {
			free(wa);
			break;
		}
		r->lanes[r->nthreads++] = lane;
	}
	if (pthread_create(&r->drainer, NULL, drainer_main, r) == 0)
		r->drainer_started = 1;
	*out = r;
	return r->nthreads && r->drainer_started ? 0 : INLET_EINTERNAL;
}

void runner_kick(struct runner *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	r->kicked = 1;
	pthread_cond_signal(&r->drain_wake);
	pthread_mutex_unlock(&r->lock);
}

void runner_stop(struct runner *r)
{
	struct queue_hooks none = { 0 };

	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	r->stopping = 1;
	for (int i = 0; i < QUEUE_NLANES; i++)
		pthread_cond_broadcast(&r->wake[i]);
	pthread_cond_broadcast(&r->drain_wake);
	pthread_mutex_unlock(&r->lock);
	for (unsigned i = 0; i < r->nthreads; i++)
		pthread_join(r->threads[i], NULL);
	if (r->drainer_started)
		pthread_join(r->drainer, NULL);
	queue_set_hooks(r->q, &none);
	for (int i = 0; i < QUEUE_NLANES; i++)
		pthread_cond_destroy(&r->wake[i]);
	pthread_cond_destroy(&r->drain_wake);
	pthread_mutex_destroy(&r->lock);
	free(r);
}
