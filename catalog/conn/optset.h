/* A connection's checked, normalised options: what the planner produces,
 * the catalog stores (encoded by conn_optset_encode) and the validator will
 * read. References are object ids, never names, so renames need no rewrite;
 * secret values never appear (only secret ids). */
#ifndef TETHER_CONN_OPTSET_H
#define TETHER_CONN_OPTSET_H

#include <stddef.h>
#include <stdint.h>

#include "descriptor.h"
#include "err.h"

enum conn_vform {
	CONN_VF_TEXT,       /* 'string' */
	CONN_VF_IDENT,      /* an identifier written as the value: text, rendered bare */
	CONN_VF_INT,
	CONN_VF_BOOL,
	CONN_VF_SECRET,     /* SECRET <id> */
	CONN_VF_CHAIN,      /* 'a' || SECRET x || ... (parts) */
	CONN_VF_LIST,       /* ('a', 'b') */
	CONN_VF_REF,        /* connection <id> [ (PORT n) ] */
	CONN_VF_BROKERS,    /* BROKER / BROKERS */
};

enum conn_tunnel { CONN_TUNNEL_NONE, CONN_TUNNEL_SSH, CONN_TUNNEL_PRIVATELINK };

struct conn_part {
	int is_secret;
	char *text;         /* literal part */
	uint64_t id;        /* secret part */
};

struct conn_broker {
	char *addr;
	enum conn_tunnel tunnel;
	uint64_t tunnel_id;
	char *az;           /* AVAILABILITY ZONE, NULL if none */
	int has_port;
	int64_t port;
};

struct conn_value {
	enum conn_vform form;
	char *text;                      /* TEXT, IDENT */
	int64_t num;                     /* INT, BOOL */
	uint64_t id;                     /* SECRET, REF */
	int has_port;                    /* REF: AWS PRIVATELINK x (PORT n) */
	int64_t port;
	struct conn_part *parts;         /* CHAIN */
	size_t nparts;
	char **list;                     /* LIST */
	size_t nlist;
	struct conn_broker *brokers;     /* BROKERS */
	size_t nbrokers;
};

struct conn_opt {
	enum conn_opt_id id;
	struct conn_value v;
};

struct conn_optset {
	enum conn_type type;
	struct conn_opt *opts;           /* in written order */
	size_t n, cap;
};

void conn_value_free(struct conn_value *v);
int conn_value_copy(struct conn_value *dst, const struct conn_value *src);
void conn_optset_free(struct conn_optset *s);

/* The option or NULL. */
const struct conn_opt *conn_optset_get(const struct conn_optset *s, enum conn_opt_id id);
/* Text of a TEXT/IDENT option, or NULL (absent or other form). */
const char *conn_optset_text(const struct conn_optset *s, enum conn_opt_id id);
/* Sets an option: replaces an existing one in place, else appends. Takes
 * ownership of *v (zeroed on return). 0 or -1 (out of memory). */
int conn_optset_put(struct conn_optset *s, enum conn_opt_id id, struct conn_value *v);
/* Removes an option if present; returns 1 removed, 0 absent. */
int conn_optset_remove(struct conn_optset *s, enum conn_opt_id id);
int conn_optset_copy(struct conn_optset *dst, const struct conn_optset *src);

/* Every object id the options reference (secrets, connections, per-broker
 * tunnels), deduplicated, in first-seen order. malloc'd; -1 on OOM. */
long conn_optset_refs(const struct conn_optset *s, uint64_t **out);

/* Storage form: printable text, length-prefixed strings (see optset.c).
 * encode returns malloc'd text or NULL (OOM); decode returns 0 or -1 with
 * XX000 for a corrupt record. */
char *conn_optset_encode(const struct conn_optset *s);
int conn_optset_decode(const char *text, struct conn_optset *out, struct err *e);

#endif
