/* zcodec: zstd frames with and without trained dictionaries, every way a
 * frame can be wrong, the output cap, threads sharing one dictionary, and
 * the gain a dictionary brings on a realistic corpus.
 *
 * The corpus generator (corpus_event below) writes events shaped like what
 * @sentry/browser and @sentry/node 8/9 send for one project: the same SDK
 * block and integrations, exceptions from a small set of types and
 * messages, stack frames drawn from a fixed set of files and functions
 * (minified bundle chunks for the browser, dist/ paths and node:internal
 * frames for node), breadcrumbs (clicks, fetches, console, navigation),
 * request, contexts, tags, user, and for node the "modules" list; ids,
 * timestamps, line numbers and counts vary. Deterministic: event i of seed
 * s is always the same bytes. Sizes run from ~2 to ~25 KiB. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <zstd.h>

#include "core/buf.h"
#include "core/err.h"
#include "events/zcodec.h"

/* ---- a deterministic corpus of Sentry-like events ---- */

static uint64_t rnd(uint64_t *s)
{
	/* xorshift64*: plenty for test data, and the same everywhere. */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545F4914F6CDD1DULL;
}

static unsigned pick(uint64_t *s, unsigned n)
{
	return (unsigned)(rnd(s) % n);
}

static void put_hex(struct buf *b, uint64_t *s, unsigned digits)
{
	static const char hex[] = "0123456789abcdef";
	unsigned i;

	for (i = 0; i < digits; i++)
		assert_int_equal(buf_putc(b, hex[rnd(s) & 15]), 0);
}

static const char *const exc_types[] = {
	"TypeError", "TypeError", "TypeError", "ReferenceError", "Error", "RangeError",
	"SyntaxError", "AbortError", "ChunkLoadError", "UnhandledRejection",
};
static const char *const exc_values[] = {
	"Cannot read properties of undefined (reading 'id')",
	"Cannot read properties of null (reading 'map')",
	"undefined is not a function",
	"%s is not defined",
	"Request failed with status code %u",
	"Maximum call stack size exceeded",
	"Unexpected token '<', \"<!DOCTYPE \"... is not valid JSON",
	"The user aborted a request.",
	"Loading chunk %u failed.",
	"Non-Error promise rejection captured with value: Timeout (%u ms)",
	"Invalid time value",
	"Failed to fetch",
};
static const char *const idents[] = {
	"gtag", "dataLayer", "process", "Buffer", "regeneratorRuntime", "__NEXT_DATA__",
};
static const char *const web_files[] = {
	"https://app.example.com/assets/index-3f9a1c2b.js",
	"https://app.example.com/assets/vendor-react-8d1e55a0.js",
	"https://app.example.com/assets/CheckoutPage-71b2c9de.js",
	"https://app.example.com/assets/api-client-0c4f9e12.js",
	"https://app.example.com/assets/store-5a6b7c8d.js",
	"https://cdn.example.net/js/analytics.min.js",
};
static const char *const web_funcs[] = {
	"onClick", "handleSubmit", "useEffect", "commitHookEffectListMount", "renderWithHooks",
	"Object.dispatch", "fetchJson", "async loadOrder", "Array.map", "HTMLButtonElement.n",
	"beginWork", "performUnitOfWork", "e", "t.value", "?",
};
static const char *const node_files[] = {
	"/srv/api/dist/routes/orders.js", "/srv/api/dist/routes/users.js",
	"/srv/api/dist/services/billing.js", "/srv/api/dist/db/pool.js",
	"/srv/api/node_modules/express/lib/router/layer.js",
	"/srv/api/node_modules/express/lib/router/route.js",
	"/srv/api/node_modules/pg/lib/client.js", "node:internal/process/task_queues",
	"node:events", "node:internal/timers",
};
static const char *const node_funcs[] = {
	"getOrder", "createInvoice", "Layer.handle [as handle_request]", "next", "Route.dispatch",
	"Client._handleReadyForQuery", "process.processTicksAndRejections", "listOnTimeout",
	"EventEmitter.emit", "async Promise.all", "Pool.query", "validateUser",
};
static const char *const paths[] = {
	"/", "/users/%u", "/orders/%u", "/checkout", "/settings/profile", "/search?q=item%u",
	"/api/orders/%u/items", "/login",
};
static const char *const clicks[] = {
	"body > div#root > main > button.btn.btn-primary",
	"body > div#root > nav > a.nav-link[href=\"/orders\"]",
	"body > div#root > form > input#email[type=\"email\"]",
	"body > div#root > div.modal > button.close",
};
static const char *const consoles[] = {
	"[store] hydrate ok", "Warning: Each child in a list should have a unique \"key\" prop.",
	"websocket reconnecting (attempt %u)", "feature flags loaded: %u",
};
static const char *const modules[] = {
	"express", "4.21.1", "pg", "8.13.1", "zod", "3.23.8", "pino", "9.5.0", "ioredis", "5.4.1",
	"@sentry/node", "8.40.0", "jsonwebtoken", "9.0.2", "dotenv", "16.4.5", "uuid", "11.0.3",
	"axios", "1.7.7", "lodash", "4.17.21", "date-fns", "4.1.0", "bullmq", "5.30.0",
};

/* printf of fmt with one unsigned (for fmts that may hold %u or %s). */
static void put_fmt(struct buf *b, const char *fmt, uint64_t *s)
{
	if (strstr(fmt, "%s"))
		assert_int_equal(buf_printf(b, fmt, idents[pick(s, 6)]), 0);
	else if (strstr(fmt, "%u"))
		assert_int_equal(buf_printf(b, fmt, 1 + pick(s, 50000)), 0);
	else
		assert_int_equal(buf_puts(b, fmt), 0);
}

/* JSON-escapes nothing: every string above is written to need no escape
 * but the quotes, written escaped where they occur. */
static void put_str(struct buf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '"')
			assert_int_equal(buf_puts(b, "\\\""), 0);
		else
			assert_int_equal(buf_putc(b, *s), 0);
	}
}

static void put_fmt_str(struct buf *b, const char *fmt, uint64_t *s)
{
	struct buf t;

	buf_init(&t, 0);
	put_fmt(&t, fmt, s);
	put_str(b, t.data);
	buf_free(&t);
}

static void corpus_frames(struct buf *b, uint64_t *s, int node)
{
	unsigned i, n = 4 + pick(s, node ? 12 : 22);

	assert_int_equal(buf_puts(b, "\"stacktrace\":{\"frames\":["), 0);
	for (i = 0; i < n; i++) {
		const char *file = node ? node_files[pick(s, 10)] : web_files[pick(s, 6)];
		const char *fn = node ? node_funcs[pick(s, 12)] : web_funcs[pick(s, 15)];
		int in_app = !strstr(file, "node_modules") && !strstr(file, "node:") &&
			     !strstr(file, "vendor") && !strstr(file, "cdn.");

		assert_int_equal(buf_printf(b,
			"%s{\"filename\":\"%s\",\"function\":\"%s\",\"in_app\":%s,\"lineno\":%u,\"colno\":%u%s}",
			i ? "," : "", file, fn, in_app ? "true" : "false", 1 + pick(s, node ? 900 : 3),
			1 + pick(s, node ? 80 : 90000),
			node && in_app ? ",\"module\":\"dist.routes\",\"pre_context\":[\"  const id = req.params.id;\","
					 "\"  const order = await db.orders.find(id);\"],\"context_line\":"
					 "\"  return res.json(order.items.map(toDto));\",\"post_context\":[\"}\",\"\"]"
				       : ""), 0);
	}
	assert_int_equal(buf_puts(b, "]}"), 0);
}

static void corpus_breadcrumbs(struct buf *b, uint64_t *s, double ts)
{
	unsigned i, n = 3 + pick(s, 40);

	assert_int_equal(buf_puts(b, "\"breadcrumbs\":["), 0);
	for (i = 0; i < n; i++) {
		double t = ts - (n - i) * 1.7 - pick(s, 1000) / 1000.0;

		if (i)
			assert_int_equal(buf_putc(b, ','), 0);
		switch (pick(s, 4)) {
		case 0:
			assert_int_equal(buf_printf(b, "{\"timestamp\":%.3f,\"category\":\"ui.click\",\"message\":\"", t), 0);
			put_str(b, clicks[pick(s, 4)]);
			assert_int_equal(buf_puts(b, "\"}"), 0);
			break;
		case 1:
			assert_int_equal(buf_printf(b, "{\"timestamp\":%.3f,\"category\":\"fetch\",\"type\":\"http\","
						    "\"data\":{\"method\":\"%s\",\"url\":\"https://api.example.com",
						    t, pick(s, 3) ? "GET" : "POST"), 0);
			put_fmt(b, paths[pick(s, 8)], s);
			assert_int_equal(buf_printf(b, "\",\"status_code\":%u,\"__span\":\"",
						    pick(s, 8) ? 200 : 500), 0);
			put_hex(b, s, 16);
			assert_int_equal(buf_puts(b, "\"}}"), 0);
			break;
		case 2:
			assert_int_equal(buf_printf(b, "{\"timestamp\":%.3f,\"category\":\"console\",\"level\":\"%s\","
						    "\"message\":\"", t, pick(s, 2) ? "log" : "warn"), 0);
			put_fmt_str(b, consoles[pick(s, 4)], s);
			assert_int_equal(buf_puts(b, "\",\"data\":{\"logger\":\"console\"}}"), 0);
			break;
		default:
			assert_int_equal(buf_printf(b, "{\"timestamp\":%.3f,\"category\":\"navigation\",\"data\":{\"from\":\"", t), 0);
			put_fmt(b, paths[pick(s, 8)], s);
			assert_int_equal(buf_puts(b, "\",\"to\":\""), 0);
			put_fmt(b, paths[pick(s, 8)], s);
			assert_int_equal(buf_puts(b, "\"}}"), 0);
		}
	}
	assert_int_equal(buf_puts(b, "]"), 0);
}

/* Appends event i of the corpus with seed `seed` to b (see the top). */
static void corpus_event(struct buf *b, uint64_t seed, unsigned i)
{
	uint64_t st = seed * 0x9E3779B97F4A7C15ULL + i + 1, *s = &st;
	int node = pick(s, 10) < 4;
	double ts = 1732000000.0 + i * 37.0 + pick(s, 1000) / 1000.0;
	unsigned t = pick(s, 10), j;

	assert_int_equal(buf_puts(b, "{\"event_id\":\""), 0);
	put_hex(b, s, 32);
	assert_int_equal(buf_printf(b, "\",\"timestamp\":%.3f,\"platform\":\"%s\",\"level\":\"%s\","
				    "\"environment\":\"production\",\"release\":\"%s@2.%u.%u\","
				    "\"exception\":{\"values\":[{\"type\":\"%s\",\"value\":\"",
				    ts, node ? "node" : "javascript", pick(s, 8) ? "error" : "fatal",
				    node ? "api" : "web", 3 + i / 400, pick(s, 4), exc_types[t]), 0);
	put_fmt_str(b, exc_values[(t + pick(s, 3)) % 12], s);
	assert_int_equal(buf_printf(b, "\",\"mechanism\":{\"type\":\"%s\",\"handled\":%s},",
				    node ? "onunhandledrejection" : "onerror",
				    pick(s, 3) ? "false" : "true"), 0);
	corpus_frames(b, s, node);
	assert_int_equal(buf_puts(b, "}]},"), 0);
	corpus_breadcrumbs(b, s, ts);
	assert_int_equal(buf_puts(b, ",\"request\":{\"url\":\"https://app.example.com"), 0);
	put_fmt(b, paths[pick(s, 8)], s);
	assert_int_equal(buf_printf(b, "\",\"headers\":{\"User-Agent\":\"%s\"}},",
				    pick(s, 2) ? "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
						 "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
					       : "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) "
						 "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15"), 0);
	assert_int_equal(buf_puts(b, "\"contexts\":{\"trace\":{\"trace_id\":\""), 0);
	put_hex(b, s, 32);
	assert_int_equal(buf_puts(b, "\",\"span_id\":\""), 0);
	put_hex(b, s, 16);
	if (node)
		assert_int_equal(buf_printf(b, "\"},\"runtime\":{\"name\":\"node\",\"version\":\"v22.11.0\"},"
					    "\"os\":{\"kernel_version\":\"6.1.0-27-amd64\",\"name\":\"Linux\"},"
					    "\"app\":{\"app_start_time\":\"2024-11-19T08:00:00.000Z\",\"app_memory\":%u},"
					    "\"device\":{\"boot_time\":\"2024-11-01T00:00:00.000Z\",\"arch\":\"x64\","
					    "\"memory_size\":8232738816,\"free_memory\":%u,\"processor_count\":4,"
					    "\"cpu_description\":\"AMD EPYC 7B13\",\"processor_frequency\":2450},"
					    "\"culture\":{\"locale\":\"en-US\",\"timezone\":\"UTC\"}},"
					    "\"server_name\":\"api-%u\",\"modules\":{",
					    80000000 + pick(s, 90000000), 1000000000 + pick(s, 900000000),
					    pick(s, 6)), 0);
	else
		assert_int_equal(buf_printf(b, "\"},\"browser\":{\"name\":\"Chrome\",\"version\":\"131.0.0\"},"
					    "\"os\":{\"name\":\"Windows\",\"version\":\"10\"}},"
					    "\"user\":{\"ip_address\":\"{{auto}}\",\"id\":\"u_%u\"},"
					    "\"tags\":{\"locale\":\"en\",\"plan\":\"%s\"},",
					    pick(s, 5000), pick(s, 2) ? "pro" : "free"), 0);
	if (node) {
		for (j = 0; j < sizeof(modules) / sizeof(modules[0]); j += 2)
			assert_int_equal(buf_printf(b, "%s\"%s\":\"%s\"", j ? "," : "", modules[j], modules[j + 1]), 0);
		assert_int_equal(buf_puts(b, "},"), 0);
	}
	assert_int_equal(buf_printf(b, "\"sdk\":{\"name\":\"sentry.javascript.%s\",\"version\":\"8.40.0\","
				    "\"integrations\":[\"InboundFilters\",\"FunctionToString\",\"LinkedErrors\","
				    "\"RequestData\",\"Dedupe\",%s],\"packages\":[{\"name\":\"npm:@sentry/%s\","
				    "\"version\":\"8.40.0\"}]},\"transaction\":\"",
				    node ? "node" : "browser",
				    node ? "\"Console\",\"Http\",\"Express\",\"Postgres\",\"Graphql\",\"OnUncaughtException\","
					   "\"OnUnhandledRejection\",\"ContextLines\",\"LocalVariables\",\"Context\",\"Modules\""
					 : "\"BrowserApiErrors\",\"Breadcrumbs\",\"GlobalHandlers\",\"HttpContext\","
					   "\"BrowserSession\",\"BrowserTracing\"",
				    node ? "node" : "browser"), 0);
	put_fmt(b, paths[pick(s, 8)], s);
	assert_int_equal(buf_puts(b, "\"}"), 0);
}

/* n events of seed into one buffer laid end to end, sizes in sizes[]. */
static void corpus_build(uint64_t seed, unsigned n, struct buf *all, size_t *sizes)
{
	unsigned i;

	buf_init(all, 0);
	for (i = 0; i < n; i++) {
		size_t before = all->len;

		corpus_event(all, seed, i);
		sizes[i] = all->len - before;
	}
}

/* ---- helpers ---- */

#define NCORPUS 1000
#define NTRAIN 800
#define DICT_ID 0x4d3c2b1au

/* One corpus and one dictionary trained on its first NTRAIN events, made
 * once for the whole suite (training takes a while). */
static struct buf corpus;
static size_t sizes[NCORPUS];
static size_t offs[NCORPUS];
static struct buf dict_bytes;
static struct zcodec_dict *dict;

static int suite_setup(void **state)
{
	unsigned i;
	size_t off = 0;
	uint32_t id = 0;

	corpus_build(1, NCORPUS, &corpus, sizes);
	for (i = 0; i < NCORPUS; i++) {
		offs[i] = off;
		off += sizes[i];
	}
	buf_init(&dict_bytes, 0);
	if (zcodec_train(corpus.data, sizes, NTRAIN, DICT_ID, &dict_bytes) ||
	    zcodec_dict_load(dict_bytes.data, dict_bytes.len, &id, &dict) || id != DICT_ID)
		return -1;
	return 0;
}

static int suite_teardown(void **state)
{
	zcodec_dict_release(dict);
	buf_free(&dict_bytes);
	buf_free(&corpus);
	return 0;
}

static const char *ev(unsigned i)
{
	return corpus.data + offs[i];
}

/* Compresses p[0..n) with d, decompresses it again and compares. */
static void round_trip(const struct zcodec_dict *d, const void *p, size_t n)
{
	struct buf z, back;

	buf_init(&z, 0);
	buf_init(&back, n ? n : 1);
	assert_int_equal(zcodec_compress(d, p, n, &z), 0);
	assert_int_equal(zcodec_frame_dict_id(z.data, z.len), d ? zcodec_dict_id(d) : 0);
	assert_int_equal(zcodec_decompress(d, z.data, z.len, &back), 0);
	assert_int_equal(back.len, n);
	if (n)
		assert_memory_equal(back.data, p, n);
	buf_free(&z);
	buf_free(&back);
}

/* ---- tests ---- */

/* The frame header's length (RFC 8878 3.1.1.1): magic, descriptor, window
 * descriptor unless single-segment, dictionary id, content size. */
static size_t header_size(const unsigned char *p)
{
	static const size_t did[] = { 0, 1, 2, 4 }, fcs[] = { 0, 2, 4, 8 };
	unsigned fhd = p[4];
	int single = (fhd >> 5) & 1;
	size_t f = fcs[fhd >> 6];

	if (f == 0 && single)
		f = 1;
	return 5 + (single ? 0 : 1) + did[fhd & 3] + f;
}


static void t_round_trip_plain(void **state)
{
	static const char text[] = "{\"message\":\"hello\",\"level\":\"error\"}";
	unsigned char *rnd_bytes = malloc(100000);
	char *big = malloc(3u << 20);
	uint64_t s = 7;
	size_t i;

	round_trip(NULL, text, strlen(text));
	round_trip(NULL, "x", 1);
	for (i = 0; i < 100000; i++)
		rnd_bytes[i] = (unsigned char)rnd(&s);
	round_trip(NULL, rnd_bytes, 100000); /* incompressible: stored blocks */
	for (i = 0; i < (3u << 20); i++)
		big[i] = (char)('a' + (i / 7) % 26);
	round_trip(NULL, big, 3u << 20);
	for (i = 0; i < 20; i++)
		round_trip(NULL, ev((unsigned)i), sizes[i]);
	free(rnd_bytes);
	free(big);
}

static void t_round_trip_dict(void **state)
{
	static const char text[] = "{\"message\":\"hello\",\"level\":\"error\"}";
	unsigned i;

	round_trip(dict, text, strlen(text));
	/* Events the dictionary saw and events it did not. */
	for (i = 0; i < NCORPUS; i += 7)
		round_trip(dict, ev(i), sizes[i]);
}

static void t_empty(void **state)
{
	struct buf z, back;

	buf_init(&z, 0);
	buf_init(&back, 10);
	assert_int_equal(zcodec_compress(NULL, NULL, 0, &z), 0);
	assert_true(z.len > 0 && z.len < 32);
	assert_int_equal(buf_puts(&back, "pre"), 0);
	assert_int_equal(zcodec_decompress(NULL, z.data, z.len, &back), 0);
	assert_string_equal(back.data, "pre"); /* appended nothing */
	buf_reset(&z);
	assert_int_equal(zcodec_compress(dict, "", 0, &z), 0);
	assert_int_equal(zcodec_frame_dict_id(z.data, z.len), DICT_ID);
	assert_int_equal(zcodec_decompress(dict, z.data, z.len, &back), 0);
	assert_string_equal(back.data, "pre");
	/* No input at all is no frame. */
	assert_int_equal(zcodec_decompress(NULL, NULL, 0, &back), INLET_EINVAL);
	assert_int_equal(zcodec_decompress(NULL, "", 0, &back), INLET_EINVAL);
	buf_free(&z);
	buf_free(&back);
}

/* Output appends to what out holds; compressing appends too. */
static void t_appends(void **state)
{
	struct buf z, back;
	size_t first;

	buf_init(&z, 0);
	buf_init(&back, 0);
	assert_int_equal(buf_puts(&z, "HDR"), 0);
	assert_int_equal(zcodec_compress(dict, ev(3), sizes[3], &z), 0);
	first = z.len;
	assert_int_equal(memcmp(z.data, "HDR", 3), 0);
	assert_int_equal(zcodec_frame_dict_id(z.data + 3, z.len - 3), DICT_ID);
	assert_int_equal(buf_puts(&back, "pre:"), 0);
	assert_int_equal(zcodec_decompress(dict, z.data + 3, first - 3, &back), 0);
	assert_int_equal(back.len, 4 + sizes[3]);
	assert_memory_equal(back.data + 4, ev(3), sizes[3]);
	buf_free(&z);
	buf_free(&back);
}

static void t_dict_id_in_frame(void **state)
{
	struct buf z;
	unsigned char junk[64];

	buf_init(&z, 0);
	assert_int_equal(zcodec_dict_id(dict), DICT_ID);
	assert_int_equal(zcodec_compress(dict, ev(0), sizes[0], &z), 0);
	assert_int_equal(zcodec_frame_dict_id(z.data, z.len), DICT_ID);
	/* The descriptor says: content size present, checksum present. */
	assert_int_equal(ZSTD_getFrameContentSize(z.data, z.len), sizes[0]);
	assert_true(z.data[4] & 0x04);
	/* The header alone is enough to find the dictionary. */
	assert_int_equal(zcodec_frame_dict_id(z.data, header_size((unsigned char *)z.data)), DICT_ID);
	assert_int_equal(zcodec_frame_dict_id(z.data, 3), 0);
	buf_reset(&z);
	assert_int_equal(zcodec_compress(NULL, ev(0), sizes[0], &z), 0);
	assert_int_equal(zcodec_frame_dict_id(z.data, z.len), 0);
	assert_int_equal(ZSTD_getFrameContentSize(z.data, z.len), sizes[0]);
	assert_true(z.data[4] & 0x04);
	memset(junk, 0xA5, sizeof(junk));
	assert_int_equal(zcodec_frame_dict_id(junk, sizeof(junk)), 0);
	assert_int_equal(zcodec_frame_dict_id(NULL, 0), 0);
	buf_free(&z);
}

static void t_wrong_dict(void **state)
{
	struct buf z, back, other_bytes;
	struct zcodec_dict *other;
	uint32_t id;

	buf_init(&z, 0);
	buf_init(&back, 0);
	buf_init(&other_bytes, 0);
	/* Same samples but for the last 200, another id: another dictionary. */
	assert_int_equal(zcodec_train(ev(200), sizes + 200, NTRAIN, DICT_ID + 1, &other_bytes), 0);
	assert_int_equal(zcodec_dict_load(other_bytes.data, other_bytes.len, &id, &other), 0);
	assert_int_equal(id, DICT_ID + 1);
	assert_int_equal(buf_puts(&back, "keep"), 0);

	assert_int_equal(zcodec_compress(dict, ev(5), sizes[5], &z), 0);
	assert_int_equal(zcodec_decompress(other, z.data, z.len, &back), INLET_EINVAL);
	assert_int_equal(zcodec_decompress(NULL, z.data, z.len, &back), INLET_EINVAL);
	assert_int_equal(back.len, 4);
	buf_reset(&z);
	assert_int_equal(zcodec_compress(NULL, ev(5), sizes[5], &z), 0);
	assert_int_equal(zcodec_decompress(dict, z.data, z.len, &back), INLET_EINVAL);
	assert_int_equal(back.len, 4);
	assert_string_equal(back.data, "keep");
	zcodec_dict_release(other);
	buf_free(&z);
	buf_free(&back);
	buf_free(&other_bytes);
}

/* Every cut, every trailing byte, and bit flips everywhere: an error with
 * out untouched, or, where a flip hits a bit the decoder ignores (the
 * descriptor's unused bit, slack in entropy table descriptions), exactly
 * the original content: never other bytes, as the checksum sees any. */
static void check_damaged(const struct zcodec_dict *d, const char *orig, size_t n)
{
	struct buf z, back, bad;
	size_t i, ignored = 0;
	int bit, rc;

	buf_init(&z, 0);
	/* out->max bounds what a damaged header can make us allocate. */
	buf_init(&back, 1u << 20);
	buf_init(&bad, 0);
	assert_int_equal(zcodec_compress(d, orig, n, &z), 0);
	for (i = 0; i < z.len; i++) {
		rc = zcodec_decompress(d, z.data, i, &back);
		assert_int_equal(rc, INLET_EINVAL);
		assert_int_equal(back.len, 0);
	}
	assert_int_equal(buf_append(&bad, z.data, z.len), 0);
	assert_int_equal(buf_putc(&bad, 0), 0);
	assert_int_equal(zcodec_decompress(d, bad.data, bad.len, &back), INLET_EINVAL);
	assert_int_equal(back.len, 0);
	for (i = 0; i < z.len; i++) {
		for (bit = 0; bit < 8; bit += 3) {
			buf_reset(&bad);
			assert_int_equal(buf_append(&bad, z.data, z.len), 0);
			bad.data[i] ^= (char)(1 << bit);
			buf_reset(&back);
			rc = zcodec_decompress(d, bad.data, bad.len, &back);
			if (rc == 0) {
				ignored++;
				assert_int_equal(back.len, n);
				assert_memory_equal(back.data, orig, n);
			} else {
				assert_true(rc == INLET_EINVAL || rc == INLET_ETOOBIG);
				assert_int_equal(back.len, 0);
			}
		}
	}
	/* Nearly every flip is caught. */
	assert_true(ignored * 20 < z.len * 3);
	buf_free(&z);
	buf_free(&back);
	buf_free(&bad);
}

static void t_corrupt(void **state)
{
	check_damaged(NULL, ev(1), sizes[1]);
	check_damaged(dict, ev(2), sizes[2]);
	check_damaged(dict, ev(NCORPUS - 1), sizes[NCORPUS - 1]);
}

/* Not one plain frame: two frames, a skippable frame, a frame without its
 * content size (zstd allows it; this module never writes one). */
static void t_not_one_frame(void **state)
{
	struct buf z, back;
	ZSTD_CCtx *c = ZSTD_createCCtx();
	unsigned char skip[12] = { 0x50, 0x2A, 0x4D, 0x18, 4, 0, 0, 0, 1, 2, 3, 4 };
	char frame[256];
	size_t n;

	buf_init(&z, 0);
	buf_init(&back, 0);
	assert_int_equal(zcodec_compress(NULL, "abc", 3, &z), 0);
	n = z.len;
	assert_int_equal(zcodec_compress(NULL, "def", 3, &z), 0);
	assert_int_equal(zcodec_decompress(NULL, z.data, z.len, &back), INLET_EINVAL);
	assert_int_equal(zcodec_decompress(NULL, z.data, n, &back), 0);
	assert_string_equal(back.data, "abc");
	buf_reset(&back);
	assert_int_equal(zcodec_decompress(NULL, skip, sizeof(skip), &back), INLET_EINVAL);
	/* A skippable frame in front of a good one is not one frame either. */
	buf_reset(&z);
	assert_int_equal(buf_append(&z, skip, sizeof(skip)), 0);
	assert_int_equal(zcodec_compress(NULL, "abc", 3, &z), 0);
	assert_int_equal(zcodec_decompress(NULL, z.data, z.len, &back), INLET_EINVAL);

	assert_non_null(c);
	assert_false(ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, 0)));
	n = ZSTD_compress2(c, frame, sizeof(frame), "hello", 5);
	assert_false(ZSTD_isError(n));
	assert_int_equal(ZSTD_getFrameContentSize(frame, n), ZSTD_CONTENTSIZE_UNKNOWN);
	assert_int_equal(zcodec_decompress(NULL, frame, n, &back), INLET_EINVAL);
	/* The same with the size: fine, though written by plain zstd. */
	ZSTD_CCtx_reset(c, ZSTD_reset_session_and_parameters);
	n = ZSTD_compress2(c, frame, sizeof(frame), "hello", 5);
	assert_int_equal(zcodec_decompress(NULL, frame, n, &back), 0);
	assert_string_equal(back.data, "hello");
	ZSTD_freeCCtx(c);
	buf_free(&z);
	buf_free(&back);
}

static void t_too_big(void **state)
{
	struct buf z, back;
	size_t n = sizes[4];

	buf_init(&z, 0);
	assert_int_equal(zcodec_compress(dict, ev(4), n, &z), 0);
	/* Exactly the room needed, then one byte less. */
	buf_init(&back, n + 2);
	assert_int_equal(buf_puts(&back, "ab"), 0);
	assert_int_equal(zcodec_decompress(dict, z.data, z.len, &back), 0);
	assert_int_equal(back.len, n + 2);
	buf_free(&back);
	buf_init(&back, n + 1);
	assert_int_equal(buf_puts(&back, "ab"), 0);
	assert_int_equal(zcodec_decompress(dict, z.data, z.len, &back), INLET_ETOOBIG);
	assert_int_equal(back.len, 2);
	/* Refused before allocating: the buffer did not grow. */
	assert_true(back.cap < n);
	buf_free(&back);

	/* The compressed side: a frame bigger than the room left. */
	buf_init(&back, z.len - 1);
	assert_int_equal(zcodec_compress(dict, ev(4), n, &back), INLET_ETOOBIG);
	assert_int_equal(back.len, 0);
	buf_free(&back);
	buf_init(&back, z.len);
	assert_int_equal(zcodec_compress(dict, ev(4), n, &back), 0);
	assert_int_equal(back.len, z.len);
	assert_memory_equal(back.data, z.data, z.len);
	buf_free(&back);

	/* 8 MiB of zeros in a few hundred bytes: refused by its header. */
	{
		ZSTD_CCtx *c = ZSTD_createCCtx();
		size_t big = 8u << 20, cap = ZSTD_compressBound(big);
		char *src = calloc(1, big), *dst = malloc(cap);
		size_t m;

		m = ZSTD_compress2(c, dst, cap, src, big);
		assert_false(ZSTD_isError(m));
		buf_init(&back, 1u << 20);
		assert_int_equal(zcodec_decompress(NULL, dst, m, &back), INLET_ETOOBIG);
		assert_int_equal(back.len, 0);
		buf_free(&back);
		free(src);
		free(dst);
		ZSTD_freeCCtx(c);
	}
	buf_free(&z);
}

static void t_dict_load_invalid(void **state)
{
	struct zcodec_dict *d = (struct zcodec_dict *)(uintptr_t)1;
	uint32_t id = 99;
	char *copy;
	size_t i;

	/* Raw content (no magic number): zstd would take it, we do not. */
	assert_int_equal(zcodec_dict_load("just some bytes, no header", 26, &id, &d), INLET_EINVAL);
	assert_null(d);
	assert_int_equal(id, 0);
	assert_int_equal(zcodec_dict_load(NULL, 0, NULL, &d), INLET_EINVAL);
	assert_int_equal(zcodec_dict_load(dict_bytes.data, 4, NULL, &d), INLET_EINVAL);
	assert_int_equal(zcodec_dict_load(dict_bytes.data, ZCODEC_DICT_MAX + 1, NULL, &d), INLET_ETOOBIG);
	/* The header and the start of the tables, then nothing: corrupt. */
	assert_int_equal(zcodec_dict_load(dict_bytes.data, 40, NULL, &d), INLET_EINVAL);
	/* Tables overwritten with junk. */
	copy = malloc(dict_bytes.len);
	memcpy(copy, dict_bytes.data, dict_bytes.len);
	for (i = 8; i < 200; i++)
		copy[i] = (char)0xff;
	assert_int_equal(zcodec_dict_load(copy, dict_bytes.len, NULL, &d), INLET_EINVAL);
	assert_null(d);
	free(copy);
	/* Release accepts NULL. */
	zcodec_dict_release(NULL);
}

static void t_refcount(void **state)
{
	struct zcodec_dict *d;
	uint32_t id;
	size_t mem;

	assert_int_equal(zcodec_dict_load(dict_bytes.data, dict_bytes.len, &id, &d), 0);
	assert_int_equal(id, DICT_ID);
	mem = zcodec_dict_memory(d);
	assert_true(mem > dict_bytes.len);
	print_message("dictionary: %zu bytes, %zu bytes in memory loaded\n", dict_bytes.len, mem);
	zcodec_dict_ref(d);
	zcodec_dict_ref(d);
	zcodec_dict_release(d);
	zcodec_dict_release(d);
	round_trip(d, ev(9), sizes[9]); /* still one reference */
	zcodec_dict_release(d);         /* the last: freed (ASan checks) */
}

static void t_train(void **state)
{
	struct buf a, b;
	unsigned char *same;
	size_t *one, i;

	buf_init(&a, 0);
	buf_init(&b, 0);
	assert_int_equal(zcodec_train(corpus.data, sizes, ZCODEC_MIN_SAMPLES - 1, DICT_ID, &a), INLET_EINVAL);
	assert_int_equal(zcodec_train(corpus.data, sizes, NTRAIN, 0, &a), INLET_EINVAL);
	assert_int_equal(zcodec_train(corpus.data, sizes, NTRAIN, ZCODEC_ID_MIN - 1, &a), INLET_EINVAL);
	assert_int_equal(zcodec_train(corpus.data, sizes, NTRAIN, ZCODEC_ID_MAX + 1, &a), INLET_EINVAL);
	assert_int_equal(zcodec_train(NULL, sizes, NTRAIN, DICT_ID, &a), INLET_EINVAL);
	assert_int_equal(zcodec_train(corpus.data, NULL, NTRAIN, DICT_ID, &a), INLET_EINVAL);
	/* Nothing to learn from: empty samples, 5 bytes in all. (zstd does
	 * train on 200 bytes; what it makes is small and worthless, which is
	 * why the caller waits for ZCODEC_MIN_SAMPLES real events.) */
	same = calloc(ZCODEC_MIN_SAMPLES, 100);
	one = calloc(ZCODEC_MIN_SAMPLES, sizeof(*one));
	assert_int_equal(zcodec_train(same, one, ZCODEC_MIN_SAMPLES, DICT_ID, &a), INLET_EINVAL);
	one[0] = 5;
	assert_int_equal(zcodec_train(corpus.data, one, ZCODEC_MIN_SAMPLES, DICT_ID, &a), INLET_EINVAL);
	assert_int_equal(a.len, 0);
	free(same);
	free(one);

	/* The minimum works, and training is deterministic. */
	assert_int_equal(zcodec_train(corpus.data, sizes, ZCODEC_MIN_SAMPLES, ZCODEC_ID_MIN, &a), 0);
	assert_int_equal(zcodec_train(corpus.data, sizes, ZCODEC_MIN_SAMPLES, ZCODEC_ID_MIN, &b), 0);
	assert_true(a.len > 1000 && a.len <= ZCODEC_DICT_MAX);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.data, b.data, a.len);
	assert_int_equal(zcodec_frame_dict_id(NULL, 0), 0);
	/* The id is the caller's, and dict_load reads it back. */
	{
		struct zcodec_dict *d;
		uint32_t id;

		assert_int_equal(zcodec_dict_load(a.data, a.len, &id, &d), 0);
		assert_int_equal(id, ZCODEC_ID_MIN);
		round_trip(d, ev(999), sizes[999]);
		zcodec_dict_release(d);
	}
	/* Appends; refused when it does not fit. */
	buf_free(&b);
	buf_init(&b, 100);
	assert_int_equal(zcodec_train(corpus.data, sizes, ZCODEC_MIN_SAMPLES, ZCODEC_ID_MAX, &b), INLET_ETOOBIG);
	assert_int_equal(b.len, 0);
	/* Sample sizes past the cap are refused before training. */
	{
		size_t huge[ZCODEC_MIN_SAMPLES];

		for (i = 0; i < ZCODEC_MIN_SAMPLES; i++)
			huge[i] = (size_t)ZCODEC_TRAIN_MAX / 100;
		assert_int_equal(zcodec_train(corpus.data, huge, ZCODEC_MIN_SAMPLES, DICT_ID, &b), INLET_ETOOBIG);
		huge[0] = SIZE_MAX;
		assert_int_equal(zcodec_train(corpus.data, huge, ZCODEC_MIN_SAMPLES, DICT_ID, &b), INLET_ETOOBIG);
	}
	buf_free(&a);
	buf_free(&b);
}

/* ---- threads ---- */

#define NTHREADS 4
#define PER_THREAD 1000

struct worker {
	struct zcodec_dict *d; /* one reference, owned by the thread */
	unsigned seed;
	int failures;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	struct buf z, back;
	unsigned i;

	buf_init(&z, 0);
	buf_init(&back, 1u << 20);
	for (i = 0; i < PER_THREAD; i++) {
		unsigned k = (w->seed * 7919u + i * 31u) % NCORPUS;
		/* Half with the shared dictionary, a few without. */
		const struct zcodec_dict *d = i % 8 == 7 ? NULL : w->d;

		buf_reset(&z);
		buf_reset(&back);
		if (zcodec_compress(d, ev(k), sizes[k], &z) ||
		    zcodec_decompress(d, z.data, z.len, &back) ||
		    back.len != sizes[k] || memcmp(back.data, ev(k), sizes[k]) != 0)
			w->failures++;
	}
	buf_free(&z);
	buf_free(&back);
	zcodec_dict_release(w->d);
	return NULL;
}

static void t_threads(void **state)
{
	pthread_t th[NTHREADS];
	struct worker w[NTHREADS];
	struct zcodec_dict *d;
	unsigned i;

	/* A dictionary of its own, so that the last reference dropped is a
	 * worker's and the free races with nothing (ASan/TSan would see). */
	assert_int_equal(zcodec_dict_load(dict_bytes.data, dict_bytes.len, NULL, &d), 0);
	for (i = 0; i < NTHREADS; i++) {
		zcodec_dict_ref(d);
		w[i].d = d;
		w[i].seed = i + 1;
		w[i].failures = 0;
		assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
	}
	zcodec_dict_release(d); /* the workers hold it now */
	for (i = 0; i < NTHREADS; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(w[i].failures, 0);
	}
}

/* ---- what a dictionary buys ---- */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void t_ratio(void **state)
{
	size_t raw = 0, plain = 0, with = 0, i;
	size_t smallest = SIZE_MAX, largest = 0;
	struct buf z;
	struct buf fresh;
	double t0, t1;

	buf_init(&z, 0);
	/* Held-out events only: those the dictionary was not trained on. */
	t0 = now_s();
	for (i = NTRAIN; i < NCORPUS; i++) {
		raw += sizes[i];
		smallest = sizes[i] < smallest ? sizes[i] : smallest;
		largest = sizes[i] > largest ? sizes[i] : largest;
		buf_reset(&z);
		assert_int_equal(zcodec_compress(NULL, ev((unsigned)i), sizes[i], &z), 0);
		plain += z.len;
	}
	t1 = now_s();
	for (i = NTRAIN; i < NCORPUS; i++) {
		buf_reset(&z);
		assert_int_equal(zcodec_compress(dict, ev((unsigned)i), sizes[i], &z), 0);
		with += z.len;
	}
	print_message("corpus: %u events, %zu..%zu bytes each (%zu bytes in the %u held out)\n",
		      NCORPUS, smallest, largest, raw, NCORPUS - NTRAIN);
	print_message("zstd -%d, no dictionary: %zu bytes, %.2fx, %.0f bytes/event\n", ZCODEC_LEVEL,
		      plain, (double)raw / plain, (double)plain / (NCORPUS - NTRAIN));
	print_message("zstd -%d, %zu-byte dictionary of %u events: %zu bytes, %.2fx, %.0f bytes/event\n",
		      ZCODEC_LEVEL, dict_bytes.len, NTRAIN, with, (double)raw / with,
		      (double)with / (NCORPUS - NTRAIN));
	print_message("no-dictionary compression: %.0f MB/s\n", raw / (t1 - t0) / 1e6);
	assert_true(with < plain);

	/* Training at the minimum: already worth it? */
	buf_init(&fresh, 0);
	t0 = now_s();
	assert_int_equal(zcodec_train(corpus.data, sizes, ZCODEC_MIN_SAMPLES, DICT_ID + 2, &fresh), 0);
	t1 = now_s();
	{
		struct zcodec_dict *d;
		size_t small = 0;

		assert_int_equal(zcodec_dict_load(fresh.data, fresh.len, NULL, &d), 0);
		for (i = NTRAIN; i < NCORPUS; i++) {
			buf_reset(&z);
			assert_int_equal(zcodec_compress(d, ev((unsigned)i), sizes[i], &z), 0);
			small += z.len;
		}
		print_message("dictionary of the first %u events (%zu bytes, trained in %.2f s): "
			      "%zu bytes, %.2fx\n", ZCODEC_MIN_SAMPLES, fresh.len, t1 - t0, small,
			      (double)raw / small);
		assert_true(small < plain);
		zcodec_dict_release(d);
	}
	buf_free(&fresh);
	buf_free(&z);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_round_trip_plain),
		cmocka_unit_test(t_round_trip_dict),
		cmocka_unit_test(t_empty),
		cmocka_unit_test(t_appends),
		cmocka_unit_test(t_dict_id_in_frame),
		cmocka_unit_test(t_wrong_dict),
		cmocka_unit_test(t_corrupt),
		cmocka_unit_test(t_not_one_frame),
		cmocka_unit_test(t_too_big),
		cmocka_unit_test(t_dict_load_invalid),
		cmocka_unit_test(t_refcount),
		cmocka_unit_test(t_train),
		cmocka_unit_test(t_threads),
		cmocka_unit_test(t_ratio),
	};

	return cmocka_run_group_tests(tests, suite_setup, suite_teardown);
}
