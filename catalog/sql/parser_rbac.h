/* Statement parsers of parser_rbac.c (roles, GRANT/REVOKE, OWNER TO,
 * databases, schemas, SET/RESET ROLE), called from parser.c's dispatch
 * tables. Each starts after the keywords named in its comment. */
#ifndef TETHER_CAT_PARSER_RBAC_H
#define TETHER_CAT_PARSER_RBAC_H

#include "parse.h"

int cat_parse_create_role(struct cat_parser *p, struct cat_stmt *st);    /* CREATE ROLE */
int cat_parse_alter_role(struct cat_parser *p, struct cat_stmt *st);     /* ALTER ROLE */
int cat_parse_drop_role(struct cat_parser *p, struct cat_stmt *st);      /* DROP ROLE */
int cat_parse_create_database(struct cat_parser *p, struct cat_stmt *st);/* CREATE DATABASE */
int cat_parse_create_schema(struct cat_parser *p, struct cat_stmt *st);  /* CREATE SCHEMA */
int cat_parse_drop_database(struct cat_parser *p, struct cat_stmt *st);  /* DROP DATABASE */
int cat_parse_drop_schema(struct cat_parser *p, struct cat_stmt *st);    /* DROP SCHEMA */
/* At GRANT / REVOKE (the keyword not yet consumed). */
int cat_parse_grant(struct cat_parser *p, struct cat_stmt *st);
int cat_parse_revoke(struct cat_parser *p, struct cat_stmt *st);
/* After SET [SESSION] ROLE / RESET ROLE. */
int cat_parse_set_role(struct cat_parser *p, struct cat_stmt *st);
int cat_parse_reset_role(struct cat_parser *p, struct cat_stmt *st);

/* `TO role` after ALTER SECRET|CONNECTION [IF EXISTS] name OWNER: the
 * caller has set st->name, st->object_kind and st->if_exists and consumed
 * OWNER; this makes st a CAT_STMT_ALTER_OWNER (run by ddl_role.c). */
int cat_parse_owner_to(struct cat_parser *p, struct cat_stmt *st);

#endif
