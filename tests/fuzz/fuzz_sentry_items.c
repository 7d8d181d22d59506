/* libFuzzer driver for events/sentry_items.h. Every input goes through all
 * four readers: as an event (parsed here with json-c, strict and UTF-8
 * checked, as ingest does, then summarized), a session, a sessions item
 * and a client report; its first bytes also make a rate-limit header.
 * Beyond the sanitizers, the contracts: documented codes only; results
 * zeroed on failure; every text field NUL-terminated in its size and
 * still valid UTF-8 after cutting; event ids of 32 lowercase hex digits;
 * levels and statuses from their lists; counts within SENTRY_COUNT_MAX;
 * timestamps within 1970..9999; crashed sessions with an error. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "core/arena.h"
#include "core/err.h"
#include "events/sentry_items.h"

#define CHECK(x)                   \
	do {                       \
		if (!(x))          \
			abort();   \
	} while (0)

#define TS_MAX 253402300799999LL

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int is_zero(const void *p, size_t n)
{
	const unsigned char *b = p;
	size_t i;

	for (i = 0; i < n; i++)
		if (b[i])
			return 0;
	return 1;
}

/* NUL-terminated within size, valid UTF-8, no NUL inside (by
 * construction). */
static int text_ok(const char *s, size_t size)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strnlen(s, size);

	if (n == size)
		return 0;
	while (*p) {
		int k = *p < 0x80 ? 0 : (*p & 0xE0) == 0xC0 ? 1 : (*p & 0xF0) == 0xE0 ? 2
			: (*p & 0xF8) == 0xF0 ? 3 : -1;

		if (k < 0)
			return 0;
		p++;
		while (k--)
			if ((*p++ & 0xC0) != 0x80)
				return 0;
	}
	return 1;
}

#define TEXT_OK(field) CHECK(text_ok((field), sizeof(field)))

static void check_summary(const char *p, size_t n)
{
	static const char *const levels[] = { "fatal", "error", "warning", "info", "debug" };
	struct json_tokener *tok;
	struct json_object *ev;
	struct sentry_summary s;
	size_t i;
	int ok = 0;

	if (n > (1u << 20))
		return;
	tok = json_tokener_new_ex(SENTRY_JSON_DEPTH + 1);
	CHECK(tok);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	ev = json_tokener_parse_ex(tok, p, (int)n);
	json_tokener_free(tok);
	if (!ev)
		return;
	CHECK(sentry_event_summary(ev, &s) == (json_object_is_type(ev, json_type_object) ? 0 : INLET_EINVAL));
	json_object_put(ev);
	CHECK(strlen(s.event_id) == 0 || strlen(s.event_id) == 32);
	for (i = 0; s.event_id[i]; i++)
		CHECK((s.event_id[i] >= '0' && s.event_id[i] <= '9') ||
		      (s.event_id[i] >= 'a' && s.event_id[i] <= 'f'));
	for (i = 0; i < 5; i++)
		ok |= strcmp(s.level, levels[i]) == 0;
	CHECK(ok);
	TEXT_OK(s.type);
	TEXT_OK(s.release);
	TEXT_OK(s.environment);
	TEXT_OK(s.platform);
	TEXT_OK(s.uri);
	TEXT_OK(s.transaction);
	TEXT_OK(s.message);
	CHECK(s.is_transaction == (strcmp(s.type, "transaction") == 0));
	CHECK(s.timestamp_ms >= 0 && s.timestamp_ms <= TS_MAX);
}

static int no_ctl(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

static void check_session(const char *p, size_t n)
{
	struct sentry_session s;
	int rc = sentry_session_parse(p, n, &s);

	CHECK(rc == 0 || rc == INLET_EINVAL || rc == INLET_ETOOBIG);
	if (rc) {
		CHECK(is_zero(&s, sizeof(s)));
		return;
	}
	CHECK(n <= SENTRY_ITEM_MAX);
	TEXT_OK(s.sid);
	TEXT_OK(s.did);
	TEXT_OK(s.release);
	TEXT_OK(s.environment);
	CHECK(s.release[0] && no_ctl(s.release) && no_ctl(s.environment) && no_ctl(s.sid));
	CHECK(s.init == 0 || s.init == 1);
	CHECK((unsigned)s.status <= SENTRY_SESSION_ERRORED);
	CHECK(strcmp(sentry_session_status_name(s.status), "") != 0);
	CHECK(s.errors <= SENTRY_COUNT_MAX);
	CHECK(s.status != SENTRY_SESSION_CRASHED || s.errors >= 1);
	CHECK(s.started_ms >= 0 && s.started_ms <= TS_MAX);
}

static void check_sessions(const char *p, size_t n, uint8_t sel)
{
	struct arena *a = arena_create(sel & 1 ? 64 : 0);
	struct sentry_aggregate *g = (struct sentry_aggregate *)(uintptr_t)1;
	size_t count = 7, i;
	int rc = sentry_sessions_parse(p, n, a, &g, &count);

	CHECK(rc == 0 || rc == INLET_EINVAL || rc == INLET_ETOOBIG || rc == INLET_ETOOMANY);
	if (rc) {
		CHECK(g == NULL && count == 0);
	} else {
		CHECK(count <= SENTRY_AGGREGATES_MAX && (count == 0) == (g == NULL));
		for (i = 0; i < count; i++) {
			CHECK(g[i].started_ms >= 0 && g[i].started_ms <= TS_MAX);
			CHECK(g[i].exited <= SENTRY_COUNT_MAX && g[i].errored <= SENTRY_COUNT_MAX &&
			      g[i].abnormal <= SENTRY_COUNT_MAX && g[i].crashed <= SENTRY_COUNT_MAX);
			CHECK(g[i].release && g[i].release[0] && strlen(g[i].release) <= SENTRY_RELEASE_MAX);
			CHECK(g[i].environment && strlen(g[i].environment) <= SENTRY_ENV_MAX);
			CHECK(g[i].release == g[0].release && g[i].environment == g[0].environment);
			CHECK(!g[i].did || strlen(g[i].did) <= SENTRY_DID_MAX);
		}
	}
	arena_destroy(a);
}

static void check_client_report(const char *p, size_t n)
{
	uint64_t total = 99;
	int rc = sentry_client_report_parse(p, n, &total);

	CHECK(rc == 0 || rc == INLET_EINVAL || rc == INLET_ETOOBIG);
	if (rc)
		CHECK(total == 0);
	else
		/* Each entry is more than 30 bytes and counts at most the cap. */
		CHECK(total <= (uint64_t)(n / 30 + 1) * SENTRY_COUNT_MAX);
}

static void check_rate_limit(const uint8_t *data, size_t size)
{
	char out[SENTRY_RATE_LIMIT_SIZE], small[8];
	unsigned v = 0, parsed = 0;
	size_t i;
	int used = 0;

	for (i = 0; i < size && i < 4; i++)
		v = v << 8 | data[i];
	sentry_rate_limit_header(v, out, sizeof(out));
	CHECK(sscanf(out, "%u::key%n", &parsed, &used) == 1 && out[used] == '\0');
	CHECK(parsed == (v ? v : 1));
	sentry_rate_limit_header(v, small, sizeof(small));
	CHECK(small[0] == '\0' || strcmp(small, out) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;

	check_summary(p, size);
	check_session(p, size);
	check_sessions(p, size, size ? data[size - 1] : 0);
	check_client_report(p, size);
	check_rate_limit(data, size);
	return 0;
}
