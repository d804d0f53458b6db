// SPDX-License-Identifier: GPL-2.0-only
#include "testbed.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <bpf/bpf.h>

#include "datapath.h"
#include "pkt.h"

int testbed_map_fd(struct bpf_object *obj, const char *name)
{
	int fd = bpf_object__find_map_fd_by_name(obj, name);

	return fd < 0 ? -ENOENT : fd;
}

int testbed_blocklist_maps(struct bpf_object *obj, struct blocklist_maps *m)
{
	return blocklist_maps_find(obj, m);
}

int testbed_config(struct bpf_object *obj)
{
	struct lb_config cfg = { .mtu = 1500, .src4_plen = 32, .src6_plen = 128 };
	struct bpf_map *map = bpf_object__find_map_by_name(obj, "lb_cfg");
	int fd = testbed_map_fd(obj, "lb_cfg");
	__u8 val[sizeof(cfg)];
	__be32 addr[4];
	__u32 zero = 0, size;

	if (fd < 0 || !map)
		return -ENOENT;
	/* An older build's lb_config is a prefix of this one's: fields are
	 * only ever added at the end, and bench_ab times builds across that. */
	size = bpf_map__value_size(map);
	if (size > sizeof(cfg))
		return -EINVAL;
	memcpy(cfg.src_mac, pkt_lb_mac, 6);
	memcpy(cfg.next_hop_mac, pkt_router_mac, 6);
	pkt_addr("198.18.2.2", addr);
	cfg.src4 = addr[0];
	pkt_addr("fd00:2::2", cfg.src6);
	memcpy(val, &cfg, size);
	return bpf_map_update_elem(fd, &zero, val, BPF_ANY) ? -errno : 0;
}

/* What the controller derives from vip_map after writing it: the VIP
 * filter and the VIP index. An object without an index (an earlier
 * build's, which bench_ab may time) reads vip_map alone. */
static int vips_synced(struct bpf_object *obj, int vip_map_fd)
{
	int rc = datapath_filter_sync(vip_map_fd, testbed_map_fd(obj, "vip_filter"));
	int index_fd = testbed_map_fd(obj, "vip_index");

	if (rc || index_fd < 0)
		return rc;
	return datapath_index_sync(vip_map_fd, index_fd);
}

int testbed_vip_add(struct bpf_object *obj, const char *addr, uint16_t port, uint8_t proto,
		    uint32_t id)
{
	struct lb_vip_key key = {};
	struct lb_vip vip = { .id = id };
	int fd = testbed_map_fd(obj, "vip_map");

	if (fd < 0)
		return fd;
	key.family = pkt_addr(addr, key.addr);
	if (!key.family)
		return -EINVAL;
	key.port = htons(port);
	key.proto = proto;
	if (bpf_map_update_elem(fd, &key, &vip, BPF_ANY))
		return -errno;
	return vips_synced(obj, fd);
}

/* The entry's flags, with LB_BACKEND_F_L3 set. */
static int backend_mark_l3(int fd, __u32 id)
{
	struct lb_backend be;

	if (bpf_map_lookup_elem(fd, &id, &be))
		return -errno;
	be.flags |= LB_BACKEND_F_L3;
	return bpf_map_update_elem(fd, &id, &be, BPF_EXIST) ? -errno : 0;
}

int testbed_vip_l3(struct bpf_object *obj, const struct testbed_vip *vip, const char *addr,
		   uint16_t port, uint8_t proto)
{
	struct lb_vip_key key = { .port = htons(port), .proto = proto };
	int fd = testbed_map_fd(obj, "vip_map"), bfd = testbed_map_fd(obj, "backends");
	struct lb_vip v;
	size_t i;
	int rc;

	key.family = pkt_addr(addr, key.addr);
	if (fd < 0 || bfd < 0 || bpf_map_lookup_elem(fd, &key, &v))
		return -ENOENT;
	v.flags |= LB_VIP_F_HASH_L3;
	if (bpf_map_update_elem(fd, &key, &v, BPF_EXIST))
		return -errno;
	for (i = 0; i < vip->n; i++) {
		rc = backend_mark_l3(bfd, vip->backends[i].id);
		if (rc)
			return rc;
	}
	return vips_synced(obj, fd);
}

int testbed_backend_up(struct bpf_object *obj, const struct maglev_backend *b, int up)
{
	struct lb_backend be = { .family = b->family, .flags = up ? LB_BACKEND_F_UP : 0 };
	int fd = testbed_map_fd(obj, "backends");

	if (fd < 0)
		return fd;
	memcpy(be.addr, b->addr, sizeof(be.addr));
	return bpf_map_update_elem(fd, &b->id, &be, BPF_ANY) ? -errno : 0;
}

int testbed_one_vip(struct bpf_object *obj, struct testbed_vip *vip)
{
	int rc = testbed_config(obj);

	if (!rc)
		rc = testbed_vip_add(obj, "198.18.100.1", 80, IPPROTO_TCP, 0);
	vip->id = 0;
	return rc ? rc : testbed_backends(obj, vip, LB_FAMILY_IPV4, 16, 1);
}

int testbed_table(struct bpf_object *obj, struct testbed_vip *vip)
{
	int fd = testbed_map_fd(obj, "vip_tables");
	char err[128];

	if (fd < 0)
		return fd;
	if (maglev_build(vip->backends, vip->n, vip->table_size, vip->table, err, sizeof(err))) {
		fprintf(stderr, "testbed: %s\n", err);
		return -EINVAL;
	}
	return datapath_table_swap(fd, vip->id, vip->table, vip->table_size);
}

static void backend_addr(struct maglev_backend *b, uint8_t family, size_t i)
{
	char text[64];

	if (family == LB_FAMILY_IPV4)
		snprintf(text, sizeof(text), "198.18.%zu.%zu", 3 + i / 250, 1 + i % 250);
	else
		snprintf(text, sizeof(text), "fd00:3::%zx", i + 1);
	b->family = pkt_addr(text, b->addr);
}

int testbed_backends(struct bpf_object *obj, struct testbed_vip *vip, uint8_t family,
		     size_t n, uint32_t first_id)
{
	size_t i;
	int err;

	if (!vip->table_size)
		vip->table_size = LB_TABLE_SIZE_DEFAULT;
	vip->backends = calloc(n, sizeof(*vip->backends));
	vip->table = calloc(vip->table_size, sizeof(*vip->table));
	if (!vip->backends || !vip->table)
		return -ENOMEM;
	vip->n = n;
	for (i = 0; i < n; i++) {
		vip->backends[i].id = first_id + (uint32_t)i;
		vip->backends[i].weight = 100;
		backend_addr(&vip->backends[i], family, i);
		err = testbed_backend_up(obj, &vip->backends[i], 1);
		if (err)
			return err;
	}
	return testbed_table(obj, vip);
}

void testbed_vip_free(struct testbed_vip *vip)
{
	free(vip->backends);
	free(vip->table);
	memset(vip, 0, sizeof(*vip));
}
