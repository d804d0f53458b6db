/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The flow table from user space: walked through a memory mapping, one
 * flow looked up by its 5-tuple, entries written the way the data path
 * writes them (common/lb_flowtab.h), and the flows of the LRU flow table
 * of earlier releases carried into it at an upgrade.
 */
#ifndef LB_FLOWTAB_USER_H
#define LB_FLOWTAB_USER_H

#include <stddef.h>
#include <linux/types.h>

#include "lb_abi.h"

/* The flow table mapped. */
struct flowtab {
	struct lb_flow_set *sets;
	__u32 nsets;		/* a power of two; the head follows them */
	__u32 seed_set, seed_tag;	/* from the head */
	size_t len;		/* of the mapping */
};

/* Map the flow table map fd (read-only unless writable). 0 or -errno. */
int flowtab_open(int fd, int writable, struct flowtab *t);
void flowtab_close(struct flowtab *t);

/* Call fn for every entry in use. fn returns 0 to go on, anything else to
 * stop with that value. Entries written meanwhile may or may not be seen.
 * 0, fn's value, or -errno. */
int flowtab_walk(int fd, int (*fn)(const struct lb_flow_slot *e, void *data), void *data);

/* Flow k's entry. 0, -ENOENT (none) or -errno. */
int flowtab_lookup(int fd, const struct lb_flow_key *k, struct lb_flow_slot *out);

/* Record flow k on backend id, seen at seen (32-bit jiffies), stamped
 * block_gen, as the data path would: its own way, else a free one, else
 * the one seen longest ago if that is older than seen (a full set of
 * younger flows is left alone). keep: leave an entry the flow already has
 * as it is. Returns 1 when it wrote, 0 when it did not, -EINVAL for an id
 * out of range. */
int flowtab_put(struct flowtab *t, const struct lb_flow_key *k, __u32 id, __u32 seen,
		__u32 block_gen, int keep);

/*
 * Carry the flows of an LRU flow table (lb_flow_key -> struct lb_flow_lru,
 * the layout of earlier releases) into the flow table t: each flow not in
 * t yet is put there, older flows first, so a set that overflows keeps its
 * most recently seen. *carried: the flows written. 0 or -errno.
 */
int flowtab_carry_lru(int lru_fd, struct flowtab *t, size_t *carried);

/* Is map fd an LRU flow table of earlier releases? */
int flowtab_is_lru(int fd);

/* The head of flow table fd: its sets and its seeds. -EINVAL for a map
 * that is no flow table of this release, -ENOKEY for one whose seeds were
 * never drawn; else 0 or -errno. */
int flowtab_head(int fd, __u32 *nsets, struct lb_flow_head *head);

/* Draw a new table's seeds into head. 0 or -EIO. */
int flowtab_draw(struct lb_flow_head *head);

/* Write head into flow table fd of nsets sets. 0 or -errno. */
int flowtab_head_write(int fd, __u32 nsets, const struct lb_flow_head *head);

#endif /* LB_FLOWTAB_USER_H */
