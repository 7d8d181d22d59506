/* The engines behind store/sql.h: each is a table of function pointers
 * (sql_sqlite.c, sql_pg.c), and every connection and statement starts with
 * the common header below so that sql.c can dispatch on it. Private to
 * src/store/sql*.c. */
#ifndef INLET_STORE_SQL_INT_H
#define INLET_STORE_SQL_INT_H

#include <stddef.h>
#include <stdint.h>

#include "store/sql.h"

/* Longest schema name PostgreSQL keeps (NAMEDATALEN - 1), plus the NUL. */
#define SQL_SCHEMA_MAX 64

struct sql_ops {
	enum sql_engine engine;
	int (*open)(const char *target, int flags, struct sql_conn **out);
	void (*close)(struct sql_conn *c);
	/* Called by the pool before it hands out an idle connection: checks
	 * it without a round trip when it can, and reopens a lost one.
	 * Returns INLET_EUNAVAILABLE when it cannot. */
	int (*check)(struct sql_conn *c);
	int (*set_schema)(struct sql_conn *c, const char *schema);
	int (*exec)(struct sql_conn *c, const char *text);
	int (*prepare)(struct sql_conn *c, const char *text, struct sql_stmt **out);
	/* kind is one of the SQL_V_* below; i or (p, n) carry the value. */
	int (*bind)(struct sql_stmt *st, int idx, int kind, int64_t i, const void *p, size_t n);
	int (*step)(struct sql_stmt *st);
	int (*reset)(struct sql_stmt *st);
	void (*finalize)(struct sql_stmt *st);
	int (*column_count)(const struct sql_stmt *st);
	int (*column_null)(struct sql_stmt *st, int col);
	int64_t (*column_int64)(struct sql_stmt *st, int col);
	const char *(*column_text)(struct sql_stmt *st, int col, size_t *len);
	const void *(*column_blob)(struct sql_stmt *st, int col, size_t *len);
	/* Is the connection still usable (not lost)? */
	int (*broken)(const struct sql_conn *c);
	/* Has the engine dropped or spoiled the open transaction? */
	int (*tx_aborted)(const struct sql_conn *c);
	/* Migration bookkeeping, inside the migration's transaction. */
	int (*migrate_prepare)(struct sql_conn *c);
	int (*version_get)(struct sql_conn *c, int *version);
	int (*version_set)(struct sql_conn *c, int version);
};

enum { SQL_V_NULL, SQL_V_INT, SQL_V_TEXT, SQL_V_BLOB };

/* The head of every engine's connection. */
struct sql_conn {
	const struct sql_ops *ops;
	int flags;                   /* SQL_READONLY, as opened */
	int in_tx;                   /* inside sql_begin .. commit/rollback */
	char schema[SQL_SCHEMA_MAX]; /* as set by sql_set_schema; "" for the default */
	char err[256];               /* the engine's last message */
};

/* The head of every engine's statement. */
struct sql_stmt {
	const struct sql_ops *ops;
	struct sql_conn *conn; /* the statement's connection, which outlives it */
	int64_t changes;       /* rows changed by the last run, set at SQL_DONE */
};

extern const struct sql_ops sql_sqlite_ops;

extern const struct sql_ops sql_pg_ops;

/* Copies the engine's message into c->err (truncated). */
void sql_set_err(struct sql_conn *c, const char *msg);
/* Is name a schema name sql_set_schema accepts? */
int sql_schema_name_ok(const char *name);

#endif
