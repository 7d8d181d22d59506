/* The one allocation policy: out of memory aborts with a message. Callers
 * never test for NULL from these; every cap on what a request may allocate is
 * enforced before allocating (core/buf.h, config caps). */
#ifndef INLET_CORE_ALLOC_H
#define INLET_CORE_ALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
void *xmemdup(const void *p, size_t n);
/* printf into a fresh heap string; caller frees. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Overwrites n bytes in a way the compiler may not elide (key material). */
void secure_wipe(void *p, size_t n);

#endif
