/* jobs/webhook: the signature against an independent HMAC, verification,
 * the three payload formats parsed back, the SSRF address table and the
 * allowlist, and real deliveries to a tiny HTTP server on 127.0.0.1. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/buf.h"
#include "core/err.h"
#include "jobs/webhook.h"

/* ---- signature ---- */

static void expected_sig(const char *secret, int64_t t, const char *body, char *out, size_t n)
{
	char msg[4096];
	unsigned char mac[32];
	unsigned int maclen = 0;
	int mn = snprintf(msg, sizeof msg, "%lld.%s", (long long)t, body);
	HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)msg, (size_t)mn, mac,
	     &maclen);
	assert_int_equal(maclen, 32);
	int off = snprintf(out, n, "t=%lld,v1=", (long long)t);
	for (int i = 0; i < 32; i++)
		off += snprintf(out + off, n - (size_t)off, "%02x", mac[i]);
}

static void test_sign_known_answer(void **state)
{
	const char *secret = "whsec_3b1e9c0f";
	const char *body = "{\"event\":\"submission.created\",\"data\":{\"email\":\"a@b.c\"}}";
	char got[WEBHOOK_SIG_MAX], want[128];

	assert_int_equal(webhook_sign(secret, strlen(secret), 1700000000, body, strlen(body), got), 0);
	expected_sig(secret, 1700000000, body, want, sizeof want);
	assert_string_equal(got, want);

	/* empty body still signs "<t>." */
	assert_int_equal(webhook_sign(secret, strlen(secret), 5, "", 0, got), 0);
	expected_sig(secret, 5, "", want, sizeof want);
	assert_string_equal(got, want);
}

static void test_verify(void **state)
{
	const char *secret = "s3cret";
	const char *body = "{\"a\":1}";
	char sig[WEBHOOK_SIG_MAX], two[256];
	int64_t t = 1700000000;

	webhook_sign(secret, 6, t, body, strlen(body), sig);
	assert_int_equal(webhook_verify(sig, secret, 6, body, strlen(body), 300, t + 10), 0);
	assert_int_equal(webhook_verify(sig, secret, 6, body, strlen(body), 300, t - 10), 0);
	assert_int_equal(webhook_verify(sig, secret, 6, "{\"a\":2}", 7, 300, t), INLET_EAUTH);
	assert_int_equal(webhook_verify(sig, "other!", 6, body, strlen(body), 300, t), INLET_EAUTH);
	assert_int_equal(webhook_verify(sig, secret, 6, body, strlen(body), 300, t + 301),
			 INLET_EAUTH);
	/* a rotated-secret header carrying two v1 entries, one of them right */
	snprintf(two, sizeof two, "t=%lld, v1=%064d,%s", (long long)t, 0, strchr(sig, ',') + 1);
	assert_int_equal(webhook_verify(two, secret, 6, body, strlen(body), 300, t), 0);
	/* a different t with the same MAC fails */
	char moved[WEBHOOK_SIG_MAX];
	snprintf(moved, sizeof moved, "t=%lld%s", (long long)t + 1, strchr(sig, ','));
	assert_int_equal(webhook_verify(moved, secret, 6, body, strlen(body), 300, t), INLET_EAUTH);
	assert_int_equal(webhook_verify("v1=abc", secret, 6, body, 7, 300, t), INLET_EINVAL);
	assert_int_equal(webhook_verify("t=12x,v1=00", secret, 6, body, 7, 300, t), INLET_EINVAL);
	assert_int_equal(webhook_verify("t=1", secret, 6, body, 7, 300, 1), INLET_EINVAL);
	assert_int_equal(webhook_verify("", secret, 6, body, 7, 300, t), INLET_EINVAL);
}

/* ---- payloads ---- */

static int utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	while (i < n) {
		size_t l = p[i] < 0x80 ? 1 : (p[i] & 0xE0) == 0xC0 ? 2 : (p[i] & 0xF0) == 0xE0 ? 3
			   : (p[i] & 0xF8) == 0xF0 ? 4 : 0;
		if (l == 0 || i + l > n)
			return 0;
		for (size_t k = 1; k < l; k++)
			if ((p[i + k] & 0xC0) != 0x80)
				return 0;
		i += l;
	}
	return 1;
}

static struct json_object *make_sub(void)
{
	return json_tokener_parse(
		"{\"id\":\"sub_1\",\"endpoint_id\":\"ep_contact\",\"created_at\":\"2023-11-14T22:13:20Z\","
		"\"fields\":{\"email\":\"a@example.org\",\"message\":\"<b>hi</b> & <!channel>\","
		"\"tags\":[\"x\",\"y\"],\"n\":3},\"files\":[],\"meta\":{}}");
}

static struct json_object *payload(enum webhook_format f, struct json_object *sub)
{
	struct buf b;
	buf_init(&b, 1 << 20);
	assert_int_equal(webhook_payload(&b, f, "submission.created", "dlv_1", 1700000000, sub), 0);
	assert_true(utf8_valid(b.data, b.len));
	struct json_object *o = json_tokener_parse(b.data);
	assert_non_null(o);
	buf_free(&b);
	return o;
}

static const char *jget(struct json_object *o, const char *k)
{
	struct json_object *v;
	assert_true(json_object_object_get_ex(o, k, &v));
	return json_object_get_string(v);
}

static void test_payload_json(void **state)
{
	struct json_object *sub = make_sub();
	struct json_object *o = payload(WEBHOOK_JSON, sub), *data;
	assert_string_equal(jget(o, "event"), "submission.created");
	assert_string_equal(jget(o, "delivery"), "dlv_1");
	assert_string_equal(jget(o, "created_at"), "2023-11-14T22:13:20Z");
	assert_true(json_object_object_get_ex(o, "data", &data));
	assert_true(json_object_equal(data, sub));
	json_object_put(o);
	json_object_put(sub);

	struct buf b;
	buf_init(&b, 10);
	sub = make_sub();
	assert_int_equal(webhook_payload(&b, WEBHOOK_JSON, "e", "d", 0, sub), INLET_ETOOBIG);
	assert_int_equal(b.len, 0);
	assert_int_equal(webhook_payload(&b, WEBHOOK_JSON, NULL, "d", 0, sub), INLET_EINVAL);
	enum webhook_format f;
	assert_int_equal(webhook_format_parse("discord", &f), 0);
	assert_int_equal(f, WEBHOOK_DISCORD);
	assert_int_equal(webhook_format_parse("xml", &f), INLET_EINVAL);
	buf_free(&b);
	json_object_put(sub);
}

static void test_payload_slack(void **state)
{
	struct json_object *sub = make_sub();
	struct json_object *o = payload(WEBHOOK_SLACK, sub), *blocks;
	assert_non_null(strstr(jget(o, "text"), "submission.created"));
	assert_true(json_object_object_get_ex(o, "blocks", &blocks));
	assert_int_equal(json_object_array_length(blocks), 1 + 4);
	int saw = 0;
	for (size_t i = 0; i < json_object_array_length(blocks); i++) {
		struct json_object *bl = json_object_array_get_idx(blocks, i), *t;
		assert_string_equal(jget(bl, "type"), "section");
		assert_true(json_object_object_get_ex(bl, "text", &t));
		assert_string_equal(jget(t, "type"), "mrkdwn");
		const char *s = jget(t, "text");
		assert_null(strchr(s, '<'));
		assert_null(strchr(s, '>'));
		if (strstr(s, "*message*")) {
			assert_string_equal(s, "*message*\n&lt;b&gt;hi&lt;/b&gt; &amp; &lt;!channel&gt;");
			saw = 1;
		}
		if (strstr(s, "*tags*"))
			assert_string_equal(s, "*tags*\nx, y");
	}
	assert_true(saw);
	json_object_put(o);
	json_object_put(sub);

	/* 60 fields of 5000 '&': 45 sections within 3000 bytes, a context block */
	sub = json_object_new_object();
	struct json_object *fields = json_object_new_object();
	char *big = malloc(5001);
	memset(big, '&', 5000);
	big[5000] = '\0';
	for (int i = 0; i < 60; i++) {
		char k[16];
		snprintf(k, sizeof k, "f%02d", i);
		json_object_object_add(fields, k, json_object_new_string(big));
	}
	free(big);
	json_object_object_add(sub, "fields", fields);
	o = payload(WEBHOOK_SLACK, sub);
	assert_true(json_object_object_get_ex(o, "blocks", &blocks));
	assert_int_equal(json_object_array_length(blocks), 1 + WEBHOOK_SLACK_MAX_FIELDS + 1);
	for (size_t i = 1; i <= WEBHOOK_SLACK_MAX_FIELDS; i++) {
		struct json_object *t;
		json_object_object_get_ex(json_object_array_get_idx(blocks, i), "text", &t);
		const char *s = jget(t, "text");
		assert_true(strlen(s) <= WEBHOOK_SLACK_TEXT_MAX);
		assert_true(strlen(s) > 2900);
		/* no cut entity: the text ends in whole "&amp;" then "…" */
		assert_non_null(strstr(s, "&amp;\xe2\x80\xa6"));
	}
	struct json_object *last = json_object_array_get_idx(blocks, 1 + WEBHOOK_SLACK_MAX_FIELDS);
	assert_string_equal(jget(last, "type"), "context");
	json_object_put(o);
	json_object_put(sub);
}

static void test_payload_discord_limits(void **state)
{
	/* 40 fields, long names and values of 2- and 3-byte characters */
	struct json_object *sub = json_object_new_object();
	struct json_object *fields = json_object_new_object();
	char val[3001], name[601];
	size_t n = 0;
	while (n + 5 <= 3000) { /* "é€" = 2 + 3 bytes */
		memcpy(val + n, "\xc3\xa9\xe2\x82\xac", 5);
		n += 5;
	}
	val[n] = '\0';
	n = 0;
	while (n + 3 <= 600) {
		memcpy(name + n, "\xe2\x82\xac", 3);
		n += 3;
	}
	name[n] = '\0';
	for (int i = 0; i < 40; i++) {
		char k[700];
		snprintf(k, sizeof k, "%02d%s", i, name);
		json_object_object_add(fields, k, json_object_new_string(val));
	}
	json_object_object_add(sub, "fields", fields);
	json_object_object_add(sub, "endpoint_id", json_object_new_string("ep_1"));

	struct json_object *o = payload(WEBHOOK_DISCORD, sub), *embeds, *e, *jf;
	assert_non_null(strstr(jget(o, "content"), "submission.created"));
	assert_true(json_object_object_get_ex(o, "embeds", &embeds));
	assert_int_equal(json_object_array_length(embeds), 1);
	e = json_object_array_get_idx(embeds, 0);
	size_t total = strlen(jget(e, "title"));
	assert_true(total <= WEBHOOK_DISCORD_TITLE_MAX);
	assert_true(json_object_object_get_ex(e, "fields", &jf));
	size_t nf = json_object_array_length(jf);
	assert_true(nf >= 5 && nf <= WEBHOOK_DISCORD_MAX_FIELDS);
	for (size_t i = 0; i < nf; i++) {
		struct json_object *f = json_object_array_get_idx(jf, i), *inl;
		const char *fn = jget(f, "name"), *fv = jget(f, "value");
		assert_true(strlen(fn) > 0 && strlen(fn) <= WEBHOOK_DISCORD_NAME_MAX);
		assert_true(strlen(fv) > 0 && strlen(fv) <= WEBHOOK_DISCORD_VALUE_MAX);
		assert_true(utf8_valid(fn, strlen(fn)));
		assert_true(utf8_valid(fv, strlen(fv)));
		assert_true(json_object_object_get_ex(f, "inline", &inl));
		assert_true(json_object_is_type(inl, json_type_boolean));
		total += strlen(fn) + strlen(fv);
	}
	assert_true(total <= WEBHOOK_DISCORD_TOTAL_MAX);
	assert_true(total > WEBHOOK_DISCORD_TOTAL_MAX - 1100); /* filled, not starved */
	/* the first value was cut and marked */
	const char *v0 = jget(json_object_array_get_idx(jf, 0), "value");
	assert_memory_equal(v0 + strlen(v0) - 3, "\xe2\x80\xa6", 3);
	json_object_put(o);
	json_object_put(sub);

	/* few short fields: 25-field cap, empty value replaced */
	sub = json_object_new_object();
	fields = json_object_new_object();
	for (int i = 0; i < 30; i++) {
		char k[8];
		snprintf(k, sizeof k, "k%d", i);
		json_object_object_add(fields, k, json_object_new_string(i == 0 ? "" : "v"));
	}
	json_object_object_add(sub, "fields", fields);
	o = payload(WEBHOOK_DISCORD, sub);
	json_object_object_get_ex(o, "embeds", &embeds);
	json_object_object_get_ex(json_object_array_get_idx(embeds, 0), "fields", &jf);
	assert_int_equal(json_object_array_length(jf), 25);
	assert_string_equal(jget(json_object_array_get_idx(jf, 0), "value"), "-");
	json_object_put(o);
	json_object_put(sub);
}

/* ---- SSRF guard ---- */

static int addr_ok(const char *ip, const struct webhook_allowlist *al)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof ss);
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, ip, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
	} else {
		assert_int_equal(inet_pton(AF_INET6, ip, &s6->sin6_addr), 1);
		s6->sin6_family = AF_INET6;
	}
	return webhook_address_allowed((struct sockaddr *)&ss, al);
}

static void test_address_table(void **state)
{
	static const struct {
		const char *ip;
		int ok;
	} t[] = {
		{"8.8.8.8", 1}, {"1.1.1.1", 1}, {"93.184.216.34", 1}, {"172.15.255.255", 1},
		{"172.32.0.1", 1}, {"100.63.255.255", 1}, {"100.128.0.0", 1}, {"169.253.1.1", 1},
		{"192.169.0.1", 1}, {"11.0.0.1", 1}, {"2606:4700::1111", 1}, {"2001:4860::8888", 1},
		{"::ffff:8.8.8.8", 1}, {"64:ff9b::808:808", 1},
		{"127.0.0.1", 0}, {"127.255.255.254", 0}, {"10.0.0.1", 0}, {"10.255.255.255", 0},
		{"172.16.0.1", 0}, {"172.31.255.255", 0}, {"192.168.1.1", 0}, {"169.254.0.1", 0},
		{"169.254.169.254", 0}, {"100.64.0.1", 0}, {"100.127.255.255", 0}, {"0.0.0.0", 0},
		{"0.1.2.3", 0}, {"224.0.0.1", 0}, {"239.255.255.250", 0}, {"255.255.255.255", 0},
		{"240.0.0.1", 0}, {"198.18.0.1", 0}, {"::", 0}, {"::1", 0}, {"fe80::1", 0},
		{"febf::1", 0}, {"fc00::1", 0}, {"fd12:3456::1", 0}, {"ff02::1", 0},
		{"::ffff:127.0.0.1", 0}, {"::ffff:10.0.0.1", 0}, {"::ffff:169.254.169.254", 0},
		{"::ffff:192.168.0.1", 0}, {"::ffff:0.0.0.0", 0}, {"::ffff:100.64.0.1", 0},
		{"64:ff9b::a00:1", 0}, {"2002:a00:1::1", 0}, {"::127.0.0.1", 0},
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		if (addr_ok(t[i].ip, NULL) != t[i].ok)
			fail_msg("%s: expected %s", t[i].ip, t[i].ok ? "allowed" : "refused");
	}

	struct sockaddr_in s4;
	memset(&s4, 0, sizeof s4);
	s4.sin_family = AF_INET;
	inet_pton(AF_INET, "169.254.169.254", &s4.sin_addr);
	assert_string_equal(webhook_address_refusal((struct sockaddr *)&s4), "cloud metadata");
	inet_pton(AF_INET, "10.0.0.1", &s4.sin_addr);
	assert_string_equal(webhook_address_refusal((struct sockaddr *)&s4), "private network");
	inet_pton(AF_INET, "8.8.4.4", &s4.sin_addr);
	assert_null(webhook_address_refusal((struct sockaddr *)&s4));
	struct sockaddr un = {.sa_family = AF_UNIX};
	assert_int_equal(webhook_address_allowed(&un, NULL), 0);
}

static void test_allowlist(void **state)
{
	struct webhook_allowlist al;
	assert_int_equal(
		webhook_allowlist_parse(" 127.0.0.1, 10.0.0.0/8,,Hooks.Internal., fd00::/8 ,::1,"
					"::ffff:192.168.1.0/120", &al), 0);
	assert_int_equal(al.ncidr, 5);
	assert_int_equal(al.nhost, 1);
	assert_true(addr_ok("127.0.0.1", &al));
	assert_true(addr_ok("::ffff:127.0.0.1", &al));
	assert_false(addr_ok("127.0.0.2", &al));
	assert_true(addr_ok("10.200.3.4", &al));
	assert_false(addr_ok("11.0.0.1", &al) == 0); /* public stays allowed */
	assert_false(addr_ok("172.16.0.1", &al));
	assert_true(addr_ok("fd00::7", &al));
	assert_false(addr_ok("fc00::7", &al));
	assert_true(addr_ok("::1", &al));
	assert_true(addr_ok("192.168.1.77", &al));
	assert_false(addr_ok("192.168.2.1", &al));
	assert_false(addr_ok("169.254.169.254", &al));
	assert_true(webhook_host_allowed(&al, "hooks.internal"));
	assert_true(webhook_host_allowed(&al, "HOOKS.internal."));
	assert_false(webhook_host_allowed(&al, "evil.hooks.internal"));
	assert_false(webhook_host_allowed(NULL, "hooks.internal"));

	/* host bits are cleared: 10.1.2.3/8 means 10/8 */
	assert_int_equal(webhook_allowlist_parse("10.1.2.3/8", &al), 0);
	assert_true(addr_ok("10.9.9.9", &al));

	assert_int_equal(webhook_allowlist_parse(NULL, &al), 0);
	assert_int_equal(al.ncidr + al.nhost, 0);
	assert_int_equal(webhook_allowlist_parse("", &al), 0);
	assert_int_equal(webhook_allowlist_parse("10.0.0.0/33", &al), INLET_EINVAL);
	assert_int_equal(al.ncidr, 0);
	assert_int_equal(webhook_allowlist_parse("10.0.0.0/x", &al), INLET_EINVAL);
	assert_int_equal(webhook_allowlist_parse("bad host", &al), INLET_EINVAL);
	assert_int_equal(webhook_allowlist_parse("a.b/8", &al), INLET_EINVAL);
	assert_int_equal(webhook_allowlist_parse("http://x", &al), INLET_EINVAL);

	char many[1024];
	size_t off = 0;
	for (int i = 0; i < WEBHOOK_ALLOW_MAX_CIDR + 1; i++)
		off += (size_t)snprintf(many + off, sizeof many - off, "10.0.0.%d,", i);
	assert_int_equal(webhook_allowlist_parse(many, &al), INLET_ETOOMANY);
}

/* ---- a tiny HTTP server for deliveries ---- */

struct server {
	int fd;
	int port;
	pthread_t th;
	volatile int stop;
	pthread_mutex_t mu;
	int hits;
	char last_path[128];
	char last_head[4096]; /* request head, lower-cased */
	char last_body[4096];
	size_t last_body_len;
};

static struct server srv;
static struct webhook_allowlist local; /* "127.0.0.1", set up with the server */

static void reply(int c, const char *status, const char *extra, const char *body)
{
	char out[1024];
	int n = snprintf(out, sizeof out,
			 "HTTP/1.1 %s\r\nContent-Length: %zu\r\nConnection: close\r\n%s\r\n%s", status,
			 strlen(body), extra, body);
	ssize_t w = write(c, out, (size_t)n);
	(void)w;
}

static void handle(int c)
{
	char req[8192];
	size_t len = 0;
	char *eoh = NULL;
	while (len < sizeof req - 1) {
		ssize_t r = recv(c, req + len, sizeof req - 1 - len, 0);
		if (r <= 0)
			return;
		len += (size_t)r;
		req[len] = '\0';
		if ((eoh = strstr(req, "\r\n\r\n")))
			break;
	}
	if (!eoh)
		return;
	for (char *p = req; p < eoh; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	size_t hl = (size_t)(eoh - req) + 4, cl = 0;
	char *h = strstr(req, "\r\ncontent-length:");
	if (h && h < eoh)
		cl = strtoul(h + 17, NULL, 10);
	while (len < hl + cl && len < sizeof req - 1) {
		ssize_t r = recv(c, req + len, sizeof req - 1 - len, 0);
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	char path[128] = "";
	sscanf(req, "%*s %127s", path);

	pthread_mutex_lock(&srv.mu);
	srv.hits++;
	snprintf(srv.last_path, sizeof srv.last_path, "%s", path);
	snprintf(srv.last_head, sizeof srv.last_head, "%.*s", (int)hl, req);
	srv.last_body_len = len - hl < sizeof srv.last_body - 1 ? len - hl : sizeof srv.last_body - 1;
	memcpy(srv.last_body, req + hl, srv.last_body_len);
	srv.last_body[srv.last_body_len] = '\0';
	pthread_mutex_unlock(&srv.mu);

	if (strcmp(path, "/ok") == 0) {
		reply(c, "200 OK", "", "thanks");
	} else if (strcmp(path, "/500") == 0) {
		reply(c, "500 Internal Server Error", "", "boom");
	} else if (strcmp(path, "/hang") == 0) {
		struct pollfd p = {.fd = c, .events = POLLIN};
		poll(&p, 1, 5000); /* until the client gives up and closes */
	} else if (strcmp(path, "/to-private") == 0) {
		reply(c, "307 Temporary Redirect", "Location: http://10.0.0.1/\r\n", "");
	} else if (strcmp(path, "/to-ok") == 0) {
		reply(c, "307 Temporary Redirect", "Location: /ok\r\n", "");
	} else if (strcmp(path, "/302") == 0) {
		reply(c, "302 Found", "Location: /ok\r\n", "");
	} else if (strcmp(path, "/loop") == 0) {
		reply(c, "308 Permanent Redirect", "Location: /loop\r\n", "");
	} else if (strcmp(path, "/ftp") == 0) {
		reply(c, "307 Temporary Redirect", "Location: ftp://127.0.0.1/x\r\n", "");
	} else {
		reply(c, "404 Not Found", "", "no");
	}
}

static void *serve(void *arg)
{
	while (!srv.stop) {
		int c = accept(srv.fd, NULL, NULL);
		if (c < 0)
			continue;
		handle(c);
		close(c);
	}
	return NULL;
}

static int server_up(void **state)
{
	struct sockaddr_in a;
	socklen_t al = sizeof a;
	memset(&srv, 0, sizeof srv);
	pthread_mutex_init(&srv.mu, NULL);
	srv.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (srv.fd < 0 || bind(srv.fd, (struct sockaddr *)&a, sizeof a) != 0 ||
	    listen(srv.fd, 16) != 0 || getsockname(srv.fd, (struct sockaddr *)&a, &al) != 0)
		return -1;
	srv.port = ntohs(a.sin_port);
	if (webhook_allowlist_parse("127.0.0.1", &local) != 0)
		return -1;
	return pthread_create(&srv.th, NULL, serve, NULL) == 0 ? 0 : -1;
}

static int server_down(void **state)
{
	srv.stop = 1;
	shutdown(srv.fd, SHUT_RDWR);
	pthread_join(srv.th, NULL);
	close(srv.fd);
	pthread_mutex_destroy(&srv.mu);
	return 0;
}

static const char body[] = "{\"event\":\"submission.created\",\"data\":{\"x\":1}}";

static int deliver(const char *path, const struct webhook_allowlist *al, long timeout_ms,
		   struct webhook_result *res)
{
	char url[256];
	snprintf(url, sizeof url, "http://127.0.0.1:%d%s", srv.port, path);
	struct webhook_request rq = {
		.url = url, .event = "submission.created", .delivery_id = "dlv_abc",
		.body = body, .body_len = strlen(body), .secret = "whsec_x", .secret_len = 7,
		.allow = al, .timeout_ms = timeout_ms,
	};
	return webhook_deliver(&rq, res);
}

static void test_deliver_refused_without_allowlist(void **state)
{
	struct webhook_result res;
	int hits = srv.hits;
	assert_int_equal(deliver("/ok", NULL, 0, &res), INLET_EFORBIDDEN);
	assert_string_equal(res.error, "address 127.0.0.1 is not allowed (loopback)");
	assert_int_equal(res.status, 0);
	assert_int_equal(srv.hits, hits);
}

static void test_deliver_ok(void **state)
{
	struct webhook_result res;
	char want[WEBHOOK_SIG_MAX + 32], *sig, *eol;
	assert_int_equal(deliver("/ok", &local, 0, &res), 0);
	assert_int_equal(res.status, 200);
	assert_string_equal(res.error, "");
	assert_string_equal(res.body, "thanks");
	assert_int_equal(res.body_len, 6);
	assert_int_equal(res.redirects, 0);
	assert_true(res.latency_ms >= 0 && res.latency_ms < 5000);

	pthread_mutex_lock(&srv.mu);
	assert_string_equal(srv.last_path, "/ok");
	assert_string_equal(srv.last_body, body);
	assert_non_null(strstr(srv.last_head, "post /ok http/1.1\r\n"));
	assert_non_null(strstr(srv.last_head, "\r\ncontent-type: application/json\r\n"));
	assert_non_null(strstr(srv.last_head, "\r\ninlet-event: submission.created\r\n"));
	assert_non_null(strstr(srv.last_head, "\r\ninlet-delivery: dlv_abc\r\n"));
	assert_non_null(strstr(srv.last_head, "\r\nuser-agent: inlet-webhook/1\r\n"));
	sig = strstr(srv.last_head, "\r\ninlet-signature: ");
	assert_non_null(sig);
	sig += strlen("\r\ninlet-signature: ");
	eol = strstr(sig, "\r\n");
	snprintf(want, sizeof want, "%.*s", (int)(eol - sig), sig);
	pthread_mutex_unlock(&srv.mu);
	/* the receiver's check: the header verifies against the body it got */
	assert_int_equal(webhook_verify(want, "whsec_x", 7, body, strlen(body), 300, time(NULL)), 0);
}

static void test_deliver_500(void **state)
{
	struct webhook_result res;
	assert_int_equal(deliver("/500", &local, 0, &res), INLET_EIO);
	assert_int_equal(res.status, 500);
	assert_string_equal(res.error, "HTTP 500");
	assert_string_equal(res.body, "boom");
}

static void test_deliver_timeout(void **state)
{
	struct webhook_result res;
	assert_int_equal(deliver("/hang", &local, 1000, &res), INLET_EIO);
	assert_string_equal(res.error, "timed out after 1000 ms");
	assert_true(res.latency_ms >= 900 && res.latency_ms < 3000);
}

static void test_deliver_redirect_to_private(void **state)
{
	struct webhook_result res;
	assert_int_equal(deliver("/to-private", &local, 3000, &res), INLET_EFORBIDDEN);
	assert_string_equal(res.error, "address 10.0.0.1 is not allowed (private network)");
	assert_int_equal(res.redirects, 1);
}

static void test_deliver_redirect_followed(void **state)
{
	struct webhook_result res;
	assert_int_equal(deliver("/to-ok", &local, 0, &res), 0);
	assert_int_equal(res.status, 200);
	assert_int_equal(res.redirects, 1);
	pthread_mutex_lock(&srv.mu);
	assert_string_equal(srv.last_path, "/ok");
	assert_string_equal(srv.last_body, body); /* still a POST with the body */
	assert_non_null(strstr(srv.last_head, "post /ok "));
	pthread_mutex_unlock(&srv.mu);
}

static void test_deliver_redirect_stops(void **state)
{
	struct webhook_result res;
	assert_int_equal(deliver("/302", &local, 0, &res), INLET_EIO);
	assert_int_equal(res.status, 302);
	assert_non_null(strstr(res.error, "HTTP 302 redirect to http://127.0.0.1:"));
	assert_int_equal(deliver("/loop", &local, 0, &res), INLET_EIO);
	assert_string_equal(res.error, "more than 3 redirects");
	assert_int_equal(res.redirects, 3);
	assert_int_equal(deliver("/ftp", &local, 0, &res), INLET_EFORBIDDEN);
	assert_string_equal(res.error, "only http and https URLs are allowed");
}

static void test_deliver_bad_input(void **state)
{
	struct webhook_result res;
	struct webhook_request rq = {
		.url = "http://127.0.0.1/", .event = "x\r\nInjected: 1", .delivery_id = "d",
		.allow = &local,
	};
	assert_int_equal(webhook_deliver(&rq, &res), INLET_EINVAL);
	rq.event = "e";
	rq.url = "file:///etc/passwd";
	assert_int_equal(webhook_deliver(&rq, &res), INLET_EFORBIDDEN);
	rq.url = "gopher://127.0.0.1/";
	assert_int_equal(webhook_deliver(&rq, &res), INLET_EFORBIDDEN);
	rq.url = "not a url";
	assert_int_equal(webhook_deliver(&rq, &res), INLET_EINVAL);
}

int main(void)
{
	const struct CMUnitTest pure[] = {
		cmocka_unit_test(test_sign_known_answer),
		cmocka_unit_test(test_verify),
		cmocka_unit_test(test_payload_json),
		cmocka_unit_test(test_payload_slack),
		cmocka_unit_test(test_payload_discord_limits),
		cmocka_unit_test(test_address_table),
		cmocka_unit_test(test_allowlist),
	};
	const struct CMUnitTest net[] = {
		cmocka_unit_test(test_deliver_refused_without_allowlist),
		cmocka_unit_test(test_deliver_ok),
		cmocka_unit_test(test_deliver_500),
		cmocka_unit_test(test_deliver_timeout),
		cmocka_unit_test(test_deliver_redirect_to_private),
		cmocka_unit_test(test_deliver_redirect_followed),
		cmocka_unit_test(test_deliver_redirect_stops),
		cmocka_unit_test(test_deliver_bad_input),
	};
	int failed = cmocka_run_group_tests_name("webhook", pure, NULL, NULL);
	failed += cmocka_run_group_tests_name("webhook delivery", net, server_up, server_down);
	return failed ? 1 : 0;
}
