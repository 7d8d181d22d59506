/* report_parse: reports as Chromium and Firefox send them (Reporting API
 * batches, legacy csp-report, NEL, deprecations...), the fingerprints that
 * must agree across browsers, skipping and limits, media types and broken
 * bodies. JSON below is written with single quotes and turned into double
 * quotes before parsing (dq()); an apostrophe inside a text is \u0027. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "core/arena.h"
#include "core/err.h"
#include "events/report.h"

struct fx {
	struct arena *a;
	struct report_limits lim;
	struct report_list *l;
	struct report_error err;
};

static int setup(void **state)
{
	static struct fx fx;

	memset(&fx, 0, sizeof(fx));
	fx.a = arena_create(0);
	report_limits_default(&fx.lim);
	*state = &fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	arena_destroy(fx->a);
	return 0;
}

static char *dq(struct fx *fx, const char *s)
{
	char *d = arena_strdup(fx->a, s), *p;

	for (p = d; *p; p++)
		if (*p == '\'')
			*p = '"';
	return d;
}

static int parse_raw(struct fx *fx, const char *media, const char *body, size_t len)
{
	return report_parse(fx->a, media, body, len, &fx->lim, &fx->l, &fx->err);
}

static int parse(struct fx *fx, const char *media, const char *s)
{
	const char *d = dq(fx, s);

	return parse_raw(fx, media, d, strlen(d));
}

#define RJ "application/reports+json"
#define CSP "application/csp-report"
#define JSON "application/json"

/* Parsed into exactly n reports, with skipped and dropped as given. */
static void counts(const struct fx *fx, size_t n, size_t skipped, size_t dropped)
{
	assert_non_null(fx->l);
	assert_int_equal(fx->l->n, n);
	assert_int_equal(fx->l->skipped, skipped);
	assert_int_equal(fx->l->dropped, dropped);
}

static void refused(const struct fx *fx, int rc, int status, const char *code)
{
	assert_int_equal(rc, status == 415 ? INLET_EMEDIATYPE : INLET_EINVAL);
	assert_null(fx->l);
	assert_int_equal(fx->err.status, status);
	assert_string_equal(fx->err.code, code);
	assert_non_null(fx->err.message);
}

/* Report i's fingerprint is exactly the NULL-terminated list given. */
static void fp_is(const struct fx *fx, size_t i, ...)
{
	const struct report_event *ev = &fx->l->items[i];
	const char *want;
	size_t k = 0;
	va_list ap;

	va_start(ap, i);
	while ((want = va_arg(ap, const char *))) {
		assert_true(k < ev->n_fingerprint);
		assert_string_equal(ev->fingerprint[k], want);
		k++;
	}
	va_end(ap);
	assert_int_equal(ev->n_fingerprint, k);
}

/* Two reports (maybe from different parses) are grouped together. */
static void same_fp(const struct report_event *x, const struct report_event *y)
{
	size_t i;

	assert_int_equal(x->n_fingerprint, y->n_fingerprint);
	for (i = 0; i < x->n_fingerprint; i++)
		assert_string_equal(x->fingerprint[i], y->fingerprint[i]);
}

static const char *member_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v))
		return NULL;
	return json_object_get_string(v);
}

/* ---- CSP: one violation, three browsers' reports ---- */

#define UA_CHROME "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) " \
		  "Chrome/127.0.0.0 Safari/537.36"

/* Chromium, report-to (Reporting API, application/reports+json). */
#define CHROMIUM_CSP                                                                       \
	"[{'age':53531,'body':{'blockedURL':'https://evil.example/x.js?v=1',"              \
	"'columnNumber':17,'disposition':'enforce',"                                       \
	"'documentURL':'https://app.example/page?q=1',"                                    \
	"'effectiveDirective':'script-src-elem','lineNumber':42,"                          \
	"'originalPolicy':'default-src \\u0027self\\u0027; script-src \\u0027self\\u0027; " \
	"report-to csp','referrer':'https://www.google.com/','sample':'',"                 \
	"'sourceFile':'https://app.example/static/app.js?v=3','statusCode':200},"          \
	"'type':'csp-violation','url':'https://app.example/page?q=1',"                     \
	"'user_agent':'" UA_CHROME "'}]"

/* Chromium, report-uri (application/csp-report). */
#define CHROMIUM_LEGACY_CSP                                                                    \
	"{'csp-report':{'document-uri':'https://app.example/page?q=1',"                        \
	"'referrer':'https://www.google.com/','violated-directive':'script-src-elem',"         \
	"'effective-directive':'script-src-elem',"                                             \
	"'original-policy':'default-src \\u0027self\\u0027; script-src \\u0027self\\u0027; "   \
	"report-uri /csp','disposition':'enforce','blocked-uri':'https://evil.example/x.js?v=1'," \
	"'line-number':42,'column-number':17,'source-file':'https://app.example/static/app.js?v=3'," \
	"'status-code':200,'script-sample':''}}"

/* Firefox, report-uri: the policy comes back normalised (report-uri made
 * absolute), the column differs, no effective-directive. */
#define FIREFOX_CSP                                                                            \
	"{'csp-report':{'blocked-uri':'https://evil.example/x.js?v=1','column-number':9,"      \
	"'disposition':'enforce','document-uri':'https://app.example/page?q=1',"               \
	"'line-number':42,'original-policy':'default-src \\u0027self\\u0027; script-src "      \
	"\\u0027self\\u0027; report-uri https://app.example/csp','referrer':'',"               \
	"'source-file':'https://app.example/static/app.js?v=3','status-code':0,"               \
	"'violated-directive':'script-src-elem'}}"

static void t_chromium_csp(void **state)
{
	struct fx *fx = *state;
	const struct report_event *ev;

	assert_int_equal(parse(fx, RJ, CHROMIUM_CSP), 0);
	counts(fx, 1, 0, 0);
	ev = &fx->l->items[0];
	assert_string_equal(ev->type, "csp-violation");
	assert_string_equal(ev->title, "CSP violation: script-src-elem blocked https://evil.example");
	assert_string_equal(ev->uri, "https://app.example/page?q=1");
	assert_int_equal(ev->uri_len, strlen(ev->uri));
	assert_int_equal(ev->age_ms, 53531);
	fp_is(fx, 0, "csp-violation", "script-src-elem", "https://evil.example",
	      "https://app.example/static/app.js", "42", NULL);
	/* The body is the report as sent. */
	assert_true(json_object_is_type(ev->body, json_type_object));
	assert_string_equal(member_str(ev->body, "user_agent"), UA_CHROME);
	assert_string_equal(member_str(ev->body, "type"), "csp-violation");
}

static void t_legacy_csp_same_fingerprint(void **state)
{
	struct fx *fx = *state;
	struct report_list *chromium, *legacy, *firefox;
	const struct report_event *ev;
	struct json_object *inner;

	assert_int_equal(parse(fx, RJ, CHROMIUM_CSP), 0);
	chromium = fx->l;
	assert_int_equal(parse(fx, CSP, CHROMIUM_LEGACY_CSP), 0);
	legacy = fx->l;
	assert_int_equal(parse(fx, CSP, FIREFOX_CSP), 0);
	firefox = fx->l;
	assert_int_equal(legacy->n, 1);
	assert_int_equal(firefox->n, 1);
	same_fp(&chromium->items[0], &legacy->items[0]);
	same_fp(&chromium->items[0], &firefox->items[0]);

	ev = &firefox->items[0];
	assert_string_equal(ev->type, "csp-violation");
	assert_string_equal(ev->title, "CSP violation: script-src-elem blocked https://evil.example");
	assert_string_equal(ev->uri, "https://app.example/page?q=1");
	assert_int_equal(ev->age_ms, 0);
	/* The body is the whole {"csp-report": ...} object. */
	assert_true(json_object_object_get_ex(ev->body, "csp-report", &inner));
	assert_string_equal(member_str(inner, "violated-directive"), "script-src-elem");

	/* The same bodies as application/json, and as text/plain. */
	assert_int_equal(parse(fx, JSON, FIREFOX_CSP), 0);
	same_fp(&chromium->items[0], &fx->l->items[0]);
	assert_int_equal(parse(fx, "text/plain", CHROMIUM_LEGACY_CSP), 0);
	same_fp(&chromium->items[0], &fx->l->items[0]);
	assert_int_equal(parse(fx, "text/plain", CHROMIUM_CSP), 0);
	same_fp(&chromium->items[0], &fx->l->items[0]);
	/* A single Reporting API report, not in an array. */
	{
		const char *d = dq(fx, CHROMIUM_CSP);

		assert_int_equal(parse_raw(fx, JSON, d + 1, strlen(d) - 2), 0);
		counts(fx, 1, 0, 0);
		same_fp(&chromium->items[0], &fx->l->items[0]);
		assert_int_equal(fx->l->items[0].age_ms, 53531);
	}
}

/* What else a browser puts where: keywords, CSP2 directives, origins. */
static void t_csp_normalising(void **state)
{
	struct fx *fx = *state;
	static const char *const blocked[][2] = {
		{ "inline", "inline" },
		{ "eval", "eval" },
		{ "wasm-eval", "wasm-eval" },
		{ "trusted-types-sink", "trusted-types-sink" },
		{ "self", "self" },
		{ "data", "data" },
		{ "data:image/png;base64,iVBORw0KGgo=", "data" },
		{ "blob:https://app.example/1b2c-3d4e", "blob" },
		{ "HTTPS://Evil.Example:443/x.js", "https://evil.example" },
		{ "http://evil.example:80", "http://evil.example" },
		{ "http://user:pw@evil.example:8080/p?q#f", "http://evil.example:8080" },
		{ "https://[2001:db8::1]:443/x", "https://[2001:db8::1]" },
		{ "https://[2001:db8::1]:8443/x", "https://[2001:db8::1]:8443" },
		{ "https://evil.example:/x", "https://evil.example" },
		{ "wss://live.example:443/socket", "wss://live.example" },
		{ "chrome-extension://abcdefghijklmnop/inject.js", "chrome-extension://abcdefghijklmnop" },
		{ "moz-extension://0c7d-11ee/content.js", "moz-extension://0c7d-11ee" },
		{ "https://evil.example?x", "https://evil.example" },
		{ "https://evil.example#x", "https://evil.example" },
		{ "about:blank", "about" },
		{ "Inline", "inline" },
	};
	char buf[512];
	size_t i;

	for (i = 0; i < sizeof(blocked) / sizeof(blocked[0]); i++) {
		snprintf(buf, sizeof(buf), "{'csp-report':{'document-uri':'https://a.example/',"
			 "'effective-directive':'img-src','blocked-uri':'%s'}}", blocked[i][0]);
		assert_int_equal(parse(fx, CSP, buf), 0);
		assert_string_equal(fx->l->items[0].fingerprint[2], blocked[i][1]);
		snprintf(buf, sizeof(buf), "CSP violation: img-src blocked %s", blocked[i][1]);
		assert_string_equal(fx->l->items[0].title, buf);
	}
	/* CSP2 browsers put the whole directive in violated-directive. */
	assert_int_equal(parse(fx, CSP, "{'csp-report':{'document-uri':'https://a.example/',"
				       "'violated-directive':'Script-Src \\u0027self\\u0027 https://apis.example',"
				       "'blocked-uri':''}}"), 0);
	fp_is(fx, 0, "csp-violation", "script-src", "", "", "", NULL);
	assert_string_equal(fx->l->items[0].title, "CSP violation: script-src");
	/* An empty effective-directive falls back to violated-directive. */
	assert_int_equal(parse(fx, CSP, "{'csp-report':{'effective-directive':'',"
				       "'violated-directive':'style-src-attr','blocked-uri':'inline'}}"), 0);
	fp_is(fx, 0, "csp-violation", "style-src-attr", "inline", "", "", NULL);
	assert_string_equal(fx->l->items[0].uri, "");
	/* Nothing known at all: still a report. */
	assert_int_equal(parse(fx, CSP, "{'csp-report':{}}"), 0);
	assert_string_equal(fx->l->items[0].title, "CSP violation");
	fp_is(fx, 0, "csp-violation", "", "", "", "", NULL);
	/* Fields of the wrong type count as absent. */
	assert_int_equal(parse(fx, CSP, "{'csp-report':{'effective-directive':5,'blocked-uri':null,"
				       "'line-number':'17','source-file':['x'],'document-uri':{}}}"), 0);
	fp_is(fx, 0, "csp-violation", "", "", "", "17", NULL);
	/* A line as a whole double; a fraction is cut. */
	assert_int_equal(parse(fx, CSP, "{'csp-report':{'line-number':42.0}}"), 0);
	assert_string_equal(fx->l->items[0].fingerprint[4], "42");
	assert_int_equal(parse(fx, CSP, "{'csp-report':{'line-number':1e300}}"), 0);
	assert_string_equal(fx->l->items[0].fingerprint[4], "");
	/* Not the column, the policy, the disposition, the sample. */
	{
		struct report_list *first;

		assert_int_equal(parse(fx, RJ, CHROMIUM_CSP), 0);
		first = fx->l;
		assert_int_equal(parse(fx, RJ, "[{'type':'csp-violation','url':'https://other.example/',"
					       "'body':{'blockedURL':'https://evil.example/other.js',"
					       "'columnNumber':1,'disposition':'report','documentURL':"
					       "'https://app.example/elsewhere','effectiveDirective':"
					       "'script-src-elem','lineNumber':42,'originalPolicy':'x',"
					       "'sample':'alert(1)','sourceFile':"
					       "'https://app.example/static/app.js#frag','statusCode':404}}]"), 0);
		same_fp(&first->items[0], &fx->l->items[0]);
	}
}

/* ---- other report types ---- */

#define DEPRECATION                                                                           \
	"[{'age':27,'body':{'anticipatedRemoval':null,'columnNumber':3,"                      \
	"'id':'XMLHttpRequestSynchronousInNonWorkerOutsideBeforeUnload','lineNumber':15,"     \
	"'message':'Synchronous XMLHttpRequest on the main thread is deprecated because of "  \
	"its detrimental effects to the end user\\u0027s experience.',"                       \
	"'sourceFile':'https://app.example/legacy.js?cache=1'},'type':'deprecation',"         \
	"'url':'https://app.example/','user_agent':'" UA_CHROME "'}]"

static void t_deprecation(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(parse(fx, RJ, DEPRECATION), 0);
	counts(fx, 1, 0, 0);
	assert_string_equal(fx->l->items[0].type, "deprecation");
	assert_string_equal(fx->l->items[0].title,
			    "Deprecation: Synchronous XMLHttpRequest on the main thread is deprecated "
			    "because of its detrimental effects to the end user's experience.");
	assert_string_equal(fx->l->items[0].uri, "https://app.example/");
	assert_int_equal(fx->l->items[0].age_ms, 27);
	fp_is(fx, 0, "deprecation", "XMLHttpRequestSynchronousInNonWorkerOutsideBeforeUnload",
	      "https://app.example/legacy.js", "15", NULL);
	/* No message: the id. */
	assert_int_equal(parse(fx, RJ, "[{'type':'deprecation','url':'u','body':{'id':'Foo'}}]"), 0);
	assert_string_equal(fx->l->items[0].title, "Deprecation: Foo");
	assert_int_equal(parse(fx, RJ, "[{'type':'deprecation','url':'u'}]"), 0);
	assert_string_equal(fx->l->items[0].title, "Deprecation: unknown");
	fp_is(fx, 0, "deprecation", "", "", "", NULL);
}

static void t_intervention_and_policies(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(parse(fx, RJ, "[{'type':'intervention','age':1,'url':'https://app.example/a',"
				      "'body':{'id':'HeavyAdIntervention','message':'Ad was removed "
				      "because its network usage exceeded the limit.',"
				      "'sourceFile':null,'lineNumber':null,'columnNumber':null}}]"), 0);
	assert_string_equal(fx->l->items[0].title, "Intervention: Ad was removed because its network "
						   "usage exceeded the limit.");
	fp_is(fx, 0, "intervention", "HeavyAdIntervention", "", "", NULL);

	assert_int_equal(parse(fx, RJ, "[{'type':'document-policy-violation','url':'https://app.example/',"
				      "'body':{'featureId':'document-write','disposition':'enforce',"
				      "'message':'Document policy violation: document-write is not "
				      "allowed in this document.','sourceFile':'https://app.example/w.js',"
				      "'lineNumber':3,'columnNumber':9}}]"), 0);
	/* Chromium's message already names the kind: not twice. */
	assert_string_equal(fx->l->items[0].title, "Document policy violation: document-write is "
						   "not allowed in this document.");
	fp_is(fx, 0, "document-policy-violation", "document-write", "https://app.example/w.js", "3",
	      NULL);
	/* TrackX read policyId. */
	assert_int_equal(parse(fx, RJ, "[{'type':'document-policy-violation','url':'u',"
				      "'body':{'policyId':'oversized-images'}}]"), 0);
	assert_string_equal(fx->l->items[0].title, "Document policy violation: oversized-images");
	fp_is(fx, 0, "document-policy-violation", "oversized-images", "", "", NULL);

	assert_int_equal(parse(fx, RJ, "[{'type':'permissions-policy-violation','url':'https://app.example/',"
				      "'body':{'featureId':'geolocation','disposition':'enforce',"
				      "'sourceFile':'https://app.example/map.js?x','lineNumber':120,"
				      "'columnNumber':4}}]"), 0);
	assert_string_equal(fx->l->items[0].title, "Permissions policy violation: geolocation");
	fp_is(fx, 0, "permissions-policy-violation", "geolocation", "https://app.example/map.js",
	      "120", NULL);
}

static void t_crash_coep_coop(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(parse(fx, RJ, "[{'type':'crash','age':42,'url':'https://app.example/big?x=1',"
				      "'body':{'reason':'oom','crashId':'a1b2'}}]"), 0);
	assert_string_equal(fx->l->items[0].title, "Crash: oom");
	fp_is(fx, 0, "crash", "oom", "https://app.example/big", NULL);
	assert_int_equal(parse(fx, RJ, "[{'type':'crash','url':'https://app.example/','body':{}}]"), 0);
	assert_string_equal(fx->l->items[0].title, "Crash");
	fp_is(fx, 0, "crash", "", "https://app.example/", NULL);

	assert_int_equal(parse(fx, RJ, "[{'type':'coep','url':'https://app.example/',"
				      "'body':{'type':'corp','blockedURL':'https://cdn.example/img.png?v=2',"
				      "'destination':'image','disposition':'enforce'}}]"), 0);
	assert_string_equal(fx->l->items[0].title, "COEP violation: corp blocked https://cdn.example");
	fp_is(fx, 0, "coep", "corp", "image", "https://cdn.example/img.png", NULL);

	assert_int_equal(parse(fx, RJ, "[{'type':'coop','url':'https://app.example/',"
				      "'body':{'type':'access-from-coop-page-to-opener','disposition':"
				      "'reporting','effectivePolicy':'same-origin','property':'postMessage',"
				      "'sourceFile':'https://app.example/o.js','lineNumber':7,"
				      "'columnNumber':2}}]"), 0);
	assert_string_equal(fx->l->items[0].title, "COOP violation: access-from-coop-page-to-opener");
	fp_is(fx, 0, "coop", "access-from-coop-page-to-opener", "same-origin", "postMessage",
	      "https://app.example/o.js", "7", NULL);
}

#define NEL_HTTP_ERROR                                                                       \
	"[{'age':0,'type':'network-error','url':'https://api.example/v1/items?id=3',"        \
	"'body':{'sampling_fraction':1.0,'referrer':'https://app.example/',"                 \
	"'server_ip':'203.0.113.7','protocol':'h2','method':'GET','request_headers':{},"     \
	"'response_headers':{},'status_code':503,'elapsed_time':120,'phase':'application',"  \
	"'type':'http.error'}}]"

static void t_nel(void **state)
{
	struct fx *fx = *state;
	struct report_list *first;

	assert_int_equal(parse(fx, RJ, NEL_HTTP_ERROR), 0);
	counts(fx, 1, 0, 0);
	assert_string_equal(fx->l->items[0].type, "network-error");
	assert_string_equal(fx->l->items[0].title,
			    "Network error: http.error for GET https://api.example/v1/items?id=3");
	assert_string_equal(fx->l->items[0].uri, "https://api.example/v1/items?id=3");
	fp_is(fx, 0, "network-error", "http.error", "application", "GET", "503",
	      "https://api.example/v1/items", NULL);

	/* Before the request was sent the path played no part: by origin. */
	assert_int_equal(parse(fx, RJ, "[{'age':100,'type':'network-error','url':'https://api.example/a',"
				      "'body':{'phase':'dns','type':'dns.name_not_resolved','method':'GET',"
				      "'status_code':0,'server_ip':'','protocol':'','elapsed_time':48,"
				      "'referrer':'https://app.example/','sampling_fraction':1}},"
				      "{'age':100,'type':'network-error','url':'https://api.example/b/c?d',"
				      "'body':{'phase':'dns','type':'dns.name_not_resolved','method':'POST',"
				      "'status_code':0}}]"), 0);
	counts(fx, 2, 0, 0);
	fp_is(fx, 0, "network-error", "dns.name_not_resolved", "dns", "GET", "0",
	      "https://api.example", NULL);
	fp_is(fx, 1, "network-error", "dns.name_not_resolved", "dns", "POST", "0",
	      "https://api.example", NULL);
	first = fx->l;
	assert_int_equal(parse(fx, RJ, "[{'type':'network-error','url':'https://api.example:443/zzz',"
				      "'body':{'phase':'connection','type':'tcp.timed_out','method':'GET',"
				      "'status_code':0}}]"), 0);
	fp_is(fx, 0, "network-error", "tcp.timed_out", "connection", "GET", "0",
	      "https://api.example", NULL);
	(void)first;
	/* A url in the body (older examples) wins over the report's. */
	assert_int_equal(parse(fx, RJ, "[{'type':'network-error','url':'https://x.example/',"
				      "'body':{'phase':'application','type':'http.error','method':'GET',"
				      "'status_code':500,'url':'https://y.example/p?q'}}]"), 0);
	assert_string_equal(fx->l->items[0].title,
			    "Network error: http.error for GET https://y.example/p?q");
	assert_string_equal(fx->l->items[0].fingerprint[5], "https://y.example/p");
	/* Bare. */
	assert_int_equal(parse(fx, RJ, "[{'type':'network-error','url':''}]"), 0);
	assert_string_equal(fx->l->items[0].title, "Network error");
	fp_is(fx, 0, "network-error", "", "", "", "", "", NULL);
}

static void t_expect_ct(void **state)
{
	struct fx *fx = *state;
	static const char ct[] =
		"{'expect-ct-report':{'date-time':'2022-05-01T10:00:00.000Z','hostname':'Shop.Example',"
		"'port':443,'scheme':'https','effective-expiration-date':'2022-05-08T10:00:00.000Z',"
		"'served-certificate-chain':['MIIB...'],'validated-certificate-chain':['MIIB...'],"
		"'scts':[{'version':1,'status':'invalid','source':'embedded','serialized_sct':'AAA='}],"
		"'failure-mode':'enforce','test-report':false}}";

	assert_int_equal(parse(fx, "application/expect-ct-report+json", ct), 0);
	counts(fx, 1, 0, 0);
	assert_string_equal(fx->l->items[0].type, "expect-ct");
	assert_string_equal(fx->l->items[0].title, "Expect-CT violation: shop.example:443");
	assert_string_equal(fx->l->items[0].uri, "https://shop.example");
	fp_is(fx, 0, "expect-ct", "shop.example", "443", NULL);
	assert_int_equal(parse(fx, JSON, ct), 0);
	fp_is(fx, 0, "expect-ct", "shop.example", "443", NULL);
	assert_int_equal(parse(fx, JSON, "{'expect-ct-report':{'hostname':'a.example','port':8443}}"), 0);
	assert_string_equal(fx->l->items[0].uri, "https://a.example:8443");
	assert_int_equal(parse(fx, JSON, "{'expect-ct-report':{}}"), 0);
	assert_string_equal(fx->l->items[0].title, "Expect-CT violation");
	assert_string_equal(fx->l->items[0].uri, "");
	/* The wrong shape for the media type. */
	refused(fx, parse(fx, "application/expect-ct-report+json", CHROMIUM_LEGACY_CSP), 400,
		"INVALID_BODY");
	refused(fx, parse(fx, "application/expect-ct-report+json", "[]"), 400, "INVALID_BODY");
	refused(fx, parse(fx, "application/expect-ct-report+json", "{'expect-ct-report':[]}"), 400,
		"INVALID_BODY");
}

static void t_unknown_type(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(parse(fx, RJ, "[{'type':'integrity-violation','url':'https://app.example/?a',"
				      "'body':{'documentURL':'https://app.example/',"
				      "'blockedURL':'https://cdn.example/lib.js'}},"
				      "{'type':'test','url':'https://app.example/x?y','body':{'message':'hi'}},"
				      "{'type':'future-thing','url':'u','body':{'featureId':'f',"
				      "'sourceFile':'https://s.example/s.js?1','lineNumber':9}}]"), 0);
	counts(fx, 3, 0, 0);
	assert_string_equal(fx->l->items[0].title, "Report: integrity-violation");
	fp_is(fx, 0, "integrity-violation", "", "https://app.example/", "", NULL);
	assert_string_equal(fx->l->items[1].type, "test");
	fp_is(fx, 1, "test", "", "https://app.example/x", "", NULL);
	fp_is(fx, 2, "future-thing", "f", "https://s.example/s.js", "9", NULL);
	/* Kept whole, for storage. */
	assert_string_equal(member_str(fx->l->items[1].body, "url"), "https://app.example/x?y");
}

/* A Report-To (v0) batch mixes types and pages. */
static void t_mixed_batch(void **state)
{
	struct fx *fx = *state;
	char body[8192];
	const char *c = dq(fx, CHROMIUM_CSP), *d = dq(fx, DEPRECATION), *n = dq(fx, NEL_HTTP_ERROR);

	snprintf(body, sizeof(body), "[%.*s,%.*s,%.*s]", (int)strlen(c) - 2, c + 1,
		 (int)strlen(d) - 2, d + 1, (int)strlen(n) - 2, n + 1);
	assert_int_equal(parse_raw(fx, RJ, body, strlen(body)), 0);
	counts(fx, 3, 0, 0);
	assert_string_equal(fx->l->items[0].type, "csp-violation");
	assert_string_equal(fx->l->items[1].type, "deprecation");
	assert_string_equal(fx->l->items[2].type, "network-error");
	assert_int_equal(parse(fx, RJ, "[]"), 0);
	counts(fx, 0, 0, 0);
}

/* ---- what is skipped, what is refused ---- */

static void t_skipping(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(parse(fx, RJ, "["
		"1, 'x', null, true, [], {},"               /* not objects, no type: 6 */
		"{'type':5,'url':'u'},"                     /* type not a string */
		"{'type':'','url':'u'},"                    /* empty type */
		"{'type':'a b','url':'u'},"                 /* space */
		"{'type':'t\\u0000','url':'u'},"            /* control */
		"{'type':'\\u00e9','url':'u'},"             /* not ASCII */
		"{'type':'x'},"                             /* no url */
		"{'type':'x','url':5},"                     /* url not a string */
		"{'type':'x','url':null},"
		"{'type':'x','url':'u','age':-1},"          /* ages */
		"{'type':'x','url':'u','age':'5'},"
		"{'type':'x','url':'u','age':null},"
		"{'type':'x','url':'u','age':172800001},"
		"{'type':'x','url':'u','age':172800000.5},"
		"{'type':'x','url':'u','age':1e400},"
		"{'type':'x','url':'u','age':-0.5},"
		"{'type':'x','url':'u','age':[1]},"
		"{'type':'ok1','url':'u','age':172800000},"  /* kept: 4 */
		"{'type':'ok2','url':'','age':0},"
		"{'type':'ok3','url':'u','age':1.9},"
		"{'type':'ok4','url':'u','body':'not an object'}"
		"]"), 0);
	counts(fx, 4, 22, 0);
	assert_string_equal(fx->l->items[0].type, "ok1");
	assert_int_equal(fx->l->items[0].age_ms, 172800000);
	assert_int_equal(fx->l->items[2].age_ms, 1);
	assert_int_equal(fx->l->items[3].age_ms, 0);
	/* 64 bytes of type, and 65. */
	{
		char body[256], t64[65], t65[66];

		memset(t64, 't', 64);
		t64[64] = '\0';
		memset(t65, 't', 65);
		t65[65] = '\0';
		snprintf(body, sizeof(body), "[{'type':'%s','url':'u'},{'type':'%s','url':'u'}]",
			 t64, t65);
		assert_int_equal(parse(fx, RJ, body), 0);
		counts(fx, 1, 1, 0);
		assert_int_equal(strlen(fx->l->items[0].type), REPORT_TYPE_MAX);
	}
	/* A lone report that is none is refused. */
	refused(fx, parse(fx, JSON, "{'type':'x'}"), 400, "INVALID_BODY");
	refused(fx, parse(fx, JSON, "{'type':'x','url':'u','age':-1}"), 400, "INVALID_BODY");
	refused(fx, parse(fx, JSON, "{'foo':1}"), 400, "INVALID_BODY");
	refused(fx, parse(fx, JSON, "{}"), 400, "INVALID_BODY");
}

static void t_limits(void **state)
{
	struct fx *fx = *state;
	static const char five[] = "[{'type':'a','url':'u'},1,{'type':'b','url':'u'},"
				   "{'type':'c','url':'u'},2,{'type':'d','url':'u'},{'type':'e','url':'u'}]";

	fx->lim.max_reports = 2;
	assert_int_equal(parse(fx, RJ, five), 0);
	counts(fx, 2, 1, 4); /* a, skip, b; then c, 2, d, e not looked at */
	assert_string_equal(fx->l->items[1].type, "b");
	fx->lim.max_reports = 5;
	assert_int_equal(parse(fx, RJ, five), 0);
	counts(fx, 5, 2, 0);
	fx->lim.max_reports = 0;
	assert_int_equal(parse(fx, RJ, five), 0);
	counts(fx, 0, 0, 7);
	assert_int_equal(parse(fx, CSP, FIREFOX_CSP), 0);
	counts(fx, 0, 0, 1);
	assert_int_equal(parse(fx, JSON, "{'type':'x','url':'u'}"), 0);
	counts(fx, 0, 0, 1);
	/* Checked before it is dropped. */
	refused(fx, parse(fx, JSON, "{'type':'x'}"), 400, "INVALID_BODY");
	report_limits_default(&fx->lim);
	assert_int_equal(fx->lim.max_reports, 100);
	assert_int_equal(fx->lim.max_depth, 32);
	/* Depth: [ {body {}}] is 3. */
	fx->lim.max_depth = 3;
	assert_int_equal(parse(fx, RJ, "[{'type':'x','url':'u','body':{'a':1}}]"), 0);
	refused(fx, parse(fx, RJ, "[{'type':'x','url':'u','body':{'a':[]}}]"), 400, "INVALID_JSON");
	assert_string_equal(fx->err.message, "JSON nested too deep");
}

static void t_media_types(void **state)
{
	struct fx *fx = *state;

	refused(fx, parse(fx, "application/xml", "[]"), 415, "UNSUPPORTED_MEDIA_TYPE");
	refused(fx, parse(fx, "application/reports+json; charset=utf-8", "[]"), 415,
		"UNSUPPORTED_MEDIA_TYPE");
	refused(fx, parse(fx, "", "[]"), 415, "UNSUPPORTED_MEDIA_TYPE");
	refused(fx, parse(fx, NULL, "[]"), 415, "UNSUPPORTED_MEDIA_TYPE");
	refused(fx, parse(fx, "multipart/form-data", "[]"), 415, "UNSUPPORTED_MEDIA_TYPE");
	/* The media type is checked before the body. */
	refused(fx, parse(fx, "text/html", "{"), 415, "UNSUPPORTED_MEDIA_TYPE");
	assert_int_equal(parse(fx, "Application/Reports+JSON", "[]"), 0);
	assert_int_equal(parse(fx, "TEXT/PLAIN", "[]"), 0);

	/* reports+json is an array, csp-report is {"csp-report"}. */
	refused(fx, parse(fx, RJ, "{'type':'x','url':'u'}"), 400, "INVALID_BODY");
	refused(fx, parse(fx, RJ, CHROMIUM_LEGACY_CSP), 400, "INVALID_BODY");
	refused(fx, parse(fx, RJ, "'x'"), 400, "INVALID_BODY");
	refused(fx, parse(fx, CSP, CHROMIUM_CSP), 400, "INVALID_BODY");
	refused(fx, parse(fx, CSP, "{'type':'csp-violation','url':'u'}"), 400, "INVALID_BODY");
	refused(fx, parse(fx, CSP, "{'csp-report':'x'}"), 400, "INVALID_BODY");
	refused(fx, parse(fx, CSP, "{'csp-report':null}"), 400, "INVALID_BODY");
	refused(fx, parse(fx, CSP, "{'csp-report':[]}"), 400, "INVALID_BODY");
	refused(fx, parse(fx, JSON, "{'csp-report':[]}"), 400, "INVALID_BODY");
	refused(fx, parse(fx, JSON, "1"), 400, "INVALID_BODY");
	refused(fx, parse(fx, "text/plain", "'[]'"), 400, "INVALID_BODY");
}

static void t_bad_json(void **state)
{
	struct fx *fx = *state;
	static const char *const bad[] = {
		"", "[", "[{]", "[1,]", "[] []", "[NaN]", "{'csp-report':{'line-number':01}}",
		"null", "[{'type':'x','url':'u',}]", "[\\'x\\']",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		refused(fx, parse(fx, RJ, bad[i]), 400, "INVALID_JSON");
	refused(fx, parse_raw(fx, RJ, "[\"\xc0\xaf\"]", 6), 400, "INVALID_JSON");
	assert_string_equal(fx->err.message, "invalid UTF-8");
	refused(fx, parse_raw(fx, RJ, "[]\0", 3), 400, "INVALID_JSON");
	refused(fx, parse_raw(fx, CSP, "{\"csp-report\":{\"a\":\"\x01\"}}", 24), 400, "INVALID_JSON");
	/* White space around is fine. */
	assert_int_equal(parse(fx, RJ, "\r\n [ ] \n"), 0);
}

/* ---- the output's own rules ---- */

static int valid_utf8(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		size_t k = *p < 0x80 ? 1 : *p >= 0xf0 ? 4 : *p >= 0xe0 ? 3 : *p >= 0xc2 ? 2 : 0;
		size_t i;

		if (!k)
			return 0;
		for (i = 1; i < k; i++)
			if ((p[i] & 0xc0) != 0x80)
				return 0;
		p += k;
	}
	return 1;
}

static void t_titles_are_capped(void **state)
{
	struct fx *fx = *state;
	char body[4096];
	size_t off, n, i;
	const char *t;

	/* "Deprecation: x" (14 bytes) then é (2 bytes) x 300: the cut at 255
	 * would fall inside one, so the title is 254 bytes. */
	off = (size_t)snprintf(body, sizeof(body), "[{\"type\":\"deprecation\",\"url\":\"u\",\"body\":{\"message\":\"x");
	for (i = 0; i < 300; i++, off += 2)
		memcpy(body + off, "\xc3\xa9", 2);
	off += (size_t)snprintf(body + off, sizeof(body) - off, "\"}}]");
	assert_int_equal(parse_raw(fx, RJ, body, off), 0);
	t = fx->l->items[0].title;
	assert_int_equal(strlen(t), 254);
	assert_true(valid_utf8(t));
	/* 😀 (4 bytes): 13 + 60 * 4 = 253, the next would end at 257. */
	off = (size_t)snprintf(body, sizeof(body), "[{\"type\":\"deprecation\",\"url\":\"u\",\"body\":{\"message\":\"");
	for (i = 0; i < 100; i++, off += 4)
		memcpy(body + off, "\xf0\x9f\x98\x80", 4);
	off += (size_t)snprintf(body + off, sizeof(body) - off, "\"}}]");
	assert_int_equal(parse_raw(fx, RJ, body, off), 0);
	assert_int_equal(strlen(fx->l->items[0].title), 253);
	assert_true(valid_utf8(fx->l->items[0].title));
	/* ASCII: exactly 255. */
	off = (size_t)snprintf(body, sizeof(body), "[{\"type\":\"deprecation\",\"url\":\"u\",\"body\":{\"message\":\"");
	memset(body + off, 'm', 1000);
	off += 1000;
	off += (size_t)snprintf(body + off, sizeof(body) - off, "\"}}]");
	assert_int_equal(parse_raw(fx, RJ, body, off), 0);
	assert_int_equal(strlen(fx->l->items[0].title), REPORT_TITLE_MAX);
	/* And a long source file: the fingerprint component is capped. */
	n = REPORT_FP_MAX + 100;
	off = (size_t)snprintf(body, sizeof(body), "[{\"type\":\"deprecation\",\"url\":\"u\",\"body\":{\"sourceFile\":\"");
	memset(body + off, 's', n);
	off += n;
	off += (size_t)snprintf(body + off, sizeof(body) - off, "\"}}]");
	assert_int_equal(parse_raw(fx, RJ, body, off), 0);
	assert_int_equal(strlen(fx->l->items[0].fingerprint[2]), REPORT_FP_MAX);
	/* Control characters (and \u0000) become spaces. */
	assert_int_equal(parse(fx, RJ, "[{'type':'deprecation','url':'u','body':{'message':"
				      "'a\\nb\\u0000c\\td\\u007f','id':'x\\ny'}}]"), 0);
	assert_string_equal(fx->l->items[0].title, "Deprecation: a b c d ");
	assert_string_equal(fx->l->items[0].fingerprint[1], "x y");
}

static void t_uri(void **state)
{
	struct fx *fx = *state;

	/* documentURL is the page; the report's url is the fallback. */
	assert_int_equal(parse(fx, RJ, "[{'type':'csp-violation','url':'https://u.example/',"
				      "'body':{'documentURL':'https://d.example/'}},"
				      "{'type':'csp-violation','url':'https://u.example/','body':{}}]"), 0);
	assert_string_equal(fx->l->items[0].uri, "https://d.example/");
	assert_string_equal(fx->l->items[1].uri, "https://u.example/");
	/* As sent: a \u0000 stays, uri_len tells. */
	assert_int_equal(parse(fx, RJ, "[{'type':'x','url':'https://a.example/\\u0000b'}]"), 0);
	assert_int_equal(fx->l->items[0].uri_len, 20);
	assert_int_equal(strlen(fx->l->items[0].uri), 18);
	assert_memory_equal(fx->l->items[0].uri, "https://a.example/\0b", 20);
}

/* Bodies stay valid until the arena goes; json_object_get keeps one
 * longer. (ASan's leak check covers the release.) */
static void t_lifetime(void **state)
{
	struct fx *fx = *state;
	struct arena *a = arena_create(0);
	struct report_list *l;
	struct json_object *kept;
	const char *d = dq(fx, CHROMIUM_CSP);

	assert_int_equal(report_parse(a, RJ, d, strlen(d), &fx->lim, &l, &fx->err), 0);
	kept = json_object_get(l->items[0].body);
	arena_destroy(a);
	assert_string_equal(member_str(kept, "url"), "https://app.example/page?q=1");
	json_object_put(kept);

	/* A failure leaves *out NULL and nothing behind. */
	a = arena_create(0);
	l = (struct report_list *)(uintptr_t)1;
	assert_int_equal(report_parse(a, CSP, "[1]", 3, &fx->lim, &l, &fx->err), INLET_EINVAL);
	assert_null(l);
	arena_destroy(a);
	/* The input can go at once. */
	a = arena_create(64);
	{
		char *copy = strdup(dq(fx, DEPRECATION));

		assert_int_equal(report_parse(a, RJ, copy, strlen(copy), &fx->lim, &l, &fx->err), 0);
		memset(copy, 0, strlen(copy));
		free(copy);
	}
	assert_string_equal(l->items[0].title + 13, "Synchronous XMLHttpRequest on the main thread "
			    "is deprecated because of its detrimental effects to the end user's experience.");
	assert_string_equal(member_str(l->items[0].body, "type"), "deprecation");
	arena_destroy(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(t_chromium_csp, setup, teardown),
		cmocka_unit_test_setup_teardown(t_legacy_csp_same_fingerprint, setup, teardown),
		cmocka_unit_test_setup_teardown(t_csp_normalising, setup, teardown),
		cmocka_unit_test_setup_teardown(t_deprecation, setup, teardown),
		cmocka_unit_test_setup_teardown(t_intervention_and_policies, setup, teardown),
		cmocka_unit_test_setup_teardown(t_crash_coep_coop, setup, teardown),
		cmocka_unit_test_setup_teardown(t_nel, setup, teardown),
		cmocka_unit_test_setup_teardown(t_expect_ct, setup, teardown),
		cmocka_unit_test_setup_teardown(t_unknown_type, setup, teardown),
		cmocka_unit_test_setup_teardown(t_mixed_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(t_skipping, setup, teardown),
		cmocka_unit_test_setup_teardown(t_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(t_media_types, setup, teardown),
		cmocka_unit_test_setup_teardown(t_bad_json, setup, teardown),
		cmocka_unit_test_setup_teardown(t_titles_are_capped, setup, teardown),
		cmocka_unit_test_setup_teardown(t_uri, setup, teardown),
		cmocka_unit_test_setup_teardown(t_lifetime, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
