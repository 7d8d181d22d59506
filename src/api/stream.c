/* GET /api/v1/stream: the account's live updates as Server-Sent Events,
 * for the dashboard (EventSource). Each event is
 *   id: N\nevent: TYPE\ndata: JSON\n\n
 * with the ids of the live bus (app/live.h). The client resumes with
 * Last-Event-ID (or ?last_event_id=): the missed events follow, or
 * "event: reset" when they are no longer held, and the client reloads its
 * lists. Events name rows (public ids), never their contents: the
 * dashboard reads those through the API, under the same authorization.
 *
 * The answer is long-lived without holding a worker thread
 * (http_respond_live): the bus wakes the connection when an event of the
 * account arrives or a keep-alive is due, and stream_read hands out what
 * is there without ever waiting. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "app/app.h"
#include "app/live.h"
#include "core/alloc.h"
#include "core/err.h"
#include "http/http.h"
#include "store/tenant.h"

/* One event's frame: the fields around the bus's capped type and data. */
#define FRAME_MAX (LIVE_TYPE_MAX + LIVE_DATA_MAX + 64)

/* A stream's state: made by the handler, then owned by the answer
 * (stream_free runs when the request is done). Touched only by the
 * connection's worker thread; the bus calls stream_wake, which touches
 * only the HTTP handle. */
struct stream {
	struct live_sub *sub;
	char out[FRAME_MAX];   /* the frame being sent */
	size_t len, off;       /* its length; bytes of it already given */
};

static void stream_wake(void *arg)
{
	http_live_wake(arg);
}

/* The next frame into st->out; 0 when there is nothing now. */
static int refill(struct stream *st)
{
	struct live_event ev;
	int n;

	switch (live_next(st->sub, &ev)) {
	case LIVE_EVENT:
	case LIVE_RESET:
		n = snprintf(st->out, sizeof(st->out), "id: %llu\nevent: %s\ndata: %s\n\n",
			     (unsigned long long)ev.id, ev.type, ev.data);
		break;
	case LIVE_PING:
		n = snprintf(st->out, sizeof(st->out), ": ping\n\n");
		break;
	default:
		return 0;
	}
	st->len = n > 0 && (size_t)n < sizeof(st->out) ? (size_t)n : 0;
	st->off = 0;
	return 1;
}

/* http_live_fn: as many whole or part frames as fit, never waiting. */
static long stream_read(void *ctx, char *buf, size_t max)
{
	struct stream *st = ctx;
	size_t total = 0;

	while (total < max) {
		size_t n;

		if (st->off == st->len && !refill(st))
			break;
		n = st->len - st->off < max - total ? st->len - st->off : max - total;
		memcpy(buf + total, st->out + st->off, n);
		st->off += n;
		total += n;
	}
	return (long)total;
}

static void stream_free(void *ctx)
{
	struct stream *st = ctx;

	/* First: once it returns the bus never wakes this answer again. */
	live_unsubscribe(st->sub);
	free(st);
}

/* Last-Event-ID, else ?last_event_id=: *have 0 when neither is sent. */
static int resume_point(struct http_req *r, int *have, uint64_t *id)
{
	const char *v = http_header(r, "Last-Event-ID");
	char *end;

	if (!v || !*v)
		v = http_query(r, "last_event_id");
	*have = 0;
	if (!v || !*v)
		return 0;
	if (strlen(v) > 20 || strspn(v, "0123456789") != strlen(v)) {
		http_error(r, 400, "invalid", "Last-Event-ID must be an event id this stream sent.");
		return INLET_EINVAL;
	}
	*id = strtoull(v, &end, 10);
	*have = 1;
	return 0;
}

void api_stream(struct http_req *r)
{
	struct app *app = http_app(r);
	struct stream *st = NULL;
	struct live_sub *sub = NULL;
	struct http_live *hl;
	struct endpoint e;
	const char *ep = http_query(r, "endpoint");
	uint64_t last_id = 0;
	int64_t aid;
	int resume, rc;

	if (api_auth(r, &aid) || resume_point(r, &resume, &last_id))
		return;
	if (ep && *ep) {
		rc = tenant_endpoint_get(app->tenant, aid, ep, http_arena(r), &e);
		if (rc == INLET_ENOTFOUND)
			http_error(r, 404, "not_found", "No such endpoint.");
		else if (rc)
			http_error_rc(r, rc);
		if (rc)
			return;
		ep = e.pid;
	} else {
		ep = NULL;
	}
	rc = live_subscribe(app->live, aid, ep, resume, last_id, &sub);
	if (rc == INLET_ERATELIMIT) {
		char msg[120];

		snprintf(msg, sizeof(msg), "This account has %u streams open already; close one first.",
			 app->cfg.streams_per_account);
		http_error(r, 429, "too_many_streams", msg);
		return;
	}
	if (rc) {
		http_error_rc(r, rc);
		return;
	}
	st = xcalloc(1, sizeof(*st));
	st->sub = sub;
	/* The first bytes go out at once (they carry the headers): how long
	 * the client waits before it reconnects, a comment that makes proxies
	 * flush, and unless resuming, the id of the head, so that a client
	 * that reconnects before any event still resumes from here. */
	if (resume)
		st->len = (size_t)snprintf(st->out, sizeof(st->out), ": inlet live updates\nretry: 3000\n\n");
	else
		st->len = (size_t)snprintf(st->out, sizeof(st->out), ": inlet live updates\nretry: 3000\nid: %llu\n\n",
					   (unsigned long long)live_sub_start(sub));
	hl = http_respond_live(r, 200, "text/event-stream; charset=utf-8", stream_read, st, stream_free);
	http_add_header(r, "Cache-Control", "no-cache");
	/* nginx: pass each event on as it comes instead of buffering. */
	http_add_header(r, "X-Accel-Buffering", "no");
	live_sub_waker(sub, stream_wake, hl);
}
