// SPDX-License-Identifier: GPL-2.0-only
/*
 * Flow ages from the flow table's jiffies: a flow seen a second ago is a
 * second old (so HZ was measured right), and counts per backend honour the
 * idle time.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>

#include <bpf/bpf.h>
#include <criterion/criterion.h>

#include "apply_bed.h"
#include "config.h"
#include "clock.h"
#include "flows.h"
#include "flowtab.h"
#include "lb_test.h"
#include "pkt.h"

static struct apply_bed bed;
static struct flows *fl;

static void setup(void)
{
	apply_bed_open(&bed);
	fl = flows_new(bed.maps.flow_table);
	cr_assert_not_null(fl);
}

static void teardown(void)
{
	flows_free(fl);
	apply_bed_close(&bed);
}

TestSuite(flows, .init = setup, .fini = teardown);

#define CFG \
	"{\"interface\": \"eth0\", \"tunnel_source\": {\"ipv4\": \"198.18.2.2\"}, \"vips\": [" \
	"{\"name\": \"web\", \"address\": \"198.18.100.1\", \"port\": 80, \"protocol\": \"tcp\", " \
	"\"table_size\": 251, \"backends\": [{\"address\": \"198.18.3.1\"}]}]}"

static struct lb_flow_key syn(uint16_t sport)
{
	struct lb_flow_key k = { .proto = IPPROTO_TCP, .sport = htons(sport), .dport = htons(80) };
	uint8_t in[256], out[512];
	size_t len, out_len = sizeof(out);
	uint32_t verdict;

	k.family = pkt_addr("198.18.100.1", k.dst);
	pkt_addr("198.18.0.1", k.src);
	len = pkt_tcp(in, sizeof(in), &k, PKT_TCP_SYN, 0);
	cr_assert_eq(lb_test_run(bpf_program__fd(bed.skel->progs.lb_xdp), in, len, out, &out_len,
				 &verdict), 0);
	cr_assert_eq(verdict, XDP_TX);
	return k;
}

static void start(void)
{
	struct config_errors errs = { 0 };
	struct config *cfg = NULL;
	struct apply_stats st;
	char err[256];

	cr_assert_eq(config_parse(CFG, strlen(CFG), "t.json", &cfg, &errs), 0);
	bed.model = state_new(cfg, 1000);
	cr_assert_eq(apply_state(bed.ap, bed.model, &apply_bed_env, &st, err, sizeof(err)), 0);
}

static __u64 mono_ms(void)
{
	return clock_mono_us() / 1000;
}

/* Bounds from the clock around each step, not fixed ones: a loaded
 * machine may oversleep. A jiffy of rounding either side. */
Test(flows, a_flow_seen_a_second_ago_is_a_second_old)
{
	struct lb_flow_key old, fresh;
	__u32 backend;
	__u32 *counts = calloc(LB_MAX_BACKENDS, sizeof(*counts));
	__u64 age_old, age_fresh, t0, t1, t2, t3;
	unsigned int hz, tick;
	__u32 id;

	start();
	id = apply_backend_id(bed.ap, 0, 0);
	cr_assert_eq(flows_hz(fl, &hz), 0);
	tick = 1000 / hz + 1;
	t0 = mono_ms();
	old = syn(40000);
	t1 = mono_ms();
	usleep(1000000);
	t2 = mono_ms();
	fresh = syn(40001);
	cr_assert_eq(flows_lookup(fl, &old, &backend, &age_old), 0);
	cr_assert_eq(backend, id);
	cr_assert_eq(flows_lookup(fl, &fresh, &backend, &age_fresh), 0);
	t3 = mono_ms();
	cr_assert(age_old + tick >= t2 - t1 && age_old <= t3 - t0 + tick,
		  "a flow seen %llu..%llu ms ago is %llu ms old (HZ %u)",
		  (unsigned long long)(t2 - t1), (unsigned long long)(t3 - t0),
		  (unsigned long long)age_old, hz);
	cr_assert_leq(age_fresh, t3 - t2 + tick);
	/* A window that ends between the two. */
	cr_assert_eq(flows_count(fl, (__u32)((age_old + age_fresh) / 2), counts), 0);
	cr_assert_eq(counts[id], 1, "only the fresh flow was seen in the window");
	cr_assert_eq(flows_count(fl, 60000, counts), 0);
	cr_assert_eq(counts[id], 2);
	old.sport = htons(1);
	cr_assert_eq(flows_lookup(fl, &old, &backend, &age_old), -ENOENT);
	free(counts);
}

/* Entries stay until a new flow takes their way: one idle for longer than
 * 2^31 ticks (24 days at HZ 1000) is old, not ahead of now. */
Test(flows, a_flow_idle_for_weeks_is_not_active)
{
	__u32 *counts = calloc(LB_MAX_BACKENDS, sizeof(*counts));
	struct lb_flow_slot e;
	struct lb_flow_key k;
	struct flowtab t;
	__u32 backend, id, ago = 0x90000000u;
	__u64 age;
	unsigned int hz;

	start();
	id = apply_backend_id(bed.ap, 0, 0);
	cr_assert_eq(flows_hz(fl, &hz), 0);
	k = syn(40002);
	cr_assert_eq(flowtab_lookup(bed.maps.flow_table, &k, &e), 0);
	cr_assert_eq(flowtab_open(bed.maps.flow_table, 1, &t), 0);
	cr_assert_eq(flowtab_put(&t, &k, id, e.seen - ago, e.block_gen, 0), 1);
	flowtab_close(&t);
	cr_assert_eq(flows_count(fl, 60000, counts), 0);
	cr_assert_eq(counts[id], 0, "a flow idle for %u ticks counted active", ago);
	cr_assert_eq(flows_lookup(fl, &k, &backend, &age), 0);
	cr_assert_geq(age, (__u64)ago * 1000 / hz, "age %llu ms", (unsigned long long)age);
	free(counts);
}
