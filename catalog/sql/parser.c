/* Statement parser (SQL.md 3): splits a query string at ';' tokens, parses
 * every statement through the dispatch tables below (first keyword, then
 * object kind), then evaluates secret values. Also statement tags, names,
 * freeing (secret values wiped) and redaction for audit text. */
#include "parse.h"
#include "parser_rbac.h"
#include "parser_conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef int (*cat_stmt_fn)(struct cat_parser *p, struct cat_stmt *st);

struct cat_stmt_entry {
	const char *kw;          /* (multi-word) keyword after the prefix */
	cat_stmt_fn fn;          /* NULL: known but not supported yet */
};

/* Picks the entry whose keyword follows. Entries without a function give
 * `<prefix> <KW> is not supported` (0A000), no match `Expected one of ...`. */
static int dispatch(struct cat_parser *p, struct cat_stmt *st, const char *prefix,
		    const struct cat_stmt_entry *tab, size_t n)
{
	const char *kws[32];
	const struct cat_token *t = cat_p_peek(p);
	int i;

	for (size_t k = 0; k < n && k < 32; k++)
		kws[k] = tab[k].kw;
	i = cat_p_expect_one_of(p, kws, n < 32 ? n : 32);
	if (i < 0)
		return -1;
	if (!tab[i].fn)
		return cat_p_error_at(p, t, "0A000", "%s %s is not supported", prefix, tab[i].kw);
	return tab[i].fn(p, st);
}

/* ---- secrets and objects ---- */

static int parse_value(struct cat_parser *p)
{
	p->value_expr = cat_parse_expr(p);
	return p->value_expr ? 0 : -1;
}

static int create_secret(struct cat_parser *p, struct cat_stmt *st)
{
	p->hide_strings = 1;
	st->kind = CAT_STMT_CREATE_SECRET;
	st->object_kind = CAT_OBJ_SECRET;
	st->if_not_exists = cat_p_accept_kw(p, "IF NOT EXISTS");
	if (cat_p_parse_name(p, &st->name, 3) || cat_p_expect_kw(p, "AS"))
		return -1;
	return parse_value(p);
}

static int alter_secret(struct cat_parser *p, struct cat_stmt *st)
{
	static const char *const actions[] = { "AS", "RENAME", "OWNER" };

	p->hide_strings = 1;
	st->object_kind = CAT_OBJ_SECRET;
	st->if_exists = cat_p_accept_kw(p, "IF EXISTS");
	if (cat_p_parse_name(p, &st->name, 3))
		return -1;
	switch (cat_p_expect_one_of(p, actions, 3)) {
	case 0:
		st->kind = CAT_STMT_ALTER_SECRET_VALUE;
		return parse_value(p);
	case 1:
		st->kind = CAT_STMT_ALTER_SECRET_RENAME;
		if (cat_p_expect_kw(p, "TO"))
			return -1;
		return cat_p_parse_ident(p, st->new_name);
	case 2:
		return cat_parse_owner_to(p, st);
	default:
		return -1;
	}
}

static int drop_objects(struct cat_parser *p, struct cat_stmt *st, enum cat_object_kind kind)
{
	size_t cap = 0;

	st->kind = CAT_STMT_DROP_OBJECTS;
	st->object_kind = kind;
	st->if_exists = cat_p_accept_kw(p, "IF EXISTS");
	do {
		if (st->nnames == cap) {
			size_t ncap = cap ? cap * 2 : 4;
			struct cat_name *nn = realloc(st->names, ncap * sizeof(*nn));
			if (!nn)
				return err_set(p->e, "53200", "out of memory");
			st->names = nn;
			cap = ncap;
		}
		if (cat_p_parse_name(p, &st->names[st->nnames], 3))
			return -1;
		st->nnames++;
	} while (cat_p_accept_tok(p, CAT_TOK_COMMA));
	if (cat_p_accept_kw(p, "CASCADE"))
		st->cascade = 1;
	else
		cat_p_accept_kw(p, "RESTRICT");
	return 0;
}

static int drop_secret(struct cat_parser *p, struct cat_stmt *st)
{
	return drop_objects(p, st, CAT_OBJ_SECRET);
}

static int drop_connection(struct cat_parser *p, struct cat_stmt *st)
{
	return drop_objects(p, st, CAT_OBJ_CONNECTION);
}

static const struct cat_stmt_entry cat_create_kinds[] = {
	{ "SECRET", create_secret },
	{ "CONNECTION", cat_parse_create_connection },
	{ "ROLE", cat_parse_create_role },
	{ "DATABASE", cat_parse_create_database },
	{ "SCHEMA", cat_parse_create_schema },
};

static int alter_system(struct cat_parser *p, struct cat_stmt *st);

static const struct cat_stmt_entry cat_alter_kinds[] = {
	{ "SECRET", alter_secret },
	{ "CONNECTION", cat_parse_alter_connection },
	{ "ROLE", cat_parse_alter_role },
	{ "SYSTEM", alter_system },
};

static const struct cat_stmt_entry cat_drop_kinds[] = {
	{ "SECRET", drop_secret },
	{ "CONNECTION", drop_connection },
	{ "ROLE", cat_parse_drop_role },
	{ "DATABASE", cat_parse_drop_database },
	{ "SCHEMA", cat_parse_drop_schema },
};

static int parse_create(struct cat_parser *p, struct cat_stmt *st)
{
	cat_p_next(p);
	return dispatch(p, st, "CREATE", cat_create_kinds,
			sizeof(cat_create_kinds) / sizeof(cat_create_kinds[0]));
}

static int parse_alter(struct cat_parser *p, struct cat_stmt *st)
{
	cat_p_next(p);
	return dispatch(p, st, "ALTER", cat_alter_kinds,
			sizeof(cat_alter_kinds) / sizeof(cat_alter_kinds[0]));
}

static int parse_drop(struct cat_parser *p, struct cat_stmt *st)
{
	cat_p_next(p);
	return dispatch(p, st, "DROP", cat_drop_kinds,
			sizeof(cat_drop_kinds) / sizeof(cat_drop_kinds[0]));
}

/* ---- SHOW ---- */

static int show_objects(struct cat_parser *p, struct cat_stmt *st)
{
	st->kind = CAT_STMT_SHOW_OBJECTS;
	st->object_kind = cat_p_next(p)->val[0] == 's' ? CAT_OBJ_SECRET : CAT_OBJ_CONNECTION;
	if (cat_p_accept_kw(p, "FROM")) {
		st->has_from = 1;
		if (cat_p_parse_name(p, &st->from_schema, 2))
			return -1;
	}
	if (cat_p_accept_kw(p, "LIKE")) {
		const struct cat_token *t = cat_p_peek(p);
		if (t->kind != CAT_TOK_STRING)
			return cat_p_error_expected(p, "literal string");
		cat_p_next(p);
		st->like_pattern = malloc(t->vlen + 1);
		if (!st->like_pattern)
			return err_set(p->e, "53200", "out of memory");
		memcpy(st->like_pattern, t->val, t->vlen + 1);
	} else if (cat_p_accept_kw(p, "WHERE")) {
		struct cat_sbuf b = { 0 };
		struct cat_expr *x = cat_parse_expr(p);
		if (!x || cat_emit_expr(p, x, &b)) {
			cat_sb_free(&b);
			return -1;
		}
		if (!(st->where_sql = cat_sb_take(&b, p->e)))
			return -1;
		st->nparams = p->max_param;
	}
	return 0;
}

/* name {. name} joined with dots, for SET/SHOW/RESET variables. */
static int parse_var_name(struct cat_parser *p, struct cat_stmt *st)
{
	size_t off = 0;

	do {
		const struct cat_token *t = cat_p_peek(p);
		if (t->kind != CAT_TOK_IDENT)
			return cat_p_error_expected(p, "identifier");
		if (off + (off ? 1 : 0) + t->vlen > CAT_IDENT_MAX)
			return cat_p_error_at(p, t, "42622", "identifier length exceeds 255 bytes");
		if (off)
			st->var_name[off++] = '.';
		memcpy(st->var_name + off, t->val, t->vlen);
		off += t->vlen;
		st->var_name[off] = '\0';
		cat_p_next(p);
	} while (cat_p_accept_tok(p, CAT_TOK_DOT));
	return 0;
}

static void set_var(struct cat_stmt *st, const char *name)
{
	snprintf(st->var_name, sizeof(st->var_name), "%s", name);
}

/* SHOW <var> forms with more than one word. */
static const struct {
	const char *kws, *var;
} cat_var_phrases[] = {
	{ "TIME ZONE", "timezone" },
	{ "TRANSACTION ISOLATION LEVEL", "transaction_isolation" },
	{ "SESSION AUTHORIZATION", "session_authorization" },
};

static int accept_var_phrase(struct cat_parser *p, struct cat_stmt *st)
{
	for (size_t i = 0; i < sizeof(cat_var_phrases) / sizeof(cat_var_phrases[0]); i++)
		if (cat_p_accept_kw(p, cat_var_phrases[i].kws)) {
			set_var(st, cat_var_phrases[i].var);
			return 1;
		}
	return 0;
}

/* What SHOW and RESET name: ALL, a multi-word variable, or a name. */
static int parse_var_or_all(struct cat_parser *p, struct cat_stmt *st)
{
	if (cat_p_accept_kw(p, "ALL")) {
		set_var(st, "all");
		return 0;
	}
	if (accept_var_phrase(p, st))
		return 0;
	return parse_var_name(p, st);
}

static int parse_show(struct cat_parser *p, struct cat_stmt *st)
{
	const struct cat_token *t;

	cat_p_next(p);
	t = cat_p_peek(p);
	if (cat_p_peek_kw(p, "SECRETS") || cat_p_peek_kw(p, "CONNECTIONS"))
		return show_objects(p, st);
	(void)t;
	if (cat_p_peek_kw(p, "CREATE") || cat_p_peek_kw(p, "REDACTED"))
		return cat_parse_show_create(p, st);
	st->kind = CAT_STMT_SHOW_VAR;
	return parse_var_or_all(p, st);
}

/* ---- SET / RESET ---- */

/* value {, value} | DEFAULT: strings as their text, numbers with their
 * sign, words folded; lists joined with ", " (PostgreSQL's flattening). */
static int parse_var_value(struct cat_parser *p, struct cat_stmt *st)
{
	struct cat_sbuf b = { 0 };

	if (cat_p_accept_kw(p, "DEFAULT"))
		return 0;
	do {
		const struct cat_token *t = cat_p_peek(p);
		const char *sign = "";
		if (t->kind == CAT_TOK_OP && (!strcmp(t->val, "-") || !strcmp(t->val, "+")) &&
		    cat_p_peek_n(p, 1)->kind == CAT_TOK_NUMBER) {
			sign = t->val[0] == '-' ? "-" : "";
			cat_p_next(p);
			t = cat_p_peek(p);
		}
		if (b.len)
			cat_sb_puts(&b, ", ");
		if (t->kind == CAT_TOK_STRING || t->kind == CAT_TOK_NUMBER) {
			cat_sb_puts(&b, sign);
			cat_sb_put(&b, t->val, t->vlen);
		} else if (t->kind == CAT_TOK_IDENT) {
			char q[CAT_IDENT_MAX * 2 + 3];
			if ((t->flags & CAT_TOKF_QUOTED) && !b.len &&
			    cat_p_peek_n(p, 1)->kind != CAT_TOK_COMMA)
				cat_sb_put(&b, t->val, t->vlen);
			else if (t->flags & CAT_TOKF_QUOTED) {
				cat_quote_ident(t->val, q, sizeof(q));
				cat_sb_puts(&b, q);
			} else
				cat_sb_put(&b, t->val, t->vlen);
		} else {
			cat_sb_free(&b);
			return cat_p_error_expected(p, "variable value");
		}
		cat_p_next(p);
	} while (cat_p_accept_tok(p, CAT_TOK_COMMA));
	return (st->var_value = cat_sb_take(&b, p->e)) ? 0 : -1;
}

static int set_value_string(struct cat_parser *p, struct cat_stmt *st, const char *v)
{
	st->var_value = strdup(v);
	return st->var_value ? 0 : err_set(p->e, "53200", "out of memory");
}

/* ISOLATION LEVEL ... | READ ONLY | READ WRITE | [NOT] DEFERRABLE, comma
 * optional. Records the first mode as a variable when st is given. */
static int parse_txn_modes(struct cat_parser *p, struct cat_stmt *st, const char *prefix)
{
	static const char *const levels[] = {
		"SERIALIZABLE", "REPEATABLE READ", "READ COMMITTED", "READ UNCOMMITTED",
	};
	static const char *const level_values[] = {
		"serializable", "repeatable read", "read committed", "read uncommitted",
	};
	int n = 0;

	for (;;) {
		char var[64];
		const char *value;
		if (n && cat_p_peek(p)->kind == CAT_TOK_COMMA)
			cat_p_next(p);
		if (cat_p_accept_kw(p, "ISOLATION LEVEL")) {
			int l = cat_p_expect_one_of(p, levels, 4);
			if (l < 0)
				return -1;
			snprintf(var, sizeof(var), "%stransaction_isolation", prefix);
			value = level_values[l];
		} else if (cat_p_accept_kw(p, "READ ONLY")) {
			snprintf(var, sizeof(var), "%stransaction_read_only", prefix);
			value = "on";
		} else if (cat_p_accept_kw(p, "READ WRITE")) {
			snprintf(var, sizeof(var), "%stransaction_read_only", prefix);
			value = "off";
		} else if (cat_p_accept_kw(p, "DEFERRABLE")) {
			snprintf(var, sizeof(var), "%stransaction_deferrable", prefix);
			value = "on";
		} else if (cat_p_accept_kw(p, "NOT DEFERRABLE")) {
			snprintf(var, sizeof(var), "%stransaction_deferrable", prefix);
			value = "off";
		} else if (n && cat_p_peek(p)->kind == CAT_TOK_COMMA) {
			return cat_p_error_expected(p, "transaction mode");
		} else
			break;
		if (st && n == 0) {
			set_var(st, var);
			if (set_value_string(p, st, value))
				return -1;
		}
		n++;
	}
	if (st && n == 0)
		return cat_p_error_expected(p, "transaction mode");
	return 0;
}

static int parse_set(struct cat_parser *p, struct cat_stmt *st)
{
	const struct cat_token *t;

	cat_p_next(p);
	st->kind = CAT_STMT_SET_VAR;
	if (cat_p_accept_kw(p, "SESSION CHARACTERISTICS AS TRANSACTION"))
		return parse_txn_modes(p, st, "default_");
	if (cat_p_accept_kw(p, "SESSION AUTHORIZATION")) {
		set_var(st, "session_authorization");
		return parse_var_value(p, st);
	}
	if (cat_p_accept_kw(p, "LOCAL"))
		st->var_is_local = 1;
	else
		cat_p_accept_kw(p, "SESSION");
	if (cat_p_accept_kw(p, "TRANSACTION"))
		return parse_txn_modes(p, st, "");
	if (cat_p_accept_kw(p, "TIME ZONE")) {
		set_var(st, "timezone");
		if (cat_p_accept_kw(p, "LOCAL"))
			return 0;
		if (cat_p_peek_kw(p, "INTERVAL"))
			return cat_p_error_at(p, cat_p_peek(p), "0A000",
					      "SET TIME ZONE INTERVAL is not supported");
		return parse_var_value(p, st);
	}
	if (cat_p_accept_kw(p, "NAMES")) {
		set_var(st, "client_encoding");
		return parse_var_value(p, st);
	}
	if (cat_p_accept_kw(p, "SCHEMA")) {
		set_var(st, "search_path");
		t = cat_p_peek(p);
		if (t->kind != CAT_TOK_STRING)
			return cat_p_error_expected(p, "literal string");
		return parse_var_value(p, st);
	}
	if (cat_p_accept_kw(p, "ROLE"))     /* SET ROLE name: no TO */
		return cat_parse_set_role(p, st);
	if (parse_var_name(p, st))
		return -1;
	if (!cat_p_accept_tok(p, CAT_TOK_EQ) && !cat_p_accept_kw(p, "TO"))
		return cat_p_error_expected(p, "equals sign or TO");
	return parse_var_value(p, st);
}

static int parse_reset(struct cat_parser *p, struct cat_stmt *st)
{
	cat_p_next(p);
	st->kind = CAT_STMT_SET_VAR;
	st->var_is_reset = 1;
	if (cat_p_accept_kw(p, "ROLE"))
		return cat_parse_reset_role(p, st);
	return parse_var_or_all(p, st);
}

/* ALTER SYSTEM SET name {= | TO} value | DEFAULT; ALTER SYSTEM RESET
 * name | ALL (SQL.md 9.6). Names and values are checked by the executor
 * (sysvars.c) against its table, like SET's. ALTER SYSTEM ROTATE {DATA |
 * MASTER} KEY: key rotation (catalog/ddl_keys.c, docs/KEYS.md). */
static int alter_system(struct cat_parser *p, struct cat_stmt *st)
{
	static const char *const actions[] = { "SET", "RESET", "ROTATE" };
	static const char *const keys[] = { "DATA", "MASTER" };
	int a = cat_p_expect_one_of(p, actions, 3);

	if (a < 0)
		return -1;
	if (a == 2) {
		int k = cat_p_expect_one_of(p, keys, 2);
		if (k < 0 || cat_p_expect_kw(p, "KEY"))
			return -1;
		st->kind = CAT_STMT_ALTER_SYSTEM_ROTATE;
		set_var(st, k == 0 ? "data" : "master");
		return 0;
	}
	st->kind = CAT_STMT_ALTER_SYSTEM;
	if (a == 1) {
		st->var_is_reset = 1;
		if (cat_p_accept_kw(p, "ALL")) {
			set_var(st, "all");
			return 0;
		}
		return parse_var_name(p, st);
	}
	if (parse_var_name(p, st))
		return -1;
	if (!cat_p_accept_tok(p, CAT_TOK_EQ) && !cat_p_accept_kw(p, "TO"))
		return cat_p_error_expected(p, "equals sign or TO");
	return parse_var_value(p, st);
}

/* ---- transactions ---- */

static int parse_begin(struct cat_parser *p, struct cat_stmt *st)
{
	st->kind = CAT_STMT_BEGIN;
	if (cat_p_accept_kw(p, "START")) {
		st->start_transaction = 1;
		if (cat_p_expect_kw(p, "TRANSACTION"))
			return -1;
	} else {
		cat_p_next(p);
		if (!cat_p_accept_kw(p, "TRANSACTION"))
			cat_p_accept_kw(p, "WORK");
	}
	return parse_txn_modes(p, NULL, "");
}

static int parse_chain(struct cat_parser *p, const char *stmt)
{
	const struct cat_token *t = cat_p_peek(p);

	if (!cat_p_accept_kw(p, "TRANSACTION"))
		cat_p_accept_kw(p, "WORK");
	t = cat_p_peek(p);
	if (cat_p_accept_kw(p, "AND NO CHAIN"))
		return 0;
	if (cat_p_accept_kw(p, "AND CHAIN"))
		return cat_p_error_at(p, t, "0A000", "%s AND CHAIN is not supported", stmt);
	return 0;
}

static int parse_commit(struct cat_parser *p, struct cat_stmt *st)
{
	cat_p_next(p);
	st->kind = CAT_STMT_COMMIT;
	return parse_chain(p, "COMMIT");
}

static int parse_rollback(struct cat_parser *p, struct cat_stmt *st)
{
	cat_p_next(p);
	st->kind = CAT_STMT_ROLLBACK;
	if (!cat_p_accept_kw(p, "TRANSACTION"))
		cat_p_accept_kw(p, "WORK");
	if (cat_p_peek_kw(p, "TO"))
		return cat_p_error_at(p, cat_p_peek(p), "0A000",
				      "ROLLBACK TO SAVEPOINT is not supported");
	return parse_chain(p, "ROLLBACK");
}

static int parse_discard(struct cat_parser *p, struct cat_stmt *st)
{
	cat_p_next(p);
	st->kind = CAT_STMT_DISCARD;
	return cat_p_expect_kw(p, "ALL");
}

static int parse_select(struct cat_parser *p, struct cat_stmt *st)
{
	struct cat_sbuf b = { 0 };

	st->kind = CAT_STMT_SELECT;
	if (cat_emit_select(p, &b)) {
		cat_sb_free(&b);
		return -1;
	}
	if (!(st->select_sql = cat_sb_take(&b, p->e)))
		return -1;
	st->nparams = p->max_param;
	memcpy(st->select_hidden, p->hidden, sizeof(p->hidden));
	st->nselect_hidden = p->nhidden;
	return 0;
}

/* First keyword of a statement. */
static const struct cat_stmt_entry cat_statements[] = {
	{ "CREATE", parse_create },
	{ "ALTER", parse_alter },
	{ "DROP", parse_drop },
	{ "SHOW", parse_show },
	{ "SELECT", parse_select },
	{ "SET", parse_set },
	{ "RESET", parse_reset },
	{ "BEGIN", parse_begin },
	{ "START", parse_begin },
	{ "COMMIT", parse_commit },
	{ "END", parse_commit },
	{ "ROLLBACK", parse_rollback },
	{ "ABORT", parse_rollback },
	{ "DISCARD", parse_discard },
	/* known, not (yet) tether's */
	{ "WITH", NULL }, { "VALUES", NULL }, { "TABLE", NULL }, { "INSERT", NULL },
	{ "UPDATE", NULL }, { "DELETE", NULL }, { "MERGE", NULL }, { "COPY", NULL },
	{ "EXPLAIN", NULL }, { "PREPARE", NULL }, { "EXECUTE", NULL },
	{ "DEALLOCATE", NULL }, { "DECLARE", NULL }, { "FETCH", NULL },
	{ "CLOSE", NULL }, { "LISTEN", NULL }, { "UNLISTEN", NULL }, { "NOTIFY", NULL },
	{ "SAVEPOINT", NULL }, { "RELEASE", NULL }, { "LOCK", NULL },
	{ "TRUNCATE", NULL }, { "VACUUM", NULL }, { "ANALYZE", NULL },
	{ "ATTACH", NULL }, { "DETACH", NULL }, { "PRAGMA", NULL }, { "REINDEX", NULL },
	{ "GRANT", cat_parse_grant }, { "REVOKE", cat_parse_revoke }, { "COMMENT", cat_parse_comment }, { "VALIDATE", cat_parse_validate },
};

static int parse_statement(struct cat_parser *p, struct cat_stmt *st)
{
	const struct cat_token *t = cat_p_peek(p);

	for (size_t i = 0; i < sizeof(cat_statements) / sizeof(cat_statements[0]); i++) {
		if (!cat_tok_is_kw(t, cat_statements[i].kw))
			continue;
		if (!cat_statements[i].fn)
			return cat_p_error_at(p, t, "0A000", "%s is not supported",
					      cat_statements[i].kw);
		return cat_statements[i].fn(p, st);
	}
	return cat_p_error_expected(p, "a keyword at the beginning of a statement");
}

int cat_parse(const char *sql, size_t len, struct cat_stmt **out, size_t *count,
	      struct err *e)
{
	struct cat_lexed lx;
	struct cat_parser p = { .sql = sql, .len = len, .e = e };
	struct cat_stmt *stmts = NULL;
	struct cat_expr **values = NULL;
	size_t n = 0, cap = 0, i = 0;

	*out = NULL;
	*count = 0;
	err_clear(e);
	if (len > CAT_MAX_STATEMENT)
		return err_set(e, "54000", "statement is too long");
	if (cat_lex(sql, len, &lx, e))
		return -1;
	p.toks = lx.toks;
	for (;;) {
		size_t j = i;
		while (lx.toks[j].kind != CAT_TOK_SEMI && lx.toks[j].kind != CAT_TOK_EOF)
			j++;
		if (j > i) {
			struct cat_stmt *st;
			if (n == cap) {
				size_t ncap = cap ? cap * 2 : 4;
				struct cat_stmt *ns = realloc(stmts, ncap * sizeof(*ns));
				struct cat_expr **nv;
				if (!ns)
					goto oom;
				stmts = ns;
				nv = realloc(values, ncap * sizeof(*nv));
				if (!nv)
					goto oom;
				values = nv;
				cap = ncap;
			}
			st = &stmts[n];
			memset(st, 0, sizeof(*st));
			values[n] = NULL;
			n++;
			st->start = lx.toks[i].start;
			st->end = lx.toks[j - 1].end;
			p.pos = i;
			p.end = j;
			p.depth = 0;
			p.hide_strings = 0;
			p.max_param = 0;
			p.first_param = NULL;
			p.value_expr = NULL;
			p.nhidden = 0;
			if (parse_statement(&p, st) || cat_p_expect_end(&p))
				goto fail;
			values[n - 1] = p.value_expr;
		}
		if (lx.toks[j].kind == CAT_TOK_EOF)
			break;
		i = j + 1;
	}
	/* Secret values once the whole string is known to parse. */
	for (size_t k = 0; k < n; k++) {
		if (!values[k])
			continue;
		p.hide_strings = 1;
		if (cat_secret_eval(&p, values[k], &stmts[k].value))
			goto fail;
	}
	if (n == 0) {
		stmts = calloc(1, sizeof(*stmts));
		if (!stmts)
			goto oom;
		stmts[0].kind = CAT_STMT_EMPTY;
		stmts[0].end = len;
		n = 1;
	}
	free(values);
	cat_arena_free(&p.arena);
	cat_lex_free(&lx);
	*out = stmts;
	*count = n;
	return 0;
oom:
	err_set(e, "53200", "out of memory");
fail:
	cat_stmts_free(stmts, n);
	free(values);
	cat_arena_free(&p.arena);
	cat_lex_free(&lx);
	return -1;
}

void cat_stmt_wipe_value(struct cat_stmt *stmt)
{
	if (stmt->value.bytes) {
		explicit_bzero(stmt->value.bytes, stmt->value.len);
		free(stmt->value.bytes);
	}
	stmt->value.bytes = NULL;
	stmt->value.len = 0;
}

void cat_stmts_free(struct cat_stmt *stmts, size_t count)
{
	if (!stmts)
		return;
	for (size_t i = 0; i < count; i++) {
		struct cat_stmt *st = &stmts[i];
		cat_stmt_wipe_value(st);
		free(st->names);
		free(st->like_pattern);
		free(st->where_sql);
		free(st->select_sql);
		cat_rbac_stmt_free(st->rbac);
		cat_conn_stmt_free(st->conn);
		if (st->var_value) {
			explicit_bzero(st->var_value, strlen(st->var_value));
			free(st->var_value);
		}
	}
	explicit_bzero(stmts, count * sizeof(*stmts));
	free(stmts);
}

const char *cat_stmt_tag(const struct cat_stmt *stmt)
{
	switch (stmt->kind) {
	case CAT_STMT_EMPTY:
		return "";
	case CAT_STMT_CREATE_SECRET:
		return "CREATE SECRET";
	case CAT_STMT_ALTER_SECRET_VALUE:
	case CAT_STMT_ALTER_SECRET_RENAME:
		return "ALTER SECRET";
	case CAT_STMT_DROP_OBJECTS:
		return stmt->object_kind == CAT_OBJ_SECRET ? "DROP SECRET" : "DROP CONNECTION";
	case CAT_STMT_SHOW_OBJECTS:
	case CAT_STMT_SHOW_VAR:
		return "SHOW";
	case CAT_STMT_SELECT:
		return "SELECT";
	case CAT_STMT_SET_VAR:
		return stmt->var_is_reset ? "RESET" : "SET";
	case CAT_STMT_BEGIN:
		return stmt->start_transaction ? "START TRANSACTION" : "BEGIN";
	case CAT_STMT_COMMIT:
		return "COMMIT";
	case CAT_STMT_ROLLBACK:
		return "ROLLBACK";
	case CAT_STMT_DISCARD:
		return "DISCARD ALL";
	case CAT_STMT_CREATE_ROLE:
		return "CREATE ROLE";
	case CAT_STMT_ALTER_ROLE:
		return "ALTER ROLE";
	case CAT_STMT_DROP_ROLE:
		return "DROP ROLE";
	case CAT_STMT_GRANT_PRIV:
		return "GRANT";
	case CAT_STMT_REVOKE_PRIV:
		return "REVOKE";
	case CAT_STMT_GRANT_ROLE:
		return "GRANT ROLE";
	case CAT_STMT_REVOKE_ROLE:
		return "REVOKE ROLE";
	case CAT_STMT_ALTER_OWNER:
		return stmt->object_kind == CAT_OBJ_SECRET ? "ALTER SECRET" : "ALTER CONNECTION";
	case CAT_STMT_CREATE_DATABASE:
		return "CREATE DATABASE";
	case CAT_STMT_CREATE_SCHEMA:
		return "CREATE SCHEMA";
	case CAT_STMT_DROP_DATABASE:
		return "DROP DATABASE";
	case CAT_STMT_DROP_SCHEMA:
		return "DROP SCHEMA";
	case CAT_STMT_SET_ROLE:
		return stmt->var_is_reset ? "RESET" : "SET";
	case CAT_STMT_CREATE_CONNECTION:
		return "CREATE CONNECTION";
	case CAT_STMT_ALTER_CONNECTION:
		return "ALTER CONNECTION";
	case CAT_STMT_VALIDATE_CONNECTION:
		return "VALIDATE CONNECTION";
	case CAT_STMT_SHOW_CREATE_CONNECTION:
		return "SHOW CREATE CONNECTION";
	case CAT_STMT_COMMENT:
		return "COMMENT";
	case CAT_STMT_ALTER_SYSTEM:
	case CAT_STMT_ALTER_SYSTEM_ROTATE:
		return "ALTER SYSTEM";
	}
	return "";
}

const char *cat_stmt_name(const struct cat_stmt *stmt)
{
	switch (stmt->kind) {
	case CAT_STMT_SHOW_OBJECTS:
		return stmt->object_kind == CAT_OBJ_SECRET ? "SHOW SECRETS" : "SHOW CONNECTIONS";
	default:
		return cat_stmt_tag(stmt);
	}
}

char *cat_redact(const char *sql, size_t len)
{
	struct cat_lexed lx;
	struct err e;
	struct cat_sbuf b = { 0 };
	char *s;

	if (len > CAT_MAX_STATEMENT)
		return strdup("<statement too long>");
	if (cat_lex(sql, len, &lx, &e))
		return strdup("<unparsable statement>");
	for (size_t i = 0; i + 1 < lx.ntoks; i++) {
		const struct cat_token *t = &lx.toks[i];
		/* Gaps held whitespace or comments: one space stands in. */
		if (i > 0 && t->start > lx.toks[i - 1].end)
			cat_sb_put(&b, " ", 1);
		if (t->kind == CAT_TOK_STRING)
			cat_sb_puts(&b, "'<REDACTED>'");
		else
			cat_sb_put(&b, sql + t->start, t->end - t->start);
	}
	cat_lex_free(&lx);
	s = cat_sb_take(&b, &e);
	return s;
}
