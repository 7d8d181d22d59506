/* Blind substring search over issues. The issue asks for substring search
 * (what FTS5's trigram tokenizer gives) and the Vault forbids readable
 * user data on disk, so the trigrams are made here and blinded before
 * SQLite sees them: each distinct 3-byte window of the case-folded text
 * becomes a token HMAC(search key, trigram), 16 hex digits, and the FTS5
 * table (unicode61 over those tokens) indexes the tokens. A query of n >= 3
 * bytes becomes the AND of its own trigrams' tokens, which finds every
 * issue holding all of them; the caller then opens each candidate and
 * keeps those that really contain the query (search_match), so trigrams
 * present but not adjacent never show. What leaks is what any
 * deterministic index leaks: how often a trigram occurs. */
#ifndef INLET_EVENTS_SEARCH_H
#define INLET_EVENTS_SEARCH_H

#include <stddef.h>

struct arena;
struct vault_mac;

#define SEARCH_MIN 3          /* bytes a query needs to use the index */
#define SEARCH_MAX_TEXT 1024  /* bytes of an issue's text that are indexed */

/* The tokens of text[0..len) (cut to SEARCH_MAX_TEXT), space-separated,
 * each once; heap (free()), "" for text under 3 bytes. */
char *search_tokens(const struct vault_mac *m, const char *text, size_t len);
/* The tokens of query q (cut to SEARCH_MAX_TEXT), space-separated, each
 * once, in a; or NULL when q is shorter than SEARCH_MIN bytes (then every
 * issue is a candidate). Engine-neutral: a candidate is an issue whose
 * tokens include all of these (FTS5 MATCH on SQLite, array containment
 * over a GIN index on PostgreSQL; store/events_read.c). */
char *search_query_tokens(struct arena *a, const struct vault_mac *m, const char *q, size_t len);
/* The FTS5 query for q: the AND of its tokens (NULL as above). */
char *search_query(struct arena *a, const struct vault_mac *m, const char *q, size_t len);
/* 1 when needle occurs in hay, ASCII letters compared without case. */
int search_match(const char *hay, const char *needle);

#endif
