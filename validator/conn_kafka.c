/* KAFKA: one metadata request (all topics) with librdkafka and the
 * connection's settings — SECURITY PROTOCOL, SASL PLAIN/SCRAM, TLS material
 * as PEM text in memory — every broker socket routed by our connect
 * callback (direct, or through an SSH tunnel per broker, with the default
 * tunnel for brokers the cluster advertises but the job does not list).
 *
 * Job encoding (the catalog's side, catalog/jobspec.c, produces it):
 *   BROKER <n>                  text "host[:port]" / "[v6]:port"; n = 1, 2, …
 *                               in written order, BROKER and BROKERS alike;
 *                               port defaults to 9092
 *   BROKER <n> SSH TUNNEL       text: decimal connection id of the broker's
 *                               own tunnel, found as job->tunnel or in
 *                               job->tunnels (matched by connection_id)
 *   BROKER <n> AWS PRIVATELINK  text: connection id  -> unsupported here
 *   AWS PRIVATELINK             text: connection id  -> unsupported here
 *   AWS CONNECTION              text: connection id  -> Amazon MSK IAM, with
 *                               the AWS connection's options nested under
 *                               "AWS CONNECTION/..." (val.h)
 *   job->tunnel                 the default SSH TUNNEL (NULL: direct)
 * and the SQL names for SECURITY PROTOCOL, SASL MECHANISMS, SASL USERNAME,
 * SASL PASSWORD, SSL CERTIFICATE AUTHORITY, SSL CERTIFICATE, SSL KEY,
 * PROGRESS TOPIC, PROGRESS TOPIC REPLICATION FACTOR.
 *
 * Routing: a resolve callback answers 127.0.0.1 for tunnelled brokers (their
 * names may only resolve behind the bastion) and the connect callback, run
 * on librdkafka's broker threads with an O_NONBLOCK fd, opens one SSH tunnel
 * (val_ssh_tunnel_open: one session, one forwarded connection) per connection
 * attempt and connects the fd to its loopback end within the deadline. TLS
 * still verifies the broker's real name (librdkafka uses the broker name,
 * not the address it connected to).
 *
 * Amazon MSK IAM (AWS CONNECTION): SASL/OAUTHBEARER whose token is what AWS's
 * aws-msk-iam-sasl-signer makes — base64url (no padding) of the URL
 * "https://kafka.<region>.amazonaws.com/?Action=kafka-cluster%3AConnect&X-Amz-
 * ..." SigV4-presigned (validator/sigv4.c, service kafka-cluster, 900 s,
 * session token signed when present), "&User-Agent=tether" appended after
 * signing. Credentials: the AWS connection's keys or its role's temporary
 * ones (val_aws_credentials; keys fetched for the first broker's
 * "host:port"); region: its REGION, else the deployment's. The token is made
 * in librdkafka's refresh callback (served by rd_kafka_poll on this thread)
 * and wiped once handed over; it is a bearer credential, so it never goes
 * out without TLS (SASL_SSL only). */
#include "val.h"
#include "sigv4.h"

#include <errno.h>
#include <stdarg.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <librdkafka/rdkafka.h>

#define KAFKA_DEFAULT_TIMEOUT_MS 10000
#define KAFKA_DEFAULT_PORT 9092
#define KAFKA_MAX_BROKERS 64
#define KAFKA_MAX_TUNNELS 32
#define KAFKA_MAX_SEEN 64
#define KAFKA_SLICE_MS 250       /* metadata attempts while no broker is up */
#define KAFKA_IAM_EXPIRES 900    /* s: X-Amz-Expires and the token's lifetime */
#define KAFKA_IAM_USER_AGENT "tether"

/* ---- options ------------------------------------------------------------- */

enum kafka_opt { K_PROTOCOL, K_MECHANISM, K_USER, K_PASSWORD, K_CA, K_CERT, K_KEY,
		 K_TOPIC, K_FACTOR, K_NOPTS };
static const char *const kafka_opt_names[K_NOPTS] = {
	[K_PROTOCOL] = "SECURITY PROTOCOL", [K_MECHANISM] = "SASL MECHANISMS",
	[K_USER] = "SASL USERNAME", [K_PASSWORD] = "SASL PASSWORD",
	[K_CA] = "SSL CERTIFICATE AUTHORITY", [K_CERT] = "SSL CERTIFICATE",
	[K_KEY] = "SSL KEY", [K_TOPIC] = "PROGRESS TOPIC",
	[K_FACTOR] = "PROGRESS TOPIC REPLICATION FACTOR",
};

/* SECURITY PROTOCOL values (SQL.md 5.5) and what they allow. */
static const struct {
	const char *name;        /* SQL and librdkafka spelling */
	bool tls, sasl;
} kafka_protocols[] = {
	{ "PLAINTEXT", false, false }, { "SSL", true, false },
	{ "SASL_PLAINTEXT", false, true }, { "SASL_SSL", true, true },
};

static const char *const kafka_mechanisms[] = { "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512" };

/* librdkafka properties the values go to; NULL: not a librdkafka setting. */
static const char *const kafka_props[K_NOPTS] = {
	[K_MECHANISM] = "sasl.mechanisms", [K_USER] = "sasl.username",
	[K_PASSWORD] = "sasl.password", [K_CA] = "ssl.ca.pem",
	[K_CERT] = "ssl.certificate.pem", [K_KEY] = "ssl.key.pem",
};

/* ---- state --------------------------------------------------------------- */

struct kafka_broker {
	char host[256];
	uint16_t port;
	const struct val_ssh_tunnel *tunnel;   /* NULL: direct */
};

/* What the connect callback saw per "host:port". */
enum kafka_seen_state { SEEN_CONNECTING = 1, SEEN_OK, SEEN_FAILED };
struct kafka_seen {
	char addr[300];
	enum kafka_seen_state state;
	int err;
};

/* The best failure librdkafka reported (error_cb, main thread only). */
struct kafka_error {
	bool set;
	int rank;                /* lower wins */
	enum val_code code;
	const char *stage;
	const char *short_reason;
	char broker[300];        /* "host:port" */
	char reason[512];        /* librdkafka's text, cleaned */
};

struct kafka_check {
	const struct val_services *svc;
	const struct val_job *job;
	char *v[K_NOPTS];
	size_t len[K_NOPTS];
	bool secret[K_NOPTS];
	const char *protocol;
	bool tls, sasl;
	bool iam;                /* AWS CONNECTION: SASL/OAUTHBEARER, MSK IAM token */
	struct val_aws_creds aws;        /* its credentials, wiped in kafka_free */
	char iam_principal[128];
	bool iam_sign_failed;    /* the refresh callback could not make a token */
	struct kafka_broker brokers[KAFKA_MAX_BROKERS];
	size_t nbrokers;
	const struct val_ssh_tunnel *default_tunnel;
	char first[300];         /* first broker "host:port": secrets' destination */
	int timeout_ms;
	int64_t deadline;

	pthread_mutex_t mu;      /* everything below, shared with broker threads */
	pthread_mutex_t ssh_mu;  /* one SSH setup at a time (vault requests) */
	bool stopping;
	struct val_tunnel *tuns[KAFKA_MAX_TUNNELS];
	size_t ntuns;
	bool tunnel_failed;
	struct val_result tunnel_r;      /* the first tunnel that failed */
	bool tunnel_ok;
	char host_key[128];
	int key_slot;
	struct kafka_seen seen[KAFKA_MAX_SEEN];
	size_t nseen;

	struct kafka_error err;          /* main thread only */
	bool all_down;
};

/* ---- small helpers ------------------------------------------------------- */

/* librdkafka names its properties in messages; the user knows the SQL
 * options. Rewrites in place (the SQL names are no longer than 26). */
static void kafka_sql_names(char *s, size_t size)
{
	static const struct { const char *prop, *sql; } names[] = {
		{ "ssl.ca.pem", "SSL CERTIFICATE AUTHORITY" },
		{ "ssl.certificate.pem", "SSL CERTIFICATE" },
		{ "ssl.key.pem", "SSL KEY" },
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char *p = strstr(s, names[i].prop);
		size_t pl = strlen(names[i].prop), ql = strlen(names[i].sql);
		if (!p || strlen(s) - pl + ql >= size)
			continue;
		memmove(p + ql, p + pl, strlen(p + pl) + 1);
		memcpy(p, names[i].sql, ql);
	}
}

static void kafka_scrub(struct kafka_check *c, char *s, size_t size)
{
	static const enum kafka_opt secret_opts[] = { K_PASSWORD, K_USER, K_KEY, K_CERT, K_CA };
	for (size_t i = 0; i < sizeof(secret_opts) / sizeof(secret_opts[0]); i++) {
		enum kafka_opt o = secret_opts[i];
		if (c->v[o] && (c->secret[o] || o == K_PASSWORD || o == K_KEY))
			val_scrub(s, size, c->v[o], c->len[o]);
	}
	if (c->aws.secret_access_key)
		val_scrub(s, size, c->aws.secret_access_key, c->aws.secret_len);
	if (c->aws.session_token)
		val_scrub(s, size, c->aws.session_token, c->aws.token_len);
}

static void kafka_config_fail(struct kafka_check *c, struct val_result *r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void kafka_config_fail(struct kafka_check *c, struct val_result *r, const char *fmt, ...)
{
	char msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	kafka_scrub(c, msg, sizeof(msg));
	val_fail(r, VAL_CONFIG, c->first[0] ? c->first : NULL,
		 "invalid connection configuration: %s", msg);
	snprintf(r->stage, sizeof(r->stage), "config");
}

/* Something the configuration asks for that this validator cannot do:
 * code config, SQLSTATE 0A000 (SQL.md 6 / 7). */
static void kafka_unsupported(struct val_result *r, const char *host, const char *msg,
			      const char *detail)
{
	val_fail(r, VAL_CONFIG, host, "%s", msg);
	err_set(&r->e, "0A000", "%s", msg);
	if (detail)
		err_detail(&r->e, "%s", detail);
	snprintf(r->stage, sizeof(r->stage), "config");
}

/* "host[:port]" or "[v6]:port" -> host, port. -1 on a bad form. */
static int kafka_parse_addr(const char *s, char *host, size_t hs, uint16_t *port)
{
	const char *colon;
	size_t hl;

	*port = KAFKA_DEFAULT_PORT;
	if (!s || !*s)
		return -1;
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close)
			return -1;
		hl = (size_t)(close - s - 1);
		if (hl == 0 || hl >= hs)
			return -1;
		memcpy(host, s + 1, hl);
		host[hl] = '\0';
		colon = close[1] == ':' ? close + 1 : NULL;
		if (!colon && close[1])
			return -1;
	} else {
		colon = strrchr(s, ':');
		if (colon && strchr(s, ':') != colon)
			return -1;      /* bare IPv6 without brackets */
		hl = colon ? (size_t)(colon - s) : strlen(s);
		if (hl == 0 || hl >= hs)
			return -1;
		memcpy(host, s, hl);
		host[hl] = '\0';
	}
	if (strpbrk(host, " ,/\t"))
		return -1;
	if (colon) {
		char *end = NULL;
		long n = strtol(colon + 1, &end, 10);
		if (!colon[1] || *end || n < 1 || n > 65535)
			return -1;
		*port = (uint16_t)n;
	}
	return 0;
}

static void kafka_fmt_addr(const char *host, uint16_t port, char *out, size_t size)
{
	if (strchr(host, ':'))
		snprintf(out, size, "[%s]:%u", host, port);
	else
		snprintf(out, size, "%s:%u", host, port);
}

/* librdkafka names a broker "[proto://]host:port[/id]": the "host:port". */
static void kafka_nodename(const char *name, char *out, size_t size)
{
	const char *p = strstr(name, "://");
	p = p ? p + 3 : name;
	size_t n = strcspn(p, "/");
	if (n >= size)
		n = size - 1;
	memcpy(out, p, n);
	out[n] = '\0';
}

/* The job's tunnel with this connection id. */
static const struct val_ssh_tunnel *kafka_tunnel_by_id(const struct val_job *job, uint64_t id)
{
	if (job->tunnel && job->tunnel->connection_id == id)
		return job->tunnel;
	for (size_t i = 0; i < job->ntunnels; i++)
		if (job->tunnels[i].connection_id == id)
			return &job->tunnels[i];
	return NULL;
}

/* The route of "host", port: a listed broker's own, else the default. */
static const struct val_ssh_tunnel *kafka_route(const struct kafka_check *c, const char *host,
						uint16_t port)
{
	for (size_t i = 0; i < c->nbrokers; i++)
		if (c->brokers[i].port == port && strcasecmp(c->brokers[i].host, host) == 0)
			return c->brokers[i].tunnel;
	return c->default_tunnel;
}

static const char *kafka_text_option(const struct val_job *job, const char *name)
{
	const struct val_option *o = val_job_option(job, name);
	if (!o || o->nparts != 1 || !o->parts[0].text)
		return NULL;
	return o->parts[0].text;
}

/* ---- loading the job ----------------------------------------------------- */

static int kafka_load_brokers(struct kafka_check *c, struct val_result *r)
{
	const struct val_job *job = c->job;
	char name[64];

	c->default_tunnel = job->tunnel;
	for (size_t n = 1; n <= KAFKA_MAX_BROKERS + 1; n++) {
		snprintf(name, sizeof(name), "BROKER %zu", n);
		const struct val_option *o = val_job_option(job, name);
		if (!o)
			break;
		if (n > KAFKA_MAX_BROKERS) {
			kafka_config_fail(c, r, "more than %d brokers", KAFKA_MAX_BROKERS);
			return -1;
		}
		const char *addr = kafka_text_option(job, name);
		struct kafka_broker *b = &c->brokers[c->nbrokers];
		if (!addr || kafka_parse_addr(addr, b->host, sizeof(b->host), &b->port) != 0) {
			kafka_config_fail(c, r, "invalid BROKER: \"%s\" is not host:port",
					  addr ? addr : "(secret)");
			return -1;
		}
		b->tunnel = c->default_tunnel;
		snprintf(name, sizeof(name), "BROKER %zu AWS PRIVATELINK", n);
		if (val_job_option(job, name)) {
			kafka_unsupported(r, addr, "AWS PrivateLink connections are unsupported",
					  "The broker is to be reached through an AWS PrivateLink "
					  "endpoint, which needs the cloud's support; this tether "
					  "validator has none.");
			return -1;
		}
		snprintf(name, sizeof(name), "BROKER %zu SSH TUNNEL", n);
		const char *tid = kafka_text_option(job, name);
		if (tid) {
			char *end = NULL;
			unsigned long long id = strtoull(tid, &end, 10);
			b->tunnel = *end || !*tid ? NULL : kafka_tunnel_by_id(job, id);
			if (!b->tunnel) {
				kafka_config_fail(c, r, "the job carries no SSH tunnel for BROKER %s",
						  addr);
				return -1;
			}
		}
		c->nbrokers++;
		if (n == 1)
			kafka_fmt_addr(b->host, b->port, c->first, sizeof(c->first));
	}
	if (val_job_option(job, "AWS PRIVATELINK")) {
		kafka_unsupported(r, NULL, "AWS PrivateLink connections are unsupported",
				  "The brokers are to be reached through an AWS PrivateLink "
				  "endpoint, which needs the cloud's support; this tether validator "
				  "has none.");
		return -1;
	}
	if (c->nbrokers == 0) {
		kafka_config_fail(c, r, "%s", "must set one of BROKER, BROKERS, or AWS PRIVATELINK");
		return -1;
	}
	return 0;
}

static int kafka_load_options(struct kafka_check *c, struct val_result *r)
{
	c->iam = val_job_option(c->job, "AWS CONNECTION") != NULL;
	if (c->iam) {
		/* SQL.md 5.5 note 3: no SASL option alongside AWS CONNECTION,
		 * refused before any secret of theirs is fetched. */
		static const enum kafka_opt sasl_opts[] = { K_MECHANISM, K_USER, K_PASSWORD };
		for (size_t i = 0; i < sizeof(sasl_opts) / sizeof(sasl_opts[0]); i++)
			if (val_job_option(c->job, kafka_opt_names[sasl_opts[i]])) {
				kafka_config_fail(c, r, "option %s not supported with this "
						  "configuration", kafka_opt_names[sasl_opts[i]]);
				return -1;
			}
	}
	for (int o = 0; o < K_NOPTS; o++) {
		const struct val_option *opt = val_job_option(c->job, kafka_opt_names[o]);
		if (!opt)
			continue;
		for (size_t i = 0; i < opt->nparts; i++)
			if (!opt->parts[i].text)
				c->secret[o] = true;
		if (val_option_value(c->svc, c->job, opt, c->first, &c->v[o], &c->len[o], r) != 0) {
			snprintf(r->stage, sizeof(r->stage), "config");
			return -1;
		}
	}

	bool any_sasl = c->v[K_MECHANISM] || c->v[K_USER] || c->v[K_PASSWORD] || c->iam;
	c->protocol = any_sasl ? "SASL_SSL" : "SSL";
	if (c->v[K_PROTOCOL]) {
		c->protocol = NULL;
		for (size_t i = 0; i < sizeof(kafka_protocols) / sizeof(kafka_protocols[0]); i++)
			if (strcasecmp(c->v[K_PROTOCOL], kafka_protocols[i].name) == 0)
				c->protocol = kafka_protocols[i].name;
		if (!c->protocol) {
			for (char *p = c->v[K_PROTOCOL]; *p; p++)
				if (*p >= 'a' && *p <= 'z')
					*p = (char)(*p - 'a' + 'A');
			kafka_config_fail(c, r, "unknown security protocol: %s", c->v[K_PROTOCOL]);
			return -1;
		}
	}
	for (size_t i = 0; i < sizeof(kafka_protocols) / sizeof(kafka_protocols[0]); i++)
		if (strcmp(c->protocol, kafka_protocols[i].name) == 0) {
			c->tls = kafka_protocols[i].tls;
			c->sasl = kafka_protocols[i].sasl;
		}

	/* SQL.md 5.5 note 3, in its order: what the protocol does not allow. */
	static const struct { enum kafka_opt o; bool needs_tls, needs_sasl; } allowed[] = {
		{ K_MECHANISM, false, true }, { K_USER, false, true }, { K_PASSWORD, false, true },
		{ K_CA, true, false }, { K_CERT, true, false }, { K_KEY, true, false },
	};
	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
		enum kafka_opt o = allowed[i].o;
		if (c->v[o] && ((allowed[i].needs_tls && !c->tls) ||
				(allowed[i].needs_sasl && !c->sasl))) {
			kafka_config_fail(c, r, "option %s not supported with this configuration",
					  kafka_opt_names[o]);
			return -1;
		}
	}
	if (c->v[K_KEY] && !c->v[K_CERT]) {
		kafka_config_fail(c, r, "option %s not supported with this configuration", "SSL KEY");
		return -1;
	}
	if (c->v[K_CERT] && !c->v[K_KEY]) {
		kafka_config_fail(c, r, "%s", "SSL KEY must be specified with SSL CERTIFICATE");
		return -1;
	}
	if (c->iam && !c->sasl) {
		kafka_config_fail(c, r, "option %s not supported with this configuration",
				  "AWS CONNECTION");
		return -1;
	}
	/* The MSK IAM token is a bearer credential for 15 minutes: never in
	 * clear (like RDS IAM, conn_mysql.c). */
	if (c->iam && !c->tls) {
		kafka_config_fail(c, r, "%s", "AWS IAM authentication requires TLS");
		err_hint(&r->e, "Use SECURITY PROTOCOL SASL_SSL (the default with AWS CONNECTION) "
			 "and the brokers' IAM listener (port 9098 on Amazon MSK).");
		return -1;
	}
	if (c->sasl && !c->iam) {
		static const enum kafka_opt need[] = { K_MECHANISM, K_USER, K_PASSWORD };
		for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++)
			if (!c->v[need[i]]) {
				kafka_config_fail(c, r, "%s must be specified", kafka_opt_names[need[i]]);
				return -1;
			}
		const char *mech = NULL;
		for (size_t i = 0; i < sizeof(kafka_mechanisms) / sizeof(kafka_mechanisms[0]); i++)
			if (strcasecmp(c->v[K_MECHANISM], kafka_mechanisms[i]) == 0)
				mech = kafka_mechanisms[i];
		if (!mech) {
			kafka_config_fail(c, r, "invalid SASL MECHANISMS: unknown mechanism \"%s\"",
					  c->v[K_MECHANISM]);
			return -1;
		}
		memcpy(c->v[K_MECHANISM], mech, strlen(mech) + 1);   /* same length */
	}
	if (c->v[K_FACTOR]) {
		char *end = NULL;
		long n = strtol(c->v[K_FACTOR], &end, 10);
		if (!c->v[K_FACTOR][0] || *end || n <= 0 || n > 32767) {
			kafka_config_fail(c, r, "%s", "PROGRESS TOPIC REPLICATION FACTOR must be "
					  "greater than 0");
			return -1;
		}
	}
	return 0;
}

/* ---- callbacks (librdkafka threads) --------------------------------------- */

static struct kafka_seen *kafka_seen_get(struct kafka_check *c, const char *addr)
{
	for (size_t i = 0; i < c->nseen; i++)
		if (strcasecmp(c->seen[i].addr, addr) == 0)
			return &c->seen[i];
	if (c->nseen == KAFKA_MAX_SEEN)
		return NULL;
	struct kafka_seen *s = &c->seen[c->nseen++];
	snprintf(s->addr, sizeof(s->addr), "%s", addr);
	s->state = 0;
	return s;
}

static void kafka_seen_mark(struct kafka_check *c, const char *addr, enum kafka_seen_state st,
			    int err)
{
	pthread_mutex_lock(&c->mu);
	struct kafka_seen *s = kafka_seen_get(c, addr);
	/* One success is enough: reconnects after it do not undo it. */
	if (s && s->state != SEEN_OK) {
		s->state = st;
		s->err = err;
	}
	pthread_mutex_unlock(&c->mu);
}

/* connect() on librdkafka's O_NONBLOCK fd, returning only once connected
 * (PEERS.md 5) or at the check's deadline. */
static int kafka_connect_fd(struct kafka_check *c, int fd, const struct sockaddr *sa,
			    socklen_t len)
{
	if (connect(fd, sa, len) == 0)
		return 0;
	if (errno != EINPROGRESS)
		return errno;
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		int64_t left = c->deadline - val_now_ms();
		if (left <= 0)
			return ETIMEDOUT;
		int n = poll(&p, 1, left > 500 ? 500 : (int)left);
		if (n < 0 && errno != EINTR)
			return errno;
		pthread_mutex_lock(&c->mu);
		bool stop = c->stopping;
		pthread_mutex_unlock(&c->mu);
		if (stop)
			return ECONNABORTED;
		if (n == 1) {
			int soerr = 0;
			socklen_t sl = sizeof(soerr);
			if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0)
				return errno;
			return soerr;
		}
	}
}

/* One tunnel per connection attempt: the tunnel's forward serves exactly
 * one connection (validator/conn_ssh.c). */
static int kafka_connect_tunnel(struct kafka_check *c, int fd, const struct val_ssh_tunnel *t,
				const char *host, uint16_t port)
{
	struct val_result tr;
	struct val_tunnel *tun = NULL;
	uint16_t lport = 0;

	memset(&tr, 0, sizeof(tr));
	pthread_mutex_lock(&c->ssh_mu);
	pthread_mutex_lock(&c->mu);
	bool stop = c->stopping || c->ntuns == KAFKA_MAX_TUNNELS;
	pthread_mutex_unlock(&c->mu);
	int rc = stop ? -1 : val_ssh_tunnel_open(c->svc, c->job, t, host, port, &tun, &lport, &tr);
	pthread_mutex_unlock(&c->ssh_mu);
	if (stop)
		return ECONNABORTED;

	pthread_mutex_lock(&c->mu);
	if (rc != 0) {
		if (!c->tunnel_failed) {
			c->tunnel_failed = true;
			c->tunnel_r = tr;
		}
		pthread_mutex_unlock(&c->mu);
		return tr.code == VAL_TIMEOUT ? ETIMEDOUT : ECONNREFUSED;
	}
	if (c->stopping || c->ntuns == KAFKA_MAX_TUNNELS) {
		pthread_mutex_unlock(&c->mu);
		val_ssh_tunnel_close(tun);
		return ECONNABORTED;
	}
	c->tuns[c->ntuns++] = tun;
	if (!c->tunnel_ok || t == c->default_tunnel) {
		c->tunnel_ok = true;
		snprintf(c->host_key, sizeof(c->host_key), "%s", tr.host_key);
		c->key_slot = tr.ssh_key_slot;
	}
	pthread_mutex_unlock(&c->mu);

	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(lport),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	return kafka_connect_fd(c, fd, (struct sockaddr *)&sa, sizeof(sa));
}

static int kafka_connect_cb(int fd, const struct sockaddr *addr, int addrlen, const char *id,
			    void *opaque)
{
	struct kafka_check *c = opaque;
	char node[300], host[256];
	uint16_t port;

	kafka_nodename(id ? id : "", node, sizeof(node));
	if (kafka_parse_addr(node, host, sizeof(host), &port) != 0)
		return EINVAL;
	kafka_fmt_addr(host, port, node, sizeof(node));
	kafka_seen_mark(c, node, SEEN_CONNECTING, 0);
	const struct val_ssh_tunnel *t = kafka_route(c, host, port);
	int rc = t ? kafka_connect_tunnel(c, fd, t, host, port)
		   : kafka_connect_fd(c, fd, addr, (socklen_t)addrlen);
	kafka_seen_mark(c, node, rc == 0 ? SEEN_OK : SEEN_FAILED, rc);
	return rc;
}

/* Tunnelled brokers get a loopback placeholder: their names may resolve
 * only behind the bastion, and the connect callback ignores the address. */
static int kafka_resolve_cb(const char *node, const char *service, const struct addrinfo *hints,
			    struct addrinfo **res, void *opaque)
{
	struct kafka_check *c = opaque;

	if (!node && !service && !hints) {
		if (res && *res)
			freeaddrinfo(*res);
		return 0;
	}
	long port = service ? strtol(service, NULL, 10) : 0;
	if (node && port > 0 && port <= 65535 && kafka_route(c, node, (uint16_t)port)) {
		struct addrinfo h = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM,
				      .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV };
		return getaddrinfo("127.0.0.1", service, &h, res);
	}
	return getaddrinfo(node, service, hints, res);
}

/* ---- Amazon MSK IAM ------------------------------------------------------ */

/* The AWS connection's credentials (STS for a role: before any broker is
 * contacted), and the principal librdkafka shows for the token: the role
 * session, else the access key id. */
static int kafka_iam_credentials(struct kafka_check *c, struct val_result *r)
{
	snprintf(r->stage, sizeof(r->stage), "aws_credentials");
	if (val_aws_credentials(c->svc, c->job, VAL_AWS_REF_PREFIX, c->first, &c->aws, r) != 0)
		return -1;
	const char *session = val_job_option(c->job, VAL_AWS_REF_PREFIX "ASSUME ROLE ARN")
		? kafka_text_option(c->job, VAL_AWS_REF_PREFIX "ASSUME ROLE SESSION NAME") : NULL;
	snprintf(c->iam_principal, sizeof(c->iam_principal), "%s",
		 session && session[0] ? session
		 : c->aws.access_key_id ? c->aws.access_key_id : "tether");
	snprintf(r->stage, sizeof(r->stage), "config");
	return 0;
}

/* The MSK IAM token (aws-msk-iam-sasl-signer's form, see the top of this
 * file); *tok (base64url) wiped and freed by the caller with sigv4_free. */
static int kafka_iam_token(struct kafka_check *c, char **tok, size_t *tlen)
{
	static const char ua[] = "&User-Agent=" KAFKA_IAM_USER_AGENT;
	const char *params[] = { "Action", "kafka-cluster:Connect" };
	char host[128];
	char *signed_url = NULL, *url = NULL;
	size_t slen = 0, ulen = 0;
	int rc = -1;

	*tok = NULL;
	*tlen = 0;
	snprintf(host, sizeof(host), "kafka.%s.amazonaws.com", c->aws.region);
	struct sigv4_presign p = {
		.method = "GET", .host = host, .path = "/", .params = params, .nparams = 1,
		.service = "kafka-cluster", .region = c->aws.region,
		.access_key_id = c->aws.access_key_id,
		.secret_access_key = c->aws.secret_access_key,
		.session_token = c->aws.session_token, .expires = KAFKA_IAM_EXPIRES,
	};
	if (!c->aws.access_key_id || !c->aws.secret_access_key ||
	    sigv4_presign(&p, &signed_url, &slen, NULL) != 0)
		return -1;
	ulen = 8 + slen + sizeof(ua) - 1;
	url = malloc(ulen + 1);
	if (url) {
		memcpy(url, "https://", 8);
		memcpy(url + 8, signed_url, slen);
		memcpy(url + 8 + slen, ua, sizeof(ua));
		*tok = sigv4_base64url(url, ulen, tlen);
		rc = *tok ? 0 : -1;
	}
	sigv4_free(signed_url, slen);
	sigv4_free(url, ulen + 1);
	return rc;
}

/* librdkafka asks for a token (at start, then before it expires); served
 * by rd_kafka_poll on the check's own thread. librdkafka copies the token. */
static void kafka_iam_refresh_cb(rd_kafka_t *rk, const char *config, void *opaque)
{
	struct kafka_check *c = opaque;
	struct timespec now;
	char errstr[256];
	char *tok = NULL;
	size_t tlen = 0;

	(void)config;
	clock_gettime(CLOCK_REALTIME, &now);
	int64_t lifetime = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000 +
			   (int64_t)KAFKA_IAM_EXPIRES * 1000;
	if (kafka_iam_token(c, &tok, &tlen) != 0 ||
	    rd_kafka_oauthbearer_set_token(rk, tok, lifetime, c->iam_principal, NULL, 0, errstr,
					   sizeof(errstr)) != RD_KAFKA_RESP_ERR_NO_ERROR) {
		c->iam_sign_failed = true;
		rd_kafka_oauthbearer_set_token_failure(rk, "could not make the MSK IAM token");
	}
	sigv4_free(tok, tlen);
	explicit_bzero(errstr, sizeof(errstr));
}

/* librdkafka's log lines would go to stderr: keep them out of it (they
 * can name hosts and users); errors arrive through kafka_error_cb. */
static void kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	(void)rk;
	(void)level;
	(void)fac;
	(void)buf;
}

/* ---- error classification ------------------------------------------------ */

/* First match wins; rank orders the codes when several brokers fail
 * differently (the most specific failure is the most useful). */
static const struct {
	rd_kafka_resp_err_t err;     /* RD_KAFKA_RESP_ERR_NO_ERROR: any */
	const char *needle;          /* NULL: any */
	enum val_code code;
	const char *stage;
	const char *short_reason;    /* NULL: librdkafka's last clause */
	int rank;
} kafka_patterns[] = {
	{ RD_KAFKA_RESP_ERR_NO_ERROR, "timed out", VAL_TIMEOUT, "target", "timed out", 5 },
	{ RD_KAFKA_RESP_ERR__AUTHENTICATION, "Unsupported SASL mechanism", VAL_AUTH,
	  "target_auth", "the broker does not support the SASL mechanism", 1 },
	{ RD_KAFKA_RESP_ERR__AUTHENTICATION, "SASL Handshake not supported", VAL_PROTOCOL,
	  "target_auth", "the broker does not do SASL on this listener", 2 },
	{ RD_KAFKA_RESP_ERR__AUTHENTICATION, NULL, VAL_AUTH, "target_auth", NULL, 1 },
	{ RD_KAFKA_RESP_ERR__SSL, "certificate verify failed", VAL_TLS, "target_tls",
	  "certificate verify failed", 2 },
	{ RD_KAFKA_RESP_ERR__SSL, NULL, VAL_TLS, "target_tls", NULL, 2 },
	/* TLS 1.3 alerts (a client certificate refused or missing) arrive
	 * after the handshake, as a receive failure. */
	{ RD_KAFKA_RESP_ERR_NO_ERROR, "SSL routines", VAL_TLS, "target_tls", NULL, 2 },
	{ RD_KAFKA_RESP_ERR_NO_ERROR, "in state SSL_HANDSHAKE", VAL_TLS, "target_tls",
	  "the broker closed the connection during the TLS handshake", 2 },
	{ RD_KAFKA_RESP_ERR_NO_ERROR, "in state AUTH", VAL_AUTH, "target_auth",
	  "the broker closed the connection during SASL authentication", 1 },
	{ RD_KAFKA_RESP_ERR_NO_ERROR, "connecting to a SSL listener", VAL_PROTOCOL, "target",
	  "the broker expects TLS (SECURITY PROTOCOL SSL or SASL_SSL)", 3 },
	{ RD_KAFKA_RESP_ERR_NO_ERROR, "connecting to a PLAINTEXT listener", VAL_TLS,
	  "target_tls", "the broker does not speak TLS on this port", 2 },
	{ RD_KAFKA_RESP_ERR__RESOLVE, NULL, VAL_DNS, "target", NULL, 4 },
	{ RD_KAFKA_RESP_ERR_NO_ERROR, "Failed to resolve", VAL_DNS, "target", NULL, 4 },
	{ RD_KAFKA_RESP_ERR_NO_ERROR, "Connection refused", VAL_REFUSED, "target",
	  "connection refused", 6 },
	{ RD_KAFKA_RESP_ERR_NO_ERROR, "No route to host", VAL_REFUSED, "target",
	  "no route to host", 6 },
	{ RD_KAFKA_RESP_ERR_NO_ERROR, "Network is unreachable", VAL_REFUSED, "target",
	  "network is unreachable", 6 },
	{ RD_KAFKA_RESP_ERR_NO_ERROR, "Invalid response size", VAL_PROTOCOL, "target",
	  "malformed response (not a Kafka broker?)", 3 },
	{ RD_KAFKA_RESP_ERR_NO_ERROR, "Protocol parse failure", VAL_PROTOCOL, "target",
	  "malformed response", 3 },
	{ RD_KAFKA_RESP_ERR__BAD_MSG, NULL, VAL_PROTOCOL, "target", "malformed response", 3 },
	{ RD_KAFKA_RESP_ERR__TRANSPORT, "Disconnected", VAL_PROTOCOL, "target",
	  "the broker closed the connection", 3 },
	{ RD_KAFKA_RESP_ERR__TRANSPORT, NULL, VAL_REFUSED, "target", NULL, 6 },
	{ RD_KAFKA_RESP_ERR__TIMED_OUT, NULL, VAL_TIMEOUT, "target", "timed out", 5 },
};

/* "127.0.0.1:9092/bootstrap: Connect to ... failed: X (after 0ms in state
 * CONNECT)" -> broker "127.0.0.1:9092", reason "Connect to ... failed: X". */
static void kafka_split_reason(const char *in, char *broker, size_t bs, char *reason, size_t rs)
{
	const char *colon = strstr(in, ": ");
	broker[0] = '\0';
	if (colon && memchr(in, '/', (size_t)(colon - in))) {
		char name[300];
		size_t n = (size_t)(colon - in) < sizeof(name) - 1 ? (size_t)(colon - in)
								  : sizeof(name) - 1;
		memcpy(name, in, n);
		name[n] = '\0';
		kafka_nodename(name, broker, bs);
		in = colon + 2;
	}
	snprintf(reason, rs, "%s", in);
	char *after = strstr(reason, " (after ");
	if (after)
		*after = '\0';
}

static void kafka_error_cb(rd_kafka_t *rk, int err, const char *text, void *opaque)
{
	struct kafka_check *c = opaque;
	(void)rk;

	if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
		c->all_down = true;
		return;
	}
	for (size_t i = 0; i < sizeof(kafka_patterns) / sizeof(kafka_patterns[0]); i++) {
		if (kafka_patterns[i].err != RD_KAFKA_RESP_ERR_NO_ERROR &&
		    kafka_patterns[i].err != err)
			continue;
		if (kafka_patterns[i].needle && !strstr(text, kafka_patterns[i].needle))
			continue;
		if (c->err.set && c->err.rank <= kafka_patterns[i].rank)
			return;
		c->err.set = true;
		c->err.rank = kafka_patterns[i].rank;
		c->err.code = kafka_patterns[i].code;
		c->err.stage = kafka_patterns[i].stage;
		c->err.short_reason = kafka_patterns[i].short_reason;
		kafka_split_reason(text, c->err.broker, sizeof(c->err.broker), c->err.reason,
				   sizeof(c->err.reason));
		kafka_scrub(c, c->err.reason, sizeof(c->err.reason));
		return;
	}
}

static const char *const kafka_hints[VAL_CODE_COUNT] = {
	[VAL_DNS] = "Check the broker addresses (BROKER / BROKERS).",
	[VAL_REFUSED] = "Check the broker addresses and ports, and that the brokers accept "
			"connections from tether.",
	[VAL_TIMEOUT] = "The brokers did not answer in time: check the addresses, ports and "
			"firewalls.",
	[VAL_TLS] = "Check SECURITY PROTOCOL and SSL CERTIFICATE AUTHORITY; the broker's "
		    "certificate must be issued for the broker's address.",
	[VAL_AUTH] = "Check SASL MECHANISMS, SASL USERNAME and SASL PASSWORD.",
	[VAL_PERMISSION] = "Grant the user DESCRIBE on the cluster and its topics (Kafka ACLs).",
	[VAL_PROTOCOL] = "Check SECURITY PROTOCOL and that the addresses point to Kafka brokers.",
};

/* With AWS CONNECTION the SASL options are not the user's to check. */
static const char *const kafka_iam_hints[VAL_CODE_COUNT] = {
	[VAL_AUTH] = "Check the AWS CONNECTION's credentials and REGION (the cluster's region), "
		     "that the brokers' IAM listener is used (port 9098 on Amazon MSK), and that "
		     "the IAM policy allows kafka-cluster:Connect on the cluster.",
	[VAL_PERMISSION] = "Allow kafka-cluster:DescribeCluster and kafka-cluster:DescribeTopic "
			   "in the AWS CONNECTION's IAM policy.",
};

/* Words the failure per SQL.md 6 for the broker it concerns. */
static void kafka_fail(struct kafka_check *c, struct val_result *r, enum val_code code,
		       const char *stage, const char *broker, const char *reason,
		       const char *detail)
{
	char host[300], prefix[320] = "", rs[384], addr[300];
	uint16_t port = 0;
	const struct val_ssh_tunnel *t = NULL;

	snprintf(addr, sizeof(addr), "%s", broker && broker[0] ? broker : c->first);
	if (kafka_parse_addr(addr, host, sizeof(host), &port) == 0)
		t = kafka_route(c, host, port);
	else
		snprintf(host, sizeof(host), "%s", addr);
	if (t)
		snprintf(prefix, sizeof(prefix), "through SSH bastion %s:%u: ", t->host, t->port);
	snprintf(rs, sizeof(rs), "%s", reason && reason[0] ? reason : "failed");
	kafka_scrub(c, rs, sizeof(rs));
	switch (code) {
	case VAL_DNS:
		val_fail(r, code, addr, "%sfailed to resolve %s: %s", prefix, host, rs);
		break;
	case VAL_REFUSED:
	case VAL_TIMEOUT:
		val_fail(r, code, addr, "%sfailed to connect to %s: %s", prefix, addr, rs);
		break;
	case VAL_TLS:
		val_fail(r, code, addr, "%sTLS handshake with %s failed: %s", prefix, addr, rs);
		break;
	case VAL_AUTH:
		val_fail(r, code, addr, "%sauthentication to KAFKA server %s failed: %s", prefix,
			 addr, rs);
		break;
	case VAL_PERMISSION:
		val_fail(r, code, addr, "KAFKA cluster at %s denied access: %s", addr, rs);
		break;
	case VAL_CONFIG:
		val_fail(r, code, addr, "invalid connection configuration: %s", rs);
		break;
	default:
		val_fail(r, VAL_PROTOCOL, addr, "%sunexpected response from %s: %s", prefix, addr, rs);
		break;
	}
	snprintf(r->stage, sizeof(r->stage), "%s", stage);
	if (detail && detail[0]) {
		char d[sizeof(r->e.detail)];
		snprintf(d, sizeof(d), "%s", detail);
		kafka_scrub(c, d, sizeof(d));
		err_detail(&r->e, "%s", d);
	}
	if (c->iam && kafka_iam_hints[r->code])
		err_hint(&r->e, "%s", kafka_iam_hints[r->code]);
	else if (kafka_hints[r->code])
		err_hint(&r->e, "%s", kafka_hints[r->code]);
}

/* The tunnel's own result names the stage that failed (bastion, host key,
 * auth, forward); it wins over librdkafka's view of the loopback end. */
static void kafka_fail_tunnel(struct kafka_check *c, struct val_result *r)
{
	pthread_mutex_lock(&c->mu);
	*r = c->tunnel_r;
	pthread_mutex_unlock(&c->mu);
}

static void kafka_fail_from_errors(struct kafka_check *c, struct val_result *r,
				   rd_kafka_resp_err_t last)
{
	pthread_mutex_lock(&c->mu);
	bool tunnel_failed = c->tunnel_failed;
	pthread_mutex_unlock(&c->mu);
	if (tunnel_failed && (!c->err.set || c->err.rank >= 5)) {
		kafka_fail_tunnel(c, r);
		return;
	}
	if (c->err.set) {
		const char *short_reason = c->err.short_reason;
		char last_clause[512];
		if (!short_reason) {
			/* OpenSSL's "error:0A00045C:SSL routines::tlsv13 alert
			 * certificate required: ..." -> the words after "::". */
			const char *p = strstr(c->err.reason, "::");
			if (p) {
				snprintf(last_clause, sizeof(last_clause), "%.*s",
					 (int)strcspn(p + 2, ":"), p + 2);
			} else {
				p = strrchr(c->err.reason, ':');
				snprintf(last_clause, sizeof(last_clause), "%s",
					 p && p[1] == ' ' && strlen(p + 2) > 8 ? p + 2
					 : c->err.reason);
			}
			short_reason = last_clause;
		}
		kafka_fail(c, r, c->err.code, c->err.stage, c->err.broker, short_reason,
			   c->err.reason);
		return;
	}
	/* Nothing reported: the broker(s) never answered in time. */
	char d[256];
	snprintf(d, sizeof(d), "No metadata response within %d ms (%s).", c->timeout_ms,
		 rd_kafka_err2str(last));
	kafka_fail(c, r, VAL_TIMEOUT, "target", c->first,
		   "timed out waiting for the broker's metadata response", d);
}

/* ---- the check ----------------------------------------------------------- */

static int kafka_conf_set(struct kafka_check *c, rd_kafka_conf_t *conf, const char *name,
			  const char *value, struct val_result *r)
{
	char errstr[256];
	if (rd_kafka_conf_set(conf, name, value, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
		kafka_scrub(c, errstr, sizeof(errstr));
		val_fail(r, VAL_CONFIG, c->first, "invalid connection configuration: %s", errstr);
		snprintf(r->stage, sizeof(r->stage), "config");
		return -1;
	}
	return 0;
}

static rd_kafka_conf_t *kafka_conf(struct kafka_check *c, struct val_result *r)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char list[4096] = "", num[32];
	size_t off = 0;

	if (!conf)
		return NULL;
	for (size_t i = 0; i < c->nbrokers; i++) {
		char a[300];
		kafka_fmt_addr(c->brokers[i].host, c->brokers[i].port, a, sizeof(a));
		int w = snprintf(list + off, sizeof(list) - off, "%s%s", i ? "," : "", a);
		if (w < 0 || (size_t)w >= sizeof(list) - off)
			break;
		off += (size_t)w;
	}
	snprintf(num, sizeof(num), "%d", c->timeout_ms);
	const struct { const char *name, *value; } fixed[] = {
		{ "bootstrap.servers", list },
		{ "client.id", "tether-validator" },
		{ "security.protocol", c->protocol },
		{ "socket.connection.setup.timeout.ms", num },
		{ "api.version.request.timeout.ms", num },
		{ "socket.timeout.ms", num },
		/* Connect to every broker the metadata names, so that their
		 * routes (direct or through the default tunnel) are exercised. */
		{ "enable.sparse.connections", "false" },
		{ "log.connection.close", "false" },
		{ "reconnect.backoff.ms", "200" },
		{ "reconnect.backoff.max.ms", "1000" },
		{ "ssl.endpoint.identification.algorithm", "https" },
	};
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		if (kafka_conf_set(c, conf, fixed[i].name, fixed[i].value, r) != 0)
			goto fail;
	for (int o = 0; o < K_NOPTS; o++)
		if (kafka_props[o] && c->v[o] &&
		    kafka_conf_set(c, conf, kafka_props[o], c->v[o], r) != 0)
			goto fail;
	if (c->iam) {
		if (kafka_conf_set(c, conf, "sasl.mechanisms", "OAUTHBEARER", r) != 0)
			goto fail;
		rd_kafka_conf_set_oauthbearer_token_refresh_cb(conf, kafka_iam_refresh_cb);
	}
	rd_kafka_conf_set_opaque(conf, c);
	rd_kafka_conf_set_connect_cb(conf, kafka_connect_cb);
	rd_kafka_conf_set_resolve_cb(conf, kafka_resolve_cb);
	rd_kafka_conf_set_error_cb(conf, kafka_error_cb);
	rd_kafka_conf_set_log_cb(conf, kafka_log_cb);
	return conf;
fail:
	rd_kafka_conf_destroy(conf);
	return NULL;
}

/* Metadata (all topics) in short slices while no broker is up, so that
 * "every broker is down" ends the wait early; once a request went out
 * (timed out rather than no broker), the rest of the time is its own. */
static rd_kafka_resp_err_t kafka_metadata(struct kafka_check *c, rd_kafka_t *rk,
					  const struct rd_kafka_metadata **md)
{
	rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__TIMED_OUT;
	bool sent = false;

	for (;;) {
		int64_t left = c->deadline - val_now_ms();
		if (left <= 0)
			return err;
		int slice = sent || left < KAFKA_SLICE_MS ? (int)left : KAFKA_SLICE_MS;
		err = rd_kafka_metadata(rk, 1, NULL, md, slice);
		if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
			return err;
		if (err == RD_KAFKA_RESP_ERR__TIMED_OUT)
			sent = true;
		rd_kafka_poll(rk, 0);
		if (c->all_down || c->iam_sign_failed || (c->err.set && c->err.code == VAL_AUTH))
			return err;
		pthread_mutex_lock(&c->mu);
		bool tf = c->tunnel_failed;
		pthread_mutex_unlock(&c->mu);
		/* A tunnel that failed for every listed broker: nothing else
		 * will come. (With several brokers, others may still work.) */
		if (tf && c->nbrokers == 1)
			return err;
	}
}

/* After a metadata answer: topics the user may not describe, the
 * replication factor against the brokers, and every advertised broker
 * reached through its route (connect outcome seen by the callback). */
static int kafka_check_metadata(struct kafka_check *c, rd_kafka_t *rk,
				const struct rd_kafka_metadata *md, struct val_result *r)
{
	for (int i = 0; i < md->topic_cnt; i++) {
		rd_kafka_resp_err_t te = md->topics[i].err;
		if (te == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ||
		    te == RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED) {
			char d[300];
			snprintf(d, sizeof(d), "Topic \"%s\": %s", md->topics[i].topic,
				 rd_kafka_err2str(te));
			kafka_fail(c, r, VAL_PERMISSION, "target_auth", c->first,
				   rd_kafka_err2str(te), d);
			return -1;
		}
	}
	if (c->v[K_FACTOR] && atoi(c->v[K_FACTOR]) > md->broker_cnt) {
		char d[160];
		snprintf(d, sizeof(d), "The cluster's metadata lists %d broker%s.", md->broker_cnt,
			 md->broker_cnt == 1 ? "" : "s");
		kafka_fail(c, r, VAL_CONFIG, "config", c->first,
			   "PROGRESS TOPIC REPLICATION FACTOR exceeds the number of brokers", d);
		return -1;
	}

	/* Advertised brokers: wait for their connection attempts (made at
	 * once, sparse connections are off) until the deadline; the connect
	 * callback gives up at the deadline too, so allow it a moment to say
	 * so. A broker never tried is not held against the cluster. */
	for (;;) {
		int untried = 0, connecting = -1, failed = -1, ferr = 0;
		pthread_mutex_lock(&c->mu);
		for (int i = 0; i < md->broker_cnt; i++) {
			char a[300];
			kafka_fmt_addr(md->brokers[i].host, (uint16_t)md->brokers[i].port, a,
				       sizeof(a));
			struct kafka_seen *s = NULL;
			for (size_t k = 0; k < c->nseen; k++)
				if (strcasecmp(c->seen[k].addr, a) == 0)
					s = &c->seen[k];
			if (!s)
				untried++;
			else if (s->state == SEEN_CONNECTING && connecting < 0)
				connecting = i;
			else if (s->state == SEEN_FAILED && failed < 0) {
				failed = i;
				ferr = s->err;
			}
		}
		bool tunnel_failed = c->tunnel_failed;
		pthread_mutex_unlock(&c->mu);
		int64_t now = val_now_ms();
		if (failed < 0 && connecting >= 0 && now >= c->deadline + 1000) {
			failed = connecting;     /* the callback is stuck past its deadline */
			ferr = ETIMEDOUT;
		}
		if (failed >= 0) {
			if (tunnel_failed) {
				kafka_fail_tunnel(c, r);
			} else {
				char a[300], d[400];
				kafka_fmt_addr(md->brokers[failed].host,
					       (uint16_t)md->brokers[failed].port, a, sizeof(a));
				snprintf(d, sizeof(d), "The cluster advertises broker %d at %s in its "
					 "metadata; tether could not reach it: %s.",
					 md->brokers[failed].id, a, strerror(ferr));
				kafka_fail(c, r, ferr == ETIMEDOUT ? VAL_TIMEOUT : VAL_REFUSED,
					   "target", a, ferr == ETIMEDOUT ? "timed out"
					   : strerror(ferr), d);
				err_hint(&r->e, "Brokers that the connection does not list are "
					 "reached through its default SSH TUNNEL, or directly: list "
					 "the broker with its own USING SSH TUNNEL or check the "
					 "cluster's advertised.listeners.");
			}
			return -1;
		}
		if (connecting < 0 && (untried == 0 || now >= c->deadline))
			break;
		rd_kafka_poll(rk, 20);
	}
	return 0;
}

static void kafka_free(struct kafka_check *c)
{
	for (int o = 0; o < K_NOPTS; o++)
		val_value_free(c->v[o], c->len[o]);
	val_aws_creds_free(&c->aws);
	for (size_t i = 0; i < c->ntuns; i++)
		val_ssh_tunnel_close(c->tuns[i]);
	pthread_mutex_destroy(&c->mu);
	pthread_mutex_destroy(&c->ssh_mu);
	explicit_bzero(c, sizeof(*c));
	free(c);
}

int conn_kafka_validate(const struct val_services *svc, const struct val_job *job,
			struct val_result *r)
{
	struct kafka_check *c = calloc(1, sizeof(*c));
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_t *rk = NULL;
	char errstr[512];
	int rc = -1;

	if (!c) {
		val_fail(r, VAL_CONFIG, NULL, "internal error: validator: out of memory");
		err_set(&r->e, "XX000", "internal error: validator: out of memory");
		return -1;
	}
	pthread_mutex_init(&c->mu, NULL);
	pthread_mutex_init(&c->ssh_mu, NULL);
	c->svc = svc;
	c->job = job;
	c->timeout_ms = job->connect_timeout_ms > 0 ? job->connect_timeout_ms
						     : KAFKA_DEFAULT_TIMEOUT_MS;
	if (kafka_load_brokers(c, r) != 0 || kafka_load_options(c, r) != 0 ||
	    (c->iam && kafka_iam_credentials(c, r) != 0))
		goto out;

	/* librdkafka copies every value: it zeroes its ssl.key.pem once the
	 * key is in its SSL context (rdkafka_ssl.c) and keeps sasl.password
	 * for each SASL handshake. Ours stay until the end, to scrub
	 * messages, and are wiped then. */
	rd_kafka_conf_t *conf = kafka_conf(c, r);
	if (!conf) {
		if (r->code == VAL_OK) {
			val_fail(r, VAL_CONFIG, c->first, "internal error: validator: out of memory");
			err_set(&r->e, "XX000", "internal error: validator: out of memory");
		}
		goto out;
	}
	c->deadline = val_now_ms() + c->timeout_ms;
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (!rk) {
		rd_kafka_conf_destroy(conf);
		kafka_scrub(c, errstr, sizeof(errstr));
		kafka_sql_names(errstr, sizeof(errstr));
		/* Bad PEM text, a key that does not match its certificate. */
		val_fail(r, VAL_CONFIG, c->first, "invalid connection configuration: %s", errstr);
		err_hint(&r->e, "Check the connection's SSL CERTIFICATE, SSL KEY and SSL "
			 "CERTIFICATE AUTHORITY values (PEM).");
		snprintf(r->stage, sizeof(r->stage), "config");
		goto out;
	}
	snprintf(r->stage, sizeof(r->stage), "target");
	if (c->iam)
		rd_kafka_poll(rk, 0);    /* the first token, before any broker connects */
	rd_kafka_resp_err_t err = c->iam_sign_failed ? RD_KAFKA_RESP_ERR__AUTHENTICATION
				  : kafka_metadata(c, rk, &md);
	if (c->iam_sign_failed) {
		val_fail(r, VAL_CONFIG, c->first, "internal error: validator: could not sign the "
			 "MSK IAM authentication token");
		err_set(&r->e, "XX000", "internal error: validator: could not sign the MSK IAM "
			"authentication token");
		snprintf(r->stage, sizeof(r->stage), "config");
		goto out;
	}
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		rd_kafka_poll(rk, 0);
		kafka_fail_from_errors(c, r, err);
		goto out;
	}
	if (kafka_check_metadata(c, rk, md, r) != 0)
		goto out;
	memset(r, 0, sizeof(*r));
	r->code = VAL_OK;
	snprintf(r->host, sizeof(r->host), "%.*s", (int)sizeof(r->host) - 1, c->first);
	snprintf(r->stage, sizeof(r->stage), "done");
	pthread_mutex_lock(&c->mu);
	if (c->tunnel_ok) {
		snprintf(r->host_key, sizeof(r->host_key), "%s", c->host_key);
		r->ssh_key_slot = c->key_slot;
	}
	pthread_mutex_unlock(&c->mu);
	rc = 0;
out:
	if (md)
		rd_kafka_metadata_destroy(md);
	if (rk) {
		pthread_mutex_lock(&c->mu);
		c->stopping = true;
		pthread_mutex_unlock(&c->mu);
		rd_kafka_destroy(rk);
	}
	kafka_free(c);
	return rc;
}
