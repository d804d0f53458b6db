/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Frame builders for the C tests and the benchmark: Ethernet + IPv4/IPv6 +
 * TCP, and ICMP errors about a flow, with valid checksums. The fixture
 * table is built independently, with scapy (test/gen_fixtures.py).
 */
#ifndef LB_PKT_H
#define LB_PKT_H

#include <stddef.h>
#include <stdint.h>
#include "lb_abi.h"

#define PKT_TCP_FIN	0x01
#define PKT_TCP_SYN	0x02
#define PKT_TCP_RST	0x04
#define PKT_TCP_ACK	0x10

/* MACs the builders put in the Ethernet header: router -> balancer. */
extern const uint8_t pkt_lb_mac[6];
extern const uint8_t pkt_router_mac[6];

/* The flow key of src:sport -> dst:dport (addresses as text) for proto. */
struct lb_flow_key pkt_flow(const char *src, const char *dst, uint16_t sport, uint16_t dport,
			    uint8_t proto);

/* A TCP segment of the flow k (client -> VIP) with payload_len zero bytes.
 * Returns the frame length, or 0 if cap is too small. */
size_t pkt_tcp(uint8_t *buf, size_t cap, const struct lb_flow_key *k, uint8_t flags,
	       size_t payload_len);

/* A UDP datagram of the flow k with payload_len zero bytes. Returns the
 * frame length, or 0 if cap is too small. */
size_t pkt_udp(uint8_t *buf, size_t cap, const struct lb_flow_key *k, size_t payload_len);

/* An ICMP frag-needed (IPv4) or packet-too-big (IPv6) from router to the
 * VIP, quoting a segment the backend sent for flow k (VIP -> client). */
size_t pkt_too_big(uint8_t *buf, size_t cap, const struct lb_flow_key *k,
		   const __be32 router[4], uint32_t mtu);

/* The outer destination of an encapsulated frame (no VLAN tags).
 * Returns 0, or -1 when the frame is not IPv4/IPv6. */
int pkt_outer_dst(const uint8_t *frame, size_t len, uint8_t *family, __be32 dst[4]);

/* Parse an IPv4 or IPv6 address into addr[4] (IPv4 in addr[0]) and return
 * its LB_FAMILY_*, or 0. */
uint8_t pkt_addr(const char *text, __be32 addr[4]);

#endif /* LB_PKT_H */
