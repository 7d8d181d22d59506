/* The files a move to Inlet brings: exports of Formspree and of Inlet
 * itself, as CSV or JSON, read as they stream (a push parser: feed any
 * chunks, memory bounded by one row). Pure: no I/O, no keys, no store; the
 * importer (ingest/import.c) seals and stores what comes out.
 *
 * CSV (RFC 4180): a header row, then one row per submission; fields
 * separated by ',', rows by CRLF, LF or CR; a field in double quotes may
 * hold ',', line breaks and "" for a quote. A UTF-8 byte order mark is
 * skipped, blank lines are ignored. Lenient where exports are sloppy: a
 * quote inside an unquoted field is kept as a character, and a row may
 * have fewer fields than the header (the rest are empty).
 *   Inlet's:     id, created_at[, status], then one column per field
 *   Formspree's: _id?, _date, one column per field (sorted), _status? and
 *                _errors? (its delivery log, dropped); its older export
 *                wrote id, date, then the fields
 *   anything else: a column named created_at, submitted_at, date or
 *                timestamp (any case) is the time, every other a field.
 * An empty cell is a field the submission did not have (exports write the
 * union of every submission's fields); a name twice in the header makes
 * the field an array, as a form's repeated name does.
 *
 * JSON: a top-level array of submissions, an object holding the array
 * under "submissions" (Formspree's export and API) or "data" (a page of
 * Inlet's list), one object per submission one after the other (NDJSON, or
 * a single object), or any sequence of these. A submission is
 *   Inlet's:     {"id","created_at","status","fields":{…},"files":[…],"meta":{…}}
 *                (an object with a "fields" object)
 *   Formspree's: {"_date":"2018-11-03T07:28:29.707632","_id":2,"email":…}
 *                (flat: every member a field but _date/created_at/
 *                submitted_at/date (the first present is the time), _id or
 *                id, and _status/_errors, dropped)
 *
 * Rows are numbered from 1 in file order (the header is not a row); a row
 * that cannot become a submission comes out with its reason and parsing
 * goes on. Only a file that cannot be read at all (a malformed JSON
 * structure, a CSV header over the limits) stops with an error. */
#ifndef INLET_INGEST_IMPORTFMT_H
#define INLET_INGEST_IMPORTFMT_H

#include <stddef.h>
#include <stdint.h>

struct json_object;
struct importfmt;

enum importfmt_format {
	IMPORTFMT_CSV,
	IMPORTFMT_JSON, /* arrays, wrappers and NDJSON alike */
};

/* Every limit is taken literally (0 allows nothing). A row over one is
 * rejected with a reason; a header over max_columns or max_name_len stops
 * the file. */
struct importfmt_limits {
	size_t max_fields;    /* fields of one row */
	size_t max_name_len;  /* bytes of a field name */
	size_t max_value_len; /* bytes of a string value; other JSON values as JSON text */
	size_t max_row_bytes; /* bytes of one row as the file holds it */
	size_t max_columns;   /* CSV header columns */
};

/* One row. Everything in it is the parser's and lives until the callback
 * returns; take a reference (json_object_get) to keep an object. */
struct importfmt_row {
	size_t row;                  /* 1-based, in file order */
	const char *reject;          /* NULL, or why this row cannot be imported */
	int has_time;                /* the file gives a time for its rows */
	int64_t ms;                  /* that time, ms since the epoch (when has_time) */
	int status;                  /* enum sub_status (0 inbox, 1 spam, 2 trash), -1 not given */
	const char *source;          /* whose export: "inlet", "formspree", "csv" or "json" */
	const char *source_id;       /* the row's id in its source, or NULL */
	struct json_object *fields;  /* an object, in file order; NULL when rejected */
	struct json_object *meta;    /* Inlet's JSON: its meta object, else NULL */
	size_t files;                /* Inlet's JSON: files the row had (they stay behind) */
};

/* A non-zero return stops parsing; importfmt_feed/finish return it. */
typedef int (*importfmt_row_fn)(void *ctx, const struct importfmt_row *row);

/* Never fails (out of memory aborts). lim is copied. */
struct importfmt *importfmt_create(enum importfmt_format fmt, const struct importfmt_limits *lim,
				   importfmt_row_fn fn, void *ctx);
/* Accepts NULL. */
void importfmt_destroy(struct importfmt *p);
/* Parses a chunk; rows complete in it are handed to fn. Returns 0, the
 * callback's non-zero code, or INLET_EINVAL when the file cannot be read
 * on (importfmt_error says why); after an error every call returns it. */
int importfmt_feed(struct importfmt *p, const char *data, size_t len);
/* The end of the file: the last row (a CSV file need not end with a line
 * break); INLET_EINVAL for a JSON value left open. */
int importfmt_finish(struct importfmt *p);
/* Why the file stopped being read, or NULL. */
const char *importfmt_error(const struct importfmt *p);
/* Rows seen so far (rejected ones included). */
size_t importfmt_rows(const struct importfmt *p);

/* A time as exports write it: ISO 8601 (a date, or a date and time with
 * 'T' or ' ', optional seconds and fraction of any length, 'Z' or an
 * offset ±hh:mm / ±hhmm; none means UTC, as Formspree writes it), or
 * digits: milliseconds since the epoch when 11 digits or more, else
 * seconds. INLET_EINVAL for anything else or a time before 1970. */
int importfmt_parse_time(const char *s, size_t len, int64_t *ms);

#endif
