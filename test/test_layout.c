// SPDX-License-Identifier: GPL-2.0-only
/*
 * layout_equal(): the check that keeps a new lbd from reusing a pinned map
 * whose fields moved while its size stayed the same.
 */
#include <criterion/criterion.h>
#include <bpf/btf.h>

#include "layout.h"

/* A BTF holding struct flow { u32 <f0>; u32 <f1>; u64 last_seen; } and
 * its id in *id. */
static struct btf *flow_btf(const char *f0, const char *f1, __u32 *id)
{
	struct btf *btf = btf__new_empty();
	int u32, u64;

	cr_assert_not_null(btf);
	u32 = btf__add_int(btf, "__u32", 4, 0);
	u64 = btf__add_int(btf, "__u64", 8, 0);
	*id = (__u32)btf__add_struct(btf, "lb_flow", 16);
	cr_assert(btf__add_field(btf, f0, u32, 0, 0) == 0);
	cr_assert(btf__add_field(btf, f1, u32, 32, 0) == 0);
	cr_assert(btf__add_field(btf, "last_seen", u64, 64, 0) == 0);
	return btf;
}

Test(layout, same_struct_is_equal)
{
	__u32 a_id, b_id;
	struct btf *a = flow_btf("backend_id", "pad", &a_id), *b = flow_btf("backend_id", "pad", &b_id);
	char why[128];

	cr_assert(layout_equal(a, a_id, b, b_id, why, sizeof(why)), "%s", why);
	btf__free(a);
	btf__free(b);
}

/* The pinned struct has fields (a0, a1), ours (b0, b1): they must differ,
 * and the message must name the first field that does. */
static void assert_differs(const char *a0, const char *a1, const char *b0, const char *b1,
			   const char *want)
{
	__u32 a_id, b_id;
	struct btf *a = flow_btf(a0, a1, &a_id), *b = flow_btf(b0, b1, &b_id);
	char why[128];

	cr_assert_not(layout_equal(a, a_id, b, b_id, why, sizeof(why)));
	cr_assert_str_eq(why, want);
	btf__free(a);
	btf__free(b);
}

Test(layout, a_renamed_field_of_the_same_size_differs)
{
	assert_differs("backend_id", "pad", "backend_id", "vip_id",
		       "pinned: 'pad' at byte 4, here: 'vip_id' at byte 4");
}

Test(layout, swapped_fields_differ)
{
	assert_differs("backend_id", "pad", "pad", "backend_id",
		       "pinned: 'backend_id' at byte 0, here: 'pad' at byte 0");
}

/* A typedef or a const in the way changes no byte. */
Test(layout, typedefs_are_looked_through)
{
	__u32 a_id, b_id;
	struct btf *a = flow_btf("backend_id", "pad", &a_id);
	struct btf *b = flow_btf("backend_id", "pad", &b_id);
	int td = btf__add_typedef(b, "lb_flow_t", (int)b_id);
	int cst = btf__add_const(b, td);
	char why[128];

	cr_assert(td > 0 && cst > 0);
	cr_assert(layout_equal(a, a_id, b, (__u32)cst, why, sizeof(why)), "%s", why);
	btf__free(a);
	btf__free(b);
}

/* struct { __u32 addr[4]; } against a struct of the same size with addr[2]. */
Test(layout, an_array_of_another_length_differs)
{
	struct btf *a = btf__new_empty(), *b = btf__new_empty();
	int ua = btf__add_int(a, "__u32", 4, 0), ub = btf__add_int(b, "__u32", 4, 0);
	int aa = btf__add_array(a, ua, ua, 4), ab = btf__add_array(b, ub, ub, 2);
	int sa = btf__add_struct(a, "k", 16), sb;
	char why[128];

	cr_assert(btf__add_field(a, "addr", aa, 0, 0) == 0);
	sb = btf__add_struct(b, "k", 16);
	cr_assert(btf__add_field(b, "addr", ab, 0, 0) == 0);
	cr_assert_not(layout_equal(a, (__u32)sa, b, (__u32)sb, why, sizeof(why)));
	cr_assert_str_eq(why, "pinned: an array of 4, here: 2");
	btf__free(a);
	btf__free(b);
}

Test(layout, an_integer_of_another_width_differs)
{
	struct btf *a = btf__new_empty(), *b = btf__new_empty();
	int ia = btf__add_int(a, "__u32", 4, 0), ib = btf__add_int(b, "__u16", 2, 0);
	char why[128];

	cr_assert_not(layout_equal(a, (__u32)ia, b, (__u32)ib, why, sizeof(why)));
	cr_assert_str_eq(why, "pinned: a 32-bit integer, here: 16 bits");
	btf__free(a);
	btf__free(b);
}
