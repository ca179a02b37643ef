/* tetherd and tether.conf: takes --config / --set out of the command line,
 * loads the file and the overrides with the precedence of
 * docs/CONFIGURATION.md (command line > --set > file > defaults), and
 * builds each child's argv. The configuration is checked here in full, so
 * a bad file stops tetherd before any child starts. */
#include "config_args.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const struct {
	const char *name;
	enum log_level level;
} log_levels[] = {
	{ "debug", LOG_DEBUG }, { "info", LOG_INFO },
	{ "warn", LOG_WARN }, { "error", LOG_ERROR },
};

/* Options of args.c that take a value: their value is never an option. */
static int takes_value(const char *arg, int *data_dir, int *log_level)
{
	if (!strcmp(arg, "--data-dir") || !strcmp(arg, "-D")) {
		*data_dir = 1;
		return 1;
	}
	if (!strncmp(arg, "--data-dir=", 11) || (!strncmp(arg, "-D", 2) && arg[2])) {
		*data_dir = 1;
		return 0;
	}
	if (!strcmp(arg, "--log-level")) {
		*log_level = 1;
		return 1;
	}
	if (!strncmp(arg, "--log-level=", 12))
		*log_level = 1;
	return 0;
}

int sup_config_take_args(int *argc, char **argv, struct sup_config_opts *o, struct err *e)
{
	int out = 1;

	memset(o, 0, sizeof(*o));
	err_clear(e);
	for (int i = 1; i < *argc; i++) {
		const char *arg = argv[i], *value = NULL;
		int is_config = 0, is_set = 0;

		if (!strcmp(arg, "--config") || !strcmp(arg, "--set")) {
			is_config = arg[2] == 'c';
			is_set = !is_config;
			if (i + 1 >= *argc)
				return err_set(e, "22023", "%s needs a value", arg);
			value = argv[++i];
		} else if (!strncmp(arg, "--config=", 9)) {
			is_config = 1;
			value = arg + 9;
		} else if (!strncmp(arg, "--set=", 6)) {
			is_set = 1;
			value = arg + 6;
		}
		if (is_config) {
			if (!*value)
				return err_set(e, "22023", "--config needs a file name");
			o->config_path = value;
			continue;
		}
		if (is_set) {
			if (o->nsets == SUP_CONFIG_SETS_MAX)
				return err_set(e, "22023", "more than %d --set options",
					       SUP_CONFIG_SETS_MAX);
			o->sets[o->nsets++] = value;
			continue;
		}
		argv[out++] = argv[i];
		if (takes_value(arg, &o->data_dir_given, &o->log_level_given) && i + 1 < *argc)
			argv[out++] = argv[++i];
	}
	argv[out] = NULL;
	*argc = out;
	return 0;
}

/* Same directory (both exist) or same spelling. */
static int same_dir(const char *a, const char *b)
{
	char ra[PATH_MAX], rb[PATH_MAX];

	if (realpath(a, ra) && realpath(b, rb))
		return !strcmp(ra, rb);
	return !strcmp(a, b);
}

int sup_config_load(const struct sup_config_opts *o, struct sup_args *a, struct tcfg *cfg,
		    struct err *e)
{
	struct tcfg sets;
	char path[PATH_MAX + 32];
	const char *dir = a->data_dir;
	int from_data_dir = 0;

	tcfg_init(cfg);
	/* The overrides first, on their own: their errors come first, and a
	 * --set data_dir says where to look for tether.conf. */
	tcfg_init(&sets);
	for (size_t i = 0; i < o->nsets; i++)
		if (tcfg_set_arg(&sets, o->sets[i], e) < 0)
			return -1;
	if (!o->data_dir_given && sets.set[TCFG_DATA_DIR])
		dir = sets.value[TCFG_DATA_DIR];
	if (o->config_path) {
		if (tcfg_load_file(cfg, o->config_path, e) < 0)
			return -1;
	} else {
		struct stat sb;

		snprintf(path, sizeof(path), "%s/%s", dir, SUP_CONFIG_NAME);
		if (stat(path, &sb) == 0) {
			if (tcfg_load_file(cfg, path, e) < 0)
				return -1;
			from_data_dir = 1;
		} else if (errno != ENOENT && errno != ENOTDIR) {
			return err_set(e, "F0000", "cannot read %s: %s", path, strerror(errno));
		}
	}
	if (from_data_dir && cfg->set[TCFG_DATA_DIR] && !same_dir(cfg->value[TCFG_DATA_DIR], dir))
		return err_set(e, "F0000",
			       "%s: data_dir = %s, but this file is read from data directory %s (use --config to keep the file elsewhere)",
			       cfg->where[TCFG_DATA_DIR], cfg->value[TCFG_DATA_DIR], dir);
	for (int k = 0; k < TCFG_NKEYS; k++)
		if (sets.set[k]) {
			memcpy(cfg->value[k], sets.value[k], sizeof(cfg->value[k]));
			memcpy(cfg->where[k], sets.where[k], sizeof(cfg->where[k]));
			cfg->set[k] = 1;
		}
	/* The command line wins over both. */
	if (!o->data_dir_given && cfg->set[TCFG_DATA_DIR]) {
		if (strlen(cfg->value[TCFG_DATA_DIR]) >= sizeof(a->data_dir))
			return err_set(e, "F0000", "%s: data_dir is too long",
				       cfg->where[TCFG_DATA_DIR]);
		snprintf(a->data_dir, sizeof(a->data_dir), "%s", cfg->value[TCFG_DATA_DIR]);
	}
	for (size_t i = 0; i < sizeof(log_levels) / sizeof(log_levels[0]); i++) {
		if (o->log_level_given && a->log_level == log_levels[i].level)
			return tcfg_set(cfg, TCFG_LOG_LEVEL, log_levels[i].name, "--log-level", e);
		if (!o->log_level_given && cfg->set[TCFG_LOG_LEVEL] &&
		    !strcmp(cfg->value[TCFG_LOG_LEVEL], log_levels[i].name))
			a->log_level = log_levels[i].level;
	}
	return 0;
}

void sup_config_child_argv(const struct tcfg *cfg, enum sup_child who, const char *exe,
			   const char *data_dir, struct sup_child_argv *out)
{
	size_t n = 0, nsets = 0;

	memset(out->argv, 0, sizeof(out->argv));
	out->argv[n++] = (char *)exe;
	out->argv[n++] = "--data-dir";
	out->argv[n++] = (char *)data_dir;
	/* Only the catalog takes --set (its main.c refuses keys it does not
	 * use); the vault's configuration is its data directory. */
	for (int k = 0; who == SUP_CHILD_CATALOG && k < TCFG_NKEYS; k++) {
		if (!cfg->set[k] || !(tcfg_users((enum tcfg_key)k) & TCFG_FOR_CATALOG))
			continue;
		snprintf(out->sets[nsets], sizeof(out->sets[nsets]), "%s=%s",
			 tcfg_name((enum tcfg_key)k), cfg->value[k]);
		out->argv[n++] = "--set";
		out->argv[n++] = out->sets[nsets++];
	}
	out->argv[n] = NULL;
}
