// SPDX-License-Identifier: GPL-2.0-only
#include "control.h"

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "clock.h"
#include "log.h"

#define OUT_MAX		(256 * 1024 * 1024)	/* a reply larger than this is an error */

struct client {
	struct control *c;
	int fd;
	sd_event_source *io;
	sd_event_source *timer;	/* stall and idle timeouts; drain --wait polls */
	char in[CONTROL_REQUEST_MAX];
	size_t in_len;
	char *out;		/* one reply at a time */
	size_t out_len, out_off;
	bool read_ok;		/* root or the control group */
	bool admin;		/* root or the admin group */
	bool closing;		/* close once the reply is out */
	bool discarding;	/* reply out: reading what is left, then closing */
	bool waiting;		/* a drain --wait owes its reply */
	bool sent_all;		/* it shut its sending side down (its replies still go out) */
	__u64 stall_from_us;	/* when the unfinished request began; 0: none */
	int passed_fd;		/* a file sent with the request (SCM_RIGHTS), or -1 */
	struct ctl_wait wait;
	char who[64];
	struct client *next;
};

struct control {
	sd_event *loop;
	int fd;
	sd_event_source *listen;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	bool bound;		/* the path is ours to remove */
	struct control_access acc;
	struct ctl_env env;
	struct client *clients;
	size_t n_clients;
};

/* ------------------------------------------------------------------ */
/* Clients */

static void client_free(struct client *cl)
{
	struct client **p;

	for (p = &cl->c->clients; *p; p = &(*p)->next) {
		if (*p == cl) {
			*p = cl->next;
			break;
		}
	}
	cl->c->n_clients--;
	sd_event_source_disable_unref(cl->io);
	sd_event_source_disable_unref(cl->timer);
	close(cl->fd);
	if (cl->passed_fd >= 0)
		close(cl->passed_fd);
	free(cl->out);
	free(cl);
}

static void timer_set(struct client *cl, __u64 usec)
{
	sd_event_source_set_time_relative(cl->timer, usec);
	sd_event_source_set_enabled(cl->timer, SD_EVENT_ONESHOT);
}

/* What the client may be woken for: its reply going out, or its next
 * request; a waiting one only for hanging up. */
static void client_arm(struct client *cl)
{
	__u32 ev = EPOLLIN;

	if (cl->out_len)
		ev = EPOLLOUT;
	else if (cl->waiting)
		ev = cl->sent_all ? 0 : EPOLLRDHUP;	/* a close still shows as EPOLLHUP */
	sd_event_source_set_io_events(cl->io, ev);
	if (cl->waiting)
		return;
	if (!cl->in_len && !cl->discarding) {
		cl->stall_from_us = 0;
		timer_set(cl, CONTROL_IDLE_S * 1000000ULL);
		return;
	}
	/* From the request's first byte, not its latest: a byte every few
	 * seconds must not keep a half request, and its slot, for ever. */
	if (!cl->stall_from_us)
		cl->stall_from_us = clock_mono_us();
	sd_event_source_set_time(cl->timer, cl->stall_from_us + CONTROL_STALL_S * 1000000ULL);
	sd_event_source_set_enabled(cl->timer, SD_EVENT_ONESHOT);
}

/* Queue a reply and write what the socket takes now. */
static void reply_send(struct client *cl, json_t *reply)
{
	char *text = json_dumps(reply, JSON_COMPACT);
	size_t len = text ? strlen(text) : 0;
	ssize_t n;

	json_decref(reply);
	if (!text || len + 1 > OUT_MAX) {
		free(text);
		text = strdup("{\"ok\":false,\"error\":\"the reply is too large\",\"code\":\"failed\"}");
		len = text ? strlen(text) : 0;
	}
	free(cl->out);
	cl->out = text;
	cl->out_len = text ? len + 1 : 0;
	cl->out_off = 0;
	if (text)
		text[len] = '\n';	/* the terminating NUL becomes the newline */
	n = cl->out_len ? send(cl->fd, cl->out, cl->out_len, MSG_NOSIGNAL) : 0;
	if (n > 0)
		cl->out_off = (size_t)n;
	if (cl->out_off == cl->out_len) {
		free(cl->out);
		cl->out = NULL;
		cl->out_len = cl->out_off = 0;
	}
}

static void reply_error(struct client *cl, enum ctl_code code, const char *msg)
{
	struct ctl_reply r = { .code = code };

	snprintf(r.msg, sizeof(r.msg), "%s", msg);
	reply_send(cl, ctl_reply_json(&r));
}

static void wait_poll(struct client *cl)
{
	struct ctl_reply r;

	if (!ctl_wait_poll(&cl->c->env, &cl->wait, clock_wall_ms(), &r)) {
		timer_set(cl, CONTROL_WAIT_POLL_MS * 1000ULL);
		return;
	}
	cl->waiting = false;
	reply_send(cl, ctl_reply_json(&r));
}

static void request_run(struct client *cl, const char *line, size_t len)
{
	struct ctl_reply r;
	json_error_t je;
	json_t *req;

	if (!cl->read_ok) {
		reply_error(cl, CTL_PERMISSION, "permission denied: the control socket is for "
			    "root and the control_group");
		cl->closing = true;
		return;
	}
	req = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
	if (!req) {
		char msg[CTL_MSG_MAX];

		snprintf(msg, sizeof(msg), "not JSON: column %d: %s", je.column, je.text);
		reply_error(cl, CTL_BAD_REQUEST, msg);
		return;
	}
	ctl_run(&cl->c->env, req, cl->passed_fd, cl->admin, cl->who, &r, &cl->wait);
	json_decref(req);
	/* A file goes with one request only. */
	if (cl->passed_fd >= 0) {
		close(cl->passed_fd);
		cl->passed_fd = -1;
	}
	if (r.pending) {
		cl->waiting = true;
		wait_poll(cl);
		return;
	}
	reply_send(cl, ctl_reply_json(&r));
}

/* Take complete requests while no reply is owed. */
static void requests_take(struct client *cl)
{
	char *nl;
	size_t len;

	while (!cl->out_len && !cl->waiting && !cl->closing &&
	       (nl = memchr(cl->in, '\n', cl->in_len))) {
		len = (size_t)(nl - cl->in);
		request_run(cl, cl->in, len);
		cl->in_len -= len + 1;
		memmove(cl->in, nl + 1, cl->in_len);
	}
	if (!cl->out_len && !cl->waiting && cl->in_len == sizeof(cl->in)) {
		reply_error(cl, CTL_BAD_REQUEST, "a request is at most 65536 bytes, newline "
			    "included");
		cl->closing = true;
	}
}

/* Keep the last file descriptor a read brought (closing any other): the
 * next request may use it. */
static void fds_take(struct client *cl, struct msghdr *mh)
{
	struct cmsghdr *cm;
	int fd, i, n;

	for (cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		n = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		for (i = 0; i < n; i++) {
			memcpy(&fd, CMSG_DATA(cm) + (size_t)i * sizeof(int), sizeof(fd));
			if (cl->passed_fd >= 0)
				close(cl->passed_fd);
			cl->passed_fd = fd;
		}
	}
}

/* 0 to go on, -1 when the client is gone. */
static int client_read(struct client *cl)
{
	union {
		char buf[CMSG_SPACE(4 * sizeof(int))];
		struct cmsghdr align;
	} ctrl;
	struct iovec iov;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctrl.buf,
			     .msg_controllen = sizeof(ctrl.buf) };
	ssize_t n;

	if (cl->discarding)
		cl->in_len = 0;
	iov.iov_base = cl->in + cl->in_len;
	iov.iov_len = sizeof(cl->in) - cl->in_len;
	n = recvmsg(cl->fd, &mh, MSG_CMSG_CLOEXEC);
	if (n > 0)
		fds_take(cl, &mh);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0)
		return -1;
	cl->in_len += (size_t)n;
	if (!cl->discarding)
		requests_take(cl);
	return 0;
}

/*
 * The last reply is out: say so with a half close, and read the rest of
 * what the client sent until it closes too. Closing with unread data would
 * make the kernel report ECONNRESET to the client ahead of the reply.
 */
static void client_finish(struct client *cl)
{
	shutdown(cl->fd, SHUT_WR);
	cl->discarding = true;
	cl->in_len = 0;
}

static int client_write(struct client *cl)
{
	ssize_t n = send(cl->fd, cl->out + cl->out_off, cl->out_len - cl->out_off, MSG_NOSIGNAL);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n < 0)
		return -1;
	cl->out_off += (size_t)n;
	if (cl->out_off < cl->out_len)
		return 0;
	free(cl->out);
	cl->out = NULL;
	cl->out_len = cl->out_off = 0;
	if (cl->closing)
		client_finish(cl);
	else
		requests_take(cl);
	return 0;
}

static int on_client(sd_event_source *s, int fd, uint32_t revents, void *data)
{
	struct client *cl = data;
	int rc = 0;

	/* A half close while a reply is owed is a client done sending
	 * (nc -N, socat), not one gone: the reply still goes out. */
	if (cl->waiting && (revents & EPOLLRDHUP) && !(revents & (EPOLLERR | EPOLLHUP)))
		cl->sent_all = true;
	else if (revents & (EPOLLERR | EPOLLHUP | EPOLLRDHUP) && !(revents & EPOLLIN))
		rc = -1;
	else if (revents & EPOLLOUT)
		rc = client_write(cl);
	else if (revents & EPOLLIN)
		rc = client_read(cl);
	if (!rc && cl->closing && !cl->out_len && !cl->discarding)
		client_finish(cl);
	if (rc) {
		client_free(cl);
		return 0;
	}
	client_arm(cl);
	return 0;
}

static int on_client_timer(sd_event_source *s, uint64_t usec, void *data)
{
	struct client *cl = data;

	if (cl->waiting) {
		wait_poll(cl);
		/* A request sent behind the drain's is next. */
		if (!cl->waiting && !cl->out_len)
			requests_take(cl);
		client_arm(cl);
		return 0;
	}
	log_debug("control: %s: closed, %s", cl->who,
		  cl->in_len ? "a request was begun and not finished" : "idle");
	client_free(cl);
	return 0;
}

static bool in_group(gid_t want, gid_t gid, const gid_t *groups, int n)
{
	int i;

	if (gid == want)
		return true;
	for (i = 0; i < n; i++)
		if (groups[i] == want)
			return true;
	return false;
}

/* Who the peer is, and what it may do. */
static void client_access(struct client *cl)
{
	const struct control_access *acc = &cl->c->acc;
	gid_t groups[256];
	socklen_t len = sizeof(struct ucred);
	struct ucred cred = { .pid = 0, .uid = (uid_t)-1, .gid = (gid_t)-1 };
	int n = 0;

	getsockopt(cl->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len);
	len = sizeof(groups);
	if (!getsockopt(cl->fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len))
		n = (int)(len / sizeof(gid_t));
	snprintf(cl->who, sizeof(cl->who), "uid %u pid %d", (unsigned int)cred.uid,
		 (int)cred.pid);
	cl->admin = cred.uid == 0 ||
		    (acc->has_admin && in_group(acc->admin, cred.gid, groups, n));
	cl->read_ok = cl->admin || in_group(acc->group, cred.gid, groups, n);
}

static void client_new(struct control *c, int fd)
{
	struct client *cl = calloc(1, sizeof(*cl));

	if (!cl || sd_event_add_io(c->loop, &cl->io, fd, EPOLLIN, on_client, cl) < 0 ||
	    sd_event_add_time_relative(c->loop, &cl->timer, CLOCK_MONOTONIC,
				       CONTROL_IDLE_S * 1000000ULL, 0, on_client_timer, cl) < 0) {
		if (cl) {
			sd_event_source_disable_unref(cl->io);
			free(cl);
		}
		close(fd);
		return;
	}
	cl->c = c;
	cl->fd = fd;
	cl->passed_fd = -1;
	cl->next = c->clients;
	c->clients = cl;
	c->n_clients++;
	client_access(cl);
}

static int on_listen(sd_event_source *s, int fd, uint32_t revents, void *data)
{
	static const char busy[] = "{\"ok\":false,\"error\":\"too many clients\",\"code\":\"failed\"}\n";
	struct control *c = data;
	int cfd;

	while ((cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		if (c->n_clients >= CONTROL_CLIENTS_MAX) {
			if (send(cfd, busy, sizeof(busy) - 1, MSG_NOSIGNAL) < 0)
				log_debug("control: a client over the limit left first");
			close(cfd);
			continue;
		}
		client_new(c, cfd);
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* The socket */

static int dir_make(const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)], *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0755) && errno != EEXIST)
		return -errno;
	return 0;
}

/* A socket left by an lbd that is gone is replaced; one that answers is
 * another lbd's. */
static int stale_remove(const struct sockaddr_un *sa)
{
	struct stat sb;
	int fd, rc;

	if (lstat(sa->sun_path, &sb))
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(sb.st_mode))
		return -EEXIST;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	rc = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	close(fd);
	if (!rc)
		return -EADDRINUSE;
	return unlink(sa->sun_path) ? -errno : 0;
}

static int listen_on(struct control *c, const char **what_fail)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	mode_t old;
	int rc;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", c->path);
	*what_fail = "creating its directory";
	rc = dir_make(c->path);
	if (!rc) {
		*what_fail = "replacing what is there";
		rc = stale_remove(&sa);
	}
	if (rc)
		return rc;
	*what_fail = "binding";
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -errno;
	/* Never, not even for a moment, open to everyone. */
	old = umask(0117);
	rc = bind(c->fd, (const struct sockaddr *)&sa, sizeof(sa)) ? -errno : 0;
	umask(old);
	if (rc)
		return rc;
	c->bound = true;
	*what_fail = "listening";
	if (listen(c->fd, CONTROL_CLIENTS_MAX))
		return -errno;
	*what_fail = "setting its group";
	return control_access_set(c, &c->acc);
}

int control_access_resolve(const struct config *cfg, struct control_access *acc, char *err,
			   size_t errlen)
{
	struct group *g = getgrnam(cfg->control_group);

	if (!g) {
		snprintf(err, errlen, "control_group \"%s\": no such group", cfg->control_group);
		return -ENOENT;
	}
	acc->group = g->gr_gid;
	acc->has_admin = cfg->control_admin_group[0] != '\0';
	if (!acc->has_admin)
		return 0;
	g = getgrnam(cfg->control_admin_group);
	if (!g) {
		snprintf(err, errlen, "control_admin_group \"%s\": no such group",
			 cfg->control_admin_group);
		return -ENOENT;
	}
	acc->admin = g->gr_gid;
	return 0;
}

int control_access_set(struct control *c, const struct control_access *acc)
{
	c->acc = *acc;
	if (chown(c->path, 0, acc->group) || chmod(c->path, 0660))
		return -errno;
	return 0;
}

struct control *control_new(sd_event *loop, const char *path,
			    const struct control_access *acc, const struct ctl_env *env,
			    char *err, size_t errlen)
{
	struct control *c = calloc(1, sizeof(*c));
	const char *what = "starting";
	int rc;

	if (!c) {
		snprintf(err, errlen, "%s: %s", path, strerror(ENOMEM));
		return NULL;
	}
	c->loop = loop;
	c->fd = -1;
	c->acc = *acc;
	c->env = *env;
	snprintf(c->path, sizeof(c->path), "%s", path);
	rc = listen_on(c, &what);
	if (!rc)
		rc = sd_event_add_io(loop, &c->listen, c->fd, EPOLLIN, on_listen, c);
	if (rc) {
		snprintf(err, errlen, "%s: %s: %s", path, what,
			 rc == -EADDRINUSE ? "another lbd listens there" :
			 rc == -EEXIST ? "something that is not a socket is there" : strerror(-rc));
		if (c->fd >= 0)
			close(c->fd);
		if (c->bound)
			unlink(c->path);
		free(c);
		return NULL;
	}
	return c;
}

void control_free(struct control *c)
{
	if (!c)
		return;
	while (c->clients)
		client_free(c->clients);
	sd_event_source_disable_unref(c->listen);
	close(c->fd);
	unlink(c->path);
	free(c);
}
