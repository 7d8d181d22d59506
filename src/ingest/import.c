/* Rows of an export into sealed submissions (see import.h). The parser
 * hands over rows; each accepted one is written as a record now and kept
 * in plain text in memory (never on disk) until its batch is committed,
 * because an id collision means sealing it again under another id. */
#include "ingest/import.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "app/app.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/enc.h"
#include "core/err.h"
#include "core/jsonw.h"
#include "core/log.h"
#include "endpoint/settings.h"
#include "ingest/fields.h"
#include "store/subs.h"
#include "store/tenant.h"
#include "vault/pubid.h"
#include "vault/vault.h"

#define BATCH_ROWS 500
#define BATCH_BYTES (16u * 1024 * 1024)   /* plain text held for one batch */
#define ROW_MAX (8u * 1024 * 1024)        /* one row as the file holds it */
#define COLUMNS_MAX 10000                  /* a CSV header's columns */
#define MS_IDS 4096                        /* ids per ms and node */
#define MS_SLOTS 8192                      /* ms seen by this import, counted */
#define MAX_ATTEMPTS 64                    /* ids tried for one row */

struct pending {
	struct import *im;
	size_t row;          /* in the file */
	int64_t ms;          /* the time it gets; 0: the import's own (a fresh id) */
	int status;
	char *plain;         /* the record (heap, wiped on free) */
	size_t plain_len;
	int attempts;
	int rc;              /* the writer's answer; under im->lock until it signals */
};

struct rejected {
	size_t row;
	char *reason;        /* heap */
};

struct import {
	struct app *app;
	int64_t endpoint_id;
	char *endpoint_pid;          /* heap */
	uint32_t key_version;
	int64_t shard_threshold;
	struct vault_key *key;
	struct importfmt *parser;
	int rc;                      /* sticky: what stopped the import */
	int store_rc;                /* sticky: a store failure (no more rows go in) */
	char error[240];

	struct pending *batch;       /* heap, BATCH_ROWS */
	size_t nbatch, batch_bytes;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	size_t outstanding;          /* rows with the writer; under lock */

	size_t imported, nrejected;
	struct rejected *rejected;   /* heap, up to IMPORT_REJECTED_MAX */
	size_t nlisted;

	struct { int64_t ms; uint32_t n; } *slots; /* heap, MS_SLOTS; ms 0 = free */
	size_t nslots;
	char imported_at[80];
};

static void add_rejected(struct import *im, size_t row, const char *reason)
{
	im->nrejected++;
	if (im->nlisted == IMPORT_REJECTED_MAX)
		return;
	im->rejected[im->nlisted].row = row;
	im->rejected[im->nlisted++].reason = xstrdup(reason);
}

static void pending_free(struct pending *p)
{
	if (p->plain) {
		secure_wipe(p->plain, p->plain_len);
		free(p->plain);
		p->plain = NULL;
	}
}

/* ---- ids ------------------------------------------------------------------ */

/* The count of ids this import gave at ms. The table forgets everything
 * when it fills: the store's unique ids still hold, retries just cost more. */
static uint32_t *ms_count(struct import *im, int64_t ms)
{
	size_t k = (size_t)((uint64_t)ms * 0x9E3779B97F4A7C15ull >> 51) & (MS_SLOTS - 1);

	for (;; k = (k + 1) & (MS_SLOTS - 1)) {
		if (im->slots[k].ms == ms)
			return &im->slots[k].n;
		if (im->slots[k].ms == 0)
			break;
	}
	if (im->nslots >= MS_SLOTS * 3 / 4) {
		memset(im->slots, 0, MS_SLOTS * sizeof(*im->slots));
		im->nslots = 0;
		return ms_count(im, ms);
	}
	im->nslots++;
	im->slots[k].ms = ms;
	im->slots[k].n = 0;
	return &im->slots[k].n;
}

/* The first ms from ms on that still has ids for this import: past 4,096
 * rows at one ms (an export with times to the second or the day), rows
 * move on to the next ms. 0 when that would reach now. */
static int64_t ms_take(struct import *im, int64_t ms)
{
	int64_t now = now_ms();

	for (; ms < now; ms++) {
		uint32_t *n = ms_count(im, ms);

		if (*n < MS_IDS) {
			(*n)++;
			return ms;
		}
	}
	return 0;
}

/* ---- commit ---------------------------------------------------------------- */

static void row_done(void *ctx, int rc)
{
	struct pending *p = ctx;
	struct import *im = p->im;

	/* Writer thread. */
	pthread_mutex_lock(&im->lock);
	p->rc = rc;
	if (--im->outstanding == 0)
		pthread_cond_signal(&im->cond);
	pthread_mutex_unlock(&im->lock);
}

/* Seals p under a new id and hands it to the writer. */
static int submit(struct import *im, struct pending *p)
{
	struct sub_row row = { 0 };
	char pid[PUBID_MAX];
	uint8_t *sealed = NULL;
	size_t sealed_len;
	int64_t id;
	int rc;

	if (p->ms == 0)
		id = sub_id_next();
	else if ((rc = sub_id_past(p->ms, &id)))
		return rc;
	pubid_encode(im->app->ids, "sub_", id, im->endpoint_id, pid);
	if ((rc = vault_seal(im->key, pid, p->plain, p->plain_len, &sealed, &sealed_len)))
		return rc;
	row.id = id;
	row.endpoint_id = im->endpoint_id;
	row.status = p->status;
	row.key_version = im->key_version;
	row.sealed = sealed;
	row.sealed_len = sealed_len;
	row.shard_threshold = im->shard_threshold;
	pthread_mutex_lock(&im->lock);
	im->outstanding++;
	pthread_mutex_unlock(&im->lock);
	/* The store is looked up each time: a batch may have moved the
	 * endpoint to a database of its own. */
	substore_insert(app_subs(im->app, im->endpoint_id), &row, row_done, p);
	free(sealed);
	return 0;
}

static int fatal_store_rc(int rc)
{
	return rc == INLET_EIO || rc == INLET_EDB || rc == INLET_ESHUTDOWN || rc == INLET_ENOMEM ||
	       rc == INLET_EBUSY || rc == INLET_ECRYPTO;
}

/* Submits the batch, waits for it, and submits again under new ids the
 * rows whose id was taken, until every row is committed or given up. */
static int flush(struct import *im)
{
	int again = 1;

	while (again) {
		again = 0;
		for (size_t i = 0; i < im->nbatch; i++) {
			struct pending *p = &im->batch[i];
			int rc;

			if (!p->plain || p->rc != INLET_EEXISTS || im->store_rc)
				continue;
			if (++p->attempts > MAX_ATTEMPTS) {
				add_rejected(im, p->row, "no free id at its time");
				pending_free(p);
				continue;
			}
			/* A ms whose ids keep colliding is full: go on to the next. */
			if (p->ms && p->attempts % 4 == 0 && !(p->ms = ms_take(im, p->ms + 1))) {
				add_rejected(im, p->row, "no free id at its time");
				pending_free(p);
				continue;
			}
			p->rc = 0;
			if ((rc = submit(im, p))) {
				if (!im->store_rc)
					im->store_rc = rc;
				add_rejected(im, p->row, inlet_strerror(rc));
				pending_free(p);
			}
		}
		pthread_mutex_lock(&im->lock);
		while (im->outstanding)
			pthread_cond_wait(&im->cond, &im->lock);
		pthread_mutex_unlock(&im->lock);
		for (size_t i = 0; i < im->nbatch; i++) {
			struct pending *p = &im->batch[i];

			if (!p->plain)
				continue;
			if (p->rc == 0) {
				im->imported++;
				pending_free(p);
			} else if (p->rc == INLET_EEXISTS && !im->store_rc) {
				again = 1;
			} else {
				char msg[120];

				if (fatal_store_rc(p->rc) && !im->store_rc)
					im->store_rc = p->rc;
				snprintf(msg, sizeof(msg), "not stored: %s",
					 p->rc == INLET_EEXISTS ? "the import stopped" : inlet_strerror(p->rc));
				add_rejected(im, p->row, msg);
				pending_free(p);
			}
		}
	}
	im->nbatch = 0;
	im->batch_bytes = 0;
	if (im->store_rc && !im->rc)
		im->rc = im->store_rc;
	return im->store_rc;
}

/* ---- rows ---------------------------------------------------------------- */

static const char *first_str(json_object *v)
{
	if (json_object_is_type(v, json_type_array))
		v = json_object_array_length(v) ? json_object_array_get_idx(v, 0) : NULL;
	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static void meta_str(struct jsonw *w, const char *key, const char *val)
{
	if (val && *val) {
		jsonw_key(w, key, strlen(key));
		jsonw_str(w, val, strlen(val));
	}
}

static void json_value(struct jsonw *w, json_object *v)
{
	size_t len;
	const char *s = json_object_to_json_string_length(v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE,
							  &len);

	jsonw_raw(w, s, len);
}

/* Writes {"fields","files","meta"} for the row; returns the fields written
 * and the status a post would have had. */
static size_t write_record(struct import *im, const struct importfmt_row *row, struct jsonw *w, int *status)
{
	static const char *const ours[] = { "imported_from", "imported_at", "source_id", "files_not_imported" };
	json_object *special = json_object_new_object();
	const char *gotcha, *reply;
	size_t nfields = 0;

	jsonw_open(w, '{');
	jsonw_key(w, "fields", 6);
	jsonw_open(w, '{');
	json_object_object_foreach(row->fields, k, v) {
		if (fields_is_special(k)) {
			json_object_object_add(special, k, json_object_get(v));
			continue;
		}
		jsonw_key(w, k, strlen(k));
		json_value(w, v);
		nfields++;
	}
	jsonw_close(w, '}');
	jsonw_key(w, "files", 5);
	jsonw_raw(w, "[]", 2);
	jsonw_key(w, "meta", 4);
	jsonw_open(w, '{');
	if (row->meta) {
		/* Inlet's own export: its meta comes along, but for what this
		 * import says about itself. */
		json_object_object_foreach(row->meta, mk, mv) {
			size_t i;

			for (i = 0; i < sizeof(ours) / sizeof(*ours) && strcmp(mk, ours[i]) != 0; i++)
				;
			if (i < sizeof(ours) / sizeof(*ours))
				continue;
			jsonw_key(w, mk, strlen(mk));
			json_value(w, mv);
		}
	}
	/* What a post makes of its special fields. */
	meta_str(w, "subject", first_str(json_object_object_get(special, "_subject")));
	reply = first_str(json_object_object_get(special, "_replyto"));
	if (!reply && !row->meta)
		reply = first_str(json_object_object_get(row->fields, "email"));
	meta_str(w, "reply_to", reply);
	meta_str(w, "cc", first_str(json_object_object_get(special, "_cc")));
	meta_str(w, "next", first_str(json_object_object_get(special, "_next")));
	meta_str(w, "format", first_str(json_object_object_get(special, "_format")));
	gotcha = first_str(json_object_object_get(special, "_gotcha"));
	if (gotcha && *gotcha)
		meta_str(w, "spam_reason", "honeypot");
	meta_str(w, "imported_from", row->source);
	meta_str(w, "imported_at", im->imported_at);
	meta_str(w, "source_id", row->source_id);
	if (row->files) {
		jsonw_key(w, "files_not_imported", 18);
		jsonw_int(w, (int64_t)row->files);
	}
	jsonw_close(w, '}');
	jsonw_close(w, '}');
	*status = row->status >= 0 ? row->status : gotcha && *gotcha ? SUB_SPAM : SUB_INBOX;
	json_object_put(special);
	return nfields;
}

static int on_row(void *ctx, const struct importfmt_row *row)
{
	struct import *im = ctx;
	struct pending *p;
	struct buf rec;
	struct jsonw w;
	int64_t ms = 0;
	int status;

	if (im->rc)
		return im->rc;
	if (row->reject) {
		add_rejected(im, row->row, row->reject);
		return 0;
	}
	if (row->has_time) {
		if (row->ms > now_ms()) {
			add_rejected(im, row->row, "the date is in the future");
			return 0;
		}
		if (row->ms <= 0) {
			add_rejected(im, row->row, "the date is before 1970");
			return 0;
		}
		/* A row from this very ms takes a live id, like a post. */
		if (row->ms < now_ms() && !(ms = ms_take(im, row->ms))) {
			add_rejected(im, row->row, "no free id at its time");
			return 0;
		}
	}
	buf_init(&rec, 2 * ROW_MAX + 64 * 1024);
	jsonw_init(&w, &rec);
	if (write_record(im, row, &w, &status) == 0 || w.rc) {
		add_rejected(im, row->row, w.rc ? "the row is too large" : "the row has no fields");
		if (rec.data)
			secure_wipe(rec.data, rec.len);
		buf_free(&rec);
		return 0;
	}
	p = &im->batch[im->nbatch++];
	*p = (struct pending){ .im = im, .row = row->row, .ms = ms, .status = status, .rc = INLET_EEXISTS };
	p->plain_len = rec.len;
	p->plain = buf_steal(&rec);
	im->batch_bytes += p->plain_len;
	/* rc INLET_EEXISTS marks "needs an id"; attempts count from 1. */
	p->attempts = 0;
	if (im->nbatch == BATCH_ROWS || im->batch_bytes >= BATCH_BYTES)
		return flush(im);
	return 0;
}

/* ---- the import ----------------------------------------------------------- */

int import_create(struct import **out, struct app *app, const struct endpoint *e, enum importfmt_format fmt)
{
	struct import *im = xcalloc(1, sizeof(*im));
	struct importfmt_limits lim;
	struct settings s;
	char err[200];
	int rc;

	*out = NULL;
	im->app = app;
	im->endpoint_id = e->id;
	im->endpoint_pid = xstrdup(e->pid);
	im->key_version = e->key_version;
	pthread_mutex_init(&im->lock, NULL);
	pthread_cond_init(&im->cond, NULL);
	im->batch = xcalloc(BATCH_ROWS, sizeof(*im->batch));
	im->rejected = xcalloc(IMPORT_REJECTED_MAX, sizeof(*im->rejected));
	im->slots = xcalloc(MS_SLOTS, sizeof(*im->slots));
	if ((rc = settings_parse(e->settings, &s, err, sizeof(err)))) {
		log_msg(LOG_ERROR, "endpoint %s: settings unreadable: %s", e->pid, err);
		goto out;
	}
	im->shard_threshold = (int64_t)s.shard_threshold;
	settings_free(&s);
	if ((rc = vault_key_get(app->vault, e->pid, e->key_version, e->wrapped, e->wrapped_len, &im->key))) {
		log_msg(LOG_ERROR, "endpoint %s: data key unavailable: %s", e->pid, inlet_strerror(rc));
		goto out;
	}
	{
		int64_t now = now_ms();
		time_t secs = (time_t)(now / 1000);
		struct tm tm;

		gmtime_r(&secs, &tm);
		snprintf(im->imported_at, sizeof(im->imported_at), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
			 (int)(now % 1000));
	}
	lim = (struct importfmt_limits){ .max_fields = app->cfg.max_fields, .max_name_len = app->cfg.max_name_len,
					 .max_value_len = app->cfg.max_value_len, .max_row_bytes = ROW_MAX,
					 .max_columns = COLUMNS_MAX };
	im->parser = importfmt_create(fmt, &lim, on_row, im);
out:
	if (rc) {
		import_destroy(im);
		return rc;
	}
	*out = im;
	return 0;
}

static int stopped(struct import *im, int rc)
{
	const char *why;

	if (!rc)
		return 0;
	if (!im->rc)
		im->rc = rc;
	if (!im->error[0] && (why = importfmt_error(im->parser)))
		snprintf(im->error, sizeof(im->error), "row %zu: %s", importfmt_rows(im->parser) + 1, why);
	return im->rc;
}

int import_feed(struct import *im, const char *data, size_t len)
{
	if (im->rc)
		return im->rc;
	return stopped(im, importfmt_feed(im->parser, data, len));
}

int import_finish(struct import *im)
{
	int rc;

	if (im->rc) {
		flush(im);
		return im->rc;
	}
	rc = importfmt_finish(im->parser);
	flush(im);
	return stopped(im, rc ? rc : im->rc);
}

const char *import_error(const struct import *im)
{
	return im->error[0] ? im->error : NULL;
}

void import_counts(const struct import *im, size_t *rows, size_t *imported, size_t *rejected)
{
	*rows = importfmt_rows(im->parser);
	*imported = im->imported;
	*rejected = im->nrejected;
}

json_object *import_report(const struct import *im)
{
	json_object *o = json_object_new_object(), *list = json_object_new_array();

	json_object_object_add(o, "rows", json_object_new_int64((int64_t)importfmt_rows(im->parser)));
	json_object_object_add(o, "imported", json_object_new_int64((int64_t)im->imported));
	json_object_object_add(o, "rejected_count", json_object_new_int64((int64_t)im->nrejected));
	for (size_t i = 0; i < im->nlisted; i++) {
		json_object *r = json_object_new_object();

		json_object_object_add(r, "row", json_object_new_int64((int64_t)im->rejected[i].row));
		json_object_object_add(r, "reason", json_object_new_string(im->rejected[i].reason));
		json_object_array_add(list, r);
	}
	json_object_object_add(o, "rejected", list);
	if (im->error[0])
		json_object_object_add(o, "error", json_object_new_string(im->error));
	return o;
}

void import_destroy(struct import *im)
{
	if (!im)
		return;
	/* The writer may still hold rows of a batch (a client gone mid-way):
	 * their callbacks point here. */
	pthread_mutex_lock(&im->lock);
	while (im->outstanding)
		pthread_cond_wait(&im->cond, &im->lock);
	pthread_mutex_unlock(&im->lock);
	for (size_t i = 0; i < im->nbatch; i++)
		pending_free(&im->batch[i]);
	for (size_t i = 0; i < im->nlisted; i++)
		free(im->rejected[i].reason);
	importfmt_destroy(im->parser);
	vault_key_release(im->key);
	pthread_cond_destroy(&im->cond);
	pthread_mutex_destroy(&im->lock);
	free(im->batch);
	free(im->rejected);
	free(im->slots);
	free(im->endpoint_pid);
	free(im);
}
