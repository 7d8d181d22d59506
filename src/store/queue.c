#include "store/queue.h"

#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/arena.h"
#include "core/enc.h"
#include "core/err.h"
#include "core/log.h"
#include "store/queue_int.h"
#include "store/sql.h"

/* Indexes, each for one query:
 *   jobs_due (lane, state, run_at_ms): claims and queue_next_due_ms seek the
 *     earliest queued job of a lane, and scan the lane's running jobs (one
 *     per busy worker) for an expired lease;
 *   jobs_state (state, id): listing by state newest first, and purging;
 *   jobs_idem (kind, idem_key), unique where a key is set: idempotency.
 * AUTOINCREMENT so an id is never reused once purged: receivers drop
 * duplicates by it (on PostgreSQL an identity column, whose sequence never
 * goes back either). Lane and state are text, readable with sqlite3(1) and
 * psql. The text is SQLite's and must stay as it is: existing jobs.db files
 * carry their version in PRAGMA user_version, and PostgreSQL gets it
 * through sql_dialect_rewrite (store/sql_dialect.h). */
static const char *const migrations[] = {
	/* 1 */
	"CREATE TABLE jobs("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  lane TEXT NOT NULL CHECK(lane IN ('fast','slow')),"
	"  kind TEXT NOT NULL,"
	"  payload BLOB NOT NULL,"
	"  idem_key TEXT,"
	"  state TEXT NOT NULL CHECK(state IN ('queued','running','done','dead','cancelled')),"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  max_attempts INTEGER NOT NULL,"
	"  run_at_ms INTEGER NOT NULL,"
	"  lease_until_ms INTEGER NOT NULL DEFAULT 0,"
	"  worker TEXT,"
	"  last_error TEXT,"
	"  created_ms INTEGER NOT NULL,"
	"  updated_ms INTEGER NOT NULL);"
	"CREATE INDEX jobs_due ON jobs(lane, state, run_at_ms);"
	"CREATE INDEX jobs_state ON jobs(state, id);"
	"CREATE UNIQUE INDEX jobs_idem ON jobs(kind, idem_key) WHERE idem_key IS NOT NULL;"
	"CREATE TABLE schedules("
	"  name TEXT PRIMARY KEY,"
	"  lane TEXT NOT NULL CHECK(lane IN ('fast','slow')),"
	"  kind TEXT NOT NULL,"
	"  period_ms INTEGER NOT NULL CHECK(period_ms > 0),"
	"  next_ms INTEGER NOT NULL) WITHOUT ROWID;",
	/* 2: whose job it is (an account id; 0: the system's), so each
	 * account lists only its own. */
	"ALTER TABLE jobs ADD COLUMN scope INTEGER NOT NULL DEFAULT 0;"
	"CREATE INDEX jobs_scope ON jobs(scope, id);",
	/* 3: what a long job reports while it runs (done of total) and what it
	 * leaves for its caller (a small JSON text: an export's file). */
	"ALTER TABLE jobs ADD COLUMN progress INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE jobs ADD COLUMN total INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE jobs ADD COLUMN result TEXT;",
};

const char *const queue_lane_names[QUEUE_NLANES] = { "fast", "slow" };
static const char *const state_names[QUEUE_NSTATES] = {
	"queued", "running", "done", "dead", "cancelled",
};

#define JOB_COLS                                                                      \
	"id,lane,state,kind,length(payload),idem_key,worker,attempts,max_attempts,"   \
	"run_at_ms,lease_until_ms,last_error,created_ms,updated_ms,scope,progress,total,result"
#define COL_PAYLOAD 18 /* after JOB_COLS in S_GET */

#define PURGE_BATCH 500



/* Written once for both engines (see store/sql.h). */
static const char *const sqls[S__COUNT] = {
	[S_IDEM] = "SELECT id FROM jobs WHERE kind=?1 AND idem_key=?2",
	/* OR IGNORE: a concurrent enqueue of the same key (another node on
	 * PostgreSQL) makes this insert nothing instead of failing; the
	 * caller then reads the winner's id. */
	[S_INSERT] = "INSERT OR IGNORE INTO jobs(lane,kind,payload,idem_key,state,max_attempts,"
		     "run_at_ms,created_ms,updated_ms,scope)"
		     " VALUES(?1,?2,?3,?4,'queued',?5,?6,?7,?7,?8) RETURNING id",
	[S_EXPIRED] = "SELECT id,attempts,max_attempts FROM jobs"
		      " WHERE lane=?1 AND state='running' AND lease_until_ms<=?2"
		      " ORDER BY lease_until_ms,id LIMIT 1",
	[S_DUE] = "SELECT id FROM jobs WHERE lane=?1 AND state='queued' AND run_at_ms<=?2"
		  " ORDER BY run_at_ms,id LIMIT 1",
	[S_TAKE] = "UPDATE jobs SET state='running',worker=?2,lease_until_ms=?3,"
		   "attempts=attempts+1,updated_ms=?4 WHERE id=?1",
	[S_BURY] = "UPDATE jobs SET state='dead',lease_until_ms=0,last_error=?2,updated_ms=?3"
		   " WHERE id=?1",
	[S_GET] = "SELECT " JOB_COLS ",payload FROM jobs WHERE id=?1",
	[S_OWNER] = "SELECT state,worker,attempts,max_attempts,lane FROM jobs WHERE id=?1",
	[S_EXISTS] = "SELECT 1 FROM jobs WHERE id=?1",
	[S_DONE] = "UPDATE jobs SET state='done',lease_until_ms=0,updated_ms=?2 WHERE id=?1",
	[S_REQUEUE] = "UPDATE jobs SET state='queued',run_at_ms=?2,lease_until_ms=0,last_error=?3,"
		      "updated_ms=?4 WHERE id=?1",
	[S_EXTEND] = "UPDATE jobs SET lease_until_ms=?2,updated_ms=?3 WHERE id=?1",
	[S_NOTE] = "UPDATE jobs SET progress=?2,total=?3,result=coalesce(?4,result),updated_ms=?5"
		   " WHERE id=?1",
	[S_RELEASE] = "UPDATE jobs SET state='queued',lease_until_ms=0,run_at_ms=?1,updated_ms=?1"
		      " WHERE state='running'",
	/* ?2 is "<owner>/": the worker ids runner.c gives begin so. */
	[S_RELEASE_OWNER] = "UPDATE jobs SET state='queued',lease_until_ms=0,run_at_ms=?1,updated_ms=?1"
			    " WHERE state='running' AND substr(worker,1,length(?2))=?2",
	/* CASE sees the row as it was: a queued job keeps its attempts. */
	[S_RETRY] = "UPDATE jobs SET state='queued',"
		    " attempts=CASE WHEN state='queued' THEN attempts ELSE 0 END,"
		    " run_at_ms=CASE WHEN state='queued' THEN min(run_at_ms,?2) ELSE ?2 END,"
		    " lease_until_ms=0,updated_ms=?2"
		    " WHERE id=?1 AND state IN ('queued','dead','cancelled') RETURNING lane",
	[S_CANCEL] = "UPDATE jobs SET state='cancelled',lease_until_ms=0,updated_ms=?2"
		     " WHERE id=?1 AND state IN ('queued','running') RETURNING lane",
	/* A NULL filter matches any; the CASTs tell PostgreSQL the type of a
	 * parameter it would otherwise meet first in IS NULL. */
	[S_LIST_STATE] = "SELECT " JOB_COLS " FROM jobs WHERE state=?1 AND id<?2"
			 " AND (CAST(?3 AS TEXT) IS NULL OR lane=?3) AND (CAST(?4 AS TEXT) IS NULL OR kind=?4)"
			 " AND (CAST(?6 AS INTEGER) IS NULL OR scope=?6) ORDER BY id DESC LIMIT ?5",
	/* S_LIST_STATE's parameters less the first (PostgreSQL wants no gap). */
	[S_LIST_ANY] = "SELECT " JOB_COLS " FROM jobs WHERE id<?1"
		       " AND (CAST(?2 AS TEXT) IS NULL OR lane=?2) AND (CAST(?3 AS TEXT) IS NULL OR kind=?3)"
		       " AND (CAST(?5 AS INTEGER) IS NULL OR scope=?5) ORDER BY id DESC LIMIT ?4",
	[S_NEXT] = "SELECT (SELECT run_at_ms FROM jobs WHERE lane=?1 AND state='queued'"
		   "         ORDER BY run_at_ms LIMIT 1),"
		   "       (SELECT min(lease_until_ms) FROM jobs WHERE lane=?1 AND state='running')",
	[S_PURGE] = "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE state=?1"
		    " AND updated_ms<?2 LIMIT ?3)",
	/* Columns on the right of SET read the stored row: the same period
	 * keeps its next slot, a new one starts from the current slot. */
	[S_SCHED_PUT] = "INSERT INTO schedules(name,lane,kind,period_ms,next_ms) VALUES(?1,?2,?3,?4,?5)"
			" ON CONFLICT(name) DO UPDATE SET lane=excluded.lane,kind=excluded.kind,"
			" next_ms=CASE WHEN period_ms=excluded.period_ms THEN next_ms"
			" ELSE excluded.next_ms END,period_ms=excluded.period_ms",
	[S_SCHED_DUE] = "SELECT name,lane,kind,period_ms FROM schedules WHERE next_ms<=?1"
			" ORDER BY name LIMIT 1",
	[S_SCHED_NEXT] = "UPDATE schedules SET next_ms=?2 WHERE name=?1",
	[S_SCHED_DEL] = "DELETE FROM schedules WHERE name=?1",
};

/* What PostgreSQL adds to a statement, the only engine-specific text. Many
 * nodes share its jobs table, and READ COMMITTED alone would let two of
 * them read the same row before either updates it. A claim locks the row
 * it picks and skips rows another claimer has locked, so claimers never
 * wait on each other nor take the same job; a lease holder's report locks
 * its row, so a claim of an expired lease and the late report of its old
 * holder happen one after the other, as SQLite's single writer has them. */
static const char *const pg_suffix[S__COUNT] = {
	[S_EXPIRED] = " FOR UPDATE SKIP LOCKED",
	[S_DUE] = " FOR UPDATE SKIP LOCKED",
	[S_OWNER] = " FOR UPDATE",
};


/* ---- names and checks ---------------------------------------------------- */

const char *queue_lane_name(int lane)
{
	return lane >= 0 && lane < QUEUE_NLANES ? queue_lane_names[lane] : NULL;
}

const char *queue_state_name(int state)
{
	return state >= 0 && state < QUEUE_NSTATES ? state_names[state] : NULL;
}

static int name_index(const char *const *names, int n, const char *s, size_t len)
{
	for (int i = 0; s && i < n; i++)
		if (strlen(names[i]) == len && memcmp(names[i], s, len) == 0)
			return i;
	return -1;
}

int queue_lane_parse(const char *s, enum queue_lane *out)
{
	int i = s ? name_index(queue_lane_names, QUEUE_NLANES, s, strlen(s)) : -1;

	if (i < 0)
		return INLET_EINVAL;
	*out = (enum queue_lane)i;
	return 0;
}

int queue_state_parse(const char *s, enum queue_state *out)
{
	int i = s ? name_index(state_names, QUEUE_NSTATES, s, strlen(s)) : -1;

	if (i < 0)
		return INLET_EINVAL;
	*out = (enum queue_state)i;
	return 0;
}

/* Kinds and schedule names: 1..QUEUE_KIND_MAX of [A-Za-z0-9._:-]. */
int queue_check_name(const char *s)
{
	size_t n;

	if (!s || !*s)
		return INLET_EINVAL;
	for (n = 0; s[n]; n++) {
		char c = s[n];

		if (n >= QUEUE_KIND_MAX)
			return INLET_ETOOBIG;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == ':' || c == '-'))
			return INLET_EINVAL;
	}
	return 0;
}

static int check_worker(const char *s)
{
	size_t n;

	if (!s || !*s)
		return INLET_EINVAL;
	for (n = 0; s[n]; n++) {
		if (n >= QUEUE_WORKER_MAX)
			return INLET_ETOOBIG;
		if (s[n] < 0x20 || s[n] > 0x7e)
			return INLET_EINVAL;
	}
	return 0;
}

int queue_check_lane(int lane)
{
	return lane >= 0 && lane < QUEUE_NLANES ? 0 : INLET_EINVAL;
}

static int check_spec(const struct queue_spec *s)
{
	int rc;

	if ((rc = queue_check_lane((int)s->lane)) || (rc = queue_check_name(s->kind)))
		return rc;
	if (s->len > QUEUE_PAYLOAD_MAX)
		return INLET_ETOOBIG;
	if (s->len && !s->payload)
		return INLET_EINVAL;
	if (s->idempotency_key) {
		size_t n = strnlen(s->idempotency_key, QUEUE_KEY_MAX + 1);

		if (n == 0)
			return INLET_EINVAL;
		if (n > QUEUE_KEY_MAX)
			return INLET_ETOOBIG;
	}
	if (s->max_attempts < 0 || s->max_attempts > QUEUE_ATTEMPTS_MAX || !TIME_OK(s->run_at_ms))
		return INLET_EINVAL;
	return 0;
}

/* Bytes of s to keep within max without splitting a UTF-8 sequence. */
static size_t cut_utf8(const char *s, size_t max)
{
	size_t n = strnlen(s, max + 1);

	if (n <= max)
		return n;
	n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return n;
}

/* ---- backoff --------------------------------------------------------------- */

int64_t queue_backoff_ceiling_ms(int attempts)
{
	int64_t c = QUEUE_BACKOFF_BASE_MS;

	for (int i = 1; i < attempts && c < QUEUE_BACKOFF_CAP_MS; i++)
		c *= 2;
	return c < QUEUE_BACKOFF_CAP_MS ? c : QUEUE_BACKOFF_CAP_MS;
}

int64_t queue_backoff_ms(int attempts, uint64_t r)
{
	return (int64_t)(r % (uint64_t)(queue_backoff_ceiling_ms(attempts) + 1));
}

/* ---- connection helpers (queue lock held) ------------------------------- */

static int64_t clock_now(struct queue *q)
{
	return q->hooks.now ? q->hooks.now(q->hooks.ctx) : now_ms();
}

static uint64_t random64(struct queue *q)
{
	uint64_t r;

	if (q->hooks.rand)
		return q->hooks.rand(q->hooks.ctx);
	rand_bytes(&r, sizeof(r));
	return r;
}

/* The cached statement for slot, reset; NULL if it cannot be prepared
 * (logged). Callers reset it after use, so no statement keeps a read
 * transaction open between calls. */
struct sql_stmt *queue_stmt(struct queue *q, enum slot s)
{
	char text[1024];

	if (!q->st[s]) {
		snprintf(text, sizeof(text), "%s%s", sqls[s], q->pg && pg_suffix[s] ? pg_suffix[s] : "");
		if (sql_prepare(q->db, text, &q->st[s])) {
			log_msg(LOG_ERROR, "jobs: prepare failed: %s (%s)", sql_errmsg(q->db), text);
			return NULL;
		}
	}
	sql_reset(q->st[s]);
	return q->st[s];
}

/* Steps a statement to its end, then resets it. */
int queue_run(struct sql_stmt *st, int64_t *changes)
{
	int rc;

	while ((rc = sql_step(st)) == SQL_ROW)
		;
	if (changes)
		*changes = sql_changes(st);
	sql_reset(st);
	return rc < 0 ? rc : 0;
}

int queue_tx_begin(struct queue *q)
{
	/* SQLite: BEGIN IMMEDIATE, the single writer, as before. PostgreSQL:
	 * READ COMMITTED, with the row locks of pg_suffix. */
	return sql_begin(q->db, SQL_TX_WRITE);
}

/* Commits when rc is 0, else rolls back; returns the outcome. */
int queue_tx_end(struct queue *q, int rc)
{
	if (rc == 0 && (rc = sql_commit(q->db)) == 0)
		return 0;
	if (sql_in_tx(q->db))
		sql_rollback(q->db);
	return rc;
}

void queue_bind_text(struct sql_stmt *st, int i, const char *s)
{
	sql_bind_str(st, i, s);
}

static const char *col_text(struct sql_stmt *st, int i, struct arena *a)
{
	size_t n;
	const char *s = sql_column_text(st, i, &n);

	return s ? arena_strndup(a, s, n) : NULL;
}

/* The text column i as an index of names; -1 when unknown (a file from disk
 * is not trusted to hold only what the CHECK constraints allowed). */
int queue_col_name(struct sql_stmt *st, int i, const char *const *names, int n)
{
	size_t len;
	const char *s = sql_column_text(st, i, &len);

	return s ? name_index(names, n, s, len) : -1;
}

/* Fills job from a row of JOB_COLS (and the payload after them). */
static int job_from(struct sql_stmt *st, struct arena *a, struct queue_job *job, int with_payload)
{
	int lane = queue_col_name(st, 1, queue_lane_names, QUEUE_NLANES);
	int state = queue_col_name(st, 2, state_names, QUEUE_NSTATES);

	memset(job, 0, sizeof(*job));
	if (lane < 0 || state < 0 || sql_column_null(st, 3))
		return INLET_EDB;
	job->id = sql_column_int64(st, 0);
	job->lane = (enum queue_lane)lane;
	job->state = (enum queue_state)state;
	job->kind = col_text(st, 3, a);
	job->payload_len = (size_t)sql_column_int64(st, 4);
	job->idempotency_key = col_text(st, 5, a);
	job->worker = col_text(st, 6, a);
	job->attempts = (int)sql_column_int64(st, 7);
	job->max_attempts = (int)sql_column_int64(st, 8);
	job->run_at_ms = sql_column_int64(st, 9);
	job->lease_until_ms = sql_column_int64(st, 10);
	job->last_error = col_text(st, 11, a);
	job->created_ms = sql_column_int64(st, 12);
	job->updated_ms = sql_column_int64(st, 13);
	job->scope = sql_column_int64(st, 14);
	job->progress = sql_column_int64(st, 15);
	job->total = sql_column_int64(st, 16);
	job->result = col_text(st, 17, a);
	if (with_payload) {
		size_t n = 0;
		const void *p = sql_column_blob(st, COL_PAYLOAD, &n);
		uint8_t *copy = arena_alloc(a, n + 1);

		/* A NUL after the bytes (not counted): text payloads (JSON) read
		 * as strings. */
		if (n)
			memcpy(copy, p, n);
		copy[n] = 0;
		job->payload_len = n;
		job->payload = copy;
	}
	return 0;
}

/* Steps st, which answers at most one row: SQL_ROW (the row is ready),
 * INLET_ENOTFOUND, or an error. */
static int one_row(struct sql_stmt *st)
{
	int rc = sql_step(st);

	return rc == SQL_DONE ? INLET_ENOTFOUND : rc;
}

static int read_job(struct queue *q, int64_t id, struct arena *a, struct queue_job *job)
{
	struct sql_stmt *st = queue_stmt(q, S_GET);
	int rc;

	if (!st)
		return INLET_EDB;
	sql_bind_int64(st, 1, id);
	if ((rc = one_row(st)) == SQL_ROW)
		rc = job_from(st, a, job, 1);
	sql_reset(st);
	return rc;
}

/* 0 when id exists, INLET_ENOTFOUND when not. */
static int job_exists(struct queue *q, int64_t id)
{
	struct sql_stmt *st = queue_stmt(q, S_EXISTS);
	int rc;

	if (!st)
		return INLET_EDB;
	sql_bind_int64(st, 1, id);
	rc = one_row(st);
	sql_reset(st);
	return rc == SQL_ROW ? 0 : rc;
}

struct owned {
	int attempts, max_attempts;
	enum queue_lane lane;
};

/* 0 when id is running under worker (*o then filled), INLET_EBUSY when it
 * is not, INLET_ENOTFOUND when there is no id. On PostgreSQL the row stays
 * locked until the transaction ends (pg_suffix). */
static int job_owned(struct queue *q, int64_t id, const char *worker, struct owned *o)
{
	struct sql_stmt *st = queue_stmt(q, S_OWNER);
	int rc;

	if (!st)
		return INLET_EDB;
	sql_bind_int64(st, 1, id);
	if ((rc = one_row(st)) == SQL_ROW) {
		const char *w = sql_column_text(st, 1, NULL);
		int lane = queue_col_name(st, 4, queue_lane_names, QUEUE_NLANES);

		rc = queue_col_name(st, 0, state_names, QUEUE_NSTATES) == QUEUE_RUNNING && w &&
			     strcmp(w, worker) == 0
		     ? 0
		     : INLET_EBUSY;
		o->attempts = (int)sql_column_int64(st, 2);
		o->max_attempts = (int)sql_column_int64(st, 3);
		o->lane = lane == QUEUE_SLOW ? QUEUE_SLOW : QUEUE_FAST;
	}
	sql_reset(st);
	return rc;
}

void queue_notify_lanes(const struct queue_hooks *h, unsigned lanes)
{
	if (!h->notify)
		return;
	for (int l = 0; l < QUEUE_NLANES; l++)
		if (lanes & (1u << l))
			h->notify(h->ctx, (enum queue_lane)l);
}

/* ---- open / close -------------------------------------------------------- */

int queue_open_target(struct queue **out, const char *target, const char *schema)
{
	struct queue *q = xcalloc(1, sizeof(*q));
	int rc;

	pthread_mutex_init(&q->lock, NULL);
	if ((rc = sql_open(target, 0, &q->db)))
		goto out;
	q->pg = sql_engine(q->db) == SQL_POSTGRES;
	if (q->pg && !schema)
		schema = QUEUE_SCHEMA_DEFAULT;
	if ((rc = sql_set_schema(q->db, schema)))
		goto out;
	rc = sql_migrate(q->db, migrations, (int)(sizeof(migrations) / sizeof(migrations[0])), "jobs");
out:
	if (rc) {
		if (q->db)
			log_msg(LOG_ERROR, "jobs: cannot open the queue: %s", sql_errmsg(q->db));
		queue_close(q);
		q = NULL;
	}
	*out = q;
	return rc;
}

int queue_open(struct queue **out, const char *path)
{
	return queue_open_target(out, path, NULL);
}

void queue_close(struct queue *q)
{
	if (!q)
		return;
	for (int i = 0; i < S__COUNT; i++)
		sql_finalize(q->st[i]);
	sql_close(q->db);
	pthread_mutex_destroy(&q->lock);
	free(q);
}

void queue_set_hooks(struct queue *q, const struct queue_hooks *h)
{
	pthread_mutex_lock(&q->lock);
	if (h)
		q->hooks = *h;
	else
		memset(&q->hooks, 0, sizeof(q->hooks));
	pthread_mutex_unlock(&q->lock);
}

/* ---- enqueue --------------------------------------------------------------- */

/* The id of the kept job of (kind, key): 0 or INLET_ENOTFOUND. */
static int find_key(struct queue *q, const char *kind, const char *key, int64_t *id)
{
	struct sql_stmt *st = queue_stmt(q, S_IDEM);
	int rc;

	if (!st)
		return INLET_EDB;
	queue_bind_text(st, 1, kind);
	queue_bind_text(st, 2, key);
	if ((rc = one_row(st)) == SQL_ROW) {
		*id = sql_column_int64(st, 0);
		rc = 0;
	}
	sql_reset(st);
	return rc;
}

/* Inside a transaction: the job of (kind, key) if there is one, else a new
 * row. */
int queue_insert_job(struct queue *q, const struct queue_spec *s, int64_t now, int64_t *id)
{
	struct sql_stmt *st;
	int rc;

	if (s->idempotency_key && (rc = find_key(q, s->kind, s->idempotency_key, id)) != INLET_ENOTFOUND)
		return rc;
	if (!(st = queue_stmt(q, S_INSERT)))
		return INLET_EDB;
	queue_bind_text(st, 1, queue_lane_names[s->lane]);
	queue_bind_text(st, 2, s->kind);
	/* A zero-length blob, not NULL, when there is no payload. */
	sql_bind_blob(st, 3, s->len ? s->payload : "", s->len);
	queue_bind_text(st, 4, s->idempotency_key);
	sql_bind_int64(st, 5, s->max_attempts ? s->max_attempts : QUEUE_ATTEMPTS_DEFAULT);
	sql_bind_int64(st, 6, s->run_at_ms ? s->run_at_ms : now);
	sql_bind_int64(st, 7, now);
	sql_bind_int64(st, 8, s->scope);
	if ((rc = one_row(st)) == SQL_ROW) {
		*id = sql_column_int64(st, 0);
		rc = 0;
	}
	sql_reset(st);
	/* Ignored: another transaction committed the same key after our look
	 * (PostgreSQL waits for it, then its row is visible here). */
	if (rc == INLET_ENOTFOUND && s->idempotency_key)
		rc = find_key(q, s->kind, s->idempotency_key, id);
	return rc == INLET_ENOTFOUND ? INLET_EDB : rc;
}

int queue_enqueue_batch(struct queue *q, const struct queue_spec *specs, size_t n, int64_t *ids)
{
	struct queue_hooks h;
	unsigned lanes = 0;
	int64_t now;
	int rc = 0;

	assert(q && (n == 0 || (specs && ids)));
	for (size_t i = 0; i < n; i++) {
		if ((rc = check_spec(&specs[i])))
			return rc;
		lanes |= 1u << specs[i].lane;
	}
	if (n == 0)
		return 0;
	pthread_mutex_lock(&q->lock);
	h = q->hooks;
	now = clock_now(q);
	if ((rc = queue_tx_begin(q)))
		goto out;
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = queue_insert_job(q, &specs[i], now, &ids[i]);
	rc = queue_tx_end(q, rc);
out:
	pthread_mutex_unlock(&q->lock);
	if (rc == 0)
		queue_notify_lanes(&h, lanes);
	return rc;
}

int queue_enqueue(struct queue *q, const struct queue_spec *spec, int64_t *id)
{
	return queue_enqueue_batch(q, spec, 1, id);
}

/* ---- claim and report ----------------------------------------------------- */

/* Inside a transaction: the id of the job to claim, or 0. Expired leases
 * come first; one on its last attempt is buried on the way. On PostgreSQL
 * the row picked is locked and rows other claimers hold are passed over. */
static int pick(struct queue *q, enum queue_lane lane, int64_t now, int64_t *id)
{
	struct sql_stmt *st;
	int rc;

	*id = 0;
	for (;;) {
		int attempts = 0, max = 0;

		if (!(st = queue_stmt(q, S_EXPIRED)))
			return INLET_EDB;
		queue_bind_text(st, 1, queue_lane_names[lane]);
		sql_bind_int64(st, 2, now);
		if ((rc = one_row(st)) == SQL_ROW) {
			*id = sql_column_int64(st, 0);
			attempts = (int)sql_column_int64(st, 1);
			max = (int)sql_column_int64(st, 2);
		}
		sql_reset(st);
		if (rc == INLET_ENOTFOUND)
			break;
		if (rc != SQL_ROW)
			return rc;
		if (attempts < max)
			return 0;
		/* Its worker died on the last attempt: never run it again. */
		if (!(st = queue_stmt(q, S_BURY)))
			return INLET_EDB;
		sql_bind_int64(st, 1, *id);
		queue_bind_text(st, 2, "lease expired on the last attempt");
		sql_bind_int64(st, 3, now);
		if ((rc = queue_run(st, NULL)))
			return rc;
		*id = 0;
	}
	if (!(st = queue_stmt(q, S_DUE)))
		return INLET_EDB;
	queue_bind_text(st, 1, queue_lane_names[lane]);
	sql_bind_int64(st, 2, now);
	if ((rc = one_row(st)) == SQL_ROW)
		*id = sql_column_int64(st, 0);
	sql_reset(st);
	return rc == SQL_ROW || rc == INLET_ENOTFOUND ? 0 : rc;
}

int queue_claim(struct queue *q, enum queue_lane lane, const char *worker, int64_t lease_ms,
		int64_t now, struct arena *a, struct queue_job *job)
{
	struct sql_stmt *st;
	int64_t id = 0;
	int rc;

	assert(q && a && job);
	if ((rc = queue_check_lane((int)lane)) || (rc = check_worker(worker)))
		return rc;
	if (lease_ms <= 0 || lease_ms > QUEUE_LEASE_MAX_MS || !TIME_OK(now))
		return INLET_EINVAL;
	pthread_mutex_lock(&q->lock);
	if ((rc = queue_tx_begin(q)))
		goto out;
	if ((rc = pick(q, lane, now, &id)) || id == 0)
		goto end;
	if (!(st = queue_stmt(q, S_TAKE))) {
		rc = INLET_EDB;
		goto end;
	}
	sql_bind_int64(st, 1, id);
	queue_bind_text(st, 2, worker);
	sql_bind_int64(st, 3, now + lease_ms);
	sql_bind_int64(st, 4, now);
	if ((rc = queue_run(st, NULL)))
		goto end;
	rc = read_job(q, id, a, job);
end:
	/* Nothing due still commits the jobs buried on the way. */
	rc = queue_tx_end(q, rc);
	if (rc == 0 && id == 0)
		rc = INLET_ENOTFOUND;
out:
	pthread_mutex_unlock(&q->lock);
	return rc;
}

int queue_complete(struct queue *q, int64_t id, const char *worker)
{
	struct owned o;
	struct sql_stmt *st;
	int rc;

	if ((rc = check_worker(worker)))
		return rc;
	pthread_mutex_lock(&q->lock);
	if ((rc = queue_tx_begin(q)))
		goto out;
	if ((rc = job_owned(q, id, worker, &o)))
		goto end;
	if (!(st = queue_stmt(q, S_DONE))) {
		rc = INLET_EDB;
		goto end;
	}
	sql_bind_int64(st, 1, id);
	sql_bind_int64(st, 2, clock_now(q));
	rc = queue_run(st, NULL);
end:
	rc = queue_tx_end(q, rc);
out:
	pthread_mutex_unlock(&q->lock);
	return rc;
}

static int fail_job(struct queue *q, int64_t id, const char *worker, const char *error, int64_t now,
		    int final);

int queue_note(struct queue *q, int64_t id, const char *worker, int64_t progress, int64_t total,
	       const char *result)
{
	struct owned o;
	struct sql_stmt *st;
	int rc;

	if ((rc = check_worker(worker)))
		return rc;
	pthread_mutex_lock(&q->lock);
	if ((rc = queue_tx_begin(q)))
		goto out;
	if ((rc = job_owned(q, id, worker, &o)))
		goto end;
	if (!(st = queue_stmt(q, S_NOTE))) {
		rc = INLET_EDB;
		goto end;
	}
	sql_bind_int64(st, 1, id);
	sql_bind_int64(st, 2, progress);
	sql_bind_int64(st, 3, total);
	queue_bind_text(st, 4, result);
	sql_bind_int64(st, 5, clock_now(q));
	rc = queue_run(st, NULL);
end:
	rc = queue_tx_end(q, rc);
out:
	pthread_mutex_unlock(&q->lock);
	return rc;
}

int queue_fail(struct queue *q, int64_t id, const char *worker, const char *error, int64_t now)
{
	return fail_job(q, id, worker, error, now, 0);
}

int queue_bury(struct queue *q, int64_t id, const char *worker, const char *error, int64_t now)
{
	return fail_job(q, id, worker, error, now, 1);
}

static int fail_job(struct queue *q, int64_t id, const char *worker, const char *error, int64_t now,
		    int final)
{
	struct queue_hooks h;
	struct owned o;
	struct sql_stmt *st;
	int requeued = 0, rc;

	if ((rc = check_worker(worker)))
		return rc;
	if (!TIME_OK(now))
		return INLET_EINVAL;
	pthread_mutex_lock(&q->lock);
	h = q->hooks;
	if ((rc = queue_tx_begin(q)))
		goto out;
	if ((rc = job_owned(q, id, worker, &o)))
		goto end;
	if (final || o.attempts >= o.max_attempts) {
		if (!(st = queue_stmt(q, S_BURY))) {
			rc = INLET_EDB;
			goto end;
		}
		sql_bind_int64(st, 3, now);
	} else {
		if (!(st = queue_stmt(q, S_REQUEUE))) {
			rc = INLET_EDB;
			goto end;
		}
		sql_bind_int64(st, 2, now + queue_backoff_ms(o.attempts, random64(q)));
		sql_bind_int64(st, 4, now);
		requeued = 1;
	}
	sql_bind_int64(st, 1, id);
	/* S_BURY and S_REQUEUE take the error at different places. */
	if (error)
		sql_bind_text(st, requeued ? 3 : 2, error, cut_utf8(error, QUEUE_ERROR_MAX));
	else
		sql_bind_null(st, requeued ? 3 : 2);
	rc = queue_run(st, NULL);
end:
	rc = queue_tx_end(q, rc);
out:
	pthread_mutex_unlock(&q->lock);
	if (rc == 0 && requeued)
		queue_notify_lanes(&h, 1u << o.lane);
	return rc;
}

int queue_extend(struct queue *q, int64_t id, const char *worker, int64_t lease_ms)
{
	struct owned o;
	struct sql_stmt *st;
	int64_t now;
	int rc;

	if ((rc = check_worker(worker)))
		return rc;
	if (lease_ms <= 0 || lease_ms > QUEUE_LEASE_MAX_MS)
		return INLET_EINVAL;
	pthread_mutex_lock(&q->lock);
	now = clock_now(q);
	if ((rc = queue_tx_begin(q)))
		goto out;
	if ((rc = job_owned(q, id, worker, &o)))
		goto end;
	if (!(st = queue_stmt(q, S_EXTEND))) {
		rc = INLET_EDB;
		goto end;
	}
	sql_bind_int64(st, 1, id);
	sql_bind_int64(st, 2, now + lease_ms);
	sql_bind_int64(st, 3, now);
	rc = queue_run(st, NULL);
end:
	rc = queue_tx_end(q, rc);
out:
	pthread_mutex_unlock(&q->lock);
	return rc;
}

/* ---- operator actions ------------------------------------------------------ */

/* Runs retry or cancel on id; INLET_EBUSY when its state does not allow it.
 * On success *lane gets the job's lane and *h the hooks. */
static int change_state(struct queue *q, enum slot s, int64_t id, enum queue_lane *lane,
			struct queue_hooks *h)
{
	struct sql_stmt *st;
	int rc;

	pthread_mutex_lock(&q->lock);
	*h = q->hooks;
	if ((rc = queue_tx_begin(q)))
		goto out;
	if (!(st = queue_stmt(q, s))) {
		rc = INLET_EDB;
		goto end;
	}
	sql_bind_int64(st, 1, id);
	sql_bind_int64(st, 2, clock_now(q));
	if ((rc = one_row(st)) == SQL_ROW)
		*lane = queue_col_name(st, 0, queue_lane_names, QUEUE_NLANES) == QUEUE_SLOW ? QUEUE_SLOW : QUEUE_FAST;
	sql_reset(st);
	if (rc == SQL_ROW)
		rc = 0;
	else if (rc == INLET_ENOTFOUND) /* nothing changed: which answer? */
		rc = (rc = job_exists(q, id)) ? rc : INLET_EBUSY;
end:
	rc = queue_tx_end(q, rc);
out:
	pthread_mutex_unlock(&q->lock);
	return rc;
}

int queue_retry(struct queue *q, int64_t id)
{
	enum queue_lane lane = QUEUE_FAST;
	struct queue_hooks h;
	int rc = change_state(q, S_RETRY, id, &lane, &h);

	if (rc == 0)
		queue_notify_lanes(&h, 1u << lane);
	return rc;
}

int queue_cancel(struct queue *q, int64_t id)
{
	enum queue_lane lane;
	struct queue_hooks h;

	return change_state(q, S_CANCEL, id, &lane, &h);
}

int queue_release_all(struct queue *q, int64_t now, int64_t *n)
{
	struct sql_stmt *st;
	int rc;

	*n = 0;
	if (!TIME_OK(now))
		return INLET_EINVAL;
	pthread_mutex_lock(&q->lock);
	if ((st = queue_stmt(q, S_RELEASE))) {
		sql_bind_int64(st, 1, now);
		rc = queue_run(st, n);
	} else {
		rc = INLET_EDB;
	}
	pthread_mutex_unlock(&q->lock);
	return rc;
}

int queue_release_owner(struct queue *q, const char *owner, int64_t now, int64_t *n)
{
	char prefix[QUEUE_OWNER_MAX + 2];
	struct sql_stmt *st;
	size_t len = owner ? strlen(owner) : 0;
	int rc;

	*n = 0;
	if (!TIME_OK(now) || !len || len > QUEUE_OWNER_MAX || strchr(owner, '/') || check_worker(owner))
		return INLET_EINVAL;
	snprintf(prefix, sizeof(prefix), "%s/", owner);
	pthread_mutex_lock(&q->lock);
	if ((st = queue_stmt(q, S_RELEASE_OWNER))) {
		sql_bind_int64(st, 1, now);
		queue_bind_text(st, 2, prefix);
		rc = queue_run(st, n);
	} else {
		rc = INLET_EDB;
	}
	pthread_mutex_unlock(&q->lock);
	return rc;
}

/* ---- reading ---------------------------------------------------------------- */

int queue_get(struct queue *q, int64_t id, struct arena *a, struct queue_job *job)
{
	int rc;

	pthread_mutex_lock(&q->lock);
	rc = read_job(q, id, a, job);
	pthread_mutex_unlock(&q->lock);
	return rc;
}

int queue_list(struct queue *q, const struct queue_filter *f, struct arena *a,
	       struct queue_job **jobs, size_t *n)
{
	struct sql_stmt *st;
	size_t limit;
	int o = 0, rc; /* o: S_LIST_ANY numbers its parameters one lower */

	assert(q && f && a && jobs && n);
	limit = f->limit ? f->limit : QUEUE_LIST_DEFAULT;
	*n = 0;
	*jobs = NULL;
	if (limit > QUEUE_LIST_MAX || f->before_id < 0 ||
	    (f->state != -1 && !queue_state_name(f->state)) ||
	    (f->lane != -1 && !queue_lane_name(f->lane)))
		return INLET_EINVAL;
	*jobs = arena_alloc(a, limit * sizeof(**jobs));
	pthread_mutex_lock(&q->lock);
	/* By state, the (state, id) index gives the order; else the key does. */
	if (!(st = queue_stmt(q, f->state >= 0 ? S_LIST_STATE : S_LIST_ANY))) {
		rc = INLET_EDB;
		goto out;
	}
	if (f->state >= 0)
		queue_bind_text(st, 1, queue_state_name(f->state));
	else
		o = 1;
	sql_bind_int64(st, 2 - o, f->before_id ? f->before_id : INT64_MAX);
	queue_bind_text(st, 3 - o, queue_lane_name(f->lane));
	queue_bind_text(st, 4 - o, f->kind);
	sql_bind_int64(st, 5 - o, (int64_t)limit);
	if (f->scope > 0)
		sql_bind_int64(st, 6 - o, f->scope);
	else
		sql_bind_null(st, 6 - o);
	for (;;) {
		int src = *n < limit ? sql_step(st) : SQL_DONE;

		if (src != SQL_ROW) {
			rc = src;
			break;
		}
		if ((rc = job_from(st, a, &(*jobs)[*n], 0)))
			break;
		(*n)++;
	}
	sql_reset(st);
out:
	pthread_mutex_unlock(&q->lock);
	return rc;
}

int queue_next_due_ms(struct queue *q, enum queue_lane lane, int64_t *ms)
{
	struct sql_stmt *st;
	int rc;

	if ((rc = queue_check_lane((int)lane)))
		return rc;
	pthread_mutex_lock(&q->lock);
	if (!(st = queue_stmt(q, S_NEXT))) {
		rc = INLET_EDB;
		goto out;
	}
	queue_bind_text(st, 1, queue_lane_names[lane]);
	if ((rc = one_row(st)) == SQL_ROW) {
		int has_run = !sql_column_null(st, 0);
		int has_lease = !sql_column_null(st, 1);
		int64_t run_at = sql_column_int64(st, 0), lease = sql_column_int64(st, 1);

		rc = 0;
		if (has_run && has_lease)
			*ms = run_at < lease ? run_at : lease;
		else if (has_run || has_lease)
			*ms = has_run ? run_at : lease;
		else
			rc = INLET_ENOTFOUND;
	} else if (rc == INLET_ENOTFOUND) {
		rc = INLET_EDB; /* an aggregate always answers a row */
	}
	sql_reset(st);
out:
	pthread_mutex_unlock(&q->lock);
	return rc;
}

int queue_purge(struct queue *q, enum queue_state state, int64_t before_ms, int64_t *n)
{
	int64_t total = 0;
	int rc = 0, more = 1;

	if (state != QUEUE_DONE && state != QUEUE_DEAD && state != QUEUE_CANCELLED)
		return INLET_EINVAL;
	/* Batches, each its own transaction, with the lock let go in between so
	 * claims are not held up by a long purge. */
	while (more && rc == 0) {
		struct sql_stmt *st;

		pthread_mutex_lock(&q->lock);
		if ((st = queue_stmt(q, S_PURGE))) {
			int64_t changed = 0;

			queue_bind_text(st, 1, state_names[state]);
			sql_bind_int64(st, 2, before_ms);
			sql_bind_int64(st, 3, PURGE_BATCH);
			if ((rc = queue_run(st, &changed)) == 0) {
				total += changed;
				more = changed == PURGE_BATCH;
			}
		} else {
			rc = INLET_EDB;
		}
		pthread_mutex_unlock(&q->lock);
	}
	if (n)
		*n = total;
	return rc;
}
