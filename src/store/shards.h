/* The shard map: which submission store holds each endpoint, and the
 * mover that takes a busy endpoint out of the shared store into a database
 * of its own (DATA/submissions/ep-<endpoint>.db), online (store/move.h).
 *
 * A move starts when the shared store's writer reports an endpoint's count
 * at or past its threshold (INLET_SHARD_THRESHOLD, default 10,000, or the
 * endpoint's settings.shard_threshold), or when asked (`inlet shards move`,
 * which may be another process: requests are rows in tenant.db that the
 * mover polls). Moves run one at a time on the mover thread. After a crash
 * the mover resumes: a copying move continues from its watermarks, a
 * cut-over move finishes its clean-up. */
#ifndef INLET_STORE_SHARDS_H
#define INLET_STORE_SHARDS_H

#include <stddef.h>

#include <stdint.h>

struct queue;
struct shards;
struct substore;
struct tenant;

/* A PostgreSQL server besides the main one, by the name that locations
 * use ("<name>:<schema>"), so no URL (and no password) is ever stored in
 * the shard map. */
struct shard_server {
	const char *name;
	const char *url;
};

struct shards_config {
	int64_t threshold;  /* 0: no automatic moves */
	size_t batch;       /* rows per copy step */
	int pause_ms;       /* between copy steps */
	/* NULL: dedicated stores are SQLite files, DATA/submissions/ep-<pid>.db.
	 * A postgres:// URL: they are schemas "ep_<pid>" on that server (the
	 * main one), or on one of servers ("<name>:ep_<pid>"). */
	const char *db_url;
	const struct shard_server *servers;
	size_t nservers;
	const char *move_to; /* the server new moves go to: NULL or "main", or a name in servers */
};

int shards_open(struct shards **out, struct tenant *t, const char *data_dir,
		struct substore *shared, const struct shards_config *cfg);
/* From now on moves run as slow-lane jobs ("shard.move") on q: the mover
 * thread finds them and queues each once; the job calls shards_run_move.
 * Without it (the CLI) the mover thread runs them. */
void shards_use_queue(struct shards *s, struct queue *q);
/* Runs (or resumes) the move of endpoint_id; one at a time. 0 when done
 * (or nothing is left to do), INLET_ESHUTDOWN when stopped half-way (it
 * resumes from its watermarks next time). */
int shards_run_move(struct shards *s, int64_t endpoint_id);
/* Tells a move under way to stop at its next step, without waiting (the
 * job runner then finishes; shards_stop joins). Accepts NULL. */
void shards_halt(struct shards *s);
/* Stops the mover; a move in progress pauses and resumes at next open.
 * Call before closing the shared store (the mover drives its writer). */
void shards_stop(struct shards *s);
/* Stops the mover if running and closes the dedicated stores; call after
 * the shared store is closed (it may forward ops into them until then).
 * Accepts NULL. */
void shards_close(struct shards *s);

/* The store that holds the endpoint's submissions now. */
struct substore *shards_store(struct shards *s, int64_t endpoint_id);
/* The shared store and every dedicated one, in a heap array (the caller
 * frees it; the stores stay open until shards_close). */
size_t shards_stores(struct shards *s, struct substore ***out);
/* "shared", or where the endpoint's own store is: a file name under
 * DATA/submissions (SQLite), a schema on the main server, or
 * "<server>:<schema>" (static or owned by s; valid until the next move of
 * that endpoint). */
const char *shards_location(struct shards *s, int64_t endpoint_id);
/* Asks the mover to move the endpoint now. */
int shards_request(struct shards *s, int64_t endpoint_id);
/* The endpoint was deleted: stops any move of it, closes and removes its
 * own database (SQLite: the file; PostgreSQL: DROP SCHEMA ... CASCADE). */
void shards_forget(struct shards *s, int64_t endpoint_id);
/* Reads from every endpoint's own database; *stores gets how many there
 * are. Returns the first failure, 0 if all answer. */
int shards_check(struct shards *s, int *stores);
/* Wakes the mover to look for requests (tests, CLI). */
void shards_kick(struct shards *s);

#endif
