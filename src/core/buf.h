/* A growable byte buffer with a hard maximum: appending past max fails with
 * INLET_ETOOBIG and leaves the buffer as it was. data is always
 * NUL-terminated (not counted in len) so text can be used in place. */
#ifndef INLET_CORE_BUF_H
#define INLET_CORE_BUF_H

#include <stddef.h>

struct buf {
	char *data;  /* heap, owned; NULL until the first append */
	size_t len;  /* bytes in use */
	size_t cap;  /* bytes allocated, excluding the NUL */
	size_t max;  /* hard cap on len; 0 means SIZE_MAX */
};

void buf_init(struct buf *b, size_t max);
void buf_free(struct buf *b);
void buf_reset(struct buf *b);
int buf_append(struct buf *b, const void *p, size_t n);
int buf_puts(struct buf *b, const char *s);
int buf_putc(struct buf *b, char c);
int buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Hands the heap string to the caller (never NULL); b is left empty. */
char *buf_steal(struct buf *b);

#endif
