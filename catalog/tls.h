/* TLS for the catalog's optional TCP listener (OpenSSL, TLS 1.2 and up):
 * the server context loaded from tls.certificate / tls.key (/ tls.ca),
 * and non-blocking per-connection handshake, read and write that report
 * what the socket must wait for, so that server.c's poll loop never blocks
 * on one client. */
#ifndef TETHER_CAT_TLS_H
#define TETHER_CAT_TLS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "err.h"

struct cat_tls;         /* server context */
struct cat_tls_conn;    /* one connection */

/* OpenSSL start-up without reading the system's openssl.cnf (tether's TLS
 * settings are in tether.conf). Call once, before any other OpenSSL use. */
void cat_tls_init(void);

/* A private key file's mode is acceptable: no group/other bits, or (like
 * PostgreSQL) owned by root and at most group-readable. */
int cat_tls_key_mode_ok(const struct stat *st);

/* Loads the certificate chain (PEM), the private key (PEM; permissions
 * checked on the opened file) and optionally a CA file: with a CA every
 * client must present a certificate signed by it. 0, or -1 (e: F0000). */
int cat_tls_open(struct cat_tls **out, const char *cert_path, const char *key_path,
		 const char *ca_path, struct err *e);
void cat_tls_close(struct cat_tls *t);

/* tls-server-end-point channel-binding data (RFC 5929 4.1: the server
 * certificate's hash); 0 if it cannot be computed (no -PLUS then). */
size_t cat_tls_cbind(const struct cat_tls *t, const uint8_t **data);

enum cat_tls_io {
	CAT_TLS_OK,
	CAT_TLS_WANT_READ,      /* poll for POLLIN, then call again */
	CAT_TLS_WANT_WRITE,     /* poll for POLLOUT, then call again */
	CAT_TLS_EOF,            /* orderly close_notify */
	CAT_TLS_FAIL,           /* protocol error or socket error: drop */
};

/* NULL on failure (out of memory). The fd stays owned by the caller. */
struct cat_tls_conn *cat_tls_conn_new(struct cat_tls *t, int fd);
enum cat_tls_io cat_tls_handshake(struct cat_tls_conn *c);
enum cat_tls_io cat_tls_read(struct cat_tls_conn *c, void *buf, size_t n, size_t *got);
enum cat_tls_io cat_tls_write(struct cat_tls_conn *c, const void *buf, size_t n, size_t *put);
/* 1 if decrypted bytes wait inside OpenSSL (poll would not report them). */
int cat_tls_pending(const struct cat_tls_conn *c);
/* "TLSv1.3" etc. and the cipher, for the login log line. */
const char *cat_tls_version(const struct cat_tls_conn *c);
const char *cat_tls_cipher(const struct cat_tls_conn *c);
/* Best-effort close_notify (non-blocking), then frees. */
void cat_tls_conn_free(struct cat_tls_conn *c);

#endif
