/* jobs/smtp: a composed notification and a hand-made message with leading
 * dots sent to a real SMTP server (aiosmtpd writing a Maildir) and read
 * back byte for byte; refused, silent and scripted servers for the return
 * codes; the configuration from the environment. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
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
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "core/alloc.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/err.h"
#include "jobs/mail.h"
#include "jobs/smtp.h"

/* ---- the aiosmtpd server, one for the run ---- */

static const char *python;   /* an interpreter that can import aiosmtpd, or NULL */
static pid_t server_pid = -1;
static int server_port;
static char maildir[64];     /* tmpdir; the server writes <tmpdir>/mb/{new,cur,tmp} */
static char mb[96];

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

/* A port that was free a moment ago (or, with keep, a bound socket). */
static int free_port(int *keep_fd)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	if (keep_fd)
		*keep_fd = fd;
	else
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

static int group_setup(void **state)
{
	char listen_at[64];
	int status;

	python = find_python();
	if (!python) {
		fprintf(stderr, "test_smtp: SKIP delivery tests: no python3 with aiosmtpd "
				"(apt-get install python3-aiosmtpd, or set INLET_TEST_PYTHON)\n");
		return 0;
	}
	snprintf(maildir, sizeof maildir, "/tmp/inlet-smtp-XXXXXX");
	assert_non_null(mkdtemp(maildir));
	snprintf(mb, sizeof mb, "%s/mb", maildir);
	server_port = free_port(NULL);
	snprintf(listen_at, sizeof listen_at, "127.0.0.1:%d", server_port);
	server_pid = fork();
	assert_true(server_pid >= 0);
	if (server_pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);

		if (devnull >= 0)
			dup2(devnull, STDOUT_FILENO);
		execlp(python, python, "-m", "aiosmtpd", "-n", "-l", listen_at, "-c",
		       "aiosmtpd.handlers.Mailbox", mb, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 200; i++) { /* up to 10 s */
		if (port_accepts(server_port))
			return 0;
		if (waitpid(server_pid, &status, WNOHANG) == server_pid) {
			server_pid = -1;
			fail_msg("aiosmtpd exited before listening");
		}
		usleep(50 * 1000);
	}
	fail_msg("aiosmtpd did not listen on %s", listen_at);
	return -1;
}

static int group_teardown(void **state)
{
	if (server_pid > 0) {
		kill(server_pid, SIGTERM);
		waitpid(server_pid, NULL, 0);
		server_pid = -1;
	}
	if (maildir[0])
		nftw(maildir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

static void need_server(void)
{
	if (!python)
		skip();
}

static struct smtp_config config_for(int port, long timeout_ms)
{
	struct smtp_config c = { 0 };
	char url[64];

	snprintf(url, sizeof url, "smtp://127.0.0.1:%d", port);
	c.url = xstrdup(url);
	c.from = xstrdup("Inlet <noreply@inlet.example>");
	c.timeout_ms = timeout_ms;
	return c;
}

/* The Maildir file whose text contains marker; heap, caller frees. */
static char *delivered(const char *marker)
{
	char dir[128], path[512];
	DIR *d;
	struct dirent *e;
	char *found = NULL;

	snprintf(dir, sizeof dir, "%s/new", mb);
	d = opendir(dir);
	assert_non_null(d);
	while (!found && (e = readdir(d))) {
		FILE *f;
		struct buf b;
		char chunk[4096];
		size_t n;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		f = fopen(path, "rb");
		assert_non_null(f);
		buf_init(&b, 0);
		while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
			assert_int_equal(buf_append(&b, chunk, n), 0);
		fclose(f);
		if (b.data && strstr(b.data, marker))
			found = buf_steal(&b);
		buf_free(&b);
	}
	closedir(d);
	if (!found)
		fail_msg("no delivered message contains %s", marker);
	return found;
}

/* CRLF → LF, as the Maildir stores lines; heap, caller frees. */
static char *to_lf(const char *m, size_t n)
{
	char *o = xmalloc(n + 1);
	size_t j = 0;

	for (size_t i = 0; i < n; i++)
		if (!(m[i] == '\r' && i + 1 < n && m[i + 1] == '\n'))
			o[j++] = m[i];
	o[j] = '\0';
	return o;
}

/* The delivered file must be the sent message exactly (in LF form), with
 * only the three trace headers aiosmtpd appends to the header block. */
static void assert_same_message(const char *sent_crlf, size_t n, const char *got,
				const char *rcpt_line)
{
	char *sent = to_lf(sent_crlf, n);
	const char *sep = strstr(sent, "\n\n");
	size_t hlen;
	const char *p;

	assert_non_null(sep);
	hlen = (size_t)(sep - sent) + 1; /* through the last header's LF */
	assert_memory_equal(got, sent, hlen);
	p = got + hlen;
	assert_memory_equal(p, "X-Peer: ", 8);
	p = strchr(p, '\n') + 1;
	assert_memory_equal(p, "X-MailFrom: noreply@inlet.example\n", 34);
	p = strchr(p, '\n') + 1;
	assert_memory_equal(p, rcpt_line, strlen(rcpt_line));
	p += strlen(rcpt_line);
	assert_string_equal(p, sep + 1); /* "\n" + body, byte for byte */
	free(sent);
}

/* Header value in an LF message, unfolded; heap or NULL. */
static char *header(const char *m, const char *name)
{
	size_t nl = strlen(name);
	const char *end = strstr(m, "\n\n");
	struct buf b;

	for (const char *p = m; p && p < end; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncasecmp(p, name, nl) != 0 || p[nl] != ':')
			continue;
		p += nl + 1;
		buf_init(&b, 0);
		for (;;) {
			const char *eol = strchr(p, '\n');

			buf_append(&b, p, (size_t)(eol - p));
			if (eol[1] != ' ' && eol[1] != '\t')
				break;
			p = eol + 1;
		}
		{
			char *s = buf_steal(&b), *t = s;

			while (*t == ' ')
				t++;
			memmove(s, t, strlen(t) + 1);
			return s;
		}
	}
	return NULL;
}

/* ---- delivery through aiosmtpd ---- */

static const char sample[] =
	"{\"id\":\"sub_smtp1\",\"endpoint_id\":\"ep_y\",\"created_at\":\"2026-11-23T15:00:00.123Z\","
	"\"status\":\"inbox\",\"fields\":{\"name\":\"Ada\",\"email\":\"ada@example.com\","
	"\"message\":\".hidden line\\n.\\nafter a lone dot\"},\"files\":[],"
	"\"meta\":{\"subject\":\"Hello\\r\\nBcc: evil@example.com\",\"reply_to\":\"ada@example.com\"}}";

static void test_notification_roundtrip(void **state)
{
	struct arena *a = arena_create(0);
	json_object *sub = json_tokener_parse(sample);
	const char *to[2] = { "ops@example.org", "owner@example.org" };
	struct mail_input in = { 0 };
	struct mail_envelope env;
	struct buf out;
	struct smtp_config c;
	struct smtp_result res;
	char *got, *subject;

	need_server();
	assert_non_null(sub);
	in.from = "Inlet <noreply@inlet.example>";
	in.dashboard_url = "https://inlet.example/";
	in.endpoint_name = "Contact";
	in.to = to;
	in.nto = 2;
	in.submission = sub;
	in.message_id = "smtp-roundtrip-1";
	in.date_ms = 1795446000000LL;
	buf_init(&out, 0);
	assert_int_equal(mail_compose_notification(a, &in, &out), 0);
	assert_int_equal(mail_envelope_recipients(a, &in, MAIL_NOTIFICATION, &env), 0);
	assert_int_equal(env.nrcpt, 2);

	c = config_for(server_port, 10000);
	assert_int_equal(smtp_send(&c, env.from, env.rcpt, env.nrcpt, out.data, out.len, &res), 0);
	assert_int_equal(res.code, 250);
	assert_int_equal(res.partial, 0);
	assert_string_equal(res.error, "");

	got = delivered("smtp-roundtrip-1");
	assert_same_message(out.data, out.len, got, "X-RcptTo: ops@example.org, owner@example.org\n");

	subject = header(got, "Subject");
	assert_non_null(subject);
	assert_string_equal(subject, "Hello Bcc: evil@example.com");
	free(subject);
	subject = header(got, "Reply-To");
	assert_string_equal(subject, "ada@example.com");
	free(subject);
	assert_null(header(got, "Bcc"));
	assert_null(strstr(got, "\nBcc:"));
	assert_null(strstr(got, "\nbcc:"));
	/* the field with leading dots arrived (the whole body is compared above) */
	assert_non_null(strstr(got, "message: .hidden line\n"));

	free(got);
	smtp_config_free(&c);
	buf_free(&out);
	json_object_put(sub);
	arena_destroy(a);
}

/* libcurl must stuff dots: a lone "." would end DATA early, ".." would
 * arrive as "." without it. */
static void test_dot_stuffing_roundtrip(void **state)
{
	static const char msg[] =
		"From: noreply@inlet.example\r\n"
		"To: ops@example.org\r\n"
		"Subject: dots\r\n"
		"Message-ID: <smtp-dots-1@inlet.example>\r\n"
		"\r\n"
		".leading dot\r\n"
		"..two dots\r\n"
		".\r\n"
		"after the lone dot\r\n"
		". space\r\n"
		"last\r\n";
	const char *rcpt[] = { "ops@example.org" };
	struct smtp_config c;
	struct smtp_result res;
	char *got;

	need_server();
	c = config_for(server_port, 10000);
	assert_int_equal(smtp_send(&c, "noreply@inlet.example", rcpt, 1, msg, sizeof msg - 1, &res), 0);
	got = delivered("smtp-dots-1");
	assert_same_message(msg, sizeof msg - 1, got, "X-RcptTo: ops@example.org\n");
	free(got);
	smtp_config_free(&c);
}

/* ---- failures ---- */

static void test_connection_refused(void **state)
{
	const char *rcpt[] = { "ops@example.org" };
	struct smtp_config c = config_for(free_port(NULL), 5000);
	struct smtp_result res;

	assert_int_equal(smtp_send(&c, "noreply@inlet.example", rcpt, 1, "x\r\n", 3, &res), INLET_EIO);
	assert_true(strlen(res.error) > 0);
	assert_null(strchr(res.error, '\n'));
	smtp_config_free(&c);
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* The kernel completes the handshake from the backlog; nobody ever says 220. */
static void test_timeout_silent_server(void **state)
{
	const char *rcpt[] = { "ops@example.org" };
	int fd, port = free_port(&fd);
	struct smtp_config c = config_for(port, 1000);
	struct smtp_result res;
	long t0, dt;

	assert_int_equal(listen(fd, 4), 0);
	t0 = now_ms();
	assert_int_equal(smtp_send(&c, "noreply@inlet.example", rcpt, 1, "x\r\n", 3, &res), INLET_EIO);
	dt = now_ms() - t0;
	assert_true(dt >= 900);
	assert_true(dt < 3000);
	assert_true(strlen(res.error) > 0);
	close(fd);
	smtp_config_free(&c);
}

/* A scripted server in a thread: MAIL FROM gets mail_reply, a recipient
 * whose address starts with "bad" gets bad_reply, everything else 250. */
struct fake {
	int lfd;
	const char *mail_reply;
	const char *bad_reply;
	int got_data;
};

static void say(int fd, const char *s)
{
	size_t n = strlen(s);

	assert_int_equal(write(fd, s, n), (ssize_t)n);
}

static void *fake_main(void *arg)
{
	struct fake *f = arg;
	int fd = accept(f->lfd, NULL, NULL);
	char line[1024];
	size_t n = 0;
	int in_data = 0;
	char ch;

	if (fd < 0)
		return NULL;
	say(fd, "220 fake ESMTP\r\n");
	while (read(fd, &ch, 1) == 1) {
		if (n + 1 < sizeof line)
			line[n++] = ch;
		if (ch != '\n')
			continue;
		line[n] = '\0';
		n = 0;
		if (in_data) {
			if (strcmp(line, ".\r\n") == 0) {
				in_data = 0;
				f->got_data = 1;
				say(fd, "250 queued\r\n");
			}
		} else if (strncasecmp(line, "EHLO", 4) == 0) {
			say(fd, "250 fake\r\n");
		} else if (strncasecmp(line, "MAIL FROM:", 10) == 0) {
			say(fd, f->mail_reply ? f->mail_reply : "250 ok\r\n");
		} else if (strncasecmp(line, "RCPT TO:<bad", 12) == 0) {
			say(fd, f->bad_reply);
		} else if (strncasecmp(line, "RCPT TO:", 8) == 0) {
			say(fd, "250 ok\r\n");
		} else if (strncasecmp(line, "DATA", 4) == 0) {
			in_data = 1;
			say(fd, "354 go ahead\r\n");
		} else if (strncasecmp(line, "QUIT", 4) == 0) {
			say(fd, "221 bye\r\n");
			break;
		} else {
			say(fd, "502 not implemented\r\n");
		}
	}
	close(fd);
	return NULL;
}

static int run_fake(struct fake *f, const char *const *rcpt, size_t nrcpt, struct smtp_result *res)
{
	pthread_t th;
	int port = free_port(&f->lfd), rc;
	struct smtp_config c = config_for(port, 5000);

	assert_int_equal(listen(f->lfd, 4), 0);
	assert_int_equal(pthread_create(&th, NULL, fake_main, f), 0);
	rc = smtp_send(&c, "noreply@inlet.example", rcpt, nrcpt, "Subject: x\r\n\r\nhi\r\n", 19, res);
	pthread_join(th, NULL);
	close(f->lfd);
	smtp_config_free(&c);
	return rc;
}

static void test_mail_from_550_is_permanent(void **state)
{
	struct fake f = { .mail_reply = "550 5.7.1 sender rejected\r\n", .bad_reply = "550 no\r\n" };
	const char *rcpt[] = { "ops@example.org" };
	struct smtp_result res;

	assert_int_equal(run_fake(&f, rcpt, 1, &res), INLET_EINVAL);
	assert_int_equal(res.code, 550);
	assert_non_null(strstr(res.error, "550 5.7.1 sender rejected"));
	assert_int_equal(f.got_data, 0);
}

static void test_all_rcpt_refused(void **state)
{
	const char *rcpt[] = { "bad1@example.org", "bad2@example.org" };
	struct fake f5 = { .bad_reply = "550 5.1.1 no such user\r\n" };
	struct fake f4 = { .bad_reply = "451 4.3.0 try later\r\n" };
	struct smtp_result res;

	assert_int_equal(run_fake(&f5, rcpt, 2, &res), INLET_EINVAL);
	assert_int_equal(res.code, 550);
	assert_non_null(strstr(res.error, "no such user"));
	assert_int_equal(f5.got_data, 0);

	assert_int_equal(run_fake(&f4, rcpt, 2, &res), INLET_EIO);
	assert_int_equal(res.code, 451);
	assert_int_equal(f4.got_data, 0);
}

static void test_some_rcpt_refused(void **state)
{
	const char *rcpt[] = { "bad@example.org", "ops@example.org" };
	struct fake f = { .bad_reply = "550 5.1.1 no such user\r\n" };
	struct smtp_result res;

	assert_int_equal(run_fake(&f, rcpt, 2, &res), 0);
	assert_int_equal(res.code, 250);
	assert_int_equal(res.partial, 1);
	assert_non_null(strstr(res.error, "1 of 2 recipients refused: 550 5.1.1 no such user"));
	assert_int_equal(f.got_data, 1);
}

/* ---- arguments and configuration ---- */

static void test_bad_arguments(void **state)
{
	const char *ok[] = { "ops@example.org" };
	const char *inj[] = { "ops@example.org>\r\nRCPT TO:<evil@example.com" };
	struct smtp_config c = config_for(1, 1000);
	struct smtp_config bad = { 0 };
	struct smtp_result res;

	assert_int_equal(smtp_send(&c, "a@b.c\r\nDATA", ok, 1, "x\r\n", 3, &res), INLET_EINVAL);
	assert_int_equal(smtp_send(&c, "noreply@inlet.example", inj, 1, "x\r\n", 3, &res), INLET_EINVAL);
	assert_int_equal(smtp_send(&c, "noreply@inlet.example", ok, 0, "x\r\n", 3, &res), INLET_EINVAL);
	assert_int_equal(smtp_send(&c, "noreply@inlet.example", ok, 1, "", 0, &res), INLET_EINVAL);
	assert_int_equal(smtp_send(NULL, "noreply@inlet.example", ok, 1, "x\r\n", 3, &res), INLET_EINVAL);
	bad.url = xstrdup("http://127.0.0.1:1");
	assert_int_equal(smtp_send(&bad, "noreply@inlet.example", ok, 1, "x\r\n", 3, &res), INLET_EINVAL);
	assert_true(strlen(res.error) > 0);
	smtp_config_free(&bad);
	smtp_config_free(&c);
	smtp_config_free(NULL);
}

static void test_config_from_env(void **state)
{
	struct smtp_config c;

	unsetenv("INLET_SMTP_URL");
	unsetenv("INLET_SMTP_USER");
	unsetenv("INLET_SMTP_PASSWORD");
	unsetenv("INLET_SMTP_FROM");
	assert_int_equal(smtp_config_from_env(&c), INLET_ENOTFOUND);

	setenv("INLET_SMTP_URL", "smtp://mail.example.org:587", 1);
	assert_int_equal(smtp_config_from_env(&c), INLET_EINVAL); /* no FROM */
	setenv("INLET_SMTP_FROM", "Inlet <noreply@example.org>", 1);
	assert_int_equal(smtp_config_from_env(&c), 0);
	assert_string_equal(c.url, "smtp://mail.example.org:587");
	assert_string_equal(c.from, "Inlet <noreply@example.org>");
	assert_null(c.user);
	assert_null(c.password);
	assert_int_equal(c.timeout_ms, SMTP_TIMEOUT_MS);
	smtp_config_free(&c);
	assert_null(c.url);

	setenv("INLET_SMTP_USER", "inlet", 1);
	assert_int_equal(smtp_config_from_env(&c), INLET_EINVAL); /* user without password */
	setenv("INLET_SMTP_PASSWORD", "s3cret", 1);
	setenv("INLET_SMTP_URL", "SMTPS://mail.example.org", 1);
	assert_int_equal(smtp_config_from_env(&c), 0);
	assert_string_equal(c.user, "inlet");
	assert_string_equal(c.password, "s3cret");
	smtp_config_free(&c);

	static const char *const bad_urls[] = { "http://mail.example.org", "smtp://", "smtp:// x",
						"mail.example.org", "smtp://a\r\nb" };
	for (size_t i = 0; i < sizeof bad_urls / sizeof bad_urls[0]; i++) {
		setenv("INLET_SMTP_URL", bad_urls[i], 1);
		assert_int_equal(smtp_config_from_env(&c), INLET_EINVAL);
		assert_null(c.url);
	}
	unsetenv("INLET_SMTP_URL");
	unsetenv("INLET_SMTP_USER");
	unsetenv("INLET_SMTP_PASSWORD");
	unsetenv("INLET_SMTP_FROM");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_notification_roundtrip),
		cmocka_unit_test(test_dot_stuffing_roundtrip),
		cmocka_unit_test(test_connection_refused),
		cmocka_unit_test(test_timeout_silent_server),
		cmocka_unit_test(test_mail_from_550_is_permanent),
		cmocka_unit_test(test_all_rcpt_refused),
		cmocka_unit_test(test_some_rcpt_refused),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_config_from_env),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
