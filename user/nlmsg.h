/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the rtnetlink users (nexthop.c, routes.c) share on top of libmnl:
 * attribute tables, and one request answered in full, errors included.
 */
#ifndef LB_NLMSG_H
#define LB_NLMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>

/* Attributes by type, for mnl_attr_parse() with nl_attr_store_cb. */
struct nl_attrs {
	const struct nlattr **tb;
	unsigned int max;
};

int nl_attr_store_cb(const struct nlattr *attr, void *data);

/* A route request at the start of buf (aligned, room for the attributes
 * to come): the header with NLM_F_REQUEST | flags, then a zeroed struct
 * rtmsg of family, returned in *rtm. */
struct nlmsghdr *nl_route_request(char *buf, __u16 type, __u16 flags, int family,
				  struct rtmsg **rtm);

/* A u32 attribute, or fallback when it is missing or malformed. */
__u32 nl_attr_u32(const struct nlattr *attr, __u32 fallback);

/*
 * Send req on sock (bound, with portid) as sequence ++*seq, and run cb (may
 * be NULL) on each answer until the ack or the dump's end, reading into
 * buf (32 KiB holds any dump datagram). 0 or -errno: an error the kernel
 * answered with, or the dump's own (see nlmsg.c).
 */
int nl_talk(struct mnl_socket *sock, unsigned int portid, unsigned int *seq, char *buf,
	    size_t len, struct nlmsghdr *req, mnl_cb_t cb, void *data);

/* A non-blocking socket subscribed to groups[0..n). NULL and errno. */
struct mnl_socket *nl_open_events(const unsigned int *groups, size_t n);

/* A socket for requests, with strict checking asked for (the kernel then
 * filters dumps; older kernels dump everything). NULL and errno. */
struct mnl_socket *nl_open_requests(unsigned int *portid);

/*
 * Read every pending notification on a non-blocking socket, running cb on
 * each, without waiting for more. *lost is set when the socket overflowed
 * and the kernel dropped some (which ones is unknown: read everything
 * again). 0 or -errno.
 */
int nl_drain(struct mnl_socket *sock, char *buf, size_t len, mnl_cb_t cb, void *data,
	     bool *lost);

#endif /* LB_NLMSG_H */
