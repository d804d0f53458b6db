/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the benchmarks share: frames to send, timing through
 * BPF_PROG_TEST_RUN with repeat = 1, medians, a standard balancer.
 */
#ifndef LB_BENCH_H
#define LB_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include <bpf/libbpf.h>

#include "lb_abi.h"

#define BENCH_FRAME_MAX 256

struct bench_frames {
	uint8_t (*buf)[BENCH_FRAME_MAX];
	size_t *len;
	struct lb_flow_key *key;	/* each frame's flow */
	size_t n;
	size_t next;		/* the frame the next call sends */
};

/* n TCP frames of distinct flows to dst:port from 198.18.0.0/15 or
 * fd00:1::/64, with the given TCP flags. Exits when out of memory. */
struct bench_frames bench_tcp_frames(const char *dst, uint16_t port, size_t n, uint8_t flags);

/* The same from the first-th flow on: frames of flows first .. first + n - 1,
 * none of them a flow of bench_tcp_frames(dst, port, first, ...). A
 * new-flow row warms its table with other flows than it times, so no
 * timed SYN can find its own flow still there, whatever the table's
 * eviction order. */
struct bench_frames bench_tcp_frames_from(const char *dst, uint16_t port, size_t first, size_t n,
					  uint8_t flags);
void bench_frames_free(struct bench_frames *f);

/* Delete the flow entries of the n frames the next calls will send, so
 * each of those SYNs inserts a new flow into a table with room. */
void bench_flows_forget(int flow_table_fd, const struct bench_frames *f, size_t n);

/* Size an opened, not yet loaded, balancer's flow table for this many
 * flow entries. 0 or -errno. */
int bench_flow_table_size(struct bpf_object *obj, uint32_t entries);

/* Flow entries created so far for VIP vip_id, all CPUs together (the
 * new_flows counter): over a new-flow row's timed SYNs, what share of
 * them really inserted. Exits when it cannot read vip_stats. */
uint64_t bench_new_flows(struct bpf_object *obj, uint32_t vip_id);

/* Mean ns per call over n calls, going on through the frames: the kernel's
 * own measure of each run. Exits on a failed run. */
double bench_time(int prog_fd, struct bench_frames *f, long n);

/* Room for one time per round, zeroed. Exits when out of memory. */
double *bench_rounds(int rounds);

/* The median of v (sorted in place). */
double bench_median(double *v, int n);

/* Set up a loaded balancer object: the standard config, TCP VIPs
 * 198.18.100.1:80 (id 0), fd00:100::1:80 (id 1) and BENCH_VIP_L3:80 (id 2,
 * hash l3), nbackends each with Maglev tables. Exits on failure. */
#define BENCH_VIP_L3 "198.18.100.3"
void bench_balancer(struct bpf_object *obj, size_t nbackends);

/* Set the flood guard's cap (new flows a second per CPU; 0: none) in the
 * balancer's lb_cfg. Exits on failure. */
void bench_flow_cap(struct bpf_object *obj, uint32_t cap);

/* n random IPv4 prefixes (/12 to /32, none covering the bench's IPv4
 * clients in 198.18.0.0/15) in the deny list (vip BLOCKLIST_DENY) or in
 * VIP vip's allow list, then the prefix extra if not NULL. Exits on
 * failure. */
void bench_block_rules(struct bpf_object *obj, uint32_t vip, size_t n, const char *extra);

/* A flow table this small (its per-CPU LRU lists share it: 8192 entries
 * each on 2 CPUs) is full after the first pass over BENCH_FLOWS_CYCLED
 * flows' SYNs: from then on every SYN is a new flow and evicts one, as on
 * a busy node. */
#define BENCH_SMALL_FLOW_TABLE	16384
#define BENCH_FLOWS_CYCLED	65536

/* Flows cycled over the default flow table (1M entries, its LRU lists
 * 512K each on 2 CPUs): full and evicting too, at a node's real size,
 * where buckets and entries miss the caches. */
#define BENCH_FLOWS_BIG		1048576

/* Read --calls N and --rounds N into *calls and *rounds (defaults as
 * given). Returns the index of the first other argument, or -1 after
 * printing usage. */
int bench_options(int argc, char **argv, const char *usage, long *calls, int *rounds);

/* Run on CPU 0 only, so the per-CPU LRU lists see warm-up and timed packets
 * alike. */
void bench_pin_cpu0(void);

#endif /* LB_BENCH_H */
