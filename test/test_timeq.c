// SPDX-License-Identifier: GPL-2.0-only
/* The queue of times that health checks and probes keep their timers in. */
#include <stdbool.h>
#include <stdint.h>

#include <criterion/criterion.h>

#include "timeq.h"

/*
 * Against a sorted list: random times in, entries moved and taken out
 * from anywhere, as lbd does with its targets and probes; after each step
 * the first is the least due.
 */
Test(timeq, keeps_the_earliest_first)
{
	enum { N = 500 };
	static struct timeq_slot e[N];
	struct timeq s = { 0 };
	bool in[N] = { false };
	__u32 seed = 7;
	size_t i, step;

	for (i = 0; i < N; i++) {
		seed = seed * 1103515245 + 12345;
		e[i].due_us = seed % 100000;
		cr_assert_eq(timeq_add(&s, &e[i]), 0);
		in[i] = true;
	}
	for (step = 0; step < 5000; step++) {
		__u64 least = UINT64_MAX;

		seed = seed * 1103515245 + 12345;
		i = seed % N;
		if (in[i] && step % 3 == 0) {
			timeq_del(&s, &e[i]);
			in[i] = false;
		} else if (in[i]) {
			e[i].due_us += seed % 3000;
			timeq_moved(&s, &e[i]);
		} else {
			cr_assert_eq(timeq_add(&s, &e[i]), 0);
			in[i] = true;
		}
		for (i = 0; i < N; i++)
			if (in[i] && e[i].due_us < least)
				least = e[i].due_us;
		if (least == UINT64_MAX)
			cr_assert_null(timeq_first(&s));
		else
			cr_assert_eq(timeq_first(&s)->due_us, least, "step %zu", step);
	}
	timeq_free(&s);
}

/* Taking out an entry that is not in the schedule changes nothing. */
Test(timeq, ignores_strangers)
{
	struct timeq_slot a = { .due_us = 5 }, b = { .due_us = 3, .pos = 0 };
	struct timeq s = { 0 };

	cr_assert_eq(timeq_add(&s, &a), 0);
	timeq_del(&s, &b);
	cr_assert_eq(timeq_first(&s), &a);
	timeq_free(&s);
}

/* Room made ahead: adding then cannot fail. */
Test(timeq, reserve)
{
	struct timeq_slot e[100];
	struct timeq q = { 0 };
	size_t i;

	cr_assert_eq(timeq_reserve(&q, 100), 0);
	cr_assert_geq(q.cap, 100);
	for (i = 0; i < 100; i++) {
		e[i].due_us = 100 - i;
		cr_assert_eq(timeq_add(&q, &e[i]), 0);
	}
	cr_assert_eq(timeq_first(&q), &e[99]);
	timeq_free(&q);
}

static int never(sd_event_source *s, uint64_t usec, void *data)
{
	return 0;
}

/* The loop timer follows the earliest entry, and sleeps when none is left. */
Test(timeq, arm_follows_the_first)
{
	struct timeq_slot a = { .due_us = 900 }, b = { .due_us = 400 };
	struct timeq q = { 0 };
	sd_event_source *src;
	sd_event *loop;
	uint64_t at;
	int on;

	cr_assert_geq(sd_event_new(&loop), 0);
	cr_assert_geq(sd_event_add_time(loop, &src, CLOCK_MONOTONIC, 1, 0, never, NULL), 0);
	cr_assert_eq(timeq_add(&q, &a), 0);
	cr_assert_eq(timeq_add(&q, &b), 0);
	timeq_arm(&q, src);
	sd_event_source_get_time(src, &at);
	sd_event_source_get_enabled(src, &on);
	cr_assert_eq(at, 400);
	cr_assert_eq(on, SD_EVENT_ONESHOT);
	timeq_del(&q, &b);
	timeq_arm(&q, src);
	sd_event_source_get_time(src, &at);
	cr_assert_eq(at, 900);
	timeq_del(&q, &a);
	timeq_arm(&q, src);
	sd_event_source_get_enabled(src, &on);
	cr_assert_eq(on, SD_EVENT_OFF);
	sd_event_source_unref(src);
	sd_event_unref(loop);
	timeq_free(&q);
}
