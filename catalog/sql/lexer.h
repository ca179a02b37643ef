/* tether's SQL lexer (SQL.md section 1): turns a query string into tokens
 * with byte spans, folds unquoted identifiers, unescapes literals and
 * rejects what tether does not lex (invalid UTF-8, NUL, E''/X''/$$ strings).
 * Token values live in one arena that cat_lex_free() wipes. */
#ifndef TETHER_CAT_LEXER_H
#define TETHER_CAT_LEXER_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

enum cat_tok_kind {
	CAT_TOK_EOF,
	CAT_TOK_IDENT,      /* unquoted (folded; may be a keyword) or quoted */
	CAT_TOK_STRING,     /* '...' (value unescaped, adjacent ones joined) */
	CAT_TOK_NUMBER,     /* 123, 1.5, 1e10 (text as written) */
	CAT_TOK_PARAM,      /* $n */
	CAT_TOK_OP,         /* || < > <= >= <> != + - * / % :: (text in val) */
	CAT_TOK_LPAREN,
	CAT_TOK_RPAREN,
	CAT_TOK_LBRACKET,
	CAT_TOK_RBRACKET,
	CAT_TOK_COMMA,
	CAT_TOK_DOT,
	CAT_TOK_SEMI,
	CAT_TOK_EQ,
};

#define CAT_TOKF_QUOTED   0x01  /* "quoted identifier": never a keyword */
#define CAT_TOKF_INTEGER  0x02  /* NUMBER made of digits only */

struct cat_token {
	enum cat_tok_kind kind;
	unsigned flags;
	size_t start, end;    /* byte span [start, end) in the input */
	const char *val;      /* NUL-terminated value (see kinds); "" for punctuation */
	size_t vlen;          /* bytes in val (a string may hold no NUL, but be safe) */
	uint32_t param;       /* CAT_TOK_PARAM: n of $n (1..65535) */
};

struct cat_lexed {
	struct cat_token *toks;  /* ntoks tokens, the last one CAT_TOK_EOF */
	size_t ntoks;
	char *arena;             /* holds every val; wiped on free */
	size_t arena_size;
};

/* Lexes sql[0..len). Returns 0 with *out filled (free with cat_lex_free), or
 * -1 with `e` set (SQLSTATE, message, 1-based character position) and *out
 * empty. Does not enforce CAT_MAX_STATEMENT; the parser does. */
int cat_lex(const char *sql, size_t len, struct cat_lexed *out, struct err *e);

/* Wipes the value arena (it holds string literals, possibly secrets) and
 * frees everything; safe on a zeroed or already freed struct. */
void cat_lex_free(struct cat_lexed *lx);

/* Checks that s[0..len) is UTF-8 without NUL bytes. Returns 0, or -1 with
 * 22021 `invalid byte sequence for encoding "UTF8": 0x..` in `e` (position
 * set to the offending character). */
int cat_utf8_check(const char *s, size_t len, struct err *e);

/* 1-based character (not byte) position of byte offset `off` in valid
 * UTF-8 text `s`, as PostgreSQL's ErrorResponse 'P' field counts. */
int cat_char_pos(const char *s, size_t off);

/* Keywords are identifiers the parser recognises by spelling. The table is
 * only used to print tokens (keywords print in caps) and to tell reserved
 * words (SQL.md 1: they must be quoted to be used as names). `word` is
 * compared case-insensitively. */
int cat_is_keyword(const char *word);
int cat_is_reserved(const char *word);

/* True if tok is an unquoted identifier spelled `kw` (case-insensitive). */
int cat_tok_is_kw(const struct cat_token *tok, const char *kw);

/* Prints a token the way SQL.md 7 wants it in `Expected ..., found <token>`:
 * identifier "x", string literal "x", number "5", operator "||", left
 * parenthesis, ..., keyword in caps, EOF. With hide_strings set, a string
 * literal prints as just `string literal` (it may be a secret). Long values
 * are cut on a UTF-8 boundary. */
void cat_tok_describe(const struct cat_token *tok, int hide_strings,
		      char *buf, size_t size);

/* Cuts a NUL-terminated UTF-8 string that snprintf may have truncated in
 * the middle of a character back to the last whole character. */
void cat_utf8_trim(char *s);

/* Appends `ident` to buf as SQL would need to see it: bare if it is a plain
 * lower-case identifier and no keyword, else "double quoted". Returns the
 * length written (like snprintf, may exceed size). */
size_t cat_quote_ident(const char *ident, char *buf, size_t size);

#endif
