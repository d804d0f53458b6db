/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Health checks: a service on lbd's loop that probes backends and tells
 * the state model what it learns. A target is one check of one address:
 * a backend that several VIPs list with the same check (kind, port, path,
 * timing) is probed once, and its result goes to every (VIP, backend) it
 * feeds. A tunnel check's target is one check of a (VIP address, backend)
 * pair: it connects to the VIP, in that backend's tunnel. Each target has
 * its own schedule: first probes are spread over the interval so
 * thousands of targets never fire together, and later ones start every
 * interval, whatever the last one took. One timer serves them all, at the
 * earliest start in a queue of times (timeq.h).
 *
 * A backend goes down after `fall` failures in a row and up after `rise`
 * successes in a row (hc_step()); each change is logged once, with its
 * reason, and set in the state model, which applies it.
 */
#ifndef LB_HEALTH_H
#define LB_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include <systemd/sd-event.h>

#include "metrics.h"
#include "state.h"
#include "timeq.h"

/* The run of results a target has seen. */
struct hc_run {
	enum state_health health;
	__u32 ok;		/* successes in a row */
	__u32 fail;		/* failures in a row */
};

/* One result into the run; returns the health after it (a change when it
 * differs from the one before). From unknown as from the other state:
 * rise successes make it up, fall failures down. */
enum state_health hc_step(struct hc_run *r, bool ok, __u32 rise, __u32 fall);

/* When a new target first probes, in CLOCK_MONOTONIC us: within an
 * interval of now, spread by rnd. */
__u64 hc_first_start(__u64 now_us, __u32 interval_ms, __u32 rnd);

/* When the one after a probe started at start_us does: a fixed rate, so a
 * failure is seen within fall x interval + timeout; never in the past. */
__u64 hc_next_start(__u64 start_us, __u32 interval_ms, __u64 now_us);

struct health;

/* NULL with errno on error. */
struct health *health_new(sd_event *loop);
void health_free(struct health *h);

/*
 * Probe what st's config asks for: targets that stay keep their runs and
 * timers, new ones start (from the health st already has: a restart
 * resumes the saved health), gone ones stop. Results go to st until the
 * next call. 0 or -ENOMEM (then the old targets stay).
 */
int health_config(struct health *h, struct state *st);

/*
 * Tunnel checks ("via": "tunnel") connect to the VIP with their socket
 * marked LB_PROBE_MARK | the backend's data path id, which id_of gives
 * for a (VIP, backend) of the config by index (LB_BACKEND_INVALID: none
 * yet; that probe is skipped), and bound to ifname, where lb_probe wraps
 * their packets. Without this, tunnel checks are skipped.
 */
typedef __u32 (*health_id_fn)(size_t vip, size_t be, void *data);
void health_tunnel_set(struct health *h, const char *ifname, health_id_fn id_of, void *data);

/*
 * What the checks counted. lbd keeps them in a pinned map (pincount.c), so
 * that like the data path's they go on across its restarts; the first
 * field tells the layout, to be changed with it.
 */
#define HEALTH_COUNTERS_LAYOUT	0x736c6863ULL	/* "slhc", version 0 */

struct health_counters {
	__u64 layout;		/* HEALTH_COUNTERS_LAYOUT */
	__u64 probes;		/* probes finished */
	/* How long they took, by enum config_hc_type. */
	struct metrics_hist probe_us[CONFIG_HC_HTTPS + 1];
	/* Changes of a target's health, by enum state_health it went to:
	 * each change logged at info or warn (unknown -> up changes nothing
	 * and is not counted). */
	__u64 changes[3];
};

/* Count into c from now on (what was counted before is dropped), instead
 * of into memory of h's own; c lives at least as long as h. */
void health_counters_use(struct health *h, struct health_counters *c);

struct health_stats {
	size_t targets;		/* distinct checks being run */
	size_t feeds;		/* (VIP, backend) pairs they feed */
	struct health_counters counted;
};

void health_stats_get(const struct health *h, struct health_stats *hs);

#endif /* LB_HEALTH_H */
