// SPDX-License-Identifier: GPL-2.0-only
#include "loader.h"

#include <dirent.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <linux/magic.h>

#include "flowtab.h"
#include "layout.h"
#include "lb_flowtab.h"
#include "lb_xdp.skel.h"

#define BPFFS "/sys/fs/bpf"

static int bpffs_ensure(char *err, size_t errlen)
{
	struct statfs st;

	if (!statfs(BPFFS, &st) && st.f_type == BPF_FS_MAGIC)
		return 0;
	if (mount("bpf", BPFFS, "bpf", 0, "mode=0700")) {
		snprintf(err, errlen, "cannot mount bpffs on %s: %s", BPFFS, strerror(errno));
		return -errno;
	}
	return 0;
}

static int mkdir_p(const char *dir)
{
	if (mkdir(LOADER_PIN_ROOT, 0700) && errno != EEXIST)
		return -errno;
	if (mkdir(dir, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

static void pin_path(const struct loader *ld, const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", ld->pin_dir, name);
}

/*
 * Field by field: sizes alone miss a struct whose fields moved. Maps
 * created without BTF can only be checked by size; BTF that is there but
 * cannot be read refuses the map, since nothing would then be checked.
 */
static int map_btf_check(struct bpf_map *map, const struct bpf_map_info *info,
			 const struct btf *ours, char *err, size_t errlen)
{
	__u32 types[2][2] = {
		{ info->btf_key_type_id, bpf_map__btf_key_type_id(map) },
		{ info->btf_value_type_id, bpf_map__btf_value_type_id(map) },
	};
	static const char *const what[2] = { "key", "value" };
	struct btf *pinned;
	char why[160];
	int i, rc = 0;

	if (!info->btf_id || !ours)
		return 0;
	pinned = btf__load_from_kernel_by_id(info->btf_id);
	if (!pinned) {
		snprintf(err, errlen, "map %s: cannot read the pinned map's BTF (id %u): %s",
			 bpf_map__name(map), info->btf_id, strerror(errno));
		return -errno;
	}
	for (i = 0; i < 2 && !rc; i++) {
		if (!types[i][0] || !types[i][1] ||
		    layout_equal(pinned, types[i][0], ours, types[i][1], why, sizeof(why)))
			continue;
		snprintf(err, errlen,
			 "map %s: the pinned map's %s layout differs from this lbd's (%s); "
			 "refusing to replace it (the running data path is left as it is; "
			 "'lbd --unload' removes it)", bpf_map__name(map), what[i], why);
		rc = -EINVAL;
	}
	btf__free(pinned);
	return rc;
}

/* Does a pinned map have the layout this program needs? */
static int map_check(struct bpf_map *map, const struct bpf_map_info *info,
		     const struct btf *ours, char *err, size_t errlen)
{
	const char *name = bpf_map__name(map);
	const char *what = NULL;
	__u32 have = 0, want = 0;

	if (info->type != bpf_map__type(map))
		what = "type", have = info->type, want = bpf_map__type(map);
	else if (info->key_size != bpf_map__key_size(map))
		what = "key size", have = info->key_size, want = bpf_map__key_size(map);
	else if (info->value_size != bpf_map__value_size(map))
		what = "value size", have = info->value_size, want = bpf_map__value_size(map);
	else if (info->map_flags != bpf_map__map_flags(map))
		what = "flags", have = info->map_flags, want = bpf_map__map_flags(map);
	/* The flow table keeps the size it was created with. */
	else if (strcmp(name, "flow_table") && info->max_entries != bpf_map__max_entries(map))
		what = "max entries", have = info->max_entries, want = bpf_map__max_entries(map);
	if (!what)
		return map_btf_check(map, info, ours, err, errlen);
	snprintf(err, errlen,
		 "map %s: the pinned map has %s %u, this lbd needs %u; refusing to replace it "
		 "(the running data path is left as it is; 'lbd --unload' removes it)",
		 name, what, have, want);
	return -EINVAL;
}

/*
 * An empty pinned map of maps has no inner map to compare: offer it one of
 * this build's and take it back. The kernel refuses an inner map of
 * another layout with EINVAL. Every slot is empty, so a packet that looks
 * one up meanwhile finds a table of size 0 (no backend) where it found no
 * table (no backend).
 */
static int inner_probe(struct bpf_map *map, int fd, char *err, size_t errlen)
{
	const struct bpf_map *want = bpf_map__inner_map(map);
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = bpf_map__map_flags(want));
	__u32 key = 0;
	int inner, rc = 0;

	inner = bpf_map_create(bpf_map__type(want), "lb_probe", bpf_map__key_size(want),
			       bpf_map__value_size(want), bpf_map__max_entries(want), &opts);
	if (inner < 0) {
		rc = -errno;
		snprintf(err, errlen, "map %s: cannot create a probe inner map: %s",
			 bpf_map__name(map), strerror(-rc));
		return rc;
	}
	if (bpf_map_update_elem(fd, &key, &inner, BPF_ANY)) {
		rc = -errno;
		snprintf(err, errlen,
			 "map %s: the pinned map takes no inner map of this lbd's layout "
			 "(key size %u, value size %u, flags %#x): %s; refusing to replace it "
			 "(the running data path is left as it is; 'lbd --unload' removes it)",
			 bpf_map__name(map), bpf_map__key_size(want), bpf_map__value_size(want),
			 bpf_map__map_flags(want), strerror(-rc));
	} else if (bpf_map_delete_elem(fd, &key)) {
		/* The probe stays in slot 0: an empty table, no backend, as before. */
		rc = -errno;
		snprintf(err, errlen, "map %s: cannot take the probe inner map out again: %s",
			 bpf_map__name(map), strerror(-rc));
	}
	close(inner);
	return rc;
}

/*
 * For a map of maps: do the pinned map's inner maps have the layout this
 * program reads through it? The kernel fixed that layout when the outer map
 * was created; any inner map in it shows it, and an empty one is probed.
 */
static int inner_check(struct bpf_map *map, int fd, char *err, size_t errlen)
{
	const struct bpf_map *want = bpf_map__inner_map(map);
	struct bpf_map_info info;
	__u32 key, id, len;
	int inner;

	if (!want)
		return 0;
	for (key = 0; key < bpf_map__max_entries(map); key++)
		if (!bpf_map_lookup_elem(fd, &key, &id))
			break;
	if (key == bpf_map__max_entries(map))
		return inner_probe(map, fd, err, errlen);
	inner = bpf_map_get_fd_by_id(id);
	memset(&info, 0, sizeof(info));
	len = sizeof(info);
	if (inner < 0 || bpf_obj_get_info_by_fd(inner, &info, &len)) {
		snprintf(err, errlen, "map %s: cannot read inner map %u: %s", bpf_map__name(map),
			 id, strerror(errno));
		if (inner >= 0)
			close(inner);
		return -EIO;
	}
	close(inner);
	if (info.key_size == bpf_map__key_size(want) &&
	    info.value_size == bpf_map__value_size(want) &&
	    info.map_flags == bpf_map__map_flags(want))
		return 0;
	snprintf(err, errlen,
		 "map %s: the pinned map's inner maps have key size %u, value size %u and flags "
		 "%#x, this lbd needs %u, %u and %#x; refusing to replace it (the running data "
		 "path is left as it is; 'lbd --unload' removes it)",
		 bpf_map__name(map), info.key_size, info.value_size, info.map_flags,
		 bpf_map__key_size(want), bpf_map__value_size(want), bpf_map__map_flags(want));
	return -EINVAL;
}

/* A pinned flow table of this release: the program takes its size and
 * seeds. A table whose seeds were never drawn was written with seeds 0. */
static int flows_adopt(struct loader *ld, int fd, char *err, size_t errlen)
{
	struct lb_flow_head head;
	__u32 nsets;
	int rc = flowtab_head(fd, &nsets, &head);

	if (rc && rc != -ENOKEY) {
		snprintf(err, errlen, "map flow_table: %s",
			 rc == -EINVAL ? "not a power of two of sets and a head" : strerror(-rc));
		return rc;
	}
	ld->skel->rodata->lb_flow_set_mask = nsets - 1;
	ld->flow_sets = nsets;
	ld->skel->rodata->lb_flow_seed_set = rc ? 0 : head.seed_set;
	ld->skel->rodata->lb_flow_seed_tag = rc ? 0 : head.seed_tag;
	ld->flows_reused = true;
	return 0;
}

/* Reuse every pinned map that fits; fail on the first that does not. */
static int maps_reuse(struct loader *ld, char *err, size_t errlen)
{
	struct bpf_map_info info;
	struct bpf_map *map;
	char path[320];
	__u32 len;
	int fd, rc;

	bpf_object__for_each_map(map, ld->skel->obj) {
		/* .rodata holds load-time knobs: always this build's own. */
		if (bpf_map__is_internal(map))
			continue;
		pin_path(ld, bpf_map__name(map), path, sizeof(path));
		fd = bpf_obj_get(path);
		if (fd < 0) {
			if (errno == ENOENT)
				continue;
			snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
			return -errno;
		}
		/* The LRU flow table of an earlier release: a new table is
		 * created and its flows carried over (flows_carry()). */
		if (map == ld->skel->maps.flow_table && flowtab_is_lru(fd)) {
			ld->old_flows = fd;
			continue;
		}
		memset(&info, 0, sizeof(info));
		len = sizeof(info);
		rc = bpf_obj_get_info_by_fd(fd, &info, &len) ? -errno :
		     map_check(map, &info, bpf_object__btf(ld->skel->obj), err, errlen);
		if (!rc)
			rc = inner_check(map, fd, err, errlen);
		/* The flow table keeps its size and seeds: the program's
		 * knobs follow. */
		if (!rc && map == ld->skel->maps.flow_table)
			rc = flows_adopt(ld, fd, err, errlen);
		if (!rc && bpf_map__reuse_fd(map, fd))
			rc = -errno;
		close(fd);
		if (rc) {
			if (!err[0])
				snprintf(err, errlen, "cannot reuse %s: %s", path, strerror(-rc));
			return rc;
		}
		ld->maps_reused++;
	}
	return 0;
}

static int maps_pin(struct loader *ld, char *err, size_t errlen)
{
	struct bpf_map *map;
	char path[320];

	bpf_object__for_each_map(map, ld->skel->obj) {
		if (bpf_map__is_internal(map))
			continue;
		pin_path(ld, bpf_map__name(map), path, sizeof(path));
		if (!access(path, F_OK))
			continue;
		if (bpf_obj_pin(bpf_map__fd(map), path)) {
			snprintf(err, errlen, "cannot pin %s: %s", path, strerror(errno));
			return -errno;
		}
	}
	return 0;
}

static int prog_info(int prog_fd, struct bpf_prog_info *info, __u32 *map_ids, __u32 nr)
{
	__u32 len = sizeof(*info);

	memset(info, 0, sizeof(*info));
	info->nr_map_ids = nr;
	info->map_ids = (__u64)(unsigned long)map_ids;
	return bpf_obj_get_info_by_fd(prog_fd, info, &len) ? -errno : 0;
}

/* Does the attached program use every map this lbd works on? The tag
 * covers the instructions, not which maps they name: a pin that was
 * missing means a new map, which the old program does not see. */
static bool prog_uses_our_maps(struct loader *ld, const __u32 *ids, __u32 n)
{
	struct bpf_map_info info;
	struct bpf_map *map;
	__u32 len, i;

	bpf_object__for_each_map(map, ld->skel->obj) {
		bool found = false;

		if (bpf_map__is_internal(map))
			continue;
		memset(&info, 0, sizeof(info));
		len = sizeof(info);
		if (bpf_obj_get_info_by_fd(bpf_map__fd(map), &info, &len))
			return false;
		for (i = 0; i < n; i++)
			found |= ids[i] == info.id;
		if (!found)
			return false;
	}
	return true;
}

/* Keep the pinned link: same program on the same maps, or swap in ours in
 * one step. */
static int link_adopt(struct loader *ld, int link_fd, const struct bpf_link_info *li,
		      char *err, size_t errlen)
{
	int new_fd = bpf_program__fd(ld->skel->progs.lb_xdp);
	struct bpf_prog_info old_info, new_info;
	__u32 ids[64];
	int old_fd;

	old_fd = bpf_prog_get_fd_by_id(li->prog_id);
	if (old_fd < 0 || prog_info(old_fd, &old_info, ids, 64) ||
	    prog_info(new_fd, &new_info, NULL, 0)) {
		snprintf(err, errlen, "cannot read the attached program: %s", strerror(errno));
		if (old_fd >= 0)
			close(old_fd);
		return -errno;
	}
	close(old_fd);
	ld->link_fd = link_fd;
	if (!memcmp(old_info.tag, new_info.tag, sizeof(old_info.tag)) &&
	    prog_uses_our_maps(ld, ids, old_info.nr_map_ids < 64 ? old_info.nr_map_ids : 64)) {
		ld->prog_id = old_info.id;
		ld->action = LOADER_ADOPTED;
		return 0;
	}
	if (bpf_link_update(link_fd, new_fd, NULL)) {
		snprintf(err, errlen, "cannot replace the program on the link: %s", strerror(errno));
		ld->link_fd = -1;
		return -errno;
	}
	ld->prog_id = new_info.id;
	ld->action = LOADER_UPGRADED;
	return 0;
}

static int link_attach(struct loader *ld, bool generic, char *err, size_t errlen)
{
	LIBBPF_OPTS(bpf_link_create_opts, opts,
		    .flags = generic ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE);
	int prog_fd = bpf_program__fd(ld->skel->progs.lb_xdp);
	struct bpf_prog_info info;
	char path[320];
	int fd;

	fd = bpf_link_create(prog_fd, ld->ifindex, BPF_XDP, &opts);
	if (fd < 0) {
		snprintf(err, errlen, "cannot attach XDP (%s mode): %s%s",
			 generic ? "generic" : "native", strerror(errno),
			 errno == EBUSY ? " (another XDP program is attached)" :
			 errno == ERANGE ? " (the interface MTU is too large for single-buffer "
					   "XDP: lower it, or use xdp_mode generic)" : "");
		return -errno;
	}
	pin_path(ld, "link", path, sizeof(path));
	if (bpf_obj_pin(fd, path)) {
		snprintf(err, errlen, "cannot pin %s: %s", path, strerror(errno));
		close(fd);
		return -errno;
	}
	ld->link_fd = fd;
	ld->prog_id = prog_info(prog_fd, &info, NULL, 0) ? 0 : info.id;
	ld->action = LOADER_ATTACHED;
	return 0;
}

static const char *xdp_mode_name(__u8 mode)
{
	return mode == XDP_ATTACHED_SKB ? "generic" : mode == XDP_ATTACHED_DRV ? "native" : "another";
}

/* Switching between native and generic XDP needs a detach: traffic would
 * reach the stack meanwhile. An adopting lbd leaves that to the operator. */
static int link_mode_check(const struct loader *ld, bool generic, char *err, size_t errlen)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	__u8 want = generic ? XDP_ATTACHED_SKB : XDP_ATTACHED_DRV;
	int rc;

	rc = bpf_xdp_query(ld->ifindex, 0, &q);
	if (rc) {
		snprintf(err, errlen, "cannot query the XDP mode: %s", strerror(-rc));
		return rc;
	}
	if (q.attach_mode == want)
		return 0;
	snprintf(err, errlen, "the running data path is attached in %s mode and the config asks "
		 "for %s; changing modes detaches it: 'lbd --unload', then start",
		 xdp_mode_name(q.attach_mode), generic ? "generic" : "native");
	return -EINVAL;
}

/*
 * A pinned link whose interface went away (deleted and created again, a VF
 * reset) reports ifindex 0 and attaches nothing: unpin it and attach anew,
 * keeping the maps. A link on another interface is someone else's.
 */
static int link_setup(struct loader *ld, bool generic, char *err, size_t errlen)
{
	struct bpf_link_info li;
	__u32 len = sizeof(li);
	char path[320];
	int fd, rc;

	pin_path(ld, "link", path, sizeof(path));
	fd = bpf_obj_get(path);
	if (fd < 0 && errno != ENOENT) {
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return -errno;
	}
	if (fd < 0)
		return link_attach(ld, generic, err, errlen);
	memset(&li, 0, sizeof(li));
	if (bpf_obj_get_info_by_fd(fd, &li, &len)) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		close(fd);
		return -errno;
	}
	if (li.type == BPF_LINK_TYPE_XDP && li.xdp.ifindex == 0) {
		close(fd);
		if (unlink(path)) {
			snprintf(err, errlen, "cannot remove the detached link %s: %s", path,
				 strerror(errno));
			return -errno;
		}
		ld->relinked = true;
		return link_attach(ld, generic, err, errlen);
	}
	if (li.type != BPF_LINK_TYPE_XDP || (int)li.xdp.ifindex != ld->ifindex) {
		snprintf(err, errlen, "%s is not an XDP link on this interface", path);
		close(fd);
		return -EINVAL;
	}
	rc = link_mode_check(ld, generic, err, errlen);
	if (!rc)
		rc = link_adopt(ld, fd, &li, err, errlen);
	if (rc)
		close(fd);
	return rc;
}

/*
 * Carry the flows of the pinned LRU flow table (ld->old_flows) into the new
 * one. Called twice: before the new program is attached, with the whole
 * table to copy and no packet to race; and after, for the flows the old
 * program created meanwhile (flows the new one has recorded by then are
 * kept as they are).
 */
static int flows_carry(struct loader *ld, char *err, size_t errlen)
{
	struct flowtab t;
	size_t n = 0;
	int rc = flowtab_open(bpf_map__fd(ld->skel->maps.flow_table), 1, &t);

	if (!rc) {
		rc = flowtab_carry_lru(ld->old_flows, &t, &n);
		flowtab_close(&t);
	}
	ld->flows_carried += n;
	if (rc)
		snprintf(err, errlen, "cannot carry the flows of the pinned LRU flow table: %s",
			 strerror(-rc));
	return rc;
}

/* Put the new flow table's pin in place of the old one's, in one step.
 * (bpffs refuses names with a dot.) */
static int flows_repin(struct loader *ld, char *err, size_t errlen)
{
	char path[320], tmp[330];

	pin_path(ld, "flow_table", path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s_new", path);
	unlink(tmp);
	if (bpf_obj_pin(bpf_map__fd(ld->skel->maps.flow_table), tmp) || rename(tmp, path)) {
		snprintf(err, errlen, "cannot pin the new flow table at %s: %s", path,
			 strerror(errno));
		unlink(tmp);
		return -errno;
	}
	return 0;
}

int loader_lock(const char *ifname, char *err, size_t errlen)
{
	char dir[256];
	int fd, e;

	snprintf(dir, sizeof(dir), "%s/%s", LOADER_PIN_ROOT, ifname);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		e = errno;
		snprintf(err, errlen, "cannot open %s: %s", dir, strerror(e));
		return -e;
	}
	if (!flock(fd, LOCK_EX | LOCK_NB))
		return fd;
	e = errno;
	close(fd);
	if (e == EWOULDBLOCK) {
		snprintf(err, errlen, "another lbd runs on %s (%s is locked)", ifname, dir);
		return -EBUSY;
	}
	snprintf(err, errlen, "cannot lock %s: %s", dir, strerror(e));
	return -e;
}

int loader_start(struct loader *ld, const struct loader_opts *opts, char *err, size_t errlen)
{
	__u32 sets = lb_flow_sets_for(opts->flow_table_size);
	struct lb_flow_head head;
	int rc;

	memset(ld, 0, sizeof(*ld));
	ld->link_fd = -1;
	ld->lock_fd = -1;
	ld->old_flows = -1;
	err[0] = '\0';
	ld->ifindex = (int)if_nametoindex(opts->ifname);
	if (!ld->ifindex) {
		snprintf(err, errlen, "no interface %s", opts->ifname);
		return -ENODEV;
	}
	snprintf(ld->pin_dir, sizeof(ld->pin_dir), "%s/%s", LOADER_PIN_ROOT, opts->ifname);
	rc = bpffs_ensure(err, errlen);
	if (rc)
		return rc;
	rc = mkdir_p(ld->pin_dir);
	if (rc) {
		snprintf(err, errlen, "cannot create %s: %s", ld->pin_dir, strerror(-rc));
		return rc;
	}
	/* Before any pin is read: two lbds on one set of pins would each
	 * write their config into the other's data path. */
	rc = loader_lock(opts->ifname, err, errlen);
	if (rc < 0)
		return rc;
	ld->lock_fd = rc;
	ld->skel = lb_xdp__open();
	if (!ld->skel) {
		rc = -errno;
		snprintf(err, errlen, "cannot open the BPF object: %s", strerror(-rc));
		goto fail;
	}
	/* A new flow table: its sets, its head, and seeds drawn for it. */
	bpf_map__set_max_entries(ld->skel->maps.flow_table, sets + 1);
	rc = flowtab_draw(&head);
	if (rc) {
		snprintf(err, errlen, "cannot draw the flow table's seeds: %s", strerror(-rc));
		goto fail;
	}
	ld->skel->rodata->lb_flow_set_mask = sets - 1;
	ld->flow_sets = sets;
	ld->skel->rodata->lb_flow_seed_set = head.seed_set;
	ld->skel->rodata->lb_flow_seed_tag = head.seed_tag;
	rc = maps_reuse(ld, err, errlen);
	if (rc)
		goto fail;
	if (lb_xdp__load(ld->skel)) {
		rc = -errno;
		snprintf(err, errlen, "cannot load the BPF program: %s", strerror(errno));
		goto fail;
	}
	/* Before anything reads the table: user space finds the seeds here. */
	if (!ld->flows_reused) {
		rc = flowtab_head_write(bpf_map__fd(ld->skel->maps.flow_table), sets, &head);
		if (rc)
			snprintf(err, errlen, "cannot write the flow table's head: %s",
				 strerror(-rc));
	}
	if (!rc && ld->old_flows >= 0)
		rc = flows_carry(ld, err, errlen);
	/* An old flow table's pin stays until the new program runs. */
	if (!rc)
		rc = maps_pin(ld, err, errlen);
	if (!rc)
		rc = link_setup(ld, opts->generic, err, errlen);
	if (!rc && ld->old_flows >= 0)
		rc = flows_carry(ld, err, errlen);
	if (!rc && ld->old_flows >= 0)
		rc = flows_repin(ld, err, errlen);
	if (ld->old_flows >= 0)
		close(ld->old_flows);
	ld->old_flows = -1;
	if (!rc)
		return 0;
fail:
	if (ld->old_flows >= 0)
		close(ld->old_flows);
	ld->old_flows = -1;
	lb_xdp__destroy(ld->skel);
	ld->skel = NULL;
	close(ld->lock_fd);
	ld->lock_fd = -1;
	return rc;
}

struct bpf_object *loader_object(const struct loader *ld)
{
	return ld->skel->obj;
}

void loader_close(struct loader *ld)
{
	if (ld->link_fd >= 0)
		close(ld->link_fd);
	lb_xdp__destroy(ld->skel);
	ld->skel = NULL;
	ld->link_fd = -1;
	if (ld->lock_fd >= 0)
		close(ld->lock_fd);
	ld->lock_fd = -1;
}

/* Detach first: once the link is gone, the maps are only data. */
int loader_unload(const char *ifname, char *err, size_t errlen)
{
	char dir[256], path[512];
	struct dirent *de;
	int fd, rc = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/%s", LOADER_PIN_ROOT, ifname);
	snprintf(path, sizeof(path), "%s/link", dir);
	fd = bpf_obj_get(path);
	if (fd >= 0) {
		if (bpf_link_detach(fd)) {
			snprintf(err, errlen, "cannot detach %s: %s", path, strerror(errno));
			rc = -errno;
		}
		close(fd);
		if (rc)
			return rc;
	} else if (errno != ENOENT) {
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return -errno;
	}
	d = opendir(dir);
	if (!d) {
		snprintf(err, errlen, "nothing to unload for %s (%s: %s)", ifname, dir,
			 strerror(errno));
		return -errno;
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (unlink(path) && !rc) {
			snprintf(err, errlen, "cannot remove %s: %s", path, strerror(errno));
			rc = -errno;
		}
	}
	closedir(d);
	if (!rc && rmdir(dir)) {
		snprintf(err, errlen, "cannot remove %s: %s", dir, strerror(errno));
		rc = -errno;
	}
	rmdir(LOADER_PIN_ROOT);
	return rc;
}
