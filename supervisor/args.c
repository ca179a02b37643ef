/* Command line of tetherd: --data-dir/-D and --log-level, in the GNU long
 * option forms (--opt VALUE, --opt=VALUE) and -D VALUE / -DVALUE. */
#include "sup.h"

#include <stdio.h>
#include <string.h>

static const struct {
	const char *name;
	enum log_level level;
} log_levels[] = {
	{ "debug", LOG_DEBUG }, { "info", LOG_INFO },
	{ "warn", LOG_WARN }, { "error", LOG_ERROR },
};

enum opt_id { OPT_DATA_DIR, OPT_LOG_LEVEL, OPT_HELP };

static const struct {
	const char *long_name;
	char short_name;
	int takes_value;
	enum opt_id id;
} options[] = {
	{ "--data-dir", 'D', 1, OPT_DATA_DIR },
	{ "--log-level", 0, 1, OPT_LOG_LEVEL },
	{ "--help", 'h', 0, OPT_HELP },
};

const char *sup_usage(void)
{
	return "usage: tetherd [--data-dir DIR] [--log-level debug|info|warn|error]\n"
	       "               [--config FILE] [--set key=value ...]\n"
	       "  -D, --data-dir DIR    data directory (default " SUP_DEFAULT_DATA_DIR
	       "), created 0700 on first start\n"
	       "      --log-level LVL   minimum level of log lines on stderr (default info)\n"
	       "      --config FILE     settings file (default DIR/tether.conf if present;\n"
	       "                        see docs/CONFIGURATION.md)\n"
	       "      --set key=value   override one setting of the file\n"
	       "  -h, --help            this text\n";
}

static int apply(struct sup_args *a, enum opt_id id, const char *value, struct err *e)
{
	switch (id) {
	case OPT_DATA_DIR:
		if (!*value)
			return err_set(e, "22023", "--data-dir needs a non-empty directory");
		if (strlen(value) >= sizeof(a->data_dir))
			return err_set(e, "22023", "--data-dir is too long");
		snprintf(a->data_dir, sizeof(a->data_dir), "%s", value);
		return 0;
	case OPT_LOG_LEVEL:
		for (size_t i = 0; i < sizeof(log_levels) / sizeof(log_levels[0]); i++)
			if (strcmp(value, log_levels[i].name) == 0) {
				a->log_level = log_levels[i].level;
				return 0;
			}
		return err_set(e, "22023",
			       "invalid --log-level '%.64s' (debug, info, warn or error)", value);
	case OPT_HELP:
		a->help = 1;
		return 0;
	}
	return err_set(e, "XX000", "unhandled option");
}

int sup_args_parse(int argc, char *const argv[], struct sup_args *a, struct err *e)
{
	memset(a, 0, sizeof(*a));
	snprintf(a->data_dir, sizeof(a->data_dir), "%s", SUP_DEFAULT_DATA_DIR);
	a->log_level = LOG_INFO;
	err_clear(e);

	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		const char *value = NULL;
		size_t k, nopt = sizeof(options) / sizeof(options[0]);

		for (k = 0; k < nopt; k++) {
			size_t len = strlen(options[k].long_name);

			if (strncmp(arg, options[k].long_name, len) == 0 &&
			    (arg[len] == '\0' || (arg[len] == '=' && options[k].takes_value))) {
				value = arg[len] == '=' ? arg + len + 1 : NULL;
				break;
			}
			if (options[k].short_name && arg[0] == '-' &&
			    arg[1] == options[k].short_name &&
			    (arg[2] == '\0' || options[k].takes_value)) {
				value = arg[2] ? arg + 2 : NULL;
				break;
			}
		}
		if (k == nopt)
			return err_set(e, "22023", "unknown argument '%.200s'", arg);
		if (options[k].takes_value && !value) {
			if (i + 1 >= argc)
				return err_set(e, "22023", "%s needs a value",
					       options[k].long_name);
			value = argv[++i];
		}
		if (apply(a, options[k].id, value ? value : "", e) != 0)
			return -1;
	}
	return 0;
}
