/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Loading the balancer and keeping it across lbd's restarts and upgrades.
 *
 * Everything lives under /sys/fs/bpf/sluice/<interface>/: one pin per map
 * (by map name) and "link", the XDP link. The pins keep the program
 * attached and the maps alive when lbd exits or dies. A new lbd:
 *  - reuses every pinned map whose layout matches its own, sizes and the
 *    BTF of its key and value field by field (same map ids, the flow table
 *    untouched), and refuses to start, naming the map, when one does not:
 *    the old program stays attached;
 *  - over the LRU flow table of releases before the set-associative one,
 *    creates the new table, copies the old one's flows into it, attaches
 *    the new program, copies the flows created meanwhile and moves the
 *    flow_table pin to the new table: established flows keep their
 *    backends across that upgrade;
 *  - adopts the pinned link when it runs the same program (same program
 *    id), or replaces the program on that link in one step (an upgrade);
 *  - attaches a new link only when there is none, or when the pinned one
 *    lost its interface (deleted and created again): the maps stay.
 */
#ifndef LB_LOADER_H
#define LB_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#define LOADER_PIN_ROOT "/sys/fs/bpf/sluice"

enum loader_link_action {
	LOADER_ATTACHED,	/* no link before: attached a new one */
	LOADER_ADOPTED,		/* same program already attached: kept it */
	LOADER_UPGRADED,	/* other program attached: replaced it on the link */
};

struct loader {
	struct lb_xdp *skel;
	char pin_dir[256];
	int lock_fd;		/* pin_dir, locked while this lbd runs */
	int ifindex;
	int link_fd;
	__u32 prog_id;		/* the program attached now */
	enum loader_link_action action;
	size_t maps_reused;	/* maps found pinned and reused */
	size_t flows_carried;	/* flows carried from an LRU flow table (upgrade) */
	int old_flows;		/* that table while loader_start() runs, else -1 */
	bool flows_reused;	/* the pinned flow table of this release reused */
	__u32 flow_sets;	/* sets in the flow table in use (pinned or new) */
	bool relinked;		/* the pinned link had lost its interface */
};

struct loader_opts {
	const char *ifname;
	bool generic;		/* generic (skb) XDP instead of native */
	__u32 flow_table_size;	/* used when the flow table is created: entries,
				 * rounded up to a power of two of sets */
};

/*
 * Load, pin and attach (or adopt, or upgrade). Returns 0, or -errno with a
 * one-line reason in err; on error nothing that was pinned or attached
 * before is changed, but for one case: an upgrade over an LRU flow table
 * that fails after the new program is attached (copying the last flows, or
 * moving the pin) leaves it attached, the old table pinned, and the next
 * start carries the flows again.
 */
int loader_start(struct loader *ld, const struct loader_opts *opts, char *err, size_t errlen);

/* The balancer's object, whose maps are the pinned ones once started. */
struct bpf_object *loader_object(const struct loader *ld);

/* Close everything lbd holds; pins, link and maps stay. */
void loader_close(struct loader *ld);

/* Detach the XDP link of ifname and remove every pin of its data path. */
int loader_unload(const char *ifname, char *err, size_t errlen);

/*
 * One lbd per interface: lock IFACE's pin directory. An fd to keep open
 * while lbd runs (closing it, or exiting, unlocks); -ENOENT when there is
 * no pin directory; -EBUSY, with err naming it, when another lbd holds
 * it; else -errno. loader_start() takes it; --unload takes it first.
 */
int loader_lock(const char *ifname, char *err, size_t errlen);

#endif /* LB_LOADER_H */
