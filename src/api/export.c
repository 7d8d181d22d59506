/* Exports (see export.h): a pull-based writer of an endpoint's submissions
 * in CSV, JSON or NDJSON, and the API route that streams one.
 *
 * Memory: one page of sealed rows (at most EXPORT_PAGE, fewer when rows are
 * large), one rendered row, and for CSV the column names (at most
 * EXPORT_MAX_COLUMNS). Nothing grows with the number of rows. */
#include "api/export.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "api/api.h"
#include "app/app.h"
#include "core/alloc.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/enc.h"
#include "core/err.h"
#include "core/log.h"
#include "http/http.h"
#include "store/subs.h"
#include "store/tenant.h"

/* A rendered row may not pass this (a record is at most an upload body,
 * 25 MiB by default; CSV quoting can double it). */
#define ROW_MAX ((size_t)64 << 20)
/* A page whose rows take more than this halves the next page; one under a
 * quarter of it doubles it again, up to EXPORT_PAGE. */
#define PAGE_BYTES ((size_t)8 << 20)
#define PAGE_MIN 16

static const char *const meta_keys[] = { "subject", "reply_to", "referrer", "origin",
					  "user_agent", "ip", "spam_reason" };
#define NMETA (sizeof(meta_keys) / sizeof(*meta_keys))

enum state { ST_START, ST_ROWS, ST_END, ST_DONE };

struct export {
	struct app *app;         /* borrowed; outlives the export */
	struct arena *arena;     /* the endpoint's copy */
	struct endpoint ep;      /* strings in arena */
	enum export_format format;
	struct sub_query q;      /* the next page: min_id moves past each page read */
	int64_t first_id;        /* the range's start, where the CSV's second pass begins */
	size_t page_size;        /* rows per read, PAGE_MIN..EXPORT_PAGE */
	struct arena *page;      /* the current page's rows; replaced per page */
	struct sub_row *rows;    /* in page */
	size_t nrows, next;      /* rows in the page; the next one to write */
	int more;                /* another page may follow this one */
	enum state state;
	int rc;                  /* first failure; sticky */
	struct buf out;          /* rendered bytes not handed out yet (one row at most) */
	size_t out_pos;          /* bytes of out already handed out */
	struct buf cell;         /* CSV: one cell's text while it is joined */
	json_object *cols;       /* CSV: field name -> NULL, in column order */
	int overflow;            /* CSV: names past EXPORT_MAX_COLUMNS were seen */
	struct export_stats st;
	export_progress_fn progress; /* export_write's; NULL for the API */
	void *progress_ctx;
	int64_t progress_ms;     /* monotonic ms of its last call */
};

int export_format_parse(const char *s, enum export_format *out)
{
	if (!strcmp(s, "csv"))
		*out = EXPORT_CSV;
	else if (!strcmp(s, "json"))
		*out = EXPORT_JSON;
	else if (!strcmp(s, "ndjson"))
		*out = EXPORT_NDJSON;
	else
		return INLET_EINVAL;
	return 0;
}

const char *export_content_type(enum export_format f)
{
	switch (f) {
	case EXPORT_CSV: return "text/csv; charset=utf-8; header=present";
	case EXPORT_JSON: return "application/json";
	default: return "application/x-ndjson";
	}
}

const char *export_ext(enum export_format f)
{
	switch (f) {
	case EXPORT_CSV: return "csv";
	case EXPORT_JSON: return "json";
	default: return "ndjson";
	}
}

void export_filename(const char *name, enum export_format f, int64_t ms, char *out, size_t size)
{
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&secs, &tm);
	snprintf(out, size, "%s-%04d-%02d-%02d.%s", name && *name ? name : "export", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, export_ext(f));
	/* A name is the user's: no path separators or control bytes in a file
	 * name someone saves as is. */
	for (char *p = out; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == '/' || *p == '\\')
			*p = '_';
}

/* ---- output ------------------------------------------------------------- */

static void put(struct export *x, const char *s, size_t n)
{
	int rc;

	if (!x->rc && (rc = buf_append(&x->out, s, n)))
		x->rc = rc;
}

static void puts_(struct export *x, const char *s)
{
	put(x, s, strlen(s));
}

static void put_json(struct export *x, json_object *o)
{
	size_t len;
	/* The flags of http_respond_json: a line is byte for byte the answer
	 * of GET /api/v1/submissions/{id}. */
	const char *s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);

	put(x, s, len);
}

/* One CSV cell (RFC 4180), after a comma unless first. A cell that a
 * spreadsheet would read as a formula gets a ' in front (OWASP). */
static void csv_cell(struct export *x, const char *s, size_t n, int first)
{
	int guard = n && s[0] && strchr("=+-@\t\r", s[0]);
	int quote = 0;

	for (size_t i = 0; i < n && !quote; i++)
		quote = s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n';
	if (!first)
		put(x, ",", 1);
	if (quote)
		put(x, "\"", 1);
	if (guard)
		put(x, "'", 1);
	if (!quote) {
		put(x, s, n);
		return;
	}
	for (const char *p = s, *end = s + n; p < end;) {
		const char *q = memchr(p, '"', (size_t)(end - p));
		size_t k = q ? (size_t)(q - p) + 1 : (size_t)(end - p);

		put(x, p, k);
		if (q)
			put(x, "\"", 1); /* the quote doubled */
		p += k;
	}
	put(x, "\"", 1);
}

static void csv_str(struct export *x, const char *s, int first)
{
	csv_cell(x, s ? s : "", s ? strlen(s) : 0, first);
}

/* A value as cell text: a string as it is, null as nothing, anything else
 * as its JSON. */
static void cell_scalar(struct export *x, json_object *v)
{
	const char *s;
	size_t len;
	int rc;

	if (!v)
		return;
	if (json_object_is_type(v, json_type_string)) {
		s = json_object_get_string(v);
		len = (size_t)json_object_get_string_len(v);
	} else {
		s = json_object_to_json_string_length(v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	}
	if (!x->rc && (rc = buf_append(&x->cell, s, len)))
		x->rc = rc;
}

/* A field's cell: a repeated field's values joined with ", ". */
static void csv_value(struct export *x, json_object *v)
{
	buf_reset(&x->cell);
	if (v && json_object_is_type(v, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(v); i++) {
			if (i && !x->rc && buf_append(&x->cell, ", ", 2))
				x->rc = INLET_ETOOBIG;
			cell_scalar(x, json_object_array_get_idx(v, i));
		}
	} else {
		cell_scalar(x, v);
	}
	csv_cell(x, x->cell.data ? x->cell.data : "", x->cell.len, 0);
}

static json_object *member(json_object *o, const char *key)
{
	json_object *v;

	return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

/* A field whose name is a fixed column's gets "fields." in the header, so
 * that every header names one thing. */
static int fixed_name(const char *name)
{
	static const char *const fixed[] = { "id", "created_at", "status", "files", "error", "other_fields" };

	for (size_t i = 0; i < sizeof(fixed) / sizeof(*fixed); i++)
		if (!strcmp(name, fixed[i]))
			return 1;
	return !strncmp(name, "meta.", 5) || !strncmp(name, "fields.", 7);
}

static void csv_header(struct export *x)
{
	csv_str(x, "id", 1);
	csv_str(x, "created_at", 0);
	csv_str(x, "status", 0);
	json_object_object_foreach(x->cols, name, unused)
	{
		(void)unused;
		if (fixed_name(name)) {
			buf_reset(&x->cell);
			if (buf_printf(&x->cell, "fields.%s", name))
				x->rc = INLET_ETOOBIG;
			csv_cell(x, x->cell.data, x->cell.len, 0);
		} else {
			csv_str(x, name, 0);
		}
	}
	if (x->overflow)
		csv_str(x, "other_fields", 0);
	csv_str(x, "files", 0);
	for (size_t i = 0; i < NMETA; i++) {
		buf_reset(&x->cell);
		if (buf_printf(&x->cell, "meta.%s", meta_keys[i]))
			x->rc = INLET_ETOOBIG;
		csv_cell(x, x->cell.data, x->cell.len, 0);
	}
	csv_str(x, "error", 0);
	put(x, "\r\n", 2);
}

static void csv_row(struct export *x, json_object *o, int orc)
{
	json_object *fields = member(o, "fields"), *files = member(o, "files"), *meta = member(o, "meta");

	csv_str(x, json_object_get_string(member(o, "id")), 1);
	csv_str(x, json_object_get_string(member(o, "created_at")), 0);
	csv_str(x, json_object_get_string(member(o, "status")), 0);
	json_object_object_foreach(x->cols, name, unused)
	{
		(void)unused;
		csv_value(x, member(fields, name));
	}
	if (x->overflow) {
		json_object *other = json_object_new_object();

		if (fields) {
			json_object_object_foreach(fields, fname, fval)
			{
				if (!json_object_object_get_ex(x->cols, fname, NULL))
					json_object_object_add(other, fname, json_object_get(fval));
			}
		}
		if (json_object_object_length(other))
			csv_value(x, other);
		else
			csv_str(x, "", 0);
		json_object_put(other);
	}
	buf_reset(&x->cell);
	for (size_t i = 0; files && i < json_object_array_length(files); i++) {
		if (i && !x->rc && buf_append(&x->cell, ", ", 2))
			x->rc = INLET_ETOOBIG;
		cell_scalar(x, member(json_object_array_get_idx(files, i), "name"));
	}
	csv_cell(x, x->cell.data ? x->cell.data : "", x->cell.len, 0);
	for (size_t i = 0; i < NMETA; i++)
		csv_value(x, member(meta, meta_keys[i]));
	csv_str(x, orc ? inlet_errname(orc) : "", 0);
	put(x, "\r\n", 2);
}

/* ---- reading ------------------------------------------------------------ */

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reports progress at most every 200 ms (pages go by much faster). */
static void tick(struct export *x)
{
	struct export_stats st;
	int64_t t;

	if (!x->progress || (t = mono_ms()) - x->progress_ms < 200)
		return;
	x->progress_ms = t;
	export_stats(x, &st);
	x->progress(x->progress_ctx, &st);
}

/* Reads the next page of x->q into a fresh page arena (the last one is
 * freed first); x->nrows is 0 at the end of the range. */
static int next_page(struct export *x)
{
	size_t used;
	int rc;

	arena_destroy(x->page);
	x->page = NULL;
	x->nrows = x->next = 0;
	if (!x->more)
		return 0;
	tick(x);
	x->page = arena_create(64 * 1024);
	x->q.limit = x->page_size;
	/* The store is looked up per page: if the endpoint moves to a database
	 * of its own meanwhile, the next page comes from there (ids stay). */
	if ((rc = substore_list(app_subs(x->app, x->ep.id), &x->q, x->page, &x->rows, &x->nrows)))
		return rc;
	x->more = x->nrows == x->page_size;
	if (x->nrows)
		x->q.min_id = x->rows[x->nrows - 1].id + 1;
	/* Large records make smaller pages, so a page stays a few MiB. */
	used = arena_used(x->page);
	if (used > PAGE_BYTES && x->page_size > PAGE_MIN)
		x->page_size /= 2;
	else if (used < PAGE_BYTES / 4 && x->page_size < EXPORT_PAGE)
		x->page_size = x->page_size * 2 > EXPORT_PAGE ? EXPORT_PAGE : x->page_size * 2;
	return 0;
}

static void add_names(struct export *x, json_object *fields)
{
	if (!fields || !json_object_is_type(fields, json_type_object))
		return;
	json_object_object_foreach(fields, name, unused)
	{
		(void)unused;
		if (json_object_object_get_ex(x->cols, name, NULL))
			continue;
		if (json_object_object_length(x->cols) >= EXPORT_MAX_COLUMNS)
			x->overflow = 1;
		else
			json_object_object_add(x->cols, name, NULL);
	}
}

/* The CSV's first pass: every field name of the range, in first-seen
 * order. The second pass then reads the same range, ending at the last row
 * seen here: a row added since could bring a name without a column. */
static int scan_columns(struct export *x, int (*stop)(void *), void *ctx)
{
	int64_t last = 0;
	int rc, orc;

	x->st.scanning = 1;
	for (;;) {
		if (stop && stop(ctx))
			return INLET_ESHUTDOWN;
		if ((rc = next_page(x)))
			return rc;
		if (!x->nrows)
			break;
		for (size_t i = 0; i < x->nrows; i++) {
			json_object *o = api_submission_json(x->app, &x->ep, &x->rows[i], &orc);

			if (!orc)
				add_names(x, member(o, "fields"));
			json_object_put(o);
			x->st.scanned++;
		}
		last = x->rows[x->nrows - 1].id;
	}
	x->st.scanning = 0;
	x->q.min_id = x->first_id;
	x->q.max_id = last + 1;
	x->more = last != 0;
	return 0;
}

static void render_row(struct export *x, const struct sub_row *row)
{
	int orc;
	json_object *o = api_submission_json(x->app, &x->ep, row, &orc);

	if (orc)
		x->st.unreadable++;
	if (x->format == EXPORT_CSV) {
		csv_row(x, o, orc);
	} else {
		if (x->format == EXPORT_JSON && x->st.rows)
			put(x, ",\n", 2);
		put_json(x, o);
		if (x->format == EXPORT_NDJSON)
			put(x, "\n", 1);
	}
	x->st.rows++;
	json_object_put(o);
}

int export_prepare(struct export *x, int (*stop)(void *), void *ctx)
{
	int rc;

	if (x->state != ST_START)
		return x->rc;
	if (x->format == EXPORT_CSV) {
		if ((rc = scan_columns(x, stop, ctx)))
			return x->rc = rc;
		csv_header(x);
	} else if (x->format == EXPORT_JSON) {
		puts_(x, "[\n");
	}
	x->state = ST_ROWS;
	return x->rc;
}

/* Renders the next piece (a header, a row, the end) into x->out. */
static int produce(struct export *x)
{
	int rc;

	switch (x->state) {
	case ST_START:
		return export_prepare(x, NULL, NULL);
	case ST_ROWS:
		if (x->next < x->nrows) {
			render_row(x, &x->rows[x->next++]);
			break;
		}
		if ((rc = next_page(x)))
			return rc;
		if (!x->nrows)
			x->state = ST_END;
		break;
	case ST_END:
		if (x->format == EXPORT_JSON)
			puts_(x, x->st.rows ? "\n]\n" : "]\n");
		x->state = ST_DONE;
		break;
	case ST_DONE:
		break;
	}
	return x->rc;
}

long export_read(struct export *x, char *buf, size_t max)
{
	size_t got = 0, n;
	int rc;

	/* As full as it goes: each call is a chunk (and a send) on the wire,
	 * and a row is far smaller than what MHD asks for. */
	while (got < max) {
		if (x->out_pos < x->out.len) {
			n = x->out.len - x->out_pos;
			if (n > max - got)
				n = max - got;
			memcpy(buf + got, x->out.data + x->out_pos, n);
			got += n;
			x->out_pos += n;
			if (x->out_pos == x->out.len) {
				/* A large row's buffer goes back rather than stay. */
				if (x->out.cap > ((size_t)1 << 20))
					buf_free(&x->out);
				else
					buf_reset(&x->out);
				x->out_pos = 0;
			}
			continue;
		}
		if (x->rc || x->state == ST_DONE)
			break;
		if ((rc = produce(x))) {
			/* A row half rendered never goes out; what went before did. */
			x->rc = rc;
			buf_reset(&x->out);
			x->out_pos = 0;
		}
	}
	if (got)
		return (long)got;
	return x->rc;
}

void export_stats(const struct export *x, struct export_stats *out)
{
	*out = x->st;
	out->columns = x->cols ? (size_t)json_object_object_length(x->cols) : 0;
}

int export_create(struct app *app, const struct endpoint *e, const struct export_opts *o, struct export **out)
{
	struct export *x = xcalloc(1, sizeof(*x));
	/* Rows that exist now: a busy endpoint's export still ends. */
	int64_t cap = (now_ms() + 1) << 20;

	x->app = app;
	x->arena = arena_create(1024);
	x->ep = *e;
	x->ep.pid = arena_strdup(x->arena, e->pid ? e->pid : "");
	x->ep.key = arena_strdup(x->arena, e->key ? e->key : "");
	x->ep.kind = arena_strdup(x->arena, e->kind ? e->kind : "");
	x->ep.name = arena_strdup(x->arena, e->name ? e->name : "");
	x->ep.settings = arena_strdup(x->arena, e->settings ? e->settings : "{}");
	x->ep.location = arena_strdup(x->arena, e->location ? e->location : "");
	x->format = o->format;
	x->q = (struct sub_query){ .endpoint_id = e->id, .min_id = o->min_id, .status = o->status,
				   .max_id = o->max_id && o->max_id < cap ? o->max_id : cap, .oldest_first = 1 };
	x->first_id = o->min_id;
	x->page_size = EXPORT_PAGE;
	x->more = 1;
	buf_init(&x->out, ROW_MAX);
	buf_init(&x->cell, ROW_MAX);
	if (o->format == EXPORT_CSV)
		x->cols = json_object_new_object();
	*out = x;
	return 0;
}

void export_destroy(struct export *x)
{
	if (!x)
		return;
	arena_destroy(x->page);
	arena_destroy(x->arena);
	buf_free(&x->out);
	buf_free(&x->cell);
	json_object_put(x->cols);
	free(x);
}

int export_write(struct export *x, int fd, export_progress_fn progress, void *ctx)
{
	char buf[64 * 1024];
	long n;

	x->progress = progress;
	x->progress_ctx = ctx;
	while ((n = export_read(x, buf, sizeof(buf))) > 0) {
		for (long off = 0; off < n;) {
			ssize_t w = write(fd, buf + off, (size_t)(n - off));

			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				return INLET_EIO;
			off += w;
		}
	}
	if (progress && n == 0) {
		struct export_stats st;

		export_stats(x, &st);
		progress(ctx, &st);
	}
	return (int)n;
}

/* ---- GET /api/v1/endpoints/{id}/export ---------------------------------- */

/* http_reader_fn: MHD's worker calls in turn until 0 or -1. A failure
 * after the status went out can only cut the stream (no last chunk). */
static long export_stream(void *ctx, uint64_t pos, char *buf, size_t max)
{
	struct export *x = ctx;
	long n = export_read(x, buf, max);

	if (n < 0) {
		log_msg(LOG_ERROR, "export of %s cut after %lld rows: %s", x->ep.pid, (long long)x->st.rows,
			inlet_strerror((int)n));
		return -1;
	}
	if (n == 0 && x->st.unreadable)
		log_msg(LOG_WARN, "export of %s: %lld of %lld rows could not be opened", x->ep.pid,
			(long long)x->st.unreadable, (long long)x->st.rows);
	return n;
}

static void export_free(void *ctx)
{
	export_destroy(ctx);
}

/* The answer's headers and body, once the export is prepared. */
static void respond(struct http_req *r, struct export *x, const char *name)
{
	api_disposition(r, name);
	/* Opened submissions: no cache keeps a copy. */
	http_add_header(r, "Cache-Control", "no-store");
	http_add_header(r, "X-Content-Type-Options", "nosniff");
	http_respond_chunked(r, 200, export_content_type(x->format), export_stream, x, export_free);
}

/* A CSV's first pass runs on a thread of its own while the request is
 * suspended: on an MHD worker it would hold every other connection of that
 * worker for as long as it reads (seconds for 100,000s of rows), and MHD
 * would close the idle connection past INLET_CONNECTION_TIMEOUT (suspended
 * connections do not time out). At most PREPARE_MAX run at once. */
#define PREPARE_MAX 4
static atomic_int preparing;

struct prep {
	struct http_req *r;  /* suspended until this thread resumes it */
	struct export *x;    /* owned until handed to the answer */
	char name[512];      /* the file name */
};

static int draining(void *ctx)
{
	return http_draining(ctx);
}

static void *prep_run(void *arg)
{
	struct prep *p = arg; /* in the request's arena: not touched after resume */
	struct http_req *r = p->r;
	int rc = export_prepare(p->x, draining, r);

	if (rc) {
		log_msg(rc == INLET_ESHUTDOWN ? LOG_INFO : LOG_ERROR, "export of %s: first pass ended: %s", p->x->ep.pid,
			inlet_strerror(rc));
		export_destroy(p->x);
		http_error_rc(r, rc);
	} else {
		respond(r, p->x, p->name);
	}
	atomic_fetch_sub(&preparing, 1);
	http_resume(r);
	return NULL;
}

void api_endpoint_export(struct http_req *r)
{
	struct app *app = http_app(r);
	struct sub_query q = { .status = -1 };
	struct export_opts o;
	struct export *x;
	struct endpoint e;
	struct prep *p;
	pthread_attr_t attr;
	pthread_t t;
	const char *fmt;
	char name[512];
	int64_t aid;
	int rc;

	if (api_auth(r, &aid) || api_endpoint(r, aid, &e))
		return;
	fmt = http_query(r, "format");
	if (!fmt || export_format_parse(fmt, &o.format)) {
		http_error(r, 400, "invalid", "format must be csv, json or ndjson.");
		return;
	}
	if (api_sub_filters(r, &q))
		return;
	o.min_id = q.min_id;
	o.max_id = q.max_id;
	o.status = q.status;
	if ((rc = export_create(app, &e, &o, &x))) {
		http_error_rc(r, rc);
		return;
	}
	export_filename(e.name, o.format, now_ms(), name, sizeof(name));
	/* HEAD gets the same headers and no body: no first pass for it. */
	if (o.format != EXPORT_CSV || !strcmp(http_method(r), "HEAD")) {
		respond(r, x, name);
		return;
	}
	if (atomic_fetch_add(&preparing, 1) >= PREPARE_MAX) {
		atomic_fetch_sub(&preparing, 1);
		export_destroy(x);
		http_add_header(r, "Retry-After", "5");
		http_error(r, 503, "busy", "Too many CSV exports are being prepared; retry in a few seconds.");
		return;
	}
	p = arena_zalloc(http_arena(r), sizeof(*p));
	p->r = r;
	p->x = x;
	snprintf(p->name, sizeof(p->name), "%s", name);
	http_suspend(r);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(&t, &attr, prep_run, p);
	pthread_attr_destroy(&attr);
	if (rc) {
		/* Suspended already (the thread could have resumed at once): the
		 * answer and the resume are this thread's now. */
		atomic_fetch_sub(&preparing, 1);
		export_destroy(x);
		http_error(r, 503, "busy", "The export could not start; retry in a few seconds.");
		http_resume(r);
	}
}
