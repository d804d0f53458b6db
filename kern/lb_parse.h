/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Packet parsing: Ethernet with up to two VLAN tags, IPv4 with options,
 * IPv6 with a bounded walk over extension headers, then TCP, UDP, ICMP or
 * ICMPv6. Every read is bounds-checked against data_end, and every length
 * field read is checked against the packet. Functions return
 * LB_OK to go on, LB_PASS for traffic that is not ours, or a negative
 * lb_drop_reason for malformed packets.
 */
#ifndef LB_PARSE_H
#define LB_PARSE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "lb_abi.h"

/* What the pipeline stages return (negative: an lb_drop_reason). */
#define LB_OK		0
#define LB_PASS		1
#define LB_TX		2

#define LB_ETH_P_8021Q	0x8100
#define LB_ETH_P_8021AD	0x88a8
#define LB_IP_MF	0x2000
#define LB_IP_DF	0x4000
#define LB_IP_OFFSET	0x1fff
#define LB_IP6_MF	0x0001
#define LB_IP6_OFFSET	0xfff8
#define LB_TCP_FIN	0x01
#define LB_TCP_SYN	0x02
#define LB_TCP_RST	0x04
#define LB_TCP_ACK	0x10

/* ICMP and ICMPv6 share this layout. data: echo id and sequence, or the
 * MTU of frag-needed (low 16 bits) and packet-too-big (32 bits). */
struct lb_icmp {
	__u8 type;
	__u8 code;
	__sum16 csum;
	__be32 data;
};

/* The IPv6 fragment header (the uapi headers do not export it). */
struct lb_frag_hdr {
	__u8 nexthdr;
	__u8 reserved;
	__be16 frag_off;	/* offset in 8-byte units << 3, then M */
	__be32 id;
};

enum lb_frag {
	LB_FRAG_NONE = 0,
	LB_FRAG_FIRST,		/* offset 0, more to come: has ports */
	LB_FRAG_LATER,		/* offset > 0: no L4 header */
};

struct lb_pkt {
	struct lb_flow_key key;	/* as received; ports zero when absent */
	__u16 l2_len;		/* Ethernet and VLAN tags */
	__u16 l3_len;		/* the IP packet, without Ethernet padding */
	__u16 l4_off;		/* from the frame start */
	__u16 frame_len;	/* as received */
	__u8 tos;		/* IPv4 ToS or IPv6 traffic class */
	__u8 frag;		/* enum lb_frag */
	__u8 tcp_flags;
	__u8 icmp_type;
	/* lb_config.block_gen before any list was consulted: what a new flow
	 * entry is stamped with (lists changed since are checked again). */
	__u32 block_gen;
};

/*
 * Offsets kept in struct lb_pkt come back from the stack with no known
 * bound, and the verifier only trusts packet pointers whose variable part
 * stays below 64 KiB with room for the constant part. Masks give them one;
 * they never change a value the parser stored.
 */
#define LB_L2_MASK	0x1f	/* Ethernet + 2 tags: at most 22 */
#define LB_L4_MASK	0x3fff	/* IPv6 header + 6 extension headers of at most 2 KiB */

static __always_inline __u32 lb_l2_len(const struct lb_pkt *p)
{
	return p->l2_len & LB_L2_MASK;
}

static __always_inline __u32 lb_l4_off(const struct lb_pkt *p)
{
	return p->l4_off & LB_L4_MASK;
}

/*
 * Pointers to the L3 and L4 headers. barrier_var() keeps clang from
 * computing data + offset again at a later use: a recomputed pointer is a
 * new one to the verifier, without the bounds check the first one passed.
 */
static __always_inline void *lb_l3_ptr(void *data, const struct lb_pkt *p)
{
	void *ptr = data + lb_l2_len(p);

	barrier_var(ptr);
	return ptr;
}

static __always_inline void *lb_l4_ptr(void *data, const struct lb_pkt *p)
{
	void *ptr = data + lb_l4_off(p);

	barrier_var(ptr);
	return ptr;
}

static __always_inline int lb_parse_eth(struct lb_pkt *p, void *data, void *end,
					__be16 *proto)
{
	struct ethhdr *eth = data;
	struct vlan_hdr {
		__be16 tci;
		__be16 proto;
	} *vh;
	__u16 off = sizeof(*eth);
	int i;

	if ((void *)(eth + 1) > end)
		return -LB_DROP_ETH_TRUNC;
	*proto = eth->h_proto;
#pragma unroll
	for (i = 0; i < LB_MAX_VLAN_TAGS; i++) {
		if (*proto != bpf_htons(LB_ETH_P_8021Q) &&
		    *proto != bpf_htons(LB_ETH_P_8021AD))
			break;
		vh = data + off;
		if ((void *)(vh + 1) > end)
			return -LB_DROP_ETH_TRUNC;
		*proto = vh->proto;
		off += sizeof(*vh);
	}
	/* A third tag is not something we balance: leave it to the stack. */
	if (*proto == bpf_htons(LB_ETH_P_8021Q) || *proto == bpf_htons(LB_ETH_P_8021AD))
		return LB_PASS;
	p->l2_len = off;
	return LB_OK;
}

static __always_inline int lb4_parse(struct lb_pkt *p, void *data, void *end)
{
	struct iphdr *iph = lb_l3_ptr(data, p);
	__u32 hlen, tot;
	__u16 frag;

	if ((void *)(iph + 1) > end)
		return -LB_DROP_IP4_TRUNC;
	if (iph->version != 4 || iph->ihl < 5)
		return -LB_DROP_IP4_BAD_IHL;
	hlen = iph->ihl * 4;
	if ((void *)iph + hlen > end)
		return -LB_DROP_IP4_TRUNC;
	tot = bpf_ntohs(iph->tot_len);
	if (tot < hlen || (void *)iph + tot > end)
		return -LB_DROP_IP4_BAD_LEN;

	frag = bpf_ntohs(iph->frag_off);
	if (frag & LB_IP_OFFSET)
		p->frag = LB_FRAG_LATER;
	else if (frag & LB_IP_MF)
		p->frag = LB_FRAG_FIRST;
	p->key.family = LB_FAMILY_IPV4;
	p->key.proto = iph->protocol;
	p->key.src[0] = iph->saddr;
	p->key.dst[0] = iph->daddr;
	p->tos = iph->tos;
	p->l3_len = tot;
	p->l4_off = p->l2_len + hlen;
	return LB_OK;
}

/* Walk hop-by-hop, routing, destination options and fragment headers, at
 * most LB_MAX_IPV6_EXT_HDRS of them; p->l4_off ends on the first other one. */
static __always_inline int lb6_walk_ext(struct lb_pkt *p, void *data, void *end, __u8 nh)
{
	struct ipv6_opt_hdr *oh;
	struct lb_frag_hdr *fh;
	__u16 off = p->l4_off, fo;
	int i;

#pragma unroll
	for (i = 0; i < LB_MAX_IPV6_EXT_HDRS; i++) {
		switch (nh) {
		case IPPROTO_HOPOPTS:
		case IPPROTO_ROUTING:
		case IPPROTO_DSTOPTS:
			oh = data + (off & LB_L4_MASK);
			if ((void *)(oh + 1) > end)
				return -LB_DROP_IP6_EXT;
			nh = oh->nexthdr;
			off += (oh->hdrlen + 1) * 8;
			break;
		case IPPROTO_FRAGMENT:
			fh = data + (off & LB_L4_MASK);
			if ((void *)(fh + 1) > end)
				return -LB_DROP_IP6_EXT;
			nh = fh->nexthdr;
			off += sizeof(*fh);
			fo = bpf_ntohs(fh->frag_off);
			/* Offset 0 without M is an atomic fragment: a whole packet. */
			if (fo & LB_IP6_OFFSET)
				p->frag = LB_FRAG_LATER;
			else if (fo & LB_IP6_MF)
				p->frag = LB_FRAG_FIRST;
			break;
		default:
			goto done;
		}
		/* Every header walked, the fragment header of a later
		 * fragment too, must end inside the IP packet. */
		if (off > p->l2_len + p->l3_len)
			return -LB_DROP_IP6_EXT;
		if (p->frag == LB_FRAG_LATER)
			goto done;
	}
	switch (nh) {
	case IPPROTO_HOPOPTS:
	case IPPROTO_ROUTING:
	case IPPROTO_DSTOPTS:
	case IPPROTO_FRAGMENT:
		return -LB_DROP_IP6_EXT;
	}
done:
	p->key.proto = nh;
	p->l4_off = off;
	return LB_OK;
}

static __always_inline int lb6_parse(struct lb_pkt *p, void *data, void *end)
{
	struct ipv6hdr *ip6h = lb_l3_ptr(data, p);
	__u32 len;

	if ((void *)(ip6h + 1) > end)
		return -LB_DROP_IP6_TRUNC;
	if (ip6h->version != 6)
		return -LB_DROP_IP6_BAD_VER;
	len = sizeof(*ip6h) + bpf_ntohs(ip6h->payload_len);
	if ((void *)ip6h + len > end)
		return -LB_DROP_IP6_BAD_LEN;

	p->key.family = LB_FAMILY_IPV6;
	__builtin_memcpy(p->key.src, &ip6h->saddr, sizeof(p->key.src));
	__builtin_memcpy(p->key.dst, &ip6h->daddr, sizeof(p->key.dst));
	p->tos = ip6h->priority << 4 | ip6h->flow_lbl[0] >> 4;
	p->l3_len = len;
	p->l4_off = p->l2_len + sizeof(*ip6h);
	return lb6_walk_ext(p, data, end, ip6h->nexthdr);
}

/* Does a header of size bytes at offset off end inside the IP packet? The
 * frame may go on past it with Ethernet padding, which is no header. The
 * verifier still needs its own check against data_end. */
static __always_inline int lb_in_packet(const struct lb_pkt *p, __u32 off, __u32 size)
{
	return off + size <= (__u32)p->l2_len + p->l3_len;
}

/*
 * Ports and flags, or the ICMP type, each length field checked against the
 * IP packet. A later fragment has no L4 header to read. The pipeline calls
 * this only once vip_filter has said the destination may be a VIP address:
 * what is not for a VIP goes to the stack untouched, malformed or not, and
 * the pass path reads no L4 header at all.
 */
static __always_inline int lb_parse_l4(struct xdp_md *ctx, struct lb_pkt *p)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	void *l4 = lb_l4_ptr(data, p);
	struct tcphdr *th = l4;
	struct udphdr *uh = l4;
	struct lb_icmp *ich = l4;
	__u32 ulen;

	if (p->frag == LB_FRAG_LATER)
		return LB_OK;
	switch (p->key.proto) {
	case IPPROTO_TCP:
		if ((void *)(th + 1) > end || !lb_in_packet(p, p->l4_off, sizeof(*th)))
			return -LB_DROP_L4_TRUNC;
		/* The header must lie whole in the packet, even in a first
		 * fragment (a TCP header split over fragments is an attack,
		 * RFC 1858): a backend's stack would drop it anyway. */
		if (th->doff < sizeof(*th) / 4 || !lb_in_packet(p, p->l4_off, th->doff * 4))
			return -LB_DROP_TCP_BAD_DOFF;
		p->key.sport = th->source;
		p->key.dport = th->dest;
		p->tcp_flags = ((__u8 *)th)[13];
		return LB_OK;
	case IPPROTO_UDP:
		if ((void *)(uh + 1) > end || !lb_in_packet(p, p->l4_off, sizeof(*uh)))
			return -LB_DROP_L4_TRUNC;
		/* A first fragment holds only part of the datagram, so only an
		 * unfragmented one must hold all of what its length says.
		 * Fewer bytes than the IP payload is allowed (RFC 768). */
		ulen = bpf_ntohs(uh->len);
		if (ulen < sizeof(*uh) ||
		    (p->frag == LB_FRAG_NONE && !lb_in_packet(p, p->l4_off, ulen)))
			return -LB_DROP_UDP_BAD_LEN;
		p->key.sport = uh->source;
		p->key.dport = uh->dest;
		return LB_OK;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		if ((void *)(ich + 1) > end || !lb_in_packet(p, p->l4_off, sizeof(*ich)))
			return -LB_DROP_L4_TRUNC;
		p->icmp_type = ich->type;
		return LB_OK;
	}
	return LB_OK;
}

/* Ethernet and IP: enough to know the destination. lb_parse_l4() follows
 * for packets that may be for a VIP. */
static __always_inline int lb_parse(struct xdp_md *ctx, struct lb_pkt *p)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__be16 proto;
	int rc;

	p->frame_len = end - data;
	rc = lb_parse_eth(p, data, end, &proto);
	if (rc != LB_OK)
		return rc;
	if (proto == bpf_htons(ETH_P_IP))
		return lb4_parse(p, data, end);
	if (proto == bpf_htons(ETH_P_IPV6))
		return lb6_parse(p, data, end);
	return LB_PASS;
}

#endif /* LB_PARSE_H */
