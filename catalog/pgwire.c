/* PostgreSQL protocol v3 framing, decoding and encoding over byte buffers
 * (PostgreSQL docs 55.7 "Message Formats"). All integers are big-endian;
 * every length is checked before the bytes it counts are touched. */
#include "pgwire.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- buffers ---- */

int pgw_buf_reserve(struct pgw_buf *b, size_t extra)
{
	size_t need, cap;
	uint8_t *p;

	if (extra > SIZE_MAX / 2 - b->len) {
		errno = ENOMEM;
		return -1;
	}
	need = b->len + extra;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap *= 2;
	/* No realloc: the old block may hold a secret and must be wiped. */
	p = malloc(cap);
	if (!p)
		return -1;
	if (b->data) {
		memcpy(p, b->data, b->len);
		explicit_bzero(b->data, b->cap);
		free(b->data);
	}
	b->data = p;
	b->cap = cap;
	return 0;
}

int pgw_buf_append(struct pgw_buf *b, const void *p, size_t n)
{
	if (pgw_buf_reserve(b, n) < 0)
		return -1;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

void pgw_buf_consume(struct pgw_buf *b, size_t n)
{
	if (n >= b->len) {
		if (b->data)
			explicit_bzero(b->data, b->len);
		b->len = 0;
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	explicit_bzero(b->data + b->len - n, n);
	b->len -= n;
}

void pgw_buf_free(struct pgw_buf *b)
{
	if (b->data) {
		explicit_bzero(b->data, b->cap);
		free(b->data);
	}
	b->data = NULL;
	b->len = b->cap = 0;
}

/* ---- framing ---- */

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

enum pgw_frame pgw_frame_message(const uint8_t *buf, size_t len, char *type,
				 size_t *body_len, size_t *total)
{
	uint32_t n;

	if (len < 5)
		return PGW_FRAME_NEED_MORE;
	n = be32(buf + 1);
	if (n < 4 || n > INT32_MAX)     /* Int32 on the wire: negative lies */
		return PGW_FRAME_BAD_LENGTH;
	if (n > PGW_MAX_MESSAGE)
		return PGW_FRAME_TOO_LARGE;
	if (len < (size_t)n + 1)
		return PGW_FRAME_NEED_MORE;
	*type = (char)buf[0];
	*body_len = n - 4;
	*total = (size_t)n + 1;
	return PGW_FRAME_OK;
}

enum pgw_frame pgw_frame_startup(const uint8_t *buf, size_t len,
				 size_t *body_len, size_t *total)
{
	uint32_t n;

	if (len < 4)
		return PGW_FRAME_NEED_MORE;
	n = be32(buf);
	if (n < 8 || n > INT32_MAX)
		return PGW_FRAME_BAD_LENGTH;
	if (n > PGW_MAX_STARTUP)
		return PGW_FRAME_TOO_LARGE;
	if (len < n)
		return PGW_FRAME_NEED_MORE;
	*body_len = n - 4;
	*total = n;
	return PGW_FRAME_OK;
}

/* ---- reader ---- */

void pgw_reader_init(struct pgw_reader *r, const uint8_t *p, size_t len)
{
	r->p = p;
	r->len = len;
	r->off = 0;
	r->bad = 0;
}

const uint8_t *pgw_get_bytes(struct pgw_reader *r, size_t n)
{
	const uint8_t *p;

	if (r->bad || n > r->len - r->off) {
		r->bad = 1;
		return NULL;
	}
	p = r->p + r->off;
	r->off += n;
	return p;
}

uint8_t pgw_get_u8(struct pgw_reader *r)
{
	const uint8_t *p = pgw_get_bytes(r, 1);
	return p ? p[0] : 0;
}

uint16_t pgw_get_u16(struct pgw_reader *r)
{
	const uint8_t *p = pgw_get_bytes(r, 2);
	return p ? (uint16_t)(p[0] << 8 | p[1]) : 0;
}

uint32_t pgw_get_u32(struct pgw_reader *r)
{
	const uint8_t *p = pgw_get_bytes(r, 4);
	return p ? be32(p) : 0;
}

const char *pgw_get_str(struct pgw_reader *r)
{
	const uint8_t *start, *nul;

	if (r->bad || r->off >= r->len) {
		r->bad = 1;
		return NULL;
	}
	start = r->p + r->off;
	nul = memchr(start, '\0', r->len - r->off);
	if (!nul) {
		r->bad = 1;
		return NULL;
	}
	r->off += (size_t)(nul - start) + 1;
	return (const char *)start;
}

/* ---- decoding ---- */

static int copy_name(char *dst, const char *src, const char *what, struct err *e)
{
	size_t n = strlen(src);

	if (n >= PGW_NAME_MAX)
		return err_set(e, "08P01", "invalid startup packet: %s is too long",
			       what);
	memcpy(dst, src, n + 1);
	return 0;
}

/* 55.7 StartupMessage / CancelRequest / SSLRequest / GSSENCRequest. */
int pgw_parse_startup(const uint8_t *body, size_t len, struct pgw_startup *out,
		      struct err *e)
{
	struct pgw_reader r;

	memset(out, 0, sizeof(*out));
	pgw_reader_init(&r, body, len);
	out->code = pgw_get_u32(&r);
	if (r.bad)
		return err_set(e, "08P01", "invalid startup packet layout");
	switch (out->code) {
	case PGW_SSL_REQUEST:
	case PGW_GSSENC_REQUEST:
		return 0;
	case PGW_CANCEL_REQUEST:
		out->cancel_pid = pgw_get_u32(&r);
		out->cancel_key = pgw_get_u32(&r);
		if (r.bad)
			return err_set(e, "08P01", "invalid cancel request");
		return 0;
	case PGW_PROTOCOL_V3:
		break;
	default:
		return err_set(e, "0A000",
			       "unsupported frontend protocol %u.%u: server supports 3.0 to 3.0",
			       out->code >> 16, out->code & 0xffff);
	}
	/* Name/value pairs, ended by an empty name. */
	for (;;) {
		const char *name = pgw_get_str(&r), *value;

		if (!name)
			return err_set(e, "08P01", "invalid startup packet layout: expected terminator as last byte");
		if (!*name)
			break;
		value = pgw_get_str(&r);
		if (!value)
			return err_set(e, "08P01", "invalid startup packet layout: expected terminator as last byte");
		if (!strcmp(name, "user")) {
			if (copy_name(out->user, value, "user name", e) < 0)
				return -1;
		} else if (!strcmp(name, "database")) {
			if (copy_name(out->database, value, "database name", e) < 0)
				return -1;
		} else if (!strcmp(name, "application_name")) {
			/* Too long is not worth failing a login over. */
			snprintf(out->application_name, sizeof(out->application_name),
				 "%s", value);
		}
	}
	if (r.off != r.len)
		return err_set(e, "08P01", "invalid startup packet layout: expected terminator as last byte");
	if (!out->user[0])
		return err_set(e, "28000", "no PostgreSQL user name specified in startup packet");
	if (!out->database[0])
		memcpy(out->database, out->user, sizeof(out->database));
	return 0;
}

int pgw_parse_parse(const uint8_t *body, size_t len, struct pgw_parse_msg *m,
		    struct err *e)
{
	struct pgw_reader r;

	memset(m, 0, sizeof(*m));
	pgw_reader_init(&r, body, len);
	m->stmt = pgw_get_str(&r);
	m->query = pgw_get_str(&r);
	m->ntypes = pgw_get_u16(&r);
	if (r.bad)
		return err_set(e, "08P01", "invalid Parse message");
	m->query_len = strlen(m->query);
	if (m->ntypes) {
		m->types = calloc(m->ntypes, sizeof(uint32_t));
		if (!m->types)
			return err_set(e, "53200", "out of memory");
		for (uint16_t i = 0; i < m->ntypes; i++)
			m->types[i] = pgw_get_u32(&r);
	}
	if (r.bad || r.off != r.len) {
		free(m->types);
		m->types = NULL;
		return err_set(e, "08P01", "invalid Parse message");
	}
	return 0;
}

void pgw_bind_free(struct pgw_bind_msg *m)
{
	if (m->values) {
		for (uint16_t i = 0; i < m->nparams; i++) {
			if (m->values[i]) {
				explicit_bzero(m->values[i], strlen(m->values[i]));
				free(m->values[i]);
			}
		}
		free(m->values);
	}
	m->values = NULL;
	m->nparams = 0;
}

/* 55.7 Bind: format codes, parameter values, result format codes. */
int pgw_parse_bind(const uint8_t *body, size_t len, struct pgw_bind_msg *m,
		   struct err *e)
{
	struct pgw_reader r;
	uint16_t nformats, nresults;
	int binary = 0;

	memset(m, 0, sizeof(*m));
	pgw_reader_init(&r, body, len);
	m->portal = pgw_get_str(&r);
	m->stmt = pgw_get_str(&r);
	nformats = pgw_get_u16(&r);
	for (uint16_t i = 0; i < nformats && !r.bad; i++)
		if (pgw_get_u16(&r) != 0)
			binary = 1;
	m->nparams = pgw_get_u16(&r);
	if (r.bad)
		return err_set(e, "08P01", "invalid Bind message");
	if (m->nparams) {
		m->values = calloc(m->nparams, sizeof(char *));
		if (!m->values)
			return err_set(e, "53200", "out of memory");
	}
	for (uint16_t i = 0; i < m->nparams; i++) {
		uint32_t n = pgw_get_u32(&r);
		const uint8_t *p;

		if (r.bad)
			break;
		if (n == 0xffffffffu)
			continue;       /* NULL */
		p = pgw_get_bytes(&r, n);
		if (!p)
			break;
		m->values[i] = malloc((size_t)n + 1);
		if (!m->values[i]) {
			pgw_bind_free(m);
			return err_set(e, "53200", "out of memory");
		}
		memcpy(m->values[i], p, n);
		m->values[i][n] = '\0';
		if (memchr(p, '\0', n)) {
			pgw_bind_free(m);
			return err_set(e, "22021", "invalid byte sequence for encoding \"UTF8\": 0x00");
		}
	}
	nresults = pgw_get_u16(&r);
	for (uint16_t i = 0; i < nresults && !r.bad; i++)
		if (pgw_get_u16(&r) != 0)
			binary = 1;
	if (r.bad || r.off != r.len) {
		pgw_bind_free(m);
		return err_set(e, "08P01", "invalid Bind message");
	}
	if (binary) {
		pgw_bind_free(m);
		return err_set(e, "0A000", "binary format is not supported");
	}
	return 0;
}

/* ---- encoding ---- */

static int put_u8(struct pgw_buf *b, uint8_t v)
{
	return pgw_buf_append(b, &v, 1);
}

static int put_u16(struct pgw_buf *b, uint16_t v)
{
	uint8_t p[2] = { (uint8_t)(v >> 8), (uint8_t)v };
	return pgw_buf_append(b, p, 2);
}

static int put_u32(struct pgw_buf *b, uint32_t v)
{
	uint8_t p[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16),
			 (uint8_t)(v >> 8), (uint8_t)v };
	return pgw_buf_append(b, p, 4);
}

static int put_str(struct pgw_buf *b, const char *s)
{
	return pgw_buf_append(b, s, strlen(s) + 1);
}

/* Starts a message; returns the offset of its length field. */
static size_t msg_begin(struct pgw_buf *b, char type, int *rc)
{
	size_t off;

	*rc |= put_u8(b, (uint8_t)type);
	off = b->len;
	*rc |= put_u32(b, 0);
	return off;
}

static int msg_end(struct pgw_buf *b, size_t off, int rc)
{
	uint32_t n;

	if (rc)
		return -1;
	n = (uint32_t)(b->len - off);
	b->data[off] = (uint8_t)(n >> 24);
	b->data[off + 1] = (uint8_t)(n >> 16);
	b->data[off + 2] = (uint8_t)(n >> 8);
	b->data[off + 3] = (uint8_t)n;
	return 0;
}

static int empty_msg(struct pgw_buf *b, char type)
{
	int rc = 0;
	size_t off = msg_begin(b, type, &rc);
	return msg_end(b, off, rc);
}

int pgw_auth_ok(struct pgw_buf *b)
{
	int rc = 0;
	size_t off = msg_begin(b, 'R', &rc);
	rc |= put_u32(b, 0);
	return msg_end(b, off, rc);
}

int pgw_auth_sasl(struct pgw_buf *b, const char *const *mechs, size_t n)
{
	int rc = 0;
	size_t off = msg_begin(b, 'R', &rc);
	rc |= put_u32(b, 10);
	for (size_t i = 0; i < n; i++)
		rc |= put_str(b, mechs[i]);
	rc |= put_u8(b, 0);
	return msg_end(b, off, rc);
}

static int auth_data(struct pgw_buf *b, uint32_t code, const void *data, size_t len)
{
	int rc = 0;
	size_t off = msg_begin(b, 'R', &rc);
	rc |= put_u32(b, code);
	rc |= pgw_buf_append(b, data, len);
	return msg_end(b, off, rc);
}

int pgw_auth_sasl_continue(struct pgw_buf *b, const void *data, size_t len)
{
	return auth_data(b, 11, data, len);
}

int pgw_auth_sasl_final(struct pgw_buf *b, const void *data, size_t len)
{
	return auth_data(b, 12, data, len);
}

int pgw_parse_sasl_initial(const uint8_t *body, size_t len, const char **mech,
			   const uint8_t **data, size_t *data_len, struct err *e)
{
	struct pgw_reader r;
	uint32_t n;

	pgw_reader_init(&r, body, len);
	*mech = pgw_get_str(&r);
	n = pgw_get_u32(&r);
	*data = NULL;
	*data_len = 0;
	if (!r.bad && n != 0xffffffffu) {
		*data = pgw_get_bytes(&r, n);
		*data_len = n;
	}
	if (r.bad || r.off != len)
		return err_set(e, "08P01", "malformed SASLInitialResponse message");
	return 0;
}

int pgw_parameter_status(struct pgw_buf *b, const char *name, const char *value)
{
	int rc = 0;
	size_t off = msg_begin(b, 'S', &rc);
	rc |= put_str(b, name);
	rc |= put_str(b, value);
	return msg_end(b, off, rc);
}

int pgw_backend_key(struct pgw_buf *b, uint32_t pid, uint32_t key)
{
	int rc = 0;
	size_t off = msg_begin(b, 'K', &rc);
	rc |= put_u32(b, pid);
	rc |= put_u32(b, key);
	return msg_end(b, off, rc);
}

int pgw_ready(struct pgw_buf *b, char txn_status)
{
	int rc = 0;
	size_t off = msg_begin(b, 'Z', &rc);
	rc |= put_u8(b, (uint8_t)txn_status);
	return msg_end(b, off, rc);
}

/* 55.8 "Error and Notice Message Fields". */
static int fields(struct pgw_buf *b, char type, const char *severity,
		  const char *sqlstate, const char *message, const char *detail,
		  const char *hint, int position)
{
	int rc = 0;
	size_t off = msg_begin(b, type, &rc);

	rc |= put_u8(b, 'S') | put_str(b, severity);
	rc |= put_u8(b, 'V') | put_str(b, severity);
	rc |= put_u8(b, 'C') | put_str(b, sqlstate && *sqlstate ? sqlstate : "XX000");
	rc |= put_u8(b, 'M') | put_str(b, message ? message : "");
	if (detail && *detail)
		rc |= put_u8(b, 'D') | put_str(b, detail);
	if (hint && *hint)
		rc |= put_u8(b, 'H') | put_str(b, hint);
	if (position > 0) {
		char pos[16];
		snprintf(pos, sizeof(pos), "%d", position);
		rc |= put_u8(b, 'P') | put_str(b, pos);
	}
	rc |= put_u8(b, 0);
	return msg_end(b, off, rc);
}

int pgw_error(struct pgw_buf *b, const char *severity, const struct err *e)
{
	return fields(b, 'E', severity, e->sqlstate, e->message, e->detail,
		      e->hint, e->position);
}

int pgw_notice(struct pgw_buf *b, const char *severity, const char *sqlstate,
	       const char *message, const char *detail, const char *hint)
{
	return fields(b, 'N', severity, sqlstate, message, detail, hint, 0);
}

int pgw_command_complete(struct pgw_buf *b, const char *tag)
{
	int rc = 0;
	size_t off = msg_begin(b, 'C', &rc);
	rc |= put_str(b, tag);
	return msg_end(b, off, rc);
}

int pgw_empty_query(struct pgw_buf *b) { return empty_msg(b, 'I'); }
int pgw_parse_complete(struct pgw_buf *b) { return empty_msg(b, '1'); }
int pgw_bind_complete(struct pgw_buf *b) { return empty_msg(b, '2'); }
int pgw_close_complete(struct pgw_buf *b) { return empty_msg(b, '3'); }
int pgw_no_data(struct pgw_buf *b) { return empty_msg(b, 'n'); }

int pgw_parameter_description(struct pgw_buf *b, size_t n, const uint32_t *oids)
{
	int rc = 0;
	size_t off = msg_begin(b, 't', &rc);

	rc |= put_u16(b, (uint16_t)n);
	for (size_t i = 0; i < n; i++)
		rc |= put_u32(b, oids[i]);
	return msg_end(b, off, rc);
}

int pgw_row_description(struct pgw_buf *b, size_t n, const char *const *names,
			const uint32_t *oids)
{
	int rc = 0;
	size_t off = msg_begin(b, 'T', &rc);

	rc |= put_u16(b, (uint16_t)n);
	for (size_t i = 0; i < n; i++) {
		int16_t typlen = oids[i] == PGW_OID_BOOL ? 1 :
				 oids[i] == PGW_OID_INT8 ? 8 :
				 oids[i] == PGW_OID_INT4 || oids[i] == PGW_OID_OID ? 4 : -1;

		rc |= put_str(b, names[i]);
		rc |= put_u32(b, 0);            /* table oid */
		rc |= put_u16(b, 0);            /* column number */
		rc |= put_u32(b, oids[i]);
		rc |= put_u16(b, (uint16_t)typlen);
		rc |= put_u32(b, 0xffffffffu);  /* typmod -1 */
		rc |= put_u16(b, 0);            /* text format */
	}
	return msg_end(b, off, rc);
}

int pgw_data_row(struct pgw_buf *b, size_t n, const char *const *values,
		 const int *lens)
{
	int rc = 0;
	size_t off = msg_begin(b, 'D', &rc);

	rc |= put_u16(b, (uint16_t)n);
	for (size_t i = 0; i < n; i++) {
		if (lens[i] < 0) {
			rc |= put_u32(b, 0xffffffffu);
			continue;
		}
		rc |= put_u32(b, (uint32_t)lens[i]);
		rc |= pgw_buf_append(b, values[i], (size_t)lens[i]);
	}
	return msg_end(b, off, rc);
}

int pgw_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		unsigned c = p[i];
		size_t n;
		uint32_t cp;

		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			n = 1; cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2; cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3; cp = c & 0x07;
		} else {
			return 0;
		}
		if (len - i - 1 < n)
			return 0;
		for (size_t k = 1; k <= n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (p[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += n + 1;
	}
	return 1;
}
