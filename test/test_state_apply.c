// SPDX-License-Identifier: GPL-2.0-only
/*
 * The state model through the map writer into the real balancer: what
 * packets meet when health takes backends down (all_down keep and drop),
 * when the admin takes them out, and while many tables are swapped at
 * once; and that a change to one backend rewrites only its VIPs' tables.
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>

#include <bpf/bpf.h>
#include <criterion/criterion.h>

#include "apply.h"
#include "apply_bed.h"
#include "config.h"
#include "datapath.h"
#include "lb_test.h"
#include "pkt.h"
#include "state.h"

static struct apply_bed bed;

static void setup(void)
{
	apply_bed_open(&bed);
}

static void teardown(void)
{
	apply_bed_close(&bed);
}

TestSuite(state_apply, .init = setup, .fini = teardown, .timeout = 120);

#define HEAD "{\"interface\": \"eth0\", \"tunnel_source\": {\"ipv4\": \"198.18.2.2\"}, \"vips\": ["
#define VIP(name, addr, policy, backends) \
	"{\"name\": \"" name "\", \"address\": \"" addr "\", \"port\": 80, \"protocol\": \"tcp\", " \
	"\"table_size\": 251, \"health_check\": {\"type\": \"tcp\"}, \"all_down\": \"" policy \
	"\", \"backends\": [" backends "]}"
#define BE(a) "{\"address\": \"" a "\"}"
#define BE_DOWN(a) "{\"address\": \"" a "\", \"state\": \"down\"}"

/* The state of a config, applied in full. */
static void start(const char *text)
{
	struct config_errors errs = { 0 };
	struct config *cfg = NULL;
	struct apply_stats st;
	char err[256];

	cr_assert_eq(config_parse(text, strlen(text), "t.json", &cfg, &errs), 0, "config: %s",
		     errs.n ? errs.lines[0] : "?");
	bed.model = state_new(cfg, 1000);
	cr_assert_not_null(bed.model);
	cr_assert_eq(apply_state(bed.ap, bed.model, &apply_bed_env, &st, err, sizeof(err)), 0, "%s", err);
	state_clean(bed.model);
}

/* Apply what the state bed.model changed, as lbd's deferred apply does. */
static struct apply_stats changes(void)
{
	struct apply_stats st;
	char err[256];

	cr_assert_eq(apply_dirty(bed.ap, bed.model, &st, err, sizeof(err)), 0, "%s", err);
	state_clean(bed.model);
	return st;
}

static void health(size_t vip, size_t be, enum state_health h)
{
	state_health_set(bed.model, vip, be, h, h == STATE_HEALTH_DOWN ? "refused" : "ok", 2000);
}

static struct lb_flow_key flow(const char *vip, uint16_t sport)
{
	struct lb_flow_key k = { .proto = IPPROTO_TCP, .sport = htons(sport), .dport = htons(80) };

	k.family = pkt_addr(vip, k.dst);
	pkt_addr("198.18.0.1", k.src);
	return k;
}

/* Send one segment; the verdict, and the outer destination in dst. */
static uint32_t seg_send(const struct lb_flow_key *k, uint8_t flags, char *dst, size_t dstlen)
{
	uint8_t in[256], out[512], family;
	size_t len = pkt_tcp(in, sizeof(in), k, flags, 0), out_len = sizeof(out);
	uint32_t verdict;
	__be32 a[4];

	cr_assert_eq(lb_test_run(bpf_program__fd(bed.skel->progs.lb_xdp), in, len, out, &out_len,
				 &verdict), 0);
	dst[0] = '\0';
	if (verdict == XDP_TX && !pkt_outer_dst(out, out_len, &family, a))
		inet_ntop(family == LB_FAMILY_IPV4 ? AF_INET : AF_INET6, a, dst, (socklen_t)dstlen);
	return verdict;
}

static __u64 global(size_t word)
{
	uint64_t sums[sizeof(struct lb_global_stats) / 8];

	cr_assert_eq(lb_test_percpu_sum(bpf_map__fd(bed.skel->maps.lb_stats), 0, sums,
					sizeof(sums) / 8), 0);
	return sums[word];
}

#define DROPS(r) global(offsetof(struct lb_global_stats, drop[r]) / 8)

static __u64 vip_packets(size_t vip)
{
	uint64_t sums[sizeof(struct lb_vip_stats) / 8];

	cr_assert_eq(lb_test_percpu_sum(bpf_map__fd(bed.skel->maps.vip_stats), apply_vip_id(bed.ap, vip),
					sums, sizeof(sums) / 8), 0);
	return sums[0];
}

/* all_down keep: the last backend in the table keeps every new flow, and
 * the flows it had stay on it. */
Test(state_apply, all_down_keep_serves_the_last_healthy_set)
{
	struct lb_flow_key k = flow("198.18.100.1", 40000);
	char dst[64];
	uint16_t p;

	start(HEAD VIP("keep", "198.18.100.1", "keep", BE("198.18.3.1") "," BE("198.18.3.2")) "]}");
	health(0, 1, STATE_HEALTH_DOWN);
	changes();
	cr_assert_eq(seg_send(&k, PKT_TCP_SYN, dst, sizeof(dst)), XDP_TX);
	cr_assert_str_eq(dst, "198.18.3.1");
	health(0, 0, STATE_HEALTH_DOWN);
	cr_assert(bed.model->vips[0].all_down);
	changes();
	for (p = 1000; p < 1100; p++) {
		struct lb_flow_key n = flow("198.18.100.1", p);

		cr_assert_eq(seg_send(&n, PKT_TCP_SYN, dst, sizeof(dst)), XDP_TX, "port %u", p);
		cr_assert_str_eq(dst, "198.18.3.1", "port %u went to %s", p, dst);
	}
	cr_assert_eq(seg_send(&k, PKT_TCP_ACK, dst, sizeof(dst)), XDP_TX);
	cr_assert_str_eq(dst, "198.18.3.1");
	cr_assert_eq(DROPS(LB_DROP_ALL_DOWN) + DROPS(LB_DROP_NO_BACKEND), 0);
}

/* all_down drop: new flows and established ones are dropped under a
 * reason of their own and counted for the VIP; never passed to the host. */
Test(state_apply, all_down_drop_drops_under_its_own_reason)
{
	struct lb_flow_key k = flow("198.18.100.2", 40000), n = flow("198.18.100.2", 40001);
	__u64 before;
	char dst[64];

	start(HEAD VIP("drop", "198.18.100.2", "drop", BE("198.18.3.1") "," BE("198.18.3.2")) "]}");
	cr_assert_eq(seg_send(&k, PKT_TCP_SYN, dst, sizeof(dst)), XDP_TX);
	before = vip_packets(0);
	health(0, 0, STATE_HEALTH_DOWN);
	health(0, 1, STATE_HEALTH_DOWN);
	changes();
	cr_assert_eq(seg_send(&n, PKT_TCP_SYN, dst, sizeof(dst)), XDP_DROP);
	cr_assert_eq(seg_send(&k, PKT_TCP_ACK, dst, sizeof(dst)), XDP_DROP, "an established flow");
	cr_assert_eq(DROPS(LB_DROP_ALL_DOWN), 2);
	cr_assert_eq(DROPS(LB_DROP_NO_BACKEND), 0);
	cr_assert_eq(vip_packets(0), before + 2);
	/* One comes back: traffic flows again, to it alone. */
	health(0, 1, STATE_HEALTH_UP);
	changes();
	cr_assert_eq(seg_send(&n, PKT_TCP_SYN, dst, sizeof(dst)), XDP_TX);
	cr_assert_str_eq(dst, "198.18.3.2");
	cr_assert_eq(seg_send(&k, PKT_TCP_ACK, dst, sizeof(dst)), XDP_TX);
	cr_assert_str_eq(dst, "198.18.3.2");
}

/* Every backend out by the admin is not all_down, whatever the policy:
 * the table is empty and new flows meet no_backend. */
Test(state_apply, admin_removal_empties_the_table)
{
	struct lb_flow_key k = flow("198.18.100.1", 40000);
	struct state_override down = { .has_state = true, .state = CONFIG_BACKEND_DOWN };
	char dst[64];

	start(HEAD VIP("keep", "198.18.100.1", "keep", BE("198.18.3.1") "," BE_DOWN("198.18.3.2"))
	      "]}");
	state_override_set(bed.model, 0, 0, &down, 2000);
	cr_assert(!bed.model->vips[0].all_down);
	changes();
	cr_assert_eq(seg_send(&k, PKT_TCP_SYN, dst, sizeof(dst)), XDP_DROP);
	cr_assert_eq(DROPS(LB_DROP_NO_BACKEND), 1);
	cr_assert_eq(DROPS(LB_DROP_ALL_DOWN), 0);
}

/* 20 VIPs, 16 of them with backend 198.18.3.9: its failure rewrites those
 * 16 tables in one batched update, and nothing of the other 4. */
Test(state_apply, a_shared_backend_going_down_swaps_only_its_vips_in_one_batch)
{
	char *text = malloc(20 * 400), *t = text;
	__u32 other[4], i;
	struct apply_stats st;
	size_t v, j;

	t += sprintf(t, HEAD);
	for (v = 0; v < 20; v++)
		t += sprintf(t, "%s{\"name\": \"v%zu\", \"address\": \"198.18.100.%zu\", \"port\": 80, "
			     "\"protocol\": \"tcp\", \"table_size\": 251, \"health_check\": {}, "
			     "\"backends\": [{\"address\": \"198.18.3.1\"}%s]}", v ? "," : "", v,
			     v + 1, v < 16 ? ", {\"address\": \"198.18.3.9\"}" : "");
	sprintf(t, "]}");
	start(text);
	free(text);
	for (i = 0; i < 4; i++) {
		__u32 vid = apply_vip_id(bed.ap, 16 + i);

		cr_assert_eq(bpf_map_lookup_elem(bed.maps.vip_tables, &vid, &other[i]), 0);
	}
	for (v = 0; v < 16; v++) {
		j = (size_t)state_backend_find(bed.model, v, "198.18.3.9");
		health(v, j, STATE_HEALTH_DOWN);
	}
	st = changes();
	cr_assert_eq(st.tables_swapped, 16);
	cr_assert_eq(st.table_batches, 1);
	cr_assert_eq(st.backends_changed, 0, "going down is not a change of identity");
	for (v = 0; v < 16; v++) {
		struct lb_backend b;
		__u32 id = apply_backend_id(bed.ap, v, 1);

		cr_assert_eq(bpf_map_lookup_elem(bed.maps.backends, &id, &b), 0);
		cr_assert_eq(b.flags, 0, "VIP %zu: the down backend's flows must move", v);
	}
	for (i = 0; i < 4; i++) {
		__u32 vid = apply_vip_id(bed.ap, 16 + i), inner;

		cr_assert_eq(bpf_map_lookup_elem(bed.maps.vip_tables, &vid, &inner), 0);
		cr_assert_eq(inner, other[i], "an unchanged VIP's table was rewritten");
	}
	/* Nothing changed since: nothing is written. */
	st = changes();
	cr_assert_eq(st.tables_swapped + st.table_batches, 0);
}

/* A packet sender running while 8 VIPs get new tables of new sizes in one
 * apply. Each packet must meet its VIP's whole old table or whole new one:
 * a table written in place would show a new size over old slots, or the
 * reverse, and send some flows to a backend that neither table gives. */
#define SWAP_VIPS	8
#define SWAP_FLOWS	2048
#define SWAP_SENDS	400000	/* at most, whatever the timing */
#define SWAP_MARGIN	2000	/* packets before and after the apply */

struct sender {
	struct lb_flow_key keys[SWAP_FLOWS];
	__u8 octet[LB_MAX_BACKENDS];	/* backend id -> N of 198.18.3.N */
	__u8 *got;			/* per packet sent: N, or 0 not sent on */
	volatile int stop;
	volatile unsigned long sent;
};

static struct sender snd;

static char *swap_config(__u32 size, unsigned int weight)
{
	char *text = malloc(SWAP_VIPS * 400), *t = text;
	size_t v;

	t += sprintf(t, HEAD);
	for (v = 0; v < SWAP_VIPS; v++)
		t += sprintf(t, "%s{\"name\": \"v%zu\", \"address\": \"198.18.100.%zu\", "
			     "\"port\": 80, \"protocol\": \"tcp\", \"table_size\": %u, \"backends\": ["
			     "{\"address\": \"198.18.3.1\", \"weight\": %u}, "
			     "{\"address\": \"198.18.3.2\"}, {\"address\": \"198.18.3.3\"}]}",
			     v ? "," : "", v, v + 1, size, weight);
	sprintf(t, "]}");
	return text;
}

static void *sender_run(void *arg)
{
	int prog = bpf_program__fd(bed.skel->progs.lb_xdp);
	uint8_t in[256], out[512], family;
	__be32 dst[4];
	unsigned long i;

	for (i = 0; !snd.stop && i < SWAP_SENDS; i++) {
		size_t len = pkt_tcp(in, sizeof(in), &snd.keys[i % SWAP_FLOWS], PKT_TCP_SYN, 0);
		size_t out_len = sizeof(out);
		__u32 verdict;

		if (!lb_test_run(prog, in, len, out, &out_len, &verdict) && verdict == XDP_TX &&
		    !pkt_outer_dst(out, out_len, &family, dst))
			snd.got[i] = (__u8)(ntohl(dst[0]) & 0xff);
		snd.sent = i + 1;
	}
	return NULL;
}

static void sent_wait(unsigned long n)
{
	int tries;

	for (tries = 0; snd.sent < n && snd.sent < SWAP_SENDS && tries < 10000; tries++)
		usleep(1000);
	cr_assert_geq(snd.sent, n, "the sender stalled at %lu packets", snd.sent);
}

static void tables_of(__u32 **t, __u32 *n)
{
	size_t v;

	for (v = 0; v < SWAP_VIPS; v++)
		cr_assert_eq(datapath_table_read(bed.maps.vip_tables, apply_vip_id(bed.ap, v), &t[v], &n[v]),
			     0);
}

Test(state_apply, a_batched_swap_shows_no_mixed_table)
{
	char *a = swap_config(251, 100), *b = swap_config(509, 300), err[256];
	__u32 *old_t[SWAP_VIPS], old_n[SWAP_VIPS], *new_t[SWAP_VIPS], new_n[SWAP_VIPS];
	unsigned long i, before, after, seen_old = 0, seen_new = 0;
	struct config_errors errs = { 0 };
	struct state_replace_stats rs;
	struct config *cfg = NULL;
	struct apply_stats st;
	struct state *next;
	pthread_t th;
	uint32_t seed = 7;
	size_t v, j;

	start(a);
	for (i = 0; i < SWAP_FLOWS; i++) {
		snd.keys[i] = flow("198.18.100.1", (uint16_t)(1024 + i));
		snd.keys[i].dst[0] = htonl(ntohl(snd.keys[i].dst[0]) + i % SWAP_VIPS);
		snd.keys[i].src[0] = htonl(0xc6120000 | (lb_test_rand(&seed) & 0xffff));
	}
	for (v = 0; v < SWAP_VIPS; v++)
		for (j = 0; j < 3; j++)
			snd.octet[apply_backend_id(bed.ap, v, j)] = (__u8)(j + 1);
	tables_of(old_t, old_n);
	snd.got = calloc(SWAP_SENDS, 1);
	cr_assert_not_null(snd.got);
	cr_assert_eq(pthread_create(&th, NULL, sender_run, NULL), 0);
	sent_wait(SWAP_MARGIN);
	cr_assert_eq(config_parse(b, strlen(b), "b.json", &cfg, &errs), 0);
	next = state_new(cfg, 3000);
	state_carry(next, bed.model, 3000, &rs);
	before = snd.sent;
	cr_assert_eq(apply_state(bed.ap, next, &apply_bed_env, &st, err, sizeof(err)), 0, "%s", err);
	after = snd.sent;
	sent_wait(after + SWAP_MARGIN);
	snd.stop = 1;
	pthread_join(th, NULL);
	state_free(bed.model);
	bed.model = next;
	cr_assert_eq(st.tables_swapped, SWAP_VIPS);
	cr_assert_eq(st.table_batches, 1);
	tables_of(new_t, new_n);
	cr_assert_eq(new_n[0], 509);
	for (i = 0; i < snd.sent; i++) {
		const struct lb_flow_key *k = &snd.keys[i % SWAP_FLOWS];
		__u8 o, n;

		v = i % SWAP_FLOWS % SWAP_VIPS;
		o = snd.octet[datapath_table_lookup(old_t[v], old_n[v], k)];
		n = snd.octet[datapath_table_lookup(new_t[v], new_n[v], k)];
		cr_assert(snd.got[i] == o || snd.got[i] == n,
			  "packet %lu (VIP %zu): backend %u, old table %u, new table %u", i, v,
			  snd.got[i], o, n);
		seen_old += i < before && snd.got[i] == o;
		seen_new += i > after && snd.got[i] == n;
	}
	/* Packet number `after` may have been on its way while the apply
	 * returned: only those after it are sure to see the new tables. */
	cr_assert_eq(seen_old, before, "before the apply, every packet met the old table");
	cr_assert_eq(seen_new, snd.sent - after - 1, "after it, every packet met the new table");
	for (v = 0; v < SWAP_VIPS; v++) {
		free(old_t[v]);
		free(new_t[v]);
	}
	free(snd.got);
	free(a);
	free(b);
}
