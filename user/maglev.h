/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Weighted Maglev lookup tables (Eisenbud et al., NSDI 2016, section 3.4).
 *
 * Every slot of a VIP's table holds a backend id; a flow goes to
 * table[lb_flow_hash() % M]. Each backend owns a share of the slots
 * proportional to its weight, and the table depends only on the set of
 * backends, not on the order they are given in, so every LB node builds the
 * same bytes from the same configuration.
 */
#ifndef LB_MAGLEV_H
#define LB_MAGLEV_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#include "lb_abi.h"

#define MAGLEV_WEIGHT_MAX	65535

struct maglev_backend {
	__u32 id;		/* backend id written into the table (never 0) */
	__u32 weight;		/* 1 .. MAGLEV_WEIGHT_MAX */
	__u8 family;		/* LB_FAMILY_IPV4 / LB_FAMILY_IPV6 */
	__be32 addr[4];		/* identity for offset/skip; IPv4: addr[0], rest zero */
};

/*
 * Fill table[0..size-1] with backend ids. Returns 0, or -EINVAL when size is
 * not a prime in [2, LB_TABLE_SIZE_MAX], n == 0, a family is neither
 * LB_FAMILY_IPV4 nor LB_FAMILY_IPV6, a weight is 0 or above
 * MAGLEV_WEIGHT_MAX, an id is 0, or two backends have the same identity
 * (family + address; for IPv4 only addr[0] counts). When errbuf is non-NULL
 * a one-line human-readable reason is written there on error (e.g.
 * "table size 65536 is not a prime"); on success it is set to "".
 * -ENOMEM on allocation failure. table is unspecified after an error.
 */
int maglev_build(const struct maglev_backend *backends, size_t n, __u32 size,
		 __u32 *table, char *errbuf, size_t errlen);

/*
 * The population step on its own, with explicit per-backend preference
 * lists: backend i prefers slots (offset[i] + j * skip[i]) % size for
 * j = 0, 1, ... Backends take turns in array order; on its turn a backend
 * with slots left takes the first free slot of its list, until backend i
 * holds quota[i] slots. maglev_build() ends here.
 *
 * Equal quotas (floor or ceil of size / n, the ceil ones first) give exactly
 * the paper's unweighted table.
 *
 * Returns 0, or -EINVAL unless: n > 0, size is a prime in
 * [2, LB_TABLE_SIZE_MAX], offset[i] < size, 1 <= skip[i] < size,
 * ids[i] != 0 and the quotas sum to size. -ENOMEM on allocation failure.
 */
int maglev_populate(const __u32 *offset, const __u32 *skip, const __u32 *quota,
		    const __u32 *ids, size_t n, __u32 size, __u32 *table);

bool maglev_is_prime(__u32 n);

#endif /* LB_MAGLEV_H */
