// SPDX-License-Identifier: GPL-2.0-only
/*
 * An XDP program for the health-check test: drops every TCP SYN (without
 * ACK) that arrives on the interface, IPv4 or IPv6, and passes everything
 * else. On a server's NIC it makes a listener that never sees a handshake,
 * as a firewall that drops or a host that lost the route would: a
 * connecting client hears nothing and times out. (This kernel has no
 * netfilter modules to do it with.)
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "lb_parse.h"

SEC("xdp")
int lb_syndrop(struct xdp_md *ctx)
{
	struct lb_pkt p = {};

	if (lb_parse(ctx, &p) != LB_OK || p.key.proto != IPPROTO_TCP)
		return XDP_PASS;
	if (lb_parse_l4(ctx, &p) != LB_OK)
		return XDP_PASS;
	if ((p.tcp_flags & (LB_TCP_SYN | LB_TCP_ACK)) == LB_TCP_SYN)
		return XDP_DROP;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
