/* tether.conf: the operator's configuration (docs/CONFIGURATION.md). One
 * table of keys (name, value kind, default, which process needs it); a
 * strict parser for `key = value` lines and for `--set key=value`
 * overrides. Every error names its source (`FILE:LINE:` or `--set`). */
#ifndef TETHER_CONFIG_H
#define TETHER_CONFIG_H

#include <stddef.h>

#include "err.h"

enum tcfg_key {
	TCFG_DATA_DIR,
	TCFG_LOG_LEVEL,
	TCFG_INSTANCE_ID,               /* deployment.instance_id */
	TCFG_REGION,                    /* deployment.region */
	TCFG_AWS_ROLE_ARN,              /* aws.connection_role_arn */
	TCFG_PL_ACCOUNT,                /* aws.privatelink_account_id */
	TCFG_PL_AZS,                    /* aws.privatelink_availability_zones */
	TCFG_AWS_PRINCIPAL_CREDS,       /* aws.principal_credentials_secret */
	TCFG_AWS_STS_ENDPOINT,          /* aws.sts_endpoint: tether's own STS calls */
	TCFG_VALIDATION_TIMEOUT,        /* validation.timeout_ms */
	TCFG_VALIDATION_CONNECT_TIMEOUT,/* validation.connect_timeout_ms */
	TCFG_VALIDATION_DENY_PRIVATE,   /* validation.deny_private_addresses */
	TCFG_MAX_SECRET_SIZE,           /* limits.max_secret_size */
	TCFG_LISTEN_TCP,                /* listen.tcp: host:port, unset = no TCP */
	TCFG_TLS_CERTIFICATE,           /* tls.certificate (PEM chain) */
	TCFG_TLS_KEY,                   /* tls.key (PEM, not group/other readable) */
	TCFG_TLS_CA,                    /* tls.ca: client certificates required */
	TCFG_USER_VAULT,                /* users.vault (ops: privilege drop) */
	TCFG_USER_CATALOG,              /* users.catalog */
	TCFG_USER_VALIDATOR,            /* users.validator */
	TCFG_USERS_REQUIRED,            /* users.required */
	TCFG_NKEYS
};

/* Which process acts on a key (tetherd passes the catalog's on its command
 * line as --set key=value: none of them is secret). */
enum tcfg_user {
	TCFG_FOR_SUPERVISOR = 1 << 0,
	TCFG_FOR_CATALOG = 1 << 1,
};

#define TCFG_VALUE_MAX 4096             /* bytes of one value, NUL included */
#define TCFG_FILE_MAX (1024 * 1024)     /* bytes of a configuration file */
#define TCFG_WHERE_MAX 320              /* "FILE:LINE" or "--set" */

struct tcfg {
	int set[TCFG_NKEYS];                /* given (else the default applies) */
	char value[TCFG_NKEYS][TCFG_VALUE_MAX];   /* canonical form */
	char where[TCFG_NKEYS][TCFG_WHERE_MAX];   /* where it was given */
};

/* Everything unset. */
void tcfg_init(struct tcfg *c);

/* Key table access. tcfg_find: the key of a name, or -1. */
int tcfg_find(const char *name);
const char *tcfg_name(enum tcfg_key k);
unsigned tcfg_users(enum tcfg_key k);
/* The built-in default as text, or NULL (unset: the feature is off). */
const char *tcfg_default(enum tcfg_key k);

/* Reads a file of `key = value` lines (format in docs/CONFIGURATION.md).
 * Keys it sets replace earlier values; a key twice in one file is an
 * error. On error (e: F0000, message `PATH:LINE: ...`) c may hold the
 * lines before the bad one. */
int tcfg_load_file(struct tcfg *c, const char *path, struct err *e);
/* The same for text in memory; `name` stands for the path in messages. */
int tcfg_load_text(struct tcfg *c, const char *name, const char *text, size_t len,
		   struct err *e);
/* One `key=value` override (a --set argument). */
int tcfg_set_arg(struct tcfg *c, const char *arg, struct err *e);
/* Checks `value` against key `k`'s kind and stores its canonical form;
 * `where` names the source in messages ("--set", "FILE:LINE"). */
int tcfg_set(struct tcfg *c, enum tcfg_key k, const char *value, const char *where,
	     struct err *e);
/* Forgets a value: the default applies again. */
void tcfg_unset(struct tcfg *c, enum tcfg_key k);

/* The value in force: the given one, else the default; NULL if neither. */
const char *tcfg_get(const struct tcfg *c, enum tcfg_key k);
/* Numeric and boolean keys (defaults included); 0 for an unset key
 * without default. */
long tcfg_get_long(const struct tcfg *c, enum tcfg_key k);
int tcfg_get_bool(const struct tcfg *c, enum tcfg_key k);

#endif
