/* Expression parser: PostgreSQL's operator precedence (OR < AND < NOT < IS
 * < comparison < BETWEEN/IN/LIKE < || < + - < * / % < unary < ::) over the
 * token cursor, building a cat_expr tree for the SQLite emitter and the
 * secret-value evaluator. Depth is bounded both while parsing (recursion)
 * and in the tree (its height), so hostile input fails cleanly. */
#include "parse.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static const struct {
	const char *name;
	struct cat_type type;
} cat_types[] = {
	{ "text", { "text", "TEXT", "text" } },
	{ "varchar", { "character varying", "TEXT", "varchar" } },
	{ "character varying", { "character varying", "TEXT", "varchar" } },
	{ "char", { "character", "TEXT", "bpchar" } },
	{ "character", { "character", "TEXT", "bpchar" } },
	{ "bpchar", { "character", "TEXT", "bpchar" } },
	{ "name", { "name", "TEXT", "name" } },
	{ "bytea", { "bytea", "BLOB", "bytea" } },
	{ "int", { "integer", "INTEGER", "int4" } },
	{ "int4", { "integer", "INTEGER", "int4" } },
	{ "integer", { "integer", "INTEGER", "int4" } },
	{ "int2", { "smallint", "INTEGER", "int2" } },
	{ "smallint", { "smallint", "INTEGER", "int2" } },
	{ "int8", { "bigint", "INTEGER", "int8" } },
	{ "bigint", { "bigint", "INTEGER", "int8" } },
	{ "oid", { "oid", "INTEGER", "oid" } },
	{ "numeric", { "numeric", "NUMERIC", "numeric" } },
	{ "decimal", { "numeric", "NUMERIC", "numeric" } },
	{ "real", { "real", "REAL", "float4" } },
	{ "float4", { "real", "REAL", "float4" } },
	{ "float", { "double precision", "REAL", "float8" } },
	{ "float8", { "double precision", "REAL", "float8" } },
	{ "double precision", { "double precision", "REAL", "float8" } },
	{ "bool", { "boolean", NULL, "bool" } },
	{ "boolean", { "boolean", NULL, "bool" } },
	{ "date", { "date", NULL, "date" } },
	{ "timestamp", { "timestamp without time zone", NULL, "timestamp" } },
	{ "timestamp without time zone", { "timestamp without time zone", NULL, "timestamp" } },
	{ "timestamptz", { "timestamp with time zone", NULL, "timestamptz" } },
	{ "timestamp with time zone", { "timestamp with time zone", NULL, "timestamptz" } },
	{ "interval", { "interval", NULL, "interval" } },
	{ "json", { "json", NULL, "json" } },
	{ "jsonb", { "jsonb", NULL, "jsonb" } },
	{ "uuid", { "uuid", NULL, "uuid" } },
	{ "regclass", { "regclass", NULL, "regclass" } },
	{ "regtype", { "regtype", NULL, "regtype" } },
	{ "regproc", { "regproc", NULL, "regproc" } },
};

const struct cat_type *cat_type_lookup(const char *name)
{
	for (size_t i = 0; i < sizeof(cat_types) / sizeof(cat_types[0]); i++)
		if (strcmp(cat_types[i].name, name) == 0)
			return &cat_types[i].type;
	return NULL;
}

static struct cat_expr *node(struct cat_parser *p, enum cat_expr_kind kind,
			     const struct cat_token *tok)
{
	struct cat_expr *x = cat_arena_alloc(&p->arena, sizeof(*x));

	if (!x) {
		err_set(p->e, "53200", "out of memory");
		return NULL;
	}
	x->kind = kind;
	x->tok = tok;
	x->depth = 1;
	return x;
}

/* Records child heights; fails when the tree gets too tall to walk
 * recursively (a + a + a ... is left-deep). */
static int grow(struct cat_parser *p, struct cat_expr *x, const struct cat_expr *child)
{
	if (child && child->depth + 1 > x->depth)
		x->depth = child->depth + 1;
	if (x->depth > CAT_MAX_TREE_DEPTH)
		return cat_p_error_at(p, x->tok, "54001", "statement is too deeply nested");
	return 0;
}

static struct cat_expr *binary(struct cat_parser *p, const char *op,
			       struct cat_expr *a, struct cat_expr *b)
{
	struct cat_expr *x = node(p, CAT_E_BINARY, a->tok);

	if (!x)
		return NULL;
	x->op = op;
	x->a = a;
	x->b = b;
	if (grow(p, x, a) || grow(p, x, b))
		return NULL;
	return x;
}

/* Comma-separated expressions up to (not including) the closing token. */
static int parse_list(struct cat_parser *p, struct cat_expr *x)
{
	size_t cap = 0;

	for (;;) {
		struct cat_expr *item = cat_parse_expr(p);
		if (!item)
			return -1;
		if (x->nlist == cap) {
			size_t ncap = cap ? cap * 2 : 4;
			struct cat_expr **nl = cat_arena_alloc(&p->arena, ncap * sizeof(*nl));
			if (!nl)
				return err_set(p->e, "53200", "out of memory");
			if (x->nlist)
				memcpy(nl, x->list, x->nlist * sizeof(*nl));
			x->list = nl;
			cap = ncap;
		}
		x->list[x->nlist++] = item;
		if (grow(p, x, item))
			return -1;
		if (!cat_p_accept_tok(p, CAT_TOK_COMMA))
			return 0;
	}
}

/* ( SELECT ... ) with the cursor after '(' and at SELECT; fills x->sql. */
static int parse_subquery(struct cat_parser *p, struct cat_expr *x)
{
	struct cat_sbuf b = { 0 };
	char *s;
	size_t n;

	if (cat_emit_select(p, &b)) {
		cat_sb_free(&b);
		return -1;
	}
	if (b.failed) {
		cat_sb_free(&b);
		return err_set(p->e, "53200", "out of memory");
	}
	n = b.len;
	s = cat_arena_alloc(&p->arena, n + 1);
	if (!s) {
		cat_sb_free(&b);
		return err_set(p->e, "53200", "out of memory");
	}
	memcpy(s, b.s, n);
	explicit_bzero(b.s, b.len);
	cat_sb_free(&b);
	x->sql = s;
	return cat_p_expect_tok(p, CAT_TOK_RPAREN, "right parenthesis");
}

/* A type name after :: or AS in CAST: words, optional (n[, m]), optional
 * []. Normalised to lower case with single spaces. */
static int parse_type(struct cat_parser *p, struct cat_expr *x)
{
	static const char *const suffixes[][3] = {
		/* first word, then words that may follow to make one type */
		{ "double", "precision", NULL },
		{ "character", "varying", NULL },
		{ "char", "varying", NULL },
		{ "timestamp", "with time zone", "without time zone" },
		{ "time", "with time zone", "without time zone" },
	};
	char name[CAT_IDENT_MAX * 2 + 64];
	const struct cat_token *t = cat_p_peek(p);
	char word[CAT_IDENT_MAX + 1];
	int array = 0;

	if (cat_p_parse_ident(p, word))
		return -1;
	/* pg_catalog.text */
	if (cat_p_peek(p)->kind == CAT_TOK_DOT && cat_is_catalog_schema(word)) {
		cat_p_next(p);
		if (cat_p_parse_ident(p, word))
			return -1;
	}
	snprintf(name, sizeof(name), "%s", word);
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		if (strcmp(word, suffixes[i][0]) != 0 || (t->flags & CAT_TOKF_QUOTED))
			continue;
		for (int k = 1; k < 3 && suffixes[i][k]; k++) {
			if (cat_p_accept_kw(p, suffixes[i][k])) {
				size_t l = strlen(name);
				snprintf(name + l, sizeof(name) - l, " %s", suffixes[i][k]);
				if (!strcmp(name, "char varying"))
					snprintf(name, sizeof(name), "character varying");
				break;
			}
		}
	}
	if (cat_p_accept_tok(p, CAT_TOK_LPAREN)) {   /* varchar(10), numeric(10,2) */
		do {
			const struct cat_token *n = cat_p_peek(p);
			if (n->kind != CAT_TOK_NUMBER || !(n->flags & CAT_TOKF_INTEGER))
				return cat_p_error_expected(p, "literal integer");
			cat_p_next(p);
		} while (cat_p_accept_tok(p, CAT_TOK_COMMA));
		if (cat_p_expect_tok(p, CAT_TOK_RPAREN, "right parenthesis"))
			return -1;
	}
	while (cat_p_accept_tok(p, CAT_TOK_LBRACKET)) {
		if (cat_p_expect_tok(p, CAT_TOK_RBRACKET, "right square bracket"))
			return -1;
		array = 1;
	}
	x->type = array ? NULL : cat_type_lookup(name);
	if (array) {
		size_t l = strlen(name);
		snprintf(name + l, sizeof(name) - l, "[]");
	}
	x->type_name = cat_arena_alloc(&p->arena, strlen(name) + 1);
	if (!x->type_name)
		return err_set(p->e, "53200", "out of memory");
	memcpy(x->type_name, name, strlen(name) + 1);
	return 0;
}

static struct cat_expr *cast(struct cat_parser *p, struct cat_expr *a,
			     const struct cat_token *tok)
{
	struct cat_expr *x = node(p, CAT_E_CAST, tok);

	if (!x || parse_type(p, x))
		return NULL;
	x->a = a;
	if (grow(p, x, a))
		return NULL;
	return x;
}

/* name(args), name.name..., name.* ; the cursor is at the first name. */
static struct cat_expr *parse_name_expr(struct cat_parser *p)
{
	static const char *const sql_value_functions[] = {
		"current_user", "session_user", "current_role", "current_catalog",
		"current_schema", "user",
	};
	const struct cat_token *first = cat_p_peek(p);
	struct cat_expr *x = node(p, CAT_E_COLUMN, first);

	if (!x)
		return NULL;
	for (;;) {
		const struct cat_token *t = cat_p_peek(p);
		if (!cat_p_is_ident(t)) {
			cat_p_error_expected(p, x->nparts ? "identifier" : "an expression");
			return NULL;
		}
		if (x->nparts == CAT_MAX_NAME_PARTS) {
			cat_p_error_at(p, first, "42601", "improper qualified name (too many dotted names)");
			return NULL;
		}
		x->parts[x->nparts++] = cat_p_next(p);
		if (cat_p_peek(p)->kind != CAT_TOK_DOT)
			break;
		cat_p_next(p);
		if (cat_p_accept_op(p, "*")) {
			x->star = 1;
			return x;
		}
	}
	if (cat_p_accept_tok(p, CAT_TOK_LPAREN)) {
		x->kind = CAT_E_FUNC;
		if (cat_p_accept_tok(p, CAT_TOK_RPAREN))
			return x;
		if (cat_p_peek(p)->kind == CAT_TOK_OP && !strcmp(cat_p_peek(p)->val, "*")) {
			x->star = 1;
			cat_p_next(p);
		} else {
			if (cat_p_accept_kw(p, "DISTINCT"))
				x->distinct = 1;
			else
				cat_p_accept_kw(p, "ALL");
			if (parse_list(p, x))
				return NULL;
		}
		if (cat_p_expect_tok(p, CAT_TOK_RPAREN, "right parenthesis"))
			return NULL;
		return x;
	}
	if (x->nparts == 1 && !(first->flags & CAT_TOKF_QUOTED)) {
		for (size_t i = 0; i < sizeof(sql_value_functions) / sizeof(sql_value_functions[0]); i++)
			if (!strcmp(first->val, sql_value_functions[i])) {
				x->kind = CAT_E_FUNC;
				x->noparens = 1;
			}
	}
	return x;
}

static struct cat_expr *parse_case(struct cat_parser *p, const struct cat_token *tok)
{
	struct cat_expr *x = node(p, CAT_E_CASE, tok);
	size_t cap = 0;

	if (!x)
		return NULL;
	if (!cat_p_peek_kw(p, "WHEN")) {
		x->a = cat_parse_expr(p);
		if (!x->a || grow(p, x, x->a))
			return NULL;
	}
	if (!cat_p_peek_kw(p, "WHEN")) {
		cat_p_error_expected(p, "WHEN");
		return NULL;
	}
	while (cat_p_accept_kw(p, "WHEN")) {
		struct cat_expr *w, *t;
		if (!(w = cat_parse_expr(p)) || cat_p_expect_kw(p, "THEN") ||
		    !(t = cat_parse_expr(p)))
			return NULL;
		if (x->nlist + 2 > cap) {
			size_t ncap = cap ? cap * 2 : 4;
			struct cat_expr **nl = cat_arena_alloc(&p->arena, ncap * sizeof(*nl));
			if (!nl) {
				err_set(p->e, "53200", "out of memory");
				return NULL;
			}
			if (x->nlist)
				memcpy(nl, x->list, x->nlist * sizeof(*nl));
			x->list = nl;
			cap = ncap;
		}
		x->list[x->nlist++] = w;
		x->list[x->nlist++] = t;
		if (grow(p, x, w) || grow(p, x, t))
			return NULL;
	}
	if (cat_p_accept_kw(p, "ELSE")) {
		x->b = cat_parse_expr(p);
		if (!x->b || grow(p, x, x->b))
			return NULL;
	}
	if (cat_p_expect_kw(p, "END"))
		return NULL;
	return x;
}

static struct cat_expr *parse_primary(struct cat_parser *p)
{
	const struct cat_token *t = cat_p_peek(p);
	struct cat_expr *x;

	switch (t->kind) {
	case CAT_TOK_STRING:
		cat_p_next(p);
		return node(p, CAT_E_STRING, t);
	case CAT_TOK_NUMBER:
		cat_p_next(p);
		return node(p, CAT_E_NUMBER, t);
	case CAT_TOK_PARAM:
		cat_p_next(p);
		if ((int)t->param > p->max_param)
			p->max_param = (int)t->param;
		if (!p->first_param)
			p->first_param = t;
		return node(p, CAT_E_PARAM, t);
	case CAT_TOK_LPAREN:
		cat_p_next(p);
		if (cat_p_peek_kw(p, "SELECT")) {
			x = node(p, CAT_E_SUBQUERY, t);
			if (!x || parse_subquery(p, x))
				return NULL;
			return x;
		}
		x = cat_parse_expr(p);
		if (!x || cat_p_expect_tok(p, CAT_TOK_RPAREN, "right parenthesis"))
			return NULL;
		return x;
	case CAT_TOK_IDENT:
		break;
	default:
		cat_p_error_expected(p, "an expression");
		return NULL;
	}
	if (cat_p_accept_kw(p, "NULL"))
		return node(p, CAT_E_NULL, t);
	if (cat_p_peek_kw(p, "TRUE") || cat_p_peek_kw(p, "FALSE")) {
		x = node(p, CAT_E_BOOL, t);
		if (x)
			x->boolval = cat_p_peek_kw(p, "TRUE");
		cat_p_next(p);
		return x;
	}
	if (cat_p_peek_kw(p, "CAST") && cat_p_peek_n(p, 1)->kind == CAT_TOK_LPAREN) {
		struct cat_expr *a;
		cat_p_next(p);
		cat_p_next(p);
		if (!(a = cat_parse_expr(p)) || cat_p_expect_kw(p, "AS"))
			return NULL;
		x = cast(p, a, t);
		if (!x || cat_p_expect_tok(p, CAT_TOK_RPAREN, "right parenthesis"))
			return NULL;
		return x;
	}
	if (cat_p_accept_kw(p, "CASE"))
		return parse_case(p, t);
	if (cat_p_peek_kw(p, "EXISTS") && cat_p_peek_n(p, 1)->kind == CAT_TOK_LPAREN) {
		cat_p_next(p);
		cat_p_next(p);
		x = node(p, CAT_E_EXISTS, t);
		if (!cat_p_peek_kw(p, "SELECT")) {
			cat_p_error_expected(p, "SELECT");
			return NULL;
		}
		if (!x || parse_subquery(p, x))
			return NULL;
		return x;
	}
	return parse_name_expr(p);
}

static struct cat_expr *parse_postfix(struct cat_parser *p)
{
	struct cat_expr *x = parse_primary(p);

	while (x && cat_p_peek(p)->kind == CAT_TOK_OP && !strcmp(cat_p_peek(p)->val, "::")) {
		const struct cat_token *t = cat_p_next(p);
		x = cast(p, x, t);
	}
	if (x && cat_p_peek(p)->kind == CAT_TOK_LBRACKET) {
		cat_p_error_at(p, cat_p_peek(p), "0A000", "array subscripts are not supported");
		return NULL;
	}
	return x;
}

static struct cat_expr *parse_unary(struct cat_parser *p)
{
	const struct cat_token *t = cat_p_peek(p);
	struct cat_expr *x, *a;

	if (t->kind != CAT_TOK_OP || (strcmp(t->val, "-") && strcmp(t->val, "+")))
		return parse_postfix(p);
	cat_p_next(p);
	if (cat_p_enter(p))
		return NULL;
	a = parse_unary(p);
	cat_p_leave(p);
	if (!a || !(x = node(p, CAT_E_UNARY, t)))
		return NULL;
	x->op = t->val;
	x->a = a;
	return grow(p, x, a) ? NULL : x;
}

static const char *accept_ops(struct cat_parser *p, const char *const *ops, size_t n)
{
	const struct cat_token *t = cat_p_peek(p);

	if (t->kind != CAT_TOK_OP && t->kind != CAT_TOK_EQ)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		const char *v = t->kind == CAT_TOK_EQ ? "=" : t->val;
		if (!strcmp(v, ops[i])) {
			cat_p_next(p);
			return ops[i];
		}
	}
	return NULL;
}

static struct cat_expr *parse_mul(struct cat_parser *p)
{
	static const char *const ops[] = { "*", "/", "%" };
	struct cat_expr *x = parse_unary(p);
	const char *op;

	while (x && (op = accept_ops(p, ops, 3))) {
		struct cat_expr *b = parse_unary(p);
		x = b ? binary(p, op, x, b) : NULL;
	}
	return x;
}

static struct cat_expr *parse_add(struct cat_parser *p)
{
	static const char *const ops[] = { "+", "-" };
	struct cat_expr *x = parse_mul(p);
	const char *op;

	while (x && (op = accept_ops(p, ops, 2))) {
		struct cat_expr *b = parse_mul(p);
		x = b ? binary(p, op, x, b) : NULL;
	}
	return x;
}

static struct cat_expr *parse_concat(struct cat_parser *p)
{
	static const char *const ops[] = { "||" };
	struct cat_expr *x = parse_add(p);

	while (x && accept_ops(p, ops, 1)) {
		struct cat_expr *b = parse_add(p);
		x = b ? binary(p, "||", x, b) : NULL;
	}
	return x;
}

/* [NOT] BETWEEN / IN / LIKE / ILIKE after an operand. */
static struct cat_expr *parse_predicate(struct cat_parser *p)
{
	struct cat_expr *x = parse_concat(p);

	while (x) {
		const struct cat_token *t = cat_p_peek(p);
		int neg = 0;
		struct cat_expr *y;

		if (cat_p_peek_kw(p, "NOT") &&
		    (cat_tok_is_kw(cat_p_peek_n(p, 1), "BETWEEN") ||
		     cat_tok_is_kw(cat_p_peek_n(p, 1), "IN") ||
		     cat_tok_is_kw(cat_p_peek_n(p, 1), "LIKE") ||
		     cat_tok_is_kw(cat_p_peek_n(p, 1), "ILIKE"))) {
			cat_p_next(p);
			neg = 1;
		}
		if (cat_p_accept_kw(p, "BETWEEN")) {
			if (!(y = node(p, CAT_E_BETWEEN, x->tok)))
				return NULL;
			y->a = x;
			if (!(y->b = parse_concat(p)) || cat_p_expect_kw(p, "AND") ||
			    !(y->c = parse_concat(p)))
				return NULL;
			if (grow(p, y, y->a) || grow(p, y, y->b) || grow(p, y, y->c))
				return NULL;
		} else if (cat_p_accept_kw(p, "IN")) {
			if (!(y = node(p, CAT_E_IN, x->tok)))
				return NULL;
			y->a = x;
			if (cat_p_expect_tok(p, CAT_TOK_LPAREN, "left parenthesis"))
				return NULL;
			if (cat_p_peek_kw(p, "SELECT")) {
				if (parse_subquery(p, y))
					return NULL;
			} else if (parse_list(p, y) ||
				   cat_p_expect_tok(p, CAT_TOK_RPAREN, "right parenthesis"))
				return NULL;
			if (grow(p, y, y->a))
				return NULL;
		} else if (cat_p_peek_kw(p, "LIKE") || cat_p_peek_kw(p, "ILIKE")) {
			if (!(y = node(p, CAT_E_LIKE, x->tok)))
				return NULL;
			y->ilike = cat_p_peek_kw(p, "ILIKE");
			cat_p_next(p);
			y->a = x;
			if (!(y->b = parse_concat(p)))
				return NULL;
			if (cat_p_peek_kw(p, "ESCAPE")) {
				cat_p_error_at(p, cat_p_peek(p), "0A000", "LIKE ... ESCAPE is not supported");
				return NULL;
			}
			if (grow(p, y, y->a) || grow(p, y, y->b))
				return NULL;
		} else {
			(void)t;
			return x;
		}
		y->negated = neg;
		x = y;
	}
	return x;
}

static struct cat_expr *parse_comparison(struct cat_parser *p)
{
	static const char *const ops[] = { "=", "<>", "!=", "<", ">", "<=", ">=" };
	struct cat_expr *x = parse_predicate(p);
	const char *op;

	while (x && (op = accept_ops(p, ops, sizeof(ops) / sizeof(ops[0])))) {
		struct cat_expr *b = parse_predicate(p);
		x = b ? binary(p, !strcmp(op, "!=") ? "<>" : op, x, b) : NULL;
	}
	return x;
}

static struct cat_expr *parse_is(struct cat_parser *p)
{
	struct cat_expr *x = parse_comparison(p);

	while (x && cat_p_accept_kw(p, "IS")) {
		struct cat_expr *y = node(p, CAT_E_IS, x->tok);
		if (!y)
			return NULL;
		y->a = x;
		y->negated = cat_p_accept_kw(p, "NOT");
		if (cat_p_accept_kw(p, "NULL"))
			y->op = "NULL";
		else if (cat_p_accept_kw(p, "TRUE"))
			y->op = "TRUE";
		else if (cat_p_accept_kw(p, "FALSE"))
			y->op = "FALSE";
		else if (cat_p_accept_kw(p, "DISTINCT FROM")) {
			y->op = "DISTINCT";
			if (!(y->b = parse_comparison(p)) || grow(p, y, y->b))
				return NULL;
		} else {
			cat_p_error_expected(p, "one of NULL or TRUE or FALSE or DISTINCT FROM");
			return NULL;
		}
		if (grow(p, y, x))
			return NULL;
		x = y;
	}
	return x;
}

static struct cat_expr *parse_not(struct cat_parser *p)
{
	const struct cat_token *t = cat_p_peek(p);
	struct cat_expr *x, *a;

	if (!cat_p_accept_kw(p, "NOT"))
		return parse_is(p);
	if (cat_p_enter(p))
		return NULL;
	a = parse_not(p);
	cat_p_leave(p);
	if (!a || !(x = node(p, CAT_E_UNARY, t)))
		return NULL;
	x->op = "NOT";
	x->a = a;
	return grow(p, x, a) ? NULL : x;
}

static struct cat_expr *parse_and(struct cat_parser *p)
{
	struct cat_expr *x = parse_not(p);

	while (x && cat_p_accept_kw(p, "AND")) {
		struct cat_expr *b = parse_not(p);
		x = b ? binary(p, "AND", x, b) : NULL;
	}
	return x;
}

struct cat_expr *cat_parse_expr(struct cat_parser *p)
{
	struct cat_expr *x;

	if (cat_p_enter(p))
		return NULL;
	x = parse_and(p);
	while (x && cat_p_accept_kw(p, "OR")) {
		struct cat_expr *b = parse_and(p);
		x = b ? binary(p, "OR", x, b) : NULL;
	}
	cat_p_leave(p);
	return x;
}
