/* libFuzzer driver for the header value parsers (ingest/header.h) and
 * mp_boundary. The input, cut at its first NUL, is given to each. Checks
 * beyond the sanitizers: results in range, an origin made only of
 * characters safe in a response header and stable when parsed again, and
 * case-insensitivity (upper-casing the input changes no answer). */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "ingest/header.h"
#include "ingest/multipart.h"

#define CHECK(x)                   \
	do {                       \
		if (!(x))          \
			abort();   \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_origin(const char *s, const char *upper)
{
	char out[300], again[300], up[300];
	size_t i, n;
	int rc, rc_up;

	rc = header_origin(s, out, sizeof(out));
	CHECK(rc == 0 || rc == INLET_EINVAL || rc == INLET_ETOOBIG);
	rc_up = header_origin(upper, up, sizeof(up));
	CHECK(rc == rc_up);
	if (rc)
		return;
	CHECK(strcmp(out, up) == 0);
	n = strlen(out);
	CHECK(strncmp(out, "http://", 7) == 0 || strncmp(out, "https://", 8) == 0);
	for (i = 0; i < n; i++)
		CHECK(islower((unsigned char)out[i]) || isdigit((unsigned char)out[i]) ||
		      strchr(".-_:/[]", out[i]));
	CHECK(header_origin(out, again, sizeof(again)) == 0);
	CHECK(strcmp(out, again) == 0);
	/* Any smaller buffer is refused, not overrun (exact heap size). */
	{
		char *tight = malloc(n);

		CHECK(tight);
		CHECK(header_origin(s, tight, n) == INLET_ETOOBIG);
		free(tight);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), *upper = malloc(size + 1);
	char b[71];
	enum media m;
	size_t i;
	int rc;

	CHECK(s && upper);
	memcpy(s, data, size);
	s[size] = '\0';
	for (i = 0; i <= size; i++)
		upper[i] = (char)toupper((unsigned char)s[i]);

	m = header_media(s);
	CHECK(m >= MEDIA_NONE && m <= MEDIA_OTHER);
	CHECK(header_media(upper) == m);

	rc = header_prefers_html(s);
	CHECK(rc == 0 || rc == 1);
	CHECK(header_prefers_html(upper) == rc);

	check_origin(s, upper);

	rc = mp_boundary(s, b, sizeof(b));
	CHECK(rc == 0 || rc == INLET_EINVAL);
	if (rc == 0) {
		size_t n = strlen(b);

		CHECK(n >= 1 && n <= 70);
		for (i = 0; i < n; i++)
			CHECK((unsigned char)b[i] >= 0x20 && b[i] != 0x7f);
	}
	free(s);
	free(upper);
	return 0;
}
