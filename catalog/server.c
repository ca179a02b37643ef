/* Sockets and scheduling for the catalog: accepts pgwire clients (peer
 * credentials via SO_PEERCRED on the Unix socket; TLS and SCRAM-SHA-256 on
 * the optional TCP listener), buffers their input and output so that no
 * client can block another, runs the startup phase (protocol 55.2.1),
 * feeds whole messages to the executor and routes vault answers to the
 * parked sessions that wait for them. */
#include "server.h"
#include "ddl_keys.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "jobs.h"
#include "log.h"
#include "status.h"
#include "scram.h"
#include "tls.h"

/* Back-pressure: stop reading a client whose answers pile up. */
#define OUT_HIGH (1024 * 1024)
#define READ_CHUNK (64 * 1024)

/* CL_TLS: 'S' sent, TLS handshake under way (TCP only); CL_AUTH: SASL
 * exchange under way (TCP only). */
enum client_state { CL_STARTUP, CL_TLS, CL_AUTH, CL_READY, CL_CLOSING };

/* Largest SASL message during authentication (PostgreSQL: 65535). */
#define AUTH_MSG_MAX (CAT_SCRAM_MSG_MAX + 256)

struct client {
	int fd;                 /* -1: gone, kept only until its vault op ends */
	enum client_state state;
	struct pgw_buf in, out;
	struct cat_session sess;
	int has_session;
	int parked;
	uid_t uid;              /* SO_PEERCRED (Unix socket); -1 on TCP */
	uint32_t pid, key;
	time_t started;
	int tcp;                /* accepted on the TCP listener */
	struct cat_tls_conn *tls;
	short tls_read_ev;      /* a TLS read waits for this (POLLOUT) */
	short tls_write_ev;     /* a TLS write waits for this (POLLIN) */
	struct cat_scram *scram;        /* during CL_AUTH */
	struct pgw_startup startup;     /* kept for the login after CL_AUTH */
};

struct server {
	struct cat_ctx *ctx;
	const char *passwd_path;
	int signal_fd;
	struct ipc_chan sup;
	int listen_fd;
	int tcp_fd;             /* TCP listener, or -1 */
	struct cat_tls *tls;    /* its TLS context */
	uint8_t mock_key[32];   /* SCRAM mock salts for unknown roles */
	int stopping;
	uint32_t next_pid;
	struct client *clients[CAT_MAX_CLIENTS];
};

static void set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl >= 0)
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void client_free(struct server *srv, size_t slot)
{
	struct client *c = srv->clients[slot];

	cat_tls_conn_free(c->tls);
	if (c->fd >= 0)
		close(c->fd);
	if (c->scram) {
		cat_scram_end(c->scram);
		free(c->scram);
	}
	if (c->has_session)
		cat_session_free(&c->sess);
	pgw_buf_free(&c->in);
	pgw_buf_free(&c->out);
	free(c);
	srv->clients[slot] = NULL;
}

/* A parked client keeps its session (the vault will answer) but loses its
 * socket. */
static void client_drop(struct server *srv, size_t slot)
{
	struct client *c = srv->clients[slot];

	if (!c->parked) {
		client_free(srv, slot);
		return;
	}
	cat_tls_conn_free(c->tls);
	c->tls = NULL;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->state = CL_CLOSING;
	pgw_buf_consume(&c->in, c->in.len);
}

static void fatal(struct client *c, const char *sqlstate, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void fatal(struct client *c, const char *sqlstate, const char *fmt, ...)
{
	struct err e;
	va_list ap;

	err_clear(&e);
	snprintf(e.sqlstate, sizeof(e.sqlstate), "%s", sqlstate);
	va_start(ap, fmt);
	vsnprintf(e.message, sizeof(e.message), fmt, ap);
	va_end(ap);
	pgw_error(&c->out, "FATAL", &e);
	c->state = CL_CLOSING;
}

static void apply_run(struct client *c, enum cat_run r)
{
	c->parked = r == CAT_RUN_PARKED;
	if (r == CAT_RUN_CLOSE)
		c->state = CL_CLOSING;
}

static void resume(struct server *srv, struct client *c, enum cat_run r);

/* CancelRequest (55.2.7): a statement waiting for a validation job is
 * cancelled (tetherd SIGKILLs the validator) and fails with 57014; nothing
 * else here runs long enough to interrupt, and a statement waiting on the
 * vault cannot be undone, so those are only logged. */
static void handle_cancel(struct server *srv, const struct pgw_startup *st)
{
	for (size_t i = 0; i < CAT_MAX_CLIENTS; i++) {
		struct client *c = srv->clients[i];
		if (c && c->state == CL_READY && c->pid == st->cancel_pid &&
		    c->key == st->cancel_key) {
			log_info("cancel_request", "pid=%u parked=%d", c->pid, c->parked);
			if (c->parked && c->sess.pending.kind == CAT_PEND_JOB) {
				cat_jobs_cancel(srv->ctx->jobs, c->sess.pending.request_id);
				resume(srv, c, cat_exec_job_cancel(srv->ctx, &c->sess, &c->out));
			}
			return;
		}
	}
}

/* The session of an authenticated client: AuthenticationOk, parameters,
 * BackendKeyData, ReadyForQuery. */
static void complete_login(struct client *c, const struct pgw_startup *st,
			   const struct cat_role *role)
{
	if (cat_session_init(&c->sess, role, st->database, st->application_name,
			     c->pid) < 0) {
		fatal(c, "53200", "out of memory");
		return;
	}
	c->has_session = 1;
	if (pgw_auth_ok(&c->out) < 0 || cat_session_report_all(&c->sess, &c->out) < 0 ||
	    pgw_backend_key(&c->out, c->pid, c->key) < 0 || pgw_ready(&c->out, 'I') < 0) {
		c->state = CL_CLOSING;
		return;
	}
	c->state = CL_READY;
	if (c->tls)
		log_info("login", "pid=%u role=%s tcp=1 auth=scram-sha-256 tls=%s cipher=%s",
			 c->pid, role->name, cat_tls_version(c->tls), cat_tls_cipher(c->tls));
	else
		log_info("login", "pid=%u role=%s uid=%u", c->pid, role->name, (unsigned)c->uid);
}

/* TCP: SCRAM-SHA-256 (protocol 55.3). A role without a password and an
 * unknown role get a mock exchange that fails like a wrong password. */
static void begin_password_auth(struct server *srv, struct client *c,
				const struct pgw_startup *st)
{
	char verifier[CAT_SCRAM_VERIFIER_MAX];
	const char *mechs[2];
	const uint8_t *cb = NULL;
	size_t cblen = 0, n;
	struct err e;
	int rc;

	err_clear(&e);
	rc = cat_auth_password_verifier(srv->ctx->store, st->user, verifier, sizeof(verifier),
					&e);
	if (rc < 0) {
		pgw_error(&c->out, "FATAL", &e);
		c->state = CL_CLOSING;
		return;
	}
	c->scram = malloc(sizeof(*c->scram));
	if (!c->scram) {
		explicit_bzero(verifier, sizeof(verifier));
		fatal(c, "53200", "out of memory");
		return;
	}
	if (srv->tls)
		cblen = cat_tls_cbind(srv->tls, &cb);
	cat_scram_begin(c->scram, rc == 1 ? verifier : NULL, st->user, srv->mock_key, cb, cblen);
	explicit_bzero(verifier, sizeof(verifier));
	if (rc == 0)
		log_info("login_no_password", "pid=%u reason=\"role does not exist or has no password\"",
			 c->pid);
	c->startup = *st;
	n = cat_scram_mechanisms(c->scram, mechs);
	if (pgw_auth_sasl(&c->out, mechs, n) < 0) {
		c->state = CL_CLOSING;
		return;
	}
	c->state = CL_AUTH;
}

static void auth_failed(struct client *c)
{
	log_info("login_refused", "pid=%u tcp=1 sqlstate=28P01", c->pid);
	fatal(c, "28P01", "password authentication failed for user \"%s\"", c->startup.user);
}

/* One 'p' message in CL_AUTH: SASLInitialResponse, then SASLResponse. */
static void handle_sasl(struct server *srv, struct client *c, const uint8_t *body, size_t len)
{
	char out[2 * CAT_SCRAM_MSG_MAX + 64];
	const char *mech = NULL;
	const uint8_t *data = body;
	size_t dlen = len, olen = 0;
	struct cat_role role;
	struct err e;

	err_clear(&e);
	if (c->scram->phase == 0 &&
	    pgw_parse_sasl_initial(body, len, &mech, &data, &dlen, &e) < 0) {
		pgw_error(&c->out, "FATAL", &e);
		c->state = CL_CLOSING;
		return;
	}
	if (!data) {
		fatal(c, "08P01", "malformed SCRAM message");
		return;
	}
	switch (cat_scram_step(c->scram, mech, data, dlen, out, sizeof(out), &olen, &e)) {
	case CAT_SCRAM_NEXT:
		if (pgw_auth_sasl_continue(&c->out, out, olen) < 0)
			c->state = CL_CLOSING;
		return;
	case CAT_SCRAM_FAILED:
		auth_failed(c);
		return;
	case CAT_SCRAM_ERROR:
		log_info("login_refused", "pid=%u tcp=1 sqlstate=%s", c->pid, e.sqlstate);
		pgw_error(&c->out, "FATAL", &e);
		c->state = CL_CLOSING;
		return;
	case CAT_SCRAM_SUCCESS:
		break;
	}
	cat_scram_end(c->scram);
	free(c->scram);
	c->scram = NULL;
	if (pgw_auth_sasl_final(&c->out, out, olen) < 0) {
		c->state = CL_CLOSING;
		return;
	}
	/* Authenticated; LOGIN and the database are checked after, as
	 * PostgreSQL does (only a password holder learns about them). */
	if (cat_auth_login_checked(srv->ctx->store, c->startup.user, c->startup.database,
				   &role, &e) < 0) {
		log_info("login_refused", "pid=%u tcp=1 sqlstate=%s", c->pid, e.sqlstate);
		pgw_error(&c->out, "FATAL", &e);
		c->state = CL_CLOSING;
		return;
	}
	complete_login(c, &c->startup, &role);
}

static void handle_startup(struct server *srv, struct client *c,
			   const uint8_t *body, size_t len)
{
	struct pgw_startup st;
	struct cat_role role;
	struct err e;

	err_clear(&e);
	if (pgw_parse_startup(body, len, &st, &e) < 0) {
		pgw_error(&c->out, "FATAL", &e);
		c->state = CL_CLOSING;
		return;
	}
	switch (st.code) {
	case PGW_SSL_REQUEST:
		/* TCP: 'S', then the TLS handshake; the Unix socket has no
		 * TLS: 'N', then the real startup. */
		/* Without a TLS context (files unusable, logged at start)
		 * say so, rather than leave clients waiting. */
		if (c->tcp && !srv->tls) {
			fatal(c, "58000", "TLS is unavailable: the TCP listener's certificate or key could not be loaded (see the catalog's log)");
			return;
		}
		if (c->tcp && !c->tls) {
			pgw_buf_append(&c->out, "S", 1);
			c->state = CL_TLS;
			return;
		}
		if (c->tls) {
			fatal(c, "08P01", "SSLRequest on an encrypted connection");
			return;
		}
		pgw_buf_append(&c->out, "N", 1);
		return;
	case PGW_GSSENC_REQUEST:
		if (c->tls) {
			fatal(c, "08P01", "GSSENCRequest on an encrypted connection");
			return;
		}
		pgw_buf_append(&c->out, "N", 1);
		return;
	case PGW_CANCEL_REQUEST:
		handle_cancel(srv, &st);
		c->state = CL_CLOSING;
		return;
	default:
		break;
	}
	if (c->tcp) {
		/* pg_hba's "hostnossl ... reject": TCP is TLS or nothing. */
		if (!c->tls) {
			log_info("login_refused", "pid=%u tcp=1 reason=no_tls", c->pid);
			struct err ne;
			err_set(&ne, "28000", "SSL required");
			err_detail(&ne, "The TCP listener accepts only TLS connections with password authentication.");
			err_hint(&ne, "Connect with sslmode=require (or verify-ca / verify-full).");
			pgw_error(&c->out, "FATAL", &ne);
			c->state = CL_CLOSING;
			return;
		}
		begin_password_auth(srv, c, &st);
		return;
	}
	if (cat_auth_login(srv->ctx->store, srv->passwd_path, c->uid, geteuid(),
			   st.user, st.database, &role, &e) < 0) {
		log_info("login_refused", "uid=%u sqlstate=%s", (unsigned)c->uid, e.sqlstate);
		pgw_error(&c->out, "FATAL", &e);
		c->state = CL_CLOSING;
		return;
	}
	complete_login(c, &st, &role);
}

/* Handles every whole message in the client's input, until it parks. */
static void process_input(struct server *srv, struct client *c)
{
	while (c->fd >= 0 && c->state != CL_CLOSING && !c->parked &&
	       c->out.len < OUT_HIGH) {
		size_t body_len, total;
		enum pgw_frame f;
		char type;

		if (c->state == CL_TLS) {
			/* Bytes sent in the clear after SSLRequest would be
			 * taken as if encrypted (CVE-2021-23214). */
			if (c->in.len) {
				pgw_buf_consume(&c->in, c->in.len);
				fatal(c, "08P01", "received unencrypted data after SSL request");
			}
			return;
		}
		if (c->state == CL_STARTUP) {
			f = pgw_frame_startup(c->in.data, c->in.len, &body_len, &total);
			if (f == PGW_FRAME_NEED_MORE)
				return;
			if (f != PGW_FRAME_OK) {
				fatal(c, "08P01", "invalid length of startup packet");
				return;
			}
			handle_startup(srv, c, c->in.data + 4, body_len);
			pgw_buf_consume(&c->in, total);
			continue;
		}
		f = pgw_frame_message(c->in.data, c->in.len, &type, &body_len, &total);
		if (f == PGW_FRAME_NEED_MORE)
			return;
		if (c->state == CL_AUTH) {
			if (f != PGW_FRAME_OK || body_len > AUTH_MSG_MAX) {
				fatal(c, "08P01", "invalid SASL message length");
				return;
			}
			if (type != 'p') {
				fatal(c, "08P01", "expected SASL response, got message type %d", type);
				return;
			}
			handle_sasl(srv, c, c->in.data + 5, body_len);
			pgw_buf_consume(&c->in, total);
			continue;
		}
		if (f == PGW_FRAME_BAD_LENGTH) {
			fatal(c, "08P01", "invalid message length");
			return;
		}
		if (f == PGW_FRAME_TOO_LARGE) {
			fatal(c, "54000", "message too large: the limit is %d bytes (statements: %d bytes)",
			      PGW_MAX_MESSAGE, CAT_MAX_STATEMENT);
			return;
		}
		if (type == 'X') {
			c->state = CL_CLOSING;
			pgw_buf_consume(&c->in, c->in.len);
			return;
		}
		apply_run(c, cat_exec_message(srv->ctx, &c->sess, &c->out, type,
					      c->in.data + 5, body_len));
		/* Consuming wipes the message (it may hold a secret value);
		 * parsed statements keep their own copy. */
		pgw_buf_consume(&c->in, total);
	}
}

/* Decrypted input; the TLS layer may need to write first (POLLOUT). */
static int client_read_tls(struct client *c)
{
	for (int rounds = 0; rounds < 64; rounds++) {
		size_t got;

		if (pgw_buf_reserve(&c->in, READ_CHUNK) < 0)
			return -1;
		switch (cat_tls_read(c->tls, c->in.data + c->in.len, READ_CHUNK, &got)) {
		case CAT_TLS_OK:
			c->tls_read_ev = 0;
			c->in.len += got;
			if (c->in.len > PGW_MAX_MESSAGE + READ_CHUNK)
				return 0;
			continue;
		case CAT_TLS_WANT_READ:
			c->tls_read_ev = 0;
			return 0;
		case CAT_TLS_WANT_WRITE:
			c->tls_read_ev = POLLOUT;
			return 0;
		default:
			return -1;
		}
	}
	return 0;
}

static int client_write_tls(struct client *c)
{
	while (c->out.len) {
		size_t put;

		switch (cat_tls_write(c->tls, c->out.data, c->out.len, &put)) {
		case CAT_TLS_OK:
			c->tls_write_ev = 0;
			pgw_buf_consume(&c->out, put);
			continue;
		case CAT_TLS_WANT_WRITE:
			c->tls_write_ev = 0;
			return 0;
		case CAT_TLS_WANT_READ:
			c->tls_write_ev = POLLIN;
			return 0;
		default:
			return -1;
		}
	}
	return 0;
}

/* After 'S' went out in the clear: the handshake, one step per wake-up. */
static int client_tls_step(struct server *srv, struct client *c)
{
	if (c->state != CL_TLS || c->out.len)
		return 0;
	if (!c->tls) {
		c->tls = cat_tls_conn_new(srv->tls, c->fd);
		if (!c->tls)
			return -1;
	}
	switch (cat_tls_handshake(c->tls)) {
	case CAT_TLS_OK:
		c->state = CL_STARTUP;
		c->tls_read_ev = c->tls_write_ev = 0;
		log_debug("tls_established", "pid=%u version=%s", c->pid, cat_tls_version(c->tls));
		return 0;
	case CAT_TLS_WANT_READ:
		c->tls_read_ev = POLLIN;
		return 0;
	case CAT_TLS_WANT_WRITE:
		c->tls_read_ev = POLLOUT;
		return 0;
	default:
		log_info("tls_handshake_failed", "pid=%u", c->pid);
		return -1;
	}
}

static int client_read(struct client *c)
{
	if (c->state == CL_TLS)
		return 0;
	if (c->tls)
		return client_read_tls(c);
	for (int rounds = 0; rounds < 4; rounds++) {
		ssize_t n;

		if (pgw_buf_reserve(&c->in, READ_CHUNK) < 0)
			return -1;
		n = recv(c->fd, c->in.data + c->in.len, READ_CHUNK, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
		if (n == 0)
			return -1;
		c->in.len += (size_t)n;
		/* Don't buffer more than one maximal message ahead. */
		if (c->in.len > PGW_MAX_MESSAGE + READ_CHUNK)
			return 0;
	}
	return 0;
}

static int client_write(struct client *c)
{
	if (c->tls && c->state != CL_TLS)
		return client_write_tls(c);
	while (c->out.len) {
		ssize_t n = send(c->fd, c->out.data, c->out.len, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
		pgw_buf_consume(&c->out, (size_t)n);
	}
	return 0;
}

static void accept_clients(struct server *srv, int listen_fd, int tcp)
{
	for (int i = 0; i < 64; i++) {
		struct ucred cred;
		socklen_t clen = sizeof(cred);
		struct client *c;
		size_t slot;
		int one = 1;
		int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
			    errno != ECONNABORTED)
				log_warn("accept_failed", "errno=%d", errno);
			return;
		}
		for (slot = 0; slot < CAT_MAX_CLIENTS && srv->clients[slot]; slot++)
			;
		if (slot == CAT_MAX_CLIENTS) {
			struct pgw_buf b = { 0 };
			struct err e;

			err_set(&e, "53300", "too many connections (limit %d)", CAT_MAX_CLIENTS);
			if (pgw_error(&b, "FATAL", &e) == 0)
				(void)!send(fd, b.data, b.len, MSG_DONTWAIT | MSG_NOSIGNAL);
			pgw_buf_free(&b);
			close(fd);
			log_warn("client_refused", "reason=too_many_connections");
			continue;
		}
		if (tcp) {
			cred.uid = (uid_t)-1;
			(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		} else if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0) {
			close(fd);
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->tcp = tcp;
		c->uid = cred.uid;
		c->pid = srv->next_pid++;
		if (getrandom(&c->key, sizeof(c->key), 0) != sizeof(c->key))
			c->key = (uint32_t)time(NULL) ^ c->pid;
		c->started = time(NULL);
		c->state = CL_STARTUP;
		srv->clients[slot] = c;
	}
}

/* ---- vault channel ---- */

static void resume(struct server *srv, struct client *c, enum cat_run r)
{
	apply_run(c, r);
	process_input(srv, c);
}

static void vault_lost(struct server *srv, const char *why)
{
	log_error("vault_channel_lost", "reason=%s", why);
	cat_vault_close(srv->ctx->vault);
	for (size_t i = 0; i < CAT_MAX_CLIENTS; i++) {
		struct client *c = srv->clients[i];
		/* A validation job does not use this channel: it goes on. */
		if (c && c->parked && c->sess.pending.kind != CAT_PEND_JOB)
			resume(srv, c, cat_exec_vault_lost(srv->ctx, &c->sess, &c->out));
	}
}

static void vault_ready(struct server *srv)
{
	struct err e;

	err_clear(&e);
	if (cat_ctx_sync_counters(srv->ctx, &e) < 0)
		log_error("counter_sync_failed", "sqlstate=%s", e.sqlstate);
	for (size_t i = 0; i < CAT_MAX_CLIENTS; i++) {
		struct client *c = srv->clients[i];
		if (c && c->parked && c->sess.pending.kind == CAT_PEND_READY)
			resume(srv, c, cat_exec_vault_ready(srv->ctx, &c->sess, &c->out));
	}
}

static void vault_message(struct server *srv, Tether__Envelope *env)
{
	struct cat_vault *v = srv->ctx->vault;

	switch (env->body_case) {
	case TETHER__ENVELOPE__BODY_RECONCILE_RESULT:
		if (env->request_id == v->reconcile_request_id &&
		    v->state == CAT_VAULT_RECONCILING) {
			cat_vault_reconciled(v, env->reconcile_result);
			vault_ready(srv);
		}
		return;
	case TETHER__ENVELOPE__BODY_REPLY:
		for (size_t i = 0; i < CAT_MAX_CLIENTS; i++) {
			struct client *c = srv->clients[i];
			if (c && c->parked && cat_session_waits_on(&c->sess, env->request_id)) {
				resume(srv, c, cat_exec_vault_reply(srv->ctx, &c->sess, &c->out,
								    env->request_id, env->reply));
				return;
			}
		}
		/* Answers nobody waits for: CommitSecret, orphan deletes. */
		if (!env->reply->ok)
			log_warn("vault_request_failed", "request_id=%" PRIu64 " sqlstate=%s",
				 env->request_id, env->reply->sqlstate ? env->reply->sqlstate : "");
		return;
	case TETHER__ENVELOPE__BODY_SSH_PUBLIC_KEYS: {
		/* Generate/Rotate answered: the public keys wait in the stash
		 * (cat_vault_take_ssh_keys) and the session resumes as on a
		 * Reply{ok}; malformed keys resume it with an error instead. */
		Tether__Reply ok = TETHER__REPLY__INIT;

		ok.ok = cat_vault_ssh_keys_arrived(v, env->request_id,
						   env->ssh_public_keys) == 0;
		if (!ok.ok) {
			ok.sqlstate = "XX000";
			ok.message = "internal error: vault: malformed SSH public keys";
		}
		for (size_t i = 0; i < CAT_MAX_CLIENTS; i++) {
			struct client *c = srv->clients[i];
			if (c && c->parked && cat_session_waits_on(&c->sess, env->request_id)) {
				resume(srv, c, cat_exec_vault_reply(srv->ctx, &c->sess, &c->out,
								    env->request_id, &ok));
				return;
			}
		}
		struct cat_vault_ssh_keys unclaimed;
		cat_vault_take_ssh_keys(v, env->request_id, &unclaimed);
		return;
	}
	case TETHER__ENVELOPE__BODY_VAULT_STATUS:       /* status.c */
		cat_status_on_vault(env->request_id, env->vault_status);
		return;
	case TETHER__ENVELOPE__BODY_KEY_ROTATION_PROGRESS:      /* ddl_keys.c */
		cat_keys_progress(srv->ctx, env->key_rotation_progress);
		return;
	default:
		return;
	}
}

static void vault_readable(struct server *srv)
{
	struct cat_vault *v = srv->ctx->vault;

	while (v->chan.fd >= 0) {
		Tether__Envelope *env;
		enum ipc_recv_status st = ipc_recv(&v->chan, &env, NULL);

		if (st == IPC_RECV_AGAIN)
			return;
		if (st != IPC_RECV_MESSAGE) {
			vault_lost(srv, st == IPC_RECV_CLOSED ? "closed" : "violation");
			return;
		}
		vault_message(srv, env);
		ipc_envelope_free(env);
	}
}

static void vault_attach(struct server *srv, int fd)
{
	struct err e;

	err_clear(&e);
	if (srv->ctx->vault->chan.fd >= 0)
		vault_lost(srv, "replaced");
	if (cat_vault_attach(srv->ctx->vault, fd, srv->ctx->store, &e) < 0)
		log_error("vault_attach_failed", "sqlstate=%s", e.sqlstate);
	else
		log_info("vault_channel", "fd=%d", fd);
}

/* ---- supervisor channel ---- */

/* Health tells tetherd that this catalog is up (sent once at start, and as
 * the answer to a Health probe). */
static void send_health(struct server *srv, uint64_t request_id)
{
	Tether__Envelope r = TETHER__ENVELOPE__INIT;
	Tether__Health h = TETHER__HEALTH__INIT;

	r.request_id = request_id;
	r.body_case = TETHER__ENVELOPE__BODY_HEALTH;
	r.health = &h;
	h.role = "catalog";
	h.pid = (uint64_t)getpid();
	if (ipc_send(&srv->sup, &r, -1) < 0)
		log_warn("health_send_failed", "errno=%d", errno);
}

static int supervisor_readable(struct server *srv)
{
	for (;;) {
		Tether__Envelope *env;
		int fd = -1;
		enum ipc_recv_status st = ipc_recv(&srv->sup, &env, &fd);

		if (st == IPC_RECV_AGAIN)
			return 0;
		if (st != IPC_RECV_MESSAGE) {
			log_info("supervisor_channel_closed", "reason=%s",
				 st == IPC_RECV_CLOSED ? "closed" : "violation");
			return -1;
		}
		if (env->body_case == TETHER__ENVELOPE__BODY_NEW_PEER_CHANNEL && fd >= 0) {
			vault_attach(srv, fd);
		} else if (env->body_case == TETHER__ENVELOPE__BODY_VALIDATOR_CHANNEL && fd >= 0) {
			cat_jobs_on_channel(srv->ctx->jobs, env->validator_channel->job_id, fd);
		} else if (env->body_case == TETHER__ENVELOPE__BODY_JOB_ENDED) {
			cat_jobs_on_ended(srv->ctx->jobs, env->job_ended);
			if (fd >= 0)
				close(fd);
		} else if (env->body_case == TETHER__ENVELOPE__BODY_HEALTH) {
			send_health(srv, env->request_id);
		} else if (env->body_case == TETHER__ENVELOPE__BODY_CHILDREN_STATUS) {
			cat_status_on_children(env->children_status);   /* status.c */
		} else if (fd >= 0) {
			close(fd);
		}
		ipc_envelope_free(env);
	}
}

/* ---- validation jobs (jobs.c) ---- */

static void job_done(void *arg, uint64_t job_id, const struct cat_job_result *res)
{
	struct server *srv = arg;

	for (size_t i = 0; i < CAT_MAX_CLIENTS; i++) {
		struct client *c = srv->clients[i];
		if (c && c->parked && cat_session_waits_on_job(&c->sess, job_id)) {
			resume(srv, c, cat_exec_job_done(srv->ctx, &c->sess, &c->out, job_id, res));
			return;
		}
	}
	log_info("validation_result_unclaimed", "job=%" PRIu64, job_id);
}

static int any_parked(const struct server *srv)
{
	for (size_t i = 0; i < CAT_MAX_CLIENTS; i++)
		if (srv->clients[i] && srv->clients[i]->parked)
			return 1;
	return 0;
}

static void read_signals(struct server *srv)
{
	struct signalfd_siginfo si;

	while (read(srv->signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
			if (!srv->stopping)
				log_info("shutdown", "signal=%u", si.ssi_signo);
			srv->stopping = 1;
		}
	}
}

enum { P_SIG, P_SUP, P_VAULT, P_LISTEN, P_TCP, P_CLIENTS };
#define P_MAX (P_CLIENTS + CAT_MAX_CLIENTS + CAT_JOBS_MAX)

int cat_server_run(struct cat_ctx *ctx, const struct cat_server_fds *fds,
		   const char *passwd_path)
{
	static struct server srv;
	struct pollfd pfd[P_MAX];
	uint64_t job_ids[CAT_JOBS_MAX];
	size_t slot_of[CAT_MAX_CLIENTS];
	time_t stop_deadline = 0;
	struct err e;

	memset(&srv, 0, sizeof(srv));
	srv.ctx = ctx;
	srv.passwd_path = passwd_path;
	srv.signal_fd = fds->signal_fd;
	srv.listen_fd = fds->listen_fd;
	srv.tcp_fd = fds->tcp_fd;
	srv.tls = fds->tls;
	if (getrandom(srv.mock_key, sizeof(srv.mock_key), 0) != (ssize_t)sizeof(srv.mock_key)) {
		log_error("getrandom_failed", "errno=%d", errno);
		return -1;
	}
	srv.next_pid = 1000;
	ipc_chan_init(&srv.sup, fds->supervisor_fd, IPC_SUP_CATALOG, IPC_END_B);
	set_nonblock(fds->supervisor_fd);
	set_nonblock(fds->listen_fd);
	if (srv.tcp_fd >= 0)
		set_nonblock(srv.tcp_fd);
	err_clear(&e);
	if (fds->vault_fd >= 0)
		vault_attach(&srv, fds->vault_fd);
	ctx->jobs = cat_jobs_new(&srv.sup, job_done, &srv);
	if (!ctx->jobs)
		log_error("jobs_unavailable", "reason=out_of_memory");
	send_health(&srv, 0);

	for (;;) {
		size_t n = P_CLIENTS, nc = 0;
		time_t now;
		int rc, timeout = 1000;

		if (srv.stopping) {
			if (srv.listen_fd >= 0) {
				close(srv.listen_fd);
				srv.listen_fd = -1;
				stop_deadline = time(NULL) + 5;
			}
			if (srv.tcp_fd >= 0) {
				close(srv.tcp_fd);
				srv.tcp_fd = -1;
			}
			/* Let statements waiting on the vault finish (bounded). */
			if (!any_parked(&srv) || time(NULL) >= stop_deadline)
				break;
		}
		pfd[P_SIG] = (struct pollfd){ .fd = srv.signal_fd, .events = POLLIN };
		pfd[P_SUP] = (struct pollfd){ .fd = srv.sup.fd, .events = POLLIN };
		pfd[P_VAULT] = (struct pollfd){ .fd = ctx->vault->chan.fd,
			.events = (short)(POLLIN | (cat_vault_wants_write(ctx->vault) ? POLLOUT : 0)) };
		pfd[P_LISTEN] = (struct pollfd){ .fd = srv.listen_fd, .events = POLLIN };
		pfd[P_TCP] = (struct pollfd){ .fd = srv.tcp_fd, .events = POLLIN };
		for (size_t i = 0; i < CAT_MAX_CLIENTS; i++) {
			struct client *c = srv.clients[i];
			short ev = 0;

			if (!c || c->fd < 0)
				continue;
			if (c->state == CL_CLOSING && !c->out.len) {
				client_drop(&srv, i);
				continue;
			}
			if (c->state != CL_CLOSING && !c->parked && c->out.len < OUT_HIGH &&
			    c->in.len <= PGW_MAX_MESSAGE + READ_CHUNK)
				ev |= POLLIN;
			if (c->state == CL_TLS)
				ev = 0;         /* only what the handshake waits for */
			if (c->out.len)
				ev |= POLLOUT;
			if (c->tls || c->state == CL_TLS)
				ev |= (short)((c->state != CL_CLOSING ? c->tls_read_ev : 0) |
					      (c->out.len ? c->tls_write_ev : 0));
			/* Decrypted bytes inside OpenSSL: poll would not see them. */
			if (c->tls && c->state != CL_TLS && (ev & POLLIN) && cat_tls_pending(c->tls))
				timeout = 0;
			pfd[n] = (struct pollfd){ .fd = c->fd, .events = ev };
			slot_of[nc++] = i;
			n++;
		}
		size_t first_job = n, njobs = 0;
		if (ctx->jobs)
			njobs = cat_jobs_pollfds(ctx->jobs, &pfd[n], job_ids, CAT_JOBS_MAX);
		n += njobs;
		rc = poll(pfd, n, timeout);
		if (rc < 0 && errno != EINTR) {
			log_error("poll_failed", "errno=%d", errno);
			return -1;
		}
		if (rc > 0 && (pfd[P_SIG].revents & POLLIN))
			read_signals(&srv);
		if (rc > 0 && pfd[P_SUP].revents && supervisor_readable(&srv) < 0)
			break;
		if (rc > 0 && ctx->vault->chan.fd >= 0 && pfd[P_VAULT].fd == ctx->vault->chan.fd) {
			if ((pfd[P_VAULT].revents & POLLOUT) && cat_vault_flush(ctx->vault) < 0)
				vault_lost(&srv, "write_failed");
			else if (pfd[P_VAULT].revents & (POLLIN | POLLHUP | POLLERR))
				vault_readable(&srv);
		}
		if (rc > 0 && srv.listen_fd >= 0 && (pfd[P_LISTEN].revents & POLLIN))
			accept_clients(&srv, srv.listen_fd, 0);
		if (rc > 0 && srv.tcp_fd >= 0 && (pfd[P_TCP].revents & POLLIN))
			accept_clients(&srv, srv.tcp_fd, 1);
		for (size_t k = 0; rc > 0 && k < njobs; k++)
			if (pfd[first_job + k].revents)
				cat_jobs_readable(ctx->jobs, job_ids[k]);
		if (ctx->jobs)
			cat_jobs_tick(ctx->jobs);
		cat_status_tick(ctx->vault);
		now = time(NULL);
		for (size_t k = 0; k < nc; k++) {
			size_t i = slot_of[k];
			struct client *c = srv.clients[i];
			short rev = pfd[P_CLIENTS + k].revents;

			if (!c || c->fd != pfd[P_CLIENTS + k].fd)
				continue;
			if (c->tls && c->state != CL_TLS && (pfd[P_CLIENTS + k].events & POLLIN) &&
			    cat_tls_pending(c->tls))
				rev |= POLLIN;
			/* A TLS read may have waited for POLLOUT. */
			if ((rev & (POLLIN | POLLHUP | POLLERR) || (c->tls && rev)) &&
			    client_read(c) < 0) {
				client_drop(&srv, i);
				continue;
			}
			/* Startup, TLS handshake and SASL share one deadline. */
			if ((c->state == CL_STARTUP || c->state == CL_TLS || c->state == CL_AUTH) &&
			    now - c->started > CAT_STARTUP_TIMEOUT_S) {
				client_drop(&srv, i);
				continue;
			}
			if (rev && client_tls_step(&srv, c) < 0) {
				client_drop(&srv, i);
				continue;
			}
			/* The handshake may have finished with the startup packet
			 * already decrypted inside OpenSSL. */
			if (c->tls && c->state == CL_STARTUP && client_read(c) < 0) {
				client_drop(&srv, i);
				continue;
			}
			process_input(&srv, c);
			if (c->out.len && client_write(c) < 0) {
				client_drop(&srv, i);
				continue;
			}
			/* 'S' just went out: start the handshake now. */
			if (client_tls_step(&srv, c) < 0) {
				client_drop(&srv, i);
				continue;
			}
		}
		/* Sessions resumed by the vault wrote answers; gone ones end. */
		for (size_t i = 0; i < CAT_MAX_CLIENTS; i++) {
			struct client *c = srv.clients[i];
			if (!c)
				continue;
			if (c->fd < 0 && !c->parked)
				client_free(&srv, i);
			else if (c->fd >= 0 && c->out.len && client_write(c) < 0)
				client_drop(&srv, i);
		}
		if (ctx->vault->chan.fd >= 0 && cat_vault_flush(ctx->vault) < 0)
			vault_lost(&srv, "write_failed");
	}
	for (size_t i = 0; i < CAT_MAX_CLIENTS; i++)
		if (srv.clients[i]) {
			srv.clients[i]->parked = 0;
			client_free(&srv, i);
		}
	cat_vault_close(ctx->vault);
	cat_jobs_free(ctx->jobs);
	ctx->jobs = NULL;
	return 0;
}
