/* POSTGRES: connect with libpq (keyword arrays, never a conninfo string),
 * TLS per SSL MODE with certificates and keys in sealed memfds, SCRAM or
 * client-certificate auth to DATABASE, optionally through an SSH tunnel;
 * failures mapped to the stable codes and messages of SQL.md 6. */
#include "val.h"
#include "memfile.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <libpq-fe.h>

#define PG_DEFAULT_TIMEOUT_MS 10000
#define PG_DEFAULT_PORT 5432
/* A path that never exists (ENOTDIR), so libpq neither finds a file nor
 * falls back to ~/.postgresql/ or ~/.pgpass. */
#define PG_NO_FILE "/dev/null/none"
#define PG_SYSTEM_CA "/etc/ssl/certs/ca-certificates.crt"

/* SSL MODE values as the planner normalises them, plus its aliases
 * (SQL.md 5.7), matched case-insensitively. */
static const struct {
	const char *name;
	const char *libpq;
} pg_sslmodes[] = {
	{ "disable", "disable" }, { "disabled", "disable" },
	{ "require", "require" }, { "required", "require" },
	{ "verify-ca", "verify-ca" }, { "verify_ca", "verify-ca" },
	{ "verify-full", "verify-full" }, { "verify_full", "verify-full" },
};

/* The connection's resolved options. Secret-bearing ones are wiped. */
enum pg_opt { PG_HOST, PG_PORT, PG_DATABASE, PG_USER, PG_PASSWORD, PG_SSLMODE,
	      PG_CA, PG_CERT, PG_KEY, PG_NOPTS };
_Static_assert(PG_HOST == VAL_SERVER_HOST && PG_PORT == VAL_SERVER_PORT,
	       "val_server_load: HOST and PORT first");
static const char *const pg_opt_names[PG_NOPTS] = {
	[PG_HOST] = "HOST", [PG_PORT] = "PORT", [PG_DATABASE] = "DATABASE",
	[PG_USER] = "USER", [PG_PASSWORD] = "PASSWORD", [PG_SSLMODE] = "SSL MODE",
	[PG_CA] = "SSL CERTIFICATE AUTHORITY", [PG_CERT] = "SSL CERTIFICATE",
	[PG_KEY] = "SSL KEY",
};

struct pg_check {
	const struct val_services *svc;
	const struct val_job *job;
	char *v[PG_NOPTS];
	size_t len[PG_NOPTS];
	bool secret[PG_NOPTS];   /* had a secret part: scrub it from messages */
	uint16_t port;
	const char *sslmode;     /* libpq's spelling */
	char hostport[256];
	char prefix[320];        /* "through SSH bastion b:22: " or "" */
	struct memfile ca, cert, key;
	struct val_tunnel *tun;
	int timeout_ms;
};

/* ---- classification ------------------------------------------------------ */

/* libpq gives no errno for a failed connect, only text (untranslated: the
 * validator never calls setlocale). First match wins. */
static const struct {
	const char *needle;
	enum val_code code;
	const char *stage;
} pg_patterns[] = {
	{ "could not translate host name", VAL_DNS, "target" },
	{ "Connection refused", VAL_REFUSED, "target" },
	{ "No route to host", VAL_REFUSED, "target" },
	{ "Network is unreachable", VAL_REFUSED, "target" },
	{ "timeout expired", VAL_TIMEOUT, "target" },
	{ "private key file", VAL_CONFIG, "target_tls" },
	{ "could not load private key", VAL_CONFIG, "target_tls" },
	{ "could not read certificate file", VAL_CONFIG, "target_tls" },
	{ "could not load certificate", VAL_CONFIG, "target_tls" },
	{ "could not read root certificate file", VAL_CONFIG, "target_tls" },
	{ "server does not support SSL", VAL_TLS, "target_tls" },
	{ "does not match host name", VAL_TLS, "target_tls" },
	{ "certificate", VAL_TLS, "target_tls" },
	{ "SSL", VAL_TLS, "target_tls" },
};

/* Server SQLSTATEs seen during startup (PostgreSQL errcodes.txt). */
static const struct {
	const char *prefix;
	enum val_code code;
	const char *stage;
} pg_sqlstates[] = {
	{ "28", VAL_AUTH, "target_auth" },          /* 28000, 28P01 */
	{ "3D000", VAL_PERMISSION, "target_auth" }, /* no such database */
	{ "42501", VAL_PERMISSION, "target_auth" }, /* no CONNECT privilege */
};

static const char *const pg_hints[VAL_CODE_COUNT] = {
	[VAL_DNS] = "Check the connection's HOST.",
	[VAL_REFUSED] = "Check HOST and PORT, and that the server accepts TCP connections from tether.",
	[VAL_TIMEOUT] = "The server did not answer in time: check HOST, PORT and firewalls.",
	[VAL_TLS] = "Check SSL MODE and SSL CERTIFICATE AUTHORITY; verify-full needs a server "
		    "certificate issued for HOST.",
	[VAL_AUTH] = "Check USER and PASSWORD (or SSL CERTIFICATE and SSL KEY) and the server's "
		     "pg_hba.conf.",
	[VAL_PERMISSION] = "Check DATABASE and the user's CONNECT privilege on it.",
	[VAL_PROTOCOL] = "Check that HOST and PORT point to a PostgreSQL server.",
	[VAL_CONFIG] = "Check the connection's SSL CERTIFICATE, SSL KEY and SSL CERTIFICATE AUTHORITY values.",
};

/* The server's SQLSTATE, from a VERBOSE libpq message ("FATAL:  28P01: ..."). */
static bool pg_find_sqlstate(const char *msg, char state[6])
{
	static const char *sev[] = { "FATAL:  ", "ERROR:  ", "PANIC:  " };
	for (size_t i = 0; i < sizeof(sev) / sizeof(sev[0]); i++) {
		const char *p = strstr(msg, sev[i]);
		if (!p)
			continue;
		p += strlen(sev[i]);
		size_t n = strspn(p, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ");
		if (n == 5 && p[5] == ':') {
			memcpy(state, p, 5);
			state[5] = '\0';
			return true;
		}
	}
	return false;
}

/* Cleans libpq's message in place for the client: drops VERBOSE's
 * "SQLSTATE: " after the severity and its LOCATION line, trims. */
static void pg_clean_message(char *m)
{
	char *p;
	if ((p = strstr(m, "LOCATION:  ")) != NULL)
		*p = '\0';
	static const char *sev[] = { "FATAL:  ", "ERROR:  ", "PANIC:  " };
	for (size_t i = 0; i < sizeof(sev) / sizeof(sev[0]); i++) {
		if ((p = strstr(m, sev[i])) == NULL)
			continue;
		p += strlen(sev[i]);
		if (strspn(p, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") == 5 && p[5] == ':' &&
		    p[6] == ' ')
			memmove(p, p + 7, strlen(p + 7) + 1);
	}
	size_t n = strlen(m);
	while (n > 0 && (m[n - 1] == '\n' || m[n - 1] == ' ' || m[n - 1] == '\t'))
		m[--n] = '\0';
}

/* The reason: the first line after libpq's "connection to server at ...
 * failed: " and the severity, which name the tunnel's local end. */
static void pg_reason(const char *clean, char *out, size_t size)
{
	const char *p = clean, *q;
	if ((q = strstr(p, " failed: ")) != NULL && strncmp(p, "connection to server", 20) == 0)
		p = q + strlen(" failed: ");
	static const char *sev[] = { "FATAL:  ", "ERROR:  " };
	for (size_t i = 0; i < sizeof(sev) / sizeof(sev[0]); i++)
		if (strncmp(p, sev[i], strlen(sev[i])) == 0)
			p += strlen(sev[i]);
	size_t n = strcspn(p, "\n");
	if (n >= size)
		n = size - 1;
	memcpy(out, p, n);
	out[n] = '\0';
	if (!out[0])
		snprintf(out, size, "connection failed");
}

static void pg_scrub(void *ctx, char *s, size_t size)
{
	struct pg_check *c = ctx;
	static const enum pg_opt secret_opts[] = { PG_PASSWORD, PG_USER, PG_KEY, PG_CERT, PG_CA,
						   PG_DATABASE };
	for (size_t i = 0; i < sizeof(secret_opts) / sizeof(secret_opts[0]); i++) {
		enum pg_opt o = secret_opts[i];
		if (c->v[o] && (c->secret[o] || o == PG_PASSWORD || o == PG_KEY))
			val_scrub(s, size, c->v[o], c->len[o]);
	}
}

/* Reports a failure in SQL.md 6's words for its code. */
static void pg_fail(struct pg_check *c, struct val_result *r, enum val_code code,
		    const char *stage, const char *reason, const char *detail)
{
	/* Through a tunnel libpq names its local end: drop that part. */
	if (detail && c->tun && strncmp(detail, "connection to server", 20) == 0) {
		const char *q = strstr(detail, " failed: ");
		if (q)
			detail = q + strlen(" failed: ");
	}
	const struct val_server_words w = {
		.kind = "POSTGRES", .prefix = c->prefix,
		.host = c->v[PG_HOST] ? c->v[PG_HOST] : "", .hostport = c->hostport,
		.hints = pg_hints, .scrub = pg_scrub, .ctx = c,
	};
	val_fail_server(&w, r, code, stage, reason, detail);
}

static void pg_classify(struct pg_check *c, PGconn *conn, ConnStatusType last,
			struct val_result *r)
{
	char msg[1024], reason[384], state[6];
	snprintf(msg, sizeof(msg), "%s", conn ? PQerrorMessage(conn) : "out of memory");
	bool have_state = pg_find_sqlstate(msg, state);
	pg_clean_message(msg);
	pg_reason(msg, reason, sizeof(reason));

	if (have_state) {
		for (size_t i = 0; i < sizeof(pg_sqlstates) / sizeof(pg_sqlstates[0]); i++)
			if (strncmp(state, pg_sqlstates[i].prefix, strlen(pg_sqlstates[i].prefix)) == 0) {
				pg_fail(c, r, pg_sqlstates[i].code, pg_sqlstates[i].stage, reason, msg);
				return;
			}
		char d[sizeof(msg) + 32];
		snprintf(d, sizeof(d), "SQLSTATE %s: %s", state, msg);
		pg_fail(c, r, VAL_PROTOCOL, "target_auth", reason, d);
		return;
	}
	for (size_t i = 0; i < sizeof(pg_patterns) / sizeof(pg_patterns[0]); i++)
		if (strstr(msg, pg_patterns[i].needle)) {
			pg_fail(c, r, pg_patterns[i].code, pg_patterns[i].stage, reason, msg);
			return;
		}
	/* A connection cut during the TLS negotiation is a TLS failure. */
	if (last == CONNECTION_SSL_STARTUP)
		pg_fail(c, r, VAL_TLS, "target_tls", reason, msg);
	else
		pg_fail(c, r, VAL_PROTOCOL, "target", reason, msg);
}

static const char *pg_wait_reason(ConnStatusType st, const char **stage)
{
	switch (st) {
	case CONNECTION_STARTED:
	case CONNECTION_NEEDED:
		*stage = "target";
		return "timed out";
	case CONNECTION_MADE:
	case CONNECTION_SSL_STARTUP:
		*stage = "target_tls";
		return "timed out waiting for the server's reply to the TLS request";
	default:
		*stage = "target_auth";
		return "timed out waiting for the server's reply during authentication";
	}
}

/* ---- options ------------------------------------------------------------- */

static int pg_load_options(struct pg_check *c, struct val_result *r)
{
	const struct val_job *job = c->job;

	/* HOST and PORT first (enum order): every secret fetched after them is
	 * audited with its destination "host:port". */
	const struct val_server_opts so = {
		.names = pg_opt_names, .n = PG_NOPTS, .v = c->v, .len = c->len,
		.secret = c->secret, .port = &c->port,
		.hostport = c->hostport, .hostport_size = sizeof(c->hostport),
	};
	static const int required[] = { PG_HOST, PG_DATABASE, PG_USER };
	if (val_server_load(c->svc, job, &so, required, sizeof(required) / sizeof(required[0]),
			    r) != 0)
		return -1;
	c->sslmode = "disable";
	if (c->v[PG_SSLMODE]) {
		c->sslmode = NULL;
		for (size_t i = 0; i < sizeof(pg_sslmodes) / sizeof(pg_sslmodes[0]); i++)
			if (strcasecmp(c->v[PG_SSLMODE], pg_sslmodes[i].name) == 0)
				c->sslmode = pg_sslmodes[i].libpq;
		if (!c->sslmode) {
			val_fail(r, VAL_CONFIG, c->hostport,
				 "invalid connection configuration: unknown SSL MODE \"%s\"",
				 c->v[PG_SSLMODE]);
			return -1;
		}
	}
	if (!c->v[PG_CERT] != !c->v[PG_KEY]) {
		val_fail(r, VAL_CONFIG, c->hostport,
			 "invalid connection configuration: both SSL KEY and SSL CERTIFICATE are required");
		return -1;
	}
	return 0;
}

static int pg_make_files(struct pg_check *c, struct val_result *r)
{
	const struct { enum pg_opt o; struct memfile *m; const char *name; } files[] = {
		{ PG_CA, &c->ca, "tether-pg-ca" },
		{ PG_CERT, &c->cert, "tether-pg-cert" },
		{ PG_KEY, &c->key, "tether-pg-key" },
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

/* Resolves HOST ourselves so that a DNS failure is its own code and libpq
 * gets addresses (hostaddr) next to the name it verifies (host). */
static int pg_resolve(struct pg_check *c, char *hosts, size_t hs, char *addrs, size_t as,
		      struct val_result *r)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *ai = NULL;
	int g = getaddrinfo(c->v[PG_HOST], NULL, &hints, &ai);
	if (g != 0) {
		pg_fail(c, r, VAL_DNS, "target", gai_strerror(g), NULL);
		return -1;
	}
	size_t hl = 0, al = 0;
	int n = 0;
	hosts[0] = addrs[0] = '\0';
	for (struct addrinfo *a = ai; a && n < 8; a = a->ai_next) {
		char ip[INET6_ADDRSTRLEN];
		const void *src = a->ai_family == AF_INET
			? (const void *)&((struct sockaddr_in *)a->ai_addr)->sin_addr
			: (const void *)&((struct sockaddr_in6 *)a->ai_addr)->sin6_addr;
		if (!inet_ntop(a->ai_family, src, ip, sizeof(ip)))
			continue;
		if (strstr(addrs, ip))
			continue;   /* getaddrinfo repeats addresses per protocol */
		int w1 = snprintf(addrs + al, as - al, "%s%s", n ? "," : "", ip);
		int w2 = snprintf(hosts + hl, hs - hl, "%s%s", n ? "," : "", c->v[PG_HOST]);
		if (w1 < 0 || w2 < 0 || (size_t)w1 >= as - al || (size_t)w2 >= hs - hl)
			break;
		al += (size_t)w1;
		hl += (size_t)w2;
		n++;
	}
	freeaddrinfo(ai);
	if (n == 0) {
		pg_fail(c, r, VAL_DNS, "target", "no usable address", NULL);
		return -1;
	}
	return 0;
}

/* ---- the connection ------------------------------------------------------ */

static int pg_connect(struct pg_check *c, const char *hosts, const char *addrs,
		      const char *port, struct val_result *r)
{
	const char *ca = c->ca.fd >= 0 ? c->ca.path : PG_NO_FILE;
	if (c->ca.fd < 0 && strncmp(c->sslmode, "verify", 6) == 0) {
		/* No CA given: the system's roots, as Materialize does. */
		if (access(PG_SYSTEM_CA, R_OK) != 0) {
			pg_fail(c, r, VAL_CONFIG, "target_tls",
				"SSL MODE verify-ca and verify-full need SSL CERTIFICATE AUTHORITY "
				"(no system CA bundle here)", NULL);
			return -1;
		}
		ca = PG_SYSTEM_CA;
	}
	/* Every keyword that libpq would otherwise take from the environment
	 * or the home directory is set explicitly. */
	const char *keys[] = {
		"host", "hostaddr", "port", "dbname", "user", "password",
		"sslmode", "sslrootcert", "sslcert", "sslkey", "sslcrl", "sslcrldir",
		"passfile", "gssencmode", "application_name", "target_session_attrs",
		"options", NULL,
	};
	const char *vals[] = {
		hosts, addrs, port, c->v[PG_DATABASE], c->v[PG_USER],
		c->v[PG_PASSWORD] ? c->v[PG_PASSWORD] : "",
		c->sslmode, ca,
		c->cert.fd >= 0 ? c->cert.path : PG_NO_FILE,
		c->key.fd >= 0 ? c->key.path : PG_NO_FILE,
		"", "", PG_NO_FILE, "disable", "tether-validator", "any", "", NULL,
	};
	/* expand_dbname = 0: a DATABASE value is a name, never a conninfo. */
	PGconn *conn = PQconnectStartParams(keys, vals, 0);
	if (!conn) {
		pg_fail(c, r, VAL_CONFIG, "target", "out of memory", NULL);
		err_set(&r->e, "XX000", "internal error: validator: out of memory");
		return -1;
	}
	PQsetErrorVerbosity(conn, PQERRORS_VERBOSE);

	ConnStatusType last = PQstatus(conn);
	PostgresPollingStatusType ps = last == CONNECTION_BAD ? PGRES_POLLING_FAILED
							      : PGRES_POLLING_WRITING;
	int64_t step_deadline = val_now_ms() + c->timeout_ms;
	for (;;) {
		if (ps == PGRES_POLLING_OK)
			break;
		if (ps == PGRES_POLLING_FAILED) {
			pg_classify(c, conn, last, r);
			PQfinish(conn);
			return -1;
		}
		int64_t left = step_deadline - val_now_ms();
		struct pollfd p = { .fd = PQsocket(conn),
				    .events = ps == PGRES_POLLING_READING ? POLLIN : POLLOUT };
		int n = left > 0 ? poll(&p, 1, (int)left) : 0;
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0) {
			const char *stage;
			const char *why = pg_wait_reason(last, &stage);
			pg_fail(c, r, VAL_TIMEOUT, stage, why, NULL);
			err_detail(&r->e, "No answer within %d ms.", c->timeout_ms);
			PQfinish(conn);
			return -1;
		}
		ps = PQconnectPoll(conn);
		ConnStatusType st = PQstatus(conn);
		if (st != last && st != CONNECTION_BAD) {
			last = st;   /* a new step: TCP, TLS, auth each get the timeout */
			step_deadline = val_now_ms() + c->timeout_ms;
		}
	}
	PQfinish(conn);
	return 0;
}

static void pg_check_free(struct pg_check *c)
{
	for (int o = 0; o < PG_NOPTS; o++)
		val_value_free(c->v[o], c->len[o]);
	memfile_close(&c->ca);
	memfile_close(&c->cert);
	memfile_close(&c->key);
	val_ssh_tunnel_close(c->tun);
	c->tun = NULL;
}

int conn_postgres_validate(const struct val_services *svc,
			   const struct val_job *job, struct val_result *r)
{
	struct pg_check c = {
		.svc = svc, .job = job, .port = PG_DEFAULT_PORT,
		.ca = MEMFILE_INIT, .cert = MEMFILE_INIT, .key = MEMFILE_INIT,
		.timeout_ms = job->connect_timeout_ms > 0 ? job->connect_timeout_ms
							  : PG_DEFAULT_TIMEOUT_MS,
	};
	char hosts[2048], addrs[512], port[8];
	int rc = -1;

	snprintf(r->stage, sizeof(r->stage), "config");
	if (pg_load_options(&c, r) != 0 || pg_make_files(&c, r) != 0)
		goto out;

	if (job->tunnel) {
		uint16_t lport = 0;
		snprintf(c.prefix, sizeof(c.prefix), "through SSH bastion %s:%u: ",
			 job->tunnel->host, job->tunnel->port);
		if (val_ssh_tunnel_open(svc, job, job->tunnel, c.v[PG_HOST], c.port, &c.tun,
					&lport, r) != 0)
			goto out;
		/* libpq reaches the tunnel's local end but verifies (verify-full)
		 * and names the real host. */
		snprintf(hosts, sizeof(hosts), "%s", c.v[PG_HOST]);
		snprintf(addrs, sizeof(addrs), "127.0.0.1");
		snprintf(port, sizeof(port), "%u", lport);
	} else {
		if (pg_resolve(&c, hosts, sizeof(hosts), addrs, sizeof(addrs), r) != 0)
			goto out;
		snprintf(port, sizeof(port), "%u", c.port);
	}
	if (pg_connect(&c, hosts, addrs, port, r) != 0)
		goto out;
	r->code = VAL_OK;
	snprintf(r->host, sizeof(r->host), "%s", c.hostport);
	snprintf(r->stage, sizeof(r->stage), "done");
	rc = 0;
out:
	pg_check_free(&c);
	return rc;
}
