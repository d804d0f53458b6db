// SPDX-License-Identifier: GPL-2.0-only
/*
 * The balancer's fixture table, run case by case: each case loads a fresh
 * lb_xdp skeleton, fills the maps from the case's environment, runs its frame
 * once through BPF_PROG_TEST_RUN and checks the verdict, the output frame
 * byte for byte, every counter (those a case does not list must be 0) and
 * the flow table afterwards.
 *
 * The cases and their expected frames come from test/gen_fixtures.py (scapy);
 * the path of the JSON it writes is in LB_FIXTURES.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <jansson.h>

#include "datapath.h"
#include "lb_abi.h"
#include "lb_test.h"
#include "lb_xdp.skel.h"
#include "stats.h"

#define FX_ENV_VAR	"LB_FIXTURES"
#define FX_FRAME_MAX	4096
#define FX_OUT_MAX	(FX_FRAME_MAX + 512)	/* room for what the program prepends */
#define FX_NAME_MAX	64

#define FX_GLOBAL_WORDS	(sizeof(struct lb_global_stats) / sizeof(__u64))
#define FX_VIP_WORDS	(sizeof(struct lb_vip_stats) / sizeof(__u64))
#define FX_BE_WORDS	(sizeof(struct lb_backend_stats) / sizeof(__u64))

/* One test per case; index -1 stands for "no fixture table could be read",
 * so that its absence is a failing test rather than an empty suite. */
struct fx_param {
	int index;
};

/* Every counter the program has, as expected or as read back. */
struct fx_counters {
	uint64_t global[FX_GLOBAL_WORDS];
	uint64_t (*vip)[FX_VIP_WORDS];	/* LB_MAX_VIPS rows */
	uint64_t (*be)[FX_BE_WORDS];	/* LB_MAX_BACKENDS rows */
};

_Static_assert(sizeof(((struct lb_global_stats *)0)->verdict) ==
	       LB_VERDICT_MAX * sizeof(__u64), "verdict counters");

static void fx_counters_init(struct fx_counters *c)
{
	memset(c->global, 0, sizeof(c->global));
	c->vip = calloc(LB_MAX_VIPS, sizeof(*c->vip));
	c->be = calloc(LB_MAX_BACKENDS, sizeof(*c->be));
	cr_assert(c->vip && c->be, "out of memory");
}

static void fx_counters_free(struct fx_counters *c)
{
	free(c->vip);
	free(c->be);
}

/* Name of global counter word i, e.g. "drop.frag". */
static void fx_global_name(size_t i, char *buf, size_t len)
{
	size_t v = offsetof(struct lb_global_stats, verdict) / sizeof(__u64);
	size_t d = offsetof(struct lb_global_stats, drop) / sizeof(__u64);
	size_t e = offsetof(struct lb_global_stats, event) / sizeof(__u64);

	if (i >= e)
		snprintf(buf, len, "event.%s", stats_event_names[i - e]);
	else if (i >= d)
		snprintf(buf, len, "drop.%s", stats_drop_names[i - d]);
	else
		snprintf(buf, len, "verdict.%s", stats_verdict_names[i - v]);
}

static int fx_find_name(const char *const *names, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (names[i] && strcmp(names[i], name) == 0)
			return (int)i;
	return -1;
}

/* Parse "<index>.<field>" against a list of field names. */
static int fx_parse_row(const char *s, unsigned long max, const char *const *fields,
			size_t nfields, unsigned long *row, int *field)
{
	char *end;

	errno = 0;
	*row = strtoul(s, &end, 10);
	if (errno || end == s || *end != '.' || *row >= max)
		return -EINVAL;
	*field = fx_find_name(fields, nfields, end + 1);
	return *field < 0 ? -EINVAL : 0;
}

/* Set one expected counter from its JSON name. */
static int fx_counter_set(struct fx_counters *c, const char *name, __u64 val)
{
	size_t d = offsetof(struct lb_global_stats, drop) / sizeof(__u64);
	size_t e = offsetof(struct lb_global_stats, event) / sizeof(__u64);
	unsigned long row;
	int i;

	if (strncmp(name, "verdict.", 8) == 0) {
		i = fx_find_name(stats_verdict_names, LB_VERDICT_MAX, name + 8);
		if (i < 0)
			return -EINVAL;
		c->global[i] = val;
	} else if (strncmp(name, "drop.", 5) == 0) {
		i = fx_find_name(stats_drop_names, LB_DROP_MAX, name + 5);
		if (i < 0)
			return -EINVAL;
		c->global[d + i] = val;
	} else if (strncmp(name, "event.", 6) == 0) {
		i = fx_find_name(stats_event_names, LB_EV_MAX, name + 6);
		if (i < 0)
			return -EINVAL;
		c->global[e + i] = val;
	} else if (strncmp(name, "vip.", 4) == 0) {
		if (fx_parse_row(name + 4, LB_MAX_VIPS, stats_vip_fields, FX_VIP_WORDS, &row, &i))
			return -EINVAL;
		c->vip[row][i] = val;
	} else if (strncmp(name, "backend.", 8) == 0) {
		if (fx_parse_row(name + 8, LB_MAX_BACKENDS, stats_backend_fields, FX_BE_WORDS, &row, &i))
			return -EINVAL;
		c->be[row][i] = val;
	} else {
		return -EINVAL;
	}
	return 0;
}

static void fx_counters_read(const struct lb_xdp *skel, struct fx_counters *c)
{
	int gfd = bpf_map__fd(skel->maps.lb_stats);
	int vfd = bpf_map__fd(skel->maps.vip_stats);
	int bfd = bpf_map__fd(skel->maps.backend_stats);
	int err;

	err = lb_test_percpu_sum(gfd, 0, c->global, FX_GLOBAL_WORDS);
	cr_assert_eq(err, 0, "reading lb_stats: %s", strerror(-err));
	err = lb_test_percpu_sum_all(vfd, LB_MAX_VIPS, &c->vip[0][0], FX_VIP_WORDS);
	cr_assert_eq(err, 0, "reading vip_stats: %s", strerror(-err));
	err = lb_test_percpu_sum_all(bfd, LB_MAX_BACKENDS, &c->be[0][0], FX_BE_WORDS);
	cr_assert_eq(err, 0, "reading backend_stats: %s", strerror(-err));
}

/* Compare every counter; one failure message per counter that differs. */
static void fx_counters_check(const char *cname, const struct fx_counters *want,
			      const struct fx_counters *got)
{
	char name[FX_NAME_MAX];
	size_t i, j;

	for (i = 0; i < FX_GLOBAL_WORDS; i++) {
		if (want->global[i] == got->global[i])
			continue;
		fx_global_name(i, name, sizeof(name));
		cr_expect_fail("%s: counter %s: expected %llu, got %llu", cname, name,
			       (unsigned long long)want->global[i],
			       (unsigned long long)got->global[i]);
	}
	/* Only differences are reported: a passing assertion per counter
	 * would be 130k messages to the runner per case. */
	for (i = 0; i < LB_MAX_VIPS; i++)
		for (j = 0; j < FX_VIP_WORDS; j++)
			if (want->vip[i][j] != got->vip[i][j])
				cr_expect_fail("%s: counter vip.%zu.%s: expected %llu, got %llu",
					       cname, i, stats_vip_fields[j],
					       (unsigned long long)want->vip[i][j],
					       (unsigned long long)got->vip[i][j]);
	for (i = 0; i < LB_MAX_BACKENDS; i++)
		for (j = 0; j < FX_BE_WORDS; j++)
			if (want->be[i][j] != got->be[i][j])
				cr_expect_fail("%s: counter backend.%zu.%s: expected %llu, "
					       "got %llu", cname, i, stats_backend_fields[j],
					       (unsigned long long)want->be[i][j],
					       (unsigned long long)got->be[i][j]);
}

/* --- Reading the fixture table --- */

static const char *fx_str(const char *cname, json_t *obj, const char *field)
{
	const char *s = json_string_value(json_object_get(obj, field));

	cr_assert(s, "%s: fixture has no string \"%s\"", cname, field);
	return s;
}

static __u64 fx_uint(const char *cname, json_t *obj, const char *field)
{
	json_t *v = json_object_get(obj, field);

	cr_assert(json_is_integer(v) && json_integer_value(v) >= 0,
		  "%s: fixture has no unsigned integer \"%s\"", cname, field);
	return (__u64)json_integer_value(v);
}

/* A hex field that must decode to exactly len bytes. */
static void fx_hex_exact(const char *cname, json_t *obj, const char *field, void *buf,
			 size_t len)
{
	long n = lb_test_unhex(fx_str(cname, obj, field), buf, len);

	cr_assert_eq(n, (long)len, "%s: \"%s\" is not %zu bytes of hex", cname, field, len);
}

static void fx_apply_cfg(const char *cname, const struct lb_xdp *skel, json_t *cfg)
{
	struct lb_config val;
	__u32 zero = 0;

	fx_hex_exact(cname, cfg, "hex", &val, sizeof(val));
	cr_assert_eq(bpf_map_update_elem(bpf_map__fd(skel->maps.lb_cfg), &zero, &val, BPF_ANY), 0,
		     "%s: writing lb_cfg: %s", cname, strerror(errno));
}

static void fx_apply_vips(const char *cname, const struct lb_xdp *skel, json_t *vips)
{
	int fd = bpf_map__fd(skel->maps.vip_map);
	struct lb_vip_key key;
	struct lb_vip val;
	json_t *ent;
	size_t i;

	json_array_foreach(vips, i, ent) {
		fx_hex_exact(cname, ent, "key", &key, sizeof(key));
		if (json_is_true(json_object_get(ent, "delete"))) {
			cr_assert_eq(bpf_map_delete_elem(fd, &key), 0, "%s: deleting vip %zu: %s",
				     cname, i, strerror(errno));
			continue;
		}
		fx_hex_exact(cname, ent, "value", &val, sizeof(val));
		cr_assert_eq(bpf_map_update_elem(fd, &key, &val, BPF_ANY), 0,
			     "%s: writing vip %zu: %s", cname, i, strerror(errno));
	}
}

static void fx_apply_backends(const char *cname, const struct lb_xdp *skel, json_t *bes)
{
	int fd = bpf_map__fd(skel->maps.backends);
	struct lb_backend val;
	json_t *ent;
	size_t i;
	__u32 id;

	json_array_foreach(bes, i, ent) {
		id = (__u32)fx_uint(cname, ent, "id");
		fx_hex_exact(cname, ent, "value", &val, sizeof(val));
		cr_assert_eq(bpf_map_update_elem(fd, &id, &val, BPF_ANY), 0,
			     "%s: writing backend %u: %s", cname, id, strerror(errno));
	}
}

static void fx_apply_tables(const char *cname, const struct lb_xdp *skel, json_t *tabs)
{
	int fd = bpf_map__fd(skel->maps.vip_tables);
	json_t *ent, *slots, *slot;
	__u32 vip, *table;
	size_t i, j, n;
	int err;

	json_array_foreach(tabs, i, ent) {
		vip = (__u32)fx_uint(cname, ent, "vip");
		if (json_is_true(json_object_get(ent, "delete"))) {
			cr_assert_eq(bpf_map_delete_elem(fd, &vip), 0,
				     "%s: deleting table of vip %u: %s", cname, vip,
				     strerror(errno));
			continue;
		}
		slots = json_object_get(ent, "slots");
		n = json_array_size(slots);
		cr_assert(n > 0, "%s: table of vip %u has no slots", cname, vip);
		table = calloc(n, sizeof(*table));
		cr_assert(table, "out of memory");
		json_array_foreach(slots, j, slot) {
			cr_assert(json_is_integer(slot),
				  "%s: table of vip %u: slot %zu is not a number", cname, vip, j);
			table[j] = (__u32)json_integer_value(slot);
		}
		err = datapath_table_swap(fd, vip, table, (__u32)n);
		free(table);
		cr_assert_eq(err, 0, "%s: installing table of vip %u: %s", cname, vip,
			     strerror(-err));
	}
}

static void fx_apply_flows(const char *cname, const struct lb_xdp *skel, json_t *flows)
{
	int fd = bpf_map__fd(skel->maps.flow_table);
	struct lb_flow_key key;
	json_t *ent;
	size_t i;

	json_array_foreach(flows, i, ent) {
		fx_hex_exact(cname, ent, "key", &key, sizeof(key));
		lb_test_flow_put(fd, &key, (__u32)fx_uint(cname, ent, "backend"), 0);
	}
}

/* Write an environment: the standard one, then a case's additions. */
static void fx_apply_env(const char *cname, const struct lb_xdp *skel, json_t *env)
{
	json_t *v;

	if (!env)
		return;
	v = json_object_get(env, "cfg");
	if (v)
		fx_apply_cfg(cname, skel, v);
	v = json_object_get(env, "backends");
	if (v)
		fx_apply_backends(cname, skel, v);
	v = json_object_get(env, "tables");
	if (v)
		fx_apply_tables(cname, skel, v);
	v = json_object_get(env, "vips");
	if (v)
		fx_apply_vips(cname, skel, v);
	v = json_object_get(env, "flows");
	if (v)
		fx_apply_flows(cname, skel, v);
}

/* --- Checks --- */

static const char *fx_verdict_name(__u32 v)
{
	return v < LB_VERDICT_MAX ? stats_verdict_names[v] : "?";
}

static void fx_check_frame(const char *cname, const uint8_t *want, size_t want_len,
			   const uint8_t *got, size_t got_len)
{
	size_t i, n = want_len < got_len ? want_len : got_len;
	char *want_hex;

	for (i = 0; i < n && want[i] == got[i]; i++)
		;
	if (i == n && want_len == got_len)
		return;
	want_hex = strdup(lb_test_hex(want, want_len));
	cr_expect_fail("%s: output frame differs at byte %zu (expected %zu bytes, got %zu)\n"
		       "  expected: %s\n  actual:   %s",
		       cname, i, want_len, got_len, want_hex ? want_hex : "?",
		       lb_test_hex(got, got_len));
	free(want_hex);
}

static void fx_check_flows(const char *cname, const struct lb_xdp *skel, json_t *c)
{
	int fd = bpf_map__fd(skel->maps.flow_table);
	struct lb_flow_key key;
	json_t *flows = json_object_get(c, "flows_after"), *ent, *cnt;
	struct lb_flow_slot val;
	size_t i, count;
	__u32 want, got;

	json_array_foreach(flows, i, ent) {
		fx_hex_exact(cname, ent, "key", &key, sizeof(key));
		want = (__u32)fx_uint(cname, ent, "backend");
		if (lb_test_flow_get(fd, &key, &val)) {
			cr_expect_fail("%s: no flow entry for %s (expected backend %u)", cname,
				       json_string_value(json_object_get(ent, "desc")), want);
			continue;
		}
		got = (__u32)(val.tag_id & LB_FLOW_ID_MASK);
		cr_expect_eq(got, want, "%s: flow %s: expected backend %u, got %u", cname,
			     json_string_value(json_object_get(ent, "desc")), want, got);
	}
	cnt = json_object_get(c, "flow_count");
	if (!cnt)
		return;
	count = lb_test_flow_count(fd);
	cr_expect_eq(count, (size_t)json_integer_value(cnt),
		     "%s: flow table holds %zu entries, expected %lld", cname, count,
		     (long long)json_integer_value(cnt));
}

static void fx_run_case(json_t *root, json_t *c)
{
	const char *cname = fx_str("case", c, "name");
	struct fx_counters want, got;
	static uint8_t in[FX_FRAME_MAX], exp[FX_OUT_MAX], out[FX_OUT_MAX];
	size_t out_len = sizeof(out);
	json_t *counters, *val, *out_json;
	struct lb_xdp *skel;
	const char *name;
	__u32 verdict, want_verdict;
	long in_len, exp_len;
	int err;

	in_len = lb_test_unhex(fx_str(cname, c, "in"), in, sizeof(in));
	cr_assert(in_len > 0, "%s: bad \"in\" hex", cname);
	want_verdict = (__u32)fx_uint(cname, c, "verdict");

	fx_counters_init(&want);
	counters = json_object_get(c, "counters");
	json_object_foreach(counters, name, val) {
		cr_assert(json_is_integer(val), "%s: counter %s is not an integer", cname, name);
		cr_assert_eq(fx_counter_set(&want, name, (__u64)json_integer_value(val)), 0,
			     "%s: unknown counter name \"%s\"", cname, name);
	}

	skel = lb_xdp__open_and_load();
	cr_assert(skel, "%s: cannot load lb_xdp: %s", cname, strerror(errno));
	fx_apply_env(cname, skel, json_object_get(root, "env"));
	fx_apply_env(cname, skel, json_object_get(c, "env"));
	/* As the controller does after writing vip_map. */
	err = datapath_filter_sync(bpf_map__fd(skel->maps.vip_map),
				   bpf_map__fd(skel->maps.vip_filter));
	cr_assert_eq(err, 0, "%s: writing vip_filter: %s", cname, strerror(-err));
	err = datapath_index_sync(bpf_map__fd(skel->maps.vip_map), bpf_map__fd(skel->maps.vip_index));
	cr_assert_eq(err, 0, "%s: writing vip_index: %s", cname, strerror(-err));

	err = lb_test_run(bpf_program__fd(skel->progs.lb_xdp), in, (size_t)in_len, out, &out_len,
			  &verdict);
	cr_assert_eq(err, 0, "%s: BPF_PROG_TEST_RUN: %s", cname, strerror(-err));

	cr_expect_eq(verdict, want_verdict, "%s: verdict %s (%u), expected %s (%u)", cname,
		     fx_verdict_name(verdict), verdict, fx_verdict_name(want_verdict),
		     want_verdict);

	out_json = json_object_get(c, "out");
	if (want_verdict == XDP_PASS) {
		fx_check_frame(cname, in, (size_t)in_len, out, out_len);
	} else if (json_is_string(out_json)) {
		exp_len = lb_test_unhex(json_string_value(out_json), exp, sizeof(exp));
		cr_assert(exp_len > 0, "%s: bad \"out\" hex", cname);
		fx_check_frame(cname, exp, (size_t)exp_len, out, out_len);
	}

	fx_counters_init(&got);
	fx_counters_read(skel, &got);
	fx_counters_check(cname, &want, &got);
	fx_check_flows(cname, skel, c);

	fx_counters_free(&got);
	fx_counters_free(&want);
	lb_xdp__destroy(skel);
}

static void fx_params_free(struct criterion_test_params *crp)
{
	cr_free(crp->params);
}

ParameterizedTestParameters(xdp_fixtures, table)
{
	const char *path = getenv(FX_ENV_VAR);
	struct fx_param *params;
	json_t *root = NULL, *cases;
	size_t n = 0, i;

	if (path)
		root = lb_test_load_json(path);
	cases = json_object_get(root, "cases");
	if (json_is_array(cases))
		n = json_array_size(cases);
	params = cr_malloc((n ? n : 1) * sizeof(*params));
	if (!params) {
		json_decref(root);
		return cr_make_param_array(struct fx_param, NULL, 0, NULL);
	}
	for (i = 0; i < n; i++)
		params[i].index = (int)i;
	if (!n)
		params[0].index = -1;
	json_decref(root);
	return cr_make_param_array(struct fx_param, params, n ? n : 1, fx_params_free);
}

ParameterizedTest(struct fx_param *p, xdp_fixtures, table)
{
	const char *path;
	json_t *root, *c;

	lb_test_require_bpf();
	path = getenv(FX_ENV_VAR);
	cr_assert(path && *path, FX_ENV_VAR " is not set: point it at the JSON written by "
		  "test/gen_fixtures.py");
	root = lb_test_load_json(path);
	cr_assert(root, FX_ENV_VAR "=%s: cannot read the fixture table", path);
	cr_assert(p->index >= 0, FX_ENV_VAR "=%s: no cases in the fixture table", path);
	c = json_array_get(json_object_get(root, "cases"), (size_t)p->index);
	cr_assert(c, FX_ENV_VAR "=%s: no case %d", path, p->index);
	fx_run_case(root, c);
	json_decref(root);
}
