/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Source block lists: the global deny list, checked for every packet to a
 * VIP address before its L4 header is read, and per-VIP allow lists,
 * checked once the packet's VIP is known (from its flow entry or its VIP
 * lookup). Both come before the flow table decides anything, so a blocked
 * source loses its established flows too. lb_config counts the rules of
 * each list, and an empty list is never looked up: an LPM lookup is a
 * helper call, the dearest thing an empty list could cost.
 */
#ifndef LB_BLOCK_H
#define LB_BLOCK_H

#include "lb_maps.h"
#include "lb_parse.h"

static __always_inline void lb_count_rule(const struct lb_block_rule *r)
{
	__u32 id = r->id;
	struct lb_block_stats *bs = bpf_map_lookup_elem(&block_stats, &id);

	if (bs)
		bs->packets++;
}

/* Is the packet's source in the deny list? Counts the rule that matched. */
static __always_inline int lb_denied(const struct lb_pkt *p, const struct lb_config *cfg)
{
	struct lb_block_rule *r;

	if (p->key.family == LB_FAMILY_IPV4) {
		struct lb_deny4_key k = { .prefixlen = 32, .addr = p->key.src[0] };

		if (!cfg->deny4_rules)
			return 0;
		r = bpf_map_lookup_elem(&deny4, &k);
	} else {
		struct lb_deny6_key k = { .prefixlen = 128 };

		if (!cfg->deny6_rules)
			return 0;
		__builtin_memcpy(k.addr, p->key.src, sizeof(k.addr));
		r = bpf_map_lookup_elem(&deny6, &k);
	}
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

#endif /* LB_BLOCK_H */
