// SPDX-License-Identifier: GPL-2.0-only
#include "probe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <curl/curl.h>

#include "clock.h"
#include "lb_abi.h"
#include "timeq.h"

/*
 * The sockets of the probes in flight are not sources of the loop each:
 * sd-event dispatches one source per iteration and, every iteration, asks
 * epoll for every ready one again, so thousands of ready sockets cost
 * thousands of polls per socket served, and a loop with 10,000 probes a
 * second fell behind for good (docs/performance.md). Each kind keeps its
 * sockets in an epoll set of its own, which is one source of the loop, and
 * serves a batch of them per dispatch.
 */
struct probe_set {
	int ep;				/* the epoll set */
	sd_event_source *src;		/* it, on the loop */
};

#define PROBE_BATCH	64		/* sockets served per epoll_wait() */
#define PROBE_HEAD_MAX	32		/* bytes of an HTTP answer read: its status line's start */
#define PROBE_BATCHES	16		/* batches per dispatch, then others' turn */

struct probes {
	sd_event *loop;
	CURLM *multi;
	sd_event_source *curl_timer;
	struct probe_set conn;		/* tcp and http; event data: the struct probe */
	struct probe_set curl;		/* https; event data: the socket */
	/* The probes' deadlines and deferred failures, with one loop timer
	 * at the earliest: a timer per probe cost sd-event a queue update
	 * and often a timerfd_settime() per probe. */
	struct timeq deadlines;
	sd_event_source *deadline_timer;
	size_t n_probes;		/* room in deadlines is kept for each */
};

struct probe {
	struct probes *ps;
	struct probe_spec spec;
	char path[CONFIG_HC_PATH_MAX + 1];
	char host[CONFIG_HC_HOST_MAX + 1];
	char device[IFNAMSIZ];
	probe_done_fn done;
	void *data;
	bool busy;
	__u64 started_us;
	struct timeq_slot deadline;	/* tcp, http: the timeout; a deferred failure: now */
	char failed[PROBE_REASON_MAX];	/* a failure to report at the deadline */
	int fd;				/* tcp, http: kept, in ps->conn, from the first probe on */
	char *req;			/* http: the request */
	size_t req_len;
	bool sent;			/* http: the request is out */
	char head[PROBE_HEAD_MAX];	/* http: the answer's first bytes */
	size_t head_len;
	bool interim;			/* http: dropping a 1xx answer's head */
	bool interim_nl;		/* ... whose last byte ended a line */
	CURL *easy;			/* https */
	struct curl_slist *resolve;
	char err[CURL_ERROR_SIZE];
};

/*
 * The end of a connection probe, whatever it found: connect(AF_UNSPEC)
 * resets an open connection (an RST, so no TIME_WAIT is left behind, not
 * even at thousands of probes a second), aborts a handshake in flight and
 * leaves the socket as new, still in the epoll set, for the next probe. A
 * new socket per probe cost a socket(), a setsockopt(), an epoll_ctl() and
 * a close() more: twice the system time (docs/performance.md).
 */
static void conn_reset(struct probe *p)
{
	struct sockaddr none = { .sa_family = AF_UNSPEC };

	if (p->fd >= 0)
		connect(p->fd, &none, sizeof(none));
}

static void finish(struct probe *p, bool ok, const char *reason)
{
	__u64 us = clock_mono_us() - p->started_us;

	conn_reset(p);
	timeq_del(&p->ps->deadlines, &p->deadline);
	p->busy = false;
	p->done(p, ok, reason, us > 0xffffffffULL ? 0xffffffffU : (__u32)us, p->data);
}

static void timeout_reason(const struct probe *p, char *buf, size_t len)
{
	snprintf(buf, len, "timeout after %u ms", p->spec.timeout_ms);
}

/* ------------------------------------------------------------------ */
/* TCP: the handshake completes, or the connection is refused or times out */

/* Serve what the set has ready, batch by batch, with serve(ps, event). */
static int set_serve(struct probes *ps, const struct probe_set *set,
		     void (*serve)(struct probes *ps, const struct epoll_event *ev))
{
	struct epoll_event evs[PROBE_BATCH];
	int b, i, n = PROBE_BATCH;

	for (b = 0; b < PROBE_BATCHES && n == PROBE_BATCH; b++) {
		n = epoll_wait(set->ep, evs, PROBE_BATCH, 0);
		for (i = 0; i < n; i++)
			serve(ps, &evs[i]);
	}
	return 0;
}

static void fail_errno(struct probe *p, int err)
{
	char why[PROBE_REASON_MAX];

	snprintf(why, sizeof(why), "%s", err == ECONNREFUSED ? "refused" : strerror(err));
	finish(p, false, why);
}

/* The socket's error; only a failure sets EPOLLERR or EPOLLHUP, so only a
 * failure costs a getsockopt(). */
static int conn_error(const struct probe *p, __u32 events)
{
	socklen_t len = sizeof(int);
	int err = 0;

	if (!(events & (EPOLLERR | EPOLLHUP)))
		return 0;
	if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &len))
		return errno;
	return err ? err : ECONNRESET;	/* hung up without an error: no success either */
}

/* http: the request goes out once, as soon as the connection is up. */
static void http_send(struct probe *p)
{
	ssize_t n = send(p->fd, p->req, p->req_len, MSG_NOSIGNAL | MSG_DONTWAIT);

	if (n < 0)
		fail_errno(p, errno);
	else if ((size_t)n < p->req_len)
		finish(p, false, "cannot send the request");
	else
		p->sent = true;
}

/* http: what the answer's status line says, once it is in (status > 0)
 * or cannot come (0). */
static void http_verdict(struct probe *p, int status)
{
	char why[PROBE_REASON_MAX];

	if (status <= 0) {
		finish(p, false, p->head_len ? "not an HTTP answer" : "closed without an answer");
		return;
	}
	if (status == p->spec.status) {
		finish(p, true, "ok");
		return;
	}
	snprintf(why, sizeof(why), "status %d", status);
	finish(p, false, why);
}

/* An interim answer (100 Continue, 103 Early Hints) comes before the
 * answer; 101 is final, and no probe asks for it. */
static bool http_interim(int status)
{
	return status >= 100 && status < 200 && status != 101;
}

/* http: the status in p->head, past the interim answers before it, whose
 * heads are dropped as they come; as probe_http_status(). */
static int http_head_status(struct probe *p)
{
	long end;
	int status;

	for (;;) {
		if (p->interim) {
			end = probe_http_head_end(p->head, p->head_len, &p->interim_nl);
			if (end < 0) {
				p->head_len = 0;
				return 0;
			}
			p->head_len -= (size_t)end;
			memmove(p->head, p->head + end, p->head_len);
			p->interim = false;
		}
		status = probe_http_status(p->head, p->head_len);
		if (!http_interim(status))
			return status;
		p->interim = true;
		p->interim_nl = false;
	}
}

/* http: the answer's status line, read as it comes. The socket is
 * edge-triggered: read until it has no more, or a short answer and its
 * close, come in one wake-up, would wait for the deadline. */
static void http_read(struct probe *p, __u32 events)
{
	ssize_t n;
	int status, err;

	for (;;) {
		n = recv(p->fd, p->head + p->head_len, sizeof(p->head) - p->head_len,
			 MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			err = conn_error(p, events);
			if (err)
				fail_errno(p, err);
			return;	/* more to come */
		}
		if (n < 0) {
			fail_errno(p, errno);
			return;
		}
		p->head_len += (size_t)n;
		status = http_head_status(p);
		if (status != 0 || n == 0 || p->head_len == sizeof(p->head))
			break;
	}
	http_verdict(p, status);
}

/* A connection probe's socket is ready: connected (tcp: done; http: send),
 * failed, or answered. A reset wakes the socket too: that is no answer to
 * anything, and neither is a wake-up while a failure waits to be told. */
static void conn_serve(struct probes *ps, const struct epoll_event *ev)
{
	struct probe *p = ev->data.ptr;
	int err;

	if (!p->busy || p->failed[0])
		return;
	if (p->sent) {
		http_read(p, ev->events);
		return;
	}
	err = conn_error(p, ev->events);
	if (err)
		fail_errno(p, err);
	else if (!p->req)
		finish(p, true, "ok");
	else
		http_send(p);
}

static int on_conn(sd_event_source *s, int fd, uint32_t revents, void *data)
{
	return set_serve(data, &((struct probes *)data)->conn, conn_serve);
}

/* The loop timer waits for the earliest deadline. It is not moved back
 * when a probe ends early: it then fires for nothing and sleeps on. */
static void deadline_arm(struct probes *ps)
{
	timeq_arm(&ps->deadlines, ps->deadline_timer);
}

static void deadline_set(struct probe *p, __u64 due_us)
{
	struct probes *ps = p->ps;

	timeq_del(&ps->deadlines, &p->deadline);
	p->deadline.due_us = due_us;
	timeq_add(&ps->deadlines, &p->deadline);	/* cannot fail: probe_new() made room */
	if (timeq_first(&ps->deadlines) == &p->deadline)
		deadline_arm(ps);
}

/* A timeout, or a failure probe_start() could not report itself. */
static void expire(struct probe *p)
{
	char why[PROBE_REASON_MAX];

	if (p->failed[0]) {
		snprintf(why, sizeof(why), "%s", p->failed);
		p->failed[0] = '\0';
	} else {
		timeout_reason(p, why, sizeof(why));
	}
	finish(p, false, why);
}

static int on_deadline(sd_event_source *s, uint64_t usec, void *data)
{
	struct probes *ps = data;
	__u64 now = clock_mono_us();
	struct timeq_slot *e;

	/* finish() takes each out of the queue. */
	while ((e = timeq_first(&ps->deadlines)) && e->due_us <= now)
		expire(e->data);
	deadline_arm(ps);
	return 0;
}

/* "198.18.3.1", "[fd00::1]": as a URL or a Host header writes it. */
static void addr_text(const struct probe_spec *sp, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	inet_ntop(sp->family == LB_FAMILY_IPV4 ? AF_INET : AF_INET6, sp->addr, ip, sizeof(ip));
	snprintf(buf, len, sp->family == LB_FAMILY_IPV6 ? "[%s]" : "%s", ip);
}

int probe_http_request(const struct probe_spec *sp, char *buf, size_t len)
{
	char addr[INET6_ADDRSTRLEN + 2], port[8] = "";
	int n;

	addr_text(sp, addr, sizeof(addr));
	if (sp->port != 80)
		snprintf(port, sizeof(port), ":%u", sp->port);
	n = snprintf(buf, len,
		     "GET %s HTTP/1.1\r\nHost: %s%s\r\nUser-Agent: sluice-lbd/" LB_VERSION
		     "\r\nAccept: */*\r\nConnection: close\r\n\r\n",
		     sp->path && sp->path[0] ? sp->path : "/",
		     sp->host && sp->host[0] ? sp->host : addr, port);
	return n < 0 || (size_t)n >= len ? -1 : n;
}

int probe_http_status(const char *buf, size_t len)
{
	static const char want[] = "HTTP/1.x NNN";
	size_t i;

	for (i = 0; i < len && i < sizeof(want) - 1; i++) {
		bool ok = want[i] == 'x' || want[i] == 'N' ? buf[i] >= '0' && buf[i] <= '9' :
							     buf[i] == want[i];

		if (!ok)
			return -1;
	}
	if (i < sizeof(want) - 1)
		return 0;
	if (len > i && buf[i] >= '0' && buf[i] <= '9')
		return -1;	/* a fourth digit */
	return (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
}

long probe_http_head_end(const char *buf, size_t len, bool *nl)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (buf[i] == '\n') {
			if (*nl)
				return (long)i + 1;
			*nl = true;
		} else if (buf[i] != '\r') {
			*nl = false;
		}
	}
	return -1;
}

static socklen_t sockaddr_of(const struct probe_spec *sp, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (sp->family == LB_FAMILY_IPV4) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;

		in->sin_family = AF_INET;
		in->sin_port = htons(sp->port);
		in->sin_addr.s_addr = sp->addr[0];
		return sizeof(*in);
	}
	((struct sockaddr_in6 *)ss)->sin6_family = AF_INET6;
	((struct sockaddr_in6 *)ss)->sin6_port = htons(sp->port);
	memcpy(&((struct sockaddr_in6 *)ss)->sin6_addr, sp->addr, 16);
	return sizeof(struct sockaddr_in6);
}

/* A tunnel probe's segments stay well inside any tunnel MTU (IPv6's 1280,
 * less two IPv6 headers and TCP options): lb_probe drops a packet that
 * would not fit rather than send it bare. */
#define PROBE_TUNNEL_MSS	1000

/*
 * A tunnel probe's socket is bound to the interface lb_probe sits on, once,
 * when it is made: binding a socket that is bound already takes
 * CAP_NET_RAW, which lbd.service does not give, and the reset that ends a
 * probe keeps the binding. 0 or -errno.
 */
static int sock_bind(const struct probe *p, int fd)
{
	if (p->device[0] &&
	    setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, p->device, strlen(p->device) + 1))
		return -errno;
	return 0;
}

/*
 * A tunnel probe's socket is marked for lb_probe before each connect, with
 * its MSS: the reset that ends a probe keeps the mark but forgets the MSS.
 * 0 or -errno.
 */
static int sock_tune(const struct probe *p, int fd)
{
	int mss = PROBE_TUNNEL_MSS;

	if (p->spec.mark &&
	    (setsockopt(fd, SOL_SOCKET, SO_MARK, &p->spec.mark, sizeof(p->spec.mark)) ||
	     setsockopt(fd, IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof(mss))))
		return -errno;
	return 0;
}

/* A failure before the connection exists is reported from the deadline
 * timer, so done is never called from inside probe_start(). */
static void fail_soon(struct probe *p, const char *why)
{
	snprintf(p->failed, sizeof(p->failed), "%s", why);
	deadline_set(p, clock_mono_us());
}

/*
 * The probe's socket, made and put in the epoll set once: edge-triggered,
 * so that an HTTP probe hears of the connection (EPOLLOUT) and later of
 * the answer (EPOLLIN) without changing what it waits for. 0 or -errno.
 */
static int conn_socket(struct probe *p)
{
	int af = p->spec.family == LB_FAMILY_IPV4 ? AF_INET : AF_INET6;
	struct epoll_event ev = { .events = EPOLLOUT | EPOLLET | (p->req ? EPOLLIN : 0),
				  .data.ptr = p };
	int fd, rc;

	if (p->fd >= 0)
		return 0;
	fd = socket(af, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	rc = sock_bind(p, fd);
	if (rc || epoll_ctl(p->ps->conn.ep, EPOLL_CTL_ADD, fd, &ev)) {
		rc = rc ? rc : -errno;
		close(fd);
		return rc;
	}
	p->fd = fd;
	return 0;
}

/* A TCP or HTTP probe: a non-blocking connect. */
static void conn_start(struct probe *p)
{
	struct sockaddr_storage ss;
	socklen_t sl = sockaddr_of(&p->spec, &ss);
	int rc = conn_socket(p);

	p->sent = false;
	p->head_len = 0;
	p->interim = false;
	if (!rc)
		rc = sock_tune(p, p->fd);
	if (rc) {
		fail_soon(p, strerror(-rc));
		return;
	}
	if (connect(p->fd, (struct sockaddr *)&ss, sl) && errno != EINPROGRESS) {
		fail_soon(p, errno == ECONNREFUSED ? "refused" : strerror(errno));
		return;
	}
	deadline_set(p, p->started_us + (__u64)p->spec.timeout_ms * 1000);
}

/* ------------------------------------------------------------------ */
/* HTTP(S): libcurl's multi interface on the loop */

static void curl_results(struct probes *ps);

/* A socket libcurl watches is ready. Within a batch libcurl may close one
 * socket and open another under its number: the stale event then reaches
 * the new socket, which libcurl takes as a spurious wake-up. */
static void curl_serve(struct probes *ps, const struct epoll_event *ev)
{
	int flags = 0, running;

	if (ev->events & EPOLLIN)
		flags |= CURL_CSELECT_IN;
	if (ev->events & EPOLLOUT)
		flags |= CURL_CSELECT_OUT;
	if (ev->events & (EPOLLERR | EPOLLHUP))
		flags |= CURL_CSELECT_ERR;
	curl_multi_socket_action(ps->multi, ev->data.fd, flags, &running);
}

static int on_curl_io(sd_event_source *s, int fd, uint32_t revents, void *data)
{
	struct probes *ps = data;

	set_serve(ps, &ps->curl, curl_serve);
	curl_results(ps);
	return 0;
}

/* libcurl says which of its sockets to watch for what; socketp is
 * non-NULL once the socket is in the set. */
static int curl_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct probes *ps = userp;
	struct epoll_event ev = {
		.events = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0),
		.data.fd = s,
	};

	if (what == CURL_POLL_REMOVE) {
		epoll_ctl(ps->curl.ep, EPOLL_CTL_DEL, s, NULL);
		curl_multi_assign(ps->multi, s, NULL);
		return 0;
	}
	if (epoll_ctl(ps->curl.ep, socketp ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, s, &ev))
		return -1;
	curl_multi_assign(ps->multi, s, ps);
	return 0;
}

static int on_curl_timer(sd_event_source *s, uint64_t usec, void *data)
{
	struct probes *ps = data;
	int running;

	curl_multi_socket_action(ps->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	curl_results(ps);
	return 0;
}

/* libcurl asks to be woken after timeout_ms (-1: not at all). */
static int curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
	struct probes *ps = userp;

	if (timeout_ms < 0)
		return sd_event_source_set_enabled(ps->curl_timer, SD_EVENT_OFF) < 0 ? -1 : 0;
	sd_event_source_set_time_relative(ps->curl_timer, (__u64)timeout_ms * 1000);
	return sd_event_source_set_enabled(ps->curl_timer, SD_EVENT_ONESHOT) < 0 ? -1 : 0;
}

static void http_reason(struct probe *p, CURLcode rc, char *why, size_t len)
{
	long status = 0, oserr = 0;

	curl_easy_getinfo(p->easy, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(p->easy, CURLINFO_OS_ERRNO, &oserr);
	if (rc == CURLE_OK)
		snprintf(why, len, "status %ld", status);
	else if (rc == CURLE_OPERATION_TIMEDOUT)
		timeout_reason(p, why, len);
	else if (rc == CURLE_COULDNT_CONNECT && oserr == ECONNREFUSED)
		snprintf(why, len, "refused");
	else if (rc == CURLE_SSL_CONNECT_ERROR || rc == CURLE_PEER_FAILED_VERIFICATION ||
		 rc == CURLE_SSL_CERTPROBLEM || rc == CURLE_SSL_CACERT_BADFILE)
		snprintf(why, len, "tls: %.80s", p->err[0] ? p->err : curl_easy_strerror(rc));
	else
		snprintf(why, len, "%.90s", p->err[0] ? p->err : curl_easy_strerror(rc));
}

static void curl_results(struct probes *ps)
{
	char why[PROBE_REASON_MAX];
	struct probe *p;
	CURLcode rc;
	CURLMsg *m;
	long status;
	int left;

	while ((m = curl_multi_info_read(ps->multi, &left))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		/* The message is libcurl's only until the handle leaves. */
		rc = m->data.result;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&p);
		curl_multi_remove_handle(ps->multi, p->easy);
		status = 0;
		curl_easy_getinfo(p->easy, CURLINFO_RESPONSE_CODE, &status);
		if (rc == CURLE_OK && status == p->spec.status) {
			finish(p, true, "ok");
			continue;
		}
		http_reason(p, rc, why, sizeof(why));
		finish(p, false, why);
	}
}

static size_t discard(char *ptr, size_t size, size_t n, void *data)
{
	return size * n;
}

static int curl_sockopt(void *data, curl_socket_t fd, curlsocktype purpose)
{
	return sock_bind(data, fd) || sock_tune(data, fd) ? CURL_SOCKOPT_ERROR : CURL_SOCKOPT_OK;
}

/* The request goes to the backend's address; with a host, the URL names
 * the host (Host header, SNI, the name a certificate is checked against)
 * and CONNECT_TO sends it to the address all the same. */
static int https_setup(struct probe *p)
{
	const struct probe_spec *sp = &p->spec;
	char url[600], addr[INET6_ADDRSTRLEN + 2], conn[600];
	const char *scheme = "https";

	p->easy = curl_easy_init();
	if (!p->easy)
		return -ENOMEM;
	addr_text(sp, addr, sizeof(addr));
	snprintf(url, sizeof(url), "%s://%s:%u%s", scheme, p->host[0] ? p->host : addr, sp->port,
		 p->path);
	if (p->host[0]) {
		snprintf(conn, sizeof(conn), "%s:%u:%s:%u", p->host, sp->port, addr, sp->port);
		p->resolve = curl_slist_append(NULL, conn);
		/* Without it the URL's host would be looked up: another machine. */
		if (!p->resolve)
			return -ENOMEM;
		curl_easy_setopt(p->easy, CURLOPT_CONNECT_TO, p->resolve);
	}
	curl_easy_setopt(p->easy, CURLOPT_URL, url);
	curl_easy_setopt(p->easy, CURLOPT_PRIVATE, p);
	curl_easy_setopt(p->easy, CURLOPT_ERRORBUFFER, p->err);
	curl_easy_setopt(p->easy, CURLOPT_TIMEOUT_MS, (long)sp->timeout_ms);
	curl_easy_setopt(p->easy, CURLOPT_NOSIGNAL, 1L);
	/* A fresh connection each time: a reused one says nothing of whether
	 * the backend accepts new ones. */
	curl_easy_setopt(p->easy, CURLOPT_FORBID_REUSE, 1L);
	curl_easy_setopt(p->easy, CURLOPT_FRESH_CONNECT, 1L);
	curl_easy_setopt(p->easy, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(p->easy, CURLOPT_SOCKOPTFUNCTION, curl_sockopt);
	curl_easy_setopt(p->easy, CURLOPT_SOCKOPTDATA, p);
	curl_easy_setopt(p->easy, CURLOPT_USERAGENT, "sluice-lbd/" LB_VERSION);
	curl_easy_setopt(p->easy, CURLOPT_SSL_VERIFYPEER, sp->tls_verify ? 1L : 0L);
	curl_easy_setopt(p->easy, CURLOPT_SSL_VERIFYHOST, sp->tls_verify ? 2L : 0L);
	curl_easy_setopt(p->easy, CURLOPT_PROTOCOLS_STR, scheme);
	return 0;
}

static void https_start(struct probe *p)
{
	p->err[0] = '\0';
	if (curl_multi_add_handle(p->ps->multi, p->easy) != CURLM_OK)
		fail_soon(p, "cannot start the request");
}

/* ------------------------------------------------------------------ */

/*
 * Ready sockets go before every timer: a loop that runs late must not see
 * a probe's deadline before the answer that came in time, or a busy lbd
 * would take healthy backends down (and then have more work, not less).
 */
static int set_open(struct probes *ps, struct probe_set *set, sd_event_io_handler_t on_ready)
{
	int rc;

	set->ep = epoll_create1(EPOLL_CLOEXEC);
	if (set->ep < 0)
		return -errno;
	rc = sd_event_add_io(ps->loop, &set->src, set->ep, EPOLLIN, on_ready, ps);
	return rc < 0 ? rc : sd_event_source_set_priority(set->src, SD_EVENT_PRIORITY_IMPORTANT);
}

static void set_close(struct probe_set *set)
{
	sd_event_source_disable_unref(set->src);
	if (set->ep >= 0)
		close(set->ep);
}

struct probes *probes_new(sd_event *loop)
{
	static bool curl_ready;
	struct probes *ps = calloc(1, sizeof(*ps));

	if (!ps)
		return NULL;
	if (!curl_ready && curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK)
		curl_ready = true;
	ps->loop = loop;
	ps->conn.ep = ps->curl.ep = -1;
	ps->multi = curl_ready ? curl_multi_init() : NULL;
	if (!ps->multi ||
	    /* Accuracy 1 ms, as the deadlines': 0 would be sd-event's default
	     * of 250 ms, late by up to that much on an https timeout. */
	    sd_event_add_time_relative(loop, &ps->curl_timer, CLOCK_MONOTONIC, 0, 1000,
				       on_curl_timer, ps) < 0 ||
	    sd_event_add_time(loop, &ps->deadline_timer, CLOCK_MONOTONIC, 0, 1000, on_deadline,
			      ps) < 0 ||
	    set_open(ps, &ps->conn, on_conn) < 0 || set_open(ps, &ps->curl, on_curl_io) < 0) {
		probes_free(ps);
		errno = ENOMEM;
		return NULL;
	}
	sd_event_source_set_enabled(ps->curl_timer, SD_EVENT_OFF);
	sd_event_source_set_enabled(ps->deadline_timer, SD_EVENT_OFF);
	curl_multi_setopt(ps->multi, CURLMOPT_SOCKETFUNCTION, curl_socket);
	curl_multi_setopt(ps->multi, CURLMOPT_SOCKETDATA, ps);
	curl_multi_setopt(ps->multi, CURLMOPT_TIMERFUNCTION, curl_timer);
	curl_multi_setopt(ps->multi, CURLMOPT_TIMERDATA, ps);
	return ps;
}

void probes_free(struct probes *ps)
{
	if (!ps)
		return;
	if (ps->multi)
		curl_multi_cleanup(ps->multi);
	sd_event_source_disable_unref(ps->curl_timer);
	sd_event_source_disable_unref(ps->deadline_timer);
	timeq_free(&ps->deadlines);
	set_close(&ps->conn);
	set_close(&ps->curl);
	free(ps);
}

struct probe *probe_new(struct probes *ps, const struct probe_spec *spec, probe_done_fn done,
			void *data)
{
	struct probe *p = calloc(1, sizeof(*p));
	char req[PROBE_REQUEST_MAX];
	int n;

	if (!p)
		return NULL;
	p->ps = ps;
	p->spec = *spec;
	p->fd = -1;
	p->deadline.pos = SIZE_MAX;
	p->deadline.data = p;
	ps->n_probes++;		/* probe_free() counts it out */
	p->done = done;
	p->data = data;
	snprintf(p->path, sizeof(p->path), "%s", spec->path ? spec->path : "/");
	snprintf(p->host, sizeof(p->host), "%s", spec->host ? spec->host : "");
	snprintf(p->device, sizeof(p->device), "%s", spec->device ? spec->device : "");
	p->spec.path = p->path;
	p->spec.host = p->host;
	p->spec.device = p->device[0] ? p->device : NULL;
	if (spec->type == CONFIG_HC_HTTP) {
		n = probe_http_request(&p->spec, req, sizeof(req));
		p->req = n > 0 ? strdup(req) : NULL;
		p->req_len = n > 0 ? (size_t)n : 0;
	}
	if (timeq_reserve(&ps->deadlines, ps->n_probes) ||
	    (spec->type == CONFIG_HC_HTTP && !p->req) ||
	    (spec->type == CONFIG_HC_HTTPS && https_setup(p))) {
		probe_free(p);
		errno = ENOMEM;
		return NULL;
	}
	return p;
}

void probe_free(struct probe *p)
{
	if (!p)
		return;
	if (p->easy) {
		if (p->busy)
			curl_multi_remove_handle(p->ps->multi, p->easy);
		curl_easy_cleanup(p->easy);
	}
	curl_slist_free_all(p->resolve);
	p->ps->n_probes--;
	timeq_del(&p->ps->deadlines, &p->deadline);
	if (p->fd >= 0)
		close(p->fd);
	free(p->req);
	free(p);
}

void probe_mark_set(struct probe *p, __u32 mark)
{
	p->spec.mark = mark;
}

int probe_start(struct probe *p)
{
	if (p->busy)
		return -EBUSY;
	p->busy = true;
	p->started_us = clock_mono_us();
	if (p->easy)
		https_start(p);
	else
		conn_start(p);
	return 0;
}
