// SPDX-License-Identifier: GPL-2.0-only
/*
 * A stand-in controller for the end-to-end data path test: loads lb_xdp,
 * writes the testbed setup (one TCP VIP 198.18.100.1:80 with two IPv4
 * backends 198.18.3.1 and .2, answering pings), attaches to IFACE in
 * native mode and holds the link until SIGTERM or SIGINT, then prints the
 * counters as JSON on stdout. lbd replaces all of this for real use.
 *
 * Usage: lb_testload IFACE MTU
 */
#include <errno.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>

#include <bpf/bpf.h>
#include <jansson.h>
#include <linux/if_link.h>

#include "lb_test.h"
#include "lb_xdp.skel.h"
#include "stats.h"
#include "testbed.h"

static int setup(struct lb_xdp *skel, unsigned int mtu)
{
	struct testbed_vip vip = { .id = 0 };
	struct lb_config cfg;
	__u32 zero = 0;
	int fd = bpf_map__fd(skel->maps.lb_cfg);
	int err;

	err = testbed_config(skel->obj);
	if (!err && !bpf_map_lookup_elem(fd, &zero, &cfg)) {
		cfg.mtu = (__u16)mtu;
		if (bpf_map_update_elem(fd, &zero, &cfg, BPF_ANY))
			err = -errno;
	}
	if (!err)
		err = testbed_vip_add(skel->obj, "198.18.100.1", 80, IPPROTO_TCP, 0);
	if (!err)
		err = testbed_vip_add(skel->obj, "198.18.100.1", 0, IPPROTO_ICMP, 1);
	if (!err)
		err = testbed_backends(skel->obj, &vip, LB_FAMILY_IPV4, 2, 1);
	testbed_vip_free(&vip);
	return err;
}

static void put_counters(json_t *obj, const char *const *names, const __u64 *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		json_object_set_new(obj, names[i], json_integer((json_int_t)v[i]));
}

static int print_stats(struct lb_xdp *skel)
{
	struct lb_global_stats gs;
	struct lb_backend_stats bs;
	json_t *root = json_object(), *be = json_object(), *o;
	__u32 id;

	if (lb_test_percpu_sum(bpf_map__fd(skel->maps.lb_stats), 0, (uint64_t *)&gs,
			       sizeof(gs) / 8))
		return -1;
	o = json_object();
	put_counters(o, stats_verdict_names, gs.verdict, LB_VERDICT_MAX);
	json_object_set_new(root, "verdict", o);
	o = json_object();
	put_counters(o, stats_drop_names, gs.drop, LB_DROP_MAX);
	json_object_set_new(root, "drop", o);
	o = json_object();
	put_counters(o, stats_event_names, gs.event, LB_EV_MAX);
	json_object_set_new(root, "event", o);
	for (id = 1; id <= 2; id++) {
		char key[16];

		if (lb_test_percpu_sum(bpf_map__fd(skel->maps.backend_stats), id,
				       (uint64_t *)&bs, sizeof(bs) / 8))
			return -1;
		snprintf(key, sizeof(key), "%u", id);
		json_object_set_new(be, key, json_integer((json_int_t)bs.packets));
	}
	json_object_set_new(root, "backend_packets", be);
	json_dumpf(root, stdout, JSON_SORT_KEYS);
	putchar('\n');
	json_decref(root);
	return 0;
}

int main(int argc, char **argv)
{
	struct bpf_link *link;
	struct lb_xdp *skel;
	unsigned int ifindex;
	sigset_t set;
	int sig;

	if (argc != 3) {
		fprintf(stderr, "usage: lb_testload IFACE MTU\n");
		return 2;
	}
	ifindex = if_nametoindex(argv[1]);
	if (!ifindex) {
		fprintf(stderr, "lb_testload: no interface %s\n", argv[1]);
		return 1;
	}
	/* Block the signals first: they are taken with sigwait() below. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);

	skel = lb_xdp__open_and_load();
	if (!skel || setup(skel, (unsigned int)atoi(argv[2]))) {
		fprintf(stderr, "lb_testload: cannot load and set up lb_xdp\n");
		return 1;
	}
	link = bpf_program__attach_xdp(skel->progs.lb_xdp, (int)ifindex);
	if (!link) {
		fprintf(stderr, "lb_testload: cannot attach to %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	fprintf(stderr, "lb_testload: attached to %s\n", argv[1]);
	sigwait(&set, &sig);
	print_stats(skel);
	bpf_link__destroy(link);
	lb_xdp__destroy(skel);
	return 0;
}
