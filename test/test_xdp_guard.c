// SPDX-License-Identifier: GPL-2.0-only
/*
 * The new-flow flood guard through the real balancer: with lb_config's
 * flow_cap at K, the first K new flows of a one-second window get flow
 * entries, the rest still go to the backend the table names but are not
 * recorded, and guard_skip counts them; established flows keep their
 * entries; an entry whose backend is gone is replaced whatever the cap.
 *
 * The guard's window is per CPU, so the process runs on CPU 0 only. The
 * window's start is read from flow_guard rather than assumed: a burst that
 * a new window cut in two is run again, and the window's end is tested by
 * moving its start back one second, never by waiting.
 */
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>

#include <bpf/bpf.h>
#include <criterion/criterion.h>

#include "datapath.h"
#include "lb_test.h"
#include "lb_xdp.skel.h"
#include "pkt.h"
#include "testbed.h"

#define GD_CAP		8
#define GD_FLOWS	40
#define GD_TRIES	5

static struct lb_xdp *skel;
static struct testbed_vip vip;
static uint32_t rng = 0x6a4d5eedu;
static int ncpu;

static void setup(void)
{
	cpu_set_t cpus;

	lb_test_require_bpf();
	CPU_ZERO(&cpus);
	CPU_SET(0, &cpus);
	cr_assert_eq(sched_setaffinity(0, sizeof(cpus), &cpus), 0, "cannot pin to CPU 0");
	ncpu = libbpf_num_possible_cpus();
	cr_assert_gt(ncpu, 0);
	skel = lb_xdp__open_and_load();
	cr_assert_not_null(skel, "cannot load lb_xdp");
	cr_assert_eq(testbed_one_vip(skel->obj, &vip), 0);
}

static void teardown(void)
{
	testbed_vip_free(&vip);
	lb_xdp__destroy(skel);
	skel = NULL;
}

TestSuite(xdp_guard, .init = setup, .fini = teardown, .timeout = 60);

static void set_cap(uint32_t cap)
{
	int fd = bpf_map__fd(skel->maps.lb_cfg);
	struct lb_config cfg;
	__u32 zero = 0;

	cr_assert_eq(bpf_map_lookup_elem(fd, &zero, &cfg), 0);
	cfg.flow_cap = cap;
	cr_assert_eq(bpf_map_update_elem(fd, &zero, &cfg, BPF_ANY), 0);
}

/* CPU 0's guard state, read or written. */
static struct lb_guard guard_get(void)
{
	struct lb_guard *all = calloc((size_t)ncpu, sizeof(*all)), g;
	__u32 zero = 0;

	cr_assert_not_null(all);
	cr_assert_eq(bpf_map_lookup_elem(bpf_map__fd(skel->maps.flow_guard), &zero, all), 0);
	g = all[0];
	free(all);
	return g;
}

static void guard_set(struct lb_guard g)
{
	struct lb_guard *all = calloc((size_t)ncpu, sizeof(*all));
	__u32 zero = 0;

	cr_assert_not_null(all);
	all[0] = g;
	cr_assert_eq(bpf_map_update_elem(bpf_map__fd(skel->maps.flow_guard), &zero, all, BPF_ANY),
		     0);
	free(all);
}

/* Word w of struct lb_global_stats, summed over the CPUs. */
static uint64_t global_stat(size_t w)
{
	uint64_t s[sizeof(struct lb_global_stats) / 8];

	cr_assert_eq(lb_test_percpu_sum(bpf_map__fd(skel->maps.lb_stats), 0, s, sizeof(s) / 8), 0);
	return s[w];
}

static uint64_t event(enum lb_event ev)
{
	return global_stat(offsetof(struct lb_global_stats, event) / 8 + ev);
}

static uint64_t event_drop(enum lb_drop_reason r)
{
	return global_stat(offsetof(struct lb_global_stats, drop) / 8 + r);
}

static uint64_t new_flows(void)
{
	uint64_t s[sizeof(struct lb_vip_stats) / 8];

	cr_assert_eq(lb_test_percpu_sum(bpf_map__fd(skel->maps.vip_stats), vip.id, s,
					 sizeof(s) / 8), 0);
	return s[offsetof(struct lb_vip_stats, new_flows) / 8];
}

static struct lb_flow_key random_flow(void)
{
	struct lb_flow_key k = { .family = LB_FAMILY_IPV4, .proto = IPPROTO_TCP };

	pkt_addr("198.18.100.1", k.dst);
	k.src[0] = htonl(0x0a000000 | (lb_test_rand(&rng) & 0xffffff));
	k.sport = htons((uint16_t)(1024 + lb_test_rand(&rng) % 60000));
	k.dport = htons(80);
	return k;
}

/* Send one segment of flow k; the backend id its outer destination names. */
static uint32_t send_tcp(const struct lb_flow_key *k, uint8_t flags)
{
	uint8_t frame[256], out[512], family;
	size_t len = pkt_tcp(frame, sizeof(frame), k, flags, 0), out_len = sizeof(out), i;
	uint32_t verdict;
	__be32 dst[4];

	cr_assert_eq(lb_test_run(bpf_program__fd(skel->progs.lb_xdp), frame, len, out, &out_len,
				 &verdict), 0);
	cr_assert_eq(verdict, XDP_TX);
	cr_assert_eq(pkt_outer_dst(out, out_len, &family, dst), 0);
	for (i = 0; i < vip.n; i++)
		if (vip.backends[i].addr[0] == dst[0])
			return vip.backends[i].id;
	cr_assert_fail("sent to %08x, no backend of the VIP", ntohl(dst[0]));
	return 0;
}

static int has_entry(const struct lb_flow_key *k, uint32_t *backend)
{
	struct lb_flow_slot f;

	if (lb_test_flow_get(bpf_map__fd(skel->maps.flow_table), k, &f))
		return 0;
	*backend = (uint32_t)(f.tag_id & LB_FLOW_ID_MASK);
	return 1;
}

static uint32_t predict(const struct lb_flow_key *k)
{
	return datapath_table_lookup(vip.table, vip.table_size, k);
}

/*
 * GD_FLOWS SYNs of new flows, from an empty guard. Returns the start of the
 * window the first one opened: if a check that follows finds another
 * window (window_kept() false), a second began meanwhile and the caller
 * runs the whole sequence again on new flows.
 */
static __u64 syn_burst(struct lb_flow_key *keys, uint32_t *sent)
{
	__u64 window = 0;
	int i;

	/* An empty window that began long ago: the first SYN opens a new one. */
	guard_set((struct lb_guard){ 0 });
	for (i = 0; i < GD_FLOWS; i++) {
		keys[i] = random_flow();
		sent[i] = send_tcp(&keys[i], PKT_TCP_SYN);
		if (i == 0)
			window = guard_get().window;
	}
	return window;
}

static int window_kept(__u64 window)
{
	return guard_get().window == window;
}

Test(xdp_guard, cap_holds_back_new_flows_not_established_ones)
{
	struct lb_flow_key keys[GD_FLOWS];
	uint32_t sent[GD_FLOWS], acked[GD_FLOWS], b;
	uint64_t skip0 = 0, new0 = 0;
	int i, tries, recorded = 0;
	__u64 window;

	set_cap(GD_CAP);
	for (tries = 0; tries < GD_TRIES; tries++) {
		skip0 = event(LB_EV_GUARD_SKIP);
		new0 = new_flows();
		window = syn_burst(keys, sent);
		for (i = 0; i < GD_FLOWS; i++)
			acked[i] = send_tcp(&keys[i], PKT_TCP_ACK);
		if (window_kept(window))
			break;
	}
	cr_assert_lt(tries, GD_TRIES, "a new window began in every try");
	for (i = 0; i < GD_FLOWS; i++) {
		cr_assert_eq(sent[i], predict(&keys[i]), "flow %d: not the table's backend", i);
		if (i < GD_CAP) {
			cr_assert(has_entry(&keys[i], &b), "flow %d (under the cap): no entry", i);
			cr_assert_eq(b, sent[i]);
			recorded++;
		} else {
			cr_assert_not(has_entry(&keys[i], &b), "flow %d (over the cap): recorded", i);
		}
		/* Established flows follow their entries, the others the
		 * table; their ACKs, which would create entries too, are
		 * held back alike. */
		cr_assert_eq(acked[i], sent[i], "flow %d: its ACK went elsewhere", i);
	}
	cr_assert_eq(recorded, GD_CAP);
	cr_assert_eq(new_flows() - new0, GD_CAP);
	cr_assert_eq(event(LB_EV_GUARD_SKIP) - skip0, 2 * GD_FLOWS - 2 * GD_CAP);
	cr_assert_eq(guard_get().created, GD_CAP);
}

Test(xdp_guard, a_new_window_admits_again)
{
	struct lb_flow_key keys[GD_FLOWS], k;
	uint32_t sent[GD_FLOWS], b;
	struct lb_guard g;
	int tries;

	set_cap(GD_CAP);
	for (tries = 0; tries < GD_TRIES; tries++) {
		__u64 window = syn_burst(keys, sent);

		k = random_flow();
		send_tcp(&k, PKT_TCP_SYN);
		if (window_kept(window))
			break;
	}
	cr_assert_lt(tries, GD_TRIES, "a new window began in every try");
	cr_assert_not(has_entry(&k, &b), "the cap is reached: no entry");
	/* Move the window's start one second back, and forget the tick the
	 * clock was last read in, so that the next packet reads it. */
	g = guard_get();
	g.window -= 1000000000ULL;
	g.tick = 0;
	guard_set(g);
	cr_assert_eq(send_tcp(&k, PKT_TCP_SYN), predict(&k));
	cr_assert(has_entry(&k, &b), "a new window: the flow is recorded");
	cr_assert_eq(guard_get().created, 1);
}

Test(xdp_guard, no_cap_records_every_flow)
{
	struct lb_flow_key k;
	uint32_t b;
	int i;

	set_cap(0);
	for (i = 0; i < GD_FLOWS; i++) {
		k = random_flow();
		send_tcp(&k, PKT_TCP_SYN);
		cr_assert(has_entry(&k, &b), "flow %d not recorded", i);
	}
	cr_assert_eq(event(LB_EV_GUARD_SKIP), 0);
	cr_assert_eq(new_flows(), GD_FLOWS);
}

/*
 * At the cap an entry whose backend is gone is still replaced, or each of
 * its flow's packets would be placed again. A SYN at the cap looks nothing
 * up (the point of the guard is that a flood's SYNs cost little), so an
 * entry of its 5-tuple on another backend stays: the cost
 * docs/architecture.md gives for flows that start during a flood.
 */
Test(xdp_guard, at_the_cap_gone_backends_are_replaced_syns_look_nothing_up)
{
	struct lb_flow_key keys[GD_FLOWS], syn_k, ack_k;
	struct maglev_backend other = vip.backends[0];
	int fd = bpf_map__fd(skel->maps.flow_table);
	uint32_t sent[GD_FLOWS], b, syn_to = 0, ack_to = 0;
	uint64_t skip = 0;
	int tries;

	/* Backend 200: in no table. */
	other.id = 200;
	other.addr[0] ^= htonl(0x80);
	set_cap(GD_CAP);
	for (tries = 0; tries < GD_TRIES; tries++) {
		__u64 window = syn_burst(keys, sent);

		skip = event(LB_EV_GUARD_SKIP);
		/* A SYN whose 5-tuple has an entry on another backend (up). */
		cr_assert_eq(testbed_backend_up(skel->obj, &other, 1), 0);
		syn_k = random_flow();
		lb_test_flow_put(fd, &syn_k, 200, 0);
		syn_to = send_tcp(&syn_k, PKT_TCP_SYN);
		/* An ACK whose flow's entry names a backend that is gone. */
		ack_k = random_flow();
		lb_test_flow_put(fd, &ack_k, 200, 0);
		cr_assert_eq(testbed_backend_up(skel->obj, &other, 0), 0);
		ack_to = send_tcp(&ack_k, PKT_TCP_ACK);
		if (window_kept(window))
			break;
	}
	cr_assert_lt(tries, GD_TRIES, "a new window began in every try");
	cr_assert_eq(syn_to, predict(&syn_k));
	cr_assert(has_entry(&syn_k, &b));
	cr_assert_eq(b, 200, "the SYN at the cap touched the flow table");
	cr_assert_eq(ack_to, predict(&ack_k));
	cr_assert(has_entry(&ack_k, &b));
	cr_assert_eq(b, ack_to, "an entry on a gone backend was left in place");
	cr_assert_eq(event(LB_EV_GUARD_SKIP), skip + 1, "the SYN was held back, the ACK not");
	cr_assert_eq(guard_get().created, GD_CAP);
}

/*
 * A SYN held back at the cap to a VIP that has no backend is dropped for
 * that, and counted there only: guard_skip counts flows placed but not
 * recorded. (The guard is asked before the VIP's table is read, so the
 * count waits for the placement.)
 */
Test(xdp_guard, at_the_cap_a_syn_with_no_backend_is_no_guard_skip)
{
	struct lb_flow_key keys[GD_FLOWS], k;
	uint8_t frame[256], out[512];
	size_t len, out_len;
	uint32_t sent[GD_FLOWS], verdict;
	uint64_t skip = 0, dropped = 0;
	int tries;

	cr_assert_eq(testbed_vip_add(skel->obj, "198.18.100.1", 81, IPPROTO_TCP, 1), 0);
	set_cap(GD_CAP);
	for (tries = 0; tries < GD_TRIES; tries++) {
		__u64 window = syn_burst(keys, sent);

		skip = event(LB_EV_GUARD_SKIP);
		dropped = event_drop(LB_DROP_NO_BACKEND);
		k = random_flow();
		k.dport = htons(81);
		len = pkt_tcp(frame, sizeof(frame), &k, PKT_TCP_SYN, 0);
		out_len = sizeof(out);
		cr_assert_eq(lb_test_run(bpf_program__fd(skel->progs.lb_xdp), frame, len, out,
					 &out_len, &verdict), 0);
		if (window_kept(window))
			break;
	}
	cr_assert_lt(tries, GD_TRIES, "a new window began in every try");
	cr_assert_eq(verdict, XDP_DROP);
	cr_assert_eq(event_drop(LB_DROP_NO_BACKEND), dropped + 1);
	cr_assert_eq(event(LB_EV_GUARD_SKIP), skip, "a SYN that was not placed was counted held back");
}
