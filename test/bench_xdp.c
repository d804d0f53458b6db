// SPDX-License-Identifier: GPL-2.0-only
/*
 * ns/packet of the balancer through BPF_PROG_TEST_RUN, net of an empty
 * XDP_PASS program measured the same way in the same run.
 *
 * Each call uses repeat = 1 on a fresh copy of the input frame: with
 * repeat > 1 the kernel would run the program again on the frame it has
 * already encapsulated. Both programs are only loaded, not attached, so
 * both are reached by the same indirect call.
 *
 * Usage: bench_xdp [--calls N] [--rounds N]   (root; pins itself to CPU 0)
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>

#include <bpf/bpf.h>

#include "lb_pass.skel.h"
#include "lb_xdp.skel.h"
#include "bench.h"
#include "blocklist.h"
#include "pkt.h"

static long calls = 1000000;	/* per row, over all rounds */
static int rounds = 100;

/* Send every frame once, so the flows exist before the timed rounds. */
static void warm(int prog_fd, struct bench_frames *f)
{
	bench_time(prog_fd, f, (long)f->n);
}

/* flow_entries: 0 for the default flow table. */
static struct lb_xdp *balancer(size_t nbackends, __u32 flow_entries)
{
	struct lb_xdp *skel = lb_xdp__open();

	if (skel && flow_entries && bench_flow_table_size(skel->obj, flow_entries)) {
		lb_xdp__destroy(skel);
		skel = NULL;
	}
	if (skel && lb_xdp__load(skel)) {
		lb_xdp__destroy(skel);
		skel = NULL;
	}
	if (!skel) {
		fprintf(stderr, "bench_xdp: cannot load lb_xdp: %s\n", strerror(errno));
		exit(EXIT_FAILURE);
	}
	bench_balancer(skel->obj, nbackends);
	return skel;
}

/* One row of the table: a program and the frames it is timed on. */
struct row {
	const char *name;
	int prog_fd;
	int forget_fd;		/* not 0: a flow table to take the round's flows out of */
	struct bench_xdp_lists *lists;	/* not NULL: the block-list counts to set first */
	struct bench_frames frames;
	double *ns;		/* one per round */
};

/*
 * The rule counts lb_config gives the data path, set before a row's slice
 * (untimed): the same object, its tries loaded, timed with its lists on
 * and, in the next row, off, so that nothing but the lists differs. The
 * generation is left alone, so on and off both find the flow checked.
 */
struct bench_xdp_lists {
	int cfg_fd;
	__u32 deny4, deny6, allow;
};

static void lists_set(const struct bench_xdp_lists *l)
{
	struct lb_config cfg;
	__u32 zero = 0;

	if (bpf_map_lookup_elem(l->cfg_fd, &zero, &cfg)) {
		perror("bench_xdp: cannot read lb_cfg");
		exit(EXIT_FAILURE);
	}
	cfg.deny4_rules = l->deny4;
	cfg.deny6_rules = l->deny6;
	cfg.allow_rules = l->allow;
	if (bpf_map_update_elem(l->cfg_fd, &zero, &cfg, BPF_ANY)) {
		perror("bench_xdp: cannot write lb_cfg");
		exit(EXIT_FAILURE);
	}
}

enum {
	ROW_BASE, ROW_EST, ROW_1024, ROW_EST_1000, ROW_V6, ROW_EST_DENY, ROW_EST_DENY_OFF,
	ROW_EST_ALLOW, ROW_EST_ALLOW_OFF,
	ROW_SYN_DENIED, ROW_SYN_KNOWN, ROW_SYN_KNOWN_DENY, ROW_SYN_INSERT, ROW_SYN_NEW, ROW_SYN_NEW_1000, ROW_SYN_BIG,
	ROW_SYN_BIG_GUARD, ROW_PASS, ROWS
};

#define BLOCK_PREFIXES	10000

/* An established-flow row: the flows are created with SYNs first. */
static struct row established(const char *name, int prog_fd, const char *vip, size_t nflows)
{
	struct bench_frames syn = bench_tcp_frames(vip, 80, nflows, PKT_TCP_SYN);
	struct row r = {
		.name = name,
		.prog_fd = prog_fd,
		.frames = bench_tcp_frames(vip, 80, nflows, PKT_TCP_ACK),
	};

	warm(prog_fd, &syn);
	bench_frames_free(&syn);
	return r;
}

/* A new-flow row on a balancer whose flow table is smaller than nflows:
 * one pass over other flows first fills it, so every timed SYN is a flow
 * the table does not hold, and evicts. */
static struct row syn_new(const char *name, struct lb_xdp *skel, size_t nflows)
{
	struct bench_frames fill = bench_tcp_frames_from("198.18.100.1", 80, nflows, nflows,
							 PKT_TCP_SYN);
	struct row r = {
		.name = name,
		.prog_fd = bpf_program__fd(skel->progs.lb_xdp),
		.frames = bench_tcp_frames("198.18.100.1", 80, nflows, PKT_TCP_SYN),
	};

	warm(r.prog_fd, &fill);
	bench_frames_free(&fill);
	return r;
}

/*
 * Rows are timed in many short rounds, each round running every row once,
 * and each row reports its median over the rounds. The machine's speed
 * drifts by tens of percent over seconds here (other guests on the host):
 * short rounds spread a slow spell over every row alike, so the ratio to
 * the baseline stays put while the nanoseconds move.
 */
static void run_rows(void)
{
	struct lb_pass *pass = lb_pass__open_and_load();
	struct lb_xdp *lb16 = balancer(16, 0), *lb1000 = balancer(1000, 0);
	struct lb_xdp *room16 = balancer(16, 0), *small16 = balancer(16, BENCH_SMALL_FLOW_TABLE);
	struct lb_xdp *big16 = balancer(16, 0), *guard16 = balancer(16, 0);
	struct lb_xdp *small1000 = balancer(1000, BENCH_SMALL_FLOW_TABLE);
	struct lb_xdp *deny16 = balancer(16, 0), *allow16 = balancer(16, 0);
	int fd16 = bpf_program__fd(lb16->progs.lb_xdp);
	int fd1000 = bpf_program__fd(lb1000->progs.lb_xdp);
	struct bench_xdp_lists deny_on, deny_off, allow_on, allow_off;
	struct row rows[ROWS];
	double base;
	int i, r;

	if (!pass) {
		fprintf(stderr, "bench_xdp: cannot load lb_pass\n");
		exit(EXIT_FAILURE);
	}
	rows[ROW_BASE] = (struct row){ .name = "empty XDP_PASS program (baseline)",
				       .prog_fd = bpf_program__fd(pass->progs.lb_pass),
				       .frames = bench_tcp_frames("198.18.100.1", 80, 1, PKT_TCP_ACK) };
	rows[ROW_EST] = established("established flow (IPv4, 16 backends)", fd16, "198.18.100.1", 1);
	rows[ROW_1024] = established("1024 established flows cycled", fd16, "198.18.100.1", 1024);
	rows[ROW_EST_1000] = established("established flow, 1000 backends", fd1000, "198.18.100.1", 1);
	rows[ROW_V6] = established("established flow, IPv6 VIP (6-in-6)", fd16, "fd00:100::1", 1);
	/* The block lists loaded: 10,000 IPv4 prefixes in the deny list
	 * (and the IPv6 clients' prefix), or in the VIP's allow list (and
	 * the IPv4 clients' prefix), the client's packets let through. */
	bench_block_rules(deny16->obj, BLOCKLIST_DENY, BLOCK_PREFIXES, "fd00:1::/64");
	bench_block_rules(allow16->obj, 0, BLOCK_PREFIXES, "198.18.0.0/15");
	deny_on = (struct bench_xdp_lists){ bpf_map__fd(deny16->maps.lb_cfg), BLOCK_PREFIXES, 1, 0 };
	deny_off = (struct bench_xdp_lists){ deny_on.cfg_fd, 0, 0, 0 };
	allow_on = (struct bench_xdp_lists){ bpf_map__fd(allow16->maps.lb_cfg), 0, 0,
					     BLOCK_PREFIXES + 1 };
	allow_off = (struct bench_xdp_lists){ allow_on.cfg_fd, 0, 0, 0 };
	rows[ROW_EST_DENY] = established("established flow, 10,000 deny prefixes",
					 bpf_program__fd(deny16->progs.lb_xdp), "198.18.100.1", 1);
	rows[ROW_EST_DENY].lists = &deny_on;
	rows[ROW_EST_DENY_OFF] = established("  the same object, lists counted empty",
					     bpf_program__fd(deny16->progs.lb_xdp), "198.18.100.1",
					     1);
	rows[ROW_EST_DENY_OFF].lists = &deny_off;
	rows[ROW_EST_ALLOW] = established("established flow, allow list of 10,000",
					  bpf_program__fd(allow16->progs.lb_xdp), "198.18.100.1",
					  1);
	rows[ROW_EST_ALLOW].lists = &allow_on;
	rows[ROW_EST_ALLOW_OFF] = established("  the same object, lists counted empty",
					      bpf_program__fd(allow16->progs.lb_xdp),
					      "198.18.100.1", 1);
	rows[ROW_EST_ALLOW_OFF].lists = &allow_off;
	/* A flood from denied sources: IPv6 SYNs from fd00:1::/64. */
	rows[ROW_SYN_DENIED] = (struct row){ .name = "SYN from a denied source, dropped",
					     .prog_fd = bpf_program__fd(deny16->progs.lb_xdp),
					     .lists = &deny_on,
					     .frames = bench_tcp_frames("fd00:100::1", 80,
								  BENCH_FLOWS_CYCLED,
								  PKT_TCP_SYN) };
	/* A SYN of a flow the table holds (a retransmission): table pick,
	 * entry rewritten in place. New flows: SYNs of BENCH_FLOWS_CYCLED
	 * flows over a flow table too small for them, each one inserted and
	 * evicting another, with the cache misses of flows spread over the
	 * Maglev table and the flow table. */
	rows[ROW_SYN_KNOWN] = (struct row){ .name = "SYN, flow in the table (16)",
					    .prog_fd = fd16,
					    .frames = bench_tcp_frames("198.18.100.1", 80, 1,
								 PKT_TCP_SYN) };
	rows[ROW_SYN_KNOWN_DENY] = (struct row){ .name = "SYN, flow in the table, 10,000 deny",
						 .prog_fd = bpf_program__fd(deny16->progs.lb_xdp),
						 .lists = &deny_on,
						 .frames = bench_tcp_frames("198.18.100.1", 80, 1,
									  PKT_TCP_SYN) };
	/* New flows into a table with room: the round's flows are deleted
	 * before it (untimed), so every SYN inserts and none evicts. */
	rows[ROW_SYN_INSERT] = (struct row){ .name = "SYN, new flow, table with room (16)",
					     .prog_fd = bpf_program__fd(room16->progs.lb_xdp),
					     .forget_fd = bpf_map__fd(room16->maps.flow_table),
					     .frames = bench_tcp_frames("198.18.100.1", 80,
								  BENCH_FLOWS_CYCLED,
								  PKT_TCP_SYN) };
	rows[ROW_SYN_NEW] = syn_new("SYN, new flow, table full (16)", small16, BENCH_FLOWS_CYCLED);
	rows[ROW_SYN_NEW_1000] = syn_new("SYN, new flow, table full (1000)", small1000,
					 BENCH_FLOWS_CYCLED);
	rows[ROW_SYN_BIG] = syn_new("SYN, new flow, 1M table full (16)", big16, BENCH_FLOWS_BIG);
	/* The same with the flood guard at a cap of 1 a second: the table
	 * filled first, then (nearly) every SYN placed but not recorded. */
	rows[ROW_SYN_BIG_GUARD] = syn_new("SYN, new flow, 1M table, guard at cap", guard16,
					  BENCH_FLOWS_BIG);
	bench_flow_cap(guard16->obj, 1);
	rows[ROW_PASS] = (struct row){ .name = "non-VIP destination, passed",
				       .prog_fd = fd16,
				       .frames = bench_tcp_frames("198.18.200.1", 80, 1, PKT_TCP_ACK) };
	for (i = 0; i < ROWS; i++) {
		rows[i].ns = calloc((size_t)rounds, sizeof(double));
		if (!rows[i].ns) {
			fprintf(stderr, "bench_xdp: out of memory\n");
			exit(EXIT_FAILURE);
		}
	}
	for (r = 0; r < rounds; r++)
		for (i = 0; i < ROWS; i++) {
			if (rows[i].forget_fd)
				bench_flows_forget(rows[i].forget_fd, &rows[i].frames,
						   (size_t)(calls / rounds));
			if (rows[i].lists)
				lists_set(rows[i].lists);
			rows[i].ns[r] = bench_time(rows[i].prog_fd, &rows[i].frames,
						   calls / rounds);
		}

	printf("| %-40s | %7s | %7s | %5s |\n", "packet", "ns/pkt", "net ns", "x base");
	printf("|%.42s|%.9s|%.9s|%.7s|\n", "------------------------------------------",
	       "---------", "---------", "-------");
	base = bench_median(rows[ROW_BASE].ns, rounds);
	for (i = 0; i < ROWS; i++) {
		double ns = bench_median(rows[i].ns, rounds);

		printf("| %-40s | %7.1f | %7.1f | %5.2f |\n", rows[i].name, ns, ns - base,
		       ns / base);
		bench_frames_free(&rows[i].frames);
		free(rows[i].ns);
	}
	lb_xdp__destroy(lb16);
	lb_xdp__destroy(lb1000);
	lb_xdp__destroy(room16);
	lb_xdp__destroy(big16);
	lb_xdp__destroy(guard16);
	lb_xdp__destroy(deny16);
	lb_xdp__destroy(allow16);
	lb_xdp__destroy(small16);
	lb_xdp__destroy(small1000);
	lb_pass__destroy(pass);
}

int main(int argc, char **argv)
{
	int first = bench_options(argc, argv, "usage: bench_xdp [--calls N] [--rounds N]",
				  &calls, &rounds);

	if (first < 0 || first != argc)
		return 2;
	bench_pin_cpu0();
	printf("calls per row: %ld in %d rounds (median round)\n\n", calls, rounds);
	run_rows();
	return 0;
}
