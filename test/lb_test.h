/* SPDX-License-Identifier: GPL-2.0-only */
/* Helpers shared by the Criterion suites that run BPF programs. */
#ifndef LB_TEST_H
#define LB_TEST_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <bpf/libbpf.h>

#include "apply.h"
#include "lb_abi.h"

/*
 * Skip the calling test when it cannot load BPF (not root); under CI=true
 * fail instead, since CI must run every test.
 */
void lb_test_require_bpf(void);

/*
 * Move the calling test (Criterion runs each in a process of its own)
 * into a new, anonymous network namespace, so that nothing it does
 * touches the host's; skip it when not root, or under CI=true fail.
 */
void lb_test_netns(void);

/* Run shell commands (a printf format), failing the test at the first
 * that fails. */
void lb_test_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The balancer's maps in obj, for apply_new(). Fails the test if one is
 * missing. */
struct apply_maps lb_test_apply_maps(struct bpf_object *obj);

/* One BPF_PROG_TEST_RUN call with repeat = 1. *out_len is the buffer size
 * on entry and the output length on return. Returns 0 or -errno. */
int lb_test_run(int prog_fd, const void *in, size_t in_len,
		void *out, size_t *out_len, uint32_t *verdict);

/* Sum the per-CPU values of one map entry whose value is an array of
 * __u64 counters: nwords counters land in sum[]. Returns 0 or -errno. */
int lb_test_percpu_sum(int map_fd, uint32_t key, uint64_t *sum, size_t nwords);

/* The same for entries 0 .. nkeys-1 of a per-CPU array in one batch call:
 * sums[k * nwords + i]. Returns 0 or -errno. */
int lb_test_percpu_sum_all(int map_fd, uint32_t nkeys, uint64_t *sums, size_t nwords);

/* The flow table as the data path keeps it (user/flowtab.h): write flow
 * k's entry on backend id (seen now, stamped block_gen), read it (0 or
 * -ENOENT), count the entries in use. Fail the test on other errors. */
void lb_test_flow_put(int flow_table_fd, const struct lb_flow_key *k, uint32_t id,
		      uint32_t block_gen);
int lb_test_flow_get(int flow_table_fd, const struct lb_flow_key *k, struct lb_flow_slot *out);
size_t lb_test_flow_count(int flow_table_fd);

/* Deterministic pseudo-random numbers (xorshift32) for shuffles and
 * random flows: the same seed gives the same sequence on every run. */
uint32_t lb_test_rand(uint32_t *state);

/* Parse a JSON file; NULL with a message on stderr on failure. */
json_t *lb_test_load_json(const char *path);

/* Decode a hex string into buf (at most cap bytes). Returns the length or -1. */
long lb_test_unhex(const char *hex, uint8_t *buf, size_t cap);

/* Format len bytes as hex for failure messages (static buffer, truncated). */
const char *lb_test_hex(const uint8_t *buf, size_t len);

#endif /* LB_TEST_H */
