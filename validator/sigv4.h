/* AWS Signature Version 4, query-string presigning (AWS General Reference,
 * "Create a signed AWS API request", query parameters form): what RDS IAM
 * auth tokens and Amazon MSK IAM SASL tokens are made of. OpenSSL only; no
 * network. */
#ifndef TETHER_SIGV4_H
#define TETHER_SIGV4_H

#include <stddef.h>

#define SIGV4_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

struct sigv4_presign {
	const char *method;           /* "GET" */
	const char *host;             /* the Host header: "h", "h:port" */
	const char *path;             /* canonical (already URI-encoded) path: "/" */
	const char *const *params;    /* extra query parameters, raw (unencoded): */
	size_t nparams;               /* key, value, key, value, ... (nparams pairs) */
	const char *service, *region;
	const char *access_key_id, *secret_access_key;
	const char *session_token;    /* NULL: none (X-Amz-Security-Token omitted) */
	const char *amz_date;         /* "YYYYMMDDTHHMMSSZ"; NULL: now (UTC) */
	unsigned expires;             /* X-Amz-Expires, seconds */
	const char *payload_hash;     /* NULL: SIGV4_EMPTY_SHA256; S3: "UNSIGNED-PAYLOAD" */
};

/* Presigns: *out (malloc'd, NUL-terminated, wipe and free with sigv4_free)
 * is "<host><path>?<canonical query>&X-Amz-Signature=<hex>"; the
 * signature alone goes to sig_hex when not NULL. Returns 0, or -1 (bad
 * input or out of memory). */
int sigv4_presign(const struct sigv4_presign *p, char **out, size_t *len, char sig_hex[65]);
void sigv4_free(char *s, size_t len);

/* RFC 3986 percent-encoding as SigV4 wants it (unreserved A-Z a-z 0-9 - _
 * . ~ kept, everything else %XX upper-case) appended to a malloc'd buffer;
 * -1 out of memory. */
int sigv4_uri_encode(char **buf, size_t *len, size_t *cap, const char *s, size_t n);

/* base64url without padding (RFC 4648 section 5), malloc'd; NULL on
 * failure. */
char *sigv4_base64url(const char *s, size_t n, size_t *out_len);

#endif
