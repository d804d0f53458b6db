// SPDX-License-Identifier: GPL-2.0-only
#include "datapath.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "lb_hash.h"

/* Fill entries [LB_TABLE_HDR, LB_TABLE_HDR + size) in one batch call and
 * the header last, so the map is complete before anything can see it. */
static int table_fill(int fd, const __u32 *table, __u32 size)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	__u32 count = size, hdr = 0, i;
	__u32 *keys;
	int err = 0;

	keys = malloc((size_t)size * sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	for (i = 0; i < size; i++)
		keys[i] = LB_TABLE_HDR + i;
	if (bpf_map_update_batch(fd, keys, table, &count, &opts))
		err = -errno;
	else if (bpf_map_update_elem(fd, &hdr, &size, BPF_ANY))
		err = -errno;
	free(keys);
	return err;
}

int datapath_table_swap(int vip_tables_fd, __u32 vip_id, const __u32 *table, __u32 size)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_INNER_MAP);
	int fd, err;

	if (!size || size > LB_TABLE_SIZE_MAX)
		return -EINVAL;
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "lb_table", sizeof(__u32), sizeof(__u32),
			    LB_TABLE_HDR + size, &opts);
	if (fd < 0)
		return -errno;
	err = table_fill(fd, table, size);
	if (!err && bpf_map_update_elem(vip_tables_fd, &vip_id, &fd, BPF_ANY))
		err = -errno;
	close(fd);
	return err;
}

/* All entries of an array map in one call (the kernel walks it for us). */
static int array_read(int fd, __u32 first, __u32 n, __u32 *out)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	__u32 *keys, count = LB_TABLE_HDR + n, batch;
	__u32 *vals;
	int err = 0;

	keys = malloc((size_t)count * sizeof(*keys));
	vals = malloc((size_t)count * sizeof(*vals));
	if (!keys || !vals) {
		err = -ENOMEM;
		goto out;
	}
	if (bpf_map_lookup_batch(fd, NULL, &batch, keys, vals, &count, &opts) && errno != ENOENT)
		err = -errno;
	else if (count < first + n)
		err = -EIO;
	else
		memcpy(out, vals + first, (size_t)n * sizeof(*out));
out:
	free(keys);
	free(vals);
	return err;
}

int datapath_table_read(int vip_tables_fd, __u32 vip_id, __u32 **table, __u32 *size)
{
	__u32 inner_id, hdr = 0, n = 0;
	__u32 *out;
	int fd, err;

	if (bpf_map_lookup_elem(vip_tables_fd, &vip_id, &inner_id))
		return errno == ENOENT ? -ENOENT : -errno;
	fd = bpf_map_get_fd_by_id(inner_id);
	if (fd < 0)
		return -errno;
	if (bpf_map_lookup_elem(fd, &hdr, &n) || !n) {
		err = n ? -errno : -ENOENT;
		goto out_close;
	}
	out = malloc((size_t)n * sizeof(*out));
	if (!out) {
		err = -ENOMEM;
		goto out_close;
	}
	err = array_read(fd, LB_TABLE_HDR, n, out);
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

/* The bits every vip_map entry asks for. 0 or -errno. */
static int filter_fill(int vip_map_fd, struct lb_vip_filter *filter)
{
	struct lb_vip_key key, *prev = NULL;
	struct lb_vip vip;
	__u32 bit;

	while (!bpf_map_get_next_key(vip_map_fd, prev, &key)) {
		bit = lb_addr_hash(key.addr, key.family) % LB_VIP_FILTER_BITS;
		filter_set(filter, bit);
		if (bpf_map_lookup_elem(vip_map_fd, &key, &vip)) {
			if (errno != ENOENT)	/* ENOENT: deleted meanwhile */
				return -errno;
		} else if (vip.flags & LB_VIP_F_HASH_L3) {
			filter_set(filter, LB_VIP_FILTER_L3(bit));
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
