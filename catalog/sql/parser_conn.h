/* Statement parsers of parser_conn.c (CREATE / ALTER / VALIDATE CONNECTION,
 * SHOW [REDACTED] CREATE CONNECTION, COMMENT ON), called from parser.c's
 * dispatch tables. Each starts where its comment says. */
#ifndef TETHER_CAT_PARSER_CONN_H
#define TETHER_CAT_PARSER_CONN_H

#include "parse.h"

int cat_parse_create_connection(struct cat_parser *p, struct cat_stmt *st); /* after CREATE CONNECTION */
int cat_parse_alter_connection(struct cat_parser *p, struct cat_stmt *st);  /* after ALTER CONNECTION */
int cat_parse_validate(struct cat_parser *p, struct cat_stmt *st);          /* at VALIDATE */
int cat_parse_show_create(struct cat_parser *p, struct cat_stmt *st);       /* after SHOW, at [REDACTED] CREATE */
int cat_parse_comment(struct cat_parser *p, struct cat_stmt *st);           /* at COMMENT */

#endif
