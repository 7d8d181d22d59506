/* SQLite: a consistent copy of a data folder, taken while it serves: every
 * database (tenant, shared, and each endpoint's own) through SQLite's
 * online backup (the submission databases, then the shard map, again if a
 * move cut over meanwhile), then the sealed blobs; the master key file only
 * when asked (with_key): a backup that carries its own key protects
 * nothing, so by default the key is kept apart. The copy
 * is a data folder `inlet serve` can start on; it holds the same logical
 * store whatever the layout (which endpoints live where). Blobs are
 * immutable once written, so copying them after the databases can only
 * bring files no row refers to yet (harmless), never miss one a copied row
 * names.
 * PostgreSQL (opts->db_url): `pg_dump --format=custom` of the database
 * into OUT/database.dump (every schema from one snapshot, so the shard map
 * needs no second look; restore with pg_restore into an empty database),
 * then each extra shard server into OUT/server-<name>.dump, after the main
 * one (a move that cuts over in between leaves its rows in both, never in
 * neither), then the blobs and the key as above. */
#ifndef INLET_STORE_BACKUP_H
#define INLET_STORE_BACKUP_H

#include <stddef.h>
#include <stdint.h>

struct backup_stats {
	int databases;
	int64_t db_bytes;
	int64_t blobs;
	int64_t blob_bytes;
};

struct backup_server {
	const char *name, *url;
};

struct backup_opts {
	int with_key;
	const char *db_url;   /* NULL: the stores are SQLite files under data_dir */
	const struct backup_server *servers; /* other PostgreSQL servers holding dedicated stores */
	size_t nservers;
	const char *pg_dump;  /* NULL: pg_dump on PATH, else /usr/lib/postgresql/<newest>/bin */
};

/* out must not exist yet, or be an empty folder. progress (may be NULL)
 * is called after each database and every 1,000 blobs. On PostgreSQL
 * without a pg_dump, INLET_ENOTFOUND (logged: install postgresql-client). */
int backup_run(const char *data_dir, const char *out_dir, const struct backup_opts *opts,
	       struct backup_stats *st, void (*progress)(void *ctx, const struct backup_stats *st), void *ctx);

#endif
