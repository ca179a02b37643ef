/* Restart backoff: exponential from 100 ms to 10 s, forgiven after a child
 * has stayed up for 30 s (s6-supervise and systemd do much the same). */
#include "sup.h"

void sup_backoff_init(struct sup_backoff *b)
{
	b->next_ms = SUP_BACKOFF_MIN_MS;
}

unsigned int sup_backoff_next(struct sup_backoff *b, uint64_t ran_ms)
{
	unsigned int delay;

	if (ran_ms >= SUP_BACKOFF_RESET_MS || b->next_ms < SUP_BACKOFF_MIN_MS)
		b->next_ms = SUP_BACKOFF_MIN_MS;
	delay = b->next_ms;
	b->next_ms = delay >= SUP_BACKOFF_MAX_MS / 2 ? SUP_BACKOFF_MAX_MS : delay * 2;
	return delay;
}
