// SPDX-License-Identifier: GPL-2.0-only
#include "datapath.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include <bpf/bpf.h>

#include "lb_hash.h"

/* The kernel's ENOTSUPP, which bpf() returns as is; no uapi header has it. */
#define KERNEL_ENOTSUPP	524

/* An inner table map's entries, mapped: BPF_F_MMAPABLE arrays map whole
 * pages. MAP_FAILED on error, with errno. */
static __u64 *table_map(int fd, __u32 entries, int prot, size_t *len)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	*len = ((size_t)entries * sizeof(__u64) + page - 1) / page * page;
	return mmap(NULL, *len, prot, MAP_SHARED | MAP_POPULATE, fd, 0);
}

/* Write the packed ids and the size through a mapping of the new map: no
 * packet sees it before it is installed, so the order does not matter. */
static int table_fill(int fd, const __u32 *table, __u32 size)
{
	__u32 entries = LB_TABLE_ENTRIES(size), i;
	size_t len;
	__u64 *e = table_map(fd, entries, PROT_READ | PROT_WRITE, &len);

	if (e == MAP_FAILED)
		return -errno;
	/* A new array map starts zeroed: the lanes can be or-ed in. */
	for (i = 0; i < size; i++)
		lb_table_lane_set(&e[lb_table_entry_of(i)], i, table[i]);
	e[0] = size;
	munmap(e, len);
	return 0;
}

int datapath_table_new(const __u32 *table, __u32 size)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = LB_TABLE_MAP_FLAGS);
	int fd, err;
	__u32 i;

	if (size > LB_TABLE_SIZE_MAX || (size && !table))
		return -EINVAL;
	for (i = 0; i < size; i++)
		if (table[i] >= LB_MAX_BACKENDS)
			return -EINVAL;
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "lb_table", sizeof(__u32), sizeof(__u64),
			    LB_TABLE_ENTRIES(size), &opts);
	if (fd < 0)
		return -errno;
	/* The empty table is all zeros as created: size 0. */
	err = size ? table_fill(fd, table, size) : 0;
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

/* The ids of an installed table, read through a mapping of it. */
static int table_unpack(int fd, __u32 **table, __u32 *size)
{
	struct bpf_map_info info;
	__u32 len_info = sizeof(info), i, n;
	__u32 *out = NULL;
	size_t len;
	__u64 *e;
	int err = 0;

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len_info))
		return -errno;
	e = table_map(fd, info.max_entries, PROT_READ, &len);
	if (e == MAP_FAILED)
		return -errno;
	n = info.max_entries ? (__u32)e[0] : 0;
	if (!n)
		err = -ENOENT;
	else if (n > LB_TABLE_SIZE_MAX || LB_TABLE_ENTRIES(n) > info.max_entries)
		err = -EIO;
	else if (!(out = malloc((size_t)n * sizeof(*out))))
		err = -ENOMEM;
	for (i = 0; !err && i < n; i++)
		out[i] = lb_table_lane(e[lb_table_entry_of(i)], i);
	munmap(e, len);
	if (!err) {
		*table = out;
		*size = n;
	}
	return err;
}

int datapath_table_read(int vip_tables_fd, __u32 vip_id, __u32 **table, __u32 *size)
{
	__u32 inner_id;
	int fd, err;

	if (bpf_map_lookup_elem(vip_tables_fd, &vip_id, &inner_id))
		return errno == ENOENT ? -ENOENT : -errno;
	fd = bpf_map_get_fd_by_id(inner_id);
	if (fd < 0)
		return -errno;
	err = table_unpack(fd, table, size);
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

bool datapath_index_add(struct lb_vip_index *ix, const struct lb_vip_key *k,
			const struct lb_vip *v)
{
	struct lb_vip_slot *free_slot = NULL, *s;
	__u64 w[3];
	__u32 b;
	int i;

	memcpy(w, k, sizeof(w));
	b = lb_vip_index_bucket(w);
	for (i = 0; i < LB_VIP_INDEX_WAYS; i++) {
		s = &ix->slot[b][i];
		if (!memcmp(s->key, w, sizeof(w))) {
			s->vip = *v;
			return true;
		}
		if (!free_slot && !s->key[0] && !s->key[1] && !s->key[2])
			free_slot = s;
	}
	if (!free_slot)
		return false;
	memcpy(free_slot->key, w, sizeof(w));
	free_slot->vip = *v;
	return true;
}

int datapath_index_swap(int vip_index_fd, const struct lb_vip_index *ix)
{
	__u32 zero = 0;
	int fd, err = 0;

	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "lb_vip_index", sizeof(__u32), sizeof(*ix), 1,
			    NULL);
	if (fd < 0)
		return -errno;
	if (bpf_map_update_elem(fd, &zero, ix, BPF_ANY) ||
	    bpf_map_update_elem(vip_index_fd, &zero, &fd, BPF_ANY))
		err = -errno;
	close(fd);
	return err;
}

int datapath_index_sync(int vip_map_fd, int vip_index_fd)
{
	struct lb_vip_index *ix = calloc(1, sizeof(*ix));
	struct lb_vip_key key, *prev = NULL;
	struct lb_vip vip;
	int err = 0;

	if (!ix)
		return -ENOMEM;
	while (!err && !bpf_map_get_next_key(vip_map_fd, prev, &key)) {
		if (!bpf_map_lookup_elem(vip_map_fd, &key, &vip))
			datapath_index_add(ix, &key, &vip);
		else if (errno != ENOENT)	/* ENOENT: deleted meanwhile */
			err = -errno;
		prev = &key;
	}
	if (!err && errno != ENOENT)
		err = -errno;
	if (!err)
		err = datapath_index_swap(vip_index_fd, ix);
	free(ix);
	return err;
}

int datapath_map_walk(int fd, size_t key_size, size_t value_size, __u32 chunk,
		      int (*fn)(const void *key, const void *value, void *data), void *data)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	char *keys = calloc(chunk, key_size), *vals = calloc(chunk, value_size);
	__u32 batch, count, i;
	void *in = NULL;
	int rc = 0, done = 0;

	if (!keys || !vals)
		rc = -ENOMEM;
	while (!rc && !done) {
		count = chunk;
		if (bpf_map_lookup_batch(fd, in, &batch, keys, vals, &count, &opts)) {
			if (errno != ENOENT) {
				rc = -errno;
				break;
			}
			done = 1;
		}
		for (i = 0; !rc && i < count; i++)
			rc = fn(keys + i * key_size, vals + i * value_size, data);
		in = &batch;
	}
	free(keys);
	free(vals);
	return rc;
}

__u32 datapath_table_lookup(const __u32 *table, __u32 size, const struct lb_flow_key *key)
{
	return table[lb_flow_hash(key) % size];
}
