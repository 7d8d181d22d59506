/* The invitation email; the contract is in invite_job.h. */
#include "jobs/invite_job.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "app/app.h"
#include "core/alloc.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/enc.h"
#include "core/err.h"
#include "jobs/mail.h"
#include "jobs/runner.h"
#include "jobs/smtp.h"
#include "store/members.h"
#include "store/queue.h"
#include "store/sessions.h"
#include "vault/vault.h"

#define BOX_LABEL "invite-link" /* the vault box's purpose: never reuse it for another */

int invite_job_enqueue(struct app *app, const struct invite *v, const char *url)
{
	struct queue_spec spec = { 0 };
	json_object *p;
	char *box = NULL, key[QUEUE_KEY_MAX];
	int64_t job;
	int rc;

	if (!app->smtp || !app->queue)
		return INLET_EINVAL;
	if ((rc = vault_box_seal(app->vault, BOX_LABEL, v->pid, url, strlen(url), &box)))
		return rc;
	p = json_object_new_object();
	json_object_object_add(p, "invite_id", json_object_new_int64(v->id));
	json_object_object_add(p, "invite", json_object_new_string(v->pid));
	json_object_object_add(p, "link", json_object_new_string(box));
	snprintf(key, sizeof(key), "invite:%s", v->pid);
	spec.lane = QUEUE_FAST;
	spec.kind = "mail.invite";
	spec.payload = json_object_to_json_string_ext(p, JSON_C_TO_STRING_PLAIN);
	spec.len = strlen(spec.payload);
	spec.idempotency_key = key;
	spec.max_attempts = RUNNER_MAIL_ATTEMPTS;
	spec.scope = v->account_id;
	rc = queue_enqueue(app->queue, &spec, &job);
	json_object_put(p);
	free(box);
	return rc;
}

static const char *member_str(json_object *o, const char *k)
{
	json_object *v;

	return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string)
		       ? json_object_get_string(v) : NULL;
}

int invite_job_run(struct app *app, const struct queue_job *job, const char *worker, char *err, size_t errsize,
		   int *permanent)
{
	struct arena *a = arena_create(4096);
	json_object *p = json_tokener_parse((const char *)job->payload), *v;
	struct mail_invite in = { 0 };
	struct mail_envelope env;
	struct smtp_result res;
	struct invite inv;
	struct user inviter;
	struct buf msg;
	const char *pid = member_str(p, "invite"), *link = member_str(p, "link");
	int64_t id = p && json_object_object_get_ex(p, "invite_id", &v) ? json_object_get_int64(v) : 0;
	char *url = NULL;
	int rc;

	(void)worker;
	buf_init(&msg, 0);
	*permanent = 1;
	if (id <= 0 || !pid || !link) {
		snprintf(err, errsize, "malformed job payload");
		rc = INLET_EINVAL;
		goto out;
	}
	rc = members_invite_by_id(app->tenant, id, a, &inv);
	if (rc == INLET_ENOTFOUND || (!rc && (strcmp(inv.pid, pid) != 0 || inv.accepted_ms || inv.expires_ms <= now_ms()))) {
		/* Revoked, replaced, accepted or expired: the link is dead, and
		 * mailing it would only confuse. */
		*permanent = JOB_CANCEL;
		snprintf(err, errsize, "the invitation is no longer pending");
		rc = INLET_ENOTFOUND;
		goto out;
	}
	if (rc) {
		*permanent = 0;
		snprintf(err, errsize, "cannot read the invitation: %s", inlet_strerror(rc));
		goto out;
	}
	if (!app->smtp) {
		snprintf(err, errsize, "SMTP is not configured (INLET_SMTP_URL)");
		rc = INLET_EINVAL;
		goto out;
	}
	if ((rc = vault_box_open(app->vault, BOX_LABEL, inv.pid, link, &url))) {
		snprintf(err, errsize, "cannot open the sealed link: %s", inlet_strerror(rc));
		goto out;
	}
	in.from = app->smtp->from;
	in.to = inv.email;
	in.account = inv.account_name;
	if (inv.invited_by && sessions_user_by_id(app->tenant, inv.invited_by, a, &inviter) == 0)
		in.inviter = inviter.email;
	in.role = inv.role;
	in.url = url;
	in.expires_ms = inv.expires_ms;
	in.message_id = inv.pid;
	if ((rc = mail_compose_invite(a, &in, &msg, &env))) {
		snprintf(err, errsize, "cannot compose the invitation (%s): check INLET_SMTP_FROM", inlet_strerror(rc));
		goto out;
	}
	rc = smtp_send(app->smtp, env.from, env.rcpt, env.nrcpt, msg.data, msg.len, &res);
	if (rc) {
		*permanent = rc != INLET_EIO;
		snprintf(err, errsize, "SMTP: %s", res.error);
	}
out:
	if (msg.data)
		secure_wipe(msg.data, msg.len); /* it holds the link */
	buf_free(&msg);
	if (url) {
		secure_wipe(url, strlen(url));
		free(url);
	}
	json_object_put(p);
	arena_destroy(a);
	return rc;
}
