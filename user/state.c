// SPDX-License-Identifier: GPL-2.0-only
#include "state.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>

#include "lb_abi.h"

enum config_backend_state state_admin(const struct state_backend *b)
{
	return b->ovr.has_state ? b->ovr.state : b->cfg->state;
}

__u32 state_weight(const struct state_backend *b)
{
	return b->ovr.has_weight ? b->ovr.weight : b->cfg->weight;
}

/*
 * Down by the admin beats everything; down by health beats a drain (a
 * dead backend's flows are better placed again than kept waiting); a
 * drain beats up. Unknown health counts as up: lbd never starts by
 * taking backends out that nobody has checked.
 */
enum state_eff state_precedence(enum config_backend_state admin, enum state_health health)
{
	if (admin == CONFIG_BACKEND_DOWN || health == STATE_HEALTH_DOWN)
		return STATE_OUT;
	if (admin == CONFIG_BACKEND_DRAIN)
		return STATE_DRAINING;
	return STATE_IN;
}

size_t state_vip_healthy(const struct state_vip *v)
{
	size_t j, n = 0;

	for (j = 0; j < v->cfg->n_backends; j++)
		n += state_admin(&v->be[j]) == CONFIG_BACKEND_ACTIVE &&
		     v->be[j].hl.health != STATE_HEALTH_DOWN;
	return n;
}

/* Health took every active backend down (and there is one). */
static bool vip_all_down(const struct state_vip *v)
{
	size_t j, active = 0;

	for (j = 0; j < v->cfg->n_backends; j++) {
		const struct state_backend *b = &v->be[j];

		if (state_admin(b) != CONFIG_BACKEND_ACTIVE)
			continue;
		if (b->hl.health != STATE_HEALTH_DOWN)
			return false;
		active++;
	}
	return active > 0;
}

/*
 * all_down "keep": the active backends that were in the table stay in it.
 * When none was (the set changed administratively meanwhile, or nothing is
 * known of it), every active backend is: keeping the VIP answering is the
 * point of "keep".
 */
static void vip_keep(const struct state_vip *v, enum state_eff *eff, bool *kept)
{
	size_t j, n = 0;

	for (j = 0; j < v->cfg->n_backends; j++) {
		kept[j] = state_admin(&v->be[j]) == CONFIG_BACKEND_ACTIVE &&
			  v->be[j].eff == STATE_IN;
		n += kept[j];
	}
	for (j = 0; j < v->cfg->n_backends; j++) {
		if (!n)
			kept[j] = state_admin(&v->be[j]) == CONFIG_BACKEND_ACTIVE;
		if (kept[j])
			eff[j] = STATE_IN;
	}
}

unsigned int state_vip_resolve(struct state_vip *v, __u64 now_ms)
{
	size_t j, n = v->cfg->n_backends;
	enum state_eff *eff = calloc(n + 1, sizeof(*eff));
	bool *kept = calloc(n + 1, sizeof(*kept));
	bool all_down = vip_all_down(v);
	unsigned int ch = 0;

	if (!eff || !kept) {
		/* Nothing changes rather than something half-computed. */
		free(eff);
		free(kept);
		return 0;
	}
	for (j = 0; j < n; j++)
		eff[j] = state_precedence(state_admin(&v->be[j]), v->be[j].hl.health);
	if (all_down && !v->cfg->all_down_drop)
		vip_keep(v, eff, kept);
	for (j = 0; j < n; j++) {
		struct state_backend *b = &v->be[j];
		__u32 w = state_weight(b);

		if (b->eff != eff[j] || b->kept != kept[j] || (eff[j] == STATE_IN && b->weight != w))
			ch |= STATE_CH_EFFECTIVE;
		b->eff = eff[j];
		b->kept = kept[j];
		b->weight = w;
	}
	if (all_down != v->all_down) {
		ch |= STATE_CH_EFFECTIVE | (all_down ? STATE_CH_ALL_DOWN : STATE_CH_RECOVERED);
		v->all_down = all_down;
		v->all_down_since_ms = all_down ? now_ms : 0;
	}
	if (ch & STATE_CH_EFFECTIVE)
		v->dirty = true;
	free(eff);
	free(kept);
	return ch;
}

static void notify(struct state *st, size_t vip, unsigned int kinds)
{
	if (kinds && st->listener)
		st->listener(st, vip, kinds, st->listener_data);
}

/* The layers of a VIP's backends, fresh: config only. */
static int vip_init(struct state_vip *v, const struct config_vip *cv)
{
	size_t j;

	v->cfg = cv;
	v->be = calloc(cv->n_backends + 1, sizeof(*v->be));
	if (!v->be)
		return -ENOMEM;
	for (j = 0; j < cv->n_backends; j++) {
		v->be[j].cfg = &cv->backends[j];
		/* As if it had been in the table: see vip_keep(). */
		v->be[j].eff = STATE_IN;
	}
	return 0;
}

static void vips_free(struct state_vip *vips, size_t n)
{
	size_t i;

	for (i = 0; vips && i < n; i++)
		free(vips[i].be);
	free(vips);
}

static struct state_vip *vips_new(const struct config *cfg)
{
	struct state_vip *vips = calloc(cfg->n_vips + 1, sizeof(*vips));
	size_t i;

	for (i = 0; vips && i < cfg->n_vips; i++) {
		if (vip_init(&vips[i], &cfg->vips[i])) {
			vips_free(vips, cfg->n_vips);
			return NULL;
		}
	}
	return vips;
}

struct state *state_new(struct config *cfg, __u64 now_ms)
{
	struct state *st = calloc(1, sizeof(*st));
	size_t i;

	if (st)
		st->vips = vips_new(cfg);
	if (!st || !st->vips) {
		free(st);
		config_free(cfg);
		errno = ENOMEM;
		return NULL;
	}
	st->cfg = cfg;
	st->generation = 1;
	st->config_ms = now_ms;
	for (i = 0; i < cfg->n_vips; i++)
		state_vip_resolve(&st->vips[i], now_ms);
	return st;
}

void state_free(struct state *st)
{
	if (!st)
		return;
	vips_free(st->vips, st->cfg->n_vips);
	config_free(st->cfg);
	free(st->blocks);
	free(st);
}

int state_vip_key_cmp(const struct config_vip *a, const struct config_vip *b)
{
	int c;

	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	c = memcmp(a->addr, b->addr, sizeof(a->addr));
	if (c)
		return c;
	if (a->port != b->port)
		return a->port < b->port ? -1 : 1;
	return a->proto < b->proto ? -1 : a->proto > b->proto;
}

int state_backend_key_cmp(const struct config_backend *a, const struct config_backend *b)
{
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	return memcmp(a->addr, b->addr, sizeof(a->addr));
}

/* A matched backend: what the old one had, less what the config now
 * overrules. */
static void backend_carry(struct state_backend *to, const struct state_backend *from,
			  bool checked, struct state_replace_stats *rs)
{
	bool had = from->ovr.has_state || from->ovr.has_weight;

	to->ovr = from->ovr;
	if (to->ovr.has_state && to->cfg->state != from->cfg->state)
		to->ovr.has_state = false;
	if (to->ovr.has_weight && to->cfg->weight != from->cfg->weight)
		to->ovr.has_weight = false;
	if (had && !to->ovr.has_state && !to->ovr.has_weight)
		rs->overrides_dropped++;
	else if (had)
		rs->overrides_kept++;
	if (checked) {
		to->hl = from->hl;
		rs->health_kept += from->hl.health != STATE_HEALTH_UNKNOWN;
	}
	to->eff = from->eff;
	to->kept = from->kept;
	to->weight = from->weight;
}

/* Both lists are in canonical order: one merge walk. */
static void vip_carry(struct state_vip *to, const struct state_vip *from,
		      struct state_replace_stats *rs)
{
	const struct config_vip *a = from->cfg, *b = to->cfg;
	bool checked = b->health.enabled;
	size_t i = 0, j = 0;
	int c;

	while (i < a->n_backends && j < b->n_backends) {
		c = state_backend_key_cmp(&a->backends[i], &b->backends[j]);
		if (!c)
			backend_carry(&to->be[j], &from->be[i], checked, rs);
		i += c <= 0;
		j += c >= 0;
	}
	to->all_down = from->all_down;
	to->all_down_since_ms = from->all_down_since_ms;
}

int state_carry(struct state *to, const struct state *from, __u64 now_ms,
		struct state_replace_stats *rs)
{
	const struct config *a = from->cfg, *b = to->cfg;
	size_t i = 0, j = 0;
	int c;

	memset(rs, 0, sizeof(*rs));
	to->blocks = malloc((from->n_blocks + 1) * sizeof(*to->blocks));
	if (!to->blocks)
		return -ENOMEM;
	memcpy(to->blocks, from->blocks, from->n_blocks * sizeof(*to->blocks));
	to->n_blocks = from->n_blocks;
	to->node = from->node;
	while (i < a->n_vips && j < b->n_vips) {
		c = state_vip_key_cmp(&a->vips[i], &b->vips[j]);
		if (!c)
			vip_carry(&to->vips[j], &from->vips[i], rs);
		i += c <= 0;
		j += c >= 0;
	}
	to->generation = from->generation + 1;
	to->config_ms = now_ms;
	state_resolve_all(to, now_ms);
	return 0;
}

static bool block_same(const struct blocklist_rule *a, const struct blocklist_rule *b)
{
	return a->family == b->family && a->plen == b->plen &&
	       !memcmp(a->addr, b->addr, sizeof(a->addr));
}

long state_block_find(const struct state *st, const struct blocklist_rule *r)
{
	size_t i;

	for (i = 0; i < st->n_blocks; i++)
		if (block_same(&st->blocks[i].rule, r))
			return (long)i;
	return -1;
}

int state_block_add(struct state *st, const struct blocklist_rule *r, __u64 since_ms)
{
	struct state_block *grown = realloc(st->blocks, (st->n_blocks + 1) * sizeof(*grown));
	struct state_block *b;

	if (!grown)
		return -ENOMEM;
	st->blocks = grown;
	b = &st->blocks[st->n_blocks++];
	memset(b, 0, sizeof(*b));
	b->rule.vip = BLOCKLIST_DENY;
	b->rule.family = r->family;
	b->rule.plen = r->plen;
	memcpy(b->rule.addr, r->addr, sizeof(b->rule.addr));
	b->rule.flags = LB_RULE_F_OPERATOR;
	b->since_ms = since_ms;
	return 0;
}

void state_block_del(struct state *st, size_t i)
{
	memmove(&st->blocks[i], &st->blocks[i + 1], (st->n_blocks - i - 1) * sizeof(*st->blocks));
	st->n_blocks--;
}

bool state_node_drain(struct state *st, bool drained, __u64 now_ms)
{
	if (st->node.drained == drained)
		return false;
	st->node.drained = drained;
	st->node.since_ms = drained ? now_ms : 0;
	notify(st, STATE_NODE, STATE_CH_NODE | STATE_CH_SAVED);
	return true;
}

void state_node_restore(struct state *st, const struct state_node *n)
{
	st->node = *n;
}

void state_override_set(struct state *st, size_t vip, size_t be,
			const struct state_override *o, __u64 now_ms)
{
	struct state_vip *v = &st->vips[vip];

	v->be[be].ovr = *o;
	if (o->has_state || o->has_weight)
		v->be[be].ovr.since_ms = now_ms;
	else
		v->be[be].ovr.since_ms = 0;
	notify(st, vip, STATE_CH_SAVED | state_vip_resolve(v, now_ms));
}

void state_health_set(struct state *st, size_t vip, size_t be, enum state_health h,
		      const char *reason, __u64 now_ms)
{
	struct state_vip *v = &st->vips[vip];
	struct state_health_info *hl = &v->be[be].hl;

	if (!v->cfg->health.enabled || hl->health == h)
		return;
	hl->health = h;
	hl->since_ms = now_ms;
	snprintf(hl->reason, sizeof(hl->reason), "%s", reason ? reason : "");
	notify(st, vip, STATE_CH_SAVED | state_vip_resolve(v, now_ms));
}

void state_backend_restore(struct state *st, size_t vip, size_t be,
			   const struct state_saved *s, struct state_replace_stats *rs)
{
	struct state_vip *v = &st->vips[vip];
	struct state_backend *b = &v->be[be];
	struct state_backend was = { .cfg = &(struct config_backend){
		.state = s->cfg_state, .weight = s->cfg_weight } };

	was.ovr = s->ovr;
	was.hl = s->hl;
	was.kept = s->kept;
	/* A backend that all_down did not hold was out of the table, as far
	 * as keep is concerned: only the kept ones are its last set. */
	was.eff = v->all_down && !s->kept ? STATE_OUT : STATE_IN;
	backend_carry(b, &was, v->cfg->health.enabled, rs);
}

void state_vip_restore(struct state *st, size_t vip, __u64 all_down_since_ms)
{
	st->vips[vip].all_down = true;
	st->vips[vip].all_down_since_ms = all_down_since_ms;
}

void state_resolve_all(struct state *st, __u64 now_ms)
{
	size_t i;

	for (i = 0; i < st->cfg->n_vips; i++)
		notify(st, i, state_vip_resolve(&st->vips[i], now_ms));
}

void state_probe_note(struct state *st, size_t vip, size_t be, bool ok, __u32 us, __u64 now_ms)
{
	struct state_health_info *hl = &st->vips[vip].be[be].hl;

	hl->probe_ms = now_ms;
	hl->probe_us = us;
	hl->probe_ok = ok;
}

void state_clean(struct state *st)
{
	size_t i;

	for (i = 0; i < st->cfg->n_vips; i++)
		st->vips[i].dirty = false;
}

void state_vip_key_text(const struct config_vip *v, char *buf, size_t len)
{
	const char *proto = v->proto == IPPROTO_TCP ? "tcp" : "udp";

	if (v->family == LB_FAMILY_IPV6)
		snprintf(buf, len, "[%s]:%u/%s", v->address, v->port, proto);
	else
		snprintf(buf, len, "%s:%u/%s", v->address, v->port, proto);
}

bool state_vip_key_parse(const char *text, struct config_vip *key)
{
	char addr[64], proto[8];
	unsigned int port;
	int n = 0;

	if (text[0] == '[') {
		if (sscanf(text, "[%63[0-9a-fA-F:.]]:%u/%7[a-z]%n", addr, &port, proto, &n) != 3)
			return false;
	} else if (sscanf(text, "%63[0-9.]:%u/%7[a-z]%n", addr, &port, proto, &n) != 3) {
		return false;
	}
	if (text[n] || port > 65535)
		return false;
	memset(key, 0, sizeof(*key));
	key->port = (__u16)port;
	if (!strcmp(proto, "tcp"))
		key->proto = IPPROTO_TCP;
	else if (!strcmp(proto, "udp"))
		key->proto = IPPROTO_UDP;
	else
		return false;
	if (inet_pton(AF_INET, addr, key->addr) == 1)
		key->family = LB_FAMILY_IPV4;
	else if (inet_pton(AF_INET6, addr, key->addr) == 1)
		key->family = LB_FAMILY_IPV6;
	return key->family != 0;
}

long state_vip_find(const struct state *st, const char *text)
{
	struct config_vip key;
	size_t i;

	for (i = 0; i < st->cfg->n_vips; i++)
		if (!strcmp(st->cfg->vips[i].name, text))
			return (long)i;
	if (!state_vip_key_parse(text, &key))
		return -1;
	for (i = 0; i < st->cfg->n_vips; i++)
		if (!state_vip_key_cmp(&st->cfg->vips[i], &key))
			return (long)i;
	return -1;
}

long state_backend_find(const struct state *st, size_t vip, const char *text)
{
	const struct config_vip *v = &st->cfg->vips[vip];
	struct config_backend key;
	size_t j;

	memset(&key, 0, sizeof(key));
	if (inet_pton(AF_INET, text, key.addr) == 1)
		key.family = LB_FAMILY_IPV4;
	else if (inet_pton(AF_INET6, text, key.addr) == 1)
		key.family = LB_FAMILY_IPV6;
	else
		return -1;
	for (j = 0; j < v->n_backends; j++)
		if (!state_backend_key_cmp(&v->backends[j], &key))
			return (long)j;
	return -1;
}

const char *state_health_name(enum state_health h)
{
	static const char *const names[] = { "unknown", "up", "down" };

	return (unsigned int)h < 3 ? names[h] : "?";
}

const char *state_eff_name(enum state_eff e)
{
	static const char *const names[] = { "in", "draining", "out" };

	return (unsigned int)e < 3 ? names[e] : "?";
}

const char *state_admin_name(enum config_backend_state s)
{
	static const char *const names[] = { "active", "drain", "down" };

	return (unsigned int)s < 3 ? names[s] : "?";
}
