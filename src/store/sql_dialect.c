#include "store/sql_dialect.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/err.h"

/* SQL text is Inlet's own, never a user's; the cap only keeps a bug from
 * growing a buffer without end. */
#define REWRITE_MAX (1u << 20)
#define PARAM_MAX 32766 /* SQLite's own limit on ?N */

enum tok_kind {
	T_SPACE, /* whitespace and comments: copied, skipped by lookahead */
	T_WORD,  /* keyword or bare identifier */
	T_QUOTED, /* 'string', "identifier", `identifier`, [identifier] */
	T_PARAM, /* ? or ?N */
	T_NAMED, /* :name, @name, $name: SQLite only */
	T_PUNCT, /* one character, or == */
};

struct tok {
	enum tok_kind kind;
	const char *p; /* into the input */
	size_t n;
};

struct toks {
	struct tok *v; /* heap, owned */
	size_t n, cap;
};

static int is_word_start(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' ||
	       (unsigned char)ch >= 0x80;
}

static int is_word_char(char ch)
{
	return is_word_start(ch) || (ch >= '0' && ch <= '9') || ch == '$';
}

static void push(struct toks *t, enum tok_kind kind, const char *p, size_t n)
{
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 64;
		t->v = xrealloc(t->v, t->cap * sizeof(*t->v));
	}
	t->v[t->n++] = (struct tok){ kind, p, n };
}

/* Splits in into tokens; an unterminated string or comment is an error. */
static int tokenize(const char *in, struct toks *t, char *why, size_t whysize)
{
	const char *s = in;

	while (*s) {
		const char *b = s;

		if (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == '\f') {
			while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == '\f')
				s++;
			push(t, T_SPACE, b, (size_t)(s - b));
		} else if (s[0] == '-' && s[1] == '-') {
			while (*s && *s != '\n')
				s++;
			push(t, T_SPACE, b, (size_t)(s - b));
		} else if (s[0] == '/' && s[1] == '*') {
			const char *e = strstr(s + 2, "*/");

			if (!e) {
				snprintf(why, whysize, "unterminated comment");
				return INLET_EINVAL;
			}
			s = e + 2;
			push(t, T_SPACE, b, (size_t)(s - b));
		} else if (*s == '\'' || *s == '"' || *s == '`' || *s == '[') {
			char close = *s == '[' ? ']' : *s;

			for (s++;; s++) {
				if (!*s) {
					snprintf(why, whysize, "unterminated quote %c", *b);
					return INLET_EINVAL;
				}
				if (*s == close) {
					if (close != ']' && s[1] == close) { /* '' inside '...' */
						s++;
						continue;
					}
					break;
				}
			}
			s++;
			push(t, T_QUOTED, b, (size_t)(s - b));
		} else if (*s == '?') {
			for (s++; *s >= '0' && *s <= '9'; s++)
				;
			push(t, T_PARAM, b, (size_t)(s - b));
		} else if ((*s == ':' || *s == '@' || *s == '$') && is_word_start(s[1])) {
			for (s++; is_word_char(*s); s++)
				;
			push(t, T_NAMED, b, (size_t)(s - b));
		} else if (is_word_start(*s)) {
			for (s++; is_word_char(*s); s++)
				;
			push(t, T_WORD, b, (size_t)(s - b));
		} else if (*s >= '0' && *s <= '9') {
			/* Numbers ride along as words: nothing here rewrites one. */
			for (s++; is_word_char(*s) || *s == '.'; s++)
				;
			push(t, T_WORD, b, (size_t)(s - b));
		} else if (s[0] == '=' && s[1] == '=') {
			s += 2;
			push(t, T_PUNCT, b, 2);
		} else {
			s++;
			push(t, T_PUNCT, b, 1);
		}
	}
	return 0;
}

static int tok_is(const struct tok *k, const char *word)
{
	return k->kind == T_WORD && strlen(word) == k->n && strncasecmp(k->p, word, k->n) == 0;
}

static int tok_punct(const struct tok *k, char ch)
{
	return k->kind == T_PUNCT && k->n == 1 && k->p[0] == ch;
}

/* Index of the next token after i that is not space, or t->n. */
static size_t next(const struct toks *t, size_t i)
{
	for (i++; i < t->n && t->v[i].kind == T_SPACE; i++)
		;
	return i;
}

static int next_is(const struct toks *t, size_t i, const char *word)
{
	size_t j = next(t, i);

	return j < t->n && tok_is(&t->v[j], word);
}

/* With t->v[i] a '(' : the number of commas at its own depth before the
 * matching ')'. */
static int count_args_commas(const struct toks *t, size_t i)
{
	int depth = 0, commas = 0;

	for (; i < t->n; i++) {
		if (tok_punct(&t->v[i], '('))
			depth++;
		else if (tok_punct(&t->v[i], ')') && --depth == 0)
			break;
		else if (depth == 1 && tok_punct(&t->v[i], ','))
			commas++;
	}
	return commas;
}

/* SQLite functions with no PostgreSQL twin of the same meaning. */
static const char *const unportable_fns[] = {
	"json_extract", "julianday", "strftime", "datetime", "date", "time", "unixepoch",
	"randomblob", "random", "hex", "group_concat", "printf", "changes", "total_changes",
	"last_insert_rowid",
};

static const char *unportable(const struct toks *t, size_t i)
{
	const struct tok *k = &t->v[i];
	size_t j;

	if (tok_is(k, "pragma"))
		return "PRAGMA is SQLite's own";
	if (tok_is(k, "virtual") || tok_is(k, "match"))
		return "FTS5 (virtual tables, MATCH) is SQLite's own";
	if (tok_is(k, "trigger"))
		return "trigger bodies differ between the engines";
	if (tok_is(k, "rowid") || tok_is(k, "_rowid_") || tok_is(k, "oid"))
		return "rowid: name the INTEGER PRIMARY KEY column";
	if (tok_is(k, "glob"))
		return "GLOB is SQLite's own";
	if (tok_is(k, "autoincrement"))
		return "AUTOINCREMENT only after INTEGER PRIMARY KEY";
	if (tok_is(k, "replace") && next_is(t, i, "into"))
		return "REPLACE INTO: write INSERT ... ON CONFLICT(key) DO UPDATE";
	if (k->kind == T_NAMED)
		return "named parameters: use ?N";
	j = next(t, i);
	if (k->kind == T_WORD && j < t->n && tok_punct(&t->v[j], '(')) {
		for (size_t f = 0; f < sizeof(unportable_fns) / sizeof(*unportable_fns); f++)
			if (tok_is(k, unportable_fns[f]))
				return "function with no PostgreSQL twin";
	}
	return NULL;
}

/* Words that may follow IS in PostgreSQL's own sense. */
static int is_is_operand(const struct toks *t, size_t j)
{
	return j < t->n && (tok_is(&t->v[j], "null") || tok_is(&t->v[j], "true") ||
			    tok_is(&t->v[j], "false") || tok_is(&t->v[j], "distinct") ||
			    tok_is(&t->v[j], "unknown"));
}

/* The rewrite state of one pass over the tokens. */
struct rw {
	const struct toks *t;
	struct buf out;
	int maxparam;       /* highest ?N so far */
	int depth;          /* parentheses */
	int pending_ignore; /* INSERT OR IGNORE seen in this statement */
	size_t p1, p2;      /* the last two tokens that were not space */
	const struct tok *target; /* the INSERT's table (or its alias); NULL outside one */
	int in_set;         /* inside ON CONFLICT ... DO UPDATE SET ... */
	int set_depth;      /* depth at its SET */
};

/* Words of the DO UPDATE clause that are not column names. */
static const char *const set_keywords[] = {
	"case", "when", "then", "else", "end", "and", "or", "not", "null", "is", "in", "between",
	"like", "ilike", "distinct", "from", "true", "false", "cast", "as", "where", "collate",
	"nocase", "escape", "integer", "bigint", "int", "text", "blob", "bytea", "real", "double",
	"precision", "numeric", "current_timestamp",
};

static int emit(struct rw *r, const char *s)
{
	return buf_puts(&r->out, s);
}

static int emit_tok(struct rw *r, const struct tok *k)
{
	return buf_append(&r->out, k->p, k->n);
}

static int param(struct rw *r, const struct tok *k, char *why, size_t whysize)
{
	long v;

	if (k->n == 1) {
		v = r->maxparam + 1;
	} else {
		char num[16] = "";
		char *end;

		if (k->n - 1 >= sizeof(num)) {
			snprintf(why, whysize, "placeholder number too large");
			return INLET_EINVAL;
		}
		memcpy(num, k->p + 1, k->n - 1);
		errno = 0;
		v = strtol(num, &end, 10);
		if (errno || *end || v < 1) {
			snprintf(why, whysize, "bad placeholder %s", num);
			return INLET_EINVAL;
		}
	}
	if (v > PARAM_MAX) {
		snprintf(why, whysize, "placeholder number too large");
		return INLET_EINVAL;
	}
	if (v > r->maxparam)
		r->maxparam = (int)v;
	return buf_printf(&r->out, "$%ld", v);
}

/* Inside DO UPDATE SET, PostgreSQL sees both the stored row and excluded,
 * so a bare column name is ambiguous there; SQLite takes it as the stored
 * row's. Returns 1 when t->v[i] is such a bare column (not a keyword, a
 * function, a qualified name or the column being assigned). */
static int bare_set_column(const struct rw *r, size_t i)
{
	const struct toks *t = r->t;
	const struct tok *k = &t->v[i];
	size_t j = next(t, i);

	if (!r->in_set || k->kind != T_WORD || (k->p[0] >= '0' && k->p[0] <= '9'))
		return 0;
	if (j < t->n && (tok_punct(&t->v[j], '(') || tok_punct(&t->v[j], '.')))
		return 0;
	if (r->p1 < t->n && tok_punct(&t->v[r->p1], '.'))
		return 0;
	if (r->depth == r->set_depth && r->p1 < t->n &&
	    (tok_is(&t->v[r->p1], "set") || tok_punct(&t->v[r->p1], ',')) && j < t->n &&
	    tok_punct(&t->v[j], '='))
		return 0; /* the assigned column: PostgreSQL wants it bare */
	for (size_t w = 0; w < sizeof(set_keywords) / sizeof(*set_keywords); w++)
		if (tok_is(k, set_keywords[w]))
			return 0;
	return 1;
}

/* Rewrites t->v[*i] (and any tokens it consumes, advancing *i). */
static int rewrite_word(struct rw *r, size_t *i, char *why, size_t whysize)
{
	const struct toks *t = r->t;
	const struct tok *k = &t->v[*i];
	const char *bad = unportable(t, *i);
	size_t j;

	if (bad) {
		snprintf(why, whysize, "%s (at \"%.*s\")", bad, (int)(k->n > 40 ? 40 : k->n), k->p);
		return INLET_EINVAL;
	}
	if (r->in_set && tok_is(k, "select")) {
		snprintf(why, whysize, "a subquery in DO UPDATE: qualify its columns and write it per engine");
		return INLET_EINVAL;
	}
	if (tok_is(k, "into") && r->p1 < t->n && (tok_is(&t->v[r->p1], "insert") ||
						   tok_is(&t->v[r->p1], "ignore"))) {
		size_t a = next(t, *i), b = a < t->n ? next(t, a) : t->n;

		r->target = a < t->n ? &t->v[a] : NULL;
		if (b < t->n && tok_is(&t->v[b], "as") && next(t, b) < t->n)
			r->target = &t->v[next(t, b)];
	}
	if (tok_is(k, "set") && r->target && r->p1 < t->n && r->p2 < t->n &&
	    tok_is(&t->v[r->p1], "update") && tok_is(&t->v[r->p2], "do")) {
		r->in_set = 1;
		r->set_depth = r->depth;
		return emit_tok(r, k);
	}
	if (r->in_set && tok_is(k, "returning") && r->depth == r->set_depth)
		r->in_set = 0;
	if (bare_set_column(r, *i)) {
		int rc = buf_append(&r->out, r->target->p, r->target->n);

		return rc ? rc : buf_printf(&r->out, ".%.*s", (int)k->n, k->p);
	}
	if (tok_is(k, "x") && *i + 1 < t->n && t->v[*i + 1].kind == T_QUOTED &&
	    t->v[*i + 1].p[0] == '\'') {
		/* x'00ff' is a blob in SQLite and a bit string in PostgreSQL. */
		const struct tok *q = &t->v[++*i];
		int rc = emit(r, "'\\x");

		rc = rc ? rc : buf_append(&r->out, q->p + 1, q->n - 2);
		return rc ? rc : emit(r, "'::bytea");
	}
	if (tok_is(k, "integer")) {
		size_t a = next(t, *i), b = a < t->n ? next(t, a) : t->n;

		if (a < t->n && b < t->n && tok_is(&t->v[a], "primary") && tok_is(&t->v[b], "key")) {
			*i = b;
			if (next_is(t, b, "autoincrement"))
				*i = next(t, b);
			return emit(r, "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY");
		}
		return emit(r, "BIGINT");
	}
	if (tok_is(k, "blob"))
		return emit(r, "BYTEA");
	if (tok_is(k, "real"))
		return emit(r, "DOUBLE PRECISION");
	if (tok_is(k, "like"))
		return emit(r, "ILIKE");
	if (tok_is(k, "without") && next_is(t, *i, "rowid")) {
		*i = next(t, *i);
		return 0;
	}
	if (tok_is(k, "begin") && (next_is(t, *i, "immediate") || next_is(t, *i, "deferred") ||
				   next_is(t, *i, "exclusive"))) {
		*i = next(t, *i);
		return emit(r, "BEGIN");
	}
	if (tok_is(k, "insert") && next_is(t, *i, "or")) {
		size_t o = next(t, *i), w = next(t, o);

		if (w < t->n && tok_is(&t->v[w], "ignore")) {
			*i = w;
			r->pending_ignore = 1;
			return emit(r, "INSERT");
		}
		snprintf(why, whysize, "INSERT OR %.*s: write INSERT ... ON CONFLICT(key) DO UPDATE",
			 w < t->n ? (int)t->v[w].n : 0, w < t->n ? t->v[w].p : "");
		return INLET_EINVAL;
	}
	if (tok_is(k, "returning") && r->depth == 0 && r->pending_ignore) {
		r->pending_ignore = 0;
		return emit(r, "ON CONFLICT DO NOTHING RETURNING");
	}
	if (tok_is(k, "is")) {
		j = next(t, *i);
		if (is_is_operand(t, j))
			return emit_tok(r, k);
		if (j < t->n && tok_is(&t->v[j], "not")) {
			if (is_is_operand(t, next(t, j)))
				return emit_tok(r, k);
			*i = j;
			return emit(r, "IS DISTINCT FROM");
		}
		return emit(r, "IS NOT DISTINCT FROM");
	}
	j = next(t, *i);
	if (j < t->n && tok_punct(&t->v[j], '(')) {
		int many = count_args_commas(t, j) > 0;

		if (tok_is(k, "max") && many)
			return emit(r, "GREATEST");
		if (tok_is(k, "min") && many)
			return emit(r, "LEAST");
		if (tok_is(k, "ifnull"))
			return emit(r, "COALESCE");
		if (tok_is(k, "instr"))
			return emit(r, "STRPOS");
	}
	return emit_tok(r, k);
}

static int end_statement(struct rw *r)
{
	r->target = NULL;
	r->in_set = 0;
	if (!r->pending_ignore)
		return 0;
	r->pending_ignore = 0;
	return emit(r, " ON CONFLICT DO NOTHING");
}

int sql_dialect_rewrite(const char *in, char **out, int *nparams, char *why, size_t whysize)
{
	struct toks t = { 0 };
	struct rw r = { .t = &t, .p1 = (size_t)-1, .p2 = (size_t)-1 };
	char dummy[8];
	int rc;

	if (!why || !whysize) {
		why = dummy;
		whysize = sizeof(dummy);
	}
	why[0] = '\0';
	*out = NULL;
	*nparams = 0;
	buf_init(&r.out, REWRITE_MAX);
	if ((rc = tokenize(in, &t, why, whysize)))
		goto out;
	for (size_t i = 0; i < t.n && !rc; i++) {
		const struct tok *k = &t.v[i];

		switch (k->kind) {
		case T_WORD:
		case T_NAMED:
			rc = rewrite_word(&r, &i, why, whysize);
			break;
		case T_PARAM:
			rc = param(&r, k, why, whysize);
			break;
		case T_PUNCT:
			if (tok_punct(k, '('))
				r.depth++;
			else if (tok_punct(k, ')'))
				r.depth--;
			if (tok_punct(k, ';') && r.depth == 0 && (rc = end_statement(&r)))
				break;
			rc = k->n == 2 ? emit(&r, "=") : emit_tok(&r, k);
			break;
		default:
			rc = emit_tok(&r, k);
			break;
		}
		if (i < t.n && t.v[i].kind != T_SPACE) {
			r.p2 = r.p1;
			r.p1 = i;
		}
	}
	if (!rc)
		rc = end_statement(&r);
	if (!rc && r.depth != 0) {
		snprintf(why, whysize, "unbalanced parentheses");
		rc = INLET_EINVAL;
	}
	if (rc == INLET_ETOOBIG) {
		snprintf(why, whysize, "statement longer than %u bytes", REWRITE_MAX);
		rc = INLET_EINVAL;
	}
out:
	free(t.v);
	if (rc) {
		buf_free(&r.out);
		return rc;
	}
	*out = buf_steal(&r.out);
	*nparams = r.maxparam;
	return 0;
}
