/* tether.conf parsing: the key table (kind, default, users), the line
 * grammar (comments, blank lines, "double" / 'single' quoted values) and
 * one checker per value kind that also yields the canonical form. Strict:
 * an unknown key, a repeated key, a bad value or a stray character is an
 * error that names FILE:LINE. */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum kind {
	K_PATH,         /* non-empty path */
	K_LOG_LEVEL,    /* debug | info | warn | error */
	K_UUID,         /* 8-4-4-4-12 hex digits, lower-cased */
	K_REGION,       /* AWS region name: us-east-1 */
	K_ROLE_ARN,     /* arn:<partition>:iam::<12 digits>:role/<name> */
	K_ACCOUNT,      /* 12 digits */
	K_AZ_LIST,      /* AZ ids: use1-az1, use1-az2 */
	K_INT,          /* decimal integer in [min, max] */
	K_BOOL,         /* true/false, on/off, yes/no, 1/0 */
	K_USER,         /* system user name: [a-z_][a-z0-9_-]*, <= 32 */
	K_HOSTPORT,     /* IPv4 address or [IPv6 address], ':', port */
	K_QNAME,        /* database.schema.name, lower-case identifiers */
	K_STS_URL,      /* https://host[:port][/path]; http:// only for loopback */
};

static const struct key_def {
	const char *name;
	enum kind kind;
	const char *def;        /* NULL: unset by default */
	long min, max;          /* K_INT */
	unsigned users;
} keys[TCFG_NKEYS] = {
	[TCFG_DATA_DIR] = { "data_dir", K_PATH, NULL, 0, 0, TCFG_FOR_SUPERVISOR },
	[TCFG_LOG_LEVEL] = { "log_level", K_LOG_LEVEL, "info", 0, 0,
			     TCFG_FOR_SUPERVISOR | TCFG_FOR_CATALOG },
	[TCFG_INSTANCE_ID] = { "deployment.instance_id", K_UUID, NULL, 0, 0, TCFG_FOR_CATALOG },
	[TCFG_REGION] = { "deployment.region", K_REGION, "us-east-1", 0, 0, TCFG_FOR_CATALOG },
	[TCFG_AWS_ROLE_ARN] = { "aws.connection_role_arn", K_ROLE_ARN, NULL, 0, 0,
				TCFG_FOR_CATALOG },
	[TCFG_PL_ACCOUNT] = { "aws.privatelink_account_id", K_ACCOUNT, NULL, 0, 0,
			      TCFG_FOR_CATALOG },
	[TCFG_PL_AZS] = { "aws.privatelink_availability_zones", K_AZ_LIST, NULL, 0, 0,
			  TCFG_FOR_CATALOG },
	/* The SECRET (by name, never a value) holding tether's own AWS keys. */
	[TCFG_AWS_PRINCIPAL_CREDS] = { "aws.principal_credentials_secret", K_QNAME, NULL, 0, 0,
				       TCFG_FOR_CATALOG },
	/* Where tether's own STS calls (signed with tether's credentials) go;
	 * unset: https://sts.<deployment.region>.amazonaws.com. Never a
	 * connection's ENDPOINT (validator/conn_aws.c). */
	[TCFG_AWS_STS_ENDPOINT] = { "aws.sts_endpoint", K_STS_URL, NULL, 0, 0, TCFG_FOR_CATALOG },
	[TCFG_VALIDATION_TIMEOUT] = { "validation.timeout_ms", K_INT, "30000", 1, 3600000,
				      TCFG_FOR_SUPERVISOR | TCFG_FOR_CATALOG },
	[TCFG_VALIDATION_CONNECT_TIMEOUT] = { "validation.connect_timeout_ms", K_INT, "10000",
					      1, 600000, TCFG_FOR_CATALOG },
	[TCFG_VALIDATION_DENY_PRIVATE] = { "validation.deny_private_addresses", K_BOOL, "false",
					   0, 0, TCFG_FOR_CATALOG },
	/* SQL.md 9.6: secrets are at most 512 KiB; the operator may lower it. */
	[TCFG_MAX_SECRET_SIZE] = { "limits.max_secret_size", K_INT, "524288", 1, 524288,
				   TCFG_FOR_CATALOG },
	/* The optional TCP listener (TLS + SCRAM-SHA-256): tetherd binds it
	 * and checks the files; the catalog loads them. */
	[TCFG_LISTEN_TCP] = { "listen.tcp", K_HOSTPORT, NULL, 0, 0, TCFG_FOR_SUPERVISOR },
	[TCFG_TLS_CERTIFICATE] = { "tls.certificate", K_PATH, NULL, 0, 0,
				   TCFG_FOR_SUPERVISOR | TCFG_FOR_CATALOG },
	[TCFG_TLS_KEY] = { "tls.key", K_PATH, NULL, 0, 0, TCFG_FOR_SUPERVISOR | TCFG_FOR_CATALOG },
	[TCFG_TLS_CA] = { "tls.ca", K_PATH, NULL, 0, 0, TCFG_FOR_SUPERVISOR | TCFG_FOR_CATALOG },
	/* Started as root, each role runs as its own user (docs/OPERATIONS.md). */
	[TCFG_USER_VAULT] = { "users.vault", K_USER, "tether-vault", 0, 0, TCFG_FOR_SUPERVISOR },
	[TCFG_USER_CATALOG] = { "users.catalog", K_USER, "tether-catalog", 0, 0,
				TCFG_FOR_SUPERVISOR },
	[TCFG_USER_VALIDATOR] = { "users.validator", K_USER, "tether-validator", 0, 0,
				  TCFG_FOR_SUPERVISOR },
	[TCFG_USERS_REQUIRED] = { "users.required", K_BOOL, "false", 0, 0, TCFG_FOR_SUPERVISOR },
};

#define AZ_MAX 32               /* SQL.md 9.6: AVAILABILITY ZONES entries */
#define ROLE_ARN_MAX 511        /* the catalog keeps 512 bytes */

void tcfg_init(struct tcfg *c)
{
	memset(c, 0, sizeof(*c));
}

int tcfg_find(const char *name)
{
	for (int k = 0; k < TCFG_NKEYS; k++)
		if (!strcmp(keys[k].name, name))
			return k;
	return -1;
}

const char *tcfg_name(enum tcfg_key k)
{
	return keys[k].name;
}

unsigned tcfg_users(enum tcfg_key k)
{
	return keys[k].users;
}

const char *tcfg_default(enum tcfg_key k)
{
	return keys[k].def;
}

/* ---- value kinds: NULL if ok (canonical form in out), else why not ---- */

static int is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

static int is_lower_alnum(char ch)
{
	return is_digit(ch) || (ch >= 'a' && ch <= 'z');
}

static const char *check_log_level(const char *v, char *out)
{
	static const char *const levels[] = { "debug", "info", "warn", "error" };

	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		if (!strcmp(v, levels[i])) {
			strcpy(out, v);
			return NULL;
		}
	return "must be debug, info, warn or error";
}

static const char *check_uuid(const char *v, char *out)
{
	static const int groups[] = { 8, 4, 4, 4, 12 };
	const char *p = v;

	for (size_t g = 0; g < 5; g++) {
		for (int i = 0; i < groups[g]; i++, p++) {
			char ch = *p;
			if (!(is_digit(ch) || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F')))
				return "must be a UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx, hex digits)";
		}
		if (g < 4 && *p++ != '-')
			return "must be a UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx, hex digits)";
	}
	if (*p)
		return "must be a UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx, hex digits)";
	for (size_t i = 0; v[i]; i++)
		out[i] = (v[i] >= 'A' && v[i] <= 'F') ? (char)(v[i] - 'A' + 'a') : v[i];
	out[strlen(v)] = '\0';
	return NULL;
}

/* us-east-1, eu-central-2, us-gov-west-1: lower-case words and a number. */
static const char *check_region(const char *v, char *out)
{
	size_t n = strlen(v);

	if (n == 0 || n > 32 || v[0] == '-' || v[n - 1] == '-')
		return "must be an AWS region name such as us-east-1";
	for (size_t i = 0; i < n; i++)
		if (!is_lower_alnum(v[i]) && !(v[i] == '-' && v[i + 1] != '-'))
			return "must be an AWS region name such as us-east-1";
	strcpy(out, v);
	return NULL;
}

static int digits(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_digit(p[i]))
			return 0;
	return 1;
}

static const char *check_account(const char *v, char *out)
{
	if (strlen(v) != 12 || !digits(v, 12))
		return "must be a 12-digit AWS account id";
	strcpy(out, v);
	return NULL;
}

/* IAM role ARN: arn:<partition>:iam::<account>:role/<path/name>, where the
 * name uses IAM's characters (letters, digits, + = , . @ _ - and /). */
static const char *check_role_arn(const char *v, char *out)
{
	static const char why[] =
		"must be an IAM role ARN such as arn:aws:iam::123456789012:role/Name";
	const char *p = v;
	size_t n;

	if (strlen(v) > ROLE_ARN_MAX || strncmp(p, "arn:", 4) != 0)
		return why;
	p += 4;
	for (n = 0; (p[n] >= 'a' && p[n] <= 'z') || p[n] == '-'; n++)
		;
	if (n == 0 || strncmp(p + n, ":iam::", 6) != 0)
		return why;
	p += n + 6;
	if (!digits(p, 12) || strncmp(p + 12, ":role/", 6) != 0)
		return why;
	p += 18;
	if (!*p || p[strlen(p) - 1] == '/')
		return why;
	for (; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || is_digit(*p) ||
		      strchr("+=,.@_-/", *p)))
			return why;
	strcpy(out, v);
	return NULL;
}

/* AZ ids (use1-az1): a comma list, spaces around commas allowed; stored
 * as "a,b". Repeats are refused like in AVAILABILITY ZONES. */
static const char *check_az_list(const char *v, char *out)
{
	char ids[AZ_MAX][32];
	size_t n = 0, off = 0;
	const char *p = v;

	for (;;) {
		const char *a, *b;
		size_t len, dash;

		while (*p == ' ' || *p == '\t')
			p++;
		a = p;
		while (*p && *p != ',')
			p++;
		b = p;
		while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
			b--;
		len = (size_t)(b - a);
		/* <letters+digits>-az<digits> */
		for (dash = 0; dash < len && is_lower_alnum(a[dash]); dash++)
			;
		if (len == 0 || len >= sizeof(ids[0]) || dash == 0 || dash + 3 >= len ||
		    strncmp(a + dash, "-az", 3) != 0 || !digits(a + dash + 3, len - dash - 3))
			return "must be a comma-separated list of availability zone ids such as use1-az1";
		if (n == AZ_MAX)
			return "has more than 32 availability zone ids";
		memcpy(ids[n], a, len);
		ids[n][len] = '\0';
		for (size_t i = 0; i < n; i++)
			if (!strcmp(ids[i], ids[n]))
				return "lists an availability zone id twice";
		off += (size_t)snprintf(out + off, TCFG_VALUE_MAX - off, "%s%s", n ? "," : "",
					ids[n]);
		n++;
		if (!*p)
			break;
		p++;    /* ',' */
	}
	return NULL;
}

static const char *check_int(const struct key_def *d, const char *v, char *out)
{
	static char why[96];
	char *end;
	long n;

	errno = 0;
	n = is_digit(v[0]) ? strtol(v, &end, 10) : 0;
	if (!is_digit(v[0]) || errno || *end || n < d->min || n > d->max) {
		snprintf(why, sizeof(why), "must be an integer from %ld to %ld", d->min, d->max);
		return why;
	}
	snprintf(out, TCFG_VALUE_MAX, "%ld", n);
	return NULL;
}

static const char *check_bool(const char *v, char *out)
{
	static const char *const yes[] = { "true", "on", "yes", "1" };
	static const char *const no[] = { "false", "off", "no", "0" };

	for (size_t i = 0; i < 4; i++) {
		if (!strcmp(v, yes[i])) {
			strcpy(out, "true");
			return NULL;
		}
		if (!strcmp(v, no[i])) {
			strcpy(out, "false");
			return NULL;
		}
	}
	return "must be true or false";
}

static const char *check_user(const char *v, char *out)
{
	size_t n = strlen(v);

	if (n == 0 || n > 32 || !(islower((unsigned char)v[0]) || v[0] == '_'))
		return "must be a system user name ([a-z_][a-z0-9_-]*, at most 32 characters)";
	for (size_t i = 1; i < n; i++)
		if (!islower((unsigned char)v[i]) && !isdigit((unsigned char)v[i]) &&
		    v[i] != '_' && v[i] != '-')
			return "must be a system user name ([a-z_][a-z0-9_-]*, at most 32 characters)";
	strcpy(out, v);
	return NULL;
}

/* 127.0.0.1:6876, 0.0.0.0:6876, [::1]:6876: a literal address (no name
 * lookups in tetherd) and a port 1..65535. */
static const char *check_hostport(const char *v, char *out)
{
	static const char why[] =
		"must be an IPv4 address or a [bracketed] IPv6 address, ':' and a port (127.0.0.1:6876)";
	const char *colon = strrchr(v, ':');
	char host[64];
	size_t hl;
	unsigned char buf[16];
	char *end;
	long port;

	if (!colon || colon == v)
		return why;
	hl = (size_t)(colon - v);
	if (v[0] == '[') {
		if (hl < 3 || v[hl - 1] != ']' || hl - 2 >= sizeof(host))
			return why;
		memcpy(host, v + 1, hl - 2);
		host[hl - 2] = '\0';
		if (inet_pton(AF_INET6, host, buf) != 1)
			return why;
	} else {
		if (hl >= sizeof(host))
			return why;
		memcpy(host, v, hl);
		host[hl] = '\0';
		if (inet_pton(AF_INET, host, buf) != 1)
			return why;
	}
	errno = 0;
	port = is_digit(colon[1]) ? strtol(colon + 1, &end, 10) : 0;
	if (!is_digit(colon[1]) || errno || *end || port < 1 || port > 65535)
		return why;
	strcpy(out, v);
	return NULL;
}

/* materialize.public.tether_aws: three unquoted identifiers (the catalog
 * resolves the name when a job needs it). */
static const char *check_qname(const char *v, char *out)
{
	static const char why[] =
		"must be a qualified secret name such as materialize.public.tether_aws";
	const char *p = v;

	for (int part = 0; part < 3; part++) {
		size_t n = 0;

		if (!((*p >= 'a' && *p <= 'z') || *p == '_'))
			return why;
		while (is_lower_alnum(p[n]) || p[n] == '_' || p[n] == '$')
			n++;
		if (n > 255)
			return why;
		p += n;
		if (part < 2 && *p++ != '.')
			return why;
	}
	if (*p)
		return why;
	strcpy(out, v);
	return NULL;
}

/* https://sts.eu-west-1.amazonaws.com, https://sts.example:8443/, and for
 * tests http://127.0.0.1:4566: a host name or literal address, an optional
 * port and path; no user info, query or fragment. Plain http only to a
 * loopback host (127.0.0.0/8, [::1], localhost): tether's credentials sign
 * these requests and its session token travels in a header. */
static const char *check_sts_url(const char *v, char *out)
{
	static const char why[] =
		"must be an https:// URL (http:// only for a loopback address), without user "
		"information, query or fragment";
	char host[256];
	const char *h, *end, *colon;
	size_t hl;
	int https, loopback = 0;
	unsigned char buf[16];

	if (strlen(v) > 1000)
		return "must be at most 1000 bytes";
	https = !strncmp(v, "https://", 8);
	if (!https && strncmp(v, "http://", 7) != 0)
		return why;
	h = v + (https ? 8 : 7);
	end = h + strcspn(h, "/");
	for (const char *p = v; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || *p == '?' ||
		    *p == '#' || *p == '\\' || (p < end && *p == '@'))
			return why;
	if (*h == '[') {
		const char *rb = memchr(h, ']', (size_t)(end - h));
		if (!rb || (size_t)(rb - h - 1) >= sizeof(host))
			return why;
		hl = (size_t)(rb - h - 1);
		memcpy(host, h + 1, hl);
		host[hl] = '\0';
		if (inet_pton(AF_INET6, host, buf) != 1)
			return why;
		loopback = !memcmp(buf, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1", 16);
		colon = rb + 1 < end ? rb + 1 : NULL;
		if (colon && *colon != ':')
			return why;
	} else {
		colon = memchr(h, ':', (size_t)(end - h));
		hl = (size_t)((colon ? colon : end) - h);
		if (hl == 0 || hl >= sizeof(host))
			return why;
		memcpy(host, h, hl);
		host[hl] = '\0';
		for (size_t i = 0; i < hl; i++)
			if (!is_lower_alnum(host[i]) && host[i] != '-' && host[i] != '.')
				return why;
		if (inet_pton(AF_INET, host, buf) == 1)
			loopback = buf[0] == 127;
		else
			loopback = !strcmp(host, "localhost");
	}
	if (colon) {
		char *pe;
		long port;
		errno = 0;
		port = is_digit(colon[1]) ? strtol(colon + 1, &pe, 10) : 0;
		if (!is_digit(colon[1]) || errno || pe != end || port < 1 || port > 65535)
			return why;
	}
	if (!https && !loopback)
		return why;
	strcpy(out, v);
	return NULL;
}

static const char *check_value(const struct key_def *d, const char *v, char *out)
{
	switch (d->kind) {
	case K_PATH:
		if (!v[0])
			return "must not be empty";
		strcpy(out, v);
		return NULL;
	case K_LOG_LEVEL:
		return check_log_level(v, out);
	case K_UUID:
		return check_uuid(v, out);
	case K_REGION:
		return check_region(v, out);
	case K_ROLE_ARN:
		return check_role_arn(v, out);
	case K_ACCOUNT:
		return check_account(v, out);
	case K_AZ_LIST:
		return check_az_list(v, out);
	case K_INT:
		return check_int(d, v, out);
	case K_BOOL:
		return check_bool(v, out);
	case K_USER:
		return check_user(v, out);
	case K_HOSTPORT:
		return check_hostport(v, out);
	case K_QNAME:
		return check_qname(v, out);
	case K_STS_URL:
		return check_sts_url(v, out);
	}
	return "has an unknown kind";
}

int tcfg_set(struct tcfg *c, enum tcfg_key k, const char *value, const char *where,
	     struct err *e)
{
	char canon[TCFG_VALUE_MAX];
	const char *why;

	if ((int)k < 0 || k >= TCFG_NKEYS)
		return err_set(e, "F0000", "%s: unknown key", where);
	if (strlen(value) >= TCFG_VALUE_MAX)
		return err_set(e, "F0000", "%s: value of %s is too long (at most %d bytes)",
			       where, keys[k].name, TCFG_VALUE_MAX - 1);
	why = check_value(&keys[k], value, canon);
	if (why)
		return err_set(e, "F0000", "%s: invalid value for %s: %s", where, keys[k].name,
			       why);
	memcpy(c->value[k], canon, strlen(canon) + 1);
	snprintf(c->where[k], sizeof(c->where[k]), "%s", where);
	c->set[k] = 1;
	return 0;
}

void tcfg_unset(struct tcfg *c, enum tcfg_key k)
{
	c->set[k] = 0;
	c->value[k][0] = '\0';
	c->where[k][0] = '\0';
}

const char *tcfg_get(const struct tcfg *c, enum tcfg_key k)
{
	return c->set[k] ? c->value[k] : keys[k].def;
}

long tcfg_get_long(const struct tcfg *c, enum tcfg_key k)
{
	const char *v = tcfg_get(c, k);
	return v ? strtol(v, NULL, 10) : 0;
}

int tcfg_get_bool(const struct tcfg *c, enum tcfg_key k)
{
	const char *v = tcfg_get(c, k);
	return v && !strcmp(v, "true");
}

int tcfg_set_arg(struct tcfg *c, const char *arg, struct err *e)
{
	const char *eq = strchr(arg, '=');
	char name[64];
	size_t n;
	int k;

	if (!eq || eq == arg)
		return err_set(e, "F0000", "--set %.200s: expected key=value", arg);
	n = (size_t)(eq - arg);
	if (n >= sizeof(name))
		return err_set(e, "F0000", "--set: unknown key '%.*s'", (int)(n > 64 ? 64 : n), arg);
	memcpy(name, arg, n);
	name[n] = '\0';
	k = tcfg_find(name);
	if (k < 0)
		return err_set(e, "F0000", "--set: unknown key '%s'", name);
	return tcfg_set(c, (enum tcfg_key)k, eq + 1, "--set", e);
}

/* ---- the file grammar ---- */

static int is_space(char ch)
{
	return ch == ' ' || ch == '\t';
}

/* A quoted value starting at *pp (on the quote): "..." with \" and \\, or
 * '...' taken literally. NULL if ok, else why not. */
static const char *quoted(const char **pp, const char *end, char *out, size_t size)
{
	const char *p = *pp;
	char q = *p++;
	size_t n = 0;

	for (;;) {
		char ch;

		if (p == end)
			return "unterminated quoted value";
		ch = *p++;
		if (ch == q)
			break;
		if (q == '"' && ch == '\\') {
			if (p == end || (*p != '"' && *p != '\\'))
				return "unknown escape in quoted value (only \\\" and \\\\)";
			ch = *p++;
		}
		if (n + 1 >= size)
			return "value is too long";
		out[n++] = ch;
	}
	out[n] = '\0';
	*pp = p;
	return NULL;
}

static int line_error(struct err *e, const char *name, int line, const char *fmt,
		      const char *arg)
{
	char msg[256];

	snprintf(msg, sizeof(msg), fmt, arg);
	return err_set(e, "F0000", "%s:%d: %s", name, line, msg);
}

/* One line (without its newline): blank, a comment, or key = value. */
static int parse_line(struct tcfg *c, const char *name, int line, const char *p,
		      const char *end, int first_line[TCFG_NKEYS], struct err *e)
{
	char key[64], value[TCFG_VALUE_MAX], where[TCFG_WHERE_MAX];
	const char *k0, *why;
	size_t n;
	int k;

	while (p < end && is_space(*p))
		p++;
	if (p == end || *p == '#')
		return 0;
	k0 = p;
	while (p < end && (is_lower_alnum(*p) || *p == '_' || *p == '.'))
		p++;
	n = (size_t)(p - k0);
	if (n == 0)
		return line_error(e, name, line, "expected a key (lower-case letters, digits, _ and .)%s", "");
	if (n >= sizeof(key))
		return line_error(e, name, line, "key is too long%s", "");
	memcpy(key, k0, n);
	key[n] = '\0';
	while (p < end && is_space(*p))
		p++;
	if (p == end || *p != '=')
		return line_error(e, name, line, "expected '=' after key '%s'", key);
	p++;
	k = tcfg_find(key);
	if (k < 0)
		return line_error(e, name, line, "unknown key '%s'", key);
	if (first_line[k]) {
		char msg[96];
		snprintf(msg, sizeof(msg), "key '%%s' given twice (first on line %d)", first_line[k]);
		return line_error(e, name, line, msg, key);
	}
	while (p < end && is_space(*p))
		p++;
	if (p < end && (*p == '"' || *p == '\'')) {
		if ((why = quoted(&p, end, value, sizeof(value))) != NULL)
			return line_error(e, name, line, "%s", why);
		while (p < end && is_space(*p))
			p++;
		if (p < end && *p != '#')
			return line_error(e, name, line, "unexpected text after the quoted value of '%s'",
					  key);
	} else {
		const char *v0 = p, *v1;
		while (p < end && *p != '#')
			p++;
		v1 = p;
		while (v1 > v0 && is_space(v1[-1]))
			v1--;
		if (v1 == v0)
			return line_error(e, name, line,
					  "missing value for '%s' (leave the key out for its default)", key);
		if ((size_t)(v1 - v0) >= sizeof(value))
			return line_error(e, name, line, "value of '%s' is too long", key);
		memcpy(value, v0, (size_t)(v1 - v0));
		value[v1 - v0] = '\0';
	}
	snprintf(where, sizeof(where), "%s:%d", name, line);
	if (tcfg_set(c, (enum tcfg_key)k, value, where, e) < 0)
		return -1;
	first_line[k] = line;
	return 0;
}

int tcfg_load_text(struct tcfg *c, const char *name, const char *text, size_t len,
		   struct err *e)
{
	int first_line[TCFG_NKEYS] = { 0 };
	const char *p = text, *end = text + len;
	int line = 0;

	if (len > TCFG_FILE_MAX)
		return err_set(e, "F0000", "%s: file is larger than %d bytes", name, TCFG_FILE_MAX);
	if (memchr(text, '\0', len))
		return err_set(e, "F0000", "%s: file contains a NUL byte", name);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;

		line++;
		if (eol > p && eol[-1] == '\r')
			eol--;
		if (parse_line(c, name, line, p, eol, first_line, e) < 0)
			return -1;
		p = nl ? nl + 1 : end;
	}
	return 0;
}

int tcfg_load_file(struct tcfg *c, const char *path, struct err *e)
{
	struct stat sb;
	char *buf;
	size_t got = 0;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return err_set(e, "F0000", "cannot open %s: %s", path, strerror(errno));
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return err_set(e, "F0000", "%s is not a regular file", path);
	}
	/* Its keys decide principals and limits: others must not edit it. */
	if (sb.st_mode & S_IWOTH) {
		close(fd);
		return err_set(e, "F0000", "%s is writable by other users (chmod o-w)", path);
	}
	if (sb.st_size > TCFG_FILE_MAX) {
		close(fd);
		return err_set(e, "F0000", "%s: file is larger than %d bytes", path, TCFG_FILE_MAX);
	}
	buf = malloc((size_t)sb.st_size + 1);
	if (!buf) {
		close(fd);
		return err_set(e, "53200", "out of memory");
	}
	while (got < (size_t)sb.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)sb.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (got != (size_t)sb.st_size) {
		free(buf);
		return err_set(e, "F0000", "cannot read %s", path);
	}
	rc = tcfg_load_text(c, path, buf, got, e);
	free(buf);
	return rc;
}
