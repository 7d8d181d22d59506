/* stack_parse, stack_normalize_file, stack_normalize_function and the in-app
 * rule, over traces as Chromium, Node, Firefox and Safari write them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/err.h"
#include "events/stack.h"

static const struct stack_limits roomy = STACK_LIMITS_DEFAULT;

struct fx {
	struct arena *a;
	struct stack st;
};

static int setup(void **state)
{
	static struct fx fx;

	fx.a = arena_create(0);
	memset(&fx.st, 0, sizeof(fx.st));
	*state = &fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	arena_destroy(fx->a);
	return 0;
}

static void parse_lim(struct fx *fx, const char *text, const struct stack_limits *lim)
{
	assert_int_equal(stack_parse(fx->a, text, strlen(text), lim, &fx->st), 0);
}

static void parse(struct fx *fx, const char *text)
{
	parse_lim(fx, text, &roomy);
}

/* NULL and a string compare equal only when both are NULL. */
static void str_is(const char *got, const char *want)
{
	if (!want)
		assert_null(got);
	else
		assert_non_null(got), assert_string_equal(got, want);
}

static void frame_is(const struct fx *fx, size_t i, const char *fn, const char *file,
		     unsigned line, unsigned col, unsigned flags)
{
	const struct stack_frame *f;

	assert_true(i < fx->st.n);
	f = &fx->st.frames[i];
	str_is(f->function, fn);
	str_is(f->file, file);
	assert_int_equal(f->line, line);
	assert_int_equal(f->column, col);
	assert_int_equal(f->flags, flags);
}

/* ---- V8 ---- */

static void t_v8_forms(void **state)
{
	struct fx *fx = *state;

	parse(fx, "TypeError: Cannot read properties of undefined (reading 'x')\n"
		  "    at Cart.total (https://shop.example.com/js/cart.js:42:17)\n"
		  "    at https://shop.example.com/js/cart.js:41:49\n"
		  "    at async loadAll (file:///srv/app/load.mjs:3:5)\n"
		  "    at async file:///srv/app/index.mjs:10:1\n"
		  "    at new Cart (https://shop.example.com/js/cart.js:5:9)\n"
		  "    at Object.handle [as onclick] (webpack-internal:///./src/ui.js:7:3)\n"
		  "    at Array.forEach (<anonymous>)\n"
		  "    at Array.map (native)\n"
		  "    at async Promise.all (index 0)\n"
		  "    at Object.<anonymous> (/srv/app/main.js:1:1)\n"
		  "    at <anonymous>\n"
		  "    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)");
	assert_int_equal(fx->st.format, STACK_FORMAT_V8);
	assert_int_equal(fx->st.n, 12);
	assert_int_equal(fx->st.skipped, 1); /* the header */
	assert_int_equal(fx->st.dropped, 0);
	frame_is(fx, 0, "Cart.total", "https://shop.example.com/js/cart.js", 42, 17, 0);
	frame_is(fx, 1, NULL, "https://shop.example.com/js/cart.js", 41, 49, 0);
	frame_is(fx, 2, "loadAll", "file:///srv/app/load.mjs", 3, 5, STACK_F_ASYNC);
	frame_is(fx, 3, NULL, "file:///srv/app/index.mjs", 10, 1, STACK_F_ASYNC);
	frame_is(fx, 4, "Cart", "https://shop.example.com/js/cart.js", 5, 9, STACK_F_NEW);
	frame_is(fx, 5, "Object.handle [as onclick]", "webpack-internal:///./src/ui.js", 7, 3, 0);
	frame_is(fx, 6, "Array.forEach", "<anonymous>", 0, 0, STACK_F_NATIVE);
	frame_is(fx, 7, "Array.map", "native", 0, 0, STACK_F_NATIVE);
	frame_is(fx, 8, "Promise.all", "index 0", 0, 0, STACK_F_ASYNC | STACK_F_NATIVE);
	frame_is(fx, 9, "Object.<anonymous>", "/srv/app/main.js", 1, 1, 0);
	frame_is(fx, 10, NULL, "<anonymous>", 0, 0, STACK_F_NATIVE);
	frame_is(fx, 11, "process.processTicksAndRejections", "node:internal/process/task_queues", 95, 5, 0);
}

static void t_v8_eval(void **state)
{
	struct fx *fx = *state;

	parse(fx, "    at eval (eval at render (https://h.example/app.js:10:5), <anonymous>:1:1)\n"
		  "    at anonymous (eval at make (eval at boot (https://h.example/boot.js:3:7)), <anonymous>:2:3)\n"
		  "    at eval (eval at <anonymous>)");
	assert_int_equal(fx->st.n, 3);
	frame_is(fx, 0, "eval", "https://h.example/app.js", 10, 5, STACK_F_EVAL);
	frame_is(fx, 1, "anonymous", "https://h.example/boot.js", 3, 7, STACK_F_EVAL);
	/* No inner location: what is left is kept. */
	frame_is(fx, 2, "eval", "eval at <anonymous>", 0, 0, STACK_F_EVAL);
}

static void t_v8_locations(void **state)
{
	struct fx *fx = *state;

	parse(fx, "    at a (http://[::1]:8080/js/a.js:3:4)\n"
		  "    at b (https://h.example/dir (1)/b.js:5:6)\n"
		  "    at c (http://localhost:8080)\n"
		  "    at d (/srv/d.js:12)\n"
		  "    at e (/srv/e.js:12345678901:1)\n"
		  "    at f (C:\\app\\f.js:7:8)\n"
		  "    at g (https://h.example/g.js?v=1:9:10)\n"
		  "    at h (:1:2)\n"
		  "    at (https://h.example/i.js:1:2)\n"
		  "    at   \n"
		  "\tat j (https://h.example/j.js:1:2)   ");
	assert_int_equal(fx->st.n, 10);
	frame_is(fx, 0, "a", "http://[::1]:8080/js/a.js", 3, 4, 0);
	frame_is(fx, 1, "b", "https://h.example/dir (1)/b.js", 5, 6, 0);
	frame_is(fx, 2, "c", "http://localhost:8080", 0, 0, 0);
	frame_is(fx, 3, "d", "/srv/d.js", 12, 0, 0);
	/* Too many digits for a line: part of the file. */
	frame_is(fx, 4, "e", "/srv/e.js:12345678901", 1, 0, 0);
	frame_is(fx, 5, "f", "C:\\app\\f.js", 7, 8, 0);
	frame_is(fx, 6, "g", "https://h.example/g.js?v=1", 9, 10, 0);
	frame_is(fx, 7, "h", NULL, 1, 2, 0);
	frame_is(fx, 8, NULL, "https://h.example/i.js", 1, 2, 0);
	frame_is(fx, 9, "j", "https://h.example/j.js", 1, 2, 0);
	assert_int_equal(fx->st.skipped, 1);
}

static void t_v8_header_with_at_sign(void **state)
{
	struct fx *fx = *state;

	/* The message holds an '@' and spans lines; the trace is still V8. */
	parse(fx, "Error: no user ann@example.com\nsecond line of the message @ here\n"
		  "    at find (/srv/users.js:3:9)");
	assert_int_equal(fx->st.format, STACK_FORMAT_V8);
	assert_int_equal(fx->st.n, 1);
	assert_int_equal(fx->st.skipped, 2);
	frame_is(fx, 0, "find", "/srv/users.js", 3, 9, 0);
}

/* ---- Gecko and JavaScriptCore ---- */

static void t_gecko_forms(void **state)
{
	struct fx *fx = *state;

	parse(fx, "total@https://shop.example.com/js/cart.js:42:17\n"
		  "@https://shop.example.com/js/cart.js:41:49\n"
		  "render/<@https://shop.example.com/js/ui.js:10:5\n"
		  "async*load@https://shop.example.com/js/ui.js:20:3\n"
		  "@https://h.example/a.js line 10 > eval:1:2\n"
		  "anonymous@https://h.example/a.js line 2 > Function:1:1\n"
		  "f@https://h.example/a.js line 3 > eval line 1 > eval:1:1\n"
		  "forEach@[native code]\n"
		  "[native code]\n"
		  "global code@https://h.example/index.html:30:5\n"
		  "get total@https://h.example/a.js:4:4\n"
		  "promise callback*run@https://h.example/r.js:1:1\n"
		  "async*later@https://h.example/r.js:2:2\n"
		  "[native code]\n");
	assert_int_equal(fx->st.format, STACK_FORMAT_GECKO);
	assert_int_equal(fx->st.n, 14);
	assert_int_equal(fx->st.skipped, 0);
	frame_is(fx, 0, "total", "https://shop.example.com/js/cart.js", 42, 17, 0);
	frame_is(fx, 1, NULL, "https://shop.example.com/js/cart.js", 41, 49, 0);
	frame_is(fx, 2, "render/<", "https://shop.example.com/js/ui.js", 10, 5, 0);
	frame_is(fx, 3, "load", "https://shop.example.com/js/ui.js", 20, 3, STACK_F_ASYNC);
	frame_is(fx, 4, NULL, "https://h.example/a.js", 10, 0, STACK_F_EVAL);
	frame_is(fx, 5, "anonymous", "https://h.example/a.js", 2, 0, STACK_F_EVAL);
	frame_is(fx, 6, "f", "https://h.example/a.js", 3, 0, STACK_F_EVAL);
	frame_is(fx, 7, "forEach", "[native code]", 0, 0, STACK_F_NATIVE);
	frame_is(fx, 8, NULL, "[native code]", 0, 0, STACK_F_NATIVE);
	frame_is(fx, 9, "global code", "https://h.example/index.html", 30, 5, 0);
	frame_is(fx, 10, "get total", "https://h.example/a.js", 4, 4, 0);
	/* From the first cause on, every frame is the scheduling stack. */
	frame_is(fx, 11, "run", "https://h.example/r.js", 1, 1, STACK_F_CAUSE);
	frame_is(fx, 12, "later", "https://h.example/r.js", 2, 2, STACK_F_ASYNC | STACK_F_CAUSE);
	frame_is(fx, 13, NULL, "[native code]", 0, 0, STACK_F_NATIVE | STACK_F_CAUSE);
}

static void t_gecko_stray_lines(void **state)
{
	struct fx *fx = *state;

	parse(fx, "Error: no user ann@example.com\n"
		  "eval code\n"
		  "@\n"
		  "x@y\n"
		  "setTimeout handler*@nothing\n"
		  "a@https://h.example/a.js:1:1\n");
	assert_int_equal(fx->st.n, 1);
	assert_int_equal(fx->st.skipped, 5);
	/* A rejected line does not start the async cause. */
	frame_is(fx, 0, "a", "https://h.example/a.js", 1, 1, 0);
}

/* ---- lines, limits, arguments ---- */

static void t_line_endings(void **state)
{
	struct fx *fx = *state;

	parse(fx, "a@/x/a.js:1:1\r\nb@/x/b.js:2:2\rc@/x/c.js:3:3\n\n\r\n\nd@/x/d.js:4:4");
	assert_int_equal(fx->st.n, 4);
	assert_int_equal(fx->st.skipped, 0);
	frame_is(fx, 1, "b", "/x/b.js", 2, 2, 0);
	frame_is(fx, 3, "d", "/x/d.js", 4, 4, 0);
}

static void t_empty_and_invalid(void **state)
{
	struct fx *fx = *state;
	struct stack st;

	parse(fx, "");
	assert_int_equal(fx->st.n, 0);
	assert_int_equal(fx->st.format, STACK_FORMAT_NONE);
	assert_int_equal(stack_parse(fx->a, NULL, 0, &roomy, &st), 0);
	assert_int_equal(st.n, 0);
	parse(fx, "just a message, no frames\n\n");
	assert_int_equal(fx->st.n, 0);
	assert_int_equal(fx->st.format, STACK_FORMAT_NONE);
	assert_int_equal(fx->st.skipped, 1);
	assert_int_equal(stack_parse(NULL, "", 0, &roomy, &st), INLET_EINVAL);
	assert_int_equal(stack_parse(fx->a, NULL, 1, &roomy, &st), INLET_EINVAL);
	assert_int_equal(stack_parse(fx->a, "", 0, NULL, &st), INLET_EINVAL);
	assert_int_equal(st.n, 0);
	assert_int_equal(stack_parse(fx->a, "", 0, &roomy, NULL), INLET_EINVAL);
}

static void t_limits(void **state)
{
	struct fx *fx = *state;
	struct stack_limits three = { 3, 4096 }, none = { 0, 4096 }, narrow = { 10, 24 };
	struct buf b;
	size_t i;

	buf_init(&b, 0);
	for (i = 0; i < 1000; i++)
		assert_int_equal(buf_printf(&b, "    at f%zu (/a/b.js:%zu:1)\n", i, i), 0);
	parse_lim(fx, b.data, &three);
	assert_int_equal(fx->st.n, 3);
	assert_int_equal(fx->st.dropped, 997);
	/* The kept frames are the most recent. */
	frame_is(fx, 2, "f2", "/a/b.js", 2, 1, 0);
	parse_lim(fx, b.data, &none);
	assert_int_equal(fx->st.n, 0);
	assert_int_equal(fx->st.dropped, 1000);
	assert_int_equal(fx->st.format, STACK_FORMAT_NONE);
	buf_free(&b);
	/* A line over max_line_len is skipped whole, never cut. */
	parse_lim(fx, "    at f (/a/b.js:1:1)\n    at long_function_name (/a/b.js:1:1)\n", &narrow);
	assert_int_equal(fx->st.n, 1);
	assert_int_equal(fx->st.skipped, 1);
	/* When every "at" line is too long, the format is not V8. */
	parse_lim(fx, "    at long_function_name (/a/b.js:1:1)\nf@/a/b.js:1:1", &narrow);
	assert_int_equal(fx->st.n, 1);
	assert_int_equal(fx->st.format, STACK_FORMAT_GECKO);
}

static void t_embedded_nul(void **state)
{
	struct fx *fx = *state;
	const char text[] = "    at f\0x (/a/b\0.js:1:2)\n    at g (/c.js:3:4)";

	assert_int_equal(stack_parse(fx->a, text, sizeof(text) - 1, &roomy, &fx->st), 0);
	assert_int_equal(fx->st.n, 2);
	/* The NUL is kept, so the C string looks shorter. */
	assert_string_equal(fx->st.frames[0].function, "f");
	assert_string_equal(fx->st.frames[0].file, "/a/b");
	assert_int_equal(fx->st.frames[0].line, 1);
	frame_is(fx, 1, "g", "/c.js", 3, 4, 0);
}

/* ---- normalizers ---- */

static void t_normalize_file(void **state)
{
	struct fx *fx = *state;
	static const char *const cases[][2] = {
		{ "https://shop.example.com/static/js/main.3f9a1c2b.js", "/static/js/main.<hash>.js" },
		{ "http://localhost:3000/static/js/main.3f9a1c2b.js?v=123#frag", "/static/js/main.<hash>.js" },
		{ "https://h.example/app-5b8e0a7f1c.js", "/app-<hash>.js" },
		{ "https://h.example/chunk.abcdef12.mjs", "/chunk.<hash>.mjs" },
		{ "https://h.example/static/js/2.8f3c1b0a.chunk.js", "/static/js/2.<hash>.chunk.js" },
		{ "https://h.example/_next/static/chunks/pages/index-0123456789abcdef.js",
		  "/_next/static/chunks/pages/index-<hash>.js" },
		{ "https://h.example/assets/index-B2pR3yKa.js", "/assets/index-<hash>.js" },
		{ "https://h.example/assets/index-DiwrgTda.js", "/assets/index-<hash>.js" },
		{ "https://h.example/assets/vendor-C-8kLm2q.js", "/assets/vendor-<hash>.js" },
		/* The documented false positive: an 8-letter CamelCase word after
		 * a '-' cannot be told from a digit-less Vite hash. */
		{ "https://h.example/assets/Carousel-ListView.js", "/assets/Carousel-<hash>.js" },
		{ "https://h.example/assets/Carousel.js", "/assets/Carousel.js" },
		{ "https://h.example/assets/my-carousel.js", "/assets/my-carousel.js" },
		{ "https://h.example/build/3f9a1c2b/app.js", "/build/<hash>/app.js" },
		{ "https://h.example/u/3f2a9c1e-1b2c-4d5e-8f90-123456789abc.js", "/u/<hash>.js" },
		{ "blob:https://h.example/3f2a9c1e-1b2c-4d5e-8f90-123456789abc", "/<hash>" },
		{ "https://h.example", "/" },
		{ "file:///srv/app/cart.js", "/srv/app/cart.js" },
		{ "webpack-internal:///./src/cart.js", "/./src/cart.js" },
		{ "C:\\srv\\app\\cart.js", "C:/srv/app/cart.js" },
		{ "node:internal/timers", "node:internal/timers" },
		{ "/srv/app/cart.js", "/srv/app/cart.js" },
		{ "<anonymous>", "<anonymous>" },
		{ "main.deadbeef.js", "main.<hash>.js" },
		{ "main.deadbee.js", "main.deadbee.js" },
		{ "app.12345678.js", "app.<hash>.js" },
		{ "", "" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *got = stack_normalize_file(fx->a, cases[i][0]);

		if (strcmp(got, cases[i][1]) != 0)
			fail_msg("normalize_file(%s) = %s, expected %s", cases[i][0], got, cases[i][1]);
	}
	assert_string_equal(stack_normalize_file(fx->a, NULL), "");
}

static void t_normalize_function(void **state)
{
	struct fx *fx = *state;
	static const char *const cases[][2] = {
		{ "Cart.total", "total" },
		{ "Cart.prototype.total", "total" },
		{ "async Cart.total", "total" },
		{ "new Cart", "Cart" },
		{ "Object.handle [as onclick]", "handle" },
		{ "HTMLButtonElement.onCheckoutClick", "onCheckoutClick" },
		{ "total/<", "" },
		{ "render/</<", "" },
		{ "outer/inner", "inner" },
		{ "a</b<", "b" },
		{ "promise callback*run", "run" },
		{ "Object.<anonymous>", "" },
		{ "<anonymous>", "" },
		{ "anonymous", "" },
		{ "?", "" },
		{ "eval", "" },
		{ "global code", "" },
		{ "Anonymous function", "" },
		{ "get total", "get total" },
		{ "trailing.", "trailing." },
		{ "  spaced  ", "spaced" },
		{ "", "" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *got = stack_normalize_function(fx->a, cases[i][0]);

		if (strcmp(got, cases[i][1]) != 0)
			fail_msg("normalize_function(%s) = %s, expected %s", cases[i][0], got, cases[i][1]);
	}
	assert_string_equal(stack_normalize_function(fx->a, NULL), "");
}

static void t_in_app(void **state)
{
	static const char *const yes[] = {
		"https://shop.example.com/js/cart.js", "/srv/app/cart.js", "file:///srv/app/x.mjs",
		"webpack-internal:///./src/x.js", "app:///main.js", "C:\\srv\\app.js",
		"/srv/my_node_modules/x.js", "/srv/node_modules_old/x.js",
	};
	static const char *const no[] = {
		"", "<anonymous>", "<unknown>", "[native code]", "native", "index 0", "node:fs",
		"node:internal/timers", "internal/modules/cjs/loader.js", "events.js",
		"/srv/app/node_modules/express/lib/router.js", "C:\\app\\node_modules\\x\\i.js",
		"node_modules/x.js", "webpack:///./node_modules/react-dom/cjs/x.js",
		"chrome-extension://abc/content.js", "moz-extension://abc/c.js",
		"safari-extension://abc/c.js", "safari-web-extension://abc/c.js",
		"chrome://browser/content/x.js", "resource://gre/modules/x.jsm",
		"webkit-masked-url://hidden/",
	};
	struct stack_frame f = { "f", "/srv/a.js", 1, 1, 0 };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (!stack_file_in_app(yes[i]))
			fail_msg("%s should be in app", yes[i]);
	}
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		if (stack_file_in_app(no[i]))
			fail_msg("%s should not be in app", no[i]);
	}
	assert_false(stack_file_in_app(NULL));
	assert_true(stack_frame_in_app(&f));
	f.flags = STACK_F_NATIVE;
	assert_false(stack_frame_in_app(&f));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(t_v8_forms, setup, teardown),
		cmocka_unit_test_setup_teardown(t_v8_eval, setup, teardown),
		cmocka_unit_test_setup_teardown(t_v8_locations, setup, teardown),
		cmocka_unit_test_setup_teardown(t_v8_header_with_at_sign, setup, teardown),
		cmocka_unit_test_setup_teardown(t_gecko_forms, setup, teardown),
		cmocka_unit_test_setup_teardown(t_gecko_stray_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(t_line_endings, setup, teardown),
		cmocka_unit_test_setup_teardown(t_empty_and_invalid, setup, teardown),
		cmocka_unit_test_setup_teardown(t_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(t_embedded_nul, setup, teardown),
		cmocka_unit_test_setup_teardown(t_normalize_file, setup, teardown),
		cmocka_unit_test_setup_teardown(t_normalize_function, setup, teardown),
		cmocka_unit_test(t_in_app),
	};

	return cmocka_run_group_tests_name("stack", tests, NULL, NULL);
}
