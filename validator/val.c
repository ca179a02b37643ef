/* Helpers shared by the per-type checks: code names and SQLSTATEs, the
 * failure setter, option lookup and resolution of || chains (fetching
 * secret parts through the job's services), and scrubbing of secrets. */
#include "val.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static const struct {
	const char *name;
	const char *sqlstate;
} val_codes[VAL_CODE_COUNT] = {
	[VAL_OK] = { "ok", "00000" },
	[VAL_DNS] = { "dns", "08001" },
	[VAL_REFUSED] = { "refused", "08001" },
	[VAL_TIMEOUT] = { "timeout", "08001" },
	[VAL_TLS] = { "tls", "08001" },
	[VAL_AUTH] = { "auth", "08004" },
	[VAL_HOST_KEY] = { "host_key", "08004" },
	[VAL_PERMISSION] = { "permission", "08004" },
	[VAL_PROTOCOL] = { "protocol", "08P01" },
	[VAL_CONFIG] = { "config", "22023" },
};

const char *val_code_name(enum val_code code)
{
	if ((unsigned)code >= VAL_CODE_COUNT)
		return "protocol";
	return val_codes[code].name;
}

const char *val_code_sqlstate(enum val_code code)
{
	if ((unsigned)code >= VAL_CODE_COUNT)
		return "08P01";
	return val_codes[code].sqlstate;
}

void val_fail(struct val_result *r, enum val_code code, const char *host,
	      const char *fmt, ...)
{
	char msg[sizeof(r->e.message)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	r->code = code;
	if (host)
		snprintf(r->host, sizeof(r->host), "%s", host);
	err_set(&r->e, val_code_sqlstate(code), "%s", msg);
}

void val_fail_server(const struct val_server_words *w, struct val_result *r,
		     enum val_code code, const char *stage, const char *reason,
		     const char *detail)
{
	char rs[384];
	snprintf(rs, sizeof(rs), "%s", reason);
	w->scrub(w->ctx, rs, sizeof(rs));
	switch (code) {
	case VAL_DNS:
		val_fail(r, code, w->hostport, "%sfailed to resolve %s: %s", w->prefix, w->host, rs);
		break;
	case VAL_REFUSED:
	case VAL_TIMEOUT:
		val_fail(r, code, w->hostport, "%sfailed to connect to %s: %s", w->prefix,
			 w->hostport, rs);
		break;
	case VAL_TLS:
		val_fail(r, code, w->hostport, "%sTLS handshake with %s failed: %s", w->prefix,
			 w->host, rs);
		break;
	case VAL_AUTH:
		val_fail(r, code, w->hostport, "%sauthentication to %s server %s failed: %s",
			 w->prefix, w->kind, w->host, rs);
		break;
	case VAL_PERMISSION:
		val_fail(r, code, w->hostport, "%s%s server %s denied access: %s", w->prefix,
			 w->kind, w->host, rs);
		break;
	case VAL_CONFIG:
		val_fail(r, code, w->hostport, "invalid connection configuration: %s", rs);
		break;
	default:
		val_fail(r, VAL_PROTOCOL, w->hostport, "%sunexpected response from %s: %s",
			 w->prefix, w->hostport, rs);
		break;
	}
	snprintf(r->stage, sizeof(r->stage), "%s", stage);
	if (detail && detail[0]) {
		char d[sizeof(r->e.detail)];
		snprintf(d, sizeof(d), "%s", detail);
		w->scrub(w->ctx, d, sizeof(d));
		err_detail(&r->e, "%s", d);
	}
	if (w->hints[r->code])
		err_hint(&r->e, "%s", w->hints[r->code]);
}

int val_server_load(const struct val_services *svc, const struct val_job *job,
		    const struct val_server_opts *s, const int *required, size_t nrequired,
		    struct val_result *r)
{
	for (int o = 0; o < s->n; o++) {
		const struct val_option *opt = val_job_option(job, s->names[o]);
		if (!opt)
			continue;
		for (size_t i = 0; i < opt->nparts; i++)
			if (!opt->parts[i].text)
				s->secret[o] = true;
		if (val_option_value(svc, job, opt, o > VAL_SERVER_PORT ? s->hostport : NULL,
				     &s->v[o], &s->len[o], r) != 0)
			return -1;
		if (o == VAL_SERVER_PORT) {
			char *end = NULL;
			long n = strtol(s->v[o], &end, 10);
			if (!s->v[o][0] || *end || n < 1 || n > 65535) {
				val_fail(r, VAL_CONFIG, NULL,
					 "invalid connection configuration: invalid PORT \"%s\"",
					 s->v[o]);
				return -1;
			}
			*s->port = (uint16_t)n;
		}
		if (o <= VAL_SERVER_PORT && s->v[VAL_SERVER_HOST])
			snprintf(s->hostport, s->hostport_size, "%s:%u", s->v[VAL_SERVER_HOST],
				 *s->port);
	}
	for (size_t i = 0; i < nrequired; i++)
		if (!s->v[required[i]] || !s->v[required[i]][0]) {
			val_fail(r, VAL_CONFIG, s->hostport,
				 "invalid connection configuration: %s option is required",
				 s->names[required[i]]);
			return -1;
		}
	return 0;
}

const struct val_option *val_job_option(const struct val_job *job, const char *name)
{
	for (size_t i = 0; i < job->noptions; i++)
		if (job->options[i].name && strcasecmp(job->options[i].name, name) == 0)
			return &job->options[i];
	return NULL;
}

/* Appends n bytes to a growing buffer that may hold secrets: growth copies
 * into a fresh allocation and wipes the old one (no realloc leftovers). */
static int val_buf_append(char **buf, size_t *len, size_t *cap, const void *p, size_t n)
{
	if (*len + n + 1 > *cap) {
		size_t ncap = (*len + n + 1) * 2;
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
	}
	memcpy(*buf + *len, p, n);
	*len += n;
	(*buf)[*len] = '\0';
	return 0;
}

static void val_buf_free(char *buf, size_t cap)
{
	if (buf) {
		explicit_bzero(buf, cap);
		free(buf);
	}
}

int val_option_value(const struct val_services *svc, const struct val_job *job,
		     const struct val_option *opt, const char *destination,
		     char **out, size_t *len, struct val_result *r)
{
	char *buf = NULL;
	size_t blen = 0, cap = 0;

	(void)job;
	*out = NULL;
	*len = 0;
	if (val_buf_append(&buf, &blen, &cap, "", 0) != 0)
		goto oom;
	for (size_t i = 0; i < opt->nparts; i++) {
		const struct val_part *p = &opt->parts[i];
		if (p->text) {
			if (val_buf_append(&buf, &blen, &cap, p->text, strlen(p->text)) != 0)
				goto oom;
			continue;
		}
		unsigned char *v = NULL;
		size_t vlen = 0;
		struct err fe = { 0 };
		if (!svc || !svc->fetch_secret ||
		    svc->fetch_secret(svc->ctx, p->secret_id, destination, &v, &vlen, &fe) != 0) {
			val_buf_free(buf, cap);
			val_fail(r, VAL_CONFIG, destination,
				 "invalid connection configuration: the secret for %s is not available",
				 opt->name);
			if (fe.message[0])
				err_detail(&r->e, "%s", fe.message);
			return -1;
		}
		int rc = val_buf_append(&buf, &blen, &cap, v, vlen);
		if (svc->release)
			svc->release(svc->ctx, v, vlen);
		if (rc != 0)
			goto oom;
	}
	/* Every consumer takes C strings: an embedded NUL would silently cut
	 * the value short, so refuse it. */
	if (memchr(buf, '\0', blen)) {
		val_buf_free(buf, cap);
		val_fail(r, VAL_CONFIG, destination,
			 "invalid connection configuration: %s contains a NUL byte", opt->name);
		return -1;
	}
	/* Bytes are only ever written up to blen+1, so val_value_free(buf,
	 * blen) wipes everything that held the value. */
	*out = buf;
	*len = blen;
	return 0;
oom:
	val_buf_free(buf, cap);
	val_fail(r, VAL_CONFIG, destination, "internal error: validator: out of memory");
	err_set(&r->e, "XX000", "internal error: validator: out of memory");
	return -1;
}

void val_value_free(char *value, size_t len)
{
	if (!value)
		return;
	explicit_bzero(value, len + 1);
	free(value);
}

void val_scrub(char *s, size_t size, const char *secret, size_t len)
{
	static const char mark[] = "<redacted>";
	const size_t mlen = sizeof(mark) - 1;

	if (!s || !secret || len < VAL_SCRUB_MIN)
		return;
	char *p = s;
	while ((p = memmem(p, strlen(p), secret, len)) != NULL) {
		size_t tail = strlen(p + len);
		size_t off = (size_t)(p - s);
		/* Shift the tail to follow the mark, truncating at size. */
		size_t room = size - 1 - off;   /* bytes available from p on */
		size_t m = mlen < room ? mlen : room;
		size_t t = tail < room - m ? tail : room - m;
		memmove(p + m, p + len, t);
		memcpy(p, mark, m);
		p[m + t] = '\0';
		p += m;
	}
}

int64_t val_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
