// SPDX-License-Identifier: GPL-2.0-only
/*
 * The server side of the health-check benchmark (test/bench_health.sh):
 * thousands of probes a second, TCP and HTTP, to every address of its
 * namespace. One thread and epoll, so it takes little of the machine the
 * measured lbd shares: each connection is accepted, answered with a 200
 * and closed once its request head has arrived, or closed when its peer
 * goes away first (a TCP probe resets right after the handshake).
 *
 * Usage: bench_httpd PORT   (runs until killed)
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static const char reply[] = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n";

static int listen_on(int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) || listen(fd, 4096)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Everything waiting on the listener, into the epoll set. */
static void accept_all(int lfd, int ep)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int fd;

	while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		ev.data.fd = fd;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev))
			close(fd);
	}
}

/* A request head arrived (answer and close), the peer left (close), or
 * part of a head came (wait for the rest). Heads are small: a probe's
 * fits in one read, and one split over two reads still ends the same. */
static void serve(int fd)
{
	char buf[2048];
	ssize_t n = read(fd, buf, sizeof(buf) - 1);

	if (n < 0 && errno == EAGAIN)
		return;
	if (n > 0) {
		buf[n] = '\0';
		if (!strstr(buf, "\r\n\r\n"))
			return;
		if (write(fd, reply, sizeof(reply) - 1) < 0) {
			/* the peer is gone: nothing to do but close */
		}
	}
	close(fd);
}

int main(int argc, char **argv)
{
	struct epoll_event ev = { .events = EPOLLIN }, evs[256];
	int lfd, ep, n, i;

	if (argc != 2) {
		fprintf(stderr, "usage: bench_httpd PORT\n");
		return EXIT_FAILURE;
	}
	lfd = listen_on(atoi(argv[1]));
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (lfd < 0 || ep < 0) {
		perror("bench_httpd");
		return EXIT_FAILURE;
	}
	ev.data.fd = lfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	for (;;) {
		n = epoll_wait(ep, evs, 256, -1);
		for (i = 0; i < n; i++) {
			if (evs[i].data.fd == lfd)
				accept_all(lfd, ep);
			else
				serve(evs[i].data.fd);
		}
	}
}
