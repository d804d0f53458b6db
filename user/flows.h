/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Flows as the flow table shows them: how many each backend has that were
 * seen lately, and one flow's entry with its age. Entries are stamped in
 * kernel jiffies, which no system call reads: lb_clock.bpf.o (run, never
 * attached) reads them with CLOCK_MONOTONIC, and the kernel's HZ is
 * measured once, between the edges of two ticks.
 */
#ifndef LB_FLOWS_H
#define LB_FLOWS_H

#include <stddef.h>
#include <linux/types.h>

#include "lb_abi.h"

struct flows;

/* NULL with errno on error. */
struct flows *flows_new(int flow_table_fd);
void flows_free(struct flows *f);

/* The kernel's HZ (measured on first use). 0 or -errno. */
int flows_hz(struct flows *f, unsigned int *hz);

/*
 * counts[id] (LB_MAX_BACKENDS of them, zeroed first): the flow entries on
 * backend id seen within the last idle_ms. 0 or -errno.
 */
int flows_count(struct flows *f, __u32 idle_ms, __u32 *counts);

/* The backend flow k's entry names, and how long ago the flow was seen.
 * -ENOENT: no entry. */
int flows_lookup(struct flows *f, const struct lb_flow_key *k, __u32 *backend_id,
		 __u64 *age_ms);

#endif /* LB_FLOWS_H */
