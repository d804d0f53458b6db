// SPDX-License-Identifier: GPL-2.0-only
#include "blocklist.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "lb_hash.h"

/* The four tries, in the order blocklist_list() reports them. */
enum bl_trie { BL_DENY4, BL_DENY6, BL_ALLOW4, BL_ALLOW6, BL_TRIES };

union bl_key {
	struct lb_deny4_key d4;
	struct lb_deny6_key d6;
	struct lb_allow4_key a4;
	struct lb_allow6_key a6;
};

struct blocklist {
	struct blocklist_maps m;
	int ncpu;
	uint64_t used[LB_BLOCK_RULES_MAX / 64];	/* rule ids in use */
	uint32_t next_id;			/* where the search for a free id starts */
	uint32_t rules[BL_TRIES];		/* rules per trie */
	uint32_t vip_rules[LB_MAX_VIPS];	/* allow rules per VIP, both families */
	/* Deny rules overlapping each bit of deny_filter; v6_all: IPv6 deny
	 * rules shorter than /16, which set every bit. */
	uint32_t refs4[LB_DENY_FILTER_BITS];
	uint32_t refs6[LB_DENY_FILTER_BITS];
	uint32_t v6_all;
	struct lb_deny_filter filter;		/* built from the refs, then written */
};

static int bl_fd(const struct blocklist *bl, enum bl_trie t)
{
	const int fds[BL_TRIES] = { bl->m.deny4, bl->m.deny6, bl->m.allow4, bl->m.allow6 };

	return fds[t];
}

static enum bl_trie bl_trie_of(const struct blocklist_rule *r)
{
	bool v6 = r->family == LB_FAMILY_IPV6;

	if (r->vip == BLOCKLIST_DENY)
		return v6 ? BL_DENY6 : BL_DENY4;
	return v6 ? BL_ALLOW6 : BL_ALLOW4;
}

static int bl_check(const struct blocklist_rule *r)
{
	if (r->family != LB_FAMILY_IPV4 && r->family != LB_FAMILY_IPV6)
		return -EINVAL;
	if (r->plen > (r->family == LB_FAMILY_IPV4 ? 32 : 128))
		return -EINVAL;
	if (r->vip != BLOCKLIST_DENY && r->vip >= LB_MAX_VIPS)
		return -EINVAL;
	return 0;
}

/* The trie key of a rule. */
static enum bl_trie bl_key_of(const struct blocklist_rule *r, union bl_key *k)
{
	enum bl_trie t = bl_trie_of(r);

	memset(k, 0, sizeof(*k));
	switch (t) {
	case BL_DENY4:
		k->d4.prefixlen = r->plen;
		k->d4.addr = r->addr[0];
		break;
	case BL_DENY6:
		k->d6.prefixlen = r->plen;
		memcpy(k->d6.addr, r->addr, sizeof(k->d6.addr));
		break;
	case BL_ALLOW4:
		k->a4.prefixlen = LB_ALLOW_VIP_BITS + r->plen;
		k->a4.vip = htonl(r->vip);
		k->a4.addr = r->addr[0];
		break;
	default:
		k->a6.prefixlen = LB_ALLOW_VIP_BITS + r->plen;
		k->a6.vip = htonl(r->vip);
		memcpy(k->a6.addr, r->addr, sizeof(k->a6.addr));
		break;
	}
	return t;
}

/* The rule a trie key stands for (vip, family, plen, addr). */
static void bl_rule_of(enum bl_trie t, const union bl_key *k, struct blocklist_rule *r)
{
	memset(r, 0, sizeof(*r));
	r->vip = BLOCKLIST_DENY;
	switch (t) {
	case BL_DENY4:
		r->family = LB_FAMILY_IPV4;
		r->plen = (uint8_t)k->d4.prefixlen;
		r->addr[0] = k->d4.addr;
		break;
	case BL_DENY6:
		r->family = LB_FAMILY_IPV6;
		r->plen = (uint8_t)k->d6.prefixlen;
		memcpy(r->addr, k->d6.addr, sizeof(r->addr));
		break;
	case BL_ALLOW4:
		r->vip = ntohl(k->a4.vip);
		r->family = LB_FAMILY_IPV4;
		r->plen = (uint8_t)(k->a4.prefixlen - LB_ALLOW_VIP_BITS);
		r->addr[0] = k->a4.addr;
		break;
	default:
		r->vip = ntohl(k->a6.vip);
		r->family = LB_FAMILY_IPV6;
		r->plen = (uint8_t)(k->a6.prefixlen - LB_ALLOW_VIP_BITS);
		memcpy(r->addr, k->a6.addr, sizeof(r->addr));
		break;
	}
}

static bool bl_id_used(const struct blocklist *bl, uint32_t id)
{
	return bl->used[id / 64] >> (id % 64) & 1;
}

static void bl_id_mark(struct blocklist *bl, uint32_t id, bool used)
{
	if (used)
		bl->used[id / 64] |= 1ULL << (id % 64);
	else
		bl->used[id / 64] &= ~(1ULL << (id % 64));
}

static int bl_id_take(struct blocklist *bl, uint32_t *id)
{
	uint32_t i, cand;

	for (i = 0; i < LB_BLOCK_RULES_MAX; i++) {
		cand = (bl->next_id + i) % LB_BLOCK_RULES_MAX;
		if (!bl_id_used(bl, cand)) {
			bl_id_mark(bl, cand, true);
			bl->next_id = (cand + 1) % LB_BLOCK_RULES_MAX;
			*id = cand;
			return 0;
		}
	}
	return -ENOSPC;
}

/*
 * Count a deny rule in (delta 1) or out (-1) of the deny filter's bits:
 * the /16s an IPv4 prefix overlaps, the /32s an IPv6 prefix of /16 or
 * longer overlaps (hashed; at most 65536 of them), or every bit.
 */
static void bl_filter_account(struct blocklist *bl, const struct blocklist_rule *r, int delta)
{
	unsigned int span, i;
	uint32_t first;

	if (r->family == LB_FAMILY_IPV4) {
		span = r->plen >= 16 ? 1 : 1u << (16 - r->plen);
		first = lb_deny4_bit(r->addr[0]);
		for (i = 0; i < span; i++)
			bl->refs4[first + i] += (uint32_t)delta;
		return;
	}
	if (r->plen < 16) {
		bl->v6_all += (uint32_t)delta;
		return;
	}
	span = r->plen >= 32 ? 1 : 1u << (32 - r->plen);
	first = ntohl(r->addr[0]);
	for (i = 0; i < span; i++)
		bl->refs6[lb_deny6_bit(htonl(first + i))] += (uint32_t)delta;
}

static void bl_account(struct blocklist *bl, const struct blocklist_rule *r, int delta)
{
	enum bl_trie t = bl_trie_of(r);

	bl->rules[t] += (uint32_t)delta;
	if (t == BL_ALLOW4 || t == BL_ALLOW6)
		bl->vip_rules[r->vip] += (uint32_t)delta;
	else
		bl_filter_account(bl, r, delta);
}

static int bl_filter_write(struct blocklist *bl)
{
	__u32 zero = 0, i;

	memset(&bl->filter, 0, sizeof(bl->filter));
	for (i = 0; i < LB_DENY_FILTER_BITS; i++) {
		if (bl->refs4[i])
			bl->filter.v4[i / 64] |= 1ULL << (i % 64);
		if (bl->refs6[i] || bl->v6_all)
			bl->filter.v6[i / 64] |= 1ULL << (i % 64);
	}
	return bpf_map_update_elem(bl->m.deny_filter, &zero, &bl->filter, BPF_ANY) ? -errno : 0;
}

/* Tell the data path how many rules each list has, and that they changed:
 * lb_config's counts and generation, read, changed and written back, and
 * one VIP's entry in vip_allow. */
static int bl_counts_write(struct blocklist *bl, uint32_t vip)
{
	struct lb_config cfg;
	__u32 zero = 0;
	int err;

	if (vip != BLOCKLIST_DENY &&
	    bpf_map_update_elem(bl->m.vip_allow, &vip, &bl->vip_rules[vip], BPF_ANY))
		return -errno;
	/* The filter before the counts: a deny rule is looked up only once
	 * both say so. */
	if (vip == BLOCKLIST_DENY) {
		err = bl_filter_write(bl);
		if (err)
			return err;
	}
	if (bpf_map_lookup_elem(bl->m.lb_cfg, &zero, &cfg))
		return -errno;
	cfg.deny4_rules = bl->rules[BL_DENY4];
	cfg.deny6_rules = bl->rules[BL_DENY6];
	cfg.allow_rules = bl->rules[BL_ALLOW4] + bl->rules[BL_ALLOW6];
	/* Established flows checked against the old lists must be checked
	 * again: a new rule may take them. */
	cfg.block_gen++;
	return bpf_map_update_elem(bl->m.lb_cfg, &zero, &cfg, BPF_ANY) ? -errno : 0;
}

/* Zero a rule id's counter, so a reused id starts from nothing. */
static int bl_counter_reset(struct blocklist *bl, uint32_t id)
{
	struct lb_block_stats *zero = calloc((size_t)bl->ncpu, sizeof(*zero));
	int err = 0;

	if (!zero)
		return -ENOMEM;
	if (bpf_map_update_elem(bl->m.block_stats, &id, zero, BPF_ANY))
		err = -errno;
	free(zero);
	return err;
}

static int bl_counter_read(struct blocklist *bl, uint32_t id, uint64_t *packets)
{
	struct lb_block_stats *vals = calloc((size_t)bl->ncpu, sizeof(*vals));
	int cpu, err = 0;

	if (!vals)
		return -ENOMEM;
	*packets = 0;
	if (bpf_map_lookup_elem(bl->m.block_stats, &id, vals))
		err = -errno;
	for (cpu = 0; !err && cpu < bl->ncpu; cpu++)
		*packets += vals[cpu].packets;
	free(vals);
	return err;
}

/*
 * Call fn for every rule of trie t, with the rule and its value. The
 * callback may not change the trie: deleting while walking would make
 * get_next_key start over.
 */
typedef int (*bl_walk_fn)(struct blocklist *bl, enum bl_trie t, const struct blocklist_rule *r,
			  const struct lb_block_rule *val, void *ctx);

static int bl_walk(struct blocklist *bl, enum bl_trie t, bl_walk_fn fn, void *ctx)
{
	union bl_key key, next;
	struct blocklist_rule r;
	struct lb_block_rule val;
	bool first = true;
	int fd = bl_fd(bl, t), err;

	memset(&key, 0, sizeof(key));
	for (;;) {
		memset(&next, 0, sizeof(next));
		if (bpf_map_get_next_key(fd, first ? NULL : &key, &next))
			return errno == ENOENT ? 0 : -errno;
		first = false;
		key = next;
		if (bpf_map_lookup_elem(fd, &key, &val)) {
			if (errno == ENOENT)
				continue;
			return -errno;
		}
		bl_rule_of(t, &key, &r);
		err = fn(bl, t, &r, &val, ctx);
		if (err)
			return err;
	}
}

static int bl_learn(struct blocklist *bl, enum bl_trie t, const struct blocklist_rule *r,
		    const struct lb_block_rule *val, void *ctx)
{
	(void)t;
	(void)ctx;
	if (val->id >= LB_BLOCK_RULES_MAX || (r->vip >= LB_MAX_VIPS && r->vip != BLOCKLIST_DENY))
		return -EUCLEAN;
	bl_id_mark(bl, val->id, true);
	bl_account(bl, r, 1);
	return 0;
}

int blocklist_sync(struct blocklist *bl)
{
	__u32 vip;

	for (vip = 0; vip < LB_MAX_VIPS; vip++) {
		if (bpf_map_update_elem(bl->m.vip_allow, &vip, &bl->vip_rules[vip], BPF_ANY))
			return -errno;
	}
	return bl_counts_write(bl, BLOCKLIST_DENY);
}

int blocklist_maps_find(struct bpf_object *obj, struct blocklist_maps *m)
{
	m->deny4 = bpf_object__find_map_fd_by_name(obj, "deny4");
	m->deny6 = bpf_object__find_map_fd_by_name(obj, "deny6");
	m->deny_filter = bpf_object__find_map_fd_by_name(obj, "deny_filter");
	m->allow4 = bpf_object__find_map_fd_by_name(obj, "allow4");
	m->allow6 = bpf_object__find_map_fd_by_name(obj, "allow6");
	m->vip_allow = bpf_object__find_map_fd_by_name(obj, "vip_allow");
	m->block_stats = bpf_object__find_map_fd_by_name(obj, "block_stats");
	m->lb_cfg = bpf_object__find_map_fd_by_name(obj, "lb_cfg");
	return m->deny4 < 0 || m->deny6 < 0 || m->deny_filter < 0 || m->allow4 < 0 ||
	       m->allow6 < 0 || m->vip_allow < 0 || m->block_stats < 0 || m->lb_cfg < 0 ?
	       -ENOENT : 0;
}

struct blocklist *blocklist_new(const struct blocklist_maps *m)
{
	struct blocklist *bl = calloc(1, sizeof(*bl));
	int t, err;

	if (!bl)
		return NULL;
	bl->m = *m;
	bl->ncpu = libbpf_num_possible_cpus();
	if (bl->ncpu < 0) {
		err = bl->ncpu;
		goto fail;
	}
	for (t = 0; t < BL_TRIES; t++) {
		err = bl_walk(bl, (enum bl_trie)t, bl_learn, NULL);
		if (err)
			goto fail;
	}
	err = blocklist_sync(bl);
	if (err)
		goto fail;
	return bl;
fail:
	free(bl);
	errno = -err;
	return NULL;
}

bool blocklist_prefix_mapped(const struct blocklist_rule *r)
{
	static const __u8 mapped[12] = { [10] = 0xff, [11] = 0xff };

	return r->family == LB_FAMILY_IPV6 && r->plen >= 96 && !memcmp(r->addr, mapped, 12);
}

void blocklist_free(struct blocklist *bl)
{
	free(bl);
}

int blocklist_prefix_parse(const char *text, struct blocklist_rule *r)
{
	char addr[INET6_ADDRSTRLEN + 1], *end;
	const char *slash = strchr(text, '/');
	size_t alen = slash ? (size_t)(slash - text) : strlen(text);
	__be32 a[4] = { 0 };
	unsigned long plen;
	uint8_t family;
	unsigned int max, i, bits;

	if (alen == 0 || alen >= sizeof(addr))
		return -EINVAL;
	memcpy(addr, text, alen);
	addr[alen] = '\0';
	if (inet_pton(AF_INET, addr, a) == 1)
		family = LB_FAMILY_IPV4;
	else if (inet_pton(AF_INET6, addr, a) == 1)
		family = LB_FAMILY_IPV6;
	else
		return -EINVAL;
	max = family == LB_FAMILY_IPV4 ? 32 : 128;
	plen = max;
	if (slash) {
		if (slash[1] < '0' || slash[1] > '9')
			return -EINVAL;
		errno = 0;
		plen = strtoul(slash + 1, &end, 10);
		if (errno || *end || plen > max)
			return -EINVAL;
	}
	/* Host bits must be zero, as ip-route(8) insists: "10.0.0.1/8" is
	 * more likely a typo than a wish for 10.0.0.0/8. */
	for (i = 0; i < max / 32; i++) {
		bits = plen > i * 32 ? (unsigned int)plen - i * 32 : 0;
		if (bits < 32 && (ntohl(a[i]) & (bits ? 0xffffffffu >> bits : 0xffffffffu)))
			return -EINVAL;
	}
	r->family = family;
	r->plen = (uint8_t)plen;
	memcpy(r->addr, a, sizeof(r->addr));
	return 0;
}

int blocklist_prefix_format(const struct blocklist_rule *r, char *buf, size_t len)
{
	char text[INET6_ADDRSTRLEN];
	int n;

	if (!inet_ntop(r->family == LB_FAMILY_IPV4 ? AF_INET : AF_INET6, r->addr, text,
		       sizeof(text)))
		return -errno;
	n = snprintf(buf, len, "%s/%u", text, r->plen);
	return n < 0 || (size_t)n >= len ? -ENOSPC : 0;
}

/* The trie and key of a rule, or -EINVAL for a bad one. */
static int bl_locate(const struct blocklist_rule *r, union bl_key *key, enum bl_trie *t)
{
	int err = bl_check(r);

	if (!err)
		*t = bl_key_of(r, key);
	return err;
}

/* Add without telling the data path the new counts yet. */
static int bl_insert(struct blocklist *bl, struct blocklist_rule *r)
{
	struct lb_block_rule val = { .flags = r->flags & LB_RULE_F_OPERATOR, .plen = r->plen };
	union bl_key key;
	enum bl_trie t;
	int err = bl_locate(r, &key, &t);

	if (!err)
		err = bl_id_take(bl, &val.id);
	if (err)
		return err;
	/* A reused id's counter starts from nothing, before any packet can
	 * reach the rule. */
	err = bl_counter_reset(bl, val.id);
	if (!err && bpf_map_update_elem(bl_fd(bl, t), &key, &val, BPF_NOEXIST))
		err = -errno;
	if (err) {
		bl_id_mark(bl, val.id, false);
		return err;
	}
	r->id = val.id;
	bl_account(bl, r, 1);
	return 0;
}

static int bl_remove(struct blocklist *bl, const struct blocklist_rule *r)
{
	struct lb_block_rule val;
	union bl_key key;
	enum bl_trie t;
	int err = bl_locate(r, &key, &t);

	if (err)
		return err;
	/* The lookup returns the longest prefix that matches; only a value
	 * of the same length is the rule's own. */
	if (bpf_map_lookup_elem(bl_fd(bl, t), &key, &val))
		return -errno;
	if (val.plen != r->plen)
		return -ENOENT;
	if (bpf_map_delete_elem(bl_fd(bl, t), &key))
		return -errno;
	if (val.id < LB_BLOCK_RULES_MAX)
		bl_id_mark(bl, val.id, false);
	bl_account(bl, r, -1);
	return 0;
}

int blocklist_add(struct blocklist *bl, struct blocklist_rule *r)
{
	int err = bl_insert(bl, r);

	return err ? err : bl_counts_write(bl, r->vip);
}

int blocklist_del(struct blocklist *bl, const struct blocklist_rule *r)
{
	int err = bl_remove(bl, r);

	return err ? err : bl_counts_write(bl, r->vip);
}

struct bl_collect {
	struct blocklist_rule *rules;
	size_t n, cap;
};

static int bl_collect(struct blocklist *bl, enum bl_trie t, const struct blocklist_rule *r,
		      const struct lb_block_rule *val, void *ctx)
{
	struct bl_collect *c = ctx;
	struct blocklist_rule *grown;
	int err;

	(void)t;
	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 64;
		grown = realloc(c->rules, c->cap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		c->rules = grown;
	}
	c->rules[c->n] = *r;
	c->rules[c->n].id = val->id;
	c->rules[c->n].flags = val->flags;
	err = bl_counter_read(bl, val->id, &c->rules[c->n].packets);
	if (err)
		return err;
	c->n++;
	return 0;
}

static int bl_cmp_rule(const void *a, const void *b)
{
	const struct blocklist_rule *x = a, *y = b;
	uint64_t vx = x->vip == BLOCKLIST_DENY ? 0 : 1 + (uint64_t)x->vip;
	uint64_t vy = y->vip == BLOCKLIST_DENY ? 0 : 1 + (uint64_t)y->vip;
	int c;

	if (vx != vy)
		return vx < vy ? -1 : 1;
	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	c = memcmp(x->addr, y->addr, sizeof(x->addr));
	if (c)
		return c;
	return (int)x->plen - (int)y->plen;
}

int blocklist_list(struct blocklist *bl, struct blocklist_rule **rules, size_t *n)
{
	struct bl_collect c = { 0 };
	int t, err;

	for (t = 0; t < BL_TRIES; t++) {
		err = bl_walk(bl, (enum bl_trie)t, bl_collect, &c);
		if (err) {
			free(c.rules);
			return err;
		}
	}
	if (c.n)
		qsort(c.rules, c.n, sizeof(*c.rules), bl_cmp_rule);
	*rules = c.rules;
	*n = c.n;
	return 0;
}

/* A rule's value again, with new flags: same id, same counter, one map
 * update, so no packet sees the prefix missing. */
static int bl_reflag(struct blocklist *bl, const struct blocklist_rule *have, uint32_t flags)
{
	struct lb_block_rule val = { .id = have->id, .flags = flags & LB_RULE_F_OPERATOR,
				     .plen = have->plen };
	union bl_key key;
	enum bl_trie t = bl_key_of(have, &key);

	return bpf_map_update_elem(bl_fd(bl, t), &key, &val, BPF_EXIST) ? -errno : 0;
}

/* want sorted, one entry per prefix: a prefix given twice keeps the union
 * of its flags. Returns the new count. */
static size_t bl_sort_unique(struct blocklist_rule *want, size_t n)
{
	size_t i, k = 0;

	if (n)
		qsort(want, n, sizeof(*want), bl_cmp_rule);
	for (i = 0; i < n; i++) {
		if (k && !bl_cmp_rule(&want[k - 1], &want[i]))
			want[k - 1].flags |= want[i].flags;
		else
			want[k++] = want[i];
	}
	return k;
}

/* Walk the sorted lists together: removals and flag changes (adding
 * false), or additions. */
static int bl_merge(struct blocklist *bl, const struct blocklist_rule *have, size_t nhave,
		    struct blocklist_rule *want, size_t n, bool adding)
{
	size_t i = 0, j = 0;
	int c, err = 0;

	while (!err && (i < nhave || j < n)) {
		c = i == nhave ? 1 : j == n ? -1 : bl_cmp_rule(&have[i], &want[j]);
		if (c < 0 && !adding)
			err = bl_remove(bl, &have[i]);
		else if (c > 0 && adding)
			err = bl_insert(bl, &want[j]);
		else if (!c && !adding && (have[i].flags ^ want[j].flags) & LB_RULE_F_OPERATOR)
			err = bl_reflag(bl, &have[i], want[j].flags);
		i += c <= 0;
		j += c >= 0;
	}
	return err;
}

/* The rules of want that have lacks: the ids an update takes. */
static size_t bl_additions(const struct blocklist_rule *have, size_t nhave,
			   const struct blocklist_rule *want, size_t n)
{
	size_t i = 0, j = 0, added = 0;
	int c;

	while (j < n) {
		c = i == nhave ? 1 : bl_cmp_rule(&have[i], &want[j]);
		added += c > 0;
		i += c <= 0;
		j += c >= 0;
	}
	return added;
}

static uint32_t bl_in_use(const struct blocklist *bl)
{
	uint32_t n = 0;
	int t;

	for (t = 0; t < BL_TRIES; t++)
		n += bl->rules[t];
	return n;
}

/* Open each VIP whose allow list want empties before its entries go: its
 * count still set and its entries gone, it would drop every source. */
static int bl_open_emptied(struct blocklist *bl, const struct blocklist_rule *want, size_t n)
{
	uint32_t *left = calloc(LB_MAX_VIPS, sizeof(*left)), vip, zero = 0;
	size_t i;
	int err = left ? 0 : -ENOMEM;

	for (i = 0; !err && i < n; i++) {
		enum bl_trie t = bl_trie_of(&want[i]);

		if ((t == BL_ALLOW4 || t == BL_ALLOW6) && want[i].vip < LB_MAX_VIPS)
			left[want[i].vip]++;
	}
	for (vip = 0; !err && vip < LB_MAX_VIPS; vip++)
		if (bl->vip_rules[vip] && !left[vip] &&
		    bpf_map_update_elem(bl->m.vip_allow, &vip, &zero, BPF_ANY))
			err = -errno;
	free(left);
	return err;
}

/*
 * With room for the new rules beside the old, the new go in and are
 * counted before the old go out: meanwhile the lists hold both, which
 * denies only what one of them denies and allows only what one allows, so
 * a source both allow (deny) is never dropped (passed) on the way, as it
 * was when a prefix went out before the one replacing it came in. Without
 * room, the old go first. Too many rules for the maps changes nothing.
 */
static int bl_update(struct blocklist *bl, const struct blocklist_rule *have, size_t nhave,
		     struct blocklist_rule *want, size_t n)
{
	int err;

	if (n > LB_BLOCK_RULES_MAX)
		return -ENOSPC;
	if (bl_additions(have, nhave, want, n) <= LB_BLOCK_RULES_MAX - bl_in_use(bl)) {
		err = bl_merge(bl, have, nhave, want, n, true);
		if (!err)
			err = blocklist_sync(bl);
		if (!err)
			err = bl_open_emptied(bl, want, n);
		return err ? err : bl_merge(bl, have, nhave, want, n, false);
	}
	err = bl_open_emptied(bl, want, n);
	if (!err)
		err = bl_merge(bl, have, nhave, want, n, false);
	return err ? err : bl_merge(bl, have, nhave, want, n, true);
}

int blocklist_replace(struct blocklist *bl, const struct blocklist_rule *rules, size_t n)
{
	struct blocklist_rule *have = NULL, *want = malloc((n + 1) * sizeof(*want));
	size_t nhave = 0;
	int err = want ? blocklist_list(bl, &have, &nhave) : -ENOMEM;
	int sync_err;

	if (err) {
		free(want);
		return err;
	}
	memcpy(want, rules, n * sizeof(*want));
	n = bl_sort_unique(want, n);
	err = bl_update(bl, have, nhave, want, n);
	free(have);
	free(want);
	/* The counts, whatever happened: the maps hold what they hold. */
	sync_err = blocklist_sync(bl);
	return err ? err : sync_err;
}

int blocklist_replace_config(struct blocklist *bl, const struct blocklist_rule *rules, size_t n)
{
	struct blocklist_rule *have, *want;
	size_t nhave, i, k;
	int err = blocklist_list(bl, &have, &nhave);

	if (err)
		return err;
	want = malloc((n + nhave + 1) * sizeof(*want));
	if (!want) {
		free(have);
		return -ENOMEM;
	}
	for (k = 0; k < n; k++) {
		want[k] = rules[k];
		want[k].flags = 0;
	}
	for (i = 0; i < nhave; i++)
		if (have[i].flags & LB_RULE_F_OPERATOR)
			want[k++] = have[i];
	err = blocklist_replace(bl, want, k);
	free(have);
	free(want);
	return err;
}

int blocklist_flush_vip(struct blocklist *bl, uint32_t vip)
{
	struct blocklist_rule *have;
	size_t nhave, i;
	int err;

	if (vip >= LB_MAX_VIPS)
		return -EINVAL;
	err = blocklist_list(bl, &have, &nhave);
	if (err)
		return err;
	/* Open before the entries go, as bl_open_emptied() does. */
	if (bl->vip_rules[vip] && bpf_map_update_elem(bl->m.vip_allow, &vip, &(__u32){ 0 }, BPF_ANY))
		err = -errno;
	for (i = 0; i < nhave && !err; i++)
		if (have[i].vip == vip)
			err = bl_remove(bl, &have[i]);
	free(have);
	if (err)
		return err;
	return bl_counts_write(bl, vip);
}

void blocklist_counts(const struct blocklist *bl, uint32_t *deny4, uint32_t *deny6,
		      uint32_t *allow)
{
	*deny4 = bl->rules[BL_DENY4];
	*deny6 = bl->rules[BL_DENY6];
	*allow = bl->rules[BL_ALLOW4] + bl->rules[BL_ALLOW6];
}
