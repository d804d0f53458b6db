/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The state file: what the state model knows that the config does not
 * (operator overrides and deny rules, health, what all_down holds), kept in
 * STATE_DIR/state.json across restarts. Written in one place, atomically
 * (a temporary file, fsync, rename, fsync of the directory), and read
 * once, at start. The format is a documented contract (docs/operations.md).
 */
#ifndef LB_STATEFILE_H
#define LB_STATEFILE_H

#include <stddef.h>
#include <linux/types.h>

#include "state.h"

#define STATEFILE_NAME		"state.json"
#define STATEFILE_FORMAT	1
#define STATEFILE_MAX		(64 * 1024 * 1024)	/* bytes; larger files are not read */

/* What statefile_load() found. */
struct statefile_stats {
	size_t backends;	/* restored */
	size_t forgotten;	/* saved for VIPs or backends the config no longer has */
	size_t blocks;		/* the operator's deny rules */
	struct state_replace_stats rs;
};

/*
 * Write the state of st to dir/state.json, creating dir if needed. The old
 * file stays whole until the new one is complete. 0, or -errno with a
 * reason in err.
 */
int statefile_save(const struct state *st, const char *dir, __u64 now_ms, char *err,
		   size_t errlen);

/*
 * Read dir/state.json into st (then resolved). 0 when restored; -ENOENT
 * when there is no file; otherwise -errno (-EINVAL: not a valid state file)
 * with a reason in err, naming the JSON path or line and column, and st
 * untouched: a file is taken whole or not at all.
 */
int statefile_load(struct state *st, const char *dir, __u64 now_ms,
		   struct statefile_stats *fs, char *err, size_t errlen);

/*
 * Keep a state file statefile_load() refused from the next save: rename
 * it to dir/state.json.unusable-MS (written into name) and sync the
 * directory, so that what it held (a newer release's format, a damaged
 * byte) can still be looked at or put back. 0 or -errno.
 */
int statefile_set_aside(const char *dir, __u64 now_ms, char *name, size_t len);

#endif /* LB_STATEFILE_H */
