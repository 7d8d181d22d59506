#include "core/jsonw.h"

#include <stdio.h>
#include <string.h>

void jsonw_init(struct jsonw *w, struct buf *b)
{
	w->b = b;
	w->rc = 0;
	w->first = 1;
}

void jsonw_raw(struct jsonw *w, const char *s, size_t n)
{
	int rc;

	if (!w->rc && (rc = buf_append(w->b, s, n)))
		w->rc = rc;
}

void jsonw_sep(struct jsonw *w)
{
	if (!w->first)
		jsonw_raw(w, ",", 1);
	w->first = 0;
}

/* Bytes that need no escaping in a JSON string. */
static int plain(unsigned char c)
{
	return c >= 0x20 && c != '"' && c != '\\';
}

void jsonw_str(struct jsonw *w, const char *s, size_t n)
{
	size_t i = 0;

	jsonw_raw(w, "\"", 1);
	while (i < n) {
		size_t run = i;
		unsigned char c;
		char esc[8];

		/* Copy runs of plain bytes at once: most text is one run. */
		while (run < n && plain((unsigned char)s[run]))
			run++;
		if (run > i)
			jsonw_raw(w, s + i, run - i);
		if (run >= n)
			break;
		c = (unsigned char)s[run];
		switch (c) {
		case '"': jsonw_raw(w, "\\\"", 2); break;
		case '\\': jsonw_raw(w, "\\\\", 2); break;
		case '\n': jsonw_raw(w, "\\n", 2); break;
		case '\r': jsonw_raw(w, "\\r", 2); break;
		case '\t': jsonw_raw(w, "\\t", 2); break;
		default:
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			jsonw_raw(w, esc, 6);
		}
		i = run + 1;
	}
	jsonw_raw(w, "\"", 1);
}

void jsonw_key(struct jsonw *w, const char *key, size_t n)
{
	jsonw_sep(w);
	jsonw_str(w, key, n);
	jsonw_raw(w, ":", 1);
}

void jsonw_int(struct jsonw *w, int64_t v)
{
	char num[24];
	int n = snprintf(num, sizeof(num), "%lld", (long long)v);

	jsonw_raw(w, num, (size_t)n);
}

void jsonw_open(struct jsonw *w, char c)
{
	jsonw_raw(w, &c, 1);
	w->first = 1;
}

void jsonw_close(struct jsonw *w, char c)
{
	jsonw_raw(w, &c, 1);
	w->first = 0;
}
