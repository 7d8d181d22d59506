/* The S3 blob backend: sealed files in a bucket of AWS S3, Cloudflare R2,
 * MinIO or anything else that speaks the plain S3 REST API (PUT, GET and
 * DELETE of objects, ListObjectsV2, DeleteObjects, multipart uploads).
 *
 * The blob.h contract, on S3:
 *   - all-or-nothing writers: a writer keeps at most one part in memory
 *     (part_size). An object that fits in one part goes up as one PUT at
 *     commit; a bigger one becomes a multipart upload whose parts go up as
 *     the buffer fills, completed at commit and aborted on put_abort or on
 *     any failure. S3 shows an object only once its PUT or Complete has
 *     succeeded, so nothing is visible under the key before commit;
 *   - durable commit: S3 answers a PUT or a Complete only once the object
 *     is stored;
 *   - streaming reads (blob/s3get.h): a bounded buffer, never the object;
 *   - remove_prefix lists the prefix (ListObjectsV2, continuation tokens)
 *     and deletes what it finds a page at a time (DeleteObjects).
 * Keys are stored under cfg->prefix ("" or ending in '/'), so one bucket
 * can hold several installations. An upload aborted by a crash (not by
 * put_abort) stays invisible but keeps its parts: a lifecycle rule on the
 * bucket (AbortIncompleteMultipartUpload) clears them. */
#ifndef INLET_BLOB_S3_H
#define INLET_BLOB_S3_H

#include <stddef.h>

struct blob_store;

#define BLOB_S3_PART_MIN ((size_t)5 << 20)   /* S3's least part size (all but the last) */
#define BLOB_S3_PART_DEFAULT ((size_t)8 << 20)
#define BLOB_S3_PARTS_MAX 10000              /* S3's most parts of one upload */

/* Every string is borrowed for the call only; blob_s3_open copies them. */
struct blob_s3_config {
	const char *endpoint;   /* "https://s3.eu-west-1.amazonaws.com", "http://127.0.0.1:9000" */
	const char *bucket;
	const char *region;     /* "us-east-1"; "auto" for R2 */
	const char *prefix;     /* "" or "dir/" (key-safe characters, ending in '/') */
	const char *access_key;
	const char *secret_key;
	int path_style;         /* 1: endpoint/bucket/key; 0: bucket.endpoint-host/key */
	size_t part_size;       /* bytes a writer buffers; >= BLOB_S3_PART_MIN */
	long timeout_ms;        /* connect limit and the longest stall of a transfer */
};

/* Opens the store. No request is made: S3 may be down at start, and the
 * health check (blob_check) tells when it is. INLET_EINVAL, logged with
 * the reason, on a bad config. */
int blob_s3_open(struct blob_store **out, const struct blob_s3_config *cfg);

#endif
