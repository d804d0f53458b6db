// SPDX-License-Identifier: GPL-2.0-only
/*
 * Health probes through the tunnel, at TC egress on the balancer's NIC.
 * lbd opens a probe's socket to the VIP itself, marked LB_PROBE_MARK |
 * backend id (lb_abi.h); this program wraps each packet of that socket in
 * the outer header lb_xdp gives a client packet for the same backend (the
 * rules are lb_tunnel.h's, the state the maps lb_xdp reads) and sends it
 * to the next hop, as lb_xdp's frames go. The backend strips the header
 * and answers from the VIP, straight to this node, so the probe passes
 * only if the backend would serve the VIP's clients: decapsulation works
 * and the VIP is on its lo.
 *
 *   marked? -> find the backend and the tunnel -> parse the inner header
 *   -> make room (bpf_skb_adjust_room) -> Ethernet and outer header -> count
 *
 * Every packet it lets through goes on with TC_ACT_UNSPEC, as if it were
 * not there: filters after it in the chain still see it (TC_ACT_OK would
 * end the chain). Unmarked packets leave untouched and uncounted. A marked
 * packet that cannot be encapsulated is dropped, never sent as it is:
 * toward the VIP unwrapped it would come back to a balancer, which could
 * hand it to another backend, and the probe would pass for the wrong one.
 *
 * The inner packet is not touched. A TCP checksum left to offload
 * (CHECKSUM_PARTIAL) stays so: bpf_skb_adjust_room() inserts the room
 * between the Ethernet and IP headers, so csum_start, kept from skb->head,
 * still points at the inner TCP header, and the NIC (or the kernel's
 * fallback, for a device that cannot offload under a tunnel header)
 * finishes it there.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "lb_abi.h"
#include "lb_parse.h"
#include "lb_shared_maps.h"
#include "lb_tunnel.h"

/* What lb_probe did with marked packets, per CPU, indexed by enum
 * lb_probe_counter. Read it with `bpftool map dump name probe_stats`. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lb_probe_stats);
} probe_stats SEC(".maps");

/* The inner packet, as the outer header needs it. */
struct lb_probe_inner {
	struct lb_flow_key key;	/* addresses and ports: the spread hash's input */
	__u32 l3_len;		/* the IP packet */
	__u8 tos;
};

static __always_inline void lb_probe_ports(struct __sk_buff *skb, __u32 off, __u8 proto,
					   struct lb_flow_key *k)
{
	__be16 ports[2];

	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
		return;
	if (bpf_skb_load_bytes(skb, off, ports, sizeof(ports)))
		return;
	k->sport = ports[0];
	k->dport = ports[1];
}

static __always_inline int lb4_probe_inner(struct __sk_buff *skb, struct lb_probe_inner *in)
{
	struct iphdr iph;

	if (bpf_skb_load_bytes(skb, ETH_HLEN, &iph, sizeof(iph)) || iph.version != 4 ||
	    iph.ihl < 5)
		return LB_PROBE_NOT_IP;
	in->tos = iph.tos;
	in->key.family = LB_FAMILY_IPV4;
	in->key.src[0] = iph.saddr;
	in->key.dst[0] = iph.daddr;
	if (!(iph.frag_off & bpf_htons(LB_IP_OFFSET)))
		lb_probe_ports(skb, ETH_HLEN + iph.ihl * 4, iph.protocol, &in->key);
	return LB_PROBE_ENCAP;
}

/* A probe's socket sends no extension headers: ports follow the fixed
 * header or are left 0, which only changes the spread. */
static __always_inline int lb6_probe_inner(struct __sk_buff *skb, struct lb_probe_inner *in)
{
	struct ipv6hdr ip6h;

	if (bpf_skb_load_bytes(skb, ETH_HLEN, &ip6h, sizeof(ip6h)) || ip6h.version != 6)
		return LB_PROBE_NOT_IP;
	in->tos = ip6h.priority << 4 | ip6h.flow_lbl[0] >> 4;
	in->key.family = LB_FAMILY_IPV6;
	__builtin_memcpy(in->key.src, &ip6h.saddr, 16);
	__builtin_memcpy(in->key.dst, &ip6h.daddr, 16);
	lb_probe_ports(skb, ETH_HLEN + sizeof(ip6h), ip6h.nexthdr, &in->key);
	return LB_PROBE_ENCAP;
}

static __always_inline int lb_probe_inner(struct __sk_buff *skb, struct lb_probe_inner *in)
{
	if (skb->len < ETH_HLEN)
		return LB_PROBE_NOT_IP;
	in->l3_len = skb->len - ETH_HLEN;
	if (skb->protocol == bpf_htons(ETH_P_IP))
		return lb4_probe_inner(skb, in);
	if (skb->protocol == bpf_htons(ETH_P_IPV6))
		return lb6_probe_inner(skb, in);
	return LB_PROBE_NOT_IP;
}

/* A GSO packet is cut to segments after this, each a gso_size smaller once
 * bpf_skb_adjust_room() took the room off it; other packets must fit. */
static __always_inline int lb_probe_fits(struct __sk_buff *skb, const struct lb_probe_inner *in,
					 __u32 outer, const struct lb_config *cfg)
{
	if (in->l3_len + outer > 0xffff)
		return 0;
	return skb->gso_size || in->l3_len + outer <= lb_mtu(cfg);
}

static __always_inline int lb_probe_eth(struct __sk_buff *skb, const struct lb_config *cfg,
					__be16 proto)
{
	struct ethhdr eth;

	__builtin_memcpy(eth.h_dest, cfg->next_hop_mac, ETH_ALEN);
	__builtin_memcpy(eth.h_source, cfg->src_mac, ETH_ALEN);
	eth.h_proto = proto;
	return bpf_skb_store_bytes(skb, 0, &eth, sizeof(eth), 0);
}

static __always_inline int lb4_probe_encap(struct __sk_buff *skb, const struct lb_probe_inner *in,
					   const struct lb_backend *be, const struct lb_config *cfg)
{
	struct iphdr o;

	if (!cfg->src4)
		return LB_PROBE_NO_CONFIG;
	if (bpf_skb_adjust_room(skb, sizeof(o), BPF_ADJ_ROOM_MAC, BPF_F_ADJ_ROOM_ENCAP_L3_IPV4))
		return LB_PROBE_ADJUST;
	lb4_hdr_write(&o, in->tos, in->l3_len + sizeof(o), LB_IP_DF,
		      lb_outer_proto(in->key.family), lb4_tunnel_src(&in->key, cfg), be->addr[0]);
	if (lb_probe_eth(skb, cfg, bpf_htons(ETH_P_IP)) ||
	    bpf_skb_store_bytes(skb, ETH_HLEN, &o, sizeof(o), 0))
		return LB_PROBE_ADJUST;
	return LB_PROBE_ENCAP;
}

static __always_inline int lb6_probe_encap(struct __sk_buff *skb, const struct lb_probe_inner *in,
					   const struct lb_backend *be, const struct lb_config *cfg)
{
	struct ipv6hdr o;
	__be32 src[4];
	__u32 spread;

	if (!lb6_has_src(cfg))
		return LB_PROBE_NO_CONFIG;
	spread = lb_spread_hash(&in->key);
	lb6_tunnel_src(spread, cfg, src);
	if (bpf_skb_adjust_room(skb, sizeof(o), BPF_ADJ_ROOM_MAC, BPF_F_ADJ_ROOM_ENCAP_L3_IPV6))
		return LB_PROBE_ADJUST;
	lb6_hdr_write(&o, in->tos, in->l3_len, lb_outer_proto(in->key.family), spread, src,
		      be->addr);
	if (lb_probe_eth(skb, cfg, bpf_htons(ETH_P_IPV6)) ||
	    bpf_skb_store_bytes(skb, ETH_HLEN, &o, sizeof(o), 0))
		return LB_PROBE_ADJUST;
	return LB_PROBE_ENCAP;
}

/* Until lbd knows the next hop's MAC, lb_cfg holds zeros: a frame to
 * 00:00:00:00:00:00 would go nowhere, as lb_xdp's would. */
static __always_inline int lb_probe_next_hop_known(const struct lb_config *cfg)
{
	const __u8 *m = cfg->next_hop_mac;

	return m[0] | m[1] | m[2] | m[3] | m[4] | m[5];
}

/* A backend that a retired entry or no entry names is no probe's target. */
static __always_inline const struct lb_backend *lb_probe_backend(__u32 id)
{
	const struct lb_backend *be;

	if (id == LB_BACKEND_INVALID)
		return 0;
	be = bpf_map_lookup_elem(&backends, &id);
	if (!be || !be->family || be->vip_id == LB_BACKEND_VIP_NONE)
		return 0;
	return be;
}

static __always_inline int lb_probe_encap(struct __sk_buff *skb, __u32 id)
{
	struct lb_probe_inner in = {};
	const struct lb_backend *be;
	const struct lb_config *cfg;
	__u32 zero = 0;
	int rc;

	be = lb_probe_backend(id);
	if (!be)
		return LB_PROBE_NO_BACKEND;
	cfg = bpf_map_lookup_elem(&lb_cfg, &zero);
	if (!cfg || !lb_probe_next_hop_known(cfg))
		return LB_PROBE_NO_CONFIG;
	rc = lb_probe_inner(skb, &in);
	if (rc != LB_PROBE_ENCAP)
		return rc;
	/* lb_xdp hashes an l3 VIP's packets without their ports. */
	if (be->flags & LB_BACKEND_F_L3) {
		in.key.sport = 0;
		in.key.dport = 0;
	}
	if (!lb_probe_fits(skb, &in, lb_outer_len(be), cfg))
		return LB_PROBE_TOO_BIG;
	if (be->family == LB_FAMILY_IPV4)
		return lb4_probe_encap(skb, &in, be, cfg);
	return lb6_probe_encap(skb, &in, be, cfg);
}

SEC("tc")
int lb_probe(struct __sk_buff *skb)
{
	__u32 mark = skb->mark, zero = 0;
	struct lb_probe_stats *ps;
	int rc;

	if ((mark & LB_PROBE_MARK_MASK) != LB_PROBE_MARK)
		return TC_ACT_UNSPEC;
	rc = lb_probe_encap(skb, mark & ~LB_PROBE_MARK_MASK);
	ps = bpf_map_lookup_elem(&probe_stats, &zero);
	if (ps && rc >= 0 && rc < LB_PROBE_MAX)
		ps->count[rc]++;
	return rc == LB_PROBE_ENCAP ? TC_ACT_UNSPEC : TC_ACT_SHOT;
}

char LICENSE[] SEC("license") = "GPL";
