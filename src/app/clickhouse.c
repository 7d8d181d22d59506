/* ClickHouse (app/clickhouse.h): the URL, the HTTP calls, the bounded queue
 * and its sender thread. The reads are in clickhouse_read.c. */
#include "app/clickhouse.h"

#include <curl/curl.h>
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "app/clickhouse_int.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/enc.h"
#include "core/err.h"
#include "core/log.h"
#include "store/events.h"

#define CH_BACKOFF_MIN_MS 200
#define CH_BACKOFF_MAX_MS 5000
#define CH_CONNECT_MS 1000L
#define CH_INSERT_MS 10000L   /* one insert (or DDL) while running */
#define CH_STOP_MS 2000L      /* one insert at shutdown */
#define CH_FLUSH_WAIT_MS 5000 /* ch_flush gives up after this */
#define CH_BODY_MAX (64u << 20)

/* ---- the URL ------------------------------------------------------------- */

static int copy_part(char *dst, size_t size, const char *src)
{
	return snprintf(dst, size, "%s", src ? src : "") >= (int)size ? INLET_EINVAL : 0;
}

int ch_url_parse(const char *url, struct ch_url *out)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *user = NULL, *pass = NULL, *port = NULL, *path = NULL, *extra = NULL,
	     *base = NULL, *db;
	size_t len;
	int rc = INLET_EINVAL, https;

	memset(out, 0, sizeof(*out));
	if (!u || !url || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK)
		goto out;
	https = strcmp(scheme, "https") == 0;
	if (!https && strcmp(scheme, "http") != 0)
		goto out;
	/* A query string or fragment would be silently ignored: refuse it. */
	if (curl_url_get(u, CURLUPART_QUERY, &extra, 0) == CURLUE_OK)
		goto out;
	if (curl_url_get(u, CURLUPART_FRAGMENT, &extra, 0) == CURLUE_OK)
		goto out;
	if (curl_url_get(u, CURLUPART_USER, &user, CURLU_URLDECODE) == CURLUE_OK &&
	    copy_part(out->user, sizeof(out->user), user))
		goto out;
	if (curl_url_get(u, CURLUPART_PASSWORD, &pass, CURLU_URLDECODE) == CURLUE_OK &&
	    copy_part(out->password, sizeof(out->password), pass))
		goto out;
	if (curl_url_get(u, CURLUPART_PORT, &port, 0) != CURLUE_OK &&
	    curl_url_set(u, CURLUPART_PORT, https ? "8443" : "8123", 0) != CURLUE_OK)
		goto out;
	if (curl_url_get(u, CURLUPART_PATH, &path, CURLU_URLDECODE) != CURLUE_OK)
		goto out;
	db = path[0] == '/' ? path + 1 : path;
	len = strlen(db);
	if (len && db[len - 1] == '/')
		db[--len] = '\0';
	if (!len)
		db = "inlet";
	/* The name goes into SQL between backquotes: letters, digits, _. */
	for (const char *p = db; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '_')
			goto out;
	if (copy_part(out->database, sizeof(out->database), db))
		goto out;
	/* The base never carries the credentials: it is logged. */
	if (curl_url_set(u, CURLUPART_USER, NULL, 0) != CURLUE_OK ||
	    curl_url_set(u, CURLUPART_PASSWORD, NULL, 0) != CURLUE_OK ||
	    curl_url_set(u, CURLUPART_PATH, "/", 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_URL, &base, 0) != CURLUE_OK || copy_part(out->base, sizeof(out->base), base))
		goto out;
	rc = 0;
out:
	if (pass)
		secure_wipe(pass, strlen(pass));
	curl_free(scheme);
	curl_free(user);
	curl_free(pass);
	curl_free(port);
	curl_free(path);
	curl_free(extra);
	curl_free(base);
	curl_url_cleanup(u);
	if (rc)
		secure_wipe(out, sizeof(*out));
	return rc;
}

/* ---- HTTP ---------------------------------------------------------------- */

CURL *ch_handle(const struct ch_url *u)
{
	CURL *h = curl_easy_init();

	if (!h)
		return NULL;
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_PROXY, ""); /* never a proxy from the environment */
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, CH_CONNECT_MS);
	if (u->user[0]) {
		curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(h, CURLOPT_USERNAME, u->user);
		curl_easy_setopt(h, CURLOPT_PASSWORD, u->password);
	}
	return h;
}

static size_t on_answer(char *p, size_t size, size_t nmemb, void *ud)
{
	size_t n = size * nmemb;

	/* Past the cap the transfer stops (CURLE_WRITE_ERROR). */
	return buf_append(ud, p, n) ? 0 : n;
}

/* The first line of what ClickHouse said (its exception), or curl's error. */
static void why(char *err, size_t size, const struct buf *ans, long status, const char *curl_err)
{
	if (status && ans->len) {
		size_t n = strcspn(ans->data, "\n");

		snprintf(err, size, "HTTP %ld: %.*s", status, (int)(n < 300 ? n : 300), ans->data);
	} else if (status) {
		snprintf(err, size, "HTTP %ld", status);
	} else {
		snprintf(err, size, "%s", curl_err);
	}
}

int ch_request(CURL *h, const struct ch_url *u, const char *query, const char *body, size_t len,
	       long timeout_ms, struct buf *ans, char *err, size_t errsize)
{
	char curl_err[CURL_ERROR_SIZE] = "", *q = NULL, *url = NULL;
	long status = 0;
	CURLcode cc;
	int rc = INLET_EIO;

	buf_reset(ans);
	if (body) {
		/* An insert: the statement in the URL, the rows in the body. */
		if (!(q = curl_easy_escape(h, query, 0))) {
			snprintf(err, errsize, "out of memory");
			return INLET_ENOMEM;
		}
		url = xasprintf("%s?query=%s", u->base, q);
	} else {
		body = query;
		len = strlen(query);
	}
	curl_easy_setopt(h, CURLOPT_URL, url ? url : u->base);
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_answer);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, ans);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_err);
	cc = curl_easy_perform(h);
	if (cc == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (cc == CURLE_OK && status == 200)
		rc = 0;
	else
		why(err, errsize, ans, status, curl_err[0] ? curl_err : curl_easy_strerror(cc));
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
	curl_free(q);
	free(url);
	return rc;
}

/* ---- the queue ------------------------------------------------------------ */

enum ch_table { T_DONE, T_COUNTS, T_EVENTS, T_SESSIONS };
#define NTABLES 4

static const char *const table_names[NTABLES] = { NULL, "counters", "events", "session_hours" };

static const char *const levels[] = { "fatal", "error", "warning", "info", "debug", "other" };
static const char *const kinds[] = { "sentry", "trackx", "report", "other" };

/* One row to send. Levels and kinds are indexes into the vocabularies
 * above: no string a client chose is ever sent. */
struct ch_row {
	uint8_t table;            /* enum ch_table; T_DONE: its table's insert went
				   * while another table's failed, so not sent again */
	int64_t added_ms;         /* monotonic, when queued: it waits flush_ms at most */
	int64_t account_id, endpoint_id;
	union {
		struct { int64_t day, n; char name[48]; } count;
		struct { int64_t id, issue_id, ts; uint8_t level, kind, has_sid, sid[EV_SID_BYTES]; } event;
		struct { int64_t hour, sessions, errored, crashed; } hour;
	} u;
};

#define CH_DELETES_MAX 64

struct ch {
	struct ch_url url;        /* read-only after create */
	size_t batch_rows, flush_ms, cap; /* read-only after create */
	pthread_t thread;
	int started;
	pthread_mutex_t lock;
	pthread_cond_t wake;      /* the sender: rows, a flush, a delete, the stop */
	pthread_cond_t progress;  /* flush waiters: an attempt ended */
	/* The ring, under lock: rows with sequence numbers [head, tail) wait
	 * at ring[seq % cap]; the sender copies [head, inflight_end) out while
	 * it sends them, and only advances head once they are in. */
	struct ch_row *ring;
	uint64_t head, tail, inflight_end;
	int64_t deletes[CH_DELETES_MAX]; /* endpoints whose rows go, after the rows before them */
	size_t ndeletes;
	int flush_wanted;         /* a reader waits: send now, whatever the age */
	int stopping;
	int down;                 /* the last attempt failed */
	int schema_ok;            /* the tables exist (as far as the last attempt knows) */
	int64_t retry_at;         /* monotonic ms; no attempt before, while down */
	unsigned backoff_ms;
	unsigned long long sent, dropped, failures, read_errors; /* for /metrics */
	/* The sender's own (no lock): its connection and its copy of a batch. */
	CURL *h;
	struct ch_row *batch;
	struct buf body, ans;
};

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint8_t vocab(const char *const *words, size_t n, const char *s)
{
	for (size_t i = 0; s && i + 1 < n; i++)
		if (strcasecmp(s, words[i]) == 0)
			return (uint8_t)i;
	return (uint8_t)(n - 1);
}

/* Takes a slot at the tail (under lock). Full: the oldest row goes, and is
 * counted as dropped unless the sender holds a copy of it (its attempt
 * decides). */
static struct ch_row *push(struct ch *c)
{
	struct ch_row *r;

	if (c->tail - c->head == c->cap) {
		if (c->head >= c->inflight_end)
			c->dropped++;
		c->head++;
	}
	r = &c->ring[c->tail++ % c->cap];
	memset(r, 0, sizeof(*r));
	r->added_ms = mono_ms();
	return r;
}

/* Wakes the sender when the queue starts (so it times the wait) or a batch
 * is full; otherwise it sleeps on. Under lock. */
static void pushed(struct ch *c)
{
	uint64_t n = c->tail - c->head;

	if (n == 1 || n >= c->batch_rows)
		pthread_cond_signal(&c->wake);
}

void ch_add_counts(struct ch *c, const struct ev_count_delta *d, size_t n)
{
	if (!c || !n)
		return;
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < n; i++) {
		struct ch_row *r = push(c);

		r->table = T_COUNTS;
		r->account_id = d[i].account_id;
		r->endpoint_id = d[i].endpoint_id;
		r->u.count.day = d[i].day;
		r->u.count.n = d[i].n;
		snprintf(r->u.count.name, sizeof(r->u.count.name), "%s", d[i].name);
	}
	pushed(c);
	pthread_mutex_unlock(&c->lock);
}

void ch_add_event(struct ch *c, const struct ch_event *e)
{
	struct ch_row *r;

	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	r = push(c);
	r->table = T_EVENTS;
	r->account_id = e->account_id;
	r->endpoint_id = e->endpoint_id;
	r->u.event.id = e->id;
	r->u.event.issue_id = e->issue_id;
	r->u.event.ts = e->ts;
	r->u.event.level = vocab(levels, sizeof(levels) / sizeof(*levels), e->level);
	r->u.event.kind = vocab(kinds, sizeof(kinds) / sizeof(*kinds), e->kind);
	if (e->sid) {
		r->u.event.has_sid = 1;
		memcpy(r->u.event.sid, e->sid, EV_SID_BYTES);
	}
	pushed(c);
	pthread_mutex_unlock(&c->lock);
}

void ch_add_session_hour(struct ch *c, int64_t account_id, int64_t endpoint_id, int64_t hour_ms,
			 int64_t sessions, int64_t errored, int64_t crashed)
{
	struct ch_row *r;

	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	r = push(c);
	r->table = T_SESSIONS;
	r->account_id = account_id;
	r->endpoint_id = endpoint_id;
	r->u.hour.hour = hour_ms - hour_ms % EV_HOUR_MS;
	r->u.hour.sessions = sessions;
	r->u.hour.errored = errored;
	r->u.hour.crashed = crashed;
	pushed(c);
	pthread_mutex_unlock(&c->lock);
}

void ch_delete_endpoint(struct ch *c, int64_t endpoint_id)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	if (c->ndeletes < CH_DELETES_MAX)
		c->deletes[c->ndeletes++] = endpoint_id;
	else
		log_msg(LOG_WARN, "clickhouse: too many endpoint deletions queued; rows of endpoint %lld stay",
			(long long)endpoint_id);
	pthread_cond_signal(&c->wake);
	pthread_mutex_unlock(&c->lock);
}

/* ---- the sender ------------------------------------------------------------ */

static int row_json(struct buf *b, const struct ch_row *r)
{
	char esc[6 * sizeof(r->u.count.name) + 1], sid[2 * EV_SID_BYTES + 1] = "";

	switch (r->table) {
	case T_COUNTS:
		json_escape_into(esc, sizeof(esc), r->u.count.name, strlen(r->u.count.name));
		return buf_printf(b, "{\"account_id\":%lld,\"endpoint_id\":%lld,\"day\":%lld,\"name\":\"%s\",\"n\":%lld}\n",
				  (long long)r->account_id, (long long)r->endpoint_id, (long long)r->u.count.day, esc,
				  (long long)r->u.count.n);
	case T_EVENTS:
		if (r->u.event.has_sid)
			hex_encode(sid, r->u.event.sid, EV_SID_BYTES);
		return buf_printf(b, "{\"id\":%lld,\"account_id\":%lld,\"endpoint_id\":%lld,\"issue_id\":%lld,\"ts\":%lld,"
				  "\"level\":\"%s\",\"kind\":\"%s\",\"sid\":\"%s\"}\n",
				  (long long)r->u.event.id, (long long)r->account_id, (long long)r->endpoint_id,
				  (long long)r->u.event.issue_id, (long long)r->u.event.ts, levels[r->u.event.level],
				  kinds[r->u.event.kind], sid);
	case T_SESSIONS:
		return buf_printf(b, "{\"account_id\":%lld,\"endpoint_id\":%lld,\"hour\":%lld,\"sessions\":%lld,"
				  "\"errored\":%lld,\"crashed\":%lld}\n",
				  (long long)r->account_id, (long long)r->endpoint_id, (long long)r->u.hour.hour,
				  (long long)r->u.hour.sessions, (long long)r->u.hour.errored, (long long)r->u.hour.crashed);
	default:
		return 0;
	}
}

static int ensure_schema(struct ch *c, long timeout_ms, char *err, size_t errsize)
{
	/* SummingMergeTree folds equal keys in the background; reads sum()
	 * anyway, so an unmerged part answers the same. Partitions by month. */
	static const char *const ddl[] = {
		"CREATE DATABASE IF NOT EXISTS `%s`",
		"CREATE TABLE IF NOT EXISTS `%s`.counters (account_id Int64, endpoint_id Int64, day Int32,"
		" name String, n Int64) ENGINE = SummingMergeTree(n)"
		" PARTITION BY toYYYYMM(toDate(toUInt16(day))) ORDER BY (account_id, endpoint_id, day, name)",
		"CREATE TABLE IF NOT EXISTS `%s`.events (id Int64, account_id Int64, endpoint_id Int64,"
		" issue_id Int64, ts Int64, level String, kind String, sid String) ENGINE = MergeTree()"
		" PARTITION BY toYYYYMM(toDate(toUInt16(intDiv(ts, 86400000)))) ORDER BY (endpoint_id, issue_id, ts)",
		"CREATE TABLE IF NOT EXISTS `%s`.session_hours (account_id Int64, endpoint_id Int64, hour Int64,"
		" sessions Int64, errored Int64, crashed Int64) ENGINE = SummingMergeTree((sessions, errored, crashed))"
		" PARTITION BY toYYYYMM(toDate(toUInt16(intDiv(hour, 86400000)))) ORDER BY (endpoint_id, hour)",
	};
	char sql[512];
	int rc = 0;

	for (size_t i = 0; i < sizeof(ddl) / sizeof(*ddl) && !rc; i++) {
		snprintf(sql, sizeof(sql), ddl[i], c->url.database);
		rc = ch_request(c->h, &c->url, sql, NULL, 0, timeout_ms, &c->ans, err, errsize);
	}
	return rc;
}

/* One insert per table of the batch's rows; bit t of *ok set when table t's
 * rows are in (or it had none). */
static int send_rows(struct ch *c, size_t n, long timeout_ms, unsigned *ok, char *err, size_t errsize)
{
	char sql[160];
	int rc = 0;

	*ok = 0;
	for (int t = T_COUNTS; t < NTABLES; t++) {
		int trc = 0;

		buf_reset(&c->body);
		for (size_t i = 0; i < n && !trc; i++)
			if (c->batch[i].table == t)
				trc = row_json(&c->body, &c->batch[i]);
		if (!trc && c->body.len) {
			snprintf(sql, sizeof(sql), "INSERT INTO `%s`.%s FORMAT JSONEachRow", c->url.database, table_names[t]);
			trc = ch_request(c->h, &c->url, sql, c->body.data, c->body.len, timeout_ms, &c->ans, err, errsize);
			log_msg(LOG_DEBUG, "clickhouse: insert into %s, %zu bytes: %s", table_names[t], c->body.len,
				trc ? err : "ok");
		} else if (trc) {
			snprintf(err, errsize, "batch body over %u bytes", CH_BODY_MAX);
		}
		if (trc)
			rc = trc;
		else
			*ok |= 1u << t;
	}
	return rc;
}

static int send_deletes(struct ch *c, const int64_t *ids, size_t n, long timeout_ms, char *err, size_t errsize)
{
	char sql[160];
	int rc = 0;

	for (size_t i = 0; i < n && !rc; i++)
		for (int t = T_COUNTS; t < NTABLES && !rc; t++) {
			snprintf(sql, sizeof(sql), "ALTER TABLE `%s`.%s DELETE WHERE endpoint_id = %lld", c->url.database,
				 table_names[t], (long long)ids[i]);
			rc = ch_request(c->h, &c->url, sql, NULL, 0, timeout_ms, &c->ans, err, errsize);
		}
	return rc;
}

/* One attempt: the schema if needed, then up to batch_rows rows from the
 * head, then (once the queue is empty) the deletions. Called and returns
 * with the lock held; the network is used without it. */
static void attempt(struct ch *c, long timeout_ms)
{
	uint64_t start = c->head, end = c->tail - c->head > c->batch_rows ? c->head + c->batch_rows : c->tail;
	int64_t dels[CH_DELETES_MAX];
	size_t n = (size_t)(end - start), ndel = 0, fresh = 0;
	char err[400] = "";
	unsigned ok = 0;
	int rc = 0, was_down = c->down, need_schema = !c->schema_ok;

	for (size_t i = 0; i < n; i++) {
		c->batch[i] = c->ring[(start + i) % c->cap];
		fresh += c->batch[i].table != T_DONE;
	}
	if (end == c->tail) {
		ndel = c->ndeletes;
		memcpy(dels, c->deletes, ndel * sizeof(*dels));
	}
	c->inflight_end = end;
	pthread_mutex_unlock(&c->lock);

	if (need_schema)
		rc = ensure_schema(c, timeout_ms, err, sizeof(err));
	if (!rc && n)
		rc = send_rows(c, n, timeout_ms, &ok, err, sizeof(err));
	if (!rc && ndel)
		rc = send_deletes(c, dels, ndel, timeout_ms, err, sizeof(err));

	pthread_mutex_lock(&c->lock);
	c->inflight_end = 0;
	if (!rc) {
		/* Rows the queue let go of meanwhile went too: counted as sent. */
		c->sent += fresh;
		if (c->head < end)
			c->head = end;
		c->ndeletes -= ndel;
		memmove(c->deletes, c->deletes + ndel, c->ndeletes * sizeof(*c->deletes));
		c->schema_ok = 1;
		c->down = 0;
		c->backoff_ms = 0;
		if (c->head == c->tail)
			c->flush_wanted = 0;
		if (was_down)
			log_msg(LOG_INFO, "clickhouse: reachable again; the queued rows are going out");
	} else {
		/* Rows of the tables that went are not sent twice. */
		for (uint64_t s = c->head > start ? c->head : start; s < end; s++) {
			struct ch_row *r = &c->ring[s % c->cap];

			if (r->table != T_DONE && (ok & (1u << r->table))) {
				r->table = T_DONE;
				c->sent++;
			}
		}
		/* Rows the queue let go of during the attempt: lost unless their
		 * table's insert went. */
		for (uint64_t s = start; s < c->head && s < end; s++) {
			const struct ch_row *r = &c->batch[s - start];

			if (r->table != T_DONE && (ok & (1u << r->table)))
				c->sent++;
			else if (r->table != T_DONE)
				c->dropped++;
		}
		c->failures++;
		c->schema_ok = 0; /* a ClickHouse started afresh has no tables */
		c->down = 1;
		c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : CH_BACKOFF_MIN_MS;
		if (c->backoff_ms > CH_BACKOFF_MAX_MS)
			c->backoff_ms = CH_BACKOFF_MAX_MS;
		c->retry_at = mono_ms() + c->backoff_ms;
		if (!was_down)
			log_msg(LOG_WARN, "clickhouse: %s; keeping up to %zu rows and retrying", err, c->cap);
	}
	pthread_cond_broadcast(&c->progress);
}

static void timed_wait(struct ch *c, int64_t until_ms)
{
	struct timespec ts;
	int64_t left = until_ms - mono_ms();

	if (left <= 0)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += left / 1000;
	ts.tv_nsec += (left % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_cond_timedwait(&c->wake, &c->lock, &ts);
}

static void *sender(void *arg)
{
	struct ch *c = arg;

	pthread_mutex_lock(&c->lock);
	while (!c->stopping) {
		uint64_t queued = c->tail - c->head;
		int64_t now = mono_ms();

		if (!queued && !c->ndeletes && c->schema_ok) {
			pthread_cond_wait(&c->wake, &c->lock);
		} else if (c->down) {
			/* A backlog goes as soon as the retry is due, whatever its age. */
			if (now < c->retry_at)
				timed_wait(c, c->retry_at);
			else
				attempt(c, CH_INSERT_MS);
		} else if (queued && queued < c->batch_rows && !c->flush_wanted && !c->ndeletes && c->schema_ok &&
			   now < c->ring[c->head % c->cap].added_ms + (int64_t)c->flush_ms) {
			timed_wait(c, c->ring[c->head % c->cap].added_ms + (int64_t)c->flush_ms);
		} else {
			attempt(c, CH_INSERT_MS);
		}
	}
	/* Stopping: what is queued goes now, in one attempt per batch while
	 * ClickHouse takes them (the first one even if it seemed away). */
	for (int first = 1; (c->tail > c->head || c->ndeletes) && (first || !c->down); first = 0)
		attempt(c, CH_STOP_MS);
	if (c->tail > c->head)
		log_msg(LOG_WARN, "clickhouse: %llu rows not sent at shutdown (the embedded rollups have them)",
			(unsigned long long)(c->tail - c->head));
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

/* ---- life ------------------------------------------------------------------ */

int ch_create(const struct ch_config *cfg, struct ch **out)
{
	struct ch *c = xcalloc(1, sizeof(*c));
	pthread_condattr_t ca;
	int rc;

	*out = NULL;
	if ((rc = ch_url_parse(cfg->url, &c->url))) {
		free(c);
		return rc;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	c->cap = cfg->backlog_rows ? cfg->backlog_rows : 100000;
	c->batch_rows = cfg->batch_rows && cfg->batch_rows < c->cap ? cfg->batch_rows : c->cap;
	c->flush_ms = cfg->flush_ms ? cfg->flush_ms : 1000;
	/* calloc: pages of the ring that are never used cost nothing. */
	c->ring = xcalloc(c->cap, sizeof(*c->ring));
	c->batch = xcalloc(c->batch_rows, sizeof(*c->batch));
	buf_init(&c->body, CH_BODY_MAX);
	buf_init(&c->ans, 64 * 1024);
	pthread_mutex_init(&c->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->wake, &ca);
	pthread_cond_init(&c->progress, &ca);
	pthread_condattr_destroy(&ca);
	if (!(c->h = ch_handle(&c->url)) || pthread_create(&c->thread, NULL, sender, c)) {
		ch_destroy(c);
		return INLET_EINTERNAL;
	}
	c->started = 1;
	log_msg(LOG_INFO, "clickhouse: analytics go to %s, database %s", c->url.base, c->url.database);
	*out = c;
	return 0;
}

void ch_destroy(struct ch *c)
{
	if (!c)
		return;
	if (c->started) {
		pthread_mutex_lock(&c->lock);
		c->stopping = 1;
		pthread_cond_signal(&c->wake);
		pthread_mutex_unlock(&c->lock);
		pthread_join(c->thread, NULL);
	}
	curl_easy_cleanup(c->h);
	buf_free(&c->body);
	buf_free(&c->ans);
	free(c->batch);
	free(c->ring);
	pthread_cond_destroy(&c->wake);
	pthread_cond_destroy(&c->progress);
	pthread_mutex_destroy(&c->lock);
	secure_wipe(&c->url, sizeof(c->url));
	free(c);
}

/* ---- for readers ----------------------------------------------------------- */

int ch_flush(struct ch *c)
{
	uint64_t target;
	int64_t deadline = mono_ms() + CH_FLUSH_WAIT_MS;
	int rc = 0;

	pthread_mutex_lock(&c->lock);
	target = c->tail;
	if (c->head < target && c->down) {
		rc = INLET_EIO;
		goto out;
	}
	if (c->head < target) {
		c->flush_wanted = 1;
		pthread_cond_signal(&c->wake);
	}
	while (c->head < target && !c->down && !c->stopping && mono_ms() < deadline) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += 100 * 1000000L; /* re-checks the deadline every 100 ms */
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&c->progress, &c->lock, &ts);
	}
	if (c->head < target)
		rc = INLET_EIO;
out:
	pthread_mutex_unlock(&c->lock);
	return rc;
}

const struct ch_url *ch_url_of(const struct ch *c)
{
	return &c->url;
}

void ch_note_read_error(struct ch *c)
{
	pthread_mutex_lock(&c->lock);
	c->read_errors++;
	pthread_mutex_unlock(&c->lock);
}

int ch_metrics_render(struct ch *c, struct buf *out)
{
	unsigned long long sent, dropped, failures, read_errors, backlog;
	int up;

	pthread_mutex_lock(&c->lock);
	sent = c->sent;
	dropped = c->dropped;
	failures = c->failures;
	read_errors = c->read_errors;
	backlog = c->tail - c->head;
	up = !c->down;
	pthread_mutex_unlock(&c->lock);
	return buf_printf(out,
			  "# HELP inlet_clickhouse_rows_sent_total Rows inserted into ClickHouse.\n"
			  "# TYPE inlet_clickhouse_rows_sent_total counter\ninlet_clickhouse_rows_sent_total %llu\n"
			  "# HELP inlet_clickhouse_rows_dropped_total Rows let go of while ClickHouse was away "
			  "(the backlog was full).\n"
			  "# TYPE inlet_clickhouse_rows_dropped_total counter\ninlet_clickhouse_rows_dropped_total %llu\n"
			  "# TYPE inlet_clickhouse_backlog_rows gauge\ninlet_clickhouse_backlog_rows %llu\n"
			  "# TYPE inlet_clickhouse_insert_failures_total counter\ninlet_clickhouse_insert_failures_total %llu\n"
			  "# HELP inlet_clickhouse_read_errors_total Reads answered from the embedded rollups instead.\n"
			  "# TYPE inlet_clickhouse_read_errors_total counter\ninlet_clickhouse_read_errors_total %llu\n"
			  "# TYPE inlet_clickhouse_up gauge\ninlet_clickhouse_up %d\n",
			  sent, dropped, backlog, failures, read_errors, up);
}
