/* The dashboard and the client script, served from files built into the
 * binary (web/dist/ and web/inlet.js, embedded by scripts/embed.c), so
 * one file is the whole product.
 *   GET /              web/dist/index.html: revalidated every load (ETag)
 *   GET /assets/{name} web/dist/assets/NAME: names carry a content hash, so
 *                      they are cached for a year
 *   GET /inlet.js      the form script for customers' pages
 * Each file is compressed once (gzip) at first use and answered compressed
 * to clients that accept it. Dashboard pages carry a Content-Security-Policy
 * that allows no inline script. */
#ifndef INLET_APP_WEB_H
#define INLET_APP_WEB_H

struct http_req;

void web_index(struct http_req *r);
void web_asset(struct http_req *r);
void web_inlet_js(struct http_req *r);

#endif
