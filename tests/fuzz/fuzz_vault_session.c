/* libFuzzer target, stateful: the real vault request loop
 * (vault_server_run, vault/server.c) on a fresh vault in a tmpfs directory,
 * in a thread, driven over real SEQPACKET socketpairs by this harness
 * playing tetherd (Grant, Revoke, NewPeerChannel), the catalog (PutSecret
 * in one or several chunks, CommitSecret, DeleteSecret, ReconcileBatch,
 * ListSecretMeta, AuditEvent, SSH key generate/rotate/delete/get, raw
 * packets) and validators (GetCredential, SshSign, raw packets, hang-ups),
 * in an order and with arguments decoded from the input (at most
 * MAX_OPS requests; out of order, outside a grant and after its deadline
 * included). After every request it checks:
 *   - nothing the vault sends the catalog or tetherd holds a secret value
 *     (every value carries a marker; no packet may contain it), and every
 *     packet is one that end's permit table accepts;
 *   - a value or signature reaches a validator only for a secret / key slot
 *     its grant names, a destination it names, asked before its deadline;
 *     the value is one the catalog stored for that id, the signature
 *     verifies under that slot's public key, over a userauth request;
 *   - the audit chain verifies (complete lines so far);
 * and at the end that every stored record decrypts. */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "audit.h"
#include "err.h"
#include "ipc.h"
#include "log.h"
#include "server.h"
#include "ssh.h"
#include "vault.h"

#define MAX_OPS 64
#define NSECRETS 4              /* object ids 1..4 */
#define NCONNS 3                /* SSH key owners 10..12 */
#define CONN_BASE 10
#define NJOBS 3                 /* job ids 1..3 */
#define MAX_VALUES 64
#define WAIT_MS 5000            /* an answer later than this is a hang */
#define BARRIER (1ull << 62)

static const unsigned char MARK[] = "\xa5\x5aTETHERVALUE";
#define MARK_LEN (sizeof(MARK) - 1)
static const char *const DESTS[] = { "db.example:5432", "bastion:22", "other:1" };

static char dir[128], vdir[160], audit_path[192], audit_copy[192];

/* ---- input decoding ---- */
struct in {
	const uint8_t *p;
	size_t n;
};

static uint8_t u8(struct in *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

static uint16_t u16(struct in *in)
{
	return (uint16_t)(u8(in) | u8(in) << 8);
}

/* A short name from a fixed alphabet (no marker bytes, printable). */
static void name(struct in *in, char *buf, size_t size)
{
	static const char al[] = "abcxyz_0 \"'=\\";
	size_t n = u8(in) % (size - 1);

	for (size_t i = 0; i < n; i++)
		buf[i] = al[u8(in) % (sizeof(al) - 1)];
	buf[n] = 0;
}

/* ---- the model ---- */
struct value {
	uint64_t id, version;
	unsigned char *p;
	size_t len;
};

struct job {
	int active;                     /* granted (and not revoked or denied) */
	struct ipc_chan chan;           /* harness end, -1 when closed */
	uint64_t deadline;
	uint64_t secrets[NSECRETS + 1];
	size_t nsecrets;
	unsigned keys[NCONNS];          /* slot bits per connection */
	int dests[3];
};

static struct {
	struct vault v;
	struct vault_server srv;
	pthread_t thread;
	volatile sig_atomic_t stop;
	int rc;
	struct ipc_chan sup, cat;       /* harness ends */
	uint64_t rid;
	struct value values[MAX_VALUES];
	size_t nvalues;
	uint64_t next_version;
	struct {
		int known;              /* pk below is certain */
		unsigned char pk[2][32];
	} ssh[NCONNS];
	struct job jobs[NJOBS];
	int sleeps;
	int foreign_puts;               /* a raw packet may have stored a value */
} g;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "fuzz_vault_session: invariant broken: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	abort();
}

static uint64_t now_ms(void)
{
	return vault_grant_now_ms();
}

static void *server_main(void *arg)
{
	(void)arg;
	g.rc = vault_server_run(&g.srv, NULL, &g.stop);
	return NULL;
}

/* ---- packets ---- */

/* Raw receive with a deadline: length, 0 on EOF, -1 on timeout. */
static ssize_t recv_packet(int fd, uint8_t *buf, size_t size)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int r;

	do
		r = poll(&p, 1, WAIT_MS);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return -1;
	ssize_t n = recv(fd, buf, size, MSG_DONTWAIT);
	if (n < 0 && (errno == ECONNRESET || errno == EPIPE))
		return 0;
	if (n < 0)
		fail("recv: %s", strerror(errno));
	return n;
}

/* Everything the vault sends us: permitted, and value-free unless it is a
 * CredentialValue on a validator channel. */
static Tether__Envelope *decode_checked(enum ipc_channel ch, enum ipc_end end,
					const uint8_t *buf, size_t n)
{
	Tether__Envelope *env;

	if (ch != IPC_VALIDATOR_VAULT && memmem(buf, n, MARK, MARK_LEN))
		fail("a secret value was sent on %s", ipc_channel_name(ch));
	if (ipc_decode(ch, end, buf, n, &env) != IPC_RECV_MESSAGE)
		fail("the vault sent an unpermitted or undecodable packet on %s",
		     ipc_channel_name(ch));
	if (ch != IPC_VALIDATOR_VAULT &&
	    env->body_case == TETHER__ENVELOPE__BODY_CREDENTIAL_VALUE)
		fail("CredentialValue on %s", ipc_channel_name(ch));
	return env;
}

static void send_env(struct ipc_chan *c, Tether__Envelope *env, int fd)
{
	if (c->fd < 0)
		return;
	if (ipc_send(c, env, fd) < 0 && errno != EPIPE && errno != ECONNRESET)
		fail("ipc_send: %s", strerror(errno));
}

/* ---- the supervisor channel ---- */

/* A packet from the vault on tetherd's channel; returns it decoded. */
static Tether__Envelope *sup_packet(const uint8_t *buf, size_t n)
{
	Tether__Envelope *env = decode_checked(IPC_SUP_VAULT, IPC_END_A, buf, n);

	if (env->body_case == TETHER__ENVELOPE__BODY_KILL_VALIDATOR) {
		uint64_t job = env->kill_validator->job_id;
		if (job >= 1 && job <= NJOBS)
			g.jobs[job - 1].active = 0;   /* its grant is gone */
	}
	return env;
}

/* Reads tetherd's channel until the Reply to rid (KillValidator may come
 * first); 0 ok, 1 refused. */
static int sup_wait_reply(uint64_t rid)
{
	static uint8_t buf[IPC_MAX_PACKET];

	for (;;) {
		ssize_t n = recv_packet(g.sup.fd, buf, sizeof(buf));
		if (n <= 0)
			fail("no answer from the vault on the supervisor channel (rc=%d)", g.rc);
		Tether__Envelope *env = sup_packet(buf, (size_t)n);
		int done = env->body_case == TETHER__ENVELOPE__BODY_REPLY && env->request_id == rid;
		int ok = done && env->reply->ok;
		ipc_envelope_free(env);
		if (done)
			return ok ? 0 : 1;
	}
}

/* Whatever tetherd's channel holds now (KillValidator). */
static void sup_drain(void)
{
	static uint8_t buf[IPC_MAX_PACKET];
	struct pollfd p = { .fd = g.sup.fd, .events = POLLIN };

	while (poll(&p, 1, 0) > 0 && (p.revents & POLLIN)) {
		ssize_t n = recv(g.sup.fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n <= 0)
			return;
		ipc_envelope_free(sup_packet(buf, (size_t)n));
	}
}

/* ---- the catalog channel ---- */

static void new_catalog_channel(void)
{
	Tether__Envelope env = TETHER__ENVELOPE__INIT;
	Tether__NewPeerChannel np = TETHER__NEW_PEER_CHANNEL__INIT;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		fail("socketpair: %s", strerror(errno));
	if (g.cat.fd >= 0)
		close(g.cat.fd);
	ipc_chan_init(&g.cat, sv[0], IPC_CATALOG_VAULT, IPC_END_A);
	np.peer_role = "catalog";
	env.body_case = TETHER__ENVELOPE__BODY_NEW_PEER_CHANNEL;
	env.new_peer_channel = &np;
	send_env(&g.sup, &env, sv[1]);
	close(sv[1]);
}

static void ssh_keys_seen(const Tether__SshPublicKeys *k)
{
	const char *lines[2] = { k->public_key_1, k->public_key_2 };
	uint64_t c = k->object_id - CONN_BASE;

	if (k->object_id < CONN_BASE || c >= NCONNS)
		return;
	for (int s = 0; s < 2; s++) {
		unsigned char blob[VAULT_SSH_BLOB_BYTES];
		const char *b64 = lines[s] ? strchr(lines[s], ' ') : NULL;
		size_t len;

		if (!b64 || sodium_base642bin(blob, sizeof(blob), b64 + 1, strcspn(b64 + 1, " "),
					      NULL, &len, NULL, sodium_base64_VARIANT_ORIGINAL) < 0 ||
		    len != VAULT_SSH_BLOB_BYTES)
			fail("malformed SshPublicKeys line");
		memcpy(g.ssh[c].pk[s], blob + VAULT_SSH_BLOB_BYTES - 32, 32);
	}
	g.ssh[c].known = 1;
}

/* Sends env (if any) and a ListSecretMeta barrier, then reads every answer
 * up to the barrier's (checking each). Returns 0,
 * or -1 when the vault closed the channel (a new one is handed over). */
static int cat_roundtrip(Tether__Envelope *env)
{
	static uint8_t buf[IPC_MAX_PACKET];
	Tether__Envelope b = TETHER__ENVELOPE__INIT;
	Tether__ListSecretMeta lm = TETHER__LIST_SECRET_META__INIT;
	uint64_t barrier = BARRIER | ++g.rid;

	if (env)
		send_env(&g.cat, env, -1);
	lm.limit = 1;
	b.request_id = barrier;
	b.body_case = TETHER__ENVELOPE__BODY_LIST_SECRET_META;
	b.list_secret_meta = &lm;
	send_env(&g.cat, &b, -1);
	for (;;) {
		ssize_t n = recv_packet(g.cat.fd, buf, sizeof(buf));
		if (n < 0)
			fail("no answer from the vault on the catalog channel (rc=%d)", g.rc);
		if (n == 0) {
			new_catalog_channel();
			return -1;
		}
		Tether__Envelope *r = decode_checked(IPC_CATALOG_VAULT, IPC_END_A, buf, (size_t)n);
		int done = r->request_id == barrier;
		if (r->body_case == TETHER__ENVELOPE__BODY_SSH_PUBLIC_KEYS)
			ssh_keys_seen(r->ssh_public_keys);
		ipc_envelope_free(r);
		if (done)
			return 0;
	}
}

/* A value: the marker, a counter, then bytes of the input. */
static struct value *new_value(struct in *in, uint64_t id, uint64_t version)
{
	size_t extra = u8(in) % 48;
	struct value *v;

	if (g.nvalues == MAX_VALUES)
		return NULL;
	v = &g.values[g.nvalues++];
	v->id = id;
	v->version = version;
	v->len = MARK_LEN + 2 + extra;
	v->p = malloc(v->len);
	memcpy(v->p, MARK, MARK_LEN);
	v->p[MARK_LEN] = (unsigned char)g.nvalues;
	v->p[MARK_LEN + 1] = (unsigned char)(g.nvalues >> 8);
	for (size_t i = 0; i < extra; i++)
		v->p[MARK_LEN + 2 + i] = u8(in);
	return v;
}

static uint64_t pick_version(struct in *in)
{
	uint8_t b = u8(in);

	if (b < 200)
		return ++g.next_version;        /* the catalog's way */
	return b - 200;                         /* reused / old / zero */
}

static void op_put(struct in *in, int chunked)
{
	Tether__Envelope env = TETHER__ENVELOPE__INIT;
	Tether__PutSecret ps = TETHER__PUT_SECRET__INIT;
	char nm[16];
	uint64_t id = 1 + u8(in) % NSECRETS, version = pick_version(in);
	struct value *v = new_value(in, id, version);

	if (!v)
		return;
	name(in, nm, sizeof(nm));
	env.request_id = ++g.rid;
	env.body_case = TETHER__ENVELOPE__BODY_PUT_SECRET;
	env.put_secret = &ps;
	ps.object_id = id;
	ps.version = version;
	ps.object_name = nm;
	ps.role = "materialize";
	ps.replace = u8(in) & 1;
	ps.total_size = (uint32_t)v->len;
	if (!chunked) {
		ps.chunk.data = v->p;
		ps.chunk.len = v->len;
		ps.last = 1;
		cat_roundtrip(&env);
		return;
	}
	/* Chunks with fuzzed sizes, offsets, totals and last flags. */
	size_t off = 0;
	int nchunks = 1 + u8(in) % 4;
	for (int c = 0; c < nchunks; c++) {
		uint8_t ctl = u8(in);
		size_t len = u8(in) % (v->len + 1);
		if (off + len > v->len)
			len = v->len - off;
		ps.offset = (ctl & 1) ? (uint32_t)u8(in) : (uint32_t)off;
		ps.total_size = (ctl & 2) ? (uint32_t)u16(in) : (uint32_t)v->len;
		if (ctl & 4)
			ps.object_id = 1 + u8(in) % NSECRETS;
		if (c == 0)
			v->id = ps.object_id;
		ps.chunk.data = v->p + off;
		ps.chunk.len = len;
		ps.last = c == nchunks - 1 || (ctl & 8);
		send_env(&g.cat, &env, -1);
		off += len;
		if (ps.last)
			break;
	}
	/* Whatever the vault assembles is a prefix of v->p (chunks go out in
	 * order), stored under the first chunk's id, or refused. */
	cat_roundtrip(NULL);
}

static void op_simple(struct in *in, unsigned kind)
{
	Tether__Envelope env = TETHER__ENVELOPE__INIT;
	Tether__CommitSecret cs = TETHER__COMMIT_SECRET__INIT;
	Tether__DeleteSecret ds = TETHER__DELETE_SECRET__INIT;
	Tether__ListSecretMeta lm = TETHER__LIST_SECRET_META__INIT;
	Tether__AuditEvent ae = TETHER__AUDIT_EVENT__INIT;
	Tether__GenerateSshKeys gk = TETHER__GENERATE_SSH_KEYS__INIT;
	Tether__RotateSshKeys rk = TETHER__ROTATE_SSH_KEYS__INIT;
	Tether__DeleteSshKeys dk = TETHER__DELETE_SSH_KEYS__INIT;
	Tether__GetSshPublicKeys pk = TETHER__GET_SSH_PUBLIC_KEYS__INIT;
	char a[24], b[24], c[24], d[24];
	uint64_t conn = CONN_BASE + u8(in) % NCONNS;

	env.request_id = ++g.rid;
	name(in, a, sizeof(a));
	switch (kind) {
	case 0:
		cs.object_id = 1 + u8(in) % NSECRETS;
		cs.version = u8(in) & 1 ? g.next_version : u8(in);
		env.body_case = TETHER__ENVELOPE__BODY_COMMIT_SECRET;
		env.commit_secret = &cs;
		break;
	case 1:
		ds.object_id = 1 + u8(in) % (NSECRETS + 1);
		ds.object_name = a;
		env.body_case = TETHER__ENVELOPE__BODY_DELETE_SECRET;
		env.delete_secret = &ds;
		break;
	case 2:
		lm.after_object_id = u8(in) % (NSECRETS + 1);
		lm.limit = u8(in) % 4;
		env.body_case = TETHER__ENVELOPE__BODY_LIST_SECRET_META;
		env.list_secret_meta = &lm;
		break;
	case 3:
		name(in, b, sizeof(b));
		name(in, c, sizeof(c));
		name(in, d, sizeof(d));
		ae.event = a;
		ae.role = b;
		ae.object_id = c;
		ae.detail = d;
		env.body_case = TETHER__ENVELOPE__BODY_AUDIT_EVENT;
		env.audit_event = &ae;
		break;
	case 4:
		gk.object_id = conn;
		gk.object_name = a;
		env.body_case = TETHER__ENVELOPE__BODY_GENERATE_SSH_KEYS;
		env.generate_ssh_keys = &gk;
		break;
	case 5:
		rk.object_id = conn;
		rk.object_name = a;
		env.body_case = TETHER__ENVELOPE__BODY_ROTATE_SSH_KEYS;
		env.rotate_ssh_keys = &rk;
		g.ssh[conn - CONN_BASE].known = 0;   /* until the answer */
		break;
	case 6:
		dk.object_id = conn;
		env.body_case = TETHER__ENVELOPE__BODY_DELETE_SSH_KEYS;
		env.delete_ssh_keys = &dk;
		g.ssh[conn - CONN_BASE].known = 0;
		break;
	default:
		pk.object_id = conn;
		env.body_case = TETHER__ENVELOPE__BODY_GET_SSH_PUBLIC_KEYS;
		env.get_ssh_public_keys = &pk;
		break;
	}
	cat_roundtrip(&env);
}

static void op_reconcile(struct in *in)
{
	Tether__Envelope env = TETHER__ENVELOPE__INIT;
	Tether__ReconcileBatch rb = TETHER__RECONCILE_BATCH__INIT;
	Tether__SecretMeta items[8], *pitems[8];
	uint64_t owners[NCONNS];
	size_t n = u8(in) % 8;

	for (size_t i = 0; i < n; i++) {
		tether__secret_meta__init(&items[i]);
		if (g.nvalues && (u8(in) & 1)) {
			const struct value *v = &g.values[u8(in) % g.nvalues];
			items[i].object_id = v->id;
			items[i].version = v->version;
		} else {
			items[i].object_id = 1 + u8(in) % NSECRETS;
			items[i].version = u8(in);
		}
		pitems[i] = &items[i];
	}
	rb.items = pitems;
	rb.n_items = n;
	rb.last = !(u8(in) % 4 == 0);
	uint8_t ob = u8(in);
	for (size_t i = 0; i < NCONNS; i++)
		if (ob & (1u << i))
			owners[rb.n_ssh_key_owners++] = CONN_BASE + i;
	rb.ssh_key_owners = owners;
	rb.ssh_keys_listed = (ob >> 4) & 1;
	if (rb.ssh_keys_listed)
		for (size_t i = 0; i < NCONNS; i++)
			if (!(ob & (1u << i)))
				g.ssh[i].known = 0;     /* may be shredded */
	env.request_id = ++g.rid;
	env.body_case = TETHER__ENVELOPE__BODY_RECONCILE_BATCH;
	env.reconcile_batch = &rb;
	cat_roundtrip(&env);
}

/* Sends a packet of input bytes as it is; returns what the receiving end
 * will make of it (NULL: a violation), for the checks. */
static Tether__Envelope *op_raw(struct in *in, int fd, enum ipc_channel ch)
{
	uint8_t buf[256];
	size_t n = u8(in);
	Tether__Envelope *env = NULL;

	if (n > in->n)
		n = in->n;
	memcpy(buf, in->p, n);
	in->p += n;
	in->n -= n;
	if (fd >= 0)
		(void)!send(fd, buf, n, MSG_NOSIGNAL);
	if (ipc_decode(ch, IPC_END_B, buf, n, &env) != IPC_RECV_MESSAGE)
		env = NULL;
	return env;
}

/* ---- validators ---- */

static void job_close(struct job *j)
{
	if (j->chan.fd >= 0)
		close(j->chan.fd);
	j->chan.fd = -1;
	j->active = 0;
}

static void op_grant(struct in *in)
{
	Tether__Envelope env = TETHER__ENVELOPE__INIT;
	Tether__Grant gr = TETHER__GRANT__INIT;
	Tether__SecretGrant sg[NSECRETS], *psg[NSECRETS];
	Tether__SshKeyGrant kg[NCONNS], *pkg[NCONNS];
	uint32_t slots[NCONNS][2];
	char *dests[3];
	struct job *j = &g.jobs[u8(in) % NJOBS];
	uint64_t job = (uint64_t)(j - g.jobs) + 1;
	uint8_t sm = u8(in), km = u8(in), dm = u8(in), dl = u8(in);
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		fail("socketpair: %s", strerror(errno));
	struct job nj = { 0 };
	for (int i = 0; i < NSECRETS; i++)
		if (sm & (1u << i)) {
			tether__secret_grant__init(&sg[gr.n_secrets]);
			sg[gr.n_secrets].object_id = (uint64_t)i + 1;
			sg[gr.n_secrets].version = (sm >> 4) & 1 ? 0 : g.next_version;
			psg[gr.n_secrets] = &sg[gr.n_secrets];
			gr.n_secrets++;
			nj.secrets[nj.nsecrets++] = (uint64_t)i + 1;
		}
	for (int i = 0; i < NCONNS; i++) {
		unsigned bits = (km >> (2 * i)) & 3;
		size_t ns = 0;
		if (!bits)
			continue;
		tether__ssh_key_grant__init(&kg[gr.n_ssh_keys]);
		kg[gr.n_ssh_keys].connection_id = CONN_BASE + (uint64_t)i;
		for (unsigned s = 0; s < 2; s++)
			if (bits & (1u << s))
				slots[gr.n_ssh_keys][ns++] = s + 1;
		kg[gr.n_ssh_keys].slots = slots[gr.n_ssh_keys];
		kg[gr.n_ssh_keys].n_slots = ns;
		pkg[gr.n_ssh_keys] = &kg[gr.n_ssh_keys];
		gr.n_ssh_keys++;
		nj.keys[i] = bits;
	}
	for (int i = 0; i < 2; i++)
		if (dm & (1u << i)) {
			dests[gr.n_destinations++] = (char *)DESTS[i];
			nj.dests[i] = 1;
		}
	gr.job_id = job;
	gr.secrets = psg;
	gr.ssh_keys = pkg;
	gr.destinations = dests;
	/* far future, already past, or a few ms away */
	nj.deadline = dl < 160 ? now_ms() + 600000 : dl < 200 ? now_ms() - 1 : now_ms() + dl % 8;
	gr.deadline_monotonic_ms = nj.deadline;
	env.request_id = ++g.rid;
	env.body_case = TETHER__ENVELOPE__BODY_GRANT;
	env.grant = &gr;
	send_env(&g.sup, &env, sv[1]);
	close(sv[1]);
	if (sup_wait_reply(env.request_id) == 0) {
		/* Unless it expired (or was dropped) meanwhile, the vault must
		 * refuse a second grant for a job. */
		if (j->active && now_ms() + 50 < j->deadline)
			fail("a second grant for job %llu was accepted", (unsigned long long)job);
		job_close(j);
		*j = nj;
		ipc_chan_init(&j->chan, sv[0], IPC_VALIDATOR_VAULT, IPC_END_A);
		j->active = 1;
	} else {
		close(sv[0]);
	}
}

static void op_revoke(struct in *in)
{
	Tether__Envelope env = TETHER__ENVELOPE__INIT;
	Tether__Revoke rv = TETHER__REVOKE__INIT;
	struct job *j = &g.jobs[u8(in) % NJOBS];

	rv.job_id = (uint64_t)(j - g.jobs) + 1;
	env.request_id = ++g.rid;
	env.body_case = TETHER__ENVELOPE__BODY_REVOKE;
	env.revoke = &rv;
	send_env(&g.sup, &env, -1);
	/* The vault closes its end; ours reads EOF from now on. */
	j->active = 0;
}

/* A publickey userauth signing input for `pk` (RFC 4252 7). */
static size_t userauth(struct in *in, const unsigned char pk[32], unsigned char *out)
{
	unsigned char blob[VAULT_SSH_BLOB_BYTES];
	size_t n = 0, sid = 20 + u8(in) % 45;
	char user[12];

#define PUT32(x) do { uint32_t v_ = (uint32_t)(x); out[n++] = (unsigned char)(v_ >> 24); \
	out[n++] = (unsigned char)(v_ >> 16); out[n++] = (unsigned char)(v_ >> 8); \
	out[n++] = (unsigned char)v_; } while (0)
#define PUTS(s, l) do { PUT32(l); memcpy(out + n, s, l); n += (l); } while (0)
	PUT32(sid);
	for (size_t i = 0; i < sid; i++)
		out[n++] = u8(in);
	out[n++] = 50;
	name(in, user, sizeof(user));
	if (!user[0])
		strcpy(user, "u");
	PUTS(user, strlen(user));
	PUTS("ssh-connection", 14);
	PUTS("publickey", 9);
	out[n++] = 1;
	PUTS("ssh-ed25519", 11);
	vault_ssh_blob(pk, blob);
	PUTS(blob, sizeof(blob));
	return n;
#undef PUT32
#undef PUTS
}

/* Reads a validator's answer to rid: value chunks, a signature, a Reply,
 * or the end of the channel. Checks what came against the grant. */
static void val_answer(struct job *j, uint64_t rid, uint64_t sent_at, uint64_t secret,
		       const char *dest, uint64_t conn, unsigned slot,
		       const unsigned char *data, size_t dlen)
{
	static uint8_t buf[IPC_MAX_PACKET];
	unsigned char value[1024];
	size_t vlen = 0;

	for (;;) {
		ssize_t n = recv_packet(j->chan.fd, buf, sizeof(buf));
		if (n < 0)
			fail("no answer from the vault on a validator channel (rc=%d)", g.rc);
		if (n == 0) {
			job_close(j);
			return;
		}
		Tether__Envelope *env = decode_checked(IPC_VALIDATOR_VAULT, IPC_END_A, buf,
						       (size_t)n);
		int granted_dest = 0, done = 0;
		for (int i = 0; i < 2; i++)
			if (j->dests[i] && !strcmp(dest, DESTS[i]))
				granted_dest = 1;
		if (env->body_case == TETHER__ENVELOPE__BODY_CREDENTIAL_VALUE) {
			const Tether__CredentialValue *cv = env->credential_value;
			int granted = 0;
			for (size_t i = 0; i < j->nsecrets; i++)
				granted |= j->secrets[i] == secret;
			if (!granted || !granted_dest || sent_at >= j->deadline ||
			    cv->secret_id != secret || env->request_id != rid)
				fail("value of u%llu released outside the grant (granted=%d dest=%d late=%d)",
				     (unsigned long long)cv->secret_id, granted, granted_dest,
				     sent_at >= j->deadline);
			if (cv->offset != vlen || vlen + cv->chunk.len > sizeof(value))
				fail("credential chunks out of order");
			memcpy(value + vlen, cv->chunk.data, cv->chunk.len);
			vlen += cv->chunk.len;
			if (cv->last) {
				int known = g.foreign_puts;
				for (size_t i = 0; i < g.nvalues; i++)
					known |= g.values[i].id == secret && vlen <= g.values[i].len &&
						 !memcmp(g.values[i].p, value, vlen);
				if (!known)
					fail("released value of u%llu is none the catalog stored",
					     (unsigned long long)secret);
				done = 1;
			}
		} else if (env->body_case == TETHER__ENVELOPE__BODY_SSH_SIGNATURE) {
			uint64_t c = conn - CONN_BASE;
			struct vault_ssh_userauth ua;
			if (c >= NCONNS || slot < 1 || slot > 2 || !(j->keys[c] & (1u << (slot - 1))) ||
			    !granted_dest || sent_at >= j->deadline || env->request_id != rid ||
			    vault_ssh_parse_userauth(data, dlen, &ua) != 0)
				fail("signature outside the grant");
			if (env->ssh_signature->sig.len != VAULT_SSH_SIG_BYTES)
				fail("signature of %zu bytes", env->ssh_signature->sig.len);
			if (g.ssh[c].known &&
			    crypto_sign_verify_detached(env->ssh_signature->sig.data, data, dlen,
							g.ssh[c].pk[slot - 1]) != 0)
				fail("signature does not verify under slot %u of u%llu", slot,
				     (unsigned long long)conn);
			done = 1;
		} else if (env->body_case == TETHER__ENVELOPE__BODY_REPLY) {
			done = 1;
		}
		ipc_envelope_free(env);
		if (done)
			return;
	}
}

static void op_validator(struct in *in, unsigned kind)
{
	struct job *j = &g.jobs[u8(in) % NJOBS];
	Tether__Envelope env = TETHER__ENVELOPE__INIT;
	Tether__GetCredential gc = TETHER__GET_CREDENTIAL__INIT;
	Tether__SshSign ss = TETHER__SSH_SIGN__INIT;
	unsigned char data[512];
	size_t dlen = 0;
	const char *dest = DESTS[u8(in) % 3];
	uint64_t sent_at;

	if (j->chan.fd < 0)
		return;
	env.request_id = ++g.rid;
	switch (kind) {
	case 0:
		gc.secret_id = 1 + u8(in) % (NSECRETS + 1);
		gc.destination = (char *)dest;
		env.body_case = TETHER__ENVELOPE__BODY_GET_CREDENTIAL;
		env.get_credential = &gc;
		break;
	case 1: {
		uint8_t how = u8(in);
		uint64_t c = u8(in) % NCONNS;
		ss.connection_id = CONN_BASE + c;
		ss.slot = 1 + (how & 1) + ((how & 0x80) ? 5 : 0);
		if (how & 2) {          /* a well-formed request for some key */
			const unsigned char *pk = g.ssh[c].pk[(how >> 2) & 1];
			dlen = userauth(in, pk, data);
		} else {
			dlen = u8(in);
			for (size_t i = 0; i < dlen; i++)
				data[i] = u8(in);
		}
		ss.data.data = data;
		ss.data.len = dlen;
		ss.destination = (char *)dest;
		env.body_case = TETHER__ENVELOPE__BODY_SSH_SIGN;
		env.ssh_sign = &ss;
		break;
	}
	case 2: {
		/* What the vault will take it for, if anything. */
		sent_at = now_ms();
		Tether__Envelope *raw = op_raw(in, j->chan.fd, IPC_VALIDATOR_VAULT);
		if (!raw) {
			val_answer(j, 0, sent_at, 0, "", 0, 0, NULL, 0);
		} else if (raw->body_case == TETHER__ENVELOPE__BODY_GET_CREDENTIAL) {
			const Tether__GetCredential *m = raw->get_credential;
			val_answer(j, raw->request_id, sent_at, m->secret_id,
				   m->destination ? m->destination : "", 0, 0, NULL, 0);
		} else {
			const Tether__SshSign *m = raw->ssh_sign;
			val_answer(j, raw->request_id, sent_at, 0, m->destination ? m->destination : "",
				   m->connection_id, m->slot, m->data.data, m->data.len);
		}
		if (raw)
			ipc_envelope_free(raw);
		return;
	}
	default:
		job_close(j);           /* the validator exits */
		return;
	}
	sent_at = now_ms();
	send_env(&j->chan, &env, -1);
	val_answer(j, env.request_id, sent_at, gc.secret_id, dest, ss.connection_id, ss.slot,
		   data, dlen);
}

/* ---- the audit chain, as far as its lines are complete ---- */
static void check_audit(void)
{
	static char buf[1 << 20];
	FILE *f = fopen(audit_path, "rb");
	size_t n, keep;
	struct err e;

	if (!f)
		fail("audit.log: %s", strerror(errno));
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	for (keep = n; keep > 0 && buf[keep - 1] != '\n'; keep--)
		;
	f = fopen(audit_copy, "wb");
	if (!f || fwrite(buf, 1, keep, f) != keep || fclose(f) != 0)
		fail("audit copy: %s", strerror(errno));
	if (audit_verify_file(audit_copy, &e) < 0)
		fail("audit chain: %s", e.message);
}

/* ---- set-up per input ---- */

static void reset_dir(void)
{
	static const char *const files[] = { "master.key", "keyring", VAULT_STORE_FILE,
					     VAULT_SSH_STORE_FILE, VAULT_AUDIT_FILE };
	char p[256];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", vdir, files[i]);
		unlink(p);
	}
}

static void cleanup(void)
{
	char cmd[192];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	(void)!system(cmd);
}

static void remove_stale(const char *base, const char *prefix)
{
	DIR *d = opendir(base);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		char p[320], cmd[400];
		int pid;

		if (strncmp(de->d_name, prefix, strlen(prefix)) != 0)
			continue;
		pid = atoi(de->d_name + strlen(prefix));
		if (pid <= 0 || (kill(pid, 0) < 0 && errno == ESRCH)) {
			snprintf(p, sizeof(p), "%s/%s", base, de->d_name);
			snprintf(cmd, sizeof(cmd), "rm -rf '%s'", p);
			(void)!system(cmd);
		}
	}
	closedir(d);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";

	(void)argc;
	(void)argv;
	log_init("fuzz");
	log_set_level((enum log_level)(LOG_ERROR + 1));
	signal(SIGPIPE, SIG_IGN);
	if (sodium_init() < 0)
		abort();
	/* One directory per process; a crashed run's (no atexit) is removed by
	 * the next run that finds its pid gone. */
	remove_stale(base, "tether-fuzz-vault-");
	snprintf(dir, sizeof(dir), "%s/tether-fuzz-vault-%d", base, (int)getpid());
	cleanup();
	if (mkdir(dir, 0700) < 0)
		abort();
	atexit(cleanup);
	snprintf(vdir, sizeof(vdir), "%s/vault", dir);
	if (mkdir(vdir, 0700) < 0)
		abort();
	snprintf(audit_path, sizeof(audit_path), "%s/%s", vdir, VAULT_AUDIT_FILE);
	snprintf(audit_copy, sizeof(audit_copy), "%s/audit.copy", dir);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in = { data, size };
	struct err e;
	int sup[2], cat[2];

	reset_dir();
	memset(&g, 0, sizeof(g));
	for (int i = 0; i < NJOBS; i++)
		g.jobs[i].chan.fd = -1;
	if (vault_open(&g.v, dir, &e) < 0)
		fail("vault_open: %s", e.message);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sup) < 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, cat) < 0)
		fail("socketpair: %s", strerror(errno));
	ipc_chan_init(&g.sup, sup[0], IPC_SUP_VAULT, IPC_END_A);
	ipc_chan_init(&g.cat, cat[0], IPC_CATALOG_VAULT, IPC_END_A);
	vault_server_init(&g.srv, &g.v, sup[1], cat[1]);
	if (pthread_create(&g.thread, NULL, server_main, NULL) != 0)
		fail("pthread_create");

	for (int ops = 0; ops < MAX_OPS && in.n > 0; ops++) {
		uint8_t op = u8(&in);

		switch (op % 20) {
		case 0: case 1: case 2: op_put(&in, 0); break;
		case 3: op_put(&in, 1); break;
		case 4: op_simple(&in, 0); break;
		case 5: op_simple(&in, 1); break;
		case 6: op_simple(&in, 2); break;
		case 7: op_simple(&in, 3); break;
		case 8: op_simple(&in, 4 + u8(&in) % 4); break;
		case 9: op_reconcile(&in); break;
		case 10: {
			Tether__Envelope *raw = op_raw(&in, g.cat.fd, IPC_CATALOG_VAULT);
			if (raw && raw->body_case == TETHER__ENVELOPE__BODY_PUT_SECRET)
				g.foreign_puts = 1;
			if (raw)
				ipc_envelope_free(raw);
			cat_roundtrip(NULL);
			break;
		}
		case 11: case 12: op_grant(&in); break;
		case 13: op_revoke(&in); break;
		case 14: case 15: op_validator(&in, 0); break;
		case 16: op_validator(&in, 1); break;
		case 17: op_validator(&in, 2 + (u8(&in) & 1)); break;
		case 18:
			if (g.sleeps++ < 2)
				usleep(1000u * (1 + u8(&in) % 8));
			break;
		default:
			new_catalog_channel();
			cat_roundtrip(NULL);
			break;
		}
		sup_drain();
		check_audit();
	}

	/* tetherd goes away: the vault stops after its last commit. */
	close(g.sup.fd);
	pthread_join(g.thread, NULL);
	if (g.rc != 0)
		fail("vault_server_run returned %d", g.rc);
	if (vault_verify_all(&g.v, &e) < 0)
		fail("a stored record does not decrypt: %s", e.message);
	check_audit();
	vault_server_free(&g.srv);
	close(g.srv.sup.fd);            /* the vault's end: its process exit closes it */
	vault_close(&g.v);
	if (g.cat.fd >= 0)
		close(g.cat.fd);
	for (int i = 0; i < NJOBS; i++)
		job_close(&g.jobs[i]);
	for (size_t i = 0; i < g.nvalues; i++)
		free(g.values[i].p);
	return 0;
}
