/* What every events route shares once a request is understood: group,
 * compress, seal, hand to the endpoint's writer as one batch, and answer
 * only after the commit. No queue on the path.
 *
 *   evp_begin       per request: the endpoint's data key, the visitor's
 *                   session of the day, the arrival time
 *   evp_add_event   one event: fingerprint (keyed), title and culprit,
 *                   the stored record (zstd with the endpoint's
 *                   dictionary, then sealed), the sealed head
 *   evp_add_session / evp_add_aggregate   session figures
 *   evp_commit      parks the request; done() answers on the writer
 *                   thread once the batch is durable (or failed) */
#ifndef INLET_INGEST_EVPIPE_H
#define INLET_INGEST_EVPIPE_H

#include <stddef.h>
#include <stdint.h>

#include "events/fingerprint.h"
#include "vault/pubid.h"

struct http_req;
struct ep_entry;
struct json_object;
struct evp;
struct arena;
struct vault_key;

struct evp_event {
	const char *kind;            /* "sentry", "trackx" or "report" */
	struct json_object *data;    /* the event as sent; not consumed */
	const char *raw;             /* the same as the JSON text that arrived (kept
				      * as is, no re-serialization), or NULL */
	size_t raw_len;
	struct json_object *group;   /* what grouping reads, NULL: data */
	enum fp_format fmt;
	const char *title;           /* NULL: grouping's title */
	const char *uri, *release, *environment, *level, *event_id; /* NULL or "" if none */
	struct json_object *attachments; /* array of {name,size,content_type,blob}, or NULL */
	int64_t pre_id;              /* an id already taken (attachments named by it), or 0 */
};

/* origin: the page's origin ("" if none). INLET_E* if the data key is
 * unavailable. The state lives in the request's arena. */
int evp_begin(struct http_req *r, struct ep_entry *ep, const char *origin, struct evp **out);
/* The event's row id and public id ("evt_..."), taken now. */
int64_t evp_new_id(struct evp *p, char pid[PUBID_MAX]);
/* Prepares one event; pid (may be NULL) gets its public id. */
int evp_add_event(struct evp *p, const struct evp_event *e, char pid[PUBID_MAX]);
/* A session seen: sid NULL means the request's visitor. */
void evp_add_session(struct evp *p, const char *sid, int64_t started_ms, int init, int errored,
		     int crashed);
void evp_add_aggregate(struct evp *p, int64_t started_ms, int64_t sessions, int64_t errored,
		       int64_t crashed);
size_t evp_events(const struct evp *p);
/* Session items and aggregates added. */
size_t evp_has_sessions(const struct evp *p);
/* The request's arena, and the endpoint's data key (for attachments). */
struct arena *evp_arena(struct evp *p);
const struct vault_key *evp_key(const struct evp *p);
/* 1 when the event i was stored (its issue was not ignored); valid in done. */
int evp_stored(const struct evp *p, size_t i);

typedef void (*evp_done_fn)(struct http_req *r, struct evp *p, int rc);
/* Parks r and submits; done runs once (possibly before this returns) and
 * must answer and http_resume(r). */
void evp_commit(struct evp *p, evp_done_fn done);

#endif
