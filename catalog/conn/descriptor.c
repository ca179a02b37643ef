/* The connection-type table (SQL.md 5) and each type's cross-option rules,
 * in SQL.md's table order with its exact messages and SQLSTATEs. Value
 * kinds, duplicates, references and "do not support" are the planner's
 * (catalog/plan_conn.c); everything here looks only at a checked set. */
#include "descriptor.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "optset.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

const struct conn_opt_def conn_opts[CONN_NOPTS] = {
	[CONN_O_ACCESS_KEY_ID] = { "ACCESS KEY ID", CONN_K_TEXT_OR_SECRET, CONN_NONE },
	[CONN_O_SECRET_ACCESS_KEY] = { "SECRET ACCESS KEY", CONN_K_SECRET, CONN_NONE },
	[CONN_O_SESSION_TOKEN] = { "SESSION TOKEN", CONN_K_TEXT_OR_SECRET, CONN_NONE },
	[CONN_O_ASSUME_ROLE_ARN] = { "ASSUME ROLE ARN", CONN_K_TEXT, CONN_NONE },
	[CONN_O_ASSUME_ROLE_SESSION_NAME] = { "ASSUME ROLE SESSION NAME", CONN_K_TEXT, CONN_NONE },
	[CONN_O_ENDPOINT] = { "ENDPOINT", CONN_K_TEXT, CONN_NONE },
	[CONN_O_REGION] = { "REGION", CONN_K_TEXT, CONN_NONE },
	[CONN_O_SERVICE_NAME] = { "SERVICE NAME", CONN_K_TEXT, CONN_NONE },
	[CONN_O_AVAILABILITY_ZONES] = { "AVAILABILITY ZONES", CONN_K_TEXT_LIST, CONN_NONE },
	[CONN_O_URL] = { "URL", CONN_K_TEXT, CONN_NONE },
	[CONN_O_HOST] = { "HOST", CONN_K_TEXT, CONN_NONE },
	[CONN_O_PORT] = { "PORT", CONN_K_PORT, CONN_NONE },
	[CONN_O_DATABASE] = { "DATABASE", CONN_K_TEXT, CONN_NONE },
	[CONN_O_USER] = { "USER", CONN_K_TEXT_OR_SECRET, CONN_NONE },
	[CONN_O_PASSWORD] = { "PASSWORD", CONN_K_SECRET, CONN_NONE },
	[CONN_O_SSL_MODE] = { "SSL MODE", CONN_K_TEXT, CONN_NONE },
	[CONN_O_SSL_CERTIFICATE_AUTHORITY] = { "SSL CERTIFICATE AUTHORITY", CONN_K_TEXT_OR_SECRET, CONN_NONE },
	[CONN_O_SSL_CERTIFICATE] = { "SSL CERTIFICATE", CONN_K_TEXT_OR_SECRET, CONN_NONE },
	[CONN_O_SSL_KEY] = { "SSL KEY", CONN_K_SECRET, CONN_NONE },
	[CONN_O_SSH_TUNNEL] = { "SSH TUNNEL", CONN_K_REF, CONN_SSH_TUNNEL },
	[CONN_O_AWS_PRIVATELINK] = { "AWS PRIVATELINK", CONN_K_REF, CONN_AWS_PRIVATELINK },
	[CONN_O_AWS_CONNECTION] = { "AWS CONNECTION", CONN_K_REF, CONN_AWS },
	[CONN_O_CATALOG_TYPE] = { "CATALOG TYPE", CONN_K_TEXT, CONN_NONE },
	[CONN_O_CREDENTIAL] = { "CREDENTIAL", CONN_K_TEXT_OR_SECRET, CONN_NONE },
	[CONN_O_WAREHOUSE] = { "WAREHOUSE", CONN_K_TEXT, CONN_NONE },
	[CONN_O_SCOPE] = { "SCOPE", CONN_K_TEXT, CONN_NONE },
	[CONN_O_BROKER] = { "BROKER", CONN_K_BROKER, CONN_NONE },
	[CONN_O_BROKERS] = { "BROKERS", CONN_K_BROKERS, CONN_NONE },
	[CONN_O_SECURITY_PROTOCOL] = { "SECURITY PROTOCOL", CONN_K_TEXT, CONN_NONE },
	[CONN_O_SASL_MECHANISMS] = { "SASL MECHANISMS", CONN_K_TEXT, CONN_NONE },
	[CONN_O_SASL_USERNAME] = { "SASL USERNAME", CONN_K_TEXT_OR_SECRET, CONN_NONE },
	[CONN_O_SASL_PASSWORD] = { "SASL PASSWORD", CONN_K_SECRET, CONN_NONE },
	[CONN_O_PROGRESS_TOPIC] = { "PROGRESS TOPIC", CONN_K_TEXT, CONN_NONE },
	[CONN_O_PROGRESS_TOPIC_REPLICATION_FACTOR] = { "PROGRESS TOPIC REPLICATION FACTOR", CONN_K_I32, CONN_NONE },
	[CONN_O_PUBLIC_KEY_1] = { "PUBLIC KEY 1", CONN_K_TEXT, CONN_NONE },
	[CONN_O_PUBLIC_KEY_2] = { "PUBLIC KEY 2", CONN_K_TEXT, CONN_NONE },
};

/* Canonical names plus aliases (SQL.md 5: USERNAME is USER). */
static const char *const opt_names[CONN_NOPTS + 1] = {
	"ACCESS KEY ID", "SECRET ACCESS KEY", "SESSION TOKEN", "ASSUME ROLE ARN",
	"ASSUME ROLE SESSION NAME", "ENDPOINT", "REGION", "SERVICE NAME",
	"AVAILABILITY ZONES", "URL", "HOST", "PORT", "DATABASE", "USER", "PASSWORD",
	"SSL MODE", "SSL CERTIFICATE AUTHORITY", "SSL CERTIFICATE", "SSL KEY",
	"SSH TUNNEL", "AWS PRIVATELINK", "AWS CONNECTION", "CATALOG TYPE", "CREDENTIAL",
	"WAREHOUSE", "SCOPE", "BROKER", "BROKERS", "SECURITY PROTOCOL", "SASL MECHANISMS",
	"SASL USERNAME", "SASL PASSWORD", "PROGRESS TOPIC",
	"PROGRESS TOPIC REPLICATION FACTOR", "PUBLIC KEY 1", "PUBLIC KEY 2",
	"USERNAME",
};

/* ---- allowed values ---- */

static const char *const pg_ssl_modes[] = { "disable", "require", "verify-ca", "verify-full", NULL };
static const char *const pg_ssl_aliases[] = {
	"required", "require", "verify_ca", "verify-ca", "verify_full", "verify-full", NULL,
};
static const struct conn_enum pg_ssl_mode = {
	pg_ssl_modes, pg_ssl_aliases, "invalid CONNECTION: unknown SSL MODE \"%s\"", 0,
};

static const char *const my_ssl_modes[] = { "disabled", "required", "verify_ca", "verify_identity", NULL };
static const char *const my_ssl_aliases[] = {
	"require", "required", "verify-ca", "verify_ca", "verify-identity", "verify_identity", NULL,
};
static const struct conn_enum my_ssl_mode = {
	my_ssl_modes, my_ssl_aliases, "invalid CONNECTION: unknown SSL MODE \"%s\"", 0,
};

static const char *const ms_ssl_modes[] = { "disabled", "required", "verify", "verify_ca", NULL };
static const char *const no_aliases[] = { NULL };
static const struct conn_enum ms_ssl_mode = {
	ms_ssl_modes, no_aliases, "invalid CONNECTION: unknown SSL MODE \"%s\"", 0,
};

static const char *const protocols[] = { "PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL", NULL };
static const struct conn_enum security_protocol = {
	protocols, no_aliases, "unknown security protocol: %s", 1,
};

static const char *const mechanisms[] = { "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", NULL };
static const struct conn_enum sasl_mechanisms = {
	mechanisms, no_aliases, "invalid SASL MECHANISMS: unknown mechanism \"%s\"", 0,
};

static const char *const catalog_types[] = { "rest", "s3tablesrest", NULL };
static const struct conn_enum catalog_type = {
	catalog_types, no_aliases, "invalid CATALOG TYPE: unknown catalog type \"%s\"", 0,
};

const char *conn_enum_canonical(const struct conn_enum *en, const char *v)
{
	for (size_t i = 0; en->values[i]; i++)
		if (!strcasecmp(en->values[i], v))
			return en->values[i];
	for (size_t i = 0; en->aliases[i]; i += 2)
		if (!strcasecmp(en->aliases[i], v))
			return en->aliases[i + 1];
	return NULL;
}

/* ---- helpers for the rules ---- */

static int has(const struct conn_optset *s, enum conn_opt_id id)
{
	return conn_optset_get(s, id) != NULL;
}

static int is_secret(const struct conn_optset *s, enum conn_opt_id id)
{
	const struct conn_opt *o = conn_optset_get(s, id);

	if (!o)
		return 0;
	if (o->v.form == CONN_VF_SECRET)
		return 1;
	for (size_t i = 0; i < o->v.nparts; i++)
		if (o->v.parts[i].is_secret)
			return 1;
	return 0;
}

static int require(const struct conn_optset *s, enum conn_opt_id id, const char *msg,
		   struct err *e)
{
	if (has(s, id))
		return 0;
	return err_set(e, "22023", "%s", msg);
}

static int require_named(const struct conn_optset *s, enum conn_opt_id id, struct err *e)
{
	if (has(s, id))
		return 0;
	return err_set(e, "22023", "%s option is required", conn_opts[id].name);
}

/* The allowed-values rule of one option of the set's type. */
static int check_enum(const struct conn_optset *s, enum conn_opt_id id, struct err *e)
{
	const struct conn_type_opt *o = conn_type_opt(&conn_types[s->type], id);
	const char *v = conn_optset_text(s, id);
	char shown[256];

	if (!o || !o->allowed || !v || conn_enum_canonical(o->allowed, v))
		return 0;
	snprintf(shown, sizeof(shown), "%s", v);
	if (o->allowed->upper_in_message)
		for (char *p = shown; *p; p++)
			*p = (char)toupper((unsigned char)*p);
	return err_set(e, "22023", o->allowed->error_fmt, shown);
}

/* SSH TUNNEL / AWS PRIVATELINK shared rules (SQL.md 5, first table). */
static int check_tunnels(const struct conn_optset *s, struct err *e)
{
	const struct conn_opt *pl = conn_optset_get(s, CONN_O_AWS_PRIVATELINK);

	if (pl && has(s, CONN_O_SSH_TUNNEL))
		return err_set(e, "42601", "cannot specify both SSH TUNNEL and AWS PRIVATELINK");
	if (pl && pl->v.has_port && s->type != CONN_KAFKA)
		return err_set(e, "22023", "invalid CONNECTION: %s does not support PORT for AWS PRIVATELINK",
			       conn_types[s->type].keyword);
	return 0;
}

static void port_notice(const struct conn_optset *s, char *notice, size_t nsize)
{
	if (notice && nsize && has(s, CONN_O_PORT))
		snprintf(notice, nsize, "PORT has no effect on %s connections",
			 conn_types[s->type].keyword);
}

/* scheme://host[:port][/path]: 0, or -1 with the reason in why. */
static int parse_url(const char *url, char *host, size_t hsize, const char **path,
		     const char **why)
{
	const char *p = url, *h, *end;

	if (!isalpha((unsigned char)*p)) {
		*why = "relative URL without a base";
		return -1;
	}
	while (isalnum((unsigned char)*p) || *p == '+' || *p == '-' || *p == '.')
		p++;
	if (*p != ':') {
		*why = "relative URL without a base";
		return -1;
	}
	if (strncmp(p, "://", 3) != 0) {
		/* e.g. mailto:x: a URL, but without an authority */
		host[0] = '\0';
		*path = p + 1;
		return 0;
	}
	h = p + 3;
	end = h + strcspn(h, "/?#");
	{
		const char *at = memchr(h, '@', (size_t)(end - h));
		if (at)
			h = at + 1;
	}
	const char *colon = NULL;
	if (*h == '[') {
		const char *rb = memchr(h, ']', (size_t)(end - h));
		if (!rb) {
			*why = "invalid IPv6 address";
			return -1;
		}
		colon = rb + 1 < end && rb[1] == ':' ? rb + 1 : NULL;
	} else {
		colon = memchr(h, ':', (size_t)(end - h));
	}
	size_t hl = (size_t)((colon ? colon : end) - h);
	if (colon) {
		const char *q = colon + 1;
		long port = 0;
		if (q == end) {
			/* empty port is allowed by the URL standard */
		}
		for (; q < end; q++) {
			if (!isdigit((unsigned char)*q)) {
				*why = "invalid port number";
				return -1;
			}
			port = port * 10 + (*q - '0');
			if (port > 65535) {
				*why = "invalid port number";
				return -1;
			}
		}
	}
	if (hl == 0) {
		*why = "empty host";
		return -1;
	}
	if (hl >= hsize)
		hl = hsize - 1;
	memcpy(host, h, hl);
	host[hl] = '\0';
	*path = end;
	return 0;
}

/* ---- per-type rules ---- */

static int check_aws(const struct conn_optset *s, const struct conn_settings *cfg,
		     char *notice, size_t nsize, struct err *e)
{
	int akid = has(s, CONN_O_ACCESS_KEY_ID), arn = has(s, CONN_O_ASSUME_ROLE_ARN);
	int keys = akid || has(s, CONN_O_SECRET_ACCESS_KEY) || has(s, CONN_O_SESSION_TOKEN);

	(void)cfg; (void)notice; (void)nsize;
	/* Materialize's order: both methods, partial keys, session name
	 * without a role, neither. */
	if (akid && arn)
		return err_set(e, "42601", "cannot specify both ACCESS KEY ID and ASSUME ROLE ARN");
	if (keys && (!akid || !has(s, CONN_O_SECRET_ACCESS_KEY)))
		return err_set(e, "22023", "must specify both ACCESS KEY ID and SECRET ACCESS KEY with optional SESSION TOKEN");
	if (has(s, CONN_O_ASSUME_ROLE_SESSION_NAME) && !arn)
		return err_set(e, "22023", "must specify ASSUME ROLE ARN with optional ASSUME ROLE SESSION NAME");
	if (!akid && !arn)
		return err_set(e, "22023", "must specify either ASSUME ROLE ARN or ACCESS KEY ID and SECRET ACCESS KEY");
	return 0;
}

static int check_privatelink(const struct conn_optset *s, const struct conn_settings *cfg,
			     char *notice, size_t nsize, struct err *e)
{
	const struct conn_opt *azs;

	if (require(s, CONN_O_SERVICE_NAME, "SERVICE NAME option is required", e) < 0 ||
	    require(s, CONN_O_AVAILABILITY_ZONES, "AVAILABILITY ZONES option is required", e) < 0)
		return -1;
	azs = conn_optset_get(s, CONN_O_AVAILABILITY_ZONES);
	if (azs->v.nlist > 32)
		return err_set(e, "54000", "AVAILABILITY ZONES can have at most 32 entries");
	if (cfg && cfg->az_ids) {
		for (size_t i = 0; i < azs->v.nlist; i++) {
			int known = 0;
			for (size_t k = 0; k < cfg->naz_ids; k++)
				known |= !strcmp(cfg->az_ids[k], azs->v.list[i]);
			if (!known) {
				char list[256];
				size_t off = 0;
				list[0] = '\0';
				for (size_t k = 0; k < cfg->naz_ids && off < sizeof(list); k++)
					off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s",
								k ? ", " : "", cfg->az_ids[k]);
				err_set(e, "22023", "invalid AWS PrivateLink availability zone \"%s\"",
					azs->v.list[i]);
				err_hint(e, "Did you supply an availability zone name instead of an ID? Known availability zone IDs: %s",
					 list);
				return -1;
			}
		}
	}
	for (size_t i = 0; i < azs->v.nlist; i++)
		for (size_t k = i + 1; k < azs->v.nlist; k++)
			if (!strcmp(azs->v.list[i], azs->v.list[k]))
				return err_set(e, "22023", "connection cannot contain duplicate availability zones");
	port_notice(s, notice, nsize);
	return 0;
}

static int check_csr(const struct conn_optset *s, const struct conn_settings *cfg,
		     char *notice, size_t nsize, struct err *e)
{
	const char *url = conn_optset_text(s, CONN_O_URL), *path, *why;
	char host[256];

	(void)cfg;
	if (require(s, CONN_O_URL, "invalid CONNECTION: must specify URL", e) < 0)
		return -1;
	if (parse_url(url, host, sizeof(host), &path, &why) < 0)
		return err_set(e, "22023", "parsing schema registry url: %s", why);
	if (!host[0])
		return err_set(e, "22023", "invalid CONNECTION: URL must specify domain name");
	if (path[0] && strcmp(path, "/") != 0)
		return err_set(e, "22023", "invalid CONNECTION: URL must have an empty path");
	if (has(s, CONN_O_PASSWORD) && !has(s, CONN_O_USER))
		return err_set(e, "22023", "invalid CONNECTION: PASSWORD requires USERNAME");
	if (has(s, CONN_O_SSL_KEY) != has(s, CONN_O_SSL_CERTIFICATE))
		return err_set(e, "22023", "invalid CONNECTION: reading from SSL-auth Confluent Schema Registry requires both SSL KEY and SSL CERTIFICATE");
	if (check_tunnels(s, e) < 0)
		return -1;
	port_notice(s, notice, nsize);
	return 0;
}

static int check_iceberg(const struct conn_optset *s, const struct conn_settings *cfg,
			 char *notice, size_t nsize, struct err *e)
{
	static const enum conn_opt_id rest_only[] = { CONN_O_CREDENTIAL, CONN_O_SCOPE };
	static const enum conn_opt_id s3_only[] = { CONN_O_AWS_CONNECTION };
	const char *url, *path, *why, *ct;
	char host[256];
	int rest;

	(void)cfg; (void)notice; (void)nsize;
	if (require(s, CONN_O_CATALOG_TYPE, "invalid CONNECTION: ICEBERG connections must specify CATALOG TYPE", e) < 0 ||
	    check_enum(s, CONN_O_CATALOG_TYPE, e) < 0)
		return -1;
	ct = conn_enum_canonical(&catalog_type, conn_optset_text(s, CONN_O_CATALOG_TYPE));
	rest = !strcmp(ct, "rest");
	if (require(s, CONN_O_URL, "invalid CONNECTION: must specify URL", e) < 0)
		return -1;
	url = conn_optset_text(s, CONN_O_URL);
	if (parse_url(url, host, sizeof(host), &path, &why) < 0)
		return err_set(e, "22023", "parsing Iceberg catalog url: %s", why);
	/* Options the other catalog type takes: Materialize ignores them,
	 * tether refuses (SQL.md 5.4). */
	{
		const enum conn_opt_id *bad = rest ? s3_only : rest_only;
		size_t nbad = rest ? NELEM(s3_only) : NELEM(rest_only);
		char list[256];
		size_t off = 0;
		list[0] = '\0';
		for (size_t i = 0; i < s->n; i++)
			for (size_t k = 0; k < nbad; k++)
				if (s->opts[i].id == bad[k] && off < sizeof(list))
					off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s",
								off ? ", " : "", conn_opts[bad[k]].name);
		if (list[0])
			return err_set(e, "22023", "ICEBERG %s connections do not support %s values",
				       ct, list);
	}
	if (rest)
		return require(s, CONN_O_CREDENTIAL, "invalid CONNECTION: ICEBERG rest connections require a CREDENTIAL", e);
	if (require(s, CONN_O_WAREHOUSE, "invalid CONNECTION: ICEBERG s3tablesrest connections must specify WAREHOUSE", e) < 0 ||
	    require(s, CONN_O_AWS_CONNECTION, "invalid CONNECTION: ICEBERG s3tablesrest connections require an AWS connection", e) < 0)
		return -1;
	return 0;
}

/* host[:port] or [v6]:port (SQL.md 5.5). 0, or -1 with a reason. */
static int broker_address_ok(const char *a, const char **why)
{
	const char *port;

	if (!a[0]) {
		*why = "empty broker address";
		return -1;
	}
	if (a[0] == '[') {
		const char *rb = strchr(a, ']');
		if (!rb || rb == a + 1) {
			*why = "invalid IPv6 address";
			return -1;
		}
		if (!rb[1])
			return 0;
		if (rb[1] != ':') {
			*why = "expected a port after the IPv6 address";
			return -1;
		}
		port = rb + 2;
	} else {
		const char *c = strchr(a, ':');
		if (c == a) {
			*why = "empty host";
			return -1;
		}
		for (const char *p = a; *p && p != c; p++)
			if (isspace((unsigned char)*p) || *p == '/' || *p == '@') {
				*why = "invalid character in host";
				return -1;
			}
		if (!c)
			return 0;
		port = c + 1;
	}
	long v = 0;
	if (!*port) {
		*why = "empty port";
		return -1;
	}
	for (const char *p = port; *p; p++) {
		if (!isdigit((unsigned char)*p)) {
			*why = "invalid port";
			return -1;
		}
		v = v * 10 + (*p - '0');
		if (v > 65535) {
			*why = "invalid port";
			return -1;
		}
	}
	if (v == 0) {
		*why = "invalid port";
		return -1;
	}
	return 0;
}

static int check_brokers(const struct conn_opt *o, struct err *e)
{
	if (o->v.nbrokers == 0)
		return err_set(e, "22023", "invalid CONNECTION: must set one of BROKER, BROKERS, or AWS PRIVATELINK");
	if (o->v.nbrokers > 256)
		return err_set(e, "54000", "BROKERS can have at most 256 entries");
	for (size_t i = 0; i < o->v.nbrokers; i++) {
		const char *a = o->v.brokers[i].addr, *why;
		if (strchr(a, ',')) {
			err_set(e, "22023", "invalid CONNECTION: cannot specify multiple Kafka broker addresses in one string.");
			err_detail(e, "Instead, specify BROKERS using multiple strings, e.g. BROKERS ('kafka:9092', 'kafka:9093')");
			return -1;
		}
		if (broker_address_ok(a, &why) < 0)
			return err_set(e, "22023", "invalid BROKER: %s", why);
	}
	return 0;
}

static int is_tls_opt(enum conn_opt_id id)
{
	return id == CONN_O_SSL_CERTIFICATE || id == CONN_O_SSL_KEY ||
	       id == CONN_O_SSL_CERTIFICATE_AUTHORITY;
}

static int is_sasl_opt(enum conn_opt_id id)
{
	return id == CONN_O_SASL_MECHANISMS || id == CONN_O_SASL_USERNAME ||
	       id == CONN_O_SASL_PASSWORD;
}

/* SECURITY PROTOCOL's value or default (SQL.md 5.5). */
const char *conn_kafka_security_protocol(const struct conn_optset *s)
{
	const char *v = conn_optset_text(s, CONN_O_SECURITY_PROTOCOL);
	const char *c = v ? conn_enum_canonical(&security_protocol, v) : NULL;

	if (c)
		return c;
	for (size_t i = 0; i < s->n; i++)
		if (is_sasl_opt(s->opts[i].id) || s->opts[i].id == CONN_O_AWS_CONNECTION)
			return "SASL_SSL";
	return "SSL";
}

static int check_kafka(const struct conn_optset *s, const struct conn_settings *cfg,
		       char *notice, size_t nsize, struct err *e)
{
	int nsrc = has(s, CONN_O_BROKER) + has(s, CONN_O_BROKERS) + has(s, CONN_O_AWS_PRIVATELINK);
	const struct conn_opt *b;
	const char *proto;
	int tls, sasl, aws = has(s, CONN_O_AWS_CONNECTION);

	(void)cfg; (void)notice; (void)nsize;
	if (nsrc == 0)
		return err_set(e, "22023", "invalid CONNECTION: must set one of BROKER, BROKERS, or AWS PRIVATELINK");
	if (nsrc > 1)
		return err_set(e, "42601", "invalid CONNECTION: can only set one of BROKER, BROKERS, or AWS PRIVATELINK");
	if ((b = conn_optset_get(s, CONN_O_BROKER)) || (b = conn_optset_get(s, CONN_O_BROKERS)))
		if (check_brokers(b, e) < 0)
			return -1;
	if (check_tunnels(s, e) < 0 || check_enum(s, CONN_O_SECURITY_PROTOCOL, e) < 0 ||
	    check_enum(s, CONN_O_SASL_MECHANISMS, e) < 0)
		return -1;
	proto = conn_kafka_security_protocol(s);
	tls = !strcmp(proto, "SSL") || !strcmp(proto, "SASL_SSL");
	sasl = !strncmp(proto, "SASL_", 5);
	/* The first offender in written order. */
	for (size_t i = 0; i < s->n; i++) {
		enum conn_opt_id id = s->opts[i].id;
		int bad = (is_tls_opt(id) && !tls) || (is_sasl_opt(id) && (!sasl || aws)) ||
			  (id == CONN_O_SSL_KEY && !has(s, CONN_O_SSL_CERTIFICATE)) ||
			  (id == CONN_O_AWS_CONNECTION && !sasl);
		if (bad)
			return err_set(e, "22023", "option %s not supported with this configuration",
				       conn_opts[id].name);
	}
	if (has(s, CONN_O_SSL_CERTIFICATE) && !has(s, CONN_O_SSL_KEY))
		return err_set(e, "22023", "SSL KEY must be specified with SSL CERTIFICATE");
	if (sasl && !aws) {
		if (!has(s, CONN_O_SASL_MECHANISMS))
			return err_set(e, "22023", "SASL MECHANISMS must be specified");
		if (!has(s, CONN_O_SASL_USERNAME))
			return err_set(e, "22023", "SASL USERNAME must be specified");
		if (!has(s, CONN_O_SASL_PASSWORD))
			return err_set(e, "22023", "SASL PASSWORD must be specified");
	}
	{
		const struct conn_opt *rf = conn_optset_get(s, CONN_O_PROGRESS_TOPIC_REPLICATION_FACTOR);
		if (rf && rf->v.num <= 0)
			return err_set(e, "22023", "invalid CONNECTION: PROGRESS TOPIC REPLICATION FACTOR must be greater than 0");
	}
	return 0;
}

static int tls_pair(const struct conn_optset *s, struct err *e)
{
	if (has(s, CONN_O_SSL_KEY) != has(s, CONN_O_SSL_CERTIFICATE))
		return err_set(e, "22023", "invalid CONNECTION: both SSL KEY and SSL CERTIFICATE are required");
	return 0;
}

static int check_mysql(const struct conn_optset *s, const struct conn_settings *cfg,
		       char *notice, size_t nsize, struct err *e)
{
	int aws = has(s, CONN_O_AWS_CONNECTION);

	(void)cfg; (void)notice; (void)nsize;
	/* Materialize's order: AWS+PASSWORD, TLS pair, SSL MODE, PrivateLink
	 * port, HOST, USER. */
	if (aws && has(s, CONN_O_PASSWORD))
		return err_set(e, "22023", "invalid CONNECTION: AWS IAM authentication is not supported with password");
	if (tls_pair(s, e) < 0 || check_enum(s, CONN_O_SSL_MODE, e) < 0)
		return -1;
	if (aws) {
		const char *m = conn_optset_text(s, CONN_O_SSL_MODE);
		if (!m || !strcmp(conn_enum_canonical(&my_ssl_mode, m), "disabled"))
			return err_set(e, "22023", "invalid CONNECTION: AWS IAM authentication requires SSL to be enabled");
	}
	if (check_tunnels(s, e) < 0 || require_named(s, CONN_O_HOST, e) < 0 ||
	    require_named(s, CONN_O_USER, e) < 0)
		return -1;
	return 0;
}

static int check_postgres(const struct conn_optset *s, const struct conn_settings *cfg,
			  char *notice, size_t nsize, struct err *e)
{
	(void)cfg; (void)notice; (void)nsize;
	if (require_named(s, CONN_O_HOST, e) < 0 || require_named(s, CONN_O_DATABASE, e) < 0 ||
	    require_named(s, CONN_O_USER, e) < 0 || check_enum(s, CONN_O_SSL_MODE, e) < 0 ||
	    tls_pair(s, e) < 0 || check_tunnels(s, e) < 0)
		return -1;
	return 0;
}

static int check_sql_server(const struct conn_optset *s, const struct conn_settings *cfg,
			    char *notice, size_t nsize, struct err *e)
{
	const char *mode;

	(void)cfg; (void)notice; (void)nsize;
	if (require_named(s, CONN_O_HOST, e) < 0 || require_named(s, CONN_O_DATABASE, e) < 0 ||
	    require_named(s, CONN_O_USER, e) < 0 || require_named(s, CONN_O_PASSWORD, e) < 0 ||
	    check_enum(s, CONN_O_SSL_MODE, e) < 0)
		return -1;
	mode = conn_optset_text(s, CONN_O_SSL_MODE);
	if (mode && !strcmp(conn_enum_canonical(&ms_ssl_mode, mode), "verify_ca") &&
	    !has(s, CONN_O_SSL_CERTIFICATE_AUTHORITY))
		return err_set(e, "22023", "invalid CONNECTION: SSL MODE 'verify_ca' requires SSL CERTIFICATE AUTHORITY");
	return check_tunnels(s, e);
}

static int check_ssh(const struct conn_optset *s, const struct conn_settings *cfg,
		     char *notice, size_t nsize, struct err *e)
{
	(void)cfg; (void)notice; (void)nsize;
	if (has(s, CONN_O_PUBLIC_KEY_1) || has(s, CONN_O_PUBLIC_KEY_2))
		return err_set(e, "22023", "PUBLIC KEY options are set by tether and cannot be specified");
	if (require_named(s, CONN_O_HOST, e) < 0 || require_named(s, CONN_O_USER, e) < 0)
		return -1;
	if (is_secret(s, CONN_O_USER))
		return err_set(e, "22023", "SSH connections do not support supplying USER value as SECRET");
	return 0;
}

/* ---- the table ---- */

#define R CONN_TF_REQUIRED

static const struct conn_type_opt aws_opts[] = {
	{ CONN_O_ACCESS_KEY_ID, 0, NULL, NULL },
	{ CONN_O_SECRET_ACCESS_KEY, 0, NULL, NULL },
	{ CONN_O_SESSION_TOKEN, 0, NULL, NULL },
	{ CONN_O_ASSUME_ROLE_ARN, 0, NULL, NULL },
	{ CONN_O_ASSUME_ROLE_SESSION_NAME, 0, "$instance-$id", NULL },
	{ CONN_O_ENDPOINT, 0, NULL, NULL },
	{ CONN_O_REGION, 0, "$region", NULL },
};

static const struct conn_type_opt privatelink_opts[] = {
	{ CONN_O_SERVICE_NAME, R, NULL, NULL },
	{ CONN_O_AVAILABILITY_ZONES, R, NULL, NULL },
	{ CONN_O_PORT, 0, NULL, NULL },
};

static const struct conn_type_opt csr_opts[] = {
	{ CONN_O_URL, R, NULL, NULL },
	{ CONN_O_USER, 0, NULL, NULL },
	{ CONN_O_PASSWORD, 0, NULL, NULL },
	{ CONN_O_SSL_CERTIFICATE, 0, NULL, NULL },
	{ CONN_O_SSL_KEY, 0, NULL, NULL },
	{ CONN_O_SSL_CERTIFICATE_AUTHORITY, 0, NULL, NULL },
	{ CONN_O_SSH_TUNNEL, 0, NULL, NULL },
	{ CONN_O_AWS_PRIVATELINK, 0, NULL, NULL },
	{ CONN_O_PORT, 0, NULL, NULL },
};

static const struct conn_type_opt iceberg_opts[] = {
	{ CONN_O_CATALOG_TYPE, R, NULL, &catalog_type },
	{ CONN_O_URL, R, NULL, NULL },
	{ CONN_O_CREDENTIAL, 0, NULL, NULL },
	{ CONN_O_WAREHOUSE, 0, NULL, NULL },
	{ CONN_O_SCOPE, 0, "PRINCIPAL_ROLE:ALL", NULL },
	{ CONN_O_AWS_CONNECTION, 0, NULL, NULL },
};

static const struct conn_type_opt kafka_opts[] = {
	{ CONN_O_BROKER, 0, NULL, NULL },
	{ CONN_O_BROKERS, 0, NULL, NULL },
	{ CONN_O_AWS_PRIVATELINK, 0, NULL, NULL },
	{ CONN_O_SSH_TUNNEL, 0, NULL, NULL },
	{ CONN_O_SECURITY_PROTOCOL, 0, NULL, &security_protocol },
	{ CONN_O_SASL_MECHANISMS, 0, NULL, &sasl_mechanisms },
	{ CONN_O_SASL_USERNAME, 0, NULL, NULL },
	{ CONN_O_SASL_PASSWORD, 0, NULL, NULL },
	{ CONN_O_SSL_CERTIFICATE, 0, NULL, NULL },
	{ CONN_O_SSL_KEY, 0, NULL, NULL },
	{ CONN_O_SSL_CERTIFICATE_AUTHORITY, 0, NULL, NULL },
	{ CONN_O_AWS_CONNECTION, 0, NULL, NULL },
	{ CONN_O_PROGRESS_TOPIC, CONN_TF_FIXED, "_materialize-progress-$instance-$id", NULL },
	{ CONN_O_PROGRESS_TOPIC_REPLICATION_FACTOR, CONN_TF_FIXED, NULL, NULL },
};

static const struct conn_type_opt mysql_opts[] = {
	{ CONN_O_HOST, R, NULL, NULL },
	{ CONN_O_PORT, 0, "3306", NULL },
	{ CONN_O_USER, R, NULL, NULL },
	{ CONN_O_PASSWORD, 0, NULL, NULL },
	{ CONN_O_SSL_MODE, 0, "disabled", &my_ssl_mode },
	{ CONN_O_SSL_CERTIFICATE_AUTHORITY, 0, NULL, NULL },
	{ CONN_O_SSL_CERTIFICATE, 0, NULL, NULL },
	{ CONN_O_SSL_KEY, 0, NULL, NULL },
	{ CONN_O_AWS_CONNECTION, 0, NULL, NULL },
	{ CONN_O_SSH_TUNNEL, 0, NULL, NULL },
	{ CONN_O_AWS_PRIVATELINK, 0, NULL, NULL },
};

static const struct conn_type_opt postgres_opts[] = {
	{ CONN_O_HOST, R, NULL, NULL },
	{ CONN_O_PORT, 0, "5432", NULL },
	{ CONN_O_DATABASE, R, NULL, NULL },
	{ CONN_O_USER, R, NULL, NULL },
	{ CONN_O_PASSWORD, 0, NULL, NULL },
	{ CONN_O_SSL_MODE, 0, "disable", &pg_ssl_mode },
	{ CONN_O_SSL_CERTIFICATE_AUTHORITY, 0, NULL, NULL },
	{ CONN_O_SSL_CERTIFICATE, 0, NULL, NULL },
	{ CONN_O_SSL_KEY, 0, NULL, NULL },
	{ CONN_O_SSH_TUNNEL, 0, NULL, NULL },
	{ CONN_O_AWS_PRIVATELINK, 0, NULL, NULL },
};

static const struct conn_type_opt sql_server_opts[] = {
	{ CONN_O_HOST, R, NULL, NULL },
	{ CONN_O_PORT, 0, "1433", NULL },
	{ CONN_O_DATABASE, R, NULL, NULL },
	{ CONN_O_USER, R, NULL, NULL },
	{ CONN_O_PASSWORD, R, NULL, NULL },
	{ CONN_O_SSL_MODE, 0, "disabled", &ms_ssl_mode },
	{ CONN_O_SSL_CERTIFICATE_AUTHORITY, 0, NULL, NULL },
	{ CONN_O_SSH_TUNNEL, 0, NULL, NULL },
	{ CONN_O_AWS_PRIVATELINK, 0, NULL, NULL },
};

static const struct conn_type_opt ssh_opts[] = {
	{ CONN_O_HOST, R, NULL, NULL },
	{ CONN_O_PORT, 0, "22", NULL },
	{ CONN_O_USER, R, NULL, NULL },
	{ CONN_O_PUBLIC_KEY_1, CONN_TF_INTERNAL, NULL, NULL },
	{ CONN_O_PUBLIC_KEY_2, CONN_TF_INTERNAL, NULL, NULL },
};

#undef R
#define OPTS(a) a, NELEM(a)

const struct conn_type_def conn_types[CONN_NTYPES] = {
	[CONN_AWS] = { CONN_AWS, "AWS", "aws", OPTS(aws_opts), 0,
		       "max_aws_connections", 1000, check_aws },
	[CONN_AWS_PRIVATELINK] = { CONN_AWS_PRIVATELINK, "AWS PRIVATELINK", "aws-privatelink",
				   OPTS(privatelink_opts), 0,
				   "max_aws_privatelink_connections", 100, check_privatelink },
	[CONN_CSR] = { CONN_CSR, "CONFLUENT SCHEMA REGISTRY", "confluent-schema-registry",
		       OPTS(csr_opts), 1, "max_confluent_schema_registry_connections", 1000,
		       check_csr },
	[CONN_ICEBERG] = { CONN_ICEBERG, "ICEBERG CATALOG", "iceberg-catalog",
			   OPTS(iceberg_opts), 1, "max_iceberg_catalog_connections", 1000,
			   check_iceberg },
	[CONN_KAFKA] = { CONN_KAFKA, "KAFKA", "kafka", OPTS(kafka_opts), 1,
			 "max_kafka_connections", 1000, check_kafka },
	[CONN_MYSQL] = { CONN_MYSQL, "MYSQL", "mysql", OPTS(mysql_opts), 1,
			 "max_mysql_connections", 1000, check_mysql },
	[CONN_POSTGRES] = { CONN_POSTGRES, "POSTGRES", "postgres", OPTS(postgres_opts), 1,
			    "max_postgres_connections", 1000, check_postgres },
	[CONN_SQL_SERVER] = { CONN_SQL_SERVER, "SQL SERVER", "sql-server",
			      OPTS(sql_server_opts), 1, "max_sql_server_connections", 1000,
			      check_sql_server },
	[CONN_SSH_TUNNEL] = { CONN_SSH_TUNNEL, "SSH TUNNEL", "ssh-tunnel", OPTS(ssh_opts), 0,
			      "max_ssh_tunnel_connections", 1000, check_ssh },
};

const struct conn_type_def *conn_type_by_keyword(const char *kw)
{
	for (size_t i = 0; i < CONN_NTYPES; i++)
		if (!strcasecmp(conn_types[i].keyword, kw))
			return &conn_types[i];
	return NULL;
}

const struct conn_type_def *conn_type_by_catalog_name(const char *name)
{
	for (size_t i = 0; i < CONN_NTYPES; i++)
		if (!strcmp(conn_types[i].catalog_name, name))
			return &conn_types[i];
	return NULL;
}

enum conn_opt_id conn_opt_by_name(const char *name)
{
	if (!strcasecmp(name, "USERNAME"))
		return CONN_O_USER;
	for (size_t i = 0; i < CONN_NOPTS; i++)
		if (!strcasecmp(conn_opts[i].name, name))
			return (enum conn_opt_id)i;
	return CONN_O_NONE;
}

const char *const *conn_opt_names(size_t *n)
{
	*n = NELEM(opt_names);
	return opt_names;
}

const struct conn_type_opt *conn_type_opt(const struct conn_type_def *t,
					  enum conn_opt_id opt)
{
	for (size_t i = 0; i < t->nopts; i++)
		if (t->opts[i].opt == opt)
			return &t->opts[i];
	return NULL;
}

void conn_render_default(const struct conn_type_opt *o, const struct conn_settings *cfg,
			 uint64_t id, char *buf, size_t size)
{
	size_t off = 0;

	if (!size)
		return;
	buf[0] = '\0';
	if (!o || !o->def)
		return;
	for (const char *p = o->def; *p && off + 1 < size;) {
		int n = 0;
		if (!strncmp(p, "$instance", 9)) {
			n = snprintf(buf + off, size - off, "%s", cfg && cfg->instance_id ? cfg->instance_id : "");
			p += 9;
		} else if (!strncmp(p, "$region", 7)) {
			n = snprintf(buf + off, size - off, "%s", cfg && cfg->region ? cfg->region : "");
			p += 7;
		} else if (!strncmp(p, "$id", 3)) {
			n = snprintf(buf + off, size - off, "u%" PRIu64, id);
			p += 3;
		} else {
			buf[off] = *p++;
			buf[off + 1] = '\0';
			n = 1;
		}
		if (n < 0)
			break;
		off += (size_t)n;
		if (off >= size)
			off = size - 1;
	}
}
