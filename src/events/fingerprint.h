/* Grouping: the fingerprint that puts an error event into its issue, with
 * the title and culprit. Pure: no I/O and no storage; the events
 * are json-c objects already parsed and size-checked by ingest. The rules
 * are in docs/grouping.md; in short, the first that applies wins:
 *   1. the SDK's "fingerprint" array, "{{ default }}" expanded in place;
 *   2. the exception type and the in-app frames (function and file
 *      basename, no line numbers) among the most recent frames;
 *   3. the exception type and the message with its variable parts
 *      (numbers, ids, URLs, quoted strings, ...) replaced.
 * The fingerprint is the SHA-256 of the rule's components, in hex. */
#ifndef INLET_EVENTS_FINGERPRINT_H
#define INLET_EVENTS_FINGERPRINT_H

#include <stddef.h>

struct arena;
struct json_object;
struct stack_limits;

enum fp_format {
	FP_FORMAT_AUTO,   /* Sentry when the object has "exception", "logentry",
			     "fingerprint", "event_id" or "sdk"; else TrackX */
	FP_FORMAT_SENTRY, /* a Sentry event (store body or envelope item) */
	FP_FORMAT_TRACKX, /* {"name","message","type","uri","stack","meta"} */
};

enum fp_rule {
	FP_RULE_SDK,     /* 1: the SDK's fingerprint */
	FP_RULE_STACK,   /* 2: type and in-app frames */
	FP_RULE_MESSAGE, /* 3: type and normalized message */
};

/* Frames considered, counted from the most recent, engine built-ins left
 * out: Chromium keeps 10 frames (Error.stackTraceLimit), some of them
 * built-ins, and a frame it never shows must not split an issue from the
 * same error in Firefox, which shows all. */
#define FP_WINDOW_FRAMES 8
/* Bytes of a message that count (rule 3); a longer one is cut first. */
#define FP_MESSAGE_MAX 1024
/* Bytes of one component (a type, a function, a file, an SDK string); cut
 * past. The message is cut to FP_MESSAGE_MAX before it is normalized. */
#define FP_COMPONENT_MAX 1024
/* Strings of an SDK fingerprint that count; the rest are ignored. */
#define FP_SDK_MAX 32

#define FP_HEX_LEN 64      /* SHA-256 in lower-case hex */
#define FP_TITLE_SIZE 256  /* bytes with the NUL; a longer title is cut on
			      a UTF-8 boundary */
#define FP_CULPRIT_SIZE 256

struct fp_result {
	char hash[FP_HEX_LEN + 1];     /* the fingerprint; the key */
	char title[FP_TITLE_SIZE];     /* "TypeError: x is undefined": type and
					  the message's first line; the message
					  alone; or "<unlabeled event>" */
	char culprit[FP_CULPRIT_SIZE]; /* the most recent in-app frame,
					  "function (file)" with the file
					  normalized (stack_normalize_file), or
					  "file"; "" when no frame is in app */
	enum fp_rule rule;             /* which rule made the hash */
	unsigned frames;               /* frames in the hash (rule 2 only,
					  also when expanded from rule 1) */
};

/* Computes the fingerprint, title and culprit of event ev (a JSON object;
 * not modified, but json-c's API takes it non-const). Fields of the wrong
 * JSON type are treated as absent: ingest validates, grouping copes.
 * Scratch memory (the parsed TrackX stack, normalized strings) comes from
 * a and lives as long as it. lim caps parsing a TrackX "stack" string;
 * NULL means STACK_LIMITS_DEFAULT. Returns 0 with *out filled, or
 * INLET_EINVAL when a, ev or out is NULL or ev is not an object,
 * INLET_ECRYPTO when OpenSSL cannot hash (then *out is zeroed). */
int fp_compute(struct arena *a, struct json_object *ev, enum fp_format fmt,
	       const struct stack_limits *lim, struct fp_result *out);

/* The message as rule 3 sees it, in a fresh arena string, from
 * msg[0..len) (no cap here): quoted strings ('..', "..", `..`) become
 * <str>, URLs <url>, e-mail addresses <email>, UUIDs <uuid>, 0x-numbers
 * and runs of 8+ hex digits holding a digit <hex>, other numbers (with a
 * decimal part) <n>; runs of white space become one space, and the ends
 * are trimmed. Numbers glued to a word ("utf8", "item3") stay. */
char *fp_normalize_message(struct arena *a, const char *msg, size_t len);

#endif
