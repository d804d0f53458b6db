// SPDX-License-Identifier: GPL-2.0-only
/*
 * What the control socket (control.c, ctlcmd.c) asks of lbd: the running
 * state, an operator's change applied and saved at once, lbd's own facts
 * for status, and a config applied as a reload would, then written to the
 * config file.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clock.h"
#include "fileio.h"
#include "lbd.h"
#include "log.h"

/* control_group and control_admin_group, by id. 0, or EXIT_CONFIG with the
 * reason logged. */
int lbd_access_resolve(const struct config *cfg, struct control_access *acc)
{
	char err[128];

	if (!control_access_resolve(cfg, acc, err, sizeof(err)))
		return 0;
	log_err("%s", err);
	return EXIT_CONFIG;
}

/* ------------------------------------------------------------------ */
/* The control socket: what it asks of lbd */

static struct state *ctl_state(void *data)
{
	return ((struct lbd *)data)->st;
}

/* 0 when the state file is written; else -EIO and what the operator has
 * to know: done says what holds until a restart. */
static int ctl_saved(const struct lbd *d, const char *done, char *err, size_t errlen)
{
	if (!d->save_failing)
		return 0;
	snprintf(err, errlen, "%s, but the state file cannot be written; a restart would "
		 "forget it (lbd's log says why)", done);
	return -EIO;
}

/* An operator's change is in the data path and on disk before lbctl hears
 * back. */
static int ctl_commit(void *data, char *err, size_t errlen)
{
	struct lbd *d = data;

	lbd_apply_changes(d);
	sd_event_source_set_enabled(d->apply_ev, SD_EVENT_OFF);
	if (d->save_due) {
		lbd_save_now(d);
		if (!d->save_failing)
			sd_event_source_set_enabled(d->save_ev, SD_EVENT_OFF);
	}
	if (d->full_due) {
		snprintf(err, errlen, "the change is in lbd's state, but the maps could not be "
			 "written; lbd retries every %llu s (its log says why)",
			 RETRY_USEC / 1000000);
		return -EIO;
	}
	return ctl_saved(d, "the change is in effect", err, errlen);
}

/* What is wrong, one line each, for lbctl status. */
static json_t *degraded(const struct lbd *d)
{
	json_t *a = json_array();
	char line[400];
	size_t i;

	for (i = 0; i < d->st->cfg->n_vips; i++) {
		const struct state_vip *v = &d->st->vips[i];

		if (!v->all_down)
			continue;
		snprintf(line, sizeof(line), "VIP %s: all_down (%s)", v->cfg->name,
			 v->cfg->all_down_drop ? "drop: its new flows are dropped" :
			 "keep: the last backends stay in the table");
		json_array_append_new(a, json_string(line));
	}
	if (d->nh && !memcmp(d->env.next_hop, "\0\0\0\0\0\0", 6))
		json_array_append_new(a, json_string("next hop not resolved"));
	if (d->read_failing || d->write_failing)
		json_array_append_new(a, json_string("next hop: reading or writing it fails; "
						     "retrying"));
	if (d->full_due)
		json_array_append_new(a, json_string("maps: an apply failed; retrying"));
	if (d->announce_failing)
		json_array_append_new(a, json_string("announce: writing the VIP routes fails; "
						     "retrying"));
	if (d->save_failing)
		json_array_append_new(a, json_string("state file: saving fails; retrying"));
	if (!strncmp(d->state_note, "unusable", 8)) {
		snprintf(line, sizeof(line), "state file %s", d->state_note);
		json_array_append_new(a, json_string(line));
	}
	return a;
}

static json_t *ctl_status(void *data)
{
	const struct lbd *d = data;
	const struct config *cfg = d->st->cfg;
	__u64 now = clock_wall_ms();
	struct health_stats hs;
	json_t *nh;

	nh = json_pack("{s:s, s:s, s:b}", "mode", cfg->next_hop_auto ? "auto" : "fixed", "mac",
		       lbd_mac_text(cfg->next_hop_auto ? d->env.next_hop : cfg->next_hop),
		       "resolved", !cfg->next_hop_auto ||
				   memcmp(d->env.next_hop, "\0\0\0\0\0\0", 6));
	if (d->nh)
		json_object_set_new(nh, "gateway", json_string(nexthop_gateway(d->nh)));
	health_stats_get(d->health, &hs);
	return json_pack("{s:s, s:s, s:s, s:i, s:s, s:{s:s, s:I, s:I}, s:I, s:I, s:o, "
			 "s:{s:s, s:s, s:b}, s:{s:i, s:i, s:I}, s:o}",
			 "version", LB_VERSION, "interface", cfg->interface,
			 "xdp_mode", cfg->xdp_generic ? "generic" : "native",
			 "program_id", (int)d->ld.prog_id, "pin_dir", d->ld.pin_dir,
			 "config", "file", d->config_path, "generation",
			 (json_int_t)d->st->generation, "loaded_ms", (json_int_t)d->st->config_ms,
			 "started_ms", (json_int_t)d->started_ms,
			 "uptime_s", (json_int_t)((now - d->started_ms) / 1000),
			 "next_hop", nh,
			 "state_file", "dir", cfg->state_dir, "at_start", d->state_note,
			 "saving", !d->save_failing,
			 "health", "targets", (int)hs.targets, "backends", (int)hs.feeds, "probes",
			 (json_int_t)hs.counted.probes,
			 "degraded", degraded(d));
}

static json_t *applied_json(const struct lbd *d, const struct apply_stats *as)
{
	return json_pack("{s:I, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:s}",
			 "generation", (json_int_t)d->st->generation,
			 "tables_swapped", (int)as->tables_swapped,
			 "tables_emptied", (int)as->tables_removed,
			 "vips_added", (int)as->vips_added, "vips_removed", (int)as->vips_removed,
			 "backends_added", (int)as->backends_added,
			 "backends_changed", (int)as->backends_changed,
			 "backends_retired", (int)as->backends_retired, "file", d->config_path);
}

/* The new config's file, in place of the old: mode kept, replaced whole. */
static int config_file_write(const struct lbd *d, const char *text, size_t len, char *err,
			     size_t errlen)
{
	struct stat sb;
	char what[128];
	mode_t mode = stat(d->config_path, &sb) ? 0644 : sb.st_mode & 07777;
	int rc = fileio_replace_path(d->config_path, text, len, mode, what, sizeof(what));

	if (rc)
		snprintf(err, errlen, "applied, but %s: %s: %s; a restart would read the old file",
			 d->config_path, what, strerror(-rc));
	return rc;
}

/* config.apply: as a reload with these bytes, then the file is theirs. */
static void ctl_config_apply(void *data, const char *text, size_t len, const char *name,
			     struct ctl_reply *r)
{
	struct config_errors errs = { 0 };
	struct lbd *d = data;
	struct apply_stats as = { 0 };
	struct config *cfg = NULL;
	char *own = malloc(len + 1), err[320];
	int rc = own ? 0 : -ENOMEM;

	if (own) {
		memcpy(own, text, len);
		rc = config_parse(own, len, name, &cfg, &errs);
		config_errors_clear(&errs);
	}
	if (!rc) {
		lbd_notify_reloading(d);
		rc = lbd_config_switch(d, cfg, own, len, "config apply", &as, r->msg, sizeof(r->msg));
		lbd_notify_ready(d);
		own = NULL;
	}
	free(own);
	if (rc == -EINVAL || rc == -ENOSPC || rc == -ENOMEM) {
		r->code = rc == -ENOMEM ? CTL_FAILED : CTL_BAD_CONFIG;
		r->errors = json_pack("[s]", r->msg);
		return;
	}
	/* Applied, if only in part (-EIO): the new config runs, so it is the
	 * file's. */
	if (config_file_write(d, d->cfg_text, d->cfg_len, err, sizeof(err))) {
		log_err("config apply: %s", err);
		if (!rc)
			snprintf(r->msg, sizeof(r->msg), "%s", err);
		rc = -EIO;
	}
	if (rc) {
		r->code = CTL_FAILED;
		return;
	}
	r->result = applied_json(d, &as);
}

/* lbctl block add/del: the state model's list, the maps, then the file.
 * A write the kernel refuses leaves the list and the maps as they were. */
static int ctl_block(void *data, bool add, const struct blocklist_rule *r, char *err,
		     size_t errlen)
{
	struct lbd *d = data;
	long i = state_block_find(d->st, r);
	struct state_block old;
	int rc;

	if (add && i >= 0)
		return -EEXIST;
	if (!add && i < 0)
		return -ENOENT;
	if (add) {
		rc = state_block_add(d->st, r, clock_wall_ms());
		if (rc)
			return rc;
	} else {
		old = d->st->blocks[i];
		state_block_del(d->st, (size_t)i);
	}
	rc = lbd_blocks_write(d, "block");
	if (rc) {
		if (add)
			state_block_del(d->st, d->st->n_blocks - 1);
		else if (state_block_add(d->st, &old.rule, old.since_ms))
			log_err("block: out of memory: the deny rule stays in the maps but is "
				"no longer in the state");
		lbd_blocks_write(d, "block");
		return rc;
	}
	lbd_save_now(d);
	return ctl_saved(d, add ? "the rule is in effect" : "the rule is gone", err, errlen);
}

static int ctl_blocks(void *data, struct blocklist_rule **rules, size_t *n)
{
	return blocklist_list(((struct lbd *)data)->bl, rules, n);
}

/* lbctl node drain/undrain: the state model, the file, then the routes,
 * all before the reply. */
static int ctl_node_drain(void *data, bool drained, char *err, size_t errlen)
{
	struct lbd *d = data;

	if (state_node_drain(d->st, drained, clock_wall_ms()))
		lbd_save_now(d);
	lbd_announce_now(d);
	if (ctl_saved(d, drained ? "the node is drained" : "the node is undrained", err, errlen))
		return -EIO;
	if (d->announce_failing) {
		snprintf(err, errlen, "the node is %s, but the VIP routes could not be written; "
			 "lbd retries every %llu s (its log says why)",
			 drained ? "drained" : "undrained", RETRY_USEC / 1000000);
		return -EIO;
	}
	return 0;
}

static json_t *ctl_node_json(void *data)
{
	return lbd_announce_node_json(data);
}

static json_t *ctl_vip_announce_json(void *data, size_t vip)
{
	return lbd_announce_vip_json(data, vip);
}

static const char *ctl_config_text(void *data, size_t *len, const char **path)
{
	const struct lbd *d = data;

	*len = d->cfg_len;
	*path = d->config_path;
	return d->cfg_text;
}

int lbd_control_start(struct lbd *d)
{
	const struct ctl_env env = {
		.maps = &d->maps, .ap = d->ap, .flows = d->flows, .state = ctl_state,
		.commit = ctl_commit, .status = ctl_status, .config_apply = ctl_config_apply,
		.config_text = ctl_config_text, .block = ctl_block, .blocks = ctl_blocks,
		.node_drain = ctl_node_drain, .node_json = ctl_node_json,
		.vip_announce_json = ctl_vip_announce_json, .data = d,
	};
	char err[320];

	d->ctl = control_new(d->loop, d->st->cfg->control_socket, &d->acc, &env, err,
			     sizeof(err));
	if (!d->ctl) {
		log_err("cannot listen on the control socket %s", err);
		return EXIT_FAILURE;
	}
	log_info("control socket %s (group %s%s%s)", d->st->cfg->control_socket,
		 d->st->cfg->control_group, d->acc.has_admin ? ", admin group " : "",
		 d->acc.has_admin ? d->st->cfg->control_admin_group : "");
	return 0;
}

