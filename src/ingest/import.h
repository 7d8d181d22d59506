/* Imports: the rows of an export (ingest/importfmt.h) become submissions of
 * one endpoint, each as a post would have made it: the record
 * {"fields","files":[],"meta"} (special fields such as _replyto go to meta,
 * as a post's do; meta also says "imported_from", "imported_at" and the
 * row's "source_id"), sealed with the endpoint's data key under the
 * submission's public id, and inserted through the endpoint's writer.
 *
 * A row keeps its source's time (its id is made at that ms: sub_id_past)
 * and status (inbox when the source has none; spam when a _gotcha field is
 * filled, as a post). A row without a time in the file gets the import's.
 * A ms holds 4,096 ids per node: past that many rows at one ms (an export
 * with times to the second or the day) the rest go to the next ms, so
 * their created_at moves by a millisecond or a few. An id that turns out
 * taken (a live row of that ms, an earlier import) is retried under
 * another, so no row is lost or overwritten; importing a file twice
 * imports it twice.
 * Rows are inserted 500 at a time, each batch waited for (so memory stays
 * bounded and the writer commits a batch in one transaction); a row only
 * counts as imported once committed. Required fields are not checked: an
 * export holds what the old form took. Imported rows never notify (no
 * outbox row): they are history, not news.
 *
 * One import is used by one thread at a time; it blocks while a batch
 * commits. */
#ifndef INLET_INGEST_IMPORT_H
#define INLET_INGEST_IMPORT_H

#include <stddef.h>

#include "ingest/importfmt.h"

struct app;
struct endpoint;
struct json_object;
struct import;

#define IMPORT_REJECTED_MAX 1000 /* rejected rows listed in a report; the rest are counted */

/* An import into e (a form endpoint; e is copied). INLET_E* when the
 * endpoint's key or settings cannot be had. */
int import_create(struct import **out, struct app *app, const struct endpoint *e, enum importfmt_format fmt);
/* Parses a chunk of the file and stores its complete rows. 0, or the code
 * that stopped the import: INLET_EINVAL for a file that cannot be read on
 * (import_error says why), a store error (INLET_EIO, INLET_ESHUTDOWN …).
 * Rows committed before a stop stay. */
int import_feed(struct import *im, const char *data, size_t len);
/* The end of the file: stores the last rows and waits for every commit. */
int import_finish(struct import *im);
/* Why the file could not be read on, or NULL. */
const char *import_error(const struct import *im);
/* Rows read, imported (committed) and rejected so far. */
void import_counts(const struct import *im, size_t *rows, size_t *imported, size_t *rejected);
/* {"rows","imported","rejected_count","rejected":[{"row","reason"}…]} and
 * "error" when the file stopped being read; the caller puts it. */
struct json_object *import_report(const struct import *im);
/* Waits for rows still being committed, wipes what it held. Accepts NULL. */
void import_destroy(struct import *im);

#endif
