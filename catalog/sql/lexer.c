/* SQL lexer (SQL.md section 1; Materialize's lexer and PostgreSQL's scan.l
 * where they agree): validates UTF-8, splits the input into tokens with
 * byte spans and copies every token value into one wiped arena. */
#include "lexer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ast.h"

/* Words the grammar knows (this and the next ones'). Only used to
 * print tokens in caps; any identifier can still be compared as a keyword. */
static const char *const cat_keywords[] = {
	"ABORT", "ACCESS", "ALL", "ALTER", "AND", "AS", "ASC", "AUTHORITY",
	"AVAILABILITY", "AWS", "BEGIN", "BETWEEN", "BROKER", "BROKERS", "BY",
	"BYTEA", "CASCADE", "CASE", "CAST", "CATALOG", "CERTIFICATE", "CHAIN",
	"CHARACTERISTICS", "COMMENT", "COMMIT", "COMMITTED", "CONFLUENT",
	"CONNECTION", "CONNECTIONS", "CREATE", "CREATEDB", "CREATEROLE",
	"CROSS", "DATABASE", "DEFAULT", "DEFERRABLE", "DESC", "DISCARD",
	"DISTINCT", "DROP", "ELSE", "END", "EXCEPT", "EXISTS", "FALSE", "FIRST",
	"FOR", "FROM", "FULL", "GRANT", "GROUP", "HAVING", "ICEBERG", "IF",
	"ILIKE", "IN", "INHERIT", "INNER", "INTERSECT", "IS", "ISOLATION",
	"JOIN", "KAFKA", "KEY", "KEYS", "LAST", "LEFT", "LEVEL", "LIKE",
	"LIMIT", "LOCAL", "LOGIN", "MYSQL", "NAMES", "NO", "NOCREATEDB",
	"NOCREATEROLE", "NOINHERIT", "NOLOGIN", "NOSUPERUSER", "NOT", "NULL",
	"NULLS", "OFFSET", "ON", "ONLY", "OR", "ORDER", "OUTER", "OWNER",
	"PASSWORD", "PORT", "POSTGRES", "PRIVATELINK", "PRIVILEGES", "READ",
	"REDACTED", "REGISTRY", "RENAME", "REPEATABLE", "RESET", "RESTRICT",
	"REVOKE", "RIGHT", "ROLE", "ROLLBACK", "ROTATE", "SCHEMA", "SCHEMAS",
	"SECRET", "SECRETS", "SELECT", "SERIALIZABLE", "SERVER", "SESSION",
	"SET", "SHOW", "SQL", "SSH", "SSL", "START", "SUPERUSER", "SYSTEM",
	"THEN", "TIME", "TO", "TRANSACTION", "TRUE", "TUNNEL", "UNCOMMITTED",
	"UNION", "USAGE", "USER", "USING", "VALIDATE", "WHEN", "WHERE", "WITH",
	"WORK", "WRITE", "ZONE",
};

/* SQL.md 1: reserved, quote to use as names. */
static const char *const cat_reserved[] = {
	"ALL", "AND", "AS", "CREATE", "DROP", "FROM", "GRANT", "IN", "IS",
	"NOT", "NULL", "ON", "OR", "SELECT", "TO", "USING", "WHERE", "WITH",
};

static int word_in(const char *word, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(word, list[i]) == 0)
			return 1;
	return 0;
}

int cat_is_keyword(const char *word)
{
	return word_in(word, cat_keywords,
		       sizeof(cat_keywords) / sizeof(cat_keywords[0]));
}

int cat_is_reserved(const char *word)
{
	return word_in(word, cat_reserved,
		       sizeof(cat_reserved) / sizeof(cat_reserved[0]));
}

int cat_tok_is_kw(const struct cat_token *tok, const char *kw)
{
	return tok->kind == CAT_TOK_IDENT && !(tok->flags & CAT_TOKF_QUOTED) &&
	       strcasecmp(tok->val, kw) == 0;
}

int cat_char_pos(const char *s, size_t off)
{
	int pos = 1;

	for (size_t i = 0; i < off; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			pos++;
	return pos;
}

void cat_utf8_trim(char *s)
{
	size_t n = strlen(s), i, need;
	unsigned char c;

	if (n == 0)
		return;
	/* Find the start of the last character and check it is complete. */
	i = n;
	while (i > 0 && ((unsigned char)s[i - 1] & 0xC0) == 0x80 && n - i < 3)
		i--;
	if (i == 0)
		return;
	c = (unsigned char)s[i - 1];
	if (c < 0x80)
		return;
	need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
	if (n - (i - 1) < need)
		s[i - 1] = '\0';
}

/* PostgreSQL's pg_utf_mblen: how many bytes the first byte announces. */
static size_t utf8_announced_len(unsigned char c)
{
	if ((c & 0x80) == 0)
		return 1;
	if ((c & 0xE0) == 0xC0)
		return 2;
	if ((c & 0xF0) == 0xE0)
		return 3;
	if ((c & 0xF8) == 0xF0)
		return 4;
	return 1;
}

/* Length of the valid UTF-8 character at s (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF), or 0 if invalid. */
static size_t utf8_char_len(const unsigned char *s, size_t avail)
{
	unsigned char c = s[0];
	size_t n;
	unsigned char lo = 0x80, hi = 0xBF;

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		n = 2;
	else if (c >= 0xE0 && c <= 0xEF) {
		n = 3;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
	} else
		return 0;
	if (avail < n)
		return 0;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if ((s[i] & 0xC0) != 0x80)
			return 0;
	return n;
}

int cat_utf8_check(const char *s, size_t len, struct err *e)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		size_t n = u[i] == 0 ? 0 : utf8_char_len(u + i, len - i);
		if (n == 0) {
			/* PostgreSQL's report_invalid_encoding: the bytes the
			 * first one announces, as far as the input goes. */
			char bytes[64] = "";
			size_t show = utf8_announced_len(u[i]), off = 0;
			if (show > len - i)
				show = len - i;
			for (size_t k = 0; k < show; k++)
				off += (size_t)snprintf(bytes + off, sizeof(bytes) - off,
						"%s0x%02x", k ? " " : "", u[i + k]);
			err_set(e, "22021",
				"invalid byte sequence for encoding \"UTF8\": %s", bytes);
			e->position = cat_char_pos(s, i);
			return -1;
		}
		i += n;
	}
	return 0;
}

size_t cat_quote_ident(const char *ident, char *buf, size_t size)
{
	int plain = (ident[0] >= 'a' && ident[0] <= 'z') || ident[0] == '_';
	size_t n = 0;

	for (const char *p = ident; *p && plain; p++)
		plain = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
			*p == '_' || *p == '$';
	if (plain && cat_is_reserved(ident))
		plain = 0;
	if (plain)
		return (size_t)snprintf(buf, size, "%s", ident);
#define PUT(ch) do { if (n + 1 < size) buf[n] = (ch); n++; } while (0)
	PUT('"');
	for (const char *p = ident; *p; p++) {
		if (*p == '"')
			PUT('"');
		PUT(*p);
	}
	PUT('"');
#undef PUT
	if (size)
		buf[n < size ? n : size - 1] = '\0';
	return n;
}

/* Copies at most `max` bytes of v, cut on a character boundary, "..."
 * appended when cut. */
static void clip_value(const char *v, size_t vlen, char *out, size_t size)
{
	const size_t max = 64;
	size_t n = vlen;

	if (n > max) {
		n = max;
		while (n > 0 && ((unsigned char)v[n] & 0xC0) == 0x80)
			n--;
	}
	snprintf(out, size, "%.*s%s", (int)n, v, n < vlen ? "..." : "");
}

void cat_tok_describe(const struct cat_token *tok, int hide_strings,
		      char *buf, size_t size)
{
	static const char *const punct[] = {
		[CAT_TOK_LPAREN] = "left parenthesis",
		[CAT_TOK_RPAREN] = "right parenthesis",
		[CAT_TOK_LBRACKET] = "left square bracket",
		[CAT_TOK_RBRACKET] = "right square bracket",
		[CAT_TOK_COMMA] = "comma",
		[CAT_TOK_DOT] = "dot",
		[CAT_TOK_SEMI] = "semicolon",
		[CAT_TOK_EQ] = "equals sign",
	};
	char v[80];

	switch (tok->kind) {
	case CAT_TOK_EOF:
		snprintf(buf, size, "EOF");
		return;
	case CAT_TOK_IDENT:
		if (!(tok->flags & CAT_TOKF_QUOTED) && cat_is_keyword(tok->val)) {
			size_t i;
			for (i = 0; tok->val[i] && i + 1 < size; i++)
				buf[i] = (char)((tok->val[i] >= 'a' && tok->val[i] <= 'z')
					? tok->val[i] - 32 : tok->val[i]);
			if (size)
				buf[i] = '\0';
			return;
		}
		clip_value(tok->val, tok->vlen, v, sizeof(v));
		snprintf(buf, size, "identifier \"%s\"", v);
		break;
	case CAT_TOK_STRING:
		if (hide_strings) {
			snprintf(buf, size, "string literal");
			return;
		}
		clip_value(tok->val, tok->vlen, v, sizeof(v));
		snprintf(buf, size, "string literal \"%s\"", v);
		break;
	case CAT_TOK_NUMBER:
		clip_value(tok->val, tok->vlen, v, sizeof(v));
		snprintf(buf, size, "number \"%s\"", v);
		break;
	case CAT_TOK_PARAM:
		snprintf(buf, size, "parameter \"$%u\"", tok->param);
		return;
	case CAT_TOK_OP:
		snprintf(buf, size, "operator \"%s\"", tok->val);
		return;
	default:
		snprintf(buf, size, "%s", punct[tok->kind]);
		return;
	}
	cat_utf8_trim(buf);
}

/* ---- the scanner ---- */

struct lexer {
	const char *sql;
	size_t len;
	struct cat_lexed *out;
	size_t cap;          /* token slots */
	size_t used;         /* arena bytes used */
	struct err *e;
};

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
	       c == '\v';
}

static int is_ident_start(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	       c >= 0x80;
}

static int is_ident_char(unsigned char c)
{
	return is_ident_start(c) || (c >= '0' && c <= '9') || c == '$';
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int lex_error(struct lexer *lx, size_t at, const char *state,
		     const char *msg)
{
	err_set(lx->e, state, "%s", msg);
	lx->e->position = cat_char_pos(lx->sql, at);
	return -1;
}

static struct cat_token *push(struct lexer *lx, enum cat_tok_kind kind,
			      size_t start, size_t end)
{
	struct cat_token *t;

	if (lx->out->ntoks == lx->cap) {
		size_t ncap = lx->cap ? lx->cap * 2 : 64;
		struct cat_token *nt = realloc(lx->out->toks, ncap * sizeof(*nt));
		if (!nt) {
			err_set(lx->e, "53200", "out of memory");
			return NULL;
		}
		lx->out->toks = nt;
		lx->cap = ncap;
	}
	t = &lx->out->toks[lx->out->ntoks++];
	memset(t, 0, sizeof(*t));
	t->kind = kind;
	t->start = start;
	t->end = end;
	t->val = "";
	return t;
}

/* Reserves n+1 arena bytes for a token value; the arena is sized so that
 * this never runs out (values are never longer than their spans). */
static char *arena_take(struct lexer *lx, size_t n)
{
	char *p = lx->out->arena + lx->used;

	if (n + 1 > lx->out->arena_size - lx->used)
		abort();   /* broken invariant, see cat_lex's sizing */
	lx->used += n + 1;
	p[n] = '\0';
	return p;
}

static int lex_ident(struct lexer *lx, size_t *ip)
{
	size_t i = *ip, start = i;
	struct cat_token *t;
	char *v;

	while (i < lx->len && is_ident_char((unsigned char)lx->sql[i]))
		i++;
	if (i - start > CAT_IDENT_MAX)
		return lex_error(lx, start, "42622", "identifier length exceeds 255 bytes");
	t = push(lx, CAT_TOK_IDENT, start, i);
	if (!t)
		return -1;
	v = arena_take(lx, i - start);
	for (size_t k = 0; k < i - start; k++) {
		char c = lx->sql[start + k];
		v[k] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
	}
	t->val = v;
	t->vlen = i - start;
	*ip = i;
	return 0;
}

static int lex_quoted_ident(struct lexer *lx, size_t *ip)
{
	size_t i = *ip + 1, start = *ip, n = 0;
	struct cat_token *t;
	char *v;

	/* First pass finds the end and the unescaped length. */
	for (;;) {
		if (i >= lx->len)
			return lex_error(lx, start, "42601", "unterminated quoted identifier");
		if (lx->sql[i] == '"') {
			if (i + 1 < lx->len && lx->sql[i + 1] == '"') {
				i += 2;
				n++;
				continue;
			}
			break;
		}
		i++;
		n++;
	}
	if (n == 0)
		return lex_error(lx, start, "42601", "zero-length delimited identifier");
	if (n > CAT_IDENT_MAX)
		return lex_error(lx, start, "42622", "identifier length exceeds 255 bytes");
	t = push(lx, CAT_TOK_IDENT, start, i + 1);
	if (!t)
		return -1;
	v = arena_take(lx, n);
	n = 0;
	for (size_t k = start + 1; k < i; k++) {
		v[n++] = lx->sql[k];
		if (lx->sql[k] == '"')
			k++;
	}
	if ((n == 1 && v[0] == '.') || (n == 2 && v[0] == '.' && v[1] == '.')) {
		lx->out->ntoks--;
		return lex_error(lx, start, "42601", n == 1 ? "invalid identifier \".\""
							  : "invalid identifier \"..\"");
	}
	t->val = v;
	t->vlen = n;
	t->flags = CAT_TOKF_QUOTED;
	*ip = i + 1;
	return 0;
}

/* Ends one '...' segment starting at *ip (the quote). Sets *ip past the
 * closing quote and adds its unescaped length to *n. */
static int scan_string_segment(struct lexer *lx, size_t *ip, size_t *n, size_t start)
{
	size_t i = *ip + 1;

	for (;;) {
		if (i >= lx->len)
			return lex_error(lx, start, "42601", "unterminated quoted string");
		if (lx->sql[i] == '\'') {
			if (i + 1 < lx->len && lx->sql[i + 1] == '\'') {
				i += 2;
				(*n)++;
				continue;
			}
			*ip = i + 1;
			return 0;
		}
		i++;
		(*n)++;
	}
}

/* After a segment ending at i: the start of the next segment if only
 * whitespace with a newline separates them (PostgreSQL's quotecontinue),
 * else 0. */
static size_t next_segment(struct lexer *lx, size_t i)
{
	int newline = 0;

	while (i < lx->len && is_space(lx->sql[i])) {
		if (lx->sql[i] == '\n' || lx->sql[i] == '\r')
			newline = 1;
		i++;
	}
	return newline && i < lx->len && lx->sql[i] == '\'' ? i : 0;
}

static int lex_string(struct lexer *lx, size_t *ip)
{
	size_t start = *ip, i = *ip, n = 0, end, seg;
	struct cat_token *t;
	char *v;

	for (;;) {
		if (scan_string_segment(lx, &i, &n, start))
			return -1;
		end = i;
		seg = next_segment(lx, i);
		if (!seg)
			break;
		i = seg;
	}
	t = push(lx, CAT_TOK_STRING, start, end);
	if (!t)
		return -1;
	v = arena_take(lx, n);
	/* Second pass copies the segments' contents. */
	n = 0;
	i = start;
	while (i < end) {
		if (lx->sql[i] != '\'') {   /* whitespace between segments */
			i++;
			continue;
		}
		for (i++;; i++) {
			if (lx->sql[i] == '\'') {
				if (i + 1 < end && lx->sql[i + 1] == '\'') {
					v[n++] = '\'';
					i++;
					continue;
				}
				i++;
				break;
			}
			v[n++] = lx->sql[i];
		}
	}
	t->val = v;
	t->vlen = n;
	*ip = end;
	return 0;
}

static int lex_number(struct lexer *lx, size_t *ip)
{
	size_t i = *ip, start = i;
	int integer = 1;
	struct cat_token *t;
	char *v;

	while (i < lx->len && is_digit(lx->sql[i]))
		i++;
	/* "1.5", "1." and ".5", but "1..2" is 1 then a range (PostgreSQL). */
	if (i < lx->len && lx->sql[i] == '.' &&
	    !(i + 1 < lx->len && lx->sql[i + 1] == '.')) {
		integer = 0;
		i++;
		while (i < lx->len && is_digit(lx->sql[i]))
			i++;
	}
	if (i < lx->len && (lx->sql[i] == 'e' || lx->sql[i] == 'E')) {
		size_t j = i + 1;
		if (j < lx->len && (lx->sql[j] == '+' || lx->sql[j] == '-'))
			j++;
		if (j < lx->len && is_digit(lx->sql[j])) {
			integer = 0;
			i = j;
			while (i < lx->len && is_digit(lx->sql[i]))
				i++;
		}
	}
	t = push(lx, CAT_TOK_NUMBER, start, i);
	if (!t)
		return -1;
	v = arena_take(lx, i - start);
	memcpy(v, lx->sql + start, i - start);
	t->val = v;
	t->vlen = i - start;
	t->flags = integer ? CAT_TOKF_INTEGER : 0;
	*ip = i;
	return 0;
}

static int lex_dollar(struct lexer *lx, size_t *ip)
{
	size_t i = *ip + 1, start = *ip;
	uint32_t n = 0;
	struct cat_token *t;

	if (i < lx->len && is_digit(lx->sql[i])) {
		while (i < lx->len && is_digit(lx->sql[i])) {
			if (n <= 65535)
				n = n * 10 + (uint32_t)(lx->sql[i] - '0');
			i++;
		}
		if (n == 0 || n > 65535)
			return lex_error(lx, start, "42P02",
					 n == 0 ? "there is no parameter $0"
						: "parameter number too large");
		t = push(lx, CAT_TOK_PARAM, start, i);
		if (!t)
			return -1;
		t->param = n;
		*ip = i;
		return 0;
	}
	/* $$...$$ or $tag$...$tag$ */
	while (i < lx->len && is_ident_char((unsigned char)lx->sql[i]) &&
	       lx->sql[i] != '$')
		i++;
	if (i < lx->len && lx->sql[i] == '$')
		return lex_error(lx, start, "0A000",
				 "$$...$$ string literals are not supported");
	return lex_error(lx, start, "42601", "unexpected character in input: $");
}

static int skip_block_comment(struct lexer *lx, size_t *ip)
{
	size_t i = *ip + 2, start = *ip;
	size_t depth = 1;

	while (i < lx->len) {
		if (lx->sql[i] == '/' && i + 1 < lx->len && lx->sql[i + 1] == '*') {
			depth++;
			i += 2;
		} else if (lx->sql[i] == '*' && i + 1 < lx->len && lx->sql[i + 1] == '/') {
			i += 2;
			if (--depth == 0) {
				*ip = i;
				return 0;
			}
		} else
			i++;
	}
	return lex_error(lx, start, "42601", "unterminated multiline comment");
}

static const struct {
	const char *text;
	enum cat_tok_kind kind;
} cat_operators[] = {
	/* two-character ones first: longest match */
	{ "||", CAT_TOK_OP }, { "<=", CAT_TOK_OP }, { ">=", CAT_TOK_OP },
	{ "<>", CAT_TOK_OP }, { "!=", CAT_TOK_OP }, { "::", CAT_TOK_OP },
	{ "<", CAT_TOK_OP }, { ">", CAT_TOK_OP }, { "+", CAT_TOK_OP },
	{ "-", CAT_TOK_OP }, { "*", CAT_TOK_OP }, { "/", CAT_TOK_OP },
	{ "%", CAT_TOK_OP },
	{ "(", CAT_TOK_LPAREN }, { ")", CAT_TOK_RPAREN },
	{ "[", CAT_TOK_LBRACKET }, { "]", CAT_TOK_RBRACKET },
	{ ",", CAT_TOK_COMMA }, { ".", CAT_TOK_DOT }, { ";", CAT_TOK_SEMI },
	{ "=", CAT_TOK_EQ },
};

static int lex_operator(struct lexer *lx, size_t *ip)
{
	size_t i = *ip;

	for (size_t k = 0; k < sizeof(cat_operators) / sizeof(cat_operators[0]); k++) {
		size_t n = strlen(cat_operators[k].text);
		struct cat_token *t;
		if (n > lx->len - i || memcmp(lx->sql + i, cat_operators[k].text, n))
			continue;
		t = push(lx, cat_operators[k].kind, i, i + n);
		if (!t)
			return -1;
		if (t->kind == CAT_TOK_OP)
			t->val = cat_operators[k].text;
		*ip = i + n;
		return 0;
	}
	err_set(lx->e, "42601", "unexpected character in input: %c", lx->sql[i]);
	lx->e->position = cat_char_pos(lx->sql, i);
	return -1;
}

static int lex_one(struct lexer *lx, size_t *ip)
{
	size_t i = *ip;
	char c = lx->sql[i], next = i + 1 < lx->len ? lx->sql[i + 1] : '\0';

	if (is_space(c)) {
		*ip = i + 1;
		return 0;
	}
	if (c == '-' && next == '-') {
		while (i < lx->len && lx->sql[i] != '\n')
			i++;
		*ip = i;
		return 0;
	}
	if (c == '/' && next == '*')
		return skip_block_comment(lx, ip);
	if ((c == 'e' || c == 'E') && next == '\'')
		return lex_error(lx, i, "0A000", "E'...' string literals are not supported");
	if ((c == 'x' || c == 'X') && next == '\'')
		return lex_error(lx, i, "0A000", "X'...' string literals are not supported");
	if (is_ident_start((unsigned char)c))
		return lex_ident(lx, ip);
	if (is_digit(c) || (c == '.' && is_digit(next)))
		return lex_number(lx, ip);
	if (c == '\'')
		return lex_string(lx, ip);
	if (c == '"')
		return lex_quoted_ident(lx, ip);
	if (c == '$')
		return lex_dollar(lx, ip);
	return lex_operator(lx, ip);
}

int cat_lex(const char *sql, size_t len, struct cat_lexed *out, struct err *e)
{
	struct lexer lx = { .sql = sql, .len = len, .out = out, .e = e };
	size_t i = 0;

	memset(out, 0, sizeof(*out));
	if (cat_utf8_check(sql, len, e))
		return -1;
	/* Every token value fits in its span plus a NUL, and spans do not
	 * overlap, so 2 * len + 1 bytes always suffice. */
	if (len > (SIZE_MAX - 1) / 2)
		return err_set(e, "54000", "statement is too long");
	out->arena_size = 2 * len + 1;
	out->arena = malloc(out->arena_size);
	if (!out->arena)
		return err_set(e, "53200", "out of memory");
	while (i < len) {
		if (lex_one(&lx, &i)) {
			cat_lex_free(out);
			return -1;
		}
	}
	if (!push(&lx, CAT_TOK_EOF, len, len)) {
		cat_lex_free(out);
		return -1;
	}
	return 0;
}

void cat_lex_free(struct cat_lexed *lx)
{
	if (lx->arena) {
		explicit_bzero(lx->arena, lx->arena_size);
		free(lx->arena);
	}
	free(lx->toks);
	memset(lx, 0, sizeof(*lx));
}
