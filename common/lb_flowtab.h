/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The flow table's placement rules, compiled into the BPF program and into
 * user space alike (lbd counts, looks up and carries flows with them):
 * which set a flow's entry is in, its tag, how a set is searched and which
 * way a new entry takes. Layouts are in lb_abi.h.
 *
 * A flow's set is the low bits of a hash of its 5-tuple (lb_flow_hash()'s,
 * with the table's set seed), its tag a second such hash (32 bits, with the
 * tag seed) over the top 16 bits of the first. The seeds are the table's,
 * drawn when it is created (struct lb_flow_head): without them nobody can
 * pick 5-tuples that land in a given flow's set. Two flows are confused
 * only when both hashes agree: with 2^18 sets (a 1M-entry table) 46
 * independent bits, compared against the 4 ways of one set.
 */
#ifndef LB_FLOWTAB_H
#define LB_FLOWTAB_H

#include "lb_abi.h"
#include "lb_hash.h"

/* Flow k's set in a table of mask + 1 sets (a power of two), and in *tag
 * its tag, placed above the backend id's 16 bits of tag_id. */
static inline __u32 lb_flow_locate(const struct lb_flow_key *k, __u32 seed_set, __u32 seed_tag,
				   __u32 mask, __u64 *tag)
{
	__u32 h = lb_flow_hash_seeded(k, seed_set);

	*tag = (__u64)lb_flow_hash_seeded(k, seed_tag) << 32 | (__u64)(h >> 16) << 16;
	return h & mask;
}

/* Sets for a table of at least entries entries: a power of two. */
static inline __u32 lb_flow_sets_for(__u32 entries)
{
	__u32 sets = 1;

	while ((__u64)sets * LB_FLOW_WAYS < entries)
		sets *= 2;
	return sets;
}

/* The way of set s holding tag, or -1; *id: its backend id. The tag and the
 * id are read in one 8-byte load. */
static inline int lb_flow_way_find(const struct lb_flow_set *s, __u64 tag, __u32 *id)
{
	__u64 v;
	int i;

	for (i = 0; i < LB_FLOW_WAYS; i++) {
		v = *(const volatile __u64 *)&s->way[i].tag_id;
		if ((v & LB_FLOW_TAG_MASK) == tag && (v & LB_FLOW_ID_MASK)) {
			*id = (__u32)(v & LB_FLOW_ID_MASK);
			return i;
		}
	}
	return -1;
}

/* The way a new entry takes at time now (32-bit jiffies): a free one, else
 * the one seen longest ago. */
static inline int lb_flow_way_victim(const struct lb_flow_set *s, __u32 now)
{
	__u32 age, oldest = 0;
	int i, v = 0;

	for (i = 0; i < LB_FLOW_WAYS; i++) {
		if (!s->way[i].tag_id)
			return i;
		age = now - s->way[i].seen;
		if (age > oldest) {
			oldest = age;
			v = i;
		}
	}
	return v;
}

/* Fill a way: its time and stamp first, then tag and backend id in one
 * 8-byte store, so that on x86, whose stores are seen in order, a reader
 * that matches the new tag finds the new time and stamp too. Elsewhere it
 * may pair them with the old entry's for a moment: the time only moves the
 * entry's age, and the stamp decides whether that one packet's source is
 * checked against the block lists again; the backend is never mixed. */
static inline void lb_flow_way_fill(struct lb_flow_slot *w, __u64 tag, __u32 id, __u32 now,
				    __u32 block_gen)
{
	w->seen = now;
	w->block_gen = block_gen;
	*(volatile __u64 *)&w->tag_id = tag | id;
}

#endif /* LB_FLOWTAB_H */
