/* tether-vault: confines itself, opens the key files, the secret store and
 * the audit chain under DIR/vault, then serves the supervisor (fd 3) and
 * the catalog (fd 4) until tetherd goes away or SIGTERM arrives. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "err.h"
#include "log.h"
#include "sandbox.h"
#include "server.h"
#include "vault.h"

static volatile sig_atomic_t stop_requested;

/* Only sets the flag; the loop sees it between batches. */
static void on_stop_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static int warm_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(uint64_t));
}

/* glibc's qsort (merge sort) asks sysconf(_SC_PHYS_PAGES), i.e.
 * sysinfo(2), the first time it sorts more than 1 KiB, and caches the
 * answer. sysinfo is outside the vault's allowlist: a reconciliation of
 * more than ~64 secrets was killed by seccomp. Sort once before the
 * filter so that the cached value is used afterwards. */
static void qsort_warm_up(void)
{
	uint64_t a[512];

	for (size_t i = 0; i < 512; i++)
		a[i] = 512 - i;
	qsort(a, 512, sizeof(a[0]), warm_cmp);
}

static void usage(void)
{
	fprintf(stderr, "usage: tether-vault --data-dir DIR\n");
}

static void log_failure(const char *event, const struct err *e)
{
	char msg[1200], hint[600];

	log_error(event, "sqlstate=%s message=%s hint=%s", e->sqlstate,
		  log_quote(msg, sizeof(msg), e->message),
		  log_quote(hint, sizeof(hint), e->hint));
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "data-dir", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const int keep[] = { SBX_FD_SUPERVISOR, SBX_FD_PEER };
	const char *data_dir = NULL;
	struct vault v;
	struct vault_server srv;
	struct sigaction sa;
	sigset_t block, poll_mask;
	struct err e = { 0 };
	int c, rc;

	while ((c = getopt_long(argc, argv, "d:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			data_dir = optarg;
			break;
		case 'h':
			usage();
			return 0;
		default:
			usage();
			return 2;
		}
	}
	if (!data_dir || optind != argc) {
		usage();
		return 2;
	}
	log_init("vault");
	qsort_warm_up();
	sbx_enter(SBX_ROLE_VAULT, keep, sizeof(keep) / sizeof(keep[0]));

	/* SIGTERM/SIGINT are blocked except inside ppoll, so the flag is only
	 * ever raised between batches. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &poll_mask);
	sigdelset(&poll_mask, SIGTERM);
	sigdelset(&poll_mask, SIGINT);

	if (sodium_init() < 0) {
		log_error("vault_start_failed", "reason=sodium_init");
		return 1;
	}
	if (vault_open(&v, data_dir, &e) < 0) {
		log_failure("vault_start_failed", &e);
		return 1;
	}
	vault_server_init(&srv, &v, SBX_FD_SUPERVISOR, SBX_FD_PEER);
	rc = vault_server_run(&srv, &poll_mask, &stop_requested);
	vault_server_free(&srv);
	vault_close(&v);
	log_info("vault_exit", "status=%d", rc == 0 ? 0 : 1);
	return rc == 0 ? 0 : 1;
}
