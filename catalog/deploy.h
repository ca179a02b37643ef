/* Deployment settings at catalog start (docs/CONFIGURATION.md): the
 * deployment.* and aws.* keys tetherd passes as --set key=value become the
 * rows of tether_settings that the connection code reads (store_conn.h). */
#ifndef TETHER_CAT_DEPLOY_H
#define TETHER_CAT_DEPLOY_H

#include "config.h"
#include "err.h"
#include "store.h"

/* In one transaction: region, AWS principal, PrivateLink account and AZ
 * ids take the configured values (unset keys: their defaults, i.e. NULL /
 * us-east-1); the instance id takes the configured one, else keeps the
 * stored one, generating a random UUID on first start. The instance id
 * never changes once a connection exists (derived names embed it): that
 * is an error (F0000). When the settings changed, every connection's
 * derived attributes are re-derived. */
int cat_deploy_apply(struct cat_store *st, const struct tcfg *cfg, struct err *e);

/* A random version-4 UUID, lower case (37 bytes with the NUL). */
int cat_deploy_uuid(char out[37], struct err *e);

#endif
