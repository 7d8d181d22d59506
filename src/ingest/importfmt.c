/* Streaming parsers of import files (see importfmt.h for what they read).
 * Both formats share the row buffer `rec`: a CSV row's cells one after the
 * other, or one JSON value as the file holds it, capped at max_row_bytes.
 * A row over the cap is still scanned to its end (so parsing finds the next
 * row) but not kept, and comes out rejected. */
#include "ingest/importfmt.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/isotime.h"
#include "core/err.h"

#define JSON_DEPTH 64 /* nesting json-c accepts in one row */

enum role {
	COL_FIELD,  /* a field: keys[i] is its name */
	COL_ID,     /* the row's id in its source */
	COL_TIME,
	COL_STATUS,
	COL_DROP,   /* not the visitor's data (Formspree's delivery log) */
	COL_META,   /* Inlet's meta.<key>: keys[i] is the key */
	COL_FILES,  /* Inlet's file names, joined with ", " */
	COL_ERROR,  /* Inlet's: the export could not open this row */
	COL_OTHER,  /* Inlet's other_fields: a JSON object of more fields */
};

enum cstate {
	C_START,    /* at the start of a cell */
	C_UNQUOTED, /* inside a cell without quotes */
	C_QUOTED,   /* inside "…" */
	C_QUOTE,    /* a '"' inside "…": "" or the closing quote */
	C_CR,       /* right after a CR that ended a row: an LF is part of it */
};

enum jstate {
	J_TOP,   /* between top-level values */
	J_ARRAY, /* inside an array of rows, between its elements */
	J_ELEM,  /* inside one element of that array */
	J_OBJ,   /* inside a top-level object: a row, unless it holds the rows */
	J_PEEK,  /* after "submissions": [ or "data": [ , before its first element */
	J_SKIP,  /* the rest of an object whose rows array has ended */
};

struct importfmt {
	enum importfmt_format fmt;
	struct importfmt_limits lim;
	importfmt_row_fn fn;
	void *ctx;
	int rc;                /* sticky: the first error or callback code */
	char error[200];       /* why the file stopped, when rc is INLET_EINVAL */
	unsigned long long offset; /* bytes of the file seen */
	size_t rows;
	int bom_done;
	size_t bom_n;          /* bytes of a byte order mark matched so far */

	struct buf rec;        /* the row being read (cap: max_row_bytes) */
	int too_big;           /* the row did not fit in rec */
	char reason[200];      /* a rejected row's reason */

	/* CSV */
	enum cstate cs;
	size_t *cell_off;      /* start of each cell in rec (heap) */
	size_t ncells, cells_cap;
	int rec_quoted;        /* a cell of this row was quoted */
	int have_header;
	char **names;          /* header names (heap) */
	enum role *roles;
	const char **keys;     /* field or meta name of each column (into names) */
	int inlet_csv;         /* Inlet's export: cells may carry its ' guard */
	size_t ncols;
	long time_col;         /* the time's column, or -1 */
	const char *source;

	/* JSON */
	enum jstate js;
	long depth;
	int in_str, esc;
	int arr_need;          /* J_ARRAY: 0 an element or ']', 1 ',' or ']', 2 an element */
	int in_wrapper;        /* this array is an object's "submissions"/"data" */
	int elem_kind;         /* J_ELEM: 0 object or array, 1 string, 2 number or literal */
};

static int stop(struct importfmt *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int stop(struct importfmt *p, const char *fmt, ...)
{
	va_list ap;

	if (p->rc)
		return p->rc;
	va_start(ap, fmt);
	vsnprintf(p->error, sizeof(p->error), fmt, ap);
	va_end(ap);
	p->rc = INLET_EINVAL;
	return p->rc;
}

/* The first reason a row gets is the one reported. */
static void reject(struct importfmt *p, const char **slot, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void reject(struct importfmt *p, const char **slot, const char *fmt, ...)
{
	va_list ap;

	if (*slot)
		return;
	va_start(ap, fmt);
	vsnprintf(p->reason, sizeof(p->reason), fmt, ap);
	va_end(ap);
	*slot = p->reason;
}

static void put(struct importfmt *p, const char *s, size_t n)
{
	if (!p->too_big && buf_append(&p->rec, s, n))
		p->too_big = 1;
}

static void rec_reset(struct importfmt *p)
{
	buf_reset(&p->rec);
	p->too_big = 0;
}

/* ---- times and statuses -------------------------------------------------- */

int importfmt_parse_time(const char *s, size_t len, int64_t *ms)
{
	char t[72];

	while (len && isspace((unsigned char)s[0]))
		s++, len--;
	while (len && isspace((unsigned char)s[len - 1]))
		len--;
	if (len == 0 || len >= sizeof(t))
		return INLET_EINVAL;
	memcpy(t, s, len);
	t[len] = '\0';
	if (strspn(t, "0123456789") == len) {
		int64_t v = 0;

		if (len > 15)
			return INLET_EINVAL;
		for (size_t i = 0; i < len; i++)
			v = v * 10 + (t[i] - '0');
		*ms = len >= 11 ? v : v * 1000;
		return 0;
	}
	return time_parse_iso(t, ms);
}

static int status_parse(const char *s, size_t n)
{
	static const char *const names[] = { "inbox", "spam", "trash" };

	for (int i = 0; i < 3; i++)
		if (n == strlen(names[i]) && strncasecmp(s, names[i], n) == 0)
			return i;
	return -1;
}

/* ---- rows ---------------------------------------------------------------- */

static int emit(struct importfmt *p, struct importfmt_row *row)
{
	int rc = p->fn(p->ctx, row);

	if (rc && !p->rc)
		p->rc = rc;
	return rc;
}

/* A JSON value as a field value: strings up to max_value_len bytes, arrays
 * element by element, anything else as its JSON text. */
static int value_fits(const struct importfmt_limits *lim, json_object *v)
{
	size_t len;

	if (!v)
		return 1;
	switch (json_object_get_type(v)) {
	case json_type_string:
		return (size_t)json_object_get_string_len(v) <= lim->max_value_len;
	case json_type_array:
		for (size_t i = 0; i < json_object_array_length(v); i++)
			if (!value_fits(lim, json_object_array_get_idx(v, i)))
				return 0;
		return 1;
	default:
		json_object_to_json_string_length(v, JSON_C_TO_STRING_PLAIN, &len);
		return len <= lim->max_value_len;
	}
}

/* Checks one more field (name, value) against the limits; n counts them. */
static void check_field(struct importfmt *p, struct importfmt_row *row, size_t *n, const char *name,
			json_object *v)
{
	if (++*n > p->lim.max_fields)
		reject(p, &row->reject, "more than %zu fields", p->lim.max_fields);
	else if (strlen(name) > p->lim.max_name_len)
		reject(p, &row->reject, "a field name is longer than %zu bytes", p->lim.max_name_len);
	else if (!value_fits(&p->lim, v))
		reject(p, &row->reject, "the value of \"%.60s\" is longer than %zu bytes", name,
		       p->lim.max_value_len);
}

static void time_of(struct importfmt *p, struct importfmt_row *row, json_object *v)
{
	const char *s;

	row->has_time = 1;
	if (json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)) {
		char num[40];

		snprintf(num, sizeof(num), "%.0f", json_object_get_double(v));
		if (importfmt_parse_time(num, strlen(num), &row->ms))
			reject(p, &row->reject, "%.30s is not a date", num);
		return;
	}
	if (!json_object_is_type(v, json_type_string) || json_object_get_string_len(v) == 0) {
		reject(p, &row->reject, "the date is missing");
		return;
	}
	s = json_object_get_string(v);
	if (importfmt_parse_time(s, (size_t)json_object_get_string_len(v), &row->ms))
		reject(p, &row->reject, "\"%.40s\" is not a date", s);
}

static const char *id_of(json_object *v)
{
	if (json_object_is_type(v, json_type_string) || json_object_is_type(v, json_type_int))
		return json_object_get_string(v);
	return NULL;
}

/* Inlet's shape: {"id","created_at","status","fields","files","meta"}. */
static void json_inlet_row(struct importfmt *p, struct importfmt_row *row, json_object *o, json_object *fields)
{
	json_object *v;
	size_t n = 0;

	row->source = "inlet";
	if (json_object_object_get_ex(o, "id", &v))
		row->source_id = id_of(v);
	if (json_object_object_get_ex(o, "created_at", &v))
		time_of(p, row, v);
	if (json_object_object_get_ex(o, "status", &v) && v) {
		const char *s = json_object_get_string(v);

		if (!json_object_is_type(v, json_type_string) ||
		    (row->status = status_parse(s, strlen(s))) < 0)
			reject(p, &row->reject, "status \"%.20s\" is not inbox, spam or trash", s);
	}
	if (json_object_object_get_ex(o, "files", &v) && json_object_is_type(v, json_type_array))
		row->files = json_object_array_length(v);
	if (json_object_object_get_ex(o, "meta", &v) && json_object_is_type(v, json_type_object))
		row->meta = v;
	json_object_object_foreach(fields, k, fv) {
		check_field(p, row, &n, k, fv);
	}
	row->fields = json_object_get(fields);
}

/* Formspree's (and any flat) shape: every member a field but the time,
 * the id, and Formspree's delivery log. */
static void json_flat_row(struct importfmt *p, struct importfmt_row *row, json_object *o)
{
	static const char *const time_keys[] = { "_date", "created_at", "submitted_at", "date" };
	const char *tkey = NULL, *ikey = NULL;
	size_t n = 0;

	for (size_t i = 0; i < sizeof(time_keys) / sizeof(*time_keys) && !tkey; i++)
		if (json_object_object_get_ex(o, time_keys[i], NULL))
			tkey = time_keys[i];
	if (json_object_object_get_ex(o, "_id", NULL))
		ikey = "_id";
	else if (json_object_object_get_ex(o, "id", NULL))
		ikey = "id";
	row->source = tkey && strcmp(tkey, "_date") == 0 ? "formspree" : "json";
	row->fields = json_object_new_object();
	json_object_object_foreach(o, k, v) {
		if (tkey && strcmp(k, tkey) == 0) {
			time_of(p, row, v);
		} else if (ikey && strcmp(k, ikey) == 0) {
			row->source_id = id_of(v);
		} else if (strcmp(k, "_status") != 0 && strcmp(k, "_errors") != 0) {
			check_field(p, row, &n, k, v);
			json_object_object_add(row->fields, k, json_object_get(v));
		}
	}
}

/* The JSON text in rec is one row. */
static int json_row(struct importfmt *p)
{
	struct importfmt_row row = { .row = ++p->rows, .status = -1, .source = "json" };
	struct json_tokener *tok = NULL;
	json_object *o = NULL, *fields;
	int rc;

	if (p->too_big) {
		reject(p, &row.reject, "the row is larger than %zu bytes", p->lim.max_row_bytes);
		goto done;
	}
	/* Only objects are rows (and a bare number would leave json-c
	 * waiting for more digits). */
	if (!p->rec.len || p->rec.data[0] != '{') {
		reject(p, &row.reject, "the row is not a JSON object");
		goto done;
	}
	tok = json_tokener_new_ex(JSON_DEPTH);
	o = json_tokener_parse_ex(tok, p->rec.data ? p->rec.data : "", (int)p->rec.len);
	if (!o || json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != p->rec.len) {
		reject(p, &row.reject, "the row is not valid JSON");
		goto done;
	}
	if (!json_object_is_type(o, json_type_object)) {
		reject(p, &row.reject, "the row is not a JSON object");
		goto done;
	}
	if (json_object_object_get_ex(o, "fields", &fields) && json_object_is_type(fields, json_type_object)) {
		json_inlet_row(p, &row, o, fields);
	} else if (json_object_object_get_ex(o, "endpoint_id", NULL) &&
		   json_object_object_get_ex(o, "error", &fields)) {
		/* Inlet's export marks a row it could not open so. */
		reject(p, &row.reject, "the export could not open this row (%.40s)", json_object_get_string(fields));
	} else {
		json_flat_row(p, &row, o);
	}
	if (!row.reject && (!row.fields || json_object_object_length(row.fields) == 0))
		reject(p, &row.reject, "the row has no fields");
done:
	rc = emit(p, &row);
	json_object_put(row.fields);
	json_object_put(o);
	if (tok)
		json_tokener_free(tok);
	rec_reset(p);
	return rc;
}

/* ---- CSV ----------------------------------------------------------------- */

static void cell_start(struct importfmt *p)
{
	if (p->ncells < p->cells_cap)
		p->cell_off[p->ncells] = p->rec.len;
	p->ncells++;
}

static void cell(const struct importfmt *p, size_t i, const char **s, size_t *n)
{
	size_t end = i + 1 < p->ncells && i + 1 < p->cells_cap ? p->cell_off[i + 1] : p->rec.len;

	*s = p->rec.data ? p->rec.data + p->cell_off[i] : "";
	*n = end - p->cell_off[i];
}

static int name_is(const struct importfmt *p, size_t i, const char *name)
{
	return i < p->ncols && strcmp(p->names[i], name) == 0;
}

static long find_col(const struct importfmt *p, const char *name)
{
	for (size_t i = 0; i < p->ncols; i++)
		if (strcmp(p->names[i], name) == 0)
			return (long)i;
	return -1;
}

/* Inlet's export puts a ' before a cell starting with = + - @ tab or CR,
 * so that a spreadsheet does not run it as a formula; it comes off here. */
static void unguard(const struct importfmt *p, const char **s, size_t *n)
{
	if (p->inlet_csv && *n >= 2 && (*s)[0] == '\'' && strchr("=+-@\t\r", (*s)[1])) {
		(*s)++;
		(*n)--;
	}
}

/* Inlet's columns after id, created_at and status. */
static void inlet_roles(struct importfmt *p)
{
	for (size_t i = 3; i < p->ncols; i++) {
		const char *n = p->names[i];

		if (strncmp(n, "meta.", 5) == 0 && n[5]) {
			p->roles[i] = COL_META;
			p->keys[i] = n + 5;
		} else if (strncmp(n, "fields.", 7) == 0 && n[7]) {
			p->keys[i] = n + 7; /* a field named like a fixed column */
		} else if (strcmp(n, "files") == 0) {
			p->roles[i] = COL_FILES;
		} else if (strcmp(n, "error") == 0) {
			p->roles[i] = COL_ERROR;
		} else if (strcmp(n, "other_fields") == 0) {
			p->roles[i] = COL_OTHER;
		}
	}
}

/* Which column is what, by whose export the header looks like. */
static void csv_roles(struct importfmt *p)
{
	static const char *const generic_time[] = { "created_at", "submitted_at", "date", "timestamp" };
	long date = find_col(p, "_date"), id;

	p->source = "csv";
	for (size_t i = 0; i < p->ncols; i++)
		p->keys[i] = p->names[i];
	if (name_is(p, 0, "id") && name_is(p, 1, "created_at")) {
		p->source = "inlet";
		p->roles[0] = COL_ID;
		p->roles[1] = COL_TIME;
		if (name_is(p, 2, "status")) {
			p->roles[2] = COL_STATUS;
			inlet_roles(p);
		}
	} else if (date >= 0) {
		p->source = "formspree";
		p->roles[date] = COL_TIME;
		if ((id = find_col(p, "_id")) >= 0)
			p->roles[id] = COL_ID;
		/* Its export put an empty "id" before its own "_id". */
		if (name_is(p, 0, "id"))
			p->roles[0] = id >= 0 ? COL_DROP : COL_ID;
		for (size_t i = 0; i < p->ncols; i++)
			if (name_is(p, i, "_status") || name_is(p, i, "_errors"))
				p->roles[i] = COL_DROP;
	} else if (name_is(p, 0, "id") && name_is(p, 1, "date")) {
		p->source = "formspree";
		p->roles[0] = COL_ID;
		p->roles[1] = COL_TIME;
	} else {
		for (size_t k = 0; k < sizeof(generic_time) / sizeof(*generic_time); k++) {
			for (size_t i = 0; i < p->ncols; i++) {
				if (strcasecmp(p->names[i], generic_time[k]) == 0) {
					p->roles[i] = COL_TIME;
					goto found;
				}
			}
		}
	}
found:
	p->time_col = -1;
	for (size_t i = 0; i < p->ncols; i++)
		if (p->roles[i] == COL_TIME)
			p->time_col = (long)i;
}

static int csv_header(struct importfmt *p)
{
	if (p->too_big)
		return stop(p, "the header row is larger than %zu bytes", p->lim.max_row_bytes);
	if (p->ncells > p->lim.max_columns)
		return stop(p, "the header has more than %zu columns", p->lim.max_columns);
	p->ncols = p->ncells;
	p->names = xcalloc(p->ncols, sizeof(*p->names));
	p->roles = xcalloc(p->ncols, sizeof(*p->roles));
	p->keys = xcalloc(p->ncols, sizeof(*p->keys));
	if (p->ncols >= 3) {
		const char *s0, *s1, *s2;
		size_t n0, n1, n2;

		cell(p, 0, &s0, &n0);
		cell(p, 1, &s1, &n1);
		cell(p, 2, &s2, &n2);
		p->inlet_csv = n0 == 2 && memcmp(s0, "id", 2) == 0 && n1 == 10 && memcmp(s1, "created_at", 10) == 0 &&
			       n2 == 6 && memcmp(s2, "status", 6) == 0;
	}
	for (size_t i = 0; i < p->ncols; i++) {
		const char *s;
		size_t n;
		char gen[32];

		cell(p, i, &s, &n);
		unguard(p, &s, &n);
		if (n > p->lim.max_name_len)
			return stop(p, "the name of column %zu is longer than %zu bytes", i + 1, p->lim.max_name_len);
		if (memchr(s, '\0', n))
			return stop(p, "the name of column %zu holds a NUL byte", i + 1);
		if (n == 0) {
			snprintf(gen, sizeof(gen), "column_%zu", i + 1);
			if (strlen(gen) > p->lim.max_name_len)
				return stop(p, "column %zu has no name", i + 1);
			p->names[i] = xstrdup(gen);
		} else {
			p->names[i] = xmalloc(n + 1);
			memcpy(p->names[i], s, n);
			p->names[i][n] = '\0';
		}
	}
	csv_roles(p);
	p->have_header = 1;
	/* A row needs one cell more than the header to tell extra values. */
	if (p->cells_cap < p->ncols + 1) {
		p->cells_cap = p->ncols + 1;
		p->cell_off = xrealloc(p->cell_off, p->cells_cap * sizeof(*p->cell_off));
	}
	return 0;
}

/* Adds a CSV value; a name seen before turns the field into an array. */
static void csv_add(json_object *fields, const char *name, const char *s, size_t n)
{
	json_object *prev, *v = json_object_new_string_len(s, (int)n);

	if (!json_object_object_get_ex(fields, name, &prev)) {
		json_object_object_add(fields, name, v);
	} else if (json_object_is_type(prev, json_type_array)) {
		json_object_array_add(prev, v);
	} else {
		json_object *arr = json_object_new_array();

		json_object_array_add(arr, json_object_get(prev));
		json_object_array_add(arr, v);
		json_object_object_add(fields, name, arr);
	}
}

/* Inlet's other_fields: more fields, as a JSON object. */
static void csv_other(struct importfmt *p, struct importfmt_row *row, size_t *n, const char *s, size_t len)
{
	struct json_tokener *tok = json_tokener_new_ex(JSON_DEPTH);
	json_object *o = json_tokener_parse_ex(tok, s, (int)len);

	if (!o || json_tokener_get_parse_end(tok) != len || !json_object_is_type(o, json_type_object)) {
		reject(p, &row->reject, "other_fields is not a JSON object");
	} else {
		json_object_object_foreach(o, k, v) {
			check_field(p, row, n, k, v);
			json_object_object_add(row->fields, k, json_object_get(v));
		}
	}
	json_object_put(o);
	json_tokener_free(tok);
}

static int csv_row(struct importfmt *p, int unterminated)
{
	struct importfmt_row row = { .row = ++p->rows, .status = -1, .source = p->source,
				     .has_time = p->time_col >= 0 };
	char *id = NULL;
	size_t n = 0, used = p->ncells < p->ncols ? p->ncells : p->ncols;
	int rc;

	if (unterminated)
		reject(p, &row.reject, "a quoted value is not closed before the end of the file");
	if (p->too_big)
		reject(p, &row.reject, "the row is larger than %zu bytes", p->lim.max_row_bytes);
	if (p->ncells > p->ncols && (p->ncells > p->cells_cap || p->rec.len > p->cell_off[p->ncols]))
		reject(p, &row.reject, "the row has more values than the header has columns");
	if (row.reject)
		goto done;
	row.fields = json_object_new_object();
	for (size_t i = 0; i < used && !row.reject; i++) {
		const char *s;
		size_t len;

		cell(p, i, &s, &len);
		if (len == 0 && p->roles[i] != COL_TIME)
			continue;
		unguard(p, &s, &len);
		switch (p->roles[i]) {
		case COL_FIELD:
			if (++n > p->lim.max_fields)
				reject(p, &row.reject, "more than %zu fields", p->lim.max_fields);
			else if (len > p->lim.max_value_len)
				reject(p, &row.reject, "the value of \"%.60s\" is longer than %zu bytes", p->keys[i],
				       p->lim.max_value_len);
			else
				csv_add(row.fields, p->keys[i], s, len);
			break;
		case COL_ID:
			if (!id) {
				id = xmalloc(len + 1);
				memcpy(id, s, len);
				id[len] = '\0';
				row.source_id = id;
			}
			break;
		case COL_TIME:
			if (len == 0)
				reject(p, &row.reject, "the date is missing");
			else if (importfmt_parse_time(s, len, &row.ms))
				reject(p, &row.reject, "\"%.*s\" is not a date", (int)(len > 40 ? 40 : len), s);
			break;
		case COL_STATUS:
			if ((row.status = status_parse(s, len)) < 0)
				reject(p, &row.reject, "status \"%.*s\" is not inbox, spam or trash",
				       (int)(len > 20 ? 20 : len), s);
			break;
		case COL_META:
			if (len > p->lim.max_value_len)
				break;
			if (!row.meta)
				row.meta = json_object_new_object();
			json_object_object_add(row.meta, p->keys[i], json_object_new_string_len(s, (int)len));
			break;
		case COL_FILES:
			row.files = 1;
			for (const char *q = s; (q = memmem(q, len - (size_t)(q - s), ", ", 2)); q += 2)
				row.files++;
			break;
		case COL_ERROR:
			reject(p, &row.reject, "the export could not open this row (%.*s)", (int)(len > 40 ? 40 : len), s);
			break;
		case COL_OTHER:
			csv_other(p, &row, &n, s, len);
			break;
		case COL_DROP:
			break;
		}
	}
	if (p->time_col >= 0 && (size_t)p->time_col >= used && !row.reject)
		reject(p, &row.reject, "the date is missing");
	if (!row.reject && json_object_object_length(row.fields) == 0)
		reject(p, &row.reject, "the row has no fields");
done:
	rc = emit(p, &row);
	json_object_put(row.fields);
	json_object_put(row.meta);
	free(id);
	return rc;
}

/* The end of a CSV row (a line break outside quotes, or the file's end). */
static int csv_record(struct importfmt *p, int unterminated)
{
	int rc = 0;

	/* A line with nothing on it is not a row. */
	if (!(p->ncells == 1 && p->rec.len == 0 && !p->rec_quoted && !p->too_big && !unterminated))
		rc = p->have_header ? csv_row(p, unterminated) : csv_header(p);
	rec_reset(p);
	p->ncells = 0;
	p->rec_quoted = 0;
	cell_start(p);
	return rc;
}

static int csv_feed(struct importfmt *p, const char *data, size_t len)
{
	size_t i = 0;
	int rc = 0;

	while (i < len && !rc) {
		char c = data[i];

		switch (p->cs) {
		case C_CR:
			p->cs = C_START;
			if (c == '\n') {
				i++;
				break;
			}
			/* The CR alone ended the row. */
			__attribute__((fallthrough));
		case C_START:
			if (c == '"') {
				p->cs = C_QUOTED;
				p->rec_quoted = 1;
				i++;
				break;
			}
			p->cs = C_UNQUOTED;
			__attribute__((fallthrough));
		case C_UNQUOTED: {
			/* Runs of plain bytes go in at once. */
			size_t j = i;

			while (j < len && data[j] != ',' && data[j] != '\r' && data[j] != '\n')
				j++;
			put(p, data + i, j - i);
			i = j;
			if (i == len)
				break;
			c = data[i++];
			if (c == ',') {
				cell_start(p);
				p->cs = C_START;
			} else {
				p->cs = c == '\r' ? C_CR : C_START;
				rc = csv_record(p, 0);
			}
			break;
		}
		case C_QUOTED: {
			const char *q = memchr(data + i, '"', len - i);
			size_t j = q ? (size_t)(q - data) : len;

			put(p, data + i, j - i);
			i = j;
			if (q) {
				p->cs = C_QUOTE;
				i++;
			}
			break;
		}
		case C_QUOTE:
			if (c == '"') {
				put(p, "\"", 1);
				p->cs = C_QUOTED;
				i++;
			} else if (c == ',' || c == '\r' || c == '\n') {
				p->cs = C_UNQUOTED; /* the closing quote: the separator ends the cell */
			} else {
				/* "ab"c: lenient, the text after the quote is kept. */
				p->cs = C_UNQUOTED;
			}
			break;
		}
	}
	return rc ? rc : p->rc;
}

static int csv_finish(struct importfmt *p)
{
	if (p->cs == C_QUOTED)
		return csv_record(p, 1);
	return csv_record(p, 0);
}

/* ---- JSON ---------------------------------------------------------------- */

static int is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Inside a top-level object, at a '[' one level down: is the member's key
 * "submissions" or "data"? The key is the last string in rec before ':'. */
static int wrapper_key(const struct importfmt *p)
{
	const char *s = p->rec.data;
	size_t e = p->rec.len, b;

	while (e && is_ws(s[e - 1]))
		e--;
	if (!e || s[--e] != ':')
		return 0;
	while (e && is_ws(s[e - 1]))
		e--;
	if (!e || s[--e] != '"')
		return 0;
	for (b = e; b && s[b - 1] != '"'; b--)
		;
	if (!b || b < 2 || !strchr("{, \t\r\n", s[b - 2]))
		return 0;
	return (e - b == 11 && memcmp(s + b, "submissions", 11) == 0) || (e - b == 4 && memcmp(s + b, "data", 4) == 0);
}

/* Tracks strings and nesting of a value being read; returns 1 when the
 * byte closed the value (depth back to 0). */
static int scan(struct importfmt *p, char c)
{
	if (p->in_str) {
		if (p->esc)
			p->esc = 0;
		else if (c == '\\')
			p->esc = 1;
		else if (c == '"')
			p->in_str = 0;
		return 0;
	}
	if (c == '"')
		p->in_str = 1;
	else if (c == '{' || c == '[')
		p->depth++;
	else if ((c == '}' || c == ']') && --p->depth <= 0)
		return 1;
	return 0;
}

static int json_byte(struct importfmt *p, char c)
{
again:
	switch (p->js) {
	case J_TOP:
		if (is_ws(c))
			return 0;
		if (c == '[') {
			p->js = J_ARRAY;
			p->arr_need = 0;
			p->in_wrapper = 0;
			return 0;
		}
		if (c == '{') {
			rec_reset(p);
			put(p, &c, 1);
			p->js = J_OBJ;
			p->depth = 1;
			p->in_str = p->esc = 0;
			return 0;
		}
		return stop(p, "byte %llu: expected a JSON array or object", p->offset);
	case J_ARRAY:
		if (is_ws(c))
			return 0;
		if (c == ']') {
			if (p->arr_need == 2)
				return stop(p, "byte %llu: ']' after ','", p->offset);
			if (p->in_wrapper) {
				p->js = J_SKIP;
				p->depth = 1;
				p->in_str = p->esc = 0;
			} else {
				p->js = J_TOP;
			}
			return 0;
		}
		if (c == ',') {
			if (p->arr_need != 1)
				return stop(p, "byte %llu: unexpected ','", p->offset);
			p->arr_need = 2;
			return 0;
		}
		if (p->arr_need == 1)
			return stop(p, "byte %llu: expected ',' or ']' between rows", p->offset);
		rec_reset(p);
		put(p, &c, 1);
		p->js = J_ELEM;
		p->arr_need = 1;
		p->in_str = p->esc = 0;
		p->depth = 1;
		p->elem_kind = c == '{' || c == '[' ? 0 : c == '"' ? 1 : 2;
		if (p->elem_kind == 1)
			p->in_str = 1;
		return 0;
	case J_ELEM:
		if (p->elem_kind == 2) {
			if (c == ',' || c == ']' || is_ws(c)) {
				int rc = json_row(p);

				p->js = J_ARRAY;
				if (rc)
					return rc;
				goto again;
			}
			put(p, &c, 1);
			return 0;
		}
		put(p, &c, 1);
		if (p->elem_kind == 1) {
			scan(p, c);
			if (p->in_str)
				return 0;
		} else if (!scan(p, c)) {
			return 0;
		}
		p->js = J_ARRAY;
		return json_row(p);
	case J_OBJ:
		if (!p->in_str && c == '[' && p->depth == 1 && !p->too_big && wrapper_key(p)) {
			p->js = J_PEEK;
			return 0;
		}
		put(p, &c, 1);
		if (!scan(p, c))
			return 0;
		p->js = J_TOP;
		return json_row(p);
	case J_PEEK:
		if (is_ws(c))
			return 0;
		if (c == '{' || c == ']') {
			/* The object holds the rows: they stream one by one, and
			 * the rest of the object (Formspree's "fields", Inlet's
			 * "next_cursor") is skipped. */
			rec_reset(p);
			p->js = J_ARRAY;
			p->arr_need = 0;
			p->in_wrapper = 1;
			goto again;
		}
		put(p, "[", 1);
		p->depth++;
		p->js = J_OBJ;
		goto again;
	case J_SKIP:
		if (scan(p, c))
			p->js = J_TOP;
		return 0;
	}
	return 0;
}

static int json_feed(struct importfmt *p, const char *data, size_t len)
{
	int rc = 0;

	for (size_t i = 0; i < len && !rc; i++) {
		/* Inside a string of a row being kept, runs of plain bytes go in
		 * at once (a long text field is most of a file). */
		if (p->in_str && !p->esc && (p->js == J_ELEM || p->js == J_OBJ)) {
			size_t j = i;

			while (j < len && data[j] != '"' && data[j] != '\\')
				j++;
			if (j > i) {
				put(p, data + i, j - i);
				p->offset += j - i;
				i = j - 1;
				continue;
			}
		}
		rc = json_byte(p, data[i]);
		p->offset++;
	}
	return rc ? rc : p->rc;
}

static int json_finish(struct importfmt *p)
{
	if (p->js == J_ELEM && p->elem_kind == 2)
		return stop(p, "the JSON ends inside an array");
	if (p->js != J_TOP)
		return stop(p, "the JSON ends before its %s closes", p->js == J_OBJ ? "object" : "array");
	return 0;
}

/* ---- the parser ---------------------------------------------------------- */

struct importfmt *importfmt_create(enum importfmt_format fmt, const struct importfmt_limits *lim,
				   importfmt_row_fn fn, void *ctx)
{
	struct importfmt *p = xcalloc(1, sizeof(*p));

	p->fmt = fmt;
	p->lim = *lim;
	p->fn = fn;
	p->ctx = ctx;
	p->time_col = -1;
	p->source = "csv";
	/* buf treats 0 as no cap; a cap of 0 bytes keeps nothing. */
	buf_init(&p->rec, lim->max_row_bytes ? lim->max_row_bytes : 1);
	p->cells_cap = lim->max_columns + 1;
	p->cell_off = xcalloc(p->cells_cap, sizeof(*p->cell_off));
	cell_start(p);
	return p;
}

void importfmt_destroy(struct importfmt *p)
{
	if (!p)
		return;
	if (p->rec.data)
		secure_wipe(p->rec.data, p->rec.cap);
	buf_free(&p->rec);
	for (size_t i = 0; i < p->ncols; i++)
		free(p->names[i]);
	free(p->names);
	free(p->roles);
	free(p->keys);
	free(p->cell_off);
	free(p);
}

static int feed(struct importfmt *p, const char *data, size_t len)
{
	if (p->fmt == IMPORTFMT_CSV) {
		p->offset += len;
		return csv_feed(p, data, len);
	}
	return json_feed(p, data, len);
}

int importfmt_feed(struct importfmt *p, const char *data, size_t len)
{
	static const char bom[] = "\xef\xbb\xbf";

	if (p->rc)
		return p->rc;
	/* A byte order mark (Excel's UTF-8) may open the file. */
	while (!p->bom_done && len) {
		if ((unsigned char)data[0] == (unsigned char)bom[p->bom_n]) {
			data++;
			len--;
			p->offset++;
			if (++p->bom_n == 3)
				p->bom_done = 1;
			continue;
		}
		p->bom_done = 1;
		if (p->bom_n && feed(p, bom, p->bom_n))
			return p->rc;
	}
	if (!len)
		return 0;
	return feed(p, data, len);
}

int importfmt_finish(struct importfmt *p)
{
	static const char bom[] = "\xef\xbb\xbf";

	if (p->rc)
		return p->rc;
	if (!p->bom_done && p->bom_n) {
		p->bom_done = 1;
		if (feed(p, bom, p->bom_n))
			return p->rc;
	}
	if (p->fmt == IMPORTFMT_CSV)
		csv_finish(p);
	else
		json_finish(p);
	return p->rc;
}

const char *importfmt_error(const struct importfmt *p)
{
	return p->rc == INLET_EINVAL && p->error[0] ? p->error : NULL;
}

size_t importfmt_rows(const struct importfmt *p)
{
	return p->rows;
}
