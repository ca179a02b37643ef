/* A PostgreSQL-shaped error (SQLSTATE, message, detail, hint) that travels
 * unchanged from where it is raised to the client's ErrorResponse. Library
 * code returns -1 and fills one of these; it never exits. */
#ifndef TETHER_ERR_H
#define TETHER_ERR_H

#include <stdarg.h>

struct err {
	char sqlstate[6];       /* "42601"; empty when no error */
	char message[512];
	char detail[512];
	char hint[256];
	int position;           /* 1-based character position, 0 = none */
};

/* Sets sqlstate and message (printf-style); clears detail, hint, position.
 * Always returns -1 so that `return err_set(...)` reads naturally. */
int err_set(struct err *e, const char *sqlstate, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void err_detail(struct err *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void err_hint(struct err *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void err_clear(struct err *e);
int err_is_set(const struct err *e);

#endif
