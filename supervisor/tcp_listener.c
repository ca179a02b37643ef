/* The TCP listening socket of listen.tcp and the start-up checks of the TLS
 * files it needs, so that a wrong path or a readable key stops tetherd with
 * a message instead of a catalog that serves no TCP client. */
#include "tcp_listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define TCP_BACKLOG 128

static int check_file(const struct tcfg *cfg, enum tcfg_key k, int is_key, struct err *e)
{
	const char *path = tcfg_get(cfg, k);
	struct stat st;

	if (stat(path, &st) != 0)
		return err_set(e, "F0000", "%s: %s = %s: %s", cfg->where[k], tcfg_name(k), path,
			       strerror(errno));
	if (!S_ISREG(st.st_mode))
		return err_set(e, "F0000", "%s: %s = %s is not a regular file", cfg->where[k],
			       tcfg_name(k), path);
	/* PostgreSQL's rule for ssl_key_file. */
	if (is_key && (st.st_mode & (S_IRWXG | S_IRWXO)) &&
	    !(st.st_uid == 0 && !(st.st_mode & (S_IWGRP | S_IXGRP | S_IRWXO))))
		return err_set(e, "F0000",
			       "%s: %s = %s is accessible by group or other users (chmod 600, or 640 if owned by root)",
			       cfg->where[k], tcfg_name(k), path);
	return 0;
}

/* host:port of listen.tcp (already checked by proto/config.c). */
static int parse_addr(const char *v, struct sockaddr_storage *ss, socklen_t *len)
{
	const char *colon = strrchr(v, ':');
	char host[64];
	size_t hl = (size_t)(colon - v);
	int port = atoi(colon + 1);

	memset(ss, 0, sizeof(*ss));
	if (v[0] == '[') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		snprintf(host, sizeof(host), "%.*s", (int)(hl - 2), v + 1);
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*s6);
		return inet_pton(AF_INET6, host, &s6->sin6_addr) == 1 ? 0 : -1;
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

	snprintf(host, sizeof(host), "%.*s", (int)hl, v);
	s4->sin_family = AF_INET;
	s4->sin_port = htons((uint16_t)port);
	*len = sizeof(*s4);
	return inet_pton(AF_INET, host, &s4->sin_addr) == 1 ? 0 : -1;
}

int sup_tcp_listener_open(const struct tcfg *cfg, int *fd_out, struct err *e)
{
	const char *addr = tcfg_get(cfg, TCFG_LISTEN_TCP);
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1;

	*fd_out = -1;
	err_clear(e);
	if (!addr)
		return 0;
	if (!tcfg_get(cfg, TCFG_TLS_CERTIFICATE) || !tcfg_get(cfg, TCFG_TLS_KEY))
		return err_set(e, "F0000",
			       "%s: listen.tcp needs tls.certificate and tls.key (TCP clients must use TLS)",
			       cfg->where[TCFG_LISTEN_TCP]);
	if (check_file(cfg, TCFG_TLS_CERTIFICATE, 0, e) < 0 || check_file(cfg, TCFG_TLS_KEY, 1, e) < 0 ||
	    (tcfg_get(cfg, TCFG_TLS_CA) && check_file(cfg, TCFG_TLS_CA, 0, e) < 0))
		return -1;
	if (parse_addr(addr, &ss, &len) < 0)
		return err_set(e, "F0000", "%s: bad listen.tcp %s", cfg->where[TCFG_LISTEN_TCP], addr);
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_set(e, "58030", "socket: %s", strerror(errno));
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, TCP_BACKLOG) != 0) {
		int saved = errno;

		close(fd);
		return err_set(e, "58030", "cannot listen on %s: %s", addr, strerror(saved));
	}
	*fd_out = fd;
	return 0;
}
