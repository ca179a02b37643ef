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
 * environment, which tetherd gives validators empty. */
#include "val.h"
#include "memfile.h"

#include <errno.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <sybfront.h>
#include <sybdb.h>

#define MS_DEFAULT_TIMEOUT_MS 10000
#define MS_DEFAULT_PORT 1433
#define MS_SECTION "tether-target"

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
	if (c->tls == MS_TLS_VERIFY_CA) {
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
			 ca ? "\n" : "", ca ? "yes" : "no", secs, secs);
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
	val_ssh_tunnel_close(c->tun);
	c->tun = NULL;
}

int conn_sqlserver_validate(const struct val_services *svc, const struct val_job *job,
			    struct val_result *r)
{
	struct ms_check c = {
		.svc = svc, .job = job, .port = MS_DEFAULT_PORT,
		.ca = MEMFILE_INIT, .conf = MEMFILE_INIT,
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
		 * to, which here would be the tunnel's local end. */
		if (c.tls == MS_TLS_VERIFY || c.tls == MS_TLS_VERIFY_CA) {
			val_fail(r, VAL_CONFIG, c.hostport, "SSL MODE %s through an SSH TUNNEL is "
				 "not supported yet", c.tls == MS_TLS_VERIFY ? "verify" : "verify_ca");
			err_set(&r->e, "0A000", "SSL MODE %s through an SSH TUNNEL is not supported yet",
				c.tls == MS_TLS_VERIFY ? "verify" : "verify_ca");
			err_hint(&r->e, "Use SSL MODE required through the tunnel, or connect directly.");
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
