// SPDX-License-Identifier: GPL-2.0-only
/*
 * The announcer's routes over rtnetlink with libmnl. Two sockets, as in
 * nexthop.c: one subscribed to notifications (the fd lbd polls), one for
 * requests, so that a dump never interleaves with events. A sync reads
 * our routes in the table, then adds and removes what differs: the kernel
 * is the record of what is announced, never a file of ours.
 */
#include "routes.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <libmnl/libmnl.h>

#include "nlmsg.h"

/* Dumps come in skbs of up to 32 KiB; a smaller buffer would truncate them. */
#define ROUTES_BUF_SIZE		32768
/* One request: a header, a struct rtmsg and four attributes. */
#define ROUTES_REQ_SIZE		256

/* One of our routes as a dump shows it. */
struct route_seen {
	__u32 table;
	__u8 dst_len;
	struct route_dst d;
};

/* Routes read by a dump. */
struct route_list {
	struct route_seen *r;
	size_t n, cap;
	int ifindex;
	bool oom;
};

struct routes {
	struct mnl_socket *events;	/* subscribed, non-blocking; NULL for a flush */
	struct mnl_socket *req;
	unsigned int req_portid;
	unsigned int seq;
	int ifindex;
	__u32 table;
	struct route_dst *have;		/* installed after the last sync */
	size_t n_have;
	bool due;			/* a sync failed, or events asked for one */
	bool hold;			/* routes_hold() */
	char buf[ROUTES_BUF_SIZE];
};

static size_t dst_len_of(int family)
{
	return family == AF_INET6 ? 16 : 4;
}

const char *routes_dst_text(const struct route_dst *d, char *buf, size_t len)
{
	if (!inet_ntop(d->family, d->addr, buf, (socklen_t)len))
		snprintf(buf, len, "?");
	return buf;
}

/* ------------------------------------------------------------------ */
/* Reading our routes */

static int list_add(struct route_list *l, const struct route_seen *s)
{
	struct route_seen *grown;

	if (l->n == l->cap) {
		grown = realloc(l->r, (l->cap ? l->cap * 2 : 16) * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		l->r = grown;
		l->cap = l->cap ? l->cap * 2 : 16;
	}
	l->r[l->n++] = *s;
	return 0;
}

/* Ours: our protocol, through our interface, a host route. */
static int dump_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[RTA_MAX + 1] = {};
	struct nl_attrs t = { tb, RTA_MAX };
	struct route_list *l = data;
	struct route_seen s = { 0 };
	size_t alen;

	if (nlh->nlmsg_type != RTM_NEWROUTE || mnl_nlmsg_get_payload_len(nlh) < sizeof(*rtm) ||
	    rtm->rtm_protocol != ROUTES_PROTO || rtm->rtm_flags & RTM_F_CLONED ||
	    (rtm->rtm_family != AF_INET && rtm->rtm_family != AF_INET6))
		return MNL_CB_OK;
	if (mnl_attr_parse(nlh, sizeof(*rtm), nl_attr_store_cb, &t) < 0)
		return MNL_CB_OK;
	alen = dst_len_of(rtm->rtm_family);
	if ((int)nl_attr_u32(tb[RTA_OIF], 0) != l->ifindex || !tb[RTA_DST] ||
	    mnl_attr_get_payload_len(tb[RTA_DST]) != alen)
		return MNL_CB_OK;
	s.table = nl_attr_u32(tb[RTA_TABLE], rtm->rtm_table);
	s.dst_len = rtm->rtm_dst_len;
	s.d.family = rtm->rtm_family;
	memcpy(s.d.addr, mnl_attr_get_payload(tb[RTA_DST]), alen);
	if (list_add(l, &s))
		l->oom = true;
	return MNL_CB_OK;
}

/* Our routes of one family in table (0: every table) into l. */
static int dump_family(struct routes *r, int family, __u32 table, struct route_list *l)
{
	char buf[ROUTES_REQ_SIZE] __attribute__((aligned(NLMSG_ALIGNTO)));
	struct rtmsg *rtm;
	struct nlmsghdr *req = nl_route_request(buf, RTM_GETROUTE, NLM_F_DUMP, family, &rtm);
	int ret;

	/* Filters the kernel applies under strict checking; dump_cb checks
	 * anyway. */
	rtm->rtm_protocol = ROUTES_PROTO;
	if (table)
		mnl_attr_put_u32(req, RTA_TABLE, table);
	mnl_attr_put_u32(req, RTA_OIF, (__u32)r->ifindex);
	ret = nl_talk(r->req, r->req_portid, &r->seq, r->buf, sizeof(r->buf), req, dump_cb, l);
	if (!ret && l->oom)
		ret = -ENOMEM;
	/* Strict checking reports a table that does not exist (yet) this way. */
	return ret == -ENOENT ? 0 : ret;
}

static int dump_ours(struct routes *r, __u32 table, struct route_list *l)
{
	int ret;

	memset(l, 0, sizeof(*l));
	l->ifindex = r->ifindex;
	ret = dump_family(r, AF_INET, table, l);
	if (!ret)
		ret = dump_family(r, AF_INET6, table, l);
	if (ret) {
		free(l->r);
		l->r = NULL;
	}
	return ret;
}

/* ------------------------------------------------------------------ */
/* Changing them */

/* RTM_NEWROUTE or RTM_DELROUTE of our host route to d in table. */
static int route_change(struct routes *r, __u16 type, const struct route_dst *d, __u8 dst_len,
			__u32 table)
{
	char buf[ROUTES_REQ_SIZE] __attribute__((aligned(NLMSG_ALIGNTO)));
	struct rtmsg *rtm;
	struct nlmsghdr *req = nl_route_request(buf, type, NLM_F_ACK, d->family, &rtm);

	rtm->rtm_dst_len = dst_len;
	rtm->rtm_table = table < 256 ? (__u8)table : RT_TABLE_UNSPEC;
	rtm->rtm_protocol = ROUTES_PROTO;
	if (type == RTM_NEWROUTE) {
		/* Create, never replace: the kernel's replace takes the first
		 * route to the prefix whatever its interface or protocol, so
		 * another lbd's route or an operator's would be overwritten
		 * (and two lbds would take the route from each other for
		 * ever). Ours goes beside such a route. */
		req->nlmsg_flags |= NLM_F_CREATE;
		rtm->rtm_type = RTN_UNICAST;
		rtm->rtm_scope = RT_SCOPE_LINK;
	} else {
		rtm->rtm_scope = RT_SCOPE_NOWHERE;	/* any scope */
	}
	mnl_attr_put(req, RTA_DST, dst_len_of(d->family), d->addr);
	mnl_attr_put_u32(req, RTA_OIF, (__u32)r->ifindex);
	mnl_attr_put_u32(req, RTA_TABLE, table);
	return nl_talk(r->req, r->req_portid, &r->seq, r->buf, sizeof(r->buf), req, NULL, NULL);
}

static int dst_cmp(const void *pa, const void *pb)
{
	const struct route_dst *a = pa, *b = pb;

	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	return memcmp(a->addr, b->addr, dst_len_of(a->family));
}

/* Where d is in v, sorted by dst_cmp(), or -1: a sync with thousands of
 * VIP addresses would otherwise compare every route found with every one
 * wanted, on the event loop. */
static long dst_find(const struct route_dst *v, size_t n, const struct route_dst *d)
{
	const struct route_dst *hit = n ? bsearch(d, v, n, sizeof(*v), dst_cmp) : NULL;

	return hit ? hit - v : -1;
}

/* A sync in progress: what it found, wants, and did. */
struct sync {
	struct route_dst *want;		/* sorted */
	size_t n_want;
	bool *present;			/* per want: found in the table */
	struct route_dst *have;		/* at most n_want + the routes found */
	size_t n_have;
	routes_change_fn cb;
	void *data;
	struct routes_stats *rs;
	int err;			/* the first */
};

static void sync_note(struct sync *s, int rc)
{
	if (rc && !s->err)
		s->err = rc;
}

/* Remove what is found but not wanted (or not a host route); keep the rest. */
static void sync_found(struct routes *r, struct sync *s, const struct route_seen *f)
{
	bool host = f->dst_len == 8 * dst_len_of(f->d.family);
	long i = host ? dst_find(s->want, s->n_want, &f->d) : -1;
	int rc;

	if (i >= 0) {
		if (!s->present[i])
			s->have[s->n_have++] = f->d;
		s->present[i] = true;
		return;
	}
	rc = route_change(r, RTM_DELROUTE, &f->d, f->dst_len, f->table);
	/* Gone already (the interface went down meanwhile) is gone. */
	if (rc && rc != -ESRCH) {
		sync_note(s, rc);
		if (host)
			s->have[s->n_have++] = f->d;
		return;
	}
	s->rs->removed++;
	if (s->cb && host)
		s->cb(&f->d, false, s->data);
}

static void sync_missing(struct routes *r, struct sync *s, size_t i)
{
	const struct route_dst *d = &s->want[i];
	int rc;

	if (s->present[i] || r->hold)
		return;
	rc = route_change(r, RTM_NEWROUTE, d, (__u8)(8 * dst_len_of(d->family)), r->table);
	/* Only a route the same as ours in every respect is refused as
	 * existing: ours, made after the dump. */
	if (rc == -EEXIST)
		rc = 0;
	if (rc) {
		sync_note(s, rc);
		return;
	}
	s->have[s->n_have++] = *d;
	s->rs->added++;
	if (s->cb)
		s->cb(d, true, s->data);
}

/* want sorted and without repeats, in s->want. */
static int want_sorted(struct sync *s, const struct route_dst *want, size_t n)
{
	size_t i, k = 0;

	s->want = calloc(n + 1, sizeof(*s->want));
	s->present = calloc(n + 1, sizeof(*s->present));
	if (!s->want || !s->present)
		return -ENOMEM;
	if (n)
		memcpy(s->want, want, n * sizeof(*want));
	qsort(s->want, n, sizeof(*s->want), dst_cmp);
	for (i = 0; i < n; i++)
		if (!k || dst_cmp(&s->want[k - 1], &s->want[i]))
			s->want[k++] = s->want[i];
	s->n_want = k;
	return 0;
}

int routes_sync(struct routes *r, const struct route_dst *want, size_t n,
		routes_change_fn cb, void *data, struct routes_stats *rs)
{
	struct sync s = { .cb = cb, .data = data, .rs = rs };
	struct route_list found = { 0 };
	size_t i;
	int rc;

	memset(rs, 0, sizeof(*rs));
	r->due = true;
	rc = want_sorted(&s, want, n);
	if (!rc)
		rc = dump_ours(r, r->table, &found);
	if (!rc) {
		s.have = calloc(n + found.n + 1, sizeof(*s.have));
		rc = s.have ? 0 : -ENOMEM;
	}
	if (rc)
		goto out;
	for (i = 0; i < found.n; i++)
		if (found.r[i].table == r->table)
			sync_found(r, &s, &found.r[i]);
	for (i = 0; i < s.n_want; i++)
		sync_missing(r, &s, i);
	qsort(s.have, s.n_have, sizeof(*s.have), dst_cmp);
	free(r->have);
	r->have = s.have;
	r->n_have = s.n_have;
	s.have = NULL;
	r->due = s.err != 0;
	rc = s.err;
out:
	free(found.r);
	free(s.have);
	free(s.want);
	free(s.present);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Notifications */

/* Whether a notification may be about our routes, and not our doing. */
static bool event_concerns(const struct routes *r, const struct nlmsghdr *nlh)
{
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[RTA_MAX + 1] = {};
	struct nl_attrs t = { tb, RTA_MAX };

	switch (nlh->nlmsg_type) {
	case RTM_NEWROUTE:
	case RTM_DELROUTE:
		if (nlh->nlmsg_pid == r->req_portid || mnl_nlmsg_get_payload_len(nlh) < sizeof(*rtm) ||
		    mnl_attr_parse(nlh, sizeof(*rtm), nl_attr_store_cb, &t) < 0)
			return false;
		return nl_attr_u32(tb[RTA_TABLE], rtm->rtm_table) == r->table ||
		       rtm->rtm_protocol == ROUTES_PROTO;
	/* The kernel drops IPv4 routes through an interface that goes down
	 * or loses its last address without a RTM_DELROUTE for each. */
	case RTM_NEWLINK:
	case RTM_DELLINK:
		return mnl_nlmsg_get_payload_len(nlh) >= sizeof(*ifi) &&
		       ifi->ifi_index == r->ifindex;
	case RTM_NEWADDR:
	case RTM_DELADDR:
		return mnl_nlmsg_get_payload_len(nlh) >= sizeof(*ifa) &&
		       (int)ifa->ifa_index == r->ifindex;
	}
	return false;
}

static int event_cb(const struct nlmsghdr *nlh, void *data)
{
	struct routes *r = data;

	if (event_concerns(r, nlh))
		r->due = true;
	return MNL_CB_OK;
}

int routes_process(struct routes *r)
{
	/* Lost events may have been about our routes. */
	int rc = nl_drain(r->events, r->buf, sizeof(r->buf), event_cb, r, &r->due);

	return rc ? rc : r->due;
}

/* ------------------------------------------------------------------ */
/* The rest */

void routes_hold(struct routes *r, bool hold)
{
	r->hold = hold;
}

bool routes_sync_due(const struct routes *r)
{
	return r->due;
}

bool routes_installed(const struct routes *r, const struct route_dst *d)
{
	return r && dst_find(r->have, r->n_have, d) >= 0;
}

size_t routes_count(const struct routes *r)
{
	return r ? r->n_have : 0;
}

__u32 routes_table(const struct routes *r)
{
	return r->table;
}

int routes_fd(const struct routes *r)
{
	return mnl_socket_get_fd(r->events);
}

static int open_sockets(struct routes *r, bool events)
{
	static const unsigned int groups[] = {
		RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV6_ROUTE, RTNLGRP_LINK,
		RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR,
	};

	/* Subscribe before the first dump so that no change falls in between. */
	if (events) {
		r->events = nl_open_events(groups, sizeof(groups) / sizeof(groups[0]));
		if (!r->events)
			return -errno;
	}
	r->req = nl_open_requests(&r->req_portid);
	return r->req ? 0 : -errno;
}

static struct routes *routes_open(int ifindex, __u32 table, bool events)
{
	struct routes *r;
	int err;

	if (ifindex <= 0) {
		errno = EINVAL;
		return NULL;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->ifindex = ifindex;
	r->table = table;
	r->due = true;
	err = open_sockets(r, events);
	if (err) {
		routes_free(r);
		errno = -err;
		return NULL;
	}
	return r;
}

struct routes *routes_new(int ifindex, __u32 table)
{
	if (!table || (table >= RT_TABLE_DEFAULT && table <= RT_TABLE_LOCAL)) {
		errno = EINVAL;
		return NULL;
	}
	return routes_open(ifindex, table, true);
}

void routes_free(struct routes *r)
{
	if (!r)
		return;
	if (r->events)
		mnl_socket_close(r->events);
	if (r->req)
		mnl_socket_close(r->req);
	free(r->have);
	free(r);
}

int routes_flush(int ifindex, __u32 keep_table, size_t *removed)
{
	struct routes *r = routes_open(ifindex, keep_table, false);
	struct route_list found;
	size_t i;
	int rc, err = 0;

	*removed = 0;
	if (!r)
		return -errno;
	rc = dump_ours(r, 0, &found);
	if (rc) {
		routes_free(r);
		return rc;
	}
	for (i = 0; i < found.n; i++) {
		if (keep_table && found.r[i].table == keep_table)
			continue;
		rc = route_change(r, RTM_DELROUTE, &found.r[i].d, found.r[i].dst_len,
				  found.r[i].table);
		if (!rc || rc == -ESRCH)
			(*removed)++;
		else if (!err)
			err = rc;
	}
	free(found.r);
	routes_free(r);
	return err;
}
