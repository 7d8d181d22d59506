/* The tenant store (DATA/tenant.db): accounts, users, memberships, API
 * keys, endpoints and their wrapped data keys, and small metadata (daily
 * salts). Every function that takes an account_id scopes its query to that
 * account: another account's rows answer INLET_ENOTFOUND, never a hint that
 * they exist. Returned structs and strings live in the caller's arena.
 * Thread-safe: each call takes its own connection from a pool. */
#ifndef INLET_STORE_TENANT_H
#define INLET_STORE_TENANT_H

#include <stddef.h>
#include <stdint.h>

struct arena;
struct tenant;

struct account {
	int64_t id;      /* internal row id: never leaves the process */
	const char *pid; /* public id "acc_..." */
	const char *name;
	int64_t created_ms;
};

struct api_key {
	int64_t id;
	const char *pid;    /* "key_..." */
	int64_t account_id;
	const char *name;
	const char *prefix; /* first characters of the token, for display */
	int64_t created_ms;
	int64_t last_used_ms; /* 0: never */
	int64_t revoked_ms;   /* 0: active */
};

#define ENDPOINT_WRAPPED_MAX 128

struct endpoint {
	int64_t id;
	const char *pid;          /* "ep_..." */
	int64_t account_id;
	const char *key;          /* public form key, URL-safe */
	const char *kind;         /* "form" | "events" */
	const char *name;
	const char *settings;     /* JSON text, defaults filled */
	uint32_t key_version;     /* current data key version */
	uint8_t wrapped[ENDPOINT_WRAPPED_MAX]; /* current wrapped data key */
	size_t wrapped_len;
	const char *location;     /* where submissions live: "shared" */
	int64_t created_ms;
};

int tenant_open(struct tenant **out, const char *path);
/* The tenant store on a store/sql.h target: a file path is tenant_open
 * (schema must be NULL); a postgres:// URL puts the store in schema (NULL:
 * TENANT_SCHEMA_DEFAULT), created and migrated on first open. On
 * PostgreSQL only the modules already on sql.h work (store/sessions.c,
 * store/webhooks.c, store/members.c); tenant.c's own calls answer
 * INLET_EUNAVAILABLE until it moves too. The app does not call this yet. */
int tenant_open_target(struct tenant **out, const char *target, const char *schema);
void tenant_close(struct tenant *t);

#define TENANT_SCHEMA_DEFAULT "tenant"

/* Creates an account, a user (unique email, argon2id hash) and the owner
 * membership in one transaction. INLET_EEXISTS when the email has a user. */
int tenant_init_owner(struct tenant *t, const char *email, const char *password_hash,
		      const char *account_name, struct arena *a, struct account *out);
int tenant_account_get(struct tenant *t, int64_t account_id, struct arena *a, struct account *out);
int tenant_account_by_pid(struct tenant *t, const char *pid, struct arena *a, struct account *out);

int tenant_key_create(struct tenant *t, int64_t account_id, const char *name,
		      const uint8_t hash[32], const char *prefix, struct arena *a,
		      struct api_key *out);
int tenant_key_list(struct tenant *t, int64_t account_id, struct arena *a,
		    struct api_key **out, size_t *n);
int tenant_key_revoke(struct tenant *t, int64_t account_id, const char *key_pid);
/* The account of a live key with this token hash, or INLET_EAUTH. Records
 * last use (at most once a minute per key, to keep reads read-only). */
int tenant_key_auth(struct tenant *t, const uint8_t hash[32], int64_t *account_id);

/* Inserts e (pid, key, wrapped key etc. set by the caller); sets e->id and
 * stores the wrapped key as version e->key_version. */
int tenant_endpoint_create(struct tenant *t, struct endpoint *e);
/* account_id 0 means any account (internal callers only). */
int tenant_endpoint_get(struct tenant *t, int64_t account_id, const char *pid,
			struct arena *a, struct endpoint *out);
int tenant_endpoint_by_key(struct tenant *t, const char *key, struct arena *a, struct endpoint *out);
int tenant_endpoint_by_id(struct tenant *t, int64_t id, struct arena *a, struct endpoint *out);
/* account_id 0 lists every account's endpoints (operator tools only). */
int tenant_endpoint_list(struct tenant *t, int64_t account_id, struct arena *a,
			 struct endpoint **out, size_t *n);
/* Updates name and/or settings (NULL leaves a column as it is). */
int tenant_endpoint_update(struct tenant *t, int64_t account_id, const char *pid,
			   const char *name, const char *settings);
int tenant_endpoint_delete(struct tenant *t, int64_t account_id, const char *pid);
/* The wrapped data key of an older version (for rows sealed before a
 * rotation). */
int tenant_endpoint_key(struct tenant *t, int64_t endpoint_id, uint32_t version,
			uint8_t *wrapped, size_t size, size_t *len);

/* ---- the shard map and moves (store/shards.c) ---- */

struct endpoint_location {
	int64_t endpoint_id;
	const char *pid;
	const char *location; /* a file name under DATA/submissions/ */
};

struct shard_move {
	int64_t endpoint_id;
	const char *state;    /* requested | copying | cleanup */
	const char *target;
	int64_t rows_copied, rows_total;
	int64_t started_ms, updated_ms;
};

/* Endpoints that live outside the shared store. */
int tenant_locations(struct tenant *t, struct arena *a, struct endpoint_location **out, size_t *n);

/* Every endpoint, with what clean-up needs (its retention, from the
 * settings JSON). */
struct endpoint_brief {
	int64_t id;
	const char *pid, *kind;
	uint64_t retention_days;
};
int tenant_endpoints_brief(struct tenant *t, struct arena *a, struct endpoint_brief **out, size_t *n);
int tenant_moves(struct tenant *t, struct arena *a, struct shard_move **out, size_t *n);
int tenant_move_get(struct tenant *t, int64_t endpoint_id, struct arena *a, struct shard_move *out);
int tenant_move_set(struct tenant *t, int64_t endpoint_id, const char *state, const char *target,
		    int64_t rows_copied, int64_t rows_total);
/* Asks for a move (another process, such as `inlet shards move`, may ask);
 * no-op if one is under way or the endpoint already lives elsewhere. */
int tenant_move_request(struct tenant *t, int64_t endpoint_id);
/* Sets the endpoint's location and the move's state to cleanup in one
 * transaction: the commit point of a move. */
int tenant_move_commit(struct tenant *t, int64_t endpoint_id, const char *location);
int tenant_move_done(struct tenant *t, int64_t endpoint_id);

/* The random salt of day (days since the epoch), created on first use;
 * salts older than yesterday are deleted so old hashes cannot be redone. */
int tenant_daily_salt(struct tenant *t, int64_t day, uint8_t out[32]);

#endif
