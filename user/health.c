// SPDX-License-Identifier: GPL-2.0-only
#include "health.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>

#include "clock.h"
#include "lb_abi.h"
#include "log.h"
#include "probe.h"

/* What makes two checks the same check. A tunnel check's target is a
 * (VIP address, backend) pair: it connects to the VIP, through the
 * backend's tunnel. */
struct hc_key {
	enum config_hc_type type;
	enum config_hc_via via;
	__u8 family;		/* the backend's */
	__be32 addr[4];
	__u8 vip_family;	/* via tunnel: the address connected to */
	__be32 vip_addr[4];
	__u16 port;
	__u16 status;
	bool tls_verify;
	__u32 interval_ms, timeout_ms, rise, fall;
	const char *path;	/* a target owns its copies */
	const char *host;
};

struct hc_feed {
	__u32 vip, be;
};

struct hc_target {
	struct hc_key key;
	struct health *h;
	struct probe *probe;
	struct timeq_slot next;	/* the next start, in h->sched */
	struct hc_run run;
	struct hc_feed *feeds;
	size_t n_feeds;
	bool start_owed;	/* its start came while the last probe ran */
};

struct health {
	sd_event *loop;
	struct probes *ps;
	struct state *st;
	struct hc_target **t;	/* sorted by key */
	size_t n;
	struct timeq sched;	/* every target's next start */
	sd_event_source *tick;	/* at the earliest of them */
	struct health_counters own, *c;	/* c: own, or lbd's pinned ones */
	__u32 rnd;
	char tunnel_dev[IFNAMSIZ];	/* where lb_probe sits; "": unknown */
	health_id_fn id_of;
	void *id_data;
};

/* ------------------------------------------------------------------ */
/* The pure parts */

enum state_health hc_step(struct hc_run *r, bool ok, __u32 rise, __u32 fall)
{
	if (ok) {
		r->ok++;
		r->fail = 0;
		if (r->health != STATE_HEALTH_UP && r->ok >= rise)
			r->health = STATE_HEALTH_UP;
	} else {
		r->fail++;
		r->ok = 0;
		if (r->health != STATE_HEALTH_DOWN && r->fail >= fall)
			r->health = STATE_HEALTH_DOWN;
	}
	return r->health;
}

__u64 hc_first_start(__u64 now_us, __u32 interval_ms, __u32 rnd)
{
	return now_us + rnd % ((__u64)interval_ms * 1000);
}

__u64 hc_next_start(__u64 start_us, __u32 interval_ms, __u64 now_us)
{
	__u64 iv = (__u64)interval_ms * 1000, next = start_us + iv;

	/* Late by whole intervals: skip them, keeping the target's phase, or
	 * every target a stall made late would start at once from then on. */
	return next > now_us ? next : start_us + ((now_us - start_us) / iv + 1) * iv;
}

/* ------------------------------------------------------------------ */
/* Keys */

static int str_cmp(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "");
}

static int key_cmp(const struct hc_key *a, const struct hc_key *b)
{
	const __u32 x[] = { a->family, a->port, a->type, a->status, a->tls_verify,
			    a->interval_ms, a->timeout_ms, a->rise, a->fall, a->via,
			    a->vip_family };
	const __u32 y[] = { b->family, b->port, b->type, b->status, b->tls_verify,
			    b->interval_ms, b->timeout_ms, b->rise, b->fall, b->via,
			    b->vip_family };
	int c = memcmp(a->addr, b->addr, sizeof(a->addr));
	size_t i;

	if (!c)
		c = memcmp(a->vip_addr, b->vip_addr, sizeof(a->vip_addr));
	for (i = 0; !c && i < sizeof(x) / sizeof(x[0]); i++)
		c = x[i] == y[i] ? 0 : x[i] < y[i] ? -1 : 1;
	if (!c)
		c = str_cmp(a->path, b->path);
	return c ? c : str_cmp(a->host, b->host);
}

/* The check VIP vip asks for on its backend be. */
static struct hc_key key_of(const struct config_vip *v, size_t be)
{
	const struct config_backend *b = &v->backends[be];
	const struct config_health *hc = &v->health;
	bool http = hc->type == CONFIG_HC_HTTP || hc->type == CONFIG_HC_HTTPS;
	struct hc_key k = {
		.type = hc->type, .family = b->family, .port = b->hc_port ? b->hc_port : hc->port,
		.interval_ms = hc->interval_ms, .timeout_ms = hc->timeout_ms, .rise = hc->rise,
		.fall = hc->fall,
	};

	memcpy(k.addr, b->addr, sizeof(k.addr));
	if (hc->via == CONFIG_HC_TUNNEL) {
		k.via = CONFIG_HC_TUNNEL;
		k.vip_family = v->family;
		memcpy(k.vip_addr, v->addr, sizeof(k.vip_addr));
	}
	if (http) {
		k.path = b->hc_path ? b->hc_path : hc->path;
		k.host = hc->host;
		k.status = hc->status;
		k.tls_verify = hc->tls_verify;
	}
	return k;
}

/* A (key, feed) pair, sorted by key to group feeds into targets. */
struct want {
	struct hc_key key;
	struct hc_feed feed;
};

static int want_cmp(const void *a, const void *b)
{
	return key_cmp(&((const struct want *)a)->key, &((const struct want *)b)->key);
}

static struct want *wants_of(const struct state *st, size_t *n)
{
	const struct config *cfg = st->cfg;
	struct want *w;
	size_t i, j, k = 0;

	for (i = 0; i < cfg->n_vips; i++)
		if (cfg->vips[i].health.enabled)
			k += cfg->vips[i].n_backends;
	w = calloc(k + 1, sizeof(*w));
	if (!w)
		return NULL;
	k = 0;
	for (i = 0; i < cfg->n_vips; i++) {
		if (!cfg->vips[i].health.enabled)
			continue;
		for (j = 0; j < cfg->vips[i].n_backends; j++, k++) {
			w[k].key = key_of(&cfg->vips[i], j);
			w[k].feed.vip = (__u32)i;
			w[k].feed.be = (__u32)j;
		}
	}
	qsort(w, k, sizeof(*w), want_cmp);
	*n = k;
	return w;
}

/* ------------------------------------------------------------------ */
/* Targets */

static const char *const kind_names[] = {
	[CONFIG_HC_TCP] = "tcp", [CONFIG_HC_NONE] = "none", [CONFIG_HC_HTTP] = "http",
	[CONFIG_HC_HTTPS] = "https",
};

static void target_name(const struct hc_target *t, char *buf, size_t len)
{
	const struct hc_key *k = &t->key;
	bool tunnel = k->via == CONFIG_HC_TUNNEL;
	__u8 family = tunnel ? k->vip_family : k->family;
	char a[INET6_ADDRSTRLEN], be[INET6_ADDRSTRLEN + 6] = "";

	inet_ntop(family == LB_FAMILY_IPV4 ? AF_INET : AF_INET6, tunnel ? k->vip_addr : k->addr,
		  a, sizeof(a));
	if (tunnel) {
		memcpy(be, " via ", 5);
		inet_ntop(k->family == LB_FAMILY_IPV4 ? AF_INET : AF_INET6, k->addr, be + 5,
			  sizeof(be) - 5);
	}
	snprintf(buf, len, family == LB_FAMILY_IPV6 ? "[%s]:%u %s%s%s" : "%s:%u %s%s%s", a,
		 k->port, kind_names[k->type], k->path ? k->path : "", be);
}

/* "VIP web", "VIPs web, api", "VIPs web, api, dns and 7 more": which
 * VIPs a change touches, so that two checks of one address and port (with
 * and without tls_verify, say) are told apart. */
static void target_vips(const struct hc_target *t, char *buf, size_t len)
{
	const struct config *cfg = t->h->st->cfg;
	size_t i, n = t->n_feeds < 3 ? t->n_feeds : 3;
	int k = snprintf(buf, len, "VIP%s ", t->n_feeds == 1 ? "" : "s");

	for (i = 0; i < n && k > 0 && (size_t)k < len; i++)
		k += snprintf(buf + k, len - (size_t)k, "%s%s", i ? ", " : "",
			      cfg->vips[t->feeds[i].vip].name);
	if (t->n_feeds > n && k > 0 && (size_t)k < len)
		snprintf(buf + k, len - (size_t)k, " and %zu more", t->n_feeds - n);
}

/* A change, logged once for the target whatever it feeds, then told to
 * the state model for each (VIP, backend). */
static void target_changed(struct hc_target *t, enum state_health from, const char *reason,
			   __u64 now_ms)
{
	struct state *st = t->h->st;
	char name[128], vips[256];
	size_t i;

	target_name(t, name, sizeof(name));
	target_vips(t, vips, sizeof(vips));
	/* A new target whose feeds disagreed started unknown: a feed that
	 * was down comes back up now. */
	for (i = 0; from == STATE_HEALTH_UNKNOWN && i < t->n_feeds; i++)
		if (st->vips[t->feeds[i].vip].be[t->feeds[i].be].hl.health == STATE_HEALTH_DOWN)
			from = STATE_HEALTH_DOWN;
	if (t->run.health == STATE_HEALTH_DOWN) {
		t->h->c->changes[STATE_HEALTH_DOWN]++;
		log_warn("health: %s is down (%s); %s", name, reason, vips);
	} else if (from == STATE_HEALTH_DOWN) {
		t->h->c->changes[STATE_HEALTH_UP]++;
		log_info("health: %s is up again; %s", name, vips);
	} else {	/* unknown, counted as up already: nothing changes but the name */
		log_debug("health: %s is up; %s", name, vips);
	}
	for (i = 0; i < t->n_feeds; i++)
		state_health_set(st, t->feeds[i].vip, t->feeds[i].be, t->run.health, reason,
				 now_ms);
}

static void target_start(struct hc_target *t);

static void on_probe(struct probe *p, bool ok, const char *reason, __u32 us, void *data)
{
	struct hc_target *t = data;
	enum state_health was = t->run.health;
	__u64 now = clock_wall_ms();
	size_t i;

	t->h->c->probes++;
	metrics_hist_note(&t->h->c->probe_us[t->key.type], us);
	for (i = 0; i < t->n_feeds; i++)
		state_probe_note(t->h->st, t->feeds[i].vip, t->feeds[i].be, ok, us, now);
	if (hc_step(&t->run, ok, t->key.rise, t->key.fall) != was)
		target_changed(t, was, reason, now);
	if (t->start_owed) {
		t->start_owed = false;
		target_start(t);
	}
}

/* A tunnel probe's mark: the data path id of a (VIP, backend) it feeds;
 * they all name the same backend address. 0 while none has an id. */
static __u32 target_mark(const struct hc_target *t)
{
	const struct health *h = t->h;
	__u32 id;
	size_t i;

	for (i = 0; h->id_of && i < t->n_feeds; i++) {
		id = h->id_of(t->feeds[i].vip, t->feeds[i].be, h->id_data);
		if (id != LB_BACKEND_INVALID)
			return LB_PROBE_MARK | id;
	}
	return 0;
}

/* One target's probe, due now. */
static void target_start(struct hc_target *t)
{
	bool tunnel = t->key.via == CONFIG_HC_TUNNEL;
	__u32 mark = tunnel ? target_mark(t) : 0;

	/* A tunnel probe without a mark would go to the VIP bare, where any
	 * backend could answer it: skipped, as it would say nothing of this
	 * one. */
	if (tunnel && !mark) {
		log_debug("health: tunnel probe skipped: the backend has no data path id yet");
		return;
	}
	probe_mark_set(t->probe, mark);
	/* The last one has not ended (a timeout as long as the interval, a
	 * loop a little late): this one starts when it ends, not a whole
	 * interval later, so a silent backend is still down within fall x
	 * interval + timeout. */
	if (probe_start(t->probe) == -EBUSY)
		t->start_owed = true;
}

/* The tick waits for the earliest start; none: it sleeps. */
static void tick_arm(struct health *h)
{
	timeq_arm(&h->sched, h->tick);
}

/* Start every probe that is due. probe_start() never calls back, so the
 * schedule changes only here. */
static int on_tick(sd_event_source *s, uint64_t usec, void *data)
{
	struct health *h = data;
	__u64 now = clock_mono_us();
	struct timeq_slot *e;

	while ((e = timeq_first(&h->sched)) && e->due_us <= now) {
		struct hc_target *t = e->data;

		target_start(t);
		e->due_us = hc_next_start(e->due_us, t->key.interval_ms, now);
		timeq_moved(&h->sched, e);
	}
	tick_arm(h);
	return 0;
}

static void target_free(struct hc_target *t)
{
	if (!t)
		return;
	probe_free(t->probe);
	timeq_del(&t->h->sched, &t->next);
	free((char *)t->key.path);
	free((char *)t->key.host);
	free(t->feeds);
	free(t);
}

static __u32 rnd_next(struct health *h)
{
	h->rnd ^= h->rnd << 13;
	h->rnd ^= h->rnd >> 17;
	h->rnd ^= h->rnd << 5;
	return h->rnd;
}

static struct hc_target *target_new(struct health *h, const struct hc_key *key)
{
	struct hc_target *t = calloc(1, sizeof(*t));
	struct probe_spec ps;

	if (!t)
		return NULL;
	t->h = h;
	t->key = *key;
	t->key.path = key->path ? strdup(key->path) : NULL;
	t->key.host = key->host ? strdup(key->host) : NULL;
	ps = (struct probe_spec){
		.type = key->type, .family = key->family, .port = key->port,
		.path = t->key.path, .host = t->key.host, .status = key->status,
		.tls_verify = key->tls_verify, .timeout_ms = key->timeout_ms,
	};
	memcpy(ps.addr, key->addr, sizeof(ps.addr));
	if (key->via == CONFIG_HC_TUNNEL) {
		ps.family = key->vip_family;
		memcpy(ps.addr, key->vip_addr, sizeof(ps.addr));
		ps.device = h->tunnel_dev[0] ? h->tunnel_dev : NULL;
	}
	t->probe = probe_new(h->ps, &ps, on_probe, t);
	t->next.due_us = hc_first_start(clock_mono_us(), key->interval_ms, rnd_next(h));
	t->next.data = t;
	t->next.pos = SIZE_MAX;
	if ((key->path && !t->key.path) || (key->host && !t->key.host) || !t->probe ||
	    timeq_add(&h->sched, &t->next)) {
		target_free(t);
		return NULL;
	}
	return t;
}

/* The feeds of the run of wants [a, b), which share a key. */
static int feeds_set(struct hc_target *t, const struct want *w, size_t a, size_t b)
{
	struct hc_feed *f = calloc(b - a + 1, sizeof(*f));
	size_t i;

	if (!f)
		return -ENOMEM;
	for (i = a; i < b; i++)
		f[i - a] = w[i].feed;
	free(t->feeds);
	t->feeds = f;
	t->n_feeds = b - a;
	return 0;
}

/*
 * The health a new target starts from: what the state model has for its
 * feeds (saved health, after a restart) when they agree. When they do not
 * (the VIPs checked the backend apart before), unknown: each feed keeps its
 * own until the target's first verdict, which then reaches them all.
 */
static enum state_health feeds_agreed(const struct hc_target *t, const struct state *st)
{
	enum state_health h = st->vips[t->feeds[0].vip].be[t->feeds[0].be].hl.health;
	size_t i;

	for (i = 1; i < t->n_feeds; i++)
		if (st->vips[t->feeds[i].vip].be[t->feeds[i].be].hl.health != h)
			return STATE_HEALTH_UNKNOWN;
	return h;
}

/*
 * What a target knows goes to feeds that do not know it yet (a VIP that
 * now lists a backend already probed for another); a new target starts
 * from feeds_agreed().
 */
static void feeds_sync(struct hc_target *t, struct state *st, bool is_new)
{
	size_t i;

	if (!t->n_feeds)
		return;
	if (is_new) {
		t->run.health = feeds_agreed(t, st);
		return;
	}
	for (i = 0; i < t->n_feeds; i++) {
		const struct state_health_info *hl = &st->vips[t->feeds[i].vip].be[t->feeds[i].be].hl;

		if (t->run.health != STATE_HEALTH_UNKNOWN && hl->health != t->run.health)
			state_health_set(st, t->feeds[i].vip, t->feeds[i].be, t->run.health,
					 hl->reason[0] ? hl->reason : "checked for another VIP",
					 clock_wall_ms());
	}
}

/*
 * Merge the wanted keys with the running targets, both sorted, into out
 * (*n_out of them); kept[i] tells which running ones are in it. On error
 * out holds what was made so far.
 */
static int targets_merge(struct health *h, struct state *st, const struct want *w, size_t nw,
			 struct hc_target **out, size_t *n_out, bool *kept)
{
	size_t i = 0, a = 0, b;
	struct hc_target *t;
	int c;

	*n_out = 0;
	while (a < nw) {
		for (b = a + 1; b < nw && !key_cmp(&w[a].key, &w[b].key); b++)
			;
		while (i < h->n && key_cmp(&h->t[i]->key, &w[a].key) < 0)
			i++;
		c = i < h->n ? key_cmp(&h->t[i]->key, &w[a].key) : 1;
		if (!c)
			kept[i] = true;
		t = c ? target_new(h, &w[a].key) : h->t[i++];
		if (!t)
			return -ENOMEM;
		out[(*n_out)++] = t;
		if (feeds_set(t, w, a, b))
			return -ENOMEM;
		feeds_sync(t, st, c != 0);
		a = b;
	}
	return 0;
}

static bool target_old(const struct health *h, const struct hc_target *t)
{
	size_t i;

	for (i = 0; i < h->n; i++)
		if (h->t[i] == t)
			return true;
	return false;
}

/*
 * A TCP or HTTP target keeps its socket open between probes
 * (user/probe.c), so lbd needs a file per target: it takes every file the
 * hard limit allows (systemd's default soft limit is 1024), and says so
 * when the checks need more than that.
 */
static void files_raise(void)
{
	struct rlimit rl;

	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void files_check(const struct health *h)
{
	struct rlimit rl;

	/* 64 for everything else lbd has open. */
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur != RLIM_INFINITY &&
	    h->n + 64 > rl.rlim_cur)
		log_warn("health: %zu checks keep a socket each, but lbd may open only %llu "
			 "files: some checks will fail; raise the limit (LimitNOFILE=)", h->n,
			 (unsigned long long)rl.rlim_cur);
}

/* The tick may fire up to 5% of the shortest interval late (at most
 * 100 ms), so that probes due close together share a wake-up. */
static void tick_set_accuracy(struct health *h)
{
	__u64 acc = 100000;
	size_t i;

	for (i = 0; i < h->n; i++)
		if ((__u64)h->t[i]->key.interval_ms * 50 < acc)
			acc = (__u64)h->t[i]->key.interval_ms * 50;
	sd_event_source_set_time_accuracy(h->tick, acc);
}

int health_config(struct health *h, struct state *st)
{
	size_t nw = 0, n = 0, i;
	struct want *w = wants_of(st, &nw);
	struct hc_target **t = calloc(nw + 1, sizeof(*t));
	bool *kept = calloc(h->n + 1, sizeof(*kept));
	int rc = w && t && kept ? 0 : -ENOMEM;

	h->st = st;
	if (!rc)
		rc = targets_merge(h, st, w, nw, t, &n, kept);
	/* Out of memory half-way, the old targets' feeds may point into
	 * either state: no checks at all is the honest state to be in. The
	 * new targets are those of t no old one is. */
	for (i = 0; rc && i < n; i++)
		if (!target_old(h, t[i]))
			target_free(t[i]);
	for (i = 0; i < h->n; i++)
		if (rc || !kept[i])
			target_free(h->t[i]);
	free(w);
	free(kept);
	free(h->t);
	h->t = rc ? NULL : t;
	h->n = rc ? 0 : n;
	if (rc) {
		free(t);
		log_err("health: cannot set up the checks: %s; none run", strerror(-rc));
	}
	tick_set_accuracy(h);
	tick_arm(h);
	files_check(h);
	return rc;
}

struct health *health_new(sd_event *loop)
{
	struct health *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->loop = loop;
	h->own.layout = HEALTH_COUNTERS_LAYOUT;
	h->c = &h->own;
	h->rnd = (__u32)clock_mono_us() ^ (__u32)getpid() ^ 0x9e3779b9u;
	files_raise();
	h->ps = probes_new(loop);
	if (!h->ps || sd_event_add_time(loop, &h->tick, CLOCK_MONOTONIC, 0, 0, on_tick, h) < 0) {
		health_free(h);
		errno = ENOMEM;
		return NULL;
	}
	sd_event_source_set_enabled(h->tick, SD_EVENT_OFF);
	return h;
}

void health_free(struct health *h)
{
	size_t i;

	if (!h)
		return;
	for (i = 0; i < h->n; i++)
		target_free(h->t[i]);
	free(h->t);
	timeq_free(&h->sched);
	sd_event_source_disable_unref(h->tick);
	probes_free(h->ps);
	free(h);
}

void health_tunnel_set(struct health *h, const char *ifname, health_id_fn id_of, void *data)
{
	snprintf(h->tunnel_dev, sizeof(h->tunnel_dev), "%s", ifname ? ifname : "");
	h->id_of = id_of;
	h->id_data = data;
}

void health_stats_get(const struct health *h, struct health_stats *hs)
{
	size_t i;

	hs->targets = h->n;
	hs->feeds = 0;
	for (i = 0; i < h->n; i++)
		hs->feeds += h->t[i]->n_feeds;
	hs->counted = *h->c;
}

void health_counters_use(struct health *h, struct health_counters *c)
{
	h->c = c;
}
