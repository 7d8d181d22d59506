#include "store/db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/err.h"
#include "core/log.h"

int db_rc(sqlite3 *db, int src)
{
	switch (src & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return 0;
	case SQLITE_NOMEM:
		return INLET_ENOMEM;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return INLET_EBUSY;
	case SQLITE_CONSTRAINT:
		return INLET_EEXISTS;
	case SQLITE_IOERR:
	case SQLITE_FULL:
	case SQLITE_CANTOPEN:
		return INLET_EIO;
	default:
		(void)db;
		return INLET_EDB;
	}
}

static void log_db_error(sqlite3 *db, const char *what)
{
	char f[600] = "";

	log_field_str(f, sizeof(f), "sqlite", db ? sqlite3_errmsg(db) : "?");
	log_field_str(f, sizeof(f), "during", what);
	log_emit(LOG_ERROR, "database error", f);
}

int db_open(const char *path, int readonly, sqlite3 **out)
{
	sqlite3 *db = NULL;
	int flags = readonly ? SQLITE_OPEN_READONLY
			     : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
	int rc;

	flags |= SQLITE_OPEN_NOMUTEX; /* one thread at a time per connection */
	rc = sqlite3_open_v2(path, &db, flags, NULL);
	if (rc != SQLITE_OK) {
		log_db_error(db, path);
		rc = db_rc(db, rc);
		goto out;
	}
	sqlite3_busy_timeout(db, 10000);
	sqlite3_extended_result_codes(db, 1);
	rc = db_exec(db, readonly ? "PRAGMA foreign_keys=ON; PRAGMA query_only=ON;"
				  : "PRAGMA auto_vacuum=INCREMENTAL; PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
				    " PRAGMA foreign_keys=ON; PRAGMA secure_delete=ON;");
out:
	if (rc) {
		sqlite3_close(db);
		db = NULL;
	}
	*out = db;
	return rc;
}

void db_close(sqlite3 *db)
{
	if (db)
		sqlite3_close_v2(db);
}

int db_exec(sqlite3 *db, const char *sql)
{
	char *err = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &err);

	if (rc != SQLITE_OK) {
		char f[700] = "";

		log_field_str(f, sizeof(f), "sqlite", err ? err : sqlite3_errmsg(db));
		log_emit(LOG_ERROR, "sql failed", f);
		sqlite3_free(err);
		return db_rc(db, rc);
	}
	return 0;
}

int db_migrate(sqlite3 *db, const char *const *migrations, int n, const char *what)
{
	sqlite3_stmt *st = NULL;
	int version = 0, rc;

	rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);
	if (rc != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW) {
		rc = INLET_EDB;
		goto out;
	}
	version = sqlite3_column_int(st, 0);
	rc = 0;
	if (version > n) {
		log_msg(LOG_ERROR, "%s schema version %d is newer than this binary knows (%d)",
			what, version, n);
		rc = INLET_EDB;
		goto out;
	}
	for (int v = version; v < n; v++) {
		char bump[64];

		snprintf(bump, sizeof(bump), "PRAGMA user_version=%d;", v + 1);
		if ((rc = db_exec(db, "BEGIN IMMEDIATE")))
			goto out;
		if ((rc = db_exec(db, migrations[v])) || (rc = db_exec(db, bump))) {
			db_exec(db, "ROLLBACK");
			goto out;
		}
		if ((rc = db_exec(db, "COMMIT")))
			goto out;
		log_msg(LOG_INFO, "%s schema migrated to version %d", what, v + 1);
	}
out:
	sqlite3_finalize(st);
	return rc;
}

/* A stack of idle connections; busy ones are owned by their thread. */
#define POOL_KEEP 32

struct db_pool {
	pthread_mutex_t lock;
	char *path;
	int readonly;
	sqlite3 *idle[POOL_KEEP]; /* under lock */
	int nidle;                /* under lock */
};

struct db_pool *db_pool_create(const char *path, int readonly)
{
	struct db_pool *p = xcalloc(1, sizeof(*p));

	pthread_mutex_init(&p->lock, NULL);
	p->path = xstrdup(path);
	p->readonly = readonly;
	return p;
}

void db_pool_destroy(struct db_pool *p)
{
	if (!p)
		return;
	for (int i = 0; i < p->nidle; i++)
		db_close(p->idle[i]);
	pthread_mutex_destroy(&p->lock);
	free(p->path);
	free(p);
}

int db_pool_acquire(struct db_pool *p, sqlite3 **out)
{
	sqlite3 *db = NULL;

	pthread_mutex_lock(&p->lock);
	if (p->nidle > 0)
		db = p->idle[--p->nidle];
	pthread_mutex_unlock(&p->lock);
	if (db) {
		*out = db;
		return 0;
	}
	return db_open(p->path, p->readonly, out);
}

void db_pool_release(struct db_pool *p, sqlite3 *db)
{
	if (!db)
		return;
	pthread_mutex_lock(&p->lock);
	if (p->nidle < POOL_KEEP) {
		p->idle[p->nidle++] = db;
		db = NULL;
	}
	pthread_mutex_unlock(&p->lock);
	db_close(db);
}
