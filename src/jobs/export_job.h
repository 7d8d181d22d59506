/* Large exports as slow-lane jobs ("export.run"): the export is written,
 * sealed with the endpoint's data key, into the blob store as the file of
 * the export's id, for the dashboard (or the API) to download later; the
 * job reports its rows as it goes and leaves the file's description as
 * its result. */
#ifndef INLET_JOBS_EXPORT_JOB_H
#define INLET_JOBS_EXPORT_JOB_H

#include <stddef.h>
#include <stdint.h>

struct app;
struct queue_job;

/* Payload {"endpoint_id","format","min_id","max_id","status"}. The file is
 * blob "<endpoint pid>/<export id>.0", sealed under record id export id
 * (pubid "exp_" of the job id and the endpoint). Result
 * {"size","rows","unreadable","name","content_type"}. */
int export_job_run(struct app *app, const struct queue_job *job, const char *worker, char *err, size_t errsize,
		   int *permanent);

#endif
