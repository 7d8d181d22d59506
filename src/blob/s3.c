/* The S3 blob backend (see blob/s3.h for how blob.h's contract maps onto
 * S3). Requests go through blob/s3req.c, streaming reads through
 * blob/s3get.c; this file is the store's logic. */
#include "blob/s3.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blob/blob.h"
#include "blob/s3get.h"
#include "blob/s3req.h"
#include "blob/s3xml.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"

#define LIST_PAGE "1000"              /* keys per ListObjectsV2 page, and so per DeleteObjects */
#define LIST_ANSWER_MAX (8u << 20)    /* a page of 1000 keys of up to 1024 bytes, with room */
#define CHECK_MS 3000                 /* a health check's whole budget */
#define PARTS_XML_MAX ((size_t)BLOB_S3_PARTS_MAX * 200) /* Complete's body at the most */

struct s3_store {
	struct blob_store base;   /* first */
	struct s3req_client *c;   /* owned; thread-safe */
	char prefix[256];         /* "" or ending in '/'; immutable */
	size_t part_size;         /* immutable */
};

struct blob_writer {
	struct s3_store *s;
	char name[S3REQ_NAME_MAX]; /* the object's name: prefix + key */
	struct buf part;           /* bytes not sent yet; at most part_size */
	char *upload_id;           /* heap; NULL while the object fits in one part */
	struct buf parts;          /* Complete's <Part> elements, one per part sent */
	unsigned nparts;           /* parts sent */
	int rc;                    /* the first failure; later writes and commit answer it */
};

struct blob_reader {
	struct s3get *g; /* owned */
};

/* ---- helpers ----------------------------------------------------------------- */

static int object_name(const struct s3_store *s, const char *key, int prefix, char *out, size_t size)
{
	if (!blob_key_ok(key, prefix))
		return INLET_EINVAL;
	if ((size_t)snprintf(out, size, "%s%s", s->prefix, key) >= size)
		return INLET_ETOOBIG;
	return 0;
}

static void log_failure(const char *what, const char *name, const struct s3resp *r)
{
	if (r->error[0])
		log_msg(LOG_WARN, "s3: %s %s failed after %d attempt(s): %s", what, name, r->attempts, r->error);
	else
		log_msg(LOG_WARN, "s3: %s %s failed after %d attempt(s): status %ld %s", what, name, r->attempts,
			r->status, r->code);
}

/* One request to name (NULL: the bucket) with query; the answer is left in
 * resp (the caller frees it). Failures are logged. */
static int request(struct s3_store *s, struct s3req *r, const char *what, const char *name, const char *query,
		   struct s3resp *resp)
{
	char url[S3REQ_URL_MAX];
	int rc;

	if ((rc = s3req_url(s3req_client_target(s->c), name, query, url, sizeof(url)))) {
		memset(resp, 0, sizeof(*resp));
		buf_init(&resp->body, 1);
		return rc;
	}
	r->url = url;
	if ((rc = s3req_perform(s->c, r, resp)) && !(rc == INLET_ENOTFOUND && !strcmp(r->method, "DELETE")))
		log_failure(what, name ? name : s3req_client_target(s->c)->bucket, resp);
	r->url = NULL;
	return rc;
}

/* ---- writers ----------------------------------------------------------------- */

static int create_upload(struct blob_writer *w)
{
	struct s3req r = { .method = "POST", .content_type = "application/octet-stream",
			   /* a second Create after one that worked would leave
			    * the first upload dangling */
			   .retry = S3REQ_RETRY_UNSENT };
	struct s3resp resp;
	char id[1024];
	size_t pos = 0;
	int rc = request(w->s, &r, "CreateMultipartUpload", w->name, "uploads=", &resp);

	if (!rc && s3xml_next(resp.body.data, resp.body.len, &pos, "UploadId", id, sizeof(id)) == 1 && id[0]) {
		w->upload_id = xstrdup(id);
	} else if (!rc) {
		log_msg(LOG_WARN, "s3: CreateMultipartUpload %s: no UploadId in the answer", w->name);
		rc = INLET_EIO;
	}
	s3resp_free(&resp);
	return rc;
}

static int upload_query(struct buf *q, unsigned part, const char *upload_id)
{
	char n[16];
	int rc = 0;

	if (part) {
		snprintf(n, sizeof(n), "%u", part);
		rc = s3req_query_add(q, "partNumber", n);
	}
	return rc ? rc : s3req_query_add(q, "uploadId", upload_id);
}

/* Sends what part holds as the next part of the upload (created first if
 * this is the first part) and empties part. */
static int send_part(struct blob_writer *w)
{
	struct s3req r = { .method = "PUT", .body = w->part.data, .body_len = w->part.len,
			   .retry = S3REQ_RETRY_ALL };
	struct s3resp resp;
	struct buf q;
	int rc;

	if (!w->upload_id && (rc = create_upload(w)))
		return rc;
	if (w->nparts >= BLOB_S3_PARTS_MAX) {
		log_msg(LOG_WARN, "s3: %s: more than %d parts", w->name, BLOB_S3_PARTS_MAX);
		return INLET_ETOOBIG;
	}
	buf_init(&q, S3REQ_URL_MAX);
	if ((rc = upload_query(&q, w->nparts + 1, w->upload_id))) {
		buf_free(&q);
		return rc;
	}
	rc = request(w->s, &r, "UploadPart", w->name, q.data, &resp);
	buf_free(&q);
	if (!rc && !resp.etag[0]) {
		log_msg(LOG_WARN, "s3: UploadPart %s: no ETag in the answer", w->name);
		rc = INLET_EIO;
	}
	if (!rc) {
		rc = buf_printf(&w->parts, "<Part><PartNumber>%u</PartNumber><ETag>", w->nparts + 1);
		rc = rc ? rc : s3xml_escape(&w->parts, resp.etag);
		rc = rc ? rc : buf_puts(&w->parts, "</ETag></Part>");
	}
	if (!rc) {
		w->nparts++;
		buf_reset(&w->part);
	}
	s3resp_free(&resp);
	return rc;
}

static int put_object(struct blob_writer *w)
{
	struct s3req r = { .method = "PUT", .body = w->part.data, .body_len = w->part.len,
			   .content_type = "application/octet-stream", .retry = S3REQ_RETRY_ALL };
	struct s3resp resp;
	int rc = request(w->s, &r, "PutObject", w->name, NULL, &resp);

	s3resp_free(&resp);
	return rc;
}

/* Whether the object exists now (a HEAD), for a Complete whose answer was
 * lost: its retry finds the upload gone because the first one worked. */
static int object_exists(struct s3_store *s, const char *name)
{
	struct s3req r = { .method = "HEAD", .retry = S3REQ_RETRY_ALL };
	struct s3resp resp;
	int rc = request(s, &r, "HeadObject", name, NULL, &resp);

	s3resp_free(&resp);
	return rc == 0;
}

static int complete_upload(struct blob_writer *w)
{
	struct s3req r = { .method = "POST", .content_type = "application/xml", .retry = S3REQ_RETRY_ALL };
	struct s3resp resp;
	struct buf body, q;
	int rc;

	buf_init(&body, PARTS_XML_MAX);
	buf_init(&q, S3REQ_URL_MAX);
	rc = buf_puts(&body, "<CompleteMultipartUpload>");
	rc = rc ? rc : buf_append(&body, w->parts.data, w->parts.len);
	rc = rc ? rc : buf_puts(&body, "</CompleteMultipartUpload>");
	rc = rc ? rc : upload_query(&q, 0, w->upload_id);
	if (!rc) {
		r.body = body.data;
		r.body_len = body.len;
		rc = request(w->s, &r, "CompleteMultipartUpload", w->name, q.data, &resp);
		if (rc == INLET_ENOTFOUND && resp.attempts > 1 && object_exists(w->s, w->name))
			rc = 0;
		s3resp_free(&resp);
	}
	buf_free(&body);
	buf_free(&q);
	return rc;
}

/* Drops the upload's parts; a failure only costs storage until the
 * bucket's lifecycle rule clears them, so it is logged and forgotten. */
static void abort_upload(struct blob_writer *w)
{
	struct s3req r = { .method = "DELETE", .retry = S3REQ_RETRY_ALL };
	struct s3resp resp;
	struct buf q;

	buf_init(&q, S3REQ_URL_MAX);
	if (!upload_query(&q, 0, w->upload_id)) {
		(void)request(w->s, &r, "AbortMultipartUpload", w->name, q.data, &resp);
		s3resp_free(&resp);
	}
	buf_free(&q);
}

static void writer_free(struct blob_writer *w)
{
	buf_free(&w->part);
	buf_free(&w->parts);
	free(w->upload_id);
	free(w);
}

static int s3_put_begin(struct blob_store *bs, const char *key, struct blob_writer **out)
{
	struct s3_store *s = (struct s3_store *)bs;
	struct blob_writer *w = xcalloc(1, sizeof(*w));
	int rc;

	*out = NULL;
	if ((rc = object_name(s, key, 0, w->name, sizeof(w->name)))) {
		free(w);
		return rc;
	}
	w->s = s;
	buf_init(&w->part, s->part_size);
	buf_init(&w->parts, PARTS_XML_MAX);
	*out = w;
	return 0;
}

static int s3_put_write(struct blob_writer *w, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0 && !w->rc) {
		size_t take;

		/* A full part goes only once more bytes come: an object of
		 * exactly one part stays a single PUT. */
		if (w->part.len == w->s->part_size && (w->rc = send_part(w)))
			break;
		take = w->s->part_size - w->part.len;
		if (take > len)
			take = len;
		w->rc = buf_append(&w->part, p, take);
		p += take;
		len -= take;
	}
	return w->rc;
}

static int s3_put_commit(struct blob_writer *w)
{
	int rc = w->rc;

	if (!rc && !w->upload_id) {
		rc = put_object(w);
	} else if (!rc) {
		if (w->part.len)
			rc = send_part(w);
		if (!rc)
			rc = complete_upload(w);
	}
	if (rc && w->upload_id)
		abort_upload(w);
	writer_free(w);
	return rc;
}

static void s3_put_abort(struct blob_writer *w)
{
	if (!w)
		return;
	if (w->upload_id)
		abort_upload(w);
	writer_free(w);
}

/* ---- readers ----------------------------------------------------------------- */

static int s3_get_open(struct blob_store *bs, const char *key, struct blob_reader **out)
{
	struct s3_store *s = (struct s3_store *)bs;
	char name[S3REQ_NAME_MAX], url[S3REQ_URL_MAX];
	struct s3get *g;
	int rc;

	*out = NULL;
	if ((rc = object_name(s, key, 0, name, sizeof(name))) ||
	    (rc = s3req_url(s3req_client_target(s->c), name, NULL, url, sizeof(url))) ||
	    (rc = s3get_open(s->c, url, &g)))
		return rc;
	*out = xmalloc(sizeof(**out));
	(*out)->g = g;
	return 0;
}

static long s3_get_read(struct blob_reader *r, void *buf, size_t len)
{
	return s3get_read(r->g, buf, len);
}

static void s3_get_close(struct blob_reader *r)
{
	if (!r)
		return;
	s3get_close(r->g);
	free(r);
}

/* ---- removal ----------------------------------------------------------------- */

static int s3_remove(struct blob_store *bs, const char *key)
{
	struct s3_store *s = (struct s3_store *)bs;
	struct s3req r = { .method = "DELETE", .retry = S3REQ_RETRY_ALL };
	struct s3resp resp;
	char name[S3REQ_NAME_MAX];
	int rc;

	if ((rc = object_name(s, key, 0, name, sizeof(name))))
		return rc;
	rc = request(s, &r, "DeleteObject", name, NULL, &resp);
	s3resp_free(&resp);
	return rc == INLET_ENOTFOUND ? 0 : rc; /* gone is what was asked */
}

/* Deletes the keys of one DeleteObjects body (built by the caller). S3
 * answers 200 even when some keys failed, naming them in <Error>s. */
static int delete_batch(struct s3_store *s, const struct buf *body)
{
	struct s3req r = { .method = "POST", .body = body->data, .body_len = body->len,
			   .content_type = "application/xml", .retry = S3REQ_RETRY_ALL };
	struct s3resp resp;
	char md5[25], key[S3REQ_NAME_MAX], code[64] = "";
	size_t pos = 0, start, len;
	int rc;

	s3req_content_md5(body->data, body->len, md5);
	r.content_md5 = md5;
	rc = request(s, &r, "DeleteObjects", NULL, "delete=", &resp);
	if (!rc && s3xml_element(resp.body.data, resp.body.len, &pos, "Error", &start, &len) == 1) {
		size_t p = 0;

		key[0] = '\0';
		(void)s3xml_next(resp.body.data + start, len, &p, "Key", key, sizeof(key));
		p = 0;
		(void)s3xml_next(resp.body.data + start, len, &p, "Code", code, sizeof(code));
		log_msg(LOG_WARN, "s3: DeleteObjects: %s not deleted: %s", key, code);
		rc = INLET_EIO;
	}
	s3resp_free(&resp);
	return rc;
}

/* Lists one page of names under full (after token, when not empty) and
 * deletes them. *token gets the next page's token, "" after the last. */
static int remove_page(struct s3_store *s, const char *full, char *token, size_t tsize)
{
	struct s3req r = { .method = "GET", .retry = S3REQ_RETRY_ALL, .answer_max = LIST_ANSWER_MAX };
	struct s3resp resp;
	struct buf q, del;
	char key[S3REQ_NAME_MAX], truncated[8] = "";
	size_t pos = 0, n = 0, flen = strlen(full);
	int rc, got;

	memset(&resp, 0, sizeof(resp));
	buf_init(&resp.body, 1); /* freed at out whether or not a request ran */
	buf_init(&q, S3REQ_URL_MAX);
	buf_init(&del, LIST_ANSWER_MAX);
	rc = token[0] ? s3req_query_add(&q, "continuation-token", token) : 0;
	rc = rc ? rc : s3req_query_add(&q, "list-type", "2");
	rc = rc ? rc : s3req_query_add(&q, "max-keys", LIST_PAGE);
	rc = rc ? rc : s3req_query_add(&q, "prefix", full);
	token[0] = '\0';
	if (rc || (rc = request(s, &r, "ListObjectsV2", NULL, q.data, &resp)))
		goto out;
	rc = buf_puts(&del, "<Delete><Quiet>true</Quiet>");
	while (!rc && (got = s3xml_next(resp.body.data, resp.body.len, &pos, "Key", key, sizeof(key))) != 0) {
		if (got < 0) {
			rc = got;
			break;
		}
		if (strncmp(key, full, flen))
			continue; /* not ours, whatever the server thinks */
		rc = buf_puts(&del, "<Object><Key>");
		rc = rc ? rc : s3xml_escape(&del, key);
		rc = rc ? rc : buf_puts(&del, "</Key></Object>");
		n++;
	}
	rc = rc ? rc : buf_puts(&del, "</Delete>");
	if (!rc) {
		pos = 0;
		(void)s3xml_next(resp.body.data, resp.body.len, &pos, "IsTruncated", truncated, sizeof(truncated));
		pos = 0;
		if (!strcmp(truncated, "true") &&
		    s3xml_next(resp.body.data, resp.body.len, &pos, "NextContinuationToken", token, tsize) != 1) {
			log_msg(LOG_WARN, "s3: ListObjectsV2 %s: truncated without a continuation token", full);
			token[0] = '\0';
			rc = INLET_EIO;
		}
	}
	if (!rc && n)
		rc = delete_batch(s, &del);
out:
	s3resp_free(&resp);
	buf_free(&q);
	buf_free(&del);
	return rc;
}

static int s3_remove_prefix(struct blob_store *bs, const char *prefix)
{
	struct s3_store *s = (struct s3_store *)bs;
	char full[S3REQ_NAME_MAX], token[2048] = "";
	int rc;

	if ((rc = object_name(s, prefix, 1, full, sizeof(full))))
		return rc;
	do {
		rc = remove_page(s, full, token, sizeof(token));
	} while (!rc && token[0]);
	return rc;
}

/* ---- the store --------------------------------------------------------------- */

/* A list of at most one key under the prefix: cheap, and it proves the
 * endpoint, the credentials and the bucket all work. */
static int s3_check(struct blob_store *bs)
{
	struct s3_store *s = (struct s3_store *)bs;
	struct s3req r = { .method = "GET", .retry = S3REQ_RETRY_NONE, .total_ms = CHECK_MS };
	struct s3resp resp;
	struct buf q;
	int rc;

	buf_init(&q, S3REQ_URL_MAX);
	rc = s3req_query_add(&q, "list-type", "2");
	rc = rc ? rc : s3req_query_add(&q, "max-keys", "1");
	rc = rc ? rc : s3req_query_add(&q, "prefix", s->prefix);
	if (!rc) {
		rc = request(s, &r, "ListObjectsV2", NULL, q.data, &resp);
		s3resp_free(&resp);
	}
	buf_free(&q);
	return rc == INLET_ENOTFOUND ? INLET_EIO : rc; /* no such bucket */
}

static void s3_destroy(struct blob_store *bs)
{
	struct s3_store *s = (struct s3_store *)bs;

	s3req_client_destroy(s->c);
	free(s);
}

static const struct blob_ops s3_ops = {
	.put_begin = s3_put_begin,
	.put_write = s3_put_write,
	.put_commit = s3_put_commit,
	.put_abort = s3_put_abort,
	.get_open = s3_get_open,
	.get_read = s3_get_read,
	.get_close = s3_get_close,
	.remove = s3_remove,
	.remove_prefix = s3_remove_prefix,
	.check = s3_check,
	.destroy = s3_destroy,
};

static int region_ok(const char *r)
{
	if (!*r || strlen(r) > 48)
		return 0;
	for (; *r; r++)
		if (!((*r >= 'a' && *r <= 'z') || (*r >= 'A' && *r <= 'Z') || (*r >= '0' && *r <= '9') || *r == '-' ||
		      *r == '_'))
			return 0;
	return 1;
}

int blob_s3_open(struct blob_store **out, const struct blob_s3_config *cfg)
{
	struct s3req_config rc_cfg = { .region = cfg->region, .access_key = cfg->access_key,
				       .secret_key = cfg->secret_key, .timeout_ms = cfg->timeout_ms };
	const char *prefix = cfg->prefix ? cfg->prefix : "";
	size_t plen = strlen(prefix);
	struct s3_store *s;
	char err[200];
	int rc;

	*out = NULL;
	if ((rc = s3req_target_parse(&rc_cfg.target, cfg->endpoint ? cfg->endpoint : "", cfg->bucket ? cfg->bucket : "",
				     cfg->path_style, err, sizeof(err))))
		goto bad;
	rc = INLET_EINVAL;
	if (!cfg->region || !region_ok(cfg->region)) {
		snprintf(err, sizeof(err), "INLET_S3_REGION must be letters, digits, '-' and '_'");
		goto bad;
	}
	if (plen && (plen >= sizeof(s->prefix) || prefix[plen - 1] != '/' || !blob_key_ok(prefix, 1))) {
		snprintf(err, sizeof(err), "INLET_S3_PREFIX must be path segments of A-Z a-z 0-9 . _ - ending in '/'");
		goto bad;
	}
	if (!cfg->access_key || !*cfg->access_key || !cfg->secret_key || !*cfg->secret_key) {
		snprintf(err, sizeof(err), "INLET_S3_ACCESS_KEY and INLET_S3_SECRET_KEY are both required");
		goto bad;
	}
	if (cfg->part_size < BLOB_S3_PART_MIN) {
		snprintf(err, sizeof(err), "INLET_S3_PART_SIZE must be at least %zu", BLOB_S3_PART_MIN);
		goto bad;
	}
	s = xcalloc(1, sizeof(*s));
	s->base.ops = &s3_ops;
	snprintf(s->prefix, sizeof(s->prefix), "%s", prefix);
	s->part_size = cfg->part_size;
	s3req_client_create(&s->c, &rc_cfg);
	*out = &s->base;
	return 0;
bad:
	log_msg(LOG_ERROR, "blob store: %s", err);
	return rc;
}
