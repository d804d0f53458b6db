/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Source block lists: the global deny list and per-VIP allow lists, checked
 * for every packet to a VIP address before its flow entry or the VIP's
 * table is followed, so a blocked source loses its established flows too.
 * lb_config counts the rules of each list, and an empty list is never
 * looked up: an LPM lookup is a helper call, and with thousands of
 * prefixes a walk of a dozen nodes or more. Established flows carry the
 * lists' generation in their entry and skip both lookups while it holds
 * (lb_flow_screen()).
 */
#ifndef LB_BLOCK_H
#define LB_BLOCK_H

#include "lb_hash.h"
#include "lb_maps.h"
#include "lb_parse.h"

static __always_inline void lb_count_rule(const struct lb_block_rule *r)
{
	__u32 id = r->id;
	struct lb_block_stats *bs = bpf_map_lookup_elem(&block_stats, &id);

	if (bs)
		bs->packets++;
}

/* May the deny list hold the packet's source? An array read, inlined by
 * the verifier, spares most sources the trie (lb_abi.h). */
static __always_inline int lb_deny_maybe(const struct lb_pkt *p)
{
	struct lb_deny_filter *f;
	__u32 zero = 0, bit;

	f = bpf_map_lookup_elem(&deny_filter, &zero);
	if (!f)
		return 1;
	if (p->key.family == LB_FAMILY_IPV4) {
		bit = lb_deny4_bit(p->key.src[0]);
		return (f->v4[bit / 64] >> (bit % 64)) & 1;
	}
	bit = lb_deny6_bit(p->key.src[0]);
	return (f->v6[bit / 64] >> (bit % 64)) & 1;
}

/* The deny rule the packet's source falls under, or NULL. Not counted:
 * a rule counts the packets it drops, and only a VIP's are dropped. */
static __always_inline struct lb_block_rule *lb_deny_rule(const struct lb_pkt *p,
							  const struct lb_config *cfg)
{
	if (p->key.family == LB_FAMILY_IPV4) {
		struct lb_deny4_key k = { .prefixlen = 32, .addr = p->key.src[0] };

		if (!cfg->deny4_rules || !lb_deny_maybe(p))
			return NULL;
		return bpf_map_lookup_elem(&deny4, &k);
	} else {
		struct lb_deny6_key k = { .prefixlen = 128 };

		if (!cfg->deny6_rules || !lb_deny_maybe(p))
			return NULL;
		__builtin_memcpy(k.addr, p->key.src, sizeof(k.addr));
		return bpf_map_lookup_elem(&deny6, &k);
	}
}

/* A packet known to be for a VIP: is its source denied? Counts the rule. */
static __always_inline int lb_denied(const struct lb_pkt *p, const struct lb_config *cfg)
{
	struct lb_block_rule *r = lb_deny_rule(p, cfg);

	if (!r)
		return 0;
	lb_count_rule(r);
	return 1;
}

/* May the packet's source reach VIP vip_id? Yes when the VIP has no allow
 * list; else only from a prefix in it, whose rule is counted. For an ICMP
 * error steered to a flow the source is the flow's client, whom the
 * error is about. */
static __always_inline int lb_allowed(const struct lb_pkt *p, const struct lb_config *cfg,
				      __u32 vip_id)
{
	struct lb_block_rule *r;
	__u32 *n;

	if (!cfg->allow_rules)
		return 1;
	n = bpf_map_lookup_elem(&vip_allow, &vip_id);
	if (!n || !*n)
		return 1;
	if (p->key.family == LB_FAMILY_IPV4) {
		struct lb_allow4_key k = {
			.prefixlen = LB_ALLOW_VIP_BITS + 32,
			.vip = bpf_htonl(vip_id),
			.addr = p->key.src[0],
		};

		r = bpf_map_lookup_elem(&allow4, &k);
	} else {
		struct lb_allow6_key k = {
			.prefixlen = LB_ALLOW_VIP_BITS + 128,
			.vip = bpf_htonl(vip_id),
		};

		__builtin_memcpy(k.addr, p->key.src, sizeof(k.addr));
		r = bpf_map_lookup_elem(&allow6, &k);
	}
	if (!r)
		return 0;
	lb_count_rule(r);
	return 1;
}

/*
 * The block lists for a packet that follows its flow entry. An entry
 * stamped with the lists' current generation belongs to a source that
 * passed them since they last changed: one compare, whatever the lists
 * hold. Otherwise the packet is checked and, when it passes, the entry is
 * stamped. The stamp is written through the pointer, so another CPU may
 * have evicted the element and reused it for a new flow meanwhile; that
 * flow was checked when it was created, after this packet read the
 * generation, so the stamp never claims more than was checked. A steered
 * ICMP error was checked on its sender, not on the flow's client: it
 * checks the allow list and stamps nothing.
 */
static __always_inline int lb_flow_screen(const struct lb_pkt *p, const struct lb_config *cfg,
					  struct lb_flow_slot *f, __u32 vip_id, int steered)
{
	__u32 gen = cfg->block_gen;

	if (f->block_gen == gen)
		return 0;
	if (!steered && lb_denied(p, cfg))
		return -LB_DROP_DENIED;
	if (!lb_allowed(p, cfg, vip_id))
		return -LB_DROP_NOT_ALLOWED;
	if (!steered)
		f->block_gen = gen;
	return 0;
}

#endif /* LB_BLOCK_H */
