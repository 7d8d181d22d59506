/* Request bodies by Content-Encoding, as Sentry SDKs send them: identity,
 * gzip (also x-gzip, and several gzip members one after another), deflate
 * (zlib-wrapped as RFC 9110 says, or raw as some clients send, told apart
 * by the zlib header) and br. Several codings are listed in the order they
 * were applied and undone in reverse. A pure function over buffers
 * (tests/fuzz/fuzz_decompress.c).
 *
 * The decoded size is capped by out->max: decoding stops with
 * INLET_ETOOBIG as soon as the output would pass it, so a small bomb (100
 * MB of zeros in 100 KB of gzip) costs at most max bytes of output and the
 * decoder's fixed state (zlib ~40 KiB; brotli up to its 16 MiB window).
 * With several codings each intermediate result is held to the same cap,
 * so peak memory is twice the cap plus that state. */
#ifndef INLET_EVENTS_DECOMPRESS_H
#define INLET_EVENTS_DECOMPRESS_H

#include <stddef.h>

struct buf;

/* At most this many codings in one header (identity not counted). */
#define DECOMPRESS_MAX_CODINGS 4

/* Checks a Content-Encoding value without decoding anything, so a request
 * can be refused before its body is read. NULL or "" is identity.
 * INLET_EMEDIATYPE for a coding not listed above (zstd, compress...) or
 * more than DECOMPRESS_MAX_CODINGS of them. */
int decompress_check(const char *content_encoding);

/* Decodes in[0..len) by content_encoding and appends the result to out,
 * whose max is the cap on out->len. Returns 0; INLET_EMEDIATYPE as
 * decompress_check; INLET_EINVAL for data that is not what the coding says
 * (corrupt, cut short, trailing bytes after the stream); INLET_ETOOBIG
 * when the output would pass out->max. On failure out is as it was (its
 * allocation may have grown, never past max). */
int decompress_body(const char *content_encoding, const void *in, size_t len,
		    struct buf *out);

#endif
