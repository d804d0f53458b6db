// SPDX-License-Identifier: GPL-2.0-only
/*
 * Tests of the config module. The data lives in $LB_CONFIG_DIR (the
 * source tree's test/configs):
 *  - every file in invalid/ fails with exactly the lines that
 *    invalid/expected.txt lists for it, in order;
 *  - every file in valid/ loads, and selected ones hold the values and
 *    defaults docs/config.md promises;
 *  - the same config in any order gives the same struct;
 *  - limits that need large input (file size, VIP and backend counts) run
 *    on text generated here.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "lb_abi.h"
#include "config.h"
#include "lb_test.h"

#define ARRAY_LEN(a)	(sizeof(a) / sizeof((a)[0]))

struct cfg_case {
	char file[NAME_MAX + 1];
};

/* A growable list of strings. */
struct strv {
	char **s;
	size_t n;
};

static void strv_push(struct strv *v, const char *s)
{
	v->s = realloc(v->s, (v->n + 1) * sizeof(*v->s));
	cr_assert_not_null(v->s);
	v->s[v->n] = strdup(s);
	cr_assert_not_null(v->s[v->n]);
	v->n++;
}

static void strv_free(struct strv *v)
{
	size_t i;

	for (i = 0; i < v->n; i++)
		free(v->s[i]);
	free(v->s);
	v->s = NULL;
	v->n = 0;
}

/* NULL when unset: parameter generators run before any test can fail. */
static const char *config_dir_or_null(void)
{
	const char *dir = getenv("LB_CONFIG_DIR");

	return dir && *dir ? dir : NULL;
}

static const char *config_dir(void)
{
	const char *dir = config_dir_or_null();

	if (!dir)
		cr_assert_fail("LB_CONFIG_DIR is not set: point it at the source tree's test/configs");
	return dir;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The *.json files of a test data directory, sorted. */
static int json_files(const char *sub, struct strv *out)
{
	char path[PATH_MAX];
	struct dirent *de;
	const char *dir = config_dir_or_null();
	size_t len;
	DIR *d;

	out->s = NULL;
	out->n = 0;
	if (!dir)
		return -ENOENT;
	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	d = opendir(path);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		len = strlen(de->d_name);
		if (len > 5 && !strcmp(de->d_name + len - 5, ".json"))
			strv_push(out, de->d_name);
	}
	closedir(d);
	qsort(out->s, out->n, sizeof(*out->s), name_cmp);
	return 0;
}

static void cases_free(struct criterion_test_params *p)
{
	cr_free(p->params);
}

/* Parameters for one test per file; none when the directory is missing,
 * which the data_dir test reports. */
static struct criterion_test_params cases_of(const char *sub)
{
	struct cfg_case *cases = NULL;
	struct strv files;
	size_t i;

	if (json_files(sub, &files) == 0 && files.n) {
		cases = cr_malloc(files.n * sizeof(*cases));
		for (i = 0; cases && i < files.n; i++)
			snprintf(cases[i].file, sizeof(cases[i].file), "%s", files.s[i]);
	}
	i = cases ? files.n : 0;
	strv_free(&files);
	return cr_make_param_array(struct cfg_case, cases, i, cases_free);
}

/* ------------------------------------------------------------------ */
/* expected.txt */

struct expected {
	struct strv lines;
	bool schema;
	bool found;
};

static void expected_read(const char *file, struct expected *exp)
{
	char path[PATH_MAX], *line = NULL, *nl, head[NAME_MAX + 16];
	size_t cap = 0;
	bool in = false;
	FILE *f;

	memset(exp, 0, sizeof(*exp));
	snprintf(path, sizeof(path), "%s/invalid/expected.txt", config_dir());
	f = fopen(path, "r");
	cr_assert_not_null(f, "cannot open %s: %s", path, strerror(errno));
	snprintf(head, sizeof(head), "== %s", file);
	while (getline(&line, &cap, f) > 0) {
		nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		if (!strncmp(line, "== ", 3)) {
			in = !strcmp(line, head) || (!strncmp(line, head, strlen(head)) &&
						     !strcmp(line + strlen(head), " schema"));
			cr_assert(!(in && exp->found), "%s: two sections for %s", path, file);
			if (in) {
				exp->found = true;
				exp->schema = strcmp(line, head) != 0;
			}
		} else if (in && line[0] && line[0] != '#') {
			strv_push(&exp->lines, line);
		}
	}
	free(line);
	fclose(f);
}

/* Every section names a file, every file has a section with lines. */
Test(config, expected_covers_every_file)
{
	struct expected exp;
	struct strv files;
	char path[PATH_MAX], *line = NULL, *sp;
	size_t cap = 0, i, sections = 0;
	FILE *f;

	cr_assert_eq(json_files("invalid", &files), 0);
	for (i = 0; i < files.n; i++) {
		expected_read(files.s[i], &exp);
		cr_expect(exp.found, "invalid/expected.txt has no section for %s", files.s[i]);
		cr_expect(!exp.found || exp.lines.n, "invalid/expected.txt: %s lists no error",
			  files.s[i]);
		strv_free(&exp.lines);
	}
	snprintf(path, sizeof(path), "%s/invalid/expected.txt", config_dir());
	f = fopen(path, "r");
	cr_assert_not_null(f);
	while (getline(&line, &cap, f) > 0) {
		if (strncmp(line, "== ", 3))
			continue;
		sections++;
		line[strcspn(line, "\n")] = '\0';
		sp = strchr(line + 3, ' ');
		cr_expect(!sp || !strcmp(sp, " schema"), "expected.txt: bad header \"%s\"", line);
		if (sp)
			*sp = '\0';
		snprintf(path, sizeof(path), "%s/invalid/%s", config_dir(), line + 3);
		cr_expect(access(path, R_OK) == 0, "expected.txt names %s, which is not there",
			  line + 3);
	}
	cr_expect_eq(sections, files.n, "%zu sections for %zu files", sections, files.n);
	free(line);
	fclose(f);
	strv_free(&files);
}

Test(config, data_dir)
{
	struct strv valid, invalid;

	config_dir();
	cr_assert_eq(json_files("valid", &valid), 0, "cannot list %s/valid", config_dir());
	cr_assert_eq(json_files("invalid", &invalid), 0, "cannot list %s/invalid", config_dir());
	cr_expect_geq(valid.n, 10, "only %zu valid configs", valid.n);
	cr_expect_geq(invalid.n, 40, "only %zu invalid configs", invalid.n);
	strv_free(&valid);
	strv_free(&invalid);
}

/* ------------------------------------------------------------------ */
/* Assertions on error lists */

static char *lines_join(char *const *lines, size_t n)
{
	size_t i, len = 1;
	char *s;

	for (i = 0; i < n; i++)
		len += strlen(lines[i]) + 3;
	s = calloc(1, len);
	cr_assert_not_null(s);
	for (i = 0; i < n; i++) {
		strcat(s, "  ");
		strcat(s, lines[i]);
		strcat(s, "\n");
	}
	return s;
}

static void assert_lines(const char *what, char *const *got, size_t n_got, char *const *want,
			 size_t n_want)
{
	char *g, *w;
	size_t i;

	for (i = 0; i < n_got && i < n_want; i++) {
		if (strcmp(got[i], want[i]))
			break;
	}
	if (i == n_got && i == n_want)
		return;
	g = lines_join(got, n_got);
	w = lines_join(want, n_want);
	cr_assert_fail("%s: error lines differ from line %zu on\ngot:\n%swant:\n%s", what, i + 1, g, w);
	free(g);
	free(w);
}

/* errs must hold exactly the lines given, in order. */
static void assert_errors(const char *what, const struct config_errors *errs,
			  const char *const *want, size_t n)
{
	assert_lines(what, errs->lines, errs->n, (char *const *)want, n);
}

static void assert_valid(const char *path, struct config **cfg)
{
	struct config_errors errs = { 0 };
	char *g;
	int ret;

	ret = config_load(path, cfg, &errs);
	if (ret || errs.n) {
		g = lines_join(errs.lines, errs.n);
		cr_assert_fail("%s: config_load: %d (%s)\n%s", path, ret, strerror(-ret), g);
		free(g);
	}
	cr_assert_not_null(*cfg);
	config_errors_clear(&errs);
}

static struct config *load_valid(const char *file)
{
	char path[PATH_MAX];
	struct config *cfg;

	snprintf(path, sizeof(path), "%s/valid/%s", config_dir(), file);
	assert_valid(path, &cfg);
	return cfg;
}

/* ------------------------------------------------------------------ */
/* Every file */

ParameterizedTestParameters(config, invalid_file)
{
	return cases_of("invalid");
}

ParameterizedTest(struct cfg_case *tc, config, invalid_file)
{
	struct config_errors errs = { 0 };
	struct config *cfg = (struct config *)1;
	struct expected exp;
	char prefix[PATH_MAX], path[PATH_MAX + sizeof(tc->file)];
	size_t i, plen;
	int ret;

	expected_read(tc->file, &exp);
	cr_assert(exp.found, "invalid/expected.txt has no section for %s", tc->file);
	snprintf(prefix, sizeof(prefix), "%s/invalid/", config_dir());
	snprintf(path, sizeof(path), "%s%s", prefix, tc->file);
	ret = config_load(path, &cfg, &errs);
	cr_assert_eq(ret, -EINVAL, "%s: config_load returned %d, not -EINVAL", tc->file, ret);
	cr_assert_null(cfg, "%s: *out is not NULL after an error", tc->file);
	/* Lines that name the file name it as given: compare base names. */
	plen = strlen(prefix);
	for (i = 0; i < errs.n; i++) {
		if (!strncmp(errs.lines[i], prefix, plen))
			memmove(errs.lines[i], errs.lines[i] + plen, strlen(errs.lines[i] + plen) + 1);
	}
	assert_lines(tc->file, errs.lines, errs.n, exp.lines.s, exp.lines.n);
	config_errors_clear(&errs);
	strv_free(&exp.lines);
}

static bool vip_sorted(const struct config_vip *a, const struct config_vip *b)
{
	int r;

	if (a->family != b->family)
		return a->family < b->family;
	r = memcmp(a->addr, b->addr, sizeof(a->addr));
	if (r)
		return r < 0;
	if (a->port != b->port)
		return a->port < b->port;
	return a->proto < b->proto;
}

static bool backend_sorted(const struct config_backend *a, const struct config_backend *b)
{
	if (a->family != b->family)
		return a->family < b->family;
	return memcmp(a->addr, b->addr, sizeof(a->addr)) < 0;
}

ParameterizedTestParameters(config, valid_file)
{
	return cases_of("valid");
}

/* Loads, and comes out in canonical order, strictly: no two keys equal. */
ParameterizedTest(struct cfg_case *tc, config, valid_file)
{
	struct config *cfg = load_valid(tc->file);
	const struct config_vip *v;
	size_t i, j;

	for (i = 0; i < cfg->n_vips; i++) {
		v = &cfg->vips[i];
		cr_expect(!i || vip_sorted(&cfg->vips[i - 1], v), "%s: VIP %zu out of order",
			  tc->file, i);
		for (j = 1; j < v->n_backends; j++)
			cr_expect(backend_sorted(&v->backends[j - 1], &v->backends[j]),
				  "%s: VIP %s backend %zu out of order", tc->file, v->name, j);
	}
	config_free(cfg);
}

/* ------------------------------------------------------------------ */
/* Values and defaults */

static __be32 ip4(const char *s)
{
	__be32 a;

	cr_assert_eq(inet_pton(AF_INET, s, &a), 1, "bad test address %s", s);
	return a;
}

static void assert_addr(__u8 family, const __be32 *addr, const char *want)
{
	__be32 a[4] = { 0 };
	int af = strchr(want, ':') ? AF_INET6 : AF_INET;

	cr_assert_eq(inet_pton(af, want, a), 1, "bad test address %s", want);
	cr_assert_eq(family, af == AF_INET ? LB_FAMILY_IPV4 : LB_FAMILY_IPV6, "%s: family %u",
		     want, family);
	cr_assert_arr_eq(addr, a, sizeof(a), "address is not %s", want);
}

static void assert_health(const struct config_health *h, bool enabled, __u16 port,
			  __u32 interval, __u32 timeout, __u32 rise, __u32 fall)
{
	cr_assert_eq(h->enabled, enabled);
	cr_assert_eq(h->port, port);
	cr_assert_eq(h->interval_ms, interval);
	cr_assert_eq(h->timeout_ms, timeout);
	cr_assert_eq(h->rise, rise);
	cr_assert_eq(h->fall, fall);
}

static void assert_backend(const struct config_backend *b, const char *addr, __u32 weight,
			   enum config_backend_state state)
{
	assert_addr(b->family, b->addr, addr);
	cr_assert_str_eq(b->address, addr);
	cr_assert_eq(b->weight, weight, "%s: weight %u", addr, b->weight);
	cr_assert_eq(b->state, state, "%s: state %d", addr, b->state);
}

Test(config, full_example)
{
	struct config *cfg = load_valid("full.json");
	const struct config_vip *web, *dns;

	cr_assert_str_eq(cfg->interface, "eth0");
	cr_assert(!cfg->xdp_generic);
	cr_assert(cfg->next_hop_auto);
	cr_assert(cfg->has_src4 && cfg->has_src6);
	cr_assert_eq(cfg->src4, ip4("198.18.2.2"));
	cr_assert_eq(cfg->src4_plen, 32);
	assert_addr(LB_FAMILY_IPV6, cfg->src6, "fd00:2::2");
	cr_assert_eq(cfg->src6_plen, 128);
	cr_assert_eq(cfg->mtu, 1500);
	cr_assert_eq(cfg->flow_table_size, 1048576);
	cr_assert_str_eq(cfg->control_socket, "/run/sluice/lbd.sock");
	cr_assert_str_eq(cfg->state_dir, "/var/lib/sluice");
	cr_assert_str_eq(cfg->metrics_listen, "127.0.0.1:9650");
	cr_assert_eq(cfg->metrics_family, LB_FAMILY_IPV4);
	cr_assert_eq(cfg->metrics_addr[0], ip4("127.0.0.1"));
	cr_assert_eq(cfg->metrics_port, 9650);
	cr_assert_eq(cfg->announce_table, 100);
	cr_assert_eq(cfg->n_vips, 2);

	web = &cfg->vips[0];	/* IPv4 sorts before IPv6 */
	cr_assert_str_eq(web->name, "web");
	assert_addr(web->family, web->addr, "198.18.100.1");
	cr_assert_str_eq(web->address, "198.18.100.1");
	cr_assert_eq(web->port, 80);
	cr_assert_eq(web->proto, IPPROTO_TCP);
	cr_assert(!web->hash_l3);
	cr_assert_eq(web->table_size, 65537);
	assert_health(&web->health, true, 80, 2000, 1000, 2, 3);
	cr_assert(!web->all_down_drop);
	cr_assert_eq(web->need, 1, "need defaults to one healthy backend");
	cr_assert_eq(web->n_backends, 2);
	assert_backend(&web->backends[0], "198.18.3.11", 100, CONFIG_BACKEND_ACTIVE);
	assert_backend(&web->backends[1], "198.18.3.12", 100, CONFIG_BACKEND_DRAIN);

	dns = &cfg->vips[1];
	cr_assert_str_eq(dns->name, "dns");
	assert_addr(dns->family, dns->addr, "fd00:100::53");
	cr_assert_eq(dns->port, 53);
	cr_assert_eq(dns->proto, IPPROTO_UDP);
	cr_assert(dns->hash_l3);
	cr_assert_eq(dns->table_size, 251);
	assert_health(&dns->health, false, 53, 2000, 1000, 2, 3);
	cr_assert(dns->all_down_drop);
	cr_assert_eq(dns->need, 2);
	cr_assert_eq(dns->n_backends, 3);
	assert_backend(&dns->backends[0], "198.18.3.23", 50, CONFIG_BACKEND_DOWN);
	assert_backend(&dns->backends[1], "fd00:3::21", 200, CONFIG_BACKEND_ACTIVE);
	assert_backend(&dns->backends[2], "fd00:3::22", 100, CONFIG_BACKEND_ACTIVE);
	config_free(cfg);
}

Test(config, top_level_defaults)
{
	struct config *cfg = load_valid("minimal.json");

	cr_assert_str_eq(cfg->interface, "eth0");
	cr_assert(!cfg->xdp_generic);
	cr_assert(cfg->next_hop_auto);
	cr_assert(cfg->has_src4);
	cr_assert(!cfg->has_src6);
	cr_assert_eq(cfg->src4_plen, 32);
	cr_assert_eq(cfg->mtu, 0, "no mtu: use the interface's");
	cr_assert_eq(cfg->flow_table_size, LB_FLOW_TABLE_DEFAULT);
	cr_assert_eq(cfg->new_flow_cap, 65536);
	cr_assert_eq(cfg->n_deny, 0);
	cr_assert_str_eq(cfg->control_socket, "/run/sluice/lbd.sock");
	cr_assert_str_eq(cfg->state_dir, "/var/lib/sluice");
	cr_assert_eq(cfg->metrics_family, 0, "metrics are off unless asked for");
	cr_assert_eq(cfg->announce_table, 0, "announcing is off unless asked for");
	cr_assert_eq(cfg->n_vips, 0);
	config_free(cfg);
}

static void assert_prefix(const struct blocklist_rule *r, __u32 vip, const char *want)
{
	char text[64];

	cr_assert_eq(r->vip, vip, "%s: vip %u", want, r->vip);
	cr_assert_eq(r->flags, 0);
	cr_assert_eq(blocklist_prefix_format(r, text, sizeof(text)), 0);
	cr_assert_str_eq(text, want);
}

/* The flood guard's cap, the deny list and the allow lists: values as
 * given, prefixes sorted (IPv4 first, then by address and length). */
Test(config, block_lists)
{
	struct config *cfg = load_valid("block_lists.json");
	static const char *const deny[] = { "192.0.2.0/25", "198.51.100.7/32", "203.0.113.0/24",
					    "2001:db8:bad::/48", "2001:db8:bad::1/128" };
	static const char *const allow[] = { "10.10.0.0/16", "10.20.0.0/16", "2001:db8:ad::/48" };
	size_t i;

	cr_assert_eq(cfg->new_flow_cap, 1000);
	cr_assert_eq(cfg->n_deny, 5);
	for (i = 0; i < 5; i++)
		assert_prefix(&cfg->deny[i], BLOCKLIST_DENY, deny[i]);
	cr_assert_str_eq(cfg->vips[0].name, "web");
	cr_assert_eq(cfg->vips[0].n_allow, 0, "an empty allow list: every source may");
	cr_assert_eq(cfg->vips[1].n_allow, 3);
	for (i = 0; i < 3; i++)
		assert_prefix(&cfg->vips[1].allow[i], 0, allow[i]);
	config_free(cfg);
}

Test(config, vip_defaults)
{
	struct config *cfg = load_valid("minimal_vip.json");
	const struct config_vip *v;

	cr_assert_eq(cfg->n_vips, 1);
	v = &cfg->vips[0];
	cr_assert(!v->hash_l3);
	cr_assert_eq(v->table_size, LB_TABLE_SIZE_DEFAULT);
	assert_health(&v->health, false, 80, 2000, 1000, 2, 3);
	cr_assert(!v->all_down_drop);
	cr_assert_eq(v->n_backends, 1);
	assert_backend(&v->backends[0], "198.18.3.11", 100, CONFIG_BACKEND_ACTIVE);
	config_free(cfg);
}

Test(config, health_defaults)
{
	struct config *cfg = load_valid("health_defaults.json");

	cr_assert_eq(cfg->n_vips, 3);
	cr_assert_str_eq(cfg->vips[0].name, "empty-block");
	assert_health(&cfg->vips[0].health, true, 80, 2000, 1000, 2, 3);
	cr_assert_str_eq(cfg->vips[1].name, "short-interval");
	assert_health(&cfg->vips[1].health, true, 8443, 500, 500, 2, 3);
	cr_assert_str_eq(cfg->vips[2].name, "off");
	assert_health(&cfg->vips[2].health, false, 0, 2000, 1000, 5, 3);
	config_free(cfg);
}

static const struct config_vip *vip_named(const struct config *cfg, const char *name)
{
	size_t i;

	for (i = 0; i < cfg->n_vips; i++)
		if (!strcmp(cfg->vips[i].name, name))
			return &cfg->vips[i];
	cr_assert_fail("no VIP %s", name);
	return NULL;
}

/* "via": direct unless the block says tunnel, whatever the type; a check
 * that is off keeps what it says. */
Test(config, health_via)
{
	static const struct {
		const char *vip;
		enum config_hc_via via;
		bool enabled;
	} want[] = {
		{ "tunnelled", CONFIG_HC_TUNNEL, true },
		{ "tunnelled-http", CONFIG_HC_TUNNEL, true },
		{ "direct", CONFIG_HC_DIRECT, true },
		{ "default", CONFIG_HC_DIRECT, true },
		{ "off", CONFIG_HC_TUNNEL, false },
	};
	struct config *cfg = load_valid("health_via.json");
	const struct config_vip *v;
	size_t i;

	cr_assert_eq(cfg->n_vips, ARRAY_LEN(want));
	for (i = 0; i < ARRAY_LEN(want); i++) {
		v = vip_named(cfg, want[i].vip);
		cr_assert_eq(v->health.via, want[i].via, "%s: via %d", want[i].vip, v->health.via);
		cr_assert_eq(v->health.enabled, want[i].enabled, "%s", want[i].vip);
	}
	v = vip_named(cfg, "tunnelled-http");
	cr_assert_eq(v->health.type, CONFIG_HC_HTTPS);
	cr_assert_eq(v->health.port, 8443);
	cr_assert_str_eq(v->health.host, "api.example");
	cr_assert_str_eq(vip_named(cfg, "direct")->health.host, "[fd00::1]");
	config_free(cfg);
}

Test(config, limits_high)
{
	const __u8 mac[6] = { 0x0a, 0x1b, 0x2c, 0x3d, 0x4e, 0x5f };
	struct config *cfg = load_valid("limits_high.json");
	const struct config_vip *v = &cfg->vips[0];

	cr_assert_str_eq(cfg->interface, "abcdefghijklmno");
	cr_assert(cfg->xdp_generic);
	cr_assert(!cfg->next_hop_auto);
	cr_assert_arr_eq(cfg->next_hop, mac, sizeof(mac));
	cr_assert(cfg->has_src4 && !cfg->has_src6);
	cr_assert_eq(cfg->src4, ip4("198.18.200.1"));
	cr_assert_eq(cfg->src4_plen, 32);
	cr_assert_eq(cfg->mtu, 9216);
	cr_assert_eq(cfg->flow_table_size, 67108864);
	cr_assert_eq(strlen(cfg->control_socket), 107);
	cr_assert_eq(strlen(cfg->state_dir), 4095);
	cr_assert_eq(strlen(v->name), 63);
	cr_assert_eq(v->port, 65535);
	cr_assert_eq(v->table_size, LB_TABLE_SIZE_MAX);
	assert_health(&v->health, true, 65535, 3600000, 3600000, 100, 100);
	assert_backend(&v->backends[0], "198.18.3.11", 65535, CONFIG_BACKEND_ACTIVE);
	assert_backend(&v->backends[1], "198.18.3.12", 1, CONFIG_BACKEND_ACTIVE);
	config_free(cfg);
}

Test(config, limits_low)
{
	struct config *cfg = load_valid("limits_low.json");
	const struct config_vip *v = &cfg->vips[0];

	cr_assert_str_eq(cfg->interface, "e");
	cr_assert_eq(cfg->mtu, 1280);
	cr_assert_eq(cfg->flow_table_size, 1024);
	cr_assert_str_eq(cfg->state_dir, "/");
	cr_assert_eq(v->port, 0);
	cr_assert_eq(v->table_size, 2);
	assert_health(&v->health, true, 1, 100, 50, 1, 1);
	config_free(cfg);
}

Test(config, prefix_sources)
{
	struct config *cfg = load_valid("prefix_sources.json");

	cr_assert(cfg->has_src4 && cfg->has_src6);
	cr_assert_eq(cfg->src4, ip4("198.18.200.0"));
	cr_assert_eq(cfg->src4_plen, 24);
	assert_addr(LB_FAMILY_IPV6, cfg->src6, "fd00:200::");
	cr_assert_eq(cfg->src6_plen, 96);
	config_free(cfg);

	cfg = load_valid("prefix_bounds.json");
	cr_assert_eq(cfg->src4, ip4("198.18.0.0"));
	cr_assert_eq(cfg->src4_plen, 16);
	assert_addr(LB_FAMILY_IPV6, cfg->src6, "fd00:200::7");
	cr_assert_eq(cfg->src6_plen, 128);
	config_free(cfg);
}

Test(config, ipv6_only)
{
	const __u8 mac[6] = { 0x02, 0, 0, 0, 0, 0x01 };
	struct config *cfg = load_valid("ipv6_only.json");

	cr_assert(!cfg->has_src4 && cfg->has_src6);
	cr_assert(!cfg->next_hop_auto);
	cr_assert_arr_eq(cfg->next_hop, mac, sizeof(mac));
	cr_assert_eq(cfg->metrics_family, LB_FAMILY_IPV6);
	assert_addr(cfg->metrics_family, cfg->metrics_addr, "fd00:9::1");
	cr_assert_eq(cfg->metrics_port, 9100);
	cr_assert_eq(cfg->n_vips, 2);
	cr_assert_str_eq(cfg->vips[0].name, "dns6");	/* port 53 before 443 */
	cr_assert_str_eq(cfg->vips[1].name, "web6");
	assert_backend(&cfg->vips[1].backends[1], "fd00:3::12", 300, CONFIG_BACKEND_ACTIVE);
	config_free(cfg);
}

/* All-ports VIPs beside specific ones; sorted by port, then protocol. */
Test(config, port_zero)
{
	static const char *const names[] = { "all-tcp", "all-udp", "dns", "web" };
	struct config *cfg = load_valid("port_zero.json");
	size_t i;

	cr_assert_eq(cfg->n_vips, ARRAY_LEN(names));
	for (i = 0; i < ARRAY_LEN(names); i++)
		cr_assert_str_eq(cfg->vips[i].name, names[i]);
	cr_assert(cfg->vips[0].hash_l3 && cfg->vips[1].hash_l3);
	assert_health(&cfg->vips[0].health, true, 8080, 2000, 1000, 2, 3);
	cr_assert(!cfg->vips[1].health.enabled);
	config_free(cfg);
}

Test(config, states_and_empty_vips)
{
	struct config *cfg = load_valid("states.json");
	const struct config_vip *v = &cfg->vips[0];

	assert_backend(&v->backends[0], "198.18.3.11", 100, CONFIG_BACKEND_ACTIVE);
	assert_backend(&v->backends[1], "198.18.3.12", 100, CONFIG_BACKEND_DRAIN);
	assert_backend(&v->backends[2], "198.18.3.13", 7, CONFIG_BACKEND_DOWN);
	config_free(cfg);

	cfg = load_valid("empty_backends.json");
	cr_assert_eq(cfg->n_vips, 2);
	cr_assert_eq(cfg->vips[0].n_backends, 0);
	cr_assert(cfg->vips[0].all_down_drop);
	cr_assert_eq(cfg->vips[1].n_backends, 0);
	cr_assert(!cfg->vips[1].all_down_drop);
	config_free(cfg);
}

/* All four tunnel combinations; IPv4 backends sort before IPv6 ones. */
Test(config, mixed_families)
{
	struct config *cfg = load_valid("mixed_families.json");
	const struct config_vip *v;

	cr_assert_eq(cfg->n_vips, 4);
	v = &cfg->vips[1];
	cr_assert_str_eq(v->name, "v4-in-v6");
	cr_assert_eq(v->family, LB_FAMILY_IPV4);
	cr_assert_eq(v->backends[0].family, LB_FAMILY_IPV6);
	v = &cfg->vips[3];
	cr_assert_str_eq(v->name, "v6-in-v6");
	cr_assert_eq(v->family, LB_FAMILY_IPV6);
	assert_backend(&v->backends[0], "198.18.3.12", 100, CONFIG_BACKEND_ACTIVE);
	assert_backend(&v->backends[1], "fd00:3::11", 100, CONFIG_BACKEND_ACTIVE);
	config_free(cfg);
}

/* ------------------------------------------------------------------ */
/* Order independence: compare canonical dumps of every field. */

static void dump_addr(FILE *f, __u8 family, const __be32 *addr)
{
	fprintf(f, "%u/%08x%08x%08x%08x", family, ntohl(addr[0]), ntohl(addr[1]), ntohl(addr[2]),
		ntohl(addr[3]));
}

static void dump_vip(FILE *f, const struct config_vip *v)
{
	const struct config_health *h = &v->health;
	const struct config_backend *b;
	size_t i;

	fprintf(f, "vip %s %s ", v->name, v->address);
	dump_addr(f, v->family, v->addr);
	fprintf(f, " %u %u l3=%d m=%u drop=%d\n", v->port, v->proto, v->hash_l3, v->table_size,
		v->all_down_drop);
	fprintf(f, " health %d %u %u %u %u %u\n", h->enabled, h->port, h->interval_ms,
		h->timeout_ms, h->rise, h->fall);
	for (i = 0; i < v->n_backends; i++) {
		b = &v->backends[i];
		fprintf(f, " backend %s ", b->address);
		dump_addr(f, b->family, b->addr);
		fprintf(f, " w=%u s=%d\n", b->weight, b->state);
	}
}

static char *config_dump(const struct config *cfg)
{
	char *buf = NULL;
	size_t len = 0, i;
	FILE *f = open_memstream(&buf, &len);

	cr_assert_not_null(f);
	fprintf(f, "if %s generic=%d auto=%d mac=%02x:%02x:%02x:%02x:%02x:%02x\n",
		cfg->interface, cfg->xdp_generic, cfg->next_hop_auto, cfg->next_hop[0],
		cfg->next_hop[1], cfg->next_hop[2], cfg->next_hop[3], cfg->next_hop[4],
		cfg->next_hop[5]);
	fprintf(f, "src4 %d %08x/%u src6 %d ", cfg->has_src4, ntohl(cfg->src4), cfg->src4_plen,
		cfg->has_src6);
	dump_addr(f, LB_FAMILY_IPV6, cfg->src6);
	fprintf(f, "/%u\nmtu %u flows %u sock %s state %s\n", cfg->src6_plen, cfg->mtu,
		cfg->flow_table_size, cfg->control_socket, cfg->state_dir);
	for (i = 0; i < cfg->n_vips; i++)
		dump_vip(f, &cfg->vips[i]);
	fclose(f);
	return buf;
}

static char *dump_text(const char *text, const char *name)
{
	struct config_errors errs = { 0 };
	struct config *cfg;
	char *dump, *g;
	int ret;

	ret = config_parse(text, strlen(text), name, &cfg, &errs);
	if (ret) {
		g = lines_join(errs.lines, errs.n);
		cr_assert_fail("%s: config_parse: %d\n%s", name, ret, g);
	}
	dump = config_dump(cfg);
	config_free(cfg);
	config_errors_clear(&errs);
	return dump;
}

Test(config, order_files)
{
	struct config *a = load_valid("order_a.json"), *b = load_valid("order_b.json");
	char *da = config_dump(a), *db = config_dump(b);

	cr_assert_str_eq(da, db, "order_a.json and order_b.json differ:\n%s\n%s", da, db);
	free(da);
	free(db);
	config_free(a);
	config_free(b);
}

static void perm_new(size_t *p, size_t n, __u32 *state)
{
	size_t i, j, t;

	for (i = 0; i < n; i++)
		p[i] = i;
	for (i = n - 1; i > 0; i--) {
		j = lb_test_rand(state) % (i + 1);
		t = p[i];
		p[i] = p[j];
		p[j] = t;
	}
}

#define ORDER_VIPS	12
#define ORDER_BACKENDS	9

/* VIP i, backend j: alternate families so the family ordering is exercised. */
static void order_backend(FILE *f, size_t i, size_t j)
{
	if (j % 2)
		fprintf(f, "{\"address\": \"fd00:3::%zx\", \"weight\": %zu}", i * 16 + j, j + 1);
	else
		fprintf(f, "{\"weight\": %zu, \"address\": \"198.18.%zu.%zu\"}", j + 1, i, j + 1);
}

static char *order_text(__u32 seed)
{
	size_t vp[ORDER_VIPS], bp[ORDER_BACKENDS], i, j, len;
	char *buf = NULL;
	FILE *f = open_memstream(&buf, &len);

	cr_assert_not_null(f);
	perm_new(vp, ORDER_VIPS, &seed);
	fputs("{\"vips\": [", f);
	for (i = 0; i < ORDER_VIPS; i++) {
		fprintf(f, "%s{\"name\": \"v%zu\", \"port\": %zu, \"protocol\": \"%s\", ",
			i ? ", " : "", vp[i], vp[i] / 3 * 10, vp[i] % 3 ? "tcp" : "udp");
		fprintf(f, "\"address\": \"%s\", \"backends\": [",
			vp[i] % 2 ? "fd00:100::1" : "198.18.100.1");
		perm_new(bp, ORDER_BACKENDS, &seed);
		for (j = 0; j < ORDER_BACKENDS; j++) {
			fputs(j ? ", " : "", f);
			order_backend(f, vp[i], bp[j]);
		}
		fputs("]}", f);
	}
	fputs("], \"tunnel_source\": {\"ipv6\": \"fd00:2::2\", \"ipv4\": \"198.18.2.2\"}, "
	      "\"interface\": \"eth0\"}", f);
	fclose(f);
	return buf;
}

Test(config, order_shuffled)
{
	char *text = order_text(1), *want = dump_text(text, "seed 1"), *got, name[32];
	__u32 seed;

	free(text);
	for (seed = 2; seed < 50; seed++) {
		snprintf(name, sizeof(name), "seed %u", seed);
		text = order_text(seed);
		got = dump_text(text, name);
		cr_assert_str_eq(got, want, "%s gives another config:\n%s", name, text);
		free(got);
		free(text);
	}
	free(want);
}

/* Addresses are compared as addresses, and stored in one spelling. */
Test(config, address_spelling)
{
	static const char *const fmt =
		"{\"interface\": \"eth0\", \"tunnel_source\": {\"ipv6\": \"%s\"}, \"vips\": "
		"[{\"name\": \"a\", \"address\": \"%s\", \"port\": 80, \"protocol\": \"tcp\", "
		"\"backends\": [{\"address\": \"%s\"}]}]}";
	char text[512], *a, *b;

	snprintf(text, sizeof(text), fmt, "fd00:2::2", "fd00:100::1", "fd00:3::1");
	a = dump_text(text, "short");
	snprintf(text, sizeof(text), fmt, "FD00:2:0::2", "fd00:100:0:0:0:0:0:1", "fd00:0003::0:1");
	b = dump_text(text, "long");
	cr_assert_str_eq(a, b);
	cr_assert_not_null(strstr(a, "backend fd00:3::1 "), "%s", a);
	free(a);
	free(b);
}

/* ------------------------------------------------------------------ */
/* Generated input: counts, sizes, I/O */

/* A config with n_vips VIPs of per_vip backends each, as one string. */
static char *big_config(size_t n_vips, size_t per_vip)
{
	char *buf = NULL;
	size_t len, i, j, k;
	FILE *f = open_memstream(&buf, &len);

	cr_assert_not_null(f);
	fputs("{\"interface\": \"eth0\", \"tunnel_source\": {\"ipv4\": \"198.18.2.2\"},\n"
	      "\"vips\": [\n", f);
	for (i = 0; i < n_vips; i++) {
		/* The default table size would pass the slot limit past 1023 VIPs. */
		fprintf(f, "%s{\"name\": \"v%zu\", \"address\": \"198.18.%zu.%zu\", \"port\": 80, "
			"\"protocol\": \"tcp\", \"table_size\": %d, \"backends\": [", i ? ",\n" : "",
			i, 100 + i / 250, i % 250 + 1, per_vip < 4093 ? 4093 : 65537);
		for (j = 0; j < per_vip; j++) {
			k = i * per_vip + j;
			fprintf(f, "%s{\"address\": \"10.%zu.%zu.%zu\"}", j ? "," : "", k >> 16,
				(k >> 8) & 0xff, k & 0xff);
		}
		fputs("]}", f);
	}
	fputs("]}\n", f);
	fclose(f);
	return buf;
}

static int parse_text(const char *text, struct config_errors *errs)
{
	struct config *cfg;
	int ret;

	ret = config_parse(text, strlen(text), "big.json", &cfg, errs);
	config_free(cfg);
	return ret;
}

Test(config, vip_count)
{
	static const char *const want[] = { "/vips: 4097 VIPs, at most 4096 are allowed" };
	struct config_errors errs = { 0 };
	char *text;

	text = big_config(LB_MAX_VIPS, 1);
	cr_assert_eq(parse_text(text, &errs), 0, "%zu errors", errs.n);
	free(text);
	text = big_config(LB_MAX_VIPS + 1, 1);
	cr_assert_eq(parse_text(text, &errs), -EINVAL);
	assert_errors("4097 VIPs", &errs, want, ARRAY_LEN(want));
	free(text);
	config_errors_clear(&errs);
}

Test(config, backend_count, .timeout = 60)
{
	static const char *const one[] = {
		"/vips/0/backends: 65536 backends, at most 65535 are allowed",
	};
	static const char *const all[] = {
		"/vips: 80000 backends in all VIPs, at most 65535 are allowed",
	};
	struct config_errors errs = { 0 };
	char *text;

	text = big_config(1, LB_MAX_BACKENDS - 1);
	cr_assert_eq(parse_text(text, &errs), 0, "%zu errors", errs.n);
	free(text);
	text = big_config(1, LB_MAX_BACKENDS);
	cr_assert_eq(parse_text(text, &errs), -EINVAL);
	assert_errors("65536 backends", &errs, one, ARRAY_LEN(one));
	free(text);
	text = big_config(2, 40000);
	cr_assert_eq(parse_text(text, &errs), -EINVAL);
	assert_errors("2 x 40000 backends", &errs, all, ARRAY_LEN(all));
	free(text);
	config_errors_clear(&errs);
}

/* A valid config padded with spaces to len bytes, in a new temporary file. */
static void write_padded(char *path, size_t len)
{
	static const char cfg[] =
		"{\"interface\": \"eth0\", \"tunnel_source\": {\"ipv4\": \"198.18.2.2\"}, "
		"\"vips\": []}";
	char *buf = malloc(len);
	int fd;

	cr_assert_not_null(buf);
	memset(buf, ' ', len);
	memcpy(buf, cfg, sizeof(cfg) - 1);
	fd = mkstemp(path);
	cr_assert_geq(fd, 0, "mkstemp: %s", strerror(errno));
	cr_assert_eq(write(fd, buf, len), (ssize_t)len);
	close(fd);
	free(buf);
}

Test(config, file_size_limit)
{
	char path[] = "/tmp/lb_config_XXXXXX", want[128];
	const char *wantv[] = { want };
	struct config_errors errs = { 0 };
	struct config *cfg;
	char *text;

	write_padded(path, CONFIG_FILE_MAX);
	assert_valid(path, &cfg);
	config_free(cfg);
	unlink(path);

	strcpy(path, "/tmp/lb_config_XXXXXX");
	write_padded(path, CONFIG_FILE_MAX + 1);
	cr_assert_eq(config_load(path, &cfg, &errs), -EINVAL);
	cr_assert_null(cfg);
	snprintf(want, sizeof(want), "%s: file is larger than 33554432 bytes", path);
	assert_errors("32 MiB + 1", &errs, wantv, 1);
	unlink(path);

	text = calloc(1, CONFIG_FILE_MAX + 1);
	cr_assert_not_null(text);
	cr_assert_eq(config_parse(text, CONFIG_FILE_MAX + 1, "mem.json", &cfg, &errs), -EINVAL);
	snprintf(want, sizeof(want), "mem.json: file is larger than 33554432 bytes");
	assert_errors("in memory", &errs, wantv, 1);
	free(text);
	config_errors_clear(&errs);
}

Test(config, io_errors)
{
	char want[PATH_MAX + 64];
	const char *wantv[] = { want };
	struct config_errors errs = { 0 };
	struct config *cfg = (struct config *)1;
	const char *missing = "/nonexistent/lbd.json";

	cr_assert_eq(config_load(missing, &cfg, &errs), -ENOENT);
	cr_assert_null(cfg);
	snprintf(want, sizeof(want), "%s: %s", missing, strerror(ENOENT));
	assert_errors("missing file", &errs, wantv, 1);

	cr_assert_eq(config_load("/", &cfg, &errs), -EISDIR);
	snprintf(want, sizeof(want), "/: %s", strerror(EISDIR));
	assert_errors("directory", &errs, wantv, 1);
	config_errors_clear(&errs);
}

/* Syntax errors name the file as the caller does; errs is emptied first. */
Test(config, parse_from_memory)
{
	static const char *const want[] = { "inline:1:13: end of file expected near '}'" };
	struct config_errors errs = { 0 };
	struct config *cfg;
	const char *text = "{\"vips\": []}}";

	cr_assert_eq(config_parse(text, strlen(text), "inline", &cfg, &errs), -EINVAL);
	cr_assert_eq(config_parse(text, strlen(text), "inline", &cfg, &errs), -EINVAL);
	assert_errors("inline", &errs, want, ARRAY_LEN(want));
	/* Without errs: the same verdict, nothing listed. */
	cr_assert_eq(config_parse(text, strlen(text), "inline", &cfg, NULL), -EINVAL);
	cr_assert_null(cfg);
	config_errors_clear(&errs);
	config_errors_clear(&errs);
	cr_assert_eq(errs.n, 0);
	cr_assert_null(errs.lines);
	config_free(NULL);
}

/* A config of one VIP whose allow list has n_allow hosts of 10/8, and a
 * deny list of n_deny hosts of 172.16/12 (none when 0). */
static char *rules_config(size_t n_allow, size_t n_deny)
{
	size_t cap = 256 + (n_allow + n_deny) * 24, len = 0, i;
	char *t = malloc(cap);

	cr_assert_not_null(t);
	len += (size_t)snprintf(t + len, cap - len, "{\"interface\": \"eth0\", \"tunnel_source\": "
				"{\"ipv4\": \"198.18.2.2\"}, ");
	if (n_deny) {
		len += (size_t)snprintf(t + len, cap - len, "\"deny\": [");
		for (i = 0; i < n_deny; i++)
			len += (size_t)snprintf(t + len, cap - len, "%s\"172.%zu.%zu.%zu/32\"",
						i ? ", " : "", 16 + i / 65536, i / 256 % 256,
						i % 256);
		len += (size_t)snprintf(t + len, cap - len, "], ");
	}
	len += (size_t)snprintf(t + len, cap - len, "\"vips\": [{\"name\": \"v\", \"address\": "
				"\"198.18.100.1\", \"port\": 80, \"protocol\": \"tcp\", "
				"\"backends\": [{\"address\": \"198.18.3.1\"}], \"allow\": [");
	for (i = 0; i < n_allow; i++)
		len += (size_t)snprintf(t + len, cap - len, "%s\"10.%zu.%zu.%zu\"", i ? ", " : "",
					i / 65536, i / 256 % 256, i % 256);
	snprintf(t + len, cap - len, "]}]}");
	return t;
}

/* Too many rules is one error, where the rules are: a list over the limit
 * on its own is not counted again in the total. */
Test(config, rule_counts, .timeout = 60)
{
	static const char *const one[] = { "/vips/0/allow: 65537 prefixes, at most 65536 "
					   "are allowed" };
	static const char *const with_deny[] = { "/deny: 65537 prefixes in the deny and allow "
						 "lists together, at most 65536 are allowed" };
	struct config_errors errs = { 0 };
	char *text;

	text = rules_config(LB_BLOCK_RULES_MAX + 1, 0);
	cr_assert_eq(parse_text(text, &errs), -EINVAL);
	assert_errors("65537 allow", &errs, one, ARRAY_LEN(one));
	free(text);
	config_errors_clear(&errs);
	text = rules_config(LB_BLOCK_RULES_MAX - 1, 2);
	cr_assert_eq(parse_text(text, &errs), -EINVAL);
	assert_errors("65535 allow + 2 deny", &errs, with_deny, ARRAY_LEN(with_deny));
	free(text);
	config_errors_clear(&errs);
}
