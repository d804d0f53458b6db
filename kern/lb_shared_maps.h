/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The balancer's maps that the tunnel probes' program (lb_probe.bpf.c)
 * reads as well: where a backend is, and the tunnel's source, MACs and
 * MTU. lbd loads lb_probe on the very maps lb_xdp uses, so both encapsulate
 * from one copy of that state, written by the controller alone. Defined
 * here once: a map both objects declared apart could drift apart.
 */
#ifndef LB_SHARED_MAPS_H
#define LB_SHARED_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "lb_abi.h"

/* Backend id -> address and state. Id 0 stays zero: no backend. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LB_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct lb_backend);
} backends SEC(".maps");

/* Runtime settings: MACs, MTU, tunnel sources, flood guard, block-list
 * rule counts. One entry. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lb_config);
} lb_cfg SEC(".maps");

#endif /* LB_SHARED_MAPS_H */
