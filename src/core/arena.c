#include "core/arena.h"

#include <stdalign.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"

/* Blocks form a singly linked list, newest first; only the newest block is
 * bumped. A request larger than a quarter block gets a block of its own so a
 * big allocation does not waste the rest of the current one. */
struct block {
	struct block *next;
	size_t size; /* usable bytes after the header */
	size_t used;
	alignas(max_align_t) unsigned char data[];
};

struct cleanup {
	struct cleanup *next;
	void (*fn)(void *);
	void *arg;
};

struct arena {
	struct block *head;
	struct cleanup *cleanups; /* newest first: runs LIFO */
	size_t block_size;
	size_t used;
};

#define ALIGN (alignof(max_align_t))

static struct block *block_new(size_t size)
{
	struct block *b = xmalloc(sizeof(*b) + size);

	b->next = NULL;
	b->size = size;
	b->used = 0;
	return b;
}

struct arena *arena_create(size_t block_size)
{
	struct arena *a = xcalloc(1, sizeof(*a));

	a->block_size = block_size ? block_size : 8192;
	a->head = block_new(a->block_size);
	return a;
}

void arena_destroy(struct arena *a)
{
	struct cleanup *c;
	struct block *b, *next;

	if (!a)
		return;
	while ((c = a->cleanups)) {
		a->cleanups = c->next;
		c->fn(c->arg);
	}
	for (b = a->head; b; b = next) {
		next = b->next;
		free(b);
	}
	free(a);
}

void *arena_alloc(struct arena *a, size_t n)
{
	struct block *b = a->head;
	size_t off;

	if (n == 0)
		n = 1;
	if (n > a->block_size / 4) {
		/* Own block, linked behind the head so the head keeps bumping. */
		struct block *big = block_new(n);

		big->used = n;
		big->next = b->next;
		b->next = big;
		a->used += n;
		return big->data;
	}
	off = (b->used + ALIGN - 1) & ~(ALIGN - 1);
	if (off + n > b->size) {
		b = block_new(a->block_size);
		b->next = a->head;
		a->head = b;
		off = 0;
	}
	b->used = off + n;
	a->used += n;
	return b->data + off;
}

void *arena_zalloc(struct arena *a, size_t n)
{
	void *p = arena_alloc(a, n);

	memset(p, 0, n);
	return p;
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *p = arena_alloc(a, n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *arena_strdup(struct arena *a, const char *s)
{
	return arena_strndup(a, s, strlen(s));
}

void *arena_memdup(struct arena *a, const void *p, size_t n)
{
	void *q = arena_alloc(a, n);

	if (n)
		memcpy(q, p, n);
	return q;
}

char *arena_printf(struct arena *a, const char *fmt, ...)
{
	va_list ap;
	int n;
	char *p;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		abort();
	p = arena_alloc(a, (size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}

void *arena_grow(struct arena *a, void *items, size_t n, size_t *cap, size_t elem)
{
	void *bigger;

	if (items && n < *cap)
		return items;
	*cap = *cap ? 2 * *cap : 8;
	bigger = arena_alloc(a, *cap * elem);
	if (n)
		memcpy(bigger, items, n * elem);
	return bigger;
}

void arena_on_destroy(struct arena *a, void (*fn)(void *), void *arg)
{
	struct cleanup *c = arena_alloc(a, sizeof(*c));

	c->fn = fn;
	c->arg = arg;
	c->next = a->cleanups;
	a->cleanups = c;
}

size_t arena_used(const struct arena *a)
{
	return a->used;
}
