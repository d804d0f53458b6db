// SPDX-License-Identifier: GPL-2.0-only
/*
 * When a node announces a VIP (announce.c): the decision and the routes
 * it asks for, as a table of cases written from docs/scale-out.md, not
 * from the code. Three VIPs: "web" (198.18.100.1:80, three backends) and
 * "tls" (198.18.100.1:443, one backend) share an address and so a route;
 * "dns" (fd00:100::53, two backends) has its own.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "announce.h"
#include "config.h"
#include "state.h"

/* Checked, so that health can take backends down. */
#define HC "\"health_check\": {\"type\": \"tcp\"}, "

static struct state *three_vips(unsigned int table, unsigned int web_need)
{
	struct config_errors errs = { 0 };
	struct config *cfg = NULL;
	char text[2048], announce[64] = "";
	int rc;

	if (table)
		snprintf(announce, sizeof(announce), "\"announce\": {\"table\": %u}, ", table);
	snprintf(text, sizeof(text),
		 "{\"interface\": \"eth0\", %s"
		 "\"tunnel_source\": {\"ipv4\": \"198.18.2.2\", \"ipv6\": \"fd00:2::2\"}, "
		 "\"vips\": ["
		 "{\"name\": \"web\", \"address\": \"198.18.100.1\", \"port\": 80, "
		 "\"protocol\": \"tcp\", \"need\": %u, " HC "\"backends\": [{\"address\": \"198.18.3.1\"}, "
		 "{\"address\": \"198.18.3.2\"}, {\"address\": \"198.18.3.3\"}]}, "
		 "{\"name\": \"tls\", \"address\": \"198.18.100.1\", \"port\": 443, "
		 "\"protocol\": \"tcp\", " HC "\"backends\": [{\"address\": \"198.18.3.9\"}]}, "
		 "{\"name\": \"dns\", \"address\": \"fd00:100::53\", \"port\": 53, "
		 "\"protocol\": \"udp\", " HC "\"backends\": [{\"address\": \"fd00:3::1\"}, "
		 "{\"address\": \"fd00:3::2\"}]}]}",
		 announce, web_need);
	rc = config_parse(text, strlen(text), "t.json", &cfg, &errs);
	cr_assert_eq(rc, 0, "config: %s", errs.n ? errs.lines[0] : "?");
	config_errors_clear(&errs);
	return state_new(cfg, 1000);
}

struct decide_case {
	char what[96];
	unsigned int table;		/* 0: no "announce" */
	bool drained;
	unsigned int web_need;
	int web_down;			/* of web's three backends, down by health */
	bool web_drain;			/* and web's first drained by the operator */
	bool tls_down;
	int dns_down;
	enum announce_reason web, tls, dns;
	bool web_want;
	char routes[64];		/* the routes asked for, in config order */
};

#define OFF	ANNOUNCE_OFF
#define OK	ANNOUNCE_HEALTHY
#define SHARED	ANNOUNCE_SHARED
#define BELOW	ANNOUNCE_BELOW_NEED
#define DRAINED	ANNOUNCE_NODE_DRAINED

static struct decide_case decide_cases[] = {
	{ "no announce: nothing, whatever the backends", 0, false, 1, 3, false, true, 2,
	  OFF, OFF, OFF, false, "" },
	{ "all healthy, need 1", 100, false, 1, 0, false, false, 0,
	  OK, OK, OK, true, "198.18.100.1 fd00:100::53" },
	{ "need 3 met exactly", 100, false, 3, 0, false, false, 0,
	  OK, OK, OK, true, "198.18.100.1 fd00:100::53" },
	{ "need 3, one down: web below need, tls keeps the address", 100, false, 3, 1, false,
	  false, 0, SHARED, OK, OK, true, "198.18.100.1 fd00:100::53" },
	{ "need 3, one drained by the operator: a draining backend does not count", 100,
	  false, 3, 0, true, false, 0, SHARED, OK, OK, true, "198.18.100.1 fd00:100::53" },
	{ "web and tls both below need: the shared address goes", 100, false, 2, 2, false,
	  true, 0, BELOW, BELOW, OK, false, "fd00:100::53" },
	{ "tls down, web fine: the address stays for web", 100, false, 1, 0, false, true, 0,
	  OK, SHARED, OK, true, "198.18.100.1 fd00:100::53" },
	{ "dns has none healthy", 100, false, 1, 0, false, false, 2,
	  OK, OK, BELOW, true, "198.18.100.1" },
	{ "dns has one of two: need 1 met", 100, false, 1, 0, false, false, 1,
	  OK, OK, OK, true, "198.18.100.1 fd00:100::53" },
	{ "node drained: nothing, however healthy", 100, true, 1, 0, false, false, 0,
	  DRAINED, DRAINED, DRAINED, false, "" },
	{ "node drained wins over below need", 100, true, 3, 3, false, true, 2,
	  DRAINED, DRAINED, DRAINED, false, "" },
};

ParameterizedTestParameters(announce, decide)
{
	return cr_make_param_array(struct decide_case, decide_cases,
				   sizeof(decide_cases) / sizeof(decide_cases[0]));
}

static void down(struct state *st, size_t vip, int n)
{
	int i;

	for (i = 0; i < n; i++)
		state_health_set(st, vip, (size_t)i, STATE_HEALTH_DOWN, "refused", 2000);
}

static void routes_text(const struct state *st, char *buf, size_t len)
{
	struct route_dst *r;
	size_t i, n;
	char one[64];

	cr_assert_eq(announce_routes(st, &r, &n), 0);
	buf[0] = '\0';
	for (i = 0; i < n; i++) {
		routes_dst_text(&r[i], one, sizeof(one));
		snprintf(buf + strlen(buf), len - strlen(buf), "%s%s", i ? " " : "", one);
	}
	free(r);
}

ParameterizedTest(struct decide_case *tc, announce, decide)
{
	struct state *st = three_vips(tc->table, tc->web_need);
	struct state_override o = { .has_state = true, .state = CONFIG_BACKEND_DRAIN };
	struct announce_vip a[3];
	char got[256];
	size_t i;

	down(st, 0, tc->web_down);
	if (tc->web_drain)
		state_override_set(st, 0, 0, &o, 2000);
	down(st, 1, tc->tls_down);
	down(st, 2, tc->dns_down);
	if (tc->drained)
		state_node_drain(st, true, 3000);
	for (i = 0; i < 3; i++)
		announce_decide(st, i, &a[i]);
	cr_assert_eq(a[0].reason, tc->web, "%s: web is %s", tc->what,
		     announce_reason_name(a[0].reason));
	cr_assert_eq(a[1].reason, tc->tls, "%s: tls is %s", tc->what,
		     announce_reason_name(a[1].reason));
	cr_assert_eq(a[2].reason, tc->dns, "%s: dns is %s", tc->what,
		     announce_reason_name(a[2].reason));
	cr_assert_eq(a[0].want, tc->web_want, "%s: web want", tc->what);
	cr_assert_eq(a[0].need, tc->web_need);
	routes_text(st, got, sizeof(got));
	cr_assert_str_eq(got, tc->routes, "%s", tc->what);
	state_free(st);
}

/* The count weighed against need is the state model's, and follows it
 * both ways: below need withdraws, recovery announces again. */
Test(announce, follows_health_both_ways)
{
	struct state *st = three_vips(100, 2);
	struct announce_vip a;

	down(st, 0, 2);
	announce_decide(st, 0, &a);
	cr_assert_eq(a.healthy, 1);
	cr_assert_eq(a.reason, ANNOUNCE_SHARED);
	state_health_set(st, 0, 0, STATE_HEALTH_UP, "ok", 4000);
	announce_decide(st, 0, &a);
	cr_assert_eq(a.healthy, 2);
	cr_assert_eq(a.reason, ANNOUNCE_HEALTHY);
	state_free(st);
}

/* Every reason has a name on the wire; none is left blank. */
Test(announce, reason_names)
{
	int r;

	for (r = 0; r < ANNOUNCE_REASON_MAX; r++)
		cr_assert(announce_reason_name((enum announce_reason)r)[0], "reason %d", r);
	cr_assert_str_eq(announce_reason_name(ANNOUNCE_BELOW_NEED), "below_need");
	cr_assert_str_eq(announce_reason_name(ANNOUNCE_REASON_MAX), "unknown");
}
