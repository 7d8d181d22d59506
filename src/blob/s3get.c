#include "blob/s3get.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "blob/s3req.h"
#include "blob/s3xml.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"

#define ERROR_BODY_MAX 4096

struct s3get {
	struct s3req_client *c;  /* borrowed; outlives the reader */
	char *url;               /* owned */
	CURLM *m;                /* owned; holds e while a transfer runs */
	CURL *e;                 /* from the client's pool; NULL between transfers */
	struct curl_slist *h;    /* e's headers; owned */
	char if_match[160];      /* "If-Match: <etag>" for a resumed transfer, else "" */
	char range[32];          /* "N-" for a resumed transfer, else "" */
	int attempts;            /* transfers started */
	/* The running transfer. */
	long status;             /* its HTTP status; 0 until the first body byte */
	int paused;              /* on_data told libcurl to hold its data */
	int done;                /* it ended; result says how */
	CURLcode result;
	struct buf err;          /* an error answer's body (capped), for the log */
	char errbuf[CURL_ERROR_SIZE];
	/* The object. */
	char etag[132];          /* of the first answer; "" if it had none */
	int64_t total;           /* body length of the first answer; -1 unknown */
	uint64_t received;       /* body bytes taken into buf, over all transfers */
	int ended;               /* all of the body is in (0 is read after buf) */
	int failed;              /* the error every further read returns; 0 none */
	size_t off, len;         /* buf[off..len) is received and not read yet */
	char buf[S3GET_BUF_BYTES];
};

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
	struct s3get *g = ud;
	size_t len = size * n, v;

	/* Only the first answer's ETag counts: it names the object read. */
	if (g->attempts == 1 && !g->received && len > 5 && !strncasecmp(p, "ETag:", 5)) {
		for (v = 5; v < len && (p[v] == ' ' || p[v] == '\t'); v++)
			;
		while (len > v && (p[len - 1] == '\r' || p[len - 1] == '\n' || p[len - 1] == ' '))
			len--;
		if (len - v < sizeof(g->etag)) {
			memcpy(g->etag, p + v, len - v);
			g->etag[len - v] = '\0';
		}
	}
	return size * n;
}

static long expected_status(const struct s3get *g)
{
	return g->range[0] ? 206 : 200;
}

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
	struct s3get *g = ud;
	size_t len = size * n;

	if (!g->status)
		curl_easy_getinfo(g->e, CURLINFO_RESPONSE_CODE, &g->status);
	if (g->status != expected_status(g)) {
		(void)buf_append(&g->err, p, len < g->err.max - g->err.len ? len : g->err.max - g->err.len);
		return len;
	}
	if (g->off == g->len)
		g->off = g->len = 0;
	if (len > sizeof(g->buf) - g->len && g->off) {
		memmove(g->buf, g->buf + g->off, g->len - g->off);
		g->len -= g->off;
		g->off = 0;
	}
	if (len > sizeof(g->buf) - g->len) {
		if (len > sizeof(g->buf))
			return 0; /* libcurl promises at most CURL_MAX_WRITE_SIZE */
		g->paused = 1;
		return CURL_WRITEFUNC_PAUSE; /* delivered again once unpaused */
	}
	memcpy(g->buf + g->len, p, len);
	g->len += len;
	g->received += len;
	return len;
}

static void stop(struct s3get *g)
{
	if (!g->e)
		return;
	curl_multi_remove_handle(g->m, g->e);
	s3req_handle_give(g->c, g->e);
	g->e = NULL;
	curl_slist_free_all(g->h);
	g->h = NULL;
}

static void start(struct s3get *g)
{
	struct s3req r = { .method = "GET", .url = g->url, .retry = S3REQ_RETRY_ALL };

	g->e = s3req_handle_take(g->c);
	g->h = s3req_prepare(g->c, g->e, &r, g->if_match[0] ? g->if_match : NULL);
	if (g->range[0])
		curl_easy_setopt(g->e, CURLOPT_RANGE, g->range);
	g->errbuf[0] = '\0';
	curl_easy_setopt(g->e, CURLOPT_ERRORBUFFER, g->errbuf);
	curl_easy_setopt(g->e, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(g->e, CURLOPT_WRITEDATA, g);
	curl_easy_setopt(g->e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(g->e, CURLOPT_HEADERDATA, g);
	g->status = 0;
	g->paused = g->done = 0;
	g->result = CURLE_OK;
	buf_reset(&g->err);
	g->attempts++;
	if (curl_multi_add_handle(g->m, g->e) != CURLM_OK)
		abort(); /* only a misuse or no memory fails here */
}

/* Runs the transfer until bytes wait in buf or it has ended. */
static int pump(struct s3get *g)
{
	while (g->off == g->len && !g->done) {
		int running, left;
		CURLMsg *msg;

		if (g->paused) {
			/* buf is empty now: libcurl may hand over what it held
			 * right here, inside the call. */
			g->paused = 0;
			curl_easy_pause(g->e, CURLPAUSE_CONT);
			continue;
		}
		if (curl_multi_perform(g->m, &running) != CURLM_OK)
			return INLET_EIO;
		while ((msg = curl_multi_info_read(g->m, &left)))
			if (msg->msg == CURLMSG_DONE) {
				g->done = 1;
				g->result = msg->data.result;
			}
		if (g->off == g->len && !g->done && curl_multi_poll(g->m, NULL, 0, 1000, NULL) != CURLM_OK)
			return INLET_EIO;
	}
	return 0;
}

static void log_failure(const struct s3get *g)
{
	char code[64] = "";
	size_t pos = 0;

	if (g->result != CURLE_OK) {
		log_msg(LOG_WARN, "s3: GET %s failed after %d attempt(s): %s", g->url, g->attempts,
			g->errbuf[0] ? g->errbuf : curl_easy_strerror(g->result));
		return;
	}
	if (g->err.len)
		(void)s3xml_next(g->err.data, g->err.len, &pos, "Code", code, sizeof(code));
	log_msg(LOG_WARN, "s3: GET %s failed after %d attempt(s): status %ld %s", g->url, g->attempts,
		g->status, code);
}

/* The running transfer has ended (and buf is drained): the body is
 * complete, or a new transfer picks up where this one stopped, or the
 * reader has failed. */
static int finish(struct s3get *g)
{
	long status = g->status;
	CURLcode cc = g->result;

	if (!status && g->e)
		curl_easy_getinfo(g->e, CURLINFO_RESPONSE_CODE, &status);
	if (g->attempts == 1 && status == 200 && g->total < 0 && g->e) {
		curl_off_t cl = -1;

		curl_easy_getinfo(g->e, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
		g->total = cl;
	}
	stop(g);
	if (cc == CURLE_OK && status == expected_status(g)) {
		g->ended = 1;
		return 0;
	}
	/* Broken after the last byte: nothing is missing. */
	if (g->total >= 0 && g->received == (uint64_t)g->total && g->received > 0 &&
	    (status == 200 || status == 206)) {
		g->ended = 1;
		return 0;
	}
	g->status = status;
	if (g->attempts >= S3REQ_ATTEMPTS || !s3req_retryable(S3REQ_RETRY_ALL, cc, status)) {
		log_failure(g);
		return cc == CURLE_OK && status == 404 ? INLET_ENOTFOUND : INLET_EIO;
	}
	if (g->received) {
		snprintf(g->range, sizeof(g->range), "%llu-", (unsigned long long)g->received);
		if (g->etag[0])
			snprintf(g->if_match, sizeof(g->if_match), "If-Match: %s", g->etag);
	}
	s3req_backoff(g->attempts + 1);
	start(g);
	return 0;
}

/* Moves the reader on until bytes wait, the body has ended, or it failed. */
static int advance(struct s3get *g)
{
	int rc;

	while (g->off == g->len && !g->ended && !g->failed) {
		if (!g->done && (rc = pump(g)))
			g->failed = rc;
		else if (g->done && g->off == g->len && (rc = finish(g)))
			g->failed = rc;
	}
	return g->off < g->len || g->ended ? 0 : g->failed;
}

int s3get_open(struct s3req_client *c, const char *url, struct s3get **out)
{
	struct s3get *g = xcalloc(1, sizeof(*g));
	int rc;

	g->c = c;
	g->url = xstrdup(url);
	g->total = -1;
	buf_init(&g->err, ERROR_BODY_MAX);
	if (!(g->m = curl_multi_init()))
		abort();
	start(g);
	if ((rc = advance(g))) {
		s3get_close(g);
		g = NULL;
	}
	*out = g;
	return rc;
}

long s3get_read(struct s3get *g, void *buf, size_t len)
{
	size_t n;
	int rc;

	if (len == 0)
		return 0;
	if ((rc = advance(g)))
		return rc;
	if (g->off == g->len)
		return 0; /* ended */
	n = g->len - g->off < len ? g->len - g->off : len;
	memcpy(buf, g->buf + g->off, n);
	g->off += n;
	return (long)n;
}

void s3get_close(struct s3get *g)
{
	if (!g)
		return;
	stop(g);
	curl_multi_cleanup(g->m);
	buf_free(&g->err);
	free(g->url);
	free(g);
}
