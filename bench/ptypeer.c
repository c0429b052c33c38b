/* The bare pty peer of harness/bench.py: the fastest a program on this machine answers an AT
 * command on a pty, the reference for modemsim's AT round trip and start-up.
 *
 *   ptypeer [N [tcp:PORT]]
 *
 * Opens N ptys (default 1), prints "modem <k> peer <slave-path>" for each and then "ready",
 * as modemsim does, and answers every CR it reads with "\r\nOK\r\n" (the reply of modemsim to
 * "AT\r" after ATE0). With one pty it blocks in read(2): two system calls per round trip.
 * With more it waits in poll(2). With tcp:PORT it listens on 127.0.0.1 ports PORT+k instead
 * (PORT 0: ephemeral ones), prints "modem <k> peer tcp:127.0.0.1:<port>" and then "ready", and
 * waits: the start-up reference of modemsim --serial tcp-listen. It holds each slave open itself
 * (as modemsim does), so a host closing its side is no hang-up. It runs until killed. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
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

/* A socket listening on 127.0.0.1:port; its port (the actual one) in *bound. */
static int open_listener(int port, int *bound)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	socklen_t len = sizeof(a);
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 1) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
		perror("ptypeer: listen");
		return -1;
	}
	*bound = ntohs(a.sin_port);
	return fd;
}

static int listen_all(int count, int port)
{
	for (int k = 0; k < count; k++) {
		int bound;
		if (open_listener(port ? port + k : 0, &bound) < 0)
			return 1;
		printf("modem %d peer tcp:127.0.0.1:%d\n", k, bound);
	}
	printf("ready\n");
	fflush(stdout);
	for (;;)
		pause();
}

int main(int argc, char **argv)
{
	int count = argc > 1 ? atoi(argv[1]) : 1;
	if (count < 1) {
		fprintf(stderr, "usage: ptypeer [N [tcp:PORT]]\n");
		return 2;
	}
	if (argc > 2 && strncmp(argv[2], "tcp:", 4) == 0)
		return listen_all(count, atoi(argv[2] + 4));
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
