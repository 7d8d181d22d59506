/* Inside the tenant store: shared by store/tenant.c and the files that
 * keep other tenant tables (store/sessions.c, store/webhooks.c,
 * store/members.c).
 *
 * Two ways in while the store moves onto store/sql.h file by file:
 * tenant.c still speaks sqlite3 through `pool`; the modules already moved
 * speak sql.h through `sql`, a second pool on the same database (on SQLite
 * the same file: both pools open it with db_open's pragmas, WAL lets their
 * connections read side by side, and BEGIN IMMEDIATE with the busy timeout
 * orders writers across both exactly as it did inside one). When tenant.c
 * moves, `pool` goes. */
#ifndef INLET_STORE_TENANT_INT_H
#define INLET_STORE_TENANT_INT_H

#include <sqlite3.h>

#include "store/sql.h"

struct arena;
struct db_pool;

struct tenant {
	struct db_pool *pool;  /* sqlite3 connections for tenant.c; NULL on PostgreSQL,
				* where tenant.c's own calls answer INLET_EUNAVAILABLE */
	struct sql_pool *sql;  /* sql.h connections to the same database; always set */
	char *schema;          /* PostgreSQL: the store's schema (heap); NULL on SQLite */
};

/* One statement on a pooled connection, released together. */
struct q {
	struct tenant *t;
	sqlite3 *db;
	sqlite3_stmt *st;
};

int tenant_q_prepare(struct tenant *t, struct q *q, const char *sql);
void tenant_q_finish(struct q *q);
/* Steps a statement that returns no rows. */
int tenant_q_run(struct q *q);
/* Runs a statement that must change a row (an update or delete by id),
 * then finishes q: INLET_ENOTFOUND when it changed none. */
int tenant_q_change(struct q *q);
/* Column i as an arena string ("" for NULL). */
const char *tenant_col_str(struct arena *a, sqlite3_stmt *st, int i);

/* ---- the same on store/sql.h ------------------------------------------- */

/* A sql.h connection to the tenant store, scoped to its schema; give it
 * back with tenant_sql_put (which rolls back a transaction left open). */
int tenant_sql_get(struct tenant *t, struct sql_conn **out);
void tenant_sql_put(struct tenant *t, struct sql_conn *c);

/* One statement on a pooled sql.h connection, released together. */
struct sq {
	struct tenant *t;
	struct sql_conn *c;  /* NULL once finished */
	struct sql_stmt *st;
};

/* On failure nothing is held (tenant_sq_finish is harmless). */
int tenant_sq_prepare(struct tenant *t, struct sq *q, const char *text);
void tenant_sq_finish(struct sq *q);
/* Steps a statement that returns no rows (or whose rows are not wanted). */
int tenant_sq_run(struct sq *q);
/* As tenant_q_change: runs, finishes, INLET_ENOTFOUND when nothing changed. */
int tenant_sq_change(struct sq *q);
/* Column i as an arena string ("" for NULL). */
const char *tenant_sql_str(struct arena *a, struct sql_stmt *st, int i);

#endif
