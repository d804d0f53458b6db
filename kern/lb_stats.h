/* SPDX-License-Identifier: GPL-2.0-only */
/* Per-CPU counters. Plain increments: each CPU owns its copy. */
#ifndef LB_STATS_H
#define LB_STATS_H

#include "lb_maps.h"

static __always_inline struct lb_global_stats *lb_global_stats(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&lb_stats, &zero);
}

static __always_inline void lb_count_event(struct lb_global_stats *gs, enum lb_event ev)
{
	if (gs && ev < LB_EV_MAX)
		gs->event[ev]++;
}

static __always_inline struct lb_vip_stats *lb_vip_stats(__u32 vip_id)
{
	return bpf_map_lookup_elem(&vip_stats, &vip_id);
}

static __always_inline void lb_count_backend(__u32 id, __u32 bytes)
{
	struct lb_backend_stats *bs = bpf_map_lookup_elem(&backend_stats, &id);

	if (bs) {
		bs->packets++;
		bs->bytes += bytes;
	}
}

#endif /* LB_STATS_H */
