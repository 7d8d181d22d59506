/* Clean-up, a slow-lane job run every hour (INLET_RETENTION_EVERY_MS;
 * kind "retention.run"): for each
 * form endpoint, submissions older than its retention_days, and
 * submissions in the trash for more than RETENTION_TRASH_DAYS, are erased
 * with their files. SQLite's secure_delete overwrites the rows' bytes
 * (and they were sealed anyway); the files are unlinked. */
#ifndef INLET_JOBS_RETENTION_H
#define INLET_JOBS_RETENTION_H

#include <stddef.h>

struct app;
struct queue_job;

#define RETENTION_TRASH_DAYS 30

int retention_run(struct app *app, const struct queue_job *job, const char *worker, char *err, size_t errsize,
		int *permanent);

#endif
