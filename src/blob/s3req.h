/* One request of the S3 REST API over libcurl, for the S3 blob backend
 * (blob/s3.c, blob/s3get.c): URLs, signing, retries, answers.
 *
 * Signing is libcurl's own AWS SigV4 (CURLOPT_AWS_SIGV4, "aws:amz:REGION:s3"
 * with the access key and secret as user and password). What libcurl 7.88
 * signs is what it sends, byte for byte, so two things are this module's
 * job, not libcurl's:
 *   - the payload hash: libcurl hashes CURLOPT_POSTFIELDS but sends no
 *     x-amz-content-sha256, which S3 requires; every request carries that
 *     header with the SHA-256 of its body (libcurl then signs that value);
 *   - the canonical query: libcurl signs the query string as written, while
 *     SigV4 wants it sorted by name with every name=value percent-encoded
 *     (RFC 3986). URLs are built here that way (s3req_query_add, in order).
 * Headers given through CURLOPT_HTTPHEADER are all signed; Range
 * (CURLOPT_RANGE) is not, which S3 allows.
 *
 * Retries: 5xx, 429 and transport failures are retried with exponential
 * backoff and jitter, S3REQ_ATTEMPTS in all, for requests that may be
 * repeated; requests that may not (creating an upload) are retried only when
 * the server cannot have acted on them: no connection, or a 503 or 429
 * (S3's "slow down", refused before any work). A 200 whose body is an <Error>
 * (CompleteMultipartUpload can answer that) counts as a 500.
 *
 * Connections: easy handles (each with its connections kept alive) wait in
 * a pool between requests, so back-to-back requests skip the TCP and TLS
 * handshakes. The client is thread-safe; one request runs on one thread. */
#ifndef INLET_BLOB_S3REQ_H
#define INLET_BLOB_S3REQ_H

#include <stddef.h>

#include <curl/curl.h>

#include "core/buf.h"

#define S3REQ_ATTEMPTS 4        /* tries of one request, the first included */
#define S3REQ_NAME_MAX 1024     /* bytes of an object name (S3's own limit) */
#define S3REQ_URL_MAX 2048      /* bytes of a URL we build, NUL included */
#define S3REQ_ANSWER_MAX (1u << 20) /* body bytes kept of an answer, unless the request says */

/* Where the bucket is: from INLET_S3_ENDPOINT, INLET_S3_BUCKET and
 * INLET_S3_PATH_STYLE. */
struct s3req_target {
	char scheme[6];  /* "http" or "https" */
	char host[256];  /* host[:port] exactly as in the endpoint */
	char bucket[64];
	int path_style;  /* 1: scheme://host/bucket/name; 0: scheme://bucket.host/name */
};

/* Parses endpoint ("https://s3.eu-west-1.amazonaws.com", "http://127.0.0.1:9000",
 * a trailing '/' allowed, nothing else after the host) and checks bucket
 * (3 to 63 of [a-z0-9.-]). INLET_EINVAL with a reason in err when not. */
int s3req_target_parse(struct s3req_target *t, const char *endpoint, const char *bucket, int path_style,
		       char *err, size_t errsize);

/* The URL of object name (NULL: the bucket itself) with query appended when
 * not NULL or empty (already canonical: see s3req_query_add). 0 or
 * INLET_ETOOBIG. */
int s3req_url(const struct s3req_target *t, const char *name, const char *query, char *out, size_t size);

/* Appends s percent-encoded as SigV4 wants: everything but A-Z a-z 0-9
 * - _ . ~ becomes %XX (upper-case hex); '/' is kept when keep_slash. */
int s3req_encode(struct buf *b, const char *s, int keep_slash);

/* Appends "name=value" (value encoded; '&' first unless q is empty). The
 * caller adds parameters in strcmp order of their names: the query is
 * signed as it stands, and SigV4's canonical query is sorted. */
int s3req_query_add(struct buf *q, const char *name, const char *value);

/* Content-MD5 of data: base64 of its MD5, 24 characters and a NUL. S3
 * requires it on DeleteObjects (R2 and MinIO insist). */
void s3req_content_md5(const void *data, size_t len, char out[25]);
/* Lower-case hex SHA-256 of data, 64 characters and a NUL. */
void s3req_sha256_hex(const void *data, size_t len, char out[65]);

struct s3req_config {
	struct s3req_target target;
	const char *region;      /* "us-east-1"; R2 takes "auto" */
	const char *access_key;
	const char *secret_key;
	long timeout_ms;         /* connect limit, and how long a transfer may stall */
};

struct s3req_client;

/* Copies what cfg holds (the secret included: wiped at destroy). */
int s3req_client_create(struct s3req_client **out, const struct s3req_config *cfg);
/* Accepts NULL. No request may be running. */
void s3req_client_destroy(struct s3req_client *c);
const struct s3req_target *s3req_client_target(const struct s3req_client *c);

enum s3req_retry {
	S3REQ_RETRY_ALL,    /* idempotent: repeat on 5xx, 429 and transport errors */
	S3REQ_RETRY_UNSENT, /* repeat only when it was not acted on: no connection, 503, 429 */
	S3REQ_RETRY_NONE,   /* one attempt (health checks answer fast) */
};

struct s3req {
	const char *method;       /* "GET", "PUT", "POST", "DELETE" or "HEAD" */
	const char *url;          /* from s3req_url */
	const void *body;         /* borrowed; NULL with body_len 0 for none */
	size_t body_len;
	const char *content_type; /* NULL: none */
	const char *content_md5;  /* NULL: none */
	enum s3req_retry retry;
	long total_ms;            /* limit on each attempt; 0: only the stall limit */
	size_t answer_max;        /* answer bytes kept; 0: S3REQ_ANSWER_MAX */
};

/* What the last attempt of a request got. */
struct s3resp {
	long status;         /* HTTP status; 0 when no answer came */
	int attempts;        /* how many were made */
	struct buf body;     /* the answer's body (capped); freed by s3resp_free */
	char etag[132];      /* the ETag header, quotes kept; "" if none */
	char code[64];       /* S3's error code from an <Error> body; "" if none */
	char error[256];     /* libcurl's reason when the transport failed; "" if not */
};

/* Runs r, retrying as r->retry allows. 0 on a 2xx answer; INLET_ENOTFOUND
 * on 404; INLET_EIO otherwise (resp says why). resp is filled either way
 * and must be released with s3resp_free. */
int s3req_perform(struct s3req_client *c, const struct s3req *r, struct s3resp *resp);
void s3resp_free(struct s3resp *resp);

/* For requests driven by hand (the streaming GET of blob/s3get.c): an easy
 * handle from the pool, set up to send and sign r (r->body must outlive the
 * transfer). The returned header list belongs to the caller, who frees it
 * with curl_slist_free_all after the transfer, and gives the handle back. */
CURL *s3req_handle_take(struct s3req_client *c);
struct curl_slist *s3req_prepare(struct s3req_client *c, CURL *e, const struct s3req *r,
				 const char *extra_header);
/* Accepts NULL. The handle must not be in a multi handle any more. */
void s3req_handle_give(struct s3req_client *c, CURL *e);

/* Whether an attempt that ended with cc and status may be repeated. */
int s3req_retryable(enum s3req_retry mode, CURLcode cc, long status);
/* Sleeps before attempt number n (2, 3, ...): 100 ms doubling, jittered. */
void s3req_backoff(int n);

#endif
