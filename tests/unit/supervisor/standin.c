/* A stand-in child for test_tetherd: confines itself with the real sandbox
 * for the role its name says (tether-vault / tether-catalog), says Health,
 * and logs every NewPeerChannel it receives. Not installed anywhere. */
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "ipc.h"
#include "log.h"
#include "sandbox.h"

int main(int argc, char **argv)
{
	int catalog = argc > 0 && strstr(argv[0], "catalog") != NULL;
	const int keep[] = { SBX_FD_SUPERVISOR, SBX_FD_PEER, SBX_FD_LISTENER };
	Tether__Envelope env = TETHER__ENVELOPE__INIT;
	Tether__Health health = TETHER__HEALTH__INIT;
	struct ipc_chan sup;

	log_init(catalog ? "catalog" : "vault");
	sbx_enter(catalog ? SBX_ROLE_CATALOG : SBX_ROLE_VAULT, keep, catalog ? 3 : 2);
	ipc_chan_init(&sup, SBX_FD_SUPERVISOR, catalog ? IPC_SUP_CATALOG : IPC_SUP_VAULT,
		      IPC_END_B);
	health.role = catalog ? "catalog" : "vault";
	health.pid = (uint64_t)getpid();
	env.body_case = TETHER__ENVELOPE__BODY_HEALTH;
	env.health = &health;
	if (ipc_send(&sup, &env, -1) != 0)
		return 1;
	log_info("standin_up", "argc=%d", argc);
	for (;;) {
		struct pollfd p = { .fd = SBX_FD_SUPERVISOR, .events = POLLIN };
		Tether__Envelope *m;
		int fd;

		if (poll(&p, 1, -1) < 0)
			continue;
		if (ipc_recv(&sup, &m, &fd) != IPC_RECV_MESSAGE)
			return 1;
		if (m->body_case == TETHER__ENVELOPE__BODY_NEW_PEER_CHANNEL && fd >= 0) {
			log_info("standin_new_peer", "peer=%s generation=%llu",
				 m->new_peer_channel->peer_role,
				 (unsigned long long)m->new_peer_channel->generation);
			dup2(fd, SBX_FD_PEER);
			close(fd);
		}
		ipc_envelope_free(m);
	}
}
