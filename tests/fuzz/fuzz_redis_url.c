/* libFuzzer driver for rds_url_parse (INLET_REDIS_URL). Besides the
 * sanitizers it checks the contract: 0 or INLET_EINVAL only; on success a
 * non-empty host of allowed characters, a port in 1..65535, a db in range,
 * every field NUL-terminated inside its array, a user only with a password,
 * and the same answer from a second parse. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "app/redis.h"
#include "core/err.h"

#define CHECK(x)                   \
	do {                       \
		if (!(x))          \
			abort();   \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	struct rds_url u, again;
	int rc;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	rc = rds_url_parse(s, &u);
	CHECK(rc == 0 || rc == INLET_EINVAL);
	if (rc == 0) {
		CHECK(memchr(u.host, '\0', sizeof(u.host)) && u.host[0]);
		CHECK(memchr(u.user, '\0', sizeof(u.user)));
		CHECK(memchr(u.password, '\0', sizeof(u.password)));
		CHECK(strspn(u.host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_:") ==
		      strlen(u.host));
		CHECK(u.port >= 1 && u.port <= 65535);
		CHECK(u.db <= 1000000);
		CHECK(!u.user[0] || u.password[0]);
		CHECK(strncmp(s, "redis://", 8) == 0);
		CHECK(rds_url_parse(s, &again) == 0 && memcmp(&u, &again, sizeof(u)) == 0);
	}
	free(s);
	return 0;
}
