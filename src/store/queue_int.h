/* Inside the job queue: shared by store/queue.c (jobs) and
 * store/queue_schedule.c (periodic schedules). Every helper runs with the
 * queue's lock held. */
#ifndef INLET_STORE_QUEUE_INT_H
#define INLET_STORE_QUEUE_INT_H

#include <pthread.h>
#include <stdint.h>

#include "store/queue.h"
#include "store/sql.h"

/* Times and periods the caller passes: far from overflow when summed. */
#define TIME_OK(t) ((t) >= 0 && (t) <= INT64_MAX / 4)

/* Every statement the queue runs, prepared once on first use. */
enum slot {
	S_BEGIN, S_COMMIT, S_ROLLBACK,
	S_IDEM, S_INSERT,
	S_EXPIRED, S_DUE, S_TAKE, S_BURY,
	S_GET, S_OWNER, S_EXISTS,
	S_DONE, S_REQUEUE, S_EXTEND, S_RETRY, S_CANCEL,
	S_NOTE, S_RELEASE, S_RELEASE_OWNER,
	S_LIST_STATE, S_LIST_ANY, S_NEXT, S_PURGE,
	S_SCHED_PUT, S_SCHED_DUE, S_SCHED_NEXT, S_SCHED_DEL,
	S__COUNT
};

struct queue {
	pthread_mutex_t lock;       /* held for every call; guards all below */
	struct sql_conn *db;        /* the one connection: a SQLite file or a
				     * PostgreSQL schema */
	int pg;                     /* 1 when db is PostgreSQL (row locks) */
	struct sql_stmt *st[S__COUNT]; /* prepared on first use, finalized on close */
	struct queue_hooks hooks;   /* NULL members: the defaults */
};

/* Stored lane names, indexed by enum queue_lane. */
extern const char *const queue_lane_names[QUEUE_NLANES];

/* Kinds and schedule names: 1..QUEUE_KIND_MAX of [A-Za-z0-9._:-]. */
int queue_check_name(const char *s);
int queue_check_lane(int lane);

/* The cached statement for slot, reset; NULL if it cannot be prepared
 * (logged). Bindings survive a reset: callers bind every parameter. */
struct sql_stmt *queue_stmt(struct queue *q, enum slot s);
/* Steps a statement to its end, then resets it; *changes (optional) gets
 * the rows it changed. */
int queue_run(struct sql_stmt *st, int64_t *changes);
int queue_tx_begin(struct queue *q);
/* Commits when rc is 0, else rolls back; returns the outcome. */
int queue_tx_end(struct queue *q, int rc);
/* Binds s at i, or NULL when s is NULL. */
void queue_bind_text(struct sql_stmt *st, int i, const char *s);
/* The text column i as an index of names; -1 when unknown. */
int queue_col_name(struct sql_stmt *st, int i, const char *const *names, int n);

/* Inside a transaction: the job of (kind, key) if there is one, else a new
 * row. */
int queue_insert_job(struct queue *q, const struct queue_spec *s, int64_t now, int64_t *id);
/* Calls h->notify for every lane whose bit is set in lanes. */
void queue_notify_lanes(const struct queue_hooks *h, unsigned lanes);

#endif
