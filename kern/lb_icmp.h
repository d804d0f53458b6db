/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * ICMP: echo requests to a VIP are answered here; frag-needed and
 * packet-too-big about a VIP flow are steered to the backend that owns the
 * flow; a packet too big to encapsulate is answered with one of those.
 */
#ifndef LB_ICMP_H
#define LB_ICMP_H

#include "lb_encap.h"

#define LB_ICMP_TOS		0xc0	/* precedence "internetwork control", as routers use */
#define LB_ICMP_ECHOREPLY	0
#define LB_ICMP_DEST_UNREACH	3
#define LB_ICMP_FRAG_NEEDED	4
#define LB_ICMP_ECHO		8
#define LB_ICMP6_PKT_TOOBIG	2
#define LB_ICMP6_ECHO_REQUEST	128
#define LB_ICMP6_ECHO_REPLY	129

static __always_inline void lb_set_macs(void *data, const struct lb_config *cfg)
{
	struct ethhdr *eth = data;

	__builtin_memcpy(eth->h_dest, cfg->next_hop_mac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, cfg->src_mac, ETH_ALEN);
}

/*
 * May an ICMP message go back to the packet's source (RFC 1122 3.2.2,
 * RFC 4443 2.4 (e))? Not to an unspecified, loopback, multicast or
 * broadcast address: 0/8, 127/8 and 224/3 for IPv4 (a subnet's broadcast
 * address cannot be told from here), ::, ::1 and ff00::/8 for IPv6.
 */
static __always_inline int lb_src_answerable(const struct lb_pkt *p)
{
	const __be32 *s = p->key.src;
	__u32 a = bpf_ntohl(s[0]);

	if (p->key.family == LB_FAMILY_IPV4)
		return (a >> 24) != 0 && (a >> 24) != 127 && a < 0xe0000000u;
	if ((a >> 24) == 0xff)
		return 0;
	return s[0] || s[1] || s[2] || (s[3] && s[3] != bpf_htonl(1));
}

/* Is there an ICMP "VIP" for this address: should we answer its pings? */
static __always_inline int lb_echo_enabled(const struct lb_pkt *p, __u8 proto)
{
	return lb_vip_find(p->key.dst, p->key.family, 0, proto, 0) != NULL;
}

static __always_inline int lb4_echo_reply(struct xdp_md *ctx, struct lb_pkt *p,
					  const struct lb_config *cfg)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct iphdr *iph = lb_l3_ptr(data, p);
	struct lb_icmp *ich = lb_l4_ptr(data, p);
	__u16 old;

	if ((void *)(iph + 1) > end || (void *)(ich + 1) > end || (void *)(data + ETH_HLEN) > end)
		return -LB_DROP_L4_TRUNC;
	iph->daddr = p->key.src[0];
	iph->saddr = p->key.dst[0];
	old = *(__u16 *)&iph->ttl;
	iph->ttl = LB_OUTER_TTL;
	lb_csum_replace2(&iph->check, old, *(__u16 *)&iph->ttl);
	old = *(__u16 *)ich;
	ich->type = LB_ICMP_ECHOREPLY;
	lb_csum_replace2(&ich->csum, old, *(__u16 *)ich);
	lb_set_macs(data, cfg);
	return LB_TX;
}

static __always_inline int lb6_echo_reply(struct xdp_md *ctx, struct lb_pkt *p,
					  const struct lb_config *cfg)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ipv6hdr *ip6h = lb_l3_ptr(data, p);
	struct lb_icmp *ich = lb_l4_ptr(data, p);
	__u16 old;

	if ((void *)(ip6h + 1) > end || (void *)(ich + 1) > end || (void *)(data + ETH_HLEN) > end)
		return -LB_DROP_L4_TRUNC;
	/* Swapping the addresses leaves the pseudo-header sum as it was. */
	__builtin_memcpy(&ip6h->daddr, p->key.src, 16);
	__builtin_memcpy(&ip6h->saddr, p->key.dst, 16);
	ip6h->hop_limit = LB_OUTER_TTL;
	old = *(__u16 *)ich;
	ich->type = LB_ICMP6_ECHO_REPLY;
	lb_csum_replace2(&ich->csum, old, *(__u16 *)ich);
	lb_set_macs(data, cfg);
	return LB_TX;
}

/*
 * Turn the frame into an ICMP error to the client: grow it by hdr_len at
 * the front for the new IP and ICMP headers, keep the first quote bytes of
 * the original IP packet after them, cut the rest.
 */
static __always_inline int lb_icmp_reshape(struct xdp_md *ctx, const struct lb_pkt *p,
					   const struct lb_config *cfg, __u32 hdr_len,
					   __u32 quote, __be16 ethertype)
{
	void *data, *end;
	int rc, extra;

	if (bpf_xdp_adjust_head(ctx, -(int)hdr_len))
		return -LB_DROP_ADJUST;
	rc = lb_l2_rewrite(ctx, hdr_len, lb_l2_len(p), cfg, ethertype);
	if (rc)
		return rc;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	extra = (int)(end - data) - (int)(lb_l2_len(p) + hdr_len + quote);
	if (extra > 0 && bpf_xdp_adjust_tail(ctx, -extra))
		return -LB_DROP_ADJUST;
	return LB_OK;
}

/* Frag-needed to the client, quoting its IP header and 8 bytes (RFC 792). */
static __always_inline int lb4_send_frag_needed(struct xdp_md *ctx, struct lb_pkt *p,
						const struct lb_config *cfg, __u32 mtu)
{
	__u32 quote = p->l4_off - p->l2_len + 8;
	struct lb_icmp *ich;
	struct iphdr *iph;
	void *data, *end;
	int rc;

	if (quote > p->l3_len)
		quote = p->l3_len & ~1U;
	rc = lb_icmp_reshape(ctx, p, cfg, sizeof(*iph) + sizeof(*ich), quote,
			     bpf_htons(ETH_P_IP));
	if (rc)
		return rc;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	iph = lb_l3_ptr(data, p);
	ich = (void *)(iph + 1);
	if ((void *)(ich + 1) > end)
		return -LB_DROP_ADJUST;
	lb4_hdr_write(iph, LB_ICMP_TOS, sizeof(*iph) + sizeof(*ich) + quote, 0, IPPROTO_ICMP,
		      p->key.dst[0], p->key.src[0]);
	ich->type = LB_ICMP_DEST_UNREACH;
	ich->code = LB_ICMP_FRAG_NEEDED;
	ich->csum = 0;
	ich->data = bpf_htonl(mtu);
	ich->csum = lb_csum_fold(lb_csum_add(0, ich, end, sizeof(*ich) + quote));
	return LB_TX;
}

/* Packet-too-big to the client, quoting up to LB_ICMP6_QUOTE_MAX bytes. */
static __always_inline int lb6_send_too_big(struct xdp_md *ctx, struct lb_pkt *p,
					    const struct lb_config *cfg, __u32 mtu)
{
	__u32 quote = p->l3_len < LB_ICMP6_QUOTE_MAX ? p->l3_len : LB_ICMP6_QUOTE_MAX;
	struct lb_icmp *ich;
	struct ipv6hdr *ip6h;
	void *data, *end;
	__u64 sum = 0;
	int rc, i;

	quote &= ~1U;
	rc = lb_icmp_reshape(ctx, p, cfg, sizeof(*ip6h) + sizeof(*ich), quote,
			     bpf_htons(ETH_P_IPV6));
	if (rc)
		return rc;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	ip6h = lb_l3_ptr(data, p);
	ich = (void *)(ip6h + 1);
	if ((void *)(ich + 1) > end)
		return -LB_DROP_ADJUST;
	ip6h->version = 6;
	ip6h->priority = 0;
	__builtin_memset(ip6h->flow_lbl, 0, sizeof(ip6h->flow_lbl));
	ip6h->payload_len = bpf_htons(sizeof(*ich) + quote);
	ip6h->nexthdr = IPPROTO_ICMPV6;
	ip6h->hop_limit = LB_OUTER_TTL;
	__builtin_memcpy(&ip6h->saddr, p->key.dst, 16);
	__builtin_memcpy(&ip6h->daddr, p->key.src, 16);
	ich->type = LB_ICMP6_PKT_TOOBIG;
	ich->code = 0;
	ich->csum = 0;
	ich->data = bpf_htonl(mtu);
	/* Pseudo-header: both addresses, upper-layer length, next header. */
#pragma unroll
	for (i = 0; i < 4; i++)
		sum += (p->key.src[i] & 0xffff) + (p->key.src[i] >> 16) +
		       (p->key.dst[i] & 0xffff) + (p->key.dst[i] >> 16);
	sum += bpf_htons(sizeof(*ich) + quote) + bpf_htons(IPPROTO_ICMPV6);
	ich->csum = lb_csum_fold(lb_csum_add(sum, ich, end, sizeof(*ich) + quote));
	return LB_TX;
}

static __always_inline int lb_send_too_big(struct xdp_md *ctx, struct lb_pkt *p,
					   const struct lb_config *cfg, __u32 mtu)
{
	if (p->key.family == LB_FAMILY_IPV4)
		return lb4_send_frag_needed(ctx, p, cfg, mtu);
	return lb6_send_too_big(ctx, p, cfg, mtu);
}

/*
 * An ICMP error quotes a packet the backend sent: VIP -> client. Turn the
 * packet's key into that flow's key as the client sent it, so the flow table
 * and the VIP's table find the backend that owns the flow.
 */
static __always_inline void lb_key_from_quote(struct lb_pkt *p, __u8 proto,
					      const __be16 *ports)
{
	if (ports) {
		p->key.sport = ports[1];
		p->key.dport = ports[0];
	} else {
		p->key.sport = 0;
		p->key.dport = 0;
	}
	p->key.proto = proto;
	p->tcp_flags = 0;
}

/*
 * The quoted packet must be one this address sent: a router addresses its
 * error to the source of the packet it could not forward. An error that
 * quotes another source is about no flow of ours and goes to the stack.
 * What is checked of the quoted header is only what the steering reads:
 * version, header length, total length (at least the header and the 8
 * bytes every error quotes, RFC 792), protocol and ports. The quote itself
 * is cut short by design, so its total length may lie past it.
 */
#define LB_QUOTE_L4_MIN		8

static __always_inline int lb4_quote_key(struct lb_pkt *p, void *data, void *end)
{
	__u32 off = p->l4_off + sizeof(struct lb_icmp);
	struct iphdr *in = lb_l4_ptr(data, p) + sizeof(struct lb_icmp);
	__be16 *ports;
	__u32 hlen, tot;
	int later;

	if ((void *)(in + 1) > end || !lb_in_packet(p, off, sizeof(*in)))
		return -LB_DROP_L4_TRUNC;
	if (in->ihl < 5 || in->version != 4)
		return -LB_DROP_ICMP_BAD_QUOTE;
	hlen = in->ihl * 4;
	tot = bpf_ntohs(in->tot_len);
	later = bpf_ntohs(in->frag_off) & LB_IP_OFFSET;
	/* A later fragment carries no L4 header; any other quoted TCP or
	 * UDP packet had at least its first 8 bytes. */
	if (tot < hlen + (later ? 0 : LB_QUOTE_L4_MIN))
		return -LB_DROP_ICMP_BAD_QUOTE;
	if (in->saddr != p->key.dst[0])
		return LB_PASS;
	if (in->protocol != IPPROTO_TCP && in->protocol != IPPROTO_UDP)
		return LB_PASS;
	ports = (void *)in + hlen;
	p->key.src[0] = in->daddr;
	if (later) {
		p->frag = LB_FRAG_LATER;
		lb_key_from_quote(p, in->protocol, NULL);
		return LB_OK;
	}
	if ((void *)(ports + 2) > end || !lb_in_packet(p, off + hlen, 4))
		return -LB_DROP_L4_TRUNC;
	lb_key_from_quote(p, in->protocol, ports);
	return LB_OK;
}

/* Quoted IPv6 packets with extension headers are not followed. */
static __always_inline int lb6_quote_key(struct lb_pkt *p, void *data, void *end)
{
	__u32 off = p->l4_off + sizeof(struct lb_icmp);
	struct ipv6hdr *in = lb_l4_ptr(data, p) + sizeof(struct lb_icmp);
	__be16 *ports = (void *)(in + 1);
	__be32 *qsrc;

	if ((void *)(in + 1) > end || !lb_in_packet(p, off, sizeof(*in)))
		return -LB_DROP_L4_TRUNC;
	if (in->version != 6 || bpf_ntohs(in->payload_len) < LB_QUOTE_L4_MIN)
		return -LB_DROP_ICMP_BAD_QUOTE;
	qsrc = (__be32 *)&in->saddr;
	if ((qsrc[0] ^ p->key.dst[0]) | (qsrc[1] ^ p->key.dst[1]) |
	    (qsrc[2] ^ p->key.dst[2]) | (qsrc[3] ^ p->key.dst[3]))
		return LB_PASS;
	if (in->nexthdr != IPPROTO_TCP && in->nexthdr != IPPROTO_UDP)
		return LB_PASS;
	if ((void *)(ports + 2) > end || !lb_in_packet(p, off, sizeof(*in) + 4))
		return -LB_DROP_L4_TRUNC;
	__builtin_memcpy(p->key.src, &in->daddr, 16);
	lb_key_from_quote(p, in->nexthdr, ports);
	return LB_OK;
}

/*
 * What to do with an ICMP packet to an address vip_filter may hold (addr:
 * what it said): LB_TX after answering an echo, LB_OK when p->key now holds
 * the quoted flow to steer the packet along (its destination is still the
 * packet's own), LB_PASS when it is none of ours.
 */
/*
 * An ICMP packet to a maybe-VIP address: an echo request to a VIP address
 * is answered (LB_TX; dropped when the sender is denied, passed when its
 * source may not be answered), an error quoting a flow becomes that flow's
 * key (LB_OK), anything else is passed.
 */
static __always_inline int lb_icmp_classify(struct xdp_md *ctx, struct lb_pkt *p,
					    const struct lb_config *cfg, int denied)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct lb_icmp *ich = lb_l4_ptr(data, p);
	__u8 proto = p->key.proto;

	if (p->frag != LB_FRAG_NONE || (void *)(ich + 1) > end)
		return LB_PASS;
	if (p->key.family == LB_FAMILY_IPV4 && proto == IPPROTO_ICMP) {
		if (ich->type == LB_ICMP_ECHO && lb_echo_enabled(p, proto))
			return denied ? -LB_DROP_DENIED :
			       lb_src_answerable(p) ? lb4_echo_reply(ctx, p, cfg) : LB_PASS;
		if (ich->type == LB_ICMP_DEST_UNREACH && ich->code == LB_ICMP_FRAG_NEEDED)
			return lb4_quote_key(p, data, end);
	}
	if (p->key.family == LB_FAMILY_IPV6 && proto == IPPROTO_ICMPV6) {
		if (ich->type == LB_ICMP6_ECHO_REQUEST && lb_echo_enabled(p, proto))
			return denied ? -LB_DROP_DENIED :
			       lb_src_answerable(p) ? lb6_echo_reply(ctx, p, cfg) : LB_PASS;
		if (ich->type == LB_ICMP6_PKT_TOOBIG)
			return lb6_quote_key(p, data, end);
	}
	return LB_PASS;
}

#endif /* LB_ICMP_H */
