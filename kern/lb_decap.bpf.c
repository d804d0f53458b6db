// SPDX-License-Identifier: GPL-2.0-only
/*
 * Backend-side decapsulation. The load balancer hands a client packet to a
 * backend inside one outer IP header: IPv4 or IPv6, carrying IPv4 (protocol
 * 4) or IPv6 (protocol 41). This program runs on the backend's NIC, strips
 * that header from tunnel packets addressed to this host and passes the
 * inner packet, behind the frame's own Ethernet header and VLAN tags, to the
 * stack, which delivers it to the VIP held on lo.
 *
 * It must work when loaded with nothing but `ip link ... xdp obj`, so no
 * user space fills anything in: locality comes from the kernel's FIB and
 * the one map holds counters. Every frame is counted exactly once:
 *
 *   parse L2 and the outer header -> is it local? -> strip -> count
 *
 * Whatever is not a tunnel packet, or is one for another host, leaves
 * untouched. A tunnel packet cut short is dropped: stripping it would hand
 * the stack a packet that was never sent. The outer header is judged
 * before the locality check, by the rules the stack would apply to it
 * anyway; the inner header only after it, since a packet in transit is
 * not this host's to judge.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "lb_abi.h"
#include "lb_csum.h"

/* The BPF side sees no libc headers, so no AF_* either. */
#define LB_AF_INET		2
#define LB_AF_INET6		10

/* IPv4 frag_off bits (host order): more fragments, and the offset. */
#define LB_IP4_MF		0x2000
#define LB_IP4_OFFSET		0x1fff

#define LB_IP6_VERSION		6
#define LB_ECN_MASK		0x3	/* the ECN field of ToS / traffic class */
#define LB_ECN_NOT_ECT		0x0	/* not ECN-capable */
#define LB_ECN_ECT1		0x1	/* ECN-capable, ECT(1) */
#define LB_ECN_ECT0		0x2	/* ECN-capable, ECT(0) */
#define LB_ECN_CE		0x3	/* congestion experienced */
#define LB_DECAP_L2_MASK	0x1f	/* Ethernet + 2 tags: at most 22 */
/* Traffic class and flow label: the part of the first word the FIB uses. */
#define LB_IP6_FLOWINFO_MASK	0x0fffffff

/*
 * Per-CPU counters, one entry at key 0, indexed by enum lb_decap_counter.
 * `ip link` creates it zeroed; read it with `bpftool map dump name
 * decap_stats`.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lb_decap_stats);
} decap_stats SEC(".maps");

/* An 802.1Q / 802.1ad tag as it sits after the MAC addresses. */
struct lb_vlan_hdr {
	__be16 tci;
	__be16 proto;		/* the EtherType behind this tag */
};

/* The frame's link-layer header, in wire layout, kept across the strip. */
struct lb_l2_hdr {
	struct ethhdr eth;
	struct lb_vlan_hdr vlan[LB_MAX_VLAN_TAGS];
};

#define LB_L2_LEN(ntags) (sizeof(struct ethhdr) + (ntags) * sizeof(struct lb_vlan_hdr))

struct lb_cursor {
	void *pos;
	void *end;
};

/* What the parse found out about a tunnel packet. Lengths in bytes. */
struct lb_tunnel {
	__u32 ntags;		/* VLAN tags behind the MAC addresses */
	__u32 l2_len;		/* Ethernet header and tags: kept */
	__u32 outer_len;	/* outer IP header: removed */
	__u32 inner_len;	/* the inner packet, per the outer length field */
	__u32 pad_len;		/* frame bytes past the outer packet: trimmed */
	__u8 inner_version;	/* 4 or 6, what protocol 4 / 41 promises */
	__u8 inner_ok;		/* the inner header is there and of that version */
	__u8 outer_ecn;		/* the outer header's ECN field */
	__u8 inner_ecn;		/* the inner header's, when inner_ok */
	__be16 inner_proto;	/* EtherType for the inner packet */
};

static __always_inline void lb_decap_count(enum lb_decap_counter c)
{
	struct lb_decap_stats *stats;
	__u32 key = 0;

	stats = bpf_map_lookup_elem(&decap_stats, &key);
	if (stats && (__u32)c < LB_DECAP_MAX)
		stats->count[c]++;
}

static __always_inline int lb_is_vlan(__be16 proto)
{
	return proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD);
}

/*
 * Steps over the Ethernet header and up to LB_MAX_VLAN_TAGS tags. Returns 0
 * with *proto the EtherType behind them, or -1 if the frame ends first.
 * A frame with more tags ends up with a VLAN EtherType in *proto, and so is
 * passed as not-a-tunnel.
 */
static __always_inline int lb_l2_parse(struct lb_cursor *cur, struct lb_tunnel *t,
				       __be16 *proto)
{
	struct ethhdr *eth = cur->pos;
	struct lb_vlan_hdr *vlan;
	int i;

	if ((void *)(eth + 1) > cur->end)
		return -1;
	cur->pos = eth + 1;
	*proto = eth->h_proto;
	t->ntags = 0;

	for (i = 0; i < LB_MAX_VLAN_TAGS; i++) {
		if (!lb_is_vlan(*proto))
			break;
		vlan = cur->pos;
		if ((void *)(vlan + 1) > cur->end)
			return -1;
		cur->pos = vlan + 1;
		*proto = vlan->proto;
		t->ntags++;
	}
	t->l2_len = LB_L2_LEN(t->ntags);
	return 0;
}

/*
 * The inner header must fit inside the outer packet (not merely inside the
 * frame, where Ethernet padding could pose as one) and carry the version
 * the outer protocol number promised. The stack checks the rest of it.
 */
static __always_inline int lb_inner_check(const struct lb_cursor *cur, struct lb_tunnel *t)
{
	__u32 min_len = t->inner_version == IPVERSION ? sizeof(struct iphdr) :
							sizeof(struct ipv6hdr);
	__u8 *first = cur->pos;

	if (t->inner_len < min_len)
		return -1;
	if ((void *)(first + 2) > cur->end)
		return -1;
	if (*first >> 4 != t->inner_version)
		return -1;
	/* ECN: IPv4's ToS is the second byte; IPv6's traffic class ends in
	 * the second byte's top nibble. */
	t->inner_ecn = (t->inner_version == IPVERSION ? first[1] : first[1] >> 4) & LB_ECN_MASK;
	return 0;
}

/* Sets what protocol 4 or 41 announces; 0, or -1 for any other protocol. */
static __always_inline int lb_tunnel_inner(struct lb_tunnel *t, __u8 proto)
{
	if (proto == IPPROTO_IPIP) {
		t->inner_version = IPVERSION;
		t->inner_proto = bpf_htons(ETH_P_IP);
		return 0;
	}
	if (proto == IPPROTO_IPV6) {
		t->inner_version = LB_IP6_VERSION;
		t->inner_proto = bpf_htons(ETH_P_IPV6);
		return 0;
	}
	return -1;
}

/*
 * Outer IPv4. avail is the frame length from the IP header on. Returns the
 * counter for the packet's kind, LB_DECAP_PASS or LB_DECAP_MALFORMED.
 * The header checksum is not verified: once the header is gone nothing
 * will check it, but the inner packet's own checksums, which the stack
 * checks, still cover what is delivered.
 */
static __always_inline enum lb_decap_counter
lb4_outer_parse(struct lb_cursor *cur, __u64 avail, struct lb_tunnel *t,
		struct bpf_fib_lookup *fib)
{
	struct iphdr *iph = cur->pos;
	__u32 hlen, tot_len;

	/*
	 * The version and protocol bytes alone make this a tunnel packet.
	 * Read them before asking for the whole header, so that a tunnel
	 * packet cut inside its outer header counts as malformed, not as
	 * other traffic.
	 */
	if ((void *)(&iph->protocol + 1) > cur->end)
		return LB_DECAP_PASS;
	if (iph->version != IPVERSION || lb_tunnel_inner(t, iph->protocol))
		return LB_DECAP_PASS;

	if ((void *)(iph + 1) > cur->end)
		return LB_DECAP_MALFORMED;
	if (iph->ihl < 5)
		return LB_DECAP_MALFORMED;
	hlen = iph->ihl * 4;
	tot_len = bpf_ntohs(iph->tot_len);
	if (hlen > avail || tot_len < hlen || tot_len > avail)
		return LB_DECAP_MALFORMED;

	/*
	 * A fragment holds a piece of the inner packet, not all of it: only
	 * the stack can reassemble it. The load balancer sends ICMP too-big
	 * rather than fragment, so this is rare; it goes up untouched.
	 */
	if (iph->frag_off & bpf_htons(LB_IP4_MF | LB_IP4_OFFSET))
		return LB_DECAP_PASS;

	t->outer_len = hlen;
	t->outer_ecn = iph->tos & LB_ECN_MASK;
	t->inner_len = tot_len - hlen;
	t->pad_len = avail - tot_len;
	cur->pos += hlen;
	t->inner_ok = !lb_inner_check(cur, t);

	fib->family = LB_AF_INET;
	fib->tos = iph->tos;
	fib->l4_protocol = iph->protocol;
	fib->tot_len = tot_len;
	fib->ipv4_src = iph->saddr;
	fib->ipv4_dst = iph->daddr;
	return t->inner_version == IPVERSION ? LB_DECAP_IPIP : LB_DECAP_IP6IP;
}

/*
 * Outer IPv6, with no extension headers: the load balancer adds none, so
 * one here (a fragment header, say) shows up as a next header other than
 * 4 or 41 and the packet is passed as not-a-tunnel.
 */
static __always_inline enum lb_decap_counter
lb6_outer_parse(struct lb_cursor *cur, __u64 avail, struct lb_tunnel *t,
		struct bpf_fib_lookup *fib)
{
	struct ipv6hdr *ip6h = cur->pos;
	__u32 payload_len;

	/* As for IPv4: version and next header decide, before the length. */
	if ((void *)(&ip6h->nexthdr + 1) > cur->end)
		return LB_DECAP_PASS;
	if (ip6h->version != LB_IP6_VERSION || lb_tunnel_inner(t, ip6h->nexthdr))
		return LB_DECAP_PASS;

	if ((void *)(ip6h + 1) > cur->end)
		return LB_DECAP_MALFORMED;
	/*
	 * A payload length of 0 (a jumbogram needs a hop-by-hop header) leaves
	 * no room for the inner header, which lb_inner_check() catches.
	 */
	payload_len = bpf_ntohs(ip6h->payload_len);
	if (sizeof(*ip6h) + payload_len > avail)
		return LB_DECAP_MALFORMED;

	t->outer_len = sizeof(*ip6h);
	/* The traffic class's low two bits: the top nibble of flow_lbl[0]. */
	t->outer_ecn = (ip6h->flow_lbl[0] >> 4) & LB_ECN_MASK;
	t->inner_len = payload_len;
	t->pad_len = avail - sizeof(*ip6h) - payload_len;
	cur->pos = ip6h + 1;
	t->inner_ok = !lb_inner_check(cur, t);

	fib->family = LB_AF_INET6;
	fib->flowinfo = *(__be32 *)ip6h & bpf_htonl(LB_IP6_FLOWINFO_MASK);
	fib->l4_protocol = ip6h->nexthdr;
	fib->tot_len = sizeof(*ip6h) + payload_len;
	__builtin_memcpy(fib->ipv6_src, &ip6h->saddr, sizeof(fib->ipv6_src));
	__builtin_memcpy(fib->ipv6_dst, &ip6h->daddr, sizeof(fib->ipv6_dst));
	return t->inner_version == IPVERSION ? LB_DECAP_IPIP6 : LB_DECAP_IP6IP6;
}

/*
 * Classifies the frame. Returns the counter naming what it is: one of the
 * four tunnel kinds (then *t and *fib are filled in), LB_DECAP_PASS or
 * LB_DECAP_MALFORMED (the outer header is broken).
 */
static __always_inline enum lb_decap_counter
lb_tunnel_parse(struct xdp_md *ctx, struct lb_tunnel *t, struct bpf_fib_lookup *fib)
{
	struct lb_cursor cur = {
		.pos = (void *)(long)ctx->data,
		.end = (void *)(long)ctx->data_end,
	};
	/*
	 * Lengths are compared as numbers: the helper gives the frame length
	 * without subtracting packet pointers, which the verifier allows only
	 * to programs that may leak pointers (CAP_PERFMON).
	 */
	__u64 frame_len = bpf_xdp_get_buff_len(ctx);
	__be16 proto;

	if (lb_l2_parse(&cur, t, &proto))
		return LB_DECAP_PASS;
	if (frame_len < t->l2_len)
		return LB_DECAP_PASS;
	if (proto == bpf_htons(ETH_P_IP))
		return lb4_outer_parse(&cur, frame_len - t->l2_len, t, fib);
	if (proto == bpf_htons(ETH_P_IPV6))
		return lb6_outer_parse(&cur, frame_len - t->l2_len, t, fib);
	return LB_DECAP_PASS;
}

/*
 * Is the outer packet for this host? The FIB answers without help from
 * user space, but only in terms of forwarding:
 *  - NOT_FWDED: the kernel would not forward it. That is a local address,
 *    and also a subnet broadcast, IPv6 multicast, or a destination with
 *    no route at all: none of those can be in transit through this host.
 *  - FWD_DISABLED: forwarding is off on the ingress device, and the
 *    kernel then refuses before it looks at any route. That is the
 *    default on a backend. The packet cannot be in transit through this
 *    host, so it is for this host or for nobody: treat it as local.
 *  - anything else (a next hop, a reject route, an error): not local.
 */
static __always_inline int lb_tunnel_is_local(struct xdp_md *ctx,
					      struct bpf_fib_lookup *fib)
{
	long rc;

	fib->ifindex = ctx->ingress_ifindex;
	rc = bpf_fib_lookup(ctx, fib, sizeof(*fib), 0);
	return rc == BPF_FIB_LKUP_RET_NOT_FWDED || rc == BPF_FIB_LKUP_RET_FWD_DISABLED;
}

/*
 * Copies the Ethernet header and ntags tags between the packet and *l2.
 * One fixed size per tag count, so that the verifier sees each packet
 * access checked against a known length.
 */
static __always_inline int lb_l2_save(struct lb_l2_hdr *l2, const void *data,
				      const void *end, __u32 ntags)
{
	switch (ntags) {
	case 0:
		if (data + LB_L2_LEN(0) > end)
			return -1;
		__builtin_memcpy(l2, data, LB_L2_LEN(0));
		return 0;
	case 1:
		if (data + LB_L2_LEN(1) > end)
			return -1;
		__builtin_memcpy(l2, data, LB_L2_LEN(1));
		return 0;
	case 2:
		if (data + LB_L2_LEN(2) > end)
			return -1;
		__builtin_memcpy(l2, data, LB_L2_LEN(2));
		return 0;
	}
	return -1;
}

static __always_inline int lb_l2_restore(void *data, const void *end,
					 const struct lb_l2_hdr *l2, __u32 ntags)
{
	switch (ntags) {
	case 0:
		if (data + LB_L2_LEN(0) > end)
			return -1;
		__builtin_memcpy(data, l2, LB_L2_LEN(0));
		return 0;
	case 1:
		if (data + LB_L2_LEN(1) > end)
			return -1;
		__builtin_memcpy(data, l2, LB_L2_LEN(1));
		return 0;
	case 2:
		if (data + LB_L2_LEN(2) > end)
			return -1;
		__builtin_memcpy(data, l2, LB_L2_LEN(2));
		return 0;
	}
	return -1;
}

/* The innermost EtherType: the one that names the layer 3 header. */
static __always_inline void lb_l2_set_proto(struct lb_l2_hdr *l2, __u32 ntags,
					    __be16 proto)
{
	if (ntags == 0)
		l2->eth.h_proto = proto;
	else if (ntags == 1)
		l2->vlan[0].proto = proto;
	else
		l2->vlan[1].proto = proto;
}

/*
 * Removes the outer header: saves the link-layer header, trims any
 * Ethernet padding past the outer packet, moves the start of the frame
 * forward over the outer header and writes the link-layer header back
 * there, naming the inner protocol. The inner packet is not touched.
 *
 * The header is saved on the stack rather than moved in place because
 * with two tags (22 bytes) it is longer than an IPv4 outer header (20),
 * and the two would overlap.
 */
static __always_inline int lb_tunnel_strip(struct xdp_md *ctx, const struct lb_tunnel *t)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct lb_l2_hdr l2;

	if (lb_l2_save(&l2, data, end, t->ntags))
		return -1;
	lb_l2_set_proto(&l2, t->ntags, t->inner_proto);

	if (t->pad_len && bpf_xdp_adjust_tail(ctx, -(int)t->pad_len))
		return -1;
	if (bpf_xdp_adjust_head(ctx, (int)t->outer_len))
		return -1;

	/* Both helpers invalidate every packet pointer: load them again. */
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	return lb_l2_restore(data, end, &l2, t->ntags);
}

/*
 * The inner ECN field once the outer header is gone (RFC 6040, 4.2): a
 * congestion mark a router set on the outer header (CE) reaches an
 * ECN-capable inner packet, or the sender never learns of the congestion,
 * and ECT(1) over ECT(0) is kept too; any other outer value leaves the
 * inner field as it is. (An inner packet that is not ECN-capable cannot
 * carry CE: lb_decap drops it before the strip, as the router would have.)
 */
static __always_inline __u8 lb_ecn_after(__u8 outer, __u8 inner)
{
	if (outer == LB_ECN_CE && inner != LB_ECN_CE)
		return LB_ECN_CE;
	if (outer == LB_ECN_ECT1 && inner == LB_ECN_ECT0)
		return LB_ECN_ECT1;
	return inner;
}

/* Write lb_ecn_after() into the inner header, its IPv4 checksum updated.
 * After the strip: the inner header follows the link-layer header. */
static __always_inline int lb_inner_ecn(struct xdp_md *ctx, const struct lb_tunnel *t)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u8 *ih = data + (t->l2_len & LB_DECAP_L2_MASK);
	__u8 ecn = lb_ecn_after(t->outer_ecn, t->inner_ecn);
	__u16 old, new;

	if (ecn == t->inner_ecn)
		return 0;
	if (t->inner_version == IPVERSION) {
		struct iphdr *iph = (struct iphdr *)ih;

		if ((void *)(iph + 1) > end)
			return -1;
		__builtin_memcpy(&old, iph, sizeof(old));	/* version, IHL, ToS */
		iph->tos = (iph->tos & ~LB_ECN_MASK) | ecn;
		__builtin_memcpy(&new, iph, sizeof(new));
		lb_csum_replace2(&iph->check, old, new);
		return 0;
	}
	if ((void *)(ih + 2) > end)
		return -1;
	ih[1] = (ih[1] & ~(LB_ECN_MASK << 4)) | ecn << 4;
	return 0;
}

SEC("xdp")
int lb_decap(struct xdp_md *ctx)
{
	struct bpf_fib_lookup fib = {};
	struct lb_tunnel t = {};
	enum lb_decap_counter c;

	c = lb_tunnel_parse(ctx, &t, &fib);
	if (c == LB_DECAP_PASS || c == LB_DECAP_MALFORMED)
		goto count;

	if (!lb_tunnel_is_local(ctx, &fib)) {
		c = LB_DECAP_NOT_LOCAL;
		goto count;
	}

	/*
	 * The parse checked every length the helpers depend on, so the strip
	 * cannot fail; if the kernel refused all the same, the frame may be
	 * half rewritten and is not fit to pass on.
	 */
	if (t.inner_ok && t.outer_ecn == LB_ECN_CE && t.inner_ecn == LB_ECN_NOT_ECT)
		c = LB_DECAP_ECN_DROP;
	else if (!t.inner_ok || lb_tunnel_strip(ctx, &t) || lb_inner_ecn(ctx, &t))
		c = LB_DECAP_MALFORMED;
count:
	lb_decap_count(c);
	return c == LB_DECAP_MALFORMED || c == LB_DECAP_ECN_DROP ? XDP_DROP : XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
