/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The next hop of lbd: the MAC of the default gateway out of one interface,
 * learnt from the kernel and followed as routes and neighbours change.
 *
 * Which route: the default route (prefix length 0) of the watched family in
 * the main table whose outgoing interface is the watched one (for a multipath
 * route, its first path through that interface); among several, the lowest
 * metric. Routes without a gateway (on-link) have no next-hop MAC and count
 * as "no default route". An IPv4 route may have an IPv6 gateway (RTA_VIA);
 * its neighbour is then looked up in the IPv6 table.
 *
 * Which neighbour states give a MAC: REACHABLE, STALE, DELAY, PROBE,
 * PERMANENT and NOARP, when the entry carries a 6-byte link-layer address.
 * INCOMPLETE and FAILED entries have no usable MAC.
 *
 * Resolution: when the gateway's entry is missing, FAILED or NONE, we send
 * RTM_NEWNEIGH with NTF_USE, which makes the kernel create the entry and
 * send ARP requests or neighbour solicitations as if a packet were waiting.
 * XDP traffic bypasses the neighbour layer, so nothing else would. STALE
 * entries are nudged the same way (the kernel then sends a unicast probe):
 * the MAC stays in use meanwhile, and the gateway keeps being checked. An
 * INCOMPLETE entry is already being resolved and is left alone.
 *
 * Losing the MAC: when the gateway's entry turns FAILED or INCOMPLETE or is
 * deleted, the last known MAC of that same gateway is kept (a stale MAC is
 * better than dropping all traffic) and, unless the kernel is already at it
 * (INCOMPLETE), resolution is triggered again; a gateway that stays down is
 * thus probed again each time its entry fails (about every 3 s by default).
 * When the route goes away or changes to another gateway, the old MAC is
 * dropped: -ENOENT, or -EAGAIN until the new gateway resolves.
 *
 * Usage from one event loop: nexthop_new(), nexthop_resolve() once, then
 * poll nexthop_fd() and call nexthop_process() when it is readable. The
 * event socket is subscribed before the first dump, so no change is missed.
 *
 * Failures are not forgotten: when reading the kernel fails (a dump cut
 * short or refused, a request the kernel had no memory for, the interface
 * missing for a while: -ENODEV), that -errno is returned, nothing is
 * reported, and a full re-read is owed until one succeeds; nexthop_process()
 * does it with the next events, and nexthop_retry() without waiting for
 * any. When the event socket overflows (ENOBUFS: the kernel dropped events),
 * everything is read again as well. A caller that could not act on a report
 * (its map write failed) calls nexthop_retell() to hear it again. While
 * nexthop_retry_due(), call nexthop_retry() from a timer, say every second.
 */
#ifndef LB_NEXTHOP_H
#define LB_NEXTHOP_H

#include <stdbool.h>
#include <linux/types.h>

struct nexthop;

/*
 * Watch the default route of family (AF_INET or AF_INET6) out of ifindex
 * and its gateway's neighbour entry. Nothing is read yet: call
 * nexthop_resolve(). NULL and errno on error.
 */
struct nexthop *nexthop_new(int ifindex, int family);

void nexthop_free(struct nexthop *nh);

/* Readable when netlink notifications wait; the socket is non-blocking. */
int nexthop_fd(const struct nexthop *nh);

/*
 * Read the state from the kernel: dump the routes, then look the gateway's
 * neighbour up, triggering resolution when needed (see above). Returns what
 * nexthop_mac() returns afterwards: 0 with mac filled, -ENOENT (no default
 * route with a gateway), -EAGAIN (resolution in progress); or -errno when
 * the kernel could not be asked, and then a re-read is owed (see above).
 */
int nexthop_resolve(struct nexthop *nh, __u8 mac[6]);

/*
 * Drain the pending notifications without waiting for new ones. Returns 1
 * when the MAC or its availability changed (call nexthop_mac()), 0 when
 * not, or -errno. A change of the default route or of the interface makes
 * it dump the routes again; that request is answered by the kernel at once.
 * On -errno, a re-read is owed (see above) and a change is reported later.
 */
int nexthop_process(struct nexthop *nh);

/*
 * Do what is owed without reading events: the re-read after a failure, and
 * the report asked for by nexthop_retell(). Returns as nexthop_process();
 * 0 at once when nothing is owed.
 */
int nexthop_retry(struct nexthop *nh);

/* Whether nexthop_retry() has something to do. */
bool nexthop_retry_due(const struct nexthop *nh);

/* Report the current state again (1) on the next process or retry. */
void nexthop_retell(struct nexthop *nh);

/* The current MAC: 0 and mac filled, or -EAGAIN / -ENOENT as above. */
int nexthop_mac(const struct nexthop *nh, __u8 mac[6]);

/* The gateway in text for log lines ("198.18.1.254"), or "" if none. */
const char *nexthop_gateway(const struct nexthop *nh);

/* AF_INET or AF_INET6: the default route it follows. */
int nexthop_family(const struct nexthop *nh);

#endif /* LB_NEXTHOP_H */
