/* Connection statements (SQL.md 3, 4, 5): CREATE CONNECTION ... TO <type>
 * (options), ALTER CONNECTION actions, VALIDATE CONNECTION, SHOW [REDACTED]
 * CREATE CONNECTION, COMMENT ON. Option names are multi-word keywords found
 * by longest match against every descriptor's names (tether_conn), so the
 * parser accepts any option of any type and the planner says which type
 * does not support it; commas between options are optional (SQL.md 1.1). */
#include "parser_conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "descriptor.h"
#include "parser_rbac.h"

#define MAX_CHAIN_TERMS 8
#define MAX_WORDS 8

static int oom(struct cat_parser *p)
{
	return err_set(p->e, "53200", "out of memory");
}

static int pos_of(struct cat_parser *p, const struct cat_token *t)
{
	return cat_char_pos(p->sql, t->start);
}

static char *tok_dup(struct cat_parser *p, const struct cat_token *t, const char *prefix)
{
	size_t pl = strlen(prefix);
	char *s = malloc(pl + t->vlen + 1);

	if (!s) {
		oom(p);
		return NULL;
	}
	memcpy(s, prefix, pl);
	memcpy(s + pl, t->val, t->vlen);
	s[pl + t->vlen] = '\0';
	return s;
}

/* ---- freeing ---- */

static void value_free(struct cat_conn_value *v)
{
	free(v->text);
	free(v->az);
	free(v->port);
	for (size_t i = 0; i < v->nitems; i++)
		value_free(&v->items[i]);
	free(v->items);
	memset(v, 0, sizeof(*v));
}

static void options_free(struct cat_conn_option *o, size_t n)
{
	for (size_t i = 0; i < n; i++)
		value_free(&o[i].value);
	free(o);
}

void cat_conn_stmt_free(struct cat_conn_stmt *cs)
{
	if (!cs)
		return;
	options_free(cs->opts, cs->nopts);
	for (size_t i = 0; i < cs->nactions; i++)
		options_free(cs->actions[i].opts, cs->actions[i].nopts);
	free(cs->actions);
	free(cs->comment);
	free(cs);
}

static struct cat_conn_stmt *conn_of(struct cat_parser *p, struct cat_stmt *st)
{
	if (!st->conn && !(st->conn = calloc(1, sizeof(*st->conn))))
		oom(p);
	return st->conn;
}

/* ---- option names: longest match over every descriptor's names ---- */

/* Does token t spell word w? Option names hold numbers (PUBLIC KEY 1). */
static int word_is(const struct cat_token *t, const char *w, size_t wl)
{
	if (t->kind == CAT_TOK_IDENT && !(t->flags & CAT_TOKF_QUOTED))
		return t->vlen == wl && !strncasecmp(t->val, w, wl);
	if (t->kind == CAT_TOK_NUMBER)
		return t->vlen == wl && !strncmp(t->val, w, wl);
	return 0;
}

/* Words of `name` that match from the cursor (stops at the first miss);
 * *total receives the number of words of the name. */
static size_t name_prefix(struct cat_parser *p, const char *name, size_t *total)
{
	size_t matched = 0, n = 0, k = 0;
	const char *s = name;
	int alive = 1;

	while (*s) {
		size_t wl = strcspn(s, " ");
		if (alive && word_is(cat_p_peek_n(p, k), s, wl))
			matched++;
		else
			alive = 0;
		k++;
		n++;
		s += wl;
		while (*s == ' ')
			s++;
	}
	*total = n;
	return matched;
}

/* Word number `idx` of name into buf. */
static void name_word(const char *name, size_t idx, char *buf, size_t size)
{
	const char *s = name;

	for (size_t i = 0; i < idx && *s; i++) {
		s += strcspn(s, " ");
		while (*s == ' ')
			s++;
	}
	snprintf(buf, size, "%.*s", (int)strcspn(s, " "), s);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* `Expected one of A or B ..., found x` listing the distinct next words of
 * the names that match `depth` words, sorted (Materialize lists the
 * keywords one word at a time). */
static int option_name_error(struct cat_parser *p, size_t depth, const char *extra)
{
	size_t nnames;
	const char *const *names = conn_opt_names(&nnames);
	char words[64][40];
	const char *sorted[64];
	size_t nw = 0;
	char what[512];
	size_t off;

	for (size_t i = 0; i < nnames && nw < 64; i++) {
		size_t total, m = name_prefix(p, names[i], &total);
		char w[40];
		int dup = 0;
		if (m < depth || total <= depth)
			continue;
		name_word(names[i], depth, w, sizeof(w));
		for (size_t k = 0; k < nw; k++)
			dup |= !strcmp(words[k], w);
		if (!dup) {
			snprintf(words[nw], sizeof(words[nw]), "%s", w);
			sorted[nw] = words[nw];
			nw++;
		}
	}
	qsort(sorted, nw, sizeof(sorted[0]), cmp_str);
	off = (size_t)snprintf(what, sizeof(what), "one of");
	for (size_t k = 0; k < nw && off < sizeof(what); k++)
		off += (size_t)snprintf(what + off, sizeof(what) - off, "%s %s", k ? " or" : "",
					sorted[k]);
	if (extra && off < sizeof(what))
		snprintf(what + off, sizeof(what) - off, " or %s", extra);
	p->pos += depth;
	return cat_p_error_expected(p, what);
}

static const char *const newer_options[] = {
	"GCP CONNECTION", "ACCESS DELEGATION", "OAUTH2 SERVER URL", "STORAGE PROVIDER",
};

/* Reads an option name at the cursor into out (canonical). 0, or -1 with
 * `Expected one of ...`. */
static int parse_option_name(struct cat_parser *p, char out[48], int *position)
{
	size_t nnames;
	const char *const *names = conn_opt_names(&nnames);
	size_t best = 0, best_words = 0, deepest = 0;
	int found = 0;

	*position = pos_of(p, cat_p_peek(p));
	/* Newer Materialize options the seed does not have (SQL.md 3). */
	for (size_t i = 0; i < sizeof(newer_options) / sizeof(newer_options[0]); i++)
		if (cat_p_peek_kw(p, newer_options[i]))
			return cat_p_error_at(p, cat_p_peek(p), "0A000", "%s is not supported",
					      newer_options[i]);
	for (size_t i = 0; i < nnames; i++) {
		size_t total, m = name_prefix(p, names[i], &total);
		if (m > deepest)
			deepest = m;
		if (m == total && total > best_words) {
			best = i;
			best_words = total;
			found = 1;
		}
	}
	if (!found)
		return option_name_error(p, deepest, NULL);
	p->pos += best_words;
	snprintf(out, 48, "%s", conn_opts[conn_opt_by_name(names[best])].name);
	return 0;
}

/* Is the cursor at the first word of some option name? */
static int at_option_word(struct cat_parser *p)
{
	size_t nnames, total;
	const char *const *names = conn_opt_names(&nnames);

	for (size_t i = 0; i < nnames; i++)
		if (name_prefix(p, names[i], &total) > 0)
			return 1;
	return 0;
}

/* ---- values (SQL.md 4.1) ---- */

static int parse_value(struct cat_parser *p, struct cat_conn_value *v);

static int push_item(struct cat_parser *p, struct cat_conn_value *v, struct cat_conn_value *item)
{
	struct cat_conn_value *n = realloc(v->items, (v->nitems + 1) * sizeof(*n));

	if (!n) {
		value_free(item);
		return oom(p);
	}
	v->items = n;
	v->items[v->nitems++] = *item;
	memset(item, 0, sizeof(*item));
	return 0;
}

static int at_secret_ref(struct cat_parser *p)
{
	return cat_tok_is_kw(cat_p_peek(p), "SECRET") && cat_p_is_ident(cat_p_peek_n(p, 1));
}

static int parse_secret_ref(struct cat_parser *p, struct cat_conn_value *v)
{
	v->kind = CAT_CV_SECRET;
	v->position = pos_of(p, cat_p_peek(p));
	cat_p_next(p);
	return cat_p_parse_name(p, &v->name, 3);
}

/* term { || term } after the first term (already in v). */
static int parse_chain_rest(struct cat_parser *p, struct cat_conn_value *v)
{
	struct cat_conn_value first, chain;

	if (!(cat_p_peek(p)->kind == CAT_TOK_OP && !strcmp(cat_p_peek(p)->val, "||")))
		return 0;
	first = *v;
	memset(&chain, 0, sizeof(chain));
	chain.kind = CAT_CV_CHAIN;
	chain.position = first.position;
	*v = chain;
	if (push_item(p, v, &first) < 0)
		return -1;
	while (cat_p_accept_op(p, "||")) {
		struct cat_conn_value term = { 0 };
		const struct cat_token *t = cat_p_peek(p);

		if (v->nitems >= MAX_CHAIN_TERMS)
			return cat_p_error_at(p, t, "54000", "|| chains can have at most %d terms",
					      MAX_CHAIN_TERMS);
		if (t->kind == CAT_TOK_STRING) {
			term.kind = CAT_CV_STRING;
			term.position = pos_of(p, t);
			if (!(term.text = tok_dup(p, t, "")))
				return -1;
			cat_p_next(p);
		} else if (at_secret_ref(p)) {
			if (parse_secret_ref(p, &term) < 0) {
				value_free(&term);
				return -1;
			}
		} else {
			return cat_p_error_expected(p, "string literal or SECRET");
		}
		if (push_item(p, v, &term) < 0)
			return -1;
	}
	return 0;
}

static int parse_list(struct cat_parser *p, struct cat_conn_value *v,
		      int (*item)(struct cat_parser *, struct cat_conn_value *))
{
	const struct cat_token *t = cat_p_peek(p);
	enum cat_tok_kind close = t->kind == CAT_TOK_LBRACKET ? CAT_TOK_RBRACKET : CAT_TOK_RPAREN;

	v->kind = CAT_CV_LIST;
	v->position = pos_of(p, t);
	cat_p_next(p);
	if (cat_p_enter(p) < 0)
		return -1;
	if (!cat_p_accept_tok(p, close)) {
		do {
			struct cat_conn_value it = { 0 };
			if (item(p, &it) < 0) {
				value_free(&it);
				return -1;
			}
			if (push_item(p, v, &it) < 0)
				return -1;
		} while (cat_p_accept_tok(p, CAT_TOK_COMMA));
		if (cat_p_expect_tok(p, close, close == CAT_TOK_RPAREN ? "right parenthesis" :
				     "right square bracket") < 0)
			return -1;
	}
	cat_p_leave(p);
	return 0;
}

static int parse_value(struct cat_parser *p, struct cat_conn_value *v)
{
	const struct cat_token *t = cat_p_peek(p);

	v->position = pos_of(p, t);
	switch (t->kind) {
	case CAT_TOK_LPAREN:
	case CAT_TOK_LBRACKET:
		return parse_list(p, v, parse_value);
	case CAT_TOK_STRING:
		v->kind = CAT_CV_STRING;
		if (!(v->text = tok_dup(p, t, "")))
			return -1;
		cat_p_next(p);
		return parse_chain_rest(p, v);
	case CAT_TOK_NUMBER:
		v->kind = CAT_CV_NUMBER;
		if (!(v->text = tok_dup(p, t, "")))
			return -1;
		cat_p_next(p);
		return 0;
	case CAT_TOK_PARAM:
		return cat_p_error_at(p, t, "0A000", "parameters are not allowed in DDL statements");
	case CAT_TOK_OP:
		if (!strcmp(t->val, "-") && cat_p_peek_n(p, 1)->kind == CAT_TOK_NUMBER) {
			cat_p_next(p);
			v->kind = CAT_CV_NUMBER;
			if (!(v->text = tok_dup(p, cat_p_peek(p), "-")))
				return -1;
			cat_p_next(p);
			return 0;
		}
		break;
	case CAT_TOK_IDENT:
		if (at_secret_ref(p)) {
			if (parse_secret_ref(p, v) < 0)
				return -1;
			return parse_chain_rest(p, v);
		}
		if (cat_tok_is_kw(t, "TRUE") || cat_tok_is_kw(t, "FALSE")) {
			v->kind = CAT_CV_BOOL;
			v->boolval = cat_tok_is_kw(t, "TRUE");
			cat_p_next(p);
			return 0;
		}
		if (cat_tok_is_kw(t, "NULL")) {
			v->kind = CAT_CV_NULL;
			cat_p_next(p);
			return 0;
		}
		if (cat_p_is_ident(t)) {
			v->kind = CAT_CV_NAME;
			v->quoted = (t->flags & CAT_TOKF_QUOTED) != 0;
			return cat_p_parse_name(p, &v->name, 3);
		}
		break;
	default:
		break;
	}
	return cat_p_error_expected(p, "option value");
}

/* PORT [=] [-]integer inside a tunnel's parentheses. */
static int parse_port(struct cat_parser *p, struct cat_conn_value *v)
{
	const struct cat_token *t;
	const char *sign = "";

	cat_p_accept_tok(p, CAT_TOK_EQ);
	t = cat_p_peek(p);
	if (t->kind == CAT_TOK_OP && !strcmp(t->val, "-") &&
	    cat_p_peek_n(p, 1)->kind == CAT_TOK_NUMBER) {
		sign = "-";
		cat_p_next(p);
		t = cat_p_peek(p);
	}
	if (t->kind != CAT_TOK_NUMBER)
		return cat_p_error_expected(p, "literal integer");
	if (v->port)
		return cat_p_error_at(p, t, "42601", "PORT specified more than once");
	v->port_position = pos_of(p, t);
	if (!(v->port = tok_dup(p, t, sign)))
		return -1;
	cat_p_next(p);
	return 0;
}

/* broker ::= [=] string [ USING tunnel ] (SQL.md 5.5) */
static int parse_broker(struct cat_parser *p, struct cat_conn_value *v)
{
	static const char *const tunnels[] = { "AWS PRIVATELINK", "SSH TUNNEL" };
	const struct cat_token *t = cat_p_peek(p);

	v->kind = CAT_CV_BROKER;
	v->position = pos_of(p, t);
	if (t->kind != CAT_TOK_STRING)
		return cat_p_error_expected(p, "literal string");
	if (!(v->text = tok_dup(p, t, "")))
		return -1;
	cat_p_next(p);
	if (!cat_p_accept_kw(p, "USING"))
		return 0;
	switch (cat_p_expect_one_of(p, tunnels, 2)) {
	case 0:
		v->tunnel = CAT_TUNNEL_PRIVATELINK;
		if (cat_p_parse_name(p, &v->name, 3) < 0)
			return -1;
		if (!cat_p_accept_tok(p, CAT_TOK_LPAREN))
			return 0;
		do {
			static const char *const plopts[] = { "AVAILABILITY ZONE", "PORT" };
			const struct cat_token *at;
			switch (cat_p_expect_one_of(p, plopts, 2)) {
			case 0:
				cat_p_accept_tok(p, CAT_TOK_EQ);
				at = cat_p_peek(p);
				if (at->kind != CAT_TOK_STRING)
					return cat_p_error_expected(p, "literal string");
				if (v->az)
					return cat_p_error_at(p, at, "42601",
							      "AVAILABILITY ZONE specified more than once");
				if (!(v->az = tok_dup(p, at, "")))
					return -1;
				cat_p_next(p);
				break;
			case 1:
				if (parse_port(p, v) < 0)
					return -1;
				break;
			default:
				return -1;
			}
		} while (cat_p_accept_tok(p, CAT_TOK_COMMA));
		return cat_p_expect_tok(p, CAT_TOK_RPAREN, "right parenthesis");
	case 1:
		v->tunnel = CAT_TUNNEL_SSH;
		return cat_p_parse_name(p, &v->name, 3);
	default:
		return -1;
	}
}

/* AWS PRIVATELINK [=] name [ ( PORT [=] n ) ] at the top level. */
static int parse_privatelink(struct cat_parser *p, struct cat_conn_value *v)
{
	const struct cat_token *t = cat_p_peek(p);

	if (t->kind == CAT_TOK_LPAREN)
		return cat_p_error_at(p, t, "42601",
				      "AWS PRIVATELINK requires a connection name, e.g. AWS PRIVATELINK privatelink_svc (PORT 30292)");
	if (!cat_p_is_ident(t) || at_secret_ref(p))
		return parse_value(p, v);
	v->kind = CAT_CV_PRIVATELINK;
	v->position = pos_of(p, t);
	if (cat_p_parse_name(p, &v->name, 3) < 0)
		return -1;
	if (!cat_p_accept_tok(p, CAT_TOK_LPAREN))
		return 0;
	if (cat_p_expect_kw(p, "PORT") < 0 || parse_port(p, v) < 0)
		return -1;
	return cat_p_expect_tok(p, CAT_TOK_RPAREN, "right parenthesis");
}

/* One option: name [=] [value]. The token after the name is always its
 * value, even a keyword (SQL.md 1.1). */
static int parse_option(struct cat_parser *p, struct cat_conn_option *o)
{
	const struct cat_token *t;
	struct cat_conn_value *v = &o->value;

	if (parse_option_name(p, o->name, &o->position) < 0)
		return -1;
	cat_p_accept_tok(p, CAT_TOK_EQ);
	t = cat_p_peek(p);
	v->position = pos_of(p, t);
	if (t->kind == CAT_TOK_COMMA || t->kind == CAT_TOK_RPAREN || t->kind == CAT_TOK_EOF ||
	    t->kind == CAT_TOK_SEMI) {
		v->kind = CAT_CV_NONE;
		return 0;
	}
	if (!strcmp(o->name, "BROKER"))
		return parse_broker(p, v);
	if (!strcmp(o->name, "BROKERS")) {
		if (t->kind != CAT_TOK_LPAREN && t->kind != CAT_TOK_LBRACKET)
			return cat_p_error_expected(p, "left parenthesis");
		return parse_list(p, v, parse_broker);
	}
	if (!strcmp(o->name, "AWS PRIVATELINK"))
		return parse_privatelink(p, v);
	return parse_value(p, v);
}

/* '(' option {[,] option} ')' */
static int parse_options(struct cat_parser *p, struct cat_conn_option **out, size_t *n)
{
	size_t cap = 0;

	if (cat_p_expect_tok(p, CAT_TOK_LPAREN, "left parenthesis") < 0)
		return -1;
	for (;;) {
		if (*n == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			struct cat_conn_option *no = realloc(*out, ncap * sizeof(*no));
			if (!no)
				return oom(p);
			*out = no;
			cap = ncap;
		}
		memset(&(*out)[*n], 0, sizeof((*out)[0]));
		(*n)++;
		if (parse_option(p, &(*out)[*n - 1]) < 0)
			return -1;
		if (cat_p_accept_tok(p, CAT_TOK_RPAREN))
			return 0;
		if (cat_p_accept_tok(p, CAT_TOK_COMMA))
			continue;
		/* No comma: the next option must start here (SQL.md 1.1). */
		if (!at_option_word(p))
			return cat_p_error_expected(p, "option name or right parenthesis");
	}
}

/* '(' option_name {, option_name} ')' for RESET / DROP. */
static int parse_option_names(struct cat_parser *p, struct cat_conn_option **out, size_t *n)
{
	size_t cap = 0;

	if (cat_p_expect_tok(p, CAT_TOK_LPAREN, "left parenthesis") < 0)
		return -1;
	do {
		if (*n == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			struct cat_conn_option *no = realloc(*out, ncap * sizeof(*no));
			if (!no)
				return oom(p);
			*out = no;
			cap = ncap;
		}
		memset(&(*out)[*n], 0, sizeof((*out)[0]));
		(*n)++;
		if (parse_option_name(p, (*out)[*n - 1].name, &(*out)[*n - 1].position) < 0)
			return -1;
	} while (cat_p_accept_tok(p, CAT_TOK_COMMA));
	return cat_p_expect_tok(p, CAT_TOK_RPAREN, "right parenthesis");
}

/* WITH ( VALIDATE [[=] bool] ) */
static int parse_with(struct cat_parser *p, struct cat_conn_stmt *cs)
{
	const struct cat_token *t;

	if (!cat_p_accept_kw(p, "WITH"))
		return 0;
	if (cat_p_expect_tok(p, CAT_TOK_LPAREN, "left parenthesis") < 0 ||
	    cat_p_expect_kw(p, "VALIDATE") < 0)
		return -1;
	cs->has_validate = 1;
	cs->validate = 1;
	cat_p_accept_tok(p, CAT_TOK_EQ);
	t = cat_p_peek(p);
	if (t->kind != CAT_TOK_RPAREN) {
		if (cat_tok_is_kw(t, "TRUE") || cat_tok_is_kw(t, "FALSE"))
			cs->validate = cat_tok_is_kw(t, "TRUE");
		else if (t->kind == CAT_TOK_STRING || t->kind == CAT_TOK_NUMBER ||
			 t->kind == CAT_TOK_IDENT)
			return cat_p_error_at(p, t, "22023",
					      "invalid VALIDATE: cannot use value as boolean");
		else
			return cat_p_error_expected(p, "right parenthesis");
		cat_p_next(p);
	}
	if (cat_p_peek(p)->kind == CAT_TOK_COMMA)
		return cat_p_error_at(p, cat_p_peek(p), "42601",
				      "VALIDATE specified more than once");
	return cat_p_expect_tok(p, CAT_TOK_RPAREN, "right parenthesis");
}

/* ---- statements ---- */

/* Newer Materialize types (SQL.md 3 notes): 0A000, not a parse error. */
static const char *const unsupported_types[] = {
	"AWS GLUE SCHEMA REGISTRY", "GCP", "YUGABYTE",
};

int cat_parse_create_connection(struct cat_parser *p, struct cat_stmt *st)
{
	const char *kws[CONN_NTYPES];
	struct cat_conn_stmt *cs;
	const struct cat_token *t;
	int i;

	st->kind = CAT_STMT_CREATE_CONNECTION;
	st->object_kind = CAT_OBJ_CONNECTION;
	if (!(cs = conn_of(p, st)))
		return -1;
	st->if_not_exists = cat_p_accept_kw(p, "IF NOT EXISTS");
	if (cat_p_parse_name(p, &st->name, 3) < 0)
		return -1;
	if (cat_p_peek_kw(p, "FOR"))
		return cat_p_error_expected(p, "TO");
	if (cat_p_expect_kw(p, "TO") < 0)
		return -1;
	t = cat_p_peek(p);
	for (size_t k = 0; k < sizeof(unsupported_types) / sizeof(unsupported_types[0]); k++)
		if (cat_p_peek_kw(p, unsupported_types[k]))
			return cat_p_error_at(p, t, "0A000", "connection type %s is not supported",
					      unsupported_types[k]);
	/* Longest keyword first: AWS PRIVATELINK before AWS. */
	{
		size_t order[CONN_NTYPES], n = 0;
		for (size_t k = 0; k < CONN_NTYPES; k++)
			order[n++] = k;
		for (size_t a = 0; a < n; a++)
			for (size_t b = a + 1; b < n; b++)
				if (strlen(conn_types[order[b]].keyword) > strlen(conn_types[order[a]].keyword)) {
					size_t tmp = order[a];
					order[a] = order[b];
					order[b] = tmp;
				}
		for (size_t k = 0; k < n; k++)
			if (cat_p_accept_kw(p, conn_types[order[k]].keyword)) {
				snprintf(cs->type_kw, sizeof(cs->type_kw), "%s",
					 conn_types[order[k]].keyword);
				goto typed;
			}
	}
	for (size_t k = 0; k < CONN_NTYPES; k++)
		kws[k] = conn_types[k].keyword;
	i = cat_p_expect_one_of(p, kws, CONN_NTYPES);
	(void)i;
	return -1;
typed:
	if (parse_options(p, &cs->opts, &cs->nopts) < 0)
		return -1;
	return parse_with(p, cs);
}

int cat_parse_alter_connection(struct cat_parser *p, struct cat_stmt *st)
{
	static const char *const first[] = { "SET", "RESET", "DROP", "ROTATE KEYS", "RENAME", "OWNER" };
	static const char *const more[] = { "SET", "RESET", "DROP", "ROTATE KEYS" };
	struct cat_conn_stmt *cs;
	const struct cat_token *rotate = NULL;
	int k;

	st->object_kind = CAT_OBJ_CONNECTION;
	st->if_exists = cat_p_accept_kw(p, "IF EXISTS");
	if (cat_p_parse_name(p, &st->name, 3) < 0)
		return -1;
	if (cat_p_accept_kw(p, "OWNER"))
		return cat_parse_owner_to(p, st);
	st->kind = CAT_STMT_ALTER_CONNECTION;
	if (!(cs = conn_of(p, st)))
		return -1;
	if (cat_p_accept_kw(p, "RENAME")) {
		cs->rename = 1;
		if (cat_p_expect_kw(p, "TO") < 0 || cat_p_parse_ident(p, st->new_name) < 0)
			return -1;
		return parse_with(p, cs);
	}
	k = cat_p_expect_one_of(p, first, 6);
	for (;;) {
		struct cat_conn_action *a;
		const struct cat_token *t = &p->toks[p->pos - 1];

		if (k < 0)
			return -1;
		if (k == 4 || k == 5)   /* RENAME / OWNER after other actions */
			return cat_p_error_at(p, t, "42601", "Expected one of SET or RESET or DROP or ROTATE KEYS, found %s",
					      k == 4 ? "RENAME" : "OWNER");
		a = realloc(cs->actions, (cs->nactions + 1) * sizeof(*a));
		if (!a)
			return oom(p);
		cs->actions = a;
		a = &cs->actions[cs->nactions++];
		memset(a, 0, sizeof(*a));
		a->position = pos_of(p, t);
		if (k == 0) {
			a->kind = CAT_CA_SET;
			if (parse_options(p, &a->opts, &a->nopts) < 0)
				return -1;
		} else if (k == 1 || k == 2) {
			a->kind = CAT_CA_RESET;
			if (parse_option_names(p, &a->opts, &a->nopts) < 0)
				return -1;
		} else {
			a->kind = CAT_CA_ROTATE_KEYS;
			rotate = &p->toks[p->pos - 2];
		}
		if (!cat_p_accept_tok(p, CAT_TOK_COMMA))
			break;
		k = cat_p_expect_one_of(p, more, 4);
	}
	if (rotate && cs->nactions > 1)
		return cat_p_error_at(p, rotate, "42601",
				      "cannot specify any other actions alongside ALTER CONNECTION...ROTATE KEYS");
	if (parse_with(p, cs) < 0)
		return -1;
	if (rotate && cs->has_validate)
		return cat_p_error_at(p, rotate, "42601",
				      "ALTER CONNECTION...ROTATE KEYS does not support WITH (VALIDATE = %s)",
				      cs->validate ? "true" : "false");
	return 0;
}

int cat_parse_validate(struct cat_parser *p, struct cat_stmt *st)
{
	cat_p_next(p);
	if (cat_p_expect_kw(p, "CONNECTION") < 0)
		return -1;
	st->kind = CAT_STMT_VALIDATE_CONNECTION;
	st->object_kind = CAT_OBJ_CONNECTION;
	return cat_p_parse_name(p, &st->name, 3);
}

int cat_parse_show_create(struct cat_parser *p, struct cat_stmt *st)
{
	struct cat_conn_stmt *cs;

	st->kind = CAT_STMT_SHOW_CREATE_CONNECTION;
	st->object_kind = CAT_OBJ_CONNECTION;
	if (!(cs = conn_of(p, st)))
		return -1;
	cs->redacted = cat_p_accept_kw(p, "REDACTED");
	if (cat_p_expect_kw(p, "CREATE") < 0 || cat_p_expect_kw(p, "CONNECTION") < 0)
		return -1;
	return cat_p_parse_name(p, &st->name, 3);
}

int cat_parse_comment(struct cat_parser *p, struct cat_stmt *st)
{
	static const char *const kinds[] = { "CONNECTION", "SECRET" };
	struct cat_conn_stmt *cs;
	const struct cat_token *t;
	int k;

	cat_p_next(p);
	st->kind = CAT_STMT_COMMENT;
	if (!(cs = conn_of(p, st)))
		return -1;
	if (cat_p_expect_kw(p, "ON") < 0 || (k = cat_p_expect_one_of(p, kinds, 2)) < 0)
		return -1;
	st->object_kind = k == 0 ? CAT_OBJ_CONNECTION : CAT_OBJ_SECRET;
	if (cat_p_parse_name(p, &st->name, 3) < 0 || cat_p_expect_kw(p, "IS") < 0)
		return -1;
	t = cat_p_peek(p);
	if (cat_p_accept_kw(p, "NULL"))
		return 0;
	if (t->kind != CAT_TOK_STRING)
		return cat_p_error_expected(p, "literal string or NULL");
	if (!(cs->comment = tok_dup(p, t, "")))
		return -1;
	cat_p_next(p);
	return 0;
}
