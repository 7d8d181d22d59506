/* Browser reports (POST /v1/{key}/report) turned into a list of events.
 * A pure function over a buffer (tests/fuzz/fuzz_report.c).
 *
 * Bodies, by media type (the caller passes it without parameters;
 * compared without regard to case):
 *   application/reports+json  the Reporting API: a JSON array of reports
 *       {"type", "age", "url", "user_agent", "body": {...}}, from the
 *       Report-To header (v0) and from Reporting-Endpoints (v1), which have
 *       the same shape. A body that is not an array is refused (400).
 *   application/csp-report  CSP's report-uri: {"csp-report": {...}} with
 *       document-uri, violated-directive, effective-directive, blocked-uri,
 *       source-file, line-number, column-number, original-policy,
 *       disposition, status-code, referrer, script-sample.
 *   application/expect-ct-report+json  Chrome's Expect-CT reports
 *       ({"expect-ct-report": {...}}; TrackX takes this type too; Chrome
 *       dropped Expect-CT in version 107).
 *   application/json, text/plain  (Chrome has sent reports as text/plain)
 *       any of the shapes: an array (as reports+json), {"csp-report"},
 *       {"expect-ct-report"}, or one Reporting API report object.
 * Any other media type: 415. JSON is read as JSON.parse reads it
 * (trackx_json_parse); invalid JSON: 400.
 *
 * In an array, an entry is SKIPPED (counted in `skipped`, not an error)
 * when it is not an object, its "type" is not a string of 1..64 printable
 * ASCII characters without spaces, its "url" is not a string, or its "age"
 * is present but not a number from 0 to 172,800,000 (two days in ms; TrackX
 * meant the same but wrote 2,880,000, 48 minutes). Once max_reports
 * reports are kept, the entries left are not looked at but counted in
 * `dropped`. A body holding a
 * single report object that fails those checks is refused (400), and so is
 * a "csp-report" or "expect-ct-report" that is not an object. Fields inside
 * a report's body are never a reason to refuse: a field with the wrong type
 * counts as absent.
 *
 * Report types and what becomes of them. "title" is for people, at most
 * REPORT_TITLE_MAX bytes (cut on a UTF-8 boundary, control characters
 * turned into spaces); "fingerprint" groups reports of one problem, so it
 * leaves out whatever differs between browsers or visits; its first
 * component is always the type. In the fingerprint a URL is cut at its
 * query or fragment ("url-path"), or reduced to its origin: scheme://host
 * [:port], lowercased, no user info, default port dropped; a URL without
 * "//" becomes its scheme (data:... is "data", blob:... is "blob"); a word
 * that is no URL (inline, eval, wasm-eval, trusted-types-sink...) stays as
 * it is, lowercased. A line is the decimal number, or "" when absent.
 * Each component is at most REPORT_FP_MAX bytes.
 *
 *   csp-violation (Reporting API; and the legacy {"csp-report"}, same type)
 *       body: documentURL, blockedURL, effectiveDirective, originalPolicy,
 *       sourceFile, lineNumber, columnNumber, disposition, statusCode,
 *       sample, referrer (the hyphenated legacy names and blockedURI,
 *       documentURI, violatedDirective are read too).
 *       title "CSP violation: script-src-elem blocked https://evil.example"
 *       fingerprint [type, directive, blocked origin or word, url-path of
 *       sourceFile, line]. The directive is effectiveDirective, else
 *       violatedDirective, its first word lowercased (CSP2 browsers put the
 *       whole directive, "script-src 'self'", in violated-directive). Not
 *       the column (Firefox and Chromium count it differently), not the
 *       policy (Firefox sends it normalised), not the disposition, sample
 *       or referrer.
 *       uri: documentURL / document-uri, else the report's url.
 *   deprecation, intervention  body: id, message, sourceFile, lineNumber,
 *       columnNumber (deprecation also anticipatedRemoval).
 *       title "Deprecation: <message>" / "Intervention: <message>" (the id
 *       when there is no message); fingerprint [type, id, url-path of
 *       sourceFile, line].
 *   crash  body: reason ("oom", "unresponsive"...), crashId.
 *       title "Crash: <reason>"; fingerprint [type, reason, url-path of the
 *       report's url].
 *   coep  body: type ("corp", "navigation", "worker initialization"),
 *       blockedURL, destination, disposition.
 *       title "COEP violation: <type> blocked <blockedURL origin>";
 *       fingerprint [type, body type, destination, url-path of blockedURL].
 *   coop  body: type, effectivePolicy, property, sourceFile, lineNumber,
 *       columnNumber, disposition, nextResponseURL...
 *       title "COOP violation: <type>"; fingerprint [type, body type,
 *       effectivePolicy, property, url-path of sourceFile, line].
 *   document-policy-violation, permissions-policy-violation  body:
 *       featureId (TrackX reads policyId; both are read), message,
 *       sourceFile, lineNumber, columnNumber, disposition.
 *       title "Document policy violation: <message or featureId>" /
 *       "Permissions policy violation: ..."; fingerprint [type, featureId,
 *       url-path of sourceFile, line].
 *   network-error (NEL; the report's url is the request that failed)  body:
 *       type (dns.name_not_resolved, tcp.timed_out, http.error...), phase
 *       (dns, connection, application), method, status_code, url (older
 *       examples; preferred when present), referrer, server_ip, protocol,
 *       elapsed_time, sampling_fraction.
 *       title "Network error: <type> for <method> <url>"; fingerprint
 *       [type, body type, phase, method, status_code, target], the target
 *       being the origin of the URL in the dns and connection phases (the
 *       path played no part) and its url-path in the application phase.
 *   expect-ct ({"expect-ct-report"}: hostname, port, scheme, failure-mode,
 *       served-certificate-chain, validated-certificate-chain, scts...)
 *       title "Expect-CT violation: <hostname>:<port>"; uri
 *       https://hostname[:port]; fingerprint [type, hostname lowercased,
 *       port].
 *   anything else is kept as a generic report: title "Report: <type>",
 *       fingerprint [type, body.id / featureId / policyId or "", url-path of
 *       body.sourceFile or else of the report's url, line].
 */
#ifndef INLET_EVENTS_REPORT_H
#define INLET_EVENTS_REPORT_H

#include <stddef.h>
#include <stdint.h>

struct arena;
struct json_object;

#define REPORT_MAX_REPORTS 100
#define REPORT_MAX_DEPTH 32
#define REPORT_TITLE_MAX 255 /* bytes, without the NUL */
#define REPORT_FP_MAX 512    /* bytes of one fingerprint component */
#define REPORT_TYPE_MAX 64   /* bytes of a report type */
#define REPORT_MAX_AGE_MS 172800000 /* two days */

/* A limit is taken literally: max_reports 0 keeps none. */
struct report_limits {
	size_t max_reports; /* reports kept; the rest are counted in dropped */
	int max_depth;      /* JSON nesting, 1..256: [] is 1, [{}] is 2; 400 */
};

/* Every string is NUL-terminated and lives in the arena. */
struct report_event {
	const char *type;            /* "csp-violation", "deprecation"...;
				      * 1..REPORT_TYPE_MAX printable ASCII */
	const char *title;           /* valid UTF-8, no control characters,
				      * at most REPORT_TITLE_MAX bytes */
	const char *uri;             /* the page (document) URL, "" when none;
				      * as sent, so a "\u0000" in it makes
				      * strlen shorter than uri_len */
	size_t uri_len;
	const char **fingerprint;    /* n_fingerprint strings, see above;
				      * control characters turned into spaces */
	size_t n_fingerprint;
	struct json_object *body;    /* the report as sent (an array entry, or
				      * the whole {"csp-report": ...} object);
				      * owned by the list, released with the
				      * arena: json_object_get() it to keep it
				      * longer */
	int64_t age_ms;              /* the report's age; 0 when absent */
};

struct report_list {
	struct report_event *items;  /* arena; in input order */
	size_t n;
	size_t skipped;              /* array entries that were not reports */
	size_t dropped;              /* entries past max_reports */
};

/* Why a body was refused; static strings. */
struct report_error {
	int status;          /* 400 or 415 */
	const char *code;    /* "UNSUPPORTED_MEDIA_TYPE", "INVALID_JSON",
			      * "INVALID_BODY" */
	const char *message; /* for people */
};

/* REPORT_MAX_REPORTS, REPORT_MAX_DEPTH. */
void report_limits_default(struct report_limits *lim);

/* Parses body[0..len) sent as media type `media` (NULL is unsupported).
 * On success returns 0 and *out is a list in arena a (possibly with n 0);
 * the json-c bodies are released when the arena is destroyed (one cleanup
 * for the whole list), so there is no report_list_free. On failure *out is
 * NULL, *err says why, nothing is left to release, and the return is
 * INLET_EMEDIATYPE (415) or INLET_EINVAL (400). */
int report_parse(struct arena *a, const char *media, const char *body, size_t len,
		 const struct report_limits *lim, struct report_list **out,
		 struct report_error *err);

#endif
