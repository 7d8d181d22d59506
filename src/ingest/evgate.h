/* The door of every events route (TrackX and Sentry): the endpoint by
 * key, its kind, the page's origin, whether it is active, its rate limit;
 * then the answers: JSON errors, CORS, and a count of every refusal per
 * day, endpoint and reason. */
#ifndef INLET_INGEST_EVGATE_H
#define INLET_INGEST_EVGATE_H

#include <stddef.h>

struct http_req;
struct ep_entry;

struct evgate {
	struct ep_entry *ep;        /* reference, released with the arena */
	char origin[300];           /* from Origin, else Referer; "" if none */
	int fail_status;            /* the first failure wins */
	const char *fail_code, *fail_msg;
	unsigned retry_after;       /* seconds, with 429 */
	int sentry;                 /* answer 429 with X-Sentry-Rate-Limits */
};

#define EVGATE_SENTRY 1u /* answer in Sentry's shape (429 with X-Sentry-Rate-Limits) */
#define EVGATE_FORMS 2u  /* a form's key is accepted too (view pings from inlet.js) */

/* Runs the checks for key (from the path or the credentials); the state
 * lives in the request's arena. A failure is recorded, not answered. */
struct evgate *evgate_open(struct http_req *r, const char *key, unsigned flags);
/* A gate with no endpoint yet (a refusal before the key is known). */
struct evgate *evgate_new(struct http_req *r, int sentry);
/* Records a failure (the first one wins). */
void evgate_fail(struct evgate *g, int status, const char *code, const char *msg);
/* Answers the recorded failure: JSON error, CORS, Retry-After; counts it. */
void evgate_respond_failure(struct http_req *r, struct evgate *g);
/* Access-Control-Allow-Origin for an allowed page origin. */
void evgate_cors(struct http_req *r, struct evgate *g);
/* Counts an accepted item under name ("events", "pings", "reports"...). */
void evgate_count(struct http_req *r, struct evgate *g, const char *name, long n);
/* OPTIONS: the preflight of an events route for key. */
void evgate_preflight(struct http_req *r, const char *key, const char *methods);

#endif
