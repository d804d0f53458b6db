/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Writing the balancer's maps from user space: the pieces lbd, the tests
 * and the benchmark share.
 */
#ifndef LB_DATAPATH_H
#define LB_DATAPATH_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "lb_abi.h"

/*
 * Install a VIP's Maglev table: create a new inner map holding the size and
 * the size backend ids (packed as lb_abi.h says), then point
 * vip_tables[vip_id] at it in one update. Packets see the old table or the
 * new one, never a mix. The old inner map is freed by the kernel once no
 * packet uses it. Returns 0 or -errno (-EINVAL for a size of 0 or above
 * LB_TABLE_SIZE_MAX, or an id of LB_MAX_BACKENDS or more); on error the old
 * table stays in place.
 */
int datapath_table_swap(int vip_tables_fd, __u32 vip_id, const __u32 *table, __u32 size);

/*
 * The first half of a swap: a new inner map holding a table of size slots,
 * complete, not yet installed. size 0 (table NULL) makes an empty table:
 * installed, it drops the VIP's new flows (no_backend) like no table at
 * all, and installing it is an update, which batches, where removing an
 * entry is a delete, which does not. Returns the map's fd or -errno.
 */
int datapath_table_new(const __u32 *table, __u32 size);

/*
 * The second half, for many VIPs at once: vip_tables[vip_ids[i]] = fds[i]
 * for i < *n, in one batched update, so that the kernel waits for the
 * programs that might still read the old tables once for the lot, not once
 * a table. Each VIP's packets see its old table or its new one. On return
 * *n is how many were installed (all of them on success). 0 or -errno.
 */
int datapath_tables_install(int vip_tables_fd, const __u32 *vip_ids, const int *fds, __u32 *n);

/*
 * Read the table installed for vip_id into a new array of *size ids
 * (freed by the caller). Returns 0, -ENOENT when the VIP has no table (or
 * one of size 0), -EIO when its size is past LB_TABLE_SIZE_MAX or its
 * entries are fewer than the size needs, or -errno.
 */
int datapath_table_read(int vip_tables_fd, __u32 vip_id, __u32 **table, __u32 *size);

/* Set the bits vip_map entry (k, v) asks for in a VIP filter. */
void datapath_filter_add(struct lb_vip_filter *filter, const struct lb_vip_key *k,
			 const struct lb_vip *v);

/*
 * Rebuild the VIP filter bitmap from every address in vip_map (and the l3
 * bits of addresses with an l3 VIP) and write it in one update. Call it after adding vip_map entries and before deleting
 * them is not needed: a stale set bit only costs a hash lookup. 0 or -errno.
 */
int datapath_filter_sync(int vip_map_fd, int vip_filter_fd);

/*
 * Put vip_map entry (k, v) in a VIP index (lb_abi.h): in the slot of its
 * bucket that holds k already, else the first free one. Returns false when
 * the bucket is full; the data path then finds k in vip_map.
 */
bool datapath_index_add(struct lb_vip_index *ix, const struct lb_vip_key *k,
			const struct lb_vip *v);

/*
 * Install a VIP index: a new inner map holding ix, put in vip_index's one
 * slot in one update, so a packet reads the old index or the new one. The
 * index may only hold entries vip_map holds with the same values: write
 * vip_map entries before an index that has them, and an index without
 * entries before deleting them. 0 or -errno; on error the old index stays.
 */
int datapath_index_swap(int vip_index_fd, const struct lb_vip_index *ix);

/* Rebuild the VIP index from every entry in vip_map, and install it. For
 * the tests, which write vip_map directly. 0 or -errno. */
int datapath_index_sync(int vip_map_fd, int vip_index_fd);

/*
 * Call fn for every entry of a hash or array map, read in batches of chunk
 * entries (a map may hold millions; for a hash map, chunk must be at least
 * its largest bucket). fn returns 0 to go on, anything else to stop with
 * that value. Entries created or removed meanwhile may or may not be seen.
 * 0, fn's value, or -errno.
 */
int datapath_map_walk(int fd, size_t key_size, size_t value_size, __u32 chunk,
		      int (*fn)(const void *key, const void *value, void *data), void *data);

/* Which backend a flow gets from a table, as the data path computes it. */
__u32 datapath_table_lookup(const __u32 *table, __u32 size, const struct lb_flow_key *key);

#endif /* LB_DATAPATH_H */
