// SPDX-License-Identifier: GPL-2.0-only
/*
 * Adds, removes or lists block-list rules in a node's pinned maps through
 * user/blocklist.c, as lbd will once it carries the block list: for
 * test/e2e_datapath.sh, until lbctl has `block add/del/list`.
 *
 * Usage: block_rule PIN_DIR add|del deny|VIP_ID PREFIX
 *        block_rule PIN_DIR list      (one rule a line: list prefix id packets)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "blocklist.h"

static const char *const map_names[] = {
	"deny4", "deny6", "deny_filter", "allow4", "allow6", "vip_allow", "block_stats", "lb_cfg",
};

static int usage(void)
{
	fprintf(stderr, "usage: block_rule PIN_DIR add|del deny|VIP_ID PREFIX\n"
			"       block_rule PIN_DIR list\n");
	return EXIT_FAILURE;
}

static int maps_open(const char *dir, struct blocklist_maps *m)
{
	int *fds[] = { &m->deny4, &m->deny6, &m->deny_filter, &m->allow4, &m->allow6,
		       &m->vip_allow, &m->block_stats, &m->lb_cfg };
	char path[512];
	size_t i;

	for (i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, map_names[i]);
		*fds[i] = bpf_obj_get(path);
		if (*fds[i] < 0) {
			fprintf(stderr, "block_rule: cannot open %s: %s\n", path, strerror(errno));
			return -errno;
		}
	}
	return 0;
}

static int list(struct blocklist *bl)
{
	struct blocklist_rule *rules;
	char prefix[64], vip[16];
	size_t n, i;
	int err = blocklist_list(bl, &rules, &n);

	if (err) {
		fprintf(stderr, "block_rule: cannot list: %s\n", strerror(-err));
		return EXIT_FAILURE;
	}
	for (i = 0; i < n; i++) {
		blocklist_prefix_format(&rules[i], prefix, sizeof(prefix));
		snprintf(vip, sizeof(vip), "%u", rules[i].vip);
		printf("%s %s %u %llu\n", rules[i].vip == BLOCKLIST_DENY ? "deny" : vip, prefix,
		       rules[i].id, (unsigned long long)rules[i].packets);
	}
	free(rules);
	return EXIT_SUCCESS;
}

int main(int argc, char **argv)
{
	struct blocklist_rule r = { .flags = LB_RULE_F_OPERATOR };
	struct blocklist_maps m;
	struct blocklist *bl;
	char *end;
	int err;

	if (argc != 3 && argc != 5)
		return usage();
	if (maps_open(argv[1], &m))
		return EXIT_FAILURE;
	bl = blocklist_new(&m);
	if (!bl) {
		fprintf(stderr, "block_rule: cannot read the block list: %s\n", strerror(errno));
		return EXIT_FAILURE;
	}
	if (argc == 3) {
		err = strcmp(argv[2], "list") ? usage() : list(bl);
		blocklist_free(bl);
		return err;
	}
	r.vip = BLOCKLIST_DENY;
	if (strcmp(argv[3], "deny")) {
		r.vip = (uint32_t)strtoul(argv[3], &end, 10);
		if (*end || end == argv[3])
			return usage();
	}
	if (blocklist_prefix_parse(argv[4], &r))
		return usage();
	if (!strcmp(argv[2], "add"))
		err = blocklist_add(bl, &r);
	else if (!strcmp(argv[2], "del"))
		err = blocklist_del(bl, &r);
	else
		return usage();
	blocklist_free(bl);
	if (err) {
		fprintf(stderr, "block_rule: %s %s: %s\n", argv[2], argv[4], strerror(-err));
		return EXIT_FAILURE;
	}
	return EXIT_SUCCESS;
}
