// SPDX-License-Identifier: GPL-2.0-only
#include "datapath.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "lb_hash.h"

/* The kernel's ENOTSUPP, which bpf() returns as is; no uapi header has it. */
#define KERNEL_ENOTSUPP	524

/* The backend ids of a table as its inner map holds them: LB_TABLE_LANES
 * to an entry (lb_abi.h). Returns NULL when out of memory. */
static __u64 *table_pack(const __u32 *table, __u32 size, __u32 *n)
{
	__u64 *e;
	__u32 i;

	*n = LB_TABLE_ENTRIES(size) - LB_TABLE_HDR;
	e = calloc(*n, sizeof(*e));
	if (!e)
		return NULL;
	for (i = 0; i < size; i++)
		lb_table_lane_set(&e[lb_table_entry_of(i) - LB_TABLE_HDR], i, table[i]);
	return e;
}

/* Fill the id entries in one batch call and the header last, so the map is
 * complete before anything can see it. */
static int table_fill(int fd, const __u32 *table, __u32 size)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	__u32 n, count, zero = 0, i;
	__u64 hdr = size, *vals;
	__u32 *keys;
	int err = 0;

	vals = table_pack(table, size, &n);
	keys = malloc((size_t)n * sizeof(*keys));
	if (!vals || !keys) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++)
		keys[i] = LB_TABLE_HDR + i;
	count = n;
	if (bpf_map_update_batch(fd, keys, vals, &count, &opts))
		err = -errno;
	else if (bpf_map_update_elem(fd, &zero, &hdr, BPF_ANY))
		err = -errno;
out:
	free(keys);
	free(vals);
	return err;
}

int datapath_table_new(const __u32 *table, __u32 size)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_INNER_MAP);
	__u32 i, zero = 0;
	__u64 hdr = 0;
	int fd, err;

	if (size > LB_TABLE_SIZE_MAX || (size && !table))
		return -EINVAL;
	for (i = 0; i < size; i++)
		if (table[i] >= LB_MAX_BACKENDS)
			return -EINVAL;
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "lb_table", sizeof(__u32), sizeof(__u64),
			    LB_TABLE_ENTRIES(size), &opts);
	if (fd < 0)
		return -errno;
	if (size)
		err = table_fill(fd, table, size);
	else
		err = bpf_map_update_elem(fd, &zero, &hdr, BPF_ANY) ? -errno : 0;
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

int datapath_tables_install(int vip_tables_fd, const __u32 *vip_ids, const int *fds, __u32 *n)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	__u32 want = *n, i;

	if (!want)
		return 0;
	if (!bpf_map_update_batch(vip_tables_fd, vip_ids, fds, n, &opts))
		return 0;
	/* Kernels without batch updates on maps of maps: one by one. */
	if (errno != EINVAL && errno != KERNEL_ENOTSUPP && errno != EOPNOTSUPP)
		return -errno;
	for (i = 0; i < want; i++) {
		if (bpf_map_update_elem(vip_tables_fd, &vip_ids[i], &fds[i], BPF_ANY)) {
			*n = i;
			return -errno;
		}
	}
	*n = want;
	return 0;
}

int datapath_table_swap(int vip_tables_fd, __u32 vip_id, const __u32 *table, __u32 size)
{
	__u32 one = 1;
	int fd, err;

	if (!size)
		return -EINVAL;
	fd = datapath_table_new(table, size);
	if (fd < 0)
		return fd;
	err = datapath_tables_install(vip_tables_fd, &vip_id, &fd, &one);
	close(fd);
	return err;
}

/* Every entry of an inner table map in one call (the kernel walks it for
 * us), unpacked into size backend ids. */
static int table_unpack(int fd, __u32 size, __u32 *out)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	__u32 count = LB_TABLE_ENTRIES(size), batch, i;
	__u32 *keys;
	__u64 *vals;
	int err = 0;

	keys = malloc((size_t)count * sizeof(*keys));
	vals = malloc((size_t)count * sizeof(*vals));
	if (!keys || !vals) {
		err = -ENOMEM;
		goto out;
	}
	if (bpf_map_lookup_batch(fd, NULL, &batch, keys, vals, &count, &opts) && errno != ENOENT)
		err = -errno;
	else if (count < LB_TABLE_ENTRIES(size))
		err = -EIO;
	else
		for (i = 0; i < size; i++)
			out[i] = lb_table_lane(vals[lb_table_entry_of(i)], i);
out:
	free(keys);
	free(vals);
	return err;
}

int datapath_table_read(int vip_tables_fd, __u32 vip_id, __u32 **table, __u32 *size)
{
	__u32 inner_id, zero = 0, n;
	__u64 hdr = 0;
	__u32 *out;
	int fd, err;

	if (bpf_map_lookup_elem(vip_tables_fd, &vip_id, &inner_id))
		return errno == ENOENT ? -ENOENT : -errno;
	fd = bpf_map_get_fd_by_id(inner_id);
	if (fd < 0)
		return -errno;
	if (bpf_map_lookup_elem(fd, &zero, &hdr))
		err = -errno;
	else if (!hdr)
		err = -ENOENT;
	else if (hdr > LB_TABLE_SIZE_MAX)
		err = -EIO;
	else
		err = 0;
	if (err)
		goto out_close;
	n = (__u32)hdr;
	out = malloc((size_t)n * sizeof(*out));
	if (!out) {
		err = -ENOMEM;
		goto out_close;
	}
	err = table_unpack(fd, n, out);
	if (err) {
		free(out);
		goto out_close;
	}
	*table = out;
	*size = n;
out_close:
	close(fd);
	return err;
}

static void filter_set(struct lb_vip_filter *filter, __u32 bit)
{
	filter->bits[bit / 64] |= 1ULL << (bit % 64);
}

void datapath_filter_add(struct lb_vip_filter *filter, const struct lb_vip_key *k,
			 const struct lb_vip *v)
{
	__u32 bit = lb_addr_hash(k->addr, k->family) % LB_VIP_FILTER_BITS;

	filter_set(filter, bit);
	if (v->flags & LB_VIP_F_HASH_L3)
		filter_set(filter, LB_VIP_FILTER_L3(bit));
}

/* The bits every vip_map entry asks for. 0 or -errno. */
static int filter_fill(int vip_map_fd, struct lb_vip_filter *filter)
{
	struct lb_vip_key key, *prev = NULL;
	struct lb_vip vip;

	while (!bpf_map_get_next_key(vip_map_fd, prev, &key)) {
		if (bpf_map_lookup_elem(vip_map_fd, &key, &vip)) {
			if (errno != ENOENT)	/* ENOENT: deleted meanwhile */
				return -errno;
		} else {
			datapath_filter_add(filter, &key, &vip);
		}
		prev = &key;
	}
	return errno == ENOENT ? 0 : -errno;
}

int datapath_filter_sync(int vip_map_fd, int vip_filter_fd)
{
	struct lb_vip_filter *filter = calloc(1, sizeof(*filter));
	__u32 zero = 0;
	int err;

	if (!filter)
		return -ENOMEM;
	err = filter_fill(vip_map_fd, filter);
	if (!err && bpf_map_update_elem(vip_filter_fd, &zero, filter, BPF_ANY))
		err = -errno;
	free(filter);
	return err;
}

__u32 datapath_table_lookup(const __u32 *table, __u32 size, const struct lb_flow_key *key)
{
	return table[lb_flow_hash(key) % size];
}
