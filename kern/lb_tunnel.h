/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The outer header toward a backend, apart from how it gets into a packet:
 * its source (fixed, or per flow inside a prefix), its IPv6 flow label, and
 * the IPv4 and IPv6 headers as written. lb_encap.h puts it in front of a
 * client packet in XDP; lb_probe.bpf.c in front of a health probe at TC
 * egress. Both must give a backend the same header for the same flow, so
 * neither keeps a copy of these rules. No context type and no map here.
 */
#ifndef LB_TUNNEL_H
#define LB_TUNNEL_H

#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_endian.h>
#include "lb_abi.h"
#include "lb_csum.h"
#include "lb_hash.h"

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

/* The outer protocol number for an inner packet of family. */
static __always_inline __u8 lb_outer_proto(__u8 inner_family)
{
	return inner_family == LB_FAMILY_IPV4 ? IPPROTO_IPIP : IPPROTO_IPV6;
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

static __always_inline __be32 lb4_tunnel_src(const struct lb_flow_key *k,
					     const struct lb_config *cfg)
{
	__be32 mask;

	if (cfg->src4_plen >= 32)
		return cfg->src4;
	mask = cfg->src4_plen ? bpf_htonl(~0U << (32 - cfg->src4_plen)) : 0;
	return (cfg->src4 & mask) | (bpf_htonl(lb_spread_hash(k)) & ~mask);
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

static __always_inline int lb6_has_src(const struct lb_config *cfg)
{
	return cfg->src6[0] | cfg->src6[1] | cfg->src6[2] | cfg->src6[3];
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

/* An IPv6 outer header: the inner packet's traffic class, the spread's
 * low 20 bits as flow label, so that routers spread flows over ECMP
 * paths. */
static __always_inline void lb6_hdr_write(struct ipv6hdr *o, __u8 tos, __u16 payload_len,
					  __u8 nexthdr, __u32 spread, const __be32 src[4],
					  const __be32 dst[4])
{
	__u32 label = spread & 0xfffff;

	o->version = 6;
	o->priority = tos >> 4;
	o->flow_lbl[0] = (tos & 0xf) << 4 | label >> 16;
	o->flow_lbl[1] = label >> 8;
	o->flow_lbl[2] = label;
	o->payload_len = bpf_htons(payload_len);
	o->nexthdr = nexthdr;
	o->hop_limit = LB_OUTER_TTL;
	__builtin_memcpy(&o->saddr, src, 16);
	__builtin_memcpy(&o->daddr, dst, 16);
}

#endif /* LB_TUNNEL_H */
