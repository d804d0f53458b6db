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
#include <getopt.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>

#include <bpf/bpf.h>

#include "lb_pass.skel.h"
#include "lb_xdp.skel.h"
#include "pkt.h"
#include "testbed.h"

#define FRAME_MAX 256
#define MAX_FRAMES 65536

struct frames {
	uint8_t (*buf)[FRAME_MAX];
	size_t *len;
	size_t n;
	size_t next;		/* the frame the next call sends */
};

static long calls = 1000000;	/* per row, over all rounds */
static int rounds = 100;

/*
 * Mean ns per call over n calls, going on through the frames. The time
 * is the kernel's own measure of each run (opts.duration), which leaves out
 * the system call and the copies in and out; those would dwarf what we
 * measure and vary with the machine's speculation mitigations.
 */
static double time_calls(int prog_fd, struct frames *f, long n)
{
	uint8_t out[FRAME_MAX + 128];
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_out = out, .repeat = 1);
	double total = 0;
	long i;

	for (i = 0; i < n; i++) {
		size_t k = f->next;

		f->next = (k + 1) % f->n;
		opts.data_in = f->buf[k];
		opts.data_size_in = f->len[k];
		opts.data_size_out = sizeof(out);
		if (bpf_prog_test_run_opts(prog_fd, &opts)) {
			perror("bench_xdp: BPF_PROG_TEST_RUN");
			exit(EXIT_FAILURE);
		}
		total += opts.duration;
	}
	return total / (double)n;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(v[0]), cmp_double);
	return v[n / 2];
}

static struct frames frames_new(size_t n)
{
	struct frames f = {
		.buf = calloc(n, FRAME_MAX),
		.len = calloc(n, sizeof(size_t)),
		.n = n,
	};

	if (!f.buf || !f.len) {
		fprintf(stderr, "bench_xdp: out of memory\n");
		exit(EXIT_FAILURE);
	}
	return f;
}

static void frames_free(struct frames *f)
{
	free(f->buf);
	free(f->len);
}

/* n TCP frames of distinct flows to dst:port from 198.18.0.0/15 or fd00:1::/64. */
static struct frames tcp_frames(const char *dst, uint16_t port, size_t n, uint8_t flags)
{
	struct frames f = frames_new(n);
	size_t i;

	for (i = 0; i < n; i++) {
		struct lb_flow_key k = { .proto = IPPROTO_TCP };

		k.family = pkt_addr(dst, k.dst);
		if (k.family == LB_FAMILY_IPV4) {
			k.src[0] = htonl(0xc6120000 | (uint32_t)(i / 4096));
		} else {
			pkt_addr("fd00:1::", k.src);
			k.src[3] = htonl((uint32_t)(i / 4096));
		}
		k.sport = htons((uint16_t)(1024 + i % 4096));
		k.dport = htons(port);
		f.len[i] = pkt_tcp(f.buf[i], FRAME_MAX, &k, flags, 0);
	}
	return f;
}

/* Send every frame once, so the flows exist before the timed rounds. */
static void warm(int prog_fd, struct frames *f)
{
	time_calls(prog_fd, f, (long)f->n);
}

static struct lb_xdp *balancer(size_t nbackends)
{
	struct testbed_vip v4 = { .id = 0 }, v6 = { .id = 1 };
	struct lb_xdp *skel = lb_xdp__open_and_load();

	if (!skel) {
		fprintf(stderr, "bench_xdp: cannot load lb_xdp: %s\n", strerror(errno));
		exit(EXIT_FAILURE);
	}
	if (testbed_config(skel->obj) ||
	    testbed_vip_add(skel->obj, "198.18.100.1", 80, IPPROTO_TCP, 0) ||
	    testbed_vip_add(skel->obj, "fd00:100::1", 80, IPPROTO_TCP, 1) ||
	    testbed_backends(skel->obj, &v4, LB_FAMILY_IPV4, nbackends, 1) ||
	    testbed_backends(skel->obj, &v6, LB_FAMILY_IPV6, nbackends, 1 + (uint32_t)nbackends)) {
		fprintf(stderr, "bench_xdp: cannot set up the balancer\n");
		exit(EXIT_FAILURE);
	}
	testbed_vip_free(&v4);
	testbed_vip_free(&v6);
	return skel;
}

/* One row of the table: a program and the frames it is timed on. */
struct row {
	const char *name;
	int prog_fd;
	struct frames frames;
	double *ns;		/* one per round */
};

enum {
	ROW_BASE, ROW_EST, ROW_1024, ROW_EST_1000, ROW_V6,
	ROW_SYN_ONE, ROW_SYN, ROW_SYN_1000, ROW_PASS, ROWS
};

/* An established-flow row: the flows are created with SYNs first. */
static struct row established(const char *name, int prog_fd, const char *vip, size_t nflows)
{
	struct frames syn = tcp_frames(vip, 80, nflows, PKT_TCP_SYN);
	struct row r = {
		.name = name,
		.prog_fd = prog_fd,
		.frames = tcp_frames(vip, 80, nflows, PKT_TCP_ACK),
	};

	warm(prog_fd, &syn);
	frames_free(&syn);
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
	struct lb_xdp *lb16 = balancer(16), *lb1000 = balancer(1000);
	int fd16 = bpf_program__fd(lb16->progs.lb_xdp);
	int fd1000 = bpf_program__fd(lb1000->progs.lb_xdp);
	struct row rows[ROWS];
	double base;
	int i, r;

	if (!pass) {
		fprintf(stderr, "bench_xdp: cannot load lb_pass\n");
		exit(EXIT_FAILURE);
	}
	rows[ROW_BASE] = (struct row){ .name = "empty XDP_PASS program (baseline)",
				       .prog_fd = bpf_program__fd(pass->progs.lb_pass),
				       .frames = tcp_frames("198.18.100.1", 80, 1, PKT_TCP_ACK) };
	rows[ROW_EST] = established("established flow (IPv4, 16 backends)", fd16, "198.18.100.1", 1);
	rows[ROW_1024] = established("1024 established flows cycled", fd16, "198.18.100.1", 1024);
	rows[ROW_EST_1000] = established("established flow, 1000 backends", fd1000, "198.18.100.1", 1);
	rows[ROW_V6] = established("established flow, IPv6 VIP (6-in-6)", fd16, "fd00:100::1", 1);
	/* One flow, like the established row: the flow's entry is written
	 * again on every SYN. The cycled rows add the cache misses of 65,536
	 * flows spread over the table and the flow table. */
	rows[ROW_SYN_ONE] = (struct row){ .name = "SYN, one flow: table, flow write (16)",
					  .prog_fd = fd16,
					  .frames = tcp_frames("198.18.100.1", 80, 1, PKT_TCP_SYN) };
	rows[ROW_SYN] = (struct row){ .name = "SYN, 65536 flows cycled (16)",
				      .prog_fd = fd16,
				      .frames = tcp_frames("198.18.100.1", 80, MAX_FRAMES,
							   PKT_TCP_SYN) };
	rows[ROW_SYN_1000] = (struct row){ .name = "SYN, 65536 flows cycled (1000)",
					   .prog_fd = fd1000,
					   .frames = tcp_frames("198.18.100.1", 80, MAX_FRAMES,
								PKT_TCP_SYN) };
	rows[ROW_PASS] = (struct row){ .name = "non-VIP destination, passed",
				       .prog_fd = fd16,
				       .frames = tcp_frames("198.18.200.1", 80, 1, PKT_TCP_ACK) };
	for (i = 0; i < ROWS; i++) {
		rows[i].ns = calloc((size_t)rounds, sizeof(double));
		if (!rows[i].ns) {
			fprintf(stderr, "bench_xdp: out of memory\n");
			exit(EXIT_FAILURE);
		}
	}
	for (r = 0; r < rounds; r++)
		for (i = 0; i < ROWS; i++)
			rows[i].ns[r] = time_calls(rows[i].prog_fd, &rows[i].frames,
						   calls / rounds);

	printf("| %-40s | %7s | %7s | %5s |\n", "packet", "ns/pkt", "net ns", "x base");
	printf("|%.42s|%.9s|%.9s|%.7s|\n", "------------------------------------------",
	       "---------", "---------", "-------");
	base = median(rows[ROW_BASE].ns, rounds);
	for (i = 0; i < ROWS; i++) {
		double ns = median(rows[i].ns, rounds);

		printf("| %-40s | %7.1f | %7.1f | %5.2f |\n", rows[i].name, ns, ns - base,
		       ns / base);
		frames_free(&rows[i].frames);
		free(rows[i].ns);
	}
	lb_xdp__destroy(lb16);
	lb_xdp__destroy(lb1000);
	lb_pass__destroy(pass);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "calls", required_argument, NULL, 'c' },
		{ "rounds", required_argument, NULL, 'r' },
		{ 0 },
	};
	cpu_set_t cpus;
	int c;

	while ((c = getopt_long(argc, argv, "c:r:", opts, NULL)) != -1) {
		if (c == 'c')
			calls = strtol(optarg, NULL, 10);
		else if (c == 'r')
			rounds = atoi(optarg);
		else
			return 2;
	}
	if (rounds < 1 || rounds > 10000 || calls < rounds) {
		fprintf(stderr, "bench_xdp: --rounds must be 1..10000 and --calls at least that\n");
		return 2;
	}
	/* One CPU: the per-CPU flow LRU sees warm-up and timed packets alike. */
	CPU_ZERO(&cpus);
	CPU_SET(0, &cpus);
	if (sched_setaffinity(0, sizeof(cpus), &cpus))
		perror("bench_xdp: cannot pin to CPU 0");
	printf("calls per row: %ld in %d rounds (median round)\n\n", calls, rounds);
	run_rows();
	return 0;
}
