/* tether-catalog: the pgwire front end and SQLite catalog. Confines itself
 * first (sbx_enter), then opens DIR/catalog/catalog.db, applies the
 * deployment settings tetherd passed as --set key=value (deploy.c) and
 * serves until the supervisor channel closes or SIGTERM arrives. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "deploy.h"
#include "exec.h"
#include "log.h"
#include "sandbox.h"
#include "server.h"
#include "tls.h"

static void usage(void)
{
	fprintf(stderr, "usage: tether-catalog --data-dir DIR [--set key=value ...]\n"
			"  --set takes the tether.conf keys the catalog uses\n"
			"  (docs/CONFIGURATION.md); tetherd passes them.\n");
}

/* The tether.conf keys from --set: the catalog's only (strict). */
static struct tcfg config;

static int take_set(const char *arg)
{
	struct err e;
	const char *eq = strchr(arg, '=');
	char name[64];
	int k;

	snprintf(name, sizeof(name), "%.*s", eq ? (int)(eq - arg) : (int)strlen(arg), arg);
	k = tcfg_find(name);
	if (k >= 0 && !(tcfg_users((enum tcfg_key)k) & TCFG_FOR_CATALOG)) {
		fprintf(stderr, "tether-catalog: --set %s: not a catalog setting\n", name);
		return -1;
	}
	if (tcfg_set_arg(&config, arg, &e) < 0) {
		fprintf(stderr, "tether-catalog: %s\n", e.message);
		return -1;
	}
	return 0;
}

static void apply_log_level(void)
{
	static const struct {
		const char *name;
		enum log_level level;
	} levels[] = {
		{ "debug", LOG_DEBUG }, { "info", LOG_INFO },
		{ "warn", LOG_WARN }, { "error", LOG_ERROR },
	};
	const char *v = tcfg_get(&config, TCFG_LOG_LEVEL);

	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		if (v && !strcmp(v, levels[i].name))
			log_set_level(levels[i].level);
}

static int fd_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

/* tetherd passes a TCP listening socket as fd 6 when listen.tcp is set.
 * Checked before anything else opens a descriptor (6 would be reused). */
static int tcp_listener_fd(void)
{
	struct stat st;
	int domain = 0;
	socklen_t len = sizeof(domain);

	if (fstat(SBX_FD_TCP_LISTENER, &st) != 0 || !S_ISSOCK(st.st_mode) ||
	    getsockopt(SBX_FD_TCP_LISTENER, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0 ||
	    (domain != AF_INET && domain != AF_INET6))
		return -1;
	return SBX_FD_TCP_LISTENER;
}

/* The TLS context of the TCP listener (tls.* keys), read after sbx_enter.
 * NULL when TCP is off or the files cannot be used: then no TCP client is
 * served (logged), the Unix socket works as before. */
static struct cat_tls *tls_load(int tcp_fd)
{
	struct cat_tls *tls = NULL;
	const char *cert = tcfg_get(&config, TCFG_TLS_CERTIFICATE);
	const char *key = tcfg_get(&config, TCFG_TLS_KEY);
	struct err e;

	if (tcp_fd < 0)
		return NULL;
	err_clear(&e);
	if (!cert || !key) {
		log_error("tls_unavailable", "reason=\"listen.tcp needs tls.certificate and tls.key\"");
		return NULL;
	}
	if (cat_tls_open(&tls, cert, key, tcfg_get(&config, TCFG_TLS_CA), &e) < 0) {
		char q[600];

		log_error("tls_unavailable", "error=%s", log_quote(q, sizeof(q), e.message));
		fprintf(stderr, "tether-catalog: %s\n", e.message);
		return NULL;
	}
	return tls;
}

int main(int argc, char **argv)
{
	const char *dir = NULL;
	struct cat_store store;
	struct cat_select sel;
	struct cat_vault vault;
	struct cat_ctx ctx;
	struct cat_server_fds fds;
	struct err e;
	char path[4096];
	sigset_t mask;
	int sigfd, rc;
	int tcp_fd = tcp_listener_fd();

	tcfg_init(&config);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--data-dir") && i + 1 < argc)
			dir = argv[++i];
		else if (!strcmp(argv[i], "--set") && i + 1 < argc) {
			if (take_set(argv[++i]) < 0)
				return 2;
		} else if (!strncmp(argv[i], "--set=", 6)) {
			if (take_set(argv[i] + 6) < 0)
				return 2;
		} else {
			usage();
			return 2;
		}
	}
	if (!dir) {
		usage();
		return 2;
	}
	log_init("catalog");
	apply_log_level();
	/* Signals arrive on a descriptor; no work in handlers. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sigfd < 0) {
		log_error("signalfd_failed", NULL);
		return 1;
	}
	/* OpenSSL's one-time set-up (no files, no descriptors) runs before
	 * the seccomp filter: it asks sysinfo(2), which the catalog's
	 * allowlist does not need otherwise. */
	cat_tls_init();
	{
		const int keep[] = { SBX_FD_SUPERVISOR, SBX_FD_PEER, SBX_FD_LISTENER, sigfd,
				     tcp_fd };
		sbx_enter(SBX_ROLE_CATALOG, keep,
			  sizeof(keep) / sizeof(keep[0]) - (tcp_fd < 0 ? 1 : 0));
	}
	if (!fd_open(SBX_FD_SUPERVISOR) || !fd_open(SBX_FD_LISTENER)) {
		log_error("missing_descriptors", "need=3,5");
		return 1;
	}
	err_clear(&e);
	snprintf(path, sizeof(path), "%s/catalog/catalog.db", dir);
	if (cat_store_open(&store, path, &e) < 0) {
		log_error("catalog_open_failed", "sqlstate=%s", e.sqlstate);
		fprintf(stderr, "tether-catalog: %s\n", e.message);
		return 1;
	}
	if (cat_select_open(&sel, path, &e) < 0) {
		log_error("catalog_open_failed", "sqlstate=%s", e.sqlstate);
		fprintf(stderr, "tether-catalog: %s\n", e.message);
		cat_store_close(&store);
		return 1;
	}
	if (cat_deploy_apply(&store, &config, &e) < 0) {
		log_error("deployment_settings_failed", "sqlstate=%s", e.sqlstate);
		fprintf(stderr, "tether-catalog: %s\n", e.message);
		cat_select_close(&sel);
		cat_store_close(&store);
		return 1;
	}
	cat_vault_init(&vault);
	memset(&ctx, 0, sizeof(ctx));
	ctx.store = &store;
	ctx.sel = &sel;
	ctx.vault = &vault;
	ctx.max_secret_size = (size_t)tcfg_get_long(&config, TCFG_MAX_SECRET_SIZE);
	ctx.config = &config;
	if (cat_ctx_sync_counters(&ctx, &e) < 0) {
		fprintf(stderr, "tether-catalog: %s\n", e.message);
		return 1;
	}
	fds.signal_fd = sigfd;
	fds.supervisor_fd = SBX_FD_SUPERVISOR;
	fds.vault_fd = fd_open(SBX_FD_PEER) ? SBX_FD_PEER : -1;
	fds.listen_fd = SBX_FD_LISTENER;
	fds.tcp_fd = tcp_fd;
	fds.tls = tls_load(tcp_fd);
	log_info("catalog_started", "pid=%d", (int)getpid());
	rc = cat_server_run(&ctx, &fds, "/etc/passwd");
	cat_tls_close(fds.tls);
	cat_select_close(&sel);
	cat_store_close(&store);
	log_info("catalog_stopped", "rc=%d", rc);
	return rc < 0 ? 1 : 0;
}
