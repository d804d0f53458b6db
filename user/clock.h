/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The two clocks lbd reads: the wall clock, in ms since the epoch, for times
 * that outlive the process (the state file, what lbctl shows), and
 * CLOCK_MONOTONIC for durations and timers.
 */
#ifndef LB_CLOCK_H
#define LB_CLOCK_H

#include <time.h>
#include <linux/types.h>

static inline __u64 clock_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (__u64)ts.tv_sec * 1000 + (__u64)ts.tv_nsec / 1000000;
}

static inline __u64 clock_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000 + (__u64)ts.tv_nsec / 1000;
}

#endif /* LB_CLOCK_H */
