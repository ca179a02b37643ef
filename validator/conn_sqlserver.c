/* SQL SERVER: log in with FreeTDS db-lib (TDS 7.4) to DATABASE with SQL
 * authentication, encryption per SSL MODE (SQL.md 5.8), optionally through
 * an SSH tunnel; failures mapped to the stable codes of SQL.md 6.
 *
 * db-lib has no API for encryption, CA file or host name checking: those
 * exist only as freetds.conf settings. The check writes its own
 * freetds.conf into a sealed memfd and names it with dbsetifile(), which
 * FreeTDS reads before (and instead of) $FREETDSCONF, ~/.freetds.conf and
 * /etc/freetds/freetds.conf; the server is named by that file's one
 * section, so nothing on disk decides where or how the validator connects.
 * FreeTDS still honours $TDSDUMP/$TDSPORT/$TDSVER/$TDSHOST from the
 * environment, which tetherd gives validators empty.
 *
 * verify / verify_ca through an SSH tunnel: probe, then pin. FreeTDS would
 * check the certificate against the tunnel's local end (127.0.0.1), so the
 * validator first makes its own TLS handshake through one tunnel
 * connection (PRELOGIN with ENCRYPTION=ON, then OpenSSL's records wrapped
 * in PRELOGIN packets as [MS-TDS] 3.3.5.2 says), verifying the chain (the
 * system's roots, or the given CA) and the REAL HOST; it sends no LOGIN7,
 * no user, no password. The verified leaf certificate becomes FreeTDS's
 * only trust anchor (a sealed memfd as `ca file`, host name checking off)
 * on a second tunnel connection, so FreeTDS accepts exactly that
 * certificate, or a chain signed by its key, which only the server has. */
#include "val.h"
#include "memfile.h"
#include "tlsprobe.h"

#include <errno.h>
#include <netdb.h>
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

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <sybfront.h>
#include <sybdb.h>

#define MS_DEFAULT_TIMEOUT_MS 10000
#define MS_DEFAULT_PORT 1433
#define MS_SECTION "tether-target"
#define MS_SYSTEM_CA "/etc/ssl/certs/ca-certificates.crt"
/* [MS-TDS] 2.2.3.1: packet types, the header, the size before LOGIN7. */
#define MS_PKT_PRELOGIN 0x12
#define MS_PKT_REPLY 0x04
#define MS_PKT_HDR 8
#define MS_PKT_SIZE 4096
#define MS_PKT_MAX 32767     /* the largest packet a server may send */
/* PRELOGIN ENCRYPTION values (2.2.6.5). */
enum { MS_ENCRYPT_OFF, MS_ENCRYPT_ON, MS_ENCRYPT_NOT_SUP, MS_ENCRYPT_REQ };

/* SSL MODE (SQL.md 5.8), case-insensitive; aliases accepted leniently. */
enum ms_tls { MS_TLS_DISABLED, MS_TLS_REQUIRED, MS_TLS_VERIFY, MS_TLS_VERIFY_CA };
static const struct {
	const char *name;
	enum ms_tls mode;
} ms_sslmodes[] = {
	{ "disabled", MS_TLS_DISABLED }, { "disable", MS_TLS_DISABLED },
	{ "required", MS_TLS_REQUIRED }, { "require", MS_TLS_REQUIRED },
	{ "verify", MS_TLS_VERIFY },
	{ "verify_ca", MS_TLS_VERIFY_CA }, { "verify-ca", MS_TLS_VERIFY_CA },
};

enum ms_opt { MS_HOST, MS_PORT, MS_DATABASE, MS_USER, MS_PASSWORD, MS_SSLMODE, MS_CA,
	      MS_NOPTS };
_Static_assert(MS_HOST == VAL_SERVER_HOST && MS_PORT == VAL_SERVER_PORT,
	       "val_server_load: HOST and PORT first");
static const char *const ms_opt_names[MS_NOPTS] = {
	[MS_HOST] = "HOST", [MS_PORT] = "PORT", [MS_DATABASE] = "DATABASE",
	[MS_USER] = "USER", [MS_PASSWORD] = "PASSWORD", [MS_SSLMODE] = "SSL MODE",
	[MS_CA] = "SSL CERTIFICATE AUTHORITY",
};

struct ms_check {
	const struct val_services *svc;
	const struct val_job *job;
	char *v[MS_NOPTS];
	size_t len[MS_NOPTS];
	bool secret[MS_NOPTS];
	uint16_t port;
	enum ms_tls tls;
	char hostport[256];
	char prefix[320];
	struct memfile ca, conf;
	struct memfile pin;      /* the leaf certificate the probe verified (PEM) */
	struct val_tunnel *tun;
	int timeout_ms;
	/* What db-lib's handlers saw (the first library error, the most
	 * telling server message). */
	int dberr, oserr;
	char dbmsg[256];
	int msgno, msgclass;
	char srvmsg[512];
};

/* db-lib's handlers are process-wide; a validator runs one check. */
static struct ms_check *ms_current;

/* ---- messages ------------------------------------------------------------ */

static const char *const ms_hints[VAL_CODE_COUNT] = {
	[VAL_DNS] = "Check the connection's HOST.",
	[VAL_REFUSED] = "Check HOST and PORT, and that the server accepts TCP connections from tether.",
	[VAL_TIMEOUT] = "The server did not answer in time: check HOST, PORT and firewalls.",
	[VAL_TLS] = "Check SSL MODE and SSL CERTIFICATE AUTHORITY; verify and verify_ca need a "
		    "server certificate issued for HOST.",
	[VAL_AUTH] = "Check USER and PASSWORD, and that the server allows SQL Server authentication.",
	[VAL_PERMISSION] = "Check DATABASE and that the login is mapped to a user in it.",
	[VAL_PROTOCOL] = "Check that HOST and PORT point to a SQL Server.",
	[VAL_CONFIG] = "Check the connection's options.",
};

static void ms_scrub(void *ctx, char *s, size_t size)
{
	struct ms_check *c = ctx;
	static const enum ms_opt secret_opts[] = { MS_PASSWORD, MS_USER, MS_CA, MS_DATABASE };
	for (size_t i = 0; i < sizeof(secret_opts) / sizeof(secret_opts[0]); i++) {
		enum ms_opt o = secret_opts[i];
		if (c->v[o] && (c->secret[o] || o == MS_PASSWORD))
			val_scrub(s, size, c->v[o], c->len[o]);
	}
}

static void ms_fail(struct ms_check *c, struct val_result *r, enum val_code code,
		    const char *stage, const char *reason, const char *detail)
{
	const struct val_server_words w = {
		.kind = "SQL SERVER", .prefix = c->prefix,
		.host = c->v[MS_HOST] ? c->v[MS_HOST] : "", .hostport = c->hostport,
		.hints = ms_hints, .scrub = ms_scrub, .ctx = c,
	};
	val_fail_server(&w, r, code, stage, reason, detail);
}

/* ---- db-lib handlers ------------------------------------------------------ */

static int ms_err_handler(DBPROCESS *dbproc, int severity, int dberr, int oserr,
			  char *dberrstr, char *oserrstr)
{
	(void)dbproc;
	(void)severity;
	(void)oserrstr;
	struct ms_check *c = ms_current;
	/* Keep the first cause: later ones ("connection failed") only
	 * summarise it. */
	if (c && !c->dberr) {
		c->dberr = dberr;
		c->oserr = oserr > 0 ? oserr : 0;
		snprintf(c->dbmsg, sizeof(c->dbmsg), "%s", dberrstr ? dberrstr : "");
	}
	return INT_CANCEL;
}

/* Server messages during login: informational ones (class <= 10, e.g.
 * 5701 "Changed database context") are noise; keep the first error. */
static int ms_msg_handler(DBPROCESS *dbproc, DBINT msgno, int msgstate, int severity,
			  char *msgtext, char *srvname, char *procname, int line)
{
	(void)dbproc;
	(void)msgstate;
	(void)srvname;
	(void)procname;
	(void)line;
	struct ms_check *c = ms_current;
	if (c && severity > 10 && !c->msgno) {
		c->msgno = (int)msgno;
		c->msgclass = severity;
		snprintf(c->srvmsg, sizeof(c->srvmsg), "%s", msgtext ? msgtext : "");
	}
	return 0;
}

/* ---- classification ------------------------------------------------------ */

/* Server error numbers seen at login (sys.messages). */
static const struct {
	int msgno;
	enum val_code code;
} ms_server_errors[] = {
	{ 4060, VAL_PERMISSION },   /* Cannot open database requested by the login */
	{ 916, VAL_PERMISSION },    /* not able to access the database under the current context */
	{ 18456, VAL_AUTH },        /* Login failed for user */
	{ 18452, VAL_AUTH },        /* untrusted domain / Windows auth only */
	{ 18470, VAL_AUTH },        /* account disabled */
	{ 18486, VAL_AUTH },        /* account locked out */
	{ 18487, VAL_AUTH },        /* password expired */
	{ 18488, VAL_AUTH },        /* password must be changed */
};

static void ms_classify(struct ms_check *c, int64_t elapsed_ms, struct val_result *r)
{
	char detail[800];
	snprintf(detail, sizeof(detail), "%s%s%s", c->dbmsg,
		 c->oserr ? ": " : "", c->oserr ? strerror(c->oserr) : "");
	if (c->msgno) {
		for (size_t i = 0; i < sizeof(ms_server_errors) / sizeof(ms_server_errors[0]); i++)
			if (ms_server_errors[i].msgno == c->msgno) {
				ms_fail(c, r, ms_server_errors[i].code, "target_auth", c->srvmsg, NULL);
				return;
			}
		snprintf(detail, sizeof(detail), "server error %d (class %d): %s", c->msgno,
			 c->msgclass, c->srvmsg);
		ms_fail(c, r, VAL_PROTOCOL, "target_auth", c->srvmsg, detail);
		return;
	}
	switch (c->dberr) {
	case SYBETIME:
		ms_fail(c, r, VAL_TIMEOUT, "target", "timed out", detail);
		return;
	case SYBECONN:
	case SYBESOCK:
		if (c->oserr == ETIMEDOUT || c->oserr == EAGAIN ||
		    (!c->oserr && elapsed_ms >= c->timeout_ms - 200))
			ms_fail(c, r, VAL_TIMEOUT, "target", "timed out", detail);
		else
			ms_fail(c, r, VAL_REFUSED, "target",
				c->oserr ? strerror(c->oserr) : "connection failed", detail);
		return;
	case SYBEREAD:
	case SYBESEOF:
		if (c->oserr == ETIMEDOUT || c->oserr == EAGAIN)
			ms_fail(c, r, VAL_TIMEOUT, "target", "timed out waiting for the server", detail);
		else
			ms_fail(c, r, VAL_PROTOCOL, "target", "the server closed the connection",
				detail);
		return;
	default:
		break;
	}
	/* "connection failed" after TCP with no server message: FreeTDS does
	 * not say why (a TLS failure is only in its debug log). With
	 * encryption on, the handshake is the step that can fail silently. */
	if (c->dberr == SYBEFCON && c->tls != MS_TLS_DISABLED) {
		ms_fail(c, r, VAL_TLS, "target_tls",
			c->tls == MS_TLS_REQUIRED ? "encryption could not be negotiated"
						  : "the server certificate could not be verified",
			detail);
		return;
	}
	if (elapsed_ms >= c->timeout_ms - 200) {
		ms_fail(c, r, VAL_TIMEOUT, "target", "timed out", detail);
		return;
	}
	ms_fail(c, r, VAL_PROTOCOL, "target", c->dbmsg[0] ? c->dbmsg : "login failed", detail);
}

/* ---- options ------------------------------------------------------------- */

/* HOST goes into a freetds.conf line: host names and IP literals only. */
static bool ms_host_ok(const char *h)
{
	if (!h[0] || strlen(h) > 253)
		return false;
	for (const char *p = h; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '.' || *p == '-' || *p == '_' || *p == ':'))
			return false;
	return true;
}

static int ms_load_options(struct ms_check *c, struct val_result *r)
{
	const struct val_job *job = c->job;

	if (val_job_option(job, "AWS PRIVATELINK")) {
		val_fail(r, VAL_CONFIG, NULL, "AWS PrivateLink connections are unsupported");
		err_set(&r->e, "0A000", "AWS PrivateLink connections are unsupported");
		return -1;
	}
	/* HOST and PORT first (enum order): every secret fetched after them is
	 * audited with its destination "host:port". */
	const struct val_server_opts so = {
		.names = ms_opt_names, .n = MS_NOPTS, .v = c->v, .len = c->len,
		.secret = c->secret, .port = &c->port,
		.hostport = c->hostport, .hostport_size = sizeof(c->hostport),
	};
	static const int required[] = { MS_HOST, MS_DATABASE, MS_USER, MS_PASSWORD };
	if (val_server_load(c->svc, job, &so, required, sizeof(required) / sizeof(required[0]),
			    r) != 0)
		return -1;
	if (!ms_host_ok(c->v[MS_HOST])) {
		val_fail(r, VAL_CONFIG, c->hostport,
			 "invalid connection configuration: invalid HOST \"%s\"", c->v[MS_HOST]);
		return -1;
	}
	/* db-lib's login record holds at most 128 bytes per string (TDS
	 * LOGIN7 limits); longer ones would be refused without a reason. */
	static const enum ms_opt bounded[] = { MS_DATABASE, MS_USER, MS_PASSWORD };
	for (size_t i = 0; i < sizeof(bounded) / sizeof(bounded[0]); i++)
		if (c->len[bounded[i]] > 128) {
			val_fail(r, VAL_CONFIG, c->hostport,
				 "invalid connection configuration: %s is longer than 128 bytes",
				 ms_opt_names[bounded[i]]);
			return -1;
		}
	c->tls = MS_TLS_DISABLED;
	if (c->v[MS_SSLMODE]) {
		bool found = false;
		for (size_t i = 0; i < sizeof(ms_sslmodes) / sizeof(ms_sslmodes[0]); i++)
			if (strcasecmp(c->v[MS_SSLMODE], ms_sslmodes[i].name) == 0) {
				c->tls = ms_sslmodes[i].mode;
				found = true;
			}
		if (!found) {
			val_fail(r, VAL_CONFIG, c->hostport,
				 "invalid connection configuration: unknown SSL MODE \"%s\"",
				 c->v[MS_SSLMODE]);
			return -1;
		}
	}
	if (c->tls == MS_TLS_VERIFY_CA && !c->v[MS_CA]) {
		val_fail(r, VAL_CONFIG, c->hostport, "invalid connection configuration: SSL MODE "
			 "'verify_ca' requires SSL CERTIFICATE AUTHORITY");
		return -1;
	}
	return 0;
}

/* The freetds.conf of this check, one section (FreeTDS's option names,
 * freetds.conf(5)). Values were checked above to hold no line breaks. */
static int ms_make_conf(struct ms_check *c, const char *host, uint16_t port,
			struct val_result *r)
{
	static const char *const enc[] = {
		[MS_TLS_DISABLED] = "off",     /* PRELOGIN ENCRYPT_NOT_SUP: no TLS at all */
		[MS_TLS_REQUIRED] = "require", /* ENCRYPT_ON, any certificate */
		[MS_TLS_VERIFY] = "require",
		[MS_TLS_VERIFY_CA] = "require",
	};
	char conf[1024];
	const char *ca = NULL;
	bool check_name = true;
	if (c->pin.fd >= 0) {
		/* The probe verified this very certificate against the real
		 * HOST; FreeTDS would check the tunnel's 127.0.0.1. */
		ca = c->pin.path;
		check_name = false;
	} else if (c->tls == MS_TLS_VERIFY_CA) {
		if (memfile_create(&c->ca, "tether-ms-ca", c->v[MS_CA], c->len[MS_CA], &r->e) != 0) {
			r->code = VAL_CONFIG;
			return -1;
		}
		ca = c->ca.path;
	} else if (c->tls == MS_TLS_VERIFY) {
		ca = "system";
	}
	unsigned secs = (unsigned)((c->timeout_ms + 999) / 1000);
	int n = snprintf(conf, sizeof(conf),
			 "[global]\n"
			 "[" MS_SECTION "]\n"
			 "\thost = %s\n"
			 "\tport = %u\n"
			 "\ttds version = 7.4\n"
			 "\tencryption = %s\n"
			 "%s%s%s"
			 "\tcheck certificate hostname = %s\n"
			 "\tconnect timeout = %u\n"
			 "\ttimeout = %u\n"
			 "\tclient charset = UTF-8\n",
			 host, port, enc[c->tls], ca ? "\tca file = " : "", ca ? ca : "",
			 ca ? "\n" : "", ca && check_name ? "yes" : "no", secs, secs);
	if (n < 0 || (size_t)n >= sizeof(conf) ||
	    memfile_create(&c->conf, "tether-ms-freetds-conf", conf, (size_t)n, &r->e) != 0) {
		r->code = VAL_CONFIG;
		if (!r->e.message[0])
			err_set(&r->e, "XX000", "internal error: validator: freetds.conf too long");
		return -1;
	}
	return 0;
}

static int ms_resolve(struct ms_check *c, struct val_result *r)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *ai = NULL;
	int g = getaddrinfo(c->v[MS_HOST], NULL, &hints, &ai);
	if (g != 0) {
		ms_fail(c, r, VAL_DNS, "target", gai_strerror(g), NULL);
		return -1;
	}
	freeaddrinfo(ai);
	return 0;
}

/* ---- the TLS probe (verify / verify_ca through a tunnel) ----------------- */

/* Sends `len` bytes as TDS packets of `type` (the last one EOM). */
static int ms_send_packets(int fd, unsigned char type, const unsigned char *data, size_t len,
			   unsigned char *packet_id)
{
	unsigned char pkt[MS_PKT_SIZE];
	do {
		size_t n = len < MS_PKT_SIZE - MS_PKT_HDR ? len : MS_PKT_SIZE - MS_PKT_HDR;
		size_t total = n + MS_PKT_HDR;
		pkt[0] = type;
		pkt[1] = n == len ? 0x01 : 0x00;    /* status: end of message */
		pkt[2] = (unsigned char)(total >> 8);
		pkt[3] = (unsigned char)total;
		pkt[4] = pkt[5] = 0;                 /* SPID */
		pkt[6] = (*packet_id)++;
		pkt[7] = 0;                          /* window */
		memcpy(pkt + MS_PKT_HDR, data, n);
		if (send(fd, pkt, total, MSG_NOSIGNAL) != (ssize_t)total)
			return -1;
		data += n;
		len -= n;
	} while (len > 0);
	return 0;
}

/* One TDS packet: 0, -1 (errno: a read error or timeout), -2 (the peer
 * closed), -3 (not a TDS packet). */
static int ms_recv_packet(int fd, unsigned char *type, unsigned char *status,
			  unsigned char *payload, size_t *len)
{
	unsigned char hdr[MS_PKT_HDR];
	int k = tlsprobe_read_full(fd, hdr, sizeof(hdr));
	if (k != 0)
		return k;
	size_t total = (size_t)hdr[2] << 8 | hdr[3];
	if (total < MS_PKT_HDR || total - MS_PKT_HDR > *len)
		return -3;
	*type = hdr[0];
	*status = hdr[1];
	*len = total - MS_PKT_HDR;
	return *len ? tlsprobe_read_full(fd, payload, *len) : 0;
}

static void ms_io_fail(struct ms_check *c, struct val_result *r, int k, const char *what)
{
	if (k == -1 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ETIMEDOUT))
		ms_fail(c, r, VAL_TIMEOUT, "target", "timed out waiting for the server", what);
	else if (k == -3)
		ms_fail(c, r, VAL_PROTOCOL, "target", "the server did not answer in TDS", what);
	else
		ms_fail(c, r, VAL_PROTOCOL, "target", "the server closed the connection", what);
}

/* The PRELOGIN exchange: asks for encryption, refuses a server that cannot
 * encrypt. Nothing else is sent. */
static int ms_prelogin(struct ms_check *c, int fd, unsigned char *packet_id,
		       struct val_result *r)
{
	/* VERSION (6), ENCRYPTION (1) = ON, THREADID (4), MARS (1) = off,
	 * terminator; offsets from the start of the message (2.2.6.5). */
	static const unsigned char pre[] = {
		0x00, 0, 21, 0, 6,  0x01, 0, 27, 0, 1,  0x03, 0, 28, 0, 4,  0x04, 0, 32, 0, 1,
		0xff,
		0x0b, 0x00, 0x00, 0x00, 0x00, 0x00,   /* client version, unused by servers */
		MS_ENCRYPT_ON,
		0, 0, 0, 0,
		0,
	};
	if (ms_send_packets(fd, MS_PKT_PRELOGIN, pre, sizeof(pre), packet_id) != 0) {
		ms_fail(c, r, VAL_PROTOCOL, "target", "the server closed the connection", NULL);
		return -1;
	}
	unsigned char msg[MS_PKT_MAX], type = 0, status = 0;
	size_t len = sizeof(msg);
	int k = ms_recv_packet(fd, &type, &status, msg, &len);
	if (k != 0) {
		ms_io_fail(c, r, k, "no PRELOGIN response");
		return -1;
	}
	int enc = -1;
	for (size_t i = 0; type == MS_PKT_REPLY && i + 5 <= len && msg[i] != 0xff; i += 5) {
		size_t off = (size_t)msg[i + 1] << 8 | msg[i + 2];
		size_t n = (size_t)msg[i + 3] << 8 | msg[i + 4];
		if (msg[i] == 0x01 && n >= 1 && off + n <= len)
			enc = msg[off];
	}
	if (enc < 0) {
		ms_fail(c, r, VAL_PROTOCOL, "target", "no valid PRELOGIN response from the server",
			NULL);
		return -1;
	}
	if (enc == MS_ENCRYPT_NOT_SUP) {
		ms_fail(c, r, VAL_TLS, "target_tls", "the server does not support encryption", NULL);
		return -1;
	}
	return 0;
}

/* Trust for the probe: the given CA(s), or the system's roots. */
static int ms_probe_trust(struct ms_check *c, SSL_CTX *ctx, struct val_result *r)
{
	char why[512];
	if (c->tls == MS_TLS_VERIFY) {
		if (SSL_CTX_load_verify_locations(ctx, MS_SYSTEM_CA, NULL) == 1)
			return 0;
		tlsprobe_errors(why, sizeof(why));
		ms_fail(c, r, VAL_CONFIG, "target_tls", "the system's CA certificates could not be "
			"loaded", why);
		return -1;
	}
	if (tlsprobe_pem_certs(c->v[MS_CA], c->len[MS_CA], SSL_CTX_get_cert_store(ctx)) > 0)
		return 0;
	tlsprobe_errors(why, sizeof(why));
	ms_fail(c, r, VAL_CONFIG, "target_tls", "SSL CERTIFICATE AUTHORITY holds no PEM "
		"certificate", why);
	return -1;
}

/* Writes what OpenSSL queued as PRELOGIN packets. */
static int ms_flush_tls(int fd, BIO *wbio, unsigned char *packet_id)
{
	unsigned char buf[MS_PKT_SIZE];
	int n;
	while ((n = BIO_read(wbio, buf, sizeof(buf))) > 0)
		if (ms_send_packets(fd, MS_PKT_PRELOGIN, buf, (size_t)n, packet_id) != 0)
			return -1;
	return 0;
}

/* Through the tunnel's local end at `lport`: PRELOGIN, then a TLS
 * handshake in PRELOGIN packets that verifies as SSL MODE says, against the
 * REAL HOST (an IP literal as an address). SNI is the real HOST when it is
 * a name. Keeps the verified leaf certificate in c->pin for FreeTDS. */
static int ms_probe_tls(struct ms_check *c, uint16_t lport, struct val_result *r)
{
	int fd = -1, rc = -1;
	SSL_CTX *ctx = NULL;
	SSL *ssl = NULL;
	BIO *pem = NULL;
	unsigned char packet_id = 1;
	char why[512];

	struct sockaddr_in lo = { .sin_family = AF_INET, .sin_port = htons(lport),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct timeval tv = { .tv_sec = c->timeout_ms / 1000,
			      .tv_usec = (c->timeout_ms % 1000) * 1000 };
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0 ||
	    connect(fd, (struct sockaddr *)&lo, sizeof(lo)) != 0) {
		int e = errno;
		ms_fail(c, r, e == EINPROGRESS || e == ETIMEDOUT ? VAL_TIMEOUT : VAL_REFUSED,
			"target", e == EINPROGRESS ? "timed out" : strerror(e), NULL);
		goto out;
	}
	if (ms_prelogin(c, fd, &packet_id, r) != 0)
		goto out;

	ctx = tlsprobe_ctx_new();
	if (!ctx)
		goto ssl_fail;
	if (ms_probe_trust(c, ctx, r) != 0)
		goto out;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	ssl = SSL_new(ctx);
	BIO *rbio = BIO_new(BIO_s_mem()), *wbio = BIO_new(BIO_s_mem());
	if (!ssl || !rbio || !wbio) {
		BIO_free(rbio);
		BIO_free(wbio);
		goto ssl_fail;
	}
	SSL_set_bio(ssl, rbio, wbio);   /* ssl owns both now */
	if (tlsprobe_verify_host(ssl, c->v[MS_HOST], true) != 0)
		goto ssl_fail;
	int64_t deadline = val_now_ms() + c->timeout_ms;
	for (;;) {
		int k = SSL_connect(ssl);
		if (ms_flush_tls(fd, wbio, &packet_id) != 0) {
			ms_fail(c, r, VAL_TLS, "target_tls", "the server closed the connection during "
				"the TLS handshake", NULL);
			goto out;
		}
		if (k == 1)
			break;
		if (SSL_get_error(ssl, k) != SSL_ERROR_WANT_READ) {
			const char *bad = tlsprobe_verify_error(ssl);
			if (bad) {
				ms_fail(c, r, VAL_TLS, "target_tls", bad, NULL);
				goto out;
			}
			goto ssl_fail;
		}
		unsigned char buf[MS_PKT_MAX], type = 0, status = 0;
		size_t len = sizeof(buf);
		int g = val_now_ms() < deadline ? ms_recv_packet(fd, &type, &status, buf, &len) : -1;
		if (g == -1 && val_now_ms() >= deadline)
			errno = ETIMEDOUT;
		if (g == -2) {
			ms_fail(c, r, VAL_TLS, "target_tls", "the server closed the connection during "
				"the TLS handshake", NULL);
			goto out;
		}
		if (g != 0 || type != MS_PKT_PRELOGIN) {
			ms_io_fail(c, r, g ? g : -3, "during the TLS handshake");
			goto out;
		}
		if (len && BIO_write(rbio, buf, (int)len) != (int)len)
			goto ssl_fail;
	}
	BUF_MEM *bm = NULL;
	pem = tlsprobe_leaf_pem(ssl, &bm);
	if (!pem)
		goto ssl_fail;
	if (memfile_create(&c->pin, "tether-ms-pin", bm->data, bm->length, &r->e) != 0) {
		r->code = VAL_CONFIG;
		goto out;
	}
	rc = 0;
	goto out;
ssl_fail:
	ms_fail(c, r, VAL_TLS, "target_tls", tlsprobe_reason(why, sizeof(why)), NULL);
out:
	BIO_free(pem);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	if (fd >= 0)
		close(fd);
	return rc;
}

/* ---- the login ----------------------------------------------------------- */

static int ms_login(struct ms_check *c, struct val_result *r)
{
	int rc = -1;
	LOGINREC *login = NULL;
	DBPROCESS *dbp = NULL;
	int secs = (c->timeout_ms + 999) / 1000;

	if (dbinit() == FAIL) {
		ms_fail(c, r, VAL_CONFIG, "target", "FreeTDS could not be initialised", NULL);
		err_set(&r->e, "XX000", "internal error: validator: dbinit failed");
		return -1;
	}
	ms_current = c;
	dberrhandle(ms_err_handler);
	dbmsghandle(ms_msg_handler);
	dbsetifile(c->conf.path);
	dbsetlogintime(secs);
	dbsettime(secs);
	login = dblogin();
	if (!login || DBSETLUSER(login, c->v[MS_USER]) == FAIL ||
	    DBSETLPWD(login, c->v[MS_PASSWORD]) == FAIL ||
	    DBSETLAPP(login, "tether-validator") == FAIL ||
	    DBSETLHOST(login, "tether") == FAIL ||
	    DBSETLDBNAME(login, c->v[MS_DATABASE]) == FAIL ||
	    DBSETLCHARSET(login, "UTF-8") == FAIL ||
	    dbsetlversion(login, DBVERSION_74) == FAIL) {
		ms_fail(c, r, VAL_CONFIG, "config", "FreeTDS refused a login field", c->dbmsg);
		goto out;
	}
	int64_t t0 = val_now_ms();
	dbp = dbopen(login, MS_SECTION);
	if (!dbp) {
		ms_classify(c, val_now_ms() - t0, r);
		goto out;
	}
	rc = 0;
out:
	if (dbp)
		dbclose(dbp);
	if (login)
		dbloginfree(login);   /* frees (and FreeTDS wipes) the password copy */
	/* "" forgets the file (NULL would make db-lib format an error with
	 * missing arguments and crash, FreeTDS 1.3.17). */
	dbsetifile((char *)"");
	dberrhandle(NULL);
	dbmsghandle(NULL);
	ms_current = NULL;
	dbexit();
	return rc;
}

static void ms_check_free(struct ms_check *c)
{
	for (int o = 0; o < MS_NOPTS; o++)
		val_value_free(c->v[o], c->len[o]);
	memfile_close(&c->ca);
	memfile_close(&c->conf);
	memfile_close(&c->pin);
	val_ssh_tunnel_close(c->tun);
	c->tun = NULL;
}

int conn_sqlserver_validate(const struct val_services *svc, const struct val_job *job,
			    struct val_result *r)
{
	struct ms_check c = {
		.svc = svc, .job = job, .port = MS_DEFAULT_PORT,
		.ca = MEMFILE_INIT, .conf = MEMFILE_INIT, .pin = MEMFILE_INIT,
		.timeout_ms = job->connect_timeout_ms > 0 ? job->connect_timeout_ms
							  : MS_DEFAULT_TIMEOUT_MS,
	};
	int rc = -1;

	snprintf(r->stage, sizeof(r->stage), "config");
	if (ms_load_options(&c, r) != 0)
		goto out;
	if (job->tunnel) {
		uint16_t lport = 0;
		snprintf(c.prefix, sizeof(c.prefix), "through SSH bastion %s:%u: ",
			 job->tunnel->host, job->tunnel->port);
		/* FreeTDS checks the certificate against the host it connects
		 * to, here the tunnel's local end: probe, then pin. The tunnel
		 * serves one connection: one for the probe, a fresh one for
		 * FreeTDS. */
		if (c.tls == MS_TLS_VERIFY || c.tls == MS_TLS_VERIFY_CA) {
			if (val_ssh_tunnel_open(svc, job, job->tunnel, c.v[MS_HOST], c.port, &c.tun,
						&lport, r) != 0)
				goto out;
			int p = ms_probe_tls(&c, lport, r);
			val_ssh_tunnel_close(c.tun);
			c.tun = NULL;
			if (p != 0)
				goto out;
		}
		if (val_ssh_tunnel_open(svc, job, job->tunnel, c.v[MS_HOST], c.port, &c.tun,
					&lport, r) != 0)
			goto out;
		if (ms_make_conf(&c, "127.0.0.1", lport, r) != 0)
			goto out;
	} else {
		if (ms_resolve(&c, r) != 0 || ms_make_conf(&c, c.v[MS_HOST], c.port, r) != 0)
			goto out;
	}
	if (ms_login(&c, r) != 0)
		goto out;
	r->code = VAL_OK;
	snprintf(r->host, sizeof(r->host), "%s", c.hostport);
	snprintf(r->stage, sizeof(r->stage), "done");
	rc = 0;
out:
	ms_check_free(&c);
	return rc;
}
