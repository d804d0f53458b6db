// SPDX-License-Identifier: GPL-2.0-only
/*
 * The floor under lbd's TCP checks, for test/bench_health.sh: the same
 * system calls per probe as user/probe.c (socket, SO_LINGER, a
 * non-blocking connect, into an epoll set, close with a reset), at the
 * same rate over the same backends, and nothing else: no event library,
 * no state. What this costs, lbd cannot save; lbd's CPU above it is lbd's.
 *
 * Backend I is 198.19.(I / 250).(I % 250 + 1):80, each probed once a
 * second, the starts spread over the second in ticks of 10 ms. After
 * WARM seconds it measures WINDOW seconds and prints
 *   probes_per_s user_pct sys_pct
 * (percent of one core, from getrusage()).
 *
 * With "reuse", each backend keeps one socket, registered once, and a
 * probe is a connect() and a connect(AF_UNSPEC), which resets the
 * connection and leaves the socket ready for the next: what user/probe.c
 * does. With "http", the same kept socket carries lbd's HTTP check: the
 * request once connected, one read of the answer, then the reset.
 *
 * Usage: bench_connect N WARM WINDOW [reuse|http]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define TICK_MS 10

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_s(int user)
{
	struct rusage ru;
	struct timeval *tv = user ? &ru.ru_utime : &ru.ru_stime;

	getrusage(RUSAGE_SELF, &ru);
	return tv->tv_sec + tv->tv_usec / 1e6;
}

static struct sockaddr_in backend(unsigned int i)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(80) };

	sin.sin_addr.s_addr = htonl(0xc6130000u | (i / 250) << 8 | (i % 250 + 1));
	return sin;
}

/* One probe of backend i; its socket joins the set (or is gone). */
static void probe_start(int ep, unsigned int i)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	struct sockaddr_in sin = backend(i);
	struct epoll_event ev = { .events = EPOLLOUT };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return;
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	ev.data.fd = fd;
	if ((connect(fd, (struct sockaddr *)&sin, sizeof(sin)) && errno != EINPROGRESS) ||
	    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev))
		close(fd);
}

/* reuse, http: backend i's socket, made and registered on first use. */
static int *fds;
static unsigned char *busy;	/* 0: idle, 1: connecting, 2 (http): request sent */
static int http;

static const char request[] = "GET /health HTTP/1.1\r\nHost: 198.19.0.1\r\n"
			      "Connection: close\r\nUser-Agent: sluice-lbd\r\n\r\n";

static void reuse_start(int ep, unsigned int i)
{
	struct epoll_event ev = { .events = EPOLLOUT | EPOLLET | (http ? EPOLLIN : 0),
				  .data.u32 = i };
	struct sockaddr_in sin = backend(i);
	struct sockaddr un = { .sa_family = AF_UNSPEC };

	if (busy[i])
		return;
	if (fds[i] < 0) {
		fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fds[i] < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev))
			return;
	}
	busy[i] = 1;
	if (connect(fds[i], (struct sockaddr *)&sin, sizeof(sin)) && errno != EINPROGRESS) {
		connect(fds[i], &un, sizeof(un));
		busy[i] = 0;
	}
}

static int reuse_done(unsigned int i)
{
	struct sockaddr un = { .sa_family = AF_UNSPEC };
	char head[32];

	if (!busy[i])
		return 0;	/* the reset's own wake-up */
	if (http && busy[i] == 1) {
		busy[i] = 2;
		if (send(fds[i], request, strlen(request), MSG_NOSIGNAL | MSG_DONTWAIT) > 0)
			return 0;
	} else if (http && recv(fds[i], head, sizeof(head), MSG_DONTWAIT) < 0 &&
		   errno == EAGAIN) {
		return 0;
	}
	busy[i] = 0;
	connect(fds[i], &un, sizeof(un));
	return 1;
}

int main(int argc, char **argv)
{
	struct itimerspec its = { .it_interval.tv_nsec = TICK_MS * 1000000L,
				  .it_value.tv_nsec = TICK_MS * 1000000L };
	struct epoll_event ev = { .events = EPOLLIN }, evs[256];
	unsigned int n, next = 0, per_tick, i;
	double warm, window, t0 = 0, u0 = 0, s0 = 0, start;
	unsigned long long done = 0, done0 = 0;
	int ep, tfd, k, m, reuse;
	uint64_t ticks;

	if (argc < 4 || argc > 5) {
		fprintf(stderr, "usage: bench_connect N WARM WINDOW [reuse|http]\n");
		return EXIT_FAILURE;
	}
	n = (unsigned int)atoi(argv[1]);
	reuse = argc == 5;
	http = reuse && !strcmp(argv[4], "http");
	fds = malloc(n * sizeof(*fds));
	busy = calloc(n, 1);
	for (i = 0; fds && i < n; i++)
		fds[i] = -1;
	warm = atof(argv[2]);
	window = atof(argv[3]);
	per_tick = n * TICK_MS / 1000;
	ep = epoll_create1(EPOLL_CLOEXEC);
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (ep < 0 || tfd < 0 || !per_tick || !fds || !busy ||
	    timerfd_settime(tfd, 0, &its, NULL)) {
		perror("bench_connect");
		return EXIT_FAILURE;
	}
	ev.data.u32 = UINT32_MAX;
	epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev);
	start = now_s();
	for (;;) {
		m = epoll_wait(ep, evs, 256, -1);
		for (k = 0; k < m; k++) {
			if (evs[k].data.u32 != UINT32_MAX) {
				if (reuse)
					done += reuse_done(evs[k].data.u32);
				else
					close(evs[k].data.fd);
				done += !reuse;
				continue;
			}
			if (read(tfd, &ticks, sizeof(ticks)) != sizeof(ticks))
				continue;
			for (; ticks; ticks--)
				for (i = 0; i < per_tick; i++, next = (next + 1) % n) {
					if (reuse)
						reuse_start(ep, next);
					else
						probe_start(ep, next);
				}
		}
		if (!t0 && now_s() - start >= warm) {
			t0 = now_s();
			u0 = cpu_s(1);
			s0 = cpu_s(0);
			done0 = done;
		}
		if (t0 && now_s() - t0 >= window)
			break;
	}
	window = now_s() - t0;
	printf("%.0f %.1f %.1f\n", (done - done0) / window, 100 * (cpu_s(1) - u0) / window,
	       100 * (cpu_s(0) - s0) / window);
	return EXIT_SUCCESS;
}
