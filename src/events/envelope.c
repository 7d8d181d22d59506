#include "events/envelope.h"

#include <limits.h>
#include <stdint.h>
#include <string.h>

#include <json-c/json.h>

#include "core/arena.h"
#include "core/err.h"

/* json-c keeps a stack per tokener sized by the depth; past this a limit
 * buys nothing but memory. */
#define DEPTH_CEIL 256

void env_limits_default(struct env_limits *lim)
{
	lim->max_items = ENV_MAX_ITEMS;
	lim->max_item_size = ENV_MAX_ITEM_SIZE;
	lim->max_attachment_size = ENV_MAX_ATTACHMENT_SIZE;
	lim->max_total = ENV_MAX_TOTAL;
	lim->max_headers = ENV_MAX_HEADERS;
	lim->max_depth = ENV_MAX_DEPTH;
}

static int span_is(const char *s, size_t n, const char *lit)
{
	return n == strlen(lit) && memcmp(s, lit, n) == 0;
}

int env_item_is(const struct env_item *it, const char *type)
{
	return span_is(it->type, it->type_len, type);
}

const struct env_item *env_find(const struct envelope *e, const char *type)
{
	size_t i;

	for (i = 0; i < e->n; i++)
		if (env_item_is(&e->items[i], type))
			return &e->items[i];
	return NULL;
}

/* Items that carry binary blobs get the attachment cap; everything else
 * (event, transaction, session, sessions, client_report, check_in, types
 * not known yet) is held to the event cap. Sentry caps these separately
 * (replays 10 MiB compressed, profiles 50 MiB); one cap is enough here. */
static size_t item_cap(const struct env_limits *lim, const char *t, size_t n)
{
	static const char *const binary[] = {
		"attachment", "replay_recording", "replay_video", "profile",
		"profile_chunk",
	};
	size_t i;

	for (i = 0; i < sizeof(binary) / sizeof(binary[0]); i++)
		if (span_is(t, n, binary[i]))
			return lim->max_attachment_size;
	return lim->max_item_size;
}

/* Drops the references to the JSON headers. Runs when the arena is
 * destroyed, or at once when parsing fails (and then again as a no-op). */
static void env_release(void *arg)
{
	struct envelope *e = arg;
	size_t i;

	for (i = 0; i < e->n; i++)
		json_object_put(e->items[i].header);
	json_object_put(e->header);
	e->header = NULL;
	e->dsn = NULL;
	e->dsn_len = 0;
	e->n = 0;
}

struct parser {
	struct json_tokener *tok;
	const struct env_limits *lim;
	size_t header_bytes; /* header line bytes seen so far */
	size_t cap;          /* slots in e->items */
};

static const char *find_nl(const char *p, const char *end)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));

	return nl ? nl : end;
}

static int is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* Skips lines holding nothing but white space, and white space that ends
 * the input. Returns the start of the next non-blank line, or end. */
static const char *skip_blank(const char *p, const char *end)
{
	for (;;) {
		const char *q = p;

		while (q < end && is_ws(*q))
			q++;
		if (q == end)
			return end;
		if (*q != '\n')
			return p;
		p = q + 1;
	}
}

/* One header line s[0..n) (without its '\n'): exactly one JSON object,
 * white space around it allowed. */
static int parse_header(struct parser *ps, const char *s, size_t n,
			struct json_object **out)
{
	struct json_object *o;
	size_t i;

	*out = NULL;
	if (n > ps->lim->max_headers - ps->header_bytes || n > INT_MAX)
		return INLET_ETOOBIG;
	ps->header_bytes += n;
	json_tokener_reset(ps->tok);
	o = json_tokener_parse_ex(ps->tok, s, (int)n);
	if (!o || json_tokener_get_error(ps->tok) != json_tokener_success)
		goto bad;
	/* The tokener stops after the value (and at a NUL byte); what is left
	 * of the line must be white space. */
	for (i = json_tokener_get_parse_end(ps->tok); i < n; i++)
		if (!is_ws(s[i]))
			goto bad;
	if (!json_object_is_type(o, json_type_object))
		goto bad;
	*out = o;
	return 0;
bad:
	json_object_put(o);
	return INLET_EINVAL;
}

/* The member `name` of o when it is present and not null. */
static struct json_object *member(struct json_object *o, const char *name)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, name, &v) ||
	    json_object_is_type(v, json_type_null))
		return NULL;
	return v;
}

static int hex_digit(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	       (c >= 'A' && c <= 'F');
}

/* event_id: a UUID, 32 hex digits or 36 with dashes at 8, 13, 18, 23;
 * kept as 32 lowercase hex digits. */
static int take_event_id(struct json_object *hdr, char out[33])
{
	struct json_object *v = member(hdr, "event_id");
	const char *s;
	size_t i, n, k = 0;

	out[0] = '\0';
	if (!v)
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return INLET_EINVAL;
	s = json_object_get_string(v);
	n = (size_t)json_object_get_string_len(v);
	if (n != 32 && n != 36)
		return INLET_EINVAL;
	for (i = 0; i < n; i++) {
		if (n == 36 && (i == 8 || i == 13 || i == 18 || i == 23)) {
			if (s[i] != '-')
				return INLET_EINVAL;
			continue;
		}
		if (!hex_digit(s[i]))
			return INLET_EINVAL;
		out[k++] = (char)(s[i] >= 'A' && s[i] <= 'F' ? s[i] - 'A' + 'a' : s[i]);
	}
	out[k] = '\0';
	return 0;
}

static int take_envelope_header(struct envelope *e)
{
	struct json_object *dsn;
	int rc;

	if ((rc = take_event_id(e->header, e->event_id)))
		return rc;
	dsn = member(e->header, "dsn");
	if (dsn && !json_object_is_type(dsn, json_type_string))
		return INLET_EINVAL;
	e->dsn = dsn ? json_object_get_string(dsn) : NULL;
	e->dsn_len = dsn ? (size_t)json_object_get_string_len(dsn) : 0;
	return 0;
}

/* The item's type, and its declared length (*has_len 0 when absent). */
static int take_item_header(struct env_item *it, int *has_len, uint64_t *len)
{
	struct json_object *type = member(it->header, "type");
	struct json_object *length = member(it->header, "length");
	int64_t l;

	if (!type || !json_object_is_type(type, json_type_string))
		return INLET_EINVAL;
	it->type = json_object_get_string(type);
	it->type_len = (size_t)json_object_get_string_len(type);
	if (it->type_len == 0)
		return INLET_EINVAL;
	*has_len = length != NULL;
	*len = 0;
	if (!length)
		return 0;
	/* json-c keeps integers past INT64_MAX as unsigned and saturates
	 * them here, which any cap then refuses. 1e3 and 10.0 are doubles. */
	if (!json_object_is_type(length, json_type_int))
		return INLET_EINVAL;
	l = json_object_get_int64(length);
	if (l < 0)
		return INLET_EINVAL;
	*len = (uint64_t)l;
	return 0;
}

static struct env_item *push_item(struct arena *a, struct parser *ps,
				  struct envelope *e)
{
	struct env_item *it;

	if (e->n == ps->cap) {
		size_t cap = ps->cap ? ps->cap * 2 : 8;
		struct env_item *items = arena_alloc(a, cap * sizeof(*items));

		if (e->n)
			memcpy(items, e->items, e->n * sizeof(*items));
		e->items = items;
		ps->cap = cap;
	}
	it = &e->items[e->n];
	memset(it, 0, sizeof(*it));
	return it;
}

/* One item at *pp (a non-blank line); advances *pp past it. */
static int parse_item(struct arena *a, struct parser *ps, struct envelope *e,
		      const char **pp, const char *end)
{
	const char *p = *pp, *eol = find_nl(p, end);
	struct env_item *it;
	uint64_t len;
	size_t cap;
	int has_len, rc;

	if (e->n == ps->lim->max_items)
		return INLET_ETOOMANY;
	it = push_item(a, ps, e);
	if ((rc = parse_header(ps, p, (size_t)(eol - p), &it->header)))
		return rc;
	e->n++; /* from here env_release owns it->header */
	if ((rc = take_item_header(it, &has_len, &len)))
		return rc;
	/* An item header is always followed by a newline, even when the
	 * payload is empty: EOF here means the payload was cut off. */
	if (eol == end)
		return INLET_EINVAL;
	p = eol + 1;
	cap = item_cap(ps->lim, it->type, it->type_len);
	if (has_len) {
		if (len > cap)
			return INLET_ETOOBIG;
		if (len > (uint64_t)(end - p))
			return INLET_EINVAL;
		it->payload = p;
		it->len = (size_t)len;
		p += it->len;
		/* "\n" or EOF ends it (the spec); "\r\n" too, as a file that
		 * went through a CRLF conversion has it. Anything else means
		 * the length was wrong. */
		if (p < end) {
			if (*p == '\n')
				p++;
			else if (*p == '\r' && end - p >= 2 && p[1] == '\n')
				p += 2;
			else
				return INLET_EINVAL;
		}
	} else {
		eol = find_nl(p, end);
		if ((size_t)(eol - p) > cap)
			return INLET_ETOOBIG;
		it->payload = p;
		it->len = (size_t)(eol - p);
		p = eol < end ? eol + 1 : end;
	}
	*pp = p;
	return 0;
}

int env_parse(struct arena *a, const void *buf, size_t len,
	      const struct env_limits *lim, struct envelope **out)
{
	const char *p = buf, *end, *eol;
	struct parser ps = { NULL, lim, 0, 0 };
	struct envelope *e;
	int depth, rc;

	*out = NULL;
	if (len > lim->max_total)
		return INLET_ETOOBIG;
	if (len == 0 || lim->max_depth < 1)
		return INLET_EINVAL;
	end = p + len;
	depth = lim->max_depth < DEPTH_CEIL ? lim->max_depth : DEPTH_CEIL;
	/* json-c counts a scalar inside a container as one more level. */
	ps.tok = json_tokener_new_ex(depth + 1);
	if (!ps.tok)
		return INLET_ENOMEM;
	json_tokener_set_flags(ps.tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);

	e = arena_zalloc(a, sizeof(*e));
	arena_on_destroy(a, env_release, e);

	eol = find_nl(p, end);
	if ((rc = parse_header(&ps, p, (size_t)(eol - p), &e->header)) ||
	    (rc = take_envelope_header(e)))
		goto out;
	p = eol < end ? eol + 1 : end;
	for (;;) {
		p = skip_blank(p, end);
		if (p == end)
			break;
		if ((rc = parse_item(a, &ps, e, &p, end)))
			goto out;
	}
	*out = e;
out:
	if (rc)
		env_release(e);
	json_tokener_free(ps.tok);
	return rc;
}
