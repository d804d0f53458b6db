/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * lbd's own state, shared by its files: lbd.c (start, signals, reload,
 * the state model's changes and the state file), lbd_nexthop.c (following
 * the gateway's MAC), lbd_control.c (what the control socket asks of lbd)
 * and lbd_systemd.c (what systemd is told). Nothing outside lbd includes
 * it.
 */
#ifndef LB_LBD_H
#define LB_LBD_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include <systemd/sd-event.h>
#include <jansson.h>

struct MHD_Daemon;

#include "apply.h"
#include "blocklist.h"
#include "config.h"
#include "control.h"
#include "flows.h"
#include "health.h"
#include "loader.h"
#include "metrics.h"
#include "nexthop.h"
#include "routes.h"
#include "state.h"
#include "tunprobe.h"

#define EXIT_USAGE	2
#define EXIT_CONFIG	78	/* EX_CONFIG */

#define RETRY_USEC	1000000ULL	/* failed reads and writes, again after */
#define SAVE_USEC	1000000ULL	/* state changes reach the file within */

struct lbd {
	const char *config_path;
	sd_event *loop;
	struct state *st;	/* the state model; owns the running config */
	char *cfg_text;		/* the bytes the running config was parsed from */
	size_t cfg_len;
	struct loader ld;
	struct apply_maps maps;
	struct apply *ap;
	struct apply_env env;	/* env.next_hop: the MAC last written to lb_cfg */
	struct nexthop *nh;
	sd_event_source *nh_io;
	sd_event_source *retry;	/* one timer for every retry below */
	sd_event_source *apply_ev;	/* deferred: the state model's changes */
	sd_event_source *save_ev;	/* timer: the state file */
	struct flows *flows;
	struct blocklist *bl;
	struct blocklist_rule *bl_rules;	/* the config's rules last written */
	size_t bl_n;
	struct health *health;
	struct health_counters *hc;	/* pinned (pincount.c); NULL: health's own */
	struct tunprobe *tp;	/* lb_probe, while the config has a tunnel check */
	struct control *ctl;
	struct routes *routes;	/* the VIP routes, while the config has "announce" */
	sd_event_source *routes_io;
	sd_event_source *announce_ev;	/* deferred: bring the routes in line */
	struct route_dst *ann_want;	/* what the last sync was asked for */
	size_t ann_n;
	bool ann_have_want;	/* ann_want is known */
	bool announce_failing;	/* a route write failed: retried */
	struct control_access acc;	/* the config's groups, by id */
	__u64 started_ms;
	char state_note[360];	/* the state file at start: what became of it */
	char status_sent[256];	/* the last STATUS= systemd was told */
	__u64 reload_ms;	/* wall clock of the last config offered; 0: none */
	bool reload_ok;		/* and whether it was applied */
	struct MHD_Daemon *mhd;	/* metrics; NULL: off */
	sd_event_source *mhd_io, *mhd_timer;
	struct metrics_buf metrics_spare;	/* the last scrape's text, for the next */
	bool full_due;		/* a full apply failed: retry it */
	bool save_due;
	bool save_failing;
	bool read_failing;	/* failures are logged once per streak */
	bool write_failing;
};

/* lbd.c */
/* Tick the retry timer while something owes a retry, and only then. */
void lbd_retry_arm(struct lbd *d);
/* Apply what the state model changed (dirty VIPs, or in full if owed). */
void lbd_apply_changes(struct lbd *d);
/* Write the state file now. */
void lbd_save_now(struct lbd *d);
/* Write the running state's block lists (config and operator) whole.
 * 0 or -errno (logged). */
int lbd_blocks_write(struct lbd *d, const char *why);
/* Switch to a new config (see lbd.c). */
int lbd_config_switch(struct lbd *d, struct config *cfg, char *text, size_t len,
		      const char *why, struct apply_stats *as, char *err, size_t errlen);

/* lbd_systemd.c: sd_notify(3) */
void lbd_notify_ready(struct lbd *d);
void lbd_notify_status(struct lbd *d);
void lbd_notify_reloading(struct lbd *d);
void lbd_notify_stopping(void);

/* lbd_metrics.c: Prometheus metrics, when metrics_listen is set. 0, or
 * EXIT_FAILURE (logged). */
int lbd_metrics_start(struct lbd *d);
void lbd_metrics_stop(struct lbd *d);

/* lbd_nexthop.c */
const char *lbd_mac_text(const __u8 mac[6]);
int lbd_next_hop_start(struct lbd *d, const struct config *cfg);
void lbd_next_hop_stop(struct lbd *d);
void lbd_next_hop_follow(struct lbd *d, const struct config *cfg, const char *why);
/* lb_cfg may not hold env.next_hop: have it written again. */
void lbd_next_hop_unwritten(struct lbd *d);
/* What nexthop_process() or nexthop_retry() returned. */
void lbd_next_hop_result(struct lbd *d, int rc);

/* lbd_announce.c */
/* Follow cfg's "announce": 0, or -errno (logged). */
int lbd_announce_config(struct lbd *d, const struct config *cfg);
void lbd_announce_stop(struct lbd *d);
/* Bring the routes in line with the state model now / once this loop
 * iteration's events are in. */
void lbd_announce_now(struct lbd *d);
void lbd_announce_soon(struct lbd *d);
bool lbd_announce_retry_due(const struct lbd *d);
/* For the control socket: one VIP's announcement, the node's. */
json_t *lbd_announce_vip_json(const struct lbd *d, size_t vip);
json_t *lbd_announce_node_json(const struct lbd *d);

/* lbd_control.c */
/* The config's groups by id into acc: 0, or EXIT_CONFIG (logged). */
int lbd_access_resolve(const struct config *cfg, struct control_access *acc);
/* Listen on the control socket: 0 or an exit code (logged). */
int lbd_control_start(struct lbd *d);

#endif /* LB_LBD_H */
