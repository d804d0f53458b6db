// SPDX-License-Identifier: GPL-2.0-only
/*
 * The metrics text without a node: the duration histogram's buckets, and
 * the health series as a scrape writes them (an empty config, so only
 * lbd's own facts are in it).
 */
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "metrics.h"

struct bucket_case {
	__u64 us;
	size_t bucket;
};

/* A bound belongs to its own bucket (le: less than or equal). */
static struct bucket_case bucket_cases[] = {
	{ 0, 0 }, { 500, 0 }, { 501, 1 }, { 1000, 1 }, { 2400, 2 }, { 99999, 7 },
	{ 100000, 7 }, { 1000000, 10 }, { 5000000, 12 }, { 5000001, 13 },
	{ 3600000000ULL, 13 },
};

ParameterizedTestParameters(metrics, hist_bucket)
{
	return cr_make_param_array(struct bucket_case, bucket_cases,
				   sizeof(bucket_cases) / sizeof(bucket_cases[0]));
}

ParameterizedTest(struct bucket_case *tc, metrics, hist_bucket)
{
	struct metrics_hist h = { 0 };
	size_t i;

	metrics_hist_note(&h, tc->us);
	for (i = 0; i < METRICS_HIST_BUCKETS; i++)
		cr_assert_eq(h.n[i], i == tc->bucket, "%llu us: bucket %zu holds %llu",
			     (unsigned long long)tc->us, i, (unsigned long long)h.n[i]);
	cr_assert_eq(h.sum_us, tc->us);
}

static const char *const want_lines[] = {
	"# TYPE sluice_health_probe_duration_seconds histogram\n",
	"sluice_health_probe_duration_seconds_bucket{kind=\"tcp\",le=\"0.0005\"} 1\n",
	"sluice_health_probe_duration_seconds_bucket{kind=\"tcp\",le=\"0.001\"} 2\n",
	"sluice_health_probe_duration_seconds_bucket{kind=\"tcp\",le=\"0.5\"} 2\n",
	"sluice_health_probe_duration_seconds_bucket{kind=\"tcp\",le=\"+Inf\"} 3\n",
	"sluice_health_probe_duration_seconds_sum{kind=\"tcp\"} 7.001100\n",
	"sluice_health_probe_duration_seconds_count{kind=\"tcp\"} 3\n",
	"sluice_health_probe_duration_seconds_bucket{kind=\"http\",le=\"+Inf\"} 0\n",
	"sluice_health_probe_duration_seconds_sum{kind=\"http\"} 0.000000\n",
	"sluice_health_probe_duration_seconds_count{kind=\"https\"} 1\n",
	"# TYPE sluice_health_state_changes_total counter\n",
	"sluice_health_state_changes_total{to=\"up\"} 4\n",
	"sluice_health_state_changes_total{to=\"down\"} 5\n",
	"sluice_health_probes_total 4\n",
};

/* The text a scrape of config text gives, with no maps behind it (no
 * apply: no ids, so no VIP or backend counters). */
static char *render(const char *text, const struct metrics_facts *f)
{
	struct config_errors errs = { 0 };
	struct metrics_buf out = { 0 };
	struct readmodel rm = { 0 };
	struct config *cfg = NULL;
	struct state *st;
	char *s;

	cr_assert_eq(config_parse(text, strlen(text), "t.json", &cfg, &errs), 0);
	st = state_new(cfg, 1000);
	cr_assert_eq(metrics_render(&out, &rm, st, NULL, NULL, NULL, f), 0);
	s = strndup(out.p, out.len);
	metrics_buf_free(&out);
	state_free(st);
	return s;
}

Test(metrics, health_series)
{
	const char *text = "{\"interface\": \"eth0\", \"tunnel_source\": {\"ipv4\": \"198.18.2.2\"}, "
			   "\"vips\": []}";
	struct metrics_facts f = { .version = "1", .program_tag = "00", .maps_ok = true,
				   .probes = 4 };
	char *s;
	size_t i;

	metrics_hist_note(&f.probe_us[CONFIG_HC_TCP], 100);
	metrics_hist_note(&f.probe_us[CONFIG_HC_TCP], 1000);
	metrics_hist_note(&f.probe_us[CONFIG_HC_TCP], 7000000);
	metrics_hist_note(&f.probe_us[CONFIG_HC_HTTPS], 20000);
	f.health_changes[STATE_HEALTH_UP] = 4;
	f.health_changes[STATE_HEALTH_DOWN] = 5;
	s = render(text, &f);
	for (i = 0; i < sizeof(want_lines) / sizeof(want_lines[0]); i++)
		cr_assert(strstr(s, want_lines[i]), "no line %s in:\n%s", want_lines[i], s);
	cr_assert_null(strstr(s, "kind=\"none\""));
	free(s);
}

/* With no ids from a full apply (none yet, or a write failed since), a
 * VIP's and a backend's counters are left out rather than shown as 0,
 * which a scraper would take for a reset; the rest is there. */
Test(metrics, no_counters_without_ids)
{
	const char *text = "{\"interface\": \"eth0\", \"tunnel_source\": {\"ipv4\": "
			   "\"198.18.2.2\"}, \"vips\": [{\"name\": \"web\", \"address\": "
			   "\"198.18.100.1\", \"port\": 80, \"protocol\": \"tcp\", "
			   "\"backends\": [{\"address\": \"198.18.3.1\"}]}]}";
	struct metrics_facts f = { .version = "1", .program_tag = "00", .maps_ok = true };
	char *s = render(text, &f);

	cr_assert_null(strstr(s, "sluice_vip_packets_total{"), "%s", s);
	cr_assert_null(strstr(s, "sluice_backend_packets_total{"), "%s", s);
	cr_assert(strstr(s, "sluice_vip_all_down{vip=\"web\"} 0\n"), "%s", s);
	cr_assert(strstr(s, "sluice_backend_weight{vip=\"web\",backend=\"198.18.3.1\"} 100\n"),
		  "%s", s);
	free(s);
}
