/* Public form ingest, Formspree-compatible: POST /f/{key}, its CORS
 * preflight, and the thank-you page. */
#ifndef INLET_INGEST_FORM_H
#define INLET_INGEST_FORM_H

#include <stddef.h>

struct http_req;

void form_begin(struct http_req *r);
int form_body(struct http_req *r, const char *data, size_t len);
void form_post(struct http_req *r);
void form_preflight(struct http_req *r);
void form_thanks(struct http_req *r);
void form_get(struct http_req *r);

#endif
