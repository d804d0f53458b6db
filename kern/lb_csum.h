/* SPDX-License-Identifier: GPL-2.0-only */
/* Internet checksum helpers (RFC 1071, RFC 1624). */
#ifndef LB_CSUM_H
#define LB_CSUM_H

#include <linux/types.h>
#include <bpf/bpf_helpers.h>
#include "lb_abi.h"

/* Longest run lb_csum_add() sums: an ICMP header and the largest quote. */
#define LB_CSUM_MAX_WORDS	((8 + LB_ICMP6_QUOTE_MAX) / 2)

static __always_inline __u16 lb_csum_fold(__u64 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/* Add len bytes (len even, at most 2 * max_words) starting at pos; every
 * read is checked against end, so the verifier accepts any len. */
static __always_inline __u64 lb_csum_add(__u64 sum, const void *pos,
					 const void *end, __u32 len)
{
	const __u16 *w = pos;
	__u32 i;

	/* Verifier workaround: hide where w comes from. Otherwise clang may
	 * reuse w, which ends past the packet, for the caller's later store
	 * through the same header, and the verifier rejects that store. */
	barrier_var(w);
	for (i = 0; i < LB_CSUM_MAX_WORDS; i++) {
		if (i * 2 >= len)
			break;
		if ((const void *)(w + 1) > end)
			break;
		sum += *w++;
	}
	return sum;
}

/* Incremental update of a checksum when one 16-bit word changes (RFC 1624). */
static __always_inline void lb_csum_replace2(__sum16 *csum, __u16 from, __u16 to)
{
	__u32 sum = (__u16)~*csum;

	sum += (__u16)~from;
	sum += to;
	*csum = lb_csum_fold(sum);
}

#endif /* LB_CSUM_H */
