#include "ingest/fields.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "core/arena.h"
#include "core/err.h"
#include "core/jsonw.h"
#include "endpoint/settings.h"
#include "ingest/kv.h"

static const char *const specials[] = { "_next", "_subject", "_replyto", "_cc", "_format", "_gotcha" };

int fields_is_special(const char *name)
{
	for (size_t i = 0; i < sizeof(specials) / sizeof(*specials); i++)
		if (strcmp(name, specials[i]) == 0)
			return 1;
	return 0;
}

static int refuse(struct field_error *err, int status, const char *code, const char *field,
		  const char *message)
{
	err->status = status;
	err->code = code;
	err->field = field;
	err->message = message;
	return INLET_EINVAL;
}

/* Ordered fields from pairs, written straight to JSON: a repeated name
 * becomes an array in the place of its first occurrence. Special fields
 * are left out (they go to meta). Returns the number of fields written. */
size_t fields_write_kv(struct jsonw *w, struct arena *a, const struct kv_list *kv)
{
	size_t n = kv->n, nslots = 16, written = 0;
	int32_t *next, *last, *slot;
	uint8_t *later;

	while (nslots < 2 * n)
		nslots *= 2;
	next = arena_alloc(a, (n ? n : 1) * sizeof(*next));
	last = arena_alloc(a, (n ? n : 1) * sizeof(*last));
	later = arena_zalloc(a, n ? n : 1);
	slot = arena_alloc(a, nslots * sizeof(*slot));
	memset(slot, 0xff, nslots * sizeof(*slot));
	for (size_t i = 0; i < n; i++) {
		const struct kv *p = &kv->items[i];
		uint32_t h = 2166136261u;
		size_t k;

		next[i] = -1;
		last[i] = (int32_t)i;
		if (fields_is_special(p->name)) {
			later[i] = 1;
			continue;
		}
		for (size_t c = 0; c < p->name_len; c++)
			h = (h ^ (unsigned char)p->name[c]) * 16777619u;
		for (k = h & (nslots - 1); slot[k] >= 0; k = (k + 1) & (nslots - 1)) {
			const struct kv *q = &kv->items[slot[k]];

			if (q->name_len == p->name_len && memcmp(q->name, p->name, p->name_len) == 0)
				break;
		}
		if (slot[k] < 0) {
			slot[k] = (int32_t)i;
		} else {
			int32_t first = slot[k];

			next[last[first]] = (int32_t)i;
			last[first] = (int32_t)i;
			later[i] = 1;
		}
	}
	jsonw_open(w, '{');
	for (size_t i = 0; i < n; i++) {
		const struct kv *p = &kv->items[i];

		if (later[i])
			continue;
		jsonw_key(w, p->name, p->name_len);
		if (next[i] < 0) {
			jsonw_str(w, p->value, p->value_len);
		} else {
			jsonw_open(w, '[');
			for (int32_t j = (int32_t)i; j >= 0; j = next[j]) {
				jsonw_sep(w);
				jsonw_str(w, kv->items[j].value, kv->items[j].value_len);
			}
			jsonw_close(w, ']');
		}
		written++;
	}
	jsonw_close(w, '}');
	return written;
}

/* The first value of a named field, from whichever body the post had. */
struct field_value {
	int present;
	json_object *json;   /* JSON bodies */
	const char *str;     /* form bodies: NUL-terminated */
	size_t len;
};

static struct field_value field_first(const struct fields *fs, const char *name)
{
	struct field_value v = { 0 };

	if (fs->json) {
		json_object *o;

		if (json_object_object_get_ex(fs->json, name, &o)) {
			v.present = 1;
			v.json = o;
		}
	} else if (fs->kv) {
		const struct kv *p = kv_get(fs->kv, name);

		if (p) {
			v.present = 1;
			v.str = p->value;
			v.len = p->value_len;
		}
	}
	return v;
}

int fields_parse_json(const char *body, size_t len, const struct form_limits *lim,
		      json_object *fields, json_object *special, struct field_error *err)
{
	struct json_tokener *tok = json_tokener_new_ex(32);
	json_object *root;
	size_t n = 0;
	int rc = 0;

	root = json_tokener_parse_ex(tok, body ? body : "", (int)len);
	if (!root || json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != len) {
		/* Trailing white space after the value is fine. */
		size_t end = json_tokener_get_parse_end(tok);

		while (root && end < len && strchr(" \t\r\n", body[end]))
			end++;
		if (!root || end != len) {
			rc = refuse(err, 400, "INVALID", NULL, "The JSON body is not valid JSON.");
			goto out;
		}
	}
	if (!json_object_is_type(root, json_type_object)) {
		rc = refuse(err, 400, "INVALID", NULL, "The JSON body must be an object.");
		goto out;
	}
	json_object_object_foreach(root, k, v) {
		if (++n > lim->max_fields || strlen(k) > lim->max_name_len) {
			rc = refuse(err, 413, n > lim->max_fields ? "TOO_MANY_FIELDS" : "BODY_TOO_BIG", NULL,
				    "The form has too many or too long fields.");
			goto out;
		}
		json_object_object_add(fields_is_special(k) ? special : fields, k, v ? json_object_get(v) : NULL);
	}
out:
	json_object_put(root);
	json_tokener_free(tok);
	return rc;
}

static const char *str_of(json_object *o, const char *key)
{
	json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) || !v)
		return NULL;
	if (json_object_is_type(v, json_type_array))
		v = json_object_array_length(v) ? json_object_array_get_idx(v, 0) : NULL;
	if (!v || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

const char *fields_str(const struct fields *fs, int special, const char *name)
{
	const struct kv *p;

	if (fs->json)
		return str_of(special ? fs->special : fs->json, name);
	if (!fs->kv || !(p = kv_get(fs->kv, name)))
		return NULL;
	return p->value;
}

int fields_email_valid(const char *s)
{
	const char *at = strchr(s, '@');
	size_t n = strlen(s);

	if (!at || at == s || strchr(at + 1, '@') || n > 254 || strpbrk(s, " \t\r\n<>,;\"") )
		return 0;
	const char *dot = strrchr(at + 1, '.');

	return dot && dot > at + 1 && dot[1] != '\0';
}

static int valid_number_str(const char *s);

static int valid_number(json_object *v)
{
	if (json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double))
		return 1;
	if (!json_object_is_type(v, json_type_string))
		return 0;
	return valid_number_str(json_object_get_string(v));
}

static int is_empty(json_object *v)
{
	if (!v || json_object_is_type(v, json_type_null))
		return 1;
	if (json_object_is_type(v, json_type_string))
		return json_object_get_string_len(v) == 0;
	if (json_object_is_type(v, json_type_array))
		return json_object_array_length(v) == 0;
	return 0;
}

static int valid_number_str(const char *s)
{
	char *end;
	double d;

	if (!*s)
		return 0;
	d = strtod(s, &end);
	while (*end == ' ')
		end++;
	return *end == '\0' && isfinite(d);
}

int fields_validate(struct arena *a, const struct settings *s, const struct fields *fs,
		    struct field_error *err)
{
	for (size_t i = 0; i < s->nrequired; i++) {
		const struct required_field *rf = &s->required[i];
		struct field_value v = field_first(fs, rf->name);
		json_object *j = v.json;
		int has_file = 0, empty, bad_email, bad_number;

		for (size_t k = 0; k < fs->nfile_fields; k++)
			if (strcmp(fs->file_fields[k], rf->name) == 0)
				has_file = 1;
		if (!v.present && !has_file)
			return refuse(err, 422, "REQUIRED_FIELD_MISSING", rf->name,
				      arena_printf(a, "The field \"%s\" is required.", rf->name));
		if (has_file)
			continue;
		if (fs->json) {
			empty = is_empty(j);
			if (!empty && json_object_is_type(j, json_type_array))
				j = json_object_array_get_idx(j, 0);
			bad_email = !empty && (!json_object_is_type(j, json_type_string) ||
					       !fields_email_valid(json_object_get_string(j)));
			bad_number = !empty && !valid_number(j);
		} else {
			empty = v.len == 0;
			bad_email = !empty && !fields_email_valid(v.str);
			bad_number = !empty && !valid_number_str(v.str);
		}
		if (empty)
			return refuse(err, 422, "REQUIRED_FIELD_EMPTY", rf->name,
				      arena_printf(a, "The field \"%s\" must not be empty.", rf->name));
		if (rf->type == FIELD_EMAIL && bad_email)
			return refuse(err, 422, "TYPE_EMAIL", rf->name,
				      arena_printf(a, "The field \"%s\" must be an email address.", rf->name));
		if (rf->type == FIELD_NUMBER && bad_number)
			return refuse(err, 422, "TYPE_NUMERIC", rf->name,
				      arena_printf(a, "The field \"%s\" must be a number.", rf->name));
	}
	return 0;
}
