/* libmicrohttpd glue: the only file that includes microhttpd.h. */
#include "http/server.h"

#include <arpa/inet.h>
#include <assert.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "core/alloc.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/enc.h"
#include "core/err.h"
#include "core/log.h"
#include "core/metrics.h"
#include "http/http.h"

#define MAX_PARAMS 4

struct http_server {
	struct MHD_Daemon *daemon;
	const struct route *routes;
	struct http_config cfg;
	void *app;
	atomic_int draining;      /* set once: new requests get 503 */
	atomic_long inflight;     /* requests between first call and completion */
	atomic_ullong next_id;
	/* Long-lived answers with a body under way, so that the drain can end
	 * them (a parked one would otherwise wait for its next event). */
	pthread_mutex_t live_lock;
	struct http_live *lives;  /* under live_lock */
};

/* A long-lived answer (http_respond_live). Lives in its request's arena.
 * parked and woken are under lock; the list links under the server's
 * live_lock. Lock order: a waker's own locks, then lock, then MHD's. */
struct http_live {
	struct http_req *r;
	http_live_fn fn;           /* worker thread only */
	void *ctx;
	pthread_mutex_t lock;
	int parked;                /* suspended by live_cb; only a wake resumes it */
	int woken;                 /* a wake came while not parked */
	int done;                  /* the request completed: wakes do nothing */
	int listed;                /* in srv->lives */
	struct http_live *prev, *next;
};

struct hdr {
	struct hdr *next;
	const char *name, *value; /* arena */
};

enum phase {
	PH_HEADERS, /* first call seen, body may follow */
	PH_HANDLED, /* handler ran (answer set, or suspended) */
};

/* One request. Owned by MHD's per-request slot (*con_cls); freed in
 * on_completed. Touched by its worker thread, and between http_suspend and
 * http_resume by the thread that answers it (never both at once). */
struct http_req {
	struct http_server *srv;
	struct MHD_Connection *conn;
	struct arena *arena;
	const struct route *route; /* NULL: unrouted */
	int route_index;
	const char *method, *path;
	const char *pnames[MAX_PARAMS], *pvalues[MAX_PARAMS];
	int nparams;
	struct buf body;     /* routes without a body hook */
	int body_too_big;    /* body passed its cap */
	int body_stopped;    /* further body bytes are dropped */
	enum phase phase;
	int suspended;       /* between http_suspend and the resumed call */
	void *state;
	char id[20];
	char ip[INET6_ADDRSTRLEN];
	struct timespec start;
	/* The answer. */
	int status;              /* 0: none yet */
	const char *ctype;
	void *resp;              /* arena */
	size_t resp_len;
	http_reader_fn reader;   /* streaming answer when set */
	void *reader_ctx;
	void (*reader_free)(void *);
	uint64_t stream_size;
	int chunked;             /* the stream's size is unknown */
	struct http_live *live;  /* a long-lived answer, or NULL */
	struct hdr *headers;
	size_t bytes_out;
};

/* ---- accessors ---------------------------------------------------------- */

const char *http_method(const struct http_req *r) { return r->method; }
const char *http_path(const struct http_req *r) { return r->path; }
const struct route *http_route(const struct http_req *r) { return r->route; }
struct arena *http_arena(struct http_req *r) { return r->arena; }
void *http_app(const struct http_req *r) { return r->srv->app; }
void *http_state(const struct http_req *r) { return r->state; }
void http_set_state(struct http_req *r, void *state) { r->state = state; }
const char *http_request_id(const struct http_req *r) { return r->id; }
const char *http_client_ip(const struct http_req *r) { return r->ip; }
int http_answered(const struct http_req *r) { return r->status != 0; }
int http_body_too_big(const struct http_req *r) { return r->body_too_big; }
int http_draining(const struct http_req *r) { return atomic_load(&r->srv->draining); }

const char *http_param(const struct http_req *r, const char *name)
{
	for (int i = 0; i < r->nparams; i++)
		if (strcmp(r->pnames[i], name) == 0)
			return r->pvalues[i];
	return NULL;
}

const char *http_query(const struct http_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *http_header(const struct http_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *http_body(const struct http_req *r, size_t *len)
{
	*len = r->body.len;
	return r->body.data ? r->body.data : "";
}

/* ---- answers ------------------------------------------------------------ */

void http_respond(struct http_req *r, int status, const char *content_type,
		  const void *body, size_t len)
{
	assert(r->status == 0);
	if (r->status)
		return;
	r->status = status;
	r->ctype = content_type ? arena_strdup(r->arena, content_type) : NULL;
	r->resp = len ? arena_memdup(r->arena, body, len) : NULL;
	r->resp_len = len;
}

void http_respond_json(struct http_req *r, int status, struct json_object *obj)
{
	size_t len;
	const char *s = json_object_to_json_string_length(
		obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);

	http_respond(r, status, "application/json", s, len);
}

void http_error(struct http_req *r, int status, const char *code, const char *message)
{
	json_object *root = json_object_new_object(), *err = json_object_new_object();

	json_object_object_add(err, "code", json_object_new_string(code));
	json_object_object_add(err, "message", json_object_new_string(message));
	json_object_object_add(root, "error", err);
	http_respond_json(r, status, root);
	json_object_put(root);
}

static int status_of(int rc)
{
	switch (rc) {
	case INLET_EINVAL: return 400;
	case INLET_EAUTH: return 401;
	case INLET_EFORBIDDEN: return 403;
	case INLET_ENOTFOUND: return 404;
	case INLET_EMETHOD: return 405;
	case INLET_EEXISTS: return 409;
	case INLET_ECONFLICT: return 409;
	case INLET_ETOOBIG: return 413;
	case INLET_ETOOMANY: return 413;
	case INLET_EMEDIATYPE: return 415;
	case INLET_ERATELIMIT: return 429;
	case INLET_EBUSY: return 503;
	case INLET_ESHUTDOWN: return 503;
	case INLET_EUNAVAILABLE: return 503;
	default: return 500;
	}
}

void http_error_rc(struct http_req *r, int rc)
{
	http_error(r, status_of(rc), inlet_errname(rc), inlet_strerror(rc));
}

void http_respond_empty(struct http_req *r, int status)
{
	http_respond(r, status, NULL, NULL, 0);
}

void http_respond_stream(struct http_req *r, int status, const char *content_type,
			 uint64_t size, http_reader_fn fn, void *ctx, void (*free_fn)(void *))
{
	assert(r->status == 0);
	r->status = status;
	r->ctype = arena_strdup(r->arena, content_type);
	r->reader = fn;
	r->reader_ctx = ctx;
	r->reader_free = free_fn;
	r->stream_size = size;
}

void http_respond_chunked(struct http_req *r, int status, const char *content_type,
			  http_reader_fn fn, void *ctx, void (*free_fn)(void *))
{
	http_respond_stream(r, status, content_type, 0, fn, ctx, free_fn);
	r->chunked = 1;
}

struct http_live *http_respond_live(struct http_req *r, int status, const char *content_type,
				    http_live_fn fn, void *ctx, void (*free_fn)(void *))
{
	struct http_live *l = arena_zalloc(r->arena, sizeof(*l));

	assert(r->status == 0);
	l->r = r;
	l->fn = fn;
	l->ctx = ctx;
	pthread_mutex_init(&l->lock, NULL);
	r->status = status;
	r->ctype = arena_strdup(r->arena, content_type);
	r->reader_ctx = ctx;
	r->reader_free = free_fn;
	r->chunked = 1;
	r->live = l;
	return l;
}

void http_live_wake(struct http_live *l)
{
	pthread_mutex_lock(&l->lock);
	if (l->parked) {
		l->parked = 0;
		MHD_resume_connection(l->r->conn);
	} else if (!l->done) {
		l->woken = 1;
	}
	pthread_mutex_unlock(&l->lock);
}

void http_add_header(struct http_req *r, const char *name, const char *value)
{
	struct hdr *h = arena_alloc(r->arena, sizeof(*h));

	h->name = arena_strdup(r->arena, name);
	h->value = arena_strdup(r->arena, value);
	h->next = r->headers;
	r->headers = h;
}

void http_suspend(struct http_req *r)
{
	assert(!r->suspended);
	r->suspended = 1;
	MHD_suspend_connection(r->conn);
}

void http_resume(struct http_req *r)
{
	/* The answer was written by this thread before; MHD's lock around the
	 * resume list orders it before the worker's read. */
	MHD_resume_connection(r->conn);
}

/* ---- MHD callbacks ------------------------------------------------------ */

static ssize_t stream_cb(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct http_req *r = cls;
	long n = r->reader(r->reader_ctx, pos, buf, max);

	if (n < 0)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	if (n == 0)
		return MHD_CONTENT_READER_END_OF_STREAM;
	if (r->chunked)
		r->bytes_out += (size_t)n;
	return (ssize_t)n;
}

/* The body of a long-lived answer. MHD allows a content reader to suspend
 * its connection and return 0 (libmicrohttpd 0.9.75: the connection stays
 * in its "chunk not ready" state and asks again once resumed); with
 * internal polling a 0 without the suspend would spin. woken is cleared
 * before fn runs, so a wake during fn makes it run again instead of
 * parking on an event it has not seen. */
static ssize_t live_cb(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct http_req *r = cls;
	struct http_live *l = r->live;
	long n;

	(void)pos;
	for (;;) {
		if (atomic_load(&r->srv->draining))
			return MHD_CONTENT_READER_END_OF_STREAM;
		pthread_mutex_lock(&l->lock);
		l->woken = 0;
		pthread_mutex_unlock(&l->lock);
		n = l->fn(l->ctx, buf, max);
		if (n < 0)
			return MHD_CONTENT_READER_END_OF_STREAM;
		if (n > 0) {
			assert((size_t)n <= max);
			r->bytes_out += (size_t)n;
			return (ssize_t)n;
		}
		pthread_mutex_lock(&l->lock);
		/* draining is read under the lock the drain's wake takes: either
		 * it is seen here, or the wake finds the connection parked. */
		if (!l->woken && !atomic_load(&r->srv->draining)) {
			l->parked = 1;
			MHD_suspend_connection(r->conn);
			pthread_mutex_unlock(&l->lock);
			return 0;
		}
		pthread_mutex_unlock(&l->lock);
	}
}

static void live_list(struct http_req *r, int add)
{
	struct http_server *s = r->srv;
	struct http_live *l = r->live;

	pthread_mutex_lock(&s->live_lock);
	if (add) {
		l->next = s->lives;
		if (l->next)
			l->next->prev = l;
		s->lives = l;
		l->listed = 1;
	} else if (l->listed) {
		if (l->prev)
			l->prev->next = l->next;
		else
			s->lives = l->next;
		if (l->next)
			l->next->prev = l->prev;
		l->listed = 0;
	}
	pthread_mutex_unlock(&s->live_lock);
}

static enum MHD_Result queue_answer(struct http_req *r)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	/* libmicrohttpd 0.9.75 writes the last chunk ("0\r\n\r\n") after the
	 * headers of a chunked answer to HEAD, a body HEAD must not have: that
	 * answer goes out empty instead (so with Content-Length: 0; the size
	 * is not known before the body is made). */
	if (r->live && strcmp(r->method, "HEAD") != 0) {
		resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, live_cb, r, NULL);
		r->bytes_out = 0;
		if (resp)
			live_list(r, 1);
	} else if (r->reader && !(r->chunked && strcmp(r->method, "HEAD") == 0)) {
		resp = MHD_create_response_from_callback(r->chunked ? MHD_SIZE_UNKNOWN : r->stream_size,
							 64 * 1024, stream_cb, r, NULL);
		r->bytes_out = r->chunked ? 0 : (size_t)r->stream_size;
	} else {
		resp = MHD_create_response_from_buffer(r->resp_len, r->resp, MHD_RESPMEM_MUST_COPY);
		r->bytes_out = r->resp_len;
	}
	if (!resp)
		return MHD_NO;
	if (r->ctype)
		MHD_add_response_header(resp, "Content-Type", r->ctype);
	for (struct hdr *h = r->headers; h; h = h->next)
		MHD_add_response_header(resp, h->name, h->value);
	MHD_add_response_header(resp, "X-Request-Id", r->id);
	if (atomic_load(&r->srv->draining))
		MHD_add_response_header(resp, "Connection", "close");
	ret = MHD_queue_response(r->conn, (unsigned)r->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static const struct route *find_route(struct http_req *r, int *method_mismatch)
{
	const struct route *rt = r->srv->routes;
	/* Room for the path's segments and the pattern's parameter names. */
	size_t bufsize = strlen(r->path) + 256;
	char *buf = arena_alloc(r->arena, bufsize);

	*method_mismatch = 0;
	for (int i = 0; rt[i].method; i++) {
		const char *names[MAX_PARAMS], *values[MAX_PARAMS];
		int n = route_match(rt[i].pattern, r->path, buf, bufsize, names, values, MAX_PARAMS);

		if (n < 0)
			continue;
		if (strcmp(rt[i].method, r->method) != 0) {
			/* HEAD is answered by GET routes; MHD drops the body. */
			if (!(strcmp(r->method, "HEAD") == 0 && strcmp(rt[i].method, "GET") == 0)) {
				*method_mismatch = 1;
				continue;
			}
		}
		for (int k = 0; k < n; k++) {
			r->pnames[k] = names[k];
			r->pvalues[k] = values[k];
		}
		r->nparams = n;
		r->route_index = i;
		return &rt[i];
	}
	return NULL;
}

static void client_ip(struct http_req *r)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const char *xff;

	snprintf(r->ip, sizeof(r->ip), "unknown");
	if (r->srv->cfg.trust_proxy && (xff = http_header(r, "X-Forwarded-For"))) {
		/* Each proxy appends the address it saw: with trust_proxy hops of
		 * our own in front, the one they saw is that many entries from the
		 * right. Entries further left are whatever the client sent. */
		const char *end = xff + strlen(xff), *p = end;
		unsigned hop = 0;

		while (p > xff) {
			const char *stop = p;

			while (p > xff && p[-1] != ',')
				p--;
			if (++hop == (unsigned)r->srv->cfg.trust_proxy) {
				const char *b = p;
				size_t n;

				while (b < stop && *b == ' ')
					b++;
				n = (size_t)(stop - b);
				while (n > 0 && b[n - 1] == ' ')
					n--;
				if (n > 0 && n < sizeof(r->ip)) {
					memcpy(r->ip, b, n);
					r->ip[n] = '\0';
					return;
				}
				break;
			}
			if (p > xff)
				p--; /* the comma */
		}
	}
	if (!ci || !ci->client_addr)
		return;
	if (ci->client_addr->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)ci->client_addr)->sin_addr,
			  r->ip, sizeof(r->ip));
	else if (ci->client_addr->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)ci->client_addr)->sin6_addr,
			  r->ip, sizeof(r->ip));
}

static struct http_req *req_new(struct http_server *s, struct MHD_Connection *c,
				const char *url, const char *method)
{
	struct arena *a = arena_create(8192);
	struct http_req *r = arena_zalloc(a, sizeof(*r));

	r->srv = s;
	r->conn = c;
	r->arena = a;
	r->route_index = -1;
	r->method = arena_strdup(a, method);
	r->path = arena_strdup(a, url);
	clock_gettime(CLOCK_MONOTONIC, &r->start);
	snprintf(r->id, sizeof(r->id), "r%llx",
		 (unsigned long long)atomic_fetch_add(&s->next_id, 1));
	client_ip(r);
	atomic_fetch_add(&s->inflight, 1);
	return r;
}

/* First call: route, limits, the route's begin hook. */
static void on_headers(struct http_req *r)
{
	int mismatch;
	const char *cl;
	size_t cap;

	if (atomic_load(&r->srv->draining)) {
		http_error(r, 503, "shutting_down", "server is shutting down");
		return;
	}
	r->route = find_route(r, &mismatch);
	if (!r->route) {
		if (mismatch)
			http_error(r, 405, "method_not_allowed", "method not allowed");
		else
			http_error(r, 404, "not_found", "no such route");
		return;
	}
	cap = r->route->body_max ? r->route->body_max : r->srv->cfg.body_max;
	buf_init(&r->body, cap);
	cl = http_header(r, "Content-Length");
	if (cl) {
		char *end;
		unsigned long long n = strtoull(cl, &end, 10);

		if (*end == '\0' && n > cap) {
			r->body_too_big = 1;
			r->body_stopped = 1;
		}
	}
	/* begin runs even for a body already known to be too big: the route
	 * may want to answer that in its own shape (a form's BODY_TOO_BIG). */
	if (r->route->begin)
		r->route->begin(r);
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *c, const char *url,
				 const char *method, const char *version,
				 const char *data, size_t *data_size, void **slot)
{
	struct http_server *s = cls;
	struct http_req *r = *slot;

	if (!r) {
		r = req_new(s, c, url, method);
		*slot = r;
		on_headers(r);
		return MHD_YES;
	}
	if (*data_size) {
		if (!r->body_stopped && !r->status) {
			if (r->route->body) {
				if (r->route->body(r, data, *data_size))
					r->body_stopped = 1;
			} else if (buf_append(&r->body, data, *data_size)) {
				r->body_too_big = 1;
				r->body_stopped = 1;
				buf_free(&r->body);
			}
		}
		*data_size = 0;
		return MHD_YES;
	}
	if (r->suspended) {
		/* Resumed: the other thread has set the answer. */
		r->suspended = 0;
	} else if (r->phase == PH_HEADERS) {
		r->phase = PH_HANDLED;
		if (!r->status) {
			if (r->body_too_big && !r->route->body && !(r->route->flags & ROUTE_OWN_413))
				http_error(r, 413, "too_big", "request body too large");
			else
				r->route->handle(r);
		}
		if (r->suspended)
			return MHD_YES;
	}
	if (!r->status)
		http_error(r, 500, "internal", "no answer");
	return queue_answer(r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **slot,
			 enum MHD_RequestTerminationCode toe)
{
	struct http_server *s = cls;
	struct http_req *r = *slot;
	struct timespec end;
	char fields[512] = "";
	double ms;

	if (!r)
		return;
	clock_gettime(CLOCK_MONOTONIC, &end);
	ms = (double)(end.tv_sec - r->start.tv_sec) * 1e3 + (double)(end.tv_nsec - r->start.tv_nsec) / 1e6;
	metrics_http(r->route_index, r->status);
	if (log_enabled(LOG_INFO)) {
		log_field_str(fields, sizeof(fields), "id", r->id);
		log_field_str(fields, sizeof(fields), "method", r->method);
		log_field_str(fields, sizeof(fields), "route", r->route ? r->route->pattern : "-");
		log_field_str(fields, sizeof(fields), "path", r->path);
		log_field_int(fields, sizeof(fields), "status", r->status);
		log_field_int(fields, sizeof(fields), "bytes", (long long)r->bytes_out);
		snprintf(fields + strlen(fields), sizeof(fields) - strlen(fields), ",\"duration_ms\":%.3f", ms);
		if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
			log_field_int(fields, sizeof(fields), "aborted", (long long)toe);
		log_emit(LOG_INFO, "request", fields);
	}
	if (r->reader_free)
		r->reader_free(r->reader_ctx);
	if (r->live) {
		/* Its owner's wakers are gone (reader_free); now the drain's. */
		live_list(r, 0);
		pthread_mutex_lock(&r->live->lock);
		assert(!r->live->parked);
		r->live->done = 1;
		pthread_mutex_unlock(&r->live->lock);
		pthread_mutex_destroy(&r->live->lock);
	}
	buf_free(&r->body);
	arena_destroy(r->arena);
	*slot = NULL;
	atomic_fetch_sub(&s->inflight, 1);
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_ctx,
			  enum MHD_ConnectionNotificationCode code)
{
	metrics_conn(code == MHD_CONNECTION_NOTIFY_STARTED ? 1 : -1);
}

static void on_panic(void *cls, const char *file, unsigned int line, const char *reason)
{
	fprintf(stderr, "{\"level\":\"fatal\",\"msg\":\"libmicrohttpd panic\",\"file\":\"%s\",\"line\":%u,\"reason\":\"%s\"}\n",
		file ? file : "", line, reason ? reason : "");
	abort();
}

int http_server_start(struct http_server **out, const struct http_config *cfg,
		      const struct route *routes, void *app)
{
	struct http_server *s = xcalloc(1, sizeof(*s));
	struct sockaddr_storage ss;
	socklen_t sslen;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
			 MHD_USE_ITC | MHD_USE_ERROR_LOG;
	int rc = 0;

	pthread_mutex_init(&s->live_lock, NULL);
	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, cfg->host, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)cfg->port);
		sslen = sizeof(*sin);
	} else if (inet_pton(AF_INET6, cfg->host, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)cfg->port);
		sslen = sizeof(*sin6);
		flags |= MHD_USE_IPv6;
	} else {
		rc = INLET_EINVAL;
		goto out;
	}
	(void)sslen;
	s->routes = routes;
	s->cfg = *cfg;
	s->app = app;
	MHD_set_panic_func(on_panic, NULL);
	s->daemon = MHD_start_daemon(
		flags, (uint16_t)cfg->port, NULL, NULL, on_access, s,
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
		MHD_OPTION_THREAD_POOL_SIZE, (unsigned)(cfg->threads < 2 ? 2 : cfg->threads),
		MHD_OPTION_CONNECTION_LIMIT, cfg->max_connections,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, cfg->max_per_ip,
		MHD_OPTION_CONNECTION_TIMEOUT, cfg->timeout_s,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)16 * 1024,
		MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
		MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
		MHD_OPTION_END);
	if (!s->daemon) {
		rc = INLET_EIO;
		goto out;
	}
out:
	if (rc) {
		pthread_mutex_destroy(&s->live_lock);
		free(s);
		s = NULL;
	}
	*out = s;
	return rc;
}

unsigned http_server_port(const struct http_server *s)
{
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);

	return di ? di->port : 0;
}

int http_server_drain(struct http_server *s, int timeout_ms)
{
	long left;

	atomic_store(&s->draining, 1);
	MHD_quiesce_daemon(s->daemon);
	/* Long-lived answers end now: each sees draining when it runs next. */
	pthread_mutex_lock(&s->live_lock);
	for (struct http_live *l = s->lives; l; l = l->next)
		http_live_wake(l);
	pthread_mutex_unlock(&s->live_lock);
	for (int waited = 0; (left = atomic_load(&s->inflight)) > 0 && waited < timeout_ms; waited += 5)
		usleep(5000);
	return (int)left;
}

void http_server_destroy(struct http_server *s)
{
	if (!s)
		return;
	if (s->daemon)
		MHD_stop_daemon(s->daemon);
	pthread_mutex_destroy(&s->live_lock);
	free(s);
}
