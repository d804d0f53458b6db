/* SPDX-License-Identifier: GPL-2.0-only */
/* The balancer's maps. Layouts come from common/lb_abi.h; the two that
 * lb_probe reads too are in lb_shared_maps.h. */
#ifndef LB_MAPS_H
#define LB_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "lb_abi.h"
#include "lb_shared_maps.h"

/* (address, port, protocol) -> VIP id and flags. Written by the controller. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LB_MAX_VIPS * 4);
	__type(key, struct lb_vip_key);
	__type(value, struct lb_vip);
} vip_map SEC(".maps");

/* vip_map's entries in an array whose lookups the verifier inlines
 * (lb_abi.h, struct lb_vip_index). Every index has this one size, so the
 * template needs no BPF_F_INNER_MAP. */
struct lb_vip_index_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	/* Sizes, not types: clang gives BTF the inner map's value type only
	 * as a declaration, which libbpf cannot size, and the kernel takes a
	 * key type only with a value type. */
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct lb_vip_index));
};

/* The VIP index in use: the controller swaps in a new one whole. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct lb_vip_index_map);
} vip_index SEC(".maps");

/* Which destination addresses may be VIPs: one bit per address hash. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lb_vip_filter);
} vip_filter SEC(".maps");

/* The template for each VIP's Maglev table. BPF_F_INNER_MAP keeps the
 * verifier from inlining lookups with this max_entries, so tables of
 * other sizes can be put in vip_tables; see LB_TABLE_MAP_FLAGS. */
struct lb_table_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, LB_TABLE_MAP_FLAGS);
	__uint(max_entries, LB_TABLE_ENTRIES(LB_TABLE_SIZE_DEFAULT));
	__type(key, __u32);
	__type(value, __u64);
};

/* VIP id -> its Maglev table. Replacing one slot swaps a whole table: a
 * packet sees the old table or the new one, never a mix. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, LB_MAX_VIPS);
	__type(key, __u32);
	__array(values, struct lb_table_map);
} vip_tables SEC(".maps");

/* Flows already placed: sets of LB_FLOW_WAYS entries (lb_abi.h,
 * lb_flowtab.h), a set picked by a seeded hash of the flow, then the head
 * that keeps the seeds. An array: its lookups are inlined, and an insert
 * takes no lock, masks no interrupts and keeps no list, where the kernel's
 * LRU insert was half of a new flow's cost (docs/performance.md). The
 * controller sizes it (a power of two of sets, and the head) before load
 * and sets the knobs below to match. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, LB_FLOW_MAP_FLAGS);
	__uint(max_entries, LB_FLOW_TABLE_DEFAULT / LB_FLOW_WAYS + 1);
	__type(key, __u32);
	__type(value, struct lb_flow_set);
} flow_table SEC(".maps");

/* flow_table's sets less one, and its head's seeds. Load-time knobs: the
 * verifier knows them. */
const volatile __u32 lb_flow_set_mask = LB_FLOW_TABLE_DEFAULT / LB_FLOW_WAYS - 1;
const volatile __u32 lb_flow_seed_set;
const volatile __u32 lb_flow_seed_tag;

/* The flood guard's window and count, per CPU (lb_guard_room()). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lb_guard);
} flow_guard SEC(".maps");

/* Source block lists (lb_abi.h): the global deny list and the per-VIP
 * allow lists, written by user/blocklist.c while traffic flows. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, LB_BLOCK_RULES_MAX);
	__type(key, struct lb_deny4_key);
	__type(value, struct lb_block_rule);
} deny4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, LB_BLOCK_RULES_MAX);
	__type(key, struct lb_deny6_key);
	__type(value, struct lb_block_rule);
} deny6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, LB_BLOCK_RULES_MAX);
	__type(key, struct lb_allow4_key);
	__type(value, struct lb_block_rule);
} allow4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, LB_BLOCK_RULES_MAX);
	__type(key, struct lb_allow6_key);
	__type(value, struct lb_block_rule);
} allow6 SEC(".maps");

/* Which sources the deny list may hold: one entry, read before its tries. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lb_deny_filter);
} deny_filter SEC(".maps");

/* VIP id -> rules in its allow list; 0: every source may reach it. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LB_MAX_VIPS);
	__type(key, __u32);
	__type(value, __u32);
} vip_allow SEC(".maps");

/* Rule id -> packets it matched, per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LB_BLOCK_RULES_MAX);
	__type(key, __u32);
	__type(value, struct lb_block_stats);
} block_stats SEC(".maps");

/* Counters: verdicts, drop reasons and events. One per-CPU entry. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lb_global_stats);
} lb_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LB_MAX_VIPS);
	__type(key, __u32);
	__type(value, struct lb_vip_stats);
} vip_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LB_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct lb_backend_stats);
} backend_stats SEC(".maps");

#endif /* LB_MAPS_H */
