/* The invitation email; the contract is in mail.h. The account's name is
 * the only text a person chose (an admin, not a stranger): it reaches the
 * subject and the body only through the cleaner, as every such text does
 * in mail.c. */
#include "jobs/mail.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/err.h"
#include "jobs/mail_int.h"

#define ACCOUNT_MAX_BYTES 200
#define MSGID_LOCAL_MAX 64

static int role_ok(const char *role)
{
	static const char *const roles[] = { "owner", "admin", "member", "viewer" };

	for (size_t i = 0; role && i < sizeof(roles) / sizeof(*roles); i++)
		if (strcmp(role, roles[i]) == 0)
			return 1;
	return 0;
}

/* "2026-11-30 15:04" (UTC): a date a person reads, not a header date. */
static void when(int64_t ms, char *out, size_t size)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(out, size, "%04d-%02d-%02d %02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min);
}

static int msgid_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	return n >= 1 && n <= MSGID_LOCAL_MAX &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

int mail_compose_invite(struct arena *a, const struct mail_invite *in, struct buf *out,
			struct mail_envelope *env)
{
	struct buf msg, text, qp;
	struct mail_hw w;
	const char *from, *display, *account, **rcpt;
	char date[96], expires[64];
	int rc;

	buf_init(&msg, MAIL_MAX_SIZE);
	buf_init(&text, MAIL_MAX_SIZE);
	buf_init(&qp, MAIL_MAX_SIZE);
	memset(env, 0, sizeof(*env));
	if ((rc = mail_from_parse(a, in->from, &from, &display)))
		goto out;
	if (!mail_address_valid(in->to) || (in->inviter && !mail_address_valid(in->inviter)) || !role_ok(in->role) ||
	    !in->url || !mail_url_ok(in->url, strlen(in->url)) || !msgid_ok(in->message_id)) {
		rc = INLET_EINVAL;
		goto out;
	}
	account = mail_clean(a, in->account ? in->account : "", in->account ? strlen(in->account) : 0,
			     MAIL_CLEAN_LINE, ACCOUNT_MAX_BYTES, NULL);
	if (!*account)
		account = "an account";
	when(in->expires_ms, expires, sizeof(expires));

	/* "a admin" would read badly; every role but "admin" and "owner" takes "a". */
	rc = buf_printf(&text, "%s invited you to join \"%s\" on Inlet as %s %s.\n\n"
			       "Accept the invitation here:\n\n%s\n\n"
			       "The link works once, until %s (UTC). If you did not expect this "
			       "invitation, ignore this email.\n",
			in->inviter ? in->inviter : "Someone", account,
			in->role[0] == 'a' || in->role[0] == 'o' ? "an" : "a", in->role, in->url, expires);
	if (rc || (rc = mail_qp_encode(&qp, text.data, text.len)))
		goto out;

	rcpt = arena_alloc(a, sizeof(*rcpt));
	rcpt[0] = arena_strdup(a, in->to);
	w = (struct mail_hw){ .b = &msg };
	mail_date(in->date_ms, date, sizeof(date));
	mail_hdr_raw(&w, "Date", date);
	mail_hdr_mailbox(&w, "From", display, from);
	mail_hdr_addrs(&w, "To", rcpt, 1);
	mail_hdr_text(&w, "Subject", arena_printf(a, "You are invited to %s on Inlet", account));
	mail_hdr_raw(&w, "Message-ID", arena_printf(a, "<%s.invite@%s>", in->message_id, strchr(from, '@') + 1));
	mail_hdr_raw(&w, "Auto-Submitted", "auto-generated");
	mail_hdr_raw(&w, "MIME-Version", "1.0");
	mail_hw_puts(&w, "Content-Type: text/plain; charset=utf-8\r\n"
			 "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
	mail_hw_put(&w, qp.data, qp.len);
	if ((rc = w.rc))
		goto out;
	if (!mail_message_ok(msg.data, msg.len)) {
		rc = INLET_EINTERNAL;
		goto out;
	}
	if ((rc = buf_append(out, msg.data, msg.len)))
		goto out;
	env->from = from;
	env->rcpt = rcpt;
	env->nrcpt = 1;
out:
	buf_free(&msg);
	buf_free(&text);
	buf_free(&qp);
	return rc;
}
