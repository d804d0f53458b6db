// SPDX-License-Identifier: GPL-2.0-only
/*
 * An XDP program that passes everything. Two uses: the baseline the
 * benchmark subtracts, and the peer program a veth needs before it accepts
 * frames that the other end sends with XDP_TX.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int lb_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
