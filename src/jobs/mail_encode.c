/* Encoders for src/jobs/mail.c: text cleaning to valid UTF-8 without
 * controls, header writing with folding and RFC 2047 encoded-words, and
 * quoted-printable bodies. The contract is in jobs/mail_int.h. */
#include "jobs/mail_int.h"

#include <stdint.h>
#include <string.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/enc.h"

#define LINE_SOFT 78          /* RFC 5322 2.1.1: lines SHOULD stay within 78 */
#define QP_LINE 76            /* RFC 2045 6.7: encoded lines, soft break included */
#define EWORD_MAX 75          /* RFC 2047 2: one encoded-word */
#define EWORD_BYTES 45        /* raw bytes in a 75-byte "=?UTF-8?B?…?=" (60 base64) */

/* ---- text: UTF-8 and control characters ---- */

/* One character of s[0..n): its length, the code point in *cp; an invalid
 * or truncated sequence (overlong, surrogate, past U+10FFFF) is one byte
 * read as U+FFFD. */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
	uint32_t c = s[0], min = 0;
	size_t len = 0, i;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xC2 && c <= 0xDF)
		len = 2, c &= 0x1F, min = 0x80;
	else if (c >= 0xE0 && c <= 0xEF)
		len = 3, c &= 0x0F, min = 0x800;
	else if (c >= 0xF0 && c <= 0xF4)
		len = 4, c &= 0x07, min = 0x10000;
	if (len == 0 || len > n)
		goto bad;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			goto bad;
		c = c << 6 | (s[i] & 0x3F);
	}
	if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		goto bad;
	*cp = c;
	return len;
bad:
	*cp = 0xFFFD;
	return 1;
}

static size_t utf8_put(char *o, uint32_t c)
{
	if (c < 0x80) {
		o[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		o[0] = (char)(0xC0 | c >> 6);
		o[1] = (char)(0x80 | (c & 0x3F));
		return 2;
	}
	if (c < 0x10000) {
		o[0] = (char)(0xE0 | c >> 12);
		o[1] = (char)(0x80 | (c >> 6 & 0x3F));
		o[2] = (char)(0x80 | (c & 0x3F));
		return 3;
	}
	o[0] = (char)(0xF0 | c >> 18);
	o[1] = (char)(0x80 | (c >> 12 & 0x3F));
	o[2] = (char)(0x80 | (c >> 6 & 0x3F));
	o[3] = (char)(0x80 | (c & 0x3F));
	return 4;
}

static int is_control(uint32_t c)
{
	return c < 0x20 || (c >= 0x7F && c <= 0x9F);
}

static int is_break(uint32_t c)
{
	return c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || c == 0x85 || c == 0x2028 ||
	       c == 0x2029;
}

/* Bidirectional overrides and isolates: in a header they only serve to
 * make one name look like another. */
static int is_bidi(uint32_t c)
{
	return (c >= 0x202A && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069) || c == 0xFEFF;
}

/* s[0..n) as valid UTF-8 without control characters (see the modes), in
 * the arena, at most max bytes (cut on a character); *outlen gets its
 * length when outlen is not NULL. */
char *mail_clean(struct arena *a, const char *s, size_t n, enum mail_clean_mode mode,
		 size_t max, size_t *outlen)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t cap = n > SIZE_MAX / 3 - 1 ? SIZE_MAX / 3 - 1 : n, len = 0, i = 0, k;
	char *out, tmp[4];
	int space = 0;
	uint32_t c;

	if (cap * 3 < max)
		max = cap * 3;
	out = arena_alloc(a, max + 1);
	while (i < n) {
		k = utf8_next(u + i, n - i, &c);
		if (mode == MAIL_CLEAN_TEXT && c == '\r' && i + 1 < n && u[i + 1] == '\n')
			k = 2, c = '\n';
		i += k;
		if (mode == MAIL_CLEAN_LINE) {
			if (c == ' ' || c == '\t' || is_break(c)) {
				space = len > 0;
				continue;
			}
			if (is_control(c) || is_bidi(c))
				continue;
		} else if (is_break(c)) {
			c = '\n';
		} else if (c != '\t' && is_control(c)) {
			continue;
		}
		k = utf8_put(tmp, c);
		if (len + (size_t)space + k > max)
			break;
		if (space)
			out[len++] = ' ';
		space = 0;
		memcpy(out + len, tmp, k);
		len += k;
	}
	out[len] = '\0';
	if (outlen)
		*outlen = len;
	return out;
}

/* ---- headers ---- */

static size_t hw_col(const struct mail_hw *w)
{
	return w->b->len - w->line;
}

void mail_hw_put(struct mail_hw *w, const char *s, size_t n)
{
	if (!w->rc)
		w->rc = buf_append(w->b, s, n);
}

void mail_hw_puts(struct mail_hw *w, const char *s)
{
	mail_hw_put(w, s, strlen(s));
}

static void hw_fold(struct mail_hw *w)
{
	mail_hw_put(w, "\r\n", 2);
	w->line = w->b->len;
	mail_hw_put(w, " ", 1);
}

static void hw_end(struct mail_hw *w)
{
	mail_hw_put(w, "\r\n", 2);
	w->line = w->b->len;
}

/* A header whose value is built here from checked parts (dates, ids,
 * addresses, fixed words): printable ASCII by construction. */
void mail_hdr_raw(struct mail_hw *w, const char *name, const char *value)
{
	mail_hw_puts(w, name);
	mail_hw_put(w, ": ", 2);
	mail_hw_puts(w, value);
	hw_end(w);
}

/* UTF-8 text as encoded-words (RFC 2047, B), each on its own line after
 * the first, cut on characters so every word decodes alone. */
static void put_ewords(struct mail_hw *w, const char *s, size_t n)
{
	char b64[64];
	size_t i = 0, j, k, room, max;
	uint32_t c;

	while (i < n) {
		if (i > 0 || hw_col(w) + 20 > LINE_SOFT)
			hw_fold(w);
		room = LINE_SOFT - hw_col(w);
		if (room > EWORD_MAX)
			room = EWORD_MAX;
		max = (room - 12) / 4 * 3;
		if (max > EWORD_BYTES)
			max = EWORD_BYTES;
		for (j = i; j < n; j += k) {
			k = utf8_next((const unsigned char *)s + j, n - j, &c);
			if (j + k - i > max)
				break;
		}
		b64_encode(b64, (const uint8_t *)s + i, j - i);
		mail_hw_put(w, "=?UTF-8?B?", 10);
		mail_hw_puts(w, b64);
		mail_hw_put(w, "?=", 2);
		i = j;
	}
}

/* 1 when cleaned text can go out as itself: printable ASCII, no "=?" a
 * reader would take for an encoded-word, and no word too long to fold. */
static int plain_ok(const char *s, size_t n, size_t longest)
{
	size_t word = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] < 0x20 || s[i] > 0x7E || (s[i] == '=' && i + 1 < n && s[i + 1] == '?'))
			return 0;
		word = s[i] == ' ' ? 0 : word + 1;
		if (word > longest)
			return 0;
	}
	return 1;
}

/* An unstructured header (Subject) from cleaned one-line text: plain words
 * folded at spaces, or encoded-words. */
void mail_hdr_text(struct mail_hw *w, const char *name, const char *s)
{
	size_t n = strlen(s), i = 0, j;

	mail_hw_puts(w, name);
	mail_hw_put(w, ": ", 2);
	if (!plain_ok(s, n, LINE_SOFT - 1 - hw_col(w))) {
		put_ewords(w, s, n);
	} else {
		while (i < n) {
			for (j = i; j < n && s[j] != ' '; j++)
				;
			if (i > 0) {
				if (hw_col(w) + 1 + (j - i) > LINE_SOFT)
					hw_fold(w);
				else
					mail_hw_put(w, " ", 1);
			}
			mail_hw_put(w, s + i, j - i);
			i = j < n ? j + 1 : j;
		}
	}
	hw_end(w);
}

/* An address list, folded between addresses. */
void mail_hdr_addrs(struct mail_hw *w, const char *name, const char *const *addrs, size_t n)
{
	mail_hw_puts(w, name);
	mail_hw_put(w, ": ", 2);
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(addrs[i]);

		if (i > 0) {
			mail_hw_put(w, ",", 1);
			if (hw_col(w) + 1 + len + 1 > LINE_SOFT)
				hw_fold(w);
			else
				mail_hw_put(w, " ", 1);
		}
		mail_hw_put(w, addrs[i], len);
	}
	hw_end(w);
}

/* From: the sender's name as a quoted-string or encoded-words, then the
 * address. */
void mail_hdr_mailbox(struct mail_hw *w, const char *name, const char *display,
		      const char *addr)
{
	size_t n = display ? strlen(display) : 0;

	mail_hw_puts(w, name);
	mail_hw_put(w, ": ", 2);
	if (n) {
		if (plain_ok(display, n, n)) {
			mail_hw_put(w, "\"", 1);
			for (size_t i = 0; i < n; i++) {
				if (display[i] == '"' || display[i] == '\\')
					mail_hw_put(w, "\\", 1);
				mail_hw_put(w, display + i, 1);
			}
			mail_hw_put(w, "\"", 1);
		} else {
			put_ewords(w, display, n);
		}
		if (hw_col(w) + 3 + strlen(addr) > LINE_SOFT)
			hw_fold(w);
		else
			mail_hw_put(w, " ", 1);
		mail_hw_put(w, "<", 1);
		mail_hw_puts(w, addr);
		mail_hw_put(w, ">", 1);
	} else {
		mail_hw_puts(w, addr);
	}
	hw_end(w);
}

/* ---- bodies ---- */

/* Quoted-printable (RFC 2045 6.7) of text with "\n" line ends: CRLF hard
 * breaks, soft breaks keeping every line within 76 bytes. Encoded: "=",
 * controls, 8-bit bytes, a space or tab before a break, and at the start
 * of a line a "." (harmless, though dot-stuffing stays the sender's job)
 * or the "F" of "From " (which mbox readers would mangle). */
int mail_qp_encode(struct buf *out, const char *s, size_t n)
{
	static const char hexd[] = "0123456789ABCDEF";
	size_t col = 0;
	int rc = 0;

	for (size_t i = 0; i < n && !rc; i++) {
		unsigned char c = (unsigned char)s[i];
		int eol = i + 1 == n || s[i + 1] == '\n', enc;
		char e[3] = { '=', hexd[c >> 4], hexd[c & 15] };

		if (c == '\n') {
			rc = buf_append(out, "\r\n", 2);
			col = 0;
			continue;
		}
		enc = (c == ' ' || c == '\t') ? eol : (c < 33 || c > 126 || c == '=');
		if (!enc && col + 1 > QP_LINE - 1) {
			rc = buf_append(out, "=\r\n", 3);
			col = 0;
		} else if (enc && col + 3 > QP_LINE - 1) {
			rc = buf_append(out, "=\r\n", 3);
			col = 0;
		}
		if (col == 0 && (c == '.' || (c == 'F' && n - i >= 5 && memcmp(s + i, "From ", 5) == 0)))
			enc = 1;
		if (!rc)
			rc = enc ? buf_append(out, e, 3) : buf_append(out, s + i, 1);
		col += enc ? 3 : 1;
	}
	return rc;
}
