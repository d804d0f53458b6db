// SPDX-License-Identifier: GPL-2.0-only
/*
 * sluice's balancer: parse, find the VIP, find or place the flow, pick the
 * backend, encapsulate, count, send back out with XDP_TX. Traffic that is
 * not for a VIP is passed to the stack untouched.
 */
#include "lb_block.h"
#include "lb_encap.h"
#include "lb_icmp.h"
#include "lb_maps.h"
#include "lb_parse.h"
#include "lb_select.h"
#include "lb_stats.h"

static __always_inline const struct lb_config *lb_config(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&lb_cfg, &zero);
}

/* Encapsulate a packet for its backend and send it, or answer a client
 * whose packet would be too big in the tunnel. No answer (a drop) for
 * steered (an ICMP error about one of the VIP's flows) or any ICMP packet,
 * a source that may not be answered, or an IPv4 fragment, whose quote
 * would name no flow (RFC 1122 3.2.2); an IPv6 source fragments itself,
 * and learns its size from the answer. */
static __always_inline int lb_deliver(struct xdp_md *ctx, struct lb_pkt *p,
				      const struct lb_config *cfg, __u32 id,
				      const struct lb_backend *be, int steered,
				      struct lb_global_stats *gs)
{
	__u32 mtu = lb_mtu(cfg) - lb_outer_len(be);
	int rc;

	if (p->l3_len > mtu) {
		if (steered || p->key.proto == IPPROTO_ICMP || p->key.proto == IPPROTO_ICMPV6 ||
		    !lb_src_answerable(p) ||
		    (p->key.family == LB_FAMILY_IPV4 && p->frag != LB_FRAG_NONE))
			return -LB_DROP_TOO_BIG;
		rc = lb_send_too_big(ctx, p, cfg, mtu);
		if (rc == LB_TX)
			lb_count_event(gs, LB_EV_TOO_BIG_SENT);
		return rc;
	}
	rc = lb_encap(ctx, p, be, cfg);
	if (rc)
		return rc;
	lb_count_backend(id, p->frame_len);
	if (steered)
		lb_count_event(gs, LB_EV_ICMP_STEERED);
	return LB_TX;
}

static __always_inline struct lb_vip_stats *lb_count_vip(__u32 vip_id, const struct lb_pkt *p)
{
	struct lb_vip_stats *vs = lb_vip_stats(vip_id);

	if (vs) {
		vs->packets++;
		vs->bytes += p->frame_len;
	}
	return vs;
}

/* A packet for a VIP that no flow entry placed: pick its backend. A
 * steered ICMP error never creates a flow entry. known: as for lb_pick(). */
static __always_inline int lb_forward(struct xdp_md *ctx, struct lb_pkt *p,
				      const struct lb_vip *vip, const struct lb_config *cfg,
				      int steered, int known, struct lb_flow_ref *r,
				      struct lb_global_stats *gs)
{
	struct lb_vip_stats *vs;
	struct lb_backend *be;
	__u32 id;
	int rc;

	if (!lb_allowed(p, cfg, vip->id))
		return -LB_DROP_NOT_ALLOWED;
	vs = lb_count_vip(vip->id, p);

	/* Health took every backend down and the policy is drop: their
	 * entries are not up, so no flow of the VIP got this far by one. */
	if (vip->flags & LB_VIP_F_ALL_DOWN)
		return -LB_DROP_ALL_DOWN;
	if (vip->flags & LB_VIP_F_HASH_L3) {
		p->key.sport = 0;
		p->key.dport = 0;
	} else if (p->frag != LB_FRAG_NONE) {
		return -LB_DROP_FRAG;
	}
	rc = lb_pick(p, vip, !steered, known, r, cfg, vs, gs, &id, &be);
	if (rc)
		return rc;
	return lb_deliver(ctx, p, cfg, id, be, steered, gs);
}

static __always_inline int lb_process(struct xdp_md *ctx, struct lb_pkt *p,
				      struct lb_global_stats *gs)
{
	const struct lb_config *cfg;
	struct lb_backend *be;
	struct lb_flow_ref ref = {};
	int known = LB_FLOW_UNTRIED;
	struct lb_block_rule *deny = NULL;
	struct lb_vip *vip;
	int steered = 0, deny_asked = 0;
	int addr;
	__u32 id;
	int rc;

	rc = lb_parse(ctx, p);
	if (rc != LB_OK)
		return rc;
	if (p->key.proto != IPPROTO_TCP && p->key.proto != IPPROTO_UDP &&
	    p->key.proto != IPPROTO_ICMP && p->key.proto != IPPROTO_ICMPV6)
		return LB_PASS;
	/* Not a VIP address: the stack's, untouched, whatever its L4 header
	 * holds. An ICMP error counts for the address it was sent to, never
	 * for the one it quotes. */
	addr = lb_vip_addr_class(p);
	if (!addr)
		return LB_PASS;
	/* Read only now: passed traffic is spared one cache line. */
	cfg = lb_config();
	if (!cfg)
		return LB_PASS;
	p->block_gen = cfg->block_gen;
	rc = lb_parse_l4(ctx, p);
	if (rc != LB_OK)
		return rc;
	/* A denied sender's packet is dropped only once it is known to be for
	 * a VIP: vip_filter only says "maybe", and the rest is passed. */
	if (p->key.proto == IPPROTO_ICMP || p->key.proto == IPPROTO_ICMPV6) {
		/* The deny list judges the sender, before the key becomes
		 * the quoted flow's. */
		deny = lb_deny_rule(p, cfg);
		deny_asked = 1;
		rc = lb_icmp_classify(ctx, p, cfg, deny != NULL);
		if (rc == LB_TX)
			lb_count_event(gs, LB_EV_ICMP_ECHO);
		if (rc == -LB_DROP_DENIED && deny)
			lb_count_rule(deny);
		if (rc != LB_OK)
			return rc;
		/* The key is now the quoted flow's, to the same address: the
		 * flow's VIP counts it. */
		steered = 1;
	}
	/* Established flows skip the VIP lookup: see lb_flow_first(). */
	if (lb_flow_first(p, addr)) {
		known = lb_flow_follow(p, &ref, &id, &be);
		if (known > 0) {
			if (deny) {
				lb_count_rule(deny);
				return -LB_DROP_DENIED;
			}
			rc = lb_flow_screen(p, cfg, ref.slot, be->vip_id, steered);
			if (rc)
				return rc;
			lb_count_vip(be->vip_id, p);
			return lb_deliver(ctx, p, cfg, id, be, steered, gs);
		}
	}
	/* A denied source's SYN flood ends here: no flow, no table. */
	if (!deny_asked)
		deny = lb_deny_rule(p, cfg);
	if (deny) {
		if (!lb_vip_lookup(p))
			return LB_PASS;
		lb_count_rule(deny);
		return -LB_DROP_DENIED;
	}
	vip = lb_vip_lookup(p);
	if (!vip)
		return LB_PASS;
	return lb_forward(ctx, p, vip, cfg, steered, known, &ref, gs);
}

SEC("xdp")
int lb_xdp(struct xdp_md *ctx)
{
	struct lb_global_stats *gs = lb_global_stats();
	struct lb_pkt p = {};
	int verdict;
	int rc;

	rc = lb_process(ctx, &p, gs);
	if (rc == LB_TX)
		verdict = XDP_TX;
	else if (rc == LB_PASS)
		verdict = XDP_PASS;
	else
		verdict = XDP_DROP;
	if (gs) {
		if (rc < 0 && -rc < LB_DROP_MAX)
			gs->drop[-rc]++;
		gs->verdict[verdict]++;
	}
	return verdict;
}

char LICENSE[] SEC("license") = "GPL";
