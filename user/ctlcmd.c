// SPDX-License-Identifier: GPL-2.0-only
#include "ctlcmd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <netinet/in.h>
#include <sys/stat.h>

#include "clock.h"
#include "cfgdiff.h"
#include "control.h"
#include "datapath.h"
#include "lb_hash.h"
#include "log.h"
#include "maglev.h"
#include "readmodel.h"

static const char *const code_names[] = {
	[CTL_OK] = "ok",
	[CTL_BAD_REQUEST] = "bad_request",
	[CTL_NOT_FOUND] = "not_found",
	[CTL_PERMISSION] = "permission",
	[CTL_TIMEOUT] = "timeout",
	[CTL_CONFLICT] = "conflict",
	[CTL_FAILED] = "failed",
	[CTL_BAD_CONFIG] = "bad_config",
};

const char *ctl_code_name(enum ctl_code code)
{
	return (unsigned int)code <= CTL_BAD_CONFIG ? code_names[code] : "failed";
}

__attribute__((format(printf, 3, 4)))
static void fail(struct ctl_reply *r, enum ctl_code code, const char *fmt, ...)
{
	va_list ap;

	r->code = code;
	va_start(ap, fmt);
	vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
	va_end(ap);
}

/* ------------------------------------------------------------------ */
/* Arguments */

/* Every key of req must be "cmd" or one of keys. */
static bool keys_check(json_t *req, const char *const *keys, struct ctl_reply *r)
{
	const char *key;
	json_t *v;
	size_t i;

	json_object_foreach(req, key, v) {
		bool known = !strcmp(key, "cmd");

		for (i = 0; keys[i] && !known; i++)
			known = !strcmp(key, keys[i]);
		if (!known) {
			fail(r, CTL_BAD_REQUEST, "unknown key \"%s\"", key);
			return false;
		}
	}
	return true;
}

static const char *str_arg(json_t *req, const char *key, bool required, struct ctl_reply *r)
{
	json_t *v = json_object_get(req, key);

	if (!v && !required)
		return NULL;
	if (!json_is_string(v)) {
		fail(r, CTL_BAD_REQUEST, "\"%s\": %s", key, v ? "must be a string" : "missing");
		return NULL;
	}
	return json_string_value(v);
}

/* An integer in [min, max], or def when absent. false on error. */
static bool required(json_t *req, const char *key, struct ctl_reply *r)
{
	if (json_object_get(req, key))
		return true;
	fail(r, CTL_BAD_REQUEST, "\"%s\": missing", key);
	return false;
}

static bool uint_arg(json_t *req, const char *key, long long min, long long max, long long def,
		     long long *out, struct ctl_reply *r)
{
	json_t *v = json_object_get(req, key);

	*out = def;
	if (!v)
		return true;
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
		fail(r, CTL_BAD_REQUEST, "\"%s\": must be an integer in %lld..%lld", key, min, max);
		return false;
	}
	*out = json_integer_value(v);
	return true;
}

static long vip_arg(const struct state *st, json_t *req, struct ctl_reply *r)
{
	const char *name = str_arg(req, "vip", true, r);
	long v;

	if (!name)
		return -1;
	v = state_vip_find(st, name);
	if (v < 0)
		fail(r, CTL_NOT_FOUND, "no VIP \"%s\" (give its name or ADDRESS:PORT/PROTO)", name);
	return v;
}

static long backend_arg(const struct state *st, size_t vip, json_t *req, struct ctl_reply *r)
{
	const char *addr = str_arg(req, "backend", true, r);
	long b;

	if (!addr)
		return -1;
	b = state_backend_find(st, vip, addr);
	if (b < 0)
		fail(r, CTL_NOT_FOUND, "VIP %s has no backend %s", st->cfg->vips[vip].name, addr);
	return b;
}

/* ------------------------------------------------------------------ */
/* What readers see */

struct view {
	struct readmodel rm;
	__u32 *flows;		/* per backend id, seen within CTL_IDLE_S */
};

static bool view_read(const struct ctl_env *env, const struct state *st, bool flows,
		      struct view *v, struct ctl_reply *r)
{
	int rc;

	memset(v, 0, sizeof(*v));
	rc = readmodel_read(&v->rm, env->maps, env->ap, st, clock_wall_ms());
	if (!rc && flows) {
		v->flows = calloc(LB_MAX_BACKENDS, sizeof(*v->flows));
		rc = v->flows ? flows_count(env->flows, CTL_IDLE_S * 1000, v->flows) : -ENOMEM;
	}
	if (rc) {
		fail(r, CTL_FAILED, "reading the counters: %s", strerror(-rc));
		readmodel_free(&v->rm);
		free(v->flows);
	}
	return !rc;
}

static void view_free(struct view *v)
{
	readmodel_free(&v->rm);
	free(v->flows);
}

/* How many slots of each backend id the installed table of a VIP holds. */
static void slots_count(const struct ctl_env *env, size_t vip, __u32 **slots)
{
	__u32 *t, n, i, id = apply_vip_id(env->ap, vip);

	*slots = NULL;
	if (id >= LB_MAX_VIPS || datapath_table_read(env->maps->vip_tables, id, &t, &n))
		return;
	*slots = calloc(LB_MAX_BACKENDS, sizeof(**slots));
	for (i = 0; *slots && i < n; i++)
		(*slots)[t[i]]++;
	free(t);
}

/* A backend as readers see it: the read model's, with its id, table slots
 * and active flows. */
static json_t *backend_json(const struct ctl_env *env, const struct state *st,
			    const struct view *v, size_t vip, size_t be, const __u32 *slots)
{
	json_t *j = readmodel_backend_json(&v->rm, st, vip, be);
	__u32 id = apply_backend_id(env->ap, vip, be);

	json_object_set_new(j, "id", json_integer(id));
	json_object_set_new(j, "slots", json_integer(slots ? slots[id] : 0));
	if (v->flows)
		json_object_set_new(j, "flows", json_integer(v->flows[id]));
	return j;
}

static json_t *vip_backends_json(const struct ctl_env *env, const struct state *st,
				 const struct view *v, size_t vip, bool with_vip)
{
	json_t *arr = json_array(), *b;
	__u32 *slots;
	size_t k;

	slots_count(env, vip, &slots);
	for (k = 0; k < st->cfg->vips[vip].n_backends; k++) {
		b = backend_json(env, st, v, vip, k, slots);
		if (with_vip)
			json_object_set_new(b, "vip", json_string(st->cfg->vips[vip].name));
		json_array_append_new(arr, b);
	}
	free(slots);
	return arr;
}

/* ------------------------------------------------------------------ */
/* Commands that read */

static size_t backends_total(const struct state *st)
{
	size_t i, n = 0;

	for (i = 0; i < st->cfg->n_vips; i++)
		n += st->cfg->vips[i].n_backends;
	return n;
}

static void cmd_status(const struct ctl_env *env, json_t *req, struct ctl_reply *r)
{
	const struct state *st = env->state(env->data);
	json_t *j = env->status(env->data), *down = json_array();
	size_t i;

	for (i = 0; i < st->cfg->n_vips; i++)
		if (st->vips[i].all_down)
			json_array_append_new(down, json_string(st->cfg->vips[i].name));
	json_object_set_new(j, "vips", json_integer((json_int_t)st->cfg->n_vips));
	json_object_set_new(j, "backends", json_integer((json_int_t)backends_total(st)));
	json_object_set_new(j, "all_down", down);
	json_object_set_new(j, "node", env->node_json(env->data));
	r->result = j;
}

/* A VIP as vip.list and vip.show give it: the read model's, and whether
 * this node announces it. */
static json_t *vip_json(const struct ctl_env *env, const struct view *v, const struct state *st,
			size_t vip)
{
	json_t *j = readmodel_vip_json(&v->rm, st, vip, false);

	json_object_set_new(j, "announce", env->vip_announce_json(env->data, vip));
	return j;
}

static void cmd_vip_list(const struct ctl_env *env, json_t *req, struct ctl_reply *r)
{
	const struct state *st = env->state(env->data);
	json_t *arr;
	struct view v;
	size_t i;

	if (!view_read(env, st, false, &v, r))
		return;
	arr = json_array();
	for (i = 0; i < st->cfg->n_vips; i++)
		json_array_append_new(arr, vip_json(env, &v, st, i));
	view_free(&v);
	r->result = arr;
}

static void cmd_vip_show(const struct ctl_env *env, json_t *req, struct ctl_reply *r)
{
	const struct state *st = env->state(env->data);
	long vip = vip_arg(st, req, r);
	struct view v;

	if (vip < 0 || !view_read(env, st, true, &v, r))
		return;
	r->result = vip_json(env, &v, st, (size_t)vip);
	json_object_set_new(r->result, "backends",
			    vip_backends_json(env, st, &v, (size_t)vip, false));
	view_free(&v);
}

static void cmd_backend_list(const struct ctl_env *env, json_t *req, struct ctl_reply *r)
{
	const struct state *st = env->state(env->data);
	long vip = json_object_get(req, "vip") ? vip_arg(st, req, r) : -1;
	struct view v;
	size_t i;

	if (r->code || !view_read(env, st, true, &v, r))
		return;
	if (vip >= 0) {
		r->result = vip_backends_json(env, st, &v, (size_t)vip, true);
	} else {
		r->result = json_array();
		for (i = 0; i < st->cfg->n_vips; i++) {
			json_t *part = vip_backends_json(env, st, &v, i, true);

			json_array_extend(r->result, part);
			json_decref(part);
		}
	}
	view_free(&v);
}

static void cmd_stats(const struct ctl_env *env, json_t *req, struct ctl_reply *r)
{
	const struct state *st = env->state(env->data);
	long vip = json_object_get(req, "vip") ? vip_arg(st, req, r) : -1;
	json_t *vips;
	struct view v;
	size_t i;

	if (r->code || !view_read(env, st, false, &v, r))
		return;
	r->result = readmodel_global_json(&v.rm);
	vips = json_array();
	for (i = 0; i < st->cfg->n_vips; i++) {
		json_t *one;

		if (vip >= 0 && (size_t)vip != i)
			continue;
		one = vip_json(env, &v, st, i);
		if (vip >= 0)
			json_object_set_new(one, "backends", vip_backends_json(env, st, &v, i, false));
		json_array_append_new(vips, one);
	}
	json_object_set_new(r->result, "vips", vips);
	view_free(&v);
}

/* ------------------------------------------------------------------ */
/* flow explain */

static bool flow_key_arg(json_t *req, struct lb_flow_key *k, struct ctl_reply *r)
{
	const char *proto = str_arg(req, "proto", true, r), *src, *dst;
	long long sport, dport;
	__u8 fs, fd;

	src = proto ? str_arg(req, "src", true, r) : NULL;
	dst = src ? str_arg(req, "dst", true, r) : NULL;
	if (!dst || !required(req, "sport", r) || !required(req, "dport", r) ||
	    !uint_arg(req, "sport", 0, 65535, 0, &sport, r) ||
	    !uint_arg(req, "dport", 0, 65535, 0, &dport, r))
		return false;
	memset(k, 0, sizeof(*k));
	if (!strcmp(proto, "tcp"))
		k->proto = IPPROTO_TCP;
	else if (!strcmp(proto, "udp"))
		k->proto = IPPROTO_UDP;
	fs = inet_pton(AF_INET, src, k->src) == 1 ? LB_FAMILY_IPV4 :
	     inet_pton(AF_INET6, src, k->src) == 1 ? LB_FAMILY_IPV6 : 0;
	fd = inet_pton(AF_INET, dst, k->dst) == 1 ? LB_FAMILY_IPV4 :
	     inet_pton(AF_INET6, dst, k->dst) == 1 ? LB_FAMILY_IPV6 : 0;
	if (!k->proto)
		fail(r, CTL_BAD_REQUEST, "\"proto\": must be \"tcp\" or \"udp\"");
	else if (!fs || !fd)
		fail(r, CTL_BAD_REQUEST, "\"%s\": not an IP address", fs ? "dst" : "src");
	else if (fs != fd)
		fail(r, CTL_BAD_REQUEST, "src and dst are of different families");
	k->family = fd;
	k->sport = htons((__u16)sport);
	k->dport = htons((__u16)dport);
	return !r->code;
}

/* The VIP a packet to the key's destination meets: its port, else port 0. */
static long flow_vip(const struct state *st, const struct lb_flow_key *k)
{
	const struct config_vip *v;
	size_t i;
	long any = -1;

	for (i = 0; i < st->cfg->n_vips; i++) {
		v = &st->cfg->vips[i];
		if (v->family != k->family || v->proto != k->proto ||
		    memcmp(v->addr, k->dst, sizeof(v->addr)))
			continue;
		if (v->port == ntohs(k->dport))
			return (long)i;
		if (!v->port)
			any = (long)i;
	}
	return any;
}

static long backend_of_id(const struct ctl_env *env, const struct state *st, size_t vip,
			  __u32 id)
{
	size_t j;

	for (j = 0; j < st->cfg->vips[vip].n_backends; j++)
		if (apply_backend_id(env->ap, vip, j) == id)
			return (long)j;
	return -1;
}

/* Why this backend, in a few words an operator can act on. */
static const char *flow_why(const struct state_vip *v, const struct state_backend *b,
			    bool from_flow)
{
	if (v->all_down)
		return v->cfg->all_down_drop ? "all_down: every backend down by health, policy drop"
					     : "all_down: held in the table by policy keep";
	if (from_flow && b->eff == STATE_DRAINING)
		return "established on a draining backend: it stays until it ends";
	if (from_flow)
		return "established: the flow table names it";
	return "new flow: the table's slot names it";
}

static void explain_entry(const struct ctl_env *env, const struct state *st, size_t vip,
			  const struct lb_flow_key *k, json_t *j, long *be)
{
	__u32 backend_id;
	__u64 age;
	long b;

	if (flows_lookup(env->flows, k, &backend_id, &age))
		return;
	b = backend_of_id(env, st, vip, backend_id);
	json_object_set_new(j, "flow_entry", json_pack("{s:i, s:I}", "backend_id",
						       (int)backend_id, "age_ms",
						       (json_int_t)age));
	/* The data path follows an entry only while its backend is up. */
	if (b >= 0 && st->vips[vip].be[b].eff != STATE_OUT)
		*be = b;
}

static void explain_table(const struct ctl_env *env, size_t vip, const struct lb_flow_key *k,
			  json_t *j, __u32 *id)
{
	__u32 *t, n, vid = apply_vip_id(env->ap, vip), slot;

	*id = 0;
	if (vid >= LB_MAX_VIPS || datapath_table_read(env->maps->vip_tables, vid, &t, &n))
		return;
	slot = lb_flow_hash(k) % n;
	*id = t[slot];
	json_object_set_new(j, "slot", json_integer(slot));
	json_object_set_new(j, "table_size", json_integer(n));
	free(t);
}

static void cmd_flow_explain(const struct ctl_env *env, json_t *req, struct ctl_reply *r)
{
	const struct state *st = env->state(env->data);
	struct lb_flow_key k;
	long vip, be = -1;
	json_t *j;
	__u32 id;

	if (!flow_key_arg(req, &k, r))
		return;
	vip = flow_vip(st, &k);
	if (vip < 0) {
		fail(r, CTL_NOT_FOUND, "no VIP takes this flow: its packets pass to the node's stack");
		return;
	}
	if (st->cfg->vips[vip].hash_l3)
		k.sport = k.dport = 0;
	j = json_pack("{s:s}", "vip", st->cfg->vips[vip].name);
	explain_entry(env, st, (size_t)vip, &k, j, &be);
	json_object_set_new(j, "from", json_string(be >= 0 ? "flow_table" : "table"));
	if (be < 0) {
		explain_table(env, (size_t)vip, &k, j, &id);
		be = id ? backend_of_id(env, st, (size_t)vip, id) : -1;
	}
	if (st->vips[vip].all_down && st->cfg->vips[vip].all_down_drop)
		be = -1;
	if (be >= 0) {
		const struct state_backend *b = &st->vips[vip].be[be];

		json_object_set_new(j, "backend", json_string(b->cfg->address));
		json_object_set_new(j, "effective", json_string(state_eff_name(b->eff)));
		json_object_set_new(j, "why", json_string(flow_why(&st->vips[vip], b,
					    !strcmp(json_string_value(json_object_get(j, "from")),
						    "flow_table"))));
	} else {
		json_object_set_new(j, "backend", json_null());
		json_object_set_new(j, "why", json_string(st->vips[vip].all_down ?
			"all_down: every backend down by health, policy drop: dropped" :
			"no backend in the table: dropped (no_backend)"));
	}
	r->result = j;
}

/* ------------------------------------------------------------------ */
/* Commands that change */

enum change { CH_DRAIN, CH_UNDRAIN, CH_DOWN, CH_WEIGHT, CH_RESET };

static const char *const change_names[] = { "drain", "undrain", "down", "weight", "reset" };

/*
 * The override a change leaves. undrain puts the backend back to taking
 * traffic: it drops a state override, or, when the config itself says
 * drain or down, overrides that with active.
 */
static struct state_override change_override(const struct state_backend *b, enum change ch,
					      __u32 weight)
{
	struct state_override o = b->ovr;

	switch (ch) {
	case CH_DRAIN:
	case CH_DOWN:
		o.has_state = true;
		o.state = ch == CH_DRAIN ? CONFIG_BACKEND_DRAIN : CONFIG_BACKEND_DOWN;
		break;
	case CH_UNDRAIN:
		o.has_state = b->cfg->state != CONFIG_BACKEND_ACTIVE;
		o.state = CONFIG_BACKEND_ACTIVE;
		break;
	case CH_WEIGHT:
		o.has_weight = true;
		o.weight = weight;
		break;
	case CH_RESET:
		memset(&o, 0, sizeof(o));
		break;
	}
	return o;
}

static void change_run(const struct ctl_env *env, json_t *req, enum change ch,
		       const char *who, struct ctl_reply *r, struct ctl_wait *w)
{
	static const char *const drain_keys[] = { "vip", "backend", "wait", "timeout_s",
						  "idle_s", NULL };
	static const char *const weight_keys[] = { "vip", "backend", "weight", NULL };
	static const char *const plain_keys[] = { "vip", "backend", NULL };
	struct state *st = env->state(env->data);
	json_t *wait = json_object_get(req, "wait");
	struct state_override o;
	long long weight = 0, timeout, idle;
	char err[CTL_MSG_MAX];
	long vip, be;
	struct view v;

	if (!keys_check(req, ch == CH_DRAIN ? drain_keys : ch == CH_WEIGHT ? weight_keys :
			plain_keys, r))
		return;
	if (wait && !json_is_boolean(wait)) {
		fail(r, CTL_BAD_REQUEST, "\"wait\": must be true or false");
		return;
	}
	vip = vip_arg(st, req, r);
	be = vip < 0 ? -1 : backend_arg(st, (size_t)vip, req, r);
	if (be < 0)
		return;
	if (!uint_arg(req, "weight", 1, MAGLEV_WEIGHT_MAX, 0, &weight, r) ||
	    !uint_arg(req, "timeout_s", 1, 86400, CTL_WAIT_TIMEOUT_S, &timeout, r) ||
	    !uint_arg(req, "idle_s", 1, 3600, CTL_IDLE_S, &idle, r))
		return;
	if (ch == CH_WEIGHT && !required(req, "weight", r))
		return;
	o = change_override(&st->vips[vip].be[be], ch, (__u32)weight);
	if (ch == CH_WEIGHT)
		log_info("control: %s: backend weight %s %s %lld", who, st->cfg->vips[vip].name,
			 st->vips[vip].be[be].cfg->address, weight);
	else
		log_info("control: %s: backend %s %s %s", who, change_names[ch],
			 st->cfg->vips[vip].name, st->vips[vip].be[be].cfg->address);
	state_override_set(st, (size_t)vip, (size_t)be, &o, clock_wall_ms());
	if (env->commit(env->data, err, sizeof(err))) {
		fail(r, CTL_FAILED, "%s", err);
		return;
	}
	if (ch == CH_DRAIN && json_is_true(wait)) {
		snprintf(w->vip, sizeof(w->vip), "%s", st->cfg->vips[vip].name);
		snprintf(w->backend, sizeof(w->backend), "%s", st->vips[vip].be[be].cfg->address);
		w->started_ms = clock_wall_ms();
		w->deadline_ms = w->started_ms + (__u64)timeout * 1000;
		w->idle_ms = (__u32)idle * 1000;
		r->pending = true;
		return;
	}
	if (!view_read(env, st, false, &v, r))
		return;
	r->result = backend_json(env, st, &v, (size_t)vip, (size_t)be, NULL);
	json_object_del(r->result, "slots");
	view_free(&v);
}

bool ctl_wait_poll(const struct ctl_env *env, const struct ctl_wait *w, __u64 now_ms,
		   struct ctl_reply *r)
{
	const struct state *st = env->state(env->data);
	long vip = state_vip_find(st, w->vip);
	long be = vip < 0 ? -1 : state_backend_find(st, (size_t)vip, w->backend);
	enum config_backend_state adm;
	__u32 *counts, id, left;
	int rc;

	memset(r, 0, sizeof(*r));
	if (be < 0) {
		fail(r, CTL_CONFLICT, "VIP %s backend %s was removed while waiting", w->vip,
		     w->backend);
		return true;
	}
	/* Its admin state, not its effective one: undrained while down by
	 * health, it is out of the table, yet the drain is over. */
	adm = state_admin(&st->vips[vip].be[be]);
	if (adm != CONFIG_BACKEND_DRAIN) {
		fail(r, CTL_CONFLICT, "VIP %s backend %s is no longer draining: %s", w->vip,
		     w->backend, adm == CONFIG_BACKEND_ACTIVE ? "undrained" : "set down");
		return true;
	}
	counts = calloc(LB_MAX_BACKENDS, sizeof(*counts));
	rc = counts ? flows_count(env->flows, w->idle_ms, counts) : -ENOMEM;
	id = apply_backend_id(env->ap, (size_t)vip, (size_t)be);
	left = rc ? 0 : counts[id];
	free(counts);
	if (rc) {
		fail(r, CTL_FAILED, "reading the flow table: %s", strerror(-rc));
		return true;
	}
	if (left && now_ms < w->deadline_ms)
		return false;
	if (left) {
		fail(r, CTL_TIMEOUT, "VIP %s backend %s still has %u flows after %llu s", w->vip,
		     w->backend, left, (unsigned long long)(now_ms - w->started_ms) / 1000);
		return true;
	}
	r->result = json_pack("{s:s, s:s, s:i, s:I}", "vip", w->vip, "backend", w->backend,
			      "flows", 0, "waited_ms", (json_int_t)(now_ms - w->started_ms));
	return true;
}

/* ------------------------------------------------------------------ */
/* config */

static bool fd_is_file(int fd)
{
	struct stat sb;

	return !fstat(fd, &sb) && S_ISREG(sb.st_mode);
}

/* The config a request sent as a file (SCM_RIGHTS), parsed and checked as
 * lbd would at a reload. NULL with r filled (CTL_BAD_CONFIG and every
 * error line, or why the file cannot be read). */
static struct config *config_arg(json_t *req, int fd, char **text, size_t *len,
				 struct ctl_reply *r)
{
	const char *name = str_arg(req, "name", false, r);
	struct config_errors errs = { 0 };
	struct control_access acc;
	struct config *cfg = NULL;
	char err[128];
	size_t i;
	int rc;

	if (r->code)
		return NULL;
	if (fd < 0) {
		fail(r, CTL_BAD_REQUEST, "send the config file with the request (SCM_RIGHTS)");
		return NULL;
	}
	/* Read on the loop: a pipe or a socket whose writer never writes
	 * would stop lbd. lbctl sends such input as a file of its own. */
	if (!fd_is_file(fd)) {
		fail(r, CTL_BAD_REQUEST, "the config sent is not a regular file");
		return NULL;
	}
	rc = config_fd_read(fd, text, len);
	if (rc) {
		fail(r, CTL_BAD_REQUEST, "cannot read the config sent: %s", strerror(-rc));
		return NULL;
	}
	rc = config_parse(*text ? *text : "", *len, name ? name : "config", &cfg, &errs);
	if (!rc && control_access_resolve(cfg, &acc, err, sizeof(err))) {
		rc = -EINVAL;
		config_free(cfg);
		cfg = NULL;
		errs.lines = calloc(1, sizeof(*errs.lines));
		if (errs.lines && (errs.lines[0] = strdup(err)))
			errs.n = 1;
	}
	if (rc) {
		fail(r, rc == -EINVAL ? CTL_BAD_CONFIG : CTL_FAILED, "the config is not valid "
		     "(%zu error%s)", errs.n, errs.n == 1 ? "" : "s");
		r->errors = json_array();
		for (i = 0; i < errs.n; i++)
			json_array_append_new(r->errors, json_string(errs.lines[i]));
		free(*text);
		*text = NULL;
	}
	config_errors_clear(&errs);
	return cfg;
}

static void cmd_config_validate(const struct ctl_env *env, json_t *req, int fd,
				struct ctl_reply *r)
{
	char *text = NULL;
	size_t len;
	struct config *cfg = config_arg(req, fd, &text, &len, r);

	if (!cfg)
		return;
	r->result = json_pack("{s:b, s:i}", "valid", 1, "vips", (int)cfg->n_vips);
	config_free(cfg);
	free(text);
}

static void cmd_config_diff(const struct ctl_env *env, json_t *req, int fd,
			    struct ctl_reply *r)
{
	const struct state *cur = env->state(env->data);
	struct state_replace_stats rs;
	struct state *next;
	char *text = NULL;
	size_t len;
	struct config *cfg = config_arg(req, fd, &text, &len, r);

	if (!cfg)
		return;
	free(text);
	next = state_new(cfg, clock_wall_ms());
	if (!next) {
		fail(r, CTL_FAILED, "%s", strerror(errno));
		return;
	}
	if (state_carry(next, cur, clock_wall_ms(), &rs)) {
		fail(r, CTL_FAILED, "%s", strerror(ENOMEM));
		state_free(next);
		return;
	}
	r->result = cfgdiff(cur, env->ap, env->maps, next);
	if (!r->result)
		fail(r, CTL_FAILED, "reading the installed tables: %s", strerror(errno));
	else
		json_object_set_new(r->result, "overrides_replaced",
				    json_integer((json_int_t)rs.overrides_dropped));
	state_free(next);
}

static void cmd_config_apply(const struct ctl_env *env, json_t *req, int fd, const char *who,
			     struct ctl_reply *r)
{
	const char *name = str_arg(req, "name", false, r);
	char *text = NULL;
	size_t len;
	struct config *cfg = config_arg(req, fd, &text, &len, r);

	if (!cfg)
		return;
	config_free(cfg);
	log_info("control: %s: config apply%s%s", who, name ? " " : "", name ? name : "");
	env->config_apply(env->data, text, len, name ? name : "config", r);
	free(text);
}

static void cmd_config_show(const struct ctl_env *env, json_t *req, struct ctl_reply *r)
{
	const char *path, *text;
	size_t len;

	text = env->config_text(env->data, &len, &path);
	r->result = json_pack("{s:s, s:s%}", "file", path, "text", text ? text : "", len);
}

/* ------------------------------------------------------------------ */
/* block */

/* Rules sorted by prefix, to ask "is this one of them" of many rules. */
struct rule_index {
	struct state_block *b;
	size_t n;
};

static int prefix_cmp(const void *a, const void *b)
{
	const struct blocklist_rule *x = a, *y = b;
	int c = (int)x->family - (int)y->family;

	if (!c)
		c = memcmp(x->addr, y->addr, sizeof(x->addr));
	return c ? c : (int)x->plen - (int)y->plen;
}

static bool index_build(struct rule_index *ix, const struct state_block *b, size_t n,
			const struct blocklist_rule *rules)
{
	size_t i;

	ix->n = n;
	ix->b = calloc(n + 1, sizeof(*ix->b));
	if (!ix->b)
		return false;
	for (i = 0; i < n; i++) {
		if (b)
			ix->b[i] = b[i];
		else
			ix->b[i].rule = rules[i];
	}
	qsort(ix->b, n, sizeof(*ix->b), prefix_cmp);
	return true;
}

static const struct state_block *index_find(const struct rule_index *ix,
					    const struct blocklist_rule *r)
{
	struct state_block key = { .rule = *r };

	return bsearch(&key, ix->b, ix->n, sizeof(*ix->b), prefix_cmp);
}

static const char *vip_name_of_id(const struct ctl_env *env, const struct state *st, __u32 id)
{
	size_t i;

	for (i = 0; i < st->cfg->n_vips; i++)
		if (apply_vip_id(env->ap, i) == id)
			return st->cfg->vips[i].name;
	return NULL;
}

/* A rule as readers see it: which list, where it came from, its counter. */
static json_t *rule_json(const struct ctl_env *env, const struct state *st,
			 const struct blocklist_rule *r, const struct rule_index *cfg,
			 const struct rule_index *ops)
{
	const struct state_block *op = NULL;
	json_t *j, *from = json_array();
	const char *vip = NULL;
	char prefix[64] = "";

	blocklist_prefix_format(r, prefix, sizeof(prefix));
	if (r->vip == BLOCKLIST_DENY) {
		op = index_find(ops, r);
		if (index_find(cfg, r))
			json_array_append_new(from, json_string("config"));
		if (op)
			json_array_append_new(from, json_string("operator"));
	} else {
		vip = vip_name_of_id(env, st, r->vip);
		json_array_append_new(from, json_string("config"));
	}
	j = json_pack("{s:s, s:s, s:o, s:o, s:i, s:I}", "list",
		      r->vip == BLOCKLIST_DENY ? "deny" : "allow", "prefix", prefix,
		      "vip", vip ? json_string(vip) : json_null(), "from", from,
		      "id", (int)r->id, "packets", (json_int_t)r->packets);
	if (op)
		json_object_set_new(j, "since_ms", json_integer((json_int_t)op->since_ms));
	return j;
}

/* The rules in the maps, filtered by match (if not NULL), as JSON. */
static json_t *rules_json(const struct ctl_env *env, const struct state *st,
			  const struct blocklist_rule *match, struct ctl_reply *r)
{
	struct rule_index cfg = { 0 }, ops = { 0 };
	struct blocklist_rule *rules = NULL;
	json_t *arr = NULL;
	size_t n = 0, i;
	int rc = env->blocks(env->data, &rules, &n);

	if (rc) {
		fail(r, CTL_FAILED, "reading the block lists: %s", strerror(-rc));
		return NULL;
	}
	if (index_build(&cfg, NULL, st->cfg->n_deny, st->cfg->deny) &&
	    index_build(&ops, st->blocks, st->n_blocks, NULL)) {
		arr = json_array();
		for (i = 0; i < n; i++)
			if (!match || (rules[i].vip == BLOCKLIST_DENY && !prefix_cmp(&rules[i], match)))
				json_array_append_new(arr, rule_json(env, st, &rules[i], &cfg, &ops));
	} else {
		fail(r, CTL_FAILED, "%s", strerror(ENOMEM));
	}
	free(cfg.b);
	free(ops.b);
	free(rules);
	return arr;
}

static void cmd_block_list(const struct ctl_env *env, json_t *req, struct ctl_reply *r)
{
	r->result = rules_json(env, env->state(env->data), NULL, r);
}

static bool prefix_arg(json_t *req, struct blocklist_rule *rule, struct ctl_reply *r)
{
	const char *text = str_arg(req, "prefix", true, r);

	memset(rule, 0, sizeof(*rule));
	if (!text)
		return false;
	if (blocklist_prefix_parse(text, rule)) {
		fail(r, CTL_BAD_REQUEST, "\"prefix\": \"%s\" is not ADDRESS[/LENGTH] with the "
		     "host bits zero", text);
		return false;
	}
	if (blocklist_prefix_mapped(rule)) {
		fail(r, CTL_BAD_REQUEST, "\"prefix\": \"%s\" is IPv4-mapped and would match "
		     "nothing: write it as IPv4", text);
		return false;
	}
	rule->vip = BLOCKLIST_DENY;
	rule->flags = LB_RULE_F_OPERATOR;
	return true;
}

static void block_fail(struct ctl_reply *r, bool add, const char *prefix, int rc)
{
	if (rc == -EEXIST)
		fail(r, CTL_CONFLICT, "%s is in the operator's deny list already", prefix);
	else if (rc == -ENOENT)
		fail(r, CTL_NOT_FOUND, "%s is not in the operator's deny list (lbctl block list "
		     "shows the rules and where they come from)", prefix);
	else if (rc == -ENOSPC)
		fail(r, CTL_FAILED, "the block lists are full (%u rules in all)",
		     LB_BLOCK_RULES_MAX);
	else if (rc == -EAGAIN)
		fail(r, CTL_FAILED, "the lists wait for a full apply of the config, which lbd "
		     "retries every second (its log says why); nothing changed, try again then");
	else
		fail(r, CTL_FAILED, "%s %s: %s; the lists are as they were", add ? "adding" :
		     "removing", prefix, strerror(-rc));
}

/* block.add, block.del: the operator's deny list. The reply is the rule as
 * block.list shows it (add), or what is left for that prefix (del: the
 * config may deny it too). */
static void block_run(const struct ctl_env *env, json_t *req, bool add, const char *who,
		      struct ctl_reply *r)
{
	struct blocklist_rule rule;
	char prefix[64] = "";
	int rc;

	if (!prefix_arg(req, &rule, r))
		return;
	blocklist_prefix_format(&rule, prefix, sizeof(prefix));
	log_info("control: %s: block %s %s", who, add ? "add" : "del", prefix);
	rc = env->block(env->data, add, &rule, r->msg, sizeof(r->msg));
	if (rc == -EIO && r->msg[0]) {	/* applied, not saved: r->msg says so */
		r->code = CTL_FAILED;
		return;
	}
	if (rc) {
		block_fail(r, add, prefix, rc);
		return;
	}
	r->result = rules_json(env, env->state(env->data), &rule, r);
}

/* ------------------------------------------------------------------ */
/* node */

/* node.drain, node.undrain: every VIP of the node withdrawn or announced
 * again. The reply is the node as status shows it, with the VIPs. */
static void node_run(const struct ctl_env *env, bool drain, const char *who,
		     struct ctl_reply *r)
{
	const struct state *st = env->state(env->data);
	json_t *vips;
	size_t i;
	int rc;

	log_info("control: %s: node %s", who, drain ? "drain" : "undrain");
	rc = env->node_drain(env->data, drain, r->msg, sizeof(r->msg));
	if (rc) {
		r->code = CTL_FAILED;
		return;
	}
	r->result = env->node_json(env->data);
	vips = json_array();
	for (i = 0; i < st->cfg->n_vips; i++) {
		json_t *a = env->vip_announce_json(env->data, i);
		char key[96];

		state_vip_key_text(&st->cfg->vips[i], key, sizeof(key));
		json_object_set_new(a, "name", json_string(st->cfg->vips[i].name));
		json_object_set_new(a, "vip", json_string(key));
		json_array_append_new(vips, a);
	}
	json_object_set_new(r->result, "vips", vips);
}

/* ------------------------------------------------------------------ */
/* Dispatch */

enum cmd_kind { K_READ, K_CHANGE, K_FILE, K_BLOCK, K_NODE };

struct ctl_cmd {
	const char *name;
	enum cmd_kind kind;
	bool admin;
	enum change ch;
	void (*read)(const struct ctl_env *env, json_t *req, struct ctl_reply *r);
	const char *const *keys;
};

static const char *const k_none[] = { NULL };
static const char *const k_vip[] = { "vip", NULL };
static const char *const k_flow[] = { "proto", "src", "sport", "dst", "dport", NULL };

static const char *const k_name[] = { "name", NULL };
static const char *const k_prefix[] = { "prefix", NULL };

static const struct ctl_cmd cmds[] = {
	{ "status", K_READ, false, 0, cmd_status, k_none },
	{ "vip.list", K_READ, false, 0, cmd_vip_list, k_none },
	{ "vip.show", K_READ, false, 0, cmd_vip_show, k_vip },
	{ "backend.list", K_READ, false, 0, cmd_backend_list, k_vip },
	{ "stats", K_READ, false, 0, cmd_stats, k_vip },
	{ "flow.explain", K_READ, false, 0, cmd_flow_explain, k_flow },
	{ "config.show", K_READ, false, 0, cmd_config_show, k_none },
	{ "backend.drain", K_CHANGE, true, CH_DRAIN, NULL, NULL },
	{ "backend.undrain", K_CHANGE, true, CH_UNDRAIN, NULL, NULL },
	{ "backend.down", K_CHANGE, true, CH_DOWN, NULL, NULL },
	{ "backend.weight", K_CHANGE, true, CH_WEIGHT, NULL, NULL },
	{ "backend.reset", K_CHANGE, true, CH_RESET, NULL, NULL },
	{ "config.validate", K_FILE, false, 0, NULL, k_name },
	{ "config.diff", K_FILE, false, 0, NULL, k_name },
	{ "config.apply", K_FILE, true, 0, NULL, k_name },
	{ "block.list", K_READ, false, 0, cmd_block_list, k_none },
	{ "block.add", K_BLOCK, true, 0, NULL, k_prefix },
	{ "block.del", K_BLOCK, true, 0, NULL, k_prefix },
	{ "node.drain", K_NODE, true, 0, NULL, k_none },
	{ "node.undrain", K_NODE, true, 0, NULL, k_none },
};

static void file_run(const struct ctl_env *env, const char *name, json_t *req, int fd,
		     const char *who, struct ctl_reply *r)
{
	if (!strcmp(name, "config.validate"))
		cmd_config_validate(env, req, fd, r);
	else if (!strcmp(name, "config.diff"))
		cmd_config_diff(env, req, fd, r);
	else
		cmd_config_apply(env, req, fd, who, r);
}

void ctl_run(const struct ctl_env *env, json_t *req, int fd, bool admin, const char *who,
	     struct ctl_reply *r, struct ctl_wait *w)
{
	const char *name;
	size_t i;

	memset(r, 0, sizeof(*r));
	if (!json_is_object(req)) {
		fail(r, CTL_BAD_REQUEST, "a request is a JSON object");
		return;
	}
	name = str_arg(req, "cmd", true, r);
	for (i = 0; name && i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(name, cmds[i].name))
			continue;
		if (cmds[i].admin && !admin) {
			fail(r, CTL_PERMISSION, "%s changes lbd's state: it needs root or the "
			     "control_admin_group", name);
			return;
		}
		if (cmds[i].kind == K_CHANGE)
			change_run(env, req, cmds[i].ch, who, r, w);
		else if (!keys_check(req, cmds[i].keys, r))
			return;
		else if (cmds[i].kind == K_READ)
			cmds[i].read(env, req, r);
		else if (cmds[i].kind == K_BLOCK)
			block_run(env, req, !strcmp(name, "block.add"), who, r);
		else if (cmds[i].kind == K_NODE)
			node_run(env, !strcmp(name, "node.drain"), who, r);
		else
			file_run(env, name, req, fd, who, r);
		return;
	}
	if (name)
		fail(r, CTL_BAD_REQUEST, "unknown command \"%s\"", name);
}

json_t *ctl_reply_json(struct ctl_reply *r)
{
	json_t *j;

	if (r->code) {
		j = json_pack("{s:b, s:s, s:s}", "ok", 0, "error", r->msg, "code",
			      ctl_code_name(r->code));
		if (r->errors)
			json_object_set_new(j, "errors", r->errors);
		r->errors = NULL;
		json_decref(r->result);
		r->result = NULL;
		return j;
	}
	j = json_pack("{s:b, s:o}", "ok", 1, "result", r->result ? r->result : json_null());
	r->result = NULL;
	return j;
}
