/* Encodings and identifiers: hex, base64 (standard and URL-safe, no
 * padding on output for URL-safe), random bytes, wall-clock milliseconds. */
#ifndef INLET_CORE_ENC_H
#define INLET_CORE_ENC_H

#include <stddef.h>
#include <stdint.h>

/* The value of a hex digit, or -1. */
static inline int hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* out must hold 2n+1 bytes. */
void hex_encode(char *out, const uint8_t *in, size_t n);
/* Decodes exactly 2n hex chars into n bytes; INLET_EINVAL on a bad digit. */
int hex_decode(uint8_t *out, const char *in, size_t n);

/* Sizes of the encodings of n bytes, including the NUL. */
size_t b64_encoded_size(size_t n);
size_t b64url_encoded_size(size_t n);
void b64_encode(char *out, const uint8_t *in, size_t n);
void b64url_encode(char *out, const uint8_t *in, size_t n);
/* Accepts both alphabets, with or without '=' padding. Writes at most
 * outsize bytes; *outlen gets the decoded length. INLET_EINVAL on bad input,
 * INLET_ETOOBIG if outsize is too small. */
int b64_decode(uint8_t *out, size_t outsize, size_t *outlen, const char *in, size_t len);

/* Cryptographically random bytes from getrandom(2); aborts if the kernel
 * cannot provide them (nothing sensible can continue). */
void rand_bytes(void *out, size_t n);
/* A random URL-safe id with a prefix: prefix + base64url(nbytes). Heap. */
char *rand_id(const char *prefix, size_t nbytes);

int64_t now_ms(void);

#endif
