/* libFuzzer target: the PostgreSQL wire protocol front end as a client
 * drives it. The input is the client's byte stream: startup-phase packets
 * (SSLRequest, StartupMessage, CancelRequest), then regular messages, fed
 * through the same calls as catalog/server.c's process_input
 * (pgw_frame_startup, pgw_parse_startup, cat_auth_login, pgw_frame_message,
 * cat_exec_message) against a real SQLite catalog on tmpfs, with no vault
 * attached (vault-backed statements wait or fail). Checks: every answer is
 * well framed, and the catalog is reset whenever an input changed it, so
 * runs stay reproducible. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "auth.h"
#include "exec.h"
#include "log.h"

static struct {
	char dir[128], path[160];
	unsigned char *pristine;      /* catalog.db right after creation */
	size_t pristine_len;
	struct cat_store st;
	struct cat_select sel;
	struct cat_vault vault;
	struct cat_ctx ctx;
	int open;
} g;

static void die(const char *what, const struct err *e)
{
	fprintf(stderr, "fuzz_pgwire: %s: %s %s\n", what, e ? e->sqlstate : "",
		e ? e->message : strerror(errno));
	abort();
}

static void file_write(const char *path, const unsigned char *p, size_t n)
{
	FILE *f = fopen(path, "wb");

	if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0)
		die(path, NULL);
}

static void db_close(void)
{
	if (!g.open)
		return;
	cat_select_close(&g.sel);
	cat_store_close(&g.st);
	g.open = 0;
}

static void db_open(void)
{
	struct err e;

	if (cat_store_open(&g.st, g.path, &e) < 0)
		die("cat_store_open", &e);
	if (cat_select_open(&g.sel, g.path, &e) < 0)
		die("cat_select_open", &e);
	cat_vault_init(&g.vault);
	g.ctx = (struct cat_ctx){ .store = &g.st, .sel = &g.sel, .vault = &g.vault };
	if (cat_ctx_sync_counters(&g.ctx, &e) < 0)
		die("cat_ctx_sync_counters", &e);
	g.open = 1;
}

/* Back to the freshly created catalog. */
static void db_reset(void)
{
	char wal[192];

	db_close();
	snprintf(wal, sizeof(wal), "%s-wal", g.path);
	unlink(wal);
	snprintf(wal, sizeof(wal), "%s-shm", g.path);
	unlink(wal);
	file_write(g.path, g.pristine, g.pristine_len);
	db_open();
}

static void cleanup(void)
{
	char cmd[192];

	db_close();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g.dir);
	(void)!system(cmd);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	FILE *f;
	long n = 0;

	(void)argc;
	(void)argv;
	log_init("fuzz");
	log_set_level((enum log_level)(LOG_ERROR + 1));
	snprintf(g.dir, sizeof(g.dir), "%s/tether-fuzz-pgwire-XXXXXX", base);
	if (!mkdtemp(g.dir))
		die("mkdtemp", NULL);
	atexit(cleanup);
	snprintf(g.path, sizeof(g.path), "%s/catalog.db", g.dir);
	db_open();
	db_close();                   /* checkpoints the WAL into the file */
	f = fopen(g.path, "rb");
	if (!f || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) <= 0)
		die("read pristine", NULL);
	rewind(f);
	g.pristine = malloc((size_t)n);
	if (!g.pristine || fread(g.pristine, 1, (size_t)n, f) != (size_t)n)
		die("read pristine", NULL);
	fclose(f);
	g.pristine_len = (size_t)n;
	db_reset();
	return 0;
}

/* Every answer the server queued must be a whole, well-framed message
 * (no partial writes, no length that lies). The one-byte 'N' answer to an
 * SSLRequest is not put there. */
static void check_output(const struct pgw_buf *out)
{
	size_t off = 0;

	while (off < out->len) {
		if (out->len - off < 5)
			abort();
		uint32_t n = (uint32_t)out->data[off + 1] << 24 | (uint32_t)out->data[off + 2] << 16 |
			     (uint32_t)out->data[off + 3] << 8 | out->data[off + 4];
		if (n < 4 || n > out->len - off - 1)
			abort();
		off += 1 + (size_t)n;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pgw_buf in = { 0 }, out = { 0 };
	struct cat_session sess;
	int have_session = 0, startup = 1, closing = 0;
	int changes_before = sqlite3_total_changes(g.st.db);

	if (pgw_buf_append(&in, data, size) < 0)
		return 0;
	while (!closing && in.len) {
		size_t body_len, total;
		enum pgw_frame f;
		char type;

		if (startup) {
			struct pgw_startup st;
			struct cat_role role;
			struct err e;

			f = pgw_frame_startup(in.data, in.len, &body_len, &total);
			if (f != PGW_FRAME_OK)
				break;
			err_clear(&e);
			if (pgw_parse_startup(in.data + 4, body_len, &st, &e) < 0) {
				pgw_error(&out, "FATAL", &e);
				break;
			}
			pgw_buf_consume(&in, total);
			if (st.code == PGW_SSL_REQUEST || st.code == PGW_GSSENC_REQUEST) {
				continue;       /* the server answers 'N' */
			}
			if (st.code == PGW_CANCEL_REQUEST)
				break;
			/* As root: any existing role may log in. */
			if (cat_auth_login(&g.st, "/etc/passwd", 0, 0, st.user, st.database,
					   &role, &e) < 0) {
				pgw_error(&out, "FATAL", &e);
				break;
			}
			if (cat_session_init(&sess, &role, st.database, st.application_name, 4242) < 0)
				break;
			have_session = 1;
			if (cat_session_report_all(&sess, &out) < 0 || pgw_ready(&out, 'I') < 0)
				break;
			startup = 0;
			continue;
		}
		f = pgw_frame_message(in.data, in.len, &type, &body_len, &total);
		if (f != PGW_FRAME_OK || type == 'X')
			break;
		switch (cat_exec_message(&g.ctx, &sess, &out, type, in.data + 5, body_len)) {
		case CAT_RUN_DONE:
			break;
		case CAT_RUN_PARKED:          /* waits for the vault: none here */
		case CAT_RUN_CLOSE:
			closing = 1;
			break;
		}
		pgw_buf_consume(&in, total);
	}
	check_output(&out);
	if (have_session)
		cat_session_free(&sess);
	pgw_buf_free(&in);
	pgw_buf_free(&out);
	if (sqlite3_total_changes(g.st.db) != changes_before)
		db_reset();
	return 0;
}
