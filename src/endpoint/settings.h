/* An endpoint's settings: parsed from and written to the JSON kept in the
 * tenant store, with defaults filled and every value checked, so the
 * ingest path never sees an invalid setting. */
#ifndef INLET_ENDPOINT_SETTINGS_H
#define INLET_ENDPOINT_SETTINGS_H

#include <stddef.h>
#include <stdint.h>

struct json_object;

enum field_type { FIELD_TEXT, FIELD_EMAIL, FIELD_NUMBER };
enum ip_mode { IP_HASH, IP_STORE, IP_DROP };

struct required_field {
	char *name;
	enum field_type type;
};

struct settings {
	char *redirect_url;        /* NULL: Inlet's thank-you page */
	char **origins;            /* allowed origins, lowercased; none = any */
	size_t norigins;
	struct required_field *required;
	size_t nrequired;
	int files_enabled;
	unsigned files_max_count;
	uint64_t files_max_size;   /* bytes per file */
	int active;
	enum ip_mode ip;
	unsigned rl_per_minute;    /* 0: no rate limit */
	unsigned rl_burst;
	uint64_t shard_threshold;  /* submissions before a move to its own database; 0: the server's */
	uint64_t retention_days;   /* submissions older than this are erased; 0: kept */
	/* Email (jobs/notify.c). notify: addresses that get a notification
	 * of each submission, each mail_address_valid(), no duplicates
	 * (compared ignoring case), in the order given; none: no email. */
	char **notify;
	size_t nnotify;
	/* The reply to the submitter. The text is the owner's own words only
	 * (see jobs/mail.h); text is non-NULL and not blank when enabled. */
	struct {
		int enabled;
		char *subject;          /* NULL: "Thank you for your submission" */
		char *text;             /* NULL only when never set */
	} autoresponse;
	char *subject_template;    /* NULL: "New submission to {endpoint}" */
	/* A field of the owner's naming that people leave empty (hidden by the
	 * page) and bots fill, as _gotcha is always: filled, the post is kept
	 * as spam. NULL: _gotcha only. */
	char *honeypot;
};

#define SETTINGS_RETENTION_MAX_DAYS 3650 /* ten years */
#define SETTINGS_AUTORESPONSE_TEXT_MAX 10000 /* bytes of autoresponse.text */

/* Parses settings JSON (NULL or "" = all defaults). On a bad value returns
 * INLET_EINVAL with a message for the user in err. Free with settings_free. */
int settings_parse(const char *json, struct settings *out, char *err, size_t errsize);
/* Same, from a parsed object (not consumed). */
int settings_from_json(struct json_object *obj, struct settings *out, char *err, size_t errsize);
void settings_free(struct settings *s);
/* The full JSON form, defaults included (caller puts the object). */
struct json_object *settings_to_json(const struct settings *s);
/* Shallow-merges patch over the stored JSON, validates, and returns the
 * normalized JSON text (heap) in *out. */
int settings_merge(const char *stored, struct json_object *patch, char **out, char *err, size_t errsize);

/* 1 when origin (lowercased scheme://host[:port]) may post. */
int settings_origin_allowed(const struct settings *s, const char *origin);

#endif
