/* libFuzzer driver for stack_parse and the frame normalizers. The first
 * byte picks the limits and arena shape, the rest is the trace. Besides the
 * sanitizers, the driver checks what the contract promises: frames within
 * max_frames, every line accounted for, strings non-empty or NULL and no
 * longer than a line, the frames kept under a small max_frames equal to the
 * first ones kept under a large one, and normalized files that lost their
 * query, fragment and backslashes without growing. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/err.h"
#include "events/stack.h"

#define CHECK(x)                   \
	do {                       \
		if (!(x))          \
			abort();   \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Lines as the parser splits them: ended by LF, CRLF or CR. */
static size_t count_lines(const char *s, size_t n)
{
	size_t i = 0, lines = 0;

	while (i < n) {
		lines++;
		while (i < n && s[i] != '\n' && s[i] != '\r')
			i++;
		if (i < n && s[i] == '\r')
			i++;
		if (i < n && s[i] == '\n')
			i++;
	}
	return lines;
}

static int same_str(const char *x, const char *y)
{
	return (!x && !y) || (x && y && strcmp(x, y) == 0);
}

static void check_frame(struct arena *a, const struct stack_frame *f,
			const struct stack_limits *lim)
{
	const char *nf, *nfn;

	/* Strings may look empty to C when they start with a NUL byte. */
	CHECK(f->function || f->file);
	CHECK(!f->function || strlen(f->function) <= lim->max_line_len);
	CHECK(!f->file || strlen(f->file) <= lim->max_line_len);
	CHECK(f->flags < (STACK_F_CAUSE << 1));
	nf = stack_normalize_file(a, f->file);
	CHECK(strlen(nf) <= (f->file ? strlen(f->file) : 0) || strcmp(nf, "/") == 0);
	CHECK(!strpbrk(nf, "?#\\"));
	nfn = stack_normalize_function(a, f->function);
	CHECK(strlen(nfn) <= (f->function ? strlen(f->function) : 0));
	(void)stack_frame_in_app(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct stack_limits lim, big;
	struct stack st, all;
	struct arena *a;
	const char *text;
	char *copy;
	size_t i;
	uint8_t sel;

	if (size < 1)
		return 0;
	sel = data[0];
	text = (const char *)data + 1;
	size--;
	lim.max_frames = sel & 1 ? 3 : sel & 2 ? 0 : 256;
	lim.max_line_len = sel & 4 ? 40 : 4096;
	big.max_frames = 1 << 20;
	big.max_line_len = lim.max_line_len;
	a = arena_create(sel & 8 ? 64 : 0);

	CHECK(stack_parse(a, text, size, &lim, &st) == 0);
	CHECK(stack_parse(a, text, size, &big, &all) == 0);
	CHECK(st.n <= lim.max_frames);
	CHECK((st.n == 0) == (st.format == STACK_FORMAT_NONE));
	CHECK(st.n + st.dropped + st.skipped <= count_lines(text, size));
	/* Limits only cut: the same frames, the rest counted as dropped. */
	CHECK(st.n + st.dropped == all.n && st.skipped == all.skipped);
	for (i = 0; i < st.n; i++) {
		CHECK(same_str(st.frames[i].function, all.frames[i].function));
		CHECK(same_str(st.frames[i].file, all.frames[i].file));
		CHECK(st.frames[i].line == all.frames[i].line);
		CHECK(st.frames[i].column == all.frames[i].column);
		CHECK(st.frames[i].flags == all.frames[i].flags);
		check_frame(a, &st.frames[i], &lim);
	}

	/* The whole input as one file and one function name. */
	copy = malloc(size + 1);
	CHECK(copy);
	memcpy(copy, text, size);
	copy[size] = '\0';
	(void)stack_file_in_app(copy);
	CHECK(strlen(stack_normalize_file(a, copy)) <= strlen(copy) ||
	      strcmp(stack_normalize_file(a, copy), "/") == 0);
	CHECK(strlen(stack_normalize_function(a, copy)) <= strlen(copy));
	free(copy);
	arena_destroy(a);
	return 0;
}
