/* jobs/mail: composed messages parsed back with a small reader of our own
 * (headers, RFC 2047 words, MIME parts, quoted-printable and base64), the
 * injection table, address validation, folding and the size cap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/err.h"
#include "jobs/mail.h"

#define MAXH 32

/* ---- a reader for what the composer writes ---- */

struct hdrs {
	size_t n;
	char *name[MAXH];
	char *value[MAXH]; /* unfolded, leading space dropped */
};

struct msg {
	struct hdrs h;
	size_t nparts;
	struct hdrs ph[4];
	char *text;  /* decoded text/plain, CRLF turned into "\n" */
	char *html;  /* decoded text/html, same */
	char *boundary;
};

static const char *hget(const struct hdrs *h, const char *name)
{
	for (size_t i = 0; i < h->n; i++)
		if (strcasecmp(h->name[i], name) == 0)
			return h->value[i];
	return NULL;
}

static size_t hcount(const struct hdrs *h, const char *name)
{
	size_t c = 0;

	for (size_t i = 0; i < h->n; i++)
		c += strcasecmp(h->name[i], name) == 0;
	return c;
}

/* Byte-level rules for the whole message: 7-bit, no control bytes but TAB
 * and CRLF, no bare CR or LF, header lines within 78, body lines within
 * 76 (quoted-printable), ends in CRLF. */
static void check_bytes(const char *m, size_t n)
{
	size_t line = 0, i;
	int head = 1, start = 1;

	assert_true(n >= 2);
	assert_memory_equal(m + n - 2, "\r\n", 2);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)m[i];

		if (c == '\r') {
			if (i + 1 >= n || m[i + 1] != '\n')
				fail_msg("bare CR at %zu", i);
			if (start && head)
				head = 0;
			i++;
			line = 0;
			start = 1;
			continue;
		}
		if (c == '\n')
			fail_msg("bare LF at %zu", i);
		if (c == 0 || c > 0x7E || (c < 0x20 && c != '\t'))
			fail_msg("byte 0x%02x at %zu", c, i);
		line++;
		if (head && line > 78)
			fail_msg("header line longer than 78 at %zu", i);
		if (!head && line > 76)
			fail_msg("body line longer than 76 at %zu", i);
		start = 0;
	}
}

/* Header section of m[0..n): every line "Name: value" or a fold of the one
 * before; *off gets the start of the body. */
static void parse_headers(struct arena *a, const char *m, size_t n, struct hdrs *h, size_t *off)
{
	size_t i = 0;

	h->n = 0;
	for (;;) {
		const char *eol = memmem(m + i, n - i, "\r\n", 2), *colon;
		size_t len;

		assert_non_null(eol);
		len = (size_t)(eol - (m + i));
		if (len == 0) {
			*off = i + 2;
			return;
		}
		if (m[i] == ' ' || m[i] == '\t') {
			assert_true(h->n > 0);
			/* unfolding: the CRLF goes, the white space stays */
			h->value[h->n - 1] = arena_printf(a, "%s%.*s", h->value[h->n - 1], (int)len, m + i);
		} else {
			colon = memchr(m + i, ':', len);
			assert_non_null(colon);
			assert_true(colon > m + i);
			for (const char *c = m + i; c < colon; c++)
				assert_true(*c > 0x20 && *c < 0x7F);
			assert_true(h->n < MAXH);
			h->name[h->n] = arena_strndup(a, m + i, (size_t)(colon - (m + i)));
			colon++;
			while (colon < eol && *colon == ' ')
				colon++;
			h->value[h->n++] = arena_strndup(a, colon, (size_t)(eol - colon));
		}
		i += len + 2;
	}
}

static int b64val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

static void b64_dec(struct buf *out, const char *s, size_t n)
{
	unsigned acc = 0, bits = 0;

	for (size_t i = 0; i < n; i++) {
		int v = b64val((unsigned char)s[i]);

		if (s[i] == '=')
			break;
		assert_true(v >= 0);
		acc = acc << 6 | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf_putc(out, (char)(acc >> bits & 0xFF));
		}
	}
}

static int hexv(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Quoted-printable, or Q words (underscore for space) when q is set. */
static void qp_dec(struct buf *out, const char *s, size_t n, int q)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '=' && i + 2 < n && s[i + 1] == '\r' && s[i + 2] == '\n') {
			i += 2;
		} else if (s[i] == '=') {
			assert_true(i + 2 < n);
			assert_true(hexv(s[i + 1]) >= 0 && hexv(s[i + 2]) >= 0);
			buf_putc(out, (char)(hexv(s[i + 1]) << 4 | hexv(s[i + 2])));
			i += 2;
		} else if (q && s[i] == '_') {
			buf_putc(out, ' ');
		} else {
			buf_putc(out, s[i]);
		}
	}
}

/* RFC 2047: encoded-words decoded, white space between two of them
 * dropped. Only UTF-8 is accepted. */
static char *words_dec(struct arena *a, const char *s)
{
	struct buf b;
	char *r;
	int prev_word = 0;

	buf_init(&b, 0);
	while (*s) {
		if (s[0] == '=' && s[1] == '?') {
			const char *cs = s + 2, *q1 = strchr(cs, '?'), *end;

			assert_non_null(q1);
			assert_true(strncasecmp(cs, "UTF-8?", 6) == 0);
			assert_true(q1[2] == '?');
			end = strstr(q1 + 3, "?=");
			assert_non_null(end);
			assert_true(end + 2 - s <= 75);
			if (q1[1] == 'B' || q1[1] == 'b')
				b64_dec(&b, q1 + 3, (size_t)(end - q1 - 3));
			else
				qp_dec(&b, q1 + 3, (size_t)(end - q1 - 3), 1);
			s = end + 2;
			prev_word = 1;
			continue;
		}
		if (prev_word && (*s == ' ' || *s == '\t')) {
			const char *t = s;

			while (*t == ' ' || *t == '\t')
				t++;
			if (t[0] == '=' && t[1] == '?') {
				s = t;
				continue;
			}
		}
		prev_word = 0;
		buf_putc(&b, *s++);
	}
	r = arena_strdup(a, b.data ? b.data : "");
	buf_free(&b);
	return r;
}

static char *body_dec(struct arena *a, const struct hdrs *h, const char *s, size_t n)
{
	const char *cte = hget(h, "Content-Transfer-Encoding");
	struct buf b, c;
	char *r;

	buf_init(&b, 0);
	buf_init(&c, 0);
	assert_non_null(cte);
	if (strcasecmp(cte, "quoted-printable") == 0) {
		qp_dec(&b, s, n, 0);
	} else {
		assert_string_equal(cte, "base64");
		for (size_t i = 0; i < n; i++)
			if (s[i] != '\r' && s[i] != '\n')
				buf_putc(&c, s[i]);
		b64_dec(&b, c.data ? c.data : "", c.len);
	}
	/* CRLF back to "\n"; a lone CR or LF would have failed check_bytes */
	buf_reset(&c);
	for (size_t i = 0; i < b.len; i++)
		if (!(b.data[i] == '\r' && i + 1 < b.len && b.data[i + 1] == '\n'))
			buf_putc(&c, b.data[i]);
	r = arena_strdup(a, c.data ? c.data : "");
	buf_free(&b);
	buf_free(&c);
	return r;
}

static size_t count_mem(const char *m, size_t n, const char *needle)
{
	size_t c = 0, k = strlen(needle);

	for (const char *p = m; (p = memmem(p, n - (size_t)(p - m), needle, k)); p += k)
		c++;
	return c;
}

/* The whole message: byte rules, headers, parts, decoded bodies. */
static struct msg *parse(struct arena *a, const char *m, size_t n)
{
	struct msg *g = arena_zalloc(a, sizeof(*g));
	const char *ct, *bp;
	size_t off, poff;

	check_bytes(m, n);
	parse_headers(a, m, n, &g->h, &off);
	ct = hget(&g->h, "Content-Type");
	assert_non_null(ct);
	if (strncmp(ct, "text/plain; charset=utf-8", 25) == 0) {
		g->text = body_dec(a, &g->h, m + off, n - off);
		return g;
	}
	assert_true(strncmp(ct, "multipart/alternative;", 22) == 0);
	bp = strstr(ct, "boundary=\"");
	assert_non_null(bp);
	bp += 10;
	g->boundary = arena_strndup(a, bp, strcspn(bp, "\""));
	assert_true(strlen(g->boundary) >= 16 && strlen(g->boundary) <= 70);
	{
		char *delim = arena_printf(a, "--%s", g->boundary);
		char *open = arena_printf(a, "\r\n--%s\r\n", g->boundary);
		char *close = arena_printf(a, "\r\n--%s--\r\n", g->boundary);
		const char *p = m + off, *end;

		/* the boundary occurs only as the three delimiter lines */
		assert_int_equal(count_mem(m + off, n - off, delim), 3);
		assert_true(strncmp(p, delim, strlen(delim)) == 0);
		p += strlen(delim) + 2;
		for (;;) {
			const char *nx = memmem(p, n - (size_t)(p - m), open, strlen(open));
			const char *cl = memmem(p, n - (size_t)(p - m), close, strlen(close));
			struct hdrs *ph = &g->ph[g->nparts];
			char *body;

			end = nx ? nx : cl;
			assert_non_null(end);
			assert_true(g->nparts < 4);
			parse_headers(a, p, (size_t)(end - p) + 2, ph, &poff);
			/* the CRLF before a delimiter belongs to the delimiter */
			body = body_dec(a, ph, p + poff, (size_t)(end - p) - poff);
			g->nparts++;
			if (strncmp(hget(ph, "Content-Type"), "text/plain; charset=utf-8", 25) == 0)
				g->text = body;
			else if (strncmp(hget(ph, "Content-Type"), "text/html; charset=utf-8", 24) == 0)
				g->html = body;
			else
				fail_msg("unexpected part %s", hget(ph, "Content-Type"));
			if (!nx)
				break;
			p = nx + strlen(open);
		}
		assert_ptr_equal(end + strlen(close), m + n);
	}
	assert_int_equal(g->nparts, 2);
	assert_non_null(g->text);
	assert_non_null(g->html);
	return g;
}

/* Exactly these headers, once each. */
static void expect_headers(const struct hdrs *h, const char *const *want)
{
	size_t nwant = 0;

	for (; want[nwant]; nwant++)
		if (hcount(h, want[nwant]) != 1)
			fail_msg("header %s appears %zu times", want[nwant], hcount(h, want[nwant]));
	if (h->n != nwant) {
		for (size_t i = 0; i < h->n; i++)
			print_message("header: %s\n", h->name[i]);
		fail_msg("%zu headers, want %zu", h->n, nwant);
	}
}

static int utf8_valid(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;

	while (*u) {
		size_t len = *u < 0x80 ? 1 : (*u & 0xE0) == 0xC0 ? 2 : (*u & 0xF0) == 0xE0 ? 3
			   : (*u & 0xF8) == 0xF0 ? 4 : 0;

		if (!len)
			return 0;
		for (size_t i = 1; i < len; i++)
			if ((u[i] & 0xC0) != 0x80)
				return 0;
		u += len;
	}
	return 1;
}

/* ---- fixtures ---- */

static const char sample[] =
	"{\"id\":\"sub_x\",\"endpoint_id\":\"ep_y\",\"created_at\":\"2026-11-23T15:00:00.123Z\","
	"\"status\":\"inbox\",\"fields\":{\"name\":\"Ada\",\"email\":\"ada@example.com\","
	"\"message\":\"hi\\nthere\",\"tags\":[\"a\",\"b\"]},\"files\":[{\"name\":\"cv.pdf\","
	"\"field\":\"cv\",\"size\":1234,\"content_type\":\"application/pdf\"}],"
	"\"meta\":{\"subject\":\"Hello\",\"reply_to\":\"ada@example.com\","
	"\"cc\":\"boss@example.com, x@example.com\",\"user_agent\":\"...\"}}";

struct fx {
	struct arena *a;
	json_object *sub;
	const char *to[2];
	struct mail_input in;
	struct buf out;
};

static void fx_init(struct fx *f)
{
	memset(f, 0, sizeof(*f));
	f->a = arena_create(0);
	f->sub = json_tokener_parse(sample);
	assert_non_null(f->sub);
	f->to[0] = "ops@example.org";
	f->to[1] = "owner@example.org";
	f->in.from = "Inlet <noreply@inlet.example>";
	f->in.dashboard_url = "https://inlet.example/";
	f->in.endpoint_name = "Contact";
	f->in.to = f->to;
	f->in.nto = 2;
	f->in.submission = f->sub;
	f->in.date_ms = 1795446000000LL;
	f->in.autoresponse.enabled = 1;
	f->in.autoresponse.subject = "Thanks from {endpoint}";
	f->in.autoresponse.text = "We got your message.\n.\nBye";
	buf_init(&f->out, 0);
}

static void fx_free(struct fx *f)
{
	json_object_put(f->sub);
	buf_free(&f->out);
	arena_destroy(f->a);
}

static json_object *obj(json_object *o, const char *key)
{
	json_object *v = NULL;

	assert_true(json_object_object_get_ex(o, key, &v));
	return v;
}

static void set_len(json_object *o, const char *key, const char *s, size_t n)
{
	json_object_object_add(o, key, json_object_new_string_len(s, (int)n));
}

static struct msg *notify(struct fx *f)
{
	int rc;

	buf_reset(&f->out);
	rc = mail_compose_notification(f->a, &f->in, &f->out);
	if (rc)
		fail_msg("compose: %s", inlet_strerror(rc));
	return parse(f->a, f->out.data, f->out.len);
}

static const char *const base_headers[] = { "Date", "From", "To", "Cc", "Reply-To", "Subject",
					    "Message-ID", "Auto-Submitted", "MIME-Version",
					    "Content-Type", NULL };

/* ---- tests ---- */

static void t_notification(void **state)
{
	struct fx f;
	struct msg *g;
	struct mail_envelope env;

	(void)state;
	fx_init(&f);
	g = notify(&f);
	expect_headers(&g->h, base_headers);
	assert_string_equal(hget(&g->h, "Date"), "Mon, 23 Nov 2026 15:00:00 +0000");
	assert_string_equal(hget(&g->h, "From"), "\"Inlet\" <noreply@inlet.example>");
	assert_string_equal(hget(&g->h, "To"), "ops@example.org, owner@example.org");
	assert_string_equal(hget(&g->h, "Cc"), "boss@example.com, x@example.com");
	assert_string_equal(hget(&g->h, "Reply-To"), "ada@example.com");
	assert_string_equal(hget(&g->h, "Subject"), "Hello");
	assert_string_equal(hget(&g->h, "MIME-Version"), "1.0");
	assert_string_equal(hget(&g->h, "Auto-Submitted"), "auto-generated");
	assert_true(strncmp(hget(&g->h, "Message-ID"), "<", 1) == 0);
	assert_non_null(strstr(hget(&g->h, "Message-ID"), ".notify@inlet.example>"));
	assert_int_equal(strlen(hget(&g->h, "Message-ID")), 1 + 32 + 7 + 1 + 13 + 1);
	assert_string_equal(g->text,
			    "New submission to Contact\n"
			    "Received 2026-11-23T15:00:00.123Z\n"
			    "\n"
			    "name: Ada\n"
			    "email: ada@example.com\n"
			    "message: hi\n"
			    "  there\n"
			    "tags: a, b\n"
			    "\n"
			    "Files:\n"
			    "- cv.pdf (1.2 KB, application/pdf)\n"
			    "  https://inlet.example/submissions/sub_x/files/0\n"
			    "\n"
			    "View this submission: https://inlet.example/submissions/sub_x\n");
	assert_non_null(strstr(g->html, "<tr><th align=\"left\" valign=\"top\">name</th><td>Ada</td></tr>"));
	assert_non_null(strstr(g->html, "<th align=\"left\" valign=\"top\">message</th><td>hi<br>\nthere</td>"));
	assert_non_null(strstr(g->html, "<th align=\"left\" valign=\"top\">tags</th><td>a, b</td>"));
	assert_non_null(strstr(g->html, "<li><a href=\"https://inlet.example/submissions/sub_x/files/0\">"
					"cv.pdf</a> (1.2 KB, application/pdf)</li>"));
	assert_non_null(strstr(g->html, "<meta charset=\"utf-8\">"));
	assert_non_null(strstr(g->html, "<h2>New submission to Contact</h2>"));

	/* the envelope is To + Cc, as the headers say, and no one else */
	assert_int_equal(mail_envelope_recipients(f.a, &f.in, MAIL_NOTIFICATION, &env), 0);
	assert_string_equal(env.from, "noreply@inlet.example");
	assert_int_equal(env.nrcpt, 4);
	assert_string_equal(env.rcpt[0], "ops@example.org");
	assert_string_equal(env.rcpt[1], "owner@example.org");
	assert_string_equal(env.rcpt[2], "boss@example.com");
	assert_string_equal(env.rcpt[3], "x@example.com");
	fx_free(&f);
}

static void t_defaults_and_ids(void **state)
{
	struct fx f;
	struct msg *g;
	char first[128];
	json_object *meta;

	(void)state;
	fx_init(&f);
	meta = obj(f.sub, "meta");
	json_object_object_del(meta, "subject");
	json_object_object_del(meta, "cc");
	json_object_object_del(meta, "reply_to");
	f.in.from = "noreply@inlet.example";
	g = notify(&f);
	{
		static const char *const want[] = { "Date", "From", "To", "Subject", "Message-ID",
						    "Auto-Submitted", "MIME-Version", "Content-Type",
						    NULL };
		expect_headers(&g->h, want);
	}
	assert_string_equal(hget(&g->h, "From"), "noreply@inlet.example");
	assert_string_equal(hget(&g->h, "Subject"), "New submission to Contact");
	snprintf(first, sizeof(first), "%s", hget(&g->h, "Message-ID"));
	g = notify(&f);
	assert_string_not_equal(first, hget(&g->h, "Message-ID"));

	/* the template, with its placeholders */
	f.in.subject_template = "[{endpoint}] {id}";
	g = notify(&f);
	assert_string_equal(hget(&g->h, "Subject"), "[Contact] sub_x");
	/* no endpoint name: the endpoint id */
	f.in.endpoint_name = NULL;
	f.in.subject_template = NULL;
	g = notify(&f);
	assert_string_equal(hget(&g->h, "Subject"), "New submission to ep_y");
	/* a stable Message-ID for retries */
	f.in.message_id = "job_42";
	g = notify(&f);
	assert_string_equal(hget(&g->h, "Message-ID"), "<job_42.notify@inlet.example>");
	g = notify(&f);
	assert_string_equal(hget(&g->h, "Message-ID"), "<job_42.notify@inlet.example>");
	/* no dashboard: files without links */
	f.in.dashboard_url = NULL;
	g = notify(&f);
	assert_null(strstr(g->text, "http"));
	assert_non_null(strstr(g->text, "- cv.pdf (1.2 KB, application/pdf)\n"));
	assert_null(strstr(g->html, "<a "));
	fx_free(&f);
}

static void t_html_escaping(void **state)
{
	struct fx f;
	struct msg *g;
	json_object *fields;

	(void)state;
	fx_init(&f);
	fields = obj(f.sub, "fields");
	json_object_object_add(fields, "<b>x</b>", json_object_new_string("<script>alert('x')</script> & \"q\""));
	json_object_object_add(fields, "n", json_object_new_int(42));
	json_object_object_add(fields, "ok", json_object_new_boolean(1));
	json_object_object_add(fields, "nothing", NULL);
	json_object_object_add(fields, "obj", json_tokener_parse("{\"k\":[1,\"<i>\"]}"));
	json_object_object_add(fields, "nested", json_tokener_parse("[[\"a\",\"b\"],\"c\",3]"));
	json_object_object_add(json_object_array_get_idx(obj(f.sub, "files"), 0), "name",
			       json_object_new_string("<img src=x onerror=alert(1)>.pdf"));
	g = notify(&f);
	assert_null(strstr(g->html, "<script>"));
	assert_null(strstr(g->html, "<b>"));
	assert_null(strstr(g->html, "<img"));
	assert_null(strstr(g->html, "<i>"));
	assert_non_null(strstr(g->html, "<th align=\"left\" valign=\"top\">&lt;b&gt;x&lt;/b&gt;</th>"
					"<td>&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; "
					"&quot;q&quot;</td>"));
	assert_non_null(strstr(g->html, "&lt;img src=x onerror=alert(1)&gt;.pdf</a>"));
	assert_non_null(strstr(g->text, "<b>x</b>: <script>alert('x')</script> & \"q\"\n"));
	assert_non_null(strstr(g->text, "\nn: 42\n"));
	assert_non_null(strstr(g->text, "\nok: true\n"));
	assert_non_null(strstr(g->text, "\nnothing: \n"));
	assert_non_null(strstr(g->text, "\nobj: {\"k\":[1,\"<i>\"]}\n"));
	assert_non_null(strstr(g->text, "\nnested: a, b, c, 3\n"));
	fx_free(&f);
}

enum target {
	T_SUBJECT, T_REPLY_TO, T_CC, T_FIELD_NAME, T_FIELD_VALUE, T_ENDPOINT, T_TEMPLATE,
	T_FILE_NAME, T_CTYPE, T_CREATED, T_FROM_NAME, T_ID
};

struct inj {
	enum target t;
	const char *v;
	size_t len;          /* 0: strlen */
	int cc;              /* Cc addresses expected */
	int reply_to;        /* Reply-To expected */
	const char *subject; /* decoded Subject expected */
	const char *text;    /* in the decoded text part, or NULL */
};

#define S(x) x, sizeof(x) - 1

static const struct inj injections[] = {
	{ T_SUBJECT, S("Hi\r\nBcc: evil@x.com"), 2, 1, "Hi Bcc: evil@x.com", NULL },
	{ T_SUBJECT, S("Hi\nBcc: evil@x.com"), 2, 1, "Hi Bcc: evil@x.com", NULL },
	{ T_SUBJECT, S("Hi\rBcc: evil@x.com"), 2, 1, "Hi Bcc: evil@x.com", NULL },
	{ T_SUBJECT, S("Hi\r\n\r\n--x\r\nContent-Type: text/html"), 2, 1,
	  "Hi --x Content-Type: text/html", NULL },
	{ T_SUBJECT, S("Hi\0\r\nBcc: evil@x.com"), 2, 1, "Hi Bcc: evil@x.com", NULL },
	{ T_SUBJECT, S("\r\n Bcc: evil@x.com"), 2, 1, "Bcc: evil@x.com", NULL },
	{ T_SUBJECT, S("a\x01\x1b\x7f\xc2\x85\xe2\x80\xa8z\tq\vw"), 2, 1, "a z q w", NULL },
	{ T_SUBJECT, S("=?UTF-8?B?SGkNCkJjYzogZXZpbEB4LmNvbQ==?="), 2, 1,
	  "=?UTF-8?B?SGkNCkJjYzogZXZpbEB4LmNvbQ==?=", NULL },
	{ T_SUBJECT, S("Привет, мир 👋 café"), 2, 1, "Привет, мир 👋 café", NULL },
	{ T_SUBJECT, S("bad \xff\xfe utf8 \xc3"), 2, 1, "bad \xef\xbf\xbd\xef\xbf\xbd utf8 \xef\xbf\xbd", NULL },
	{ T_SUBJECT, S("evil\xe2\x80\xaegnp.exe"), 2, 1, "evilgnp.exe", NULL },
	{ T_SUBJECT, S("\r\n\t \x00"), 2, 1, "New submission to Contact", NULL },
	{ T_SUBJECT, S("--=_inlet_0123456789abcdef0123456789abcdef"), 2, 1,
	  "--=_inlet_0123456789abcdef0123456789abcdef", NULL },
	{ T_REPLY_TO, S("a@b.com\r\nX: y"), 2, 0, "Hello", NULL },
	{ T_REPLY_TO, S("a@b.com\nBcc: evil@x.com"), 2, 0, "Hello", NULL },
	{ T_REPLY_TO, S("a@b.com\0evil@x.com"), 2, 0, "Hello", NULL },
	{ T_REPLY_TO, S("Ada <ada@example.com>"), 2, 0, "Hello", NULL },
	{ T_REPLY_TO, S("ada@example.com, evil@x.com"), 2, 0, "Hello", NULL },
	{ T_REPLY_TO, S("ada@example.com (Ada)"), 2, 0, "Hello", NULL },
	{ T_REPLY_TO, S("\"ada\"@example.com"), 2, 0, "Hello", NULL },
	{ T_REPLY_TO, S("=?UTF-8?B?PGV2aWxAeC5jb20+?=@x.com"), 2, 0, "Hello", NULL },
	{ T_REPLY_TO, S("Ada.Lovelace+forms@Example.COM"), 2, 1, "Hello", NULL },
	{ T_CC, S("a@b.com\r\nBcc: evil@x.com"), 0, 1, "Hello", NULL },
	{ T_CC, S("a@b.com\nc@d.com"), 0, 1, "Hello", NULL },
	{ T_CC, S("ok@example.com, bad@x.com\r\nBcc: e@x.com"), 1, 1, "Hello", NULL },
	{ T_CC, S("ok@example.com,\r\n bad@x.com"), 1, 1, "Hello", NULL },
	{ T_CC, S("ok@example.com\0, evil@x.com"), 1, 1, "Hello", NULL },
	{ T_CC, S("\"Boss\" <boss@example.com>, x@example.com"), 1, 1, "Hello", NULL },
	{ T_CC, S("OPS@example.org, ops@example.org, a@b.com, A@B.com"), 1, 1, "Hello", NULL },
	{ T_CC, S("a@b.com;c@d.com"), 0, 1, "Hello", NULL },
	{ T_CC, S("a1@x.com,a2@x.com,a3@x.com,a4@x.com,a5@x.com,a6@x.com,a7@x.com"), 5, 1, "Hello", NULL },
	{ T_CC, S(""), 0, 1, "Hello", NULL },
	/* a value's own lines are indented: never a field, never a boundary */
	{ T_FIELD_NAME, S("x\r\nBcc: evil@x.com"), 2, 1, "Hello", "\nx Bcc: evil@x.com: value\n" },
	{ T_FIELD_VALUE, S("v\r\nBcc: evil@x.com\r\n\r\n--=_inlet_x--\r\n.\r\n"), 2, 1, "Hello",
	  "\nmessage: v\n  Bcc: evil@x.com\n  \n  --=_inlet_x--\n  .\ntags: " },
	{ T_FIELD_VALUE, S("NUL\0inside\0"), 2, 1, "Hello", "\nmessage: NULinside\n" },
	{ T_FIELD_VALUE, S("=_inlet_ =?UTF-8?B?x?= --=_ \r\n--\r\n"), 2, 1, "Hello",
	  "\nmessage: =_inlet_ =?UTF-8?B?x?= --=_ \n  --\n" },
	{ T_FIELD_VALUE, S("From here\n.\n..\nFrom\n\xff\x80"), 2, 1, "Hello",
	  "\nmessage: From here\n  .\n  ..\n  From\n  \xef\xbf\xbd\xef\xbf\xbd\n" },
	{ T_FIELD_VALUE, S(".\n.\r\n."), 2, 1, "Hello", "\nmessage: .\n  .\n  .\n" },
	{ T_ENDPOINT, S("Contact\r\nBcc: x@y.com"), 2, 1, "New submission to Contact Bcc: x@y.com",
	  "New submission to Contact Bcc: x@y.com\n" },
	{ T_TEMPLATE, S("{endpoint}\r\nX-Evil: 1 {id}"), 2, 1, "Contact X-Evil: 1 sub_x", NULL },
	{ T_FILE_NAME, S("a.pdf\r\nBcc: x@y.com\r\n"), 2, 1, "Hello", "\n- a.pdf Bcc: x@y.com (1.2 KB" },
	{ T_CTYPE, S("text/html\r\nContent-Transfer-Encoding: 8bit"), 2, 1, "Hello",
	  "(1.2 KB, text/html Content-Transfer-Encoding: 8bit)\n" },
	{ T_CREATED, S("2026\r\nBcc: x@y.com"), 2, 1, "Hello", "\nReceived 2026 Bcc: x@y.com\n" },
	{ T_FROM_NAME, S("Inlet\r\nBcc: x@y.com"), 2, 1, "Hello", NULL },
	{ T_ID, S("sub_x\r\nBcc: x@y.com/../\"<>"), 2, 1, "Hello",
	  "/submissions/sub_x%0D%0ABcc%3A%20x%40y.com%2F..%2F%22%3C%3E/files/0\n" },
};

static void apply(struct fx *f, const struct inj *c, char **keep)
{
	json_object *meta = obj(f->sub, "meta"), *file = json_object_array_get_idx(obj(f->sub, "files"), 0);
	size_t len = c->len;

	switch (c->t) {
	case T_SUBJECT: set_len(meta, "subject", c->v, len); break;
	case T_REPLY_TO: set_len(meta, "reply_to", c->v, len); break;
	case T_CC: set_len(meta, "cc", c->v, len); break;
	case T_FIELD_NAME:
		json_object_object_add(obj(f->sub, "fields"), c->v, json_object_new_string("value"));
		break;
	case T_FIELD_VALUE: set_len(obj(f->sub, "fields"), "message", c->v, len); break;
	case T_ENDPOINT: f->in.endpoint_name = c->v; break;
	case T_TEMPLATE: f->in.subject_template = c->v; break;
	case T_FILE_NAME: set_len(file, "name", c->v, len); break;
	case T_CTYPE: set_len(file, "content_type", c->v, len); break;
	case T_CREATED: set_len(f->sub, "created_at", c->v, len); break;
	case T_FROM_NAME:
		*keep = arena_printf(f->a, "%s <noreply@inlet.example>", c->v);
		f->in.from = *keep;
		break;
	case T_ID: set_len(f->sub, "id", c->v, len); break;
	}
	/* endpoint name and template only show when there is no subject */
	if (c->t == T_ENDPOINT || c->t == T_TEMPLATE)
		json_object_object_del(meta, "subject");
}

static void t_injection(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(injections) / sizeof(injections[0]); i++) {
		const struct inj *c = &injections[i];
		const char *want[16];
		size_t nw = 0;
		struct fx f;
		struct msg *g;
		char *keep = NULL, *subj;

		fx_init(&f);
		apply(&f, c, &keep);
		g = notify(&f);
		for (size_t k = 0; base_headers[k]; k++) {
			if (strcmp(base_headers[k], "Cc") == 0 && !c->cc)
				continue;
			if (strcmp(base_headers[k], "Reply-To") == 0 && !c->reply_to)
				continue;
			want[nw++] = base_headers[k];
		}
		want[nw] = NULL;
		expect_headers(&g->h, want);
		assert_null(hget(&g->h, "Bcc"));
		if (c->cc) {
			struct mail_envelope env;
			size_t commas = 0;

			for (const char *p = hget(&g->h, "Cc"); *p; p++)
				commas += *p == ',';
			assert_int_equal(commas + 1, (size_t)c->cc);
			assert_int_equal(mail_envelope_recipients(f.a, &f.in, MAIL_NOTIFICATION, &env), 0);
			assert_int_equal(env.nrcpt, 2 + (size_t)c->cc);
		}
		subj = words_dec(f.a, hget(&g->h, "Subject"));
		assert_true(utf8_valid(subj));
		assert_string_equal(subj, c->subject);
		assert_true(utf8_valid(g->text));
		assert_true(utf8_valid(g->html));
		if (c->text && !strstr(g->text, c->text))
			fail_msg("case %zu: text part lacks \"%s\":\n%s", i, c->text, g->text);
		if (c->t == T_FROM_NAME)
			assert_string_equal(hget(&g->h, "From"), "\"Inlet Bcc: x@y.com\" <noreply@inlet.example>");
		fx_free(&f);
	}
}

/* Random bytes into every input at once: whatever comes in, the message
 * parses, keeps the byte rules and has no header it should not have. */
static void t_random_inputs(void **state)
{
	static const char alphabet[] = "\r\n\0\t =?_-:;,<>\"@.aZ\x7f\x80\xc3\xa9\xe2\x80\xa8\xf0\x9f\x91\x8b";
	static const char *const allowed[] = { "Date", "From", "To", "Cc", "Reply-To", "Subject",
					       "Message-ID", "Auto-Submitted", "MIME-Version",
					       "Content-Type" };
	uint64_t x = 0x9E3779B97F4A7C15ULL;

	(void)state;
	for (int iter = 0; iter < 1500; iter++) {
		struct fx f;
		struct msg *g;
		char v[6][200];
		size_t len[6];
		json_object *meta;

		fx_init(&f);
		for (int k = 0; k < 6; k++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			len[k] = x % sizeof(v[k]);
			for (size_t j = 0; j < len[k]; j++) {
				x ^= x << 13, x ^= x >> 7, x ^= x << 17;
				v[k][j] = (x >> 8) % 4 == 0 ? (char)(x >> 16) : alphabet[(x >> 24) % (sizeof(alphabet) - 1)];
			}
		}
		meta = obj(f.sub, "meta");
		set_len(meta, "subject", v[0], len[0]);
		set_len(meta, "reply_to", v[1], len[1]);
		set_len(meta, "cc", v[2], len[2]);
		set_len(obj(f.sub, "fields"), "message", v[3], len[3]);
		set_len(json_object_array_get_idx(obj(f.sub, "files"), 0), "name", v[4], len[4]);
		v[5][len[5] < 199 ? len[5] : 199] = '\0';
		json_object_object_add(obj(f.sub, "fields"), v[5], json_object_new_string_len(v[0], (int)len[0]));
		g = notify(&f);
		for (size_t i = 0; i < g->h.n; i++) {
			size_t k;

			for (k = 0; k < sizeof(allowed) / sizeof(allowed[0]); k++)
				if (strcasecmp(g->h.name[i], allowed[k]) == 0)
					break;
			if (k == sizeof(allowed) / sizeof(allowed[0]))
				fail_msg("iteration %d: header %s", iter, g->h.name[i]);
			assert_int_equal(hcount(&g->h, g->h.name[i]), 1);
		}
		assert_true(utf8_valid(words_dec(f.a, hget(&g->h, "Subject"))));
		assert_true(utf8_valid(g->text));
		fx_free(&f);
	}
}

static void t_address_valid(void **state)
{
	static const char *const good[] = {
		"a@b.co", "ada@example.com", "first.last+tag@sub.example.co.uk",
		"x_y-z@xn--bcher-kva.example", "o'brien@example.ie", "a!#$%&'*+-/=^?_`{|}~@x.io",
		"1@2.example", "a@b-c.d-e.fg",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@example.com",
	};
	static const char *const bad[] = {
		"", "a", "@", "@b.com", "a@", "a@b", "a@@b.com", "a@b@c.com", ".a@b.com", "a.@b.com",
		"a..b@c.com", "a b@c.com", "\"a\"@b.com", "\"a b\"@c.com", "a@b.com ", " a@b.com",
		"a@b.com\r\n", "a@b.com\n", "a@b.com\r", "a@b.com\t", "Ada <a@b.com>", "<a@b.com>",
		"a@b.com (comment)", "a(c)@b.com", "a@[127.0.0.1]", "a@1.2.3.4", "a@b.123", "a@-b.com",
		"a@b-.com", "a@b..com", "a@.b.com", "a@b.com.", "\xc3\xa4@b.com", "a@b\xc3\xbc.com",
		"=?utf-8?q?x?=@b.com", "a,b@c.com", "a;b@c.com", "a@b_c.com", "a\\b@c.com",
		"a@b.com,c@d.com", "a@b.com\x7f", "a:b@c.com", "a@b.c\x01m", "a@localhost",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@example.com",
		"a@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com",
	};
	char big[300];

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (!mail_address_valid(good[i]))
			fail_msg("refused %s", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (mail_address_valid(bad[i]))
			fail_msg("accepted %s", bad[i]);
	assert_false(mail_address_valid(NULL));
	/* 254 bytes in all is the most */
	memset(big, 'a', sizeof(big));
	memcpy(big, "x@", 2);
	for (size_t i = 2 + 60; i < 254; i += 62)
		big[i] = '.';
	memcpy(big + 250, ".com", 4);
	big[254] = '\0';
	assert_true(mail_address_valid(big));
	big[249] = 'b';
	memcpy(big + 251, ".com", 4);
	big[255] = '\0';
	assert_false(mail_address_valid(big));
}

static void t_subject_folding(void **state)
{
	struct fx f;
	struct msg *g;
	struct buf s;
	const char *raw, *to[12];
	char *dec;

	(void)state;
	fx_init(&f);
	buf_init(&s, 0);
	/* ASCII words: folded at spaces, unfolding gives the text back */
	for (int i = 0; i < 40; i++)
		buf_printf(&s, "%sword%d", i ? " " : "", i);
	set_len(obj(f.sub, "meta"), "subject", s.data, s.len);
	g = notify(&f);
	raw = strstr(f.out.data, "\r\nSubject: ");
	assert_non_null(raw);
	assert_non_null(strstr(raw + 2, "\r\n "));
	assert_string_equal(hget(&g->h, "Subject"), s.data);

	/* non-ASCII: encoded-words of at most 75, cut on characters */
	buf_reset(&s);
	for (int i = 0; i < 60; i++)
		buf_puts(&s, i % 3 ? "é" : "日本 ");
	set_len(obj(f.sub, "meta"), "subject", s.data, s.len);
	g = notify(&f);
	dec = words_dec(f.a, hget(&g->h, "Subject"));
	assert_string_equal(dec, s.data[s.len - 1] == ' ' ? arena_strndup(f.a, s.data, s.len - 1) : s.data);
	for (const char *w = hget(&g->h, "Subject"); (w = strstr(w, "=?UTF-8?B?")); w += 10) {
		const char *e = strstr(w, "?=");
		struct buf d;

		assert_true(e - w + 2 <= 75);
		buf_init(&d, 0);
		b64_dec(&d, w + 10, (size_t)(e - w - 10));
		buf_putc(&d, '\0');
		assert_true(utf8_valid(d.data)); /* every word alone */
		buf_free(&d);
	}

	/* one long word: no place to fold, so encoded-words */
	buf_reset(&s);
	for (int i = 0; i < 150; i++)
		buf_putc(&s, (char)('a' + i % 26));
	set_len(obj(f.sub, "meta"), "subject", s.data, s.len);
	g = notify(&f);
	assert_true(strncmp(hget(&g->h, "Subject"), "=?UTF-8?B?", 10) == 0);
	assert_string_equal(words_dec(f.a, hget(&g->h, "Subject")), s.data);

	/* past MAIL_SUBJECT_MAX: cut on a character */
	buf_reset(&s);
	for (int i = 0; i < 300; i++)
		buf_puts(&s, "ж");
	set_len(obj(f.sub, "meta"), "subject", s.data, s.len);
	g = notify(&f);
	dec = words_dec(f.a, hget(&g->h, "Subject"));
	assert_int_equal(strlen(dec), MAIL_SUBJECT_MAX);
	assert_true(utf8_valid(dec));
	assert_memory_equal(dec, s.data, MAIL_SUBJECT_MAX);

	/* many recipients fold between addresses */
	for (int i = 0; i < 12; i++)
		to[i] = arena_printf(f.a, "recipient%02d@example.org", i);
	f.in.to = to;
	f.in.nto = 12;
	g = notify(&f);
	assert_non_null(strstr(f.out.data, ",\r\n recipient"));
	assert_non_null(strstr(hget(&g->h, "To"), "recipient11@example.org"));
	/* a sender name that needs encoding */
	f.in.from = "Ïnlet Ω <noreply@inlet.example>";
	g = notify(&f);
	assert_string_equal(words_dec(f.a, hget(&g->h, "From")), "Ïnlet Ω <noreply@inlet.example>");
	buf_free(&s);
	fx_free(&f);
}

static void t_size_cap(void **state)
{
	struct fx f;
	char *big;
	size_t n = 1100 * 1024;

	(void)state;
	fx_init(&f);
	big = malloc(n);
	assert_non_null(big);
	memset(big, 'x', n);
	set_len(obj(f.sub, "fields"), "message", big, n);
	buf_puts(&f.out, "kept");
	assert_int_equal(mail_compose_notification(f.a, &f.in, &f.out), INLET_ETOOBIG);
	assert_string_equal(f.out.data, "kept");
	/* under the cap it goes */
	set_len(obj(f.sub, "fields"), "message", big, 300 * 1024);
	buf_reset(&f.out);
	assert_int_equal(mail_compose_notification(f.a, &f.in, &f.out), 0);
	assert_true(f.out.len < MAIL_MAX_SIZE);
	parse(f.a, f.out.data, f.out.len);
	/* a smaller cap of the caller's */
	f.in.max_size = 64 * 1024;
	buf_reset(&f.out);
	assert_int_equal(mail_compose_notification(f.a, &f.in, &f.out), INLET_ETOOBIG);
	assert_int_equal(f.out.len, 0);
	/* out's own cap counts too */
	f.in.max_size = 0;
	buf_free(&f.out);
	buf_init(&f.out, 1000);
	assert_int_equal(mail_compose_notification(f.a, &f.in, &f.out), INLET_ETOOBIG);
	/* and the autoresponse has the cap as well */
	f.in.autoresponse.text = big;
	big[n - 1] = '\0';
	buf_free(&f.out);
	buf_init(&f.out, 0);
	assert_int_equal(mail_compose_autoresponse(f.a, &f.in, &f.out), INLET_ETOOBIG);
	free(big);
	fx_free(&f);
}

static void t_refusals(void **state)
{
	static const char *const bad_from[] = {
		"", "noreply", "evil@x.com\r\nBcc: y@z.com", "Inlet <bad>", "Inlet <a@b.com",
		"<a@b.com> trailing", "a@b.com, c@d.com", "Inlet <a@b.com>\r\nBcc: x@y.com",
	};
	const char *to_bad[] = { "ops@example.org", "x@y.com\r\nBcc: evil@x.com" };
	const char *many[MAIL_MAX_TO + 1];
	struct fx f;
	struct mail_envelope env;

	(void)state;
	fx_init(&f);
	buf_puts(&f.out, "kept");
	for (size_t i = 0; i < sizeof(bad_from) / sizeof(bad_from[0]); i++) {
		f.in.from = bad_from[i];
		if (mail_compose_notification(f.a, &f.in, &f.out) != INLET_EINVAL)
			fail_msg("from %zu accepted", i);
		assert_int_equal(mail_compose_autoresponse(f.a, &f.in, &f.out), INLET_EINVAL);
		assert_int_equal(mail_envelope_recipients(f.a, &f.in, MAIL_NOTIFICATION, &env), INLET_EINVAL);
	}
	f.in.from = NULL;
	assert_int_equal(mail_compose_notification(f.a, &f.in, &f.out), INLET_EINVAL);
	f.in.from = "\"Inlet, Forms\" <noreply@inlet.example>";
	assert_int_equal(mail_envelope_recipients(f.a, &f.in, MAIL_NOTIFICATION, &env), 0);
	assert_string_equal(env.from, "noreply@inlet.example");

	f.in.to = to_bad;
	assert_int_equal(mail_compose_notification(f.a, &f.in, &f.out), INLET_EINVAL);
	f.in.nto = 0;
	assert_int_equal(mail_compose_notification(f.a, &f.in, &f.out), INLET_EINVAL);
	for (size_t i = 0; i <= MAIL_MAX_TO; i++)
		many[i] = arena_printf(f.a, "r%zu@example.org", i);
	f.in.to = many;
	f.in.nto = MAIL_MAX_TO + 1;
	assert_int_equal(mail_compose_notification(f.a, &f.in, &f.out), INLET_ETOOMANY);
	f.in.nto = MAIL_MAX_TO;
	assert_int_equal(mail_envelope_recipients(f.a, &f.in, MAIL_NOTIFICATION, &env), 0);
	f.in.nto = 1;

	f.in.dashboard_url = "https://x.example/\"><script>";
	assert_int_equal(mail_compose_notification(f.a, &f.in, &f.out), INLET_EINVAL);
	f.in.dashboard_url = "javascript:alert(1)";
	assert_int_equal(mail_compose_notification(f.a, &f.in, &f.out), INLET_EINVAL);
	f.in.dashboard_url = "https://x.example";
	f.in.message_id = "a b";
	assert_int_equal(mail_compose_notification(f.a, &f.in, &f.out), INLET_EINVAL);
	f.in.message_id = "x>\r\nBcc: y@z.com";
	assert_int_equal(mail_compose_notification(f.a, &f.in, &f.out), INLET_EINVAL);
	f.in.message_id = NULL;
	f.in.submission = NULL;
	assert_int_equal(mail_compose_notification(f.a, &f.in, &f.out), INLET_EINVAL);
	f.in.submission = obj(f.sub, "fields"); /* no id */
	assert_int_equal(mail_compose_notification(f.a, &f.in, &f.out), INLET_EINVAL);
	assert_string_equal(f.out.data, "kept");
	f.in.submission = f.sub;
	assert_int_equal(mail_compose_notification(f.a, &f.in, &f.out), 0);
	fx_free(&f);
}

static void t_autoresponse(void **state)
{
	static const char *const want[] = { "Date", "From", "To", "Subject", "Message-ID",
					    "Auto-Submitted", "MIME-Version", "Content-Type",
					    "Content-Transfer-Encoding", NULL };
	struct fx f;
	struct msg *g;
	struct mail_envelope env;
	json_object *meta;

	(void)state;
	fx_init(&f);
	f.in.message_id = "job_7";
	assert_int_equal(mail_compose_autoresponse(f.a, &f.in, &f.out), 0);
	g = parse(f.a, f.out.data, f.out.len);
	expect_headers(&g->h, want);
	assert_string_equal(hget(&g->h, "To"), "ada@example.com");
	assert_string_equal(hget(&g->h, "Subject"), "Thanks from Contact");
	assert_string_equal(hget(&g->h, "Auto-Submitted"), "auto-replied");
	assert_string_equal(hget(&g->h, "Message-ID"), "<job_7.reply@inlet.example>");
	assert_string_equal(hget(&g->h, "Content-Type"), "text/plain; charset=utf-8");
	/* a lone "." line survives (encoded "=2E"; stuffing is the sender's) */
	assert_non_null(strstr(f.out.data, "\r\n=2E\r\n"));
	assert_string_equal(g->text, "We got your message.\n.\nBye\n");
	assert_int_equal(mail_envelope_recipients(f.a, &f.in, MAIL_AUTORESPONSE, &env), 0);
	assert_int_equal(env.nrcpt, 1);
	assert_string_equal(env.rcpt[0], "ada@example.com");

	/* nothing from the submission reaches the autoresponse */
	set_len(obj(f.sub, "meta"), "subject", S("spam spam http://evil.example"));
	set_len(obj(f.sub, "fields"), "message", S("buy now http://evil.example"));
	buf_reset(&f.out);
	assert_int_equal(mail_compose_autoresponse(f.a, &f.in, &f.out), 0);
	assert_null(strstr(f.out.data, "evil"));

	/* owner text with controls and a subject template with CRLF */
	f.in.autoresponse.subject = "Re: {endpoint}\r\nBcc: evil@x.com";
	f.in.autoresponse.text = "Hi\r\nfrom {endpoint}\0hidden";
	buf_reset(&f.out);
	assert_int_equal(mail_compose_autoresponse(f.a, &f.in, &f.out), 0);
	g = parse(f.a, f.out.data, f.out.len);
	expect_headers(&g->h, want);
	assert_string_equal(hget(&g->h, "Subject"), "Re: Contact Bcc: evil@x.com");
	assert_string_equal(g->text, "Hi\nfrom Contact\n");
	f.in.autoresponse.subject = NULL;
	f.in.autoresponse.text = "Ünïcode\ttext\x01";
	buf_reset(&f.out);
	assert_int_equal(mail_compose_autoresponse(f.a, &f.in, &f.out), 0);
	g = parse(f.a, f.out.data, f.out.len);
	assert_string_equal(hget(&g->h, "Subject"), "Thank you for your submission");
	assert_string_equal(g->text, "Ünïcode\ttext\n");

	/* refusals: disabled, no text, no or bad or own address */
	meta = obj(f.sub, "meta");
	buf_reset(&f.out);
	f.in.autoresponse.text = "";
	assert_int_equal(mail_compose_autoresponse(f.a, &f.in, &f.out), INLET_EINVAL);
	f.in.autoresponse.text = "\x01\x02";
	assert_int_equal(mail_compose_autoresponse(f.a, &f.in, &f.out), INLET_EINVAL);
	f.in.autoresponse.text = "ok";
	f.in.autoresponse.enabled = 0;
	assert_int_equal(mail_compose_autoresponse(f.a, &f.in, &f.out), INLET_ENOTFOUND);
	assert_int_equal(mail_envelope_recipients(f.a, &f.in, MAIL_AUTORESPONSE, &env), INLET_ENOTFOUND);
	f.in.autoresponse.enabled = 1;
	set_len(meta, "reply_to", S("ada@example.com\r\nBcc: evil@x.com"));
	assert_int_equal(mail_compose_autoresponse(f.a, &f.in, &f.out), INLET_EINVAL);
	set_len(meta, "reply_to", S("Ada <ada@example.com>"));
	assert_int_equal(mail_compose_autoresponse(f.a, &f.in, &f.out), INLET_EINVAL);
	set_len(meta, "reply_to", S("NoReply@Inlet.Example"));
	assert_int_equal(mail_compose_autoresponse(f.a, &f.in, &f.out), INLET_EINVAL);
	json_object_object_del(meta, "reply_to");
	assert_int_equal(mail_compose_autoresponse(f.a, &f.in, &f.out), INLET_EINVAL);
	assert_int_equal(f.out.len, 0);
	fx_free(&f);
}

/* The invitation: one recipient, the link in the text, and an account
 * name that tries to add a header stays one line of the subject. */
static void t_invite(void **state)
{
	static const char *const want[] = { "Date", "From", "To", "Subject", "Message-ID",
					    "Auto-Submitted", "MIME-Version", "Content-Type",
					    "Content-Transfer-Encoding", NULL };
	const char *url = "https://inlet.example/#/invite/inlet_iv_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_AbCdEfG";
	struct arena *a = arena_create(0);
	struct mail_invite in = {
		.from = "Inlet <noreply@inlet.example>", .to = "bea@example.com", .account = "Acme\r\nBcc: evil@evil.example",
		.inviter = "ada@example.com", .role = "admin", .url = url, .expires_ms = 1796000000000LL,
		.message_id = "inv_abc-DEF_1", .date_ms = 1795000000000LL,
	};
	struct mail_envelope env;
	struct buf out;
	struct msg *g;

	(void)state;
	buf_init(&out, 0);
	assert_int_equal(mail_compose_invite(a, &in, &out, &env), 0);
	g = parse(a, out.data, out.len);
	expect_headers(&g->h, want);
	assert_null(hget(&g->h, "Bcc"));
	assert_string_equal(hget(&g->h, "To"), "bea@example.com");
	assert_string_equal(hget(&g->h, "Subject"), "You are invited to Acme Bcc: evil@evil.example on Inlet");
	assert_string_equal(hget(&g->h, "Message-ID"), "<inv_abc-DEF_1.invite@inlet.example>");
	assert_string_equal(hget(&g->h, "Auto-Submitted"), "auto-generated");
	assert_non_null(strstr(g->text, url));
	assert_non_null(strstr(g->text, "ada@example.com invited you to join \"Acme Bcc: evil@evil.example\" on Inlet as an admin."));
	assert_int_equal(env.nrcpt, 1);
	assert_string_equal(env.rcpt[0], "bea@example.com");
	assert_string_equal(env.from, "noreply@inlet.example");

	/* Without an inviter (an API key invited), and as a viewer. */
	buf_reset(&out);
	in.inviter = NULL;
	in.role = "viewer";
	assert_int_equal(mail_compose_invite(a, &in, &out, &env), 0);
	g = parse(a, out.data, out.len);
	assert_non_null(strstr(g->text, "Someone invited you"));
	assert_non_null(strstr(g->text, "as a viewer."));

	/* Refusals: nothing is appended. */
	buf_reset(&out);
	in.url = "javascript:alert(1)";
	assert_int_equal(mail_compose_invite(a, &in, &out, &env), INLET_EINVAL);
	in.url = "https://inlet.example/#/invite/x\r\nBcc: evil@evil.example";
	assert_int_equal(mail_compose_invite(a, &in, &out, &env), INLET_EINVAL);
	in.url = url;
	in.role = "king";
	assert_int_equal(mail_compose_invite(a, &in, &out, &env), INLET_EINVAL);
	in.role = "member";
	in.to = "bea@example.com\r\nBcc: evil@evil.example";
	assert_int_equal(mail_compose_invite(a, &in, &out, &env), INLET_EINVAL);
	in.to = "bea@example.com";
	in.message_id = "inv <1>";
	assert_int_equal(mail_compose_invite(a, &in, &out, &env), INLET_EINVAL);
	assert_int_equal(out.len, 0);
	buf_free(&out);
	arena_destroy(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_notification),
		cmocka_unit_test(t_defaults_and_ids),
		cmocka_unit_test(t_html_escaping),
		cmocka_unit_test(t_injection),
		cmocka_unit_test(t_random_inputs),
		cmocka_unit_test(t_address_valid),
		cmocka_unit_test(t_subject_folding),
		cmocka_unit_test(t_size_cap),
		cmocka_unit_test(t_refusals),
		cmocka_unit_test(t_autoresponse),
		cmocka_unit_test(t_invite),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
