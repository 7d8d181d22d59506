/* The request and response API that handlers see. Only src/http/ knows
 * libmicrohttpd; handlers work with struct http_req.
 *
 * Lifecycle of one request (all on one MHD worker thread unless suspended):
 *   1. headers arrive: the router picks a route, the request gets its arena,
 *      and route->begin (if any) runs; it may answer early (http_error etc.).
 *   2. body chunks: route->body (if any) consumes them as they stream, else
 *      they collect in a buffer capped at route->body_max (over it: 413).
 *   3. end of body: route->handle runs. It answers now (http_respond*), or
 *      calls http_suspend() and hands the request to another thread, which
 *      answers later and calls http_resume(). Either way exactly one answer.
 *   4. the answer is queued only after the body's last call (answering on the
 *      first call makes MHD close the connection); the arena is freed when
 *      MHD reports the request complete. */
#ifndef INLET_HTTP_HTTP_H
#define INLET_HTTP_HTTP_H

#include <stddef.h>
#include <stdint.h>

struct arena;
struct json_object;
struct http_req;

/* Route flags. */
#define ROUTE_API 1u /* a management route: JSON errors, counted as API */
#define ROUTE_MEMBER 4u  /* a change a member may make (submissions, issues); other
			  * changes need an admin, reads a viewer (api_auth) */
#define ROUTE_OWN_413 2u /* handle() runs for an oversized body too (it checks
			  * http_body_too_big and answers in its own shape) */
#define ROUTE_SELF 8u    /* a change any member may make to what is their own
			  * (leaving an account): the handler checks the role */

struct route {
	const char *method;  /* "GET", "POST", ... */
	const char *pattern; /* "/api/v1/endpoints/{id}"; {name} matches one segment */
	void (*handle)(struct http_req *r);
	/* Optional: runs when headers are complete, before any body byte. */
	void (*begin)(struct http_req *r);
	/* Optional: consumes the body as it streams; a non-zero return stops
	 * delivery (the rest of the body is read and dropped). */
	int (*body)(struct http_req *r, const char *data, size_t len);
	size_t body_max;     /* bytes; 0 means the server default */
	unsigned flags;
	const char *summary; /* one line, for `inlet routes` and the docs */
};

/* Request accessors; strings live as long as the request. */
const char *http_method(const struct http_req *r);
const char *http_path(const struct http_req *r);
const struct route *http_route(const struct http_req *r);
/* Path parameter by name ({id}), already percent-decoded; NULL if absent. */
const char *http_param(const struct http_req *r, const char *name);
/* Query string argument (decoded), header (case-insensitive), or NULL. */
const char *http_query(const struct http_req *r, const char *name);
const char *http_header(const struct http_req *r, const char *name);
/* The collected body (routes without a body hook); NUL-terminated. */
const char *http_body(const struct http_req *r, size_t *len);
/* 1 when the body exceeded its cap and was dropped. */
int http_body_too_big(const struct http_req *r);
struct arena *http_arena(struct http_req *r);
/* Client IP as text ("127.0.0.1", "::1"). */
const char *http_client_ip(const struct http_req *r);
/* The application object given to http_server_start. */
void *http_app(const struct http_req *r);
/* Per-request slot for the route's own state (arena-allocated by it). */
void *http_state(const struct http_req *r);
void http_set_state(struct http_req *r, void *state);
/* Request id (for logs and error bodies). */
const char *http_request_id(const struct http_req *r);
/* 1 once an answer has been set. */
int http_answered(const struct http_req *r);
/* 1 once the server is shutting down: work for a suspended request should
 * stop and answer, as the drain waits for it. */
int http_draining(const struct http_req *r);

/* Answers. Each sets the one answer of the request; later calls are
 * ignored (and asserted against in debug builds). body is copied. */
void http_respond(struct http_req *r, int status, const char *content_type,
		  const void *body, size_t len);
/* Serializes obj (not consumed: the caller still owns it). */
void http_respond_json(struct http_req *r, int status, struct json_object *obj);
/* {"error":{"code":code,"message":message}} */
void http_error(struct http_req *r, int status, const char *code, const char *message);
/* Maps an INLET_E* code to its status and JSON error. */
void http_error_rc(struct http_req *r, int rc);
void http_respond_empty(struct http_req *r, int status);
/* Streams a body of known size from fn, called until it has given size
 * bytes (return bytes written into buf, or -1 on error: the connection is
 * then cut). free_fn(ctx) runs when the response is done. */
typedef long (*http_reader_fn)(void *ctx, uint64_t pos, char *buf, size_t max);
void http_respond_stream(struct http_req *r, int status, const char *content_type,
			 uint64_t size, http_reader_fn fn, void *ctx, void (*free_fn)(void *));
/* Streams a body of unknown size (chunked; an HTTP/1.0 client gets it up
 * to a close). fn returns bytes written (> 0), 0 at the end, or -1 on
 * error: the last chunk is then never sent, so the client sees the answer
 * cut. fn must block until it has bytes: a 0 means the end. free_fn(ctx)
 * runs when the response is done, also when the client left half-way. */
void http_respond_chunked(struct http_req *r, int status, const char *content_type,
			  http_reader_fn fn, void *ctx, void (*free_fn)(void *));
/* A long-lived answer of unknown length (Server-Sent Events) that holds no
 * worker thread while it has nothing to say. fn runs on the connection's
 * worker thread whenever the socket can take bytes: it writes up to max
 * bytes into buf and returns how many (> 0), 0 when it has nothing now, or
 * -1 to end the answer (the last chunk is sent). fn must never block. After
 * a 0 the connection is parked (suspended: no thread waits for it, its idle
 * timeout is off, a client that leaves is noticed at the next write) until
 * http_live_wake(); a wake that arrives while fn runs is not lost, fn is
 * called again. The first call should give bytes: the status line and
 * headers go out with the first chunk. When the server drains, the answer
 * ends at once, parked or not (fn is not called again). free_fn(ctx) runs
 * when the request is done, on the worker thread, also when the client
 * left; once it has returned, no thread may call http_live_wake on the
 * handle any more (so free_fn must first stop whatever wakes it). The
 * handle is valid until then. */
struct http_live;
typedef long (*http_live_fn)(void *ctx, char *buf, size_t max);
struct http_live *http_respond_live(struct http_req *r, int status, const char *content_type,
				    http_live_fn fn, void *ctx, void (*free_fn)(void *));
/* Any thread: fn may have bytes now. Resumes the connection when it is
 * parked, else marks it so that fn is called again before it parks. */
void http_live_wake(struct http_live *l);
/* Adds a response header (copied); call before or after the respond call,
 * but before the request finishes. */
void http_add_header(struct http_req *r, const char *name, const char *value);

/* Parks the request: the caller promises that another thread will set an
 * answer and call http_resume() exactly once. Call before handing r over. */
void http_suspend(struct http_req *r);
void http_resume(struct http_req *r);

#endif
