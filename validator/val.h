/* The validator's inner API: what a per-type check (validator/conn_<type>.c)
 * sees. A check gets the job's resolved options and two services that go
 * to the vault under the job's grant — fetch a secret, sign SSH userauth
 * data — and fills a struct val_result. The checks never talk IPC
 * themselves, so unit tests drive them with fake services. */
#ifndef TETHER_VAL_H
#define TETHER_VAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* Stable failure codes (SQL.md 6), as they appear in results and logs. */
enum val_code {
	VAL_OK,
	VAL_DNS,
	VAL_REFUSED,
	VAL_TIMEOUT,
	VAL_TLS,
	VAL_AUTH,
	VAL_HOST_KEY,
	VAL_PERMISSION,
	VAL_PROTOCOL,
	VAL_CONFIG,
	VAL_CODE_COUNT
};
const char *val_code_name(enum val_code code);     /* "dns", ... */

/* One part of an option value: literal text or a secret to fetch. A
 * value is the concatenation of its parts (SQL.md 4.3 || chains). */
struct val_part {
	const char *text;        /* NULL for a secret part */
	uint64_t secret_id;      /* catalog id number of the secret */
};

struct val_option {
	const char *name;        /* canonical upper-case option name ("SSL MODE") */
	const struct val_part *parts;
	size_t nparts;
};

/* An SSH tunnel that the connection goes through (or the SSH TUNNEL
 * connection itself, when that is what is validated). */
struct val_ssh_tunnel {
	uint64_t connection_id;  /* whose vault-held keys sign */
	const char *host;
	uint16_t port;
	const char *user;
	const char *pinned_host_key;  /* "SHA256:<base64>" or NULL: pin on success */
};

struct val_job {
	uint64_t job_id;
	uint64_t connection_id;
	const char *type;        /* catalog type name: "postgres", "ssh-tunnel", ... */
	const struct val_option *options;
	size_t noptions;
	const struct val_ssh_tunnel *tunnel;   /* NULL: direct */
	int connect_timeout_ms;  /* per network step (TCP, TLS, auth) */
	/* Further SSH tunnels that options name by connection id (KAFKA's
	 * per-broker USING SSH TUNNEL, see conn_kafka_validate); `tunnel`
	 * stays the connection's default one. */
	const struct val_ssh_tunnel *tunnels;
	size_t ntunnels;
};

/* Services backed by the vault; `ctx` is the services' own state. */
struct val_services {
	void *ctx;
	/* Fetches a granted secret into a buffer the caller wipes and frees
	 * with `release`. `destination` ("host:port") is audited with it. */
	int (*fetch_secret)(void *ctx, uint64_t secret_id, const char *destination,
			    unsigned char **value, size_t *len, struct err *e);
	void (*release)(void *ctx, unsigned char *value, size_t len);
	/* Signs SSH userauth `data` with key slot 1 or 2 of `connection_id`;
	 * sig receives the raw 64-byte Ed25519 signature. */
	int (*ssh_sign)(void *ctx, uint64_t connection_id, int slot,
			const unsigned char *data, size_t len, unsigned char sig[64],
			struct err *e);
	/* The slot's public key blob (u32 11 "ssh-ed25519" u32 32 pk), from the
	 * job spec; 0 on success. */
	int (*ssh_public_key)(void *ctx, uint64_t connection_id, int slot,
			      unsigned char blob[51]);
};

struct val_result {
	enum val_code code;
	char host[256];          /* what it was reaching, "host:port" */
	char stage[32];          /* "bastion", "bastion_host_key", "bastion_auth",
				  * "forward", "target_tls", "target_auth", ... */
	struct err e;            /* SQLSTATE, message, detail, hint for the client */
	char host_key[128];      /* bastion host key seen, "SHA256:<base64>" */
	int ssh_key_slot;        /* 1 or 2: the key that authenticated */
};

/* Sets a failure: code, host ("host:port", may be NULL), and the
 * client-facing error: SQLSTATE from the code (SQL.md 6: 08001 dns,
 * refused, timeout, tls; 08004 auth, host_key, permission; 08P01 protocol;
 * 22023 config), message = the formatted text, which the caller words per
 * SQL.md 6 ("failed to connect to <host>:<port>: <reason>", ...). Detail
 * and hint are cleared; add them with err_detail/err_hint on r->e. */
void val_fail(struct val_result *r, enum val_code code, const char *host,
	      const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* The SQLSTATE a code reports as ("00000" for VAL_OK). */
const char *val_code_sqlstate(enum val_code code);

/* Replaces, in place, every occurrence of `secret` in the NUL-terminated
 * `s` (buffer of `size`) with "<redacted>". Secrets shorter than
 * VAL_SCRUB_MIN are left alone: redacting every "a" would reveal more than
 * it hides. */
#define VAL_SCRUB_MIN 4
void val_scrub(char *s, size_t size, const char *secret, size_t len);

/* How a database check (POSTGRES, MYSQL, SQL SERVER) words a failure.
 * `scrub` redacts the check's secrets from a reason or detail in place. */
struct val_server_words {
	const char *kind;           /* "POSTGRES": "authentication to POSTGRES server" */
	const char *prefix;         /* prepended to most messages (the tunnel's words) */
	const char *host;           /* HOST as written, "" if none */
	const char *hostport;       /* "host:port" */
	const char *const *hints;   /* [VAL_CODE_COUNT]; NULL: no hint */
	void (*scrub)(void *ctx, char *s, size_t size);
	void *ctx;
};
/* Sets the failure in SQL.md 6's words for its code (unknown codes report
 * as protocol), the stage, the scrubbed detail if any, and the hint. */
void val_fail_server(const struct val_server_words *w, struct val_result *r,
		     enum val_code code, const char *stage, const char *reason,
		     const char *detail);

/* CLOCK_MONOTONIC in milliseconds, for the checks' deadlines. */
int64_t val_now_ms(void);

/* Looks up an option; NULL if absent. */
const struct val_option *val_job_option(const struct val_job *job, const char *name);
/* Resolves an option's value (fetching secret parts) into a NUL-terminated
 * buffer wiped and freed with val_value_free. Returns 0, or -1 with r set
 * (code config when a secret cannot be had). */
int val_option_value(const struct val_services *svc, const struct val_job *job,
		     const struct val_option *opt, const char *destination,
		     char **out, size_t *len, struct val_result *r);
void val_value_free(char *value, size_t len);

/* The options of a HOST/PORT database check (POSTGRES, MYSQL, SQL SERVER),
 * indexed like `names`: HOST at VAL_SERVER_HOST, PORT at VAL_SERVER_PORT,
 * the rest after them. */
#define VAL_SERVER_HOST 0
#define VAL_SERVER_PORT 1
struct val_server_opts {
	const char *const *names;
	int n;
	char **v;                   /* [n] values, NULL if absent */
	size_t *len;                /* [n] */
	bool *secret;               /* [n] set when a part is a secret */
	uint16_t *port;             /* set from PORT (1..65535) */
	char *hostport;             /* "host:port" once HOST is known */
	size_t hostport_size;
};
/* Resolves the options in index order, so that every secret after HOST and
 * PORT is fetched (and audited) with destination "host:port"; then fails
 * (config) on an empty or missing option listed in `required`. 0 or -1. */
int val_server_load(const struct val_services *svc, const struct val_job *job,
		    const struct val_server_opts *o, const int *required, size_t nrequired,
		    struct val_result *r);

/* One function per connection type (validator/conn_<type>.c). */
typedef int (*val_check_fn)(const struct val_services *svc,
			    const struct val_job *job, struct val_result *r);
int conn_postgres_validate(const struct val_services *svc,
			   const struct val_job *job, struct val_result *r);
/* Validates job->tunnel when set, else the job's own HOST, PORT (22) and
 * USER options with job->connection_id's keys and no pinned key. */
int conn_ssh_tunnel_validate(const struct val_services *svc,
			     const struct val_job *job, struct val_result *r);

/* KAFKA: a metadata request with the connection's settings. Brokers in
 * the job (catalog/jobspec.c produces this; conn_kafka.c documents it):
 *   "BROKER <n>"                 n = 1, 2, ... in the written order (BROKER
 *                                and BROKERS alike): text "host[:port]" or
 *                                "[v6addr]:port"
 *   "BROKER <n> SSH TUNNEL"      text: decimal connection id of that
 *                                broker's tunnel (job->tunnel or one of
 *                                job->tunnels)
 *   "BROKER <n> AWS PRIVATELINK" text: decimal connection id (unsupported)
 *   "AWS PRIVATELINK"            text: id of the default PrivateLink
 *   "AWS CONNECTION"             text: id of the AWS connection (MSK IAM)
 * job->tunnel is the default SSH TUNNEL: brokers without their own and
 * brokers the cluster advertises but the job does not list go through it.
 * Other options keep their SQL names (SECURITY PROTOCOL, SASL MECHANISMS,
 * SASL USERNAME, SASL PASSWORD, SSL CERTIFICATE AUTHORITY, SSL
 * CERTIFICATE, SSL KEY, PROGRESS TOPIC, PROGRESS TOPIC REPLICATION FACTOR). */
int conn_kafka_validate(const struct val_services *svc,
			const struct val_job *job, struct val_result *r);

/* An SSH tunnel opened by the validator: a loopback TCP port that forwards
 * to target_host:target_port through the bastion (direct-tcpip), served by
 * a thread until val_ssh_tunnel_close. Stages failed before the forward is
 * up are reported in r. */
struct val_tunnel;
int val_ssh_tunnel_open(const struct val_services *svc, const struct val_job *job,
			const struct val_ssh_tunnel *t, const char *target_host,
			uint16_t target_port, struct val_tunnel **out,
			uint16_t *local_port, struct val_result *r);
void val_ssh_tunnel_close(struct val_tunnel *tun);

/* MYSQL (libmariadb): HOST, PORT, USER, PASSWORD, SSL MODE, SSL
 * CERTIFICATE AUTHORITY / CERTIFICATE / KEY, job->tunnel. "AWS
 * CONNECTION": RDS IAM auth (an auth token signed with validator/sigv4.c,
 * sent with mysql_clear_password inside TLS only; see conn_mysql.c). An
 * "AWS PRIVATELINK" option answers 0A000 (unsupported). */
int conn_mysql_validate(const struct val_services *svc,
			const struct val_job *job, struct val_result *r);
/* SQL SERVER (FreeTDS db-lib): HOST, PORT, DATABASE, USER, PASSWORD, SSL
 * MODE (disabled / required / verify / verify_ca), SSL CERTIFICATE
 * AUTHORITY, job->tunnel; "AWS PRIVATELINK" answers 0A000. */
int conn_sqlserver_validate(const struct val_services *svc,
			    const struct val_job *job, struct val_result *r);

/* ---- HTTP-based types (issue 6): conn_csr.c, conn_iceberg.c, conn_aws.c,
 * conn_privatelink.c, over validator/http.c ---- */

/* A job for a connection that references an AWS CONNECTION (ICEBERG
 * S3TABLESREST; MYSQL: RDS IAM; KAFKA: MSK IAM over SASL OAUTHBEARER) carries
 * "AWS CONNECTION" (text: its decimal id, once) and the referenced
 * connection's options under this prefix, same parts encoding:
 * "AWS CONNECTION/ACCESS KEY ID", "AWS CONNECTION/SECRET ACCESS KEY",
 * "AWS CONNECTION/SESSION TOKEN", "AWS CONNECTION/ASSUME ROLE ARN",
 * "AWS CONNECTION/ASSUME ROLE SESSION NAME" (the default filled in:
 * <instance id>-u<id>), "AWS CONNECTION/REGION", "AWS CONNECTION/ENDPOINT",
 * "AWS CONNECTION/EXTERNAL ID". The job of an AWS connection itself carries
 * the same names without the prefix. */
#define VAL_AWS_REF_PREFIX "AWS CONNECTION/"
/* Derived by the catalog, never written in SQL: mz_<prefix>_u<id> (SQL.md
 * 8.4), for role-based AWS connections. */
#define VAL_OPT_AWS_EXTERNAL_ID "EXTERNAL ID"
/* tether's own AWS identity, from the deployment configuration (never from
 * SQL), in every job that may assume a role: the principal role
 * (aws.connection_role_arn) and credentials allowed to assume it (text or
 * secret parts), and the default region (deployment.region). Without the
 * role or the credentials, role assumption fails 0A000 `internal error:
 * no AWS connection role configured` (SQL.md 6). */
#define VAL_OPT_TETHER_AWS_ROLE_ARN "TETHER/AWS CONNECTION ROLE ARN"
#define VAL_OPT_TETHER_AWS_ACCESS_KEY_ID "TETHER/AWS ACCESS KEY ID"
#define VAL_OPT_TETHER_AWS_SECRET_ACCESS_KEY "TETHER/AWS SECRET ACCESS KEY"
#define VAL_OPT_TETHER_AWS_SESSION_TOKEN "TETHER/AWS SESSION TOKEN"
#define VAL_OPT_TETHER_REGION "TETHER/REGION"
/* What the catalog sends instead of the three above: one secret part, the
 * SECRET named by aws.principal_credentials_secret, whose value is
 * "ACCESS_KEY_ID:SECRET_ACCESS_KEY[:SESSION_TOKEN]" (split here, so the
 * catalog only ever knows the secret's id). */
#define VAL_OPT_TETHER_AWS_CREDENTIALS "TETHER/AWS CREDENTIALS"
/* Where every STS call signed with tether's credentials goes (and the role
 * credentials they obtain): aws.sts_endpoint, default https://sts.<TETHER/
 * REGION>.amazonaws.com. A connection's ENDPOINT never does (conn_aws.c). */
#define VAL_OPT_TETHER_STS_ENDPOINT "TETHER/STS ENDPOINT"
/* Secrets of URL-based types are fetched with destination "<host>:<port>"
 * of URL (default port 443/80, IPv6 in brackets); AWS secrets with the STS
 * endpoint's "<host>:<port>" (sts.<region>.amazonaws.com:443 or ENDPOINT's),
 * tether's AWS credentials with TETHER/STS ENDPOINT's; a referenced AWS
 * connection's keys (key auth) with the referencing URL's "<host>:<port>".
 * The grant must list those destinations. */

/* CONFLUENT SCHEMA REGISTRY: GET <URL>/subjects (basic auth, mTLS, SSH
 * TUNNEL). */
int conn_csr_validate(const struct val_services *svc, const struct val_job *job,
		      struct val_result *r);
/* ICEBERG CATALOG: REST (OAuth2 client credentials, /v1/config, list
 * namespaces) or S3TABLESREST (SigV4 with the AWS CONNECTION). */
int conn_iceberg_validate(const struct val_services *svc, const struct val_job *job,
			  struct val_result *r);
/* AWS: STS GetCallerIdentity; role assumption with and without the
 * external ID (SQL.md 6). */
int conn_aws_validate(const struct val_services *svc, const struct val_job *job,
		      struct val_result *r);
/* AWS PRIVATELINK: checks what can be checked without the cloud, then
 * fails 0A000 `AWS PrivateLink connections are unsupported`, saying in
 * DETAIL what was and was not checked. Never succeeds. */
int conn_aws_privatelink_validate(const struct val_services *svc, const struct val_job *job,
				  struct val_result *r);

/* Credentials of an AWS connection (options under `prefix`: "" or
 * VAL_AWS_REF_PREFIX): its keys, or the temporary credentials of its role
 * (assumed through tether's principal with the external ID). Secrets are
 * fetched for `destination` (NULL: the STS endpoint). Wipe with
 * val_aws_creds_free. */
struct val_aws_creds {
	char *access_key_id, *secret_access_key, *session_token;   /* token may be NULL */
	size_t akid_len, secret_len, token_len;
	char region[64];
	int region_given;        /* REGION was set on the AWS connection */
};
int val_aws_credentials(const struct val_services *svc, const struct val_job *job,
			const char *prefix, const char *destination, struct val_aws_creds *out,
			struct val_result *r);
void val_aws_creds_free(struct val_aws_creds *c);

#endif
