// SPDX-License-Identifier: GPL-2.0-only
/*
 * The live benchmark's two helpers (test/bench_live.sh): lb_swap, the
 * bare XDP_TX a balancer is compared with (the frame sent back with its
 * MACs swapped, nothing else read), and lb_sink, which counts and drops
 * what comes back on the sender's side. Both count in a per-CPU array.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} live_count SEC(".maps");

static __always_inline void lb_live_count(void)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&live_count, &zero);

	if (n)
		(*n)++;
}

SEC("xdp")
int lb_swap(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	__u8 mac[ETH_ALEN];

	if ((void *)(eth + 1) > end)
		return XDP_DROP;
	__builtin_memcpy(mac, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, mac, ETH_ALEN);
	lb_live_count();
	return XDP_TX;
}

SEC("xdp")
int lb_sink(struct xdp_md *ctx)
{
	lb_live_count();
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
