/* Exports: an endpoint's submissions, opened, as one CSV, JSON or NDJSON
 * stream, produced page by page so that memory stays bounded whatever the
 * count. One exporter serves both the API (GET
 * /api/v1/endpoints/{id}/export, a chunked answer) and `inlet export`: the
 * caller pulls bytes with export_read and sends or writes them.
 *
 * What goes out:
 *   - rows oldest first (ascending id), as a file is read top to bottom;
 *   - only rows that existed when the export started (ids below its start
 *     time), so a busy endpoint's export ends;
 *   - ndjson: one object per line, the shape of GET /api/v1/submissions/{id};
 *     json: an array of the same objects;
 *   - csv (RFC 4180: UTF-8, CRLF, quoted when needed, quotes doubled): id,
 *     created_at, status, one column per field name in first-seen order
 *     (repeated values joined with ", "), files (names joined with ", "),
 *     meta.subject, meta.reply_to, meta.referrer, meta.origin,
 *     meta.user_agent, meta.ip, meta.spam_reason, error. A field named like
 *     a fixed column gets the header "fields.<name>". Field columns are found
 *     by a first pass over the rows; past EXPORT_MAX_COLUMNS names, a row's
 *     other fields go as a JSON object into the column other_fields, after
 *     the field columns. The second pass ends at the last row the first one
 *     saw, so no new row brings a name without a column; only a row that
 *     comes to match ?status= between the passes could, and such a value is
 *     left out unless other_fields exists. Every cell (headers too) that
 *     starts with = + - @ tab or CR gets a ' in front, so a spreadsheet
 *     shows it as text instead of running it as a formula (OWASP's advice
 *     against CSV injection).
 *   - a row that cannot be opened (tampered, key missing) does not stop the
 *     export: it goes out as {id, endpoint_id, created_at, status, error}
 *     (json, ndjson) or with only id, created_at, status and error (csv),
 *     and is counted. A store failure stops the export with an error.
 *
 * Threads: an exporter is used by one thread at a time (the API's CSV
 * first-pass thread, then MHD workers in turn; or the CLI). It reads
 * through the app's reader pools only. */
#ifndef INLET_API_EXPORT_H
#define INLET_API_EXPORT_H

#include <stddef.h>
#include <stdint.h>

struct app;
struct endpoint;
struct export;

/* Rows per store read; fewer when rows are large (see export.c). */
#define EXPORT_PAGE 500
/* Distinct field names that get a CSV column of their own. */
#define EXPORT_MAX_COLUMNS 1000

enum export_format { EXPORT_CSV, EXPORT_JSON, EXPORT_NDJSON };

struct export_opts {
	enum export_format format;
	int64_t min_id; /* inclusive; 0: from the first */
	int64_t max_id; /* exclusive; 0: up to the export's start */
	int status;     /* enum sub_status, or -1 for any */
};

struct export_stats {
	int scanning;       /* 1 while the CSV's first pass looks for field names */
	int64_t scanned;    /* rows seen by that first pass */
	int64_t rows;       /* rows written */
	int64_t unreadable; /* of which could not be opened */
	size_t columns;     /* CSV field columns */
};

/* "csv", "json", "ndjson"; INLET_EINVAL otherwise. */
int export_format_parse(const char *s, enum export_format *out);
/* The media type and the file extension of a format (static strings). */
const char *export_content_type(enum export_format f);
const char *export_ext(enum export_format f);
/* "<name>-<YYYY-MM-DD>.<ext>" (UTC date of ms) into out. */
void export_filename(const char *name, enum export_format f, int64_t ms, char *out, size_t size);

/* Prepares an export of e's submissions (e is copied: the caller may free
 * it). Nothing is read before the first export_read. */
int export_create(struct app *app, const struct endpoint *e, const struct export_opts *o, struct export **out);
/* Runs what comes before the first byte: for CSV the first pass over the
 * rows (field names) and the header. stop(ctx), if given, is asked before
 * each page; when it says 1 the pass ends with INLET_ESHUTDOWN. Optional:
 * export_read runs it (without stop) if it has not run. */
int export_prepare(struct export *x, int (*stop)(void *), void *ctx);
/* Up to max bytes of the export into buf: the count (> 0), 0 at the end,
 * or a negative INLET_E* code, which sticks. Blocks on the store (and, in
 * CSV, the first call runs the whole first pass). */
long export_read(struct export *x, char *buf, size_t max);
void export_stats(const struct export *x, struct export_stats *out);
/* The whole export into fd (the CLI). progress(ctx, stats), if given, runs
 * every 200 ms or so, while the CSV's first pass too, and once at the end.
 * 0, INLET_EIO when a write fails, or export_read's error. */
typedef void (*export_progress_fn)(void *ctx, const struct export_stats *st);
int export_write(struct export *x, int fd, export_progress_fn progress, void *ctx);
/* Accepts NULL. */
void export_destroy(struct export *x);

#endif
