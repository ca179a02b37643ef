/* The OpenSSL parts the MySQL and SQL Server TLS probes share: a client
 * context, CA certificates from memory, host/IP verification parameters,
 * failure reasons, and the verified leaf as a SHA-1 pin or PEM. */
#include "tlsprobe.h"

#include <errno.h>
#include <sys/socket.h>
#include <stdio.h>

#include <arpa/inet.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

void tlsprobe_errors(char *buf, size_t size)
{
	unsigned long e;
	size_t off = 0;
	buf[0] = '\0';
	while ((e = ERR_get_error()) != 0 && off + 2 < size) {
		char one[256];
		ERR_error_string_n(e, one, sizeof(one));
		int w = snprintf(buf + off, size - off, "%s%s", off ? "; " : "", one);
		if (w < 0)
			break;
		off += (size_t)w;
	}
}

SSL_CTX *tlsprobe_ctx_new(void)
{
	ERR_clear_error();
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (ctx && SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
		SSL_CTX_free(ctx);
		ctx = NULL;
	}
	return ctx;
}

int tlsprobe_pem_certs(const char *pem, size_t len, X509_STORE *store)
{
	int n = 0;
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	STACK_OF(X509_INFO) *inf = b ? PEM_X509_INFO_read_bio(b, NULL, NULL, NULL) : NULL;
	for (int i = 0; inf && i < sk_X509_INFO_num(inf); i++) {
		X509 *x = sk_X509_INFO_value(inf, i)->x509;
		if (x && (!store || X509_STORE_add_cert(store, x) == 1))
			n++;
	}
	sk_X509_INFO_pop_free(inf, X509_INFO_free);
	BIO_free(b);
	return n;
}

int tlsprobe_verify_host(SSL *ssl, const char *host, bool sni)
{
	unsigned char ipbuf[16];
	X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);
	if (inet_pton(AF_INET, host, ipbuf) == 1 || inet_pton(AF_INET6, host, ipbuf) == 1)
		return X509_VERIFY_PARAM_set1_ip_asc(vp, host) == 1 ? 0 : -1;
	X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if (X509_VERIFY_PARAM_set1_host(vp, host, 0) != 1 ||
	    (sni && SSL_set_tlsext_host_name(ssl, host) != 1))
		return -1;
	return 0;
}

const char *tlsprobe_verify_error(const SSL *ssl)
{
	long v = SSL_get_verify_result(ssl);
	if (v == X509_V_OK)
		return NULL;
	ERR_clear_error();
	return X509_verify_cert_error_string(v);
}

const char *tlsprobe_reason(char *why, size_t size)
{
	tlsprobe_errors(why, size);
	return why[0] ? why : "handshake failed";
}

int tlsprobe_leaf_sha1(const SSL *ssl, char out[41])
{
	X509 *peer = SSL_get0_peer_certificate(ssl);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	if (!peer || X509_digest(peer, EVP_sha1(), md, &mdlen) != 1 || mdlen != 20)
		return -1;
	for (unsigned i = 0; i < mdlen; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return 0;
}

BIO *tlsprobe_leaf_pem(const SSL *ssl, BUF_MEM **bm)
{
	X509 *leaf = SSL_get0_peer_certificate(ssl);
	BIO *pem = BIO_new(BIO_s_mem());
	*bm = NULL;
	if (!leaf || !pem || PEM_write_bio_X509(pem, leaf) != 1 ||
	    BIO_get_mem_ptr(pem, bm) != 1 || !*bm) {
		BIO_free(pem);
		return NULL;
	}
	return pem;
}

int tlsprobe_read_full(int fd, unsigned char *buf, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t k = recv(fd, buf + got, n - got, 0);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return k == 0 ? -2 : -1;
		got += (size_t)k;
	}
	return 0;
}
