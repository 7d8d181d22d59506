#include "events/sentry_items.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "core/arena.h"
#include "core/err.h"

/* ---- small helpers ---- */

/* The member `name` of o when it is present and not null. */
static struct json_object *member(struct json_object *o, const char *name)
{
	struct json_object *v;

	if (!o || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, name, &v) ||
	    json_object_is_type(v, json_type_null))
		return NULL;
	return v;
}

/* The string member `name` of o, or NULL (absent, null or another type);
 * its length in *len. */
static const char *member_str(struct json_object *o, const char *name, size_t *len)
{
	struct json_object *v = member(o, name);

	if (!v || !json_object_is_type(v, json_type_string))
		return NULL;
	*len = (size_t)json_object_get_string_len(v);
	return json_object_get_string(v);
}

/* s[0..n) into dst (size bytes with the NUL), stopping at a NUL byte and
 * cut to fit before a character rather than inside one: the byte after
 * the cut must not be a UTF-8 continuation byte. Valid UTF-8 needs at
 * most 3 steps back; invalid input gets no more. */
static void copy_cut(char *dst, size_t size, const char *s, size_t n)
{
	const char *nul = memchr(s, '\0', n);
	int back;

	if (nul)
		n = (size_t)(nul - s);
	if (n >= size) {
		n = size - 1;
		for (back = 0; back < 3 && n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80; back++)
			n--;
	}
	memcpy(dst, s, n);
	dst[n] = '\0';
}

/* The string member `name` of o cut into dst; "" when absent. */
static void take_str(struct json_object *o, const char *name, char *dst, size_t size)
{
	size_t n = 0;
	const char *s = member_str(o, name, &n);

	dst[0] = '\0';
	if (s)
		copy_cut(dst, size, s, n);
}

static int has_ctl(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 1;
	return 0;
}

static int hex_digit(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	       (c >= 'A' && c <= 'F');
}

/* A UUID, 32 hex digits or 36 with dashes at 8, 13, 18, 23, as 32
 * lowercase hex digits; "" when s is not one. */
static void take_uuid(const char *s, size_t n, char out[33])
{
	size_t i, k = 0;

	out[0] = '\0';
	if (!s || (n != 32 && n != 36))
		return;
	for (i = 0; i < n; i++) {
		if (n == 36 && (i == 8 || i == 13 || i == 18 || i == 23)) {
			if (s[i] != '-')
				goto bad;
			continue;
		}
		if (!hex_digit(s[i]))
			goto bad;
		out[k++] = (char)(s[i] >= 'A' && s[i] <= 'F' ? s[i] - 'A' + 'a' : s[i]);
	}
	out[k] = '\0';
	return;
bad:
	out[0] = '\0';
}

/* ---- timestamps ---- */

/* 9999-12-31T23:59:59.999Z; later is refused, as Sentry does. */
#define TS_MAX_MS 253402300799999LL

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian), counting whole
 * 400-year eras from year 0 shifted to start in March, so that the leap
 * day ends a year. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = y / 400; /* y >= 0 here */
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int is_leap(unsigned y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* n digits at *p as a number; advances *p. -1 if not all digits. */
static int digits(const char **p, const char *end, int n)
{
	int v = 0;

	if (end - *p < n)
		return -1;
	while (n--) {
		char c = *(*p)++;

		if (c < '0' || c > '9')
			return -1;
		v = v * 10 + (c - '0');
	}
	return v;
}

/* RFC 3339 date-time: YYYY-MM-DD, 'T' (or 't' or a space), hh:mm:ss, an
 * optional fraction (any digits; milliseconds kept, the rest cut), then
 * 'Z', 'z', +hh:mm or -hh:mm, or nothing (taken as UTC, as Sentry does).
 * A leap second (:60) counts as the next second. -1 when malformed or
 * out of range. */
static int64_t rfc3339_ms(const char *s, size_t n)
{
	static const unsigned mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	const char *p = s, *end = s + n;
	int y, mo, d, h, mi, sec, ms = 0, scale = 100, off = 0;
	int64_t t;

	if ((y = digits(&p, end, 4)) < 0 || p >= end || *p++ != '-' ||
	    (mo = digits(&p, end, 2)) < 0 || p >= end || *p++ != '-' ||
	    (d = digits(&p, end, 2)) < 0 || p >= end ||
	    (*p != 'T' && *p != 't' && *p != ' '))
		return -1;
	p++;
	if ((h = digits(&p, end, 2)) < 0 || p >= end || *p++ != ':' ||
	    (mi = digits(&p, end, 2)) < 0 || p >= end || *p++ != ':' ||
	    (sec = digits(&p, end, 2)) < 0)
		return -1;
	if (mo < 1 || mo > 12 || d < 1 ||
	    (unsigned)d > mdays[mo - 1] + (mo == 2 && is_leap((unsigned)y)) ||
	    h > 23 || mi > 59 || sec > 60 || y < 1970)
		return -1;
	if (p < end && *p == '.') {
		p++;
		if (p >= end || *p < '0' || *p > '9')
			return -1;
		for (; p < end && *p >= '0' && *p <= '9'; p++) {
			ms += (*p - '0') * scale;
			scale /= 10;
		}
	}
	if (p < end && (*p == 'Z' || *p == 'z')) {
		p++;
	} else if (p < end && (*p == '+' || *p == '-')) {
		int sign = *p++ == '-' ? -1 : 1, oh, om;

		if ((oh = digits(&p, end, 2)) < 0 || p >= end || *p++ != ':' ||
		    (om = digits(&p, end, 2)) < 0 || oh > 23 || om > 59)
			return -1;
		off = sign * (oh * 60 + om);
	}
	if (p != end)
		return -1;
	t = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + sec;
	t -= (int64_t)off * 60;
	t = t * 1000 + ms;
	return t < 0 || t > TS_MAX_MS ? -1 : t;
}

/* A timestamp as Sentry takes it: a JSON number of seconds since the
 * epoch, or an RFC 3339 string. Milliseconds, or -1 when invalid. */
static int64_t json_ts_ms(struct json_object *v)
{
	double sec;

	if (!v)
		return -1;
	if (json_object_is_type(v, json_type_string))
		return rfc3339_ms(json_object_get_string(v), (size_t)json_object_get_string_len(v));
	if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double))
		return -1;
	sec = json_object_get_double(v);
	/* json-c's strict mode still reads NaN and Infinity. */
	if (!isfinite(sec) || sec < 0 || sec * 1000.0 > (double)TS_MAX_MS)
		return -1;
	return (int64_t)(sec * 1000.0 + 0.5);
}

/* ---- events ---- */

static const char *level_name(const char *s, size_t n)
{
	static const char *const map[][2] = {
		{ "fatal", "fatal" }, { "critical", "fatal" }, { "error", "error" },
		{ "warning", "warning" }, { "warn", "warning" }, { "info", "info" },
		{ "log", "info" }, { "debug", "debug" },
	};
	size_t i;

	if (s)
		for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
			if (n == strlen(map[i][0]) && memcmp(s, map[i][0], n) == 0)
				return map[i][1];
	return "error";
}

/* The first non-empty of logentry.formatted, logentry.message, message
 * as a string, message.formatted, message.message. */
static void take_message(struct json_object *ev, char *dst, size_t size)
{
	struct json_object *logentry = member(ev, "logentry"), *msg = member(ev, "message");
	const char *s;
	size_t n = 0;

	dst[0] = '\0';
	if (((s = member_str(logentry, "formatted", &n)) && n) ||
	    ((s = member_str(logentry, "message", &n)) && n) ||
	    ((s = member_str(ev, "message", &n)) && n) ||
	    ((s = member_str(msg, "formatted", &n)) && n) ||
	    ((s = member_str(msg, "message", &n)) && n))
		copy_cut(dst, size, s, n);
}

int sentry_event_summary(struct json_object *ev, struct sentry_summary *out)
{
	const char *s;
	size_t n = 0;
	int64_t ts;

	memset(out, 0, sizeof(*out));
	memcpy(out->level, "error", 6);
	if (!ev || !json_object_is_type(ev, json_type_object))
		return INLET_EINVAL;
	s = member_str(ev, "event_id", &n);
	take_uuid(s, n, out->event_id);
	s = member_str(ev, "level", &n);
	s = level_name(s, n);
	memcpy(out->level, s, strlen(s) + 1);
	take_str(ev, "type", out->type, sizeof(out->type));
	out->is_transaction = strcmp(out->type, "transaction") == 0;
	take_str(ev, "release", out->release, sizeof(out->release));
	take_str(ev, "environment", out->environment, sizeof(out->environment));
	take_str(ev, "platform", out->platform, sizeof(out->platform));
	take_str(member(ev, "request"), "url", out->uri, sizeof(out->uri));
	take_str(ev, "transaction", out->transaction, sizeof(out->transaction));
	take_message(ev, out->message, sizeof(out->message));
	ts = json_ts_ms(member(ev, "timestamp"));
	out->timestamp_ms = ts < 0 ? 0 : ts;
	return 0;
}

/* ---- payloads ---- */

static int is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* One JSON object from p[0..len), white space around it allowed. *out
 * holds one reference for the caller. */
static int parse_object(const char *p, size_t len, struct json_object **out)
{
	struct json_tokener *tok;
	struct json_object *o;
	size_t i;
	int rc = INLET_EINVAL;

	*out = NULL;
	if (len > SENTRY_ITEM_MAX)
		return INLET_ETOOBIG;
	if (!p || len == 0)
		return INLET_EINVAL;
	/* json-c counts a scalar inside a container as one more level. */
	tok = json_tokener_new_ex(SENTRY_JSON_DEPTH + 1);
	if (!tok)
		return INLET_ENOMEM;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, p, (int)len);
	if (!o || json_tokener_get_error(tok) != json_tokener_success)
		goto out;
	/* The tokener stops after the value (and at a NUL byte). */
	for (i = json_tokener_get_parse_end(tok); i < len; i++)
		if (!is_ws(p[i]))
			goto out;
	if (!json_object_is_type(o, json_type_object))
		goto out;
	*out = o;
	o = NULL;
	rc = 0;
out:
	json_object_put(o);
	json_tokener_free(tok);
	return rc;
}

/* A count: absent is 0, a non-negative integer is capped at
 * SENTRY_COUNT_MAX, anything else is invalid. json-c keeps integers past
 * INT64_MAX as unsigned and gives INT64_MAX for them here. */
static int take_count(struct json_object *o, const char *name, uint32_t *out)
{
	struct json_object *v = member(o, name);
	int64_t n;

	*out = 0;
	if (!v)
		return 0;
	if (!json_object_is_type(v, json_type_int))
		return INLET_EINVAL;
	n = json_object_get_int64(v);
	if (n < 0)
		return INLET_EINVAL;
	*out = n > SENTRY_COUNT_MAX ? SENTRY_COUNT_MAX : (uint32_t)n;
	return 0;
}

/* A did: a string (cut to size) or an integer (in decimal); "" absent. */
static int take_did(struct json_object *o, char *dst, size_t size)
{
	struct json_object *v = member(o, "did");

	dst[0] = '\0';
	if (!v)
		return 0;
	if (json_object_is_type(v, json_type_string))
		copy_cut(dst, size, json_object_get_string(v), (size_t)json_object_get_string_len(v));
	else if (json_object_is_type(v, json_type_int))
		snprintf(dst, size, "%s", json_object_get_string(v)); /* json-c's decimal */
	else
		return INLET_EINVAL;
	return 0;
}

/* attrs.release (required) and attrs.environment, checked whole: these
 * name the buckets sessions are counted in, so they are never cut. */
static int take_attrs(struct json_object *root, char *release, char *env)
{
	struct json_object *attrs = member(root, "attrs"), *v;
	const char *s;
	size_t n = 0;

	if (!attrs || !json_object_is_type(attrs, json_type_object))
		return INLET_EINVAL;
	s = member_str(attrs, "release", &n);
	if (!s || n == 0 || n > SENTRY_RELEASE_MAX || has_ctl(s, n))
		return INLET_EINVAL;
	memcpy(release, s, n);
	release[n] = '\0';
	env[0] = '\0';
	v = member(attrs, "environment");
	if (!v)
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return INLET_EINVAL;
	s = json_object_get_string(v);
	n = (size_t)json_object_get_string_len(v);
	if (n > SENTRY_ENV_MAX || has_ctl(s, n))
		return INLET_EINVAL;
	memcpy(env, s, n);
	env[n] = '\0';
	return 0;
}

static const char *const status_names[] = {
	[SENTRY_SESSION_OK] = "ok",
	[SENTRY_SESSION_EXITED] = "exited",
	[SENTRY_SESSION_CRASHED] = "crashed",
	[SENTRY_SESSION_ABNORMAL] = "abnormal",
	[SENTRY_SESSION_ERRORED] = "errored",
	[SENTRY_SESSION_UNHANDLED] = "unhandled",
};

const char *sentry_session_status_name(enum sentry_session_status s)
{
	if ((unsigned)s >= sizeof(status_names) / sizeof(status_names[0]))
		return "ok";
	return status_names[s];
}

static int take_session(struct json_object *root, struct sentry_session *out)
{
	struct json_object *v;
	const char *s;
	size_t n = 0, i;
	int64_t ms;
	int rc;

	v = member(root, "sid");
	if (v) {
		if (!json_object_is_type(v, json_type_string))
			return INLET_EINVAL;
		n = (size_t)json_object_get_string_len(v);
		if (n > SENTRY_SID_MAX || has_ctl(json_object_get_string(v), n))
			return INLET_EINVAL;
		memcpy(out->sid, json_object_get_string(v), n);
		out->sid[n] = '\0';
	}
	if ((rc = take_did(root, out->did, sizeof(out->did))))
		return rc;
	v = member(root, "init");
	if (v) {
		if (!json_object_is_type(v, json_type_boolean))
			return INLET_EINVAL;
		out->init = json_object_get_boolean(v) ? 1 : 0;
	}
	out->status = SENTRY_SESSION_OK;
	v = member(root, "status");
	if (v) {
		if (!json_object_is_type(v, json_type_string))
			return INLET_EINVAL;
		s = json_object_get_string(v);
		n = (size_t)json_object_get_string_len(v);
		for (i = 0; i < sizeof(status_names) / sizeof(status_names[0]); i++)
			if (n == strlen(status_names[i]) && memcmp(s, status_names[i], n) == 0)
				break;
		if (i == sizeof(status_names) / sizeof(status_names[0]))
			return INLET_EINVAL;
		out->status = (enum sentry_session_status)i;
	}
	if ((rc = take_count(root, "errors", &out->errors)))
		return rc;
	if (out->status == SENTRY_SESSION_CRASHED && out->errors == 0)
		out->errors = 1;
	if ((ms = json_ts_ms(member(root, "started"))) < 0)
		return INLET_EINVAL;
	out->started_ms = ms;
	return take_attrs(root, out->release, out->environment);
}

int sentry_session_parse(const char *payload, size_t len, struct sentry_session *out)
{
	struct json_object *root;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = parse_object(payload, len, &root)))
		return rc;
	rc = take_session(root, out);
	json_object_put(root);
	if (rc)
		memset(out, 0, sizeof(*out));
	return rc;
}

static int take_aggregate(struct arena *a, struct json_object *b, struct sentry_aggregate *g)
{
	char did[SENTRY_DID_MAX + 1];
	int64_t ms;
	int rc;

	if (!json_object_is_type(b, json_type_object))
		return INLET_EINVAL;
	if ((ms = json_ts_ms(member(b, "started"))) < 0)
		return INLET_EINVAL;
	g->started_ms = ms;
	if ((rc = take_did(b, did, sizeof(did))) ||
	    (rc = take_count(b, "exited", &g->exited)) ||
	    (rc = take_count(b, "errored", &g->errored)) ||
	    (rc = take_count(b, "abnormal", &g->abnormal)) ||
	    (rc = take_count(b, "crashed", &g->crashed)))
		return rc;
	g->did = member(b, "did") ? arena_strdup(a, did) : NULL;
	return 0;
}

static int take_sessions(struct json_object *root, struct arena *a,
			 struct sentry_aggregate **out, size_t *n)
{
	struct json_object *list = member(root, "aggregates");
	char release[SENTRY_RELEASE_MAX + 1], env[SENTRY_ENV_MAX + 1];
	struct sentry_aggregate *g;
	const char *rel, *envp;
	size_t i, count;
	int rc;

	if (!list || !json_object_is_type(list, json_type_array))
		return INLET_EINVAL;
	count = json_object_array_length(list);
	if (count > SENTRY_AGGREGATES_MAX)
		return INLET_ETOOMANY;
	if ((rc = take_attrs(root, release, env)))
		return rc;
	if (count == 0)
		return 0;
	rel = arena_strdup(a, release);
	envp = arena_strdup(a, env);
	g = arena_zalloc(a, count * sizeof(*g));
	for (i = 0; i < count; i++) {
		if ((rc = take_aggregate(a, json_object_array_get_idx(list, i), &g[i])))
			return rc;
		g[i].release = rel;
		g[i].environment = envp;
	}
	*out = g;
	*n = count;
	return 0;
}

int sentry_sessions_parse(const char *payload, size_t len, struct arena *a,
			  struct sentry_aggregate **out, size_t *n)
{
	struct json_object *root;
	int rc;

	*out = NULL;
	*n = 0;
	if ((rc = parse_object(payload, len, &root)))
		return rc;
	rc = take_sessions(root, a, out, n);
	json_object_put(root);
	if (rc) {
		*out = NULL;
		*n = 0;
	}
	return rc;
}

/* ---- client reports ---- */

/* Adds the quantities of list `name` of root to *sum. */
static int add_outcomes(struct json_object *root, const char *name, uint64_t *sum)
{
	struct json_object *list = member(root, name);
	size_t i, count;

	if (!list)
		return 0;
	if (!json_object_is_type(list, json_type_array))
		return INLET_EINVAL;
	count = json_object_array_length(list);
	for (i = 0; i < count; i++) {
		struct json_object *e = json_object_array_get_idx(list, i);
		size_t n;
		uint32_t qty;

		if (!json_object_is_type(e, json_type_object) ||
		    !member_str(e, "reason", &n) || !member_str(e, "category", &n) ||
		    !member(e, "quantity") || take_count(e, "quantity", &qty))
			return INLET_EINVAL;
		/* At most SENTRY_ITEM_MAX / 40 entries of at most 2^30: no
		 * overflow. */
		*sum += qty;
	}
	return 0;
}

int sentry_client_report_parse(const char *payload, size_t len, uint64_t *discarded_total)
{
	static const char *const lists[] = {
		"discarded_events", "rate_limited_events", "filtered_events",
		"filtered_sampling_events",
	};
	struct json_object *root;
	uint64_t sum = 0;
	size_t i;
	int rc;

	*discarded_total = 0;
	if ((rc = parse_object(payload, len, &root)))
		return rc;
	for (i = 0; i < sizeof(lists) / sizeof(lists[0]) && rc == 0; i++)
		rc = add_outcomes(root, lists[i], &sum);
	json_object_put(root);
	if (rc == 0)
		*discarded_total = sum;
	return rc;
}

/* ---- rate limits ---- */

void sentry_rate_limit_header(unsigned retry_after_s, char *out, size_t size)
{
	int n;

	if (size == 0)
		return;
	n = snprintf(out, size, "%u::key", retry_after_s ? retry_after_s : 1);
	if (n < 0 || (size_t)n >= size)
		out[0] = '\0';
}
