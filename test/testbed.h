/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A loaded balancer with a standard setup, for the property tests and the
 * benchmark: MACs, MTU 1500, fixed tunnel sources 198.18.2.2 and fd00:2::2,
 * VIPs and backends as asked for, tables built by maglev_build().
 */
#ifndef LB_TESTBED_H
#define LB_TESTBED_H

#include <stddef.h>
#include <stdint.h>
#include <bpf/libbpf.h>
#include "blocklist.h"
#include "maglev.h"

struct testbed_vip {
	uint32_t id;
	uint32_t table_size;
	uint32_t *table;	/* as installed */
	struct maglev_backend *backends;
	size_t n;
};

/* Write lb_cfg with the standard settings. Returns 0 or -errno. */
int testbed_config(struct bpf_object *obj);

/* Add a VIP: vip_map entry (address, port, proto) -> id, no flags. */
int testbed_vip_add(struct bpf_object *obj, const char *addr, uint16_t port, uint8_t proto,
		    uint32_t id);

/*
 * Give vip->id n backends of the given family with ids first_id.. and
 * addresses 198.18.3.0/24 (+ 198.18.4.0/24 ...) or fd00:3::/64, all up,
 * then build and install a table of table_size. Fills vip. 0 or -errno.
 */
int testbed_backends(struct bpf_object *obj, struct testbed_vip *vip, uint8_t family,
		     size_t n, uint32_t first_id);

/* Make the VIP at (addr, port, proto) hash on addresses only, and mark its
 * backends (vip's) so, as lbd writes an l3 VIP. 0 or -errno. */
int testbed_vip_l3(struct bpf_object *obj, const struct testbed_vip *vip, const char *addr,
		   uint16_t port, uint8_t proto);

/* The usual single-VIP bed: lb_cfg, VIP 0 at 198.18.100.1:80/tcp and 16
 * IPv4 backends (ids 1-16), all up; vip describes it. 0 or -errno. */
int testbed_one_vip(struct bpf_object *obj, struct testbed_vip *vip);

/* Rebuild vip's table from vip->backends (after the caller changed them)
 * and swap it in. 0 or -errno. */
int testbed_table(struct bpf_object *obj, struct testbed_vip *vip);

/* Set or clear a backend's LB_BACKEND_F_UP. 0 or -errno. */
int testbed_backend_up(struct bpf_object *obj, const struct maglev_backend *b, int up);

void testbed_vip_free(struct testbed_vip *vip);

int testbed_map_fd(struct bpf_object *obj, const char *name);

/* The block list's maps of a loaded balancer. 0 or -ENOENT. */
int testbed_blocklist_maps(struct bpf_object *obj, struct blocklist_maps *m);

#endif /* LB_TESTBED_H */
