// SPDX-License-Identifier: GPL-2.0-only
/*
 * sluice beside Katran in one run: the same frames, the same rounds, the
 * same empty-program baseline. Katran's objects come from
 * scripts/katran_build.sh (its flood guard off, and as shipped); one or two
 * sluice objects (say, main's and a branch's build/kern/lb_xdp.bpf.o) are
 * timed beside them, each as its own column, with every column's ratio to
 * each Katran.
 *
 * Katran is set up the way its own controller would for this case: one
 * TCP VIP 198.18.100.1:80 (vip_num 0), 16 reals 198.18.3.1-16, a ring of
 * 65537 slots filled round robin, the gateway MAC in ctl_array, and one
 * LRU map per CPU in lru_mapping. Its per-CPU maps split a node's flow
 * table: for the 1M row 524,288 entries each (a 1M table over two
 * forwarding CPUs), for the small row 8192 (sluice's 16,384 over two).
 * Its structs below describe the map layouts of the Katran commit that
 * scripts/katran_build.sh builds; they are not ours to change.
 *
 * Before timing, every program must return XDP_TX for a SYN to the VIP
 * with an outer IPv4 header to a backend, and XDP_PASS for a non-VIP frame.
 *
 * Usage: bench_katran KATRAN_OFF.o KATRAN_SHIPPED.o SLUICE.bpf.o [SLUICE_B.bpf.o]
 *                     [--calls N] [--rounds N] [--attach IF,IF,...]   (root)
 * --attach: attach each program (1M-table set) and the baseline to its own
 * interface in native XDP first, so that each run is reached the way
 * traffic reaches it: sluice A, [sluice B,] Katran off, Katran shipped,
 * baseline. scripts/katran_bench.sh makes the interfaces.
 */
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_link.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "lb_pass.skel.h"
#include "bench.h"
#include "pkt.h"

/* Katran's layouts (katran/lib/bpf/balancer_structs.h at the built commit). */
struct katran_vip_definition {
	__be32 addr[4];
	__u16 port;
	__u8 proto;
};

struct katran_vip_meta {
	__u32 flags;
	__u32 vip_num;
};

struct katran_real_definition {
	__be32 addr[4];
	__u8 flags;
};

struct katran_flow_key {
	__be32 src[4];
	__be32 dst[4];
	__u32 ports;
	__u8 proto;
};

struct katran_real_pos_lru {
	__u32 pos;
	__u64 atime;
};

#define KATRAN_RING		65537	/* its RING_SIZE */
#define KATRAN_REALS		16
#define KATRAN_LRU_BIG		524288
#define KATRAN_LRU_SMALL	(BENCH_SMALL_FLOW_TABLE / 2)

enum { SET_BIG, SET_SMALL, SETS };
#define PROGS_MAX 4	/* sluice A, sluice B, Katran off, Katran shipped */

static long calls = 400000;
static int rounds = 50;

static void die(const char *what, const char *path)
{
	fprintf(stderr, "bench_katran: %s %s: %s\n", what, path, strerror(errno));
	exit(EXIT_FAILURE);
}

static int map_fd(struct bpf_object *obj, const char *name)
{
	int fd = bpf_object__find_map_fd_by_name(obj, name);

	if (fd < 0)
		die("no map", name);
	return fd;
}

static int lru_new(__u32 entries)
{
	int fd = bpf_map_create(BPF_MAP_TYPE_LRU_HASH, "katran_lru", sizeof(struct katran_flow_key),
				sizeof(struct katran_real_pos_lru), entries, NULL);

	if (fd < 0)
		die("cannot create an LRU map of", "katran");
	return fd;
}

static void katran_fill(struct bpf_object *obj, const char *path, __u32 lru_entries)
{
	struct katran_vip_definition vd = { .port = htons(80), .proto = IPPROTO_TCP };
	struct katran_vip_meta vm = { 0 };
	__u8 mac[8] = { 0x02, 0, 0, 0, 0, 0xfe };	/* a ctl_value */
	int fd, ncpu = libbpf_num_possible_cpus();
	__u32 i;

	inet_pton(AF_INET, "198.18.100.1", vd.addr);
	i = 0;
	if (bpf_map_update_elem(map_fd(obj, "vip_map"), &vd, &vm, BPF_ANY) ||
	    bpf_map_update_elem(map_fd(obj, "ctl_array"), &i, mac, BPF_ANY))
		die("cannot set up", path);
	for (i = 1; i <= KATRAN_REALS; i++) {
		struct katran_real_definition r = { .addr = { htonl(0xc6120300 | i) } };

		if (bpf_map_update_elem(map_fd(obj, "reals"), &i, &r, BPF_ANY))
			die("cannot write reals of", path);
	}
	fd = map_fd(obj, "ch_rings");
	for (i = 0; i < KATRAN_RING; i++) {
		__u32 real = 1 + i % KATRAN_REALS;

		if (bpf_map_update_elem(fd, &i, &real, BPF_ANY))
			die("cannot write ch_rings of", path);
	}
	fd = map_fd(obj, "lru_mapping");
	for (i = 0; i < (__u32)ncpu; i++) {
		int lru = lru_new(lru_entries);

		if (bpf_map_update_elem(fd, &i, &lru, BPF_ANY))
			die("cannot write lru_mapping of", path);
		close(lru);
	}
}

static int katran_load(const char *path, __u32 lru_entries)
{
	struct bpf_object *obj = bpf_object__open_file(path, NULL);
	struct bpf_program *prog;
	int inner;

	if (!obj)
		die("cannot open", path);
	/* lru_mapping's inner template; the real ones are written below. */
	inner = lru_new(lru_entries);
	if (bpf_map__set_inner_map_fd(bpf_object__find_map_by_name(obj, "lru_mapping"), inner))
		die("no lru_mapping in", path);
	bpf_object__for_each_program(prog, obj)
		bpf_program__set_type(prog, BPF_PROG_TYPE_XDP);
	if (bpf_object__load(obj))
		die("cannot load", path);
	close(inner);
	katran_fill(obj, path, lru_entries);
	prog = bpf_object__find_program_by_name(obj, "balancer_ingress");
	if (!prog)
		die("no balancer_ingress in", path);
	return bpf_program__fd(prog);
}

static int sluice_load(const char *path, __u32 flow_entries)
{
	struct bpf_object *obj = bpf_object__open_file(path, NULL);
	struct bpf_program *prog;

	if (!obj || (flow_entries && bench_flow_table_size(obj, flow_entries)) ||
	    bpf_object__load(obj))
		die("cannot load", path);
	bench_balancer(obj, 16);
	prog = bpf_object__find_program_by_name(obj, "lb_xdp");
	if (!prog)
		die("no lb_xdp in", path);
	return bpf_program__fd(prog);
}

/* Every program sends a SYN to the VIP back out in an IPv4 tunnel to one of
 * the 16 backends, and passes a frame for another address. */
static void check(int prog, const char *name)
{
	struct bench_frames syn = bench_tcp_frames("198.18.100.1", 80, 1, PKT_TCP_SYN);
	struct bench_frames other = bench_tcp_frames("198.18.200.1", 80, 1, PKT_TCP_SYN);
	__u8 out[BENCH_FRAME_MAX + 128];
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = syn.buf[0], .data_size_in = syn.len[0],
		    .data_out = out, .data_size_out = sizeof(out), .repeat = 1);
	LIBBPF_OPTS(bpf_test_run_opts, p, .data_in = other.buf[0], .data_size_in = other.len[0],
		    .data_out = out, .data_size_out = sizeof(out), .repeat = 1);

	/* Outer IPv4 at 14: protocol 4 (IPIP) at 23, destination at 30. */
	if (bpf_prog_test_run_opts(prog, &o) || o.retval != XDP_TX ||
	    o.data_size_out != syn.len[0] + 20 || out[23] != IPPROTO_IPIP || out[30] != 198 ||
	    out[31] != 18 || out[32] != 3 || out[33] < 1 || out[33] > KATRAN_REALS ||
	    bpf_prog_test_run_opts(prog, &p) || p.retval != XDP_PASS) {
		fprintf(stderr, "bench_katran: %s does not balance as set up\n", name);
		exit(EXIT_FAILURE);
	}
	bench_frames_free(&syn);
	bench_frames_free(&other);
}

struct row {
	const char *name;
	const char *dst;
	__u8 flags;
	size_t nflows;
	int set;
	struct bench_frames frames[PROGS_MAX];
	double *ns[PROGS_MAX];
};

static void attach(int prog, const char *ifname)
{
	int ifindex = (int)if_nametoindex(ifname);

	if (!ifindex || bpf_xdp_attach(ifindex, prog, XDP_FLAGS_DRV_MODE, NULL))
		die("cannot attach in native mode to", ifname);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "calls", required_argument, NULL, 'c' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "attach", required_argument, NULL, 'a' },
		{ 0 },
	};
	static const char usage[] = "usage: bench_katran KATRAN_OFF.o KATRAN_SHIPPED.o SLUICE.bpf.o "
				    "[SLUICE_B.bpf.o] [--calls N] [--rounds N] [--attach IF,IF,...]";
	const char *names[PROGS_MAX] = { "sluice A", "sluice B", "Katran off", "Katran shipped" };
	struct row rows[] = {
		{ .name = "established flow, IPv4", .dst = "198.18.100.1", .flags = PKT_TCP_ACK,
		  .nflows = 1, .set = SET_BIG },
		{ .name = "SYN, new flow, table full (small)", .dst = "198.18.100.1",
		  .flags = PKT_TCP_SYN, .nflows = BENCH_FLOWS_CYCLED, .set = SET_SMALL },
		{ .name = "SYN, new flow, 1M table full", .dst = "198.18.100.1",
		  .flags = PKT_TCP_SYN, .nflows = BENCH_FLOWS_BIG, .set = SET_BIG },
		{ .name = "non-VIP destination, passed", .dst = "198.18.200.1",
		  .flags = PKT_TCP_ACK, .nflows = 1, .set = SET_BIG },
	};
	size_t nrows = sizeof(rows) / sizeof(rows[0]), i;
	int prog[SETS][PROGS_MAX], used[PROGS_MAX] = { 0 }, c, k, r, j, nifs = 0;
	char *ifs[PROGS_MAX + 1], *attach_list = NULL, *save = NULL, *tok;
	const char *sluice[2] = { NULL, NULL }, *katran[2];
	struct bench_frames base_frames;
	struct lb_pass *pass;
	double *base, b;
	int order[PROGS_MAX], nprog = 0;

	while ((c = getopt_long(argc, argv, "c:r:a:", opts, NULL)) != -1) {
		if (c == 'c') {
			calls = strtol(optarg, NULL, 10);
		} else if (c == 'r') {
			rounds = atoi(optarg);
		} else if (c == 'a') {
			attach_list = optarg;
		} else {
			fprintf(stderr, "%s\n", usage);
			return 2;
		}
	}
	if (argc - optind < 3 || argc - optind > 4 || rounds < 1 || calls < rounds) {
		fprintf(stderr, "%s\n", usage);
		return 2;
	}
	katran[0] = argv[optind];
	katran[1] = argv[optind + 1];
	sluice[0] = argv[optind + 2];
	sluice[1] = argc - optind == 4 ? argv[optind + 3] : NULL;
	for (tok = attach_list ? strtok_r(attach_list, ",", &save) : NULL; tok;
	     tok = strtok_r(NULL, ",", &save))
		if (nifs <= PROGS_MAX)
			ifs[nifs++] = tok;
	if (attach_list && nifs != (sluice[1] ? 5 : 4)) {
		fprintf(stderr, "%s\n--attach takes one interface per program and the baseline\n",
			usage);
		return 2;
	}
	bench_pin_cpu0();
	pass = lb_pass__open_and_load();
	if (!pass) {
		fprintf(stderr, "bench_katran: cannot load lb_pass\n");
		return EXIT_FAILURE;
	}
	for (k = 0; k < 2; k++) {
		if (!sluice[k])
			continue;
		prog[SET_BIG][k] = sluice_load(sluice[k], 0);
		prog[SET_SMALL][k] = sluice_load(sluice[k], BENCH_SMALL_FLOW_TABLE);
		used[k] = 1;
	}
	for (k = 0; k < 2; k++) {
		prog[SET_BIG][2 + k] = katran_load(katran[k], KATRAN_LRU_BIG);
		prog[SET_SMALL][2 + k] = katran_load(katran[k], KATRAN_LRU_SMALL);
		used[2 + k] = 1;
	}
	for (k = 0; k < PROGS_MAX; k++)
		if (used[k]) {
			check(prog[SET_BIG][k], names[k]);
			order[nprog++] = k;
		}
	if (nifs) {
		for (k = 0; k < nprog; k++)
			attach(prog[SET_BIG][order[k]], ifs[k]);
		attach(bpf_program__fd(pass->progs.lb_pass), ifs[nprog]);
	}

	printf("katran off: %s\nkatran shipped: %s\nsluice A: %s\n", katran[0], katran[1],
	       sluice[0]);
	if (sluice[1])
		printf("sluice B: %s\n", sluice[1]);
	printf("calls per row and program: %ld in %d rounds (median round), %s\n\n", calls, rounds,
	       nifs ? "attached in native XDP" : "loaded only");

	for (i = 0; i < nrows; i++) {
		int full = rows[i].flags == PKT_TCP_SYN;

		for (j = 0; j < nprog; j++) {
			struct bench_frames fill;

			k = order[j];
			/* A new-flow row fills the table with other flows first. */
			fill = bench_tcp_frames_from(rows[i].dst, 80, full ? rows[i].nflows : 0,
						     rows[i].nflows, PKT_TCP_SYN);
			bench_time(prog[rows[i].set][k], &fill, (long)rows[i].nflows);
			bench_frames_free(&fill);
			rows[i].frames[k] = bench_tcp_frames(rows[i].dst, 80, rows[i].nflows,
							     rows[i].flags);
			rows[i].ns[k] = bench_rounds(rounds);
		}
	}
	base_frames = bench_tcp_frames("198.18.100.1", 80, 1, PKT_TCP_ACK);
	base = bench_rounds(rounds);
	for (r = 0; r < rounds; r++) {
		base[r] = bench_time(bpf_program__fd(pass->progs.lb_pass), &base_frames,
				     calls / rounds);
		for (i = 0; i < nrows; i++)
			for (j = 0; j < nprog; j++) {
				/* Each program leads in turn. */
				k = order[(j + r) % nprog];
				rows[i].ns[k][r] = bench_time(prog[rows[i].set][k], &rows[i].frames[k],
							      calls / rounds);
			}
	}
	b = bench_median(base, rounds);
	printf("empty XDP_PASS program (baseline): %.1f ns\n\n", b);
	printf("| %-34s |", "packet (net ns)");
	for (j = 0; j < nprog; j++)
		printf(" %14s |", names[order[j]]);
	for (k = 0; k < 2; k++)
		if (used[k])
			printf(" %s/off | %s/shipped |", k ? "B" : "A", k ? "B" : "A");
	printf("\n");
	for (i = 0; i < nrows; i++) {
		double ns[PROGS_MAX] = { 0 };

		for (j = 0; j < nprog; j++)
			ns[order[j]] = bench_median(rows[i].ns[order[j]], rounds) - b;
		printf("| %-34s |", rows[i].name);
		for (j = 0; j < nprog; j++)
			printf(" %14.1f |", ns[order[j]]);
		for (k = 0; k < 2; k++)
			if (used[k])
				printf(" %5.3f | %9.3f |", ns[k] / ns[2], ns[k] / ns[3]);
		printf("\n");
	}
	for (k = 0; k < nifs; k++)
		bpf_xdp_detach((int)if_nametoindex(ifs[k]), XDP_FLAGS_DRV_MODE, NULL);
	lb_pass__destroy(pass);
	return 0;
}
