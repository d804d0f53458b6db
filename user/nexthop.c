// SPDX-License-Identifier: GPL-2.0-only
/*
 * The default gateway's MAC, read and followed over rtnetlink with libmnl.
 * Two sockets: one subscribed to the notification groups (the fd lbd polls)
 * and one for requests, so that a dump never interleaves with events.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/if_ether.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <libmnl/libmnl.h>

#include "nexthop.h"
#include "nlmsg.h"

/* Dumps come in skbs of up to 32 KiB; a smaller buffer would truncate them. */
#define NEXTHOP_BUF_SIZE	32768
/* One request: a header, a struct ndmsg or rtmsg and two attributes. */
#define NEXTHOP_REQ_SIZE	256

/* Neighbour states whose link-layer address may be used. */
#define NEXTHOP_NUD_USABLE	(NUD_REACHABLE | NUD_STALE | NUD_DELAY | \
				 NUD_PROBE | NUD_PERMANENT | NUD_NOARP)

struct nexthop_addr {
	int family;		/* AF_INET, AF_INET6, or 0 when there is none */
	__u8 addr[16];		/* network byte order, 4 or 16 bytes used */
};

struct nexthop_state {
	int err;		/* 0 when mac is valid, else -EAGAIN or -ENOENT */
	__u8 mac[ETH_ALEN];
};

struct nexthop {
	struct mnl_socket *events;	/* subscribed, non-blocking */
	struct mnl_socket *req;		/* requests and their answers */
	unsigned int req_portid;
	unsigned int seq;
	int ifindex;
	int family;
	struct nexthop_addr gw;
	char gw_text[INET6_ADDRSTRLEN];
	struct nexthop_state cur;
	struct nexthop_state told;	/* what the caller last heard */
	bool reread;		/* a read failed: a full refresh is owed */
	bool retell;		/* the caller asks to hear the state again */
	char buf[NEXTHOP_BUF_SIZE];
};

/* What one neighbour message or lookup says about the gateway. */
struct neigh_seen {
	__u16 state;		/* NUD_NONE when the entry is missing */
	bool has_mac;
	__u8 mac[ETH_ALEN];
};

/* The best default route seen so far in a dump. */
struct route_pick {
	const struct nexthop *nh;
	struct nexthop_addr gw;
	__u32 metric;
	bool found;
};

/* What draining the notifications asks for once they are all read. */
struct nexthop_drain {
	struct nexthop *nh;
	bool dirty;		/* routes may have changed: dump them again */
	bool resolve;		/* the gateway's entry needs resolving */
};

static size_t addr_len(int family)
{
	if (family == AF_INET)
		return 4;
	if (family == AF_INET6)
		return 16;
	return 0;
}

static int addr_set(struct nexthop_addr *a, int family, const void *p, size_t len)
{
	if (!addr_len(family) || len != addr_len(family))
		return -EINVAL;
	memset(a, 0, sizeof(*a));
	a->family = family;
	memcpy(a->addr, p, len);
	return 0;
}

static bool addr_equal(const struct nexthop_addr *a, const struct nexthop_addr *b)
{
	return a->family == b->family && !memcmp(a->addr, b->addr, sizeof(a->addr));
}

/* One request answered in full: see nl_talk(). */
static int nexthop_talk(struct nexthop *nh, struct nlmsghdr *req, mnl_cb_t cb, void *data)
{
	return nl_talk(nh->req, nh->req_portid, &nh->seq, nh->buf, sizeof(nh->buf), req, cb, data);
}

/*
 * Whether a route message is about a default route of family in the main
 * table; tb is filled when it is.
 */
static bool route_is_default(const struct nlmsghdr *nlh, int family, const struct nlattr **tb)
{
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	struct nl_attrs t = { tb, RTA_MAX };

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*rtm) || rtm->rtm_family != family ||
	    rtm->rtm_dst_len != 0 || rtm->rtm_flags & RTM_F_CLONED)
		return false;
	if (mnl_attr_parse(nlh, sizeof(*rtm), nl_attr_store_cb, &t) < 0)
		return false;
	return nl_attr_u32(tb[RTA_TABLE], rtm->rtm_table) == RT_TABLE_MAIN;
}

/* The gateway of one path: RTA_GATEWAY in the route's family, or RTA_VIA. */
static int route_path_gateway(const struct nlattr **tb, int family, struct nexthop_addr *gw)
{
	const struct rtvia *via;
	size_t len;

	if (tb[RTA_GATEWAY])
		return addr_set(gw, family, mnl_attr_get_payload(tb[RTA_GATEWAY]),
				mnl_attr_get_payload_len(tb[RTA_GATEWAY]));
	if (!tb[RTA_VIA])
		return -ENOENT;
	len = mnl_attr_get_payload_len(tb[RTA_VIA]);
	if (len < sizeof(*via))
		return -EINVAL;
	via = mnl_attr_get_payload(tb[RTA_VIA]);
	return addr_set(gw, via->rtvia_family, via->rtvia_addr, len - sizeof(*via));
}

/* The gateway of the first path of a multipath route through ifindex. */
static int route_multipath_gateway(const struct nlattr *mp, int family, int ifindex,
				   struct nexthop_addr *gw)
{
	const struct rtnexthop *rtnh = mnl_attr_get_payload(mp);
	size_t left = mnl_attr_get_payload_len(mp);

	while (left >= sizeof(*rtnh) && rtnh->rtnh_len >= sizeof(*rtnh) &&
	       rtnh->rtnh_len <= left) {
		const struct nlattr *tb[RTA_MAX + 1] = {};
		struct nl_attrs t = { tb, RTA_MAX };

		if (rtnh->rtnh_ifindex == ifindex &&
		    mnl_attr_parse_payload(RTNH_DATA(rtnh), rtnh->rtnh_len - sizeof(*rtnh),
					   nl_attr_store_cb, &t) >= 0 &&
		    route_path_gateway(tb, family, gw) == 0)
			return 0;
		if ((size_t)RTNH_ALIGN(rtnh->rtnh_len) >= left)
			break;
		left -= RTNH_ALIGN(rtnh->rtnh_len);
		rtnh = RTNH_NEXT(rtnh);
	}
	return -ENOENT;
}

static int route_gateway(const struct nlattr **tb, int family, int ifindex,
			 struct nexthop_addr *gw)
{
	if (tb[RTA_MULTIPATH])
		return route_multipath_gateway(tb[RTA_MULTIPATH], family, ifindex, gw);
	if ((int)nl_attr_u32(tb[RTA_OIF], 0) != ifindex)
		return -ENOENT;
	return route_path_gateway(tb, family, gw);
}

static int route_dump_cb(const struct nlmsghdr *nlh, void *data)
{
	struct route_pick *pick = data;
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[RTA_MAX + 1] = {};
	struct nexthop_addr gw;
	__u32 metric;

	if (nlh->nlmsg_type != RTM_NEWROUTE || !route_is_default(nlh, pick->nh->family, tb) ||
	    rtm->rtm_type != RTN_UNICAST)
		return MNL_CB_OK;
	metric = nl_attr_u32(tb[RTA_PRIORITY], 0);
	if (pick->found && metric >= pick->metric)
		return MNL_CB_OK;
	if (route_gateway(tb, rtm->rtm_family, pick->nh->ifindex, &gw) < 0)
		return MNL_CB_OK;
	pick->gw = gw;
	pick->metric = metric;
	pick->found = true;
	return MNL_CB_OK;
}

static int route_dump(struct nexthop *nh, struct route_pick *pick)
{
	char buf[NEXTHOP_REQ_SIZE] __attribute__((aligned(NLMSG_ALIGNTO)));
	struct rtmsg *rtm;
	struct nlmsghdr *req = nl_route_request(buf, RTM_GETROUTE, NLM_F_DUMP, nh->family, &rtm);
	int ret;

	/* Filters the kernel applies under strict checking; route_dump_cb checks anyway. */
	mnl_attr_put_u32(req, RTA_TABLE, RT_TABLE_MAIN);
	mnl_attr_put_u32(req, RTA_OIF, nh->ifindex);
	ret = nexthop_talk(nh, req, route_dump_cb, pick);
	/* Strict checking reports a table that does not exist (yet) this way. */
	return ret == -ENOENT ? 0 : ret;
}

/* Parse a neighbour message; -ENOENT when it is not about the gateway. */
static int neigh_parse(const struct nexthop *nh, const struct nlmsghdr *nlh,
		       struct neigh_seen *seen)
{
	const struct ndmsg *ndm = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[NDA_MAX + 1] = {};
	struct nl_attrs t = { tb, NDA_MAX };
	size_t len = addr_len(nh->gw.family);

	if (!len || mnl_nlmsg_get_payload_len(nlh) < sizeof(*ndm) ||
	    ndm->ndm_family != nh->gw.family || ndm->ndm_ifindex != nh->ifindex ||
	    ndm->ndm_flags & NTF_PROXY)
		return -ENOENT;
	if (mnl_attr_parse(nlh, sizeof(*ndm), nl_attr_store_cb, &t) < 0)
		return -EINVAL;
	if (!tb[NDA_DST] || mnl_attr_get_payload_len(tb[NDA_DST]) != len ||
	    memcmp(mnl_attr_get_payload(tb[NDA_DST]), nh->gw.addr, len))
		return -ENOENT;
	seen->state = nlh->nlmsg_type == RTM_DELNEIGH ? NUD_NONE : ndm->ndm_state;
	seen->has_mac = tb[NDA_LLADDR] && mnl_attr_get_payload_len(tb[NDA_LLADDR]) == ETH_ALEN;
	if (seen->has_mac)
		memcpy(seen->mac, mnl_attr_get_payload(tb[NDA_LLADDR]), ETH_ALEN);
	return 0;
}

/* A request about the gateway's neighbour entry: header, ndmsg, NDA_DST. */
static struct nlmsghdr *neigh_request(const struct nexthop *nh, char *buf, __u16 type,
				      __u16 flags)
{
	struct nlmsghdr *req = mnl_nlmsg_put_header(buf);
	struct ndmsg *ndm;

	req->nlmsg_type = type;
	req->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	ndm = mnl_nlmsg_put_extra_header(req, sizeof(*ndm));
	ndm->ndm_family = nh->gw.family;
	ndm->ndm_ifindex = nh->ifindex;
	mnl_attr_put(req, NDA_DST, addr_len(nh->gw.family), nh->gw.addr);
	return req;
}

struct neigh_lookup {
	const struct nexthop *nh;
	struct neigh_seen seen;
};

static int neigh_lookup_cb(const struct nlmsghdr *nlh, void *data)
{
	struct neigh_lookup *l = data;

	if (nlh->nlmsg_type == RTM_NEWNEIGH)
		neigh_parse(l->nh, nlh, &l->seen);
	return MNL_CB_OK;
}

/* The gateway's entry as the kernel has it; state NUD_NONE when missing. */
static int neigh_lookup(struct nexthop *nh, struct neigh_seen *seen)
{
	char buf[NEXTHOP_REQ_SIZE] __attribute__((aligned(NLMSG_ALIGNTO)));
	struct neigh_lookup l = { .nh = nh, .seen = { .state = NUD_NONE } };
	int ret;

	ret = nexthop_talk(nh, neigh_request(nh, buf, RTM_GETNEIGH, 0), neigh_lookup_cb, &l);
	if (ret && ret != -ENOENT)
		return ret;
	*seen = l.seen;
	return 0;
}

/*
 * Make the kernel resolve the gateway as if a packet were waiting for it:
 * NTF_USE creates the entry if needed (NLM_F_CREATE) and starts ARP or
 * neighbour discovery; the entry's state and address are left as they are.
 */
static int neigh_trigger(struct nexthop *nh)
{
	char buf[NEXTHOP_REQ_SIZE] __attribute__((aligned(NLMSG_ALIGNTO)));
	struct nlmsghdr *req = neigh_request(nh, buf, RTM_NEWNEIGH, NLM_F_CREATE);
	struct ndmsg *ndm = mnl_nlmsg_get_payload(req);

	ndm->ndm_state = NUD_NONE;
	ndm->ndm_flags = NTF_USE;
	return nexthop_talk(nh, req, NULL, NULL);
}

/*
 * Take what the kernel says about the gateway's entry. Returns true when
 * the kernel should be asked to resolve it (see nexthop.h).
 */
static bool nexthop_neigh_apply(struct nexthop *nh, const struct neigh_seen *seen)
{
	if (seen->state & NEXTHOP_NUD_USABLE && seen->has_mac) {
		memcpy(nh->cur.mac, seen->mac, ETH_ALEN);
		nh->cur.err = 0;
	} else if (nh->cur.err) {
		/* Without a MAC yet; with one, it is kept. */
		nh->cur.err = -EAGAIN;
	}
	return seen->state == NUD_NONE || seen->state & (NUD_FAILED | NUD_STALE);
}

static void nexthop_gw_set(struct nexthop *nh, const struct nexthop_addr *gw)
{
	nh->gw = *gw;
	nh->gw_text[0] = '\0';
	if (gw->family)
		inet_ntop(gw->family, gw->addr, nh->gw_text, sizeof(nh->gw_text));
}

/* Read the route, then the gateway's entry, and resolve it if needed. */
static int nexthop_refresh(struct nexthop *nh)
{
	struct route_pick pick = { .nh = nh };
	struct neigh_seen seen;
	int ret;

	ret = route_dump(nh, &pick);
	if (ret)
		return ret;
	if (!pick.found) {
		nexthop_gw_set(nh, &pick.gw);
		nh->cur.err = -ENOENT;
		return 0;
	}
	if (!addr_equal(&pick.gw, &nh->gw)) {
		/* Another gateway: the old MAC is not its MAC. */
		nexthop_gw_set(nh, &pick.gw);
		nh->cur.err = -EAGAIN;
	}
	ret = neigh_lookup(nh, &seen);
	if (ret)
		return ret;
	if (nexthop_neigh_apply(nh, &seen))
		return neigh_trigger(nh);
	return 0;
}

static bool nexthop_ifindex_is(const struct nexthop *nh, const struct nlmsghdr *nlh)
{
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);

	if (nlh->nlmsg_type == RTM_DELADDR)
		return mnl_nlmsg_get_payload_len(nlh) >= sizeof(*ifa) &&
		       (int)ifa->ifa_index == nh->ifindex;
	return mnl_nlmsg_get_payload_len(nlh) >= sizeof(*ifi) && ifi->ifi_index == nh->ifindex;
}

static int nexthop_event_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nexthop_drain *d = data;
	const struct nlattr *tb[RTA_MAX + 1] = {};
	struct neigh_seen seen;

	switch (nlh->nlmsg_type) {
	case RTM_NEWROUTE:
	case RTM_DELROUTE:
		if (route_is_default(nlh, d->nh->family, tb))
			d->dirty = true;
		break;
	case RTM_NEWNEIGH:
	case RTM_DELNEIGH:
		if (neigh_parse(d->nh, nlh, &seen) == 0)
			d->resolve = nexthop_neigh_apply(d->nh, &seen);
		break;
	/*
	 * IPv4 drops the routes through an interface that goes down or
	 * loses its address without a RTM_DELROUTE for each: look again.
	 */
	case RTM_NEWLINK:
	case RTM_DELLINK:
	case RTM_DELADDR:
		if (nexthop_ifindex_is(d->nh, nlh))
			d->dirty = true;
		break;
	}
	return MNL_CB_OK;
}

/* Read every pending notification without waiting for more. */
static int nexthop_drain(struct nexthop *nh, struct nexthop_drain *d)
{
	/* Events were lost: read everything again. */
	return nl_drain(nh->events, nh->buf, sizeof(nh->buf), nexthop_event_cb, d, &d->dirty);
}

static bool nexthop_state_differs(const struct nexthop_state *a, const struct nexthop_state *b)
{
	return a->err != b->err || (!a->err && memcmp(a->mac, b->mac, ETH_ALEN));
}

/*
 * The end of a process or retry. A failure leaves a full refresh owed:
 * events may have been lost with it, or a dump or a resolution cut short,
 * and a refresh redoes all of it. A change is reported once it is whole.
 */
static int nexthop_settle(struct nexthop *nh, int ret)
{
	nh->reread = ret != 0;
	if (ret)
		return ret;
	if (!nh->retell && !nexthop_state_differs(&nh->cur, &nh->told))
		return 0;
	nh->told = nh->cur;
	nh->retell = false;
	return 1;
}

int nexthop_process(struct nexthop *nh)
{
	struct nexthop_drain d = { .nh = nh };
	int ret;

	ret = nexthop_drain(nh, &d);
	if (!ret && (d.dirty || nh->reread))
		ret = nexthop_refresh(nh);
	else if (!ret && d.resolve)
		ret = neigh_trigger(nh);
	return nexthop_settle(nh, ret);
}

int nexthop_retry(struct nexthop *nh)
{
	return nexthop_settle(nh, nh->reread ? nexthop_refresh(nh) : 0);
}

bool nexthop_retry_due(const struct nexthop *nh)
{
	return nh->reread || nh->retell;
}

void nexthop_retell(struct nexthop *nh)
{
	nh->retell = true;
}

int nexthop_resolve(struct nexthop *nh, __u8 mac[6])
{
	int ret;

	ret = nexthop_refresh(nh);
	nh->reread = ret != 0;
	if (ret)
		return ret;
	nh->told = nh->cur;
	nh->retell = false;
	return nexthop_mac(nh, mac);
}

int nexthop_mac(const struct nexthop *nh, __u8 mac[6])
{
	if (nh->cur.err)
		return nh->cur.err;
	memcpy(mac, nh->cur.mac, ETH_ALEN);
	return 0;
}

const char *nexthop_gateway(const struct nexthop *nh)
{
	return nh->gw_text;
}

int nexthop_family(const struct nexthop *nh)
{
	return nh->family;
}

int nexthop_fd(const struct nexthop *nh)
{
	return mnl_socket_get_fd(nh->events);
}

static int nexthop_open_events(struct nexthop *nh)
{
	unsigned int groups[] = {
		RTNLGRP_NEIGH,
		RTNLGRP_LINK,
		nh->family == AF_INET ? RTNLGRP_IPV4_ROUTE : RTNLGRP_IPV6_ROUTE,
		RTNLGRP_IPV4_IFADDR,	/* see nexthop_event_cb() */
	};

	nh->events = nl_open_events(groups, nh->family == AF_INET ? 4 : 3);
	return nh->events ? 0 : -errno;
}

static int nexthop_open_req(struct nexthop *nh)
{
	nh->req = nl_open_requests(&nh->req_portid);
	return nh->req ? 0 : -errno;
}

struct nexthop *nexthop_new(int ifindex, int family)
{
	struct nexthop *nh;
	int err;

	if (ifindex <= 0 || (family != AF_INET && family != AF_INET6)) {
		errno = EINVAL;
		return NULL;
	}
	nh = calloc(1, sizeof(*nh));
	if (!nh)
		return NULL;
	nh->ifindex = ifindex;
	nh->family = family;
	nh->cur.err = -EAGAIN;
	nh->told = nh->cur;
	/* Subscribe before the first dump so that no change falls in between. */
	err = nexthop_open_events(nh);
	if (!err)
		err = nexthop_open_req(nh);
	if (err) {
		nexthop_free(nh);
		errno = -err;
		return NULL;
	}
	return nh;
}

void nexthop_free(struct nexthop *nh)
{
	if (!nh)
		return;
	if (nh->events)
		mnl_socket_close(nh->events);
	if (nh->req)
		mnl_socket_close(nh->req);
	free(nh);
}
