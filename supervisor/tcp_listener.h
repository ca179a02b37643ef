/* tetherd's optional TCP listener (listen.tcp): tetherd is the only process
 * that binds; the catalog gets the socket as fd 6 (SBX_FD_TCP_LISTENER) and
 * serves it with TLS and SCRAM-SHA-256 (catalog/tls.c, catalog/scram.c). */
#ifndef TETHER_SUP_TCP_LISTENER_H
#define TETHER_SUP_TCP_LISTENER_H

#include "config.h"
#include "err.h"

/* Checks the tls.* files (regular files; tls.key without group/other
 * access, or owned by root and at most group-readable) when listen.tcp is
 * set, then binds and listens. *fd_out = -1 when listen.tcp is unset.
 * 0, or -1 with e (F0000 for configuration, 58030 for the socket). */
int sup_tcp_listener_open(const struct tcfg *cfg, int *fd_out, struct err *e);

#endif
