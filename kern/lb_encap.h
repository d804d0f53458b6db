/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Encapsulation toward a backend: IPv4 or IPv6 outer header, for either
 * inner family. The inner packet is left byte for byte as received; only
 * Ethernet padding after it is cut. VLAN tags are kept.
 */
#ifndef LB_ENCAP_H
#define LB_ENCAP_H

#include "lb_parse.h"
#include "lb_select.h"
#include "lb_tunnel.h"

/*
 * After the frame grew by delta bytes at the front, write a fresh Ethernet
 * header there: next hop and our MAC, the VLAN tags moved from where the old
 * header now lies, and ethertype as the innermost protocol.
 */
static __always_inline int lb_l2_rewrite(struct xdp_md *ctx, __u32 delta, __u16 l2_len,
					 const struct lb_config *cfg, __be16 ethertype)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	__be32 tags[LB_MAX_VLAN_TAGS];
	__be32 *old_tags = data + delta + ETH_ALEN * 2;
	__u32 ntags = (l2_len - sizeof(*eth)) / 4;

	/* The old tags sit past every byte written below except when delta
	 * is small, so read them all before writing anything. */
	if ((void *)(old_tags + LB_MAX_VLAN_TAGS) > end || (void *)(eth + 1) > end)
		return -LB_DROP_ADJUST;
	tags[0] = old_tags[0];
	tags[1] = old_tags[1];
	__builtin_memcpy(eth->h_dest, cfg->next_hop_mac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, cfg->src_mac, ETH_ALEN);
	if (ntags == 0) {
		eth->h_proto = ethertype;
		return LB_OK;
	}
	if (data + sizeof(*eth) + 2 + ntags * 4 > end)
		return -LB_DROP_ADJUST;
	*(__be32 *)(data + 12) = tags[0];
	if (ntags == 1) {
		*(__be16 *)(data + 16) = ethertype;
		return LB_OK;
	}
	if (data + 22 > end)
		return -LB_DROP_ADJUST;
	*(__be32 *)(data + 16) = tags[1];
	*(__be16 *)(data + 20) = ethertype;
	return LB_OK;
}

/* Cut Ethernet padding past the IP packet, so what we prepend to is exact. */
static __always_inline int lb_trim(struct xdp_md *ctx, const struct lb_pkt *p)
{
	int extra = (int)p->frame_len - p->l2_len - p->l3_len;

	if (extra > 0 && bpf_xdp_adjust_tail(ctx, -extra))
		return -LB_DROP_ADJUST;
	return LB_OK;
}

static __always_inline int lb4_encap(struct xdp_md *ctx, struct lb_pkt *p,
				     const struct lb_backend *be, const struct lb_config *cfg)
{
	void *data, *end;
	struct iphdr *o;
	int rc;

	if (!cfg->src4)
		return -LB_DROP_NO_CONFIG;
	if (bpf_xdp_adjust_head(ctx, -(int)sizeof(*o)))
		return -LB_DROP_ADJUST;
	rc = lb_l2_rewrite(ctx, sizeof(*o), lb_l2_len(p), cfg, bpf_htons(ETH_P_IP));
	if (rc)
		return rc;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	o = lb_l3_ptr(data, p);
	if ((void *)(o + 1) > end)
		return -LB_DROP_ADJUST;
	/* DF: we never send more than the MTU, and a backend could not
	 * reassemble a fragmented tunnel packet in XDP. */
	lb4_hdr_write(o, p->tos, p->l3_len + sizeof(*o), LB_IP_DF,
		      lb_outer_proto(p->key.family), lb4_tunnel_src(&p->key, cfg), be->addr[0]);
	return LB_OK;
}

static __always_inline int lb6_encap(struct xdp_md *ctx, struct lb_pkt *p,
				     const struct lb_backend *be, const struct lb_config *cfg)
{
	void *data, *end;
	struct ipv6hdr *o;
	__be32 src[4];
	__u32 spread;
	int rc;

	if (!lb6_has_src(cfg))
		return -LB_DROP_NO_CONFIG;
	spread = lb_spread_hash(&p->key);
	lb6_tunnel_src(spread, cfg, src);
	if (bpf_xdp_adjust_head(ctx, -(int)sizeof(*o)))
		return -LB_DROP_ADJUST;
	rc = lb_l2_rewrite(ctx, sizeof(*o), lb_l2_len(p), cfg, bpf_htons(ETH_P_IPV6));
	if (rc)
		return rc;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	o = lb_l3_ptr(data, p);
	if ((void *)(o + 1) > end)
		return -LB_DROP_ADJUST;
	lb6_hdr_write(o, p->tos, p->l3_len, lb_outer_proto(p->key.family), spread, src,
		      be->addr);
	return LB_OK;
}

static __always_inline int lb_encap(struct xdp_md *ctx, struct lb_pkt *p,
				    const struct lb_backend *be, const struct lb_config *cfg)
{
	int rc = lb_trim(ctx, p);

	if (rc)
		return rc;
	if (be->family == LB_FAMILY_IPV4)
		return lb4_encap(ctx, p, be, cfg);
	return lb6_encap(ctx, p, be, cfg);
}

#endif /* LB_ENCAP_H */
