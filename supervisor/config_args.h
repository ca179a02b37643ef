/* tetherd's side of tether.conf (docs/CONFIGURATION.md): the --config and
 * --set options, loading the file (--config FILE, else DATA/tether.conf if
 * it exists) with command-line precedence, and the argv of each child
 * (the catalog gets the keys it acts on as --set key=value). */
#ifndef TETHER_SUP_CONFIG_ARGS_H
#define TETHER_SUP_CONFIG_ARGS_H

#include <stddef.h>

#include "config.h"
#include "sup.h"

#define SUP_CONFIG_NAME "tether.conf"
#define SUP_CONFIG_SETS_MAX 64

/* The configuration options of tetherd's command line. */
struct sup_config_opts {
	const char *config_path;                /* --config FILE, or NULL */
	const char *sets[SUP_CONFIG_SETS_MAX];  /* --set key=value, in order */
	size_t nsets;
	int data_dir_given;                     /* --data-dir / -D present */
	int log_level_given;                    /* --log-level present */
};

/* Takes --config FILE, --config=FILE, --set K=V and --set=K=V out of argv
 * (compacting it and *argc, so sup_args_parse never sees them) into o, and
 * notes whether --data-dir / -D / --log-level are present. The values of
 * those options are skipped, never mistaken for options. 0, or -1 with e
 * set (a missing value, too many --set). */
int sup_config_take_args(int *argc, char **argv, struct sup_config_opts *o, struct err *e);

/* Fills cfg: the file (--config FILE, which must exist; else
 * <data dir>/tether.conf when it exists), then the --set overrides in
 * order. Then a->data_dir / a->log_level take cfg's data_dir / log_level
 * unless given on the command line; a command-line --log-level is written
 * into cfg so children get it too. A data_dir key in <data dir>/tether.conf
 * must name that same directory. 0, or -1 with e (FILE:LINE: ...). */
int sup_config_load(const struct sup_config_opts *o, struct sup_args *a, struct tcfg *cfg,
		    struct err *e);

/* A child's argv: exe --data-dir DIR, then for the catalog
 * --set key=value for every key of cfg that is set and that the catalog
 * uses (none is secret: the values appear in ps). out->argv points into
 * out, exe and data_dir. Cannot fail: key names are short and values are
 * shorter than TCFG_VALUE_MAX. */
#define SUP_CHILD_ARGV_MAX (4 + 2 * TCFG_NKEYS)
struct sup_child_argv {
	char *argv[SUP_CHILD_ARGV_MAX];         /* NULL-terminated */
	char sets[TCFG_NKEYS][64 + TCFG_VALUE_MAX];
};
void sup_config_child_argv(const struct tcfg *cfg, enum sup_child who, const char *exe,
			   const char *data_dir, struct sup_child_argv *out);

#endif
