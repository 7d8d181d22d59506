/* The people of an account, in the tenant store: its members (the
 * memberships table, with the users behind them), the invitations that
 * make new ones, and new accounts with their first owner.
 *
 * Every call that changes who belongs where runs in one transaction, and
 * the rules that must hold whatever runs at the same time are checked
 * inside it: an account keeps at least one owner, an invitation is
 * accepted at most once. Every call that takes an account_id scopes its
 * query to it: another account's rows answer INLET_ENOTFOUND. Returned
 * structs and strings live in the caller's arena. Thread-safe (pooled
 * connections, as store/tenant.h). */
#ifndef INLET_STORE_MEMBERS_H
#define INLET_STORE_MEMBERS_H

#include <stddef.h>
#include <stdint.h>

struct account;
struct arena;
struct tenant;

#define MEMBERS_INVITE_TTL_MS (7LL * 86400 * 1000) /* an invitation's life */

struct invite {
	int64_t id;               /* row id: never leaves the process */
	const char *pid;          /* "inv_..." */
	int64_t account_id;
	const char *account_pid;  /* "acc_..." */
	const char *account_name; /* the account's name, for the invitee */
	const char *email;        /* as the inviter typed it */
	const char *role;         /* owner | admin | member | viewer */
	int64_t invited_by;       /* user id; 0 when an API key invited (or the user is gone) */
	int64_t created_ms, expires_ms;
	int64_t accepted_ms;      /* 0: pending */
};

struct member {
	int64_t user_id;
	const char *user_pid;     /* "usr_...": the id the API shows */
	const char *email;
	const char *name;         /* what they call themselves; "" when unsaid */
	const char *role;
	int64_t joined_ms;
};

/* A pending invitation of email to account_id with role, valid for
 * MEMBERS_INVITE_TTL_MS; only token_hash (SHA-256 of the link's token) is
 * kept. A pending invitation of the same email to the same account is
 * replaced (its link stops working). invited_by: a user id, or 0.
 * INLET_EEXISTS when a user with that email is a member already. */
int members_invite_create(struct tenant *t, int64_t account_id, const char *email, const char *role,
			  const uint8_t token_hash[32], int64_t invited_by, struct arena *a,
			  struct invite *out);
/* The account's pending, unexpired invitations, oldest first. */
int members_invites(struct tenant *t, int64_t account_id, struct arena *a, struct invite **out, size_t *n);
/* Deletes a pending invitation; INLET_ENOTFOUND when the account has no
 * pending one of that pid. */
int members_invite_revoke(struct tenant *t, int64_t account_id, const char *pid);
/* The pending, unexpired invitation of token_hash, else INLET_ENOTFOUND
 * (unknown, expired, accepted and revoked alike). */
int members_invite_by_token(struct tenant *t, const uint8_t token_hash[32], struct arena *a,
			    struct invite *out);
/* An invitation by row id in any state (for its email job): accepted_ms
 * and expires_ms tell whether it is still worth sending. */
int members_invite_by_id(struct tenant *t, int64_t id, struct arena *a, struct invite *out);

/* Accepts the pending invitation of token_hash for user_id: the membership
 * (with the invitation's role) and the accepted mark in one transaction,
 * so a token works once. INLET_ENOTFOUND when there is no such pending
 * invitation; INLET_EEXISTS when the user is a member of the account
 * already (the invitation stays pending). *out gets the invitation. */
int members_invite_accept(struct tenant *t, const uint8_t token_hash[32], int64_t user_id, struct arena *a,
			  struct invite *out);
/* The same for someone who has no user yet: the user (the invitation's
 * email, name (may be ""), password_hash an argon2id PHC string), the
 * membership and the accepted mark in one transaction; *user_id gets the
 * new user. INLET_ENOTFOUND as above; INLET_EEXISTS when a user has that
 * email. */
int members_invite_accept_new(struct tenant *t, const uint8_t token_hash[32], const char *name,
			      const char *password_hash, struct arena *a, struct invite *out, int64_t *user_id);

/* The account's members, owners first, then by when they joined. */
int members_list(struct tenant *t, int64_t account_id, struct arena *a, struct member **out, size_t *n);
/* Gives member user_pid the role. as_owner says whether the caller is an
 * owner: only an owner may make an owner or change an owner's role.
 * INLET_ENOTFOUND: no such member of the account; INLET_EFORBIDDEN: the
 * owner role is involved and as_owner is 0; INLET_ECONFLICT: the member is
 * the account's last owner and would stop being one. *out gets the member. */
int members_set_role(struct tenant *t, int64_t account_id, const char *user_pid, const char *role,
		     int as_owner, struct arena *a, struct member *out);
/* Ends user_pid's membership (their access to the account ends with it:
 * every request reads the membership). Codes as members_set_role, for
 * removing an owner. The caller decides who may remove whom otherwise. */
int members_remove(struct tenant *t, int64_t account_id, const char *user_pid, int as_owner);

/* A new account named name with user_id as its owner, in one transaction. */
int members_account_create(struct tenant *t, int64_t user_id, const char *name, struct arena *a,
			   struct account *out);

#endif
