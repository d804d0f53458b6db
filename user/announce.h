/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * When a node announces a VIP: the decision, from the state model alone
 * (docs/scale-out.md). A VIP is announced while the config has "announce",
 * the node is not drained (lbctl node drain) and at least "need" of its
 * backends are healthy (state_vip_healthy()). Routes are per address:
 * several VIPs on one address (other ports or protocols) share one host
 * route, which is wanted while any of them is announced.
 *
 * Nothing here talks to the kernel: routes.c installs what
 * announce_routes() lists, and lbd reports both.
 */
#ifndef LB_ANNOUNCE_H
#define LB_ANNOUNCE_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#include "routes.h"
#include "state.h"

/* Why a VIP is or is not announced; names on the wire by announce_reason_name(). */
enum announce_reason {
	ANNOUNCE_OFF = 0,	/* "off": the config has no "announce" */
	ANNOUNCE_HEALTHY,	/* "healthy": need or more backends healthy */
	ANNOUNCE_SHARED,	/* "shared_address": below need, but another VIP on its
				 * address is announced, and the route is one */
	ANNOUNCE_BELOW_NEED,	/* "below_need": fewer than need healthy */
	ANNOUNCE_NODE_DRAINED,	/* "node_drained": lbctl node drain */
	ANNOUNCE_REASON_MAX,
};

struct announce_vip {
	bool want;		/* its address's route should be in the table */
	enum announce_reason reason;
	size_t healthy;		/* state_vip_healthy() */
	__u32 need;		/* the config's */
};

const char *announce_reason_name(enum announce_reason r);

/* The decision for VIP vip of st. */
void announce_decide(const struct state *st, size_t vip, struct announce_vip *out);

/* A VIP's address as a route destination. */
struct route_dst announce_dst(const struct config_vip *v);

/*
 * The host routes st wants (no duplicates, config order) into *out
 * (malloc'd, NULL when none), their count in *n. 0 or -ENOMEM.
 */
int announce_routes(const struct state *st, struct route_dst **out, size_t *n);

#endif /* LB_ANNOUNCE_H */
