// SPDX-License-Identifier: GPL-2.0-only
/*
 * Where a packet kind spends its time, line by line: runs one packet kind
 * through the balancer in a loop, for a profiler to sample, after writing
 * the JIT-ed program's line table (offset in the image, file:line, text)
 * to a file. test/profile_lines.sh runs it under perf and puts the two
 * together. bpftool prints that table only when built with libbfd, which
 * Debian's is not; bpf_prog_info has it either way.
 *
 * Usage: bench_lines KIND LINES_FILE [--calls N]   (root)
 *   KIND: est (IPv4 established), est6, syn (flow in the table),
 *         syn-new (new flows, table full), pass
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>

#include "lb_xdp.skel.h"
#include "bench.h"
#include "pkt.h"

struct kind {
	const char *name, *dst;
	uint8_t flags;
	size_t nflows;
	int small;		/* on a flow table full after the warm-up */
};

static const struct kind kinds[] = {
	{ "est", "198.18.100.1", PKT_TCP_ACK, 1, 0 },
	{ "est6", "fd00:100::1", PKT_TCP_ACK, 1, 0 },
	{ "syn", "198.18.100.1", PKT_TCP_SYN, 1, 0 },
	{ "syn-new", "198.18.100.1", PKT_TCP_SYN, BENCH_FLOWS_CYCLED, 1 },
	{ "syn-big", "198.18.100.1", PKT_TCP_SYN, BENCH_FLOWS_BIG, 0 },
	{ "pass", "198.18.200.1", PKT_TCP_ACK, 1, 0 },
};

static void die(const char *what)
{
	fprintf(stderr, "bench_lines: %s: %s\n", what, strerror(errno));
	exit(EXIT_FAILURE);
}

/* Write "offset line text" for every line-info record of the program. */
static void lines_write(int prog_fd, const char *path)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info), i, n;
	struct bpf_line_info *li;
	struct btf *btf;
	__u64 *addr;
	FILE *out;

	if (bpf_obj_get_info_by_fd(prog_fd, &info, &len))
		die("program info");
	n = info.nr_jited_line_info;
	li = calloc(n, sizeof(*li));
	addr = calloc(n, sizeof(*addr));
	if (!li || !addr || info.nr_line_info != n)
		die("line info");
	memset(&info, 0, sizeof(info));
	info.nr_line_info = n;
	info.line_info_rec_size = sizeof(*li);
	info.line_info = (__u64)(unsigned long)li;
	info.nr_jited_line_info = n;
	info.jited_line_info_rec_size = sizeof(*addr);
	info.jited_line_info = (__u64)(unsigned long)addr;
	len = sizeof(info);
	if (bpf_obj_get_info_by_fd(prog_fd, &info, &len))
		die("line info");
	btf = btf__load_from_kernel_by_id(info.btf_id);
	out = fopen(path, "w");
	if (!btf || !out)
		die(path);
	for (i = 0; i < n; i++) {
		const char *text = btf__name_by_offset(btf, li[i].line_off);
		const char *file = btf__name_by_offset(btf, li[i].file_name_off);
		const char *base = file ? strrchr(file, '/') : NULL;

		fprintf(out, "%llx %s:%u %s\n", (unsigned long long)(addr[i] - addr[0]),
			base ? base + 1 : file ? file : "?", BPF_LINE_INFO_LINE_NUM(li[i].line_col),
			text ? text : "");
	}
	fclose(out);
	btf__free(btf);
	free(li);
	free(addr);
}

int main(int argc, char **argv)
{
	long calls = 3000000;
	int rounds = 1, first = bench_options(argc, argv,
					      "usage: bench_lines KIND LINES_FILE [--calls N]",
					      &calls, &rounds);
	const struct kind *k = NULL;
	struct bench_frames f;
	struct lb_xdp *skel;
	size_t i;

	if (first >= 0 && rounds != 1) {
		fprintf(stderr, "bench_lines: --rounds has no meaning here\n");
		return 2;
	}
	if (first < 0 || argc - first != 2) {
		fprintf(stderr, "usage: bench_lines KIND LINES_FILE [--calls N]\n");
		return 2;
	}
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (!strcmp(argv[first], kinds[i].name))
			k = &kinds[i];
	if (!k) {
		fprintf(stderr, "bench_lines: unknown kind %s\n", argv[first]);
		return 2;
	}
	bench_pin_cpu0();
	skel = lb_xdp__open();
	if (!skel || (k->small && bench_flow_table_size(skel->obj, BENCH_SMALL_FLOW_TABLE)) ||
	    lb_xdp__load(skel))
		die("cannot load lb_xdp");
	bench_balancer(skel->obj, 16);
	lines_write(bpf_program__fd(skel->progs.lb_xdp), argv[first + 1]);
	/* New-flow kinds fill the table with other flows than they send. */
	f = bench_tcp_frames_from(k->dst, 80, k->flags == PKT_TCP_SYN && k->nflows > 1 ? k->nflows : 0,
				  k->nflows, PKT_TCP_SYN);
	bench_time(bpf_program__fd(skel->progs.lb_xdp), &f, (long)k->nflows);
	bench_frames_free(&f);
	f = bench_tcp_frames(k->dst, 80, k->nflows, k->flags);
	printf("%s: %.1f ns per call, %ld calls\n", k->name,
	       bench_time(bpf_program__fd(skel->progs.lb_xdp), &f, calls), calls);
	bench_frames_free(&f);
	lb_xdp__destroy(skel);
	return 0;
}
