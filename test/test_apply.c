// SPDX-License-Identifier: GPL-2.0-only
/*
 * apply_state() and apply_dirty() against a loaded (not attached)
 * balancer: what a config, a change of config and a change of state
 * and a change of config leave in the maps.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>

#include <bpf/bpf.h>
#include <criterion/criterion.h>

#include "apply.h"
#include "apply_bed.h"
#include "config.h"
#include "datapath.h"
#include "lb_test.h"
#include "pkt.h"
#include "tables.h"

static struct apply_bed bed;

static void setup(void)
{
	apply_bed_open(&bed);
}

static void teardown(void)
{
	apply_bed_close(&bed);
}

TestSuite(apply, .init = setup, .fini = teardown);

#define WEB(backends) \
	"{ \"name\": \"web\", \"address\": \"198.18.100.1\", \"port\": 80, \"protocol\": \"tcp\", " \
	"\"table_size\": 251, \"backends\": [" backends "] }"
#define DNS(backends) \
	"{ \"name\": \"dns\", \"address\": \"fd00:100::53\", \"port\": 53, \"protocol\": \"udp\", " \
	"\"hash\": \"l3\", \"table_size\": 101, \"backends\": [" backends "] }"
#define CONFIG(vips) \
	"{ \"interface\": \"eth0\", \"tunnel_source\": { \"ipv4\": \"198.18.2.2\", " \
	"\"ipv6\": \"fd00:2::2\" }, \"vips\": [" vips "] }"
#define BE(a) "{ \"address\": \"" a "\" }"
#define BE_STATE(a, s) "{ \"address\": \"" a "\", \"state\": \"" s "\" }"

static struct state *state_of(const char *text)
{
	struct config_errors errs = { 0 };
	struct config *cfg = NULL;
	struct state *model;
	int rc;

	rc = config_parse(text, strlen(text), "test.json", &cfg, &errs);
	cr_assert_eq(rc, 0, "config: %s", errs.n ? errs.lines[0] : "?");
	model = state_new(cfg, 1000);
	cr_assert_not_null(model);
	return model;
}

/* Apply a valid config, as a fresh state; apply_state()'s return value. */
static int apply_try(const char *text, struct apply_stats *st, char *err, size_t errlen)
{
	struct state *model = state_of(text);
	int rc = apply_state(bed.ap, model, &apply_bed_env, st, err, errlen);

	state_free(model);
	return rc;
}

static struct apply_stats apply_text(const char *text)
{
	struct apply_stats st;
	char err[256];

	cr_assert_eq(apply_try(text, &st, err, sizeof(err)), 0, "apply: %s", err);
	return st;
}

static __u32 inner_id(__u32 vip)
{
	__u32 id = 0;

	bpf_map_lookup_elem(bed.maps.vip_tables, &vip, &id);
	return id;
}

static struct lb_vip vip_get(const char *addr, uint16_t port, uint8_t proto, uint8_t flags)
{
	struct lb_vip_key k = { .port = htons(port), .proto = proto, .flags = flags };
	struct lb_vip v = { .id = ~0U };

	k.family = pkt_addr(addr, k.addr);
	if (bpf_map_lookup_elem(bed.maps.vip_map, &k, &v))
		v.id = ~0U;
	return v;
}

static size_t map_count(int fd)
{
	struct lb_vip_key key, *prev = NULL;
	size_t n = 0;

	while (!bpf_map_get_next_key(fd, prev, &key)) {
		n++;
		prev = &key;
	}
	return n;
}

/* The VIP index installed now. */
static struct lb_vip_index *index_read(void)
{
	struct lb_vip_index *ix = malloc(sizeof(*ix));
	__u32 zero = 0, id;
	int fd;

	cr_assert_not_null(ix);
	cr_assert_eq(bpf_map_lookup_elem(bed.maps.vip_index, &zero, &id), 0, "no VIP index");
	fd = bpf_map_get_fd_by_id(id);
	cr_assert_geq(fd, 0);
	cr_assert_eq(bpf_map_lookup_elem(fd, &zero, ix), 0);
	close(fd);
	return ix;
}

/* The index holds vip_map's entries with their values, and nothing else;
 * each one unless its bucket is full. Returns how many it holds. */
static size_t index_matches_vip_map(void)
{
	struct lb_vip_index *ix = index_read(), *want = calloc(1, sizeof(*want));
	struct lb_vip_key key, *prev = NULL;
	struct lb_vip v;
	size_t b, w, n = 0;

	cr_assert_not_null(want);
	while (!bpf_map_get_next_key(bed.maps.vip_map, prev, &key)) {
		cr_assert_eq(bpf_map_lookup_elem(bed.maps.vip_map, &key, &v), 0);
		datapath_index_add(want, &key, &v);
		prev = &key;
	}
	for (b = 0; b < LB_VIP_INDEX_BUCKETS; b++)
		for (w = 0; w < LB_VIP_INDEX_WAYS; w++) {
			struct lb_vip_slot *s = &ix->slot[b][w];

			if (!s->key[0] && !s->key[1] && !s->key[2])
				continue;
			n++;
			memcpy(&key, s->key, sizeof(key));
			cr_assert_eq(bpf_map_lookup_elem(bed.maps.vip_map, &key, &v), 0,
				     "bucket %zu: an entry vip_map does not have", b);
			cr_assert_eq(v.id, s->vip.id, "bucket %zu: VIP id %u, vip_map has %u", b,
				     s->vip.id, v.id);
			cr_assert_eq(v.flags, s->vip.flags, "bucket %zu: flags differ", b);
		}
	/* Built from vip_map in another order, a full bucket may hold other
	 * keys; the count of entries is the same. */
	for (b = 0; b < LB_VIP_INDEX_BUCKETS; b++)
		for (w = 0; w < LB_VIP_INDEX_WAYS; w++)
			n -= want->slot[b][w].key[0] || want->slot[b][w].key[1] ||
			     want->slot[b][w].key[2] ? 1 : 0;
	cr_assert_eq(n, 0, "the index holds another count of entries than vip_map can fill");
	for (b = 0; b < LB_VIP_INDEX_BUCKETS; b++)
		for (w = 0; w < LB_VIP_INDEX_WAYS; w++)
			n += ix->slot[b][w].key[0] || ix->slot[b][w].key[1] ||
			     ix->slot[b][w].key[2] ? 1 : 0;
	free(ix);
	free(want);
	return n;
}

static struct lb_backend backend_get(__u32 id)
{
	struct lb_backend b;

	cr_assert_eq(bpf_map_lookup_elem(bed.maps.backends, &id, &b), 0);
	return b;
}

/* Backend id serving addr for vip_id, or 0. */
static __u32 backend_find(__u32 vip_id, const char *addr)
{
	__be32 a[4];
	__u32 id;

	pkt_addr(addr, a);
	for (id = 1; id < 64; id++) {
		struct lb_backend b = backend_get(id);

		if (b.family && b.vip_id == vip_id && !memcmp(b.addr, a, sizeof(a)))
			return id;
	}
	return 0;
}

/* A table with slots: not none, not the empty one. */
static bool table_installed(__u32 vip)
{
	__u32 *t, n;

	if (datapath_table_read(bed.maps.vip_tables, vip, &t, &n))
		return false;
	free(t);
	return true;
}

static bool table_has(__u32 vip, __u32 backend_id)
{
	__u32 *t, n, i;
	bool found = false;

	if (datapath_table_read(bed.maps.vip_tables, vip, &t, &n))
		return false;
	for (i = 0; i < n; i++)
		found |= t[i] == backend_id;
	free(t);
	return found;
}

/* apply_slots() against the tables in the map, id by id. */
static void slots_match_tables(const struct apply *ap, __u32 n_vip_ids)
{
	__u32 *want = calloc(LB_MAX_BACKENDS, sizeof(*want));
	__u32 *got = malloc(LB_MAX_BACKENDS * sizeof(*got));
	__u32 *t, n, i, v;

	cr_assert(want && got);
	for (v = 0; v < n_vip_ids; v++) {
		if (datapath_table_read(bed.maps.vip_tables, v, &t, &n))
			continue;
		for (i = 0; i < n; i++)
			want[t[i]]++;
		free(t);
	}
	apply_slots(ap, got);
	for (i = 0; i < LB_MAX_BACKENDS; i++)
		cr_assert_eq(got[i], want[i], "backend id %u: %u slots, the tables say %u", i,
			     got[i], want[i]);
	free(want);
	free(got);
}

/* The slots the metrics report come from what was built, not from reading
 * the tables: they must agree after changes, and after a restart (a new
 * writer that compared the installed tables instead of writing them). */
Test(apply, slots_agree_with_the_installed_tables)
{
	struct apply *again;
	struct state *model;
	struct apply_stats st;
	char err[256];

	apply_text(CONFIG(WEB(BE("198.18.3.1") "," BE("198.18.3.2")) ","
			  DNS(BE("fd00:3::1") "," BE("fd00:3::2") "," BE("fd00:3::3"))));
	slots_match_tables(bed.ap, 4);
	apply_text(CONFIG(WEB(BE("198.18.3.1") "," BE_STATE("198.18.3.2", "drain") ","
			      BE("198.18.3.3")) "," DNS(BE("fd00:3::1"))));
	slots_match_tables(bed.ap, 4);
	again = apply_new(&bed.maps);
	cr_assert_not_null(again);
	model = state_of(CONFIG(WEB(BE("198.18.3.1") "," BE_STATE("198.18.3.2", "drain") ","
				    BE("198.18.3.3")) "," DNS(BE("fd00:3::1"))));
	cr_assert_eq(apply_state(again, model, &apply_bed_env, &st, err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_eq(st.tables_swapped, 0);
	slots_match_tables(again, 4);
	state_free(model);
	apply_free(again);
}

Test(apply, entries_for_services_echo_and_fragments)
{
	struct lb_vip web, dns, frag, echo;

	apply_text(CONFIG(WEB(BE("198.18.3.1") "," BE("198.18.3.2")) ","
			  DNS(BE("fd00:3::1"))));
	web = vip_get("198.18.100.1", 80, IPPROTO_TCP, 0);
	dns = vip_get("fd00:100::53", 53, IPPROTO_UDP, 0);
	cr_assert_neq(web.id, ~0U);
	cr_assert_neq(dns.id, ~0U);
	cr_assert_neq(web.id, dns.id);
	cr_assert_eq(dns.flags, LB_VIP_F_HASH_L3);
	/* Later fragments of the l3 VIP's protocol reach it; pings are answered. */
	frag = vip_get("fd00:100::53", 0, IPPROTO_UDP, LB_VIP_KEY_FRAG);
	cr_assert_eq(frag.id, dns.id);
	cr_assert_eq(frag.flags, LB_VIP_F_HASH_L3);
	echo = vip_get("198.18.100.1", 0, IPPROTO_ICMP, 0);
	cr_assert_neq(echo.id, ~0U);
	cr_assert(table_has(web.id, backend_find(web.id, "198.18.3.1")));
	cr_assert(table_has(web.id, backend_find(web.id, "198.18.3.2")));
	/* lb_probe hashes an l3 VIP's tunnel probes without ports. */
	cr_assert_eq(backend_get(backend_find(dns.id, "fd00:3::1")).flags,
		     LB_BACKEND_F_UP | LB_BACKEND_F_L3);
	cr_assert_eq(backend_get(backend_find(web.id, "198.18.3.1")).flags, LB_BACKEND_F_UP);
}

Test(apply, same_config_twice_writes_no_table)
{
	const char *text = CONFIG(WEB(BE("198.18.3.1")) "," DNS(BE("fd00:3::1")));
	struct apply_stats st;

	st = apply_text(text);
	cr_assert_eq(st.tables_swapped, 2);
	st = apply_text(text);
	cr_assert_eq(st.tables_swapped, 0);
	cr_assert_eq(st.backends_added + st.backends_changed + st.backends_retired, 0);
}

Test(apply, change_swaps_only_the_affected_table)
{
	struct lb_vip web, dns;
	__u32 web_table, dns_table;
	struct apply_stats st;

	apply_text(CONFIG(WEB(BE("198.18.3.1") "," BE("198.18.3.2")) "," DNS(BE("fd00:3::1"))));
	web = vip_get("198.18.100.1", 80, IPPROTO_TCP, 0);
	dns = vip_get("fd00:100::53", 53, IPPROTO_UDP, 0);
	web_table = inner_id(web.id);
	dns_table = inner_id(dns.id);
	st = apply_text(CONFIG(WEB(BE("198.18.3.1") "," BE("198.18.3.3")) "," DNS(BE("fd00:3::1"))));
	cr_assert_eq(st.tables_swapped, 1);
	cr_assert_neq(inner_id(web.id), web_table);
	cr_assert_eq(inner_id(dns.id), dns_table, "an unchanged table was rewritten");
	cr_assert_eq(st.backends_added, 1);
	cr_assert_eq(st.backends_retired, 1);
}

Test(apply, order_does_not_change_the_maps)
{
	const char *a = CONFIG(WEB(BE("198.18.3.1") "," BE("198.18.3.2") "," BE("198.18.3.3")) ","
			       DNS(BE("fd00:3::1") "," BE("fd00:3::2")));
	const char *b = CONFIG(DNS(BE("fd00:3::2") "," BE("fd00:3::1")) ","
			       WEB(BE("198.18.3.3") "," BE("198.18.3.1") "," BE("198.18.3.2")));
	__u32 *ta, *tb, na, nb, vip;
	struct apply_bed first;

	apply_text(a);
	/* Keep the first balancer's tables; build the second set in a fresh one. */
	first = bed;
	setup();
	apply_text(b);
	for (vip = 0; vip < 2; vip++) {
		cr_assert_eq(datapath_table_read(first.maps.vip_tables, vip, &ta, &na), 0);
		cr_assert_eq(datapath_table_read(bed.maps.vip_tables, vip, &tb, &nb), 0);
		cr_assert_eq(na, nb);
		cr_assert_arr_eq(ta, tb, na * sizeof(*ta), "VIP %u: tables differ", vip);
		free(ta);
		free(tb);
	}
	apply_bed_close(&first);
}

Test(apply, drain_keeps_flows_down_moves_them)
{
	struct lb_vip web;
	__u32 drained, down;

	apply_text(CONFIG(WEB(BE("198.18.3.1") "," BE("198.18.3.2") "," BE("198.18.3.3"))));
	apply_text(CONFIG(WEB(BE("198.18.3.1") "," BE_STATE("198.18.3.2", "drain") ","
			      BE_STATE("198.18.3.3", "down"))));
	web = vip_get("198.18.100.1", 80, IPPROTO_TCP, 0);
	drained = backend_find(web.id, "198.18.3.2");
	down = backend_find(web.id, "198.18.3.3");
	cr_assert(!table_has(web.id, drained));
	cr_assert(!table_has(web.id, down));
	cr_assert_eq(backend_get(drained).flags, LB_BACKEND_F_UP, "a drained backend keeps its flows");
	cr_assert_eq(backend_get(down).flags, 0, "a down backend's flows must move");
}

Test(apply, removed_backend_keeps_its_id_reserved)
{
	struct lb_vip web;
	__u32 gone, added;

	apply_text(CONFIG(WEB(BE("198.18.3.1") "," BE("198.18.3.2"))));
	web = vip_get("198.18.100.1", 80, IPPROTO_TCP, 0);
	gone = backend_find(web.id, "198.18.3.2");
	apply_text(CONFIG(WEB(BE("198.18.3.1") "," BE("198.18.3.9"))));
	added = backend_find(web.id, "198.18.3.9");
	cr_assert_neq(added, gone, "a retired id went to another backend");
	cr_assert_eq(backend_get(gone).flags, 0);
	cr_assert_neq(backend_get(gone).family, 0, "the retired entry must stay");
	/* The same backend coming back gets its old id. */
	apply_text(CONFIG(WEB(BE("198.18.3.1") "," BE("198.18.3.2"))));
	cr_assert_eq(backend_find(web.id, "198.18.3.2"), gone);
	cr_assert_eq(backend_get(gone).flags, LB_BACKEND_F_UP);
}

Test(apply, removed_vip_leaves_no_entry_or_table)
{
	struct lb_vip dns;
	struct apply_stats st;

	apply_text(CONFIG(WEB(BE("198.18.3.1")) "," DNS(BE("fd00:3::1"))));
	dns = vip_get("fd00:100::53", 53, IPPROTO_UDP, 0);
	st = apply_text(CONFIG(WEB(BE("198.18.3.1"))));
	cr_assert_eq(st.vips_removed, 1);
	cr_assert_eq(vip_get("fd00:100::53", 53, IPPROTO_UDP, 0).id, ~0U);
	cr_assert_eq(vip_get("fd00:100::53", 0, IPPROTO_UDP, LB_VIP_KEY_FRAG).id, ~0U);
	cr_assert_eq(vip_get("fd00:100::53", 0, IPPROTO_ICMPV6, 0).id, ~0U);
	cr_assert(!table_installed(dns.id));
	/* web's entries, each in a bucket of its own */
	cr_assert_eq(index_matches_vip_map(), map_count(bed.maps.vip_map));
}

Test(apply, vip_without_active_backends_has_no_table)
{
	struct lb_vip web;

	apply_text(CONFIG(WEB(BE_STATE("198.18.3.1", "drain"))));
	web = vip_get("198.18.100.1", 80, IPPROTO_TCP, 0);
	cr_assert_neq(web.id, ~0U);
	cr_assert(!table_installed(web.id), "traffic must meet no_backend, not a stale table");
}

Test(apply, settings_reach_lb_cfg)
{
	struct lb_config c;
	__u32 zero = 0;
	__be32 a[4];

	apply_text(CONFIG(WEB(BE("198.18.3.1"))));
	cr_assert_eq(bpf_map_lookup_elem(bed.maps.lb_cfg, &zero, &c), 0);
	cr_assert_arr_eq(c.src_mac, apply_bed_env.src_mac, 6);
	cr_assert_arr_eq(c.next_hop_mac, apply_bed_env.next_hop, 6);
	cr_assert_eq(c.mtu, 1500);
	pkt_addr("198.18.2.2", a);
	cr_assert_eq(c.src4, a[0]);
	cr_assert_eq(c.src4_plen, 32);
	pkt_addr("fd00:2::2", a);
	cr_assert_arr_eq(c.src6, a, 16);
}

/* With every id used once, new backends get retired ids, never one a flow
 * still names and never one already given out in the same apply. */
Test(apply, exhausted_ids_reuse_only_free_retired_ones)
{
	static __u32 keys[LB_MAX_BACKENDS - 1];
	static struct lb_backend vals[LB_MAX_BACKENDS - 1];
	struct lb_flow_key fk = { .family = LB_FAMILY_IPV4, .proto = IPPROTO_TCP };
	__u32 i, count = LB_MAX_BACKENDS - 1, a, b;
	LIBBPF_OPTS(bpf_map_batch_opts, opts);

	/* History: id 1 was web's 198.18.3.9 (web gets VIP id 0), the rest
	 * belonged to VIPs long gone; a flow still points at id 2. */
	for (i = 0; i < count; i++) {
		keys[i] = i + 1;
		vals[i].family = LB_FAMILY_IPV4;
		vals[i].vip_id = 300;
		vals[i].addr[0] = htonl(0xc6130000 + i);
	}
	pkt_addr("198.18.3.9", vals[0].addr);
	vals[0].vip_id = 0;
	cr_assert_eq(bpf_map_update_batch(bed.maps.backends, keys, vals, &count, &opts), 0);
	lb_test_flow_put(bed.maps.flow_table, &fk, 2, 0);

	apply_text(CONFIG(WEB(BE("198.18.3.1") "," BE("198.18.3.9"))));
	a = backend_find(0, "198.18.3.1");
	b = backend_find(0, "198.18.3.9");
	cr_assert_eq(b, 1, "a known backend must keep its id");
	cr_assert_neq(a, 0);
	cr_assert_neq(a, b, "two backends share id %u", a);
	cr_assert_neq(a, 2, "id 2 still has a flow");
	cr_assert(table_has(0, a) && table_has(0, b));
}

static char *many_vips(uint16_t port0, size_t n)
{
	size_t cap = 128 + n * 256, len;
	char *text = malloc(cap);
	size_t i;

	cr_assert_not_null(text);
	len = (size_t)snprintf(text, cap, "{ \"interface\": \"eth0\", \"tunnel_source\": "
			       "{ \"ipv4\": \"198.18.2.2\" }, \"vips\": [");
	for (i = 0; i < n; i++)
		len += (size_t)snprintf(text + len, cap - len,
					"%s{ \"name\": \"v%zu\", \"address\": \"198.18.100.%zu\", "
					"\"port\": %zu, \"protocol\": \"tcp\", \"table_size\": 13, \"backends\": "
					"[ { \"address\": \"198.18.3.1\" } ] }",
					i ? ", " : "", i, 1 + i % 200, port0 + i / 200);
	snprintf(text + len, cap - len, "] }");
	return text;
}

/* Replacing 3/4 of the VIP ids' worth of VIPs by as many others needs more
 * ids than there are unless the removed VIPs' ids are given out again. */
Test(apply, replacing_every_vip_reuses_released_ids)
{
	size_t n = LB_MAX_VIPS * 3 / 4;
	char *a = many_vips(1000, n), *b = many_vips(2000, n);
	struct apply_stats st;

	apply_text(a);
	st = apply_text(b);
	cr_assert_eq(st.vips_added, n);
	cr_assert_eq(st.vips_removed, n);
	cr_assert_neq(vip_get("198.18.100.1", 2000, IPPROTO_TCP, 0).id, ~0U);
	cr_assert_eq(vip_get("198.18.100.1", 1000, IPPROTO_TCP, 0).id, ~0U);
	cr_assert(table_installed(vip_get("198.18.100.100", 2001, IPPROTO_TCP, 0).id));
	cr_assert_gt(index_matches_vip_map(), n, "most of the VIPs' entries are in the index");
	free(a);
	free(b);
}

/* LB_MAX_VIPS VIPs, each on an address of its own with one backend. Every
 * MOVED_EVERY-th one, from the first, is on port moved; the rest on 80. */
#define MOVED_EVERY 37

static void full_vip_addr(size_t i, char *buf, size_t len)
{
	snprintf(buf, len, "198.18.%zu.%zu", 100 + i / 250, 1 + i % 250);
}

/* LB_MAX_VIPS VIPs, each with backend 198.18.3.1; every MOVED_EVERY-th is
 * on port moved instead of 80 and has its backend in the given state. */
static char *full_vips_state(uint16_t moved, const char *state)
{
	size_t cap = 128 + LB_MAX_VIPS * 256, len, i;
	char *text = malloc(cap), addr[16];

	cr_assert_not_null(text);
	len = (size_t)snprintf(text, cap, "{ \"interface\": \"eth0\", \"tunnel_source\": "
			       "{ \"ipv4\": \"198.18.2.2\" }, \"vips\": [");
	for (i = 0; i < LB_MAX_VIPS; i++) {
		full_vip_addr(i, addr, sizeof(addr));
		len += (size_t)snprintf(text + len, cap - len,
					"%s{ \"name\": \"v%zu\", \"address\": \"%s\", "
					"\"port\": %u, \"protocol\": \"tcp\", \"table_size\": 13, "
					"\"backends\": [ { \"address\": \"198.18.3.1\", "
					"\"state\": \"%s\" } ] }",
					i ? ", " : "", i, addr,
					(unsigned int)(i % MOVED_EVERY ? 80 : moved),
					i % MOVED_EVERY ? "active" : state);
	}
	snprintf(text + len, cap - len, "] }");
	return text;
}

static char *full_vips(uint16_t moved)
{
	return full_vips_state(moved, "active");
}

/* With every VIP id in use, a VIP that changes port gets a removed VIP's id
 * (its own old one): every entry leading to that id is deleted first, and
 * the fragment and echo entries, same key and same value as before, must
 * be written again. */
Test(apply, moving_vips_at_the_id_limit_keeps_fragment_and_echo_entries)
{
	char *a = full_vips(80), *b = full_vips(8080), addr[16];
	struct lb_vip svc, frag, echo;
	struct apply_stats st;
	size_t i;

	apply_text(a);
	st = apply_text(b);
	cr_assert_eq(st.vips_added, (LB_MAX_VIPS + MOVED_EVERY - 1) / MOVED_EVERY);
	cr_assert_eq(st.vips_removed, st.vips_added);
	for (i = 0; i < LB_MAX_VIPS; i += MOVED_EVERY) {
		full_vip_addr(i, addr, sizeof(addr));
		svc = vip_get(addr, 8080, IPPROTO_TCP, 0);
		frag = vip_get(addr, 0, IPPROTO_TCP, LB_VIP_KEY_FRAG);
		echo = vip_get(addr, 0, IPPROTO_ICMP, 0);
		cr_assert_neq(svc.id, ~0U, "%s: no service entry", addr);
		cr_assert_eq(vip_get(addr, 80, IPPROTO_TCP, 0).id, ~0U, "%s: old port left", addr);
		cr_assert_eq(frag.id, svc.id, "%s: fragment entry lost", addr);
		cr_assert_eq(echo.id, svc.id, "%s: echo entry lost", addr);
		cr_assert_neq(inner_id(svc.id), 0, "%s: no table", addr);
	}
	index_matches_vip_map();
	free(a);
	free(b);
}

/* A buffer of map contents, to compare before and after. */
struct dump {
	char *buf;
	size_t len, cap;
};

static void dump_add(struct dump *d, const void *data, size_t len)
{
	while (d->len + len > d->cap) {
		d->cap = d->cap ? d->cap * 2 : 4096;
		d->buf = realloc(d->buf, d->cap);
		cr_assert_not_null(d->buf);
	}
	memcpy(d->buf + d->len, data, len);
	d->len += len;
}

/* Every key and value, in the map's own order. For vip_tables the values
 * are the inner maps' ids. */
static struct dump map_dump(int fd)
{
	struct bpf_map_info info = { 0 };
	__u32 info_len = sizeof(info);
	struct dump d = { 0 };
	char *key, *next, *val;
	void *prev = NULL;

	cr_assert_eq(bpf_obj_get_info_by_fd(fd, &info, &info_len), 0);
	key = malloc(info.key_size);
	next = malloc(info.key_size);
	val = malloc(info.value_size);
	cr_assert(key && next && val);
	while (!bpf_map_get_next_key(fd, prev, next)) {
		memcpy(key, next, info.key_size);
		prev = key;
		if (bpf_map_lookup_elem(fd, key, val))
			continue;
		dump_add(&d, key, info.key_size);
		dump_add(&d, val, info.value_size);
	}
	free(key);
	free(next);
	free(val);
	return d;
}

/* Each installed table: VIP id, inner map id, size and slots. */
static struct dump tables_dump(void)
{
	struct dump d = { 0 };
	__u32 vip, id, *t, n;

	for (vip = 0; vip < LB_MAX_VIPS; vip++) {
		if (datapath_table_read(bed.maps.vip_tables, vip, &t, &n))
			continue;
		id = inner_id(vip);
		dump_add(&d, &vip, sizeof(vip));
		dump_add(&d, &id, sizeof(id));
		dump_add(&d, &n, sizeof(n));
		dump_add(&d, t, n * sizeof(*t));
		free(t);
	}
	return d;
}

static void dump_assert_eq(struct dump *before, struct dump *after, const char *what)
{
	cr_assert_eq(before->len, after->len, "%s changed size", what);
	cr_assert_arr_eq(before->buf, after->buf, before->len, "%s changed", what);
	free(before->buf);
	free(after->buf);
}

/* Once a VIP has taken a removed VIP's id, the backends map holds two
 * entries for (that id, 198.18.3.1): the removed VIP's, retired, and the
 * new one's, live. Applying the same config again must find the live one,
 * and so write nothing. */
Test(apply, same_config_after_vip_id_reuse_changes_nothing)
{
	char *a = full_vips(80), *b = full_vips(8080);
	struct dump tables, backends, tables_again, backends_again;
	struct apply_stats st;

	apply_text(a);
	apply_text(b);
	tables = tables_dump();
	backends = map_dump(bed.maps.backends);
	st = apply_text(b);
	cr_assert_eq(st.tables_swapped, 0, "%zu tables rewritten", st.tables_swapped);
	cr_assert_eq(st.backends_retired, 0, "%zu live backends retired", st.backends_retired);
	cr_assert_eq(st.backends_added + st.backends_changed + st.tables_removed, 0);
	tables_again = tables_dump();
	backends_again = map_dump(bed.maps.backends);
	dump_assert_eq(&tables, &tables_again, "vip_tables");
	dump_assert_eq(&backends, &backends_again, "backends");
	free(a);
	free(b);
}

/* A config refused for want of a backend id must change nothing the data
 * path reads, not even the settings that come first in the write order. */
Test(apply, refused_config_leaves_every_map_as_it_was)
{
	static __u32 keys[LB_MAX_BACKENDS - 1];
	static struct lb_backend vals[LB_MAX_BACKENDS - 1];
	const char *text = "{ \"interface\": \"eth0\", \"mtu\": 1400, \"tunnel_source\": "
			   "{ \"ipv4\": \"198.18.9.9\", \"ipv6\": \"fd00:9::9\" }, \"vips\": ["
			   WEB(BE("198.18.3.1") "," BE("198.18.3.77")) ","
			   DNS(BE("fd00:3::1")) "] }";
	struct dump cfg, vips, backends, tables, after[4];
	__u32 i, count = LB_MAX_BACKENDS - 1, web;
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	struct apply_stats st;
	char err[256];

	apply_text(CONFIG(WEB(BE("198.18.3.1"))));
	/* Every id is a live backend of web's (its table names one of them):
	 * nothing is free until an apply retires some. */
	web = vip_get("198.18.100.1", 80, IPPROTO_TCP, 0).id;
	for (i = 0; i < count; i++) {
		keys[i] = i + 1;
		vals[i].family = LB_FAMILY_IPV4;
		vals[i].flags = LB_BACKEND_F_UP;
		vals[i].vip_id = (__u16)web;
		vals[i].addr[0] = htonl(0xc6130000 + i);
	}
	pkt_addr("198.18.3.1", vals[0].addr);
	cr_assert_eq(bpf_map_update_batch(bed.maps.backends, keys, vals, &count, &opts), 0);
	cfg = map_dump(bed.maps.lb_cfg);
	vips = map_dump(bed.maps.vip_map);
	backends = map_dump(bed.maps.backends);
	tables = tables_dump();

	cr_assert_eq(apply_try(text, &st, err, sizeof(err)), -ENOSPC);
	cr_assert(strstr(err, "backend id"), "error: %s", err);
	after[0] = map_dump(bed.maps.lb_cfg);
	after[1] = map_dump(bed.maps.vip_map);
	after[2] = map_dump(bed.maps.backends);
	after[3] = tables_dump();
	dump_assert_eq(&cfg, &after[0], "lb_cfg");
	dump_assert_eq(&vips, &after[1], "vip_map");
	dump_assert_eq(&backends, &after[2], "backends");
	dump_assert_eq(&tables, &after[3], "vip_tables");
}

/*
 * A flow of a service that was removed must never be forwarded again. With
 * every VIP id in use, 198.18.100.1 moves from port 80 to 8080 and takes
 * its old id, its backend "down"; then the backend comes back. The flow
 * entry of the old port-80 service still names the old backend id: that id
 * must stay retired, or the data path, which follows flow entries before
 * any VIP lookup, would send the old flow on.
 */
Test(apply, a_removed_services_flow_is_not_revived_with_its_address)
{
	char *a = full_vips(80), *b = full_vips_state(8080, "down");
	char *c = full_vips_state(8080, "active");
	struct lb_flow_key k = { .family = LB_FAMILY_IPV4, .proto = IPPROTO_TCP };
	uint8_t in[128], out[256];
	size_t len, out_len = sizeof(out);
	__u32 vip, old_id, verdict;

	apply_text(a);
	vip = vip_get("198.18.100.1", 80, IPPROTO_TCP, 0).id;
	old_id = backend_find(vip, "198.18.3.1");
	pkt_addr("198.18.9.9", k.src);
	pkt_addr("198.18.100.1", k.dst);
	k.sport = htons(40000);
	k.dport = htons(80);
	lb_test_flow_put(bed.maps.flow_table, &k, old_id, 0);
	apply_text(b);
	cr_assert_eq(vip_get("198.18.100.1", 8080, IPPROTO_TCP, 0).id, vip, "the id was not reused");
	apply_text(c);
	cr_assert_eq(vip_get("198.18.100.1", 80, IPPROTO_TCP, 0).id, ~0U);
	cr_assert_eq(backend_get(old_id).flags, 0, "the old backend id is up again");
	cr_assert_eq(backend_get(old_id).vip_id, LB_BACKEND_VIP_NONE);
	len = pkt_tcp(in, sizeof(in), &k, PKT_TCP_ACK, 0);
	cr_assert_eq(lb_test_run(bpf_program__fd(bed.skel->progs.lb_xdp), in, len, out, &out_len,
				 &verdict), 0);
	cr_assert_eq(verdict, XDP_PASS, "a flow of the removed port-80 service was forwarded");
	free(a);
	free(b);
	free(c);
}

/*
 * An apply that removed a VIP and failed before retiring its backends
 * leaves them up and naming its id, with no VIP entry (made here by hand:
 * the entries deleted, the backends left). A new VIP must not get that id
 * while they do: the old service's flows would be carried and counted
 * under it.
 */
Test(apply, an_id_backends_still_name_is_not_handed_out)
{
	struct lb_vip dns;
	struct lb_vip_key k = { .port = htons(53), .proto = IPPROTO_UDP };
	__u32 be;

	apply_text(CONFIG(WEB(BE("198.18.3.1")) "," DNS(BE("fd00:3::1"))));
	dns = vip_get("fd00:100::53", 53, IPPROTO_UDP, 0);
	be = backend_find(dns.id, "fd00:3::1");
	cr_assert_neq(be, 0);
	k.family = pkt_addr("fd00:100::53", k.addr);
	cr_assert_eq(bpf_map_delete_elem(bed.maps.vip_map, &k), 0);
	k.port = 0;
	k.flags = LB_VIP_KEY_FRAG;
	bpf_map_delete_elem(bed.maps.vip_map, &k);
	k.proto = IPPROTO_ICMPV6;
	k.flags = 0;
	bpf_map_delete_elem(bed.maps.vip_map, &k);
	apply_text(CONFIG(WEB(BE("198.18.3.1")) ","
		   "{ \"name\": \"new\", \"address\": \"198.18.100.7\", \"port\": 80, "
		   "\"protocol\": \"tcp\", \"table_size\": 251, \"backends\": [" BE("198.18.3.7")
		   "] }"));
	cr_assert_neq(vip_get("198.18.100.7", 80, IPPROTO_TCP, 0).id, dns.id,
		      "the new VIP took the id the old backends name");
	cr_assert_eq(backend_get(be).flags, 0, "the old VIP's backend is still up");
}

/* A table set back to the installed one while another is queued for the
 * VIP: the flush installs the one set last, not the queued one. */
Test(apply, the_last_table_set_before_a_flush_is_installed)
{
	struct maglev_backend two[2] = {
		{ .id = 1, .weight = 1, .family = LB_FAMILY_IPV4 },
		{ .id = 2, .weight = 1, .family = LB_FAMILY_IPV4 },
	};
	struct tables *t = tables_new(bed.maps.vip_tables);
	char err[256];

	cr_assert_not_null(t);
	pkt_addr("198.18.3.1", two[0].addr);
	pkt_addr("198.18.3.2", two[1].addr);
	cr_assert_eq(tables_set(t, 7, two, 2, 251, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(tables_flush(t, err, sizeof(err)), 0, "%s", err);
	cr_assert(table_has(7, 2));
	cr_assert_eq(tables_set(t, 7, two, 1, 251, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(tables_set(t, 7, two, 2, 251, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(tables_flush(t, err, sizeof(err)), 0, "%s", err);
	cr_assert(table_has(7, 2), "the table queued in between was installed");
	tables_free(t);
}
