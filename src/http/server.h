/* The HTTP server: libmicrohttpd with an internal pool of worker threads
 * (epoll), suspend/resume for requests that wait on the writer, and a
 * shutdown that drains before it stops (MHD aborts when stopped with a
 * connection still suspended). */
#ifndef INLET_HTTP_SERVER_H
#define INLET_HTTP_SERVER_H

#include <stddef.h>

struct route;
struct http_server;

struct http_config {
	const char *host;          /* IPv4 or IPv6 literal to bind */
	unsigned port;             /* 0: the kernel picks one */
	unsigned threads;          /* worker pool size, >= 2 */
	unsigned max_connections;  /* across the server */
	unsigned max_per_ip;       /* 0: no per-IP limit (the usual case behind a proxy) */
	unsigned timeout_s;        /* idle connection timeout */
	size_t body_max;           /* default body cap for routes that give none */
	int trust_proxy;           /* hops of our own proxies: the client IP from X-Forwarded-For */
};

/* Starts serving routes (a table ending with a NULL method). app is handed
 * to handlers via http_app(). */
int http_server_start(struct http_server **out, const struct http_config *cfg,
		      const struct route *routes, void *app);
unsigned http_server_port(const struct http_server *s);
/* Stops accepting, answers new requests on open connections with 503,
 * waits (up to timeout_ms) until no request is in flight. Returns the
 * number still in flight. */
int http_server_drain(struct http_server *s, int timeout_ms);
/* Stops and frees. Call http_server_drain first; accepts NULL. */
void http_server_destroy(struct http_server *s);

/* Matches a path against a pattern, filling up to max params
 * (name/value pairs, values point into buf which must hold the path).
 * Exposed for the router's unit test. Returns the number of params, or -1. */
int route_match(const char *pattern, const char *path, char *buf, size_t bufsize,
		const char **names, const char **values, int max);

#endif
