/* SMTP submission over libcurl: ships the bytes and the envelope that
 * jobs/mail.h composed, once per call. No queue, no retries: the email job
 * calls smtp_send() once per attempt, retries on INLET_EIO and gives up on
 * INLET_EINVAL.
 *
 * The message goes to libcurl unchanged (CRLF already, no CURLOPT_CRLF);
 * libcurl stuffs leading dots and writes the final "CRLF.CRLF". Envelope
 * addresses are checked with mail_address_valid() before anything is sent,
 * so no CR/LF can reach an SMTP command line.
 *
 * Transport: smtps:// is TLS from the first byte. smtp:// with a user and
 * password requires STARTTLS (a server that does not offer it, or an
 * attacker who strips the offer, gets no credentials: the send fails);
 * smtp:// without credentials (a local relay) upgrades when offered and
 * otherwise goes on in clear. Proxies from the environment are ignored. */
#ifndef INLET_JOBS_SMTP_H
#define INLET_JOBS_SMTP_H

#include <stddef.h>

#define SMTP_TIMEOUT_MS 30000 /* default total time of one attempt */
#define SMTP_URL_MAX 2048     /* bytes in INLET_SMTP_URL */
#define SMTP_ERROR_MAX 256    /* bytes of smtp_result.error, NUL included */

/* Where and as whom to send. Every string is heap, owned by the struct and
 * released by smtp_config_free(); fill by hand (xstrdup) or from the
 * environment. Read-only once built, so one config may serve many threads. */
struct smtp_config {
	char *url;       /* "smtp://host[:port][/ehlo-name]" or "smtps://…"; required */
	char *user;      /* NULL: no AUTH */
	char *password;  /* NULL exactly when user is NULL; wiped on free */
	char *from;      /* INLET_SMTP_FROM as given, for mail_input.from; required */
	long timeout_ms; /* whole attempt, connect included; <= 0: SMTP_TIMEOUT_MS */
};

/* What one attempt ended with, for the job log. */
struct smtp_result {
	long code;  /* last SMTP reply code seen (250 on success), 0 if none */
	int partial; /* sent, but some recipients were refused (see error) */
	/* One printable line, "" on a clean success: curl's reason plus the
	 * server's first refusal ("RCPT failed: 550 (last error): 550 5.1.1 no
	 * such user"). Never contains the password. */
	char error[SMTP_ERROR_MAX];
};

/* Fills c from INLET_SMTP_URL, INLET_SMTP_USER, INLET_SMTP_PASSWORD and
 * INLET_SMTP_FROM; timeout_ms is SMTP_TIMEOUT_MS. Returns 0;
 * INLET_ENOTFOUND when INLET_SMTP_URL is unset or empty (email is off);
 * INLET_EINVAL when the URL is not smtp:// or smtps:// with a host, FROM
 * is missing, or only one of USER and PASSWORD is set. On error c is
 * left zeroed (nothing to free, though smtp_config_free() is harmless). */
int smtp_config_from_env(struct smtp_config *c);

/* Frees the strings (the password wiped first) and zeroes c. NULL: no-op. */
void smtp_config_free(struct smtp_config *c);

/* One SMTP transaction: MAIL FROM:<mail_from>, RCPT TO each of rcpt (a
 * refused recipient does not stop the others), DATA with len bytes of
 * message. All arguments are borrowed. res (may be NULL) is always filled.
 * Returns
 *   0             accepted for every recipient, or for some (res->partial);
 *   INLET_EIO     transient: no connection, TLS failure, timeout, a 4xx
 *                 reply, a dropped session; retrying may help;
 *   INLET_EINVAL  permanent: a 5xx reply (MAIL FROM, every RCPT, the
 *                 message, or AUTH), a bad config or URL, an address that
 *                 fails mail_address_valid(), no recipients, an empty
 *                 message. */
int smtp_send(const struct smtp_config *c, const char *mail_from, const char *const *rcpt,
	      size_t nrcpt, const char *message, size_t len, struct smtp_result *res);

#endif
