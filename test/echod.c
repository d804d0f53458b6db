// SPDX-License-Identifier: GPL-2.0-only
/*
 * A backend's echo server for the reliability suite (test/reliability.sh):
 * greets each connection with its name and a newline, then sends back every
 * byte it gets. One epoll loop, so a backend can hold thousands of
 * connections (test/echo_server.py spends a thread on each).
 *
 * Usage: echod NAME PORT   (listens on every address, IPv4 and IPv6)
 */
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define ECHOD_BUF 4096

/* Bytes read but not yet sent back: a client that reads slowly fills its
 * socket buffer, and its connection stops being read until this drains. */
struct conn {
	int fd;
	size_t len;
	size_t off;
	char buf[ECHOD_BUF];
};

static int listen_any(int port)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons(port) };
	int one = 1, zero = 0;
	int fd = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 4096) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void conn_close(int ep, struct conn *c)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c);
}

static void conn_watch(int ep, struct conn *c, int op)
{
	struct epoll_event ev = { .events = c->len ? EPOLLOUT : EPOLLIN, .data.ptr = c };

	epoll_ctl(ep, op, c->fd, &ev);
}

static void accept_all(int ep, int lfd, const char *greeting)
{
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
		struct conn *c;

		if (fd < 0)
			return;
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->len = strlen(greeting);
		memcpy(c->buf, greeting, c->len);
		conn_watch(ep, c, EPOLL_CTL_ADD);
	}
}

/* Send what is pending, then read more; 0 to keep the connection, -1 to close. */
static int conn_step(int ep, struct conn *c)
{
	ssize_t n;

	while (c->off < c->len) {
		n = send(c->fd, c->buf + c->off, c->len - c->off, MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN)
			return -1;
		if (n < 0) {
			conn_watch(ep, c, EPOLL_CTL_MOD);
			return 0;
		}
		c->off += n;
	}
	c->len = c->off = 0;
	n = recv(c->fd, c->buf, sizeof(c->buf), 0);
	if (n == 0 || (n < 0 && errno != EAGAIN))
		return -1;
	if (n > 0) {
		c->len = n;
		return conn_step(ep, c);
	}
	conn_watch(ep, c, EPOLL_CTL_MOD);
	return 0;
}

int main(int argc, char **argv)
{
	struct rlimit rl;
	struct epoll_event ev = { .events = EPOLLIN }, evs[256];
	char greeting[128];
	int ep, lfd, i, n;

	if (argc != 3) {
		fprintf(stderr, "usage: echod NAME PORT\n");
		return 2;
	}
	snprintf(greeting, sizeof(greeting), "%s\n", argv[1]);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGPIPE, SIG_IGN);
	lfd = listen_any(atoi(argv[2]));
	ep = epoll_create1(0);
	if (lfd < 0 || ep < 0) {
		fprintf(stderr, "echod: cannot listen on port %s: %s\n", argv[2], strerror(errno));
		return 1;
	}
	ev.data.ptr = NULL;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	for (;;) {
		n = epoll_wait(ep, evs, 256, -1);
		for (i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;

			if (!c)
				accept_all(ep, lfd, greeting);
			else if (conn_step(ep, c) < 0)
				conn_close(ep, c);
		}
	}
}
