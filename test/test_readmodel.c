// SPDX-License-Identifier: GPL-2.0-only
/*
 * The read model: what the data path counted, summed over CPUs and named
 * from the state model, through the real balancer; and still there for a
 * controller that starts again on the same maps.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>

#include <bpf/bpf.h>
#include <criterion/criterion.h>

#include "apply_bed.h"
#include "config.h"
#include "lb_test.h"
#include "pkt.h"
#include "readmodel.h"
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

TestSuite(readmodel, .init = setup, .fini = teardown);

#define CFG \
	"{\"interface\": \"eth0\", \"tunnel_source\": {\"ipv4\": \"198.18.2.2\"}, \"vips\": [" \
	"{\"name\": \"web\", \"address\": \"198.18.100.1\", \"port\": 80, \"protocol\": \"tcp\", " \
	"\"table_size\": 251, \"health_check\": {}, \"backends\": [{\"address\": \"198.18.3.1\"}, " \
	"{\"address\": \"198.18.3.2\", \"weight\": 300}]}, " \
	"{\"name\": \"empty\", \"address\": \"198.18.100.2\", \"port\": 80, \"protocol\": \"tcp\", " \
	"\"backends\": [{\"address\": \"198.18.3.1\", \"state\": \"drain\"}]}]}"

static void start(struct apply *ap)
{
	struct config_errors errs = { 0 };
	struct config *cfg = NULL;
	struct apply_stats st;
	char err[256];

	cr_assert_eq(config_parse(CFG, strlen(CFG), "t.json", &cfg, &errs), 0);
	state_free(bed.model);
	bed.model = state_new(cfg, 1000);
	cr_assert_eq(apply_state(ap, bed.model, &apply_bed_env, &st, err, sizeof(err)), 0, "%s", err);
}

/* n SYNs from n source ports to addr:80; how many were sent on. */
static unsigned int syns(const char *addr, unsigned int n)
{
	struct lb_flow_key k = { .proto = IPPROTO_TCP, .dport = htons(80) };
	uint8_t in[256], out[512];
	unsigned int i, tx = 0;
	uint32_t verdict;

	k.family = pkt_addr(addr, k.dst);
	pkt_addr("198.18.0.1", k.src);
	for (i = 0; i < n; i++) {
		size_t len, out_len = sizeof(out);

		k.sport = htons((uint16_t)(20000 + i));
		len = pkt_tcp(in, sizeof(in), &k, PKT_TCP_SYN, 0);
		cr_assert_eq(lb_test_run(bpf_program__fd(bed.skel->progs.lb_xdp), in, len, out,
					 &out_len, &verdict), 0);
		tx += verdict == XDP_TX;
	}
	return tx;
}

static json_t *get(json_t *o, const char *path)
{
	char buf[128], *key, *save = NULL;

	snprintf(buf, sizeof(buf), "%s", path);
	for (key = strtok_r(buf, ".", &save); o && key; key = strtok_r(NULL, ".", &save))
		o = json_is_array(o) ? json_array_get(o, (size_t)atoi(key)) : json_object_get(o, key);
	cr_assert_not_null(o, "no %s", path);
	return o;
}

static long long num(json_t *o, const char *path)
{
	return json_integer_value(get(o, path));
}

Test(readmodel, counters_by_name)
{
	struct readmodel rm;
	json_t *web, *empty, *g;

	start(bed.ap);
	cr_assert_eq(syns("198.18.100.1", 200), 200);
	cr_assert_eq(syns("198.18.100.2", 7), 0);
	cr_assert_eq(readmodel_read(&rm, &bed.maps, bed.ap, bed.model, 5000), 0);
	web = readmodel_vip_json(&rm, bed.model, 0, true);
	empty = readmodel_vip_json(&rm, bed.model, 1, true);
	g = readmodel_global_json(&rm);
	cr_assert_str_eq(json_string_value(get(web, "name")), "web");
	cr_assert_str_eq(json_string_value(get(web, "vip")), "198.18.100.1:80/tcp");
	cr_assert_eq(num(web, "packets"), 200);
	cr_assert_eq(num(web, "new_flows"), 200);
	cr_assert_eq(num(web, "backends_in"), 2);
	cr_assert_eq(num(web, "backends.0.packets") + num(web, "backends.1.packets"), 200);
	/* Weight 300 against 100: about three quarters of the flows. */
	cr_assert_gt(num(web, "backends.1.packets"), 120);
	cr_assert_str_eq(json_string_value(get(web, "backends.1.address")), "198.18.3.2");
	cr_assert_eq(num(web, "backends.1.weight"), 300);
	cr_assert_str_eq(json_string_value(get(web, "backends.0.effective")), "in");
	cr_assert_str_eq(json_string_value(get(web, "backends.0.health.state")), "unknown");
	cr_assert(json_is_null(get(web, "backends.0.override")));
	cr_assert_eq(num(empty, "packets"), 7);
	cr_assert_str_eq(json_string_value(get(empty, "backends.0.effective")), "draining");
	cr_assert_eq(num(g, "drops.no_backend"), 7);
	cr_assert_eq(num(g, "verdicts.tx"), 200);
	cr_assert_eq(num(g, "drops.all_down"), 0);
	json_decref(web);
	json_decref(empty);
	json_decref(g);
	readmodel_free(&rm);
}

/* A controller that starts again reads what the maps counted before. */
Test(readmodel, counters_outlive_the_controller)
{
	struct apply *again;
	struct readmodel rm;
	json_t *web;

	start(bed.ap);
	cr_assert_eq(syns("198.18.100.1", 50), 50);
	again = apply_new(&bed.maps);
	cr_assert_not_null(again);
	start(again);
	cr_assert_eq(readmodel_read(&rm, &bed.maps, again, bed.model, 5000), 0);
	web = readmodel_vip_json(&rm, bed.model, 0, false);
	cr_assert_eq(num(web, "packets"), 50);
	cr_assert_null(json_object_get(web, "backends"));
	json_decref(web);
	readmodel_free(&rm);
	apply_free(again);
}

/* Without the ids of a full apply of the running config, a VIP's and a
 * backend's counters are null, not zero, which a reader would take for a
 * reset; the global counters need no ids. */
Test(readmodel, counters_without_ids_are_null)
{
	struct readmodel rm;
	json_t *web, *g;

	start(bed.ap);
	cr_assert_eq(syns("198.18.100.1", 20), 20);
	apply_forget(bed.ap);
	cr_assert_eq(readmodel_read(&rm, &bed.maps, bed.ap, bed.model, 5000), 0);
	web = readmodel_vip_json(&rm, bed.model, 0, true);
	g = readmodel_global_json(&rm);
	cr_assert(json_is_null(get(web, "packets")));
	cr_assert(json_is_null(get(web, "new_flows")));
	cr_assert(json_is_null(get(web, "backends.0.bytes")));
	cr_assert_eq(num(g, "verdicts.tx"), 20);
	json_decref(web);
	json_decref(g);
	readmodel_free(&rm);
}
