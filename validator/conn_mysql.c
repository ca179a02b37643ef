/* MYSQL: connect with libmariadb (Connector/C 3.3), TLS per SSL MODE with
 * certificates and keys in sealed memfds, password or client-certificate
 * auth, optionally through an SSH tunnel; failures mapped to the stable
 * codes and messages of SQL.md 6.
 *
 * Every SSL MODE but disabled, directly or through a tunnel: probe, then
 * pin. libmariadb 3.3 logs in WITHOUT TLS to a server that does not offer
 * it unless it verifies the certificate or pins a fingerprint (ENFORCE
 * alone does not refuse), and through a tunnel it would check the name of
 * the tunnel's local end. So the validator first makes its own TLS
 * handshake (MySQL greeting, SSLRequest, OpenSSL verifying as SSL MODE
 * says, against the REAL host name), refusing a server that offers no TLS
 * before any credential exists on the wire, and then pins libmariadb's
 * connection to that very certificate (MARIADB_OPT_TLS_PEER_FP, checked
 * before any credential is sent): no fallback to plaintext, no other
 * certificate.
 *
 * AWS CONNECTION (RDS IAM database authentication): the password is an RDS
 * auth token — "<HOST>:<PORT>/?Action=connect&DBUser=<USER>&X-Amz-...",
 * SigV4-presigned for service rds-db, 900 s, with the AWS connection's keys
 * or its role's temporary credentials (val_aws_credentials) — sent with the
 * mysql_clear_password plugin, only ever over TLS (SSL MODE must not be
 * disabled; libmariadb is told to enforce TLS and to allow no other
 * plugin). */
#include "val.h"
#include "memfile.h"
#include "sigv4.h"
#include "tlsprobe.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <mysql.h>
#include <errmsg.h>
#include <mysqld_error.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define MY_DEFAULT_TIMEOUT_MS 10000
#define MY_DEFAULT_PORT 3306
#define MY_SYSTEM_CA "/etc/ssl/certs/ca-certificates.crt"
#ifndef MY_PLUGIN_DIR
#define MY_PLUGIN_DIR "/usr/lib/x86_64-linux-gnu/libmariadb3/plugin"
#endif
/* Authentication plugins the validator lets a server ask for. Not
 * mysql_clear_password or dialog: they hand the password in clear to
 * whoever answers; and a plugin name from the server becomes a dlopen
 * path, so nothing outside this list is ever loaded. */
#define MY_AUTH_PLUGINS "mysql_native_password,caching_sha2_password,client_ed25519,sha256_password"
/* RDS IAM: the token is the password, in clear, inside TLS only. */
#define MY_IAM_PLUGIN "mysql_clear_password"
#define MY_IAM_EXPIRES 900

enum my_tls { MY_TLS_DISABLED, MY_TLS_REQUIRED, MY_TLS_VERIFY_CA, MY_TLS_VERIFY_IDENTITY };

/* SSL MODE values and their aliases (SQL.md 5.6), case-insensitive. */
static const struct {
	const char *name;
	enum my_tls mode;
} my_sslmodes[] = {
	{ "disabled", MY_TLS_DISABLED }, { "disable", MY_TLS_DISABLED },
	{ "required", MY_TLS_REQUIRED }, { "require", MY_TLS_REQUIRED },
	{ "verify_ca", MY_TLS_VERIFY_CA }, { "verify-ca", MY_TLS_VERIFY_CA },
	{ "verify_identity", MY_TLS_VERIFY_IDENTITY }, { "verify-identity", MY_TLS_VERIFY_IDENTITY },
};

enum my_opt { MY_HOST, MY_PORT, MY_USER, MY_PASSWORD, MY_SSLMODE, MY_CA, MY_CERT, MY_KEY,
	      MY_NOPTS };
_Static_assert(MY_HOST == VAL_SERVER_HOST && MY_PORT == VAL_SERVER_PORT,
	       "val_server_load: HOST and PORT first");
static const char *const my_opt_names[MY_NOPTS] = {
	[MY_HOST] = "HOST", [MY_PORT] = "PORT", [MY_USER] = "USER",
	[MY_PASSWORD] = "PASSWORD", [MY_SSLMODE] = "SSL MODE",
	[MY_CA] = "SSL CERTIFICATE AUTHORITY", [MY_CERT] = "SSL CERTIFICATE",
	[MY_KEY] = "SSL KEY",
};

struct my_check {
	const struct val_services *svc;
	const struct val_job *job;
	char *v[MY_NOPTS];
	size_t len[MY_NOPTS];
	bool secret[MY_NOPTS];
	uint16_t port;
	enum my_tls tls;
	char hostport[256];
	char prefix[320];        /* "through SSH bastion b:22: " or "" */
	struct memfile ca, cert, key;
	struct val_tunnel *tun;
	int timeout_ms;
	char fingerprint[64];    /* SHA-1 hex of the certificate the probe saw (and verified) */
	bool iam;                /* AWS CONNECTION: v[MY_PASSWORD] is an RDS auth token */
};

/* ---- messages ------------------------------------------------------------ */

static const char *const my_hints[VAL_CODE_COUNT] = {
	[VAL_DNS] = "Check the connection's HOST.",
	[VAL_REFUSED] = "Check HOST and PORT, and that the server accepts TCP connections from tether.",
	[VAL_TIMEOUT] = "The server did not answer in time: check HOST, PORT and firewalls.",
	[VAL_TLS] = "Check SSL MODE and SSL CERTIFICATE AUTHORITY; verify_identity needs a server "
		    "certificate issued for HOST.",
	[VAL_AUTH] = "Check USER and PASSWORD (or SSL CERTIFICATE and SSL KEY) and the account's "
		     "allowed hosts and REQUIRE clause.",
	[VAL_PERMISSION] = "Check the account's privileges and allowed hosts on the server.",
	[VAL_PROTOCOL] = "Check that HOST and PORT point to a MySQL or MariaDB server.",
	[VAL_CONFIG] = "Check the connection's SSL CERTIFICATE, SSL KEY and SSL CERTIFICATE AUTHORITY values.",
};

static void my_scrub(void *ctx, char *s, size_t size)
{
	struct my_check *c = ctx;
	static const enum my_opt secret_opts[] = { MY_PASSWORD, MY_USER, MY_KEY, MY_CERT, MY_CA };
	for (size_t i = 0; i < sizeof(secret_opts) / sizeof(secret_opts[0]); i++) {
		enum my_opt o = secret_opts[i];
		if (c->v[o] && (c->secret[o] || o == MY_PASSWORD || o == MY_KEY))
			val_scrub(s, size, c->v[o], c->len[o]);
	}
	/* libmariadb 3.3 can quote a PART of the password (the IAM token)
	 * as a plugin name, which the whole-value scrub above misses. */
	if (c->iam && (strstr(s, "X-Amz-") || strstr(s, "DBUser=") || strstr(s, "Action=connect")))
		snprintf(s, size, "%s", "(withheld: it quoted part of the IAM authentication token)");
}

/* Reports a failure in SQL.md 6's words for its code. */
static void my_fail(struct my_check *c, struct val_result *r, enum val_code code,
		    const char *stage, const char *reason, const char *detail)
{
	const struct val_server_words w = {
		.kind = "MYSQL", .prefix = c->prefix,
		.host = c->v[MY_HOST] ? c->v[MY_HOST] : "", .hostport = c->hostport,
		.hints = my_hints, .scrub = my_scrub, .ctx = c,
	};
	val_fail_server(&w, r, code, stage, reason, detail);
	if (c->iam && r->code == VAL_AUTH)
		err_hint(&r->e, "Check the AWS CONNECTION's credentials and REGION, and that USER is "
			 "a database user identified with AWS IAM authentication whose IAM policy "
			 "allows rds-db:connect.");
}

/* ---- classification of libmariadb errors ---------------------------------- */

/* Server errors (mysqld_error.h) seen during the handshake. */
static const struct {
	unsigned int err;
	enum val_code code;
	const char *stage;
} my_server_errors[] = {
	{ ER_ACCESS_DENIED_ERROR, VAL_AUTH, "target_auth" },              /* 1045 */
	{ ER_ACCESS_DENIED_NO_PASSWORD_ERROR, VAL_AUTH, "target_auth" },  /* 1698 */
	{ 1251, VAL_AUTH, "target_auth" },           /* ER_NOT_SUPPORTED_AUTH_MODE */
	{ ER_DBACCESS_DENIED_ERROR, VAL_PERMISSION, "target_auth" },      /* 1044 */
	{ ER_HOST_IS_BLOCKED, VAL_PERMISSION, "target" },                 /* 1129 */
	{ ER_HOST_NOT_PRIVILEGED, VAL_PERMISSION, "target" },             /* 1130 */
	{ 1040, VAL_PERMISSION, "target" },          /* ER_CON_COUNT_ERROR */
	{ 1226, VAL_PERMISSION, "target_auth" },     /* ER_USER_LIMIT_REACHED */
	{ 3159, VAL_TLS, "target_tls" },             /* MySQL: insecure transport prohibited */
	{ 4151, VAL_AUTH, "target_auth" },           /* MariaDB: account locked */
};

/* Client errors whose text carries the cause. First match wins. */
static const struct {
	const char *needle;
	enum val_code code;
	const char *stage;
	const char *reason;
} my_patterns[] = {
	/* OpenSSL errors while loading our own files: the configuration. */
	{ "PEM routines", VAL_CONFIG, "target_tls", "SSL CERTIFICATE, SSL KEY or SSL CERTIFICATE AUTHORITY is not valid PEM" },
	{ "key values mismatch", VAL_CONFIG, "target_tls", "SSL KEY does not match SSL CERTIFICATE" },
	{ "ASN1", VAL_CONFIG, "target_tls", "SSL CERTIFICATE, SSL KEY or SSL CERTIFICATE AUTHORITY could not be decoded" },
	{ "x509 certificate routines", VAL_CONFIG, "target_tls", "SSL CERTIFICATE AUTHORITY could not be loaded" },
	{ "system lib", VAL_CONFIG, "target_tls", "a certificate or key could not be read" },
	{ "Fingerprint verification", VAL_TLS, "target_tls", "the server presented another certificate than the one verified for HOST" },
	{ "does not support SSL", VAL_TLS, "target_tls", "the server does not support TLS" },
	{ "insecure transport", VAL_TLS, "target_tls", "the server requires TLS: set SSL MODE" },
};

/* The errno libmariadb appends to connect errors: "... (111)". */
static int my_trailing_errno(const char *msg)
{
	const char *p = strrchr(msg, '(');
	if (!p)
		return 0;
	char *end = NULL;
	long n = strtol(p + 1, &end, 10);
	return end && *end == ')' && n > 0 && n < 4096 ? (int)n : 0;
}

/* The "system error: N" of a lost connection. */
static int my_system_errno(const char *msg)
{
	const char *p = strstr(msg, "system error: ");
	return p ? atoi(p + strlen("system error: ")) : 0;
}

/* Why a TCP connect to host:port fails: ETIMEDOUT when libmariadb
 * already waited its whole timeout, else the socket error of a short
 * connect of our own (ECONNREFUSED, EHOSTUNREACH, ...). Only runs after
 * libmariadb failed to connect, so it never adds a half-open session to
 * a server that was reachable (MySQL counts those per host). */
static int my_diagnose_connect(struct my_check *c, const char *host, uint16_t port,
			       int64_t elapsed_ms)
{
	if (elapsed_ms >= (int64_t)((c->timeout_ms + 999) / 1000) * 1000 - 200)
		return ETIMEDOUT;
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *ai = NULL;
	char ps[8];
	snprintf(ps, sizeof(ps), "%u", port);
	if (getaddrinfo(host, ps, &hints, &ai) != 0 || !ai)
		return 0;
	int err = 0;
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
		err = errno;
		if (err == EINPROGRESS) {
			struct pollfd p = { .fd = fd, .events = POLLOUT };
			socklen_t el = sizeof(err);
			int left = (int)((c->timeout_ms + 999) / 1000 * 1000 - elapsed_ms);
			if (poll(&p, 1, left > 0 ? left : 1) <= 0)
				err = ETIMEDOUT;
			else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0)
				err = errno;
		}
	}
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
	return err;
}

static void my_classify(struct my_check *c, MYSQL *m, const char *host, uint16_t port,
			int64_t elapsed_ms, struct val_result *r)
{
	unsigned int en = mysql_errno(m);
	char msg[512];
	snprintf(msg, sizeof(msg), "%s", mysql_error(m));

	for (size_t i = 0; i < sizeof(my_server_errors) / sizeof(my_server_errors[0]); i++)
		if (my_server_errors[i].err == en) {
			my_fail(c, r, my_server_errors[i].code, my_server_errors[i].stage, msg, NULL);
			return;
		}
	switch (en) {
	case CR_UNKNOWN_HOST:
		my_fail(c, r, VAL_DNS, "target", "unknown host", msg);
		return;
	case CR_CONNECTION_ERROR:
	case CR_CONN_HOST_ERROR:
	case CR_IPSOCK_ERROR:
	case CR_SOCKET_CREATE_ERROR: {
		int e = my_trailing_errno(msg);
		/* Connector/C 3.3 reports the errno of its non-blocking
		 * connect (EINPROGRESS), not the socket's error: find out. */
		if (e == EINPROGRESS || e == 0)
			e = my_diagnose_connect(c, host, port, elapsed_ms);
		if (e == ETIMEDOUT || e == EAGAIN)
			my_fail(c, r, VAL_TIMEOUT, "target", "timed out", msg);
		else
			my_fail(c, r, VAL_REFUSED, "target", e ? strerror(e) : "connect failed", msg);
		return;
	}
	case CR_SERVER_LOST:
	case CR_SERVER_LOST_EXTENDED:
	case CR_SERVER_GONE_ERROR:
	case CR_ERR_NET_READ:
	case CR_ERR_NET_WRITE: {
		int e = my_system_errno(msg);
		bool greeting = strstr(msg, "initial communication packet") != NULL;
		/* The errno in the message can be stale (a read that hit EOF
		 * sets none), so a timeout must also have taken the time. */
		bool waited = elapsed_ms >= (int64_t)((c->timeout_ms + 999) / 1000) * 1000 - 200;
		if ((e == ETIMEDOUT || e == EAGAIN) && waited)
			my_fail(c, r, VAL_TIMEOUT, greeting ? "target" : "target_auth",
				greeting ? "timed out waiting for the server's greeting"
					 : "timed out waiting for the server during the handshake", msg);
		else if (c->tls != MY_TLS_DISABLED && strstr(msg, "handshake"))
			my_fail(c, r, VAL_TLS, "target_tls", "the server closed the connection", msg);
		else
			my_fail(c, r, VAL_PROTOCOL, greeting ? "target" : "target_auth",
				"the server closed the connection", msg);
		return;
	}
	default:
		break;
	}
	for (size_t i = 0; i < sizeof(my_patterns) / sizeof(my_patterns[0]); i++)
		if (strstr(msg, my_patterns[i].needle)) {
			my_fail(c, r, my_patterns[i].code, my_patterns[i].stage,
				my_patterns[i].reason, msg);
			return;
		}
	switch (en) {
	case CR_SSL_CONNECTION_ERROR: {
		/* "SSL connection error: <reason>" */
		const char *p = strstr(msg, "error: ");
		my_fail(c, r, VAL_TLS, "target_tls", p ? p + 7 : msg, msg);
		return;
	}
	case CR_AUTH_PLUGIN_CANNOT_LOAD:
	case CR_AUTH_PLUGIN_ERR:
	case CR_PLUGIN_NOT_ALLOWED:
		my_fail(c, r, VAL_AUTH, "target_auth", c->iam ? "the server asked for another "
			"authentication method than " MY_IAM_PLUGIN " (is USER identified with AWS "
			"IAM authentication?)" : msg, NULL);
		err_hint(&r->e, "The server asked for an authentication method that tether does "
			 "not use (allowed: %s).", c->iam ? MY_IAM_PLUGIN : MY_AUTH_PLUGINS);
		return;
	default:
		if (en >= 1000 && en < 2000) {
			char d[600];
			snprintf(d, sizeof(d), "server error %u: %s", en, msg);
			my_fail(c, r, VAL_PROTOCOL, "target_auth", msg, d);
		} else {
			my_fail(c, r, VAL_PROTOCOL, "target", msg, NULL);
		}
		return;
	}
}

/* ---- options ------------------------------------------------------------- */

static int my_load_options(struct my_check *c, struct val_result *r)
{
	const struct val_job *job = c->job;

	if (val_job_option(job, "AWS PRIVATELINK")) {
		val_fail(r, VAL_CONFIG, NULL, "AWS PrivateLink connections are unsupported");
		err_set(&r->e, "0A000", "AWS PrivateLink connections are unsupported");
		return -1;
	}
	c->iam = val_job_option(job, "AWS CONNECTION") != NULL;
	if (c->iam && val_job_option(job, my_opt_names[MY_PASSWORD])) {
		val_fail(r, VAL_CONFIG, NULL, "invalid connection configuration: AWS IAM "
			 "authentication is not supported with password");
		return -1;
	}
	/* HOST and PORT first (enum order): every secret fetched after them is
	 * audited with its destination "host:port". */
	const struct val_server_opts so = {
		.names = my_opt_names, .n = MY_NOPTS, .v = c->v, .len = c->len,
		.secret = c->secret, .port = &c->port,
		.hostport = c->hostport, .hostport_size = sizeof(c->hostport),
	};
	static const int required[] = { MY_HOST, MY_USER };
	if (val_server_load(c->svc, job, &so, required, sizeof(required) / sizeof(required[0]),
			    r) != 0)
		return -1;
	/* libmariadb reads "a,b" as a list of hosts to try and "localhost"
	 * as its Unix socket (the latter is prevented with PROTOCOL TCP). */
	if (strpbrk(c->v[MY_HOST], ", \t\r\n/")) {
		val_fail(r, VAL_CONFIG, c->hostport,
			 "invalid connection configuration: invalid HOST \"%s\"", c->v[MY_HOST]);
		return -1;
	}
	c->tls = MY_TLS_DISABLED;
	if (c->v[MY_SSLMODE]) {
		bool found = false;
		for (size_t i = 0; i < sizeof(my_sslmodes) / sizeof(my_sslmodes[0]); i++)
			if (strcasecmp(c->v[MY_SSLMODE], my_sslmodes[i].name) == 0) {
				c->tls = my_sslmodes[i].mode;
				found = true;
			}
		if (!found) {
			val_fail(r, VAL_CONFIG, c->hostport,
				 "invalid connection configuration: unknown SSL MODE \"%s\"",
				 c->v[MY_SSLMODE]);
			return -1;
		}
	}
	/* The token goes in clear inside the TLS session: never without. */
	if (c->iam && c->tls == MY_TLS_DISABLED) {
		val_fail(r, VAL_CONFIG, c->hostport, "invalid connection configuration: AWS IAM "
			 "authentication requires SSL to be enabled");
		err_hint(&r->e, "Set SSL MODE to required, verify_ca or verify_identity.");
		return -1;
	}
	if (!c->v[MY_CERT] != !c->v[MY_KEY]) {
		val_fail(r, VAL_CONFIG, c->hostport,
			 "invalid connection configuration: both SSL KEY and SSL CERTIFICATE are required");
		return -1;
	}
	if (c->v[MY_CERT] && c->tls == MY_TLS_DISABLED) {
		val_fail(r, VAL_CONFIG, c->hostport,
			 "invalid connection configuration: SSL CERTIFICATE and SSL KEY need an "
			 "SSL MODE other than disabled");
		return -1;
	}
	return 0;
}

static int my_make_files(struct my_check *c, struct val_result *r)
{
	const struct { enum my_opt o; struct memfile *m; const char *name; } files[] = {
		{ MY_CA, &c->ca, "tether-my-ca" },
		{ MY_CERT, &c->cert, "tether-my-cert" },
		{ MY_KEY, &c->key, "tether-my-key" },
	};
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		if (!c->v[files[i].o])
			continue;
		if (memfile_create(files[i].m, files[i].name, c->v[files[i].o],
				   c->len[files[i].o], &r->e) != 0) {
			r->code = VAL_CONFIG;
			return -1;
		}
	}
	return 0;
}

/* Parses what the connection gives as PEM before any library sees it, so
 * that a broken certificate or key is a configuration error with a clear
 * reason rather than an OpenSSL code from the middle of a handshake. */
static int my_check_pem(struct my_check *c, struct val_result *r)
{
	const char *bad = NULL;
	BIO *b = NULL;
	X509 *cert = NULL;
	EVP_PKEY *key = NULL;

	if (c->v[MY_CA]) {
		if (tlsprobe_pem_certs(c->v[MY_CA], c->len[MY_CA], NULL) == 0)
			bad = "SSL CERTIFICATE AUTHORITY holds no PEM certificate";
	}
	if (!bad && c->v[MY_CERT]) {
		b = BIO_new_mem_buf(c->v[MY_CERT], (int)c->len[MY_CERT]);
		cert = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
		BIO_free(b);
		if (!cert)
			bad = "SSL CERTIFICATE is not a PEM certificate";
	}
	if (!bad && c->v[MY_KEY]) {
		b = BIO_new_mem_buf(c->v[MY_KEY], (int)c->len[MY_KEY]);
		/* No passphrase callback: an encrypted key fails here. */
		key = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, (void *)"") : NULL;
		BIO_free(b);
		if (!key)
			bad = "SSL KEY is not an unencrypted PEM private key";
		else if (cert && X509_check_private_key(cert, key) != 1)
			bad = "SSL KEY does not match SSL CERTIFICATE";
	}
	X509_free(cert);
	EVP_PKEY_free(key);
	ERR_clear_error();
	if (bad) {
		my_fail(c, r, VAL_CONFIG, "config", bad, NULL);
		return -1;
	}
	return 0;
}

/* The CA file libmariadb and the probe verify with: the given one, else
 * the system's roots (Materialize's default). NULL: none available. */
static const char *my_ca_path(struct my_check *c)
{
	if (c->ca.fd >= 0)
		return c->ca.path;
	return access(MY_SYSTEM_CA, R_OK) == 0 ? MY_SYSTEM_CA : NULL;
}

/* ---- the TLS probe (every SSL MODE but disabled) -------------------------- */

/* Connects to `host` (each of its addresses in turn) or, with host NULL,
 * to the tunnel's local end at `lport`; reads the server greeting, refuses
 * a server that does not offer TLS, asks for TLS (SSLRequest, MySQL
 * protocol "Protocol::SSLRequest") and completes a handshake that verifies
 * as SSL MODE says: required nothing, verify_ca the chain against the CA,
 * verify_identity also the certificate against the real HOST. Sends
 * nothing else: no user, no password. Keeps the certificate's SHA-1 for
 * libmariadb's fingerprint pin (the form MARIADB_OPT_TLS_PEER_FP takes in
 * 3.3), which makes libmariadb refuse plaintext and any other certificate.
 * No SNI, as libmariadb 3.3 sends none: both see the same certificate. */
static int my_probe_tls(struct my_check *c, const char *host, uint16_t lport,
			struct val_result *r)
{
	bool verify = c->tls == MY_TLS_VERIFY_CA || c->tls == MY_TLS_VERIFY_IDENTITY;
	const char *ca = verify ? my_ca_path(c) : NULL;
	int fd = -1, rc = -1;
	SSL_CTX *ctx = NULL;
	SSL *ssl = NULL;
	char why[512];

	if (verify && !ca) {
		my_fail(c, r, VAL_CONFIG, "target_tls", "SSL MODE verify_ca and verify_identity "
			"need SSL CERTIFICATE AUTHORITY (no system CA bundle here)", NULL);
		return -1;
	}
	struct sockaddr_in lo = { .sin_family = AF_INET, .sin_port = htons(lport),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct addrinfo lo_ai = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM,
				  .ai_addr = (struct sockaddr *)&lo, .ai_addrlen = sizeof(lo) };
	struct addrinfo *ai = NULL;
	if (host) {
		struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
		char ps[8];
		snprintf(ps, sizeof(ps), "%u", lport);
		int g = getaddrinfo(host, ps, &hints, &ai);
		if (g != 0 || !ai) {
			my_fail(c, r, VAL_DNS, "target", g ? gai_strerror(g) : "no address", NULL);
			goto out;
		}
	}
	/* Each address in turn, as libmariadb does. */
	int e = 0;
	for (const struct addrinfo *a = host ? ai : &lo_ai; a && fd < 0; a = a->ai_next) {
		fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		struct timeval tv = { .tv_sec = c->timeout_ms / 1000,
				      .tv_usec = (c->timeout_ms % 1000) * 1000 };
		/* SO_SNDTIMEO bounds the connect too (EINPROGRESS after it). */
		if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
		    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0 ||
		    connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
			e = errno;
			if (fd >= 0)
				close(fd);
			fd = -1;
		}
	}
	if (ai)
		freeaddrinfo(ai);
	if (fd < 0) {
		my_fail(c, r, e == EINPROGRESS || e == ETIMEDOUT ? VAL_TIMEOUT : VAL_REFUSED,
			"target", e == EINPROGRESS ? "timed out" : strerror(e), NULL);
		goto out;
	}
	/* The greeting: 3-byte length, sequence id, payload. */
	unsigned char hdr[4], greet[1024];
	int k = tlsprobe_read_full(fd, hdr, 4);
	size_t plen = (size_t)hdr[0] | (size_t)hdr[1] << 8 | (size_t)hdr[2] << 16;
	if (k == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		my_fail(c, r, VAL_TIMEOUT, "target", "timed out waiting for the server's greeting",
			NULL);
		goto out;
	}
	if (k != 0 || plen < 2 || plen > sizeof(greet) || tlsprobe_read_full(fd, greet, plen) != 0) {
		my_fail(c, r, VAL_PROTOCOL, "target", "no valid greeting from the server", NULL);
		goto out;
	}
	if (greet[0] == 0xff) {
		/* An ERR packet instead of a greeting (host blocked, too many
		 * connections): "0xff, u16 code, [#sqlstate], message". */
		char m[300];
		size_t off = plen > 3 && greet[3] == '#' ? 9 : 3;
		unsigned code = plen >= 3 ? (unsigned)(greet[1] | greet[2] << 8) : 0;
		size_t n = plen > off ? plen - off : 0;
		snprintf(m, sizeof(m), "%.*s", (int)(n < 290 ? n : 290), (const char *)greet + off);
		enum val_code vc = code == ER_HOST_IS_BLOCKED || code == ER_HOST_NOT_PRIVILEGED ||
				   code == 1040 ? VAL_PERMISSION : VAL_PROTOCOL;
		my_fail(c, r, vc, "target", m, NULL);
		goto out;
	}
	/* Protocol 10: version string, thread id (4), scramble (8), filler,
	 * capability flags (low 16 bits). CLIENT_SSL is 0x0800. */
	const unsigned char *nul = memchr(greet + 1, '\0', plen - 1);
	size_t caps_at = nul ? (size_t)(nul - greet) + 1 + 4 + 8 + 1 : plen;
	if (greet[0] != 10 || caps_at + 2 > plen) {
		my_fail(c, r, VAL_PROTOCOL, "target", "no valid greeting from the server", NULL);
		goto out;
	}
	unsigned caps = (unsigned)greet[caps_at] | (unsigned)greet[caps_at + 1] << 8;
	if (!(caps & 0x0800)) {
		/* Nothing was sent: the password never leaves. */
		my_fail(c, r, VAL_TLS, "target_tls", "the server does not support TLS", NULL);
		const char *mode = "";
		for (size_t i = 0; i < sizeof(my_sslmodes) / sizeof(my_sslmodes[0]) && !mode[0]; i++)
			if (my_sslmodes[i].mode == c->tls)
				mode = my_sslmodes[i].name;
		err_hint(&r->e, "SSL MODE %s needs a server that supports TLS: enable TLS on the "
			 "server (ssl_cert and ssl_key), and check that HOST and PORT point to it.",
			 mode);
		goto out;
	}
	/* SSLRequest, sequence 1: client flags (LONG_PASSWORD | PROTOCOL_41 |
	 * SSL | SECURE_CONNECTION | PLUGIN_AUTH), max packet 16 MiB, charset
	 * utf8mb4 (45), 23 zero bytes. */
	unsigned char req[4 + 32] = { 32, 0, 0, 1 };
	uint32_t flags = 0x1 | 0x200 | 0x800 | 0x8000 | 0x80000;
	for (int i = 0; i < 4; i++)
		req[4 + i] = (unsigned char)(flags >> (8 * i));
	req[4 + 4 + 3] = 0x01;   /* 0x01000000 = 16 MiB */
	req[4 + 8] = 45;
	if (send(fd, req, sizeof(req), MSG_NOSIGNAL) != (ssize_t)sizeof(req)) {
		my_fail(c, r, VAL_PROTOCOL, "target", "the server closed the connection", NULL);
		goto out;
	}

	ctx = tlsprobe_ctx_new();
	if (!ctx || (ca && SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1)) {
		tlsprobe_errors(why, sizeof(why));
		my_fail(c, r, VAL_CONFIG, "target_tls",
			"SSL CERTIFICATE AUTHORITY could not be loaded", why);
		goto out;
	}
	/* The client certificate too, as libmariadb presents it (a server
	 * may demand one during the handshake). */
	if (c->cert.fd >= 0 &&
	    (SSL_CTX_use_certificate_chain_file(ctx, c->cert.path) != 1 ||
	     SSL_CTX_use_PrivateKey_file(ctx, c->key.path, SSL_FILETYPE_PEM) != 1)) {
		tlsprobe_errors(why, sizeof(why));
		my_fail(c, r, VAL_CONFIG, "target_tls",
			"SSL CERTIFICATE or SSL KEY could not be loaded", why);
		goto out;
	}
	SSL_CTX_set_verify(ctx, verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
	ssl = SSL_new(ctx);
	if (!ssl || SSL_set_fd(ssl, fd) != 1)
		goto ssl_fail;
	/* The real name (an IP literal as an address) for verify_identity;
	 * required checks nothing, verify_ca the chain only. No SNI. */
	if (c->tls == MY_TLS_VERIFY_IDENTITY &&
	    tlsprobe_verify_host(ssl, c->v[MY_HOST], false) != 0)
		goto ssl_fail;
	if (SSL_connect(ssl) != 1) {
		const char *bad = tlsprobe_verify_error(ssl);
		if (bad) {
			my_fail(c, r, VAL_TLS, "target_tls", bad, NULL);
			goto out;
		}
		goto ssl_fail;
	}
	if (tlsprobe_leaf_sha1(ssl, c->fingerprint) != 0)
		goto ssl_fail;
	rc = 0;
	goto out;
ssl_fail:
	my_fail(c, r, VAL_TLS, "target_tls", tlsprobe_reason(why, sizeof(why)), NULL);
out:
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	if (fd >= 0)
		close(fd);
	return rc;
}

/* ---- the connection ------------------------------------------------------ */

#define MY_SET(opt, ...)                                                               \
	do {                                                                           \
		if (mysql_optionsv(m, (opt), __VA_ARGS__) != 0)                        \
			goto setfail;                                                  \
	} while (0)

static int my_connect(struct my_check *c, const char *host, uint16_t port,
		      struct val_result *r)
{
	MYSQL *m = mysql_init(NULL);
	if (!m) {
		my_fail(c, r, VAL_CONFIG, "target", "out of memory", NULL);
		err_set(&r->e, "XX000", "internal error: validator: out of memory");
		return -1;
	}
	/* Seconds, rounded up: libmariadb has no finer unit. */
	unsigned int secs = (unsigned int)((c->timeout_ms + 999) / 1000);
	unsigned int proto = MYSQL_PROTOCOL_TCP;
	my_bool yes = 1, no = 0;

	MY_SET(MYSQL_OPT_PROTOCOL, &proto);
	MY_SET(MYSQL_OPT_CONNECT_TIMEOUT, &secs);
	MY_SET(MYSQL_OPT_READ_TIMEOUT, &secs);
	MY_SET(MYSQL_OPT_WRITE_TIMEOUT, &secs);
	MY_SET(MYSQL_PLUGIN_DIR, MY_PLUGIN_DIR);
	if (c->iam) {
		/* Only after the checks above made TLS mandatory. */
		if (c->tls == MY_TLS_DISABLED) {
			mysql_close(m);
			my_fail(c, r, VAL_CONFIG, "config", "AWS IAM authentication requires SSL to be "
				"enabled", NULL);
			return -1;
		}
		MY_SET(MARIADB_OPT_RESTRICTED_AUTH, MY_IAM_PLUGIN);
		MY_SET(MYSQL_DEFAULT_AUTH, MY_IAM_PLUGIN);
		MY_SET(MYSQL_ENABLE_CLEARTEXT_PLUGIN, &yes);
	} else {
		MY_SET(MARIADB_OPT_RESTRICTED_AUTH, MY_AUTH_PLUGINS);
	}
	MY_SET(MYSQL_OPT_LOCAL_INFILE, &no);
	MY_SET(MYSQL_OPT_CONNECT_ATTR_RESET, NULL);
	MY_SET(MYSQL_OPT_CONNECT_ATTR_ADD, "program_name", "tether-validator");
	if (c->tls != MY_TLS_DISABLED) {
		MY_SET(MYSQL_OPT_SSL_ENFORCE, &yes);
		if (c->cert.fd >= 0) {
			MY_SET(MYSQL_OPT_SSL_CERT, c->cert.path);
			MY_SET(MYSQL_OPT_SSL_KEY, c->key.path);
		}
	}
	if (c->tls == MY_TLS_VERIFY_CA || c->tls == MY_TLS_VERIFY_IDENTITY) {
		/* A CA makes libmariadb verify the chain (SSL_VERIFY_PEER). */
		const char *ca = my_ca_path(c);
		if (!ca) {
			mysql_close(m);
			my_fail(c, r, VAL_CONFIG, "target_tls", "SSL MODE verify_ca and "
				"verify_identity need SSL CERTIFICATE AUTHORITY (no system CA "
				"bundle here)", NULL);
			return -1;
		}
		MY_SET(MYSQL_OPT_SSL_CA, ca);
	}
	if (c->tls != MY_TLS_DISABLED) {
		/* The probe's pin: TLS with that very certificate, or nothing
		 * is sent (my_probe_tls). Without it libmariadb would log in
		 * in plaintext to a server that offers no TLS. */
		if (!c->fingerprint[0]) {
			mysql_close(m);
			my_fail(c, r, VAL_CONFIG, "config", "no TLS certificate pinned", NULL);
			err_set(&r->e, "XX000", "internal error: validator: no TLS certificate "
				"pinned for SSL MODE");
			return -1;
		}
		MY_SET(MARIADB_OPT_TLS_PEER_FP, c->fingerprint);
	}

	const char *password = c->v[MY_PASSWORD] ? c->v[MY_PASSWORD] : "";
	/* A non-NULL password and port: libmariadb would fall back to
	 * $MYSQL_PWD and $MYSQL_TCP_PORT. No database: USER is what we check. */
	int64_t t0 = val_now_ms();
	if (!mysql_real_connect(m, host, c->v[MY_USER], password, NULL, port, NULL, 0)) {
		my_classify(c, m, host, port, val_now_ms() - t0, r);
		mysql_close(m);
		return -1;
	}
	mysql_close(m);
	return 0;
setfail:;
	char msg[300];
	snprintf(msg, sizeof(msg), "%s", mysql_error(m));
	mysql_close(m);
	my_fail(c, r, VAL_CONFIG, "target", "the MySQL client library rejected an option", msg);
	err_set(&r->e, "XX000", "internal error: validator: libmariadb option: %s", msg);
	return -1;
}

/* RDS IAM: the auth token for HOST:PORT and USER, signed with the AWS
 * connection's credentials (its keys are fetched for this MySQL host, as
 * the grant names it) in its REGION (default: the deployment's). Goes to
 * v[MY_PASSWORD], so every message is scrubbed of it. */
static int my_iam_token(struct my_check *c, struct val_result *r)
{
	struct val_aws_creds k;
	char host[300];
	char *tok = NULL;
	size_t tlen = 0;

	snprintf(r->stage, sizeof(r->stage), "aws_credentials");
	if (val_aws_credentials(c->svc, c->job, VAL_AWS_REF_PREFIX, c->hostport, &k, r) != 0)
		return -1;
	/* The host as the client names it (RDS signs what the driver sends). */
	if (strchr(c->v[MY_HOST], ':'))
		snprintf(host, sizeof(host), "[%s]:%u", c->v[MY_HOST], c->port);
	else
		snprintf(host, sizeof(host), "%s:%u", c->v[MY_HOST], c->port);
	const char *params[] = { "Action", "connect", "DBUser", c->v[MY_USER] };
	struct sigv4_presign p = {
		.method = "GET", .host = host, .path = "/", .params = params, .nparams = 2,
		.service = "rds-db", .region = k.region, .access_key_id = k.access_key_id,
		.secret_access_key = k.secret_access_key, .session_token = k.session_token,
		.expires = MY_IAM_EXPIRES,
	};
	int rc = sigv4_presign(&p, &tok, &tlen, NULL);
	val_aws_creds_free(&k);
	if (rc != 0) {
		my_fail(c, r, VAL_CONFIG, "config", "could not sign the RDS IAM authentication token",
			NULL);
		err_set(&r->e, "XX000", "internal error: validator: could not sign the RDS IAM "
			"authentication token");
		return -1;
	}
	val_value_free(c->v[MY_PASSWORD], c->len[MY_PASSWORD]);
	/* sigv4_free and val_value_free both wipe and free a malloc'd buffer. */
	c->v[MY_PASSWORD] = tok;
	c->len[MY_PASSWORD] = tlen;
	c->secret[MY_PASSWORD] = true;
	snprintf(r->stage, sizeof(r->stage), "config");
	return 0;
}

static int my_resolve(struct my_check *c, struct val_result *r)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *ai = NULL;
	int g = getaddrinfo(c->v[MY_HOST], NULL, &hints, &ai);
	if (g != 0) {
		my_fail(c, r, VAL_DNS, "target", gai_strerror(g), NULL);
		return -1;
	}
	freeaddrinfo(ai);
	return 0;
}

static void my_check_free(struct my_check *c)
{
	for (int o = 0; o < MY_NOPTS; o++)
		val_value_free(c->v[o], c->len[o]);
	memfile_close(&c->ca);
	memfile_close(&c->cert);
	memfile_close(&c->key);
	val_ssh_tunnel_close(c->tun);
	c->tun = NULL;
}

int conn_mysql_validate(const struct val_services *svc, const struct val_job *job,
			struct val_result *r)
{
	struct my_check c = {
		.svc = svc, .job = job, .port = MY_DEFAULT_PORT,
		.ca = MEMFILE_INIT, .cert = MEMFILE_INIT, .key = MEMFILE_INIT,
		.timeout_ms = job->connect_timeout_ms > 0 ? job->connect_timeout_ms
							  : MY_DEFAULT_TIMEOUT_MS,
	};
	int rc = -1;

	snprintf(r->stage, sizeof(r->stage), "config");
	if (my_load_options(&c, r) != 0 || my_check_pem(&c, r) != 0 ||
	    my_make_files(&c, r) != 0 || (c.iam && my_iam_token(&c, r) != 0))
		goto out;

	if (job->tunnel) {
		uint16_t lport = 0;
		snprintf(c.prefix, sizeof(c.prefix), "through SSH bastion %s:%u: ",
			 job->tunnel->host, job->tunnel->port);
		if (c.tls != MY_TLS_DISABLED) {
			/* The tunnel serves one connection: one for the probe,
			 * a fresh one for libmariadb. */
			if (val_ssh_tunnel_open(svc, job, job->tunnel, c.v[MY_HOST], c.port, &c.tun,
						&lport, r) != 0)
				goto out;
			int p = my_probe_tls(&c, NULL, lport, r);
			val_ssh_tunnel_close(c.tun);
			c.tun = NULL;
			if (p != 0)
				goto out;
		}
		if (val_ssh_tunnel_open(svc, job, job->tunnel, c.v[MY_HOST], c.port, &c.tun,
					&lport, r) != 0)
			goto out;
		if (my_connect(&c, "127.0.0.1", lport, r) != 0)
			goto out;
	} else {
		if (my_resolve(&c, r) != 0 ||
		    (c.tls != MY_TLS_DISABLED && my_probe_tls(&c, c.v[MY_HOST], c.port, r) != 0) ||
		    my_connect(&c, c.v[MY_HOST], c.port, r) != 0)
			goto out;
	}
	r->code = VAL_OK;
	snprintf(r->host, sizeof(r->host), "%s", c.hostport);
	snprintf(r->stage, sizeof(r->stage), "done");
	rc = 0;
out:
	my_check_free(&c);
	return rc;
}
