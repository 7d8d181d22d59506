/* The durable job queue: jobs persist in their own database (DATA/jobs.db,
 * or a schema of a PostgreSQL database shared by several nodes; see
 * queue_open_target) and are handed to workers under leases, in two lanes so a
 * slow export never delays a notification. Pure storage: no threads, no
 * network; workers, webhooks, email and exports sit on top.
 *
 * The life of a job:
 *
 *   enqueue ──> queued ──claim──> running ──complete──> done
 *                 ^  ^              │  │
 *                 │  └─fail (retry)─┘  └─fail (last attempt)──> dead
 *                 │                                              │
 *                 └──────retry (operator)─── cancelled, dead <───┘
 *
 *   cancel (operator): queued or running ──> cancelled
 *   a running job whose lease ran out is claimable again, as if queued
 *
 * Delivery is at-least-once: a worker that dies holding a job (crash,
 * kill -9, power loss) leaves a lease that runs out, and the job is claimed
 * again. Handlers must therefore be idempotent, or carry the job id to the
 * receiver so it can drop duplicates (webhooks: Inlet-Delivery).
 *
 * Attempts count claims, so a job that kills its worker every time still
 * ends: a claim that finds an expired lease on the last attempt buries the
 * job (state dead, last_error "lease expired") instead of running it again.
 *
 * Failures retry with exponential backoff and full jitter:
 *   delay = uniform [0, min(1 h, 1 s * 2^(attempts - 1))]
 * and the job goes dead once attempts reach max_attempts.
 *
 * Thread-safe: every call takes the queue's mutex and uses its one
 * connection (store/sql.h). On SQLite every write takes the write lock
 * before it reads (BEGIN IMMEDIATE, busy timeout 10 s), so another process
 * (`inlet jobs retry`) may share the file. On PostgreSQL writes run in READ
 * COMMITTED transactions that lock the rows they decide on: a claim takes
 * its job with SELECT ... FOR UPDATE SKIP LOCKED, so claimers on many
 * handles or nodes never wait for one another nor take the same job, and a
 * lease holder's report locks its job first. Claims through one handle are
 * serialized by its mutex: a process that wants parallel claims on
 * PostgreSQL opens a handle per worker. Worker ids must be unique across processes
 * (say host:pid:lane-n): the lease check compares them. Strings and
 * payloads handed out live in the caller's arena. Calls return 0 or a
 * negative INLET_E*. */
#ifndef INLET_STORE_QUEUE_H
#define INLET_STORE_QUEUE_H

#include <stddef.h>
#include <stdint.h>

struct arena;
struct queue;

/* Caps, checked before anything is written. */
#define QUEUE_KIND_MAX 64          /* kind and schedule name bytes: [A-Za-z0-9._:-] */
#define QUEUE_KEY_MAX 256          /* idempotency key bytes */
#define QUEUE_WORKER_MAX 128       /* worker id bytes, printable ASCII */
#define QUEUE_PAYLOAD_MAX (1u << 20) /* payload bytes */
#define QUEUE_ERROR_MAX 1024       /* last_error bytes kept (longer is cut, UTF-8 safe) */
#define QUEUE_ATTEMPTS_MAX 1000    /* highest max_attempts */
#define QUEUE_ATTEMPTS_DEFAULT 20  /* max_attempts when the spec says 0 */
#define QUEUE_LEASE_MAX_MS (24LL * 3600 * 1000)
#define QUEUE_LIST_MAX 1000        /* rows per page */
#define QUEUE_LIST_DEFAULT 50      /* rows per page when the filter says 0 */

/* Backoff: base 1 s, factor 2, cap 1 h. */
#define QUEUE_BACKOFF_BASE_MS 1000
#define QUEUE_BACKOFF_CAP_MS (3600LL * 1000)

enum queue_lane { QUEUE_FAST = 0, QUEUE_SLOW = 1 };
#define QUEUE_NLANES 2

enum queue_state {
	QUEUE_QUEUED = 0,   /* waiting for run_at_ms */
	QUEUE_RUNNING = 1,  /* claimed; the lease runs to lease_until_ms */
	QUEUE_DONE = 2,
	QUEUE_DEAD = 3,     /* failed max_attempts times; queue_retry revives it */
	QUEUE_CANCELLED = 4,
};
#define QUEUE_NSTATES 5

/* Names as stored and shown ("fast", "queued"...); NULL when out of range. */
const char *queue_lane_name(int lane);
const char *queue_state_name(int state);
/* The value of a name, or INLET_EINVAL. */
int queue_lane_parse(const char *s, enum queue_lane *out);
int queue_state_parse(const char *s, enum queue_state *out);

struct queue_job {
	int64_t id;               /* > 0, never reused (even after queue_purge) */
	enum queue_lane lane;
	enum queue_state state;
	const char *kind;         /* "webhook.deliver" */
	const uint8_t *payload;   /* opaque bytes (callers seal them), followed by a
				   * NUL not counted in payload_len; NULL in lists */
	size_t payload_len;       /* stored length, also in lists */
	const char *idempotency_key; /* or NULL */
	const char *worker;       /* the last claimer (the lease holder while running), or NULL */
	int attempts;             /* claims so far (reset by queue_retry) */
	int max_attempts;
	int64_t run_at_ms;        /* queued: not claimed before this */
	int64_t lease_until_ms;   /* running: claimable again from this instant; else 0 */
	const char *last_error;   /* the latest failure, or NULL */
	int64_t created_ms;
	int64_t updated_ms;
	int64_t scope;            /* whose job: an account id, 0 the system's */
	int64_t progress, total;  /* what a long job reported (queue_note) */
	const char *result;       /* what it left (JSON text), or NULL */
};

/* Test and integration hooks, all optional (NULL: the default). They run
 * with the queue's mutex held and must not call back into the queue. */
struct queue_hooks {
	/* The clock for calls that take no now_ms (enqueue, complete, extend,
	 * retry, cancel); default now_ms() from core/enc.h. */
	int64_t (*now)(void *ctx);
	/* 64 random bits for the backoff jitter; default getrandom(2). */
	uint64_t (*rand)(void *ctx);
	/* Told, after the commit and without the mutex, that a job of lane may
	 * have become due sooner (enqueue, fail with retry, retry, tick), so
	 * workers sleeping until queue_next_due_ms can wake. Only this
	 * process's calls notify: a worker should also cap its sleep. */
	void (*notify)(void *ctx, enum queue_lane lane);
	void *ctx;
};

/* The PostgreSQL schema a queue lives in when queue_open_target is given
 * none. */
#define QUEUE_SCHEMA_DEFAULT "jobs"

/* Opens (creating and migrating) the queue database at path. The folder
 * must exist. Same as queue_open_target(out, path, NULL). */
int queue_open(struct queue **out, const char *path);
/* Opens the queue on a target as store/sql.h takes it: a SQLite file path
 * (schema must be NULL), or a postgres:// URL, where the queue's tables
 * live in schema (NULL: QUEUE_SCHEMA_DEFAULT), created and migrated on
 * first use; several processes may open the same schema at once. A bad
 * schema name is INLET_EINVAL, a server that cannot be reached
 * INLET_EUNAVAILABLE. */
int queue_open_target(struct queue **out, const char *target, const char *schema);
/* Closes; jobs still running keep their leases in the database and come back
 * when the leases run out. Accepts NULL. */
void queue_close(struct queue *q);
/* Copies h; call before the queue is shared between threads. */
void queue_set_hooks(struct queue *q, const struct queue_hooks *h);

struct queue_spec {
	enum queue_lane lane;
	const char *kind;          /* required */
	const void *payload;       /* copied; may be NULL when len is 0 */
	size_t len;
	const char *idempotency_key; /* optional: one job per (kind, key) */
	int max_attempts;          /* 0: QUEUE_ATTEMPTS_DEFAULT */
	int64_t run_at_ms;         /* 0: now */
	int64_t scope;             /* an account id (listing filters by it); 0: the system */
};

/* Adds a queued job and sets *id. With an idempotency key that a kept job of
 * the same kind already has (whatever its state), adds nothing and sets *id
 * to that job's id (still 0). Keys are free again once queue_purge removed
 * their job. INLET_EINVAL / INLET_ETOOBIG on a bad spec. */
int queue_enqueue(struct queue *q, const struct queue_spec *spec, int64_t *id);
/* The same for n specs in one transaction (an outbox drain): all or none.
 * ids[i] gets the id of specs[i]. */
int queue_enqueue_batch(struct queue *q, const struct queue_spec *specs, size_t n, int64_t *ids);

/* Claims the next due job of lane for worker: a job whose lease expired
 * first (oldest lease first), else the queued job with the earliest
 * run_at_ms <= now_ms (ties by id). The job becomes running, held by worker
 * until now_ms + lease_ms, with attempts + 1; *job (payload included) lives
 * in a. INLET_ENOTFOUND when nothing is due. Atomic: concurrent claims
 * (threads or processes) never get the same job while its lease runs. */
int queue_claim(struct queue *q, enum queue_lane lane, const char *worker, int64_t lease_ms,
		int64_t now_ms, struct arena *a, struct queue_job *job);

/* The lease holder reports. Each answers INLET_ENOTFOUND for an unknown id
 * and INLET_EBUSY when the job is not running under worker (another worker
 * re-claimed it after the lease ran out, or it was cancelled): the caller's
 * result is then dropped, and the job's current holder decides. A holder
 * whose lease ran out but whom nobody replaced is still accepted. */
int queue_complete(struct queue *q, int64_t id, const char *worker);
/* Records error (cut at QUEUE_ERROR_MAX; NULL: none) and queues the job
 * again at now_ms + backoff, or buries it (dead) when attempts reached
 * max_attempts. */
int queue_fail(struct queue *q, int64_t id, const char *worker, const char *error, int64_t now_ms);
/* Moves the lease end to now + lease_ms, for long jobs. */
/* The same, but the job is dead at once whatever attempts it has left: a
 * failure retrying cannot mend (a refused address, a 5xx from SMTP). */
int queue_bury(struct queue *q, int64_t id, const char *worker, const char *error, int64_t now_ms);
/* The lease holder reports progress (done of total) and, when not NULL,
 * a result (small JSON text) that stays with the job once done. */
int queue_note(struct queue *q, int64_t id, const char *worker, int64_t progress, int64_t total,
	       const char *result);
int queue_extend(struct queue *q, int64_t id, const char *worker, int64_t lease_ms);

/* Operator actions. retry: a dead or cancelled job is queued for now with
 * attempts reset to 0; a queued job (waiting out a backoff) is made due now,
 * attempts kept. cancel: a queued or running job becomes cancelled (a
 * running worker's later complete/fail then answers INLET_EBUSY). Other
 * states answer INLET_EBUSY; unknown ids INLET_ENOTFOUND. */
int queue_retry(struct queue *q, int64_t id);
int queue_cancel(struct queue *q, int64_t id);

/* One job, payload included, in a. */
/* Every running job back to queued, due now: for a process that starts
 * as the queue's only worker (the server holds DATA/serve.lock), whose
 * previous incarnation died holding leases. *n gets how many. */
int queue_release_all(struct queue *q, int64_t now_ms, int64_t *n);
/* The same for a queue other processes share (PostgreSQL, several nodes):
 * only running jobs whose worker id begins with owner and a '/', the
 * leases of this owner's previous incarnation. Owners must be unique
 * among live processes (runner.c: "node<INLET_NODE_ID>"), or a start takes
 * back a live process's jobs (run twice: handlers are idempotent anyway).
 * owner: 1 to QUEUE_OWNER_MAX printable bytes without '/'; else
 * INLET_EINVAL. */
#define QUEUE_OWNER_MAX 64
int queue_release_owner(struct queue *q, const char *owner, int64_t now_ms, int64_t *n);
int queue_get(struct queue *q, int64_t id, struct arena *a, struct queue_job *job);

struct queue_filter {
	int state;         /* enum queue_state, or -1 for any */
	int lane;          /* enum queue_lane, or -1 for any */
	const char *kind;  /* or NULL for any */
	int64_t before_id; /* keyset cursor: ids < before_id; 0 = from the newest */
	size_t limit;      /* 0: QUEUE_LIST_DEFAULT; more than QUEUE_LIST_MAX: INLET_EINVAL */
	int64_t scope;     /* > 0: that account's jobs only; 0: any */
};
/* Newest first, without payloads; the next page passes the last id as
 * before_id. *jobs lives in a. */
int queue_list(struct queue *q, const struct queue_filter *f, struct arena *a,
	       struct queue_job **jobs, size_t *n);

/* When the next job of lane becomes claimable: the earliest run_at_ms of a
 * queued job or lease_until_ms of a running one (may be in the past: claim
 * now). INLET_ENOTFOUND when the lane has neither. */
int queue_next_due_ms(struct queue *q, enum queue_lane lane, int64_t *ms);

/* Deletes jobs in state (done, dead or cancelled) last updated before
 * before_ms, in small transactions; *n (optional) gets the count. */
int queue_purge(struct queue *q, enum queue_state state, int64_t before_ms, int64_t *n);

/* Periodic jobs. Time is cut into slots of period_ms aligned on the epoch
 * (a daily job's slot starts at 00:00 UTC); a schedule enqueues one job per
 * slot, with an empty payload and the idempotency key "<name>:<slot start
 * ms>", so ticking many times, from several processes or after a restart
 * still gives one job per slot. Slots missed while nothing ticked give one
 * job, not a burst.
 *
 * queue_schedule records (or updates) the schedule name and enqueues the
 * current slot's job when due. Calling it again with the same values (at
 * every start) changes nothing; a new period starts over from the current
 * slot. queue_tick enqueues the jobs of every schedule that is due. */
int queue_schedule(struct queue *q, const char *name, enum queue_lane lane, const char *kind,
		   int64_t period_ms, int64_t now_ms);
int queue_unschedule(struct queue *q, const char *name);
int queue_tick(struct queue *q, int64_t now_ms);

/* The backoff before the retry that follows attempt number attempts (>= 1):
 * r mod (ceiling + 1), ceiling = queue_backoff_ceiling_ms(attempts). */
int64_t queue_backoff_ceiling_ms(int attempts);
int64_t queue_backoff_ms(int attempts, uint64_t r);

#endif
