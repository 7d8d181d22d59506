#include "events/sentry_auth.h"

#include <string.h>
#include <strings.h>

#include "core/err.h"
#include "ingest/kv.h"
#include "ingest/urlenc.h"

/* A value longer than this is refused outright (in a header or a query
 * string): nothing an SDK sends comes close. */
#define VALUE_MAX 1024

static int is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static const char *skip_ws(const char *s, const char *end)
{
	while (s < end && is_ws(*s))
		s++;
	return s;
}

static const char *trim_end(const char *s, const char *end)
{
	while (end > s && is_ws(end[-1]))
		end--;
	return end;
}

static int span_ieq(const char *s, size_t n, const char *lit)
{
	return n == strlen(lit) && strncasecmp(s, lit, n) == 0;
}

static int key_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
}

/* Copies a key, secret or project id into dst (SENTRY_KEY_MAX + 1 bytes). */
static int copy_key(char *dst, const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > SENTRY_KEY_MAX)
		return INLET_EINVAL;
	for (i = 0; i < n; i++)
		if (!key_char(s[i]))
			return INLET_EINVAL;
	memcpy(dst, s, n);
	dst[n] = '\0';
	return 0;
}

/* ---- parameters, shared by the header and the query forms ---- */

struct params {
	struct sentry_auth *out;
	int have_key;
};

static int take_version(struct sentry_auth *out, const char *s, size_t n)
{
	size_t i;
	int v = 0;

	if (n == 0 || n > 4)
		return INLET_EINVAL;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return INLET_EINVAL;
		v = v * 10 + (s[i] - '0');
	}
	out->version = v;
	return 0;
}

static int take_client(struct sentry_auth *out, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return INLET_EINVAL;
	/* Informational only (it names the SDK): cut, not refused. */
	if (n > SENTRY_CLIENT_MAX)
		n = SENTRY_CLIENT_MAX;
	memcpy(out->client, s, n);
	out->client[n] = '\0';
	return 0;
}

enum param { P_OTHER, P_KEY, P_SECRET, P_VERSION, P_CLIENT };

static enum param param_of(const char *name, size_t n)
{
	if (span_ieq(name, n, "sentry_key"))
		return P_KEY;
	if (span_ieq(name, n, "sentry_secret"))
		return P_SECRET;
	if (span_ieq(name, n, "sentry_version"))
		return P_VERSION;
	if (span_ieq(name, n, "sentry_client"))
		return P_CLIENT;
	return P_OTHER;
}

/* val may be NULL when vlen is past VALUE_MAX (too long to look at). */
static int take_param(struct params *ps, const char *name, size_t nlen,
		      const char *val, size_t vlen)
{
	struct sentry_auth *out = ps->out;
	enum param which = param_of(name, nlen);
	char key[SENTRY_KEY_MAX + 1] = "";
	int rc;

	if (which == P_OTHER)
		return 0;
	if (vlen > VALUE_MAX)
		return INLET_EINVAL;
	switch (which) {
	case P_KEY:
		if ((rc = copy_key(key, val, vlen)))
			return rc;
		/* Two different keys: which one is meant is anyone's guess. */
		if (ps->have_key && strcmp(key, out->key) != 0)
			return INLET_EINVAL;
		memcpy(out->key, key, sizeof(key));
		ps->have_key = 1;
		return 0;
	case P_SECRET:
		return vlen ? copy_key(out->secret, val, vlen) : 0;
	case P_VERSION:
		return take_version(out, val, vlen);
	case P_CLIENT:
		return take_client(out, val, vlen);
	default:
		return 0;
	}
}

static int finish(struct params *ps, int rc)
{
	if (!rc && !ps->have_key)
		rc = INLET_EAUTH;
	if (rc)
		memset(ps->out, 0, sizeof(*ps->out));
	return rc;
}

int sentry_auth_parse_header(const char *value, size_t len, struct sentry_auth *out)
{
	struct params ps = { out, 0 };
	const char *p, *end;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (!value)
		return finish(&ps, INLET_EAUTH);
	end = value + len;
	p = skip_ws(value, end);
	if (end - p < 6 || strncasecmp(p, "sentry", 6) != 0)
		return finish(&ps, INLET_EINVAL);
	p += 6;
	if (p < end && !is_ws(*p))
		return finish(&ps, INLET_EINVAL);
	while (p < end && !rc) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		const char *send = comma ? comma : end;
		const char *eq = memchr(p, '=', (size_t)(send - p));
		const char *name, *name_end, *v, *v_end;

		name = skip_ws(p, send);
		p = comma ? comma + 1 : end;
		/* Empty pairs (",,") and bare words are skipped. */
		if (!eq)
			continue;
		name_end = trim_end(name, eq);
		v = skip_ws(eq + 1, send);
		v_end = trim_end(v, send);
		if (v_end - v >= 2 && *v == '"' && v_end[-1] == '"') {
			v++;
			v_end--;
		}
		rc = take_param(&ps, name, (size_t)(name_end - name), v, (size_t)(v_end - v));
	}
	return finish(&ps, rc);
}

int sentry_auth_from_query(const char *query, size_t len, struct sentry_auth *out)
{
	struct params ps = { out, 0 };
	const char *p = query, *end;
	/* Decoding never lengthens, and shortens at most threefold. */
	char name[3 * 16 + 1], val[3 * VALUE_MAX];
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (!query)
		return finish(&ps, INLET_EAUTH);
	end = query + len;
	while (p < end && !rc) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *send = amp ? amp : end;
		const char *eq = memchr(p, '=', (size_t)(send - p));
		const char *nend = eq ? eq : send;
		const char *v = eq ? eq + 1 : send;
		size_t nlen = (size_t)(nend - p), vlen = (size_t)(send - v);

		/* Names we want are at most 14 bytes, 42 when fully
		 * percent-encoded; longer ones are someone else's. */
		if (nlen > 0 && nlen < sizeof(name)) {
			nlen = urlenc_decode(name, p, nlen, 1);
			if (vlen > sizeof(val)) {
				/* Decodes to more than VALUE_MAX: an error
				 * only for a name we use. */
				rc = take_param(&ps, name, nlen, NULL, vlen);
			} else {
				vlen = urlenc_decode(val, v, vlen, 1);
				rc = take_param(&ps, name, nlen, val, vlen);
			}
		}
		p = amp ? amp + 1 : end;
	}
	return finish(&ps, rc);
}

int sentry_auth_from_kv(const struct kv_list *query, struct sentry_auth *out)
{
	struct params ps = { out, 0 };
	size_t i;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	for (i = 0; query && i < query->n && !rc; i++) {
		const struct kv *kv = &query->items[i];

		rc = take_param(&ps, kv->name, kv->name_len, kv->value, kv->value_len);
	}
	return finish(&ps, rc);
}

/* ---- DSN ---- */

static int host_char(char c)
{
	return key_char(c);
}

static int ip6_char(char c)
{
	return (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
	       (c >= '0' && c <= '9') || c == ':' || c == '.';
}

/* RFC 3986 pchar less '?' and '#', plus '/' (the path prefix). */
static int path_char(char c)
{
	return key_char(c) || c == '~' || c == '!' || c == '$' || c == '&' ||
	       c == '\'' || c == '(' || c == ')' || c == '*' || c == '+' ||
	       c == ',' || c == ';' || c == '=' || c == ':' || c == '@' ||
	       c == '%' || c == '/';
}

static const char *last_slash(const char *s, const char *end)
{
	while (end > s && end[-1] != '/')
		end--;
	return end - 1; /* s[0] is '/' */
}

/* host[:port] in s..end (end is the first '/'). */
static int take_host(struct sentry_dsn *out, const char *s, const char *end)
{
	const char *h = s, *hend;
	size_t i, n;
	unsigned port = 0;

	if (s < end && *s == '[') {
		const char *rb = memchr(s, ']', (size_t)(end - s));

		if (!rb || rb == s + 1)
			return INLET_EINVAL;
		for (h = s + 1; h < rb; h++)
			if (!ip6_char(*h))
				return INLET_EINVAL;
		hend = rb + 1;
	} else {
		hend = memchr(s, ':', (size_t)(end - s));
		if (!hend)
			hend = end;
		if (hend == s)
			return INLET_EINVAL;
		for (h = s; h < hend; h++)
			if (!host_char(*h))
				return INLET_EINVAL;
	}
	n = (size_t)(hend - s);
	if (n > SENTRY_HOST_MAX)
		return INLET_EINVAL;
	for (i = 0; i < n; i++)
		out->host[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] - 'A' + 'a' : s[i]);
	out->host[n] = '\0';
	if (hend == end)
		return 0;
	if (*hend != ':' || end - hend < 2 || end - hend > 6)
		return INLET_EINVAL;
	for (h = hend + 1; h < end; h++) {
		if (*h < '0' || *h > '9')
			return INLET_EINVAL;
		port = port * 10 + (unsigned)(*h - '0');
	}
	if (port == 0 || port > 65535)
		return INLET_EINVAL;
	out->port = port;
	return 0;
}

int sentry_auth_parse_dsn(const char *dsn, size_t len, struct sentry_dsn *out)
{
	const char *p = dsn, *end, *slash, *at, *colon, *last;
	size_t n;
	int rc = INLET_EINVAL;

	memset(out, 0, sizeof(*out));
	if (!dsn)
		goto out;
	end = dsn + len;
	if (len >= 8 && strncasecmp(p, "https://", 8) == 0) {
		memcpy(out->scheme, "https", 6);
		p += 8;
	} else if (len >= 7 && strncasecmp(p, "http://", 7) == 0) {
		memcpy(out->scheme, "http", 5);
		p += 7;
	} else {
		goto out;
	}
	slash = memchr(p, '/', (size_t)(end - p));
	if (!slash)
		goto out;
	at = memchr(p, '@', (size_t)(slash - p));
	if (!at)
		goto out;
	colon = memchr(p, ':', (size_t)(at - p));
	if (copy_key(out->key, p, (size_t)((colon ? colon : at) - p)))
		goto out;
	if (colon && colon + 1 < at && copy_key(out->secret, colon + 1, (size_t)(at - colon - 1)))
		goto out;
	if (take_host(out, at + 1, slash))
		goto out;
	/* The project id is the last segment; whatever lies between the host
	 * and it is the path prefix of a Sentry behind a sub-path. */
	last = last_slash(slash, end);
	if (copy_key(out->project, last + 1, (size_t)(end - last - 1)))
		goto out;
	n = (size_t)(last - slash);
	if (n > SENTRY_PATH_MAX)
		goto out;
	for (p = slash; p < last; p++)
		if (!path_char(*p))
			goto out;
	memcpy(out->path, slash, n);
	out->path[n] = '\0';
	rc = 0;
out:
	if (rc)
		memset(out, 0, sizeof(*out));
	return rc;
}
