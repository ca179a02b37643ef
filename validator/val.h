/* The validator's inner API: what a per-type check (validator/conn_<type>.c)
 * sees. A check gets the job's resolved options and two services that go
 * to the vault under the job's grant — fetch a secret, sign SSH userauth
 * data — and fills a struct val_result. The checks never talk IPC
 * themselves, so unit tests drive them with fake services. */
#ifndef TETHER_VAL_H
#define TETHER_VAL_H

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

/* One function per connection type (validator/conn_<type>.c). */
typedef int (*val_check_fn)(const struct val_services *svc,
			    const struct val_job *job, struct val_result *r);
int conn_postgres_validate(const struct val_services *svc,
			   const struct val_job *job, struct val_result *r);
/* Validates job->tunnel when set, else the job's own HOST, PORT (22) and
 * USER options with job->connection_id's keys and no pinned key. */
int conn_ssh_tunnel_validate(const struct val_services *svc,
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

#endif
