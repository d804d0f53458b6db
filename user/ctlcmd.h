/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The control socket's commands: one JSON request in, one JSON reply out
 * (docs/control-api.md). Reads come from the read model and the state
 * model; changes go to the state model as operator overrides, and are
 * applied and saved before the reply (env->commit). The socket itself
 * (framing, clients, permissions) is control.c's.
 */
#ifndef LB_CTLCMD_H
#define LB_CTLCMD_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include <jansson.h>

#include "apply.h"
#include "flows.h"
#include "state.h"

/* Why a request failed; each has a name on the wire and an lbctl exit code. */
enum ctl_code {
	CTL_OK = 0,
	CTL_BAD_REQUEST,	/* malformed, unknown command or key, bad value */
	CTL_NOT_FOUND,		/* no such VIP or backend */
	CTL_PERMISSION,		/* the peer may not do this */
	CTL_TIMEOUT,		/* drain --wait: flows left when the time ran out */
	CTL_CONFLICT,		/* the backend changed under a wait */
	CTL_FAILED,		/* lbd could not do it (the kernel refused a write) */
	CTL_BAD_CONFIG,		/* a config that does not validate: "errors" lists why */
};

const char *ctl_code_name(enum ctl_code code);

struct ctl_reply;

/* What the commands read and change, from lbd. */
struct ctl_env {
	const struct apply_maps *maps;
	struct apply *ap;
	struct flows *flows;
	struct state *(*state)(void *data);			/* the running state */
	int (*commit)(void *data, char *err, size_t errlen);	/* apply and save now */
	json_t *(*status)(void *data);				/* lbd's own facts */
	/* Apply a config's text as a reload would, then make it the config
	 * file's: the result, or the failure in r. */
	void (*config_apply)(void *data, const char *text, size_t len, const char *name,
			     struct ctl_reply *r);
	/* The running config's bytes and file. */
	const char *(*config_text)(void *data, size_t *len, const char **path);
	/* Add or remove an operator deny rule (r's family, plen and addr),
	 * applied and saved: 0; -EEXIST (add: the operator has it already);
	 * -ENOENT (remove: the operator has no such rule); -ENOSPC (the
	 * lists are full); -EIO with err set (applied, but not saved);
	 * -errno (nothing changed). */
	int (*block)(void *data, bool add, const struct blocklist_rule *r, char *err,
		     size_t errlen);
	/* Every rule in the maps with its counter, as blocklist_list(). */
	int (*blocks)(void *data, struct blocklist_rule **rules, size_t *n);
	/* Drain or undrain the node (withdraw or announce its VIPs), saved
	 * and brought to the routes before it returns: 0, or -EIO with why
	 * in err (the state changed all the same; lbd retries the routes). */
	int (*node_drain)(void *data, bool drained, char *err, size_t errlen);
	/* The node's drain and announcing, and one VIP's announcement
	 * (docs/control-api.md). */
	json_t *(*node_json)(void *data);
	json_t *(*vip_announce_json)(void *data, size_t vip);
	void *data;
};

#define CTL_MSG_MAX		512
#define CTL_WAIT_TIMEOUT_S	300	/* drain --wait gives up after, by default */
#define CTL_IDLE_S		30	/* a flow not seen for this long is over */

/* A drain that waits for the backend's flows to end. */
struct ctl_wait {
	char vip[128];
	char backend[64];
	__u64 started_ms, deadline_ms;	/* wall clock */
	__u32 idle_ms;
};

struct ctl_reply {
	enum ctl_code code;
	char msg[CTL_MSG_MAX];
	json_t *result;		/* CTL_OK: owned by the caller */
	json_t *errors;		/* CTL_BAD_CONFIG: the config's error lines */
	bool pending;		/* CTL_OK, no result yet: poll the wait */
};

/*
 * Run one request (a JSON object with "cmd"). fd: a file the peer sent
 * with it (the config of config.validate, .diff and .apply), or -1.
 * admin: the peer may make changes; who names it in the log ("uid 0 pid
 * 42"). A drain with "wait" fills w and sets r->pending.
 */
void ctl_run(const struct ctl_env *env, json_t *req, int fd, bool admin, const char *who,
	     struct ctl_reply *r, struct ctl_wait *w);

/* Poll a wait: false while flows are left and time remains; true with the
 * reply otherwise. */
bool ctl_wait_poll(const struct ctl_env *env, const struct ctl_wait *w, __u64 now_ms,
		   struct ctl_reply *r);

/* The reply as one JSON object: {"ok": true, "result": ...} or
 * {"ok": false, "error": MSG, "code": NAME, "errors"?: [...]}. Takes
 * r->result and r->errors. */
json_t *ctl_reply_json(struct ctl_reply *r);

#endif /* LB_CTLCMD_H */
