/* Option sets: ownership, lookup, in-place replacement (ALTER keeps written
 * order), the references they hold, and the storage codec. The codec is a
 * small length-prefixed text format so that a record is readable in
 * sqlite3 and a corrupt one is detected, never half-read:
 *   record := catalog_type '\n' { NAME '=' value '\n' }
 *   value  := 'T' len ':' bytes | 'D' len ':' bytes | 'I' int ';' | 'B' int ';'
 *           | 'S' id ';' | 'R' id ';' [ 'P' port ';' ]
 *           | 'C' n ';' { 'T'.. | 'S'.. } | 'L' n ';' { 'T'.. }
 *           | 'K' n ';' { 'T'addr ('N' | 'H' id ';' | 'V' id ';') ['Z' 'T'..] ['P' port ';'] '.' } */
#include "optset.h"

#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void conn_value_free(struct conn_value *v)
{
	free(v->text);
	for (size_t i = 0; i < v->nparts; i++)
		free(v->parts[i].text);
	free(v->parts);
	for (size_t i = 0; i < v->nlist; i++)
		free(v->list[i]);
	free(v->list);
	for (size_t i = 0; i < v->nbrokers; i++) {
		free(v->brokers[i].addr);
		free(v->brokers[i].az);
	}
	free(v->brokers);
	memset(v, 0, sizeof(*v));
}

static char *dup_or_null(const char *s, int *bad)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*bad = 1;
	return d;
}

int conn_value_copy(struct conn_value *dst, const struct conn_value *src)
{
	int bad = 0;

	*dst = *src;
	dst->text = dup_or_null(src->text, &bad);
	dst->parts = NULL;
	dst->list = NULL;
	dst->brokers = NULL;
	dst->nparts = dst->nlist = dst->nbrokers = 0;
	if (src->nparts) {
		dst->parts = calloc(src->nparts, sizeof(*dst->parts));
		if (!dst->parts)
			bad = 1;
		else {
			dst->nparts = src->nparts;
			for (size_t i = 0; i < src->nparts; i++) {
				dst->parts[i] = src->parts[i];
				dst->parts[i].text = dup_or_null(src->parts[i].text, &bad);
			}
		}
	}
	if (src->nlist) {
		dst->list = calloc(src->nlist, sizeof(*dst->list));
		if (!dst->list)
			bad = 1;
		else {
			dst->nlist = src->nlist;
			for (size_t i = 0; i < src->nlist; i++)
				dst->list[i] = dup_or_null(src->list[i], &bad);
		}
	}
	if (src->nbrokers) {
		dst->brokers = calloc(src->nbrokers, sizeof(*dst->brokers));
		if (!dst->brokers)
			bad = 1;
		else {
			dst->nbrokers = src->nbrokers;
			for (size_t i = 0; i < src->nbrokers; i++) {
				dst->brokers[i] = src->brokers[i];
				dst->brokers[i].addr = dup_or_null(src->brokers[i].addr, &bad);
				dst->brokers[i].az = dup_or_null(src->brokers[i].az, &bad);
			}
		}
	}
	if (bad) {
		conn_value_free(dst);
		return -1;
	}
	return 0;
}

void conn_optset_free(struct conn_optset *s)
{
	for (size_t i = 0; i < s->n; i++)
		conn_value_free(&s->opts[i].v);
	free(s->opts);
	s->opts = NULL;
	s->n = s->cap = 0;
}

const struct conn_opt *conn_optset_get(const struct conn_optset *s, enum conn_opt_id id)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->opts[i].id == id)
			return &s->opts[i];
	return NULL;
}

const char *conn_optset_text(const struct conn_optset *s, enum conn_opt_id id)
{
	const struct conn_opt *o = conn_optset_get(s, id);

	if (!o || (o->v.form != CONN_VF_TEXT && o->v.form != CONN_VF_IDENT))
		return NULL;
	return o->v.text;
}

int conn_optset_put(struct conn_optset *s, enum conn_opt_id id, struct conn_value *v)
{
	for (size_t i = 0; i < s->n; i++) {
		if (s->opts[i].id == id) {
			conn_value_free(&s->opts[i].v);
			s->opts[i].v = *v;
			memset(v, 0, sizeof(*v));
			return 0;
		}
	}
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 8;
		struct conn_opt *p = realloc(s->opts, cap * sizeof(*p));
		if (!p)
			return -1;
		s->opts = p;
		s->cap = cap;
	}
	s->opts[s->n].id = id;
	s->opts[s->n].v = *v;
	s->n++;
	memset(v, 0, sizeof(*v));
	return 0;
}

int conn_optset_remove(struct conn_optset *s, enum conn_opt_id id)
{
	for (size_t i = 0; i < s->n; i++) {
		if (s->opts[i].id == id) {
			conn_value_free(&s->opts[i].v);
			memmove(&s->opts[i], &s->opts[i + 1], (s->n - i - 1) * sizeof(s->opts[0]));
			s->n--;
			return 1;
		}
	}
	return 0;
}

int conn_optset_copy(struct conn_optset *dst, const struct conn_optset *src)
{
	memset(dst, 0, sizeof(*dst));
	dst->type = src->type;
	for (size_t i = 0; i < src->n; i++) {
		struct conn_value v;
		if (conn_value_copy(&v, &src->opts[i].v) < 0 ||
		    conn_optset_put(dst, src->opts[i].id, &v) < 0) {
			conn_value_free(&v);
			conn_optset_free(dst);
			return -1;
		}
	}
	return 0;
}

static int add_ref(uint64_t **ids, size_t *n, size_t *cap, uint64_t id)
{
	for (size_t i = 0; i < *n; i++)
		if ((*ids)[i] == id)
			return 0;
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 8;
		uint64_t *p = realloc(*ids, c * sizeof(*p));
		if (!p)
			return -1;
		*ids = p;
		*cap = c;
	}
	(*ids)[(*n)++] = id;
	return 0;
}

long conn_optset_refs(const struct conn_optset *s, uint64_t **out)
{
	uint64_t *ids = NULL;
	size_t n = 0, cap = 0;
	int bad = 0;

	for (size_t i = 0; i < s->n; i++) {
		const struct conn_value *v = &s->opts[i].v;
		if (v->form == CONN_VF_SECRET || v->form == CONN_VF_REF)
			bad |= add_ref(&ids, &n, &cap, v->id);
		for (size_t k = 0; k < v->nparts; k++)
			if (v->parts[k].is_secret)
				bad |= add_ref(&ids, &n, &cap, v->parts[k].id);
		for (size_t k = 0; k < v->nbrokers; k++)
			if (v->brokers[k].tunnel != CONN_TUNNEL_NONE)
				bad |= add_ref(&ids, &n, &cap, v->brokers[k].tunnel_id);
	}
	if (bad) {
		free(ids);
		*out = NULL;
		return -1;
	}
	*out = ids;
	return (long)n;
}

/* ---- encoding ---- */

struct buf {
	char *s;
	size_t len, cap;
	int bad;
};

static void put(struct buf *b, const char *s, size_t n)
{
	if (b->bad)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *p = realloc(b->s, cap);
		if (!p) {
			b->bad = 1;
			return;
		}
		b->s = p;
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void putf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct buf *b, const char *fmt, ...)
{
	char tmp[64];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		b->bad = 1;
		return;
	}
	put(b, tmp, (size_t)n);
}

static void put_str(struct buf *b, char tag, const char *s)
{
	size_t n = s ? strlen(s) : 0;

	putf(b, "%c%zu:", tag, n);
	put(b, s ? s : "", n);
}

static void put_value(struct buf *b, const struct conn_value *v)
{
	switch (v->form) {
	case CONN_VF_TEXT:
		put_str(b, 'T', v->text);
		break;
	case CONN_VF_IDENT:
		put_str(b, 'D', v->text);
		break;
	case CONN_VF_INT:
		putf(b, "I%" PRId64 ";", v->num);
		break;
	case CONN_VF_BOOL:
		putf(b, "B%d;", v->num ? 1 : 0);
		break;
	case CONN_VF_SECRET:
		putf(b, "S%" PRIu64 ";", v->id);
		break;
	case CONN_VF_REF:
		putf(b, "R%" PRIu64 ";", v->id);
		if (v->has_port)
			putf(b, "P%" PRId64 ";", v->port);
		break;
	case CONN_VF_CHAIN:
		putf(b, "C%zu;", v->nparts);
		for (size_t i = 0; i < v->nparts; i++) {
			if (v->parts[i].is_secret)
				putf(b, "S%" PRIu64 ";", v->parts[i].id);
			else
				put_str(b, 'T', v->parts[i].text);
		}
		break;
	case CONN_VF_LIST:
		putf(b, "L%zu;", v->nlist);
		for (size_t i = 0; i < v->nlist; i++)
			put_str(b, 'T', v->list[i]);
		break;
	case CONN_VF_BROKERS:
		putf(b, "K%zu;", v->nbrokers);
		for (size_t i = 0; i < v->nbrokers; i++) {
			const struct conn_broker *k = &v->brokers[i];
			put_str(b, 'T', k->addr);
			if (k->tunnel == CONN_TUNNEL_SSH)
				putf(b, "H%" PRIu64 ";", k->tunnel_id);
			else if (k->tunnel == CONN_TUNNEL_PRIVATELINK)
				putf(b, "V%" PRIu64 ";", k->tunnel_id);
			else
				put(b, "N", 1);
			if (k->az) {
				put(b, "Z", 1);
				put_str(b, 'T', k->az);
			}
			if (k->has_port)
				putf(b, "P%" PRId64 ";", k->port);
			put(b, ".", 1);
		}
		break;
	}
}

char *conn_optset_encode(const struct conn_optset *s)
{
	struct buf b = { 0 };

	if (s->type < 0 || s->type >= CONN_NTYPES)
		return NULL;
	put(&b, conn_types[s->type].catalog_name, strlen(conn_types[s->type].catalog_name));
	put(&b, "\n", 1);
	for (size_t i = 0; i < s->n; i++) {
		const char *name = conn_opts[s->opts[i].id].name;
		put(&b, name, strlen(name));
		put(&b, "=", 1);
		put_value(&b, &s->opts[i].v);
		put(&b, "\n", 1);
	}
	if (b.bad) {
		free(b.s);
		return NULL;
	}
	return b.s;
}

/* ---- decoding ---- */

struct rd {
	const char *p;
	int bad;
};

static int64_t rd_int(struct rd *r, char end)
{
	char *stop;
	long long v;

	if (r->bad)
		return 0;
	errno = 0;
	v = strtoll(r->p, &stop, 10);
	if (errno || stop == r->p || *stop != end) {
		r->bad = 1;
		return 0;
	}
	r->p = stop + 1;
	return (int64_t)v;
}

static uint64_t rd_uint(struct rd *r, char end)
{
	char *stop;
	unsigned long long v;

	if (r->bad)
		return 0;
	errno = 0;
	if (*r->p < '0' || *r->p > '9') {
		r->bad = 1;
		return 0;
	}
	v = strtoull(r->p, &stop, 10);
	if (errno || *stop != end) {
		r->bad = 1;
		return 0;
	}
	r->p = stop + 1;
	return (uint64_t)v;
}

static int rd_tag(struct rd *r, char tag)
{
	if (r->bad || *r->p != tag)
		return 0;
	r->p++;
	return 1;
}

/* After the tag: len ':' bytes. */
static char *rd_str(struct rd *r)
{
	uint64_t n = rd_uint(r, ':');
	char *s;

	if (r->bad)
		return NULL;
	if (strnlen(r->p, n) < n) {
		r->bad = 1;
		return NULL;
	}
	s = malloc(n + 1);
	if (!s) {
		r->bad = 1;
		return NULL;
	}
	memcpy(s, r->p, n);
	s[n] = '\0';
	r->p += n;
	return s;
}

static size_t rd_count(struct rd *r)
{
	uint64_t n = rd_uint(r, ';');

	if (n > 4096)
		r->bad = 1;
	return r->bad ? 0 : (size_t)n;
}

static void rd_value(struct rd *r, struct conn_value *v)
{
	char tag = *r->p;

	if (r->bad || !tag) {
		r->bad = 1;
		return;
	}
	r->p++;
	switch (tag) {
	case 'T':
	case 'D':
		v->form = tag == 'T' ? CONN_VF_TEXT : CONN_VF_IDENT;
		v->text = rd_str(r);
		break;
	case 'I':
		v->form = CONN_VF_INT;
		v->num = rd_int(r, ';');
		break;
	case 'B':
		v->form = CONN_VF_BOOL;
		v->num = rd_int(r, ';') != 0;
		break;
	case 'S':
		v->form = CONN_VF_SECRET;
		v->id = rd_uint(r, ';');
		break;
	case 'R':
		v->form = CONN_VF_REF;
		v->id = rd_uint(r, ';');
		if (rd_tag(r, 'P')) {
			v->has_port = 1;
			v->port = rd_int(r, ';');
		}
		break;
	case 'C':
		v->form = CONN_VF_CHAIN;
		v->nparts = rd_count(r);
		v->parts = v->nparts ? calloc(v->nparts, sizeof(*v->parts)) : NULL;
		if (v->nparts && !v->parts) {
			v->nparts = 0;
			r->bad = 1;
		}
		for (size_t i = 0; i < v->nparts && !r->bad; i++) {
			if (rd_tag(r, 'S')) {
				v->parts[i].is_secret = 1;
				v->parts[i].id = rd_uint(r, ';');
			} else if (rd_tag(r, 'T')) {
				v->parts[i].text = rd_str(r);
			} else
				r->bad = 1;
		}
		break;
	case 'L':
		v->form = CONN_VF_LIST;
		v->nlist = rd_count(r);
		v->list = v->nlist ? calloc(v->nlist, sizeof(*v->list)) : NULL;
		if (v->nlist && !v->list) {
			v->nlist = 0;
			r->bad = 1;
		}
		for (size_t i = 0; i < v->nlist && !r->bad; i++) {
			if (!rd_tag(r, 'T'))
				r->bad = 1;
			else
				v->list[i] = rd_str(r);
		}
		break;
	case 'K':
		v->form = CONN_VF_BROKERS;
		v->nbrokers = rd_count(r);
		v->brokers = v->nbrokers ? calloc(v->nbrokers, sizeof(*v->brokers)) : NULL;
		if (v->nbrokers && !v->brokers) {
			v->nbrokers = 0;
			r->bad = 1;
		}
		for (size_t i = 0; i < v->nbrokers && !r->bad; i++) {
			struct conn_broker *k = &v->brokers[i];
			if (!rd_tag(r, 'T')) {
				r->bad = 1;
				break;
			}
			k->addr = rd_str(r);
			if (rd_tag(r, 'H')) {
				k->tunnel = CONN_TUNNEL_SSH;
				k->tunnel_id = rd_uint(r, ';');
			} else if (rd_tag(r, 'V')) {
				k->tunnel = CONN_TUNNEL_PRIVATELINK;
				k->tunnel_id = rd_uint(r, ';');
			} else if (!rd_tag(r, 'N'))
				r->bad = 1;
			if (rd_tag(r, 'Z')) {
				if (!rd_tag(r, 'T'))
					r->bad = 1;
				else
					k->az = rd_str(r);
			}
			if (rd_tag(r, 'P')) {
				k->has_port = 1;
				k->port = rd_int(r, ';');
			}
			if (!rd_tag(r, '.'))
				r->bad = 1;
		}
		break;
	default:
		r->bad = 1;
	}
}

int conn_optset_decode(const char *text, struct conn_optset *out, struct err *e)
{
	struct rd r = { text, 0 };
	const char *nl = strchr(text, '\n');
	char word[64];

	memset(out, 0, sizeof(*out));
	if (!nl || (size_t)(nl - text) >= sizeof(word))
		goto corrupt;
	memcpy(word, text, (size_t)(nl - text));
	word[nl - text] = '\0';
	const struct conn_type_def *t = conn_type_by_catalog_name(word);
	if (!t)
		goto corrupt;
	out->type = t->type;
	r.p = nl + 1;
	while (*r.p) {
		const char *eq = strchr(r.p, '=');
		struct conn_value v = { 0 };
		enum conn_opt_id id;

		if (!eq || (size_t)(eq - r.p) >= sizeof(word))
			goto corrupt;
		memcpy(word, r.p, (size_t)(eq - r.p));
		word[eq - r.p] = '\0';
		id = conn_opt_by_name(word);
		if (id == CONN_O_NONE)
			goto corrupt;
		r.p = eq + 1;
		rd_value(&r, &v);
		if (r.bad || !rd_tag(&r, '\n') || conn_optset_put(out, id, &v) < 0) {
			conn_value_free(&v);
			goto corrupt;
		}
	}
	return 0;
corrupt:
	conn_optset_free(out);
	return err_set(e, "XX000", "internal error: catalog: corrupt connection options record");
}
