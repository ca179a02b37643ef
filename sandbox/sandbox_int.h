/* Internals shared by the sandbox's files: the shape of a seccomp policy
 * table (policy.c) as read by the loader (sandbox.c). */
#ifndef TETHER_SANDBOX_INT_H
#define TETHER_SANDBOX_INT_H

#include <seccomp.h>
#include <stddef.h>

#include "sandbox.h"

/* Rule flags. */
#define SBX_RULE_SELF_PID_A0 0x1    /* add arg0 == getpid() at load time */

struct sbx_rule {
	const char *syscall;            /* name, resolved for the native arch */
	int errno_val;                  /* 0: allow; else fail with this errno */
	unsigned int flags;
	unsigned int argc;
	struct scmp_arg_cmp args[2];
};

struct sbx_ruleset {
	const struct sbx_rule *rules;
	size_t count;
};

#define SBX_MAX_SETS 8

struct sbx_policy {
	const char *name;
	struct sbx_ruleset sets[SBX_MAX_SETS];  /* unused slots have count 0 */
};

extern const struct sbx_policy sbx_policies[SBX_ROLE_COUNT];

#endif
