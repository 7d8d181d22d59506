#include "ingest/header.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/err.h"

static int is_ws(char c)
{
	return c == ' ' || c == '\t';
}

static const char *skip_ws(const char *s, const char *end)
{
	while (s < end && is_ws(*s))
		s++;
	return s;
}

static const char *trim_end(const char *s, const char *end)
{
	while (end > s && is_ws(end[-1]))
		end--;
	return end;
}

static int span_is(const char *s, size_t n, const char *lit)
{
	return n == strlen(lit) && strncasecmp(s, lit, n) == 0;
}

enum media header_media(const char *content_type)
{
	const char *s, *end, *slash;
	size_t n;

	if (!content_type)
		return MEDIA_NONE;
	s = content_type;
	end = s + strcspn(s, ";");
	s = skip_ws(s, end);
	end = trim_end(s, end);
	n = (size_t)(end - s);
	if (n == 0)
		return MEDIA_NONE;
	if (span_is(s, n, "application/x-www-form-urlencoded"))
		return MEDIA_URLENCODED;
	if (span_is(s, n, "multipart/form-data"))
		return MEDIA_MULTIPART;
	if (span_is(s, n, "application/json"))
		return MEDIA_JSON;
	if (span_is(s, n, "text/plain"))
		return MEDIA_TEXT;
	/* Structured syntax suffix (RFC 6839): application/vnd.api+json,
	 * application/problem+json and the like are JSON. The suffix must
	 * follow a non-empty type and subtype. */
	slash = memchr(s, '/', n);
	if (slash && slash > s && (size_t)(end - slash) > 6 &&
	    strncasecmp(end - 5, "+json", 5) == 0)
		return MEDIA_JSON;
	return MEDIA_OTHER;
}

/* ---- Accept ---- */

/* A q-value in thousandths (RFC 7231 5.3.1: "0", "1", "0.8", "1.000").
 * Returns -1 when malformed. */
static int parse_q(const char *s, const char *end)
{
	int q, scale = 100;

	if (s == end || (*s != '0' && *s != '1'))
		return -1;
	q = (*s++ - '0') * 1000;
	if (s < end && *s == '.') {
		for (s++; s < end && scale > 0; s++, scale /= 10) {
			if (*s < '0' || *s > '9')
				return -1;
			q += (*s - '0') * scale;
		}
	}
	if (s != end || q > 1000)
		return -1;
	return q;
}

/* How a media range matches a type: 3 exact, 2 type/star, 1 star/star,
 * 0 not at all. The most specific match decides the type's q-value. */
static int range_match(const char *r, size_t rn, const char *type)
{
	const char *slash = strchr(type, '/');
	size_t tlen = (size_t)(slash - type);

	if (span_is(r, rn, type))
		return 3;
	if (rn == tlen + 2 && strncasecmp(r, type, tlen + 1) == 0 &&
	    r[tlen + 1] == '*')
		return 2;
	if (span_is(r, rn, "*/*"))
		return 1;
	return 0;
}

struct pref {
	int spec;   /* specificity of the deciding range; 0 none yet */
	int q;      /* its q, thousandths */
	size_t pos; /* its index in the header, for ties */
};

static void consider(struct pref *p, const char *type, const char *r,
		     size_t rn, int q, size_t pos)
{
	int spec = range_match(r, rn, type);

	/* Strictly greater: with equal specificity the first range wins. */
	if (spec > p->spec) {
		p->spec = spec;
		p->q = q;
		p->pos = pos;
	}
}

/* The q parameter of one element's parameters at s..end (after the
 * range); 1000 when absent, -1 when malformed. Other parameters (level=)
 * are ignored rather than counted towards specificity. */
static int element_q(const char *s, const char *end)
{
	int q = 1000;

	while (s < end) {
		const char *semi = memchr(s, ';', (size_t)(end - s));
		const char *pend = semi ? semi : end;
		const char *ps = skip_ws(s, pend), *pe = trim_end(ps, pend);

		if (pe - ps >= 2 && (ps[0] == 'q' || ps[0] == 'Q')) {
			const char *eq = skip_ws(ps + 1, pe);

			if (eq < pe && *eq == '=')
				q = parse_q(skip_ws(eq + 1, pe), pe);
		}
		if (q < 0)
			return -1;
		s = semi ? semi + 1 : end;
	}
	return q;
}

int header_prefers_html(const char *accept)
{
	struct pref html = { 0, 0, 0 }, json = { 0, 0, 0 };
	const char *s, *end;
	size_t pos = 0;

	if (!accept)
		return 0;
	end = accept + strlen(accept);
	for (s = accept; s < end; pos++) {
		const char *comma = memchr(s, ',', (size_t)(end - s));
		const char *eend = comma ? comma : end;
		const char *semi = memchr(s, ';', (size_t)(eend - s));
		const char *r = skip_ws(s, semi ? semi : eend);
		const char *rend = trim_end(r, semi ? semi : eend);
		int q = element_q(semi ? semi + 1 : eend, eend);

		s = comma ? comma + 1 : end;
		/* An empty element (",,") or a bad q is skipped, not fatal:
		 * the header only steers the response format. */
		if (rend == r || q < 0)
			continue;
		consider(&html, "text/html", r, (size_t)(rend - r), q, pos);
		consider(&json, "application/json", r, (size_t)(rend - r), q, pos);
	}
	if (!html.spec || html.q == 0)
		return 0;
	if (html.q != json.q)
		return html.q > json.q;
	/* Equal q: whichever range came first; one shared range (star/star)
	 * is a tie, and a tie does not make a browser. */
	return html.pos < json.pos;
}

/* ---- origin ---- */

static int host_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
}

static int ip6_char(char c)
{
	return (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
	       (c >= '0' && c <= '9') || c == ':' || c == '.';
}

/* Checks host (a name, or an IPv6 literal in brackets) and finds where the
 * port starts: *port_at points at ':' or at end. Only characters that are
 * safe to echo in a response header get through. */
static int check_host(const char *h, const char *end, const char **port_at)
{
	const char *s = h;

	if (s < end && *s == '[') {
		for (s++; s < end && *s != ']'; s++)
			if (!ip6_char(*s))
				return INLET_EINVAL;
		if (s == end || s == h + 1)
			return INLET_EINVAL;
		s++;
	} else {
		while (s < end && host_char(*s))
			s++;
		if (s == h)
			return INLET_EINVAL;
	}
	if (s < end && *s != ':')
		return INLET_EINVAL;
	*port_at = s;
	return 0;
}

/* Port digits at s..end into *port; -1 when absent or empty ("host:" is
 * allowed, as in the WHATWG URL standard). */
static int parse_port(const char *s, const char *end, long *port)
{
	long v = 0;

	*port = -1;
	if (s == end)
		return 0;
	for (; s < end; s++) {
		if (*s < '0' || *s > '9')
			return INLET_EINVAL;
		v = v * 10 + (*s - '0');
		if (v > 65535)
			return INLET_EINVAL;
	}
	*port = v;
	return 0;
}

int header_origin(const char *url, char *out, size_t outsize)
{
	const char *s, *end, *auth, *aend, *at, *host, *port_at;
	const char *scheme;
	char lower[256];
	size_t hlen, i;
	long port;
	int rc, n;

	if (!url)
		return INLET_EINVAL;
	end = url + strlen(url);
	s = skip_ws(url, end);
	end = trim_end(s, end);
	if ((size_t)(end - s) >= 7 && strncasecmp(s, "http://", 7) == 0) {
		scheme = "http";
		auth = s + 7;
	} else if ((size_t)(end - s) >= 8 && strncasecmp(s, "https://", 8) == 0) {
		scheme = "https";
		auth = s + 8;
	} else {
		return INLET_EINVAL; /* "null", ftp:, relative references */
	}
	/* As in the WHATWG URL parser, a backslash ends the authority of an
	 * http(s) URL just like '/': https://a.example\@evil.example is
	 * a.example to a browser, so it must be to us too. */
	aend = auth + strcspn(auth, "/?#\\");
	if (aend > end)
		aend = end;
	/* Credentials are not part of an origin; the last '@' ends them. */
	for (at = aend; at > auth && at[-1] != '@'; at--)
		;
	host = at;
	rc = check_host(host, aend, &port_at);
	if (rc)
		return rc;
	rc = parse_port(port_at < aend ? port_at + 1 : aend, aend, &port);
	if (rc)
		return rc;
	hlen = (size_t)(port_at - host);
	if (hlen >= sizeof(lower))
		return INLET_EINVAL; /* DNS names stop at 253 */
	for (i = 0; i < hlen; i++) {
		char c = host[i];

		lower[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
	}
	lower[hlen] = '\0';
	/* Browsers serialise an origin without its scheme's default port, so
	 * "https://a:443" must compare equal to the Origin header "https://a". */
	if ((port == 443 && scheme[4] == 's') || (port == 80 && scheme[4] == '\0'))
		port = -1;
	if (port >= 0)
		n = snprintf(out, outsize, "%s://%s:%ld", scheme, lower, port);
	else
		n = snprintf(out, outsize, "%s://%s", scheme, lower);
	if (n < 0 || (size_t)n >= outsize)
		return INLET_ETOOBIG;
	return 0;
}
