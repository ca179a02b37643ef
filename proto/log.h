/* Structured logging: one line per event on stderr,
 *   ts=2026-11-26T07:30:00.123Z level=info proc=vault pid=42 event=secret_put id=u3
 * Values with spaces or quotes are quoted. Never pass secret material. */
#ifndef TETHER_LOG_H
#define TETHER_LOG_H

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Names this process in every line ("tetherd", "vault", ...). */
void log_init(const char *proc);
void log_set_level(enum log_level min);

/* `fmt` yields the key=value pairs after event=...; may be NULL. Use
 * log_quote() for values that may contain spaces. */
void log_event(enum log_level level, const char *event, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Copies `s` into `buf` as a log value: bare if safe, else double-quoted
 * with \" and \\ escaped and control bytes as \xNN. Returns buf. */
const char *log_quote(char *buf, unsigned long size, const char *s);

#define log_info(ev, ...) log_event(LOG_INFO, ev, __VA_ARGS__)
#define log_warn(ev, ...) log_event(LOG_WARN, ev, __VA_ARGS__)
#define log_error(ev, ...) log_event(LOG_ERROR, ev, __VA_ARGS__)
#define log_debug(ev, ...) log_event(LOG_DEBUG, ev, __VA_ARGS__)

#endif
