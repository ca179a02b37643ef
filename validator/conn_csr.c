/* CONFLUENT SCHEMA REGISTRY: `GET <URL>/subjects` (SQL.md 6) with HTTP
 * basic auth (USERNAME / PASSWORD), TLS with the connection's CA and client
 * certificate from memory, optionally through an SSH tunnel; 200 with a
 * JSON array of subject names is success, 401/403/404/5xx are mapped. */
#include "val.h"
#include "http.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

enum csr_opt { CSR_URL, CSR_USER, CSR_USERNAME, CSR_PASSWORD, CSR_CA, CSR_CERT, CSR_KEY,
	       CSR_NOPTS };
static const char *const csr_opt_names[CSR_NOPTS] = {
	[CSR_URL] = "URL", [CSR_USER] = "USER", [CSR_USERNAME] = "USERNAME",
	[CSR_PASSWORD] = "PASSWORD", [CSR_CA] = "SSL CERTIFICATE AUTHORITY",
	[CSR_CERT] = "SSL CERTIFICATE", [CSR_KEY] = "SSL KEY",
};

static const char *const csr_hints[VAL_CODE_COUNT] = {
	[VAL_DNS] = "Check the host name in the connection's URL.",
	[VAL_REFUSED] = "Check the host and port in URL, and that the registry accepts connections "
			"from tether.",
	[VAL_TIMEOUT] = "The registry did not answer in time: check URL and firewalls.",
	[VAL_TLS] = "Check SSL CERTIFICATE AUTHORITY (the registry's certificate must be issued for "
		    "the host in URL), and SSL CERTIFICATE / SSL KEY if the registry requires a "
		    "client certificate.",
	[VAL_AUTH] = "Check USERNAME and PASSWORD.",
	[VAL_PERMISSION] = "The credentials are valid but may not list subjects: grant the user "
			   "read access to the registry.",
	[VAL_PROTOCOL] = "Check that URL points to a Confluent Schema Registry (its root, without "
			 "a path).",
	[VAL_CONFIG] = "Check the connection's URL, SSL CERTIFICATE, SSL KEY and SSL CERTIFICATE "
		       "AUTHORITY values.",
};

struct csr_check {
	const struct val_services *svc;
	const struct val_job *job;
	char *v[CSR_NOPTS];
	size_t len[CSR_NOPTS];
	struct val_url url;
	struct val_http h;
	struct val_tunnel *tun;
	struct val_http_words w;
};

static int csr_config(struct val_result *r, const char *fmt, const char *arg)
{
	char m[300];
	snprintf(m, sizeof(m), fmt, arg ? arg : "");
	val_fail(r, VAL_CONFIG, NULL, "invalid connection configuration: %s", m);
	err_hint(&r->e, "%s", csr_hints[VAL_CONFIG]);
	snprintf(r->stage, sizeof(r->stage), "config");
	return -1;
}

static int csr_load(struct csr_check *c, struct val_result *r)
{
	char why[200];

	/* URL first: every secret is fetched with the registry as destination. */
	for (int o = 0; o < CSR_NOPTS; o++) {
		const struct val_option *opt = val_job_option(c->job, csr_opt_names[o]);
		if (!opt)
			continue;
		if (val_option_value(c->svc, c->job, opt, o == CSR_URL ? NULL : c->url.hostport,
				     &c->v[o], &c->len[o], r) != 0)
			return -1;
		if (o == CSR_URL) {
			if (val_url_parse(c->v[o], &c->url, why, sizeof(why)) != 0)
				return csr_config(r, "parsing schema registry url: %s", why);
			if (c->url.path[0])
				return csr_config(r, "URL must have an empty path", NULL);
			if (c->url.has_query || c->url.has_user)
				return csr_config(r, "URL must not carry a query or credentials%s",
						  " (use USERNAME and PASSWORD)");
		}
	}
	if (!c->v[CSR_URL])
		return csr_config(r, "must specify URL", NULL);
	if (c->v[CSR_USERNAME] && !c->v[CSR_USER]) {
		c->v[CSR_USER] = c->v[CSR_USERNAME];
		c->len[CSR_USER] = c->len[CSR_USERNAME];
		c->v[CSR_USERNAME] = NULL;
	}
	if (c->v[CSR_PASSWORD] && !c->v[CSR_USER])
		return csr_config(r, "PASSWORD requires USERNAME", NULL);
	if (!c->v[CSR_CERT] != !c->v[CSR_KEY])
		return csr_config(r, "reading from SSL-auth Confluent Schema Registry requires both "
				  "SSL KEY and SSL CERTIFICATE", NULL);
	c->w = (struct val_http_words){
		.type = "CONFLUENT SCHEMA REGISTRY", .service = "CONFLUENT SCHEMA REGISTRY server",
		.host = c->url.host, .hostport = c->url.hostport, .hints = csr_hints,
	};
	return 0;
}

/* The registry's own error text: {"error_code": 40101, "message": "..."}. */
static void csr_error_message(const struct val_http *h, char *out, size_t size)
{
	json_error_t je;
	json_t *j = json_loadb(h->body, h->len, JSON_REJECT_DUPLICATES, &je);
	const char *m = NULL;
	if (j && json_is_object(j))
		m = json_string_value(json_object_get(j, "message"));
	if (m)
		snprintf(out, size, "%.200s", m);
	else
		val_http_body_excerpt(h, out, size, 200);
	json_decref(j);
}

static int csr_interpret(struct csr_check *c, struct val_result *r)
{
	struct val_http *h = &c->h;
	char msg[256], detail[512];
	enum val_code code = val_http_status_code(h->status);

	if (code == VAL_OK) {
		json_error_t je;
		json_t *j = json_loadb(h->body, h->len, JSON_REJECT_DUPLICATES, &je);
		bool ok = j && json_is_array(j);
		for (size_t i = 0; ok && i < json_array_size(j); i++)
			ok = json_is_string(json_array_get(j, i));
		json_decref(j);
		if (ok)
			return 0;
		val_http_body_excerpt(h, msg, sizeof(msg), 120);
		snprintf(detail, sizeof(detail), "HTTP %ld; body: %s", h->status, msg);
		val_http_fail(h, r, VAL_PROTOCOL, &c->w, "target",
			      "GET /subjects did not return a JSON array of subject names", detail);
		return -1;
	}
	csr_error_message(h, msg, sizeof(msg));
	snprintf(detail, sizeof(detail), "GET /subjects: HTTP %ld: %s", h->status, msg);
	char reason[300];
	if (code == VAL_AUTH)
		snprintf(reason, sizeof(reason), "the registry rejected the credentials (HTTP 401)");
	else if (code == VAL_PERMISSION)
		snprintf(reason, sizeof(reason), "GET /subjects is forbidden (HTTP 403)");
	else if (h->status == 404)
		snprintf(reason, sizeof(reason), "GET /subjects was not found (HTTP 404)");
	else if (h->status >= 500)
		snprintf(reason, sizeof(reason), "the registry failed with HTTP %ld", h->status);
	else
		snprintf(reason, sizeof(reason), "GET /subjects answered HTTP %ld", h->status);
	val_http_fail(h, r, code, &c->w, code == VAL_AUTH ? "target_auth" : "target", reason,
		      detail);
	if (h->status >= 500)
		err_hint(&r->e, "The registry reported a server error: check its health and retry.");
	return -1;
}

static void csr_free(struct csr_check *c)
{
	val_http_close(&c->h);
	val_ssh_tunnel_close(c->tun);
	c->tun = NULL;
	for (int o = 0; o < CSR_NOPTS; o++)
		val_value_free(c->v[o], c->len[o]);
}

int conn_csr_validate(const struct val_services *svc, const struct val_job *job,
		      struct val_result *r)
{
	struct csr_check c = { .svc = svc, .job = job };
	char url[1400];
	int rc = -1;

	snprintf(r->stage, sizeof(r->stage), "config");
	if (csr_load(&c, r) != 0)
		goto out;
	struct val_http_tls tls = {
		.ca = c.v[CSR_CA], .ca_len = c.len[CSR_CA],
		.cert = c.v[CSR_CERT], .cert_len = c.len[CSR_CERT],
		.key = c.v[CSR_KEY], .key_len = c.len[CSR_KEY],
	};
	if (val_http_open(&c.h, &tls, job->connect_timeout_ms, r) != 0)
		goto out;
	static const enum csr_opt secret[] = { CSR_PASSWORD, CSR_KEY, CSR_USER };
	for (size_t i = 0; i < sizeof(secret) / sizeof(secret[0]); i++)
		val_http_scrub(&c.h, c.v[secret[i]], c.len[secret[i]]);
	if (job->tunnel) {
		uint16_t lport = 0;
		snprintf(c.h.prefix, sizeof(c.h.prefix), "through SSH bastion %s:%u: ",
			 job->tunnel->host, job->tunnel->port);
		if (val_ssh_tunnel_open(svc, job, job->tunnel, c.url.host, c.url.port, &c.tun,
					&lport, r) != 0)
			goto out;
		if (val_http_via(&c.h, c.url.host, c.url.port, lport, r) != 0)
			goto out;
	}
	snprintf(url, sizeof(url), "%s/subjects", c.url.origin);
	struct val_http_req q = {
		.method = "GET", .url = url,
		.accept = "application/vnd.schemaregistry.v1+json, application/json",
		.user = c.v[CSR_USER], .password = c.v[CSR_PASSWORD],
	};
	enum val_code code = val_http_do(&c.h, &q);
	if (code != VAL_OK) {
		val_http_fail_transport(&c.h, r, code, &c.w, "target");
		goto out;
	}
	if (csr_interpret(&c, r) != 0)
		goto out;
	r->code = VAL_OK;
	snprintf(r->host, sizeof(r->host), "%.250s", c.url.hostport);
	snprintf(r->stage, sizeof(r->stage), "done");
	rc = 0;
out:
	csr_free(&c);
	return rc;
}
