/* app/redis.c against a real redis-server started here on a free port:
 * INLET_REDIS_URL parsing, one bucket shared by two clients (two nodes),
 * pub/sub between them with each skipping its own messages, the resync
 * hook, and the fallbacks: a dead Redis answers INLET_EIO at once, a slow
 * one within the command timeout, and the clients reconnect when it is
 * back. Skipped (not failed) when redis-server is not installed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "app/redis.h"
#include "core/err.h"

static pid_t server_pid = -1;
static unsigned server_port;
static char url[64];

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void nap_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* A port nobody listens on now (the kernel's pick, released). */
static unsigned free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

/* A raw client of the test's own, for what the module does not do. */
static redisContext *raw(void)
{
	struct timeval tv = { 1, 0 };
	redisContext *c = redisConnectWithTimeout("127.0.0.1", (int)server_port, tv);

	if (c && c->err) {
		redisFree(c);
		return NULL;
	}
	return c;
}

static int start_server(void)
{
	char port[16];

	snprintf(port, sizeof(port), "%u", server_port);
	server_pid = fork();
	if (server_pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, 1);
		execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "",
		       "--appendonly", "no", "--enable-debug-command", "yes", (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 200; i++) {
		redisContext *c = raw();
		int status;

		if (c) {
			redisFree(c);
			return 0;
		}
		if (waitpid(server_pid, &status, WNOHANG) == server_pid) {
			server_pid = -1;
			return -1;
		}
		nap_ms(10);
	}
	return -1;
}

static void stop_server(void)
{
	if (server_pid > 0) {
		kill(server_pid, SIGKILL);
		waitpid(server_pid, NULL, 0);
		server_pid = -1;
	}
}

static int setup(void **state)
{
	(void)state;
	signal(SIGPIPE, SIG_IGN);
	server_port = free_port();
	snprintf(url, sizeof(url), "redis://127.0.0.1:%u/3", server_port);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	stop_server();
	return 0;
}

static void need_server(void)
{
	if (server_pid < 0 && start_server())
		skip();
}

static struct rds *client(void)
{
	struct rds_config cfg = { .url = url, .prefix = "test", .connect_ms = 50, .command_ms = 100, .pool = 2 };
	struct rds *r;

	assert_int_equal(rds_create(&r, &cfg), 0);
	return r;
}

static void wait_up(struct rds *r)
{
	int64_t until = mono_ms() + 5000;

	while (rds_check(r) && mono_ms() < until)
		nap_ms(20);
	assert_int_equal(rds_check(r), 0);
}

/* ---- URLs ------------------------------------------------------------------ */

static void url_parse(void **state)
{
	struct rds_url u;
	static const char *const bad[] = {
		"", "redis://", "http://localhost", "rediss://localhost", "redis://:6379",
		"redis://host:0", "redis://host:65536", "redis://host:12x", "redis://host:",
		"redis://host/x", "redis://host/1/2", "redis://host?db=1", "redis://host#x",
		"redis://secret@host", "redis://user:@host", "redis://:p%zzw@host", "redis://:p%0@host",
		"redis://:a%00b@host", "redis://:pass word@host", "redis://[::1", "redis://[::1]x",
		"redis://[::g]", "redis://ho st", "redis://host/99999999999", "redis://host:99999999999",
	};

	(void)state;
	assert_int_equal(rds_url_parse("redis://localhost", &u), 0);
	assert_string_equal(u.host, "localhost");
	assert_int_equal(u.port, 6379);
	assert_int_equal(u.db, 0);
	assert_string_equal(u.password, "");
	assert_string_equal(u.user, "");

	assert_int_equal(rds_url_parse("redis://:s3cr%2Ft%40x@10.0.0.5:6380/2", &u), 0);
	assert_string_equal(u.host, "10.0.0.5");
	assert_int_equal(u.port, 6380);
	assert_string_equal(u.password, "s3cr/t@x");
	assert_string_equal(u.user, "");
	assert_int_equal(u.db, 2);

	/* An unencoded '@' in the password: the last one ends it. */
	assert_int_equal(rds_url_parse("redis://app:p@ss@cache.internal/", &u), 0);
	assert_string_equal(u.user, "app");
	assert_string_equal(u.password, "p@ss");
	assert_string_equal(u.host, "cache.internal");
	assert_int_equal(u.db, 0);

	assert_int_equal(rds_url_parse("redis://[::1]:7000/15", &u), 0);
	assert_string_equal(u.host, "::1");
	assert_int_equal(u.port, 7000);
	assert_int_equal(u.db, 15);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (rds_url_parse(bad[i], &u) != INLET_EINVAL)
			fail_msg("accepted %s", bad[i]);
	}
}

static void config_checks(void **state)
{
	struct rds_config cfg = { .url = "redis://localhost", .prefix = "inlet", .connect_ms = 50,
				  .command_ms = 100, .pool = 1 };
	struct rds *r;

	(void)state;
	cfg.prefix = "has space";
	assert_int_equal(rds_create(&r, &cfg), INLET_EINVAL);
	cfg.prefix = "inlet";
	cfg.pool = 0;
	assert_int_equal(rds_create(&r, &cfg), INLET_EINVAL);
	cfg.pool = 1;
	cfg.url = "redis://";
	assert_int_equal(rds_create(&r, &cfg), INLET_EINVAL);
	cfg.url = "redis://localhost";
	assert_int_equal(rds_create(&r, &cfg), 0);
	/* Never started: nothing connects, everything falls back. */
	{
		unsigned wait = 7;

		assert_int_equal(rds_bucket_take(r, "1:x", 60, 1, &wait), INLET_EIO);
		assert_int_equal(wait, 0);
		assert_int_equal(rds_publish(r, "c", "m", 1), INLET_EIO);
		assert_int_equal(rds_check(r), INLET_EIO);
	}
	rds_destroy(r);
	rds_destroy(NULL);
}

/* ---- with a server ------------------------------------------------------------ */

static void shared_bucket(void **state)
{
	struct rds *a, *b;
	unsigned wait;
	redisContext *c;
	redisReply *rep;

	(void)state;
	need_server();
	a = client();
	b = client();
	assert_int_equal(rds_start(a), 0);
	assert_int_equal(rds_start(b), 0);
	wait_up(a);
	wait_up(b);
	/* Burst 3, shared: two from one node, one from the other, then none. */
	assert_int_equal(rds_bucket_take(a, "7:client", 60, 3, &wait), 0);
	assert_int_equal(wait, 0);
	assert_int_equal(rds_bucket_take(b, "7:client", 60, 3, &wait), 0);
	assert_int_equal(wait, 0);
	assert_int_equal(rds_bucket_take(a, "7:client", 60, 3, &wait), 0);
	assert_int_equal(wait, 0);
	assert_int_equal(rds_bucket_take(b, "7:client", 60, 3, &wait), 0);
	assert_in_range(wait, 1, 1);
	/* Another client's bucket is its own. */
	assert_int_equal(rds_bucket_take(b, "7:other", 60, 3, &wait), 0);
	assert_int_equal(wait, 0);

	/* In the URL's database, with a TTL: gone once it would be full. */
	assert_non_null(c = raw());
	rep = redisCommand(c, "SELECT 3");
	freeReplyObject(rep);
	rep = redisCommand(c, "PTTL test:rl:7:client");
	assert_int_equal(rep->type, REDIS_REPLY_INTEGER);
	assert_in_range(rep->integer, 1, 4000);
	freeReplyObject(rep);

	/* A flushed script cache: EVALSHA says NOSCRIPT, EVAL takes over. */
	rep = redisCommand(c, "SCRIPT FLUSH");
	freeReplyObject(rep);
	assert_int_equal(rds_bucket_take(a, "8:client", 60, 3, &wait), 0);
	assert_int_equal(wait, 0);
	redisFree(c);
	rds_destroy(a);
	rds_destroy(b);
}

struct inbox {
	pthread_mutex_t lock;
	char last[64];
	int count;
	atomic_int resyncs;
};

static void on_msg(void *arg, const char *msg, size_t len)
{
	struct inbox *in = arg;

	assert_int_equal(strlen(msg), len);
	pthread_mutex_lock(&in->lock);
	snprintf(in->last, sizeof(in->last), "%s", msg);
	in->count++;
	pthread_mutex_unlock(&in->lock);
}

static void on_resync(void *arg)
{
	atomic_fetch_add(&((struct inbox *)arg)->resyncs, 1);
}

static int count_of(struct inbox *in)
{
	int n;

	pthread_mutex_lock(&in->lock);
	n = in->count;
	pthread_mutex_unlock(&in->lock);
	return n;
}

static void wait_count(struct inbox *in, int n)
{
	int64_t until = mono_ms() + 5000;

	while (count_of(in) < n && mono_ms() < until)
		nap_ms(10);
	assert_int_equal(count_of(in), n);
}

static void fan_out(void **state)
{
	struct inbox ia = { .lock = PTHREAD_MUTEX_INITIALIZER }, ib = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct rds *a, *b;

	(void)state;
	need_server();
	a = client();
	b = client();
	assert_int_equal(rds_listen(a, "live", on_msg, &ia), 0);
	assert_int_equal(rds_listen(b, "live", on_msg, &ib), 0);
	rds_on_resync(a, on_resync, &ia);
	rds_on_resync(b, on_resync, &ib);
	assert_int_equal(rds_start(a), 0);
	assert_int_equal(rds_start(b), 0);
	wait_up(a);
	wait_up(b);
	assert_int_equal(atomic_load(&ia.resyncs), 1);
	assert_int_equal(atomic_load(&ib.resyncs), 1);

	assert_int_equal(rds_publish(a, "live", "from a", 6), 0);
	wait_count(&ib, 1);
	assert_string_equal(ib.last, "from a");
	assert_int_equal(rds_publish(b, "live", "from b", 6), 0);
	wait_count(&ia, 1);
	assert_string_equal(ia.last, "from b");
	/* Nobody hears its own: after a round trip each still has one. */
	nap_ms(100);
	assert_int_equal(count_of(&ia), 1);
	assert_int_equal(count_of(&ib), 1);
	{
		char big[RDS_MSG_MAX];

		memset(big, 'x', sizeof(big));
		assert_int_equal(rds_publish(a, "live", big, sizeof(big)), INLET_ETOOBIG);
	}
	rds_destroy(a);
	rds_destroy(b);
}

static void *debug_sleep(void *arg)
{
	redisContext *c = arg;
	redisReply *rep = redisCommand(c, "DEBUG SLEEP 0.6");

	if (rep)
		freeReplyObject(rep);
	return NULL;
}

/* Slow, then gone, then back: never a wait past the command timeout, and
 * the clients come back on their own. */
static void down_and_back(void **state)
{
	struct inbox ia = { .lock = PTHREAD_MUTEX_INITIALIZER }, ib = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct rds *a, *b;
	pthread_t t;
	redisContext *c;
	unsigned wait;
	int64_t t0;

	(void)state;
	need_server();
	a = client();
	b = client();
	assert_int_equal(rds_listen(a, "live", on_msg, &ia), 0);
	assert_int_equal(rds_listen(b, "live", on_msg, &ib), 0);
	rds_on_resync(b, on_resync, &ib);
	assert_int_equal(rds_start(a), 0);
	assert_int_equal(rds_start(b), 0);
	wait_up(a);
	wait_up(b);

	/* Slow: the server sleeps 600 ms; a take gives up after ~100. */
	assert_non_null(c = raw());
	assert_int_equal(pthread_create(&t, NULL, debug_sleep, c), 0);
	nap_ms(50);
	t0 = mono_ms();
	assert_int_equal(rds_bucket_take(a, "9:slow", 60, 3, &wait), INLET_EIO);
	assert_in_range(mono_ms() - t0, 0, 400);
	/* Down now: the next one does not even try. */
	t0 = mono_ms();
	assert_int_equal(rds_bucket_take(a, "9:slow", 60, 3, &wait), INLET_EIO);
	assert_in_range(mono_ms() - t0, 0, 20);
	pthread_join(t, NULL);
	redisFree(c);
	wait_up(a);

	/* Gone. */
	stop_server();
	t0 = mono_ms();
	for (int i = 0; i < 5; i++)
		assert_int_equal(rds_bucket_take(a, "9:gone", 60, 3, &wait), INLET_EIO);
	assert_in_range(mono_ms() - t0, 0, 300);
	assert_int_equal(rds_check(a), INLET_EIO);
	assert_int_equal(rds_check(b), INLET_EIO);
	assert_int_equal(rds_publish(a, "live", "lost", 4), INLET_EIO);

	/* Back, on the same port: both clients return, b joins again (and
	 * resyncs), and messages flow. */
	assert_int_equal(start_server(), 0);
	wait_up(a);
	wait_up(b);
	assert_int_equal(atomic_load(&ib.resyncs), 2);
	assert_int_equal(rds_bucket_take(a, "9:gone", 60, 3, &wait), 0);
	assert_int_equal(rds_publish(a, "live", "again", 5), 0);
	wait_count(&ib, 1);
	assert_string_equal(ib.last, "again");
	rds_destroy(a);
	rds_destroy(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(url_parse),
		cmocka_unit_test(config_checks),
		cmocka_unit_test(shared_bucket),
		cmocka_unit_test(fan_out),
		cmocka_unit_test(down_and_back),
	};

	return cmocka_run_group_tests_name("redis", tests, setup, teardown);
}
