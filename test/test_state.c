// SPDX-License-Identifier: GPL-2.0-only
/*
 * The state model: the precedence of config, operator and health as a
 * table, all_down, and what a new config carries over.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "config.h"
#include "state.h"

#define OVR_NONE	(-1)

/* One backend: config state, override state (or OVR_NONE), health. */
struct prec_case {
	enum config_backend_state cfg;
	int ovr;
	enum state_health health;
	enum state_eff want;
};

#define A CONFIG_BACKEND_ACTIVE
#define D CONFIG_BACKEND_DRAIN
#define X CONFIG_BACKEND_DOWN
#define HU STATE_HEALTH_UNKNOWN
#define HUP STATE_HEALTH_UP
#define HD STATE_HEALTH_DOWN

/* Every combination, written out by hand: the documented precedence
 * (docs/operations.md), not a copy of the code. */
static struct prec_case prec_cases[] = {
	{ A, OVR_NONE, HU, STATE_IN }, { A, OVR_NONE, HUP, STATE_IN }, { A, OVR_NONE, HD, STATE_OUT },
	{ A, A, HU, STATE_IN }, { A, A, HUP, STATE_IN }, { A, A, HD, STATE_OUT },
	{ A, D, HU, STATE_DRAINING }, { A, D, HUP, STATE_DRAINING }, { A, D, HD, STATE_OUT },
	{ A, X, HU, STATE_OUT }, { A, X, HUP, STATE_OUT }, { A, X, HD, STATE_OUT },
	{ D, OVR_NONE, HU, STATE_DRAINING }, { D, OVR_NONE, HUP, STATE_DRAINING },
	{ D, OVR_NONE, HD, STATE_OUT },
	{ D, A, HU, STATE_IN }, { D, A, HUP, STATE_IN }, { D, A, HD, STATE_OUT },
	{ D, D, HU, STATE_DRAINING }, { D, D, HUP, STATE_DRAINING }, { D, D, HD, STATE_OUT },
	{ D, X, HU, STATE_OUT }, { D, X, HUP, STATE_OUT }, { D, X, HD, STATE_OUT },
	{ X, OVR_NONE, HU, STATE_OUT }, { X, OVR_NONE, HUP, STATE_OUT }, { X, OVR_NONE, HD, STATE_OUT },
	{ X, A, HU, STATE_IN }, { X, A, HUP, STATE_IN }, { X, A, HD, STATE_OUT },
	{ X, D, HU, STATE_DRAINING }, { X, D, HUP, STATE_DRAINING }, { X, D, HD, STATE_OUT },
	{ X, X, HU, STATE_OUT }, { X, X, HUP, STATE_OUT }, { X, X, HD, STATE_OUT },
};

static const char *const cfg_states[] = { "active", "drain", "down" };

#define CFG_HEAD \
	"{\"interface\": \"eth0\", \"tunnel_source\": {\"ipv4\": \"198.18.2.2\"}, \"vips\": ["
#define HC "\"health_check\": {\"type\": \"tcp\"}, "

static struct config *parse(const char *text)
{
	struct config_errors errs = { 0 };
	struct config *cfg = NULL;
	int rc = config_parse(text, strlen(text), "t.json", &cfg, &errs);

	cr_assert_eq(rc, 0, "config: %s", errs.n ? errs.lines[0] : "?");
	config_errors_clear(&errs);
	return cfg;
}

/* A checked VIP "web" with backends 198.18.3.1 .. n, all in state s, and
 * one extra healthy active backend 198.18.4.1 when spare is set, so that
 * all_down never comes into play. */
static struct state *web(size_t n, const char *s, bool spare, const char *policy)
{
	char buf[4096];
	size_t i, len;

	len = (size_t)snprintf(buf, sizeof(buf), CFG_HEAD "{\"name\": \"web\", \"address\": "
			       "\"198.18.100.1\", \"port\": 80, \"protocol\": \"tcp\", "
			       "\"table_size\": 251, " HC "\"all_down\": \"%s\", \"backends\": [",
			       policy);
	for (i = 0; i < n; i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len,
					"%s{\"address\": \"198.18.3.%zu\", \"state\": \"%s\"}",
					i ? "," : "", i + 1, s);
	if (spare)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len,
					"%s{\"address\": \"198.18.4.1\"}", n ? "," : "");
	snprintf(buf + len, sizeof(buf) - len, "]}]}");
	return state_new(parse(buf), 1000);
}

/* web() with one backend given its three layers, and the spare. */
static struct state *layered(enum config_backend_state cfg, int ovr, enum state_health health)
{
	struct state *st = web(1, cfg_states[cfg], true, "keep");
	struct state_override o = { 0 };

	cr_assert_not_null(st);
	if (ovr != OVR_NONE) {
		o.has_state = true;
		o.state = (enum config_backend_state)ovr;
		state_override_set(st, 0, 0, &o, 2000);
	}
	if (health != STATE_HEALTH_UNKNOWN)
		state_health_set(st, 0, 0, health, "test", 3000);
	return st;
}

ParameterizedTestParameters(state, precedence)
{
	return cr_make_param_array(struct prec_case, prec_cases,
				   sizeof(prec_cases) / sizeof(prec_cases[0]));
}

ParameterizedTest(struct prec_case *tc, state, precedence)
{
	struct state *st = layered(tc->cfg, tc->ovr, tc->health);

	cr_assert_eq(st->vips[0].be[0].eff, tc->want,
		     "config %s, override %d, health %s: got %s, want %s",
		     cfg_states[tc->cfg], tc->ovr, state_health_name(tc->health),
		     state_eff_name(st->vips[0].be[0].eff), state_eff_name(tc->want));
	/* The pure function agrees with the model. */
	cr_assert_eq(state_precedence(state_admin(&st->vips[0].be[0]), tc->health), tc->want);
	state_free(st);
}

/* Whether one backend counts toward its VIP's need, for every layer:
 * written out by hand from docs/config.md ("need"), as above. */
struct healthy_case {
	enum config_backend_state cfg;
	int ovr;
	enum state_health health;
	size_t want;
};

static struct healthy_case healthy_cases[] = {
	{ A, OVR_NONE, HU, 1 }, { A, OVR_NONE, HUP, 1 }, { A, OVR_NONE, HD, 0 },
	{ A, A, HU, 1 }, { A, D, HUP, 0 }, { A, X, HUP, 0 },
	{ D, OVR_NONE, HU, 0 }, { D, OVR_NONE, HUP, 0 }, { D, A, HUP, 1 }, { D, A, HD, 0 },
	{ X, OVR_NONE, HUP, 0 }, { X, A, HU, 1 }, { X, A, HD, 0 }, { X, D, HUP, 0 },
};

ParameterizedTestParameters(state, healthy)
{
	return cr_make_param_array(struct healthy_case, healthy_cases,
				   sizeof(healthy_cases) / sizeof(healthy_cases[0]));
}

/* The spare backend is healthy throughout: it counts one. */
ParameterizedTest(struct healthy_case *tc, state, healthy)
{
	struct state *st = layered(tc->cfg, tc->ovr, tc->health);

	cr_assert_eq(state_vip_healthy(&st->vips[0]), 1 + tc->want,
		     "config %s, override %d, health %s", cfg_states[tc->cfg], tc->ovr,
		     state_health_name(tc->health));
	state_free(st);
}

/* all_down keep holds backends in the table; it does not make them
 * healthy: a VIP served only by them has none. */
Test(state, kept_backends_are_not_healthy)
{
	struct state *st = web(2, "active", false, "keep");

	state_health_set(st, 0, 0, STATE_HEALTH_DOWN, "refused", 2000);
	cr_assert_eq(state_vip_healthy(&st->vips[0]), 1);
	state_health_set(st, 0, 1, STATE_HEALTH_DOWN, "refused", 2100);
	cr_assert(st->vips[0].all_down);
	cr_assert(st->vips[0].be[1].kept, "the last one stays in the table");
	cr_assert_eq(state_vip_healthy(&st->vips[0]), 0);
	state_free(st);
}

Test(state, weight_override_and_clear)
{
	struct state *st = web(2, "active", false, "keep");
	struct state_override o = { .has_weight = true, .weight = 7 };
	struct state_backend *b = &st->vips[0].be[1];

	cr_assert_eq(b->weight, 100);
	state_override_set(st, 0, 1, &o, 2000);
	cr_assert_eq(b->weight, 7);
	cr_assert_eq(b->ovr.since_ms, 2000);
	cr_assert(st->vips[0].dirty);
	memset(&o, 0, sizeof(o));
	state_override_set(st, 0, 1, &o, 3000);
	cr_assert_eq(b->weight, 100);
	cr_assert_eq(b->ovr.since_ms, 0);
	state_free(st);
}

/* all_down keep: the backends in the table when the last one fell stay in
 * it; the others (down earlier) stay out. */
Test(state, all_down_keep_holds_the_last_healthy_set)
{
	struct state *st = web(3, "active", false, "keep");
	struct state_vip *v = &st->vips[0];
	unsigned int got = 0;

	state_health_set(st, 0, 2, STATE_HEALTH_DOWN, "refused", 2000);
	state_health_set(st, 0, 1, STATE_HEALTH_DOWN, "refused", 3000);
	cr_assert(!v->all_down);
	cr_assert_eq(v->be[0].eff, STATE_IN);
	cr_assert_eq(v->be[1].eff, STATE_OUT);
	state_health_set(st, 0, 0, STATE_HEALTH_DOWN, "timeout after 200 ms", 4000);
	cr_assert(v->all_down);
	cr_assert_eq(v->all_down_since_ms, 4000);
	cr_assert_eq(v->be[0].eff, STATE_IN);
	cr_assert(v->be[0].kept);
	cr_assert_eq(v->be[1].eff, STATE_OUT);
	cr_assert_eq(v->be[2].eff, STATE_OUT);
	cr_assert_str_eq(v->be[0].hl.reason, "timeout after 200 ms");
	/* One comes back: it alone takes the traffic. */
	got = v->be[1].hl.health;
	state_health_set(st, 0, 1, STATE_HEALTH_UP, "ok", 5000);
	cr_assert_neq(got, STATE_HEALTH_UP);
	cr_assert(!v->all_down);
	cr_assert_eq(v->be[0].eff, STATE_OUT);
	cr_assert(!v->be[0].kept);
	cr_assert_eq(v->be[1].eff, STATE_IN);
	state_free(st);
}

Test(state, all_down_drop_takes_everything_out)
{
	struct state *st = web(2, "active", false, "drop");
	struct state_vip *v = &st->vips[0];

	state_health_set(st, 0, 0, STATE_HEALTH_DOWN, "refused", 2000);
	state_health_set(st, 0, 1, STATE_HEALTH_DOWN, "refused", 3000);
	cr_assert(v->all_down);
	cr_assert_eq(v->be[0].eff, STATE_OUT);
	cr_assert_eq(v->be[1].eff, STATE_OUT);
	cr_assert(!v->be[0].kept && !v->be[1].kept);
	state_free(st);
}

/* Taking every backend out administratively is not all_down. */
Test(state, admin_removal_is_not_all_down)
{
	struct state *st = web(2, "down", false, "keep");
	struct state_vip *v = &st->vips[0];
	struct state_override o = { .has_state = true, .state = CONFIG_BACKEND_DOWN };

	cr_assert(!v->all_down);
	cr_assert_eq(v->be[0].eff, STATE_OUT);
	state_free(st);

	st = web(2, "active", false, "keep");
	v = &st->vips[0];
	state_override_set(st, 0, 0, &o, 2000);
	state_override_set(st, 0, 1, &o, 2000);
	cr_assert(!v->all_down);
	cr_assert_eq(v->be[0].eff, STATE_OUT);
	cr_assert_eq(v->be[1].eff, STATE_OUT);
	state_free(st);
}

/* When none of the active backends was in the table before all of them
 * fell (the operator drained the last one meanwhile), keep puts them all
 * in: the VIP keeps answering. */
Test(state, all_down_keep_with_no_last_set_takes_every_active_backend)
{
	struct state *st = web(3, "active", false, "keep");
	struct state_vip *v = &st->vips[0];
	struct state_override drain = { .has_state = true, .state = CONFIG_BACKEND_DRAIN };

	state_health_set(st, 0, 1, STATE_HEALTH_DOWN, "refused", 2000);
	state_health_set(st, 0, 2, STATE_HEALTH_DOWN, "refused", 2000);
	state_health_set(st, 0, 0, STATE_HEALTH_DOWN, "refused", 3000);
	cr_assert(v->all_down);
	cr_assert(v->be[0].kept);
	state_override_set(st, 0, 0, &drain, 4000);
	cr_assert(v->all_down, "backends 1 and 2 are active and down");
	cr_assert_eq(v->be[0].eff, STATE_OUT, "drained and down");
	cr_assert_eq(v->be[1].eff, STATE_IN);
	cr_assert_eq(v->be[2].eff, STATE_IN);
	state_free(st);
}

struct seen {
	unsigned int kinds[4];
	size_t n;
};

static void listen(struct state *st, size_t vip, unsigned int kinds, void *data)
{
	struct seen *s = data;

	if (s->n < 4)
		s->kinds[s->n++] = kinds;
}

Test(state, listener_hears_all_down_once)
{
	struct state *st = web(1, "active", false, "keep");
	struct seen s = { 0 };

	st->listener = listen;
	st->listener_data = &s;
	state_health_set(st, 0, 0, STATE_HEALTH_DOWN, "refused", 2000);
	state_health_set(st, 0, 0, STATE_HEALTH_DOWN, "refused again", 2500);
	state_health_set(st, 0, 0, STATE_HEALTH_UP, "ok", 3000);
	cr_assert_eq(s.n, 2, "a repeated result is no change");
	cr_assert_eq(s.kinds[0], STATE_CH_SAVED | STATE_CH_ALL_DOWN | STATE_CH_EFFECTIVE,
		     "kinds %#x", s.kinds[0]);
	cr_assert_eq(s.kinds[1], STATE_CH_SAVED | STATE_CH_RECOVERED | STATE_CH_EFFECTIVE,
		     "kinds %#x", s.kinds[1]);
	state_free(st);
}

Test(state, unchecked_vip_ignores_health)
{
	struct state *st = state_new(parse(CFG_HEAD "{\"name\": \"web\", \"address\": "
				     "\"198.18.100.1\", \"port\": 80, \"protocol\": \"tcp\", "
				     "\"backends\": [{\"address\": \"198.18.3.1\"}]}]}"), 1000);

	state_health_set(st, 0, 0, STATE_HEALTH_DOWN, "refused", 2000);
	cr_assert_eq(st->vips[0].be[0].hl.health, STATE_HEALTH_UNKNOWN);
	cr_assert_eq(st->vips[0].be[0].eff, STATE_IN);
	state_free(st);
}

/* The next config, as lbd takes it: carried from st, which goes. */
static struct state *next(struct state *st, const char *text, __u64 now,
			  struct state_replace_stats *rs)
{
	struct state *n = state_new(parse(text), now);

	cr_assert_not_null(n);
	cr_assert_eq(state_carry(n, st, now, rs), 0);
	state_free(st);
	return n;
}

#define WEB2(w1, s2) \
	CFG_HEAD "{\"name\": \"web\", \"address\": \"198.18.100.1\", \"port\": 80, " \
	"\"protocol\": \"tcp\", " HC "\"backends\": [{\"address\": \"198.18.3.1\", " \
	"\"weight\": " w1 "}, {\"address\": \"198.18.3.2\", \"state\": \"" s2 "\"}]}, " \
	"{\"name\": \"dns\", \"address\": \"198.18.100.2\", \"port\": 53, \"protocol\": \"udp\", " \
	"\"backends\": [{\"address\": \"198.18.3.1\"}]}]}"

/*
 * A config that leaves a field as it was keeps the operator's override of
 * it; one that changes the field replaces it. Health is carried by address.
 */
Test(state, carry_keeps_or_drops_overrides)
{
	struct state *st = state_new(parse(WEB2("100", "active")), 1000);
	struct state_override w = { .has_weight = true, .weight = 5 };
	struct state_override d = { .has_state = true, .state = CONFIG_BACKEND_DRAIN };
	struct state_replace_stats rs;

	state_override_set(st, 0, 0, &w, 2000);
	state_override_set(st, 0, 1, &d, 2000);
	state_health_set(st, 0, 1, STATE_HEALTH_UP, "ok", 2500);
	/* The same values: everything stays. */
	st = next(st, WEB2("100", "active"), 3000, &rs);
	cr_assert_eq(rs.overrides_kept, 2);
	cr_assert_eq(rs.overrides_dropped, 0);
	cr_assert_eq(rs.health_kept, 1);
	cr_assert_eq(st->generation, 2);
	cr_assert_eq(st->vips[0].be[0].weight, 5);
	cr_assert_eq(st->vips[0].be[1].eff, STATE_DRAINING);
	cr_assert_eq(st->vips[0].be[1].hl.health, STATE_HEALTH_UP);
	cr_assert_eq(st->vips[0].be[1].ovr.since_ms, 2000, "the override's time stays");
	/* The config changes backend 1's weight: that override goes; the
	 * drain of backend 2 stays, its state being unchanged. */
	st = next(st, WEB2("300", "active"), 4000, &rs);
	cr_assert_eq(rs.overrides_kept, 1);
	cr_assert_eq(rs.overrides_dropped, 1);
	cr_assert_eq(st->vips[0].be[0].weight, 300);
	cr_assert(!st->vips[0].be[0].ovr.has_weight);
	cr_assert_eq(st->vips[0].be[1].eff, STATE_DRAINING);
	/* The config now says drain itself: the override is replaced. */
	st = next(st, WEB2("300", "drain"), 5000, &rs);
	cr_assert_eq(rs.overrides_dropped, 1);
	cr_assert(!st->vips[0].be[1].ovr.has_state);
	cr_assert_eq(st->vips[0].be[1].eff, STATE_DRAINING);
	/* The other VIP's backend at the same address is untouched. */
	cr_assert_eq(st->vips[1].be[0].weight, 100);
	state_free(st);
}

/* The node's drain is the operator's: told once, kept by every config. */
Test(state, node_drain_is_told_once_and_outlives_configs)
{
	struct state *st = state_new(parse(WEB2("100", "active")), 1000);
	struct state_replace_stats rs;
	struct seen s = { 0 };

	st->listener = listen;
	st->listener_data = &s;
	state_clean(st);
	cr_assert(state_node_drain(st, true, 2000));
	cr_assert(!state_node_drain(st, true, 2500), "draining twice is no change");
	cr_assert_eq(s.n, 1);
	cr_assert_eq(s.kinds[0], STATE_CH_NODE | STATE_CH_SAVED, "kinds %#x", s.kinds[0]);
	cr_assert(!st->vips[0].dirty, "the tables do not change");
	st = next(st, WEB2("300", "drain"), 3000, &rs);
	cr_assert(st->node.drained);
	cr_assert_eq(st->node.since_ms, 2000);
	st->listener = listen;
	st->listener_data = &s;
	cr_assert(state_node_drain(st, false, 4000));
	cr_assert_eq(s.n, 2);
	cr_assert_eq(st->node.since_ms, 0);
	state_free(st);
}

/* The operator's deny rules are not the config's: every config keeps
 * them, and removing one leaves the others in order. */
Test(state, operator_blocks_outlive_configs)
{
	struct state *st = state_new(parse(WEB2("100", "active")), 1000);
	struct blocklist_rule a = { 0 }, b = { 0 };
	struct state_replace_stats rs;

	cr_assert_eq(blocklist_prefix_parse("198.19.0.0/16", &a), 0);
	cr_assert_eq(blocklist_prefix_parse("198.19.7.7", &b), 0);
	cr_assert_eq(state_block_add(st, &a, 2000), 0);
	cr_assert_eq(state_block_add(st, &b, 2100), 0);
	st = next(st, WEB2("300", "drain"), 3000, &rs);
	cr_assert_eq(st->n_blocks, 2);
	cr_assert_eq(state_block_find(st, &b), 1);
	cr_assert_eq(st->blocks[1].since_ms, 2100);
	state_block_del(st, 0);
	cr_assert_eq(state_block_find(st, &a), -1);
	cr_assert_eq(state_block_find(st, &b), 0);
	cr_assert_eq(st->blocks[0].rule.flags, LB_RULE_F_OPERATOR);
	state_free(st);
}

/* Health outlives a config that keeps the backend, not one that drops
 * the VIP's check. */
Test(state, carry_clears_health_without_a_check)
{
	struct state *st = state_new(parse(WEB2("100", "active")), 1000);
	struct state_replace_stats rs;

	state_health_set(st, 0, 0, STATE_HEALTH_DOWN, "refused", 2000);
	cr_assert_eq(st->vips[0].be[0].eff, STATE_OUT);
	st = next(st, CFG_HEAD "{\"name\": \"web\", \"address\": "
			"\"198.18.100.1\", \"port\": 80, \"protocol\": \"tcp\", \"backends\": "
			"[{\"address\": \"198.18.3.1\"}]}]}", 3000, &rs);
	cr_assert_eq(st->vips[0].be[0].hl.health, STATE_HEALTH_UNKNOWN);
	cr_assert_eq(st->vips[0].be[0].eff, STATE_IN);
	state_free(st);
}

Test(state, find_by_name_key_and_address)
{
	struct state *st = state_new(parse("{\"interface\": \"eth0\", \"tunnel_source\": "
			"{\"ipv6\": \"fd00:2::2\"}, \"vips\": [{\"name\": \"web\", \"address\": "
			"\"198.18.100.1\", \"port\": 80, \"protocol\": \"tcp\", \"backends\": "
			"[{\"address\": \"fd00:3::1\"}]}, {\"name\": \"dns\", \"address\": "
			"\"fd00:100::53\", \"port\": 53, \"protocol\": \"udp\", \"backends\": []}]}"),
			1000);

	cr_assert_not_null(st);
	cr_assert_eq(state_vip_find(st, "web"), 0);
	cr_assert_eq(state_vip_find(st, "198.18.100.1:80/tcp"), 0);
	cr_assert_eq(state_vip_find(st, "[fd00:100:0::53]:53/udp"), 1);
	cr_assert_eq(state_vip_find(st, "198.18.100.1:81/tcp"), -1);
	cr_assert_eq(state_vip_find(st, "198.18.100.1:80/sctp"), -1);
	cr_assert_eq(state_vip_find(st, "198.18.100.1:80/tcpx"), -1);
	cr_assert_eq(state_vip_find(st, "nope"), -1);
	cr_assert_eq(state_backend_find(st, 0, "FD00:3:0::1"), 0);
	cr_assert_eq(state_backend_find(st, 0, "fd00:3::2"), -1);
	cr_assert_eq(state_backend_find(st, 0, "not an address"), -1);
	state_free(st);
}
