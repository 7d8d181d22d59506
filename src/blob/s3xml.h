/* The little XML the S3 backend speaks: reading the few elements it needs
 * out of S3's answers, and escaping text for the bodies it sends.
 *
 * Not a general XML parser. S3's answers are flat documents of elements
 * whose leaf values Inlet reads by name (UploadId, Key, IsTruncated, Code);
 * a scan by element name in document order is all they need, and a scanner
 * this small is easy to fuzz (tests/fuzz/fuzz_s3xml.c). Answers come from
 * the network, so every input is treated as hostile: every read is bounded
 * by len, and a malformed document is INLET_EINVAL, never a crash. What it
 * does not understand (CDATA, comments, nested elements of the same name)
 * S3 does not send in the answers read here. */
#ifndef INLET_BLOB_S3XML_H
#define INLET_BLOB_S3XML_H

#include <stddef.h>

struct buf;

/* Copies the name of the document's root element (after any <?xml ...?>
 * prolog) into out. 0, INLET_EINVAL when there is none, INLET_ETOOBIG when
 * it does not fit in size bytes (NUL included). */
int s3xml_root(const char *xml, size_t len, char *out, size_t size);

/* Finds the next element named tag that starts at or after *pos and
 * returns 1 with its content's offset and length in *start and *clen (the
 * raw bytes between the start and end tags; <tag/> is empty), and *pos just
 * past its end tag. 0: no such element after *pos. INLET_EINVAL: a start
 * tag without its end. Other elements' names that merely begin with tag
 * (<KeyCount> for "Key") do not match. */
int s3xml_element(const char *xml, size_t len, size_t *pos, const char *tag, size_t *start, size_t *clen);

/* Decodes a leaf element's raw content (the five predefined entities and
 * numeric references, which become UTF-8) into out, NUL-terminated. 0;
 * INLET_EINVAL on markup ('<') or a bad reference; INLET_ETOOBIG when the
 * text does not fit in size bytes. */
int s3xml_text(const char *raw, size_t len, char *out, size_t size);

/* s3xml_element then s3xml_text: the next <tag> leaf after *pos, decoded.
 * Returns 1, 0 or an error as those two do. */
int s3xml_next(const char *xml, size_t len, size_t *pos, const char *tag, char *out, size_t size);

/* Appends s to b with &, <, >, " and ' escaped. INLET_ETOOBIG at b's cap. */
int s3xml_escape(struct buf *b, const char *s);

#endif
