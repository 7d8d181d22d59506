#include "ingest/kv.h"

#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "core/arena.h"
#include "core/err.h"

void kv_init(struct kv_list *l)
{
	l->items = NULL;
	l->n = 0;
	l->cap = 0;
}

/* The array lives in the arena, so growing leaves the old copy behind until
 * the request ends; doubling keeps that waste below the final size. */
static void grow(struct arena *a, struct kv_list *l, size_t max_fields)
{
	size_t cap = l->cap ? l->cap * 2 : 8;
	struct kv *items;

	/* Never allocate beyond what the limit can ever use. */
	if (cap > max_fields)
		cap = max_fields;
	assert(cap > l->n && cap <= SIZE_MAX / sizeof(*items));
	items = arena_alloc(a, cap * sizeof(*items));
	if (l->n)
		memcpy(items, l->items, l->n * sizeof(*items));
	l->items = items;
	l->cap = cap;
}

int kv_add(struct arena *a, struct kv_list *l, const struct form_limits *lim,
	   const char *name, size_t name_len, const char *value, size_t value_len)
{
	struct kv *kv;
	int rc = 0;

	/* Every cap is checked before anything is allocated. */
	if (l->n >= lim->max_fields) {
		rc = INLET_ETOOMANY;
		goto out;
	}
	if (name_len > lim->max_name_len || value_len > lim->max_value_len) {
		rc = INLET_ETOOBIG;
		goto out;
	}
	if (l->n == l->cap)
		grow(a, l, lim->max_fields);
	kv = &l->items[l->n++];
	kv->name = arena_strndup(a, name_len ? name : "", name_len);
	kv->name_len = name_len;
	kv->value = arena_strndup(a, value_len ? value : "", value_len);
	kv->value_len = value_len;
out:
	return rc;
}

const struct kv *kv_get(const struct kv_list *l, const char *name)
{
	size_t len = strlen(name), i;

	/* Length first: a stored name with a NUL inside must not match its
	 * prefix. */
	for (i = 0; i < l->n; i++) {
		const struct kv *kv = &l->items[i];

		if (kv->name_len == len && memcmp(kv->name, name, len) == 0)
			return kv;
	}
	return NULL;
}
