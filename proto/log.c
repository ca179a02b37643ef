/* One structured line per event, written with a single write(2) so lines
 * from several processes sharing stderr never interleave. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *log_proc = "tether";
static enum log_level log_min = LOG_INFO;

static const char *const level_names[] = {
	[LOG_DEBUG] = "debug", [LOG_INFO] = "info",
	[LOG_WARN] = "warn", [LOG_ERROR] = "error",
};

void log_init(const char *proc)
{
	log_proc = proc;
}

void log_set_level(enum log_level min)
{
	log_min = min;
}

const char *log_quote(char *buf, unsigned long size, const char *s)
{
	size_t n = 0;
	int needs_quotes = (*s == '\0');

	for (const char *p = s; *p; p++)
		if (*p == ' ' || *p == '"' || *p == '=' || *p == '\\' ||
		    (unsigned char)*p < 0x20 || *p == 0x7f)
			needs_quotes = 1;
	if (!needs_quotes) {
		snprintf(buf, size, "%s", s);
		return buf;
	}
	if (size < 3) {
		if (size > 0)
			buf[0] = '\0';
		return buf;
	}
	buf[n++] = '"';
	for (const char *p = s; *p && n + 5 < size; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '"' || c == '\\') {
			buf[n++] = '\\';
			buf[n++] = (char)c;
		} else if (c < 0x20 || c == 0x7f) {
			n += (size_t)snprintf(buf + n, size - n, "\\x%02x", c);
		} else {
			buf[n++] = (char)c;
		}
	}
	buf[n++] = '"';
	buf[n] = '\0';
	return buf;
}

void log_event(enum log_level level, const char *event, const char *fmt, ...)
{
	char line[2048];
	struct timespec ts;
	struct tm tm;
	size_t n;
	va_list ap;

	if (level < log_min)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(line, sizeof(line), "ts=%Y-%m-%dT%H:%M:%S", &tm);
	n += (size_t)snprintf(line + n, sizeof(line) - n,
			      ".%03ldZ level=%s proc=%s pid=%d event=%s",
			      ts.tv_nsec / 1000000, level_names[level], log_proc,
			      (int)getpid(), event);
	if (fmt && n < sizeof(line) - 2) {
		line[n++] = ' ';
		va_start(ap, fmt);
		int m = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
		va_end(ap);
		if (m > 0)
			n += (size_t)m;
	}
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	/* One write so that concurrent writers keep whole lines. */
	ssize_t w = write(STDERR_FILENO, line, n);
	(void)w;
}
