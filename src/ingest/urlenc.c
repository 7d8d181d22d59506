#include "ingest/urlenc.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/enc.h"
#include "core/err.h"

/* One loop serves both the measuring pass (dst NULL) and the writing pass,
 * so the two can never disagree on a length. Writing in place is safe
 * because the write index never passes the read index. */
static size_t decode(char *dst, const char *src, size_t len, int plus_is_space)
{
	size_t i = 0, o = 0;

	while (i < len) {
		unsigned char c = (unsigned char)src[i];
		int hi, lo;

		if (c == '%' && len - i >= 3 &&
		    (hi = hex_digit((unsigned char)src[i + 1])) >= 0 &&
		    (lo = hex_digit((unsigned char)src[i + 2])) >= 0) {
			c = (unsigned char)(hi << 4 | lo);
			i += 3;
		} else {
			/* A malformed escape stays as the literal '%', as in
			 * browsers; the bytes after it are read normally. */
			if (c == '+' && plus_is_space)
				c = ' ';
			i++;
		}
		if (dst)
			dst[o] = (char)c;
		o++;
	}
	return o;
}

size_t urlenc_decode(char *dst, const char *src, size_t len, int plus_is_space)
{
	return decode(dst, src, len, plus_is_space);
}

/* Scratch space for one decoded pair, reused across pairs. It only grows
 * after the limits have been checked, so it stays below
 * max_name_len + max_value_len. */
struct scratch {
	char *p;
	size_t cap;
};

static char *scratch_get(struct scratch *s, size_t n)
{
	if (n > s->cap) {
		free(s->p);
		s->p = xmalloc(n);
		s->cap = n;
	}
	return s->p;
}

static int add_pair(struct arena *a, const char *pair, size_t len,
		    const struct form_limits *lim, struct kv_list *out,
		    struct scratch *s)
{
	const char *eq = memchr(pair, '=', len);
	size_t raw_name = eq ? (size_t)(eq - pair) : len;
	const char *raw_value = eq ? eq + 1 : pair + len;
	size_t raw_value_len = len - raw_name - (eq ? 1 : 0);
	size_t name_len, value_len;
	char *tmp;
	int rc = 0;

	if (out->n >= lim->max_fields) {
		rc = INLET_ETOOMANY;
		goto out;
	}
	/* Decoding never lengthens, so raw lengths within the limits need no
	 * measuring pass. Longer ones are measured first, so a hostile 10 MB
	 * value is refused before a byte of it is copied anywhere. */
	if (raw_name > lim->max_name_len || raw_value_len > lim->max_value_len) {
		name_len = decode(NULL, pair, raw_name, 1);
		value_len = decode(NULL, raw_value, raw_value_len, 1);
		if (name_len > lim->max_name_len || value_len > lim->max_value_len) {
			rc = INLET_ETOOBIG;
			goto out;
		}
	}
	tmp = scratch_get(s, raw_name + raw_value_len + 1);
	name_len = decode(tmp, pair, raw_name, 1);
	value_len = decode(tmp + name_len, raw_value, raw_value_len, 1);
	rc = kv_add(a, out, lim, tmp, name_len, tmp + name_len, value_len);
out:
	return rc;
}

int urlenc_parse(struct arena *a, const char *buf, size_t len,
		 const struct form_limits *lim, struct kv_list *out)
{
	struct scratch s = { NULL, 0 };
	size_t i = 0;
	int rc = 0;

	while (i < len) {
		const char *amp = memchr(buf + i, '&', len - i);
		size_t n = amp ? (size_t)(amp - (buf + i)) : len - i;

		/* "a=1&&b=2" and a trailing '&' carry no pair. */
		if (n) {
			rc = add_pair(a, buf + i, n, lim, out, &s);
			if (rc)
				goto out;
		}
		i += n + 1;
	}
out:
	free(s.p);
	return rc;
}
