/* The email job; the contract is in notify.h. */
#include "jobs/notify.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "api/api.h"
#include "app/app.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/enc.h"
#include "core/err.h"
#include "core/log.h"
#include "endpoint/settings.h"
#include "jobs/smtp.h"
#include "store/subs.h"
#include "store/tenant.h"
#include "vault/vault.h"

#define MSGID_MAX 64 /* what mail_input.message_id accepts */

/* One attempt's state, so that every exit goes through one cleanup. */
struct run {
	char *err;
	size_t errsize;
	int *permanent;
};

static int fail(struct run *r, int permanent, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int fail(struct run *r, int permanent, int rc, const char *fmt, ...)
{
	va_list ap;

	*r->permanent = permanent;
	if (r->errsize) {
		va_start(ap, fmt);
		vsnprintf(r->err, r->errsize, fmt, ap);
		va_end(ap);
		/* One line for the job log, whatever a server said. */
		for (char *p = r->err; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = ' ';
	}
	return rc;
}

/* The idempotency key as a Message-ID local part: the same key gives the
 * same id on every attempt, which is the point. A key too long to keep is
 * replaced by its hash, still a function of the key alone. */
static void message_local(const char *key, char out[MSGID_MAX + 1])
{
	size_t n = strlen(key);

	if (n == 0 || n > MSGID_MAX) {
		uint8_t h[32];

		vault_sha256(key, n, h);
		hex_encode(out, h, MSGID_MAX / 2); /* writes MSGID_MAX hex digits and a NUL */
		return;
	}
	for (size_t i = 0; i < n; i++) {
		char c = key[i];

		out[i] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
				 c == '.' || c == '_' || c == '-' ? c : '.';
	}
	out[n] = '\0';
}

/* 1 when addr is the sender's own address (INLET_SMTP_FROM, "addr" or
 * "Name <addr>"): an autoresponse there would only mail ourselves. */
static int is_sender(const char *from, const char *addr)
{
	const char *open = strrchr(from, '<'), *close;
	size_t n;

	if (open && (close = strchr(open, '>'))) {
		from = open + 1;
		n = (size_t)(close - from);
	} else {
		from += strspn(from, " \t");
		n = strcspn(from, " \t");
	}
	return strlen(addr) == n && strncasecmp(from, addr, n) == 0;
}

/* meta.reply_to of an opened submission when it is an address the
 * autoresponse may go to, else NULL. */
static const char *submitter(json_object *sub)
{
	json_object *meta, *v;
	const char *s;

	if (!json_object_object_get_ex(sub, "meta", &meta) || !json_object_object_get_ex(meta, "reply_to", &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	s = json_object_get_string(v);
	return mail_address_valid(s) ? s : NULL;
}

/* Composition fails only on input that a retry sees again. */
static int compose(struct run *r, struct arena *a, const struct mail_input *in, enum mail_kind kind,
		   struct buf *msg, struct mail_envelope *env)
{
	int rc = kind == MAIL_NOTIFICATION ? mail_compose_notification(a, in, msg)
					   : mail_compose_autoresponse(a, in, msg);

	if (!rc)
		rc = mail_envelope_recipients(a, in, kind, env);
	if (rc == INLET_ETOOBIG)
		return fail(r, 1, rc, "the message would exceed %d bytes", MAIL_MAX_SIZE);
	if (rc == INLET_ETOOMANY)
		return fail(r, 1, rc, "more than %d recipients", MAIL_MAX_TO);
	if (rc)
		return fail(r, 1, rc, "cannot compose the message (%s): check INLET_SMTP_FROM (an address, "
			    "or Name <address>), INLET_PUBLIC_URL (http(s), no spaces) and the endpoint's email "
			    "settings", inlet_strerror(rc));
	return 0;
}

int notify_run(struct app *app, int64_t endpoint_id, int64_t sub_id, enum mail_kind kind,
	       const char *message_id, char *err, size_t errsize, int *permanent)
{
	struct run r = { err, errsize, permanent };
	struct arena *a = arena_create(0);
	struct settings s;
	struct endpoint e;
	struct sub_row row;
	struct mail_input in = { 0 };
	struct mail_envelope env;
	struct smtp_result res;
	json_object *sub = NULL;
	const char *to;
	char serr[200], mid[MSGID_MAX + 1];
	struct buf msg;
	int rc, sub_rc;

	memset(&s, 0, sizeof(s));
	buf_init(&msg, 0); /* the composer holds the message to its own cap */
	*permanent = 0;
	if (errsize)
		err[0] = '\0';

	rc = tenant_endpoint_by_id(app->tenant, endpoint_id, a, &e);
	if (rc == INLET_ENOTFOUND) {
		rc = 0; /* the endpoint was deleted, and its submissions with it */
		goto out;
	}
	if (rc) {
		rc = fail(&r, 0, rc, "cannot read endpoint %lld: %s", (long long)endpoint_id, inlet_strerror(rc));
		goto out;
	}
	if ((rc = settings_parse(e.settings, &s, serr, sizeof(serr)))) {
		rc = fail(&r, 1, rc, "endpoint %s: stored settings are invalid: %s", e.pid, serr);
		goto out;
	}
	if ((kind == MAIL_NOTIFICATION && s.nnotify == 0) || (kind == MAIL_AUTORESPONSE && !s.autoresponse.enabled))
		goto out;

	rc = substore_get(app_subs(app, endpoint_id), endpoint_id, sub_id, a, &row);
	if (rc == INLET_ENOTFOUND) {
		rc = 0; /* erased before its mail went out: it stays erased */
		goto out;
	}
	if (rc) {
		rc = fail(&r, 0, rc, "cannot read the submission: %s", inlet_strerror(rc));
		goto out;
	}
	/* Nobody is told about spam, and a bot never gets an autoresponse:
	 * that is how a form becomes a relay for mail to strangers. */
	if (row.status == SUB_SPAM)
		goto out;
	if (!app->smtp) {
		rc = fail(&r, 1, INLET_EINVAL, "SMTP is not configured (INLET_SMTP_URL)");
		goto out;
	}
	sub = api_submission_json(app, &e, &row, &sub_rc);
	if ((rc = sub_rc)) {
		/* A record that fails its check, or a key that no longer opens
		 * it, fails the same way next time. */
		rc = fail(&r, rc == INLET_ETAMPERED || rc == INLET_ECRYPTO, rc, "cannot open the submission: %s",
			  inlet_strerror(rc));
		goto out;
	}
	if (kind == MAIL_AUTORESPONSE &&
	    (!(to = submitter(sub)) || is_sender(app->smtp->from, to)))
		goto out;

	in.from = app->smtp->from;
	in.dashboard_url = app->cfg.public_url[0] ? app->cfg.public_url : NULL;
	in.endpoint_name = e.name;
	in.to = (const char *const *)s.notify;
	in.nto = s.nnotify;
	in.subject_template = s.subject_template;
	in.autoresponse.enabled = s.autoresponse.enabled;
	in.autoresponse.subject = s.autoresponse.subject;
	in.autoresponse.text = s.autoresponse.text;
	in.submission = sub;
	if (message_id) {
		message_local(message_id, mid);
		in.message_id = mid;
	}
	if ((rc = compose(&r, a, &in, kind, &msg, &env)))
		goto out;

	rc = smtp_send(app->smtp, env.from, env.rcpt, env.nrcpt, msg.data, msg.len, &res);
	if (rc) {
		rc = fail(&r, rc != INLET_EIO, rc, "SMTP: %s", res.error);
		goto out;
	}
	if (res.partial)
		log_msg(LOG_WARN, "endpoint %s: mail sent, but %s", e.pid, res.error);
out:
	json_object_put(sub);
	buf_free(&msg);
	settings_free(&s);
	arena_destroy(a);
	return rc;
}
