/* events/search.c: blind trigram tokens, the query built from them, and
 * the final substring check. Real FTS5 (an in-memory SQLite database with
 * the same table as the submission store) answers the queries, so what is
 * tested is the whole search minus the Vault's sealing; and the token list
 * a query gives picks the same candidates whether FTS5 (SQLite) or array
 * containment (PostgreSQL) answers it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "core/arena.h"
#include "events/search.h"
#include "vault/vault.h"

static const char *const docs[] = {
	"TypeError: Cannot read properties of undefined (reading 'id')\nrenderRow (app.js)",
	"ReferenceError: x is not defined\nmain (index.js)",
	"Error: Order 42 failed: upstream timeout\nhandle (lib/orders.js)",
	"CSP violation: script-src-elem blocked https://evil.example\n",
	"Ünïcödé Fehler: Datei nicht gefunden\nladen (datei.js)",
};
#define NDOCS (sizeof(docs) / sizeof(*docs))

struct fixture {
	sqlite3 *db;
	struct vault_mac *m;
	struct arena *a;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	uint8_t key[32] = { 1, 2, 3 };
	sqlite3_stmt *st;

	f->m = vault_mac_create(key, sizeof(key));
	f->a = arena_create(0);
	assert_int_equal(sqlite3_open(":memory:", &f->db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(f->db,
		"CREATE VIRTUAL TABLE fts USING fts5(search, tokenize='unicode61', detail='none')",
		NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(f->db, "INSERT INTO fts(rowid, search) VALUES(?,?)", -1, &st, NULL),
			 SQLITE_OK);
	for (size_t i = 0; i < NDOCS; i++) {
		char *t = search_tokens(f->m, docs[i], strlen(docs[i]));

		sqlite3_bind_int64(st, 1, (sqlite3_int64)i + 1);
		sqlite3_bind_text(st, 2, t, -1, SQLITE_TRANSIENT);
		assert_int_equal(sqlite3_step(st), SQLITE_DONE);
		sqlite3_reset(st);
		free(t);
	}
	sqlite3_finalize(st);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	sqlite3_close(f->db);
	vault_mac_destroy(f->m);
	arena_destroy(f->a);
	free(f);
	return 0;
}

/* Rows (as a bit set) whose tokens hold every trigram of q, then those
 * that really contain q. */
static unsigned find(struct fixture *f, const char *q, unsigned *candidates)
{
	char *match = search_query(f->a, f->m, q, strlen(q));
	sqlite3_stmt *st;
	unsigned hits = 0;

	*candidates = 0;
	if (!match) {
		*candidates = (1u << NDOCS) - 1;
	} else {
		assert_int_equal(sqlite3_prepare_v2(f->db, "SELECT rowid FROM fts WHERE fts MATCH ?", -1, &st, NULL),
				 SQLITE_OK);
		sqlite3_bind_text(st, 1, match, -1, SQLITE_STATIC);
		while (sqlite3_step(st) == SQLITE_ROW)
			*candidates |= 1u << (sqlite3_column_int(st, 0) - 1);
		sqlite3_finalize(st);
	}
	for (size_t i = 0; i < NDOCS; i++)
		if ((*candidates & (1u << i)) && search_match(docs[i], q))
			hits |= 1u << i;
	return hits;
}

static void substrings_any_case(void **state)
{
	struct fixture *f = *state;
	unsigned c;

	assert_int_equal(find(f, "properties of", &c), 1u << 0);
	assert_int_equal(find(f, "PROPERTIES OF", &c), 1u << 0);
	assert_int_equal(find(f, "ropert", &c), 1u << 0);        /* inside a word */
	assert_int_equal(find(f, "is not def", &c), 1u << 1);
	assert_int_equal(find(f, "orders.js", &c), 1u << 2);     /* the culprit too */
	assert_int_equal(find(f, "evil.example", &c), 1u << 3);
	assert_int_equal(find(f, "Error", &c), (1u << 0) | (1u << 1) | (1u << 2));
	assert_int_equal(find(f, "Fehler: Datei", &c), 1u << 4); /* UTF-8 bytes */
	assert_int_equal(find(f, "nothing like it", &c), 0);
	assert_int_equal(c, 0);
}

static void short_queries_scan(void **state)
{
	struct fixture *f = *state;
	unsigned c;

	/* Under three bytes there are no trigrams: every row is a candidate
	 * and the substring check decides. */
	assert_int_equal(find(f, "js", &c), (1u << 0) | (1u << 1) | (1u << 2) | (1u << 4));
	assert_int_equal(c, (1u << NDOCS) - 1);
	assert_int_equal(find(f, "", &c), (1u << NDOCS) - 1);
}

static void trigrams_apart_are_not_a_match(void **state)
{
	struct fixture *f = *state;
	unsigned c;

	/* Every trigram of "endef" occurs in row 0 ("rENDErRow",
	 * "undEFined", "uNDEfined") but the word does not: the index lets
	 * it through, the check does not. */
	assert_int_equal(find(f, "endef", &c), 0);
	assert_true(c & 1u);
	assert_int_equal(find(f, "typer", &c), 0);
	assert_true(c & 1u);
}

static void tokens_are_blind_and_keyed(void **state)
{
	struct fixture *f = *state;
	uint8_t other[32] = { 9 };
	struct vault_mac *m2 = vault_mac_create(other, sizeof(other));
	const char *text = "TypeError: secret-marker-123";
	char *t1 = search_tokens(f->m, text, strlen(text)), *t2 = search_tokens(m2, text, strlen(text));
	char *rep = search_tokens(f->m, "aaaaaaa", 7), *tiny = search_tokens(f->m, "ab", 2);

	(void)state;
	assert_null(strstr(t1, "secret"));
	assert_null(strstr(t1, "marker"));
	assert_string_not_equal(t1, t2);            /* another endpoint, other tokens */
	for (const char *p = t1; *p; p++)
		assert_true((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') || *p == ' ');
	assert_int_equal(strlen(rep), 16);          /* one distinct trigram, once */
	assert_string_equal(tiny, "");
	free(t1);
	free(t2);
	free(rep);
	free(tiny);
	vault_mac_destroy(m2);
}

/* 1 when every space-separated word of need is a word of have: what
 * PostgreSQL's string_to_array(search, ' ') @> string_to_array(q, ' ')
 * answers over the GIN index. */
static int contains_all(const char *have, const char *need)
{
	char word[32];

	while (*need) {
		size_t n = strcspn(need, " "), hl = strlen(have);
		int found = 0;

		assert_true(n < sizeof(word));
		memcpy(word, need, n);
		word[n] = '\0';
		for (const char *p = have; p && p < have + hl; p = strchr(p, ' ') ? strchr(p, ' ') + 1 : NULL)
			if (strncmp(p, word, n) == 0 && (p[n] == ' ' || p[n] == '\0'))
				found = 1;
		if (!found)
			return 0;
		need += n;
		need += *need == ' ';
	}
	return 1;
}

static void query_tokens_engine_neutral(void **state)
{
	struct fixture *f = *state;
	static const char *const qs[] = { "properties of", "ROPERT", "Error", "endef", "evil.example",
					  "nothing like it", "is not def", "Fehler: Datei" };

	/* The token list is the FTS5 query (bare words, ANDed), and array
	 * containment of the same list picks the same candidates. */
	for (size_t i = 0; i < sizeof(qs) / sizeof(*qs); i++) {
		char *tokens = search_query_tokens(f->a, f->m, qs[i], strlen(qs[i]));
		unsigned fts, arr = 0;

		assert_non_null(tokens);
		assert_string_equal(tokens, search_query(f->a, f->m, qs[i], strlen(qs[i])));
		find(f, qs[i], &fts);
		for (size_t d = 0; d < NDOCS; d++) {
			char *t = search_tokens(f->m, docs[d], strlen(docs[d]));

			if (contains_all(t, tokens))
				arr |= 1u << d;
			free(t);
		}
		assert_int_equal(arr, fts);
	}
	/* Each token once, even when the query repeats a trigram. */
	assert_int_equal(strlen(search_query_tokens(f->a, f->m, "aaaaaa", 6)), 16);
	assert_null(search_query_tokens(f->a, f->m, "ab", 2));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(substrings_any_case, setup, teardown),
		cmocka_unit_test_setup_teardown(short_queries_scan, setup, teardown),
		cmocka_unit_test_setup_teardown(trigrams_apart_are_not_a_match, setup, teardown),
		cmocka_unit_test_setup_teardown(tokens_are_blind_and_keyed, setup, teardown),
		cmocka_unit_test_setup_teardown(query_tokens_engine_neutral, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
