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

/* How often a write that lost a race to another node's writer (the same
 * new issue or session, PostgreSQL only) looks again before giving up. */
#define RACE_TRIES 4

/* Runs st to its end for its effect; *changes (if given) gets the rows it
 * wrote. st is left rewound. */
static int run(struct sql_stmt *st, int64_t *changes)
{
	int rc = sql_step(st);

	if (changes)
		*changes = rc >= 0 ? sql_changes(st) : 0;
	sql_reset(st);
	return rc < 0 ? rc : 0;
}

/* Ends savepoint name: kept when rc is 0, else undone and rc returned.
 * SQLite may have rolled the whole transaction back by itself (then there
 * is no savepoint left); on PostgreSQL a failed statement leaves the
 * transaction failed, and only ROLLBACK TO makes it usable again, so
 * there it is always tried. */
static int savepoint_end(struct sql_conn *c, const char *name, int rc)
{
	if (!rc)
		return sql_release(c, name);
	if (sql_engine(c) == SQL_POSTGRES || !sql_tx_aborted(c)) {
		sql_rollback_to(c, name);
		sql_release(c, name);
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

/* Additive upsert: two nodes adding to one hour both count. */
static int hour_add(struct writer *w, struct ev_batch *b, int64_t hour_ms,
		    int64_t sessions, int64_t errored, int64_t crashed)
{
	int64_t endpoint_id = b->endpoint_id;
	int rc;

	struct sql_stmt *st = writer_sql(w, S_SESSION_HOUR,
		"INSERT INTO session_hours(endpoint_id,hour,sessions,errored,crashed) VALUES(?,?,?,?,?)"
		" ON CONFLICT(endpoint_id,hour) DO UPDATE SET sessions=sessions+excluded.sessions,"
		" errored=errored+excluded.errored, crashed=crashed+excluded.crashed");

	if (!st)
		return INLET_EDB;
	if (!sessions && !errored && !crashed)
		return 0;
	sql_bind_int64(st, 1, endpoint_id);
	sql_bind_int64(st, 2, hour_ms - hour_ms % EV_HOUR_MS);
	sql_bind_int64(st, 3, sessions);
	sql_bind_int64(st, 4, errored);
	sql_bind_int64(st, 5, crashed);
	if ((rc = run(st, NULL)) == 0)
		hour_note(b, hour_ms - hour_ms % EV_HOUR_MS, sessions, errored, crashed);
	return rc;
}

/* Looks the session up: 1 with its hour and flags, 0 when unseen. */
static int session_find(struct writer *w, int64_t endpoint_id, const uint8_t *sid, int64_t *hour, int *flags)
{
	struct sql_stmt *st = writer_sql(w, S_SESSION_FIND,
					 "SELECT hour, errored FROM sessions WHERE endpoint_id=? AND sid=?");
	int rc;

	if (!st)
		return INLET_EDB;
	sql_bind_int64(st, 1, endpoint_id);
	sql_bind_blob(st, 2, sid, EV_SID_BYTES);
	rc = sql_step(st);
	if (rc == SQL_ROW) {
		*hour = sql_column_int64(st, 0);
		*flags = (int)sql_column_int64(st, 1);
	}
	sql_reset(st);
	return rc;
}

/* A session seen: a new one counts in its hour (when it is a start), and
 * its first error and first crash count in the hour it started. Another
 * node may touch the same session at once (PostgreSQL): the insert does
 * nothing if the row has appeared, and the flags change only from the
 * value read (compare and set), so a bit is counted by the one writer
 * that set it; the loser reads again. */
static int session_touch(struct writer *w, struct ev_batch *b, const uint8_t *sid,
			 int64_t ms, int init, int flags)
{
	int64_t endpoint_id = b->endpoint_id, hour, changes;
	struct sql_stmt *st;
	int old = 0, rc, newbits;

	if (flags & FLAG_CRASHED)
		flags |= FLAG_ERRORED;
	for (int tries = 0; tries < RACE_TRIES; tries++) {
		if ((rc = session_find(w, endpoint_id, sid, &hour, &old)) < 0)
			return rc;
		if (rc == SQL_ROW) {
			newbits = flags & ~old;
			if (!newbits)
				return 0;
			if (!(st = writer_sql(w, S_SESSION_FLAGS,
					      "UPDATE sessions SET errored=errored|?3"
					      " WHERE endpoint_id=?1 AND sid=?2 AND errored=?4")))
				return INLET_EDB;
			sql_bind_int64(st, 1, endpoint_id);
			sql_bind_blob(st, 2, sid, EV_SID_BYTES);
			sql_bind_int64(st, 3, newbits);
			sql_bind_int64(st, 4, old);
			if ((rc = run(st, &changes)))
				return rc;
			if (!changes)
				continue; /* changed since read */
			return hour_add(w, b, hour, 0, !!(newbits & FLAG_ERRORED),
					!!(newbits & FLAG_CRASHED));
		}
		hour = ms - ms % EV_HOUR_MS;
		if (!(st = writer_sql(w, S_SESSION_NEW,
				      "INSERT INTO sessions(endpoint_id,sid,day,hour,errored) VALUES(?,?,?,?,?)"
				      " ON CONFLICT(endpoint_id,sid) DO NOTHING")))
			return INLET_EDB;
		sql_bind_int64(st, 1, endpoint_id);
		sql_bind_blob(st, 2, sid, EV_SID_BYTES);
		sql_bind_int64(st, 3, ms / EV_DAY_MS);
		sql_bind_int64(st, 4, hour);
		sql_bind_int64(st, 5, flags);
		if ((rc = run(st, &changes)))
			return rc;
		if (!changes)
			continue; /* another node made it first */
		return hour_add(w, b, hour, init ? 1 : 0, !!(flags & FLAG_ERRORED),
				!!(flags & FLAG_CRASHED));
	}
	return INLET_EBUSY;
}

/* ---- events -------------------------------------------------------------- */

static int issue_find(struct writer *w, int64_t endpoint_id, const uint8_t *fp, int64_t *id, int *state)
{
	struct sql_stmt *st = writer_sql(w, S_ISSUE_FIND,
					 "SELECT id, state FROM issues WHERE endpoint_id=? AND fingerprint=?");
	int rc;

	if (!st)
		return INLET_EDB;
	sql_bind_int64(st, 1, endpoint_id);
	sql_bind_blob(st, 2, fp, EV_FP_BYTES);
	rc = sql_step(st);
	if (rc == SQL_ROW) {
		*id = sql_column_int64(st, 0);
		*state = (int)sql_column_int64(st, 1);
		rc = 0;
	} else if (rc == SQL_DONE) {
		rc = INLET_ENOTFOUND;
	}
	sql_reset(st);
	return rc;
}

/* Makes the event's issue. 0 with *made 1 when this writer made it, 0 with
 * *made 0 when another node's writer has made the same fingerprint
 * meanwhile (PostgreSQL: the insert waits for that transaction and then
 * does nothing): the caller looks it up again and counts into it. */
static int issue_new(struct writer *w, struct ev_batch *b, struct ev_record *e, int64_t ms, int *made)
{
	char *search = e->search ? e->search(e->search_ctx) : NULL;
	struct sql_stmt *st = writer_sql(w, S_ISSUE_NEW,
		"INSERT INTO issues(id,endpoint_id,fingerprint,first_seen,last_seen,"
		"key_version,meta,last,search) VALUES(?,?,?,?,?,?,?,?,?)"
		" ON CONFLICT(endpoint_id,fingerprint) DO NOTHING");
	int64_t changes = 0;
	int rc;

	*made = 0;
	if (!st) {
		free(search);
		return INLET_EDB;
	}
	sql_bind_int64(st, 1, e->new_issue_id);
	sql_bind_int64(st, 2, b->endpoint_id);
	sql_bind_blob(st, 3, e->fingerprint, EV_FP_BYTES);
	sql_bind_int64(st, 4, ms);
	sql_bind_int64(st, 5, ms);
	sql_bind_int64(st, 6, e->key_version);
	sql_bind_blob(st, 7, e->meta, e->meta_len);
	sql_bind_blob(st, 8, e->last, e->last_len);
	sql_bind_text(st, 9, search ? search : "", search ? strlen(search) : 0);
	rc = run(st, &changes);
	free(search);
	*made = !rc && changes > 0;
	return rc;
}

static int record_apply(struct writer *w, struct substore *s, struct ev_batch *b, struct ev_record *e)
{
	int64_t endpoint_id = b->endpoint_id;
	int64_t ms = sub_id_ms(e->id), changes;
	struct sql_stmt *st;
	int state = ISSUE_OPEN, rc = INLET_ENOTFOUND, made = 0;

	e->issue_new = 0;
	for (int tries = 0; tries < RACE_TRIES && rc == INLET_ENOTFOUND; tries++) {
		rc = issue_find(w, endpoint_id, e->fingerprint, &e->issue_id, &state);
		if (rc != INLET_ENOTFOUND)
			break;
		if ((rc = issue_new(w, b, e, ms, &made)))
			return rc;
		if (made) {
			e->issue_id = e->new_issue_id;
			e->issue_new = 1;
			state = ISSUE_OPEN;
			/* In the issue's own transaction: its webhooks cannot miss it. */
			if (b->outbox && (rc = substore_outbox_write(w, endpoint_id, "issue.created", e->id)))
				return rc;
			break;
		}
		rc = INLET_ENOTFOUND; /* made elsewhere meanwhile: find it */
	}
	if (rc == INLET_ENOTFOUND)
		return INLET_EBUSY;
	if (rc)
		return rc;
	if (state == ISSUE_IGNORED) {
		/* Ignored: the event is counted, not kept. */
		e->stored = 0;
		if (!(st = writer_sql(w, S_ISSUE_DROP, "UPDATE issues SET dropped=dropped+1 WHERE id=?")))
			return INLET_EDB;
		sql_bind_int64(st, 1, e->issue_id);
		return run(st, NULL);
	}
	e->stored = 1;
	/* The outbox names the event that made or reopened the issue: each
	 * occurrence is its own delivery. */
	if (state == ISSUE_RESOLVED && b->outbox &&
	    (rc = substore_outbox_write(w, endpoint_id, "issue.reopened", e->id)))
		return rc;
	/* A resolved issue reopens on a new event. What it is afterwards comes
	 * back with the update (for the live bus, told after the commit). The
	 * count is added in SQL: another node's writer adding to the same
	 * issue waits for the row and adds to what it finds. */
	if (!(st = writer_sql(w, S_ISSUE_HIT,
			      "UPDATE issues SET count=count+1, last_seen=max(last_seen,?2), last=?3,"
			      " state_changed=CASE WHEN state=1 THEN ?2 ELSE state_changed END,"
			      " state=CASE WHEN state=1 THEN 0 ELSE state END WHERE id=?1"
			      " RETURNING count, last_seen, state")))
		return INLET_EDB;
	sql_bind_int64(st, 1, e->issue_id);
	sql_bind_int64(st, 2, ms);
	sql_bind_blob(st, 3, e->last, e->last_len);
	if ((rc = sql_step(st)) == SQL_ROW) {
		e->issue_count = sql_column_int64(st, 0);
		e->issue_last_seen = sql_column_int64(st, 1);
		e->issue_state = (int)sql_column_int64(st, 2);
	}
	sql_reset(st);
	if (rc != SQL_ROW)
		return rc < 0 ? rc : INLET_EDB;
	if (!(st = writer_sql(w, S_EVENT_NEW,
			      "INSERT INTO events(id,endpoint_id,issue_id,key_version,dict_id,sealed)"
			      " VALUES(?,?,?,?,?,?)")))
		return INLET_EDB;
	sql_bind_int64(st, 1, e->id);
	sql_bind_int64(st, 2, endpoint_id);
	sql_bind_int64(st, 3, e->issue_id);
	sql_bind_int64(st, 4, e->key_version);
	sql_bind_int64(st, 5, e->dict_id);
	sql_bind_blob(st, 6, e->sealed, e->sealed_len);
	if ((rc = run(st, NULL)))
		return rc;
	/* Events count towards a move to a database of their own, and while
	 * one copies them out, each new one is logged for it. */
	if (substore_is_tracked(s, endpoint_id) && (rc = substore_log_write(w, endpoint_id, e->id)))
		return rc;
	substore_count_delta(s, endpoint_id, 1, b->shard_threshold);
	if (!(st = writer_sql(w, S_ISSUE_HOUR,
			      "INSERT INTO issue_hours(issue_id,hour,n) VALUES(?,?,1)"
			      " ON CONFLICT(issue_id,hour) DO UPDATE SET n=n+1")))
		return INLET_EDB;
	sql_bind_int64(st, 1, e->issue_id);
	sql_bind_int64(st, 2, ms - ms % EV_HOUR_MS);
	if ((rc = run(st, NULL)))
		return rc;
	if (!e->has_sid)
		return 0;
	/* A session counts once per issue: only the writer whose insert made
	 * the row adds it. */
	if (!(st = writer_sql(w, S_ISSUE_SID,
			      "INSERT OR IGNORE INTO issue_sessions(issue_id,sid,day) VALUES(?,?,?)")))
		return INLET_EDB;
	sql_bind_int64(st, 1, e->issue_id);
	sql_bind_blob(st, 2, e->sid, EV_SID_BYTES);
	sql_bind_int64(st, 3, ms / EV_DAY_MS);
	if ((rc = run(st, &changes)))
		return rc;
	if (changes) {
		if (!(st = writer_sql(w, S_ISSUE_SID_INC, "UPDATE issues SET sessions=sessions+1 WHERE id=?")))
			return INLET_EDB;
		sql_bind_int64(st, 1, e->issue_id);
		if ((rc = run(st, NULL)))
			return rc;
	}
	return e->visit ? session_touch(w, b, e->sid, ms, 1, FLAG_ERRORED) : 0;
}

/* Rarely run: plain prepared statements, not cached ones. */
static int exec_i64(struct sql_conn *c, const char *text, int64_t a)
{
	struct sql_stmt *st;
	int rc;

	if ((rc = sql_prepare(c, text, &st)))
		return rc;
	sql_bind_int64(st, 1, a);
	rc = sql_step(st);
	sql_finalize(st);
	return rc < 0 ? rc : 0;
}

/* A new day: the session rows of earlier days were keyed with a salt that
 * is gone, so no visit can match them again. */
static int prune(struct sql_conn *c, int64_t day)
{
	int rc;

	if ((rc = exec_i64(c, "DELETE FROM sessions WHERE day<?", day)) ||
	    (rc = exec_i64(c, "DELETE FROM issue_sessions WHERE day<?", day)))
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
	if (substore_is_cut(bo->s, b->endpoint_id))
		return INLET_ECONFLICT; /* moved by another node, to a store not found */
	/* An apply that is rolled back, or forwarded and run again, starts
	 * the list afresh. */
	b->nhours = 0;
	pruning = day != bo->s->ev_prune_day;
	if ((rc = sql_savepoint(c, "ev")))
		return rc;
	if (pruning)
		rc = prune(c, day);
	for (size_t i = 0; i < b->nevents && !rc; i++)
		rc = record_apply(w, bo->s, b, &b->events[i]);
	for (size_t i = 0; i < b->nsessions && !rc; i++) {
		struct ev_session *s = &b->sessions[i];

		rc = session_touch(w, b, s->sid, s->ms, s->init,
				   (s->errored ? FLAG_ERRORED : 0) | (s->crashed ? FLAG_CRASHED : 0));
	}
	for (size_t i = 0; i < b->naggregates && !rc; i++) {
		struct ev_aggregate *g = &b->aggregates[i];

		rc = hour_add(w, b, g->hour_ms, g->sessions, g->errored, g->crashed);
	}
	if ((rc = savepoint_end(c, "ev", rc)) == 0 && pruning)
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
	int (*fn)(struct writer *w, struct sql_conn *c, struct sync_op *o);
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
	if (o->endpoint_id && substore_is_cut(o->s, o->endpoint_id))
		return INLET_ECONFLICT;
	if ((rc = sql_savepoint(c, "evs")))
		return rc;
	return savepoint_end(c, "evs", o->fn(w, c, o));
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

static int state_fn(struct writer *w, struct sql_conn *c, struct sync_op *o)
{
	struct sql_stmt *st = writer_sql(w, S_STATE,
		"UPDATE issues SET state=?3, state_changed=CASE WHEN state=?3 THEN state_changed ELSE ?4 END"
		" WHERE id=?1 AND endpoint_id=?2");
	int64_t changes;
	int rc;

	(void)c;
	if (!st)
		return INLET_EDB;
	sql_bind_int64(st, 1, o->id);
	sql_bind_int64(st, 2, o->endpoint_id);
	sql_bind_int64(st, 3, o->state);
	sql_bind_int64(st, 4, now_ms());
	if ((rc = run(st, &changes)))
		return rc;
	return changes ? 0 : INLET_ENOTFOUND;
}

int evstore_issue_state(struct substore *s, int64_t endpoint_id, int64_t id, int state)
{
	struct sync_op o = { .fn = state_fn, .endpoint_id = endpoint_id, .id = id, .state = state };

	return run_sync(s, &o);
}

/* Additive upserts: counters from several nodes add up. */
static int count_fn(struct writer *w, struct sql_conn *c, struct sync_op *o)
{
	struct sql_stmt *st = writer_sql(w, S_COUNT_ADD,
		"INSERT INTO daily_counts(account_id,endpoint_id,day,name,n) VALUES(?,?,?,?,?)"
		" ON CONFLICT(account_id,endpoint_id,day,name) DO UPDATE SET n=n+excluded.n");
	int rc;

	(void)c;
	if (!st)
		return INLET_EDB;
	for (size_t i = 0; i < o->n; i++) {
		sql_bind_int64(st, 1, o->deltas[i].account_id);
		sql_bind_int64(st, 2, o->deltas[i].endpoint_id);
		sql_bind_int64(st, 3, o->deltas[i].day);
		sql_bind_str(st, 4, o->deltas[i].name);
		sql_bind_int64(st, 5, o->deltas[i].n);
		if ((rc = run(st, NULL)))
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

/* A dictionary id already taken is INLET_EEXISTS (on both engines). */
static int dict_fn(struct writer *w, struct sql_conn *c, struct sync_op *o)
{
	struct sql_stmt *st;
	int rc;

	(void)w;
	if ((rc = sql_prepare(c, "INSERT INTO zdicts(endpoint_id,dict_id,key_version,sealed,created)"
				 " VALUES(?,?,?,?,?)", &st)))
		return rc;
	sql_bind_int64(st, 1, o->endpoint_id);
	sql_bind_int64(st, 2, o->dict_id);
	sql_bind_int64(st, 3, o->key_version);
	sql_bind_blob(st, 4, o->blob, o->len);
	sql_bind_int64(st, 5, now_ms());
	rc = sql_step(st);
	sql_finalize(st);
	return rc < 0 ? rc : 0;
}

int evstore_dict_put(struct substore *s, int64_t endpoint_id, uint32_t dict_id, uint32_t key_version,
		     const uint8_t *sealed, size_t len)
{
	struct sync_op o = { .fn = dict_fn, .endpoint_id = endpoint_id, .dict_id = dict_id,
			     .key_version = key_version, .blob = sealed, .len = len };

	return run_sync(s, &o);
}

static int delete_fn(struct writer *w, struct sql_conn *c, struct sync_op *o)
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
		if ((rc = exec_i64(c, sql[i], o->endpoint_id)))
			return rc;
	return 0;
}

int evstore_delete_endpoint(struct substore *s, int64_t endpoint_id)
{
	struct sync_op o = { .fn = delete_fn, .endpoint_id = endpoint_id };

	return run_sync(s, &o);
}
