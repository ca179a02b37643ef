/* SELECT on the system catalog (SQL.md 8.5): parses the supported subset
 * and re-emits it as SQLite text over the catalog's unqualified read-only
 * views. Qualifiers of catalog schemas are dropped, identifiers re-quoted
 * (PostgreSQL folding), casts and LIKE translated, every operator
 * parenthesised (SQLite's precedence differs), functions allow-listed.
 * Nothing the grammar does not know reaches SQLite. */
#include "parse.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const cat_catalog_schemas[] = {
	"mz_catalog", "mz_internal", "pg_catalog", "tether_internal",
};

int cat_is_catalog_schema(const char *word)
{
	for (size_t i = 0; i < sizeof(cat_catalog_schemas) / sizeof(cat_catalog_schemas[0]); i++)
		if (!strcmp(word, cat_catalog_schemas[i]))
			return 1;
	return 0;
}

/* Functions SQLite may see: PostgreSQL name, SQLite name, argument count.
 * The executor registers the ones SQLite lacks (version, current_user,
 * session_user, current_database, current_schema). */
static const struct cat_func {
	const char *pg, *sqlite;
	int min, max;        /* max -1: any */
	int star;            /* f(*) allowed */
} cat_funcs[] = {
	{ "lower", "lower", 1, 1, 0 },
	{ "upper", "upper", 1, 1, 0 },
	{ "length", "length", 1, 1, 0 },
	{ "char_length", "length", 1, 1, 0 },
	{ "character_length", "length", 1, 1, 0 },
	{ "coalesce", "coalesce", 1, -1, 0 },
	{ "nullif", "nullif", 2, 2, 0 },
	{ "abs", "abs", 1, 1, 0 },
	{ "substr", "substr", 2, 3, 0 },
	{ "replace", "replace", 3, 3, 0 },
	{ "count", "count", 1, 1, 1 },
	{ "min", "min", 1, 1, 0 },
	{ "max", "max", 1, 1, 0 },
	{ "sum", "sum", 1, 1, 0 },
	{ "avg", "avg", 1, 1, 0 },
	{ "version", "version", 0, 0, 0 },
	{ "current_user", "current_user", 0, 0, 0 },
	{ "current_role", "current_user", 0, 0, 0 },
	{ "user", "current_user", 0, 0, 0 },
	{ "session_user", "session_user", 0, 0, 0 },
	{ "current_database", "current_database", 0, 0, 0 },
	{ "current_catalog", "current_database", 0, 0, 0 },
	{ "current_schema", "current_schema", 0, 0, 0 },
};

/* Words that end a select item or table reference, so never a bare alias. */
static const char *const cat_clause_words[] = {
	"FROM", "WHERE", "GROUP", "HAVING", "ORDER", "LIMIT", "OFFSET", "UNION",
	"INTERSECT", "EXCEPT", "JOIN", "INNER", "LEFT", "RIGHT", "FULL", "CROSS",
	"NATURAL", "ON", "USING", "FETCH", "FOR", "WINDOW", "LATERAL", "OUTER",
	"AS", "ASC", "DESC", "NULLS", "WITH", "INTO", "RETURNING",
};

static void put_ident(struct cat_sbuf *b, const char *s)
{
	cat_sb_put(b, "\"", 1);
	for (const char *q = s; *q; q++) {
		if (*q == '"')
			cat_sb_put(b, "\"", 1);
		cat_sb_put(b, q, 1);
	}
	cat_sb_put(b, "\"", 1);
}

static void put_string(struct cat_sbuf *b, const char *s, size_t n)
{
	cat_sb_put(b, "'", 1);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\'')
			cat_sb_put(b, "'", 1);
		cat_sb_put(b, s + i, 1);
	}
	cat_sb_put(b, "'", 1);
}

static void format_parts(const struct cat_token *const *parts, int n, char *buf, size_t size)
{
	size_t off = 0;

	buf[0] = '\0';
	for (int i = 0; i < n && off < size; i++) {
		if (i)
			off += (size_t)snprintf(buf + off, size - off, ".");
		if (off < size)
			off += cat_quote_ident(parts[i]->val, buf + off, size - off);
	}
	cat_utf8_trim(buf);
}

/* Where each catalog relation lives (SQL.md 8). store.c creates one
 * SQLite view per relation, named like it, so the emitted text is the bare
 * name; this table decides which spellings reach it. */
static const struct cat_relation {
	const char *name, *schema;
} cat_relations[] = {
	{ "mz_secrets", "mz_catalog" },
	{ "mz_connections", "mz_catalog" },
	{ "mz_databases", "mz_catalog" },
	{ "mz_schemas", "mz_catalog" },
	{ "mz_roles", "mz_catalog" },
	{ "mz_role_members", "mz_catalog" },
	{ "mz_system_privileges", "mz_catalog" },
	{ "mz_ssh_tunnel_connections", "mz_catalog" },
	{ "mz_aws_privatelink_connections", "mz_catalog" },
	{ "mz_kafka_connections", "mz_catalog" },
	{ "mz_aws_connections", "mz_internal" },
	{ "mz_object_dependencies", "mz_internal" },
	{ "mz_comments", "mz_internal" },
	{ "mz_aws_privatelink_connection_statuses", "mz_internal" },
	{ "mz_aws_privatelink_connection_status_history", "mz_internal" },
	{ "mz_ssh_tunnel_host_keys", "mz_internal" },      /* tether: catalog/jobspec.c */
	{ "tether_processes", "tether_internal" },         /* tether: catalog/status.c */
	{ "tether_status", "tether_internal" },
	{ "tether_key_rotation", "tether_internal" },      /* tether: catalog/ddl_keys.c */
};

static const char *relation_schema(const char *name)
{
	for (size_t i = 0; i < sizeof(cat_relations) / sizeof(cat_relations[0]); i++)
		if (!strcmp(cat_relations[i].name, name))
			return cat_relations[i].schema;
	return NULL;
}

/* Schemas an unqualified name is looked up in before search_path. */
static int searched_implicitly(const char *schema)
{
	return !strcmp(schema, "mz_catalog") || !strcmp(schema, "pg_catalog");
}

static int unknown_item(struct cat_parser *p, const struct cat_token *const *parts, int n)
{
	char name[400];

	format_parts(parts, n, name, sizeof(name));
	return cat_p_error_at(p, parts[0], "42704", "unknown catalog item '%s'", name);
}

/* An unqualified catalog relation outside mz_catalog / pg_catalog: legal
 * only if the session's search_path names its schema, which the executor
 * checks (the parser does not know the session). One entry per schema. */
static void note_hidden(struct cat_parser *p, const char *schema, const char *name)
{
	for (size_t i = 0; i < p->nhidden; i++)
		if (p->hidden[i].schema == schema)
			return;
	if (p->nhidden == CAT_SELECT_HIDDEN_MAX)
		return;
	p->hidden[p->nhidden].schema = schema;
	snprintf(p->hidden[p->nhidden].name, sizeof(p->hidden[p->nhidden].name), "%s", name);
	p->nhidden++;
}

/* A relation name as SQLite sees it: the unqualified view name, accepted
 * only when reachable as written (SQL.md 2): `x` if x lives in mz_catalog
 * or pg_catalog (or, checked later, in a schema of search_path);
 * `s.x` and `materialize.s.x` only if x lives in s. Anything else --
 * SQLite's own tables (sqlite_*), pragma table functions, the catalog's
 * base tables -- is an unknown catalog item: SQLite sees views only. */
static int emit_relation(struct cat_parser *p, const struct cat_token *const *parts,
			 int n, struct cat_sbuf *out)
{
	const char *name = parts[n - 1]->val, *home = relation_schema(name);

	if (n == 1) {
		if (!home)
			return unknown_item(p, parts, n);
		if (!searched_implicitly(home))
			note_hidden(p, home, name);
	} else if (!home || strcmp(parts[n - 2]->val, home) != 0 ||
		   (n == 3 && strcmp(parts[0]->val, "materialize") != 0)) {
		return unknown_item(p, parts, n);
	}
	put_ident(out, name);
	return 0;
}

static int emit_column(struct cat_parser *p, const struct cat_expr *x, struct cat_sbuf *out)
{
	int nrel = x->star ? x->nparts : x->nparts - 1;

	if (nrel == 1) {
		/* A FROM item's name or alias: the FROM clause checked it. */
		put_ident(out, x->parts[0]->val);
		cat_sb_put(out, ".", 1);
	} else if (nrel > 1) {
		if (emit_relation(p, x->parts, nrel, out))
			return -1;
		cat_sb_put(out, ".", 1);
	}
	if (x->star)
		cat_sb_put(out, "*", 1);
	else
		put_ident(out, x->parts[x->nparts - 1]->val);
	return 0;
}

static int emit_func(struct cat_parser *p, const struct cat_expr *x, struct cat_sbuf *out)
{
	const struct cat_func *f = NULL;
	const struct cat_token *name = x->parts[x->nparts - 1];
	char shown[400];
	int nargs = (int)x->nlist + (x->star ? 1 : 0);

	if (x->nparts == 1 || (x->nparts == 2 && cat_is_catalog_schema(x->parts[0]->val))) {
		for (size_t i = 0; i < sizeof(cat_funcs) / sizeof(cat_funcs[0]); i++)
			if (!strcmp(cat_funcs[i].pg, name->val))
				f = &cat_funcs[i];
	}
	format_parts(x->parts, x->nparts, shown, sizeof(shown));
	if (!f)
		return cat_p_error_at(p, x->tok, "0A000", "function %s is not supported", shown);
	if ((x->star && !f->star) || nargs < f->min || (f->max >= 0 && nargs > f->max) ||
	    (x->distinct && !f->star))
		return cat_p_error_at(p, x->tok, "42883",
				      "function %s does not take %d argument%s%s", shown, nargs,
				      nargs == 1 ? "" : "s", x->distinct ? " with DISTINCT" : "");
	/* SQLite's coalesce wants two arguments; coalesce(a) is just a. */
	if (!strcmp(f->sqlite, "coalesce") && x->nlist == 1)
		return cat_emit_expr(p, x->list[0], out);
	cat_sb_puts(out, f->sqlite);
	cat_sb_put(out, "(", 1);
	if (x->star)
		cat_sb_put(out, "*", 1);
	if (x->distinct)
		cat_sb_puts(out, "DISTINCT ");
	for (size_t i = 0; i < x->nlist; i++) {
		if (i)
			cat_sb_put(out, ", ", 2);
		if (cat_emit_expr(p, x->list[i], out))
			return -1;
	}
	cat_sb_put(out, ")", 1);
	return 0;
}

/* PostgreSQL LIKE pattern (backslash escapes) as a case-sensitive SQLite
 * GLOB pattern; SQLite's LIKE ignores ASCII case. */
static int like_to_glob(struct cat_parser *p, const struct cat_token *t, struct cat_sbuf *out)
{
	struct cat_sbuf g = { 0 };
	int rc = 0;

	for (size_t i = 0; i < t->vlen; i++) {
		char c = t->val[i];
		if (c == '\\') {
			if (++i == t->vlen) {
				rc = cat_p_error_at(p, t, "22025",
						    "LIKE pattern must not end with escape character");
				break;
			}
			c = t->val[i];
		} else if (c == '%') {
			cat_sb_put(&g, "*", 1);
			continue;
		} else if (c == '_') {
			cat_sb_put(&g, "?", 1);
			continue;
		}
		if (c == '*' || c == '?' || c == '[') {
			cat_sb_put(&g, "[", 1);
			cat_sb_put(&g, &c, 1);
			cat_sb_put(&g, "]", 1);
		} else
			cat_sb_put(&g, &c, 1);
	}
	if (!rc)
		put_string(out, g.s ? g.s : "", g.len);
	if (g.failed)
		out->failed = 1;
	cat_sb_free(&g);
	return rc;
}

static int emit_like(struct cat_parser *p, const struct cat_expr *x, struct cat_sbuf *out)
{
	const char *not = x->negated ? "NOT " : "";

	cat_sb_put(out, "(", 1);
	if (!x->ilike && x->b->kind == CAT_E_STRING) {
		if (cat_emit_expr(p, x->a, out))
			return -1;
		cat_sb_printf(out, " %sGLOB ", not);
		if (like_to_glob(p, x->b->tok, out))
			return -1;
	} else {
		/* Non-literal patterns: LIKE with PostgreSQL's escape; ASCII
		 * case-insensitive unless the executor sets case_sensitive_like. */
		if (x->ilike)
			cat_sb_puts(out, "lower(");
		if (cat_emit_expr(p, x->a, out))
			return -1;
		cat_sb_printf(out, "%s %sLIKE %s", x->ilike ? ")" : "", not,
			      x->ilike ? "lower(" : "");
		if (cat_emit_expr(p, x->b, out))
			return -1;
		cat_sb_printf(out, "%s ESCAPE '\\'", x->ilike ? ")" : "");
	}
	cat_sb_put(out, ")", 1);
	return 0;
}

static int emit_list(struct cat_parser *p, struct cat_expr *const *list, size_t n,
		     struct cat_sbuf *out)
{
	for (size_t i = 0; i < n; i++) {
		if (i)
			cat_sb_put(out, ", ", 2);
		if (cat_emit_expr(p, list[i], out))
			return -1;
	}
	return 0;
}

int cat_emit_expr(struct cat_parser *p, const struct cat_expr *x, struct cat_sbuf *out)
{
	switch (x->kind) {
	case CAT_E_STRING:
		put_string(out, x->tok->val, x->tok->vlen);
		return 0;
	case CAT_E_NUMBER:
		cat_sb_put(out, x->tok->val, x->tok->vlen);
		return 0;
	case CAT_E_PARAM:
		cat_sb_printf(out, "$%u", x->tok->param);
		return 0;
	case CAT_E_NULL:
		cat_sb_puts(out, "NULL");
		return 0;
	case CAT_E_BOOL:
		cat_sb_puts(out, x->boolval ? "TRUE" : "FALSE");
		return 0;
	case CAT_E_COLUMN:
		if (x->star)
			return cat_p_error_at(p, x->tok, "42601",
					      "a qualified * is only allowed in a select list");
		return emit_column(p, x, out);
	case CAT_E_STAR:
		cat_sb_put(out, "*", 1);
		return 0;
	case CAT_E_FUNC:
		return emit_func(p, x, out);
	case CAT_E_CAST:
		if (!x->type || !x->type->sqlite)
			return cat_p_error_at(p, x->tok, "0A000",
					      "casting to type %s is not supported", x->type_name);
		cat_sb_puts(out, "CAST(");
		if (cat_emit_expr(p, x->a, out))
			return -1;
		cat_sb_printf(out, " AS %s)", x->type->sqlite);
		return 0;
	case CAT_E_UNARY:
		cat_sb_printf(out, "(%s ", x->op);
		if (cat_emit_expr(p, x->a, out))
			return -1;
		cat_sb_put(out, ")", 1);
		return 0;
	case CAT_E_BINARY:
		cat_sb_put(out, "(", 1);
		if (cat_emit_expr(p, x->a, out))
			return -1;
		cat_sb_printf(out, " %s ", x->op);
		if (cat_emit_expr(p, x->b, out))
			return -1;
		cat_sb_put(out, ")", 1);
		return 0;
	case CAT_E_IS:
		cat_sb_put(out, "(", 1);
		if (cat_emit_expr(p, x->a, out))
			return -1;
		if (!strcmp(x->op, "DISTINCT")) {
			/* SQLite's IS / IS NOT are null-safe (in)equality. */
			cat_sb_puts(out, x->negated ? " IS " : " IS NOT ");
			if (cat_emit_expr(p, x->b, out))
				return -1;
		} else
			cat_sb_printf(out, " IS %s%s", x->negated ? "NOT " : "", x->op);
		cat_sb_put(out, ")", 1);
		return 0;
	case CAT_E_LIKE:
		return emit_like(p, x, out);
	case CAT_E_IN:
		cat_sb_put(out, "(", 1);
		if (cat_emit_expr(p, x->a, out))
			return -1;
		cat_sb_printf(out, " %sIN (", x->negated ? "NOT " : "");
		if (x->sql)
			cat_sb_puts(out, x->sql);
		else if (emit_list(p, x->list, x->nlist, out))
			return -1;
		cat_sb_puts(out, "))");
		return 0;
	case CAT_E_BETWEEN:
		cat_sb_put(out, "(", 1);
		if (cat_emit_expr(p, x->a, out))
			return -1;
		cat_sb_printf(out, " %sBETWEEN ", x->negated ? "NOT " : "");
		if (cat_emit_expr(p, x->b, out))
			return -1;
		cat_sb_puts(out, " AND ");
		if (cat_emit_expr(p, x->c, out))
			return -1;
		cat_sb_put(out, ")", 1);
		return 0;
	case CAT_E_CASE:
		cat_sb_puts(out, "(CASE");
		if (x->a) {
			cat_sb_put(out, " ", 1);
			if (cat_emit_expr(p, x->a, out))
				return -1;
		}
		for (size_t i = 0; i + 1 < x->nlist; i += 2) {
			cat_sb_puts(out, " WHEN ");
			if (cat_emit_expr(p, x->list[i], out))
				return -1;
			cat_sb_puts(out, " THEN ");
			if (cat_emit_expr(p, x->list[i + 1], out))
				return -1;
		}
		if (x->b) {
			cat_sb_puts(out, " ELSE ");
			if (cat_emit_expr(p, x->b, out))
				return -1;
		}
		cat_sb_puts(out, " END)");
		return 0;
	case CAT_E_SUBQUERY:
		cat_sb_printf(out, "(%s)", x->sql);
		return 0;
	case CAT_E_EXISTS:
		cat_sb_printf(out, "(EXISTS (%s))", x->sql);
		return 0;
	}
	return cat_p_error_at(p, x->tok, "XX000", "internal error: sql: unknown expression");
}

/* PostgreSQL's FigureColname: the output column name of an unaliased
 * select item. strength 2: a real name, 1: a type's name, 0: none. */
static const char *figure_colname(const struct cat_expr *x, int *strength)
{
	const char *name;
	int s;

	switch (x->kind) {
	case CAT_E_COLUMN:
	case CAT_E_FUNC:
		*strength = 2;
		return x->parts[x->nparts - 1]->val;
	case CAT_E_CAST:
		name = figure_colname(x->a, &s);
		if (s > 1) {
			*strength = s;
			return name;
		}
		*strength = 1;
		if (x->type)
			return x->type->colname;
		return x->type_name;
	case CAT_E_BOOL:
		*strength = 1;
		return "bool";
	case CAT_E_CASE:
		*strength = 1;
		return "case";
	case CAT_E_EXISTS:
		*strength = 2;
		return "exists";
	default:
		*strength = 0;
		return "?column?";
	}
}

static int is_bare_alias(const struct cat_token *t)
{
	if (!cat_p_is_ident(t))
		return 0;
	if (t->flags & CAT_TOKF_QUOTED)
		return 1;
	for (size_t i = 0; i < sizeof(cat_clause_words) / sizeof(cat_clause_words[0]); i++)
		if (!strcasecmp(t->val, cat_clause_words[i]))
			return 0;
	return 1;
}

/* [AS] alias; after AS any identifier, even a keyword (PostgreSQL's
 * ColLabel). Returns 1 with the alias in out, 0 if none, -1 on error. */
static int parse_alias(struct cat_parser *p, char out[CAT_IDENT_MAX + 1])
{
	const struct cat_token *t;

	if (cat_p_accept_kw(p, "AS")) {
		t = cat_p_peek(p);
		if (t->kind != CAT_TOK_IDENT)
			return cat_p_error_expected(p, "identifier");
	} else {
		t = cat_p_peek(p);
		if (!is_bare_alias(t))
			return 0;
	}
	memcpy(out, t->val, t->vlen + 1);
	cat_p_next(p);
	return 1;
}

static int emit_select_item(struct cat_parser *p, struct cat_sbuf *out)
{
	char alias[CAT_IDENT_MAX + 1];
	struct cat_expr *x;
	int strength, rc;

	if (cat_p_accept_op(p, "*")) {
		cat_sb_put(out, "*", 1);
		return 0;
	}
	if (!(x = cat_parse_expr(p)))
		return -1;
	if (x->kind == CAT_E_COLUMN && x->star)
		return emit_column(p, x, out);
	if (cat_emit_expr(p, x, out))
		return -1;
	rc = parse_alias(p, alias);
	if (rc < 0)
		return -1;
	if (rc == 0)
		snprintf(alias, sizeof(alias), "%s", figure_colname(x, &strength));
	cat_sb_puts(out, " AS ");
	put_ident(out, alias);
	return 0;
}

static int emit_from_item(struct cat_parser *p, struct cat_sbuf *out);

static int emit_table_primary(struct cat_parser *p, struct cat_sbuf *out)
{
	const struct cat_token *t = cat_p_peek(p);
	char alias[CAT_IDENT_MAX + 1];
	int rc;

	if (cat_p_accept_tok(p, CAT_TOK_LPAREN)) {
		cat_sb_put(out, "(", 1);
		if (cat_p_peek_kw(p, "SELECT")) {
			if (cat_emit_select(p, out))
				return -1;
		} else if (emit_from_item(p, out))
			return -1;
		if (cat_p_expect_tok(p, CAT_TOK_RPAREN, "right parenthesis"))
			return -1;
		cat_sb_put(out, ")", 1);
	} else {
		const struct cat_token *parts[3];
		int n = 0;
		if (cat_p_peek_kw(p, "LATERAL"))
			return cat_p_error_at(p, t, "0A000", "LATERAL is not supported");
		for (;;) {
			if (!cat_p_is_ident(cat_p_peek(p)))
				return cat_p_error_expected(p, "identifier");
			if (n == 3)
				return cat_p_error_at(p, t, "42601",
					"qualified name did not have between 1 and 3 components");
			parts[n++] = cat_p_next(p);
			if (!cat_p_accept_tok(p, CAT_TOK_DOT))
				break;
		}
		if (cat_p_peek(p)->kind == CAT_TOK_LPAREN)
			return cat_p_error_at(p, t, "0A000", "table functions are not supported");
		if (emit_relation(p, parts, n, out))
			return -1;
	}
	rc = parse_alias(p, alias);
	if (rc < 0)
		return -1;
	if (rc) {
		if (cat_p_peek(p)->kind == CAT_TOK_LPAREN)
			return cat_p_error_at(p, cat_p_peek(p), "0A000",
					      "column alias lists are not supported");
		cat_sb_puts(out, " AS ");
		put_ident(out, alias);
	}
	return 0;
}

static int emit_from_item(struct cat_parser *p, struct cat_sbuf *out)
{
	static const char *const joins[] = {
		"JOIN", "INNER JOIN", "LEFT JOIN", "LEFT OUTER JOIN", "RIGHT JOIN",
		"RIGHT OUTER JOIN", "FULL JOIN", "FULL OUTER JOIN", "CROSS JOIN",
	};
	static const char *const emitted[] = {
		"JOIN", "JOIN", "LEFT JOIN", "LEFT JOIN", "RIGHT JOIN",
		"RIGHT JOIN", "FULL JOIN", "FULL JOIN", "CROSS JOIN",
	};
	int j;

	if (cat_p_enter(p) || emit_table_primary(p, out))
		return -1;
	for (;;) {
		if (cat_p_peek_kw(p, "NATURAL"))
			return cat_p_error_at(p, cat_p_peek(p), "0A000", "NATURAL JOIN is not supported");
		j = cat_p_accept_one_of(p, joins, sizeof(joins) / sizeof(joins[0]));
		if (j < 0)
			break;
		cat_sb_printf(out, " %s ", emitted[j]);
		if (emit_table_primary(p, out))
			return -1;
		if (!strcmp(emitted[j], "CROSS JOIN"))
			continue;
		if (cat_p_accept_kw(p, "ON")) {
			struct cat_expr *on = cat_parse_expr(p);
			cat_sb_puts(out, " ON ");
			if (!on || cat_emit_expr(p, on, out))
				return -1;
		} else if (cat_p_accept_kw(p, "USING")) {
			char col[CAT_IDENT_MAX + 1];
			cat_sb_puts(out, " USING (");
			if (cat_p_expect_tok(p, CAT_TOK_LPAREN, "left parenthesis"))
				return -1;
			do {
				if (cat_p_parse_ident(p, col))
					return -1;
				put_ident(out, col);
				if (cat_p_peek(p)->kind == CAT_TOK_COMMA)
					cat_sb_put(out, ", ", 2);
			} while (cat_p_accept_tok(p, CAT_TOK_COMMA));
			if (cat_p_expect_tok(p, CAT_TOK_RPAREN, "right parenthesis"))
				return -1;
			cat_sb_put(out, ")", 1);
		} else
			return cat_p_error_expected(p, "one of ON or USING");
	}
	cat_p_leave(p);
	return 0;
}

static int emit_expr_list(struct cat_parser *p, struct cat_sbuf *out)
{
	do {
		struct cat_expr *x = cat_parse_expr(p);
		if (!x || cat_emit_expr(p, x, out))
			return -1;
		if (cat_p_peek(p)->kind == CAT_TOK_COMMA)
			cat_sb_put(out, ", ", 2);
	} while (cat_p_accept_tok(p, CAT_TOK_COMMA));
	return 0;
}

static int emit_select_core(struct cat_parser *p, struct cat_sbuf *out)
{
	struct cat_expr *x;

	if (cat_p_expect_kw(p, "SELECT"))
		return -1;
	cat_sb_puts(out, "SELECT ");
	if (cat_p_accept_kw(p, "DISTINCT")) {
		if (cat_p_peek_kw(p, "ON"))
			return cat_p_error_at(p, cat_p_peek(p), "0A000",
					      "DISTINCT ON is not supported");
		cat_sb_puts(out, "DISTINCT ");
	} else
		cat_p_accept_kw(p, "ALL");
	do {
		if (emit_select_item(p, out))
			return -1;
		if (cat_p_peek(p)->kind == CAT_TOK_COMMA)
			cat_sb_put(out, ", ", 2);
	} while (cat_p_accept_tok(p, CAT_TOK_COMMA));
	if (cat_p_accept_kw(p, "FROM")) {
		cat_sb_puts(out, " FROM ");
		do {
			if (emit_from_item(p, out))
				return -1;
			if (cat_p_peek(p)->kind == CAT_TOK_COMMA)
				cat_sb_put(out, ", ", 2);
		} while (cat_p_accept_tok(p, CAT_TOK_COMMA));
	}
	if (cat_p_accept_kw(p, "WHERE")) {
		cat_sb_puts(out, " WHERE ");
		if (!(x = cat_parse_expr(p)) || cat_emit_expr(p, x, out))
			return -1;
	}
	if (cat_p_accept_kw(p, "GROUP")) {
		if (cat_p_expect_kw(p, "BY"))
			return -1;
		cat_sb_puts(out, " GROUP BY ");
		if (emit_expr_list(p, out))
			return -1;
	}
	if (cat_p_accept_kw(p, "HAVING")) {
		cat_sb_puts(out, " HAVING ");
		if (!(x = cat_parse_expr(p)) || cat_emit_expr(p, x, out))
			return -1;
	}
	return 0;
}

static int emit_order_by(struct cat_parser *p, struct cat_sbuf *out)
{
	cat_sb_puts(out, " ORDER BY ");
	do {
		struct cat_expr *x = cat_parse_expr(p);
		int desc = 0;
		if (!x || cat_emit_expr(p, x, out))
			return -1;
		if (cat_p_accept_kw(p, "DESC"))
			desc = 1;
		else
			cat_p_accept_kw(p, "ASC");
		cat_sb_puts(out, desc ? " DESC" : " ASC");
		/* PostgreSQL sorts NULL as the largest value; SQLite as the
		 * smallest. Spell the order out. */
		if (cat_p_accept_kw(p, "NULLS FIRST"))
			cat_sb_puts(out, " NULLS FIRST");
		else if (cat_p_accept_kw(p, "NULLS LAST"))
			cat_sb_puts(out, " NULLS LAST");
		else if (cat_p_accept_kw(p, "NULLS"))
			return cat_p_error_expected(p, "one of FIRST or LAST");
		else
			cat_sb_puts(out, desc ? " NULLS FIRST" : " NULLS LAST");
		if (cat_p_peek(p)->kind == CAT_TOK_COMMA)
			cat_sb_put(out, ", ", 2);
	} while (cat_p_accept_tok(p, CAT_TOK_COMMA));
	return 0;
}

/* LIMIT and OFFSET in either order; SQLite wants LIMIT first. */
static int emit_limit(struct cat_parser *p, struct cat_sbuf *out)
{
	struct cat_expr *limit = NULL, *offset = NULL;
	int have_limit = 0, have_offset = 0;

	for (;;) {
		if (!have_limit && cat_p_accept_kw(p, "LIMIT")) {
			have_limit = 1;
			if (cat_p_accept_kw(p, "ALL"))
				continue;
			if (!(limit = cat_parse_expr(p)))
				return -1;
		} else if (!have_offset && cat_p_accept_kw(p, "OFFSET")) {
			have_offset = 1;
			if (!(offset = cat_parse_expr(p)))
				return -1;
			if (!cat_p_accept_kw(p, "ROWS"))
				cat_p_accept_kw(p, "ROW");
		} else
			break;
	}
	if (!have_limit && !have_offset)
		return 0;
	cat_sb_puts(out, " LIMIT ");
	if (limit) {
		if (cat_emit_expr(p, limit, out))
			return -1;
	} else
		cat_sb_puts(out, "-1");
	if (offset) {
		cat_sb_puts(out, " OFFSET ");
		if (cat_emit_expr(p, offset, out))
			return -1;
	}
	return 0;
}

int cat_emit_select(struct cat_parser *p, struct cat_sbuf *out)
{
	static const char *const setops[] = {
		"UNION ALL", "UNION DISTINCT", "UNION", "INTERSECT DISTINCT",
		"INTERSECT", "EXCEPT DISTINCT", "EXCEPT",
	};
	static const char *const setops_sql[] = {
		"UNION ALL", "UNION", "UNION", "INTERSECT", "INTERSECT", "EXCEPT",
		"EXCEPT",
	};
	int k;

	if (cat_p_enter(p) || emit_select_core(p, out))
		return -1;
	while ((k = cat_p_accept_one_of(p, setops, sizeof(setops) / sizeof(setops[0]))) >= 0) {
		/* SQLite has no INTERSECT ALL / EXCEPT ALL. */
		if (cat_p_peek_kw(p, "ALL"))
			return cat_p_error_at(p, cat_p_peek(p), "0A000",
					      "%s ALL is not supported", setops_sql[k]);
		cat_sb_printf(out, " %s ", setops_sql[k]);
		if (emit_select_core(p, out))
			return -1;
	}
	if (cat_p_accept_kw(p, "ORDER")) {
		if (cat_p_expect_kw(p, "BY") || emit_order_by(p, out))
			return -1;
	}
	if (emit_limit(p, out))
		return -1;
	if (cat_p_peek_kw(p, "FETCH") || cat_p_peek_kw(p, "FOR"))
		return cat_p_error_at(p, cat_p_peek(p), "0A000", "%s is not supported",
				      cat_p_peek_kw(p, "FOR") ? "SELECT ... FOR" : "FETCH");
	cat_p_leave(p);
	return 0;
}
