/* Shared by the validator tests: fake vault services (secrets from a table,
 * SSH signatures from libsodium key pairs the test holds, as the vault
 * would), job builders, and the real peers started through tests/peers. */
#ifndef TETHER_VALIDATOR_VTEST_H
#define TETHER_VALIDATOR_VTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "val.h"

/* ---- fake services ---- */
struct fake_secret {
	uint64_t id;
	char *value;             /* owned */
	size_t len;
};

struct fake_svc {
	struct fake_secret secrets[16];
	size_t nsecrets;
	unsigned char pk[2][32], sk[2][64];
	bool have_key[2];
	int fetches, releases, signs[3];
	char last_destination[256];
	bool refuse_sign;
};

void fake_init(struct fake_svc *f);
void fake_free(struct fake_svc *f);
/* Adds (or replaces) secret `id`; the value is copied. */
void fake_secret_set(struct fake_svc *f, uint64_t id, const void *value, size_t len);
int fake_secret_file(struct fake_svc *f, uint64_t id, const char *path);
void fake_keys(struct fake_svc *f);            /* two fresh Ed25519 pairs */
/* "ssh-ed25519 AAAA... tether-test" for slot 1 or 2. */
void fake_key_line(const struct fake_svc *f, int slot, char *out, size_t size);
struct val_services fake_services(struct fake_svc *f);

/* ---- jobs ---- */
struct job_builder {
	struct val_option opts[16];
	struct val_part parts[32];
	size_t nopts, nparts;
	struct val_job job;
	struct val_ssh_tunnel tunnel;
};

void job_init(struct job_builder *b, const char *type, int timeout_ms);
void job_text(struct job_builder *b, const char *name, const char *text);
void job_secret(struct job_builder *b, const char *name, uint64_t secret_id);
/* Finishes: points job at the option table. Call after the last option. */
const struct val_job *job_done(struct job_builder *b);

/* ---- peers ---- */
struct peer {
	char dir[256];
	char env[24][2][256];    /* KEY, VALUE */
	int nenv;
	bool running;
	char stop_cmd[600];
};

/* Runs tests/peers/<script> DIR (under `prefix` if given, e.g. nsenter).
 * 0 started, 1 the package is missing (skip), -1 failed. */
int peer_start(struct peer *p, const char *script, const char *stop_script,
	       const char *prefix);
void peer_stop(struct peer *p);
const char *peer_get(const struct peer *p, const char *key);

/* Every regular file under /tmp modified at or after `since` (outside the
 * `skip` directories) plus this process's argv and environment, searched
 * for `needle`. Returns the first place found or NULL. */
const char *secret_scan(time_t since, const char *const *skip, size_t nskip,
			const void *needle, size_t len, char *where, size_t size);

#endif
