/* The blob store: where sealed files live. Keys are relative paths made of
 * [A-Za-z0-9_.-] segments separated by '/' (blob_key_ok). Backends sit behind
 * a table of function pointers: blob/fs.c (a local folder) and blob/s3.c
 * (an S3 bucket). Writers are all-or-nothing: nothing is visible under the
 * key until commit succeeds, and commit is durable when it returns. A
 * writer or reader belongs to one caller at a time; the store itself is
 * shared by every thread. */
#ifndef INLET_BLOB_BLOB_H
#define INLET_BLOB_BLOB_H

#include <stddef.h>
#include <stdint.h>

struct blob_store;
struct blob_writer;
struct blob_reader;

struct blob_ops {
	int (*put_begin)(struct blob_store *s, const char *key, struct blob_writer **out);
	int (*put_write)(struct blob_writer *w, const void *data, size_t len);
	int (*put_commit)(struct blob_writer *w); /* frees w */
	void (*put_abort)(struct blob_writer *w); /* frees w; accepts NULL */
	int (*get_open)(struct blob_store *s, const char *key, struct blob_reader **out);
	long (*get_read)(struct blob_reader *r, void *buf, size_t len); /* 0 at end, <0 error */
	void (*get_close)(struct blob_reader *r); /* accepts NULL */
	int (*remove)(struct blob_store *s, const char *key);
	/* Removes every key under prefix ("ep_x/"). */
	int (*remove_prefix)(struct blob_store *s, const char *prefix);
	/* 0 when the store answers now (a cheap real request), else why not. */
	int (*check)(struct blob_store *s);
	void (*destroy)(struct blob_store *s);
};

struct blob_store {
	const struct blob_ops *ops;
};

/* A store on the local file system under dir (created if absent). */
int blob_fs_open(struct blob_store **out, const char *dir);

/* 1 when key is a valid key: non-empty segments of [A-Za-z0-9_.-], none
 * "." or "..", no leading '/'. A prefix (prefix = 1) may also end in '/'. */
int blob_key_ok(const char *key, int prefix);

static inline int blob_put_begin(struct blob_store *s, const char *k, struct blob_writer **w)
{ return s->ops->put_begin(s, k, w); }
static inline int blob_check(struct blob_store *s)
{ return s->ops->check(s); }
/* Accepts NULL. */
void blob_close(struct blob_store *s);

#endif
