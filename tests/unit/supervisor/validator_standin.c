/* A stand-in for tether-validator in test_validators: reports on its
 * vault channel (fd 4) whether it got exactly fds 0-2, 3 = /dev/null,
 * 4 and 5 = sockets, then obeys one command byte from its catalog channel
 * (fd 5): 'x' exit 0, 'e' exit 3, 'c' abort, 'h' hang. Not installed. */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static int is_kind(int fd, mode_t kind)
{
	struct stat st;

	return fstat(fd, &st) == 0 && (st.st_mode & S_IFMT) == kind;
}

int main(void)
{
	char ok = 'y', cmd = 0;

	if (!is_kind(3, S_IFCHR) || !is_kind(4, S_IFSOCK) || !is_kind(5, S_IFSOCK))
		ok = 'n';
	for (int fd = 6; fd < 256; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			ok = 'n';
	if (getenv("HOME"))
		ok = 'n';
	if (write(4, &ok, 1) != 1)
		return 9;
	if (read(5, &cmd, 1) != 1)
		return 8;
	switch (cmd) {
	case 'x':
		return 0;
	case 'e':
		return 3;
	case 'c':
		abort();
	default:
		for (;;)
			pause();
	}
}
