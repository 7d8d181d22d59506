/* SMTP submission over libcurl; the contract is in smtp.h. */
#include "jobs/smtp.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "core/alloc.h"
#include "core/err.h"
#include "jobs/mail.h"

/* libcurl 7.69 named the option with three L's; 8.2 fixed the spelling and
 * kept the old name as an alias. The build machines have 7.88. */
#if LIBCURL_VERSION_NUM >= 0x080200
#define SMTP_OPT_RCPT_ALLOWFAILS CURLOPT_MAIL_RCPT_ALLOWFAILS
#else
#define SMTP_OPT_RCPT_ALLOWFAILS CURLOPT_MAIL_RCPT_ALLLOWFAILS
#endif

static pthread_once_t smtp__curl_once = PTHREAD_ONCE_INIT;
static void smtp__curl_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* 1 for "smtp://", 2 for "smtps://" (any case), 0 otherwise. */
static int smtp__scheme(const char *url)
{
	if (strncasecmp(url, "smtps://", 8) == 0)
		return 2;
	if (strncasecmp(url, "smtp://", 7) == 0)
		return 1;
	return 0;
}

/* A URL we are willing to hand to curl: our two schemes, printable ASCII
 * without spaces, within SMTP_URL_MAX, and a host curl can find in it. */
static int smtp__url_valid(const char *url)
{
	CURLU *u = NULL;
	char *host = NULL;
	int ok = 0;

	if (!url || !smtp__scheme(url) || strlen(url) >= SMTP_URL_MAX)
		goto out;
	for (const char *p = url; *p; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
			goto out;
	u = curl_url();
	if (!u)
		goto out;
	if (curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK)
		goto out;
	if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !host || !*host)
		goto out;
	ok = 1;
out:
	curl_free(host);
	curl_url_cleanup(u);
	return ok;
}

static const char *smtp__env(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

int smtp_config_from_env(struct smtp_config *c)
{
	const char *url = smtp__env("INLET_SMTP_URL");
	const char *user = smtp__env("INLET_SMTP_USER");
	const char *pass = smtp__env("INLET_SMTP_PASSWORD");
	const char *from = smtp__env("INLET_SMTP_FROM");
	int rc = 0;

	memset(c, 0, sizeof *c);
	if (!url) {
		rc = INLET_ENOTFOUND;
		goto out;
	}
	if (!smtp__url_valid(url) || !from || !user != !pass) {
		rc = INLET_EINVAL;
		goto out;
	}
	c->url = xstrdup(url);
	c->from = xstrdup(from);
	if (user) {
		c->user = xstrdup(user);
		c->password = xstrdup(pass);
	}
	c->timeout_ms = SMTP_TIMEOUT_MS;
out:
	return rc;
}

void smtp_config_free(struct smtp_config *c)
{
	if (!c)
		return;
	if (c->password)
		secure_wipe(c->password, strlen(c->password));
	free(c->url);
	free(c->user);
	free(c->password);
	free(c->from);
	memset(c, 0, sizeof *c);
}

/* ---- one transaction ---- */

/* The message as curl reads it; lives on smtp_send's stack. */
struct smtp__src {
	const char *p;
	size_t left;
};

static size_t smtp__read(char *dst, size_t size, size_t nitems, void *arg)
{
	struct smtp__src *s = arg;
	size_t n = size * nitems;

	if (n > s->left)
		n = s->left;
	memcpy(dst, s->p, n);
	s->p += n;
	s->left -= n;
	return n;
}

/* What the dialogue showed, gathered from curl's debug callback (commands
 * out, replies in); lives on smtp_send's stack for one perform. */
struct smtp__talk {
	int in_rcpt;          /* the last command sent was RCPT TO */
	size_t rejected;      /* RCPT TO answered 4xx/5xx */
	long last_code;       /* last reply code */
	char refusal[160];    /* first 4xx/5xx reply line, "" if none */
};

/* Copies at most n bytes of the first line of p into dst (cap bytes),
 * control bytes turned into spaces, NUL-terminated. */
static void smtp__line(char *dst, size_t cap, const char *p, size_t n)
{
	size_t i = 0;

	for (; i < n && i + 1 < cap && p[i] != '\r' && p[i] != '\n'; i++) {
		unsigned char ch = (unsigned char)p[i];

		dst[i] = ch < ' ' || ch == 0x7f ? ' ' : (char)ch;
	}
	dst[i] = '\0';
}

static int smtp__debug(CURL *h, curl_infotype type, char *data, size_t n, void *arg)
{
	struct smtp__talk *t = arg;
	long code;

	if (type == CURLINFO_HEADER_OUT) {
		/* Only the verb is looked at: AUTH lines carry the password. */
		t->in_rcpt = n >= 8 && strncasecmp(data, "RCPT TO:", 8) == 0;
	} else if (type == CURLINFO_HEADER_IN && n >= 3 && data[0] >= '1' && data[0] <= '5' &&
		   data[1] >= '0' && data[1] <= '9' && data[2] >= '0' && data[2] <= '9') {
		code = (data[0] - '0') * 100 + (data[1] - '0') * 10 + (data[2] - '0');
		t->last_code = code;
		if (code >= 400) {
			if (t->in_rcpt)
				t->rejected++;
			if (!t->refusal[0])
				smtp__line(t->refusal, sizeof t->refusal, data, n);
		}
	}
	return 0;
}

/* The job's verdict for a failed perform: 5xx is final, the rest may pass. */
static int smtp__classify(CURLcode cc, long code)
{
	if (code >= 500 && code < 600)
		return INLET_EINVAL;
	if (code >= 400 && code < 500)
		return INLET_EIO;
	switch (cc) {
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
	case CURLE_LOGIN_DENIED:
	case CURLE_FILESIZE_EXCEEDED:
		return INLET_EINVAL;
	default:
		return INLET_EIO;
	}
}

static void smtp__result(struct smtp_result *res, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void smtp__result(struct smtp_result *res, const char *fmt, ...)
{
	va_list ap;
	char tmp[SMTP_ERROR_MAX];

	va_start(ap, fmt);
	vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	smtp__line(res->error, sizeof res->error, tmp, strlen(tmp));
}

int smtp_send(const struct smtp_config *c, const char *mail_from, const char *const *rcpt,
	      size_t nrcpt, const char *message, size_t len, struct smtp_result *res)
{
	struct smtp_result scratch;
	struct smtp__src src = { message, len };
	struct smtp__talk talk;
	struct curl_slist *list = NULL;
	char errbuf[CURL_ERROR_SIZE];
	CURL *h = NULL;
	CURLcode cc;
	long code = 0;
	int scheme, rc = 0;

	if (!res)
		res = &scratch;
	memset(res, 0, sizeof *res);
	memset(&talk, 0, sizeof talk);
	errbuf[0] = '\0';

	if (!c || !smtp__url_valid(c->url) || !c->user != !c->password) {
		smtp__result(res, "bad SMTP configuration");
		rc = INLET_EINVAL;
		goto out;
	}
	if (!mail_address_valid(mail_from)) {
		smtp__result(res, "invalid envelope sender");
		rc = INLET_EINVAL;
		goto out;
	}
	if (!rcpt || nrcpt == 0 || !message || len == 0) {
		smtp__result(res, nrcpt == 0 ? "no recipients" : "empty message");
		rc = INLET_EINVAL;
		goto out;
	}
	for (size_t i = 0; i < nrcpt; i++) {
		if (!mail_address_valid(rcpt[i])) {
			smtp__result(res, "invalid recipient #%zu", i + 1);
			rc = INLET_EINVAL;
			goto out;
		}
		list = curl_slist_append(list, rcpt[i]);
		if (!list) {
			fprintf(stderr, "inlet: out of memory (curl_slist_append)\n");
			abort();
		}
	}
	scheme = smtp__scheme(c->url);

	pthread_once(&smtp__curl_once, smtp__curl_init);
	h = curl_easy_init();
	if (!h) {
		smtp__result(res, "curl_easy_init failed");
		rc = INLET_EIO;
		goto out;
	}
	curl_easy_setopt(h, CURLOPT_URL, c->url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	/* smtps:// is TLS from the start. smtp:// upgrades with STARTTLS when
	 * offered; with credentials it must (an attacker who strips the offer
	 * would otherwise read the password), without them (a local relay) it
	 * may go on in clear. */
	curl_easy_setopt(h, CURLOPT_USE_SSL, (scheme == 2 || (c->user && *c->user)) ? (long)CURLUSESSL_ALL
									       : (long)CURLUSESSL_TRY);
	curl_easy_setopt(h, CURLOPT_PROXY, ""); /* never a proxy from the environment */
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms > 0 ? c->timeout_ms : (long)SMTP_TIMEOUT_MS);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	if (c->user) {
		curl_easy_setopt(h, CURLOPT_USERNAME, c->user);
		curl_easy_setopt(h, CURLOPT_PASSWORD, c->password);
	}
	curl_easy_setopt(h, CURLOPT_MAIL_FROM, mail_from);
	curl_easy_setopt(h, CURLOPT_MAIL_RCPT, list);
	curl_easy_setopt(h, SMTP_OPT_RCPT_ALLOWFAILS, 1L);
	curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(h, CURLOPT_READFUNCTION, smtp__read);
	curl_easy_setopt(h, CURLOPT_READDATA, &src);
	curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
	/* The debug callback sees the dialogue; with it set, VERBOSE writes
	 * nothing to stderr. */
	curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, smtp__debug);
	curl_easy_setopt(h, CURLOPT_DEBUGDATA, &talk);
	curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);

	cc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	res->code = code ? code : talk.last_code;
	if (cc != CURLE_OK) {
		rc = smtp__classify(cc, res->code);
		smtp__result(res, "%s%s%s", errbuf[0] ? errbuf : curl_easy_strerror(cc),
			     talk.refusal[0] ? ": " : "", talk.refusal);
		goto out;
	}
	if (talk.rejected) {
		res->partial = 1;
		smtp__result(res, "%zu of %zu recipients refused: %s", talk.rejected, nrcpt, talk.refusal);
	}
out:
	curl_easy_cleanup(h);
	curl_slist_free_all(list);
	return rc;
}
