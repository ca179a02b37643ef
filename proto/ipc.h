/* IPC between tether's processes: one protobuf Envelope per SOCK_SEQPACKET
 * packet. Each end of each channel accepts only the body kinds its permit
 * table lists (like OpenSSH's monitor); anything else is a violation that the
 * caller answers by closing the channel. Decoded messages are wiped when
 * freed, since chunks of secret values travel through here. */
#ifndef TETHER_IPC_H
#define TETHER_IPC_H

#include <stddef.h>
#include <stdint.h>

#include "tether.pb-c.h"

#define IPC_MAX_PACKET  (64 * 1024)
/* Room for the envelope around a chunk of a secret value. */
#define IPC_CHUNK_SIZE  (48 * 1024)
/* Materialize's limit for a secret value. */
#define IPC_MAX_SECRET  (512 * 1024)

enum ipc_channel {
	IPC_SUP_CATALOG,        /* supervisor <-> catalog */
	IPC_SUP_VAULT,          /* supervisor <-> vault */
	IPC_CATALOG_VAULT,      /* catalog <-> vault */
	IPC_VALIDATOR_CATALOG,  /* validator <-> catalog, one per job */
	IPC_VALIDATOR_VAULT,    /* validator <-> vault, one per job */
	IPC_CHANNEL_COUNT
};

/* Which end of the channel this process holds. The first role named in the
 * channel's name is end A. */
enum ipc_end { IPC_END_A, IPC_END_B };

struct ipc_chan {
	int fd;                 /* -1 when closed */
	enum ipc_channel channel;
	enum ipc_end end;
};

enum ipc_recv_status {
	IPC_RECV_MESSAGE = 1,   /* *out holds a permitted message */
	IPC_RECV_AGAIN = 0,     /* nothing to read (non-blocking fd) */
	IPC_RECV_CLOSED = -1,   /* peer closed the channel */
	IPC_RECV_VIOLATION = -2 /* oversized, undecodable or not permitted: logged */
};

void ipc_chan_init(struct ipc_chan *c, int fd, enum ipc_channel channel,
		   enum ipc_end end);
const char *ipc_channel_name(enum ipc_channel channel);

/* Packs and sends one envelope; with fd >= 0 also passes that descriptor
 * (SCM_RIGHTS). Returns 0, or -1 with errno set. Blocks on a full socket. */
int ipc_send(struct ipc_chan *c, const Tether__Envelope *env, int fd);

/* Receives one envelope. On IPC_RECV_MESSAGE the caller owns *out (free with
 * ipc_envelope_free) and *fd_out holds a passed descriptor or -1. Only the
 * kinds for which ipc_carries_fd() is true may carry one; a descriptor on
 * any other kind is a violation. */
enum ipc_recv_status ipc_recv(struct ipc_chan *c, Tether__Envelope **out,
			      int *fd_out);

/* Decodes one packet and checks it against the permit table of `end`
 * of `channel` (the part of ipc_recv that fuzzers exercise). */
enum ipc_recv_status ipc_decode(enum ipc_channel channel, enum ipc_end end,
				const uint8_t *buf, size_t len,
				Tether__Envelope **out);

void ipc_envelope_free(Tether__Envelope *env);

/* 1 if `end` of `channel` may receive body kind `kind`. */
int ipc_permitted(enum ipc_channel channel, enum ipc_end end,
		  Tether__Envelope__BodyCase kind);

/* 1 if body kind `kind` may carry a descriptor (NewPeerChannel,
 * ValidatorChannel, Grant). */
int ipc_carries_fd(Tether__Envelope__BodyCase kind);

/* Convenience: send a Reply carrying `e` (or ok when e is NULL or unset). */
struct err;
int ipc_send_reply(struct ipc_chan *c, uint64_t request_id, const struct err *e);

#endif
