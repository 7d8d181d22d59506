#include "jobs/retention.h"

#include <stdio.h>
#include <string.h>

#include "app/app.h"
#include "blob/blob.h"
#include "core/arena.h"
#include "core/enc.h"
#include "core/err.h"
#include "core/log.h"
#include "endpoint/settings.h"
#include "store/queue.h"
#include "store/subs.h"
#include "store/tenant.h"
#include "vault/pubid.h"

#define BATCH 500
#define DAY_MS 86400000LL

/* Erases the endpoint's due rows, a batch at a time: the row first (so
 * nothing lists or opens it any more), then its files. A crash between
 * leaves sealed files no row names; unreadable, and never listed. */
static int clean_endpoint(struct app *app, const struct endpoint_brief *e, int64_t now, int64_t *erased)
{
	struct substore *s = app_subs(app, e->id);
	int64_t before = e->retention_days ? (now - (int64_t)e->retention_days * DAY_MS) << 20 : 0;
	int64_t trash_before = now - RETENTION_TRASH_DAYS * DAY_MS;
	int rc = 0;

	for (;;) {
		struct arena *a = arena_create(1 << 14);
		struct sub_row *rows;
		size_t n = 0;

		rc = substore_expired(s, e->id, before, trash_before, BATCH, a, &rows, &n);
		for (size_t i = 0; !rc && i < n; i++) {
			char pid[PUBID_MAX], key[200];

			if ((rc = substore_delete(s, e->id, rows[i].id)) == INLET_ENOTFOUND)
				rc = 0; /* erased meanwhile by the API */
			pubid_encode(app->ids, "sub_", rows[i].id, e->id, pid);
			for (int f = 0; !rc && f < rows[i].nfiles; f++) {
				snprintf(key, sizeof(key), "%s/%s.%d", e->pid, pid, f);
				app->blobs->ops->remove(app->blobs, key);
			}
			if (!rc)
				(*erased)++;
		}
		arena_destroy(a);
		if (rc || n < BATCH)
			return rc;
	}
}

int retention_run(struct app *app, const struct queue_job *job, const char *worker, char *err, size_t errsize,
		  int *permanent)
{
	struct arena *a = arena_create(1 << 14);
	struct endpoint_brief *eps;
	size_t n = 0;
	int64_t now = now_ms(), erased = 0;
	int rc;

	(void)job;
	(void)worker;
	*permanent = 0;
	if ((rc = tenant_endpoints_brief(app->tenant, a, &eps, &n))) {
		snprintf(err, errsize, "cannot list endpoints: %s", inlet_strerror(rc));
		goto out;
	}
	for (size_t i = 0; i < n && !rc; i++)
		if (strcmp(eps[i].kind, "form") == 0)
			rc = clean_endpoint(app, &eps[i], now, &erased);
	if (rc)
		snprintf(err, errsize, "clean-up stopped: %s", inlet_strerror(rc));
	if (erased)
		log_msg(LOG_INFO, "clean-up: %lld submissions erased (retention, trash)", (long long)erased);
out:
	arena_destroy(a);
	return rc;
}
