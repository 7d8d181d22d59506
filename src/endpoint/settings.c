#include "endpoint/settings.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "core/alloc.h"
#include "core/err.h"
#include "ingest/fields.h"
#include "ingest/header.h"
#include "jobs/mail.h"

#define MAX_ORIGINS 64
#define MAX_REQUIRED 64

static const char *const ip_names[] = { "hash", "store", "drop" };
static const char *const type_names[] = { "text", "email", "number" };

static void defaults(struct settings *s)
{
	memset(s, 0, sizeof(*s));
	s->files_enabled = 1;
	s->files_max_count = 10;
	s->files_max_size = 10 * 1024 * 1024;
	s->active = 1;
	s->ip = IP_HASH;
	s->rl_per_minute = 120;
	s->rl_burst = 60;
}

void settings_free(struct settings *s)
{
	if (!s)
		return;
	free(s->redirect_url);
	for (size_t i = 0; i < s->norigins; i++)
		free(s->origins[i]);
	free(s->origins);
	for (size_t i = 0; i < s->nrequired; i++)
		free(s->required[i].name);
	free(s->required);
	for (size_t i = 0; i < s->nnotify; i++)
		free(s->notify[i]);
	free(s->notify);
	free(s->autoresponse.subject);
	free(s->autoresponse.text);
	free(s->subject_template);
	free(s->honeypot);
	memset(s, 0, sizeof(*s));
}

static int bad(char *err, size_t errsize, const char *msg)
{
	snprintf(err, errsize, "%s", msg);
	return INLET_EINVAL;
}

static int get_uint(json_object *o, const char *key, uint64_t max, uint64_t *out, char *err, size_t errsize)
{
	json_object *v;
	int64_t n;

	if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
		return 0;
	if (!json_object_is_type(v, json_type_int))
	{
		snprintf(err, errsize, "%s must be a whole number", key);
		return INLET_EINVAL;
	}
	n = json_object_get_int64(v);
	if (n < 0 || (uint64_t)n > max) {
		snprintf(err, errsize, "%s must be from 0 to %llu", key, (unsigned long long)max);
		return INLET_EINVAL;
	}
	*out = (uint64_t)n;
	return 0;
}

static int get_bool(json_object *o, const char *key, int *out, char *err, size_t errsize)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
		return 0;
	if (!json_object_is_type(v, json_type_boolean)) {
		snprintf(err, errsize, "%s must be true or false", key);
		return INLET_EINVAL;
	}
	*out = json_object_get_boolean(v);
	return 0;
}

static int is_http_url(const char *s)
{
	return strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0;
}

/* An optional string member into *out (heap; "" and null leave it NULL).
 * name is how the user knows the key ("autoresponse.subject"). A NUL
 * inside is refused: C would silently cut the text there. one_line
 * refuses control characters too: the value becomes a Subject, and
 * although the composer would clean it, the owner should hear now that
 * it cannot be sent as typed. */
static int get_text(json_object *o, const char *key, const char *name, size_t max, int one_line,
		    char **out, char *err, size_t errsize)
{
	json_object *v;
	const char *str;
	size_t len;

	if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
		return 0;
	if (!json_object_is_type(v, json_type_string))
		goto bad;
	str = json_object_get_string(v);
	len = (size_t)json_object_get_string_len(v);
	if (len > max || strlen(str) != len)
		goto bad;
	for (size_t i = 0; one_line && i < len; i++)
		if ((unsigned char)str[i] < 0x20 || str[i] == 0x7f)
			goto bad;
	if (len)
		*out = xstrdup(str);
	return 0;
bad:
	snprintf(err, errsize, "%s must be a string of at most %zu bytes%s", name, max,
		 one_line ? " on one line" : "");
	return INLET_EINVAL;
}

/* "notify": addresses checked as the mailer will check them, so a job
 * never fails later on an address the API accepted. Duplicates are
 * dropped (ignoring case, the first spelling kept): one person, one copy. */
static int parse_notify(json_object *v, struct settings *s, char *err, size_t errsize)
{
	size_t len;

	if (!json_object_is_type(v, json_type_array) || (len = json_object_array_length(v)) > MAIL_MAX_TO) {
		snprintf(err, errsize, "notify must be an array of at most %d email addresses", MAIL_MAX_TO);
		return INLET_EINVAL;
	}
	s->notify = xcalloc(len ? len : 1, sizeof(char *));
	for (size_t i = 0; i < len; i++) {
		json_object *e = json_object_array_get_idx(v, i);
		const char *addr = json_object_get_string(e);
		int dup = 0;

		if (!json_object_is_type(e, json_type_string) ||
		    strlen(addr) != (size_t)json_object_get_string_len(e) || !mail_address_valid(addr)) {
			snprintf(err, errsize, "notify item %zu is not an email address like ops@example.org",
				 i + 1);
			return INLET_EINVAL;
		}
		for (size_t j = 0; j < s->nnotify && !dup; j++)
			dup = strcasecmp(s->notify[j], addr) == 0;
		if (!dup)
			s->notify[s->nnotify++] = xstrdup(addr);
	}
	return 0;
}

static int blank(const char *t)
{
	return !t || t[strspn(t, " \t\r\n")] == '\0';
}

static int parse_autoresponse(json_object *ar, struct settings *s, char *err, size_t errsize)
{
	int rc;

	if (!json_object_is_type(ar, json_type_object))
		return bad(err, errsize, "autoresponse must be an object");
	if ((rc = get_bool(ar, "enabled", &s->autoresponse.enabled, err, errsize)) ||
	    (rc = get_text(ar, "subject", "autoresponse.subject", MAIL_SUBJECT_MAX, 1, &s->autoresponse.subject,
			   err, errsize)) ||
	    (rc = get_text(ar, "text", "autoresponse.text", SETTINGS_AUTORESPONSE_TEXT_MAX, 0,
			   &s->autoresponse.text, err, errsize)))
		return rc;
	if (s->autoresponse.enabled && blank(s->autoresponse.text))
		return bad(err, errsize, "autoresponse.text is required when the autoresponse is enabled");
	return 0;
}

int settings_from_json(json_object *o, struct settings *s, char *err, size_t errsize)
{
	json_object *v, *f, *rl;
	uint64_t n;
	int rc = 0;

	defaults(s);
	if (!o)
		return 0;
	if (!json_object_is_type(o, json_type_object))
		return bad(err, errsize, "settings must be an object");
	if (json_object_object_get_ex(o, "redirect_url", &v) && !json_object_is_type(v, json_type_null)) {
		const char *u = json_object_get_string(v);

		if (!json_object_is_type(v, json_type_string) || !is_http_url(u) || strlen(u) > 2000) {
			rc = bad(err, errsize, "redirect_url must be an http(s) URL");
			goto out;
		}
		s->redirect_url = xstrdup(u);
	}
	if (json_object_object_get_ex(o, "allowed_origins", &v) && !json_object_is_type(v, json_type_null)) {
		size_t len;

		if (!json_object_is_type(v, json_type_array) || (len = json_object_array_length(v)) > MAX_ORIGINS) {
			rc = bad(err, errsize, "allowed_origins must be an array of at most 64 origins");
			goto out;
		}
		s->origins = xcalloc(len ? len : 1, sizeof(char *));
		for (size_t i = 0; i < len; i++) {
			json_object *e = json_object_array_get_idx(v, i);
			char origin[300];

			if (!json_object_is_type(e, json_type_string) ||
			    header_origin(json_object_get_string(e), origin, sizeof(origin))) {
				rc = bad(err, errsize, "allowed_origins items must be origins like https://example.com");
				goto out;
			}
			s->origins[s->norigins++] = xstrdup(origin);
		}
	}
	if (json_object_object_get_ex(o, "required_fields", &v) && !json_object_is_type(v, json_type_null)) {
		size_t len;

		if (!json_object_is_type(v, json_type_array) || (len = json_object_array_length(v)) > MAX_REQUIRED) {
			rc = bad(err, errsize, "required_fields must be an array of at most 64 items");
			goto out;
		}
		s->required = xcalloc(len ? len : 1, sizeof(*s->required));
		for (size_t i = 0; i < len; i++) {
			json_object *e = json_object_array_get_idx(v, i), *name, *type;
			struct required_field *r = &s->required[s->nrequired];
			const char *ts = "text";

			if (!json_object_is_type(e, json_type_object) ||
			    !json_object_object_get_ex(e, "name", &name) ||
			    !json_object_is_type(name, json_type_string) ||
			    json_object_get_string_len(name) == 0 || json_object_get_string_len(name) > 256) {
				rc = bad(err, errsize, "required_fields items need a non-empty \"name\"");
				goto out;
			}
			if (json_object_object_get_ex(e, "type", &type) && !json_object_is_type(type, json_type_null)) {
				if (!json_object_is_type(type, json_type_string)) {
					rc = bad(err, errsize, "required_fields type must be text, email or number");
					goto out;
				}
				ts = json_object_get_string(type);
			}
			r->type = FIELD_TEXT;
			if (strcmp(ts, "email") == 0)
				r->type = FIELD_EMAIL;
			else if (strcmp(ts, "number") == 0)
				r->type = FIELD_NUMBER;
			else if (strcmp(ts, "text") != 0) {
				rc = bad(err, errsize, "required_fields type must be text, email or number");
				goto out;
			}
			r->name = xstrdup(json_object_get_string(name));
			s->nrequired++;
		}
	}
	if (json_object_object_get_ex(o, "files", &f) && !json_object_is_type(f, json_type_null)) {
		if (!json_object_is_type(f, json_type_object)) {
			rc = bad(err, errsize, "files must be an object");
			goto out;
		}
		if ((rc = get_bool(f, "enabled", &s->files_enabled, err, errsize)))
			goto out;
		n = s->files_max_count;
		if ((rc = get_uint(f, "max_count", 100, &n, err, errsize)))
			goto out;
		s->files_max_count = (unsigned)n;
		if ((rc = get_uint(f, "max_size", (uint64_t)1 << 30, &s->files_max_size, err, errsize)))
			goto out;
	}
	if ((rc = get_bool(o, "active", &s->active, err, errsize)))
		goto out;
	if (json_object_object_get_ex(o, "ip", &v) && !json_object_is_type(v, json_type_null)) {
		const char *m = json_object_get_string(v);
		int found = 0;

		for (int i = 0; i < 3 && json_object_is_type(v, json_type_string); i++)
			if (strcmp(m, ip_names[i]) == 0) {
				s->ip = (enum ip_mode)i;
				found = 1;
			}
		if (!found) {
			rc = bad(err, errsize, "ip must be \"hash\", \"store\" or \"drop\"");
			goto out;
		}
	}
	if ((rc = get_uint(o, "shard_threshold", (uint64_t)1 << 40, &s->shard_threshold, err, errsize)))
		goto out;
	if ((rc = get_uint(o, "retention_days", SETTINGS_RETENTION_MAX_DAYS, &s->retention_days, err, errsize)))
		goto out;
	if (json_object_object_get_ex(o, "rate_limit", &rl) && !json_object_is_type(rl, json_type_null)) {
		if (!json_object_is_type(rl, json_type_object)) {
			rc = bad(err, errsize, "rate_limit must be an object");
			goto out;
		}
		n = s->rl_per_minute;
		if ((rc = get_uint(rl, "per_minute", 1000000, &n, err, errsize)))
			goto out;
		s->rl_per_minute = (unsigned)n;
		n = s->rl_burst;
		if ((rc = get_uint(rl, "burst", 1000000, &n, err, errsize)))
			goto out;
		s->rl_burst = (unsigned)(n ? n : 1);
	}
	if (json_object_object_get_ex(o, "notify", &v) && !json_object_is_type(v, json_type_null) &&
	    (rc = parse_notify(v, s, err, errsize)))
		goto out;
	if (json_object_object_get_ex(o, "autoresponse", &v) && !json_object_is_type(v, json_type_null) &&
	    (rc = parse_autoresponse(v, s, err, errsize)))
		goto out;
	if ((rc = get_text(o, "subject_template", "subject_template", MAIL_SUBJECT_MAX, 1, &s->subject_template,
			   err, errsize)))
		goto out;
	if ((rc = get_text(o, "honeypot", "honeypot", 64, 1, &s->honeypot, err, errsize)))
		goto out;
	if (s->honeypot && fields_is_special(s->honeypot)) {
		rc = bad(err, errsize, "honeypot must name an ordinary field (_gotcha always is one)");
		goto out;
	}
out:
	if (rc)
		settings_free(s);
	return rc;
}

int settings_parse(const char *json, struct settings *out, char *err, size_t errsize)
{
	json_object *o;
	int rc;

	if (!json || !*json) {
		defaults(out);
		return 0;
	}
	o = json_tokener_parse(json);
	if (!o)
		return bad(err, errsize, "settings are not valid JSON");
	rc = settings_from_json(o, out, err, errsize);
	json_object_put(o);
	return rc;
}

json_object *settings_to_json(const struct settings *s)
{
	json_object *o = json_object_new_object(), *a, *f, *rl;

	json_object_object_add(o, "redirect_url", s->redirect_url ? json_object_new_string(s->redirect_url) : NULL);
	a = json_object_new_array();
	for (size_t i = 0; i < s->norigins; i++)
		json_object_array_add(a, json_object_new_string(s->origins[i]));
	json_object_object_add(o, "allowed_origins", a);
	a = json_object_new_array();
	for (size_t i = 0; i < s->nrequired; i++) {
		json_object *r = json_object_new_object();

		json_object_object_add(r, "name", json_object_new_string(s->required[i].name));
		json_object_object_add(r, "type", json_object_new_string(type_names[s->required[i].type]));
		json_object_array_add(a, r);
	}
	json_object_object_add(o, "required_fields", a);
	f = json_object_new_object();
	json_object_object_add(f, "enabled", json_object_new_boolean(s->files_enabled));
	json_object_object_add(f, "max_count", json_object_new_int64(s->files_max_count));
	json_object_object_add(f, "max_size", json_object_new_int64((int64_t)s->files_max_size));
	json_object_object_add(o, "files", f);
	json_object_object_add(o, "active", json_object_new_boolean(s->active));
	json_object_object_add(o, "ip", json_object_new_string(ip_names[s->ip]));
	rl = json_object_new_object();
	json_object_object_add(rl, "per_minute", json_object_new_int64(s->rl_per_minute));
	json_object_object_add(rl, "burst", json_object_new_int64(s->rl_burst));
	json_object_object_add(o, "rate_limit", rl);
	json_object_object_add(o, "shard_threshold", json_object_new_int64((int64_t)s->shard_threshold));
	json_object_object_add(o, "retention_days", json_object_new_int64((int64_t)s->retention_days));
	a = json_object_new_array();
	for (size_t i = 0; i < s->nnotify; i++)
		json_object_array_add(a, json_object_new_string(s->notify[i]));
	json_object_object_add(o, "notify", a);
	f = json_object_new_object();
	json_object_object_add(f, "enabled", json_object_new_boolean(s->autoresponse.enabled));
	json_object_object_add(f, "subject", s->autoresponse.subject ? json_object_new_string(s->autoresponse.subject)
								    : NULL);
	json_object_object_add(f, "text", s->autoresponse.text ? json_object_new_string(s->autoresponse.text) : NULL);
	json_object_object_add(o, "autoresponse", f);
	json_object_object_add(o, "subject_template",
			       s->subject_template ? json_object_new_string(s->subject_template) : NULL);
	json_object_object_add(o, "honeypot", s->honeypot ? json_object_new_string(s->honeypot) : NULL);
	return o;
}

int settings_merge(const char *stored, json_object *patch, char **out, char *err, size_t errsize)
{
	json_object *base = stored && *stored ? json_tokener_parse(stored) : json_object_new_object();
	struct settings s;
	int rc;

	if (!base)
		base = json_object_new_object();
	if (!json_object_is_type(patch, json_type_object)) {
		json_object_put(base);
		return bad(err, errsize, "settings must be an object");
	}
	json_object_object_foreach(patch, k, v) {
		json_object_object_add(base, k, v ? json_object_get(v) : NULL);
	}
	rc = settings_from_json(base, &s, err, errsize);
	json_object_put(base);
	if (rc)
		return rc;
	base = settings_to_json(&s);
	*out = xstrdup(json_object_to_json_string_ext(base, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(base);
	settings_free(&s);
	return 0;
}

int settings_origin_allowed(const struct settings *s, const char *origin)
{
	if (s->norigins == 0)
		return 1;
	for (size_t i = 0; i < s->norigins; i++)
		if (strcmp(s->origins[i], origin) == 0)
			return 1;
	return 0;
}
