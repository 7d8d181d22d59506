/* inlet: the command line. Parses arguments and calls into the library. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sys/file.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "api/api.h"
#include "api/export.h"
#include "app/app.h"
#include "app/routes.h"
#include "core/alloc.h"
#include "core/arena.h"
#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "core/metrics.h"
#include "http/server.h"
#include "ingest/import.h"
#include "store/backup.h"
#include "store/queue.h"
#include "store/shards.h"
#include "store/subs.h"
#include "store/tenant.h"
#include "vault/vault.h"

#define INLET_VERSION "0.1.0"

static const char usage_main[] =
	"usage: inlet COMMAND [OPTIONS]\n"
	"\n"
	"Inlet receives what web pages send (forms, files) and keeps it sealed.\n"
	"\n"
	"commands:\n"
	"  serve         run the server\n"
	"  init          create an account and its owner\n"
	"  keys          create, list and revoke API keys\n"
	"  shards        where endpoints' submissions live; move one to its own database\n"
	"  backup        a consistent copy of a data folder, while it serves\n"
	"  export        an endpoint's submissions as CSV, JSON or NDJSON\n"
	"  import        bring in an export (Formspree's, Inlet's) as submissions\n"
	"  jobs          the job queue: list jobs, retry or cancel one\n"
	"  routes        print every HTTP route\n"
	"  version       print the version\n"
	"\n"
	"Run 'inlet COMMAND --help' for a command's options.\n";

static const char usage_jobs[] =
	"usage: inlet jobs list   --data DIR [--state S] [--kind K] [--limit N]\n"
	"       inlet jobs retry  --data DIR JOB_ID\n"
	"       inlet jobs cancel --data DIR JOB_ID\n"
	"\n"
	"list shows the newest jobs (webhook deliveries, email, exports...): state\n"
	"(queued, running, done, dead, cancelled), attempts and the last error. retry\n"
	"queues a dead or cancelled job again with fresh attempts; cancel stops a\n"
	"queued or running one. Works while a server runs on the same folder.\n";

static const char usage_serve[] =
	"usage: inlet serve [--listen HOST:PORT] [--data DIR]\n"
	"\n"
	"  --listen HOST:PORT  address to listen on (INLET_LISTEN, default 127.0.0.1:8080;\n"
	"                      port 0 picks a free one)\n"
	"  --data DIR          data folder (INLET_DATA_DIR, default ./data)\n"
	"\n"
	"Other settings come from the environment; see the README.\n";

static const char usage_init[] =
	"usage: inlet init --data DIR --email EMAIL --password-stdin [--account NAME]\n"
	"\n"
	"Creates an account and its owner user; reads the password from standard\n"
	"input. Prints the account id on the last line.\n";

static const char usage_keys[] =
	"usage: inlet keys create --data DIR --account ID --name NAME\n"
	"       inlet keys list   --data DIR --account ID\n"
	"       inlet keys revoke --data DIR --account ID KEY_ID\n"
	"\n"
	"create prints the new API key alone on the last line, once: only its\n"
	"SHA-256 is stored.\n";

static const char usage_shards[] =
	"usage: inlet shards list --data DIR\n"
	"       inlet shards move --data DIR ENDPOINT_ID\n"
	"\n"
	"list shows each endpoint, where its submissions live, how many there are\n"
	"and any move under way. move takes an endpoint out of the shared database\n"
	"into one of its own now, online if a server is running on DIR, and shows\n"
	"its progress.\n";

/* A running server holds an exclusive lock on DATA/serve.lock. Returns the
 * lock's fd (held) or -1 if another process holds it. */
static int take_serve_lock(const char *data_dir)
{
	char path[PATH_MAX + 16];
	int fd;

	snprintf(path, sizeof(path), "%s/serve.lock", data_dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -2;
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int usage_error(const char *usage, const char *msg)
{
	if (msg)
		fprintf(stderr, "inlet: %s\n", msg);
	fputs(usage, stderr);
	return 2;
}

static int wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return 1;
	return 0;
}

static int load_config(struct config *cfg)
{
	char err[256];
	const char *lvl = getenv("INLET_LOG_LEVEL");
	enum log_level level;

	config_defaults(cfg);
	if (config_from_env(cfg, err, sizeof(err))) {
		fprintf(stderr, "inlet: %s\n", err);
		return 2;
	}
	if (lvl && *lvl) {
		if (log_level_parse(lvl, &level)) {
			fprintf(stderr, "inlet: INLET_LOG_LEVEL must be debug, info, warn or error\n");
			return 2;
		}
		log_set_level(level);
	}
	return 0;
}

/* ---- serve ---------------------------------------------------------------- */

static int cmd_serve(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "data", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct config cfg;
	struct app *app = NULL;
	struct http_server *srv = NULL;
	struct http_config hc;
	sigset_t set;
	int c, sig, rc, lock_fd;
	char fields[400] = "";

	if (wants_help(argc, argv)) {
		fputs(usage_serve, stdout);
		return 0;
	}
	if ((rc = load_config(&cfg)))
		return rc;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			if (config_set_listen(&cfg, optarg))
				return usage_error(usage_serve, "--listen takes HOST:PORT");
			break;
		case 'd':
			snprintf(cfg.data_dir, sizeof(cfg.data_dir), "%s", optarg);
			break;
		default:
			return usage_error(usage_serve, NULL);
		}
	}
	if (optind < argc)
		return usage_error(usage_serve, "unexpected argument");

	/* Signals are taken by sigwait below, never by a worker thread. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	metrics_init(app_routes);
	if (mkdir(cfg.data_dir, 0700) && errno != EEXIST) {
		log_msg(LOG_ERROR, "cannot create the data folder %s", cfg.data_dir);
		return 1;
	}
	if ((lock_fd = take_serve_lock(cfg.data_dir)) < 0) {
		log_msg(LOG_ERROR, "another inlet is serving %s", cfg.data_dir);
		return 1;
	}
	if ((rc = app_open(&app, &cfg, 1))) {
		log_msg(LOG_ERROR, "cannot open the data folder %s: %s", cfg.data_dir, inlet_strerror(rc));
		return 1;
	}
	hc = (struct http_config){
		.host = cfg.listen_host, .port = cfg.listen_port, .threads = cfg.threads,
		.max_connections = cfg.max_connections, .max_per_ip = cfg.max_per_ip,
		.timeout_s = cfg.timeout_s, .body_max = 64 * 1024, .trust_proxy = cfg.trust_proxy,
	};
	if ((rc = http_server_start(&srv, &hc, app_routes, app))) {
		log_msg(LOG_ERROR, "cannot listen on %s:%u", cfg.listen_host, cfg.listen_port);
		app_close(app);
		return 1;
	}
	config_finish(&cfg, http_server_port(srv));
	app->cfg = cfg;
	if ((rc = app_start_jobs(app)))
		log_msg(LOG_ERROR, "the job workers did not all start: %s", inlet_strerror(rc));
	{
		/* url is where this process listens (what a client on this host
		 * connects to); public_url is the base it builds links with. */
		char listen_url[128];
		const char *h = strcmp(cfg.listen_host, "0.0.0.0") == 0 ? "127.0.0.1" : cfg.listen_host;

		snprintf(listen_url, sizeof(listen_url), strchr(h, ':') ? "http://[%s]:%u" : "http://%s:%u", h,
			 http_server_port(srv));
		log_field_str(fields, sizeof(fields), "url", listen_url);
	}
	log_field_str(fields, sizeof(fields), "public_url", cfg.public_url);
	log_field_str(fields, sizeof(fields), "data", cfg.data_dir);
	log_field_int(fields, sizeof(fields), "threads", cfg.threads);
	log_emit(LOG_INFO, "listening", fields);

	while (sigwait(&set, &sig) != 0 && errno == EINTR)
		;
	log_msg(LOG_INFO, "signal %d: draining", sig);
	rc = http_server_drain(srv, 10000);
	if (rc)
		log_msg(LOG_WARN, "%d requests still in flight after 10 s", rc);
	http_server_destroy(srv);
	app_close(app);
	close(lock_fd);
	log_msg(LOG_INFO, "stopped");
	return 0;
}

/* ---- init ----------------------------------------------------------------- */

static char *read_password(void)
{
	char buf[1024];
	size_t n = fread(buf, 1, sizeof(buf) - 1, stdin);

	buf[n] = '\0';
	/* One trailing newline (from echo or a terminal) is not part of it. */
	if (n && buf[n - 1] == '\n')
		buf[--n] = '\0';
	if (n && buf[n - 1] == '\r')
		buf[--n] = '\0';
	return xstrdup(buf);
}

static int cmd_init(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "data", required_argument, NULL, 'd' },
		{ "email", required_argument, NULL, 'e' },
		{ "password-stdin", no_argument, NULL, 'p' },
		{ "account", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct config cfg;
	struct app *app = NULL;
	struct arena *a = NULL;
	struct account acc;
	const char *email = NULL, *account = NULL;
	char *password = NULL, *hash = NULL;
	int c, pw_stdin = 0, rc, ret = 1;

	if (wants_help(argc, argv)) {
		fputs(usage_init, stdout);
		return 0;
	}
	if ((rc = load_config(&cfg)))
		return rc;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': snprintf(cfg.data_dir, sizeof(cfg.data_dir), "%s", optarg); break;
		case 'e': email = optarg; break;
		case 'p': pw_stdin = 1; break;
		case 'a': account = optarg; break;
		default: return usage_error(usage_init, NULL);
		}
	}
	if (optind < argc || !email || !pw_stdin)
		return usage_error(usage_init, "--email and --password-stdin are required");
	if (!strchr(email, '@') || strlen(email) > 254) {
		fprintf(stderr, "inlet: %s is not an email address\n", email);
		return 1;
	}
	password = read_password();
	if (strlen(password) < 8) {
		fprintf(stderr, "inlet: the password must have at least 8 characters\n");
		goto out;
	}
	if ((rc = vault_password_hash(password, &hash))) {
		fprintf(stderr, "inlet: cannot hash the password: %s\n", inlet_strerror(rc));
		goto out;
	}
	if ((rc = app_open(&app, &cfg, 0))) {
		fprintf(stderr, "inlet: cannot open %s: %s\n", cfg.data_dir, inlet_strerror(rc));
		goto out;
	}
	a = arena_create(4096);
	rc = tenant_init_owner(app->tenant, email, hash, account ? account : email, a, &acc);
	if (rc == INLET_EEXISTS) {
		fprintf(stderr, "inlet: a user with the email %s already exists\n", email);
		goto out;
	}
	if (rc) {
		fprintf(stderr, "inlet: cannot create the account: %s\n", inlet_strerror(rc));
		goto out;
	}
	printf("created account \"%s\" owned by %s\n%s\n", acc.name, email, acc.pid);
	ret = 0;
out:
	if (password) {
		secure_wipe(password, strlen(password));
		free(password);
	}
	free(hash);
	arena_destroy(a);
	app_close(app);
	return ret;
}

/* ---- keys ----------------------------------------------------------------- */

static int cmd_keys(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "data", required_argument, NULL, 'd' },
		{ "account", required_argument, NULL, 'a' },
		{ "name", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct config cfg;
	struct app *app = NULL;
	struct arena *a = NULL;
	struct account acc;
	const char *sub, *account = NULL, *name = NULL;
	int c, rc, ret = 1;

	if (wants_help(argc, argv)) {
		fputs(usage_keys, stdout);
		return 0;
	}
	if (argc < 2)
		return usage_error(usage_keys, "keys needs create, list or revoke");
	sub = argv[1];
	if (strcmp(sub, "create") && strcmp(sub, "list") && strcmp(sub, "revoke"))
		return usage_error(usage_keys, "keys needs create, list or revoke");
	if ((rc = load_config(&cfg)))
		return rc;
	optind = 1;
	argc--;
	argv++;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': snprintf(cfg.data_dir, sizeof(cfg.data_dir), "%s", optarg); break;
		case 'a': account = optarg; break;
		case 'n': name = optarg; break;
		default: return usage_error(usage_keys, NULL);
		}
	}
	if (!account)
		return usage_error(usage_keys, "--account is required");
	if (!strcmp(sub, "create") && (!name || optind != argc))
		return usage_error(usage_keys, "keys create needs --name");
	if (!strcmp(sub, "revoke") && optind != argc - 1)
		return usage_error(usage_keys, "keys revoke needs one KEY_ID");
	if (!strcmp(sub, "list") && optind != argc)
		return usage_error(usage_keys, "unexpected argument");
	if ((rc = app_open(&app, &cfg, 0))) {
		fprintf(stderr, "inlet: cannot open %s: %s\n", cfg.data_dir, inlet_strerror(rc));
		return 1;
	}
	a = arena_create(4096);
	if ((rc = tenant_account_by_pid(app->tenant, account, a, &acc))) {
		fprintf(stderr, "inlet: no account %s\n", account);
		goto out;
	}
	if (!strcmp(sub, "create")) {
		struct api_key k;
		char *token, prefix[15];
		uint8_t hash[32];

		vault_token_new(&token, hash);
		snprintf(prefix, sizeof(prefix), "%s", token);
		rc = tenant_key_create(app->tenant, acc.id, name, hash, prefix, a, &k);
		if (rc) {
			fprintf(stderr, "inlet: cannot create the key: %s\n", inlet_strerror(rc));
		} else {
			printf("created key %s \"%s\"; it is shown once, store it now:\n%s\n", k.pid, k.name, token);
			ret = 0;
		}
		secure_wipe(token, strlen(token));
		free(token);
	} else if (!strcmp(sub, "list")) {
		struct api_key *keys;
		size_t n;

		if ((rc = tenant_key_list(app->tenant, acc.id, a, &keys, &n))) {
			fprintf(stderr, "inlet: %s\n", inlet_strerror(rc));
			goto out;
		}
		for (size_t i = 0; i < n; i++)
			printf("%s\t%s\t%s\t%s\n", keys[i].pid, keys[i].name, keys[i].prefix,
			       keys[i].revoked_ms ? "revoked" : "active");
		ret = 0;
	} else {
		rc = tenant_key_revoke(app->tenant, acc.id, argv[optind]);
		if (rc == INLET_ENOTFOUND)
			fprintf(stderr, "inlet: no active key %s in account %s\n", argv[optind], account);
		else if (rc)
			fprintf(stderr, "inlet: %s\n", inlet_strerror(rc));
		else {
			printf("revoked %s\n", argv[optind]);
			ret = 0;
		}
	}
out:
	arena_destroy(a);
	app_close(app);
	return ret;
}

/* ---- shards ----------------------------------------------------------------- */

static void progress(FILE *f, int64_t done, int64_t total, const char *state, int tty)
{
	int pct = total > 0 ? (int)(done * 100 / total) : 0;

	if (pct > 100)
		pct = 100;
	if (tty) {
		char bar[41];
		int fill = pct * 40 / 100;

		memset(bar, '#', (size_t)fill);
		memset(bar + fill, '-', (size_t)(40 - fill));
		bar[40] = '\0';
		fprintf(f, "\r%-8s [%s] %3d%%  %lld/%lld ", state, bar, pct, (long long)done, (long long)total);
	} else {
		fprintf(f, "%s %lld/%lld\n", state, (long long)done, (long long)total);
	}
	fflush(f);
}

static int cmd_shards(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "data", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct config cfg;
	struct app *app = NULL;
	struct arena *a = NULL;
	const char *sub;
	int c, rc, ret = 1, lock_fd = -1;

	if (wants_help(argc, argv)) {
		fputs(usage_shards, stdout);
		return 0;
	}
	if (argc < 2 || (strcmp(argv[1], "list") && strcmp(argv[1], "move")))
		return usage_error(usage_shards, "shards needs list or move");
	sub = argv[1];
	if ((rc = load_config(&cfg)))
		return rc;
	optind = 1;
	argc--;
	argv++;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'd')
			snprintf(cfg.data_dir, sizeof(cfg.data_dir), "%s", optarg);
		else
			return usage_error(usage_shards, NULL);
	}
	if (!strcmp(sub, "list") ? optind != argc : optind != argc - 1)
		return usage_error(usage_shards, !strcmp(sub, "list") ? "unexpected argument"
								     : "shards move needs one ENDPOINT_ID");
	lock_fd = take_serve_lock(cfg.data_dir);
	if (lock_fd == -2) {
		fprintf(stderr, "inlet: cannot open %s\n", cfg.data_dir);
		return 1;
	}
	/* Without a server, this process opens the stores and runs the mover;
	 * with one, it only asks (tenant.db) and watches. */
	if ((rc = app_open(&app, &cfg, lock_fd >= 0))) {
		fprintf(stderr, "inlet: cannot open %s: %s\n", cfg.data_dir, inlet_strerror(rc));
		goto out;
	}
	a = arena_create(8192);
	if (!strcmp(sub, "list")) {
		struct endpoint *eps;
		struct shard_move *mv;
		size_t n, nm;

		if ((rc = tenant_moves(app->tenant, a, &mv, &nm)) ||
		    (rc = tenant_endpoint_list(app->tenant, 0, a, &eps, &n))) {
			fprintf(stderr, "inlet: %s\n", inlet_strerror(rc));
			goto out;
		}
		printf("%-22s %-34s %10s  %s\n", "ENDPOINT", "LOCATION", "ROWS", "MOVE");
		for (size_t i = 0; i < n; i++) {
			int64_t rows = -1;
			const char *state = "-";

			/* Counts come from the stores, opened only without a server. */
			if (app->shards)
				substore_count(app_subs(app, eps[i].id), eps[i].id, &rows);
			for (size_t k = 0; k < nm; k++)
				if (mv[k].endpoint_id == eps[i].id)
					state = arena_printf(a, "%s %lld/%lld", mv[k].state,
							     (long long)mv[k].rows_copied, (long long)mv[k].rows_total);
			if (rows >= 0)
				printf("%-22s %-34s %10lld  %s\n", eps[i].pid, eps[i].location, (long long)rows, state);
			else
				printf("%-22s %-34s %10s  %s\n", eps[i].pid, eps[i].location, "(serving)", state);
		}
		ret = 0;
	} else {
		struct endpoint ep;
		int tty = isatty(STDOUT_FILENO), seen = 0;

		if ((rc = tenant_endpoint_get(app->tenant, 0, argv[optind], a, &ep))) {
			fprintf(stderr, "inlet: no endpoint %s\n", argv[optind]);
			goto out;
		}
		if (strcmp(ep.location, "shared") != 0) {
			printf("%s already lives in %s\n", ep.pid, ep.location);
			ret = 0;
			goto out;
		}
		if ((rc = tenant_move_request(app->tenant, ep.id))) {
			fprintf(stderr, "inlet: %s\n", inlet_strerror(rc));
			goto out;
		}
		if (app->shards)
			shards_kick(app->shards);
		for (;;) {
			struct shard_move mv;
			struct arena *tmp = arena_create(1024);

			rc = tenant_move_get(app->tenant, ep.id, tmp, &mv);
			if (rc == INLET_ENOTFOUND) {
				arena_destroy(tmp);
				break;
			}
			if (!rc) {
				progress(stdout, mv.rows_copied, mv.rows_total, mv.state, tty);
				seen = 1;
			}
			arena_destroy(tmp);
			usleep(tty ? 200000 : 1000000);
		}
		if (seen && tty)
			printf("\n");
		if ((rc = tenant_endpoint_get(app->tenant, 0, argv[optind], a, &ep)) == 0 &&
		    strcmp(ep.location, "shared") != 0) {
			printf("%s now lives in %s\n", ep.pid, ep.location);
			ret = 0;
		} else {
			fprintf(stderr, "inlet: the move of %s did not finish\n", argv[optind]);
		}
	}
out:
	arena_destroy(a);
	app_close(app);
	if (lock_fd >= 0)
		close(lock_fd);
	return ret;
}

static const char usage_backup[] =
	"usage: inlet backup --data DIR --out NEWDIR [--with-key]\n"
	"\n"
	"Copies every database (whatever endpoints live where) and the sealed files\n"
	"into NEWDIR, consistently, also while a server runs. NEWDIR is a data folder\n"
	"`inlet serve` can start on. The master key is left out unless --with-key:\n"
	"keep it apart from the backup (or set INLET_MASTER_KEY when restoring).\n";

static void backup_progress(void *ctx, const struct backup_stats *st)
{
	int *tty = ctx;

	printf(*tty ? "\r%d databases, %lld files" : "%d databases, %lld files\n", st->databases,
	       (long long)st->blobs);
	fflush(stdout);
}

static int cmd_backup(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "data", required_argument, NULL, 'd' },
		{ "out", required_argument, NULL, 'o' },
		{ "with-key", no_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct config cfg;
	struct backup_stats st;
	const char *out = NULL;
	int c, rc, with_key = 0, tty = isatty(STDOUT_FILENO);
	struct stat sb;

	if (wants_help(argc, argv)) {
		fputs(usage_backup, stdout);
		return 0;
	}
	if ((rc = load_config(&cfg)))
		return rc;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': snprintf(cfg.data_dir, sizeof(cfg.data_dir), "%s", optarg); break;
		case 'o': out = optarg; break;
		case 'k': with_key = 1; break;
		default: return usage_error(usage_backup, NULL);
		}
	}
	if (!out || optind != argc)
		return usage_error(usage_backup, "--out is required");
	if (stat(out, &sb) == 0) {
		fprintf(stderr, "inlet: %s exists; back up into a new folder\n", out);
		return 1;
	}
	{
		struct backup_server servers[CONFIG_SHARD_SERVERS];
		struct backup_opts bo = { .with_key = with_key, .db_url = cfg.database_url, .servers = servers,
					  .nservers = cfg.database_url ? cfg.nshard_servers : 0,
					  .pg_dump = cfg.pg_dump };

		for (unsigned i = 0; i < cfg.nshard_servers; i++)
			servers[i] = (struct backup_server){ cfg.shard_servers[i].name, cfg.shard_servers[i].url };
		rc = backup_run(cfg.data_dir, out, &bo, &st, backup_progress, &tty);
	}
	if (tty)
		printf("\n");
	if (rc) {
		fprintf(stderr, "inlet: backup failed: %s\n", inlet_strerror(rc));
		return 1;
	}
	printf("backed up %d databases (%lld bytes) and %lld files (%lld bytes) to %s\n", st.databases,
	       (long long)st.db_bytes, (long long)st.blobs, (long long)st.blob_bytes, out);
	if (!with_key)
		printf("the master key is not in the backup: keep %s/master.key (or INLET_MASTER_KEY) apart\n",
		       cfg.data_dir);
	return 0;
}

static const char usage_export[] =
	"usage: inlet export --data DIR ENDPOINT_ID --format csv|json|ndjson [--out FILE]\n"
	"                    [--since TIME] [--until TIME] [--status inbox|spam|trash]\n"
	"\n"
	"Writes an endpoint's submissions, opened, oldest first, to standard output or\n"
	"FILE (mode 0600; written aside and renamed, never left half-written). TIME\n"
	"is ISO 8601 or unix milliseconds; --since is inclusive, --until exclusive.\n"
	"Formats and columns as GET /api/v1/endpoints/{id}/export (see the README).\n"
	"The data folder must not be served: with a server running, use that route.\n"
	"Exit 1 also when a submission could not be opened: it is in the output,\n"
	"marked with its error.\n";

struct export_view {
	int64_t total; /* rows of the endpoint, for the bar */
	int tty;       /* stderr is a terminal: draw a bar */
};

static void export_progress(void *ctx, const struct export_stats *st)
{
	struct export_view *v = ctx;

	if (v->tty)
		progress(stderr, st->scanning ? st->scanned : st->rows, v->total, st->scanning ? "columns" : "rows", 1);
}

static int cmd_export(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "data", required_argument, NULL, 'd' },
		{ "format", required_argument, NULL, 'f' },
		{ "out", required_argument, NULL, 'o' },
		{ "since", required_argument, NULL, 's' },
		{ "until", required_argument, NULL, 'u' },
		{ "status", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct config cfg;
	struct app *app = NULL;
	struct arena *a = NULL;
	struct export *x = NULL;
	struct export_opts eo = { .status = -1 };
	struct export_stats st = { 0 };
	struct export_view view = { 0 };
	struct endpoint ep;
	const char *fmt = NULL, *out = NULL;
	char tmp[PATH_MAX + 16] = "";
	int64_t ms;
	int c, rc, ret = 1, lock_fd = -1, fd = STDOUT_FILENO;

	if (wants_help(argc, argv)) {
		fputs(usage_export, stdout);
		return 0;
	}
	if ((rc = load_config(&cfg)))
		return rc;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': snprintf(cfg.data_dir, sizeof(cfg.data_dir), "%s", optarg); break;
		case 'f': fmt = optarg; break;
		case 'o': out = optarg; break;
		case 's':
		case 'u':
			if (api_parse_time(optarg, &ms) || ms < 0)
				return usage_error(usage_export, "--since and --until take ISO 8601 or unix milliseconds");
			*(c == 's' ? &eo.min_id : &eo.max_id) = ms << 20;
			break;
		case 't':
			if ((eo.status = api_status_parse(optarg)) < 0)
				return usage_error(usage_export, "--status takes inbox, spam or trash");
			break;
		default: return usage_error(usage_export, NULL);
		}
	}
	if (optind != argc - 1)
		return usage_error(usage_export, "export needs one ENDPOINT_ID");
	if (!fmt || export_format_parse(fmt, &eo.format))
		return usage_error(usage_export, "--format takes csv, json or ndjson");
	lock_fd = take_serve_lock(cfg.data_dir);
	if (lock_fd == -2) {
		fprintf(stderr, "inlet: cannot open %s\n", cfg.data_dir);
		return 1;
	}
	if (lock_fd == -1) {
		fprintf(stderr, "inlet: a server is serving %s: export through GET /api/v1/endpoints/%s/export, "
				"or stop it\n", cfg.data_dir, argv[optind]);
		return 1;
	}
	if ((rc = app_open(&app, &cfg, 1))) {
		fprintf(stderr, "inlet: cannot open %s: %s\n", cfg.data_dir, inlet_strerror(rc));
		goto out;
	}
	a = arena_create(4096);
	if ((rc = tenant_endpoint_get(app->tenant, 0, argv[optind], a, &ep))) {
		fprintf(stderr, "inlet: no endpoint %s\n", argv[optind]);
		goto out;
	}
	if (out) {
		/* Opened submissions: only the owner reads the file. */
		snprintf(tmp, sizeof(tmp), "%s.part", out);
		if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0) {
			fprintf(stderr, "inlet: cannot create %s: %s\n", tmp, strerror(errno));
			tmp[0] = '\0';
			goto out;
		}
	}
	/* No bar over the export itself on the same terminal. */
	view.tty = isatty(STDERR_FILENO) && (out || !isatty(STDOUT_FILENO));
	substore_count(app_subs(app, ep.id), ep.id, &view.total);
	if ((rc = export_create(app, &ep, &eo, &x)) == 0)
		rc = export_write(x, fd, export_progress, &view);
	if (x)
		export_stats(x, &st);
	if (view.tty)
		fputc('\n', stderr);
	if (out) {
		if (!rc && fsync(fd))
			rc = INLET_EIO;
		if (close(fd) && !rc)
			rc = INLET_EIO;
		fd = -1;
		if (!rc && rename(tmp, out))
			rc = INLET_EIO;
	}
	if (rc) {
		fprintf(stderr, "inlet: the export stopped after %lld submissions: %s\n", (long long)st.rows,
			inlet_strerror(rc));
		goto out;
	}
	tmp[0] = '\0';
	fprintf(stderr, "exported %lld submissions of %s%s%s\n", (long long)st.rows, ep.pid, out ? " to " : "",
		out ? out : "");
	if (st.unreadable) {
		fprintf(stderr, "inlet: %lld submissions could not be opened; they are marked in the output\n",
			(long long)st.unreadable);
		goto out;
	}
	ret = 0;
out:
	if (fd >= 0 && fd != STDOUT_FILENO)
		close(fd);
	if (tmp[0])
		unlink(tmp);
	export_destroy(x);
	arena_destroy(a);
	app_close(app);
	if (lock_fd >= 0)
		close(lock_fd);
	return ret;
}

static int cmd_jobs(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "data", required_argument, NULL, 'd' },
		{ "state", required_argument, NULL, 's' },
		{ "kind", required_argument, NULL, 'k' },
		{ "limit", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 },
	};
	struct queue_filter f = { .state = -1, .lane = -1, .limit = 50 };
	struct config cfg;
	struct queue *q = NULL;
	struct arena *a = NULL;
	struct queue_job *jobs;
	char path[PATH_MAX + 16], when[40];
	const char *verb;
	size_t n;
	int c, rc, ret = 1;

	if (wants_help(argc, argv)) {
		fputs(usage_jobs, stdout);
		return 0;
	}
	if (argc < 2 || (strcmp(argv[1], "list") && strcmp(argv[1], "retry") && strcmp(argv[1], "cancel")))
		return usage_error(usage_jobs, "jobs needs list, retry or cancel");
	verb = argv[1];
	if ((rc = load_config(&cfg)))
		return rc;
	argc--;
	argv++;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		enum queue_state st;
		char *end;

		switch (c) {
		case 'd': snprintf(cfg.data_dir, sizeof(cfg.data_dir), "%s", optarg); break;
		case 's':
			if (queue_state_parse(optarg, &st))
				return usage_error(usage_jobs, "--state is queued, running, done, dead or cancelled");
			f.state = (int)st;
			break;
		case 'k': f.kind = optarg; break;
		case 'l':
			f.limit = strtoul(optarg, &end, 10);
			if (*end || f.limit < 1 || f.limit > QUEUE_LIST_MAX)
				return usage_error(usage_jobs, "--limit is 1 to 1000");
			break;
		default: return usage_error(usage_jobs, NULL);
		}
	}
	if (strcmp(verb, "list") == 0 ? optind != argc : optind != argc - 1)
		return usage_error(usage_jobs, strcmp(verb, "list") == 0 ? "list takes no JOB_ID" : "one JOB_ID");
	snprintf(path, sizeof(path), "%s/jobs.db", cfg.data_dir);
	if (!cfg.database_url && access(path, F_OK) != 0) {
		fprintf(stderr, "inlet: %s has no job queue yet\n", cfg.data_dir);
		return 1;
	}
	if ((rc = app_open_queue(&cfg, &q))) {
		fprintf(stderr, "inlet: cannot open the job queue%s%s: %s\n", cfg.database_url ? "" : " ",
			cfg.database_url ? "" : path, inlet_strerror(rc));
		return 1;
	}
	if (strcmp(verb, "list") != 0) {
		char *end;
		int64_t id = strtoll(argv[optind], &end, 10);

		if (*end || id <= 0) {
			queue_close(q);
			return usage_error(usage_jobs, "JOB_ID is a number");
		}
		rc = strcmp(verb, "retry") == 0 ? queue_retry(q, id) : queue_cancel(q, id);
		if (rc == INLET_ENOTFOUND)
			fprintf(stderr, "inlet: no job %lld\n", (long long)id);
		else if (rc == INLET_EBUSY)
			fprintf(stderr, "inlet: job %lld cannot be %s in its state\n", (long long)id,
				strcmp(verb, "retry") == 0 ? "retried" : "cancelled");
		else if (rc)
			fprintf(stderr, "inlet: %s\n", inlet_strerror(rc));
		else
			printf("job %lld %s\n", (long long)id, strcmp(verb, "retry") == 0 ? "queued again" : "cancelled");
		ret = rc ? 1 : 0;
		goto out;
	}
	a = arena_create(1 << 16);
	if ((rc = queue_list(q, &f, a, &jobs, &n))) {
		fprintf(stderr, "inlet: %s\n", inlet_strerror(rc));
		goto out;
	}
	printf("%-8s %-20s %-5s %-9s %-8s %-24s %s\n", "ID", "KIND", "LANE", "STATE", "TRIES", "UPDATED", "LAST ERROR");
	for (size_t i = 0; i < n; i++) {
		char tries[24];

		api_time(jobs[i].updated_ms, when, sizeof(when));
		snprintf(tries, sizeof(tries), "%d/%d", jobs[i].attempts, jobs[i].max_attempts);
		printf("%-8lld %-20s %-5s %-9s %-8s %-24s %s\n", (long long)jobs[i].id, jobs[i].kind,
		       queue_lane_name(jobs[i].lane), queue_state_name(jobs[i].state), tries, when,
		       jobs[i].last_error ? jobs[i].last_error : "");
	}
	ret = 0;
out:
	arena_destroy(a);
	queue_close(q);
	return ret;
}

static const char usage_import[] =
	"usage: inlet import --data DIR ENDPOINT_ID FILE [--format csv|json|ndjson]\n"
	"\n"
	"Brings in an export as submissions of the endpoint, sealed as posts are:\n"
	"Formspree's (CSV or JSON) or Inlet's own (CSV, JSON, NDJSON). Each row keeps\n"
	"its time and status. FILE - reads standard input (give --format); else the\n"
	"format comes from the extension (.csv, .json, .ndjson, .jsonl). Shows its\n"
	"progress on a terminal and prints the report (JSON) at the end. The data\n"
	"folder must not be served: with a server running, POST the file to\n"
	"/api/v1/endpoints/{id}/imports. Exit 0 when every row was imported, 1 when\n"
	"some were rejected (the report lists them) or the import stopped.\n";

/* One line, redrawn: rows read, and how far into the file. */
static void import_progress(const struct import *im, int64_t done, int64_t total)
{
	size_t rows, imported, rejected;

	import_counts(im, &rows, &imported, &rejected);
	if (total > 0)
		fprintf(stderr, "\rimporting: %zu rows, %.1f of %.1f MB (%d%%) ", rows, (double)done / 1e6,
			(double)total / 1e6, (int)(done * 100 / total));
	else
		fprintf(stderr, "\rimporting: %zu rows, %.1f MB ", rows, (double)done / 1e6);
	fflush(stderr);
}

static int cmd_import(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "data", required_argument, NULL, 'd' },
		{ "format", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct config cfg;
	struct app *app = NULL;
	struct arena *a = NULL;
	struct import *im = NULL;
	struct endpoint ep;
	struct json_object *report = NULL;
	const char *fmt = NULL, *file, *ext;
	enum importfmt_format format;
	size_t rows, imported, rejected;
	int64_t total = 0, done = 0, shown = 0;
	int c, rc, ret = 1, lock_fd = -1, fd = -1, tty = isatty(STDERR_FILENO);
	struct stat sb;
	char buf[64 * 1024];
	ssize_t n;

	if (wants_help(argc, argv)) {
		fputs(usage_import, stdout);
		return 0;
	}
	if ((rc = load_config(&cfg)))
		return rc;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': snprintf(cfg.data_dir, sizeof(cfg.data_dir), "%s", optarg); break;
		case 'f': fmt = optarg; break;
		default: return usage_error(usage_import, NULL);
		}
	}
	if (optind != argc - 2)
		return usage_error(usage_import, "import needs ENDPOINT_ID and FILE");
	file = argv[optind + 1];
	if (!fmt && (ext = strrchr(file, '.')))
		fmt = ext + 1;
	if (!fmt)
		return usage_error(usage_import, "give --format: the file's name does not tell it");
	if (!strcasecmp(fmt, "csv"))
		format = IMPORTFMT_CSV;
	else if (!strcasecmp(fmt, "json") || !strcasecmp(fmt, "ndjson") || !strcasecmp(fmt, "jsonl"))
		format = IMPORTFMT_JSON;
	else
		return usage_error(usage_import, "--format takes csv, json or ndjson");
	lock_fd = take_serve_lock(cfg.data_dir);
	if (lock_fd == -2) {
		fprintf(stderr, "inlet: cannot open %s\n", cfg.data_dir);
		return 1;
	}
	/* A second writer on the same databases would race the server's
	 * writers, id sequences and moves: the server imports instead. */
	if (lock_fd == -1) {
		fprintf(stderr, "inlet: a server is serving %s: import through POST /api/v1/endpoints/%s/imports, "
				"or stop it\n", cfg.data_dir, argv[optind]);
		return 1;
	}
	if (strcmp(file, "-") == 0) {
		fd = STDIN_FILENO;
	} else if ((fd = open(file, O_RDONLY | O_CLOEXEC)) < 0) {
		fprintf(stderr, "inlet: cannot open %s: %s\n", file, strerror(errno));
		goto out;
	}
	if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode))
		total = (int64_t)sb.st_size;
	if ((rc = app_open(&app, &cfg, 1))) {
		fprintf(stderr, "inlet: cannot open %s: %s\n", cfg.data_dir, inlet_strerror(rc));
		goto out;
	}
	a = arena_create(4096);
	if ((rc = tenant_endpoint_get(app->tenant, 0, argv[optind], a, &ep))) {
		fprintf(stderr, "inlet: no endpoint %s\n", argv[optind]);
		goto out;
	}
	if (strcmp(ep.kind, "form") != 0) {
		fprintf(stderr, "inlet: %s is an events endpoint; only forms take imports\n", ep.pid);
		goto out;
	}
	if ((rc = import_create(&im, app, &ep, format))) {
		fprintf(stderr, "inlet: cannot import into %s: %s\n", ep.pid, inlet_strerror(rc));
		goto out;
	}
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "inlet: cannot read %s: %s\n", file, strerror(errno));
			break;
		}
		done += n;
		rc = import_feed(im, buf, (size_t)n);
		if (tty && done - shown >= 1024 * 1024) {
			import_progress(im, done, total);
			shown = done;
		}
		if (rc)
			break;
	}
	secure_wipe(buf, sizeof(buf));
	rc = n < 0 ? INLET_EIO : import_finish(im);
	import_counts(im, &rows, &imported, &rejected);
	if (tty) {
		import_progress(im, done, total);
		fputc('\n', stderr);
	}
	report = import_report(im);
	printf("%s\n", json_object_to_json_string_ext(report, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	if (rc) {
		fprintf(stderr, "inlet: the import stopped: %s\n",
			import_error(im) ? import_error(im) : inlet_strerror(rc));
		goto out;
	}
	fprintf(stderr, "imported %zu of %zu rows into %s%s\n", imported, rows, ep.pid,
		rejected ? "; the report lists the rejected ones" : "");
	ret = rejected ? 1 : 0;
out:
	json_object_put(report);
	import_destroy(im);
	if (fd > STDIN_FILENO)
		close(fd);
	arena_destroy(a);
	app_close(app);
	if (lock_fd >= 0)
		close(lock_fd);
	return ret;
}

static int cmd_routes(void)
{
	for (const struct route *r = app_routes; r->method; r++)
		printf("%s %s\n", r->method, r->pattern);
	return 0;
}

int main(int argc, char **argv)
{
	const char *cmd;

	if (argc < 2)
		return usage_error(usage_main, "a command is required");
	cmd = argv[1];
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
		fputs(usage_main, stdout);
		return 0;
	}
	if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
		printf("inlet %s\n", INLET_VERSION);
		return 0;
	}
	if (!strcmp(cmd, "serve"))
		return cmd_serve(argc - 1, argv + 1);
	if (!strcmp(cmd, "init"))
		return cmd_init(argc - 1, argv + 1);
	if (!strcmp(cmd, "keys"))
		return cmd_keys(argc - 1, argv + 1);
	if (!strcmp(cmd, "backup"))
		return cmd_backup(argc - 1, argv + 1);
	if (!strcmp(cmd, "shards"))
		return cmd_shards(argc - 1, argv + 1);
	if (!strcmp(cmd, "jobs"))
		return cmd_jobs(argc - 1, argv + 1);
	if (!strcmp(cmd, "export"))
		return cmd_export(argc - 1, argv + 1);
	if (!strcmp(cmd, "import"))
		return cmd_import(argc - 1, argv + 1);
	if (!strcmp(cmd, "routes"))
		return wants_help(argc - 1, argv + 1) ? (puts("usage: inlet routes"), 0) : cmd_routes();
	fprintf(stderr, "inlet: unknown command '%s'\n", cmd);
	fputs(usage_main, stderr);
	return 2;
}
