// SPDX-License-Identifier: GPL-2.0-only
#include "flows.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "flowtab.h"
#include "lb_clock.skel.h"

#define HZ_SPIN_NS	200000000ULL	/* give up measuring after 0.2 s */

struct flows {
	int flow_table;
	struct lb_clock *clock;
	unsigned int hz;	/* 0 until measured */
};

struct flows *flows_new(int flow_table_fd)
{
	struct flows *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->flow_table = flow_table_fd;
	f->clock = lb_clock__open_and_load();
	if (!f->clock) {
		int err = errno;

		free(f);
		errno = err;
		return NULL;
	}
	return f;
}

void flows_free(struct flows *f)
{
	if (!f)
		return;
	lb_clock__destroy(f->clock);
	free(f);
}

static int clock_read(struct flows *f, struct lb_clock_reading *c)
{
	unsigned char frame[64] = { 0 };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame, .data_size_in = sizeof(frame),
		    .repeat = 1);
	__u32 zero = 0;

	if (bpf_prog_test_run_opts(bpf_program__fd(f->clock->progs.lb_clock), &opts))
		return -errno;
	return bpf_map_lookup_elem(bpf_map__fd(f->clock->maps.lb_clock_now), &zero, c) ? -errno
										   : 0;
}

/* The first reading after jiffies moves on from c->jiffies. */
static int tick_edge(struct flows *f, struct lb_clock_reading *c, __u64 deadline_ns)
{
	__u64 from = c->jiffies;
	int rc;

	do {
		rc = clock_read(f, c);
		if (rc)
			return rc;
		if (c->mono_ns > deadline_ns)
			return -ETIMEDOUT;
	} while (c->jiffies == from);
	return 0;
}

/* The kernel builds with HZ 100, 250, 300 or 1000: the nearest by period. */
static unsigned int hz_snap(__u64 period_ns)
{
	static const unsigned int known[] = { 100, 250, 300, 1000 };
	unsigned int best = known[0];
	__u64 d, best_d = ~0ULL;
	size_t i;

	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		__u64 want = 1000000000ULL / known[i];

		d = period_ns > want ? period_ns - want : want - period_ns;
		if (d < best_d) {
			best_d = d;
			best = known[i];
		}
	}
	return best;
}

int flows_hz(struct flows *f, unsigned int *hz)
{
	struct lb_clock_reading c, first;
	int rc;

	if (!f->hz) {
		rc = clock_read(f, &c);
		if (!rc)
			rc = tick_edge(f, &c, c.mono_ns + HZ_SPIN_NS);
		first = c;
		if (!rc)
			rc = tick_edge(f, &c, first.mono_ns + HZ_SPIN_NS);
		if (rc)
			return rc;
		f->hz = hz_snap((c.mono_ns - first.mono_ns) / (c.jiffies - first.jiffies));
	}
	*hz = f->hz;
	return 0;
}

/* Jiffies now, and the age of a time in jiffies, in ms. */
static int now_jiffies(struct flows *f, __u64 *now, unsigned int *hz)
{
	struct lb_clock_reading c;
	int rc = flows_hz(f, hz);

	if (!rc)
		rc = clock_read(f, &c);
	if (!rc)
		*now = c.jiffies;
	return rc;
}

/* Entries keep the low 32 bits of jiffies: an age in ticks is the
 * difference of two such times, right for anything younger than 2^32
 * ticks (49 days at HZ 1000) less a second. A time up to a second ahead
 * of now is an entry written after now was read: no age. Read as signed,
 * an entry idle for over 2^31 ticks would look that new, and active. */
static __u32 age_ticks(__u32 now, __u32 then, unsigned int hz)
{
	__u32 d = now - then;

	return d > 0xffffffffu - hz ? 0 : d;
}

static __u64 age_ms(__u64 now, __u32 then, unsigned int hz)
{
	return (__u64)age_ticks((__u32)now, then, hz) * 1000 / hz;
}

struct count_walk {
	__u32 *counts;
	__u32 now;
	unsigned int hz;
	__u64 idle;		/* jiffies: seen within this of now is active */
};

static int count_one(const struct lb_flow_slot *e, void *data)
{
	struct count_walk *w = data;

	if (age_ticks(w->now, e->seen, w->hz) <= w->idle)
		w->counts[e->tag_id & LB_FLOW_ID_MASK]++;
	return 0;
}

int flows_count(struct flows *f, __u32 idle_ms, __u32 *counts)
{
	struct count_walk w = { .counts = counts };
	unsigned int hz;
	__u64 now;
	int rc = now_jiffies(f, &now, &hz);

	memset(counts, 0, LB_MAX_BACKENDS * sizeof(*counts));
	if (rc)
		return rc;
	w.now = (__u32)now;
	w.hz = hz;
	w.idle = (__u64)idle_ms * hz / 1000;
	return flowtab_walk(f->flow_table, count_one, &w);
}

int flows_lookup(struct flows *f, const struct lb_flow_key *k, __u32 *backend_id, __u64 *age)
{
	struct lb_flow_slot e;
	unsigned int hz;
	__u64 now;
	int rc = now_jiffies(f, &now, &hz);

	if (!rc)
		rc = flowtab_lookup(f->flow_table, k, &e);
	if (rc)
		return rc;
	*backend_id = (__u32)(e.tag_id & LB_FLOW_ID_MASK);
	*age = age_ms(now, e.seen, hz);
	return 0;
}
