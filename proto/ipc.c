/* Framing, descriptor passing and permit checks for the SEQPACKET channels.
 * The permit tables live here, in one place, so that a reviewer can read
 * what every process may ask of every other. */
#include "ipc.h"

#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "err.h"
#include "log.h"

/* Body kinds each end accepts: [channel][end receiving]. */
#define B(x) TETHER__ENVELOPE__BODY_##x
static const Tether__Envelope__BodyCase permit_sup_catalog_at_sup[] = {
	B(HEALTH), B(SPAWN_VALIDATOR), B(CANCEL_JOB),
};
static const Tether__Envelope__BodyCase permit_sup_catalog_at_catalog[] = {
	B(HEALTH), B(NEW_PEER_CHANNEL), B(VALIDATOR_CHANNEL), B(JOB_ENDED),
	B(CHILDREN_STATUS),     /* pids, uids, sandbox state: tether status */
};
static const Tether__Envelope__BodyCase permit_sup_vault_at_sup[] = {
	B(HEALTH), B(REPLY),    /* Reply: a Grant is durable (or refused) */
	B(KILL_VALIDATOR),
};
static const Tether__Envelope__BodyCase permit_sup_vault_at_vault[] = {
	B(HEALTH), B(NEW_PEER_CHANNEL), B(GRANT), B(REVOKE),
	B(AUDIT_EVENT),         /* child start/exit, for the audit chain */
};
static const Tether__Envelope__BodyCase permit_catalog_vault_at_catalog[] = {
	B(REPLY), B(SECRET_META_PAGE), B(RECONCILE_RESULT),
	B(SSH_PUBLIC_KEYS),     /* public halves only */
	B(VAULT_STATUS),        /* key terms and audit counters, no keys */
	B(KEY_ROTATION_PROGRESS),  /* counts and states only */
};
/* No kind here returns a secret value to the catalog. */
static const Tether__Envelope__BodyCase permit_catalog_vault_at_vault[] = {
	B(PUT_SECRET), B(COMMIT_SECRET), B(DELETE_SECRET),
	B(LIST_SECRET_META), B(RECONCILE_BATCH), B(AUDIT_EVENT),
	B(GENERATE_SSH_KEYS), B(ROTATE_SSH_KEYS), B(DELETE_SSH_KEYS),
	B(GET_SSH_PUBLIC_KEYS),
	B(VAULT_STATUS_REQUEST),
	B(ROTATE_KEY),          /* ALTER SYSTEM ROTATE ... KEY (superuser) */
};
/* A validator learns its job from the catalog and reports one result. */
static const Tether__Envelope__BodyCase permit_validator_catalog_at_validator[] = {
	B(JOB_SPEC),
};
static const Tether__Envelope__BodyCase permit_validator_catalog_at_catalog[] = {
	B(JOB_RESULT),
};
/* The only channel on which secret values leave the vault: to a validator,
 * for what its grant names (vault/grants.c checks each request). */
static const Tether__Envelope__BodyCase permit_validator_vault_at_validator[] = {
	B(CREDENTIAL_VALUE), B(SSH_SIGNATURE), B(REPLY),
};
static const Tether__Envelope__BodyCase permit_validator_vault_at_vault[] = {
	B(GET_CREDENTIAL), B(SSH_SIGN),
};
/* Kinds that may carry a descriptor (SCM_RIGHTS); only tetherd sends them. */
static const Tether__Envelope__BodyCase fd_carriers[] = {
	B(NEW_PEER_CHANNEL), B(VALIDATOR_CHANNEL), B(GRANT),
};
#undef B

struct permit_list {
	const Tether__Envelope__BodyCase *kinds;
	size_t count;
};
#define PERMITS(a) { a, sizeof(a) / sizeof((a)[0]) }

static const struct {
	const char *name;
	struct permit_list at[2];      /* indexed by enum ipc_end */
} channel_table[IPC_CHANNEL_COUNT] = {
	[IPC_SUP_CATALOG] = { "supervisor-catalog", {
		PERMITS(permit_sup_catalog_at_sup),
		PERMITS(permit_sup_catalog_at_catalog) } },
	[IPC_SUP_VAULT] = { "supervisor-vault", {
		PERMITS(permit_sup_vault_at_sup),
		PERMITS(permit_sup_vault_at_vault) } },
	[IPC_CATALOG_VAULT] = { "catalog-vault", {
		PERMITS(permit_catalog_vault_at_catalog),
		PERMITS(permit_catalog_vault_at_vault) } },
	[IPC_VALIDATOR_CATALOG] = { "validator-catalog", {
		PERMITS(permit_validator_catalog_at_validator),
		PERMITS(permit_validator_catalog_at_catalog) } },
	[IPC_VALIDATOR_VAULT] = { "validator-vault", {
		PERMITS(permit_validator_vault_at_validator),
		PERMITS(permit_validator_vault_at_vault) } },
};

/* Decoded envelopes may hold chunks of secret values: wipe on free. */
static void *ipc_alloc(void *data, size_t size)
{
	(void)data;
	return malloc(size);
}

static void ipc_wipe_free(void *data, void *ptr)
{
	(void)data;
	if (!ptr)
		return;
	explicit_bzero(ptr, malloc_usable_size(ptr));
	free(ptr);
}

static ProtobufCAllocator wiping_allocator = {
	.alloc = ipc_alloc, .free = ipc_wipe_free, .allocator_data = NULL,
};

void ipc_chan_init(struct ipc_chan *c, int fd, enum ipc_channel channel,
		   enum ipc_end end)
{
	c->fd = fd;
	c->channel = channel;
	c->end = end;
}

const char *ipc_channel_name(enum ipc_channel channel)
{
	return channel < IPC_CHANNEL_COUNT ? channel_table[channel].name : "?";
}

int ipc_permitted(enum ipc_channel channel, enum ipc_end end,
		  Tether__Envelope__BodyCase kind)
{
	const struct permit_list *p;

	if (channel >= IPC_CHANNEL_COUNT || (end != IPC_END_A && end != IPC_END_B))
		return 0;
	p = &channel_table[channel].at[end];
	for (size_t i = 0; i < p->count; i++)
		if (p->kinds[i] == kind)
			return 1;
	return 0;
}

int ipc_carries_fd(Tether__Envelope__BodyCase kind)
{
	for (size_t i = 0; i < sizeof(fd_carriers) / sizeof(fd_carriers[0]); i++)
		if (fd_carriers[i] == kind)
			return 1;
	return 0;
}

int ipc_send(struct ipc_chan *c, const Tether__Envelope *env, int fd)
{
	size_t len = tether__envelope__get_packed_size(env);
	uint8_t *buf;
	struct iovec iov;
	struct msghdr msg = { 0 };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control;
	ssize_t n;
	int saved;

	if (c->fd < 0) {
		errno = EPIPE;
		return -1;
	}
	if (len > IPC_MAX_PACKET) {
		errno = EMSGSIZE;
		return -1;
	}
	buf = malloc(len ? len : 1);
	if (!buf)
		return -1;
	tether__envelope__pack(env, buf);
	iov.iov_base = buf;
	iov.iov_len = len;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (fd >= 0) {
		struct cmsghdr *cm;

		memset(&control, 0, sizeof(control));
		msg.msg_control = control.buf;
		msg.msg_controllen = sizeof(control.buf);
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	do {
		n = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	saved = errno;
	explicit_bzero(buf, len);
	free(buf);
	errno = saved;
	return n == (ssize_t)len ? 0 : -1;
}

enum ipc_recv_status ipc_decode(enum ipc_channel channel, enum ipc_end end,
				const uint8_t *buf, size_t len,
				Tether__Envelope **out)
{
	Tether__Envelope *env;

	*out = NULL;
	if (len > IPC_MAX_PACKET) {
		log_warn("ipc_violation", "channel=%s reason=oversized bytes=%zu",
			 ipc_channel_name(channel), len);
		return IPC_RECV_VIOLATION;
	}
	env = tether__envelope__unpack(&wiping_allocator, len, buf);
	if (!env) {
		log_warn("ipc_violation", "channel=%s reason=undecodable bytes=%zu",
			 ipc_channel_name(channel), len);
		return IPC_RECV_VIOLATION;
	}
	if (!ipc_permitted(channel, end, env->body_case)) {
		log_warn("ipc_violation", "channel=%s reason=not_permitted kind=%d",
			 ipc_channel_name(channel), (int)env->body_case);
		ipc_envelope_free(env);
		return IPC_RECV_VIOLATION;
	}
	*out = env;
	return IPC_RECV_MESSAGE;
}

static void close_passed_fds(struct msghdr *msg)
{
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(msg); cm; cm = CMSG_NXTHDR(msg, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		size_t nfds = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < nfds; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			close(fd);
		}
	}
}

enum ipc_recv_status ipc_recv(struct ipc_chan *c, Tether__Envelope **out,
			      int *fd_out)
{
	/* One byte more than allowed so that MSG_TRUNC reveals oversize. */
	static uint8_t buf[IPC_MAX_PACKET + 1];
	union {
		char buf[CMSG_SPACE(4 * sizeof(int))];
		struct cmsghdr align;
	} control;
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct msghdr msg = { 0 };
	enum ipc_recv_status st;
	int passed_fd = -1;
	ssize_t n;

	*out = NULL;
	if (fd_out)
		*fd_out = -1;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = control.buf;
	msg.msg_controllen = sizeof(control.buf);
	do {
		n = recvmsg(c->fd, &msg, MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return IPC_RECV_AGAIN;
		return IPC_RECV_CLOSED;
	}
	if (n == 0)
		return IPC_RECV_CLOSED;
	if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
		close_passed_fds(&msg);
		explicit_bzero(buf, sizeof(buf));
		log_warn("ipc_violation", "channel=%s reason=oversized",
			 ipc_channel_name(c->channel));
		return IPC_RECV_VIOLATION;
	}
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
		    cm->cmsg_len == CMSG_LEN(sizeof(int)) && passed_fd < 0) {
			memcpy(&passed_fd, CMSG_DATA(cm), sizeof(int));
		} else {
			close_passed_fds(&msg);
			if (passed_fd >= 0)
				close(passed_fd);
			explicit_bzero(buf, (size_t)n);
			log_warn("ipc_violation", "channel=%s reason=unexpected_control",
				 ipc_channel_name(c->channel));
			return IPC_RECV_VIOLATION;
		}
	}
	st = ipc_decode(c->channel, c->end, buf, (size_t)n, out);
	explicit_bzero(buf, (size_t)n);
	/* Descriptors ride only with the kinds that set up channels. */
	if (st == IPC_RECV_MESSAGE && passed_fd >= 0 && !ipc_carries_fd((*out)->body_case)) {
		log_warn("ipc_violation", "channel=%s reason=unexpected_fd",
			 ipc_channel_name(c->channel));
		ipc_envelope_free(*out);
		*out = NULL;
		st = IPC_RECV_VIOLATION;
	}
	if (st != IPC_RECV_MESSAGE) {
		if (passed_fd >= 0)
			close(passed_fd);
		return st;
	}
	if (fd_out)
		*fd_out = passed_fd;
	else if (passed_fd >= 0)
		close(passed_fd);
	return st;
}

void ipc_envelope_free(Tether__Envelope *env)
{
	if (env)
		tether__envelope__free_unpacked(env, &wiping_allocator);
}

int ipc_send_reply(struct ipc_chan *c, uint64_t request_id, const struct err *e)
{
	Tether__Envelope env = TETHER__ENVELOPE__INIT;
	Tether__Reply reply = TETHER__REPLY__INIT;

	env.request_id = request_id;
	env.body_case = TETHER__ENVELOPE__BODY_REPLY;
	env.reply = &reply;
	reply.ok = !(e && err_is_set(e));
	if (!reply.ok) {
		reply.sqlstate = (char *)e->sqlstate;
		reply.message = (char *)e->message;
		reply.detail = (char *)e->detail;
		reply.hint = (char *)e->hint;
	}
	return ipc_send(c, &env, -1);
}
