/* A streaming GET of one S3 object, pulled as the caller reads: the body
 * never sits whole in memory, only one bounded buffer (S3GET_BUF_BYTES) of
 * what has arrived and was not read yet.
 *
 * The transfer runs in a private curl multi handle that this reader drives
 * from s3get_read: when the buffer is full the write callback pauses the
 * transfer (CURL_WRITEFUNC_PAUSE), and a read that has emptied the buffer
 * lets it go on. TCP's flow control then keeps the server at the caller's
 * pace.
 *
 * Failures: a 5xx, 429 or broken transfer is retried (S3REQ_ATTEMPTS
 * transfers in all). A transfer that broke after some of the body resumes
 * where it stopped (Range), on the condition that the object is still the
 * one it started reading (If-Match with the first answer's ETag); every byte
 * handed out is then part of one and the same object.
 *
 * One reader belongs to one caller at a time (no locking); it may move
 * between threads between calls. */
#ifndef INLET_BLOB_S3GET_H
#define INLET_BLOB_S3GET_H

#include <stddef.h>

#define S3GET_BUF_BYTES (64 * 1024)

struct s3req_client;
struct s3get;

/* Starts the GET of url and waits for the answer's status: 0 with *out
 * set; INLET_ENOTFOUND when there is no such object; INLET_EIO when S3
 * could not be read. c must outlive the reader. */
int s3get_open(struct s3req_client *c, const char *url, struct s3get **out);
/* Up to len bytes of the body into buf: their count, 0 at the end, or
 * INLET_EIO (after which every read fails). */
long s3get_read(struct s3get *g, void *buf, size_t len);
/* Stops the transfer and frees g. Accepts NULL. */
void s3get_close(struct s3get *g);

#endif
