/* Sealed files out of the blob store, streamed: a submission's files and
 * an event's attachments. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "app/app.h"
#include "blob/blob.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "http/http.h"
#include "store/tenant.h"
#include "vault/vault.h"

struct file_stream {
	struct blob_store *bs;	  /* borrowed from the app, which outlives the server */
	struct blob_reader *br;	  /* the sealed blob, owned; NULL until opened */
	struct vault_key *key;	  /* owned reference; the reader borrows it */
	struct vault_reader *vr;  /* owned; reads br through source_blob */
	uint64_t size;		  /* plaintext bytes promised as Content-Length */
	uint64_t sent;		  /* plaintext bytes handed to MHD, <= size */
	char bkey[160];		  /* the blob key, for log lines */
};

static long source_blob(void *ctx, void *buf, size_t len)
{
	struct file_stream *fs = ctx;

	return fs->bs->ops->get_read(fs->br, buf, len);
}

/* Releases everything (the reader before the key and blob it borrows).
 * Accepts NULL. */
static void file_stream_free(void *ctx)
{
	struct file_stream *fs = ctx;

	if (!fs)
		return;
	vault_reader_destroy(fs->vr);
	vault_key_release(fs->key);
	fs->bs->ops->get_close(fs->br);
	free(fs);
}

/* 0 when the file's plaintext ends exactly here (its last chunk verified),
 * else the reader's error, or INLET_EINTERNAL when more plaintext follows:
 * the record and the blob disagree about the size. */
static int file_stream_at_end(struct file_stream *fs)
{
	char extra;
	long n = vault_reader_read(fs->vr, &extra, 1);

	if (n > 0) {
		secure_wipe(&extra, 1);
		log_msg(LOG_ERROR, "file %s: longer than the %llu bytes its record says", fs->bkey,
			(unsigned long long)fs->size);
		return INLET_EINTERNAL;
	}
	return (int)n;
}

/* http_reader_fn for the body. Any failure returns -1, so MHD cuts the
 * connection and the client sees a body shorter than Content-Length; the
 * last promised byte goes out only once the end of the file is verified. */
static long file_stream_read(void *ctx, uint64_t pos, char *buf, size_t max)
{
	struct file_stream *fs = ctx;
	long n;
	int rc = 0;

	if (pos != fs->sent || pos >= fs->size) { /* MHD calls in order, never past size */
		rc = INLET_EINTERNAL;
		goto out;
	}
	if (max > fs->size - pos)
		max = (size_t)(fs->size - pos);
	n = vault_reader_read(fs->vr, buf, max);
	if (n == 0) {
		log_msg(LOG_ERROR, "file %s: shorter than the %llu bytes its record says", fs->bkey,
			(unsigned long long)fs->size);
		rc = INLET_EINTERNAL;
	} else if (n < 0) {
		rc = (int)n;
	} else if (pos + (uint64_t)n == fs->size) {
		rc = file_stream_at_end(fs);
	}
	if (!rc)
		fs->sent += (uint64_t)n;
out:
	if (rc) {
		log_msg(LOG_ERROR, "file %s: download cut at byte %llu: %s", fs->bkey,
			(unsigned long long)pos, inlet_strerror(rc));
		return -1;
	}
	return n;
}

void api_disposition(struct http_req *r, const char *name)
{
	struct buf b;
	static const char hex[] = "0123456789ABCDEF";

	buf_init(&b, 4096);
	buf_puts(&b, "attachment; filename=\"");
	for (const char *p = name; *p; p++) {
		unsigned char c = (unsigned char)*p;

		buf_putc(&b, (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') ? '_' : (char)c);
	}
	buf_puts(&b, "\"; filename*=UTF-8''");
	for (const char *p = name; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    strchr("!#$&+-.^_`|~", c)) {
			buf_putc(&b, (char)c);
		} else {
			buf_putc(&b, '%');
			buf_putc(&b, hex[c >> 4]);
			buf_putc(&b, hex[c & 15]);
		}
	}
	http_add_header(r, "Content-Disposition", b.data);
	buf_free(&b);
}


void api_file_send(struct http_req *r, const struct endpoint *e, uint32_t key_version, const char *pid,
		   uint32_t n, uint64_t size, const char *ctype, const char *name)
{
	struct app *app = http_app(r);
	struct file_stream *fs = xcalloc(1, sizeof(*fs));
	int rc;

	fs->bs = app->blobs;
	fs->size = size;
	snprintf(fs->bkey, sizeof(fs->bkey), "%s/%s.%u", e->pid, pid, n);
	if ((rc = app->blobs->ops->get_open(app->blobs, fs->bkey, &fs->br))) {
		http_error_rc(r, rc == INLET_ENOTFOUND ? INLET_EIO : rc);
		goto out;
	}
	if ((rc = api_endpoint_key(app, e, key_version, &fs->key)))
		goto failed;
	fs->vr = vault_reader_create(fs->key, pid, n, source_blob, fs);
	/* The first chunk is authenticated now, while a failure can still be a
	 * clean JSON error. A later chunk that fails cuts the body short
	 * instead: the price of holding one chunk rather than the whole file. */
	rc = vault_reader_fill(fs->vr);
	/* An empty file is verified to its end here, and needs no stream. */
	if (!rc && fs->size == 0)
		rc = file_stream_at_end(fs);
	if (rc) {
		log_msg(LOG_ERROR, "file %s: cannot open: %s", fs->bkey, inlet_strerror(rc));
		goto failed;
	}
	api_disposition(r, name);
	http_add_header(r, "X-Content-Type-Options", "nosniff");
	http_add_header(r, "Content-Security-Policy", "sandbox");
	if (fs->size == 0) {
		http_respond(r, 200, ctype, NULL, 0);
		goto out;
	}
	http_respond_stream(r, 200, ctype, fs->size, file_stream_read, fs, file_stream_free);
	return; /* the response owns fs now */
failed:
	if (rc == INLET_ETAMPERED)
		http_error(r, 500, "tampered", "The stored file failed its integrity check.");
	else
		http_error_rc(r, rc);
out:
	file_stream_free(fs);
}
