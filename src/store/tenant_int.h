/* Inside the tenant store: shared by store/tenant.c and the files that
 * keep other tenant tables (store/webhooks.c). */
#ifndef INLET_STORE_TENANT_INT_H
#define INLET_STORE_TENANT_INT_H

#include <sqlite3.h>

struct arena;
struct db_pool;

struct tenant {
	struct db_pool *pool;
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

#endif
