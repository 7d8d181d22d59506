/* TrackX client events (github.com/maxmilton/trackx), validated the way
 * TrackX's own server does (packages/trackx-api/src/routes/v1/[key]/event.ts).
 * Pure functions over a buffer (tests/fuzz/fuzz_trackx.c).
 *
 * What the clients send (packages/trackx/src/{default,compat,lite,modern,
 * node}.ts, types.ts):
 *   - An event is POST {endpoint}/event with "Content-Type: application/json"
 *     in every client: XMLHttpRequest with setRequestHeader (default,
 *     compat), fetch with a header and keepalive (modern, lite), https.request
 *     (node). Never text/plain and never sendBeacon, so a browser sends a
 *     CORS preflight (OPTIONS) first; TrackX answers it in nginx (204, allow
 *     GET, POST, OPTIONS and Content-Type). The body is
 *     JSON.stringify({name, message, stack, type, uri, meta}); name, stack
 *     and uri may be undefined and are then left out. meta is {_c, _v, ...extra}:
 *     _c is the client ('d' default, 'l' lite, 'm' modern, 'e' extended,
 *     'c' compat, 'n' node, '_' custom), _v its version; keys starting with
 *     '_' are reserved. The node client sends "User-Agent: Node.js/<major>.
 *     <minor> (<os> <arch>)" and "Origin: node" unless told otherwise.
 *   - Answers: 200 "ok". On 429 the client stops sending for Retry-After
 *     seconds (30 min without one). Any other non-200 (a 400 or 422 too) is
 *     retried up to 4 times after 1, 4, 16 and 64 s (the lite client never
 *     retries), so a refused event comes back four more times.
 *   - A ping registers a session and has no body: the default client loads
 *     an Image (GET {endpoint}/ping, crossOrigin "anonymous", so with an
 *     Origin header and an image Accept); the modern client does fetch POST
 *     mode "no-cors" keepalive (no content type); the node client a GET;
 *     the compat and lite clients have no ping. TrackX's dash also suggests
 *     navigator.sendBeacon (POST, no body). TrackX answers GET with Accept
 *     containing "image" with a 1x1 GIF, anything else with 200 "ok".
 *   - EventType (types.ts): 1 UnhandledError, 2 UnhandledRejection,
 *     3 ConsoleError, 4 Programmatic (sendEvent), 5 CSPReport,
 *     6 DeprecationReport, 7 InterventionReport, 8 CrashReport, 9 CTReport
 *     (Expect-CT), 10 NELReport, 11 COEPReport, 12 COOPReport,
 *     13 DocumentPolicyReport, 70 CustomLogger, 96 UnknownReport,
 *     97 UnknownEvent (the server's default when type is absent),
 *     98 Unknown, 99 Test. Clients send 1 to 4; 5 to 13 and 96 are what the
 *     server files /report reports under.
 *
 * What the server checks, and so this module (the route does the rest:
 * Origin required (403), no query string (400 "Unexpected param"), a
 * printable ASCII User-Agent of at most 500 characters (400), and
 * uri || Referer || Origin as the event's URI, at most max_uri long):
 *   - the body is one JSON object whose keys are among name, message, type,
 *     uri, stack, meta; any other key: 400 "Unexpected property";
 *   - name: a string of at most 512 characters; message: at most 10,000;
 *     type: a number 0..99; uri: a string of at most MAX_URI_CHARS (1,000);
 *     stack: a string of at most MAX_STACK_CHARS (131,072); meta: an object
 *     (not an array, not null) whose JSON.stringify is at most
 *     MAX_EVENT_BYTES (1,048,576) characters long; otherwise 422
 *     "Invalid <key>". Every key is optional; null is not a string, number or
 *     object, so "name": null is 422 as in TrackX.
 *   MAX_URI_CHARS, MAX_STACK_CHARS and MAX_EVENT_BYTES are settings of
 *   TrackX's server (trackx.config.js.template; no longer in utils.ts); the
 *   values above are its defaults. The 128,000 meta cap of older TrackX was
 *   replaced by MAX_EVENT_BYTES in June 2022 (commit 9f9e718); set max_meta
 *   to have it back.
 *
 * Where Inlet differs on purpose:
 *   - type must be a whole number (4, 4.0 and 4e0 are all 4, as JavaScript
 *     cannot tell them apart; 4.5 is 422): TrackX lets 4.5 through into an
 *     INTEGER column. The result holds it as an int.
 *   - JSON is read exactly as JSON.parse would (trackx_json_parse below),
 *     which json-c alone is more lenient than.
 *
 * Lengths are counted as JavaScript's String.length counts them, in UTF-16
 * code units: a character outside the BMP (an emoji) counts 2, anything
 * else 1, whatever its UTF-8 size. The length of meta is that of the text
 * JSON.stringify would make of it, computed on the parsed tree (no spaces,
 * escapes as JavaScript writes them, numbers in JavaScript's shortest form:
 * 1e2 is "100", 1e400 is "null"; checked against Node's JSON.stringify).
 * Two corners cannot match exactly: json-c turns an unpaired surrogate
 * escape ("\ud800") into U+FFFD, counted as 1 where JSON.stringify writes
 * 6, and saturates integers written out past the 64-bit range (a 30-digit
 * integer counts as 2^64 would, "18446744073709552000", not as
 * "1.2345678901234568e+29"). */
#ifndef INLET_EVENTS_TRACKX_H
#define INLET_EVENTS_TRACKX_H

#include <stddef.h>

struct json_object;

enum trackx_event_type {
	TRACKX_UNHANDLED_ERROR = 1,
	TRACKX_UNHANDLED_REJECTION = 2,
	TRACKX_CONSOLE_ERROR = 3,
	TRACKX_PROGRAMMATIC = 4,
	TRACKX_CSP_REPORT = 5,
	TRACKX_DEPRECATION_REPORT = 6,
	TRACKX_INTERVENTION_REPORT = 7,
	TRACKX_CRASH_REPORT = 8,
	TRACKX_CT_REPORT = 9,
	TRACKX_NEL_REPORT = 10,
	TRACKX_COEP_REPORT = 11,
	TRACKX_COOP_REPORT = 12,
	TRACKX_DOCUMENT_POLICY_REPORT = 13,
	TRACKX_CUSTOM_LOGGER = 70,
	TRACKX_UNKNOWN_REPORT = 96,
	TRACKX_UNKNOWN_EVENT = 97, /* what TrackX files an event without type under */
	TRACKX_UNKNOWN = 98,
	TRACKX_TEST = 99,
};

/* TrackX's defaults. */
#define TRACKX_MAX_BODY 1048576u   /* body bytes (json({limit: MAX_EVENT_BYTES})) */
#define TRACKX_MAX_NAME 512u
#define TRACKX_MAX_MESSAGE 10000u
#define TRACKX_MAX_URI 1000u       /* MAX_URI_CHARS */
#define TRACKX_MAX_STACK 131072u   /* MAX_STACK_CHARS */
#define TRACKX_MAX_META 1048576u   /* MAX_EVENT_BYTES */
#define TRACKX_MAX_DEPTH 32
#define TRACKX_DEPTH_CEIL 256      /* max_depth above this is taken as this */

/* A limit is taken literally: 0 allows only empty strings. Lengths are in
 * UTF-16 code units, as above. */
struct trackx_limits {
	size_t max_body;    /* bytes of the whole body; 413 */
	size_t max_name;    /* name; 422 */
	size_t max_message; /* message; 422 */
	size_t max_uri;     /* uri; 422 */
	size_t max_stack;   /* stack; 422 */
	size_t max_meta;    /* JSON.stringify(meta).length; 422 */
	int max_depth;      /* JSON nesting, 1..TRACKX_DEPTH_CEIL: {} is 1,
			     * {"meta":{}} is 2; deeper is 400 */
};

/* Why a body was refused; every pointer is to static storage. */
struct trackx_error {
	int status;          /* 400, 413 or 422 */
	const char *code;    /* "INVALID_JSON", "INVALID_BODY",
			      * "UNEXPECTED_PROPERTY" (400); "TOO_BIG" (413);
			      * "INVALID_VALUE" (422) */
	const char *field;   /* with INVALID_VALUE the key ("name", "message",
			      * "type", "uri", "stack", "meta"); else NULL */
	const char *message; /* for people, TrackX's wording where it has one
			      * ("Invalid name", "Unexpected property") */
};

/* The defaults above. */
void trackx_limits_default(struct trackx_limits *lim);

/* Validates the body of POST /v1/{key}/event, body[0..len). lim NULL means
 * the defaults. On success returns 0 and *out is the event, a json-c object
 * the caller owns (json_object_put): exactly the keys that were sent, their
 * values as sent, but "type" always a json-c int. On failure *out is NULL
 * and *err says why: INLET_ETOOBIG (413) when len is over max_body,
 * INLET_EINVAL otherwise (400 or 422, see struct trackx_error). */
int trackx_event_parse(const char *body, size_t len, const struct trackx_limits *lim,
		       struct json_object **out, struct trackx_error *err);

/* JSON as JavaScript's JSON.parse reads it, which is what TrackX's routes
 * (event and report) get: one value, white space around it, nothing else.
 * Besides json-c's strict mode this refuses what json-c lets through:
 * UTF-8 that is overlong, encodes a surrogate or goes past U+10FFFF; a NUL
 * byte anywhere; control characters (below 0x20) inside strings; NaN,
 * Infinity, "1.", "-.5" and "-01"; and nesting deeper than max_depth
 * (1..256, counted as in struct trackx_limits). "\u0000" escapes are valid
 * JSON and kept in values; in an object key they are refused, unlike
 * JSON.parse, as json-c would cut the key there ("name\u0000x" would
 * become "name"). On success returns 0 and *out is the value (caller puts it); on
 * failure INLET_EINVAL, *out NULL and *why a static message. */
/* The *why trackx_json_parse gives for the text "null": valid JSON that
 * holds no value (compare the pointer). */
extern const char TRACKX_WHY_NULL[];
int trackx_json_parse(const char *body, size_t len, int max_depth,
		      struct json_object **out, const char **why);

#endif
