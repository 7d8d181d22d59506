/* The job runner: what happens after a submission lands, off the request
 * path, on the durable queue (store/queue.h, DATA/jobs.db).
 *   drainer  moves each submission database's outbox into the queue: one
 *            outbox row ("submission.created") becomes a job per enabled
 *            webhook that takes the event, a notification and an
 *            autoresponse as the endpoint's settings say; idempotency keys
 *            make a drain that is repeated after a crash harmless;
 *   workers  two lanes with threads of their own (fast: webhooks, email;
 *            slow: exports, imports, clean-up), so a long job never delays
 *            a notification. A worker claims a job under a lease, runs its
 *            kind's handler, and completes it, fails it (retried with
 *            backoff and jitter) or buries it (a failure retrying cannot
 *            mend). A worker that dies leaves its lease to run out: the job
 *            is claimed again (at least once). */
#ifndef INLET_JOBS_RUNNER_H
#define INLET_JOBS_RUNNER_H

#include <stddef.h>

struct app;
struct queue;
struct queue_job;
struct runner;

/* A job kind's handler: 0 done; else err says why (one line, no secret)
 * and *permanent tells whether retrying can help (0: retry, 1: dead now,
 * JOB_CANCEL: there is nothing to do it for any more). */
#define JOB_CANCEL 2
typedef int (*job_handler)(struct app *app, const struct queue_job *job, const char *worker, char *err,
			   size_t errsize, int *permanent);

/* Starts the drainer and fast + slow worker threads. */
int runner_start(struct app *app, struct queue *q, unsigned fast, unsigned slow, struct runner **out);
/* Stops taking jobs, waits for the running ones, joins. Accepts NULL. */
void runner_stop(struct runner *r);
/* The outbox has rows: drain now rather than at the next tick. */
void runner_kick(struct runner *r);

/* Webhook attempts before a delivery is dead: with full-jitter backoff
 * capped at an hour, about a day of retries. */
#define RUNNER_WEBHOOK_ATTEMPTS 60
#define RUNNER_MAIL_ATTEMPTS 20

#endif
