// SPDX-License-Identifier: GPL-2.0-only
/*
 * user/blocklist.c against the balancer's real maps: prefixes parsed and
 * refused, rules added, listed with their counters, removed; the counts
 * the data path reads kept in step; rule ids reused with fresh counters;
 * a new writer learning the rules from the maps; config rules replaced
 * around operator rules; a removed VIP's allow list flushed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include <bpf/bpf.h>
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "blocklist.h"
#include "lb_hash.h"
#include "lb_test.h"
#include "lb_xdp.skel.h"
#include "testbed.h"

static struct lb_xdp *skel;
static struct blocklist_maps maps;
static struct blocklist *bl;

static void setup(void)
{
	lb_test_require_bpf();
	skel = lb_xdp__open_and_load();
	cr_assert_not_null(skel, "cannot load lb_xdp");
	cr_assert_eq(testbed_blocklist_maps(skel->obj, &maps), 0);
	bl = blocklist_new(&maps);
	cr_assert_not_null(bl, "blocklist_new: %s", strerror(errno));
}

static void teardown(void)
{
	blocklist_free(bl);
	bl = NULL;
	lb_xdp__destroy(skel);
	skel = NULL;
}

/* --- Parsing, no maps needed --- */

struct parse_case {
	char text[48];
	int err;
	uint8_t family, plen;
	char canon[48];		/* blocklist_prefix_format() of the result */
};

ParameterizedTestParameters(blocklist, prefix_parse)
{
	static struct parse_case cases[] = {
		{ "198.51.100.0/24", 0, LB_FAMILY_IPV4, 24, "198.51.100.0/24" },
		{ "198.51.100.7", 0, LB_FAMILY_IPV4, 32, "198.51.100.7/32" },
		{ "0.0.0.0/0", 0, LB_FAMILY_IPV4, 0, "0.0.0.0/0" },
		{ "2001:db8::/32", 0, LB_FAMILY_IPV6, 32, "2001:db8::/32" },
		{ "2001:db8::1", 0, LB_FAMILY_IPV6, 128, "2001:db8::1/128" },
		{ "2001:db8:0:0:8000::/65", 0, LB_FAMILY_IPV6, 65, "2001:db8:0:0:8000::/65" },
		{ "::/0", 0, LB_FAMILY_IPV6, 0, "::/0" },
		{ "198.51.100.7/24", -EINVAL, 0, 0, "" },	/* host bits */
		{ "2001:db8::1/64", -EINVAL, 0, 0, "" },
		{ "2001:db8:0:0:4000::/65", -EINVAL, 0, 0, "" },
		{ "198.51.100.0/33", -EINVAL, 0, 0, "" },
		{ "2001:db8::/129", -EINVAL, 0, 0, "" },
		{ "198.51.100.0/", -EINVAL, 0, 0, "" },
		{ "198.51.100.0/-1", -EINVAL, 0, 0, "" },
		{ "198.51.100.0/2x", -EINVAL, 0, 0, "" },
		{ "/24", -EINVAL, 0, 0, "" },
		{ "", -EINVAL, 0, 0, "" },
		{ "example.com", -EINVAL, 0, 0, "" },
		{ "198.51.100.256", -EINVAL, 0, 0, "" },
	};

	return cr_make_param_array(struct parse_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct parse_case *c, blocklist, prefix_parse)
{
	struct blocklist_rule r = { 0 };
	char out[64];
	int err = blocklist_prefix_parse(c->text, &r);

	cr_assert_eq(err, c->err, "\"%s\": %d, expected %d", c->text, err, c->err);
	if (err)
		return;
	cr_assert_eq(r.family, c->family, "\"%s\"", c->text);
	cr_assert_eq(r.plen, c->plen, "\"%s\"", c->text);
	cr_assert_eq(blocklist_prefix_format(&r, out, sizeof(out)), 0);
	cr_assert_str_eq(out, c->canon);
}

/* --- Against the maps --- */

TestSuite(blocklist_maps, .init = setup, .fini = teardown, .timeout = 60);

static struct blocklist_rule rule(uint32_t vip, const char *prefix, uint32_t flags)
{
	struct blocklist_rule r = { .vip = vip, .flags = flags };

	cr_assert_eq(blocklist_prefix_parse(prefix, &r), 0, "%s", prefix);
	return r;
}

static __be32 ip4_of(const char *addr)
{
	__be32 a;

	cr_assert_eq(inet_pton(AF_INET, addr, &a), 1);
	return a;
}

static struct lb_config cfg_read(void)
{
	struct lb_config c;
	__u32 zero = 0;

	cr_assert_eq(bpf_map_lookup_elem(maps.lb_cfg, &zero, &c), 0);
	return c;
}

static uint32_t vip_allow(uint32_t vip)
{
	uint32_t n;

	cr_assert_eq(bpf_map_lookup_elem(maps.vip_allow, &vip, &n), 0);
	return n;
}

static void counts_are(uint32_t d4, uint32_t d6, uint32_t allow)
{
	struct lb_config c = cfg_read();
	uint32_t a, b, x;

	cr_assert_eq(c.deny4_rules, d4);
	cr_assert_eq(c.deny6_rules, d6);
	cr_assert_eq(c.allow_rules, allow);
	blocklist_counts(bl, &a, &b, &x);
	cr_assert(a == d4 && b == d6 && x == allow, "the writer counts %u %u %u", a, b, x);
}

/* Bump a rule's counter on two CPUs, as the data path would. */
static void counter_add(uint32_t id, uint64_t n)
{
	int ncpu = libbpf_num_possible_cpus();
	struct lb_block_stats *v = calloc((size_t)ncpu, sizeof(*v));

	cr_assert_not_null(v);
	cr_assert_eq(bpf_map_lookup_elem(maps.block_stats, &id, v), 0);
	v[0].packets += n;
	v[ncpu - 1].packets += n;
	cr_assert_eq(bpf_map_update_elem(maps.block_stats, &id, v, BPF_ANY), 0);
	free(v);
}

static struct blocklist_rule *list(size_t *n)
{
	struct blocklist_rule *rules = NULL;

	cr_assert_eq(blocklist_list(bl, &rules, n), 0);
	return rules;
}

Test(blocklist_maps, add_list_del)
{
	struct blocklist_rule d4 = rule(BLOCKLIST_DENY, "198.51.100.0/24", LB_RULE_F_OPERATOR);
	struct blocklist_rule d6 = rule(BLOCKLIST_DENY, "2001:db8::/32", 0);
	struct blocklist_rule a4 = rule(3, "203.0.113.0/25", 0);
	struct blocklist_rule a6 = rule(3, "2001:db8:c1::/48", 0);
	struct blocklist_rule *got;
	size_t n;
	char text[64];

	counts_are(0, 0, 0);
	cr_assert_eq(blocklist_add(bl, &d4), 0);
	cr_assert_eq(blocklist_add(bl, &d6), 0);
	cr_assert_eq(blocklist_add(bl, &a4), 0);
	cr_assert_eq(blocklist_add(bl, &a6), 0);
	counts_are(1, 1, 2);
	cr_assert_eq(vip_allow(3), 2);
	cr_assert_eq(vip_allow(4), 0);
	cr_assert(d4.id != d6.id && d4.id != a4.id && a4.id != a6.id && d6.id != a6.id);

	counter_add(a4.id, 5);
	got = list(&n);
	cr_assert_eq(n, 4);
	/* Deny rules first (IPv4, IPv6), then VIP 3's. */
	cr_assert_eq(got[0].vip, BLOCKLIST_DENY);
	cr_assert_eq(blocklist_prefix_format(&got[0], text, sizeof(text)), 0);
	cr_assert_str_eq(text, "198.51.100.0/24");
	cr_assert_eq(got[0].flags, LB_RULE_F_OPERATOR);
	cr_assert_eq(got[0].id, d4.id);
	cr_assert_eq(got[1].family, LB_FAMILY_IPV6);
	cr_assert_eq(got[1].flags, 0);
	cr_assert_eq(got[2].vip, 3);
	cr_assert_eq(got[2].id, a4.id);
	cr_assert_eq(got[2].packets, 10, "counters summed over CPUs");
	cr_assert_eq(got[3].plen, 48);
	free(got);

	cr_assert_eq(blocklist_add(bl, &d4), -EEXIST);
	counts_are(1, 1, 2);
	cr_assert_eq(blocklist_del(bl, &a4), 0);
	cr_assert_eq(blocklist_del(bl, &a4), -ENOENT);
	cr_assert_eq(vip_allow(3), 1);
	counts_are(1, 1, 1);
	cr_assert_eq(blocklist_del(bl, &d4), 0);
	cr_assert_eq(blocklist_del(bl, &d6), 0);
	cr_assert_eq(blocklist_del(bl, &a6), 0);
	counts_are(0, 0, 0);
	cr_assert_eq(vip_allow(3), 0);
	got = list(&n);
	cr_assert_eq(n, 0);
	free(got);
}

/* Removing a /24 must not remove the /16 that covers it, nor the other
 * way round: an LPM lookup answers with the longest match. */
Test(blocklist_maps, del_is_exact)
{
	struct blocklist_rule wide = rule(BLOCKLIST_DENY, "198.51.0.0/16", 0);
	struct blocklist_rule narrow = rule(BLOCKLIST_DENY, "198.51.100.0/24", 0);
	struct blocklist_rule other_vip = rule(7, "198.51.0.0/16", 0);
	struct blocklist_rule *got;
	size_t n;

	cr_assert_eq(blocklist_add(bl, &wide), 0);
	cr_assert_eq(blocklist_add(bl, &other_vip), 0);
	cr_assert_eq(blocklist_del(bl, &narrow), -ENOENT);
	cr_assert_eq(blocklist_add(bl, &narrow), 0);
	cr_assert_eq(blocklist_del(bl, &wide), 0);
	got = list(&n);
	cr_assert_eq(n, 2);
	cr_assert_eq(got[0].plen, 24);
	cr_assert_eq(got[1].vip, 7);
	free(got);
	cr_assert_eq(blocklist_del(bl, &(struct blocklist_rule){ .vip = 8, .family = LB_FAMILY_IPV4,
								.plen = 16, .addr = { other_vip.addr[0] } }),
		     -ENOENT);
}

Test(blocklist_maps, bad_rules_refused)
{
	struct blocklist_rule r = rule(BLOCKLIST_DENY, "198.51.100.0/24", 0);

	r.vip = LB_MAX_VIPS;
	cr_assert_eq(blocklist_add(bl, &r), -EINVAL);
	r = rule(BLOCKLIST_DENY, "198.51.100.0/24", 0);
	r.plen = 33;
	cr_assert_eq(blocklist_add(bl, &r), -EINVAL);
	r.family = 5;
	cr_assert_eq(blocklist_add(bl, &r), -EINVAL);
	counts_are(0, 0, 0);
}

Test(blocklist_maps, reused_id_starts_at_zero)
{
	struct blocklist_rule a = rule(BLOCKLIST_DENY, "198.51.100.0/24", 0);
	struct blocklist_rule b = rule(BLOCKLIST_DENY, "203.0.113.0/24", 0);
	struct blocklist_rule *got;
	uint32_t id;
	size_t n, i;

	/* Fill the ids up to the next one to be handed out twice over, so
	 * the search wraps to a.id. */
	cr_assert_eq(blocklist_add(bl, &a), 0);
	id = a.id;
	counter_add(id, 7);
	cr_assert_eq(blocklist_del(bl, &a), 0);
	for (i = 0; i < LB_BLOCK_RULES_MAX - 1; i++) {
		struct blocklist_rule r = rule(BLOCKLIST_DENY, "10.0.0.0/32", 0);

		r.addr[0] = htonl(0x0a000000 + (uint32_t)i);
		cr_assert_eq(blocklist_add(bl, &r), 0, "rule %zu", i);
	}
	cr_assert_eq(blocklist_add(bl, &b), 0, "the last free id");
	cr_assert_eq(b.id, id);
	cr_assert_eq(blocklist_add(bl, &a), -ENOSPC, "every id is in use");
	got = list(&n);
	cr_assert_eq(n, LB_BLOCK_RULES_MAX);
	for (i = 0; i < n; i++)
		if (got[i].id == id)
			cr_assert_eq(got[i].packets, 0, "a reused id kept its old count");
	free(got);
	counts_are(LB_BLOCK_RULES_MAX, 0, 0);
}

Test(blocklist_maps, a_new_writer_learns_the_rules)
{
	struct blocklist_rule a = rule(BLOCKLIST_DENY, "198.51.100.0/24", LB_RULE_F_OPERATOR);
	struct blocklist_rule b = rule(2, "2001:db8::/32", 0);
	struct blocklist_rule c = rule(BLOCKLIST_DENY, "203.0.113.0/24", 0);
	struct lb_config cfg = cfg_read();
	__u32 zero = 0;

	cr_assert_eq(blocklist_add(bl, &a), 0);
	cr_assert_eq(blocklist_add(bl, &b), 0);
	blocklist_free(bl);
	/* Someone rewrote lb_cfg whole, as a controller's reload may. */
	cfg.deny4_rules = cfg.allow_rules = 0;
	cr_assert_eq(bpf_map_update_elem(maps.lb_cfg, &zero, &cfg, BPF_ANY), 0);
	bl = blocklist_new(&maps);
	cr_assert_not_null(bl);
	counts_are(1, 0, 1);
	cr_assert_eq(vip_allow(2), 1);
	cr_assert_eq(blocklist_add(bl, &c), 0);
	cr_assert(c.id != a.id && c.id != b.id, "an id in use was handed out again");
	cr_assert_eq(blocklist_add(bl, &a), -EEXIST);
	/* blocklist_sync() after a rewrite, without a new writer. */
	cfg = cfg_read();
	cfg.deny4_rules = 0;
	cr_assert_eq(bpf_map_update_elem(maps.lb_cfg, &zero, &cfg, BPF_ANY), 0);
	cr_assert_eq(blocklist_sync(bl), 0);
	counts_are(2, 0, 1);
}

Test(blocklist_maps, replace_config_keeps_operator_rules)
{
	struct blocklist_rule op = rule(BLOCKLIST_DENY, "192.0.2.0/24", LB_RULE_F_OPERATOR);
	struct blocklist_rule first[] = {
		rule(BLOCKLIST_DENY, "198.51.100.0/24", 0),
		rule(BLOCKLIST_DENY, "203.0.113.0/24", 0),
		rule(1, "10.0.0.0/8", 0),
	};
	struct blocklist_rule second[] = {
		rule(BLOCKLIST_DENY, "203.0.113.0/24", 0),
		rule(BLOCKLIST_DENY, "192.0.2.0/24", 0),	/* an operator's already */
		rule(2, "2001:db8::/32", 0),
	};
	struct blocklist_rule *got;
	uint32_t kept_id = 0;
	size_t n, i;

	cr_assert_eq(blocklist_add(bl, &op), 0);
	cr_assert_eq(blocklist_replace_config(bl, first, 3), 0);
	counts_are(3, 0, 1);
	got = list(&n);
	for (i = 0; i < n; i++)
		if (got[i].vip == BLOCKLIST_DENY && got[i].addr[0] == second[0].addr[0])
			kept_id = got[i].id;
	free(got);
	cr_assert_eq(blocklist_replace_config(bl, second, 3), 0);
	counts_are(2, 0, 1);
	cr_assert_eq(vip_allow(1), 0);
	cr_assert_eq(vip_allow(2), 1);
	got = list(&n);
	cr_assert_eq(n, 3);
	cr_assert_eq(got[0].addr[0], op.addr[0]);
	cr_assert_eq(got[0].flags, LB_RULE_F_OPERATOR, "the operator's rule was taken over");
	cr_assert_eq(got[1].addr[0], second[0].addr[0]);
	cr_assert_eq(got[1].id, kept_id, "a rule that stays keeps its id and counter");
	cr_assert_eq(got[2].vip, 2);
	free(got);
}

/* lbd's writer: the maps become exactly the list, flags included; a prefix
 * the config and the operator both give is one rule, and moving it from
 * one to the other rewrites it in place. */
Test(blocklist_maps, replace_makes_the_list_exact)
{
	struct blocklist_rule first[] = {
		rule(BLOCKLIST_DENY, "198.51.100.0/24", 0),
		rule(BLOCKLIST_DENY, "198.51.100.0/24", LB_RULE_F_OPERATOR),
		rule(BLOCKLIST_DENY, "2001:db8::/32", LB_RULE_F_OPERATOR),
		rule(3, "10.0.0.0/8", 0),
	};
	struct blocklist_rule second[] = {
		rule(BLOCKLIST_DENY, "198.51.100.0/24", 0),
		rule(3, "10.0.0.0/8", 0),
	};
	struct blocklist_rule *got;
	uint32_t id;
	size_t n;

	cr_assert_eq(blocklist_replace(bl, first, 4), 0);
	counts_are(1, 1, 1);
	got = list(&n);
	cr_assert_eq(n, 3);
	cr_assert_eq(got[0].flags, LB_RULE_F_OPERATOR, "the union of both flags");
	id = got[0].id;
	free(got);
	cr_assert_eq(blocklist_replace(bl, second, 2), 0);
	counts_are(1, 0, 1);
	got = list(&n);
	cr_assert_eq(n, 2);
	cr_assert_eq(got[0].flags, 0, "the operator's flag stayed");
	cr_assert_eq(got[0].id, id, "a rule rewritten in place keeps its id and counter");
	cr_assert_eq(got[1].vip, 3);
	free(got);
	cr_assert_eq(blocklist_replace(bl, NULL, 0), 0);
	counts_are(0, 0, 0);
	cr_assert_eq(vip_allow(3), 0);
}

Test(blocklist_maps, flush_vip)
{
	struct blocklist_rule a = rule(5, "198.51.100.0/24", 0);
	struct blocklist_rule b = rule(5, "2001:db8::/32", LB_RULE_F_OPERATOR);
	struct blocklist_rule c = rule(6, "198.51.100.0/24", 0);
	struct blocklist_rule d = rule(BLOCKLIST_DENY, "198.51.100.0/24", 0);
	struct blocklist_rule *got;
	size_t n;

	cr_assert_eq(blocklist_add(bl, &a), 0);
	cr_assert_eq(blocklist_add(bl, &b), 0);
	cr_assert_eq(blocklist_add(bl, &c), 0);
	cr_assert_eq(blocklist_add(bl, &d), 0);
	cr_assert_eq(blocklist_flush_vip(bl, 5), 0);
	cr_assert_eq(vip_allow(5), 0);
	cr_assert_eq(vip_allow(6), 1);
	counts_are(1, 0, 1);
	got = list(&n);
	cr_assert_eq(n, 2);
	free(got);
	cr_assert_eq(blocklist_flush_vip(bl, LB_MAX_VIPS), -EINVAL);
}

/* --- The deny filter --- */

static struct lb_deny_filter filter_read(void)
{
	struct lb_deny_filter f;
	__u32 zero = 0;

	cr_assert_eq(bpf_map_lookup_elem(maps.deny_filter, &zero, &f), 0);
	return f;
}

static int bit4(const struct lb_deny_filter *f, const char *addr)
{
	__u32 b = lb_deny4_bit(ip4_of(addr));

	return f->v4[b / 64] >> (b % 64) & 1;
}

static int bit6(const struct lb_deny_filter *f, const char *addr)
{
	__be32 a[4];
	__u32 b;

	cr_assert_eq(inet_pton(AF_INET6, addr, a), 1);
	b = lb_deny6_bit(a[0]);
	return f->v6[b / 64] >> (b % 64) & 1;
}

static size_t bits_set(const __u64 *words)
{
	size_t i, n = 0;

	for (i = 0; i < LB_DENY_FILTER_BITS / 64; i++)
		n += (size_t)__builtin_popcountll(words[i]);
	return n;
}

/* The IPv4 half is exact at /16: set where some rule overlaps the /16,
 * clear once the last such rule goes. */
Test(blocklist_maps, deny_filter_ipv4)
{
	struct blocklist_rule a = rule(BLOCKLIST_DENY, "198.51.100.0/24", 0);
	struct blocklist_rule b = rule(BLOCKLIST_DENY, "198.51.7.7", 0);
	struct blocklist_rule wide = rule(BLOCKLIST_DENY, "10.0.0.0/14", 0);
	struct blocklist_rule allow = rule(3, "203.0.113.0/24", 0);
	struct lb_deny_filter f = filter_read();

	cr_assert_eq(bits_set(f.v4), 0);
	cr_assert_eq(blocklist_add(bl, &a), 0);
	cr_assert_eq(blocklist_add(bl, &b), 0);
	cr_assert_eq(blocklist_add(bl, &wide), 0);
	cr_assert_eq(blocklist_add(bl, &allow), 0);
	f = filter_read();
	cr_assert(bit4(&f, "198.51.0.1"));
	cr_assert(bit4(&f, "10.0.0.1") && bit4(&f, "10.3.255.255"));
	cr_assert_not(bit4(&f, "10.4.0.0"));
	cr_assert_not(bit4(&f, "203.0.113.1"), "an allow rule set a deny bit");
	cr_assert_eq(bits_set(f.v4), 1 + 4);
	cr_assert_eq(blocklist_del(bl, &a), 0);
	f = filter_read();
	cr_assert(bit4(&f, "198.51.0.1"), "198.51.7.7 is still in that /16");
	cr_assert_eq(blocklist_del(bl, &b), 0);
	cr_assert_eq(blocklist_del(bl, &wide), 0);
	f = filter_read();
	cr_assert_eq(bits_set(f.v4), 0);
}

/* The IPv6 half: the hashed /32s a rule overlaps; every bit for a rule
 * shorter than /16. */
Test(blocklist_maps, deny_filter_ipv6)
{
	struct blocklist_rule a = rule(BLOCKLIST_DENY, "2001:db8:bad::/48", 0);
	struct blocklist_rule b = rule(BLOCKLIST_DENY, "2001:db0::/28", 0);
	struct blocklist_rule all = rule(BLOCKLIST_DENY, "2000::/3", 0);
	struct lb_deny_filter f;

	cr_assert_eq(blocklist_add(bl, &a), 0);
	cr_assert_eq(blocklist_add(bl, &b), 0);
	f = filter_read();
	cr_assert(bit6(&f, "2001:db8:bad::1"));
	cr_assert(bit6(&f, "2001:db0::1") && bit6(&f, "2001:dbf::1"));
	cr_assert_leq(bits_set(f.v6), 1 + 16);
	cr_assert_eq(blocklist_add(bl, &all), 0);
	f = filter_read();
	cr_assert_eq(bits_set(f.v6), LB_DENY_FILTER_BITS);
	cr_assert_eq(blocklist_del(bl, &all), 0);
	cr_assert_eq(blocklist_del(bl, &b), 0);
	f = filter_read();
	cr_assert(bit6(&f, "2001:db8:bad::1"));
	cr_assert_eq(bits_set(f.v6), 1);
	/* A new writer rebuilds the filter from the tries. */
	blocklist_free(bl);
	cr_assert_eq(bpf_map_update_elem(maps.deny_filter, &(__u32){ 0 },
					 &(struct lb_deny_filter){ 0 }, BPF_ANY), 0);
	bl = blocklist_new(&maps);
	cr_assert_not_null(bl);
	f = filter_read();
	cr_assert(bit6(&f, "2001:db8:bad::1"));
	cr_assert_eq(bits_set(f.v6), 1);
}
