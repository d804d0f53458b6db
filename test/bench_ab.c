// SPDX-License-Identifier: GPL-2.0-only
/*
 * Two builds of the balancer timed in one run: B over A per packet kind.
 * This machine's speed drifts by tens of percent over seconds, more than
 * most changes to the program are worth; timing both objects in the same
 * short rounds puts the drift on both alike, so B/A is what a change did.
 *
 * A and B are lb_xdp.bpf.o files, say from build/kern/ of two checkouts:
 *   git worktree add /tmp/before HEAD~1 && meson setup /tmp/before/b /tmp/before
 *   ninja -C /tmp/before/b kern/lb_xdp.bpf.o
 *   build/test/bench_ab /tmp/before/b/kern/lb_xdp.bpf.o build/kern/lb_xdp.bpf.o
 * Running A against itself shows the noise floor (B/A within a few %).
 * Both objects must use the map layout of this build's user space (the
 * tables are written by its datapath.c): across a layout change, compare
 * each build's own bench_xdp instead.
 *
 * Usage: bench_ab A.bpf.o B.bpf.o [--calls N] [--rounds N]   (root)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>

#include "lb_pass.skel.h"
#include "bench.h"
#include "pkt.h"

/* Each build is loaded five times: for most rows; with a small flow
 * table, full after its first round; for new flows into a table with
 * room, whose round's flows are deleted before the round; for new flows
 * into the default table, full; and the same with the flood guard at a
 * cap of 1 a second once full, so that SYNs are placed, not recorded. */
enum { AB_MAIN, AB_SMALL, AB_ROOM, AB_BIG, AB_GUARD, AB_SETS };

struct ab_obj {
	struct bpf_object *obj;
	int prog;
	int flows;
};

struct ab_row {
	const char *name;
	const char *dst;
	uint8_t flags;
	size_t nflows;
	int set;		/* AB_*: the objects it is timed on */
	struct bench_frames frames[2];
	double *ns[2];
};

static long calls = 400000;	/* per row and object, over all rounds */
static int rounds = 100;

static struct ab_obj balancer_load(const char *path, __u32 flow_entries)
{
	struct bpf_object *obj = bpf_object__open_file(path, NULL);
	struct bpf_program *prog;
	struct bpf_map *flows;

	flows = obj ? bpf_object__find_map_by_name(obj, "flow_table") : NULL;
	if (!flows || (flow_entries && bench_flow_table_size(obj, flow_entries)) ||
	    bpf_object__load(obj)) {
		fprintf(stderr, "bench_ab: cannot load %s\n", path);
		exit(EXIT_FAILURE);
	}
	prog = bpf_object__find_program_by_name(obj, "lb_xdp");
	if (!prog) {
		fprintf(stderr, "bench_ab: %s has no lb_xdp program\n", path);
		exit(EXIT_FAILURE);
	}
	bench_balancer(obj, 16);
	return (struct ab_obj){ obj, bpf_program__fd(prog), bpf_map__fd(flows) };
}

/* obj[set][k]: object k (A, B) in each AB_* set. */
static void run(const struct ab_obj obj[AB_SETS][2], int base_fd)
{
	struct ab_row rows[] = {
		{ .name = "established flow, IPv4", .dst = "198.18.100.1", .flags = PKT_TCP_ACK },
		{ .name = "established flow, IPv6 (6-in-6)", .dst = "fd00:100::1",
		  .flags = PKT_TCP_ACK },
		{ .name = "established flow, l3 VIP", .dst = BENCH_VIP_L3, .flags = PKT_TCP_ACK },
		{ .name = "SYN, flow in the table", .dst = "198.18.100.1", .flags = PKT_TCP_SYN },
		{ .name = "SYN, new flow, table with room", .dst = "198.18.100.1",
		  .flags = PKT_TCP_SYN, .nflows = BENCH_FLOWS_CYCLED, .set = AB_ROOM },
		{ .name = "SYN, new flow, table full", .dst = "198.18.100.1",
		  .flags = PKT_TCP_SYN, .nflows = BENCH_FLOWS_CYCLED, .set = AB_SMALL },
		{ .name = "SYN, new flow, 1M table full", .dst = "198.18.100.1",
		  .flags = PKT_TCP_SYN, .nflows = BENCH_FLOWS_BIG, .set = AB_BIG },
		{ .name = "SYN, 1M table full, guard at cap", .dst = "198.18.100.1",
		  .flags = PKT_TCP_SYN, .nflows = BENCH_FLOWS_BIG, .set = AB_GUARD },
		{ .name = "non-VIP destination, passed", .dst = "198.18.200.1",
		  .flags = PKT_TCP_ACK },
	};
	size_t n = sizeof(rows) / sizeof(rows[0]), i;
	struct bench_frames base_frames = bench_tcp_frames("198.18.100.1", 80, 1, PKT_TCP_ACK);
	double *base = bench_rounds(rounds), b;
	char note[1024] = "";
	uint64_t created[AB_SETS][2] = { 0 };
	int r, j, k;

	for (i = 0; i < n; i++) {
		size_t nf = rows[i].nflows ? rows[i].nflows : 1;
		int full = rows[i].set == AB_SMALL || rows[i].set == AB_BIG ||
			   rows[i].set == AB_GUARD;

		for (k = 0; k < 2; k++) {
			/* The flows exist before timing; a full table is
			 * filled with other flows than those timed. */
			struct bench_frames syn = bench_tcp_frames_from(rows[i].dst, 80, full ? nf : 0,
									nf, PKT_TCP_SYN);

			bench_time(obj[rows[i].set][k].prog, &syn, (long)nf);
			bench_frames_free(&syn);
			if (rows[i].set == AB_GUARD)
				bench_flow_cap(obj[AB_GUARD][k].obj, 1);
			rows[i].frames[k] = bench_tcp_frames(rows[i].dst, 80, nf, rows[i].flags);
			rows[i].ns[k] = bench_rounds(rounds);
			if (rows[i].set != AB_MAIN)
				created[rows[i].set][k] = bench_new_flows(obj[rows[i].set][k].obj, 0);
		}
	}
	for (r = 0; r < rounds; r++) {
		base[r] = bench_time(base_fd, &base_frames, calls / rounds);
		for (i = 0; i < n; i++)
			for (j = 0; j < 2; j++) {
				const struct ab_obj *o;

				/* A first in even rounds, B first in odd ones:
				 * the second of two runs finds some kernel state
				 * warm that the first did not. */
				k = r % 2 ? 1 - j : j;
				o = &obj[rows[i].set][k];
				if (rows[i].set == AB_ROOM)
					bench_flows_forget(o->flows, &rows[i].frames[k],
							   (size_t)(calls / rounds));
				rows[i].ns[k][r] = bench_time(o->prog, &rows[i].frames[k],
							      calls / rounds);
			}
	}
	for (i = 0; i < n; i++)
		for (k = 0; k < 2; k++)
			if (rows[i].set != AB_MAIN)
				created[rows[i].set][k] = bench_new_flows(obj[rows[i].set][k].obj, 0) -
							  created[rows[i].set][k];
	b = bench_median(base, rounds);
	printf("empty XDP_PASS program (baseline): %.1f ns\n\n", b);
	printf("| %-32s | %8s | %8s | %5s |\n", "packet", "A net ns", "B net ns", "B/A");
	printf("|%.34s|%.10s|%.10s|%.7s|\n", "----------------------------------",
	       "----------", "----------", "-------");
	for (i = 0; i < n; i++) {
		double a = bench_median(rows[i].ns[0], rounds) - b;
		double x = bench_median(rows[i].ns[1], rounds) - b;

		printf("| %-32s | %8.1f | %8.1f | %5.3f |\n", rows[i].name, a, x, x / a);
		/* Each timed SYN of a new-flow row should create an entry, but
		 * for the guard's row (one a second). */
		if (rows[i].set != AB_MAIN)
			snprintf(note + strlen(note), sizeof(note) - strlen(note),
				 "%s: entries created per timed SYN: A %.3f, B %.3f\n",
				 rows[i].name, (double)created[rows[i].set][0] / (double)calls,
				 (double)created[rows[i].set][1] / (double)calls);
		for (k = 0; k < 2; k++) {
			bench_frames_free(&rows[i].frames[k]);
			free(rows[i].ns[k]);
		}
	}
	printf("\n%s", note);
	bench_frames_free(&base_frames);
	free(base);
}

int main(int argc, char **argv)
{
	int first = bench_options(argc, argv,
				  "usage: bench_ab A.bpf.o B.bpf.o [--calls N] [--rounds N]",
				  &calls, &rounds);
	struct lb_pass *pass;
	struct ab_obj obj[AB_SETS][2];
	int k;

	if (first < 0 || argc - first != 2) {
		if (first >= 0)
			fprintf(stderr, "usage: bench_ab A.bpf.o B.bpf.o [--calls N] [--rounds N]\n");
		return 2;
	}
	bench_pin_cpu0();
	pass = lb_pass__open_and_load();
	if (!pass) {
		fprintf(stderr, "bench_ab: cannot load lb_pass\n");
		return EXIT_FAILURE;
	}
	for (k = 0; k < 2; k++) {
		obj[AB_MAIN][k] = balancer_load(argv[first + k], 0);
		obj[AB_SMALL][k] = balancer_load(argv[first + k], BENCH_SMALL_FLOW_TABLE);
		obj[AB_ROOM][k] = balancer_load(argv[first + k], 0);
		obj[AB_BIG][k] = balancer_load(argv[first + k], 0);
		obj[AB_GUARD][k] = balancer_load(argv[first + k], 0);
	}
	printf("A: %s\nB: %s\ncalls per row and object: %ld in %d rounds (median round)\n",
	       argv[first], argv[first + 1], calls, rounds);
	run(obj, bpf_program__fd(pass->progs.lb_pass));
	lb_pass__destroy(pass);
	return 0;
}
