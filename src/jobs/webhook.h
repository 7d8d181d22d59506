/* Webhook delivery, the security core: the signature receivers verify, the
 * bodies for the three formats (Inlet JSON, Slack, Discord incoming
 * webhooks), the SSRF guard and one delivery attempt over libcurl. No
 * queue, no retries, no storage: the job worker calls webhook_deliver()
 * once per attempt and records the result.
 *
 * Signature (Stripe/Formspree style, so their verification snippets work):
 *   Inlet-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>
 *
 * SSRF guard: the address curl is about to connect to (after DNS, on every
 * connection, on every redirect hop) is checked in curl's open-socket
 * callback, so a name that resolves to a private address, or re-resolves to
 * one after a first check (DNS rebinding), is refused all the same.
 * Loopback, private, link-local (with the cloud metadata address), CGNAT,
 * unique-local, unspecified, multicast, broadcast and reserved ranges are
 * refused, in IPv4, IPv6 and IPv4-mapped/NAT64/6to4 forms, unless the
 * allowlist (INLET_WEBHOOK_ALLOW) lists the address's CIDR or the URL's
 * host name. Proxies from the environment are ignored (a proxy would make
 * the checked address the proxy's). */
#ifndef INLET_JOBS_WEBHOOK_H
#define INLET_JOBS_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>

struct buf;
struct json_object;
struct sockaddr;

/* Bytes a signature header value needs, NUL included:
 * "t=" + 20 digits + ",v1=" + 64 hex + NUL = 91. */
#define WEBHOOK_SIG_MAX 96
#define WEBHOOK_TIMEOUT_MS 10000   /* default total time of one attempt */
#define WEBHOOK_MAX_REDIRECTS 3    /* 307/308 hops followed */
#define WEBHOOK_BODY_KEEP 1024     /* bytes of the response body kept */
#define WEBHOOK_ALLOW_MAX_CIDR 32  /* entries in INLET_WEBHOOK_ALLOW */
#define WEBHOOK_ALLOW_MAX_HOST 16
#define WEBHOOK_HOST_MAX 253

/* ---- signature ---- */

/* Writes "t=<t>,v1=<hex>" into out. Returns 0 (no failure mode beyond an
 * aborting allocation). */
int webhook_sign(const void *secret, size_t secret_len, int64_t t, const void *body, size_t len,
		 char out[WEBHOOK_SIG_MAX]);

/* Checks a header value as a receiver would: every "v1=" entry is compared
 * in constant time with the HMAC for the header's "t", and t must be within
 * tolerance_s seconds of now (either side). Returns 0 on a match;
 * INLET_EINVAL for a malformed header (no t, bad number, no v1);
 * INLET_EAUTH for a mismatch or a timestamp outside the tolerance. */
int webhook_verify(const char *header, const void *secret, size_t secret_len, const void *body,
		   size_t len, int64_t tolerance_s, int64_t now);

/* ---- payloads ---- */

enum webhook_format { WEBHOOK_JSON, WEBHOOK_SLACK, WEBHOOK_DISCORD };

/* "json" | "slack" | "discord" (NULL: json). INLET_EINVAL otherwise. */
int webhook_format_parse(const char *s, enum webhook_format *out);

/* Slack and Discord limits applied below (Discord counts characters; we
 * count bytes, which is never less, so the limits always hold). */
#define WEBHOOK_SLACK_MAX_FIELDS 45     /* section blocks; Slack allows 50 */
#define WEBHOOK_SLACK_TEXT_MAX 3000     /* bytes of one section's text */
#define WEBHOOK_DISCORD_MAX_FIELDS 25
#define WEBHOOK_DISCORD_NAME_MAX 256
#define WEBHOOK_DISCORD_VALUE_MAX 1024
#define WEBHOOK_DISCORD_TITLE_MAX 256
#define WEBHOOK_DISCORD_TOTAL_MAX 6000  /* title + all field names and values */

/* Appends the body for one delivery to out (out's cap applies; on error out
 * is left as it was).
 *   json:    {"event","delivery","created_at":"<RFC 3339 UTC>","data":<submission>}
 *   slack:   {"text": summary, "blocks":[header section, one section per field,
 *             a context block when fields were left out]}, mrkdwn with & < >
 *             escaped in everything taken from the submission
 *   discord: {"content": summary, "embeds":[{"title","fields":[{"name","value",
 *             "inline":false}]}]} within Discord's limits, text cut on UTF-8
 *             character boundaries and marked with "…"
 * submission is the API's view ({"id","endpoint_id","created_at","fields":{…},
 * "files":[…],"meta":{…}}); Slack and Discord summarize "fields" (the whole
 * object when it has none). Borrowed, not consumed. created_at is unix
 * seconds. Returns 0, INLET_EINVAL for a NULL event/delivery/submission,
 * INLET_ETOOBIG when out's cap is reached. */
int webhook_payload(struct buf *out, enum webhook_format fmt, const char *event,
		    const char *delivery_id, int64_t created_at, struct json_object *submission);

/* ---- SSRF guard ---- */

struct webhook_cidr {
	int family;         /* AF_INET or AF_INET6 */
	uint8_t addr[16];   /* network address, host bits cleared (4 bytes used for IPv4) */
	unsigned prefix;    /* 0..32 or 0..128 */
};

/* A parsed INLET_WEBHOOK_ALLOW. Plain data with fixed caps, no heap: copy it
 * freely, share it read-only between threads. */
struct webhook_allowlist {
	size_t ncidr;
	struct webhook_cidr cidr[WEBHOOK_ALLOW_MAX_CIDR];
	size_t nhost;
	char host[WEBHOOK_ALLOW_MAX_HOST][WEBHOOK_HOST_MAX + 1]; /* lower case, no trailing dot */
};

/* Parses "127.0.0.1,10.0.0.0/8,::1,fd00::/8,hooks.internal" (spaces around
 * items ignored, empty items skipped, NULL or "" gives an empty list; an
 * address without a prefix is a /32 or /128; IPv4-mapped IPv6 entries are
 * stored as IPv4). A host name entry exempts every address that name's URLs
 * connect to. Returns 0; INLET_EINVAL for a malformed item (al is then
 * empty); INLET_ETOOMANY past the caps. */
int webhook_allowlist_parse(const char *s, struct webhook_allowlist *al);

/* Why sa must not be connected to ("private network", "loopback",
 * "link-local", "cloud metadata", …), or NULL for a public address. IPv4
 * inside IPv6 (mapped ::ffff:0:0/96, NAT64 64:ff9b::/96, 6to4 2002::/16) is
 * judged by the IPv4 address. Families other than AF_INET/AF_INET6:
 * "unsupported address family". Static strings. */
const char *webhook_address_refusal(const struct sockaddr *sa);

/* 1 if the guard lets a connection to sa through: the address is public or
 * in one of al's CIDRs (al may be NULL). Host name entries are not
 * consulted here; see webhook_host_allowed(). */
int webhook_address_allowed(const struct sockaddr *sa, const struct webhook_allowlist *al);

/* 1 if host (as in a URL, case-insensitive, trailing dot ignored) is one of
 * al's host name entries. NULL al or host: 0. */
int webhook_host_allowed(const struct webhook_allowlist *al, const char *host);

/* ---- one delivery attempt ---- */

struct webhook_request {
	const char *url;            /* http:// or https:// only */
	const char *event;          /* "submission.created"; printable ASCII */
	const char *delivery_id;    /* Inlet-Delivery; printable ASCII, same on every retry */
	const void *body;           /* from webhook_payload() */
	size_t body_len;
	const void *secret;         /* the webhook's secret; NULL: no Inlet-Signature */
	size_t secret_len;
	int64_t sign_time;          /* t of the signature; 0: now (time(NULL)) */
	const struct webhook_allowlist *allow; /* NULL: nothing exempt */
	long timeout_ms;            /* whole attempt, all hops; 0: WEBHOOK_TIMEOUT_MS */
	int max_redirects;          /* 0: WEBHOOK_MAX_REDIRECTS; <0: none followed */
};

struct webhook_result {
	long status;                /* last HTTP status seen, 0 if none */
	int64_t latency_ms;         /* the whole attempt, all hops */
	int redirects;              /* 307/308 hops followed */
	size_t body_len;            /* bytes kept of the last response body */
	char body[WEBHOOK_BODY_KEEP + 1];  /* first bytes of it, NUL-terminated */
	char error[320];            /* "" on success; else one line for the delivery log */
};

/* POSTs req->body to req->url with Content-Type: application/json (for all
 * three formats), Inlet-Signature, Inlet-Event, Inlet-Delivery and
 * User-Agent: Inlet-Webhook/1; follows 307/308 (the POST kept) up to
 * max_redirects times, each new URL through the same guard; stops at
 * 301/302/303 (they would turn the POST into a GET) and reports it. res is
 * filled in every case. Returns 0 for a 2xx answer; INLET_EFORBIDDEN when
 * the guard refused an address or a redirect left http(s) (res->error says
 * which: "address 10.0.0.1 is not allowed (private network)");
 * INLET_EINVAL for a bad URL or header value (permanent); INLET_EIO for
 * anything else: timeout, connection failure, non-2xx status, a
 * 301/302/303, too many redirects. Thread-safe; blocks for at most
 * timeout_ms (plus DNS, which curl's threaded resolver also bounds). */
int webhook_deliver(const struct webhook_request *req, struct webhook_result *res);

#endif
