/* struct err helpers: bounded formatting, never allocates. */
#include "err.h"

#include <stdio.h>
#include <string.h>

static void err_vformat(char *dst, size_t size, const char *fmt, va_list ap)
{
	int n = vsnprintf(dst, size, fmt, ap);
	if (n < 0)
		dst[0] = '\0';
}

int err_set(struct err *e, const char *sqlstate, const char *fmt, ...)
{
	va_list ap;

	err_clear(e);
	snprintf(e->sqlstate, sizeof(e->sqlstate), "%s", sqlstate);
	va_start(ap, fmt);
	err_vformat(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
	return -1;
}

void err_detail(struct err *e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err_vformat(e->detail, sizeof(e->detail), fmt, ap);
	va_end(ap);
}

void err_hint(struct err *e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err_vformat(e->hint, sizeof(e->hint), fmt, ap);
	va_end(ap);
}

void err_clear(struct err *e)
{
	memset(e, 0, sizeof(*e));
}

int err_is_set(const struct err *e)
{
	return e->sqlstate[0] != '\0';
}
