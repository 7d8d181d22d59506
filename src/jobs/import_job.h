/* Imports as slow-lane jobs ("import.run"): the upload was sealed into the
 * blob store as it arrived (POST …/imports?async=true); the job reads it
 * back through the Vault and feeds the importer, reporting the bytes read
 * as progress, and leaves the import's report as its result. The upload
 * goes once the job is done. */
#ifndef INLET_JOBS_IMPORT_JOB_H
#define INLET_JOBS_IMPORT_JOB_H

#include <stddef.h>

struct app;
struct queue_job;

/* Payload {"endpoint_id","format","upload","size"}. */
int import_job_run(struct app *app, const struct queue_job *job, const char *worker, char *err, size_t errsize,
		   int *permanent);

#endif
