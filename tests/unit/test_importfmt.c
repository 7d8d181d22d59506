/* importfmt: CSV and JSON exports (Formspree's, Inlet's) into rows, fed
 * whole and byte by byte; rejected rows; files that cannot be read; times. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "core/err.h"
#include "ingest/importfmt.h"

#define MAXROWS 64

/* A row as the tests compare it: everything copied out of the callback. */
struct got {
	size_t row;
	char reject[200];
	int has_time;
	int64_t ms;
	int status;
	char source[16];
	char id[64];
	char fields[1024]; /* JSON text */
	char meta[512];    /* JSON text or "" */
	size_t files;
};

struct sink {
	struct got rows[MAXROWS];
	size_t n;
	int stop_at; /* return INLET_EIO on this row (0: never) */
};

static int collect(void *ctx, const struct importfmt_row *r)
{
	struct sink *s = ctx;
	struct got *g;

	assert_true(s->n < MAXROWS);
	g = &s->rows[s->n++];
	memset(g, 0, sizeof(*g));
	g->row = r->row;
	snprintf(g->reject, sizeof(g->reject), "%s", r->reject ? r->reject : "");
	g->has_time = r->has_time;
	g->ms = r->ms;
	g->status = r->status;
	snprintf(g->source, sizeof(g->source), "%s", r->source);
	snprintf(g->id, sizeof(g->id), "%s", r->source_id ? r->source_id : "");
	if (r->fields)
		snprintf(g->fields, sizeof(g->fields), "%s",
			 json_object_to_json_string_ext(r->fields, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	else
		assert_non_null(r->reject);
	if (r->meta)
		snprintf(g->meta, sizeof(g->meta), "%s", json_object_to_json_string_ext(r->meta, JSON_C_TO_STRING_PLAIN));
	g->files = r->files;
	return s->stop_at && (int)s->n == s->stop_at ? INLET_EIO : 0;
}

static const struct importfmt_limits roomy = { 100, 256, 1000, 4096, 100 };

/* Parses text fed in chunks of `step` bytes (0: whole); returns the rc of
 * finish (or of the failing feed) and the error text. */
static int parse(enum importfmt_format fmt, const char *text, size_t len, size_t step,
		 const struct importfmt_limits *lim, struct sink *s, char *err, size_t errsize)
{
	struct importfmt *p = importfmt_create(fmt, lim, collect, s);
	int rc = 0;

	for (size_t at = 0; at < len && !rc;) {
		size_t n = step && len - at > step ? step : len - at;

		rc = importfmt_feed(p, text + at, n);
		at += n;
	}
	if (!rc)
		rc = importfmt_finish(p);
	if (err)
		snprintf(err, errsize, "%s", importfmt_error(p) ? importfmt_error(p) : "");
	importfmt_destroy(p);
	return rc;
}

/* Whole, byte by byte and in 7-byte chunks give the same rows. */
static int parse_all_ways(enum importfmt_format fmt, const char *text, const struct importfmt_limits *lim,
			  struct sink *s)
{
	static struct sink other;
	size_t steps[] = { 1, 7 };
	int rc = parse(fmt, text, strlen(text), 0, lim, s, NULL, 0);

	for (size_t k = 0; k < 2; k++) {
		memset(&other, 0, sizeof(other));
		assert_int_equal(parse(fmt, text, strlen(text), steps[k], lim, &other, NULL, 0), rc);
		assert_int_equal(other.n, s->n);
		for (size_t i = 0; i < s->n; i++)
			assert_memory_equal(&other.rows[i], &s->rows[i], sizeof(struct got));
	}
	return rc;
}

static int64_t t(const char *s)
{
	int64_t ms = -1;

	assert_int_equal(importfmt_parse_time(s, strlen(s), &ms), 0);
	return ms;
}

/* ---- CSV ----------------------------------------------------------------- */

static void csv_formspree(void **state)
{
	static struct sink s;
	const char *csv = "\xef\xbb\xbf_id,_date,email,message,_status\r\n"
			  "1,2018-11-03T07:28:29.707632,ada@example.com,\"hello, \"\"world\"\"\r\nline 2\",\r\n"
			  "\r\n"
			  "2,2019-01-01 00:00:00,bob@example.com,\xc3\xbc\xc3\xb1\xc3\xaf,{}\r\n"
			  "3,2019-01-02,,,\r\n"
			  "4,2019-01-03,c@example.com"; /* no line break at the end; short row */

	(void)state;
	memset(&s, 0, sizeof(s));
	assert_int_equal(parse_all_ways(IMPORTFMT_CSV, csv, &roomy, &s), 0);
	assert_int_equal(s.n, 4);
	assert_int_equal(s.rows[0].row, 1);
	assert_string_equal(s.rows[0].reject, "");
	assert_string_equal(s.rows[0].source, "formspree");
	assert_string_equal(s.rows[0].id, "1");
	assert_true(s.rows[0].has_time);
	assert_int_equal(s.rows[0].ms, t("2018-11-03T07:28:29.707Z"));
	assert_int_equal(s.rows[0].status, -1);
	assert_string_equal(s.rows[0].fields,
			    "{\"email\":\"ada@example.com\",\"message\":\"hello, \\\"world\\\"\\r\\nline 2\"}");
	assert_string_equal(s.rows[1].fields, "{\"email\":\"bob@example.com\",\"message\":\"\xc3\xbc\xc3\xb1\xc3\xaf\"}");
	assert_int_equal(s.rows[1].ms, t("2019-01-01T00:00:00Z"));
	assert_int_equal(s.rows[2].row, 3);
	assert_string_equal(s.rows[2].reject, "the row has no fields");
	assert_string_equal(s.rows[3].fields, "{\"email\":\"c@example.com\"}");
}

static void csv_inlet(void **state)
{
	static struct sink s;
	const char *csv =
		"id,created_at,status,name,'=sum,fields.status,files,meta.subject,meta.ip,error,other_fields\n"
		"sub_a,2024-03-01T10:00:00.250Z,spam,Ada,'=1+1,open,\"a.txt, b.txt\",Hi,,,\"{\"\"x\"\":[1,2]}\"\n"
		"sub_b,2024-03-01T10:00:01.000Z,trash,Bob,,,,,,,\n"
		"sub_c,2024-03-01T10:00:02.000Z,,Cy,,,,,,tampered,\n"
		"sub_d,2024-03-01T10:00:03.000Z,archived,Di,,,,,,,\n";

	(void)state;
	memset(&s, 0, sizeof(s));
	assert_int_equal(parse_all_ways(IMPORTFMT_CSV, csv, &roomy, &s), 0);
	assert_int_equal(s.n, 4);
	assert_string_equal(s.rows[0].source, "inlet");
	assert_string_equal(s.rows[0].id, "sub_a");
	assert_int_equal(s.rows[0].status, 1);
	assert_int_equal(s.rows[0].ms, t("2024-03-01T10:00:00.250Z"));
	assert_string_equal(s.rows[0].fields, "{\"name\":\"Ada\",\"=sum\":\"=1+1\",\"status\":\"open\",\"x\":[1,2]}");
	assert_string_equal(s.rows[0].meta, "{\"subject\":\"Hi\"}");
	assert_int_equal(s.rows[0].files, 2);
	assert_int_equal(s.rows[1].status, 2);
	assert_string_equal(s.rows[1].meta, "");
	assert_string_equal(s.rows[2].reject, "the export could not open this row (tampered)");
	assert_string_equal(s.rows[3].reject, "status \"archived\" is not inbox, spam or trash");
}

static void csv_generic_and_line_ends(void **state)
{
	static struct sink s;

	(void)state;
	/* CR alone ends rows too; a repeated name makes an array. */
	memset(&s, 0, sizeof(s));
	assert_int_equal(parse_all_ways(IMPORTFMT_CSV, "Name,Date,tag,tag\r\"a\",1700000000,x,y\rb,1700000000123,,z\r",
					&roomy, &s), 0);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.rows[0].source, "csv");
	assert_string_equal(s.rows[0].fields, "{\"Name\":\"a\",\"tag\":[\"x\",\"y\"]}");
	assert_int_equal(s.rows[0].ms, 1700000000000);
	assert_int_equal(s.rows[1].ms, 1700000000123);
	assert_string_equal(s.rows[1].fields, "{\"Name\":\"b\",\"tag\":\"z\"}");

	/* No time column: rows have none. Lenient quotes. Empty header names. */
	memset(&s, 0, sizeof(s));
	assert_int_equal(parse_all_ways(IMPORTFMT_CSV, "a,,c\nx\"y,\"q\"r,3\n", &roomy, &s), 0);
	assert_int_equal(s.n, 1);
	assert_false(s.rows[0].has_time);
	assert_string_equal(s.rows[0].fields, "{\"a\":\"x\\\"y\",\"column_2\":\"qr\",\"c\":\"3\"}");

	/* Formspree's older export: id, date, fields. */
	memset(&s, 0, sizeof(s));
	assert_int_equal(parse_all_ways(IMPORTFMT_CSV, "id,date,msg\n9,2016-05-01T12:00:00,hey\n", &roomy, &s), 0);
	assert_string_equal(s.rows[0].source, "formspree");
	assert_string_equal(s.rows[0].id, "9");
	assert_string_equal(s.rows[0].fields, "{\"msg\":\"hey\"}");
}

static void csv_rejects(void **state)
{
	static struct sink s;
	static const struct importfmt_limits tight = { 2, 8, 5, 40, 10 };
	const char *csv = "_date,a,b,c\n"
			  "2020-01-01,1,2,3\n"                      /* 3 fields > 2 */
			  "2020-01-01,123456,,\n"                   /* value too long */
			  ",x,,\n"                                  /* no date */
			  "yesterday,x,,\n"                         /* bad date */
			  "2020-01-01,x,,,extra\n"                  /* more values than columns */
			  "2020-01-01,x,,,\n"                       /* extra empty value: fine */
			  "2020-01-01,\"0123456789012345678901234567890123456789\"\n" /* over the row cap */
			  "2020-01-01,ok,\"open\n";                 /* unterminated at the end */

	(void)state;
	memset(&s, 0, sizeof(s));
	assert_int_equal(parse_all_ways(IMPORTFMT_CSV, csv, &tight, &s), 0);
	assert_int_equal(s.n, 8);
	assert_string_equal(s.rows[0].reject, "more than 2 fields");
	assert_string_equal(s.rows[1].reject, "the value of \"a\" is longer than 5 bytes");
	assert_string_equal(s.rows[2].reject, "the date is missing");
	assert_string_equal(s.rows[3].reject, "\"yesterday\" is not a date");
	assert_string_equal(s.rows[4].reject, "the row has more values than the header has columns");
	assert_string_equal(s.rows[5].reject, "");
	assert_string_equal(s.rows[6].reject, "the row is larger than 40 bytes");
	assert_string_equal(s.rows[7].reject, "a quoted value is not closed before the end of the file");
	for (size_t i = 0; i < s.n; i++)
		assert_int_equal(s.rows[i].row, i + 1);
}

static void csv_bad_header(void **state)
{
	static struct sink s;
	static const struct importfmt_limits tight = { 2, 8, 5, 100, 3 };
	char err[200];

	(void)state;
	memset(&s, 0, sizeof(s));
	assert_int_equal(parse(IMPORTFMT_CSV, "a,b,c,d\n1,2,3,4\n", 16, 0, &tight, &s, err, sizeof(err)), INLET_EINVAL);
	assert_string_equal(err, "the header has more than 3 columns");
	assert_int_equal(s.n, 0);
	assert_int_equal(parse(IMPORTFMT_CSV, "a,verylongname\n", 15, 0, &tight, &s, err, sizeof(err)), INLET_EINVAL);
	assert_string_equal(err, "the name of column 2 is longer than 8 bytes");
	/* A header alone, or nothing at all, is an empty import. */
	assert_int_equal(parse(IMPORTFMT_CSV, "a,b\r\n", 5, 0, &tight, &s, err, sizeof(err)), 0);
	assert_int_equal(parse(IMPORTFMT_CSV, "", 0, 0, &tight, &s, err, sizeof(err)), 0);
	assert_int_equal(s.n, 0);
}

static void callback_stops(void **state)
{
	static struct sink s;

	(void)state;
	memset(&s, 0, sizeof(s));
	s.stop_at = 2;
	assert_int_equal(parse(IMPORTFMT_CSV, "a\n1\n2\n3\n", 8, 0, &roomy, &s, NULL, 0), INLET_EIO);
	assert_int_equal(s.n, 2);
}

/* ---- JSON ---------------------------------------------------------------- */

static void json_formspree(void **state)
{
	static struct sink s;
	/* As its export writes it: keys sorted, so "submissions" comes last. */
	const char *doc = "{\n  \"email\": \"me@example.com\",\n  \"fields\": [\"_id\", \"_date\", \"email\", \"x\"],\n"
			  "  \"host\": \"example.com/\",\n  \"submissions\": [\n"
			  "    {\"_date\": \"2018-11-03T07:28:29.707632\", \"_id\": 2, \"email\": \"a@example.com\",\n"
			  "     \"x\": [\"1\", \"2\"], \"_status\": {\"me@example.com\": {\"delivered\": true}}},\n"
			  "    {\"_date\": \"2018-11-04T00:00:00\", \"_id\": 3, \"_replyto\": \"r@example.com\", \"note\": \"]}\\\"[{\"}\n"
			  "  ]\n}\n";

	(void)state;
	memset(&s, 0, sizeof(s));
	assert_int_equal(parse_all_ways(IMPORTFMT_JSON, doc, &roomy, &s), 0);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.rows[0].source, "formspree");
	assert_string_equal(s.rows[0].id, "2");
	assert_int_equal(s.rows[0].ms, t("2018-11-03T07:28:29.707Z"));
	assert_string_equal(s.rows[0].fields, "{\"email\":\"a@example.com\",\"x\":[\"1\",\"2\"]}");
	assert_string_equal(s.rows[1].fields, "{\"_replyto\":\"r@example.com\",\"note\":\"]}\\\"[{\"}");
}

static void json_inlet_shapes(void **state)
{
	static struct sink s;
	const char *obj = "{\"id\":\"sub_1\",\"endpoint_id\":\"ep_1\",\"created_at\":\"2024-01-01T00:00:00.001Z\","
			  "\"status\":\"spam\",\"fields\":{\"a\":\"1\",\"n\":{\"deep\":true}},\"files\":[{\"name\":\"f\"}],"
			  "\"meta\":{\"ip_hash\":\"ab\"}}";
	const char *bad = "{\"id\":\"sub_2\",\"endpoint_id\":\"ep_1\",\"created_at\":\"2024-01-01T00:00:00Z\","
			  "\"status\":\"inbox\",\"error\":\"tampered\"}";
	char doc[2048];

	(void)state;
	/* An array, NDJSON, and a page of the list API. */
	snprintf(doc, sizeof(doc), "[\n%s,\n%s\n]\n", obj, bad);
	memset(&s, 0, sizeof(s));
	assert_int_equal(parse_all_ways(IMPORTFMT_JSON, doc, &roomy, &s), 0);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.rows[0].source, "inlet");
	assert_string_equal(s.rows[0].id, "sub_1");
	assert_int_equal(s.rows[0].status, 1);
	assert_int_equal(s.rows[0].ms, t("2024-01-01T00:00:00.001Z"));
	assert_string_equal(s.rows[0].fields, "{\"a\":\"1\",\"n\":{\"deep\":true}}");
	assert_string_equal(s.rows[0].meta, "{\"ip_hash\":\"ab\"}");
	assert_int_equal(s.rows[0].files, 1);
	assert_string_equal(s.rows[1].reject, "the export could not open this row (tampered)");

	snprintf(doc, sizeof(doc), "%s\n%s\r\n%s", obj, bad, obj);
	memset(&s, 0, sizeof(s));
	assert_int_equal(parse_all_ways(IMPORTFMT_JSON, doc, &roomy, &s), 0);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.rows[2].row, 3);
	assert_string_equal(s.rows[2].fields, s.rows[0].fields);

	snprintf(doc, sizeof(doc), "{\"data\":[%s],\"next_cursor\":null}", obj);
	memset(&s, 0, sizeof(s));
	assert_int_equal(parse_all_ways(IMPORTFMT_JSON, doc, &roomy, &s), 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.rows[0].id, "sub_1");

	/* "data" holding strings is a field, not the rows. */
	memset(&s, 0, sizeof(s));
	assert_int_equal(parse_all_ways(IMPORTFMT_JSON, "{\"data\": [\"a\"], \"x\": 1}", &roomy, &s), 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.rows[0].fields, "{\"data\":[\"a\"],\"x\":1}");
	assert_false(s.rows[0].has_time);
}

static void json_rejects(void **state)
{
	static struct sink s;
	static const struct importfmt_limits tight = { 2, 8, 5, 60, 10 };
	const char *doc = "[1, \"s\", [], {\"a\": tru}, {}, {\"a\":\"123456\"}, {\"a\":1,\"b\":2,\"c\":3},"
			  " {\"created_at\": 5, \"a\": \"x\"}, {\"_date\": null, \"a\": \"x\"},"
			  " {\"fields\":{\"a\":\"x\"},\"status\":3},"
			  " {\"a\": \"0123456789012345678901234567890123456789012345678901234567890\"}, true]";

	(void)state;
	memset(&s, 0, sizeof(s));
	assert_int_equal(parse_all_ways(IMPORTFMT_JSON, doc, &tight, &s), 0);
	assert_int_equal(s.n, 12);
	assert_string_equal(s.rows[0].reject, "the row is not a JSON object");
	assert_string_equal(s.rows[1].reject, "the row is not a JSON object");
	assert_string_equal(s.rows[2].reject, "the row is not a JSON object");
	assert_string_equal(s.rows[3].reject, "the row is not valid JSON");
	assert_string_equal(s.rows[4].reject, "the row has no fields");
	assert_string_equal(s.rows[5].reject, "the value of \"a\" is longer than 5 bytes");
	assert_string_equal(s.rows[6].reject, "more than 2 fields");
	assert_string_equal(s.rows[7].reject, "");
	assert_int_equal(s.rows[7].ms, 5000);
	assert_string_equal(s.rows[8].reject, "the date is missing");
	assert_string_equal(s.rows[9].reject, "status \"3\" is not inbox, spam or trash");
	assert_string_equal(s.rows[10].reject, "the row is larger than 60 bytes");
	assert_string_equal(s.rows[11].reject, "the row is not a JSON object");
}

static void json_broken(void **state)
{
	static const char *const docs[] = {
		"x", "[{\"a\":1} {\"a\":2}]", "[{\"a\":1},]", "[{\"a\":1}", "{\"a\":1", "[,{\"a\":1}]", "{\"a\":1}]",
	};
	static const char *const why[] = {
		"byte 0: expected a JSON array or object",
		"byte 9: expected ',' or ']' between rows",
		"byte 9: ']' after ','",
		"the JSON ends before its array closes",
		"the JSON ends before its object closes",
		"byte 1: unexpected ','",
		"byte 7: expected a JSON array or object",
	};
	static struct sink s;
	char err[200];

	(void)state;
	for (size_t i = 0; i < sizeof(docs) / sizeof(*docs); i++) {
		memset(&s, 0, sizeof(s));
		assert_int_equal(parse(IMPORTFMT_JSON, docs[i], strlen(docs[i]), 0, &roomy, &s, err, sizeof(err)),
				 INLET_EINVAL);
		assert_string_equal(err, why[i]);
		memset(&s, 0, sizeof(s));
		assert_int_equal(parse(IMPORTFMT_JSON, docs[i], strlen(docs[i]), 1, &roomy, &s, err, sizeof(err)),
				 INLET_EINVAL);
		assert_string_equal(err, why[i]);
	}
}

/* ---- times --------------------------------------------------------------- */

static void times(void **state)
{
	static const struct { const char *s; int64_t ms; } ok[] = {
		{ "1970-01-01", 0 },
		{ "2018-11-03T07:28:29.707632", 1541230109707 },
		{ "2018-11-03T07:28:29.7", 1541230109700 },
		{ "2018-11-03 07:28:29", 1541230109000 },
		{ "2018-11-03T07:28", 1541230080000 },
		{ "2018-11-03T07:28:29Z", 1541230109000 },
		{ "2018-11-03T09:28:29+02:00", 1541230109000 },
		{ "2018-11-03T02:28:29-0500", 1541230109000 },
		{ "2018-11-03T07:28:29.000 +00", 1541230109000 },
		{ "2024-02-29", 1709164800000 },
		{ " 1541230109 ", 1541230109000 },
		{ "1541230109707", 1541230109707 },
	};
	static const char *const bad[] = {
		"", "yesterday", "2018-13-01", "2018-02-30", "2023-02-29", "2018-11-03T25:00", "2018-11-03T07:60",
		"2018-11-03T07:28:29.", "2018-11-03T07:28:29+2", "1969-12-31", "2018-11-03Tx", "2018/11/03",
		"1234567890123456", "-5", "2018-11-03T07:28:29Q",
	};
	int64_t ms;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(*ok); i++) {
		ms = -1;
		assert_int_equal(importfmt_parse_time(ok[i].s, strlen(ok[i].s), &ms), 0);
		assert_int_equal(ms, ok[i].ms);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		assert_int_equal(importfmt_parse_time(bad[i], strlen(bad[i]), &ms), INLET_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(csv_formspree),
		cmocka_unit_test(csv_inlet),
		cmocka_unit_test(csv_generic_and_line_ends),
		cmocka_unit_test(csv_rejects),
		cmocka_unit_test(csv_bad_header),
		cmocka_unit_test(callback_stops),
		cmocka_unit_test(json_formspree),
		cmocka_unit_test(json_inlet_shapes),
		cmocka_unit_test(json_rejects),
		cmocka_unit_test(json_broken),
		cmocka_unit_test(times),
	};

	return cmocka_run_group_tests_name("importfmt", tests, NULL, NULL);
}
