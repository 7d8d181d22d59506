/* The master key: from the environment, or DATA/master.key.
 *
 * The file holds base64 of 32 bytes and a newline. Losing it loses every
 * sealed byte, so it is created so that no crash or race can leave a
 * half-written file or silently replace one that exists: written under a
 * temporary name, fsync'd, moved into place without overwriting, and the
 * directory fsync'd before the key is used. Two processes racing to create
 * it both end up with the one that landed first. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/enc.h"
#include "core/err.h"
#include "core/log.h"
#include "vault/vault_int.h"

/* Longer than any base64 of 32 bytes plus whitespace; a bigger file is not
 * a key file. */
#define FILE_MAX 128

static void log_path(enum log_level lvl, const char *msg, const char *path, int err)
{
	char fields[768] = "";

	log_field_str(fields, sizeof(fields), "path", path);
	if (err)
		log_field_str(fields, sizeof(fields), "error", strerror(err));
	log_emit(lvl, msg, fields);
}

/* Base64 of exactly 32 bytes, trailing whitespace ignored (the file ends
 * in a newline; an editor may add a CR). */
static int decode_key(const char *s, size_t n, uint8_t key[VAULT_KEY_BYTES])
{
	size_t len = 0;
	int rc;

	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	rc = b64_decode(key, VAULT_KEY_BYTES, &len, s, n);
	if (rc || len != VAULT_KEY_BYTES) {
		secure_wipe(key, VAULT_KEY_BYTES);
		rc = INLET_EINVAL;
	}
	return rc;
}

/* INLET_ENOTFOUND when there is no file (the caller creates one). */
static int read_key_file(const char *path, uint8_t key[VAULT_KEY_BYTES])
{
	char text[FILE_MAX + 1];
	size_t got = 0;
	struct stat st;
	int fd, rc = 0;

	/* O_NONBLOCK: a FIFO in its place must not hang the start. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT) {
			rc = INLET_ENOTFOUND;
		} else {
			log_path(LOG_ERROR, "cannot open the master key", path, errno);
			rc = INLET_EIO;
		}
		goto out;
	}
	if (fstat(fd, &st)) {
		log_path(LOG_ERROR, "cannot stat the master key", path, errno);
		rc = INLET_EIO;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		log_path(LOG_ERROR, "the master key is not a regular file", path, 0);
		rc = INLET_EIO;
		goto out;
	}
	if (st.st_mode & 077)
		log_path(LOG_WARN, "the master key file is readable by others; chmod 600 it", path, 0);
	/* Read to end of file (or one byte past the cap) rather than trusting
	 * st_size, which a secrets mount may not report. */
	while (got <= FILE_MAX) {
		ssize_t r = read(fd, text + got, FILE_MAX + 1 - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			log_path(LOG_ERROR, "cannot read the master key", path, errno);
			rc = INLET_EIO;
			goto out;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	if (got > FILE_MAX || (rc = decode_key(text, got, key))) {
		log_path(LOG_ERROR, "the master key file does not hold base64 of 32 bytes", path, 0);
		rc = INLET_EINVAL;
	}
out:
	secure_wipe(text, sizeof(text));
	if (fd >= 0)
		close(fd);
	return rc;
}

/* -1 with errno set on failure. */
static int write_all(int fd, const char *p, size_t n)
{
	int rc = 0;

	while (n > 0) {
		ssize_t r = write(fd, p, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = EIO;
			rc = -1;
			break;
		}
		p += r;
		n -= (size_t)r;
	}
	return rc;
}

/* Moves tmp to path unless path exists (then -1 with errno EEXIST).
 * renameat2 is the one call that does it; filesystems without
 * RENAME_NOREPLACE get link + unlink, which is just as atomic. */
static int move_noreplace(const char *tmp, const char *path)
{
	int r = renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE);

	if (r && (errno == EINVAL || errno == ENOSYS || errno == ENOTSUP)) {
		r = link(tmp, path);
		if (r == 0)
			unlink(tmp);
	}
	return r;
}

static int create_key_file(const char *data_dir, const char *path, uint8_t key[VAULT_KEY_BYTES])
{
	char text[64], *tmp = NULL;
	char suffix[17];
	uint8_t rnd[8];
	size_t tlen;
	int fd = -1, dfd = -1, made = 0, placed = 0, rc = 0;

	rand_bytes(key, VAULT_KEY_BYTES);
	b64_encode(text, key, VAULT_KEY_BYTES);
	tlen = strlen(text);
	text[tlen++] = '\n';
	/* A random name, not the pid: a container restarts as pid 1, and a
	 * temp file left by a crash must not block the next start. */
	rand_bytes(rnd, sizeof(rnd));
	hex_encode(suffix, rnd, sizeof(rnd));
	tmp = xasprintf("%s/.master.key.%s.tmp", data_dir, suffix);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		log_path(LOG_ERROR, "cannot create the master key", tmp, errno);
		rc = INLET_EIO;
		goto out;
	}
	made = 1;
	if (write_all(fd, text, tlen) || fsync(fd)) {
		log_path(LOG_ERROR, "cannot write the master key", tmp, errno);
		rc = INLET_EIO;
		goto out;
	}
	if (close(fd)) {
		fd = -1;
		log_path(LOG_ERROR, "cannot write the master key", tmp, errno);
		rc = INLET_EIO;
		goto out;
	}
	fd = -1;
	if (move_noreplace(tmp, path)) {
		if (errno == EEXIST) {
			/* Another process created it first: theirs is the key.
			 * (A dangling symlink also lands here, and reads as
			 * missing: that is a file we cannot read, not a cue to
			 * try again.) */
			rc = read_key_file(path, key);
			if (rc == INLET_ENOTFOUND) {
				log_path(LOG_ERROR, "cannot read the master key", path, ENOENT);
				rc = INLET_EIO;
			}
		} else {
			log_path(LOG_ERROR, "cannot install the master key", path, errno);
			rc = INLET_EIO;
		}
		goto out;
	}
	placed = 1;
	/* The rename is durable only once the directory is. */
	dfd = open(data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd)) {
		log_path(LOG_ERROR, "cannot sync the data directory", data_dir, errno);
		rc = INLET_EIO;
		goto out;
	}
	log_path(LOG_WARN,
		 "created a new master key: back up this file now; without it no sealed "
		 "submission or file can ever be read",
		 path, 0);
out:
	if (fd >= 0)
		close(fd);
	/* A temp file left behind would be a copy of a key nobody uses. */
	if (made && !placed)
		unlink(tmp);
	if (dfd >= 0)
		close(dfd);
	if (rc)
		secure_wipe(key, VAULT_KEY_BYTES);
	secure_wipe(text, sizeof(text));
	free(tmp);
	return rc;
}

int vault__master_load(const char *data_dir, const char *master_b64, uint8_t key[VAULT_KEY_BYTES])
{
	char *path = NULL;
	int rc;

	if (master_b64) {
		rc = decode_key(master_b64, strlen(master_b64), key);
		goto out;
	}
	if (!data_dir) {
		rc = INLET_EINVAL;
		goto out;
	}
	path = xasprintf("%s/master.key", data_dir);
	rc = read_key_file(path, key);
	if (rc == INLET_ENOTFOUND)
		rc = create_key_file(data_dir, path, key);
out:
	free(path);
	return rc;
}
