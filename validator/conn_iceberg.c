/* ICEBERG CATALOG (Iceberg REST catalog API, open-api spec rest-catalog-
 * open-api.yaml): REST gets an OAuth2 token by client credentials
 * (RFC 6749 4.4) from <URL>/v1/oauth/tokens, then GET <URL>/v1/config
 * (?warehouse=) and lists namespaces under the config's prefix (SQL.md 6);
 * S3TABLESREST makes the same calls SigV4-signed ("s3tables") with the
 * referenced AWS CONNECTION's credentials. Replies are JSON (jansson). */
#include "val.h"
#include "http.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#define ICE_DEFAULT_SCOPE "PRINCIPAL_ROLE:ALL"

enum ice_opt { ICE_URL, ICE_TYPE, ICE_WAREHOUSE, ICE_SCOPE, ICE_CREDENTIAL, ICE_NOPTS };
static const char *const ice_opt_names[ICE_NOPTS] = {
	[ICE_URL] = "URL", [ICE_TYPE] = "CATALOG TYPE", [ICE_WAREHOUSE] = "WAREHOUSE",
	[ICE_SCOPE] = "SCOPE", [ICE_CREDENTIAL] = "CREDENTIAL",
};

static const char *const ice_hints[VAL_CODE_COUNT] = {
	[VAL_DNS] = "Check the host name in the connection's URL.",
	[VAL_REFUSED] = "Check the host and port in URL, and that the catalog accepts connections "
			"from tether.",
	[VAL_TIMEOUT] = "The catalog did not answer in time: check URL and firewalls.",
	[VAL_TLS] = "The catalog's certificate is not trusted or not issued for the host in URL.",
	[VAL_AUTH] = "Check CREDENTIAL ('<client id>:<client secret>') and SCOPE.",
	[VAL_PERMISSION] = "The credentials are valid but the catalog refused the call: check the "
			   "principal's roles, SCOPE and WAREHOUSE.",
	[VAL_PROTOCOL] = "Check that URL points to an Iceberg REST catalog (the base before /v1) "
			 "and that WAREHOUSE exists.",
	[VAL_CONFIG] = "Check the connection's options.",
};

static const char *const ice_s3_hints[VAL_CODE_COUNT] = {
	[VAL_DNS] = "Check the host name in the connection's URL.",
	[VAL_REFUSED] = "Check URL, and that tether can reach S3 Tables.",
	[VAL_TIMEOUT] = "S3 Tables did not answer in time: check URL and firewalls.",
	[VAL_TLS] = "The endpoint's certificate is not trusted or not issued for the host in URL.",
	[VAL_AUTH] = "Check the AWS CONNECTION's credentials and REGION.",
	[VAL_PERMISSION] = "The AWS identity may not use this table bucket: grant it s3tables "
			   "permissions on WAREHOUSE.",
	[VAL_PROTOCOL] = "Check URL (the S3 Tables Iceberg endpoint) and WAREHOUSE (the table "
			 "bucket ARN).",
	[VAL_CONFIG] = "Check the connection's options.",
};

struct ice_check {
	const struct val_services *svc;
	const struct val_job *job;
	char *v[ICE_NOPTS];
	size_t len[ICE_NOPTS];
	bool s3;
	struct val_url url;
	char base[1400];         /* origin + path without a trailing '/' */
	struct val_http h;
	bool h_open;
	struct val_http_words w;
	char *token;             /* OAuth2 access token */
	size_t token_len;
	struct val_aws_creds aws;
	char sigv4[128];
	char prefix[512];        /* the config's "prefix" override, "" if none */
};

static int ice_config(struct ice_check *c, struct val_result *r, const char *fmt,
		      const char *arg)
{
	char m[400];
	snprintf(m, sizeof(m), fmt, arg ? arg : "");
	val_fail(r, VAL_CONFIG, c->url.hostport[0] ? c->url.hostport : NULL,
		 "invalid connection configuration: %s", m);
	err_hint(&r->e, "%s", ice_hints[VAL_CONFIG]);
	snprintf(r->stage, sizeof(r->stage), "config");
	return -1;
}

static int ice_load(struct ice_check *c, struct val_result *r)
{
	char why[200];

	for (int o = 0; o < ICE_NOPTS; o++) {
		const struct val_option *opt = val_job_option(c->job, ice_opt_names[o]);
		if (!opt)
			continue;
		if (val_option_value(c->svc, c->job, opt, o == ICE_URL ? NULL : c->url.hostport,
				     &c->v[o], &c->len[o], r) != 0)
			return -1;
		if (o == ICE_URL) {
			if (val_url_parse(c->v[o], &c->url, why, sizeof(why)) != 0)
				return ice_config(c, r, "parsing Iceberg catalog url: %s", why);
			if (c->url.has_query || c->url.has_user)
				return ice_config(c, r, "URL must not carry a query or credentials%s", "");
			size_t pl = strlen(c->url.path);
			while (pl > 0 && c->url.path[pl - 1] == '/')
				pl--;
			snprintf(c->base, sizeof(c->base), "%s%.*s", c->url.origin, (int)pl,
				 c->url.path);
		}
	}
	if (!c->v[ICE_URL])
		return ice_config(c, r, "must specify URL", NULL);
	if (!c->v[ICE_TYPE])
		return ice_config(c, r, "ICEBERG connections must specify CATALOG TYPE", NULL);
	if (strcasecmp(c->v[ICE_TYPE], "s3tablesrest") == 0)
		c->s3 = true;
	else if (strcasecmp(c->v[ICE_TYPE], "rest") != 0)
		return ice_config(c, r, "unknown catalog type \"%s\"", c->v[ICE_TYPE]);
	if (!c->s3 && !c->v[ICE_CREDENTIAL])
		return ice_config(c, r, "ICEBERG rest connections require a CREDENTIAL", NULL);
	if (c->s3 && (!c->v[ICE_WAREHOUSE] || !c->v[ICE_WAREHOUSE][0]))
		return ice_config(c, r, "ICEBERG s3tablesrest connections must specify WAREHOUSE",
				  NULL);
	c->w = (struct val_http_words){
		.type = "ICEBERG CATALOG", .service = "ICEBERG catalog",
		.host = c->url.host, .hostport = c->url.hostport,
		.hints = c->s3 ? ice_s3_hints : ice_hints,
	};
	return 0;
}

/* An Iceberg ErrorModel ({"error": {"message", "type", "code"}}) or an
 * OAuth2 error ({"error": "...", "error_description": "..."}) as text. */
static void ice_error_text(const struct val_http *h, char *out, size_t size, char *oauth_err,
			   size_t oe_size)
{
	json_error_t je;
	json_t *j = h->len ? json_loadb(h->body, h->len, JSON_REJECT_DUPLICATES, &je) : NULL;
	json_t *e = j && json_is_object(j) ? json_object_get(j, "error") : NULL;
	if (oauth_err)
		oauth_err[0] = '\0';
	if (e && json_is_object(e)) {
		const char *m = json_string_value(json_object_get(e, "message"));
		const char *t = json_string_value(json_object_get(e, "type"));
		snprintf(out, size, "%.100s%s%.200s", t ? t : "", t && m ? ": " : "", m ? m : "");
	} else if (j && json_is_object(j) && json_is_string(json_object_get(j, "__type"))) {
		/* AWS JSON protocol: {"__type": "...", "message": "..."} */
		const char *m = json_string_value(json_object_get(j, "message"));
		snprintf(out, size, "%.100s%s%.200s", json_string_value(json_object_get(j, "__type")),
			 m ? ": " : "", m ? m : "");
	} else if (e && json_is_string(e)) {
		const char *d = json_string_value(json_object_get(j, "error_description"));
		snprintf(out, size, "%.60s%s%.200s", json_string_value(e), d ? ": " : "", d ? d : "");
		if (oauth_err)
			snprintf(oauth_err, oe_size, "%s", json_string_value(e));
	} else {
		val_http_body_excerpt(h, out, size, 200);
	}
	for (char *p = out; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f)
			*p = ' ';
	json_decref(j);
}

/* AWS JSON-protocol errors that mean the signature or the credentials
 * are bad ({"__type": "[ns#]InvalidSignatureException", ...}). */
static bool ice_aws_auth_error(const struct val_http *h)
{
	static const char *const types[] = {
		"InvalidSignatureException", "UnrecognizedClientException",
		"SignatureDoesNotMatch", "InvalidClientTokenId", "ExpiredTokenException",
		"IncompleteSignature", "MissingAuthenticationTokenException",
	};
	json_error_t je;
	json_t *j = h->len ? json_loadb(h->body, h->len, JSON_REJECT_DUPLICATES, &je) : NULL;
	const char *t = j && json_is_object(j) ? json_string_value(json_object_get(j, "__type"))
					       : NULL;
	bool hit = false;
	if (t) {
		const char *hash = strrchr(t, '#');
		t = hash ? hash + 1 : t;
		for (size_t i = 0; i < sizeof(types) / sizeof(types[0]) && !hit; i++)
			hit = strcmp(t, types[i]) == 0;
	}
	json_decref(j);
	return hit;
}

/* A non-2xx (or unusable 2xx) reply to `what`. */
static void ice_fail_status(struct ice_check *c, struct val_result *r, const char *what,
			    enum val_code code, const char *stage)
{
	char text[320], reason[600], detail[900];
	ice_error_text(&c->h, text, sizeof(text), NULL, 0);
	if (code == VAL_OK)
		code = val_http_status_code(c->h.status);
	if (c->s3 && c->h.status >= 400 && c->h.status < 500 && ice_aws_auth_error(&c->h))
		code = VAL_AUTH;
	if (c->h.status >= 200 && c->h.status < 300)
		snprintf(reason, sizeof(reason), "%s did not return the expected JSON", what);
	else if (c->h.status >= 500)
		snprintf(reason, sizeof(reason), "%s failed with HTTP %ld", what, c->h.status);
	else
		snprintf(reason, sizeof(reason), "%s answered HTTP %ld%s%s", what, c->h.status,
			 text[0] ? ": " : "", text);
	snprintf(detail, sizeof(detail), "HTTP %ld; body: %s", c->h.status, text);
	val_http_fail(&c->h, r, code, &c->w, stage, reason, detail);
}

static int ice_request(struct ice_check *c, struct val_http_req *q, const char *stage,
		       struct val_result *r)
{
	if (c->s3) {
		q->sigv4 = c->sigv4;
		q->user = c->aws.access_key_id;
		q->password = c->aws.secret_access_key;
		q->amz_security_token = c->aws.session_token;
	} else if (c->token) {
		q->bearer = c->token;
	}
	q->accept = "application/json";
	enum val_code code = val_http_do(&c->h, q);
	if (code != VAL_OK) {
		val_http_fail_transport(&c->h, r, code, &c->w, stage);
		return -1;
	}
	return 0;
}

static json_t *ice_json(const struct val_http *h)
{
	json_error_t je;
	return h->len ? json_loadb(h->body, h->len, JSON_REJECT_DUPLICATES, &je) : NULL;
}

/* OAuth2 client credentials: CREDENTIAL is "client_id:client_secret" (as
 * Iceberg's OAuth2Util splits it; without ':' it is the secret alone). */
static int ice_token(struct ice_check *c, struct val_result *r)
{
	const char *cred = c->v[ICE_CREDENTIAL];
	const char *colon = strchr(cred, ':');
	const char *id = colon ? cred : NULL, *secret = colon ? colon + 1 : cred;
	size_t id_len = colon ? (size_t)(colon - cred) : 0;
	const char *scope = c->v[ICE_SCOPE] && c->v[ICE_SCOPE][0] ? c->v[ICE_SCOPE]
								: ICE_DEFAULT_SCOPE;
	char *body = NULL, url[1500];
	size_t len = 0, cap = 0;
	int rc = -1;

	val_http_scrub(&c->h, secret, strlen(secret));
#define ADD(s, n, enc) (val_http_form_append(&body, &len, &cap, (s), (n), (enc)) == 0)
	bool ok = ADD("grant_type=client_credentials", 29, false);
	if (id)
		ok = ok && ADD("&client_id=", 11, false) && ADD(id, id_len, true);
	ok = ok && ADD("&client_secret=", 15, false) && ADD(secret, strlen(secret), true) &&
	     ADD("&scope=", 7, false) && ADD(scope, strlen(scope), true);
#undef ADD
	if (!ok) {
		val_fail(r, VAL_CONFIG, NULL, "internal error: validator: out of memory");
		err_set(&r->e, "XX000", "internal error: validator: out of memory");
		goto out;
	}
	snprintf(url, sizeof(url), "%s/v1/oauth/tokens", c->base);
	struct val_http_req q = {
		.method = "POST", .url = url, .body = body, .body_len = len,
		.content_type = "application/x-www-form-urlencoded",
	};
	if (ice_request(c, &q, "target_auth", r) != 0)
		goto out;
	if (c->h.status != 200) {
		char text[320], oe[64];
		ice_error_text(&c->h, text, sizeof(text), oe, sizeof(oe));
		/* RFC 6749 5.2: invalid_client is 401; the others come as 400. */
		enum val_code code = val_http_status_code(c->h.status);
		if (!strcmp(oe, "invalid_client") || !strcmp(oe, "invalid_grant") ||
		    !strcmp(oe, "unauthorized_client"))
			code = VAL_AUTH;
		else if (!strcmp(oe, "invalid_scope"))
			code = VAL_PERMISSION;
		ice_fail_status(c, r, "the OAuth2 token request", code, "target_auth");
		goto out;
	}
	json_t *j = ice_json(&c->h);
	const char *tok = j && json_is_object(j)
		? json_string_value(json_object_get(j, "access_token")) : NULL;
	const char *type = j && json_is_object(j)
		? json_string_value(json_object_get(j, "token_type")) : NULL;
	size_t tl = tok ? strlen(tok) : 0;
	/* A bearer token is a header value: printable ASCII, bounded. */
	bool good = tl > 0 && tl <= 16384 && (!type || !strcasecmp(type, "bearer") ||
					      !strcasecmp(type, "N_A"));
	for (size_t i = 0; good && i < tl; i++)
		good = tok[i] > 0x20 && tok[i] < 0x7f;
	if (good && (c->token = malloc(tl + 1)) != NULL) {
		memcpy(c->token, tok, tl + 1);
		c->token_len = tl;
		val_http_scrub(&c->h, c->token, tl);
	}
	json_decref(j);
	if (!c->token) {
		ice_fail_status(c, r, "the OAuth2 token request", VAL_PROTOCOL, "target_auth");
		if (good)
			err_set(&r->e, "XX000", "internal error: validator: out of memory");
		goto out;
	}
	rc = 0;
out:
	val_http_buf_free(body, cap);
	return rc;
}

/* GET /v1/config[?warehouse=]: defaults and overrides; keeps "prefix". */
static int ice_config_call(struct ice_check *c, struct val_result *r)
{
	char *url = NULL;
	size_t len = 0, cap = 0;
	int rc = -1;
	bool ok = val_http_form_append(&url, &len, &cap, c->base, strlen(c->base), false) == 0 &&
		  val_http_form_append(&url, &len, &cap, "/v1/config", 10, false) == 0;
	if (ok && c->v[ICE_WAREHOUSE] && c->v[ICE_WAREHOUSE][0])
		ok = val_http_form_append(&url, &len, &cap, "?warehouse=", 11, false) == 0 &&
		     val_http_form_append(&url, &len, &cap, c->v[ICE_WAREHOUSE],
					  strlen(c->v[ICE_WAREHOUSE]), true) == 0;
	if (!ok) {
		val_fail(r, VAL_CONFIG, NULL, "internal error: validator: out of memory");
		err_set(&r->e, "XX000", "internal error: validator: out of memory");
		goto out;
	}
	struct val_http_req q = { .method = "GET", .url = url };
	if (ice_request(c, &q, "target", r) != 0)
		goto out;
	if (c->h.status != 200) {
		ice_fail_status(c, r, "GET /v1/config", VAL_OK,
				c->h.status == 401 ? "target_auth" : "target");
		goto out;
	}
	json_t *j = ice_json(&c->h);
	json_t *ov = j && json_is_object(j) ? json_object_get(j, "overrides") : NULL;
	json_t *df = j && json_is_object(j) ? json_object_get(j, "defaults") : NULL;
	bool good = j && json_is_object(j) && (!ov || json_is_object(ov)) &&
		    (!df || json_is_object(df));
	const char *p = ov ? json_string_value(json_object_get(ov, "prefix")) : NULL;
	if (good && p) {
		/* The prefix becomes a path segment (spec: /v1/{prefix}/...):
		 * only characters that need no escaping, no dot segments. */
		size_t pl = strlen(p);
		good = pl > 0 && pl < sizeof(c->prefix) && strstr(p, "..") == NULL && p[0] != '/';
		for (size_t i = 0; good && i < pl; i++)
			good = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
				      "-._~%!$&'()*+,;=:@/", p[i]) != NULL;
		if (good)
			snprintf(c->prefix, sizeof(c->prefix), "%s", p);
	}
	json_decref(j);
	if (!good) {
		ice_fail_status(c, r, "GET /v1/config", VAL_PROTOCOL, "target");
		goto out;
	}
	rc = 0;
out:
	val_http_buf_free(url, cap);
	return rc;
}

/* GET /v1/{prefix}/namespaces: {"namespaces": [[...], ...]}. */
static int ice_namespaces(struct ice_check *c, struct val_result *r)
{
	char url[2000];
	snprintf(url, sizeof(url), "%s/v1/%s%snamespaces", c->base, c->prefix,
		 c->prefix[0] ? "/" : "");
	struct val_http_req q = { .method = "GET", .url = url };
	if (ice_request(c, &q, "target", r) != 0)
		return -1;
	if (c->h.status != 200) {
		ice_fail_status(c, r, "listing namespaces", VAL_OK,
				c->h.status == 401 ? "target_auth" : "target");
		return -1;
	}
	json_t *j = ice_json(&c->h);
	json_t *ns = j && json_is_object(j) ? json_object_get(j, "namespaces") : NULL;
	bool good = ns && json_is_array(ns);
	json_decref(j);
	if (!good) {
		ice_fail_status(c, r, "listing namespaces", VAL_PROTOCOL, "target");
		return -1;
	}
	return 0;
}

/* The region of an ARN arn:<partition>:s3tables:<region>:<account>:..., or "". */
static void ice_arn_region(const char *arn, char *out, size_t size)
{
	out[0] = '\0';
	if (!arn || strncmp(arn, "arn:", 4) != 0)
		return;
	const char *p = strchr(arn + 4, ':');            /* after partition */
	p = p ? strchr(p + 1, ':') : NULL;               /* after service */
	const char *e = p ? strchr(p + 1, ':') : NULL;   /* end of region */
	if (p && e && (size_t)(e - p - 1) < size)
		snprintf(out, size, "%.*s", (int)(e - p - 1), p + 1);
}

static void ice_free(struct ice_check *c)
{
	if (c->h_open)
		val_http_close(&c->h);
	val_value_free(c->token, c->token_len);
	val_aws_creds_free(&c->aws);
	for (int o = 0; o < ICE_NOPTS; o++)
		val_value_free(c->v[o], c->len[o]);
}

int conn_iceberg_validate(const struct val_services *svc, const struct val_job *job,
			  struct val_result *r)
{
	struct ice_check c = { .svc = svc, .job = job };
	int rc = -1;

	snprintf(r->stage, sizeof(r->stage), "config");
	if (ice_load(&c, r) != 0)
		goto out;
	if (c.s3) {
		char region[64];
		snprintf(r->stage, sizeof(r->stage), "aws");
		if (val_aws_credentials(svc, job, VAL_AWS_REF_PREFIX, c.url.hostport, &c.aws, r) != 0)
			goto out;
		ice_arn_region(c.v[ICE_WAREHOUSE], region, sizeof(region));
		snprintf(c.sigv4, sizeof(c.sigv4), "aws:amz:%s:s3tables",
			 c.aws.region_given || !region[0] ? c.aws.region : region);
	}
	if (val_http_open(&c.h, NULL, job->connect_timeout_ms, r) != 0)
		goto out;
	c.h_open = true;
	val_http_scrub(&c.h, c.v[ICE_CREDENTIAL], c.len[ICE_CREDENTIAL]);
	val_http_scrub(&c.h, c.aws.secret_access_key, c.aws.secret_len);
	val_http_scrub(&c.h, c.aws.session_token, c.aws.token_len);
	if (!c.s3 && ice_token(&c, r) != 0)
		goto out;
	if (ice_config_call(&c, r) != 0 || ice_namespaces(&c, r) != 0)
		goto out;
	r->code = VAL_OK;
	snprintf(r->host, sizeof(r->host), "%.250s", c.url.hostport);
	snprintf(r->stage, sizeof(r->stage), "done");
	rc = 0;
out:
	ice_free(&c);
	return rc;
}
