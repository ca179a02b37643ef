/* The catalog's event loop: one poll() over the signal fd, the supervisor
 * channel, the vault channel, the pgwire listener and every client. */
#ifndef TETHER_CAT_SERVER_H
#define TETHER_CAT_SERVER_H

#include "exec.h"

struct cat_tls;

#define CAT_MAX_CLIENTS 256
#define CAT_STARTUP_TIMEOUT_S 60

struct cat_server_fds {
	int signal_fd;          /* signalfd for SIGTERM/SIGINT, or -1 */
	int supervisor_fd;      /* IPC_SUP_CATALOG, end B */
	int vault_fd;           /* IPC_CATALOG_VAULT, end A, or -1 */
	int listen_fd;          /* pgwire Unix listening socket */
	int tcp_fd;             /* TCP listener (listen.tcp), or -1 */
	struct cat_tls *tls;    /* its TLS context (tls.*); NULL: TCP unused */
};

/* Runs until the supervisor channel closes or SIGTERM (returns 0), or a
 * broken invariant (returns -1). */
int cat_server_run(struct cat_ctx *ctx, const struct cat_server_fds *fds,
		   const char *passwd_path);

#endif
