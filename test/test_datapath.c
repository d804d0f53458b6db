// SPDX-License-Identifier: GPL-2.0-only
/* Table installation: what datapath_table_swap() leaves in the maps. */
#include <errno.h>
#include <stdlib.h>

#include <bpf/bpf.h>
#include <criterion/criterion.h>

#include "datapath.h"
#include "lb_test.h"
#include "lb_xdp.skel.h"

static struct lb_xdp *skel;

static void setup(void)
{
	lb_test_require_bpf();
	skel = lb_xdp__open_and_load();
	cr_assert_not_null(skel, "cannot load lb_xdp");
}

static void teardown(void)
{
	lb_xdp__destroy(skel);
}

TestSuite(datapath, .init = setup, .fini = teardown);

static __u32 *pattern(__u32 size, __u32 salt)
{
	__u32 *t = malloc(size * sizeof(*t)), i;

	cr_assert_not_null(t);
	for (i = 0; i < size; i++)
		t[i] = 1 + (i * 7 + salt) % 13;
	return t;
}

static void assert_installed(__u32 vip, const __u32 *want, __u32 size)
{
	__u32 *got, got_size;

	cr_assert_eq(datapath_table_read(bpf_map__fd(skel->maps.vip_tables), vip, &got, &got_size), 0);
	cr_assert_eq(got_size, size);
	cr_assert_arr_eq(got, want, size * sizeof(*want));
	free(got);
}

Test(datapath, swap_installs_whole_table)
{
	__u32 *t = pattern(65537, 1);

	cr_assert_eq(datapath_table_swap(bpf_map__fd(skel->maps.vip_tables), 3, t, 65537), 0);
	assert_installed(3, t, 65537);
	free(t);
}

/* Ids use all 16 bits of a table lane, in all four lanes of an entry. */
Test(datapath, wide_ids_round_trip)
{
	__u32 *t = pattern(1009, 0), i;

	for (i = 0; i < 1009; i++)
		t[i] = 1 + (i * 40503u) % (LB_MAX_BACKENDS - 1);
	t[3] = LB_MAX_BACKENDS - 1;
	t[6] = 0;	/* an empty slot */
	cr_assert_eq(datapath_table_swap(bpf_map__fd(skel->maps.vip_tables), 2, t, 1009), 0);
	assert_installed(2, t, 1009);
	free(t);
}

Test(datapath, swap_replaces_size_and_content_together)
{
	int fd = bpf_map__fd(skel->maps.vip_tables);
	__u32 *a = pattern(65537, 1), *b = pattern(251, 5);
	__u32 id_a, id_b, vip = 7;

	cr_assert_eq(datapath_table_swap(fd, vip, a, 65537), 0);
	cr_assert_eq(bpf_map_lookup_elem(fd, &vip, &id_a), 0);
	cr_assert_eq(datapath_table_swap(fd, vip, b, 251), 0);
	cr_assert_eq(bpf_map_lookup_elem(fd, &vip, &id_b), 0);
	/* A new inner map, not the old one rewritten in place. */
	cr_assert_neq(id_a, id_b);
	assert_installed(vip, b, 251);
	free(a);
	free(b);
}

Test(datapath, bad_swap_keeps_old_table)
{
	int fd = bpf_map__fd(skel->maps.vip_tables);
	__u32 *a = pattern(13, 2), *b = pattern(13, 3);

	cr_assert_eq(datapath_table_swap(fd, 1, a, 13), 0);
	cr_assert_eq(datapath_table_swap(fd, 1, a, 0), -EINVAL);
	cr_assert_eq(datapath_table_swap(fd, LB_MAX_VIPS, a, 13), -E2BIG);
	/* A table lane holds 16 bits: a larger id must not wrap to another. */
	b[5] = LB_MAX_BACKENDS;
	cr_assert_eq(datapath_table_swap(fd, 1, b, 13), -EINVAL);
	assert_installed(1, a, 13);
	free(b);
	free(a);
}

Test(datapath, read_missing_table)
{
	__u32 *t, size;

	cr_assert_eq(datapath_table_read(bpf_map__fd(skel->maps.vip_tables), 5, &t, &size), -ENOENT);
}
