/* tether-vault end to end: the real executable (sandboxed) on two
 * SEQPACKET socketpairs at fds 3 and 4, driven the way tetherd and the
 * catalog drive it. TETHER_VAULT_BIN comes from CMake. */
#include "vtest.h"

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>

#include <sodium.h>

#include "err.h"
#include "ipc.h"
#include "keymem.h"
#include "vault.h"

#define TIMEOUT_MS 15000

struct vproc {
	pid_t pid;
	struct ipc_chan sup;    /* we are tetherd: end A */
	struct ipc_chan cat;    /* we are the catalog: end A */
};

static void spawn_vault(struct vtest *t, struct vproc *p)
{
	int sup[2], cat[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sup), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, cat), 0);
	p->pid = fork();
	assert_true(p->pid >= 0);
	if (p->pid == 0) {
		/* Move out of the way first: the pairs may already sit on 3/4. */
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

static enum ipc_recv_status recv_timed(struct ipc_chan *c, Tether__Envelope **env,
				       int *fd)
{
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };

	if (poll(&pfd, 1, TIMEOUT_MS) != 1)
		fail_msg("timed out waiting for the vault on %s", ipc_channel_name(c->channel));
	return ipc_recv(c, env, fd);
}

static Tether__Envelope *expect(struct ipc_chan *c, Tether__Envelope__BodyCase kind)
{
	Tether__Envelope *env = NULL;
	int fd = -1;

	assert_int_equal(recv_timed(c, &env, &fd), IPC_RECV_MESSAGE);
	assert_int_equal(fd, -1);
	assert_int_equal(env->body_case, kind);
	return env;
}

static void wait_ready(struct vproc *p)
{
	Tether__Envelope *env = expect(&p->sup, TETHER__ENVELOPE__BODY_HEALTH);

	assert_string_equal(env->health->role, "vault");
	assert_int_equal(env->health->pid, (uint64_t)p->pid);
	ipc_envelope_free(env);
}

static int wait_exit(struct vproc *p)
{
	int status;

	for (int i = 0; i < TIMEOUT_MS / 10; i++) {
		pid_t r = waitpid(p->pid, &status, WNOHANG);
		if (r == p->pid)
			return status;
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	kill(p->pid, SIGKILL);
	waitpid(p->pid, &status, 0);
	fail_msg("tether-vault did not exit");
	return -1;
}

static void stop_vault(struct vproc *p)
{
	int status;

	/* tetherd going away is the vault's cue to exit cleanly. */
	close(p->sup.fd);
	status = wait_exit(p);
	if (p->cat.fd >= 0)
		close(p->cat.fd);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void send_put(struct ipc_chan *c, uint64_t rid, uint64_t id, uint64_t ver,
		     const unsigned char *val, uint32_t total, uint32_t off,
		     uint32_t len, int last)
{
	Tether__Envelope env = TETHER__ENVELOPE__INIT;
	Tether__PutSecret m = TETHER__PUT_SECRET__INIT;

	m.object_id = id;
	m.version = ver;
	m.total_size = total;
	m.offset = off;
	m.chunk.data = (uint8_t *)val;
	m.chunk.len = len;
	m.last = last;
	m.object_name = "materialize.public.s";
	m.role = "materialize";
	env.request_id = rid;
	env.body_case = TETHER__ENVELOPE__BODY_PUT_SECRET;
	env.put_secret = &m;
	assert_int_equal(ipc_send(c, &env, -1), 0);
}

static void put_value(struct ipc_chan *c, uint64_t rid, uint64_t id, uint64_t ver,
		      const unsigned char *val, uint32_t len)
{
	uint32_t off = 0;

	do {
		uint32_t n = len - off > IPC_CHUNK_SIZE ? IPC_CHUNK_SIZE : len - off;
		send_put(c, rid, id, ver, val + off, len, off, n, off + n == len);
		off += n;
	} while (off < len);
}

static void expect_reply(struct ipc_chan *c, uint64_t rid, const char *sqlstate)
{
	Tether__Envelope *env = expect(c, TETHER__ENVELOPE__BODY_REPLY);

	assert_int_equal(env->request_id, rid);
	if (!sqlstate) {
		if (!env->reply->ok)
			fail_msg("request %llu failed: %s %s", (unsigned long long)rid,
				 env->reply->sqlstate, env->reply->message);
	} else {
		assert_false(env->reply->ok);
		assert_string_equal(env->reply->sqlstate, sqlstate);
	}
	ipc_envelope_free(env);
}

static void send_list_page(struct ipc_chan *c, uint64_t rid, uint64_t after,
			   uint32_t limit)
{
	Tether__Envelope env = TETHER__ENVELOPE__INIT;
	Tether__ListSecretMeta m = TETHER__LIST_SECRET_META__INIT;

	m.after_object_id = after;
	m.limit = limit;
	env.request_id = rid;
	env.body_case = TETHER__ENVELOPE__BODY_LIST_SECRET_META;
	env.list_secret_meta = &m;
	assert_int_equal(ipc_send(c, &env, -1), 0);
}

static void send_list(struct ipc_chan *c, uint64_t rid)
{
	send_list_page(c, rid, 0, 0);
}

static void give_new_channel(struct vproc *p)
{
	Tether__Envelope env = TETHER__ENVELOPE__INIT;
	Tether__NewPeerChannel m = TETHER__NEW_PEER_CHANNEL__INIT;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	m.peer_role = "catalog";
	m.generation = 2;
	env.body_case = TETHER__ENVELOPE__BODY_NEW_PEER_CHANNEL;
	env.new_peer_channel = &m;
	assert_int_equal(ipc_send(&p->sup, &env, sv[1]), 0);
	close(sv[1]);
	if (p->cat.fd >= 0)
		close(p->cat.fd);
	ipc_chan_init(&p->cat, sv[0], IPC_CATALOG_VAULT, IPC_END_A);
}

static unsigned char *pattern(size_t len, unsigned seed)
{
	unsigned char *v = malloc(len);

	for (size_t i = 0; i < len; i++)
		v[i] = (unsigned char)('a' + (i * 31 + seed + i / 977) % 26);
	return v;
}

static void test_chunked_512k_put_and_reconcile_shreds_orphan(void **state)
{
	struct vtest *t = *state;
	struct vproc p;
	const uint32_t big_len = 512 * 1024;
	unsigned char *big = pattern(big_len, 7);
	Tether__Envelope env = TETHER__ENVELOPE__INIT, *in;
	Tether__ReconcileBatch rb = TETHER__RECONCILE_BATCH__INIT;
	Tether__SecretMeta item = TETHER__SECRET_META__INIT, *items[] = { &item };
	char path[512];
	struct vault v;
	struct err e = { 0 };
	unsigned char *pt;
	size_t len;

	spawn_vault(t, &p);
	wait_ready(&p);
	put_value(&p.cat, 1, 1, 1, big, big_len);
	expect_reply(&p.cat, 1, NULL);
	put_value(&p.cat, 2, 2, 2, (const unsigned char *)"orphan-value", 12);
	expect_reply(&p.cat, 2, NULL);

	/* The catalog only committed u1 v1. */
	item.object_id = 1;
	item.version = 1;
	rb.items = items;
	rb.n_items = 1;
	rb.last = 1;
	env.request_id = 3;
	env.body_case = TETHER__ENVELOPE__BODY_RECONCILE_BATCH;
	env.reconcile_batch = &rb;
	assert_int_equal(ipc_send(&p.cat, &env, -1), 0);
	in = expect(&p.cat, TETHER__ENVELOPE__BODY_RECONCILE_RESULT);
	assert_int_equal(in->request_id, 3);
	assert_int_equal(in->reconcile_result->shredded, 1);
	assert_int_equal(in->reconcile_result->n_missing, 0);
	assert_int_equal(in->reconcile_result->max_object_id, 2);
	assert_int_equal(in->reconcile_result->max_version, 2);
	ipc_envelope_free(in);

	send_list(&p.cat, 4);
	in = expect(&p.cat, TETHER__ENVELOPE__BODY_SECRET_META_PAGE);
	assert_int_equal(in->secret_meta_page->n_items, 1);
	assert_int_equal(in->secret_meta_page->items[0]->object_id, 1);
	assert_int_equal(in->secret_meta_page->items[0]->size, big_len);
	assert_int_equal(in->secret_meta_page->items[0]->key_term, 1);
	assert_false(in->secret_meta_page->more);
	ipc_envelope_free(in);
	stop_vault(&p);

	vtest_path(path, sizeof(path), t, "audit.log");
	assert_true(vtest_file_contains_str(path, "event=secret_put object=u1 version=1"));
	assert_true(vtest_file_contains_str(path, "event=secret_shred object=u2 version=2 reason=reconcile"));
	assert_true(audit_verify_file(path, &e) >= 5);
	static const char *files[] = { "secrets.log", "audit.log", "keyring", "master.key" };
	for (size_t i = 0; i < 4; i++) {
		vtest_path(path, sizeof(path), t, files[i]);
		assert_false(vtest_file_contains_str(path, "orphan-value"));
		assert_false(vtest_file_contains(path, big + 1000, 48));
	}

	/* What the process stored decrypts to what was sent. */
	assert_int_equal(vault_open(&v, t->dir, &e), 0);
	assert_int_equal(vault_secret_decrypt(&v, 1, 1, &pt, &len, &e), 0);
	assert_int_equal(len, big_len);
	assert_memory_equal(pt, big, big_len);
	vault_secbuf_free(pt);
	assert_null(vault_store_find(&v.store, 2, 2));
	vault_close(&v);
	free(big);
}

static void test_not_permitted_kind_closes_channel_and_is_audited(void **state)
{
	struct vtest *t = *state;
	struct vproc p;
	Tether__Envelope *in = NULL;
	char path[512];
	int fd, status;

	spawn_vault(t, &p);
	wait_ready(&p);
	/* The process really is confined. */
	snprintf(path, sizeof(path), "/proc/%d/status", (int)p.pid);
	assert_true(vtest_file_contains_str(path, "Seccomp:\t2"));
	assert_true(vtest_file_contains_str(path, "NoNewPrivs:\t1"));
	/* A Reply is something only the vault sends on this channel. */
	assert_int_equal(ipc_send_reply(&p.cat, 9, NULL), 0);
	assert_int_equal(recv_timed(&p.cat, &in, &fd), IPC_RECV_CLOSED);

	/* tetherd hands over a new channel; the vault serves it. */
	give_new_channel(&p);
	send_list(&p.cat, 10);
	in = expect(&p.cat, TETHER__ENVELOPE__BODY_SECRET_META_PAGE);
	assert_int_equal(in->request_id, 10);
	assert_int_equal(in->secret_meta_page->n_items, 0);
	ipc_envelope_free(in);
	vtest_path(path, sizeof(path), t, "audit.log");
	assert_true(vtest_file_contains_str(path, "event=request_denied channel=catalog-vault"));

	/* SIGTERM: clean exit. */
	kill(p.pid, SIGTERM);
	status = wait_exit(&p);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	close(p.sup.fd);
	close(p.cat.fd);
}

static void test_bad_uploads_rejected_with_sqlstate(void **state)
{
	struct vtest *t = *state;
	struct vproc p;
	unsigned char *val = pattern(100, 3);

	spawn_vault(t, &p);
	wait_ready(&p);
	/* Over Materialize's limit: 54000 on the first chunk, rest ignored. */
	send_put(&p.cat, 1, 1, 1, val, 512 * 1024 + 1, 0, 50, 0);
	send_put(&p.cat, 1, 1, 1, val, 512 * 1024 + 1, 50, 50, 1);
	expect_reply(&p.cat, 1, "54000");
	/* A chunk at the wrong offset. */
	send_put(&p.cat, 2, 2, 2, val, 100, 0, 40, 0);
	send_put(&p.cat, 2, 2, 2, val, 100, 60, 40, 1);
	expect_reply(&p.cat, 2, "XX000");
	/* Two uploads interleaved: the first is answered with an error. */
	send_put(&p.cat, 3, 3, 3, val, 100, 0, 40, 0);
	send_put(&p.cat, 4, 4, 4, val, 100, 0, 100, 1);
	expect_reply(&p.cat, 3, "XX000");
	expect_reply(&p.cat, 4, NULL);
	/* More bytes than announced. */
	send_put(&p.cat, 5, 5, 5, val, 10, 0, 20, 1);
	expect_reply(&p.cat, 5, "XX000");
	/* A reused version. */
	send_put(&p.cat, 6, 6, 4, val, 10, 0, 10, 1);
	expect_reply(&p.cat, 6, "XX000");
	/* The channel is still fine. */
	put_value(&p.cat, 7, 7, 7, val, 100);
	expect_reply(&p.cat, 7, NULL);
	stop_vault(&p);
	free(val);
}

static void test_catalog_restart_gets_new_channel(void **state)
{
	struct vtest *t = *state;
	struct vproc p;

	spawn_vault(t, &p);
	wait_ready(&p);
	/* Half an upload, then the catalog dies. */
	send_put(&p.cat, 1, 1, 1, (const unsigned char *)"abcdef", 6, 0, 3, 0);
	close(p.cat.fd);
	p.cat.fd = -1;
	give_new_channel(&p);
	/* The partial upload is gone: a continuation starts nothing. */
	send_put(&p.cat, 1, 1, 1, (const unsigned char *)"def", 6, 3, 3, 1);
	expect_reply(&p.cat, 1, "XX000");
	put_value(&p.cat, 2, 1, 2, (const unsigned char *)"abcdef", 6);
	expect_reply(&p.cat, 2, NULL);
	stop_vault(&p);
}

static void test_commit_shreds_old_version_and_list_pages(void **state)
{
	struct vtest *t = *state;
	struct vproc p;
	Tether__Envelope env = TETHER__ENVELOPE__INIT, *in;
	Tether__CommitSecret cm = TETHER__COMMIT_SECRET__INIT;
	Tether__DeleteSecret dm = TETHER__DELETE_SECRET__INIT;
	char path[512];

	spawn_vault(t, &p);
	wait_ready(&p);
	put_value(&p.cat, 1, 1, 1, (const unsigned char *)"v1", 2);
	put_value(&p.cat, 2, 2, 2, (const unsigned char *)"two", 3);
	put_value(&p.cat, 3, 3, 3, (const unsigned char *)"three", 5);
	put_value(&p.cat, 4, 1, 4, (const unsigned char *)"v4", 2);   /* ALTER */
	for (uint64_t r = 1; r <= 4; r++)
		expect_reply(&p.cat, r, NULL);

	/* Page 1: u1 (both versions travel together) and u2. */
	send_list_page(&p.cat, 5, 0, 3);
	in = expect(&p.cat, TETHER__ENVELOPE__BODY_SECRET_META_PAGE);
	assert_int_equal(in->secret_meta_page->n_items, 3);
	assert_int_equal(in->secret_meta_page->items[1]->version, 4);
	assert_int_equal(in->secret_meta_page->items[2]->object_id, 2);
	assert_true(in->secret_meta_page->more);
	ipc_envelope_free(in);

	/* The catalog committed u1 v4: v1 goes (no reply). */
	cm.object_id = 1;
	cm.version = 4;
	env.request_id = 6;
	env.body_case = TETHER__ENVELOPE__BODY_COMMIT_SECRET;
	env.commit_secret = &cm;
	assert_int_equal(ipc_send(&p.cat, &env, -1), 0);
	/* DROP SECRET u2. */
	dm.object_id = 2;
	dm.object_name = "materialize.public.two";
	dm.role = "materialize";
	env.request_id = 7;
	env.body_case = TETHER__ENVELOPE__BODY_DELETE_SECRET;
	env.delete_secret = &dm;
	assert_int_equal(ipc_send(&p.cat, &env, -1), 0);
	expect_reply(&p.cat, 7, NULL);

	send_list_page(&p.cat, 8, 0, 1);
	in = expect(&p.cat, TETHER__ENVELOPE__BODY_SECRET_META_PAGE);
	assert_int_equal(in->secret_meta_page->n_items, 1);
	assert_int_equal(in->secret_meta_page->items[0]->object_id, 1);
	assert_int_equal(in->secret_meta_page->items[0]->version, 4);
	assert_true(in->secret_meta_page->more);
	ipc_envelope_free(in);
	send_list_page(&p.cat, 9, 1, 1);
	in = expect(&p.cat, TETHER__ENVELOPE__BODY_SECRET_META_PAGE);
	assert_int_equal(in->secret_meta_page->n_items, 1);
	assert_int_equal(in->secret_meta_page->items[0]->object_id, 3);
	assert_false(in->secret_meta_page->more);
	ipc_envelope_free(in);
	stop_vault(&p);

	vtest_path(path, sizeof(path), t, "audit.log");
	assert_true(vtest_file_contains_str(path, "event=secret_shred object=u1 version=1 reason=commit"));
	assert_true(vtest_file_contains_str(path, "event=secret_delete object=u2 versions=1 role=materialize name=materialize.public.two"));
}

/* kill -9 at random moments while uploads stream in: after every restart
 * each acknowledged value is there and decrypts, and the chain verifies. */
static void test_kill9_loses_nothing_acknowledged(void **state)
{
	struct vtest *t = *state;
	enum { ROUNDS = 30, PER_ROUND = 40 };
	uint64_t *acked = calloc(ROUNDS * PER_ROUND, sizeof(*acked));
	size_t nacked = 0;
	uint64_t next = 1;
	unsigned seed = (unsigned)getpid();
	char val[64], path[512];
	struct vault v;
	struct err e = { 0 };

	for (int round = 0; round < ROUNDS; round++) {
		struct vproc p;
		uint64_t first = next;
		int status;

		spawn_vault(t, &p);
		wait_ready(&p);
		for (int i = 0; i < PER_ROUND; i++, next++) {
			int n = snprintf(val, sizeof(val), "value-%llu", (unsigned long long)next);
			/* One id per value; the version counter is the same counter. */
			put_value(&p.cat, next, next, next, (const unsigned char *)val, (uint32_t)n);
		}
		/* Collect acknowledgements for a random while, then kill. */
		long budget_us = rand_r(&seed) % 3000;
		struct timespec t0, now;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (;;) {
			clock_gettime(CLOCK_MONOTONIC, &now);
			long el = (now.tv_sec - t0.tv_sec) * 1000000L + (now.tv_nsec - t0.tv_nsec) / 1000;
			if (el >= budget_us)
				break;
			struct pollfd pfd = { .fd = p.cat.fd, .events = POLLIN };
			if (poll(&pfd, 1, 1) != 1)
				continue;
			Tether__Envelope *in = NULL;
			if (ipc_recv(&p.cat, &in, NULL) != IPC_RECV_MESSAGE)
				break;
			assert_int_equal(in->body_case, TETHER__ENVELOPE__BODY_REPLY);
			assert_true(in->reply->ok);
			assert_true(in->request_id >= first && in->request_id < next);
			acked[nacked++] = in->request_id;
			ipc_envelope_free(in);
		}
		kill(p.pid, SIGKILL);
		waitpid(p.pid, &status, 0);
		close(p.sup.fd);
		close(p.cat.fd);
	}
	assert_int_equal(vault_open(&v, t->dir, &e), 0);
	for (size_t i = 0; i < nacked; i++) {
		unsigned char *pt;
		size_t len;
		int n = snprintf(val, sizeof(val), "value-%llu", (unsigned long long)acked[i]);
		if (vault_secret_decrypt(&v, acked[i], acked[i], &pt, &len, &e) < 0)
			fail_msg("acknowledged u%llu lost: %s", (unsigned long long)acked[i], e.message);
		assert_int_equal(len, (size_t)n);
		assert_memory_equal(pt, val, len);
		vault_secbuf_free(pt);
	}
	assert_int_equal(vault_verify_all(&v, &e), 0);
	vault_close(&v);
	vtest_path(path, sizeof(path), t, "audit.log");
	if (audit_verify_file(path, &e) < 0)
		fail_msg("%s", e.message);
	print_message("kill -9 rounds=%d acknowledged=%zu\n", ROUNDS, nacked);
	free(acked);
}

static void test_group_readable_master_key_exits_1(void **state)
{
	struct vtest *t = *state;
	struct vproc p;
	unsigned char key[32] = { 0 };
	char path[512];
	int fd, status;

	vtest_path(path, sizeof(path), t, "master.key");
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
	assert_true(fd >= 0);
	assert_int_equal(fchmod(fd, 0644), 0);
	assert_int_equal(write(fd, key, sizeof(key)), (ssize_t)sizeof(key));
	close(fd);
	spawn_vault(t, &p);
	status = wait_exit(&p);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 1);
	close(p.sup.fd);
	close(p.cat.fd);
	vtest_path(path, sizeof(path), t, "secrets.log");
	assert_int_not_equal(access(path, F_OK), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_chunked_512k_put_and_reconcile_shreds_orphan, vtest_setup, vtest_teardown),
		cmocka_unit_test_setup_teardown(test_not_permitted_kind_closes_channel_and_is_audited, vtest_setup, vtest_teardown),
		cmocka_unit_test_setup_teardown(test_bad_uploads_rejected_with_sqlstate, vtest_setup, vtest_teardown),
		cmocka_unit_test_setup_teardown(test_catalog_restart_gets_new_channel, vtest_setup, vtest_teardown),
		cmocka_unit_test_setup_teardown(test_commit_shreds_old_version_and_list_pages, vtest_setup, vtest_teardown),
		cmocka_unit_test_setup_teardown(test_kill9_loses_nothing_acknowledged, vtest_setup, vtest_teardown),
		cmocka_unit_test_setup_teardown(test_group_readable_master_key_exits_1, vtest_setup, vtest_teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
