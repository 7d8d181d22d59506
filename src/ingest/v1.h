/* TrackX's ingest routes, as its client calls them after
 * setup("https://host/v1/<key>"):
 *   POST /v1/{key}/event    one error event (JSON, TrackX's rules)
 *   GET|POST /v1/{key}/ping a page view: a session of the day
 *   POST /v1/{key}/report   browser reports (CSP, Reporting API, ...) */
#ifndef INLET_INGEST_V1_H
#define INLET_INGEST_V1_H

struct http_req;

void v1_begin(struct http_req *r);
void v1_event(struct http_req *r);
void v1_ping(struct http_req *r);
void v1_report(struct http_req *r);
void v1_preflight(struct http_req *r);

#endif
