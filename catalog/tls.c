/* OpenSSL server side for the TCP listener: one SSL_CTX (TLS 1.2+, no
 * renegotiation, no compression, no session resumption), the private key
 * read from an opened and checked file into a wiped buffer, and
 * non-blocking SSL_accept / SSL_read / SSL_write mapped to what poll()
 * must wait for. */
#include "tls.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "log.h"

#define KEY_FILE_MAX (1024 * 1024)

struct cat_tls {
	SSL_CTX *ctx;
	uint8_t cbind[EVP_MAX_MD_SIZE];
	size_t cbind_len;
};

struct cat_tls_conn {
	SSL *ssl;
};

void cat_tls_init(void)
{
	OPENSSL_init_ssl(OPENSSL_INIT_NO_LOAD_CONFIG, NULL);
}

int cat_tls_key_mode_ok(const struct stat *st)
{
	if (!(st->st_mode & (S_IRWXG | S_IRWXO)))
		return 1;
	return st->st_uid == 0 && !(st->st_mode & (S_IWGRP | S_IXGRP | S_IRWXO));
}

/* The last OpenSSL error as text (for F0000 messages). */
static const char *ssl_why(void)
{
	static char buf[256];
	unsigned long code = ERR_get_error();

	ERR_clear_error();
	if (!code)
		return "unknown error";
	ERR_error_string_n(code, buf, sizeof(buf));
	return buf;
}

static EVP_PKEY *load_key(const char *path, struct err *e)
{
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	EVP_PKEY *key = NULL;
	BIO *bio;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0) {
		err_set(e, "F0000", "cannot open tls.key %s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		err_set(e, "F0000", "tls.key %s is not a regular file", path);
		goto out;
	}
	if (!cat_tls_key_mode_ok(&st)) {
		err_set(e, "F0000", "tls.key %s is readable by group or other users", path);
		err_hint(e, "chmod 600 it (or 640 if it is owned by root).");
		goto out;
	}
	if (st.st_size <= 0 || st.st_size > KEY_FILE_MAX) {
		err_set(e, "F0000", "tls.key %s: bad size", path);
		goto out;
	}
	buf = malloc((size_t)st.st_size);
	if (!buf) {
		err_set(e, "53200", "out of memory");
		goto out;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	bio = BIO_new_mem_buf(buf, (int)got);
	if (bio) {
		key = PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)"");
		BIO_free(bio);
	}
	if (!key)
		err_set(e, "F0000", "tls.key %s: cannot load the private key: %s", path, ssl_why());
out:
	if (buf) {
		OPENSSL_cleanse(buf, (size_t)st.st_size);
		free(buf);
	}
	close(fd);
	return key;
}

/* RFC 5929 4.1: the certificate's signature hash, SHA-256 for MD5/SHA-1. */
static void compute_cbind(struct cat_tls *t)
{
	X509 *cert = SSL_CTX_get0_certificate(t->ctx);
	const EVP_MD *md;
	unsigned int len = 0;
	int mdnid = NID_undef;

	t->cbind_len = 0;
	if (!cert || !X509_get_signature_info(cert, &mdnid, NULL, NULL, NULL))
		return;
	if (mdnid == NID_md5 || mdnid == NID_sha1)
		mdnid = NID_sha256;
	md = EVP_get_digestbynid(mdnid);
	if (md && X509_digest(cert, md, t->cbind, &len) == 1)
		t->cbind_len = len;
	ERR_clear_error();
}

int cat_tls_open(struct cat_tls **out, const char *cert_path, const char *key_path,
		 const char *ca_path, struct err *e)
{
	struct cat_tls *t = calloc(1, sizeof(*t));
	EVP_PKEY *key = NULL;

	*out = NULL;
	if (!t)
		return err_set(e, "53200", "out of memory");
	ERR_clear_error();
	t->ctx = SSL_CTX_new(TLS_server_method());
	if (!t->ctx) {
		err_set(e, "F0000", "cannot create a TLS context: %s", ssl_why());
		goto fail;
	}
	SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(t->ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
			    SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_TICKET);
	SSL_CTX_set_session_cache_mode(t->ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(t->ctx, 0);
	SSL_CTX_set_mode(t->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
			 SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (SSL_CTX_use_certificate_chain_file(t->ctx, cert_path) != 1) {
		err_set(e, "F0000", "tls.certificate %s: cannot load: %s", cert_path, ssl_why());
		goto fail;
	}
	key = load_key(key_path, e);
	if (!key)
		goto fail;
	if (SSL_CTX_use_PrivateKey(t->ctx, key) != 1 || SSL_CTX_check_private_key(t->ctx) != 1) {
		err_set(e, "F0000", "tls.key %s does not match tls.certificate %s: %s", key_path,
			cert_path, ssl_why());
		goto fail;
	}
	EVP_PKEY_free(key);
	key = NULL;
	if (ca_path && ca_path[0]) {
		STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(ca_path);

		if (SSL_CTX_load_verify_locations(t->ctx, ca_path, NULL) != 1 || !names) {
			sk_X509_NAME_pop_free(names, X509_NAME_free);
			err_set(e, "F0000", "tls.ca %s: cannot load: %s", ca_path, ssl_why());
			goto fail;
		}
		SSL_CTX_set_client_CA_list(t->ctx, names);
		SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
				   NULL);
	}
	compute_cbind(t);
	*out = t;
	return 0;
fail:
	EVP_PKEY_free(key);
	cat_tls_close(t);
	return -1;
}

void cat_tls_close(struct cat_tls *t)
{
	if (!t)
		return;
	SSL_CTX_free(t->ctx);
	OPENSSL_cleanse(t, sizeof(*t));
	free(t);
}

size_t cat_tls_cbind(const struct cat_tls *t, const uint8_t **data)
{
	*data = t->cbind;
	return t->cbind_len;
}

struct cat_tls_conn *cat_tls_conn_new(struct cat_tls *t, int fd)
{
	struct cat_tls_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->ssl = SSL_new(t->ctx);
	if (!c->ssl || SSL_set_fd(c->ssl, fd) != 1) {
		SSL_free(c->ssl);
		free(c);
		ERR_clear_error();
		return NULL;
	}
	SSL_set_accept_state(c->ssl);
	return c;
}

static enum cat_tls_io io_result(struct cat_tls_conn *c, int rc)
{
	int err = SSL_get_error(c->ssl, rc);

	switch (err) {
	case SSL_ERROR_WANT_READ:
		return CAT_TLS_WANT_READ;
	case SSL_ERROR_WANT_WRITE:
		return CAT_TLS_WANT_WRITE;
	case SSL_ERROR_ZERO_RETURN:
		return CAT_TLS_EOF;
	case SSL_ERROR_SYSCALL:
		if (errno == EINTR)
			return CAT_TLS_WANT_READ;
		/* fallthrough */
	default: {
		unsigned long code = ERR_peek_error();
		char why[200];

		if (code) {
			ERR_error_string_n(code, why, sizeof(why));
			log_debug("tls_error", "ssl_error=%d reason=\"%s\"", err, why);
		}
		ERR_clear_error();
		return CAT_TLS_FAIL;
	}
	}
}

enum cat_tls_io cat_tls_handshake(struct cat_tls_conn *c)
{
	int rc;

	ERR_clear_error();
	rc = SSL_do_handshake(c->ssl);
	return rc == 1 ? CAT_TLS_OK : io_result(c, rc);
}

enum cat_tls_io cat_tls_read(struct cat_tls_conn *c, void *buf, size_t n, size_t *got)
{
	int rc;

	*got = 0;
	ERR_clear_error();
	rc = SSL_read_ex(c->ssl, buf, n, got);
	return rc == 1 ? CAT_TLS_OK : io_result(c, rc);
}

enum cat_tls_io cat_tls_write(struct cat_tls_conn *c, const void *buf, size_t n, size_t *put)
{
	int rc;

	*put = 0;
	ERR_clear_error();
	rc = SSL_write_ex(c->ssl, buf, n, put);
	return rc == 1 ? CAT_TLS_OK : io_result(c, rc);
}

int cat_tls_pending(const struct cat_tls_conn *c)
{
	return SSL_has_pending(c->ssl);
}

const char *cat_tls_version(const struct cat_tls_conn *c)
{
	return SSL_get_version(c->ssl);
}

const char *cat_tls_cipher(const struct cat_tls_conn *c)
{
	const char *n = SSL_get_cipher_name(c->ssl);
	return n ? n : "";
}

void cat_tls_conn_free(struct cat_tls_conn *c)
{
	if (!c)
		return;
	if (SSL_is_init_finished(c->ssl)) {
		ERR_clear_error();
		(void)SSL_shutdown(c->ssl);     /* non-blocking: one try */
	}
	SSL_free(c->ssl);
	ERR_clear_error();
	free(c);
}
