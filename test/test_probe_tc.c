// SPDX-License-Identifier: GPL-2.0-only
/*
 * kern/lb_probe.bpf.c, the tunnel probes' TC program, through
 * BPF_PROG_TEST_RUN with the probe's mark in the __sk_buff context. It is
 * loaded on the maps of a loaded lb_xdp, as lbd loads it, and each case is
 * a row: a frame, a mark, and what must come out.
 *
 *  - A marked packet must leave exactly as lb_xdp would send the same
 *    packet from a client to the backend the mark names: the same bytes,
 *    for each pair of inner and outer families, fixed and per-flow tunnel
 *    sources. The output is also checked field by field against what the
 *    row says, so the two programs cannot agree on a wrong header.
 *  - Unmarked packets, and marks without sluice's tag, leave untouched.
 *  - A mark that names no backend in use, a packet too big for the tunnel,
 *    a frame that is not IP and a next hop not known yet are dropped, each
 *    counted once.
 */
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "lb_abi.h"
#include "lb_probe.skel.h"
#include "lb_test.h"
#include "lb_xdp.skel.h"
#include "pkt.h"
#include "testbed.h"

#define FRAME_MAX	2048
#define NODE4		"198.18.1.2"
#define NODE6		"fd00:1::2"
#define INNER_TOS	0xb8	/* DSCP EF: the outer header must carry it */
#define RETIRED_ID	9

enum expect {
	EXPECT_ENCAP,		/* as lb_xdp sends it, to the row's backend */
	EXPECT_UNTOUCHED,	/* TC_ACT_UNSPEC, the same bytes, nothing counted */
	EXPECT_DROP,		/* TC_ACT_SHOT, the row's counter once */
};

struct probe_case {
	char name[48];
	char vip[40];		/* the inner destination */
	__u16 port;
	__u32 mark;
	__u16 payload;		/* TCP payload bytes */
	bool per_flow_src;	/* tunnel sources are prefixes, not addresses */
	bool not_ip;		/* an ARP frame rather than TCP */
	bool no_next_hop;	/* lb_cfg's next-hop MAC still zero */
	enum expect expect;
	char backend[40];	/* EXPECT_ENCAP: the outer destination */
	int counter;		/* EXPECT_DROP: enum lb_probe_counter */
};

#define TAG(id)	(LB_PROBE_MARK | (id))

/* Each VIP has one backend, so lb_xdp picks that one for every flow:
 * setup() below. */
#define ENCAP(n, v, p, m, b)	{ .name = n, .vip = v, .port = p, .mark = m, \
				  .expect = EXPECT_ENCAP, .backend = b }
#define UNTOUCHED(n, v, p, m)	{ .name = n, .vip = v, .port = p, .mark = m, \
				  .expect = EXPECT_UNTOUCHED }
#define DROP(n, v, p, m, c)	{ .name = n, .vip = v, .port = p, .mark = m, \
				  .expect = EXPECT_DROP, .counter = c }

/* Payloads that make the inner IPv4 (IPv6) packet just fill the MTU of
 * 1500 behind an outer IPv4 (IPv6) header. */
#define FILL4	(1500 - 20 - 20 - 20)
#define FILL6	(1500 - 40 - 40 - 20)

/* VIP ids 0..5 with one backend each (ids 1..6), so lb_xdp picks that one
 * for every flow; 4 and 5 hash on addresses only: setup() below. */
static struct probe_case cases[] = {
	ENCAP("ipv4 in ipv4", "198.18.100.1", 80, TAG(1), "198.18.3.1"),
	ENCAP("ipv4 in ipv6", "198.18.100.2", 80, TAG(2), "fd00:3::1"),
	ENCAP("ipv6 in ipv4", "fd00:100::1", 443, TAG(3), "198.18.3.1"),
	ENCAP("ipv6 in ipv6", "fd00:100::2", 443, TAG(4), "fd00:3::1"),
	{ .name = "with payload", .vip = "198.18.100.1", .port = 80, .mark = TAG(1),
	  .payload = 300, .expect = EXPECT_ENCAP, .backend = "198.18.3.1" },
	{ .name = "per-flow source, ipv4 outer", .vip = "198.18.100.1", .port = 80,
	  .mark = TAG(1), .per_flow_src = true, .expect = EXPECT_ENCAP, .backend = "198.18.3.1" },
	{ .name = "per-flow source, ipv6 outer", .vip = "fd00:100::2", .port = 443,
	  .mark = TAG(4), .per_flow_src = true, .expect = EXPECT_ENCAP, .backend = "fd00:3::1" },
	/* An l3 VIP's packets are hashed without ports: its probe's too. */
	{ .name = "l3 VIP, per-flow source, ipv4 outer", .vip = "198.18.100.3", .port = 80,
	  .mark = TAG(5), .per_flow_src = true, .expect = EXPECT_ENCAP, .backend = "198.18.3.1" },
	{ .name = "l3 VIP, per-flow source, ipv6 outer", .vip = "fd00:100::3", .port = 443,
	  .mark = TAG(6), .per_flow_src = true, .expect = EXPECT_ENCAP, .backend = "fd00:3::1" },
	{ .name = "largest that fits, ipv4", .vip = "198.18.100.1", .port = 80, .mark = TAG(1),
	  .payload = FILL4, .expect = EXPECT_ENCAP, .backend = "198.18.3.1" },
	{ .name = "largest that fits, ipv6", .vip = "fd00:100::2", .port = 443, .mark = TAG(4),
	  .payload = FILL6, .expect = EXPECT_ENCAP, .backend = "fd00:3::1" },
	UNTOUCHED("unmarked", "198.18.100.1", 80, 0),
	UNTOUCHED("unmarked ipv6", "fd00:100::2", 443, 0),
	UNTOUCHED("another tag, our id", "198.18.100.1", 80, 0x12340001),
	UNTOUCHED("our id, no tag", "198.18.100.1", 80, 1),
	{ .name = "unmarked, not ip", .mark = 0, .not_ip = true, .expect = EXPECT_UNTOUCHED },
	DROP("id 0", "198.18.100.1", 80, TAG(0), LB_PROBE_NO_BACKEND),
	DROP("unused id", "198.18.100.1", 80, TAG(77), LB_PROBE_NO_BACKEND),
	DROP("largest id, unused", "198.18.100.1", 80, TAG(LB_MAX_BACKENDS - 1),
	     LB_PROBE_NO_BACKEND),
	DROP("retired backend", "198.18.100.1", 80, TAG(RETIRED_ID), LB_PROBE_NO_BACKEND),
	{ .name = "one byte too big, ipv4", .vip = "198.18.100.1", .port = 80, .mark = TAG(1),
	  .payload = FILL4 + 1, .expect = EXPECT_DROP, .counter = LB_PROBE_TOO_BIG },
	{ .name = "one byte too big, ipv6", .vip = "fd00:100::2", .port = 443, .mark = TAG(4),
	  .payload = FILL6 + 1, .expect = EXPECT_DROP, .counter = LB_PROBE_TOO_BIG },
	{ .name = "marked, not ip", .mark = TAG(1), .not_ip = true, .expect = EXPECT_DROP,
	  .counter = LB_PROBE_NOT_IP },
	{ .name = "no next hop yet", .vip = "198.18.100.1", .port = 80, .mark = TAG(1),
	  .no_next_hop = true, .expect = EXPECT_DROP, .counter = LB_PROBE_NO_CONFIG },
	{ .name = "no next hop yet, unmarked", .vip = "198.18.100.1", .port = 80,
	  .no_next_hop = true, .expect = EXPECT_UNTOUCHED },
};

static struct lb_xdp *xdp;
static struct lb_probe *probe;
#define N_VIPS	6
static struct testbed_vip vips[N_VIPS];

/* What a row changes in lb_cfg: tunnel sources that are prefixes (the
 * same addresses), or a next hop not known yet. */
static void config_adjust(const struct probe_case *tc)
{
	int fd = bpf_map__fd(xdp->maps.lb_cfg);
	struct lb_config cfg;
	__u32 zero = 0;

	cr_assert_eq(bpf_map_lookup_elem(fd, &zero, &cfg), 0);
	if (tc->per_flow_src) {
		cfg.src4_plen = 24;
		cfg.src6_plen = 112;
	}
	if (tc->no_next_hop)
		memset(cfg.next_hop_mac, 0, sizeof(cfg.next_hop_mac));
	cr_assert_eq(bpf_map_update_elem(fd, &zero, &cfg, BPF_ANY), 0);
}

static void retired_add(void)
{
	struct lb_backend be = { .family = LB_FAMILY_IPV4, .vip_id = LB_BACKEND_VIP_NONE };
	__u32 id = RETIRED_ID;

	pkt_addr("198.18.3.9", be.addr);
	cr_assert_eq(bpf_map_update_elem(bpf_map__fd(xdp->maps.backends), &id, &be, BPF_ANY), 0);
}

/* lb_probe on lb_xdp's maps, as user/tunprobe.c loads it. */
static void probe_load(void)
{
	probe = lb_probe__open();
	cr_assert_not_null(probe);
	cr_assert_eq(bpf_map__reuse_fd(probe->maps.backends, bpf_map__fd(xdp->maps.backends)), 0);
	cr_assert_eq(bpf_map__reuse_fd(probe->maps.lb_cfg, bpf_map__fd(xdp->maps.lb_cfg)), 0);
	cr_assert_eq(lb_probe__load(probe), 0, "cannot load lb_probe");
}

static void setup(void)
{
	static const char *const addrs[N_VIPS] = { "198.18.100.1", "198.18.100.2", "fd00:100::1",
						   "fd00:100::2", "198.18.100.3", "fd00:100::3" };
	static const __u8 families[N_VIPS] = { LB_FAMILY_IPV4, LB_FAMILY_IPV6, LB_FAMILY_IPV4,
					       LB_FAMILY_IPV6, LB_FAMILY_IPV4, LB_FAMILY_IPV6 };
	static const __u16 ports[N_VIPS] = { 80, 80, 443, 443, 80, 443 };
	__u32 i;

	lb_test_require_bpf();
	xdp = lb_xdp__open_and_load();
	cr_assert_not_null(xdp, "cannot load lb_xdp");
	cr_assert_eq(testbed_config(xdp->obj), 0);
	for (i = 0; i < N_VIPS; i++) {
		vips[i].id = i;
		vips[i].table_size = 251;
		cr_assert_eq(testbed_vip_add(xdp->obj, addrs[i], ports[i], IPPROTO_TCP, i), 0);
		cr_assert_eq(testbed_backends(xdp->obj, &vips[i], families[i], 1, i + 1), 0);
		if (i >= 4)
			cr_assert_eq(testbed_vip_l3(xdp->obj, &vips[i], addrs[i], ports[i],
						    IPPROTO_TCP), 0);
	}
	retired_add();
	probe_load();
}

static void teardown(void)
{
	size_t i;

	for (i = 0; i < N_VIPS; i++)
		testbed_vip_free(&vips[i]);
	lb_probe__destroy(probe);
	lb_xdp__destroy(xdp);
	probe = NULL;
	xdp = NULL;
}

/* The probe's segment, node -> VIP, with a traffic class the outer header
 * must copy. */
static size_t frame_build(const struct probe_case *tc, uint8_t *buf, size_t cap)
{
	struct lb_flow_key k;
	size_t len;

	if (tc->not_ip) {
		memset(buf, 0, 42);
		memset(buf, 0xff, 6);
		memcpy(buf + 6, pkt_lb_mac, 6);
		buf[12] = 0x08;
		buf[13] = 0x06;
		return 42;
	}
	k = pkt_flow(strchr(tc->vip, ':') ? NODE6 : NODE4, tc->vip, 40001, tc->port, IPPROTO_TCP);
	len = pkt_tcp(buf, cap, &k, PKT_TCP_SYN, tc->payload);
	cr_assert_gt(len, 0);
	if (k.family == LB_FAMILY_IPV4) {
		__u32 sum = 0;
		size_t i;

		buf[ETH_HLEN + 1] = INNER_TOS;
		buf[ETH_HLEN + 10] = buf[ETH_HLEN + 11] = 0;
		for (i = 0; i < 20; i += 2)
			sum += (__u32)buf[ETH_HLEN + i] << 8 | buf[ETH_HLEN + i + 1];
		while (sum >> 16)
			sum = (sum & 0xffff) + (sum >> 16);
		buf[ETH_HLEN + 10] = (uint8_t)(~sum >> 8);
		buf[ETH_HLEN + 11] = (uint8_t)~sum;
	} else {
		buf[ETH_HLEN] = 0x60 | INNER_TOS >> 4;
		buf[ETH_HLEN + 1] = (INNER_TOS & 0xf) << 4;
	}
	return len;
}

static int probe_run(const uint8_t *in, size_t len, __u32 mark, uint8_t *out, size_t *out_len)
{
	struct __sk_buff ctx = { .mark = mark };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in, .data_size_in = (__u32)len,
		    .data_out = out, .data_size_out = (__u32)*out_len, .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .repeat = 1);

	cr_assert_eq(bpf_prog_test_run_opts(bpf_program__fd(probe->progs.lb_probe), &opts), 0,
		     "BPF_PROG_TEST_RUN failed");
	*out_len = opts.data_size_out;
	return (int)opts.retval;
}

static void counters_read(uint64_t c[LB_PROBE_MAX])
{
	cr_assert_eq(lb_test_percpu_sum(bpf_map__fd(probe->maps.probe_stats), 0, c, LB_PROBE_MAX),
		     0);
}

static __u16 csum_fold(const uint8_t *p, size_t len)
{
	__u32 sum = 0;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (__u32)p[i] << 8 | p[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/* The outer header field by field, and the inner packet byte for byte. */
static void encap_check(const struct probe_case *tc, const uint8_t *in, size_t len,
			const uint8_t *out, size_t out_len)
{
	__be32 be[4] = { 0 }, src[4] = { 0 };
	__u8 fam = pkt_addr(tc->backend, be);
	size_t outer = fam == LB_FAMILY_IPV4 ? 20 : 40;
	const uint8_t *o = out + ETH_HLEN;
	__u8 proto = strchr(tc->vip, ':') ? IPPROTO_IPV6 : IPPROTO_IPIP;

	cr_assert_eq(out_len, len + outer, "%s: %zu bytes out of %zu", tc->name, out_len, len);
	cr_assert_arr_eq(out, pkt_router_mac, 6, "%s: not to the next hop", tc->name);
	cr_assert_arr_eq(out + 6, pkt_lb_mac, 6, "%s: not from the NIC's MAC", tc->name);
	cr_assert_arr_eq(out + ETH_HLEN + outer, in + ETH_HLEN, len - ETH_HLEN,
			 "%s: the inner packet changed", tc->name);
	pkt_addr(fam == LB_FAMILY_IPV4 ? "198.18.2.2" : "fd00:2::2", src);
	if (fam == LB_FAMILY_IPV4) {
		cr_assert(out[12] == 0x08 && out[13] == 0x00, "%s: ethertype", tc->name);
		cr_assert(o[0] == 0x45 && o[1] == INNER_TOS && o[8] == 64 && o[9] == proto,
			  "%s: outer header %s", tc->name, lb_test_hex(o, 20));
		cr_assert_eq((o[2] << 8 | o[3]), len - ETH_HLEN + 20, "%s: total length", tc->name);
		cr_assert_eq(o[6], 0x40, "%s: DF", tc->name);
		cr_assert_eq(csum_fold(o, 20), 0, "%s: header checksum", tc->name);
		cr_assert_arr_eq(o + 16, be, 4, "%s: outer destination", tc->name);
		if (!tc->per_flow_src)
			cr_assert_arr_eq(o + 12, src, 4, "%s: outer source", tc->name);
		else
			cr_assert_arr_eq(o + 12, src, 3, "%s: outer source prefix", tc->name);
		return;
	}
	cr_assert(out[12] == 0x86 && out[13] == 0xdd, "%s: ethertype", tc->name);
	cr_assert(o[0] == (0x60 | INNER_TOS >> 4) && (o[1] >> 4) == (INNER_TOS & 0xf) &&
		  o[6] == proto && o[7] == 64, "%s: outer header %s", tc->name, lb_test_hex(o, 40));
	cr_assert_eq((o[4] << 8 | o[5]), len - ETH_HLEN, "%s: payload length", tc->name);
	cr_assert_arr_eq(o + 24, be, 16, "%s: outer destination", tc->name);
	cr_assert_arr_eq(o + 8, src, tc->per_flow_src ? 14 : 16, "%s: outer source", tc->name);
}

/* What lb_xdp sends for the same packet from a client. */
static void xdp_same(const struct probe_case *tc, const uint8_t *in, size_t len,
		     const uint8_t *out, size_t out_len)
{
	uint8_t want[FRAME_MAX];
	size_t want_len = sizeof(want);
	uint32_t verdict;

	cr_assert_eq(lb_test_run(bpf_program__fd(xdp->progs.lb_xdp), in, len, want, &want_len,
				 &verdict), 0);
	cr_assert_eq(verdict, XDP_TX, "%s: lb_xdp did not send it", tc->name);
	cr_assert_eq(out_len, want_len, "%s: %zu bytes, lb_xdp sends %zu", tc->name, out_len,
		     want_len);
	cr_assert_arr_eq(out, want, want_len, "%s: lb_probe sent\n%s", tc->name,
			 lb_test_hex(out, out_len));
}

TestSuite(probe_tc, .init = setup, .fini = teardown, .timeout = 60);

ParameterizedTestParameters(probe_tc, row)
{
	return cr_make_param_array(struct probe_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct probe_case *tc, probe_tc, row)
{
	uint8_t in[FRAME_MAX], out[FRAME_MAX];
	size_t len = frame_build(tc, in, sizeof(in)), out_len = sizeof(out);
	uint64_t before[LB_PROBE_MAX], after[LB_PROBE_MAX];
	int i, verdict;

	config_adjust(tc);
	counters_read(before);
	verdict = probe_run(in, len, tc->mark, out, &out_len);
	counters_read(after);
	for (i = 0; i < LB_PROBE_MAX; i++) {
		int want = (tc->expect == EXPECT_ENCAP && i == LB_PROBE_ENCAP) ||
			   (tc->expect == EXPECT_DROP && i == tc->counter);

		cr_assert_eq(after[i] - before[i], (uint64_t)want, "%s: counter %d moved by %llu",
			     tc->name, i, (unsigned long long)(after[i] - before[i]));
	}
	if (tc->expect == EXPECT_DROP) {
		cr_assert_eq(verdict, TC_ACT_SHOT, "%s: verdict %d", tc->name, verdict);
		return;
	}
	/* On to the next filter, never the end of the chain. */
	cr_assert_eq(verdict, TC_ACT_UNSPEC, "%s: verdict %d", tc->name, verdict);
	if (tc->expect == EXPECT_UNTOUCHED) {
		cr_assert_eq(out_len, len, "%s: length changed", tc->name);
		cr_assert_arr_eq(out, in, len, "%s: bytes changed", tc->name);
		return;
	}
	encap_check(tc, in, len, out, out_len);
	xdp_same(tc, in, len, out, out_len);
}
