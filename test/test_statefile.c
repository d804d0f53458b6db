// SPDX-License-Identifier: GPL-2.0-only
/*
 * The state file: a round trip keeps overrides, health and what all_down
 * holds; a torn, corrupt or foreign file is refused whole, with a reason
 * that says where; saving replaces the file atomically.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "config.h"
#include "state.h"
#include "statefile.h"

#define CFG(w1) \
	"{\"interface\": \"eth0\", \"tunnel_source\": {\"ipv4\": \"198.18.2.2\", \"ipv6\": " \
	"\"fd00:2::2\"}, \"vips\": [{\"name\": \"web\", \"address\": \"198.18.100.1\", " \
	"\"port\": 80, \"protocol\": \"tcp\", \"health_check\": {\"type\": \"tcp\"}, " \
	"\"backends\": [{\"address\": \"198.18.3.1\", \"weight\": " w1 "}, " \
	"{\"address\": \"198.18.3.2\"}, {\"address\": \"fd00:3::3\"}]}, " \
	"{\"name\": \"v6\", \"address\": \"fd00:100::1\", \"port\": 443, \"protocol\": \"tcp\", " \
	"\"health_check\": {\"type\": \"tcp\"}, \"backends\": [{\"address\": \"198.18.3.1\"}]}]}"

static char dir[64];

static void dir_make(void)
{
	snprintf(dir, sizeof(dir), "/tmp/lbstate.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void dir_remove(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(statefile, .init = dir_make, .fini = dir_remove);

static struct state *fresh(const char *text)
{
	struct config_errors errs = { 0 };
	struct config *cfg = NULL;

	cr_assert_eq(config_parse(text, strlen(text), "t.json", &cfg, &errs), 0, "config: %s",
		     errs.n ? errs.lines[0] : "?");
	return state_new(cfg, 1000);
}

static void save(const struct state *st)
{
	char err[256];

	cr_assert_eq(statefile_save(st, dir, 9000, err, sizeof(err)), 0, "%s", err);
}

static void file_write(const char *text)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/" STATEFILE_NAME, dir);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
}

Test(statefile, round_trip)
{
	struct state *st = fresh(CFG("100")), *back = fresh(CFG("100"));
	struct state_override d = { .has_state = true, .state = CONFIG_BACKEND_DRAIN };
	struct state_override w = { .has_weight = true, .weight = 42 };
	struct statefile_stats fs;
	char err[256];

	state_override_set(st, 0, 1, &d, 2000);
	state_override_set(st, 0, 2, &w, 2100);
	state_health_set(st, 0, 0, STATE_HEALTH_DOWN, "timeout after 200 ms", 3000);
	state_health_set(st, 0, 2, STATE_HEALTH_UP, "ok", 3100);
	state_health_set(st, 1, 0, STATE_HEALTH_DOWN, "refused", 3200);
	cr_assert(st->vips[1].all_down);
	cr_assert(st->vips[1].be[0].kept);
	save(st);
	cr_assert_eq(statefile_load(back, dir, 10000, &fs, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(fs.backends, 4);
	cr_assert_eq(fs.forgotten, 0);
	cr_assert_eq(fs.rs.overrides_dropped, 0);
	cr_assert_eq(back->vips[0].be[1].eff, STATE_DRAINING);
	cr_assert_eq(back->vips[0].be[1].ovr.since_ms, 2000);
	cr_assert_eq(back->vips[0].be[2].weight, 42);
	cr_assert_eq(back->vips[0].be[0].eff, STATE_OUT);
	cr_assert_eq(back->vips[0].be[0].hl.since_ms, 3000);
	cr_assert_str_eq(back->vips[0].be[0].hl.reason, "timeout after 200 ms");
	cr_assert_eq(back->vips[0].be[2].hl.health, STATE_HEALTH_UP);
	/* all_down keeps its start and its held set. */
	cr_assert(back->vips[1].all_down);
	cr_assert_eq(back->vips[1].all_down_since_ms, 3200);
	cr_assert(back->vips[1].be[0].kept);
	cr_assert_eq(back->vips[1].be[0].eff, STATE_IN);
	state_free(st);
	state_free(back);
}

/* The operator's deny rules go to the file and come back, in order. */
Test(statefile, operator_blocks_round_trip)
{
	struct state *st = fresh(CFG("100")), *back = fresh(CFG("100"));
	struct blocklist_rule a = { 0 }, b = { 0 };
	struct statefile_stats fs;
	char err[256], text[64];

	cr_assert_eq(blocklist_prefix_parse("198.19.0.0/16", &a), 0);
	cr_assert_eq(blocklist_prefix_parse("fd00:bad::1", &b), 0);
	cr_assert_eq(state_block_add(st, &a, 4000), 0);
	cr_assert_eq(state_block_add(st, &b, 5000), 0);
	save(st);
	cr_assert_eq(statefile_load(back, dir, 10000, &fs, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(fs.blocks, 2);
	cr_assert_eq(back->n_blocks, 2);
	cr_assert_eq(blocklist_prefix_format(&back->blocks[1].rule, text, sizeof(text)), 0);
	cr_assert_str_eq(text, "fd00:bad::1/128");
	cr_assert_eq(back->blocks[1].since_ms, 5000);
	cr_assert_eq(back->blocks[0].rule.vip, BLOCKLIST_DENY);
	cr_assert_eq(back->blocks[0].rule.flags, LB_RULE_F_OPERATOR);
	cr_assert_eq(state_block_find(back, &a), 0);
	state_free(st);
	state_free(back);
}

/* A drained node stays drained across a restart; an undrained one writes
 * nothing about it. */
Test(statefile, node_drain_round_trip)
{
	struct state *st = fresh(CFG("100")), *back = fresh(CFG("100"));
	struct statefile_stats fs;
	char err[256];

	state_node_drain(st, true, 4000);
	save(st);
	cr_assert_eq(statefile_load(back, dir, 10000, &fs, err, sizeof(err)), 0, "%s", err);
	cr_assert(back->node.drained);
	cr_assert_eq(back->node.since_ms, 4000);
	state_node_drain(st, false, 5000);
	save(st);
	state_free(back);
	back = fresh(CFG("100"));
	back->node.drained = true;
	cr_assert_eq(statefile_load(back, dir, 10000, &fs, err, sizeof(err)), 0, "%s", err);
	cr_assert(!back->node.drained, "a file without \"node\" is an undrained node");
	state_free(st);
	state_free(back);
}

/* Only what a restart could not work out again is written. */
Test(statefile, nothing_to_keep_writes_no_entries)
{
	struct state *st = fresh(CFG("100"));
	char path[128], buf[512];
	size_t n;
	FILE *f;

	save(st);
	snprintf(path, sizeof(path), "%s/" STATEFILE_NAME, dir);
	f = fopen(path, "r");
	cr_assert_not_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	cr_assert_not_null(strstr(buf, "\"vips\": []"), "%s", buf);
	cr_assert_not_null(strstr(buf, "\"format\": 1"), "%s", buf);
	state_free(st);
}

/* The config changed while lbd was not running: it speaks last. */
Test(statefile, config_changed_meanwhile_drops_the_override)
{
	struct state *st = fresh(CFG("100")), *back = fresh(CFG("250"));
	struct state_override w = { .has_weight = true, .weight = 42 };
	struct statefile_stats fs;
	char err[256];

	state_override_set(st, 0, 0, &w, 2000);
	save(st);
	cr_assert_eq(statefile_load(back, dir, 10000, &fs, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(fs.rs.overrides_dropped, 1);
	cr_assert_eq(back->vips[0].be[0].weight, 250);
	state_free(st);
	state_free(back);
}

Test(statefile, entries_the_config_lost_are_forgotten)
{
	struct state *back = fresh(CFG("100"));
	struct statefile_stats fs;
	char err[256];

	file_write("{\"format\": 1, \"saved_ms\": 5, \"vips\": ["
		   "{\"vip\": \"198.18.100.9:80/tcp\", \"name\": \"gone\", \"backends\": ["
		   "{\"address\": \"198.18.3.1\", \"config\": {\"state\": \"active\", \"weight\": 1},"
		   " \"override\": {\"state\": \"down\", \"since_ms\": 4}}]},"
		   "{\"vip\": \"198.18.100.1:80/tcp\", \"name\": \"web\", \"backends\": ["
		   "{\"address\": \"198.18.3.9\", \"config\": {\"state\": \"active\", \"weight\": 1},"
		   " \"override\": {\"state\": \"down\", \"since_ms\": 4}},"
		   "{\"address\": \"198.18.3.2\", \"config\": {\"state\": \"active\", \"weight\": 100},"
		   " \"override\": {\"state\": \"down\", \"since_ms\": 4}}]}]}");
	cr_assert_eq(statefile_load(back, dir, 10000, &fs, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(fs.forgotten, 2);
	cr_assert_eq(fs.backends, 1);
	cr_assert_eq(back->vips[0].be[1].eff, STATE_OUT);
	state_free(back);
}

/* Arrays, not pointers: Criterion hands the cases to a new process. */
struct bad_case {
	char text[320];
	char want[96];		/* the reason, after "DIR/state.json" */
};

static struct bad_case bad_cases[] = {
	{ "", ":1:0: '[' or '{' expected near end of file" },
	{ "{\"format\": 1, \"saved_ms\": 5, \"vips\": [", ":1:38: ']' expected near end of file" },
	{ "{\"format\": 1, \"format\": 1}", ":1:22: duplicate object key near '\"format\"'" },
	{ "[]", ": /: not an object" },
	{ "{\"format\": 2, \"vips\": []}", ": /format: a format this lbd does not know" },
	{ "{\"format\": 1}", ": /vips: missing, or not an array" },
	{ "{\"format\": 1, \"vips\": [{\"vip\": \"web\", \"backends\": []}]}",
	  ": /vips/0/vip: not ADDRESS:PORT/PROTOCOL" },
	{ "{\"format\": 1, \"vips\": [{\"vip\": \"198.18.100.1:80/tcp\", \"backends\": "
	  "[{\"address\": \"nope\", \"config\": {\"state\": \"active\", \"weight\": 1}}]}]}",
	  ": /vips/0/backends/0/address: not an IP address" },
	{ "{\"format\": 1, \"vips\": [{\"vip\": \"198.18.100.1:80/tcp\", \"backends\": "
	  "[{\"address\": \"198.18.3.1\", \"config\": {\"state\": \"sideways\", \"weight\": 1}}]}]}",
	  ": /vips/0/backends/0/state: unknown value" },
	{ "{\"format\": 1, \"vips\": [{\"vip\": \"198.18.100.1:80/tcp\", \"backends\": "
	  "[{\"address\": \"198.18.3.1\", \"config\": {\"state\": \"active\", \"weight\": 0}}]}]}",
	  ": /vips/0/backends/0/weight: weight out of range" },
	{ "{\"format\": 1, \"vips\": [{\"vip\": \"198.18.100.1:80/tcp\", \"backends\": "
	  "[{\"address\": \"198.18.3.1\", \"config\": {\"state\": \"active\", \"weight\": 1}, "
	  "\"health\": {\"state\": \"down\", \"since_ms\": -3, \"reason\": \"x\"}}]}]}",
	  ": /vips/0/backends/0/health/since_ms: not a non-negative integer" },
	{ "{\"format\": 1, \"vips\": [], \"blocks\": {}}", ": /blocks: not an array" },
	{ "{\"format\": 1, \"vips\": [], \"blocks\": [{\"prefix\": \"198.19.0.1/16\", "
	  "\"since_ms\": 1}]}",
	  ": /blocks/0/prefix: not a prefix (ADDRESS/LENGTH, host bits zero)" },
	{ "{\"format\": 1, \"vips\": [], \"blocks\": [{\"prefix\": \"198.19.0.0/16\"}]}",
	  ": /blocks/0/since_ms: missing" },
	{ "{\"format\": 1, \"vips\": [], \"blocks\": [{\"prefix\": \"fd00::/8\", "
	  "\"since_ms\": 1}, {\"prefix\": \"198.19.0.0/16\", \"since_ms\": 1}, "
	  "{\"prefix\": \"fd00::/8\", \"since_ms\": 2}]}",
	  ": /blocks/2/prefix: the same prefix as an entry before it" },
	{ "{\"format\": 1, \"vips\": [], \"node\": true}", ": /node/: not an object" },
	{ "{\"format\": 1, \"vips\": [], \"node\": {\"drained\": 1, \"since_ms\": 1}}",
	  ": /node/drained: missing, or not true or false" },
	{ "{\"format\": 1, \"vips\": [], \"node\": {\"drained\": true}}",
	  ": /node/since_ms: missing" },
};

ParameterizedTestParameters(statefile, refused_whole)
{
	return cr_make_param_array(struct bad_case, bad_cases,
				   sizeof(bad_cases) / sizeof(bad_cases[0]));
}

/* A bad file changes nothing, not even the entries before the fault. */
ParameterizedTest(struct bad_case *tc, statefile, refused_whole)
{
	struct state *st = fresh(CFG("100"));
	struct statefile_stats fs;
	char err[512], want[512];

	file_write(tc->text);
	cr_assert_eq(statefile_load(st, dir, 10000, &fs, err, sizeof(err)), -EINVAL, "%s", err);
	snprintf(want, sizeof(want), "%s/" STATEFILE_NAME "%s", dir, tc->want);
	cr_assert_str_eq(err, want);
	cr_assert_eq(st->vips[0].be[0].eff, STATE_IN);
	cr_assert_eq(st->vips[0].be[0].hl.health, STATE_HEALTH_UNKNOWN);
	cr_assert_eq(st->n_blocks, 0);
	cr_assert(!st->node.drained);
	state_free(st);
}

Test(statefile, missing_file_is_enoent)
{
	struct state *st = fresh(CFG("100"));
	struct statefile_stats fs;
	char err[256];

	cr_assert_eq(statefile_load(st, dir, 10000, &fs, err, sizeof(err)), -ENOENT);
	state_free(st);
}

/* A failed save leaves the last good file as it was, and no temporary. */
Test(statefile, failed_save_keeps_the_old_file)
{
	struct state *st = fresh(CFG("100")), *back = fresh(CFG("100"));
	struct state_override d = { .has_state = true, .state = CONFIG_BACKEND_DRAIN };
	struct statefile_stats fs;
	char err[256], path[128];

	state_override_set(st, 0, 1, &d, 2000);
	save(st);
	/* A directory where the temporary file would go: its creation fails. */
	snprintf(path, sizeof(path), "%s/" STATEFILE_NAME ".tmp", dir);
	cr_assert_eq(mkdir(path, 0700), 0);
	memset(&d, 0, sizeof(d));
	state_override_set(st, 0, 1, &d, 3000);
	cr_assert_eq(statefile_save(st, dir, 9000, err, sizeof(err)), -EISDIR);
	cr_assert_not_null(strstr(err, "creating " STATEFILE_NAME ".tmp: Is a directory"), "%s", err);
	cr_assert_eq(rmdir(path), 0);
	cr_assert_eq(statefile_load(back, dir, 10000, &fs, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(back->vips[0].be[1].eff, STATE_DRAINING, "the old file was damaged");
	state_free(st);
	state_free(back);
}

Test(statefile, save_creates_the_directory)
{
	struct state *st = fresh(CFG("100"));
	char err[256], sub[128];
	struct stat sb;

	snprintf(sub, sizeof(sub), "%s/a/b", dir);
	cr_assert_eq(statefile_save(st, sub, 9000, err, sizeof(err)), 0, "%s", err);
	snprintf(sub, sizeof(sub), "%s/a/b/" STATEFILE_NAME, dir);
	cr_assert_eq(stat(sub, &sb), 0);
	cr_assert_eq(sb.st_mode & 0777, 0600);
	state_free(st);
}
