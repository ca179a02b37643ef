/* Key rotation in the catalog: ALTER SYSTEM ROTATE {DATA | MASTER} KEY
 * (executor in ddl_keys.c, declared in exec_int.h) and the vault's
 * KeyRotationProgress reports, kept in table key_rotations (view
 * tether_internal.tether_key_rotation). */
#ifndef TETHER_CAT_DDL_KEYS_H
#define TETHER_CAT_DDL_KEYS_H

#include "ipc.h"

struct cat_ctx;

/* Records the latest state of a rotation (logged on failure, never fatal). */
void cat_keys_progress(struct cat_ctx *ctx, const Tether__KeyRotationProgress *p);

#endif
