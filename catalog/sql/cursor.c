/* The token cursor every statement parser is written against (peek, next,
 * accept/expect of multi-word keywords, names, error messages in
 * Materialize's `Expected ..., found ...` form), plus the small arena and
 * text buffer the parser uses. */
#include "parse.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- arena ---- */

struct cat_arena_chunk {
	struct cat_arena_chunk *next;
	size_t size, used;
	max_align_t data[];
};

void *cat_arena_alloc(struct cat_arena *a, size_t n)
{
	struct cat_arena_chunk *c = a->head;
	const size_t align = sizeof(max_align_t);
	size_t need = (n + align - 1) / align * align;
	void *ptr;

	if (need < n)
		return NULL;
	if (!c || c->size - c->used < need) {
		size_t size = need > 16384 ? need : 16384;
		c = malloc(sizeof(*c) + size);
		if (!c)
			return NULL;
		c->size = size;
		c->used = 0;
		c->next = a->head;
		a->head = c;
	}
	ptr = (char *)c->data + c->used;
	c->used += need;
	memset(ptr, 0, n);
	return ptr;
}

void cat_arena_free(struct cat_arena *a)
{
	while (a->head) {
		struct cat_arena_chunk *next = a->head->next;
		explicit_bzero(a->head->data, a->head->used);
		free(a->head);
		a->head = next;
	}
}

/* ---- text buffer ---- */

void cat_sb_put(struct cat_sbuf *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	if (n + 1 > b->cap - b->len || !b->s) {
		size_t cap = b->cap ? b->cap : 256;
		char *ns;
		while (cap - b->len < n + 1) {
			if (cap > SIZE_MAX / 2) {
				b->failed = 1;
				return;
			}
			cap *= 2;
		}
		ns = realloc(b->s, cap);
		if (!ns) {
			b->failed = 1;
			return;
		}
		b->s = ns;
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

void cat_sb_puts(struct cat_sbuf *b, const char *s)
{
	cat_sb_put(b, s, strlen(s));
}

void cat_sb_printf(struct cat_sbuf *b, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		b->failed = 1;
		return;
	}
	cat_sb_put(b, tmp, (size_t)n);
}

void cat_sb_free(struct cat_sbuf *b)
{
	free(b->s);
	memset(b, 0, sizeof(*b));
}

char *cat_sb_take(struct cat_sbuf *b, struct err *e)
{
	char *s;

	if (!b->failed && !b->s)
		cat_sb_put(b, "", 0);
	if (b->failed) {
		cat_sb_free(b);
		err_set(e, "53200", "out of memory");
		return NULL;
	}
	s = b->s;
	memset(b, 0, sizeof(*b));
	return s;
}

/* ---- cursor ---- */

const struct cat_token *cat_p_peek(struct cat_parser *p)
{
	return &p->toks[p->pos < p->end ? p->pos : p->end];
}

const struct cat_token *cat_p_peek_n(struct cat_parser *p, size_t n)
{
	size_t i = p->pos + n;

	return &p->toks[i < p->end ? i : p->end];
}

const struct cat_token *cat_p_next(struct cat_parser *p)
{
	const struct cat_token *t = cat_p_peek(p);

	if (p->pos < p->end)
		p->pos++;
	return t;
}

int cat_p_at_end(struct cat_parser *p)
{
	return p->pos >= p->end;
}

/* Number of words of `kws` that match at the cursor, and their count. */
static int kw_match(struct cat_parser *p, const char *kws, size_t *nwords)
{
	char word[64];
	size_t i = 0, n = 0;
	const char *s = kws;

	while (*s) {
		const char *sp = strchr(s, ' ');
		size_t wl = sp ? (size_t)(sp - s) : strlen(s);
		if (wl >= sizeof(word))
			return 0;
		memcpy(word, s, wl);
		word[wl] = '\0';
		if (!cat_tok_is_kw(cat_p_peek_n(p, i), word))
			return 0;
		i++;
		n++;
		s += wl;
		while (*s == ' ')
			s++;
	}
	*nwords = n;
	return 1;
}

int cat_p_peek_kw(struct cat_parser *p, const char *kws)
{
	size_t n;

	return kw_match(p, kws, &n);
}

int cat_p_accept_kw(struct cat_parser *p, const char *kws)
{
	size_t n;

	if (!kw_match(p, kws, &n))
		return 0;
	p->pos += n;
	return 1;
}

int cat_p_expect_kw(struct cat_parser *p, const char *kws)
{
	char word[64];
	const char *s = kws;

	/* Word by word so the message names the word that is missing. */
	while (*s) {
		const char *sp = strchr(s, ' ');
		size_t wl = sp ? (size_t)(sp - s) : strlen(s);
		if (wl >= sizeof(word))
			return cat_p_error_expected(p, kws);
		memcpy(word, s, wl);
		word[wl] = '\0';
		if (!cat_p_accept_kw(p, word))
			return cat_p_error_expected(p, word);
		s += wl;
		while (*s == ' ')
			s++;
	}
	return 0;
}

int cat_p_accept_one_of(struct cat_parser *p, const char *const *kws, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (cat_p_accept_kw(p, kws[i]))
			return (int)i;
	return -1;
}

int cat_p_expect_one_of(struct cat_parser *p, const char *const *kws, size_t n)
{
	char what[512];
	size_t off;
	int i = cat_p_accept_one_of(p, kws, n);

	if (i >= 0)
		return i;
	off = (size_t)snprintf(what, sizeof(what), "one of");
	for (size_t k = 0; k < n && off < sizeof(what); k++)
		off += (size_t)snprintf(what + off, sizeof(what) - off, "%s %s",
					k ? " or" : "", kws[k]);
	cat_p_error_expected(p, what);
	return -1;
}

int cat_p_accept_tok(struct cat_parser *p, enum cat_tok_kind kind)
{
	if (cat_p_peek(p)->kind != kind)
		return 0;
	cat_p_next(p);
	return 1;
}

int cat_p_accept_op(struct cat_parser *p, const char *op)
{
	const struct cat_token *t = cat_p_peek(p);

	if (t->kind != CAT_TOK_OP || strcmp(t->val, op) != 0)
		return 0;
	cat_p_next(p);
	return 1;
}

int cat_p_expect_tok(struct cat_parser *p, enum cat_tok_kind kind, const char *what)
{
	if (cat_p_accept_tok(p, kind))
		return 0;
	return cat_p_error_expected(p, what);
}

int cat_p_error_at(struct cat_parser *p, const struct cat_token *tok,
		   const char *sqlstate, const char *fmt, ...)
{
	char msg[sizeof(p->e->message)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cat_utf8_trim(msg);
	err_set(p->e, sqlstate, "%s", msg);
	if (tok)
		p->e->position = cat_char_pos(p->sql, tok->start);
	return -1;
}

int cat_p_error_expected(struct cat_parser *p, const char *what)
{
	const struct cat_token *t = cat_p_peek(p);
	char found[160];

	cat_tok_describe(t, p->hide_strings, found, sizeof(found));
	return cat_p_error_at(p, t, "42601", "Expected %s, found %s", what, found);
}

int cat_p_expect_end(struct cat_parser *p)
{
	if (cat_p_at_end(p))
		return 0;
	return cat_p_error_expected(p, "end of statement");
}

int cat_p_is_ident(const struct cat_token *t)
{
	if (t->kind != CAT_TOK_IDENT)
		return 0;
	return (t->flags & CAT_TOKF_QUOTED) || !cat_is_reserved(t->val);
}

int cat_p_parse_ident(struct cat_parser *p, char out[CAT_IDENT_MAX + 1])
{
	const struct cat_token *t = cat_p_peek(p);

	if (!cat_p_is_ident(t))
		return cat_p_error_expected(p, "identifier");
	/* The lexer bounds identifiers to CAT_IDENT_MAX bytes. */
	memcpy(out, t->val, t->vlen);
	out[t->vlen] = '\0';
	cat_p_next(p);
	return 0;
}

void cat_name_format(const struct cat_name *n, char *buf, size_t size)
{
	size_t off = 0;

	if (size)
		buf[0] = '\0';
	for (int i = 0; i < n->nparts && off < size; i++) {
		if (i)
			off += (size_t)snprintf(buf + off, size - off, ".");
		if (off < size)
			off += cat_quote_ident(n->parts[i], buf + off, size - off);
	}
	cat_utf8_trim(buf);
}

int cat_p_parse_name(struct cat_parser *p, struct cat_name *out, int maxparts)
{
	const struct cat_token *first = cat_p_peek(p);
	struct cat_name all;   /* up to 3 parts kept; more only counted */
	int n = 0;

	memset(out, 0, sizeof(*out));
	memset(&all, 0, sizeof(all));
	for (;;) {
		char part[CAT_IDENT_MAX + 1];
		if (cat_p_parse_ident(p, part))
			return -1;
		if (n < 3)
			memcpy(all.parts[n], part, sizeof(part));
		n++;
		if (cat_p_peek(p)->kind != CAT_TOK_DOT)
			break;
		cat_p_next(p);
	}
	if (n > maxparts) {
		/* Reprint the whole name from its tokens for the message. */
		char text[400];
		size_t off = 0;
		for (size_t i = (size_t)(first - p->toks); i < p->pos && off < sizeof(text); i++) {
			const struct cat_token *t = &p->toks[i];
			if (t->kind == CAT_TOK_DOT)
				off += (size_t)snprintf(text + off, sizeof(text) - off, ".");
			else
				off += cat_quote_ident(t->val, text + off, sizeof(text) - off);
		}
		return cat_p_error_at(p, first, "42601",
				      "qualified name did not have between 1 and %d components: %s",
				      maxparts, text);
	}
	all.nparts = n;
	*out = all;
	return 0;
}

int cat_p_enter(struct cat_parser *p)
{
	if (++p->depth > CAT_MAX_DEPTH)
		return cat_p_error_at(p, cat_p_peek(p), "54001",
				      "statement is too deeply nested");
	return 0;
}

void cat_p_leave(struct cat_parser *p)
{
	p->depth--;
}
