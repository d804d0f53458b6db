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

/* 5-tuple -> backend, for flows already placed. One hash table with an LRU
 * list per CPU (BPF_F_NO_COMMON_LRU): no lock shared between CPUs on the
 * packet path, and one table for user space to read and keep across
 * restarts. The controller may resize it before load. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(map_flags, BPF_F_NO_COMMON_LRU);
	__uint(max_entries, LB_FLOW_TABLE_DEFAULT);
	__type(key, struct lb_flow_key);
	__type(value, struct lb_flow);
} flow_table SEC(".maps");

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
