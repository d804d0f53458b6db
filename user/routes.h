/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The announcer's routes: host routes for VIP addresses, kept in a kernel
 * routing table of lbd's own for a BGP daemon to export
 * (docs/scale-out.md). lbd does not speak BGP; the kernel table is the
 * whole interface between lbd and the routing daemon.
 *
 * A route of ours is a unicast host route (/32 or /128) through lbd's
 * interface, scope link, with route protocol ROUTES_PROTO. The interface
 * and the protocol together say which lbd a route belongs to, so routes of
 * another lbd (another interface) in the same namespace are never touched,
 * and lbd --unload finds its routes without a config. Being through the
 * interface, the kernel removes them when the interface goes down, which
 * withdraws the VIPs of a node that cannot serve them; routes_process()
 * notices, and the next sync puts them back once the kernel accepts them
 * again (losing the last IPv4 address removes them too, but the kernel
 * takes them back at once: that is no withdrawal).
 *
 * The routes are not lbd's process state: they outlive it, as the pinned
 * maps do, so that a restart withdraws nothing. routes_sync() makes the
 * kernel hold exactly what it is given, whatever an earlier lbd left.
 *
 * Usage from one event loop: routes_new(), routes_sync(), then poll
 * routes_fd() and call routes_process() when it is readable; sync again
 * when it returns 1. Failures return -errno and leave a sync owed.
 */
#ifndef LB_ROUTES_H
#define LB_ROUTES_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

/* Our route protocol: in no list of iproute2's rt_protos nor the kernel's
 * RTPROT_*. docs/scale-out.md tells the routing daemons to export it. */
#define ROUTES_PROTO	213

/* A host route's destination. */
struct route_dst {
	int family;		/* AF_INET or AF_INET6 */
	__u8 addr[16];		/* network byte order; IPv4 in the first 4 bytes */
};

/* What a sync did. */
struct routes_stats {
	size_t added;
	size_t removed;
};

/* Told of each route added or removed by a sync, for the log. */
typedef void (*routes_change_fn)(const struct route_dst *d, bool added, void *data);

struct routes;

/* Our routes through ifindex, to be kept in table (1..; not 253..255).
 * Nothing is read yet. NULL and errno on error. */
struct routes *routes_new(int ifindex, __u32 table);
void routes_free(struct routes *r);

/* Readable when notifications wait; non-blocking. */
int routes_fd(const struct routes *r);

/*
 * Make the table hold exactly our routes to want[0..n) (any order, no
 * duplicates), adding and removing what differs, and tell cb (if not NULL)
 * of each. 0 or the first -errno; on error the rest is still tried, what
 * is installed is known all the same (routes_installed()), and a sync is
 * owed (routes_sync_due()).
 */
/* While held, a sync adds no route (it still removes what is not
 * wanted): for a data path that may not hold what would be announced. */
void routes_hold(struct routes *r, bool hold);

int routes_sync(struct routes *r, const struct route_dst *want, size_t n,
		routes_change_fn cb, void *data, struct routes_stats *rs);

/*
 * Drain the pending notifications without waiting. 1 when our routes may
 * have changed behind our back (a route in our table changed by someone
 * else, the interface or its addresses changed, or notifications were
 * lost): call routes_sync(); 0 when not; or -errno.
 */
int routes_process(struct routes *r);

/* Whether the last sync failed, or events asked for one not yet done. */
bool routes_sync_due(const struct routes *r);

/* Whether the kernel held our route to d after the last sync. */
bool routes_installed(const struct routes *r, const struct route_dst *d);

/* How many of our routes the kernel held after the last sync. */
size_t routes_count(const struct routes *r);

__u32 routes_table(const struct routes *r);

/*
 * Remove our routes through ifindex from every table but keep_table (0:
 * from every table): what an lbd left behind that it no longer wants
 * (announcing turned off, the table moved, lbd --unload). The count
 * removed in *removed. 0 or -errno.
 */
int routes_flush(int ifindex, __u32 keep_table, size_t *removed);

/* "198.18.100.1" or "fd00::1". */
const char *routes_dst_text(const struct route_dst *d, char *buf, size_t len);

#endif /* LB_ROUTES_H */
