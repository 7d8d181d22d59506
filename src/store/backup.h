/* A consistent copy of a data folder, taken while it serves: every
 * database (tenant, shared, and each endpoint's own) through SQLite's
 * online backup (the submission databases, then the shard map, again if a
 * move cut over meanwhile), then the sealed blobs; the master key file only
 * when asked (with_key): a backup that carries its own key protects
 * nothing, so by default the key is kept apart. The copy
 * is a data folder `inlet serve` can start on; it holds the same logical
 * store whatever the layout (which endpoints live where). Blobs are
 * immutable once written, so copying them after the databases can only
 * bring files no row refers to yet (harmless), never miss one a copied row
 * names. */
#ifndef INLET_STORE_BACKUP_H
#define INLET_STORE_BACKUP_H

#include <stdint.h>

struct backup_stats {
	int databases;
	int64_t db_bytes;
	int64_t blobs;
	int64_t blob_bytes;
};

/* out must not exist yet, or be an empty folder. progress (may be NULL)
 * is called after each database and every 1,000 blobs. */
int backup_run(const char *data_dir, const char *out_dir, int with_key, struct backup_stats *st,
	       void (*progress)(void *ctx, const struct backup_stats *st), void *ctx);

#endif
