// SPDX-License-Identifier: GPL-2.0-only
/*
 * Tests of the next-hop watcher against the kernel. Each test runs in its
 * own process (Criterion forks) and moves it into a new, anonymous network
 * namespace, so that nothing touches the host's: t0/t1 and t2/t3 are veth
 * pairs; the gateways exist only as neighbour entries on t0 and t2, or as
 * frames the test writes on t1 with a packet socket.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/if_ether.h>
#include <netpacket/packet.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "lb_test.h"
#include "nexthop.h"

#define WAIT_MS		1000
#define MAC_FE		"02:00:00:00:00:fe"

static const char *const base_setup =
	"ip link set lo up;"
	"ip link add t0 type veth peer name t1;"
	"ip link add t2 type veth peer name t3;"
	"for i in t0 t1 t2 t3; do ip link set $i up; done;"
	"ip addr add 198.18.1.2/24 dev t0;"
	"ip addr add 198.18.2.2/24 dev t2;"
	"ip -6 addr add fd00:1::2/64 dev t0 nodad;"
	"ip -6 addr add fd00:2::2/64 dev t2 nodad";

/* The first line of a command's output, without its newline. */
static void sh_read(char *out, size_t len, const char *cmd)
{
	FILE *p = popen(cmd, "r");

	cr_assert_not_null(p, "popen %s", cmd);
	if (!fgets(out, len, p))
		out[0] = '\0';
	out[strcspn(out, "\n")] = '\0';
	pclose(p);
}

static void setup(void)
{
	lb_test_netns();
	lb_test_sh("%s", base_setup);
}

TestSuite(nexthop, .init = setup, .timeout = 30);

static void mac_parse(const char *text, __u8 mac[6])
{
	int n = sscanf(text, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx",
		       &mac[0], &mac[1], &mac[2], &mac[3], &mac[4], &mac[5]);

	cr_assert_eq(n, 6, "bad MAC in the test: %s", text);
}

static const char *mac_text(const __u8 mac[6])
{
	static char buf[18];

	snprintf(buf, sizeof(buf), "%02x:%02x:%02x:%02x:%02x:%02x",
		 mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
	return buf;
}

static void assert_mac(const struct nexthop *nh, const char *want)
{
	__u8 mac[6] = {};
	int ret = nexthop_mac(nh, mac);

	cr_assert_eq(ret, 0, "nexthop_mac: %s", strerror(-ret));
	cr_assert_str_eq(mac_text(mac), want);
}

static struct nexthop *watch(const char *dev, int family)
{
	int ifindex = if_nametoindex(dev);
	struct nexthop *nh;

	cr_assert_gt(ifindex, 0, "no interface %s", dev);
	nh = nexthop_new(ifindex, family);
	cr_assert_not_null(nh, "nexthop_new(%s): %s", dev, strerror(errno));
	return nh;
}

/* Resolve and expect a MAC. */
static struct nexthop *watch_resolved(const char *dev, int family, const char *want)
{
	struct nexthop *nh = watch(dev, family);
	__u8 mac[6] = {};
	int ret = nexthop_resolve(nh, mac);

	cr_assert_eq(ret, 0, "nexthop_resolve: %s", strerror(-ret));
	cr_assert_str_eq(mac_text(mac), want);
	return nh;
}

static long ms_since(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - start->tv_sec) * 1000 + (now.tv_nsec - start->tv_nsec) / 1000000;
}

/* Whether the watcher's fd turns readable within WAIT_MS. */
static bool wait_readable(const struct nexthop *nh, int ms)
{
	struct pollfd pfd = { .fd = nexthop_fd(nh), .events = POLLIN };
	int n = poll(&pfd, 1, ms);

	cr_assert_geq(n, 0, "poll: %s", strerror(errno));
	return n == 1;
}

/* Poll and process until a change is reported or WAIT_MS pass: 1 or 0. */
static int wait_change(struct nexthop *nh)
{
	struct timespec start;
	long left;
	int ret;

	clock_gettime(CLOCK_MONOTONIC, &start);
	while ((left = WAIT_MS - ms_since(&start)) > 0) {
		if (!wait_readable(nh, left))
			break;
		ret = nexthop_process(nh);
		cr_assert_geq(ret, 0, "nexthop_process: %s", strerror(-ret));
		if (ret)
			return ret;
	}
	return 0;
}

/* Resolving a fixed setup: the route and neighbour choices, as rows. */
/* Arrays, not pointers: Criterion copies the rows into each test's process. */
struct resolve_case {
	char what[64];
	char setup[512];	/* shell commands after base_setup */
	char dev[IFNAMSIZ];	/* the watched interface */
	int family;
	int ret;		/* what nexthop_resolve() returns */
	char mac[18];		/* the MAC when ret is 0 */
	char gw[INET6_ADDRSTRLEN];	/* nexthop_gateway() afterwards */
};

#define V4_ROUTE	"ip route add default via 198.18.1.254 dev t0;"
#define V4_NEIGH(nud)	"ip neigh replace 198.18.1.254 lladdr " MAC_FE " dev t0 nud " nud ";"
#define V6_ROUTE	"ip -6 route add default via fd00:1::fe dev t0;"
#define V6_NEIGH	"ip -6 neigh replace fd00:1::fe lladdr 02:00:00:00:06:fe dev t0 " \
			"nud permanent;"
#define V4_MULTIPATH	"ip route add default nexthop via 198.18.2.254 dev t2 " \
			"nexthop via 198.18.1.254 dev t0;" \
			"ip neigh replace 198.18.2.254 lladdr 02:00:00:00:02:fe dev t2 " \
			"nud permanent;" V4_NEIGH("permanent")

ParameterizedTestParameters(nexthop, resolve)
{
	static struct resolve_case cases[] = {
		{ "v4 permanent neighbour", V4_ROUTE V4_NEIGH("permanent"),
		  "t0", AF_INET, 0, MAC_FE, "198.18.1.254" },
		{ "v4 reachable neighbour", V4_ROUTE V4_NEIGH("reachable"),
		  "t0", AF_INET, 0, MAC_FE, "198.18.1.254" },
		{ "v4 stale neighbour", V4_ROUTE V4_NEIGH("stale"),
		  "t0", AF_INET, 0, MAC_FE, "198.18.1.254" },
		{ "v4 noarp neighbour", V4_ROUTE V4_NEIGH("noarp"),
		  "t0", AF_INET, 0, MAC_FE, "198.18.1.254" },
		{ "v4 failed neighbour", V4_ROUTE V4_NEIGH("failed"),
		  "t0", AF_INET, -EAGAIN, "", "198.18.1.254" },
		{ "v4 incomplete neighbour", V4_ROUTE V4_NEIGH("incomplete"),
		  "t0", AF_INET, -EAGAIN, "", "198.18.1.254" },
		{ "v4 no neighbour", V4_ROUTE,
		  "t0", AF_INET, -EAGAIN, "", "198.18.1.254" },
		{ "v4 no default route", V4_NEIGH("permanent"),
		  "t0", AF_INET, -ENOENT, "", "" },
		{ "v4 on-link default route", "ip route add default dev t0;",
		  "t0", AF_INET, -ENOENT, "", "" },
		{ "v4 default route out of another interface",
		  "ip route add default via 198.18.2.254 dev t2;"
		  "ip neigh replace 198.18.2.254 lladdr 02:00:00:00:02:fe dev t2 nud permanent;",
		  "t0", AF_INET, -ENOENT, "", "" },
		{ "v4 default route in another table",
		  "ip route add default via 198.18.1.254 dev t0 table 100;" V4_NEIGH("permanent"),
		  "t0", AF_INET, -ENOENT, "", "" },
		{ "v4 lowest metric wins",
		  "ip route add default via 198.18.1.254 dev t0 metric 200;"
		  "ip route add default via 198.18.1.253 dev t0 metric 100;"
		  "ip route add default via 198.18.1.252 dev t0 metric 300;"
		  V4_NEIGH("permanent")
		  "ip neigh replace 198.18.1.253 lladdr 02:00:00:00:00:fd dev t0 nud permanent;"
		  "ip neigh replace 198.18.1.252 lladdr 02:00:00:00:00:fc dev t0 nud permanent;",
		  "t0", AF_INET, 0, "02:00:00:00:00:fd", "198.18.1.253" },
		{ "v4 lower-metric route of another interface ignored",
		  "ip route add default via 198.18.2.254 dev t2 metric 10;"
		  "ip neigh replace 198.18.2.254 lladdr 02:00:00:00:02:fe dev t2 nud permanent;"
		  "ip route add default via 198.18.1.254 dev t0 metric 20;" V4_NEIGH("permanent"),
		  "t0", AF_INET, 0, MAC_FE, "198.18.1.254" },
		{ "v4 blackhole default route ignored",
		  "ip route add blackhole default;"
		  "ip route add default via 198.18.1.254 dev t0 metric 100;"
		  V4_NEIGH("permanent"),
		  "t0", AF_INET, 0, MAC_FE, "198.18.1.254" },
		{ "v4 multipath, second path through t0", V4_MULTIPATH,
		  "t0", AF_INET, 0, MAC_FE, "198.18.1.254" },
		{ "v4 multipath, first path through t2", V4_MULTIPATH,
		  "t2", AF_INET, 0, "02:00:00:00:02:fe", "198.18.2.254" },
		{ "v4 route through a nexthop object",
		  "ip nexthop add id 7 via 198.18.1.254 dev t0;"
		  "ip route add default nhid 7;" V4_NEIGH("permanent"),
		  "t0", AF_INET, 0, MAC_FE, "198.18.1.254" },
		{ "v4 route via an IPv6 gateway",
		  "ip -4 route add default via inet6 fd00:1::fe dev t0;" V6_NEIGH,
		  "t0", AF_INET, 0, "02:00:00:00:06:fe", "fd00:1::fe" },
		{ "v4 watcher ignores the v6 default route", V6_ROUTE V6_NEIGH,
		  "t0", AF_INET, -ENOENT, "", "" },
		{ "v6 global gateway", V6_ROUTE V6_NEIGH,
		  "t0", AF_INET6, 0, "02:00:00:00:06:fe", "fd00:1::fe" },
		{ "v6 link-local gateway",
		  "ip -6 route add default via fe80::1 dev t0;"
		  "ip -6 neigh replace fe80::1 lladdr 02:00:00:00:06:01 dev t0 nud reachable;",
		  "t0", AF_INET6, 0, "02:00:00:00:06:01", "fe80::1" },
		{ "v6 no neighbour", V6_ROUTE,
		  "t0", AF_INET6, -EAGAIN, "", "fd00:1::fe" },
		{ "v6 no default route", V6_NEIGH V4_ROUTE V4_NEIGH("permanent"),
		  "t0", AF_INET6, -ENOENT, "", "" },
		{ "v6 multipath, second path through t0",
		  "ip -6 route add default nexthop via fd00:2::fe dev t2 "
		  "nexthop via fd00:1::fe dev t0;"
		  "ip -6 neigh replace fd00:2::fe lladdr 02:00:00:00:07:fe dev t2 nud permanent;"
		  V6_NEIGH,
		  "t0", AF_INET6, 0, "02:00:00:00:06:fe", "fd00:1::fe" },
	};

	return cr_make_param_array(struct resolve_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct resolve_case *c, nexthop, resolve)
{
	struct nexthop *nh;
	__u8 mac[6] = {};
	int ret;

	lb_test_sh("%s", c->setup);
	nh = watch(c->dev, c->family);
	ret = nexthop_resolve(nh, mac);
	cr_assert_eq(ret, c->ret, "%s: nexthop_resolve returned %d (%s), want %d",
		     c->what, ret, strerror(-ret), c->ret);
	if (!c->ret)
		cr_assert_str_eq(mac_text(mac), c->mac, "%s: MAC %s, want %s",
				 c->what, mac_text(mac), c->mac);
	cr_assert_str_eq(nexthop_gateway(nh), c->gw, "%s: gateway '%s', want '%s'",
			 c->what, nexthop_gateway(nh), c->gw);
	ret = nexthop_mac(nh, mac);
	cr_assert_eq(ret, c->ret, "%s: nexthop_mac disagrees with resolve: %d", c->what, ret);
	nexthop_free(nh);
}

Test(nexthop, new_rejects_bad_arguments)
{
	errno = 0;
	cr_assert_null(nexthop_new(0, AF_INET));
	cr_assert_eq(errno, EINVAL);
	errno = 0;
	cr_assert_null(nexthop_new(if_nametoindex("t0"), AF_PACKET));
	cr_assert_eq(errno, EINVAL);
}

/* A packet socket on t1, the far end of t0, that sees ARP frames only. */
static int arp_socket(void)
{
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(ETH_P_ARP),
		.sll_ifindex = if_nametoindex("t1"),
	};
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ARP));

	cr_assert_geq(fd, 0, "packet socket: %s", strerror(errno));
	cr_assert_eq(bind(fd, (struct sockaddr *)&sll, sizeof(sll)), 0, "bind: %s",
		     strerror(errno));
	return fd;
}

struct arp_frame {
	struct ether_header eth;
	struct ether_arp arp;
} __attribute__((packed));

/* Wait for t0's ARP request for target; returns the request. */
static struct arp_frame arp_wait_request(int fd, const char *target)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	struct arp_frame f;
	struct in_addr tpa;
	ssize_t n;

	cr_assert_eq(inet_pton(AF_INET, target, &tpa), 1);
	for (;;) {
		cr_assert_eq(poll(&pfd, 1, WAIT_MS), 1, "no ARP request for %s within %d ms",
			     target, WAIT_MS);
		n = recv(fd, &f, sizeof(f), 0);
		cr_assert_geq(n, 0, "recv: %s", strerror(errno));
		if (n >= (ssize_t)sizeof(f) && ntohs(f.arp.ea_hdr.ar_op) == ARPOP_REQUEST &&
		    !memcmp(f.arp.arp_tpa, &tpa, sizeof(tpa)))
			return f;
	}
}

/* Answer an ARP request from t1 as the gateway with MAC mac. */
static void arp_reply(int fd, const struct arp_frame *req, const char *mac)
{
	struct arp_frame f = *req;
	__u8 gw_mac[6];

	mac_parse(mac, gw_mac);
	memcpy(f.eth.ether_dhost, req->arp.arp_sha, ETH_ALEN);
	memcpy(f.eth.ether_shost, gw_mac, ETH_ALEN);
	f.arp.ea_hdr.ar_op = htons(ARPOP_REPLY);
	memcpy(f.arp.arp_sha, gw_mac, ETH_ALEN);
	memcpy(f.arp.arp_spa, req->arp.arp_tpa, 4);
	memcpy(f.arp.arp_tha, req->arp.arp_sha, ETH_ALEN);
	memcpy(f.arp.arp_tpa, req->arp.arp_spa, 4);
	cr_assert_eq(send(fd, &f, sizeof(f), 0), (ssize_t)sizeof(f), "send: %s", strerror(errno));
}

static void assert_neigh_state(const char *cmd, const char *state)
{
	char line[256];

	sh_read(line, sizeof(line), cmd);
	cr_assert(strstr(line, state), "'%s' gave '%s', want %s", cmd, line, state);
}

/* No entry: resolve asks the kernel, which creates one and sends ARP. */
Test(nexthop, missing_neighbour_is_resolved)
{
	struct nexthop *nh;
	struct arp_frame req;
	__u8 mac[6];
	int fd, ret;

	lb_test_sh(V4_ROUTE);
	fd = arp_socket();
	nh = watch("t0", AF_INET);
	ret = nexthop_resolve(nh, mac);
	cr_assert_eq(ret, -EAGAIN, "nexthop_resolve: %d", ret);
	cr_assert_eq(nexthop_mac(nh, mac), -EAGAIN);
	assert_neigh_state("ip neigh show 198.18.1.254 dev t0", "INCOMPLETE");

	req = arp_wait_request(fd, "198.18.1.254");
	arp_reply(fd, &req, "02:00:00:00:00:42");
	cr_assert_eq(wait_change(nh), 1, "the ARP reply was not reported");
	assert_mac(nh, "02:00:00:00:00:42");
	assert_neigh_state("ip neigh show 198.18.1.254 dev t0", "REACHABLE");
	nexthop_free(nh);
	close(fd);
}

Test(nexthop, neighbour_change_is_followed)
{
	struct nexthop *nh;

	lb_test_sh(V4_ROUTE V4_NEIGH("permanent"));
	nh = watch_resolved("t0", AF_INET, MAC_FE);
	lb_test_sh("ip neigh replace 198.18.1.254 lladdr 02:00:00:00:00:aa dev t0 nud permanent");
	cr_assert_eq(wait_change(nh), 1, "the new MAC was not reported");
	assert_mac(nh, "02:00:00:00:00:aa");
	nexthop_free(nh);
}

Test(nexthop, unrelated_events_are_no_change)
{
	struct nexthop *nh;

	lb_test_sh(V4_ROUTE V4_NEIGH("permanent"));
	nh = watch_resolved("t0", AF_INET, MAC_FE);
	lb_test_sh("ip neigh replace 198.18.1.77 lladdr 02:00:00:00:00:77 dev t0 nud permanent;"
	   "ip neigh replace 198.18.2.254 lladdr 02:00:00:00:00:77 dev t2 nud permanent;"
	   "ip route add 198.19.0.0/16 via 198.18.1.77 dev t0;"
	   "ip route add default via 198.18.2.254 dev t2 metric 50");
	cr_assert(wait_readable(nh, WAIT_MS), "no notification at all");
	cr_assert_eq(nexthop_process(nh), 0);
	assert_mac(nh, MAC_FE);
	nexthop_free(nh);
}

Test(nexthop, route_change_is_followed)
{
	struct nexthop *nh;

	lb_test_sh(V4_ROUTE V4_NEIGH("permanent")
	   "ip neigh replace 198.18.1.253 lladdr 02:00:00:00:00:fd dev t0 nud permanent");
	nh = watch_resolved("t0", AF_INET, MAC_FE);
	lb_test_sh("ip route replace default via 198.18.1.253 dev t0");
	cr_assert_eq(wait_change(nh), 1, "the new gateway was not reported");
	assert_mac(nh, "02:00:00:00:00:fd");
	cr_assert_str_eq(nexthop_gateway(nh), "198.18.1.253");
	nexthop_free(nh);
}

/* A new gateway without an entry: -EAGAIN, then its MAC once it resolves. */
Test(nexthop, route_to_unresolved_gateway)
{
	struct nexthop *nh;
	struct arp_frame req;
	__u8 mac[6];
	int fd;

	lb_test_sh(V4_ROUTE V4_NEIGH("permanent"));
	fd = arp_socket();
	nh = watch_resolved("t0", AF_INET, MAC_FE);
	lb_test_sh("ip route replace default via 198.18.1.253 dev t0");
	cr_assert_eq(wait_change(nh), 1);
	cr_assert_eq(nexthop_mac(nh, mac), -EAGAIN);
	req = arp_wait_request(fd, "198.18.1.253");
	arp_reply(fd, &req, "02:00:00:00:00:53");
	cr_assert_eq(wait_change(nh), 1);
	assert_mac(nh, "02:00:00:00:00:53");
	nexthop_free(nh);
	close(fd);
}

Test(nexthop, route_removal_is_reported)
{
	struct nexthop *nh;
	__u8 mac[6];

	lb_test_sh(V4_ROUTE V4_NEIGH("permanent"));
	nh = watch_resolved("t0", AF_INET, MAC_FE);
	lb_test_sh("ip route del default");
	cr_assert_eq(wait_change(nh), 1);
	cr_assert_eq(nexthop_mac(nh, mac), -ENOENT);
	cr_assert_str_eq(nexthop_gateway(nh), "");
	lb_test_sh(V4_ROUTE);
	cr_assert_eq(wait_change(nh), 1, "the route coming back was not reported");
	assert_mac(nh, MAC_FE);
	nexthop_free(nh);
}

/* IPv4 flushes the routes of a link going down without RTM_DELROUTE. */
Test(nexthop, link_down_is_reported)
{
	struct nexthop *nh;
	__u8 mac[6];

	lb_test_sh(V4_ROUTE V4_NEIGH("permanent"));
	nh = watch_resolved("t0", AF_INET, MAC_FE);
	lb_test_sh("ip link set t0 down");
	cr_assert_eq(wait_change(nh), 1);
	cr_assert_eq(nexthop_mac(nh, mac), -ENOENT);
	nexthop_free(nh);
}

/* Losing the entry keeps the last MAC and sends ARP again. */
Test(nexthop, lost_neighbour_keeps_mac)
{
	struct nexthop *nh;
	struct arp_frame req;
	int fd;

	lb_test_sh(V4_ROUTE V4_NEIGH("reachable"));
	fd = arp_socket();
	nh = watch_resolved("t0", AF_INET, MAC_FE);
	lb_test_sh("ip neigh del 198.18.1.254 dev t0");
	cr_assert(wait_readable(nh, WAIT_MS), "no notification");
	cr_assert_eq(nexthop_process(nh), 0, "keeping the MAC is no change");
	assert_mac(nh, MAC_FE);
	assert_neigh_state("ip neigh show 198.18.1.254 dev t0", "INCOMPLETE");

	req = arp_wait_request(fd, "198.18.1.254");
	arp_reply(fd, &req, "02:00:00:00:00:ab");
	cr_assert_eq(wait_change(nh), 1);
	assert_mac(nh, "02:00:00:00:00:ab");
	nexthop_free(nh);
	close(fd);
}

Test(nexthop, ipv6_neighbour_change_is_followed)
{
	struct nexthop *nh;

	lb_test_sh(V6_ROUTE V6_NEIGH);
	nh = watch_resolved("t0", AF_INET6, "02:00:00:00:06:fe");
	cr_assert_str_eq(nexthop_gateway(nh), "fd00:1::fe");
	lb_test_sh("ip -6 neigh replace fd00:1::fe lladdr 02:00:00:00:06:aa dev t0 nud permanent");
	cr_assert_eq(wait_change(nh), 1);
	assert_mac(nh, "02:00:00:00:06:aa");
	nexthop_free(nh);
}

Test(nexthop, ipv6_route_change_is_followed)
{
	struct nexthop *nh;

	lb_test_sh(V6_ROUTE V6_NEIGH
	   "ip -6 neigh replace fd00:1::fd lladdr 02:00:00:00:06:fd dev t0 nud permanent");
	nh = watch_resolved("t0", AF_INET6, "02:00:00:00:06:fe");
	lb_test_sh("ip -6 route replace default via fd00:1::fd dev t0");
	cr_assert_eq(wait_change(nh), 1);
	assert_mac(nh, "02:00:00:00:06:fd");
	cr_assert_str_eq(nexthop_gateway(nh), "fd00:1::fd");
	nexthop_free(nh);
}

Test(nexthop, ipv6_missing_neighbour_is_solicited)
{
	struct nexthop *nh;
	__u8 mac[6];

	lb_test_sh(V6_ROUTE);
	nh = watch("t0", AF_INET6);
	cr_assert_eq(nexthop_resolve(nh, mac), -EAGAIN);
	assert_neigh_state("ip -6 neigh show fd00:1::fe dev t0", "INCOMPLETE");
	nexthop_free(nh);
}

/*
 * An unanswered resolution ends FAILED; that is no change for the caller,
 * but the gateway is asked again. One probe of 100 ms keeps the test short.
 */
Test(nexthop, failed_neighbour_is_retried)
{
	struct nexthop *nh;
	struct arp_frame req;
	__u8 mac[6];
	int fd;

	lb_test_sh(V4_ROUTE
	   "sysctl -qw net.ipv4.neigh.t0.mcast_solicit=1 net.ipv4.neigh.t0.retrans_time_ms=100");
	fd = arp_socket();
	nh = watch("t0", AF_INET);
	cr_assert_eq(nexthop_resolve(nh, mac), -EAGAIN);
	arp_wait_request(fd, "198.18.1.254");
	cr_assert(wait_readable(nh, WAIT_MS), "no FAILED notification");
	cr_assert_eq(nexthop_process(nh), 0);
	cr_assert_eq(nexthop_mac(nh, mac), -EAGAIN);

	req = arp_wait_request(fd, "198.18.1.254");
	arp_reply(fd, &req, "02:00:00:00:00:42");
	cr_assert_eq(wait_change(nh), 1);
	assert_mac(nh, "02:00:00:00:00:42");
	nexthop_free(nh);
	close(fd);
}

/* A STALE entry is used, and nudged so that the kernel probes it again. */
Test(nexthop, stale_neighbour_is_confirmed)
{
	struct nexthop *nh;

	lb_test_sh(V4_ROUTE V4_NEIGH("stale"));
	nh = watch_resolved("t0", AF_INET, MAC_FE);
	assert_neigh_state("ip neigh show 198.18.1.254 dev t0", "DELAY");
	nexthop_free(nh);
}

/*
 * A caller whose map write failed asks to hear the MAC again: the retry
 * reports it once more without any event, and then has nothing to do.
 */
Test(nexthop, retell_is_reported_by_retry)
{
	struct nexthop *nh;

	lb_test_sh(V4_ROUTE V4_NEIGH("permanent"));
	nh = watch_resolved("t0", AF_INET, MAC_FE);
	cr_assert_not(nexthop_retry_due(nh));
	cr_assert_eq(nexthop_retry(nh), 0, "nothing owed is no change");
	nexthop_retell(nh);
	cr_assert(nexthop_retry_due(nh));
	cr_assert_eq(nexthop_retry(nh), 1, "the MAC was not reported again");
	assert_mac(nh, MAC_FE);
	cr_assert_not(nexthop_retry_due(nh));
	cr_assert_eq(nexthop_retry(nh), 0);
	nexthop_free(nh);
}

/* The same, with the next event, even one that changes nothing. */
Test(nexthop, retell_is_reported_by_next_event)
{
	struct nexthop *nh;

	lb_test_sh(V4_ROUTE V4_NEIGH("permanent"));
	nh = watch_resolved("t0", AF_INET, MAC_FE);
	nexthop_retell(nh);
	lb_test_sh("ip neigh replace 198.18.1.77 lladdr 02:00:00:00:00:77 dev t0 nud permanent");
	cr_assert(wait_readable(nh, WAIT_MS), "no notification");
	cr_assert_eq(nexthop_process(nh), 1, "the MAC was not reported again");
	assert_mac(nh, MAC_FE);
	cr_assert_not(nexthop_retry_due(nh));
	nexthop_free(nh);
}

static int ifindex_of(const char *dev)
{
	int ifindex = if_nametoindex(dev);

	cr_assert_gt(ifindex, 0, "no interface %s", dev);
	return ifindex;
}

/*
 * A re-read that fails stays owed: with t0 gone, the route dump filtered
 * on its ifindex fails (ENODEV). Once t0 is back under the same index, the
 * retry alone, without reading the events, finds the gateway's new MAC.
 */
Test(nexthop, failed_reread_is_retried)
{
	struct nexthop *nh;
	int ifindex, ret;

	lb_test_sh(V4_ROUTE V4_NEIGH("permanent"));
	ifindex = ifindex_of("t0");
	nh = watch_resolved("t0", AF_INET, MAC_FE);
	lb_test_sh("ip link del t0");
	cr_assert(wait_readable(nh, WAIT_MS), "no notification");
	ret = nexthop_process(nh);
	cr_assert_lt(ret, 0, "reading the routes of a missing interface gave %d", ret);
	cr_assert(nexthop_retry_due(nh), "the failed re-read is not owed");
	ret = nexthop_retry(nh);
	cr_assert_lt(ret, 0, "the retry gave %d while t0 is missing", ret);
	cr_assert(nexthop_retry_due(nh), "a failed retry is still owed");

	lb_test_sh("ip link add t0 index %d type veth peer name t1;"
	   "ip link set t0 up; ip link set t1 up;"
	   "ip addr add 198.18.1.2/24 dev t0;" V4_ROUTE
	   "ip neigh replace 198.18.1.254 lladdr 02:00:00:00:00:ab dev t0 nud permanent",
	   ifindex);
	ret = nexthop_retry(nh);
	cr_assert_eq(ret, 1, "the retry gave %d (%s), want the new MAC", ret, strerror(-ret));
	assert_mac(nh, "02:00:00:00:00:ab");
	cr_assert_not(nexthop_retry_due(nh));
	nexthop_free(nh);
}

/* The drop counter of a netlink socket, from /proc/net/netlink. */
static unsigned long netlink_drops(int fd)
{
	unsigned long ino, drops, found = 0;
	char line[512];
	struct stat st;
	FILE *f;

	cr_assert_eq(fstat(fd, &st), 0, "fstat: %s", strerror(errno));
	f = fopen("/proc/net/netlink", "r");
	cr_assert_not_null(f, "/proc/net/netlink: %s", strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		/* sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode */
		if (sscanf(line, "%*s %*s %*s %*s %*s %*s %*s %*s %lu %lu", &drops, &ino) == 2 &&
		    ino == st.st_ino)
			found = drops;
	}
	fclose(f);
	return found;
}

/*
 * An overflowed event socket lost the route change: ENOBUFS makes the
 * watcher read everything again, and it finds the new gateway anyway.
 */
Test(nexthop, overflow_forces_reread)
{
	struct nexthop *nh;
	int zero = 0;

	lb_test_sh(V4_ROUTE V4_NEIGH("permanent")
	   "ip neigh replace 198.18.1.253 lladdr 02:00:00:00:00:fd dev t0 nud permanent");
	nh = watch_resolved("t0", AF_INET, MAC_FE);
	/* The kernel rounds this up to its minimum, a few messages. */
	cr_assert_eq(setsockopt(nexthop_fd(nh), SOL_SOCKET, SO_RCVBUF, &zero, sizeof(zero)), 0,
		     "SO_RCVBUF: %s", strerror(errno));
	lb_test_sh("for i in $(seq 10 40); do"
	   " ip neigh replace 198.18.1.$i lladdr 02:00:00:00:01:$i dev t0 nud permanent;"
	   "done;"
	   "ip route replace default via 198.18.1.253 dev t0");
	cr_assert_gt(netlink_drops(nexthop_fd(nh)), 0, "the event socket did not overflow");
	cr_assert_eq(wait_change(nh), 1, "the new gateway was not found");
	assert_mac(nh, "02:00:00:00:00:fd");
	cr_assert_str_eq(nexthop_gateway(nh), "198.18.1.253");
	nexthop_free(nh);
}
