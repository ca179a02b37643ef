/* SSH TUNNEL: reaching the bastion (TCP with a deadline), its host key
 * (SHA256 fingerprint as `ssh-keygen -lf` prints it, checked against the
 * pin), public-key auth whose signatures come from the vault (slot 1, then
 * slot 2 while a rotation is in progress), and the direct-tcpip forward
 * behind a one-connection loopback listener served by one pump thread. */
#include "val.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <libssh2.h>
#include <sodium.h>

#define SSH_DEFAULT_TIMEOUT_MS 10000
#define SSH_ED25519_BLOB_LEN 51

static pthread_once_t ssh_once = PTHREAD_ONCE_INIT;
static int ssh_init_rc;

static void ssh_global_init(void)
{
	ssh_init_rc = libssh2_init(0);
	if (sodium_init() < 0)
		ssh_init_rc = -1;
}

/* What the messages call the bastion: itself when the SSH TUNNEL
 * connection is validated, "SSH bastion" when it carries another type. */
struct ssh_ctx {
	const struct val_services *svc;
	const struct val_ssh_tunnel *t;
	bool via;
	int timeout_ms;
	char hostport[256];      /* "bastion:22" */
	char label[320];         /* "bastion:22" or "SSH bastion bastion:22" */
};

static void ssh_ctx_init(struct ssh_ctx *c, const struct val_services *svc,
			 const struct val_job *job, const struct val_ssh_tunnel *t, bool via)
{
	c->svc = svc;
	c->t = t;
	c->via = via;
	c->timeout_ms = job->connect_timeout_ms > 0 ? job->connect_timeout_ms
						     : SSH_DEFAULT_TIMEOUT_MS;
	snprintf(c->hostport, sizeof(c->hostport), "%s:%u", t->host, t->port);
	snprintf(c->label, sizeof(c->label), "%s%s", via ? "SSH bastion " : "", c->hostport);
}

static const char *ssh_last_error(LIBSSH2_SESSION *s)
{
	char *msg = NULL;
	int len = 0;
	libssh2_session_last_error(s, &msg, &len, 0);
	return msg && *msg ? msg : "unknown error";
}

/* ---- TCP ---------------------------------------------------------------- */

static enum val_code ssh_errno_code(int err)
{
	switch (err) {
	case ETIMEDOUT:
		return VAL_TIMEOUT;
	default:                 /* refused, unreachable, reset */
		return VAL_REFUSED;
	}
}

/* Connects to every resolved address in turn, within one deadline. */
static int ssh_tcp_connect(struct ssh_ctx *c, int *fd_out, struct val_result *r)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *ai = NULL;
	char port[8];

	snprintf(r->stage, sizeof(r->stage), "bastion");
	snprintf(port, sizeof(port), "%u", c->t->port);
	int g = getaddrinfo(c->t->host, port, &hints, &ai);
	if (g != 0) {
		val_fail(r, VAL_DNS, c->hostport, "failed to resolve %s%s: %s",
			 c->via ? "SSH bastion " : "", c->t->host, gai_strerror(g));
		err_hint(&r->e, "Check the SSH TUNNEL connection's HOST.");
		return -1;
	}
	int64_t deadline = val_now_ms() + c->timeout_ms;
	int last = ETIMEDOUT;
	for (struct addrinfo *a = ai; a; a = a->ai_next) {
		int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
				a->ai_protocol);
		if (fd < 0) {
			last = errno;
			continue;
		}
		if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
			*fd_out = fd;
			freeaddrinfo(ai);
			return 0;
		}
		if (errno != EINPROGRESS) {
			last = errno;
			close(fd);
			continue;
		}
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		int64_t left = deadline - val_now_ms();
		int n = left > 0 ? poll(&p, 1, (int)left) : 0;
		int soerr = 0;
		socklen_t sl = sizeof(soerr);
		if (n == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0) {
			*fd_out = fd;
			freeaddrinfo(ai);
			return 0;
		}
		last = n == 1 ? soerr : ETIMEDOUT;
		close(fd);
		if (val_now_ms() >= deadline)
			break;
	}
	freeaddrinfo(ai);
	val_fail(r, ssh_errno_code(last), c->hostport, "failed to connect to %s: %s",
		 c->label, last == ETIMEDOUT ? "timed out" : strerror(last));
	err_hint(&r->e, "Check that the bastion's HOST and PORT are right and that it "
		 "accepts connections from tether.");
	return -1;
}

/* ---- host key ----------------------------------------------------------- */

/* "SHA256:" + unpadded base64, exactly `ssh-keygen -lf`'s second field. */
static int ssh_fingerprint(LIBSSH2_SESSION *s, char *out, size_t size)
{
	const unsigned char *h = (const unsigned char *)
		libssh2_hostkey_hash(s, LIBSSH2_HOSTKEY_HASH_SHA256);
	char b64[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL_NO_PADDING)];

	if (!h)
		return -1;
	sodium_bin2base64(b64, sizeof(b64), h, 32, sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
	snprintf(out, size, "SHA256:%s", b64);
	return 0;
}

static const char *ssh_hostkey_type(LIBSSH2_SESSION *s)
{
	static const char *names[] = {
		[LIBSSH2_HOSTKEY_TYPE_RSA] = "ssh-rsa",
		[LIBSSH2_HOSTKEY_TYPE_DSS] = "ssh-dss",
		[LIBSSH2_HOSTKEY_TYPE_ECDSA_256] = "ecdsa-sha2-nistp256",
		[LIBSSH2_HOSTKEY_TYPE_ECDSA_384] = "ecdsa-sha2-nistp384",
		[LIBSSH2_HOSTKEY_TYPE_ECDSA_521] = "ecdsa-sha2-nistp521",
		[LIBSSH2_HOSTKEY_TYPE_ED25519] = "ssh-ed25519",
	};
	size_t len = 0;
	int type = -1;
	if (!libssh2_session_hostkey(s, &len, &type) || type < 0 ||
	    (size_t)type >= sizeof(names) / sizeof(names[0]) || !names[type])
		return "unknown";
	return names[type];
}

/* ---- user auth ---------------------------------------------------------- */

struct ssh_sign_ctx {
	const struct val_services *svc;
	uint64_t connection_id;
	int slot;
	bool failed;
	struct err e;
};

/* libssh2 wants the raw 64-byte Ed25519 signature in a buffer it frees with
 * free() (the default allocator); it wraps it itself (PEERS.md 2). */
static LIBSSH2_USERAUTH_PUBLICKEY_SIGN_FUNC(ssh_sign_cb)
{
	struct ssh_sign_ctx *c = *abstract;
	unsigned char raw[64];

	(void)session;
	if (!c->svc->ssh_sign ||
	    c->svc->ssh_sign(c->svc->ctx, c->connection_id, c->slot, data, data_len, raw,
			     &c->e) != 0) {
		c->failed = true;
		return -1;
	}
	*sig = malloc(sizeof(raw));
	if (!*sig)
		return -1;
	memcpy(*sig, raw, sizeof(raw));
	*sig_len = sizeof(raw);
	return 0;
}

static void ssh_key_line(const unsigned char blob[SSH_ED25519_BLOB_LEN], char *out, size_t size)
{
	char b64[sodium_base64_ENCODED_LEN(SSH_ED25519_BLOB_LEN, sodium_base64_VARIANT_ORIGINAL)];
	sodium_bin2base64(b64, sizeof(b64), blob, SSH_ED25519_BLOB_LEN,
			  sodium_base64_VARIANT_ORIGINAL);
	snprintf(out, size, "ssh-ed25519 %s", b64);
}

static int ssh_auth(struct ssh_ctx *c, LIBSSH2_SESSION *s, struct val_result *r)
{
	const struct val_ssh_tunnel *t = c->t;
	char keys[2][128] = { "", "" };
	int tried = 0;

	snprintf(r->stage, sizeof(r->stage), "bastion_auth");
	for (int slot = 1; slot <= 2; slot++) {
		unsigned char blob[SSH_ED25519_BLOB_LEN];
		if (!c->svc->ssh_public_key ||
		    c->svc->ssh_public_key(c->svc->ctx, t->connection_id, slot, blob) != 0)
			continue;
		ssh_key_line(blob, keys[slot - 1], sizeof(keys[0]));
		tried++;

		struct ssh_sign_ctx sc = { .svc = c->svc, .connection_id = t->connection_id,
					   .slot = slot };
		void *abstract = &sc;
		int rc = libssh2_userauth_publickey(s, t->user, blob, sizeof(blob),
						    ssh_sign_cb, &abstract);
		if (rc == 0 && libssh2_userauth_authenticated(s)) {
			r->ssh_key_slot = slot;
			return 0;
		}
		if (sc.failed) {
			val_fail(r, VAL_CONFIG, c->hostport,
				 "invalid connection configuration: the vault did not sign with "
				 "SSH key %d of the tunnel", slot);
			err_detail(&r->e, "%s", sc.e.message[0] ? sc.e.message : "signing refused");
			return -1;
		}
		if (rc == LIBSSH2_ERROR_TIMEOUT) {
			val_fail(r, VAL_TIMEOUT, c->hostport,
				 "failed to connect to %s: timed out during authentication", c->label);
			return -1;
		}
		if (rc != LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED &&
		    rc != LIBSSH2_ERROR_AUTHENTICATION_FAILED) {
			val_fail(r, VAL_PROTOCOL, c->hostport, "unexpected response from %s: %s",
				 c->label, ssh_last_error(s));
			return -1;
		}
	}
	if (tried == 0) {
		val_fail(r, VAL_CONFIG, c->hostport,
			 "invalid connection configuration: the SSH tunnel has no public keys");
		return -1;
	}
	val_fail(r, VAL_AUTH, c->hostport, "authentication to %s%s failed: %s",
		 c->via ? "" : "SSH server ", c->label,
		 "the server accepted neither of the connection's public keys");
	err_detail(&r->e, "User \"%s\"; rejected keys: %s%s%s.", t->user, keys[0],
		   keys[0][0] && keys[1][0] ? ", " : "", keys[1]);
	err_hint(&r->e, "Add public_key_1 to the authorized_keys of %s on the bastion: "
		 "SELECT public_key_1, public_key_2 FROM mz_ssh_tunnel_connections "
		 "WHERE id = 'u%llu'", t->user, (unsigned long long)t->connection_id);
	return -1;
}

/* ---- session ------------------------------------------------------------ */

struct ssh_conn {
	int fd;
	LIBSSH2_SESSION *s;
};

static void ssh_conn_close(struct ssh_conn *sc)
{
	if (sc->s) {
		libssh2_session_set_blocking(sc->s, 1);
		libssh2_session_disconnect(sc->s, "tether validator done");
		libssh2_session_free(sc->s);
		sc->s = NULL;
	}
	if (sc->fd >= 0)
		close(sc->fd);
	sc->fd = -1;
}

/* Every stage up to an authenticated session; on failure r says which. */
static int ssh_conn_open(struct ssh_ctx *c, struct ssh_conn *sc, struct val_result *r)
{
	const struct val_ssh_tunnel *t = c->t;

	sc->fd = -1;
	sc->s = NULL;
	pthread_once(&ssh_once, ssh_global_init);
	if (ssh_init_rc != 0) {
		val_fail(r, VAL_CONFIG, c->hostport, "internal error: validator: libssh2_init failed");
		err_set(&r->e, "XX000", "internal error: validator: libssh2_init failed");
		return -1;
	}
	if (!t->host || !t->host[0] || !t->user || !t->user[0]) {
		val_fail(r, VAL_CONFIG, c->hostport,
			 "invalid connection configuration: SSH tunnel needs HOST and USER");
		return -1;
	}
	if (ssh_tcp_connect(c, &sc->fd, r) != 0)
		return -1;

	snprintf(r->stage, sizeof(r->stage), "bastion");
	sc->s = libssh2_session_init_ex(NULL, NULL, NULL, NULL);
	if (!sc->s) {
		ssh_conn_close(sc);
		val_fail(r, VAL_CONFIG, c->hostport, "internal error: validator: out of memory");
		err_set(&r->e, "XX000", "internal error: validator: out of memory");
		return -1;
	}
	libssh2_session_set_blocking(sc->s, 1);
	libssh2_session_set_timeout(sc->s, c->timeout_ms);
	int rc = libssh2_session_handshake(sc->s, sc->fd);
	if (rc != 0) {
		if (rc == LIBSSH2_ERROR_TIMEOUT)
			val_fail(r, VAL_TIMEOUT, c->hostport,
				 "failed to connect to %s: timed out waiting for the SSH handshake",
				 c->label);
		else
			val_fail(r, VAL_PROTOCOL, c->hostport,
				 "unexpected response from %s: SSH handshake failed", c->label);
		err_detail(&r->e, "%s", ssh_last_error(sc->s));
		ssh_conn_close(sc);
		return -1;
	}

	snprintf(r->stage, sizeof(r->stage), "bastion_host_key");
	char fp[sizeof(r->host_key)];
	if (ssh_fingerprint(sc->s, fp, sizeof(fp)) != 0) {
		val_fail(r, VAL_PROTOCOL, c->hostport,
			 "unexpected response from %s: no SHA256 host key hash", c->label);
		ssh_conn_close(sc);
		return -1;
	}
	snprintf(r->host_key, sizeof(r->host_key), "%s", fp);
	if (t->pinned_host_key && t->pinned_host_key[0] &&
	    strcmp(t->pinned_host_key, fp) != 0) {
		val_fail(r, VAL_HOST_KEY, c->hostport,
			 "SSH host key for %s does not match the pinned key", t->host);
		err_detail(&r->e, "Pinned %s, presented %s %s.", t->pinned_host_key,
			   ssh_hostkey_type(sc->s), fp);
		err_hint(&r->e, "If the bastion's host key was replaced on purpose, clear the "
			 "pinned key so that the next validation pins the new one; otherwise "
			 "something may be impersonating the bastion.");
		ssh_conn_close(sc);
		return -1;
	}

	if (ssh_auth(c, sc->s, r) != 0) {
		ssh_conn_close(sc);
		return -1;
	}
	return 0;
}

static void ssh_tunnel_from_job(const struct val_job *job, struct val_ssh_tunnel *t,
				const struct val_services *svc, char *buf_host, size_t hs,
				char *buf_user, size_t us, struct val_result *r, int *bad)
{
	/* Only text values: SSH TUNNEL options are never secrets (SQL.md 5.9). */
	const struct { const char *name; char *buf; size_t size; } opts[] = {
		{ "HOST", buf_host, hs }, { "USER", buf_user, us },
	};
	*bad = 0;
	t->connection_id = job->connection_id;
	t->pinned_host_key = NULL;
	t->port = 22;
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		const struct val_option *o = val_job_option(job, opts[i].name);
		char *v = NULL;
		size_t len = 0;
		opts[i].buf[0] = '\0';
		if (!o)
			continue;
		if (val_option_value(svc, job, o, NULL, &v, &len, r) != 0) {
			*bad = 1;
			return;
		}
		snprintf(opts[i].buf, opts[i].size, "%s", v);
		val_value_free(v, len);
	}
	const struct val_option *p = val_job_option(job, "PORT");
	if (p && p->nparts == 1 && p->parts[0].text) {
		char *end = NULL;
		long n = strtol(p->parts[0].text, &end, 10);
		if (*end || n < 1 || n > 65535) {
			val_fail(r, VAL_CONFIG, NULL,
				 "invalid connection configuration: invalid PORT \"%s\"",
				 p->parts[0].text);
			*bad = 1;
			return;
		}
		t->port = (uint16_t)n;
	}
	t->host = buf_host;
	t->user = buf_user;
}

int conn_ssh_tunnel_validate(const struct val_services *svc,
			     const struct val_job *job, struct val_result *r)
{
	struct val_ssh_tunnel own;
	char host[256], user[256];
	const struct val_ssh_tunnel *t = job->tunnel;

	if (!t) {
		int bad;
		ssh_tunnel_from_job(job, &own, svc, host, sizeof(host), user, sizeof(user), r, &bad);
		if (bad)
			return -1;
		t = &own;
	}
	struct ssh_ctx c;
	struct ssh_conn sc;
	ssh_ctx_init(&c, svc, job, t, false);
	if (ssh_conn_open(&c, &sc, r) != 0)
		return -1;
	ssh_conn_close(&sc);
	r->code = VAL_OK;
	snprintf(r->host, sizeof(r->host), "%s", c.hostport);
	snprintf(r->stage, sizeof(r->stage), "done");
	return 0;
}

/* ---- the tunnel --------------------------------------------------------- */

#define TUN_BUF 16384

struct tun_buf {
	char data[TUN_BUF];
	size_t off, len;
};

struct val_tunnel {
	struct ssh_conn sc;
	LIBSSH2_CHANNEL *ch;
	int listen_fd;
	int stop[2];             /* close() writes to stop[1] */
	int idle_ms;             /* no bytes moved for this long: give up */
	pthread_t thread;
	bool thread_started;
	struct tun_buf up, down; /* client->channel, channel->client */
};

/* Waits for the one client, then moves bytes until either side ends, the
 * owner calls close, or nothing moves for idle_ms. libssh2 is non-blocking
 * here and used only by this thread. */
static void *tun_pump(void *arg)
{
	struct val_tunnel *tun = arg;
	struct pollfd lp[2] = {
		{ .fd = tun->listen_fd, .events = POLLIN },
		{ .fd = tun->stop[0], .events = POLLIN },
	};
	if (poll(lp, 2, tun->idle_ms) <= 0 || (lp[1].revents & POLLIN) ||
	    !(lp[0].revents & POLLIN))
		return NULL;
	int cl = accept4(tun->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (cl < 0)
		return NULL;

	LIBSSH2_SESSION *s = tun->sc.s;
	int ssh_fd = tun->sc.fd;
	struct tun_buf *up = &tun->up, *down = &tun->down;
	bool cl_eof = false, ch_eof = false, eof_sent = false;
	int64_t last_move = val_now_ms();

	for (;;) {
		bool moved = false;
		if (down->len == 0 && !ch_eof) {
			ssize_t n = libssh2_channel_read(tun->ch, down->data, sizeof(down->data));
			if (n > 0) {
				down->off = 0;
				down->len = (size_t)n;
				moved = true;
			} else if (n == 0 || n != LIBSSH2_ERROR_EAGAIN) {
				if (n != 0 || libssh2_channel_eof(tun->ch))
					ch_eof = true;
			}
		}
		if (down->off < down->len) {
			ssize_t w = send(cl, down->data + down->off, down->len - down->off,
					 MSG_NOSIGNAL | MSG_DONTWAIT);
			if (w > 0) {
				down->off += (size_t)w;
				moved = true;
			} else if (w < 0 && errno != EAGAIN && errno != EINTR) {
				break;
			}
			if (down->off == down->len)
				down->off = down->len = 0;
		}
		if (up->len == 0 && !cl_eof) {
			ssize_t n = recv(cl, up->data, sizeof(up->data), MSG_DONTWAIT);
			if (n > 0) {
				up->off = 0;
				up->len = (size_t)n;
				moved = true;
			} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
				cl_eof = true;
			}
		}
		if (up->off < up->len) {
			ssize_t w = libssh2_channel_write(tun->ch, up->data + up->off,
							  up->len - up->off);
			if (w > 0) {
				up->off += (size_t)w;
				moved = true;
			} else if (w != LIBSSH2_ERROR_EAGAIN) {
				break;
			}
			if (up->off == up->len)
				up->off = up->len = 0;
		}
		if (cl_eof && up->len == 0 && !eof_sent) {
			int rc = libssh2_channel_send_eof(tun->ch);
			if (rc == 0 || rc != LIBSSH2_ERROR_EAGAIN)
				eof_sent = true;
		}
		if ((ch_eof && down->len == 0) || (cl_eof && eof_sent))
			break;
		int64_t now = val_now_ms();
		if (moved) {
			last_move = now;
			continue;
		}
		if (now - last_move >= tun->idle_ms)
			break;

		int dir = libssh2_session_block_directions(s);
		short sev = 0;
		if (down->len == 0 || (dir & LIBSSH2_SESSION_BLOCK_INBOUND))
			sev |= POLLIN;
		if (dir & LIBSSH2_SESSION_BLOCK_OUTBOUND)
			sev |= POLLOUT;
		struct pollfd p[3] = {
			{ .fd = cl, .events = (short)((up->len == 0 && !cl_eof ? POLLIN : 0) |
						      (down->len ? POLLOUT : 0)) },
			{ .fd = ssh_fd, .events = sev },
			{ .fd = tun->stop[0], .events = POLLIN },
		};
		int64_t left = tun->idle_ms - (now - last_move);
		if (poll(p, 3, (int)(left < 1000 ? left : 1000)) < 0 && errno != EINTR)
			break;
		if (p[2].revents & POLLIN)
			break;
	}
	close(cl);
	return NULL;
}

void val_ssh_tunnel_close(struct val_tunnel *tun)
{
	if (!tun)
		return;
	if (tun->thread_started) {
		char b = 1;
		ssize_t w = write(tun->stop[1], &b, 1);
		(void)w;
		pthread_join(tun->thread, NULL);
	}
	if (tun->ch) {
		libssh2_session_set_blocking(tun->sc.s, 1);
		libssh2_channel_free(tun->ch);
	}
	ssh_conn_close(&tun->sc);
	if (tun->listen_fd >= 0)
		close(tun->listen_fd);
	for (int i = 0; i < 2; i++)
		if (tun->stop[i] >= 0)
			close(tun->stop[i]);
	explicit_bzero(tun, sizeof(*tun));
	free(tun);
}

/* The bastion's answer to a refused channel open, as libssh2 1.10 words
 * it (RFC 4254 5.1 reason codes). */
static enum val_code tun_forward_code(const char *msg)
{
	return strstr(msg, "prohibited") ? VAL_PERMISSION : VAL_REFUSED;
}

int val_ssh_tunnel_open(const struct val_services *svc, const struct val_job *job,
			const struct val_ssh_tunnel *t, const char *target_host,
			uint16_t target_port, struct val_tunnel **out,
			uint16_t *local_port, struct val_result *r)
{
	struct ssh_ctx c;
	struct val_tunnel *tun = calloc(1, sizeof(*tun));
	char target[300];

	*out = NULL;
	if (!tun) {
		val_fail(r, VAL_CONFIG, NULL, "internal error: validator: out of memory");
		err_set(&r->e, "XX000", "internal error: validator: out of memory");
		return -1;
	}
	tun->sc.fd = tun->listen_fd = tun->stop[0] = tun->stop[1] = -1;
	ssh_ctx_init(&c, svc, job, t, true);
	tun->idle_ms = c.timeout_ms;
	if (ssh_conn_open(&c, &tun->sc, r) != 0) {
		val_ssh_tunnel_close(tun);
		return -1;
	}

	snprintf(r->stage, sizeof(r->stage), "forward");
	snprintf(target, sizeof(target), "%s:%u", target_host, target_port);
	tun->ch = libssh2_channel_direct_tcpip_ex(tun->sc.s, target_host, target_port,
						  "127.0.0.1", 0);
	if (!tun->ch) {
		int e = libssh2_session_last_errno(tun->sc.s);
		const char *msg = ssh_last_error(tun->sc.s);
		enum val_code code = e == LIBSSH2_ERROR_TIMEOUT ? VAL_TIMEOUT
				   : e == LIBSSH2_ERROR_CHANNEL_FAILURE ? tun_forward_code(msg)
				   : VAL_PROTOCOL;
		val_fail(r, code, target, "SSH bastion %s could not open a connection to %s: %s",
			 c.hostport, target,
			 code == VAL_PERMISSION ? "forwarding is not permitted"
			 : code == VAL_TIMEOUT ? "timed out"
			 : code == VAL_REFUSED ? "connect failed" : "channel open failed");
		err_detail(&r->e, "%s", msg);
		err_hint(&r->e, code == VAL_PERMISSION
			 ? "Allow TCP forwarding for this user on the bastion (AllowTcpForwarding, PermitOpen)."
			 : "Check that the bastion can reach the target HOST and PORT.");
		val_ssh_tunnel_close(tun);
		return -1;
	}

	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	tun->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (tun->listen_fd < 0 || bind(tun->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    listen(tun->listen_fd, 1) != 0 ||
	    getsockname(tun->listen_fd, (struct sockaddr *)&sa, &sl) != 0 ||
	    pipe2(tun->stop, O_CLOEXEC) != 0) {
		val_fail(r, VAL_CONFIG, target, "internal error: validator: tunnel listener: %s",
			 strerror(errno));
		err_set(&r->e, "XX000", "internal error: validator: tunnel listener: %s",
			strerror(errno));
		val_ssh_tunnel_close(tun);
		return -1;
	}
	libssh2_session_set_blocking(tun->sc.s, 0);
	if (pthread_create(&tun->thread, NULL, tun_pump, tun) != 0) {
		val_fail(r, VAL_CONFIG, target, "internal error: validator: tunnel thread");
		err_set(&r->e, "XX000", "internal error: validator: tunnel thread");
		val_ssh_tunnel_close(tun);
		return -1;
	}
	tun->thread_started = true;
	*local_port = ntohs(sa.sin_port);
	*out = tun;
	return 0;
}
