/* The "webhook.deliver" job: one attempt to deliver one event to one
 * webhook, logged in its delivery log (store/webhooks.h). */
#ifndef INLET_JOBS_DELIVER_H
#define INLET_JOBS_DELIVER_H

#include <stddef.h>

struct app;
struct queue_job;

/* Payload {"webhook_id","endpoint_id","sub_id","event"[,"delivery"]}:
 * sub_id is the submission, or for issue.created and issue.reopened the
 * event that made or reopened the issue (the body is the issue then). A
 * webhook that is gone or switched off cancels the job (JOB_CANCEL); a
 * submission that is gone ends it (0): there is nothing left to deliver. A 2xx is success; anything else is
 * retried (not *permanent) until the job's attempts run out. */
int deliver_run(struct app *app, const struct queue_job *job, const char *worker, char *err, size_t errsize,
		int *permanent);

#endif
