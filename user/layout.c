// SPDX-License-Identifier: GPL-2.0-only
#include "layout.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <bpf/btf.h>

#define LAYOUT_DEPTH_MAX 16	/* our structs nest two deep; anything past this is refused */

struct cmp {
	const struct btf *a, *b;
	char *why;
	size_t whylen;
};

/* Say what differs; always false, so callers can return it. */
__attribute__((format(printf, 2, 3)))
static bool differ(struct cmp *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->why, c->whylen, fmt, ap);
	va_end(ap);
	return false;
}

static const char *kind_name(const struct btf_type *t)
{
	switch (btf_kind(t)) {
	case BTF_KIND_INT: return "an integer";
	case BTF_KIND_PTR: return "a pointer";
	case BTF_KIND_ARRAY: return "an array";
	case BTF_KIND_STRUCT: return "a struct";
	case BTF_KIND_UNION: return "a union";
	case BTF_KIND_ENUM: return "an enum";
	default: return "another kind";
	}
}

static bool type_equal(struct cmp *c, __u32 a_id, __u32 b_id, int depth);

static bool members_equal(struct cmp *c, const struct btf_type *ta, const struct btf_type *tb,
			  int depth)
{
	const struct btf_member *ma = btf_members(ta), *mb = btf_members(tb);
	__u16 i, n = btf_vlen(ta);

	if (n != btf_vlen(tb))
		return differ(c, "pinned: %u members, here: %u", n, btf_vlen(tb));
	for (i = 0; i < n; i++) {
		const char *na = btf__name_by_offset(c->a, ma[i].name_off);
		const char *nb = btf__name_by_offset(c->b, mb[i].name_off);
		__u32 oa = btf_member_bit_offset(ta, i), ob = btf_member_bit_offset(tb, i);

		if (strcmp(na ? na : "", nb ? nb : "") || oa != ob ||
		    btf_member_bitfield_size(ta, i) != btf_member_bitfield_size(tb, i))
			return differ(c, "pinned: '%s' at byte %u, here: '%s' at byte %u",
				      na ? na : "", oa / 8, nb ? nb : "", ob / 8);
		if (!type_equal(c, ma[i].type, mb[i].type, depth + 1))
			return false;
	}
	return true;
}

static bool type_equal(struct cmp *c, __u32 a_id, __u32 b_id, int depth)
{
	const struct btf_type *ta, *tb;
	int ra = btf__resolve_type(c->a, a_id), rb = btf__resolve_type(c->b, b_id);

	if (depth > LAYOUT_DEPTH_MAX || ra < 0 || rb < 0)
		return differ(c, "types nested deeper than %d, or unreadable", LAYOUT_DEPTH_MAX);
	ta = btf__type_by_id(c->a, (__u32)ra);
	tb = btf__type_by_id(c->b, (__u32)rb);
	if (btf_kind(ta) != btf_kind(tb))
		return differ(c, "pinned: %s, here: %s", kind_name(ta), kind_name(tb));
	switch (btf_kind(ta)) {
	case BTF_KIND_INT:
		if (ta->size != tb->size || btf_int_encoding(ta) != btf_int_encoding(tb) ||
		    btf_int_bits(ta) != btf_int_bits(tb))
			return differ(c, "pinned: a %u-bit integer, here: %u bits",
				      btf_int_bits(ta), btf_int_bits(tb));
		return true;
	case BTF_KIND_ARRAY:
		if (btf_array(ta)->nelems != btf_array(tb)->nelems)
			return differ(c, "pinned: an array of %u, here: %u",
				      btf_array(ta)->nelems, btf_array(tb)->nelems);
		return type_equal(c, btf_array(ta)->type, btf_array(tb)->type, depth + 1);
	case BTF_KIND_STRUCT:
	case BTF_KIND_UNION:
		if (ta->size != tb->size)
			return differ(c, "pinned: %u bytes, here: %u", ta->size, tb->size);
		return members_equal(c, ta, tb, depth);
	case BTF_KIND_PTR:
		return true;
	default:
		if (btf__resolve_size(c->a, (__u32)ra) != btf__resolve_size(c->b, (__u32)rb))
			return differ(c, "pinned: a type of %lld bytes, here: %lld",
				      (long long)btf__resolve_size(c->a, (__u32)ra),
				      (long long)btf__resolve_size(c->b, (__u32)rb));
		return true;
	}
}

bool layout_equal(const struct btf *a, __u32 a_id, const struct btf *b, __u32 b_id, char *why,
		  size_t whylen)
{
	struct cmp c = { .a = a, .b = b, .why = why, .whylen = whylen };

	why[0] = '\0';
	return type_equal(&c, a_id, b_id, 0);
}
