/* Moving one endpoint's rows from one store to another, online: a form's
 * submissions, or an events endpoint's events (then, in the cutover, its
 * issues, graphs, sessions and dictionaries too; `events` below).
 *
 *   track   the source logs every write to the endpoint's rows (move_log),
 *           in the same transaction as the write;
 *   copy    in steps: rows past the scan watermark, then log entries past
 *           the log watermark (each re-read from the source, so the copy
 *           holds the current state); both watermarks are stored in the
 *           target (move_meta) in the same transaction as the rows, so a
 *           crash resumes where the last step committed;
 *   cutover an exclusive op on the source's writer (nothing else writes
 *           there meanwhile): the last rows and log entries are copied, the
 *           target is committed complete, commit() makes the new location
 *           durable (the one commit point), and from then on the source
 *           forwards ops still queued for the endpoint to the target;
 *   cleanup the endpoint's rows leave the source in batches.
 * A reader always reads one store, chosen by the shard map, which holds
 * every row exactly once: the source until the commit point, the target
 * after it. */
#ifndef INLET_STORE_MOVE_H
#define INLET_STORE_MOVE_H

#include <stddef.h>
#include <stdint.h>

struct substore;

/* Starts (on = 1) or stops logging the endpoint's writes in src; ordered
 * with src's writes (runs on its writer). */
int move_track(struct substore *src, int64_t endpoint_id, int on);

/* Copies up to batch rows and batch log entries. *copied gets the rows
 * written to dst this step; *caught_up is set when both were short. */
int move_copy_step(struct substore *src, struct substore *dst, int64_t endpoint_id, int events,
		   size_t batch, int64_t *copied, int *caught_up);

/* The cutover. commit(ctx) runs once dst is complete; if it fails, the
 * move stays un-cut (the source keeps everything). switched(ctx) runs
 * after, still alone on the source's writer, to publish the new route. */
int move_cutover(struct substore *src, struct substore *dst, int64_t endpoint_id, int events,
		 int (*commit)(void *ctx), void (*switched)(void *ctx), void *ctx);

/* Deletes up to batch of the endpoint's rows from src; *left_any is 0
 * once none remain (its log and count rows are then gone too). */
int move_cleanup_step(struct substore *src, int64_t endpoint_id, int events, size_t batch, int *left_any);

/* Rows of the endpoint in dst's copy so far (move_meta), for progress. */
int move_progress(struct substore *dst, int64_t endpoint_id, int64_t *scan_done, int *complete);

#endif
