/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The tunnel probes' TC program (kern/lb_probe.bpf.c): loaded on the
 * balancer's own backends and lb_cfg maps, so that it wraps probes from
 * the state lb_xdp reads, and attached at the egress of the balancer's
 * interface as a direct-action cls_bpf filter of a clsact qdisc, at a
 * handle and priority of its own (TUNPROBE_HANDLE, TUNPROBE_PRIORITY).
 *
 * Like the XDP link, the filter stays when lbd exits: a new lbd replaces
 * the program in place, and `lbd --unload` or a config without tunnel
 * checks removes it. A filter at that handle and priority that does not
 * run lb_probe is someone else's: it is neither replaced nor removed.
 */
#ifndef LB_TUNPROBE_H
#define LB_TUNPROBE_H

#include <stddef.h>
#include <linux/types.h>

#define TUNPROBE_HANDLE		0x51ce
/* First in the chain, so that no filter before it ends the chain for a
 * probe's packets, which would then leave without the tunnel. */
#define TUNPROBE_PRIORITY	1

struct tunprobe;

/*
 * Load lb_probe on the maps whose fds are given and attach it at the
 * egress of ifname, replacing an lb_probe attached there before. NULL
 * with errno and a one-line reason in err.
 */
struct tunprobe *tunprobe_attach(const char *ifname, int backends_fd, int lb_cfg_fd, char *err,
				 size_t errlen);

/* The program attached now. */
__u32 tunprobe_prog_id(const struct tunprobe *tp);

/* Close what lbd holds; the filter stays attached. */
void tunprobe_free(struct tunprobe *tp);

/*
 * Remove lb_probe from the egress of ifname: 1 when it was there, 0 when
 * it was not, or -errno with a reason in err: -EBUSY for a filter at our
 * handle and priority that is not lb_probe.
 */
int tunprobe_detach(const char *ifname, char *err, size_t errlen);

#endif /* LB_TUNPROBE_H */
