/* A submission store: one database of sealed submissions (the shared one,
 * DATA/submissions/shared.db, and later one per busy endpoint), with its
 * own writer thread (group commit) and a pool of reader connections.
 *
 * A submission's id is a 64-bit integer that sorts by time:
 *   ms since epoch << 20 | node << 12 | sequence (12 bits)
 * so inserts append at the end of the primary key, and a keyset page is a
 * range scan. It is the row id inside the process only: the public id is
 * this id and the endpoint's id enciphered together (vault/pubid.h). */
#ifndef INLET_STORE_SUBS_H
#define INLET_STORE_SUBS_H

#include <stddef.h>
#include <stdint.h>

struct arena;
struct substore;

enum sub_status { SUB_INBOX = 0, SUB_SPAM = 1, SUB_TRASH = 2 };

struct sub_row {
	int64_t id;
	int64_t endpoint_id;
	int status;            /* enum sub_status */
	uint32_t key_version;  /* data key that sealed it */
	int nfiles;
	const uint8_t *sealed; /* vault_seal output */
	size_t sealed_len;
	int64_t shard_threshold; /* inserts: the endpoint's move threshold (0: the default) */
};

/* ms of a submission id. */
static inline int64_t sub_id_ms(int64_t id) { return id >> 20; }
/* A fresh id, strictly greater than any this process made before. */
int64_t sub_id_next(void);
/* node (0..255) goes into every id this process makes. */
void sub_id_set_node(unsigned node);

int substore_open(struct substore **out, const char *path, const char *name);
/* Commits what is queued, stops the writer, closes. Accepts NULL. */
void substore_close(struct substore *s);

typedef void (*substore_done_fn)(void *ctx, int rc);
/* Queues the row (copied); done(ctx, rc) runs on the writer thread once
 * the row is durable (rc 0) or has failed. */
void substore_insert(struct substore *s, const struct sub_row *row, substore_done_fn done, void *ctx);

int substore_get(struct substore *s, int64_t endpoint_id, int64_t id, struct arena *a,
		 struct sub_row *out);

struct sub_query {
	int64_t endpoint_id;
	int64_t before_id; /* keyset cursor: rows with id < before_id; 0 = from the newest */
	int64_t min_id;    /* inclusive; 0 = none */
	int64_t max_id;    /* exclusive; 0 = none */
	int status;        /* enum sub_status, or -1 for any */
	size_t limit;
};
/* Newest first. */
int substore_list(struct substore *s, const struct sub_query *q, struct arena *a,
		  struct sub_row **rows, size_t *n);

/* Synchronous writes through the writer (so they never race its batches). */
int substore_set_status(struct substore *s, int64_t endpoint_id, int64_t id, int status);
int substore_delete(struct substore *s, int64_t endpoint_id, int64_t id);
int substore_delete_endpoint(struct substore *s, int64_t endpoint_id);
/* Rows stored for the endpoint, from the counts the writer keeps. */
int substore_count(struct substore *s, int64_t endpoint_id, int64_t *out);

#endif
