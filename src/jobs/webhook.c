/* Webhook delivery's security core; the contract is in webhook.h. */
#include "jobs/webhook.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include <curl/curl.h>
#include <json-c/json.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/enc.h"
#include "core/err.h"
#include "vault/vault.h"

/* ---- signature ---- */

int webhook_sign(const void *secret, size_t secret_len, int64_t t, const void *body, size_t len,
		 char out[WEBHOOK_SIG_MAX])
{
	char ts[24];
	int tn = snprintf(ts, sizeof ts, "%" PRId64, t);
	size_t n = (size_t)tn + 1 + len;
	char *msg = xmalloc(n ? n : 1);
	uint8_t mac[32];
	char hex[65];

	memcpy(msg, ts, (size_t)tn);
	msg[tn] = '.';
	if (len)
		memcpy(msg + tn + 1, body, len);
	vault_hmac_sha256(secret, secret_len, msg, n, mac);
	free(msg);
	hex_encode(hex, mac, sizeof mac);
	snprintf(out, WEBHOOK_SIG_MAX, "t=%s,v1=%s", ts, hex);
	secure_wipe(mac, sizeof mac);
	return 0;
}

static int ct_equal(const char *a, const char *b, size_t n)
{
	unsigned char d = 0;
	for (size_t i = 0; i < n; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return d == 0;
}

int webhook_verify(const char *header, const void *secret, size_t secret_len, const void *body,
		   size_t len, int64_t tolerance_s, int64_t now)
{
	const char *v1[8];
	size_t nv1 = 0;
	int64_t t = 0;
	int have_t = 0;
	char want[WEBHOOK_SIG_MAX];
	const char *p = header;

	if (!header)
		return INLET_EINVAL;
	while (*p) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		while (n && (*p == ' ' || *p == '\t')) {
			p++;
			n--;
		}
		if (n > 2 && p[0] == 't' && p[1] == '=') {
			char num[24];
			char *e;
			if (n - 2 >= sizeof num)
				return INLET_EINVAL;
			memcpy(num, p + 2, n - 2);
			num[n - 2] = '\0';
			errno = 0;
			long long v = strtoll(num, &e, 10);
			if (errno || *e || e == num)
				return INLET_EINVAL;
			t = v;
			have_t = 1;
		} else if (n >= 3 && memcmp(p, "v1=", 3) == 0 && nv1 < 8) {
			v1[nv1++] = p + 3;
			if (n - 3 != 64)
				nv1--; /* wrong length: cannot match, ignore */
		}
		p += n;
		if (*p == ',')
			p++;
	}
	if (!have_t || nv1 == 0)
		return INLET_EINVAL;
	if ((t > now ? t - now : now - t) > tolerance_s)
		return INLET_EAUTH;
	webhook_sign(secret, secret_len, t, body, len, want);
	const char *hex = strstr(want, ",v1=") + 4;
	int ok = 0;
	for (size_t i = 0; i < nv1; i++)
		ok |= ct_equal(hex, v1[i], 64);
	return ok ? 0 : INLET_EAUTH;
}

/* ---- payloads ---- */

int webhook_format_parse(const char *s, enum webhook_format *out)
{
	if (!s || strcmp(s, "json") == 0)
		*out = WEBHOOK_JSON;
	else if (strcmp(s, "slack") == 0)
		*out = WEBHOOK_SLACK;
	else if (strcmp(s, "discord") == 0)
		*out = WEBHOOK_DISCORD;
	else
		return INLET_EINVAL;
	return 0;
}

/* Length of the UTF-8 sequence starting at s[0] (at most n); a stray or
 * truncated byte counts as one, so invalid input still advances. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t want = s[0] < 0x80 ? 1 : (s[0] & 0xE0) == 0xC0 ? 2 : (s[0] & 0xF0) == 0xE0 ? 3
		      : (s[0] & 0xF8) == 0xF0 ? 4 : 1;
	if (want > n)
		return 1;
	for (size_t i = 1; i < want; i++)
		if ((s[i] & 0xC0) != 0x80)
			return 1;
	return want;
}

/* Appends s[0..n) to b in whole characters, Slack-escaped when esc, using
 * at most budget bytes; when it does not all fit, stops early and appends
 * "…" inside the budget. Returns bytes appended. b is uncapped here. */
static size_t put_cut(struct buf *b, const char *s, size_t n, size_t budget, int esc)
{
	static const char ell[] = "\xe2\x80\xa6";
	size_t used = 0, i = 0;

	while (i < n) {
		size_t cl = utf8_len((const unsigned char *)s + i, n - i);
		const char *piece = s + i;
		size_t pl = cl;
		if (esc && cl == 1 && (s[i] == '&' || s[i] == '<' || s[i] == '>')) {
			piece = s[i] == '&' ? "&amp;" : s[i] == '<' ? "&lt;" : "&gt;";
			pl = strlen(piece);
		}
		/* Keep room for the ellipsis unless this is the last piece. */
		size_t room = i + cl == n ? budget - used : (budget - used > 3 ? budget - used - 3 : 0);
		if (pl > room) {
			if (budget - used >= 3) {
				buf_append(b, ell, 3);
				used += 3;
			}
			return used;
		}
		buf_append(b, piece, pl);
		used += pl;
		i += cl;
	}
	return used;
}

/* A field's value as text: strings as they are, arrays joined with ", ",
 * null as "", anything else as compact JSON. Appended to b. */
static void value_text(struct buf *b, struct json_object *v)
{
	if (!v)
		return;
	switch (json_object_get_type(v)) {
	case json_type_string:
		buf_append(b, json_object_get_string(v), (size_t)json_object_get_string_len(v));
		break;
	case json_type_array:
		for (size_t i = 0; i < json_object_array_length(v); i++) {
			if (i)
				buf_puts(b, ", ");
			struct json_object *e = json_object_array_get_idx(v, i);
			if (e && json_object_is_type(e, json_type_string))
				buf_append(b, json_object_get_string(e),
					   (size_t)json_object_get_string_len(e));
			else
				buf_puts(b, json_object_to_json_string_ext(e, JSON_C_TO_STRING_PLAIN));
		}
		break;
	default:
		buf_puts(b, json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
	}
}

static struct json_object *jstr_buf(const struct buf *b)
{
	return json_object_new_string_len(b->data ? b->data : "", (int)b->len);
}

static struct json_object *summary_fields(struct json_object *sub)
{
	struct json_object *f;
	if (json_object_object_get_ex(sub, "fields", &f) && json_object_is_type(f, json_type_object))
		return f;
	return sub;
}

static const char *sub_str(struct json_object *sub, const char *key, const char *dflt)
{
	struct json_object *v;
	if (json_object_object_get_ex(sub, key, &v) && json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return dflt;
}

static struct json_object *slack_body(const char *event, struct json_object *sub)
{
	struct json_object *root = json_object_new_object();
	struct json_object *blocks = json_object_new_array();
	struct json_object *fields = summary_fields(sub);
	const char *ep = sub_str(sub, "endpoint_id", "");
	size_t nfields = (size_t)json_object_object_length(fields), shown = 0;
	struct buf t, v;

	buf_init(&t, 0);
	buf_init(&v, 0);
	buf_puts(&t, "New ");
	put_cut(&t, event, strlen(event), 200, 1);
	if (*ep) {
		buf_puts(&t, " on ");
		put_cut(&t, ep, strlen(ep), 200, 1);
	}
	json_object_object_add(root, "text", jstr_buf(&t));

	struct json_object *hdr = json_object_new_object();
	struct json_object *txt = json_object_new_object();
	json_object_object_add(hdr, "type", json_object_new_string("section"));
	json_object_object_add(txt, "type", json_object_new_string("mrkdwn"));
	buf_reset(&v);
	buf_putc(&v, '*');
	buf_append(&v, t.data, t.len);
	buf_putc(&v, '*');
	json_object_object_add(txt, "text", jstr_buf(&v));
	json_object_object_add(hdr, "text", txt);
	json_object_array_add(blocks, hdr);

	json_object_object_foreach(fields, fkey, fval)
	{
		if (shown == WEBHOOK_SLACK_MAX_FIELDS)
			break;
		struct buf raw;
		buf_init(&raw, 0);
		value_text(&raw, fval);
		buf_reset(&v);
		buf_putc(&v, '*');
		size_t used = 1 + put_cut(&v, fkey, strlen(fkey), 200, 1);
		buf_puts(&v, "*\n");
		used += 2;
		put_cut(&v, raw.data ? raw.data : "", raw.len, WEBHOOK_SLACK_TEXT_MAX - used, 1);
		buf_free(&raw);
		struct json_object *sec = json_object_new_object();
		struct json_object *st = json_object_new_object();
		json_object_object_add(sec, "type", json_object_new_string("section"));
		json_object_object_add(st, "type", json_object_new_string("mrkdwn"));
		json_object_object_add(st, "text", jstr_buf(&v));
		json_object_object_add(sec, "text", st);
		json_object_array_add(blocks, sec);
		shown++;
	}
	if (shown < nfields) {
		struct json_object *ctx = json_object_new_object();
		struct json_object *els = json_object_new_array();
		struct json_object *el = json_object_new_object();
		char more[64];
		snprintf(more, sizeof more, "…and %zu more fields", nfields - shown);
		json_object_object_add(ctx, "type", json_object_new_string("context"));
		json_object_object_add(el, "type", json_object_new_string("mrkdwn"));
		json_object_object_add(el, "text", json_object_new_string(more));
		json_object_array_add(els, el);
		json_object_object_add(ctx, "elements", els);
		json_object_array_add(blocks, ctx);
	}
	json_object_object_add(root, "blocks", blocks);
	buf_free(&t);
	buf_free(&v);
	return root;
}

static struct json_object *discord_body(const char *event, struct json_object *sub)
{
	struct json_object *root = json_object_new_object();
	struct json_object *embed = json_object_new_object();
	struct json_object *arr = json_object_new_array();
	struct json_object *jf = json_object_new_array();
	struct json_object *fields = summary_fields(sub);
	const char *ep = sub_str(sub, "endpoint_id", "");
	size_t total, shown = 0;
	struct buf t, name, val, raw;

	buf_init(&t, 0);
	buf_init(&name, 0);
	buf_init(&val, 0);
	buf_init(&raw, 0);
	buf_puts(&raw, "New ");
	buf_puts(&raw, event);
	if (*ep) {
		buf_puts(&raw, " on ");
		buf_puts(&raw, ep);
	}
	total = put_cut(&t, raw.data, raw.len, WEBHOOK_DISCORD_TITLE_MAX, 0);
	json_object_object_add(root, "content", jstr_buf(&t));
	json_object_object_add(embed, "title", jstr_buf(&t));

	json_object_object_foreach(fields, fkey, fval)
	{
		if (shown == WEBHOOK_DISCORD_MAX_FIELDS)
			break;
		size_t left = WEBHOOK_DISCORD_TOTAL_MAX - total;
		/* A field needs at least a short name and value to be useful. */
		if (left < 16)
			break;
		buf_reset(&name);
		buf_reset(&val);
		buf_reset(&raw);
		size_t nl = put_cut(&name, *fkey ? fkey : "(unnamed)", *fkey ? strlen(fkey) : 9,
				    left / 2 < WEBHOOK_DISCORD_NAME_MAX ? left / 2
								     : WEBHOOK_DISCORD_NAME_MAX, 0);
		left -= nl;
		value_text(&raw, fval);
		size_t vl = raw.len
			? put_cut(&val, raw.data, raw.len,
				  left < WEBHOOK_DISCORD_VALUE_MAX ? left : WEBHOOK_DISCORD_VALUE_MAX, 0)
			: 0;
		if (vl == 0) { /* Discord rejects empty values */
			buf_puts(&val, "-");
			vl = 1;
		}
		total += nl + vl;
		struct json_object *f = json_object_new_object();
		json_object_object_add(f, "name", jstr_buf(&name));
		json_object_object_add(f, "value", jstr_buf(&val));
		json_object_object_add(f, "inline", json_object_new_boolean(0));
		json_object_array_add(jf, f);
		shown++;
	}
	json_object_object_add(embed, "fields", jf);
	json_object_array_add(arr, embed);
	json_object_object_add(root, "embeds", arr);
	buf_free(&t);
	buf_free(&name);
	buf_free(&val);
	buf_free(&raw);
	return root;
}

int webhook_payload(struct buf *out, enum webhook_format fmt, const char *event,
		    const char *delivery_id, int64_t created_at, struct json_object *submission)
{
	struct json_object *root = NULL;
	int rc;

	if (!out || !event || !delivery_id || !submission)
		return INLET_EINVAL;
	switch (fmt) {
	case WEBHOOK_JSON: {
		char ts[32];
		struct tm tm;
		time_t tt = (time_t)created_at;
		if (!gmtime_r(&tt, &tm))
			return INLET_EINVAL;
		strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
		root = json_object_new_object();
		json_object_object_add(root, "event", json_object_new_string(event));
		json_object_object_add(root, "delivery", json_object_new_string(delivery_id));
		json_object_object_add(root, "created_at", json_object_new_string(ts));
		json_object_object_add(root, "data", json_object_get(submission));
		break;
	}
	case WEBHOOK_SLACK:
		root = slack_body(event, submission);
		break;
	case WEBHOOK_DISCORD:
		root = discord_body(event, submission);
		break;
	default:
		return INLET_EINVAL;
	}
	size_t n;
	const char *s = json_object_to_json_string_length(
		root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
	rc = buf_append(out, s, n);
	json_object_put(root);
	return rc;
}

/* ---- delivery ---- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* What the open-socket callback of one hop needs; lives on
 * webhook_deliver's stack for the duration of one curl_easy_perform. */
struct hop {
	const struct webhook_allowlist *al;
	int host_exempt;      /* the hop's URL host is an allowlisted name */
	char refused[128];    /* first refusal of this hop, "" if none */
};

static curl_socket_t open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *addr)
{
	struct hop *h = clientp;
	const struct sockaddr *sa = &addr->addr;

	if (purpose != CURLSOCKTYPE_IPCXN)
		return CURL_SOCKET_BAD;
	if (!h->host_exempt && !webhook_address_allowed(sa, h->al)) {
		if (!h->refused[0]) {
			char ip[INET6_ADDRSTRLEN] = "?";
			const void *src = sa->sa_family == AF_INET
				? (const void *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr
				: (const void *)&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
			if (sa->sa_family == AF_INET || sa->sa_family == AF_INET6)
				inet_ntop(sa->sa_family, src, ip, sizeof ip);
			const char *why = webhook_address_refusal(sa);
			snprintf(h->refused, sizeof h->refused, "address %s is not allowed (%s)", ip,
				 why ? why : "not allowed");
		}
		return CURL_SOCKET_BAD;
	}
	return socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
	struct webhook_result *res = ud;
	size_t n = size * nmemb;
	size_t room = WEBHOOK_BODY_KEEP - res->body_len;
	size_t take = n < room ? n : room;
	memcpy(res->body + res->body_len, p, take);
	res->body_len += take;
	res->body[res->body_len] = '\0';
	return n; /* the rest is read and dropped; the timeout bounds it */
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int header_safe(const char *s)
{
	if (!s || !*s)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return 0;
	return 1;
}

/* Checks url's scheme and host; sets *exempt when the host is an
 * allowlisted name. 0, INLET_EINVAL (unparsable) or INLET_EFORBIDDEN. */
static int check_url(const char *url, const struct webhook_allowlist *al, int *exempt)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL;
	int rc = 0;

	if (!u)
		abort();
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK) {
		rc = INLET_EINVAL;
		goto out;
	}
	if (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0) {
		rc = INLET_EFORBIDDEN;
		goto out;
	}
	if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		rc = INLET_EINVAL;
		goto out;
	}
	*exempt = webhook_host_allowed(al, host);
out:
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return rc;
}

int webhook_deliver(const struct webhook_request *req, struct webhook_result *res)
{
	CURL *c = NULL;
	struct curl_slist *hdrs = NULL;
	char *url = NULL;
	char line[WEBHOOK_SIG_MAX + 600];
	char errbuf[CURL_ERROR_SIZE];
	struct hop hop;
	long timeout = req->timeout_ms > 0 ? req->timeout_ms : WEBHOOK_TIMEOUT_MS;
	int maxr = req->max_redirects == 0 ? WEBHOOK_MAX_REDIRECTS
		   : req->max_redirects < 0 ? 0 : req->max_redirects;
	int64_t start = mono_ms();
	int rc = 0;

	memset(res, 0, sizeof *res);
	if (!req->url || !header_safe(req->event) || !header_safe(req->delivery_id) ||
	    strlen(req->event) > 200 || strlen(req->delivery_id) > 200) {
		snprintf(res->error, sizeof res->error, "invalid url, event or delivery id");
		rc = INLET_EINVAL;
		goto out;
	}
	pthread_once(&curl_once, curl_init_once);
	c = curl_easy_init();
	if (!c)
		abort();

	hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	hdrs = curl_slist_append(hdrs, "Expect:");
	snprintf(line, sizeof line, "Inlet-Event: %s", req->event);
	hdrs = curl_slist_append(hdrs, line);
	snprintf(line, sizeof line, "Inlet-Delivery: %s", req->delivery_id);
	hdrs = curl_slist_append(hdrs, line);
	if (req->secret) {
		char sig[WEBHOOK_SIG_MAX];
		webhook_sign(req->secret, req->secret_len,
			     req->sign_time ? req->sign_time : (int64_t)time(NULL), req->body,
			     req->body_len, sig);
		snprintf(line, sizeof line, "Inlet-Signature: %s", sig);
		hdrs = curl_slist_append(hdrs, line);
	}
	if (!hdrs)
		abort();

	hop.al = req->allow;
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_PROXY, ""); /* never a proxy from the environment */
	curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, open_socket);
	curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, &hop);
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body ? (const char *)req->body : "");
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "Inlet-Webhook/1");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, res);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);

	url = xstrdup(req->url);
	for (;;) {
		int exempt = 0;
		int64_t left = timeout - (mono_ms() - start);

		rc = check_url(url, req->allow, &exempt);
		if (rc) {
			snprintf(res->error, sizeof res->error, "%s",
				 rc == INLET_EFORBIDDEN ? "only http and https URLs are allowed"
							: "invalid URL");
			goto out;
		}
		if (left <= 0) {
			snprintf(res->error, sizeof res->error, "timed out after %ld ms", timeout);
			rc = INLET_EIO;
			goto out;
		}
		hop.host_exempt = exempt;
		hop.refused[0] = '\0';
		errbuf[0] = '\0';
		res->body_len = 0;
		res->body[0] = '\0';
		res->status = 0;
		curl_easy_setopt(c, CURLOPT_URL, url);
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)left);

		CURLcode cc = curl_easy_perform(c);
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &res->status);
		if (cc != CURLE_OK) {
			if (hop.refused[0]) {
				snprintf(res->error, sizeof res->error, "%s", hop.refused);
				rc = INLET_EFORBIDDEN;
			} else if (cc == CURLE_OPERATION_TIMEDOUT) {
				snprintf(res->error, sizeof res->error, "timed out after %ld ms",
					 timeout);
				rc = INLET_EIO;
			} else if (cc == CURLE_UNSUPPORTED_PROTOCOL) {
				snprintf(res->error, sizeof res->error,
					 "only http and https URLs are allowed");
				rc = INLET_EFORBIDDEN;
			} else {
				snprintf(res->error, sizeof res->error, "%s",
					 errbuf[0] ? errbuf : curl_easy_strerror(cc));
				rc = INLET_EIO;
			}
			goto out;
		}
		long st = res->status;
		if (st >= 200 && st < 300) {
			rc = 0;
			goto out;
		}
		if (st == 307 || st == 308) {
			char *next = NULL;
			curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &next);
			if (!next) {
				snprintf(res->error, sizeof res->error, "HTTP %ld without Location", st);
				rc = INLET_EIO;
				goto out;
			}
			if (res->redirects == maxr) {
				snprintf(res->error, sizeof res->error, "more than %d redirects", maxr);
				rc = INLET_EIO;
				goto out;
			}
			char *copy = xstrdup(next);
			free(url);
			url = copy;
			res->redirects++;
			continue;
		}
		if (st == 301 || st == 302 || st == 303) {
			char *next = NULL;
			curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &next);
			snprintf(res->error, sizeof res->error,
				 "HTTP %ld redirect to %.200s not followed (only 307 and 308 keep the POST)",
				 st, next ? next : "(none)");
			rc = INLET_EIO;
			goto out;
		}
		snprintf(res->error, sizeof res->error, "HTTP %ld", st);
		rc = INLET_EIO;
		goto out;
	}
out:
	res->latency_ms = mono_ms() - start;
	free(url);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	return rc;
}
