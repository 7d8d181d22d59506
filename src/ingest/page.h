/* The small HTML pages a browser form post can land on. */
#ifndef INLET_INGEST_PAGE_H
#define INLET_INGEST_PAGE_H

struct http_req;

/* A readable page with the status, a title and a message (escaped here). */
void page_respond(struct http_req *r, int status, const char *title, const char *message,
		  const char *back_url);

#endif
