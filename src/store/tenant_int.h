/* Inside the tenant store: shared by store/tenant.c and the files that
 * keep other tenant tables (store/sessions.c, store/webhooks.c,
 * store/members.c). Every one of them speaks store/sql.h through the
 * tenant's one pool, `sql`, on SQLite (tenant.db) or PostgreSQL (a schema)
 * alike. */
#ifndef INLET_STORE_TENANT_INT_H
#define INLET_STORE_TENANT_INT_H

#include "store/sql.h"

struct arena;

struct tenant {
	struct sql_pool *sql;  /* sql.h connections to the store; always set */
	char *schema;          /* PostgreSQL: the store's schema (heap); NULL on SQLite */
};

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
/* Runs a statement that must change a row (an update or delete by id),
 * then finishes q: INLET_ENOTFOUND when it changed none. */
int tenant_sq_change(struct sq *q);
/* Column i as an arena string ("" for NULL). */
const char *tenant_sql_str(struct arena *a, struct sql_stmt *st, int i);

#endif
