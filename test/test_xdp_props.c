// SPDX-License-Identifier: GPL-2.0-only
/*
 * Properties of the balancer over many random flows: the backend the data
 * path picks is the one user space predicts from the same table; ICMP
 * too-big errors about a flow reach the flow's backend; flows keep their
 * backend across a table swap unless that backend went away; per-flow
 * tunnel sources spread flows.
 */
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>

#include <bpf/bpf.h>
#include <criterion/criterion.h>

#include "datapath.h"
#include "lb_hash.h"
#include "lb_test.h"
#include "lb_xdp.skel.h"
#include "pkt.h"
#include "testbed.h"

#define NFLOWS 10000

static struct lb_xdp *skel;
static struct testbed_vip vip4, vip6;
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint32_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 16);
}

static void setup(void)
{
	struct bpf_object *obj;

	lb_test_require_bpf();
	skel = lb_xdp__open_and_load();
	cr_assert_not_null(skel, "cannot load lb_xdp");
	obj = skel->obj;
	cr_assert_eq(testbed_config(obj), 0);
	cr_assert_eq(testbed_vip_add(obj, "198.18.100.1", 80, IPPROTO_TCP, 0), 0);
	cr_assert_eq(testbed_vip_add(obj, "fd00:100::1", 443, IPPROTO_TCP, 1), 0);
	vip4.id = 0;
	vip6.id = 1;
	cr_assert_eq(testbed_backends(obj, &vip4, LB_FAMILY_IPV4, 16, 1), 0);
	/* IPv6 VIP to IPv4 backends and back would work the same; mix them. */
	cr_assert_eq(testbed_backends(obj, &vip6, LB_FAMILY_IPV6, 16, 101), 0);
}

static void teardown(void)
{
	testbed_vip_free(&vip4);
	testbed_vip_free(&vip6);
	lb_xdp__destroy(skel);
	skel = NULL;
}

/* A random client flow to the VIP. */
static struct lb_flow_key random_flow(uint8_t family)
{
	struct lb_flow_key k = { .family = family, .proto = IPPROTO_TCP };

	if (family == LB_FAMILY_IPV4) {
		pkt_addr("198.18.100.1", k.dst);
		k.src[0] = htonl(0xc6120000 | (rnd() & 0x1ffff)); /* 198.18.0.0/15 */
		k.dport = htons(80);
	} else {
		pkt_addr("fd00:100::1", k.dst);
		pkt_addr("fd00:1::", k.src);
		k.src[2] = rnd();
		k.src[3] = rnd();
		k.dport = htons(443);
	}
	k.sport = htons((uint16_t)(1024 + rnd() % 64000));
	return k;
}

/* Run one frame and return the backend id its outer destination names,
 * 0 when it was not encapsulated to one of vip's backends. */
static uint32_t run_to_backend(const struct testbed_vip *vip, const uint8_t *frame, size_t len)
{
	uint8_t out[2048], family;
	size_t out_len = sizeof(out);
	uint32_t verdict;
	__be32 dst[4];
	size_t i;

	cr_assert_eq(lb_test_run(bpf_program__fd(skel->progs.lb_xdp), frame, len, out,
				 &out_len, &verdict), 0);
	if (verdict != XDP_TX || pkt_outer_dst(out, out_len, &family, dst))
		return 0;
	for (i = 0; i < vip->n; i++)
		if (vip->backends[i].family == family &&
		    !memcmp(vip->backends[i].addr, dst, family == LB_FAMILY_IPV4 ? 4 : 16))
			return vip->backends[i].id;
	return 0;
}

static uint32_t send_tcp(const struct testbed_vip *vip, const struct lb_flow_key *k, uint8_t flags)
{
	uint8_t frame[256];
	size_t len = pkt_tcp(frame, sizeof(frame), k, flags, 0);

	return run_to_backend(vip, frame, len);
}

static uint32_t send_too_big(const struct testbed_vip *vip, const struct lb_flow_key *k)
{
	uint8_t frame[256];
	__be32 router[4];
	size_t len;

	pkt_addr(k->family == LB_FAMILY_IPV4 ? "198.18.9.9" : "fd00:9::9", router);
	len = pkt_too_big(frame, sizeof(frame), k, router, 1400);
	return run_to_backend(vip, frame, len);
}

static uint32_t predict(const struct testbed_vip *vip, const struct lb_flow_key *k)
{
	return datapath_table_lookup(vip->table, vip->table_size, k);
}

TestSuite(xdp_props, .init = setup, .fini = teardown, .timeout = 120);

static void check_prediction(const struct testbed_vip *vip, uint8_t family)
{
	uint32_t seen[256] = { 0 };
	size_t used = 0;
	int i;

	for (i = 0; i < NFLOWS; i++) {
		struct lb_flow_key k = random_flow(family);
		uint32_t got = send_tcp(vip, &k, PKT_TCP_SYN);

		cr_assert_eq(got, predict(vip, &k), "flow %d: data path chose %u, user space predicts %u",
			     i, got, predict(vip, &k));
		if (!seen[got & 0xff]++)
			used++;
	}
	/* Agreement on one backend would prove little: all 16 must be used. */
	cr_assert_eq(used, vip->n);
}

Test(xdp_props, ipv4_choice_matches_user_space)
{
	check_prediction(&vip4, LB_FAMILY_IPV4);
}

Test(xdp_props, ipv6_choice_matches_user_space)
{
	check_prediction(&vip6, LB_FAMILY_IPV6);
}

/* Backend ids fill the 16-bit lanes of a table entry: ids at the top of
 * the range, in all four lanes, go where user space predicts. */
Test(xdp_props, top_backend_ids_match_user_space)
{
	testbed_vip_free(&vip4);
	cr_assert_eq(testbed_backends(skel->obj, &vip4, LB_FAMILY_IPV4, 16, LB_MAX_BACKENDS - 16),
		     0);
	check_prediction(&vip4, LB_FAMILY_IPV4);
}

/* One more backend, a new table: some flows' table choice changes. */
static void grow_table(struct testbed_vip *vip)
{
	struct maglev_backend *grown = realloc(vip->backends, (vip->n + 1) * sizeof(*grown));

	cr_assert_not_null(grown);
	vip->backends = grown;
	grown[vip->n] = grown[vip->n - 1];
	grown[vip->n].id = grown[vip->n - 1].id + 1;
	/* A host no other backend has: 198.18.3.128+ or fd00:3::1xx. */
	if (grown[vip->n].family == LB_FAMILY_IPV4)
		grown[vip->n].addr[0] ^= htonl(0x80);
	else
		grown[vip->n].addr[3] ^= htonl(0x100);
	vip->n++;
	cr_assert_eq(testbed_backend_up(skel->obj, &grown[vip->n - 1], 1), 0);
	cr_assert_eq(testbed_table(skel->obj, vip), 0);
}

/*
 * Too-big errors about a flow go where the flow goes. The table is
 * replaced after the flows start, so for the flows whose table choice
 * changed only the flow table can give the right answer.
 */
static void check_too_big(struct testbed_vip *vip, uint8_t family)
{
	static struct lb_flow_key keys[NFLOWS];
	static uint32_t first[NFLOWS];
	int i, moved = 0;

	for (i = 0; i < NFLOWS; i++) {
		keys[i] = random_flow(family);
		first[i] = send_tcp(vip, &keys[i], PKT_TCP_SYN);
		cr_assert_neq(first[i], 0);
	}
	grow_table(vip);
	for (i = 0; i < NFLOWS; i++) {
		moved += predict(vip, &keys[i]) != first[i];
		cr_assert_eq(send_too_big(vip, &keys[i]), first[i], "flow %d: too-big went elsewhere", i);
	}
	cr_assert_gt(moved, 0, "the new table moved no flow: the test proves nothing");
}

Test(xdp_props, ipv4_frag_needed_reaches_flow_backend)
{
	check_too_big(&vip4, LB_FAMILY_IPV4);
}

Test(xdp_props, ipv6_packet_too_big_reaches_flow_backend)
{
	check_too_big(&vip6, LB_FAMILY_IPV6);
}

/* With no flow entry (another LB node took the SYN), the table decides. */
Test(xdp_props, too_big_without_flow_entry_follows_table)
{
	int i;

	for (i = 0; i < NFLOWS; i++) {
		struct lb_flow_key k = random_flow(LB_FAMILY_IPV4);

		cr_assert_eq(send_too_big(&vip4, &k), predict(&vip4, &k));
	}
}

#define NSTICKY 2000

Test(xdp_props, flow_keeps_backend_across_table_swap)
{
	static struct lb_flow_key keys[NSTICKY];
	static uint32_t before[NSTICKY];
	int i, moved_in_table = 0;

	for (i = 0; i < NSTICKY; i++) {
		keys[i] = random_flow(LB_FAMILY_IPV4);
		before[i] = send_tcp(&vip4, &keys[i], PKT_TCP_SYN);
	}
	grow_table(&vip4);

	for (i = 0; i < NSTICKY; i++) {
		if (predict(&vip4, &keys[i]) != before[i])
			moved_in_table++;
		cr_assert_eq(send_tcp(&vip4, &keys[i], PKT_TCP_ACK), before[i],
			     "flow %d left its backend after the swap", i);
	}
	cr_assert_gt(moved_in_table, 0, "the new table moved no flow: the test proves nothing");
	/* A new connection of the same 5-tuple follows the new table. */
	for (i = 0; i < NSTICKY; i++)
		cr_assert_eq(send_tcp(&vip4, &keys[i], PKT_TCP_SYN), predict(&vip4, &keys[i]));
}

Test(xdp_props, flow_moves_when_backend_removed)
{
	static struct lb_flow_key keys[NSTICKY];
	static uint32_t before[NSTICKY];
	uint32_t gone = vip4.backends[3].id;
	uint64_t stats[sizeof(struct lb_global_stats) / 8];
	int i, on_gone = 0;

	for (i = 0; i < NSTICKY; i++) {
		keys[i] = random_flow(LB_FAMILY_IPV4);
		before[i] = send_tcp(&vip4, &keys[i], PKT_TCP_SYN);
		on_gone += before[i] == gone;
	}
	cr_assert_gt(on_gone, 0);
	cr_assert_eq(testbed_backend_up(skel->obj, &vip4.backends[3], 0), 0);
	memmove(&vip4.backends[3], &vip4.backends[4], 12 * sizeof(vip4.backends[0]));
	vip4.n = 15;
	cr_assert_eq(testbed_table(skel->obj, &vip4), 0);

	for (i = 0; i < NSTICKY; i++) {
		uint32_t got = send_tcp(&vip4, &keys[i], PKT_TCP_ACK);

		if (before[i] == gone)
			cr_assert_eq(got, predict(&vip4, &keys[i]));
		else
			cr_assert_eq(got, before[i]);
	}
	cr_assert_eq(lb_test_percpu_sum(bpf_map__fd(skel->maps.lb_stats), 0, stats,
					 sizeof(stats) / 8), 0);
	cr_assert_eq(stats[offsetof(struct lb_global_stats, event[LB_EV_FLOW_REPICK]) / 8],
		     (uint64_t)on_gone);
}

/*
 * Per-flow tunnel sources must spread a VIP's flows, or a backend NIC's RSS
 * puts them all on one queue. With the low 16 bits free, 4096 flows that
 * differ only in the client address, 4096 that differ only in the client
 * port, and 4096 random ones each land on nearly as many sources: a random
 * draw gives about 3970 distinct values of 65536. Every packet of a flow,
 * SYN or not, leaves from the same source.
 */
#define NSPREAD		4096
#define SPREAD_MIN	3800

static void tunnel_prefixes(uint8_t plen4, uint8_t plen6)
{
	int fd = bpf_map__fd(skel->maps.lb_cfg);
	struct lb_config cfg;
	__u32 zero = 0;

	cr_assert_eq(bpf_map_lookup_elem(fd, &zero, &cfg), 0);
	cfg.src4_plen = plen4;
	cfg.src6_plen = plen6;
	cr_assert_eq(bpf_map_update_elem(fd, &zero, &cfg, BPF_ANY), 0);
}

/* The low 16 bits of the outer source of the flow's packet. */
static uint16_t outer_src_low(const struct lb_flow_key *k, uint8_t flags)
{
	uint8_t frame[256], out[2048];
	size_t len = pkt_tcp(frame, sizeof(frame), k, flags, 0), out_len = sizeof(out);
	uint32_t verdict;
	size_t off;

	cr_assert_eq(lb_test_run(bpf_program__fd(skel->progs.lb_xdp), frame, len, out,
				 &out_len, &verdict), 0);
	cr_assert_eq(verdict, XDP_TX);
	/* No VLAN tags here: the outer header follows 14 bytes of Ethernet. */
	off = out[12] == 0x08 && out[13] == 0x00 ? 14 + 12 + 2 : 14 + 8 + 14;
	cr_assert_gt(out_len, off + 2);
	return (uint16_t)(out[off] << 8 | out[off + 1]);
}

enum spread_vary { VARY_ADDR, VARY_PORT, VARY_BOTH };

static void check_spread(uint8_t family, enum spread_vary vary)
{
	static uint8_t seen[65536 / 8];
	struct lb_flow_key k = random_flow(family);
	int i, distinct = 0;

	memset(seen, 0, sizeof(seen));
	for (i = 0; i < NSPREAD; i++) {
		uint16_t src;

		if (vary == VARY_BOTH)
			k = random_flow(family);
		else if (vary == VARY_PORT)
			k.sport = htons((uint16_t)(1024 + i));
		else if (family == LB_FAMILY_IPV4)
			k.src[0] = htonl(0xc6120000 | (uint32_t)i);
		else
			k.src[3] = htonl((uint32_t)i);
		src = outer_src_low(&k, PKT_TCP_SYN);
		cr_assert_eq(outer_src_low(&k, PKT_TCP_ACK), src,
			     "flow %d: SYN and ACK leave from different sources", i);
		if (!(seen[src / 8] & (1 << (src % 8))))
			distinct++;
		seen[src / 8] |= (uint8_t)(1 << (src % 8));
	}
	cr_assert_geq(distinct, SPREAD_MIN, "%d flows varied in %s share %d sources", NSPREAD,
		      vary == VARY_PORT ? "port" : vary == VARY_ADDR ? "address" : "both", distinct);
}

Test(xdp_props, tunnel_sources_spread_flows)
{
	static const uint8_t families[] = { LB_FAMILY_IPV4, LB_FAMILY_IPV6 };
	int f, vary;

	tunnel_prefixes(16, 112);
	for (f = 0; f < 2; f++)
		for (vary = VARY_ADDR; vary <= VARY_BOTH; vary++)
			check_spread(families[f], (enum spread_vary)vary);
}

/* The VIP key (198.18.100.1, port, tcp) and its index bucket. */
static struct lb_vip_key vip4_key(uint16_t port, __u32 *bucket)
{
	struct lb_vip_key k = { .port = htons(port), .proto = IPPROTO_TCP };
	__u64 w[3];

	k.family = pkt_addr("198.18.100.1", k.addr);
	memcpy(w, &k, sizeof(w));
	*bucket = lb_vip_index_bucket(w);
	return k;
}

/* The data path reads the VIP index, and asks vip_map for what it lacks:
 * a key only the index holds is balanced (no controller writes one, but
 * nothing else shows the index is read), and so is a key of vip_map whose
 * bucket the index has full. */
Test(xdp_props, vip_index_is_read_and_vip_map_backs_it)
{
	struct lb_vip v = { .id = vip4.id };
	struct lb_vip_index *ix = calloc(1, sizeof(*ix));
	struct lb_flow_key k = random_flow(LB_FAMILY_IPV4);
	struct lb_vip_key key80, other;
	__u32 b80, b;
	int port, filled = 0;

	cr_assert_not_null(ix);
	key80 = vip4_key(80, &b80);
	for (port = 81; port < 65536 && filled < LB_VIP_INDEX_WAYS; port++) {
		other = vip4_key((uint16_t)port, &b);
		if (b == b80 && datapath_index_add(ix, &other, &v))
			filled++;
	}
	cr_assert_eq(filled, LB_VIP_INDEX_WAYS, "no ports share port 80's bucket");
	cr_assert(!datapath_index_add(ix, &key80, &v), "a full bucket took one more key");
	cr_assert_eq(datapath_index_swap(bpf_map__fd(skel->maps.vip_index), ix), 0);

	cr_assert_eq(send_tcp(&vip4, &k, PKT_TCP_SYN), predict(&vip4, &k),
		     "port 80, in vip_map only, is not balanced");
	k.dport = htons((uint16_t)(port - 1));
	cr_assert_neq(send_tcp(&vip4, &k, PKT_TCP_SYN), 0, "port %d, in the index only, is not balanced",
		      port - 1);
	cr_assert_eq(send_tcp(&vip4, &k, PKT_TCP_SYN), predict(&vip4, &k));
	free(ix);
}
