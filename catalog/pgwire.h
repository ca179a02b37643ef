/* PostgreSQL frontend/backend protocol v3, server side, as pure functions over
 * byte buffers: framing and decoding of what clients send, encoding of what
 * the server answers (PostgreSQL docs, "Frontend/Backend Protocol", 55.2 flow,
 * 55.7 message formats). No sockets here, so all of it is unit-testable. */
#ifndef TETHER_PGWIRE_H
#define TETHER_PGWIRE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* Largest regular message: a statement may be 1 MiB (SQL.md 9.6); Bind
 * parameters and framing get the rest. */
#define PGW_MAX_MESSAGE   (2 * 1024 * 1024)
/* A startup packet holds a few name/value pairs (PostgreSQL: 10000). */
#define PGW_MAX_STARTUP   10000

/* Startup-phase request codes (55.7: StartupMessage, SSLRequest, ...). */
#define PGW_PROTOCOL_V3      196608u     /* 3 << 16 | 0 */
#define PGW_CANCEL_REQUEST   80877102u
#define PGW_SSL_REQUEST      80877103u
#define PGW_GSSENC_REQUEST   80877104u

/* Type OIDs used in RowDescription / ParameterDescription (pg_type.dat). */
enum pgw_oid {
	PGW_OID_BOOL = 16, PGW_OID_INT8 = 20, PGW_OID_INT4 = 23,
	PGW_OID_TEXT = 25, PGW_OID_OID = 26, PGW_OID_TEXT_ARRAY = 1009,
};

/* A growable byte buffer. Growing moves the contents and wipes the old
 * block; consuming wipes what it drops: client input may hold a secret. */
struct pgw_buf {
	uint8_t *data;
	size_t len, cap;
};

int pgw_buf_reserve(struct pgw_buf *b, size_t extra);
int pgw_buf_append(struct pgw_buf *b, const void *p, size_t n);
/* Drops the first n bytes (moves the rest to the front, wipes the tail). */
void pgw_buf_consume(struct pgw_buf *b, size_t n);
void pgw_buf_free(struct pgw_buf *b);

/* ---- framing ---- */
enum pgw_frame {
	PGW_FRAME_NEED_MORE,    /* not a whole message yet */
	PGW_FRAME_OK,
	PGW_FRAME_BAD_LENGTH,   /* length field < 4 (or < 8 for startup) */
	PGW_FRAME_TOO_LARGE,    /* length above the limit: close after an error */
};

/* A regular message: type byte, int32 length counting itself, body.
 * On OK: *type, body at buf + 5, *body_len, *total = 1 + length. Oversize
 * and bad lengths are reported as soon as the 5-byte header is in. */
enum pgw_frame pgw_frame_message(const uint8_t *buf, size_t len, char *type,
				 size_t *body_len, size_t *total);
/* A startup-phase packet: int32 length counting itself, then the body
 * (body at buf + 4, *body_len = length - 4). */
enum pgw_frame pgw_frame_startup(const uint8_t *buf, size_t len,
				 size_t *body_len, size_t *total);

/* ---- decoding ---- */
struct pgw_reader {
	const uint8_t *p;
	size_t len, off;
	int bad;                /* set when a read ran past the end */
};

void pgw_reader_init(struct pgw_reader *r, const uint8_t *p, size_t len);
uint8_t pgw_get_u8(struct pgw_reader *r);
uint16_t pgw_get_u16(struct pgw_reader *r);
uint32_t pgw_get_u32(struct pgw_reader *r);
/* A NUL-terminated string inside the body, or NULL (and bad) if none. */
const char *pgw_get_str(struct pgw_reader *r);
/* n bytes, or NULL (and bad) if fewer remain. */
const uint8_t *pgw_get_bytes(struct pgw_reader *r, size_t n);

#define PGW_NAME_MAX 256
struct pgw_startup {
	uint32_t code;          /* PGW_PROTOCOL_V3 or a request code */
	/* StartupMessage */
	char user[PGW_NAME_MAX];
	char database[PGW_NAME_MAX];
	char application_name[PGW_NAME_MAX];
	/* CancelRequest */
	uint32_t cancel_pid, cancel_key;
};

/* Decodes a startup-phase body. Unknown parameters are ignored; protocol
 * versions other than 3.0 and missing "user" are errors (08P01 / 28000). */
int pgw_parse_startup(const uint8_t *body, size_t len, struct pgw_startup *out,
		      struct err *e);

/* Parse ('P'): statement name, query text, parameter type OIDs. Pointers
 * refer into the body. */
struct pgw_parse_msg {
	const char *stmt;
	const char *query;
	size_t query_len;
	uint16_t ntypes;
	uint32_t *types;        /* malloc'd (ntypes), caller frees */
};
int pgw_parse_parse(const uint8_t *body, size_t len, struct pgw_parse_msg *m,
		    struct err *e);

/* Bind ('B'): only text format is supported (0A000 otherwise). Values are
 * malloc'd NUL-terminated copies (NULL for SQL NULL); free with
 * pgw_bind_free. */
struct pgw_bind_msg {
	const char *portal, *stmt;
	uint16_t nparams;
	char **values;
};
int pgw_parse_bind(const uint8_t *body, size_t len, struct pgw_bind_msg *m,
		   struct err *e);
void pgw_bind_free(struct pgw_bind_msg *m);

/* SASLInitialResponse ('p' during SASL authentication, 55.7): the
 * mechanism and the initial response (data NULL / len 0 if absent).
 * Pointers refer into the body. */
int pgw_parse_sasl_initial(const uint8_t *body, size_t len, const char **mech,
			   const uint8_t **data, size_t *data_len, struct err *e);

/* ---- encoding (each appends one whole message; -1 on ENOMEM) ---- */
int pgw_auth_ok(struct pgw_buf *b);
/* AuthenticationSASL (10) with its mechanism list, SASLContinue (11),
 * SASLFinal (12). */
int pgw_auth_sasl(struct pgw_buf *b, const char *const *mechs, size_t n);
int pgw_auth_sasl_continue(struct pgw_buf *b, const void *data, size_t len);
int pgw_auth_sasl_final(struct pgw_buf *b, const void *data, size_t len);
int pgw_parameter_status(struct pgw_buf *b, const char *name, const char *value);
int pgw_backend_key(struct pgw_buf *b, uint32_t pid, uint32_t key);
int pgw_ready(struct pgw_buf *b, char txn_status);
/* severity: "ERROR", "FATAL" (ErrorResponse) */
int pgw_error(struct pgw_buf *b, const char *severity, const struct err *e);
/* severity: "NOTICE", "WARNING" (NoticeResponse) */
int pgw_notice(struct pgw_buf *b, const char *severity, const char *sqlstate,
	       const char *message, const char *detail, const char *hint);
int pgw_command_complete(struct pgw_buf *b, const char *tag);
int pgw_empty_query(struct pgw_buf *b);
int pgw_parse_complete(struct pgw_buf *b);
int pgw_bind_complete(struct pgw_buf *b);
int pgw_close_complete(struct pgw_buf *b);
int pgw_no_data(struct pgw_buf *b);
int pgw_parameter_description(struct pgw_buf *b, size_t n, const uint32_t *oids);
int pgw_row_description(struct pgw_buf *b, size_t n, const char *const *names,
			const uint32_t *oids);
/* lens[i] < 0 sends SQL NULL. */
int pgw_data_row(struct pgw_buf *b, size_t n, const char *const *values,
		 const int *lens);

/* 1 if s[0..len) is valid UTF-8 (no overlongs, surrogates or > U+10FFFF). */
int pgw_utf8_valid(const char *s, size_t len);

#endif
