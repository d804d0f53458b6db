// SPDX-License-Identifier: GPL-2.0-only
/*
 * The controller's clock: flow entries are stamped with bpf_jiffies64(),
 * which no system call reads, so lbd runs this program (BPF_PROG_TEST_RUN,
 * never attached) to read jiffies and CLOCK_MONOTONIC together, and from
 * two readings a tick apart, the kernel's HZ. That is how it tells how long
 * ago a flow was last seen (lbctl backend drain --wait, flow explain).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "lb_abi.h"

/* The last reading. One entry. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lb_clock_reading);
} lb_clock_now SEC(".maps");

SEC("xdp")
int lb_clock(struct xdp_md *ctx)
{
	__u32 zero = 0;
	struct lb_clock_reading *c = bpf_map_lookup_elem(&lb_clock_now, &zero);

	if (c) {
		c->jiffies = bpf_jiffies64();
		c->mono_ns = bpf_ktime_get_ns();
	}
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
