/* The invitation email as a fast-lane job ("mail.invite"). The link is the
 * capability, so it never lies in DATA/jobs.db in clear: the payload holds
 * the invitation's row id and public id, and the link sealed in a vault box
 * bound to that public id. Each attempt reads the invitation fresh, so one
 * revoked, replaced, accepted or expired while the job waited is never
 * mailed (the job is cancelled). */
#ifndef INLET_JOBS_INVITE_JOB_H
#define INLET_JOBS_INVITE_JOB_H

#include <stddef.h>
#include <stdint.h>

struct app;
struct invite;
struct queue_job;

/* Queues the email of invitation v with its link url (the caller wipes
 * url afterwards; nothing here keeps it in clear). One job per invitation
 * (idempotency key "invite:<pid>"). INLET_EINVAL when email is off. */
int invite_job_enqueue(struct app *app, const struct invite *v, const char *url);

/* The job handler (jobs/runner.h's contract). Payload
 * {"invite_id","invite","link"}. */
int invite_job_run(struct app *app, const struct queue_job *job, const char *worker, char *err, size_t errsize,
		   int *permanent);

#endif
