/* The OpenSSL half of the "probe then pin" TLS checks (conn_mysql.c,
 * conn_sqlserver.c): client context, CA certificates from memory, the real
 * host's name or address, why a handshake failed, the verified leaf
 * certificate as a SHA-1 pin or PEM. The transports stay with the callers. */
#ifndef TETHER_TLSPROBE_H
#define TETHER_TLSPROBE_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/buffer.h>
#include <openssl/ssl.h>

/* OpenSSL's error queue as one line; empties the queue. */
void tlsprobe_errors(char *buf, size_t size);

/* Empties the error queue, then a client context with TLS 1.2 at least;
 * NULL (the queue says why) on failure. */
SSL_CTX *tlsprobe_ctx_new(void);

/* The PEM certificates in pem[0, len): how many, each added to `store`
 * unless store is NULL (then only counted). */
int tlsprobe_pem_certs(const char *pem, size_t len, X509_STORE *store);

/* Makes the handshake verify the certificate against the real `host`: an
 * IP literal as an address, else as a DNS name without partial wildcards,
 * then also sent as SNI when `sni`. 0, or -1 (the queue says why). */
int tlsprobe_verify_host(SSL *ssl, const char *host, bool sni);

/* After a failed handshake: when the chain or name did not verify, its
 * reason in X509's words (the queue emptied); else NULL. */
const char *tlsprobe_verify_error(const SSL *ssl);

/* The error queue as the reason of a failed handshake, in `why`, or
 * "handshake failed" when the queue was empty. */
const char *tlsprobe_reason(char *why, size_t size);

/* The peer's certificate's SHA-1 as 40 lower-case hex digits (out holds
 * 41 bytes). 0, or -1 (the queue says why). */
int tlsprobe_leaf_sha1(const SSL *ssl, char out[41]);

/* The peer's certificate as PEM: a memory BIO the caller frees and *bm its
 * bytes. NULL (the queue says why) on failure. */
BIO *tlsprobe_leaf_pem(const SSL *ssl, BUF_MEM **bm);

/* Reads exactly n bytes of a probe's plain-socket transport (the MySQL
 * greeting, TDS PRELOGIN packets). 0, -2 at EOF, -1 on error (errno). */
int tlsprobe_read_full(int fd, unsigned char *buf, size_t n);

#endif
