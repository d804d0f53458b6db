// SPDX-License-Identifier: GPL-2.0-only
/*
 * lbd follows the default gateway's MAC (nexthop.c reads routes and
 * neighbours) and writes it into lb_cfg; a failed read or write is retried
 * every second by lbd's retry timer, and logged once per streak.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "lbd.h"
#include "log.h"

const char *lbd_mac_text(const __u8 mac[6])
{
	static char buf[18];

	snprintf(buf, sizeof(buf), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2],
		 mac[3], mac[4], mac[5]);
	return buf;
}

/* ------------------------------------------------------------------ */
/* The next hop */

/*
 * env.next_hop changes only once the write succeeded; after a failure the
 * nexthop is asked to report the MAC again, so that the next event or the
 * retry timer writes it, even if the MAC does not change meanwhile.
 */
static void next_hop_write(struct lbd *d, const __u8 mac[6])
{
	int rc = apply_next_hop(&d->maps, mac);

	if (rc) {
		if (!d->write_failing)
			log_err("cannot write the next hop %s: %s; retrying every %llu s",
				lbd_mac_text(mac), strerror(-rc), RETRY_USEC / 1000000);
		d->write_failing = true;
		nexthop_retell(d->nh);
		return;
	}
	d->write_failing = false;
	memcpy(d->env.next_hop, mac, 6);
	log_info("next hop %s is %s", nexthop_gateway(d->nh), lbd_mac_text(mac));
}

static void next_hop_update(struct lbd *d)
{
	__u8 mac[6];
	int rc = nexthop_mac(d->nh, mac);

	if (!rc && memcmp(mac, d->env.next_hop, 6)) {
		next_hop_write(d, mac);
		return;
	}
	/* Nothing to write now: a write still owed is moot. */
	d->write_failing = false;
	if (rc)
		log_warn("next hop %s: %s; keeping the last known MAC", nexthop_gateway(d->nh),
			 rc == -ENOENT ? "no default route" : "not resolved yet");
}

/* What nexthop_process() or nexthop_retry() returned. */
void lbd_next_hop_result(struct lbd *d, int rc)
{
	if (rc < 0 && !d->read_failing)
		log_err("reading routes and neighbours: %s; retrying every %llu s",
			strerror(-rc), RETRY_USEC / 1000000);
	else if (rc >= 0 && d->read_failing)
		log_info("routes and neighbours read again");
	d->read_failing = rc < 0;
	if (rc > 0)
		next_hop_update(d);
	lbd_retry_arm(d);
}

static int on_next_hop(sd_event_source *s, int fd, uint32_t revents, void *data)
{
	struct lbd *d = data;

	lbd_next_hop_result(d, nexthop_process(d->nh));
	return 0;
}

void lbd_next_hop_stop(struct lbd *d)
{
	if (!d->nh)
		return;
	d->nh_io = sd_event_source_disable_unref(d->nh_io);
	nexthop_free(d->nh);
	d->nh = NULL;
	memset(d->env.next_hop, 0, sizeof(d->env.next_hop));
	d->read_failing = false;
	d->write_failing = false;
	lbd_retry_arm(d);
}

/*
 * lb_cfg may not hold env.next_hop (a reload that failed after
 * lbd_next_hop_start()): forget it, so that the retry writes the current MAC.
 */
void lbd_next_hop_unwritten(struct lbd *d)
{
	if (!d->nh)
		return;
	memset(d->env.next_hop, 0, sizeof(d->env.next_hop));
	nexthop_retell(d->nh);
	lbd_retry_arm(d);
}

/* A retry is due only when the kernel could not be read, not for a state. */
static void next_hop_first(struct lbd *d)
{
	__u8 mac[6];
	int rc = nexthop_resolve(d->nh, mac);

	if (nexthop_retry_due(d->nh)) {
		lbd_next_hop_result(d, rc);
	} else if (!rc) {
		memcpy(d->env.next_hop, mac, 6);
		log_info("next hop %s is %s", nexthop_gateway(d->nh), lbd_mac_text(mac));
	} else {
		log_warn("next hop %s: not resolved yet; the data path keeps its last MAC",
			 nexthop_gateway(d->nh));
	}
}

/* Follow the default gateway. What is known now goes into env before the
 * next apply, so the data path never starts with an empty next hop when the
 * kernel already knows the gateway. */
/* The default route followed: IPv4's when there is an IPv4 tunnel source. */
static int next_hop_family(const struct config *cfg)
{
	return cfg->has_src4 ? AF_INET : AF_INET6;
}

int lbd_next_hop_start(struct lbd *d, const struct config *cfg)
{
	int family = next_hop_family(cfg);
	int rc;

	d->nh = nexthop_new(d->ld.ifindex, family);
	if (!d->nh) {
		log_err("cannot watch routes and neighbours: %s", strerror(errno));
		return -1;
	}
	rc = sd_event_add_io(d->loop, &d->nh_io, nexthop_fd(d->nh), EPOLLIN, on_next_hop, d);
	if (rc < 0) {
		log_err("cannot watch routes and neighbours: %s", strerror(-rc));
		lbd_next_hop_stop(d);
		return -1;
	}
	next_hop_first(d);
	return 0;
}

/* Tracking as cfg asks (a reload, or putting back a refused one's): none
 * for a fixed MAC, else started over when the family changes. */
void lbd_next_hop_follow(struct lbd *d, const struct config *cfg, const char *why)
{
	if (d->nh && (!cfg->next_hop_auto || nexthop_family(d->nh) != next_hop_family(cfg)))
		lbd_next_hop_stop(d);
	if (cfg->next_hop_auto && !d->nh && lbd_next_hop_start(d, cfg))
		log_err("%s: cannot follow the next hop; the data path keeps its last MAC", why);
}
