#include "events/stack.h"

#include <assert.h>
#include <string.h>

#include "core/arena.h"
#include "core/err.h"

/* A line number or column has at most this many digits; more is not a
 * number (it stays part of the file), so the value always fits. */
#define NUM_DIGITS_MAX 9

static int is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int is_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_upper(char c)
{
	return c >= 'A' && c <= 'Z';
}

static int is_lower(char c)
{
	return c >= 'a' && c <= 'z';
}

/* A text span; s is not NUL-terminated. */
struct span {
	const char *s;
	size_t n;
};

static struct span trim(struct span v)
{
	while (v.n && is_blank(v.s[0])) {
		v.s++;
		v.n--;
	}
	while (v.n && is_blank(v.s[v.n - 1]))
		v.n--;
	return v;
}

static int starts_with(struct span v, const char *lit)
{
	size_t n = strlen(lit);

	return v.n >= n && memcmp(v.s, lit, n) == 0;
}

static int span_is(struct span v, const char *lit)
{
	return v.n == strlen(lit) && memcmp(v.s, lit, v.n) == 0;
}

static struct span drop(struct span v, size_t k)
{
	assert(k <= v.n);
	v.s += k;
	v.n -= k;
	return v;
}

/* The next line of text[*pos..len), without its terminator (LF, CRLF or
 * CR). Returns 0 at the end. */
static int next_line(const char *text, size_t len, size_t *pos,
		     struct span *line)
{
	size_t i = *pos;

	if (i >= len)
		return 0;
	line->s = text + i;
	while (i < len && text[i] != '\n' && text[i] != '\r')
		i++;
	line->n = (size_t)(text + i - line->s);
	if (i < len && text[i] == '\r')
		i++;
	if (i < len && text[i] == '\n')
		i++;
	*pos = i;
	return 1;
}

/* "at" followed by a blank, after leading blanks: a V8 frame line. */
static int is_v8_line(struct span line)
{
	line = trim(line);
	return line.n > 3 && memcmp(line.s, "at", 2) == 0 && is_blank(line.s[2]);
}

static int parse_num(struct span v, unsigned *out)
{
	unsigned n = 0;
	size_t i;

	if (v.n == 0 || v.n > NUM_DIGITS_MAX)
		return 0;
	for (i = 0; i < v.n; i++) {
		if (!is_digit(v.s[i]))
			return 0;
		n = n * 10 + (unsigned)(v.s[i] - '0');
	}
	*out = n;
	return 1;
}

/* Position of the last ':' in v, or v.n. */
static size_t last_colon(struct span v)
{
	size_t i = v.n;

	while (i > 0 && v.s[i - 1] != ':')
		i--;
	return i ? i - 1 : v.n;
}

/* A URL's scheme and authority with no path after them
 * ("http://localhost:8080"): its trailing number is a port. */
static int is_bare_origin(struct span v)
{
	size_t i;

	for (i = 0; i + 2 < v.n; i++) {
		if (v.s[i] == ':' && v.s[i + 1] == '/' && v.s[i + 2] == '/')
			return memchr(v.s + i + 3, '/', v.n - i - 3) == NULL;
	}
	return 0;
}

/* Splits "file:line:col" or "file:line" from the right. */
static void split_location(struct span loc, struct span *file, unsigned *line,
			   unsigned *col)
{
	size_t c1 = last_colon(loc), c2;
	unsigned a, b;
	struct span head;

	*file = loc;
	*line = *col = 0;
	if (c1 == loc.n || !parse_num(drop(loc, c1 + 1), &b))
		return;
	head.s = loc.s;
	head.n = c1;
	c2 = last_colon(head);
	if (c2 != head.n && parse_num(drop(head, c2 + 1), &a)) {
		file->n = c2;
		*line = a;
		*col = b;
		return;
	}
	if (is_bare_origin(head) || head.n == 0)
		return;
	file->n = c1;
	*line = b;
}

/* A copy of v in a, or NULL when v is empty. Without an arena (a frame
 * past max_frames, parsed only to be counted) v itself, never stored. */
static const char *dup_span(struct arena *a, struct span v)
{
	if (!v.n)
		return NULL;
	return a ? arena_strndup(a, v.s, v.n) : v.s;
}

/* "(index 3)" in "at async Promise.all (index 3)". */
static int is_index_location(struct span v)
{
	unsigned ignored;

	return starts_with(v, "index ") && parse_num(drop(v, 6), &ignored);
}

static void set_location(struct arena *a, struct span loc,
			 struct stack_frame *f)
{
	struct span file;

	loc = trim(loc);
	if (span_is(loc, "native") || span_is(loc, "<anonymous>") ||
	    span_is(loc, "[native code]") || is_index_location(loc)) {
		f->flags |= STACK_F_NATIVE;
		f->file = dup_span(a, loc);
		return;
	}
	split_location(loc, &file, &f->line, &f->column);
	f->file = dup_span(a, file);
}

/* Index of the '(' matching the ')' that ends v, or v.n. */
static size_t matching_open(struct span v)
{
	size_t i = v.n, depth = 0;

	while (i > 0) {
		char c = v.s[--i];

		if (c == ')') {
			depth++;
		} else if (c == '(' && --depth == 0) {
			return i;
		}
	}
	return v.n;
}

/* The innermost "(...)" of an eval origin, "eval at outer (eval at inner
 * (file:1:2)), <anonymous>:1:1": where the eval'd code came from. */
static struct span eval_origin(struct span loc)
{
	const char *close = memchr(loc.s, ')', loc.n);
	const char *open = NULL, *p;

	if (!close)
		return loc;
	for (p = loc.s; p < close; p++) {
		if (*p == '(')
			open = p;
	}
	if (!open)
		return loc;
	loc.s = open + 1;
	loc.n = (size_t)(close - open - 1);
	return loc;
}

static int parse_v8(struct arena *a, struct span line, struct stack_frame *f)
{
	struct span rest = trim(line), fn = { NULL, 0 }, loc;
	size_t open;

	rest = trim(drop(rest, 3)); /* "at " */
	if (rest.n == 0)
		return 0;
	loc = rest;
	if (rest.s[rest.n - 1] == ')') {
		open = matching_open(rest);
		if (open < rest.n) {
			fn.s = rest.s;
			fn.n = open;
			fn = trim(fn);
			loc.s = rest.s + open + 1;
			loc.n = rest.n - open - 2;
		}
	}
	for (;;) {
		if (starts_with(fn, "async ")) {
			f->flags |= STACK_F_ASYNC;
			fn = trim(drop(fn, 6));
		} else if (starts_with(fn, "new ")) {
			f->flags |= STACK_F_NEW;
			fn = trim(drop(fn, 4));
		} else {
			break;
		}
	}
	if (!fn.s && starts_with(loc, "async ")) {
		f->flags |= STACK_F_ASYNC;
		loc = trim(drop(loc, 6));
	}
	if (starts_with(loc, "eval at ")) {
		f->flags |= STACK_F_EVAL;
		loc = eval_origin(loc);
	}
	if (starts_with(loc, "address at "))
		loc = drop(loc, 11);
	f->function = dup_span(a, fn);
	set_location(a, loc, f);
	return f->function || f->file;
}

/* Firefox's location of eval'd code: "file line 12 > eval" (also "> Function",
 * "> injectedScript", chained "> eval line 3 > eval"): the file and the line
 * of the outermost call. Returns 0 when loc is not one. */
static int gecko_eval(struct span loc, struct span *file, unsigned *line)
{
	size_t i;

	for (i = 0; i + 6 <= loc.n; i++) {
		struct span tail = drop(loc, i), num;

		if (!starts_with(tail, " line "))
			continue;
		num = drop(tail, 6);
		num.n = 0;
		while (num.n < tail.n - 6 && is_digit(num.s[num.n]))
			num.n++;
		if (num.n == 0 || !starts_with(drop(tail, 6 + num.n), " > "))
			continue;
		file->s = loc.s;
		file->n = i;
		if (!parse_num(num, line))
			*line = 0;
		return 1;
	}
	return 0;
}

/* Firefox and Safari names hold no blank but for accessors ("get total")
 * and Safari's top levels, and
 * a location is a URL, a path or "[native code]": a stray line with an
 * '@' ("Error: no user a@b.example") is not a frame. */
static int gecko_plausible(struct span fn, struct span loc)
{
	if (memchr(fn.s, ' ', fn.n) && !span_is(fn, "global code") &&
	    !span_is(fn, "eval code") && !span_is(fn, "module code") &&
	    !starts_with(fn, "get ") && !starts_with(fn, "set "))
		return 0;
	return loc.n == 0 || span_is(loc, "[native code]") || memchr(loc.s, ':', loc.n) ||
	       memchr(loc.s, '/', loc.n) || memchr(loc.s, '\\', loc.n);
}

static int parse_gecko(struct arena *a, struct span line, struct stack_frame *f,
		       int *cause)
{
	struct span v = trim(line), fn, loc, file;
	const char *at = v.n ? memchr(v.s, '@', v.n) : NULL;
	size_t i;

	if (!at) {
		if (!span_is(v, "[native code]"))
			return 0;
		f->flags |= STACK_F_NATIVE | (*cause ? STACK_F_CAUSE : 0);
		f->file = dup_span(a, v);
		return 1;
	}
	fn.s = v.s;
	fn.n = (size_t)(at - v.s);
	loc = trim(drop(v, fn.n + 1));
	/* "async*fn": an await; "promise callback*fn", "setTimeout
	 * handler*fn": from here on the stack that scheduled the callback. */
	for (i = fn.n; i > 0; i--) {
		if (fn.s[i - 1] == '*') {
			struct span mark = { fn.s, i - 1 };

			if (span_is(mark, "async"))
				f->flags |= STACK_F_ASYNC;
			else
				f->flags |= STACK_F_CAUSE;
			fn = drop(fn, i);
			break;
		}
	}
	fn = trim(fn);
	if (!gecko_plausible(fn, loc))
		return 0;
	if (*cause)
		f->flags |= STACK_F_CAUSE;
	*cause = (f->flags & STACK_F_CAUSE) != 0;
	f->function = dup_span(a, fn);
	if (gecko_eval(loc, &file, &f->line)) {
		f->flags |= STACK_F_EVAL;
		f->file = dup_span(a, file);
	} else {
		set_location(a, loc, f);
	}
	return f->function || f->file;
}

static size_t count_lines(const char *text, size_t len, size_t cap)
{
	size_t i, n = 1;

	for (i = 0; i < len && n < cap; i++) {
		if (text[i] == '\n' || text[i] == '\r')
			n++;
	}
	return n < cap ? n : cap;
}

int stack_parse(struct arena *a, const char *text, size_t len,
		const struct stack_limits *lim, struct stack *out)
{
	struct span line;
	size_t pos = 0, slots;
	int rc = 0, cause = 0;

	if (out)
		memset(out, 0, sizeof(*out));
	if (!a || !out || !lim || (!text && len)) {
		rc = INLET_EINVAL;
		goto out;
	}
	/* One pass to pick the format: a V8 trace may open with a message
	 * holding an '@' ("Error: bad address a@b.c"), which must not be
	 * read as a Gecko frame. */
	while (next_line(text, len, &pos, &line)) {
		if (line.n <= lim->max_line_len && is_v8_line(line)) {
			out->format = STACK_FORMAT_V8;
			break;
		}
	}
	if (out->format == STACK_FORMAT_NONE)
		out->format = STACK_FORMAT_GECKO;
	slots = count_lines(text, len, lim->max_frames);
	if (slots)
		out->frames = arena_alloc(a, slots * sizeof(*out->frames));
	pos = 0;
	while (next_line(text, len, &pos, &line)) {
		struct stack_frame f = { NULL, NULL, 0, 0, 0 };
		struct arena *fa;
		int ok;

		if (trim(line).n == 0)
			continue;
		if (line.n > lim->max_line_len) {
			out->skipped++;
			continue;
		}
		/* Past max_frames a frame is only counted: nothing is copied. */
		fa = out->n < slots ? a : NULL;
		if (out->format == STACK_FORMAT_V8)
			ok = is_v8_line(line) && parse_v8(fa, line, &f);
		else
			ok = parse_gecko(fa, line, &f, &cause);
		if (!ok) {
			out->skipped++;
		} else if (out->n < slots) {
			out->frames[out->n++] = f;
		} else {
			out->dropped++;
		}
	}
	if (out->n == 0)
		out->format = STACK_FORMAT_NONE;
out:
	return rc;
}

/* ---- normalizing a file ---- */

static int is_scheme_char(char c)
{
	return is_alpha(c) || is_digit(c) || c == '+' || c == '.' || c == '-';
}

/* Length of "scheme://" at the start of s[0..n), or 0. */
static size_t scheme_len(const char *s, size_t n)
{
	size_t i = 0;

	if (n == 0 || !is_alpha(s[0]))
		return 0;
	while (i < n && is_scheme_char(s[i]))
		i++;
	if (n - i >= 3 && s[i] == ':' && s[i + 1] == '/' && s[i + 2] == '/')
		return i + 3;
	return 0;
}

static int is_token_sep(char c)
{
	return c == '.' || c == '-' || c == '_' || c == '~';
}

static int is_b64url(char c)
{
	return is_alpha(c) || is_digit(c) || c == '-' || c == '_';
}

/* 8-4-4-4-12 hex digits at s (s[0..n) is the rest of the segment). */
static int uuid_at(const char *s, size_t n)
{
	static const char shape[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
	size_t i;

	if (n < sizeof(shape) - 1)
		return 0;
	for (i = 0; i < sizeof(shape) - 1; i++) {
		if (shape[i] == '-' ? s[i] != '-' : !is_hex(s[i]))
			return 0;
	}
	return n == sizeof(shape) - 1 || is_token_sep(s[sizeof(shape) - 1]);
}

/* Vite and Rollup's "[name]-[hash]": 8 base64url characters ending the
 * name (before a '.' or the end of the segment). s points after the '-'.
 * Words are told from hashes by their mix: a digit and a letter, or an
 * upper case letter after the first character next to a lower case one
 * ("DiwrgTda" is a hash, "Carousel" is not). */
static int vite_hash_at(const char *s, size_t n)
{
	int digit = 0, alpha = 0, lower = 0, inner_upper = 0;
	size_t i;

	if (n < 8 || (n > 8 && s[8] != '.'))
		return 0;
	for (i = 0; i < 8; i++) {
		if (!is_b64url(s[i]))
			return 0;
		digit |= is_digit(s[i]);
		alpha |= is_alpha(s[i]);
		lower |= is_lower(s[i]);
		inner_upper |= i > 0 && is_upper(s[i]);
	}
	return (digit && alpha) || (lower && inner_upper);
}

/* Appends segment s[0..n) to out at *o with content hashes replaced. The
 * output never grows: every placeholder replaces at least as many bytes. */
static void put_segment(char *out, size_t *o, const char *s, size_t n)
{
	static const char ph[] = STACK_HASH_PLACEHOLDER;
	size_t i = 0;

	while (i < n) {
		size_t t, hex;

		if (is_token_sep(s[i])) {
			out[(*o)++] = s[i];
			if (s[i] == '-' && vite_hash_at(s + i + 1, n - i - 1)) {
				memcpy(out + *o, ph, sizeof(ph) - 1);
				*o += sizeof(ph) - 1;
				i += 9;
			} else {
				i++;
			}
			continue;
		}
		if (uuid_at(s + i, n - i)) {
			memcpy(out + *o, ph, sizeof(ph) - 1);
			*o += sizeof(ph) - 1;
			i += 36;
			continue;
		}
		for (t = i, hex = 0; t < n && !is_token_sep(s[t]); t++)
			hex += is_hex(s[t]);
		if (hex == t - i && hex >= 8) {
			memcpy(out + *o, ph, sizeof(ph) - 1);
			*o += sizeof(ph) - 1;
		} else {
			memcpy(out + *o, s + i, t - i);
			*o += t - i;
		}
		i = t;
	}
}

char *stack_normalize_file(struct arena *a, const char *file)
{
	const char *s = file ? file : "";
	size_t n, skip, i, o = 0;
	char *out;

	if (strncmp(s, "blob:", 5) == 0)
		s += 5;
	n = strcspn(s, "?#");
	skip = scheme_len(s, n);
	if (skip) {
		/* The authority runs to the first '/' (or '\'). */
		while (skip < n && s[skip] != '/' && s[skip] != '\\')
			skip++;
		s += skip;
		n -= skip;
		if (n == 0)
			return arena_strdup(a, "/");
	}
	out = arena_alloc(a, n + 1);
	for (i = 0; i <= n; i++) {
		size_t start = i;

		while (i < n && s[i] != '/' && s[i] != '\\')
			i++;
		put_segment(out, &o, s + start, i - start);
		if (i < n)
			out[o++] = '/';
	}
	assert(o <= n);
	out[o] = '\0';
	return out;
}

/* ---- normalizing a function ---- */

static const char *const anonymous_names[] = {
	"<anonymous>", "anonymous", "?", "Anonymous function", "global code",
	"eval code", "module code", "<unknown>", "eval", "<global>",
};

char *stack_normalize_function(struct arena *a, const char *fn)
{
	struct span v = { fn ? fn : "", fn ? strlen(fn) : 0 };
	size_t i;

	v = trim(v);
	for (;;) {
		if (starts_with(v, "async "))
			v = trim(drop(v, 6));
		else if (starts_with(v, "new "))
			v = trim(drop(v, 4));
		else
			break;
	}
	/* "fn [as alias]": V8 adds the property name a method was called by. */
	if (v.n && v.s[v.n - 1] == ']') {
		for (i = v.n; i >= 5; i--) {
			if (memcmp(v.s + i - 5, " [as ", 5) == 0) {
				v.n = i - 5;
				break;
			}
		}
	}
	for (i = v.n; i > 0; i--) {
		if (v.s[i - 1] == '*') {
			v = drop(v, i);
			break;
		}
	}
	/* Firefox's nesting "outer/inner", "outer/<" and "a</b": the part
	 * after the last '/', its '<' markers dropped. */
	for (i = v.n; i > 0; i--) {
		if (v.s[i - 1] == '/') {
			v = drop(v, i);
			break;
		}
	}
	while (v.n && v.s[v.n - 1] == '<')
		v.n--;
	v = trim(v);
	for (i = 0; i < sizeof(anonymous_names) / sizeof(anonymous_names[0]); i++) {
		if (span_is(v, anonymous_names[i]))
			return arena_strdup(a, "");
	}
	/* The receiver: "Cart.prototype.total" is "total". A name ending in
	 * '.' has no last part to keep and stays as it is. */
	for (i = v.n; i > 0; i--) {
		if (v.s[i - 1] == '.') {
			if (i < v.n)
				v = drop(v, i);
			break;
		}
	}
	for (i = 0; i < sizeof(anonymous_names) / sizeof(anonymous_names[0]); i++) {
		if (span_is(v, anonymous_names[i]))
			return arena_strdup(a, "");
	}
	return arena_strndup(a, v.s, v.n);
}

/* ---- in app ---- */

static const char *const foreign_schemes[] = {
	"chrome-extension://", "moz-extension://", "safari-extension://",
	"safari-web-extension://", "chrome://", "resource://",
	"webkit-masked-url://",
};

/* "node_modules" as a whole path segment. */
static int under_node_modules(const char *file)
{
	const char *p = file;

	while ((p = strstr(p, "node_modules")) != NULL) {
		int start = p == file || p[-1] == '/' || p[-1] == '\\';
		char end = p[12];

		if (start && (end == '/' || end == '\\'))
			return 1;
		p += 12;
	}
	return 0;
}

int stack_file_in_app(const char *file)
{
	size_t i;

	if (!file || !*file || file[0] == '<' || file[0] == '[')
		return 0;
	if (strcmp(file, "native") == 0 || strncmp(file, "index ", 6) == 0)
		return 0;
	if (strncmp(file, "node:", 5) == 0 || strncmp(file, "internal/", 9) == 0)
		return 0;
	for (i = 0; i < sizeof(foreign_schemes) / sizeof(foreign_schemes[0]); i++) {
		if (strncmp(file, foreign_schemes[i], strlen(foreign_schemes[i])) == 0)
			return 0;
	}
	if (under_node_modules(file))
		return 0;
	/* No directory and no scheme: an old Node core module ("events.js"). */
	if (!strpbrk(file, "/\\:"))
		return 0;
	return 1;
}

int stack_frame_in_app(const struct stack_frame *f)
{
	return !(f->flags & STACK_F_NATIVE) && stack_file_in_app(f->file);
}
