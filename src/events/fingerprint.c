#include "events/fingerprint.h"

#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/err.h"
#include "events/stack.h"

/* Bumped when the algorithm changes, so no new hash can equal an old one
 * by accident of a different encoding. */
#define FP_VERSION "inlet-fp-1\n"

/* One frame of either format, most recent first. */
struct frame {
	const char *function; /* as the event wrote it, or NULL */
	const char *file;     /* as the event wrote it, or NULL */
	int native;           /* an engine built-in: outside the window */
	int cause;            /* Firefox's async cause: here the stack that
				 ran the code has ended */
	int in_app;
};

/* The exception (or message) an event is about. */
struct subject {
	const char *type;    /* "TypeError", or "" */
	const char *value;   /* what rule 3 hashes, or NULL */
	const char *display; /* what the title shows, or NULL */
	struct frame *frames;
	size_t n;
};

/* ---- JSON access: a field of the wrong type is absent ---- */

static json_object *get(json_object *o, const char *key, json_type type)
{
	json_object *v;

	if (!o || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, type))
		return NULL;
	return v;
}

static const char *get_str(json_object *o, const char *key)
{
	json_object *v = get(o, key, json_type_string);

	return v ? json_object_get_string(v) : NULL;
}

/* ---- loading an event ---- */

/* V8's "(<anonymous>)" without a line, "[native code]", "native",
 * "(index N)": the kinds of file a built-in has. */
static int native_file(const char *file, int has_line)
{
	if (!file)
		return 0;
	if (strcmp(file, "[native code]") == 0 || strcmp(file, "native") == 0 ||
	    strncmp(file, "index ", 6) == 0)
		return 1;
	return strcmp(file, "<anonymous>") == 0 && !has_line;
}

static void load_sentry_frames(struct arena *a, json_object *st,
			       const struct stack_limits *lim, struct subject *s)
{
	json_object *frames = get(st, "frames", json_type_array);
	size_t len = frames ? json_object_array_length(frames) : 0, i;

	if (len == 0 || lim->max_frames == 0)
		return;
	s->frames = arena_alloc(a, (len < lim->max_frames ? len : lim->max_frames) *
				       sizeof(*s->frames));
	/* Sentry lists frames oldest first: read from the end. */
	for (i = len; i > 0 && s->n < lim->max_frames; i--) {
		json_object *f = json_object_array_get_idx(frames, i - 1), *in_app;
		struct frame *fr;
		const char *file;

		if (!json_object_is_type(f, json_type_object))
			continue;
		fr = &s->frames[s->n++];
		fr->cause = 0;
		file = get_str(f, "filename");
		if (!file)
			file = get_str(f, "abs_path");
		if (!file)
			file = get_str(f, "module");
		fr->function = get_str(f, "function");
		fr->file = file;
		fr->native = native_file(file, get(f, "lineno", json_type_int) != NULL);
		in_app = get(f, "in_app", json_type_boolean);
		if (in_app)
			fr->in_app = json_object_get_boolean(in_app);
		else
			fr->in_app = !fr->native && stack_file_in_app(file);
	}
}

/* The primary exception: the last of "exception.values" (Sentry lists a
 * chain oldest first), of a bare "exception" array, or a lone object. */
static json_object *sentry_primary(json_object *ev)
{
	json_object *ex = get(ev, "exception", json_type_object), *arr = NULL;
	size_t n;

	if (ex) {
		arr = get(ex, "values", json_type_array);
		if (!arr)
			return get_str(ex, "type") || get_str(ex, "value") ? ex : NULL;
	} else {
		json_object_object_get_ex(ev, "exception", &arr);
		if (!arr || !json_object_is_type(arr, json_type_array))
			return NULL;
	}
	n = json_object_array_length(arr);
	if (n == 0)
		return NULL;
	ex = json_object_array_get_idx(arr, n - 1);
	return json_object_is_type(ex, json_type_object) ? ex : NULL;
}

static void load_sentry(struct arena *a, json_object *ev,
			const struct stack_limits *lim, struct subject *s)
{
	json_object *ex = sentry_primary(ev), *le, *msg;

	if (ex) {
		s->type = get_str(ex, "type");
		s->value = s->display = get_str(ex, "value");
		load_sentry_frames(a, get(ex, "stacktrace", json_type_object), lim, s);
		return;
	}
	/* A message event: the template groups ("User %s failed"), the
	 * formatted text titles. */
	le = get(ev, "logentry", json_type_object);
	msg = get(ev, "message", json_type_object);
	s->value = get_str(le, "message");
	if (!s->value)
		s->value = get_str(le, "formatted");
	if (!s->value)
		s->value = get_str(ev, "message");
	if (!s->value)
		s->value = get_str(msg, "message");
	if (!s->value)
		s->value = get_str(msg, "formatted");
	s->display = get_str(le, "formatted");
	if (!s->display)
		s->display = get_str(ev, "message");
	if (!s->display)
		s->display = get_str(msg, "formatted");
	if (!s->display)
		s->display = s->value;
}

static void load_trackx(struct arena *a, json_object *ev,
			const struct stack_limits *lim, struct subject *s)
{
	json_object *stack = get(ev, "stack", json_type_string);
	struct stack st;
	size_t i;

	s->type = get_str(ev, "name");
	s->value = s->display = get_str(ev, "message");
	if (!stack || stack_parse(a, json_object_get_string(stack),
				  (size_t)json_object_get_string_len(stack), lim, &st) ||
	    st.n == 0)
		return;
	s->frames = arena_alloc(a, st.n * sizeof(*s->frames));
	for (i = 0; i < st.n; i++) {
		s->frames[i].function = st.frames[i].function;
		s->frames[i].file = st.frames[i].file;
		s->frames[i].native = (st.frames[i].flags & STACK_F_NATIVE) != 0;
		s->frames[i].cause = (st.frames[i].flags & STACK_F_CAUSE) != 0;
		s->frames[i].in_app = stack_frame_in_app(&st.frames[i]);
	}
	s->n = st.n;
}

static int looks_sentry(json_object *ev)
{
	static const char *const keys[] = { "exception", "logentry", "fingerprint",
					    "event_id", "sdk" };
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (json_object_object_get_ex(ev, keys[i], NULL))
			return 1;
	}
	return 0;
}

/* ---- components ---- */

/* The length of s[0..n) cut to at most max bytes, back to a UTF-8
 * character boundary. */
static size_t utf8_cut(const char *s, size_t n, size_t max)
{
	if (n <= max)
		return n;
	n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	return n;
}

/* Components are written "<length>:<bytes>", so no choice of strings can
 * make two different lists encode alike. s[0..n) is cut to max bytes. */
static int put_comp(struct buf *b, const char *s, size_t n, size_t max)
{
	int rc;

	n = utf8_cut(s, n, max);
	rc = buf_printf(b, "%zu:", n);
	if (!rc)
		rc = buf_append(b, s, n);
	return rc;
}

/* A component cut to FP_COMPONENT_MAX; NULL is "". */
static int put_str(struct buf *b, const char *s)
{
	return put_comp(b, s ? s : "", s ? strlen(s) : 0, FP_COMPONENT_MAX);
}

/* A file as grouping sees it: the last segment of the normalized file,
 * in lower case. The directory is left out because the same module is
 * /js/cart.js in a browser and /srv/shop/public/js/cart.js in Node. */
static char *file_key(struct arena *a, const char *file)
{
	char *norm = stack_normalize_file(a, file), *base = strrchr(norm, '/'), *p;

	base = base ? base + 1 : norm;
	for (p = base; *p; p++) {
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	}
	return base;
}

struct key {
	const char *fn;
	const char *file;
};

/* Rule 2's frames into keys[] (most recent first); returns how many. */
static size_t select_frames(struct arena *a, const struct subject *s,
			    struct key *keys)
{
	size_t i, seen = 0, n = 0;

	for (i = 0; i < s->n && seen < FP_WINDOW_FRAMES; i++) {
		const struct frame *f = &s->frames[i];
		struct key k;

		if (f->cause)
			break;
		if (f->native)
			continue;
		seen++;
		if (!f->in_app)
			continue;
		k.fn = stack_normalize_function(a, f->function);
		k.file = file_key(a, f->file);
		/* Recursion: one frame however deep it went. */
		if (n && strcmp(keys[n - 1].fn, k.fn) == 0 &&
		    strcmp(keys[n - 1].file, k.file) == 0)
			continue;
		keys[n++] = k;
	}
	return n;
}

/* Rules 2 and 3 (the default), into b. */
static int put_default(struct arena *a, const struct subject *s, struct buf *b,
		       enum fp_rule *rule, unsigned *frames)
{
	struct key keys[FP_WINDOW_FRAMES];
	size_t n = select_frames(a, s, keys), i;
	const char *msg;
	int rc;

	if (n) {
		*rule = FP_RULE_STACK;
		*frames = (unsigned)n;
		rc = put_str(b, "stack");
		if (!rc)
			rc = put_str(b, s->type);
		/* Most recent last. */
		for (i = n; i > 0 && !rc; i--) {
			rc = put_str(b, keys[i - 1].fn);
			if (!rc)
				rc = put_str(b, keys[i - 1].file);
		}
		return rc;
	}
	*rule = FP_RULE_MESSAGE;
	*frames = 0;
	/* The raw message is cut, not the normalized one, which may be
	 * three times as long. */
	msg = s->value ? s->value : "";
	msg = fp_normalize_message(a, msg, utf8_cut(msg, strlen(msg), FP_MESSAGE_MAX));
	rc = put_str(b, "message");
	if (!rc)
		rc = put_str(b, s->type);
	if (!rc)
		rc = put_comp(b, msg, strlen(msg), 3 * FP_MESSAGE_MAX);
	return rc;
}

/* "{{ default }}", "{{default}}", any blanks inside the braces. */
static int is_default_marker(const char *s)
{
	if (strncmp(s, "{{", 2) != 0)
		return 0;
	s += 2;
	s += strspn(s, " \t");
	if (strncmp(s, "default", 7) != 0)
		return 0;
	s += 7;
	s += strspn(s, " \t");
	return strcmp(s, "}}") == 0;
}

/* Rule 1 into b: the event's "fingerprint" array, each "{{ default }}"
 * replaced by the default components def. *literal says whether any
 * other string was there; when not, the caller uses def alone. */
static int put_sdk(json_object *ev, const struct buf *def, struct buf *b,
		   int *literal, int *expanded)
{
	json_object *fp = get(ev, "fingerprint", json_type_array);
	size_t n = fp ? json_object_array_length(fp) : 0, i;
	char num[64];
	int rc = 0;

	*literal = *expanded = 0;
	for (i = 0; i < n && i < FP_SDK_MAX && !rc; i++) {
		json_object *v = json_object_array_get_idx(fp, i);
		const char *s = NULL;

		switch (json_object_get_type(v)) {
		case json_type_string:
			s = json_object_get_string(v);
			break;
		case json_type_int:
			snprintf(num, sizeof(num), "%lld",
				 (long long)json_object_get_int64(v));
			s = num;
			break;
		case json_type_double:
			snprintf(num, sizeof(num), "%.17g", json_object_get_double(v));
			s = num;
			break;
		case json_type_boolean:
			s = json_object_get_boolean(v) ? "true" : "false";
			break;
		default:
			continue;
		}
		if (is_default_marker(s)) {
			*expanded = 1;
			rc = buf_append(b, def->data, def->len);
		} else {
			*literal = 1;
			rc = put_str(b, s);
		}
	}
	return rc;
}

/* ---- hashing ---- */

static pthread_once_t md_once = PTHREAD_ONCE_INIT;
static EVP_MD *md_sha256; /* fetched once, kept for the process's life */

static void md_fetch(void)
{
	md_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static int sha256_hex(const void *p, size_t n, char hex[FP_HEX_LEN + 1])
{
	static const char digits[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;

	pthread_once(&md_once, md_fetch);
	if (!md_sha256 || !EVP_Digest(p, n, md, &mdlen, md_sha256, NULL) ||
	    mdlen * 2 != FP_HEX_LEN)
		return INLET_ECRYPTO;
	for (i = 0; i < mdlen; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
	}
	hex[FP_HEX_LEN] = '\0';
	return 0;
}

/* ---- title and culprit ---- */

/* Copies s[0..n) into out (size bytes), control bytes as spaces, cut on a
 * UTF-8 boundary. */
static void put_text(char *out, size_t size, size_t at, const char *s, size_t n)
{
	size_t i;

	if (at >= size)
		return;
	n = utf8_cut(s, n, size - 1 - at);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		out[at + i] = c < 0x20 || c == 0x7F ? ' ' : (char)c;
	}
	out[at + n] = '\0';
}

static size_t first_line(const char *s)
{
	return strcspn(s, "\r\n");
}

static void make_title(const struct subject *s, char *out, size_t size)
{
	const char *type = s->type && *s->type ? s->type : NULL;
	const char *msg = s->display && *s->display ? s->display : NULL;
	size_t at;

	out[0] = '\0';
	if (!type && !msg) {
		put_text(out, size, 0, "<unlabeled event>", 17);
		return;
	}
	if (type) {
		put_text(out, size, 0, type, strlen(type));
		if (!msg)
			return;
		at = strlen(out);
		put_text(out, size, at, ": ", 2);
	}
	at = strlen(out);
	put_text(out, size, at, msg, first_line(msg));
}

static void make_culprit(struct arena *a, const struct subject *s, char *out,
			 size_t size)
{
	size_t i;

	out[0] = '\0';
	for (i = 0; i < s->n; i++) {
		const struct frame *f = &s->frames[i];
		const char *fn, *file;
		size_t at;

		if (f->cause)
			break;
		if (f->native || !f->in_app)
			continue;
		fn = *stack_normalize_function(a, f->function) ? f->function : NULL;
		file = f->file ? stack_normalize_file(a, f->file) : NULL;
		if (fn) {
			put_text(out, size, 0, fn, strlen(fn));
			if (!file)
				return;
			at = strlen(out);
			put_text(out, size, at, " (", 2);
			at = strlen(out);
			put_text(out, size, at, file, strlen(file));
			at = strlen(out);
			put_text(out, size, at, ")", 1);
		} else if (file) {
			put_text(out, size, 0, file, strlen(file));
		}
		return;
	}
}

/* ---- the entry point ---- */

int fp_compute(struct arena *a, struct json_object *ev, enum fp_format fmt,
	       const struct stack_limits *lim, struct fp_result *out)
{
	static const struct stack_limits defaults = STACK_LIMITS_DEFAULT;
	struct subject s = { "", NULL, NULL, NULL, 0 };
	struct buf def, sdk, all;
	int literal = 0, expanded = 0, rc;

	buf_init(&def, 0);
	buf_init(&sdk, 0);
	buf_init(&all, 0);
	if (out)
		memset(out, 0, sizeof(*out));
	if (!a || !ev || !out || !json_object_is_type(ev, json_type_object)) {
		rc = INLET_EINVAL;
		goto out;
	}
	if (!lim)
		lim = &defaults;
	if (fmt == FP_FORMAT_AUTO)
		fmt = looks_sentry(ev) ? FP_FORMAT_SENTRY : FP_FORMAT_TRACKX;
	if (fmt == FP_FORMAT_SENTRY)
		load_sentry(a, ev, lim, &s);
	else
		load_trackx(a, ev, lim, &s);
	if (!s.type)
		s.type = "";

	rc = put_default(a, &s, &def, &out->rule, &out->frames);
	if (!rc && fmt == FP_FORMAT_SENTRY)
		rc = put_sdk(ev, &def, &sdk, &literal, &expanded);
	if (!rc)
		rc = buf_puts(&all, FP_VERSION);
	/* No fingerprint, or only "{{ default }}": the default alone, so
	 * ["{{ default }}"] groups with events that send no fingerprint. */
	if (!rc)
		rc = literal ? buf_append(&all, sdk.data, sdk.len)
			     : buf_append(&all, def.data, def.len);
	if (rc)
		goto out;
	if (literal) {
		out->rule = FP_RULE_SDK;
		if (!expanded)
			out->frames = 0;
	}
	rc = sha256_hex(all.data, all.len, out->hash);
	if (rc) {
		memset(out, 0, sizeof(*out));
		goto out;
	}
	make_title(&s, out->title, sizeof(out->title));
	make_culprit(a, &s, out->culprit, sizeof(out->culprit));
out:
	buf_free(&def);
	buf_free(&sdk);
	buf_free(&all);
	return rc;
}

/* ---- normalizing a message ---- */

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Letters, digits, '_' and any byte of a multi-byte UTF-8 character. */
static int is_word(char c)
{
	return is_alpha(c) || is_digit(c) || c == '_' || (unsigned char)c >= 0x80;
}

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
	       c == '\v';
}

/* c is one of set's characters; NUL never is. */
static int in_set(char c, const char *set)
{
	return c != '\0' && strchr(set, c) != NULL;
}

/* "scheme://..." up to white space or a quote, trailing punctuation
 * left out ("see https://x.example/a." ends before the '.'). */
static size_t url_len(const char *s, size_t n)
{
	size_t i = 0;

	if (!is_alpha(s[0]))
		return 0;
	while (i < n && (is_alpha(s[i]) || is_digit(s[i]) || s[i] == '+' ||
			 s[i] == '.' || s[i] == '-'))
		i++;
	if (n - i < 4 || memcmp(s + i, "://", 3) != 0 || is_space(s[i + 3]))
		return 0;
	i += 3;
	while (i < n && s[i] && !is_space(s[i]) && !in_set(s[i], "\"'`<>"))
		i++;
	while (in_set(s[i - 1], ".,;:!?)]}"))
		i--;
	return i;
}

/* local@domain.tld; the local part is at most 64 bytes (RFC 5321), which
 * also keeps the scan linear. */
static size_t email_len(const char *s, size_t n)
{
	size_t i = 0, at, dots = 0;

	while (i < n && i <= 64 &&
	       (is_alpha(s[i]) || is_digit(s[i]) || in_set(s[i], "._%+-")))
		i++;
	if (i == 0 || i > 64 || i >= n || s[i] != '@')
		return 0;
	at = ++i;
	while (i < n && i - at < 255 &&
	       (is_alpha(s[i]) || is_digit(s[i]) || s[i] == '-' || s[i] == '.')) {
		dots += s[i] == '.';
		i++;
	}
	while (i > at && (s[i - 1] == '.' || s[i - 1] == '-')) {
		dots -= s[i - 1] == '.';
		i--;
	}
	return dots && i > at ? i : 0;
}

static size_t uuid_len(const char *s, size_t n)
{
	static const char shape[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
	size_t i, k = sizeof(shape) - 1;

	if (n < k || (n > k && is_word(s[k])))
		return 0;
	for (i = 0; i < k; i++) {
		if (shape[i] == '-' ? s[i] != '-' : !is_hex(s[i]))
			return 0;
	}
	return k;
}

/* 0x1f, or a run of 8+ hex digits holding both a digit and a letter
 * (an object id, a hash); not glued to a following word. */
static size_t hex_len(const char *s, size_t n)
{
	size_t i = 0;
	int digit = 0, letter = 0;

	if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') && is_hex(s[2])) {
		for (i = 2; i < n && is_hex(s[i]); i++)
			;
		return i;
	}
	for (; i < n && is_hex(s[i]); i++) {
		digit |= is_digit(s[i]);
		letter |= !is_digit(s[i]);
	}
	if (i < 8 || !digit || !letter || (i < n && is_word(s[i])))
		return 0;
	return i;
}

static size_t number_len(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n && is_digit(s[i]))
		i++;
	if (i && i + 1 < n && s[i] == '.' && is_digit(s[i + 1])) {
		for (i++; i < n && is_digit(s[i]); i++)
			;
	}
	return i;
}

char *fp_normalize_message(struct arena *a, const char *msg, size_t len)
{
	/* The widest growth is a 1-byte number becoming "<n>". */
	char *out = arena_alloc(a, 3 * len + 1);
	size_t i = 0, o = 0;
	int space = 0;

	while (i < len) {
		const char *s = msg + i, *ph = NULL, *q;
		size_t rest = len - i, k = 0;
		char c = *s;

		if (is_space(c)) {
			space = 1;
			i++;
			continue;
		}
		if (space && o)
			out[o++] = ' ';
		space = 0;
		if (i == 0 || !is_word(msg[i - 1])) {
			if ((c == '\'' || c == '"' || c == '`') &&
			    (q = memchr(s + 1, c, rest - 1)) != NULL) {
				ph = "<str>";
				k = (size_t)(q - s) + 1;
			} else if ((k = url_len(s, rest))) {
				ph = "<url>";
			} else if ((k = email_len(s, rest))) {
				ph = "<email>";
			} else if ((k = uuid_len(s, rest))) {
				ph = "<uuid>";
			} else if ((k = hex_len(s, rest))) {
				ph = "<hex>";
			} else if ((k = number_len(s, rest))) {
				ph = "<n>";
			}
		}
		if (ph) {
			size_t pn = strlen(ph);

			assert(pn <= 3 * k);
			memcpy(out + o, ph, pn);
			o += pn;
			i += k;
		} else {
			out[o++] = c;
			i++;
		}
	}
	out[o] = '\0';
	return out;
}
