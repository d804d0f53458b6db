/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The source block lists in the data path's maps: a global deny list and
 * per-VIP allow lists of IPv4 and IPv6 prefixes (common/lb_abi.h). Rules
 * are added and removed while traffic flows, one map update each, with no
 * table rebuilt; each has a packet counter.
 *
 * A struct blocklist is the one writer of those maps: it learns the rules
 * and their ids from the maps when made (so a restarted lbd picks up where
 * the last one left off), and keeps lb_config's rule counts, which the data
 * path reads to skip empty lists, vip_allow and deny_filter in step with
 * the tries.
 * Two writers at once would hand out the same rule ids: lbctl goes through
 * lbd.
 */
#ifndef LB_BLOCKLIST_H
#define LB_BLOCKLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lb_abi.h"

/* File descriptors of the maps the block list lives in. */
struct blocklist_maps {
	int deny4, deny6, allow4, allow6;	/* LPM tries */
	int deny_filter;			/* which sources the deny list may hold */
	int vip_allow;				/* VIP id -> rules in its allow list */
	int block_stats;			/* rule id -> packets, per CPU */
	int lb_cfg;				/* deny4_rules, deny6_rules, allow_rules */
};

/* vip of a rule of the global deny list. */
#define BLOCKLIST_DENY	UINT32_MAX

struct blocklist_rule {
	uint32_t vip;		/* BLOCKLIST_DENY, or the VIP whose allow list holds it */
	uint8_t family;		/* LB_FAMILY_IPV4 or LB_FAMILY_IPV6 */
	uint8_t plen;		/* prefix length: 0 .. 32 or 0 .. 128 */
	__be32 addr[4];		/* the prefix, host bits zero; IPv4 in addr[0] */
	uint32_t flags;		/* LB_RULE_F_OPERATOR, or 0 for a rule from the config */
	uint32_t id;		/* set by blocklist_add() and blocklist_list() */
	uint64_t packets;	/* set by blocklist_list(): summed over CPUs */
};

struct bpf_object;

/* The maps of a loaded balancer object, by name. 0, or -ENOENT when one is
 * missing. */
int blocklist_maps_find(struct bpf_object *obj, struct blocklist_maps *m);

struct blocklist;

/* Read every rule in the maps and write the counts the data path reads.
 * NULL with errno set on failure. */
struct blocklist *blocklist_new(const struct blocklist_maps *m);
void blocklist_free(struct blocklist *bl);

/*
 * "198.51.100.0/24", "2001:db8::/32", or a bare address (a host prefix)
 * into r's family, plen and addr; vip, flags and the rest are left alone.
 * -EINVAL for anything else, host bits set after the prefix included.
 */
int blocklist_prefix_parse(const char *text, struct blocklist_rule *r);

/* Whether r lies inside ::ffff:0:0/96: IPv4 never arrives in that form, so
 * such a rule would match nothing. */
bool blocklist_prefix_mapped(const struct blocklist_rule *r);

/* The prefix as "addr/plen". Returns 0, or -ENOSPC if len is too small. */
int blocklist_prefix_format(const struct blocklist_rule *r, char *buf, size_t len);

/*
 * Add r (vip, family, plen, addr, flags) and set r->id. Its counter starts
 * at 0. -EEXIST when that list has that prefix already, -ENOSPC when all
 * LB_BLOCK_RULES_MAX ids are in use, -EINVAL for a bad rule, -errno from a
 * map update.
 */
int blocklist_add(struct blocklist *bl, struct blocklist_rule *r);

/* Remove the rule with r's vip, family, plen and addr. -ENOENT if none. */
int blocklist_del(struct blocklist *bl, const struct blocklist_rule *r);

/* Every rule with its id, flags and packet count: deny rules first, then
 * allow rules by VIP. *rules is malloc'd (free it); 0 or -errno. */
int blocklist_list(struct blocklist *bl, struct blocklist_rule **rules, size_t *n);

/*
 * Make the config's rules (flags 0) exactly rules[0..n-1]: remove the
 * config rules not among them, add the missing ones. Operator rules are
 * kept; a config rule that an operator rule already covers is not added
 * twice. Rules that stay keep their ids and counters. 0 or -errno (on an
 * error some changes may have been made; the maps stay consistent).
 */
int blocklist_replace_config(struct blocklist *bl, const struct blocklist_rule *rules, size_t n);

/*
 * Make the maps hold exactly rules[0..n-1], flags included: remove the
 * rules not among them, add the missing ones, and rewrite in place a
 * rule whose flags differ. A prefix given twice in the same list is one
 * rule with both flags. Rules that stay keep their ids and counters.
 * 0 or -errno (on an error some changes may have been made; the maps
 * stay consistent).
 */
int blocklist_replace(struct blocklist *bl, const struct blocklist_rule *rules, size_t n);

/* Remove every rule of VIP vip's allow list: call it when the VIP is
 * removed, before its id can be given to another. 0 or -errno. */
int blocklist_flush_vip(struct blocklist *bl, uint32_t vip);

/* Write lb_config's rule counts and vip_allow again, e.g. after something
 * rewrote lb_cfg whole. 0 or -errno. */
int blocklist_sync(struct blocklist *bl);

/* Rules in each list, as the data path is told. */
void blocklist_counts(const struct blocklist *bl, uint32_t *deny4, uint32_t *deny6,
		      uint32_t *allow);

#endif /* LB_BLOCKLIST_H */
