/* Parsers for SQL.md 3's role and namespace statements: CREATE/ALTER/DROP
 * ROLE, GRANT/REVOKE (privileges and roles), ALTER ... OWNER TO, CREATE/DROP
 * DATABASE|SCHEMA and SET/RESET ROLE. They fill st->rbac; ddl_role.c runs
 * them. Names are checked against the catalog there, not here. */
#include "parser_rbac.h"

#include <stdlib.h>
#include <string.h>

static struct cat_rbac_stmt *rbac_of(struct cat_parser *p, struct cat_stmt *st)
{
	if (!st->rbac) {
		st->rbac = calloc(1, sizeof(*st->rbac));
		if (!st->rbac)
			err_set(p->e, "53200", "out of memory");
	}
	return st->rbac;
}

void cat_rbac_stmt_free(struct cat_rbac_stmt *rs)
{
	if (!rs)
		return;
	if (rs->password_text) {
		explicit_bzero(rs->password_text, rs->password_len);
		free(rs->password_text);
	}
	free(rs->roles);
	free(rs->grantees);
	free(rs->objects);
	free(rs);
}

/* Appends one zeroed slot to an array of `size`-byte elements (lists are
 * short: one realloc per element). */
static void *grow(struct cat_parser *p, void **arr, size_t *n, size_t size)
{
	char *na;

	if (*n >= 4096) {
		err_set(p->e, "54000", "too many names in one statement");
		return NULL;
	}
	na = realloc(*arr, (*n + 1) * size);
	if (!na) {
		err_set(p->e, "53200", "out of memory");
		return NULL;
	}
	*arr = na;
	memset(na + *n * size, 0, size);
	return na + (*n)++ * size;
}

/* ident {, ident} into a list of role names. */
static int parse_ident_list(struct cat_parser *p, char (**list)[CAT_IDENT_MAX + 1],
			    size_t *n)
{
	do {
		char (*slot)[CAT_IDENT_MAX + 1] = grow(p, (void **)list, n, sizeof(**list));
		if (!slot || cat_p_parse_ident(p, *slot))
			return -1;
	} while (cat_p_accept_tok(p, CAT_TOK_COMMA));
	return 0;
}

/* name {, name} of at most maxparts parts. */
static int parse_name_list(struct cat_parser *p, struct cat_name **list, size_t *n,
			   int maxparts)
{
	do {
		struct cat_name *slot = grow(p, (void **)list, n, sizeof(**list));
		if (!slot || cat_p_parse_name(p, slot, maxparts))
			return -1;
	} while (cat_p_accept_tok(p, CAT_TOK_COMMA));
	return 0;
}

/* ---- CREATE / ALTER / DROP ROLE ---- */

static const struct {
	const char *kw;
	unsigned attr;
	int on;
} role_attrs[] = {
	{ "SUPERUSER", CAT_RATTR_SUPERUSER, 1 },
	{ "NOSUPERUSER", CAT_RATTR_SUPERUSER, 0 },
	{ "LOGIN", CAT_RATTR_LOGIN, 1 },
	{ "NOLOGIN", CAT_RATTR_LOGIN, 0 },
	{ "INHERIT", CAT_RATTR_INHERIT, 1 },
	{ "NOINHERIT", CAT_RATTR_INHERIT, 0 },
	{ "CREATEROLE", CAT_RATTR_CREATEROLE, 1 },
	{ "NOCREATEROLE", CAT_RATTR_CREATEROLE, 0 },
	{ "CREATEDB", CAT_RATTR_CREATEDB, 1 },
	{ "NOCREATEDB", CAT_RATTR_CREATEDB, 0 },
};
#define NATTRS (sizeof(role_attrs) / sizeof(role_attrs[0]))

static int parse_role_attrs(struct cat_parser *p, struct cat_rbac_stmt *rs)
{
	cat_p_accept_kw(p, "WITH");
	while (!cat_p_at_end(p)) {
		const struct cat_token *t = cat_p_peek(p);
		size_t i;

		if (cat_p_accept_kw(p, "PASSWORD")) {
			if (rs->password)
				return cat_p_error_at(p, t, "42601", "conflicting or redundant options");
			if (cat_p_accept_kw(p, "NULL")) {
				rs->password = 2;
				continue;
			}
			if (cat_p_peek(p)->kind != CAT_TOK_STRING)
				return cat_p_error_expected(p, "literal string or NULL");
			/* Kept only until ddl_role.c hashes it (then wiped). */
			t = cat_p_peek(p);
			rs->password_text = malloc(t->vlen + 1);
			if (!rs->password_text)
				return err_set(p->e, "53200", "out of memory");
			memcpy(rs->password_text, t->val, t->vlen);
			rs->password_text[t->vlen] = '\0';
			rs->password_len = t->vlen;
			cat_p_next(p);
			rs->password = 1;
			continue;
		}
		for (i = 0; i < NATTRS; i++)
			if (cat_tok_is_kw(t, role_attrs[i].kw))
				break;
		if (i == NATTRS)
			return cat_p_error_expected(p, "one of SUPERUSER or NOSUPERUSER or LOGIN or NOLOGIN or INHERIT or CREATEROLE or NOCREATEROLE or CREATEDB or NOCREATEDB or PASSWORD");
		if (rs->attr_set & role_attrs[i].attr)
			return cat_p_error_at(p, t, "42601", "conflicting or redundant options");
		if (role_attrs[i].attr == CAT_RATTR_INHERIT && !role_attrs[i].on)
			return cat_p_error_at(p, t, "0A000", "NOINHERIT is not supported");
		rs->attr_set |= role_attrs[i].attr;
		if (role_attrs[i].on)
			rs->attr_on |= role_attrs[i].attr;
		cat_p_next(p);
	}
	return 0;
}

static int role_statement(struct cat_parser *p, struct cat_stmt *st,
			  enum cat_stmt_kind kind)
{
	struct cat_rbac_stmt *rs = rbac_of(p, st);

	if (!rs)
		return -1;
	p->hide_strings = 1;       /* PASSWORD 'x' never reaches a message */
	st->kind = kind;
	if (cat_p_parse_ident(p, rs->role))
		return -1;
	return parse_role_attrs(p, rs);
}

int cat_parse_create_role(struct cat_parser *p, struct cat_stmt *st)
{
	return role_statement(p, st, CAT_STMT_CREATE_ROLE);
}

int cat_parse_alter_role(struct cat_parser *p, struct cat_stmt *st)
{
	return role_statement(p, st, CAT_STMT_ALTER_ROLE);
}

int cat_parse_drop_role(struct cat_parser *p, struct cat_stmt *st)
{
	struct cat_rbac_stmt *rs = rbac_of(p, st);

	if (!rs)
		return -1;
	st->kind = CAT_STMT_DROP_ROLE;
	st->if_exists = cat_p_accept_kw(p, "IF EXISTS");
	return parse_ident_list(p, &rs->roles, &rs->nroles);
}

/* ---- GRANT / REVOKE ---- */

static const struct {
	const char *kw;
	unsigned priv;
} priv_words[] = {
	{ "USAGE", CAT_PRIV_USAGE },
	{ "CREATE", CAT_PRIV_CREATE },
	{ "CREATEROLE", CAT_PRIV_CREATEROLE },
	{ "CREATEDB", CAT_PRIV_CREATEDB },
};

/* privs ::= ALL [PRIVILEGES] | priv {, priv}, followed by ON. */
static int parse_privs(struct cat_parser *p, struct cat_rbac_stmt *rs)
{
	if (cat_p_accept_kw(p, "ALL")) {
		cat_p_accept_kw(p, "PRIVILEGES");
		rs->all_privs = 1;
		return 0;
	}
	do {
		const struct cat_token *t = cat_p_peek(p);
		size_t i;

		for (i = 0; i < sizeof(priv_words) / sizeof(priv_words[0]); i++)
			if (cat_tok_is_kw(t, priv_words[i].kw))
				break;
		if (i == sizeof(priv_words) / sizeof(priv_words[0]))
			return cat_p_error_expected(p, "one of ALL or USAGE or CREATE or CREATEROLE or CREATEDB");
		rs->privs |= priv_words[i].priv;
		cat_p_next(p);
	} while (cat_p_accept_tok(p, CAT_TOK_COMMA));
	return 0;
}

static int parse_grant_target(struct cat_parser *p, struct cat_rbac_stmt *rs)
{
	static const char *const kinds[] = {
		"SECRET", "CONNECTION", "SCHEMA", "DATABASE", "SYSTEM", "ALL",
	};
	static const char *const all_kinds[] = { "SECRETS", "CONNECTIONS" };

	switch (cat_p_expect_one_of(p, kinds, 6)) {
	case 0:
		rs->target = CAT_GRANT_SECRET;
		return parse_name_list(p, &rs->objects, &rs->nobjects, 3);
	case 1:
		rs->target = CAT_GRANT_CONNECTION;
		return parse_name_list(p, &rs->objects, &rs->nobjects, 3);
	case 2:
		rs->target = CAT_GRANT_SCHEMA;
		return parse_name_list(p, &rs->objects, &rs->nobjects, 2);
	case 3:
		rs->target = CAT_GRANT_DATABASE;
		return parse_name_list(p, &rs->objects, &rs->nobjects, 1);
	case 4:
		rs->target = CAT_GRANT_SYSTEM;
		return 0;
	case 5:
		switch (cat_p_expect_one_of(p, all_kinds, 2)) {
		case 0:
			rs->target = CAT_GRANT_ALL_SECRETS;
			break;
		case 1:
			rs->target = CAT_GRANT_ALL_CONNECTIONS;
			break;
		default:
			return -1;
		}
		if (!cat_p_accept_kw(p, "IN"))
			return 0;
		if (cat_p_accept_kw(p, "SCHEMA")) {
			rs->scope = 1;
			return parse_name_list(p, &rs->objects, &rs->nobjects, 2);
		}
		if (cat_p_accept_kw(p, "DATABASE")) {
			rs->scope = 2;
			return parse_name_list(p, &rs->objects, &rs->nobjects, 1);
		}
		return cat_p_error_expected(p, "one of SCHEMA or DATABASE");
	default:
		return -1;
	}
}

/* GRANT privs ON target TO roles | GRANT roles TO roles (and REVOKE with
 * FROM). A privilege list is told from a role list by what it starts
 * with; USAGE etc. are never role names here (quote them to mean one). */
static int grant_or_revoke(struct cat_parser *p, struct cat_stmt *st, int grant)
{
	struct cat_rbac_stmt *rs = rbac_of(p, st);
	const char *to = grant ? "TO" : "FROM";
	const struct cat_token *t;
	int is_priv = 0;

	if (!rs)
		return -1;
	cat_p_next(p);     /* GRANT / REVOKE */
	t = cat_p_peek(p);
	if (cat_tok_is_kw(t, "ALL"))
		is_priv = 1;
	for (size_t i = 0; i < sizeof(priv_words) / sizeof(priv_words[0]); i++)
		if (cat_tok_is_kw(t, priv_words[i].kw))
			is_priv = 1;
	if (is_priv) {
		st->kind = grant ? CAT_STMT_GRANT_PRIV : CAT_STMT_REVOKE_PRIV;
		if (parse_privs(p, rs) || cat_p_expect_kw(p, "ON") ||
		    parse_grant_target(p, rs))
			return -1;
	} else {
		st->kind = grant ? CAT_STMT_GRANT_ROLE : CAT_STMT_REVOKE_ROLE;
		if (parse_ident_list(p, &rs->roles, &rs->nroles))
			return -1;
	}
	if (cat_p_expect_kw(p, to))
		return -1;
	return parse_ident_list(p, &rs->grantees, &rs->ngrantees);
}

int cat_parse_grant(struct cat_parser *p, struct cat_stmt *st)
{
	return grant_or_revoke(p, st, 1);
}

int cat_parse_revoke(struct cat_parser *p, struct cat_stmt *st)
{
	return grant_or_revoke(p, st, 0);
}

/* ---- OWNER TO ---- */

int cat_parse_owner_to(struct cat_parser *p, struct cat_stmt *st)
{
	struct cat_rbac_stmt *rs = rbac_of(p, st);

	if (!rs)
		return -1;
	st->kind = CAT_STMT_ALTER_OWNER;
	if (cat_p_expect_kw(p, "TO"))
		return -1;
	return cat_p_parse_ident(p, rs->role);
}

/* ---- databases and schemas ---- */

static int create_ns(struct cat_parser *p, struct cat_stmt *st,
		     enum cat_stmt_kind kind, int maxparts)
{
	st->kind = kind;
	st->if_not_exists = cat_p_accept_kw(p, "IF NOT EXISTS");
	return cat_p_parse_name(p, &st->name, maxparts);
}

int cat_parse_create_database(struct cat_parser *p, struct cat_stmt *st)
{
	return create_ns(p, st, CAT_STMT_CREATE_DATABASE, 1);
}

int cat_parse_create_schema(struct cat_parser *p, struct cat_stmt *st)
{
	return create_ns(p, st, CAT_STMT_CREATE_SCHEMA, 2);
}

static int drop_ns(struct cat_parser *p, struct cat_stmt *st,
		   enum cat_stmt_kind kind, int maxparts)
{
	st->kind = kind;
	st->if_exists = cat_p_accept_kw(p, "IF EXISTS");
	if (parse_name_list(p, &st->names, &st->nnames, maxparts))
		return -1;
	if (cat_p_accept_kw(p, "CASCADE"))
		st->cascade = 1;
	else
		cat_p_accept_kw(p, "RESTRICT");    /* the default [tether] */
	return 0;
}

int cat_parse_drop_database(struct cat_parser *p, struct cat_stmt *st)
{
	return drop_ns(p, st, CAT_STMT_DROP_DATABASE, 1);
}

int cat_parse_drop_schema(struct cat_parser *p, struct cat_stmt *st)
{
	return drop_ns(p, st, CAT_STMT_DROP_SCHEMA, 2);
}

/* ---- SET ROLE / RESET ROLE ---- */

int cat_parse_set_role(struct cat_parser *p, struct cat_stmt *st)
{
	struct cat_rbac_stmt *rs = rbac_of(p, st);
	const struct cat_token *t;

	if (!rs)
		return -1;
	st->kind = CAT_STMT_SET_ROLE;
	/* `SET role TO x` / `SET role = x` (role as a variable) too. */
	if (!cat_p_accept_tok(p, CAT_TOK_EQ))
		cat_p_accept_kw(p, "TO");
	t = cat_p_peek(p);
	if (cat_p_accept_kw(p, "NONE") || cat_p_accept_kw(p, "DEFAULT"))
		return 0;      /* rs->role "" : back to the session user */
	if (t->kind == CAT_TOK_STRING) {
		if (t->vlen == 0 || t->vlen > CAT_IDENT_MAX)
			return cat_p_error_at(p, t, "22023", "invalid value for parameter \"role\"");
		memcpy(rs->role, t->val, t->vlen);
		rs->role[t->vlen] = '\0';
		cat_p_next(p);
		return 0;
	}
	return cat_p_parse_ident(p, rs->role);
}

int cat_parse_reset_role(struct cat_parser *p, struct cat_stmt *st)
{
	st->kind = CAT_STMT_SET_ROLE;
	st->var_is_reset = 1;
	return rbac_of(p, st) ? 0 : -1;
}
