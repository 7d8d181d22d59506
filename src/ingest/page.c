#include "ingest/page.h"

#include <string.h>

#include "core/buf.h"
#include "http/http.h"

static void put_escaped(struct buf *b, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '<': buf_puts(b, "&lt;"); break;
		case '>': buf_puts(b, "&gt;"); break;
		case '&': buf_puts(b, "&amp;"); break;
		case '"': buf_puts(b, "&quot;"); break;
		case '\'': buf_puts(b, "&#39;"); break;
		default: buf_putc(b, *s);
		}
	}
}

void page_respond(struct http_req *r, int status, const char *title, const char *message,
		  const char *back_url)
{
	struct buf b;

	buf_init(&b, 64 * 1024);
	buf_puts(&b, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
		     "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>");
	put_escaped(&b, title);
	buf_puts(&b, "</title><style>body{font:16px/1.5 system-ui,sans-serif;max-width:34rem;margin:4rem auto;"
		     "padding:0 1rem;color:#1f2328;background:#fff}h1{font-size:1.5rem}"
		     "@media (prefers-color-scheme:dark){body{color:#e6edf3;background:#0d1117}a{color:#58a6ff}}"
		     "</style></head><body><main><h1>");
	put_escaped(&b, title);
	buf_puts(&b, "</h1><p>");
	put_escaped(&b, message);
	buf_puts(&b, "</p>");
	if (back_url) {
		buf_puts(&b, "<p><a href=\"");
		put_escaped(&b, back_url);
		buf_puts(&b, "\">Go back</a></p>");
	}
	buf_puts(&b, "</main></body></html>\n");
	http_add_header(r, "Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'");
	http_respond(r, status, "text/html; charset=utf-8", b.data, b.len);
	buf_free(&b);
}
