/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * lbd's own counters in bpffs: one value of an mmapable BPF array, pinned
 * beside the data path's maps. lbd counts straight into the mapping (no
 * system call per count), and a restarted lbd maps the same value again,
 * so its counters, like the data path's, do not go back when it restarts.
 * `lbd --unload` removes the pin with the others.
 */
#ifndef LB_PINCOUNT_H
#define LB_PINCOUNT_H

#include <stddef.h>
#include <linux/types.h>

/*
 * The counters pinned at dir/name, size bytes whose first __u64 is layout:
 * taken over if the pin has that size and layout; else (none, or another
 * size or layout, from another version) made anew, zeroed, with layout set.
 * The mapping, or NULL with err set (nothing pinned then).
 */
void *pincount_open(const char *dir, const char *name, size_t size, __u64 layout, char *err,
		    size_t errlen);

void pincount_close(void *counters, size_t size);

#endif /* LB_PINCOUNT_H */
