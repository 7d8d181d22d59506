/* The multipart/form-data push parser. Most tests describe a body and the
 * callbacks it must produce as text, then check that every way of cutting
 * the body into chunks produces exactly that. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/err.h"
#include "ingest/multipart.h"

/* Callbacks are written down as text: "{name|filename|type}" for
 * part_begin (NULL as "-"), the data bytes as they come, "}" for part_end.
 * Data pieces concatenate, so the text does not depend on chunking. */
struct rec {
	char log[1 << 16];
	size_t len;
	int ncalls;     /* callbacks so far */
	int stop_at;    /* return stop_rc from the call with this number (1-based); 0 never */
	int stop_rc;
	size_t pieces;  /* part_data calls */
	size_t data_bytes;
};

static void rec_put(struct rec *r, const char *s, size_t n)
{
	assert_true(n < sizeof(r->log) - r->len);
	memcpy(r->log + r->len, s, n);
	r->len += n;
	r->log[r->len] = '\0';
}

static int rec_stop(struct rec *r)
{
	return ++r->ncalls == r->stop_at ? r->stop_rc : 0;
}

static int on_begin(void *ctx, const struct mp_part *part)
{
	struct rec *r = ctx;
	char tmp[1024];
	int n;

	assert_non_null(part->name);
	n = snprintf(tmp, sizeof(tmp), "{%s|%s|%s}", part->name,
		     part->filename ? part->filename : "-",
		     part->content_type ? part->content_type : "-");
	assert_true(n > 0 && (size_t)n < sizeof(tmp));
	rec_put(r, tmp, (size_t)n);
	return rec_stop(r);
}

static int on_data(void *ctx, const char *data, size_t len)
{
	struct rec *r = ctx;

	assert_true(len > 0);
	rec_put(r, data, len);
	r->pieces++;
	r->data_bytes += len;
	return rec_stop(r);
}

static int on_end(void *ctx)
{
	struct rec *r = ctx;

	rec_put(r, "}", 1);
	return rec_stop(r);
}

static const struct mp_callbacks cbs = { on_begin, on_data, on_end };
static const struct mp_limits roomy = { 100, 4096 };

/* Feeds body in chunks of `chunk` bytes (0: all at once), stopping at the
 * first error, then finishes. Returns the first non-zero result, or
 * mp_finish's. */
static int run_lim(const char *boundary, const char *body, size_t len,
		   size_t chunk, const struct mp_limits *lim, struct rec *r)
{
	struct mp_parser *p = mp_create(boundary, lim, &cbs, r);
	size_t off = 0;
	int rc = 0;

	if (chunk == 0)
		chunk = len ? len : 1;
	while (off < len && rc == 0) {
		size_t n = len - off < chunk ? len - off : chunk;

		rc = mp_feed(p, body + off, n);
		off += n;
	}
	if (rc == 0)
		rc = mp_finish(p);
	else
		assert_int_equal(mp_finish(p), rc); /* sticky */
	mp_destroy(p);
	return rc;
}

/* Runs body with every chunk size from 1 to its length and checks that
 * each gives the same result and the same callbacks; returns them. */
static int run_all(const char *boundary, const char *body, size_t len,
		   const struct mp_limits *lim, struct rec *out)
{
	struct rec *r = calloc(1, sizeof(*r));
	size_t chunk;
	int rc;

	assert_non_null(r);
	memset(out, 0, sizeof(*out));
	rc = run_lim(boundary, body, len, 0, lim, out);
	for (chunk = 1; chunk <= len; chunk++) {
		memset(r, 0, sizeof(*r));
		assert_int_equal(run_lim(boundary, body, len, chunk, lim, r), rc);
		if (r->len != out->len || memcmp(r->log, out->log, r->len) != 0)
			fail_msg("chunk %zu gave\n%s\nnot\n%s", chunk, r->log, out->log);
	}
	free(r);
	return rc;
}

static struct rec rec; /* big; static rather than on the stack */

#define BODY(s) s, sizeof(s) - 1

/* body (a literal) with boundary "b0und" must give rc and the callbacks
 * in want (a literal). */
#define EXPECT(body, rc, want)                                                \
	do {                                                                  \
		assert_int_equal(run_all("b0und", BODY(body), &roomy, &rec), rc); \
		assert_int_equal(rec.len, sizeof(want) - 1);                  \
		assert_memory_equal(rec.log, want, sizeof(want) - 1);         \
	} while (0)

static void t_browser_form(void **state)
{
	/* Shaped like what Chrome sends for a form with a file input. */
	static const char body[] =
		"------WebKitFormBoundaryx7Gq1ZbWmf3sQK2A\r\n"
		"Content-Disposition: form-data; name=\"email\"\r\n"
		"\r\n"
		"a@example.com\r\n"
		"------WebKitFormBoundaryx7Gq1ZbWmf3sQK2A\r\n"
		"Content-Disposition: form-data; name=\"msg\"\r\n"
		"\r\n"
		"two\r\nlines\r\n"
		"------WebKitFormBoundaryx7Gq1ZbWmf3sQK2A\r\n"
		"Content-Disposition: form-data; name=\"cv\"; filename=\"cv.pdf\"\r\n"
		"Content-Type: application/pdf\r\n"
		"\r\n"
		"%PDF-1.4\x00\x01\xff\r\n"
		"------WebKitFormBoundaryx7Gq1ZbWmf3sQK2A--\r\n";
	static const char log[] = "{email|-|-}a@example.com}"
				  "{msg|-|-}two\r\nlines}"
				  "{cv|cv.pdf|application/pdf}%PDF-1.4\x00\x01\xff}";

	(void)state;
	assert_int_equal(run_all("----WebKitFormBoundaryx7Gq1ZbWmf3sQK2A",
				 BODY(body), &roomy, &rec), 0);
	assert_int_equal(rec.len, sizeof(log) - 1);
	assert_memory_equal(rec.log, log, sizeof(log) - 1);
}

static void t_empty_body(void **state)
{
	(void)state;
	EXPECT("", INLET_EINVAL, "");
	EXPECT("no delimiter here\r\n", INLET_EINVAL, "");
}

static void t_zero_parts(void **state)
{
	(void)state;
	EXPECT("--b0und--", 0, "");
	EXPECT("--b0und--\r\n", 0, "");
}

static void t_empty_part(void **state)
{
	(void)state;
	/* No headers, no data: the blank line follows the delimiter line. */
	EXPECT("--b0und\r\n\r\n\r\n--b0und--", 0, "{|-|-}}");
	EXPECT("--b0und\r\nContent-Disposition: form-data; name=e\r\n\r\n"
	       "\r\n--b0und--", 0, "{e|-|-}}");
}

static void t_crlf_in_data(void **state)
{
	(void)state;
	/* Only the CRLF right before "--b0und" belongs to the delimiter. */
	EXPECT("--b0und\r\n\r\n\r\n\r\n--b0und--", 0, "{|-|-}\r\n}");
	EXPECT("--b0und\r\n\r\na\rb\nc\r\r\n\n\r\r\n--b0und--", 0,
	       "{|-|-}a\rb\nc\r\r\n\n\r}");
	EXPECT("--b0und\r\n\r\n\r\r\n--b0und--", 0, "{|-|-}\r}");
	EXPECT("--b0und\r\n\r\nx\r\n-\r\n--\r\n--b\r\n--b0un\r\n--b0und--", 0,
	       "{|-|-}x\r\n-\r\n--\r\n--b\r\n--b0un}");
}

static void t_boundary_prefix_in_data(void **state)
{
	(void)state;
	/* The delimiter must be followed by padding+CRLF or "--". */
	EXPECT("--b0und\r\n\r\nA\r\n--b0undX\r\nB\r\n--b0und--", 0,
	       "{|-|-}A\r\n--b0undX\r\nB}");
	EXPECT("--b0und\r\n\r\nA\r\n--b0und-x\r\n--b0und--", 0,
	       "{|-|-}A\r\n--b0und-x}");
	EXPECT("--b0und\r\n\r\nA\r\n--b0und\rx\r\n--b0und--", 0,
	       "{|-|-}A\r\n--b0und\rx}");
	EXPECT("--b0und\r\n\r\nA\r\n--b0und \tx\r\n--b0und--", 0,
	       "{|-|-}A\r\n--b0und \tx}");
	EXPECT("--b0und\r\n\r\nA\r\n--b0und -- \r\n--b0und--", 0,
	       "{|-|-}A\r\n--b0und -- }");
	/* A held '\r' after the boundary may start the real delimiter. */
	EXPECT("--b0und\r\n\r\nA\r\n--b0und\r\r\n--b0und--", 0,
	       "{|-|-}A\r\n--b0und\r}");
	EXPECT("--b0und\r\n\r\nA\r\n--b0und \r\r\n--b0und--", 0,
	       "{|-|-}A\r\n--b0und \r}");
	/* Not at the start of a line: data. */
	EXPECT("--b0und\r\n\r\nA--b0und--\n--b0und\r\n--b0und--", 0,
	       "{|-|-}A--b0und--\n--b0und}");
	/* Right after the header block there is no CRLF of its own. */
	EXPECT("--b0und\r\n\r\n--b0und--\r\n--b0und--", 0, "{|-|-}--b0und--}");
	/* A repeated prefix of the delimiter. */
	EXPECT("--b0und\r\n\r\n\r\n--b0\r\n--b0und--", 0, "{|-|-}\r\n--b0}");
}

static void t_padding(void **state)
{
	(void)state;
	/* Transport padding after a delimiter is allowed (RFC 2046). */
	EXPECT("--b0und \t \r\n\r\nA\r\n--b0und\t\r\n\r\nB\r\n--b0und--  \r\n", 0,
	       "{|-|-}A}{|-|-}B}");
	/* Up to 16 padding bytes are a delimiter; more make it data. */
	EXPECT("--b0und\r\n\r\nA\r\n--b0und                \r\n\r\nB\r\n--b0und--", 0,
	       "{|-|-}A}{|-|-}B}");
	EXPECT("--b0und\r\n\r\nA\r\n--b0und                 \r\n\r\nB\r\n--b0und--", 0,
	       "{|-|-}A\r\n--b0und                 \r\n\r\nB}");
}

static void t_preamble_epilogue(void **state)
{
	(void)state;
	EXPECT("This is a preamble.\r\n--b0undX\r\nxx--b0und\r\n--b0und \r\n"
	       "\r\nA\r\n--b0und--\r\nepilogue\r\n--b0und\r\n\r\nB\r\n--b0und--",
	       0, "{|-|-}A}");
	/* A preamble that is a single empty line. */
	EXPECT("\r\n--b0und\r\n\r\nA\r\n--b0und--", 0, "{|-|-}A}");
	/* Epilogue without the optional CRLF. */
	EXPECT("--b0und\r\n\r\nA\r\n--b0und--garbage", 0, "{|-|-}A}");
}

static void t_missing_close(void **state)
{
	(void)state;
	EXPECT("--b0und\r\n\r\nA", INLET_EINVAL, "{|-|-}A");
	EXPECT("--b0und\r\n\r\nA\r\n", INLET_EINVAL, "{|-|-}A");
	EXPECT("--b0und\r\n\r\nA\r\n--b0und", INLET_EINVAL, "{|-|-}A");
	EXPECT("--b0und\r\n\r\nA\r\n--b0und-", INLET_EINVAL, "{|-|-}A");
	EXPECT("--b0und\r\n\r\nA\r\n--b0und\r\n", INLET_EINVAL, "{|-|-}A}");
	EXPECT("--b0und\r\nContent-Disposition: form-data; name=x\r\n",
	       INLET_EINVAL, "");
	EXPECT("--b0und", INLET_EINVAL, "");
}

static void t_lf_only_rejected(void **state)
{
	(void)state;
	/* Delimiters need CRLF; a body with bare LFs has none. */
	EXPECT("--b0und\nContent-Disposition: form-data; name=a\n\nA\n--b0und--\n",
	       INLET_EINVAL, "");
	/* A bare LF inside a header block is malformed. */
	EXPECT("--b0und\r\nContent-Disposition: form-data; name=a\n\r\n\r\n",
	       INLET_EINVAL, "");
	EXPECT("--b0und\r\nX-A: 1\r\r\n\r\nA\r\n--b0und--", INLET_EINVAL, "");
}

static void t_filename(void **state)
{
	(void)state;
	EXPECT("--b0und\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a b.txt\"\r\n"
	       "\r\nA\r\n--b0und--", 0, "{f|a b.txt|-}A}");
	/* An empty file input: still a file part. */
	EXPECT("--b0und\r\nContent-Disposition: form-data; name=\"f\"; filename=\"\"\r\n"
	       "Content-Type: application/octet-stream\r\n\r\n\r\n--b0und--",
	       0, "{f||application/octet-stream}}");
	/* "filename" is not "name", in either order. */
	EXPECT("--b0und\r\nContent-Disposition: form-data; filename=x; name=n\r\n"
	       "\r\nA\r\n--b0und--", 0, "{n|x|-}A}");
	EXPECT("--b0und\r\nContent-Disposition: form-data; filename=x\r\n"
	       "\r\nA\r\n--b0und--", 0, "{|x|-}A}");
}

static void t_filename_ext(void **state)
{
	(void)state;
	/* filename* is preferred, wherever it comes. */
	EXPECT("--b0und\r\nContent-Disposition: form-data; name=f; "
	       "filename*=UTF-8''na%C3%AFve%20cv.txt; filename=\"naive cv.txt\"\r\n"
	       "\r\nA\r\n--b0und--", 0, "{f|na\xc3\xafve cv.txt|-}A}");
	EXPECT("--b0und\r\nContent-Disposition: form-data; name=f; filename=\"x.txt\"; "
	       "FILENAME*=utf-8'en'%E2%82%AC.txt\r\n"
	       "\r\nA\r\n--b0und--", 0, "{f|\xe2\x82\xac.txt|-}A}");
	/* Quoted, though RFC 5987 says token. */
	EXPECT("--b0und\r\nContent-Disposition: form-data; name=f; "
	       "filename*=\"UTF-8''a%20b\"\r\n\r\nA\r\n--b0und--", 0, "{f|a b|-}A}");
	/* Unsupported charset or a NUL: fall back to filename=. */
	EXPECT("--b0und\r\nContent-Disposition: form-data; name=f; "
	       "filename*=ISO-8859-1''%E9.txt; filename=e.txt\r\n"
	       "\r\nA\r\n--b0und--", 0, "{f|e.txt|-}A}");
	EXPECT("--b0und\r\nContent-Disposition: form-data; name=f; "
	       "filename*=UTF-8''a%00b; filename=e.txt\r\n"
	       "\r\nA\r\n--b0und--", 0, "{f|e.txt|-}A}");
	/* ... and with nothing to fall back to, still a file, unnamed. */
	EXPECT("--b0und\r\nContent-Disposition: form-data; name=f; "
	       "filename*=no-quotes\r\n\r\nA\r\n--b0und--", 0, "{f||-}A}");
}

static void t_quoting(void **state)
{
	(void)state;
	EXPECT("--b0und\r\nContent-Disposition: form-data; name=\"a\\\"b\\\\c\"\r\n"
	       "\r\nA\r\n--b0und--", 0, "{a\"b\\c|-|-}A}");
	/* Bare backslashes (old IE's Windows paths) survive. */
	EXPECT("--b0und\r\nContent-Disposition: form-data; name=\"up\"; "
	       "filename=\"C:\\dir\\f.txt\"\r\n\r\nA\r\n--b0und--", 0,
	       "{up|C:\\dir\\f.txt|-}A}");
	/* ';' and '=' inside quotes are data. */
	EXPECT("--b0und\r\nContent-Disposition: form-data; name=\"a;b=c\"; filename=\"x;y\"\r\n"
	       "\r\nA\r\n--b0und--", 0, "{a;b=c|x;y|-}A}");
	/* Unquoted, with spaces and odd case. */
	EXPECT("--b0und\r\ncontent-DISPOSITION :  form-data ;NAME = plain ; Filename=my file.txt  \r\n"
	       "\r\nA\r\n--b0und--", 0, "{plain|my file.txt|-}A}");
	/* The first of a repeated parameter wins. */
	EXPECT("--b0und\r\nContent-Disposition: form-data; name=one; name=two\r\n"
	       "\r\nA\r\n--b0und--", 0, "{one|-|-}A}");
	/* Unterminated quote, junk after a quoted value, parameter without '='. */
	EXPECT("--b0und\r\nContent-Disposition: form-data; name=\"a\r\n\r\nA\r\n--b0und--",
	       INLET_EINVAL, "");
	EXPECT("--b0und\r\nContent-Disposition: form-data; name=\"a\"b\r\n\r\nA\r\n--b0und--",
	       INLET_EINVAL, "");
	EXPECT("--b0und\r\nContent-Disposition: form-data; name\r\n\r\nA\r\n--b0und--",
	       INLET_EINVAL, "");
	/* Empty parameters are skipped. */
	EXPECT("--b0und\r\nContent-Disposition: form-data;; name=a;\r\n\r\nA\r\n--b0und--",
	       0, "{a|-|-}A}");
}

static void t_headers(void **state)
{
	(void)state;
	/* Other headers are ignored, content type is trimmed, folding works. */
	EXPECT("--b0und\r\nX-Other: 1\r\nContent-Type:   text/plain; charset=utf-8 \r\n"
	       "Content-Disposition: form-data;\r\n name=\"folded\"\r\n\r\nA\r\n--b0und--",
	       0, "{folded|-|text/plain; charset=utf-8}A}");
	/* No Content-Disposition: nameless. */
	EXPECT("--b0und\r\nContent-Type: text/plain\r\n\r\nA\r\n--b0und--", 0,
	       "{|-|text/plain}A}");
	/* Malformed header lines. */
	EXPECT("--b0und\r\nno colon\r\n\r\nA\r\n--b0und--", INLET_EINVAL, "");
	EXPECT("--b0und\r\n: empty name\r\n\r\nA\r\n--b0und--", INLET_EINVAL, "");
	EXPECT("--b0und\r\n continuation first\r\n\r\nA\r\n--b0und--", INLET_EINVAL, "");
	EXPECT("--b0und\r\nX-A: a\0b\r\n\r\nA\r\n--b0und--", INLET_EINVAL, "");
}

static void t_header_limit(void **state)
{
	static const char body[] = "--b0und\r\nX-A: 12345\r\n\r\nA\r\n--b0und--";
	/* The block is "X-A: 12345\r\n\r\n": 14 bytes. */
	struct mp_limits lim = { 10, 14 };

	(void)state;
	assert_int_equal(run_all("b0und", BODY(body), &lim, &rec), 0);
	lim.max_header_bytes = 13;
	assert_int_equal(run_all("b0und", BODY(body), &lim, &rec), INLET_ETOOBIG);
	assert_int_equal(rec.len, 0);
	/* A part without headers needs 2. */
	lim.max_header_bytes = 2;
	assert_int_equal(run_all("b0und", BODY("--b0und\r\n\r\nA\r\n--b0und--"), &lim, &rec), 0);
	lim.max_header_bytes = 1;
	assert_int_equal(run_all("b0und", BODY("--b0und\r\n\r\nA\r\n--b0und--"), &lim, &rec),
			 INLET_ETOOBIG);
}

static void t_header_limit_endless(void **state)
{
	/* A header line that never ends fails once it passes the cap, long
	 * before the body ends, and the bytes are not kept. */
	struct mp_limits lim = { 10, 1024 };
	struct mp_parser *p = mp_create("b0und", &lim, &cbs, &rec);
	char junk[512];
	int i, rc = 0;

	(void)state;
	memset(&rec, 0, sizeof(rec));
	memset(junk, 'x', sizeof(junk));
	assert_int_equal(mp_feed(p, BODY("--b0und\r\nX-Big: ")), 0);
	for (i = 0; i < 100 && rc == 0; i++)
		rc = mp_feed(p, junk, sizeof(junk));
	assert_int_equal(rc, INLET_ETOOBIG);
	assert_int_equal(i, 2);
	assert_int_equal(mp_feed(p, "x", 1), INLET_ETOOBIG);
	assert_int_equal(mp_finish(p), INLET_ETOOBIG);
	mp_destroy(p);
}

static void t_part_limit(void **state)
{
	static const char body[] = "--b0und\r\n\r\n1\r\n--b0und\r\n\r\n2\r\n"
				   "--b0und\r\n\r\n3\r\n--b0und--";
	struct mp_limits lim = { 3, 100 };

	(void)state;
	assert_int_equal(run_all("b0und", BODY(body), &lim, &rec), 0);
	assert_string_equal(rec.log, "{|-|-}1}{|-|-}2}{|-|-}3}");
	lim.max_parts = 2;
	assert_int_equal(run_all("b0und", BODY(body), &lim, &rec), INLET_ETOOMANY);
	/* The parts before the limit were complete. */
	assert_string_equal(rec.log, "{|-|-}1}{|-|-}2}");
	lim.max_parts = 0;
	assert_int_equal(run_all("b0und", BODY(body), &lim, &rec), INLET_ETOOMANY);
	assert_int_equal(rec.len, 0);
	/* The close delimiter is not a part. */
	assert_int_equal(run_all("b0und", BODY("--b0und--"), &lim, &rec), 0);
}

static void t_callback_stops(void **state)
{
	static const char body[] = "--b0und\r\n\r\nA\r\n--b0und\r\n\r\nB\r\n--b0und--";
	/* Callbacks: 1 begin, 2 data A, 3 end, 4 begin, 5 data B, 6 end. */
	static const char *const logs[] = {
		"{|-|-}", "{|-|-}A", "{|-|-}A}", "{|-|-}A}{|-|-}",
		"{|-|-}A}{|-|-}B", "{|-|-}A}{|-|-}B}",
	};
	int i;

	(void)state;
	for (i = 1; i <= 6; i++) {
		size_t chunk;

		for (chunk = 0; chunk < sizeof(body); chunk++) {
			memset(&rec, 0, sizeof(rec));
			rec.stop_at = i;
			rec.stop_rc = i == 3 ? -77 : 1000 + i;
			assert_int_equal(run_lim("b0und", BODY(body), chunk, &roomy, &rec),
					 rec.stop_rc);
			assert_int_equal(rec.ncalls, i); /* nothing after the stop */
			assert_string_equal(rec.log, logs[i - 1]);
		}
	}
}

static void t_sticky_error(void **state)
{
	struct mp_parser *p = mp_create("b0und", &roomy, &cbs, &rec);

	(void)state;
	memset(&rec, 0, sizeof(rec));
	assert_int_equal(mp_feed(p, BODY("--b0und\r\nbad\r\n\r\n")), INLET_EINVAL);
	assert_int_equal(mp_feed(p, BODY("--b0und--")), INLET_EINVAL);
	assert_int_equal(mp_feed(p, NULL, 0), INLET_EINVAL);
	assert_int_equal(mp_finish(p), INLET_EINVAL);
	assert_int_equal(rec.ncalls, 0);
	mp_destroy(p);
	mp_destroy(NULL);
}

static void t_bad_boundary(void **state)
{
	char long71[72];
	struct mp_parser *p;

	(void)state;
	memset(long71, 'a', 71);
	long71[71] = '\0';
	p = mp_create("", &roomy, &cbs, &rec);
	assert_int_equal(mp_feed(p, BODY("----\r\n\r\n\r\n------")), INLET_EINVAL);
	mp_destroy(p);
	p = mp_create(long71, &roomy, &cbs, &rec);
	assert_int_equal(mp_finish(p), INLET_EINVAL);
	mp_destroy(p);
	p = mp_create("a\r\nb", &roomy, &cbs, &rec);
	assert_int_equal(mp_feed(p, "x", 1), INLET_EINVAL);
	mp_destroy(p);
	/* 70 is fine. */
	long71[70] = '\0';
	p = mp_create(long71, &roomy, &cbs, &rec);
	assert_int_equal(mp_feed(p, "--", 2), 0);
	assert_int_equal(mp_feed(p, long71, 70), 0);
	assert_int_equal(mp_feed(p, "--", 2), 0);
	assert_int_equal(mp_finish(p), 0);
	mp_destroy(p);
}

static void t_null_callbacks(void **state)
{
	static const struct mp_callbacks none = { NULL, NULL, NULL };
	struct mp_parser *p = mp_create("b0und", &roomy, &none, NULL);

	(void)state;
	assert_int_equal(mp_feed(p, BODY("--b0und\r\n\r\nA\r\n--b0und\r\n\r\nB\r\n--b0und--")), 0);
	assert_int_equal(mp_finish(p), 0);
	mp_destroy(p);
}

/* Data that keeps almost matching the delimiter: every 19 bytes a
 * "\r\n--b0un" that is not one. */
static const char pattern[] = "0123456789\r\n--b0un";
#define PATLEN (sizeof(pattern) - 1)

/* Counts data without keeping it, to check that a large part streams. */
struct stream {
	size_t bytes;
	size_t pieces;
};

static int s_data(void *ctx, const char *data, size_t len)
{
	struct stream *s = ctx;
	size_t i;

	for (i = 0; i < len; i++)
		assert_int_equal(data[i], pattern[(s->bytes + i) % PATLEN]);
	s->bytes += len;
	s->pieces++;
	return 0;
}

static void t_streams(void **state)
{
	static const struct mp_callbacks scb = { NULL, s_data, NULL };
	static const char head[] = "--b0und\r\nContent-Disposition: form-data; name=f; "
				   "filename=big.bin\r\n\r\n";
	struct stream s = { 0, 0 };
	struct mp_parser *p = mp_create("b0und", &roomy, &scb, &s);
	char chunk[1000];
	size_t fed = 0, i, j;
	const size_t dlen = strlen("\r\n--b0und");

	(void)state;
	assert_int_equal(mp_feed(p, BODY(head)), 0);
	/* 10 MB through a parser whose only buffer is for headers. */
	for (i = 0; i < 10000; i++) {
		for (j = 0; j < sizeof(chunk); j++)
			chunk[j] = pattern[(fed + j) % PATLEN];
		assert_int_equal(mp_feed(p, chunk, sizeof(chunk)), 0);
		fed += sizeof(chunk);
		/* Everything but a possible delimiter prefix is out. */
		assert_true(s.bytes <= fed && s.bytes + dlen >= fed);
	}
	/* Ends on a whole pattern, so the delimiter follows cleanly. */
	j = PATLEN - fed % PATLEN;
	for (i = 0; i < j; i++)
		chunk[i] = pattern[(fed + i) % PATLEN];
	assert_int_equal(mp_feed(p, chunk, j), 0);
	fed += j;
	assert_int_equal(mp_feed(p, BODY("\r\n--b0und--")), 0);
	assert_int_equal(mp_finish(p), 0);
	assert_int_equal(s.bytes, fed);
	mp_destroy(p);
}

static void t_streams_held_prefix(void **state)
{
	static const struct mp_callbacks scb = { NULL, on_data, NULL };
	struct mp_parser *p = mp_create("b0und", &roomy, &scb, &rec);

	(void)state;
	memset(&rec, 0, sizeof(rec));
	assert_int_equal(mp_feed(p, BODY("--b0und\r\n\r\nabc\r\n--b0u")), 0);
	/* What could be a delimiter is held, the rest is out. */
	assert_string_equal(rec.log, "abc");
	assert_int_equal(mp_feed(p, BODY("nd  ")), 0);
	assert_string_equal(rec.log, "abc");
	assert_int_equal(mp_feed(p, BODY("x")), 0);
	assert_string_equal(rec.log, "abc\r\n--b0und  x");
	mp_destroy(p);
}

static void t_boundary_param(void **state)
{
	char out[71];

	(void)state;
	assert_int_equal(mp_boundary("multipart/form-data; boundary=abc", out, sizeof(out)), 0);
	assert_string_equal(out, "abc");
	assert_int_equal(mp_boundary("multipart/form-data;boundary=\"a b:c\"", out, sizeof(out)), 0);
	assert_string_equal(out, "a b:c");
	assert_int_equal(mp_boundary("Multipart/Form-Data; charset=utf-8; BOUNDARY = x=y ", out,
				     sizeof(out)), 0);
	assert_string_equal(out, "x=y");
	assert_int_equal(mp_boundary("multipart/form-data; foo=\"boundary=no;\"; boundary=yes",
				     out, sizeof(out)), 0);
	assert_string_equal(out, "yes");
	assert_int_equal(mp_boundary("multipart/form-data; boundary=\"q\\\"x\"", out, sizeof(out)), 0);
	assert_string_equal(out, "q\"x");
	assert_int_equal(mp_boundary("multipart/form-data; boundary=----WebKitFormBoundaryx7Gq1ZbWmf3sQK2A",
				     out, sizeof(out)), 0);
	assert_string_equal(out, "----WebKitFormBoundaryx7Gq1ZbWmf3sQK2A");

	assert_int_equal(mp_boundary(NULL, out, sizeof(out)), INLET_EINVAL);
	assert_int_equal(mp_boundary("multipart/form-data", out, sizeof(out)), INLET_EINVAL);
	assert_int_equal(mp_boundary("multipart/form-data;", out, sizeof(out)), INLET_EINVAL);
	assert_int_equal(mp_boundary("multipart/form-data; boundary=", out, sizeof(out)), INLET_EINVAL);
	assert_int_equal(mp_boundary("multipart/form-data; boundary=\"\"", out, sizeof(out)), INLET_EINVAL);
	assert_int_equal(mp_boundary("multipart/form-data; boundary=\"abc", out, sizeof(out)), INLET_EINVAL);
	assert_int_equal(mp_boundary("multipart/form-data; boundaryx=abc", out, sizeof(out)), INLET_EINVAL);
	assert_int_equal(mp_boundary("multipart/form-data; boundary=\"a\tb\"", out, sizeof(out)),
			 INLET_EINVAL);
	assert_int_equal(mp_boundary("multipart/form-data; boundary=\"a\x01\"", out, sizeof(out)),
			 INLET_EINVAL);
	/* 70 bytes fits, 71 is too long. */
	assert_int_equal(mp_boundary("m/f; boundary=0123456789012345678901234567890123456789"
				     "012345678901234567890123456789", out, sizeof(out)), 0);
	assert_int_equal(strlen(out), 70);
	assert_int_equal(mp_boundary("m/f; boundary=0123456789012345678901234567890123456789"
				     "0123456789012345678901234567890", out, sizeof(out)),
			 INLET_EINVAL);
	assert_int_equal(mp_boundary("m/f; boundary=abc", out, 3), INLET_ETOOBIG);
	assert_int_equal(mp_boundary("m/f; boundary=abc", out, 4), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_browser_form),
		cmocka_unit_test(t_empty_body),
		cmocka_unit_test(t_zero_parts),
		cmocka_unit_test(t_empty_part),
		cmocka_unit_test(t_crlf_in_data),
		cmocka_unit_test(t_boundary_prefix_in_data),
		cmocka_unit_test(t_padding),
		cmocka_unit_test(t_preamble_epilogue),
		cmocka_unit_test(t_missing_close),
		cmocka_unit_test(t_lf_only_rejected),
		cmocka_unit_test(t_filename),
		cmocka_unit_test(t_filename_ext),
		cmocka_unit_test(t_quoting),
		cmocka_unit_test(t_headers),
		cmocka_unit_test(t_header_limit),
		cmocka_unit_test(t_header_limit_endless),
		cmocka_unit_test(t_part_limit),
		cmocka_unit_test(t_callback_stops),
		cmocka_unit_test(t_sticky_error),
		cmocka_unit_test(t_bad_boundary),
		cmocka_unit_test(t_null_callbacks),
		cmocka_unit_test(t_streams),
		cmocka_unit_test(t_streams_held_prefix),
		cmocka_unit_test(t_boundary_param),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
