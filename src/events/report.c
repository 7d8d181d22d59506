#include "events/report.h"

#include <math.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "core/arena.h"
#include "core/err.h"
#include "events/trackx.h"

/* Components of a fingerprint at most: the type and five more. */
#define FP_SLOTS 6

/* A title is gathered here, then cut to REPORT_TITLE_MAX: any cut of the
 * buffer is also a cut of the title, so cut_copy sees and mends it. */
#define TITLE_BUF (REPORT_TITLE_MAX + 5)

/* A NULL-terminated list of member names, the first one present wins. */
#define NAMES(...) ((const char *const[]){ __VA_ARGS__, NULL })

void report_limits_default(struct report_limits *lim)
{
	lim->max_reports = REPORT_MAX_REPORTS;
	lim->max_depth = REPORT_MAX_DEPTH;
}

/* A piece of a string; s NULL when absent. */
struct span {
	const char *s;
	size_t n;
};

static const struct span none = { NULL, 0 };

static struct span lit(const char *s)
{
	struct span sp = { s, strlen(s) };

	return sp;
}

/* ---- small text helpers (ASCII only; no locale) ---- */

static int is_alpha(unsigned c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_digit(unsigned c)
{
	return c >= '0' && c <= '9';
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* s[0..n) cut to at most cap bytes without splitting a UTF-8 sequence,
 * control characters (NUL from "\u0000" too) turned into spaces, ASCII
 * lowercased when `fold`; in the arena. The input is valid UTF-8 (the
 * JSON was checked), so only the cut can leave a partial sequence. */
static const char *cut_copy(struct arena *a, const char *s, size_t n, size_t cap, int fold)
{
	int cut = n > cap;
	size_t k = cut ? cap : n, i;
	char *d = arena_alloc(a, k + 1);

	for (i = 0; i < k; i++) {
		unsigned char c = (unsigned char)s[i];

		d[i] = c < 0x20 || c == 0x7f ? ' ' : fold ? lower((char)c) : (char)c;
	}
	if (cut) {
		size_t j = k;

		while (j > 0 && ((unsigned char)d[j - 1] & 0xc0) == 0x80)
			j--;
		if (j > 0 && (unsigned char)d[j - 1] >= 0xc0) {
			unsigned lead = (unsigned char)d[j - 1];
			size_t want = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;

			if (k - (j - 1) < want)
				k = j - 1;
		}
	}
	d[k] = '\0';
	return d;
}

/* The part of a URL before its query or fragment. */
static struct span url_path(struct span u)
{
	size_t i;

	for (i = 0; i < u.n; i++)
		if (u.s[i] == '?' || u.s[i] == '#')
			break;
	u.n = i;
	return u;
}

static int is_default_port(const char *scheme, size_t sn, const char *port, size_t pn)
{
	static const struct {
		const char *scheme, *port;
	} defaults[] = {
		{ "http", "80" }, { "https", "443" }, { "ws", "80" },
		{ "wss", "443" }, { "ftp", "21" },
	};
	size_t i;

	for (i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
		if (strlen(defaults[i].scheme) == sn &&
		    strncasecmp(defaults[i].scheme, scheme, sn) == 0 &&
		    strlen(defaults[i].port) == pn && memcmp(defaults[i].port, port, pn) == 0)
			return 1;
	return 0;
}

/* A URL reduced to its origin, a scheme-only URL to its scheme, anything
 * else (a CSP keyword) kept; lowercased and cut to REPORT_FP_MAX. */
static const char *origin_of(struct arena *a, struct span u)
{
	size_t i = 0, auth, end, at, host, colon, out;
	char *d;

	if (u.n && is_alpha((unsigned char)u.s[0]))
		for (i = 1; i < u.n; i++) {
			unsigned c = (unsigned char)u.s[i];

			if (!is_alpha(c) && !is_digit(c) && c != '+' && c != '-' && c != '.')
				break;
		}
	if (i == 0 || i >= u.n || u.s[i] != ':')
		return cut_copy(a, u.s, u.n, REPORT_FP_MAX, 1);
	if (u.n - i < 3 || u.s[i + 1] != '/' || u.s[i + 2] != '/')
		return cut_copy(a, u.s, i, REPORT_FP_MAX, 1);
	auth = i + 3;
	for (end = auth; end < u.n; end++)
		if (u.s[end] == '/' || u.s[end] == '?' || u.s[end] == '#' || u.s[end] == '\\')
			break;
	host = auth;
	for (at = auth; at < end; at++)
		if (u.s[at] == '@')
			host = at + 1;
	/* The port follows the last ':' unless that is inside [IPv6]. */
	colon = end;
	for (at = end; at > host; at--) {
		if (u.s[at - 1] == ']')
			break;
		if (u.s[at - 1] == ':') {
			colon = at - 1;
			break;
		}
	}
	if (colon < end &&
	    (colon + 1 == end || is_default_port(u.s, i, u.s + colon + 1, end - colon - 1)))
		end = colon;
	d = arena_alloc(a, i + 3 + (end - host) + 1);
	memcpy(d, u.s, i + 3);
	out = i + 3;
	memcpy(d + out, u.s + host, end - host);
	out += end - host;
	return cut_copy(a, d, out, REPORT_FP_MAX, 1);
}

/* ---- reading members ---- */

/* The first of `names` that is a non-empty string in o (o may be NULL). */
static struct span str_of(struct json_object *o, const char *const *names)
{
	struct json_object *v;
	struct span sp;

	for (; o && *names; names++) {
		if (!json_object_object_get_ex(o, *names, &v) ||
		    !json_object_is_type(v, json_type_string) ||
		    json_object_get_string_len(v) == 0)
			continue;
		sp.s = json_object_get_string(v);
		sp.n = (size_t)json_object_get_string_len(v);
		return sp;
	}
	return none;
}

/* A line (or port, or status) number as text: an integer, a whole double,
 * or a non-empty string; "" when none. */
static const char *number_of(struct arena *a, struct json_object *o, const char *const *names)
{
	struct json_object *v;

	for (; o && *names; names++) {
		if (!json_object_object_get_ex(o, *names, &v) || !v)
			continue;
		if (json_object_is_type(v, json_type_int)) {
			int64_t i = json_object_get_int64(v);

			if (i == INT64_MAX && json_object_get_uint64(v) > (uint64_t)INT64_MAX)
				return arena_printf(a, "%llu",
						    (unsigned long long)json_object_get_uint64(v));
			return arena_printf(a, "%lld", (long long)i);
		}
		if (json_object_is_type(v, json_type_double)) {
			double d = json_object_get_double(v);

			if (isfinite(d) && fabs(d) < 1e15)
				return arena_printf(a, "%lld", (long long)d);
			continue;
		}
		if (json_object_is_type(v, json_type_string) && json_object_get_string_len(v) > 0)
			return cut_copy(a, json_object_get_string(v),
					(size_t)json_object_get_string_len(v), REPORT_FP_MAX, 0);
	}
	return "";
}

/* ---- building events ---- */

struct builder {
	struct arena *a;
	struct report_list *list;
	size_t cap; /* slots in list->items */
	const struct report_limits *lim;
};

/* What one report gives to work with. */
struct report_in {
	struct json_object *obj;  /* the report as sent; becomes ev->body */
	struct json_object *body; /* the fields: "body", or the csp-report /
				   * expect-ct-report value; may be NULL */
	const char *type;         /* checked, in the arena */
	struct span url;          /* the report's url; none for legacy */
	int64_t age;
};

/* Title from pieces (absent ones skipped), cut and cleaned. */
static const char *title(struct arena *a, const struct span *pieces, size_t n)
{
	char buf[TITLE_BUF];
	size_t len = 0, i, k;

	for (i = 0; i < n && len < sizeof(buf); i++) {
		if (!pieces[i].s)
			continue;
		k = pieces[i].n < sizeof(buf) - len ? pieces[i].n : sizeof(buf) - len;
		memcpy(buf + len, pieces[i].s, k);
		len += k;
	}
	return cut_copy(a, buf, len, REPORT_TITLE_MAX, 0);
}

#define TITLE(a, ...) title(a, (const struct span[]){ __VA_ARGS__ }, \
			    sizeof((const struct span[]){ __VA_ARGS__ }) / sizeof(struct span))

static void fp_add(struct report_event *ev, const char *s)
{
	if (ev->n_fingerprint < FP_SLOTS)
		ev->fingerprint[ev->n_fingerprint++] = s;
}

static void fp_add_span(struct arena *a, struct report_event *ev, struct span sp)
{
	fp_add(ev, sp.s ? cut_copy(a, sp.s, sp.n, REPORT_FP_MAX, 0) : "");
}

/* prefix when text is there, else nothing: a title's joint. */
static struct span when(struct span text, const char *prefix)
{
	return text.s ? lit(prefix) : none;
}

/* The first word of a CSP directive, lowercased. */
static const char *directive_of(struct arena *a, struct span d)
{
	size_t i;

	if (!d.s)
		return "";
	for (i = 0; i < d.n; i++)
		if (d.s[i] == ' ' || d.s[i] == '\t')
			break;
	return cut_copy(a, d.s, i, REPORT_FP_MAX, 1);
}

static void csp(struct arena *a, const struct report_in *in, struct report_event *ev)
{
	struct json_object *b = in->body;
	const char *dir = directive_of(a, str_of(b, NAMES("effectiveDirective",
		"effective-directive", "violatedDirective", "violated-directive")));
	struct span blocked = str_of(b, NAMES("blockedURL", "blocked-uri", "blockedURI",
					      "blocked-url"));
	struct span doc = str_of(b, NAMES("documentURL", "document-uri", "documentURI",
					  "document-url"));
	struct span source = str_of(b, NAMES("sourceFile", "source-file"));
	const char *origin = blocked.s ? origin_of(a, blocked) : "";

	if (doc.s) {
		ev->uri = arena_strndup(a, doc.s, doc.n);
		ev->uri_len = doc.n;
	}
	ev->title = TITLE(a, lit("CSP violation"), *dir ? lit(": ") : none,
			  lit(dir), when(blocked, " blocked "),
			  blocked.s ? lit(origin) : none);
	fp_add(ev, dir);
	fp_add(ev, origin);
	fp_add_span(a, ev, url_path(source));
	fp_add(ev, number_of(a, b, NAMES("lineNumber", "line-number")));
}

/* deprecation, intervention, document- and permissions-policy-violation:
 * an id, a message, a place in the code. */
static void coded(struct arena *a, const struct report_in *in, struct report_event *ev,
		  const char *label, const char *const *id_names)
{
	struct json_object *b = in->body;
	struct span id = str_of(b, id_names);
	struct span msg = str_of(b, NAMES("message"));
	size_t ll = strlen(label);

	/* Chromium's messages may start with the label already ("Document
	 * policy violation: document-write is not allowed..."). */
	if (msg.s && msg.n > ll && msg.s[ll] == ':' && strncasecmp(msg.s, label, ll) == 0)
		ev->title = TITLE(a, msg);
	else
		ev->title = TITLE(a, lit(label), lit(": "),
				  msg.s ? msg : id.s ? id : lit("unknown"));
	fp_add_span(a, ev, id);
	fp_add_span(a, ev, url_path(str_of(b, NAMES("sourceFile", "source-file"))));
	fp_add(ev, number_of(a, b, NAMES("lineNumber", "line-number")));
}

static void crash(struct arena *a, const struct report_in *in, struct report_event *ev)
{
	struct span reason = str_of(in->body, NAMES("reason"));

	ev->title = TITLE(a, lit("Crash"), when(reason, ": "), reason);
	fp_add_span(a, ev, reason);
	fp_add_span(a, ev, url_path(in->url));
}

static void coep(struct arena *a, const struct report_in *in, struct report_event *ev)
{
	struct json_object *b = in->body;
	struct span kind = str_of(b, NAMES("type"));
	struct span blocked = str_of(b, NAMES("blockedURL", "blocked-url"));

	ev->title = TITLE(a, lit("COEP violation"), when(kind, ": "), kind,
			  when(blocked, " blocked "),
			  blocked.s ? lit(origin_of(a, blocked)) : none);
	fp_add_span(a, ev, kind);
	fp_add_span(a, ev, str_of(b, NAMES("destination")));
	fp_add_span(a, ev, url_path(blocked));
}

static void coop(struct arena *a, const struct report_in *in, struct report_event *ev)
{
	struct json_object *b = in->body;
	struct span kind = str_of(b, NAMES("type"));

	ev->title = TITLE(a, lit("COOP violation"), when(kind, ": "), kind);
	fp_add_span(a, ev, kind);
	fp_add_span(a, ev, str_of(b, NAMES("effectivePolicy")));
	fp_add_span(a, ev, str_of(b, NAMES("property")));
	fp_add_span(a, ev, url_path(str_of(b, NAMES("sourceFile"))));
	fp_add(ev, number_of(a, b, NAMES("lineNumber")));
}

static void nel(struct arena *a, const struct report_in *in, struct report_event *ev)
{
	struct json_object *b = in->body;
	struct span kind = str_of(b, NAMES("type"));
	struct span phase = str_of(b, NAMES("phase"));
	struct span method = str_of(b, NAMES("method"));
	struct span url = str_of(b, NAMES("url"));
	int early;

	if (!url.s)
		url = in->url.n ? in->url : none;
	ev->title = TITLE(a, lit("Network error"), when(kind, ": "), kind,
			  url.s || method.s ? lit(" for") : none,
			  when(method, " "), method, when(url, " "), url);
	early = phase.s && ((phase.n == 3 && memcmp(phase.s, "dns", 3) == 0) ||
			    (phase.n == 10 && memcmp(phase.s, "connection", 10) == 0));
	fp_add_span(a, ev, kind);
	fp_add_span(a, ev, phase);
	fp_add_span(a, ev, method);
	fp_add(ev, number_of(a, b, NAMES("status_code")));
	if (!url.s)
		fp_add(ev, "");
	else if (early)
		fp_add(ev, origin_of(a, url));
	else
		fp_add_span(a, ev, url_path(url));
}

static void expect_ct(struct arena *a, const struct report_in *in, struct report_event *ev)
{
	struct json_object *b = in->body;
	struct span host = str_of(b, NAMES("hostname", "host"));
	const char *port = number_of(a, b, NAMES("port"));
	const char *h = host.s ? cut_copy(a, host.s, host.n, REPORT_FP_MAX, 1) : "";

	ev->title = TITLE(a, lit("Expect-CT violation"), when(host, ": "), lit(h),
			  *port ? lit(":") : none, lit(port));
	if (host.s) {
		ev->uri = strcmp(port, "443") && *port ? arena_printf(a, "https://%s:%s", h, port)
						       : arena_printf(a, "https://%s", h);
		ev->uri_len = strlen(ev->uri);
	}
	fp_add(ev, h);
	fp_add(ev, port);
}

static void generic(struct arena *a, const struct report_in *in, struct report_event *ev)
{
	struct json_object *b = in->body;
	struct span source = str_of(b, NAMES("sourceFile", "source-file"));

	ev->title = TITLE(a, lit("Report: "), lit(in->type));
	fp_add_span(a, ev, str_of(b, NAMES("id", "featureId", "policyId")));
	fp_add_span(a, ev, url_path(source.s ? source : in->url));
	fp_add(ev, number_of(a, b, NAMES("lineNumber", "line-number")));
}

static int type_is(const char *type, const char *name)
{
	return strcmp(type, name) == 0;
}

/* Drops the references to the report bodies. Runs when the arena is
 * destroyed, or at once when parsing fails (and then again as a no-op). */
static void list_release(void *arg)
{
	struct report_list *l = arg;
	size_t i;

	for (i = 0; i < l->n; i++)
		json_object_put(l->items[i].body);
	l->n = 0;
}

static void add_event(struct builder *b, const struct report_in *in)
{
	struct arena *a = b->a;
	struct report_list *l = b->list;
	struct report_event *ev;
	const char *t = in->type;

	l->items = arena_grow(a, l->items, l->n, &b->cap, sizeof(*l->items));
	ev = &l->items[l->n];
	memset(ev, 0, sizeof(*ev));
	ev->type = t;
	ev->age_ms = in->age;
	ev->fingerprint = arena_alloc(a, FP_SLOTS * sizeof(*ev->fingerprint));
	fp_add(ev, t);
	if (in->url.s) {
		ev->uri = arena_strndup(a, in->url.s, in->url.n);
		ev->uri_len = in->url.n;
	}
	if (type_is(t, "csp-violation"))
		csp(a, in, ev);
	else if (type_is(t, "deprecation"))
		coded(a, in, ev, "Deprecation", NAMES("id"));
	else if (type_is(t, "intervention"))
		coded(a, in, ev, "Intervention", NAMES("id"));
	else if (type_is(t, "document-policy-violation"))
		coded(a, in, ev, "Document policy violation", NAMES("featureId", "policyId"));
	else if (type_is(t, "permissions-policy-violation"))
		coded(a, in, ev, "Permissions policy violation", NAMES("featureId", "policyId"));
	else if (type_is(t, "crash"))
		crash(a, in, ev);
	else if (type_is(t, "coep"))
		coep(a, in, ev);
	else if (type_is(t, "coop"))
		coop(a, in, ev);
	else if (type_is(t, "network-error"))
		nel(a, in, ev);
	else if (type_is(t, "expect-ct"))
		expect_ct(a, in, ev);
	else
		generic(a, in, ev);
	if (!ev->uri) {
		ev->uri = "";
		ev->uri_len = 0;
	}
	/* Last, so list_release only ever sees complete events. */
	ev->body = json_object_get(in->obj);
	l->n++;
}

/* A report type: 1..REPORT_TYPE_MAX printable ASCII, no spaces. */
static const char *type_of(struct arena *a, struct json_object *v)
{
	const char *s;
	size_t n, i;

	if (!v || !json_object_is_type(v, json_type_string))
		return NULL;
	s = json_object_get_string(v);
	n = (size_t)json_object_get_string_len(v);
	if (n == 0 || n > REPORT_TYPE_MAX)
		return NULL;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return NULL;
	return arena_strndup(a, s, n);
}

/* Reads one Reporting API report into *in; 0, or -1 when it is not one
 * (an array skips it, a lone one is refused). */
static int read_report(struct arena *a, struct json_object *o, struct report_in *in)
{
	struct json_object *v;

	memset(in, 0, sizeof(*in));
	in->obj = o;

	if (!json_object_is_type(o, json_type_object))
		return -1;
	if (!json_object_object_get_ex(o, "type", &v) || !(in->type = type_of(a, v)))
		return -1;
	if (!json_object_object_get_ex(o, "url", &v) || !json_object_is_type(v, json_type_string))
		return -1;
	in->url.s = json_object_get_string(v);
	in->url.n = (size_t)json_object_get_string_len(v);
	/* Present means a number in range: "age": null is refused, as
	 * TrackX's typeof check does. */
	if (json_object_object_get_ex(o, "age", &v)) {
		if (json_object_is_type(v, json_type_int)) {
			int64_t age = json_object_get_int64(v);

			if (age < 0 || age > REPORT_MAX_AGE_MS)
				return -1;
			in->age = age;
		} else if (json_object_is_type(v, json_type_double)) {
			double age = json_object_get_double(v);

			if (!(age >= 0 && age <= REPORT_MAX_AGE_MS))
				return -1;
			in->age = (int64_t)age;
		} else {
			return -1;
		}
	}
	if (json_object_object_get_ex(o, "body", &v) && json_object_is_type(v, json_type_object))
		in->body = v;
	return 0;
}

static void reports_array(struct builder *b, struct json_object *arr)
{
	size_t i, n = json_object_array_length(arr);
	struct report_in in;

	for (i = 0; i < n; i++) {
		if (b->list->n >= b->lim->max_reports) {
			b->list->dropped += n - i;
			return;
		}
		if (read_report(b->a, json_object_array_get_idx(arr, i), &in))
			b->list->skipped++;
		else
			add_event(b, &in);
	}
}

enum media { M_REPORTS, M_CSP, M_EXPECT_CT, M_ANY, M_BAD };

static enum media media_of(const char *m)
{
	if (!m)
		return M_BAD;
	if (strcasecmp(m, "application/reports+json") == 0)
		return M_REPORTS;
	if (strcasecmp(m, "application/csp-report") == 0)
		return M_CSP;
	if (strcasecmp(m, "application/expect-ct-report+json") == 0)
		return M_EXPECT_CT;
	if (strcasecmp(m, "application/json") == 0 || strcasecmp(m, "text/plain") == 0)
		return M_ANY;
	return M_BAD;
}

static int fail(struct report_error *err, int status, const char *code, const char *message)
{
	err->status = status;
	err->code = code;
	err->message = message;
	return status == 415 ? INLET_EMEDIATYPE : INLET_EINVAL;
}

/* {"csp-report": {...}} or {"expect-ct-report": {...}}, whose inner
 * value must be an object. */
static int legacy(struct builder *b, struct json_object *o, struct json_object *inner,
		  const char *type, struct report_error *err)
{
	struct report_in in = { o, inner, type, { NULL, 0 }, 0 };

	if (!json_object_is_type(inner, json_type_object))
		return fail(err, 400, "INVALID_BODY", "the report is not a JSON object");
	if (b->list->n >= b->lim->max_reports)
		b->list->dropped++;
	else
		add_event(b, &in);
	return 0;
}

/* The body by its shape; 0 or a failure through err. */
static int dispatch(struct builder *b, enum media m, struct json_object *root,
		    struct report_error *err)
{
	struct json_object *csp_v = NULL, *ct_v = NULL;
	struct report_in in;
	int has_csp, has_ct;

	if (json_object_is_type(root, json_type_array)) {
		if (m == M_REPORTS || m == M_ANY) {
			reports_array(b, root);
			return 0;
		}
		return fail(err, 400, "INVALID_BODY", "expected a JSON object");
	}
	if (m == M_REPORTS)
		return fail(err, 400, "INVALID_BODY", "expected a JSON array");
	if (!json_object_is_type(root, json_type_object))
		return fail(err, 400, "INVALID_BODY", "expected a JSON object");
	has_csp = json_object_object_get_ex(root, "csp-report", &csp_v);
	has_ct = json_object_object_get_ex(root, "expect-ct-report", &ct_v);
	if (m == M_CSP && !has_csp)
		return fail(err, 400, "INVALID_BODY", "expected {\"csp-report\": {...}}");
	if (m == M_EXPECT_CT && !has_ct)
		return fail(err, 400, "INVALID_BODY", "expected {\"expect-ct-report\": {...}}");
	if (has_csp && m != M_EXPECT_CT)
		return legacy(b, root, csp_v, "csp-violation", err);
	if (has_ct)
		return legacy(b, root, ct_v, "expect-ct", err);
	/* One Reporting API report on its own. */
	if (read_report(b->a, root, &in))
		return fail(err, 400, "INVALID_BODY", "not a report");
	if (b->list->n >= b->lim->max_reports)
		b->list->dropped++;
	else
		add_event(b, &in);
	return 0;
}

int report_parse(struct arena *a, const char *media, const char *body, size_t len,
		 const struct report_limits *lim, struct report_list **out,
		 struct report_error *err)
{
	struct builder b = { a, NULL, 0, lim };
	struct json_object *root = NULL;
	enum media m = media_of(media);
	const char *why;
	int rc;

	*out = NULL;
	memset(err, 0, sizeof(*err));
	if (m == M_BAD)
		return fail(err, 415, "UNSUPPORTED_MEDIA_TYPE", "unsupported media type");
	if ((rc = trackx_json_parse(body, len, lim->max_depth, &root, &why))) {
		if (rc == INLET_ENOMEM)
			return rc;
		return fail(err, 400, "INVALID_JSON", why);
	}
	b.list = arena_zalloc(a, sizeof(*b.list));
	arena_on_destroy(a, list_release, b.list);
	if ((rc = dispatch(&b, m, root, err)))
		list_release(b.list);
	else
		*out = b.list;
	json_object_put(root);
	return rc;
}
