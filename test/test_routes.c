// SPDX-License-Identifier: GPL-2.0-only
/*
 * The announcer's routes against the kernel. Each test runs in its own
 * process (Criterion forks) and moves it into a new, anonymous network
 * namespace: t0 is lbd's interface, t2 another lbd's. What the kernel
 * holds is read back with ip(8), as an operator or a routing daemon would
 * see it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "lb_test.h"
#include "routes.h"

#define TABLE	100

/* A command's whole output, lines sorted, for comparing. */
static void sh_read(char *out, size_t len, const char *fmt, ...)
{
	char cmd[1024];
	size_t n;
	va_list ap;
	FILE *p;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	strncat(cmd, " | sort", sizeof(cmd) - strlen(cmd) - 1);
	p = popen(cmd, "r");
	cr_assert_not_null(p, "popen %s", cmd);
	n = fread(out, 1, len - 1, p);
	out[n] = '\0';
	pclose(p);
}

static void setup(void)
{
	lb_test_netns();
	lb_test_sh("ip link set lo up;"
		   "ip link add t0 type veth peer name t1;"
		   "ip link add t2 type veth peer name t3;"
		   "for i in t0 t1 t2 t3; do ip link set $i up; done;"
		   "ip addr add 198.18.1.2/24 dev t0;"
		   "ip addr add 198.18.2.2/24 dev t2;"
		   "ip -6 addr add fd00:1::2/64 dev t0 nodad");
}

TestSuite(routes, .init = setup, .timeout = 30);

static struct route_dst dst(const char *text)
{
	struct route_dst d = { .family = strchr(text, ':') ? AF_INET6 : AF_INET };

	cr_assert_eq(inet_pton(d.family, text, d.addr), 1, "bad address in the test: %s", text);
	return d;
}

static struct routes *own(const char *dev, __u32 table)
{
	int ifindex = (int)if_nametoindex(dev);
	struct routes *r;

	cr_assert_gt(ifindex, 0, "no interface %s", dev);
	r = routes_new(ifindex, table);
	cr_assert_not_null(r, "routes_new(%s, %u): %s", dev, table, strerror(errno));
	return r;
}

static void sync_ok(struct routes *r, const struct route_dst *want, size_t n,
		    struct routes_stats *rs)
{
	int rc = routes_sync(r, want, n, NULL, NULL, rs);

	cr_assert_eq(rc, 0, "routes_sync: %s", strerror(-rc));
	cr_assert(!routes_sync_due(r));
}

/* Notifications take a moment: wait for them, then process. */
static int process(struct routes *r)
{
	struct pollfd p = { .fd = routes_fd(r), .events = POLLIN };

	poll(&p, 1, 300);
	return routes_process(r);
}

Test(routes, new_refuses_the_kernels_tables)
{
	int ifindex = (int)if_nametoindex("t0");

	cr_assert_null(routes_new(ifindex, 0));
	cr_assert_eq(errno, EINVAL);
	cr_assert_null(routes_new(ifindex, 254));
	cr_assert_null(routes_new(ifindex, 255));
	cr_assert_null(routes_new(0, TABLE));
}

/* Host routes through the interface with our protocol, both families,
 * and nothing in the main table. */
Test(routes, sync_installs_host_routes)
{
	struct routes *r = own("t0", TABLE);
	struct route_dst want[] = { dst("198.18.100.1"), dst("fd00:100::1"), dst("198.18.100.2") };
	struct routes_stats rs;
	char out[1024];

	sync_ok(r, want, 3, &rs);
	cr_assert_eq(rs.added, 3);
	cr_assert_eq(routes_count(r), 3);
	cr_assert(routes_installed(r, &want[1]));
	sh_read(out, sizeof(out), "ip -4 route show table %d", TABLE);
	cr_assert_str_eq(out, "198.18.100.1 dev t0 proto 213 scope link \n"
			      "198.18.100.2 dev t0 proto 213 scope link \n");
	sh_read(out, sizeof(out), "ip -6 route show table %d", TABLE);
	cr_assert_str_eq(out, "fd00:100::1 dev t0 proto 213 metric 1024 pref medium\n");
	sh_read(out, sizeof(out), "ip route show table main | grep 198.18.100 || true");
	cr_assert_str_eq(out, "");
	/* The same again changes nothing. */
	sync_ok(r, want, 3, &rs);
	cr_assert_eq(rs.added + rs.removed, 0);
	routes_free(r);
}

/* What is not wanted goes; routes of others stay: another protocol in our
 * table, our protocol through another interface (another lbd). */
Test(routes, sync_removes_only_ours)
{
	struct routes *r = own("t0", TABLE);
	struct route_dst want[] = { dst("198.18.100.1"), dst("198.18.100.2") };
	struct routes_stats rs;
	char out[1024];

	lb_test_sh("ip route add 198.18.100.9 dev t0 table %d proto static;"
		   "ip route add 198.18.100.8 dev t2 table %d proto 213;"
		   "ip route add 198.18.101.0/24 dev t0 table %d proto 213", TABLE, TABLE, TABLE);
	sync_ok(r, want, 2, &rs);
	cr_assert_eq(rs.removed, 1, "the /24: no host route");
	sync_ok(r, want, 1, &rs);
	cr_assert_eq(rs.removed, 1);
	cr_assert(!routes_installed(r, &want[1]));
	cr_assert_eq(routes_count(r), 1);
	sh_read(out, sizeof(out), "ip -4 route show table %d", TABLE);
	cr_assert_str_eq(out, "198.18.100.1 dev t0 proto 213 scope link \n"
			      "198.18.100.8 dev t2 proto 213 scope link \n"
			      "198.18.100.9 dev t0 proto static scope link \n");
	routes_free(r);
}

/* A route to a VIP's address that is not ours (another lbd's through
 * another interface, an operator's) is left as it is: ours goes beside
 * it, and leaves again without it. */
Test(routes, a_foreign_route_to_the_same_address_stays)
{
	struct routes *r = own("t0", TABLE);
	struct route_dst want[] = { dst("198.18.100.1"), dst("fd00:100::1") };
	struct routes_stats rs;
	char out[1024];

	lb_test_sh("ip route add 198.18.100.1 dev t2 table %d proto 213;"
		   "ip -6 route add fd00:100::1 dev t2 table %d proto static", TABLE, TABLE);
	sync_ok(r, want, 2, &rs);
	cr_assert_eq(rs.added, 2);
	sh_read(out, sizeof(out), "ip -4 route show table %d | sort", TABLE);
	cr_assert_str_eq(out, "198.18.100.1 dev t0 proto 213 scope link \n"
			      "198.18.100.1 dev t2 proto 213 scope link \n");
	sh_read(out, sizeof(out), "ip -6 route show table %d | cut -d' ' -f1-5 | sort", TABLE);
	cr_assert_str_eq(out, "fd00:100::1 dev t0 proto 213\n"
			      "fd00:100::1 dev t2 proto static\n");
	sync_ok(r, want, 0, &rs);
	cr_assert_eq(rs.removed, 2);
	sh_read(out, sizeof(out), "ip route show table %d; ip -6 route show table %d | cut -d' ' -f1-5",
		TABLE, TABLE);
	cr_assert_str_eq(out, "198.18.100.1 dev t2 proto 213 scope link \n"
			      "fd00:100::1 dev t2 proto static\n");
	routes_free(r);
}

/* Held (the data path owed a full apply), a sync adds nothing and still
 * withdraws; let go, it adds what waited. */
Test(routes, held_adds_nothing_and_still_withdraws)
{
	struct routes *r = own("t0", TABLE);
	struct route_dst want[] = { dst("198.18.100.1"), dst("198.18.100.2") };
	struct routes_stats rs;

	sync_ok(r, want, 1, &rs);
	routes_hold(r, true);
	sync_ok(r, want, 2, &rs);
	cr_assert_eq(rs.added, 0);
	cr_assert(routes_installed(r, &want[0]) && !routes_installed(r, &want[1]));
	sync_ok(r, want + 1, 1, &rs);
	cr_assert_eq(rs.removed, 1);
	cr_assert_eq(routes_count(r), 0);
	routes_hold(r, false);
	sync_ok(r, want, 2, &rs);
	cr_assert_eq(rs.added, 2);
	routes_free(r);
}

/* A restarted lbd finds its routes and keeps them: nothing is withdrawn
 * and added again. */
Test(routes, a_new_owner_adopts_the_routes)
{
	struct routes *r = own("t0", TABLE), *again;
	struct route_dst want[] = { dst("198.18.100.1"), dst("fd00:100::1") };
	struct routes_stats rs;

	sync_ok(r, want, 2, &rs);
	routes_free(r);
	again = own("t0", TABLE);
	cr_assert_eq(routes_count(again), 0, "nothing is known before the first sync");
	sync_ok(again, want, 2, &rs);
	cr_assert_eq(rs.added + rs.removed, 0);
	cr_assert_eq(routes_count(again), 2);
	routes_free(again);
}

/* Someone else's change to our table asks for a sync; ours do not. */
Test(routes, foreign_changes_ask_for_a_sync)
{
	struct routes *r = own("t0", TABLE);
	struct route_dst want[] = { dst("198.18.100.1"), dst("198.18.100.2") };
	struct routes_stats rs;

	sync_ok(r, want, 2, &rs);
	cr_assert_eq(process(r), 0, "our own additions");
	lb_test_sh("ip route del 198.18.100.2 table %d", TABLE);
	cr_assert_eq(process(r), 1);
	cr_assert(routes_sync_due(r));
	sync_ok(r, want, 2, &rs);
	cr_assert_eq(rs.added, 1, "put back");
	cr_assert_eq(process(r), 0);
	lb_test_sh("ip route add 198.18.7.0/24 dev t2");
	cr_assert_eq(process(r), 0, "the main table is none of ours");
	routes_free(r);
}

/* A link going down takes the IPv4 routes without a notification for
 * each: the link's own says to look again; they come back with it. */
Test(routes, interface_down_and_up)
{
	struct routes *r = own("t0", TABLE);
	struct route_dst want[] = { dst("198.18.100.1") };
	struct routes_stats rs;
	char out[256];
	int rc;

	sync_ok(r, want, 1, &rs);
	lb_test_sh("ip link set t0 down");
	cr_assert_eq(process(r), 1);
	rc = routes_sync(r, want, 1, NULL, NULL, &rs);
	cr_assert_eq(rc, -ENETDOWN, "sync with the interface down: %s", strerror(-rc));
	cr_assert(routes_sync_due(r));
	cr_assert(!routes_installed(r, &want[0]));
	lb_test_sh("ip link set t0 up");
	cr_assert_eq(process(r), 1);
	sync_ok(r, want, 1, &rs);
	sh_read(out, sizeof(out), "ip -4 route show table %d", TABLE);
	cr_assert_str_eq(out, "198.18.100.1 dev t0 proto 213 scope link \n");
	routes_free(r);
}

/* Tables above 255 live in RTA_TABLE only. */
Test(routes, large_table_numbers)
{
	struct routes *r = own("t0", 100000);
	struct route_dst want[] = { dst("198.18.100.1") };
	struct routes_stats rs;
	char out[256];

	sync_ok(r, want, 1, &rs);
	sh_read(out, sizeof(out), "ip -4 route show table 100000");
	cr_assert_str_eq(out, "198.18.100.1 dev t0 proto 213 scope link \n");
	sync_ok(r, NULL, 0, &rs);
	cr_assert_eq(rs.removed, 1);
	routes_free(r);
}

/* Announcing moved to another table, or off, or lbd --unload: ours go
 * from every other table, nobody else's do. */
Test(routes, flush_leaves_the_kept_table_and_others)
{
	struct routes *r = own("t0", TABLE);
	struct route_dst want[] = { dst("198.18.100.1"), dst("fd00:100::1") };
	struct routes_stats rs;
	size_t removed;
	char out[1024];

	sync_ok(r, want, 2, &rs);
	lb_test_sh("ip route add 198.18.100.5 dev t0 table 200 proto 213;"
		   "ip -6 route add fd00:100::5 dev t0 table 300 proto 213;"
		   "ip route add 198.18.100.6 dev t2 table 200 proto 213;"
		   "ip route add 198.18.100.7 dev t0 table 200 proto static");
	cr_assert_eq(routes_flush((int)if_nametoindex("t0"), TABLE, &removed), 0);
	cr_assert_eq(removed, 2);
	sh_read(out, sizeof(out), "ip -4 route show table all proto 213");
	cr_assert_str_eq(out, "198.18.100.1 dev t0 table 100 scope link \n"
			      "198.18.100.6 dev t2 table 200 scope link \n");
	cr_assert_eq(routes_flush((int)if_nametoindex("t0"), 0, &removed), 0);
	cr_assert_eq(removed, 2, "both families in table 100");
	sh_read(out, sizeof(out), "ip route show table all proto 213; "
		"ip -6 route show table all proto 213");
	cr_assert_str_eq(out, "198.18.100.6 dev t2 table 200 scope link \n");
	routes_free(r);
}
