// SPDX-License-Identifier: GPL-2.0-only
/*
 * The set-associative flow table: a new flow takes its set's free way, else
 * the way seen longest ago, and leaves the set's other flows on their
 * backends; the program and user space place flows alike with the table's
 * seeds; and the flows of an LRU flow table of earlier releases are
 * carried into it at an upgrade, the most recently seen first to stay.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>

#include <bpf/bpf.h>
#include <criterion/criterion.h>

#include "datapath.h"
#include "flowtab.h"
#include "lb_flowtab.h"
#include "lb_test.h"
#include "lb_xdp.skel.h"
#include "pkt.h"
#include "testbed.h"

#define FT_SETS		16	/* a table of 64 entries */
#define FT_FLOWS	(LB_FLOW_WAYS + 2)
#define FT_SEED_SET	0x5e7c0ffeu
#define FT_SEED_TAG	0x7a9d00d5u

static struct lb_xdp *skel;
static struct testbed_vip vip;

static void setup(void)
{
	lb_test_require_bpf();
	skel = lb_xdp__open();
	cr_assert_not_null(skel);
	/* As lbd sets a table up: its sets and head, seeds in both. */
	cr_assert_eq(bpf_map__set_max_entries(skel->maps.flow_table, FT_SETS + 1), 0);
	skel->rodata->lb_flow_set_mask = FT_SETS - 1;
	skel->rodata->lb_flow_seed_set = FT_SEED_SET;
	skel->rodata->lb_flow_seed_tag = FT_SEED_TAG;
	cr_assert_eq(lb_xdp__load(skel), 0, "cannot load lb_xdp");
	cr_assert_eq(flowtab_head_write(bpf_map__fd(skel->maps.flow_table), FT_SETS,
					&(struct lb_flow_head){ .magic = LB_FLOW_HEAD_MAGIC,
								.seed_set = FT_SEED_SET,
								.seed_tag = FT_SEED_TAG }), 0);
	cr_assert_eq(testbed_one_vip(skel->obj, &vip), 0);
}

static void teardown(void)
{
	testbed_vip_free(&vip);
	lb_xdp__destroy(skel);
	skel = NULL;
}

TestSuite(flowtab, .init = setup, .fini = teardown, .timeout = 60);

static __u32 set_of(const struct lb_flow_key *k, __u64 *tag)
{
	return lb_flow_locate(k, FT_SEED_SET, FT_SEED_TAG, FT_SETS - 1, tag);
}

/* FT_FLOWS flows to the VIP that share one set of the table. */
static void same_set(struct lb_flow_key *k)
{
	__u32 want = 0;
	__u64 tag;
	int n = 0, port;

	for (port = 1024; n < FT_FLOWS; port++) {
		struct lb_flow_key c = { .family = LB_FAMILY_IPV4, .proto = IPPROTO_TCP };

		pkt_addr("198.18.0.1", c.src);
		pkt_addr("198.18.100.1", c.dst);
		c.sport = htons((uint16_t)port);
		c.dport = htons(80);
		if (n && set_of(&c, &tag) != want)
			continue;
		want = set_of(&c, &tag);
		k[n++] = c;
	}
}

static void send_syn(const struct lb_flow_key *k)
{
	uint8_t in[256], out[512];
	size_t len = pkt_tcp(in, sizeof(in), k, PKT_TCP_SYN, 0), out_len = sizeof(out);
	uint32_t verdict;

	cr_assert_eq(lb_test_run(bpf_program__fd(skel->progs.lb_xdp), in, len, out, &out_len,
				 &verdict), 0);
	cr_assert_eq(verdict, XDP_TX);
}

static uint32_t backend_of(const struct lb_flow_key *k)
{
	struct lb_flow_slot e;

	return lb_test_flow_get(bpf_map__fd(skel->maps.flow_table), k, &e) ? 0 :
	       (uint32_t)(e.tag_id & LB_FLOW_ID_MASK);
}

/* Make flow k's entry look seen at seen. */
static void set_seen(const struct lb_flow_key *k, __u32 seen)
{
	struct flowtab t;
	struct lb_flow_set *s;
	__u64 tag;
	__u32 id;
	int way;

	cr_assert_eq(flowtab_open(bpf_map__fd(skel->maps.flow_table), 1, &t), 0);
	s = &t.sets[set_of(k, &tag)];
	way = lb_flow_way_find(s, tag, &id);
	cr_assert_geq(way, 0);
	s->way[way].seen = seen;
	flowtab_close(&t);
}

Test(flowtab, a_new_flow_in_a_full_set_replaces_the_one_seen_longest_ago)
{
	struct lb_flow_key k[FT_FLOWS];
	struct lb_flow_slot e;
	__u32 now;
	int i;

	same_set(k);
	for (i = 0; i < LB_FLOW_WAYS; i++) {
		send_syn(&k[i]);
		cr_assert_eq(backend_of(&k[i]), datapath_table_lookup(vip.table, vip.table_size,
								      &k[i]),
			     "flow %d is not on the table's backend", i);
	}
	cr_assert_eq(lb_test_flow_count(bpf_map__fd(skel->maps.flow_table)), LB_FLOW_WAYS);
	cr_assert_eq(lb_test_flow_get(bpf_map__fd(skel->maps.flow_table), &k[0], &e), 0);
	now = e.seen;
	/* Flow 2 was seen longest ago, then 0, 3, 1. */
	set_seen(&k[0], now - 30);
	set_seen(&k[1], now - 10);
	set_seen(&k[2], now - 40);
	set_seen(&k[3], now - 20);
	send_syn(&k[4]);
	cr_assert_eq(backend_of(&k[2]), 0, "the oldest flow is still there");
	cr_assert_neq(backend_of(&k[4]), 0, "the new flow is not recorded");
	for (i = 0; i < LB_FLOW_WAYS; i++)
		if (i != 2)
			cr_assert_neq(backend_of(&k[i]), 0, "flow %d was evicted, not the oldest", i);
	/* Next, flow 0 (now the oldest) makes room. */
	send_syn(&k[5]);
	cr_assert_eq(backend_of(&k[0]), 0);
	cr_assert_eq(lb_test_flow_count(bpf_map__fd(skel->maps.flow_table)), LB_FLOW_WAYS);
}

/* An LRU flow table as releases before the set-associative one had. */
static int lru_new(void)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_NO_COMMON_LRU);
	int fd = bpf_map_create(BPF_MAP_TYPE_LRU_HASH, "flow_table", sizeof(struct lb_flow_key),
				sizeof(struct lb_flow_lru), 1024, &opts);

	cr_assert_geq(fd, 0, "cannot create an LRU map: %s", strerror(errno));
	return fd;
}

Test(flowtab, an_lru_tables_flows_are_carried_the_latest_kept)
{
	int fd = lru_new(), table = bpf_map__fd(skel->maps.flow_table);
	struct lb_flow_key k[FT_FLOWS], other = { 0 };
	struct lb_flow_slot e;
	struct flowtab t;
	size_t carried;
	int i;

	cr_assert(flowtab_is_lru(fd));
	cr_assert_not(flowtab_is_lru(table));
	same_set(k);
	/* Six flows for one set of four, seen at 100 .. 105, on ids 1 .. 6. */
	for (i = 0; i < FT_FLOWS; i++) {
		struct lb_flow_lru v = { .backend_id = 1 + (__u32)i, .block_gen = 7,
					 .last_seen = 100 + (__u64)i };

		cr_assert_eq(bpf_map_update_elem(fd, &k[i], &v, BPF_NOEXIST), 0);
	}
	/* And two whose ids name no backend: not carried. */
	other = k[0];
	other.sport = htons(9);
	cr_assert_eq(bpf_map_update_elem(fd, &other, &(struct lb_flow_lru){ .backend_id = 0 },
					 BPF_NOEXIST), 0);
	other.sport = htons(10);
	cr_assert_eq(bpf_map_update_elem(fd, &other,
					 &(struct lb_flow_lru){ .backend_id = LB_MAX_BACKENDS },
					 BPF_NOEXIST), 0);
	cr_assert_eq(flowtab_open(table, 1, &t), 0);
	cr_assert_eq(flowtab_carry_lru(fd, &t, &carried), 0);
	cr_assert_eq(carried, FT_FLOWS);
	for (i = 0; i < FT_FLOWS; i++) {
		int rc = lb_test_flow_get(table, &k[i], &e);

		if (i < FT_FLOWS - LB_FLOW_WAYS) {
			cr_assert_eq(rc, -ENOENT, "flow %d, of the oldest, was kept", i);
			continue;
		}
		cr_assert_eq(rc, 0, "flow %d, of the latest, was not carried", i);
		cr_assert_eq(e.tag_id & LB_FLOW_ID_MASK, 1 + (__u64)i);
		cr_assert_eq(e.seen, 100 + (__u32)i);
		cr_assert_eq(e.block_gen, 7);
	}
	/* Carried again (after the new program ran): entries the table has
	 * are kept, and older flows do not push younger ones out. */
	cr_assert_eq(flowtab_put(&t, &k[FT_FLOWS - 1], 9, 200, 0, 0), 1);
	cr_assert_eq(flowtab_carry_lru(fd, &t, &carried), 0);
	cr_assert_eq(carried, 0);
	cr_assert_eq(lb_test_flow_get(table, &k[FT_FLOWS - 1], &e), 0);
	cr_assert_eq(e.tag_id & LB_FLOW_ID_MASK, 9);
	cr_assert_eq(lb_test_flow_get(table, &k[0], &e), -ENOENT);
	flowtab_close(&t);
	close(fd);
}
