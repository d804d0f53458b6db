// SPDX-License-Identifier: GPL-2.0-only
#include "readmodel.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "stats.h"

#define READ_CHUNK	4096	/* keys a batch call */

/*
 * Sum entries 0 .. n-1 of a per-CPU array whose values are words __u64s:
 * out[k * words + i]. In batches of READ_CHUNK keys, each holding every
 * CPU's copy. 0 or -errno.
 */
static int percpu_sum(int fd, __u32 n, size_t words, __u64 *out)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	int ncpu = libbpf_num_possible_cpus();
	__u32 *keys = NULL, batch, count, got = 0, k;
	__u64 *vals = NULL;
	void *in = NULL;
	int c, rc = 0;
	size_t i;

	if (ncpu < 0)
		return ncpu;
	keys = calloc(READ_CHUNK, sizeof(*keys));
	vals = calloc((size_t)READ_CHUNK * (size_t)ncpu * words, sizeof(*vals));
	if (!keys || !vals)
		rc = -ENOMEM;
	while (!rc && got < n) {
		count = READ_CHUNK;
		if (bpf_map_lookup_batch(fd, in, &batch, keys, vals, &count, &opts) &&
		    errno != ENOENT)
			rc = -errno;
		for (k = 0; !rc && k < count && keys[k] < n; k++)
			for (c = 0; c < ncpu; c++)
				for (i = 0; i < words; i++)
					out[keys[k] * words + i] +=
						vals[((size_t)k * (size_t)ncpu + (size_t)c) * words + i];
		if (!rc && !count)
			break;
		got += count;
		in = &batch;
	}
	free(keys);
	free(vals);
	return rc;
}

static int global_read(struct readmodel *rm, int fd)
{
	__u64 sum[sizeof(struct lb_global_stats) / 8] = { 0 };
	int ncpu = libbpf_num_possible_cpus(), c;
	__u64 *vals;
	__u32 zero = 0;
	size_t i, words = sizeof(sum) / 8;

	if (ncpu < 0)
		return ncpu;
	vals = calloc((size_t)ncpu * words, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	if (bpf_map_lookup_elem(fd, &zero, vals)) {
		free(vals);
		return -errno;
	}
	for (c = 0; c < ncpu; c++)
		for (i = 0; i < words; i++)
			sum[i] += vals[(size_t)c * words + i];
	memcpy(&rm->global, sum, sizeof(sum));
	free(vals);
	return 0;
}

/* How far into the id space this state's VIPs and backends reach. */
static void ids_span(const struct apply *ap, const struct state *st, __u32 *vips, __u32 *bes)
{
	size_t i, j;
	__u32 id;

	*vips = *bes = 0;
	for (i = 0; i < st->cfg->n_vips; i++) {
		id = apply_vip_id(ap, i);
		if (id < LB_MAX_VIPS && id >= *vips)
			*vips = id + 1;
		for (j = 0; j < st->cfg->vips[i].n_backends; j++) {
			id = apply_backend_id(ap, i, j);
			if (id < LB_MAX_BACKENDS && id >= *bes)
				*bes = id + 1;
		}
	}
}

static int per_id_read(struct readmodel *rm, const struct apply_maps *m, const struct apply *ap,
		       const struct state *st)
{
	size_t vw = sizeof(struct lb_vip_stats) / 8, bw = sizeof(struct lb_backend_stats) / 8;
	__u32 n_vip, n_be, id;
	__u64 *v, *b;
	size_t i, j;
	int rc;

	/* Without a full apply of this config there are no ids to read by. */
	rm->counted = !st->cfg->n_vips || apply_vip_id(ap, 0) < LB_MAX_VIPS;
	ids_span(ap, st, &n_vip, &n_be);
	v = calloc((size_t)n_vip * vw + 1, sizeof(*v));
	b = calloc((size_t)n_be * bw + 1, sizeof(*b));
	rc = v && b ? 0 : -ENOMEM;
	if (!rc && n_vip)
		rc = percpu_sum(m->vip_stats, n_vip, vw, v);
	if (!rc && n_be)
		rc = percpu_sum(m->backend_stats, n_be, bw, b);
	for (i = 0; !rc && i < st->cfg->n_vips; i++) {
		id = apply_vip_id(ap, i);
		if (id < n_vip)
			memcpy(&rm->vip[i], &v[id * vw], sizeof(rm->vip[i]));
		for (j = 0; j < st->cfg->vips[i].n_backends; j++) {
			id = apply_backend_id(ap, i, j);
			if (id && id < n_be)
				memcpy(&rm->be[i][j], &b[id * bw], sizeof(rm->be[i][j]));
		}
	}
	free(v);
	free(b);
	return rc;
}

int readmodel_read(struct readmodel *rm, const struct apply_maps *m, const struct apply *ap,
		   const struct state *st, __u64 now_ms)
{
	size_t i;
	int rc = 0;

	memset(rm, 0, sizeof(*rm));
	rm->n_vips = st->cfg->n_vips;
	rm->read_ms = now_ms;
	rm->vip = calloc(rm->n_vips + 1, sizeof(*rm->vip));
	rm->be = calloc(rm->n_vips + 1, sizeof(*rm->be));
	if (!rm->vip || !rm->be)
		rc = -ENOMEM;
	for (i = 0; !rc && i < rm->n_vips; i++) {
		rm->be[i] = calloc(st->cfg->vips[i].n_backends + 1, sizeof(**rm->be));
		if (!rm->be[i])
			rc = -ENOMEM;
	}
	if (!rc)
		rc = global_read(rm, m->lb_stats);
	if (!rc)
		rc = per_id_read(rm, m, ap, st);
	if (rc)
		readmodel_free(rm);
	return rc;
}

void readmodel_free(struct readmodel *rm)
{
	size_t i;

	for (i = 0; rm->be && i < rm->n_vips; i++)
		free(rm->be[i]);
	free(rm->be);
	free(rm->vip);
	memset(rm, 0, sizeof(*rm));
}

static json_t *override_json(const struct state_override *o)
{
	json_t *j;

	if (!o->has_state && !o->has_weight)
		return json_null();
	j = json_pack("{s:I}", "since_ms", (json_int_t)o->since_ms);
	if (o->has_state)
		json_object_set_new(j, "state", json_string(state_admin_name(o->state)));
	if (o->has_weight)
		json_object_set_new(j, "weight", json_integer(o->weight));
	return j;
}

/* The last probe, whatever it changed; null before the first. */
static json_t *probe_json(const struct state_health_info *hl)
{
	if (!hl->probe_ms)
		return json_null();
	return json_pack("{s:I, s:i, s:b}", "ms", (json_int_t)hl->probe_ms, "us",
			 (int)hl->probe_us, "ok", hl->probe_ok);
}

/* A VIP's or backend's counter, or null when there was none to read. */
static json_t *counter_json(const struct readmodel *rm, __u64 v)
{
	return rm->counted ? json_integer((json_int_t)v) : json_null();
}

json_t *readmodel_backend_json(const struct readmodel *rm, const struct state *st, size_t vip,
			       size_t be)
{
	const struct state_backend *b = &st->vips[vip].be[be];
	const struct lb_backend_stats *c = &rm->be[vip][be];

	return json_pack("{s:s, s:{s:s, s:i}, s:o, s:{s:s, s:I, s:s, s:o}, s:s, s:i, s:b, s:o, s:o}",
			 "address", b->cfg->address,
			 "config", "state", state_admin_name(b->cfg->state), "weight",
			 (int)b->cfg->weight,
			 "override", override_json(&b->ovr),
			 "health", "state", state_health_name(b->hl.health), "since_ms",
			 (json_int_t)b->hl.since_ms, "reason", b->hl.reason,
			 "last_probe", probe_json(&b->hl),
			 "effective", state_eff_name(b->eff),
			 "weight", (int)state_weight(b),
			 "kept", b->kept,
			 "packets", counter_json(rm, c->packets), "bytes", counter_json(rm, c->bytes));
}

static size_t backends_in(const struct state_vip *v)
{
	size_t j, n = 0;

	for (j = 0; j < v->cfg->n_backends; j++)
		n += v->be[j].eff == STATE_IN;
	return n;
}

json_t *readmodel_vip_json(const struct readmodel *rm, const struct state *st, size_t vip,
			   bool with_backends)
{
	const struct state_vip *v = &st->vips[vip];
	const struct config_vip *cv = v->cfg;
	const struct lb_vip_stats *c = &rm->vip[vip];
	char key[96];
	json_t *j, *bes;
	size_t k;

	state_vip_key_text(cv, key, sizeof(key));
	j = json_pack("{s:s, s:s, s:s, s:i, s:s, s:s, s:i, s:s, s:b, s:I, s:i, s:i, "
		      "s:o, s:o, s:o, s:o}",
		      "name", cv->name, "vip", key, "address", cv->address, "port", cv->port,
		      "protocol", cv->proto == IPPROTO_TCP ? "tcp" : "udp",
		      "hash", cv->hash_l3 ? "l3" : "5tuple", "table_size", (int)cv->table_size,
		      "all_down_policy", cv->all_down_drop ? "drop" : "keep",
		      "all_down", v->all_down, "all_down_since_ms", (json_int_t)v->all_down_since_ms,
		      "backend_count", (int)cv->n_backends, "backends_in", (int)backends_in(v),
		      "packets", counter_json(rm, c->packets), "bytes", counter_json(rm, c->bytes),
		      "new_flows", counter_json(rm, c->new_flows),
		      "nonsyn_miss", counter_json(rm, c->nonsyn_miss));
	if (!j || !with_backends)
		return j;
	bes = json_array();
	for (k = 0; k < cv->n_backends; k++)
		json_array_append_new(bes, readmodel_backend_json(rm, st, vip, k));
	json_object_set_new(j, "backends", bes);
	return j;
}

static json_t *named(const char *const *names, const __u64 *vals, size_t n)
{
	json_t *j = json_object();
	size_t i;

	for (i = 0; i < n; i++)
		if (names[i])
			json_object_set_new(j, names[i], json_integer((json_int_t)vals[i]));
	return j;
}

json_t *readmodel_global_json(const struct readmodel *rm)
{
	const struct lb_global_stats *g = &rm->global;

	return json_pack("{s:o, s:o, s:o}",
			 "verdicts", named(stats_verdict_names, g->verdict, LB_VERDICT_MAX),
			 "drops", named(stats_drop_names + 1, g->drop + 1, LB_DROP_MAX - 1),
			 "events", named(stats_event_names, g->event, LB_EV_MAX));
}
