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
#include "flows.h"
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

Test(flows, a_flow_seen_a_second_ago_is_a_second_old)
{
	struct lb_flow_key old, fresh;
	__u32 backend;
	__u32 *counts = calloc(LB_MAX_BACKENDS, sizeof(*counts));
	__u32 id;
	__u64 age;
	unsigned int hz;

	start();
	id = apply_backend_id(bed.ap, 0, 0);
	cr_assert_eq(flows_hz(fl, &hz), 0);
	old = syn(40000);
	usleep(1000000);
	fresh = syn(40001);
	cr_assert_eq(flows_lookup(fl, &old, &backend, &age), 0);
	cr_assert_eq(backend, id);
	/* A tick either side, and scheduling slack. */
	cr_assert(age >= 990 && age <= 1100, "a flow seen 1 s ago is %llu ms old (HZ %u)",
		  (unsigned long long)age, hz);
	cr_assert_eq(flows_lookup(fl, &fresh, &backend, &age), 0);
	cr_assert_leq(age, 100);
	cr_assert_eq(flows_count(fl, 500, counts), 0);
	cr_assert_eq(counts[id], 1, "only the fresh flow was seen in the last 0.5 s");
	cr_assert_eq(flows_count(fl, 5000, counts), 0);
	cr_assert_eq(counts[id], 2);
	old.sport = htons(1);
	cr_assert_eq(flows_lookup(fl, &old, &backend, &age), -ENOENT);
	free(counts);
}
