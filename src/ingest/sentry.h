/* Sentry's ingest routes (see sentry.c). */
#ifndef INLET_INGEST_SENTRY_H
#define INLET_INGEST_SENTRY_H

struct http_req;

void sentry_begin(struct http_req *r);
void sentry_post(struct http_req *r);
void sentry_preflight(struct http_req *r);

#endif
