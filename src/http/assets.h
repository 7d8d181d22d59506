/* Files compiled into the binary by scripts/embed.c (build/gen/assets.c). */
#ifndef INLET_HTTP_ASSETS_H
#define INLET_HTTP_ASSETS_H

#include <stddef.h>

struct asset {
	const char *path;          /* as given to embed, e.g. "docs/openapi.json" */
	const unsigned char *data; /* NUL-terminated past size */
	size_t size;
};

extern const struct asset assets_table[];

/* The asset at path, or NULL. */
const struct asset *assets_find(const char *path);

#endif
