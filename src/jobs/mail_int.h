/* Folder-private to src/jobs/: the encoders mail.c composes messages with
 * (mail_encode.c): text cleaning, header writing (folding, RFC 2047
 * encoded-words) and quoted-printable. The public contract is mail.h. */
#ifndef INLET_JOBS_MAIL_INT_H
#define INLET_JOBS_MAIL_INT_H

#include <stddef.h>
#include <stdint.h>

struct arena;
struct buf;

enum mail_clean_mode {
	MAIL_CLEAN_LINE, /* for headers and labels: breaks, tabs and runs of
			  * spaces become one space, other controls and bidi
			  * overrides vanish, ends trimmed */
	MAIL_CLEAN_TEXT  /* for bodies: line breaks become "\n", tabs stay,
			  * other controls vanish */
};

/* s[0..n) as valid UTF-8 without control characters (see the modes), in
 * the arena, at most max bytes (cut on a character); *outlen gets its
 * length when outlen is not NULL. */
char *mail_clean(struct arena *a, const char *s, size_t n, enum mail_clean_mode mode,
		 size_t max, size_t *outlen);

/* A header writer: sticky error, and where the current line starts so
 * folding knows the column. */
struct mail_hw {
	struct buf *b;
	size_t line;  /* offset in b of the current line */
	int rc;       /* first append error, sticky */
};

/* Raw bytes into the message (nothing added or checked). */
void mail_hw_put(struct mail_hw *w, const char *s, size_t n);
void mail_hw_puts(struct mail_hw *w, const char *s);

/* A header whose value is built by the caller from checked parts (dates,
 * ids, addresses, fixed words): printable ASCII by construction. */
void mail_hdr_raw(struct mail_hw *w, const char *name, const char *value);

/* An unstructured header (Subject) from cleaned one-line text: plain words
 * folded at spaces, or encoded-words. */
void mail_hdr_text(struct mail_hw *w, const char *name, const char *s);

/* An address list of valid addr-specs, folded between addresses. */
void mail_hdr_addrs(struct mail_hw *w, const char *name, const char *const *addrs, size_t n);

/* A mailbox: the cleaned display name (or NULL) as a quoted-string or
 * encoded-words, then the address. */
void mail_hdr_mailbox(struct mail_hw *w, const char *name, const char *display,
		      const char *addr);

/* Quoted-printable (RFC 2045 6.7) of text with "\n" line ends, appended to
 * out: CRLF hard breaks, every line within 76 bytes (see mail_encode.c). */
int mail_qp_encode(struct buf *out, const char *s, size_t n);

/* Shared by the composers (mail.c, mail_invite.c). */

/* INLET_SMTP_FROM ("addr", "Name <addr>" or "\"Name\" <addr>"): *addr the
 * checked addr-spec, *display the cleaned name or NULL, in the arena.
 * INLET_EINVAL when the address is not valid. */
int mail_from_parse(struct arena *a, const char *from, const char **addr, const char **display);
/* 1 when s[0..n) is an http(s) URL safe to write into a message: printable
 * ASCII without spaces, quotes, angle brackets and the like, within 512
 * bytes. */
int mail_url_ok(const char *s, size_t n);
/* RFC 5322 date of ms (0: now) into out (96 bytes are enough). */
void mail_date(int64_t ms, char *out, size_t size);
/* The last line of defence: every byte 7-bit printable, SP or TAB; CR only
 * in CRLF; lines within 998; the header section only "Name: value" lines
 * and their folds, ended by an empty line. 1 when m[0..n) passes. */
int mail_message_ok(const char *m, size_t n);

#endif
