/* Dashboard sessions and the users behind them, in the tenant store. A
 * session's token lives only in the user's cookie; the store keeps its
 * SHA-256. */
#ifndef INLET_STORE_SESSIONS_H
#define INLET_STORE_SESSIONS_H

#include <stddef.h>
#include <stdint.h>

struct arena;
struct tenant;

#define SESSION_TTL_MS (30LL * 86400 * 1000)

struct user {
	int64_t id;
	const char *pid, *email, *password_hash;
};

struct membership {
	int64_t account_id;
	const char *account_pid, *account_name, *role; /* owner | admin | member | viewer */
};

struct session {
	int64_t id, user_id, created_ms, last_seen_ms, expires_ms;
	const char *pid, *user_agent;
};

/* By email (any case). INLET_ENOTFOUND when there is none. */
int sessions_user_by_email(struct tenant *t, const char *email, struct arena *a, struct user *out);
int sessions_user_by_id(struct tenant *t, int64_t id, struct arena *a, struct user *out);
/* How many users exist (0: the first start, sign-up is open). */
int sessions_user_count(struct tenant *t, int64_t *n);
/* The user's accounts, oldest membership first. */
int sessions_memberships(struct tenant *t, int64_t user_id, struct arena *a, struct membership **out, size_t *n);

/* A new session for the user; its pid goes into out_pid (heap). */
int sessions_create(struct tenant *t, int64_t user_id, const uint8_t token_hash[32], const char *user_agent,
		    char **out_pid);
/* The live session of token_hash (expired ones are not found); its
 * last_seen moves forward at most once a minute. */
int sessions_get(struct tenant *t, const uint8_t token_hash[32], struct arena *a, struct session *out);
int sessions_delete(struct tenant *t, const uint8_t token_hash[32]);
/* The user's live sessions, newest first; revoke one by pid. */
int sessions_list(struct tenant *t, int64_t user_id, struct arena *a, struct session **out, size_t *n);
int sessions_revoke(struct tenant *t, int64_t user_id, const char *pid);

#endif
