/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The runtime state model: the one owner of what every VIP and backend
 * should be doing. Each backend has three layers:
 *
 *  - config:   the file's "state" and "weight" (struct config_backend);
 *  - operator: a runtime override of the state and/or the weight, set over
 *              the control socket and kept across restarts;
 *  - health:   unknown, up or down, since when and why, from the checks.
 *
 * state_precedence() and state_vip_resolve() turn them into an effective
 * state: in the table with a weight, draining (out of the table, its flows
 * stay) or out (its flows are placed again). The table writer (apply.c)
 * reads only effective states; readers (log, control socket, metrics) read
 * all of it. docs/operations.md has the precedence in prose.
 *
 * Nothing here touches the kernel or the clock: times come in as
 * arguments, so every rule is a pure function with table-driven tests.
 */
#ifndef LB_STATE_H
#define LB_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#include "config.h"

#define STATE_REASON_MAX	96

enum state_health {
	STATE_HEALTH_UNKNOWN = 0,	/* never checked: counts as up */
	STATE_HEALTH_UP,
	STATE_HEALTH_DOWN,
};

enum state_eff {
	STATE_IN = 0,		/* in the table, with its effective weight */
	STATE_DRAINING,		/* out of the table; flows on it stay */
	STATE_OUT,		/* out of the table; flows on it are placed again */
};

/* What the operator set. A field without its has_ flag is not overridden. */
struct state_override {
	bool has_state;
	bool has_weight;
	enum config_backend_state state;
	__u32 weight;		/* 1 .. MAGLEV_WEIGHT_MAX */
	__u64 since_ms;		/* wall clock, ms since the epoch */
};

struct state_health_info {
	enum state_health health;
	__u64 since_ms;		/* wall clock of the last change; 0: never */
	char reason[STATE_REASON_MAX];	/* why it last changed, e.g. "refused" */
	/* The last probe, whatever it changed (not saved). */
	__u64 probe_ms;		/* wall clock; 0: none yet */
	__u32 probe_us;		/* how long it took */
	bool probe_ok;
};

struct state_backend {
	const struct config_backend *cfg;	/* identity and the config layer */
	struct state_override ovr;
	struct state_health_info hl;
	enum state_eff eff;
	__u32 weight;		/* effective weight (meaningful when eff is IN) */
	bool kept;		/* IN only because all_down "keep" holds it there */
};

struct state_vip {
	const struct config_vip *cfg;
	struct state_backend *be;	/* cfg->n_backends, in config order */
	bool all_down;		/* health took every active backend down */
	__u64 all_down_since_ms;
	bool dirty;		/* effective states changed since state_clean() */
};

/* What a change did, for the listener (lbd logs it and schedules work). */
enum state_change_kind {
	STATE_CH_EFFECTIVE = 0x1,	/* an effective state or weight changed */
	STATE_CH_SAVED = 0x2,		/* an override or a health state changed */
	STATE_CH_ALL_DOWN = 0x4,	/* all_down started */
	STATE_CH_RECOVERED = 0x8,	/* all_down ended */
	STATE_CH_NODE = 0x10,		/* the node was drained or undrained (vip: STATE_NODE) */
};

/* The listener's vip for a change of the whole node. */
#define STATE_NODE	((size_t)-1)

struct state;
typedef void (*state_listener_fn)(struct state *st, size_t vip, unsigned int kinds,
				  void *data);

/* A source prefix an operator denied at run time (lbctl block add): kept
 * across reloads and restarts, whatever the config's deny list says. */
struct state_block {
	struct blocklist_rule rule;	/* vip BLOCKLIST_DENY, flags LB_RULE_F_OPERATOR */
	__u64 since_ms;			/* wall clock when added */
};

/* The operator's layer for the whole node: drained, it announces no VIP
 * (lbctl node drain), whatever their backends say. */
struct state_node {
	bool drained;
	__u64 since_ms;		/* wall clock when drained; 0 when not */
};

struct state {
	struct config *cfg;	/* owned */
	struct state_node node;
	struct state_vip *vips;	/* cfg->n_vips, in config order */
	struct state_block *blocks;	/* the operator's deny rules, in the order added */
	size_t n_blocks;
	__u64 generation;	/* configs taken, 1 for the first */
	__u64 config_ms;	/* wall clock when the current config was taken */
	state_listener_fn listener;
	void *listener_data;
};

/* What state_carry() carried over and what it dropped. */
struct state_replace_stats {
	size_t overrides_kept;
	size_t overrides_dropped;	/* the config changed the field overridden */
	size_t health_kept;
};

/* The admin state: the operator's override if any, else the config's. */
enum config_backend_state state_admin(const struct state_backend *b);

/* The effective weight: the operator's override if any, else the config's. */
__u32 state_weight(const struct state_backend *b);

/*
 * The backends of a VIP that could take its new flows if the table were
 * built now from choice and health alone: admin state active (override,
 * else config) and health not down (unknown counts as up, as it does for
 * the table). A draining backend is not one; all_down "keep" does not make
 * one either. What the announcer weighs against the VIP's need.
 */
size_t state_vip_healthy(const struct state_vip *v);

/* Drain or undrain the node; the listener hears STATE_CH_NODE when it
 * changed. Returns whether it did. */
bool state_node_drain(struct state *st, bool drained, __u64 now_ms);

/* The precedence for one backend, leaving all_down aside. */
enum state_eff state_precedence(enum config_backend_state admin, enum state_health health);

/*
 * Recompute every effective state of a VIP from its layers and from the
 * effective states it had (all_down "keep" holds the last set that was in
 * the table). Sets v->dirty and returns STATE_CH_* of what changed.
 */
unsigned int state_vip_resolve(struct state_vip *v, __u64 now_ms);

/* A state for cfg (owned from now on, also on error): health unknown, no
 * overrides. NULL with errno on error. */
struct state *state_new(struct config *cfg, __u64 now_ms);
void state_free(struct state *st);

/*
 * Carry what from knows into to, a fresh state_new() of the next config,
 * and resolve it: VIPs are matched by (address, port, protocol), backends
 * by address. A matched backend keeps its health and its override, except
 * a field of the override whose config value the new config changes (the
 * config speaks last). from is untouched, so a config that cannot be
 * applied leaves the running state as it was. The operator's deny rules
 * and the node's drain go over whole. 0, or -ENOMEM (to is then freed by the caller).
 */
int state_carry(struct state *to, const struct state *from, __u64 now_ms,
		struct state_replace_stats *rs);

/* The index of the operator's deny rule for r's prefix, or -1. */
long state_block_find(const struct state *st, const struct blocklist_rule *r);

/* Add an operator deny rule for r's prefix (not there yet). 0 or -ENOMEM. */
int state_block_add(struct state *st, const struct blocklist_rule *r, __u64 since_ms);

/* Remove the operator deny rule at index i. */
void state_block_del(struct state *st, size_t i);

/* Replace one backend's override (all fields; a zeroed one clears it). */
void state_override_set(struct state *st, size_t vip, size_t be,
			const struct state_override *o, __u64 now_ms);

/* Record a health result. A VIP without a health check ignores it: its
 * backends stay unknown. reason may be NULL. */
void state_health_set(struct state *st, size_t vip, size_t be, enum state_health h,
		      const char *reason, __u64 now_ms);

/* A backend's layers as the state file keeps them. */
struct state_saved {
	enum config_backend_state cfg_state;	/* the config's values when saved */
	__u32 cfg_weight;
	struct state_override ovr;
	struct state_health_info hl;
	bool kept;
};

/*
 * Give a backend of the current config what was saved for it, before
 * state_resolve_all(). The config speaks last: an override of a field
 * whose config value is no longer the saved one is dropped, as
 * state_carry() does. Health is taken only by a checked VIP.
 */
void state_backend_restore(struct state *st, size_t vip, size_t be,
			   const struct state_saved *s, struct state_replace_stats *rs);

/* The node as saved (before state_resolve_all()). */
void state_node_restore(struct state *st, const struct state_node *n);

/* A VIP that was in all_down when saved, since then. */
void state_vip_restore(struct state *st, size_t vip, __u64 all_down_since_ms);

/* Resolve every VIP (after restoring), telling the listener. */
void state_resolve_all(struct state *st, __u64 now_ms);

/* Note a probe's result, which changes no state (state_health_set() does
 * that once the result counts). */
void state_probe_note(struct state *st, size_t vip, size_t be, bool ok, __u32 us, __u64 now_ms);

/* Clear every VIP's dirty flag (the table writer took them). */
void state_clean(struct state *st);

/* The canonical orders of config.h, which are also the identities: VIPs
 * by (family, address, port, protocol), backends by (family, address). */
int state_vip_key_cmp(const struct config_vip *a, const struct config_vip *b);
int state_backend_key_cmp(const struct config_backend *a, const struct config_backend *b);

/* A VIP's identity as text: ADDRESS:PORT/PROTO, IPv6 in brackets. */
void state_vip_key_text(const struct config_vip *v, char *buf, size_t len);

/* Parse that text into key's family, addr, port and proto. */
bool state_vip_key_parse(const char *text, struct config_vip *key);

/* The VIP named name, or written ADDRESS:PORT/PROTO; -1 when none. */
long state_vip_find(const struct state *st, const char *text);

/* The backend of VIP vip at address text (any spelling); -1 when none. */
long state_backend_find(const struct state *st, size_t vip, const char *text);

const char *state_health_name(enum state_health h);
const char *state_eff_name(enum state_eff e);
const char *state_admin_name(enum config_backend_state s);

#endif /* LB_STATE_H */
