#include "store/subs.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "core/alloc.h"
#include "core/arena.h"
#include "core/enc.h"
#include "core/err.h"
#include "core/log.h"
#include "store/subs_int.h"
#include "store/sql.h"
#include "store/writer.h"

/* The hot table keeps one secondary index: (endpoint_id, id) serves the
 * inbox listing; lookups by id use the primary key. Each extra index would
 * roughly halve insert speed. */
#define MIG1 \
	"CREATE TABLE submissions(" \
	"  id INTEGER PRIMARY KEY, endpoint_id INTEGER NOT NULL," \
	"  status INTEGER NOT NULL DEFAULT 0, key_version INTEGER NOT NULL," \
	"  nfiles INTEGER NOT NULL DEFAULT 0, sealed BLOB NOT NULL);" \
	"CREATE INDEX submissions_endpoint ON submissions(endpoint_id, id);" \
	"CREATE TABLE endpoint_counts(endpoint_id INTEGER PRIMARY KEY, total INTEGER NOT NULL);"
/* 2: moving an endpoint to a database of its own (store/move.c).
 * move_log: while an endpoint is tracked, every write to its rows here
 * also appends the row's id, in the same transaction.
 * move_meta: in the target database, how far the copy has come. */
#define MIG2 \
	"CREATE TABLE move_log(seq INTEGER PRIMARY KEY, endpoint_id INTEGER NOT NULL, id INTEGER NOT NULL);" \
	"CREATE INDEX move_log_endpoint ON move_log(endpoint_id, seq);" \
	"CREATE TABLE move_meta(endpoint_id INTEGER PRIMARY KEY, scan_done INTEGER NOT NULL," \
	"  log_done INTEGER NOT NULL, complete INTEGER NOT NULL DEFAULT 0);"
/* 4: the transactional outbox: what a committed row still has to cause
 * (notifications, webhooks), written in the row's own transaction and
 * drained into the job queue (jobs/runner.c), then deleted. */
#define MIG4 \
	"CREATE TABLE outbox(id INTEGER PRIMARY KEY, endpoint_id INTEGER NOT NULL," \
	"  event TEXT NOT NULL, ref INTEGER NOT NULL, created_ms INTEGER NOT NULL);"
/* 5: when a submission's status last changed (trash is purged 30 days
 * after it went there); 0 for rows from before: their own time then. */
#define MIG5 "ALTER TABLE submissions ADD COLUMN status_ms INTEGER NOT NULL DEFAULT 0;"

/* 3: error tracking (store/events.c). Everything a user sent is in sealed
 * columns (meta, last, sealed); fingerprints and search tokens are keyed
 * MACs, so nothing readable is stored. The blind trigram tokens in
 * issues.search are indexed per engine: on SQLite by issues_fts (FTS5),
 * kept in step by triggers; on PostgreSQL, which has neither, by a GIN
 * index over the same tokens (store/events_read.c searches with it).
 * Everything else is the same text on both engines. */
#define MIG3_HEAD \
	"CREATE TABLE issues(" \
	"  id INTEGER PRIMARY KEY, endpoint_id INTEGER NOT NULL, fingerprint BLOB NOT NULL," \
	"  state INTEGER NOT NULL DEFAULT 0, count INTEGER NOT NULL DEFAULT 0," \
	"  sessions INTEGER NOT NULL DEFAULT 0, dropped INTEGER NOT NULL DEFAULT 0," \
	"  first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL, state_changed INTEGER," \
	"  key_version INTEGER NOT NULL, meta BLOB NOT NULL, last BLOB NOT NULL," \
	"  search TEXT NOT NULL DEFAULT '');" \
	"CREATE UNIQUE INDEX issues_fp ON issues(endpoint_id, fingerprint);" \
	"CREATE INDEX issues_last ON issues(endpoint_id, last_seen, id);" \
	"CREATE INDEX issues_first ON issues(endpoint_id, first_seen, id);" \
	"CREATE INDEX issues_count ON issues(endpoint_id, count, id);" \
	"CREATE INDEX issues_sessions ON issues(endpoint_id, sessions, id);"
#define MIG3_FTS5 \
	"CREATE VIRTUAL TABLE issues_fts USING fts5(search, content='issues', content_rowid='id'," \
	"  tokenize='unicode61', detail='none');" \
	"CREATE TRIGGER issues_fts_ai AFTER INSERT ON issues BEGIN" \
	"  INSERT INTO issues_fts(rowid, search) VALUES (new.id, new.search); END;" \
	"CREATE TRIGGER issues_fts_ad AFTER DELETE ON issues BEGIN" \
	"  INSERT INTO issues_fts(issues_fts, rowid, search) VALUES ('delete', old.id, old.search); END;" \
	"CREATE TRIGGER issues_fts_au AFTER UPDATE OF search ON issues BEGIN" \
	"  INSERT INTO issues_fts(issues_fts, rowid, search) VALUES ('delete', old.id, old.search);" \
	"  INSERT INTO issues_fts(rowid, search) VALUES (new.id, new.search); END;"
#define MIG3_TAIL \
	"CREATE TABLE events(id INTEGER PRIMARY KEY, endpoint_id INTEGER NOT NULL," \
	"  issue_id INTEGER NOT NULL, key_version INTEGER NOT NULL, dict_id INTEGER NOT NULL DEFAULT 0," \
	"  sealed BLOB NOT NULL);" \
	"CREATE INDEX events_issue ON events(issue_id, id);" \
	"CREATE INDEX events_endpoint ON events(endpoint_id, id);" \
	"CREATE TABLE issue_hours(issue_id INTEGER NOT NULL, hour INTEGER NOT NULL, n INTEGER NOT NULL," \
	"  PRIMARY KEY(issue_id, hour)) WITHOUT ROWID;" \
	"CREATE TABLE issue_sessions(issue_id INTEGER NOT NULL, sid BLOB NOT NULL, day INTEGER NOT NULL," \
	"  PRIMARY KEY(issue_id, sid)) WITHOUT ROWID;" \
	"CREATE TABLE sessions(endpoint_id INTEGER NOT NULL, sid BLOB NOT NULL, day INTEGER NOT NULL," \
	"  hour INTEGER NOT NULL, errored INTEGER NOT NULL DEFAULT 0, PRIMARY KEY(endpoint_id, sid)) WITHOUT ROWID;" \
	"CREATE INDEX sessions_day ON sessions(day);" \
	"CREATE TABLE session_hours(endpoint_id INTEGER NOT NULL, hour INTEGER NOT NULL," \
	"  sessions INTEGER NOT NULL DEFAULT 0, errored INTEGER NOT NULL DEFAULT 0," \
	"  crashed INTEGER NOT NULL DEFAULT 0, PRIMARY KEY(endpoint_id, hour)) WITHOUT ROWID;" \
	"CREATE TABLE zdicts(endpoint_id INTEGER NOT NULL, dict_id INTEGER NOT NULL," \
	"  key_version INTEGER NOT NULL, sealed BLOB NOT NULL, created INTEGER NOT NULL," \
	"  PRIMARY KEY(endpoint_id, dict_id));" \
	"CREATE TABLE daily_counts(account_id INTEGER NOT NULL, endpoint_id INTEGER NOT NULL," \
	"  day INTEGER NOT NULL, name TEXT NOT NULL, n INTEGER NOT NULL," \
	"  PRIMARY KEY(account_id, endpoint_id, day, name)) WITHOUT ROWID;"
#define MIG3_GIN "CREATE INDEX issues_search ON issues USING gin (string_to_array(search, ' '));"

/* Numbered migrations: append, never edit a released one. Both engines
 * share the version numbers; SQLite files keep theirs in user_version, as
 * db_migrate kept it, so existing files open without migrating again. */
static const char *const migrations_sqlite[] = {
	MIG1,
	MIG2,
	MIG3_HEAD MIG3_FTS5 MIG3_TAIL,
	MIG4,
	MIG5,
};

/* PostgreSQL: rewritten by store/sql_dialect.c, migration 3 with its GIN
 * index instead of FTS5. */
static const char *const migrations_pg[] = {
	MIG1,
	MIG2,
	MIG3_HEAD MIG3_GIN MIG3_TAIL,
	MIG4,
	MIG5,
};

#define NMIGRATIONS ((int)(sizeof(migrations_sqlite) / sizeof(*migrations_sqlite)))
_Static_assert(sizeof(migrations_sqlite) == sizeof(migrations_pg), "one version list on both engines");

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

struct substore *substore_moved_to(struct substore *s, int64_t endpoint_id)
{
	struct substore *to;

	for (int i = 0; i < s->nmoved; i++)
		if (s->moved[i].endpoint_id == endpoint_id)
			return s->moved[i].to;
	/* Another node's cutover: the shard map says where it went. */
	if (!substore_is_cut(s, endpoint_id) || !s->resolve_cut)
		return NULL;
	if ((to = s->resolve_cut(s->resolve_ctx, endpoint_id)) && to != s)
		substore_set_moved(s, endpoint_id, to);
	return to == s ? NULL : to;
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
	struct sql_stmt *st = writer_sql(w, 6, "INSERT INTO move_log(endpoint_id,id) VALUES(?,?)");
	int rc;

	if (!st)
		return INLET_EDB;
	sql_bind_int64(st, 1, endpoint_id);
	sql_bind_int64(st, 2, id);
	rc = sql_step(st);
	sql_reset(st);
	return rc == SQL_DONE ? 0 : rc < 0 ? rc : INLET_EDB;
}

/* ---- reader helpers ------------------------------------------------------------ */

/* A reader connection with text prepared on it; rd_end gives both back. */
static int rd_begin(struct substore *s, const char *text, struct sql_conn **c, struct sql_stmt **st)
{
	int rc;

	*st = NULL;
	if ((rc = substore_reader(s, c)))
		return rc;
	if ((rc = sql_prepare(*c, text, st))) {
		log_msg(LOG_ERROR, "substore: %s", sql_errmsg(*c));
		substore_reader_put(s, *c);
		*c = NULL;
	}
	return rc;
}

static void rd_end(struct substore *s, struct sql_conn *c, struct sql_stmt *st)
{
	sql_finalize(st);
	substore_reader_put(s, c);
}

/* ---- outbox ------------------------------------------------------------------ */

int substore_outbox_write(struct writer *w, int64_t endpoint_id, const char *event, int64_t ref)
{
	struct sql_stmt *st = writer_sql(w, 7, "INSERT INTO outbox(endpoint_id,event,ref,created_ms) VALUES(?,?,?,?)");
	int rc;

	if (!st)
		return INLET_EDB;
	sql_bind_int64(st, 1, endpoint_id);
	sql_bind_str(st, 2, event);
	sql_bind_int64(st, 3, ref);
	sql_bind_int64(st, 4, now_ms());
	rc = sql_step(st);
	sql_reset(st);
	return rc == SQL_DONE ? 0 : rc < 0 ? rc : INLET_EDB;
}

int substore_outbox_read(struct substore *s, size_t limit, struct arena *a, struct outbox_row **rows, size_t *n)
{
	struct sql_conn *c;
	struct sql_stmt *st;
	int rc;

	*n = 0;
	*rows = arena_alloc(a, (limit ? limit : 1) * sizeof(**rows));
	if ((rc = rd_begin(s, "SELECT id,endpoint_id,event,ref,created_ms FROM outbox ORDER BY id LIMIT ?", &c, &st)))
		return rc;
	sql_bind_int64(st, 1, (int64_t)limit);
	while ((rc = sql_step(st)) == SQL_ROW && *n < limit) {
		struct outbox_row *o = &(*rows)[(*n)++];
		size_t len;
		const char *ev = sql_column_text(st, 2, &len);

		o->id = sql_column_int64(st, 0);
		o->endpoint_id = sql_column_int64(st, 1);
		o->event = arena_strdup(a, ev ? ev : "");
		o->ref = sql_column_int64(st, 3);
		o->created_ms = sql_column_int64(st, 4);
	}
	rc = rc < 0 ? rc : 0;
	rd_end(s, c, st);
	return rc;
}

struct outbox_done_op {
	struct writer_op op; /* first */
	const int64_t *ids;  /* the caller's: writer_run waits */
	size_t n;
};

static int outbox_done_apply(struct writer *w, struct sql_conn *c, struct writer_op *op)
{
	struct outbox_done_op *o = (struct outbox_done_op *)op;
	int rc = 0;

	(void)c;
	for (size_t i = 0; i < o->n && !rc; i++) {
		struct sql_stmt *st = writer_sql(w, 15, "DELETE FROM outbox WHERE id=?");

		if (!st)
			return INLET_EDB;
		sql_bind_int64(st, 1, o->ids[i]);
		rc = sql_step(st);
		sql_reset(st);
		rc = rc == SQL_DONE ? 0 : rc < 0 ? rc : INLET_EDB;
	}
	return rc;
}

static void outbox_done_done(struct writer_op *op, int rc)
{
	(void)op;
	(void)rc;
}

int substore_outbox_done(struct substore *s, const int64_t *ids, size_t n)
{
	struct outbox_done_op o = { .op = { .apply = outbox_done_apply, .done = outbox_done_done },
				    .ids = ids, .n = n };

	return n ? writer_run(s->writer, &o.op) : 0;
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
	struct insert_op *io = (struct insert_op *)op;
	struct substore *to = substore_moved_to(io->s, io->row.endpoint_id);
	struct sql_stmt *st;
	int rc;

	(void)c;
	if (to) {
		/* Queued before its endpoint moved: the row belongs there now. */
		io->s = to;
		writer_submit(to->writer, op);
		return WRITER_FORWARDED;
	}
	if (substore_is_cut(io->s, io->row.endpoint_id))
		return INLET_ECONFLICT; /* moved by another node: the caller looks again */
	st = writer_sql(w, 0, "INSERT INTO submissions(id,endpoint_id,status,key_version,nfiles,sealed)"
			      " VALUES(?,?,?,?,?,?)");
	if (!st)
		return INLET_EDB;
	sql_bind_int64(st, 1, io->row.id);
	sql_bind_int64(st, 2, io->row.endpoint_id);
	sql_bind_int64(st, 3, io->row.status);
	sql_bind_int64(st, 4, io->row.key_version);
	sql_bind_int64(st, 5, io->row.nfiles);
	sql_bind_blob(st, 6, io->row.sealed, io->row.sealed_len);
	rc = sql_step(st);
	sql_reset(st);
	if (rc != SQL_DONE)
		return rc < 0 ? rc : INLET_EDB; /* a duplicate id is INLET_EEXISTS */
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

/* The delta is added by the database, never read and written back here:
 * on PostgreSQL several nodes' writers may add to the same row at once,
 * and the upsert takes the row lock and sees the others' committed adds. */
#define COUNT_SQL "INSERT INTO endpoint_counts(endpoint_id,total) VALUES(?1,?2)" \
		  " ON CONFLICT(endpoint_id) DO UPDATE SET total=total+?2 RETURNING total"

static int write_count(struct substore *s, struct writer *w, int64_t endpoint_id, int64_t delta,
		       int64_t threshold)
{
	struct sql_stmt *st = writer_sql(w, 1, COUNT_SQL);
	int64_t total = -1;
	int rc;

	if (!st)
		return INLET_EDB;
	sql_bind_int64(st, 1, endpoint_id);
	sql_bind_int64(st, 2, delta);
	rc = sql_step(st);
	if (rc == SQL_ROW)
		total = sql_column_int64(st, 0);
	sql_reset(st);
	if (rc != SQL_ROW)
		return rc < 0 ? rc : INLET_EDB;
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
	struct substore *s = ctx;
	int rc = 0;

	(void)c;
	/* In endpoint order: two PostgreSQL writers on one store then take
	 * the count rows' locks in the same order and cannot deadlock. */
	for (int i = 1; i < s->npending; i++)
		for (int j = i; j > 0 && s->pending[j - 1].endpoint_id > s->pending[j].endpoint_id; j--) {
			int64_t e = s->pending[j].endpoint_id, d = s->pending[j].delta, t = s->pending[j].threshold;

			s->pending[j] = s->pending[j - 1];
			s->pending[j - 1].endpoint_id = e;
			s->pending[j - 1].delta = d;
			s->pending[j - 1].threshold = t;
		}
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
	struct mod_op *m = (struct mod_op *)op;
	struct substore *to = substore_moved_to(m->s, m->endpoint_id);
	struct sql_stmt *st;
	int64_t changes;
	int rc;

	(void)c;
	if (to) {
		/* Queued before its endpoint moved. A synchronous op cannot be
		 * handed over (its caller waits on this writer), so it runs on
		 * the new store's writer while this one waits. */
		struct mod_op fwd = *m;

		fwd.s = to;
		fwd.op.done = mod_done;
		return writer_run(to->writer, &fwd.op);
	}
	if (substore_is_cut(m->s, m->endpoint_id))
		return INLET_ECONFLICT; /* moved by another node: the caller looks again */
	if (m->kind == 0)
		st = writer_sql(w, 2, "UPDATE submissions SET status=?3,"
				      " status_ms=CASE WHEN status=?3 THEN status_ms ELSE ?4 END"
				      " WHERE id=?1 AND endpoint_id=?2");
	else if (m->kind == 1)
		st = writer_sql(w, 3, "DELETE FROM submissions WHERE id=?1 AND endpoint_id=?2");
	else /* every parameter is used: PostgreSQL must know each one's type */
		st = writer_sql(w, 4, "DELETE FROM submissions WHERE endpoint_id=?1");
	if (!st)
		return INLET_EDB;
	if (m->kind < 2) {
		sql_bind_int64(st, 1, m->id);
		sql_bind_int64(st, 2, m->endpoint_id);
	} else {
		sql_bind_int64(st, 1, m->endpoint_id);
	}
	if (m->kind == 0) {
		sql_bind_int64(st, 3, m->status);
		sql_bind_int64(st, 4, now_ms());
	}
	rc = sql_step(st);
	changes = sql_changes(st);
	sql_reset(st);
	if (rc != SQL_DONE)
		return rc < 0 ? rc : INLET_EDB;
	if (m->kind < 2 && changes && substore_is_tracked(m->s, m->endpoint_id) &&
	    (rc = substore_log_write(w, m->endpoint_id, m->id)))
		return rc;
	if (m->kind == 1 && changes)
		substore_count_delta(m->s, m->endpoint_id, -1, 0);
	if (m->kind == 2) {
		if (!(st = writer_sql(w, 5, "DELETE FROM endpoint_counts WHERE endpoint_id=?")))
			return INLET_EDB;
		sql_bind_int64(st, 1, m->endpoint_id);
		rc = sql_step(st);
		sql_reset(st);
		if (rc != SQL_DONE)
			return rc < 0 ? rc : INLET_EDB;
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
	struct sql_conn *c;
	struct sql_stmt *st;
	int rc;

	*n = 0;
	*rows = arena_alloc(a, (limit ? limit : 1) * sizeof(**rows));
	/* Old rows by the (endpoint_id, id) index; trash by a scan of the
	 * endpoint's rows (trash is few and this runs hourly). */
	if ((rc = rd_begin(s, "SELECT id,nfiles FROM submissions WHERE endpoint_id=?1 AND id<?2"
			      " UNION SELECT id,nfiles FROM submissions WHERE endpoint_id=?1 AND status=2"
			      " AND (CASE WHEN status_ms>0 THEN status_ms ELSE id>>20 END)<?3 LIMIT ?4",
			   &c, &st)))
		return rc;
	sql_bind_int64(st, 1, endpoint_id);
	sql_bind_int64(st, 2, before_id);
	sql_bind_int64(st, 3, trash_before_ms);
	sql_bind_int64(st, 4, (int64_t)limit);
	while ((rc = sql_step(st)) == SQL_ROW && *n < limit) {
		struct sub_row *r = &(*rows)[(*n)++];

		memset(r, 0, sizeof(*r));
		r->id = sql_column_int64(st, 0);
		r->endpoint_id = endpoint_id;
		r->nfiles = (int)sql_column_int64(st, 1);
	}
	rc = rc < 0 ? rc : 0;
	rd_end(s, c, st);
	return rc;
}

/* Transitional: store/move.c still reads rows on raw SQLite handles. */
void substore_row_from_sql(struct arena *a, struct sql_stmt *st, struct sub_row *r)
{
	const void *p;

	memset(r, 0, sizeof(*r));
	r->id = sql_column_int64(st, 0);
	r->endpoint_id = sql_column_int64(st, 1);
	r->status = (int)sql_column_int64(st, 2);
	r->key_version = (uint32_t)sql_column_int64(st, 3);
	r->nfiles = (int)sql_column_int64(st, 4);
	p = sql_column_blob(st, 5, &r->sealed_len);
	r->sealed = arena_memdup(a, p, r->sealed_len);
}

#define ROW_COLS "id,endpoint_id,status,key_version,nfiles,sealed"

int substore_get(struct substore *s, int64_t endpoint_id, int64_t id, struct arena *a,
		 struct sub_row *out)
{
	struct sql_conn *c;
	struct sql_stmt *st;
	int rc;

	if ((rc = rd_begin(s, "SELECT " ROW_COLS " FROM submissions WHERE id=? AND endpoint_id=?", &c, &st)))
		return rc;
	sql_bind_int64(st, 1, id);
	sql_bind_int64(st, 2, endpoint_id);
	rc = sql_step(st);
	if (rc == SQL_ROW) {
		substore_row_from_sql(a, st, out);
		rc = 0;
	} else {
		rc = rc == SQL_DONE ? INLET_ENOTFOUND : rc;
	}
	rd_end(s, c, st);
	return rc;
}

int substore_list(struct substore *s, const struct sub_query *q, struct arena *a,
		  struct sub_row **rows, size_t *n)
{
	struct sql_conn *c;
	struct sql_stmt *st;
	int64_t upper;
	int rc;

	*n = 0;
	*rows = arena_alloc(a, (q->limit ? q->limit : 1) * sizeof(**rows));
	/* The id bounds are always bound (open ones as 0 and INT64_MAX), and
	 * the two upper ones folded into one: written as "?x IS NULL OR id<?x",
	 * SQLite could not use them as the index range, and each page scanned
	 * the endpoint's index from its end (deep cursors, exports: O(n) each).
	 * Any status is -1, not NULL: PostgreSQL cannot type a parameter
	 * that is only tested for NULL. */
#define LIST_WHERE " FROM submissions WHERE endpoint_id=?1 AND id>=?2 AND id<?3 AND (?4<0 OR status=?4)"
	rc = rd_begin(s, q->oldest_first
			 ? "SELECT " ROW_COLS LIST_WHERE " ORDER BY endpoint_id, id LIMIT ?5"
			 : "SELECT " ROW_COLS LIST_WHERE " ORDER BY endpoint_id DESC, id DESC LIMIT ?5",
		      &c, &st);
#undef LIST_WHERE
	if (rc)
		return rc;
	upper = q->max_id ? q->max_id : INT64_MAX;
	if (!q->oldest_first && q->before_id && q->before_id < upper)
		upper = q->before_id;
	sql_bind_int64(st, 1, q->endpoint_id);
	sql_bind_int64(st, 2, q->min_id);
	sql_bind_int64(st, 3, upper);
	sql_bind_int64(st, 4, q->status >= 0 ? q->status : -1);
	sql_bind_int64(st, 5, (int64_t)q->limit);
	while ((rc = sql_step(st)) == SQL_ROW && *n < q->limit)
		substore_row_from_sql(a, st, &(*rows)[(*n)++]);
	rc = rc < 0 ? rc : 0;
	rd_end(s, c, st);
	return rc;
}

/* One integer that text (one ?, the endpoint) selects; 0 when no row or
 * NULL. */
static int read_int(struct substore *s, const char *text, int64_t endpoint_id, int64_t *out)
{
	struct sql_conn *c;
	struct sql_stmt *st;
	int rc;

	*out = 0;
	if ((rc = rd_begin(s, text, &c, &st)))
		return rc;
	sql_bind_int64(st, 1, endpoint_id);
	rc = sql_step(st);
	if (rc == SQL_ROW)
		*out = sql_column_int64(st, 0);
	rc = rc < 0 ? rc : 0;
	rd_end(s, c, st);
	return rc;
}

int substore_count(struct substore *s, int64_t endpoint_id, int64_t *out)
{
	/* One row per endpoint that every writer adds its deltas to (on
	 * PostgreSQL, every node's): the committed total. */
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

int substore_open_target(struct substore **out, const char *target, const char *schema, const char *name)
{
	struct substore *s;
	struct writer_hooks hooks = { .before_commit = flush_counts, .after_batch = after_batch };
	struct sql_conn *c = NULL;
	int pg = sql_is_postgres(target);
	int rc;

	*out = NULL;
	if (schema && !pg)
		return INLET_EINVAL; /* a SQLite file is one store */
	s = xcalloc(1, sizeof(*s));
	hooks.ctx = s;
	if ((rc = sql_open(target, 0, &c)))
		goto out;
	if (schema && (rc = sql_set_schema(c, schema)))
		goto out;
	if ((rc = sql_migrate(c, sql_engine(c) == SQL_POSTGRES ? migrations_pg : migrations_sqlite, NMIGRATIONS,
			      name))) {
		log_msg(LOG_ERROR, "%s: cannot migrate: %s", name, sql_errmsg(c));
		goto out;
	}
	/* Several nodes may write this store: moves keep their state in it. */
	if (pg && ((rc = move_store_init(c, schema)) != 0))
		goto out;
	if (pg)
		hooks.begin = move_batch_begin;
	if ((rc = writer_create(&s->writer, target, schema, name, 1024, &hooks)))
		goto out;
	/* Raw SQLite readers for store/move.c and store/events_read.c until
	 * they are on store/sql.h; PostgreSQL has none. */
	s->readers = sql_pool_create(target, 0, 0, 5000);
	s->path = xstrdup(target);
	s->schema = schema ? xstrdup(schema) : NULL;
out:
	sql_close(c);
	if (rc) {
		free(s);
		return rc;
	}
	*out = s;
	return 0;
}

void substore_close(struct substore *s)
{
	if (!s)
		return;
	writer_destroy(s->writer);
	sql_pool_destroy(s->readers);
	free(s->path);
	free(s->schema);
	free(s->moved);
	free(s->tracked);
	free(s->cut);
	free(s);
}
