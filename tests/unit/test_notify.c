/* jobs/notify: notify_run() on a real app (a fresh data folder: vault,
 * tenant store, sealed submissions) against a real SMTP server (aiosmtpd
 * with tests/lib/inlet_smtpd.py: a Maildir, refusals on demand). What the
 * job worker relies on: what is sent and to whom, what counts as nothing
 * to send, and which failures are permanent. */
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "app/app.h"
#include "core/alloc.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "endpoint/settings.h"
#include "jobs/notify.h"
#include "jobs/smtp.h"
#include "store/subs.h"
#include "store/tenant.h"
#include "vault/pubid.h"
#include "vault/vault.h"

/* ---- the SMTP server and the app, one each for the run ---- */

static const char *python;   /* an interpreter that can import aiosmtpd, or NULL */
static pid_t server_pid = -1;
static int server_port;
static char tmp[64];         /* tmpdir: mb/ (Maildir), reply, attempts, data/ */
static struct app *app;
static int64_t account_id;

static const char *find_python(void)
{
	static const char *cands[] = { NULL, "python3", "/usr/bin/python3" };
	char cmd[256];

	cands[0] = getenv("INLET_TEST_PYTHON");
	for (size_t i = 0; i < sizeof cands / sizeof cands[0]; i++) {
		if (!cands[i] || !*cands[i])
			continue;
		snprintf(cmd, sizeof cmd, "%s -c 'import aiosmtpd' >/dev/null 2>&1", cands[i]);
		if (system(cmd) == 0)
			return cands[i];
	}
	return NULL;
}

static int free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	close(fd);
	return ntohs(sa.sin_port);
}

static int port_accepts(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM, 0), ok;

	ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void start_server(void)
{
	char listen_at[64], mb[128], pypath[PATH_MAX + 16], cwd[PATH_MAX];
	int status;

	snprintf(mb, sizeof mb, "%s/mb", tmp);
	server_port = free_port();
	snprintf(listen_at, sizeof listen_at, "127.0.0.1:%d", server_port);
	/* The tests run from the repository root (make test, scripts/test.sh). */
	assert_non_null(getcwd(cwd, sizeof cwd));
	snprintf(pypath, sizeof pypath, "%s/tests/lib", cwd);
	server_pid = fork();
	assert_true(server_pid >= 0);
	if (server_pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);

		if (devnull >= 0)
			dup2(devnull, STDOUT_FILENO);
		setenv("PYTHONPATH", pypath, 1);
		execlp(python, python, "-m", "aiosmtpd", "-n", "-l", listen_at, "-c", "inlet_smtpd.Inbox", mb, tmp,
		       (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 200; i++) { /* up to 10 s */
		if (port_accepts(server_port))
			return;
		if (waitpid(server_pid, &status, WNOHANG) == server_pid) {
			server_pid = -1;
			fail_msg("aiosmtpd exited before listening (is %s/inlet_smtpd.py there?)", pypath);
		}
		usleep(50 * 1000);
	}
	fail_msg("aiosmtpd did not listen on %s", listen_at);
}

static int group_setup(void **state)
{
	struct config cfg;
	struct arena *a;
	struct account acc;
	char url[64];

	python = find_python();
	if (!python) {
		fprintf(stderr, "test_notify: SKIP: no python3 with aiosmtpd "
				"(apt-get install python3-aiosmtpd, or set INLET_TEST_PYTHON)\n");
		return 0;
	}
	snprintf(tmp, sizeof tmp, "/tmp/inlet-notify-XXXXXX");
	assert_non_null(mkdtemp(tmp));
	start_server();

	snprintf(url, sizeof url, "smtp://127.0.0.1:%d", server_port);
	setenv("INLET_SMTP_URL", url, 1);
	setenv("INLET_SMTP_FROM", "Inlet <noreply@inlet.example>", 1);
	unsetenv("INLET_SMTP_USER");
	unsetenv("INLET_SMTP_PASSWORD");
	log_set_level(LOG_ERROR); /* app_open's migrations, the new master key */
	config_defaults(&cfg);
	snprintf(cfg.data_dir, sizeof cfg.data_dir, "%s/data", tmp);
	snprintf(cfg.public_url, sizeof cfg.public_url, "https://inlet.example");
	assert_int_equal(app_open(&app, &cfg, 1), 0);
	assert_non_null(app->smtp);
	app->smtp->timeout_ms = 10000;

	a = arena_create(0);
	assert_int_equal(tenant_init_owner(app->tenant, "owner@example.org", "not-a-hash", "Acme", a, &acc), 0);
	account_id = acc.id;
	arena_destroy(a);
	return 0;
}

static int group_teardown(void **state)
{
	app_close(app);
	app = NULL;
	if (server_pid > 0) {
		kill(server_pid, SIGTERM);
		waitpid(server_pid, NULL, 0);
		server_pid = -1;
	}
	if (tmp[0])
		nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	unsetenv("INLET_SMTP_URL");
	unsetenv("INLET_SMTP_FROM");
	return 0;
}

static void need_server(void)
{
	if (!python)
		skip();
}

/* ---- fixtures: endpoints and sealed submissions, as the API makes them ---- */

struct ep {
	int64_t id;
	char pid[32];
	uint8_t wrapped[ENDPOINT_WRAPPED_MAX];
};

static int seq;

/* A form endpoint named name with settings (a JSON patch over the
 * defaults, validated as the API does). */
static struct ep make_endpoint(const char *name, const char *settings)
{
	struct ep out = { 0 };
	struct endpoint e = { 0 };
	json_object *patch = json_tokener_parse(settings ? settings : "{}");
	char *json = NULL, err[200], key[32];

	assert_non_null(patch);
	if (settings_merge(NULL, patch, &json, err, sizeof err))
		fail_msg("settings %s: %s", settings, err);
	json_object_put(patch);
	seq++;
	snprintf(out.pid, sizeof out.pid, "ep_notify%06d", seq);
	snprintf(key, sizeof key, "notifykey%06d", seq);
	e.pid = out.pid;
	e.key = key;
	e.account_id = account_id;
	e.kind = "form";
	e.name = name;
	e.settings = json;
	e.key_version = 1;
	e.location = "shared";
	e.created_ms = 1;
	assert_int_equal(vault_key_create(app->vault, out.pid, 1, e.wrapped), 0);
	e.wrapped_len = VAULT_WRAPPED_BYTES;
	memcpy(out.wrapped, e.wrapped, sizeof out.wrapped);
	assert_int_equal(tenant_endpoint_create(app->tenant, &e), 0);
	out.id = e.id;
	free(json);
	return out;
}

struct waiter {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int done, rc;
};

static void on_done(void *ctx, int rc)
{
	struct waiter *w = ctx;

	pthread_mutex_lock(&w->lock);
	w->done = 1;
	w->rc = rc;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

/* Stores record ({"fields","files","meta"}) sealed, as a form post does;
 * returns the submission's id. */
static int64_t make_submission(const struct ep *ep, const char *record, int status)
{
	struct waiter w = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };
	struct vault_key *key;
	struct sub_row row = { 0 };
	char pid[PUBID_MAX];
	uint8_t *sealed;
	size_t sealed_len;

	row.id = sub_id_next();
	pubid_encode(app->ids, "sub_", row.id, ep->id, pid);
	assert_int_equal(vault_key_get(app->vault, ep->pid, 1, ep->wrapped, VAULT_WRAPPED_BYTES, &key), 0);
	assert_int_equal(vault_seal(key, pid, record, strlen(record), &sealed, &sealed_len), 0);
	vault_key_release(key);
	row.endpoint_id = ep->id;
	row.status = status;
	row.key_version = 1;
	row.sealed = sealed;
	row.sealed_len = sealed_len;
	substore_insert(app_subs(app, ep->id), &row, on_done, &w);
	pthread_mutex_lock(&w.lock);
	while (!w.done)
		pthread_cond_wait(&w.cond, &w.lock);
	pthread_mutex_unlock(&w.lock);
	assert_int_equal(w.rc, 0);
	free(sealed);
	return row.id;
}

/* ---- reading the Maildir and the server's log ---- */

static void set_reply(const char *reply)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof path, "%s/reply", tmp);
	if (!reply) {
		unlink(path);
		return;
	}
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(reply, f);
	fclose(f);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	struct buf b;
	char chunk[4096];
	size_t n;

	if (!f)
		return NULL;
	buf_init(&b, 0);
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		assert_int_equal(buf_append(&b, chunk, n), 0);
	fclose(f);
	return buf_steal(&b);
}

/* How many messages the server holds whose text contains marker. With
 * out, the (one) match is handed over (heap, caller frees). */
static int delivered(const char *marker, char **out)
{
	char dir[128], path[512];
	DIR *d;
	struct dirent *e;
	int n = 0;

	if (out)
		*out = NULL;
	snprintf(dir, sizeof dir, "%s/mb/new", tmp);
	d = opendir(dir);
	if (!d)
		return 0;
	while ((e = readdir(d))) {
		char *m;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		m = slurp(path);
		if (m && strstr(m, marker)) {
			n++;
			if (out && !*out) {
				*out = m;
				m = NULL;
			}
		}
		free(m);
	}
	closedir(d);
	return n;
}

/* DATA attempts the server saw for Message-ID msgid. */
static int attempts(const char *msgid)
{
	char path[128], *log, *p;
	int n = 0;

	snprintf(path, sizeof path, "%s/attempts", tmp);
	log = slurp(path);
	for (p = log; p && (p = strstr(p, msgid)); p += strlen(msgid))
		n++;
	free(log);
	return n;
}

/* The unfolded value of header name in an LF message; heap or NULL. */
static char *header(const char *m, const char *name)
{
	size_t nl = strlen(name);
	const char *end = strstr(m, "\n\n");
	struct buf b;

	for (const char *p = m; p && p < end; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncasecmp(p, name, nl) != 0 || p[nl] != ':')
			continue;
		p += nl + 1;
		while (*p == ' ')
			p++;
		buf_init(&b, 0);
		for (;;) {
			const char *eol = strchr(p, '\n');

			buf_append(&b, p, (size_t)(eol - p));
			if (eol[1] != ' ' && eol[1] != '\t')
				break;
			p = eol + 1;
		}
		return buf_steal(&b);
	}
	return NULL;
}

static void assert_header(const char *m, const char *name, const char *want)
{
	char *v = header(m, name);

	if (!v || strcmp(v, want) != 0)
		fail_msg("%s: got \"%s\", want \"%s\"", name, v ? v : "(none)", want);
	free(v);
}

static int run(const struct ep *ep, int64_t sub, enum mail_kind kind, const char *key, char *err, int *permanent)
{
	return notify_run(app, ep->id, sub, kind, key, err, 256, permanent);
}

#define RECORD(fields, meta) "{\"fields\":" fields ",\"files\":[],\"meta\":" meta "}"

/* ---- what is sent ---- */

static void test_notification_sent(void **state)
{
	struct ep ep;
	int64_t sub;
	char err[256], *m;
	int permanent = -1;

	need_server();
	ep = make_endpoint("Contact", "{\"notify\":[\"ops@example.org\",\"owner@example.org\"],"
				      "\"subject_template\":\"[{endpoint}] new post\"}");
	sub = make_submission(&ep, RECORD("{\"name\":\"Ada\",\"email\":\"ada@example.com\","
					  "\"message\":\"hello from the notify test\"}",
					  "{\"reply_to\":\"ada@example.com\",\"cc\":\"boss@example.net\"}"),
			      SUB_INBOX);
	assert_int_equal(run(&ep, sub, MAIL_NOTIFICATION, "notify:1001", err, &permanent), 0);
	assert_int_equal(permanent, 0);
	assert_string_equal(err, "");
	/* the idempotency key, ':' made '.', is the Message-ID */
	assert_int_equal(delivered("<notify.1001.notify@inlet.example>", &m), 1);
	assert_header(m, "To", "ops@example.org, owner@example.org");
	assert_header(m, "Cc", "boss@example.net");
	assert_header(m, "Reply-To", "ada@example.com");
	assert_header(m, "Subject", "[Contact] new post");
	assert_header(m, "From", "\"Inlet\" <noreply@inlet.example>");
	assert_header(m, "X-RcptTo", "ops@example.org, owner@example.org, boss@example.net");
	assert_non_null(strstr(m, "hello from the notify test"));
	/* links go to the dashboard at INLET_PUBLIC_URL */
	assert_non_null(strstr(m, "https://inlet.example/submissions/sub_"));
	free(m);
}

static void test_autoresponse_sent(void **state)
{
	struct ep ep;
	int64_t sub;
	char err[256], *m;
	int permanent = -1;

	need_server();
	ep = make_endpoint("Shop", "{\"autoresponse\":{\"enabled\":true,\"subject\":\"Thanks from {endpoint}\","
				   "\"text\":\"We got your message and answer within a day.\"}}");
	sub = make_submission(&ep, RECORD("{\"email\":\"grace@example.com\",\"message\":\"hi\"}",
					  "{\"reply_to\":\"grace@example.com\"}"), SUB_INBOX);
	assert_int_equal(run(&ep, sub, MAIL_AUTORESPONSE, "auto:2001", err, &permanent), 0);
	assert_int_equal(delivered("<auto.2001.reply@inlet.example>", &m), 1);
	assert_header(m, "To", "grace@example.com");
	assert_header(m, "X-RcptTo", "grace@example.com");
	assert_header(m, "Subject", "Thanks from Shop");
	assert_header(m, "Auto-Submitted", "auto-replied");
	assert_non_null(strstr(m, "We got your message and answer within a day."));
	/* the submitter's own words never go back out */
	assert_null(strstr(m, "\nhi\n"));
	free(m);
}

/* ---- nothing to send: 0, and nothing arrives ---- */

static void test_nothing_to_send(void **state)
{
	struct ep plain, both;
	int64_t s_plain, s_spam, s_noaddr, s_inject, s_self;
	char err[256];
	int permanent;

	need_server();
	plain = make_endpoint("Plain", NULL);
	both = make_endpoint("Both", "{\"notify\":[\"ops@example.org\"],"
				     "\"autoresponse\":{\"enabled\":true,\"text\":\"Thanks\"}}");
	s_plain = make_submission(&plain, RECORD("{\"email\":\"a@example.com\"}", "{\"reply_to\":\"a@example.com\"}"),
				  SUB_INBOX);
	s_spam = make_submission(&both, RECORD("{\"email\":\"bot@example.com\"}",
					       "{\"reply_to\":\"bot@example.com\",\"spam_reason\":\"honeypot\"}"),
				 SUB_SPAM);
	s_noaddr = make_submission(&both, RECORD("{\"email\":\"not an address\"}",
						 "{\"reply_to\":\"not an address\"}"), SUB_INBOX);
	s_inject = make_submission(&both, RECORD("{\"x\":\"y\"}",
						 "{\"reply_to\":\"a@b.example\\r\\nBcc: x@y.example\"}"), SUB_INBOX);
	s_self = make_submission(&both, RECORD("{\"x\":\"y\"}", "{\"reply_to\":\"NoReply@inlet.example\"}"),
				 SUB_INBOX);
	/* notify list empty, autoresponse disabled */
	assert_int_equal(run(&plain, s_plain, MAIL_NOTIFICATION, "n-plain", err, &permanent), 0);
	assert_int_equal(run(&plain, s_plain, MAIL_AUTORESPONSE, "a-plain", err, &permanent), 0);
	/* spam: nobody is told, the bot gets nothing */
	assert_int_equal(run(&both, s_spam, MAIL_NOTIFICATION, "n-spam", err, &permanent), 0);
	assert_int_equal(run(&both, s_spam, MAIL_AUTORESPONSE, "a-spam", err, &permanent), 0);
	/* no valid submitter address, an injection attempt, the sender's own */
	assert_int_equal(run(&both, s_noaddr, MAIL_AUTORESPONSE, "a-noaddr", err, &permanent), 0);
	assert_int_equal(run(&both, s_inject, MAIL_AUTORESPONSE, "a-inject", err, &permanent), 0);
	assert_int_equal(run(&both, s_self, MAIL_AUTORESPONSE, "a-self", err, &permanent), 0);
	/* gone: the submission, the endpoint */
	assert_int_equal(run(&both, s_spam + 12345, MAIL_NOTIFICATION, "n-gone", err, &permanent), 0);
	assert_int_equal(notify_run(app, both.id + 1000, s_spam, MAIL_NOTIFICATION, "n-noep", err, sizeof err,
				    &permanent), 0);
	assert_int_equal(substore_delete(app_subs(app, both.id), both.id, s_noaddr), 0);
	assert_int_equal(run(&both, s_noaddr, MAIL_NOTIFICATION, "n-erased", err, &permanent), 0);

	assert_int_equal(attempts("<n-") + attempts("<a-"), 0);
	/* the same submission with an address does get both */
	assert_int_equal(run(&both, s_inject, MAIL_NOTIFICATION, "n-inject", err, &permanent), 0);
	assert_int_equal(delivered("<n-inject.notify@inlet.example>", NULL), 1);
}

/* ---- failures: permanent or not ---- */

static void test_not_configured(void **state)
{
	struct ep ep;
	int64_t sub;
	struct smtp_config *saved = app->smtp;
	char err[256];
	int permanent = 0;

	need_server();
	ep = make_endpoint("Unconfigured", "{\"notify\":[\"ops@example.org\"]}");
	sub = make_submission(&ep, RECORD("{\"a\":\"b\"}", "{}"), SUB_INBOX);
	app->smtp = NULL;
	assert_int_not_equal(run(&ep, sub, MAIL_NOTIFICATION, "n-unconf", err, &permanent), 0);
	app->smtp = saved;
	assert_int_equal(permanent, 1);
	assert_string_equal(err, "SMTP is not configured (INLET_SMTP_URL)");
}

static void test_refusals(void **state)
{
	struct ep ep;
	int64_t sub;
	char err[256];
	int permanent = -1;

	need_server();
	ep = make_endpoint("Refused", "{\"notify\":[\"ops@example.org\"]}");
	sub = make_submission(&ep, RECORD("{\"a\":\"refusal test\"}", "{}"), SUB_INBOX);
	set_reply("451 4.3.0 mailbox busy, try later");
	assert_int_equal(run(&ep, sub, MAIL_NOTIFICATION, "notify-4xx", err, &permanent), INLET_EIO);
	assert_int_equal(permanent, 0);
	assert_non_null(strstr(err, "451"));
	assert_null(strchr(err, '\n'));
	/* the retry, once the server takes mail again, carries the same id */
	set_reply(NULL);
	assert_int_equal(run(&ep, sub, MAIL_NOTIFICATION, "notify-4xx", err, &permanent), 0);
	assert_int_equal(attempts("<notify-4xx.notify@inlet.example>"), 2);
	assert_int_equal(delivered("<notify-4xx.notify@inlet.example>", NULL), 1);

	set_reply("554 5.7.1 message refused");
	assert_int_equal(run(&ep, sub, MAIL_NOTIFICATION, "notify-5xx", err, &permanent), INLET_EINVAL);
	set_reply(NULL);
	assert_int_equal(permanent, 1);
	assert_non_null(strstr(err, "554 5.7.1 message refused"));
	assert_int_equal(delivered("<notify-5xx.notify@inlet.example>", NULL), 0);
}

static void test_no_connection(void **state)
{
	struct ep ep;
	int64_t sub;
	char url[64], *saved;
	char err[256];
	int permanent = -1;

	need_server();
	ep = make_endpoint("Down", "{\"notify\":[\"ops@example.org\"]}");
	sub = make_submission(&ep, RECORD("{\"a\":\"b\"}", "{}"), SUB_INBOX);
	saved = app->smtp->url;
	snprintf(url, sizeof url, "smtp://127.0.0.1:%d", free_port());
	app->smtp->url = url;
	assert_int_equal(run(&ep, sub, MAIL_NOTIFICATION, "n-down", err, &permanent), INLET_EIO);
	app->smtp->url = saved;
	assert_int_equal(permanent, 0);
	assert_true(strlen(err) > 0);
}

/* A key that is no Message-ID as given: mapped, or hashed when too long,
 * and the same on every attempt either way. */
static void test_message_id_from_key(void **state)
{
	struct ep ep;
	int64_t sub;
	char longkey[200], err[256];
	int permanent;

	need_server();
	ep = make_endpoint("Keys", "{\"notify\":[\"ops@example.org\"]}");
	sub = make_submission(&ep, RECORD("{\"a\":\"b\"}", "{}"), SUB_INBOX);
	memset(longkey, 'k', sizeof longkey - 1);
	longkey[sizeof longkey - 1] = '\0';
	assert_int_equal(run(&ep, sub, MAIL_NOTIFICATION, "a b<c>@d", err, &permanent), 0);
	assert_int_equal(delivered("<a.b.c..d.notify@inlet.example>", NULL), 1);
	assert_int_equal(run(&ep, sub, MAIL_NOTIFICATION, longkey, err, &permanent), 0);
	assert_int_equal(run(&ep, sub, MAIL_NOTIFICATION, longkey, err, &permanent), 0);
	{
		char *log, path[128], *p, *q;

		snprintf(path, sizeof path, "%s/attempts", tmp);
		log = slurp(path);
		assert_non_null(log);
		/* the last two lines carry one and the same 64-hex-digit id */
		p = strrchr(log, '<');
		assert_non_null(p);
		*p = '\0';
		q = strrchr(log, '<');
		assert_non_null(q);
		assert_int_equal(strspn(p + 1, "0123456789abcdef"), 64);
		assert_memory_equal(p + 1, q + 1, 64);
		free(log);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_notification_sent),
		cmocka_unit_test(test_autoresponse_sent),
		cmocka_unit_test(test_nothing_to_send),
		cmocka_unit_test(test_not_configured),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_no_connection),
		cmocka_unit_test(test_message_id_from_key),
	};

	return cmocka_run_group_tests_name("notify", tests, group_setup, group_teardown);
}
