// SPDX-License-Identifier: GPL-2.0-only
#include "announce.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "lb_abi.h"

static const char *const reason_names[] = {
	[ANNOUNCE_OFF] = "off",
	[ANNOUNCE_HEALTHY] = "healthy",
	[ANNOUNCE_SHARED] = "shared_address",
	[ANNOUNCE_BELOW_NEED] = "below_need",
	[ANNOUNCE_NODE_DRAINED] = "node_drained",
};

const char *announce_reason_name(enum announce_reason r)
{
	return (unsigned int)r < ANNOUNCE_REASON_MAX ? reason_names[r] : "unknown";
}

struct route_dst announce_dst(const struct config_vip *v)
{
	struct route_dst d = { .family = v->family == LB_FAMILY_IPV6 ? AF_INET6 : AF_INET };

	memcpy(d.addr, v->addr, d.family == AF_INET6 ? 16 : 4);
	return d;
}

static bool same_address(const struct config_vip *a, const struct config_vip *b)
{
	return a->family == b->family && !memcmp(a->addr, b->addr, sizeof(a->addr));
}

/* The VIP's own verdict, leaving the other VIPs on its address aside. */
static bool meets_need(const struct state *st, size_t vip)
{
	return state_vip_healthy(&st->vips[vip]) >= st->cfg->vips[vip].need;
}

void announce_decide(const struct state *st, size_t vip, struct announce_vip *out)
{
	const struct config_vip *v = &st->cfg->vips[vip];
	size_t i;

	out->healthy = state_vip_healthy(&st->vips[vip]);
	out->need = v->need;
	out->want = false;
	if (!st->cfg->announce_table) {
		out->reason = ANNOUNCE_OFF;
		return;
	}
	if (st->node.drained) {
		out->reason = ANNOUNCE_NODE_DRAINED;
		return;
	}
	out->want = true;
	if (out->healthy >= v->need) {
		out->reason = ANNOUNCE_HEALTHY;
		return;
	}
	for (i = 0; i < st->cfg->n_vips; i++) {
		if (i != vip && same_address(v, &st->cfg->vips[i]) && meets_need(st, i)) {
			out->reason = ANNOUNCE_SHARED;
			return;
		}
	}
	out->want = false;
	out->reason = ANNOUNCE_BELOW_NEED;
}

int announce_routes(const struct state *st, struct route_dst **out, size_t *n)
{
	struct announce_vip a;
	size_t i, j;

	*out = NULL;
	*n = 0;
	if (!st->cfg->announce_table || st->node.drained || !st->cfg->n_vips)
		return 0;
	*out = calloc(st->cfg->n_vips, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	for (i = 0; i < st->cfg->n_vips; i++) {
		announce_decide(st, i, &a);
		if (a.reason != ANNOUNCE_HEALTHY)
			continue;
		/* A VIP on an address listed already adds no route. */
		for (j = 0; j < i; j++)
			if (same_address(&st->cfg->vips[i], &st->cfg->vips[j]) &&
			    meets_need(st, j))
				break;
		if (j == i)
			(*out)[(*n)++] = announce_dst(&st->cfg->vips[i]);
	}
	return 0;
}
