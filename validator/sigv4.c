/* SigV4 query-string presigning (sigv4.h): canonical request, string to
 * sign, signing key HMAC chain and signature with OpenSSL's HMAC-SHA256 /
 * SHA-256. Every intermediate that depends on the secret key is wiped. */
#include "sigv4.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

static int buf_put(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
	if (*len + n + 1 > *cap) {
		size_t nc = *cap ? *cap : 256;
		while (nc < *len + n + 1)
			nc *= 2;
		char *nb = malloc(nc);
		if (!nb)
			return -1;
		if (*buf) {
			memcpy(nb, *buf, *len);
			explicit_bzero(*buf, *cap);
			free(*buf);
		}
		*buf = nb;
		*cap = nc;
	}
	memcpy(*buf + *len, s, n);
	*len += n;
	(*buf)[*len] = '\0';
	return 0;
}

static int buf_str(char **buf, size_t *len, size_t *cap, const char *s)
{
	return buf_put(buf, len, cap, s, strlen(s));
}

static void buf_wipe(char *buf, size_t cap)
{
	if (buf) {
		explicit_bzero(buf, cap);
		free(buf);
	}
}

int sigv4_uri_encode(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.' || c == '~') {
			if (buf_put(buf, len, cap, (const char *)&c, 1) != 0)
				return -1;
		} else {
			char e[3] = { '%', hex[c >> 4], hex[c & 15] };
			if (buf_put(buf, len, cap, e, 3) != 0)
				return -1;
		}
	}
	return 0;
}

static void hexify(const unsigned char *d, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[d[i] >> 4];
		out[2 * i + 1] = hex[d[i] & 15];
	}
	out[2 * n] = '\0';
}

static int hmac(const unsigned char *key, size_t klen, const char *msg, size_t mlen,
		unsigned char out[32])
{
	unsigned int ol = 0;
	return HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, mlen, out, &ol) &&
	       ol == 32 ? 0 : -1;
}

/* One query parameter, encoded. */
struct qp {
	char *k, *v;
	size_t kl, vl, kc, vc;
};

static int qp_cmp(const void *a, const void *b)
{
	const struct qp *x = a, *y = b;
	int c = strcmp(x->k, y->k);
	return c ? c : strcmp(x->v, y->v);
}

static int qp_set(struct qp *q, const char *k, const char *v)
{
	memset(q, 0, sizeof(*q));
	if (sigv4_uri_encode(&q->k, &q->kl, &q->kc, k, strlen(k)) != 0 ||
	    buf_put(&q->k, &q->kl, &q->kc, "", 0) != 0 ||
	    sigv4_uri_encode(&q->v, &q->vl, &q->vc, v, strlen(v)) != 0 ||
	    buf_put(&q->v, &q->vl, &q->vc, "", 0) != 0)
		return -1;
	return 0;
}

static bool valid_date(const char *d)
{
	if (strlen(d) != 16 || d[8] != 'T' || d[15] != 'Z')
		return false;
	for (int i = 0; i < 15; i++)
		if (i != 8 && (d[i] < '0' || d[i] > '9'))
			return false;
	return true;
}

int sigv4_presign(const struct sigv4_presign *p, char **out, size_t *out_len, char sig_hex[65])
{
	char date[17], scope[256], cred[600], exp[16], hash[65], sig[65];
	char *q = NULL, *creq = NULL, *sts = NULL, *res = NULL;
	size_t ql = 0, qc = 0, cl = 0, cc = 0, sl = 0, sc = 0, rl = 0, rcap = 0;
	size_t n = 6 + p->nparams;
	struct qp *qs = NULL;
	unsigned char k1[32], k2[32], k3[32], k4[32], s[32], dg[32];
	size_t secret_len;
	unsigned char *kdate = NULL;
	int rc = -1;

	*out = NULL;
	*out_len = 0;
	if (!p->method || !p->host || !p->path || !p->service || !p->region ||
	    !p->access_key_id || !p->secret_access_key || p->path[0] != '/')
		return -1;
	if (p->amz_date) {
		if (!valid_date(p->amz_date))
			return -1;
		snprintf(date, sizeof(date), "%s", p->amz_date);
	} else {
		time_t now = time(NULL);
		struct tm tm;
		if (!gmtime_r(&now, &tm) || strftime(date, sizeof(date), "%Y%m%dT%H%M%SZ", &tm) != 16)
			return -1;
	}
	snprintf(scope, sizeof(scope), "%.8s/%s/%s/aws4_request", date, p->region, p->service);
	snprintf(cred, sizeof(cred), "%s/%s", p->access_key_id, scope);
	snprintf(exp, sizeof(exp), "%u", p->expires);

	qs = calloc(n, sizeof(*qs));
	if (!qs)
		return -1;
	size_t nq = 0;
	const char *fixed[][2] = {
		{ "X-Amz-Algorithm", "AWS4-HMAC-SHA256" }, { "X-Amz-Credential", cred },
		{ "X-Amz-Date", date }, { "X-Amz-Expires", exp },
		{ "X-Amz-SignedHeaders", "host" },
	};
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		if (qp_set(&qs[nq++], fixed[i][0], fixed[i][1]) != 0)
			goto out;
	if (p->session_token && qp_set(&qs[nq++], "X-Amz-Security-Token", p->session_token) != 0)
		goto out;
	for (size_t i = 0; i < p->nparams; i++)
		if (qp_set(&qs[nq++], p->params[2 * i], p->params[2 * i + 1]) != 0)
			goto out;
	qsort(qs, nq, sizeof(*qs), qp_cmp);
	for (size_t i = 0; i < nq; i++)
		if ((i && buf_str(&q, &ql, &qc, "&") != 0) || buf_str(&q, &ql, &qc, qs[i].k) != 0 ||
		    buf_str(&q, &ql, &qc, "=") != 0 || buf_str(&q, &ql, &qc, qs[i].v) != 0)
			goto out;

	/* Canonical request: method, URI, query, headers, signed headers,
	 * payload hash. The host is the only header. */
	if (buf_str(&creq, &cl, &cc, p->method) != 0 || buf_str(&creq, &cl, &cc, "\n") != 0 ||
	    buf_str(&creq, &cl, &cc, p->path) != 0 || buf_str(&creq, &cl, &cc, "\n") != 0 ||
	    buf_str(&creq, &cl, &cc, q) != 0 || buf_str(&creq, &cl, &cc, "\nhost:") != 0 ||
	    buf_str(&creq, &cl, &cc, p->host) != 0 || buf_str(&creq, &cl, &cc, "\n\nhost\n") != 0 ||
	    buf_str(&creq, &cl, &cc, p->payload_hash ? p->payload_hash : SIGV4_EMPTY_SHA256) != 0)
		goto out;
	SHA256((const unsigned char *)creq, cl, dg);
	hexify(dg, 32, hash);

	if (buf_str(&sts, &sl, &sc, "AWS4-HMAC-SHA256\n") != 0 ||
	    buf_str(&sts, &sl, &sc, date) != 0 || buf_str(&sts, &sl, &sc, "\n") != 0 ||
	    buf_str(&sts, &sl, &sc, scope) != 0 || buf_str(&sts, &sl, &sc, "\n") != 0 ||
	    buf_str(&sts, &sl, &sc, hash) != 0)
		goto out;

	/* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region),
	 * service), "aws4_request") */
	secret_len = strlen(p->secret_access_key);
	kdate = malloc(4 + secret_len);
	if (!kdate)
		goto out;
	memcpy(kdate, "AWS4", 4);
	memcpy(kdate + 4, p->secret_access_key, secret_len);
	if (hmac(kdate, 4 + secret_len, date, 8, k1) != 0 ||
	    hmac(k1, 32, p->region, strlen(p->region), k2) != 0 ||
	    hmac(k2, 32, p->service, strlen(p->service), k3) != 0 ||
	    hmac(k3, 32, "aws4_request", 12, k4) != 0 || hmac(k4, 32, sts, sl, s) != 0)
		goto out;
	hexify(s, 32, sig);

	if (buf_str(&res, &rl, &rcap, p->host) != 0 || buf_str(&res, &rl, &rcap, p->path) != 0 ||
	    buf_str(&res, &rl, &rcap, "?") != 0 || buf_str(&res, &rl, &rcap, q) != 0 ||
	    buf_str(&res, &rl, &rcap, "&X-Amz-Signature=") != 0 ||
	    buf_str(&res, &rl, &rcap, sig) != 0)
		goto out;
	if (sig_hex)
		memcpy(sig_hex, sig, 65);
	*out = res;
	*out_len = rl;
	res = NULL;
	rc = 0;
out:
	for (size_t i = 0; qs && i < n; i++) {
		buf_wipe(qs[i].k, qs[i].kc);
		buf_wipe(qs[i].v, qs[i].vc);
	}
	free(qs);
	buf_wipe(q, qc);
	buf_wipe(creq, cc);
	buf_wipe(sts, sc);
	buf_wipe(res, rcap);
	if (kdate) {
		explicit_bzero(kdate, 4 + secret_len);
		free(kdate);
	}
	explicit_bzero(k1, sizeof(k1));
	explicit_bzero(k2, sizeof(k2));
	explicit_bzero(k3, sizeof(k3));
	explicit_bzero(k4, sizeof(k4));
	return rc;
}

void sigv4_free(char *s, size_t len)
{
	if (s) {
		explicit_bzero(s, len);
		free(s);
	}
}

char *sigv4_base64url(const char *s, size_t n, size_t *out_len)
{
	size_t cap = 4 * ((n + 2) / 3) + 1;
	char *b = malloc(cap);
	if (!b)
		return NULL;
	int w = EVP_EncodeBlock((unsigned char *)b, (const unsigned char *)s, (int)n);
	if (w < 0) {
		free(b);
		return NULL;
	}
	size_t l = (size_t)w;
	while (l > 0 && b[l - 1] == '=')
		l--;
	b[l] = '\0';
	for (size_t i = 0; i < l; i++)
		b[i] = b[i] == '+' ? '-' : b[i] == '/' ? '_' : b[i];
	*out_len = l;
	return b;
}
