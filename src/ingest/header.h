/* Small HTTP header value parsers used at the ingest edge. Pure functions. */
#ifndef INLET_INGEST_HEADER_H
#define INLET_INGEST_HEADER_H

#include <stddef.h>

enum media {
	MEDIA_NONE,       /* header absent or empty */
	MEDIA_URLENCODED, /* application/x-www-form-urlencoded */
	MEDIA_MULTIPART,  /* multipart/form-data */
	MEDIA_JSON,       /* application/json or any +json */
	MEDIA_TEXT,       /* text/plain (browsers send it for enctype=text/plain) */
	MEDIA_OTHER
};

/* Classifies a Content-Type value, case-insensitively, ignoring
 * parameters and surrounding white space. */
enum media header_media(const char *content_type);

/* What the client wants back, from its Accept header: 1 when text/html is
 * preferred over application/json (by q-value, then by order), as a browser
 * form post sends; 0 otherwise (absent header, * / *, JSON first). Each
 * type takes the q of its most specific matching range (text/html over
 * text/ * over * / *); a range with a malformed q is ignored. */
int header_prefers_html(const char *accept);

/* The origin (scheme://host[:port]) of a URL or Origin value, lowercased
 * scheme and host, into out. INLET_EINVAL if it is not an http(s) URL
 * ("null", other schemes, an empty or odd host, a bad port); INLET_ETOOBIG
 * if out is too small. As browsers serialise an Origin header: credentials
 * (user@) are dropped, the port is a plain number and is left out when it
 * is the scheme's default, so "https://A:443/x" gives "https://a"; a
 * backslash ends the host like '/'. */
int header_origin(const char *url, char *out, size_t outsize);

#endif
