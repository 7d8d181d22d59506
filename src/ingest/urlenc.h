/* application/x-www-form-urlencoded, as in the WHATWG URL standard: pairs
 * split on '&', name and value on the first '=', '+' is a space, %XX is a
 * byte (a malformed escape is kept literally, as browsers do). Empty pairs
 * ("a=1&&b=2") are skipped. Also used for query strings. A pure function
 * over a buffer: no I/O, no globals, so it is fuzzed (tests/fuzz/). */
#ifndef INLET_INGEST_URLENC_H
#define INLET_INGEST_URLENC_H

#include <stddef.h>

#include "ingest/kv.h"

/* Appends the decoded pairs of buf[0..len) to out. Returns 0, or
 * INLET_ETOOMANY / INLET_ETOOBIG per lim. */
int urlenc_parse(struct arena *a, const char *buf, size_t len,
		 const struct form_limits *lim, struct kv_list *out);

/* Percent-decodes src into dst (which may be src itself); plus_is_space
 * for form bodies. Returns the decoded length. */
size_t urlenc_decode(char *dst, const char *src, size_t len, int plus_is_space);

#endif
