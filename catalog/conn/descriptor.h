/* Connection types as data (SQL.md 5): one table of descriptors (keyword,
 * catalog type name, options with value kind, required / default / allowed
 * values / alterable, validates-by-default, limit) and, per type, the check
 * of the cross-option rules in SQL.md's table order. The parser, planner,
 * SHOW CREATE, catalog rows and (later) the validator all read this table.
 * Pure C: no SQLite, no sockets; links tether_proto only for struct err. */
#ifndef TETHER_CONN_DESCRIPTOR_H
#define TETHER_CONN_DESCRIPTOR_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

enum conn_type {
	CONN_AWS,
	CONN_AWS_PRIVATELINK,
	CONN_CSR,
	CONN_ICEBERG,
	CONN_KAFKA,
	CONN_MYSQL,
	CONN_POSTGRES,
	CONN_SQL_SERVER,
	CONN_SSH_TUNNEL,
	CONN_NTYPES,
	CONN_NONE = -1,
};

/* What an option's value must be (SQL.md 4.2). */
enum conn_vkind {
	CONN_K_TEXT,
	CONN_K_PORT,            /* integer 1..65535 */
	CONN_K_I32,
	CONN_K_BOOL,
	CONN_K_SECRET,
	CONN_K_TEXT_OR_SECRET,  /* text, SECRET x, or a || chain of both */
	CONN_K_REF,             /* a connection of type ref_type */
	CONN_K_TEXT_LIST,
	CONN_K_BROKER,          /* Kafka BROKER: one broker */
	CONN_K_BROKERS,         /* Kafka BROKERS: ( broker {, broker} ) */
};

/* Every option name any type knows, in one id space: a name has one value
 * kind whatever the type (as in Materialize's option extraction). */
enum conn_opt_id {
	CONN_O_ACCESS_KEY_ID,
	CONN_O_SECRET_ACCESS_KEY,
	CONN_O_SESSION_TOKEN,
	CONN_O_ASSUME_ROLE_ARN,
	CONN_O_ASSUME_ROLE_SESSION_NAME,
	CONN_O_ENDPOINT,
	CONN_O_REGION,
	CONN_O_SERVICE_NAME,
	CONN_O_AVAILABILITY_ZONES,
	CONN_O_URL,
	CONN_O_HOST,
	CONN_O_PORT,
	CONN_O_DATABASE,
	CONN_O_USER,
	CONN_O_PASSWORD,
	CONN_O_SSL_MODE,
	CONN_O_SSL_CERTIFICATE_AUTHORITY,
	CONN_O_SSL_CERTIFICATE,
	CONN_O_SSL_KEY,
	CONN_O_SSH_TUNNEL,
	CONN_O_AWS_PRIVATELINK,
	CONN_O_AWS_CONNECTION,
	CONN_O_CATALOG_TYPE,
	CONN_O_CREDENTIAL,
	CONN_O_WAREHOUSE,
	CONN_O_SCOPE,
	CONN_O_BROKER,
	CONN_O_BROKERS,
	CONN_O_SECURITY_PROTOCOL,
	CONN_O_SASL_MECHANISMS,
	CONN_O_SASL_USERNAME,
	CONN_O_SASL_PASSWORD,
	CONN_O_PROGRESS_TOPIC,
	CONN_O_PROGRESS_TOPIC_REPLICATION_FACTOR,
	CONN_O_PUBLIC_KEY_1,
	CONN_O_PUBLIC_KEY_2,
	CONN_NOPTS,
	CONN_O_NONE = -1,
};

struct conn_opt_def {
	const char *name;            /* canonical, upper case, words split by one space */
	enum conn_vkind kind;
	enum conn_type ref_type;     /* CONN_K_REF */
};

/* A closed set of values (SSL MODE, SECURITY PROTOCOL, ...), matched
 * case-insensitively; aliases map to the canonical value. */
struct conn_enum {
	const char *const *values;   /* canonical, NULL-terminated */
	const char *const *aliases;  /* pairs alias, canonical; NULL-terminated */
	/* printf format of the error, one %s (the value as written, upper-cased
	 * when upper_in_message) */
	const char *error_fmt;
	int upper_in_message;
};

/* Per-type option flags. */
#define CONN_TF_REQUIRED  0x01   /* (the check function says which message) */
#define CONN_TF_FIXED     0x02   /* ALTER may not change it (0A000) */
#define CONN_TF_INTERNAL  0x04   /* set by tether, never by users */

struct conn_type_opt {
	enum conn_opt_id opt;
	unsigned flags;
	/* Default as system tables show it; NULL none. "$instance", "$id",
	 * "$region" expand in conn_render_default(). Never in create_sql. */
	const char *def;
	const struct conn_enum *allowed;
};

/* Deployment settings the rules and defaults read (catalog settings table,
 * documented in store_conn.c). */
struct conn_settings {
	const char *instance_id;             /* prefix of generated names */
	const char *region;                  /* REGION default */
	const char *const *az_ids;           /* PrivateLink AZ ids; NULL: unchecked */
	size_t naz_ids;
};

struct conn_optset;

struct conn_type_def {
	enum conn_type type;
	const char *keyword;         /* "SQL SERVER", as written in TO <type> */
	const char *catalog_name;    /* mz_connections.type: "sql-server" */
	const struct conn_type_opt *opts;
	size_t nopts;
	int validates_by_default;
	const char *limit_var;       /* SQL.md 9.6 */
	long limit_default;
	/* Cross-option rules (SQL.md 5) in table order. Notices (PORT has no
	 * effect ...) go to notice[0..nsize) if non-NULL. 0 or -1 with e. */
	int (*check)(const struct conn_optset *set, const struct conn_settings *cfg,
		     char *notice, size_t nsize, struct err *e);
};

/* The descriptor table; index = enum conn_type. */
extern const struct conn_type_def conn_types[CONN_NTYPES];
extern const struct conn_opt_def conn_opts[CONN_NOPTS];

/* By keyword ("KAFKA", "ssh tunnel": case-insensitive, single spaces). */
const struct conn_type_def *conn_type_by_keyword(const char *kw);
const struct conn_type_def *conn_type_by_catalog_name(const char *name);
/* By canonical option name or an alias (USERNAME = USER); CONN_O_NONE. */
enum conn_opt_id conn_opt_by_name(const char *name);
/* All option names (canonical and aliases) for the parser's longest match;
 * *n receives the count. */
const char *const *conn_opt_names(size_t *n);
/* The type's entry for an option, or NULL if the type does not take it. */
const struct conn_type_opt *conn_type_opt(const struct conn_type_def *t,
					  enum conn_opt_id opt);

/* The canonical spelling of v in an allowed set, or NULL. */
const char *conn_enum_canonical(const struct conn_enum *en, const char *v);

/* Kafka's SECURITY PROTOCOL: the written value (canonical) or the default
 * (SASL_SSL if a SASL option or AWS CONNECTION is present, else SSL). */
const char *conn_kafka_security_protocol(const struct conn_optset *s);

/* Renders a type option's default for system tables (expanding $instance,
 * $id as "u<id>", $region); "" if none. */
void conn_render_default(const struct conn_type_opt *o, const struct conn_settings *cfg,
			 uint64_t id, char *buf, size_t size);

#endif
