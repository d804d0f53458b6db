// SPDX-License-Identifier: GPL-2.0-only
#include "lb_test.h"

#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <criterion/criterion.h>

#include "flowtab.h"

void lb_test_require_bpf(void)
{
	const char *ci = getenv("CI");

	if (geteuid() == 0)
		return;
	if (ci && strcmp(ci, "true") == 0)
		cr_assert_fail("this test needs root and BPF, and CI must run it");
	cr_skip_test("needs root and BPF (run as root)");
}

void lb_test_netns(void)
{
	const char *ci = getenv("CI");

	if (geteuid() != 0) {
		if (ci && strcmp(ci, "true") == 0)
			cr_assert_fail("needs root for a network namespace, and CI must run it");
		cr_skip_test("needs root for a network namespace (run as root)");
	}
	cr_assert_eq(unshare(CLONE_NEWNET), 0, "unshare(CLONE_NEWNET): %s", strerror(errno));
}

void lb_test_sh(const char *fmt, ...)
{
	char cmd[2048] = "set -e; ";
	size_t len = strlen(cmd);
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd + len, sizeof(cmd) - len, fmt, ap);
	va_end(ap);
	rc = system(cmd);
	cr_assert_eq(rc, 0, "command failed (%d): %s", rc, cmd);
}

struct apply_maps lb_test_apply_maps(struct bpf_object *obj)
{
	struct apply_maps m;

	cr_assert_eq(apply_maps_find(obj, &m), 0, "a map is missing");
	return m;
}

int lb_test_run(int prog_fd, const void *in, size_t in_len,
		void *out, size_t *out_len, uint32_t *verdict)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts,
		.data_in = in,
		.data_size_in = in_len,
		.data_out = out,
		.data_size_out = *out_len,
		.repeat = 1);
	int err;

	err = bpf_prog_test_run_opts(prog_fd, &opts);
	if (err)
		return -errno;
	*out_len = opts.data_size_out;
	*verdict = opts.retval;
	return 0;
}

int lb_test_percpu_sum(int map_fd, uint32_t key, uint64_t *sum, size_t nwords)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *vals;
	int cpu;
	size_t i;

	if (ncpu < 0)
		return ncpu;
	vals = calloc((size_t)ncpu * nwords, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	if (bpf_map_lookup_elem(map_fd, &key, vals)) {
		free(vals);
		return -errno;
	}
	memset(sum, 0, nwords * sizeof(*sum));
	for (cpu = 0; cpu < ncpu; cpu++)
		for (i = 0; i < nwords; i++)
			sum[i] += vals[(size_t)cpu * nwords + i];
	free(vals);
	return 0;
}

int lb_test_percpu_sum_all(int map_fd, uint32_t nkeys, uint64_t *sums, size_t nwords)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	int ncpu = libbpf_num_possible_cpus();
	uint32_t *keys, out_batch, count = nkeys, k;
	uint64_t *vals;
	size_t per_key;
	int cpu, err = 0;
	size_t i;

	if (ncpu < 0)
		return ncpu;
	per_key = (size_t)ncpu * nwords;
	keys = calloc(nkeys, sizeof(*keys));
	vals = calloc((size_t)nkeys * per_key, sizeof(*vals));
	if (!keys || !vals) {
		err = -ENOMEM;
		goto out;
	}
	/* An array always has every key, so one call returns them all. */
	if (bpf_map_lookup_batch(map_fd, NULL, &out_batch, keys, vals, &count, &opts) &&
	    errno != ENOENT) {
		err = -errno;
		goto out;
	}
	if (count != nkeys) {
		err = -EIO;
		goto out;
	}
	memset(sums, 0, (size_t)nkeys * nwords * sizeof(*sums));
	for (k = 0; k < nkeys; k++)
		for (cpu = 0; cpu < ncpu; cpu++)
			for (i = 0; i < nwords; i++)
				sums[(size_t)keys[k] * nwords + i] +=
					vals[(size_t)k * per_key + (size_t)cpu * nwords + i];
out:
	free(keys);
	free(vals);
	return err;
}

uint32_t lb_test_rand(uint32_t *state)
{
	uint32_t x = *state;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *state = x;
}

json_t *lb_test_load_json(const char *path)
{
	json_error_t err;
	json_t *root;

	root = json_load_file(path, JSON_REJECT_DUPLICATES, &err);
	if (!root)
		fprintf(stderr, "%s:%d:%d: %s\n", path, err.line, err.column, err.text);
	return root;
}

static int unhex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

long lb_test_unhex(const char *hex, uint8_t *buf, size_t cap)
{
	size_t n = strlen(hex), i;

	if (n % 2 || n / 2 > cap)
		return -1;
	for (i = 0; i < n / 2; i++) {
		int hi = unhex_digit(hex[2 * i]), lo = unhex_digit(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		buf[i] = (uint8_t)(hi << 4 | lo);
	}
	return (long)(n / 2);
}

const char *lb_test_hex(const uint8_t *buf, size_t len)
{
	static char out[8192];
	size_t i, max = (sizeof(out) - 1) / 2;

	if (len > max)
		len = max;
	for (i = 0; i < len; i++)
		sprintf(out + 2 * i, "%02x", buf[i]);
	out[2 * len] = '\0';
	return out;
}

void lb_test_flow_put(int flow_table_fd, const struct lb_flow_key *k, uint32_t id,
		      uint32_t block_gen)
{
	struct flowtab t;
	int rc = flowtab_open(flow_table_fd, 1, &t);

	cr_assert_eq(rc, 0, "cannot map the flow table: %s", strerror(-rc));
	rc = flowtab_put(&t, k, id, 0, block_gen, 0);
	flowtab_close(&t);
	cr_assert_eq(rc, 1, "cannot write a flow entry: %s", strerror(-rc));
}

int lb_test_flow_get(int flow_table_fd, const struct lb_flow_key *k, struct lb_flow_slot *out)
{
	int rc = flowtab_lookup(flow_table_fd, k, out);

	cr_assert(!rc || rc == -ENOENT, "cannot read the flow table: %s", strerror(-rc));
	return rc;
}

static int count_entry(const struct lb_flow_slot *e, void *data)
{
	(void)e;
	++*(size_t *)data;
	return 0;
}

size_t lb_test_flow_count(int flow_table_fd)
{
	size_t n = 0;
	int rc = flowtab_walk(flow_table_fd, count_entry, &n);

	cr_assert_eq(rc, 0, "cannot walk the flow table: %s", strerror(-rc));
	return n;
}
