/* What Inlet reads from Sentry envelope items, beyond the envelope itself
 * (events/envelope.h): the fields of an event that a list of events shows,
 * release health sessions (one session update, or aggregates), client
 * reports, and the rate-limit header the SDKs obey. Pure functions, no I/O
 * and no globals (tests/fuzz/fuzz_sentry_items.c).
 *
 * Sources: develop.sentry.dev, sdk/data-model/event-payloads,
 * sdk/telemetry/sessions, sdk/telemetry/client-reports and
 * sdk/expected-features/rate-limiting; shapes checked against what
 * @sentry/browser and @sentry/node 8/9 send.
 *
 * An event summary is taken from a json-c object the caller already
 * parsed (the event is parsed once, for grouping too). Session, sessions
 * and client_report payloads are parsed here from the item's bytes: one
 * JSON object, json-c strict mode, UTF-8 checked, nesting capped at
 * SENTRY_JSON_DEPTH, white space around it allowed, nothing else.
 *
 * Text goes into fixed-size fields, cut to the field on a UTF-8 boundary
 * (never inside a character) and at a "\u0000", so results own no memory
 * but the aggregates' strings, which live in the caller's arena. */
#ifndef INLET_EVENTS_SENTRY_ITEMS_H
#define INLET_EVENTS_SENTRY_ITEMS_H

#include <stddef.h>
#include <stdint.h>

struct arena;
struct json_object;

/* Nesting allowed in a session, sessions or client_report payload:
 * {"a":1} is 1, {"a":{"b":1}} is 2. Theirs is 3 at most. */
#define SENTRY_JSON_DEPTH 64
/* Payload bytes of a session, sessions or client_report item; more is
 * INLET_ETOOBIG. Sentry caps a client report at 4 KiB; 100 aggregates
 * with long attributes stay under 32 KiB. */
#define SENTRY_ITEM_MAX (64u << 10)
/* Buckets in one sessions item (Sentry's limit); more is INLET_ETOOMANY. */
#define SENTRY_AGGREGATES_MAX 100
/* A count (session errors, aggregate counts, a client report's quantity)
 * above this is taken as this: a client cannot inflate totals by 2^63. */
#define SENTRY_COUNT_MAX 1000000000u

/* Field sizes in bytes, without the NUL. Sentry's own limits where it has
 * one (release 200 and environment 64 characters, transaction 200). */
#define SENTRY_RELEASE_MAX 200
#define SENTRY_ENV_MAX 64
#define SENTRY_PLATFORM_MAX 32
#define SENTRY_TYPE_MAX 32
#define SENTRY_URI_MAX 1024
#define SENTRY_TRANSACTION_MAX 200
#define SENTRY_MESSAGE_MAX 1024
#define SENTRY_SID_MAX 64
#define SENTRY_DID_MAX 128

/* ---- events ---- */

struct sentry_summary {
	char event_id[33];     /* "event_id" as 32 lowercase hex digits (a UUID
				* with or without dashes, any case); "" when
				* absent or not a UUID */
	char level[8];         /* fatal, error, warning, info or debug; "error"
				* when absent or unknown; the aliases Sentry
				* takes are mapped: critical -> fatal, warn ->
				* warning, log -> info */
	char type[SENTRY_TYPE_MAX + 1];  /* "type" as sent ("transaction",
				* "feedback", "error", "default", ...); "" when
				* absent, as in SDKs' error events */
	int is_transaction;    /* 1 when type is "transaction": performance
				* data, not an error; the caller skips it */
	char release[SENTRY_RELEASE_MAX + 1];
	char environment[SENTRY_ENV_MAX + 1];
	char platform[SENTRY_PLATFORM_MAX + 1];       /* "javascript", "node", ... */
	char uri[SENTRY_URI_MAX + 1];                 /* request.url */
	char transaction[SENTRY_TRANSACTION_MAX + 1]; /* "transaction", the route
						       * or page ("GET /users/:id") */
	char message[SENTRY_MESSAGE_MAX + 1];  /* the first present and non-empty
				* of logentry.formatted, logentry.message,
				* message (a string), message.formatted,
				* message.message; "" when none (an exception's
				* text is grouping's business: fp_compute) */
	int64_t timestamp_ms;  /* "timestamp": seconds since the epoch as a
				* number (fraction allowed), or an RFC 3339
				* string (no offset means UTC); rounded to the
				* millisecond; 0 when absent or invalid (before
				* 1970, past 9999, not finite, malformed) */
};

/* Fills *out from event ev (a JSON object; json-c's API takes it
 * non-const, nothing is changed). Fields of the wrong JSON type count as
 * absent: ingest stores what it can. Returns 0, or INLET_EINVAL when ev
 * is NULL or not an object (then *out is zeroed with level "error"). */
int sentry_event_summary(struct json_object *ev, struct sentry_summary *out);

/* ---- release health ---- */

enum sentry_session_status {
	SENTRY_SESSION_OK,       /* in progress (or ended without saying so) */
	SENTRY_SESSION_EXITED,   /* ended normally, errors or not */
	SENTRY_SESSION_CRASHED,  /* ended by an unhandled error */
	SENTRY_SESSION_ABNORMAL, /* ended, fate unknown (killed, power lost) */
	SENTRY_SESSION_ERRORED,  /* Relay's name for an ok session with errors;
				  * SDKs do not send it, Relay takes it */
	SENTRY_SESSION_UNHANDLED, /* an unhandled error that did not end it:
				  * what the browser SDK (v10+) sends after an
				  * uncaught error; counts as errored */
};

/* One "session" item: a session's whole state at one update. */
struct sentry_session {
	char sid[SENTRY_SID_MAX + 1];  /* session id as sent; "" when absent
					* (allowed when the first update is
					* already "exited") */
	char did[SENTRY_DID_MAX + 1];  /* distinct id (user or device); a
					* number is written in decimal; "" when
					* absent; cut past the size */
	int init;                      /* 1: the session's first update */
	enum sentry_session_status status; /* "ok" when absent */
	uint32_t errors;               /* errors so far; at least 1 when
					* crashed (the crash is one, as Sentry
					* forces); capped at SENTRY_COUNT_MAX */
	int64_t started_ms;            /* when the session started */
	char release[SENTRY_RELEASE_MAX + 1];  /* attrs.release; never "" */
	char environment[SENTRY_ENV_MAX + 1];  /* attrs.environment; "" when
						* absent */
};

/* Parses a "session" payload into *out. Returns 0; INLET_ETOOBIG past
 * SENTRY_ITEM_MAX; INLET_EINVAL for anything else wrong: not one JSON
 * object (see the top), a sid that is not a string, is longer than
 * SENTRY_SID_MAX or holds a control character, a did that is neither string nor integer, init not a
 * boolean, a status not among the five above, errors not a non-negative
 * integer, started absent or not a valid timestamp (as timestamp_ms
 * above), attrs not an object, attrs.release absent, empty, longer than
 * SENTRY_RELEASE_MAX or with a control character, attrs.environment not a
 * string or longer than SENTRY_ENV_MAX or with a control character (Sentry
 * drops such sessions too). Other fields (seq, timestamp, duration,
 * abnormal_mechanism, ip_address, user_agent) are ignored. On failure
 * *out is zeroed. */
int sentry_session_parse(const char *payload, size_t len, struct sentry_session *out);

/* The status's name as Sentry spells it ("ok", "exited", ...). */
const char *sentry_session_status_name(enum sentry_session_status s);

/* One bucket of a "sessions" item: sessions that started in the same
 * minute (server-mode SDKs, e.g. @sentry/node per request), counted by
 * how they ended. */
struct sentry_aggregate {
	int64_t started_ms;       /* the bucket's start, as sent (minutes) */
	const char *did;          /* in the arena; NULL when absent */
	uint32_t exited;          /* ended normally without errors */
	uint32_t errored;         /* ended normally with errors */
	uint32_t abnormal;
	uint32_t crashed;         /* each capped at SENTRY_COUNT_MAX */
	const char *release;      /* attrs.release, in the arena (one copy
				   * shared by the item's buckets) */
	const char *environment;  /* attrs.environment; "" when absent */
};

/* Parses a "sessions" payload: {"aggregates":[...],"attrs":{...}}. On
 * success *out is an array of *n buckets in arena a, in input order (NULL
 * and 0 for an empty "aggregates"). Returns 0; INLET_ETOOBIG past
 * SENTRY_ITEM_MAX; INLET_ETOOMANY past SENTRY_AGGREGATES_MAX buckets;
 * INLET_EINVAL: not one JSON object, "aggregates" absent or not an array,
 * a bucket that is not an object, without a valid "started", with a count
 * that is not a non-negative integer or a did that is neither string nor
 * integer; attrs as for a session. On failure *out is NULL and *n 0 (what
 * was allocated stays in the arena). */
int sentry_sessions_parse(const char *payload, size_t len, struct arena *a,
			  struct sentry_aggregate **out, size_t *n);

/* ---- client reports ---- */

/* Parses a "client_report" payload and adds up what the SDK says it
 * dropped: the quantity of every entry of "discarded_events", whatever
 * its category or reason. Spans count too: an SDK that drops a
 * transaction with 2 spans reports 1 transaction and 3 spans, so the
 * total is 4. Relay's own lists of the same shape ("rate_limited_events",
 * "filtered_events", "filtered_sampling_events", sent only by a relay
 * forwarding to us) are added in: all of it is data that never arrived.
 * A missing list counts 0; "timestamp" is ignored. Each quantity is
 * capped at SENTRY_COUNT_MAX. Returns 0 with the sum in *discarded_total;
 * INLET_ETOOBIG past SENTRY_ITEM_MAX; INLET_EINVAL when the payload is not
 * one JSON object, a list is not an array, or an entry is not an object
 * with string "reason" and "category" and a non-negative integer
 * "quantity". On failure *discarded_total is 0. */
int sentry_client_report_parse(const char *payload, size_t len, uint64_t *discarded_total);

/* ---- rate limits ---- */

/* Bytes the header value below can take, with its NUL. */
#define SENTRY_RATE_LIMIT_SIZE 24

/* The value of an X-Sentry-Rate-Limits header saying "every category is
 * limited for retry_after_s seconds, for this key": "<seconds>::key"
 * (retry_after:categories:scope; empty categories mean all; no reason
 * code). Send it with 429 and Retry-After: <seconds>; SDKs then drop
 * everything until it expires, and a browser SDK can read it only if the
 * response has Access-Control-Expose-Headers: x-sentry-error,
 * x-sentry-rate-limits, retry-after. 0 seconds is written as 1: a limit
 * of 0 lets the SDK retry at once. When size is too small for the value,
 * out is "" (when size > 0). */
void sentry_rate_limit_header(unsigned retry_after_s, char *out, size_t size);

#endif
