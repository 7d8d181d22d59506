/* Dispatch to the engine tables, the connection pool and the migration
 * runner; everything here is the same for both engines. */
#include "store/sql.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/err.h"
#include "core/log.h"
#include "store/sql_int.h"

int sql_is_postgres(const char *target)
{
	return target && (strncmp(target, "postgres://", 11) == 0 ||
			  strncmp(target, "postgresql://", 13) == 0);
}

void sql_set_err(struct sql_conn *c, const char *msg)
{
	size_t n;

	snprintf(c->err, sizeof(c->err), "%s", msg ? msg : "");
	/* libpq ends its messages with a newline; the log adds its own. */
	n = strlen(c->err);
	while (n > 0 && (c->err[n - 1] == '\n' || c->err[n - 1] == ' '))
		c->err[--n] = '\0';
}

int sql_schema_name_ok(const char *name)
{
	size_t n = 0;

	if (!name || !((name[0] >= 'a' && name[0] <= 'z') || name[0] == '_'))
		return 0;
	for (; name[n]; n++) {
		char ch = name[n];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_'))
			return 0;
	}
	return n < SQL_SCHEMA_MAX;
}

int sql_open(const char *target, int flags, struct sql_conn **out)
{
	const struct sql_ops *ops = sql_is_postgres(target) ? &sql_pg_ops : &sql_sqlite_ops;

	*out = NULL;
	if (!target || !*target)
		return INLET_EINVAL;
	return ops->open(target, flags, out);
}

void sql_close(struct sql_conn *c)
{
	if (c)
		c->ops->close(c);
}

enum sql_engine sql_engine(const struct sql_conn *c)
{
	return c->ops->engine;
}

const char *sql_errmsg(const struct sql_conn *c)
{
	return c->err;
}

int sql_set_schema(struct sql_conn *c, const char *schema)
{
	if (schema && !sql_schema_name_ok(schema))
		return INLET_EINVAL;
	return c->ops->set_schema(c, schema);
}

int sql_exec(struct sql_conn *c, const char *text)
{
	return c->ops->exec(c, text);
}

int sql_prepare(struct sql_conn *c, const char *text, struct sql_stmt **out)
{
	*out = NULL;
	return c->ops->prepare(c, text, out);
}

int sql_bind_int64(struct sql_stmt *st, int idx, int64_t v)
{
	return st->ops->bind(st, idx, SQL_V_INT, v, NULL, 0);
}

int sql_bind_text(struct sql_stmt *st, int idx, const char *s, size_t n)
{
	return st->ops->bind(st, idx, SQL_V_TEXT, 0, n ? s : "", n);
}

int sql_bind_blob(struct sql_stmt *st, int idx, const void *p, size_t n)
{
	return st->ops->bind(st, idx, SQL_V_BLOB, 0, n ? p : "", n);
}

int sql_bind_null(struct sql_stmt *st, int idx)
{
	return st->ops->bind(st, idx, SQL_V_NULL, 0, NULL, 0);
}

int sql_bind_str(struct sql_stmt *st, int idx, const char *s)
{
	return s ? sql_bind_text(st, idx, s, strlen(s)) : sql_bind_null(st, idx);
}

int sql_step(struct sql_stmt *st)
{
	return st->ops->step(st);
}

int sql_reset(struct sql_stmt *st)
{
	return st->ops->reset(st);
}

void sql_finalize(struct sql_stmt *st)
{
	if (st)
		st->ops->finalize(st);
}

int64_t sql_changes(const struct sql_stmt *st)
{
	return st->changes;
}

int sql_column_count(const struct sql_stmt *st)
{
	return st->ops->column_count(st);
}

int sql_column_null(struct sql_stmt *st, int col)
{
	return st->ops->column_null(st, col);
}

int64_t sql_column_int64(struct sql_stmt *st, int col)
{
	return st->ops->column_int64(st, col);
}

const char *sql_column_text(struct sql_stmt *st, int col, size_t *len)
{
	size_t dummy;

	return st->ops->column_text(st, col, len ? len : &dummy);
}

const void *sql_column_blob(struct sql_stmt *st, int col, size_t *len)
{
	size_t dummy;

	return st->ops->column_blob(st, col, len ? len : &dummy);
}

/* ---- transactions -------------------------------------------------------- */

int sql_begin(struct sql_conn *c, enum sql_tx kind)
{
	static const char *const sqlite_sql[] = { "BEGIN", "BEGIN IMMEDIATE", "BEGIN IMMEDIATE" };
	static const char *const pg_sql[] = {
		"BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
		"BEGIN",
		"BEGIN ISOLATION LEVEL SERIALIZABLE",
	};
	int rc;

	if (c->in_tx)
		return INLET_EINVAL;
	if ((unsigned)kind > SQL_TX_SERIAL)
		return INLET_EINVAL;
	rc = c->ops->exec(c, c->ops->engine == SQL_POSTGRES ? pg_sql[kind] : sqlite_sql[kind]);
	if (!rc)
		c->in_tx = 1;
	return rc;
}

int sql_commit(struct sql_conn *c)
{
	int rc = c->ops->exec(c, "COMMIT");

	/* A failed COMMIT leaves SQLite inside the transaction when it was
	 * only busy; roll back so that the caller sees one outcome. */
	if (rc && !c->ops->broken(c))
		c->ops->exec(c, "ROLLBACK");
	c->in_tx = 0;
	return rc;
}

int sql_rollback(struct sql_conn *c)
{
	int rc;

	c->in_tx = 0;
	if (c->ops->broken(c))
		return 0; /* the server has dropped the transaction with the connection */
	rc = c->ops->exec(c, "ROLLBACK");
	return rc;
}

static int savepoint_sql(struct sql_conn *c, const char *verb, const char *name)
{
	char q[128];

	if (!sql_schema_name_ok(name))
		return INLET_EINVAL;
	snprintf(q, sizeof(q), "%s %s", verb, name);
	return c->ops->exec(c, q);
}

int sql_savepoint(struct sql_conn *c, const char *name)
{
	return savepoint_sql(c, "SAVEPOINT", name);
}

int sql_release(struct sql_conn *c, const char *name)
{
	return savepoint_sql(c, "RELEASE SAVEPOINT", name);
}

int sql_rollback_to(struct sql_conn *c, const char *name)
{
	return savepoint_sql(c, "ROLLBACK TO SAVEPOINT", name);
}

int sql_in_tx(const struct sql_conn *c)
{
	return c->in_tx;
}

int sql_tx_aborted(struct sql_conn *c)
{
	return c->in_tx && c->ops->tx_aborted(c);
}

/* ---- migrations ---------------------------------------------------------- */

int sql_schema_version(struct sql_conn *c, int *version)
{
	int rc;

	*version = 0;
	if ((rc = c->ops->migrate_prepare(c)))
		return rc;
	return c->ops->version_get(c, version);
}

int sql_migrate(struct sql_conn *c, const char *const *migrations, int n, const char *what)
{
	int rc;

	if ((rc = c->ops->migrate_prepare(c)))
		goto out;
	/* One transaction per step, and the version is read inside it: a
	 * second process migrating the same database waits for the first
	 * (SQLite's write lock, PostgreSQL's advisory lock taken by
	 * version_get) and then finds the work done. */
	for (;;) {
		int v = 0;

		if ((rc = sql_begin(c, SQL_TX_WRITE)))
			goto out;
		if ((rc = c->ops->version_get(c, &v)))
			goto undo;
		if (v > n) {
			log_msg(LOG_ERROR, "%s schema version %d is newer than this binary knows (%d)",
				what, v, n);
			rc = INLET_EDB;
			goto undo;
		}
		if (v == n) {
			rc = sql_commit(c);
			goto out;
		}
		if ((rc = sql_exec(c, migrations[v])) || (rc = c->ops->version_set(c, v + 1)))
			goto undo;
		if ((rc = sql_commit(c)))
			goto out;
		log_msg(LOG_INFO, "%s schema migrated to version %d", what, v + 1);
	}
undo:
	sql_rollback(c);
out:
	return rc;
}

/* ---- the pool ------------------------------------------------------------ */

#define POOL_PG_MAX 16
#define POOL_KEEP 32 /* idle connections kept when the pool is unbounded */

struct sql_pool {
	pthread_mutex_t lock;
	pthread_cond_t freed; /* signalled when a connection comes back */
	char *target;         /* immutable */
	int flags;            /* immutable */
	int max;              /* most open at once; 0: unbounded (SQLite) */
	int wait_ms;          /* how long sql_pool_get waits for a free one */
	struct sql_conn **idle; /* under lock: a stack of nidle */
	int nidle;            /* under lock */
	int nopen;            /* under lock: idle + handed out + being opened */
	int keep;             /* capacity of idle */
};

struct sql_pool *sql_pool_create(const char *target, int flags, int max, int wait_ms)
{
	struct sql_pool *p = xcalloc(1, sizeof(*p));

	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->freed, NULL);
	p->target = xstrdup(target);
	p->flags = flags;
	p->max = max > 0 ? max : sql_is_postgres(target) ? POOL_PG_MAX : 0;
	p->wait_ms = wait_ms > 0 ? wait_ms : 10000;
	p->keep = p->max ? p->max : POOL_KEEP;
	p->idle = xcalloc((size_t)p->keep, sizeof(*p->idle));
	return p;
}

void sql_pool_destroy(struct sql_pool *p)
{
	if (!p)
		return;
	/* Every connection must have come back: the pool outlives its users. */
	for (int i = 0; i < p->nidle; i++)
		sql_close(p->idle[i]);
	pthread_cond_destroy(&p->freed);
	pthread_mutex_destroy(&p->lock);
	free(p->idle);
	free(p->target);
	free(p);
}

static void deadline_after(struct timespec *ts, int ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* Takes an idle connection, or the right to open one (*c NULL), waiting
 * while the pool is full. */
static int pool_take(struct sql_pool *p, struct sql_conn **c)
{
	struct timespec until;
	int rc = 0;

	deadline_after(&until, p->wait_ms);
	*c = NULL;
	pthread_mutex_lock(&p->lock);
	while (p->nidle == 0 && p->max && p->nopen >= p->max) {
		if (pthread_cond_timedwait(&p->freed, &p->lock, &until) == ETIMEDOUT) {
			rc = INLET_EBUSY;
			goto out;
		}
	}
	if (p->nidle > 0)
		*c = p->idle[--p->nidle];
	else
		p->nopen++;
out:
	pthread_mutex_unlock(&p->lock);
	return rc;
}

/* Forgets one open connection (closed or never opened). */
static void pool_forget(struct sql_pool *p)
{
	pthread_mutex_lock(&p->lock);
	p->nopen--;
	pthread_cond_signal(&p->freed);
	pthread_mutex_unlock(&p->lock);
}

int sql_pool_get(struct sql_pool *p, const char *schema, struct sql_conn **out)
{
	struct sql_conn *c = NULL;
	int rc;

	*out = NULL;
	if (schema && !sql_schema_name_ok(schema))
		return INLET_EINVAL;
	if ((rc = pool_take(p, &c)))
		return rc;
	if (c)
		rc = c->ops->check(c);
	else
		rc = sql_open(p->target, p->flags, &c);
	if (!rc)
		rc = sql_set_schema(c, schema);
	if (rc) {
		sql_close(c);
		pool_forget(p);
		return rc;
	}
	*out = c;
	return 0;
}

void sql_pool_put(struct sql_pool *p, struct sql_conn *c)
{
	if (!c)
		return;
	if (c->in_tx) {
		log_msg(LOG_ERROR, "sql: a connection came back to the pool inside a transaction");
		sql_rollback(c);
	}
	if (c->ops->broken(c)) {
		sql_close(c);
		pool_forget(p);
		return;
	}
	pthread_mutex_lock(&p->lock);
	if (p->nidle < p->keep) {
		p->idle[p->nidle++] = c;
		c = NULL;
		pthread_cond_signal(&p->freed);
	}
	pthread_mutex_unlock(&p->lock);
	if (c) {
		sql_close(c);
		pool_forget(p);
	}
}
