/* The validator's HTTP client, shared by the Schema Registry, Iceberg and
 * AWS checks: one libcurl easy handle per check, locked down (no proxy from
 * the environment, no .netrc, no redirects, http/https only, bounded
 * response), CA and client certificate/key from memory, SigV4, basic and
 * bearer auth, routing through an SSH tunnel with TLS still verifying the
 * real host, and the mapping of transport failures to SQL.md 6 codes. */
#ifndef TETHER_VAL_HTTP_H
#define TETHER_VAL_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "val.h"

/* A reply larger than this is refused (the write callback stops the
 * transfer): no legitimate answer to the calls made here comes close. */
#define VAL_HTTP_MAX_BODY (1024 * 1024)
#define VAL_HTTP_MAX_SCRUB 12

struct val_http_tls {
	const char *ca;          /* PEM; NULL: the system's roots */
	size_t ca_len;
	const char *cert, *key;  /* PEM client certificate and key, or NULL */
	size_t cert_len, key_len;
};

struct val_http_req {
	const char *method;      /* "GET" or "POST" */
	const char *url;
	const char *body;        /* POST body (may hold secrets; not copied) */
	size_t body_len;
	const char *content_type;
	const char *accept;
	/* Authentication, at most one of: */
	const char *user, *password;   /* basic auth (password may be NULL) */
	const char *bearer;            /* "Authorization: Bearer" */
	const char *sigv4;             /* "aws:amz:<region>:<service>" with user
					* = access key id, password = secret key */
	const char *amz_security_token;  /* X-Amz-Security-Token (signed) */
};

struct val_http {
	void *curl;              /* CURL * */
	void *connect_to;        /* struct curl_slist * */
	int timeout_ms;
	char errbuf[256];        /* CURL_ERROR_SIZE */
	int curl_code;           /* CURLcode of the last request */
	int os_errno;            /* errno of a failed connect, or 0 */
	/* the last response */
	long status;
	char content_type[128];
	char *body;              /* NUL-terminated; wiped on reset and close */
	size_t len, cap;
	bool too_big;
	/* values scrubbed from every message and detail */
	struct { const char *p; size_t len; } scrub[VAL_HTTP_MAX_SCRUB];
	size_t nscrub;
	/* message prefix naming the tunnel, "through SSH bastion b:22: " or "" */
	char prefix[320];
};

/* Prepares the handle. timeout_ms bounds the connection (TCP + TLS) and,
 * doubled, each whole request. The TLS blobs are referenced, not copied:
 * they must outlive the handle. 0, or -1 with r set (XX000 / config). */
int val_http_open(struct val_http *h, const struct val_http_tls *tls, int timeout_ms,
		  struct val_result *r);
/* Sends every connection for host:port to 127.0.0.1:local_port (an SSH
 * tunnel's local end); TLS still checks the certificate against `host`. */
int val_http_via(struct val_http *h, const char *host, uint16_t port, uint16_t local_port,
		 struct val_result *r);
/* A value to keep out of every message (no-op for short ones). */
void val_http_scrub(struct val_http *h, const char *value, size_t len);
void val_http_close(struct val_http *h);

/* Performs one request. Returns VAL_OK when an HTTP response arrived (any
 * status: see h->status, h->body), else the transport failure's code with
 * h->errbuf holding curl's words. */
enum val_code val_http_do(struct val_http *h, const struct val_http_req *q);
/* The code of an HTTP status: 2xx ok, 401 auth, 403 permission, others
 * (404, 5xx, anything unexpected) protocol. */
enum val_code val_http_status_code(long status);

/* How a check words its failures (SQL.md 6). */
struct val_http_words {
	const char *type;        /* "CONFLUENT SCHEMA REGISTRY" (auth message) */
	const char *service;     /* "CONFLUENT SCHEMA REGISTRY server" (permission) */
	const char *host;        /* host name alone */
	const char *hostport;    /* "host:port" */
	const char *const *hints;   /* [VAL_CODE_COUNT], may hold NULLs */
};

/* Fills r in SQL.md 6's words for `code` with `reason` (scrubbed), detail
 * (scrubbed, may be NULL) and the code's hint; stage names the step. */
void val_http_fail(struct val_http *h, struct val_result *r, enum val_code code,
		   const struct val_http_words *w, const char *stage, const char *reason,
		   const char *detail);
/* Reports the transport failure of the last val_http_do (code != VAL_OK). */
void val_http_fail_transport(struct val_http *h, struct val_result *r, enum val_code code,
			     const struct val_http_words *w, const char *stage);
/* A printable, bounded excerpt of the last body (control bytes replaced)
 * for details: at most `max` bytes of it. */
void val_http_body_excerpt(const struct val_http *h, char *out, size_t size, size_t max);

/* Percent-encodes `s` (RFC 3986 unreserved kept) onto a growing buffer
 * that may hold secrets (old copies wiped). 0 or -1 (out of memory). */
int val_http_form_append(char **buf, size_t *len, size_t *cap, const char *s, size_t n,
			 bool encode);
void val_http_buf_free(char *buf, size_t cap);

/* A parsed http(s) URL: scheme, host (IPv6 without brackets), port (the
 * scheme's default when absent), path ("" or starting with '/'), and
 * whether it had a query or fragment. 0, or -1 with `why` set. */
struct val_url {
	char scheme[8];
	char host[256];
	uint16_t port;
	char path[1024];
	bool has_query, has_user;
	char hostport[300];      /* "host:port" ("[v6]:port") */
	char origin[320];        /* "scheme://host:port" for building URLs */
};
int val_url_parse(const char *url, struct val_url *u, char *why, size_t why_size);

#endif
