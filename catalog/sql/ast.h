/* The parsed form of the statements tether accepts (catalog/parser.c builds
 * it, catalog/exec.c runs it). One struct cat_stmt per statement; a query
 * string parses to an array of them, all or nothing (like PostgreSQL, a
 * syntax error anywhere runs nothing). Secret values are wiped when the
 * statement is freed, and earlier by cat_stmt_wipe_value() once the vault
 * has them. */
#ifndef TETHER_CAT_AST_H
#define TETHER_CAT_AST_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define CAT_IDENT_MAX 255      /* bytes after folding (SQL.md 1) */
#define CAT_MAX_STATEMENT (1024 * 1024)

/* A possibly qualified name: parts[0..nparts-1], already folded (unquoted
 * identifiers lower-cased, quoted ones kept). */
struct cat_name {
	int nparts;                        /* 1..3 */
	char parts[3][CAT_IDENT_MAX + 1];
};

enum cat_object_kind { CAT_OBJ_SECRET, CAT_OBJ_CONNECTION };

enum cat_stmt_kind {
	CAT_STMT_EMPTY,             /* ";" or only comments: cat_parse returns
				     * one (span = whole input) only when the
				     * query holds nothing else; empty
				     * statements between others are dropped */
	CAT_STMT_CREATE_SECRET,
	CAT_STMT_ALTER_SECRET_VALUE,
	CAT_STMT_ALTER_SECRET_RENAME,
	CAT_STMT_DROP_OBJECTS,
	CAT_STMT_SHOW_OBJECTS,      /* SHOW SECRETS / SHOW CONNECTIONS */
	CAT_STMT_SELECT,            /* catalog-only SELECT, run by SQLite */
	CAT_STMT_SET_VAR,           /* SET [SESSION|LOCAL] x = v | TO v; RESET x */
	CAT_STMT_SHOW_VAR,          /* SHOW x, SHOW ALL */
	CAT_STMT_BEGIN,             /* BEGIN / START TRANSACTION */
	CAT_STMT_COMMIT,            /* COMMIT / END */
	CAT_STMT_ROLLBACK,          /* ROLLBACK / ABORT */
	CAT_STMT_DISCARD,           /* DISCARD ALL (drivers' pools send it) */
	/* roles, privileges, databases, schemas (parser_rbac.c, ddl_role.c) */
	CAT_STMT_CREATE_ROLE,
	CAT_STMT_ALTER_ROLE,
	CAT_STMT_DROP_ROLE,         /* role names in rbac->roles */
	CAT_STMT_GRANT_PRIV,
	CAT_STMT_REVOKE_PRIV,
	CAT_STMT_GRANT_ROLE,
	CAT_STMT_REVOKE_ROLE,
	CAT_STMT_ALTER_OWNER,       /* ALTER SECRET|CONNECTION name OWNER TO r */
	CAT_STMT_CREATE_DATABASE,   /* name (1 part), if_not_exists */
	CAT_STMT_CREATE_SCHEMA,     /* name (1-2 parts), if_not_exists */
	CAT_STMT_DROP_DATABASE,     /* names, if_exists, cascade */
	CAT_STMT_DROP_SCHEMA,       /* names (1-2 parts), if_exists, cascade */
	CAT_STMT_SET_ROLE,          /* SET ROLE r / RESET ROLE (rbac->role "") */
	/* connections (parser_conn.c, ddl_conn.c): details in st->conn */
	CAT_STMT_CREATE_CONNECTION,
	CAT_STMT_ALTER_CONNECTION,  /* SET/RESET/DROP/ROTATE KEYS or RENAME TO */
	CAT_STMT_VALIDATE_CONNECTION,
	CAT_STMT_SHOW_CREATE_CONNECTION,
	CAT_STMT_COMMENT,           /* COMMENT ON CONNECTION|SECRET */
	/* ALTER SYSTEM SET x {=|TO} v|DEFAULT, ALTER SYSTEM RESET x|ALL
	 * (parser_system.c, sysvars.c): var_name ("all"), var_value (NULL
	 * for DEFAULT / RESET), var_is_reset */
	CAT_STMT_ALTER_SYSTEM,
	CAT_STMT_ALTER_SYSTEM_ROTATE,   /* var_name = "data" | "master" */
};

/* SELECT: an unqualified relation that lives in a schema which is not
 * searched implicitly (SQL.md 2: mz_catalog and pg_catalog are; others
 * such as mz_internal only when search_path names them). */
struct cat_select_hidden {
	const char *schema;                 /* static: "mz_internal", ... */
	char name[CAT_IDENT_MAX + 1];
};
#define CAT_SELECT_HIDDEN_MAX 4

struct cat_secret_value {
	uint8_t *bytes;             /* malloc'd; wiped and freed with the stmt */
	size_t len;
};

struct cat_stmt {
	enum cat_stmt_kind kind;
	/* Byte span of this statement in the query string, for messages and
	 * for the redacted audit text. */
	size_t start, end;

	int if_exists;              /* ALTER/DROP ... IF EXISTS */
	int if_not_exists;          /* CREATE ... IF NOT EXISTS */

	/* CREATE SECRET / ALTER SECRET */
	struct cat_name name;
	struct cat_secret_value value;
	char new_name[CAT_IDENT_MAX + 1];   /* RENAME TO */

	/* DROP SECRET|CONNECTION a, b [CASCADE|RESTRICT] */
	enum cat_object_kind object_kind;   /* also SHOW SECRETS|CONNECTIONS */
	struct cat_name *names;
	size_t nnames;
	int cascade;

	/* SHOW SECRETS|CONNECTIONS [FROM schema] [LIKE 'p' | WHERE expr] */
	int has_from;
	struct cat_name from_schema;        /* 1 or 2 parts */
	char *like_pattern;                 /* NULL if none */
	char *where_sql;                    /* SQLite expression text, or NULL */

	/* SELECT: the statement rewritten for SQLite (catalog-schema qualifiers
	 * such as mz_catalog. removed, $n kept as SQLite named parameters). */
	char *select_sql;
	int nparams;                        /* highest $n referenced */
	/* Relations select_sql names unqualified that only search_path
	 * reaches: the executor checks them against the session's path. */
	struct cat_select_hidden select_hidden[CAT_SELECT_HIDDEN_MAX];
	size_t nselect_hidden;
	/* What the SQLite side must provide for select_sql / where_sql:
	 * - identifiers arrive double-quoted: turn off SQLite's "double-quoted
	 *   string literal" fallback (sqlite3_db_config SQLITE_DBCONFIG_DQS_DML
	 *   0) so an unknown column is an error, not a string;
	 * - functions SQLite lacks, registered by the executor: version(),
	 *   current_user(), session_user(), current_database(),
	 *   current_schema() (current_user etc. without parentheses are
	 *   rewritten to calls);
	 * - LIKE with a literal pattern becomes a case-sensitive GLOB; with a
	 *   non-literal pattern it stays LIKE ... ESCAPE '\' (ASCII
	 *   case-insensitive unless PRAGMA case_sensitive_like=ON);
	 * - unqualified views named like the catalog relations.
	 * The statement never names sqlite_* tables or pragma functions and
	 * calls only allow-listed functions (select.c), but the executor's
	 * authorizer stays the real boundary. */

	/* SET / RESET / SHOW variable */
	char var_name[CAT_IDENT_MAX + 1];   /* lower-cased; "all" for SHOW ALL */
	char *var_value;                    /* NULL for RESET / DEFAULT */
	int var_is_local;                   /* SET LOCAL */
	int var_is_reset;                   /* RESET x / RESET ALL: tag "RESET" */

	/* BEGIN / START TRANSACTION */
	int start_transaction;              /* tag "START TRANSACTION" */

	/* Role and privilege statements (NULL for the others). */
	struct cat_rbac_stmt *rbac;

	/* Connection statements (NULL for the others). */
	struct cat_conn_stmt *conn;
};

/* Parses `sql` (len bytes, not necessarily NUL-terminated) into *out (an
 * array of *count statements). Returns 0, or -1 with `e` set (SQLSTATE,
 * message, 1-based position). On error nothing is returned to free.
 * All or nothing: every statement is parsed first, then secret values are
 * evaluated in order; any error fails the whole string. Query strings
 * longer than CAT_MAX_STATEMENT fail with 54000 before lexing. */
int cat_parse(const char *sql, size_t len, struct cat_stmt **out, size_t *count,
	      struct err *e);

/* Wipes and frees every statement of an array from cat_parse. */
void cat_stmts_free(struct cat_stmt *stmts, size_t count);

/* Wipes the secret value of one statement as soon as the vault holds it. */
void cat_stmt_wipe_value(struct cat_stmt *stmt);

/* The command tag for CommandComplete ("CREATE SECRET", "SELECT 3" is built
 * by the executor; this gives the fixed part). */
const char *cat_stmt_tag(const struct cat_stmt *stmt);

/* "CREATE SECRET" etc. for messages such as "... cannot be run inside a
 * transaction block". */
const char *cat_stmt_name(const struct cat_stmt *stmt);

/* Statement text with every string literal replaced by '<REDACTED>'
 * (malloc'd, caller frees; NULL only if out of memory), for audit and
 * logs. Comments are dropped and whitespace between tokens collapsed.
 * Text that does not lex yields "<unparsable statement>", text longer than
 * CAT_MAX_STATEMENT "<statement too long>". */
char *cat_redact(const char *sql, size_t len);

/* ---- roles, privileges, databases, schemas (parser_rbac.c) ---- */

/* Privileges (SQL.md 9.7); the bits are also the ACL letters' order. */
enum cat_priv {
	CAT_PRIV_USAGE = 1 << 0,            /* U */
	CAT_PRIV_CREATE = 1 << 1,           /* C */
	CAT_PRIV_CREATEROLE = 1 << 2,       /* R */
	CAT_PRIV_CREATEDB = 1 << 3,         /* B */
};

/* What GRANT/REVOKE ... ON names (and the kinds ACLs live on). */
enum cat_grant_target {
	CAT_GRANT_SECRET,
	CAT_GRANT_CONNECTION,
	CAT_GRANT_SCHEMA,
	CAT_GRANT_DATABASE,
	CAT_GRANT_SYSTEM,
	CAT_GRANT_ALL_SECRETS,              /* ALL SECRETS [IN ...] */
	CAT_GRANT_ALL_CONNECTIONS,
};

/* Role attributes of CREATE/ALTER ROLE (bits of attr_set / attr_on). */
enum cat_role_attr {
	CAT_RATTR_SUPERUSER = 1 << 0,
	CAT_RATTR_LOGIN = 1 << 1,
	CAT_RATTR_INHERIT = 1 << 2,
	CAT_RATTR_CREATEROLE = 1 << 3,
	CAT_RATTR_CREATEDB = 1 << 4,
};

struct cat_rbac_stmt {
	char role[CAT_IDENT_MAX + 1];       /* CREATE/ALTER ROLE; OWNER TO; SET
					     * ROLE ("" = RESET ROLE) */
	unsigned attr_set, attr_on;         /* CAT_RATTR_* given / their values */
	int password;                       /* 0 none, 1 PASSWORD 'x', 2 NULL */
	char *password_text;                /* PASSWORD 'x': malloc'd copy; the
					     * executor wipes it after hashing,
					     * free wipes what is left */
	size_t password_len;
	char (*roles)[CAT_IDENT_MAX + 1];   /* DROP ROLE; GRANT/REVOKE role: granted */
	size_t nroles;
	char (*grantees)[CAT_IDENT_MAX + 1];/* TO / FROM ("public" = PUBLIC) */
	size_t ngrantees;
	unsigned privs;                     /* CAT_PRIV_* listed */
	int all_privs;                      /* ALL [PRIVILEGES] */
	enum cat_grant_target target;
	int scope;                          /* ALL ... IN: 0 none, 1 SCHEMA, 2 DATABASE */
	struct cat_name *objects;           /* ON names, or the IN names */
	size_t nobjects;
};

/* Frees a cat_rbac_stmt (NULL is fine); cat_stmts_free calls it. */
void cat_rbac_stmt_free(struct cat_rbac_stmt *rs);

/* ---- connections (parser_conn.c; SQL.md 3, 4, 5) ---- */

enum cat_cval_kind {
	CAT_CV_NONE,        /* option written without a value */
	CAT_CV_STRING,      /* text */
	CAT_CV_NUMBER,      /* text: digits as written, with a leading '-' if negative */
	CAT_CV_BOOL,        /* TRUE / FALSE */
	CAT_CV_NULL,
	CAT_CV_NAME,        /* identifier or qualified name (name, quoted) */
	CAT_CV_SECRET,      /* SECRET name */
	CAT_CV_LIST,        /* ( v, ... ) or [ v, ... ]: items */
	CAT_CV_CHAIN,       /* term || term ...: items are STRING or SECRET */
	CAT_CV_BROKER,      /* 'addr' [USING tunnel]: text, tunnel, name, az, port */
	CAT_CV_PRIVATELINK, /* top-level AWS PRIVATELINK name [(PORT n)] */
};

enum cat_tunnel_kind { CAT_TUNNEL_NONE, CAT_TUNNEL_SSH, CAT_TUNNEL_PRIVATELINK };

struct cat_conn_value {
	enum cat_cval_kind kind;
	int position;                   /* 1-based character position */
	char *text;                     /* STRING, NUMBER, BROKER address */
	int boolval;
	int quoted;                     /* NAME: one part, written "quoted" */
	struct cat_name name;           /* NAME, SECRET, PRIVATELINK, BROKER tunnel */
	struct cat_conn_value *items;   /* LIST, CHAIN */
	size_t nitems;
	enum cat_tunnel_kind tunnel;    /* BROKER: USING ... */
	char *az;                       /* BROKER: AVAILABILITY ZONE, or NULL */
	char *port;                     /* BROKER / PRIVATELINK: PORT as written, or NULL */
	int port_position;
};

struct cat_conn_option {
	char name[48];                  /* canonical option name (USERNAME -> USER) */
	int position;
	struct cat_conn_value value;
};

enum cat_conn_action_kind { CAT_CA_SET, CAT_CA_RESET, CAT_CA_ROTATE_KEYS };

struct cat_conn_action {
	enum cat_conn_action_kind kind;  /* DROP (...) is CAT_CA_RESET */
	int position;
	struct cat_conn_option *opts;    /* SET: name + value; RESET: names */
	size_t nopts;
};

struct cat_conn_stmt {
	/* CREATE CONNECTION: TO <type_kw> (options) */
	char type_kw[32];                /* canonical keyword: "KAFKA", "SQL SERVER" */
	struct cat_conn_option *opts;
	size_t nopts;
	/* ALTER CONNECTION: actions, or rename (st->new_name) */
	struct cat_conn_action *actions;
	size_t nactions;
	int rename;
	/* WITH (VALIDATE [[=] bool]) */
	int has_validate, validate;
	/* SHOW [REDACTED] CREATE CONNECTION */
	int redacted;
	/* COMMENT ON CONNECTION|SECRET (st->object_kind, st->name) IS ... */
	char *comment;                   /* NULL: IS NULL */
};

/* Frees a cat_conn_stmt (NULL is fine); cat_stmts_free calls it. */
void cat_conn_stmt_free(struct cat_conn_stmt *cs);

#endif
