/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Turning a validated config into map contents, as a diff against what the
 * maps hold now. The maps are the only record: VIP ids come from vip_map,
 * backend ids from the backends map (each entry names its VIP), so a new
 * lbd adopting pinned maps continues where the old one stopped.
 *
 * Only what changed is written: a VIP's table is rebuilt from its active
 * backends and swapped in only when it differs from the installed one; a
 * backend id whose flows might still exist is never given to another
 * backend.
 */
#ifndef LB_APPLY_H
#define LB_APPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#include "config.h"

struct apply_maps {
	int vip_map;
	int vip_tables;
	int backends;
	int flow_table;
	int lb_cfg;
	int vip_filter;
	int vip_stats;
	int backend_stats;
};

/* What lbd learned from the kernel rather than from the file. */
struct apply_env {
	__u8 src_mac[6];
	__u8 next_hop[6];	/* all zero: not known yet (keep what lb_cfg has) */
	__u32 mtu;		/* the interface's MTU, used when the config sets none */
};

struct apply_stats {
	size_t tables_swapped;
	size_t tables_removed;
	size_t vips_added;
	size_t vips_removed;
	size_t backends_added;
	size_t backends_retired;
	size_t backends_changed;
};

/*
 * Returns 0, or -errno with a reason in err. -ENOSPC: the config needs more
 * VIP or backend ids than are free; no map was written. Any other error
 * may leave the writes done before it (apply.c says why that is safe).
 */
int apply_config(const struct apply_maps *m, const struct config *cfg,
		 const struct apply_env *env, struct apply_stats *st, char *err, size_t errlen);

/* Write only the next-hop MAC into lb_cfg. 0 or -errno. */
int apply_next_hop(const struct apply_maps *m, const __u8 mac[6]);

#endif /* LB_APPLY_H */
