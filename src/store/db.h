/* SQLite helpers shared by every store: opening with Inlet's pragmas,
 * numbered migrations, and a pool of reader connections. Only src/store/
 * includes sqlite3.h. */
#ifndef INLET_STORE_DB_H
#define INLET_STORE_DB_H

#include <pthread.h>
#include <sqlite3.h>
#include <stddef.h>

/* Opens path (creating it) in WAL mode with synchronous=FULL,
 * foreign_keys=ON, secure_delete=ON (erased rows leave no readable trace),
 * a busy timeout, and the given flags (SQLITE_OPEN_READONLY for readers). */
int db_open(const char *path, int readonly, sqlite3 **out);
void db_close(sqlite3 *db);
/* Runs SQL without results; logs the SQLite message on failure. */
int db_exec(sqlite3 *db, const char *sql);
/* Applies migrations[user_version..n) each in its own transaction and
 * bumps PRAGMA user_version. A database newer than n is refused. */
int db_migrate(sqlite3 *db, const char *const *migrations, int n, const char *what);
/* Maps a SQLite result code to INLET_E*. */
int db_rc(sqlite3 *db, int src);

/* Reader connections for one database file: acquire gives a connection
 * no other thread uses until release. Connections are opened lazily. */
struct db_pool;
struct db_pool *db_pool_create(const char *path, int readonly);
void db_pool_destroy(struct db_pool *p);
int db_pool_acquire(struct db_pool *p, sqlite3 **out);
void db_pool_release(struct db_pool *p, sqlite3 *db);

#endif
