/* Webhook delivery's SSRF guard: which resolved addresses a delivery may
 * connect to, and the operator's allowlist of hosts and CIDR ranges that
 * lift the guard. The contract is in webhook.h. */
#include "jobs/webhook.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/err.h"

static const char *v4_refusal(const uint8_t a[4])
{
	uint32_t x = (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 | (uint32_t)a[2] << 8 | a[3];
#define IN(net, bits) ((x >> (32 - (bits))) == ((uint32_t)(net) >> (32 - (bits))))
	if (x == 0)
		return "unspecified";
	if (IN(0x00000000, 8))
		return "this network, 0.0.0.0/8";
	if (IN(0x0A000000, 8) || IN(0xAC100000, 12) || IN(0xC0A80000, 16))
		return "private network";
	if (IN(0x7F000000, 8))
		return "loopback";
	if (x == 0xA9FEA9FE)
		return "cloud metadata";
	if (IN(0xA9FE0000, 16))
		return "link-local";
	if (IN(0x64400000, 10))
		return "carrier-grade NAT";
	if (IN(0xC0000000, 24) || IN(0xC6120000, 15))
		return "reserved";
	if (x == 0xFFFFFFFF)
		return "broadcast";
	if (IN(0xE0000000, 4))
		return "multicast";
	if (IN(0xF0000000, 4))
		return "reserved";
#undef IN
	return NULL;
}

/* If a (IPv6) carries an IPv4 address the packets end up at (mapped,
 * NAT64, 6to4), copies it to v4 and returns 1. */
static int v6_embedded_v4(const uint8_t a[16], uint8_t v4[4])
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
	if (memcmp(a, mapped, 12) == 0 || memcmp(a, nat64, 12) == 0) {
		memcpy(v4, a + 12, 4);
		return 1;
	}
	if (a[0] == 0x20 && a[1] == 0x02) {
		memcpy(v4, a + 2, 4);
		return 1;
	}
	return 0;
}

static const char *v6_refusal(const uint8_t a[16])
{
	static const uint8_t zero[16];
	uint8_t v4[4];
	if (v6_embedded_v4(a, v4))
		return v4_refusal(v4);
	if (memcmp(a, zero, 16) == 0)
		return "unspecified";
	if (memcmp(a, zero, 15) == 0 && a[15] == 1)
		return "loopback";
	if (memcmp(a, zero, 12) == 0)
		return "reserved"; /* IPv4-compatible, deprecated */
	if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
		return "link-local";
	if (a[0] == 0xfe && (a[1] & 0xc0) == 0xc0)
		return "site-local";
	if ((a[0] & 0xfe) == 0xfc)
		return "unique-local";
	if (a[0] == 0xff)
		return "multicast";
	return NULL;
}

const char *webhook_address_refusal(const struct sockaddr *sa)
{
	if (!sa)
		return "no address";
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)sa;
		return v4_refusal((const uint8_t *)&s4->sin_addr);
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)sa;
		return v6_refusal(s6->sin6_addr.s6_addr);
	}
	return "unsupported address family";
}

static int prefix_match(const uint8_t *a, const uint8_t *net, unsigned prefix)
{
	unsigned full = prefix / 8, rem = prefix % 8;
	if (memcmp(a, net, full) != 0)
		return 0;
	if (rem == 0)
		return 1;
	uint8_t mask = (uint8_t)(0xff << (8 - rem));
	return (a[full] & mask) == (net[full] & mask);
}

/* The address as the allowlist sees it: mapped IPv6 as IPv4. */
static int norm_addr(const struct sockaddr *sa, int *family, uint8_t out[16])
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	if (sa->sa_family == AF_INET) {
		*family = AF_INET;
		memcpy(out, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const uint8_t *a = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
		if (memcmp(a, mapped, 12) == 0) {
			*family = AF_INET;
			memcpy(out, a + 12, 4);
		} else {
			*family = AF_INET6;
			memcpy(out, a, 16);
		}
		return 0;
	}
	return -1;
}

int webhook_address_allowed(const struct sockaddr *sa, const struct webhook_allowlist *al)
{
	int family;
	uint8_t a[16];

	if (!sa || norm_addr(sa, &family, a) != 0)
		return 0;
	if (al)
		for (size_t i = 0; i < al->ncidr; i++)
			if (al->cidr[i].family == family &&
			    prefix_match(a, al->cidr[i].addr, al->cidr[i].prefix))
				return 1;
	return webhook_address_refusal(sa) == NULL;
}

/* Host as compared: lower case, without [] around IPv6 or a trailing dot. */
static int host_norm(const char *s, size_t n, char out[WEBHOOK_HOST_MAX + 1])
{
	if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
		s++;
		n -= 2;
	}
	if (n && s[n - 1] == '.')
		n--;
	if (n == 0 || n > WEBHOOK_HOST_MAX)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		      c == '_' || c == ':'))
			return -1;
		out[i] = c;
	}
	out[n] = '\0';
	return 0;
}

int webhook_host_allowed(const struct webhook_allowlist *al, const char *host)
{
	char h[WEBHOOK_HOST_MAX + 1];
	if (!al || !host || host_norm(host, strlen(host), h) != 0)
		return 0;
	for (size_t i = 0; i < al->nhost; i++)
		if (strcmp(al->host[i], h) == 0)
			return 1;
	return 0;
}

static int parse_cidr(const char *item, struct webhook_cidr *c)
{
	char tmp[64];
	const char *slash = strchr(item, '/');
	size_t alen = slash ? (size_t)(slash - item) : strlen(item);
	unsigned max;

	if (alen == 0 || alen >= sizeof tmp)
		return -1;
	memcpy(tmp, item, alen);
	tmp[alen] = '\0';
	if (alen >= 2 && tmp[0] == '[' && tmp[alen - 1] == ']') {
		memmove(tmp, tmp + 1, alen - 2);
		tmp[alen - 2] = '\0';
	}
	memset(c, 0, sizeof *c);
	if (inet_pton(AF_INET, tmp, c->addr) == 1) {
		c->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, tmp, c->addr) == 1) {
		c->family = AF_INET6;
		max = 128;
	} else {
		return 1; /* not an address: maybe a host name */
	}
	c->prefix = max;
	if (slash) {
		char *e;
		errno = 0;
		long p = strtol(slash + 1, &e, 10);
		if (errno || e == slash + 1 || *e || p < 0 || (unsigned long)p > max)
			return -1;
		c->prefix = (unsigned)p;
	}
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	if (c->family == AF_INET6 && memcmp(c->addr, mapped, 12) == 0 && c->prefix >= 96) {
		memmove(c->addr, c->addr + 12, 4);
		memset(c->addr + 4, 0, 12);
		c->family = AF_INET;
		c->prefix -= 96;
	}
	for (unsigned bit = c->prefix; bit < 128; bit++)
		c->addr[bit / 8] &= (uint8_t)~(0x80u >> (bit % 8));
	return 0;
}

int webhook_allowlist_parse(const char *s, struct webhook_allowlist *al)
{
	int rc = 0;

	memset(al, 0, sizeof *al);
	if (!s)
		return 0;
	while (*s) {
		const char *end = strchr(s, ',');
		size_t n = end ? (size_t)(end - s) : strlen(s);
		const char *p = s;
		while (n && (*p == ' ' || *p == '\t')) {
			p++;
			n--;
		}
		while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		s += end ? (size_t)(end - s) + 1 : strlen(s);
		if (n == 0)
			continue;
		char item[WEBHOOK_HOST_MAX + 2];
		if (n >= sizeof item) {
			rc = INLET_EINVAL;
			goto out;
		}
		memcpy(item, p, n);
		item[n] = '\0';
		struct webhook_cidr c;
		int r = parse_cidr(item, &c);
		if (r < 0) {
			rc = INLET_EINVAL;
			goto out;
		}
		if (r == 0) {
			if (al->ncidr == WEBHOOK_ALLOW_MAX_CIDR) {
				rc = INLET_ETOOMANY;
				goto out;
			}
			al->cidr[al->ncidr++] = c;
			continue;
		}
		if (strchr(item, '/') || strchr(item, ':') ||
		    host_norm(item, n, al->host[al->nhost < WEBHOOK_ALLOW_MAX_HOST ? al->nhost : 0]) != 0) {
			rc = INLET_EINVAL;
			goto out;
		}
		if (al->nhost == WEBHOOK_ALLOW_MAX_HOST) {
			rc = INLET_ETOOMANY;
			goto out;
		}
		al->nhost++;
	}
out:
	if (rc)
		memset(al, 0, sizeof *al);
	return rc;
}
