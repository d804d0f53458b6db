// SPDX-License-Identifier: GPL-2.0-only
/*
 * Mutated frames through the real balancer (BPF_PROG_TEST_RUN), judged by a
 * reference parser written here from the specification, not from the
 * program:
 *
 *  - a frame that is malformed (Ethernet, IPv4, IPv6 and its extension
 *    headers, and for a VIP address the TCP, UDP or ICMP header and an ICMP
 *    error's quoted header) is dropped, never transmitted;
 *  - a frame that is not for a VIP address is passed byte for byte;
 *  - whatever the program passes, it passes byte for byte, and whatever it
 *    encapsulates carries the received IP packet unchanged;
 *  - every dropped frame moved exactly one drop-reason counter.
 *
 * The seed is fixed, so every run tries the same frames: a failure names
 * the frame's index and bytes and can be replayed.
 */
#include <string.h>
#include <netinet/in.h>

#include <bpf/bpf.h>
#include <criterion/criterion.h>

#include "lb_hash.h"
#include "lb_test.h"
#include "lb_xdp.skel.h"
#include "pkt.h"
#include "stats.h"
#include "testbed.h"

#define FZ_FRAMES	200000
#define FZ_SEED		0x5eedf00du
#define FZ_FRAME_MAX	512
#define FZ_OUT_MAX	(FZ_FRAME_MAX + 256)
#define FZ_HDR_SPAN	96	/* where blind mutations land: the headers */
#define FZ_FIELDS_MAX	8

#define FZ_ETH_P_IP	0x0800
#define FZ_ETH_P_IPV6	0x86dd
#define FZ_ETH_P_8021Q	0x8100
#define FZ_ETH_P_8021AD	0x88a8

/* What the reference parser says the program must do with a frame. */
enum fz_class {
	FZ_PASS,	/* passed, byte for byte */
	FZ_DROP,	/* malformed: dropped */
	FZ_NOT_TX,	/* malformed, to an address that shares a vip_filter bit
			 * with a VIP: dropped or passed, never sent */
	FZ_ANY,		/* well formed, for a VIP address: the program decides */
	FZ_CLASSES,
};

static const char *const fz_class_names[FZ_CLASSES] = { "pass", "drop", "not_tx", "any" };

struct fz_seed {
	uint8_t frame[FZ_FRAME_MAX];
	size_t len;
	size_t fields[FZ_FIELDS_MAX];	/* offsets of length and version fields */
	size_t nfields;
};

#define FZ_SEEDS_MAX	32

static struct lb_xdp *skel;
static struct testbed_vip vips[4];
static struct fz_seed seeds[FZ_SEEDS_MAX];
static size_t nseeds;

static const char *const fz_vip_addrs[] = { "198.18.100.1", "fd00:100::1" };
static const char *const fz_other_addrs[] = { "198.18.200.1", "fd00:200::1" };

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

/* --- The reference: what the specification says about a frame --- */

static int fz_is_vip(const uint8_t *dst, int v6)
{
	__be32 a[4];
	size_t i;

	for (i = 0; i < sizeof(fz_vip_addrs) / sizeof(fz_vip_addrs[0]); i++) {
		uint8_t fam = pkt_addr(fz_vip_addrs[i], a);

		if ((fam == LB_FAMILY_IPV6) == v6 && !memcmp(a, dst, v6 ? 16 : 4))
			return 1;
	}
	return 0;
}

/* Does dst share its vip_filter bit with a VIP address? Then the program
 * may take it for one until vip_map says otherwise. */
static int fz_filter_collides(const uint8_t *dst, int v6)
{
	__be32 a[4] = { 0 }, v[4];
	uint8_t fam;
	size_t i;

	memcpy(a, dst, v6 ? 16 : 4);
	for (i = 0; i < sizeof(fz_vip_addrs) / sizeof(fz_vip_addrs[0]); i++) {
		fam = pkt_addr(fz_vip_addrs[i], v);
		if ((fam == LB_FAMILY_IPV6) == v6 &&
		    lb_addr_hash(a, fam) % LB_VIP_FILTER_BITS ==
			    lb_addr_hash(v, fam) % LB_VIP_FILTER_BITS)
			return 1;
	}
	return 0;
}

struct fz_pkt {
	size_t l3, end, l4;	/* IP header, end of the IP packet, L4 header */
	int v6, later, first;
	uint8_t proto;
	const uint8_t *dst;
};

/* Ethernet, VLAN tags and the IP header. Returns -1 when the frame goes on
 * to L4, else its class. */
static int fz_ref_l3(const uint8_t *f, size_t len, struct fz_pkt *p)
{
	uint16_t et = rd16(f + 12), fo;
	size_t l2 = 14, off, hl;
	uint8_t nh;
	int i;

	for (i = 0; i < 2 && (et == FZ_ETH_P_8021Q || et == FZ_ETH_P_8021AD); i++) {
		if (l2 + 4 > len)
			return FZ_DROP;
		et = rd16(f + l2 + 2);
		l2 += 4;
	}
	if (et == FZ_ETH_P_8021Q || et == FZ_ETH_P_8021AD)
		return FZ_PASS;
	memset(p, 0, sizeof(*p));
	p->l3 = l2;
	if (et == FZ_ETH_P_IP) {
		if (l2 + 20 > len || f[l2] >> 4 != 4 || (f[l2] & 15) < 5)
			return FZ_DROP;
		hl = (size_t)(f[l2] & 15) * 4;
		if (l2 + hl > len || rd16(f + l2 + 2) < hl || l2 + rd16(f + l2 + 2) > len)
			return FZ_DROP;
		p->end = l2 + rd16(f + l2 + 2);
		fo = rd16(f + l2 + 6);
		p->later = (fo & 0x1fff) != 0;
		p->first = !p->later && (fo & 0x2000);
		p->proto = f[l2 + 9];
		p->dst = f + l2 + 16;
		p->l4 = l2 + hl;
		return -1;
	}
	if (et != FZ_ETH_P_IPV6)
		return FZ_PASS;
	if (l2 + 40 > len || f[l2] >> 4 != 6 || l2 + 40 + rd16(f + l2 + 4) > len)
		return FZ_DROP;
	p->v6 = 1;
	p->end = l2 + 40 + rd16(f + l2 + 4);
	p->dst = f + l2 + 24;
	nh = f[l2 + 6];
	off = l2 + 40;
	for (i = 0; nh == 0 || nh == 43 || nh == 44 || nh == 60; i++) {
		if (i == LB_MAX_IPV6_EXT_HDRS)
			return FZ_DROP;
		if (nh == 44) {
			if (off + 8 > len)
				return FZ_DROP;
			fo = rd16(f + off + 2);
			p->later = (fo & 0xfff8) != 0;
			p->first = p->first || (!p->later && (fo & 1));
			nh = f[off];
			off += 8;
		} else {
			if (off + 2 > len)
				return FZ_DROP;
			nh = f[off];
			off += ((size_t)f[off + 1] + 1) * 8;
		}
		if (off > p->end)
			return FZ_DROP;
		if (p->later)
			break;
	}
	p->proto = nh;
	p->l4 = off;
	return -1;
}

/* An ICMP error's quote, q bytes into the frame. */
static enum fz_class fz_ref_quote(const uint8_t *f, const struct fz_pkt *p, size_t q)
{
	size_t qhl;
	int qlater;

	if (!p->v6) {
		if (q + 20 > p->end || f[q] >> 4 != 4 || (f[q] & 15) < 5)
			return FZ_DROP;
		qhl = (size_t)(f[q] & 15) * 4;
		qlater = (rd16(f + q + 6) & 0x1fff) != 0;
		if (rd16(f + q + 2) < qhl + (qlater ? 0 : 8))
			return FZ_DROP;
		if (memcmp(f + q + 12, p->dst, 4))
			return FZ_PASS;
		if (f[q + 9] != IPPROTO_TCP && f[q + 9] != IPPROTO_UDP)
			return FZ_PASS;
		if (qlater)
			return FZ_ANY;
		return q + qhl + 4 > p->end ? FZ_DROP : FZ_ANY;
	}
	if (q + 40 > p->end || f[q] >> 4 != 6 || rd16(f + q + 4) < 8)
		return FZ_DROP;
	if (memcmp(f + q + 8, p->dst, 16))
		return FZ_PASS;
	if (f[q + 6] != IPPROTO_TCP && f[q + 6] != IPPROTO_UDP)
		return FZ_PASS;
	return q + 44 > p->end ? FZ_DROP : FZ_ANY;
}

/* TCP, UDP or ICMP of a frame to a VIP address. */
static enum fz_class fz_ref_l4(const uint8_t *f, const struct fz_pkt *p)
{
	size_t l4 = p->l4;
	unsigned int doff, ulen;

	if (p->later)
		return p->proto == IPPROTO_TCP || p->proto == IPPROTO_UDP ? FZ_ANY : FZ_PASS;
	switch (p->proto) {
	case IPPROTO_TCP:
		if (l4 + 20 > p->end)
			return FZ_DROP;
		doff = f[l4 + 12] >> 4;
		return doff < 5 || l4 + doff * 4 > p->end ? FZ_DROP : FZ_ANY;
	case IPPROTO_UDP:
		if (l4 + 8 > p->end)
			return FZ_DROP;
		ulen = rd16(f + l4 + 4);
		if (ulen < 8 || (!p->first && l4 + ulen > p->end))
			return FZ_DROP;
		return FZ_ANY;
	default: /* ICMP or ICMPv6 */
		if (l4 + 8 > p->end)
			return FZ_DROP;
		if (p->first)
			return FZ_PASS;
		if (!p->v6 && p->proto == IPPROTO_ICMP && f[l4] == 3 && f[l4 + 1] == 4)
			return fz_ref_quote(f, p, l4 + 8);
		if (p->v6 && p->proto == IPPROTO_ICMPV6 && f[l4] == 2)
			return fz_ref_quote(f, p, l4 + 8);
		return FZ_ANY;
	}
}

static enum fz_class fz_reference(const uint8_t *f, size_t len, struct fz_pkt *p)
{
	int vip, rc = fz_ref_l3(f, len, p);
	enum fz_class c;

	if (rc >= 0)
		return (enum fz_class)rc;
	if (p->proto != IPPROTO_TCP && p->proto != IPPROTO_UDP && p->proto != IPPROTO_ICMP &&
	    p->proto != IPPROTO_ICMPV6)
		return FZ_PASS;
	vip = fz_is_vip(p->dst, p->v6);
	if (!vip && !fz_filter_collides(p->dst, p->v6))
		return FZ_PASS;
	c = fz_ref_l4(f, p);
	if (vip)
		return c;
	/* Not a VIP address but its filter bit says maybe: well formed, the
	 * VIP lookup passes it; malformed, it may be dropped. */
	return c == FZ_DROP ? FZ_NOT_TX : FZ_PASS;
}

/* --- Seeds and mutations --- */

/* Insert n bytes at off, moving the rest up. */
static void fz_insert(struct fz_seed *s, size_t off, const uint8_t *bytes, size_t n)
{
	cr_assert_leq(s->len + n, sizeof(s->frame));
	memmove(s->frame + off + n, s->frame + off, s->len - off);
	memcpy(s->frame + off, bytes, n);
	s->len += n;
}

/* Record where a seed's length and version fields lie, found with the
 * reference parser on the well-formed seed. */
static void fz_fields(struct fz_seed *s)
{
	struct fz_pkt p;
	size_t q;

	cr_assert_eq(fz_ref_l3(s->frame, s->len, &p), -1, "seed %zu does not parse", nseeds);
	s->nfields = 0;
	s->fields[s->nfields++] = p.l3;				/* version, IHL */
	s->fields[s->nfields++] = p.l3 + (p.v6 ? 4 : 2);	/* total / payload length */
	s->fields[s->nfields++] = p.l4 + 4;			/* UDP length, quoted version */
	s->fields[s->nfields++] = p.l4 + 12;			/* TCP data offset */
	q = p.l4 + 8;
	s->fields[s->nfields++] = q;				/* quoted version, IHL */
	s->fields[s->nfields++] = q + (p.v6 ? 4 : 2);		/* quoted length */
	s->fields[s->nfields++] = q + (p.v6 ? 6 : 9);		/* quoted protocol */
	s->fields[s->nfields++] = p.l3 + 6;	/* IPv4 fragment field, IPv6 next header */
}

static struct fz_seed *fz_seed_new(void)
{
	cr_assert_lt(nseeds, FZ_SEEDS_MAX);
	return &seeds[nseeds++];
}

static void fz_seed_flow(const char *dst, uint8_t proto, uint16_t dport, uint8_t flags)
{
	const char *src = strchr(dst, ':') ? "2001:db8:c1::7" : "198.51.100.7";
	struct lb_flow_key k = pkt_flow(src, dst, 40000 + (uint16_t)nseeds, dport, proto);
	struct fz_seed *s = fz_seed_new();

	if (proto == IPPROTO_TCP)
		s->len = pkt_tcp(s->frame, sizeof(s->frame), &k, flags, 12);
	else
		s->len = pkt_udp(s->frame, sizeof(s->frame), &k, 12);
	cr_assert_gt(s->len, 0);
	fz_fields(s);
}

static void fz_seed_too_big(const char *dst, uint16_t dport)
{
	const char *src = strchr(dst, ':') ? "2001:db8:c1::7" : "198.51.100.7";
	struct lb_flow_key k = pkt_flow(src, dst, 41000 + (uint16_t)nseeds, dport, IPPROTO_TCP);
	struct fz_seed *s = fz_seed_new();
	__be32 router[4];

	pkt_addr(k.family == LB_FAMILY_IPV4 ? "198.18.9.9" : "fd00:9::9", router);
	s->len = pkt_too_big(s->frame, sizeof(s->frame), &k, router, 1400);
	cr_assert_gt(s->len, 0);
	fz_fields(s);
}

/* Variants of the last seed: a VLAN tag, IPv4 options, an IPv6
 * hop-by-hop header, a first fragment. */
static void fz_seed_variant(int kind)
{
	static const uint8_t tag[4] = { 0x81, 0x00, 0x00, 0x64 };
	static const uint8_t nops[4] = { 1, 1, 1, 1 };
	struct fz_seed *s = fz_seed_new();
	uint8_t hbh[8] = { 0, 0, 1, 4, 0, 0, 0, 0 };

	*s = seeds[nseeds - 2];
	if (kind == 0) {
		fz_insert(s, 12, tag, sizeof(tag));
	} else if (s->frame[12] == 0x08) {
		if (kind == 1) {
			fz_insert(s, 34, nops, sizeof(nops));
			s->frame[14] = 0x46;
			wr16(s->frame + 16, rd16(s->frame + 16) + 4);
		} else {
			s->frame[20] |= 0x20;	/* MF */
		}
	} else {
		hbh[0] = s->frame[20];
		fz_insert(s, 54, hbh, sizeof(hbh));
		s->frame[20] = 0;
		wr16(s->frame + 18, rd16(s->frame + 18) + 8);
	}
	fz_fields(s);
}

static void fz_seeds(void)
{
	size_t i;

	nseeds = 0;
	for (i = 0; i < 2; i++) {
		const char *vip = fz_vip_addrs[i], *other = fz_other_addrs[i];
		uint16_t tport = i ? 443 : 80;

		fz_seed_flow(vip, IPPROTO_TCP, tport, PKT_TCP_SYN);
		fz_seed_flow(vip, IPPROTO_TCP, tport, PKT_TCP_ACK);
		fz_seed_variant(0);
		fz_seed_flow(vip, IPPROTO_UDP, 53, 0);
		fz_seed_variant(1);
		fz_seed_flow(vip, IPPROTO_UDP, 53, 0);
		fz_seed_variant(2);
		fz_seed_too_big(vip, tport);
		fz_seed_too_big(vip, 53);
		fz_seed_flow(other, IPPROTO_TCP, 80, PKT_TCP_SYN);
		fz_seed_flow(other, IPPROTO_UDP, 53, 0);
		fz_seed_too_big(other, 80);
	}
}

static uint32_t rng = FZ_SEED;

static uint32_t fz_rand(uint32_t n)
{
	return lb_test_rand(&rng) % n;
}

/* Values a length or version field is likely to get wrong. */
static uint16_t fz_edge_value(uint16_t orig)
{
	static const uint16_t edges[] = { 0, 1, 4, 7, 8, 19, 20, 27, 28, 39, 40, 0x40, 0x44,
					  0x45, 0x46, 0x4f, 0x50, 0x60, 0x6f, 0xffff };
	uint32_t r = fz_rand(sizeof(edges) / sizeof(edges[0]) + 4);

	if (r < sizeof(edges) / sizeof(edges[0]))
		return edges[r];
	return (uint16_t)(orig + (r & 1 ? 1 : -1) * (r & 2 ? 8 : 1));
}

static size_t fz_mutate(const struct fz_seed *s, uint8_t *f)
{
	size_t len = s->len, span, pos;
	int n = 1 + (int)fz_rand(3), i;

	memcpy(f, s->frame, len);
	for (i = 0; i < n; i++) {
		span = len < FZ_HDR_SPAN ? len : FZ_HDR_SPAN;
		switch (fz_rand(6)) {
		case 0:
			pos = fz_rand((uint32_t)span);
			f[pos] ^= (uint8_t)(1u << fz_rand(8));
			break;
		case 1:
			f[fz_rand((uint32_t)span)] = (uint8_t)fz_rand(256);
			break;
		case 2:
		case 3:
			pos = s->fields[fz_rand((uint32_t)s->nfields)];
			if (pos + 2 > len)
				break;
			if (fz_rand(2))
				wr16(f + pos, fz_edge_value(rd16(f + pos)));
			else
				f[pos] = (uint8_t)fz_edge_value(f[pos]);
			break;
		case 4:
			len = 14 + fz_rand((uint32_t)(len - 13));
			break;
		default:
			pos = fz_rand(17);
			if (len + pos > FZ_FRAME_MAX)
				break;
			while (pos--)
				f[len++] = (uint8_t)fz_rand(256);
			break;
		}
	}
	return len;
}

/* --- The run --- */

static void setup(void)
{
	struct bpf_object *obj;
	static const uint8_t protos[2] = { IPPROTO_ICMP, IPPROTO_ICMPV6 };
	size_t i;

	lb_test_require_bpf();
	skel = lb_xdp__open_and_load();
	cr_assert_not_null(skel, "cannot load lb_xdp");
	obj = skel->obj;
	cr_assert_eq(testbed_config(obj), 0);
	for (i = 0; i < 2; i++) {
		uint8_t fam = i ? LB_FAMILY_IPV6 : LB_FAMILY_IPV4;
		uint32_t id = (uint32_t)(2 * i);

		cr_assert_eq(testbed_vip_add(obj, fz_vip_addrs[i], i ? 443 : 80, IPPROTO_TCP, id), 0);
		cr_assert_eq(testbed_vip_add(obj, fz_vip_addrs[i], 53, IPPROTO_UDP, id + 1), 0);
		cr_assert_eq(testbed_vip_add(obj, fz_vip_addrs[i], 0, protos[i], 10 + id), 0);
		vips[id].id = id;
		vips[id + 1].id = id + 1;
		cr_assert_eq(testbed_backends(obj, &vips[id], fam, 8, 1 + 100 * id), 0);
		cr_assert_eq(testbed_backends(obj, &vips[id + 1], fam, 8, 101 + 100 * id), 0);
	}
	fz_seeds();
}

static void teardown(void)
{
	size_t i;

	for (i = 0; i < 4; i++)
		testbed_vip_free(&vips[i]);
	lb_xdp__destroy(skel);
	skel = NULL;
}

TestSuite(xdp_fuzz, .init = setup, .fini = teardown, .timeout = 120);

/* An encapsulated frame must carry the received IP packet unchanged. */
static void fz_check_tx(size_t idx, const uint8_t *in, const struct fz_pkt *p, const uint8_t *out,
			size_t out_len)
{
	size_t o = p->l3, inner;
	uint8_t proto;

	cr_assert_gt(out_len, o + 20, "frame %zu: sent %zu bytes", idx, out_len);
	if (out[o] >> 4 == 4) {
		proto = out[o + 9];
		inner = o + 20;
	} else {
		cr_assert_gt(out_len, o + 40, "frame %zu: sent %zu bytes", idx, out_len);
		proto = out[o + 6];
		inner = o + 40;
	}
	if (proto != IPPROTO_IPIP && proto != IPPROTO_IPV6)
		return;		/* an answer of the node's own: echo reply, too big */
	cr_assert(out_len - inner == p->end - p->l3 &&
			  !memcmp(out + inner, in + p->l3, p->end - p->l3),
		  "frame %zu: the encapsulated packet is not the one received\n  in:  %s", idx,
		  lb_test_hex(in, p->end));
}

/* The drop counters' sum, over every reason and CPU. */
static uint64_t drops_now(void)
{
	uint64_t stats[sizeof(struct lb_global_stats) / 8], sum = 0;
	const uint64_t *drop = stats + offsetof(struct lb_global_stats, drop) / 8;
	size_t j;

	cr_assert_eq(lb_test_percpu_sum(bpf_map__fd(skel->maps.lb_stats), 0, stats,
					 sizeof(stats) / 8), 0);
	for (j = 0; j < LB_DROP_SLOTS; j++)
		sum += drop[j];
	return sum;
}

Test(xdp_fuzz, mutated_frames)
{
	static const int reasons[] = { LB_DROP_ETH_TRUNC, LB_DROP_IP4_BAD_IHL, LB_DROP_IP4_BAD_LEN,
				       LB_DROP_IP6_BAD_LEN, LB_DROP_IP6_EXT, LB_DROP_L4_TRUNC,
				       LB_DROP_TCP_BAD_DOFF, LB_DROP_UDP_BAD_LEN,
				       LB_DROP_ICMP_BAD_QUOTE };
	uint64_t stats[sizeof(struct lb_global_stats) / 8], drops = 0, seen[FZ_CLASSES] = { 0 };
	uint64_t verdicts[LB_VERDICT_MAX] = { 0 };
	int prog = bpf_program__fd(skel->progs.lb_xdp);
	static uint8_t in[FZ_FRAME_MAX], out[FZ_OUT_MAX];
	size_t i, j, len, out_len;
	uint64_t before, after = drops_now();
	const uint64_t *drop;
	enum fz_class c;
	struct fz_pkt p;
	uint32_t v;

	for (i = 0; i < FZ_FRAMES; i++) {
		len = fz_mutate(&seeds[i % nseeds], in);
		c = fz_reference(in, len, &p);
		seen[c]++;
		out_len = sizeof(out);
		cr_assert_eq(lb_test_run(prog, in, len, out, &out_len, &v), 0, "frame %zu", i);
		cr_assert_lt(v, LB_VERDICT_MAX);
		verdicts[v]++;
		/* Each dropped frame moves one drop counter, any other none. */
		before = after;
		after = drops_now();
		cr_assert_eq(after - before, v == XDP_DROP, "frame %zu: verdict %s moved %llu drop "
			     "counters\n  in:  %s", i, stats_verdict_names[v],
			     (unsigned long long)(after - before), lb_test_hex(in, len));
		if (v == XDP_PASS)
			cr_assert(out_len == len && !memcmp(in, out, len),
				  "frame %zu (%s): passed, but changed\n  in:  %s", i,
				  fz_class_names[c], lb_test_hex(in, len));
		if (v == XDP_TX)
			fz_check_tx(i, in, &p, out, out_len);
		cr_assert(c != FZ_DROP || v == XDP_DROP, "frame %zu: malformed, verdict %s\n  in:  %s",
			  i, stats_verdict_names[v], lb_test_hex(in, len));
		cr_assert(c != FZ_PASS || v == XDP_PASS, "frame %zu: not for a VIP, verdict %s\n  in:  %s",
			  i, stats_verdict_names[v], lb_test_hex(in, len));
		cr_assert(c != FZ_NOT_TX || v != XDP_TX, "frame %zu: malformed, sent\n  in:  %s", i,
			  lb_test_hex(in, len));
	}
	cr_assert_eq(lb_test_percpu_sum(bpf_map__fd(skel->maps.lb_stats), 0, stats,
					 sizeof(stats) / 8), 0);
	drop = stats + offsetof(struct lb_global_stats, drop) / 8;
	for (j = 0; j < LB_DROP_SLOTS; j++)
		drops += drop[j];
	cr_assert_eq(drop[LB_DROP_NONE], 0);
	cr_assert_eq(drops, verdicts[XDP_DROP], "%llu drop counts for %llu drops",
		     (unsigned long long)drops, (unsigned long long)verdicts[XDP_DROP]);
	/* A fuzz that never reaches a check proves nothing about it. */
	for (j = 0; j < sizeof(reasons) / sizeof(reasons[0]); j++)
		cr_expect_gt(drop[reasons[j]], 100, "drop reason %s hit %llu times",
			     stats_drop_names[reasons[j]], (unsigned long long)drop[reasons[j]]);
	for (j = 0; j < FZ_CLASSES; j++)
		if (j != FZ_NOT_TX)
			cr_expect_gt(seen[j], FZ_FRAMES / 50, "class %s: %llu frames",
				     fz_class_names[j], (unsigned long long)seen[j]);
	cr_expect_gt(verdicts[XDP_TX], FZ_FRAMES / 10);
	cr_log_info("%d frames: pass %llu, drop %llu, not_tx %llu, any %llu; verdicts drop %llu "
		    "pass %llu tx %llu", FZ_FRAMES, (unsigned long long)seen[FZ_PASS],
		    (unsigned long long)seen[FZ_DROP], (unsigned long long)seen[FZ_NOT_TX],
		    (unsigned long long)seen[FZ_ANY], (unsigned long long)verdicts[XDP_DROP],
		    (unsigned long long)verdicts[XDP_PASS], (unsigned long long)verdicts[XDP_TX]);
}
