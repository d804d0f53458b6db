/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Finding the VIP and the backend: VIP lookup by (address, port, protocol)
 * then the all-ports entry; the flow table for flows already placed; the
 * VIP's Maglev table for new flows and for flows whose backend is gone.
 */
#ifndef LB_SELECT_H
#define LB_SELECT_H

#include "lb_flowtab.h"
#include "lb_hash.h"
#include "lb_maps.h"
#include "lb_parse.h"
#include "lb_stats.h"

#define LB_ADDR_VIP	0x1	/* the destination may be a VIP address */
#define LB_ADDR_L3	0x2	/* ... of an l3 VIP */

/* What vip_filter says of the destination: 0 when it is surely not a VIP
 * address, else LB_ADDR_*. An array lookup is inlined by the verifier; a
 * hash-map lookup is a call, the dearest thing on the pass path. */
static __always_inline int lb_vip_addr_class(const struct lb_pkt *p)
{
	__u32 zero = 0, bit, l3;
	struct lb_vip_filter *f;

	f = bpf_map_lookup_elem(&vip_filter, &zero);
	if (!f)
		return 0;
	bit = lb_addr_hash(p->key.dst, p->key.family) % LB_VIP_FILTER_BITS;
	if (!((f->bits[bit / 64] >> (bit % 64)) & 1))
		return 0;
	l3 = LB_VIP_FILTER_L3(bit);
	return LB_ADDR_VIP | (((f->bits[l3 / 64] >> (l3 % 64)) & 1) ? LB_ADDR_L3 : 0);
}

/* vip_map's value for key vk from the VIP index, or NULL when the index
 * does not hold it. Both lookups are inlined: an array of maps and an
 * array of a size every index shares. */
static __always_inline struct lb_vip *lb_vip_indexed(const struct lb_vip_key *vk)
{
	struct lb_vip_index *ix;
	struct lb_vip_slot *s;
	__u32 zero = 0, b;
	__u64 w[3];
	void *inner;
	int i;

	inner = bpf_map_lookup_elem(&vip_index, &zero);
	if (!inner)
		return NULL;
	ix = bpf_map_lookup_elem(inner, &zero);
	if (!ix)
		return NULL;
	__builtin_memcpy(w, vk, sizeof(w));
	b = lb_vip_index_bucket(w);
	for (i = 0; i < LB_VIP_INDEX_WAYS; i++) {
		s = &ix->slot[b][i];
		if (s->key[0] == w[0] && s->key[1] == w[1] && s->key[2] == w[2])
			return &s->vip;
	}
	return NULL;
}

static __always_inline struct lb_vip *lb_vip_get(const struct lb_vip_key *vk)
{
	struct lb_vip *vip = lb_vip_indexed(vk);

	return vip ? vip : bpf_map_lookup_elem(&vip_map, vk);
}

static __always_inline struct lb_vip *lb_vip_find(const __be32 addr[4], __u8 family,
						  __be16 port, __u8 proto, __u8 flags)
{
	struct lb_vip_key vk = {};
	struct lb_vip *vip;

	__builtin_memcpy(vk.addr, addr, sizeof(vk.addr));
	vk.family = family;
	vk.proto = proto;
	vk.flags = flags;
	if (port) {
		vk.port = port;
		vip = lb_vip_get(&vk);
		if (vip)
			return vip;
		vk.port = 0;
	}
	return lb_vip_get(&vk);
}

/* The VIP a packet is for. A later fragment has no port: it goes where
 * the controller's fragment entry for (address, protocol) says, or to an
 * all-ports VIP. */
static __always_inline struct lb_vip *lb_vip_lookup(const struct lb_pkt *p)
{
	const struct lb_flow_key *k = &p->key;
	struct lb_vip *vip;

	if (p->frag != LB_FRAG_LATER)
		return lb_vip_find(k->dst, k->family, k->dport, k->proto, 0);
	vip = lb_vip_find(k->dst, k->family, 0, k->proto, LB_VIP_KEY_FRAG);
	if (vip)
		return vip;
	return lb_vip_find(k->dst, k->family, 0, k->proto, 0);
}

/* Backend id in the VIP's table slot for a flow of hash h, or 0. */
static __always_inline __u32 lb_table_pick(__u32 h, __u32 vip_id)
{
	__u32 zero = 0, size, slot, entry;
	__u64 *hdr, *ids;
	void *table;

	table = bpf_map_lookup_elem(&vip_tables, &vip_id);
	if (!table)
		return LB_BACKEND_INVALID;
	hdr = bpf_map_lookup_elem(table, &zero);
	size = hdr ? (__u32)*hdr : 0;
	if (!size)
		return LB_BACKEND_INVALID;
	slot = h % size;
	entry = lb_table_entry_of(slot);
	ids = bpf_map_lookup_elem(table, &entry);
	return ids ? lb_table_lane(*ids, slot) : LB_BACKEND_INVALID;
}

static __always_inline struct lb_backend *lb_backend_get(__u32 id)
{
	return bpf_map_lookup_elem(&backends, &id);
}

/*
 * Where a flow's entry is, or would go. The set is read only when the flow
 * table is asked; lb_flow_hash(), for the VIP's table, only when a flow is
 * placed by it.
 */
struct lb_flow_ref {
	struct lb_flow_set *set;	/* NULL: not looked up yet, or no set */
	struct lb_flow_slot *slot;	/* the flow's entry; NULL: none */
	__u64 tag;			/* lb_flow_locate() */
	__u32 id;			/* the entry's backend id, as read with its tag */
};

/* Find the flow's entry in its set (lb_flow_way_find()). */
static __always_inline void lb_flow_find(const struct lb_pkt *p, struct lb_flow_ref *r)
{
	__u32 idx = lb_flow_locate(&p->key, lb_flow_seed_set, lb_flow_seed_tag, lb_flow_set_mask,
				   &r->tag);
	int way;

	r->slot = NULL;
	r->set = bpf_map_lookup_elem(&flow_table, &idx);
	if (!r->set)
		return;
	way = lb_flow_way_find(r->set, r->tag, &r->id);
	/* The verifier wants a bound it can see. */
	if (way >= 0 && way < LB_FLOW_WAYS)
		r->slot = &r->set->way[way];
}

/* Mark a flow entry seen now. bpf_jiffies64() is inlined by the verifier,
 * a clock helper is not. Writing only when the tick changed keeps the
 * cache line clean. */
static __always_inline void lb_flow_touch(struct lb_flow_slot *f)
{
	__u32 now = (__u32)bpf_jiffies64();

	if (f->seen != now)
		f->seen = now;
}

/* A flow already placed keeps its backend while that backend is up.
 * Returns 1 when it does, 0 when the flow is unknown, -1 when its backend
 * is gone and the flow must be placed again (lb_pick() counts that, once it
 * does: a flow of a removed VIP is passed, not placed). r: where it is. */
static __always_inline int lb_flow_follow(struct lb_pkt *p, struct lb_flow_ref *r, __u32 *id,
					  struct lb_backend **be)
{
	lb_flow_find(p, r);
	if (!r->slot)
		return 0;
	*be = lb_backend_get(r->id);
	if (!*be || !((*be)->flags & LB_BACKEND_F_UP))
		return -1;
	lb_flow_touch(r->slot);
	*id = r->id;
	return 1;
}

/*
 * The new-flow flood guard: may this CPU create one more flow entry now?
 * At most cap per one-second window (0: no cap). Above it a new flow is
 * still placed by the VIP's table, which gives the same backend as long as
 * the backend set does not change, but not recorded: a SYN flood then
 * cannot push established flows out of the flow table, nor cost an insert per
 * packet. The clock is read only here, on the way to creating an entry
 * with a cap set: bpf_ktime_get_coarse_ns() (tick resolution, all the
 * window needs) rather than jiffies, whose rate would need the kernel's
 * CONFIG_HZ, which libbpf can only read when the kernel's config file is
 * installed, failing the load otherwise.
 */
#define LB_GUARD_WINDOW_NS	1000000000ULL

/* May this CPU create a flow entry now? take: count the one it creates. */
static __always_inline int lb_guard_room(__u32 cap, int take)
{
	struct lb_guard *g;
	__u32 zero = 0;
	__u64 now, tick;

	if (!cap)
		return 1;
	g = bpf_map_lookup_elem(&flow_guard, &zero);
	if (!g)
		return 1;
	/* The coarse clock moves once a tick: within the tick it was last
	 * read in, no window can have ended since. Under a flood that spares
	 * all but one helper call a tick. */
	tick = bpf_jiffies64();
	if (tick != g->tick) {
		g->tick = tick;
		now = bpf_ktime_get_coarse_ns();
		if (now - g->window >= LB_GUARD_WINDOW_NS) {
			g->window = now;
			g->created = 0;
		}
	}
	if (g->created >= cap)
		return 0;
	if (take)
		g->created++;
	return 1;
}

/* known, before lb_flow_follow() was asked about the packet's key. */
#define LB_FLOW_UNTRIED	2

/*
 * Record a flow's backend. known: what lb_flow_follow() said of the key (0:
 * no entry, -1: an entry whose backend is gone), or 0 for a SYN whose set
 * lb_pick() read (r holds the set and any entry of the flow). A SYN whose
 * flow has an entry on that backend already (a retransmission, or a client
 * reusing its port) only marks it seen. Otherwise the flow's way, or the
 * set's free or oldest way, is filled (lb_flow_way_fill()): the backend id
 * goes in with the tag, in one store, so a reader never pairs this flow's
 * tag with another flow's backend. Two CPUs filling the same way at once
 * leave one of the two flows unrecorded: its next packet is placed by the
 * VIP's table again, as after an eviction. Only entries created count as
 * new flows.
 */
static __always_inline void lb_flow_record(struct lb_pkt *p, struct lb_flow_ref *r, __u32 id,
					   int known, const struct lb_config *cfg,
					   struct lb_vip_stats *vs, struct lb_global_stats *gs)
{
	__u32 now = (__u32)bpf_jiffies64();
	__u32 cap = cfg->flow_cap;
	struct lb_flow_slot *w;
	int way;

	if (r->slot && r->id == id) {
		lb_flow_touch(r->slot);
		return;
	}
	/* Creating an entry is capped; replacing one whose backend is gone
	 * is not, or the flow's next packets would each be placed again. */
	if (known >= 0 && !r->slot && !lb_guard_room(cap, 1))
		goto held_back;
	if (!r->set) {
		lb_count_event(gs, LB_EV_FLOW_INSERT_FAIL);
		return;
	}
	w = r->slot;
	if (!w) {
		way = lb_flow_way_victim(r->set, now);
		if (way < 0 || way >= LB_FLOW_WAYS)
			return;
		w = &r->set->way[way];
	}
	/* It passed the block lists just now. */
	lb_flow_way_fill(w, r->tag, id, now, p->block_gen);
	if (vs && known >= 0 && !r->slot)
		vs->new_flows++;
	return;
held_back:
	lb_count_event(gs, LB_EV_GUARD_SKIP);
}

static __always_inline int lb_is_syn(const struct lb_pkt *p)
{
	return p->key.proto == IPPROTO_TCP &&
	       (p->tcp_flags & (LB_TCP_SYN | LB_TCP_ACK)) == LB_TCP_SYN;
}


/*
 * Whether a packet may follow the flow table before its VIP is looked up:
 * a flow entry exists only for VIP traffic, and a backend entry names its
 * VIP, so a hit whose backend is up needs no VIP lookup. A removed VIP's
 * backends are retired (not up), so its flows fall through to the VIP
 * lookup and are passed. SYNs and fragments wait for the VIP: a SYN to a
 * 5tuple VIP always takes the table, a fragment to one is dropped. So do
 * packets to an l3 VIP's address: its entries have no ports.
 */
static __always_inline int lb_flow_first(const struct lb_pkt *p, int addr_class)
{
	return !(addr_class & LB_ADDR_L3) && p->frag == LB_FRAG_NONE && !lb_is_syn(p);
}

/*
 * Pick the backend for a packet to a VIP. A TCP SYN always takes the
 * table's choice and records it; other packets follow the flow table and
 * fall back to the table. An RST never creates an entry, and neither does
 * an ICMP error steered to a flow (record == 0). For an l3 VIP one entry
 * holds every connection of the address pair, so a SYN follows it too:
 * taking the table's choice would move the client's other connections.
 *
 * known: what lb_flow_follow() said for this key before the VIP lookup (0
 * or -1), or LB_FLOW_UNTRIED when it was not asked (see lb_flow_first()).
 * An l3 VIP's key lost its ports since, so it is looked up again. The
 * packet has passed the block lists (of generation p->block_gen).
 */
static __always_inline int lb_pick(struct lb_pkt *p, const struct lb_vip *vip, int record,
				   int known, struct lb_flow_ref *r, const struct lb_config *cfg,
				   struct lb_vip_stats *vs, struct lb_global_stats *gs, __u32 *id,
				   struct lb_backend **be)
{
	int syn = lb_is_syn(p), held = 0;

	if ((vip->flags & LB_VIP_F_HASH_L3) || (known == LB_FLOW_UNTRIED && !syn)) {
		known = lb_flow_follow(p, r, id, be);
		if (known > 0)
			return LB_OK;
	}
	if (known < 0)
		lb_count_event(gs, LB_EV_FLOW_REPICK);
	if (!known && !syn && vs && record && p->key.proto == IPPROTO_TCP &&
	    p->frag != LB_FRAG_LATER)
		vs->nonsyn_miss++;
	/* A SYN to be recorded reads its set before the VIP's table: the
	 * set does not depend on the backend, so the two cache misses of a
	 * new flow in a large table overlap instead of following each other.
	 * With the guard holding new flows back it looks nothing up: a flood
	 * is SYNs of flows the table does not hold. */
	if (known == LB_FLOW_UNTRIED && record && !(p->tcp_flags & LB_TCP_RST)) {
		if (lb_guard_room(cfg->flow_cap, 0)) {
			lb_flow_find(p, r);
			known = 0;
		} else {
			held = 1;
			record = 0;
		}
	}
	*id = lb_table_pick(lb_flow_hash(&p->key), vip->id);
	if (*id == LB_BACKEND_INVALID)
		return -LB_DROP_NO_BACKEND;
	*be = lb_backend_get(*id);
	if (!*be || !(*be)->family)
		return -LB_DROP_BAD_BACKEND;
	/* Counted once the flow is placed, as before the set moved up. */
	if (held)
		lb_count_event(gs, LB_EV_GUARD_SKIP);
	if (record && !(p->tcp_flags & LB_TCP_RST))
		lb_flow_record(p, r, *id, known, cfg, vs, gs);
	return LB_OK;
}

#endif /* LB_SELECT_H */
