// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests of the weighted Maglev builder: the paper's worked example,
 * slot shares for equal and unequal weights, order independence,
 * disruption when backends leave, and argument checking.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "lb_abi.h"
#include "maglev.h"
#include "lb_test.h"

#define M_DEFAULT	LB_TABLE_SIZE_DEFAULT
#define ARRAY_LEN(a)	(sizeof(a) / sizeof((a)[0]))

/* 198.18.0.0/15, the benchmarking range: backend i is 198.18.i/250.i%250+1 */
static void backend_v4(struct maglev_backend *b, size_t i, __u32 weight)
{
	__u32 host = (__u32)(i / 250) << 8 | (__u32)(i % 250 + 1);

	memset(b, 0, sizeof(*b));
	b->id = i + 1;
	b->weight = weight;
	b->family = LB_FAMILY_IPV4;
	b->addr[0] = htonl(0xc6120000u | host);
}

/* fd00::10:0/112: backend i is fd00::10:(i + 1). */
static void backend_v6(struct maglev_backend *b, size_t i, __u32 weight)
{
	memset(b, 0, sizeof(*b));
	b->id = i + 1;
	b->weight = weight;
	b->family = LB_FAMILY_IPV6;
	b->addr[0] = htonl(0xfd000000u);
	b->addr[3] = htonl(0x00100000u | (__u32)(i + 1));
}

/* Even positions IPv4, odd ones IPv6: both families and their sort order. */
static void backend_mixed(struct maglev_backend *b, size_t i, __u32 weight)
{
	if (i % 2)
		backend_v6(b, i, weight);
	else
		backend_v4(b, i, weight);
}

static struct maglev_backend *backends_new(size_t n, __u32 weight,
					   void (*make)(struct maglev_backend *,
							size_t, __u32))
{
	struct maglev_backend *b = calloc(n ? n : 1, sizeof(*b));
	size_t i;

	cr_assert_not_null(b);
	for (i = 0; i < n; i++)
		make(&b[i], i, weight);
	return b;
}

static __u32 *table_new(__u32 size)
{
	__u32 *t = calloc(size, sizeof(*t));

	cr_assert_not_null(t);
	return t;
}

static void build_ok(const struct maglev_backend *b, size_t n, __u32 size,
		     __u32 *table)
{
	char err[128];
	int ret;

	ret = maglev_build(b, n, size, table, err, sizeof(err));
	cr_assert_eq(ret, 0, "maglev_build: %d (%s)", ret, err);
	cr_assert_str_empty(err);
}

/* Slots per id (ids 1..max_id); fails on a slot holding anything else. */
static size_t *count_slots(const __u32 *table, __u32 size, __u32 max_id)
{
	size_t *count = calloc(max_id + 1, sizeof(*count));
	__u32 s;

	cr_assert_not_null(count);
	for (s = 0; s < size; s++) {
		cr_assert(table[s] >= 1 && table[s] <= max_id,
			  "slot %u holds id %u", s, table[s]);
		count[table[s]]++;
	}
	return count;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void shuffle(struct maglev_backend *b, size_t n, __u32 *state)
{
	struct maglev_backend tmp;
	size_t i, j;

	for (i = n - 1; i > 0; i--) {
		j = lb_test_rand(state) % (i + 1);
		tmp = b[i];
		b[i] = b[j];
		b[j] = tmp;
	}
}

/*
 * The paper's example. Equal quotas (3, 2, 2; the extra slot to the first
 * backend) stop the rounds exactly where "stop when the table is full"
 * does, so the quota-based population reproduces the classic table.
 */
Test(maglev, paper_example)
{
	const __u32 offset[] = { 3, 0, 3 }, skip[] = { 4, 2, 1 };
	const __u32 quota[] = { 3, 2, 2 }, ids[] = { 1, 2, 3 };
	const __u32 want[] = { 2, 1, 2, 1, 3, 3, 1 };	/* B1 B0 B1 B0 B2 B2 B0 */
	__u32 table[7];

	cr_assert_eq(maglev_populate(offset, skip, quota, ids, 3, 7, table), 0);
	cr_assert_arr_eq(table, want, sizeof(want));
}

Test(maglev, paper_example_b1_removed)
{
	const __u32 offset[] = { 3, 3 }, skip[] = { 4, 1 };
	const __u32 quota[] = { 4, 3 }, ids[] = { 1, 3 };
	const __u32 want[] = { 1, 1, 1, 1, 3, 3, 3 };	/* B0 B0 B0 B0 B2 B2 B2 */
	__u32 table[7];

	cr_assert_eq(maglev_populate(offset, skip, quota, ids, 2, 7, table), 0);
	cr_assert_arr_eq(table, want, sizeof(want));
}

/* The paper's algorithm, written out plainly, as the reference. */
static void classic_populate(const __u32 *offset, const __u32 *skip,
			     const __u32 *ids, size_t n, __u32 size,
			     __u32 *table)
{
	__u64 *next = calloc(n, sizeof(*next));
	__u32 filled = 0, slot;
	size_t i;

	cr_assert_not_null(next);
	memset(table, 0, size * sizeof(*table));
	for (;;) {
		for (i = 0; i < n; i++) {
			do {
				slot = (offset[i] + next[i] * skip[i]) % size;
				next[i]++;
			} while (table[slot]);
			table[slot] = ids[i];
			if (++filled == size) {
				free(next);
				return;
			}
		}
	}
}

/* Equal quotas, ceil first, give the classic table for any lists. */
Test(maglev, equal_quotas_match_classic)
{
	const __u32 size = 1009;
	const size_t ns[] = { 1, 2, 3, 10, 50, 1009, 2000 };
	__u32 state = 0x1234567u, *offset, *skip, *quota, *ids, *got, *want;
	size_t k, i, n;

	got = table_new(size);
	want = table_new(size);
	for (k = 0; k < ARRAY_LEN(ns); k++) {
		n = ns[k];
		offset = calloc(4 * n, sizeof(*offset));
		cr_assert_not_null(offset);
		skip = offset + n;
		quota = offset + 2 * n;
		ids = offset + 3 * n;
		for (i = 0; i < n; i++) {
			offset[i] = lb_test_rand(&state) % size;
			skip[i] = lb_test_rand(&state) % (size - 1) + 1;
			quota[i] = size / n + (i < size % n);
			ids[i] = i + 1;
		}
		cr_assert_eq(maglev_populate(offset, skip, quota, ids, n, size,
					     got), 0);
		classic_populate(offset, skip, ids, n, size, want);
		cr_assert_arr_eq(got, want, size * sizeof(*got), "n = %zu", n);
		free(offset);
	}
	free(got);
	free(want);
}

ParameterizedTestParameters(maglev, equal_weights)
{
	static size_t ns[] = { 1, 3, 7, 100, 1000 };

	return cr_make_param_array(size_t, ns, ARRAY_LEN(ns));
}

ParameterizedTest(size_t *np, maglev, equal_weights)
{
	size_t n = *np, lo = M_DEFAULT / n, hi = lo + (M_DEFAULT % n != 0);
	struct maglev_backend *b = backends_new(n, 1, backend_mixed);
	__u32 *table = table_new(M_DEFAULT);
	size_t *count, i;

	build_ok(b, n, M_DEFAULT, table);
	count = count_slots(table, M_DEFAULT, n);
	for (i = 1; i <= n; i++)
		cr_assert(count[i] == lo || count[i] == hi,
			  "id %zu has %zu slots, want %zu or %zu",
			  i, count[i], lo, hi);
	free(count);
	free(table);
	free(b);
}

struct weight_case {
	char desc[40];
	__u32 size;
	__u32 n;
	__u32 weight[12];
};

ParameterizedTestParameters(maglev, weighted_shares)
{
	static struct weight_case cases[] = {
		{ "1..10", M_DEFAULT, 10, { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 } },
		{ "100 and 1", M_DEFAULT, 2, { 100, 1 } },
		{ "max and 1", M_DEFAULT, 2, { MAGLEV_WEIGHT_MAX, 1 } },
		{ "3 3 3 1", 16381, 4, { 3, 3, 3, 1 } },
		{ "1 2 4 at 655373", 655373, 3, { 1, 2, 4 } },
		{ "equal, more backends than slots", 7, 12,
		  { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 } },
		{ "uneven, more backends than slots", 5, 6,
		  { 9, 1, 1, 1, 1, 7 } },
	};

	return cr_make_param_array(struct weight_case, cases, ARRAY_LEN(cases));
}

/*
 * Every backend is within one slot of its exact share M * w / W (the
 * quota rule), and within 1% of it where the share is 100 slots or more.
 */
ParameterizedTest(struct weight_case *c, maglev, weighted_shares)
{
	struct maglev_backend *b = backends_new(c->n, 1, backend_mixed);
	__u32 *table = table_new(c->size);
	double exact, diff, total = 0;
	size_t *count, i;

	for (i = 0; i < c->n; i++) {
		b[i].weight = c->weight[i];
		total += c->weight[i];
	}
	build_ok(b, c->n, c->size, table);
	count = count_slots(table, c->size, c->n);
	for (i = 0; i < c->n; i++) {
		exact = c->size * c->weight[i] / total;
		cr_assert(count[i + 1] > exact - 1 && count[i + 1] < exact + 1,
			  "%s: weight %u has %zu slots, exact share %.2f",
			  c->desc, c->weight[i], count[i + 1], exact);
		diff = count[i + 1] > exact ? count[i + 1] - exact :
					      exact - count[i + 1];
		if (exact >= 100)
			cr_assert_leq(diff / exact, 0.01,
				      "%s: weight %u has %zu slots, exact share %.2f",
				      c->desc, c->weight[i], count[i + 1], exact);
	}
	free(count);
	free(table);
	free(b);
}

/* One heavy backend among many light ones: light ones that lose the
 * remainder draw get no slot at all, and the heavy one fills the rest. */
Test(maglev, weighted_skewed_many)
{
	const size_t n = 1000;
	struct maglev_backend *b = backends_new(n, 1, backend_v6);
	__u32 *table = table_new(M_DEFAULT);
	double exact, t0, total = n - 1 + MAGLEV_WEIGHT_MAX;
	size_t *count, i;

	b[500].weight = MAGLEV_WEIGHT_MAX;
	t0 = now_ms();
	build_ok(b, n, M_DEFAULT, table);
	cr_log_info("skewed N=%zu M=%u: %.2f ms", n, M_DEFAULT, now_ms() - t0);
	count = count_slots(table, M_DEFAULT, n);
	for (i = 0; i < n; i++) {
		exact = (double)M_DEFAULT * b[i].weight / total;
		cr_assert(count[i + 1] > exact - 1 && count[i + 1] < exact + 1,
			  "weight %u has %zu slots, exact share %.2f",
			  b[i].weight, count[i + 1], exact);
	}
	free(count);
	free(table);
	free(b);
}

/* Every LB node must build the same bytes whatever the config order. */
Test(maglev, order_independent)
{
	const size_t n = 300;
	struct maglev_backend *b = backends_new(n, 1, backend_mixed);
	__u32 *want = table_new(M_DEFAULT), *got = table_new(M_DEFAULT);
	__u32 state = 0xdecafbadu;
	size_t i;
	int round;

	for (i = 0; i < n; i++)
		b[i].weight = 1 + i % 7;
	build_ok(b, n, M_DEFAULT, want);
	for (round = 0; round < 8; round++) {
		shuffle(b, n, &state);
		build_ok(b, n, M_DEFAULT, got);
		cr_assert_arr_eq(got, want, M_DEFAULT * sizeof(*got),
				 "shuffle %d gives another table", round);
	}
	free(want);
	free(got);
	free(b);
}

/* Stray bytes in the unused words of an IPv4 address change nothing. */
Test(maglev, ipv4_unused_words_ignored)
{
	const size_t n = 50;
	struct maglev_backend *b = backends_new(n, 1, backend_v4);
	__u32 *want = table_new(M_DEFAULT), *got = table_new(M_DEFAULT);
	size_t i;

	build_ok(b, n, M_DEFAULT, want);
	for (i = 0; i < n; i++)
		b[i].addr[1 + i % 3] = htonl(0xdead0000u + i);
	build_ok(b, n, M_DEFAULT, got);
	cr_assert_arr_eq(got, want, M_DEFAULT * sizeof(*got));
	free(want);
	free(got);
	free(b);
}

struct disruption_case {
	char desc[40];
	__u32 n;
	__u32 k;
	bool ipv6;
	double lo;
	double hi;
};

ParameterizedTestParameters(maglev, disruption)
{
	static struct disruption_case cases[] = {
		{ "1 of 100, IPv4", 100, 1, false, 0.002, 0.015 },
		{ "1 of 1000, IPv6", 1000, 1, true, 0.002, 0.015 },
		{ "10 of 1000, IPv4", 1000, 10, false, 0.015, 0.035 },
	};

	return cr_make_param_array(struct disruption_case, cases,
				   ARRAY_LEN(cases));
}

/*
 * Remove k equal-weight backends, spread over the set, and count the slots
 * of the survivors (slots the removed ones did not own) that change owner.
 */
ParameterizedTest(struct disruption_case *c, maglev, disruption)
{
	struct maglev_backend *b = backends_new(c->n, 1,
						c->ipv6 ? backend_v6 : backend_v4);
	struct maglev_backend *rest = backends_new(c->n, 1, backend_v4);
	__u32 *before = table_new(M_DEFAULT), *after = table_new(M_DEFAULT);
	bool *gone = calloc(c->n + 1, sizeof(*gone));
	size_t i, nrest = 0, kept = 0, moved = 0;
	double frac;
	__u32 s;

	cr_assert_not_null(gone);
	for (i = 0; i < c->k; i++)
		gone[b[(2 * i + 1) * c->n / (2 * c->k)].id] = true;
	for (i = 0; i < c->n; i++) {
		if (!gone[b[i].id])
			rest[nrest++] = b[i];
	}
	cr_assert_eq(nrest, c->n - c->k);
	build_ok(b, c->n, M_DEFAULT, before);
	build_ok(rest, nrest, M_DEFAULT, after);
	for (s = 0; s < M_DEFAULT; s++) {
		cr_assert(!gone[after[s]], "slot %u still holds a removed id", s);
		if (gone[before[s]])
			continue;
		kept++;
		moved += before[s] != after[s];
	}
	frac = (double)moved / kept;
	cr_log_info("disruption, %s, M=%u: %zu of %zu surviving slots moved (%.3f%%)",
		    c->desc, M_DEFAULT, moved, kept, 100 * frac);
	cr_assert(frac >= c->lo && frac <= c->hi,
		  "%s: %.3f%% moved, want %.1f%%..%.1f%%",
		  c->desc, 100 * frac, 100 * c->lo, 100 * c->hi);
	free(gone);
	free(before);
	free(after);
	free(rest);
	free(b);
}

/* M = 65537, N = 1000 must take a few ms; logged, not asserted (CI noise). */
Test(maglev, build_time)
{
	const size_t n = 1000;
	struct maglev_backend *b = backends_new(n, 1, backend_mixed);
	__u32 *table = table_new(M_DEFAULT);
	double t0, best = 1e9, sum = 0, dt;
	int i, runs = 20;

	for (i = 0; i < runs; i++) {
		t0 = now_ms();
		build_ok(b, n, M_DEFAULT, table);
		dt = now_ms() - t0;
		sum += dt;
		if (dt < best)
			best = dt;
	}
	cr_log_info("build N=%zu M=%u: best %.2f ms, mean %.2f ms over %d runs",
		    n, M_DEFAULT, best, sum / runs, runs);
	free(table);
	free(b);
}

/* The largest accepted size builds, with the default-sized pool. */
Test(maglev, largest_size)
{
	const size_t n = 1000;
	struct maglev_backend *b = backends_new(n, 1, backend_v4);
	__u32 *table = table_new(LB_TABLE_SIZE_MAX);
	size_t *count;
	double t0;

	t0 = now_ms();
	build_ok(b, n, LB_TABLE_SIZE_MAX, table);
	cr_log_info("build N=%zu M=%u: %.2f ms", n, LB_TABLE_SIZE_MAX,
		    now_ms() - t0);
	count = count_slots(table, LB_TABLE_SIZE_MAX, n);
	free(count);
	free(table);
	free(b);
}

enum err_mutation {
	MUT_NONE,
	MUT_NO_BACKENDS,
	MUT_WEIGHT_0,
	MUT_WEIGHT_BIG,
	MUT_ID_0,
	MUT_FAMILY,
	MUT_DUP_V4,
	MUT_DUP_V6,
	MUT_DUP_V4_STRAY,
};

struct err_case {
	char desc[40];
	__u32 size;
	enum err_mutation mut;
	char want[64];
};

ParameterizedTestParameters(maglev, errors)
{
	static struct err_case cases[] = {
		{ "size 65536", 65536, MUT_NONE, "table size 65536 is not a prime" },
		{ "size 65535", 65535, MUT_NONE, "table size 65535 is not a prime" },
		{ "size 1", 1, MUT_NONE, "table size 1 is out of range" },
		{ "size 0", 0, MUT_NONE, "table size 0 is out of range" },
		{ "size above max", LB_TABLE_SIZE_MAX + 2, MUT_NONE,
		  "is out of range [2, 4194301]" },
		{ "no backends", M_DEFAULT, MUT_NO_BACKENDS, "no backends" },
		{ "weight 0", M_DEFAULT, MUT_WEIGHT_0,
		  "backend 1 (198.18.0.2): weight 0 is out of range" },
		{ "weight 65536", M_DEFAULT, MUT_WEIGHT_BIG,
		  "weight 65536 is out of range [1, 65535]" },
		{ "id 0", M_DEFAULT, MUT_ID_0, "backend 1 (198.18.0.2): id 0" },
		{ "family 5", M_DEFAULT, MUT_FAMILY,
		  "backend 2: unknown address family 5" },
		{ "duplicate IPv4", M_DEFAULT, MUT_DUP_V4,
		  "backends 0 and 2 have the same address 198.18.0.1" },
		{ "duplicate IPv6", M_DEFAULT, MUT_DUP_V6,
		  "backends 1 and 3 have the same address fd00::10:4" },
		{ "duplicate IPv4, stray words", M_DEFAULT, MUT_DUP_V4_STRAY,
		  "backends 0 and 2 have the same address 198.18.0.1" },
	};

	return cr_make_param_array(struct err_case, cases, ARRAY_LEN(cases));
}

/* Backends 0 and 2 are IPv4 (198.18.0.1, .3), 1 and 3 IPv6 (fd00::10:2, :4). */
static size_t mutate(struct maglev_backend *b, enum err_mutation mut)
{
	switch (mut) {
	case MUT_NONE:
		break;
	case MUT_NO_BACKENDS:
		return 0;
	case MUT_WEIGHT_0:
		backend_v4(&b[1], 1, 0);
		break;
	case MUT_WEIGHT_BIG:
		b[1].weight = MAGLEV_WEIGHT_MAX + 1;
		break;
	case MUT_ID_0:
		backend_v4(&b[1], 1, 1);
		b[1].id = 0;
		break;
	case MUT_FAMILY:
		b[2].family = 5;
		break;
	case MUT_DUP_V4:
		memcpy(b[2].addr, b[0].addr, sizeof(b[2].addr));
		break;
	case MUT_DUP_V6:
		memcpy(b[1].addr, b[3].addr, sizeof(b[1].addr));
		break;
	case MUT_DUP_V4_STRAY:
		memcpy(b[2].addr, b[0].addr, sizeof(b[2].addr));
		b[2].addr[3] = htonl(1);
		break;
	}
	return 4;
}

ParameterizedTest(struct err_case *c, maglev, errors)
{
	struct maglev_backend *b = backends_new(4, 1, backend_mixed);
	__u32 *table = table_new(M_DEFAULT);
	char err[128] = "unchanged";
	size_t n = mutate(b, c->mut);
	int ret;

	ret = maglev_build(b, n, c->size, table, err, sizeof(err));
	cr_assert_eq(ret, -EINVAL, "%s: returned %d", c->desc, ret);
	cr_assert(strstr(err, c->want), "%s: message \"%s\" lacks \"%s\"",
		  c->desc, err, c->want);
	cr_assert_null(strchr(err, '\n'), "%s: message is not one line", c->desc);
	/* The same failure with no buffer, and with a tiny one. */
	cr_assert_eq(maglev_build(b, n, c->size, table, NULL, 0), -EINVAL);
	cr_assert_eq(maglev_build(b, n, c->size, table, err, 6), -EINVAL);
	cr_assert_eq(strlen(err), 5, "%s: \"%s\" overflows", c->desc, err);
	free(table);
	free(b);
}

/* maglev_populate() refuses lists that could not fill the table. */
Test(maglev, populate_errors)
{
	const __u32 off[] = { 3, 0 }, skp[] = { 4, 2 }, quo[] = { 4, 3 };
	const __u32 ids[] = { 1, 2 }, skip0[] = { 4, 0 }, skip_m[] = { 4, 7 };
	const __u32 off_m[] = { 7, 0 }, quo_short[] = { 3, 3 }, id0[] = { 1, 0 };
	__u32 table[8];

	cr_assert_eq(maglev_populate(off, skp, quo, ids, 2, 7, table), 0);
	cr_assert_eq(maglev_populate(off, skp, quo, ids, 0, 7, table), -EINVAL);
	cr_assert_eq(maglev_populate(off, skp, quo, ids, 2, 8, table), -EINVAL);
	cr_assert_eq(maglev_populate(off, skip0, quo, ids, 2, 7, table), -EINVAL);
	cr_assert_eq(maglev_populate(off, skip_m, quo, ids, 2, 7, table), -EINVAL);
	cr_assert_eq(maglev_populate(off_m, skp, quo, ids, 2, 7, table), -EINVAL);
	cr_assert_eq(maglev_populate(off, skp, quo_short, ids, 2, 7, table),
		     -EINVAL);
	cr_assert_eq(maglev_populate(off, skp, quo, id0, 2, 7, table), -EINVAL);
}

struct prime_case {
	__u32 n;
	bool prime;
};

ParameterizedTestParameters(maglev, is_prime)
{
	static struct prime_case cases[] = {
		{ 0, false },		{ 1, false },
		{ 2, true },		{ 3, true },
		{ 4, false },		{ 9, false },
		{ 7, true },		{ 16381, true },
		{ 65536, false },	{ 65537, true },
		{ 655373, true },	{ 4194301, true },
		{ 4194303, false },	{ 4293001441u, false },	/* 65521^2 */
		{ 4294967291u, true },	{ 4294967295u, false },
	};

	return cr_make_param_array(struct prime_case, cases, ARRAY_LEN(cases));
}

ParameterizedTest(struct prime_case *c, maglev, is_prime)
{
	cr_assert_eq(maglev_is_prime(c->n), c->prime, "maglev_is_prime(%u)",
		     c->n);
}
