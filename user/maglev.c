// SPDX-License-Identifier: GPL-2.0-only
/*
 * Weighted Maglev table builder.
 *
 * maglev_build() works in four steps:
 *  1. check the arguments, then sort a copy of the backends by identity
 *     (family, then address bytes in network order), so that nothing below
 *     depends on the order the caller listed them in;
 *  2. hash each identity with two seeds: offset = h1 % M,
 *     skip = h2 % (M - 1) + 1. M is prime, so every skip is coprime with M
 *     and each preference list visits all M slots;
 *  3. apportion the M slots by weight (largest remainders, ties to the
 *     earlier backend in sorted order), so quotas sum to exactly M;
 *  4. maglev_populate(): the paper's rounds, where a backend whose quota is
 *     full sits out.
 *
 * Cost, for N backends and table size M: O(N log N) for the two sorts, O(M)
 * to clear the table, and an expected O(M log M) probes in total (a slot is
 * found after about M / free probes, a harmonic sum over the fill). A
 * backend's cursor never laps its own list, so the worst case is O(N * M).
 * Extra memory is O(N): preference lists are walked, never stored.
 */
#include "maglev.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lb_hash.h"

/*
 * h1 and h2 are the flow hash's mixer with two seeds of their own. They are
 * part of the cross-node contract: changing either reshuffles every table.
 */
#define MAGLEV_SEED_OFFSET	0x6d61676cu
#define MAGLEV_SEED_SKIP	0x9e3779b9u

/* The identity as hashed: family, then addr[0..3] as stored. */
#define MAGLEV_KEY_WORDS	5

_Static_assert(LB_BACKEND_INVALID == 0, "an all-zero table is an empty table");
_Static_assert(LB_TABLE_SIZE_MAX < 0x80000000u, "slot + skip fits in __u32");

/* A backend as maglev_build() sees it once sorted. */
struct maglev_entry {
	__u32 key[MAGLEV_KEY_WORDS];
	__u32 weight;
	__u32 id;
	size_t index;		/* position in the caller's array, for messages */
};

/* A backend taking part in the rounds of maglev_populate(). */
struct maglev_cursor {
	__u32 slot;		/* next slot of its preference list */
	__u32 skip;
	__u32 left;		/* slots it still has to take */
	__u32 id;
};

/* Remainder of a backend's exact share, for the largest-remainder step. */
struct maglev_rem {
	__u64 rem;
	size_t idx;
};

bool maglev_is_prime(__u32 n)
{
	__u32 d;

	if (n < 2)
		return false;
	if (n % 2 == 0)
		return n == 2;
	/* d <= n / d rather than d * d <= n: the square overflows near 2^32. */
	for (d = 3; d <= n / d; d += 2) {
		if (n % d == 0)
			return false;
	}
	return true;
}

static bool maglev_size_ok(__u32 size)
{
	return size >= 2 && size <= LB_TABLE_SIZE_MAX && maglev_is_prime(size);
}

/*
 * The next slot of a preference list. Walking the list by addition is
 * (offset + j * skip) % M without ever forming j * skip; slot + skip < 2M
 * fits in 32 bits because M <= LB_TABLE_SIZE_MAX.
 */
static inline __u32 maglev_next(__u32 slot, __u32 skip, __u32 size)
{
	slot += skip;
	return slot >= size ? slot - size : slot;
}

static int maglev_check_populate(const __u32 *offset, const __u32 *skip,
				 const __u32 *quota, const __u32 *ids, size_t n,
				 __u32 size)
{
	__u64 total = 0;
	size_t i;

	if (!n || !maglev_size_ok(size))
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (offset[i] >= size || !skip[i] || skip[i] >= size)
			return -EINVAL;
		if (ids[i] == LB_BACKEND_INVALID)
			return -EINVAL;
		total += quota[i];
	}
	/* The rounds stop when every quota is met: that must fill the table. */
	return total == size ? 0 : -EINVAL;
}

/*
 * One round: each backend still in the turn order takes the first free slot
 * of its preference list. A free slot exists while any quota is unmet, since
 * quotas sum to M, and the list visits every slot, so the probe loop ends.
 * Backends whose quota is now met drop out; the order of the rest is kept.
 * Returns how many remain.
 */
static size_t maglev_round(struct maglev_cursor *cur, size_t nact,
			   __u32 size, __u32 *table)
{
	size_t r, w = 0;

	for (r = 0; r < nact; r++) {
		struct maglev_cursor c = cur[r];

		while (table[c.slot] != LB_BACKEND_INVALID)
			c.slot = maglev_next(c.slot, c.skip, size);
		table[c.slot] = c.id;
		c.slot = maglev_next(c.slot, c.skip, size);
		if (--c.left)
			cur[w++] = c;
	}
	return w;
}

int maglev_populate(const __u32 *offset, const __u32 *skip, const __u32 *quota,
		    const __u32 *ids, size_t n, __u32 size, __u32 *table)
{
	struct maglev_cursor *cur;
	size_t i, nact = 0;
	int err;

	err = maglev_check_populate(offset, skip, quota, ids, n, size);
	if (err)
		return err;
	cur = calloc(n, sizeof(*cur));
	if (!cur)
		return -ENOMEM;
	/* A backend with quota 0 never takes a turn. */
	for (i = 0; i < n; i++) {
		if (!quota[i])
			continue;
		cur[nact].slot = offset[i];
		cur[nact].skip = skip[i];
		cur[nact].left = quota[i];
		cur[nact].id = ids[i];
		nact++;
	}
	memset(table, 0, (size_t)size * sizeof(*table));
	/* Dropping finished backends keeps the total work O(M + probes) even
	 * when one heavy backend fills the last slots alone. */
	while (nact)
		nact = maglev_round(cur, nact, size, table);
	free(cur);
	return 0;
}

__attribute__((format(printf, 4, 5)))
static int maglev_fail(char *errbuf, size_t errlen, int err,
		       const char *fmt, ...)
{
	va_list ap;

	if (!errbuf || !errlen)
		return err;
	va_start(ap, fmt);
	vsnprintf(errbuf, errlen, fmt, ap);
	va_end(ap);
	return err;
}

/* The backend's address as text; only for a backend whose family is valid. */
static const char *maglev_addr_str(const struct maglev_backend *b, char *buf,
				   size_t len)
{
	int af = b->family == LB_FAMILY_IPV4 ? AF_INET : AF_INET6;

	if (!inet_ntop(af, b->addr, buf, (socklen_t)len))
		snprintf(buf, len, "?");
	return buf;
}

static int maglev_check_backend(const struct maglev_backend *b, size_t i,
				char *errbuf, size_t errlen)
{
	char addr[INET6_ADDRSTRLEN];

	if (b->family != LB_FAMILY_IPV4 && b->family != LB_FAMILY_IPV6)
		return maglev_fail(errbuf, errlen, -EINVAL,
				   "backend %zu: unknown address family %u",
				   i, b->family);
	maglev_addr_str(b, addr, sizeof(addr));
	if (b->id == LB_BACKEND_INVALID)
		return maglev_fail(errbuf, errlen, -EINVAL,
				   "backend %zu (%s): id %u is reserved",
				   i, addr, LB_BACKEND_INVALID);
	if (b->weight < 1 || b->weight > MAGLEV_WEIGHT_MAX)
		return maglev_fail(errbuf, errlen, -EINVAL,
				   "backend %zu (%s): weight %u is out of range [1, %u]",
				   i, addr, b->weight, MAGLEV_WEIGHT_MAX);
	return 0;
}

static int maglev_check_args(const struct maglev_backend *backends, size_t n,
			     __u32 size, char *errbuf, size_t errlen)
{
	size_t i;
	int err;

	if (size < 2 || size > LB_TABLE_SIZE_MAX)
		return maglev_fail(errbuf, errlen, -EINVAL,
				   "table size %u is out of range [2, %u]",
				   size, LB_TABLE_SIZE_MAX);
	if (!maglev_is_prime(size))
		return maglev_fail(errbuf, errlen, -EINVAL,
				   "table size %u is not a prime", size);
	if (!n)
		return maglev_fail(errbuf, errlen, -EINVAL, "no backends");
	for (i = 0; i < n; i++) {
		err = maglev_check_backend(&backends[i], i, errbuf, errlen);
		if (err)
			return err;
	}
	return 0;
}

/* Family first, then the address bytes: network order sorts numerically. */
static int maglev_key_cmp(const struct maglev_entry *a,
			  const struct maglev_entry *b)
{
	if (a->key[0] != b->key[0])
		return a->key[0] < b->key[0] ? -1 : 1;
	return memcmp(&a->key[1], &b->key[1], 4 * sizeof(a->key[1]));
}

static int maglev_entry_cmp(const void *a, const void *b)
{
	return maglev_key_cmp(a, b);
}

/*
 * A sorted copy of the backends with canonical keys. IPv4 keeps addr[0]
 * only, so stray bytes in the unused words cannot change the table or hide
 * a duplicate. NULL when out of memory.
 */
static struct maglev_entry *maglev_sorted(const struct maglev_backend *backends,
					  size_t n)
{
	struct maglev_entry *e;
	size_t i;

	e = calloc(n, sizeof(*e));
	if (!e)
		return NULL;
	for (i = 0; i < n; i++) {
		const struct maglev_backend *b = &backends[i];
		size_t words = b->family == LB_FAMILY_IPV4 ? 1 : 4;

		e[i].key[0] = b->family;
		memcpy(&e[i].key[1], b->addr, words * sizeof(b->addr[0]));
		e[i].weight = b->weight;
		e[i].id = b->id;
		e[i].index = i;
	}
	qsort(e, n, sizeof(*e), maglev_entry_cmp);
	return e;
}

/* Equal identities are neighbours once sorted. */
static int maglev_check_dups(const struct maglev_backend *backends,
			     const struct maglev_entry *e, size_t n,
			     char *errbuf, size_t errlen)
{
	char addr[INET6_ADDRSTRLEN];
	size_t i, lo, hi;

	for (i = 1; i < n; i++) {
		if (maglev_key_cmp(&e[i - 1], &e[i]))
			continue;
		lo = e[i - 1].index;
		hi = e[i].index;
		if (lo > hi) {
			hi = lo;
			lo = e[i].index;
		}
		maglev_addr_str(&backends[lo], addr, sizeof(addr));
		return maglev_fail(errbuf, errlen, -EINVAL,
				   "backends %zu and %zu have the same address %s",
				   lo, hi, addr);
	}
	return 0;
}

/* Larger remainder first; equal remainders in sorted (turn) order. */
static int maglev_rem_cmp(const void *a, const void *b)
{
	const struct maglev_rem *x = a, *y = b;

	if (x->rem != y->rem)
		return x->rem > y->rem ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/*
 * Largest-remainder apportionment: backend i gets floor(M * w_i / W), and
 * the M - sum(floor) slots left over (fewer than N) go one each to the
 * largest remainders. Every quota is within one slot of the exact share;
 * equal weights give the ceil to the first M % N backends, as the paper's
 * rounds do. M * w_i < 2^38, so 64 bits hold every product.
 */
static int maglev_quotas(const struct maglev_entry *e, size_t n, __u32 size,
			 __u32 *quota)
{
	struct maglev_rem *r;
	__u64 total = 0, given = 0, share;
	size_t i;

	r = calloc(n, sizeof(*r));
	if (!r)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		total += e[i].weight;
	for (i = 0; i < n; i++) {
		share = (__u64)size * e[i].weight;
		quota[i] = (__u32)(share / total);
		r[i].rem = share % total;
		r[i].idx = i;
		given += quota[i];
	}
	qsort(r, n, sizeof(*r), maglev_rem_cmp);
	/* The remainders sum to (M - given) * W, each below W: at least
	 * M - given of them are non-zero, and i stays below n. */
	for (i = 0; given < size; i++, given++)
		quota[r[i].idx]++;
	free(r);
	return 0;
}

/* Steps 2 to 4 on the sorted entries. */
static int maglev_fill(const struct maglev_entry *e, size_t n, __u32 size,
		       __u32 *table)
{
	__u32 *cols, *offset, *skip, *quota, *ids, h1, h2;
	size_t i;
	int err;

	cols = calloc(n, 4 * sizeof(*cols));
	if (!cols)
		return -ENOMEM;
	offset = cols;
	skip = cols + n;
	quota = cols + 2 * n;
	ids = cols + 3 * n;
	for (i = 0; i < n; i++) {
		h1 = lb_hash_words(e[i].key, MAGLEV_KEY_WORDS, MAGLEV_SEED_OFFSET);
		h2 = lb_hash_words(e[i].key, MAGLEV_KEY_WORDS, MAGLEV_SEED_SKIP);
		offset[i] = h1 % size;
		skip[i] = h2 % (size - 1) + 1;
		ids[i] = e[i].id;
	}
	err = maglev_quotas(e, n, size, quota);
	if (!err)
		err = maglev_populate(offset, skip, quota, ids, n, size, table);
	free(cols);
	return err;
}

int maglev_build(const struct maglev_backend *backends, size_t n, __u32 size,
		 __u32 *table, char *errbuf, size_t errlen)
{
	struct maglev_entry *e;
	int err;

	if (errbuf && errlen)
		errbuf[0] = '\0';
	err = maglev_check_args(backends, n, size, errbuf, errlen);
	if (err)
		return err;
	e = maglev_sorted(backends, n);
	if (!e)
		return maglev_fail(errbuf, errlen, -ENOMEM, "out of memory");
	err = maglev_check_dups(backends, e, n, errbuf, errlen);
	if (err)
		goto free_entries;
	err = maglev_fill(e, n, size, table);
	if (err)
		maglev_fail(errbuf, errlen, err, "cannot build the table: %s",
			    strerror(-err));
free_entries:
	free(e);
	return err;
}
