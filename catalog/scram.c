/* SCRAM-SHA-256 for PostgreSQL clients: verifiers (PBKDF2 at CREATE/ALTER
 * ROLE only; logins need HMACs only, so a login never stalls the catalog's
 * loop) and the server's two steps, with PostgreSQL's checks
 * (src/backend/libpq/auth-scram.c) and its mock exchange for roles that
 * cannot log in with a password. Comparisons are constant-time. */
#include "scram.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

/* ---- base64 ---- */

static const char b64_chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int cat_b64_encode(const uint8_t *in, size_t len, char *out, size_t size)
{
	size_t need = (len + 2) / 3 * 4, o = 0;

	if (need + 1 > size || need > INT_MAX)
		return -1;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;

		if (i + 1 < len)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		out[o++] = b64_chars[(v >> 18) & 63];
		out[o++] = b64_chars[(v >> 12) & 63];
		out[o++] = i + 1 < len ? b64_chars[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < len ? b64_chars[v & 63] : '=';
	}
	out[o] = '\0';
	return (int)o;
}

static int b64_value(char ch)
{
	const char *p = ch ? strchr(b64_chars, ch) : NULL;
	return p ? (int)(p - b64_chars) : -1;
}

int cat_b64_decode(const char *in, size_t len, uint8_t *out, size_t size)
{
	size_t o = 0, pad = 0;

	if (len % 4 != 0 || len > INT_MAX)
		return -1;
	if (len && in[len - 1] == '=')
		pad++;
	if (pad && len > 1 && in[len - 2] == '=')
		pad++;
	if (len / 4 * 3 - pad > size)
		return -1;
	for (size_t i = 0; i < len; i += 4) {
		uint32_t v = 0;

		for (size_t j = 0; j < 4; j++) {
			int d;

			if (i + j >= len - pad) {
				v <<= 6;
				continue;
			}
			d = b64_value(in[i + j]);
			if (d < 0)
				return -1;
			v = v << 6 | (uint32_t)d;
		}
		out[o++] = (uint8_t)(v >> 16);
		if (i + 4 < len || pad < 2)
			out[o++] = (uint8_t)(v >> 8);
		if (i + 4 < len || pad < 1)
			out[o++] = (uint8_t)v;
		/* Non-canonical padding bits would give two spellings. */
		if (i + 4 == len && ((pad == 1 && (v & 0xff)) || (pad == 2 && (v & 0xffff))))
			return -1;
	}
	return (int)o;
}

/* ---- keys ---- */

static int hmac(const uint8_t key[CAT_SCRAM_KEY_LEN], const void *msg, size_t len,
		uint8_t out[CAT_SCRAM_KEY_LEN])
{
	unsigned int n = CAT_SCRAM_KEY_LEN;

	return HMAC(EVP_sha256(), key, CAT_SCRAM_KEY_LEN, msg, len, out, &n) && n ==
	       CAT_SCRAM_KEY_LEN ? 0 : -1;
}

static int sha256(const uint8_t *in, size_t len, uint8_t out[CAT_SCRAM_KEY_LEN])
{
	return SHA256(in, len, out) ? 0 : -1;
}

/* SaltedPassword, ClientKey, StoredKey, ServerKey (RFC 5802 3). */
static int derive(const char *password, size_t len, const uint8_t *salt, size_t salt_len,
		  unsigned iterations, uint8_t stored[CAT_SCRAM_KEY_LEN],
		  uint8_t server[CAT_SCRAM_KEY_LEN], uint8_t client_key[CAT_SCRAM_KEY_LEN])
{
	uint8_t salted[CAT_SCRAM_KEY_LEN], ck[CAT_SCRAM_KEY_LEN];
	int rc = -1;

	if (len > INT_MAX || iterations == 0 || iterations > INT_MAX)
		return -1;
	if (PKCS5_PBKDF2_HMAC(password, (int)len, salt, (int)salt_len, (int)iterations,
			      EVP_sha256(), CAT_SCRAM_KEY_LEN, salted) != 1)
		goto out;
	if (hmac(salted, "Client Key", 10, ck) < 0 || sha256(ck, sizeof(ck), stored) < 0 ||
	    hmac(salted, "Server Key", 10, server) < 0)
		goto out;
	if (client_key)
		memcpy(client_key, ck, sizeof(ck));
	rc = 0;
out:
	OPENSSL_cleanse(salted, sizeof(salted));
	OPENSSL_cleanse(ck, sizeof(ck));
	return rc;
}

int cat_scram_verifier_make(const char *password, size_t len, unsigned iterations,
			    const uint8_t *salt, size_t salt_len, char *out, size_t size,
			    struct err *e)
{
	uint8_t rnd[CAT_SCRAM_SALT_LEN], stored[CAT_SCRAM_KEY_LEN], server[CAT_SCRAM_KEY_LEN];
	char s64[CAT_SCRAM_SALT_MAX * 2], k1[64], k2[64];
	int rc = -1;

	if (!salt) {
		if (RAND_bytes(rnd, sizeof(rnd)) != 1)
			return err_set(e, "XX000", "internal error: cannot generate a salt");
		salt = rnd;
		salt_len = sizeof(rnd);
	}
	if (salt_len == 0 || salt_len > CAT_SCRAM_SALT_MAX)
		return err_set(e, "XX000", "internal error: bad salt length");
	if (memchr(password, '\0', len))
		return err_set(e, "22023", "a password cannot contain a NUL byte");
	if (derive(password, len, salt, salt_len, iterations, stored, server, NULL) < 0) {
		err_set(e, "XX000", "internal error: cannot derive the SCRAM keys");
		goto out;
	}
	if (cat_b64_encode(salt, salt_len, s64, sizeof(s64)) < 0 ||
	    cat_b64_encode(stored, sizeof(stored), k1, sizeof(k1)) < 0 ||
	    cat_b64_encode(server, sizeof(server), k2, sizeof(k2)) < 0 ||
	    snprintf(out, size, "SCRAM-SHA-256$%u:%s$%s:%s", iterations, s64, k1, k2) >=
	    (int)size) {
		err_set(e, "XX000", "internal error: SCRAM verifier too long");
		goto out;
	}
	rc = 0;
out:
	OPENSSL_cleanse(stored, sizeof(stored));
	OPENSSL_cleanse(server, sizeof(server));
	return rc;
}

/* Decodes text[0..len) as base64 into exactly `want` bytes (0: any up to
 * size); returns the count or -1. */
static int b64_field(const char *text, size_t len, uint8_t *out, size_t size, size_t want)
{
	int n = cat_b64_decode(text, len, out, size);

	if (n <= 0 || (want && (size_t)n != want))
		return -1;
	return n;
}

int cat_scram_verifier_parse(const char *text, struct cat_scram_verifier *v)
{
	struct cat_scram_verifier tmp;
	const char *p, *colon, *dollar, *colon2;
	unsigned long it;
	char *end;
	int n;

	if (!v)
		v = &tmp;
	memset(v, 0, sizeof(*v));
	if (!text || strncmp(text, "SCRAM-SHA-256$", 14) != 0)
		return -1;
	p = text + 14;
	if (*p < '1' || *p > '9')
		return -1;
	it = strtoul(p, &end, 10);
	if (*end != ':' || it > INT_MAX)
		return -1;
	v->iterations = (unsigned)it;
	colon = end;
	dollar = strchr(colon + 1, '$');
	if (!dollar)
		return -1;
	n = b64_field(colon + 1, (size_t)(dollar - colon - 1), v->salt, sizeof(v->salt), 0);
	if (n < 0)
		return -1;
	v->salt_len = (size_t)n;
	colon2 = strchr(dollar + 1, ':');
	if (!colon2 ||
	    b64_field(dollar + 1, (size_t)(colon2 - dollar - 1), v->stored_key,
		      sizeof(v->stored_key), CAT_SCRAM_KEY_LEN) < 0 ||
	    b64_field(colon2 + 1, strlen(colon2 + 1), v->server_key, sizeof(v->server_key),
		      CAT_SCRAM_KEY_LEN) < 0) {
		OPENSSL_cleanse(v, sizeof(*v));
		return -1;
	}
	if (v == &tmp)
		OPENSSL_cleanse(&tmp, sizeof(tmp));
	return 0;
}

/* ---- the exchange ---- */

void cat_scram_begin(struct cat_scram *s, const char *verifier, const char *user,
		     const uint8_t mock_key[32], const uint8_t *cbind, size_t cbind_len)
{
	memset(s, 0, sizeof(*s));
	if (cbind && cbind_len && cbind_len <= sizeof(s->cbind)) {
		memcpy(s->cbind, cbind, cbind_len);
		s->cbind_len = cbind_len;
	}
	if (verifier && cat_scram_verifier_parse(verifier, &s->v) == 0)
		return;
	/* PostgreSQL's mock: a salt that is stable per user name (so probing
	 * twice tells nothing) and keys nobody knows. */
	uint8_t h[CAT_SCRAM_KEY_LEN];
	unsigned int hl = sizeof(h);

	s->doomed = 1;
	s->v.iterations = CAT_SCRAM_ITERATIONS;
	s->v.salt_len = CAT_SCRAM_SALT_LEN;
	if (!HMAC(EVP_sha256(), mock_key, 32, (const uint8_t *)user, strlen(user), h, &hl))
		memset(h, 0, sizeof(h));
	memcpy(s->v.salt, h, CAT_SCRAM_SALT_LEN);
	if (RAND_bytes(s->v.stored_key, sizeof(s->v.stored_key)) != 1)
		memset(s->v.stored_key, 0xa5, sizeof(s->v.stored_key));
	OPENSSL_cleanse(h, sizeof(h));
}

void cat_scram_set_nonce(struct cat_scram *s, const char *nonce)
{
	snprintf(s->server_nonce, sizeof(s->server_nonce), "%s", nonce);
}

size_t cat_scram_mechanisms(const struct cat_scram *s, const char *names[2])
{
	size_t n = 0;

	if (s->cbind_len)
		names[n++] = CAT_SCRAM_MECH_PLUS;
	names[n++] = CAT_SCRAM_MECH;
	return n;
}

static enum cat_scram_step malformed(struct err *e, const char *detail)
{
	err_set(e, "08P01", "malformed SCRAM message");
	err_detail(e, "%s", detail);
	return CAT_SCRAM_ERROR;
}

/* RFC 5802 7: printable ASCII except ','. */
static int nonce_char(char ch)
{
	return ch >= 0x21 && ch <= 0x7e && ch != ',';
}

/* The value of attribute `name` at *pp ("x=value" up to ',' or the end);
 * *pp moves past it and its comma. NULL if the attribute is not there. */
static const char *attr(const char **pp, const char *end, char name, size_t *vlen)
{
	const char *p = *pp, *v, *c;

	if (end - p < 2 || p[0] != name || p[1] != '=')
		return NULL;
	v = p + 2;
	c = memchr(v, ',', (size_t)(end - v));
	*vlen = (size_t)((c ? c : end) - v);
	*pp = c ? c + 1 : end;
	return v;
}

static enum cat_scram_step first(struct cat_scram *s, const char *mech, const char *msg,
				 size_t len, char *out, size_t size, size_t *out_len,
				 struct err *e)
{
	const char *p = msg, *end = msg + len, *bare, *nonce;
	int plus = mech && !strcmp(mech, CAT_SCRAM_MECH_PLUS);
	char salt64[CAT_SCRAM_SALT_MAX * 2];
	size_t vlen, nlen;

	if (!mech || (!plus && strcmp(mech, CAT_SCRAM_MECH) != 0) || (plus && !s->cbind_len)) {
		err_set(e, "08P01", "client selected an invalid SASL authentication mechanism");
		return CAT_SCRAM_ERROR;
	}
	/* gs2-header: cbind flag, then an (unsupported) authzid. */
	if (len >= 2 && (p[0] == 'n' || p[0] == 'y') && p[1] == ',') {
		s->cbind_flag = p[0];
		p += 2;
	} else if (len >= 24 && !strncmp(p, "p=tls-server-end-point,", 23)) {
		s->cbind_flag = 'p';
		p += 23;
	} else if (len >= 2 && p[0] == 'p' && p[1] == '=') {
		err_set(e, "08P01", "unsupported SCRAM channel-binding type");
		return CAT_SCRAM_ERROR;
	} else {
		return malformed(e, "Unexpected channel-binding flag.");
	}
	if (s->cbind_flag == 'p' && !plus) {
		err_set(e, "08P01", "malformed SCRAM message");
		err_detail(e, "The client selected SCRAM-SHA-256 without channel binding, but the SCRAM message includes channel binding data.");
		return CAT_SCRAM_ERROR;
	}
	if (s->cbind_flag != 'p' && plus) {
		err_set(e, "08P01", "malformed SCRAM message");
		err_detail(e, "The client selected SCRAM-SHA-256-PLUS, but the SCRAM message does not include channel binding data.");
		return CAT_SCRAM_ERROR;
	}
	/* 'y': the client could bind but thinks we cannot: a downgrade. */
	if (s->cbind_flag == 'y' && s->cbind_len) {
		err_set(e, "08P01", "SCRAM channel binding negotiation error");
		err_detail(e, "The client supports SCRAM channel binding but thinks the server does not.  However, this server does support channel binding.");
		return CAT_SCRAM_ERROR;
	}
	if (p < end && p[0] == 'a') {
		err_set(e, "0A000", "client uses authorization identity, but it is not supported");
		return CAT_SCRAM_ERROR;
	}
	if (p >= end || p[0] != ',')
		return malformed(e, "Unexpected attribute in client-first-message.");
	p++;
	if ((size_t)(p - msg) >= sizeof(s->gs2_header))
		return malformed(e, "GS2 header too long.");
	memcpy(s->gs2_header, msg, (size_t)(p - msg));
	s->gs2_header[p - msg] = '\0';
	bare = p;
	if (p < end && p[0] == 'm')
		return malformed(e, "Mandatory extensions are not supported.");
	/* n=<name>: PostgreSQL uses the startup packet's user and ignores it. */
	if (!attr(&p, end, 'n', &vlen))
		return malformed(e, "Expected attribute \"n\".");
	nonce = attr(&p, end, 'r', &nlen);
	if (!nonce || nlen == 0)
		return malformed(e, "Expected attribute \"r\".");
	for (size_t i = 0; i < nlen; i++)
		if (!nonce_char(nonce[i]))
			return malformed(e, "Invalid characters in the client nonce.");
	/* Optional extensions (none supported, ignored): "x=value" each. */
	while (p < end) {
		char a = p[0];

		if (!((a >= 'a' && a <= 'z') || (a >= 'A' && a <= 'Z')) || !attr(&p, end, a, &vlen))
			return malformed(e, "Attribute expected in client-first-message.");
	}
	if ((size_t)(end - bare) >= sizeof(s->client_first_bare))
		return malformed(e, "Message too long.");
	memcpy(s->client_first_bare, bare, (size_t)(end - bare));
	s->client_first_bare[end - bare] = '\0';
	if (!s->server_nonce[0]) {
		uint8_t raw[18];        /* PostgreSQL's SCRAM_RAW_NONCE_LEN */

		if (RAND_bytes(raw, sizeof(raw)) != 1) {
			err_set(e, "XX000", "internal error: could not generate random nonce");
			return CAT_SCRAM_ERROR;
		}
		cat_b64_encode(raw, sizeof(raw), s->server_nonce, sizeof(s->server_nonce));
	}
	if (snprintf(s->nonce, sizeof(s->nonce), "%.*s%s", (int)nlen, nonce, s->server_nonce) >=
	    (int)sizeof(s->nonce) ||
	    cat_b64_encode(s->v.salt, s->v.salt_len, salt64, sizeof(salt64)) < 0 ||
	    snprintf(s->server_first, sizeof(s->server_first), "r=%s,s=%s,i=%u", s->nonce,
		     salt64, s->v.iterations) >= (int)sizeof(s->server_first))
		return malformed(e, "Message too long.");
	if (strlen(s->server_first) + 1 > size)
		return malformed(e, "Message too long.");
	*out_len = strlen(s->server_first);
	memcpy(out, s->server_first, *out_len + 1);
	s->phase = 1;
	return CAT_SCRAM_NEXT;
}

/* c=: base64 of the gs2 header, plus the certificate hash with 'p'. */
static int cbind_ok(const struct cat_scram *s, const char *c64, size_t len)
{
	uint8_t want[sizeof(s->gs2_header) + CAT_SCRAM_CBIND_MAX];
	uint8_t got[sizeof(want)];
	size_t wl = strlen(s->gs2_header);
	int n;

	memcpy(want, s->gs2_header, wl);
	if (s->cbind_flag == 'p') {
		memcpy(want + wl, s->cbind, s->cbind_len);
		wl += s->cbind_len;
	}
	n = cat_b64_decode(c64, len, got, sizeof(got));
	return n >= 0 && (size_t)n == wl && CRYPTO_memcmp(want, got, wl) == 0;
}

static enum cat_scram_step final(struct cat_scram *s, const char *msg, size_t len,
				 char *out, size_t size, size_t *out_len, struct err *e)
{
	const char *p = msg, *end = msg + len, *c64, *nonce, *proof64, *before_proof;
	uint8_t proof[CAT_SCRAM_KEY_LEN], sig[CAT_SCRAM_KEY_LEN], key[CAT_SCRAM_KEY_LEN];
	uint8_t stored[CAT_SCRAM_KEY_LEN], ssig[CAT_SCRAM_KEY_LEN];
	char auth[sizeof(s->client_first_bare) + sizeof(s->server_first) + CAT_SCRAM_MSG_MAX + 4];
	char v64[64];
	size_t clen, nlen, plen;
	int ok, n;

	c64 = attr(&p, end, 'c', &clen);
	if (!c64)
		return malformed(e, "Expected attribute \"c\".");
	if (!cbind_ok(s, c64, clen)) {
		/* PostgreSQL: 28000 for a binding that does not match. */
		err_set(e, s->cbind_flag == 'p' ? "28000" : "08P01",
			s->cbind_flag == 'p' ? "SCRAM channel binding check failed"
					     : "malformed SCRAM message");
		if (s->cbind_flag != 'p')
			err_detail(e, "Unexpected SCRAM channel-binding attribute in client-final-message.");
		return CAT_SCRAM_ERROR;
	}
	nonce = attr(&p, end, 'r', &nlen);
	if (!nonce || nlen != strlen(s->nonce) || CRYPTO_memcmp(nonce, s->nonce, nlen) != 0)
		return malformed(e, "Nonce does not match.");
	/* Extensions until p=, which must come last. */
	for (;;) {
		before_proof = p;
		if (end - p >= 2 && p[0] == 'p' && p[1] == '=')
			break;
		if (end - p < 2 || p[1] != '=' || !attr(&p, end, p[0], &plen))
			return malformed(e, "Expected attribute \"p\".");
	}
	proof64 = attr(&p, end, 'p', &plen);
	if (!proof64 || p != end || memchr(proof64, ',', plen))
		return malformed(e, "Garbage found at the end of client-final-message.");
	n = cat_b64_decode(proof64, plen, proof, sizeof(proof));
	if (n != CAT_SCRAM_KEY_LEN)
		return malformed(e, "Malformed proof in client-final-message.");
	/* AuthMessage = client-first-bare "," server-first "," final-without-proof */
	n = snprintf(auth, sizeof(auth), "%s,%s,%.*s", s->client_first_bare, s->server_first,
		     (int)(before_proof - msg - 1), msg);
	if (n < 0 || (size_t)n >= sizeof(auth))
		return malformed(e, "Message too long.");
	ok = hmac(s->v.stored_key, auth, (size_t)n, sig) == 0;
	for (size_t i = 0; i < CAT_SCRAM_KEY_LEN; i++)
		key[i] = proof[i] ^ sig[i];
	ok = ok && sha256(key, sizeof(key), stored) == 0 &&
	     CRYPTO_memcmp(stored, s->v.stored_key, CAT_SCRAM_KEY_LEN) == 0 && !s->doomed;
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(proof, sizeof(proof));
	s->phase = 2;
	if (!ok)
		return CAT_SCRAM_FAILED;
	if (hmac(s->v.server_key, auth, (size_t)n, ssig) < 0 ||
	    cat_b64_encode(ssig, sizeof(ssig), v64, sizeof(v64)) < 0 ||
	    snprintf(out, size, "v=%s", v64) >= (int)size)
		return CAT_SCRAM_FAILED;
	*out_len = strlen(out);
	return CAT_SCRAM_SUCCESS;
}

enum cat_scram_step cat_scram_step(struct cat_scram *s, const char *mech, const uint8_t *in,
				   size_t len, char *out, size_t size, size_t *out_len,
				   struct err *e)
{
	const char *msg = (const char *)in;

	*out_len = 0;
	if (len > CAT_SCRAM_MSG_MAX || memchr(in, '\0', len))
		return malformed(e, "Message too long or holds a NUL byte.");
	if (s->phase == 0)
		return first(s, mech, msg, len, out, size, out_len, e);
	if (s->phase == 1)
		return final(s, msg, len, out, size, out_len, e);
	err_set(e, "08P01", "unexpected SASL response");
	return CAT_SCRAM_ERROR;
}

void cat_scram_end(struct cat_scram *s)
{
	OPENSSL_cleanse(s, sizeof(*s));
}

int cat_scram_client_final(const char *password, const char *client_first_bare,
			   const char *server_first, const char *final_without_proof,
			   char *out, size_t size, uint8_t server_signature[32])
{
	uint8_t salt[CAT_SCRAM_SALT_MAX], stored[32], server[32], ck[32], sig[32];
	char auth[3 * CAT_SCRAM_MSG_MAX], p64[64];
	const char *s, *i;
	int n, rc = -1;

	s = strstr(server_first, ",s=");
	i = strstr(server_first, ",i=");
	if (!s || !i || i < s)
		return -1;
	n = cat_b64_decode(s + 3, (size_t)(i - s - 3), salt, sizeof(salt));
	if (n <= 0 ||
	    derive(password, strlen(password), salt, (size_t)n, (unsigned)atoi(i + 3), stored,
		   server, ck) < 0)
		return -1;
	n = snprintf(auth, sizeof(auth), "%s,%s,%s", client_first_bare, server_first,
		     final_without_proof);
	if (n < 0 || (size_t)n >= sizeof(auth) || hmac(stored, auth, (size_t)n, sig) < 0)
		goto out;
	for (int k = 0; k < 32; k++)
		sig[k] ^= ck[k];
	if (cat_b64_encode(sig, 32, p64, sizeof(p64)) < 0 ||
	    snprintf(out, size, "%s,p=%s", final_without_proof, p64) >= (int)size ||
	    hmac(server, auth, (size_t)n, server_signature) < 0)
		goto out;
	rc = 0;
out:
	OPENSSL_cleanse(ck, sizeof(ck));
	OPENSSL_cleanse(server, sizeof(server));
	return rc;
}
