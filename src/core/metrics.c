#include "core/metrics.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "http/http.h"

#define MAX_ROUTES 64
static const int statuses[] = { 200, 201, 204, 303, 400, 401, 403, 404, 405,
				413, 415, 422, 429, 500, 503 };
#define NSTATUS (sizeof(statuses) / sizeof(statuses[0]))

/* Ingest outcomes: a fixed vocabulary so the label set stays bounded. */
static const char *const outcomes[] = {
	"accepted", "FORM_NOT_FOUND", "EMPTY", "INACTIVE", "FILES_TOO_BIG",
	"TOO_MANY_FILES", "NO_FILE_UPLOADS", "REQUIRED_FIELD_MISSING",
	"REQUIRED_FIELD_EMPTY", "TYPE_EMAIL", "TYPE_NUMERIC", "BODY_TOO_BIG",
	"UNSUPPORTED_CONTENT_TYPE", "ORIGIN_NOT_ALLOWED", "RATE_LIMITED",
	"INVALID", "TOO_MANY_FIELDS", "METHOD_NOT_ALLOWED", "INTERNAL", "spam", "other"
};
#define NOUTCOME (sizeof(outcomes) / sizeof(outcomes[0]))

/* Batch-size buckets (rows) and commit-latency buckets (ms). */
static const double size_le[] = { 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024 };
static const double ms_le[] = { 0.5, 1, 2, 5, 10, 20, 50, 100, 250, 1000 };
#define NSIZE (sizeof(size_le) / sizeof(size_le[0]))
#define NMS (sizeof(ms_le) / sizeof(ms_le[0]))

static const struct route *route_table;
static int nroutes;
static atomic_ullong http_count[MAX_ROUTES + 1][NSTATUS + 1]; /* last row: unrouted */
static atomic_llong open_conns;
static atomic_ullong ingest_count[NOUTCOME];
static atomic_ullong batch_size_bucket[NSIZE + 1], batch_ms_bucket[NMS + 1];
static atomic_ullong batch_count, batch_rows;
static _Atomic double batch_ms_sum;
static atomic_ullong redis_count[METRICS_REDIS_DROPPED + 1];

void metrics_init(const struct route *routes)
{
	route_table = routes;
	for (nroutes = 0; nroutes < MAX_ROUTES && routes[nroutes].method; nroutes++)
		;
}

void metrics_http(int route_index, int status)
{
	size_t s;

	if (route_index < 0 || route_index >= nroutes)
		route_index = MAX_ROUTES;
	for (s = 0; s < NSTATUS && statuses[s] != status; s++)
		;
	atomic_fetch_add_explicit(&http_count[route_index][s], 1, memory_order_relaxed);
}

void metrics_conn(int delta)
{
	atomic_fetch_add_explicit(&open_conns, delta, memory_order_relaxed);
}

void metrics_ingest(const char *outcome)
{
	size_t i;

	for (i = 0; i < NOUTCOME - 1 && strcmp(outcomes[i], outcome) != 0; i++)
		;
	atomic_fetch_add_explicit(&ingest_count[i], 1, memory_order_relaxed);
}

void metrics_batch(size_t rows, double commit_ms)
{
	size_t i;
	double old;

	for (i = 0; i < NSIZE && (double)rows > size_le[i]; i++)
		;
	atomic_fetch_add_explicit(&batch_size_bucket[i], 1, memory_order_relaxed);
	for (i = 0; i < NMS && commit_ms > ms_le[i]; i++)
		;
	atomic_fetch_add_explicit(&batch_ms_bucket[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&batch_count, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&batch_rows, rows, memory_order_relaxed);
	old = atomic_load(&batch_ms_sum);
	while (!atomic_compare_exchange_weak(&batch_ms_sum, &old, old + commit_ms))
		;
}

void metrics_redis(enum metrics_redis what)
{
	atomic_fetch_add_explicit(&redis_count[what], 1, memory_order_relaxed);
}

static int histogram(struct buf *out, const char *name, const double *le, size_t n,
		     atomic_ullong *buckets, unsigned long long count, double sum)
{
	unsigned long long cum = 0;
	int rc = 0;

	rc |= buf_printf(out, "# TYPE %s histogram\n", name);
	for (size_t i = 0; i < n; i++) {
		cum += atomic_load(&buckets[i]);
		rc |= buf_printf(out, "%s_bucket{le=\"%g\"} %llu\n", name, le[i], cum);
	}
	cum += atomic_load(&buckets[n]);
	rc |= buf_printf(out, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %g\n%s_count %llu\n",
			 name, cum, name, sum, name, count);
	return rc;
}

int metrics_render(struct buf *out, unsigned long long cache_hits,
		   unsigned long long cache_misses, size_t cache_entries)
{
	int rc = 0;

	rc |= buf_puts(out, "# HELP inlet_http_requests_total HTTP requests by route and status.\n"
			    "# TYPE inlet_http_requests_total counter\n");
	for (int r = 0; r <= MAX_ROUTES; r++) {
		if (r >= nroutes && r != MAX_ROUTES)
			continue;
		for (size_t s = 0; s <= NSTATUS; s++) {
			unsigned long long v = atomic_load(&http_count[r][s]);
			char status[8];

			if (!v)
				continue;
			if (s < NSTATUS)
				snprintf(status, sizeof(status), "%d", statuses[s]);
			else
				snprintf(status, sizeof(status), "other");
			rc |= buf_printf(out, "inlet_http_requests_total{route=\"%s %s\",status=\"%s\"} %llu\n",
					 r == MAX_ROUTES ? "-" : route_table[r].method,
					 r == MAX_ROUTES ? "unrouted" : route_table[r].pattern,
					 status, v);
		}
	}
	rc |= buf_printf(out, "# TYPE inlet_http_open_connections gauge\ninlet_http_open_connections %lld\n",
			 (long long)atomic_load(&open_conns));
	rc |= buf_puts(out, "# HELP inlet_ingest_total Form posts by outcome.\n# TYPE inlet_ingest_total counter\n");
	for (size_t i = 0; i < NOUTCOME; i++)
		rc |= buf_printf(out, "inlet_ingest_total{outcome=\"%s\"} %llu\n", outcomes[i],
				 (unsigned long long)atomic_load(&ingest_count[i]));
	rc |= histogram(out, "inlet_writer_batch_size", size_le, NSIZE, batch_size_bucket,
			atomic_load(&batch_count), (double)atomic_load(&batch_rows));
	rc |= histogram(out, "inlet_writer_commit_ms", ms_le, NMS, batch_ms_bucket,
			atomic_load(&batch_count), atomic_load(&batch_ms_sum));
	rc |= buf_printf(out,
			 "# TYPE inlet_vault_key_cache_hits_total counter\ninlet_vault_key_cache_hits_total %llu\n"
			 "# TYPE inlet_vault_key_cache_misses_total counter\ninlet_vault_key_cache_misses_total %llu\n"
			 "# TYPE inlet_vault_key_cache_entries gauge\ninlet_vault_key_cache_entries %zu\n",
			 cache_hits, cache_misses, cache_entries);
	rc |= buf_printf(out,
			 "# HELP inlet_redis_errors_total Redis connections and commands that failed.\n"
			 "# TYPE inlet_redis_errors_total counter\ninlet_redis_errors_total %llu\n"
			 "# HELP inlet_redis_fallbacks_total Rate-limit checks decided locally because Redis was down or slow.\n"
			 "# TYPE inlet_redis_fallbacks_total counter\ninlet_redis_fallbacks_total %llu\n"
			 "# HELP inlet_redis_dropped_total Messages for the other nodes (live events, invalidations) not sent.\n"
			 "# TYPE inlet_redis_dropped_total counter\ninlet_redis_dropped_total %llu\n",
			 (unsigned long long)atomic_load(&redis_count[METRICS_REDIS_ERROR]),
			 (unsigned long long)atomic_load(&redis_count[METRICS_REDIS_FALLBACK]),
			 (unsigned long long)atomic_load(&redis_count[METRICS_REDIS_DROPPED]));
	return rc ? -1 : 0;
}
