/* What clickhouse.c shares with clickhouse_read.c (not for other modules). */
#ifndef INLET_APP_CLICKHOUSE_INT_H
#define INLET_APP_CLICKHOUSE_INT_H

#include <curl/curl.h>

#include "app/clickhouse.h"

struct buf;

/* A handle with the connection settings and the credentials of u; the
 * caller cleans it up. NULL when libcurl has no memory. */
CURL *ch_handle(const struct ch_url *u);
/* One POST to ClickHouse. With body: query (an INSERT ... FORMAT) goes in
 * the URL and body is the data; without: query is the body. 0 when it
 * answers 200, with the answer in ans (reset first; its cap bounds it).
 * Else INLET_EIO and err says why (ClickHouse's message or curl's). */
int ch_request(CURL *h, const struct ch_url *u, const char *query, const char *body, size_t len,
	       long timeout_ms, struct buf *ans, char *err, size_t errsize);
const struct ch_url *ch_url_of(const struct ch *c);
/* Counts a read that failed (the caller answers from the embedded rollups). */
void ch_note_read_error(struct ch *c);

#endif
