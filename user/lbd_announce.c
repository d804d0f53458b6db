// SPDX-License-Identifier: GPL-2.0-only
/*
 * lbd announces its VIPs by keeping a host route per announced address in
 * the kernel table "announce" names (routes.c), for BIRD or FRR to export
 * over BGP (docs/scale-out.md). What to announce is announce.c's decision
 * from the state model; here it is brought to the kernel once per loop
 * iteration after a change, when the kernel's table changed behind lbd's
 * back, and every second while a write fails (logged once per streak).
 *
 * The routes are not lbd's to take down when it stops: they stay, like the
 * pinned maps, and the next lbd adopts them (routes_sync() changes only
 * what differs). lbd --unload removes them with the data path.
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "announce.h"
#include "lbd.h"
#include "log.h"

static void route_changed(const struct route_dst *dst, bool added, void *data)
{
	char text[64];

	log_info("announce: %s %s (table %u)", added ? "announcing" : "withdrew",
		 routes_dst_text(dst, text, sizeof(text)), *(const __u32 *)data);
}

static bool want_same(const struct lbd *d, const struct route_dst *w, size_t n)
{
	return d->ann_have_want && n == d->ann_n && (!n || !memcmp(w, d->ann_want, n * sizeof(*w)));
}

/* Bring the table in line with the state model, if it is not known to be. */
void lbd_announce_now(struct lbd *d)
{
	__u32 table = d->st->cfg->announce_table;
	struct routes_stats rs;
	struct route_dst *want;
	size_t n;
	int rc;

	sd_event_source_set_enabled(d->announce_ev, SD_EVENT_OFF);
	if (!d->routes)
		return;
	rc = announce_routes(d->st, &want, &n);
	if (rc) {
		log_err("announce: %s; retrying", strerror(-rc));
		d->announce_failing = true;
		lbd_retry_arm(d);
		return;
	}
	/* While a full apply is owed, the maps may lack a VIP the config
	 * added: no route goes out that is not out already (withdrawals
	 * still go), and the apply that succeeds asks for a sync again. */
	routes_hold(d->routes, d->full_due);
	if (!d->full_due && want_same(d, want, n) && !routes_sync_due(d->routes)) {
		free(want);
		return;
	}
	rc = routes_sync(d->routes, want, n, route_changed, &table, &rs);
	if (rc && !d->announce_failing)
		log_err("announce: cannot write the VIP routes in table %u: %s; %zu of %zu "
			"installed; retrying every %llu s", table, strerror(-rc),
			routes_count(d->routes), n, RETRY_USEC / 1000000);
	else if (!rc && d->announce_failing)
		log_info("announce: the VIP routes in table %u are written again (%zu)", table, n);
	d->announce_failing = rc != 0;
	free(d->ann_want);
	d->ann_want = want;
	d->ann_n = n;
	d->ann_have_want = !d->full_due;	/* a held sync is not the last word */
	lbd_retry_arm(d);
}

void lbd_announce_soon(struct lbd *d)
{
	if (d->routes)
		sd_event_source_set_enabled(d->announce_ev, SD_EVENT_ONESHOT);
}

/* Also when the config announces and the table could not be opened (the
 * retry opens it). */
bool lbd_announce_retry_due(const struct lbd *d)
{
	if (!d->routes)
		return d->st && d->st->cfg->announce_table;
	return d->announce_failing || routes_sync_due(d->routes);
}

/* The table changed behind our back, or the interface did. */
static int on_routes(sd_event_source *s, int fd, uint32_t revents, void *data)
{
	struct lbd *d = data;
	int rc = routes_process(d->routes);

	if (rc < 0)
		log_warn("announce: reading route notifications: %s; syncing", strerror(-rc));
	if (rc)
		lbd_announce_soon(d);
	return 0;
}

/* Our routes in any table but keep (0: all) go: announcing off, or moved. */
static void flush_others(const char *ifname, __u32 keep)
{
	int ifindex = (int)if_nametoindex(ifname);
	size_t removed = 0;
	int rc;

	if (!ifindex)
		return;
	rc = routes_flush(ifindex, keep, &removed);
	if (rc)
		log_warn("announce: cannot remove the VIP routes an earlier config left on %s: %s",
			 ifname, strerror(-rc));
	if (removed)
		log_info("announce: removed %zu VIP routes %s", removed,
			 keep ? "from tables the config no longer names" :
			 "(the config announces nothing)");
}

void lbd_announce_stop(struct lbd *d)
{
	d->routes_io = sd_event_source_disable_unref(d->routes_io);
	routes_free(d->routes);
	d->routes = NULL;
	free(d->ann_want);
	d->ann_want = NULL;
	d->ann_n = 0;
	d->ann_have_want = false;
	d->announce_failing = false;
}

/*
 * Follow cfg's "announce" (at start and after a reload): open the table,
 * or close it; routes a config no longer wants go. 0, or -errno (logged):
 * lbd runs on without announcing.
 */
int lbd_announce_config(struct lbd *d, const struct config *cfg)
{
	bool failing = d->announce_failing;
	int ifindex, rc;

	if (d->routes && routes_table(d->routes) == cfg->announce_table)
		goto sync;
	lbd_announce_stop(d);
	flush_others(cfg->interface, cfg->announce_table);
	if (!cfg->announce_table)
		return 0;
	ifindex = (int)if_nametoindex(cfg->interface);
	d->routes = ifindex ? routes_new(ifindex, cfg->announce_table) : NULL;
	if (!d->routes) {
		rc = -errno;
		if (!failing)
			log_err("announce: cannot keep routes in table %u through %s: %s; "
				"retrying every %llu s", cfg->announce_table, cfg->interface,
				strerror(errno), RETRY_USEC / 1000000);
		d->announce_failing = true;
		lbd_retry_arm(d);
		return rc;
	}
	rc = sd_event_add_io(d->loop, &d->routes_io, routes_fd(d->routes), EPOLLIN, on_routes, d);
	if (rc < 0) {
		log_err("announce: cannot watch the routes: %s", strerror(-rc));
		lbd_announce_stop(d);
		return rc;
	}
	log_info("announce: VIP routes in table %u through %s, protocol %u", cfg->announce_table,
		 cfg->interface, ROUTES_PROTO);
sync:
	d->ann_have_want = false;
	lbd_announce_now(d);
	return 0;
}

/* ------------------------------------------------------------------ */
/* What readers see */

json_t *lbd_announce_vip_json(const struct lbd *d, size_t vip)
{
	struct route_dst dst = announce_dst(&d->st->cfg->vips[vip]);
	struct announce_vip a;

	announce_decide(d->st, vip, &a);
	return json_pack("{s:b, s:b, s:s, s:I, s:I}",
			 "announced", routes_installed(d->routes, &dst), "want", a.want,
			 "reason", announce_reason_name(a.reason), "healthy", (json_int_t)a.healthy,
			 "need", (json_int_t)a.need);
}

json_t *lbd_announce_node_json(const struct lbd *d)
{
	const struct state_node *n = &d->st->node;

	return json_pack("{s:b, s:I, s:{s:I, s:I, s:b}}", "drained", n->drained, "since_ms",
			 (json_int_t)n->since_ms, "announce", "table",
			 (json_int_t)d->st->cfg->announce_table, "routes",
			 (json_int_t)routes_count(d->routes), "in_sync",
			 !lbd_announce_retry_due(d));
}
