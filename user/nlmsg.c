// SPDX-License-Identifier: GPL-2.0-only
#include "nlmsg.h"

#include <errno.h>
#include <sys/socket.h>
#include <linux/netlink.h>

int nl_attr_store_cb(const struct nlattr *attr, void *data)
{
	const struct nl_attrs *t = data;
	unsigned int type = mnl_attr_get_type(attr);

	if (type <= t->max)
		t->tb[type] = attr;
	return MNL_CB_OK;
}

struct nlmsghdr *nl_route_request(char *buf, __u16 type, __u16 flags, int family,
				  struct rtmsg **rtm)
{
	struct nlmsghdr *req = mnl_nlmsg_put_header(buf);

	req->nlmsg_type = type;
	req->nlmsg_flags = NLM_F_REQUEST | flags;
	*rtm = mnl_nlmsg_put_extra_header(req, sizeof(**rtm));
	(*rtm)->rtm_family = (__u8)family;
	return req;
}

__u32 nl_attr_u32(const struct nlattr *attr, __u32 fallback)
{
	if (!attr || mnl_attr_validate(attr, MNL_TYPE_U32) < 0)
		return fallback;
	return mnl_attr_get_u32(attr);
}

/*
 * The end of a dump carries the dump's error, if any (a filter refused, a
 * table or device that does not exist). libmnl 1.0.4 stops there without
 * looking, so that a failed dump would read as an empty one.
 */
static int ctl_done_cb(const struct nlmsghdr *nlh, void *data __attribute__((unused)))
{
	const int *err = mnl_nlmsg_get_payload(nlh);

	if (mnl_nlmsg_get_payload_len(nlh) >= sizeof(*err) && *err < 0) {
		errno = -*err;
		return MNL_CB_ERROR;
	}
	return MNL_CB_STOP;
}

/* As libmnl's own: given a control array, it calls no default for any type. */
static int ctl_error_cb(const struct nlmsghdr *nlh, void *data __attribute__((unused)))
{
	const struct nlmsgerr *err = mnl_nlmsg_get_payload(nlh);

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*err)) {
		errno = EBADMSG;
		return MNL_CB_ERROR;
	}
	if (!err->error)
		return MNL_CB_STOP;
	errno = err->error < 0 ? -err->error : err->error;
	return MNL_CB_ERROR;
}

static mnl_cb_t ctl_cbs[] = {
	[NLMSG_ERROR] = ctl_error_cb,
	[NLMSG_DONE] = ctl_done_cb,
};

int nl_talk(struct mnl_socket *sock, unsigned int portid, unsigned int *seq, char *buf,
	    size_t len, struct nlmsghdr *req, mnl_cb_t cb, void *data)
{
	ssize_t n;
	int ret;

	req->nlmsg_seq = ++*seq;
	if (mnl_socket_sendto(sock, req, req->nlmsg_len) < 0)
		return -errno;
	do {
		n = mnl_socket_recvfrom(sock, buf, len);
		if (n < 0)
			return -errno;
		/*
		 * The rest of an earlier exchange cut short by an error: the
		 * kernel never mixes two answers in one datagram, so skip it.
		 * Told by the sequence number, not by an EPROTO from libmnl,
		 * which an error the kernel gives this request could be too:
		 * the loop would then wait for an answer that never comes.
		 */
		if ((size_t)n >= sizeof(struct nlmsghdr) &&
		    ((const struct nlmsghdr *)buf)->nlmsg_seq != req->nlmsg_seq) {
			ret = MNL_CB_OK;
			continue;
		}
		ret = mnl_cb_run2(buf, n, req->nlmsg_seq, portid, cb, data, ctl_cbs,
				  MNL_ARRAY_SIZE(ctl_cbs));
	} while (ret > MNL_CB_STOP);
	return ret < 0 ? -errno : 0;
}

struct mnl_socket *nl_open_events(const unsigned int *groups, size_t n)
{
	struct mnl_socket *s = mnl_socket_open2(NETLINK_ROUTE, SOCK_NONBLOCK | SOCK_CLOEXEC);
	unsigned int group;
	size_t i;
	int err;

	if (!s)
		return NULL;
	if (mnl_socket_bind(s, 0, MNL_SOCKET_AUTOPID) < 0)
		goto fail;
	for (i = 0; i < n; i++) {
		group = groups[i];
		if (mnl_socket_setsockopt(s, NETLINK_ADD_MEMBERSHIP, &group, sizeof(group)) < 0)
			goto fail;
	}
	return s;
fail:
	err = errno;
	mnl_socket_close(s);
	errno = err;
	return NULL;
}

struct mnl_socket *nl_open_requests(unsigned int *portid)
{
	struct mnl_socket *s = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	int one = 1, err;

	if (!s)
		return NULL;
	if (mnl_socket_bind(s, 0, MNL_SOCKET_AUTOPID) < 0) {
		err = errno;
		mnl_socket_close(s);
		errno = err;
		return NULL;
	}
	*portid = mnl_socket_get_portid(s);
	mnl_socket_setsockopt(s, NETLINK_GET_STRICT_CHK, &one, sizeof(one));
	return s;
}

int nl_drain(struct mnl_socket *sock, char *buf, size_t len, mnl_cb_t cb, void *data,
	     bool *lost)
{
	ssize_t n;

	for (;;) {
		n = mnl_socket_recvfrom(sock, buf, len);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n < 0 && errno == ENOBUFS) {
			*lost = true;
			continue;
		}
		/* Whatever could not be read may have been about us. */
		if (n < 0) {
			*lost = true;
			return -errno;
		}
		if (mnl_cb_run(buf, n, 0, 0, cb, data) < 0) {
			*lost = true;
			return -errno;
		}
	}
}
