/* multipart/form-data (RFC 7578) as a push parser: feed it the body in
 * chunks of any size (1 byte included) and it calls back per part, so a
 * file part streams straight to its sink and never sits whole in memory.
 * No I/O and no globals, so it is fuzzed (tests/fuzz/fuzz_multipart.c). */
#ifndef INLET_INGEST_MULTIPART_H
#define INLET_INGEST_MULTIPART_H

#include <stddef.h>

struct mp_parser;

/* What the part's headers said. Strings are valid only during part_begin. */
struct mp_part {
	const char *name;         /* Content-Disposition name=; never NULL ("" if absent) */
	const char *filename;     /* filename= (filename* preferred when given), or NULL: a plain field.
				     "" for an empty file input, or when only an undecodable
				     filename* (not UTF-8, or with %00) was given */
	const char *content_type; /* the part's Content-Type, or NULL */
};

struct mp_callbacks {
	/* A non-zero return from any callback stops the parser; mp_feed then
	 * returns that value. A NULL callback is skipped. part_data gets a
	 * part's bytes in pieces whose sizes depend on how the body was fed;
	 * never a zero-length piece. */
	int (*part_begin)(void *ctx, const struct mp_part *part);
	int (*part_data)(void *ctx, const char *data, size_t len);
	int (*part_end)(void *ctx);
};

struct mp_limits {
	size_t max_parts;        /* INLET_ETOOMANY past it */
	size_t max_header_bytes; /* one part's header block, every CRLF and the
				    blank line included; INLET_ETOOBIG */
};

/* Extracts the boundary parameter from a Content-Type value (quoted or
 * not) into out (outsize bytes incl. NUL). INLET_EINVAL when missing,
 * empty, longer than 70 bytes (RFC 2046) or holding a control byte;
 * INLET_ETOOBIG when it does not fit in outsize (71 always does). */
int mp_boundary(const char *content_type, char *out, size_t outsize);

/* Creates a parser for boundary (without the leading "--"). The callbacks
 * and ctx must outlive the parser. Never NULL: for a boundary that is
 * empty, longer than 70 bytes or holds CR or LF, the first mp_feed (and
 * mp_finish) returns INLET_EINVAL.
 * As in RFC 2046, a delimiter line is "--" boundary at the very start of
 * the body or right after a CRLF (which belongs to the delimiter, not to
 * the data before it), followed by "--" (the close) or by up to 16 spaces
 * or tabs and CRLF; anything else ("--boundaryX") is part data. Text
 * before the first delimiter (preamble) and after the close (epilogue) is
 * ignored. Header lines must end in CRLF; a bare LF or CR in the headers,
 * a line without ':', or an unterminated quoted parameter is INLET_EINVAL.
 * While scanning data the parser holds back at most the delimiter plus 17
 * bytes, so data reaches part_data as it streams in. */
struct mp_parser *mp_create(const char *boundary, const struct mp_limits *lim,
			    const struct mp_callbacks *cb, void *ctx);
/* Feeds len bytes. Returns 0, a callback's non-zero value, INLET_EINVAL
 * for a malformed body, or INLET_ETOOMANY / INLET_ETOOBIG per the limits.
 * Any non-zero result is sticky: later calls return it again. */
int mp_feed(struct mp_parser *p, const char *data, size_t len);
/* Call after the last chunk: 0 if the closing boundary was seen, the
 * sticky error if the parser had stopped, else INLET_EINVAL (truncated
 * body). */
int mp_finish(struct mp_parser *p);
void mp_destroy(struct mp_parser *p);

#endif
