/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A queue of times: a binary min-heap of entries by due time, so that a
 * service holds one loop timer, at the earliest entry, for thousands of
 * them (sd-event runs a loop iteration per timer that fires, and its
 * timers cost it more to move than this). Health checks keep every
 * target's next start in one, and probes their deadlines in another.
 * Entries belong to their owners; the heap holds each one's due time
 * beside a pointer to it and tells each entry its place, so any entry can
 * leave in O(log n). The times are in the heap itself because the owners
 * lie all over memory: comparing through the pointers was a cache miss
 * per step, and the biggest of lbd's own costs at 10,000 probes a second
 * (docs/performance.md).
 */
#ifndef LB_TIMEQ_H
#define LB_TIMEQ_H

#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
#include <systemd/sd-event.h>

struct timeq_slot {
	__u64 due_us;		/* CLOCK_MONOTONIC */
	size_t pos;		/* the queue's to keep; SIZE_MAX: in none */
	void *data;
};

struct timeq_ent {
	__u64 due_us;		/* a copy of slot->due_us */
	struct timeq_slot *slot;
};

struct timeq {
	struct timeq_ent *v;
	size_t n, cap;
};

/* 0 or -ENOMEM. */
int timeq_add(struct timeq *q, struct timeq_slot *e);
/* Room for n entries, so that adding up to n cannot fail: 0 or -ENOMEM. */
int timeq_reserve(struct timeq *q, size_t n);
/* Takes e out if it is in q. */
void timeq_del(struct timeq *q, struct timeq_slot *e);
/* After e->due_us changed: the queue sees the change only then. */
void timeq_moved(struct timeq *q, struct timeq_slot *e);
/* The earliest, or NULL. */
struct timeq_slot *timeq_first(const struct timeq *q);
void timeq_free(struct timeq *q);
/* The loop timer src made to fire at the earliest entry, once; off when
 * q is empty. */
void timeq_arm(const struct timeq *q, sd_event_source *src);

#endif /* LB_TIMEQ_H */
