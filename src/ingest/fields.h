/* The fields of one form post, whichever body carried them: pairs
 * (urlencoded, multipart) or a JSON object. Writing them as JSON, reading
 * a field's first value, and checking the endpoint's required fields. Pure
 * functions over parsed input: no I/O. */
#ifndef INLET_INGEST_FIELDS_H
#define INLET_INGEST_FIELDS_H

#include <stddef.h>

struct arena;
struct jsonw;
struct json_object;
struct kv_list;
struct form_limits;
struct settings;

struct fields {
	const struct kv_list *kv;        /* form bodies, else NULL */
	struct json_object *json;        /* JSON bodies: the plain fields, else NULL */
	struct json_object *special;     /* JSON bodies: the special fields (_next, ...) */
	const char *const *file_fields;  /* field names of the attached files */
	size_t nfile_fields;
};

/* A refusal in Formspree's terms; strings are static or in the arena. */
struct field_error {
	int status;
	const char *code;    /* "REQUIRED_FIELD_MISSING", ... */
	const char *field;   /* or NULL */
	const char *message;
};

/* 1 for _next, _subject, _replyto, _cc, _format and _gotcha. */
int fields_is_special(const char *name);

/* Writes the pairs as a JSON object, in order, a repeated name becoming an
 * array in the place of its first occurrence; special fields are left out.
 * Returns how many fields it wrote. */
size_t fields_write_kv(struct jsonw *w, struct arena *a, const struct kv_list *kv);

/* Parses a JSON body (an object) into plain and special fields (both
 * objects the caller made). On refusal fills err and returns non-zero. */
int fields_parse_json(const char *body, size_t len, const struct form_limits *lim,
		      struct json_object *fields, struct json_object *special, struct field_error *err);

/* The first string value of a field (special = 0) or a special field
 * (special = 1), or NULL. Valid as long as the input. */
const char *fields_str(const struct fields *fs, int special, const char *name);

/* Checks the endpoint's required fields and their types. */
int fields_validate(struct arena *a, const struct settings *s, const struct fields *fs,
		    struct field_error *err);

/* A plain addr-spec check, as forms need: one '@', a dotted domain. */
int fields_email_valid(const char *s);

#endif
