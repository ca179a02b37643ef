/* Validator grants (vault/grants.c): a grant is audited with everything it
 * names; a release or signature inside it is audited before the value
 * exists outside the store; anything outside it (secret, key, destination,
 * deadline, not a userauth request) is denied and audited; a vault that
 * cannot write its log releases nothing. Then the real tether-vault over
 * its channels: Grant -> Reply only once durable, chunked 512 KiB value,
 * denial -> Reply + channel closed + KillValidator to tetherd. */
#include "vtest.h"

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>

#include <sodium.h>

#include "err.h"
#include "grants.h"
#include "ipc.h"
#include "keymem.h"
#include "ssh.h"
#include "vault.h"

#define TIMEOUT_MS 15000

static const char value1[] = "grant-test-secret-value-1";

static char *read_file(const char *path, size_t *len)
{
	static char buf[1 << 21];
	int fd = open(path, O_RDONLY);
	ssize_t n;

	assert_true(fd >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	assert_true(n >= 0);
	buf[n] = '\0';
	if (len)
		*len = (size_t)n;
	return buf;
}

static int audit_has(struct vtest *t, const char *needle)
{
	char path[400];

	snprintf(path, sizeof(path), "%s/audit.log", t->vdir);
	return strstr(read_file(path, NULL), needle) != NULL;
}

static void open_vault(struct vtest *t, struct vault *v)
{
	struct err e = { 0 };

	if (vault_open(v, t->dir, &e) < 0)
		fail_msg("vault_open: %s", e.message);
	/* u1 version 1 holds value1; u9 owns SSH keys. */
	struct vault_actor who = { "materialize", "materialize.public.s" };
	assert_int_equal(vault_secret_put(v, 1, 1, (const unsigned char *)value1,
					  strlen(value1), 0, &who, &e), 0);
	struct vault_ssh_pubkeys pk;
	assert_int_equal(vault_ssh_generate(v, 9, &who, &pk, &e), 0);
	assert_int_equal(vault_sync(v, &e), 0);
}

/* A Grant message: u1@v1, SSH keys of u9 (slots), destinations. */
struct gmsg {
	Tether__Grant g;
	Tether__SecretGrant s, *sp[1];
	Tether__SshKeyGrant k, *kp[1];
	uint32_t slots[2];
	char *dests[2];
};

static void gmsg_init(struct gmsg *m, uint64_t job, uint64_t deadline, unsigned nslots)
{
	tether__grant__init(&m->g);
	tether__secret_grant__init(&m->s);
	tether__ssh_key_grant__init(&m->k);
	m->s.object_id = 1;
	m->s.version = 1;
	m->sp[0] = &m->s;
	m->slots[0] = 1;
	m->slots[1] = 2;
	m->k.connection_id = 9;
	m->k.n_slots = nslots;
	m->k.slots = m->slots;
	m->kp[0] = &m->k;
	m->dests[0] = "db.example:5432";
	m->dests[1] = "bastion.example:22";
	m->g.job_id = job;
	m->g.connection_id = 5;
	m->g.n_secrets = 1;
	m->g.secrets = m->sp;
	m->g.n_ssh_keys = 1;
	m->g.ssh_keys = m->kp;
	m->g.n_destinations = 2;
	m->g.destinations = m->dests;
	m->g.deadline_monotonic_ms = deadline;
}

static struct vault_grant *add_grant(struct vault *v, struct vault_grants *t, uint64_t job,
				     uint64_t deadline, unsigned nslots)
{
	struct gmsg m;
	struct err e = { 0 };
	int sv[2];

	gmsg_init(&m, job, deadline, nslots);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	close(sv[1]);
	if (vault_grant_add(v, t, &m.g, sv[0], vault_grant_now_ms(), &e) < 0)
		fail_msg("vault_grant_add: %s", e.message);
	return vault_grant_find(t, job);
}

static void test_grant_is_audited_with_what_it_names(void **state)
{
	struct vtest *t = *state;
	struct vault v;
	struct vault_grants g = { 0 };

	open_vault(t, &v);
	assert_non_null(add_grant(&v, &g, 7, vault_grant_now_ms() + 30000, 2));
	assert_true(audit_has(t, "event=grant job=7 connection=u5 secrets=u1@v1 ssh_keys=u9:1+2 "
			      "destinations=db.example:5432,bastion.example:22 deadline_in_ms="));
	vault_grant_remove(&v, &g, 7, "revoked");
	assert_null(vault_grant_find(&g, 7));
	assert_true(audit_has(t, "event=grant_end job=7 reason=revoked releases=0 signatures=0"));
	vault_grants_free(&g);
	vault_close(&v);
}

static void test_release_inside_grant_is_audited_before_the_value(void **state)
{
	struct vtest *t = *state;
	struct vault v;
	struct vault_grants g = { 0 };
	unsigned char *val = NULL;
	size_t len = 0;
	struct err e = { 0 };

	open_vault(t, &v);
	struct vault_grant *gr = add_grant(&v, &g, 7, vault_grant_now_ms() + 30000, 2);
	assert_int_equal(vault_grant_release(&v, gr, 1, "db.example:5432", vault_grant_now_ms(),
					     &val, &len, &e), VAULT_GRANT_OK);
	/* The record is in the log (written, to be fsynced by the group
	 * commit before the server sends anything) when the value appears. */
	assert_true(audit_has(t, "event=credential_release job=7 connection=u5 secret=u1 "
			      "version=1 destination=db.example:5432"));
	assert_int_equal(len, strlen(value1));
	assert_memory_equal(val, value1, len);
	vault_secbuf_free(val);
	assert_false(audit_has(t, value1));
	vault_grants_free(&g);
	vault_close(&v);
}

static void test_secret_outside_grant_is_denied_and_audited(void **state)
{
	struct vtest *t = *state;
	struct vault v;
	struct vault_grants g = { 0 };
	unsigned char *val = NULL;
	size_t len = 0;
	struct err e = { 0 };

	open_vault(t, &v);
	struct vault_grant *gr = add_grant(&v, &g, 7, vault_grant_now_ms() + 30000, 2);
	assert_int_equal(vault_grant_release(&v, gr, 2, "db.example:5432", vault_grant_now_ms(),
					     &val, &len, &e), VAULT_GRANT_DENIED);
	assert_null(val);
	assert_string_equal(e.sqlstate, "42501");
	assert_true(audit_has(t, "event=request_denied channel=validator-vault job=7 connection=u5 "
			      "request=get_credential item=u2 destination=db.example:5432 "
			      "reason=secret_not_granted"));
	assert_false(audit_has(t, "event=credential_release"));
	vault_grants_free(&g);
	vault_close(&v);
}

static void test_wrong_destination_is_denied_and_audited(void **state)
{
	struct vtest *t = *state;
	struct vault v;
	struct vault_grants g = { 0 };
	unsigned char *val = NULL;
	size_t len = 0;
	struct err e = { 0 };

	open_vault(t, &v);
	struct vault_grant *gr = add_grant(&v, &g, 7, vault_grant_now_ms() + 30000, 2);
	assert_int_equal(vault_grant_release(&v, gr, 1, "evil.example:5432", vault_grant_now_ms(),
					     &val, &len, &e), VAULT_GRANT_DENIED);
	assert_null(val);
	assert_true(audit_has(t, "destination=evil.example:5432 reason=destination_not_granted"));
	/* No destination at all is no better. */
	assert_int_equal(vault_grant_release(&v, gr, 1, "", vault_grant_now_ms(), &val, &len, &e),
			 VAULT_GRANT_DENIED);
	assert_false(audit_has(t, "event=credential_release"));
	vault_grants_free(&g);
	vault_close(&v);
}

static void test_after_deadline_is_denied_and_audited(void **state)
{
	struct vtest *t = *state;
	struct vault v;
	struct vault_grants g = { 0 };
	unsigned char *val = NULL;
	size_t len = 0;
	struct err e = { 0 };
	uint64_t deadline = vault_grant_now_ms() + 1000;

	open_vault(t, &v);
	struct vault_grant *gr = add_grant(&v, &g, 7, deadline, 2);
	assert_int_equal(vault_grant_release(&v, gr, 1, "db.example:5432", deadline, &val, &len,
					     &e), VAULT_GRANT_DENIED);
	assert_true(audit_has(t, "reason=after_deadline"));
	assert_int_equal(vault_grants_next_deadline(&g), deadline);
	vault_grants_free(&g);
	/* A grant whose deadline already passed is not recorded at all. */
	struct gmsg m;
	int sv[2];
	gmsg_init(&m, 8, vault_grant_now_ms() - 1, 2);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	close(sv[1]);
	assert_int_equal(vault_grant_add(&v, &g, &m.g, sv[0], vault_grant_now_ms(), &e), -1);
	assert_null(vault_grant_find(&g, 8));
	vault_close(&v);
}

/* The userauth signing input libssh2 hands its sign callback (PEERS.md 2). */
static size_t userauth_data(unsigned char *out, const unsigned char pk[32])
{
	unsigned char blob[VAULT_SSH_BLOB_BYTES];
	size_t n = 0;
#define PUT32(x) do { uint32_t _v = (x); out[n++] = _v >> 24; out[n++] = _v >> 16; \
		      out[n++] = _v >> 8; out[n++] = _v; } while (0)
#define PUTS(p, l) do { PUT32(l); memcpy(out + n, p, l); n += l; } while (0)
	unsigned char sid[32];

	memset(sid, 0x5a, sizeof(sid));
	vault_ssh_blob(pk, blob);
	PUTS(sid, 32);
	out[n++] = 50;
	PUTS("root", 4);
	PUTS("ssh-connection", 14);
	PUTS("publickey", 9);
	out[n++] = 1;
	PUTS("ssh-ed25519", 11);
	PUTS(blob, VAULT_SSH_BLOB_BYTES);
	return n;
#undef PUTS
#undef PUT32
}

static void test_sign_inside_grant_verifies_and_is_audited(void **state)
{
	struct vtest *t = *state;
	struct vault v;
	struct vault_grants g = { 0 };
	struct vault_ssh_pubkeys pk;
	unsigned char data[256], sig[64];
	struct err e = { 0 };

	open_vault(t, &v);
	assert_int_equal(vault_ssh_public_keys(&v, 9, &pk, &e), 1);
	struct vault_grant *gr = add_grant(&v, &g, 7, vault_grant_now_ms() + 30000, 2);
	size_t n = userauth_data(data, pk.pk[1]);
	assert_int_equal(vault_grant_sign(&v, gr, 9, 2, data, n, "bastion.example:22",
					  vault_grant_now_ms(), sig, &e), VAULT_GRANT_OK);
	assert_int_equal(crypto_sign_verify_detached(sig, data, n, pk.pk[1]), 0);
	assert_true(audit_has(t, "event=ssh_sign job=7 connection=u5 key=u9 slot=2 "
			      "destination=bastion.example:22"));
	vault_grants_free(&g);
	vault_close(&v);
}

static void test_sign_outside_grant_is_denied_and_audited(void **state)
{
	struct vtest *t = *state;
	struct vault v;
	struct vault_grants g = { 0 };
	struct vault_ssh_pubkeys pk;
	unsigned char data[256], sig[64];
	struct err e = { 0 };

	open_vault(t, &v);
	assert_int_equal(vault_ssh_public_keys(&v, 9, &pk, &e), 1);
	/* Only slot 1 granted. */
	struct vault_grant *gr = add_grant(&v, &g, 7, vault_grant_now_ms() + 30000, 1);
	size_t n = userauth_data(data, pk.pk[1]);
	assert_int_equal(vault_grant_sign(&v, gr, 9, 2, data, n, "bastion.example:22",
					  vault_grant_now_ms(), sig, &e), VAULT_GRANT_DENIED);
	assert_true(audit_has(t, "request=ssh_sign item=u9:2 destination=bastion.example:22 "
			      "reason=key_not_granted"));
	/* Another connection's keys. */
	assert_int_equal(vault_grant_sign(&v, gr, 10, 1, data, n, "bastion.example:22",
					  vault_grant_now_ms(), sig, &e), VAULT_GRANT_DENIED);
	/* Slot 1 granted, but the request names slot 2's key. */
	assert_int_equal(vault_grant_sign(&v, gr, 9, 1, data, n, "bastion.example:22",
					  vault_grant_now_ms(), sig, &e), VAULT_GRANT_DENIED);
	assert_true(audit_has(t, "reason=wrong_key_in_request"));
	/* Not a signing oracle. */
	assert_int_equal(vault_grant_sign(&v, gr, 9, 1, (const unsigned char *)"hello", 5,
					  "bastion.example:22", vault_grant_now_ms(), sig, &e),
			 VAULT_GRANT_DENIED);
	assert_true(audit_has(t, "reason=not_a_userauth_request"));
	/* Wrong destination. */
	n = userauth_data(data, pk.pk[0]);
	assert_int_equal(vault_grant_sign(&v, gr, 9, 1, data, n, "elsewhere:22",
					  vault_grant_now_ms(), sig, &e), VAULT_GRANT_DENIED);
	assert_false(audit_has(t, "event=ssh_sign "));
	vault_grants_free(&g);
	vault_close(&v);
}

static void test_unwritable_log_releases_nothing(void **state)
{
	struct vtest *t = *state;
	struct vault v;
	struct vault_grants g = { 0 };
	unsigned char *val = NULL;
	size_t len = 0;
	struct err e = { 0 };

	open_vault(t, &v);
	struct vault_grant *gr = add_grant(&v, &g, 7, vault_grant_now_ms() + 30000, 2);
	v.audit.broken = 1;     /* as after a failed write or fsync */
	assert_int_equal(vault_grant_release(&v, gr, 1, "db.example:5432", vault_grant_now_ms(),
					     &val, &len, &e), VAULT_GRANT_REFUSED);
	assert_null(val);
	/* And no new grant either. */
	struct gmsg m;
	int sv[2];
	gmsg_init(&m, 8, vault_grant_now_ms() + 30000, 2);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	close(sv[1]);
	assert_int_equal(vault_grant_add(&v, &g, &m.g, sv[0], vault_grant_now_ms(), &e), -1);
	assert_null(vault_grant_find(&g, 8));
	v.audit.broken = 0;
	vault_grants_free(&g);
	vault_close(&v);
}

static void test_release_after_alter_secret_gives_the_new_value(void **state)
{
	struct vtest *t = *state;
	struct vault v;
	struct vault_grants g = { 0 };
	unsigned char *val = NULL;
	size_t len = 0;
	struct err e = { 0 };
	struct vault_actor who = { "materialize", "materialize.public.s" };

	open_vault(t, &v);
	struct vault_grant *gr = add_grant(&v, &g, 7, vault_grant_now_ms() + 30000, 2);
	/* ALTER SECRET committed after the grant: v1 is shredded. */
	assert_int_equal(vault_secret_put(&v, 1, 2, (const unsigned char *)"new-value", 9, 1,
					  &who, &e), 0);
	assert_int_equal(vault_secret_commit(&v, 1, 2, &e), 0);
	assert_int_equal(vault_grant_release(&v, gr, 1, "db.example:5432", vault_grant_now_ms(),
					     &val, &len, &e), VAULT_GRANT_OK);
	assert_int_equal(len, 9);
	assert_memory_equal(val, "new-value", 9);
	vault_secbuf_free(val);
	assert_true(audit_has(t, "secret=u1 version=2"));
	vault_grants_free(&g);
	vault_close(&v);
}

/* ---- the real tether-vault over its channels ---- */

#ifdef TETHER_VAULT_BIN
struct vproc {
	pid_t pid;
	struct ipc_chan sup, cat;
};

static void spawn_vault(struct vtest *t, struct vproc *p)
{
	int sup[2], cat[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sup), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, cat), 0);
	p->pid = fork();
	assert_true(p->pid >= 0);
	if (p->pid == 0) {
		int s = fcntl(sup[1], F_DUPFD_CLOEXEC, 20);
		int c = fcntl(cat[1], F_DUPFD_CLOEXEC, 20);
		if (s < 0 || c < 0 || dup2(s, 3) != 3 || dup2(c, 4) != 4)
			_exit(99);
		execl(TETHER_VAULT_BIN, "tether-vault", "--data-dir", t->dir, (char *)NULL);
		_exit(98);
	}
	close(sup[1]);
	close(cat[1]);
	ipc_chan_init(&p->sup, sup[0], IPC_SUP_VAULT, IPC_END_A);
	ipc_chan_init(&p->cat, cat[0], IPC_CATALOG_VAULT, IPC_END_A);
}

static enum ipc_recv_status recv_timed(struct ipc_chan *c, Tether__Envelope **env)
{
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
	int fd = -1;
	enum ipc_recv_status st;

	if (poll(&pfd, 1, TIMEOUT_MS) != 1)
		fail_msg("timed out waiting for the vault on %s", ipc_channel_name(c->channel));
	st = ipc_recv(c, env, &fd);
	assert_int_equal(fd, -1);
	return st;
}

static Tether__Envelope *expect(struct ipc_chan *c, Tether__Envelope__BodyCase kind)
{
	Tether__Envelope *env = NULL;

	assert_int_equal(recv_timed(c, &env), IPC_RECV_MESSAGE);
	if (env->body_case != kind)
		fail_msg("expected kind %d, got %d", (int)kind, (int)env->body_case);
	return env;
}

static void put_value(struct ipc_chan *c, uint64_t rid, uint64_t id, uint64_t ver,
		      const unsigned char *val, uint32_t len)
{
	uint32_t off = 0;

	do {
		Tether__Envelope env = TETHER__ENVELOPE__INIT;
		Tether__PutSecret m = TETHER__PUT_SECRET__INIT;
		uint32_t n = len - off > IPC_CHUNK_SIZE ? IPC_CHUNK_SIZE : len - off;

		m.object_id = id;
		m.version = ver;
		m.total_size = len;
		m.offset = off;
		m.chunk.data = (uint8_t *)val + off;
		m.chunk.len = n;
		m.last = off + n == len;
		m.object_name = "materialize.public.big";
		m.role = "materialize";
		env.request_id = rid;
		env.body_case = TETHER__ENVELOPE__BODY_PUT_SECRET;
		env.put_secret = &m;
		assert_int_equal(ipc_send(c, &env, -1), 0);
		off += n;
	} while (off < len);
}

static void send_get(struct ipc_chan *c, uint64_t rid, uint64_t id, const char *dest)
{
	Tether__Envelope env = TETHER__ENVELOPE__INIT;
	Tether__GetCredential gc = TETHER__GET_CREDENTIAL__INIT;

	gc.secret_id = id;
	gc.destination = (char *)dest;
	env.request_id = rid;
	env.body_case = TETHER__ENVELOPE__BODY_GET_CREDENTIAL;
	env.get_credential = &gc;
	assert_int_equal(ipc_send(c, &env, -1), 0);
}

static void test_vault_process_grant_release_and_deny(void **state)
{
	struct vtest *t = *state;
	struct vproc p;
	Tether__Envelope *env;
	size_t big = IPC_MAX_SECRET;
	unsigned char *val = malloc(big), *got = malloc(big);
	int sv[2];
	char path[400];

	assert_non_null(val);
	assert_non_null(got);
	for (size_t i = 0; i < big; i++)
		val[i] = (unsigned char)(i * 31 + 7);
	spawn_vault(t, &p);
	env = expect(&p.sup, TETHER__ENVELOPE__BODY_HEALTH);
	ipc_envelope_free(env);
	/* The catalog stores a 512 KiB secret u3@v1. */
	put_value(&p.cat, 1, 3, 1, val, (uint32_t)big);
	env = expect(&p.cat, TETHER__ENVELOPE__BODY_REPLY);
	assert_true(env->reply->ok);
	ipc_envelope_free(env);

	/* tetherd grants job 42 with the validator's vault end. */
	struct gmsg m;
	gmsg_init(&m, 42, 0, 2);
	m.s.object_id = 3;
	m.g.n_ssh_keys = 0;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	m.g.deadline_monotonic_ms = (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + 20000;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	Tether__Envelope ge = TETHER__ENVELOPE__INIT;
	ge.request_id = 77;
	ge.body_case = TETHER__ENVELOPE__BODY_GRANT;
	ge.grant = &m.g;
	assert_int_equal(ipc_send(&p.sup, &ge, sv[1]), 0);
	close(sv[1]);
	env = expect(&p.sup, TETHER__ENVELOPE__BODY_REPLY);
	assert_int_equal(env->request_id, 77);
	assert_true(env->reply->ok);
	ipc_envelope_free(env);
	/* Durable before the answer: the record is in the file now. */
	assert_true(audit_has(t, "event=grant job=42 connection=u5 secrets=u3@v1"));

	struct ipc_chan val_ch;
	ipc_chan_init(&val_ch, sv[0], IPC_VALIDATOR_VAULT, IPC_END_A);
	send_get(&val_ch, 1, 3, "db.example:5432");
	size_t off = 0;
	for (int last = 0; !last;) {
		env = expect(&val_ch, TETHER__ENVELOPE__BODY_CREDENTIAL_VALUE);
		const Tether__CredentialValue *cv = env->credential_value;
		assert_int_equal(env->request_id, 1);
		assert_int_equal(cv->total_size, big);
		assert_int_equal(cv->offset, off);
		assert_true(cv->chunk.len <= IPC_CHUNK_SIZE);
		memcpy(got + off, cv->chunk.data, cv->chunk.len);
		off += cv->chunk.len;
		last = cv->last;
		ipc_envelope_free(env);
	}
	assert_int_equal(off, big);
	assert_memory_equal(got, val, big);
	assert_true(audit_has(t, "event=credential_release job=42 connection=u5 secret=u3 "
			      "version=1 destination=db.example:5432"));

	/* Outside the grant: refused, channel closed, tetherd told to kill. */
	send_get(&val_ch, 2, 1, "db.example:5432");
	env = expect(&val_ch, TETHER__ENVELOPE__BODY_REPLY);
	assert_false(env->reply->ok);
	assert_string_equal(env->reply->sqlstate, "42501");
	ipc_envelope_free(env);
	Tether__Envelope *x = NULL;
	assert_int_equal(recv_timed(&val_ch, &x), IPC_RECV_CLOSED);
	env = expect(&p.sup, TETHER__ENVELOPE__BODY_KILL_VALIDATOR);
	assert_int_equal(env->kill_validator->job_id, 42);
	ipc_envelope_free(env);
	assert_true(audit_has(t, "event=request_denied channel=validator-vault job=42"));
	assert_true(audit_has(t, "event=grant_end job=42 reason=denied releases=1"));
	close(val_ch.fd);

	/* tetherd goes away: the vault exits cleanly; nothing in clear. */
	close(p.sup.fd);
	int status;
	for (int i = 0; i < 1500 && waitpid(p.pid, &status, WNOHANG) == 0; i++) {
		struct timespec d = { 0, 10 * 1000 * 1000 };
		nanosleep(&d, NULL);
	}
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	close(p.cat.fd);
	snprintf(path, sizeof(path), "%s/audit.log", t->vdir);
	size_t alen;
	char *log = read_file(path, &alen);
	assert_null(memmem(log, alen, val + 1000, 64));
	free(val);
	free(got);
}
#endif

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_grant_is_audited_with_what_it_names,
						vtest_setup, vtest_teardown),
		cmocka_unit_test_setup_teardown(test_release_inside_grant_is_audited_before_the_value,
						vtest_setup, vtest_teardown),
		cmocka_unit_test_setup_teardown(test_secret_outside_grant_is_denied_and_audited,
						vtest_setup, vtest_teardown),
		cmocka_unit_test_setup_teardown(test_wrong_destination_is_denied_and_audited,
						vtest_setup, vtest_teardown),
		cmocka_unit_test_setup_teardown(test_after_deadline_is_denied_and_audited,
						vtest_setup, vtest_teardown),
		cmocka_unit_test_setup_teardown(test_sign_inside_grant_verifies_and_is_audited,
						vtest_setup, vtest_teardown),
		cmocka_unit_test_setup_teardown(test_sign_outside_grant_is_denied_and_audited,
						vtest_setup, vtest_teardown),
		cmocka_unit_test_setup_teardown(test_unwritable_log_releases_nothing,
						vtest_setup, vtest_teardown),
		cmocka_unit_test_setup_teardown(test_release_after_alter_secret_gives_the_new_value,
						vtest_setup, vtest_teardown),
#ifdef TETHER_VAULT_BIN
		cmocka_unit_test_setup_teardown(test_vault_process_grant_release_and_deny,
						vtest_setup, vtest_teardown),
#endif
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
