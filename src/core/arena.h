/* A memory arena: one per request (like nginx's r->pool). Everything a
 * request allocates comes from its arena and is released at once when the
 * request ends; resources that are not memory (statements, files, json
 * objects) register a cleanup that runs, last registered first, on destroy.
 * An arena is used by one thread at a time. */
#ifndef INLET_CORE_ARENA_H
#define INLET_CORE_ARENA_H

#include <stddef.h>

struct arena;

struct arena *arena_create(size_t block_size);
/* Runs cleanups (LIFO), frees every block. Accepts NULL. */
void arena_destroy(struct arena *a);

/* Aligned for any type; never NULL (out of memory aborts). */
void *arena_alloc(struct arena *a, size_t n);
void *arena_zalloc(struct arena *a, size_t n);
char *arena_strndup(struct arena *a, const char *s, size_t n);
char *arena_strdup(struct arena *a, const char *s);
void *arena_memdup(struct arena *a, const void *p, size_t n);
char *arena_printf(struct arena *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Makes room for one more item in an arena array of n items (elem bytes
 * each) with *cap slots, doubling when full; returns the array to use
 * (items may be NULL when *cap is 0). The old array stays in the arena. */
void *arena_grow(struct arena *a, void *items, size_t n, size_t *cap, size_t elem);

/* fn(arg) runs when the arena is destroyed. */
void arena_on_destroy(struct arena *a, void (*fn)(void *), void *arg);

/* Bytes handed out so far (for caps and metrics). */
size_t arena_used(const struct arena *a);

#endif
