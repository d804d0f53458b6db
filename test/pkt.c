// SPDX-License-Identifier: GPL-2.0-only
#include "pkt.h"

#include <arpa/inet.h>
#include <string.h>

const uint8_t pkt_lb_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
const uint8_t pkt_router_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0xfe };

#define ETH_LEN 14
#define IP4_LEN 20
#define IP6_LEN 40
#define TCP_LEN 20
#define UDP_LEN 8
#define ICMP_LEN 8

static uint32_t sum16(uint32_t sum, const void *data, size_t len)
{
	const uint8_t *p = data;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

static void put16(uint8_t *p, uint16_t host)
{
	p[0] = host >> 8;
	p[1] = host & 0xff;
}

static size_t eth(uint8_t *buf, uint8_t family)
{
	memcpy(buf, pkt_lb_mac, 6);
	memcpy(buf + 6, pkt_router_mac, 6);
	put16(buf + 12, family == LB_FAMILY_IPV4 ? 0x0800 : 0x86dd);
	return ETH_LEN;
}

/* IP header for len bytes of payload; returns its length. */
static size_t ip(uint8_t *p, uint8_t family, const __be32 *src, const __be32 *dst,
		 uint8_t proto, size_t len)
{
	if (family == LB_FAMILY_IPV4) {
		memset(p, 0, IP4_LEN);
		p[0] = 0x45;
		put16(p + 2, (uint16_t)(IP4_LEN + len));
		p[6] = 0x40;
		p[8] = 64;
		p[9] = proto;
		memcpy(p + 12, src, 4);
		memcpy(p + 16, dst, 4);
		memcpy(p + 10, &(uint16_t){ fold(sum16(0, p, IP4_LEN)) }, 2);
		return IP4_LEN;
	}
	memset(p, 0, IP6_LEN);
	p[0] = 0x60;
	put16(p + 4, (uint16_t)len);
	p[6] = proto;
	p[7] = 64;
	memcpy(p + 8, src, 16);
	memcpy(p + 24, dst, 16);
	return IP6_LEN;
}

/* Checksum of an L4 segment with the pseudo-header. */
static uint16_t l4_csum(uint8_t family, const __be32 *src, const __be32 *dst, uint8_t proto,
			const uint8_t *seg, size_t len)
{
	size_t alen = family == LB_FAMILY_IPV4 ? 4 : 16;
	uint32_t sum = 0;

	if (family == LB_FAMILY_IPV4 && proto == 1)
		return fold(sum16(0, seg, len));
	sum = sum16(sum, src, alen);
	sum = sum16(sum, dst, alen);
	sum += proto + (uint32_t)len;
	return fold(sum16(sum, seg, len));
}

static size_t tcp(uint8_t *p, __be16 sport, __be16 dport, uint8_t flags, size_t payload)
{
	memset(p, 0, TCP_LEN + payload);
	memcpy(p, &sport, 2);
	memcpy(p + 2, &dport, 2);
	put16(p + 4, 0x1234);
	p[12] = 5 << 4;
	p[13] = flags;
	put16(p + 14, 65535);
	return TCP_LEN + payload;
}

/* Ethernet and IP headers for a segment of seg bytes of the flow k with
 * protocol proto; returns where the segment starts, or NULL if cap is too
 * small. *len is the frame length. */
static uint8_t *l4_frame(uint8_t *buf, size_t cap, const struct lb_flow_key *k, uint8_t proto,
			 size_t seg, size_t *len)
{
	size_t l3 = k->family == LB_FAMILY_IPV4 ? IP4_LEN : IP6_LEN;
	uint8_t *p;

	if (ETH_LEN + l3 + seg > cap)
		return NULL;
	p = buf + eth(buf, k->family);
	p += ip(p, k->family, k->src, k->dst, proto, seg);
	*len = ETH_LEN + l3 + seg;
	return p;
}

size_t pkt_tcp(uint8_t *buf, size_t cap, const struct lb_flow_key *k, uint8_t flags,
	       size_t payload_len)
{
	size_t seg = TCP_LEN + payload_len, len;
	uint8_t *p = l4_frame(buf, cap, k, 6, seg, &len);
	uint16_t c;

	if (!p)
		return 0;
	tcp(p, k->sport, k->dport, flags, payload_len);
	c = l4_csum(k->family, k->src, k->dst, 6, p, seg);
	memcpy(p + 16, &c, 2);
	return len;
}

size_t pkt_udp(uint8_t *buf, size_t cap, const struct lb_flow_key *k, size_t payload_len)
{
	size_t seg = UDP_LEN + payload_len, len;
	uint8_t *p = l4_frame(buf, cap, k, 17, seg, &len);
	uint16_t c;

	if (!p)
		return 0;
	memset(p, 0, seg);
	memcpy(p, &k->sport, 2);
	memcpy(p + 2, &k->dport, 2);
	put16(p + 4, (uint16_t)seg);
	c = l4_csum(k->family, k->src, k->dst, 17, p, seg);
	memcpy(p + 6, &c, 2);
	return len;
}

size_t pkt_too_big(uint8_t *buf, size_t cap, const struct lb_flow_key *k,
		   const __be32 router[4], uint32_t mtu)
{
	size_t l3 = k->family == LB_FAMILY_IPV4 ? IP4_LEN : IP6_LEN;
	size_t quote = l3 + TCP_LEN, icmp_len = ICMP_LEN + quote;
	uint8_t proto = k->family == LB_FAMILY_IPV4 ? 1 : 58;
	uint8_t *p, *icmp;
	uint16_t c;

	if (ETH_LEN + l3 + icmp_len > cap)
		return 0;
	p = buf + eth(buf, k->family);
	p += ip(p, k->family, router, k->dst, proto, icmp_len);
	icmp = p;
	memset(icmp, 0, ICMP_LEN);
	if (k->family == LB_FAMILY_IPV4) {
		icmp[0] = 3;
		icmp[1] = 4;
		put16(icmp + 6, (uint16_t)mtu);
	} else {
		icmp[0] = 2;
		put16(icmp + 4, (uint16_t)(mtu >> 16));
		put16(icmp + 6, (uint16_t)mtu);
	}
	/* The quoted segment: the backend's reply, VIP -> client. */
	p = icmp + ICMP_LEN;
	p += ip(p, k->family, k->dst, k->src, 6, TCP_LEN + 1400);
	tcp(p, k->dport, k->sport, PKT_TCP_ACK, 0);
	c = l4_csum(k->family, router, k->dst, proto, icmp, icmp_len);
	memcpy(icmp + 2, &c, 2);
	return ETH_LEN + l3 + icmp_len;
}

int pkt_outer_dst(const uint8_t *frame, size_t len, uint8_t *family, __be32 dst[4])
{
	memset(dst, 0, 16);
	if (len >= ETH_LEN + IP4_LEN && frame[12] == 0x08 && frame[13] == 0x00) {
		*family = LB_FAMILY_IPV4;
		memcpy(dst, frame + ETH_LEN + 16, 4);
		return 0;
	}
	if (len >= ETH_LEN + IP6_LEN && frame[12] == 0x86 && frame[13] == 0xdd) {
		*family = LB_FAMILY_IPV6;
		memcpy(dst, frame + ETH_LEN + 24, 16);
		return 0;
	}
	return -1;
}

struct lb_flow_key pkt_flow(const char *src, const char *dst, uint16_t sport, uint16_t dport,
			    uint8_t proto)
{
	struct lb_flow_key k = { .proto = proto };

	k.family = pkt_addr(dst, k.dst);
	pkt_addr(src, k.src);
	k.sport = htons(sport);
	k.dport = htons(dport);
	return k;
}

uint8_t pkt_addr(const char *text, __be32 addr[4])
{
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, text, addr) == 1)
		return LB_FAMILY_IPV4;
	if (inet_pton(AF_INET6, text, addr) == 1)
		return LB_FAMILY_IPV6;
	return 0;
}
