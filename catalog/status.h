/* Run-time status for `tether status` (status.c): what tetherd reports of
 * its children and what the vault reports of its keys and audit log, shown
 * as tether_internal.tether_processes and tether_internal.tether_status. */
#ifndef TETHER_CAT_STATUS_H
#define TETHER_CAT_STATUS_H

#include <sqlite3.h>
#include <stdint.h>

#include "ipc.h"
#include "vaultc.h"

/* Keep the last report (replaces the previous one). */
void cat_status_on_children(const Tether__ChildrenStatus *m);
void cat_status_on_vault(uint64_t request_id, const Tether__VaultStatus *m);
/* From the server loop: asks a ready vault for VaultStatus when someone
 * read tether_status in the last minute (at most every 500 ms). */
void cat_status_tick(struct cat_vault *v);
void cat_status_vault_lost(void);
/* Registers both relations on the SELECT connection. 0 or -1. */
int cat_status_register(sqlite3 *db);

#endif
