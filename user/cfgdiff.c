// SPDX-License-Identifier: GPL-2.0-only
#include "cfgdiff.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "datapath.h"
#include "maglev.h"

/* The backend a slot names: an address, or none (an empty slot). */
struct slot_owner {
	__u8 family;
	__be32 addr[4];
};

static bool owner_same(const struct slot_owner *a, const struct slot_owner *b)
{
	return a->family == b->family && !memcmp(a->addr, b->addr, sizeof(a->addr));
}

static void owner_of(struct slot_owner *o, const struct config_backend *b)
{
	memset(o, 0, sizeof(*o));
	if (!b)
		return;
	o->family = b->family;
	memcpy(o->addr, b->addr, sizeof(o->addr));
}

/* The installed table of cur's VIP i, by address; *n 0 when it has none. */
static int table_now(const struct state *cur, const struct apply *ap, const struct apply_maps *m,
		     size_t i, struct slot_owner **out, __u32 *n)
{
	const struct config_vip *v = &cur->cfg->vips[i];
	__u32 *t, s;
	size_t j;
	int rc = datapath_table_read(m->vip_tables, apply_vip_id(ap, i), &t, n);

	*out = NULL;
	if (rc == -ENOENT) {
		*n = 0;
		return 0;
	}
	if (rc)
		return rc;
	*out = calloc(*n, sizeof(**out));
	for (s = 0; *out && s < *n; s++)
		for (j = 0; j < v->n_backends; j++)
			if (apply_backend_id(ap, i, j) == t[s])
				owner_of(&(*out)[s], &v->backends[j]);
	free(t);
	return *out ? 0 : -ENOMEM;
}

/* The table next's VIP i would get, by address, as apply.c would build it. */
static int table_next(const struct state_vip *v, struct slot_owner **out, __u32 *n)
{
	const struct config_vip *cv = v->cfg;
	struct maglev_backend *mb = calloc(cv->n_backends + 1, sizeof(*mb));
	__u32 *t = NULL, s;
	size_t j, k = 0;
	int rc = mb ? 0 : -ENOMEM;

	*out = NULL;
	*n = 0;
	for (j = 0; !rc && j < cv->n_backends; j++) {
		if (v->be[j].eff != STATE_IN)
			continue;
		mb[k].id = (__u32)j + 1;	/* an index, not a data path id */
		mb[k].weight = v->be[j].weight;
		mb[k].family = cv->backends[j].family;
		memcpy(mb[k].addr, cv->backends[j].addr, sizeof(mb[k].addr));
		k++;
	}
	if (!rc && k) {
		t = malloc((size_t)cv->table_size * sizeof(*t));
		*out = calloc(cv->table_size, sizeof(**out));
		rc = t && *out ? maglev_build(mb, k, cv->table_size, t, NULL, 0) : -ENOMEM;
		for (s = 0; !rc && s < cv->table_size; s++)
			owner_of(&(*out)[s], &cv->backends[t[s] - 1]);
		*n = rc ? 0 : cv->table_size;
	}
	free(t);
	free(mb);
	return rc;
}

/* Slots whose backend differs; for tables of different sizes every flow's
 * slot changes, so the share is counted over the hash values of a sample. */
static double moved_share(const struct slot_owner *a, __u32 na, const struct slot_owner *b,
			  __u32 nb, __u32 *moved)
{
	static const struct slot_owner none;
	__u32 s, h, x = 0x9e3779b9u;

	*moved = 0;
	if (na == nb) {
		for (s = 0; s < na; s++)
			*moved += !owner_same(&a[s], &b[s]);
		return na ? (double)*moved / na : 0;
	}
	for (s = 0; s < 65536; s++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		h = x;
		*moved += !owner_same(na ? &a[h % na] : &none, nb ? &b[h % nb] : &none);
	}
	return (double)*moved / 65536;
}

static json_t *backend_side(const struct state_backend *b)
{
	return json_pack("{s:s, s:i, s:s}", "state", state_admin_name(state_admin(b)), "weight",
			 (int)state_weight(b), "effective", state_eff_name(b->eff));
}

/* Backends added, removed and changed (admin state, weight or effective
 * state), by a merge walk over the two canonical lists. */
static void backends_diff(const struct state_vip *a, const struct state_vip *b, json_t *j)
{
	json_t *added = json_array(), *removed = json_array(), *changed = json_array();
	size_t i = 0, k = 0;
	int c;

	while (i < a->cfg->n_backends || k < b->cfg->n_backends) {
		const struct config_backend *x = i < a->cfg->n_backends ? &a->cfg->backends[i] : NULL;
		const struct config_backend *y = k < b->cfg->n_backends ? &b->cfg->backends[k] : NULL;

		c = !x ? 1 : !y ? -1 : state_backend_key_cmp(x, y);
		if (c < 0)
			json_array_append_new(removed, json_string(x->address));
		else if (c > 0)
			json_array_append_new(added, json_string(y->address));
		else if (state_admin(&a->be[i]) != state_admin(&b->be[k]) ||
			 state_weight(&a->be[i]) != state_weight(&b->be[k]) ||
			 a->be[i].eff != b->be[k].eff)
			json_array_append_new(changed, json_pack("{s:s, s:o, s:o}", "address",
				x->address, "from", backend_side(&a->be[i]), "to",
				backend_side(&b->be[k])));
		i += c <= 0;
		k += c >= 0;
	}
	json_object_set_new(j, "backends_added", added);
	json_object_set_new(j, "backends_removed", removed);
	json_object_set_new(j, "backends_changed", changed);
}

static int vip_diff(const struct state *cur, const struct apply *ap, const struct apply_maps *m,
		    size_t i, const struct state_vip *nv, json_t *out, __u64 *moved, __u64 *slots)
{
	struct slot_owner *a = NULL, *b = NULL;
	char key[96];
	__u32 na, nb, mv;
	double share;
	json_t *j;
	int rc = table_now(cur, ap, m, i, &a, &na);

	/* apply.c leaves the table of a VIP that all_down "drop" holds. */
	if (!rc && nv->all_down && nv->cfg->all_down_drop) {
		nb = na;
		b = na ? malloc(na * sizeof(*b)) : NULL;
		if (b)
			memcpy(b, a, na * sizeof(*b));
		else if (na)
			rc = -ENOMEM;
	} else if (!rc) {
		rc = table_next(nv, &b, &nb);
	}
	if (rc) {
		free(a);
		free(b);
		return rc;
	}
	share = moved_share(a, na, b, nb, &mv);
	if (na != nb)
		mv = (__u32)(share * nb);	/* sampled hashes counted, not slots */
	state_vip_key_text(nv->cfg, key, sizeof(key));
	j = json_pack("{s:s, s:s, s:i, s:i, s:f}", "name", nv->cfg->name, "vip", key,
		      "table_size", (int)nb, "moved_slots", (int)mv, "moved_share", share);
	if (na != nb)
		json_object_set_new(j, "table_size_was", json_integer(na));
	backends_diff(&cur->vips[i], nv, j);
	json_object_set_new(j, "change", json_string(
		mv || na != nb || json_array_size(json_object_get(j, "backends_added")) ||
		json_array_size(json_object_get(j, "backends_removed")) ||
		json_array_size(json_object_get(j, "backends_changed")) ? "changed" : "same"));
	json_array_append_new(out, j);
	*moved += mv;
	*slots += nb;
	free(a);
	free(b);
	return 0;
}

static json_t *vip_change(const struct config_vip *v, const char *change)
{
	char key[96];

	state_vip_key_text(v, key, sizeof(key));
	return json_pack("{s:s, s:s, s:s}", "name", v->name, "vip", key, "change", change);
}

json_t *cfgdiff(const struct state *cur, const struct apply *ap, const struct apply_maps *m,
		const struct state *next)
{
	const struct config *a = cur->cfg, *b = next->cfg;
	json_t *vips = json_array();
	__u64 moved = 0, slots = 0;
	size_t i = 0, k = 0;
	int c, rc = 0;

	while (!rc && (i < a->n_vips || k < b->n_vips)) {
		c = i == a->n_vips ? 1 : k == b->n_vips ? -1 : state_vip_key_cmp(&a->vips[i], &b->vips[k]);
		if (c < 0)
			json_array_append_new(vips, vip_change(&a->vips[i], "removed"));
		else if (c > 0)
			json_array_append_new(vips, vip_change(&b->vips[k], "added"));
		else
			rc = vip_diff(cur, ap, m, i, &next->vips[k], vips, &moved, &slots);
		i += c <= 0;
		k += c >= 0;
	}
	if (rc) {
		json_decref(vips);
		errno = -rc;
		return NULL;
	}
	return json_pack("{s:o, s:I, s:I, s:f}", "vips", vips, "moved_slots", (json_int_t)moved,
			 "slots", (json_int_t)slots, "moved_share",
			 slots ? (double)moved / (double)slots : 0.0);
}
