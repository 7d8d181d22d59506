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
		struct sql_stmt *st = queue_stmt(q, S_SCHED_DUE);
		int64_t period = 0, slot, id, changed = 0;
		int lane = -1, rc;

		if (!st)
			return INLET_EDB;
		sql_bind_int64(st, 1, now);
		rc = sql_step(st);
		if (rc == SQL_ROW) {
			size_t nlen = 0, klen = 0;
			const char *nm = sql_column_text(st, 0, &nlen);
			const char *kd = sql_column_text(st, 2, &klen);

			lane = queue_col_name(st, 1, queue_lane_names, QUEUE_NLANES);
			period = sql_column_int64(st, 3);
			rc = INLET_EDB; /* unless the row holds what queue_schedule checked */
			if (nm && kd && nlen <= QUEUE_KIND_MAX && klen <= QUEUE_KIND_MAX) {
				memcpy(name, nm, nlen);
				name[nlen] = 0;
				memcpy(kind, kd, klen);
				kind[klen] = 0;
				if (lane >= 0 && period > 0 && !queue_check_name(name) && !queue_check_name(kind))
					rc = SQL_ROW;
			}
		}
		sql_reset(st);
		if (rc == SQL_DONE)
			return 0;
		if (rc != SQL_ROW)
			return rc;
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
		sql_bind_int64(st, 2, slot + period);
		if ((rc = queue_run(st, &changed)))
			return rc;
		/* Zero would pick the same row forever. (Two nodes ticking at once
		 * on PostgreSQL both move it to the same slot, and both insert the
		 * slot's job under one idempotency key: one job.) */
		if (changed != 1)
			return INLET_EDB;
	}
}

int queue_schedule(struct queue *q, const char *name, enum queue_lane lane, const char *kind,
		   int64_t period_ms, int64_t now)
{
	struct queue_hooks h;
	struct sql_stmt *st;
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
	sql_bind_int64(st, 4, period_ms);
	sql_bind_int64(st, 5, now - now % period_ms);
	if ((rc = queue_run(st, NULL)))
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
	struct sql_stmt *st;
	int64_t changed = 0;
	int rc;

	if ((rc = queue_check_name(name)))
		return rc;
	pthread_mutex_lock(&q->lock);
	if (!(st = queue_stmt(q, S_SCHED_DEL))) {
		rc = INLET_EDB;
		goto out;
	}
	queue_bind_text(st, 1, name);
	if ((rc = queue_run(st, &changed)) == 0 && changed == 0)
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
