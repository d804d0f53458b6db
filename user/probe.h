/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * One health probe at a time per target, on lbd's event loop: a TCP
 * connect, an HTTP GET on such a connection (a request written out once,
 * the answer's status line read, the connection reset), or an HTTPS GET
 * through libcurl's multi interface. Sockets in flight are gathered in an
 * epoll set per kind, each one source of the loop. Nothing here blocks and
 * nothing runs in a thread.
 */
#ifndef LB_PROBE_H
#define LB_PROBE_H

#include <stdbool.h>
#include <linux/types.h>
#include <systemd/sd-event.h>

#include "config.h"

#define PROBE_REASON_MAX	96
#define PROBE_REQUEST_MAX	768	/* bytes of an HTTP request, path and host at their longest */

/* What to probe and how. Strings are copied. */
struct probe_spec {
	enum config_hc_type type;	/* tcp, http or https */
	__u8 family;
	__be32 addr[4];
	__u16 port;
	const char *path;		/* http(s) */
	const char *host;		/* http(s): Host header, "" for none */
	__u16 status;			/* http(s): the status that passes */
	bool tls_verify;
	__u32 timeout_ms;
	/* A tunnel probe's sockets: their SO_MARK (0: none; probe_mark_set()
	 * changes it between probes) and the interface they are bound to
	 * (NULL: none). */
	__u32 mark;
	const char *device;
};

struct probes;		/* the probes of one loop: libcurl's multi handle */
struct probe;

/* The result: ok, or why not ("refused", "timeout after 200 ms",
 * "status 503", "closed without an answer", "not an HTTP answer",
 * "tls: ..."), and how long the probe took. */
typedef void (*probe_done_fn)(struct probe *p, bool ok, const char *reason, __u32 us,
			      void *data);

/* NULL with errno on error. */
struct probes *probes_new(sd_event *loop);
void probes_free(struct probes *ps);

/* NULL with errno on error. */
struct probe *probe_new(struct probes *ps, const struct probe_spec *spec, probe_done_fn done,
			void *data);
/* Stops a probe in flight; done is not called. */
void probe_free(struct probe *p);

/* The mark of the next probe's socket. */
void probe_mark_set(struct probe *p, __u32 mark);

/* Start one: done is called once, later, from the loop. -EBUSY while one
 * is in flight; other errors (no socket) are reported through done. */
int probe_start(struct probe *p);

/* The request an http probe sends: GET path, Host: the host or else the
 * address, with ":port" unless the port is 80 (as libcurl writes it),
 * Connection: close. Its length, or -1 if it does not fit in len. */
int probe_http_request(const struct probe_spec *sp, char *buf, size_t len);

/* The status of an HTTP/1.x answer that starts with buf (len bytes): 0
 * while the status line is too short to tell, -1 if it is none. */
int probe_http_status(const char *buf, size_t len);

/* Where an answer's head ends in buf (len bytes, the next of a stream
 * read in pieces): the offset just past its blank line, or -1 when buf
 * holds none. *nl says whether the bytes before ended a line, and carries
 * that from one call to the next: false at the start of a head. Lines may
 * end in CRLF or a bare LF. */
long probe_http_head_end(const char *buf, size_t len, bool *nl);

#endif /* LB_PROBE_H */
