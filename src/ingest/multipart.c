#include "ingest/multipart.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/err.h"
#include "ingest/urlenc.h"

/* RFC 2046 5.1.1 caps a boundary at 70 bytes. */
#define MP_MAX_BOUNDARY 70
/* Transport padding (spaces or tabs after a delimiter) we are willing to
 * hold back while deciding whether a delimiter really ends the part. The
 * RFC sets no bound, but no real client sends any; past this the bytes are
 * taken as part data. */
#define MP_MAX_PADDING 16

/* The body is a stream of delimiters, each "\r\n--" boundary, with part
 * headers and data between them. Bytes that might start a delimiter are
 * held back (not handed to part_data) until it is clear whether they do. To
 * treat the first delimiter like the others, the parser starts as if a CRLF
 * had already been seen, so "--boundary" on the very first line matches. */
enum mp_state {
	MP_PREAMBLE, /* before the first delimiter: bytes are dropped */
	MP_HEADERS,  /* part headers, accumulated in hdr */
	MP_DATA,     /* part data, streamed to part_data */
	MP_EPILOGUE, /* after the close delimiter: bytes are dropped */
};

/* Owned by one request and used by one thread at a time. */
struct mp_parser {
	const struct mp_callbacks *cb; /* caller's; outlives the parser */
	void *ctx;
	struct mp_limits lim;
	char *delim;       /* heap: "\r\n--" boundary */
	size_t dlen;       /* strlen(delim) */
	enum mp_state state;
	/* Delimiter bytes matched so far, held back. A '\r' occurs in delim
	 * only at index 0 (mp_create refuses a boundary with CR or LF), so on a
	 * mismatch no suffix of the held bytes can start another delimiter and
	 * they are all released. */
	size_t matched;
	/* Once matched == dlen: the bytes after the delimiter, held while
	 * deciding. Padding first, then at most one '-' or '\r'. */
	char tail[MP_MAX_PADDING + 1];
	size_t ntail;
	struct buf hdr;    /* current part's header block, CRLFs included */
	size_t line_start; /* offset in hdr of the line being read */
	size_t nparts;     /* parts begun so far */
	int rc;            /* sticky: once non-zero every call returns it */
};

/* ---- parameters: name=value pairs after ';' in header values ---- */

struct param {
	const char *name;
	size_t name_len;
	const char *val; /* raw: quotes and escapes still in */
	size_t val_len;
	int quoted;
};

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

/* Characters that end a parameter name. */
static int ends_token(char c)
{
	return is_ws(c) || c == ';' || c == '=' || c == '"' || c == ',';
}

/* Reads the next "; name=value" from *s. Returns 1 with p set, 0 when no
 * parameter is left, INLET_EINVAL for garbage. Empty ";;" are skipped. */
static int param_next(const char **s, const char *end, struct param *p)
{
	const char *c = *s;

	for (;;) {
		c = skip_ws(c, end);
		if (c == end)
			return 0;
		if (*c != ';')
			return INLET_EINVAL;
		c = skip_ws(c + 1, end);
		if (c == end)
			return 0;
		if (*c != ';')
			break;
	}
	p->name = c;
	while (c < end && !ends_token(*c))
		c++;
	p->name_len = (size_t)(c - p->name);
	c = skip_ws(c, end);
	if (!p->name_len || c == end || *c != '=')
		return INLET_EINVAL;
	c = skip_ws(c + 1, end);
	p->quoted = c < end && *c == '"';
	if (p->quoted) {
		p->val = ++c;
		while (c < end && *c != '"') {
			if (*c == '\\' && c + 1 < end)
				c++;
			c++;
		}
		if (c == end)
			return INLET_EINVAL; /* unterminated quote */
		p->val_len = (size_t)(c - p->val);
		c++;
	} else {
		/* Lenient on purpose: an unquoted value runs to the next ';', so
		 * a broken client's filename=my file.txt still reads whole. */
		p->val = c;
		while (c < end && *c != ';')
			c++;
		p->val_len = (size_t)(c - p->val);
		while (p->val_len && is_ws(p->val[p->val_len - 1]))
			p->val_len--;
	}
	*s = c;
	return 1;
}

/* Removes quoted-string escapes from a quoted value into dst (which may be
 * src; NULL only measures); returns the length. Only \" and \\ are taken
 * as escapes: old browsers send Windows paths ("C:\dir\f.txt") with bare
 * backslashes, and those must survive. */
static size_t unquote(char *dst, const char *src, size_t len)
{
	size_t i, o = 0;

	for (i = 0; i < len; i++) {
		char c = src[i];

		if (c == '\\' && i + 1 < len &&
		    (src[i + 1] == '"' || src[i + 1] == '\\'))
			c = src[++i];
		if (dst)
			dst[o] = c;
		o++;
	}
	return o;
}

static int param_is(const struct param *p, const char *name)
{
	return p->name_len == strlen(name) &&
	       strncasecmp(p->name, name, p->name_len) == 0;
}

int mp_boundary(const char *content_type, char *out, size_t outsize)
{
	const char *s, *end;
	struct param p;
	size_t n, i;
	int rc;

	if (!content_type)
		return INLET_EINVAL;
	end = content_type + strlen(content_type);
	s = memchr(content_type, ';', (size_t)(end - content_type));
	if (!s)
		return INLET_EINVAL;
	while ((rc = param_next(&s, end, &p)) == 1) {
		if (!param_is(&p, "boundary"))
			continue;
		n = p.quoted ? unquote(NULL, p.val, p.val_len) : p.val_len;
		if (n == 0 || n > MP_MAX_BOUNDARY)
			return INLET_EINVAL;
		if (n >= outsize)
			return INLET_ETOOBIG;
		if (p.quoted)
			unquote(out, p.val, p.val_len);
		else
			memcpy(out, p.val, n);
		out[n] = '\0';
		/* Control bytes could never appear on a delimiter line; RFC
		 * 2046's narrower bchars set is not enforced. */
		for (i = 0; i < n; i++)
			if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f)
				return INLET_EINVAL;
		return 0;
	}
	return INLET_EINVAL;
}

/* ---- part headers ---- */

/* filename*=charset'lang'pct-encoded (RFC 5987/6266), decoded in place at
 * v[0..len); *out gets the NUL-terminated name. Returns 0, or -1 if
 * unusable: only UTF-8 (and
 * its subset US-ASCII) is accepted, since converting other charsets is not
 * worth the code; a decoded NUL would cut the C string short. */
static int ext_value_decode(char *v, size_t len, char **out)
{
	char *q1 = memchr(v, '\'', len), *q2, *pct;
	size_t cs_len, n;

	if (!q1)
		return -1;
	cs_len = (size_t)(q1 - v);
	q2 = memchr(q1 + 1, '\'', len - cs_len - 1);
	if (!q2)
		return -1;
	if (!((cs_len == 5 && strncasecmp(v, "utf-8", 5) == 0) ||
	      (cs_len == 8 && strncasecmp(v, "us-ascii", 8) == 0)))
		return -1;
	pct = q2 + 1;
	n = urlenc_decode(pct, pct, len - (size_t)(pct - v), 0);
	if (memchr(pct, '\0', n))
		return -1;
	pct[n] = '\0';
	*out = pct;
	return 0;
}

/* Fills part from a Content-Disposition value (NUL-terminated, modified in
 * place). The disposition type itself is not checked: RFC 7578 says
 * "form-data", but refusing anything else gains nothing. */
static int parse_disposition(char *v, struct mp_part *part)
{
	const char *s = v, *end = v + strlen(v);
	struct param p;
	char *name = NULL, *file = NULL, *ext = NULL;
	size_t name_len = 0, file_len = 0, ext_len = 0;
	char *dec;
	int rc;

	while (s < end && *s != ';')
		s++;
	/* Values are unquoted in place now but NUL-terminated only after the
	 * loop: a token value's terminator would land on the ';' the scan
	 * still has to read. */
	while ((rc = param_next(&s, end, &p)) == 1) {
		char *val = (char *)p.val;
		size_t len = p.quoted ? unquote(val, p.val, p.val_len) : p.val_len;

		/* The first of a repeated parameter wins. */
		if (param_is(&p, "name") && !name) {
			name = val;
			name_len = len;
		} else if (param_is(&p, "filename") && !file) {
			file = val;
			file_len = len;
		} else if (param_is(&p, "filename*") && !ext) {
			ext = val;
			ext_len = len;
		}
	}
	if (rc < 0)
		return rc;
	if (name)
		name[name_len] = '\0';
	if (file)
		file[file_len] = '\0';
	part->name = name ? name : "";
	part->filename = file;
	if (ext) {
		if (ext_value_decode(ext, ext_len, &dec) == 0) {
			part->filename = dec;
		} else if (!file) {
			/* Still a file part, even if we cannot read its name. */
			part->filename = "";
		}
	}
	return 0;
}

static char *trim(char *s, char *end)
{
	while (s < end && is_ws(*s))
		s++;
	while (end > s && is_ws(end[-1]))
		end--;
	*end = '\0';
	return s;
}

/* Parses hdr.data[0..line_start): complete lines, each ending in CRLF.
 * Folded lines (CRLF then space) are unfolded in place first. */
static int parse_headers(struct mp_parser *p, struct mp_part *part)
{
	char *h = p->hdr.data, *end = h + p->line_start, *line, *eol, *colon, *hname;
	char *cd = NULL, *ct = NULL;
	size_t i;
	int rc = 0;

	part->name = "";
	part->filename = NULL;
	part->content_type = NULL;
	if (p->line_start == 0)
		goto out;
	if (memchr(h, '\0', p->line_start) || is_ws(h[0])) {
		rc = INLET_EINVAL;
		goto out;
	}
	for (i = 0; i + 2 < p->line_start; i++)
		if (h[i] == '\r' && h[i + 1] == '\n' && is_ws(h[i + 2]))
			h[i] = h[i + 1] = ' ';
	for (line = h; line < end; line = eol + 2) {
		/* Each line ends in CRLF (feed_headers checked); a CR before
		 * that is a bare CR, which has no business in a header. */
		eol = memchr(line, '\r', (size_t)(end - line));
		assert(eol && eol + 1 < end);
		if (eol[1] != '\n') {
			rc = INLET_EINVAL;
			goto out;
		}
		colon = memchr(line, ':', (size_t)(eol - line));
		if (!colon || colon == line) {
			rc = INLET_EINVAL;
			goto out;
		}
		*colon = '\0';
		hname = trim(line, colon);
		if (!cd && strcasecmp(hname, "content-disposition") == 0)
			cd = trim(colon + 1, eol);
		else if (!ct && strcasecmp(hname, "content-type") == 0)
			ct = trim(colon + 1, eol);
	}
	if (cd) {
		rc = parse_disposition(cd, part);
		if (rc)
			goto out;
	}
	part->content_type = ct;
out:
	return rc;
}

/* ---- the push parser ---- */

struct mp_parser *mp_create(const char *boundary, const struct mp_limits *lim,
			    const struct mp_callbacks *cb, void *ctx)
{
	struct mp_parser *p = xcalloc(1, sizeof(*p));
	size_t blen = strlen(boundary);

	p->cb = cb;
	p->ctx = ctx;
	p->lim = *lim;
	p->delim = xmalloc(blen + 5);
	memcpy(p->delim, "\r\n--", 4);
	memcpy(p->delim + 4, boundary, blen + 1);
	p->dlen = blen + 4;
	p->state = MP_PREAMBLE;
	p->matched = 2; /* the virtual CRLF before the first line */
	/* The header block is capped by our own check in feed_headers; buf's
	 * own cap is only a backstop. */
	buf_init(&p->hdr, lim->max_header_bytes ? lim->max_header_bytes : 1);
	/* Rather than return NULL, a parser for an unusable boundary refuses
	 * the first byte: CR or LF would break the delimiter scan. */
	if (blen == 0 || blen > MP_MAX_BOUNDARY || strpbrk(boundary, "\r\n"))
		p->rc = INLET_EINVAL;
	return p;
}

void mp_destroy(struct mp_parser *p)
{
	if (!p)
		return;
	buf_free(&p->hdr);
	free(p->delim);
	free(p);
}

static int emit(struct mp_parser *p, const char *d, size_t n)
{
	if (p->state != MP_DATA || n == 0 || !p->cb->part_data)
		return 0;
	return p->cb->part_data(p->ctx, d, n);
}

/* A delimiter line was confirmed and was not the close: end the current
 * part, if any, and start reading the next one's headers. */
static int open_part(struct mp_parser *p)
{
	int rc = 0;

	if (p->state == MP_DATA && p->cb->part_end) {
		rc = p->cb->part_end(p->ctx);
		if (rc)
			goto out;
	}
	if (p->nparts >= p->lim.max_parts) {
		rc = INLET_ETOOMANY;
		goto out;
	}
	p->nparts++;
	buf_reset(&p->hdr);
	p->line_start = 0;
	p->state = MP_HEADERS;
out:
	return rc;
}

static int close_body(struct mp_parser *p)
{
	int rc = 0;

	if (p->state == MP_DATA && p->cb->part_end)
		rc = p->cb->part_end(p->ctx);
	p->state = MP_EPILOGUE;
	return rc;
}

/* What came after a full "\r\n--boundary" was not a delimiter line: the
 * held bytes were data after all. None of them can start another
 * delimiter: the only '\r' among them after the first is a tail's last
 * byte, and it was rejected because no '\n' followed. */
static int release(struct mp_parser *p)
{
	int rc;

	rc = emit(p, p->delim, p->dlen);
	if (!rc)
		rc = emit(p, p->tail, p->ntail);
	p->matched = 0;
	p->ntail = 0;
	return rc;
}

enum verdict { MORE, OPEN, CLOSE, NOT_DELIM };

/* Decides, one byte at a time, whether the delimiter just matched is
 * followed by transport padding and CRLF (another part), or "--" (the
 * end). Consumes c unless the verdict is NOT_DELIM. */
static enum verdict after_delim(struct mp_parser *p, char c)
{
	char last = p->ntail ? p->tail[p->ntail - 1] : 0;

	if (last == '-')
		return c == '-' ? CLOSE : NOT_DELIM;
	if (last == '\r')
		return c == '\n' ? OPEN : NOT_DELIM;
	/* Only padding so far; a close has no padding before its "--". */
	if ((c == '-' && p->ntail == 0) || c == '\r' ||
	    (is_ws(c) && p->ntail < MP_MAX_PADDING)) {
		p->tail[p->ntail++] = c;
		return MORE;
	}
	return NOT_DELIM;
}

/* PREAMBLE and DATA: looks for the delimiter, streaming everything else.
 * Returns the bytes consumed; stops early when the state changes. */
static size_t feed_scan(struct mp_parser *p, const char *d, size_t n)
{
	enum mp_state start = p->state;
	size_t i = 0;
	enum verdict v;

	while (i < n && !p->rc && p->state == start) {
		if (p->matched == 0) {
			/* Fast path: everything before the next CR is data. */
			const char *cr = memchr(d + i, '\r', n - i);
			size_t run = cr ? (size_t)(cr - (d + i)) : n - i;

			p->rc = emit(p, d + i, run);
			i += run;
			if (cr && !p->rc) {
				p->matched = 1;
				i++;
			}
		} else if (p->matched < p->dlen) {
			if (d[i] == p->delim[p->matched]) {
				p->matched++;
				i++;
			} else {
				/* d[i] is looked at again with nothing held. */
				p->rc = emit(p, p->delim, p->matched);
				p->matched = 0;
			}
		} else {
			v = after_delim(p, d[i]);
			if (v != NOT_DELIM)
				i++;
			if (v == NOT_DELIM) {
				p->rc = release(p);
			} else if (v != MORE) {
				p->matched = 0;
				p->ntail = 0;
				p->rc = v == OPEN ? open_part(p) : close_body(p);
			}
		}
	}
	return i;
}

/* HEADERS: accumulates lines up to the blank one, then begins the part. */
static size_t feed_headers(struct mp_parser *p, const char *d, size_t n)
{
	const char *lf = memchr(d, '\n', n);
	size_t take = lf ? (size_t)(lf - d) + 1 : n, len;
	struct mp_part part;

	if (take > p->lim.max_header_bytes - p->hdr.len ||
	    buf_append(&p->hdr, d, take)) {
		p->rc = INLET_ETOOBIG;
		goto out;
	}
	if (!lf)
		goto out;
	len = p->hdr.len - p->line_start;
	if (len < 2 || p->hdr.data[p->hdr.len - 2] != '\r') {
		p->rc = INLET_EINVAL; /* bare LF */
		goto out;
	}
	if (len > 2) {
		p->line_start = p->hdr.len;
		goto out;
	}
	p->rc = parse_headers(p, &part);
	if (p->rc)
		goto out;
	p->state = MP_DATA;
	if (p->cb->part_begin)
		p->rc = p->cb->part_begin(p->ctx, &part);
out:
	return take;
}

int mp_feed(struct mp_parser *p, const char *data, size_t len)
{
	size_t i = 0;

	while (i < len && !p->rc) {
		switch (p->state) {
		case MP_PREAMBLE:
		case MP_DATA:
			i += feed_scan(p, data + i, len - i);
			break;
		case MP_HEADERS:
			i += feed_headers(p, data + i, len - i);
			break;
		case MP_EPILOGUE:
			i = len;
			break;
		}
	}
	return p->rc;
}

int mp_finish(struct mp_parser *p)
{
	if (p->rc)
		return p->rc;
	return p->state == MP_EPILOGUE ? 0 : INLET_EINVAL;
}
