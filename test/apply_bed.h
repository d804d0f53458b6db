/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A loaded (not attached) balancer with a map writer on it, for the suites
 * that drive apply.c: test_apply.c and test_state_apply.c.
 */
#ifndef LB_APPLY_BED_H
#define LB_APPLY_BED_H

#include "apply.h"
#include "lb_xdp.skel.h"
#include "state.h"

struct apply_bed {
	struct lb_xdp *skel;
	struct apply_maps maps;
	struct apply *ap;
	struct state *model;	/* a suite's state, if it keeps one; freed on close */
};

/* MACs and MTU as lbd would learn them from the interface. */
extern const struct apply_env apply_bed_env;

/* Load the balancer and make a writer for its maps (skips the test when
 * BPF is out of reach, fails it under CI). */
void apply_bed_open(struct apply_bed *b);
void apply_bed_close(struct apply_bed *b);

#endif /* LB_APPLY_BED_H */
