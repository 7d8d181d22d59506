/* libFuzzer driver for the S3 answer scanner (blob/s3xml.h): the bodies
 * come from the network. The first byte picks the element name looked
 * for and the output size; the rest is the document. Besides the
 * sanitizers, the driver checks the contract: results in range, progress
 * on every hit (so a scan loop ends), decoded text NUL-terminated within
 * its size, and escaping then decoding gives the text back. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "blob/s3xml.h"
#include "core/buf.h"
#include "core/err.h"

#define CHECK(x)                   \
	do {                       \
		if (!(x))          \
			abort();   \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const tags[] = { "Key", "UploadId", "Error", "Code", "IsTruncated",
				    "NextContinuationToken", "Contents", "A" };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *tag, *xml;
	char *out, root[32];
	size_t outsize, pos = 0, steps = 0;
	int rc;

	if (size < 1)
		return 0;
	tag = tags[data[0] % (sizeof(tags) / sizeof(tags[0]))];
	outsize = (size_t)(data[0] >> 3) + 1; /* 1..32, exact-size heap: ASan sees overruns */
	xml = (const char *)data + 1;
	size--;
	/* An exact copy, not NUL-terminated: a read past len is a bug. */
	char *doc = malloc(size ? size : 1);
	CHECK(doc);
	if (size)
		memcpy(doc, xml, size);
	out = malloc(outsize);
	CHECK(out);

	rc = s3xml_root(doc, size, root, sizeof(root));
	CHECK(rc == 0 || rc == INLET_EINVAL || rc == INLET_ETOOBIG);
	if (rc == 0)
		CHECK(strlen(root) > 0 && strlen(root) < sizeof(root));

	for (;;) {
		size_t before = pos, start, clen;

		rc = s3xml_element(doc, size, &pos, tag, &start, &clen);
		CHECK(rc == 0 || rc == 1 || rc == INLET_EINVAL);
		if (rc != 1)
			break;
		CHECK(pos > before && pos <= size);
		CHECK(start <= size && clen <= size - start && start + clen <= pos);
		rc = s3xml_text(doc + start, clen, out, outsize);
		CHECK(rc == 0 || rc == INLET_EINVAL || rc == INLET_ETOOBIG);
		if (rc == 0) {
			struct buf b;
			char *again = malloc(strlen(out) * 6 + 1);

			CHECK(memchr(out, '\0', outsize) != NULL);
			/* What was decoded escapes back to text that decodes the same. */
			buf_init(&b, 0);
			CHECK(s3xml_escape(&b, out) == 0);
			CHECK(again);
			CHECK(s3xml_text(b.data ? b.data : "", b.len, again, strlen(out) * 6 + 1) == 0);
			CHECK(strcmp(again, out) == 0);
			free(again);
			buf_free(&b);
		}
		CHECK(++steps <= size);
	}
	free(out);
	free(doc);
	return 0;
}
