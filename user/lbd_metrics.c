// SPDX-License-Identifier: GPL-2.0-only
/*
 * Prometheus metrics over HTTP (metrics_listen), served by libmicrohttpd
 * on lbd's own event loop: its epoll descriptor is one more source there,
 * so a scrape reads the models without a lock, like every other reader.
 * GET /metrics renders metrics.c's text; everything else is 404 or 405.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <microhttpd.h>

#include "clock.h"
#include "announce.h"
#include "ctlcmd.h"
#include "lbd.h"
#include "log.h"
#include "metrics.h"

#define METRICS_CONNECTIONS	16	/* at once; more are refused */
#define METRICS_IDLE_S		10	/* a silent connection is closed after */
#define METRICS_TYPE		"text/plain; version=0.0.4; charset=utf-8"

/* The running program's tag, as bpftool prints it. */
static void program_tag(const struct lbd *d, char *buf, size_t len)
{
	struct bpf_prog_info info;
	__u32 info_len = sizeof(info);
	int fd = bpf_prog_get_fd_by_id(d->ld.prog_id);
	size_t i;

	snprintf(buf, len, "unknown");
	memset(&info, 0, sizeof(info));
	if (fd < 0)
		return;
	if (!bpf_obj_get_info_by_fd(fd, &info, &info_len))
		for (i = 0; i < sizeof(info.tag) && 2 * i + 2 < len; i++)
			snprintf(buf + 2 * i, len - 2 * i, "%02x", info.tag[i]);
	close(fd);
}

static void facts_get(const struct lbd *d, struct metrics_facts *m, char *tag, size_t len)
{
	struct health_stats hs = { 0 };

	program_tag(d, tag, len);
	if (d->health)
		health_stats_get(d->health, &hs);
	memset(m, 0, sizeof(*m));
	m->version = LB_VERSION;
	m->program_tag = tag;
	m->reload_ms = d->reload_ms;
	m->reload_ok = d->reload_ok;
	m->maps_ok = !d->full_due;
	blocklist_counts(d->bl, &m->block_rules[0], &m->block_rules[1], &m->block_rules[2]);
	m->probes = hs.counted.probes;
	memcpy(m->probe_us, hs.counted.probe_us, sizeof(m->probe_us));
	memcpy(m->health_changes, hs.counted.changes, sizeof(m->health_changes));
}

/* Per config VIP: its route is installed (malloc'd), or NULL when the
 * config announces nothing. false on ENOMEM. */
static bool announced_get(const struct lbd *d, bool **out)
{
	const struct config *cfg = d->st->cfg;
	struct route_dst dst;
	size_t i;

	*out = NULL;
	if (!cfg->announce_table)
		return true;
	*out = calloc(cfg->n_vips + 1, sizeof(**out));
	for (i = 0; *out && i < cfg->n_vips; i++) {
		dst = announce_dst(&cfg->vips[i]);
		(*out)[i] = routes_installed(d->routes, &dst);
	}
	return *out != NULL;
}

/*
 * A response's body, lent to libmicrohttpd until the response is done
 * with. A scrape's buffer then goes back to be the next scrape's (the
 * spare is empty while a scrape is in flight; a second one at once gets a
 * buffer of its own, freed after).
 */
struct lent {
	struct metrics_buf buf;
	struct metrics_buf *home;	/* the spare it came from; NULL: freed */
};

static void give_back(void *cls)
{
	struct lent *l = cls;

	if (l->home && !l->home->p)
		*l->home = l->buf;
	else
		metrics_buf_free(&l->buf);
	free(l);
}

/* The scrape's body, or NULL with errno. */
static struct lent *metrics_text(struct lbd *d)
{
	__u32 *flows = calloc(LB_MAX_BACKENDS, sizeof(*flows));
	struct lent *l = calloc(1, sizeof(*l));
	struct metrics_facts facts;
	bool *announced = NULL;
	char tag[20];
	int rc = flows && l ? flows_count(d->flows, CTL_IDLE_S * 1000, flows) : -ENOMEM;

	if (l) {
		l->buf = d->metrics_spare;
		l->home = &d->metrics_spare;
		memset(&d->metrics_spare, 0, sizeof(d->metrics_spare));
	}
	if (!rc && !announced_get(d, &announced))
		rc = -ENOMEM;
	if (!rc) {
		facts_get(d, &facts, tag, sizeof(tag));
		facts.announced = announced;
		facts.routes_ok = !lbd_announce_retry_due(d);
		rc = metrics_scrape(&d->maps, d->ap, d->st, flows, &facts, &l->buf);
	}
	free(announced);
	free(flows);
	if (rc && l)
		give_back(l);
	errno = -rc;
	return rc ? NULL : l;
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned int code, struct lent *body,
			     const char *type)
{
	struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback_cls(
		body->buf.len, body->buf.p, give_back, body);
	enum MHD_Result ok;

	if (!r) {
		give_back(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (code == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ok = MHD_queue_response(conn, code, r);
	MHD_destroy_response(r);
	return ok;
}

static enum MHD_Result reply_text(struct MHD_Connection *conn, unsigned int code,
				  const char *text)
{
	struct lent *body = calloc(1, sizeof(*body));

	if (body)
		body->buf.p = strdup(text);
	if (!body || !body->buf.p) {
		free(body);
		return MHD_NO;
	}
	body->buf.len = strlen(text);
	return reply(conn, code, body, "text/plain; charset=utf-8");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version,
				  const char *upload, size_t *upload_len, void **req)
{
	static int seen;
	struct lbd *d = cls;
	struct lent *body;

	/* The headers first, then the request: answer on the second call. */
	if (!*req) {
		*req = &seen;
		return MHD_YES;
	}
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return reply_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n");
	if (*upload_len)
		return reply_text(conn, MHD_HTTP_BAD_REQUEST, "a GET takes no body\n");
	if (strcmp(url, "/metrics"))
		return reply_text(conn, MHD_HTTP_NOT_FOUND, "sluice lbd: metrics are at /metrics\n");
	body = metrics_text(d);
	if (!body) {
		log_warn("metrics: cannot read the counters: %s", strerror(errno));
		return reply_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot read the counters\n");
	}
	return reply(conn, MHD_HTTP_OK, body, METRICS_TYPE);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[256];

	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	log_warn("metrics: %s", line);
}

/* MHD's next deadline (idle connections) as the loop's timer. */
static void timer_arm(struct lbd *d)
{
	MHD_UNSIGNED_LONG_LONG ms = 0;

	if (MHD_get_timeout(d->mhd, &ms) != MHD_YES) {
		sd_event_source_set_enabled(d->mhd_timer, SD_EVENT_OFF);
		return;
	}
	sd_event_source_set_time_relative(d->mhd_timer, (uint64_t)ms * 1000);
	sd_event_source_set_enabled(d->mhd_timer, SD_EVENT_ONESHOT);
}

static int on_mhd_io(sd_event_source *s, int fd, uint32_t revents, void *data)
{
	struct lbd *d = data;

	MHD_run(d->mhd);
	timer_arm(d);
	return 0;
}

static int on_mhd_timer(sd_event_source *s, uint64_t usec, void *data)
{
	return on_mhd_io(s, -1, 0, data);
}

static struct MHD_Daemon *daemon_start(struct lbd *d, const struct config *cfg)
{
	struct sockaddr_in6 sa6 = { .sin6_family = AF_INET6 };
	struct sockaddr_in sa4 = { .sin_family = AF_INET };
	unsigned int flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
	struct sockaddr *sa = (struct sockaddr *)&sa4;

	if (cfg->metrics_family == LB_FAMILY_IPV6) {
		memcpy(&sa6.sin6_addr, cfg->metrics_addr, sizeof(sa6.sin6_addr));
		sa6.sin6_port = htons(cfg->metrics_port);
		sa = (struct sockaddr *)&sa6;
		flags |= MHD_USE_IPv6;
	} else {
		sa4.sin_addr.s_addr = cfg->metrics_addr[0];
		sa4.sin_port = htons(cfg->metrics_port);
	}
	return MHD_start_daemon(flags, cfg->metrics_port, NULL, NULL, on_request, d,
				MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
				MHD_OPTION_SOCK_ADDR, sa,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned int)METRICS_CONNECTIONS,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)METRICS_IDLE_S,
				MHD_OPTION_END);
}

int lbd_metrics_start(struct lbd *d)
{
	const struct config *cfg = d->st->cfg;
	const union MHD_DaemonInfo *info;
	int rc;

	if (!cfg->metrics_family)
		return 0;
	d->mhd = daemon_start(d, cfg);
	if (!d->mhd) {
		log_err("metrics: cannot listen on %s", cfg->metrics_listen);
		return EXIT_FAILURE;
	}
	info = MHD_get_daemon_info(d->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	rc = info ? sd_event_add_io(d->loop, &d->mhd_io, info->epoll_fd, EPOLLIN, on_mhd_io, d)
		  : -EINVAL;
	if (rc >= 0)
		rc = sd_event_add_time_relative(d->loop, &d->mhd_timer, CLOCK_MONOTONIC, 0, 0,
						on_mhd_timer, d);
	if (rc < 0) {
		log_err("metrics: cannot watch the listener: %s", strerror(-rc));
		return EXIT_FAILURE;
	}
	timer_arm(d);
	log_info("metrics on http://%s/metrics", cfg->metrics_listen);
	return 0;
}

void lbd_metrics_stop(struct lbd *d)
{
	d->mhd_io = sd_event_source_disable_unref(d->mhd_io);
	d->mhd_timer = sd_event_source_disable_unref(d->mhd_timer);
	if (d->mhd)
		MHD_stop_daemon(d->mhd);
	d->mhd = NULL;
	metrics_buf_free(&d->metrics_spare);
}
