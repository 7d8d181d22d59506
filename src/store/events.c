/* Error tracking: the writes (store/events.h). Every write is an op on the
 * store's writer, so events share the group commit of form submissions;
 * one request's batch runs under a savepoint, so it is kept whole or not
 * at all while the rest of the writer's batch commits. */
#include "store/events.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/enc.h"
#include "core/err.h"
#include "store/db.h"
#include "store/subs.h"
#include "store/subs_int.h"
#include "store/sql.h"
#include "store/writer.h"

/* Writer statement slots (16..63 are this file's, see writer.h). */
enum {
	S_ISSUE_FIND = 16,
	S_ISSUE_DROP,
	S_ISSUE_NEW,
	S_ISSUE_HIT,
	S_EVENT_NEW,
	S_ISSUE_HOUR,
	S_ISSUE_SID,
	S_ISSUE_SID_INC,
	S_SESSION_FIND,
	S_SESSION_NEW,
	S_SESSION_FLAGS,
	S_SESSION_HOUR,
	S_COUNT_ADD,
	S_STATE,
};

#define FLAG_ERRORED 1
#define FLAG_CRASHED 2

static int step_done(sqlite3 *db, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	if (rc == SQLITE_DONE || rc == SQLITE_ROW)
		return 0;
	return db_rc(db, rc) ? db_rc(db, rc) : INLET_EDB;
}

/* Ends savepoint name: kept when rc is 0, else undone (unless SQLite has
 * already rolled the whole transaction back) and rc returned. */
static int savepoint_end(sqlite3 *db, const char *name, int rc)
{
	char sql[48];

	if (!rc) {
		snprintf(sql, sizeof(sql), "RELEASE %s", name);
		return db_exec(db, sql);
	}
	if (!sqlite3_get_autocommit(db)) {
		snprintf(sql, sizeof(sql), "ROLLBACK TO %s", name);
		db_exec(db, sql);
		snprintf(sql, sizeof(sql), "RELEASE %s", name);
		db_exec(db, sql);
	}
	return rc;
}

/* ---- sessions ------------------------------------------------------------ */

/* Notes a delta to session_hours in the batch, when it collects them. */
static void hour_note(struct ev_batch *b, int64_t hour_ms, int64_t sessions, int64_t errored, int64_t crashed)
{
	if (!b->collect_hours)
		return;
	if (b->nhours == b->hours_cap) {
		b->hours_cap = b->hours_cap ? 2 * b->hours_cap : 8;
		b->hours = xrealloc(b->hours, b->hours_cap * sizeof(*b->hours));
	}
	b->hours[b->nhours++] = (struct ev_aggregate){ .hour_ms = hour_ms, .sessions = sessions,
						       .errored = errored, .crashed = crashed };
}

static int hour_add(struct writer *w, sqlite3 *db, struct ev_batch *b, int64_t hour_ms,
		    int64_t sessions, int64_t errored, int64_t crashed)
{
	int64_t endpoint_id = b->endpoint_id;
	int rc;

	sqlite3_stmt *st = writer_stmt(w, S_SESSION_HOUR,
		"INSERT INTO session_hours(endpoint_id,hour,sessions,errored,crashed) VALUES(?,?,?,?,?)"
		" ON CONFLICT(endpoint_id,hour) DO UPDATE SET sessions=sessions+excluded.sessions,"
		" errored=errored+excluded.errored, crashed=crashed+excluded.crashed");

	if (!st)
		return INLET_EDB;
	if (!sessions && !errored && !crashed)
		return 0;
	sqlite3_bind_int64(st, 1, endpoint_id);
	sqlite3_bind_int64(st, 2, hour_ms - hour_ms % EV_HOUR_MS);
	sqlite3_bind_int64(st, 3, sessions);
	sqlite3_bind_int64(st, 4, errored);
	sqlite3_bind_int64(st, 5, crashed);
	if ((rc = step_done(db, st)) == 0)
		hour_note(b, hour_ms - hour_ms % EV_HOUR_MS, sessions, errored, crashed);
	return rc;
}

/* A session seen: a new one counts in its hour (when it is a start), and
 * its first error and first crash count in the hour it started. */
static int session_touch(struct writer *w, sqlite3 *db, struct ev_batch *b, const uint8_t *sid,
			 int64_t ms, int init, int flags)
{
	int64_t endpoint_id = b->endpoint_id;
	sqlite3_stmt *st = writer_stmt(w, S_SESSION_FIND,
				       "SELECT hour, errored FROM sessions WHERE endpoint_id=? AND sid=?");
	int64_t hour;
	int old, rc, newbits;

	if (!st)
		return INLET_EDB;
	if (flags & FLAG_CRASHED)
		flags |= FLAG_ERRORED;
	sqlite3_bind_int64(st, 1, endpoint_id);
	sqlite3_bind_blob(st, 2, sid, EV_SID_BYTES, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		hour = sqlite3_column_int64(st, 0);
		old = sqlite3_column_int(st, 1);
		sqlite3_reset(st);
		newbits = flags & ~old;
		if (!newbits)
			return 0;
		if (!(st = writer_stmt(w, S_SESSION_FLAGS,
				       "UPDATE sessions SET errored=errored|?3 WHERE endpoint_id=?1 AND sid=?2")))
			return INLET_EDB;
		sqlite3_bind_int64(st, 1, endpoint_id);
		sqlite3_bind_blob(st, 2, sid, EV_SID_BYTES, SQLITE_STATIC);
		sqlite3_bind_int(st, 3, newbits);
		if ((rc = step_done(db, st)))
			return rc;
		return hour_add(w, db, b, hour, 0, !!(newbits & FLAG_ERRORED),
				!!(newbits & FLAG_CRASHED));
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return INLET_EDB;
	hour = ms - ms % EV_HOUR_MS;
	if (!(st = writer_stmt(w, S_SESSION_NEW,
			       "INSERT INTO sessions(endpoint_id,sid,day,hour,errored) VALUES(?,?,?,?,?)")))
		return INLET_EDB;
	sqlite3_bind_int64(st, 1, endpoint_id);
	sqlite3_bind_blob(st, 2, sid, EV_SID_BYTES, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, ms / EV_DAY_MS);
	sqlite3_bind_int64(st, 4, hour);
	sqlite3_bind_int(st, 5, flags);
	if ((rc = step_done(db, st)))
		return rc;
	return hour_add(w, db, b, hour, init ? 1 : 0, !!(flags & FLAG_ERRORED),
			!!(flags & FLAG_CRASHED));
}

/* ---- events -------------------------------------------------------------- */

static int issue_find(struct writer *w, int64_t endpoint_id, const uint8_t *fp, int64_t *id, int *state)
{
	sqlite3_stmt *st = writer_stmt(w, S_ISSUE_FIND,
				       "SELECT id, state FROM issues WHERE endpoint_id=? AND fingerprint=?");
	int rc;

	if (!st)
		return INLET_EDB;
	sqlite3_bind_int64(st, 1, endpoint_id);
	sqlite3_bind_blob(st, 2, fp, EV_FP_BYTES, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*id = sqlite3_column_int64(st, 0);
		*state = sqlite3_column_int(st, 1);
		rc = 0;
	} else {
		rc = rc == SQLITE_DONE ? INLET_ENOTFOUND : INLET_EDB;
	}
	sqlite3_reset(st);
	return rc;
}

static int bind_run(sqlite3 *db, sqlite3_stmt *st, int64_t a, int64_t b)
{
	sqlite3_bind_int64(st, 1, a);
	sqlite3_bind_int64(st, 2, b);
	return step_done(db, st);
}

static int record_apply(struct writer *w, sqlite3 *db, struct substore *s, struct ev_batch *b,
			struct ev_record *e)
{
	int64_t endpoint_id = b->endpoint_id;
	int64_t ms = sub_id_ms(e->id);
	sqlite3_stmt *st;
	int state = ISSUE_OPEN, rc;

	rc = issue_find(w, endpoint_id, e->fingerprint, &e->issue_id, &state);
	if (rc == INLET_ENOTFOUND) {
		char *search = e->search ? e->search(e->search_ctx) : NULL;

		e->issue_id = e->new_issue_id;
		e->issue_new = 1;
		if (!(st = writer_stmt(w, S_ISSUE_NEW,
				       "INSERT INTO issues(id,endpoint_id,fingerprint,first_seen,last_seen,"
				       "key_version,meta,last,search) VALUES(?,?,?,?,?,?,?,?,?)"))) {
			free(search);
			return INLET_EDB;
		}
		sqlite3_bind_int64(st, 1, e->issue_id);
		sqlite3_bind_int64(st, 2, endpoint_id);
		sqlite3_bind_blob(st, 3, e->fingerprint, EV_FP_BYTES, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, ms);
		sqlite3_bind_int64(st, 5, ms);
		sqlite3_bind_int64(st, 6, e->key_version);
		sqlite3_bind_blob(st, 7, e->meta, (int)e->meta_len, SQLITE_STATIC);
		sqlite3_bind_blob(st, 8, e->last, (int)e->last_len, SQLITE_STATIC);
		sqlite3_bind_text(st, 9, search ? search : "", -1, SQLITE_STATIC);
		rc = step_done(db, st);
		free(search);
		if (rc)
			return rc;
		/* In the issue's own transaction: its webhooks cannot miss it. */
		if (b->outbox && (rc = substore_outbox_write(w, endpoint_id, "issue.created", e->id)))
			return rc;
	} else if (rc) {
		return rc;
	} else if (state == ISSUE_IGNORED) {
		/* Ignored: the event is counted, not kept. */
		e->stored = 0;
		if (!(st = writer_stmt(w, S_ISSUE_DROP, "UPDATE issues SET dropped=dropped+1 WHERE id=?")))
			return INLET_EDB;
		sqlite3_bind_int64(st, 1, e->issue_id);
		return step_done(db, st);
	}
	e->stored = 1;
	/* The outbox names the event that made or reopened the issue: each
	 * occurrence is its own delivery. */
	if (state == ISSUE_RESOLVED && b->outbox &&
	    (rc = substore_outbox_write(w, endpoint_id, "issue.reopened", e->id)))
		return rc;
	/* A resolved issue reopens on a new event. What it is afterwards comes
	 * back with the update (for the live bus, told after the commit). */
	if (!(st = writer_stmt(w, S_ISSUE_HIT,
			       "UPDATE issues SET count=count+1, last_seen=max(last_seen,?2), last=?3,"
			       " state_changed=CASE WHEN state=1 THEN ?2 ELSE state_changed END,"
			       " state=CASE WHEN state=1 THEN 0 ELSE state END WHERE id=?1"
			       " RETURNING count, last_seen, state")))
		return INLET_EDB;
	sqlite3_bind_int64(st, 1, e->issue_id);
	sqlite3_bind_int64(st, 2, ms);
	sqlite3_bind_blob(st, 3, e->last, (int)e->last_len, SQLITE_STATIC);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		e->issue_count = sqlite3_column_int64(st, 0);
		e->issue_last_seen = sqlite3_column_int64(st, 1);
		e->issue_state = sqlite3_column_int(st, 2);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW)
		return db_rc(db, rc) ? db_rc(db, rc) : INLET_EDB;
	if (!(st = writer_stmt(w, S_EVENT_NEW,
			       "INSERT INTO events(id,endpoint_id,issue_id,key_version,dict_id,sealed)"
			       " VALUES(?,?,?,?,?,?)")))
		return INLET_EDB;
	sqlite3_bind_int64(st, 1, e->id);
	sqlite3_bind_int64(st, 2, endpoint_id);
	sqlite3_bind_int64(st, 3, e->issue_id);
	sqlite3_bind_int64(st, 4, e->key_version);
	sqlite3_bind_int64(st, 5, e->dict_id);
	sqlite3_bind_blob(st, 6, e->sealed, (int)e->sealed_len, SQLITE_STATIC);
	if ((rc = step_done(db, st)))
		return rc;
	/* Events count towards a move to a database of their own, and while
	 * one copies them out, each new one is logged for it. */
	if (substore_is_tracked(s, endpoint_id) && (rc = substore_log_write(w, endpoint_id, e->id)))
		return rc;
	substore_count_delta(s, endpoint_id, 1, b->shard_threshold);
	if (!(st = writer_stmt(w, S_ISSUE_HOUR,
			       "INSERT INTO issue_hours(issue_id,hour,n) VALUES(?,?,1)"
			       " ON CONFLICT(issue_id,hour) DO UPDATE SET n=n+1")) ||
	    (rc = bind_run(db, st, e->issue_id, ms - ms % EV_HOUR_MS)))
		return rc ? rc : INLET_EDB;
	if (!e->has_sid)
		return 0;
	if (!(st = writer_stmt(w, S_ISSUE_SID,
			       "INSERT OR IGNORE INTO issue_sessions(issue_id,sid,day) VALUES(?,?,?)")))
		return INLET_EDB;
	sqlite3_bind_int64(st, 1, e->issue_id);
	sqlite3_bind_blob(st, 2, e->sid, EV_SID_BYTES, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, ms / EV_DAY_MS);
	if ((rc = step_done(db, st)))
		return rc;
	if (sqlite3_changes(db)) {
		if (!(st = writer_stmt(w, S_ISSUE_SID_INC, "UPDATE issues SET sessions=sessions+1 WHERE id=?")))
			return INLET_EDB;
		sqlite3_bind_int64(st, 1, e->issue_id);
		if ((rc = step_done(db, st)))
			return rc;
	}
	return e->visit ? session_touch(w, db, b, e->sid, ms, 1, FLAG_ERRORED) : 0;
}

/* Rarely run: plain prepared statements, not cached ones. */
static int exec_i64(sqlite3 *db, const char *sql, int64_t a)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return INLET_EDB;
	sqlite3_bind_int64(st, 1, a);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : INLET_EDB;
}

/* A new day: the session rows of earlier days were keyed with a salt that
 * is gone, so no visit can match them again. */
static int prune(sqlite3 *db, int64_t day)
{
	int rc;

	if ((rc = exec_i64(db, "DELETE FROM sessions WHERE day<?", day)) ||
	    (rc = exec_i64(db, "DELETE FROM issue_sessions WHERE day<?", day)))
		return rc;
	return 0;
}

struct batch_op {
	struct writer_op op; /* first */
	struct substore *s;
	struct ev_batch *b;
	ev_done_fn done;
	void *ctx;
};

static int batch_apply(struct writer *w, struct sql_conn *c, struct writer_op *op)
{
	sqlite3 *db = sql_sqlite_handle(c);
	struct batch_op *bo = (struct batch_op *)op;
	struct ev_batch *b = bo->b;
	struct substore *to = substore_moved_to(bo->s, b->endpoint_id);
	int64_t day = b->now_ms / EV_DAY_MS;
	int pruning, rc;

	if (to) {
		/* Queued before its endpoint moved: it belongs there now. */
		bo->s = to;
		writer_submit(to->writer, op);
		return WRITER_FORWARDED;
	}
	/* An apply that is rolled back, or forwarded and run again, starts
	 * the list afresh. */
	b->nhours = 0;
	pruning = day != bo->s->ev_prune_day;
	if ((rc = db_exec(db, "SAVEPOINT ev")))
		return rc;
	if (pruning)
		rc = prune(db, day);
	for (size_t i = 0; i < b->nevents && !rc; i++)
		rc = record_apply(w, db, bo->s, b, &b->events[i]);
	for (size_t i = 0; i < b->nsessions && !rc; i++) {
		struct ev_session *s = &b->sessions[i];

		rc = session_touch(w, db, b, s->sid, s->ms, s->init,
				   (s->errored ? FLAG_ERRORED : 0) | (s->crashed ? FLAG_CRASHED : 0));
	}
	for (size_t i = 0; i < b->naggregates && !rc; i++) {
		struct ev_aggregate *g = &b->aggregates[i];

		rc = hour_add(w, db, b, g->hour_ms, g->sessions, g->errored, g->crashed);
	}
	if ((rc = savepoint_end(db, "ev", rc)) == 0 && pruning)
		bo->s->ev_prune_day = day; /* (a rolled back prune runs again) */
	return rc;
}

static void batch_done(struct writer_op *op, int rc)
{
	struct batch_op *bo = (struct batch_op *)op;

	bo->done(bo->ctx, rc);
	free(bo);
}

void evstore_submit(struct substore *s, struct ev_batch *b, ev_done_fn done, void *ctx)
{
	struct batch_op *bo = xcalloc(1, sizeof(*bo));

	bo->op.apply = batch_apply;
	bo->op.done = batch_done;
	bo->s = s;
	bo->b = b;
	bo->done = done;
	bo->ctx = ctx;
	writer_submit(substore_writer(s), &bo->op);
}

/* ---- synchronous writes ---------------------------------------------------- */

struct sync_op {
	struct writer_op op; /* first */
	struct substore *s;
	int (*fn)(struct writer *w, sqlite3 *db, struct sync_op *o);
	int64_t endpoint_id, id;
	int state;
	const struct ev_count_delta *deltas;
	size_t n;
	int64_t day;
	uint8_t *salt;
	uint32_t dict_id, key_version;
	const uint8_t *blob;
	size_t len;
};

static void sync_done(struct writer_op *op, int rc);

static int sync_apply(struct writer *w, struct sql_conn *c, struct writer_op *op)
{
	sqlite3 *db = sql_sqlite_handle(c);
	struct sync_op *o = (struct sync_op *)op;
	struct substore *to = o->endpoint_id ? substore_moved_to(o->s, o->endpoint_id) : NULL;
	int rc;

	if (to) {
		/* Queued before its endpoint moved. Its caller waits on this
		 * writer, so it runs on the new store's writer while this one
		 * waits. */
		struct sync_op fwd = *o;

		fwd.s = to;
		fwd.op.done = sync_done;
		fwd.op.next = NULL;
		return writer_run(to->writer, &fwd.op);
	}
	if ((rc = db_exec(db, "SAVEPOINT evs")))
		return rc;
	return savepoint_end(db, "evs", o->fn(w, db, o));
}

static void sync_done(struct writer_op *op, int rc)
{
	(void)op;
	(void)rc;
}

static int run_sync(struct substore *s, struct sync_op *o)
{
	o->s = s;
	o->op.apply = sync_apply;
	o->op.done = sync_done;
	return writer_run(substore_writer(s), &o->op);
}

static int state_fn(struct writer *w, sqlite3 *db, struct sync_op *o)
{
	sqlite3_stmt *st = writer_stmt(w, S_STATE,
		"UPDATE issues SET state=?3, state_changed=CASE WHEN state=?3 THEN state_changed ELSE ?4 END"
		" WHERE id=?1 AND endpoint_id=?2");
	int rc;

	if (!st)
		return INLET_EDB;
	sqlite3_bind_int64(st, 1, o->id);
	sqlite3_bind_int64(st, 2, o->endpoint_id);
	sqlite3_bind_int(st, 3, o->state);
	sqlite3_bind_int64(st, 4, now_ms());
	if ((rc = step_done(db, st)))
		return rc;
	return sqlite3_changes(db) ? 0 : INLET_ENOTFOUND;
}

int evstore_issue_state(struct substore *s, int64_t endpoint_id, int64_t id, int state)
{
	struct sync_op o = { .fn = state_fn, .endpoint_id = endpoint_id, .id = id, .state = state };

	return run_sync(s, &o);
}

static int count_fn(struct writer *w, sqlite3 *db, struct sync_op *o)
{
	sqlite3_stmt *st = writer_stmt(w, S_COUNT_ADD,
		"INSERT INTO daily_counts(account_id,endpoint_id,day,name,n) VALUES(?,?,?,?,?)"
		" ON CONFLICT(account_id,endpoint_id,day,name) DO UPDATE SET n=n+excluded.n");
	int rc;

	if (!st)
		return INLET_EDB;
	for (size_t i = 0; i < o->n; i++) {
		sqlite3_bind_int64(st, 1, o->deltas[i].account_id);
		sqlite3_bind_int64(st, 2, o->deltas[i].endpoint_id);
		sqlite3_bind_int64(st, 3, o->deltas[i].day);
		sqlite3_bind_text(st, 4, o->deltas[i].name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 5, o->deltas[i].n);
		if ((rc = step_done(db, st)))
			return rc;
	}
	return 0;
}

int evstore_count_add(struct substore *s, const struct ev_count_delta *d, size_t n)
{
	struct sync_op o = { .fn = count_fn, .deltas = d, .n = n };

	return n ? run_sync(s, &o) : 0;
}

static void count_free(struct writer_op *op, int rc)
{
	struct sync_op *o = (struct sync_op *)op;

	(void)rc; /* a lost batch of counters is logged by the writer; they are statistics */
	free((void *)o->deltas);
	free(o);
}

void evstore_count_submit(struct substore *s, struct ev_count_delta *d, size_t n)
{
	struct sync_op *o = xcalloc(1, sizeof(*o));

	o->s = s;
	o->fn = count_fn;
	o->deltas = d;
	o->n = n;
	o->op.apply = sync_apply;
	o->op.done = count_free;
	writer_submit(substore_writer(s), &o->op);
}

static int dict_fn(struct writer *w, sqlite3 *db, struct sync_op *o)
{
	sqlite3_stmt *st;
	int rc;

	(void)w;
	if (sqlite3_prepare_v2(db, "INSERT INTO zdicts(endpoint_id,dict_id,key_version,sealed,created)"
				   " VALUES(?,?,?,?,?)", -1, &st, NULL) != SQLITE_OK)
		return INLET_EDB;
	sqlite3_bind_int64(st, 1, o->endpoint_id);
	sqlite3_bind_int64(st, 2, o->dict_id);
	sqlite3_bind_int64(st, 3, o->key_version);
	sqlite3_bind_blob(st, 4, o->blob, (int)o->len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, now_ms());
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : rc == SQLITE_CONSTRAINT ? INLET_EEXISTS : INLET_EDB;
}

int evstore_dict_put(struct substore *s, int64_t endpoint_id, uint32_t dict_id, uint32_t key_version,
		     const uint8_t *sealed, size_t len)
{
	struct sync_op o = { .fn = dict_fn, .endpoint_id = endpoint_id, .dict_id = dict_id,
			     .key_version = key_version, .blob = sealed, .len = len };

	return run_sync(s, &o);
}

static int delete_fn(struct writer *w, sqlite3 *db, struct sync_op *o)
{
	static const char *const sql[] = {
		"DELETE FROM issue_hours WHERE issue_id IN (SELECT id FROM issues WHERE endpoint_id=?)",
		"DELETE FROM issue_sessions WHERE issue_id IN (SELECT id FROM issues WHERE endpoint_id=?)",
		"DELETE FROM events WHERE endpoint_id=?",
		"DELETE FROM issues WHERE endpoint_id=?",
		"DELETE FROM sessions WHERE endpoint_id=?",
		"DELETE FROM session_hours WHERE endpoint_id=?",
		"DELETE FROM zdicts WHERE endpoint_id=?",
		"DELETE FROM daily_counts WHERE endpoint_id=?",
	};
	int rc;

	(void)w;
	for (size_t i = 0; i < sizeof(sql) / sizeof(*sql); i++)
		if ((rc = exec_i64(db, sql[i], o->endpoint_id)))
			return rc;
	return 0;
}

int evstore_delete_endpoint(struct substore *s, int64_t endpoint_id)
{
	struct sync_op o = { .fn = delete_fn, .endpoint_id = endpoint_id };

	return run_sync(s, &o);
}
