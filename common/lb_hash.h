/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The flow hash, compiled into the BPF program and into user space alike, so
 * user space can predict which table slot, and so which backend, a flow gets:
 * slot = lb_flow_hash(key) % M.
 *
 * Murmur3's 32-bit block mix and finaliser over the key's 32-bit words as they
 * lie in memory. Network-order fields are hashed as stored, so every node of
 * the same byte order computes the same value for the same packet.
 */
#ifndef LB_HASH_H
#define LB_HASH_H

#include <linux/types.h>
#include "lb_abi.h"

#define LB_FLOW_HASH_SEED	0x5eed1ce5u
#define LB_ADDR_HASH_SEED	0x0add4e55u

static inline __u32 lb_rotl32(__u32 x, int r)
{
	return (x << r) | (x >> (32 - r));
}

static inline __u32 lb_hash_mix(__u32 h, __u32 w)
{
	w *= 0xcc9e2d51u;
	w = lb_rotl32(w, 15);
	w *= 0x1b873593u;
	h ^= w;
	h = lb_rotl32(h, 13);
	return h * 5 + 0xe6546b64u;
}

static inline __u32 lb_hash_final(__u32 h, __u32 len)
{
	h ^= len;
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

/* Hash n 32-bit words. n is a constant at every call site, so the loop unrolls. */
static inline __u32 lb_hash_words(const __u32 *w, __u32 n, __u32 seed)
{
	__u32 h = seed;
	__u32 i;

	for (i = 0; i < n; i++)
		h = lb_hash_mix(h, w[i]);
	return lb_hash_final(h, n * 4);
}

/*
 * IPv4 keys hash only the words that can be non-zero; IPv6 keys hash both
 * addresses in full. Ports and protocol go in last. The flow table's tag
 * is the same hash with another seed (lb_flowtab.h).
 */
static inline __u32 lb_flow_hash_seeded(const struct lb_flow_key *k, __u32 seed)
{
	__u32 ports = (__u32)k->sport | ((__u32)k->dport << 16);
	__u32 tail = (__u32)k->proto | ((__u32)k->family << 8);
	__u32 h = seed;
	int i;

	if (k->family == LB_FAMILY_IPV4) {
		h = lb_hash_mix(h, k->src[0]);
		h = lb_hash_mix(h, k->dst[0]);
		h = lb_hash_mix(h, ports);
		h = lb_hash_mix(h, tail);
		return lb_hash_final(h, 16);
	}
	for (i = 0; i < 4; i++)
		h = lb_hash_mix(h, k->src[i]);
	for (i = 0; i < 4; i++)
		h = lb_hash_mix(h, k->dst[i]);
	h = lb_hash_mix(h, ports);
	h = lb_hash_mix(h, tail);
	return lb_hash_final(h, 40);
}

static inline __u32 lb_flow_hash(const struct lb_flow_key *k)
{
	return lb_flow_hash_seeded(k, LB_FLOW_HASH_SEED);
}

/* Hash of a VIP address, for the VIP filter bitmap. */
static inline __u32 lb_addr_hash(const __be32 addr[4], __u8 family)
{
	__u32 h = LB_ADDR_HASH_SEED;
	int i;

	if (family == LB_FAMILY_IPV4)
		return lb_hash_final(lb_hash_mix(h, addr[0]), 4);
	for (i = 0; i < 4; i++)
		h = lb_hash_mix(h, addr[i]);
	return lb_hash_final(h, 16);
}

/* The VIP index bucket of a key's three words (lb_abi.h, struct
 * lb_vip_index): a multiply per word and a fold, cheaper than murmur's
 * rounds. VIP keys are the operator's, so no seed: a packet's key only
 * picks which bucket is compared. */
static inline __u32 lb_vip_index_bucket(const __u64 w[3])
{
	__u64 h = w[0] * 0x9e3779b97f4a7c15ULL ^ w[1] * 0xc2b2ae3d27d4eb4fULL ^
		  w[2] * 0x165667b19e3779f9ULL;

	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ULL;
	return (__u32)(h >> 40) % LB_VIP_INDEX_BUCKETS;
}

/* The deny filter's bits (lb_abi.h, struct lb_deny_filter). */
#define LB_DENY6_HASH_SEED	0xde4e6a11u

/* An IPv4 source's /16: its first two bytes, as they lie in memory. */
static inline __u32 lb_deny4_bit(__be32 src)
{
	const __u8 *b = (const __u8 *)&src;

	return (__u32)b[0] << 8 | b[1];
}

/* A hash of an IPv6 source's /32, its first word as it lies in memory. */
static inline __u32 lb_deny6_bit(__be32 src0)
{
	return lb_hash_final(lb_hash_mix(LB_DENY6_HASH_SEED, src0), 4) % LB_DENY_FILTER_BITS;
}

#endif /* LB_HASH_H */
