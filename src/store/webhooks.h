/* Webhooks and their delivery log, in the tenant store. A webhook belongs
 * to an endpoint (and so to an account); every query names the account,
 * or works by internal id for the job runner. */
#ifndef INLET_STORE_WEBHOOKS_H
#define INLET_STORE_WEBHOOKS_H

#include <stddef.h>
#include <stdint.h>

struct arena;
struct tenant;

/* Straight failures after which a webhook is switched off. */
#define WEBHOOK_DISABLE_AFTER 50

struct webhook {
	int64_t id, account_id, endpoint_id;
	const char *pid;            /* "wh_..." */
	const char *url;
	const char *events;         /* JSON array text: ["submission.created"] */
	const char *format;         /* json | slack | discord */
	const uint8_t *secret;      /* sealed with the endpoint's data key */
	size_t secret_len;
	uint32_t key_version;
	int enabled;
	const char *disabled_reason; /* "" unless switched off by failures */
	int failures;               /* straight failures so far */
	int64_t created_ms;
};

struct delivery {
	int64_t id, webhook_id, ref;
	const char *pid;            /* "att_...": this attempt */
	const char *event;          /* "submission.created" */
	const char *delivery;       /* Inlet-Delivery: the same for every attempt */
	int attempt;
	int status;                 /* HTTP status, 0 when none came */
	int64_t latency_ms;
	const char *response;       /* the first bytes of the answer */
	const char *error;          /* "" on success */
	int64_t created_ms;
};

int webhooks_create(struct tenant *t, const struct webhook *w);
/* The endpoint's webhooks (account-scoped), oldest first. */
int webhooks_list(struct tenant *t, int64_t account_id, int64_t endpoint_id, struct arena *a,
		  struct webhook **out, size_t *n);
/* By public id; account_id 0 means any (the runner). */
int webhooks_get(struct tenant *t, int64_t account_id, const char *pid, struct arena *a, struct webhook *out);
int webhooks_by_id(struct tenant *t, int64_t id, struct arena *a, struct webhook *out);
/* Changes what is not NULL / not -1; enabling again clears the failures. */
int webhooks_update(struct tenant *t, int64_t account_id, const char *pid, const char *url, const char *events,
		    const char *format, int enabled);
int webhooks_delete(struct tenant *t, int64_t account_id, const char *pid);
/* Enabled webhooks of the endpoint that take event. */
int webhooks_for_event(struct tenant *t, int64_t endpoint_id, const char *event, struct arena *a,
		       struct webhook **out, size_t *n);
/* 1 when the endpoint has an enabled webhook. */
int webhooks_any(struct tenant *t, int64_t endpoint_id, int *any);
/* Logs an attempt and counts it: a success clears the failures, the
 * WEBHOOK_DISABLE_AFTER-th straight failure switches the webhook off
 * (*disabled = 1) with reason. d->pid is made here. */
int webhooks_record(struct tenant *t, struct delivery *d, int ok, const char *reason, int *disabled);
/* The webhook's deliveries, newest first, ids < before (0: from the newest). */
int webhooks_deliveries(struct tenant *t, int64_t webhook_id, int64_t before, size_t limit, struct arena *a,
			struct delivery **out, size_t *n);
/* One delivery by public id, with its webhook (account-scoped). */
int webhooks_delivery_get(struct tenant *t, int64_t account_id, const char *pid, struct arena *a,
			  struct delivery *out, struct webhook *wh);

#endif
