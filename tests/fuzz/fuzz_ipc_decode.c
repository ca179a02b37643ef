/* libFuzzer target: decoding one IPC packet at either end of every channel
 * against its permit table (proto/ipc.c). The first byte picks the channel
 * and end; the rest is the packet. */
#include <stdint.h>
#include <stdlib.h>

#include "ipc.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Tether__Envelope *env;

	if (size < 1)
		return 0;
	log_set_level(LOG_ERROR);
	enum ipc_channel ch = (enum ipc_channel)((data[0] >> 1) % IPC_CHANNEL_COUNT);
	enum ipc_end end = (enum ipc_end)(data[0] & 1);
	if (ipc_decode(ch, end, data + 1, size - 1, &env) == IPC_RECV_MESSAGE) {
		/* A permitted message must be one the table lists. */
		if (!ipc_permitted(ch, end, env->body_case))
			abort();
		ipc_envelope_free(env);
	}
	return 0;
}
