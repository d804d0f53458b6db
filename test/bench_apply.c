// SPDX-License-Identifier: GPL-2.0-only
/*
 * How long lbd's map writer takes, on a loaded (not attached) balancer,
 * with the code lbd runs: config_load(), state_new()/state_carry(),
 * apply_state() and apply_dirty().
 *
 *  full 1000x64    an empty node takes 1,000 VIPs x 64 backends (tables of
 *                  16381): from reading the file to the last table in its map
 *  full 50x1000    the same for 50 VIPs x 1,000 backends (tables of 65537)
 *  reload          SIGHUP with the 1,000-VIP file untouched (lbd compares
 *                  the bytes and skips the parse), and with the same config
 *                  written again (parsed): nothing rewritten either way
 *  restart same    a new lbd on the same maps: every table read and compared
 *  health 16 VIPs  one backend address shared by 16 of the 1,000 VIPs goes
 *                  down: from the health results to the last of 16 tables in
 *  16 tables, one batched update / 16 updates: the install alone, to show
 *                  what batching saves (the kernel waits for an RCU grace
 *                  period per update of a map of maps)
 *  metrics scrape  lbd's CPU time (user + system) for one Prometheus scrape
 *                  of the 1,000 x 64 node: counters read, text rendered
 *  active flows    the CPU time of the per-backend active flow count a
 *                  scrape adds, over a full 1M-entry flow table
 *
 * Usage: bench_apply [--rounds N]   (root). Prints the median and the
 * spread of N rounds (default 5) per row, in ms.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>

#include <bpf/bpf.h>

#include "apply.h"
#include "bench.h"
#include "config.h"
#include "datapath.h"
#include "flows.h"
#include "lb_xdp.skel.h"
#include "metrics.h"
#include "state.h"

#define SHARED		"198.19.255.1"	/* the backend in 16 VIPs */
#define SHARED_VIPS	16
#define MAX_ROUNDS	50

static const struct apply_env env = {
	.src_mac = { 2, 0, 0, 0, 0, 1 },
	.next_hop = { 2, 0, 0, 0, 0, 0xfe },
	.mtu = 1500,
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void die(const char *what, const char *why)
{
	fprintf(stderr, "bench_apply: %s: %s\n", what, why);
	exit(EXIT_FAILURE);
}

/* n_vips x per_vip, indented as automation writes it; the first
 * SHARED_VIPS VIPs list SHARED among their backends. */
static void config_write(const char *path, size_t n_vips, size_t per_vip, __u32 table_size)
{
	FILE *f = fopen(path, "w");
	size_t v, b, k = 0;

	if (!f)
		die(path, strerror(errno));
	fprintf(f, "{\n  \"interface\": \"eth0\",\n  \"tunnel_source\": { \"ipv4\": \"198.18.2.2\" },\n"
		   "  \"vips\": [\n");
	for (v = 0; v < n_vips; v++) {
		fprintf(f, "    {\n      \"name\": \"v%zu\",\n      \"address\": \"198.19.%zu.%zu\",\n"
			   "      \"port\": 80,\n      \"protocol\": \"tcp\",\n"
			   "      \"table_size\": %u,\n      \"health_check\": { \"type\": \"tcp\" },\n"
			   "      \"backends\": [\n", v, 100 + v / 250, 1 + v % 250, table_size);
		for (b = 0; b < per_vip; b++, k++) {
			char addr[32];

			if (v < SHARED_VIPS && b == 0)
				snprintf(addr, sizeof(addr), SHARED);
			else
				snprintf(addr, sizeof(addr), "198.18.%zu.%zu", k / 250, 1 + k % 250);
			fprintf(f, "        { \"address\": \"%s\", \"weight\": 100 }%s\n", addr,
				b + 1 < per_vip ? "," : "");
		}
		fprintf(f, "      ]\n    }%s\n", v + 1 < n_vips ? "," : "");
	}
	fprintf(f, "  ]\n}\n");
	fclose(f);
}

static struct state *state_read(const char *path)
{
	struct config_errors errs = { 0 };
	struct config *cfg = NULL;

	if (config_load(path, &cfg, &errs))
		die(path, errs.n ? errs.lines[0] : "cannot read");
	return state_new(cfg, 1000);
}

static void applied(struct apply *ap, const struct state *st, struct apply_stats *as)
{
	char err[256];

	if (apply_state(ap, st, &env, as, err, sizeof(err)))
		die("apply", err);
}

struct node {
	struct lb_xdp *skel;
	struct apply_maps maps;
	struct apply *ap;
	struct state *st;
};

static void node_open(struct node *n)
{
	n->skel = lb_xdp__open_and_load();
	if (!n->skel)
		die("loading lb_xdp", strerror(errno));
	if (apply_maps_find(n->skel->obj, &n->maps))
		die("loading lb_xdp", "a map is missing");
	n->ap = apply_new(&n->maps);
	if (!n->ap)
		die("apply_new", strerror(errno));
	n->st = NULL;
}

static void node_close(struct node *n)
{
	state_free(n->st);
	apply_free(n->ap);
	lb_xdp__destroy(n->skel);
}

/* An empty node takes the file. */
static double full(const char *path, struct node *n, size_t *swapped)
{
	struct apply_stats as;
	double t0;

	node_open(n);
	t0 = now_ms();
	n->st = state_read(path);
	applied(n->ap, n->st, &as);
	*swapped = as.tables_swapped;
	return now_ms() - t0;
}

/* SIGHUP with the file untouched: lbd sees the same bytes and applies the
 * running state again, which writes nothing. */
static double reload_bytes(const char *path, const char *text, size_t len, struct node *n,
			   size_t *swapped)
{
	double t0 = now_ms();
	struct apply_stats as;
	size_t got_len;
	char *got;

	if (config_file_read(path, &got, &got_len))
		die(path, "cannot read");
	if (got_len != len || memcmp(got, text, len))
		die(path, "changed");
	free(got);
	applied(n->ap, n->st, &as);
	*swapped = as.tables_swapped;
	return now_ms() - t0;
}

/* SIGHUP with the same config written differently: parsed, carried over,
 * applied; nothing written. */
static double reload_same(const char *path, struct node *n, size_t *swapped)
{
	double t0 = now_ms();
	struct state *next = state_read(path);
	struct state_replace_stats rs;
	struct apply_stats as;

	state_carry(next, n->st, 2000, &rs);
	applied(n->ap, next, &as);
	state_free(n->st);
	n->st = next;
	*swapped = as.tables_swapped;
	return now_ms() - t0;
}

static double restart_same(const char *path, struct node *n, size_t *swapped)
{
	struct apply_stats as;
	double t0 = now_ms();

	apply_free(n->ap);
	state_free(n->st);
	n->ap = apply_new(&n->maps);
	n->st = state_read(path);
	applied(n->ap, n->st, &as);
	*swapped = as.tables_swapped;
	return now_ms() - t0;
}

/* The shared backend goes down (up again on odd rounds). */
static double health_16(struct node *n, int round, size_t *swapped)
{
	enum state_health h = round % 2 ? STATE_HEALTH_UP : STATE_HEALTH_DOWN;
	struct apply_stats as;
	char err[256];
	double t0 = now_ms();
	size_t v;

	for (v = 0; v < SHARED_VIPS; v++)
		state_health_set(n->st, v, (size_t)state_backend_find(n->st, v, SHARED), h,
				 "refused", 3000);
	if (apply_dirty(n->ap, n->st, &as, err, sizeof(err)))
		die("apply_dirty", err);
	state_clean(n->st);
	*swapped = as.tables_swapped;
	return now_ms() - t0;
}

/* 16 prepared tables, installed in one batch or one at a time. */
static double install_16(struct node *n, int batched)
{
	__u32 table[251], ids[SHARED_VIPS], one, i;
	int fds[SHARED_VIPS];
	double t0;

	for (i = 0; i < 251; i++)
		table[i] = 1 + i % 3;
	for (i = 0; i < SHARED_VIPS; i++) {
		ids[i] = 3000 + i;
		fds[i] = datapath_table_new(table, 251);
		if (fds[i] < 0)
			die("datapath_table_new", strerror(-fds[i]));
	}
	t0 = now_ms();
	if (batched) {
		one = SHARED_VIPS;
		if (datapath_tables_install(n->maps.vip_tables, ids, fds, &one))
			die("install", strerror(errno));
	} else {
		for (i = 0; i < SHARED_VIPS; i++) {
			one = 1;
			if (datapath_tables_install(n->maps.vip_tables, &ids[i], &fds[i], &one))
				die("install", strerror(errno));
		}
	}
	t0 = now_ms() - t0;
	for (i = 0; i < SHARED_VIPS; i++)
		close(fds[i]);
	return t0;
}

/* This process's CPU time, user and system, in ms. */
static double cpu_ms(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

/* A scrape of the node as lbd serves it, flows aside: the third of three
 * in a row into the one buffer, as lbd keeps it for a steady scraper (the
 * first one also pays for faulting the buffer in). */
static double scrape(struct node *n, size_t *bytes)
{
	const struct metrics_facts facts = { .version = "bench", .program_tag = "0" };
	struct metrics_buf buf = { 0 };
	double t0 = 0;
	int i, rc;

	for (i = 0; i < 3; i++) {
		t0 = cpu_ms();
		rc = metrics_scrape(&n->maps, n->ap, n->st, NULL, &facts, &buf);
		if (rc)
			die("metrics_scrape", strerror(-rc));
	}
	*bytes = buf.len;
	metrics_buf_free(&buf);
	return cpu_ms() - t0;
}

/* Fill the flow table (LB_FLOW_TABLE_DEFAULT entries), flows spread over
 * the first backend ids, all seen now. */
static void flows_fill(struct node *n)
{
	__u32 count = 65536, i, k, done = 0;
	struct lb_flow_key *keys = calloc(count, sizeof(*keys));
	struct lb_flow *vals = calloc(count, sizeof(*vals));
	LIBBPF_OPTS(bpf_map_batch_opts, o);

	if (!keys || !vals)
		die("flows", strerror(ENOMEM));
	while (done < LB_FLOW_TABLE_DEFAULT) {
		for (i = 0; i < count; i++) {
			k = done + i;
			keys[i].family = LB_FAMILY_IPV4;
			keys[i].proto = 6;
			keys[i].src[0] = htonl(0xc6120000 | (k >> 8));
			keys[i].dst[0] = htonl(0xc6136401);
			keys[i].sport = htons((__u16)(1024 + (k & 0xff)));
			keys[i].dport = htons(80);
			vals[i].backend_id = 1 + k % 64000;
		}
		if (bpf_map_update_batch(n->maps.flow_table, keys, vals, &count, &o))
			die("filling the flow table", strerror(errno));
		done += count;
	}
	free(keys);
	free(vals);
}

static double flows_counted(struct node *n)
{
	__u32 *counts = calloc(LB_MAX_BACKENDS, sizeof(*counts));
	struct flows *fl = flows_new(n->maps.flow_table);
	double t0;

	if (!counts || !fl)
		die("flows_new", strerror(errno));
	t0 = cpu_ms();
	if (flows_count(fl, 30000, counts))
		die("flows_count", "failed");
	t0 = cpu_ms() - t0;
	flows_free(fl);
	free(counts);
	return t0;
}

static void row(const char *name, double *v, int n, const char *note)
{
	double lo, hi, med;

	med = bench_median(v, n);	/* sorts v */
	lo = v[0];
	hi = v[n - 1];
	printf("%-34s %9.1f ms  (%.1f - %.1f)  %s\n", name, med, lo, hi, note);
}

int main(int argc, char **argv)
{
	double t[7][MAX_ROUNDS], b[2][MAX_ROUNDS], m[2][MAX_ROUNDS];
	char big[] = "/tmp/bench_apply.XXXXXX", wide[] = "/tmp/bench_apply.XXXXXX";
	char note[8][64], *text;
	size_t sw, len, bytes = 0;
	int rounds = 5, r, fd;
	struct node n;

	if (argc == 3 && !strcmp(argv[1], "--rounds"))
		rounds = atoi(argv[2]);
	if (rounds < 1 || rounds > MAX_ROUNDS || (argc != 1 && argc != 3)) {
		fprintf(stderr, "usage: bench_apply [--rounds 1..%d]\n", MAX_ROUNDS);
		return 2;
	}
	fd = mkstemp(big);
	close(fd);
	fd = mkstemp(wide);
	close(fd);
	config_write(big, 1000, 64, 16381);
	config_write(wide, 50, 1000, 65537);
	if (config_file_read(big, &text, &len))
		die(big, "cannot read");
	for (r = 0; r < rounds; r++) {
		t[0][r] = full(big, &n, &sw);
		snprintf(note[0], sizeof(note[0]), "%zu tables swapped", sw);
		t[6][r] = reload_bytes(big, text, len, &n, &sw);
		snprintf(note[6], sizeof(note[6]), "%zu tables swapped", sw);
		t[2][r] = reload_same(big, &n, &sw);
		snprintf(note[2], sizeof(note[2]), "%zu tables swapped", sw);
		t[4][r] = health_16(&n, 0, &sw);
		snprintf(note[4], sizeof(note[4]), "%zu tables swapped", sw);
		t[5][r] = health_16(&n, 1, &sw);
		snprintf(note[5], sizeof(note[5]), "%zu tables swapped", sw);
		t[3][r] = restart_same(big, &n, &sw);
		snprintf(note[3], sizeof(note[3]), "%zu tables swapped", sw);
		b[0][r] = install_16(&n, 1);
		b[1][r] = install_16(&n, 0);
		m[0][r] = scrape(&n, &bytes);
		snprintf(note[7], sizeof(note[7]), "%zu bytes of text", bytes);
		flows_fill(&n);
		m[1][r] = flows_counted(&n);
		node_close(&n);
		t[1][r] = full(wide, &n, &sw);
		snprintf(note[1], sizeof(note[1]), "%zu tables swapped", sw);
		node_close(&n);
	}
	unlink(big);
	unlink(wide);
	free(text);
	printf("%d rounds; median (min - max)\n", rounds);
	row("full 1000 VIPs x 64 backends", t[0], rounds, note[0]);
	row("full 50 VIPs x 1000 backends", t[1], rounds, note[1]);
	row("reload, 1000-VIP file untouched", t[6], rounds, note[6]);
	row("reload, same 1000 VIPs rewritten", t[2], rounds, note[2]);
	row("restart, same 1000-VIP config", t[3], rounds, note[3]);
	row("health: shared backend down", t[4], rounds, note[4]);
	row("health: shared backend up again", t[5], rounds, note[5]);
	row("16 tables, one batched update", b[0], rounds, "");
	row("16 tables, 16 updates", b[1], rounds, "");
	row("metrics scrape, 1000 x 64 (CPU)", m[0], rounds, note[7]);
	row("active flows, 1M flow table (CPU)", m[1], rounds, "per scrape, besides");
	return 0;
}
