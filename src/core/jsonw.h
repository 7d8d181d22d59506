/* A small JSON writer into a capped buffer, for hot paths where building a
 * json-c tree only to print it would cost more than the data (a form's
 * record is written once per post). The caller writes commas and nesting in
 * order; strings are escaped here. Any append error sticks in w->rc. */
#ifndef INLET_CORE_JSONW_H
#define INLET_CORE_JSONW_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

struct jsonw {
	struct buf *b;
	int rc;       /* first error (INLET_ETOOBIG), sticky */
	int first;    /* no member written yet at this level */
};

void jsonw_init(struct jsonw *w, struct buf *b);
/* Separators are the caller's: jsonw_sep writes ',' unless first. */
void jsonw_sep(struct jsonw *w);
void jsonw_raw(struct jsonw *w, const char *s, size_t n);
/* A JSON string of s[0..n), escaped (control bytes as \u00XX; invalid
 * UTF-8 is kept as is, which json-c and browsers read back). */
void jsonw_str(struct jsonw *w, const char *s, size_t n);
/* "key": with the separator before it. */
void jsonw_key(struct jsonw *w, const char *key, size_t n);
void jsonw_int(struct jsonw *w, int64_t v);
/* Opens/closes an object or array; the next member is the first. */
void jsonw_open(struct jsonw *w, char c);
void jsonw_close(struct jsonw *w, char c);

#endif
