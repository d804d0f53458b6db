/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * lbd's Prometheus metrics, rendered as text exposition format 0.0.4 from
 * the read model and the state model: what a scrape returns. The HTTP side
 * is lbd_metrics.c's; this file only writes text, so tests can check it
 * without a listener.
 *
 * Names follow Prometheus conventions: the sluice_ prefix, _total for
 * counters, base units (bytes, seconds). Counters come from the pinned
 * maps, so they survive restarts of lbd.
 */
#ifndef LB_METRICS_H
#define LB_METRICS_H

#include <stdbool.h>
#include <linux/types.h>

#include "apply.h"
#include "readmodel.h"
#include "state.h"

/*
 * A histogram of durations in the buckets every sluice duration histogram
 * uses: 13 bounds from 0.5 ms to 5 s (metrics.c), then +Inf. Counts are per
 * bucket, not cumulative; the text makes them cumulative.
 */
#define METRICS_HIST_BUCKETS	14

struct metrics_hist {
	__u64 n[METRICS_HIST_BUCKETS];
	__u64 sum_us;
};

/* One duration of us microseconds, counted. */
void metrics_hist_note(struct metrics_hist *h, __u64 us);

/* What lbd knows beside the models. */
struct metrics_facts {
	const char *version;
	const char *program_tag;	/* the balancer program's tag, hex */
	__u64 reload_ms;		/* wall clock of the last reload attempt; 0: none */
	bool reload_ok;			/* that attempt was applied */
	bool maps_ok;			/* no map write is owed (no retry pending) */
	__u32 block_rules[3];		/* deny4, deny6, allow */
	__u64 probes;			/* health probes run since lbd started */
	/* How long they took, by enum config_hc_type (none: never counted). */
	struct metrics_hist probe_us[CONFIG_HC_HTTPS + 1];
	/* Health changes of checked targets, by the state they went to (enum
	 * state_health; unknown: never counted). */
	__u64 health_changes[3];
	/* Per config VIP: its address's route is in the announce table; NULL
	 * when the config announces nothing (the rows are then left out). */
	const bool *announced;
	bool routes_ok;			/* no route write is owed */
};

/*
 * A scrape's text: len bytes at p, in cap bytes of malloc'd room. Its
 * owner keeps it from one scrape to the next and hands it back: 27 MB
 * written into fresh memory cost a page fault every 4 KiB, nine tenths of
 * a scrape's CPU (docs/performance.md).
 */
struct metrics_buf {
	char *p;
	size_t len, cap;
};

void metrics_buf_free(struct metrics_buf *b);

/*
 * Every metric, into out (its room reused, grown as needed). slots and
 * flows are per backend id (LB_MAX_BACKENDS entries): table slots and
 * active flows; NULL leaves those metrics out. 0, or -ENOMEM (out keeps
 * its room, len 0).
 */
int metrics_render(struct metrics_buf *out, const struct readmodel *rm,
		   const struct state *st, const struct apply *ap, const __u32 *slots,
		   const __u32 *flows, const struct metrics_facts *facts);

/*
 * A whole scrape: read the counters (readmodel_read()), the table slots
 * (apply_slots()), and render them with flows (per backend id, or NULL)
 * into out, as metrics_render(). 0 or -errno.
 */
int metrics_scrape(const struct apply_maps *m, const struct apply *ap, const struct state *st,
		   const __u32 *flows, const struct metrics_facts *facts,
		   struct metrics_buf *out);

#endif /* LB_METRICS_H */
