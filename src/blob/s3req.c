#include "blob/s3req.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/evp.h>

#include "blob/s3xml.h"
#include "core/alloc.h"
#include "core/enc.h"
#include "core/err.h"

#define POOL_MAX 32        /* idle easy handles kept (each with its connections) */
#define BACKOFF_MS 100     /* before the second attempt; doubles after */
#define BACKOFF_MAX_MS 2000

struct s3req_client {
	struct s3req_target t; /* immutable after create */
	char sigv4[96];        /* "aws:amz:REGION:s3"; immutable */
	char *access_key;      /* owned; immutable */
	char *secret_key;      /* owned; immutable; wiped at destroy */
	long timeout_ms;       /* immutable */
	pthread_mutex_t lock;  /* guards idle and nidle */
	CURL *idle[POOL_MAX];  /* handles between requests, connections open */
	size_t nidle;
};

/* ---- URLs ------------------------------------------------------------------ */

static int bucket_ok(const char *b)
{
	size_t n = strlen(b);

	if (n < 3 || n > 63)
		return 0;
	for (const char *p = b; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '.' || *p == '-'))
			return 0;
	return 1;
}

int s3req_target_parse(struct s3req_target *t, const char *endpoint, const char *bucket, int path_style,
		       char *err, size_t errsize)
{
	const char *host;
	size_t n;

	memset(t, 0, sizeof(*t));
	if (!strncmp(endpoint, "https://", 8)) {
		snprintf(t->scheme, sizeof(t->scheme), "https");
		host = endpoint + 8;
	} else if (!strncmp(endpoint, "http://", 7)) {
		snprintf(t->scheme, sizeof(t->scheme), "http");
		host = endpoint + 7;
	} else {
		snprintf(err, errsize, "INLET_S3_ENDPOINT must start with https:// or http://");
		return INLET_EINVAL;
	}
	n = strlen(host);
	if (n && host[n - 1] == '/')
		n--;
	if (n == 0 || n >= sizeof(t->host)) {
		snprintf(err, errsize, "INLET_S3_ENDPOINT has no host, or too long a one");
		return INLET_EINVAL;
	}
	/* A host and maybe a port: no user, path, query or fragment, which
	 * would change what gets signed. */
	for (size_t i = 0; i < n; i++) {
		char c = host[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
		      c == '-' || c == ':' || c == '[' || c == ']')) {
			snprintf(err, errsize, "INLET_S3_ENDPOINT must be scheme://host[:port], nothing after");
			return INLET_EINVAL;
		}
	}
	memcpy(t->host, host, n);
	t->host[n] = '\0';
	if (!bucket_ok(bucket)) {
		snprintf(err, errsize, "INLET_S3_BUCKET must be 3 to 63 of a-z, 0-9, '.' and '-'");
		return INLET_EINVAL;
	}
	snprintf(t->bucket, sizeof(t->bucket), "%s", bucket);
	t->path_style = path_style;
	return 0;
}

int s3req_encode(struct buf *b, const char *s, int keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	int rc = 0;

	for (const unsigned char *p = (const unsigned char *)s; *p && !rc; p++) {
		unsigned char c = *p;

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
		    c == '_' || c == '.' || c == '~' || (c == '/' && keep_slash)) {
			rc = buf_putc(b, (char)c);
		} else {
			char e[3] = { '%', hex[c >> 4], hex[c & 15] };

			rc = buf_append(b, e, 3);
		}
	}
	return rc;
}

int s3req_query_add(struct buf *q, const char *name, const char *value)
{
	int rc = 0;

	if (q->len)
		rc = buf_putc(q, '&');
	if (!rc)
		rc = s3req_encode(q, name, 0);
	if (!rc)
		rc = buf_putc(q, '=');
	if (!rc)
		rc = s3req_encode(q, value, 0);
	return rc;
}

int s3req_url(const struct s3req_target *t, const char *name, const char *query, char *out, size_t size)
{
	struct buf b;
	int rc;

	buf_init(&b, size - 1);
	if (t->path_style)
		rc = buf_printf(&b, "%s://%s/%s%s", t->scheme, t->host, t->bucket, name ? "/" : "");
	else
		rc = buf_printf(&b, "%s://%s.%s/", t->scheme, t->bucket, t->host);
	if (!rc && name)
		rc = s3req_encode(&b, name, 1);
	if (!rc && query && *query)
		rc = buf_printf(&b, "?%s", query);
	if (!rc)
		memcpy(out, b.data, b.len + 1);
	buf_free(&b);
	return rc;
}

/* ---- digests ---------------------------------------------------------------- */

void s3req_content_md5(const void *data, size_t len, char out[25])
{
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (!EVP_Digest(data, len, md, &n, EVP_md5(), NULL) || n != 16)
		abort(); /* a libcrypto without MD5 cannot talk to S3 at all */
	b64_encode(out, md, 16);
}

void s3req_sha256_hex(const void *data, size_t len, char out[65])
{
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (!EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) || n != 32)
		abort();
	hex_encode(out, md, 32);
}

/* ---- the client ------------------------------------------------------------- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

int s3req_client_create(struct s3req_client **out, const struct s3req_config *cfg)
{
	struct s3req_client *c = xcalloc(1, sizeof(*c));

	pthread_once(&curl_once, curl_init_once);
	c->t = cfg->target;
	snprintf(c->sigv4, sizeof(c->sigv4), "aws:amz:%s:s3", cfg->region);
	c->access_key = xstrdup(cfg->access_key);
	c->secret_key = xstrdup(cfg->secret_key);
	c->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 30000;
	pthread_mutex_init(&c->lock, NULL);
	*out = c;
	return 0;
}

void s3req_client_destroy(struct s3req_client *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->nidle; i++)
		curl_easy_cleanup(c->idle[i]);
	pthread_mutex_destroy(&c->lock);
	free(c->access_key);
	secure_wipe(c->secret_key, strlen(c->secret_key));
	free(c->secret_key);
	free(c);
}

const struct s3req_target *s3req_client_target(const struct s3req_client *c)
{
	return &c->t;
}

CURL *s3req_handle_take(struct s3req_client *c)
{
	CURL *e = NULL;

	pthread_mutex_lock(&c->lock);
	if (c->nidle)
		e = c->idle[--c->nidle];
	pthread_mutex_unlock(&c->lock);
	if (!e && !(e = curl_easy_init()))
		abort(); /* out of memory, by the one policy */
	return e;
}

void s3req_handle_give(struct s3req_client *c, CURL *e)
{
	if (!e)
		return;
	/* Forgets every option (and pointers into the caller's buffers), keeps
	 * the open connections. */
	curl_easy_reset(e);
	pthread_mutex_lock(&c->lock);
	if (c->nidle < POOL_MAX) {
		c->idle[c->nidle++] = e;
		e = NULL;
	}
	pthread_mutex_unlock(&c->lock);
	if (e)
		curl_easy_cleanup(e);
}

static struct curl_slist *add_header(struct curl_slist *h, const char *name, const char *value)
{
	char line[512];
	struct curl_slist *n;

	snprintf(line, sizeof(line), "%s: %s", name, value);
	if (!(n = curl_slist_append(h, line)))
		abort();
	return n;
}

struct curl_slist *s3req_prepare(struct s3req_client *c, CURL *e, const struct s3req *r,
				 const char *extra_header)
{
	struct curl_slist *h = NULL;
	char sha[65];

	s3req_sha256_hex(r->body ? r->body : "", r->body_len, sha);
	h = add_header(h, "x-amz-content-sha256", sha);
	if (r->content_type)
		h = add_header(h, "Content-Type", r->content_type);
	if (r->content_md5)
		h = add_header(h, "Content-MD5", r->content_md5);
	if (extra_header && !(h = curl_slist_append(h, extra_header)))
		abort();

	curl_easy_setopt(e, CURLOPT_URL, r->url);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	/* The path is signed as sent: never let libcurl rewrite "." segments. */
	curl_easy_setopt(e, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(e, CURLOPT_AWS_SIGV4, c->sigv4);
	curl_easy_setopt(e, CURLOPT_USERNAME, c->access_key);
	curl_easy_setopt(e, CURLOPT_PASSWORD, c->secret_key);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "Inlet");
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, c->timeout_ms);
	/* No overall limit on transfers that may be long (a part over a slow
	 * link): a transfer that moves nothing for the timeout fails instead. */
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, (c->timeout_ms + 999) / 1000);
	if (r->total_ms > 0)
		curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, r->total_ms);
	if (!strcmp(r->method, "HEAD")) {
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	} else if (!strcmp(r->method, "GET")) {
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	} else {
		if (strcmp(r->method, "POST"))
			curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r->method);
		if (r->body || strcmp(r->method, "DELETE")) {
			/* The body from memory: libcurl sends it with a
			 * Content-Length and can send it again on a retry. */
			curl_easy_setopt(e, CURLOPT_POST, 1L);
			curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
			curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body ? (const char *)r->body : "");
		}
	}
	return h;
}

/* ---- one request --------------------------------------------------------- */

struct sink {
	struct s3resp *resp;
	int over;          /* the answer outgrew its cap */
};

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	struct sink *s = ud;

	if (buf_append(&s->resp->body, p, size * n)) {
		s->over = 1;
		return 0;
	}
	return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
	struct s3resp *resp = ud;
	size_t len = size * n, v;

	if (len > 5 && !strncasecmp(p, "ETag:", 5)) {
		for (v = 5; v < len && (p[v] == ' ' || p[v] == '\t'); v++)
			;
		while (len > v && (p[len - 1] == '\r' || p[len - 1] == '\n' || p[len - 1] == ' '))
			len--;
		if (len - v < sizeof(resp->etag)) {
			memcpy(resp->etag, p + v, len - v);
			resp->etag[len - v] = '\0';
		}
	}
	return size * n;
}

int s3req_retryable(enum s3req_retry mode, CURLcode cc, long status)
{
	if (mode == S3REQ_RETRY_NONE)
		return 0;
	if (cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST)
		return 1; /* nothing reached the server */
	if (cc == CURLE_OK && (status == 503 || status == 429))
		return 1; /* refused before any work: SlowDown, throttled */
	if (mode != S3REQ_RETRY_ALL)
		return 0;
	switch (cc) {
	case CURLE_OK:
		return status >= 500 || status == 429;
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return 1;
	default:
		return 0;
	}
}

void s3req_backoff(int n)
{
	long ms = BACKOFF_MS;
	uint32_t r;
	struct timespec ts;

	for (int i = 2; i < n && ms < BACKOFF_MAX_MS; i++)
		ms *= 2;
	if (ms > BACKOFF_MAX_MS)
		ms = BACKOFF_MAX_MS;
	/* Half fixed, half random: clients that failed together do not all
	 * come back at the same instant. */
	rand_bytes(&r, sizeof(r));
	ms = ms / 2 + (long)(r % (uint32_t)(ms / 2 + 1));
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts))
		;
}

/* Reads S3's error code out of an <Error> body, if that is what it is. */
static int error_body(struct s3resp *resp)
{
	char root[32]; /* longer root names are not "Error" either */
	size_t pos = 0;

	if (!resp->body.len || s3xml_root(resp->body.data, resp->body.len, root, sizeof(root)) ||
	    strcmp(root, "Error"))
		return 0;
	if (s3xml_next(resp->body.data, resp->body.len, &pos, "Code", resp->code, sizeof(resp->code)) != 1)
		snprintf(resp->code, sizeof(resp->code), "?");
	return 1;
}

int s3req_perform(struct s3req_client *c, const struct s3req *r, struct s3resp *resp)
{
	char errbuf[CURL_ERROR_SIZE];
	struct sink sink = { resp, 0 };
	CURLcode cc = CURLE_OK;
	int rc;

	memset(resp, 0, sizeof(*resp));
	buf_init(&resp->body, r->answer_max ? r->answer_max : S3REQ_ANSWER_MAX);
	for (;;) {
		CURL *e = s3req_handle_take(c);
		struct curl_slist *h = s3req_prepare(c, e, r, NULL);

		buf_reset(&resp->body);
		resp->etag[0] = resp->code[0] = resp->error[0] = '\0';
		resp->status = 0;
		sink.over = 0;
		errbuf[0] = '\0';
		curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
		curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
		curl_easy_setopt(e, CURLOPT_WRITEDATA, &sink);
		curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
		curl_easy_setopt(e, CURLOPT_HEADERDATA, resp);
		cc = curl_easy_perform(e);
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &resp->status);
		s3req_handle_give(c, e);
		curl_slist_free_all(h);
		resp->attempts++;
		if (cc != CURLE_OK) {
			snprintf(resp->error, sizeof(resp->error), "%s",
				 sink.over ? "answer too large" : errbuf[0] ? errbuf : curl_easy_strerror(cc));
			resp->status = 0;
		} else if (error_body(resp) && resp->status / 100 == 2) {
			resp->status = 500; /* "200 OK" with an error inside */
		} else if (resp->status / 100 != 2) {
			error_body(resp);
		}
		if (cc == CURLE_OK && resp->status / 100 == 2)
			return 0;
		if (sink.over || resp->attempts >= S3REQ_ATTEMPTS || !s3req_retryable(r->retry, cc, resp->status))
			break;
		s3req_backoff(resp->attempts + 1);
	}
	rc = resp->status == 404 ? INLET_ENOTFOUND : INLET_EIO;
	return rc;
}

void s3resp_free(struct s3resp *resp)
{
	buf_free(&resp->body);
}
