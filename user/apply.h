/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The map writer: turns the state model's effective states into map
 * contents, as a diff against what the maps hold. The maps are the record:
 * VIP ids come from vip_map, backend ids from the backends map (each entry
 * names its VIP), so a new lbd adopting pinned maps continues where the old
 * one stopped.
 *
 * Two ways in. apply_state() is the full one, after a start or a new
 * config: it reads the maps, gives ids, and writes what differs.
 * apply_dirty() is the quick one, for the VIPs the state model marked
 * dirty (health, operator): the ids of the last full apply, only those
 * VIPs' backend entries, flags and tables, no map read. Either way only
 * what changed is written, and tables go in through tables.c, batched.
 */
#ifndef LB_APPLY_H
#define LB_APPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#include "config.h"
#include "state.h"

struct apply_maps {
	int vip_map;
	int vip_tables;
	int backends;
	int flow_table;
	int lb_cfg;
	int vip_filter;
	int vip_index;
	int vip_stats;
	int backend_stats;
	int lb_stats;		/* read only, by readmodel.c */
};

struct bpf_object;

/* The maps of a loaded balancer object, by name. 0, or -ENOENT when one is
 * missing. */
int apply_maps_find(struct bpf_object *obj, struct apply_maps *m);

/* What lbd learned from the kernel rather than from the file. */
struct apply_env {
	__u8 src_mac[6];
	__u8 next_hop[6];	/* all zero: not known yet (keep what lb_cfg has) */
	__u32 mtu;		/* the interface's MTU, used when the config sets none */
};

struct apply_stats {
	size_t tables_swapped;
	size_t tables_removed;		/* emptied: no backend in */
	size_t table_batches;		/* batched map updates: the kernel waits once each */
	size_t vips_added;
	size_t vips_removed;
	size_t backends_added;
	size_t backends_retired;
	size_t backends_changed;
};

struct apply;

/* NULL with errno on error. */
struct apply *apply_new(const struct apply_maps *m);
void apply_free(struct apply *a);

/*
 * Everything. Returns 0, or -errno with a reason in err. -ENOSPC (the
 * config needs more VIP or backend ids than are free) or -ENOMEM while
 * planning: no map was written. -EIO: a write failed once writing had
 * begun, which may leave the writes done before it (apply.c says why that
 * is safe); until a full apply succeeds, apply_dirty() refuses.
 */
int apply_state(struct apply *a, const struct state *model, const struct apply_env *env,
		struct apply_stats *st, char *err, size_t errlen);

/*
 * The VIPs marked dirty only, with the ids of the last full apply, which
 * must have been of model's config generation (else -ESTALE). 0 or -errno
 * with a reason in err. Leaves the dirty flags to the caller
 * (state_clean()).
 */
int apply_dirty(struct apply *a, const struct state *model, struct apply_stats *st,
		char *err, size_t errlen);

/* The data path ids the last full apply gave VIP vip (LB_MAX_VIPS: none)
 * and its backend be (LB_BACKEND_INVALID: none), by config index. */
__u32 apply_vip_id(const struct apply *a, size_t vip);
__u32 apply_backend_id(const struct apply *a, size_t vip, size_t be);

/* The caller put in a config the last full apply was not of (it failed
 * before writing anything, so apply_state() kept its ids): the ids index
 * another config's VIPs and backends. None until a full apply succeeds. */
void apply_forget(struct apply *a);

/* Write only the next-hop MAC into lb_cfg. 0 or -errno. */
int apply_next_hop(const struct apply_maps *m, const __u8 mac[6]);

/* Each backend id's slots in its VIP's installed table, into slots
 * (LB_MAX_BACKENDS entries, zeroed first). From what apply built: no
 * table is read. */
void apply_slots(const struct apply *a, __u32 *slots);

#endif /* LB_APPLY_H */
