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

struct probes {
	sd_event *loop;
	CURLM *multi;
	sd_event_source *curl_timer;
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
	sd_event_source *timer;		/* tcp: the deadline; also a deferred failure */
	char failed[PROBE_REASON_MAX];	/* tcp: a failure to report from the timer */
	int fd;				/* tcp */
	sd_event_source *io;		/* tcp */
	CURL *easy;			/* http(s) */
	struct curl_slist *resolve;
	char err[CURL_ERROR_SIZE];
};

static void finish(struct probe *p, bool ok, const char *reason)
{
	__u64 us = clock_mono_us() - p->started_us;

	if (p->io)
		p->io = sd_event_source_disable_unref(p->io);
	if (p->fd >= 0) {
		close(p->fd);
		p->fd = -1;
	}
	sd_event_source_set_enabled(p->timer, SD_EVENT_OFF);
	p->busy = false;
	p->done(p, ok, reason, us > 0xffffffffULL ? 0xffffffffU : (__u32)us, p->data);
}

static void timeout_reason(const struct probe *p, char *buf, size_t len)
{
	snprintf(buf, len, "timeout after %u ms", p->spec.timeout_ms);
}

/* ------------------------------------------------------------------ */
/* TCP: the handshake completes, or the connection is refused or times out */

static int on_tcp(sd_event_source *s, int fd, uint32_t revents, void *data)
{
	struct probe *p = data;
	char why[PROBE_REASON_MAX];
	socklen_t len = sizeof(int);
	int err = 0;

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len))
		err = errno;
	if (!err) {
		finish(p, true, "ok");
		return 0;
	}
	snprintf(why, sizeof(why), "%s", err == ECONNREFUSED ? "refused" : strerror(err));
	finish(p, false, why);
	return 0;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *data)
{
	struct probe *p = data;
	char why[PROBE_REASON_MAX];

	if (p->failed[0]) {
		snprintf(why, sizeof(why), "%s", p->failed);
		p->failed[0] = '\0';
	} else {
		timeout_reason(p, why, sizeof(why));
	}
	finish(p, false, why);
	return 0;
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

/* A tunnel probe's socket: marked for lb_probe and bound to the interface
 * it sits on, before it connects. 0 or -errno. */
static int sock_tune(const struct probe *p, int fd)
{
	int mss = PROBE_TUNNEL_MSS;

	if (p->spec.mark &&
	    (setsockopt(fd, SOL_SOCKET, SO_MARK, &p->spec.mark, sizeof(p->spec.mark)) ||
	     setsockopt(fd, IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof(mss))))
		return -errno;
	if (p->device[0] &&
	    setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, p->device, strlen(p->device) + 1))
		return -errno;
	return 0;
}

/* A failure before the connection exists is reported from the timer, so
 * done is never called from inside probe_start(). */
static void fail_soon(struct probe *p, const char *why)
{
	snprintf(p->failed, sizeof(p->failed), "%s", why);
	sd_event_source_set_time_relative(p->timer, 0);
	sd_event_source_set_enabled(p->timer, SD_EVENT_ONESHOT);
}

static void tcp_start(struct probe *p)
{
	/* Close with a reset: thousands of probes a second must not fill the
	 * node with TIME_WAIT sockets. */
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	struct sockaddr_storage ss;
	socklen_t sl = sockaddr_of(&p->spec, &ss);
	int af = p->spec.family == LB_FAMILY_IPV4 ? AF_INET : AF_INET6;
	int rc;

	p->fd = socket(af, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (p->fd < 0) {
		fail_soon(p, strerror(errno));
		return;
	}
	setsockopt(p->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	rc = sock_tune(p, p->fd);
	if (rc) {
		fail_soon(p, strerror(-rc));
		return;
	}
	if (connect(p->fd, (struct sockaddr *)&ss, sl) && errno != EINPROGRESS) {
		fail_soon(p, errno == ECONNREFUSED ? "refused" : strerror(errno));
		return;
	}
	if (sd_event_add_io(p->ps->loop, &p->io, p->fd, EPOLLOUT, on_tcp, p) < 0) {
		fail_soon(p, "cannot watch the socket");
		return;
	}
	sd_event_source_set_time_relative(p->timer, (__u64)p->spec.timeout_ms * 1000);
	sd_event_source_set_enabled(p->timer, SD_EVENT_ONESHOT);
}

/* ------------------------------------------------------------------ */
/* HTTP(S): libcurl's multi interface on the loop */

static void curl_results(struct probes *ps);

static int on_curl_io(sd_event_source *s, int fd, uint32_t revents, void *data)
{
	struct probes *ps = data;
	int flags = 0, running;

	if (revents & EPOLLIN)
		flags |= CURL_CSELECT_IN;
	if (revents & EPOLLOUT)
		flags |= CURL_CSELECT_OUT;
	if (revents & (EPOLLERR | EPOLLHUP))
		flags |= CURL_CSELECT_ERR;
	curl_multi_socket_action(ps->multi, fd, flags, &running);
	curl_results(ps);
	return 0;
}

/* libcurl says which of its sockets to watch for what. */
static int curl_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct probes *ps = userp;
	sd_event_source *src = socketp;
	__u32 ev = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);

	if (what == CURL_POLL_REMOVE) {
		sd_event_source_disable_unref(src);
		curl_multi_assign(ps->multi, s, NULL);
		return 0;
	}
	if (src)
		return sd_event_source_set_io_events(src, ev) < 0 ? -1 : 0;
	if (sd_event_add_io(ps->loop, &src, s, ev, on_curl_io, ps) < 0)
		return -1;
	curl_multi_assign(ps->multi, s, src);
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
	CURLMsg *m;
	long status;
	int left;

	while ((m = curl_multi_info_read(ps->multi, &left))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&p);
		curl_multi_remove_handle(ps->multi, m->easy_handle);
		status = 0;
		curl_easy_getinfo(p->easy, CURLINFO_RESPONSE_CODE, &status);
		if (m->data.result == CURLE_OK && status == p->spec.status) {
			finish(p, true, "ok");
			continue;
		}
		http_reason(p, m->data.result, why, sizeof(why));
		finish(p, false, why);
	}
}

static size_t discard(char *ptr, size_t size, size_t n, void *data)
{
	return size * n;
}

static int curl_sockopt(void *data, curl_socket_t fd, curlsocktype purpose)
{
	return sock_tune(data, fd) ? CURL_SOCKOPT_ERROR : CURL_SOCKOPT_OK;
}

/* The request goes to the backend's address; with a host, the URL names
 * the host (Host header, SNI, the name a certificate is checked against)
 * and CONNECT_TO sends it to the address all the same. */
static int http_setup(struct probe *p)
{
	const struct probe_spec *sp = &p->spec;
	char url[600], addr[INET6_ADDRSTRLEN + 2], ip[INET6_ADDRSTRLEN], conn[600];
	const char *scheme = sp->type == CONFIG_HC_HTTPS ? "https" : "http";

	p->easy = curl_easy_init();
	if (!p->easy)
		return -ENOMEM;
	inet_ntop(sp->family == LB_FAMILY_IPV4 ? AF_INET : AF_INET6, sp->addr, ip, sizeof(ip));
	snprintf(addr, sizeof(addr), sp->family == LB_FAMILY_IPV6 ? "[%s]" : "%s", ip);
	snprintf(url, sizeof(url), "%s://%s:%u%s", scheme, p->host[0] ? p->host : addr, sp->port,
		 p->path);
	if (p->host[0]) {
		snprintf(conn, sizeof(conn), "%s:%u:%s:%u", p->host, sp->port, addr, sp->port);
		p->resolve = curl_slist_append(NULL, conn);
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

static void http_start(struct probe *p)
{
	p->err[0] = '\0';
	if (curl_multi_add_handle(p->ps->multi, p->easy) != CURLM_OK)
		fail_soon(p, "cannot start the request");
}

/* ------------------------------------------------------------------ */

struct probes *probes_new(sd_event *loop)
{
	static bool curl_ready;
	struct probes *ps = calloc(1, sizeof(*ps));

	if (!ps)
		return NULL;
	if (!curl_ready && curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK)
		curl_ready = true;
	ps->loop = loop;
	ps->multi = curl_ready ? curl_multi_init() : NULL;
	if (!ps->multi ||
	    sd_event_add_time_relative(loop, &ps->curl_timer, CLOCK_MONOTONIC, 0, 0,
				       on_curl_timer, ps) < 0) {
		probes_free(ps);
		errno = ENOMEM;
		return NULL;
	}
	sd_event_source_set_enabled(ps->curl_timer, SD_EVENT_OFF);
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
	free(ps);
}

struct probe *probe_new(struct probes *ps, const struct probe_spec *spec, probe_done_fn done,
			void *data)
{
	struct probe *p = calloc(1, sizeof(*p));
	bool http = spec->type == CONFIG_HC_HTTP || spec->type == CONFIG_HC_HTTPS;

	if (!p)
		return NULL;
	p->ps = ps;
	p->spec = *spec;
	p->fd = -1;
	p->done = done;
	p->data = data;
	snprintf(p->path, sizeof(p->path), "%s", spec->path ? spec->path : "/");
	snprintf(p->host, sizeof(p->host), "%s", spec->host ? spec->host : "");
	snprintf(p->device, sizeof(p->device), "%s", spec->device ? spec->device : "");
	p->spec.path = p->path;
	p->spec.host = p->host;
	p->spec.device = p->device[0] ? p->device : NULL;
	if (sd_event_add_time_relative(ps->loop, &p->timer, CLOCK_MONOTONIC, 0, 0, on_timer, p) <
		    0 ||
	    sd_event_source_set_enabled(p->timer, SD_EVENT_OFF) < 0 || (http && http_setup(p))) {
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
	sd_event_source_disable_unref(p->io);
	sd_event_source_disable_unref(p->timer);
	if (p->fd >= 0)
		close(p->fd);
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
		http_start(p);
	else
		tcp_start(p);
	return 0;
}
