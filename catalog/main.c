/* tether-catalog: the pgwire front end and SQLite catalog. Confines itself
 * first (sbx_enter), then opens DIR/catalog/catalog.db and serves until the
 * supervisor channel closes or SIGTERM arrives. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "exec.h"
#include "log.h"
#include "sandbox.h"
#include "server.h"

static void usage(void)
{
	fprintf(stderr, "usage: tether-catalog --data-dir DIR\n");
}

static int fd_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
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

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--data-dir") && i + 1 < argc)
			dir = argv[++i];
		else {
			usage();
			return 2;
		}
	}
	if (!dir) {
		usage();
		return 2;
	}
	log_init("catalog");
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
	{
		const int keep[] = { SBX_FD_SUPERVISOR, SBX_FD_PEER, SBX_FD_LISTENER, sigfd };
		sbx_enter(SBX_ROLE_CATALOG, keep, sizeof(keep) / sizeof(keep[0]));
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
	cat_vault_init(&vault);
	memset(&ctx, 0, sizeof(ctx));
	ctx.store = &store;
	ctx.sel = &sel;
	ctx.vault = &vault;
	ctx.max_secrets = 100;
	if (cat_ctx_sync_counters(&ctx, &e) < 0) {
		fprintf(stderr, "tether-catalog: %s\n", e.message);
		return 1;
	}
	fds.signal_fd = sigfd;
	fds.supervisor_fd = SBX_FD_SUPERVISOR;
	fds.vault_fd = fd_open(SBX_FD_PEER) ? SBX_FD_PEER : -1;
	fds.listen_fd = SBX_FD_LISTENER;
	log_info("catalog_started", "pid=%d", (int)getpid());
	rc = cat_server_run(&ctx, &fds, "/etc/passwd");
	cat_select_close(&sel);
	cat_store_close(&store);
	log_info("catalog_stopped", "rc=%d", rc);
	return rc < 0 ? 1 : 0;
}
