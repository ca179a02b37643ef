/* SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL speaks it (protocol
 * 55.3 "SASL Authentication"): password verifiers in PostgreSQL's format
 * and the server side of one exchange, optionally with tls-server-end-point
 * channel binding (SCRAM-SHA-256-PLUS). Pure functions over buffers: no
 * sockets, no catalog; OpenSSL does PBKDF2, HMAC, SHA-256 and randomness. */
#ifndef TETHER_CAT_SCRAM_H
#define TETHER_CAT_SCRAM_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define CAT_SCRAM_MECH "SCRAM-SHA-256"
#define CAT_SCRAM_MECH_PLUS "SCRAM-SHA-256-PLUS"
#define CAT_SCRAM_ITERATIONS 4096       /* PostgreSQL's scram_iterations default */
#define CAT_SCRAM_KEY_LEN 32            /* SHA-256 */
#define CAT_SCRAM_SALT_LEN 16
#define CAT_SCRAM_SALT_MAX 64
#define CAT_SCRAM_VERIFIER_MAX 256
#define CAT_SCRAM_MSG_MAX 2048          /* one client message, bytes */
#define CAT_SCRAM_CBIND_MAX 64          /* a certificate hash */

/* SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey> (base64). */
struct cat_scram_verifier {
	unsigned iterations;
	uint8_t salt[CAT_SCRAM_SALT_MAX];
	size_t salt_len;
	uint8_t stored_key[CAT_SCRAM_KEY_LEN];
	uint8_t server_key[CAT_SCRAM_KEY_LEN];
};

/* Builds the verifier text of `password` (no NUL inside; SASLprep is the
 * identity on ASCII, other text is used as its UTF-8 bytes). salt NULL:
 * CAT_SCRAM_SALT_LEN random bytes. 0, or -1 (e set). Intermediate keys are
 * wiped. */
int cat_scram_verifier_make(const char *password, size_t len, unsigned iterations,
			    const uint8_t *salt, size_t salt_len, char *out, size_t size,
			    struct err *e);
/* 0 if text is a well-formed verifier (v filled, may be NULL), else -1. */
int cat_scram_verifier_parse(const char *text, struct cat_scram_verifier *v);

/* Base64 (RFC 4648, padded). encode: NUL-terminated, returns the length or
 * -1 if out is too small. decode: strict (no whitespace, padding only at
 * the end); returns the byte count or -1. */
int cat_b64_encode(const uint8_t *in, size_t len, char *out, size_t size);
int cat_b64_decode(const char *in, size_t len, uint8_t *out, size_t size);

enum cat_scram_step {
	CAT_SCRAM_NEXT = 0,     /* answer in out: AuthenticationSASLContinue */
	CAT_SCRAM_SUCCESS = 1,  /* answer in out: AuthenticationSASLFinal */
	CAT_SCRAM_FAILED = 2,   /* wrong password, no password, unknown role */
	CAT_SCRAM_ERROR = -1,   /* malformed exchange: e set (08P01 / 28000) */
};

/* The server side of one exchange. */
struct cat_scram {
	int phase;                              /* 0 first, 1 final, 2 done */
	int doomed;                             /* mock: fails at the end */
	struct cat_scram_verifier v;
	uint8_t cbind[CAT_SCRAM_CBIND_MAX];     /* tls-server-end-point data */
	size_t cbind_len;                       /* 0: no channel binding offered */
	char cbind_flag;                        /* client's: 'n', 'y' or 'p' */
	char gs2_header[64];
	char server_nonce[64];
	char client_first_bare[CAT_SCRAM_MSG_MAX];
	char server_first[2 * CAT_SCRAM_MSG_MAX];
	char nonce[2 * CAT_SCRAM_MSG_MAX];      /* client nonce + server nonce */
};

/* Starts an exchange. verifier NULL (role without password, unknown role)
 * or malformed: a mock exchange whose salt is derived from user and
 * mock_key, indistinguishable to the client until it fails at the end
 * (no user enumeration). cbind/cbind_len: the TLS server certificate hash
 * (tls-server-end-point), or 0 without TLS: then -PLUS is not offered. */
void cat_scram_begin(struct cat_scram *s, const char *verifier, const char *user,
		     const uint8_t mock_key[32], const uint8_t *cbind, size_t cbind_len);
/* Tests only: use this server nonce instead of a random one. */
void cat_scram_set_nonce(struct cat_scram *s, const char *nonce);
/* The mechanisms to advertise, most preferred first; returns the count. */
size_t cat_scram_mechanisms(const struct cat_scram *s, const char *names[2]);
/* One client message: the first call takes SASLInitialResponse (mech and
 * data), the second SASLResponse (mech NULL). out gets the answer text
 * (NUL-terminated; *out_len bytes). */
enum cat_scram_step cat_scram_step(struct cat_scram *s, const char *mech, const uint8_t *in,
				   size_t len, char *out, size_t size, size_t *out_len,
				   struct err *e);
/* Wipes the state (keys, nonces). */
void cat_scram_end(struct cat_scram *s);

/* Client side, for tests and tools: the client-final-message for
 * password, given the whole exchange so far. */
int cat_scram_client_final(const char *password, const char *client_first_bare,
			   const char *server_first, const char *final_without_proof,
			   char *out, size_t size, uint8_t server_signature[32]);

#endif
