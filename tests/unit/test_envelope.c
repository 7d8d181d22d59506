/* env_parse: Sentry envelopes as @sentry/node and @sentry/browser 8/9 send
 * them, the examples of the envelope spec, and every way one can be
 * malformed or too large. The JSON below is written with single quotes and
 * turned into double quotes before parsing (dq()), so it stays readable;
 * none of the texts needs a literal apostrophe. */
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

struct fx {
	struct arena *a;
	struct env_limits lim;
	struct envelope *e;
};

static int setup(void **state)
{
	static struct fx fx;

	fx.a = arena_create(0);
	env_limits_default(&fx.lim);
	fx.e = NULL;
	*state = &fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	arena_destroy(fx->a);
	return 0;
}

/* s with every ' turned into ", in the arena. */
static char *dq(struct fx *fx, const char *s)
{
	char *d = arena_strdup(fx->a, s), *p;

	for (p = d; *p; p++)
		if (*p == '\'')
			*p = '"';
	return d;
}

/* Parses s (single-quoted JSON, see above) with fx->lim. */
static int parse(struct fx *fx, const char *s)
{
	const char *d = dq(fx, s);

	return env_parse(fx->a, d, strlen(d), &fx->lim, &fx->e);
}

static int parse_raw(struct fx *fx, const void *p, size_t n)
{
	return env_parse(fx->a, p, n, &fx->lim, &fx->e);
}

/* Item i has this type and exactly this payload. */
static void item_is(const struct fx *fx, size_t i, const char *type,
		    const char *payload, size_t len)
{
	const struct env_item *it;

	assert_non_null(fx->e);
	assert_true(i < fx->e->n);
	it = &fx->e->items[i];
	assert_string_equal(it->type, type);
	assert_true(env_item_is(it, type));
	assert_int_equal(it->len, len);
	if (len)
		assert_memory_equal(it->payload, payload, len);
	assert_true(json_object_is_type(it->header, json_type_object));
}

#define ITEM(fx, i, type, payload) item_is(fx, i, type, payload, strlen(payload))

/* Item i's payload, compared after the same quote conversion. */
static void item_json(struct fx *fx, size_t i, const char *type, const char *payload)
{
	const char *d = dq(fx, payload);

	item_is(fx, i, type, d, strlen(d));
}

static const char *header_str(struct json_object *h, const char *name)
{
	struct json_object *v;

	if (!json_object_object_get_ex(h, name, &v))
		return NULL;
	return json_object_get_string(v);
}

/* ---- what the SDKs send ---- */

#define NODE_EVENT_HEADER                                                              \
	"{'event_id':'0c1ad85a0f9a4b5e8e2f4c1a7d6b3e90','sent_at':'2024-11-20T10:15:30.123Z'," \
	"'sdk':{'name':'sentry.javascript.node','version':'8.40.0'},"                      \
	"'trace':{'environment':'production','release':'api@1.4.2',"                       \
	"'public_key':'0123456789abcdef0123456789abcdef',"                                 \
	"'trace_id':'3b9e1c3f4f2a4d0f9a7c2b8e6d5f4a31','sample_rate':'1',"                 \
	"'transaction':'GET /users/:id','sampled':'true'}}"

#define NODE_EVENT                                                                     \
	"{'exception':{'values':[{'type':'TypeError',"                                     \
	"'value':'Cannot read properties of undefined (reading id)',"                      \
	"'stacktrace':{'frames':[{'filename':'node:internal/process/task_queues',"         \
	"'module':'task_queues','function':'process.processTicksAndRejections',"           \
	"'lineno':95,'colno':5,'in_app':false},"                                           \
	"{'filename':'/srv/api/dist/routes/users.js','module':'routes:users',"             \
	"'function':'getUser','lineno':42,'colno':19,'in_app':true,"                       \
	"'pre_context':['  const user = await db.find(id);'],"                             \
	"'context_line':'  return user.profile.id;','post_context':['}']}]},"              \
	"'mechanism':{'type':'onuncaughtexception','handled':false}}]},"                   \
	"'level':'fatal','event_id':'0c1ad85a0f9a4b5e8e2f4c1a7d6b3e90','platform':'node',"  \
	"'contexts':{'trace':{'trace_id':'3b9e1c3f4f2a4d0f9a7c2b8e6d5f4a31',"              \
	"'span_id':'a1b2c3d4e5f60718'},'runtime':{'name':'node','version':'v20.18.0'}},"   \
	"'server_name':'api-1','timestamp':1732097730.12,'environment':'production',"      \
	"'release':'api@1.4.2','sdk':{'integrations':['InboundFilters','FunctionToString'," \
	"'LinkedErrors','Console','Http','OnUncaughtException','OnUnhandledRejection',"    \
	"'ContextLines','LocalVariables','Modules'],'name':'sentry.javascript.node',"      \
	"'version':'8.40.0','packages':[{'name':'npm:@sentry/node','version':'8.40.0'}]}," \
	"'breadcrumbs':[{'timestamp':1732097729.5,'category':'console','level':'log',"     \
	"'message':'listening on :3000 \\u2713'}]}"

/* @sentry/node 8 captureException: header, "\n", item header, "\n",
 * payload, and no newline at the end (serializeEnvelope joins that way). */
static void t_node_event(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(parse(fx, NODE_EVENT_HEADER "\n{'type':'event'}\n" NODE_EVENT), 0);
	assert_int_equal(fx->e->n, 1);
	item_json(fx, 0, "event", NODE_EVENT);
	assert_string_equal(fx->e->event_id, "0c1ad85a0f9a4b5e8e2f4c1a7d6b3e90");
	assert_null(fx->e->dsn);
	assert_string_equal(header_str(fx->e->header, "sent_at"), "2024-11-20T10:15:30.123Z");
	assert_ptr_equal(env_find(fx->e, "event"), &fx->e->items[0]);
	assert_null(env_find(fx->e, "attachment"));
}

/* @sentry/node in server mode flushes aggregated sessions; a release
 * health session update comes alone, with no event_id in the header. */
static void t_node_sessions(void **state)
{
	struct fx *fx = *state;
	static const char aggr[] =
		"{'aggregates':[{'started':'2024-11-20T10:15:00.000Z','exited':3,'errored':1}],"
		"'attrs':{'environment':'production','release':'api@1.4.2'}}";
	static const char session[] =
		"{'sid':'7a3f0c5e2b1d4e6f8a9b0c1d2e3f4a5b','init':false,"
		"'started':'2024-11-20T10:15:00.000Z','timestamp':'2024-11-20T10:16:02.500Z',"
		"'status':'exited','errors':0,'duration':62.5,"
		"'attrs':{'release':'api@1.4.2','environment':'production'}}";

	assert_int_equal(parse(fx, "{'sent_at':'2024-11-20T10:16:00.000Z',"
				   "'sdk':{'name':'sentry.javascript.node','version':'9.1.0'}}\n"
				   "{'type':'sessions'}\n" "{'aggregates':[{'started':'2024-11-20T10:15:00.000Z','exited':3,'errored':1}],"
				   "'attrs':{'environment':'production','release':'api@1.4.2'}}"),
			 0);
	assert_int_equal(fx->e->n, 1);
	item_json(fx, 0, "sessions", aggr);
	assert_string_equal(fx->e->event_id, "");

	assert_int_equal(parse(fx, "{'sent_at':'2024-11-20T10:16:02.501Z',"
				   "'sdk':{'name':'sentry.javascript.node','version':'9.1.0'}}\n"
				   "{'type':'session'}\n" "{'sid':'7a3f0c5e2b1d4e6f8a9b0c1d2e3f4a5b','init':false,"
				   "'started':'2024-11-20T10:15:00.000Z','timestamp':'2024-11-20T10:16:02.500Z',"
				   "'status':'exited','errors':0,'duration':62.5,"
				   "'attrs':{'release':'api@1.4.2','environment':'production'}}"),
			 0);
	item_json(fx, 0, "session", session);
}

/* @sentry/browser 9: an event, then (page load) a session, and a client
 * report whose header carries the dsn (sent with the tunnel option). */
static void t_browser(void **state)
{
	struct fx *fx = *state;
	static const char event[] =
		"{'exception':{'values':[{'type':'Error','value':'boom',"
		"'stacktrace':{'frames':[{'filename':'http://localhost:5173/assets/index-4f2a9c1e.js',"
		"'function':'HTMLButtonElement.onClick','in_app':true,'lineno':1,'colno':20417}]},"
		"'mechanism':{'type':'onerror','handled':false}}]},'level':'error',"
		"'platform':'javascript','request':{'url':'http://localhost:5173/',"
		"'headers':{'User-Agent':'Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0.0.0'}},"
		"'event_id':'5b2c9a0e7d3f4e1a8c6b9d0e1f2a3b4c','timestamp':1736510400.123,"
		"'environment':'production','sdk':{'name':'sentry.javascript.browser','version':'9.5.0'}}";

	assert_int_equal(parse(fx, "{'event_id':'5b2c9a0e7d3f4e1a8c6b9d0e1f2a3b4c',"
				   "'sent_at':'2025-01-10T12:00:00.456Z',"
				   "'sdk':{'name':'sentry.javascript.browser','version':'9.5.0'}}\n"
				   "{'type':'event'}\n"
				   "{'exception':{'values':[{'type':'Error','value':'boom',"
				   "'stacktrace':{'frames':[{'filename':'http://localhost:5173/assets/index-4f2a9c1e.js',"
				   "'function':'HTMLButtonElement.onClick','in_app':true,'lineno':1,'colno':20417}]},"
				   "'mechanism':{'type':'onerror','handled':false}}]},'level':'error',"
				   "'platform':'javascript','request':{'url':'http://localhost:5173/',"
				   "'headers':{'User-Agent':'Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0.0.0'}},"
				   "'event_id':'5b2c9a0e7d3f4e1a8c6b9d0e1f2a3b4c','timestamp':1736510400.123,"
				   "'environment':'production','sdk':{'name':'sentry.javascript.browser','version':'9.5.0'}}"),
			 0);
	item_json(fx, 0, "event", event);

	assert_int_equal(parse(fx, "{'sent_at':'2025-01-10T12:00:00.000Z',"
				   "'sdk':{'name':'sentry.javascript.browser','version':'9.5.0'}}\n"
				   "{'type':'session'}\n"
				   "{'sid':'8f0a1b2c3d4e4f5a9b8c7d6e5f4a3b2c','init':true,"
				   "'started':'2025-01-10T11:59:59.900Z','timestamp':'2025-01-10T12:00:00.000Z',"
				   "'status':'ok','errors':0,'attrs':{'release':'web@2.0.0',"
				   "'environment':'production','user_agent':'Mozilla/5.0'}}"),
			 0);
	assert_int_equal(fx->e->n, 1);
	assert_true(env_item_is(&fx->e->items[0], "session"));

	assert_int_equal(parse(fx, "{'dsn':'https://0123456789abcdef0123456789abcdef@errors.example.com/42'}\n"
				   "{'type':'client_report'}\n"
				   "{'timestamp':1736510460.5,'discarded_events':"
				   "[{'reason':'before_send','category':'error','quantity':1}]}"),
			 0);
	assert_string_equal(fx->e->dsn,
			    "https://0123456789abcdef0123456789abcdef@errors.example.com/42");
	assert_int_equal(fx->e->dsn_len, strlen(fx->e->dsn));
	item_json(fx, 0, "client_report",
		  "{'timestamp':1736510460.5,'discarded_events':"
		  "[{'reason':'before_send','category':'error','quantity':1}]}");
}

/* An event with attachments (scope.addAttachment): items with a length,
 * binary and text, holding newlines, CRLF and NUL bytes, in the middle and
 * at the end of the envelope. Payloads point into the input. */
static void t_attachments(void **state)
{
	struct fx *fx = *state;
	static const char bin[] = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR\n\n";
	static const char txt[] = "line 1\nline 2\r\n";
	char env[1024];
	int n;

	n = snprintf(env, sizeof(env),
		     "{\"event_id\":\"0c1ad85a-0f9a-4b5e-8e2f-4c1a7d6b3e90\",\"sent_at\":\"2024-11-20T10:15:30.123Z\"}\n"
		     "{\"type\":\"event\"}\n"
		     "{\"message\":\"with files\",\"level\":\"error\"}\n"
		     "{\"type\":\"attachment\",\"length\":%zu,\"filename\":\"shot.png\","
		     "\"content_type\":\"image/png\",\"attachment_type\":\"event.attachment\"}\n",
		     sizeof(bin) - 1);
	assert_true(n > 0 && (size_t)n + sizeof(bin) + sizeof(txt) + 100 < sizeof(env));
	memcpy(env + n, bin, sizeof(bin) - 1);
	n += (int)sizeof(bin) - 1;
	n += snprintf(env + n, sizeof(env) - (size_t)n,
		      "\n{\"type\":\"attachment\",\"length\":%zu,\"filename\":\"notes.txt\"}\n",
		      sizeof(txt) - 1);
	memcpy(env + n, txt, sizeof(txt) - 1);
	n += (int)sizeof(txt) - 1;

	assert_int_equal(parse_raw(fx, env, (size_t)n), 0);
	assert_int_equal(fx->e->n, 3);
	/* Dashes dropped from the event_id. */
	assert_string_equal(fx->e->event_id, "0c1ad85a0f9a4b5e8e2f4c1a7d6b3e90");
	ITEM(fx, 0, "event", "{\"message\":\"with files\",\"level\":\"error\"}");
	item_is(fx, 1, "attachment", bin, sizeof(bin) - 1);
	item_is(fx, 2, "attachment", txt, sizeof(txt) - 1);
	assert_true(fx->e->items[1].payload > env && fx->e->items[1].payload < env + n);
	assert_ptr_equal(fx->e->items[2].payload + fx->e->items[2].len, env + n);
	assert_string_equal(header_str(fx->e->items[1].header, "filename"), "shot.png");
	assert_string_equal(header_str(fx->e->items[1].header, "attachment_type"),
			    "event.attachment");

	/* Same with a newline at the end. */
	env[n] = '\n';
	assert_int_equal(parse_raw(fx, env, (size_t)n + 1), 0);
	assert_int_equal(fx->e->n, 3);
	item_is(fx, 2, "attachment", txt, sizeof(txt) - 1);
}

/* The examples of the envelope spec, byte for byte. */
static void t_spec_examples(void **state)
{
	struct fx *fx = *state;
	static const char two[] =
		"{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\","
		"\"dsn\":\"https://e12d836b15bb49d7bbf99e64295d995b:@sentry.io/42\"}\n"
		"{\"type\":\"attachment\",\"length\":10,\"content_type\":\"text/plain\",\"filename\":\"hello.txt\"}\n"
		"\xef\xbb\xbfHello\r\n\n"
		"{\"type\":\"event\",\"length\":41,\"content_type\":\"application/json\",\"filename\":\"application.log\"}\n"
		"{\"message\":\"hello world\",\"level\":\"error\"}\n";
	static const char empties[] =
		"{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\"}\n"
		"{\"type\":\"attachment\",\"length\":0}\n\n"
		"{\"type\":\"attachment\",\"length\":0}\n\n";

	/* With and without the final newline. */
	assert_int_equal(parse_raw(fx, two, sizeof(two) - 1), 0);
	assert_int_equal(fx->e->n, 2);
	ITEM(fx, 0, "attachment", "\xef\xbb\xbfHello\r\n");
	ITEM(fx, 1, "event", "{\"message\":\"hello world\",\"level\":\"error\"}");
	assert_string_equal(fx->e->dsn, "https://e12d836b15bb49d7bbf99e64295d995b:@sentry.io/42");
	assert_int_equal(parse_raw(fx, two, sizeof(two) - 2), 0);
	assert_int_equal(fx->e->n, 2);
	ITEM(fx, 1, "event", "{\"message\":\"hello world\",\"level\":\"error\"}");

	assert_int_equal(parse_raw(fx, empties, sizeof(empties) - 1), 0);
	assert_int_equal(fx->e->n, 2);
	ITEM(fx, 0, "attachment", "");
	ITEM(fx, 1, "attachment", "");
	assert_int_equal(parse_raw(fx, empties, sizeof(empties) - 2), 0);
	assert_int_equal(fx->e->n, 2);

	/* Implicit length, ended by a newline or by the end. */
	assert_int_equal(parse(fx, "{'event_id':'9ec79c33ec9942ab8353589fcb2e04dc'}\n"
				   "{'type':'attachment'}\nhelloworld\n"),
			 0);
	ITEM(fx, 0, "attachment", "helloworld");
	assert_int_equal(parse(fx, "{'event_id':'9ec79c33ec9942ab8353589fcb2e04dc'}\n"
				   "{'type':'attachment'}\nhelloworld"),
			 0);
	ITEM(fx, 0, "attachment", "helloworld");
	assert_int_equal(parse(fx, "{}\n{'type':'session'}\n"
				   "{'started': '2020-02-07T14:16:00Z','attrs':{'release':'sentry-test@1.0.0'}}"),
			 0);
	item_json(fx, 0, "session",
		  "{'started': '2020-02-07T14:16:00Z','attrs':{'release':'sentry-test@1.0.0'}}");
}

/* Items without length one after another; an empty implicit payload; blank
 * lines between items and at the end; an envelope with no items. */
static void t_implicit_and_blank_lines(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(parse(fx, "{}\n{'type':'event'}\n{'a':1}\n{'type':'session'}\n{'b':2}\n"), 0);
	assert_int_equal(fx->e->n, 2);
	item_json(fx, 0, "event", "{'a':1}");
	item_json(fx, 1, "session", "{'b':2}");

	assert_int_equal(parse(fx, "{}\n\n{'type':'event'}\n{'a':1}\n\n\n{'type':'session'}\n{'b':2}\n\n"), 0);
	assert_int_equal(fx->e->n, 2);
	item_json(fx, 1, "session", "{'b':2}");

	/* The line after an implicit-length header is its payload, even when
	 * empty: blank lines are skipped only where a header is due. */
	assert_int_equal(parse(fx, "{}\n{'type':'event'}\n\n{'type':'session'}\n{'b':2}"), 0);
	assert_int_equal(fx->e->n, 2);
	ITEM(fx, 0, "event", "");

	assert_int_equal(parse(fx, "{'event_id':'9ec79c33ec9942ab8353589fcb2e04dc'}"), 0);
	assert_int_equal(fx->e->n, 0);
	assert_int_equal(parse(fx, "{}\n"), 0);
	assert_int_equal(fx->e->n, 0);
	assert_int_equal(parse(fx, "{}\n\n  \n"), 0);
	assert_int_equal(fx->e->n, 0);
	/* White space inside header lines is allowed. */
	assert_int_equal(parse(fx, " { } \n { 'type' : 'event' } \n{}"), 0);
	ITEM(fx, 0, "event", "{}");
	/* Unknown types are kept for the caller to skip. */
	assert_int_equal(parse(fx, "{}\n{'type':'statsd','length':3}\nabc\n{'type':'span'}\n{}"), 0);
	assert_int_equal(fx->e->n, 2);
	ITEM(fx, 0, "statsd", "abc");
	ITEM(fx, 1, "span", "{}");
}

/* CRLF line ends: header lines may end in \r\n; a payload with a length may
 * be followed by \r\n; an implicit-length payload keeps its \r (the spec:
 * the \r is part of the payload). */
static void t_crlf(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(parse(fx, "{'event_id':'9ec79c33ec9942ab8353589fcb2e04dc'}\r\n"
				   "{'type':'attachment','length':5}\r\nhello\r\n"
				   "{'type':'event'}\r\n{'a':1}\r\n\r\n"),
			 0);
	assert_int_equal(fx->e->n, 2);
	ITEM(fx, 0, "attachment", "hello");
	item_json(fx, 1, "event", "{'a':1}\r");
	assert_string_equal(fx->e->event_id, "9ec79c33ec9942ab8353589fcb2e04dc");

	/* The same envelope with LF only. */
	assert_int_equal(parse(fx, "{'event_id':'9ec79c33ec9942ab8353589fcb2e04dc'}\n"
				   "{'type':'attachment','length':5}\nhello\n"
				   "{'type':'event'}\n{'a':1}\n\n"),
			 0);
	item_json(fx, 1, "event", "{'a':1}");

	/* A lone \r after a payload with a length is not a line end. */
	assert_int_equal(parse(fx, "{}\n{'type':'attachment','length':5}\nhello\r{'type':'event'}\n{}"),
			 INLET_EINVAL);
	assert_null(fx->e);
	assert_int_equal(parse(fx, "{}\n{'type':'attachment','length':5}\nhello\r"), INLET_EINVAL);
}

/* A length that does not match the payload. */
static void t_length_mismatch(void **state)
{
	struct fx *fx = *state;

	/* Too short: the byte after the payload is not a newline. */
	assert_int_equal(parse(fx, "{}\n{'type':'attachment','length':4}\nhello\n{'type':'event'}\n{}"),
			 INLET_EINVAL);
	assert_null(fx->e);
	/* Too long: swallows the newline and part of the next header. */
	assert_int_equal(parse(fx, "{}\n{'type':'attachment','length':7}\nhello\n{'type':'event'}\n{}"),
			 INLET_EINVAL);
	/* Exactly right, for contrast. */
	assert_int_equal(parse(fx, "{}\n{'type':'attachment','length':5}\nhello\n{'type':'event'}\n{}"), 0);
	assert_int_equal(fx->e->n, 2);
}

/* The input ends before the payload does. */
static void t_truncated(void **state)
{
	struct fx *fx = *state;
	static const char env[] = "{}\n{\"type\":\"attachment\",\"length\":10}\n0123456789\n";
	size_t cut;

	assert_int_equal(parse_raw(fx, env, sizeof(env) - 1), 0);
	/* Every cut inside the item header or the payload is malformed; a cut
	 * right after the payload (dropping the optional newline) is fine. */
	for (cut = 4; cut < sizeof(env) - 2; cut++) {
		assert_int_equal(parse_raw(fx, env, cut), INLET_EINVAL);
		assert_null(fx->e);
	}
	/* An item header with nothing after it, not even its newline. */
	assert_int_equal(parse(fx, "{}\n{'type':'event'}"), INLET_EINVAL);
	/* A length past the end of the input. */
	assert_int_equal(parse(fx, "{}\n{'type':'attachment','length':1000}\nshort"), INLET_EINVAL);
}

static void t_too_many(void **state)
{
	struct fx *fx = *state;
	char env[4096];
	size_t n = 0, i;

	n += (size_t)snprintf(env, sizeof(env), "{}\n");
	for (i = 0; i < 20; i++)
		n += (size_t)snprintf(env + n, sizeof(env) - n, "{\"type\":\"session\"}\n{\"i\":%zu}\n", i);
	fx->lim.max_items = 20;
	assert_int_equal(parse_raw(fx, env, n), 0);
	assert_int_equal(fx->e->n, 20);
	ITEM(fx, 19, "session", "{\"i\":19}");
	fx->lim.max_items = 19;
	assert_int_equal(parse_raw(fx, env, n), INLET_ETOOMANY);
	assert_null(fx->e);
	fx->lim.max_items = 0;
	assert_int_equal(parse_raw(fx, env, n), INLET_ETOOMANY);
	assert_int_equal(parse(fx, "{}\n"), 0);
}

/* Builds "{}\n" + header + "\n" + n bytes of 'x', in the arena. */
static const char *big_item(struct fx *fx, const char *header, size_t n, size_t *len)
{
	size_t hl = strlen(header);
	char *p = arena_alloc(fx->a, 3 + hl + 1 + n);

	memcpy(p, "{}\n", 3);
	memcpy(p + 3, header, hl);
	p[3 + hl] = '\n';
	memset(p + 4 + hl, 'x', n);
	*len = 4 + hl + n;
	return p;
}

static void t_oversize_item(void **state)
{
	struct fx *fx = *state;
	const size_t mib = 1u << 20;
	const char *p;
	char hdr[128];
	size_t len;

	/* An event of exactly 1 MiB passes, one byte more does not, with or
	 * without a length. */
	p = big_item(fx, "{\"type\":\"event\"}", mib, &len);
	assert_int_equal(parse_raw(fx, p, len), 0);
	assert_int_equal(fx->e->items[0].len, mib);
	p = big_item(fx, "{\"type\":\"event\"}", mib + 1, &len);
	assert_int_equal(parse_raw(fx, p, len), INLET_ETOOBIG);
	assert_null(fx->e);
	snprintf(hdr, sizeof(hdr), "{\"type\":\"event\",\"length\":%zu}", mib + 1);
	p = big_item(fx, hdr, mib + 1, &len);
	assert_int_equal(parse_raw(fx, p, len), INLET_ETOOBIG);
	/* A declared length over the cap is refused before the data is
	 * looked for. */
	assert_int_equal(parse(fx, "{}\n{'type':'event','length':1048577}\n{}"), INLET_ETOOBIG);
	assert_int_equal(parse(fx, "{}\n{'type':'event','length':99999999999999999999}\n{}"),
			 INLET_ETOOBIG);

	/* Attachments have their own cap. */
	fx->lim.max_attachment_size = 2 * mib;
	snprintf(hdr, sizeof(hdr), "{\"type\":\"attachment\",\"length\":%zu}", 2 * mib);
	p = big_item(fx, hdr, 2 * mib, &len);
	assert_int_equal(parse_raw(fx, p, len), 0);
	assert_int_equal(fx->e->items[0].len, 2 * mib);
	snprintf(hdr, sizeof(hdr), "{\"type\":\"attachment\",\"length\":%zu}", 2 * mib + 1);
	p = big_item(fx, hdr, 2 * mib + 1, &len);
	assert_int_equal(parse_raw(fx, p, len), INLET_ETOOBIG);
	/* Replays and profiles count as attachments, sessions as events. */
	p = big_item(fx, "{\"type\":\"replay_recording\"}", mib + 1, &len);
	assert_int_equal(parse_raw(fx, p, len), 0);
	p = big_item(fx, "{\"type\":\"session\"}", mib + 1, &len);
	assert_int_equal(parse_raw(fx, p, len), INLET_ETOOBIG);
	/* "attachment" must be the whole type. */
	p = big_item(fx, "{\"type\":\"attachments\"}", mib + 1, &len);
	assert_int_equal(parse_raw(fx, p, len), INLET_ETOOBIG);
}

static void t_oversize_total_and_headers(void **state)
{
	struct fx *fx = *state;
	static const char env[] = "{}\n{\"type\":\"event\"}\n{\"a\":1}";

	fx->lim.max_total = sizeof(env) - 1;
	assert_int_equal(parse_raw(fx, env, sizeof(env) - 1), 0);
	fx->lim.max_total = sizeof(env) - 2;
	assert_int_equal(parse_raw(fx, env, sizeof(env) - 1), INLET_ETOOBIG);

	/* Header bytes: "{}" and "{"type":"event"}" are 2 + 16. */
	env_limits_default(&fx->lim);
	fx->lim.max_headers = 18;
	assert_int_equal(parse_raw(fx, env, sizeof(env) - 1), 0);
	fx->lim.max_headers = 17;
	assert_int_equal(parse_raw(fx, env, sizeof(env) - 1), INLET_ETOOBIG);
	fx->lim.max_headers = 1;
	assert_int_equal(parse_raw(fx, env, sizeof(env) - 1), INLET_ETOOBIG);
}

static void t_depth(void **state)
{
	struct fx *fx = *state;

	fx->lim.max_depth = 3;
	assert_int_equal(parse(fx, "{'sdk':{'packages':[{'name':'x'}]}}\n{'type':'event'}\n{}"),
			 INLET_EINVAL);
	fx->lim.max_depth = 4;
	assert_int_equal(parse(fx, "{'sdk':{'packages':[{'name':'x'}]}}\n{'type':'event'}\n{}"), 0);
	/* Payloads are not parsed, so their depth does not count. */
	fx->lim.max_depth = 1;
	assert_int_equal(parse(fx, "{}\n{'type':'event'}\n[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]"), 0);
	assert_int_equal(parse(fx, "{}\n{'type':'event','x':{'y':1}}\n{}"), INLET_EINVAL);
	fx->lim.max_depth = 0;
	assert_int_equal(parse(fx, "{}"), INLET_EINVAL);
}

static void t_malformed(void **state)
{
	struct fx *fx = *state;
	static const char *const bad[] = {
		"",
		"\n",
		"\n{}\n{'type':'event'}\n{}",     /* blank line before the header */
		"not json\n",
		"[]\n",                            /* header must be an object */
		"'string'\n",
		"{'a':1\n{'type':'event'}\n{}",    /* unterminated */
		"{}{}\n",                          /* two values on a line */
		"{} x\n",
		"{,}\n",
		"{'a':1,}\n",                      /* strict JSON */
		"{}\n{}\n{}",                      /* item without type */
		"{}\n{'type':1}\n{}",
		"{}\n{'type':null}\n{}",
		"{}\n{'type':''}\n{}",
		"{}\n{'type':['event']}\n{}",
		"{}\n['event']\n{}",
		"{}\n{'type':'event','length':-1}\n{}",
		"{}\n{'type':'event','length':'2'}\n{}",
		"{}\n{'type':'event','length':2.0}\n{}",
		"{}\n{'type':'event','length':1e1}\n{}",
		"{}\n{'type':'event','length':true}\n{}",
		"{}\n{'type':'event'} junk\n{}",
		"{'event_id':'xyz'}\n",
		"{'event_id':'9ec79c33ec9942ab8353589fcb2e04d'}\n",    /* 31 digits */
		"{'event_id':'9ec79c33ec9942ab8353589fcb2e04dz'}\n",
		"{'event_id':'9ec79c33-ec99-42ab-8353589fcb2e-04dc'}\n", /* dashes misplaced */
		"{'event_id':12}\n",
		"{'dsn':42}\n",
		"{'dsn':{}}\n",
	};
	static struct envelope dummy;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fx->e = &dummy; /* must be reset */
		if (parse(fx, bad[i]) != INLET_EINVAL)
			fail_msg("accepted or wrong code: case %zu: %s", i, bad[i]);
		assert_null(fx->e);
	}
	/* Not UTF-8, a NUL byte, in a header. */
	assert_int_equal(parse_raw(fx, "{\"a\":\"\xff\"}\n", 11), INLET_EINVAL);
	assert_int_equal(parse_raw(fx, "{\"a\":1}\0\n", 9), INLET_EINVAL);
	assert_int_equal(parse_raw(fx, "{\"a\":\"\0\"}\n", 10), INLET_EINVAL);
	assert_int_equal(env_parse(fx->a, NULL, 0, &fx->lim, &fx->e), INLET_EINVAL);
}

/* Things that look odd but are fine. */
static void t_accepted_oddities(void **state)
{
	struct fx *fx = *state;
	static const char bin[] = "{}\n{\"type\":\"a\",\"length\":3}\n\xff\0\n";

	/* null means absent, for length, event_id and dsn. */
	assert_int_equal(parse(fx, "{'event_id':null,'dsn':null}\n{'type':'event','length':null}\n{}"), 0);
	assert_string_equal(fx->e->event_id, "");
	assert_null(fx->e->dsn);
	ITEM(fx, 0, "event", "{}");
	/* Upper-case UUIDs are lowered. */
	assert_int_equal(parse(fx, "{'event_id':'9EC79C33-EC99-42AB-8353-589FCB2E04DC'}"), 0);
	assert_string_equal(fx->e->event_id, "9ec79c33ec9942ab8353589fcb2e04dc");
	/* Binary payloads need not be UTF-8 or free of NULs. */
	assert_int_equal(parse_raw(fx, bin, sizeof(bin) - 1), 0);
	item_is(fx, 0, "a", "\xff\0\n", 3);
	/* A type with an escaped NUL: type_len tells it apart. */
	assert_int_equal(parse(fx, "{}\n{'type':'event\\u0000x'}\n{}"), 0);
	assert_int_equal(fx->e->items[0].type_len, 7);
	assert_false(env_item_is(&fx->e->items[0], "event"));
	/* So can a dsn: the caller must not lose what follows. */
	assert_int_equal(parse(fx, "{'dsn':'https://k@h/1\\u0000https://x@y/2'}"), 0);
	assert_int_equal(fx->e->dsn_len, 27);
	assert_int_equal(strlen(fx->e->dsn), 13);
	/* Unknown header attributes stay in the header object. */
	assert_int_equal(parse(fx, "{'x-custom':[1,2]}\n{'type':'event','rate':0.5}\n{}"), 0);
	assert_non_null(header_str(fx->e->header, "x-custom"));
	assert_string_equal(header_str(fx->e->items[0].header, "rate"), "0.5");
}

/* Headers stay valid until the arena goes; a caller can keep one longer
 * with json_object_get. (ASan's leak check covers the release.) */
static void t_lifetime(void **state)
{
	struct fx *fx = *state;
	struct arena *a = arena_create(0);
	struct envelope *e;
	struct json_object *kept;
	static const char env[] = "{\"sent_at\":\"x\"}\n{\"type\":\"event\",\"k\":\"v\"}\n{}";
	static const char bad[] = "{}\n{\"type\":\"event\"}\n{}\n{}";

	assert_int_equal(env_parse(a, env, sizeof(env) - 1, &fx->lim, &e), 0);
	kept = json_object_get(e->items[0].header);
	arena_destroy(a);
	assert_string_equal(header_str(kept, "k"), "v");
	json_object_put(kept);

	/* A failed parse releases at once and leaves nothing for later. */
	a = arena_create(0);
	assert_int_equal(env_parse(a, bad, sizeof(bad) - 1, &fx->lim, &e), INLET_EINVAL);
	assert_null(e);
	arena_destroy(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(t_node_event, setup, teardown),
		cmocka_unit_test_setup_teardown(t_node_sessions, setup, teardown),
		cmocka_unit_test_setup_teardown(t_browser, setup, teardown),
		cmocka_unit_test_setup_teardown(t_attachments, setup, teardown),
		cmocka_unit_test_setup_teardown(t_spec_examples, setup, teardown),
		cmocka_unit_test_setup_teardown(t_implicit_and_blank_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(t_crlf, setup, teardown),
		cmocka_unit_test_setup_teardown(t_length_mismatch, setup, teardown),
		cmocka_unit_test_setup_teardown(t_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(t_too_many, setup, teardown),
		cmocka_unit_test_setup_teardown(t_oversize_item, setup, teardown),
		cmocka_unit_test_setup_teardown(t_oversize_total_and_headers, setup, teardown),
		cmocka_unit_test_setup_teardown(t_depth, setup, teardown),
		cmocka_unit_test_setup_teardown(t_malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(t_accepted_oddities, setup, teardown),
		cmocka_unit_test_setup_teardown(t_lifetime, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
