// SPDX-License-Identifier: GPL-2.0-only
/*
 * The reliability suite's client (test/reliability.sh): holds N long-lived
 * TCP connections to a VIP, sends a sequence-numbered message on each every
 * few milliseconds, checks that the echo is the same bytes, and reports
 * every connection that broke and how: reset, closed, timeout or mismatch.
 * The server (test/echod.c) greets with its backend's name, so the report
 * says which backend each connection was on.
 *
 * With -c it only opens N connections one after another, prints each
 * greeting (or "refused" / "timeout") and closes them: new connections, for
 * counting where they land.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define NAME_MAX_LEN 32
#define MSG_MAX 32

enum conn_status { ST_OK, ST_RESET, ST_CLOSED, ST_TIMEOUT, ST_MISMATCH, ST_UNOPENED, ST_MAX };
static const char *const status_names[ST_MAX] = { "ok", "reset", "closed", "timeout", "mismatch",
						   "unopened" };

struct conn {
	int fd;
	enum conn_status status;
	bool open;
	bool waiting;		/* a message is out, its echo not yet back */
	long long next_ms;	/* when to send the next message */
	long long sent_ms;
	unsigned int seq;
	size_t got;
	char expect[MSG_MAX];
	size_t expect_len;
	char buf[MSG_MAX * 2];
	char backend[NAME_MAX_LEN];
};

struct opts {
	const char *addr, *port;
	int n, interval_ms, timeout_ms, max_s;
	const char *ready, *stop, *report;
	bool connect_only;
};

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	(void)sig;
	stop_signal = 1;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Wait up to ms for fd to be ready for events; 1 ready, 0 timeout. */
static int wait_fd(int fd, short events, int ms)
{
	struct pollfd p = { .fd = fd, .events = events };
	int r;

	do
		r = poll(&p, 1, ms);
	while (r < 0 && errno == EINTR);
	return r > 0;
}

/* Read the greeting line into name; 0, or a connection status. */
static int read_greeting(int fd, char *name, int timeout_ms)
{
	size_t len = 0;
	ssize_t n;

	while (len < NAME_MAX_LEN - 1) {
		if (!wait_fd(fd, POLLIN, timeout_ms))
			return ST_TIMEOUT;
		n = recv(fd, name + len, 1, 0);
		if (n == 0)
			return ST_CLOSED;
		if (n < 0)
			return errno == ECONNRESET ? ST_RESET : ST_CLOSED;
		if (name[len] == '\n')
			break;
		len++;
	}
	name[len] = 0;
	return 0;
}

/* A connected, greeted socket, or -1 with *why set ("refused", "timeout", ...). */
static int open_conn(const struct addrinfo *ai, char *name, int timeout_ms, const char **why)
{
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
	int err = 0, r;
	socklen_t len = sizeof(err);

	*why = "socket";
	if (fd < 0)
		return -1;
	r = connect(fd, ai->ai_addr, ai->ai_addrlen);
	if (r < 0 && errno != EINPROGRESS)
		goto fail;
	if (r < 0 && !wait_fd(fd, POLLOUT, timeout_ms)) {
		*why = "timeout";
		goto out;
	}
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
	errno = err;
	if (err)
		goto fail;
	r = read_greeting(fd, name, timeout_ms);
	if (!r)
		return fd;
	*why = status_names[r];
	goto out;
fail:
	*why = errno == ECONNREFUSED ? "refused" : errno == ETIMEDOUT ? "timeout" : "error";
out:
	close(fd);
	return -1;
}

static int connect_only(const struct opts *o, const struct addrinfo *ai)
{
	char name[NAME_MAX_LEN];
	const char *why;
	int i, fd, failed = 0;

	for (i = 0; i < o->n && !stop_signal; i++) {
		fd = open_conn(ai, name, o->timeout_ms, &why);
		if (fd < 0) {
			printf("%s\n", why);
			failed++;
			continue;
		}
		printf("%s\n", name);
		close(fd);
	}
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

static void conn_fail(struct conn *c, enum conn_status st)
{
	c->status = st;
	c->open = false;
	close(c->fd);
}

static void conn_send(struct conn *c, int idx, long long now)
{
	ssize_t n;

	c->seq++;
	c->expect_len = snprintf(c->expect, sizeof(c->expect), "%d %u\n", idx, c->seq);
	c->got = 0;
	n = send(c->fd, c->expect, c->expect_len, MSG_NOSIGNAL);
	if (n != (ssize_t)c->expect_len) {
		/* A few bytes never fill an idle socket's buffer: a short send is a dead peer. */
		conn_fail(c, n < 0 && errno == ECONNRESET ? ST_RESET : ST_CLOSED);
		return;
	}
	c->waiting = true;
	c->sent_ms = now;
}

static void conn_read(struct conn *c, int interval_ms, long long now)
{
	ssize_t n = recv(c->fd, c->buf + c->got, sizeof(c->buf) - c->got, 0);

	if (n < 0 && errno == EAGAIN)
		return;
	if (n <= 0) {
		conn_fail(c, n == 0 ? ST_CLOSED : errno == ECONNRESET ? ST_RESET : ST_CLOSED);
		return;
	}
	c->got += n;
	if (!c->waiting || c->got > c->expect_len ||
	    memcmp(c->buf, c->expect, c->got) != 0) {
		conn_fail(c, ST_MISMATCH);
		return;
	}
	if (c->got == c->expect_len) {
		c->waiting = false;
		c->next_ms = now + interval_ms;
	}
}

static void write_lines(const char *path, const struct conn *cs, int n, bool with_status)
{
	char tmp[4096];
	FILE *f;
	int i;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		return;
	for (i = 0; i < n; i++) {
		if (with_status)
			fprintf(f, "%d %s %s %u\n", i, cs[i].backend, status_names[cs[i].status],
				cs[i].seq);
		else
			fprintf(f, "%s\n", cs[i].backend);
	}
	fclose(f);
	rename(tmp, path);	/* readers see the whole file or none */
}

/* Send, read and time out until told to stop; then let the last echoes come in. */
static void run(const struct opts *o, struct conn *cs, int ep)
{
	long long start = now_ms(), stop_at = 0, now;
	struct epoll_event evs[256];
	int i, n, open;

	for (;;) {
		now = now_ms();
		if (!stop_at && (stop_signal || now - start > o->max_s * 1000LL ||
				 (o->stop && access(o->stop, F_OK) == 0)))
			stop_at = now;
		open = 0;
		for (i = 0; i < o->n; i++) {
			struct conn *c = &cs[i];

			if (!c->open)
				continue;
			if (c->waiting && now - c->sent_ms > o->timeout_ms)
				conn_fail(c, ST_TIMEOUT);
			else if (!c->waiting && !stop_at && now >= c->next_ms)
				conn_send(c, i, now);
			open += c->open && c->waiting;
		}
		if (stop_at && !open)
			return;
		n = epoll_wait(ep, evs, 256, 5);
		for (i = 0; i < n; i++) {
			struct conn *c = &cs[evs[i].data.u32];

			if (c->open)
				conn_read(c, o->interval_ms, now_ms());
		}
	}
}

static int hold(const struct opts *o, const struct addrinfo *ai)
{
	struct conn *cs = calloc(o->n, sizeof(*cs));
	int ep = epoll_create1(0), i, count[ST_MAX] = { 0 };
	unsigned long long messages = 0;
	const char *why;

	if (!cs || ep < 0)
		return EXIT_FAILURE;
	for (i = 0; i < o->n; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = i };

		cs[i].fd = open_conn(ai, cs[i].backend, o->timeout_ms, &why);
		if (cs[i].fd < 0) {
			fprintf(stderr, "hold: connection %d: %s\n", i, why);
			snprintf(cs[i].backend, NAME_MAX_LEN, "-");
			cs[i].status = ST_UNOPENED;
			continue;
		}
		cs[i].open = true;
		/* Spread the sends over the interval rather than all at once. */
		cs[i].next_ms = now_ms() + (long long)o->interval_ms * i / o->n;
		epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev);
	}
	if (o->ready)
		write_lines(o->ready, cs, o->n, false);
	run(o, cs, ep);
	for (i = 0; i < o->n; i++) {
		if (cs[i].open)
			close(cs[i].fd);
		count[cs[i].status]++;
		messages += cs[i].seq;
	}
	if (o->report)
		write_lines(o->report, cs, o->n, true);
	printf("hold: %d connections, %d not opened; ok %d, reset %d, closed %d, timeout %d, mismatch %d; %llu messages\n",
	       o->n, count[ST_UNOPENED], count[ST_OK], count[ST_RESET], count[ST_CLOSED], count[ST_TIMEOUT],
	       count[ST_MISMATCH], messages);
	return count[ST_OK] != o->n ? EXIT_FAILURE : EXIT_SUCCESS;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: hold [-c] [-n N] [-i MS] [-T MS] [-t S] [-r FILE] [-s FILE] [-o FILE] ADDRESS PORT\n"
		"  -n N     connections (default 1)\n"
		"  -i MS    one message on each connection every MS ms (default 10)\n"
		"  -T MS    a connect, greeting or echo slower than MS ms is a timeout (default 10000)\n"
		"  -t S     stop after S seconds at most (default 600)\n"
		"  -r FILE  written once every connection is open: its backends, one a line\n"
		"  -s FILE  stop when FILE exists (SIGTERM and SIGINT stop too)\n"
		"  -o FILE  the report: INDEX BACKEND STATUS MESSAGES, one connection a line\n"
		"  -c       only open N connections one after another: print each greeting and close\n"
		"Exit 0 when every connection opened and none broke.\n");
	exit(2);
}

static void parse_opts(int argc, char **argv, struct opts *o)
{
	int c;

	*o = (struct opts){ .n = 1, .interval_ms = 10, .timeout_ms = 10000, .max_s = 600 };
	while ((c = getopt(argc, argv, "cn:i:T:t:r:s:o:")) != -1) {
		switch (c) {
		case 'c': o->connect_only = true; break;
		case 'n': o->n = atoi(optarg); break;
		case 'i': o->interval_ms = atoi(optarg); break;
		case 'T': o->timeout_ms = atoi(optarg); break;
		case 't': o->max_s = atoi(optarg); break;
		case 'r': o->ready = optarg; break;
		case 's': o->stop = optarg; break;
		case 'o': o->report = optarg; break;
		default: usage();
		}
	}
	if (argc - optind != 2 || o->n < 1 || o->interval_ms < 1 || o->timeout_ms < 1 || o->max_s < 1)
		usage();
	o->addr = argv[optind];
	o->port = argv[optind + 1];
}

int main(int argc, char **argv)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV };
	struct addrinfo *ai;
	struct rlimit rl;
	struct opts o;

	parse_opts(argc, argv, &o);
	if (getaddrinfo(o.addr, o.port, &hints, &ai) != 0) {
		fprintf(stderr, "hold: not an address and port: %s %s\n", o.addr, o.port);
		return 2;
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	return o.connect_only ? connect_only(&o, ai) : hold(&o, ai);
}
