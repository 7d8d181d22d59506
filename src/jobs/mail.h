/* Email composition: the notification an endpoint's owners get for a
 * submission and the optional autoresponse to the submitter, as complete
 * RFC 5322 messages (CRLF line endings, 7-bit, MIME, UTF-8). Pure: no
 * network, no clock beyond now_ms(), no global state; the SMTP sender only
 * ships the bytes and the envelope this module hands it.
 *
 * Everything that comes from a submission is hostile. The guarantees:
 *   - Every header line is printable ASCII (plus SP/TAB after a fold), ends
 *     in CRLF and is at most 998 bytes (78 where a fold point exists).
 *     Text that came from input reaches a header only through the
 *     one-line cleaner (CR, LF, TAB and other control characters become a
 *     space or vanish) and then as plain words or RFC 2047 encoded-words
 *     (UTF-8, B). No value can start a new header line or add a header.
 *   - Addresses are checked with mail_address_valid() and written as a bare
 *     addr-spec; never with a display name taken from input.
 *   - Bodies are quoted-printable (every line <= 76 bytes, every byte of
 *     the message 7-bit), so no body line can equal a MIME boundary; the
 *     boundary is random, contains "=_" (which QP output cannot contain),
 *     and is still checked against every encoded part.
 *   - The finished message is checked once more, byte by byte, before it
 *     is handed out (INLET_EINTERNAL if that check ever fails).
 *
 * SMTP dot-stuffing is not done here: a body line may start with "."
 * (quoted-printable writes a leading "." as "=2E", but a sender must not
 * rely on that). libcurl stuffs dots and appends the final "CRLF.CRLF"
 * itself; a sender that writes DATA by hand must do both. */
#ifndef INLET_JOBS_MAIL_H
#define INLET_JOBS_MAIL_H

#include <stddef.h>
#include <stdint.h>

struct arena;
struct buf;
struct json_object;

#define MAIL_MAX_SIZE (1024 * 1024) /* default cap on a whole message */
#define MAIL_ADDR_MAX 254           /* bytes in an address (RFC 5321 path limit) */
#define MAIL_LOCAL_MAX 64           /* bytes before the "@" */
#define MAIL_MAX_TO 50              /* notification recipients; more: INLET_ETOOMANY */
#define MAIL_MAX_CC 5               /* Cc from a submission; the rest are dropped */
#define MAIL_SUBJECT_MAX 400        /* bytes of subject text kept (UTF-8, cut on a character) */

/* The endpoint's autoresponse settings, {"enabled","subject","text"}. The
 * text is the owner's; nothing from the submission goes into it, so the
 * autoresponse cannot carry a stranger's words to a stranger's address. */
struct mail_autoresponse {
	int enabled;
	const char *subject; /* NULL or "": "Thank you for your submission" */
	const char *text;    /* plain text body; required when enabled */
};

/* Everything a message is made of. Strings are borrowed (not copied past
 * the call, never freed here); "{endpoint}" in subject_template,
 * autoresponse.subject and autoresponse.text becomes the endpoint's name,
 * "{id}" in subject_template the submission id. */
struct mail_input {
	/* The sender, INLET_SMTP_FROM: "noreply@example.org" or
	 * "Inlet <noreply@example.org>". Required; invalid: INLET_EINVAL. */
	const char *from;
	/* Base of the dashboard links, "https://inlet.example.org" (a trailing
	 * "/" is dropped). NULL: files are listed without links. Must be
	 * http(s) without spaces, quotes or angle brackets, else INLET_EINVAL. */
	const char *dashboard_url;
	const char *endpoint_name;      /* NULL: the submission's endpoint_id */
	const char *const *to;          /* the endpoint's "notify" list */
	size_t nto;                     /* 1..MAIL_MAX_TO for a notification */
	const char *subject_template;   /* NULL or "": "New submission to {endpoint}" */
	struct mail_autoresponse autoresponse;
	/* The submission as the API shows it: {"id","endpoint_id","created_at",
	 * "fields":{…},"files":[{"name","field","size","content_type"}],
	 * "meta":{"subject","reply_to","cc",…}}. Borrowed, not consumed. */
	struct json_object *submission;
	/* Local part of the Message-ID, [A-Za-z0-9._-]{1,64}; give the job's
	 * idempotency key so a retried send carries the same Message-ID and
	 * receivers can fold duplicates. NULL: 16 random bytes in hex. */
	const char *message_id;
	int64_t date_ms;                /* the Date header; 0: now_ms() */
	size_t max_size;                /* cap on the message; 0: MAIL_MAX_SIZE */
};

enum mail_kind { MAIL_NOTIFICATION, MAIL_AUTORESPONSE };

/* What the SMTP sender needs besides the bytes: MAIL FROM and RCPT TO.
 * Strings live in the arena. The recipients are exactly the addresses in
 * the message's To and Cc headers (computed by the same code), without
 * duplicates (compared case-insensitively). There is never a Bcc. */
struct mail_envelope {
	const char *from;   /* bare addr-spec of the sender */
	const char **rcpt;  /* bare addr-specs, nrcpt of them */
	size_t nrcpt;
};

/* 1 if s is an address Inlet will write into a header or an RCPT TO: a
 * strict subset of RFC 5322 addr-spec, ASCII only. Local part: dot-atom
 * (atext runs separated by single dots), 1..64 bytes, no quoted strings.
 * Domain: 2+ labels of letters, digits and inner hyphens, 1..63 bytes
 * each, the last not all digits; no IP literals, no trailing dot. One
 * "@", 3..254 bytes in all, no spaces, comments, angle brackets, display
 * names or control bytes. NULL: 0. */
int mail_address_valid(const char *s);

/* The notification for in->submission into out (appended; out's own cap
 * applies too). On error out is left as it was. Cc comes from meta.cc
 * (comma-separated; invalid or duplicate addresses dropped, at most
 * MAIL_MAX_CC kept), Reply-To from meta.reply_to when valid, Subject from
 * meta.subject, else the template. Returns 0; INLET_EINVAL for a bad or
 * missing sender, recipient, dashboard_url, message_id or submission;
 * INLET_ETOOMANY for more than MAIL_MAX_TO recipients; INLET_ETOOBIG when
 * the message would pass the cap (permanent: retrying will not help). The
 * arena holds temporaries only. */
int mail_compose_notification(struct arena *a, const struct mail_input *in, struct buf *out);

/* The autoresponse to the submitter (meta.reply_to), plain text only, with
 * "Auto-Submitted: auto-replied" (RFC 3834) so well-behaved responders do
 * not answer it. Returns 0; INLET_ENOTFOUND when the autoresponse is not
 * enabled (nothing to send); INLET_EINVAL when the submitter gave no valid
 * address, it is the sender's own, the text is empty, or as for the
 * notification; INLET_ETOOBIG as for the notification. */
int mail_compose_autoresponse(struct arena *a, const struct mail_input *in, struct buf *out);

/* The envelope for the message of that kind built from the same input:
 * the same validation and the same return codes as the composer, without
 * building the message. */
int mail_envelope_recipients(struct arena *a, const struct mail_input *in, enum mail_kind kind,
			     struct mail_envelope *env);

/* An invitation to join an account (jobs/invite_job.c sends it). Strings
 * are borrowed. Only the link carries the capability; the rest is there
 * so the invitee knows who asks and for what. */
struct mail_invite {
	const char *from;       /* INLET_SMTP_FROM, as mail_input.from */
	const char *to;         /* the invited address (mail_address_valid) */
	const char *account;    /* the account's name (cleaned to one line here) */
	const char *inviter;    /* the inviting user's address, or NULL (an API key) */
	const char *role;       /* owner | admin | member | viewer */
	const char *url;        /* the invitation link: http(s), as dashboard_url */
	int64_t expires_ms;     /* when the link stops working */
	const char *message_id; /* as mail_input.message_id: the invitation's id */
	int64_t date_ms;        /* 0: now_ms() */
};

/* The invitation as a plain-text message into out (appended; on error out
 * is left as it was) and its envelope (one recipient) into env, in the
 * arena. Returns 0; INLET_EINVAL for a bad sender, recipient, inviter,
 * role, url or message_id; INLET_ETOOBIG past MAIL_MAX_SIZE or out's cap. */
int mail_compose_invite(struct arena *a, const struct mail_invite *in, struct buf *out,
			struct mail_envelope *env);

#endif
