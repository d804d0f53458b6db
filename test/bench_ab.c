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
 *
 * Usage: bench_ab A.bpf.o B.bpf.o [--calls N] [--rounds N]   (root)
 */
#include <stdio.h>
#include <stdlib.h>
#include <netinet/in.h>

#include "lb_pass.skel.h"
#include "bench.h"
#include "pkt.h"

struct ab_row {
	const char *name;
	const char *dst;
	uint8_t flags;
	size_t nflows;
	int small;		/* timed on the objects with the small flow table */
	struct bench_frames frames[2];
	double *ns[2];
};

static long calls = 400000;	/* per row and object, over all rounds */
static int rounds = 100;

static int balancer_load(const char *path, __u32 flow_entries)
{
	struct bpf_object *obj = bpf_object__open_file(path, NULL);
	struct bpf_program *prog;
	struct bpf_map *flows;

	flows = obj ? bpf_object__find_map_by_name(obj, "flow_table") : NULL;
	if (!flows || (flow_entries && bpf_map__set_max_entries(flows, flow_entries)) ||
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
	return bpf_program__fd(prog);
}

static double *rounds_new(void)
{
	double *v = calloc((size_t)rounds, sizeof(double));

	if (!v) {
		fprintf(stderr, "bench_ab: out of memory\n");
		exit(EXIT_FAILURE);
	}
	return v;
}

/* fd[small][k]: object k (A, B), with the default or the small flow table. */
static void run(const int fd[2][2], int base_fd)
{
	struct ab_row rows[] = {
		{ .name = "established flow, IPv4", .dst = "198.18.100.1", .flags = PKT_TCP_ACK },
		{ .name = "established flow, IPv6 (6-in-6)", .dst = "fd00:100::1",
		  .flags = PKT_TCP_ACK },
		{ .name = "established flow, l3 VIP", .dst = BENCH_VIP_L3, .flags = PKT_TCP_ACK },
		{ .name = "SYN, flow in the table", .dst = "198.18.100.1", .flags = PKT_TCP_SYN },
		{ .name = "SYN, new flow, flow table full", .dst = "198.18.100.1",
		  .flags = PKT_TCP_SYN, .nflows = BENCH_FLOWS_CYCLED, .small = 1 },
		{ .name = "non-VIP destination, passed", .dst = "198.18.200.1",
		  .flags = PKT_TCP_ACK },
	};
	size_t n = sizeof(rows) / sizeof(rows[0]), i;
	struct bench_frames base_frames = bench_tcp_frames("198.18.100.1", 80, 1, PKT_TCP_ACK);
	double *base = rounds_new(), b;
	int r, k;

	for (i = 0; i < n; i++) {
		size_t nf = rows[i].nflows ? rows[i].nflows : 1;

		for (k = 0; k < 2; k++) {
			struct bench_frames syn = bench_tcp_frames(rows[i].dst, 80, nf, PKT_TCP_SYN);

			/* The flows exist (or the table is full) before timing. */
			bench_time(fd[rows[i].small][k], &syn, (long)nf);
			bench_frames_free(&syn);
			rows[i].frames[k] = bench_tcp_frames(rows[i].dst, 80, nf, rows[i].flags);
			rows[i].ns[k] = rounds_new();
		}
	}
	for (r = 0; r < rounds; r++) {
		base[r] = bench_time(base_fd, &base_frames, calls / rounds);
		for (i = 0; i < n; i++)
			for (k = 0; k < 2; k++)
				rows[i].ns[k][r] = bench_time(fd[rows[i].small][k],
							      &rows[i].frames[k],
							      calls / rounds);
	}
	b = bench_median(base, rounds);
	printf("empty XDP_PASS program (baseline): %.1f ns\n\n", b);
	printf("| %-32s | %8s | %8s | %5s |\n", "packet", "A net ns", "B net ns", "B/A");
	printf("|%.34s|%.10s|%.10s|%.7s|\n", "----------------------------------",
	       "----------", "----------", "-------");
	for (i = 0; i < n; i++) {
		double a = bench_median(rows[i].ns[0], rounds) - b;
		double x = bench_median(rows[i].ns[1], rounds) - b;

		printf("| %-32s | %8.1f | %8.1f | %5.3f |\n", rows[i].name, a, x, x / a);
		for (k = 0; k < 2; k++) {
			bench_frames_free(&rows[i].frames[k]);
			free(rows[i].ns[k]);
		}
	}
	bench_frames_free(&base_frames);
	free(base);
}

int main(int argc, char **argv)
{
	int first = bench_options(argc, argv,
				  "usage: bench_ab A.bpf.o B.bpf.o [--calls N] [--rounds N]",
				  &calls, &rounds);
	struct lb_pass *pass;
	int fd[2][2], k;

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
		fd[0][k] = balancer_load(argv[first + k], 0);
		fd[1][k] = balancer_load(argv[first + k], BENCH_SMALL_FLOW_TABLE);
	}
	printf("A: %s\nB: %s\ncalls per row and object: %ld in %d rounds (median round)\n",
	       argv[first], argv[first + 1], calls, rounds);
	run(fd, bpf_program__fd(pass->progs.lb_pass));
	lb_pass__destroy(pass);
	return 0;
}
