#include "app/web.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "core/alloc.h"
#include "http/assets.h"
#include "http/http.h"
#include "vault/vault.h"

#define DIST "web/dist/"
#define INLET_JS "web/inlet.js"

/* No inline script or style element anywhere: a script injected through
 * submission data has nowhere to run. Styles set from script (the charts)
 * go through the CSSOM, which style-src does not govern. */
#define CSP "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " \
	    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

/* What each embedded file is answered with, made once. */
struct served {
	unsigned char *gz; /* NULL when gzip does not make it smaller */
	size_t gz_size;
	char etag[36];     /* "\"" + 32 hex digits + "\"" */
};

static struct served *served;
static pthread_once_t served_once = PTHREAD_ONCE_INIT;

static unsigned char *gzip(const unsigned char *data, size_t size, size_t *out_size)
{
	z_stream z;
	unsigned char *out;
	size_t cap = compressBound((uLong)size) + 32;

	memset(&z, 0, sizeof(z));
	if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK)
		return NULL;
	out = xmalloc(cap);
	z.next_in = (unsigned char *)data;
	z.avail_in = (uInt)size;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	if (deflate(&z, Z_FINISH) != Z_STREAM_END || z.total_out >= size) {
		deflateEnd(&z);
		free(out);
		return NULL;
	}
	*out_size = z.total_out;
	deflateEnd(&z);
	return out;
}

/* Lives as long as the process: the table is static. */
static void served_init(void)
{
	size_t n = 0;

	while (assets_table[n].path)
		n++;
	served = xcalloc(n ? n : 1, sizeof(*served));
	for (size_t i = 0; i < n; i++) {
		const struct asset *a = &assets_table[i];
		uint8_t h[32];
		static const char hex[] = "0123456789abcdef";
		char *e = served[i].etag;

		served[i].gz = gzip(a->data, a->size, &served[i].gz_size);
		vault_sha256(a->data, a->size, h);
		*e++ = '"';
		for (int k = 0; k < 16; k++) {
			*e++ = hex[h[k] >> 4];
			*e++ = hex[h[k] & 15];
		}
		*e++ = '"';
		*e = '\0';
	}
}

/* "gzip" as a coding the client accepts (a q=0 refuses it). */
static int accepts_gzip(const char *ae)
{
	const char *p = ae;

	while (p && (p = strstr(p, "gzip"))) {
		const char *q = p + 4;

		while (*q == ' ')
			q++;
		if (*q == ';') {
			const char *v = strstr(q, "q=");
			return !(v && strtod(v + 2, NULL) <= 0);
		}
		if (*q == ',' || *q == '\0')
			return 1;
		p = q;
	}
	return 0;
}

static void send_asset(struct http_req *r, const char *path, const char *ctype, const char *cache)
{
	const struct asset *a = assets_find(path);
	const struct served *s;
	const char *inm;

	if (!a) {
		http_error(r, 404, "not_found", "no such file");
		return;
	}
	pthread_once(&served_once, served_init);
	s = &served[a - assets_table];
	http_add_header(r, "ETag", s->etag);
	http_add_header(r, "Cache-Control", cache);
	http_add_header(r, "Vary", "Accept-Encoding");
	http_add_header(r, "X-Content-Type-Options", "nosniff");
	inm = http_header(r, "If-None-Match");
	if (inm && strstr(inm, s->etag)) {
		http_respond_empty(r, 304);
		return;
	}
	if (s->gz && accepts_gzip(http_header(r, "Accept-Encoding"))) {
		http_add_header(r, "Content-Encoding", "gzip");
		http_respond(r, 200, ctype, s->gz, s->gz_size);
	} else {
		http_respond(r, 200, ctype, a->data, a->size);
	}
}

void web_index(struct http_req *r)
{
	http_add_header(r, "Content-Security-Policy", CSP);
	http_add_header(r, "X-Frame-Options", "DENY");
	http_add_header(r, "Referrer-Policy", "same-origin");
	send_asset(r, DIST "index.html", "text/html; charset=utf-8", "no-cache");
}

static const char *type_of(const char *name)
{
	static const struct { const char *ext, *type; } types[] = {
		{ ".js", "text/javascript; charset=utf-8" },
		{ ".css", "text/css; charset=utf-8" },
		{ ".svg", "image/svg+xml" },
		{ ".png", "image/png" },
		{ ".ico", "image/x-icon" },
		{ ".woff2", "font/woff2" },
		{ ".json", "application/json" },
		{ ".map", "application/json" },
	};
	const char *dot = strrchr(name, '.');

	for (size_t i = 0; dot && i < sizeof(types) / sizeof(*types); i++)
		if (strcmp(dot, types[i].ext) == 0)
			return types[i].type;
	return "application/octet-stream";
}

void web_asset(struct http_req *r)
{
	const char *name = http_param(r, "name");
	char path[256];

	/* One segment by the router's rule; a dot-dot would still only name a
	 * table entry, but say no plainly. */
	if (!name || name[0] == '.' || strlen(name) > 200) {
		http_error(r, 404, "not_found", "no such file");
		return;
	}
	snprintf(path, sizeof(path), DIST "assets/%s", name);
	send_asset(r, path, type_of(name), "public, max-age=31536000, immutable");
}

void web_inlet_js(struct http_req *r)
{
	/* Not content-addressed (sites link the fixed name): an hour, then
	 * revalidation by ETag. */
	http_add_header(r, "Access-Control-Allow-Origin", "*");
	send_asset(r, INLET_JS, "text/javascript; charset=utf-8", "public, max-age=3600");
}
