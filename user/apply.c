// SPDX-License-Identifier: GPL-2.0-only
#include "apply.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "datapath.h"
#include "flowtab.h"
#include "lb_abi.h"
#include "maglev.h"
#include "state.h"
#include "tables.h"

/* A backend entry already in the map, indexed for lookup by identity. */
struct be_known {
	__u16 vip_id;
	__u8 family;
	bool up;
	__be32 addr[4];
	__u32 id;
};

struct vip_entry {
	struct lb_vip_key key;
	struct lb_vip val;
};

/* vip_map entries, sorted by key once complete (vip_list_sort()). */
struct vip_list {
	struct vip_entry *v;
	size_t n, cap;
};

/*
 * What the writer knows of the maps it wrote, between applies: the
 * backends map and vip_map as written, and the ids of the config of
 * generation `generation`, which apply_dirty() needs. Only after a full
 * apply that succeeded is it `valid`.
 */
struct apply {
	struct apply_maps m;
	struct tables *tables;
	struct lb_backend *cur;		/* LB_MAX_BACKENDS entries */
	__u32 *out_keys;		/* backend entries to write in one batch */
	struct lb_backend *out_vals;
	size_t n_out;
	struct vip_list vips;
	struct lb_vip_index *index;	/* the VIP index installed, when index_known */
	struct lb_vip_index *index_next;	/* the one being built */
	bool index_known;
	bool valid;
	__u64 generation;
	size_t n_vips;
	__u32 *vip_ids;			/* per config VIP */
	__u32 **be_ids;			/* per config VIP, per backend */
};

/* Everything one full apply works out before it writes. */
struct plan {
	struct apply *a;
	const struct apply_maps *m;
	const struct state *model;
	const struct config *cfg;
	const struct apply_env *env;
	struct lb_backend *cur;		/* a->cur, once read */
	struct be_known *known;		/* used entries, one per identity, sorted */
	size_t n_known;
	struct vip_list cur_vips;	/* vip_map as read, less what vips_release() deleted */
	struct vip_list want;		/* every vip_map entry the config asks for */
	__u32 *vip_ids;			/* per config VIP */
	__u32 **be_ids;			/* per config VIP, per backend */
	bool vip_taken[LB_MAX_VIPS];	/* held by a VIP in the maps or given out now */
	bool vip_kept[LB_MAX_VIPS];	/* held by a VIP the config keeps */
	bool vip_released[LB_MAX_VIPS];	/* a removed VIP's id given to a new VIP */
	bool vip_new[LB_MAX_VIPS];	/* given out by this apply */
	bool *be_taken;			/* LB_MAX_BACKENDS: assigned by this config */
	bool *be_reset;			/* LB_MAX_BACKENDS: given out again by this apply */
	bool *flow_refs;		/* ids some flow entry points at, when read */
	struct apply_stats *st;
	char *err;
	size_t errlen;
};

static int fail(struct plan *p, int rc, const char *what)
{
	snprintf(p->err, p->errlen, "%s: %s", what, strerror(-rc));
	return rc;
}

/* By identity: (VIP id, address). */
static int known_cmp(const void *a, const void *b)
{
	const struct be_known *x = a, *y = b;

	if (x->vip_id != y->vip_id)
		return x->vip_id < y->vip_id ? -1 : 1;
	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	return memcmp(x->addr, y->addr, sizeof(x->addr));
}

/* By identity, then live before retired, then by id. */
static int known_order(const void *a, const void *b)
{
	const struct be_known *x = a, *y = b;
	int c = known_cmp(a, b);

	if (c)
		return c;
	if (x->up != y->up)
		return x->up ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/*
 * Keep one entry per identity. Retired entries name no VIP, but maps
 * written before they did can hold two once a released VIP id was reused:
 * the removed VIP's backend, retired, and the new VIP's one at the same
 * address. The live one is the backend's id; were the retired one found
 * instead, every apply would move the backend between the two ids and
 * rebuild the table.
 */
static void known_dedup(struct plan *p)
{
	size_t i, n = 0;

	qsort(p->known, p->n_known, sizeof(*p->known), known_order);
	for (i = 0; i < p->n_known; i++)
		if (!n || known_cmp(&p->known[n - 1], &p->known[i]))
			p->known[n++] = p->known[i];
	p->n_known = n;
}

static int backends_read(struct plan *p)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	__u32 count = LB_MAX_BACKENDS, batch, *keys, i;
	struct lb_backend *vals;
	int rc = 0;

	keys = calloc(LB_MAX_BACKENDS, sizeof(*keys));
	vals = calloc(LB_MAX_BACKENDS, sizeof(*vals));
	p->known = calloc(LB_MAX_BACKENDS, sizeof(*p->known));
	if (!keys || !vals || !p->known)
		rc = -ENOMEM;
	else if (bpf_map_lookup_batch(p->m->backends, NULL, &batch, keys, vals, &count, &opts) &&
		 errno != ENOENT)
		rc = -errno;
	else if (count != LB_MAX_BACKENDS)
		rc = -EIO;
	/* The writer's view changes only for a whole read. */
	if (!rc) {
		memcpy(p->a->cur, vals, LB_MAX_BACKENDS * sizeof(*vals));
		p->cur = p->a->cur;
	}
	free(keys);
	free(vals);
	for (i = 1; !rc && i < LB_MAX_BACKENDS; i++) {
		struct be_known *k = &p->known[p->n_known];

		if (!p->cur[i].family || p->cur[i].vip_id == LB_BACKEND_VIP_NONE)
			continue;
		k->vip_id = p->cur[i].vip_id;
		k->family = p->cur[i].family;
		k->up = p->cur[i].flags & LB_BACKEND_F_UP;
		memcpy(k->addr, p->cur[i].addr, sizeof(k->addr));
		k->id = i;
		p->n_known++;
	}
	known_dedup(p);
	return rc;
}

static int vip_list_add(struct vip_list *l, const struct lb_vip_key *k, const struct lb_vip *v)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct vip_entry *nv = realloc(l->v, cap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		l->v = nv;
		l->cap = cap;
	}
	l->v[l->n].key = *k;
	l->v[l->n].val = *v;
	l->n++;
	return 0;
}

static int vip_entry_cmp(const void *a, const void *b)
{
	return memcmp(&((const struct vip_entry *)a)->key, &((const struct vip_entry *)b)->key,
		      sizeof(struct lb_vip_key));
}

static void vip_list_sort(struct vip_list *l)
{
	qsort(l->v, l->n, sizeof(*l->v), vip_entry_cmp);
}

static struct vip_entry *vip_list_find(const struct vip_list *l, const struct lb_vip_key *k)
{
	struct vip_entry want = { .key = *k };

	return l->n ? bsearch(&want, l->v, l->n, sizeof(*l->v), vip_entry_cmp) : NULL;
}

static int vip_read(const void *key, const void *value, void *data)
{
	return vip_list_add(data, key, value);
}

/* vip_map in batches (a walk by key takes two calls an entry); a chunk of
 * the map's size, so no bucket overflows it. */
static int vips_read(struct plan *p)
{
	int rc = datapath_map_walk(p->m->vip_map, sizeof(struct lb_vip_key),
				   sizeof(struct lb_vip), LB_MAX_VIPS * 4, vip_read, &p->cur_vips);

	vip_list_sort(&p->cur_vips);
	return rc;
}

static struct lb_vip_key service_key(const struct config_vip *v)
{
	struct lb_vip_key k;

	memset(&k, 0, sizeof(k));
	memcpy(k.addr, v->addr, sizeof(k.addr));
	k.family = v->family;
	k.port = htons(v->port);
	k.proto = v->proto;
	return k;
}

static bool is_service(const struct lb_vip_key *k)
{
	return !k->flags && (k->proto == IPPROTO_TCP || k->proto == IPPROTO_UDP);
}

/* Zero a per-CPU counter entry, so a reused id starts from nothing. */
static int stats_reset(int fd, __u32 id, size_t value_size)
{
	int ncpu = libbpf_num_possible_cpus();
	void *zero;
	int rc = 0;

	if (ncpu < 0)
		return ncpu;
	zero = calloc((size_t)ncpu, (value_size + 7) & ~(size_t)7);
	if (!zero)
		return -ENOMEM;
	if (bpf_map_update_elem(fd, &id, zero, BPF_ANY))
		rc = -errno;
	free(zero);
	return rc;
}

/* A new VIP's id: the lowest one no VIP in the maps holds, so a VIP being
 * removed does not lend its id to a new one while packets may still find
 * it; only when none is left, the id of a VIP this config removes (its
 * entries are deleted before the new VIP's table goes in: vips_release()). */
static int vip_id_new(struct plan *p, __u32 *id)
{
	__u32 i;

	for (i = 0; i < LB_MAX_VIPS; i++) {
		if (!p->vip_taken[i]) {
			*id = i;
			return 0;
		}
	}
	for (i = 0; i < LB_MAX_VIPS; i++) {
		if (!p->vip_kept[i] && !p->vip_released[i]) {
			p->vip_released[i] = true;
			*id = i;
			return 0;
		}
	}
	return -ENOSPC;
}

static int vip_ids_assign(struct plan *p)
{
	const struct config *cfg = p->cfg;
	struct vip_entry *e;
	size_t i;
	int rc;

	for (i = 0; i < p->cur_vips.n; i++)
		if (is_service(&p->cur_vips.v[i].key) && p->cur_vips.v[i].val.id < LB_MAX_VIPS)
			p->vip_taken[p->cur_vips.v[i].val.id] = true;
	/* An id that backends still up name is not free either, VIP entry
	 * or not: an apply that removed a VIP and failed before retiring its
	 * backends leaves them up, their flows following them without a VIP
	 * lookup. A new VIP given that id would carry those flows and count
	 * them. (A retired backend's flows go to the VIP lookup, and pass.) */
	for (i = 0; i < p->n_known; i++)
		if (p->known[i].up && p->known[i].vip_id < LB_MAX_VIPS)
			p->vip_taken[p->known[i].vip_id] = true;
	for (i = 0; i < cfg->n_vips; i++) {
		struct lb_vip_key k = service_key(&cfg->vips[i]);

		e = vip_list_find(&p->cur_vips, &k);
		p->vip_ids[i] = e ? e->val.id : LB_MAX_VIPS;
		if (e && e->val.id < LB_MAX_VIPS)
			p->vip_kept[e->val.id] = true;
	}
	for (i = 0; i < cfg->n_vips; i++) {
		if (p->vip_ids[i] < LB_MAX_VIPS)
			continue;
		rc = vip_id_new(p, &p->vip_ids[i]);
		if (rc)
			return fail(p, rc, "no free VIP id");
		p->vip_taken[p->vip_ids[i]] = true;
		p->vip_new[p->vip_ids[i]] = true;
		p->st->vips_added++;
	}
	return 0;
}

/*
 * Whether a backend the config no longer has must be retired now: its
 * flows leave it. While its VIP stays, the entry keeps naming the VIP, so
 * the same address coming back gets its id again. Once the VIP is gone
 * (forget), the entry names no VIP: a new service that takes the VIP's id
 * must never take this id with it, or the removed service's flows, which
 * follow their entries without a VIP lookup, would be sent on again.
 */
static bool backend_retiring(const struct plan *p, __u32 id, bool *forget)
{
	const struct lb_backend *b = &p->cur[id];

	if (!b->family || p->be_taken[id] || b->vip_id == LB_BACKEND_VIP_NONE)
		return false;
	*forget = b->vip_id >= LB_MAX_VIPS || !p->vip_kept[b->vip_id];
	return *forget || (b->flags & LB_BACKEND_F_UP);
}

static int backend_retire(struct plan *p, __u32 id, bool forget)
{
	struct lb_backend b = p->cur[id];

	b.flags = 0;
	if (forget)
		b.vip_id = LB_BACKEND_VIP_NONE;
	if (bpf_map_update_elem(p->m->backends, &id, &b, BPF_ANY))
		return fail(p, -errno, "retiring a backend");
	p->cur[id] = b;
	p->st->backends_retired++;
	return 0;
}

/*
 * Retire the backends the config no longer has (their ids stay reserved
 * until no flow entry names them). released: only those of VIPs whose ids
 * new VIPs take, which vips_release() retires before the new VIPs'
 * counters are reset, or the removed VIPs' flows, which follow their
 * entries without a VIP lookup, would go on counting for the new ones.
 */
static int backends_retire(struct plan *p, bool released)
{
	bool forget;
	__u32 id;
	int rc;

	for (id = 1; id < LB_MAX_BACKENDS; id++) {
		if (!backend_retiring(p, id, &forget))
			continue;
		if (released && (p->cur[id].vip_id >= LB_MAX_VIPS ||
				 !p->vip_released[p->cur[id].vip_id]))
			continue;
		rc = backend_retire(p, id, forget);
		if (rc)
			return rc;
	}
	return 0;
}

static bool entry_released(const bool *released, const struct vip_entry *e)
{
	return released && e->val.id < LB_MAX_VIPS && released[e->val.id];
}

/*
 * The VIP index of list l's entries (less those leading to a released id,
 * when released is given), installed unless it is the one in place. It may
 * only hold what vip_map holds: written after the entries it has, and
 * before any it lacks is deleted (datapath_index_swap()). 0 or -errno.
 */
static int index_install(struct apply *a, const struct vip_list *l, const bool *released)
{
	size_t i;
	int rc;

	memset(a->index_next, 0, sizeof(*a->index_next));
	for (i = 0; i < l->n; i++)
		if (!entry_released(released, &l->v[i]))
			datapath_index_add(a->index_next, &l->v[i].key, &l->v[i].val);
	if (a->index_known && !memcmp(a->index_next, a->index, sizeof(*a->index)))
		return 0;
	a->index_known = false;
	rc = datapath_index_swap(a->m.vip_index, a->index_next);
	if (rc)
		return rc;
	memcpy(a->index, a->index_next, sizeof(*a->index));
	a->index_known = true;
	return 0;
}

static int index_write(struct plan *p, const struct vip_list *l, const bool *released)
{
	int rc = index_install(p->a, l, released);

	return rc ? fail(p, rc, "writing the VIP index") : 0;
}

/* Delete every entry that leads to an id vip_id_new() gave to a new VIP,
 * before that VIP's table takes the slot, and retire its backends. The
 * entries leave cur_vips too: vips_write() must write them again where the
 * new VIP wants the same key with the same value (its fragment and echo
 * entries, for a VIP that only changed port). */
static int vips_release(struct plan *p)
{
	struct vip_list *l = &p->cur_vips;
	size_t i, n = 0;
	int rc;

	/* Out of the index first: the id is about to lead to another table. */
	rc = index_write(p, l, p->vip_released);
	if (rc)
		return rc;
	for (i = 0; i < l->n; i++) {
		const struct vip_entry *e = &l->v[i];

		if (!entry_released(p->vip_released, e)) {
			l->v[n++] = *e;
			continue;
		}
		if (bpf_map_delete_elem(p->m->vip_map, &e->key) && errno != ENOENT)
			return fail(p, -errno, "removing a VIP");
		if (is_service(&e->key))
			p->st->vips_removed++;
	}
	l->n = n;
	return backends_retire(p, true);
}

static int flow_ref(const struct lb_flow_slot *e, void *data)
{
	bool *refs = data;

	refs[e->tag_id & LB_FLOW_ID_MASK] = true;
	return 0;
}

/* Which backend ids some flow entry points at. Read once, when needed: the
 * flow table may hold millions of entries. */
static int flow_refs_read(struct plan *p)
{
	p->flow_refs = calloc(LB_MAX_BACKENDS, sizeof(bool));
	if (!p->flow_refs)
		return -ENOMEM;
	return flowtab_walk(p->m->flow_table, flow_ref, p->flow_refs);
}

/* A never-used id, else one retired by an earlier apply (so in no table)
 * that no flow entry points at. */
static int backend_id_new(struct plan *p, __u32 *next_free, __u32 *id)
{
	__u32 i;
	int rc;

	while (*next_free < LB_MAX_BACKENDS &&
	       (p->cur[*next_free].family || p->be_taken[*next_free]))
		(*next_free)++;
	if (*next_free < LB_MAX_BACKENDS) {
		*id = (*next_free)++;
		return 0;
	}
	if (!p->flow_refs) {
		rc = flow_refs_read(p);
		if (rc)
			return rc;
	}
	for (i = 1; i < LB_MAX_BACKENDS; i++) {
		if (!p->be_taken[i] && !(p->cur[i].flags & LB_BACKEND_F_UP) &&
		    !p->flow_refs[i]) {
			*id = i;
			return 0;
		}
	}
	return -ENOSPC;
}

/* Two passes: every backend the maps already know keeps its id, and only
 * then do new ones get ids, so no id can be handed out twice. */
static int backend_ids_assign(struct plan *p)
{
	const struct config *cfg = p->cfg;
	__u32 next_free = 1;
	size_t i, j;
	int rc;

	for (i = 0; i < cfg->n_vips; i++) {
		const struct config_vip *v = &cfg->vips[i];

		for (j = 0; j < v->n_backends; j++) {
			struct be_known want = { .vip_id = (__u16)p->vip_ids[i] }, *k;

			want.family = v->backends[j].family;
			memcpy(want.addr, v->backends[j].addr, sizeof(want.addr));
			k = bsearch(&want, p->known, p->n_known, sizeof(*k), known_cmp);
			/* A released VIP id's backends belong to the removed VIP. */
			if (!k || p->vip_released[p->vip_ids[i]])
				continue;
			p->be_ids[i][j] = k->id;
			p->be_taken[k->id] = true;
		}
	}
	for (i = 0; i < cfg->n_vips; i++) {
		for (j = 0; j < cfg->vips[i].n_backends; j++) {
			if (p->be_ids[i][j])
				continue;
			rc = backend_id_new(p, &next_free, &p->be_ids[i][j]);
			if (rc)
				return fail(p, rc, "no free backend id");
			p->be_taken[p->be_ids[i][j]] = true;
			/* A never-used id's counters are zero: nothing could
			 * count for it. */
			p->be_reset[p->be_ids[i][j]] = p->cur[p->be_ids[i][j]].family != 0;
			p->st->backends_added++;
		}
	}
	return 0;
}

/* Zero the counters of the ids this apply gives out, so a reused id starts
 * from nothing. Not while planning: a released VIP id counts for the removed
 * VIP until vips_release() has removed its entries and retired its
 * backends. Before tables_write() and vips_write(), which let packets reach
 * the ids. */
static int counters_reset(struct plan *p)
{
	__u32 id;
	int rc;

	for (id = 0; id < LB_MAX_VIPS; id++) {
		if (!p->vip_new[id])
			continue;
		rc = stats_reset(p->m->vip_stats, id, sizeof(struct lb_vip_stats));
		if (rc)
			return fail(p, rc, "resetting VIP counters");
	}
	for (id = 1; id < LB_MAX_BACKENDS; id++) {
		if (!p->be_reset[id])
			continue;
		rc = stats_reset(p->m->backend_stats, id, sizeof(struct lb_backend_stats));
		if (rc)
			return fail(p, rc, "resetting backend counters");
	}
	return 0;
}

/* What a backend's entry should hold: up unless its effective state is
 * out; marked l3 when its VIP hashes on addresses. */
static struct lb_backend backend_want(const struct state_vip *v, size_t j, __u32 vip_id)
{
	const struct config_backend *b = &v->cfg->backends[j];
	struct lb_backend want = {
		.family = b->family,
		.flags = (v->be[j].eff == STATE_OUT ? 0 : LB_BACKEND_F_UP) |
			 (v->cfg->hash_l3 ? LB_BACKEND_F_L3 : 0),
		.vip_id = (__u16)vip_id,
	};

	memcpy(want.addr, b->addr, sizeof(want.addr));
	return want;
}

/*
 * Backends are written in two passes around the tables: first every entry
 * that is new or goes up (before a table names it), then, once the tables
 * no longer name them, the ones that go down (only then do their flows
 * leave: before, a flow placed again could be placed on them again).
 */
enum be_pass { BE_RAISE, BE_LOWER };

/* Queue an entry for backends_flush(); each id at most once a pass. */
static void backend_write(struct apply *a, __u32 id, struct lb_backend want, enum be_pass pass,
			  size_t *changed)
{
	struct lb_backend *cur = &a->cur[id];
	bool lowering = (cur->flags & LB_BACKEND_F_UP) && !(want.flags & LB_BACKEND_F_UP);

	if (pass == BE_RAISE && lowering)
		want.flags |= LB_BACKEND_F_UP;
	if (!memcmp(&want, cur, sizeof(want)))
		return;
	if (cur->family && changed)
		(*changed)++;
	a->out_keys[a->n_out] = id;
	a->out_vals[a->n_out++] = want;
}

/* One batched update for a pass's entries: the kernel copies them all in
 * one call, where one call each cost 2 us an entry. */
static int backends_flush(struct apply *a)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	__u32 count = (__u32)a->n_out, i;
	int rc = 0;

	if (count && bpf_map_update_batch(a->m.backends, a->out_keys, a->out_vals, &count, &opts))
		rc = -errno;
	for (i = 0; i < count && i < a->n_out; i++)
		a->cur[a->out_keys[i]] = a->out_vals[i];
	a->n_out = 0;
	return rc;
}

static void vip_backends_write(struct apply *a, const struct state_vip *v, __u32 vip_id,
			       const __u32 *ids, enum be_pass pass, size_t *changed)
{
	size_t j;

	for (j = 0; j < v->cfg->n_backends; j++)
		backend_write(a, ids[j], backend_want(v, j, vip_id), pass, changed);
}

static int backends_write(struct plan *p, enum be_pass pass)
{
	size_t i, *changed = pass == BE_RAISE ? &p->st->backends_changed : NULL;
	int rc;

	for (i = 0; i < p->cfg->n_vips; i++)
		vip_backends_write(p->a, &p->model->vips[i], p->vip_ids[i], p->be_ids[i], pass,
				   changed);
	rc = backends_flush(p->a);
	return rc ? fail(p, rc, "writing backends") : 0;
}

/*
 * Hand a VIP's table to the table writer: built from the backends whose
 * effective state is in, with their effective weights. A VIP in all_down
 * with the drop policy keeps whatever table it has: its flag drops its
 * packets before any table is read, and the table is there again when a
 * backend comes back.
 */
static int table_set(struct apply *a, const struct state_vip *v, __u32 vip_id, const __u32 *ids,
		     struct maglev_backend *mb, char *err, size_t errlen)
{
	const struct config_vip *cv = v->cfg;
	char why[160];
	size_t j, n = 0;
	int rc;

	if (v->all_down && cv->all_down_drop)
		return 0;
	for (j = 0; j < cv->n_backends; j++) {
		if (v->be[j].eff != STATE_IN)
			continue;
		memset(&mb[n], 0, sizeof(mb[n]));
		mb[n].id = ids[j];
		mb[n].weight = v->be[j].weight;
		mb[n].family = cv->backends[j].family;
		memcpy(mb[n].addr, cv->backends[j].addr, sizeof(mb[n].addr));
		n++;
	}
	rc = tables_set(a->tables, vip_id, mb, n, cv->table_size, why, sizeof(why));
	if (rc)
		snprintf(err, errlen, "VIP %s: %s", cv->name, why);
	return rc;
}

static int tables_write(struct plan *p)
{
	struct maglev_backend *mb = calloc(LB_MAX_BACKENDS, sizeof(*mb));
	size_t i;
	__u32 id;
	int rc = 0;

	if (!mb)
		return fail(p, -ENOMEM, "building tables");
	/* A new VIP may hold a removed one's id: whatever the writer
	 * remembers of that id is not this VIP's. */
	for (id = 0; id < LB_MAX_VIPS; id++)
		if (p->vip_new[id])
			tables_forget(p->a->tables, id);
	for (i = 0; !rc && i < p->cfg->n_vips; i++)
		rc = table_set(p->a, &p->model->vips[i], p->vip_ids[i], p->be_ids[i], mb, p->err,
			       p->errlen);
	free(mb);
	if (!rc)
		rc = tables_flush(p->a->tables, p->err, p->errlen);
	return rc;
}

static bool same_addr(const struct config_vip *a, const struct config_vip *b)
{
	return a->family == b->family && !memcmp(a->addr, b->addr, sizeof(a->addr));
}

/* The first VIP of the run of VIPs on the same address as VIP i: the
 * config is sorted by address first, so such VIPs are neighbours. */
static size_t addr_run_start(const struct config *cfg, size_t i)
{
	while (i && same_addr(&cfg->vips[i - 1], &cfg->vips[i]))
		i--;
	return i;
}

/* Which VIP later fragments of (address, protocol) go to: the l3 VIP if
 * there is one, else the first 5tuple VIP, whose packet path drops them. */
static size_t frag_target(const struct config *cfg, size_t i)
{
	const struct config_vip *v = &cfg->vips[i];
	size_t j, first = SIZE_MAX;

	for (j = addr_run_start(cfg, i); j < cfg->n_vips && same_addr(&cfg->vips[j], v); j++) {
		if (cfg->vips[j].proto != v->proto)
			continue;
		if (cfg->vips[j].hash_l3)
			return j;
		if (first == SIZE_MAX)
			first = j;
	}
	return first;
}

/* The flags of VIP i's service entry (and of its fragment entry, if later
 * fragments go to it). */
static __u32 vip_flags(const struct state *st, size_t i)
{
	const struct state_vip *v = &st->vips[i];
	__u32 f = v->cfg->hash_l3 ? LB_VIP_F_HASH_L3 : 0;

	if (v->all_down && v->cfg->all_down_drop)
		f |= LB_VIP_F_ALL_DOWN;
	return f;
}

/* The fragment entry of VIP i's (address, protocol), when it leads to i. */
static bool frag_entry(const struct state *st, const __u32 *vip_ids, size_t i,
		       struct vip_entry *e)
{
	if (frag_target(st->cfg, i) != i)
		return false;
	e->key = service_key(&st->cfg->vips[i]);
	e->key.port = 0;
	e->key.flags = LB_VIP_KEY_FRAG;
	e->val.id = vip_ids[i];
	e->val.flags = vip_flags(st, i);
	return true;
}

/* Every vip_map entry the config asks for, each once: services, the
 * fragment entry of each (address, protocol), and the echo entry of each
 * address, which names the address's first VIP. */
static int vips_wanted(struct plan *p)
{
	const struct config *cfg = p->cfg;
	struct vip_list *want = &p->want;
	struct vip_entry e;
	size_t i;
	int rc = 0;

	for (i = 0; !rc && i < cfg->n_vips; i++) {
		const struct config_vip *v = &cfg->vips[i];

		e.key = service_key(v);
		e.val.id = p->vip_ids[i];
		e.val.flags = vip_flags(p->model, i);
		rc = vip_list_add(want, &e.key, &e.val);
		if (!rc && frag_entry(p->model, p->vip_ids, i, &e))
			rc = vip_list_add(want, &e.key, &e.val);
		if (rc || addr_run_start(cfg, i) != i)
			continue;
		/* Pings to a VIP address are answered by the node. */
		e.key = service_key(v);
		e.key.port = 0;
		e.key.proto = v->family == LB_FAMILY_IPV4 ? IPPROTO_ICMP : IPPROTO_ICMPV6;
		e.val.id = p->vip_ids[i];
		e.val.flags = 0;
		rc = vip_list_add(want, &e.key, &e.val);
	}
	vip_list_sort(want);
	return rc;
}

static int vip_entry_write(struct apply *a, const struct vip_list *have,
			   const struct vip_entry *want)
{
	const struct vip_entry *e = vip_list_find(have, &want->key);

	if (e && !memcmp(&e->val, &want->val, sizeof(e->val)))
		return 0;
	return bpf_map_update_elem(a->m.vip_map, &want->key, &want->val, BPF_ANY) ? -errno : 0;
}

static int vips_write(struct plan *p)
{
	size_t i;
	int rc;

	for (i = 0; i < p->want.n; i++) {
		rc = vip_entry_write(p->a, &p->cur_vips, &p->want.v[i]);
		if (rc)
			return fail(p, rc, "writing a VIP");
	}
	/* The index, now that vip_map has every entry in it, and before
	 * vips_remove() deletes those it lacks. */
	return index_write(p, &p->want, NULL);
}

/* Entries and tables of VIPs the config no longer has (those of released
 * ids are gone already). A removed VIP's table is replaced by the empty
 * one: its id may be given to a new VIP in a later apply. */
static int vips_remove(struct plan *p)
{
	size_t i, j;
	int rc;

	for (i = 0; i < p->cur_vips.n; i++) {
		const struct vip_entry *e = &p->cur_vips.v[i];
		bool id_kept = false;

		if (vip_list_find(&p->want, &e->key))
			continue;
		if (bpf_map_delete_elem(p->m->vip_map, &e->key) && errno != ENOENT)
			return fail(p, -errno, "removing a VIP");
		if (!is_service(&e->key))
			continue;
		p->st->vips_removed++;
		for (j = 0; j < p->cfg->n_vips; j++)
			id_kept |= p->vip_ids[j] == e->val.id;
		if (id_kept || e->val.id >= LB_MAX_VIPS)
			continue;
		rc = tables_set(p->a->tables, e->val.id, NULL, 0, 0, p->err, p->errlen);
		if (rc)
			return rc;
	}
	return tables_flush(p->a->tables, p->err, p->errlen);
}

/* The VIP filter, from the entries in vip_map now: one write when it
 * changes. */
static int filter_write(struct plan *p, const struct vip_list *a, const struct vip_list *b)
{
	struct lb_vip_filter *want = calloc(1, sizeof(*want)), *have = malloc(sizeof(*have));
	__u32 zero = 0;
	size_t i;
	int rc = 0;

	if (!want || !have)
		rc = -ENOMEM;
	for (i = 0; !rc && i < a->n; i++)
		datapath_filter_add(want, &a->v[i].key, &a->v[i].val);
	for (i = 0; !rc && b && i < b->n; i++)
		datapath_filter_add(want, &b->v[i].key, &b->v[i].val);
	if (!rc && bpf_map_lookup_elem(p->m->vip_filter, &zero, have))
		rc = -errno;
	if (!rc && memcmp(want, have, sizeof(*want)) &&
	    bpf_map_update_elem(p->m->vip_filter, &zero, want, BPF_ANY))
		rc = -errno;
	free(want);
	free(have);
	return rc ? fail(p, rc, "writing the VIP filter") : 0;
}

static int config_write(struct plan *p)
{
	const struct config *cfg = p->cfg;
	const struct apply_env *env = p->env;
	struct lb_config have, want;
	static const __u8 zero_mac[6];
	__u32 zero = 0;

	if (bpf_map_lookup_elem(p->m->lb_cfg, &zero, &have))
		return fail(p, -errno, "reading lb_cfg");
	memset(&want, 0, sizeof(want));
	memcpy(want.src_mac, env->src_mac, 6);
	if (!cfg->next_hop_auto)
		memcpy(want.next_hop_mac, cfg->next_hop, 6);
	else if (memcmp(env->next_hop, zero_mac, 6))
		memcpy(want.next_hop_mac, env->next_hop, 6);
	else
		memcpy(want.next_hop_mac, have.next_hop_mac, 6);	/* until resolved */
	want.mtu = (__u16)(cfg->mtu ? cfg->mtu : env->mtu);
	want.src4 = cfg->has_src4 ? cfg->src4 : 0;
	want.src4_plen = cfg->has_src4 ? cfg->src4_plen : 32;
	if (cfg->has_src6)
		memcpy(want.src6, cfg->src6, sizeof(want.src6));
	want.src6_plen = cfg->has_src6 ? cfg->src6_plen : 128;
	want.flow_cap = cfg->new_flow_cap;
	/* The block lists' counts and generation are blocklist.c's to write. */
	want.deny4_rules = have.deny4_rules;
	want.deny6_rules = have.deny6_rules;
	want.allow_rules = have.allow_rules;
	want.block_gen = have.block_gen;
	if (!memcmp(&have, &want, sizeof(want)))
		return 0;
	if (bpf_map_update_elem(p->m->lb_cfg, &zero, &want, BPF_ANY))
		return fail(p, -errno, "writing lb_cfg");
	return 0;
}

static int plan_alloc(struct plan *p)
{
	size_t i;

	p->vip_ids = calloc(p->cfg->n_vips + 1, sizeof(*p->vip_ids));
	p->be_ids = calloc(p->cfg->n_vips + 1, sizeof(*p->be_ids));
	p->be_taken = calloc(LB_MAX_BACKENDS, sizeof(*p->be_taken));
	p->be_reset = calloc(LB_MAX_BACKENDS, sizeof(*p->be_reset));
	if (!p->vip_ids || !p->be_ids || !p->be_taken || !p->be_reset)
		return -ENOMEM;
	for (i = 0; i < p->cfg->n_vips; i++) {
		p->be_ids[i] = calloc(p->cfg->vips[i].n_backends + 1, sizeof(**p->be_ids));
		if (!p->be_ids[i])
			return -ENOMEM;
	}
	return 0;
}

static void ids_free(__u32 **be_ids, size_t n)
{
	size_t i;

	for (i = 0; be_ids && i < n; i++)
		free(be_ids[i]);
	free(be_ids);
}

static void plan_free(struct plan *p)
{
	ids_free(p->be_ids, p->cfg->n_vips);
	free(p->vip_ids);
	free(p->be_taken);
	free(p->be_reset);
	free(p->flow_refs);
	free(p->known);
	free(p->cur_vips.v);
	free(p->want.v);
}

/*
 * Everything that can fail because of what the config asks for: ids for new
 * VIPs and backends (-ENOSPC when none is free). It only reads the maps.
 * vip_map needs no check for room: at most three entries per VIP id (service,
 * echo, fragments) are in it at once, and it holds four.
 */
static int plan_make(struct plan *p)
{
	int rc;

	rc = plan_alloc(p);
	if (rc)
		return fail(p, rc, "planning");
	rc = backends_read(p);
	if (rc)
		return fail(p, rc, "reading backends");
	rc = vips_read(p);
	if (rc)
		return fail(p, rc, "reading VIPs");
	rc = vip_ids_assign(p);
	if (!rc)
		rc = backend_ids_assign(p);
	if (!rc && (rc = vips_wanted(p)))
		fail(p, rc, "planning VIPs");
	return rc;
}

/*
 * The order keeps every packet's view whole: settings first, then backend
 * entries before any table names them, tables before any VIP entry leads
 * to them, and removals last. A VIP that all_down "drop" takes over gets
 * its flag (vips_write()) before its backends go down; one that comes
 * back gets its backends and its table before the flag goes.
 */
static int plan_write(struct plan *p)
{
	int rc;

	rc = config_write(p);
	if (!rc)
		rc = backends_write(p, BE_RAISE);
	if (!rc)
		rc = vips_release(p);
	if (!rc)
		rc = counters_reset(p);
	if (!rc)
		rc = tables_write(p);
	if (!rc)
		rc = vips_write(p);
	/* New addresses into the filter now, old ones out after removal. */
	if (!rc)
		rc = filter_write(p, &p->cur_vips, &p->want);
	if (!rc)
		rc = vips_remove(p);
	if (!rc)
		rc = backends_write(p, BE_LOWER);
	if (!rc)
		rc = backends_retire(p, false);
	if (!rc)
		rc = filter_write(p, &p->want, NULL);
	return rc;
}

/* The plan's ids, the maps' contents and the config generation become the
 * writer's, for apply_dirty(). */
static void plan_keep(struct plan *p)
{
	struct apply *a = p->a;

	ids_free(a->be_ids, a->n_vips);
	free(a->vip_ids);
	free(a->vips.v);
	a->be_ids = p->be_ids;
	a->vip_ids = p->vip_ids;
	a->n_vips = p->cfg->n_vips;
	a->vips = p->want;
	a->generation = p->model->generation;
	a->valid = true;
	p->be_ids = NULL;
	p->vip_ids = NULL;
	memset(&p->want, 0, sizeof(p->want));
}

int apply_maps_find(struct bpf_object *obj, struct apply_maps *m)
{
	static const struct {
		const char *name;
		size_t off;
	} all[] = {
		{ "vip_map", offsetof(struct apply_maps, vip_map) },
		{ "vip_tables", offsetof(struct apply_maps, vip_tables) },
		{ "backends", offsetof(struct apply_maps, backends) },
		{ "flow_table", offsetof(struct apply_maps, flow_table) },
		{ "lb_cfg", offsetof(struct apply_maps, lb_cfg) },
		{ "vip_filter", offsetof(struct apply_maps, vip_filter) },
		{ "vip_index", offsetof(struct apply_maps, vip_index) },
		{ "vip_stats", offsetof(struct apply_maps, vip_stats) },
		{ "backend_stats", offsetof(struct apply_maps, backend_stats) },
		{ "lb_stats", offsetof(struct apply_maps, lb_stats) },
	};
	size_t i;
	int fd;

	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		fd = bpf_object__find_map_fd_by_name(obj, all[i].name);
		if (fd < 0)
			return -ENOENT;
		*(int *)((char *)m + all[i].off) = fd;
	}
	return 0;
}

struct apply *apply_new(const struct apply_maps *m)
{
	struct apply *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->m = *m;
	a->cur = calloc(LB_MAX_BACKENDS, sizeof(*a->cur));
	a->out_keys = calloc(LB_MAX_BACKENDS, sizeof(*a->out_keys));
	a->out_vals = calloc(LB_MAX_BACKENDS, sizeof(*a->out_vals));
	a->tables = tables_new(m->vip_tables);
	a->index = malloc(sizeof(*a->index));
	a->index_next = malloc(sizeof(*a->index_next));
	if (!a->cur || !a->out_keys || !a->out_vals || !a->tables || !a->index ||
	    !a->index_next) {
		apply_free(a);
		errno = ENOMEM;
		return NULL;
	}
	return a;
}

void apply_free(struct apply *a)
{
	if (!a)
		return;
	tables_free(a->tables);
	ids_free(a->be_ids, a->n_vips);
	free(a->vip_ids);
	free(a->vips.v);
	free(a->index);
	free(a->index_next);
	free(a->cur);
	free(a->out_keys);
	free(a->out_vals);
	free(a);
}

static void stats_take(struct apply *a, struct apply_stats *st)
{
	struct tables_stats ts;

	tables_stats_take(a->tables, &ts);
	st->tables_swapped = ts.swapped;
	st->tables_removed = ts.emptied;
	st->table_batches = ts.batches;
}

/*
 * Plan in full, then write: a config refused for what it asks (no free VIP
 * or backend id) leaves every map as it was.
 *
 * What can still half-apply is a write failing once writing has begun: the
 * kernel refusing a map update or an inner map (ENOMEM, memlock), or memory
 * running out for a table (the config was validated, so maglev_build() has
 * no other way to fail). The maps then hold the writes done so far, part
 * old state and part new; as they went in the order of plan_write(), no
 * packet meets an entry that leads to nothing. That is not rolled back:
 * undoing takes more writes of the kind that just failed, and there is no
 * need, since the maps are the record: the next full apply reads them
 * again, whatever it brings, and finishes the job.
 */
int apply_state(struct apply *a, const struct state *model, const struct apply_env *env,
		struct apply_stats *st, char *err, size_t errlen)
{
	struct plan p = { .a = a, .m = &a->m, .model = model, .cfg = model->cfg, .env = env,
			  .st = st, .err = err, .errlen = errlen };
	int rc;

	memset(st, 0, sizeof(*st));
	err[0] = '\0';
	rc = plan_make(&p);
	if (!rc) {
		/* From the first write on, only a full apply may follow, and
		 * whatever fails is "applied in part": the caller must not
		 * take it for a refusal. */
		a->valid = false;
		rc = plan_write(&p);
		if (rc && !err[0])
			snprintf(err, errlen, "%s", strerror(-rc));
		if (rc)
			rc = -EIO;
	}
	if (!rc)
		plan_keep(&p);
	plan_free(&p);
	stats_take(a, st);
	return rc;
}

/* The entries of VIP i that carry its flags: its service entry, and its
 * fragment entry when later fragments go to it. */
static int vip_flags_write(struct apply *a, const struct state *model, size_t i)
{
	struct vip_entry want[2], *have;
	size_t k, n = 1;
	int rc;

	want[0].key = service_key(&model->cfg->vips[i]);
	want[0].val.id = a->vip_ids[i];
	want[0].val.flags = vip_flags(model, i);
	n += frag_entry(model, a->vip_ids, i, &want[1]);
	for (k = 0; k < n; k++) {
		rc = vip_entry_write(a, &a->vips, &want[k]);
		if (rc)
			return rc;
		have = vip_list_find(&a->vips, &want[k].key);
		if (have)
			have->val = want[k].val;
	}
	return 0;
}

static int dirty_write(struct apply *a, const struct state *model, enum be_pass pass,
		       size_t *changed)
{
	size_t i;

	for (i = 0; i < model->cfg->n_vips; i++)
		if (model->vips[i].dirty)
			vip_backends_write(a, &model->vips[i], a->vip_ids[i], a->be_ids[i], pass,
					   changed);
	return backends_flush(a);
}

static int dirty_tables(struct apply *a, const struct state *model, char *err, size_t errlen)
{
	struct maglev_backend *mb = calloc(LB_MAX_BACKENDS, sizeof(*mb));
	size_t i;
	int rc = 0;

	if (!mb) {
		snprintf(err, errlen, "building tables: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	for (i = 0; !rc && i < model->cfg->n_vips; i++)
		if (model->vips[i].dirty)
			rc = table_set(a, &model->vips[i], a->vip_ids[i], a->be_ids[i], mb, err,
				       errlen);
	free(mb);
	return rc ? rc : tables_flush(a->tables, err, errlen);
}

/* The same order as plan_write(), for the dirty VIPs only. */
int apply_dirty(struct apply *a, const struct state *model, struct apply_stats *st,
		char *err, size_t errlen)
{
	const char *what = "writing a backend";
	size_t i;
	int rc;

	memset(st, 0, sizeof(*st));
	err[0] = '\0';
	if (!a->valid || a->generation != model->generation) {
		snprintf(err, errlen, "no full apply of this config yet");
		return -ESTALE;
	}
	rc = dirty_write(a, model, BE_RAISE, &st->backends_changed);
	if (!rc)
		rc = dirty_tables(a, model, err, errlen);
	for (i = 0; !rc && i < model->cfg->n_vips; i++) {
		what = "writing a VIP";
		if (model->vips[i].dirty)
			rc = vip_flags_write(a, model, i);
	}
	if (!rc) {
		what = "writing the VIP index";
		rc = index_install(a, &a->vips, NULL);
	}
	if (!rc) {
		what = "writing a backend";
		rc = dirty_write(a, model, BE_LOWER, NULL);
	}
	if (rc && !err[0])
		snprintf(err, errlen, "%s: %s", what, strerror(-rc));
	/* A failed write leaves the maps as the kernel has them: only a full
	 * apply, which reads them, may go on from there. */
	if (rc)
		a->valid = false;
	stats_take(a, st);
	return rc;
}

void apply_forget(struct apply *a)
{
	a->valid = false;
}

__u32 apply_vip_id(const struct apply *a, size_t vip)
{
	return a && a->valid && vip < a->n_vips ? a->vip_ids[vip] : LB_MAX_VIPS;
}

__u32 apply_backend_id(const struct apply *a, size_t vip, size_t be)
{
	return a && a->valid && vip < a->n_vips ? a->be_ids[vip][be] : LB_BACKEND_INVALID;
}

int apply_next_hop(const struct apply_maps *m, const __u8 mac[6])
{
	struct lb_config cfg;
	__u32 zero = 0;

	if (bpf_map_lookup_elem(m->lb_cfg, &zero, &cfg))
		return -errno;
	if (!memcmp(cfg.next_hop_mac, mac, 6))
		return 0;
	memcpy(cfg.next_hop_mac, mac, 6);
	return bpf_map_update_elem(m->lb_cfg, &zero, &cfg, BPF_ANY) ? -errno : 0;
}

void apply_slots(const struct apply *a, __u32 *slots)
{
	memset(slots, 0, LB_MAX_BACKENDS * sizeof(*slots));
	tables_slots(a->tables, slots);
}
