/* Moving an endpoint's rows between submission stores (store/move.c) on
 * store/sql.h, on both engines: a move copied while another thread inserts
 * and a third changes statuses and deletes ends exact in the target (every
 * acknowledged row once, its last status, its bytes, the count); a move
 * stopped half-way (both stores closed, as a restart does) resumes from its
 * watermarks; clean-up empties the source of the endpoint and nothing else;
 * the target may be on another server (SQLite: another folder; PostgreSQL:
 * another database on the test server). Plus INLET_SHARD_SERVERS parsing.
 * Each case runs on fresh SQLite files, and again in fresh PostgreSQL
 * schemas when INLET_TEST_DATABASE_URL is set
 * (tests/e2e/move_pg.test.mjs). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/arena.h"
#include "core/config.h"
#include "core/err.h"
#include "store/move.h"
#include "store/shards.h"
#include "store/tenant.h"
#include "store/tenant_int.h"
#include "store/sql.h"
#include "store/subs.h"
#include "store/subs_int.h"

#include "engines.h"

#define EP 7     /* the endpoint that moves */
#define OTHER 8  /* one that stays */

static char url2[512];    /* PostgreSQL: the "other server" (a second database) */
static char db2[64];

static int setup(void **state)
{
	(void)state;
	return engine_setup("mv", "shared.db");
}

static int teardown(void **state)
{
	char q[128];

	(void)state;
	if (pg) {
		snprintf(q, sizeof(q), "DROP SCHEMA IF EXISTS %s_shared CASCADE", schema);
		pg_exec(q);
		snprintf(q, sizeof(q), "DROP SCHEMA IF EXISTS %s_ep CASCADE", schema);
		pg_exec(q);
		snprintf(q, sizeof(q), "DROP SCHEMA IF EXISTS %s_t CASCADE", schema);
		pg_exec(q);
	}
	if (pg && db2[0]) {
		snprintf(q, sizeof(q), "DROP DATABASE IF EXISTS %s WITH (FORCE)", db2);
		pg_exec(q);
		db2[0] = '\0';
	}
	return engine_teardown();
}

/* The source store, or the target (on the same server, or on the second
 * one when far). */
static struct substore *open_store(const char *what, int far)
{
	struct substore *s = NULL;
	char p[400], sch[96];

	if (!pg) {
		if (far) {
			snprintf(p, sizeof(p), "%s/far", dir);
			mkdir(p, 0700);
			snprintf(p, sizeof(p), "%s/far/%s.db", dir, what);
		} else {
			snprintf(p, sizeof(p), "%s/%s.db", dir, what);
		}
		assert_int_equal(substore_open(&s, p, what), 0);
	} else {
		snprintf(sch, sizeof(sch), "%s_%s", schema, what);
		assert_int_equal(substore_open_target(&s, far ? url2 : url, sch, what), 0);
	}
	assert_non_null(s);
	return s;
}

/* A second database on the test server, as another server would be. */
static void make_far(void)
{
	char q[128];
	const char *slash, *qm;

	if (!pg)
		return;
	snprintf(db2, sizeof(db2), "inlet_mv_far_%d_%d", (int)getpid(), seq);
	snprintf(q, sizeof(q), "DROP DATABASE IF EXISTS %s", db2);
	assert_int_equal(pg_exec(q), 0);
	snprintf(q, sizeof(q), "CREATE DATABASE %s", db2);
	assert_int_equal(pg_exec(q), 0);
	slash = strrchr(url, '/');
	qm = strchr(slash, '?');
	snprintf(url2, sizeof(url2), "%.*s/%s%s", (int)(slash - url), url, db2, qm ? qm : "");
}

/* ---- the model: what was acknowledged ------------------------------------- */

struct known {
	int64_t id;
	int status;
	int deleted;
};

static struct {
	pthread_mutex_t lock;
	struct known *rows;
	size_t n, cap;
	atomic_int stop;
	atomic_int refused; /* writes another node refused after the cutover */
} model = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void model_reset(void)
{
	free(model.rows);
	model.rows = NULL;
	model.n = model.cap = 0;
	model.stop = 0;
	model.refused = 0;
}

static void model_add(int64_t id)
{
	pthread_mutex_lock(&model.lock);
	if (model.n == model.cap) {
		model.cap = model.cap ? 2 * model.cap : 1024;
		model.rows = realloc(model.rows, model.cap * sizeof(*model.rows));
	}
	model.rows[model.n++] = (struct known){ .id = id };
	pthread_mutex_unlock(&model.lock);
}

/* A row's sealed bytes, from its id (a NUL in them, and lengths from 0). */
static size_t sealed_of(int64_t id, uint8_t *out)
{
	size_t n = (size_t)(id % 37);

	for (size_t i = 0; i < n; i++)
		out[i] = (uint8_t)(i == 1 ? 0 : (id >> (i % 8)) + i);
	return n;
}

struct wait {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int left;
};

struct one {
	struct wait *w;
	int rc;
};

static void on_done(void *ctx, int rc)
{
	struct one *o = ctx;

	pthread_mutex_lock(&o->w->lock);
	o->rc = rc;
	o->w->left--;
	pthread_cond_signal(&o->w->cond);
	pthread_mutex_unlock(&o->w->lock);
}

/* Inserts k rows of endpoint into s and waits for them; records them in
 * the model when record. A row refused because another node moved the
 * endpoint (INLET_ECONFLICT) goes to fallback, as a caller that looks at
 * the shard map again would send it. */
static void insert_rows_to(struct substore *s, struct substore *fallback, int64_t endpoint, int k, int record)
{
	struct wait w = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER, .left = k };
	struct one *ones = calloc((size_t)k, sizeof(*ones));
	struct sub_row *rows = calloc((size_t)k, sizeof(*rows));
	uint8_t buf[64];

	for (int i = 0; i < k; i++) {
		struct sub_row *row = &rows[i];

		*row = (struct sub_row){ .id = sub_id_next(), .endpoint_id = endpoint, .key_version = 3,
					 .nfiles = i % 2, .sealed = buf };
		row->sealed_len = sealed_of(row->id, buf);
		ones[i].w = &w;
		substore_insert(s, row, on_done, &ones[i]);
	}
	pthread_mutex_lock(&w.lock);
	while (w.left)
		pthread_cond_wait(&w.cond, &w.lock);
	pthread_mutex_unlock(&w.lock);
	for (int i = 0; i < k; i++) {
		if (ones[i].rc == INLET_ECONFLICT && fallback) {
			struct wait w2 = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER, .left = 1 };
			struct one o = { .w = &w2 };

			rows[i].sealed = buf;
			rows[i].sealed_len = sealed_of(rows[i].id, buf);
			substore_insert(fallback, &rows[i], on_done, &o);
			pthread_mutex_lock(&w2.lock);
			while (w2.left)
				pthread_cond_wait(&w2.cond, &w2.lock);
			pthread_mutex_unlock(&w2.lock);
			ones[i].rc = o.rc;
			atomic_fetch_add(&model.refused, 1);
		}
		assert_int_equal(ones[i].rc, 0);
		if (record)
			model_add(rows[i].id);
	}
	free(rows);
	free(ones);
}

static void insert_rows(struct substore *s, int64_t endpoint, int k, int record)
{
	insert_rows_to(s, NULL, endpoint, k, record);
}

/* A node: the store it writes, and where a refused write goes. */
struct node {
	struct substore *s, *fallback;
	int parity; /* the mutator's rows: even or odd positions, or -1 all */
};

static void *inserter(void *arg)
{
	struct node *n = arg;

	/* Paced: a load the copy can catch up with (a move under a write
	 * rate above its copy rate never ends, on any engine). */
	while (!model.stop) {
		insert_rows_to(n->s, n->fallback, EP, 7, 1);
		usleep(3000);
	}
	return NULL;
}

/* Changes statuses and deletes rows, alone on its rows (so its ops are
 * ordered), and records what each acknowledged. */
static void *mutator(void *arg)
{
	struct node *n = arg;
	unsigned r = 12345u + (unsigned)n->parity;

	while (!model.stop) {
		struct known k;
		size_t i;
		int rc, del;

		pthread_mutex_lock(&model.lock);
		r = r * 1103515245u + 12345u;
		i = model.n ? (r >> 8) % model.n : 0;
		if (n->parity >= 0 && i % 2 != (size_t)n->parity)
			i = i ? i - 1 : 0;
		k = model.n ? model.rows[i] : (struct known){ 0 };
		pthread_mutex_unlock(&model.lock);
		if (!k.id || k.deleted || (n->parity >= 0 && i % 2 != (size_t)n->parity))
			continue;
		del = (r >> 4) % 8 == 0;
		k.status = (int)((r >> 12) % 3);
		rc = del ? substore_delete(n->s, EP, k.id) : substore_set_status(n->s, EP, k.id, k.status);
		if (rc == INLET_ECONFLICT && n->fallback) {
			rc = del ? substore_delete(n->fallback, EP, k.id)
				 : substore_set_status(n->fallback, EP, k.id, k.status);
			atomic_fetch_add(&model.refused, 1);
		}
		assert_int_equal(rc, 0);
		usleep(1000);
		pthread_mutex_lock(&model.lock);
		if (del)
			model.rows[i].deleted = 1;
		else
			model.rows[i].status = k.status;
		pthread_mutex_unlock(&model.lock);
	}
	return NULL;
}

static int cmp_known(const void *a, const void *b)
{
	int64_t x = ((const struct known *)a)->id, y = ((const struct known *)b)->id;

	return x < y ? -1 : x > y;
}

/* How many rows of endpoint s holds (read directly). */
static int64_t rows_in(struct substore *s, int64_t endpoint)
{
	struct sql_conn *c;
	struct sql_stmt *st;
	int64_t n = -1;

	assert_int_equal(substore_reader(s, &c), 0);
	assert_int_equal(sql_prepare(c, "SELECT count(*) FROM submissions WHERE endpoint_id=?", &st), 0);
	sql_bind_int64(st, 1, endpoint);
	if (sql_step(st) == SQL_ROW)
		n = sql_column_int64(st, 0);
	sql_finalize(st);
	substore_reader_put(s, c);
	return n;
}

/* s holds exactly the model's live rows of EP: each once, with its last
 * status and its bytes; and its count agrees. */
static void assert_exact(struct substore *s)
{
	struct sql_conn *c;
	struct sql_stmt *st;
	size_t i = 0, live = 0;
	int64_t count;
	int rc;

	qsort(model.rows, model.n, sizeof(*model.rows), cmp_known);
	assert_int_equal(substore_reader(s, &c), 0);
	assert_int_equal(sql_prepare(c, "SELECT id,status,key_version,nfiles,sealed FROM submissions"
					" WHERE endpoint_id=? ORDER BY id", &st), 0);
	sql_bind_int64(st, 1, EP);
	while ((rc = sql_step(st)) == SQL_ROW) {
		int64_t id = sql_column_int64(st, 0);
		uint8_t want[64];
		size_t wn, n;
		const void *p;

		while (i < model.n && model.rows[i].deleted && model.rows[i].id < id)
			i++;
		if (i >= model.n || model.rows[i].id != id || model.rows[i].deleted)
			fail_msg("row %lld in the target is not a live acknowledged row", (long long)id);
		assert_int_equal(sql_column_int64(st, 1), model.rows[i].status);
		assert_int_equal(sql_column_int64(st, 2), 3);
		wn = sealed_of(id, want);
		p = sql_column_blob(st, 4, &n);
		assert_int_equal(n, wn);
		assert_false(sql_column_null(st, 4));
		if (n)
			assert_memory_equal(p, want, n);
		i++;
		live++;
	}
	assert_int_equal(rc, SQL_DONE);
	sql_finalize(st);
	substore_reader_put(s, c);
	for (; i < model.n; i++)
		if (!model.rows[i].deleted)
			fail_msg("acknowledged row %lld is missing from the target", (long long)model.rows[i].id);
	for (size_t k = 0; k < model.n; k++)
		live -= !model.rows[k].deleted;
	assert_int_equal(live, 0);
	assert_int_equal(substore_count(s, EP, &count), 0);
	assert_int_equal(count, rows_in(s, EP));
}

static int commit_ok(void *ctx)
{
	(void)ctx;
	return 0;
}

static void switched_noop(void *ctx)
{
	(void)ctx;
}

/* Copies until caught up; at most steps steps (0: no limit). */
static int copy_until(struct substore *src, struct substore *dst, size_t batch, int steps)
{
	int64_t copied;
	int caught_up = 0, n = 0;

	while (!caught_up && (!steps || n < steps)) {
		assert_int_equal(move_copy_step(src, dst, EP, 0, batch, &copied, &caught_up), 0);
		n++;
	}
	return caught_up;
}

static void cleanup_all(struct substore *src)
{
	int left = 1;

	while (left)
		assert_int_equal(move_cleanup_step(src, EP, 0, 50, &left), 0);
}

/* The move under load, to a store on the same server or another. */
static void move_under_load(int far)
{
	struct substore *src, *dst;
	pthread_t ti, tm;
	int64_t n, scan_done;
	int complete;

	model_reset();
	make_far();
	src = open_store("shared", 0);
	dst = open_store("ep", far);
	struct node na = { .s = src, .parity = -1 };

	insert_rows(src, EP, 500, 1);
	insert_rows(src, OTHER, 50, 0);
	assert_int_equal(move_track(src, EP, 1), 0);
	pthread_create(&ti, NULL, inserter, &na);
	pthread_create(&tm, NULL, mutator, &na);
	usleep(20000);
	copy_until(src, dst, 64, 0);
	/* Once more under load, then the cutover while both still write. */
	usleep(20000);
	copy_until(src, dst, 64, 0);
	assert_int_equal(move_cutover(src, dst, EP, 0, commit_ok, switched_noop, NULL), 0);
	usleep(30000); /* writes after the cutover are forwarded */
	model.stop = 1;
	pthread_join(ti, NULL);
	pthread_join(tm, NULL);
	assert_true(model.n > 520); /* the inserter did run during the move */
	assert_int_equal(move_progress(dst, EP, &scan_done, &complete), 0);
	assert_int_equal(complete, 1);
	assert_exact(dst);
	/* Clean-up: the source keeps only the other endpoint. */
	cleanup_all(src);
	assert_int_equal(rows_in(src, EP), 0);
	assert_int_equal(rows_in(src, OTHER), 50);
	assert_int_equal(substore_count(src, EP, &n), 0);
	assert_int_equal(n, 0);
	assert_exact(dst);
	substore_close(src);
	substore_close(dst);
	model_reset();
}

static void t_move_exact(void **state)
{
	(void)state;
	move_under_load(0);
}

static void t_move_far(void **state)
{
	(void)state;
	move_under_load(1);
}

/* PostgreSQL: two writers on the source (two handles on one schema: two
 * nodes) insert, change and delete while node A moves the endpoint; B
 * learns of the cutover from the store (move_state) and its late writes are
 * refused, then sent to the target by the caller. Every acknowledged row
 * ends in the target once, with its last state. */
static void t_two_nodes(void **state)
{
	struct substore *a, *b, *dst;
	pthread_t ti[2], tm[2];
	struct node na, nb;

	(void)state;
	if (!pg)
		return; /* SQLite: one node per data folder */
	model_reset();
	a = open_store("shared", 0);
	b = open_store("shared", 0);
	dst = open_store("ep", 0);
	na = (struct node){ .s = a, .parity = 0 };
	nb = (struct node){ .s = b, .fallback = dst, .parity = 1 };
	insert_rows(a, EP, 300, 1);
	insert_rows(b, EP, 300, 1);
	insert_rows(b, OTHER, 20, 0);
	pthread_create(&ti[0], NULL, inserter, &na);
	pthread_create(&ti[1], NULL, inserter, &nb);
	pthread_create(&tm[0], NULL, mutator, &na);
	pthread_create(&tm[1], NULL, mutator, &nb);
	usleep(20000);
	/* Tracked while both write: B's batches learn it from the store. */
	assert_int_equal(move_track(a, EP, 1), 0);
	usleep(20000);
	copy_until(a, dst, 500, 0);
	usleep(20000);
	copy_until(a, dst, 500, 0);
	assert_int_equal(move_cutover(a, dst, EP, 0, commit_ok, switched_noop, NULL), 0);
	usleep(50000); /* B keeps writing: refused, then sent to the target */
	model.stop = 1;
	for (int i = 0; i < 2; i++) {
		pthread_join(ti[i], NULL);
		pthread_join(tm[i], NULL);
	}
	assert_true(model.refused > 0);
	assert_exact(dst);
	/* B's writes of other endpoints still land in the source. */
	insert_rows(b, OTHER, 5, 0);
	cleanup_all(a);
	assert_int_equal(rows_in(a, EP), 0);
	assert_int_equal(rows_in(a, OTHER), 25);
	/* A write of B after the clean-up is refused too, never lost there. */
	{
		struct known k = model.rows[0];

		if (!k.deleted)
			assert_int_equal(substore_set_status(b, EP, k.id, SUB_INBOX), INLET_ECONFLICT);
	}
	substore_close(a);
	substore_close(b);
	substore_close(dst);
	model_reset();
}

/* Stopped half-way: both stores closed; the move resumes from the target's
 * watermarks after changes made since. */
static void t_resume(void **state)
{
	struct substore *src, *dst;
	int64_t scan_done, first;
	int complete;

	(void)state;
	model_reset();
	src = open_store("shared", 0);
	dst = open_store("ep", 0);
	insert_rows(src, EP, 400, 1);
	assert_int_equal(move_track(src, EP, 1), 0);
	assert_int_equal(copy_until(src, dst, 100, 2), 0);
	assert_int_equal(move_progress(dst, EP, &scan_done, &complete), 0);
	assert_int_equal(complete, 0);
	assert_true(scan_done > 0);
	first = scan_done;
	/* Changes logged before the stop: one copied row changes, one goes. */
	assert_int_equal(substore_set_status(src, EP, model.rows[0].id, SUB_SPAM), 0);
	model.rows[0].status = SUB_SPAM;
	assert_int_equal(substore_delete(src, EP, model.rows[1].id), 0);
	model.rows[1].deleted = 1;
	substore_close(src);
	substore_close(dst);

	/* The restart: tracked again before the store serves (shards_open). */
	src = open_store("shared", 0);
	dst = open_store("ep", 0);
	assert_int_equal(move_progress(dst, EP, &scan_done, &complete), 0);
	assert_int_equal(scan_done, first);
	assert_int_equal(move_track(src, EP, 1), 0);
	insert_rows(src, EP, 30, 1);
	assert_int_equal(substore_set_status(src, EP, model.rows[2].id, SUB_TRASH), 0);
	model.rows[2].status = SUB_TRASH;
	copy_until(src, dst, 100, 0);
	assert_int_equal(move_cutover(src, dst, EP, 0, commit_ok, switched_noop, NULL), 0);
	assert_exact(dst);
	cleanup_all(src);
	assert_int_equal(rows_in(src, EP), 0);
	substore_close(src);
	substore_close(dst);
	model_reset();
}

/* A commit point that fails leaves the source whole: no forwarding, and a
 * later cutover succeeds. */
static int commit_fail(void *ctx)
{
	(void)ctx;
	return INLET_EIO;
}

static void t_cutover_fails(void **state)
{
	struct substore *src, *dst;

	(void)state;
	model_reset();
	src = open_store("shared", 0);
	dst = open_store("ep", 0);
	insert_rows(src, EP, 50, 1);
	assert_int_equal(move_track(src, EP, 1), 0);
	copy_until(src, dst, 20, 0);
	assert_int_equal(move_cutover(src, dst, EP, 0, commit_fail, switched_noop, NULL), INLET_EIO);
	insert_rows(src, EP, 5, 1);
	assert_int_equal(rows_in(src, EP), 55); /* not forwarded */
	copy_until(src, dst, 20, 0);
	assert_int_equal(move_cutover(src, dst, EP, 0, commit_ok, switched_noop, NULL), 0);
	assert_exact(dst);
	substore_close(src);
	substore_close(dst);
	model_reset();
}

/* The mover end to end through store/shards.c: the location a move makes
 * (SQLite: ep-<pid>.db; PostgreSQL: schema ep_<pid> on the main server, or
 * "<name>:ep_<pid>" on a named one), the rows there, and the store removed
 * when the endpoint is forgotten (the file, or DROP SCHEMA). */
static int64_t one_int(const char *target, const char *q)
{
	struct sql_conn *c = NULL;
	struct sql_stmt *st = NULL;
	int64_t v = -1;

	assert_int_equal(sql_open(target, 0, &c), 0);
	assert_int_equal(sql_prepare(c, q, &st), 0);
	if (sql_step(st) == SQL_ROW)
		v = sql_column_int64(st, 0);
	sql_finalize(st);
	sql_close(c);
	return v;
}

static void shards_move(int far)
{
	struct tenant *t = NULL;
	struct substore *shared;
	struct shards *sh;
	struct shard_server servers[1];
	struct shards_config cfg = { .batch = 100 };
	struct sql_conn *c;
	struct sql_stmt *st;
	struct arena *a = arena_create(4096);
	struct endpoint ep;
	char tsch[96], want[160], q[256], p[400];
	int64_t acc, id;

	make_far();
	if (pg) {
		snprintf(tsch, sizeof(tsch), "%s_t", schema);
		assert_int_equal(tenant_open_target(&t, url, tsch), 0);
		cfg.db_url = url;
		servers[0] = (struct shard_server){ "far", url2 };
		cfg.servers = servers;
		cfg.nservers = 1;
		cfg.move_to = far ? "far" : "main";
	} else {
		snprintf(p, sizeof(p), "%s/tenant.db", dir);
		assert_int_equal(tenant_open_target(&t, p, NULL), 0);
		snprintf(p, sizeof(p), "%s/submissions", dir);
		mkdir(p, 0700);
	}
	assert_int_equal(tenant_sql_get(t, &c), 0);
	assert_int_equal(sql_prepare(c, "INSERT INTO accounts(pid,name,created_ms) VALUES('acc_x','a',0) RETURNING id", &st), 0);
	assert_int_equal(sql_step(st), SQL_ROW);
	acc = sql_column_int64(st, 0);
	sql_finalize(st);
	assert_int_equal(sql_prepare(c, "INSERT INTO endpoints(pid,account_id,key,kind,name,settings,key_version,"
				       "created_ms) VALUES('ep_Ab-9x',?,'k1','form','f','{}',1,0) RETURNING id", &st), 0);
	sql_bind_int64(st, 1, acc);
	assert_int_equal(sql_step(st), SQL_ROW);
	id = sql_column_int64(st, 0);
	sql_finalize(st);
	assert_int_equal(sql_prepare(c, "INSERT INTO endpoint_keys(endpoint_id,version,wrapped,created_ms)"
				       " VALUES(?,1,X'00',0)", &st), 0);
	sql_bind_int64(st, 1, id);
	assert_int_equal(sql_step(st), SQL_DONE);
	sql_finalize(st);
	tenant_sql_put(t, c);

	if (pg) {
		snprintf(p, sizeof(p), "%s_shared", schema);
		assert_int_equal(substore_open_target(&shared, url, p, "shared"), 0);
	} else {
		snprintf(p, sizeof(p), "%s/submissions/shared.db", dir);
		assert_int_equal(substore_open(&shared, p, "shared"), 0);
	}
	model_reset();
	insert_rows(shared, id, 120, 0);
	assert_int_equal(shards_open(&sh, t, dir, shared, &cfg), 0);
	assert_int_equal(tenant_move_request(t, id), 0);
	assert_int_equal(shards_run_move(sh, id), 0);
	if (!pg)
		snprintf(want, sizeof(want), "ep-ep_Ab-9x.db");
	else
		snprintf(want, sizeof(want), "%sep_ep_ab_9x", far ? "far:" : "");
	assert_string_equal(shards_location(sh, id), want);
	assert_int_equal(tenant_endpoint_by_id(t, id, a, &ep), 0);
	assert_string_equal(ep.location, want);
	assert_true(shards_store(sh, id) != shared);
	assert_int_equal(rows_in(shards_store(sh, id), id), 120);
	assert_int_equal(rows_in(shared, id), 0);
	/* Forgotten: the store goes. */
	shards_forget(sh, id);
	if (pg) {
		snprintf(q, sizeof(q), "SELECT count(*) FROM pg_namespace WHERE nspname='ep_ep_ab_9x'");
		assert_int_equal(one_int(far ? url2 : url, q), 0);
	} else {
		snprintf(p, sizeof(p), "%s/submissions/ep-ep_Ab-9x.db", dir);
		assert_int_equal(access(p, F_OK), -1);
	}
	shards_stop(sh);
	substore_close(shared);
	shards_close(sh);
	tenant_close(t);
	arena_destroy(a);
	model_reset();
}

static void t_shards_main(void **state)
{
	(void)state;
	shards_move(0);
}

static void t_shards_far(void **state)
{
	(void)state;
	if (!pg)
		return; /* SQLite: dedicated stores are files of the data folder */
	shards_move(1);
}

/* INLET_SHARD_SERVERS and INLET_SHARD_MOVE_TO (engine-free: the SQLite
 * group only). */
static void t_config(void **state)
{
	struct config c;
	char err[256];

	(void)state;
	if (pg)
		return;
	config_defaults(&c);
	setenv("INLET_SHARD_SERVERS", "eu=postgres://u:p%40ss@h1/db;us2=postgresql://h2:5433/x?sslmode=require;", 1);
	setenv("INLET_SHARD_MOVE_TO", "us2", 1);
	assert_int_equal(config_from_env(&c, err, sizeof(err)), 0);
	assert_int_equal(c.nshard_servers, 2);
	assert_string_equal(c.shard_servers[0].name, "eu");
	assert_string_equal(c.shard_servers[0].url, "postgres://u:p%40ss@h1/db");
	assert_string_equal(c.shard_servers[1].name, "us2");
	assert_string_equal(c.shard_servers[1].url, "postgresql://h2:5433/x?sslmode=require");
	assert_string_equal(c.shard_move_to, "us2");

	config_defaults(&c);
	setenv("INLET_SHARD_MOVE_TO", "asia", 1);
	assert_int_equal(config_from_env(&c, err, sizeof(err)), INLET_EINVAL);
	assert_non_null(strstr(err, "INLET_SHARD_MOVE_TO"));
	setenv("INLET_SHARD_MOVE_TO", "main", 1);
	config_defaults(&c);
	assert_int_equal(config_from_env(&c, err, sizeof(err)), 0);
	static const char *const bad[] = { "EU=postgres://h/d", "eu=mysql://h/d", "eu", "=postgres://h/d",
					   "main=postgres://h/d", "a=postgres://h/d;a=postgres://h/e" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		config_defaults(&c);
		setenv("INLET_SHARD_SERVERS", bad[i], 1);
		if (config_from_env(&c, err, sizeof(err)) != INLET_EINVAL)
			fail_msg("%s was accepted", bad[i]);
		assert_non_null(strstr(err, "INLET_SHARD_SERVERS"));
	}
	unsetenv("INLET_SHARD_SERVERS");
	unsetenv("INLET_SHARD_MOVE_TO");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(t_move_exact, setup, teardown),
		cmocka_unit_test_setup_teardown(t_move_far, setup, teardown),
		cmocka_unit_test_setup_teardown(t_resume, setup, teardown),
		cmocka_unit_test_setup_teardown(t_two_nodes, setup, teardown),
		cmocka_unit_test_setup_teardown(t_cutover_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(t_shards_main, setup, teardown),
		cmocka_unit_test_setup_teardown(t_shards_far, setup, teardown),
		cmocka_unit_test_setup_teardown(t_config, setup, teardown),
	};
	int failed;

	sub_id_set_node(3);
	url = getenv("INLET_TEST_DATABASE_URL");
	pg = 0;
	failed = cmocka_run_group_tests_name("move_sql_sqlite", tests, NULL, NULL);
	if (url && *url) {
		pg = 1;
		failed += cmocka_run_group_tests_name("move_sql_postgres", tests, NULL, NULL);
	}
	return failed ? 1 : 0;
}
