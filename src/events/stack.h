/* JavaScript stack traces (the text of error.stack) parsed into frames, and
 * the normalizations that grouping needs: a frame's file without origin,
 * query and content hashes; a frame's function without engine decorations;
 * whether a frame is the application's own code. Pure functions over
 * buffers, no I/O, no globals, so they are fuzzed (tests/fuzz/fuzz_stack.c).
 *
 * Two formats are read, decided once per trace:
 *   V8 (Chromium, Node, Edge), when any line starts with "at " after
 *   leading blanks; other lines (the "TypeError: ..." header, multi-line
 *   messages, "... 3 more") are skipped:
 *       at fn (file:line:col)          at file:line:col
 *       at async fn (file:line:col)    at new Foo (file:line:col)
 *       at fn [as alias] (file:line:col)
 *       at eval (eval at outer (file:line:col), <anonymous>:1:1)
 *       at Array.map (<anonymous>)     at Array.map (native)
 *       at async Promise.all (index 0)
 *   Gecko and JavaScriptCore (Firefox, Safari) otherwise, one frame per
 *   line holding an '@' (function before the first '@', location after):
 *       fn@file:line:col    @file:line:col    fn/<@file:line:col
 *       async*fn@file:line:col    setTimeout handler*fn@file:line:col
 *       fn@file line 12 > eval:1:5    forEach@[native code]
 *       global code@file:line:col
 * Lines that fit neither are skipped and counted. */
#ifndef INLET_EVENTS_STACK_H
#define INLET_EVENTS_STACK_H

#include <stddef.h>

struct arena;

enum stack_format {
	STACK_FORMAT_NONE,  /* no frame found */
	STACK_FORMAT_V8,    /* "    at fn (file:1:2)" */
	STACK_FORMAT_GECKO, /* "fn@file:1:2" (Firefox, Safari) */
};

enum {
	STACK_F_ASYNC = 1 << 0,  /* "at async fn", "async*fn@" */
	STACK_F_NEW = 1 << 1,    /* "at new Foo" (a constructor call) */
	STACK_F_EVAL = 1 << 2,   /* code run by eval or new Function; the
				    location is where eval was called */
	STACK_F_NATIVE = 1 << 3, /* engine built-in: "(native)",
				    "(<anonymous>)", "[native code]", "(index N)" */
	STACK_F_CAUSE = 1 << 4,  /* Firefox's async cause: this frame and all
				    after it are the stack that scheduled the
				    callback ("setTimeout handler*fn@",
				    "promise callback*fn@"), which V8 never
				    shows; "async*" (an await) is not one */
};

struct stack_frame {
	const char *function; /* as written, "async "/"new " taken off
				 (see flags); NULL when the trace names none */
	const char *file;     /* as written (a URL, a path, "node:fs",
				 "<anonymous>", "[native code]"); NULL when none */
	unsigned line;        /* 1-based; 0 when not given */
	unsigned column;      /* 1-based; 0 when not given */
	unsigned flags;       /* STACK_F_* */
};

struct stack_limits {
	size_t max_frames;   /* frames kept, from the top (most recent); the
				rest are counted in stack.dropped */
	size_t max_line_len; /* a longer line is skipped (counted), never cut:
				a cut frame would name the wrong file */
};

/* 256 frames (Chromium stops at 10 unless told otherwise, Firefox at 128)
 * and 4 KiB lines (a minified bundle's URL with a long query fits). */
#define STACK_LIMITS_DEFAULT { 256, 4096 }

struct stack {
	struct stack_frame *frames; /* arena; n of them; frames[0] is where
				       the error was thrown (most recent
				       first, as the trace lists them) */
	size_t n;
	size_t dropped;           /* frames past max_frames */
	size_t skipped;           /* lines that were not frames, or too long */
	enum stack_format format;
};

/* Parses text[0..len) (not necessarily NUL-terminated; NUL bytes end
 * nothing and are kept as any other byte, so strings may look shorter
 * than their line). Frames and their strings are allocated in a; *out is
 * fully written even on error. Lines end at LF, CRLF or CR. Returns 0
 * (a text with no frame is not an error: out->n is 0), or INLET_EINVAL
 * when a, out or lim is NULL, or text is NULL with len > 0. */
int stack_parse(struct arena *a, const char *text, size_t len,
		const struct stack_limits *lim, struct stack *out);

/* The placeholder that stands for a content hash in a normalized file. */
#define STACK_HASH_PLACEHOLDER "<hash>"

/* A frame's file made stable across deployments, in a fresh arena string:
 *   1. backslashes become '/', a leading "blob:" is dropped;
 *   2. the query ("?v=123") and fragment ("#x") are dropped;
 *   3. the origin is dropped: "scheme://host:port" up to the path, so
 *      "https://a.example/js/app.js" and "http://b.example:8080/js/app.js"
 *      are both "/js/app.js" (file:///srv/x.js is "/srv/x.js");
 *   4. in each path segment, a token between the separators . - _ ~ that
 *      looks like a content hash becomes STACK_HASH_PLACEHOLDER: 8 or more
 *      hex digits ("main.3f9a1c2b.js", "index-0123456789abcdef.js",
 *      "/static/3f9a1c2b/app.js"), a UUID, or the 8-character base64url
 *      hash Vite and Rollup put after the last '-' of a name
 *      ("index-B2pR3yKa.js": at least one digit and one letter, or lower
 *      and upper case with an upper case letter after the first).
 * A string with nothing to strip comes back equal; NULL gives "". */
char *stack_normalize_file(struct arena *a, const char *file);

/* A function's name as it would be written by any engine, in a fresh
 * arena string, "" when the function is anonymous:
 *   - "async " and "new " prefixes and a " [as alias]" suffix go;
 *   - Firefox's async markers go ("promise callback*fn" is "fn");
 *   - Firefox's nesting keeps the innermost name ("outer/inner" is
 *     "inner"), and an anonymous inner function ("outer/<", "a/</<") is
 *     anonymous, as V8 writes it;
 *   - the receiver goes ("Cart.total", "Cart.prototype.total",
 *     "Object.total" are all "total"), as Firefox and Safari name methods;
 *   - engine words for no name are anonymous: "<anonymous>", "anonymous",
 *     "?", "Anonymous function", "global code", "eval code",
 *     "module code", "<unknown>".
 * NULL gives "". */
char *stack_normalize_function(struct arena *a, const char *fn);

/* Whether a file is the application's own code. It is not when it is
 * NULL or empty; a name in angle or square brackets ("<anonymous>",
 * "[native code]"), "native" or "index N" (built-ins); Node's internals ("node:fs",
 * "node:internal/...", and the older "internal/..." and bare "events.js"
 * without a directory); under a node_modules directory (either slash);
 * a browser extension or browser-internal URL (chrome-extension://,
 * moz-extension://, safari-extension://, safari-web-extension://,
 * chrome://, resource://, webkit-masked-url://). Works on the raw file,
 * before stack_normalize_file. */
int stack_file_in_app(const char *file);

/* stack_file_in_app(f->file), and not STACK_F_NATIVE. */
int stack_frame_in_app(const struct stack_frame *f);

#endif
