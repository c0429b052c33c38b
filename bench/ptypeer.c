/* The bare pty peer of harness/bench.py: the fastest a program on this machine answers an AT
 * command on a pty, the reference for modemsim's AT round trip and start-up.
 *
 *   ptypeer [N]
 *
 * Opens N ptys (default 1), prints "modem <k> peer <slave-path>" for each and then "ready",
 * as modemsim does, and answers every CR it reads with "\r\nOK\r\n" (the reply of modemsim to
 * "AT\r" after ATE0). With one pty it blocks in read(2): two system calls per round trip.
 * With more it waits in poll(2). It holds each slave open itself (as modemsim does), so a host
 * closing its side is no hang-up. It runs until killed. */
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char reply[] = "\r\nOK\r\n";

static int answer(int fd)
{
	char buf[4096];
	ssize_t n = read(fd, buf, sizeof(buf));
	if (n <= 0)
		return -1;
	for (ssize_t i = 0; i < n; i++)
		if (buf[i] == '\r' && write(fd, reply, sizeof(reply) - 1) < 0)
			return -1;
	return 0;
}

static int open_pty(void)
{
	int fd = posix_openpt(O_RDWR | O_NOCTTY);
	if (fd < 0 || grantpt(fd) < 0 || unlockpt(fd) < 0 ||
	    open(ptsname(fd), O_RDWR | O_NOCTTY) < 0) {
		perror("ptypeer: pty");
		return -1;
	}
	return fd;
}

int main(int argc, char **argv)
{
	int count = argc > 1 ? atoi(argv[1]) : 1;
	if (count < 1) {
		fprintf(stderr, "usage: ptypeer [N]\n");
		return 2;
	}
	struct pollfd *fds = calloc((size_t)count, sizeof(*fds));
	if (!fds)
		return 1;
	for (int k = 0; k < count; k++) {
		fds[k].fd = open_pty();
		if (fds[k].fd < 0)
			return 1;
		fds[k].events = POLLIN;
		printf("modem %d peer %s\n", k, ptsname(fds[k].fd));
	}
	printf("ready\n");
	fflush(stdout);
	if (count == 1)
		while (answer(fds[0].fd) == 0)
			;
	for (;;) {
		if (poll(fds, (nfds_t)count, -1) < 0)
			return 1;
		for (int k = 0; k < count; k++)
			if (fds[k].revents & POLLIN)
				answer(fds[k].fd);
	}
}
