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
