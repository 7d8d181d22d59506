#include "store/backup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/err.h"
#include "core/log.h"
#include "core/alloc.h"
#include "store/db.h"
#include "store/sql.h"

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int copy_db(const char *from, const char *to, struct backup_stats *st)
{
	sqlite3 *src = NULL, *dst = NULL;
	sqlite3_backup *b;
	int rc;

	if ((rc = db_open(from, 1, &src)))
		goto out;
	if (sqlite3_open_v2(to, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
		rc = INLET_EIO;
		goto out;
	}
	b = sqlite3_backup_init(dst, "main", src, "main");
	if (!b) {
		rc = INLET_EDB;
		goto out;
	}
	/* Steps of 1,024 pages: the writer may commit between steps; SQLite
	 * restarts the copy if it does, so the result is one snapshot. */
	do {
		rc = sqlite3_backup_step(b, 1024);
		if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
			usleep(10000);
	} while (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
	st->db_bytes += (int64_t)sqlite3_backup_pagecount(b) * 4096;
	rc = sqlite3_backup_finish(b) == SQLITE_OK && rc == SQLITE_DONE ? 0 : INLET_EDB;
	if (!rc)
		rc = db_exec(dst, "PRAGMA journal_mode=WAL;");
	st->databases++;
out:
	if (rc)
		log_msg(LOG_ERROR, "backup of %s failed: %s", from, inlet_strerror(rc));
	db_close(src);
	if (dst)
		sqlite3_close(dst);
	return rc;
}

static int copy_file(const char *from, const char *to, int64_t *bytes)
{
	char buf[65536];
	int in = open(from, O_RDONLY | O_CLOEXEC), out = -1, rc = 0;
	ssize_t n;

	if (in < 0)
		return errno == ENOENT ? 0 : INLET_EIO; /* erased meanwhile */
	out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0) {
		rc = INLET_EIO;
		goto out;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0) {
		if (write(out, buf, (size_t)n) != n) {
			rc = INLET_EIO;
			goto out;
		}
		*bytes += n;
	}
	if (n < 0 || fsync(out))
		rc = INLET_EIO;
out:
	close(in);
	if (out >= 0)
		close(out);
	return rc;
}

/* Copies the blob tree (leaving out uploads in progress). */
static int copy_tree(const char *from, const char *to, struct backup_stats *st,
		     void (*progress)(void *, const struct backup_stats *), void *ctx)
{
	DIR *d = opendir(from);
	struct dirent *e;
	int rc = 0;

	if (!d)
		return errno == ENOENT ? 0 : INLET_EIO;
	if (mkdir(to, 0700) && errno != EEXIST) {
		closedir(d);
		return INLET_EIO;
	}
	while (!rc && (e = readdir(d))) {
		char a[PATH_MAX], b[PATH_MAX];
		struct stat sb;

		if (e->d_name[0] == '.')
			continue; /* ".", "..", ".tmp" */
		snprintf(a, sizeof(a), "%s/%s", from, e->d_name);
		snprintf(b, sizeof(b), "%s/%s", to, e->d_name);
		if (lstat(a, &sb))
			continue;
		if (S_ISDIR(sb.st_mode)) {
			rc = copy_tree(a, b, st, progress, ctx);
		} else if (S_ISREG(sb.st_mode)) {
			rc = copy_file(a, b, &st->blob_bytes);
			if (!rc && ++st->blobs % 1000 == 0 && progress)
				progress(ctx, st);
		}
	}
	closedir(d);
	return rc;
}

/* Every endpoint's location, as one string ("id=location;..."), to tell
 * whether a move cut over while the copies were taken. */
static int locations(const char *tenant_path, char *out, size_t size)
{
	struct sql_conn *c = NULL;
	struct sql_stmt *st = NULL;
	size_t o = 0;
	int rc;

	out[0] = '\0';
	if ((rc = sql_open(tenant_path, SQL_READONLY, &c)))
		return rc;
	if ((rc = sql_prepare(c, "SELECT id, location FROM endpoints WHERE location<>'shared' ORDER BY id", &st)))
		goto out;
	while ((rc = sql_step(st)) == SQL_ROW && o + 200 < size)
		o += (size_t)snprintf(out + o, size - o, "%lld=%s;", (long long)sql_column_int64(st, 0),
				      sql_column_text(st, 1, NULL));
	rc = rc < 0 ? rc : 0;
out:
	if (rc)
		log_msg(LOG_ERROR, "backup: reading the shard map of %s: %s", tenant_path, sql_errmsg(c));
	sql_finalize(st);
	sql_close(c);
	return rc;
}

/* ---- PostgreSQL ---------------------------------------------------------- */

static int executable(const char *p)
{
	return access(p, X_OK) == 0;
}

/* pg_dump: on PATH, else the newest /usr/lib/postgresql/<version>/bin
 * (Debian's postgresql-client puts it there). */
static int find_pg_dump(char *out, size_t size)
{
	const char *path = getenv("PATH");
	glob_t g;
	int found = 0;

	while (path && *path) {
		size_t n = strcspn(path, ":");

		if (n && (size_t)snprintf(out, size, "%.*s/pg_dump", (int)n, path) < size && executable(out))
			return 1;
		path += n + (path[n] == ':');
	}
	if (glob("/usr/lib/postgresql/*/bin/pg_dump", 0, NULL, &g) == 0) {
		long best = -1;

		for (size_t i = 0; i < g.gl_pathc; i++) {
			long v = strtol(g.gl_pathv[i] + strlen("/usr/lib/postgresql/"), NULL, 10);

			if (v > best && executable(g.gl_pathv[i])) {
				best = v;
				snprintf(out, size, "%s", g.gl_pathv[i]);
				found = 1;
			}
		}
		globfree(&g);
	}
	return found;
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Splits the password out of a postgres:// URL, so that it reaches pg_dump
 * through its environment (PGPASSWORD) rather than its command line, which
 * every user of the machine can read. */
static void split_password(const char *url, char *bare, size_t bsize, char *pass, size_t psize)
{
	const char *auth = strstr(url, "://"), *at, *colon, *end;
	size_t o = 0;

	pass[0] = '\0';
	snprintf(bare, bsize, "%s", url);
	if (!auth)
		return;
	auth += 3;
	end = auth + strcspn(auth, "/?");
	at = NULL;
	for (const char *p = auth; p < end; p++)
		if (*p == '@')
			at = p;
	if (!at || !(colon = memchr(auth, ':', (size_t)(at - auth))))
		return;
	for (const char *p = colon + 1; p < at && o + 1 < psize; p++) {
		if (*p == '%' && p + 2 < at && hexval(p[1]) >= 0 && hexval(p[2]) >= 0) {
			pass[o++] = (char)(hexval(p[1]) * 16 + hexval(p[2]));
			p += 2;
		} else {
			pass[o++] = *p;
		}
	}
	pass[o] = '\0';
	snprintf(bare, bsize, "%.*s%s", (int)(colon - url), url, at);
}

/* Runs pg_dump --format=custom of url into file. */
static int pg_dump_to(const char *pg_dump, const char *url, const char *file, struct backup_stats *st)
{
	char bare[2048], pass[512], fileopt[PATH_MAX + 16];
	const char *argv[] = { pg_dump, "--format=custom", "--no-password", fileopt, "--dbname", bare, NULL };
	struct stat sb;
	pid_t pid;
	int status = 0;

	split_password(url, bare, sizeof(bare), pass, sizeof(pass));
	snprintf(fileopt, sizeof(fileopt), "--file=%s", file);
	pid = fork();
	if (pid < 0)
		return INLET_EIO;
	if (pid == 0) {
		if (pass[0])
			setenv("PGPASSWORD", pass, 1);
		execv(pg_dump, (char *const *)argv);
		_exit(127);
	}
	secure_wipe(pass, sizeof(pass));
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return INLET_EIO;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		log_msg(LOG_ERROR, "backup: %s failed (exit %d) for %s", pg_dump,
			WIFEXITED(status) ? WEXITSTATUS(status) : -1, file);
		return INLET_EIO;
	}
	if (stat(file, &sb) == 0)
		st->db_bytes += (int64_t)sb.st_size;
	st->databases++;
	return 0;
}

static int backup_pg(const char *out_dir, const struct backup_opts *o, struct backup_stats *st,
		     void (*progress)(void *, const struct backup_stats *), void *ctx)
{
	char pg_dump[PATH_MAX], file[PATH_MAX];
	int rc;

	if (o->pg_dump && *o->pg_dump)
		snprintf(pg_dump, sizeof(pg_dump), "%s", o->pg_dump);
	if ((o->pg_dump && *o->pg_dump) ? !executable(pg_dump) : !find_pg_dump(pg_dump, sizeof(pg_dump))) {
		log_msg(LOG_ERROR, "backup: no pg_dump %s%s (install postgresql-client, of the server's version or newer)",
			o->pg_dump && *o->pg_dump ? "at " : "on PATH or in /usr/lib/postgresql/*/bin",
			o->pg_dump && *o->pg_dump ? o->pg_dump : "");
		return INLET_ENOTFOUND;
	}
	/* The main database first: its shard map then never names a store
	 * the dumps of the other servers, taken after, lack the rows of. */
	snprintf(file, sizeof(file), "%s/database.dump", out_dir);
	if ((rc = pg_dump_to(pg_dump, o->db_url, file, st)))
		return rc;
	if (progress)
		progress(ctx, st);
	for (size_t i = 0; i < o->nservers; i++) {
		snprintf(file, sizeof(file), "%s/server-%s.dump", out_dir, o->servers[i].name);
		if ((rc = pg_dump_to(pg_dump, o->servers[i].url, file, st)))
			return rc;
		if (progress)
			progress(ctx, st);
	}
	return 0;
}

static int copy_submissions(const char *data_dir, const char *out_dir, struct backup_stats *st,
			    void (*progress)(void *, const struct backup_stats *), void *ctx)
{
	char a[PATH_MAX], b[PATH_MAX];
	DIR *d;
	struct dirent *e;
	int rc = 0;

	snprintf(a, sizeof(a), "%s/submissions", data_dir);
	if (!(d = opendir(a)))
		return INLET_EIO;
	while (!rc && (e = readdir(d))) {
		if (!ends_with(e->d_name, ".db"))
			continue;
		snprintf(a, sizeof(a), "%s/submissions/%s", data_dir, e->d_name);
		snprintf(b, sizeof(b), "%s/submissions/%s", out_dir, e->d_name);
		unlink(b); /* a second pass replaces the first */
		if ((rc = copy_db(a, b, st)) == 0 && progress)
			progress(ctx, st);
	}
	closedir(d);
	return rc;
}

int backup_run(const char *data_dir, const char *out_dir, const struct backup_opts *opts,
	       struct backup_stats *st, void (*progress)(void *ctx, const struct backup_stats *st), void *ctx)
{
	char a[PATH_MAX], b[PATH_MAX], before[8192], after[8192];
	int64_t ignored = 0;
	int rc;

	memset(st, 0, sizeof(*st));
	if (mkdir(out_dir, 0700) && errno != EEXIST)
		return INLET_EIO;
	if (opts->db_url) {
		if ((rc = backup_pg(out_dir, opts, st, progress, ctx)))
			return rc;
		goto blobs;
	}
	snprintf(a, sizeof(a), "%s/submissions", out_dir);
	if (mkdir(a, 0700) && errno != EEXIST)
		return INLET_EIO;
	snprintf(a, sizeof(a), "%s/tenant.db", data_dir);
	snprintf(b, sizeof(b), "%s/tenant.db", out_dir);
	/* Submission databases first, the shard map (tenant.db) last. If no
	 * endpoint changed location in between, each location in the copied
	 * map names a copied database that holds all of that endpoint's rows
	 * up to the copy. If a move cut over meanwhile, its target is complete
	 * now: the submission databases are copied again, after the map. */
	if ((rc = locations(a, before, sizeof(before))) ||
	    (rc = copy_submissions(data_dir, out_dir, st, progress, ctx)) ||
	    (rc = copy_db(a, b, st)) || (rc = locations(b, after, sizeof(after))))
		return rc;
	if (strcmp(before, after) != 0) {
		log_msg(LOG_INFO, "a move cut over during the backup: copying the submission databases again");
		if ((rc = copy_submissions(data_dir, out_dir, st, progress, ctx)))
			return rc;
	}
	/* The job queue after the submission databases: a job then never
	 * misses its outbox row (drained after the submission copy, the job is
	 * in this copy; a job whose submission came later finds it gone and
	 * ends). */
	snprintf(a, sizeof(a), "%s/jobs.db", data_dir);
	snprintf(b, sizeof(b), "%s/jobs.db", out_dir);
	if (access(a, F_OK) == 0 && (rc = copy_db(a, b, st)))
		return rc;
	if (progress)
		progress(ctx, st);
blobs:
	snprintf(a, sizeof(a), "%s/blobs", data_dir);
	snprintf(b, sizeof(b), "%s/blobs", out_dir);
	if ((rc = copy_tree(a, b, st, progress, ctx)))
		return rc;
	if (!opts->with_key)
		return 0;
	snprintf(a, sizeof(a), "%s/master.key", data_dir);
	snprintf(b, sizeof(b), "%s/master.key", out_dir);
	return copy_file(a, b, &ignored);
}
