/* The email job: one notification to an endpoint's "notify" list, or one
 * autoresponse to a submitter, for one stored submission. The queue's
 * worker calls notify_run() once per attempt and decides from its answer
 * whether the job is done, dead or due again; nothing here retries,
 * sleeps or keeps state between calls.
 *
 * Everything is read fresh at each attempt (the endpoint, its settings,
 * the submission), so a setting changed or a submission erased while the
 * job waited is honoured: an erased submission is never mailed. */
#ifndef INLET_JOBS_NOTIFY_H
#define INLET_JOBS_NOTIFY_H

#include <stddef.h>
#include <stdint.h>

#include "jobs/mail.h"

struct app;

/* Sends the notification (MAIL_NOTIFICATION) or the autoresponse
 * (MAIL_AUTORESPONSE) for submission sub_id of endpoint endpoint_id,
 * composed by jobs/mail.h from the submission as the API shows it and sent
 * with jobs/smtp.h under app->smtp (app->cfg.public_url is the base of the
 * dashboard links). message_id is the job's idempotency key
 * ("notify:<sub_id>"): it becomes the Message-ID's local part (characters
 * outside [A-Za-z0-9._-] as "."), so every attempt of one job carries the
 * same Message-ID; NULL: a random one.
 *
 * Returns 0 when the message was accepted (also when only some recipients
 * were, which is logged), and when there is nothing to send: the endpoint
 * or the submission no longer exists, the submission is spam, the notify
 * list is empty, the autoresponse is disabled, or the submitter left no
 * valid address (or the sender's own). Otherwise fills err (one line for
 * the job log: no field values, no credentials) and returns an INLET_E*
 * code with *permanent = 1 when retrying cannot help (SMTP not configured,
 * a 5xx reply, a message that cannot be composed, unreadable settings or a
 * record that fails its integrity check) or 0 when it may (a 4xx reply, no
 * connection, a timeout, a database error). err may be NULL when errsize
 * is 0. */
int notify_run(struct app *app, int64_t endpoint_id, int64_t sub_id, enum mail_kind kind,
	       const char *message_id, char *err, size_t errsize, int *permanent);

#endif
