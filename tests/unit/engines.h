/* What the unit tests that run on both engines share: each case gets a
 * fresh SQLite folder, or a fresh PostgreSQL schema when the PostgreSQL
 * group runs (INLET_TEST_DATABASE_URL, see tests/e2e/queue_pg.test.mjs).
 * A test file includes this once and calls engine_setup/engine_teardown
 * from its cmocka fixtures. */
#ifndef INLET_TESTS_ENGINES_H
#define INLET_TESTS_ENGINES_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "store/sql.h"

static const char *url;     /* PostgreSQL under test, or NULL */
static int pg;              /* 1 while the PostgreSQL group runs */
static char dir[256];       /* SQLite: this case's temporary folder */
static char path[300];      /* SQLite: its database file */
static char schema[64];     /* PostgreSQL: this case's schema */
static int seq;

/* Runs text on the server, outside any schema. */
static int pg_exec(const char *text)
{
	struct sql_conn *c = NULL;
	int rc = sql_open(url, 0, &c);

	if (!rc)
		rc = sql_exec(c, text);
	sql_close(c);
	return rc;
}

/* A fresh place for one case: schema "<tag><pid>_<n>", or file in a new
 * folder. 0, or -1 for cmocka. */
static int engine_setup(const char *tag, const char *file)
{
	char q[128];

	seq++;
	if (pg) {
		snprintf(schema, sizeof(schema), "%s%d_%d", tag, (int)getpid(), seq);
		snprintf(q, sizeof(q), "DROP SCHEMA IF EXISTS %s CASCADE", schema);
		return pg_exec(q) ? -1 : 0;
	}
	snprintf(dir, sizeof(dir), "/tmp/inlet-%s-XXXXXX", tag);
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	return 0;
}

static int engine_teardown(void)
{
	char cmd[300];

	if (pg) {
		snprintf(cmd, sizeof(cmd), "DROP SCHEMA IF EXISTS %s CASCADE", schema);
		return pg_exec(cmd) ? -1 : 0;
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

#endif
