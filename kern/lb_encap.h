/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Encapsulation toward a backend: IPv4 or IPv6 outer header, for either
 * inner family. The inner packet is left byte for byte as received; only
 * Ethernet padding after it is cut. VLAN tags are kept.
 */
#ifndef LB_ENCAP_H
#define LB_ENCAP_H

#include "lb_csum.h"
#include "lb_parse.h"
#include "lb_select.h"

/* Overridable only so that the upgrade test can build a "newer" program
 * whose frames tell it apart. */
#ifndef LB_OUTER_TTL
#define LB_OUTER_TTL		64
#endif
#define LB_MTU_DEFAULT		1500

static __always_inline __u32 lb_outer_len(const struct lb_backend *be)
{
	return be->family == LB_FAMILY_IPV4 ? sizeof(struct iphdr) : sizeof(struct ipv6hdr);
}

static __always_inline __u32 lb_mtu(const struct lb_config *cfg)
{
	return cfg->mtu ? cfg->mtu : LB_MTU_DEFAULT;
}

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

/*
 * What the per-flow tunnel source and the IPv6 flow label draw on. They
 * only have to spread flows over the backends' RX queues and the routers'
 * paths, and nothing in user space predicts them, so they need not be
 * lb_flow_hash(): an established flow would compute that for them alone,
 * and over an IPv6 key it costs a quarter of the program. The key's words
 * folded by xor and mixed by Murmur3's finaliser spread as well.
 */
static __always_inline __u32 lb_spread_hash(const struct lb_flow_key *k)
{
	__u32 x = LB_FLOW_HASH_SEED ^ (__u32)k->sport ^ (__u32)k->dport << 16;
	int i;

	for (i = 0; i < 4; i++)
		x ^= k->src[i] ^ k->dst[i];
	return lb_hash_final(x, 0);
}

static __always_inline __be32 lb4_tunnel_src(const struct lb_pkt *p, const struct lb_config *cfg)
{
	__be32 mask;

	if (cfg->src4_plen >= 32)
		return cfg->src4;
	mask = cfg->src4_plen ? bpf_htonl(~0U << (32 - cfg->src4_plen)) : 0;
	return (cfg->src4 & mask) | (bpf_htonl(lb_spread_hash(&p->key)) & ~mask);
}

/* Per-flow IPv6 sources vary at most the low 32 bits. */
static __always_inline void lb6_tunnel_src(__u32 spread, const struct lb_config *cfg,
					   __be32 src[4])
{
	__u32 host_bits;
	__be32 mask;

	__builtin_memcpy(src, cfg->src6, 16);
	if (cfg->src6_plen >= 128)
		return;
	host_bits = 128 - (cfg->src6_plen > 96 ? cfg->src6_plen : 96);
	mask = host_bits >= 32 ? 0 : bpf_htonl(~0U << host_bits);
	src[3] = (src[3] & mask) | (bpf_htonl(spread) & ~mask);
}

/*
 * Write an IPv4 header (no options) as five 32-bit words, its checksum
 * summed from them in registers. Summing the header back from the packet
 * made the CPU wait on store forwarding: the reads spanned narrower stores.
 */
static __always_inline void lb4_hdr_write(struct iphdr *iph, __u8 tos, __u16 tot_len,
					  __u16 frag_off, __u8 proto, __be32 saddr, __be32 daddr)
{
	__be32 w[5] = {
		bpf_htonl(0x45000000 | (__u32)tos << 16 | tot_len),
		bpf_htonl(frag_off),			/* id 0 */
		bpf_htonl(LB_OUTER_TTL << 24 | (__u32)proto << 16),	/* checksum 0 */
		saddr,
		daddr,
	};
	__u64 sum = (__u64)w[0] + w[1] + w[2] + w[3] + w[4];

	__builtin_memcpy(iph, w, sizeof(w));
	iph->check = lb_csum_fold(sum);
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
		      p->key.family == LB_FAMILY_IPV4 ? IPPROTO_IPIP : IPPROTO_IPV6,
		      lb4_tunnel_src(p, cfg), be->addr[0]);
	return LB_OK;
}

static __always_inline int lb6_encap(struct xdp_md *ctx, struct lb_pkt *p,
				     const struct lb_backend *be, const struct lb_config *cfg)
{
	void *data, *end;
	struct ipv6hdr *o;
	__u32 spread, label;
	__be32 src[4];
	int rc;

	if (!(cfg->src6[0] | cfg->src6[1] | cfg->src6[2] | cfg->src6[3]))
		return -LB_DROP_NO_CONFIG;
	spread = lb_spread_hash(&p->key);
	lb6_tunnel_src(spread, cfg, src);
	/* The flow label lets routers spread flows over ECMP paths. */
	label = spread & 0xfffff;
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
	o->version = 6;
	o->priority = p->tos >> 4;
	o->flow_lbl[0] = (p->tos & 0xf) << 4 | label >> 16;
	o->flow_lbl[1] = label >> 8;
	o->flow_lbl[2] = label;
	o->payload_len = bpf_htons(p->l3_len);
	o->nexthdr = p->key.family == LB_FAMILY_IPV4 ? IPPROTO_IPIP : IPPROTO_IPV6;
	o->hop_limit = LB_OUTER_TTL;
	__builtin_memcpy(&o->saddr, src, sizeof(src));
	__builtin_memcpy(&o->daddr, be->addr, sizeof(be->addr));
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
