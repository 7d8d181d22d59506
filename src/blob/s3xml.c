#include "blob/s3xml.h"

#include <string.h>

#include "core/buf.h"
#include "core/err.h"

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* A name ends at whitespace, '>', '/', the end of the input, or a byte no
 * name may hold ('<', NUL). */
static int ends_name(const char *xml, size_t len, size_t i)
{
	return i >= len || is_space(xml[i]) || xml[i] == '>' || xml[i] == '/' || xml[i] == '<' || xml[i] == '\0';
}

/* Offset just past the '>' that closes the tag opened at i ('<'), skipping
 * quoted attribute values (which may hold '>'); 0 when it never closes. */
static size_t tag_end(const char *xml, size_t len, size_t i)
{
	char quote = 0;

	for (i++; i < len; i++) {
		if (quote) {
			if (xml[i] == quote)
				quote = 0;
		} else if (xml[i] == '"' || xml[i] == '\'') {
			quote = xml[i];
		} else if (xml[i] == '>') {
			return i + 1;
		}
	}
	return 0;
}

int s3xml_root(const char *xml, size_t len, char *out, size_t size)
{
	size_t i = 0, n;

	for (;;) {
		while (i < len && is_space(xml[i]))
			i++;
		if (i >= len || xml[i] != '<')
			return INLET_EINVAL;
		if (i + 1 < len && (xml[i + 1] == '?' || xml[i + 1] == '!')) {
			/* The prolog, a comment or a doctype: not the root. */
			if (!(i = tag_end(xml, len, i)))
				return INLET_EINVAL;
			continue;
		}
		break;
	}
	i++;
	for (n = 0; !ends_name(xml, len, i + n); n++)
		;
	if (n == 0)
		return INLET_EINVAL;
	if (n >= size)
		return INLET_ETOOBIG;
	memcpy(out, xml + i, n);
	out[n] = '\0';
	return 0;
}

int s3xml_element(const char *xml, size_t len, size_t *pos, const char *tag, size_t *start, size_t *clen)
{
	size_t tl = strlen(tag), i = *pos, end, j;

	while (i < len) {
		const char *lt = memchr(xml + i, '<', len - i);

		if (!lt)
			return 0;
		i = (size_t)(lt - xml);
		if (len - i - 1 < tl || memcmp(xml + i + 1, tag, tl) != 0 || !ends_name(xml, len, i + 1 + tl)) {
			i++;
			continue;
		}
		if (!(end = tag_end(xml, len, i)))
			return INLET_EINVAL;
		if (xml[end - 2] == '/') { /* <tag/> */
			*start = end;
			*clen = 0;
			*pos = end;
			return 1;
		}
		/* The first end tag of this name closes it: the answers read here
		 * never nest an element in one of its own name. */
		for (j = end; j < len; j++) {
			size_t k;

			if (xml[j] != '<' || j + 1 >= len || xml[j + 1] != '/')
				continue;
			if (len - j - 2 < tl || memcmp(xml + j + 2, tag, tl) != 0)
				continue;
			k = j + 2 + tl;
			while (k < len && is_space(xml[k]))
				k++;
			if (k < len && xml[k] == '>') {
				*start = end;
				*clen = j - end;
				*pos = k + 1;
				return 1;
			}
		}
		return INLET_EINVAL;
	}
	return 0;
}

/* Writes code point cp as UTF-8 at out[*n], which has room for 4 bytes. XML's own rules: no NUL, no surrogates, at most
 * U+10FFFF. */
static int put_utf8(char *out, size_t *n, unsigned long cp)
{
	if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return INLET_EINVAL;
	if (cp < 0x80) {
		out[(*n)++] = (char)cp;
	} else if (cp < 0x800) {
		out[(*n)++] = (char)(0xC0 | (cp >> 6));
		out[(*n)++] = (char)(0x80 | (cp & 0x3F));
	} else if (cp < 0x10000) {
		out[(*n)++] = (char)(0xE0 | (cp >> 12));
		out[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
		out[(*n)++] = (char)(0x80 | (cp & 0x3F));
	} else {
		out[(*n)++] = (char)(0xF0 | (cp >> 18));
		out[(*n)++] = (char)(0x80 | ((cp >> 12) & 0x3F));
		out[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
		out[(*n)++] = (char)(0x80 | (cp & 0x3F));
	}
	return 0;
}

/* Decodes the reference that starts at raw[*i] ('&') into out[*n] (room
 * for 4 bytes); *i is left on its ';'. */
static int decode_ref(const char *raw, size_t len, size_t *i, char *out, size_t *n)
{
	static const struct {
		const char *name;
		char c;
	} named[] = { { "amp", '&' }, { "lt", '<' }, { "gt", '>' }, { "quot", '"' }, { "apos", '\'' } };
	const char *semi = memchr(raw + *i, ';', len - *i);
	size_t from = *i + 1, rl;

	if (!semi)
		return INLET_EINVAL;
	rl = (size_t)(semi - raw) - from;
	*i = (size_t)(semi - raw);
	if (rl >= 2 && raw[from] == '#') {
		int hex = raw[from + 1] == 'x';
		unsigned long cp = 0;
		size_t k = from + 1 + (size_t)hex;

		if (k == (size_t)(semi - raw) || (size_t)(semi - raw) - k > 8)
			return INLET_EINVAL;
		for (; k < (size_t)(semi - raw); k++) {
			char c = raw[k];
			int d = c >= '0' && c <= '9' ? c - '0'
				: hex && c >= 'a' && c <= 'f' ? c - 'a' + 10
				: hex && c >= 'A' && c <= 'F' ? c - 'A' + 10
				: -1;

			if (d < 0)
				return INLET_EINVAL;
			cp = cp * (hex ? 16 : 10) + (unsigned long)d;
		}
		return put_utf8(out, n, cp);
	}
	for (size_t k = 0; k < sizeof(named) / sizeof(named[0]); k++)
		if (strlen(named[k].name) == rl && memcmp(raw + from, named[k].name, rl) == 0) {
			out[(*n)++] = named[k].c;
			return 0;
		}
	return INLET_EINVAL;
}

int s3xml_text(const char *raw, size_t len, char *out, size_t size)
{
	size_t n = 0;
	int rc;

	for (size_t i = 0; i < len; i++) {
		char one[4];
		size_t k = 0;

		if (raw[i] == '<')
			return INLET_EINVAL;
		if (raw[i] != '&')
			one[k++] = raw[i];
		else if ((rc = decode_ref(raw, len, &i, one, &k)))
			return rc;
		if (size - n <= k) /* and the NUL */
			return INLET_ETOOBIG;
		memcpy(out + n, one, k);
		n += k;
	}
	if (size == 0)
		return INLET_ETOOBIG;
	out[n] = '\0';
	return 0;
}

int s3xml_next(const char *xml, size_t len, size_t *pos, const char *tag, char *out, size_t size)
{
	size_t start, clen;
	int rc = s3xml_element(xml, len, pos, tag, &start, &clen);

	if (rc != 1)
		return rc;
	return (rc = s3xml_text(xml + start, clen, out, size)) ? rc : 1;
}

int s3xml_escape(struct buf *b, const char *s)
{
	int rc = 0;

	for (; *s && !rc; s++) {
		switch (*s) {
		case '&': rc = buf_puts(b, "&amp;"); break;
		case '<': rc = buf_puts(b, "&lt;"); break;
		case '>': rc = buf_puts(b, "&gt;"); break;
		case '"': rc = buf_puts(b, "&quot;"); break;
		case '\'': rc = buf_puts(b, "&apos;"); break;
		default: rc = buf_putc(b, *s); break;
		}
	}
	return rc;
}
