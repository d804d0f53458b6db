/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The read model: the data path's per-CPU counters summed, per VIP, per
 * backend, per drop reason, per verdict and per event, and named from the
 * state model. The one source for what lbd logs, what the control socket
 * answers and what metrics export: readers never read the maps
 * themselves, and never keep a copy of the state model.
 *
 * Counters are read from the pinned maps, so they do not go back to zero
 * when lbd restarts; a VIP or backend id given to another VIP or backend
 * starts from zero (apply.c resets it).
 */
#ifndef LB_READMODEL_H
#define LB_READMODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include <jansson.h>

#include "apply.h"
#include "lb_abi.h"
#include "state.h"

struct readmodel {
	struct lb_global_stats global;
	struct lb_vip_stats *vip;	/* per config VIP of the state read with */
	struct lb_backend_stats **be;	/* per config VIP, per backend */
	size_t n_vips;
	bool counted;			/* vip and be read: the ids of st's full apply */
	__u64 read_ms;			/* wall clock of the read */
};

/*
 * Read and sum every counter for the VIPs and backends of st, with the ids
 * ap gave them (its last full apply must be of st's config). 0, or -errno
 * with rm left empty.
 */
int readmodel_read(struct readmodel *rm, const struct apply_maps *m, const struct apply *ap,
		   const struct state *st, __u64 now_ms);

void readmodel_free(struct readmodel *rm);

/* The three layers, the effective state and the counters of one VIP's
 * backend, and of the VIP, as JSON objects (docs/control-api.md). The
 * counters are null while they could not be read (no full apply of the
 * running config yet): zeros would read as a reset. */
json_t *readmodel_backend_json(const struct readmodel *rm, const struct state *st, size_t vip,
			       size_t be);
json_t *readmodel_vip_json(const struct readmodel *rm, const struct state *st, size_t vip,
			   bool with_backends);

/* Verdicts, drop reasons and events by name. */
json_t *readmodel_global_json(const struct readmodel *rm);

#endif /* LB_READMODEL_H */
