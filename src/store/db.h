/* SQLite helpers under store/sql_sqlite.c and the backup: opening with
 * Inlet's pragmas, running SQL, mapping errors. Only src/store/
 * includes sqlite3.h. */
#ifndef INLET_STORE_DB_H
#define INLET_STORE_DB_H

#include <sqlite3.h>
#include <stddef.h>

/* Opens path (creating it) in WAL mode with synchronous=FULL,
 * foreign_keys=ON, secure_delete=ON (erased rows leave no readable trace),
 * a busy timeout, and the given flags (SQLITE_OPEN_READONLY for readers). */
int db_open(const char *path, int readonly, sqlite3 **out);
void db_close(sqlite3 *db);
/* Runs SQL without results; logs the SQLite message on failure. */
int db_exec(sqlite3 *db, const char *sql);
/* Maps a SQLite result code to INLET_E*. */
int db_rc(sqlite3 *db, int src);

#endif
