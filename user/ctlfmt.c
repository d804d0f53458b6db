// SPDX-License-Identifier: GPL-2.0-only
#include "ctlfmt.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define COLS_MAX	12
#define CELL_MAX	96

/* A table printed with its columns as wide as their widest cell. */
struct table {
	size_t cols, rows, cap;
	char (*cell)[COLS_MAX][CELL_MAX];
};

static void table_row(struct table *t, const char *const *cells)
{
	size_t c;

	if (t->rows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		void *n = realloc(t->cell, cap * sizeof(*t->cell));

		if (!n)
			return;
		t->cell = n;
		t->cap = cap;
	}
	for (c = 0; c < t->cols; c++)
		snprintf(t->cell[t->rows][c], CELL_MAX, "%s", cells[c] ? cells[c] : "");
	t->rows++;
}

static void table_print(FILE *f, struct table *t)
{
	size_t w[COLS_MAX] = { 0 }, r, c, len;

	for (r = 0; r < t->rows; r++)
		for (c = 0; c < t->cols; c++) {
			len = strlen(t->cell[r][c]);
			w[c] = len > w[c] ? len : w[c];
		}
	for (r = 0; r < t->rows; r++) {
		for (c = 0; c < t->cols; c++) {
			if (c + 1 == t->cols)
				fprintf(f, "%s\n", t->cell[r][c]);
			else
				fprintf(f, "%-*s  ", (int)w[c], t->cell[r][c]);
		}
	}
	free(t->cell);
	memset(t, 0, sizeof(*t));
}

static const char *str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "-";
}

static long long num(json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

/* A counter; "-" when lbd could not read it (null). */
static const char *numtxt(json_t *o, const char *key, char *buf)
{
	if (json_is_null(json_object_get(o, key)))
		return "-";
	snprintf(buf, CELL_MAX, "%lld", num(o, key));
	return buf;
}

/* "packets N, bytes N, new flows N, non-SYN misses N" of a VIP object. */
static void vip_counters(FILE *f, json_t *v)
{
	char a[CELL_MAX], b[CELL_MAX], c[CELL_MAX], d[CELL_MAX];

	fprintf(f, "packets %s, bytes %s, new flows %s, non-SYN misses %s",
		numtxt(v, "packets", a), numtxt(v, "bytes", b), numtxt(v, "new_flows", c),
		numtxt(v, "nonsyn_miss", d));
}

/* How long ago, in one unit: "45s", "12m", "3h", "2d". */
static void ago(char *buf, size_t len, __u64 now_ms, long long then_ms)
{
	long long s = then_ms > 0 && (long long)now_ms > then_ms ?
		      ((long long)now_ms - then_ms) / 1000 : 0;

	if (s < 120)
		snprintf(buf, len, "%llds", s);
	else if (s < 7200)
		snprintf(buf, len, "%lldm", s / 60);
	else if (s < 172800)
		snprintf(buf, len, "%lldh", s / 3600);
	else
		snprintf(buf, len, "%lldd", s / 86400);
}

static void utc(char *buf, size_t len, long long ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ------------------------------------------------------------------ */

/* "announce  table 100, 2 routes; node drained for 5m" */
static void node_line(FILE *f, json_t *n, __u64 now_ms)
{
	json_t *a = json_object_get(n, "announce");
	char since[32];

	if (!num(a, "table")) {
		fprintf(f, "announce  off\n");
		return;
	}
	fprintf(f, "announce  table %lld, %lld routes%s", num(a, "table"), num(a, "routes"),
		json_is_true(json_object_get(a, "in_sync")) ? "" : ", writing them fails");
	if (json_is_true(json_object_get(n, "drained"))) {
		ago(since, sizeof(since), now_ms, num(n, "since_ms"));
		fprintf(f, "; node DRAINED for %s: no VIP announced\n", since);
	} else {
		fprintf(f, "; node not drained\n");
	}
}

/* "yes", "no (below_need 0/2)", "-" when off. */
static const char *announce_txt(char *buf, size_t len, json_t *a)
{
	const char *reason = str(a, "reason");

	if (!strcmp(reason, "off"))
		return "-";
	if (!strcmp(reason, "below_need") || !strcmp(reason, "shared_address"))
		snprintf(buf, len, "%s (%s %lld/%lld)",
			 json_is_true(json_object_get(a, "announced")) ? "yes" : "no", reason,
			 num(a, "healthy"), num(a, "need"));
	else
		snprintf(buf, len, "%s (%s)",
			 json_is_true(json_object_get(a, "announced")) ? "yes" : "no", reason);
	if (json_is_true(json_object_get(a, "want")) != json_is_true(json_object_get(a, "announced")))
		strncat(buf, json_is_true(json_object_get(a, "want")) ? ", route not written yet" :
			", route not removed yet", len - strlen(buf) - 1);
	return buf;
}

void ctlfmt_status(FILE *f, json_t *r, __u64 now_ms)
{
	json_t *cfg = json_object_get(r, "config"), *nh = json_object_get(r, "next_hop");
	json_t *sf = json_object_get(r, "state_file"), *deg = json_object_get(r, "degraded"), *v;
	char when[40], up[32];
	size_t i;

	utc(when, sizeof(when), num(cfg, "loaded_ms"));
	ago(up, sizeof(up), now_ms, num(r, "started_ms"));
	fprintf(f, "lbd %s on %s (%s XDP, program %lld), up %s\n", str(r, "version"),
		str(r, "interface"), str(r, "xdp_mode"), num(r, "program_id"), up);
	fprintf(f, "config    %s, generation %lld, loaded %s\n", str(cfg, "file"),
		num(cfg, "generation"), when);
	fprintf(f, "next hop  %s%s%s (%s)%s\n",
		json_object_get(nh, "gateway") ? str(nh, "gateway") : "",
		json_object_get(nh, "gateway") ? " is " : "", str(nh, "mac"), str(nh, "mode"),
		json_is_true(json_object_get(nh, "resolved")) ? "" : ", not resolved");
	fprintf(f, "state     %s: %s; saving %s\n", str(sf, "dir"), str(sf, "at_start"),
		json_is_true(json_object_get(sf, "saving")) ? "ok" : "fails");
	fprintf(f, "VIPs      %lld, backends %lld\n", num(r, "vips"), num(r, "backends"));
	node_line(f, json_object_get(r, "node"), now_ms);
	if (!json_array_size(deg)) {
		fprintf(f, "degraded  no\n");
		return;
	}
	json_array_foreach(deg, i, v)
		fprintf(f, "%s%s\n", i ? "          " : "degraded  ", json_string_value(v));
}

static const char *all_down_txt(json_t *v)
{
	if (!json_is_true(json_object_get(v, "all_down")))
		return "-";
	return strcmp(str(v, "all_down_policy"), "drop") ? "keep" : "drop";
}

void ctlfmt_vip_list(FILE *f, json_t *r, __u64 now_ms)
{
	static const char *const head[] = { "NAME", "VIP", "HASH", "BACKENDS", "IN", "ALL_DOWN",
					    "ANNOUNCED", "PACKETS", "BYTES", "NEW_FLOWS",
					    "NONSYN_MISS" };
	struct table t = { .cols = 11 };
	char a[4][CELL_MAX], b[CELL_MAX], c[CELL_MAX], ann[CELL_MAX];
	json_t *v;
	size_t i;

	table_row(&t, head);
	json_array_foreach(r, i, v) {
		const char *row[] = { str(v, "name"), str(v, "vip"), str(v, "hash"),
				      numtxt(v, "backend_count", a[0]), numtxt(v, "backends_in", a[1]),
				      all_down_txt(v),
				      announce_txt(ann, sizeof(ann), json_object_get(v, "announce")),
				      numtxt(v, "packets", a[2]),
				      numtxt(v, "bytes", a[3]), numtxt(v, "new_flows", b),
				      numtxt(v, "nonsyn_miss", c) };

		table_row(&t, row);
	}
	table_print(f, &t);
}

/* "drain 5m" or "weight 50 12s" or "-". */
static void override_txt(char *buf, size_t len, json_t *o, __u64 now_ms)
{
	char since[32];
	int n = 0;

	if (!json_is_object(o)) {
		snprintf(buf, len, "-");
		return;
	}
	ago(since, sizeof(since), now_ms, num(o, "since_ms"));
	if (json_object_get(o, "state"))
		n = snprintf(buf, len, "%s ", str(o, "state"));
	if (json_object_get(o, "weight"))
		n += snprintf(buf + n, len - (size_t)n, "weight %lld ", num(o, "weight"));
	snprintf(buf + n, len - (size_t)n, "%s", since);
}

/* "up 5m", "down 12s (refused)", "unknown". */
static void health_txt(char *buf, size_t len, json_t *h, __u64 now_ms)
{
	char since[32];
	const char *reason = str(h, "reason");

	if (!strcmp(str(h, "state"), "unknown")) {
		snprintf(buf, len, "unknown");
		return;
	}
	ago(since, sizeof(since), now_ms, num(h, "since_ms"));
	if (*reason && strcmp(reason, "-"))
		snprintf(buf, len, "%s %s (%s)", str(h, "state"), since, reason);
	else
		snprintf(buf, len, "%s %s", str(h, "state"), since);
}

static void backends_table(FILE *f, json_t *r, __u64 now_ms, bool with_vip)
{
	static const char *const head[] = { "VIP", "BACKEND", "WEIGHT", "CONFIG", "OVERRIDE",
					    "HEALTH", "EFFECTIVE", "SLOTS", "FLOWS", "PACKETS",
					    "BYTES" };
	struct table t = { .cols = with_vip ? 11 : 10 };
	char w[CELL_MAX], cf[CELL_MAX], ov[CELL_MAX], hl[CELL_MAX], ef[CELL_MAX];
	char s[CELL_MAX], fl[CELL_MAX], p[CELL_MAX], by[CELL_MAX];
	json_t *b;
	size_t i;

	table_row(&t, with_vip ? head : head + 1);
	json_array_foreach(r, i, b) {
		json_t *c = json_object_get(b, "config");
		const char *row[11], **cell = row;

		snprintf(cf, sizeof(cf), "%s %lld", str(c, "state"), num(c, "weight"));
		override_txt(ov, sizeof(ov), json_object_get(b, "override"), now_ms);
		health_txt(hl, sizeof(hl), json_object_get(b, "health"), now_ms);
		snprintf(ef, sizeof(ef), "%s%s", str(b, "effective"),
			 json_is_true(json_object_get(b, "kept")) ? " (kept)" : "");
		if (with_vip)
			*cell++ = str(b, "vip");
		*cell++ = str(b, "address");
		*cell++ = numtxt(b, "weight", w);
		*cell++ = cf;
		*cell++ = ov;
		*cell++ = hl;
		*cell++ = ef;
		*cell++ = numtxt(b, "slots", s);
		*cell++ = json_object_get(b, "flows") ? numtxt(b, "flows", fl) : "-";
		*cell++ = numtxt(b, "packets", p);
		*cell = numtxt(b, "bytes", by);
		table_row(&t, row);
	}
	table_print(f, &t);
}

void ctlfmt_backend_list(FILE *f, json_t *r, __u64 now_ms)
{
	backends_table(f, r, now_ms, true);
}

void ctlfmt_vip_show(FILE *f, json_t *r, __u64 now_ms)
{
	char since[32], ann[CELL_MAX];

	fprintf(f, "%s  %s  hash %s, table %lld slots, all_down %s\n", str(r, "name"),
		str(r, "vip"), str(r, "hash"), num(r, "table_size"), str(r, "all_down_policy"));
	if (json_is_true(json_object_get(r, "all_down"))) {
		ago(since, sizeof(since), now_ms, num(r, "all_down_since_ms"));
		fprintf(f, "ALL_DOWN for %s: every backend is down by health\n", since);
	}
	vip_counters(f, r);
	fprintf(f, "\n");
	fprintf(f, "%lld backends, %lld in the table\n", num(r, "backend_count"),
		num(r, "backends_in"));
	fprintf(f, "announced %s\n\n", announce_txt(ann, sizeof(ann), json_object_get(r, "announce")));
	backends_table(f, json_object_get(r, "backends"), now_ms, false);
}

void ctlfmt_backend(FILE *f, json_t *r, __u64 now_ms)
{
	char ov[CELL_MAX], hl[CELL_MAX];

	override_txt(ov, sizeof(ov), json_object_get(r, "override"), now_ms);
	health_txt(hl, sizeof(hl), json_object_get(r, "health"), now_ms);
	fprintf(f, "%s: %s, weight %lld (override %s, health %s)\n", str(r, "address"),
		str(r, "effective"), num(r, "weight"), ov, hl);
}

void ctlfmt_drained(FILE *f, json_t *r, __u64 now_ms)
{
	fprintf(f, "%s %s: drained, no flows left after %lld s\n", str(r, "vip"),
		str(r, "backend"), num(r, "waited_ms") / 1000);
}

static void counters(FILE *f, const char *title, json_t *o, bool skip_zero)
{
	const char *key;
	json_t *v;
	bool any = false;

	fprintf(f, "%s:", title);
	json_object_foreach(o, key, v) {
		if (skip_zero && !json_integer_value(v))
			continue;
		fprintf(f, " %s %lld", key, json_integer_value(v));
		any = true;
	}
	fprintf(f, "%s\n", any ? "" : " none");
}

void ctlfmt_stats(FILE *f, json_t *r, __u64 now_ms)
{
	json_t *vips = json_object_get(r, "vips"), *v;

	counters(f, "verdicts", json_object_get(r, "verdicts"), false);
	counters(f, "drops", json_object_get(r, "drops"), true);
	counters(f, "events", json_object_get(r, "events"), true);
	fprintf(f, "\n");
	if (json_array_size(vips) == 1 && json_object_get(json_array_get(vips, 0), "backends")) {
		v = json_array_get(vips, 0);
		fprintf(f, "%s  %s: ", str(v, "name"), str(v, "vip"));
		vip_counters(f, v);
		fprintf(f, "\n\n");
		backends_table(f, json_object_get(v, "backends"), now_ms, false);
		return;
	}
	ctlfmt_vip_list(f, vips, now_ms);
}

void ctlfmt_flow(FILE *f, json_t *r, __u64 now_ms)
{
	json_t *e = json_object_get(r, "flow_entry");

	fprintf(f, "VIP      %s\n", str(r, "vip"));
	fprintf(f, "backend  %s%s%s%s\n", str(r, "backend"),
		json_object_get(r, "effective") ? " (" : "", json_object_get(r, "effective") ?
		str(r, "effective") : "", json_object_get(r, "effective") ? ")" : "");
	if (!strcmp(str(r, "from"), "flow_table"))
		fprintf(f, "from     the flow table (entry seen %lld ms ago)\n", num(e, "age_ms"));
	else if (json_object_get(r, "slot"))
		fprintf(f, "from     the Maglev table: slot %lld of %lld%s\n", num(r, "slot"),
			num(r, "table_size"), e ? " (the flow's entry names a backend that is out)" :
			"");
	else
		fprintf(f, "from     no table\n");
	fprintf(f, "why      %s\n", str(r, "why"));
}

void ctlfmt_config_valid(FILE *f, json_t *r, __u64 now_ms)
{
	fprintf(f, "valid: %lld VIPs\n", num(r, "vips"));
}

static void side_txt(char *buf, size_t len, json_t *s)
{
	snprintf(buf, len, "%s %lld %s", str(s, "state"), num(s, "weight"), str(s, "effective"));
}

static void vip_diff_txt(FILE *f, json_t *v)
{
	char a[CELL_MAX], b[CELL_MAX];
	json_t *x;
	size_t i;

	fprintf(f, "%s  %s  %s", str(v, "name"), str(v, "vip"), str(v, "change"));
	if (json_object_get(v, "moved_slots") && strcmp(str(v, "change"), "same"))
		fprintf(f, ": %.1f%% of new flows move (%lld of %lld slots%s)",
			100 * json_real_value(json_object_get(v, "moved_share")),
			num(v, "moved_slots"), num(v, "table_size"),
			json_object_get(v, "table_size_was") ? ", the table changes size" : "");
	fprintf(f, "\n");
	json_array_foreach(json_object_get(v, "backends_added"), i, x)
		fprintf(f, "  + %s\n", json_string_value(x));
	json_array_foreach(json_object_get(v, "backends_removed"), i, x)
		fprintf(f, "  - %s\n", json_string_value(x));
	json_array_foreach(json_object_get(v, "backends_changed"), i, x) {
		side_txt(a, sizeof(a), json_object_get(x, "from"));
		side_txt(b, sizeof(b), json_object_get(x, "to"));
		fprintf(f, "  ~ %s  %s -> %s\n", str(x, "address"), a, b);
	}
}

void ctlfmt_config_diff(FILE *f, json_t *r, __u64 now_ms)
{
	json_t *v;
	size_t i;

	json_array_foreach(json_object_get(r, "vips"), i, v)
		vip_diff_txt(f, v);
	fprintf(f, "in all: %.1f%% of slots move (%lld of %lld)", 100 *
		json_real_value(json_object_get(r, "moved_share")), num(r, "moved_slots"),
		num(r, "slots"));
	if (num(r, "overrides_replaced"))
		fprintf(f, "; %lld operator overrides replaced", num(r, "overrides_replaced"));
	fprintf(f, "\n");
}

void ctlfmt_config_applied(FILE *f, json_t *r, __u64 now_ms)
{
	fprintf(f, "applied: generation %lld; tables swapped %lld, emptied %lld; VIPs +%lld -%lld; "
		   "backends +%lld ~%lld retired %lld; written to %s\n", num(r, "generation"),
		num(r, "tables_swapped"), num(r, "tables_emptied"), num(r, "vips_added"),
		num(r, "vips_removed"), num(r, "backends_added"), num(r, "backends_changed"),
		num(r, "backends_retired"), str(r, "file"));
}

void ctlfmt_config_show(FILE *f, json_t *r, __u64 now_ms)
{
	const char *t = json_string_value(json_object_get(r, "text"));
	size_t len = json_string_length(json_object_get(r, "text"));

	if (t)
		fwrite(t, 1, len, f);
}

/* "config", "operator 5m", "config, operator 2h". */
static void from_txt(char *buf, size_t len, json_t *rule, __u64 now_ms)
{
	json_t *from = json_object_get(rule, "from"), *s;
	size_t i, used = 0;
	char since[16] = "";

	buf[0] = '\0';
	json_array_foreach(from, i, s) {
		if (!strcmp(json_string_value(s), "operator"))
			ago(since, sizeof(since), now_ms, num(rule, "since_ms"));
		used += (size_t)snprintf(buf + used, used < len ? len - used : 0, "%s%s%s%s",
					 i ? ", " : "", json_string_value(s), *since ? " " : "",
					 since);
		if (used >= len)
			return;
	}
}

void ctlfmt_block_list(FILE *f, json_t *r, __u64 now_ms)
{
	static const char *const head[] = { "LIST", "VIP", "PREFIX", "FROM", "PACKETS" };
	struct table t = { .cols = 5 };
	char from[CELL_MAX], pk[CELL_MAX];
	json_t *v;
	size_t i;

	if (!json_array_size(r)) {
		fprintf(f, "no block rules: every source may reach every VIP\n");
		return;
	}
	table_row(&t, head);
	json_array_foreach(r, i, v) {
		const char *row[] = { str(v, "list"), str(v, "vip"), str(v, "prefix"), from,
				      numtxt(v, "packets", pk) };

		from_txt(from, sizeof(from), v, now_ms);
		table_row(&t, row);
	}
	table_print(f, &t);
}

void ctlfmt_block_added(FILE *f, json_t *r, __u64 now_ms)
{
	json_t *v = json_array_get(r, 0);
	char from[CELL_MAX];

	from_txt(from, sizeof(from), v, now_ms);
	fprintf(f, "%s: denied at every VIP (%s)\n", str(v, "prefix"), from);
}

void ctlfmt_block_removed(FILE *f, json_t *r, __u64 now_ms)
{
	json_t *v = json_array_get(r, 0);

	if (v)
		fprintf(f, "%s: removed from the operator's list; still denied by the config\n",
			str(v, "prefix"));
	else
		fprintf(f, "removed: the prefix is no longer denied\n");
}

void ctlfmt_node(FILE *f, json_t *r, __u64 now_ms)
{
	static const char *const head[] = { "NAME", "VIP", "ANNOUNCED" };
	struct table t = { .cols = 3 };
	char ann[CELL_MAX];
	json_t *v;
	size_t i;

	node_line(f, r, now_ms);
	table_row(&t, head);
	json_array_foreach(json_object_get(r, "vips"), i, v) {
		const char *row[] = { str(v, "name"), str(v, "vip"), announce_txt(ann, sizeof(ann), v) };

		table_row(&t, row);
	}
	table_print(f, &t);
}
