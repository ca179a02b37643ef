/* Conformance runner: executes sqllogictest-like .test files against a real
 * tetherd (one fresh data dir per file) over libpq and compares SQLSTATEs,
 * message texts, notices and result rows with what the file expects.
 *
 * Usage: tether_conformance [-v] FILE.test [FILE.test ...]
 *   One tetherd is started per file. Exit status 0 iff every record passed.
 *   TETHER_KEEP_TEST_DIRS=1 keeps the data dir and logs (path printed).
 *
 * File format (records are separated by blank lines):
 *
 *   # comment                  a line starting with '#' between records
 *
 *   statement ok               the SQL must succeed (notices are ignored)
 *   <sql, one or more lines, up to the next blank line>
 *
 *   statement error CODE [MESSAGE]
 *   [detail DETAIL]            optional: the DETAIL field must equal DETAIL
 *   [hint HINT]                optional: the HINT field must equal HINT
 *   <sql>
 *       The SQL must fail with SQLSTATE CODE. Without MESSAGE any message
 *       is accepted; with MESSAGE the primary message must be exactly equal.
 *       MESSAGE written as /regex/ is a POSIX extended regex instead
 *       (anchored by the writer with ^...$ if wanted). `detail -` asserts
 *       that there is no DETAIL; same for `hint -`.
 *
 *   statement notice [CODE] MESSAGE
 *   [notice [CODE] MESSAGE]    further notices, each must be present
 *   <sql>
 *       The SQL must succeed and emit a NOTICE/WARNING with exactly MESSAGE
 *       (and SQLSTATE CODE when given; CODE = 5 chars of [0-9A-Z] with at
 *       least one digit). Other notices are ignored.
 *
 *   query [rowsort] [colnames] [types]
 *   <sql>
 *   ----
 *   <expected rows, up to the next blank line>
 *       The SQL must succeed and return rows. Each row is rendered as its
 *       values joined with '|'; NULL is written NULL; a newline inside a
 *       value is written \n. A row whose rendering is empty is written
 *       (empty). With `rowsort`, actual and expected rows are compared
 *       after sorting both. With `colnames`, the first expected line is the
 *       column names joined with '|'; with `types`, the next one is the
 *       column type names (text, oid, int4, int8, bool, text[], jsonb,
 *       timestamptz, ... or the numeric OID).
 *
 *   bind NAME
 *   <sql>
 *       Runs the query and stores the first column of its first row in
 *       variable NAME. `${NAME}` in later SQL, messages and expected rows is
 *       replaced by the value, `${NAME:q}` by the value with ' doubled (for
 *       use inside a string literal). `${repeat N TEXT}` expands to TEXT N
 *       times.
 *
 *   CODE in `statement error` may list alternatives (`0A000|08001`), be a
 *   /regex/ without spaces, or `*` (any SQLSTATE) where the spec leaves the
 *   code open.
 *
 *   connection NAME [ROLE]     switch to (opening if needed) a named session,
 *                              logged in as ROLE (default materialize); the
 *                              session `default` is the one the file starts in
 *
 *   halt                       stop reading this file
 *
 * Every statement is bounded by a 15 s timeout; a timeout or a lost
 * connection is a failure and the session is reopened (tetherd is expected
 * to survive). One line is printed per failure:
 *   FILE:LINE: <statement on one line>: expected <...>, got <...>
 * and at the end `N passed, N failed`. */
#include "harness.h"

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STMT_TIMEOUT_MS 15000
#define MAX_SESSIONS 8
#define MAX_NOTICES 32

struct strv {
	char **v;
	size_t n, cap;
};

static void strv_push(struct strv *s, char *str)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 16;
		s->v = realloc(s->v, s->cap * sizeof(*s->v));
		if (!s->v)
			abort();
	}
	s->v[s->n++] = str;
}

static void strv_free(struct strv *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* One collected notice. */
struct notice {
	char code[8];
	char *msg;
};

struct session {
	char name[64];
	char role[64];
	PGconn *conn;
	struct notice notices[MAX_NOTICES];
	int n_notices;
};

/* What one statement produced. */
struct outcome {
	int ok;              /* 1 success, 0 error, -1 timeout/connection lost */
	char code[8];
	char *msg, *detail, *hint;
	PGresult *rows;      /* last PGRES_TUPLES_OK result, if any */
};

static struct tetherd g_td;
static int g_verbose;
static long g_pass, g_fail;

static void notice_rx(void *arg, const PGresult *r)
{
	struct session *s = arg;
	const char *code = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);

	if (s->n_notices >= MAX_NOTICES)
		return;
	struct notice *n = &s->notices[s->n_notices++];
	snprintf(n->code, sizeof(n->code), "%s", code ? code : "");
	n->msg = strdup(msg ? msg : "");
}

static void notices_clear(struct session *s)
{
	for (int i = 0; i < s->n_notices; i++)
		free(s->notices[i].msg);
	s->n_notices = 0;
}

static int session_open(struct session *s)
{
	s->conn = th_connect_as(&g_td, s->role, "materialize");
	if (!s->conn)
		return -1;
	PQsetNoticeReceiver(s->conn, notice_rx, s);
	return 0;
}

static void outcome_free(struct outcome *o)
{
	free(o->msg);
	free(o->detail);
	free(o->hint);
	PQclear(o->rows);
	memset(o, 0, sizeof(*o));
}

static char *dupf(const char *s)
{
	return s ? strdup(s) : NULL;
}

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Runs `sql` (possibly several statements) with a deadline. The first
 * error result wins; otherwise the last tuples result is kept. */
static void run_sql(struct session *s, const char *sql, struct outcome *o)
{
	memset(o, 0, sizeof(*o));
	notices_clear(s);
	if (!s->conn && session_open(s) < 0) {
		o->ok = -1;
		o->msg = strdup("cannot connect to tetherd");
		return;
	}
	if (!PQsendQuery(s->conn, sql)) {
		o->ok = -1;
		o->msg = strdup(PQerrorMessage(s->conn));
		goto lost;
	}
	long deadline = now_ms() + STMT_TIMEOUT_MS;
	int have_error = 0;
	o->ok = 1;
	for (;;) {
		while (PQisBusy(s->conn)) {
			long left = deadline - now_ms();
			struct pollfd p = { .fd = PQsocket(s->conn), .events = POLLIN };
			if (left <= 0) {
				o->ok = -1;
				free(o->msg);
				o->msg = strdup("timeout after 15 s");
				goto lost;
			}
			if (poll(&p, 1, (int)left) < 0 && errno != EINTR) {
				o->ok = -1;
				goto lost;
			}
			if (!PQconsumeInput(s->conn)) {
				o->ok = -1;
				free(o->msg);
				o->msg = strdup(PQerrorMessage(s->conn));
				goto lost;
			}
		}
		PGresult *r = PQgetResult(s->conn);
		if (!r)
			break;
		ExecStatusType st = PQresultStatus(r);
		if (st == PGRES_FATAL_ERROR || st == PGRES_NONFATAL_ERROR ||
		    st == PGRES_BAD_RESPONSE) {
			if (!have_error) {
				const char *c = PQresultErrorField(r, PG_DIAG_SQLSTATE);
				have_error = 1;
				o->ok = 0;
				snprintf(o->code, sizeof(o->code), "%s", c ? c : "");
				o->msg = dupf(PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY));
				if (!o->msg)
					o->msg = strdup(PQerrorMessage(s->conn));
				o->detail = dupf(PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL));
				o->hint = dupf(PQresultErrorField(r, PG_DIAG_MESSAGE_HINT));
			}
			PQclear(r);
		} else if (st == PGRES_TUPLES_OK && !have_error) {
			PQclear(o->rows);
			o->rows = r;
		} else {
			PQclear(r);
		}
	}
	if (PQstatus(s->conn) != CONNECTION_OK) {
		if (o->ok == 1) {
			o->ok = -1;
			o->msg = strdup("connection lost");
		}
		goto lost;
	}
	return;
lost:
	PQfinish(s->conn);
	s->conn = NULL;
	if (!o->msg)
		o->msg = strdup("connection lost");
	session_open(s);   /* next statement retries if this fails */
}

/* ---- variables ---- */

#define MAX_VARS 64
static char *g_var_name[MAX_VARS], *g_var_val[MAX_VARS];
static int g_n_vars;

static void var_set(const char *name, const char *val)
{
	for (int i = 0; i < g_n_vars; i++)
		if (!strcmp(g_var_name[i], name)) {
			free(g_var_val[i]);
			g_var_val[i] = strdup(val);
			return;
		}
	if (g_n_vars < MAX_VARS) {
		g_var_name[g_n_vars] = strdup(name);
		g_var_val[g_n_vars++] = strdup(val);
	}
}

static void vars_clear(void)
{
	for (int i = 0; i < g_n_vars; i++) {
		free(g_var_name[i]);
		free(g_var_val[i]);
	}
	g_n_vars = 0;
}

/* Returns a malloc'd copy of `in` with ${...} expanded. */
static char *expand(const char *in)
{
	size_t cap = strlen(in) + 64, len = 0;
	char *out = malloc(cap);

	while (*in) {
		const char *end;
		const char *val = NULL;
		char *tmp = NULL;
		if (in[0] == '$' && in[1] == '{' && (end = strchr(in, '}'))) {
			char name[256];
			int n;
			long count;
			snprintf(name, sizeof(name), "%.*s", (int)(end - in - 2), in + 2);
			if (sscanf(name, "repeat %ld %n", &count, &n) == 1 && count >= 0) {
				size_t tl = strlen(name + n);
				tmp = malloc((size_t)count * tl + 1);
				for (long i = 0; i < count; i++)
					memcpy(tmp + (size_t)i * tl, name + n, tl);
				tmp[(size_t)count * tl] = '\0';
				val = tmp;
			}
			size_t nl = strlen(name);
			int quote = nl > 2 && !strcmp(name + nl - 2, ":q");
			if (quote)
				name[nl - 2] = '\0';
			for (int i = 0; !val && i < g_n_vars; i++)
				if (!strcmp(g_var_name[i], name))
					val = g_var_val[i];
			if (val && quote) {
				/* as the body of a SQL string literal: ' doubled */
				size_t q = 0;
				for (const char *p = val; *p; p++)
					q += *p == '\'' ? 2 : 1;
				tmp = malloc(q + 1);
				q = 0;
				for (const char *p = val; *p; p++) {
					if (*p == '\'')
						tmp[q++] = '\'';
					tmp[q++] = *p;
				}
				tmp[q] = '\0';
				val = tmp;
			}
			if (val) {
				size_t vl = strlen(val);
				if (len + vl + 1 > cap) {
					cap = (len + vl + 1) * 2;
					out = realloc(out, cap);
				}
				memcpy(out + len, val, vl);
				len += vl;
				in = end + 1;
				free(tmp);
				continue;
			}
		}
		if (len + 2 > cap) {
			cap *= 2;
			out = realloc(out, cap);
		}
		out[len++] = *in++;
	}
	out[len] = '\0';
	return out;
}

/* ---- parsing of the test file ---- */

struct reader {
	FILE *f;
	const char *path;
	int lineno;
	char *pushed;        /* one line of lookahead */
	int pushed_lineno;
};

/* Next line without its newline (malloc'd), NULL at EOF. */
static char *next_line(struct reader *rd)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	if (rd->pushed) {
		char *p = rd->pushed;
		rd->pushed = NULL;
		rd->lineno = rd->pushed_lineno;
		return p;
	}
	n = getline(&line, &cap, rd->f);
	if (n < 0) {
		free(line);
		return NULL;
	}
	rd->lineno++;
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	return line;
}

static int is_blank(const char *l)
{
	for (; *l; l++)
		if (!isspace((unsigned char)*l))
			return 0;
	return 1;
}

/* "statement" etc: does `l` start with word `w` followed by space or end. */
static const char *word(const char *l, const char *w)
{
	size_t n = strlen(w);
	if (strncmp(l, w, n) != 0 || (l[n] && l[n] != ' '))
		return NULL;
	l += n;
	while (*l == ' ')
		l++;
	return l;
}

static int is_sqlstate(const char *s, size_t len)
{
	int digit = 0;
	if (len != 5)
		return 0;
	for (size_t i = 0; i < 5; i++) {
		if (!isdigit((unsigned char)s[i]) && !isupper((unsigned char)s[i]))
			return 0;
		digit |= isdigit((unsigned char)s[i]) != 0;
	}
	return digit;
}

/* Splits "[CODE] MESSAGE" (CODE optional when `code_optional`). */
static void split_code(const char *rest, char code[8], const char **msg)
{
	size_t len = strcspn(rest, " ");
	code[0] = '\0';
	if (is_sqlstate(rest, len)) {
		memcpy(code, rest, 5);
		code[5] = '\0';
		rest += len;
		while (*rest == ' ')
			rest++;
	}
	*msg = rest;
}

/* Reads SQL lines up to a blank line or `----` (if `stop_dashes`). */
static char *read_sql(struct reader *rd, int stop_dashes, int *saw_dashes)
{
	size_t len = 0;
	char *sql = calloc(1, 1);
	char *l;

	*saw_dashes = 0;
	while ((l = next_line(rd))) {
		if (is_blank(l)) {
			free(l);
			break;
		}
		if (stop_dashes && !strcmp(l, "----")) {
			free(l);
			*saw_dashes = 1;
			break;
		}
		size_t n = strlen(l);
		sql = realloc(sql, len + n + 2);
		if (len)
			sql[len++] = '\n';
		memcpy(sql + len, l, n + 1);
		len += n;
		free(l);
	}
	char *x = expand(sql);
	free(sql);
	return x;
}

/* ---- reporting ---- */

static char *one_line(const char *s, size_t max)
{
	size_t n = strlen(s), j = 0;
	char *o = malloc(n + 4);
	int sp = 0;
	for (size_t i = 0; i < n && j < max; i++) {
		if (s[i] == '\n' || s[i] == '\t' || s[i] == ' ') {
			if (!sp && j)
				o[j++] = ' ';
			sp = 1;
		} else {
			o[j++] = s[i];
			sp = 0;
		}
	}
	if (j >= max && max < n) {
		o[j++] = '.'; o[j++] = '.'; o[j++] = '.';
	}
	o[j] = '\0';
	return o;
}

static void fail(const char *path, int line, const char *sql, const char *fmt, ...)
{
	char *s = one_line(sql, 300);
	va_list ap;

	printf("%s:%d: %s: ", path, line, s);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	free(s);
	g_fail++;
}

static void pass(void)
{
	g_pass++;
}

/* Describes an outcome for a failure line, as "ok" / "error CODE: msg". */
static void describe(const struct outcome *o, char *buf, size_t size)
{
	if (o->ok == 1)
		snprintf(buf, size, "success");
	else if (o->ok == 0)
		snprintf(buf, size, "error %s: %s%s%s%s%s", o->code, o->msg ? o->msg : "",
			 o->detail ? " [detail: " : "", o->detail ? o->detail : "",
			 o->detail ? "]" : "", o->hint ? " [hint]" : "");
	else
		snprintf(buf, size, "failure: %s", o->msg ? o->msg : "?");
}

static int msg_matches(const char *want, const char *got)
{
	size_t n = strlen(want);
	if (n >= 2 && want[0] == '/' && want[n - 1] == '/') {
		char *pat = strndup(want + 1, n - 2);
		regex_t re;
		int m = 0;
		if (regcomp(&re, pat, REG_EXTENDED | REG_NOSUB) == 0) {
			m = regexec(&re, got ? got : "", 0, NULL, 0) == 0;
			regfree(&re);
		} else {
			fprintf(stderr, "bad regex %s\n", want);
		}
		free(pat);
		return m;
	}
	return got && !strcmp(want, got);
}

static const char *type_name(Oid t, char buf[16])
{
	static const struct { Oid oid; const char *name; } names[] = {
		{ 16, "bool" }, { 17, "bytea" }, { 19, "name" }, { 20, "int8" },
		{ 21, "int2" }, { 23, "int4" }, { 25, "text" }, { 26, "oid" },
		{ 114, "json" }, { 700, "float4" }, { 701, "float8" },
		{ 1007, "int4[]" }, { 1009, "text[]" }, { 1043, "varchar" },
		{ 1114, "timestamp" }, { 1184, "timestamptz" }, { 1700, "numeric" },
		{ 3802, "jsonb" },
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].oid == t)
			return names[i].name;
	snprintf(buf, 16, "%u", (unsigned)t);
	return buf;
}

static char *render_row(PGresult *r, int row)
{
	size_t cap = 256, len = 0;
	char *out = malloc(cap);
	out[0] = '\0';
	for (int c = 0; c < PQnfields(r); c++) {
		const char *v = PQgetisnull(r, row, c) ? "NULL" : PQgetvalue(r, row, c);
		size_t need = len + 2 * strlen(v) + 4;
		if (need > cap) {
			cap = need * 2;
			out = realloc(out, cap);
		}
		if (c)
			out[len++] = '|';
		for (; *v; v++) {
			if (*v == '\n') {
				out[len++] = '\\';
				out[len++] = 'n';
			} else {
				out[len++] = *v;
			}
		}
		out[len] = '\0';
	}
	return out;
}

/* ---- records ---- */

static struct session g_sessions[MAX_SESSIONS];
static int g_n_sessions;
static struct session *g_cur;

static struct session *session_get(const char *name, const char *role)
{
	for (int i = 0; i < g_n_sessions; i++)
		if (!strcmp(g_sessions[i].name, name))
			return &g_sessions[i];
	if (g_n_sessions == MAX_SESSIONS)
		return NULL;
	struct session *s = &g_sessions[g_n_sessions++];
	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", name);
	snprintf(s->role, sizeof(s->role), "%s", role ? role : "materialize");
	session_open(s);
	return s;
}

struct expect_err {
	char code[64];       /* "XXXXX", "A|B|...", or "*" */
	char *msg;           /* NULL = any */
	char *detail, *hint; /* NULL = unchecked; "-" = must be absent */
};

static int code_matches(const char *want, const char *got)
{
	if (!strcmp(want, "*"))
		return 1;
	if (want[0] == '/')
		return msg_matches(want, got);
	for (const char *p = want; *p;) {
		size_t n = strcspn(p, "|");
		if (n == strlen(got) && !strncmp(p, got, n))
			return 1;
		p += n;
		if (*p == '|')
			p++;
	}
	return 0;
}

static void do_statement_error(const char *path, int line, const char *sql,
			       const struct expect_err *x)
{
	struct outcome o;
	char got[2048];

	run_sql(g_cur, sql, &o);
	describe(&o, got, sizeof(got));
	if (o.ok != 0) {
		fail(path, line, sql, "expected error %s%s%s, got %s", x->code,
		     x->msg ? ": " : "", x->msg ? x->msg : "", got);
	} else if (!code_matches(x->code, o.code) || (x->msg && !msg_matches(x->msg, o.msg))) {
		fail(path, line, sql, "expected error %s%s%s, got %s", x->code,
		     x->msg ? ": " : "", x->msg ? x->msg : "", got);
	} else if (x->detail && (!strcmp(x->detail, "-") ? o.detail != NULL
				  : !msg_matches(x->detail, o.detail))) {
		fail(path, line, sql, "expected detail '%s', got '%s'", x->detail,
		     o.detail ? o.detail : "(none)");
	} else if (x->hint && (!strcmp(x->hint, "-") ? o.hint != NULL
				: !msg_matches(x->hint, o.hint))) {
		fail(path, line, sql, "expected hint '%s', got '%s'", x->hint,
		     o.hint ? o.hint : "(none)");
	} else {
		pass();
	}
	outcome_free(&o);
}

static void do_statement_ok(const char *path, int line, const char *sql,
			    struct strv *notices)
{
	struct outcome o;
	char got[2048];

	run_sql(g_cur, sql, &o);
	describe(&o, got, sizeof(got));
	if (o.ok != 1) {
		fail(path, line, sql, "expected success, got %s", got);
		outcome_free(&o);
		return;
	}
	for (size_t i = 0; i < notices->n; i++) {
		char code[8];
		const char *msg;
		int found = 0;
		split_code(notices->v[i], code, &msg);
		for (int k = 0; k < g_cur->n_notices && !found; k++)
			found = msg_matches(msg, g_cur->notices[k].msg) &&
				(!code[0] || !strcmp(code, g_cur->notices[k].code));
		if (!found) {
			char seen[2048] = "";
			size_t len = 0;
			for (int k = 0; k < g_cur->n_notices && len < sizeof(seen); k++)
				len += (size_t)snprintf(seen + len, sizeof(seen) - len, "%s[%s %s]",
							k ? ", " : "", g_cur->notices[k].code,
							g_cur->notices[k].msg);
			fail(path, line, sql, "expected notice '%s', got %s", notices->v[i],
			     g_cur->n_notices ? seen : "no notice");
			outcome_free(&o);
			return;
		}
	}
	pass();
	outcome_free(&o);
}

static void do_query(const char *path, int line, const char *sql, const char *opts,
		     struct strv *want)
{
	int rowsort = strstr(opts, "rowsort") != NULL;
	int colnames = strstr(opts, "colnames") != NULL;
	int types = strstr(opts, "types") != NULL;
	struct outcome o;
	struct strv got = { 0 };
	char desc[2048];

	run_sql(g_cur, sql, &o);
	describe(&o, desc, sizeof(desc));
	if (o.ok != 1 || !o.rows) {
		fail(path, line, sql, "expected rows, got %s", o.ok == 1 ? "no result set" : desc);
		outcome_free(&o);
		return;
	}
	PGresult *r = o.rows;
	size_t skip = 0;
	if (colnames) {
		size_t cap = 256, len = 0;
		char *h = calloc(1, cap);
		for (int c = 0; c < PQnfields(r); c++) {
			const char *n = PQfname(r, c);
			if (len + strlen(n) + 2 > cap) {
				cap = (len + strlen(n) + 2) * 2;
				h = realloc(h, cap);
			}
			len += (size_t)sprintf(h + len, "%s%s", c ? "|" : "", n);
		}
		strv_push(&got, h);
		skip++;
	}
	if (types) {
		char *h = calloc(1, 32 * (size_t)(PQnfields(r) + 1));
		size_t len = 0;
		for (int c = 0; c < PQnfields(r); c++) {
			char b[16];
			len += (size_t)sprintf(h + len, "%s%s", c ? "|" : "", type_name(PQftype(r, c), b));
		}
		strv_push(&got, h);
		skip++;
	}
	for (int i = 0; i < PQntuples(r); i++)
		strv_push(&got, render_row(r, i));
	/* "(empty)" in the expectation stands for an empty rendering. */
	for (size_t i = 0; i < want->n; i++)
		if (!strcmp(want->v[i], "(empty)"))
			want->v[i][0] = '\0';
	if (rowsort) {
		if (got.n > skip)
			qsort(got.v + skip, got.n - skip, sizeof(char *), cmp_str);
		if (want->n > skip)
			qsort(want->v + skip, want->n - skip, sizeof(char *), cmp_str);
	}
	size_t i;
	for (i = 0; i < got.n && i < want->n; i++)
		if (!msg_matches(want->v[i], got.v[i]))
			break;
	if (i < got.n || i < want->n) {
		fail(path, line, sql, "result mismatch at row %zu: expected '%s', got '%s'",
		     i + 1, i < want->n ? want->v[i] : "(no more rows)",
		     i < got.n ? got.v[i] : "(no more rows)");
		if (g_verbose) {
			printf("  --- expected\n");
			for (size_t k = 0; k < want->n; k++)
				printf("  %s\n", want->v[k]);
			printf("  --- actual\n");
			for (size_t k = 0; k < got.n; k++)
				printf("  %s\n", got.v[k]);
		}
	} else {
		pass();
	}
	strv_free(&got);
	outcome_free(&o);
}

static int run_file(const char *path)
{
	struct reader rd = { .path = path };
	char *l;
	int rc = 0;

	rd.f = fopen(path, "r");
	if (!rd.f) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	if (th_start(&g_td) < 0) {
		printf("%s:0: tetherd did not start (log %s)\n", path, g_td.log_path);
		g_fail++;
		fclose(rd.f);
		return -1;
	}
	g_n_sessions = 0;
	g_cur = session_get("default", NULL);
	while ((l = next_line(&rd))) {
		const char *rest;
		int line = rd.lineno, dashes;

		if (is_blank(l) || l[0] == '#') {
			free(l);
			continue;
		}
		if (!strcmp(l, "halt")) {
			free(l);
			break;
		}
		if ((rest = word(l, "connection"))) {
			char name[64] = "", role[64] = "";
			if (sscanf(rest, "%63s %63s", name, role) < 1) {
				printf("%s:%d: bad connection line\n", path, line);
				g_fail++;
			} else {
				struct session *s = session_get(name, role[0] ? role : NULL);
				if (!s || !s->conn) {
					printf("%s:%d: cannot open session %s as %s\n", path, line,
					       name, role[0] ? role : "materialize");
					g_fail++;
				} else {
					g_cur = s;
				}
			}
			free(l);
			continue;
		}
		if ((rest = word(l, "statement"))) {
			const char *r2;
			if (!strcmp(rest, "ok")) {
				struct strv none = { 0 };
				char *sql = read_sql(&rd, 0, &dashes);
				do_statement_ok(path, line, sql, &none);
				free(sql);
			} else if ((r2 = word(rest, "notice"))) {
				struct strv notices = { 0 };
				char *n;
				strv_push(&notices, expand(r2));
				while ((n = next_line(&rd))) {
					const char *r3 = word(n, "notice");
					if (!r3) {
						rd.pushed = n;
						rd.pushed_lineno = rd.lineno;
						rd.lineno--;
						break;
					}
					strv_push(&notices, expand(r3));
					free(n);
				}
				char *sql = read_sql(&rd, 0, &dashes);
				do_statement_ok(path, line, sql, &notices);
				free(sql);
				strv_free(&notices);
			} else if ((r2 = word(rest, "error"))) {
				struct expect_err x = { 0 };
				size_t len = strcspn(r2, " ");
				char *n;
				if (len == 0 || len >= sizeof(x.code)) {
					printf("%s:%d: statement error needs a SQLSTATE\n", path, line);
					g_fail++;
				}
				snprintf(x.code, sizeof(x.code), "%.*s", (int)len, r2);
				r2 += len;
				while (*r2 == ' ')
					r2++;
				x.msg = *r2 ? expand(r2) : NULL;
				while ((n = next_line(&rd))) {
					const char *d = word(n, "detail"), *h = word(n, "hint");
					if (d) {
						x.detail = expand(d);
					} else if (h) {
						x.hint = expand(h);
					} else {
						rd.pushed = n;
						rd.pushed_lineno = rd.lineno;
						rd.lineno--;
						break;
					}
					free(n);
				}
				char *sql = read_sql(&rd, 0, &dashes);
				do_statement_error(path, line, sql, &x);
				free(sql);
				free(x.msg);
				free(x.detail);
				free(x.hint);
			} else {
				printf("%s:%d: unknown statement kind '%s'\n", path, line, rest);
				g_fail++;
				free(read_sql(&rd, 0, &dashes));
			}
		} else if ((rest = word(l, "bind"))) {
			char *sql = read_sql(&rd, 0, &dashes);
			struct outcome o;
			run_sql(g_cur, sql, &o);
			if (o.ok == 1 && o.rows && PQntuples(o.rows) > 0 && PQnfields(o.rows) > 0) {
				var_set(rest, PQgetisnull(o.rows, 0, 0) ? "NULL" : PQgetvalue(o.rows, 0, 0));
				pass();
			} else {
				char desc[2048];
				describe(&o, desc, sizeof(desc));
				fail(path, line, sql, "bind %s: expected a row, got %s", rest,
				     o.ok == 1 ? "no rows" : desc);
				var_set(rest, "<unbound>");
			}
			outcome_free(&o);
			free(sql);
		} else if ((rest = word(l, "query"))) {
			struct strv want = { 0 };
			char *sql = read_sql(&rd, 1, &dashes), *w;
			if (!dashes) {
				printf("%s:%d: query without ----\n", path, line);
				g_fail++;
			} else {
				while ((w = next_line(&rd))) {
					if (is_blank(w)) {
						free(w);
						break;
					}
					strv_push(&want, expand(w));
					free(w);
				}
				do_query(path, line, sql, rest, &want);
			}
			strv_free(&want);
			free(sql);
		} else {
			printf("%s:%d: unknown record '%s'\n", path, line, l);
			g_fail++;
		}
		free(l);
	}
	for (int i = 0; i < g_n_sessions; i++) {
		notices_clear(&g_sessions[i]);
		PQfinish(g_sessions[i].conn);
	}
	fclose(rd.f);
	vars_clear();
	if (th_stop(&g_td) != 0) {
		printf("%s:0: tetherd did not exit cleanly (log %s)\n", path, g_td.log_path);
		g_fail++;
		rc = -1;
	}
	if (getenv("TETHER_KEEP_TEST_DIRS"))
		printf("%s: data dir kept at %s\n", path, g_td.dir);
	th_cleanup(&g_td);
	return rc;
}

int main(int argc, char **argv)
{
	int first = 1;

	if (argc > 1 && !strcmp(argv[1], "-v")) {
		g_verbose = 1;
		first = 2;
	}
	if (first >= argc) {
		fprintf(stderr, "usage: %s [-v] FILE.test...\n", argv[0]);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = first; i < argc; i++)
		run_file(argv[i]);
	printf("%ld passed, %ld failed\n", g_pass, g_fail);
	return g_fail ? 1 : 0;
}
