/* What every blob backend shares: the key rules and closing. */
#include "blob/blob.h"

#include <string.h>

int blob_key_ok(const char *key, int prefix)
{
	const char *seg = key;

	if (!*key)
		return 0;
	for (const char *p = key;; p++) {
		if (*p == '/' || *p == '\0') {
			size_t n = (size_t)(p - seg);

			/* An empty, "." or ".." segment would name another
			 * place on disk, or another object after a URL's
			 * normalization; only a prefix may end in '/'. */
			if ((n == 0 && !(prefix && *p == '\0' && p != key)) || (n == 1 && seg[0] == '.') ||
			    (n == 2 && seg[0] == '.' && seg[1] == '.'))
				return 0;
			if (*p == '\0')
				return 1;
			seg = p + 1;
			continue;
		}
		if (!(*p == '.' || *p == '-' || *p == '_' || (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
		      (*p >= 'A' && *p <= 'Z')))
			return 0;
	}
}

void blob_close(struct blob_store *s)
{
	if (s)
		s->ops->destroy(s);
}
