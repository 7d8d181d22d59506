/* Where a Sentry SDK puts its credentials, parsed. Pure functions over
 * buffers (tests/fuzz/fuzz_sentry_auth.c):
 *   - the X-Sentry-Auth header:
 *       Sentry sentry_key=<public key>, sentry_version=7,
 *              sentry_client=sentry.javascript.node/9.1.0
 *   - the same parameters in a query string (browsers send
 *     ?sentry_key=...&sentry_version=7 to avoid a CORS preflight);
 *   - a DSN, http(s)://<public key>[:<secret>]@host[:port]/[path/]<project>
 *     (as given to Sentry.init, and in an envelope header's "dsn").
 * Every value is copied into a fixed-size field, so the results own no
 * memory and outlive their input. Parameters other than sentry_key,
 * sentry_secret, sentry_version and sentry_client (sentry_timestamp...)
 * are ignored. */
#ifndef INLET_EVENTS_SENTRY_AUTH_H
#define INLET_EVENTS_SENTRY_AUTH_H

#include <stddef.h>

struct kv_list;

#define SENTRY_KEY_MAX 64      /* key, secret and project id, in bytes */
#define SENTRY_CLIENT_MAX 127  /* sentry_client is cut to this */
#define SENTRY_HOST_MAX 253
#define SENTRY_PATH_MAX 255

/* Keys, secrets and project ids are 1..SENTRY_KEY_MAX of [A-Za-z0-9._-]
 * (Sentry's are hex, Inlet's base64url): anything else is refused, so a
 * value can go into a log line or a lookup as it is. */
struct sentry_auth {
	char key[SENTRY_KEY_MAX + 1];       /* sentry_key, the public key */
	char secret[SENTRY_KEY_MAX + 1];    /* sentry_secret (deprecated); "" if absent */
	char client[SENTRY_CLIENT_MAX + 1]; /* sentry_client, printable ASCII; "" if absent */
	int version;                        /* sentry_version; 0 if absent */
};

struct sentry_dsn {
	char scheme[6];                     /* "http" or "https" (lowercased) */
	char key[SENTRY_KEY_MAX + 1];       /* the public key */
	char secret[SENTRY_KEY_MAX + 1];    /* "" when absent or empty ("key:@host") */
	char host[SENTRY_HOST_MAX + 1];     /* lowercased; an IPv6 literal keeps its [] */
	unsigned port;                      /* 0 when not given */
	char path[SENTRY_PATH_MAX + 1];     /* prefix before the project id, "" or
					     * "/a/b" (no trailing '/') */
	char project[SENTRY_KEY_MAX + 1];   /* the project id, the last segment */
};

/* The value of an X-Sentry-Auth header (the text after "X-Sentry-Auth:").
 * The scheme "Sentry" (any case) comes first; then name=value pairs split on
 * ',', white space (also folded lines) around names and values ignored,
 * values optionally in double quotes. Fills *out and returns 0 when there
 * is a sentry_key. INLET_EAUTH: no sentry_key. INLET_EINVAL: not the Sentry
 * scheme, a key or secret that is empty, too long or has other characters,
 * a sentry_key given twice with different values, a sentry_version that is
 * not a small number, a sentry_client with control characters. */
int sentry_auth_parse_header(const char *value, size_t len, struct sentry_auth *out);

/* The same parameters from a raw query string (without the '?'), decoded
 * as application/x-www-form-urlencoded. Same results as above. */
int sentry_auth_from_query(const char *query, size_t len, struct sentry_auth *out);

/* The same parameters from an already decoded list (ingest/urlenc.h). */
int sentry_auth_from_kv(const struct kv_list *query, struct sentry_auth *out);

/* Parses a DSN. INLET_EINVAL unless it is http(s) with a public key, a host
 * (name, IPv4 or [IPv6]), an optional port 1..65535, and a path whose last
 * segment is the project id; no query or fragment, no white space. */
int sentry_auth_parse_dsn(const char *dsn, size_t len, struct sentry_dsn *out);

#endif
