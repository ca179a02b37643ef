/* proto/ipc.c over real SEQPACKET socketpairs: round trip, the size bound,
 * undecodable packets, the permit tables, and descriptor passing (only
 * with NewPeerChannel). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "err.h"
#include "ipc.h"

struct pair {
	struct ipc_chan a, b;
};

static void pair_open(struct pair *p, enum ipc_channel ch)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	ipc_chan_init(&p->a, sv[0], ch, IPC_END_A);
	ipc_chan_init(&p->b, sv[1], ch, IPC_END_B);
}

static void pair_close(struct pair *p)
{
	if (p->a.fd >= 0)
		close(p->a.fd);
	if (p->b.fd >= 0)
		close(p->b.fd);
}

static void test_put_secret_round_trip(void **state)
{
	struct pair p;
	Tether__Envelope env = TETHER__ENVELOPE__INIT, *out = NULL;
	Tether__PutSecret m = TETHER__PUT_SECRET__INIT;
	static uint8_t chunk[IPC_CHUNK_SIZE];
	int fd = 7;

	(void)state;
	for (size_t i = 0; i < sizeof(chunk); i++)
		chunk[i] = (uint8_t)i;
	pair_open(&p, IPC_CATALOG_VAULT);
	m.object_id = 12;
	m.version = 3;
	m.total_size = IPC_MAX_SECRET;
	m.offset = IPC_CHUNK_SIZE;
	m.chunk.data = chunk;
	m.chunk.len = sizeof(chunk);
	m.object_name = "materialize.public.pw";
	m.role = "materialize";
	env.request_id = 42;
	env.body_case = TETHER__ENVELOPE__BODY_PUT_SECRET;
	env.put_secret = &m;
	assert_int_equal(ipc_send(&p.a, &env, -1), 0);
	assert_int_equal(ipc_recv(&p.b, &out, &fd), IPC_RECV_MESSAGE);
	assert_int_equal(fd, -1);
	assert_int_equal(out->request_id, 42);
	assert_int_equal(out->body_case, TETHER__ENVELOPE__BODY_PUT_SECRET);
	assert_int_equal(out->put_secret->object_id, 12);
	assert_int_equal(out->put_secret->version, 3);
	assert_int_equal(out->put_secret->offset, IPC_CHUNK_SIZE);
	assert_int_equal(out->put_secret->chunk.len, sizeof(chunk));
	assert_memory_equal(out->put_secret->chunk.data, chunk, sizeof(chunk));
	assert_string_equal(out->put_secret->object_name, "materialize.public.pw");
	ipc_envelope_free(out);
	pair_close(&p);
}

static void test_reply_carries_error_fields(void **state)
{
	struct pair p;
	Tether__Envelope *out = NULL;
	struct err e;

	(void)state;
	pair_open(&p, IPC_CATALOG_VAULT);
	err_set(&e, "54000", "secrets can not be bigger than 512KiB");
	err_hint(&e, "a hint");
	assert_int_equal(ipc_send_reply(&p.b, 5, &e), 0);
	assert_int_equal(ipc_send_reply(&p.b, 6, NULL), 0);
	assert_int_equal(ipc_recv(&p.a, &out, NULL), IPC_RECV_MESSAGE);
	assert_int_equal(out->request_id, 5);
	assert_false(out->reply->ok);
	assert_string_equal(out->reply->sqlstate, "54000");
	assert_string_equal(out->reply->message, "secrets can not be bigger than 512KiB");
	assert_string_equal(out->reply->hint, "a hint");
	ipc_envelope_free(out);
	assert_int_equal(ipc_recv(&p.a, &out, NULL), IPC_RECV_MESSAGE);
	assert_true(out->reply->ok);
	ipc_envelope_free(out);
	pair_close(&p);
}

static void test_oversized_packet_is_violation(void **state)
{
	struct pair p;
	Tether__Envelope *out = (Tether__Envelope *)1;
	size_t len = IPC_MAX_PACKET + 1;
	uint8_t *buf = calloc(1, len);
	int sndbuf = 4 * IPC_MAX_PACKET;

	(void)state;
	pair_open(&p, IPC_CATALOG_VAULT);
	setsockopt(p.a.fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	assert_int_equal(send(p.a.fd, buf, len, 0), (ssize_t)len);
	assert_int_equal(ipc_recv(&p.b, &out, NULL), IPC_RECV_VIOLATION);
	assert_null(out);
	/* ipc_send refuses to produce one. */
	Tether__Envelope env = TETHER__ENVELOPE__INIT;
	Tether__PutSecret m = TETHER__PUT_SECRET__INIT;
	m.chunk.data = buf;
	m.chunk.len = IPC_MAX_PACKET;
	env.body_case = TETHER__ENVELOPE__BODY_PUT_SECRET;
	env.put_secret = &m;
	assert_int_equal(ipc_send(&p.a, &env, -1), -1);
	assert_int_equal(errno, EMSGSIZE);
	/* The decoder bound holds on its own too (fuzz entry point). */
	assert_int_equal(ipc_decode(IPC_CATALOG_VAULT, IPC_END_B, buf, len, &out),
			 IPC_RECV_VIOLATION);
	free(buf);
	pair_close(&p);
}

static void test_garbage_is_violation(void **state)
{
	struct pair p;
	Tether__Envelope *out = (Tether__Envelope *)1;
	static const uint8_t garbage[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
					   0xff, 0xff, 0xff, 0xff, 0xff, 0x01 };
	/* Field 4 (put_secret) claiming 100 bytes that are not there. */
	static const uint8_t truncated[] = { 0x22, 0x64, 0x08, 0x01 };

	(void)state;
	pair_open(&p, IPC_CATALOG_VAULT);
	assert_int_equal(send(p.a.fd, garbage, sizeof(garbage), 0), (ssize_t)sizeof(garbage));
	assert_int_equal(ipc_recv(&p.b, &out, NULL), IPC_RECV_VIOLATION);
	assert_null(out);
	assert_int_equal(send(p.a.fd, truncated, sizeof(truncated), 0), (ssize_t)sizeof(truncated));
	assert_int_equal(ipc_recv(&p.b, &out, NULL), IPC_RECV_VIOLATION);
	pair_close(&p);
}

static void test_kind_not_permitted_is_violation(void **state)
{
	struct pair p;
	Tether__Envelope *out = NULL;

	(void)state;
	pair_open(&p, IPC_CATALOG_VAULT);
	/* The catalog sends the vault a Reply: not on the vault's list. */
	assert_int_equal(ipc_send_reply(&p.a, 1, NULL), 0);
	assert_int_equal(ipc_recv(&p.b, &out, NULL), IPC_RECV_VIOLATION);
	assert_null(out);
	/* An envelope without a body is not permitted anywhere. (request_id
	 * set: a wholly empty envelope packs to a 0-byte packet, which a
	 * SEQPACKET reader cannot tell from end-of-file.) */
	Tether__Envelope empty = TETHER__ENVELOPE__INIT;
	empty.request_id = 1;
	assert_int_equal(ipc_send(&p.a, &empty, -1), 0);
	assert_int_equal(ipc_recv(&p.b, &out, NULL), IPC_RECV_VIOLATION);
	pair_close(&p);
}

static void test_permit_tables(void **state)
{
	(void)state;
	/* Nothing the catalog can receive from the vault carries a value. */
	assert_true(ipc_permitted(IPC_CATALOG_VAULT, IPC_END_A, TETHER__ENVELOPE__BODY_REPLY));
	assert_false(ipc_permitted(IPC_CATALOG_VAULT, IPC_END_A, TETHER__ENVELOPE__BODY_PUT_SECRET));
	assert_true(ipc_permitted(IPC_CATALOG_VAULT, IPC_END_B, TETHER__ENVELOPE__BODY_PUT_SECRET));
	assert_false(ipc_permitted(IPC_CATALOG_VAULT, IPC_END_B, TETHER__ENVELOPE__BODY_NEW_PEER_CHANNEL));
	assert_true(ipc_permitted(IPC_SUP_VAULT, IPC_END_B, TETHER__ENVELOPE__BODY_NEW_PEER_CHANNEL));
	assert_false(ipc_permitted(IPC_SUP_VAULT, IPC_END_A, TETHER__ENVELOPE__BODY_NEW_PEER_CHANNEL));
	assert_false(ipc_permitted(IPC_CHANNEL_COUNT, IPC_END_A, TETHER__ENVELOPE__BODY_HEALTH));
	assert_string_equal(ipc_channel_name(IPC_CATALOG_VAULT), "catalog-vault");
}

static void test_new_peer_channel_passes_fd(void **state)
{
	struct pair p;
	Tether__Envelope env = TETHER__ENVELOPE__INIT, *out = NULL;
	Tether__NewPeerChannel m = TETHER__NEW_PEER_CHANNEL__INIT;
	int sv[2], fd = -1;
	char buf[8];

	(void)state;
	pair_open(&p, IPC_SUP_VAULT);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	m.peer_role = "catalog";
	m.generation = 4;
	env.body_case = TETHER__ENVELOPE__BODY_NEW_PEER_CHANNEL;
	env.new_peer_channel = &m;
	assert_int_equal(ipc_send(&p.a, &env, sv[1]), 0);
	close(sv[1]);
	assert_int_equal(ipc_recv(&p.b, &out, &fd), IPC_RECV_MESSAGE);
	assert_true(fd >= 0);
	assert_int_equal(out->new_peer_channel->generation, 4);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	ipc_envelope_free(out);
	/* The passed descriptor is the other end of sv. */
	assert_int_equal(write(fd, "ping", 4), 4);
	assert_int_equal(read(sv[0], buf, sizeof(buf)), 4);
	assert_memory_equal(buf, "ping", 4);
	close(fd);
	close(sv[0]);
	pair_close(&p);
}

static void test_fd_with_other_kind_is_violation(void **state)
{
	struct pair p;
	Tether__Envelope env = TETHER__ENVELOPE__INIT, *out = NULL;
	Tether__Health h = TETHER__HEALTH__INIT;
	int sv[2], fd = 99;
	char c;

	(void)state;
	pair_open(&p, IPC_SUP_VAULT);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	h.role = "supervisor";
	env.body_case = TETHER__ENVELOPE__BODY_HEALTH;
	env.health = &h;
	assert_int_equal(ipc_send(&p.a, &env, sv[1]), 0);
	close(sv[1]);
	assert_int_equal(ipc_recv(&p.b, &out, &fd), IPC_RECV_VIOLATION);
	assert_null(out);
	assert_int_equal(fd, -1);
	/* The smuggled descriptor was closed by the receiver: its peer sees EOF. */
	assert_int_equal(read(sv[0], &c, 1), 0);
	close(sv[0]);
	pair_close(&p);
}

static void test_closed_peer(void **state)
{
	struct pair p;
	Tether__Envelope *out = NULL;

	(void)state;
	pair_open(&p, IPC_CATALOG_VAULT);
	close(p.a.fd);
	p.a.fd = -1;
	assert_int_equal(ipc_recv(&p.b, &out, NULL), IPC_RECV_CLOSED);
	pair_close(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_secret_round_trip),
		cmocka_unit_test(test_reply_carries_error_fields),
		cmocka_unit_test(test_oversized_packet_is_violation),
		cmocka_unit_test(test_garbage_is_violation),
		cmocka_unit_test(test_kind_not_permitted_is_violation),
		cmocka_unit_test(test_permit_tables),
		cmocka_unit_test(test_new_peer_channel_passes_fd),
		cmocka_unit_test(test_fd_with_other_kind_is_violation),
		cmocka_unit_test(test_closed_peer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
