#include "jobs/mail.h"

#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/enc.h"
#include "core/err.h"

#include "jobs/mail_int.h"

#define LINE_HARD 998         /* RFC 5322 2.1.1: lines MUST stay within 998 */
#define NAME_MAX_BYTES 256    /* a field name as shown */
#define LABEL_MAX_BYTES 200   /* endpoint name, file name, content type, date */
#define DISPLAY_MAX_BYTES 64  /* the sender's display name */
#define URL_MAX_BYTES 512     /* dashboard_url */
#define MSGID_LOCAL_MAX 64
#define BOUNDARY_TRIES 8

/* The parts of a message, decided once from the input so the composers and
 * mail_envelope_recipients() cannot disagree. Strings are arena copies that
 * already passed their check or their cleaner. */
struct plan {
	const char *from;         /* valid addr-spec */
	const char *display;      /* cleaned one-line sender name, or NULL */
	const char **rcpt;        /* To then Cc: valid, no duplicates */
	size_t nto, ncc;          /* rcpt holds nto + ncc */
	const char *reply_to;     /* valid addr-spec, or NULL */
	const char *subject;      /* cleaned one-line, never empty */
	const char *endpoint;     /* cleaned one-line endpoint name */
	const char *id;           /* the submission id, raw (percent-encoded in links) */
	size_t idlen;
	const char *dash;         /* dashboard_url without trailing "/", or NULL */
	const char *created;      /* cleaned created_at, or NULL */
	const char *text;         /* autoresponse body, cleaned multi-line */
	size_t textlen;
	json_object *fields;      /* borrowed from the submission; may be NULL */
	json_object *files;       /* same */
};

/* A JSON string member as a cleaned string, or NULL when absent or not a
 * string. The length is json-c's, so an embedded NUL is seen (and removed)
 * rather than cutting the value short. */
static char *member_clean(struct arena *a, json_object *o, const char *key,
			  enum mail_clean_mode mode, size_t max)
{
	json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return mail_clean(a, json_object_get_string(v), (size_t)json_object_get_string_len(v), mode,
			  max, NULL);
}

/* ---- addresses ---- */

static int is_alnum(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static int is_atext(int c)
{
	return is_alnum(c) || (c && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

static int addr_valid_n(const char *s, size_t n)
{
	const char *at, *d;
	size_t local, dn, i, label = 0, labels = 0;
	int digits = 1, dot = 1;

	if (!s || n < 3 || n > MAIL_ADDR_MAX || !(at = memchr(s, '@', n)))
		return 0;
	local = (size_t)(at - s);
	if (local < 1 || local > MAIL_LOCAL_MAX)
		return 0;
	/* dot-atom, and no "=?" that a careless reader might decode */
	for (i = 0; i < local; i++) {
		if (s[i] == '.') {
			if (dot)
				return 0;
			dot = 1;
		} else if (is_atext((unsigned char)s[i]) && !(s[i] == '=' && s[i + 1] == '?')) {
			dot = 0;
		} else {
			return 0;
		}
	}
	if (dot)
		return 0;
	d = at + 1;
	dn = n - local - 1;
	for (i = 0; i < dn; i++) {
		if (d[i] == '.') {
			if (label == 0 || d[i - 1] == '-')
				return 0;
			labels++;
			label = 0;
			digits = 1;
		} else if (is_alnum((unsigned char)d[i]) || (d[i] == '-' && label > 0)) {
			if (++label > 63)
				return 0;
			if (d[i] < '0' || d[i] > '9')
				digits = 0;
		} else {
			return 0;
		}
	}
	if (label == 0 || d[dn - 1] == '-' || digits)
		return 0;
	return labels + 1 >= 2;
}

int mail_address_valid(const char *s)
{
	return s ? addr_valid_n(s, strlen(s)) : 0;
}

static int in_list(const char **list, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(list[i], s) == 0)
			return 1;
	return 0;
}

/* ---- bodies ---- */

static void html_escape(struct buf *b, const char *s, size_t n, int *rc)
{
	size_t i, start = 0;
	const char *rep;

	for (i = 0; i < n && !*rc; i++) {
		switch (s[i]) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&quot;"; break;
		case '\'': rep = "&#39;"; break;
		case '\n': rep = "<br>\n"; break;
		default: continue;
		}
		*rc = buf_append(b, s + start, i - start);
		if (!*rc)
			*rc = buf_puts(b, rep);
		start = i + 1;
	}
	if (!*rc)
		*rc = buf_append(b, s + start, n - start);
}

/* A field's value as text: strings as they are, arrays joined with ", ",
 * numbers and booleans as JSON writes them, objects as JSON, null empty. */
static int value_text(struct buf *b, json_object *v, int depth)
{
	int rc = 0;

	switch (json_object_get_type(v)) {
	case json_type_null:
		break;
	case json_type_string:
		rc = buf_append(b, json_object_get_string(v), (size_t)json_object_get_string_len(v));
		break;
	case json_type_array:
		for (size_t i = 0; i < json_object_array_length(v) && !rc; i++) {
			if (i > 0)
				rc = buf_append(b, ", ", 2);
			if (!rc)
				rc = depth > 8 ? buf_puts(b, "...")
					       : value_text(b, json_object_array_get_idx(v, i), depth + 1);
		}
		break;
	default:
		rc = buf_puts(b, json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN |
									  JSON_C_TO_STRING_NOSLASHESCAPE));
		break;
	}
	return rc;
}

/* The path segment s[0..n) with everything but unreserved bytes escaped. */
static int put_segment(struct buf *b, const char *s, size_t n)
{
	int rc = 0;

	for (size_t i = 0; i < n && !rc; i++) {
		unsigned char c = (unsigned char)s[i];

		if (is_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~')
			rc = buf_putc(b, (char)c);
		else
			rc = buf_printf(b, "%%%02X", c);
	}
	return rc;
}

/* "{dash}/submissions/{id}" and, for file >= 0, "/files/{file}". */
static char *link(struct arena *a, const struct plan *p, long file)
{
	struct buf b;
	char *s;

	buf_init(&b, 0);
	buf_puts(&b, p->dash);
	buf_puts(&b, "/submissions/");
	put_segment(&b, p->id, p->idlen);
	if (file >= 0)
		buf_printf(&b, "/files/%ld", file);
	s = arena_strndup(a, b.data, b.len);
	buf_free(&b);
	return s;
}

static void human_size(char *out, size_t n, int64_t size)
{
	if (size < 0)
		snprintf(out, n, "size unknown");
	else if (size < 1024)
		snprintf(out, n, "%lld B", (long long)size);
	else if (size < 1024 * 1024)
		snprintf(out, n, "%.1f KB", (double)size / 1024);
	else
		snprintf(out, n, "%.1f MB", (double)size / (1024.0 * 1024));
}

/* Both bodies of the notification, as UTF-8 with "\n" line ends. */
static int bodies(struct arena *a, const struct plan *p, struct buf *t, struct buf *h)
{
	struct buf raw;
	json_object *v;
	size_t len, nfiles;
	const char *name;
	char *val;
	int rc = 0;

	buf_init(&raw, t->max);
	rc = buf_printf(t, "New submission to %s\n", p->endpoint);
	if (!rc && p->created)
		rc = buf_printf(t, "Received %s\n", p->created);
	if (!rc)
		rc = buf_puts(h, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>");
	if (!rc)
		html_escape(h, p->subject, strlen(p->subject), &rc);
	if (!rc)
		rc = buf_puts(h, "</title></head>\n<body style=\"font-family:sans-serif\">\n<h2>"
				 "New submission to ");
	if (!rc)
		html_escape(h, p->endpoint, strlen(p->endpoint), &rc);
	if (!rc)
		rc = buf_puts(h, "</h2>\n");
	if (!rc && p->created) {
		rc = buf_puts(h, "<p>Received ");
		html_escape(h, p->created, strlen(p->created), &rc);
		if (!rc)
			rc = buf_puts(h, "</p>\n");
	}
	if (!rc)
		rc = buf_puts(t, "\n");
	if (!rc)
		rc = buf_puts(h, "<table cellpadding=\"6\" cellspacing=\"0\" border=\"1\" "
				 "style=\"border-collapse:collapse\">\n");
	if (p->fields && json_object_is_type(p->fields, json_type_object)) {
		json_object_object_foreach(p->fields, key, fv)
		{
			if (rc)
				break;
			name = mail_clean(a, key, strlen(key), MAIL_CLEAN_LINE, NAME_MAX_BYTES,
					  NULL);
			if (!*name)
				name = "(unnamed)";
			buf_reset(&raw);
			if ((rc = value_text(&raw, fv, 0)))
				break;
			val = mail_clean(a, raw.data ? raw.data : "", raw.len, MAIL_CLEAN_TEXT, SIZE_MAX, &len);
			while (len && val[len - 1] == '\n')
				val[--len] = '\0';
			rc = buf_printf(t, "%s: ", name);
			/* continuation lines indented, so a value cannot pass
			 * for another field */
			for (size_t i = 0, s = 0; !rc && i <= len; i++) {
				if (i < len && val[i] != '\n')
					continue;
				rc = buf_append(t, val + s, i - s);
				if (!rc)
					rc = buf_puts(t, i < len ? "\n  " : "\n");
				s = i + 1;
			}
			if (!rc)
				rc = buf_puts(h, "<tr><th align=\"left\" valign=\"top\">");
			if (!rc)
				html_escape(h, name, strlen(name), &rc);
			if (!rc)
				rc = buf_puts(h, "</th><td>");
			if (!rc)
				html_escape(h, val, len, &rc);
			if (!rc)
				rc = buf_puts(h, "</td></tr>\n");
		}
	}
	if (!rc)
		rc = buf_puts(h, "</table>\n");
	nfiles = p->files && json_object_is_type(p->files, json_type_array)
			 ? json_object_array_length(p->files) : 0;
	if (!rc && nfiles)
		rc = buf_puts(t, "\nFiles:\n");
	if (!rc && nfiles)
		rc = buf_puts(h, "<h3>Files</h3>\n<ul>\n");
	for (size_t i = 0; i < nfiles && !rc; i++) {
		json_object *f = json_object_array_get_idx(p->files, i);
		char size[48], *ctype, *url = NULL;

		name = member_clean(a, f, "name", MAIL_CLEAN_LINE, LABEL_MAX_BYTES);
		if (!name || !*name)
			name = "file";
		ctype = member_clean(a, f, "content_type", MAIL_CLEAN_LINE, LABEL_MAX_BYTES);
		human_size(size, sizeof(size),
			   f && json_object_object_get_ex(f, "size", &v) && json_object_is_type(v, json_type_int)
				   ? json_object_get_int64(v) : -1);
		if (ctype && *ctype)
			val = arena_printf(a, "%s, %s", size, ctype);
		else
			val = arena_strdup(a, size);
		if (p->dash)
			url = link(a, p, (long)i);
		rc = buf_printf(t, "- %s (%s)\n", name, val);
		if (!rc && url)
			rc = buf_printf(t, "  %s\n", url);
		if (!rc)
			rc = buf_puts(h, "<li>");
		if (!rc && url) {
			rc = buf_puts(h, "<a href=\"");
			html_escape(h, url, strlen(url), &rc);
			if (!rc)
				rc = buf_puts(h, "\">");
		}
		if (!rc)
			html_escape(h, name, strlen(name), &rc);
		if (!rc)
			rc = buf_puts(h, url ? "</a> (" : " (");
		if (!rc)
			html_escape(h, val, strlen(val), &rc);
		if (!rc)
			rc = buf_puts(h, ")</li>\n");
	}
	if (!rc && nfiles)
		rc = buf_puts(h, "</ul>\n");
	if (!rc && p->dash) {
		char *url = link(a, p, -1);

		rc = buf_printf(t, "\nView this submission: %s\n", url);
		if (!rc)
			rc = buf_puts(h, "<p><a href=\"");
		if (!rc)
			html_escape(h, url, strlen(url), &rc);
		if (!rc)
			rc = buf_puts(h, "\">View this submission in Inlet</a></p>\n");
	}
	if (!rc)
		rc = buf_puts(h, "</body></html>\n");
	buf_free(&raw);
	return rc;
}

/* ---- the plan ---- */

/* tmpl with "{endpoint}" and "{id}" replaced, cleaned for its use. */
static char *expand(struct arena *a, const char *tmpl, const struct plan *p,
		    enum mail_clean_mode mode, size_t max, size_t *outlen)
{
	struct buf b;
	char *s;

	buf_init(&b, 0);
	for (const char *c = tmpl; *c;) {
		if (strncmp(c, "{endpoint}", 10) == 0) {
			buf_puts(&b, p->endpoint);
			c += 10;
		} else if (strncmp(c, "{id}", 4) == 0) {
			buf_append(&b, p->id, p->idlen);
			c += 4;
		} else {
			buf_putc(&b, *c++);
		}
	}
	s = mail_clean(a, b.data ? b.data : "", b.len, mode, max, outlen);
	buf_free(&b);
	return s;
}

int mail_from_parse(struct arena *a, const char *from, const char **addr, const char **display)
{
	size_t n = from ? strlen(from) : 0, dl;
	const char *open, *d;

	*display = NULL;
	while (n && (from[n - 1] == ' ' || from[n - 1] == '\t'))
		n--;
	while (n && (*from == ' ' || *from == '\t'))
		from++, n--;
	if (n && from[n - 1] == '>' && (open = memrchr(from, '<', n))) {
		d = from;
		dl = (size_t)(open - from);
		while (dl && (d[dl - 1] == ' ' || d[dl - 1] == '\t'))
			dl--;
		if (dl >= 2 && d[0] == '"' && d[dl - 1] == '"')
			d++, dl -= 2;
		*display = mail_clean(a, d, dl, MAIL_CLEAN_LINE, DISPLAY_MAX_BYTES, NULL);
		if (!**display)
			*display = NULL;
		n -= (size_t)(open - from) + 2;
		from = open + 1;
	}
	if (!addr_valid_n(from, n))
		return INLET_EINVAL;
	*addr = arena_strndup(a, from, n);
	return 0;
}

int mail_url_ok(const char *s, size_t n)
{
	if (n > URL_MAX_BYTES || !(strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] <= 0x20 || s[i] > 0x7E || strchr("\"'<>\\`{}|^", s[i]))
			return 0;
	return 1;
}

/* meta.cc, a comma-separated string or an array of them: valid addresses
 * not yet in rcpt, at most MAIL_MAX_CC. A token with anything odd in it
 * (a line break, a second "@", a display name) is dropped whole. */
static void add_cc(struct arena *a, struct plan *p, json_object *cc, size_t *cap)
{
	size_t n, s = 0;
	const char *str;

	if (json_object_is_type(cc, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(cc); i++)
			add_cc(a, p, json_object_array_get_idx(cc, i), cap);
		return;
	}
	if (!json_object_is_type(cc, json_type_string))
		return;
	str = json_object_get_string(cc);
	n = (size_t)json_object_get_string_len(cc);
	for (size_t i = 0; i <= n; i++) {
		size_t b = s, e = i;
		char *addr;

		if (i < n && str[i] != ',')
			continue;
		s = i + 1;
		while (b < e && (str[b] == ' ' || str[b] == '\t'))
			b++;
		while (e > b && (str[e - 1] == ' ' || str[e - 1] == '\t'))
			e--;
		if (p->ncc >= MAIL_MAX_CC || !addr_valid_n(str + b, e - b))
			continue;
		addr = arena_strndup(a, str + b, e - b);
		if (in_list(p->rcpt, p->nto + p->ncc, addr))
			continue;
		p->rcpt = arena_grow(a, p->rcpt, p->nto + p->ncc, cap, sizeof(*p->rcpt));
		p->rcpt[p->nto + p->ncc++] = addr;
	}
}

static int plan_make(struct arena *a, const struct mail_input *in, enum mail_kind kind,
		     struct plan *p)
{
	json_object *sub = in->submission, *meta = NULL, *v;
	const char *tmpl;
	size_t cap = 0;
	int rc = 0;

	memset(p, 0, sizeof(*p));
	if (kind == MAIL_AUTORESPONSE && !in->autoresponse.enabled)
		return INLET_ENOTFOUND;
	if (!sub || !json_object_is_type(sub, json_type_object) ||
	    !json_object_object_get_ex(sub, "id", &v) || !json_object_is_type(v, json_type_string))
		return INLET_EINVAL;
	p->id = json_object_get_string(v);
	p->idlen = (size_t)json_object_get_string_len(v);
	if ((rc = mail_from_parse(a, in->from, &p->from, &p->display)))
		return rc;
	if (in->dashboard_url) {
		size_t n = strlen(in->dashboard_url);

		while (n && in->dashboard_url[n - 1] == '/')
			n--;
		if (!mail_url_ok(in->dashboard_url, n))
			return INLET_EINVAL;
		p->dash = arena_strndup(a, in->dashboard_url, n);
	}
	if (in->message_id) {
		size_t n = strlen(in->message_id);

		if (n < 1 || n > MSGID_LOCAL_MAX || strspn(in->message_id,
			"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != n)
			return INLET_EINVAL;
	}
	json_object_object_get_ex(sub, "meta", &meta);
	json_object_object_get_ex(sub, "fields", &p->fields);
	json_object_object_get_ex(sub, "files", &p->files);
	p->created = member_clean(a, sub, "created_at", MAIL_CLEAN_LINE, LABEL_MAX_BYTES);
	if (in->endpoint_name)
		p->endpoint = mail_clean(a, in->endpoint_name, strlen(in->endpoint_name),
					 MAIL_CLEAN_LINE, LABEL_MAX_BYTES, NULL);
	if (!p->endpoint || !*p->endpoint)
		p->endpoint = member_clean(a, sub, "endpoint_id", MAIL_CLEAN_LINE, LABEL_MAX_BYTES);
	if (!p->endpoint || !*p->endpoint)
		p->endpoint = "your form";
	v = NULL;
	if (meta && json_object_object_get_ex(meta, "reply_to", &v) &&
	    json_object_is_type(v, json_type_string) &&
	    addr_valid_n(json_object_get_string(v), (size_t)json_object_get_string_len(v)))
		p->reply_to = arena_strdup(a, json_object_get_string(v));

	if (kind == MAIL_AUTORESPONSE) {
		if (!p->reply_to || strcasecmp(p->reply_to, p->from) == 0)
			return INLET_EINVAL;
		p->rcpt = arena_alloc(a, sizeof(*p->rcpt));
		p->rcpt[0] = p->reply_to;
		p->nto = 1;
		p->reply_to = NULL;
		tmpl = in->autoresponse.subject && *in->autoresponse.subject
			       ? in->autoresponse.subject : "Thank you for your submission";
		p->subject = expand(a, tmpl, p, MAIL_CLEAN_LINE, MAIL_SUBJECT_MAX, NULL);
		if (!*p->subject)
			p->subject = "Thank you for your submission";
		p->text = expand(a, in->autoresponse.text ? in->autoresponse.text : "", p,
				 MAIL_CLEAN_TEXT, SIZE_MAX, &p->textlen);
		if (p->textlen == 0)
			return INLET_EINVAL;
		return 0;
	}

	if (in->nto == 0 || !in->to)
		return INLET_EINVAL;
	if (in->nto > MAIL_MAX_TO)
		return INLET_ETOOMANY;
	for (size_t i = 0; i < in->nto; i++) {
		if (!mail_address_valid(in->to[i]))
			return INLET_EINVAL;
		if (in_list(p->rcpt, p->nto, in->to[i]))
			continue;
		p->rcpt = arena_grow(a, p->rcpt, p->nto, &cap, sizeof(*p->rcpt));
		p->rcpt[p->nto++] = arena_strdup(a, in->to[i]);
	}
	if (meta && json_object_object_get_ex(meta, "cc", &v))
		add_cc(a, p, v, &cap);
	p->subject = member_clean(a, meta, "subject", MAIL_CLEAN_LINE, MAIL_SUBJECT_MAX);
	if (!p->subject || !*p->subject) {
		tmpl = in->subject_template && *in->subject_template ? in->subject_template
								     : "New submission to {endpoint}";
		p->subject = expand(a, tmpl, p, MAIL_CLEAN_LINE, MAIL_SUBJECT_MAX, NULL);
	}
	if (!*p->subject)
		p->subject = "New submission";
	return 0;
}

/* ---- the message ---- */

int mail_message_ok(const char *m, size_t n)
{
	size_t line = 0, i;
	int head = 1, start = 1, first = 1;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)m[i];

		if (c == '\r') {
			if (i + 1 >= n || m[i + 1] != '\n')
				return 0;
			if (head && start)
				head = 0; /* the empty line */
			i++;
			line = 0;
			start = 1;
			continue;
		}
		if (c == '\n' || (c < 0x20 && c != '\t') || c > 0x7E || ++line > LINE_HARD)
			return 0;
		if (head && start) {
			size_t k = i;

			if (c == ' ' || c == '\t') {
				if (first)
					return 0;
			} else {
				while (k < n && m[k] > 0x20 && m[k] < 0x7F && m[k] != ':')
					k++;
				if (k == i || k >= n || m[k] != ':')
					return 0;
			}
		}
		start = 0;
		first = 0;
	}
	return !head && n >= 2 && m[n - 2] == '\r' && m[n - 1] == '\n';
}

void mail_date(int64_t ms, char *out, size_t size)
{
	static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t t = (time_t)((ms ? ms : now_ms()) / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(out, size, "%s, %d %s %d %02d:%02d:%02d +0000", days[tm.tm_wday % 7], tm.tm_mday,
		 months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static void common_headers(struct mail_hw *w, struct arena *a, const struct mail_input *in,
			   const struct plan *p, const char *kind)
{
	char date[96], rnd[33];
	uint8_t r[16];

	mail_date(in->date_ms, date, sizeof(date));
	mail_hdr_raw(w, "Date", date);
	mail_hdr_mailbox(w, "From", p->display, p->from);
	mail_hdr_addrs(w, "To", p->rcpt, p->nto);
	if (p->ncc)
		mail_hdr_addrs(w, "Cc", p->rcpt + p->nto, p->ncc);
	if (p->reply_to)
		mail_hdr_addrs(w, "Reply-To", &p->reply_to, 1);
	mail_hdr_text(w, "Subject", p->subject);
	if (!in->message_id) {
		rand_bytes(r, sizeof(r));
		hex_encode(rnd, r, sizeof(r));
	}
	mail_hdr_raw(w, "Message-ID",
		     arena_printf(a, "<%s.%s@%s>", in->message_id ? in->message_id : rnd, kind,
				  strchr(p->from, '@') + 1));
	mail_hdr_raw(w, "Auto-Submitted",
		     strcmp(kind, "reply") == 0 ? "auto-replied" : "auto-generated");
	mail_hdr_raw(w, "MIME-Version", "1.0");
}

/* Appends the finished message to out when it passes mail_message_ok. */
static int finish(struct buf *msg, struct buf *out)
{
	if (!mail_message_ok(msg->data, msg->len))
		return INLET_EINTERNAL;
	return buf_append(out, msg->data, msg->len);
}

int mail_compose_notification(struct arena *a, const struct mail_input *in, struct buf *out)
{
	size_t cap = in->max_size ? in->max_size : MAIL_MAX_SIZE;
	struct buf msg, t, h, tq, hq;
	struct mail_hw w;
	struct plan p;
	char bnd[64], hex[33];
	uint8_t r[16];
	int rc, tries;

	buf_init(&msg, cap);
	buf_init(&t, cap);
	buf_init(&h, cap);
	buf_init(&tq, cap);
	buf_init(&hq, cap);
	if ((rc = plan_make(a, in, MAIL_NOTIFICATION, &p)))
		goto out;
	if ((rc = bodies(a, &p, &t, &h)) || (rc = mail_qp_encode(&tq, t.data, t.len)) ||
	    (rc = mail_qp_encode(&hq, h.data, h.len)))
		goto out;
	for (tries = 0;; tries++) {
		if (tries == BOUNDARY_TRIES) {
			rc = INLET_EINTERNAL;
			goto out;
		}
		rand_bytes(r, sizeof(r));
		hex_encode(hex, r, sizeof(r));
		snprintf(bnd, sizeof(bnd), "=_inlet_%s", hex);
		if (!memmem(tq.data, tq.len, bnd, strlen(bnd)) && !memmem(hq.data, hq.len, bnd, strlen(bnd)))
			break;
	}
	w = (struct mail_hw){ .b = &msg };
	common_headers(&w, a, in, &p, "notify");
	mail_hw_puts(&w, "Content-Type: multipart/alternative;\r\n boundary=\"");
	mail_hw_puts(&w, bnd);
	mail_hw_puts(&w, "\"\r\n\r\n--");
	mail_hw_puts(&w, bnd);
	mail_hw_puts(&w, "\r\nContent-Type: text/plain; charset=utf-8\r\n"
		    "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
	mail_hw_put(&w, tq.data, tq.len);
	mail_hw_puts(&w, "\r\n--");
	mail_hw_puts(&w, bnd);
	mail_hw_puts(&w, "\r\nContent-Type: text/html; charset=utf-8\r\n"
		    "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
	mail_hw_put(&w, hq.data, hq.len);
	mail_hw_puts(&w, "\r\n--");
	mail_hw_puts(&w, bnd);
	mail_hw_puts(&w, "--\r\n");
	if (!(rc = w.rc))
		rc = finish(&msg, out);
out:
	buf_free(&msg);
	buf_free(&t);
	buf_free(&h);
	buf_free(&tq);
	buf_free(&hq);
	return rc;
}

int mail_compose_autoresponse(struct arena *a, const struct mail_input *in, struct buf *out)
{
	size_t cap = in->max_size ? in->max_size : MAIL_MAX_SIZE;
	struct buf msg, tq;
	struct mail_hw w;
	struct plan p;
	int rc;

	buf_init(&msg, cap);
	buf_init(&tq, cap);
	if ((rc = plan_make(a, in, MAIL_AUTORESPONSE, &p)))
		goto out;
	if ((rc = mail_qp_encode(&tq, p.text, p.textlen)))
		goto out;
	if (p.text[p.textlen - 1] != '\n' && (rc = buf_append(&tq, "\r\n", 2)))
		goto out;
	w = (struct mail_hw){ .b = &msg };
	common_headers(&w, a, in, &p, "reply");
	mail_hw_puts(&w, "Content-Type: text/plain; charset=utf-8\r\n"
		    "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
	mail_hw_put(&w, tq.data, tq.len);
	if (!(rc = w.rc))
		rc = finish(&msg, out);
out:
	buf_free(&msg);
	buf_free(&tq);
	return rc;
}

int mail_envelope_recipients(struct arena *a, const struct mail_input *in, enum mail_kind kind,
			     struct mail_envelope *env)
{
	struct plan p;
	int rc;

	memset(env, 0, sizeof(*env));
	if ((rc = plan_make(a, in, kind, &p)))
		return rc;
	env->from = p.from;
	env->rcpt = p.rcpt;
	env->nrcpt = p.nto + p.ncc;
	return 0;
}
