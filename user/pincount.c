// SPDX-License-Identifier: GPL-2.0-only
#include "pincount.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include <bpf/bpf.h>

static size_t map_len(size_t size)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	return (size + page - 1) / page * page;
}

/* The pin's descriptor if it is an mmapable array of one such value. */
static int pin_take(const char *path, size_t size)
{
	struct bpf_map_info info;
	__u32 len = sizeof(info);
	int fd = bpf_obj_get(path);

	if (fd < 0)
		return -1;
	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len) || info.type != BPF_MAP_TYPE_ARRAY ||
	    info.value_size != size || info.max_entries != 1 ||
	    !(info.map_flags & BPF_F_MMAPABLE)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* A new map pinned at path in place of whatever was there: pinned under
 * a temporary name, then renamed, so the path never names nothing. */
static int pin_make(const char *path, const char *name, size_t size, char *err, size_t errlen)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_MMAPABLE);
	char tmp[320];
	int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, name, sizeof(__u32), (__u32)size, 1, &opts);

	if (fd < 0) {
		snprintf(err, errlen, "cannot create map %s: %s", name, strerror(errno));
		return -1;
	}
	snprintf(tmp, sizeof(tmp), "%s_new", path);	/* bpffs refuses dots */
	unlink(tmp);
	if (bpf_obj_pin(fd, tmp) || rename(tmp, path)) {
		snprintf(err, errlen, "cannot pin %s: %s", path, strerror(errno));
		unlink(tmp);
		close(fd);
		return -1;
	}
	return fd;
}

void *pincount_open(const char *dir, const char *name, size_t size, __u64 layout, char *err,
		    size_t errlen)
{
	char path[300];
	__u64 *c;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = pin_take(path, size);
	if (fd < 0)
		fd = pin_make(path, name, size, err, errlen);
	if (fd < 0)
		return NULL;
	c = mmap(NULL, map_len(size), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (c == MAP_FAILED) {
		snprintf(err, errlen, "cannot map %s: %s", path, strerror(errno));
		return NULL;
	}
	if (c[0] != layout) {
		memset(c, 0, size);
		c[0] = layout;
	}
	return c;
}

void pincount_close(void *counters, size_t size)
{
	if (counters)
		munmap(counters, map_len(size));
}
