/* Parser internals shared by the files of catalog/sql/: the token cursor
 * (peek/next/accept/expect, multi-word keywords), the expression tree, the
 * SQLite emitter and the secret-value evaluator. Not for other modules:
 * they see ast.h only. A new statement is a function over this cursor plus
 * a line in parser.c's dispatch tables. */
#ifndef TETHER_CAT_PARSE_H
#define TETHER_CAT_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "ast.h"
#include "err.h"
#include "lexer.h"

#define CAT_MAX_DEPTH 128          /* nested expressions / subqueries */
#define CAT_MAX_TREE_DEPTH 1000    /* height of one expression tree */
#define CAT_SECRET_MAX (512 * 1024)

/* Bump allocator for one cat_parse call; wiped (subquery text may hold
 * literals) and freed at its end. */
struct cat_arena_chunk;
struct cat_arena {
	struct cat_arena_chunk *head;
};
void *cat_arena_alloc(struct cat_arena *a, size_t n);   /* zeroed, or NULL */
void cat_arena_free(struct cat_arena *a);

/* Growable text buffer. A failed append sets `failed`; check once. */
struct cat_sbuf {
	char *s;
	size_t len, cap;
	int failed;
};
void cat_sb_put(struct cat_sbuf *b, const char *s, size_t n);
void cat_sb_puts(struct cat_sbuf *b, const char *s);
void cat_sb_printf(struct cat_sbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void cat_sb_free(struct cat_sbuf *b);
/* Takes the text (malloc'd, NUL-terminated) or NULL (then sets 53200). */
char *cat_sb_take(struct cat_sbuf *b, struct err *e);

struct cat_parser {
	const char *sql;
	size_t len;
	const struct cat_token *toks;  /* the whole query's tokens */
	size_t pos;                    /* next token */
	size_t end;                    /* this statement's ';' or EOF token */
	struct err *e;
	struct cat_arena arena;
	int depth;
	int hide_strings;              /* describe strings without contents */
	int max_param;                 /* highest $n seen in this statement */
	const struct cat_token *first_param;
	struct cat_expr *value_expr;   /* CREATE/ALTER SECRET ... AS, evaluated
					* once every statement has parsed */
	/* Unqualified relations only search_path reaches (select.c). */
	struct cat_select_hidden hidden[CAT_SELECT_HIDDEN_MAX];
	size_t nhidden;
};

/* ---- cursor ---- */
const struct cat_token *cat_p_peek(struct cat_parser *p);
const struct cat_token *cat_p_peek_n(struct cat_parser *p, size_t n);
const struct cat_token *cat_p_next(struct cat_parser *p);
int cat_p_at_end(struct cat_parser *p);
/* `kws` is one keyword or several separated by single spaces ("IF NOT
 * EXISTS", "SSL CERTIFICATE AUTHORITY"): all must follow in order. */
int cat_p_peek_kw(struct cat_parser *p, const char *kws);
int cat_p_accept_kw(struct cat_parser *p, const char *kws);
int cat_p_expect_kw(struct cat_parser *p, const char *kws);   /* 0 / -1 */
/* Index of the (multi-word) keyword of `kws` that follows, consumed; -1 if
 * none (accept) or -1 with `Expected one of A or B, found x` (expect). */
int cat_p_accept_one_of(struct cat_parser *p, const char *const *kws, size_t n);
int cat_p_expect_one_of(struct cat_parser *p, const char *const *kws, size_t n);
int cat_p_accept_tok(struct cat_parser *p, enum cat_tok_kind kind);
int cat_p_accept_op(struct cat_parser *p, const char *op);
int cat_p_expect_tok(struct cat_parser *p, enum cat_tok_kind kind, const char *what);
/* 42601 `Expected <what>, found <next token>` at the next token. */
int cat_p_error_expected(struct cat_parser *p, const char *what);
/* Any error, positioned at tok (NULL: no position). */
int cat_p_error_at(struct cat_parser *p, const struct cat_token *tok,
		   const char *sqlstate, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
int cat_p_expect_end(struct cat_parser *p);
/* An identifier usable as a name: quoted, or unquoted and not reserved. */
int cat_p_is_ident(const struct cat_token *t);
int cat_p_parse_ident(struct cat_parser *p, char out[CAT_IDENT_MAX + 1]);
/* name {. name}, at most maxparts parts (3 for items, 2 for schemas). */
int cat_p_parse_name(struct cat_parser *p, struct cat_name *out, int maxparts);
/* Formats a name for messages (parts joined by '.', quoted if needed). */
void cat_name_format(const struct cat_name *n, char *buf, size_t size);
/* Nesting guard around recursive productions: 54001 past CAT_MAX_DEPTH. */
int cat_p_enter(struct cat_parser *p);
void cat_p_leave(struct cat_parser *p);

/* ---- expressions ---- */
enum cat_expr_kind {
	CAT_E_STRING, CAT_E_NUMBER, CAT_E_PARAM, CAT_E_NULL, CAT_E_BOOL,
	CAT_E_COLUMN,    /* a[.b[.c[.d]]] or a.* (star set) */
	CAT_E_STAR,      /* the * of count(*) */
	CAT_E_FUNC,      /* name(args) or current_user-style (noparens) */
	CAT_E_CAST,      /* a::type, CAST(a AS type) */
	CAT_E_UNARY,     /* op a: "-", "+", "NOT" */
	CAT_E_BINARY,    /* a op b */
	CAT_E_IS,        /* a IS [NOT] NULL|TRUE|FALSE|DISTINCT FROM b */
	CAT_E_LIKE,      /* a [NOT] [I]LIKE b */
	CAT_E_IN,        /* a [NOT] IN (list) | (subquery) */
	CAT_E_BETWEEN,   /* a [NOT] BETWEEN b AND c */
	CAT_E_CASE,      /* CASE [a] WHEN list[2i] THEN list[2i+1] ... [ELSE b] END */
	CAT_E_SUBQUERY,  /* (SELECT ...), sql = SQLite text */
	CAT_E_EXISTS,    /* EXISTS (SELECT ...) */
};

#define CAT_MAX_NAME_PARTS 4

struct cat_type {
	const char *pg_name;     /* "integer", "character varying", ... */
	const char *sqlite;      /* SQLite type for CAST, NULL: unsupported */
	const char *colname;     /* PostgreSQL's column name for x::type */
};

struct cat_expr {
	enum cat_expr_kind kind;
	const struct cat_token *tok;     /* where it starts, for messages */
	int depth;                       /* tree height */
	const char *op;                  /* UNARY/BINARY; IS: "NULL", "TRUE", "FALSE", "DISTINCT" */
	int negated;                     /* NOT LIKE / NOT IN / IS NOT / NOT BETWEEN */
	int ilike;
	int distinct;                    /* f(DISTINCT x) */
	int star;                        /* COLUMN: a.*; FUNC: f(*) */
	int noparens;                    /* FUNC: current_user */
	int boolval;
	const struct cat_token *parts[CAT_MAX_NAME_PARTS];
	int nparts;                      /* COLUMN, FUNC */
	const struct cat_type *type;     /* CAST */
	char *type_name;                 /* CAST: as written, normalised */
	struct cat_expr *a, *b, *c;
	struct cat_expr **list;
	size_t nlist;
	char *sql;                       /* SUBQUERY, EXISTS, IN (subquery) */
};

struct cat_expr *cat_parse_expr(struct cat_parser *p);   /* NULL on error */
/* Type names (SQL.md 3.1, 8.5): NULL if unknown. */
const struct cat_type *cat_type_lookup(const char *name);

/* ---- SQLite text (select.c) ---- */
/* Parses a SELECT (the cursor is at SELECT) and appends its SQLite text. */
int cat_emit_select(struct cat_parser *p, struct cat_sbuf *out);
/* Appends the SQLite text of an expression (qualifiers stripped, casts
 * translated, identifiers quoted, everything parenthesised). */
int cat_emit_expr(struct cat_parser *p, const struct cat_expr *x, struct cat_sbuf *out);
/* Is `word` one of the catalog schemas whose qualifier SQLite drops? */
int cat_is_catalog_schema(const char *word);

/* ---- secret values (value.c) ---- */
/* Evaluates a secret value per SQL.md 3.1 into out->bytes (malloc'd). */
int cat_secret_eval(struct cat_parser *p, const struct cat_expr *x,
		    struct cat_secret_value *out);
/* PostgreSQL decode(): fmt "base64", "hex" or "escape". Returns a
 * malloc'd buffer (wiped by the caller) or NULL with e set. */
uint8_t *cat_decode(const char *in, size_t len, const char *fmt, size_t *out_len,
		    struct err *e);

#endif
