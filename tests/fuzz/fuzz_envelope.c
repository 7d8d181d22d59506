/* libFuzzer driver for env_parse. The first byte picks the limits, the rest
 * is the envelope. Besides the sanitizers, the driver checks what the
 * contract promises: a documented code, *out NULL on failure; on success
 * items within the limits, payloads inside the input, in order and not
 * overlapping, a normalised event_id; and a round trip: writing the
 * envelope out again with an explicit length on every item and parsing
 * that gives the same items. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/err.h"
#include "events/envelope.h"

#define CHECK(x)                   \
	do {                       \
		if (!(x))          \
			abort();   \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void pick_limits(uint8_t sel, struct env_limits *lim)
{
	env_limits_default(lim);
	if (sel & 1)
		lim->max_items = 3;
	if (sel & 2)
		lim->max_item_size = 16;
	if (sel & 4)
		lim->max_attachment_size = 32;
	if (sel & 8)
		lim->max_headers = 64;
	if (sel & 16)
		lim->max_depth = 2;
	if (sel & 32)
		lim->max_total = 200;
}

static int is_lower_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static const char *json_line(struct json_object *o)
{
	return json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							 JSON_C_TO_STRING_NOSLASHESCAPE);
}

/* Writes e out with a length on every item and parses it again. */
static void check_round_trip(const struct envelope *e, const struct env_limits *lim)
{
	struct env_limits roomy = *lim;
	struct arena *a = arena_create(0);
	struct envelope *again;
	struct buf b;
	size_t i;

	buf_init(&b, 0);
	CHECK(buf_puts(&b, json_line(e->header)) == 0);
	for (i = 0; i < e->n; i++) {
		const struct env_item *it = &e->items[i];

		json_object_object_add(it->header, "length", json_object_new_int64((int64_t)it->len));
		CHECK(buf_putc(&b, '\n') == 0);
		CHECK(buf_puts(&b, json_line(it->header)) == 0);
		CHECK(buf_putc(&b, '\n') == 0);
		CHECK(buf_append(&b, it->payload, it->len) == 0);
	}
	/* Headers may come out longer (escapes), the total too. */
	roomy.max_headers = SIZE_MAX;
	roomy.max_total = SIZE_MAX;
	CHECK(env_parse(a, b.data, b.len, &roomy, &again) == 0);
	CHECK(again->n == e->n);
	CHECK(strcmp(again->event_id, e->event_id) == 0);
	CHECK((again->dsn == NULL) == (e->dsn == NULL) && again->dsn_len == e->dsn_len);
	CHECK(!e->dsn || memcmp(again->dsn, e->dsn, e->dsn_len) == 0);
	for (i = 0; i < e->n; i++) {
		const struct env_item *x = &e->items[i], *y = &again->items[i];

		CHECK(x->type_len == y->type_len && memcmp(x->type, y->type, x->type_len) == 0);
		CHECK(x->len == y->len && (x->len == 0 || memcmp(x->payload, y->payload, x->len) == 0));
	}
	arena_destroy(a);
	buf_free(&b);
}

static void check(const char *body, size_t size, uint8_t sel)
{
	struct env_limits lim;
	struct arena *a = arena_create(sel & 64 ? 64 : 0);
	struct envelope *e = (struct envelope *)(uintptr_t)1;
	const char *prev_end = body;
	size_t i;
	int rc;

	pick_limits(sel, &lim);
	rc = env_parse(a, body, size, &lim, &e);
	CHECK(rc == 0 || rc == INLET_EINVAL || rc == INLET_ETOOBIG || rc == INLET_ETOOMANY);
	if (rc) {
		CHECK(e == NULL);
		arena_destroy(a);
		return;
	}
	CHECK(e && size <= lim.max_total && e->n <= lim.max_items);
	CHECK(json_object_is_type(e->header, json_type_object));
	CHECK(e->event_id[0] == '\0' || strlen(e->event_id) == 32);
	CHECK(e->dsn ? e->dsn[e->dsn_len] == '\0' : e->dsn_len == 0);
	for (i = 0; e->event_id[i]; i++)
		CHECK(is_lower_hex(e->event_id[i]));
	for (i = 0; i < e->n; i++) {
		const struct env_item *it = &e->items[i];

		CHECK(it->type && it->type_len > 0 && it->type[it->type_len] == '\0');
		CHECK(json_object_is_type(it->header, json_type_object));
		CHECK(it->payload >= prev_end && it->payload + it->len <= body + size);
		prev_end = it->payload + it->len;
		CHECK(it->len <= lim.max_item_size || it->len <= lim.max_attachment_size);
		if (env_item_is(it, "event"))
			CHECK(it->len <= lim.max_item_size);
		if (env_item_is(it, "attachment"))
			CHECK(it->len <= lim.max_attachment_size);
		CHECK(env_find(e, "event") == NULL || env_item_is(env_find(e, "event"), "event"));
	}
	check_round_trip(e, &lim);
	arena_destroy(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	check((const char *)data + 1, size - 1, data[0]);
	return 0;
}
