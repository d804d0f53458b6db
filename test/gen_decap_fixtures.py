#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Write the test cases for kern/lb_decap.bpf.c as JSON.

Usage: gen_decap_fixtures.py OUT.json

test/test_decap.c runs every case through BPF_PROG_TEST_RUN (the file's
path comes from LB_DECAP_FIXTURES). The output looks like:

  {"cases": [{"name": ..., "description": ...,
              "forwarding": "any" | "on" | "off",
              "in": HEX, "verdict": 1 | 2, "out": HEX,
              "counters": {"ipip": N, ..., "pass": N}}, ...]}

"forwarding" is the IPv4 and IPv6 forwarding setting of the test's network
namespace that a case is meant for ("any": run it under both). It matters
because bpf_fib_lookup() answers BPF_FIB_LKUP_RET_FWD_DISABLED, without
looking at any route, when forwarding is off on the ingress device.
"counters" lists every counter of enum lb_decap_counter.

The addresses below must match the namespace test_decap.c builds: LOCAL4
and LOCAL6 on lo, REMOTE4 and REMOTE6 reached through a default route.
Only 198.18.0.0/15 and fd00::/8 are used.
"""

import json
import sys

from scapy.layers.inet import GRE, IP, IPOption_Router_Alert, TCP, UDP
from scapy.layers.inet6 import IPv6, IPv6ExtHdrDestOpt, IPv6ExtHdrFragment
from scapy.layers.l2 import ARP, Dot1AD, Dot1Q, Ether
from scapy.packet import Padding, Raw

XDP_DROP = 1
XDP_PASS = 2

ETH_P_IP = 0x0800
ETH_P_ARP = 0x0806
ETH_P_8021Q = 0x8100
ETH_P_8021AD = 0x88A8
ETH_P_IPV6 = 0x86DD
ETH_ZLEN = 60  # shortest Ethernet frame without the FCS

IPPROTO_IPIP = 4
IPPROTO_IPV6 = 41
IPPROTO_GRE = 47

# The order of enum lb_decap_counter in common/lb_abi.h.
COUNTERS = ["ipip", "ip6ip", "ipip6", "ip6ip6", "not_local", "malformed", "pass",
            "ecn_drop"]

LB_MAC = "02:00:00:00:00:01"
BACKEND_MAC = "02:00:00:00:00:02"
LB4, LB6 = "198.18.1.1", "fd00:1::1"
LOCAL4, LOCAL6 = "198.18.3.11", "fd00:3::11"
REMOTE4, REMOTE6 = "198.18.5.5", "fd00:5::5"
CLIENT4, CLIENT6 = "198.18.200.7", "fd00:200::7"
VIP4, VIP6 = "198.18.100.10", "fd00:100::10"

# Outer family, inner family -> counter.
KIND = {(4, 4): "ipip", (4, 6): "ip6ip", (6, 4): "ipip6", (6, 6): "ip6ip6"}
ETHERTYPE = {4: ETH_P_IP, 6: ETH_P_IPV6}

cases = []


def l2(ethertype, tags=0):
    """Ethernet header plus 0-3 VLAN tags (802.1ad outside, as in QinQ);
    the innermost EtherType is ethertype."""
    vids = [10, 100, 1000][:tags]
    if not vids:
        return bytes(Ether(dst=BACKEND_MAC, src=LB_MAC, type=ethertype))
    hdr = Ether(dst=BACKEND_MAC, src=LB_MAC,
                type=ETH_P_8021AD if tags > 1 else ETH_P_8021Q)
    for i, vid in enumerate(vids):
        last = i == len(vids) - 1
        tag = Dot1AD if i == 0 and tags > 1 else Dot1Q
        hdr = hdr / tag(vlan=vid, prio=i, type=ethertype if last else ETH_P_8021Q)
    return bytes(hdr)


def tcp4(payload=b"", tos=0):
    pkt = IP(src=CLIENT4, dst=VIP4, id=0x1234, flags="DF", ttl=63, tos=tos)
    if payload:
        pkt /= TCP(sport=40000, dport=80, flags="PA", seq=1001, ack=5001) / Raw(payload)
    else:
        pkt /= TCP(sport=40000, dport=80, flags="S", seq=1000,
                   options=[("MSS", 1460), ("SAckOK", b""), ("WScale", 7)])
    return bytes(pkt)


def udp4():
    return bytes(IP(src=CLIENT4, dst=VIP4, id=0x4321, ttl=63)
                 / UDP(sport=40001, dport=53) / Raw(b"sluice decap udp4"))


def tcp6(payload=b"", tc=0):
    pkt = IPv6(src=CLIENT6, dst=VIP6, hlim=63, fl=0x12345, tc=tc)
    if payload:
        pkt /= TCP(sport=40002, dport=443, flags="PA", seq=2001, ack=6001) / Raw(payload)
    else:
        pkt /= TCP(sport=40002, dport=443, flags="S", seq=2000,
                   options=[("MSS", 1440)])
    return bytes(pkt)


def udp6():
    return bytes(IPv6(src=CLIENT6, dst=VIP6, hlim=63)
                 / UDP(sport=40003, dport=53) / Raw(b"sluice decap udp6"))


def outer(family, inner_family, inner, dst=None, **fields):
    """The outer IP header the load balancer puts in front of inner."""
    proto = IPPROTO_IPIP if inner_family == 4 else IPPROTO_IPV6
    if family == 4:
        hdr = IP(src=LB4, dst=dst or LOCAL4, proto=proto, id=0x0101,
                 flags="DF", ttl=64, **fields)
    else:
        hdr = IPv6(src=LB6, dst=dst or LOCAL6, nh=proto, hlim=64, **fields)
    return bytes(hdr / Raw(inner))


def counters(name):
    return {c: int(c == name) for c in COUNTERS}


def add(name, description, frame, verdict, out, counter, forwarding="any"):
    assert forwarding in ("any", "on", "off")
    assert not any(c["name"] == name for c in cases), name
    cases.append({
        "name": name,
        "description": description,
        "forwarding": forwarding,
        "in": frame.hex(),
        "verdict": verdict,
        "out": out.hex(),
        "counters": counters(counter),
    })


def stripped(name, description, family, inner_family, inner, tags=0,
             trailer=b"", dst=None, forwarding="any", **fields):
    frame = l2(ETHERTYPE[family], tags) + \
        outer(family, inner_family, inner, dst, **fields) + trailer
    out = l2(ETHERTYPE[inner_family], tags) + inner
    add(name, description, frame, XDP_PASS, out,
        KIND[(family, inner_family)], forwarding)


def untouched(name, description, frame, counter="pass", forwarding="any"):
    add(name, description, frame, XDP_PASS, frame, counter, forwarding)


def dropped(name, description, frame, forwarding="any", counter="malformed"):
    add(name, description, frame, XDP_DROP, frame, counter, forwarding)


def tunnel_frame(family, inner_family, inner, tags=0, **fields):
    return l2(ETHERTYPE[family], tags) + outer(family, inner_family, inner, **fields)


def gen_stripped():
    stripped("ipip_tcp", "IPv4 in IPv4, inner TCP SYN: outer header removed",
             4, 4, tcp4())
    stripped("ipip_udp_vlan1", "IPv4 in IPv4, inner UDP, one 802.1Q tag kept",
             4, 4, udp4(), tags=1)
    stripped("ipip_tcp_vlan2",
             "IPv4 in IPv4, inner TCP with data, QinQ tags (22 bytes, longer "
             "than the outer header) kept",
             4, 4, tcp4(b"GET / HTTP/1.0\r\n\r\n"), tags=2)
    stripped("ipip_options", "IPv4 in IPv4, outer header with a router alert "
             "option (IHL 6): all 24 bytes removed",
             4, 4, tcp4(), options=[IPOption_Router_Alert()])

    # The last fragment of a UDP datagram to an l3 VIP: short enough that
    # the frame needs Ethernet padding, which must not reach the stack.
    frag = bytes(IP(src=CLIENT4, dst=VIP4, id=0x7777, proto=17, frag=185,
                    ttl=63) / Raw(b"tail"))
    body = l2(ETH_P_IP) + outer(4, 4, frag)
    assert len(body) < ETH_ZLEN
    stripped("ipip_short_padded", "IPv4 in IPv4, %d-byte frame padded to %d: "
             "padding trimmed" % (len(body), ETH_ZLEN),
             4, 4, frag, trailer=bytes(ETH_ZLEN - len(body)))

    stripped("ip6ip_tcp", "IPv6 in IPv4, inner TCP SYN", 4, 6, tcp6())
    stripped("ip6ip_udp_vlan1", "IPv6 in IPv4, inner UDP, one tag kept",
             4, 6, udp6(), tags=1)
    stripped("ip6ip_tcp_vlan2", "IPv6 in IPv4, inner TCP with data, two tags kept",
             4, 6, tcp6(b"\x16\x03\x01 hello"), tags=2)

    stripped("ipip6_tcp", "IPv4 in IPv6, inner TCP SYN", 6, 4, tcp4())
    stripped("ipip6_udp_vlan1", "IPv4 in IPv6, inner UDP, one tag kept",
             6, 4, udp4(), tags=1)
    stripped("ipip6_udp_vlan2", "IPv4 in IPv6, inner UDP, two tags kept",
             6, 4, udp4(), tags=2)

    stripped("ip6ip6_tcp", "IPv6 in IPv6, inner TCP SYN", 6, 6, tcp6(),
             fl=0xabcde)
    stripped("ip6ip6_udp_vlan1", "IPv6 in IPv6, inner UDP, one tag kept",
             6, 6, udp6(), tags=1)
    stripped("ip6ip6_tcp_vlan2", "IPv6 in IPv6, inner TCP with data, two tags kept",
             6, 6, tcp6(b"data"), tags=2)
    stripped("ip6ip6_trailer", "IPv6 in IPv6 with 8 bytes past the payload "
             "length: trimmed", 6, 6, udp6(), trailer=bytes(range(8)))


# ECN codepoints (RFC 3168) in ToS / traffic class.
NOT_ECT, ECT1, ECT0, CE = 0, 1, 2, 3


def gen_ecn():
    """RFC 6040: a CE mark on the outer header reaches the inner one; an
    inner packet that cannot carry it is dropped; ECT(1) over ECT(0) is
    kept; no other outer value changes the inner packet."""
    for inner_ecn, label in ((ECT0, "ect0"), (ECT1, "ect1")):
        frame = tunnel_frame(4, 4, tcp4(tos=0x20 | inner_ecn), tos=0x20 | CE)
        add("ipip_ce_over_" + label, "IPv4 in IPv4, outer CE, inner DSCP 8 and "
            "%s: inner marked CE, its checksum updated" % label.upper(),
            frame, XDP_PASS, l2(ETH_P_IP) + tcp4(tos=0x20 | CE), "ipip")
    frame = tunnel_frame(6, 6, tcp6(tc=ECT0), tc=CE)
    add("ip6ip6_ce_over_ect0", "IPv6 in IPv6, outer CE, inner ECT(0): inner "
        "traffic class marked CE, flow label kept",
        frame, XDP_PASS, l2(ETH_P_IPV6) + tcp6(tc=CE), "ip6ip6")
    frame = tunnel_frame(6, 4, tcp4(tos=ECT1), tc=CE)
    add("ipip6_ce_over_ect1", "IPv4 in IPv6, outer CE, inner ECT(1): inner "
        "marked CE", frame, XDP_PASS, l2(ETH_P_IP) + tcp4(tos=CE), "ipip6")
    frame = tunnel_frame(4, 6, tcp6(tc=0xb8 | ECT0), tos=CE)
    add("ip6ip_ce_over_ect0", "IPv6 in IPv4, outer CE, inner DSCP 46 and "
        "ECT(0): inner marked CE, DSCP kept",
        frame, XDP_PASS, l2(ETH_P_IPV6) + tcp6(tc=0xb8 | CE), "ip6ip")
    dropped("ipip_ce_over_not_ect", "IPv4 in IPv4, outer CE, inner not "
            "ECN-capable: dropped (it cannot carry the mark)",
            tunnel_frame(4, 4, tcp4(), tos=CE), counter="ecn_drop")
    dropped("ip6ip6_ce_over_not_ect", "IPv6 in IPv6, outer CE, inner not "
            "ECN-capable: dropped", tunnel_frame(6, 6, tcp6(), tc=CE),
            counter="ecn_drop")
    stripped("ipip_ce_over_ce", "IPv4 in IPv4, outer and inner CE: inner "
             "unchanged", 4, 4, tcp4(tos=CE), tos=CE)
    stripped("ipip_ect0_over_not_ect", "IPv4 in IPv4, outer ECT(0), inner not "
             "ECN-capable: inner unchanged", 4, 4, tcp4(), tos=ECT0)
    frame = tunnel_frame(6, 6, tcp6(tc=ECT0), tc=ECT1)
    add("ip6ip6_ect1_over_ect0", "IPv6 in IPv6, outer ECT(1), inner ECT(0): "
        "inner becomes ECT(1)", frame, XDP_PASS, l2(ETH_P_IPV6) + tcp6(tc=ECT1),
        "ip6ip6")
    frame = tunnel_frame(4, 4, tcp4(tos=0x20 | ECT0), tos=ECT1)
    add("ipip_ect1_over_ect0", "IPv4 in IPv4, outer ECT(1), inner DSCP 8 and "
        "ECT(0): inner becomes ECT(1), its checksum updated", frame, XDP_PASS,
        l2(ETH_P_IP) + tcp4(tos=0x20 | ECT1), "ipip")
    stripped("ipip_ect0_over_ect1", "IPv4 in IPv4, outer ECT(0), inner ECT(1): "
             "inner unchanged", 4, 4, tcp4(tos=ECT1), tos=ECT0)
    dropped("ipip6_ce_over_not_ect", "IPv4 in IPv6, outer CE, inner not "
            "ECN-capable: dropped", tunnel_frame(6, 4, tcp4(), tc=CE),
            counter="ecn_drop")
    dropped("ip6ip_ce_over_not_ect", "IPv6 in IPv4, outer CE, inner not "
            "ECN-capable: dropped", tunnel_frame(4, 6, tcp6(), tos=CE),
            counter="ecn_drop")


def gen_not_tunnel():
    untouched("ipv4_tcp", "plain IPv4 TCP to a local address",
              l2(ETH_P_IP) + bytes(IP(src=CLIENT4, dst=LOCAL4) /
                                   TCP(sport=40000, dport=22, flags="S")))
    untouched("ipv4_udp_vlan1", "plain IPv4 UDP, one tag",
              l2(ETH_P_IP, 1) + udp4())
    untouched("ipv6_udp", "plain IPv6 UDP to a local address",
              l2(ETH_P_IPV6) + bytes(IPv6(src=CLIENT6, dst=LOCAL6) /
                                     UDP(sport=40001, dport=53) / Raw(b"q")))
    untouched("arp", "ARP request, padded to the minimum frame",
              bytes(Ether(dst="ff:ff:ff:ff:ff:ff", src=LB_MAC, type=ETH_P_ARP) /
                    ARP(op=1, hwsrc=LB_MAC, psrc=LB4, pdst=LOCAL4) /
                    Padding(bytes(18))))
    untouched("gre", "IPv4 GRE (protocol 47) carrying IPv4: not ours",
              l2(ETH_P_IP) + bytes(IP(src=LB4, dst=LOCAL4, proto=IPPROTO_GRE) /
                                   GRE(proto=ETH_P_IP) / Raw(tcp4())))
    untouched("ipv6_dstopts_ipip6", "IPv6 with a destination options header "
              "before IPv4: extension headers mean not a tunnel",
              l2(ETH_P_IPV6) + bytes(IPv6(src=LB6, dst=LOCAL6) /
                                     IPv6ExtHdrDestOpt(nh=IPPROTO_IPIP) /
                                     Raw(tcp4())))
    untouched("ipv6_frag_ip6ip6", "IPv6 fragment header before IPv6: passed",
              l2(ETH_P_IPV6) + bytes(IPv6(src=LB6, dst=LOCAL6) /
                                     IPv6ExtHdrFragment(nh=IPPROTO_IPV6, m=1,
                                                        id=9) /
                                     Raw(tcp6()[:48])))
    inner = tcp4(b"x" * 40)
    untouched("ipip_first_fragment", "IPv4 in IPv4, outer first fragment "
              "(MF): left to the stack to reassemble",
              l2(ETH_P_IP) + bytes(IP(src=LB4, dst=LOCAL4, proto=IPPROTO_IPIP,
                                      id=0x0202, flags="MF") / Raw(inner[:48])))
    untouched("ipip_later_fragment", "IPv4 in IPv4, outer fragment at offset 48",
              l2(ETH_P_IP) + bytes(IP(src=LB4, dst=LOCAL4, proto=IPPROTO_IPIP,
                                      id=0x0202, frag=6) / Raw(inner[48:])))
    untouched("ipip_three_tags", "IPv4 in IPv4 behind three VLAN tags: more "
              "than the two parsed, passed", tunnel_frame(4, 4, tcp4(), tags=3))
    untouched("vlan_cut", "802.1Q EtherType, tag cut short",
              l2(ETH_P_8021Q) + b"\x00\x64")
    untouched("ipv4_cut_before_protocol", "IPv4 header cut before its "
              "protocol byte: cannot be told from other traffic",
              tunnel_frame(4, 4, tcp4())[:14 + 9])
    bad = bytearray(tunnel_frame(4, 4, tcp4()))
    bad[14] = 0x65
    untouched("ipv4_version6", "IPv4 EtherType, protocol 4, version nibble 6: "
              "not an IPv4 packet, left to the stack", bytes(bad))


def gen_locality():
    # With forwarding on, the FIB sees a route to the remote addresses
    # (BPF_FIB_LKUP_RET_NO_NEIGH here): not local. With it off, the FIB
    # says FWD_DISABLED for every address, which counts as local.
    for family, inner_family, inner in ((4, 4, tcp4()), (4, 6, udp6()),
                                        (6, 4, udp4()), (6, 6, tcp6())):
        kind = KIND[(family, inner_family)]
        dst = REMOTE4 if family == 4 else REMOTE6
        untouched(kind + "_not_local", "%s to %s, a routed address, forwarding "
                  "on: not for this host, untouched" % (kind, dst),
                  tunnel_frame(family, inner_family, inner, dst=dst),
                  "not_local", forwarding="on")
        stripped(kind + "_fwd_disabled", "%s to %s, forwarding off: the FIB "
                 "cannot tell, stripped as local" % (kind, dst),
                 family, inner_family, inner, dst=dst, forwarding="off")

    cut = tunnel_frame(4, 4, tcp4()[:12], dst=REMOTE4)
    untouched("ipip_inner_cut_not_local", "IPv4 in IPv4 to a routed address, "
              "inner header cut short, forwarding on: not ours to judge",
              cut, "not_local", forwarding="on")
    dropped("ipip_inner_cut_fwd_disabled", "the same with forwarding off: "
            "local, so dropped", cut, forwarding="off")


def gen_malformed():
    full = tunnel_frame(4, 4, tcp4(b"payload"))
    dropped("ipip_outer_cut", "IPv4 in IPv4, outer header cut after 12 bytes",
            full[:14 + 12])
    dropped("ipip_vlan2_outer_cut", "IPv4 in IPv4 behind two tags, outer "
            "header cut after 16 bytes",
            tunnel_frame(4, 4, tcp4(), tags=2)[:22 + 16])
    dropped("ipip_outer_ihl4", "IPv4 in IPv4, outer IHL 4",
            tunnel_frame(4, 4, tcp4(), ihl=4))
    dropped("ipip_outer_options_cut", "IPv4 in IPv4, outer IHL 6 but the "
            "frame ends after 22 bytes of it",
            tunnel_frame(4, 4, tcp4(), options=[IPOption_Router_Alert()])[:14 + 22])
    dropped("ipip_total_length_long", "IPv4 in IPv4, outer total length 10 "
            "bytes past the end of the frame", full[:-10])
    dropped("ipip_total_length_short", "IPv4 in IPv4, outer total length "
            "leaves 12 bytes for the inner header",
            tunnel_frame(4, 4, tcp4(), len=20 + 12))
    dropped("ipip_inner_cut", "IPv4 in IPv4, consistent lengths, inner "
            "header 12 bytes", tunnel_frame(4, 4, tcp4()[:12]))
    dropped("ipip_inner_version6", "protocol 4, inner version 6",
            tunnel_frame(4, 4, tcp6()))
    dropped("ip6ip_inner_version4", "protocol 41, inner version 4",
            tunnel_frame(4, 6, tcp4()))
    dropped("ip6ip_inner_cut", "IPv6 in IPv4, inner header 36 bytes",
            tunnel_frame(4, 6, tcp6()[:36]))

    full6 = tunnel_frame(6, 6, tcp6(b"payload"))
    dropped("ipip6_outer_cut", "IPv4 in IPv6, outer header cut after 30 bytes",
            tunnel_frame(6, 4, tcp4())[:14 + 30])
    dropped("ipip6_inner_version6", "next header 4, inner version 6",
            tunnel_frame(6, 4, tcp6()))
    dropped("ipip6_inner_cut_vlan1", "IPv4 in IPv6 behind a tag, inner "
            "header 19 bytes", tunnel_frame(6, 4, tcp4()[:19], tags=1))
    dropped("ip6ip6_payload_long", "IPv6 in IPv6, payload length 10 bytes "
            "past the end of the frame", full6[:-10])
    dropped("ip6ip6_payload_zero", "IPv6 in IPv6, payload length 0",
            tunnel_frame(6, 6, tcp6(), plen=0))
    dropped("ip6ip6_inner_cut", "IPv6 in IPv6, inner header 20 bytes",
            tunnel_frame(6, 6, tcp6()[:20]))
    dropped("ip6ip6_inner_version4", "next header 41, inner version 4",
            tunnel_frame(6, 6, udp4()))


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: %s OUT.json" % sys.argv[0])
    gen_stripped()
    gen_ecn()
    gen_not_tunnel()
    gen_locality()
    gen_malformed()
    with open(sys.argv[1], "w") as f:
        json.dump({"cases": cases}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
