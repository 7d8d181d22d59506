/* A small portable statement API over SQLite and PostgreSQL, so that the
 * stores can be written once and run on either engine. The engine is picked
 * by the target string: "postgres://..." or "postgresql://..." is libpq,
 * anything else is a SQLite file path.
 *
 * SQL is written in SQLite's dialect with ? or ?N placeholders; on
 * PostgreSQL it goes through sql_dialect_rewrite() (store/sql_dialect.h)
 * first, which translates what can be translated and refuses the rest, so an
 * unported statement fails at prepare, never at run time with a different
 * answer. On SQLite the text is used exactly as given.
 *
 * Threads: a connection and its statements belong to one thread at a time
 * (as SQLite's NOMUTEX connections do); the pool hands them between threads.
 * Errors: 0 or a negative INLET_E* code, as everywhere; sql_errmsg() keeps
 * the engine's own message for the log. Only src/store/ includes this. */
#ifndef INLET_STORE_SQL_H
#define INLET_STORE_SQL_H

#include <stddef.h>
#include <stdint.h>

struct sql_conn;
struct sql_stmt;
struct sql_pool;

enum sql_engine {
	SQL_SQLITE = 1,
	SQL_POSTGRES = 2,
};

/* sql_open flags */
#define SQL_READONLY 0x1 /* SQLite: query_only; PostgreSQL: read-only transactions */

/* What sql_step returns besides a negative error. */
#define SQL_DONE 0
#define SQL_ROW 1

/* Transaction kinds for sql_begin. SQLite serializes every write
 * transaction anyway; PostgreSQL needs to be told what the caller relies on.
 *   SQL_TX_READ   a consistent snapshot for several reads
 *                 (BEGIN / REPEATABLE READ READ ONLY)
 *   SQL_TX_WRITE  reads and writes; row locks or ON CONFLICT guard races
 *                 (BEGIN IMMEDIATE / READ COMMITTED)
 *   SQL_TX_SERIAL as if alone: PostgreSQL may answer INLET_EBUSY at any
 *                 statement or at COMMIT, and the caller retries the whole
 *                 transaction (BEGIN IMMEDIATE / SERIALIZABLE) */
enum sql_tx {
	SQL_TX_READ,
	SQL_TX_WRITE,
	SQL_TX_SERIAL,
};

/* True when target names a PostgreSQL server (a postgres:// URL). */
int sql_is_postgres(const char *target);

/* Opens one connection. SQLite: the file is created if absent and gets
 * Inlet's pragmas (store/db.c's db_open). PostgreSQL: the URL as libpq
 * takes it; the schema is "public" until sql_set_schema. */
int sql_open(const char *target, int flags, struct sql_conn **out);
/* Closes c; its statements must have been finalized. Accepts NULL. */
void sql_close(struct sql_conn *c);
enum sql_engine sql_engine(const struct sql_conn *c);
/* The engine's message for the last failure on c (never NULL; valid until
 * the next call on c). */
const char *sql_errmsg(const struct sql_conn *c);

/* Scopes c to schema: unqualified names resolve in it (PostgreSQL's
 * search_path), so each endpoint store of Inlet can live in one schema of
 * one database. NULL means the default ("public"). A schema name is
 * [a-z_][a-z0-9_]{0,62}; anything else is INLET_EINVAL. SQLite has one
 * schema per file: only NULL is accepted there. */
int sql_set_schema(struct sql_conn *c, const char *schema);

/* Runs SQL that takes no parameters and returns no rows; several
 * statements separated by ';' are allowed (migrations). */
int sql_exec(struct sql_conn *c, const char *text);

/* Prepares one statement. The statement is c's: finalize it before closing
 * c. On PostgreSQL a server-side prepared statement is made once per
 * connection and text and then reused from a per-connection cache. */
int sql_prepare(struct sql_conn *c, const char *text, struct sql_stmt **out);
/* Binding: idx counts from 1 (?1 is 1). Values are copied. A NULL pointer
 * with n 0 binds an empty text or blob, not NULL: use sql_bind_null. */
int sql_bind_int64(struct sql_stmt *st, int idx, int64_t v);
int sql_bind_text(struct sql_stmt *st, int idx, const char *s, size_t n);
int sql_bind_blob(struct sql_stmt *st, int idx, const void *p, size_t n);
int sql_bind_null(struct sql_stmt *st, int idx);
/* Binds a NUL-terminated string, or NULL when s is NULL. */
int sql_bind_str(struct sql_stmt *st, int idx, const char *s);
/* SQL_ROW when a row is ready to read, SQL_DONE when the statement has run
 * to its end, or a negative error. After SQL_DONE or an error, sql_reset
 * runs the statement again (with the same bindings). */
int sql_step(struct sql_stmt *st);
/* Rewinds st; its bindings stay. */
int sql_reset(struct sql_stmt *st);
/* Accepts NULL. */
void sql_finalize(struct sql_stmt *st);
/* Rows inserted, updated or deleted by the statement's last run (after
 * SQL_DONE). Use RETURNING, which both engines have, for generated ids. */
int64_t sql_changes(const struct sql_stmt *st);

/* Columns of the current row, counting from 0. Pointers stay valid until
 * the next sql_step, sql_reset or sql_finalize on st. A NULL value reads
 * as 0, or as a NULL pointer with *len 0. text is NUL-terminated. */
int sql_column_count(const struct sql_stmt *st);
int sql_column_null(struct sql_stmt *st, int col);
int64_t sql_column_int64(struct sql_stmt *st, int col);
const char *sql_column_text(struct sql_stmt *st, int col, size_t *len);
const void *sql_column_blob(struct sql_stmt *st, int col, size_t *len);

/* Transactions. sql_rollback on a connection that has been lost succeeds:
 * the server has dropped the transaction already. */
int sql_begin(struct sql_conn *c, enum sql_tx kind);
int sql_commit(struct sql_conn *c);
int sql_rollback(struct sql_conn *c);
/* Savepoints: on PostgreSQL a failed statement spoils the whole
 * transaction, where SQLite undoes just that statement; a savepoint around
 * a unit of work that may fail gives both engines SQLite's behaviour.
 * name is a plain identifier chosen by the caller. */
int sql_savepoint(struct sql_conn *c, const char *name);
int sql_release(struct sql_conn *c, const char *name);
int sql_rollback_to(struct sql_conn *c, const char *name);
/* True inside a transaction begun by sql_begin. */
int sql_in_tx(const struct sql_conn *c);
/* True when the engine has given up the transaction sql_begin opened, so
 * that nothing done in it can commit: SQLite rolled it back by itself (a
 * full disk, an I/O error), or PostgreSQL marked it failed or lost the
 * connection. The caller then rolls back. */
int sql_tx_aborted(struct sql_conn *c);

/* Numbered migrations: applies migrations[current..n) each in its own
 * transaction and records the new version in it; a database whose version
 * is above n is refused with INLET_EDB. SQLite keeps the version in PRAGMA
 * user_version (as store/db.c always has, so existing files carry on);
 * PostgreSQL in the schema's schema_migrations table, creating the schema
 * and Inlet's "nocase" collation first, under an advisory lock so that two
 * processes starting at once migrate one after the other. On PostgreSQL
 * each migration is rewritten by sql_dialect_rewrite. */
int sql_migrate(struct sql_conn *c, const char *const *migrations, int n, const char *what);
/* The version sql_migrate would start from (0 for a new database). */
int sql_schema_version(struct sql_conn *c, int *version);

/* A bounded pool of connections to one target, shared by threads.
 * max: most connections open at once (0: SQLite unbounded, PostgreSQL 16);
 * a caller that finds all of them busy waits up to wait_ms, then gets
 * INLET_EBUSY. Idle connections are checked before they are handed out and
 * reopened when the server has gone away (a restart), so a caller sees
 * INLET_EUNAVAILABLE only while the server is really unreachable. */
struct sql_pool *sql_pool_create(const char *target, int flags, int max, int wait_ms);
void sql_pool_destroy(struct sql_pool *p);
/* Hands out a connection scoped to schema (see sql_set_schema). */
int sql_pool_get(struct sql_pool *p, const char *schema, struct sql_conn **out);
/* Gives c back. A connection left inside a transaction is rolled back
 * (and logged: that is a caller's bug); a broken one is closed. */
void sql_pool_put(struct sql_pool *p, struct sql_conn *c);

#endif
