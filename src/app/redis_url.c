/* rds_url_parse (app/redis.h): INLET_REDIS_URL, read as RFC 3986 reads a
 * URL's authority, and strict, since a typo here is found at the start
 * rather than as a node that quietly never shares its limits. Kept apart
 * from redis.c so that its fuzz driver links nothing but this file. */
#include <string.h>

#include "app/redis.h"
#include "core/enc.h"
#include "core/err.h"

#define SCHEME "redis://"

/* Percent-decodes s[0..n) into out (size bytes, NUL-terminated). A %00
 * would cut the secret short where hiredis reads it as a C string: refused. */
static int pct_decode(const char *s, size_t n, char *out, size_t size)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)s[i];

		if (c == '%') {
			int hi = i + 2 < n ? hex_digit(s[i + 1]) : -1;
			int lo = hi >= 0 ? hex_digit(s[i + 2]) : -1;

			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return INLET_EINVAL;
			c = hi << 4 | lo;
			i += 2;
		} else if (c <= 0x20 || c == 0x7f) {
			return INLET_EINVAL;
		}
		if (o + 1 >= size)
			return INLET_EINVAL;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return 0;
}

/* Decimal digits only, 1..max; n > 0. */
static int number(const char *s, size_t n, unsigned long max, unsigned *out)
{
	unsigned long v = 0;

	if (n == 0 || n > 10)
		return INLET_EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return INLET_EINVAL;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > max)
		return INLET_EINVAL;
	*out = (unsigned)v;
	return 0;
}

/* A host name or IPv4 address, or (bracketed in the URL) an IPv6 one:
 * the characters those can hold, nothing that getaddrinfo would take for
 * something else. */
static int host_ok(const char *h, size_t n, int v6)
{
	const char *allowed = v6 ? "0123456789abcdefABCDEF:." : "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_";

	if (n == 0 || n >= RDS_HOST_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!strchr(allowed, h[i]))
			return 0;
	return 1;
}

int rds_url_parse(const char *url, struct rds_url *out)
{
	const char *p, *auth_end, *at = NULL, *host, *host_end, *port = NULL, *port_end = NULL;
	int v6 = 0;

	memset(out, 0, sizeof(*out));
	out->port = 6379;
	if (strncmp(url, SCHEME, strlen(SCHEME)) != 0)
		return INLET_EINVAL;
	p = url + strlen(SCHEME);
	if (strpbrk(p, "?#"))
		return INLET_EINVAL;
	auth_end = p + strcspn(p, "/");
	/* The last '@' ends the user part: a password's own '@' should be
	 * %40, and one left as it is still reads as meant. */
	for (const char *q = p; q < auth_end; q++)
		if (*q == '@')
			at = q;
	if (at) {
		const char *colon = memchr(p, ':', (size_t)(at - p));

		/* "redis://secret@host" could be a user or a password: refused
		 * rather than guessed. */
		if (!colon)
			return INLET_EINVAL;
		if (pct_decode(p, (size_t)(colon - p), out->user, sizeof(out->user)) ||
		    pct_decode(colon + 1, (size_t)(at - colon - 1), out->password, sizeof(out->password)))
			return INLET_EINVAL;
		/* A user with an empty password is an ACL user that cannot log in. */
		if (out->user[0] && !out->password[0])
			return INLET_EINVAL;
		host = at + 1;
	} else {
		host = p;
	}
	if (*host == '[') {
		host_end = memchr(host, ']', (size_t)(auth_end - host));
		if (!host_end)
			return INLET_EINVAL;
		host++;
		v6 = 1;
		if (host_end + 1 < auth_end) {
			if (host_end[1] != ':')
				return INLET_EINVAL;
			port = host_end + 2;
			port_end = auth_end;
		}
	} else {
		host_end = memchr(host, ':', (size_t)(auth_end - host));
		if (host_end) {
			port = host_end + 1;
			port_end = auth_end;
		} else {
			host_end = auth_end;
		}
	}
	if (!host_ok(host, (size_t)(host_end - host), v6))
		return INLET_EINVAL;
	memcpy(out->host, host, (size_t)(host_end - host));
	out->host[host_end - host] = '\0';
	if (port && (number(port, (size_t)(port_end - port), 65535, &out->port) || out->port == 0))
		return INLET_EINVAL;
	/* "/" alone or nothing: database 0. */
	if (*auth_end == '/' && auth_end[1] && number(auth_end + 1, strlen(auth_end + 1), 1000000, &out->db))
		return INLET_EINVAL;
	return 0;
}
