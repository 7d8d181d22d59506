#include "store/subs.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "core/alloc.h"
#include "core/arena.h"
#include "core/enc.h"
#include "core/err.h"
#include "store/db.h"
#include "store/subs_int.h"
#include "store/sql.h"
#include "store/writer.h"

/* The hot table keeps one secondary index: (endpoint_id, id) serves the
 * inbox listing; lookups by id use the primary key. Each extra index would
 * roughly halve insert speed. */
static const char *const migrations[] = {
	/* 1 */
	"CREATE TABLE submissions("
	"  id INTEGER PRIMARY KEY, endpoint_id INTEGER NOT NULL,"
	"  status INTEGER NOT NULL DEFAULT 0, key_version INTEGER NOT NULL,"
	"  nfiles INTEGER NOT NULL DEFAULT 0, sealed BLOB NOT NULL);"
	"CREATE INDEX submissions_endpoint ON submissions(endpoint_id, id);"
	"CREATE TABLE endpoint_counts(endpoint_id INTEGER PRIMARY KEY, total INTEGER NOT NULL);",
	/* 2: moving an endpoint to a database of its own (store/move.c).
	 * move_log: while an endpoint is tracked, every write to its rows here
	 * also appends the row's id, in the same transaction.
	 * move_meta: in the target database, how far the copy has come. */
	"CREATE TABLE move_log(seq INTEGER PRIMARY KEY, endpoint_id INTEGER NOT NULL, id INTEGER NOT NULL);"
	"CREATE INDEX move_log_endpoint ON move_log(endpoint_id, seq);"
	"CREATE TABLE move_meta(endpoint_id INTEGER PRIMARY KEY, scan_done INTEGER NOT NULL,"
	"  log_done INTEGER NOT NULL, complete INTEGER NOT NULL DEFAULT 0);",
	/* 3: error tracking (store/events.c). Everything a user sent is in
	 * sealed columns (meta, last, sealed); fingerprints and search tokens
	 * are keyed MACs, so nothing readable is stored. issues_fts indexes
	 * the blind trigram tokens and is kept in step by triggers. */
	"CREATE TABLE issues("
	"  id INTEGER PRIMARY KEY, endpoint_id INTEGER NOT NULL, fingerprint BLOB NOT NULL,"
	"  state INTEGER NOT NULL DEFAULT 0, count INTEGER NOT NULL DEFAULT 0,"
	"  sessions INTEGER NOT NULL DEFAULT 0, dropped INTEGER NOT NULL DEFAULT 0,"
	"  first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL, state_changed INTEGER,"
	"  key_version INTEGER NOT NULL, meta BLOB NOT NULL, last BLOB NOT NULL,"
	"  search TEXT NOT NULL DEFAULT '');"
	"CREATE UNIQUE INDEX issues_fp ON issues(endpoint_id, fingerprint);"
	"CREATE INDEX issues_last ON issues(endpoint_id, last_seen, id);"
	"CREATE INDEX issues_first ON issues(endpoint_id, first_seen, id);"
	"CREATE INDEX issues_count ON issues(endpoint_id, count, id);"
	"CREATE INDEX issues_sessions ON issues(endpoint_id, sessions, id);"
	"CREATE VIRTUAL TABLE issues_fts USING fts5(search, content='issues', content_rowid='id',"
	"  tokenize='unicode61', detail='none');"
	"CREATE TRIGGER issues_fts_ai AFTER INSERT ON issues BEGIN"
	"  INSERT INTO issues_fts(rowid, search) VALUES (new.id, new.search); END;"
	"CREATE TRIGGER issues_fts_ad AFTER DELETE ON issues BEGIN"
	"  INSERT INTO issues_fts(issues_fts, rowid, search) VALUES ('delete', old.id, old.search); END;"
	"CREATE TRIGGER issues_fts_au AFTER UPDATE OF search ON issues BEGIN"
	"  INSERT INTO issues_fts(issues_fts, rowid, search) VALUES ('delete', old.id, old.search);"
	"  INSERT INTO issues_fts(rowid, search) VALUES (new.id, new.search); END;"
	"CREATE TABLE events(id INTEGER PRIMARY KEY, endpoint_id INTEGER NOT NULL,"
	"  issue_id INTEGER NOT NULL, key_version INTEGER NOT NULL, dict_id INTEGER NOT NULL DEFAULT 0,"
	"  sealed BLOB NOT NULL);"
	"CREATE INDEX events_issue ON events(issue_id, id);"
	"CREATE INDEX events_endpoint ON events(endpoint_id, id);"
	"CREATE TABLE issue_hours(issue_id INTEGER NOT NULL, hour INTEGER NOT NULL, n INTEGER NOT NULL,"
	"  PRIMARY KEY(issue_id, hour)) WITHOUT ROWID;"
	"CREATE TABLE issue_sessions(issue_id INTEGER NOT NULL, sid BLOB NOT NULL, day INTEGER NOT NULL,"
	"  PRIMARY KEY(issue_id, sid)) WITHOUT ROWID;"
	"CREATE TABLE sessions(endpoint_id INTEGER NOT NULL, sid BLOB NOT NULL, day INTEGER NOT NULL,"
	"  hour INTEGER NOT NULL, errored INTEGER NOT NULL DEFAULT 0, PRIMARY KEY(endpoint_id, sid)) WITHOUT ROWID;"
	"CREATE INDEX sessions_day ON sessions(day);"
	"CREATE TABLE session_hours(endpoint_id INTEGER NOT NULL, hour INTEGER NOT NULL,"
	"  sessions INTEGER NOT NULL DEFAULT 0, errored INTEGER NOT NULL DEFAULT 0,"
	"  crashed INTEGER NOT NULL DEFAULT 0, PRIMARY KEY(endpoint_id, hour)) WITHOUT ROWID;"
	"CREATE TABLE zdicts(endpoint_id INTEGER NOT NULL, dict_id INTEGER NOT NULL,"
	"  key_version INTEGER NOT NULL, sealed BLOB NOT NULL, created INTEGER NOT NULL,"
	"  PRIMARY KEY(endpoint_id, dict_id));"
	"CREATE TABLE daily_counts(account_id INTEGER NOT NULL, endpoint_id INTEGER NOT NULL,"
	"  day INTEGER NOT NULL, name TEXT NOT NULL, n INTEGER NOT NULL,"
	"  PRIMARY KEY(account_id, endpoint_id, day, name)) WITHOUT ROWID;",
	/* 4: the transactional outbox: what a committed row still has to cause
	 * (notifications, webhooks), written in the row's own transaction and
	 * drained into the job queue (jobs/runner.c), then deleted. */
	"CREATE TABLE outbox(id INTEGER PRIMARY KEY, endpoint_id INTEGER NOT NULL,"
	"  event TEXT NOT NULL, ref INTEGER NOT NULL, created_ms INTEGER NOT NULL);",
	/* 5: when a submission's status last changed (trash is purged 30 days
	 * after it went there); 0 for rows from before: their own time then. */
	"ALTER TABLE submissions ADD COLUMN status_ms INTEGER NOT NULL DEFAULT 0;",
};

/* ---- ids ----------------------------------------------------------------- */

static atomic_llong last_id;
static unsigned node_bits;

/* Sequence of ids at past times (sub_id_past); only its low 12 bits count. */
static atomic_uint past_seq;

void sub_id_set_node(unsigned node)
{
	unsigned seed = 0;

	node_bits = (node & 0xff) << 12;
	/* A random start, so a second run over the same file begins away
	 * from the ids the first one took. */
	if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		seed = (unsigned)now_ms();
	atomic_store(&past_seq, seed);
}

int sub_id_past(int64_t ms, int64_t *out)
{
	unsigned seq;

	if (ms <= 0 || ms >= now_ms())
		return INLET_EINVAL;
	seq = atomic_fetch_sub(&past_seq, 1u) & 0xfffu;
	*out = (int64_t)ms << 20 | node_bits | seq;
	return 0;
}

int64_t sub_id_next(void)
{
	long long prev = atomic_load(&last_id), next;

	do {
		long long base = (long long)now_ms() << 20 | node_bits;

		/* Monotonic: past 4096 ids in one ms, borrow from the next ms. */
		next = base > prev ? base : prev + 1;
	} while (!atomic_compare_exchange_weak(&last_id, &prev, next));
	return next;
}

/* ---- writer ops ---------------------------------------------------------- */


/* ---- routing helpers (writer thread) --------------------------------------- */

int substore_reader(struct substore *s, struct sql_conn **out)
{
	return sql_pool_get(s->readers, s->schema, out);
}

void substore_reader_put(struct substore *s, struct sql_conn *c)
{
	sql_pool_put(s->readers, c);
}

int substore_is_tracked(const struct substore *s, int64_t endpoint_id)
{
	for (int i = 0; i < s->ntracked; i++)
		if (s->tracked[i] == endpoint_id)
			return 1;
	return 0;
}

struct substore *substore_moved_to(const struct substore *s, int64_t endpoint_id)
{
	for (int i = 0; i < s->nmoved; i++)
		if (s->moved[i].endpoint_id == endpoint_id)
			return s->moved[i].to;
	return NULL;
}

struct writer *substore_writer(struct substore *s)
{
	return s->writer;
}

void substore_set_moved(struct substore *s, int64_t endpoint_id, struct substore *to)
{
	for (int i = 0; i < s->nmoved; i++) {
		if (s->moved[i].endpoint_id == endpoint_id) {
			if (to) {
				s->moved[i].to = to;
			} else {
				s->moved[i] = s->moved[--s->nmoved];
			}
			return;
		}
	}
	if (!to)
		return;
	if (s->nmoved == s->moved_cap) {
		s->moved_cap = s->moved_cap ? 2 * s->moved_cap : 8;
		s->moved = xrealloc(s->moved, (size_t)s->moved_cap * sizeof(*s->moved));
	}
	s->moved[s->nmoved].endpoint_id = endpoint_id;
	s->moved[s->nmoved++].to = to;
}

void substore_set_tracked(struct substore *s, int64_t endpoint_id, int on)
{
	for (int i = 0; i < s->ntracked; i++) {
		if (s->tracked[i] == endpoint_id) {
			if (!on)
				s->tracked[i] = s->tracked[--s->ntracked];
			return;
		}
	}
	if (!on)
		return;
	if (s->ntracked == s->tracked_cap) {
		s->tracked_cap = s->tracked_cap ? 2 * s->tracked_cap : 8;
		s->tracked = xrealloc(s->tracked, (size_t)s->tracked_cap * sizeof(*s->tracked));
	}
	s->tracked[s->ntracked++] = endpoint_id;
}

int substore_log_write(struct writer *w, int64_t endpoint_id, int64_t id)
{
	sqlite3_stmt *st = writer_stmt(w, 6, "INSERT INTO move_log(endpoint_id,id) VALUES(?,?)");
	int rc;

	if (!st)
		return INLET_EDB;
	sqlite3_bind_int64(st, 1, endpoint_id);
	sqlite3_bind_int64(st, 2, id);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : INLET_EDB;
}

/* ---- outbox ------------------------------------------------------------------ */

int substore_outbox_write(struct writer *w, int64_t endpoint_id, const char *event, int64_t ref)
{
	sqlite3_stmt *st = writer_stmt(w, 7, "INSERT INTO outbox(endpoint_id,event,ref,created_ms) VALUES(?,?,?,?)");
	int rc;

	if (!st)
		return INLET_EDB;
	sqlite3_bind_int64(st, 1, endpoint_id);
	sqlite3_bind_text(st, 2, event, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, ref);
	sqlite3_bind_int64(st, 4, now_ms());
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return INLET_EDB;
	return 0;
}

int substore_outbox_read(struct substore *s, size_t limit, struct arena *a, struct outbox_row **rows, size_t *n)
{
	sqlite3 *db;
	sqlite3_stmt *st = NULL;
	int rc;

	*n = 0;
	*rows = arena_alloc(a, (limit ? limit : 1) * sizeof(**rows));
	if ((rc = db_pool_acquire(s->raw_readers, &db)))
		return rc;
	if (sqlite3_prepare_v2(db, "SELECT id,endpoint_id,event,ref,created_ms FROM outbox ORDER BY id LIMIT ?",
			       -1, &st, NULL) != SQLITE_OK) {
		rc = INLET_EDB;
		goto out;
	}
	sqlite3_bind_int64(st, 1, (int64_t)limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && *n < limit) {
		struct outbox_row *o = &(*rows)[(*n)++];

		o->id = sqlite3_column_int64(st, 0);
		o->endpoint_id = sqlite3_column_int64(st, 1);
		o->event = arena_strdup(a, (const char *)sqlite3_column_text(st, 2));
		o->ref = sqlite3_column_int64(st, 3);
		o->created_ms = sqlite3_column_int64(st, 4);
	}
	rc = (rc == SQLITE_DONE || rc == SQLITE_ROW) ? 0 : db_rc(db, rc);
out:
	sqlite3_finalize(st);
	db_pool_release(s->raw_readers, db);
	return rc;
}

struct outbox_done_op {
	struct writer_op op; /* first */
	int64_t upto;
};

static int outbox_done_apply(struct writer *w, struct sql_conn *c, struct writer_op *op)
{
	sqlite3 *db = sql_sqlite_handle(c);
	struct outbox_done_op *o = (struct outbox_done_op *)op;
	sqlite3_stmt *st = writer_stmt(w, 15, "DELETE FROM outbox WHERE id<=?");
	int rc;

	(void)db;
	if (!st)
		return INLET_EDB;
	sqlite3_bind_int64(st, 1, o->upto);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : INLET_EDB;
}

static void outbox_done_done(struct writer_op *op, int rc)
{
	(void)op;
	(void)rc;
}

int substore_outbox_done(struct substore *s, int64_t upto)
{
	struct outbox_done_op o = { .op = { .apply = outbox_done_apply, .done = outbox_done_done }, .upto = upto };

	return writer_run(s->writer, &o.op);
}

/* ---- insert -------------------------------------------------------------- */

struct insert_op {
	struct writer_op op; /* first */
	struct substore *s;
	struct sub_row row;  /* sealed points into the same allocation */
	substore_done_fn done;
	void *ctx;
};

static int insert_apply(struct writer *w, struct sql_conn *c, struct writer_op *op)
{
	sqlite3 *db = sql_sqlite_handle(c);
	struct insert_op *io = (struct insert_op *)op;
	struct substore *to = substore_moved_to(io->s, io->row.endpoint_id);
	sqlite3_stmt *st;
	int rc;

	if (to) {
		/* Queued before its endpoint moved: the row belongs there now. */
		io->s = to;
		writer_submit(to->writer, op);
		return WRITER_FORWARDED;
	}
	st = writer_stmt(w, 0, "INSERT INTO submissions(id,endpoint_id,status,key_version,nfiles,sealed)"
			       " VALUES(?,?,?,?,?,?)");
	if (!st)
		return INLET_EDB;
	sqlite3_bind_int64(st, 1, io->row.id);
	sqlite3_bind_int64(st, 2, io->row.endpoint_id);
	sqlite3_bind_int(st, 3, io->row.status);
	sqlite3_bind_int64(st, 4, io->row.key_version);
	sqlite3_bind_int(st, 5, io->row.nfiles);
	sqlite3_bind_blob(st, 6, io->row.sealed, (int)io->row.sealed_len, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return db_rc(db, rc) ? db_rc(db, rc) : INLET_EDB;
	if (substore_is_tracked(io->s, io->row.endpoint_id) &&
	    (rc = substore_log_write(w, io->row.endpoint_id, io->row.id)))
		return rc; /* the insert is undone with the failed op */
	if (io->row.outbox && (rc = substore_outbox_write(w, io->row.endpoint_id, "submission.created", io->row.id)))
		return rc;
	substore_count_delta(io->s, io->row.endpoint_id, 1, io->row.shard_threshold);
	return 0;
}

static void insert_done(struct writer_op *op, int rc)
{
	struct insert_op *io = (struct insert_op *)op;

	io->done(io->ctx, rc);
	free(io);
}

void substore_insert(struct substore *s, const struct sub_row *row, substore_done_fn done, void *ctx)
{
	/* One allocation for the op and its sealed bytes. */
	struct insert_op *io = xcalloc(1, sizeof(*io) + row->sealed_len);

	io->op.apply = insert_apply;
	io->op.done = insert_done;
	io->s = s;
	io->row = *row;
	memcpy(io + 1, row->sealed, row->sealed_len);
	io->row.sealed = (const uint8_t *)(io + 1);
	io->done = done;
	io->ctx = ctx;
	writer_submit(s->writer, &io->op);
}

/* ---- counts -------------------------------------------------------------- */

#define COUNT_SQL "INSERT INTO endpoint_counts(endpoint_id,total) VALUES(?1,?2)" \
		  " ON CONFLICT(endpoint_id) DO UPDATE SET total=total+?2 RETURNING total"

static int write_count(struct substore *s, struct writer *w, int64_t endpoint_id, int64_t delta,
		       int64_t threshold)
{
	sqlite3_stmt *st = writer_stmt(w, 1, COUNT_SQL);
	int64_t total = -1;
	int rc;

	if (!st)
		return INLET_EDB;
	sqlite3_bind_int64(st, 1, endpoint_id);
	sqlite3_bind_int64(st, 2, delta);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		total = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW)
		return INLET_EDB;
	/* Reported before commit; a count that then fails to commit only
	 * makes a move start a batch early, which is harmless. */
	if (s->on_count && delta > 0)
		s->on_count(s->on_count_ctx, s, endpoint_id, total, threshold);
	return 0;
}

void substore_count_delta(struct substore *s, int64_t endpoint_id, int64_t delta, int64_t threshold)
{
	for (int i = 0; i < s->npending; i++) {
		if (s->pending[i].endpoint_id == endpoint_id) {
			s->pending[i].delta += delta;
			if (threshold)
				s->pending[i].threshold = threshold;
			return;
		}
	}
	if (s->npending < PENDING_MAX) {
		s->pending[s->npending].endpoint_id = endpoint_id;
		s->pending[s->npending].threshold = threshold;
		s->pending[s->npending++].delta = delta;
		return;
	}
	/* Many endpoints in one batch: write this one through. */
	(void)write_count(s, s->writer, endpoint_id, delta, threshold);
}

static int flush_counts(void *ctx, struct writer *w, struct sql_conn *c)
{
	sqlite3 *db = sql_sqlite_handle(c);
	struct substore *s = ctx;
	int rc = 0;

	(void)db;
	for (int i = 0; i < s->npending && !rc; i++)
		if (s->pending[i].delta)
			rc = write_count(s, w, s->pending[i].endpoint_id, s->pending[i].delta,
					 s->pending[i].threshold);
	s->npending = 0;
	return rc;
}

static void after_batch(void *ctx, int rc)
{
	struct substore *s = ctx;

	s->npending = 0; /* a failed batch's deltas died with it */
	(void)rc;
}

/* Status change, delete, endpoint purge: small ops run through writer_run. */
struct mod_op {
	struct writer_op op;
	struct substore *s;
	int kind; /* 0 status, 1 delete, 2 delete endpoint */
	int64_t endpoint_id, id;
	int status;
};

static void mod_done(struct writer_op *op, int rc);

static int mod_apply(struct writer *w, struct sql_conn *c, struct writer_op *op)
{
	sqlite3 *db = sql_sqlite_handle(c);
	struct mod_op *m = (struct mod_op *)op;
	struct substore *to = substore_moved_to(m->s, m->endpoint_id);
	sqlite3_stmt *st;
	int rc, changes;

	if (to) {
		/* Queued before its endpoint moved. A synchronous op cannot be
		 * handed over (its caller waits on this writer), so it runs on
		 * the new store's writer while this one waits. */
		struct mod_op fwd = *m;

		fwd.s = to;
		fwd.op.done = mod_done;
		return writer_run(to->writer, &fwd.op);
	}
	if (m->kind == 0)
		st = writer_stmt(w, 2, "UPDATE submissions SET status=?3,"
				       " status_ms=CASE WHEN status=?3 THEN status_ms ELSE ?4 END"
				       " WHERE id=?1 AND endpoint_id=?2");
	else if (m->kind == 1)
		st = writer_stmt(w, 3, "DELETE FROM submissions WHERE id=?1 AND endpoint_id=?2");
	else
		st = writer_stmt(w, 4, "DELETE FROM submissions WHERE endpoint_id=?2 AND ?1=?1");
	if (!st)
		return INLET_EDB;
	sqlite3_bind_int64(st, 1, m->id);
	sqlite3_bind_int64(st, 2, m->endpoint_id);
	if (m->kind == 0) {
		sqlite3_bind_int(st, 3, m->status);
		sqlite3_bind_int64(st, 4, now_ms());
	}
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return db_rc(db, rc) ? db_rc(db, rc) : INLET_EDB;
	changes = sqlite3_changes(db);
	if (m->kind < 2 && changes && substore_is_tracked(m->s, m->endpoint_id) &&
	    (rc = substore_log_write(w, m->endpoint_id, m->id)))
		return rc;
	if (m->kind == 1 && changes)
		substore_count_delta(m->s, m->endpoint_id, -1, 0);
	if (m->kind == 2) {
		st = writer_stmt(w, 5, "DELETE FROM endpoint_counts WHERE endpoint_id=?");
		if (st) {
			sqlite3_bind_int64(st, 1, m->endpoint_id);
			sqlite3_step(st);
			sqlite3_reset(st);
		}
		for (int i = 0; i < m->s->npending; i++)
			if (m->s->pending[i].endpoint_id == m->endpoint_id)
				m->s->pending[i].delta = 0;
		return 0;
	}
	return changes ? 0 : INLET_ENOTFOUND;
}

static void mod_done(struct writer_op *op, int rc)
{
	(void)op;
	(void)rc;
}

static int run_mod(struct substore *s, int kind, int64_t endpoint_id, int64_t id, int status)
{
	struct mod_op m = { .op = { .apply = mod_apply, .done = mod_done }, .s = s,
			    .kind = kind, .endpoint_id = endpoint_id, .id = id, .status = status };

	return writer_run(s->writer, &m.op);
}

int substore_set_status(struct substore *s, int64_t endpoint_id, int64_t id, int status)
{
	return run_mod(s, 0, endpoint_id, id, status);
}

int substore_delete(struct substore *s, int64_t endpoint_id, int64_t id)
{
	return run_mod(s, 1, endpoint_id, id, 0);
}

int substore_delete_endpoint(struct substore *s, int64_t endpoint_id)
{
	return run_mod(s, 2, endpoint_id, 0, 0);
}

/* ---- reads --------------------------------------------------------------- */

int substore_expired(struct substore *s, int64_t endpoint_id, int64_t before_id, int64_t trash_before_ms,
		     size_t limit, struct arena *a, struct sub_row **rows, size_t *n)
{
	sqlite3 *db;
	sqlite3_stmt *st = NULL;
	int rc;

	*n = 0;
	*rows = arena_alloc(a, (limit ? limit : 1) * sizeof(**rows));
	if ((rc = db_pool_acquire(s->raw_readers, &db)))
		return rc;
	/* Old rows by the (endpoint_id, id) index; trash by a scan of the
	 * endpoint's rows (trash is few and this runs hourly). */
	if (sqlite3_prepare_v2(db, "SELECT id,nfiles FROM submissions WHERE endpoint_id=?1 AND id<?2"
				   " UNION SELECT id,nfiles FROM submissions WHERE endpoint_id=?1 AND status=2"
				   " AND (CASE WHEN status_ms>0 THEN status_ms ELSE id>>20 END)<?3 LIMIT ?4",
			       -1, &st, NULL) != SQLITE_OK) {
		rc = INLET_EDB;
		goto out;
	}
	sqlite3_bind_int64(st, 1, endpoint_id);
	sqlite3_bind_int64(st, 2, before_id);
	sqlite3_bind_int64(st, 3, trash_before_ms);
	sqlite3_bind_int64(st, 4, (int64_t)limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && *n < limit) {
		struct sub_row *r = &(*rows)[(*n)++];

		memset(r, 0, sizeof(*r));
		r->id = sqlite3_column_int64(st, 0);
		r->endpoint_id = endpoint_id;
		r->nfiles = sqlite3_column_int(st, 1);
	}
	rc = (rc == SQLITE_DONE || rc == SQLITE_ROW) ? 0 : db_rc(db, rc);
out:
	sqlite3_finalize(st);
	db_pool_release(s->raw_readers, db);
	return rc;
}

void substore_row_from(struct arena *a, sqlite3_stmt *st, struct sub_row *r)
{
	memset(r, 0, sizeof(*r));
	r->id = sqlite3_column_int64(st, 0);
	r->endpoint_id = sqlite3_column_int64(st, 1);
	r->status = sqlite3_column_int(st, 2);
	r->key_version = (uint32_t)sqlite3_column_int64(st, 3);
	r->nfiles = sqlite3_column_int(st, 4);
	r->sealed_len = (size_t)sqlite3_column_bytes(st, 5);
	r->sealed = arena_memdup(a, sqlite3_column_blob(st, 5), r->sealed_len);
}

#define ROW_COLS "id,endpoint_id,status,key_version,nfiles,sealed"

int substore_get(struct substore *s, int64_t endpoint_id, int64_t id, struct arena *a,
		 struct sub_row *out)
{
	sqlite3 *db;
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = db_pool_acquire(s->raw_readers, &db)))
		return rc;
	rc = sqlite3_prepare_v2(db, "SELECT " ROW_COLS " FROM submissions WHERE id=? AND endpoint_id=?",
				-1, &st, NULL);
	if (rc != SQLITE_OK) {
		rc = INLET_EDB;
		goto out;
	}
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, endpoint_id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		substore_row_from(a, st, out);
		rc = 0;
	} else {
		rc = rc == SQLITE_DONE ? INLET_ENOTFOUND : db_rc(db, rc);
	}
out:
	sqlite3_finalize(st);
	db_pool_release(s->raw_readers, db);
	return rc;
}

int substore_list(struct substore *s, const struct sub_query *q, struct arena *a,
		  struct sub_row **rows, size_t *n)
{
	sqlite3 *db;
	sqlite3_stmt *st = NULL;
	int64_t upper;
	int rc;

	*n = 0;
	*rows = arena_alloc(a, (q->limit ? q->limit : 1) * sizeof(**rows));
	if ((rc = db_pool_acquire(s->raw_readers, &db)))
		return rc;
	/* The id bounds are always bound (open ones as 0 and INT64_MAX), and
	 * the two upper ones folded into one: written as "?x IS NULL OR id<?x",
	 * SQLite could not use them as the index range, and each page scanned
	 * the endpoint's index from its end (deep cursors, exports: O(n) each). */
#define LIST_WHERE " FROM submissions WHERE endpoint_id=?1 AND id>=?2 AND id<?3 AND (?4 IS NULL OR status=?4)"
	rc = sqlite3_prepare_v2(db, q->oldest_first
				    ? "SELECT " ROW_COLS LIST_WHERE " ORDER BY endpoint_id, id LIMIT ?5"
				    : "SELECT " ROW_COLS LIST_WHERE " ORDER BY endpoint_id DESC, id DESC LIMIT ?5",
				-1, &st, NULL);
#undef LIST_WHERE
	if (rc != SQLITE_OK) {
		rc = INLET_EDB;
		goto out;
	}
	upper = q->max_id ? q->max_id : INT64_MAX;
	if (!q->oldest_first && q->before_id && q->before_id < upper)
		upper = q->before_id;
	sqlite3_bind_int64(st, 1, q->endpoint_id);
	sqlite3_bind_int64(st, 2, q->min_id);
	sqlite3_bind_int64(st, 3, upper);
	if (q->status >= 0)
		sqlite3_bind_int(st, 4, q->status);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)q->limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && *n < q->limit)
		substore_row_from(a, st, &(*rows)[(*n)++]);
	rc = (rc == SQLITE_DONE || rc == SQLITE_ROW) ? 0 : db_rc(db, rc);
out:
	sqlite3_finalize(st);
	db_pool_release(s->raw_readers, db);
	return rc;
}

/* One integer that sql (one ?, the endpoint) selects; 0 when no row. */
static int read_int(struct substore *s, const char *sql, int64_t endpoint_id, int64_t *out)
{
	sqlite3 *db;
	sqlite3_stmt *st = NULL;
	int rc;

	*out = 0;
	if ((rc = db_pool_acquire(s->raw_readers, &db)))
		return rc;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		rc = INLET_EDB;
		goto out;
	}
	sqlite3_bind_int64(st, 1, endpoint_id);
	if (sqlite3_step(st) == SQLITE_ROW)
		*out = sqlite3_column_int64(st, 0);
out:
	sqlite3_finalize(st);
	db_pool_release(s->raw_readers, db);
	return rc;
}

int substore_count(struct substore *s, int64_t endpoint_id, int64_t *out)
{
	return read_int(s, "SELECT total FROM endpoint_counts WHERE endpoint_id=?", endpoint_id, out);
}

int substore_last(struct substore *s, int64_t endpoint_id, int64_t *id)
{
	/* The (endpoint_id, id) index answers MAX from its last entry. */
	return read_int(s, "SELECT MAX(id) FROM submissions WHERE endpoint_id=?", endpoint_id, id);
}

/* ---- lifecycle ----------------------------------------------------------- */

int substore_open(struct substore **out, const char *path, const char *name)
{
	return substore_open_target(out, path, NULL, name);
}

int substore_open_target(struct substore **out, const char *path, const char *schema, const char *name)
{
	struct substore *s = xcalloc(1, sizeof(*s));
	struct writer_hooks hooks = { .before_commit = flush_counts, .after_batch = after_batch, .ctx = s };
	sqlite3 *db = NULL;
	int rc;

	if (schema || sql_is_postgres(path)) {
		free(s); /* not yet: store/subs.c is still on sqlite3 */
		*out = NULL;
		return INLET_EINVAL;
	}
	if ((rc = db_open(path, 0, &db)))
		goto out;
	if ((rc = db_migrate(db, migrations, (int)(sizeof(migrations) / sizeof(*migrations)), name)))
		goto out;
	if ((rc = writer_create(&s->writer, path, NULL, name, 1024, &hooks)))
		goto out;
	s->raw_readers = db_pool_create(path, 0);
	s->readers = sql_pool_create(path, 0, 0, 5000);
	s->path = xstrdup(path);
out:
	db_close(db);
	if (rc) {
		free(s);
		s = NULL;
	}
	*out = s;
	return rc;
}

void substore_close(struct substore *s)
{
	if (!s)
		return;
	writer_destroy(s->writer);
	db_pool_destroy(s->raw_readers);
	sql_pool_destroy(s->readers);
	free(s->path);
	free(s->schema);
	free(s->moved);
	free(s->tracked);
	free(s);
}
