#include "http/server.h"

#include <string.h>

/* Segment-wise match: literal segments compare exactly, "{name}" takes one
 * non-empty segment. The path's segments are copied into buf so values can
 * be NUL-terminated without touching the path. */
int route_match(const char *pattern, const char *path, char *buf, size_t bufsize,
		const char **names, const char **values, int max)
{
	const char *p = pattern, *u = path;
	char *out = buf;
	int n = 0;

	if (strlen(path) + strlen(pattern) + 2 > bufsize)
		return -1;
	while (*p && *u) {
		if (*p != '/' || *u != '/')
			return -1;
		p++;
		u++;
		size_t plen = strcspn(p, "/"), ulen = strcspn(u, "/");

		if (plen > 2 && p[0] == '{' && p[plen - 1] == '}') {
			if (ulen == 0 || n >= max)
				return -1;
			/* Names point into the pattern: copy them NUL-terminated too. */
			memcpy(out, p + 1, plen - 2);
			out[plen - 2] = '\0';
			names[n] = out;
			out += plen - 1;
			memcpy(out, u, ulen);
			out[ulen] = '\0';
			values[n++] = out;
			out += ulen + 1;
		} else if (plen != ulen || memcmp(p, u, plen) != 0) {
			return -1;
		}
		p += plen;
		u += ulen;
	}
	return (*p == '\0' && *u == '\0') ? n : -1;
}
