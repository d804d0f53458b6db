// SPDX-License-Identifier: GPL-2.0-only
#include "metrics.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "announce.h"
#include "clock.h"
#include "stats.h"

/*
 * Label values need no escaping: VIP names are [A-Za-z0-9_.-] (config.c
 * refuses anything else), addresses are canonical text, and the other
 * values come from fixed tables here.
 *
 * A node with 64,000 backends makes 27 MB of text: it is written with
 * plain appends and a hand-rolled number formatter, about ten times what
 * stdio's printf family manages (docs/performance.md).
 */

/* A growing buffer; after a failed allocation every append is a no-op and
 * failed is set. */
struct text {
	char *p;
	size_t len, cap;
	bool failed;
};

static bool text_room(struct text *t, size_t more)
{
	size_t cap = t->cap ? t->cap : 65536;
	char *p;

	if (t->failed)
		return false;
	if (t->len + more <= t->cap)
		return true;
	while (cap < t->len + more)
		cap *= 2;
	p = realloc(t->p, cap);
	if (!p) {
		t->failed = true;
		return false;
	}
	t->p = p;
	t->cap = cap;
	return true;
}

static void put(struct text *t, const char *s)
{
	size_t n = strlen(s);

	if (text_room(t, n)) {
		memcpy(t->p + t->len, s, n);
		t->len += n;
	}
}

static void put_u64(struct text *t, unsigned long long v)
{
	char digits[24];
	size_t n = 0;

	do {
		digits[sizeof(digits) - 1 - n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	if (text_room(t, n)) {
		memcpy(t->p + t->len, digits + sizeof(digits) - n, n);
		t->len += n;
	}
}

/* name{labels,more} value\n; labels and more may be NULL. */
static void sample_more(struct text *t, const char *name, const char *labels,
			const char *more, unsigned long long v)
{
	put(t, name);
	if (labels) {
		put(t, "{");
		put(t, labels);
		if (more)
			put(t, more);
		put(t, "}");
	}
	put(t, " ");
	put_u64(t, v);
	put(t, "\n");
}

static void sample(struct text *t, const char *name, const char *labels,
		   unsigned long long v)
{
	sample_more(t, name, labels, NULL, v);
}

/* Seconds with milliseconds, from ms. */
static void sample_s(struct text *t, const char *name, __u64 ms)
{
	char frac[8];

	put(t, name);
	put(t, " ");
	put_u64(t, ms / 1000);
	snprintf(frac, sizeof(frac), ".%03u\n", (unsigned int)(ms % 1000));
	put(t, frac);
}

static void head(struct text *t, const char *name, const char *type, const char *help)
{
	put(t, "# HELP ");
	put(t, name);
	put(t, " ");
	put(t, help);
	put(t, "\n# TYPE ");
	put(t, name);
	put(t, " ");
	put(t, type);
	put(t, "\n");
}

/* A family of counters named by one label from a table. */
static void named_counters(struct text *t, const char *name, const char *label,
			   const char *const *names, const __u64 *v, size_t n, const char *help)
{
	char labels[96];
	size_t i;

	head(t, name, "counter", help);
	for (i = 0; i < n; i++) {
		snprintf(labels, sizeof(labels), "%s=\"%s\"", label, names[i]);
		sample(t, name, labels, v[i]);
	}
}

/* The buckets' upper bounds, as numbers and as the le label writes them. */
static const struct {
	__u64 us;
	const char *le;
} hist_bounds[METRICS_HIST_BUCKETS - 1] = {
	{ 500, "0.0005" }, { 1000, "0.001" }, { 2500, "0.0025" }, { 5000, "0.005" },
	{ 10000, "0.01" }, { 25000, "0.025" }, { 50000, "0.05" }, { 100000, "0.1" },
	{ 250000, "0.25" }, { 500000, "0.5" }, { 1000000, "1" }, { 2500000, "2.5" },
	{ 5000000, "5" },
};

void metrics_hist_note(struct metrics_hist *h, __u64 us)
{
	size_t i = 0;

	while (i < METRICS_HIST_BUCKETS - 1 && us > hist_bounds[i].us)
		i++;
	h->n[i]++;
	h->sum_us += us;
}

/* name_bucket{labels,le="..."} for each bound and +Inf, cumulative, then
 * name_sum (seconds) and name_count. */
static void hist_render(struct text *t, const char *name, const char *labels,
			const struct metrics_hist *h)
{
	char series[96], more[32], frac[16];
	__u64 total = 0;
	size_t i;

	snprintf(series, sizeof(series), "%s_bucket", name);
	for (i = 0; i < METRICS_HIST_BUCKETS; i++) {
		total += h->n[i];
		snprintf(more, sizeof(more), ",le=\"%s\"",
			 i < METRICS_HIST_BUCKETS - 1 ? hist_bounds[i].le : "+Inf");
		sample_more(t, series, labels, more, total);
	}
	snprintf(series, sizeof(series), "%s_sum{%s} ", name, labels);
	put(t, series);
	put_u64(t, h->sum_us / 1000000);
	snprintf(frac, sizeof(frac), ".%06u\n", (unsigned int)(h->sum_us % 1000000));
	put(t, frac);
	snprintf(series, sizeof(series), "%s_count", name);
	sample(t, series, labels, total);
}

static void health_render(struct text *t, const struct metrics_facts *m)
{
	static const enum config_hc_type kinds[] = { CONFIG_HC_TCP, CONFIG_HC_HTTP,
						     CONFIG_HC_HTTPS };
	static const char *const kind_names[] = { "tcp", "http", "https" };
	static const char *const to[] = { "up", "down" };
	const __u64 changes[] = { m->health_changes[STATE_HEALTH_UP],
				  m->health_changes[STATE_HEALTH_DOWN] };
	char labels[32];
	size_t i;

	head(t, "sluice_health_probes_total", "counter", "Health probes run since the "
	     "interface's pins were made.");
	sample(t, "sluice_health_probes_total", NULL, m->probes);
	head(t, "sluice_health_probe_duration_seconds", "histogram", "How long health probes "
	     "took, from the start to the answer, the failure or the timeout, by kind.");
	for (i = 0; i < 3; i++) {
		snprintf(labels, sizeof(labels), "kind=\"%s\"", kind_names[i]);
		hist_render(t, "sluice_health_probe_duration_seconds", labels,
			    &m->probe_us[kinds[i]]);
	}
	named_counters(t, "sluice_health_state_changes_total", "to", to, changes, 2,
		       "Health changes of checked backends, counted once per check however many "
		       "VIPs it feeds, by the state they went to.");
}

static void facts_render(struct text *t, const struct state *st, const struct metrics_facts *m)
{
	static const char *const lists[] = { "deny4", "deny6", "allow" };
	char labels[128];
	size_t i;

	head(t, "sluice_build_info", "gauge", "lbd's version and the tag of the balancer "
	     "program it runs.");
	snprintf(labels, sizeof(labels), "version=\"%s\",program_tag=\"%s\"", m->version,
		 m->program_tag);
	sample(t, "sluice_build_info", labels, 1);
	head(t, "sluice_config_generation", "gauge", "Configs taken since lbd started, 1 for "
	     "the first.");
	sample(t, "sluice_config_generation", NULL, st->generation);
	head(t, "sluice_config_loaded_timestamp_seconds", "gauge", "When the running config "
	     "was taken.");
	sample_s(t, "sluice_config_loaded_timestamp_seconds", st->config_ms);
	head(t, "sluice_config_last_reload_timestamp_seconds", "gauge", "When a config was "
	     "last offered (SIGHUP or lbctl config apply); 0: never.");
	sample_s(t, "sluice_config_last_reload_timestamp_seconds", m->reload_ms);
	head(t, "sluice_config_last_reload_success", "gauge", "1 if the last config offered "
	     "was applied, 0 if it was refused or applied only in part.");
	sample(t, "sluice_config_last_reload_success", NULL, m->reload_ok);
	head(t, "sluice_maps_in_sync", "gauge", "0 while a map write failed and is retried.");
	sample(t, "sluice_maps_in_sync", NULL, m->maps_ok);
	head(t, "sluice_block_rules", "gauge", "Source prefixes in each block list.");
	for (i = 0; i < 3; i++) {
		snprintf(labels, sizeof(labels), "list=\"%s\"", lists[i]);
		sample(t, "sluice_block_rules", labels, m->block_rules[i]);
	}
	health_render(t, m);
}

static void global_render(struct text *t, const struct readmodel *rm)
{
	const struct lb_global_stats *g = &rm->global;

	named_counters(t, "sluice_verdicts_total", "verdict", stats_verdict_names, g->verdict,
		       LB_VERDICT_MAX, "Packets by the XDP action the balancer returned.");
	named_counters(t, "sluice_drops_total", "reason", stats_drop_names + 1, g->drop + 1,
		       LB_DROP_MAX - 1, "Packets dropped, by reason.");
	named_counters(t, "sluice_events_total", "event", stats_event_names, g->event,
		       LB_EV_MAX, "Things the data path did besides forwarding.");
}

/* The per-VIP rows: a counter of lb_vip_stats (field >= 0), or all_down.
 * A VIP without an id (no full apply since a write failed) has no counter
 * samples: zeros would read as a reset, and its whole total as new traffic
 * once the apply is done. */
static void vips_render(struct text *t, const struct readmodel *rm, const struct state *st,
			const struct apply *ap)
{
	static const struct {
		const char *name, *type, *help;
		int field;	/* index into lb_vip_stats as __u64[]; -1: all_down */
	} rows[] = {
		{ "sluice_vip_packets_total", "counter", "Packets to the VIP.", 0 },
		{ "sluice_vip_bytes_total", "counter", "Frame bytes to the VIP, as received.", 1 },
		{ "sluice_vip_new_flows_total", "counter", "Flow table entries created.", 2 },
		{ "sluice_vip_nonsyn_misses_total", "counter", "TCP segments other than SYN "
		  "that found no flow entry (evicted, or moved to this node).", 3 },
		{ "sluice_vip_all_down", "gauge", "1 while health has every backend down and "
		  "the all_down policy is in force.", -1 },
	};
	char labels[96];
	size_t r, v;

	for (r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
		head(t, rows[r].name, rows[r].type, rows[r].help);
		for (v = 0; v < st->cfg->n_vips; v++) {
			const __u64 *c = (const __u64 *)&rm->vip[v];

			if (rows[r].field >= 0 && apply_vip_id(ap, v) >= LB_MAX_VIPS)
				continue;
			snprintf(labels, sizeof(labels), "vip=\"%s\"", st->cfg->vips[v].name);
			sample(t, rows[r].name, labels, rows[r].field < 0 ? st->vips[v].all_down :
			       c[rows[r].field]);
		}
	}
}

/* A bounded label from a health reason: its kind, not its text. 0 none,
 * 1 refused, 2 timeout, 3 status, 4 tls, 5 error (suffixes_make()). */
static int reason_kind(const char *reason)
{
	static const char *const kinds[] = { "refused", "timeout", "status", "tls" };
	int i;

	if (!reason[0] || !strcmp(reason, "ok"))
		return 0;
	for (i = 0; i < 4; i++)
		if (!strncmp(reason, kinds[i], strlen(kinds[i])))
			return i + 1;
	return 5;
}

enum be_row { BE_PACKETS, BE_BYTES, BE_WEIGHT, BE_STATE, BE_HEALTH, BE_SLOTS, BE_FLOWS };

static const struct {
	const char *name, *type, *help;
} be_rows[] = {
	[BE_PACKETS] = { "sluice_backend_packets_total", "counter",
			 "Packets sent to the backend." },
	[BE_BYTES] = { "sluice_backend_bytes_total", "counter",
		       "Frame bytes sent to the backend, as received." },
	[BE_WEIGHT] = { "sluice_backend_weight", "gauge",
			"The effective weight: the operator's override, else the config's." },
	[BE_STATE] = { "sluice_backend_state", "gauge", "The effective state (in: in the "
		       "table; draining: out, its flows stay; out), as a label." },
	[BE_HEALTH] = { "sluice_backend_health", "gauge", "Health (unknown, up, down) and the "
			"kind of its last reason (none, refused, timeout, status, tls, error), "
			"as labels." },
	[BE_SLOTS] = { "sluice_backend_table_slots", "gauge",
		       "Slots of the VIP's installed Maglev table that name the backend." },
	[BE_FLOWS] = { "sluice_backend_active_flows", "gauge",
		       "Flow entries on the backend seen in the last 30 seconds." },
};

struct be_suffixes;

struct be_ctx {
	struct text *t;
	const struct readmodel *rm;
	const struct state *st;
	const struct apply *ap;
	const __u32 *slots, *flows;
	const struct be_suffixes *sfx;
};

/* ,state="in" and the like, made once: a scrape writes one per backend. */
struct be_suffixes {
	char eff[3][32];
	char health[3][6][48];
};

static void suffixes_make(struct be_suffixes *x)
{
	static const char *const kinds[] = { "none", "refused", "timeout", "status", "tls",
					     "error" };
	int i, k;

	for (i = 0; i < 3; i++)
		snprintf(x->eff[i], sizeof(x->eff[i]), ",state=\"%s\"",
			 state_eff_name((enum state_eff)i));
	for (i = 0; i < 3; i++)
		for (k = 0; k < 6; k++)
			snprintf(x->health[i][k], sizeof(x->health[i][k]),
				 ",state=\"%s\",reason=\"%s\"",
				 state_health_name((enum state_health)i), kinds[k]);
}

static void be_sample(const struct be_ctx *c, enum be_row row, const char *labels, size_t v,
		      size_t b)
{
	const struct state_backend *sb = &c->st->vips[v].be[b];
	const char *name = be_rows[row].name;

	switch (row) {
	case BE_PACKETS:
		return sample(c->t, name, labels, c->rm->be[v][b].packets);
	case BE_BYTES:
		return sample(c->t, name, labels, c->rm->be[v][b].bytes);
	case BE_WEIGHT:
		return sample(c->t, name, labels, sb->weight);
	case BE_STATE:
		return sample_more(c->t, name, labels, c->sfx->eff[sb->eff], 1);
	case BE_HEALTH:
		return sample_more(c->t, name, labels,
				   c->sfx->health[sb->hl.health][reason_kind(sb->hl.reason)], 1);
	case BE_SLOTS:
		return sample(c->t, name, labels, c->slots[apply_backend_id(c->ap, v, b)]);
	case BE_FLOWS:
		return sample(c->t, name, labels, c->flows[apply_backend_id(c->ap, v, b)]);
	}
}

/* Every backend's vip="...",backend="..." once, not once a row. */
static char *be_labels(const struct config *cfg, size_t *stride)
{
	size_t v, b, k = 0, n = 0;
	char *all;

	for (v = 0; v < cfg->n_vips; v++)
		n += cfg->vips[v].n_backends;
	*stride = sizeof(cfg->vips[0].name) + sizeof(cfg->vips[0].backends[0].address) + 24;
	all = malloc(n * *stride + 1);
	for (v = 0; all && v < cfg->n_vips; v++)
		for (b = 0; b < cfg->vips[v].n_backends; b++, k++)
			snprintf(all + k * *stride, *stride, "vip=\"%s\",backend=\"%s\"",
				 cfg->vips[v].name, cfg->vips[v].backends[b].address);
	return all;
}

static void backends_render(const struct be_ctx *c)
{
	const struct config *cfg = c->st->cfg;
	size_t stride, v, b, k;
	char *labels = be_labels(cfg, &stride);
	int r;

	if (!labels) {
		c->t->failed = true;
		return;
	}
	for (r = BE_PACKETS; r <= BE_FLOWS; r++) {
		if ((r == BE_SLOTS && !c->slots) || (r == BE_FLOWS && !c->flows))
			continue;
		head(c->t, be_rows[r].name, be_rows[r].type, be_rows[r].help);
		for (v = 0, k = 0; v < cfg->n_vips; v++)
			for (b = 0; b < cfg->vips[v].n_backends; b++, k++)
				if (r > BE_BYTES ||
				    apply_backend_id(c->ap, v, b) != LB_BACKEND_INVALID)
					be_sample(c, (enum be_row)r, labels + k * stride, v, b);
	}
	free(labels);
}

/* Announcing over BGP (docs/scale-out.md), when the config has it. */
static void announce_render(struct text *t, const struct state *st, const struct metrics_facts *m)
{
	struct announce_vip a;
	char labels[160];
	size_t v;

	if (!m->announced)
		return;
	head(t, "sluice_node_drained", "gauge", "1 while the operator has drained the node "
	     "(lbctl node drain): it announces no VIP.");
	sample(t, "sluice_node_drained", NULL, st->node.drained);
	head(t, "sluice_announce_routes_in_sync", "gauge", "0 while writing the VIP routes "
	     "fails and is retried.");
	sample(t, "sluice_announce_routes_in_sync", NULL, m->routes_ok);
	head(t, "sluice_vip_announced", "gauge", "1 while the VIP's address has its route in "
	     "lbd's table for the BGP daemon to announce; reason says why it is or is not.");
	for (v = 0; v < st->cfg->n_vips; v++) {
		announce_decide(st, v, &a);
		snprintf(labels, sizeof(labels), "vip=\"%s\",reason=\"%s\"", st->cfg->vips[v].name,
			 announce_reason_name(a.reason));
		sample(t, "sluice_vip_announced", labels, m->announced[v]);
	}
	head(t, "sluice_vip_healthy_backends", "gauge", "Backends that count toward the VIP's "
	     "need: active and not down by health.");
	for (v = 0; v < st->cfg->n_vips; v++) {
		snprintf(labels, sizeof(labels), "vip=\"%s\"", st->cfg->vips[v].name);
		sample(t, "sluice_vip_healthy_backends", labels, state_vip_healthy(&st->vips[v]));
	}
}

void metrics_buf_free(struct metrics_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

int metrics_render(struct metrics_buf *out, const struct readmodel *rm,
		   const struct state *st, const struct apply *ap, const __u32 *slots,
		   const __u32 *flows, const struct metrics_facts *facts)
{
	struct text t = { .p = out->p, .cap = out->cap };
	struct be_suffixes sfx;
	const struct be_ctx c = { &t, rm, st, ap, slots, flows, &sfx };
	size_t i, n = 0;

	for (i = 0; i < st->cfg->n_vips; i++)
		n += st->cfg->vips[i].n_backends;
	/* Room for all of it at once: no copy as it grows, fewer faults. */
	text_room(&t, 65536 + st->cfg->n_vips * 512 + n * 480);
	suffixes_make(&sfx);

	facts_render(&t, st, facts);
	global_render(&t, rm);
	vips_render(&t, rm, st, ap);
	announce_render(&t, st, facts);
	backends_render(&c);
	out->p = t.p;
	out->cap = t.cap;
	out->len = t.failed ? 0 : t.len;
	return t.failed ? -ENOMEM : 0;
}

int metrics_scrape(const struct apply_maps *m, const struct apply *ap, const struct state *st,
		   const __u32 *flows, const struct metrics_facts *facts,
		   struct metrics_buf *out)
{
	__u32 *slots = calloc(LB_MAX_BACKENDS, sizeof(*slots));
	struct readmodel rm = { 0 };
	int rc = slots ? readmodel_read(&rm, m, ap, st, clock_wall_ms()) : -ENOMEM;

	out->len = 0;
	if (!rc) {
		apply_slots(ap, slots);
		rc = metrics_render(out, &rm, st, ap, slots, flows, facts);
	}
	readmodel_free(&rm);
	free(slots);
	return rc;
}
