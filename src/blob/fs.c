/* The file-system blob backend: DIR/<key>. A put writes DIR/.tmp/<random>,
 * fsyncs it, renames it into place and fsyncs the directory, so a crash
 * leaves either nothing or the whole file under the key. Leftovers in .tmp
 * are removed at open. */
#include "blob/blob.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/enc.h"
#include "core/err.h"
#include "core/log.h"

struct fs_store {
	struct blob_store base; /* first */
	char *dir;
};

struct blob_writer {
	struct fs_store *s;
	int fd;
	char tmp[PATH_MAX];
	char final[PATH_MAX];
};

struct blob_reader {
	int fd;
};

static int mkdirs(char *path)
{
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0700) && errno != EEXIST) {
			*p = '/';
			return INLET_EIO;
		}
		*p = '/';
	}
	if (mkdir(path, 0700) && errno != EEXIST)
		return INLET_EIO;
	return 0;
}

static int fsync_dir_of(const char *path)
{
	char dir[PATH_MAX];
	char *slash;
	int fd, rc = 0;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash)
		return 0;
	*slash = '\0';
	fd = open(dir, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return INLET_EIO;
	if (fsync(fd))
		rc = INLET_EIO;
	close(fd);
	return rc;
}

static int fs_put_begin(struct blob_store *bs, const char *key, struct blob_writer **out)
{
	struct fs_store *s = (struct fs_store *)bs;
	struct blob_writer *w;
	uint8_t rnd[12];
	char name[32];

	*out = NULL;
	if (!blob_key_ok(key, 0))
		return INLET_EINVAL;
	w = xcalloc(1, sizeof(*w));
	w->s = s;
	rand_bytes(rnd, sizeof(rnd));
	b64url_encode(name, rnd, sizeof(rnd));
	snprintf(w->tmp, sizeof(w->tmp), "%s/.tmp/%s", s->dir, name);
	snprintf(w->final, sizeof(w->final), "%s/%s", s->dir, key);
	w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (w->fd < 0) {
		free(w);
		return INLET_EIO;
	}
	*out = w;
	return 0;
}

static int fs_put_write(struct blob_writer *w, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(w->fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return INLET_EIO;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void fs_put_abort(struct blob_writer *w)
{
	if (!w)
		return;
	close(w->fd);
	unlink(w->tmp);
	free(w);
}

static int fs_put_commit(struct blob_writer *w)
{
	char dir[PATH_MAX];
	char *slash;
	int rc = 0;

	if (fsync(w->fd)) {
		rc = INLET_EIO;
		goto out;
	}
	snprintf(dir, sizeof(dir), "%s", w->final);
	slash = strrchr(dir, '/');
	if (slash) {
		*slash = '\0';
		if ((rc = mkdirs(dir)))
			goto out;
	}
	if (rename(w->tmp, w->final)) {
		rc = INLET_EIO;
		goto out;
	}
	rc = fsync_dir_of(w->final);
out:
	close(w->fd);
	if (rc)
		unlink(w->tmp);
	free(w);
	return rc;
}

static int fs_get_open(struct blob_store *bs, const char *key, struct blob_reader **out)
{
	struct fs_store *s = (struct fs_store *)bs;
	char path[PATH_MAX];
	int fd;

	*out = NULL;
	if (!blob_key_ok(key, 0))
		return INLET_EINVAL;
	snprintf(path, sizeof(path), "%s/%s", s->dir, key);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? INLET_ENOTFOUND : INLET_EIO;
	*out = xmalloc(sizeof(**out));
	(*out)->fd = fd;
	return 0;
}

static long fs_get_read(struct blob_reader *r, void *buf, size_t len)
{
	for (;;) {
		ssize_t n = read(r->fd, buf, len);

		if (n >= 0)
			return (long)n;
		if (errno != EINTR)
			return INLET_EIO;
	}
}

static void fs_get_close(struct blob_reader *r)
{
	if (!r)
		return;
	close(r->fd);
	free(r);
}

static int fs_remove(struct blob_store *bs, const char *key)
{
	struct fs_store *s = (struct fs_store *)bs;
	char path[PATH_MAX];

	if (!blob_key_ok(key, 0))
		return INLET_EINVAL;
	snprintf(path, sizeof(path), "%s/%s", s->dir, key);
	if (unlink(path) && errno != ENOENT)
		return INLET_EIO;
	return 0;
}

/* Removes a directory tree (blobs are one level deep below a prefix). */
static int rm_tree(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int rc = 0;

	if (!d)
		return errno == ENOENT ? 0 : INLET_EIO;
	while ((e = readdir(d))) {
		char child[PATH_MAX];
		struct stat st;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(child, sizeof(child), "%s/%s", path, e->d_name);
		if (lstat(child, &st) == 0 && S_ISDIR(st.st_mode))
			rc = rm_tree(child) ? INLET_EIO : rc;
		else if (unlink(child))
			rc = INLET_EIO;
	}
	closedir(d);
	if (rmdir(path))
		rc = INLET_EIO;
	return rc;
}

static int fs_remove_prefix(struct blob_store *bs, const char *prefix)
{
	struct fs_store *s = (struct fs_store *)bs;
	char path[PATH_MAX];
	size_t n;

	if (!blob_key_ok(prefix, 1))
		return INLET_EINVAL;
	snprintf(path, sizeof(path), "%s/%s", s->dir, prefix);
	n = strlen(path);
	if (n && path[n - 1] == '/')
		path[n - 1] = '\0';
	return rm_tree(path);
}

/* The folder is there and this process may write in it. */
static int fs_check(struct blob_store *bs)
{
	struct fs_store *s = (struct fs_store *)bs;

	return access(s->dir, R_OK | W_OK | X_OK) ? INLET_EIO : 0;
}

static void fs_destroy(struct blob_store *bs)
{
	struct fs_store *s = (struct fs_store *)bs;

	free(s->dir);
	free(s);
}

static const struct blob_ops fs_ops = {
	.put_begin = fs_put_begin,
	.put_write = fs_put_write,
	.put_commit = fs_put_commit,
	.put_abort = fs_put_abort,
	.get_open = fs_get_open,
	.get_read = fs_get_read,
	.get_close = fs_get_close,
	.remove = fs_remove,
	.remove_prefix = fs_remove_prefix,
	.check = fs_check,
	.destroy = fs_destroy,
};

int blob_fs_open(struct blob_store **out, const char *dir)
{
	struct fs_store *s;
	char tmp[PATH_MAX];

	*out = NULL;
	snprintf(tmp, sizeof(tmp), "%s/.tmp", dir);
	if (mkdirs(tmp))
		return INLET_EIO;
	/* A crash mid-upload leaves a partial file here; none is referenced. */
	rm_tree(tmp);
	if (mkdirs(tmp))
		return INLET_EIO;
	s = xcalloc(1, sizeof(*s));
	s->base.ops = &fs_ops;
	s->dir = xstrdup(dir);
	*out = &s->base;
	return 0;
}
