#include "events/search.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/arena.h"
#include "core/enc.h"
#include "vault/vault.h"

#define TOKEN_BYTES 8
#define TOKEN_HEX (2 * TOKEN_BYTES)

static unsigned char fold(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

/* Distinct trigrams of the folded text, in first-seen order; returns how
 * many were written to out (room for len - 2). */
static size_t trigrams(const char *text, size_t len, uint32_t *out)
{
	size_t n = 0;

	for (size_t i = 0; i + 3 <= len; i++) {
		uint32_t t = (uint32_t)fold((unsigned char)text[i]) << 16 |
			     (uint32_t)fold((unsigned char)text[i + 1]) << 8 |
			     fold((unsigned char)text[i + 2]);
		size_t j;

		for (j = 0; j < n && out[j] != t; j++)
			;
		if (j == n)
			out[n++] = t;
	}
	return n;
}

/* Writes n tokens separated by sep into dst (n * (TOKEN_HEX + 1) bytes). */
static void write_tokens(const struct vault_mac *m, const uint32_t *tri, size_t n, char *dst)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t b[3] = { (uint8_t)(tri[i] >> 16), (uint8_t)(tri[i] >> 8), (uint8_t)tri[i] }, mac[32];

		vault_mac_compute(m, b, sizeof(b), mac);
		hex_encode(dst, mac, TOKEN_BYTES);
		dst += TOKEN_HEX;
		*dst++ = i + 1 < n ? ' ' : '\0';
	}
}

char *search_tokens(const struct vault_mac *m, const char *text, size_t len)
{
	uint32_t *tri;
	size_t n;
	char *out;

	if (len > SEARCH_MAX_TEXT)
		len = SEARCH_MAX_TEXT;
	if (!text || len < 3)
		return xstrdup("");
	tri = xmalloc((len - 2) * sizeof(*tri));
	n = trigrams(text, len, tri);
	out = xmalloc(n * (TOKEN_HEX + 1) + 1);
	out[0] = '\0';
	write_tokens(m, tri, n, out);
	free(tri);
	return out;
}

char *search_query_tokens(struct arena *a, const struct vault_mac *m, const char *q, size_t len)
{
	uint32_t *tri;
	size_t n;
	char *out;

	if (len > SEARCH_MAX_TEXT)
		len = SEARCH_MAX_TEXT;
	if (!q || len < SEARCH_MIN)
		return NULL;
	tri = arena_alloc(a, (len - 2) * sizeof(*tri));
	n = trigrams(q, len, tri);
	out = arena_alloc(a, n * (TOKEN_HEX + 1) + 1);
	out[0] = '\0';
	write_tokens(m, tri, n, out);
	return out;
}

/* The tokens are 16 hex digits: bare words to FTS5, so their list is
 * already the AND of them. */
char *search_query(struct arena *a, const struct vault_mac *m, const char *q, size_t len)
{
	return search_query_tokens(a, m, q, len);
}

int search_match(const char *hay, const char *needle)
{
	size_t hl = strlen(hay), nl = strlen(needle);

	if (nl == 0)
		return 1;
	for (size_t i = 0; i + nl <= hl; i++) {
		size_t j = 0;

		while (j < nl && fold((unsigned char)hay[i + j]) == fold((unsigned char)needle[j]))
			j++;
		if (j == nl)
			return 1;
	}
	return 0;
}
