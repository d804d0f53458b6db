// SPDX-License-Identifier: GPL-2.0-only
/*
 * Live traffic through the balancer in native XDP on a veth, with the
 * driver path BPF_PROG_TEST_RUN leaves out. Run by test/bench_live.sh,
 * which makes the two namespaces and the veth pair:
 *
 *   gen: sender threads (AF_PACKET, sendmmsg) -> g0 ==veth== l0 <- lb: XDP
 *        lb_sink on g0 counts and drops       <-    XDP_TX   <-
 *
 * Each row loads a fresh program on l0 and sends for a fixed time from 1,
 * then 2, sender threads pinned to CPUs 0 and 1; a veth runs its peer's XDP
 * in the sender's softirq, so the threads' CPUs are the cores the row
 * uses. The rate is what the l0 program handled per second (its own
 * counters), with what came back to g0 beside it. Within a row l0
 * alternates between the row's program and lb_swap, a bare MAC-swap
 * XDP_TX, in short slices under the same senders: the row's share of
 * lb_swap is slice against slice, so the other work on this machine
 * lands on both alike.
 *
 * Frames are built once. Flood rows write a new source address and port
 * into each frame before it is sent, without fixing the TCP checksum: the
 * balancer never reads it, and what comes back is dropped.
 *
 * Usage: bench_live GEN_NETNS LB_NETNS [--seconds S]   (root)
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/if_packet.h>
#include <sys/socket.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bench.h"
#include "blocklist.h"
#include "lb_live.skel.h"
#include "lb_xdp.skel.h"
#include "pkt.h"

#define LV_BATCH	32
#define LV_FLOWS	1024		/* established flows cycled */
#define LV_THREADS_MAX	2
#define LV_PACKETS_MAX	400000000L	/* per thread: a bound besides time */
#define LV_ROUNDS	7		/* slices of each program per row */
#define LV_SETTLE_US	50000		/* after an attach, before counting */

enum lv_kind { LV_SWAP, LV_EST, LV_SYN, LV_SYN_GUARD, LV_SYN_HELD, LV_DENIED, LV_PASS, LV_KINDS };

static const char *const lv_names[LV_KINDS] = {
	"bare MAC-swap XDP_TX (reference)",
	"established flows (1024 cycled)",
	"SYN flood, random sources, guard off",
	"SYN flood, random sources, guard on",
	"SYN flood, guard capped at 1 a second",
	"flood from denied sources",
	"non-VIP traffic, passed",
};

static const char *gen_ns, *lb_ns;
static double seconds = 2.0;

static void die(const char *what)
{
	fprintf(stderr, "bench_live: %s: %s\n", what, strerror(errno));
	exit(EXIT_FAILURE);
}

/* Move the calling thread into a network namespace. */
static void netns_enter(const char *name)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "/run/netns/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNET))
		die(path);
	close(fd);
}

static int ifindex(const char *ns, const char *name)
{
	int idx;

	netns_enter(ns);
	idx = (int)if_nametoindex(name);
	if (!idx)
		die(name);
	return idx;
}

static void attach(const char *ns, const char *dev, int prog_fd)
{
	int idx = ifindex(ns, dev);

	if (bpf_xdp_attach(idx, prog_fd, XDP_FLAGS_DRV_MODE, NULL))
		die("attaching XDP");
}

static void detach(const char *ns, const char *dev)
{
	bpf_xdp_detach(ifindex(ns, dev), XDP_FLAGS_DRV_MODE, NULL);
}

/* The sum over CPUs of the first nwords counters of entry 0. */
static __u64 percpu_sum(int map_fd, size_t value_words, size_t first, size_t nwords)
{
	int ncpu = libbpf_num_possible_cpus(), cpu;
	__u64 *v = calloc((size_t)ncpu * value_words, sizeof(*v)), sum = 0;
	__u32 zero = 0;
	size_t i;

	if (!v || bpf_map_lookup_elem(map_fd, &zero, v))
		die("reading counters");
	for (cpu = 0; cpu < ncpu; cpu++)
		for (i = first; i < first + nwords; i++)
			sum += v[(size_t)cpu * value_words + i];
	free(v);
	return sum;
}

/* --- Senders --- */

struct lv_sender {
	pthread_t thread;
	int cpu;
	enum lv_kind kind;
	const struct bench_frames *frames;
	atomic_bool *stop;
	long sent;
};

/* A new source for every flood frame: thread and counter, so no two
 * frames of a run share a flow. Denied floods come from 172.16.0.0/12. */
static void lv_new_source(uint8_t *frame, enum lv_kind kind, int cpu, uint32_t n)
{
	uint32_t src = kind == LV_DENIED ? 0xac100000u | (n & 0xfffff) :
					   0x0a000000u | (uint32_t)cpu << 22 | (n & 0x3fffff);
	uint16_t sport = htons((uint16_t)(1024 + (n >> 20) % 60000));

	src = htonl(src);
	memcpy(frame + ETH_HLEN + 12, &src, 4);
	memcpy(frame + ETH_HLEN + 20, &sport, 2);
}

static void *lv_send(void *arg)
{
	struct lv_sender *s = arg;
	static const int one = 1;
	uint8_t (*buf)[BENCH_FRAME_MAX] = calloc(LV_BATCH, BENCH_FRAME_MAX);
	struct mmsghdr msgs[LV_BATCH];
	struct iovec iov[LV_BATCH];
	struct sockaddr_ll sll = { .sll_family = AF_PACKET };
	uint32_t n = 0;
	cpu_set_t cpus;
	size_t next = 0;
	int fd, i, k;

	CPU_ZERO(&cpus);
	CPU_SET(s->cpu, &cpus);
	if (!buf || pthread_setaffinity_np(pthread_self(), sizeof(cpus), &cpus))
		die("sender setup");
	netns_enter(gen_ns);
	sll.sll_ifindex = (int)if_nametoindex("g0");
	fd = socket(AF_PACKET, SOCK_RAW, 0);
	if (fd < 0 || setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one)))
		die("packet socket");
	memset(msgs, 0, sizeof(msgs));
	for (i = 0; i < LV_BATCH; i++) {
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
		msgs[i].msg_hdr.msg_name = &sll;
		msgs[i].msg_hdr.msg_namelen = sizeof(sll);
	}
	while (!atomic_load_explicit(s->stop, memory_order_relaxed) && s->sent < LV_PACKETS_MAX) {
		for (i = 0; i < LV_BATCH; i++) {
			k = (int)(next++ % s->frames->n);
			memcpy(buf[i], s->frames->buf[k], s->frames->len[k]);
			if (s->kind != LV_SWAP && s->kind != LV_EST && s->kind != LV_PASS)
				lv_new_source(buf[i], s->kind, s->cpu, n++);
			iov[i].iov_base = buf[i];
			iov[i].iov_len = s->frames->len[k];
		}
		k = sendmmsg(fd, msgs, LV_BATCH, 0);
		if (k > 0)
			s->sent += k;
		else if (errno != ENOBUFS && errno != EAGAIN)
			die("sendmmsg");
	}
	close(fd);
	free(buf);
	return NULL;
}

/* --- Rows --- */

struct lv_result {
	double lb_mpps;		/* handled by the program on l0 */
	double back_mpps;	/* returned to g0 */
	double share;		/* of lb_swap's rate, slice against slice */
	double recorded;	/* flow entries created per packet handled */
};

static struct lb_xdp *lv_balancer(enum lv_kind kind)
{
	struct lb_xdp *skel = lb_xdp__open_and_load();

	if (!skel)
		die("loading lb_xdp");
	bench_balancer(skel->obj, 16);
	/* The guard at the config's default cap, under which up to that many
	 * SYNs a second per CPU are still recorded; or holding back all but
	 * one a second, to time the held-back SYN alone. */
	bench_flow_cap(skel->obj, kind == LV_SYN_GUARD ? 65536 : kind == LV_SYN_HELD ? 1 : 0);
	if (kind == LV_DENIED)
		bench_block_rules(skel->obj, BLOCKLIST_DENY, 10000, "172.16.0.0/12");
	return skel;
}

static struct bench_frames lv_frames(enum lv_kind kind, int prog_fd)
{
	struct bench_frames f;

	switch (kind) {
	case LV_EST:
		/* The flows exist before the first ACK: their SYNs went
		 * through the program already. */
		f = bench_tcp_frames("198.18.100.1", 80, LV_FLOWS, PKT_TCP_SYN);
		bench_time(prog_fd, &f, LV_FLOWS);
		bench_frames_free(&f);
		return bench_tcp_frames("198.18.100.1", 80, LV_FLOWS, PKT_TCP_ACK);
	case LV_PASS:
		return bench_tcp_frames("198.18.200.1", 80, 64, PKT_TCP_ACK);
	case LV_SWAP:
		return bench_tcp_frames("198.18.100.1", 80, 64, PKT_TCP_ACK);
	default:
		return bench_tcp_frames("198.18.100.1", 80, 1, PKT_TCP_SYN);
	}
}

static double lv_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static __u64 lv_handled(enum lv_kind kind, struct lb_xdp *lb, struct lb_live *swap)
{
	if (kind == LV_SWAP)
		return percpu_sum(bpf_map__fd(swap->maps.live_count), 1, 0, 1);
	return percpu_sum(bpf_map__fd(lb->maps.lb_stats), sizeof(struct lb_global_stats) / 8,
			  offsetof(struct lb_global_stats, verdict) / 8, LB_VERDICT_MAX);
}

/*
 * One row: the senders run throughout while l0 alternates between lb_swap
 * and the row's program in short slices, so that a slow spell of this
 * shared machine lands on both alike; the row's rate and its share of
 * lb_swap are the medians over the slices.
 */
static struct lv_result lv_row(enum lv_kind kind, int threads, struct lb_live *swap,
			       struct lb_live *sink)
{
	struct lb_xdp *lb = kind == LV_SWAP ? NULL : lv_balancer(kind);
	int prog = lb ? bpf_program__fd(lb->progs.lb_xdp) : bpf_program__fd(swap->progs.lb_swap);
	int sink_map = bpf_map__fd(sink->maps.live_count);
	double rate[LV_ROUNDS], share[LV_ROUNDS], back[LV_ROUNDS], ref = 0, t0;
	struct lv_sender s[LV_THREADS_MAX];
	struct bench_frames frames;
	atomic_bool stop = false;
	struct lv_result r;
	__u64 h0, b0, handled0, created0;
	int i, round, which;

	frames = lv_frames(kind, prog);
	created0 = lb ? bench_new_flows(lb->obj, 0) : 0;
	handled0 = lv_handled(kind, lb, swap);
	attach(lb_ns, "l0", bpf_program__fd(swap->progs.lb_swap));
	for (i = 0; i < threads; i++) {
		s[i] = (struct lv_sender){ .cpu = i, .kind = kind, .frames = &frames, .stop = &stop };
		if (pthread_create(&s[i].thread, NULL, lv_send, &s[i]))
			die("starting a sender");
	}
	for (round = 0; round < LV_ROUNDS; round++) {
		for (which = 0; which < 2; which++) {
			struct lb_xdp *counted = which ? lb : NULL;
			double mpps;

			attach(lb_ns, "l0", which ? prog : bpf_program__fd(swap->progs.lb_swap));
			usleep(LV_SETTLE_US);
			h0 = lv_handled(which ? kind : LV_SWAP, counted, swap);
			b0 = percpu_sum(sink_map, 1, 0, 1);
			t0 = lv_now();
			usleep((useconds_t)(seconds * 1e6 / LV_ROUNDS / 2));
			mpps = (double)(lv_handled(which ? kind : LV_SWAP, counted, swap) - h0) /
			       (lv_now() - t0) / 1e6;
			if (!which) {
				ref = mpps;
				continue;
			}
			rate[round] = mpps;
			back[round] = (double)(percpu_sum(sink_map, 1, 0, 1) - b0) /
				      (lv_now() - t0) / 1e6;
			share[round] = ref > 0 ? mpps / ref : 0;
		}
	}
	atomic_store(&stop, true);
	for (i = 0; i < threads; i++)
		pthread_join(s[i].thread, NULL);
	detach(lb_ns, "l0");
	r.lb_mpps = bench_median(rate, LV_ROUNDS);
	r.back_mpps = bench_median(back, LV_ROUNDS);
	r.share = bench_median(share, LV_ROUNDS);
	/* Over the whole row: the program counts only while attached. */
	h0 = lv_handled(kind, lb, swap) - handled0;
	r.recorded = lb && h0 ? (double)(bench_new_flows(lb->obj, 0) - created0) / (double)h0 : 0;
	bench_frames_free(&frames);
	if (lb)
		lb_xdp__destroy(lb);
	return r;
}

int main(int argc, char **argv)
{
	struct lv_result res[LV_THREADS_MAX][LV_KINDS];
	struct lb_live *sink, *swap;
	int t, k;

	if (argc < 3 || (argc != 3 && (argc != 5 || strcmp(argv[3], "--seconds")))) {
		fprintf(stderr, "usage: bench_live GEN_NETNS LB_NETNS [--seconds S]\n");
		return 2;
	}
	gen_ns = argv[1];
	lb_ns = argv[2];
	if (argc == 5)
		seconds = atof(argv[4]);
	if (seconds <= 0 || seconds > 60) {
		fprintf(stderr, "bench_live: --seconds takes 0 < S <= 60\n");
		return 2;
	}
	sink = lb_live__open_and_load();
	swap = lb_live__open_and_load();
	if (!sink || !swap)
		die("loading lb_live");
	attach(gen_ns, "g0", bpf_program__fd(sink->progs.lb_sink));
	for (t = 0; t < LV_THREADS_MAX; t++)
		for (k = 0; k < LV_KINDS; k++)
			res[t][k] = lv_row((enum lv_kind)k, t + 1, swap, sink);
	detach(gen_ns, "g0");
	printf("%.1f s a row, %d slices of each program; Mpps handled by the program on l0 "
	       "(returned to g0), median over the slices, and the median share of the bare "
	       "XDP_TX in the slices beside them, with as many cores\n\n", seconds, LV_ROUNDS);
	printf("| %-38s | %-15s | %-15s | %-6s | %-6s | %-8s |\n", "traffic", "1 core Mpps",
	       "2 cores Mpps", "x1", "x2", "recorded");
	printf("|%.40s|%.17s|%.17s|%.8s|%.8s|%.10s|\n", "----------------------------------------",
	       "-----------------", "-----------------", "--------", "--------", "----------");
	for (k = 0; k < LV_KINDS; k++) {
		char c1[32], c2[32];

		snprintf(c1, sizeof(c1), "%.2f (%.2f)", res[0][k].lb_mpps, res[0][k].back_mpps);
		snprintf(c2, sizeof(c2), "%.2f (%.2f)", res[1][k].lb_mpps, res[1][k].back_mpps);
		printf("| %-38s | %-15s | %-15s | %6.2f | %6.2f | %8.3f |\n", lv_names[k], c1,
		       c2, res[0][k].share, res[1][k].share, res[0][k].recorded);
	}
	lb_live__destroy(swap);
	lb_live__destroy(sink);
	return 0;
}
