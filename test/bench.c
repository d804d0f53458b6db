// SPDX-License-Identifier: GPL-2.0-only
#include "bench.h"

#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>

#include "blocklist.h"
#include "datapath.h"
#include "flowtab.h"
#include "lb_flowtab.h"
#include "pkt.h"
#include "testbed.h"

static void out_of_memory(void)
{
	fprintf(stderr, "bench: out of memory\n");
	exit(EXIT_FAILURE);
}

struct bench_frames bench_tcp_frames(const char *dst, uint16_t port, size_t n, uint8_t flags)
{
	return bench_tcp_frames_from(dst, port, 0, n, flags);
}

struct bench_frames bench_tcp_frames_from(const char *dst, uint16_t port, size_t first, size_t n,
					  uint8_t flags)
{
	struct bench_frames f = {
		.buf = calloc(n, BENCH_FRAME_MAX),
		.len = calloc(n, sizeof(size_t)),
		.key = calloc(n, sizeof(struct lb_flow_key)),
		.n = n,
	};
	size_t i;

	if (!f.buf || !f.len || !f.key)
		out_of_memory();
	/* Sources 198.18.0.0/15 hold flow numbers up to 2^17 * 4096. */
	if (first + n > (size_t)1 << 29) {
		fprintf(stderr, "bench: too many flows\n");
		exit(EXIT_FAILURE);
	}
	for (i = 0; i < n; i++) {
		struct lb_flow_key k = { .proto = IPPROTO_TCP };
		size_t flow = first + i;

		k.family = pkt_addr(dst, k.dst);
		if (k.family == LB_FAMILY_IPV4) {
			k.src[0] = htonl(0xc6120000 | (uint32_t)(flow / 4096));
		} else {
			pkt_addr("fd00:1::", k.src);
			k.src[3] = htonl((uint32_t)(flow / 4096));
		}
		k.sport = htons((uint16_t)(1024 + flow % 4096));
		k.dport = htons(port);
		f.len[i] = pkt_tcp(f.buf[i], BENCH_FRAME_MAX, &k, flags, 0);
		f.key[i] = k;
	}
	return f;
}

void bench_frames_free(struct bench_frames *f)
{
	free(f->buf);
	free(f->len);
	free(f->key);
}

/* Clear the ways of n flows in the set-associative table. */
static void forget_in_sets(int fd, const struct bench_frames *f, size_t n)
{
	struct flowtab t;
	__u64 tag;
	size_t i;
	__u32 id;
	int way, rc = flowtab_open(fd, 1, &t);

	if (rc) {
		fprintf(stderr, "bench: cannot map the flow table: %s\n", strerror(-rc));
		exit(EXIT_FAILURE);
	}
	for (i = 0; i < n && i < f->n; i++) {
		const struct lb_flow_key *k = &f->key[(f->next + i) % f->n];
		struct lb_flow_set *s;

		s = &t.sets[lb_flow_locate(k, t.seed_set, t.seed_tag, t.nsets - 1, &tag)];
		way = lb_flow_way_find(s, tag, &id);
		if (way >= 0)
			s->way[way].tag_id = 0;
	}
	flowtab_close(&t);
}

void bench_flows_forget(int flow_table_fd, const struct bench_frames *f, size_t n)
{
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info);
	size_t i;

	if (!bpf_obj_get_info_by_fd(flow_table_fd, &info, &len) &&
	    info.type == BPF_MAP_TYPE_ARRAY) {
		forget_in_sets(flow_table_fd, f, n);
		return;
	}
	for (i = 0; i < n && i < f->n; i++)
		if (bpf_map_delete_elem(flow_table_fd, &f->key[(f->next + i) % f->n]) &&
		    errno != ENOENT) {
			perror("bench: cannot delete a flow entry");
			exit(EXIT_FAILURE);
		}
}

/* Set a const volatile __u32 in an opened object's .rodata, found by BTF:
 * bench_ab and bench_katran open objects of other builds, with no
 * skeleton. */
static int rodata_u32(struct bpf_object *obj, const char *var, uint32_t val)
{
	struct bpf_map *ro = bpf_object__find_map_by_name(obj, ".rodata");
	struct btf *btf = bpf_object__btf(obj);
	const struct btf_var_secinfo *vs;
	const struct btf_type *sec;
	size_t size;
	char *data;
	int id, i;

	if (!ro || !btf || (id = btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC)) < 0)
		return -ENOENT;
	sec = btf__type_by_id(btf, (__u32)id);
	data = (char *)bpf_map__initial_value(ro, &size);
	vs = btf_var_secinfos(sec);
	for (i = 0; i < btf_vlen(sec); i++, vs++)
		if (!strcmp(btf__name_by_offset(btf, btf__type_by_id(btf, vs->type)->name_off),
			    var) && vs->offset + sizeof(val) <= size) {
			memcpy(data + vs->offset, &val, sizeof(val));
			return 0;
		}
	return -ENOENT;
}

/* The set-associative table is sized in sets and its head, with the
 * program's mask to match (its seeds stay 0, as the head's do); the LRU
 * table of earlier builds (bench_ab's A) in entries. */
int bench_flow_table_size(struct bpf_object *obj, uint32_t entries)
{
	struct bpf_map *m = bpf_object__find_map_by_name(obj, "flow_table");
	uint32_t sets = lb_flow_sets_for(entries);

	if (!m)
		return -ENOENT;
	if (bpf_map__type(m) != BPF_MAP_TYPE_ARRAY)
		return bpf_map__set_max_entries(m, entries);
	return bpf_map__set_max_entries(m, sets + 1) ?:
	       rodata_u32(obj, "lb_flow_set_mask", sets - 1);
}

uint64_t bench_new_flows(struct bpf_object *obj, uint32_t vip_id)
{
	int fd = testbed_map_fd(obj, "vip_stats"), ncpu = libbpf_num_possible_cpus(), i;
	struct lb_vip_stats *v;
	uint64_t sum = 0;

	v = ncpu > 0 ? calloc((size_t)ncpu, sizeof(*v)) : NULL;
	if (!v)
		out_of_memory();
	if (fd < 0 || bpf_map_lookup_elem(fd, &vip_id, v)) {
		fprintf(stderr, "bench: cannot read vip_stats\n");
		exit(EXIT_FAILURE);
	}
	for (i = 0; i < ncpu; i++)
		sum += v[i].new_flows;
	free(v);
	return sum;
}

/*
 * The time is the kernel's own measure of each run (opts.duration), which
 * leaves out the system call and the copies in and out; those would dwarf
 * what we measure and vary with the machine's speculation mitigations.
 */
double bench_time(int prog_fd, struct bench_frames *f, long n)
{
	uint8_t out[BENCH_FRAME_MAX + 128];
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
			perror("bench: BPF_PROG_TEST_RUN");
			exit(EXIT_FAILURE);
		}
		total += opts.duration;
	}
	return total / (double)n;
}

double *bench_rounds(int rounds)
{
	double *v = calloc((size_t)rounds, sizeof(double));

	if (!v)
		out_of_memory();
	return v;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double bench_median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(v[0]), cmp_double);
	return v[n / 2];
}

void bench_balancer(struct bpf_object *obj, size_t nbackends)
{
	struct testbed_vip v4 = { .id = 0 }, v6 = { .id = 1 }, l3 = { .id = 2 };
	uint32_t n = (uint32_t)nbackends;

	if (testbed_config(obj) || testbed_vip_add(obj, "198.18.100.1", 80, IPPROTO_TCP, 0) ||
	    testbed_vip_add(obj, "fd00:100::1", 80, IPPROTO_TCP, 1) ||
	    testbed_vip_add(obj, BENCH_VIP_L3, 80, IPPROTO_TCP, 2) ||
	    testbed_backends(obj, &v4, LB_FAMILY_IPV4, nbackends, 1) ||
	    testbed_backends(obj, &v6, LB_FAMILY_IPV6, nbackends, 1 + n) ||
	    testbed_backends(obj, &l3, LB_FAMILY_IPV4, nbackends, 1 + 2 * n) ||
	    testbed_vip_l3(obj, &l3, BENCH_VIP_L3, 80, IPPROTO_TCP)) {
		fprintf(stderr, "bench: cannot set up the balancer\n");
		exit(EXIT_FAILURE);
	}
	testbed_vip_free(&v4);
	testbed_vip_free(&v6);
	testbed_vip_free(&l3);
}

void bench_flow_cap(struct bpf_object *obj, uint32_t cap)
{
	int fd = testbed_map_fd(obj, "lb_cfg");
	struct lb_config cfg;
	__u32 zero = 0;

	if (fd < 0 || bpf_map_lookup_elem(fd, &zero, &cfg)) {
		fprintf(stderr, "bench: cannot read lb_cfg\n");
		exit(EXIT_FAILURE);
	}
	cfg.flow_cap = cap;
	if (bpf_map_update_elem(fd, &zero, &cfg, BPF_ANY)) {
		perror("bench: cannot set flow_cap");
		exit(EXIT_FAILURE);
	}
}

void bench_pin_cpu0(void)
{
	cpu_set_t cpus;

	CPU_ZERO(&cpus);
	CPU_SET(0, &cpus);
	if (sched_setaffinity(0, sizeof(cpus), &cpus))
		perror("bench: cannot pin to CPU 0");
}

int bench_options(int argc, char **argv, const char *usage, long *calls, int *rounds)
{
	static const struct option opts[] = {
		{ "calls", required_argument, NULL, 'c' },
		{ "rounds", required_argument, NULL, 'r' },
		{ 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "c:r:", opts, NULL)) != -1) {
		if (c == 'c') {
			*calls = strtol(optarg, NULL, 10);
		} else if (c == 'r') {
			*rounds = atoi(optarg);
		} else {
			fprintf(stderr, "%s\n", usage);
			return -1;
		}
	}
	if (*rounds < 1 || *rounds > 10000 || *calls < *rounds) {
		fprintf(stderr, "%s\n--rounds must be 1..10000 and --calls at least that\n", usage);
		return -1;
	}
	return optind;
}

/* Is a prefix clear of 198.18.0.0/15, where the bench's IPv4 clients are? */
static int clear_of_clients(uint32_t addr, unsigned int plen)
{
	unsigned int common = plen < 15 ? plen : 15;
	uint32_t mask = common ? ~0u << (32 - common) : 0;

	return (addr & mask) != (0xc6120000u & mask);
}

void bench_block_rules(struct bpf_object *obj, uint32_t vip, size_t n, const char *extra)
{
	struct blocklist_maps m;
	struct blocklist *bl;
	uint32_t x = 0x2545f491u, addr;
	unsigned int plen;
	size_t added = 0;
	int err;

	if (testbed_blocklist_maps(obj, &m) || !(bl = blocklist_new(&m))) {
		fprintf(stderr, "bench: cannot open the block list\n");
		exit(EXIT_FAILURE);
	}
	while (added < n) {
		struct blocklist_rule r = { .vip = vip, .family = LB_FAMILY_IPV4 };

		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		plen = 12 + x % 21;
		addr = (x * 2654435761u) & (~0u << (32 - plen));
		if (!clear_of_clients(addr, plen))
			continue;
		r.plen = (uint8_t)plen;
		r.addr[0] = htonl(addr);
		err = blocklist_add(bl, &r);
		if (err && err != -EEXIST) {
			fprintf(stderr, "bench: cannot add a rule: %s\n", strerror(-err));
			exit(EXIT_FAILURE);
		}
		added += !err;
	}
	if (extra) {
		struct blocklist_rule r = { .vip = vip };

		if (blocklist_prefix_parse(extra, &r) || blocklist_add(bl, &r)) {
			fprintf(stderr, "bench: cannot add %s\n", extra);
			exit(EXIT_FAILURE);
		}
	}
	blocklist_free(bl);
}
