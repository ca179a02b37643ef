/* libFuzzer target: validator checks against hostile HTTP peers. The real
 * checks (validator/conn_csr.c, conn_iceberg.c, conn_aws.c over http.c and
 * libcurl) run unchanged; only the network is replaced: curl_easy_perform
 * is interposed here and answers each request with a reply taken from the
 * input (transport error, or status, Content-Type and a body delivered in
 * pieces through the handle's write callback), so the JSON (Schema
 * Registry, Iceberg REST config and OAuth token) and XML (STS) reply
 * parsing and the error wording see arbitrary replies. Invariants: a
 * check ends with a result (no crash, no leak), a failure has a SQLSTATE
 * and a message, and no secret value of the job appears in the result's
 * message, detail or hint, even when a reply echoes it. */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "log.h"
#include "val.h"

/* ---- the replies ---- */
static struct {
	const uint8_t *p;
	size_t n;
	int requests;
} in;

static uint8_t u8(void)
{
	if (!in.n)
		return 0;
	in.n--;
	return *in.p++;
}

struct handle_cb {
	CURL *h;
	curl_write_callback write;
	void *write_data;
	long status;
	const char *ctype;
};
#define MAX_HANDLES 8
static struct handle_cb handles[MAX_HANDLES];

static struct handle_cb *cb_of(CURL *h, int create)
{
	for (int i = 0; i < MAX_HANDLES; i++)
		if (handles[i].h == h)
			return &handles[i];
	if (create)
		for (int i = 0; i < MAX_HANDLES; i++)
			if (!handles[i].h) {
				memset(&handles[i], 0, sizeof(handles[i]));
				handles[i].h = h;
				return &handles[i];
			}
	return NULL;
}

/* Interposed: records the write callback, forwards everything to libcurl.
 * Every option takes one argument of pointer size (long, pointer,
 * curl_off_t and function pointers all travel in one register). */
CURLcode curl_easy_setopt(CURL *h, CURLoption opt, ...)
{
	static CURLcode (*real)(CURL *, CURLoption, ...);
	va_list ap;
	void *arg;

	va_start(ap, opt);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (!real)
		*(void **)&real = dlsym(RTLD_NEXT, "curl_easy_setopt");
	struct handle_cb *c = cb_of(h, 1);
	if (c && opt == CURLOPT_WRITEFUNCTION)
		c->write = (curl_write_callback)arg;
	if (c && opt == CURLOPT_WRITEDATA)
		c->write_data = arg;
	return real(h, opt, arg);
}

void curl_easy_cleanup(CURL *h)
{
	static void (*real)(CURL *);
	struct handle_cb *c = cb_of(h, 0);

	if (!real)
		*(void **)&real = dlsym(RTLD_NEXT, "curl_easy_cleanup");
	if (c)
		c->h = NULL;
	real(h);
}

static const char *const ctypes[] = {
	"application/json", "application/vnd.schemaregistry.v1+json", "text/xml",
	"text/html", "application/xml; charset=utf-8", "", "application/json; charset=utf-8",
};
static const long statuses[] = { 200, 200, 200, 401, 403, 404, 500, 302, 400, 204, 0, 999 };
static const CURLcode errors[] = { CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_CONNECT,
				   CURLE_OPERATION_TIMEDOUT, CURLE_SSL_CONNECT_ERROR,
				   CURLE_PEER_FAILED_VERIFICATION, CURLE_GOT_NOTHING,
				   CURLE_WRITE_ERROR, CURLE_RECV_ERROR };

/* Interposed: no network; the reply comes from the input. */
CURLcode curl_easy_perform(CURL *h)
{
	struct handle_cb *c = cb_of(h, 1);
	uint8_t how = u8();
	size_t len;

	in.requests++;
	if (how >= 240)
		return errors[how % (sizeof(errors) / sizeof(errors[0]))];
	c->status = statuses[how % (sizeof(statuses) / sizeof(statuses[0]))];
	c->ctype = ctypes[(how >> 4) % (sizeof(ctypes) / sizeof(ctypes[0]))];
	len = (size_t)u8() | (size_t)u8() << 8;
	if (len > in.n)
		len = in.n;
	/* The body in up to three pieces, as a server's packets would come. */
	for (size_t off = 0, piece = 0; off < len; piece++) {
		size_t n = piece < 2 ? (len - off) / 2 + 1 : len - off;
		char *copy = malloc(n);
		if (n > len - off)
			n = len - off;
		memcpy(copy, in.p + off, n);
		size_t took = c->write ? c->write(copy, 1, n, c->write_data) : n;
		free(copy);
		if (took != n) {
			in.p += len;
			in.n -= len;
			return CURLE_WRITE_ERROR;
		}
		off += n;
	}
	in.p += len;
	in.n -= len;
	return CURLE_OK;
}

CURLcode curl_easy_getinfo(CURL *h, CURLINFO info, ...)
{
	static CURLcode (*real)(CURL *, CURLINFO, ...);
	struct handle_cb *c = cb_of(h, 0);
	va_list ap;
	void *arg;

	va_start(ap, info);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (c && info == CURLINFO_RESPONSE_CODE) {
		*(long *)arg = c->status;
		return CURLE_OK;
	}
	if (c && info == CURLINFO_CONTENT_TYPE) {
		*(const char **)arg = c->ctype[0] ? c->ctype : NULL;
		return CURLE_OK;
	}
	if (!real)
		*(void **)&real = dlsym(RTLD_NEXT, "curl_easy_getinfo");
	return real(h, info, arg);
}

/* ---- the job ---- */

static const char *const secrets[] = {
	"Sup3r-S3cret-Passw0rd", "client-id-007:client-secret-XYZ", "AKIAFUZZFUZZFUZZ",
	"wJalrXUtnFEMI/K7MDENG/bPxRfiCYFUZZKEY", "FwoGZXIvYXdzEFUZZTOKEN",
};
#define NSECRETS (sizeof(secrets) / sizeof(secrets[0]))

static int fetch(void *ctx, uint64_t id, const char *dest, unsigned char **value, size_t *len,
		 struct err *e)
{
	(void)ctx;
	(void)dest;
	if (id < 1 || id > NSECRETS) {
		err_set(e, "42704", "no such secret");
		return -1;
	}
	*len = strlen(secrets[id - 1]);
	*value = malloc(*len + 1);
	memcpy(*value, secrets[id - 1], *len + 1);
	return 0;
}

static void release(void *ctx, unsigned char *value, size_t len)
{
	(void)ctx;
	explicit_bzero(value, len);
	free(value);
}

static int sign(void *ctx, uint64_t id, int slot, const unsigned char *data, size_t len,
		unsigned char sig[64], struct err *e)
{
	(void)ctx; (void)id; (void)slot; (void)data; (void)len; (void)sig;
	err_set(e, "XX000", "no signing here");
	return -1;
}

#define T(s) { s, 0 }
#define S(id) { NULL, id }
static const struct val_part p_url_https[] = { T("https://registry.example:8081") };
static const struct val_part p_url_http[] = { T("http://[::1]:8181/api/catalog") };
static const struct val_part p_user[] = { T("fuzz-user") };
static const struct val_part p_pass[] = { S(1) };
static const struct val_part p_cred[] = { S(2) };
static const struct val_part p_rest[] = { T("rest") };
static const struct val_part p_s3[] = { T("s3tablesrest") };
static const struct val_part p_wh[] = { T("arn:aws:s3tables:us-east-1:1:bucket/b") };
static const struct val_part p_akid[] = { S(3) };
static const struct val_part p_sak[] = { S(4) };
static const struct val_part p_tok[] = { S(5) };
static const struct val_part p_region[] = { T("us-east-1") };
static const struct val_part p_role[] = { T("arn:aws:iam::123456789012:role/r") };
static const struct val_part p_ext[] = { T("mz_inst_u12") };
static const struct val_part p_sess[] = { T("inst-u12") };
static const struct val_part p_endpoint[] = { T("http://127.0.0.1:9/sts") };
#define O(n, p) { n, p, sizeof(p) / sizeof(p[0]) }

static const struct val_option o_csr[] = {
	O("URL", p_url_https), O("USERNAME", p_user), O("PASSWORD", p_pass),
};
static const struct val_option o_ice_rest[] = {
	O("URL", p_url_http), O("CATALOG TYPE", p_rest), O("CREDENTIAL", p_cred),
};
static const struct val_option o_ice_s3[] = {
	O("URL", p_url_https), O("CATALOG TYPE", p_s3), O("WAREHOUSE", p_wh),
	O("AWS CONNECTION/ACCESS KEY ID", p_akid), O("AWS CONNECTION/SECRET ACCESS KEY", p_sak),
	O("AWS CONNECTION/SESSION TOKEN", p_tok), O("AWS CONNECTION/REGION", p_region),
};
static const struct val_option o_aws_keys[] = {
	O("ACCESS KEY ID", p_akid), O("SECRET ACCESS KEY", p_sak), O("SESSION TOKEN", p_tok),
	O("REGION", p_region), O("ENDPOINT", p_endpoint),
};
static const struct val_option o_aws_role[] = {
	O("ASSUME ROLE ARN", p_role), O("ASSUME ROLE SESSION NAME", p_sess),
	O(VAL_OPT_AWS_EXTERNAL_ID, p_ext), O("REGION", p_region),
	O(VAL_OPT_TETHER_AWS_ROLE_ARN, p_role), O(VAL_OPT_TETHER_AWS_ACCESS_KEY_ID, p_akid),
	O(VAL_OPT_TETHER_AWS_SECRET_ACCESS_KEY, p_sak), O(VAL_OPT_TETHER_REGION, p_region),
};

static const struct {
	const char *type;
	val_check_fn fn;
	const struct val_option *opts;
	size_t n;
	/* bit i: secrets[i] is a value of the job that must never show. The
	 * ACCESS KEY ID (secrets[2]) is an identifier the checks leave in
	 * messages on purpose (AWS names it in its errors), even when it was
	 * given as a SECRET. */
	unsigned secrets;
} jobs[] = {
	{ "confluent-schema-registry", conn_csr_validate, o_csr, 3, 1u << 0 },
	{ "iceberg", conn_iceberg_validate, o_ice_rest, 3, 1u << 1 },
	{ "iceberg", conn_iceberg_validate, o_ice_s3, 7, 1u << 3 | 1u << 4 },
	{ "aws", conn_aws_validate, o_aws_keys, 5, 1u << 3 | 1u << 4 },
	{ "aws", conn_aws_validate, o_aws_role, 8, 1u << 3 },
};
#define NJOBS (sizeof(jobs) / sizeof(jobs[0]))

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_init("fuzz");
	log_set_level((enum log_level)(LOG_ERROR + 1));
	curl_global_init(CURL_GLOBAL_DEFAULT);
	return 0;
}

static void no_secret(unsigned mask, const char *what, const char *text)
{
	for (size_t i = 0; i < NSECRETS; i++)
		if ((mask & (1u << i)) && text && strstr(text, secrets[i])) {
			fprintf(stderr, "fuzz_val_replies: secret %zu in the result's %s: %s\n", i + 1,
				what, text);
			abort();
		}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct val_services svc = { NULL, fetch, release, sign, NULL };
	struct val_result r;
	struct val_job job;
	size_t k;

	if (size < 1)
		return 0;
	k = data[0] % NJOBS;
	in.p = data + 1;
	in.n = size - 1;
	in.requests = 0;
	memset(&r, 0, sizeof(r));
	memset(&job, 0, sizeof(job));
	job.job_id = 1;
	job.connection_id = 12;
	job.type = jobs[k].type;
	job.options = jobs[k].opts;
	job.noptions = jobs[k].n;
	job.connect_timeout_ms = 1000;
	(void)jobs[k].fn(&svc, &job, &r);
	if (r.code != VAL_OK && (!r.e.sqlstate[0] || !r.e.message[0])) {
		fprintf(stderr, "fuzz_val_replies: failure %d without SQLSTATE or message\n", r.code);
		abort();
	}
	no_secret(jobs[k].secrets, "message", r.e.message);
	no_secret(jobs[k].secrets, "detail", r.e.detail);
	no_secret(jobs[k].secrets, "hint", r.e.hint);
	return 0;
}
