/* The job queue's periodic schedules (queue_schedule, queue_tick): see
 * store/queue.h. */
#include "store/queue.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "store/queue_int.h"

/* Inside a transaction: enqueues the job of every due schedule and moves
 * each to its next slot. *lanes gets a bit per lane that got a job. */
static int tick_locked(struct queue *q, int64_t now, unsigned *lanes)
{
	for (;;) {
		char name[QUEUE_KIND_MAX + 1], kind[QUEUE_KIND_MAX + 1];
		char key[QUEUE_KIND_MAX + 32];
		struct queue_spec spec;
		sqlite3_stmt *st = queue_stmt(q, S_SCHED_DUE);
		int64_t period = 0, slot, id;
		int lane = -1, rc;

		if (!st)
			return INLET_EDB;
		sqlite3_bind_int64(st, 1, now);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			const unsigned char *nm = sqlite3_column_text(st, 0);
			const unsigned char *kd = sqlite3_column_text(st, 2);

			size_t nlen = (size_t)sqlite3_column_bytes(st, 0);
			size_t klen = (size_t)sqlite3_column_bytes(st, 2);

			lane = queue_col_name(st, 1, queue_lane_names, QUEUE_NLANES);
			period = sqlite3_column_int64(st, 3);
			rc = INLET_EDB; /* unless the row holds what queue_schedule checked */
			if (nm && kd && nlen <= QUEUE_KIND_MAX && klen <= QUEUE_KIND_MAX) {
				memcpy(name, nm, nlen);
				name[nlen] = 0;
				memcpy(kind, kd, klen);
				kind[klen] = 0;
				if (lane >= 0 && period > 0 && !queue_check_name(name) && !queue_check_name(kind))
					rc = SQLITE_ROW;
			}
		}
		sqlite3_reset(st);
		if (rc == SQLITE_DONE)
			return 0;
		if (rc != SQLITE_ROW)
			return rc < 0 ? rc : INLET_EDB;
		slot = now - now % period;
		snprintf(key, sizeof(key), "%s:%lld", name, (long long)slot);
		memset(&spec, 0, sizeof(spec));
		spec.lane = (enum queue_lane)lane;
		spec.kind = kind;
		spec.idempotency_key = key;
		spec.run_at_ms = now;
		if ((rc = queue_insert_job(q, &spec, now, &id)))
			return rc;
		*lanes |= 1u << lane;
		if (!(st = queue_stmt(q, S_SCHED_NEXT)))
			return INLET_EDB;
		queue_bind_text(st, 1, name);
		sqlite3_bind_int64(st, 2, slot + period);
		if ((rc = queue_run(q, st)))
			return rc;
		if (sqlite3_changes(q->db) != 1)
			return INLET_EDB; /* would pick the same row forever */
	}
}

int queue_schedule(struct queue *q, const char *name, enum queue_lane lane, const char *kind,
		   int64_t period_ms, int64_t now)
{
	struct queue_hooks h;
	sqlite3_stmt *st;
	unsigned lanes = 0;
	int rc;

	if ((rc = queue_check_name(name)) || (rc = queue_check_name(kind)) || (rc = queue_check_lane((int)lane)))
		return rc;
	if (period_ms <= 0 || !TIME_OK(period_ms) || !TIME_OK(now))
		return INLET_EINVAL;
	pthread_mutex_lock(&q->lock);
	h = q->hooks;
	if ((rc = queue_tx_begin(q)))
		goto out;
	if (!(st = queue_stmt(q, S_SCHED_PUT))) {
		rc = INLET_EDB;
		goto end;
	}
	queue_bind_text(st, 1, name);
	queue_bind_text(st, 2, queue_lane_names[lane]);
	queue_bind_text(st, 3, kind);
	sqlite3_bind_int64(st, 4, period_ms);
	sqlite3_bind_int64(st, 5, now - now % period_ms);
	if ((rc = queue_run(q, st)))
		goto end;
	rc = tick_locked(q, now, &lanes);
end:
	rc = queue_tx_end(q, rc);
out:
	pthread_mutex_unlock(&q->lock);
	if (rc == 0)
		queue_notify_lanes(&h, lanes);
	return rc;
}

int queue_unschedule(struct queue *q, const char *name)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = queue_check_name(name)))
		return rc;
	pthread_mutex_lock(&q->lock);
	if (!(st = queue_stmt(q, S_SCHED_DEL))) {
		rc = INLET_EDB;
		goto out;
	}
	queue_bind_text(st, 1, name);
	if ((rc = queue_run(q, st)) == 0 && sqlite3_changes(q->db) == 0)
		rc = INLET_ENOTFOUND;
out:
	pthread_mutex_unlock(&q->lock);
	return rc;
}

int queue_tick(struct queue *q, int64_t now)
{
	struct queue_hooks h;
	unsigned lanes = 0;
	int rc;

	if (!TIME_OK(now))
		return INLET_EINVAL;
	pthread_mutex_lock(&q->lock);
	h = q->hooks;
	if ((rc = queue_tx_begin(q)))
		goto out;
	rc = queue_tx_end(q, tick_locked(q, now, &lanes));
out:
	pthread_mutex_unlock(&q->lock);
	if (rc == 0)
		queue_notify_lanes(&h, lanes);
	return rc;
}
