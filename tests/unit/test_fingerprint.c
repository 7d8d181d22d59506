/* fp_compute and fp_normalize_message, driven by a corpus of events
 * (tests/unit/corpus/events/, one .json file per event). Each corpus file is one event as a
 * client sends it, plus keys the test reads and removes before grouping:
 *   "_expect_group"   (required) events with the same value must get the
 *                     same fingerprint, events with different values
 *                     different ones;
 *   "_expect_rule"    "sdk", "stack" or "message";
 *   "_expect_frames"  frames in the hash;
 *   "_expect_title", "_expect_culprit"  exact strings. */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/err.h"
#include "events/fingerprint.h"
#include "events/stack.h"

#define MAX_EVENTS 256

struct entry {
	char name[128];
	char group[128];
	struct fp_result fp;
	/* Expectations beside the group; "" or -1 when the file has none. */
	char rule[16];
	char title[FP_TITLE_SIZE];
	char culprit[FP_CULPRIT_SIZE];
	int has_title, has_culprit;
	int frames;
};

struct corpus {
	struct entry e[MAX_EVENTS];
	size_t n;
};

static struct corpus corpus;

/* ---- finding and reading the corpus ---- */

/* The corpus directory: -DCORPUS_DIR="path/to/corpus" when given, else
 * next to this source file (__FILE__ holds the path the compiler was
 * given, absolute or relative to where it ran), else relative to the
 * working directory: the repo root (make test), build/ or build/tests/. */
static int find_corpus(char *out, size_t size)
{
	const char *slash = strrchr(__FILE__, '/');
	char cand[5][1024];
	size_t i, n = 0;

#ifdef CORPUS_DIR
	snprintf(cand[n++], sizeof(cand[0]), "%s/events", CORPUS_DIR);
#endif
	if (slash)
		snprintf(cand[n++], sizeof(cand[0]), "%.*s/corpus/events",
			 (int)(slash - __FILE__), __FILE__);
	snprintf(cand[n++], sizeof(cand[0]), "tests/unit/corpus/events");
	snprintf(cand[n++], sizeof(cand[0]), "../tests/unit/corpus/events");
	snprintf(cand[n++], sizeof(cand[0]), "../../tests/unit/corpus/events");
	for (i = 0; i < n; i++) {
		DIR *d = opendir(cand[i]);
		size_t len = strlen(cand[i]);

		if (d) {
			closedir(d);
			if (len >= size)
				continue;
			memcpy(out, cand[i], len + 1);
			return 0;
		}
	}
	return -1;
}

static int by_name(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

static json_object *read_json(const char *path)
{
	FILE *f = fopen(path, "rb");
	struct buf b;
	char chunk[4096];
	size_t n;
	json_object *o;

	if (!f)
		return NULL;
	buf_init(&b, 8 << 20);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		assert_int_equal(buf_append(&b, chunk, n), 0);
	fclose(f);
	o = b.data ? json_tokener_parse(b.data) : NULL;
	buf_free(&b);
	return o;
}

static const char *take_str(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static const char *rule_name(enum fp_rule r)
{
	return r == FP_RULE_SDK ? "sdk" : r == FP_RULE_STACK ? "stack" : "message";
}

/* Copies the optional expectations of one corpus event into e. */
static void read_expect(json_object *ev, struct entry *e)
{
	const char *s;
	json_object *v;

	snprintf(e->rule, sizeof(e->rule), "%s", (s = take_str(ev, "_expect_rule")) ? s : "");
	if ((s = take_str(ev, "_expect_title")) != NULL) {
		e->has_title = 1;
		snprintf(e->title, sizeof(e->title), "%s", s);
	}
	if ((s = take_str(ev, "_expect_culprit")) != NULL) {
		e->has_culprit = 1;
		snprintf(e->culprit, sizeof(e->culprit), "%s", s);
	}
	e->frames = json_object_object_get_ex(ev, "_expect_frames", &v) ? json_object_get_int(v) : -1;
}

/* Removes every "_expect..." key, so grouping sees the event as sent. */
static void strip_expect(json_object *ev)
{
	const char *keys[16];
	size_t n = 0, i;

	json_object_object_foreach(ev, key, val) {
		(void)val;
		if (strncmp(key, "_expect", 7) == 0 && n < 16)
			keys[n++] = key;
	}
	for (i = 0; i < n; i++)
		json_object_object_del(ev, keys[i]);
}

static int load_corpus(void **state)
{
	char dir[1024], path[2048];
	char *names[MAX_EVENTS];
	size_t n = 0, i;
	struct dirent *de;
	DIR *d;

	if (find_corpus(dir, sizeof(dir))) {
		fprintf(stderr, "corpus not found (cwd or next to %s)\n", __FILE__);
		return -1;
	}
	d = opendir(dir);
	while ((de = readdir(d)) != NULL && n < MAX_EVENTS) {
		size_t len = strlen(de->d_name);

		if (len > 5 && strcmp(de->d_name + len - 5, ".json") == 0)
			names[n++] = strdup(de->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), by_name);
	for (i = 0; i < n; i++) {
		struct entry *e = &corpus.e[corpus.n];
		struct arena *a = arena_create(0);
		json_object *ev, *v;
		int rc;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		ev = read_json(path);
		if (!ev || !json_object_object_get_ex(ev, "_expect_group", &v)) {
			fprintf(stderr, "%s: not JSON, or no _expect_group\n", path);
			return -1;
		}
		snprintf(e->name, sizeof(e->name), "%s", names[i]);
		snprintf(e->group, sizeof(e->group), "%s", json_object_get_string(v));
		read_expect(ev, e);
		/* Grouping sees the event as the client sent it. */
		strip_expect(ev);
		rc = fp_compute(a, ev, FP_FORMAT_AUTO, NULL, &e->fp);
		if (rc) {
			fprintf(stderr, "%s: fp_compute: %s\n", path, inlet_strerror(rc));
			return -1;
		}
		json_object_put(ev);
		arena_destroy(a);
		free(names[i]);
		corpus.n++;
	}
	*state = &corpus;
	return 0;
}

/* ---- corpus tests ---- */

static void t_corpus_loaded(void **state)
{
	const struct corpus *c = *state;
	size_t i, j, multi = 0;

	/* The corpus is meant to be big enough to say something. */
	assert_true(c->n >= 40);
	for (i = 0; i < c->n; i++) {
		size_t same = 0;

		for (j = 0; j < c->n; j++)
			same += strcmp(c->e[i].group, c->e[j].group) == 0;
		multi += same > 1;
		assert_int_equal(strlen(c->e[i].fp.hash), FP_HEX_LEN);
	}
	assert_true(multi >= 30);
}

static void t_corpus_expectations(void **state)
{
	const struct corpus *c = *state;
	size_t i;

	for (i = 0; i < c->n; i++) {
		const struct entry *e = &c->e[i];

		if (*e->rule && strcmp(e->rule, rule_name(e->fp.rule)) != 0)
			fail_msg("%s: rule %s, expected %s", e->name, rule_name(e->fp.rule), e->rule);
		if (e->has_title && strcmp(e->title, e->fp.title) != 0)
			fail_msg("%s: title \"%s\", expected \"%s\"", e->name, e->fp.title, e->title);
		if (e->has_culprit && strcmp(e->culprit, e->fp.culprit) != 0)
			fail_msg("%s: culprit \"%s\", expected \"%s\"", e->name, e->fp.culprit, e->culprit);
		if (e->frames >= 0 && (unsigned)e->frames != e->fp.frames)
			fail_msg("%s: %u frames, expected %d", e->name, e->fp.frames, e->frames);
	}
}

static void t_corpus_same_group_same_hash(void **state)
{
	const struct corpus *c = *state;
	size_t i, j;

	for (i = 0; i < c->n; i++) {
		for (j = i + 1; j < c->n; j++) {
			if (strcmp(c->e[i].group, c->e[j].group) != 0)
				continue;
			if (strcmp(c->e[i].fp.hash, c->e[j].fp.hash) != 0)
				fail_msg("%s and %s are both %s, but hash apart",
					 c->e[i].name, c->e[j].name, c->e[i].group);
		}
	}
}

static void t_corpus_different_groups_differ(void **state)
{
	const struct corpus *c = *state;
	size_t i, j;

	for (i = 0; i < c->n; i++) {
		for (j = i + 1; j < c->n; j++) {
			if (strcmp(c->e[i].group, c->e[j].group) == 0)
				continue;
			if (strcmp(c->e[i].fp.hash, c->e[j].fp.hash) == 0)
				fail_msg("%s (%s) and %s (%s) merged", c->e[i].name,
					 c->e[i].group, c->e[j].name, c->e[j].group);
		}
	}
}

/* ---- helpers for the tests below ---- */

static json_object *parse(const char *text)
{
	json_object *o = json_tokener_parse(text);

	assert_non_null(o);
	return o;
}

/* fp of a JSON text, with the default format detection and limits. */
static struct fp_result fp_of(const char *text)
{
	struct arena *a = arena_create(0);
	json_object *o = parse(text);
	struct fp_result r;

	assert_int_equal(fp_compute(a, o, FP_FORMAT_AUTO, NULL, &r), 0);
	json_object_put(o);
	arena_destroy(a);
	return r;
}

static void same(const char *x, const char *y)
{
	struct fp_result a = fp_of(x), b = fp_of(y);

	if (strcmp(a.hash, b.hash) != 0)
		fail_msg("expected one group:\n  %s\n  %s", x, y);
}

static void differ(const char *x, const char *y)
{
	struct fp_result a = fp_of(x), b = fp_of(y);

	if (strcmp(a.hash, b.hash) == 0)
		fail_msg("expected two groups:\n  %s\n  %s", x, y);
}

static const char *norm(struct arena *a, const char *s)
{
	return fp_normalize_message(a, s, strlen(s));
}

/* A TrackX event whose stack repeats frame fmt (with %zu for the index)
 * n times under a V8 header, as a heap string. */
static char *trackx_with_frames(const char *name, size_t n, int distinct)
{
	struct buf b;
	size_t i;

	buf_init(&b, 0);
	assert_int_equal(buf_printf(&b, "{\"name\":\"%s\",\"message\":\"m\",\"stack\":\"%s: m", name, name), 0);
	for (i = 0; i < n; i++) {
		if (distinct)
			assert_int_equal(buf_printf(&b, "\\n    at f%zu (https://h.example/js/app.js:%zu:1)", i, i + 1), 0);
		else
			assert_int_equal(buf_printf(&b, "\\n    at walk (https://h.example/js/app.js:%zu:1)", i % 7 + 1), 0);
	}
	assert_int_equal(buf_puts(&b, "\"}"), 0);
	return buf_steal(&b);
}

/* ---- fp_normalize_message ---- */

static void t_message_placeholders(void **state)
{
	struct arena *a = arena_create(0);

	(void)state;
	assert_string_equal(norm(a, "status 503 after 1.5 s"), "status <n> after <n> s");
	assert_string_equal(norm(a, "/api/orders/48213 failed"), "/api/orders/<n> failed");
	assert_string_equal(norm(a, "reading 'total' of \"x\" and `y`"), "reading <str> of <str> and <str>");
	assert_string_equal(norm(a, "can't open 'a'"), "can't open <str>");
	assert_string_equal(norm(a, "see https://x.example/a?b=1."), "see <url>.");
	assert_string_equal(norm(a, "(at http://h:8080/p)"), "(at <url>)");
	assert_string_equal(norm(a, "mail ann.lee+x@mail.example.com now"), "mail <email> now");
	assert_string_equal(norm(a, "id 3F2A9C1E-1B2C-4D5E-8F90-123456789ABC done"), "id <uuid> done");
	assert_string_equal(norm(a, "ptr 0x7ffd2a10 obj 65e8c1f0a9b2d3c4e5f6a7b8"), "ptr <hex> obj <hex>");
	/* Words that merely look like hex or hold digits stay. */
	assert_string_equal(norm(a, "deadbeefcafe utf8 item3 v8 h264"), "deadbeefcafe utf8 item3 v8 h264");
	assert_string_equal(norm(a, "12px wide"), "<n>px wide");
	assert_string_equal(norm(a, "  a \t\n b  "), "a b");
	assert_string_equal(norm(a, ""), "");
	/* An unmatched quote is a character. */
	assert_string_equal(norm(a, "it said 'oops"), "it said 'oops");
	assert_string_equal(norm(a, "user@"), "user@");
	assert_string_equal(norm(a, "x://"), "x://");
	assert_string_equal(norm(a, "ftp:// y"), "ftp:// y");
	arena_destroy(a);
}

static void t_message_embedded_nul(void **state)
{
	struct arena *a = arena_create(0);
	const char msg[] = "a\0'b\0'@x.y 7";
	char *out;

	(void)state;
	out = fp_normalize_message(a, msg, sizeof(msg) - 1);
	/* The NUL is copied; the output is terminated after everything. */
	assert_memory_equal(out, "a\0<str>@x.y <n>", 16);
	arena_destroy(a);
}

/* ---- fp_compute ---- */

static void t_invalid_args(void **state)
{
	struct arena *a = arena_create(0);
	json_object *o = parse("{}"), *arr = parse("[1]");
	struct fp_result r;

	(void)state;
	assert_int_equal(fp_compute(NULL, o, FP_FORMAT_AUTO, NULL, &r), INLET_EINVAL);
	assert_int_equal(fp_compute(a, NULL, FP_FORMAT_AUTO, NULL, &r), INLET_EINVAL);
	assert_int_equal(fp_compute(a, o, FP_FORMAT_AUTO, NULL, NULL), INLET_EINVAL);
	assert_int_equal(fp_compute(a, arr, FP_FORMAT_AUTO, NULL, &r), INLET_EINVAL);
	assert_string_equal(r.hash, "");
	/* An empty object is an unlabeled event, grouped by rule 3. */
	assert_int_equal(fp_compute(a, o, FP_FORMAT_AUTO, NULL, &r), 0);
	assert_int_equal(r.rule, FP_RULE_MESSAGE);
	assert_string_equal(r.title, "<unlabeled event>");
	assert_string_equal(r.culprit, "");
	json_object_put(o);
	json_object_put(arr);
	arena_destroy(a);
}

static void t_hash_is_hex_and_stable(void **state)
{
	struct fp_result r = fp_of("{\"name\":\"Error\",\"message\":\"x\"}");
	struct fp_result r2 = fp_of("{\"name\":\"Error\",\"message\":\"x\"}");
	size_t i;

	(void)state;
	assert_int_equal(strlen(r.hash), FP_HEX_LEN);
	for (i = 0; i < FP_HEX_LEN; i++)
		assert_non_null(strchr("0123456789abcdef", r.hash[i]));
	assert_string_equal(r.hash, r2.hash);
}

/* Hashes are stored as issue keys: a change here splits every issue, so
 * it must come with a new FP_VERSION (docs/grouping.md has the bytes). */
static void t_golden_hashes(void **state)
{
	struct fp_result r;

	(void)state;
	r = fp_of("{\"name\":\"TypeError\",\"message\":\"x\",\"stack\":\"TypeError: x\\n"
		  "    at encodeBatch (https://shop.example.com/js/queue.js:31:24)\\n"
		  "    at flushQueue (https://shop.example.com/js/queue.js:58:19)\"}");
	assert_string_equal(r.hash, "2b0a727fafad1a533bd6ef88808fdee14311e96789414cd8d21c63808f976179");
	r = fp_of("{\"name\":\"Error\",\"message\":\"Request to /api/orders/48213 failed with status 503\"}");
	assert_string_equal(r.hash, "a3741d77781257d1dca9c26305249f9e952f69ed78451355b75d937961e0318d");
}

static void t_wrong_types_are_absent(void **state)
{
	(void)state;
	/* A stack that is not a string, a name that is a number. */
	same("{\"name\":\"Error\",\"message\":\"boom\",\"stack\":42}",
	     "{\"name\":\"Error\",\"message\":\"boom\"}");
	same("{\"event_id\":\"x\",\"exception\":{\"values\":[{\"type\":\"Error\",\"value\":\"boom\","
	     "\"stacktrace\":{\"frames\":\"no\"}}]}}",
	     "{\"name\":\"Error\",\"message\":\"boom\"}");
	same("{\"event_id\":\"x\",\"exception\":{\"values\":[{\"type\":\"Error\",\"value\":\"boom\","
	     "\"stacktrace\":{\"frames\":[1,null,\"f\"]}}]}}",
	     "{\"name\":\"Error\",\"message\":\"boom\"}");
	same("{\"event_id\":\"x\",\"fingerprint\":\"not-an-array\",\"message\":\"boom\"}",
	     "{\"event_id\":\"y\",\"message\":\"boom\"}");
	same("{\"event_id\":\"x\",\"exception\":7,\"message\":\"boom\"}",
	     "{\"event_id\":\"y\",\"message\":\"boom\"}");
}

static void t_sentry_exception_shapes(void **state)
{
	const char *frames = "\"stacktrace\":{\"frames\":[{\"function\":\"run\",\"filename\":"
			     "\"/srv/a/job.js\",\"lineno\":3}]}";
	char values[512], bare[512], single[512];

	(void)state;
	snprintf(values, sizeof(values),
		 "{\"event_id\":\"1\",\"exception\":{\"values\":[{\"type\":\"Error\",\"value\":\"v\",%s}]}}", frames);
	snprintf(bare, sizeof(bare), "{\"event_id\":\"1\",\"exception\":[{\"type\":\"Error\",\"value\":\"v\",%s}]}",
		 frames);
	snprintf(single, sizeof(single), "{\"event_id\":\"1\",\"exception\":{\"type\":\"Error\",\"value\":\"v\",%s}}",
		 frames);
	same(values, bare);
	same(values, single);
	assert_int_equal(fp_of(values).rule, FP_RULE_STACK);
	/* A chain: the last value is the error thrown; its cause is not. */
	same("{\"event_id\":\"1\",\"exception\":{\"values\":[{\"type\":\"DbError\",\"value\":\"x\"},"
	     "{\"type\":\"Error\",\"value\":\"v\",\"stacktrace\":{\"frames\":[{\"function\":\"run\","
	     "\"filename\":\"/srv/a/job.js\"}]}}]}}",
	     values);
	/* Empty values: a message event. */
	same("{\"event_id\":\"1\",\"exception\":{\"values\":[]},\"message\":\"m\"}",
	     "{\"event_id\":\"2\",\"message\":\"m\"}");
}

static void t_in_app_flag_wins(void **state)
{
	struct fp_result r;

	(void)state;
	/* The SDK says no: a message group, whatever the path says. */
	r = fp_of("{\"event_id\":\"1\",\"exception\":{\"values\":[{\"type\":\"E\",\"value\":\"v\","
		  "\"stacktrace\":{\"frames\":[{\"function\":\"run\",\"filename\":\"/srv/app.js\","
		  "\"in_app\":false}]}}]}}");
	assert_int_equal(r.rule, FP_RULE_MESSAGE);
	assert_string_equal(r.culprit, "");
	/* The SDK says yes, even under node_modules. */
	r = fp_of("{\"event_id\":\"1\",\"exception\":{\"values\":[{\"type\":\"E\",\"value\":\"v\","
		  "\"stacktrace\":{\"frames\":[{\"function\":\"run\",\"filename\":"
		  "\"/srv/node_modules/x/i.js\",\"in_app\":true}]}}]}}");
	assert_int_equal(r.rule, FP_RULE_STACK);
	assert_string_equal(r.culprit, "run (/srv/node_modules/x/i.js)");
	/* Without the flag the file decides; abs_path and module stand in for
	 * a missing filename. */
	same("{\"event_id\":\"1\",\"exception\":{\"values\":[{\"type\":\"E\",\"stacktrace\":{\"frames\":"
	     "[{\"function\":\"run\",\"abs_path\":\"https://h.example/js/App.js\"}]}}]}}",
	     "{\"name\":\"E\",\"stack\":\"run@https://h.example/js/app.js:1:1\"}");
	r = fp_of("{\"event_id\":\"1\",\"exception\":{\"values\":[{\"type\":\"E\",\"stacktrace\":{\"frames\":"
		  "[{\"function\":\"run\",\"module\":\"jobs:run\"}]}}]}}");
	assert_int_equal(r.rule, FP_RULE_STACK);
	assert_string_equal(r.culprit, "run (jobs:run)");
}

static void t_default_marker_variants(void **state)
{
	const char *base = "{\"event_id\":\"1\",\"message\":\"m\"}";

	(void)state;
	same(base, "{\"event_id\":\"1\",\"message\":\"m\",\"fingerprint\":[\"{{default}}\"]}");
	same(base, "{\"event_id\":\"1\",\"message\":\"m\",\"fingerprint\":[\"{{  default\\t}}\"]}");
	same(base, "{\"event_id\":\"1\",\"message\":\"m\",\"fingerprint\":[null,{}]}");
	/* Not markers: kept as literal strings. */
	differ(base, "{\"event_id\":\"1\",\"message\":\"m\",\"fingerprint\":[\"{{ Default }}\"]}");
	differ(base, "{\"event_id\":\"1\",\"message\":\"m\",\"fingerprint\":[\"{{ default }} \"]}");
	/* A literal anywhere makes it the SDK's; order counts. */
	differ("{\"event_id\":\"1\",\"message\":\"m\",\"fingerprint\":[\"{{ default }}\",\"a\"]}",
	       "{\"event_id\":\"1\",\"message\":\"m\",\"fingerprint\":[\"a\",\"{{ default }}\"]}");
	/* Lengths are encoded: ["ab","c"] and ["a","bc"] differ. */
	differ("{\"event_id\":\"1\",\"fingerprint\":[\"ab\",\"c\"]}",
	       "{\"event_id\":\"1\",\"fingerprint\":[\"a\",\"bc\"]}");
}

static void t_sdk_fingerprint_cap(void **state)
{
	struct buf x, y;
	size_t i;

	(void)state;
	buf_init(&x, 0);
	buf_init(&y, 0);
	assert_int_equal(buf_puts(&x, "{\"event_id\":\"1\",\"fingerprint\":["), 0);
	assert_int_equal(buf_puts(&y, "{\"event_id\":\"1\",\"fingerprint\":["), 0);
	for (i = 0; i < 5000; i++) {
		assert_int_equal(buf_printf(&x, "%s\"{{ default }}\",\"p%zu\"", i ? "," : "", i), 0);
		/* Differs only past the cap. */
		assert_int_equal(buf_printf(&y, "%s\"{{ default }}\",\"%s%zu\"", i ? "," : "",
					    i < FP_SDK_MAX / 2 ? "p" : "q", i),
				 0);
	}
	assert_int_equal(buf_puts(&x, "]}"), 0);
	assert_int_equal(buf_puts(&y, "]}"), 0);
	same(x.data, y.data);
	buf_free(&x);
	buf_free(&y);
}

static void t_frames_ignore_lines_and_hosts(void **state)
{
	(void)state;
	same("{\"name\":\"E\",\"stack\":\"E: m\\n    at f (https://a.example/js/x.3f9a1c2b.js?v=1:1:2)\"}",
	     "{\"name\":\"E\",\"stack\":\"E: m\\n    at f (http://b.example:81/static/x.0a1b2c3d4e.js#h:90:7)\"}");
	/* The file's name counts, its directory does not. */
	same("{\"name\":\"E\",\"stack\":\"f@https://a.example/js/cart.js:1:2\"}",
	     "{\"name\":\"E\",\"stack\":\"    at f (C:\\\\srv\\\\shop\\\\js\\\\Cart.js:1:2)\"}");
	differ("{\"name\":\"E\",\"stack\":\"f@https://a.example/js/cart.js:1:2\"}",
	       "{\"name\":\"E\",\"stack\":\"f@https://a.example/js/order.js:1:2\"}");
	/* The receiver, async and new do not count; the name does. */
	same("{\"name\":\"E\",\"stack\":\"    at async Cart.total (/a/cart.js:1:2)\"}",
	     "{\"name\":\"E\",\"stack\":\"total@https://h.example/cart.js:3:4\"}");
	differ("{\"name\":\"E\",\"stack\":\"    at Cart.total (/a/cart.js:1:2)\"}",
	       "{\"name\":\"E\",\"stack\":\"    at Cart.subtotal (/a/cart.js:1:2)\"}");
	/* Frames between in-app frames do not count either. */
	same("{\"name\":\"E\",\"stack\":\"    at f (/a/x.js:1:2)\\n    at g (/a/node_modules/lib/i.js:1:1)\\n"
	     "    at h (/a/y.js:1:2)\"}",
	     "{\"name\":\"E\",\"stack\":\"    at f (/a/x.js:1:2)\\n    at h (/a/y.js:1:2)\"}");
	/* Order does. */
	differ("{\"name\":\"E\",\"stack\":\"    at f (/a/x.js:1:2)\\n    at h (/a/y.js:1:2)\"}",
	       "{\"name\":\"E\",\"stack\":\"    at h (/a/y.js:1:2)\\n    at f (/a/x.js:1:2)\"}");
}

static void t_window(void **state)
{
	char *ten = trackx_with_frames("Error", 10, 1), *nine = trackx_with_frames("Error", 9, 1);
	char *seven = trackx_with_frames("Error", 7, 1);
	struct fp_result r;

	(void)state;
	/* Frames past the window do not count... */
	same(ten, nine);
	r = fp_of(ten);
	assert_int_equal(r.frames, FP_WINDOW_FRAMES);
	/* ...frames within it do. */
	differ(nine, seven);
	/* Built-ins take no place in the window and never count: V8 shows
	 * them, Firefox does not. */
	same("{\"name\":\"E\",\"stack\":\"    at a (/x/a.js:1:1)\\n    at Array.map (<anonymous>)\\n"
	     "    at new Promise (<anonymous>)\\n    at async Promise.all (index 0)\\n    at b (/x/b.js:1:1)\"}",
	     "{\"name\":\"E\",\"stack\":\"a@https://h.example/a.js:1:1\\nb@https://h.example/b.js:1:1\"}");
	free(ten);
	free(nine);
	free(seven);
}

static void t_huge_stacks(void **state)
{
	char *deep = trackx_with_frames("RangeError", 200000, 0);
	char *shallow = trackx_with_frames("RangeError", 10, 0);
	char *wide = trackx_with_frames("Error", 100000, 1);
	struct fp_result r;
	struct stack_limits tiny = { 3, 4096 };
	struct arena *a = arena_create(0);
	json_object *o = parse(wide);

	(void)state;
	same(deep, shallow);
	r = fp_of(deep);
	assert_int_equal(r.rule, FP_RULE_STACK);
	assert_int_equal(r.frames, 1);
	assert_string_equal(r.culprit, "walk (/js/app.js)");
	/* The caller's limits are used: with 3 frames kept, 3 frames hash. */
	assert_int_equal(fp_compute(a, o, FP_FORMAT_TRACKX, &tiny, &r), 0);
	assert_int_equal(r.frames, 3);
	assert_true(arena_used(a) < 64 * 1024);
	json_object_put(o);
	arena_destroy(a);
	free(deep);
	free(shallow);
	free(wide);
}

static void t_firefox_async_cause(void **state)
{
	(void)state;
	/* After "setTimeout handler*" comes the stack that scheduled the timer;
	 * after "async*" the awaiting caller, which V8 shows too. */
	same("{\"name\":\"E\",\"stack\":\"f@https://h.example/a.js:1:1\\nsetTimeout handler*g@https://h.example/b.js:1:1\"}",
	     "{\"name\":\"E\",\"stack\":\"E: m\\n    at f (https://h.example/a.js:1:1)\"}");
	same("{\"name\":\"E\",\"stack\":\"f@https://h.example/a.js:1:1\\nasync*g@https://h.example/b.js:1:1\"}",
	     "{\"name\":\"E\",\"stack\":\"E: m\\n    at f (https://h.example/a.js:1:1)\\n    at async g (https://h.example/b.js:1:1)\"}");
}

static void t_message_rule(void **state)
{
	char big[3 * FP_MESSAGE_MAX], big2[3 * FP_MESSAGE_MAX];
	char ev1[4 * FP_MESSAGE_MAX], ev2[4 * FP_MESSAGE_MAX];
	size_t i;

	(void)state;
	/* Type counts. */
	differ("{\"name\":\"TypeError\",\"message\":\"m\"}", "{\"name\":\"RangeError\",\"message\":\"m\"}");
	/* Same for both formats: TrackX name is Sentry type. */
	same("{\"name\":\"Error\",\"message\":\"a 1\"}",
	     "{\"event_id\":\"1\",\"exception\":{\"values\":[{\"type\":\"Error\",\"value\":\"a 2\"}]}}");
	/* Only the first FP_MESSAGE_MAX bytes count. */
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big2, big, sizeof(big));
	big2[FP_MESSAGE_MAX + 10] = 'b';
	snprintf(ev1, sizeof(ev1), "{\"name\":\"E\",\"message\":\"%s\"}", big);
	snprintf(ev2, sizeof(ev2), "{\"name\":\"E\",\"message\":\"%s\"}", big2);
	same(ev1, ev2);
	big2[FP_MESSAGE_MAX - 10] = 'b';
	snprintf(ev2, sizeof(ev2), "{\"name\":\"E\",\"message\":\"%s\"}", big2);
	differ(ev1, ev2);
	/* The cut is on the raw message: placeholders that make the
	 * normalized text longer do not push the end out of the hash. */
	for (i = 0; i + 2 < FP_MESSAGE_MAX; i += 2)
		memcpy(big + i, "1 ", 2);
	big[i] = '\0';
	memcpy(big2, big, i + 1);
	big2[i - 2] = 'x';
	snprintf(ev1, sizeof(ev1), "{\"name\":\"E\",\"message\":\"%s\"}", big);
	snprintf(ev2, sizeof(ev2), "{\"name\":\"E\",\"message\":\"%s\"}", big2);
	differ(ev1, ev2);
}

static void t_title_and_culprit(void **state)
{
	char ev[2048], longname[600];
	struct fp_result r;
	size_t i;

	(void)state;
	r = fp_of("{\"name\":\"TypeError\",\"message\":\"x is undefined\\nmore\\tdetail\"}");
	assert_string_equal(r.title, "TypeError: x is undefined");
	r = fp_of("{\"message\":\"tab\\there\"}");
	assert_string_equal(r.title, "tab here");
	r = fp_of("{\"name\":\"AbortError\"}");
	assert_string_equal(r.title, "AbortError");
	/* Long titles are cut on a character boundary: "é" is 2 bytes. */
	for (i = 0; i + 2 < sizeof(longname); i += 2)
		memcpy(longname + i, "\xc3\xa9", 2);
	longname[i] = '\0';
	snprintf(ev, sizeof(ev), "{\"name\":\"E\",\"message\":\"%s\"}", longname);
	r = fp_of(ev);
	assert_true(strlen(r.title) <= FP_TITLE_SIZE - 1);
	assert_true(strlen(r.title) % 2 == 1); /* "E: " is 3 bytes */
	assert_true(((unsigned char)r.title[strlen(r.title) - 1] & 0xC0) == 0x80);
	/* Culprit: the first in-app frame; anonymous functions show the file. */
	r = fp_of("{\"name\":\"E\",\"stack\":\"    at Array.map (<anonymous>)\\n    at /n/node_modules/x.js:1:1\\n"
		  "    at https://h.example/js/a.3f9a1c2b.js?x=1:1:1\\n    at f (https://h.example/b.js:1:1)\"}");
	assert_string_equal(r.culprit, "/js/a.<hash>.js");
	snprintf(ev, sizeof(ev), "{\"name\":\"E\",\"stack\":\"%s@https://h.example/b.js:1:1\"}", longname);
	r = fp_of(ev);
	assert_true(strlen(r.culprit) <= FP_CULPRIT_SIZE - 1 && strlen(r.culprit) > 200);
}

static void t_explicit_format(void **state)
{
	struct arena *a = arena_create(0);
	json_object *o = parse("{\"name\":\"E\",\"message\":\"m\",\"stack\":\"f@https://h.example/a.js:1:1\"}");
	struct fp_result tx, se;

	(void)state;
	assert_int_equal(fp_compute(a, o, FP_FORMAT_TRACKX, NULL, &tx), 0);
	assert_int_equal(fp_compute(a, o, FP_FORMAT_SENTRY, NULL, &se), 0);
	assert_int_equal(tx.rule, FP_RULE_STACK);
	/* As Sentry, "stack" means nothing and "name" is not a type. */
	assert_int_equal(se.rule, FP_RULE_MESSAGE);
	assert_string_equal(se.title, "m");
	json_object_put(o);
	/* TrackX has no fingerprint: a key of that name is not one. */
	o = parse("{\"name\":\"E\",\"message\":\"m\",\"fingerprint\":[\"x\"]}");
	assert_int_equal(fp_compute(a, o, FP_FORMAT_TRACKX, NULL, &tx), 0);
	assert_int_equal(fp_compute(a, o, FP_FORMAT_AUTO, NULL, &se), 0);
	assert_int_equal(tx.rule, FP_RULE_MESSAGE);
	assert_int_equal(se.rule, FP_RULE_SDK);
	json_object_put(o);
	arena_destroy(a);
}

int main(void)
{
	const struct CMUnitTest corpus_tests[] = {
		cmocka_unit_test(t_corpus_loaded),
		cmocka_unit_test(t_corpus_expectations),
		cmocka_unit_test(t_corpus_same_group_same_hash),
		cmocka_unit_test(t_corpus_different_groups_differ),
	};
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_message_placeholders),
		cmocka_unit_test(t_message_embedded_nul),
		cmocka_unit_test(t_invalid_args),
		cmocka_unit_test(t_hash_is_hex_and_stable),
		cmocka_unit_test(t_golden_hashes),
		cmocka_unit_test(t_wrong_types_are_absent),
		cmocka_unit_test(t_sentry_exception_shapes),
		cmocka_unit_test(t_in_app_flag_wins),
		cmocka_unit_test(t_default_marker_variants),
		cmocka_unit_test(t_sdk_fingerprint_cap),
		cmocka_unit_test(t_frames_ignore_lines_and_hosts),
		cmocka_unit_test(t_window),
		cmocka_unit_test(t_huge_stacks),
		cmocka_unit_test(t_firefox_async_cause),
		cmocka_unit_test(t_message_rule),
		cmocka_unit_test(t_title_and_culprit),
		cmocka_unit_test(t_explicit_format),
	};
	int failed;

	failed = cmocka_run_group_tests_name("fingerprint corpus", corpus_tests, load_corpus, NULL);
	failed += cmocka_run_group_tests_name("fingerprint", tests, NULL, NULL);
	return failed;
}
