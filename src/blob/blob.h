/* The blob store: where sealed files live. Keys are relative paths made of
 * [A-Za-z0-9_.-] segments separated by '/'. Backends sit behind a table of
 * function pointers (blob/fs.c now; S3 later). Writers are all-or-nothing:
 * nothing is visible under the key until commit succeeds, and commit is
 * durable when it returns. */
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
	void (*destroy)(struct blob_store *s);
};

struct blob_store {
	const struct blob_ops *ops;
};

/* A store on the local file system under dir (created if absent). */
int blob_fs_open(struct blob_store **out, const char *dir);

static inline int blob_put_begin(struct blob_store *s, const char *k, struct blob_writer **w)
{ return s->ops->put_begin(s, k, w); }
void blob_close(struct blob_store *s);

#endif
