/* An ordered list of decoded name/value pairs, allocated in an arena. Every
 * form parser produces one; repeated names stay as separate pairs here and
 * are merged into arrays later (ingest/fields.c), so order is kept. Values
 * may contain NUL bytes; name and value are also NUL-terminated for
 * convenience. */
#ifndef INLET_INGEST_KV_H
#define INLET_INGEST_KV_H

#include <stddef.h>

struct arena;

struct kv {
	const char *name;  /* arena; NUL-terminated */
	size_t name_len;
	const char *value; /* arena; NUL-terminated */
	size_t value_len;
};

struct kv_list {
	struct kv *items; /* arena */
	size_t n, cap;
};

/* Limits every form parser honours; exceeding one fails with the code
 * named beside it, and the list is then unusable. A limit is taken
 * literally: 0 allows nothing (there is no "unlimited"). */
struct form_limits {
	size_t max_fields;      /* pairs; INLET_ETOOMANY */
	size_t max_name_len;    /* decoded bytes; INLET_ETOOBIG */
	size_t max_value_len;   /* decoded bytes; INLET_ETOOBIG */
};

void kv_init(struct kv_list *l);
/* Copies name and value into the arena. INLET_ETOOMANY past max_fields. */
int kv_add(struct arena *a, struct kv_list *l, const struct form_limits *lim,
	   const char *name, size_t name_len, const char *value, size_t value_len);
/* First value for name, or NULL. */
const struct kv *kv_get(const struct kv_list *l, const char *name);

#endif
