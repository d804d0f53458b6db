// SPDX-License-Identifier: GPL-2.0-only
/*
 * The source block lists through the real balancer, rules written with
 * user/blocklist.c as lbd would: a denied source is dropped and its rule
 * counted, its established flows included, and gets them back when the
 * rule goes; traffic to other addresses is never touched; a VIP with an
 * allow list takes only its sources, for new and established flows, and
 * other VIPs are not affected; an ICMP error about an allowed client's
 * flow still reaches its backend; an empty list is not looked up.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <netinet/in.h>

#include <bpf/bpf.h>
#include <criterion/criterion.h>

#include "blocklist.h"
#include "datapath.h"
#include "lb_hash.h"
#include "lb_test.h"
#include "lb_xdp.skel.h"
#include "pkt.h"
#include "testbed.h"

static struct lb_xdp *skel;
static struct testbed_vip web, tls, web6;
static struct blocklist *bl;

static void setup(void)
{
	struct blocklist_maps m;

	lb_test_require_bpf();
	skel = lb_xdp__open_and_load();
	cr_assert_not_null(skel, "cannot load lb_xdp");
	cr_assert_eq(testbed_config(skel->obj), 0);
	cr_assert_eq(testbed_vip_add(skel->obj, "198.18.100.1", 80, IPPROTO_TCP, 0), 0);
	cr_assert_eq(testbed_vip_add(skel->obj, "198.18.100.1", 443, IPPROTO_TCP, 1), 0);
	cr_assert_eq(testbed_vip_add(skel->obj, "fd00:100::1", 80, IPPROTO_TCP, 2), 0);
	web.id = 0;
	tls.id = 1;
	web6.id = 2;
	cr_assert_eq(testbed_backends(skel->obj, &web, LB_FAMILY_IPV4, 8, 1), 0);
	cr_assert_eq(testbed_backends(skel->obj, &tls, LB_FAMILY_IPV4, 8, 101), 0);
	cr_assert_eq(testbed_backends(skel->obj, &web6, LB_FAMILY_IPV6, 8, 201), 0);
	cr_assert_eq(testbed_blocklist_maps(skel->obj, &m), 0);
	bl = blocklist_new(&m);
	cr_assert_not_null(bl);
}

static void teardown(void)
{
	blocklist_free(bl);
	testbed_vip_free(&web);
	testbed_vip_free(&tls);
	testbed_vip_free(&web6);
	lb_xdp__destroy(skel);
	skel = NULL;
}

TestSuite(xdp_block, .init = setup, .fini = teardown, .timeout = 60);

static struct lb_flow_key flow(const char *src, const char *dst, uint16_t sport, uint16_t dport)
{
	return pkt_flow(src, dst, sport, dport, IPPROTO_TCP);
}

struct result {
	uint32_t verdict;
	uint32_t backend;	/* the id the outer destination names, or 0 */
	int unchanged;		/* the frame came back as it went in */
};

static struct result run(const uint8_t *frame, size_t len, const struct testbed_vip *vip)
{
	uint8_t out[512], family;
	size_t out_len = sizeof(out), i;
	struct result r = { 0 };
	__be32 dst[4];

	cr_assert_eq(lb_test_run(bpf_program__fd(skel->progs.lb_xdp), frame, len, out, &out_len,
				 &r.verdict), 0);
	r.unchanged = out_len == len && !memcmp(out, frame, len);
	if (r.verdict != XDP_TX || pkt_outer_dst(out, out_len, &family, dst))
		return r;
	for (i = 0; vip && i < vip->n; i++)
		if (!memcmp(vip->backends[i].addr, dst, family == LB_FAMILY_IPV4 ? 4 : 16))
			r.backend = vip->backends[i].id;
	return r;
}

static struct result send_tcp(const struct lb_flow_key *k, uint8_t flags,
			      const struct testbed_vip *vip)
{
	uint8_t frame[256];
	size_t len = pkt_tcp(frame, sizeof(frame), k, flags, 0);

	return run(frame, len, vip);
}

static uint64_t drops(enum lb_drop_reason reason)
{
	uint64_t s[sizeof(struct lb_global_stats) / 8];

	cr_assert_eq(lb_test_percpu_sum(bpf_map__fd(skel->maps.lb_stats), 0, s, sizeof(s) / 8), 0);
	return s[offsetof(struct lb_global_stats, drop) / 8 + reason];
}

static uint64_t rule_packets(uint32_t id)
{
	uint64_t n;

	cr_assert_eq(lb_test_percpu_sum(bpf_map__fd(skel->maps.block_stats), id, &n, 1), 0);
	return n;
}

static struct blocklist_rule add(uint32_t vip, const char *prefix)
{
	struct blocklist_rule r = { .vip = vip };

	cr_assert_eq(blocklist_prefix_parse(prefix, &r), 0);
	cr_assert_eq(blocklist_add(bl, &r), 0, "adding %s", prefix);
	return r;
}

static int has_entry(const struct lb_flow_key *k)
{
	struct lb_flow_slot f;

	return !lb_test_flow_get(bpf_map__fd(skel->maps.flow_table), k, &f);
}

Test(xdp_block, deny_drops_new_flows_and_counts)
{
	struct blocklist_rule r = add(BLOCKLIST_DENY, "10.1.0.0/16");
	struct lb_flow_key in = flow("10.1.2.3", "198.18.100.1", 40000, 80);
	struct lb_flow_key out = flow("10.2.0.1", "198.18.100.1", 40000, 80);
	struct result res;

	res = send_tcp(&in, PKT_TCP_SYN, &web);
	cr_assert_eq(res.verdict, XDP_DROP);
	cr_assert_eq(drops(LB_DROP_DENIED), 1);
	cr_assert_eq(rule_packets(r.id), 1);
	cr_assert_not(has_entry(&in), "a denied SYN created a flow entry");
	res = send_tcp(&out, PKT_TCP_SYN, &web);
	cr_assert_eq(res.verdict, XDP_TX);
	cr_assert_eq(res.backend, datapath_table_lookup(web.table, web.table_size, &out));
	cr_assert_eq(rule_packets(r.id), 1);
}

Test(xdp_block, deny_takes_established_flows_until_removed)
{
	struct lb_flow_key k = flow("10.3.0.5", "198.18.100.1", 40001, 80);
	struct blocklist_rule r;
	struct result syn, ack;

	syn = send_tcp(&k, PKT_TCP_SYN, &web);
	cr_assert_eq(syn.verdict, XDP_TX);
	cr_assert(has_entry(&k));
	r = add(BLOCKLIST_DENY, "10.3.0.5/32");
	ack = send_tcp(&k, PKT_TCP_ACK, &web);
	cr_assert_eq(ack.verdict, XDP_DROP, "an established flow of a denied source went on");
	cr_assert_eq(rule_packets(r.id), 1);
	cr_assert_eq(blocklist_del(bl, &r), 0);
	ack = send_tcp(&k, PKT_TCP_ACK, &web);
	cr_assert_eq(ack.verdict, XDP_TX);
	cr_assert_eq(ack.backend, syn.backend, "the flow lost its backend");
}

Test(xdp_block, deny_v6_and_longest_prefix_counts)
{
	struct blocklist_rule wide = add(BLOCKLIST_DENY, "2001:db8::/32");
	struct blocklist_rule narrow = add(BLOCKLIST_DENY, "2001:db8:1::/48");
	struct lb_flow_key a = flow("2001:db8:1::9", "fd00:100::1", 40002, 80);
	struct lb_flow_key b = flow("2001:db8:2::9", "fd00:100::1", 40002, 80);
	struct lb_flow_key c = flow("2001:db9::9", "fd00:100::1", 40002, 80);

	cr_assert_eq(send_tcp(&a, PKT_TCP_SYN, &web6).verdict, XDP_DROP);
	cr_assert_eq(send_tcp(&b, PKT_TCP_SYN, &web6).verdict, XDP_DROP);
	cr_assert_eq(send_tcp(&c, PKT_TCP_SYN, &web6).verdict, XDP_TX);
	cr_assert_eq(rule_packets(narrow.id), 1);
	cr_assert_eq(rule_packets(wide.id), 1);
	cr_assert_eq(drops(LB_DROP_DENIED), 2);
}

Test(xdp_block, deny_leaves_other_addresses_alone)
{
	struct blocklist_rule r = add(BLOCKLIST_DENY, "0.0.0.0/0");
	struct lb_flow_key k = flow("10.9.9.9", "198.18.200.1", 40003, 80);
	struct result res;

	res = send_tcp(&k, PKT_TCP_SYN, NULL);
	cr_assert_eq(res.verdict, XDP_PASS);
	cr_assert(res.unchanged);
	cr_assert_eq(rule_packets(r.id), 0);
	k = flow("10.9.9.9", "198.18.100.1", 40003, 80);
	cr_assert_eq(send_tcp(&k, PKT_TCP_SYN, &web).verdict, XDP_DROP, "0.0.0.0/0 denies all");
}

/* An address of 198.18.0.0/15 that is no VIP but shares the VIP filter's
 * bit with 198.18.100.1, so that only the VIP lookup tells them apart. */
static void filter_twin(char *buf, size_t len)
{
	__be32 vip[4], a[4] = { 0 };
	__u32 want, i;

	pkt_addr("198.18.100.1", vip);
	want = lb_addr_hash(vip, LB_FAMILY_IPV4) % LB_VIP_FILTER_BITS;
	for (i = 0; i < 1u << 17; i++) {
		a[0] = htonl(0xc6120000u + i);
		if (a[0] != vip[0] && lb_addr_hash(a, LB_FAMILY_IPV4) % LB_VIP_FILTER_BITS == want) {
			snprintf(buf, len, "198.%u.%u.%u", 18 + (i >> 16), (i >> 8) & 0xff,
				 i & 0xff);
			return;
		}
	}
	cr_assert_fail("no address of 198.18.0.0/15 shares 198.18.100.1's filter bit");
}

/* The filter says "maybe a VIP" for the twin: a denied source's packets to
 * it (new, established, ICMP errors quoting them) are passed untouched. */
Test(xdp_block, deny_spares_an_address_the_filter_mistakes_for_a_vip)
{
	struct blocklist_rule r = add(BLOCKLIST_DENY, "10.0.0.0/8");
	struct lb_flow_key k;
	uint8_t frame[256];
	__be32 router[4];
	struct result res;
	char twin[32];
	size_t len;

	filter_twin(twin, sizeof(twin));
	k = flow("10.9.9.9", twin, 40004, 22);
	res = send_tcp(&k, PKT_TCP_SYN, NULL);
	cr_assert(res.verdict == XDP_PASS && res.unchanged, "SYN to %s: verdict %u", twin,
		  res.verdict);
	res = send_tcp(&k, PKT_TCP_ACK, NULL);
	cr_assert(res.verdict == XDP_PASS && res.unchanged, "ACK to %s: verdict %u", twin,
		  res.verdict);
	pkt_addr("10.9.9.8", router);	/* denied too */
	len = pkt_too_big(frame, sizeof(frame), &k, router, 1400);
	res = run(frame, len, NULL);
	cr_assert(res.verdict == XDP_PASS && res.unchanged, "ICMP to %s: verdict %u", twin,
		  res.verdict);
	cr_assert_eq(rule_packets(r.id), 0, "the rule counted packets to no VIP");
	k = flow("10.9.9.9", "198.18.100.1", 40004, 80);
	cr_assert_eq(send_tcp(&k, PKT_TCP_SYN, &web).verdict, XDP_DROP);
}

Test(xdp_block, allow_list_takes_only_its_sources)
{
	struct blocklist_rule r = add(web.id, "10.4.0.0/24");
	struct lb_flow_key in = flow("10.4.0.9", "198.18.100.1", 40004, 80);
	struct lb_flow_key out = flow("10.5.0.1", "198.18.100.1", 40004, 80);
	struct lb_flow_key other_vip = flow("10.5.0.1", "198.18.100.1", 40004, 443);
	struct result res;

	res = send_tcp(&in, PKT_TCP_SYN, &web);
	cr_assert_eq(res.verdict, XDP_TX);
	cr_assert_eq(res.backend, datapath_table_lookup(web.table, web.table_size, &in));
	cr_assert_eq(rule_packets(r.id), 1);
	cr_assert_eq(send_tcp(&out, PKT_TCP_SYN, &web).verdict, XDP_DROP);
	cr_assert_eq(drops(LB_DROP_NOT_ALLOWED), 1);
	cr_assert_not(has_entry(&out));
	res = send_tcp(&other_vip, PKT_TCP_SYN, &tls);
	cr_assert_eq(res.verdict, XDP_TX, "a VIP without an allow list was restricted");
	cr_assert_neq(res.backend, 0);
	cr_assert_eq(drops(LB_DROP_NOT_ALLOWED), 1);
}

Test(xdp_block, allow_list_takes_established_flows)
{
	struct lb_flow_key in = flow("10.4.0.9", "198.18.100.1", 40005, 80);
	struct lb_flow_key out = flow("10.6.0.1", "198.18.100.1", 40005, 80);
	uint8_t frame[256];
	__be32 router[4];
	struct result res;
	size_t len;

	cr_assert_eq(send_tcp(&in, PKT_TCP_SYN, &web).verdict, XDP_TX);
	cr_assert_eq(send_tcp(&out, PKT_TCP_SYN, &web).verdict, XDP_TX);
	add(web.id, "10.4.0.0/24");
	cr_assert_eq(send_tcp(&in, PKT_TCP_ACK, &web).verdict, XDP_TX);
	cr_assert_eq(send_tcp(&out, PKT_TCP_ACK, &web).verdict, XDP_DROP,
		     "an established flow of a source not allowed went on");
	cr_assert_eq(drops(LB_DROP_NOT_ALLOWED), 1);
	/* A router outside the list reports an allowed client's path MTU:
	 * the error is about the client's flow and reaches its backend. */
	pkt_addr("198.18.9.9", router);
	len = pkt_too_big(frame, sizeof(frame), &in, router, 1400);
	res = run(frame, len, &web);
	cr_assert_eq(res.verdict, XDP_TX);
	cr_assert_eq(res.backend, datapath_table_lookup(web.table, web.table_size, &in));
}

/* The counts in lb_config decide whether a list is looked up at all: a
 * rule written behind the writer's back, counts left at 0, is not seen.
 * (This is what makes empty lists free; blocklist_sync() repairs counts
 * that something else overwrote.) */
Test(xdp_block, lists_with_no_count_are_not_looked_up)
{
	struct lb_deny4_key key = { .prefixlen = 32 };
	struct lb_block_rule val = { .id = 9, .plen = 32 };
	struct lb_flow_key k = flow("10.7.0.1", "198.18.100.1", 40006, 80);
	struct blocklist_maps m;

	key.addr = k.src[0];
	cr_assert_eq(bpf_map_update_elem(bpf_map__fd(skel->maps.deny4), &key, &val, BPF_NOEXIST), 0);
	cr_assert_eq(send_tcp(&k, PKT_TCP_SYN, &web).verdict, XDP_TX);
	blocklist_free(bl);
	cr_assert_eq(testbed_blocklist_maps(skel->obj, &m), 0);
	bl = blocklist_new(&m);
	cr_assert_not_null(bl);
	cr_assert_eq(send_tcp(&k, PKT_TCP_ACK, &web).verdict, XDP_DROP,
		     "the writer learned the rule: the list is looked up");
	cr_assert_eq(rule_packets(9), 1);
}

/* An established flow is checked once per change to the lists, not once
 * per packet: its entry carries the lists' generation. */
Test(xdp_block, established_flows_are_checked_once_per_change)
{
	struct blocklist_rule allow = add(web.id, "10.4.0.0/24");
	struct lb_flow_key k = flow("10.4.0.9", "198.18.100.1", 40007, 80);
	int i;

	cr_assert_eq(send_tcp(&k, PKT_TCP_SYN, &web).verdict, XDP_TX);
	for (i = 0; i < 3; i++)
		cr_assert_eq(send_tcp(&k, PKT_TCP_ACK, &web).verdict, XDP_TX);
	cr_assert_eq(rule_packets(allow.id), 1, "the flow was checked again with no change");
	add(BLOCKLIST_DENY, "10.8.0.0/16");
	for (i = 0; i < 3; i++)
		cr_assert_eq(send_tcp(&k, PKT_TCP_ACK, &web).verdict, XDP_TX);
	cr_assert_eq(rule_packets(allow.id), 2, "a change to the lists: checked once more");
	add(BLOCKLIST_DENY, "10.4.0.0/24");
	cr_assert_eq(send_tcp(&k, PKT_TCP_ACK, &web).verdict, XDP_DROP);
}

/* The deny filter comes before the trie: a rule written behind the
 * writer's back, in a /16 the filter does not mark, is not seen, though
 * the list has rules; a writer that learns it marks its /16. */
Test(xdp_block, the_deny_filter_spares_the_trie)
{
	struct lb_deny4_key key = { .prefixlen = 32 };
	struct lb_block_rule val = { .id = 9, .plen = 32 };
	struct lb_flow_key k = flow("10.9.0.1", "198.18.100.1", 40008, 80);
	struct blocklist_maps m;

	add(BLOCKLIST_DENY, "10.8.0.0/16");
	key.addr = k.src[0];
	cr_assert_eq(bpf_map_update_elem(bpf_map__fd(skel->maps.deny4), &key, &val, BPF_NOEXIST), 0);
	cr_assert_eq(send_tcp(&k, PKT_TCP_SYN, &web).verdict, XDP_TX,
		     "a source in no marked /16 was looked up");
	blocklist_free(bl);
	cr_assert_eq(testbed_blocklist_maps(skel->obj, &m), 0);
	bl = blocklist_new(&m);
	cr_assert_not_null(bl);
	cr_assert_eq(send_tcp(&k, PKT_TCP_ACK, &web).verdict, XDP_DROP);
	cr_assert_eq(rule_packets(9), 1);
}

/*
 * What a list and the list replacing it agree on holds all the way
 * through a replace, with packets coming meanwhile: a source both allow is
 * never dropped, one both deny never passes. The lists go round three
 * forms: a /8 allowed, the same as two /9s, and no allow list for the VIP
 * (another VIP keeping one, so allow lists are still looked up); a /64
 * denied, then the /63 around it.
 */
struct churn {
	atomic_bool stop;
	long sent, run_failed, allowed_dropped, denied_passed;
};

static void *churn_traffic(void *arg)
{
	struct churn *c = arg;
	struct lb_flow_key a = flow("10.1.2.3", "198.18.100.1", 40100, 80);
	struct lb_flow_key d = flow("fd00:bad::7", "fd00:100::1", 40100, 80);
	uint8_t fa[256], fd[256], out[512];
	size_t la = pkt_tcp(fa, sizeof(fa), &a, PKT_TCP_SYN, 0);
	size_t ld = pkt_tcp(fd, sizeof(fd), &d, PKT_TCP_SYN, 0), ol;
	int prog = bpf_program__fd(skel->progs.lb_xdp);
	uint32_t v;

	while (!atomic_load(&c->stop) && c->sent < 4000000) {
		ol = sizeof(out);
		if (lb_test_run(prog, fa, la, out, &ol, &v))
			c->run_failed++;
		else if (v != XDP_TX)
			c->allowed_dropped++;
		ol = sizeof(out);
		if (lb_test_run(prog, fd, ld, out, &ol, &v))
			c->run_failed++;
		else if (v == XDP_TX)
			c->denied_passed++;
		c->sent += 2;
	}
	return NULL;
}

/* The rules "VIP PREFIX" (VIP -1: the deny list) name. */
static size_t rules_of(struct blocklist_rule *r, const char *const *spec, size_t n)
{
	char prefix[64];
	size_t i;
	int vip;

	for (i = 0; i < n; i++) {
		cr_assert_eq(sscanf(spec[i], "%d %63s", &vip, prefix), 2);
		memset(&r[i], 0, sizeof(r[i]));
		r[i].vip = vip < 0 ? BLOCKLIST_DENY : (uint32_t)vip;
		cr_assert_eq(blocklist_prefix_parse(prefix, &r[i]), 0, "%s", prefix);
	}
	return n;
}

Test(xdp_block, a_replace_keeps_what_both_lists_agree_on)
{
	static const char *const forms[3][4] = {
		{ "-1 fd00:bad::/64", "0 10.0.0.0/8", "1 192.0.2.0/24" },
		{ "-1 fd00:bad::/63", "0 10.0.0.0/9", "0 10.128.0.0/9", "1 192.0.2.0/24" },
		{ "-1 fd00:bad::/64", "1 192.0.2.0/24" },
	};
	static const size_t sizes[3] = { 3, 4, 2 };
	struct blocklist_rule rules[4];
	struct churn c = { 0 };
	pthread_t t;
	int i;

	cr_assert_eq(blocklist_replace(bl, rules, rules_of(rules, forms[0], sizes[0])), 0);
	cr_assert_eq(pthread_create(&t, NULL, churn_traffic, &c), 0);
	for (i = 1; i <= 90; i++)
		cr_assert_eq(blocklist_replace(bl, rules, rules_of(rules, forms[i % 3], sizes[i % 3])),
			     0);
	atomic_store(&c.stop, true);
	pthread_join(t, NULL);
	cr_log_info("%ld packets during 90 replaces", c.sent);
	cr_assert_gt(c.sent, 1000, "too few packets to tell: %ld", c.sent);
	cr_assert_eq(c.run_failed, 0, "%ld runs of the program failed", c.run_failed);
	cr_assert_eq(c.allowed_dropped, 0, "an allowed source was dropped %ld times of %ld",
		     c.allowed_dropped, c.sent / 2);
	cr_assert_eq(c.denied_passed, 0, "a denied source passed %ld times of %ld",
		     c.denied_passed, c.sent / 2);
}
