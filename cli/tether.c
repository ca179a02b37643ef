/* `tether`, the operator's command: status, audit verification, key
 * rotation and first-time set-up. It talks to tetherd's control socket
 * over pgwire (libpq) like any client; `audit verify` reads log files
 * offline. It never touches key material. Exit codes in usage(). */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "audit.h"
#include "config.h"
#include "err.h"

enum {
	EX_OK = 0,              /* done; status: everything up */
	EX_FAIL = 1,            /* tampering found, a child down, operation failed */
	EX_USAGE = 2,
	EX_CONNECT = 3,         /* cannot reach tetherd */
};

#define DEFAULT_DATA_DIR "./data"
#define DEFAULT_PORT "6875"
#define DEFAULT_USER "materialize"
/* Where the catalog shows key rotation progress (catalog/ddl_keys.c,
 * store.c migration 6). */
#define ROTATION_VIEW "tether_internal.tether_key_rotation"

struct conn_opts {
	const char *data_dir;
	const char *host;
	const char *port;
	const char *user;
};

static const char main_usage[] =
	"usage: tether COMMAND [OPTIONS]\n"
	"\n"
	"Commands:\n"
	"  status              children, sandbox state, key terms, object counts\n"
	"  audit verify PATH…  check audit log files offline (hash chain, checkpoints)\n"
	"  rotate data-key     start a data-key rotation and follow its progress\n"
	"  rotate master-key   re-wrap the keyring under a new master key\n"
	"  init                create the data directory (and, as root, the service users)\n"
	"\n"
	"Connection options (status, rotate):\n"
	"  -D, --data-dir DIR  data directory whose control socket to use (default ./data)\n"
	"  -h, --host HOST     socket directory or host (overrides --data-dir)\n"
	"  -p, --port PORT     port (default 6875)\n"
	"  -U, --user ROLE     role to log in as (default materialize)\n"
	"\n"
	"Exit codes: 0 ok, 1 failure found or operation failed, 2 usage error,\n"
	"3 cannot connect to tetherd.\n"
	"`tether COMMAND --help` describes each command.\n";

static const char status_usage[] =
	"usage: tether status [-D DIR | -h HOST] [-p PORT] [-U ROLE]\n"
	"\n"
	"Prints tetherd and its children (pid, uptime, restarts, user, seccomp,\n"
	"no_new_privs, Landlock), the vault's key terms and audit log position,\n"
	"and object counts. Exit 0 when every child is up, 1 when one is not,\n"
	"3 when tetherd cannot be reached.\n";

static const char verify_usage[] =
	"usage: tether audit verify [--pubkey KEY] PATH...\n"
	"\n"
	"Verifies audit log files offline. PATH is a file (several files of one\n"
	"chain are given oldest first: audit.log.1 audit.log.2 audit.log) or a\n"
	"directory (DATA/vault: its audit.log.N files in order, then audit.log).\n"
	"--pubkey KEY checks checkpoint signatures: an \"ssh-ed25519 AAAA...\" line,\n"
	"base64 or hex of the 32-byte key, or a file holding one (DATA/vault/audit.pub,\n"
	"copied somewhere the vault cannot write). Without it only the hash chain\n"
	"is checked.\n"
	"Exit 0 when every record verifies, 1 on any edit, deletion, insertion,\n"
	"reordering or truncation (the record number is printed), 2 usage.\n";

static const char rotate_usage[] =
	"usage: tether rotate data-key|master-key [--no-wait] [--timeout SECONDS]\n"
	"                     [-D DIR | -h HOST] [-p PORT] [-U ROLE]\n"
	"\n"
	"Sends ALTER SYSTEM ROTATE DATA KEY (or MASTER KEY) as a superuser role,\n"
	"then polls " ROTATION_VIEW " until the rotation is done\n"
	"(at most --timeout seconds, default 600). Exit 0 when done, 1 when the\n"
	"statement failed, the rotation failed or the wait timed out, 3 when\n"
	"tetherd cannot be reached.\n";

static const char init_usage[] =
	"usage: tether init [-D DIR] [--config FILE] [--create-users]\n"
	"\n"
	"Creates the data directory DIR (default ./data) with DIR/vault and\n"
	"DIR/catalog, mode 0700. With --create-users (as root), creates the system\n"
	"users the roles run as when tetherd starts as root: users.vault,\n"
	"users.catalog and users.validator of the configuration (--config FILE,\n"
	"else DIR/tether.conf if present; defaults tether-vault, tether-catalog,\n"
	"tether-validator), each with its own group:\n"
	"  useradd --system --user-group --no-create-home --home-dir /nonexistent\n"
	"          --shell /usr/sbin/nologin NAME\n"
	"and gives DIR/vault and DIR/catalog to them. Existing users are kept.\n"
	"Exit 0 ok, 1 failed, 2 usage.\n";

/* ---- connection ---- */

static const struct option conn_longopts[] = {
	{ "data-dir", required_argument, NULL, 'D' },
	{ "host", required_argument, NULL, 'h' },
	{ "port", required_argument, NULL, 'p' },
	{ "user", required_argument, NULL, 'U' },
	{ "help", no_argument, NULL, 'H' },
	{ "no-wait", no_argument, NULL, 'n' },
	{ "timeout", required_argument, NULL, 't' },
	{ NULL, 0, NULL, 0 },
};

static PGconn *connect_tetherd(const struct conn_opts *o)
{
	char host[PATH_MAX];
	const char *keys[] = { "host", "port", "user", "dbname", "application_name",
			       "connect_timeout", NULL };
	const char *vals[7];
	PGconn *c;

	if (o->host)
		snprintf(host, sizeof(host), "%s", o->host);
	else if (!realpath(o->data_dir, host))
		snprintf(host, sizeof(host), "%s", o->data_dir);
	vals[0] = host;
	vals[1] = o->port;
	vals[2] = o->user;
	vals[3] = "materialize";
	vals[4] = "tether-cli";
	vals[5] = "10";
	vals[6] = NULL;
	c = PQconnectdbParams(keys, vals, 0);
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "tether: cannot connect to tetherd at %s port %s: %s", host,
			o->port, PQerrorMessage(c));
		PQfinish(c);
		return NULL;
	}
	return c;
}

/* A query whose failure is reported; NULL then. */
static PGresult *query(PGconn *c, const char *sql, int quiet)
{
	PGresult *r = PQexec(c, sql);

	if (PQresultStatus(r) == PGRES_TUPLES_OK || PQresultStatus(r) == PGRES_COMMAND_OK)
		return r;
	if (!quiet)
		fprintf(stderr, "tether: %s: %s", sql, PQresultErrorMessage(r));
	PQclear(r);
	return NULL;
}

static const char *col(PGresult *r, int row, const char *name)
{
	int f = PQfnumber(r, name);

	if (f < 0 || PQgetisnull(r, row, f))
		return NULL;
	return PQgetvalue(r, row, f);
}

static const char *or_dash(const char *s)
{
	return s && *s ? s : "-";
}

static void fmt_duration(const char *secs, char *out, size_t size)
{
	long s;

	if (!secs) {
		snprintf(out, size, "-");
		return;
	}
	s = strtol(secs, NULL, 10);
	if (s >= 86400)
		snprintf(out, size, "%ldd%02ldh", s / 86400, s % 86400 / 3600);
	else if (s >= 3600)
		snprintf(out, size, "%ldh%02ldm", s / 3600, s % 3600 / 60);
	else if (s >= 60)
		snprintf(out, size, "%ldm%02lds", s / 60, s % 60);
	else
		snprintf(out, size, "%lds", s);
}

static int parse_conn_opts(int argc, char **argv, struct conn_opts *o, int *help,
			   int *no_wait, long *timeout)
{
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "D:h:p:U:", conn_longopts, NULL)) != -1) {
		switch (ch) {
		case 'D': o->data_dir = optarg; break;
		case 'h': o->host = optarg; break;
		case 'p': o->port = optarg; break;
		case 'U': o->user = optarg; break;
		case 'H': *help = 1; break;
		case 'n':
			if (!no_wait)
				return -1;
			*no_wait = 1;
			break;
		case 't': {
			char *end;

			if (!timeout)
				return -1;
			*timeout = strtol(optarg, &end, 10);
			if (*end || *timeout <= 0)
				return -1;
			break;
		}
		default:
			return -1;
		}
	}
	return 0;
}

/* ---- status ---- */

/* Counts rows of a catalog query (the SELECT subset has no GROUP BY). */
static long count_rows(PGconn *c, const char *sql)
{
	PGresult *r = query(c, sql, 0);
	long n;

	if (!r)
		return -1;
	n = PQntuples(r);
	PQclear(r);
	return n;
}

static void print_connection_counts(PGconn *c)
{
	PGresult *r = query(c, "SELECT type FROM mz_catalog.mz_connections", 0);
	struct { char type[64]; long n; } t[32];
	size_t nt = 0;

	if (!r)
		return;
	for (int i = 0; i < PQntuples(r); i++) {
		const char *ty = PQgetvalue(r, i, 0);
		size_t k;

		for (k = 0; k < nt && strcmp(t[k].type, ty); k++)
			;
		if (k == nt && nt < sizeof(t) / sizeof(t[0])) {
			snprintf(t[nt].type, sizeof(t[nt].type), "%s", ty);
			t[nt++].n = 0;
		}
		if (k < nt)
			t[k].n++;
	}
	printf("  connections:  %d", PQntuples(r));
	for (size_t k = 0; k < nt; k++)
		printf("%s%s %ld", k ? ", " : " (", t[k].type, t[k].n);
	printf("%s\n", nt ? ")" : "");
	PQclear(r);
}

static int cmd_status(int argc, char **argv, struct conn_opts *o)
{
	int help = 0, all_up = 1;
	PGconn *c;
	PGresult *p, *s = NULL;

	if (parse_conn_opts(argc, argv, o, &help, NULL, NULL) != 0 || optind != argc) {
		fputs(status_usage, stderr);
		return EX_USAGE;
	}
	if (help) {
		fputs(status_usage, stdout);
		return EX_OK;
	}
	c = connect_tetherd(o);
	if (!c)
		return EX_CONNECT;
	p = query(c, "SELECT * FROM tether_internal.tether_processes", 0);
	if (!p) {
		PQfinish(c);
		return EX_FAIL;
	}
	/* The vault's counters are fetched on demand: wait (bounded) for an
	 * answer younger than 1.5 s. */
	for (int tries = 0; tries < 30; tries++) {
		const char *age;

		PQclear(s);
		s = query(c, "SELECT * FROM tether_internal.tether_status", 0);
		if (!s)
			break;
		age = PQntuples(s) ? col(s, 0, "vault_status_age_ms") : NULL;
		if (age && strtol(age, NULL, 10) < 1500)
			break;
		usleep(100 * 1000);
	}

	printf("%-10s %-7s %-4s %-9s %-8s %-22s %-8s %-4s %s\n", "ROLE", "PID", "UP",
	       "UPTIME", "RESTARTS", "USER (UID)", "SECCOMP", "NNP", "LANDLOCK");
	if (PQntuples(p) == 0)
		printf("(tetherd has not reported its children yet)\n");
	for (int i = 0; i < PQntuples(p); i++) {
		char up[32], user[64];
		const char *role = col(p, i, "role"), *isup = col(p, i, "up");
		const char *nnp = col(p, i, "no_new_privs");

		fmt_duration(col(p, i, "uptime_s"), up, sizeof(up));
		snprintf(user, sizeof(user), "%s (%s)", or_dash(col(p, i, "user")),
			 or_dash(col(p, i, "uid")));
		printf("%-10s %-7s %-4s %-9s %-8s %-22s %-8s %-4s %s\n", or_dash(role),
		       or_dash(col(p, i, "pid")), isup && !strcmp(isup, "1") ? "yes" : "NO",
		       up, or_dash(col(p, i, "restarts")), user,
		       or_dash(col(p, i, "seccomp")),
		       !nnp ? "-" : !strcmp(nnp, "1") ? "yes" : "no",
		       or_dash(col(p, i, "landlock")));
		if (col(p, i, "last_exit"))
			printf("%-10s last exit: %s\n", "", col(p, i, "last_exit"));
		if (!isup || strcmp(isup, "1"))
			all_up = 0;
	}
	if (PQntuples(p) == 0)
		all_up = 0;
	if (s && PQntuples(s)) {
		const char *term = col(s, 0, "current_key_term");

		printf("\nvalidators running: %s\n", or_dash(col(s, 0, "validators_running")));
		if (term)
			printf("keys:   data-key term %s (%s term%s in the keyring)\n", term,
			       or_dash(col(s, 0, "key_terms")),
			       col(s, 0, "key_terms") && !strcmp(col(s, 0, "key_terms"), "1") ?
			       "" : "s");
		else
			printf("keys:   (the vault has not answered)\n");
		if (col(s, 0, "audit_last_seq"))
			printf("audit:  last seq %s, audit.log %s bytes\n",
			       col(s, 0, "audit_last_seq"), or_dash(col(s, 0, "audit_bytes")));
	}
	printf("\nobjects:\n");
	printf("  secrets:      %ld\n", count_rows(c, "SELECT id FROM mz_catalog.mz_secrets"));
	print_connection_counts(c);
	printf("  roles:        %ld\n", count_rows(c, "SELECT id FROM mz_catalog.mz_roles"));
	PQclear(p);
	PQclear(s);
	PQfinish(c);
	return all_up ? EX_OK : EX_FAIL;
}

/* ---- audit verify ---- */

#define VERIFY_MAX_FILES 4096

static int by_rotation_index(const void *a, const void *b)
{
	const char *x = *(const char *const *)a, *y = *(const char *const *)b;
	const char *dx = strrchr(x, '.'), *dy = strrchr(y, '.');
	long nx = strtol(dx + 1, NULL, 10), ny = strtol(dy + 1, NULL, 10);

	return (nx > ny) - (nx < ny);
}

/* DIR: its audit.log.N (ascending N), then audit.log. */
static int expand_dir(const char *dir, char **paths, size_t *n, size_t max)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t first = *n;
	char path[PATH_MAX];

	if (!d)
		return -1;
	while ((de = readdir(d)) != NULL) {
		const char *suffix;
		char *end;

		if (strncmp(de->d_name, "audit.log.", 10))
			continue;
		suffix = de->d_name + 10;
		strtoul(suffix, &end, 10);
		if (!*suffix || *end || *n >= max)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		paths[(*n)++] = strdup(path);
	}
	closedir(d);
	qsort(paths + first, *n - first, sizeof(*paths), by_rotation_index);
	snprintf(path, sizeof(path), "%s/audit.log", dir);
	if (access(path, F_OK) == 0 && *n < max)
		paths[(*n)++] = strdup(path);
	return 0;
}

static int cmd_audit_verify(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "pubkey", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'H' },
		{ NULL, 0, NULL, 0 },
	};
	const char *pubkey = NULL;
	unsigned char pk[AUDIT_PK_BYTES];
	char **paths = calloc(VERIFY_MAX_FILES, sizeof(*paths));
	size_t n = 0;
	struct audit_verify_report rep;
	struct err e;
	int ch, rc;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "k:", longopts, NULL)) != -1) {
		if (ch == 'k')
			pubkey = optarg;
		else if (ch == 'H') {
			fputs(verify_usage, stdout);
			free(paths);
			return EX_OK;
		} else {
			fputs(verify_usage, stderr);
			free(paths);
			return EX_USAGE;
		}
	}
	if (optind >= argc || !paths) {
		fputs(verify_usage, stderr);
		free(paths);
		return EX_USAGE;
	}
	if (pubkey && audit_pubkey_parse(pubkey, pk, &e) != 0) {
		fprintf(stderr, "tether: --pubkey: %s\n", e.message);
		free(paths);
		return EX_USAGE;
	}
	for (int i = optind; i < argc; i++) {
		struct stat sb;

		if (stat(argv[i], &sb) == 0 && S_ISDIR(sb.st_mode)) {
			size_t before = n;

			if (expand_dir(argv[i], paths, &n, VERIFY_MAX_FILES) != 0 || n == before) {
				fprintf(stderr, "tether: %s: no audit.log files\n", argv[i]);
				rc = EX_FAIL;
				goto out;
			}
		} else if (n < VERIFY_MAX_FILES) {
			paths[n++] = strdup(argv[i]);
		}
	}
	memset(&rep, 0, sizeof(rep));
	err_clear(&e);
	rc = audit_verify_files((const char *const *)paths, n, pubkey ? pk : NULL, &rep, &e);
	for (size_t i = 0; i < n; i++)
		printf("file %zu: %s\n", i + 1, paths[i]);
	if (rc != 0) {
		printf("TAMPERED or damaged: %s\n", e.message[0] ? e.message : rep.problem);
		if (rep.bad_record)
			printf("  file %s, record %llu (expected seq %llu): %s\n",
			       rep.bad_file < n ? paths[rep.bad_file] : "?",
			       (unsigned long long)rep.bad_record,
			       (unsigned long long)rep.bad_seq, rep.problem);
		printf("  %llu records verified before it\n", (unsigned long long)rep.records);
		rc = EX_FAIL;
		goto out;
	}
	printf("OK: %llu records, seq %llu..%llu%s\n", (unsigned long long)rep.records,
	       (unsigned long long)rep.first_seq, (unsigned long long)rep.last_seq,
	       rep.anchored ? "" : " (does not start at seq 1: older files not given)");
	printf("checkpoints: %llu, last at seq %llu; %llu record%s after it (not yet sealed)\n",
	       (unsigned long long)rep.checkpoints,
	       (unsigned long long)rep.last_checkpoint_seq,
	       (unsigned long long)rep.unsealed, rep.unsealed == 1 ? "" : "s");
	printf("signatures: %s\n", rep.signatures_checked ? "verified with the given key" :
	       "NOT checked (no --pubkey)");
	rc = EX_OK;
out:
	for (size_t i = 0; i < n; i++)
		free(paths[i]);
	free(paths);
	return rc;
}

/* ---- rotate ---- */

/* The row of the newest data-key rotation (highest term) in r, or -1. */
static int newest_data_rotation(PGresult *r, long *term_out)
{
	int best = -1;
	long best_term = -1;

	for (int i = 0; i < PQntuples(r); i++) {
		const char *k = col(r, i, "kind"), *t = col(r, i, "term");

		if ((k && strcmp(k, "data")) || !t)
			continue;
		if (strtol(t, NULL, 10) > best_term) {
			best_term = strtol(t, NULL, 10);
			best = i;
		}
	}
	*term_out = best_term;
	return best;
}

static int cmd_rotate(int argc, char **argv, struct conn_opts *o)
{
	int help = 0, no_wait = 0;
	long timeout = 600;
	const char *kind, *sql;
	PGconn *c;
	PGresult *r;
	time_t deadline;

	if (parse_conn_opts(argc, argv, o, &help, &no_wait, &timeout) != 0) {
		fputs(rotate_usage, stderr);
		return EX_USAGE;
	}
	if (help) {
		fputs(rotate_usage, stdout);
		return EX_OK;
	}
	if (optind + 1 != argc) {
		fputs(rotate_usage, stderr);
		return EX_USAGE;
	}
	kind = argv[optind];
	if (!strcmp(kind, "data-key"))
		sql = "ALTER SYSTEM ROTATE DATA KEY";
	else if (!strcmp(kind, "master-key"))
		sql = "ALTER SYSTEM ROTATE MASTER KEY";
	else {
		fputs(rotate_usage, stderr);
		return EX_USAGE;
	}
	c = connect_tetherd(o);
	if (!c)
		return EX_CONNECT;
	/* Rotations already listed are not the one we start. */
	long before = -1;
	r = query(c, "SELECT * FROM " ROTATION_VIEW, 1);
	if (r) {
		newest_data_rotation(r, &before);
		PQclear(r);
	}
	r = query(c, sql, 0);
	if (!r) {
		PQfinish(c);
		return EX_FAIL;
	}
	PQclear(r);
	printf("%s: accepted\n", sql);
	if (no_wait || !strcmp(kind, "master-key")) {
		PQfinish(c);
		return EX_OK;
	}
	deadline = time(NULL) + timeout;
	for (;;) {
		const char *state, *done, *total, *term;

		r = query(c, "SELECT * FROM " ROTATION_VIEW, 1);
		if (!r) {
			printf("progress is not shown by this tetherd (%s); the rotation "
			       "continues in the background\n", ROTATION_VIEW);
			PQfinish(c);
			return EX_OK;
		}
		long term_now;
		int best = newest_data_rotation(r, &term_now);

		if (best < 0 || term_now <= before) {
			/* The vault's first progress report is not in yet. */
			PQclear(r);
			if (time(NULL) >= deadline) {
				fprintf(stderr, "tether: no progress reported within %ld s\n", timeout);
				PQfinish(c);
				return EX_FAIL;
			}
			usleep(200 * 1000);
			continue;
		}
		state = col(r, best, "state");
		done = col(r, best, "records_done");
		total = col(r, best, "records_total");
		term = col(r, best, "term");
		printf("term %s: %s, %s/%s records\n", or_dash(term), or_dash(state),
		       or_dash(done), or_dash(total));
		fflush(stdout);
		if (state && (!strcmp(state, "done") || !strcmp(state, "failed"))) {
			int ok = !strcmp(state, "done");

			PQclear(r);
			PQfinish(c);
			return ok ? EX_OK : EX_FAIL;
		}
		PQclear(r);
		if (time(NULL) >= deadline) {
			fprintf(stderr, "tether: rotation still running after %ld s; it continues "
				"in the background\n", timeout);
			PQfinish(c);
			return EX_FAIL;
		}
		sleep(1);
	}
}

/* ---- init ---- */

static int run_useradd(const char *name)
{
	const char *argv[] = { "useradd", "--system", "--user-group", "--no-create-home",
			       "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin",
			       name, NULL };
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		execv("/usr/sbin/useradd", (char *const *)argv);
		execvp("useradd", (char *const *)argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static int mkdir_mode(const char *path, mode_t mode)
{
	if (mkdir(path, mode) != 0 && errno != EEXIST)
		return -1;
	return chmod(path, mode);
}

static int chown_tree(const char *path, uid_t uid, gid_t gid)
{
	DIR *d;
	struct dirent *de;
	char sub[PATH_MAX];
	int rc = 0;

	if (lchown(path, uid, gid) != 0)
		return -1;
	d = opendir(path);
	if (!d)
		return errno == ENOTDIR ? 0 : -1;
	while ((de = readdir(d)) != NULL) {
		struct stat sb;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
		if (lstat(sub, &sb) != 0)
			continue;
		if (S_ISDIR(sb.st_mode))
			rc |= chown_tree(sub, uid, gid);
		else
			rc |= lchown(sub, uid, gid);
	}
	closedir(d);
	return rc;
}

static int cmd_init(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "data-dir", required_argument, NULL, 'D' },
		{ "config", required_argument, NULL, 'c' },
		{ "create-users", no_argument, NULL, 'u' },
		{ "help", no_argument, NULL, 'H' },
		{ NULL, 0, NULL, 0 },
	};
	static const struct { enum tcfg_key key; const char *sub; } roles[] = {
		{ TCFG_USER_VAULT, "vault" }, { TCFG_USER_CATALOG, "catalog" },
		{ TCFG_USER_VALIDATOR, NULL },
	};
	const char *dir = DEFAULT_DATA_DIR, *config = NULL;
	int create_users = 0, ch;
	char path[PATH_MAX], conf[PATH_MAX];
	struct tcfg cfg;
	struct err e;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "D:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'D': dir = optarg; break;
		case 'c': config = optarg; break;
		case 'u': create_users = 1; break;
		case 'H': fputs(init_usage, stdout); return EX_OK;
		default: fputs(init_usage, stderr); return EX_USAGE;
		}
	}
	if (optind != argc) {
		fputs(init_usage, stderr);
		return EX_USAGE;
	}
	umask(077);
	tcfg_init(&cfg);
	snprintf(conf, sizeof(conf), "%s/tether.conf", dir);
	if (config || access(conf, F_OK) == 0) {
		if (tcfg_load_file(&cfg, config ? config : conf, &e) != 0) {
			fprintf(stderr, "tether: %s\n", e.message);
			return EX_FAIL;
		}
	}
	if (mkdir_mode(dir, create_users ? 0711 : 0700) != 0) {
		fprintf(stderr, "tether: cannot create %s: %s\n", dir, strerror(errno));
		return EX_FAIL;
	}
	for (size_t i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, roles[i].sub);
		if (mkdir_mode(path, 0700) != 0) {
			fprintf(stderr, "tether: cannot create %s: %s\n", path, strerror(errno));
			return EX_FAIL;
		}
	}
	printf("data directory %s ready\n", dir);
	if (!create_users)
		return EX_OK;
	if (geteuid() != 0) {
		fprintf(stderr, "tether: --create-users needs root\n");
		return EX_FAIL;
	}
	for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++) {
		const char *name = tcfg_get(&cfg, roles[i].key);
		struct passwd *pw = getpwnam(name);

		if (pw) {
			printf("user %s exists (uid %u)\n", name, (unsigned)pw->pw_uid);
		} else if (run_useradd(name) != 0 || !(pw = getpwnam(name))) {
			fprintf(stderr, "tether: useradd %s failed\n", name);
			return EX_FAIL;
		} else {
			printf("user %s created (uid %u, group %u)\n", name, (unsigned)pw->pw_uid,
			       (unsigned)pw->pw_gid);
		}
		if (pw->pw_uid == 0) {
			fprintf(stderr, "tether: user %s has uid 0\n", name);
			return EX_FAIL;
		}
		if (roles[i].sub) {
			snprintf(path, sizeof(path), "%s/%s", dir, roles[i].sub);
			if (chown_tree(path, pw->pw_uid, pw->pw_gid) != 0) {
				fprintf(stderr, "tether: cannot give %s to %s: %s\n", path, name,
					strerror(errno));
				return EX_FAIL;
			}
			printf("%s owned by %s, mode 0700\n", path, name);
		}
	}
	return EX_OK;
}

/* ---- main ---- */

int main(int argc, char **argv)
{
	struct conn_opts o = {
		.data_dir = DEFAULT_DATA_DIR, .host = NULL, .port = DEFAULT_PORT,
		.user = DEFAULT_USER,
	};

	if (argc < 2) {
		fputs(main_usage, stderr);
		return EX_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		fputs(main_usage, stdout);
		return EX_OK;
	}
	if (!strcmp(argv[1], "status"))
		return cmd_status(argc - 1, argv + 1, &o);
	if (!strcmp(argv[1], "rotate"))
		return cmd_rotate(argc - 1, argv + 1, &o);
	if (!strcmp(argv[1], "init"))
		return cmd_init(argc - 1, argv + 1);
	if (!strcmp(argv[1], "audit")) {
		if (argc >= 3 && !strcmp(argv[2], "verify"))
			return cmd_audit_verify(argc - 2, argv + 2);
		if (argc >= 3 && !strcmp(argv[2], "--help")) {
			fputs(verify_usage, stdout);
			return EX_OK;
		}
		fputs(verify_usage, stderr);
		return EX_USAGE;
	}
	fprintf(stderr, "tether: unknown command '%s'\n\n%s", argv[1], main_usage);
	return EX_USAGE;
}
