/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The table writer: builds VIPs' Maglev tables and installs them in
 * vip_tables, many at once. It remembers what each installed table was
 * built from, so a table whose backends, weights and size did not change
 * is neither built nor written again; after a start, when it remembers
 * nothing, it reads the installed table once and compares.
 *
 * Tables are queued and installed TABLES_BATCH at a time in one batched
 * map update (datapath_tables_install()): the kernel then waits once for
 * the programs that might still read the old tables, not once a table.
 */
#ifndef LB_TABLES_H
#define LB_TABLES_H

#include <stddef.h>
#include <linux/types.h>

#include "maglev.h"

/* Tables held open between being built and being installed: bounded, so
 * a reload of thousands of VIPs does not hold thousands of descriptors. */
#define TABLES_BATCH	256

struct tables_stats {
	size_t swapped;		/* tables installed with backends */
	size_t emptied;		/* empty tables installed (no backend in) */
	size_t batches;		/* batched updates made */
};

struct tables;

/* NULL with errno on error. */
struct tables *tables_new(int vip_tables_fd);
void tables_free(struct tables *t);

/*
 * vip_id's table should be built from mb[0..n-1] with size slots, or be
 * empty when n is 0. Builds and queues it unless the installed table was
 * built from the same. mb is in canonical order (by family, address), as
 * config.c sorts backends. 0, or -errno with a reason in err.
 */
int tables_set(struct tables *t, __u32 vip_id, const struct maglev_backend *mb, size_t n,
	       __u32 size, char *err, size_t errlen);

/* Install everything queued. 0, or -errno with a reason in err; the tables
 * not installed are forgotten (read again next time). */
int tables_flush(struct tables *t, char *err, size_t errlen);

/* Forget what vip_id's table was built from: it is read again when next
 * set (its id was released, or a write may have half-failed). */
void tables_forget(struct tables *t, __u32 vip_id);

/* Each backend id's slots in the tables installed (slots: LB_MAX_BACKENDS
 * entries; ids in no table are left alone). Known from building them, so
 * no table is read; a table not written since a start is known once
 * tables_set() compared it. */
void tables_slots(const struct tables *t, __u32 *slots);

/* What was installed since tables_new() or the last call, then zeroed. */
void tables_stats_take(struct tables *t, struct tables_stats *ts);

#endif /* LB_TABLES_H */
