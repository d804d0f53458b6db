// SPDX-License-Identifier: GPL-2.0-only
/*
 * lbd, the controller: reads the JSON config and the state file, loads and
 * pins the balancer (or adopts or upgrades the one already pinned), writes
 * the maps, and then runs one sd-event loop that every service shares:
 * signals (SIGHUP reloads, SIGTERM/SIGINT exit and leave the data path
 * running), netlink (the next hop's MAC, lbd_nexthop.c), the control socket
 * (lbd_control.c), a retry timer, and the state model's changes, which are
 * applied to the maps once per loop iteration and saved to the state file
 * within a second.
 *
 * Exit codes: 0 done; 1 runtime failure; 2 usage; 78 invalid config.
 */
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bpf/libbpf.h>
#include <systemd/sd-event.h>

#include "clock.h"
#include "lb_flowtab.h"
#include "lbd.h"
#include "log.h"
#include "pincount.h"
#include "statefile.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: lbd --config FILE [--log-level err|warn|info|debug]\n"
		"       lbd --check FILE\n"
		"       lbd --unload INTERFACE\n"
		"       lbd --version\n"
		"\n"
		"  --config FILE     run in the foreground with this config; SIGHUP re-reads it\n"
		"  --check FILE      validate FILE, list every error; exit 0 (valid) or 78\n"
		"  --unload IFACE    detach sluice from IFACE and remove its pinned maps\n"
		"\n"
		"SIGTERM and SIGINT stop lbd and leave the data path attached.\n");
}

static int config_result(int rc, struct config_errors *errs)
{
	size_t i;

	for (i = 0; i < errs->n; i++)
		log_err("%s", errs->lines[i]);
	config_errors_clear(errs);
	if (rc == -EINVAL)
		return EXIT_CONFIG;
	return rc ? EXIT_FAILURE : 0;
}

/* Load a config, logging every error. Returns 0, or the exit code to use. */
static int config_read(const char *path, struct config **cfg)
{
	struct config_errors errs = { 0 };

	return config_result(config_load(path, cfg, &errs), &errs);
}

/* The same, keeping the file's bytes in *text (also on a parse error). */
static int config_take(const char *path, char **text, size_t *len, struct config **cfg)
{
	struct config_errors errs = { 0 };
	int rc = config_file_read(path, text, len);

	if (rc) {
		log_err("%s: %s", path, strerror(-rc));
		return EXIT_FAILURE;
	}
	return config_result(config_parse(*text, *len, path, cfg, &errs), &errs);
}

static int cmd_check(const char *path)
{
	struct control_access acc;
	struct config *cfg = NULL;
	int rc = config_read(path, &cfg);

	if (!rc)
		rc = lbd_access_resolve(cfg, &acc);
	if (!rc)
		printf("%s: valid (%zu VIPs)\n", path, cfg->n_vips);
	config_free(cfg);
	return rc;
}

/* What --unload takes away, in order. 0 or -1 (logged). */
static int cmd_unload_locked(const char *ifname, int ifindex, size_t *routes, char *err,
			     size_t errlen)
{
	/* The VIPs first: withdrawn before the data path that serves them goes. */
	int rc = ifindex ? routes_flush(ifindex, 0, routes) : 0;

	if (rc) {
		log_err("cannot unload %s: removing its VIP routes: %s", ifname, strerror(-rc));
		return -1;
	}
	/* lb_probe first: it holds the balancer's maps. */
	if (tunprobe_detach(ifname, err, errlen) < 0 || loader_unload(ifname, err, errlen)) {
		log_err("cannot unload %s: %s", ifname, err);
		return -1;
	}
	return 0;
}

static int cmd_unload(const char *ifname)
{
	int ifindex = (int)if_nametoindex(ifname);
	size_t routes = 0;
	char err[256];
	int rc, lock;

	/* Not under a running lbd: it would write into maps no one reads. */
	lock = loader_lock(ifname, err, sizeof(err));
	if (lock == -EBUSY) {
		log_err("cannot unload %s: %s; stop it first", ifname, err);
		return EXIT_FAILURE;
	}
	rc = cmd_unload_locked(ifname, ifindex, &routes, err, sizeof(err));
	if (lock >= 0)
		close(lock);
	if (rc)
		return EXIT_FAILURE;
	log_info("unloaded %s: %zu VIP routes removed, XDP detached, pins removed", ifname,
		 routes);
	return 0;
}

/* The interface's MAC and MTU, for lb_cfg. */
static int iface_read(const char *ifname, struct apply_env *env)
{
	struct ifreq ifr;
	int fd, rc = 0;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr))
		rc = -errno;
	else
		memcpy(env->src_mac, ifr.ifr_hwaddr.sa_data, 6);
	if (!rc && ioctl(fd, SIOCGIFMTU, &ifr))
		rc = -errno;
	else if (!rc)
		env->mtu = (__u32)ifr.ifr_mtu;
	close(fd);
	return rc;
}

/* ------------------------------------------------------------------ */
/* The retry timer: one source for everything that failed and waits. */

static bool retry_due(const struct lbd *d)
{
	return d->full_due || (d->save_due && d->save_failing) ||
	       (d->nh && nexthop_retry_due(d->nh)) || lbd_announce_retry_due(d);
}

/* Tick while something owes a retry, and only then. */
void lbd_retry_arm(struct lbd *d)
{
	int rc;

	if (!retry_due(d)) {
		sd_event_source_set_enabled(d->retry, SD_EVENT_OFF);
		return;
	}
	rc = sd_event_source_set_time_relative(d->retry, RETRY_USEC);
	if (!rc)
		rc = sd_event_source_set_enabled(d->retry, SD_EVENT_ONESHOT);
	if (rc < 0)
		log_err("cannot set the retry timer: %s", strerror(-rc));
}

/* ------------------------------------------------------------------ */
/* Applying the state model to the maps */

static void apply_log(const char *why, const struct state *st, const struct apply_stats *as,
		      __u64 ms)
{
	log_info("%s: %zu VIPs; tables swapped %zu, emptied %zu in %zu batches; VIPs +%zu -%zu; "
		 "backends +%zu ~%zu retired %zu; %llu ms",
		 why, st->cfg->n_vips, as->tables_swapped, as->tables_removed, as->table_batches,
		 as->vips_added, as->vips_removed, as->backends_added, as->backends_changed,
		 as->backends_retired, (unsigned long long)ms);
}

/* The block rules of a state: the config's, VIP ids as the last full
 * apply gave them, and the operator's. */
static struct blocklist_rule *block_rules_of(const struct lbd *d, const struct state *st,
					    size_t *n)
{
	const struct config *cfg = st->cfg;
	struct blocklist_rule *r;
	size_t i, j, k = cfg->n_deny + st->n_blocks;

	for (i = 0; i < cfg->n_vips; i++)
		k += cfg->vips[i].n_allow;
	r = calloc(k + 1, sizeof(*r));
	if (!r)
		return NULL;
	memcpy(r, cfg->deny, cfg->n_deny * sizeof(*r));
	for (i = 0, k = cfg->n_deny; i < cfg->n_vips; i++) {
		for (j = 0; j < cfg->vips[i].n_allow; j++, k++) {
			r[k] = cfg->vips[i].allow[j];
			r[k].vip = apply_vip_id(d->ap, i);
		}
	}
	for (i = 0; i < st->n_blocks; i++)
		r[k++] = st->blocks[i].rule;
	*n = k;
	return r;
}

/* Whether every VIP of st with an allow list has an id from the last
 * full apply: after a failed one none has, and an allow list written then
 * would name no VIP, which leaves the VIP open to every source. */
static bool allow_ids_known(const struct lbd *d, const struct state *st)
{
	size_t i;

	for (i = 0; i < st->cfg->n_vips; i++)
		if (st->cfg->vips[i].n_allow && apply_vip_id(d->ap, i) >= LB_MAX_VIPS)
			return false;
	return true;
}

/* A state's deny and allow lists into the data path, when they changed
 * since last written. 0, -EAGAIN (the lists wait for the full apply that
 * is due), or -errno (logged). */
static int blocks_apply(struct lbd *d, const struct state *st, const char *why)
{
	size_t n = 0;
	struct blocklist_rule *r;
	int rc;

	if (!allow_ids_known(d, st)) {
		log_warn("%s: block lists left as they are until the full apply that is due",
			 why);
		return -EAGAIN;
	}
	r = block_rules_of(d, st, &n);
	if (!r) {
		log_err("%s: block lists: %s", why, strerror(ENOMEM));
		return -ENOMEM;
	}
	if (d->bl_rules && n == d->bl_n && !memcmp(r, d->bl_rules, n * sizeof(*r))) {
		free(r);
		return 0;
	}
	rc = blocklist_replace(d->bl, r, n);
	if (rc) {
		log_err("%s: cannot write the block lists: %s", why, strerror(-rc));
		free(r);
		return rc;
	}
	free(d->bl_rules);
	d->bl_rules = r;
	d->bl_n = n;
	return 0;
}

/* The running state's lists, whatever was written last: after the maps
 * were changed behind blocks_apply()'s back (a refused config that took a
 * removed VIP's allow list already), or the operator's list changed. */
int lbd_blocks_write(struct lbd *d, const char *why)
{
	free(d->bl_rules);
	d->bl_rules = NULL;
	d->bl_n = 0;
	return blocks_apply(d, d->st, why);
}

/* Everything, from st, its counts in *out if not NULL. 0 or -errno
 * (logged). */
static int apply_full(struct lbd *d, const struct state *st, const char *why,
		      struct apply_stats *out)
{
	__u64 t0 = (clock_mono_us() / 1000);
	struct apply_stats as;
	char err[256];
	int rc;

	if (st->cfg->mtu > d->env.mtu)
		log_warn("%s: mtu %u is above %s's MTU %u: frames in between will be lost",
			 why, st->cfg->mtu, st->cfg->interface, d->env.mtu);
	rc = apply_state(d->ap, st, &d->env, &as, err, sizeof(err));
	if (rc) {
		log_err("%s: cannot apply the config: %s", why, err);
		return rc;
	}
	/* The maps are the new config's already: a failure from here on is
	 * "applied in part", never a refusal. */
	rc = blocks_apply(d, st, why);
	if (rc)
		return -EIO;
	apply_log(why, st, &as, (clock_mono_us() / 1000) - t0);
	if (out)
		*out = as;
	return 0;
}

/* What the state model changed since the last apply: only the dirty
 * VIPs, unless a full apply is owed. Runs once per loop iteration, after
 * the events that landed together, so their changes share one swap. */
void lbd_apply_changes(struct lbd *d)
{
	struct apply_stats as;
	__u64 t0 = (clock_mono_us() / 1000);
	char err[256];
	int rc;

	if (d->full_due) {
		rc = apply_full(d, d->st, "retry", NULL);
	} else {
		rc = apply_dirty(d->ap, d->st, &as, err, sizeof(err));
		if (rc)
			log_err("state change: cannot apply it: %s; retrying in full every %llu s",
				err, RETRY_USEC / 1000000);
		else if (as.tables_swapped + as.tables_removed + as.backends_changed)
			log_debug("state change: tables swapped %zu, emptied %zu in %zu batches; "
				  "backends ~%zu; %llu ms", as.tables_swapped, as.tables_removed,
				  as.table_batches, as.backends_changed,
				  (unsigned long long)((clock_mono_us() / 1000) - t0));
	}
	/* A full apply that succeeds at last may let held-back routes out. */
	if (d->full_due && !rc)
		lbd_announce_soon(d);
	d->full_due = rc != 0;
	if (!rc)
		state_clean(d->st);
	lbd_retry_arm(d);
	lbd_notify_status(d);
}

static int on_apply(sd_event_source *s, void *data)
{
	lbd_apply_changes(data);
	return 0;
}

static void apply_soon(struct lbd *d)
{
	sd_event_source_set_enabled(d->apply_ev, SD_EVENT_ONESHOT);
}

/* ------------------------------------------------------------------ */
/* The state file */

void lbd_save_now(struct lbd *d)
{
	char err[320];
	int rc = statefile_save(d->st, d->st->cfg->state_dir, clock_wall_ms(), err, sizeof(err));

	if (rc && !d->save_failing)
		log_err("cannot save the state: %s; retrying every %llu s", err,
			RETRY_USEC / 1000000);
	else if (!rc && d->save_failing)
		log_info("state saved again in %s", d->st->cfg->state_dir);
	d->save_failing = rc != 0;
	d->save_due = rc != 0;
	lbd_retry_arm(d);
	lbd_notify_status(d);	/* "state saves failing" comes and goes with it */
}

static int on_save(sd_event_source *s, uint64_t usec, void *data)
{
	lbd_save_now(data);
	return 0;
}

/* Health changes come in bursts: one write for a burst. */
static void save_soon(struct lbd *d)
{
	int enabled = SD_EVENT_OFF;

	d->save_due = true;
	if (d->save_failing)
		return;		/* the retry timer has it */
	sd_event_source_get_enabled(d->save_ev, &enabled);
	if (enabled != SD_EVENT_OFF)
		return;
	sd_event_source_set_time_relative(d->save_ev, SAVE_USEC);
	sd_event_source_set_enabled(d->save_ev, SD_EVENT_ONESHOT);
}

/* The next save would overwrite what lbd could not read: keep it. */
static void state_set_aside(const char *dir)
{
	char name[64];
	int rc = statefile_set_aside(dir, clock_wall_ms(), name, sizeof(name));

	if (rc)
		log_err("cannot set the unusable state file aside (%s); the next save replaces "
			"it", strerror(-rc));
	else
		log_warn("the unusable state file is kept as %s/%s", dir, name);
}

static void state_load(struct lbd *d)
{
	const char *dir = d->st->cfg->state_dir;
	struct statefile_stats fs;
	char err[320];
	int rc = statefile_load(d->st, dir, clock_wall_ms(), &fs, err, sizeof(err));

	if (rc == -ENOENT) {
		log_info("no state file in %s: every backend's health is unknown (counted as up) "
			 "until checked", dir);
		snprintf(d->state_note, sizeof(d->state_note), "none at start");
	} else if (rc) {
		log_warn("state file unusable, ignored: %s; starting with no saved state", err);
		snprintf(d->state_note, sizeof(d->state_note), "unusable at start, ignored: %s",
			 err);
		state_set_aside(dir);
	} else {
		snprintf(d->state_note, sizeof(d->state_note), "restored at start");
		log_info("state restored from %s/%s: %zu backends (%zu forgotten: no longer in "
			 "the config; %zu overrides dropped: the config changed them)", dir,
			 STATEFILE_NAME, fs.backends, fs.forgotten, fs.rs.overrides_dropped);
	}
}

/* The state model's listener: log what operators must know, schedule the
 * apply and the save. */
static void on_state(struct state *st, size_t vip, unsigned int kinds, void *data)
{
	const struct state_vip *v;
	struct lbd *d = data;
	size_t j, kept = 0;

	/* Any change may move a VIP across its need, or the node's drain. */
	lbd_announce_soon(d);
	if (kinds & STATE_CH_SAVED)
		save_soon(d);
	if (vip == STATE_NODE)
		return;
	v = &st->vips[vip];
	if (kinds & STATE_CH_ALL_DOWN) {
		for (j = 0; j < v->cfg->n_backends; j++)
			kept += v->be[j].kept;
		if (v->cfg->all_down_drop)
			log_warn("VIP %s: every backend is down by health; all_down is drop: its "
				 "new flows are dropped", v->cfg->name);
		else
			log_warn("VIP %s: every backend is down by health; all_down is keep: the "
				 "last %zu stay in the table", v->cfg->name, kept);
	}
	if (kinds & STATE_CH_RECOVERED)
		log_info("VIP %s: a backend is up again; all_down is over", v->cfg->name);
	if (kinds & STATE_CH_EFFECTIVE)
		apply_soon(d);
}

static int on_retry(sd_event_source *s, uint64_t usec, void *data)
{
	struct lbd *d = data;

	if (d->nh && nexthop_retry_due(d->nh))
		lbd_next_hop_result(d, nexthop_retry(d->nh));
	if (d->save_due && d->save_failing)
		lbd_save_now(d);
	if (d->full_due)
		lbd_apply_changes(d);
	if (lbd_announce_retry_due(d)) {
		if (d->routes)
			lbd_announce_now(d);
		else
			lbd_announce_config(d, d->st->cfg);
	}
	lbd_retry_arm(d);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Tunnel probes: lb_probe at the interface's egress while a check needs it */

static bool tunnel_wanted(const struct config *cfg)
{
	size_t i;

	for (i = 0; i < cfg->n_vips; i++)
		if (cfg->vips[i].health.enabled && cfg->vips[i].health.via == CONFIG_HC_TUNNEL)
			return true;
	return false;
}

/* Before cfg runs: lb_probe attached if cfg has a tunnel check. 0, or
 * -errno with the reason in err. */
static int tunnel_attach(struct lbd *d, const struct config *cfg, char *err, size_t errlen)
{
	if (d->tp || !tunnel_wanted(cfg))
		return 0;
	d->tp = tunprobe_attach(cfg->interface, d->maps.backends, d->maps.lb_cfg, err, errlen);
	if (!d->tp)
		return -errno;
	log_info("%s: tunnel probes: lb_probe attached at TC egress (program id %u)",
		 cfg->interface, tunprobe_prog_id(d->tp));
	return 0;
}

/* Once cfg runs: without a tunnel check, no lb_probe, not even one an
 * earlier lbd left. */
static void tunnel_detach(struct lbd *d, const struct config *cfg)
{
	char err[256];
	int rc;

	if (tunnel_wanted(cfg))
		return;
	rc = tunprobe_detach(cfg->interface, err, sizeof(err));
	if (rc < 0)
		log_warn("tunnel probes: %s", err);
	else if (rc)
		log_info("%s: tunnel probes: no check needs them; lb_probe removed",
			 cfg->interface);
	tunprobe_free(d->tp);
	d->tp = NULL;
}

/* The data path id of a backend, which its tunnel probes carry. */
static __u32 backend_id(size_t vip, size_t be, void *data)
{
	const struct lbd *d = data;

	return apply_backend_id(d->ap, vip, be);
}

/* ------------------------------------------------------------------ */
/* Reload */

/* Fields that only a restart can change: false with why in err. */
/* Config and operator rules share the data path's rule ids. Counted
 * without looking for prefixes both hold, so a config that fits only
 * thanks to such overlaps is refused too. */
static bool blocks_fit(const struct state *st, const struct config *cfg, char *err,
		       size_t errlen)
{
	size_t i, n = cfg->n_deny;

	for (i = 0; i < cfg->n_vips; i++)
		n += cfg->vips[i].n_allow;
	if (n + st->n_blocks <= LB_BLOCK_RULES_MAX)
		return true;
	snprintf(err, errlen, "its %zu deny and allow rules and the operator's %zu deny rules "
		 "are more than the %u the block lists hold", n, st->n_blocks,
		 LB_BLOCK_RULES_MAX);
	return false;
}

static bool reload_allowed(const struct state *st, const struct config *cfg, char *err,
			   size_t errlen)
{
	const struct config *old = st->cfg;

	if (!blocks_fit(st, cfg, err, errlen))
		return false;
	if (strcmp(old->interface, cfg->interface)) {
		snprintf(err, errlen, "interface cannot change from %s to %s while running",
			 old->interface, cfg->interface);
		return false;
	}
	if (old->xdp_generic != cfg->xdp_generic) {
		snprintf(err, errlen, "xdp_mode cannot change while running");
		return false;
	}
	if (old->flow_table_size != cfg->flow_table_size)
		log_warn("reload: flow_table_size takes effect only after 'lbd --unload %s'",
			 cfg->interface);
	if (strcmp(old->control_socket, cfg->control_socket))
		log_warn("reload: control_socket moves to %s only after a restart; lbd listens on "
			 "%s", cfg->control_socket, old->control_socket);
	if (strcmp(old->metrics_listen, cfg->metrics_listen))
		log_warn("reload: metrics_listen changes to \"%s\" only after a restart; metrics "
			 "stay on \"%s\"", cfg->metrics_listen, old->metrics_listen);
	if (strcmp(old->state_dir, cfg->state_dir))
		log_warn("reload: state_dir changes from %s to %s: the state is saved there from "
			 "now on", old->state_dir, cfg->state_dir);
	return true;
}

/* The next state, from a config and what the running state knows. */
static struct state *state_next(struct lbd *d, struct config *cfg)
{
	struct state_replace_stats rs;
	struct state *next = state_new(cfg, clock_wall_ms());

	if (!next) {
		log_err("reload: %s", strerror(errno));
		return NULL;
	}
	next->listener = on_state;
	next->listener_data = d;
	if (state_carry(next, d->st, clock_wall_ms(), &rs)) {
		log_err("reload: %s", strerror(ENOMEM));
		state_free(next);
		return NULL;
	}
	if (rs.overrides_dropped)
		log_info("reload: %zu operator overrides replaced by the config's new values",
			 rs.overrides_dropped);
	return next;
}

static void state_replace(struct lbd *d, struct state *next, char *text, size_t len)
{
	state_free(d->st);
	free(d->cfg_text);
	d->st = next;
	d->cfg_text = text;
	d->cfg_len = len;
	/* The maps have what next had so far; what health tells it below
	 * (a kept check's verdict for a VIP that now lists its backend) is
	 * news for them, and must stay dirty. */
	state_clean(next);
	/* Results go to the new state from now on. */
	if (d->health)
		health_config(d->health, next);
	tunnel_detach(d, next->cfg);
	lbd_announce_config(d, next->cfg);
	save_soon(d);
}

/* For the metrics: when a config was last offered, and whether it took. */
static void reload_note(struct lbd *d, bool ok)
{
	d->reload_ms = clock_wall_ms();
	d->reload_ok = ok;
}

/* Removed VIPs take their allow lists with them, operator rules too,
 * before their ids can go to new VIPs. */
static void blocks_forget_removed(struct lbd *d, const struct state *next)
{
	const struct config *a = d->st->cfg, *b = next->cfg;
	size_t i = 0, k = 0;
	int c, rc;

	while (i < a->n_vips) {
		c = k < b->n_vips ? state_vip_key_cmp(&a->vips[i], &b->vips[k]) : -1;
		if (c < 0) {
			rc = blocklist_flush_vip(d->bl, apply_vip_id(d->ap, i));
			if (rc && rc != -EINVAL)
				log_warn("cannot remove VIP %s's allow list: %s", a->vips[i].name,
					 strerror(-rc));
		}
		i += c <= 0;
		k += c >= 0;
	}
}

/*
 * Switch to cfg, parsed from text (both owned from now on). Returns 0
 * (applied); -EINVAL or -ENOSPC: refused, nothing changed (why in err);
 * -EIO: applied in part: the new config is the running one all the same
 * (the maps are on their way to it), and the full apply is retried every
 * second until it succeeds.
 */
/* What lbd_config_switch() changed before the config could still be
 * refused, put back as the running config has it. */
static void switch_undo(struct lbd *d, const struct control_access *acc, bool had_tp)
{
	const struct config *cfg = d->st->cfg;

	d->acc = *acc;
	if (d->ctl && control_access_set(d->ctl, acc))
		log_warn("cannot set the control socket's group back: %s", strerror(errno));
	lbd_next_hop_follow(d, cfg, "refused config");
	if (!had_tp)
		tunnel_detach(d, cfg);
}

int lbd_config_switch(struct lbd *d, struct config *cfg, char *text, size_t len,
			 const char *why, struct apply_stats *as, char *err, size_t errlen)
{
	struct control_access acc, old_acc = d->acc;
	bool had_tp = d->tp != NULL;
	struct state *next = NULL;
	int rc = -EINVAL;

	if (!reload_allowed(d->st, cfg, err, errlen) ||
	    control_access_resolve(cfg, &acc, err, errlen) ||
	    tunnel_attach(d, cfg, err, errlen))
		goto refused;
	d->acc = acc;
	if (d->ctl && control_access_set(d->ctl, &acc))
		log_warn("%s: cannot set the control socket's group: %s", why, strerror(errno));
	rc = iface_read(cfg->interface, &d->env);
	if (rc)
		log_warn("%s: cannot read %s again (%s); keeping its MAC and MTU", why,
			 cfg->interface, strerror(-rc));
	lbd_next_hop_follow(d, cfg, why);
	next = state_next(d, cfg);
	cfg = NULL;
	if (next)
		blocks_forget_removed(d, next);
	rc = next ? apply_full(d, next, why, as) : -ENOMEM;
	if (rc == -ENOSPC || rc == -ENOMEM) {
		snprintf(err, errlen, "%s", rc == -ENOSPC ? "it needs more VIP or backend ids "
			 "than are free" : strerror(-rc));
		switch_undo(d, &old_acc, had_tp);
		goto refused;
	}
	if (rc) {
		log_err("%s: the config was applied only in part; retrying every %llu s", why,
			RETRY_USEC / 1000000);
		snprintf(err, errlen, "applied only in part (the kernel refused a write); lbd "
			 "retries every %llu s", RETRY_USEC / 1000000);
		lbd_next_hop_unwritten(d);
		apply_forget(d->ap);
		rc = -EIO;
	}
	d->full_due = rc != 0;
	state_replace(d, next, text, len);
	lbd_retry_arm(d);
	reload_note(d, rc == 0);
	return rc;
refused:
	reload_note(d, false);
	log_err("%s: %s; the config was not applied; the running config stays", why, err);
	if (next)
		lbd_blocks_write(d, why);
	config_free(cfg);
	state_free(next);
	free(text);
	return rc;
}

/* The same bytes make the same config: only the maps are brought in line
 * again with the running state (what a reload is also for). */
static bool reload_same(struct lbd *d, const char *text, size_t len)
{
	bool owed;

	if (len != d->cfg_len || memcmp(text, d->cfg_text, len))
		return false;
	log_info("reload: %s has not changed", d->config_path);
	owed = d->full_due;
	d->full_due = apply_full(d, d->st, "reload", NULL) != 0;
	/* As lbd_apply_changes(): routes held back for it may go out now. */
	if (owed && !d->full_due)
		lbd_announce_soon(d);
	reload_note(d, !d->full_due);
	lbd_retry_arm(d);
	return true;
}

static void reload(struct lbd *d)
{
	struct config *cfg = NULL;
	char *text = NULL, err[256];
	size_t len = 0;
	int rc;

	log_info("SIGHUP: reading %s", d->config_path);
	rc = config_file_read(d->config_path, &text, &len);
	if (!rc && reload_same(d, text, len)) {
		free(text);
		return;
	}
	free(text);
	text = NULL;
	if (config_take(d->config_path, &text, &len, &cfg)) {
		reload_note(d, false);
		log_err("reload: the config was not applied; the running config stays");
		config_free(cfg);
		free(text);
		return;
	}
	lbd_config_switch(d, cfg, text, len, "reload", NULL, err, sizeof(err));
}

/* SIGHUP: RELOADING=1, then READY=1 again whatever became of the file (a
 * refused one leaves lbd running). The unit reloads through lbctl, which
 * also waits for the result (lbd.service.in says why). */
static int on_hup(sd_event_source *s, const struct signalfd_siginfo *si, void *data)
{
	lbd_notify_reloading(data);
	reload(data);
	lbd_notify_ready(data);
	return 0;
}

static int on_exit_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *data)
{
	struct lbd *d = data;

	if (d->save_due)
		lbd_save_now(d);
	lbd_notify_stopping();
	log_info("%s: exiting; the data path stays attached ('lbd --unload %s' removes it)",
		 strsignal((int)si->ssi_signo), d->st->cfg->interface);
	return sd_event_exit(sd_event_source_get_event(s), 0);
}

/* ------------------------------------------------------------------ */
/* Start */

static int on_announce_ev(sd_event_source *s, void *data)
{
	lbd_announce_now(data);
	return 0;
}

static int loop_setup(struct lbd *d)
{
	sigset_t set;
	int rc;

	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		return -errno;
	rc = sd_event_new(&d->loop);
	/* WATCHDOG=1 from the loop itself when systemd asks for it
	 * (WatchdogSec=): a loop that stalls stops sending. */
	if (rc >= 0)
		rc = sd_event_set_watchdog(d->loop, true);
	if (rc >= 0)
		rc = sd_event_add_signal(d->loop, NULL, SIGHUP, on_hup, d);
	if (rc >= 0)
		rc = sd_event_add_signal(d->loop, NULL, SIGTERM, on_exit_signal, d);
	if (rc >= 0)
		rc = sd_event_add_signal(d->loop, NULL, SIGINT, on_exit_signal, d);
	if (rc >= 0)
		rc = sd_event_add_time_relative(d->loop, &d->retry, CLOCK_MONOTONIC, RETRY_USEC,
						0, on_retry, d);
	if (rc >= 0)
		rc = sd_event_source_set_enabled(d->retry, SD_EVENT_OFF);
	if (rc >= 0)
		rc = sd_event_add_time_relative(d->loop, &d->save_ev, CLOCK_MONOTONIC, SAVE_USEC,
						0, on_save, d);
	if (rc >= 0)
		rc = sd_event_source_set_enabled(d->save_ev, SD_EVENT_OFF);
	if (rc >= 0)
		rc = sd_event_add_defer(d->loop, &d->apply_ev, on_apply, d);
	/* After every other event of the iteration: changes that land
	 * together are applied together. */
	if (rc >= 0)
		rc = sd_event_source_set_priority(d->apply_ev, SD_EVENT_PRIORITY_IDLE);
	if (rc >= 0)
		rc = sd_event_source_set_enabled(d->apply_ev, SD_EVENT_OFF);
	/* After the apply: a VIP is announced once its table is in place. */
	if (rc >= 0)
		rc = sd_event_add_defer(d->loop, &d->announce_ev, on_announce_ev, d);
	if (rc >= 0)
		rc = sd_event_source_set_priority(d->announce_ev, SD_EVENT_PRIORITY_IDLE + 1);
	if (rc >= 0)
		rc = sd_event_source_set_enabled(d->announce_ev, SD_EVENT_OFF);
	return rc < 0 ? rc : 0;
}

static const char *const action_names[] = {
	[LOADER_ATTACHED] = "attached",
	[LOADER_ADOPTED] = "adopted the running program",
	[LOADER_UPGRADED] = "upgraded the running program",
};

static int attach(struct lbd *d)
{
	const struct config *cfg = d->st->cfg;
	struct loader_opts lo = {
		.ifname = cfg->interface,
		.generic = cfg->xdp_generic,
		.flow_table_size = cfg->flow_table_size,
	};
	struct blocklist_maps bm;
	char err[320];
	int rc = iface_read(cfg->interface, &d->env);

	if (rc) {
		log_err("cannot read %s: %s", cfg->interface, strerror(-rc));
		return -1;
	}
	if (loader_start(&d->ld, &lo, err, sizeof(err))) {
		log_err("cannot start on %s: %s", cfg->interface, err);
		return -1;
	}
	if (d->ld.relinked)
		log_warn("%s: the pinned XDP link had lost its interface (was it re-created?); "
			 "attaching a new link, maps kept", cfg->interface);
	/* A restart keeps the pinned table, as a reload does. */
	if (d->ld.flow_sets != lb_flow_sets_for(cfg->flow_table_size))
		log_warn("%s: the pinned flow table has %llu entries, not the %u flow_table_size "
			 "asks for; it takes effect only after 'lbd --unload %s'", cfg->interface,
			 (unsigned long long)d->ld.flow_sets * LB_FLOW_WAYS, cfg->flow_table_size,
			 cfg->interface);
	log_info("%s: %s (program id %u, %zu pinned maps reused) in %s", cfg->interface,
		 action_names[d->ld.action], d->ld.prog_id, d->ld.maps_reused, d->ld.pin_dir);
	if (d->ld.flows_carried)
		log_info("%s: %zu flows carried from the LRU flow table of an earlier release",
			 cfg->interface, d->ld.flows_carried);
	if (apply_maps_find(loader_object(&d->ld), &d->maps)) {
		log_err("cannot start: the balancer object lacks a map lbd writes");
		return -1;
	}
	if (blocklist_maps_find(loader_object(&d->ld), &bm)) {
		log_err("cannot start: the balancer object lacks a block list map");
		return -1;
	}
	d->bl = blocklist_new(&bm);
	if (!d->bl) {
		log_err("cannot read the block lists: %s", strerror(errno));
		return -1;
	}
	d->ap = apply_new(&d->maps);
	d->flows = d->ap ? flows_new(d->maps.flow_table) : NULL;
	if (!d->ap || !d->flows) {
		log_err("cannot start: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Health's counters in bpffs, so they go on across restarts as the data
 * path's do; without them health counts in its own memory from zero. */
static void health_counters_pin(struct lbd *d)
{
	char err[256];

	d->hc = pincount_open(d->ld.pin_dir, "health_counters", sizeof(*d->hc),
			      HEALTH_COUNTERS_LAYOUT, err, sizeof(err));
	if (d->hc)
		health_counters_use(d->health, d->hc);
	else
		log_warn("health counters: %s; they count from zero at each start", err);
}

static int start(struct lbd *d)
{
	int rc = loop_setup(d);
	char err[256];

	if (rc) {
		log_err("cannot set up the event loop: %s", strerror(-rc));
		return EXIT_FAILURE;
	}
	/* Before anything is attached: a config lbd cannot serve changes
	 * nothing. */
	rc = lbd_access_resolve(d->st->cfg, &d->acc);
	if (rc)
		return rc;
	d->st->listener = on_state;
	d->st->listener_data = d;
	state_load(d);
	/* A reload with too many rules is refused; a start with them would
	 * write the lists in part, a VIP's allow list missing, and exit. */
	if (!blocks_fit(d->st, d->st->cfg, err, sizeof(err))) {
		log_err("start: the config and the state file: %s; nothing was changed (fewer "
			"rules in the config, or fewer in %s/%s)", err, d->st->cfg->state_dir,
			STATEFILE_NAME);
		return EXIT_CONFIG;
	}
	if (attach(d))
		return EXIT_FAILURE;
	if (d->st->cfg->next_hop_auto && lbd_next_hop_start(d, d->st->cfg))
		return EXIT_FAILURE;
	if (apply_full(d, d->st, "start", NULL))
		return EXIT_FAILURE;
	state_clean(d->st);
	if (tunnel_attach(d, d->st->cfg, err, sizeof(err))) {
		log_err("cannot start tunnel probes: %s", err);
		return EXIT_FAILURE;
	}
	tunnel_detach(d, d->st->cfg);
	/* A table that cannot be opened is logged and retried, as on a
	 * reload: exiting would leave the last lbd's routes announced with
	 * nothing watching them. */
	lbd_announce_config(d, d->st->cfg);
	rc = lbd_control_start(d);
	if (!rc)
		rc = lbd_metrics_start(d);
	if (rc)
		return rc;
	d->health = health_new(d->loop);
	if (d->health) {
		health_tunnel_set(d->health, d->st->cfg->interface, backend_id, d);
		health_counters_pin(d);
	}
	if (!d->health || health_config(d->health, d->st)) {
		log_err("cannot start health checks: %s", strerror(errno));
		return EXIT_FAILURE;
	}
	/* What the state model changed while loading is in the maps now. */
	sd_event_source_set_enabled(d->apply_ev, SD_EVENT_OFF);
	lbd_notify_ready(d);
	rc = sd_event_loop(d->loop);
	if (rc < 0) {
		log_err("event loop: %s", strerror(-rc));
		return EXIT_FAILURE;
	}
	return 0;
}

static int cmd_run(const char *path)
{
	struct lbd d = { .config_path = path };
	struct config *cfg = NULL;
	int rc;

	rc = config_take(path, &d.cfg_text, &d.cfg_len, &cfg);
	if (rc) {
		free(d.cfg_text);
		return rc;
	}
	d.st = state_new(cfg, clock_wall_ms());
	if (!d.st) {
		log_err("cannot start: %s", strerror(errno));
		free(d.cfg_text);
		return EXIT_FAILURE;
	}
	d.started_ms = clock_wall_ms();
	rc = start(&d);
	lbd_metrics_stop(&d);
	lbd_announce_stop(&d);
	control_free(d.ctl);
	health_free(d.health);
	pincount_close(d.hc, sizeof(*d.hc));
	tunprobe_free(d.tp);
	flows_free(d.flows);
	sd_event_source_disable_unref(d.nh_io);
	sd_event_source_disable_unref(d.retry);
	sd_event_source_disable_unref(d.save_ev);
	sd_event_source_disable_unref(d.apply_ev);
	sd_event_source_disable_unref(d.announce_ev);
	sd_event_unref(d.loop);
	if (d.nh)
		nexthop_free(d.nh);
	apply_free(d.ap);
	blocklist_free(d.bl);
	free(d.bl_rules);
	if (d.ld.skel)
		loader_close(&d.ld);
	state_free(d.st);
	free(d.cfg_text);
	return rc;
}

static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check", required_argument, NULL, 'k' },
		{ "unload", required_argument, NULL, 'u' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	const char *config = NULL, *check = NULL, *unload = NULL;
	int c, level = LOG_LVL_INFO;

	while ((c = getopt_long(argc, argv, "c:k:u:l:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'k': check = optarg; break;
		case 'u': unload = optarg; break;
		case 'l':
			level = log_level_parse(optarg);
			if (level < 0) {
				fprintf(stderr, "lbd: unknown log level '%s'\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("lbd (sluice) %s\n", LB_VERSION); return 0;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind != argc || !!config + !!check + !!unload != 1) {
		usage(stderr);
		return EXIT_USAGE;
	}
	/* A peer that goes away must cost an EPIPE, never the process. */
	signal(SIGPIPE, SIG_IGN);
	log_init("lbd", (enum log_level)level);
	libbpf_set_print(libbpf_log);
	if (check)
		return cmd_check(check);
	if (unload)
		return cmd_unload(unload);
	return cmd_run(config);
}
