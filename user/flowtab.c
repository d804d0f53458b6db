// SPDX-License-Identifier: GPL-2.0-only
#include "flowtab.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/random.h>

#include <bpf/bpf.h>

#include "datapath.h"
#include "lb_flowtab.h"

/* Is fd the flow table of this release: an array of whole sets, mappable,
 * a power of two of them and the head? How many sets then. */
static int sets_of(int fd, __u32 *nsets)
{
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info), n;

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	n = info.max_entries - 1;
	if (info.type != BPF_MAP_TYPE_ARRAY || info.value_size != sizeof(struct lb_flow_set) ||
	    !(info.map_flags & BPF_F_MMAPABLE) || info.max_entries < 2 || (n & (n - 1)))
		return -EINVAL;
	*nsets = n;
	return 0;
}

int flowtab_head(int fd, __u32 *nsets, struct lb_flow_head *head)
{
	int rc = sets_of(fd, nsets);

	if (!rc && bpf_map_lookup_elem(fd, nsets, head))
		rc = -errno;
	if (!rc && head->magic != LB_FLOW_HEAD_MAGIC)
		rc = -ENOKEY;
	return rc;
}

int flowtab_draw(struct lb_flow_head *head)
{
	memset(head, 0, sizeof(*head));
	if (getrandom(&head->seed_set, sizeof(head->seed_set), 0) != sizeof(head->seed_set) ||
	    getrandom(&head->seed_tag, sizeof(head->seed_tag), 0) != sizeof(head->seed_tag))
		return -EIO;
	head->magic = LB_FLOW_HEAD_MAGIC;
	return 0;
}

int flowtab_head_write(int fd, __u32 nsets, const struct lb_flow_head *head)
{
	return bpf_map_update_elem(fd, &nsets, head, BPF_ANY) ? -errno : 0;
}

/* The seeds a table's program uses: its head's, or 0 (the program's
 * defaults) where nobody drew them. */
static void seeds_of(const struct lb_flow_head *head, __u32 *set, __u32 *tag)
{
	int drawn = head->magic == LB_FLOW_HEAD_MAGIC;

	*set = drawn ? head->seed_set : 0;
	*tag = drawn ? head->seed_tag : 0;
}

int flowtab_open(int fd, int writable, struct flowtab *t)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	int rc = sets_of(fd, &t->nsets);

	if (rc)
		return rc;
	t->len = ((size_t)(t->nsets + 1) * sizeof(struct lb_flow_set) + page - 1) / page * page;
	t->sets = mmap(NULL, t->len, PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED, fd, 0);
	if (t->sets == MAP_FAILED) {
		t->sets = NULL;
		return -errno;
	}
	seeds_of((const struct lb_flow_head *)&t->sets[t->nsets], &t->seed_set, &t->seed_tag);
	return 0;
}

void flowtab_close(struct flowtab *t)
{
	if (t->sets)
		munmap(t->sets, t->len);
	t->sets = NULL;
}

int flowtab_walk(int fd, int (*fn)(const struct lb_flow_slot *e, void *data), void *data)
{
	struct flowtab t;
	struct lb_flow_slot e;
	__u32 s;
	int w, rc = flowtab_open(fd, 0, &t);

	for (s = 0; !rc && s < t.nsets; s++)
		for (w = 0; !rc && w < LB_FLOW_WAYS; w++) {
			/* A copy: the data path may rewrite the way meanwhile,
			 * but tag and id come in one load. */
			e.tag_id = *(const volatile __u64 *)&t.sets[s].way[w].tag_id;
			e.seen = t.sets[s].way[w].seen;
			e.block_gen = t.sets[s].way[w].block_gen;
			if (e.tag_id & LB_FLOW_ID_MASK)
				rc = fn(&e, data);
		}
	flowtab_close(&t);
	return rc;
}

int flowtab_lookup(int fd, const struct lb_flow_key *k, struct lb_flow_slot *out)
{
	__u32 nsets, idx, id, seed_set, seed_tag;
	struct lb_flow_head head;
	struct lb_flow_set set;
	__u64 tag;
	int rc = flowtab_head(fd, &nsets, &head), way;

	if (rc && rc != -ENOKEY)
		return rc;
	seeds_of(&head, &seed_set, &seed_tag);
	idx = lb_flow_locate(k, seed_set, seed_tag, nsets - 1, &tag);
	if (bpf_map_lookup_elem(fd, &idx, &set))
		return -errno;
	way = lb_flow_way_find(&set, tag, &id);
	if (way < 0)
		return -ENOENT;
	*out = set.way[way];
	return 0;
}

/* Is jiffies a later than b, across a wrap of 32 bits? */
static int later(__u32 a, __u32 b)
{
	return (__s32)(a - b) > 0;
}

int flowtab_put(struct flowtab *t, const struct lb_flow_key *k, __u32 id, __u32 seen,
		__u32 block_gen, int keep)
{
	__u32 old, now = seen;
	struct lb_flow_set *s;
	__u64 tag;
	int way, i;

	if (!id || id >= LB_MAX_BACKENDS)
		return -EINVAL;
	s = &t->sets[lb_flow_locate(k, t->seed_set, t->seed_tag, t->nsets - 1, &tag)];
	way = lb_flow_way_find(s, tag, &old);
	if (way >= 0 && keep)
		return 0;
	if (way < 0) {
		/* Ages as the data path would see them now: from the set's
		 * latest time, which may be later than this flow's. */
		for (i = 0; i < LB_FLOW_WAYS; i++)
			if (s->way[i].tag_id && later(s->way[i].seen, now))
				now = s->way[i].seen;
		way = lb_flow_way_victim(s, now);
		/* A full set keeps its entries when all are younger. */
		if (s->way[way].tag_id && !later(seen, s->way[way].seen))
			return 0;
	}
	lb_flow_way_fill(&s->way[way], tag, id, seen, block_gen);
	return 1;
}

int flowtab_is_lru(int fd)
{
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info);

	return !bpf_obj_get_info_by_fd(fd, &info, &len) &&
	       (info.type == BPF_MAP_TYPE_LRU_HASH || info.type == BPF_MAP_TYPE_LRU_PERCPU_HASH) &&
	       info.key_size == sizeof(struct lb_flow_key) &&
	       info.value_size == sizeof(struct lb_flow_lru);
}

struct lru_flow {
	struct lb_flow_key key;
	struct lb_flow_lru val;
};

struct lru_read {
	struct lru_flow *v;
	size_t n, cap;
};

static int lru_one(const void *key, const void *value, void *data)
{
	struct lru_read *r = data;
	struct lru_flow *v;

	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 65536;
		v = realloc(r->v, r->cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		r->v = v;
	}
	memcpy(&r->v[r->n].key, key, sizeof(struct lb_flow_key));
	memcpy(&r->v[r->n].val, value, sizeof(struct lb_flow_lru));
	r->n++;
	return 0;
}

static int older_first(const void *a, const void *b)
{
	const struct lru_flow *x = a, *y = b;

	return (x->val.last_seen > y->val.last_seen) - (x->val.last_seen < y->val.last_seen);
}

int flowtab_carry_lru(int lru_fd, struct flowtab *t, size_t *carried)
{
	struct lru_read r = { 0 };
	size_t i;
	int rc;

	*carried = 0;
	/* An LRU map's bucket holds a handful of entries: 8192 a batch is
	 * room for the largest, as for every hash map lbd walks. */
	rc = datapath_map_walk(lru_fd, sizeof(struct lb_flow_key), sizeof(struct lb_flow_lru),
			       8192, lru_one, &r);
	if (!rc && r.n)
		qsort(r.v, r.n, sizeof(r.v[0]), older_first);
	for (i = 0; !rc && i < r.n; i++) {
		/* An id out of range names no backend: the data path would
		 * never follow it. */
		if (!r.v[i].val.backend_id || r.v[i].val.backend_id >= LB_MAX_BACKENDS)
			continue;
		*carried += (size_t)flowtab_put(t, &r.v[i].key, r.v[i].val.backend_id,
						(__u32)r.v[i].val.last_seen, r.v[i].val.block_gen,
						1);
	}
	free(r.v);
	return rc;
}
