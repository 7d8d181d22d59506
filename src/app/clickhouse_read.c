/* ClickHouse (app/clickhouse.h): the reads. They run on HTTP workers, each
 * on a handle of its own, and ask for TabSeparated: numbers as digits, and
 * the one string (a counter's name) with backslash escapes. Every statement
 * holds integers only, printed here, so no value needs quoting. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/clickhouse.h"
#include "app/clickhouse_int.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "store/events.h"

#define CH_READ_MS 5000L
#define CH_ANSWER_MAX (16u << 20) /* a year of days times every counter name fits many times */

/* Runs sql into ans; a failure is counted and logged with ClickHouse's
 * own message. */
static int query(struct ch *c, const char *sql, struct buf *ans)
{
	const struct ch_url *u = ch_url_of(c);
	CURL *h = ch_handle(u);
	char err[400] = "out of memory";
	int rc = h ? ch_request(h, u, sql, NULL, 0, CH_READ_MS, ans, err, sizeof(err)) : INLET_ENOMEM;

	curl_easy_cleanup(h);
	if (rc) {
		ch_note_read_error(c);
		log_msg(LOG_WARN, "clickhouse: read failed: %s", err);
	}
	return rc;
}

/* The next line of the answer (NUL-terminated in place), or NULL. */
static char *next_line(char **cursor)
{
	char *line = *cursor, *nl;

	if (!line || !*line)
		return NULL;
	nl = strchr(line, '\n');
	if (nl) {
		*nl = '\0';
		*cursor = nl + 1;
	} else {
		*cursor = NULL;
	}
	return line;
}

/* Splits line at tabs into exactly want fields; 0 or INLET_EIO. */
static int split(char *line, char **f, int want)
{
	int k = 0;

	f[k++] = line;
	for (char *p = line; *p; p++) {
		if (*p != '\t')
			continue;
		if (k == want)
			return INLET_EIO;
		*p = '\0';
		f[k++] = p + 1;
	}
	return k == want ? 0 : INLET_EIO;
}

static int parse_i64(const char *s, int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end)
		return INLET_EIO;
	*out = (int64_t)v;
	return 0;
}

/* TabSeparated's escapes, decoded in place. */
static void unescape(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (*s != '\\' || !s[1]) {
			*o++ = *s;
			continue;
		}
		switch (*++s) {
		case 't': *o++ = '\t'; break;
		case 'n': *o++ = '\n'; break;
		case 'r': *o++ = '\r'; break;
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case '0': *o++ = '\0'; break;
		default: *o++ = *s; break; /* \\ \' and the rest stand for themselves */
		}
	}
	*o = '\0';
}

static int bad_answer(struct ch *c, const char *what)
{
	ch_note_read_error(c);
	log_msg(LOG_WARN, "clickhouse: unexpected answer to the %s query", what);
	return INLET_EIO;
}

int ch_counts(struct ch *c, int64_t account_id, int64_t endpoint_id, int64_t from_day, int64_t to_day,
	      struct arena *a, struct ev_count **rows, size_t *n)
{
	char sql[512], only[64] = "", *cursor, *line, *f[3];
	size_t cap = 0;
	struct buf ans;
	int rc;

	*rows = NULL;
	*n = 0;
	/* endpoint_id < 0: every endpoint of the account and its own (0). */
	if (endpoint_id >= 0)
		snprintf(only, sizeof(only), " AND endpoint_id = %lld", (long long)endpoint_id);
	snprintf(sql, sizeof(sql),
		 "SELECT day, name, sum(n) FROM `%s`.counters WHERE account_id = %lld%s AND day >= %lld AND day <= %lld"
		 " GROUP BY day, name ORDER BY day, name FORMAT TabSeparated",
		 ch_url_of(c)->database, (long long)account_id, only, (long long)from_day, (long long)to_day);
	buf_init(&ans, CH_ANSWER_MAX);
	if ((rc = query(c, sql, &ans)))
		goto out;
	cursor = ans.data;
	while ((line = next_line(&cursor))) {
		struct ev_count *r;

		*rows = arena_grow(a, *rows, *n, &cap, sizeof(**rows));
		r = &(*rows)[*n];
		if (split(line, f, 3) || parse_i64(f[0], &r->day) || parse_i64(f[2], &r->n)) {
			rc = bad_answer(c, "counters");
			goto out;
		}
		unescape(f[1]);
		r->name = arena_strdup(a, f[1]);
		(*n)++;
	}
out:
	buf_free(&ans);
	return rc;
}

/* Lines of ncols integers into points (t, a[, b, c]). */
static int points(struct ch *c, const char *sql, int ncols, const char *what, struct arena *a,
		  struct ev_point **pts, size_t *n)
{
	char *cursor, *line, *f[4];
	size_t cap = 0;
	struct buf ans;
	int rc;

	*pts = NULL;
	*n = 0;
	buf_init(&ans, CH_ANSWER_MAX);
	if ((rc = query(c, sql, &ans)))
		goto out;
	cursor = ans.data;
	while ((line = next_line(&cursor))) {
		int64_t v[4] = { 0 };
		struct ev_point *p;

		if (split(line, f, ncols)) {
			rc = bad_answer(c, what);
			goto out;
		}
		for (int k = 0; k < ncols; k++) {
			if (parse_i64(f[k], &v[k])) {
				rc = bad_answer(c, what);
				goto out;
			}
		}
		*pts = arena_grow(a, *pts, *n, &cap, sizeof(**pts));
		p = &(*pts)[(*n)++];
		*p = (struct ev_point){ .t = v[0], .a = v[1], .b = v[2], .c = v[3] };
	}
out:
	buf_free(&ans);
	return rc;
}

int ch_issue_graph(struct ch *c, int64_t endpoint_id, int64_t issue_id, int64_t from, int64_t to,
		   int64_t bucket_ms, struct arena *a, struct ev_point **pts, size_t *n)
{
	char sql[600];

	if (bucket_ms <= 0)
		bucket_ms = EV_HOUR_MS;
	/* As issue_hours: an event counts in its hour, the hours in
	 * [from, to), each in the bucket that holds its start. from is a
	 * bucket's start (so a whole hour's). */
	snprintf(sql, sizeof(sql),
		 "SELECT intDiv(intDiv(ts, %lld) * %lld, %lld) * %lld AS t, count() FROM `%s`.events"
		 " WHERE endpoint_id = %lld AND issue_id = %lld AND ts >= %lld AND intDiv(ts, %lld) * %lld < %lld"
		 " GROUP BY t ORDER BY t FORMAT TabSeparated",
		 EV_HOUR_MS, EV_HOUR_MS, (long long)bucket_ms, (long long)bucket_ms, ch_url_of(c)->database,
		 (long long)endpoint_id, (long long)issue_id, (long long)from, EV_HOUR_MS, EV_HOUR_MS, (long long)to);
	return points(c, sql, 2, "issue graph", a, pts, n);
}

int ch_session_graph(struct ch *c, int64_t endpoint_id, int64_t from, int64_t to, struct arena *a,
		     struct ev_point **pts, size_t *n)
{
	char sql[400];

	snprintf(sql, sizeof(sql),
		 "SELECT hour, sum(sessions), sum(errored), sum(crashed) FROM `%s`.session_hours"
		 " WHERE endpoint_id = %lld AND hour >= %lld AND hour < %lld GROUP BY hour ORDER BY hour"
		 " FORMAT TabSeparated",
		 ch_url_of(c)->database, (long long)endpoint_id, (long long)from, (long long)to);
	return points(c, sql, 4, "sessions graph", a, pts, n);
}

int ch_ping(struct ch *c)
{
	const struct ch_url *u = ch_url_of(c);
	CURL *h = ch_handle(u);
	char err[400];
	struct buf ans;
	int rc;

	if (!h)
		return INLET_ENOMEM;
	buf_init(&ans, 1024);
	/* A real statement, not /ping: it proves the credentials too. */
	rc = ch_request(h, u, "SELECT 1", NULL, 0, 1000L, &ans, err, sizeof(err));
	buf_free(&ans);
	curl_easy_cleanup(h);
	return rc;
}
