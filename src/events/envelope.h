/* Sentry envelopes (develop.sentry.dev/sdk/envelopes/), parsed from a
 * buffer with explicit limits. A pure function: no I/O, no globals, so it
 * is fuzzed (tests/fuzz/fuzz_envelope.c).
 *
 *   envelope = header-line { item } ; item = header-line "\n" payload
 *
 * The first line is the envelope header, a JSON object (event_id, dsn,
 * sent_at, sdk, trace...). Each item is a JSON header line (type, length,
 * content_type, filename, attachment_type...) and a payload: exactly
 * `length` bytes when the header gives one, then "\n", "\r\n" or the end of
 * input; without `length`, the rest of the line (a '\r' before the '\n'
 * stays in the payload, as the spec says). Blank lines between items are
 * skipped (SDKs leave them); a header line may end in "\r\n" (JSON allows
 * the '\r' as trailing white space). An item header must be followed by a
 * newline; the envelope header may end the input (an empty envelope).
 * Header lines are parsed with json-c in strict mode, UTF-8 checked, with a
 * nesting limit; only headers are parsed, never payloads. */
#ifndef INLET_EVENTS_ENVELOPE_H
#define INLET_EVENTS_ENVELOPE_H

#include <stddef.h>

struct arena;
struct json_object;

/* Defaults: Sentry's own limits (1 MiB per event item, 100 MiB per
 * attachment and per decompressed envelope). */
#define ENV_MAX_ITEMS 1000
#define ENV_MAX_ITEM_SIZE (1u << 20)
#define ENV_MAX_ATTACHMENT_SIZE (100u << 20)
#define ENV_MAX_TOTAL (100u << 20)
#define ENV_MAX_HEADERS (256u << 10)
#define ENV_MAX_DEPTH 16

/* A limit is taken literally: 0 allows nothing. */
struct env_limits {
	size_t max_items;           /* items per envelope; INLET_ETOOMANY */
	size_t max_item_size;       /* payload bytes of an event, session,
				     * client_report or any other item;
				     * INLET_ETOOBIG */
	size_t max_attachment_size; /* payload bytes of one binary item
				     * (attachment, replay_recording,
				     * replay_video, profile, profile_chunk);
				     * INLET_ETOOBIG */
	size_t max_total;           /* bytes of the whole envelope; INLET_ETOOBIG */
	size_t max_headers;         /* bytes of all header lines together (they
				     * become json-c objects, many times their
				     * size; payloads are never parsed here);
				     * INLET_ETOOBIG */
	int max_depth;              /* JSON nesting in a header line (at most
				     * 256): {"a":1} is 1, {"a":{"b":1}} is 2;
				     * an empty {} or [] at the bottom is not
				     * counted. Deeper is INLET_EINVAL */
};

struct env_item {
	const char *type;            /* the header's "type"; NUL-terminated,
				      * lives as long as header */
	size_t type_len;             /* strlen is less if "\u0000" was sent */
	struct json_object *header;  /* the item header object; borrowed from
				      * the envelope, json_object_get() it to
				      * keep it past the arena */
	const char *payload;         /* points INTO the input buffer (no copy);
				      * valid while that buffer is */
	size_t len;                  /* payload bytes */
};

struct envelope {
	struct json_object *header;  /* the envelope header object; borrowed,
				      * as item headers are */
	char event_id[33];           /* header's event_id as 32 lowercase hex
				      * digits (dashes dropped); "" when absent */
	const char *dsn;             /* header's "dsn", or NULL; lives as long
				      * as header; unchecked: give dsn, dsn_len
				      * to sentry_auth_parse_dsn */
	size_t dsn_len;              /* strlen is less if "\u0000" was sent */
	struct env_item *items;      /* arena; in input order */
	size_t n;
};

/* The defaults above. */
void env_limits_default(struct env_limits *lim);

/* Parses buf[0..len). On success *out is an envelope allocated in arena a;
 * the JSON headers are released when the arena is destroyed (one cleanup
 * for the whole envelope). Payloads point into buf, so buf must outlive
 * every use of them; nothing is copied.
 * INLET_ETOOBIG: len, the header lines or an item's payload (declared or
 * actual) over its limit. INLET_ETOOMANY: more than max_items items.
 * INLET_EINVAL: anything malformed (no header, a line that is not one JSON
 * object, an item header without a string "type", a "length" that is not a
 * non-negative integer, a payload cut short, a payload with `length` not
 * followed by a newline or the end, an event_id that is not a UUID, a dsn
 * that is not a string, nesting past max_depth). On failure *out is NULL
 * and the headers parsed so far are released at once. */
int env_parse(struct arena *a, const void *buf, size_t len,
	      const struct env_limits *lim, struct envelope **out);

/* 1 when the item's type is exactly `type`. */
int env_item_is(const struct env_item *it, const char *type);

/* The first item of `type`, or NULL. */
const struct env_item *env_find(const struct envelope *e, const char *type);

#endif
