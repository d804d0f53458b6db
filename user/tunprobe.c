// SPDX-License-Identifier: GPL-2.0-only
#include "tunprobe.h"

#include <errno.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "lb_probe.skel.h"

#define TUNPROBE_PROG_NAME	"lb_probe"

struct tunprobe {
	struct lb_probe *skel;
	__u32 prog_id;
};

static void hook_init(struct bpf_tc_hook *hook, int ifindex)
{
	memset(hook, 0, sizeof(*hook));
	hook->sz = sizeof(*hook);
	hook->ifindex = ifindex;
	hook->attach_point = BPF_TC_EGRESS;
}

static void opts_init(struct bpf_tc_opts *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->sz = sizeof(*opts);
	opts->handle = TUNPROBE_HANDLE;
	opts->priority = TUNPROBE_PRIORITY;
}

/* Is program id an lb_probe? Names are what two builds share. */
static bool prog_is_ours(__u32 id)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);
	int fd = bpf_prog_get_fd_by_id(id);
	bool ours;

	if (fd < 0)
		return false;
	memset(&info, 0, sizeof(info));
	ours = !bpf_obj_get_info_by_fd(fd, &info, &len) &&
	       !strcmp(info.name, TUNPROBE_PROG_NAME);
	close(fd);
	return ours;
}

/*
 * What is at our handle and priority: 0 nothing, 1 an lb_probe, or
 * -EBUSY (someone else's filter, named in err). Without a clsact qdisc
 * the kernel answers EINVAL: no filter either.
 */
static int slot_query(const struct bpf_tc_hook *hook, const char *ifname, char *err,
		      size_t errlen)
{
	libbpf_print_fn_t print;
	struct bpf_tc_opts q;
	int rc;

	opts_init(&q);
	/* "No such filter" is an answer here, not an error for the log. */
	print = libbpf_set_print(NULL);
	rc = bpf_tc_query(hook, &q);
	libbpf_set_print(print);
	if (rc == -ENOENT || rc == -EINVAL)
		return 0;
	if (rc) {
		snprintf(err, errlen, "cannot query %s's TC egress filters: %s", ifname,
			 strerror(-rc));
		return rc;
	}
	if (prog_is_ours(q.prog_id))
		return 1;
	snprintf(err, errlen, "%s: TC egress handle %#x priority %u holds program %u, which is "
		 "not %s; leaving it alone", ifname, TUNPROBE_HANDLE, TUNPROBE_PRIORITY, q.prog_id,
		 TUNPROBE_PROG_NAME);
	return -EBUSY;
}

static int skel_load(struct tunprobe *tp, int backends_fd, int lb_cfg_fd, char *err,
		     size_t errlen)
{
	tp->skel = lb_probe__open();
	if (!tp->skel) {
		snprintf(err, errlen, "cannot open the tunnel probe program: %s", strerror(errno));
		return -errno;
	}
	if (bpf_map__reuse_fd(tp->skel->maps.backends, backends_fd) ||
	    bpf_map__reuse_fd(tp->skel->maps.lb_cfg, lb_cfg_fd)) {
		snprintf(err, errlen, "cannot share the balancer's maps with the tunnel probe "
			 "program: %s", strerror(errno));
		return -errno;
	}
	if (lb_probe__load(tp->skel)) {
		snprintf(err, errlen, "cannot load the tunnel probe program: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

static int filter_attach(struct tunprobe *tp, const char *ifname, char *err, size_t errlen)
{
	libbpf_print_fn_t print;
	struct bpf_tc_hook hook;
	struct bpf_tc_opts opts;
	int ifindex = (int)if_nametoindex(ifname);
	int rc;

	if (!ifindex) {
		snprintf(err, errlen, "no interface %s", ifname);
		return -ENODEV;
	}
	hook_init(&hook, ifindex);
	/* A clsact qdisc already there (EEXIST) is one to use, not an error
	 * for the log. */
	print = libbpf_set_print(NULL);
	rc = bpf_tc_hook_create(&hook);
	libbpf_set_print(print);
	if (rc && rc != -EEXIST) {
		snprintf(err, errlen, "cannot add a clsact qdisc to %s: %s", ifname, strerror(-rc));
		return rc;
	}
	rc = slot_query(&hook, ifname, err, errlen);
	if (rc < 0)
		return rc;
	opts_init(&opts);
	opts.prog_fd = bpf_program__fd(tp->skel->progs.lb_probe);
	opts.flags = BPF_TC_F_REPLACE;
	rc = bpf_tc_attach(&hook, &opts);
	if (rc) {
		snprintf(err, errlen, "cannot attach the tunnel probe program at %s's TC egress: "
			 "%s", ifname, strerror(-rc));
		return rc;
	}
	tp->prog_id = opts.prog_id;
	return 0;
}

struct tunprobe *tunprobe_attach(const char *ifname, int backends_fd, int lb_cfg_fd, char *err,
				 size_t errlen)
{
	struct tunprobe *tp = calloc(1, sizeof(*tp));
	int rc;

	if (!tp) {
		snprintf(err, errlen, "%s", strerror(ENOMEM));
		return NULL;
	}
	rc = skel_load(tp, backends_fd, lb_cfg_fd, err, errlen);
	if (!rc)
		rc = filter_attach(tp, ifname, err, errlen);
	if (!rc)
		return tp;
	tunprobe_free(tp);
	errno = -rc;
	return NULL;
}

__u32 tunprobe_prog_id(const struct tunprobe *tp)
{
	return tp->prog_id;
}

void tunprobe_free(struct tunprobe *tp)
{
	if (!tp)
		return;
	lb_probe__destroy(tp->skel);
	free(tp);
}

int tunprobe_detach(const char *ifname, char *err, size_t errlen)
{
	struct bpf_tc_hook hook;
	struct bpf_tc_opts opts;
	int ifindex = (int)if_nametoindex(ifname);
	int rc;

	if (!ifindex)
		return 0;	/* no interface, no filter */
	hook_init(&hook, ifindex);
	rc = slot_query(&hook, ifname, err, errlen);
	if (rc <= 0)
		return rc;
	opts_init(&opts);
	rc = bpf_tc_detach(&hook, &opts);
	if (rc && rc != -ENOENT) {
		snprintf(err, errlen, "cannot remove the tunnel probe program from %s's TC egress: "
			 "%s", ifname, strerror(-rc));
		return rc;
	}
	return rc ? 0 : 1;
}
