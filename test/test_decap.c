// SPDX-License-Identifier: GPL-2.0-only
/*
 * kern/lb_decap.bpf.c through BPF_PROG_TEST_RUN. The cases are rows of the
 * JSON file test/gen_decap_fixtures.py writes; its path comes from
 * LB_DECAP_FIXTURES. Each row runs in its own network namespace with a
 * fresh skeleton, and the verdict, the output frame and every counter are
 * asserted.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <jansson.h>

#include "lb_abi.h"
#include "lb_test.h"
#include "lb_decap.skel.h"

#define DECAP_FIXTURES_ENV	"LB_DECAP_FIXTURES"
#define DECAP_FRAME_MAX		2048

/* Counter names in the fixture file, by enum lb_decap_counter. */
static const char *const decap_counter_names[LB_DECAP_MAX] = {
	[LB_DECAP_IPIP] = "ipip",
	[LB_DECAP_IP6IP] = "ip6ip",
	[LB_DECAP_IPIP6] = "ipip6",
	[LB_DECAP_IP6IP6] = "ip6ip6",
	[LB_DECAP_NOT_LOCAL] = "not_local",
	[LB_DECAP_MALFORMED] = "malformed",
	[LB_DECAP_PASS] = "pass",
	[LB_DECAP_ECN_DROP] = "ecn_drop",
};

/*
 * The namespace each case runs in, set up like a backend: the addresses
 * the tunnels are sent to on lo (LOCAL4 and LOCAL6 in the generator), and
 * an uplink with default routes, through which REMOTE4 and REMOTE6 are
 * routed. The uplink is a veth pair whose peer stays in the namespace.
 * Without a ctx, BPF_PROG_TEST_RUN gives the program lo as its ingress
 * device, so lo is where forwarding matters.
 */
static const char decap_netns_setup[] =
	"ip link set lo up"
	" && ip addr add 198.18.3.11/32 dev lo"
	" && ip -6 addr add fd00:3::11/128 dev lo nodad"
	" && ip link add dcp0 type veth peer name dcp1"
	" && ip link set dcp0 up"
	" && ip link set dcp1 up"
	" && ip addr add 198.18.4.1/24 dev dcp0"
	" && ip -6 addr add fd00:4::1/64 dev dcp0 nodad"
	" && ip route add default via 198.18.4.254"
	" && ip -6 route add default via fd00:4::fe";

/* Where writing "all" lands and where lb_decap's FIB lookup looks. */
static const char *const decap_fwd_all[] = {
	"/proc/sys/net/ipv4/conf/all/forwarding",
	"/proc/sys/net/ipv6/conf/all/forwarding",
};
static const char *const decap_fwd_lo[] = {
	"/proc/sys/net/ipv4/conf/lo/forwarding",
	"/proc/sys/net/ipv6/conf/lo/forwarding",
};

struct decap_param {
	int index;		/* row in the fixture file; -1: no usable file */
	int forwarding;		/* 0 or 1; -1: the row's value is not understood */
};

static void decap_sysctl_write(const char *path, int value)
{
	FILE *f = fopen(path, "w");

	if (!f)
		cr_assert_fail("cannot open %s: %s", path, strerror(errno));
	fprintf(f, "%d\n", value);
	if (fclose(f))
		cr_assert_fail("cannot write %s: %s", path, strerror(errno));
}

static int decap_sysctl_read(const char *path)
{
	FILE *f = fopen(path, "r");
	int value = -1;

	if (!f)
		cr_assert_fail("cannot open %s: %s", path, strerror(errno));
	if (fscanf(f, "%d", &value) != 1)
		value = -1;
	fclose(f);
	return value;
}

/*
 * Moves this test's process into a new, anonymous network namespace (it
 * goes away with the process; the root namespace is never touched) and
 * sets it up.
 */
static void decap_netns_enter(int forwarding)
{
	size_t i;

	if (unshare(CLONE_NEWNET))
		cr_assert_fail("unshare(CLONE_NEWNET): %s", strerror(errno));
	if (system(decap_netns_setup) != 0)
		cr_assert_fail("cannot set up the test namespace: %s", decap_netns_setup);
	for (i = 0; i < sizeof(decap_fwd_all) / sizeof(decap_fwd_all[0]); i++) {
		decap_sysctl_write(decap_fwd_all[i], forwarding);
		cr_assert_eq(decap_sysctl_read(decap_fwd_lo[i]), forwarding,
			     "%s did not follow %s", decap_fwd_lo[i], decap_fwd_all[i]);
	}
}

/* The forwarding settings a row runs under: its count, and modes[] filled. */
static int decap_forwarding_modes(const json_t *row, int modes[2])
{
	const char *forwarding = json_string_value(json_object_get(row, "forwarding"));

	if (!forwarding)
		forwarding = "";
	if (strcmp(forwarding, "any") == 0) {
		modes[0] = 0;
		modes[1] = 1;
		return 2;
	}
	if (strcmp(forwarding, "off") == 0) {
		modes[0] = 0;
		return 1;
	}
	if (strcmp(forwarding, "on") == 0) {
		modes[0] = 1;
		return 1;
	}
	modes[0] = -1;
	return 1;
}

static void decap_params_free(struct criterion_test_params *crp)
{
	cr_free(crp->params);
}

/*
 * Runs in the Criterion runner, before the tests fork, so it only counts
 * rows; each test reads its row again. Without a usable file it returns
 * one row with index -1, which fails and says why.
 */
ParameterizedTestParameters(decap, fixture)
{
	const char *path = getenv(DECAP_FIXTURES_ENV);
	struct decap_param *params;
	json_t *root = NULL, *cases, *c;
	size_t i, n = 0, count = 0;
	int modes[2], m, k;

	if (path)
		root = lb_test_load_json(path);
	cases = json_object_get(root, "cases");
	json_array_foreach(cases, i, c)
		count += decap_forwarding_modes(c, modes);
	if (!count) {
		params = cr_calloc(1, sizeof(*params));
		params[0].index = -1;
		json_decref(root);
		return cr_make_param_array(struct decap_param, params, 1, decap_params_free);
	}

	params = cr_calloc(count, sizeof(*params));
	json_array_foreach(cases, i, c) {
		m = decap_forwarding_modes(c, modes);
		for (k = 0; k < m; k++) {
			params[n].index = (int)i;
			params[n].forwarding = modes[k];
			n++;
		}
	}
	json_decref(root);
	return cr_make_param_array(struct decap_param, params, n, decap_params_free);
}

ParameterizedTest(struct decap_param *p, decap, fixture)
{
	const char *path = getenv(DECAP_FIXTURES_ENV);
	const char *name, *desc, *fwd, *in_hex, *out_hex;
	uint8_t in[DECAP_FRAME_MAX], want[DECAP_FRAME_MAX], got[DECAP_FRAME_MAX];
	uint64_t counts[LB_DECAP_MAX];
	size_t got_len = sizeof(got);
	long in_len, want_len;
	json_t *root, *c, *counters, *v;
	struct lb_decap *skel;
	json_error_t jerr;
	uint32_t verdict;
	int want_verdict, err, i;
	char *hex;

	lb_test_require_bpf();
	if (!path)
		cr_assert_fail(DECAP_FIXTURES_ENV " is not set: write the cases with "
			 "`/usr/bin/python3 test/gen_decap_fixtures.py OUT.json` and "
			 "set " DECAP_FIXTURES_ENV "=OUT.json");
	if (p->index < 0)
		cr_assert_fail("%s (" DECAP_FIXTURES_ENV "): cannot be read or holds no cases",
			 path);

	root = lb_test_load_json(path);
	cr_assert_not_null(root, "cannot read %s", path);
	c = json_array_get(json_object_get(root, "cases"), (size_t)p->index);
	if (json_unpack_ex(c, &jerr, JSON_STRICT, "{s:s, s:s, s:s, s:s, s:i, s:s, s:o}",
			   "name", &name, "description", &desc, "forwarding", &fwd,
			   "in", &in_hex, "verdict", &want_verdict, "out", &out_hex,
			   "counters", &counters))
		cr_assert_fail("%s: case %d: %s", path, p->index, jerr.text);
	cr_assert_neq(p->forwarding, -1, "%s: forwarding \"%s\" is not any, on or off",
		      name, fwd);
	cr_log_info("%s (forwarding %s): %s", name, p->forwarding ? "on" : "off", desc);

	in_len = lb_test_unhex(in_hex, in, sizeof(in));
	want_len = lb_test_unhex(out_hex, want, sizeof(want));
	cr_assert(in_len > 0 && want_len >= 0, "%s: bad hex in the fixture", name);
	cr_assert_eq(json_object_size(counters), LB_DECAP_MAX,
		     "%s: the fixture must give all %d counters", name, LB_DECAP_MAX);

	decap_netns_enter(p->forwarding);

	skel = lb_decap__open_and_load();
	cr_assert_not_null(skel, "cannot load lb_decap: %s", strerror(errno));

	err = lb_test_run(bpf_program__fd(skel->progs.lb_decap), in, (size_t)in_len,
			  got, &got_len, &verdict);
	cr_assert_eq(err, 0, "%s: BPF_PROG_TEST_RUN: %s", name, strerror(-err));

	cr_expect_eq(verdict, (uint32_t)want_verdict, "%s (forwarding %s): verdict %u, want %d",
		     name, p->forwarding ? "on" : "off", verdict, want_verdict);
	if (got_len != (size_t)want_len || memcmp(got, want, got_len) != 0) {
		hex = strdup(lb_test_hex(got, got_len));
		cr_expect_fail("%s (forwarding %s): output frame differs\n got %s\nwant %s",
			       name, p->forwarding ? "on" : "off", hex ?: "?",
			       lb_test_hex(want, (size_t)want_len));
		free(hex);
	}

	err = lb_test_percpu_sum(bpf_map__fd(skel->maps.decap_stats), 0, counts,
				 LB_DECAP_MAX);
	cr_assert_eq(err, 0, "%s: reading decap_stats: %s", name, strerror(-err));
	for (i = 0; i < LB_DECAP_MAX; i++) {
		v = json_object_get(counters, decap_counter_names[i]);
		cr_assert(json_is_integer(v), "%s: counter %s missing from the fixture",
			  name, decap_counter_names[i]);
		cr_expect_eq(counts[i], (uint64_t)json_integer_value(v),
			     "%s (forwarding %s): counter %s is %llu, want %lld", name,
			     p->forwarding ? "on" : "off", decap_counter_names[i],
			     (unsigned long long)counts[i], (long long)json_integer_value(v));
	}

	lb_decap__destroy(skel);
	json_decref(root);
}

/* What `bpftool map dump name decap_stats` readers rely on. */
Test(decap, map_layout)
{
	struct lb_decap *skel;

	lb_test_require_bpf();
	skel = lb_decap__open_and_load();
	cr_assert_not_null(skel, "cannot load lb_decap: %s", strerror(errno));
	cr_expect_eq(bpf_map__type(skel->maps.decap_stats), BPF_MAP_TYPE_PERCPU_ARRAY);
	cr_expect_eq(bpf_map__max_entries(skel->maps.decap_stats), 1);
	cr_expect_eq(bpf_map__key_size(skel->maps.decap_stats), sizeof(__u32));
	cr_expect_eq(bpf_map__value_size(skel->maps.decap_stats),
		     sizeof(struct lb_decap_stats));
	cr_expect_str_eq(bpf_program__section_name(skel->progs.lb_decap), "xdp");
	lb_decap__destroy(skel);
}
