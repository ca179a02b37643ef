/* AWS: STS through libcurl's SigV4. Key auth: GetCallerIdentity with the
 * connection's keys (and SESSION TOKEN). Role auth (SQL.md 5.1, 6): tether's
 * own credentials assume its principal role (aws.connection_role_arn), the
 * principal assumes the customer role with the connection's external ID,
 * GetCallerIdentity as that role, and assuming the role WITHOUT the
 * external ID must fail. Also resolves the credentials of a referenced AWS
 * CONNECTION for other checks (val_aws_credentials). STS replies are XML,
 * read with libxml2 (no network, no DTD, no entity substitution).
 *
 * Where requests go (security rule): a request signed with tether's own
 * credentials, or with credentials they obtained (the principal's, the
 * customer role's), goes ONLY to tether's STS endpoint, TETHER/STS ENDPOINT
 * (the operator's aws.sts_endpoint; default https://sts.<TETHER/REGION>.
 * amazonaws.com), signed for TETHER/REGION. The connection's ENDPOINT (and
 * REGION) is user-controlled: it is used only for calls signed with the
 * CONNECTION's own keys (ACCESS KEY ID auth). For a role-based connection
 * ENDPOINT is still checked for form but never contacted. aws_sts_call
 * picks the endpoint from the keys' origin (aws_keys.tether), never from
 * the caller. */
#include "val.h"
#include "http.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#define AWS_DEFAULT_REGION "us-east-1"
#define AWS_STS_VERSION "2011-06-15"

enum aws_opt { AWS_ENDPOINT, AWS_REGION, AWS_AKID, AWS_SECRET, AWS_TOKEN, AWS_ROLE_ARN,
	       AWS_SESSION_NAME, AWS_EXTERNAL_ID, AWS_NOPTS };
static const char *const aws_opt_names[AWS_NOPTS] = {
	[AWS_ENDPOINT] = "ENDPOINT", [AWS_REGION] = "REGION",
	[AWS_AKID] = "ACCESS KEY ID", [AWS_SECRET] = "SECRET ACCESS KEY",
	[AWS_TOKEN] = "SESSION TOKEN", [AWS_ROLE_ARN] = "ASSUME ROLE ARN",
	[AWS_SESSION_NAME] = "ASSUME ROLE SESSION NAME", [AWS_EXTERNAL_ID] = "EXTERNAL ID",
};

/* tether's own identity (VAL_OPT_TETHER_*), never from SQL. */
enum aws_tether { AT_ROLE_ARN, AT_AKID, AT_SECRET, AT_TOKEN, AT_REGION, AT_N };
static const char *const aws_tether_names[AT_N] = {
	[AT_ROLE_ARN] = VAL_OPT_TETHER_AWS_ROLE_ARN, [AT_AKID] = VAL_OPT_TETHER_AWS_ACCESS_KEY_ID,
	[AT_SECRET] = VAL_OPT_TETHER_AWS_SECRET_ACCESS_KEY,
	[AT_TOKEN] = VAL_OPT_TETHER_AWS_SESSION_TOKEN, [AT_REGION] = VAL_OPT_TETHER_REGION,
};

static const char *const aws_hints[VAL_CODE_COUNT] = {
	[VAL_DNS] = "Check REGION and ENDPOINT.",
	[VAL_REFUSED] = "Check ENDPOINT, and that tether can reach AWS STS.",
	[VAL_TIMEOUT] = "AWS STS did not answer in time: check ENDPOINT and firewalls.",
	[VAL_TLS] = "The STS endpoint's certificate is not trusted: check ENDPOINT.",
	[VAL_AUTH] = "Check ACCESS KEY ID, SECRET ACCESS KEY and SESSION TOKEN.",
	[VAL_PERMISSION] = "The credentials are valid but AWS refused the call: check the IAM "
			   "policies (and, for ASSUME ROLE ARN, the role's trust policy).",
	[VAL_PROTOCOL] = "Check that ENDPOINT points to an AWS STS-compatible service.",
	[VAL_CONFIG] = "Check the connection's options.",
};

/* Failures reaching tether's own STS endpoint are the operator's to fix:
 * the hints never point the user at ENDPOINT. */
static const char *const aws_tether_hints[VAL_CODE_COUNT] = {
	[VAL_DNS] = "tether could not resolve its AWS STS endpoint: the operator should check "
		    "aws.sts_endpoint and deployment.region.",
	[VAL_REFUSED] = "tether could not reach its AWS STS endpoint: the operator should check "
			"aws.sts_endpoint and the network.",
	[VAL_TIMEOUT] = "tether's AWS STS endpoint did not answer in time: the operator should "
			"check aws.sts_endpoint and firewalls.",
	[VAL_TLS] = "The certificate of tether's AWS STS endpoint is not trusted: the operator "
		    "should check aws.sts_endpoint.",
	[VAL_PERMISSION] = "AWS refused the call: check the role's trust policy and IAM policies.",
	[VAL_PROTOCOL] = "tether's AWS STS endpoint (aws.sts_endpoint) did not answer like AWS "
			 "STS.",
	[VAL_CONFIG] = "Check the connection's options.",
};

/* STS error codes (AWS STS API reference, "Common Errors"). */
static const struct {
	const char *code;
	enum val_code val;
} aws_sts_errors[] = {
	{ "InvalidClientTokenId", VAL_AUTH }, { "SignatureDoesNotMatch", VAL_AUTH },
	{ "IncompleteSignature", VAL_AUTH }, { "ExpiredToken", VAL_AUTH },
	{ "ExpiredTokenException", VAL_AUTH }, { "InvalidAccessKeyId", VAL_AUTH },
	{ "MissingAuthenticationToken", VAL_AUTH }, { "UnrecognizedClientException", VAL_AUTH },
	{ "InvalidToken", VAL_AUTH },
	{ "AccessDenied", VAL_PERMISSION }, { "AccessDeniedException", VAL_PERMISSION },
	{ "RegionDisabledException", VAL_PERMISSION },
};

struct aws_keys {
	char *akid, *secret, *token;
	size_t akid_len, secret_len, token_len;
	bool tether;    /* tether's or obtained with them: tether's endpoint only */
};

/* One STS endpoint: its URL, the region requests to it are signed for,
 * and the words of its failures. */
struct aws_ep {
	bool loaded;
	char url[1100];
	struct val_url u;
	char region[64];
	char sigv4[128];
	struct val_http_words w;
};

struct aws_ctx {
	const struct val_services *svc;
	const struct val_job *job;
	const char *prefix;      /* "" or VAL_AWS_REF_PREFIX */
	char *v[AWS_NOPTS];
	size_t len[AWS_NOPTS];
	bool from_secret[AWS_NOPTS];    /* some part of the value is a SECRET */
	char *t[AT_N];
	size_t tlen[AT_N];
	char region[64];         /* the connection's (REGION, else the deployment's) */
	struct aws_ep conn;      /* ENDPOINT or sts.<region>: the connection's keys only */
	struct aws_ep tether;    /* TETHER/STS ENDPOINT: everything tether signs */
	const struct aws_ep *last;   /* the endpoint of the last call (messages) */
	struct val_http h;
	bool h_open;
	struct aws_keys principal, role;   /* temporary credentials, wiped */
	char role_session[80];
};

/* ---- libxml2 ---- */

/* Parses the last reply: no network, no DTD loading or validation, no
 * entity substitution; a document that declares a DTD is refused. */
static xmlDocPtr aws_xml(const struct val_http *h)
{
	if (!h->body || h->len == 0 || h->len > VAL_HTTP_MAX_BODY)
		return NULL;
	xmlDocPtr d = xmlReadMemory(h->body, (int)h->len, "sts.xml", NULL,
				    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (d && d->intSubset) {
		xmlFreeDoc(d);
		return NULL;
	}
	return d;
}

static xmlNodePtr xml_child(xmlNodePtr n, const char *name)
{
	for (xmlNodePtr c = n ? n->children : NULL; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE && strcmp((const char *)c->name, name) == 0)
			return c;
	return NULL;
}

/* The element at root/path[1]/path[2]...; path[0] names the root. */
static xmlNodePtr xml_path(xmlDocPtr d, const char *const *path, size_t n)
{
	xmlNodePtr x = d ? xmlDocGetRootElement(d) : NULL;
	if (!x || strcmp((const char *)x->name, path[0]) != 0)
		return NULL;
	for (size_t i = 1; x && i < n; i++)
		x = xml_child(x, path[i]);
	return x;
}

/* The element's text into a new buffer (wiped by the caller with
 * val_value_free); NULL if absent, empty or over `max` bytes. */
static char *xml_text(xmlNodePtr x, size_t max, size_t *len)
{
	if (!x)
		return NULL;
	xmlChar *s = xmlNodeGetContent(x);
	if (!s)
		return NULL;
	size_t n = strlen((const char *)s);
	char *out = NULL;
	if (n > 0 && n <= max && (out = malloc(n + 1)) != NULL) {
		memcpy(out, s, n + 1);
		*len = n;
	}
	explicit_bzero(s, n);
	xmlFree(s);
	return out;
}

/* The STS error of a reply: <ErrorResponse><Error><Code>, <Message>. */
static void aws_sts_error(const struct val_http *h, char *code, size_t csize, char *msg,
			  size_t msize)
{
	static const char *const pc[] = { "ErrorResponse", "Error", "Code" };
	static const char *const pm[] = { "ErrorResponse", "Error", "Message" };
	xmlDocPtr d = aws_xml(h);
	size_t n = 0;
	char *c = xml_text(xml_path(d, pc, 3), 128, &n);
	char *m = xml_text(xml_path(d, pm, 3), 400, &n);
	snprintf(code, csize, "%s", c ? c : "");
	snprintf(msg, msize, "%s", m ? m : "");
	for (char *p = code; *p; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')))
			*p = '?';
	for (char *p = msg; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f)
			*p = ' ';
	free(c);
	free(m);
	xmlFreeDoc(d);
}

/* ---- options ---- */

static void aws_keys_free(struct aws_keys *k)
{
	val_value_free(k->akid, k->akid_len);
	val_value_free(k->secret, k->secret_len);
	val_value_free(k->token, k->token_len);
	memset(k, 0, sizeof(*k));
}

static int aws_config(struct val_result *r, const char *sqlstate, const char *fmt,
		      const char *arg)
{
	char m[400];
	snprintf(m, sizeof(m), fmt, arg ? arg : "");
	val_fail(r, VAL_CONFIG, NULL, "%s", m);
	if (sqlstate)
		err_set(&r->e, sqlstate, "%s", m);
	snprintf(r->stage, sizeof(r->stage), "config");
	return -1;
}

static const char *aws_tether_text(const struct val_job *job, const char *name)
{
	const struct val_option *o = val_job_option(job, name);
	return o && o->nparts == 1 && o->parts[0].text && o->parts[0].text[0] ? o->parts[0].text
									       : NULL;
}

static int aws_load(struct aws_ctx *c, const char *destination, struct val_result *r)
{
	char name[96], why[200];

	/* ENDPOINT and REGION first: they name the STS endpoint, which is
	 * the destination every secret is fetched for. */
	for (int o = 0; o < AWS_NOPTS; o++) {
		if (o == AWS_AKID) {
			const char *dr = aws_tether_text(c->job, VAL_OPT_TETHER_REGION);
			snprintf(c->region, sizeof(c->region), "%s",
				 c->v[AWS_REGION] && c->v[AWS_REGION][0] ? c->v[AWS_REGION]
				 : dr ? dr : AWS_DEFAULT_REGION);
			for (const char *p = c->region; *p; p++)
				if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
					return aws_config(r, NULL, "invalid connection configuration: "
							  "invalid REGION \"%s\"", c->region);
			struct aws_ep *ep = &c->conn;
			if (c->v[AWS_ENDPOINT] && c->v[AWS_ENDPOINT][0])
				snprintf(ep->url, sizeof(ep->url), "%s", c->v[AWS_ENDPOINT]);
			else
				snprintf(ep->url, sizeof(ep->url), "https://sts.%s.amazonaws.com/",
					 c->region);
			if (val_url_parse(ep->url, &ep->u, why, sizeof(why)) != 0)
				return aws_config(r, NULL, "invalid connection configuration: "
						  "invalid ENDPOINT: %s", why);
			if (ep->u.has_query || ep->u.has_user)
				return aws_config(r, NULL, "invalid connection configuration: ENDPOINT "
						  "must not carry a query or credentials%s", "");
			snprintf(ep->region, sizeof(ep->region), "%s", c->region);
			ep->w = (struct val_http_words){
				.type = "AWS", .service = "AWS STS", .host = ep->u.host,
				.hostport = ep->u.hostport, .hints = aws_hints,
			};
			ep->loaded = true;
		}
		snprintf(name, sizeof(name), "%s%s", c->prefix, aws_opt_names[o]);
		const struct val_option *opt = val_job_option(c->job, name);
		if (!opt)
			continue;
		const char *dest = destination ? destination : c->conn.u.hostport;
		if (val_option_value(c->svc, c->job, opt, o <= AWS_REGION ? NULL : dest, &c->v[o],
				     &c->len[o], r) != 0)
			return -1;
		for (size_t i = 0; i < opt->nparts; i++)
			c->from_secret[o] |= opt->parts[i].text == NULL;
	}
	bool keys = c->v[AWS_AKID] || c->v[AWS_SECRET];
	bool role = c->v[AWS_ROLE_ARN] != NULL;
	if (keys && role)
		return aws_config(r, "42601", "cannot specify both ACCESS KEY ID and ASSUME ROLE ARN",
				  NULL);
	if (!keys && !role)
		return aws_config(r, NULL, "must specify either ASSUME ROLE ARN or ACCESS KEY ID and "
				  "SECRET ACCESS KEY", NULL);
	if (keys && (!c->v[AWS_AKID] || !c->v[AWS_SECRET]))
		return aws_config(r, NULL, "must specify both ACCESS KEY ID and SECRET ACCESS KEY with "
				  "optional SESSION TOKEN", NULL);
	return 0;
}

/* A copy of s[0..n) into t[o] (wiped by aws_ctx_free); -1 out of memory. */
static int aws_tether_copy(struct aws_ctx *c, int o, const char *s, size_t n)
{
	if (!(c->t[o] = malloc(n + 1)))
		return -1;
	memcpy(c->t[o], s, n);
	c->t[o][n] = '\0';
	c->tlen[o] = n;
	return 0;
}

/* VAL_OPT_TETHER_AWS_CREDENTIALS: "AKID:SECRET[:TOKEN]" (trailing white
 * space ignored) split into t[AT_AKID], t[AT_SECRET], t[AT_TOKEN]. The
 * value never reaches a message. */
static int aws_load_tether_creds(struct aws_ctx *c, const struct val_option *opt,
				 struct val_result *r)
{
	char *v = NULL;
	size_t len = 0;
	int rc = -1;

	if (val_option_value(c->svc, c->job, opt, c->tether.u.hostport, &v, &len, r) != 0)
		return -1;
	while (len > 0 && (v[len - 1] == '\n' || v[len - 1] == '\r' || v[len - 1] == ' ' ||
			   v[len - 1] == '\t'))
		v[--len] = '\0';
	char *c1 = memchr(v, ':', len);
	char *c2 = c1 ? memchr(c1 + 1, ':', len - (size_t)(c1 + 1 - v)) : NULL;
	size_t slen = c1 ? (size_t)((c2 ? c2 : v + len) - (c1 + 1)) : 0;
	size_t tlen = c2 ? len - (size_t)(c2 + 1 - v) : 0;
	if (!c1 || c1 == v || slen == 0 || (c2 && tlen == 0)) {
		aws_config(r, "0A000", "internal error: no AWS connection role configured", NULL);
		err_detail(&r->e, "The secret named by aws.principal_credentials_secret must hold "
			   "ACCESS_KEY_ID:SECRET_ACCESS_KEY[:SESSION_TOKEN].");
		goto out;
	}
	if (aws_tether_copy(c, AT_AKID, v, (size_t)(c1 - v)) != 0 ||
	    aws_tether_copy(c, AT_SECRET, c1 + 1, slen) != 0 ||
	    (c2 && aws_tether_copy(c, AT_TOKEN, c2 + 1, tlen) != 0)) {
		val_fail(r, VAL_CONFIG, NULL, "internal error: validator: out of memory");
		err_set(&r->e, "XX000", "internal error: validator: out of memory");
		goto out;
	}
	rc = 0;
out:
	val_value_free(v, len);
	return rc;
}

static bool aws_loopback_host(const char *host)
{
	unsigned char a[16];

	if (inet_pton(AF_INET, host, a) == 1)
		return a[0] == 127;
	if (inet_pton(AF_INET6, host, a) == 1)
		return memcmp(a, in6addr_loopback.s6_addr, 16) == 0;
	return strcmp(host, "localhost") == 0;
}

/* tether's STS endpoint: TETHER/STS ENDPOINT (plain text, from the
 * operator's aws.sts_endpoint), else https://sts.<TETHER/REGION>.amazonaws
 * .com/; signed for TETHER/REGION. https, or http to a loopback address
 * (tests). A bad value is the operator's problem (XX000). Never ENDPOINT. */
static int aws_load_tether_ep(struct aws_ctx *c, struct val_result *r)
{
	struct aws_ep *ep = &c->tether;
	const struct val_option *o = val_job_option(c->job, VAL_OPT_TETHER_STS_ENDPOINT);
	const char *region = aws_tether_text(c->job, VAL_OPT_TETHER_REGION);
	char why[200] = "";

	snprintf(ep->region, sizeof(ep->region), "%s", region ? region : AWS_DEFAULT_REGION);
	for (const char *p = ep->region; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
			snprintf(why, sizeof(why), "invalid deployment region");
	if (o && (o->nparts != 1 || !o->parts[0].text || !o->parts[0].text[0]))
		snprintf(why, sizeof(why), "it must be plain text");
	if (!why[0]) {
		if (o)
			snprintf(ep->url, sizeof(ep->url), "%s", o->parts[0].text);
		else
			snprintf(ep->url, sizeof(ep->url), "https://sts.%s.amazonaws.com/",
				 ep->region);
		if (val_url_parse(ep->url, &ep->u, why, sizeof(why)) == 0) {
			if (ep->u.has_query || ep->u.has_user)
				snprintf(why, sizeof(why), "it must not carry a query or credentials");
			else if (strcmp(ep->u.scheme, "https") != 0 && !aws_loopback_host(ep->u.host))
				snprintf(why, sizeof(why), "it must be https (http only to loopback)");
		} else if (!why[0]) {
			snprintf(why, sizeof(why), "unparsable");
		}
	}
	if (why[0]) {
		aws_config(r, "XX000", "internal error: invalid aws.sts_endpoint", NULL);
		err_detail(&r->e, "%s", why);
		err_hint(&r->e, "The operator must set aws.sts_endpoint to an https:// URL.");
		return -1;
	}
	ep->w = (struct val_http_words){
		.type = "AWS", .service = "AWS STS", .host = ep->u.host,
		.hostport = ep->u.hostport, .hints = aws_tether_hints,
	};
	ep->loaded = true;
	return 0;
}

/* tether's identity for role assumption: its STS endpoint, the principal
 * role and the credentials that may assume it, fetched for that endpoint.
 * 0A000 when not configured (SQL.md 6). */
static int aws_load_tether(struct aws_ctx *c, struct val_result *r)
{
	const struct val_option *creds = val_job_option(c->job, VAL_OPT_TETHER_AWS_CREDENTIALS);

	if (aws_load_tether_ep(c, r) != 0)
		return -1;
	for (int o = 0; o < AT_N; o++) {
		const struct val_option *opt = val_job_option(c->job, aws_tether_names[o]);
		if (creds && (o == AT_AKID || o == AT_SECRET || o == AT_TOKEN))
			continue;       /* from the combined secret below */
		if (opt && val_option_value(c->svc, c->job, opt, c->tether.u.hostport, &c->t[o],
					    &c->tlen[o], r) != 0)
			return -1;
	}
	/* The role first: without it the credentials are not even fetched. */
	if (creds && c->t[AT_ROLE_ARN] && c->t[AT_ROLE_ARN][0] &&
	    aws_load_tether_creds(c, creds, r) != 0)
		return -1;
	if (!c->t[AT_ROLE_ARN] || !c->t[AT_ROLE_ARN][0]) {
		aws_config(r, "0A000", "internal error: no AWS connection role configured", NULL);
		err_detail(&r->e, "The deployment setting aws.connection_role_arn is not set.");
		return -1;
	}
	if (!c->t[AT_AKID] || !c->t[AT_SECRET]) {
		aws_config(r, "0A000", "internal error: no AWS connection role configured", NULL);
		err_detail(&r->e, "tether has no AWS credentials with which to assume its connection "
			   "role %s.", c->t[AT_ROLE_ARN]);
		return -1;
	}
	return 0;
}

/* ---- STS calls ---- */

static int aws_open_http(struct aws_ctx *c, struct val_result *r)
{
	if (c->h_open)
		return 0;
	if (val_http_open(&c->h, NULL, c->job->connect_timeout_ms, r) != 0)
		return -1;
	c->h_open = true;
	val_http_scrub(&c->h, c->v[AWS_SECRET], c->len[AWS_SECRET]);
	val_http_scrub(&c->h, c->v[AWS_TOKEN], c->len[AWS_TOKEN]);
	/* An access key id is an identifier, but one the user chose to keep
	 * as a SECRET must not come back in a message a server echoed. */
	if (c->from_secret[AWS_AKID])
		val_http_scrub(&c->h, c->v[AWS_AKID], c->len[AWS_AKID]);
	val_http_scrub(&c->h, c->t[AT_SECRET], c->tlen[AT_SECRET]);
	val_http_scrub(&c->h, c->t[AT_TOKEN], c->tlen[AT_TOKEN]);
	snprintf(c->conn.sigv4, sizeof(c->conn.sigv4), "aws:amz:%s:sts", c->conn.region);
	snprintf(c->tether.sigv4, sizeof(c->tether.sigv4), "aws:amz:%s:sts", c->tether.region);
	return 0;
}

/* POSTs an STS Query API call (form body) signed with `k` to the endpoint
 * its keys may go to: tether's (and what they obtained) to tether's STS
 * endpoint only, the connection's own keys to ENDPOINT / sts.<REGION>.
 * Returns 0 with a reply of any status, or reports a failure in r. */
static int aws_sts_call(struct aws_ctx *c, const struct aws_keys *k, const char *const *params,
			size_t nparams, const char *stage, struct val_result *r)
{
	const struct aws_ep *ep = k->tether ? &c->tether : &c->conn;
	char *body = NULL;
	size_t len = 0, cap = 0;
	int rc = -1;

	if (!ep->loaded) {
		aws_config(r, "XX000", "internal error: validator: no STS endpoint for the call",
			   NULL);
		return -1;
	}
	c->last = ep;

	for (size_t i = 0; i + 1 < nparams; i += 2) {
		if ((i && val_http_form_append(&body, &len, &cap, "&", 1, false) != 0) ||
		    val_http_form_append(&body, &len, &cap, params[i], strlen(params[i]), true) != 0 ||
		    val_http_form_append(&body, &len, &cap, "=", 1, false) != 0 ||
		    val_http_form_append(&body, &len, &cap, params[i + 1], strlen(params[i + 1]),
					 true) != 0) {
			val_fail(r, VAL_CONFIG, NULL, "internal error: validator: out of memory");
			err_set(&r->e, "XX000", "internal error: validator: out of memory");
			goto out;
		}
	}
	struct val_http_req q = {
		.method = "POST", .url = ep->url, .body = body, .body_len = len,
		.content_type = "application/x-www-form-urlencoded; charset=utf-8",
		.accept = "text/xml", .sigv4 = ep->sigv4, .user = k->akid, .password = k->secret,
		.amz_security_token = k->token,
	};
	enum val_code code = val_http_do(&c->h, &q);
	if (code != VAL_OK) {
		val_http_fail_transport(&c->h, r, code, &ep->w, stage);
		goto out;
	}
	rc = 0;
out:
	val_http_buf_free(body, cap);
	return rc;
}

/* Reports a non-2xx STS reply: the code by the STS error code, else the
 * status. `what` says which call ("GetCallerIdentity", ...). */
static void aws_sts_fail(struct aws_ctx *c, struct val_result *r, const char *what,
			 const char *stage)
{
	char code[130], msg[410], reason[700], detail[900];
	aws_sts_error(&c->h, code, sizeof(code), msg, sizeof(msg));
	enum val_code vc = val_http_status_code(c->h.status);
	if (vc == VAL_OK)
		vc = VAL_PROTOCOL;
	for (size_t i = 0; code[0] && i < sizeof(aws_sts_errors) / sizeof(aws_sts_errors[0]); i++)
		if (strcmp(code, aws_sts_errors[i].code) == 0)
			vc = aws_sts_errors[i].val;
	if (code[0])
		snprintf(reason, sizeof(reason), "%s: %s%s%s", what, code, msg[0] ? ": " : "", msg);
	else
		snprintf(reason, sizeof(reason), "%s answered HTTP %ld", what, c->h.status);
	char ex[200];
	val_http_body_excerpt(&c->h, ex, sizeof(ex), 160);
	snprintf(detail, sizeof(detail), "HTTP %ld from %.300s; body: %s", c->h.status, c->last->url,
		 ex);
	val_http_fail(&c->h, r, vc, &c->last->w, stage, reason, detail);
}

static int aws_caller_identity(struct aws_ctx *c, const struct aws_keys *k, char *arn,
			       size_t arn_size, struct val_result *r)
{
	static const char *const params[] = { "Action", "GetCallerIdentity",
					      "Version", AWS_STS_VERSION };
	static const char *const parn[] = { "GetCallerIdentityResponse",
					    "GetCallerIdentityResult", "Arn" };
	if (aws_sts_call(c, k, params, 4, "target_auth", r) != 0)
		return -1;
	if (c->h.status != 200) {
		aws_sts_fail(c, r, "GetCallerIdentity", "target_auth");
		return -1;
	}
	xmlDocPtr d = aws_xml(&c->h);
	size_t n = 0;
	char *a = xml_text(xml_path(d, parn, 3), 2048, &n);
	xmlFreeDoc(d);
	if (!a) {
		char ex[200], detail[300];
		val_http_body_excerpt(&c->h, ex, sizeof(ex), 160);
		snprintf(detail, sizeof(detail), "body: %s", ex);
		val_http_fail(&c->h, r, VAL_PROTOCOL, &c->last->w, "target",
			      "GetCallerIdentity returned no caller ARN", detail);
		return -1;
	}
	snprintf(arn, arn_size, "%s", a);
	val_value_free(a, n);
	return 0;
}

/* AssumeRole; on 200 the temporary credentials go to *out. Returns 0 on
 * success, 1 when STS answered with an error (left in c->h for the
 * caller), -1 when r was set. */
static int aws_assume_role(struct aws_ctx *c, const struct aws_keys *k, const char *role_arn,
			   const char *session, const char *external_id, struct aws_keys *out,
			   const char *stage, struct val_result *r)
{
	const char *params[10] = { "Action", "AssumeRole", "Version", AWS_STS_VERSION,
				   "RoleArn", role_arn, "RoleSessionName", session };
	size_t n = 8;
	if (external_id) {
		params[n++] = "ExternalId";
		params[n++] = external_id;
	}
	if (aws_sts_call(c, k, params, n, stage, r) != 0)
		return -1;
	if (c->h.status != 200)
		return 1;
	static const char *const base[] = { "AssumeRoleResponse", "AssumeRoleResult",
					    "Credentials" };
	xmlDocPtr d = aws_xml(&c->h);
	xmlNodePtr cr = xml_path(d, base, 3);
	memset(out, 0, sizeof(*out));
	out->akid = xml_text(xml_child(cr, "AccessKeyId"), 256, &out->akid_len);
	out->secret = xml_text(xml_child(cr, "SecretAccessKey"), 256, &out->secret_len);
	out->token = xml_text(xml_child(cr, "SessionToken"), 8192, &out->token_len);
	out->tether = k->tether;        /* obtained with k: stays where k may go */
	xmlFreeDoc(d);
	if (!out->akid || !out->secret || !out->token) {
		aws_keys_free(out);
		val_http_fail(&c->h, r, VAL_PROTOCOL, &c->last->w, stage,
			      "AssumeRole returned no usable credentials", NULL);
		return -1;
	}
	val_http_scrub(&c->h, out->secret, out->secret_len);
	val_http_scrub(&c->h, out->token, out->token_len);
	return 0;
}

/* tether -> principal -> customer role (with the external ID). */
static int aws_assume_chain(struct aws_ctx *c, struct val_result *r)
{
	struct aws_keys base = {
		.akid = c->t[AT_AKID], .secret = c->t[AT_SECRET], .token = c->t[AT_TOKEN],
		.tether = true,
	};
	char sess[80];
	snprintf(sess, sizeof(sess), "tether-validator-%" PRIu64, c->job->job_id);
	int rc = aws_assume_role(c, &base, c->t[AT_ROLE_ARN], sess, NULL, &c->principal,
				 "principal", r);
	if (rc == 1) {
		aws_sts_fail(c, r, "AssumeRole of tether's connection role", "principal");
		/* tether's own identity is the operator's to fix, not the user's. */
		char m[sizeof(r->e.message)], d[sizeof(r->e.detail)];
		snprintf(m, sizeof(m), "%s", r->e.message);
		snprintf(d, sizeof(d), "%s", r->e.detail);
		err_set(&r->e, "XX000", "internal error: %s", m);
		if (d[0])
			err_detail(&r->e, "%s", d);
		err_hint(&r->e, "Check the deployment's AWS credentials and aws.connection_role_arn "
			 "(%s).", c->t[AT_ROLE_ARN]);
	}
	if (rc != 0)
		return -1;

	const char *ext = c->v[AWS_EXTERNAL_ID];
	if (!ext || !ext[0]) {
		aws_config(r, "XX000", "internal error: validator: the job carries no external ID "
			   "for the AWS connection", NULL);
		return -1;
	}
	/* The catalog sends the default (<instance id>-u<id>) when none was
	 * written; a bare job falls back to one of the same shape. */
	if (c->v[AWS_SESSION_NAME] && c->v[AWS_SESSION_NAME][0])
		snprintf(c->role_session, sizeof(c->role_session), "%.64s", c->v[AWS_SESSION_NAME]);
	else
		snprintf(c->role_session, sizeof(c->role_session), "tether-u%" PRIu64,
			 c->job->connection_id);
	rc = aws_assume_role(c, &c->principal, c->v[AWS_ROLE_ARN], c->role_session, ext, &c->role,
			     "target_auth", r);
	if (rc == 1) {
		char what[600];
		snprintf(what, sizeof(what), "AssumeRole of %s with the connection's external ID",
			 c->v[AWS_ROLE_ARN]);
		aws_sts_fail(c, r, what, "target_auth");
		err_hint(&r->e, "The trust policy of %s must allow %s to call sts:AssumeRole with the "
			 "condition sts:ExternalId = \"%s\" (see example_trust_policy in "
			 "mz_internal.mz_aws_connections).", c->v[AWS_ROLE_ARN], c->t[AT_ROLE_ARN],
			 ext);
	}
	return rc == 0 ? 0 : -1;
}

/* The role must refuse the principal when the external ID is missing. */
static int aws_check_external_id_required(struct aws_ctx *c, struct val_result *r)
{
	struct aws_keys leaked = { 0 };
	int rc = aws_assume_role(c, &c->principal, c->v[AWS_ROLE_ARN], c->role_session, NULL,
				 &leaked, "target_auth", r);
	if (rc < 0)
		return -1;
	if (rc == 0) {
		aws_keys_free(&leaked);
		val_fail(r, VAL_PERMISSION, c->tether.u.hostport,
			 "role trust policy does not require an external ID");
		err_detail(&r->e, "The trust policy for the connection's role (%s) is insecure and "
			   "allows any Materialize customer to assume the role.", c->v[AWS_ROLE_ARN]);
		/* The policy to use is in mz_internal.mz_aws_connections. */
		err_hint(&r->e, "See: https://materialize.com/s/aws-connection-role-trust-policy "
			 "- the role's trust policy must require sts:ExternalId \"%.64s\", as in "
			 "example_trust_policy of mz_internal.mz_aws_connections.",
			 c->v[AWS_EXTERNAL_ID] ? c->v[AWS_EXTERNAL_ID] : "");
		snprintf(r->stage, sizeof(r->stage), "target_auth");
		return -1;
	}
	/* An STS refusal is what we want; a server failure proves nothing. */
	if (c->h.status >= 500) {
		aws_sts_fail(c, r, "AssumeRole without the external ID", "target_auth");
		return -1;
	}
	return 0;
}

static void aws_ctx_free(struct aws_ctx *c)
{
	if (c->h_open)
		val_http_close(&c->h);
	c->h_open = false;
	aws_keys_free(&c->principal);
	aws_keys_free(&c->role);
	for (int o = 0; o < AWS_NOPTS; o++)
		val_value_free(c->v[o], c->len[o]);
	for (int o = 0; o < AT_N; o++)
		val_value_free(c->t[o], c->tlen[o]);
	memset(c, 0, sizeof(*c));
}

int conn_aws_validate(const struct val_services *svc, const struct val_job *job,
		      struct val_result *r)
{
	struct aws_ctx c = { .svc = svc, .job = job, .prefix = "" };
	char arn[2100];
	int rc = -1;

	snprintf(r->stage, sizeof(r->stage), "config");
	if (aws_load(&c, NULL, r) != 0)
		goto out;
	if (c.v[AWS_ROLE_ARN]) {
		if (aws_load_tether(&c, r) != 0 || aws_open_http(&c, r) != 0 ||
		    aws_assume_chain(&c, r) != 0)
			goto out;
		if (aws_caller_identity(&c, &c.role, arn, sizeof(arn), r) != 0 ||
		    aws_check_external_id_required(&c, r) != 0)
			goto out;
	} else {
		/* The connection's own keys: the only calls ENDPOINT receives. */
		struct aws_keys k = { .akid = c.v[AWS_AKID], .secret = c.v[AWS_SECRET],
				      .token = c.v[AWS_TOKEN], .tether = false };
		if (aws_open_http(&c, r) != 0 || aws_caller_identity(&c, &k, arn, sizeof(arn), r) != 0)
			goto out;
	}
	r->code = VAL_OK;
	snprintf(r->host, sizeof(r->host), "%.250s",
		 c.last ? c.last->u.hostport : c.conn.u.hostport);
	snprintf(r->stage, sizeof(r->stage), "done");
	rc = 0;
out:
	aws_ctx_free(&c);
	return rc;
}

int val_aws_credentials(const struct val_services *svc, const struct val_job *job,
			const char *prefix, const char *destination, struct val_aws_creds *out,
			struct val_result *r)
{
	struct aws_ctx c = { .svc = svc, .job = job, .prefix = prefix ? prefix : "" };
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (aws_load(&c, destination, r) != 0)
		goto out;
	snprintf(out->region, sizeof(out->region), "%s", c.region);
	out->region_given = c.v[AWS_REGION] != NULL;
	if (c.v[AWS_ROLE_ARN]) {
		if (aws_load_tether(&c, r) != 0 || aws_open_http(&c, r) != 0 ||
		    aws_assume_chain(&c, r) != 0)
			goto out;
		out->access_key_id = c.role.akid, out->akid_len = c.role.akid_len;
		out->secret_access_key = c.role.secret, out->secret_len = c.role.secret_len;
		out->session_token = c.role.token, out->token_len = c.role.token_len;
		memset(&c.role, 0, sizeof(c.role));
	} else {
		out->access_key_id = c.v[AWS_AKID], out->akid_len = c.len[AWS_AKID];
		out->secret_access_key = c.v[AWS_SECRET], out->secret_len = c.len[AWS_SECRET];
		out->session_token = c.v[AWS_TOKEN], out->token_len = c.len[AWS_TOKEN];
		c.v[AWS_AKID] = c.v[AWS_SECRET] = c.v[AWS_TOKEN] = NULL;
	}
	rc = 0;
out:
	aws_ctx_free(&c);
	return rc;
}

void val_aws_creds_free(struct val_aws_creds *k)
{
	val_value_free(k->access_key_id, k->akid_len);
	val_value_free(k->secret_access_key, k->secret_len);
	val_value_free(k->session_token, k->token_len);
	memset(k, 0, sizeof(*k));
}
