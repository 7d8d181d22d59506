/* sentry_items: event summaries, session updates, session aggregates,
 * client reports and the rate-limit header, on payloads shaped as
 * @sentry/node and @sentry/browser 8/9 send them (and the examples of
 * develop.sentry.dev), then every way each can be wrong. As in
 * test_envelope.c, JSON is written with single quotes and turned into
 * double quotes (dq()); none of the texts needs a literal apostrophe. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "core/arena.h"
#include "core/err.h"
#include "events/envelope.h"
#include "events/sentry_items.h"

static struct arena *A;

static int setup(void **state)
{
	A = arena_create(0);
	return 0;
}

static int teardown(void **state)
{
	arena_destroy(A);
	A = NULL;
	return 0;
}

/* s with every ' turned into ", in the arena. */
static char *dq(const char *s)
{
	char *d = arena_strdup(A, s), *p;

	for (p = d; *p; p++)
		if (*p == '\'')
			*p = '"';
	return d;
}

/* Summary of the event s (single-quoted JSON). */
static int summarize(const char *s, struct sentry_summary *out)
{
	struct json_object *ev = json_tokener_parse(dq(s));
	int rc;

	assert_non_null(ev);
	rc = sentry_event_summary(ev, out);
	json_object_put(ev);
	return rc;
}

static int session(const char *s, struct sentry_session *out)
{
	const char *d = dq(s);

	return sentry_session_parse(d, strlen(d), out);
}

static int sessions(const char *s, struct sentry_aggregate **g, size_t *n)
{
	const char *d = dq(s);

	return sentry_sessions_parse(d, strlen(d), A, g, n);
}

static int report(const char *s, uint64_t *total)
{
	const char *d = dq(s);

	return sentry_client_report_parse(d, strlen(d), total);
}

/* Valid UTF-8, for cut strings. */
static int utf8_ok(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		int k = *p < 0x80 ? 0 : (*p & 0xE0) == 0xC0 ? 1 : (*p & 0xF0) == 0xE0 ? 2
			: (*p & 0xF8) == 0xF0 ? 3 : -1;

		if (k < 0)
			return 0;
		p++;
		while (k--)
			if ((*p++ & 0xC0) != 0x80)
				return 0;
	}
	return 1;
}

/* ---- events ---- */

#define NODE_EVENT                                                                         \
	"{'event_id':'0c1ad85a0f9a4b5e8e2f4c1a7d6b3e90','timestamp':1732097730.12,"            \
	"'platform':'node','level':'error','server_name':'api-1',"                             \
	"'environment':'production','release':'api@1.4.2',"                                   \
	"'exception':{'values':[{'type':'TypeError',"                                          \
	"'value':'Cannot read properties of undefined (reading id)',"                          \
	"'stacktrace':{'frames':[{'filename':'/srv/api/dist/routes/users.js',"                 \
	"'function':'getUser','lineno':42,'colno':17,'in_app':true}]},"                        \
	"'mechanism':{'type':'middleware','handled':false}}]},"                                \
	"'request':{'method':'GET','url':'http://localhost:3000/users/42',"                    \
	"'headers':{'host':'localhost:3000','user-agent':'curl/8.5.0'}},"                      \
	"'transaction':'GET /users/:id',"                                                      \
	"'contexts':{'trace':{'trace_id':'3b9e1c3f4f2a4d0f9a7c2b8e6d5f4a31',"                  \
	"'span_id':'9a7c2b8e6d5f4a31'},'runtime':{'name':'node','version':'v22.11.0'}},"       \
	"'sdk':{'name':'sentry.javascript.node','version':'8.40.0',"                          \
	"'integrations':['Http','Express'],'packages':[{'name':'npm:@sentry/node',"            \
	"'version':'8.40.0'}]},'modules':{'express':'4.21.1'}}"

static void t_node_event(void **state)
{
	struct sentry_summary s;

	assert_int_equal(summarize(NODE_EVENT, &s), 0);
	assert_string_equal(s.event_id, "0c1ad85a0f9a4b5e8e2f4c1a7d6b3e90");
	assert_string_equal(s.level, "error");
	assert_string_equal(s.type, "");
	assert_false(s.is_transaction);
	assert_string_equal(s.release, "api@1.4.2");
	assert_string_equal(s.environment, "production");
	assert_string_equal(s.platform, "node");
	assert_string_equal(s.uri, "http://localhost:3000/users/42");
	assert_string_equal(s.transaction, "GET /users/:id");
	assert_string_equal(s.message, "");
	assert_int_equal(s.timestamp_ms, 1732097730120LL);
}

/* @sentry/browser 9: no type, an unhandled error, the page in request. */
static void t_browser_event(void **state)
{
	struct sentry_summary s;

	assert_int_equal(summarize(
		"{'exception':{'values':[{'type':'ReferenceError','value':'gtag is not defined',"
		"'stacktrace':{'frames':[{'filename':'https://app.example.com/assets/index-3f9a1c2b.js',"
		"'function':'onClick','in_app':true,'lineno':1,'colno':5123}]},"
		"'mechanism':{'type':'onerror','handled':false}}]},'level':'error',"
		"'event_id':'8F0A1B2C-3D4E-4F5A-9B8C-7D6E5F4A3B2C','platform':'javascript',"
		"'request':{'url':'https://app.example.com/checkout?step=2',"
		"'headers':{'User-Agent':'Mozilla/5.0','Referer':'https://app.example.com/cart'}},"
		"'timestamp':1736510399.901,'environment':'staging','release':'web@2.0.0',"
		"'sdk':{'name':'sentry.javascript.browser','version':'9.5.0'},"
		"'breadcrumbs':[{'timestamp':1736510398.1,'category':'ui.click','message':'button'}],"
		"'user':{'ip_address':'{{auto}}'},'transaction':'/checkout'}", &s), 0);
	assert_string_equal(s.event_id, "8f0a1b2c3d4e4f5a9b8c7d6e5f4a3b2c");
	assert_string_equal(s.platform, "javascript");
	assert_string_equal(s.uri, "https://app.example.com/checkout?step=2");
	assert_string_equal(s.environment, "staging");
	assert_string_equal(s.release, "web@2.0.0");
	assert_string_equal(s.transaction, "/checkout");
	assert_int_equal(s.timestamp_ms, 1736510399901LL);
}

/* captureMessage: message as a string (v8/v9), logentry for a
 * parameterized string, and the older {message, formatted} object. */
static void t_messages(void **state)
{
	struct sentry_summary s;

	assert_int_equal(summarize("{'event_id':'0c1ad85a0f9a4b5e8e2f4c1a7d6b3e90','level':'info',"
				   "'message':'Payment webhook retried 3 times','platform':'node',"
				   "'timestamp':1732097730}", &s), 0);
	assert_string_equal(s.message, "Payment webhook retried 3 times");
	assert_string_equal(s.level, "info");
	assert_int_equal(s.timestamp_ms, 1732097730000LL);

	assert_int_equal(summarize("{'logentry':{'message':'User %s failed','params':['bob'],"
				   "'formatted':'User bob failed'},'message':'not this'}", &s), 0);
	assert_string_equal(s.message, "User bob failed");
	assert_int_equal(summarize("{'logentry':{'message':'User %s failed','params':['bob']}}", &s), 0);
	assert_string_equal(s.message, "User %s failed");
	assert_int_equal(summarize("{'logentry':{'formatted':'','message':''},'message':'plain'}", &s), 0);
	assert_string_equal(s.message, "plain");
	assert_int_equal(summarize("{'message':{'message':'tmpl %d','formatted':'tmpl 5'}}", &s), 0);
	assert_string_equal(s.message, "tmpl 5");
	assert_int_equal(summarize("{'message':{'message':'tmpl %d','params':[5]}}", &s), 0);
	assert_string_equal(s.message, "tmpl %d");
	assert_int_equal(summarize("{'message':42,'logentry':'no'}", &s), 0);
	assert_string_equal(s.message, "");
}

static void t_transaction(void **state)
{
	struct sentry_summary s;

	assert_int_equal(summarize(
		"{'type':'transaction','transaction':'GET /api/orders','start_timestamp':1732097730.001,"
		"'timestamp':1732097730.250,'event_id':'1c1ad85a0f9a4b5e8e2f4c1a7d6b3e90',"
		"'contexts':{'trace':{'op':'http.server','status':'ok',"
		"'trace_id':'3b9e1c3f4f2a4d0f9a7c2b8e6d5f4a31','span_id':'9a7c2b8e6d5f4a31'}},"
		"'spans':[{'op':'db','description':'SELECT 1','start_timestamp':1732097730.1,"
		"'timestamp':1732097730.2,'span_id':'aa7c2b8e6d5f4a31',"
		"'trace_id':'3b9e1c3f4f2a4d0f9a7c2b8e6d5f4a31'}],'platform':'node',"
		"'transaction_info':{'source':'route'}}", &s), 0);
	assert_true(s.is_transaction);
	assert_string_equal(s.type, "transaction");
	assert_string_equal(s.transaction, "GET /api/orders");
	assert_string_equal(s.level, "error");
	assert_int_equal(s.timestamp_ms, 1732097730250LL);
	assert_int_equal(summarize("{'type':'feedback','contexts':{'feedback':{'message':'broken'}}}", &s), 0);
	assert_false(s.is_transaction);
	assert_string_equal(s.type, "feedback");
	assert_int_equal(summarize("{'type':'Transaction'}", &s), 0);
	assert_false(s.is_transaction);
}

static void t_levels(void **state)
{
	static const char *const cases[][2] = {
		{ "fatal", "fatal" }, { "critical", "fatal" }, { "error", "error" },
		{ "warning", "warning" }, { "warn", "warning" }, { "info", "info" },
		{ "log", "info" }, { "debug", "debug" }, { "ERROR", "error" },
		{ "trace", "error" }, { "", "error" }, { "fatal ", "error" },
	};
	struct sentry_summary s;
	char ev[64];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(ev, sizeof(ev), "{'level':'%s'}", cases[i][0]);
		assert_int_equal(summarize(ev, &s), 0);
		assert_string_equal(s.level, cases[i][1]);
	}
	assert_int_equal(summarize("{'level':3}", &s), 0);
	assert_string_equal(s.level, "error");
	assert_int_equal(summarize("{}", &s), 0);
	assert_string_equal(s.level, "error");
}

static void t_event_ids(void **state)
{
	static const char *const bad[] = {
		"0c1ad85a0f9a4b5e8e2f4c1a7d6b3e9",    /* 31 */
		"0c1ad85a0f9a4b5e8e2f4c1a7d6b3e900",  /* 33 */
		"0c1ad85a-0f9a4b5e-8e2f-4c1a7d6b3e90", /* dashes misplaced */
		"0c1ad85a0f9a4b5e8e2f4c1a7d6b3e9g",
		"",
	};
	struct sentry_summary s;
	char ev[96];
	size_t i;

	assert_int_equal(summarize("{'event_id':'0C1AD85A-0F9A-4B5E-8E2F-4C1A7D6B3E90'}", &s), 0);
	assert_string_equal(s.event_id, "0c1ad85a0f9a4b5e8e2f4c1a7d6b3e90");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(ev, sizeof(ev), "{'event_id':'%s'}", bad[i]);
		assert_int_equal(summarize(ev, &s), 0);
		assert_string_equal(s.event_id, "");
	}
	assert_int_equal(summarize("{'event_id':12345}", &s), 0);
	assert_string_equal(s.event_id, "");
}

static void t_timestamps(void **state)
{
	static const struct {
		const char *ts;
		int64_t ms;
	} cases[] = {
		{ "'2024-11-20T10:15:30.123Z'", 1732097730123LL },
		{ "'2024-11-20T10:15:30Z'", 1732097730000LL },
		{ "'2024-11-20t10:15:30.1z'", 1732097730100LL },
		{ "'2024-11-20 10:15:30.123456789Z'", 1732097730123LL },
		{ "'2024-11-20T12:15:30.123+02:00'", 1732097730123LL },
		{ "'2024-11-20T05:15:30.123-05:00'", 1732097730123LL },
		{ "'2024-11-20T10:15:30.123'", 1732097730123LL },  /* no offset: UTC */
		{ "'2024-02-29T00:00:00Z'", 1709164800000LL },
		{ "'2000-02-29T00:00:00Z'", 951782400000LL },
		{ "'1970-01-01T00:00:00Z'", 0 },
		{ "'2016-12-31T23:59:60Z'", 1483228800000LL },      /* leap second */
		{ "'9999-12-31T23:59:59.999Z'", 253402300799999LL },
		{ "1732097730", 1732097730000LL },
		{ "1732097730.0005", 1732097730001LL },
		{ "1.5", 1500 },
		{ "0", 0 },
		/* Invalid: 0. */
		{ "'2023-02-29T00:00:00Z'", 0 }, { "'1900-02-29T00:00:00Z'", 0 },
		{ "'2024-13-01T00:00:00Z'", 0 }, { "'2024-04-31T00:00:00Z'", 0 },
		{ "'2024-11-20T24:00:00Z'", 0 }, { "'2024-11-20T10:60:00Z'", 0 },
		{ "'2024-11-20T10:15:61Z'", 0 }, { "'2024-11-20'", 0 },
		{ "'2024-11-20T10:15Z'", 0 }, { "'2024-11-20T10:15:30.Z'", 0 },
		{ "'2024-11-20T10:15:30+0200'", 0 }, { "'2024-11-20T10:15:30+24:00'", 0 },
		{ "'2024-11-20T10:15:30Z '", 0 }, { "' 2024-11-20T10:15:30Z'", 0 },
		{ "'1969-12-31T23:59:59Z'", 0 }, { "'1970-01-01T00:00:00+00:01'", 0 },
		{ "'10000-01-01T00:00:00Z'", 0 }, { "'1732097730'", 0 }, { "''", 0 },
		{ "-1", 0 }, { "253402300800", 0 }, { "1e300", 0 }, { "true", 0 },
		{ "[1]", 0 }, { "null", 0 },
	};
	struct sentry_summary s;
	char ev[96];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(ev, sizeof(ev), "{'timestamp':%s}", cases[i].ts);
		assert_int_equal(summarize(ev, &s), 0);
		if (s.timestamp_ms != cases[i].ms)
			fail_msg("%s: %lld, not %lld", cases[i].ts, (long long)s.timestamp_ms,
				 (long long)cases[i].ms);
	}
	/* Not finite: json-c builds such doubles; JSON cannot spell them. */
	{
		struct json_object *ev2 = json_object_new_object();

		json_object_object_add(ev2, "timestamp", json_object_new_double(NAN));
		assert_int_equal(sentry_event_summary(ev2, &s), 0);
		assert_int_equal(s.timestamp_ms, 0);
		json_object_object_add(ev2, "timestamp", json_object_new_double(INFINITY));
		assert_int_equal(sentry_event_summary(ev2, &s), 0);
		assert_int_equal(s.timestamp_ms, 0);
		json_object_put(ev2);
	}
}

/* Fields are cut to fit, before a character and never inside one, and at
 * a NUL the sender escaped; wrong types count as absent. */
static void t_cuts_and_types(void **state)
{
	struct sentry_summary s;
	struct json_object *ev = json_object_new_object(), *req = json_object_new_object();
	char big[4000];
	size_t i;

	/* 3-byte characters: 1024 bytes hold 341 of them, 1023 bytes. */
	for (i = 0; i + 3 < sizeof(big); i += 3)
		memcpy(big + i, "\xe2\x82\xac", 3);
	big[i] = '\0';
	json_object_object_add(ev, "message", json_object_new_string(big));
	json_object_object_add(ev, "release", json_object_new_string(big + 1 + 3)); /* a bad start */
	json_object_object_add(req, "url", json_object_new_string_len("https://a.example/\0x", 20));
	json_object_object_add(ev, "request", req);
	json_object_object_add(ev, "environment", json_object_new_string("\xc3\xa9t\xc3\xa9"));
	assert_int_equal(sentry_event_summary(ev, &s), 0);
	assert_int_equal(strlen(s.message), 1023);
	assert_true(utf8_ok(s.message));
	assert_true(strlen(s.release) <= SENTRY_RELEASE_MAX);
	assert_string_equal(s.uri, "https://a.example/");
	assert_string_equal(s.environment, "\xc3\xa9t\xc3\xa9");
	json_object_put(ev);

	/* 4-byte characters and a field exactly full. */
	ev = json_object_new_object();
	for (i = 0; i + 4 <= 4 * 60; i += 4)
		memcpy(big + i, "\xf0\x9f\x98\x80", 4);
	big[i] = '\0';
	json_object_object_add(ev, "environment", json_object_new_string(big));
	json_object_object_add(ev, "platform", json_object_new_string("abcdefghijklmnopqrstuvwxyz012345"));
	assert_int_equal(sentry_event_summary(ev, &s), 0);
	assert_int_equal(strlen(s.environment), 64);
	assert_true(utf8_ok(s.environment));
	assert_string_equal(s.platform, "abcdefghijklmnopqrstuvwxyz012345");
	json_object_put(ev);

	assert_int_equal(summarize("{'release':1,'environment':['a'],'platform':{},'request':'x',"
				   "'transaction':true,'type':5,'timestamp':'x'}", &s), 0);
	assert_string_equal(s.release, "");
	assert_string_equal(s.environment, "");
	assert_string_equal(s.platform, "");
	assert_string_equal(s.uri, "");
	assert_string_equal(s.transaction, "");
	assert_string_equal(s.type, "");
	assert_int_equal(s.timestamp_ms, 0);
	assert_int_equal(summarize("{'release':null,'request':{'url':null}}", &s), 0);
	assert_string_equal(s.release, "");
}

static void t_event_not_object(void **state)
{
	struct sentry_summary s;
	struct json_object *arr = json_object_new_array();

	memset(&s, 'x', sizeof(s));
	assert_int_equal(sentry_event_summary(NULL, &s), INLET_EINVAL);
	assert_string_equal(s.level, "error");
	assert_string_equal(s.event_id, "");
	assert_int_equal(sentry_event_summary(arr, &s), INLET_EINVAL);
	json_object_put(arr);
}

/* ---- sessions ---- */

static void t_session_browser(void **state)
{
	struct sentry_session s;

	/* @sentry/browser 9 at page load. */
	assert_int_equal(session("{'sid':'8f0a1b2c3d4e4f5a9b8c7d6e5f4a3b2c','init':true,"
				 "'started':'2025-01-10T11:59:59.900Z','timestamp':'2025-01-10T11:59:59.901Z',"
				 "'status':'ok','errors':0,'attrs':{'release':'web@2.0.0',"
				 "'environment':'production','ip_address':'{{auto}}',"
				 "'user_agent':'Mozilla/5.0 (X11; Linux x86_64)'}}", &s), 0);
	assert_string_equal(s.sid, "8f0a1b2c3d4e4f5a9b8c7d6e5f4a3b2c");
	assert_string_equal(s.did, "");
	assert_true(s.init);
	assert_int_equal(s.status, SENTRY_SESSION_OK);
	assert_string_equal(sentry_session_status_name(s.status), "ok");
	assert_int_equal(s.errors, 0);
	assert_int_equal(s.started_ms, 1736510399900LL);
	assert_string_equal(s.release, "web@2.0.0");
	assert_string_equal(s.environment, "production");

	/* The same session after an error, then crashed without a count. */
	assert_int_equal(session("{'sid':'8f0a1b2c3d4e4f5a9b8c7d6e5f4a3b2c','init':false,"
				 "'started':'2025-01-10T11:59:59.900Z','status':'ok','errors':2,"
				 "'did':'u_123','duration':12.5,'attrs':{'release':'web@2.0.0'}}", &s), 0);
	assert_false(s.init);
	assert_int_equal(s.errors, 2);
	assert_string_equal(s.did, "u_123");
	assert_string_equal(s.environment, "");
	assert_int_equal(session("{'sid':'x','started':1736510399.9,'status':'crashed',"
				 "'attrs':{'release':'web@2.0.0'}}", &s), 0);
	assert_int_equal(s.status, SENTRY_SESSION_CRASHED);
	assert_int_equal(s.errors, 1); /* forced, as Sentry does */
	assert_int_equal(s.started_ms, 1736510399900LL);
}

/* The spec's example, and every status. */
static void t_session_spec(void **state)
{
	static const char *const st[] = { "ok", "exited", "crashed", "abnormal", "errored", "unhandled" };
	struct sentry_session s;
	char p[256];
	size_t i;

	assert_int_equal(session("{'sid':'7c7b6585-f901-4351-bf8d-02711b721929',"
				 "'did':'optional distinct user id','init':true,"
				 "'started':'2020-02-07T14:16:00Z','duration':60,'status':'exited',"
				 "'attrs':{'release':'my-project-name@1.0.0','environment':'environment name',"
				 "'ip_address':'optional user ip address for filtering',"
				 "'user_agent':'optional user agent for filtering'}}", &s), 0);
	assert_string_equal(s.sid, "7c7b6585-f901-4351-bf8d-02711b721929");
	assert_string_equal(s.did, "optional distinct user id");
	assert_int_equal(s.status, SENTRY_SESSION_EXITED);
	assert_int_equal(s.started_ms, 1581084960000LL);
	assert_string_equal(s.environment, "environment name");
	for (i = 0; i < sizeof(st) / sizeof(*st); i++) {
		snprintf(p, sizeof(p), "{'started':'2020-02-07T14:16:00Z','status':'%s',"
			 "'attrs':{'release':'r'}}", st[i]);
		assert_int_equal(session(p, &s), 0);
		assert_int_equal(s.status, (int)i);
		assert_string_equal(sentry_session_status_name(s.status), st[i]);
		assert_string_equal(s.sid, ""); /* absent is allowed */
	}
	assert_string_equal(sentry_session_status_name((enum sentry_session_status)42), "ok");
	/* A numeric did, as older SDKs send; a huge error count is capped. */
	assert_int_equal(session("{'did':12345,'errors':18446744073709551615,"
				 "'started':'2020-02-07T14:16:00Z','attrs':{'release':'r'}}", &s), 0);
	assert_string_equal(s.did, "12345");
	assert_int_equal(s.errors, SENTRY_COUNT_MAX);
	/* White space around the object is fine. */
	assert_int_equal(session(" \n{'started':0,'attrs':{'release':'r'}}\r\n ", &s), 0);
}

static void t_session_invalid(void **state)
{
	static const char *const bad[] = {
		"{'sid':5,'started':0,'attrs':{'release':'r'}}",
		"{'sid':'0123456789012345678901234567890123456789012345678901234567890123x',"
		"'started':0,'attrs':{'release':'r'}}",
		"{'sid':'a\\nb','started':0,'attrs':{'release':'r'}}",
		"{'did':true,'started':0,'attrs':{'release':'r'}}",
		"{'did':1.5,'started':0,'attrs':{'release':'r'}}",
		"{'init':'true','started':0,'attrs':{'release':'r'}}",
		"{'init':1,'started':0,'attrs':{'release':'r'}}",
		"{'status':'running','started':0,'attrs':{'release':'r'}}",
		"{'status':'OK','started':0,'attrs':{'release':'r'}}",
		"{'status':3,'started':0,'attrs':{'release':'r'}}",
		"{'errors':-1,'started':0,'attrs':{'release':'r'}}",
		"{'errors':1.5,'started':0,'attrs':{'release':'r'}}",
		"{'errors':'2','started':0,'attrs':{'release':'r'}}",
		"{'attrs':{'release':'r'}}",
		"{'started':null,'attrs':{'release':'r'}}",
		"{'started':'yesterday','attrs':{'release':'r'}}",
		"{'started':-5,'attrs':{'release':'r'}}",
		"{'started':0}",
		"{'started':0,'attrs':'r'}",
		"{'started':0,'attrs':{}}",
		"{'started':0,'attrs':{'release':''}}",
		"{'started':0,'attrs':{'release':5}}",
		"{'started':0,'attrs':{'release':'a\\tb'}}",
		"{'started':0,'attrs':{'release':'r','environment':7}}",
		"{'started':0,'attrs':{'release':'r','environment':'a\\u0000b'}}",
		"{'started':0,'attrs':{'release':'r','environment':"
		"'01234567890123456789012345678901234567890123456789012345678901234'}}",
		"[]", "'x'", "5", "", " ", "{", "{'started':0,'attrs':{'release':'r'}}x",
		"{'started':0,'attrs':{'release':'r'}}{}", "{'started':0,'attrs':{'release':'r'},}",
		"{'started':0,'attrs':{'release':'r'}} // c",
	};
	struct sentry_session s;
	char rel[SENTRY_RELEASE_MAX + 2];
	char p[512];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&s, 'x', sizeof(s));
		if (session(bad[i], &s) != INLET_EINVAL)
			fail_msg("accepted: %s", bad[i]);
		assert_string_equal(s.sid, "");
		assert_string_equal(s.release, "");
	}
	/* Release of 200 bytes is fine, 201 is not. */
	memset(rel, 'r', SENTRY_RELEASE_MAX);
	rel[SENTRY_RELEASE_MAX] = '\0';
	snprintf(p, sizeof(p), "{'started':0,'attrs':{'release':'%s'}}", rel);
	assert_int_equal(session(p, &s), 0);
	assert_int_equal(strlen(s.release), SENTRY_RELEASE_MAX);
	rel[SENTRY_RELEASE_MAX] = 'r';
	rel[SENTRY_RELEASE_MAX + 1] = '\0';
	snprintf(p, sizeof(p), "{'started':0,'attrs':{'release':'%s'}}", rel);
	assert_int_equal(session(p, &s), INLET_EINVAL);
	/* Bytes: invalid UTF-8, a NUL after the object, NULL. */
	assert_int_equal(sentry_session_parse("{\"sid\":\"\xff\",\"started\":0,\"attrs\":{\"release\":\"r\"}}",
					      47, &s), INLET_EINVAL);
	assert_int_equal(sentry_session_parse("{\"started\":0,\"attrs\":{\"release\":\"r\"}}\0", 38, &s),
			 INLET_EINVAL);
	assert_int_equal(sentry_session_parse(NULL, 0, &s), INLET_EINVAL);
}

static void t_session_limits(void **state)
{
	struct sentry_session s;
	char *p = arena_alloc(A, SENTRY_ITEM_MAX + 64);
	size_t n, i;

	/* Padding with white space up to the cap, then one byte more. */
	n = (size_t)snprintf(p, 64, "{\"started\":0,\"attrs\":{\"release\":\"r\"}}");
	memset(p + n, ' ', SENTRY_ITEM_MAX - n);
	assert_int_equal(sentry_session_parse(p, SENTRY_ITEM_MAX, &s), 0);
	p[SENTRY_ITEM_MAX] = ' ';
	assert_int_equal(sentry_session_parse(p, SENTRY_ITEM_MAX + 1, &s), INLET_ETOOBIG);

	/* Nesting: SENTRY_JSON_DEPTH levels in an ignored field, then one more. */
	for (i = 0; i < 2; i++) {
		size_t depth = SENTRY_JSON_DEPTH + i, k;

		n = (size_t)snprintf(p, 64, "{\"started\":0,\"attrs\":{\"release\":\"r\"},\"x\":");
		for (k = 0; k < depth - 1; k++)
			p[n++] = '[';
		p[n++] = '1';
		for (k = 0; k < depth - 1; k++)
			p[n++] = ']';
		p[n++] = '}';
		assert_int_equal(sentry_session_parse(p, n, &s), i ? INLET_EINVAL : 0);
	}
}

/* ---- aggregates ---- */

static void t_sessions_node(void **state)
{
	struct sentry_aggregate *g;
	size_t n;

	/* @sentry/node 9 in server mode, one flush with two minutes. */
	assert_int_equal(sessions("{'aggregates':[{'started':'2024-11-20T10:15:00.000Z','exited':3,'errored':1},"
				  "{'started':'2024-11-20T10:16:00.000Z','exited':120,'crashed':2}],"
				  "'attrs':{'environment':'production','release':'api@1.4.2'}}", &g, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(g[0].started_ms, 1732097700000LL);
	assert_int_equal(g[0].exited, 3);
	assert_int_equal(g[0].errored, 1);
	assert_int_equal(g[0].crashed, 0);
	assert_int_equal(g[0].abnormal, 0);
	assert_null(g[0].did);
	assert_string_equal(g[0].release, "api@1.4.2");
	assert_string_equal(g[0].environment, "production");
	assert_int_equal(g[1].started_ms, 1732097760000LL);
	assert_int_equal(g[1].exited, 120);
	assert_int_equal(g[1].crashed, 2);
	assert_ptr_equal(g[1].release, g[0].release);

	/* The spec's example: a did, no environment. */
	assert_int_equal(sessions("{'aggregates':[{'started':'2020-02-07T14:16:00Z','exited':123},"
				  "{'started':'2020-02-07T14:16:00Z','did':'optional distinct user id',"
				  "'exited':12,'errored':3,'abnormal':1}],"
				  "'attrs':{'release':'my-project-name@1.0.0'}}", &g, &n), 0);
	assert_int_equal(n, 2);
	assert_null(g[0].did);
	assert_string_equal(g[1].did, "optional distinct user id");
	assert_int_equal(g[1].abnormal, 1);
	assert_string_equal(g[1].environment, "");

	/* Nothing to count; a count past the cap. */
	g = (struct sentry_aggregate *)(uintptr_t)1;
	assert_int_equal(sessions("{'aggregates':[],'attrs':{'release':'r'}}", &g, &n), 0);
	assert_null(g);
	assert_int_equal(n, 0);
	assert_int_equal(sessions("{'aggregates':[{'started':0,'exited':9999999999,'did':77}],"
				  "'attrs':{'release':'r'}}", &g, &n), 0);
	assert_int_equal(g[0].exited, SENTRY_COUNT_MAX);
	assert_string_equal(g[0].did, "77");
}

static void t_sessions_invalid(void **state)
{
	static const char *const bad[] = {
		"{'attrs':{'release':'r'}}",
		"{'aggregates':{},'attrs':{'release':'r'}}",
		"{'aggregates':[1],'attrs':{'release':'r'}}",
		"{'aggregates':[{}],'attrs':{'release':'r'}}",
		"{'aggregates':[{'started':'x'}],'attrs':{'release':'r'}}",
		"{'aggregates':[{'started':0,'exited':-1}],'attrs':{'release':'r'}}",
		"{'aggregates':[{'started':0,'errored':1.0}],'attrs':{'release':'r'}}",
		"{'aggregates':[{'started':0,'crashed':'1'}],'attrs':{'release':'r'}}",
		"{'aggregates':[{'started':0,'abnormal':true}],'attrs':{'release':'r'}}",
		"{'aggregates':[{'started':0,'did':[]}],'attrs':{'release':'r'}}",
		"{'aggregates':[{'started':0},{'started':0,'exited':-3}],'attrs':{'release':'r'}}",
		"{'aggregates':[{'started':0}]}",
		"{'aggregates':[{'started':0}],'attrs':{'environment':'e'}}",
		"{'aggregates':[],'attrs':{}}",
		"[]", "",
	};
	struct sentry_aggregate *g;
	char *p;
	size_t n, i, k, size;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		g = (struct sentry_aggregate *)(uintptr_t)1;
		n = 7;
		if (sessions(bad[i], &g, &n) != INLET_EINVAL)
			fail_msg("accepted: %s", bad[i]);
		assert_null(g);
		assert_int_equal(n, 0);
	}
	/* SENTRY_AGGREGATES_MAX buckets, then one more. */
	size = 64 * (SENTRY_AGGREGATES_MAX + 2);
	p = arena_alloc(A, size);
	for (k = SENTRY_AGGREGATES_MAX; k <= SENTRY_AGGREGATES_MAX + 1; k++) {
		size_t len = (size_t)snprintf(p, size, "{\"aggregates\":[");

		for (i = 0; i < k; i++)
			len += (size_t)snprintf(p + len, size - len, "%s{\"started\":%zu,\"exited\":1}",
						i ? "," : "", i * 60);
		len += (size_t)snprintf(p + len, size - len, "],\"attrs\":{\"release\":\"r\"}}");
		assert_true(len < size);
		assert_int_equal(sentry_sessions_parse(p, len, A, &g, &n),
				 k > SENTRY_AGGREGATES_MAX ? INLET_ETOOMANY : 0);
		assert_int_equal(n, k > SENTRY_AGGREGATES_MAX ? 0 : k);
	}
}

/* ---- client reports ---- */

static void t_client_report(void **state)
{
	uint64_t total = 99;

	/* @sentry/browser 8: sampled-out transactions with their spans, and an
	 * error dropped by beforeSend. */
	assert_int_equal(report("{'timestamp':1736510460.5,'discarded_events':["
				"{'reason':'before_send','category':'error','quantity':1},"
				"{'reason':'sample_rate','category':'transaction','quantity':12},"
				"{'reason':'sample_rate','category':'span','quantity':40}]}", &total), 0);
	assert_int_equal(total, 53);
	/* The spec's example. */
	assert_int_equal(report("{'timestamp':'2020-02-07T14:16:00Z','discarded_events':["
				"{'reason':'queue_overflow','category':'error','quantity':23},"
				"{'reason':'queue_overflow','category':'transaction','quantity':1321}]}", &total), 0);
	assert_int_equal(total, 1344);
	/* A relay's lists add in; nothing listed is 0. */
	assert_int_equal(report("{'discarded_events':[{'reason':'network_error','category':'replay','quantity':2}],"
				"'rate_limited_events':[{'reason':'key_quota','category':'error','quantity':5}],"
				"'filtered_events':[{'reason':'browser-extensions','category':'error','quantity':7}],"
				"'filtered_sampling_events':[{'reason':'Sampled:0','category':'transaction','quantity':11}]}",
				&total), 0);
	assert_int_equal(total, 25);
	assert_int_equal(report("{'timestamp':1736510460}", &total), 0);
	assert_int_equal(total, 0);
	assert_int_equal(report("{'discarded_events':[],'discarded_events_unknown':5}", &total), 0);
	assert_int_equal(total, 0);
	/* Quantities are capped. */
	assert_int_equal(report("{'discarded_events':[{'reason':'a','category':'b','quantity':9223372036854775807},"
				"{'reason':'a','category':'b','quantity':1}]}", &total), 0);
	assert_int_equal(total, (uint64_t)SENTRY_COUNT_MAX + 1);
}

static void t_client_report_invalid(void **state)
{
	static const char *const bad[] = {
		"{'discarded_events':{}}",
		"{'discarded_events':[1]}",
		"{'discarded_events':[{'category':'error','quantity':1}]}",
		"{'discarded_events':[{'reason':'x','quantity':1}]}",
		"{'discarded_events':[{'reason':'x','category':5,'quantity':1}]}",
		"{'discarded_events':[{'reason':'x','category':'error'}]}",
		"{'discarded_events':[{'reason':'x','category':'error','quantity':null}]}",
		"{'discarded_events':[{'reason':'x','category':'error','quantity':-1}]}",
		"{'discarded_events':[{'reason':'x','category':'error','quantity':1.5}]}",
		"{'discarded_events':[{'reason':'x','category':'error','quantity':'1'}]}",
		"{'discarded_events':[{'reason':'x','category':'e','quantity':1}],'filtered_events':5}",
		"[]", "", "nul", "{'a':1}}",
	};
	uint64_t total;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		total = 99;
		if (report(bad[i], &total) != INLET_EINVAL)
			fail_msg("accepted: %s", bad[i]);
		assert_int_equal(total, 0);
	}
	{
		char *p = arena_zalloc(A, SENTRY_ITEM_MAX + 1);

		memset(p, ' ', SENTRY_ITEM_MAX + 1);
		p[0] = '{';
		p[1] = '}';
		assert_int_equal(sentry_client_report_parse(p, SENTRY_ITEM_MAX, &total), 0);
		assert_int_equal(sentry_client_report_parse(p, SENTRY_ITEM_MAX + 1, &total), INLET_ETOOBIG);
	}
}

/* ---- rate limits ---- */

static void t_rate_limit_header(void **state)
{
	char out[SENTRY_RATE_LIMIT_SIZE];
	char small[7] = "xxxxxx";

	sentry_rate_limit_header(60, out, sizeof(out));
	assert_string_equal(out, "60::key");
	sentry_rate_limit_header(0, out, sizeof(out));
	assert_string_equal(out, "1::key");
	sentry_rate_limit_header(4294967295u, out, sizeof(out));
	assert_string_equal(out, "4294967295::key");
	sentry_rate_limit_header(3600, small, sizeof(small));
	assert_string_equal(small, "");
	sentry_rate_limit_header(3600, small, 0); /* nothing written */
	sentry_rate_limit_header(1, small, sizeof(small));
	assert_string_equal(small, "1::key");
}

/* ---- with the envelope parser: items as they arrive ---- */

static void t_from_envelope(void **state)
{
	static const char env[] =
		"{'event_id':'9b2e5c1d7a3f4e608b1c2d3e4f5a6b7c','sent_at':'2025-01-10T12:00:00.000Z',"
		"'sdk':{'name':'sentry.javascript.browser','version':'9.5.0'}}\n"
		"{'type':'event'}\n"
		"{'event_id':'9b2e5c1d7a3f4e608b1c2d3e4f5a6b7c','level':'error','platform':'javascript',"
		"'timestamp':1736510399.5,'release':'web@2.0.0','environment':'production',"
		"'exception':{'values':[{'type':'Error','value':'boom'}]},"
		"'request':{'url':'https://app.example.com/'}}\n"
		"{'type':'session'}\n"
		"{'sid':'8f0a1b2c3d4e4f5a9b8c7d6e5f4a3b2c','init':false,'started':'2025-01-10T11:59:59.900Z',"
		"'timestamp':'2025-01-10T12:00:00.000Z','status':'ok','errors':1,"
		"'attrs':{'release':'web@2.0.0','environment':'production','user_agent':'Mozilla/5.0'}}\n"
		"{'type':'client_report'}\n"
		"{'timestamp':1736510400.1,'discarded_events':[{'reason':'sample_rate','category':'transaction',"
		"'quantity':3},{'reason':'sample_rate','category':'span','quantity':9}]}\n";
	const char *d = dq(env);
	struct env_limits lim;
	struct envelope *e;
	const struct env_item *it;
	struct json_object *ev;
	struct sentry_summary sum;
	struct sentry_session s;
	uint64_t total;

	env_limits_default(&lim);
	assert_int_equal(env_parse(A, d, strlen(d), &lim, &e), 0);
	it = env_find(e, "event");
	ev = json_tokener_parse(arena_strndup(A, it->payload, it->len));
	assert_int_equal(sentry_event_summary(ev, &sum), 0);
	json_object_put(ev);
	assert_string_equal(sum.event_id, e->event_id);
	assert_string_equal(sum.uri, "https://app.example.com/");
	assert_int_equal(sum.timestamp_ms, 1736510399500LL);
	it = env_find(e, "session");
	assert_int_equal(sentry_session_parse(it->payload, it->len, &s), 0);
	assert_int_equal(s.errors, 1);
	it = env_find(e, "client_report");
	assert_int_equal(sentry_client_report_parse(it->payload, it->len, &total), 0);
	assert_int_equal(total, 12);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(t_node_event, setup, teardown),
		cmocka_unit_test_setup_teardown(t_browser_event, setup, teardown),
		cmocka_unit_test_setup_teardown(t_messages, setup, teardown),
		cmocka_unit_test_setup_teardown(t_transaction, setup, teardown),
		cmocka_unit_test_setup_teardown(t_levels, setup, teardown),
		cmocka_unit_test_setup_teardown(t_event_ids, setup, teardown),
		cmocka_unit_test_setup_teardown(t_timestamps, setup, teardown),
		cmocka_unit_test_setup_teardown(t_cuts_and_types, setup, teardown),
		cmocka_unit_test_setup_teardown(t_event_not_object, setup, teardown),
		cmocka_unit_test_setup_teardown(t_session_browser, setup, teardown),
		cmocka_unit_test_setup_teardown(t_session_spec, setup, teardown),
		cmocka_unit_test_setup_teardown(t_session_invalid, setup, teardown),
		cmocka_unit_test_setup_teardown(t_session_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(t_sessions_node, setup, teardown),
		cmocka_unit_test_setup_teardown(t_sessions_invalid, setup, teardown),
		cmocka_unit_test_setup_teardown(t_client_report, setup, teardown),
		cmocka_unit_test_setup_teardown(t_client_report_invalid, setup, teardown),
		cmocka_unit_test_setup_teardown(t_rate_limit_header, setup, teardown),
		cmocka_unit_test_setup_teardown(t_from_envelope, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
