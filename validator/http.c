/* The validator's HTTP client on libcurl (see http.h): handle setup that
 * takes nothing from the environment, bounded replies held in wiped
 * buffers, SQL.md 6 messages for transport and status failures. */
#include "http.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>
#include <libxml/parser.h>
#include <malloc.h>

static pthread_once_t http_once = PTHREAD_ONCE_INIT;
static CURLcode http_init_rc;

/* jansson and libxml2 copy what they parse (OAuth tokens, STS temporary
 * credentials): their allocations are wiped when freed. */
static void *wipe_malloc(size_t n)
{
	return malloc(n);
}

static void wipe_free(void *p)
{
	if (p) {
		explicit_bzero(p, malloc_usable_size(p));
		free(p);
	}
}

static void *wipe_realloc(void *p, size_t n)
{
	if (!p)
		return malloc(n);
	if (n == 0) {
		wipe_free(p);
		return NULL;
	}
	size_t old = malloc_usable_size(p);
	void *q = malloc(n);
	if (!q)
		return NULL;
	memcpy(q, p, old < n ? old : n);
	wipe_free(p);
	return q;
}

static char *wipe_strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = malloc(n);
	if (d)
		memcpy(d, s, n);
	return d;
}

static void http_global_init(void)
{
	json_set_alloc_funcs(wipe_malloc, wipe_free);
	xmlMemSetup(wipe_free, wipe_malloc, wipe_realloc, wipe_strdup);
	xmlInitParser();
	/* SSL init only: no signal handling, no environment. */
	http_init_rc = curl_global_init(CURL_GLOBAL_SSL);
}

static void oom(struct val_result *r)
{
	val_fail(r, VAL_CONFIG, NULL, "internal error: validator: out of memory");
	err_set(&r->e, "XX000", "internal error: validator: out of memory");
}

/* ---- buffers that may hold secrets ---- */

static int buf_reserve(char **buf, size_t *len, size_t *cap, size_t more)
{
	if (*len + more + 1 <= *cap)
		return 0;
	size_t ncap = *cap ? *cap : 4096;
	while (ncap < *len + more + 1)
		ncap *= 2;
	char *nb = malloc(ncap);
	if (!nb)
		return -1;
	if (*buf) {
		memcpy(nb, *buf, *len);
		explicit_bzero(*buf, *cap);
		free(*buf);
	}
	*buf = nb;
	*cap = ncap;
	return 0;
}

void val_http_buf_free(char *buf, size_t cap)
{
	if (buf) {
		explicit_bzero(buf, cap);
		free(buf);
	}
}

int val_http_form_append(char **buf, size_t *len, size_t *cap, const char *s, size_t n,
			 bool encode)
{
	static const char hex[] = "0123456789ABCDEF";
	if (buf_reserve(buf, len, cap, encode ? 3 * n : n) != 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!encode || isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
			(*buf)[(*len)++] = (char)c;
		} else {
			(*buf)[(*len)++] = '%';
			(*buf)[(*len)++] = hex[c >> 4];
			(*buf)[(*len)++] = hex[c & 15];
		}
	}
	(*buf)[*len] = '\0';
	return 0;
}

/* ---- the handle ---- */

static size_t http_write(char *data, size_t size, size_t nmemb, void *arg)
{
	struct val_http *h = arg;
	size_t n = size * nmemb;
	if (h->len + n > VAL_HTTP_MAX_BODY) {
		h->too_big = true;
		return 0;        /* CURLE_WRITE_ERROR */
	}
	if (buf_reserve(&h->body, &h->len, &h->cap, n) != 0)
		return 0;
	memcpy(h->body + h->len, data, n);
	h->len += n;
	h->body[h->len] = '\0';
	return n;
}

static void http_reset_response(struct val_http *h)
{
	if (h->body)
		explicit_bzero(h->body, h->cap);
	h->len = 0;
	if (h->body)
		h->body[0] = '\0';
	h->status = 0;
	h->content_type[0] = '\0';
	h->too_big = false;
	h->errbuf[0] = '\0';
	h->curl_code = 0;
}

int val_http_open(struct val_http *h, const struct val_http_tls *tls, int timeout_ms,
		  struct val_result *r)
{
	memset(h, 0, sizeof(*h));
	h->timeout_ms = timeout_ms > 0 ? timeout_ms : 10000;
	pthread_once(&http_once, http_global_init);
	if (http_init_rc != CURLE_OK) {
		val_fail(r, VAL_CONFIG, NULL, "internal error: validator: libcurl: %s",
			 curl_easy_strerror(http_init_rc));
		err_set(&r->e, "XX000", "internal error: validator: libcurl: %s",
			curl_easy_strerror(http_init_rc));
		return -1;
	}
	CURL *c = curl_easy_init();
	if (!c) {
		oom(r);
		return -1;
	}
	h->curl = c;
	CURLcode rc = CURLE_OK;
#define SET(opt, val) do { if (rc == CURLE_OK) rc = curl_easy_setopt(c, opt, val); } while (0)
	SET(CURLOPT_ERRORBUFFER, h->errbuf);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	/* Nothing from the environment or the home directory: no proxy
	 * (an empty string overrides http_proxy & co), no .netrc. */
	SET(CURLOPT_PROXY, "");
	SET(CURLOPT_NOPROXY, "*");
	SET(CURLOPT_NETRC, (long)CURL_NETRC_IGNORED);
	SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	SET(CURLOPT_CONNECTTIMEOUT_MS, (long)h->timeout_ms);
	SET(CURLOPT_TIMEOUT_MS, 2L * h->timeout_ms);
	SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)VAL_HTTP_MAX_BODY);
	SET(CURLOPT_WRITEFUNCTION, http_write);
	SET(CURLOPT_WRITEDATA, h);
	SET(CURLOPT_USERAGENT, "tether-validator");
	SET(CURLOPT_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_SSL_VERIFYHOST, 2L);
	SET(CURLOPT_ACCEPT_ENCODING, NULL);   /* identity: the cap is on real bytes */
	if (tls && tls->ca) {
		/* Only the given CA: no file, no directory besides the blob. */
		struct curl_blob b = { .data = (void *)tls->ca, .len = tls->ca_len,
				       .flags = CURL_BLOB_NOCOPY };
		SET(CURLOPT_CAINFO, NULL);
		SET(CURLOPT_CAPATH, NULL);
		SET(CURLOPT_CAINFO_BLOB, &b);
	}
	if (tls && tls->cert) {
		struct curl_blob b = { .data = (void *)tls->cert, .len = tls->cert_len,
				       .flags = CURL_BLOB_NOCOPY };
		SET(CURLOPT_SSLCERT_BLOB, &b);
		SET(CURLOPT_SSLCERTTYPE, "PEM");
	}
	if (tls && tls->key) {
		struct curl_blob b = { .data = (void *)tls->key, .len = tls->key_len,
				       .flags = CURL_BLOB_NOCOPY };
		SET(CURLOPT_SSLKEY_BLOB, &b);
		SET(CURLOPT_SSLKEYTYPE, "PEM");
	}
#undef SET
	if (rc != CURLE_OK) {
		val_fail(r, VAL_CONFIG, NULL, "internal error: validator: libcurl: %s",
			 curl_easy_strerror(rc));
		err_set(&r->e, "XX000", "internal error: validator: libcurl: %s",
			curl_easy_strerror(rc));
		val_http_close(h);
		return -1;
	}
	return 0;
}

int val_http_via(struct val_http *h, const char *host, uint16_t port, uint16_t local_port,
		 struct val_result *r)
{
	char line[400];
	bool v6 = strchr(host, ':') != NULL;
	snprintf(line, sizeof(line), "%s%s%s:%u:127.0.0.1:%u", v6 ? "[" : "", host, v6 ? "]" : "",
		 port, local_port);
	struct curl_slist *l = curl_slist_append(NULL, line);
	if (!l) {
		oom(r);
		return -1;
	}
	curl_slist_free_all(h->connect_to);
	h->connect_to = l;
	curl_easy_setopt(h->curl, CURLOPT_CONNECT_TO, l);
	return 0;
}

void val_http_scrub(struct val_http *h, const char *value, size_t len)
{
	if (value && len >= VAL_SCRUB_MIN && h->nscrub < VAL_HTTP_MAX_SCRUB) {
		h->scrub[h->nscrub].p = value;
		h->scrub[h->nscrub].len = len;
		h->nscrub++;
	}
}

void val_http_close(struct val_http *h)
{
	if (h->curl)
		curl_easy_cleanup(h->curl);
	h->curl = NULL;
	curl_slist_free_all(h->connect_to);
	h->connect_to = NULL;
	val_http_buf_free(h->body, h->cap);
	h->body = NULL;
	h->len = h->cap = 0;
	h->nscrub = 0;
}

/* ---- requests ---- */

/* Transport failures (CURLcode) by code; first match wins, default protocol. */
static const struct {
	CURLcode rc;
	enum val_code code;
} http_codes[] = {
	{ CURLE_COULDNT_RESOLVE_HOST, VAL_DNS },
	{ CURLE_COULDNT_RESOLVE_PROXY, VAL_DNS },
	{ CURLE_COULDNT_CONNECT, VAL_REFUSED },
	{ CURLE_OPERATION_TIMEDOUT, VAL_TIMEOUT },
	{ CURLE_SSL_CONNECT_ERROR, VAL_TLS },
	{ CURLE_PEER_FAILED_VERIFICATION, VAL_TLS },
	{ CURLE_SSL_CIPHER, VAL_TLS },
	{ CURLE_SSL_ISSUER_ERROR, VAL_TLS },
	{ CURLE_SSL_PINNEDPUBKEYNOTMATCH, VAL_TLS },
	{ CURLE_SSL_INVALIDCERTSTATUS, VAL_TLS },
	{ CURLE_SSL_CLIENTCERT, VAL_TLS },
	{ CURLE_SSL_SHUTDOWN_FAILED, VAL_TLS },
	{ CURLE_USE_SSL_FAILED, VAL_TLS },
	{ CURLE_SSL_CERTPROBLEM, VAL_CONFIG },      /* our client certificate or key */
	{ CURLE_SSL_CACERT_BADFILE, VAL_CONFIG },   /* our CA does not parse */
	{ CURLE_SSL_CRL_BADFILE, VAL_CONFIG },
	{ CURLE_SSL_ENGINE_NOTFOUND, VAL_CONFIG },
	{ CURLE_SSL_ENGINE_SETFAILED, VAL_CONFIG },
	{ CURLE_SSL_ENGINE_INITFAILED, VAL_CONFIG },
	{ CURLE_URL_MALFORMAT, VAL_CONFIG },
	/* (CURLE_UNSUPPORTED_PROTOCOL: URLs are checked before; curl also
	 * says it of a reply that is not HTTP, "HTTP/0.9": protocol.) */
};

enum val_code val_http_do(struct val_http *h, const struct val_http_req *q)
{
	CURL *c = h->curl;
	struct curl_slist *hdrs = NULL;
	bool hdr_oom = false;

	http_reset_response(h);
	h->os_errno = 0;
	/* Every request states all of its options: the handle is reused (one
	 * connection, kept alive) and must not carry the last one's auth. */
	curl_easy_setopt(c, CURLOPT_URL, q->url);
	curl_easy_setopt(c, CURLOPT_USERNAME, NULL);
	curl_easy_setopt(c, CURLOPT_PASSWORD, NULL);
	curl_easy_setopt(c, CURLOPT_XOAUTH2_BEARER, NULL);
	curl_easy_setopt(c, CURLOPT_AWS_SIGV4, NULL);
	curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_NONE);
	if (q->body) {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->body_len);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, q->body);
	} else {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	}
	if (q->sigv4) {
		curl_easy_setopt(c, CURLOPT_AWS_SIGV4, q->sigv4);
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_AWS_SIGV4);
		curl_easy_setopt(c, CURLOPT_USERNAME, q->user);
		curl_easy_setopt(c, CURLOPT_PASSWORD, q->password);
	} else if (q->bearer) {
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER);
		curl_easy_setopt(c, CURLOPT_XOAUTH2_BEARER, q->bearer);
	} else if (q->user) {
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(c, CURLOPT_USERNAME, q->user);
		curl_easy_setopt(c, CURLOPT_PASSWORD, q->password ? q->password : "");
	}
	/* No "Expect:" override: curl 7.88 would sign the emptied header that
	 * it then does not send (SigV4 mismatch). Bodies here are far below
	 * curl's 1 MiB threshold for 100-continue anyway. */
	char ct[160], acc[160];
	if (q->content_type) {
		snprintf(ct, sizeof(ct), "Content-Type: %s", q->content_type);
		struct curl_slist *n = curl_slist_append(hdrs, ct);
		hdr_oom |= !n;
		hdrs = n ? n : hdrs;
	}
	if (q->accept) {
		snprintf(acc, sizeof(acc), "Accept: %s", q->accept);
		struct curl_slist *n = curl_slist_append(hdrs, acc);
		hdr_oom |= !n;
		hdrs = n ? n : hdrs;
	}
	char *tok_line = NULL;
	size_t tok_cap = 0, tok_len = 0;
	if (q->amz_security_token) {
		static const char name[] = "X-Amz-Security-Token: ";
		if (val_http_form_append(&tok_line, &tok_len, &tok_cap, name, sizeof(name) - 1,
					 false) != 0 ||
		    val_http_form_append(&tok_line, &tok_len, &tok_cap, q->amz_security_token,
					 strlen(q->amz_security_token), false) != 0) {
			hdr_oom = true;
		} else {
			struct curl_slist *n = curl_slist_append(hdrs, tok_line);
			hdr_oom |= !n;
			hdrs = n ? n : hdrs;
		}
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	CURLcode rc = hdr_oom ? CURLE_OUT_OF_MEMORY : curl_easy_perform(c);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	/* The header list held the session token: wipe its copies. */
	for (struct curl_slist *s = hdrs; s; s = s->next)
		explicit_bzero(s->data, strlen(s->data));
	curl_slist_free_all(hdrs);
	val_http_buf_free(tok_line, tok_cap);

	h->curl_code = (int)rc;
	if (rc == CURLE_OK) {
		char *ctype = NULL;
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &h->status);
		if (curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ctype) == CURLE_OK && ctype)
			snprintf(h->content_type, sizeof(h->content_type), "%s", ctype);
		if (!h->body && buf_reserve(&h->body, &h->len, &h->cap, 0) == 0)
			h->body[0] = '\0';
		if (!h->body) {
			snprintf(h->errbuf, sizeof(h->errbuf), "out of memory");
			return VAL_PROTOCOL;
		}
		return VAL_OK;
	}
	if (!h->errbuf[0])
		snprintf(h->errbuf, sizeof(h->errbuf), "%s", curl_easy_strerror(rc));
	long os_errno = 0;
	if (curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &os_errno) == CURLE_OK && os_errno > 0)
		h->os_errno = (int)os_errno;
	if (h->too_big || rc == CURLE_FILESIZE_EXCEEDED) {
		snprintf(h->errbuf, sizeof(h->errbuf), "the reply is larger than %d bytes",
			 VAL_HTTP_MAX_BODY);
		return VAL_PROTOCOL;
	}
	for (size_t i = 0; i < sizeof(http_codes) / sizeof(http_codes[0]); i++)
		if (http_codes[i].rc == rc)
			return http_codes[i].code;
	/* TLS 1.3: the client's handshake completes before the server has
	 * checked the client certificate; a server that refuses it sends an
	 * alert and drops the connection, which curl may only notice as a
	 * vanished peer ("getpeername() failed ... not connected") or a
	 * reset right after the handshake, before any HTTP. */
	int reset_after_tls = (rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR) &&
			      strstr(h->errbuf, "reset by peer");
	if ((strncmp(h->errbuf, "getpeername() failed", 20) == 0 || reset_after_tls) &&
	    strncmp(q->url, "https:", 6) == 0) {
		snprintf(h->errbuf, sizeof(h->errbuf), "the server closed the connection right after "
			 "the TLS handshake (does it require a client certificate?)");
		return VAL_TLS;
	}
	/* A TLS alert after the handshake (TLS 1.3 sends "certificate
	 * required" then) surfaces as a receive error naming SSL. */
	if ((rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR) &&
	    (strstr(h->errbuf, "SSL") || strstr(h->errbuf, "alert")))
		return VAL_TLS;
	return VAL_PROTOCOL;
}

enum val_code val_http_status_code(long status)
{
	if (status >= 200 && status < 300)
		return VAL_OK;
	if (status == 401)
		return VAL_AUTH;
	if (status == 403)
		return VAL_PERMISSION;
	return VAL_PROTOCOL;
}

/* ---- messages ---- */

static void http_scrub_all(const struct val_http *h, char *s, size_t size)
{
	for (size_t i = 0; i < h->nscrub; i++)
		val_scrub(s, size, h->scrub[i].p, h->scrub[i].len);
}

void val_http_body_excerpt(const struct val_http *h, char *out, size_t size, size_t max)
{
	size_t n = h->body ? h->len : 0, o = 0;
	if (n > max)
		n = max;
	for (size_t i = 0; i < n && o + 1 < size; i++) {
		unsigned char c = (unsigned char)h->body[i];
		out[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : (c == '\n' || c == '\t') ? ' ' : '?';
	}
	out[o] = '\0';
	if (h->body && h->len > max && o + 4 < size)
		snprintf(out + o, size - o, "...");
}

void val_http_fail(struct val_http *h, struct val_result *r, enum val_code code,
		   const struct val_http_words *w, const char *stage, const char *reason,
		   const char *detail)
{
	char rs[384];
	snprintf(rs, sizeof(rs), "%s", reason && reason[0] ? reason : "failed");
	http_scrub_all(h, rs, sizeof(rs));
	switch (code) {
	case VAL_DNS:
		val_fail(r, code, w->hostport, "%sfailed to resolve %s: %s", h->prefix, w->host, rs);
		break;
	case VAL_REFUSED:
	case VAL_TIMEOUT:
		val_fail(r, code, w->hostport, "%sfailed to connect to %s: %s", h->prefix,
			 w->hostport, rs);
		break;
	case VAL_TLS:
		val_fail(r, code, w->hostport, "%sTLS handshake with %s failed: %s", h->prefix,
			 w->host, rs);
		break;
	case VAL_AUTH:
		val_fail(r, code, w->hostport, "%sauthentication to %s server %s failed: %s",
			 h->prefix, w->type, w->host, rs);
		break;
	case VAL_PERMISSION:
		val_fail(r, code, w->hostport, "%s%s %s denied access: %s", h->prefix, w->service,
			 w->host, rs);
		break;
	case VAL_CONFIG:
		val_fail(r, code, w->hostport, "invalid connection configuration: %s", rs);
		break;
	default:
		val_fail(r, VAL_PROTOCOL, w->hostport, "%sunexpected response from %s: %s",
			 h->prefix, w->hostport, rs);
		break;
	}
	snprintf(r->stage, sizeof(r->stage), "%s", stage ? stage : "target");
	if (detail && detail[0]) {
		char d[sizeof(r->e.detail)];
		snprintf(d, sizeof(d), "%s", detail);
		http_scrub_all(h, d, sizeof(d));
		err_detail(&r->e, "%s", d);
	}
	if (w->hints && w->hints[r->code])
		err_hint(&r->e, "%s", w->hints[r->code]);
}

void val_http_fail_transport(struct val_http *h, struct val_result *r, enum val_code code,
			     const struct val_http_words *w, const char *stage)
{
	char reason[256];
	const char *e = h->errbuf;
	const char *tail = NULL;

	switch (code) {
	case VAL_DNS:
		snprintf(reason, sizeof(reason), "could not resolve host name");
		break;
	case VAL_TIMEOUT:
		snprintf(reason, sizeof(reason), "timed out (no answer within %d ms)",
			 (strstr(e, "Connection timed out") ? 1 : 2) * h->timeout_ms);
		break;
	case VAL_REFUSED:
		if (h->os_errno > 0) {
			snprintf(reason, sizeof(reason), "%s", strerror(h->os_errno));
			break;
		}
		/* fall through */
	default:
		/* curl's last clause ("...: Connection refused"). */
		for (const char *p = e; (p = strstr(p, ": ")) != NULL; p += 2)
			tail = p + 2;
		snprintf(reason, sizeof(reason), "%s", tail && *tail ? tail : e);
		break;
	}
	const char *st = stage;
	if (code == VAL_TLS)
		st = "target_tls";
	val_http_fail(h, r, code, w, st, reason, e);
}

/* ---- URLs ---- */

int val_url_parse(const char *url, struct val_url *u, char *why, size_t why_size)
{
	CURLU *cu = curl_url();
	char *part = NULL;
	int rc = -1;

	memset(u, 0, sizeof(*u));
	if (!cu) {
		snprintf(why, why_size, "out of memory");
		return -1;
	}
	CURLUcode uc = curl_url_set(cu, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME);
	if (uc != CURLUE_OK) {
		snprintf(why, why_size, "%s", curl_url_strerror(uc));
		goto out;
	}
	if (curl_url_get(cu, CURLUPART_SCHEME, &part, 0) != CURLUE_OK || !part ||
	    (strcmp(part, "http") != 0 && strcmp(part, "https") != 0)) {
		snprintf(why, why_size, "the scheme must be http or https");
		goto out;
	}
	snprintf(u->scheme, sizeof(u->scheme), "%s", part);
	curl_free(part);
	part = NULL;
	if (curl_url_get(cu, CURLUPART_HOST, &part, 0) != CURLUE_OK || !part || !part[0]) {
		snprintf(why, why_size, "URL must specify domain name");
		goto out;
	}
	size_t hl = strlen(part);
	if (hl >= sizeof(u->host)) {
		snprintf(why, why_size, "the host name is too long");
		goto out;
	}
	bool v6 = part[0] == '[';
	if (v6)
		snprintf(u->host, sizeof(u->host), "%.*s", (int)(hl - 2), part + 1);
	else
		snprintf(u->host, sizeof(u->host), "%s", part);
	curl_free(part);
	part = NULL;
	if (curl_url_get(cu, CURLUPART_PORT, &part, CURLU_DEFAULT_PORT) != CURLUE_OK || !part) {
		snprintf(why, why_size, "no port");
		goto out;
	}
	u->port = (uint16_t)atoi(part);
	curl_free(part);
	part = NULL;
	if (curl_url_get(cu, CURLUPART_PATH, &part, 0) == CURLUE_OK && part) {
		if (strlen(part) >= sizeof(u->path)) {
			snprintf(why, why_size, "the path is too long");
			goto out;
		}
		snprintf(u->path, sizeof(u->path), "%s", strcmp(part, "/") == 0 ? "" : part);
		curl_free(part);
		part = NULL;
	}
	if (curl_url_get(cu, CURLUPART_QUERY, &part, 0) == CURLUE_OK && part) {
		u->has_query = true;
		curl_free(part);
		part = NULL;
	}
	if (curl_url_get(cu, CURLUPART_FRAGMENT, &part, 0) == CURLUE_OK && part) {
		u->has_query = true;
		curl_free(part);
		part = NULL;
	}
	if (curl_url_get(cu, CURLUPART_USER, &part, 0) == CURLUE_OK && part) {
		u->has_user = true;
		curl_free(part);
		part = NULL;
	}
	snprintf(u->hostport, sizeof(u->hostport), "%s%s%s:%u", v6 ? "[" : "", u->host,
		 v6 ? "]" : "", u->port);
	snprintf(u->origin, sizeof(u->origin), "%s://%s", u->scheme, u->hostport);
	rc = 0;
out:
	curl_free(part);
	curl_url_cleanup(cu);
	return rc;
}
