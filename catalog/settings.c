/* Session settings: the table of known variables with their defaults, SET /
 * RESET / SHOW / SHOW ALL / DISCARD ALL, and the ParameterStatus reports that
 * PostgreSQL sends for GUC_REPORT variables (protocol 55.2.7). SHOW also
 * shows the system variables of sysvars.c (ALTER SYSTEM). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "exec_int.h"
#include "sysvars.h"

enum { VAR_REPORT = 1, VAR_SETTABLE = 2 };

static int check_utf8_only(const char *v, struct err *e)
{
	if (!strcasecmp(v, "UTF8") || !strcasecmp(v, "UTF-8") || !strcasecmp(v, "unicode"))
		return 0;
	return err_set(e, "22023", "invalid value for parameter \"client_encoding\": \"%s\"", v);
}

/* validation_timeout / validation_connect_timeout: milliseconds,
 * 1..600000 (SQL.md 6 defaults 30 s and 10 s; ddl_conn.c reads them). */
static int check_ms(const char *v, struct err *e)
{
	char *end = NULL;
	long long n = strtoll(v, &end, 10);

	if (end == v || *end || n < 1 || n > 600000)
		return err_set(e, "22023", "invalid value for a validation timeout: \"%s\"", v);
	return 0;
}

static int check_on_only(const char *v, struct err *e)
{
	if (!strcasecmp(v, "on") || !strcasecmp(v, "true"))
		return 0;
	return err_set(e, "0A000", "setting standard_conforming_strings to %s is not supported", v);
}

static const struct var_def {
	const char *name;        /* canonical, lower case */
	const char *display;     /* as PostgreSQL spells it in ParameterStatus */
	const char *def;         /* NULL: computed from the session */
	unsigned flags;
	int (*check)(const char *value, struct err *e);
	const char *description;
} var_defs[] = {
	{ "application_name", "application_name", "", VAR_REPORT | VAR_SETTABLE, NULL,
	  "Sets the application name to be reported in statistics and logs." },
	{ "client_encoding", "client_encoding", "UTF8", VAR_REPORT | VAR_SETTABLE,
	  check_utf8_only, "Sets the client's character set encoding." },
	{ "client_min_messages", "client_min_messages", "notice", VAR_SETTABLE, NULL,
	  "Sets the message levels that are sent to the client." },
	{ "database", "database", "materialize", VAR_SETTABLE, NULL,
	  "Sets the current database." },
	{ "datestyle", "DateStyle", "ISO, MDY", VAR_REPORT | VAR_SETTABLE, NULL,
	  "Sets the display format for date and time values." },
	{ "default_transaction_isolation", "default_transaction_isolation",
	  "strict serializable", VAR_SETTABLE, NULL,
	  "Sets the transaction isolation level of each new transaction." },
	{ "extra_float_digits", "extra_float_digits", "3", VAR_SETTABLE, NULL,
	  "Adjusts the number of digits displayed for floating-point values." },
	{ "integer_datetimes", "integer_datetimes", "on", VAR_REPORT, NULL,
	  "Reports whether the server uses 64-bit-integer dates and times." },
	{ "intervalstyle", "IntervalStyle", "postgres", VAR_REPORT | VAR_SETTABLE, NULL,
	  "Sets the display format for interval values." },
	{ "is_superuser", "is_superuser", NULL, VAR_REPORT, NULL,
	  "Reports whether the current session's role has superuser privileges." },
	{ "search_path", "search_path", "public", VAR_SETTABLE, NULL,
	  "Sets the schema search order for names that are not schema-qualified." },
	{ "server_encoding", "server_encoding", "UTF8", VAR_REPORT, NULL,
	  "Sets the server (database) character set encoding." },
	{ "server_version", "server_version", "15.0", VAR_REPORT, NULL,
	  "Shows the PostgreSQL compatible server version." },
	{ "server_version_num", "server_version_num", "150000", 0, NULL,
	  "Shows the PostgreSQL compatible server version as an integer." },
	{ "session_authorization", "session_authorization", NULL, VAR_REPORT, NULL,
	  "Shows the session user name." },
	{ "standard_conforming_strings", "standard_conforming_strings", "on",
	  VAR_REPORT | VAR_SETTABLE, check_on_only,
	  "Causes '...' strings to treat backslashes literally." },
	{ "statement_timeout", "statement_timeout", "0", VAR_SETTABLE, NULL,
	  "Sets the maximum allowed duration of any statement." },
	{ "timezone", "TimeZone", "UTC", VAR_REPORT | VAR_SETTABLE, NULL,
	  "Sets the time zone for displaying and interpreting time stamps." },
	{ "transaction_isolation", "transaction_isolation", "strict serializable",
	  VAR_SETTABLE, NULL, "Sets the current transaction's isolation level." },
	{ "validation_connect_timeout", "validation_connect_timeout", "10000", VAR_SETTABLE,
	  check_ms, "Milliseconds a validation may spend on each network step (tether)." },
	{ "validation_timeout", "validation_timeout", "30000", VAR_SETTABLE, check_ms,
	  "Milliseconds a whole validation job may run before it is killed (tether)." },
};
#define NVARS (sizeof(var_defs) / sizeof(var_defs[0]))

static const struct var_def *find_var(const char *name)
{
	/* Aliases PostgreSQL accepts. */
	if (!strcasecmp(name, "time zone"))
		name = "timezone";
	for (size_t i = 0; i < NVARS; i++)
		if (!strcasecmp(var_defs[i].name, name))
			return &var_defs[i];
	return NULL;
}

static struct cat_setting *find_setting(const struct cat_session *s, const char *name)
{
	for (struct cat_setting *p = s->settings; p; p = p->next)
		if (!strcmp(p->name, name))
			return p;
	return NULL;
}

static const char *var_value(const struct cat_session *s, const struct var_def *d)
{
	struct cat_setting *p = find_setting(s, d->name);

	if (p)
		return p->value;
	if (d->def)
		return d->def;
	if (!strcmp(d->name, "is_superuser"))
		return s->role.superuser ? "on" : "off";
	return s->login_role.name;    /* session_authorization */
}

const char *cat_setting_get(const struct cat_session *s, const char *name)
{
	const struct var_def *d = find_var(name);
	return d ? var_value(s, d) : NULL;
}

static int store_setting(struct cat_session *s, const char *name, const char *value)
{
	struct cat_setting *p = find_setting(s, name);
	char *v = strdup(value);

	if (!v)
		return -1;
	if (!p) {
		p = calloc(1, sizeof(*p));
		if (!p || !(p->name = strdup(name))) {
			free(p);
			free(v);
			return -1;
		}
		p->next = s->settings;
		s->settings = p;
	} else {
		free(p->value);
	}
	p->value = v;
	return 0;
}

static void drop_setting(struct cat_session *s, const char *name)
{
	for (struct cat_setting **pp = &s->settings; *pp; pp = &(*pp)->next) {
		if (!strcmp((*pp)->name, name)) {
			struct cat_setting *p = *pp;
			*pp = p->next;
			free(p->name);
			free(p->value);
			free(p);
			return;
		}
	}
}

void cat_settings_free(struct cat_session *s)
{
	while (s->settings)
		drop_setting(s, s->settings->name);
}

int cat_session_init(struct cat_session *s, const struct cat_role *role,
		     const char *database, const char *application_name,
		     uint32_t backend_pid)
{
	memset(s, 0, sizeof(*s));
	s->role = *role;
	s->login_role = *role;
	s->backend_pid = backend_pid;
	s->txn = 'I';
	/* Startup parameters become the session's values (DISCARD ALL
	 * keeps them, as PostgreSQL resets to the connection's values). */
	if (store_setting(s, "database", database) < 0 ||
	    (application_name[0] &&
	     store_setting(s, "application_name", application_name) < 0)) {
		cat_settings_free(s);
		return -1;
	}
	return 0;
}

int cat_session_report_all(const struct cat_session *s, struct pgw_buf *out)
{
	for (size_t i = 0; i < NVARS; i++)
		if ((var_defs[i].flags & VAR_REPORT) &&
		    pgw_parameter_status(out, var_defs[i].display,
					 var_value(s, &var_defs[i])) < 0)
			return -1;
	return 0;
}

int cat_settings_set(struct exec_run *r, struct cat_stmt *st)
{
	const struct var_def *d;

	if (!strcmp(st->var_name, "all") && !st->var_value) {
		for (size_t i = 0; i < NVARS; i++)
			if ((var_defs[i].flags & VAR_SETTABLE) &&
			    strcmp(var_defs[i].name, "database") != 0)
				drop_setting(r->s, var_defs[i].name);
		return pgw_command_complete(r->out, cat_stmt_tag(st)) < 0 ?
		       err_set(r->e, "53200", "out of memory") : CAT_RUN_DONE;
	}
	d = find_var(st->var_name);
	if (!d && cat_sysvar_find(st->var_name) >= 0) {
		err_set(r->e, "55P02", "parameter \"%s\" cannot be changed", st->var_name);
		err_hint(r->e, "It is a system variable: use ALTER SYSTEM SET.");
		return EXEC_ERROR;
	}
	if (!d)
		return err_set(r->e, "42704", "unrecognized configuration parameter \"%s\"",
			       st->var_name);
	if (!(d->flags & VAR_SETTABLE))
		return err_set(r->e, "55P02", "parameter \"%s\" cannot be changed",
			       d->name);
	if (st->var_value && d->check && d->check(st->var_value, r->e) < 0)
		return EXEC_ERROR;
	if (st->var_value) {
		if (store_setting(r->s, d->name, st->var_value) < 0)
			return err_set(r->e, "53200", "out of memory");
	} else {
		drop_setting(r->s, d->name);
	}
	if ((d->flags & VAR_REPORT) &&
	    pgw_parameter_status(r->out, d->display, var_value(r->s, d)) < 0)
		return err_set(r->e, "53200", "out of memory");
	if (pgw_command_complete(r->out, cat_stmt_tag(st)) < 0)
		return err_set(r->e, "53200", "out of memory");
	return CAT_RUN_DONE;
}

int cat_settings_describe_show(struct exec_run *r, const struct cat_stmt *st)
{
	static const char *const all_names[] = { "name", "setting", "description" };
	static const uint32_t oids[] = { PGW_OID_TEXT, PGW_OID_TEXT, PGW_OID_TEXT };
	const char *name = st->var_name;

	if (!strcmp(st->var_name, "all"))
		return pgw_row_description(r->out, 3, all_names, oids);
	return pgw_row_description(r->out, 1, &name, oids);
}

int cat_settings_show(struct exec_run *r, struct cat_stmt *st)
{
	char tag[32];

	if (!strcmp(st->var_name, "all")) {
		if (r->send_rowdesc && cat_settings_describe_show(r, st) < 0)
			return err_set(r->e, "53200", "out of memory");
		for (size_t i = 0; i < NVARS; i++) {
			const char *vals[3] = { var_defs[i].name,
						var_value(r->s, &var_defs[i]),
						var_defs[i].description };
			int lens[3] = { (int)strlen(vals[0]), (int)strlen(vals[1]),
					(int)strlen(vals[2]) };
			if (pgw_data_row(r->out, 3, vals, lens) < 0)
				return err_set(r->e, "53200", "out of memory");
		}
		for (size_t i = 0; i < cat_sysvar_count(); i++) {
			char num[32];
			long n = cat_sysvar_get(r->ctx->store, cat_sysvar_name(i), r->e);
			const char *vals[3] = { cat_sysvar_name(i), num,
						cat_sysvar_description(i) };
			int lens[3];

			if (n < 0)
				return EXEC_ERROR;
			snprintf(num, sizeof(num), "%ld", n);
			for (int k = 0; k < 3; k++)
				lens[k] = (int)strlen(vals[k]);
			if (pgw_data_row(r->out, 3, vals, lens) < 0)
				return err_set(r->e, "53200", "out of memory");
		}
		snprintf(tag, sizeof(tag), "SHOW %zu", NVARS + cat_sysvar_count());
	} else {
		const struct var_def *d = find_var(st->var_name);
		char num[32];
		const char *v;
		int len;

		if (!d) {
			/* A system variable (ALTER SYSTEM), else unknown (42704). */
			long n = cat_sysvar_get(r->ctx->store, st->var_name, r->e);
			if (n < 0)
				return EXEC_ERROR;
			snprintf(num, sizeof(num), "%ld", n);
			v = num;
		} else {
			v = var_value(r->s, d);
		}
		len = (int)strlen(v);
		if (r->send_rowdesc && cat_settings_describe_show(r, st) < 0)
			return err_set(r->e, "53200", "out of memory");
		if (pgw_data_row(r->out, 1, &v, &len) < 0)
			return err_set(r->e, "53200", "out of memory");
		snprintf(tag, sizeof(tag), "SHOW");
	}
	if (pgw_command_complete(r->out, tag) < 0)
		return err_set(r->e, "53200", "out of memory");
	return CAT_RUN_DONE;
}

int cat_settings_discard(struct exec_run *r)
{
	char database[CAT_IDENT_MAX + 1], app[PGW_NAME_MAX];

	snprintf(database, sizeof(database), "%s", cat_setting_get(r->s, "database"));
	snprintf(app, sizeof(app), "%s", cat_setting_get(r->s, "application_name"));
	cat_settings_free(r->s);
	r->s->role = r->s->login_role;      /* DISCARD ALL includes RESET ROLE */
	if (store_setting(r->s, "database", database) < 0 ||
	    (app[0] && store_setting(r->s, "application_name", app) < 0))
		return err_set(r->e, "53200", "out of memory");
	return pgw_command_complete(r->out, "DISCARD ALL") < 0 ?
	       err_set(r->e, "53200", "out of memory") : CAT_RUN_DONE;
}

size_t cat_search_path(const struct cat_session *s,
		       char names[][CAT_IDENT_MAX + 1], size_t max)
{
	const char *p = cat_setting_get(s, "search_path");
	size_t n = 0;

	while (p && *p && n < max) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		const char *a = p, *b = p + len;

		while (a < b && (*a == ' ' || *a == '"' || *a == '\''))
			a++;
		while (b > a && (b[-1] == ' ' || b[-1] == '"' || b[-1] == '\''))
			b--;
		if (b > a && (size_t)(b - a) <= CAT_IDENT_MAX) {
			memcpy(names[n], a, (size_t)(b - a));
			names[n][b - a] = '\0';
			n++;
		}
		p = end ? end + 1 : NULL;
	}
	return n;
}
