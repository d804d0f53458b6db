// SPDX-License-Identifier: GPL-2.0-only
#include "apply_bed.h"

#include <criterion/criterion.h>

#include "lb_test.h"

const struct apply_env apply_bed_env = {
	.src_mac = { 2, 0, 0, 0, 0, 1 },
	.next_hop = { 2, 0, 0, 0, 0, 0xfe },
	.mtu = 1500,
};

void apply_bed_open(struct apply_bed *b)
{
	lb_test_require_bpf();
	b->skel = lb_xdp__open_and_load();
	cr_assert_not_null(b->skel);
	b->maps = lb_test_apply_maps(b->skel->obj);
	b->ap = apply_new(&b->maps);
	cr_assert_not_null(b->ap);
}

void apply_bed_close(struct apply_bed *b)
{
	state_free(b->model);
	b->model = NULL;
	apply_free(b->ap);
	lb_xdp__destroy(b->skel);
	b->ap = NULL;
	b->skel = NULL;
}
