/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Whether two BTF types lay out memory the same way: the check that lets a
 * new lbd reuse a pinned map only when every field of its keys and values
 * is where the new program expects it, not merely of the same total size.
 */
#ifndef LB_LAYOUT_H
#define LB_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

struct btf;

/*
 * True when type a_id of a and type b_id of b have the same layout: after
 * typedefs and qualifiers, the same kind and size, and for structs and
 * unions the same members (names, offsets, layouts), for arrays the same
 * length and element layout. Otherwise false, with the first difference
 * described in why ("member 'pad' at byte 4 is 'vip_id' here").
 */
bool layout_equal(const struct btf *a, __u32 a_id, const struct btf *b, __u32 b_id, char *why,
		  size_t whylen);

#endif /* LB_LAYOUT_H */
