/* Secret values (SQL.md 3.1): the constant bytea expressions tether
 * accepts after AS, evaluated with Materialize's type errors, and
 * PostgreSQL's decode() formats (encode.c: base64, hex, escape). Every
 * intermediate buffer is wiped before it is freed. */
#include "parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Intermediate values may grow (bytea shown as hex text); none needs more. */
#define CAT_VALUE_WORK_MAX (16u * 1024 * 1024)

enum sval_cat { SV_UNKNOWN, SV_TEXT, SV_BYTEA, SV_OTHER };

struct sval {
	enum sval_cat cat;
	const char *tname;        /* type name for messages */
	const uint8_t *bytes;
	size_t len;
	uint8_t *owned;           /* == bytes when we allocated them */
	int null;
};

static void sval_drop(struct sval *v)
{
	if (v->owned) {
		explicit_bzero(v->owned, v->len);
		free(v->owned);
	}
	memset(v, 0, sizeof(*v));
}

static int generic_error(struct cat_parser *p)
{
	return err_set(p->e, "0A000",
		       "secret values must be a literal, a cast to bytea or decode()");
}

static const char *sval_type(const struct sval *v)
{
	switch (v->cat) {
	case SV_UNKNOWN:
		return "unknown";
	case SV_TEXT:
	case SV_OTHER:
		return v->tname;
	case SV_BYTEA:
		return "bytea";
	}
	return "unknown";
}

/* ---- decode() ---- */

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static size_t char_len(const char *s, size_t avail)
{
	unsigned char c = (unsigned char)*s;
	size_t n = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 :
		   (c & 0xF8) == 0xF0 ? 4 : 1;

	return n > avail ? avail : n;
}

static int hex_decode(const char *s, size_t len, uint8_t *out, size_t *olen, struct err *e)
{
	size_t i = 0, n = 0;

	while (i < len) {
		int hi, lo;
		if (s[i] == ' ' || s[i] == '\n' || s[i] == '\t' || s[i] == '\r') {
			i++;
			continue;
		}
		if ((hi = hex_value(s[i])) < 0)
			return err_set(e, "22023", "invalid hexadecimal digit: \"%.*s\"",
				       (int)char_len(s + i, len - i), s + i);
		if (++i >= len)
			return err_set(e, "22023", "invalid hexadecimal data: odd number of digits");
		if ((lo = hex_value(s[i])) < 0)
			return err_set(e, "22023", "invalid hexadecimal digit: \"%.*s\"",
				       (int)char_len(s + i, len - i), s + i);
		i++;
		out[n++] = (uint8_t)(hi << 4 | lo);
	}
	*olen = n;
	return 0;
}

static int b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* PostgreSQL's pg_base64_decode, quirks included: whitespace skipped, '='
 * only after 2 or 3 symbols of a quantum. */
static int base64_decode(const char *s, size_t len, uint8_t *out, size_t *olen, struct err *e)
{
	uint32_t buf = 0;
	int pos = 0, end = 0;
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		int b;
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
			continue;
		if (c == '=') {
			if (!end) {
				if (pos == 2)
					end = 1;
				else if (pos == 3)
					end = 2;
				else
					return err_set(e, "22023",
						"unexpected \"=\" while decoding base64 sequence");
			}
			b = 0;
		} else if ((b = b64_value(c)) < 0)
			return err_set(e, "22023",
				"invalid symbol \"%.*s\" found while decoding base64 sequence",
				(int)char_len(s + i, len - i), s + i);
		buf = (buf << 6) + (uint32_t)b;
		if (++pos == 4) {
			out[n++] = (uint8_t)(buf >> 16);
			if (end == 0 || end > 1)
				out[n++] = (uint8_t)(buf >> 8);
			if (end == 0 || end > 2)
				out[n++] = (uint8_t)buf;
			buf = 0;
			pos = 0;
		}
	}
	explicit_bzero(&buf, sizeof(buf));
	if (pos != 0) {
		err_set(e, "22023", "invalid base64 end sequence");
		err_hint(e, "Input data is missing padding, is truncated, or is otherwise corrupted.");
		return -1;
	}
	*olen = n;
	return 0;
}

/* PostgreSQL's esc_decode: \\ is a backslash, \ooo (first digit 0-3) an
 * octal byte; any other backslash is an error. */
static int escape_decode(const char *s, size_t len, uint8_t *out, size_t *olen, struct err *e)
{
	size_t i = 0, n = 0;

	while (i < len) {
		if (s[i] != '\\')
			out[n++] = (uint8_t)s[i++];
		else if (i + 3 < len && s[i + 1] >= '0' && s[i + 1] <= '3' &&
			 s[i + 2] >= '0' && s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
			out[n++] = (uint8_t)(((s[i + 1] - '0') << 6) | ((s[i + 2] - '0') << 3) |
					     (s[i + 3] - '0'));
			i += 4;
		} else if (i + 1 < len && s[i + 1] == '\\') {
			out[n++] = '\\';
			i += 2;
		} else
			return err_set(e, "22P02", "invalid input syntax for type bytea");
	}
	*olen = n;
	return 0;
}

static const struct {
	const char *name;
	int (*decode)(const char *, size_t, uint8_t *, size_t *, struct err *);
} cat_decoders[] = {
	{ "base64", base64_decode },
	{ "hex", hex_decode },
	{ "escape", escape_decode },
};

uint8_t *cat_decode(const char *in, size_t len, const char *fmt, size_t *out_len,
		    struct err *e)
{
	for (size_t i = 0; i < sizeof(cat_decoders) / sizeof(cat_decoders[0]); i++) {
		uint8_t *out;
		if (strcasecmp(fmt, cat_decoders[i].name) != 0)
			continue;
		/* Every format decodes to at most as many bytes as it reads. */
		out = malloc(len ? len : 1);
		if (!out) {
			err_set(e, "53200", "out of memory");
			return NULL;
		}
		if (cat_decoders[i].decode(in, len, out, out_len, e)) {
			explicit_bzero(out, len);
			free(out);
			return NULL;
		}
		return out;
	}
	err_set(e, "22023", "unrecognized encoding: \"%s\"", fmt);
	return NULL;
}

/* ---- evaluation ---- */

/* Subqueries and parameters anywhere in the value, before any typing
 * (Materialize refuses them while planning the expression). */
static int check_forbidden(struct cat_parser *p, const struct cat_expr *x)
{
	if (!x)
		return 0;
	if (x->kind == CAT_E_SUBQUERY || x->kind == CAT_E_EXISTS || x->sql)
		return err_set(p->e, "0A000", "AS does not allow subqueries");
	if (x->kind == CAT_E_PARAM)
		return cat_p_error_at(p, x->tok, "0A000",
				      "parameters in DDL statements are not supported");
	if (check_forbidden(p, x->a) || check_forbidden(p, x->b) || check_forbidden(p, x->c))
		return -1;
	for (size_t i = 0; i < x->nlist; i++)
		if (check_forbidden(p, x->list[i]))
			return -1;
	return 0;
}

static const char *number_type(const struct cat_token *t)
{
	if (!(t->flags & CAT_TOKF_INTEGER))
		return "numeric";
	/* PostgreSQL: int4 if it fits, else int8, else numeric. */
	size_t digits = t->vlen;
	const char *v = t->val;
	while (digits > 1 && *v == '0') {
		v++;
		digits--;
	}
	if (digits < 10 || (digits == 10 && strcmp(v, "2147483647") <= 0))
		return "integer";
	if (digits < 19 || (digits == 19 && strcmp(v, "9223372036854775807") <= 0))
		return "bigint";
	return "numeric";
}

static int take(struct cat_parser *p, struct sval *v, size_t len)
{
	if (len > CAT_VALUE_WORK_MAX)
		return err_set(p->e, "54000", "secrets can not be bigger than 512KiB");
	v->owned = malloc(len ? len : 1);
	if (!v->owned)
		return err_set(p->e, "53200", "out of memory");
	v->bytes = v->owned;
	v->len = len;
	return 0;
}

/* bytea's text form (PostgreSQL's bytea_output = hex): \x0a1b... */
static int bytea_as_text(struct cat_parser *p, struct sval *v)
{
	static const char digits[] = "0123456789abcdef";
	struct sval t = { .cat = SV_TEXT, .tname = "text", .null = v->null };

	if (v->null) {
		sval_drop(v);
		*v = t;
		return 0;
	}
	if (v->len > CAT_VALUE_WORK_MAX / 2 || take(p, &t, 2 + 2 * v->len))
		return v->len > CAT_VALUE_WORK_MAX / 2
		       ? err_set(p->e, "54000", "secrets can not be bigger than 512KiB") : -1;
	t.owned[0] = '\\';
	t.owned[1] = 'x';
	for (size_t i = 0; i < v->len; i++) {
		t.owned[2 + 2 * i] = (uint8_t)digits[v->bytes[i] >> 4];
		t.owned[3 + 2 * i] = (uint8_t)digits[v->bytes[i] & 15];
	}
	sval_drop(v);
	*v = t;
	return 0;
}

static int is_texty(const struct sval *v)
{
	return v->cat == SV_UNKNOWN || v->cat == SV_TEXT;
}

static int eval(struct cat_parser *p, const struct cat_expr *x, struct sval *out);

static int eval_cast(struct cat_parser *p, const struct cat_expr *x, struct sval *v)
{
	const struct cat_type *t = x->type;

	if (eval(p, x->a, v))
		return -1;
	if (!t) {
		size_t n = strlen(x->type_name);
		if (n < 2 || strcmp(x->type_name + n - 2, "[]") != 0)
			return err_set(p->e, "42704", "type \"%s\" does not exist", x->type_name);
		v->cat = SV_OTHER;    /* an array: only its name matters */
		v->tname = x->type_name;
		return 0;
	}
	if (!strcmp(t->pg_name, "bytea")) {
		if (v->cat == SV_OTHER)
			return err_set(p->e, "42846", "cannot cast type %s to bytea", v->tname);
		v->cat = SV_BYTEA;
		v->tname = "bytea";
		return 0;
	}
	if (t->sqlite && !strcmp(t->sqlite, "TEXT")) {
		if (v->cat == SV_BYTEA && bytea_as_text(p, v))
			return -1;
		v->cat = SV_TEXT;
		v->tname = t->pg_name;
		return 0;
	}
	v->cat = SV_OTHER;
	v->tname = t->pg_name;
	return 0;
}

static int eval_concat(struct cat_parser *p, const struct cat_expr *x, struct sval *out)
{
	struct sval a = { 0 }, b = { 0 }, r = { 0 };
	int rc = -1;

	if (eval(p, x->a, &a) || eval(p, x->b, &b))
		goto done;
	if ((a.cat == SV_BYTEA && (b.cat == SV_BYTEA || b.cat == SV_UNKNOWN)) ||
	    (b.cat == SV_BYTEA && a.cat == SV_UNKNOWN)) {
		r.cat = SV_BYTEA;
		r.tname = "bytea";
	} else if (is_texty(&a) || is_texty(&b)) {
		/* text || anything: the other side in its text form. */
		if ((a.cat == SV_BYTEA && bytea_as_text(p, &a)) ||
		    (b.cat == SV_BYTEA && bytea_as_text(p, &b)))
			goto done;
		r.cat = SV_TEXT;
		r.tname = "text";
	} else {
		rc = err_set(p->e, "42883", "operator does not exist: %s || %s",
			     sval_type(&a), sval_type(&b));
		goto done;
	}
	if (a.null || b.null) {
		r.null = 1;
	} else {
		if (a.len > CAT_VALUE_WORK_MAX - b.len) {
			rc = err_set(p->e, "54000", "secrets can not be bigger than 512KiB");
			goto done;
		}
		if (take(p, &r, a.len + b.len))
			goto done;
		if (a.len)
			memcpy(r.owned, a.bytes, a.len);
		if (b.len)
			memcpy(r.owned + a.len, b.bytes, b.len);
	}
	*out = r;
	memset(&r, 0, sizeof(r));
	rc = 0;
done:
	sval_drop(&a);
	sval_drop(&b);
	sval_drop(&r);
	return rc;
}

static int eval_decode(struct cat_parser *p, const struct cat_expr *x, struct sval *out)
{
	struct sval a = { 0 }, f = { 0 };
	char fmt[32];
	int rc = -1;

	if (x->noparens || x->star || x->distinct)
		return generic_error(p);
	for (size_t i = 0; i < x->nlist && i < 2; i++) {
		if (eval(p, x->list[i], i ? &f : &a))
			goto done;
	}
	if (x->nlist != 2 || !is_texty(&a) || !is_texty(&f)) {
		char types[128] = "";
		size_t off = 0;
		for (size_t i = 0; i < x->nlist && i < 2 && off < sizeof(types); i++)
			off += (size_t)snprintf(types + off, sizeof(types) - off, "%s%s",
						i ? ", " : "", sval_type(i ? &f : &a));
		if (x->nlist > 2 && off < sizeof(types))
			snprintf(types + off, sizeof(types) - off, ", ...");
		rc = err_set(p->e, "42883", "function decode(%s) does not exist", types);
		goto done;
	}
	out->cat = SV_BYTEA;
	out->tname = "bytea";
	if (a.null || f.null) {
		out->null = 1;
		rc = 0;
		goto done;
	}
	if (f.len >= sizeof(fmt) || memchr(f.bytes, '\0', f.len)) {
		rc = err_set(p->e, "22023", "unrecognized encoding: \"%.*s\"",
			     (int)(f.len < 64 ? f.len : 64), (const char *)f.bytes);
		goto done;
	}
	memcpy(fmt, f.bytes, f.len);
	fmt[f.len] = '\0';
	out->owned = cat_decode((const char *)a.bytes, a.len, fmt, &out->len, p->e);
	if (!out->owned) {
		cat_utf8_trim(p->e->message);
		goto done;
	}
	out->bytes = out->owned;
	rc = 0;
done:
	sval_drop(&a);
	sval_drop(&f);
	return rc;
}

static int eval_node(struct cat_parser *p, const struct cat_expr *x, struct sval *out)
{
	memset(out, 0, sizeof(*out));
	switch (x->kind) {
	case CAT_E_STRING:
		out->cat = SV_UNKNOWN;
		out->bytes = (const uint8_t *)x->tok->val;
		out->len = x->tok->vlen;
		return 0;
	case CAT_E_NULL:
		out->cat = SV_UNKNOWN;
		out->null = 1;
		return 0;
	case CAT_E_NUMBER:
		out->cat = SV_OTHER;
		out->tname = number_type(x->tok);
		out->bytes = (const uint8_t *)x->tok->val;
		out->len = x->tok->vlen;
		return 0;
	case CAT_E_BOOL:
		out->cat = SV_OTHER;
		out->tname = "boolean";
		out->bytes = (const uint8_t *)(x->boolval ? "true" : "false");
		out->len = x->boolval ? 4 : 5;
		return 0;
	case CAT_E_CAST:
		return eval_cast(p, x, out);
	case CAT_E_BINARY:
		if (strcmp(x->op, "||") != 0)
			return generic_error(p);
		return eval_concat(p, x, out);
	case CAT_E_UNARY:
		/* -5 is still an integer (and still the wrong type). */
		if (strcmp(x->op, "NOT") != 0 && x->a->kind == CAT_E_NUMBER) {
			if (eval(p, x->a, out))
				return -1;
			out->bytes = NULL;
			out->len = 0;
			return 0;
		}
		return generic_error(p);
	case CAT_E_FUNC:
		if ((x->nparts == 1 || (x->nparts == 2 && !strcmp(x->parts[0]->val, "pg_catalog"))) &&
		    !strcmp(x->parts[x->nparts - 1]->val, "decode"))
			return eval_decode(p, x, out);
		return generic_error(p);
	default:
		return generic_error(p);
	}
}

/* On failure nothing stays allocated in *out. */
static int eval(struct cat_parser *p, const struct cat_expr *x, struct sval *out)
{
	if (eval_node(p, x, out)) {
		sval_drop(out);
		return -1;
	}
	return 0;
}

int cat_secret_eval(struct cat_parser *p, const struct cat_expr *x,
		    struct cat_secret_value *out)
{
	struct sval v;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (check_forbidden(p, x) || eval(p, x, &v))
		return -1;
	if (v.cat != SV_UNKNOWN && v.cat != SV_BYTEA) {
		err_set(p->e, "42804", "AS must have type bytea, not type %s", sval_type(&v));
		goto done;
	}
	if (v.null) {
		err_set(p->e, "22004", "secret value can not be null");
		goto done;
	}
	if (v.len > CAT_SECRET_MAX) {
		err_set(p->e, "54000", "secrets can not be bigger than 512KiB");
		goto done;
	}
	out->bytes = malloc(v.len ? v.len : 1);
	if (!out->bytes) {
		err_set(p->e, "53200", "out of memory");
		goto done;
	}
	if (v.len)
		memcpy(out->bytes, v.bytes, v.len);
	out->len = v.len;
	rc = 0;
done:
	sval_drop(&v);
	return rc;
}
