/* store/sql.h on PostgreSQL through libpq.
 *
 * Statements: the text is rewritten once (store/sql_dialect.h), then made a
 * server-side prepared statement per connection (PQprepare, and
 * PQdescribePrepared to learn the parameter types the server inferred).
 * These live in a small per-connection cache keyed by text, so the
 * prepare-per-call pattern of the stores costs two round trips only the
 * first time a connection sees a statement.
 *
 * Wire formats, chosen for exactness with the least code:
 *   parameters: integers go as decimal text, which the server parses into
 *     whatever type it inferred (int4 for a LIMIT, int8 for a column,
 *     numeric); text goes as text; blobs go in binary format, raw bytes with
 *     NULs and all, into bytea parameters (so no escaping anywhere);
 *   results: text format for every column, so any server type reads as
 *     int64 (int2/4/8, numeric from sum(), bool as 0/1) with one parser;
 *     bytea arrives as hex (bytea_output is set per session) and is decoded
 *     on first access into a per-column buffer.
 *
 * Lost connections: before a statement outside a transaction, the socket is
 * polled without waiting; a server that went away has closed it, and the
 * connection is reopened (PQreset) with its session settings and schema,
 * its statement cache emptied. Inside a transaction nothing is reopened
 * behind the caller's back: statements fail with INLET_EUNAVAILABLE until
 * sql_rollback. */
#include <libpq-fe.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/err.h"
#include "core/log.h"
#include "store/sql_dialect.h"
#include "store/sql_int.h"

/* Type OIDs from PostgreSQL's catalog (pg_type.dat); fixed since 7.x. The
 * header that names them belongs to the server's development package. */
#define OID_BOOL 16
#define OID_BYTEA 17

#define PG_CACHE 128 /* prepared statements kept per connection */

struct pg_cached {
	char *text;          /* rewritten text, owned; NULL for a free slot */
	uint64_t hash;       /* of text */
	char name[24];       /* server-side name, unique per connection */
	int nparams;
	Oid *types;          /* nparams types as the server inferred them, owned */
	unsigned long used;  /* LRU tick */
};

struct pg_conn {
	struct sql_conn base;          /* first: sql.c sees this */
	PGconn *pg;                    /* owned */
	struct pg_cached cache[PG_CACHE];
	unsigned long tick;            /* for the cache's LRU */
	unsigned long names;           /* counter behind cache names */
};

struct pg_param {
	int kind;       /* SQL_V_*; SQL_V_NULL until bound */
	char num[24];   /* SQL_V_INT as decimal text */
	char *data;     /* SQL_V_TEXT, SQL_V_BLOB: owned copy, NUL-terminated */
	size_t n;
};

struct pg_dec {
	char *p;  /* decoded bytea of column col of row `row`, owned */
	size_t n;
	int row;  /* -1: nothing decoded */
};

struct pg_stmt {
	struct sql_stmt base;   /* first */
	char *text;             /* rewritten, owned */
	uint64_t hash;
	int nparams;
	struct pg_param *params; /* nparams, owned */
	PGresult *res;          /* of the last run, owned; NULL before it */
	int row;                /* current row of res */
	int done;               /* ran to its end: the next step runs it again */
	struct pg_dec *dec;     /* one per column of res, owned */
	int ndec;
};

static struct pg_conn *pgc(struct sql_conn *c)
{
	return (struct pg_conn *)c;
}

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static int broken_now(const struct pg_conn *c)
{
	return PQstatus(c->pg) != CONNECTION_OK;
}

/* Maps a failed result (or, res NULL, the connection's state) to INLET_E*
 * and keeps the server's message. */
static int fail(struct pg_conn *c, const PGresult *res)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorMessage(res) : NULL;

	sql_set_err(&c->base, msg && *msg ? msg : PQerrorMessage(c->pg));
	if (broken_now(c))
		return INLET_EUNAVAILABLE;
	if (!state)
		return res ? INLET_EDB : INLET_ENOMEM;
	/* Any integrity violation is EEXISTS, as store/db.c maps every
	 * SQLITE_CONSTRAINT: the stores answer the same on both engines. */
	if (strncmp(state, "23", 2) == 0)
		return INLET_EEXISTS;
	if (!strcmp(state, "40001") || !strcmp(state, "40P01") || !strcmp(state, "55P03") ||
	    !strcmp(state, "57014"))
		return INLET_EBUSY; /* serialization failure, deadlock, lock or statement timeout */
	if (strncmp(state, "08", 2) == 0 || !strcmp(state, "57P01") || !strcmp(state, "57P02") ||
	    !strcmp(state, "57P03") || !strcmp(state, "53300"))
		return INLET_EUNAVAILABLE; /* connection, shutdown, too many connections */
	if (!strcmp(state, "53200"))
		return INLET_ENOMEM;
	if (strncmp(state, "53", 2) == 0 || strncmp(state, "58", 2) == 0)
		return INLET_EIO; /* disk full, system error */
	return INLET_EDB;
}

static void notice_to_log(void *arg, const char *message)
{
	(void)arg;
	if (log_enabled(LOG_DEBUG))
		log_msg(LOG_DEBUG, "postgres: %s", message);
}

static void cache_clear(struct pg_conn *c)
{
	for (int i = 0; i < PG_CACHE; i++) {
		free(c->cache[i].text);
		free(c->cache[i].types);
		c->cache[i] = (struct pg_cached){ 0 };
	}
}

/* Settings every session needs, again after a reconnect. */
static int session_init(struct pg_conn *c)
{
	char q[256];
	PGresult *res;
	int rc = 0;

	snprintf(q, sizeof(q),
		 "SET search_path TO \"%s\"; SET bytea_output TO hex;"
		 " SET client_min_messages TO warning; SET default_transaction_read_only TO %s",
		 c->base.schema[0] ? c->base.schema : "public",
		 c->base.flags & SQL_READONLY ? "on" : "off");
	res = PQexec(c->pg, q);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		rc = fail(c, res);
	PQclear(res);
	if (!rc && !c->base.schema[0])
		snprintf(c->base.schema, sizeof(c->base.schema), "public");
	return rc;
}

static int pg_open(const char *target, int flags, struct sql_conn **out)
{
	/* dbname last: the URL's own settings win over these defaults. */
	const char *const keys[] = { "application_name", "connect_timeout", "client_encoding",
				     "dbname", NULL };
	const char *const vals[] = { "inlet", "10", "UTF8", target, NULL };
	struct pg_conn *c = xcalloc(1, sizeof(*c));
	int rc = 0;

	c->base.ops = &sql_pg_ops;
	c->base.flags = flags;
	c->pg = PQconnectdbParams(keys, vals, 1);
	if (!c->pg)
		abort(); /* libpq could not allocate: the xmalloc policy */
	if (PQstatus(c->pg) != CONNECTION_OK) {
		sql_set_err(&c->base, PQerrorMessage(c->pg));
		log_msg(LOG_ERROR, "postgres: cannot connect: %s", c->base.err);
		rc = INLET_EUNAVAILABLE;
		goto out;
	}
	PQsetNoticeProcessor(c->pg, notice_to_log, NULL);
	rc = session_init(c);
out:
	if (rc) {
		PQfinish(c->pg);
		free(c);
		return rc;
	}
	*out = &c->base;
	return 0;
}

static void pg_close(struct sql_conn *base)
{
	struct pg_conn *c = pgc(base);

	cache_clear(c);
	PQfinish(c->pg);
	free(c);
}

/* Reopens a lost connection (outside a transaction only). */
static int reconnect(struct pg_conn *c)
{
	PQreset(c->pg);
	cache_clear(c);
	if (PQstatus(c->pg) != CONNECTION_OK) {
		sql_set_err(&c->base, PQerrorMessage(c->pg));
		return INLET_EUNAVAILABLE;
	}
	log_msg(LOG_INFO, "postgres: reconnected");
	return session_init(c);
}

/* Makes sure the connection is usable before a statement; see the top. */
static int ensure(struct pg_conn *c)
{
	struct pollfd pfd;

	if (c->base.in_tx) {
		if (!broken_now(c))
			return 0;
		sql_set_err(&c->base, "connection lost inside a transaction");
		return INLET_EUNAVAILABLE;
	}
	if (!broken_now(c)) {
		pfd.fd = PQsocket(c->pg);
		pfd.events = POLLIN;
		pfd.revents = 0;
		if (pfd.fd < 0 || poll(&pfd, 1, 0) == 0)
			return 0;
		/* Readable while idle: a notice, or the server's goodbye (a
		 * FATAL message, then end of file, which may not have arrived
		 * yet). Rare enough that an empty query settles it. */
		if (PQconsumeInput(c->pg) && !broken_now(c)) {
			PGnotify *n;
			PGresult *res;

			while ((n = PQnotifies(c->pg)))
				PQfreemem(n);
			res = PQexec(c->pg, "");
			if (PQresultStatus(res) == PGRES_EMPTY_QUERY) {
				PQclear(res);
				return 0;
			}
			PQclear(res);
		}
	}
	return reconnect(c);
}

static int pg_check(struct sql_conn *base)
{
	return ensure(pgc(base));
}

static int pg_set_schema(struct sql_conn *base, const char *schema)
{
	struct pg_conn *c = pgc(base);
	const char *want = schema ? schema : "public";
	char prev[SQL_SCHEMA_MAX];
	int rc;

	if (!strcmp(c->base.schema, want))
		return 0;
	if ((rc = ensure(c)))
		return rc;
	memcpy(prev, c->base.schema, sizeof(prev));
	snprintf(c->base.schema, sizeof(c->base.schema), "%s", want);
	if ((rc = session_init(c)))
		memcpy(c->base.schema, prev, sizeof(prev));
	return rc;
}

/* Runs text as given (already rewritten). */
static int exec_raw(struct pg_conn *c, const char *text)
{
	PGresult *res = PQexec(c->pg, text);
	ExecStatusType s = PQresultStatus(res);
	int rc = 0;

	if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK)
		rc = fail(c, res);
	else if (!strcmp(PQcmdStatus(res), "ROLLBACK") && strncmp(text, "ROLLBACK", 8) != 0) {
		/* COMMIT of a transaction a failed statement had spoiled. */
		sql_set_err(&c->base, "transaction was aborted by an earlier error");
		rc = INLET_EDB;
	}
	PQclear(res);
	return rc;
}

static int pg_exec(struct sql_conn *base, const char *text)
{
	struct pg_conn *c = pgc(base);
	char why[200];
	char *q = NULL;
	int n, rc;

	if ((rc = sql_dialect_rewrite(text, &q, &n, why, sizeof(why)))) {
		sql_set_err(base, why);
		log_msg(LOG_ERROR, "sql: cannot run on PostgreSQL: %s", why);
		return rc;
	}
	if (n > 0) {
		sql_set_err(base, "sql_exec takes no parameters");
		rc = INLET_EINVAL;
	} else if (!(rc = ensure(c))) {
		rc = exec_raw(c, q);
	}
	free(q);
	return rc;
}

/* The server-side statement for text, prepared now if not cached. */
static int cached(struct pg_conn *c, const char *text, uint64_t hash, int nparams,
		  struct pg_cached **out)
{
	struct pg_cached *e = NULL, *victim = &c->cache[0];
	PGresult *res = NULL;
	int rc = 0;

	for (int i = 0; i < PG_CACHE; i++) {
		struct pg_cached *x = &c->cache[i];

		if (x->text && x->hash == hash && !strcmp(x->text, text)) {
			x->used = ++c->tick;
			*out = x;
			return 0;
		}
		if (!x->text || (victim->text && x->used < victim->used))
			victim = x;
	}
	if (victim->text) {
		char q[64];

		/* Fails harmlessly inside a spoiled transaction: the name is
		 * never reused, so a leftover only costs server memory. */
		snprintf(q, sizeof(q), "DEALLOCATE %s", victim->name);
		PQclear(PQexec(c->pg, q));
		free(victim->text);
		free(victim->types);
		*victim = (struct pg_cached){ 0 };
	}
	e = victim;
	snprintf(e->name, sizeof(e->name), "inlet_%lu", ++c->names);
	res = PQprepare(c->pg, e->name, text, nparams, NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		rc = fail(c, res);
		goto out;
	}
	PQclear(res);
	res = PQdescribePrepared(c->pg, e->name);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		rc = fail(c, res);
		goto out;
	}
	e->nparams = PQnparams(res);
	e->types = xcalloc((size_t)e->nparams + 1, sizeof(*e->types));
	for (int i = 0; i < e->nparams; i++)
		e->types[i] = PQparamtype(res, i);
	e->text = xstrdup(text);
	e->hash = hash;
	e->used = ++c->tick;
	*out = e;
out:
	PQclear(res);
	if (rc)
		*e = (struct pg_cached){ 0 };
	return rc;
}

static int pg_prepare(struct sql_conn *base, const char *text, struct sql_stmt **out)
{
	struct pg_conn *c = pgc(base);
	struct pg_cached *e;
	struct pg_stmt *s;
	char why[200];
	char *q = NULL;
	int n, rc;

	if ((rc = sql_dialect_rewrite(text, &q, &n, why, sizeof(why)))) {
		sql_set_err(base, why);
		log_msg(LOG_ERROR, "sql: cannot run on PostgreSQL: %s", why);
		return rc;
	}
	/* Prepared now so that a bad statement fails here, as on SQLite. */
	if ((rc = ensure(c)) || (rc = cached(c, q, fnv1a(q), n, &e))) {
		free(q);
		return rc;
	}
	s = xcalloc(1, sizeof(*s));
	s->base.ops = &sql_pg_ops;
	s->base.conn = base;
	s->text = q;
	s->hash = e->hash;
	s->nparams = n;
	s->params = xcalloc((size_t)n + 1, sizeof(*s->params));
	*out = &s->base;
	return 0;
}

static void clear_result(struct pg_stmt *s)
{
	for (int i = 0; i < s->ndec; i++)
		free(s->dec[i].p);
	free(s->dec);
	s->dec = NULL;
	s->ndec = 0;
	PQclear(s->res);
	s->res = NULL;
	s->row = 0;
	s->done = 0;
}

static int pg_bind(struct sql_stmt *st, int idx, int kind, int64_t i, const void *p, size_t n)
{
	struct pg_stmt *s = (struct pg_stmt *)st;
	struct pg_param *x;

	if (idx < 1 || idx > s->nparams)
		return INLET_EINVAL;
	x = &s->params[idx - 1];
	free(x->data);
	*x = (struct pg_param){ .kind = kind };
	if (kind == SQL_V_INT) {
		snprintf(x->num, sizeof(x->num), "%lld", (long long)i);
	} else if (kind == SQL_V_TEXT || kind == SQL_V_BLOB) {
		x->data = xmalloc(n + 1);
		memcpy(x->data, p, n);
		x->data[n] = '\0';
		x->n = n;
	}
	return 0;
}

/* Runs the statement: fills res. */
static int run(struct pg_stmt *s)
{
	struct pg_conn *c = pgc(s->base.conn);
	const char **values = NULL;
	int *lengths = NULL, *formats = NULL;
	struct pg_cached *e;
	ExecStatusType status;
	int rc;

	clear_result(s);
	if ((rc = ensure(c)) || (rc = cached(c, s->text, s->hash, s->nparams, &e)))
		return rc;
	values = xcalloc((size_t)s->nparams + 1, sizeof(*values));
	lengths = xcalloc((size_t)s->nparams + 1, sizeof(*lengths));
	formats = xcalloc((size_t)s->nparams + 1, sizeof(*formats));
	for (int i = 0; i < s->nparams && i < e->nparams; i++) {
		struct pg_param *x = &s->params[i];

		switch (x->kind) {
		case SQL_V_INT:
			values[i] = x->num;
			break;
		case SQL_V_TEXT:
		case SQL_V_BLOB:
			if (x->n > (size_t)0x7fffffff) {
				rc = INLET_ETOOBIG;
				goto out;
			}
			values[i] = x->data;
			lengths[i] = (int)x->n;
			if (e->types[i] == OID_BYTEA) {
				formats[i] = 1; /* raw bytes, NULs and all */
			} else if (x->kind == SQL_V_BLOB || memchr(x->data, '\0', x->n)) {
				snprintf(c->base.err, sizeof(c->base.err),
					 "parameter $%d: bytes bound where the server expects type %u", i + 1,
					 (unsigned)e->types[i]);
				rc = INLET_EINVAL;
				goto out;
			}
			break;
		default:
			break; /* NULL */
		}
	}
	s->res = PQexecPrepared(c->pg, e->name, s->nparams, values, lengths, formats, 0);
	status = PQresultStatus(s->res);
	if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
		rc = fail(c, s->res);
		PQclear(s->res);
		s->res = NULL;
		goto out;
	}
	s->ndec = PQnfields(s->res);
	s->dec = xcalloc((size_t)s->ndec + 1, sizeof(*s->dec));
	for (int i = 0; i < s->ndec; i++)
		s->dec[i].row = -1;
	s->row = -1;
out:
	free(values);
	free(lengths);
	free(formats);
	return rc;
}

static int pg_step(struct sql_stmt *st)
{
	struct pg_stmt *s = (struct pg_stmt *)st;
	int rc;

	if (!s->res || s->done) {
		if ((rc = run(s))) {
			s->done = 1;
			return rc;
		}
	}
	if (++s->row < PQntuples(s->res))
		return SQL_ROW;
	s->done = 1;
	st->changes = strtoll(PQcmdTuples(s->res), NULL, 10);
	return SQL_DONE;
}

static int pg_reset(struct sql_stmt *st)
{
	clear_result((struct pg_stmt *)st);
	st->changes = 0;
	return 0;
}

static void pg_finalize(struct sql_stmt *st)
{
	struct pg_stmt *s = (struct pg_stmt *)st;

	clear_result(s);
	for (int i = 0; i < s->nparams; i++)
		free(s->params[i].data);
	free(s->params);
	free(s->text);
	free(s);
}

static int pg_column_count(const struct sql_stmt *st)
{
	const struct pg_stmt *s = (const struct pg_stmt *)st;

	return s->res ? PQnfields(s->res) : 0;
}

/* Is (row, col) a cell of the current row? */
static int cell_ok(const struct pg_stmt *s, int col)
{
	return s->res && s->row >= 0 && s->row < PQntuples(s->res) && col >= 0 && col < s->ndec;
}

static int pg_column_null(struct sql_stmt *st, int col)
{
	struct pg_stmt *s = (struct pg_stmt *)st;

	return !cell_ok(s, col) || PQgetisnull(s->res, s->row, col);
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* The bytes of a bytea cell, decoded once per row. */
static const char *bytea(struct pg_stmt *s, int col, size_t *len)
{
	struct pg_dec *d = &s->dec[col];
	const char *v = PQgetvalue(s->res, s->row, col);
	size_t n = (size_t)PQgetlength(s->res, s->row, col);

	if (d->row == s->row) {
		*len = d->n;
		return d->p;
	}
	free(d->p);
	d->p = NULL;
	d->n = 0;
	/* bytea_output is hex for every session (session_init). */
	if (n >= 2 && v[0] == '\\' && v[1] == 'x' && n % 2 == 0) {
		d->p = xmalloc((n - 2) / 2 + 1);
		for (size_t i = 2; i < n; i += 2) {
			int hi = hexval(v[i]), lo = hexval(v[i + 1]);

			if (hi < 0 || lo < 0)
				break;
			d->p[d->n++] = (char)(hi << 4 | lo);
		}
		d->p[d->n] = '\0';
	} else {
		d->p = xstrdup("");
	}
	d->row = s->row;
	*len = d->n;
	return d->p;
}

static int64_t pg_column_int64(struct sql_stmt *st, int col)
{
	struct pg_stmt *s = (struct pg_stmt *)st;
	const char *v;

	if (pg_column_null(st, col))
		return 0;
	v = PQgetvalue(s->res, s->row, col);
	if (PQftype(s->res, col) == OID_BOOL)
		return v[0] == 't';
	/* numeric's "12.5" reads as 12, as SQLite converts a real */
	return strtoll(v, NULL, 10);
}

static const char *pg_column_text(struct sql_stmt *st, int col, size_t *len)
{
	struct pg_stmt *s = (struct pg_stmt *)st;

	*len = 0;
	if (pg_column_null(st, col))
		return NULL;
	if (PQftype(s->res, col) == OID_BYTEA)
		return bytea(s, col, len);
	if (PQftype(s->res, col) == OID_BOOL) {
		/* SQLite has no booleans: a comparison reads as 1 or 0. */
		*len = 1;
		return PQgetvalue(s->res, s->row, col)[0] == 't' ? "1" : "0";
	}
	*len = (size_t)PQgetlength(s->res, s->row, col);
	return PQgetvalue(s->res, s->row, col);
}

static const void *pg_column_blob(struct sql_stmt *st, int col, size_t *len)
{
	return pg_column_text(st, col, len);
}

static int pg_broken(const struct sql_conn *base)
{
	return broken_now((const struct pg_conn *)base);
}

static int pg_tx_aborted(const struct sql_conn *base)
{
	const struct pg_conn *c = (const struct pg_conn *)base;
	PGTransactionStatusType t = PQtransactionStatus(c->pg);

	return t != PQTRANS_INTRANS && t != PQTRANS_ACTIVE;
}

/* The schema itself, its migrations table and the collation that
 * COLLATE NOCASE names, made under an advisory lock (concurrent
 * CREATE ... IF NOT EXISTS can otherwise collide in the catalogs). ICU's
 * level-2 strength compares without case, as SQLite's NOCASE does (for
 * ASCII; ICU folds other scripts too). */
static int pg_migrate_prepare(struct sql_conn *base)
{
	struct pg_conn *c = pgc(base);
	const char *s = c->base.schema;
	char q[1024];
	int rc;

	if ((rc = ensure(c)))
		return rc;
	snprintf(q, sizeof(q),
		 "BEGIN; SELECT pg_advisory_xact_lock(hashtext('inlet.migrate.%s'));"
		 " CREATE SCHEMA IF NOT EXISTS \"%s\";"
		 " CREATE TABLE IF NOT EXISTS \"%s\".schema_migrations("
		 "  version BIGINT PRIMARY KEY, applied_ms BIGINT NOT NULL);"
		 " CREATE COLLATION IF NOT EXISTS \"%s\".nocase"
		 "  (provider = icu, locale = 'und-u-ks-level2', deterministic = false);"
		 " COMMIT",
		 s, s, s, s);
	if ((rc = exec_raw(c, q)) && !broken_now(c))
		exec_raw(c, "ROLLBACK");
	return rc;
}

static int pg_version_get(struct sql_conn *base, int *version)
{
	struct pg_conn *c = pgc(base);
	char q[256];
	PGresult *res;
	int rc = 0;

	/* Inside the caller's transaction: the lock is held until it ends. */
	snprintf(q, sizeof(q),
		 "SELECT pg_advisory_xact_lock(hashtext('inlet.migrate.%s'));"
		 " SELECT coalesce(max(version), 0) FROM schema_migrations",
		 c->base.schema);
	res = PQexec(c->pg, q);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
		rc = fail(c, res);
	else
		*version = (int)strtol(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return rc;
}

static int pg_version_set(struct sql_conn *base, int version)
{
	char q[200];

	snprintf(q, sizeof(q),
		 "INSERT INTO schema_migrations(version, applied_ms)"
		 " VALUES(%d, (extract(epoch FROM clock_timestamp()) * 1000)::bigint)",
		 version);
	return exec_raw(pgc(base), q);
}

const struct sql_ops sql_pg_ops = {
	.engine = SQL_POSTGRES,
	.open = pg_open,
	.close = pg_close,
	.check = pg_check,
	.set_schema = pg_set_schema,
	.exec = pg_exec,
	.prepare = pg_prepare,
	.bind = pg_bind,
	.step = pg_step,
	.reset = pg_reset,
	.finalize = pg_finalize,
	.column_count = pg_column_count,
	.column_null = pg_column_null,
	.column_int64 = pg_column_int64,
	.column_text = pg_column_text,
	.column_blob = pg_column_blob,
	.broken = pg_broken,
	.tx_aborted = pg_tx_aborted,
	.migrate_prepare = pg_migrate_prepare,
	.version_get = pg_version_get,
	.version_set = pg_version_set,
};
