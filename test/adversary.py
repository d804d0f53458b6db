#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Hostile packets for the reliability suite (test/reliability.sh), sent as
raw Ethernet frames.

Usage: adversary.py client IFACE DST_MAC CLIENT4:PORT [CLIENT6]:PORT
       adversary.py link IFACE DST_MAC
       adversary.py check PCAP...

"client" sends from a client (198.18.2.1, fd00:2::1) through the router:
what a router forwards, so whole IP headers with bad TCP, UDP and ICMP
inside, fragments, IP options, extension headers, and frag-needed /
packet-too-big errors spoofed about another client's flows (the two
addresses given: a held connection's client side). "link" sends from the
router's side of the node's link what no router forwards: cut and
inconsistent IP headers, VLAN tags, wrong versions.

Prints one JSON object: frames sent and, per drop reason of `lbctl -j
stats`, how many of them the node must drop for that reason.

"check" reads captures taken on the backends and prints how many packets
in them are malformed (an IP or L4 header cut short or disagreeing with
the packet's length) or fragments, which no 5-tuple VIP forwards; then
how many packets it read.
"""
import json
import sys

from scapy.all import (Dot1AD, Dot1Q, Ether, ICMP, IP, IPOption_Router_Alert,
                       IPv6, IPv6ExtHdrDestOpt, IPv6ExtHdrFragment,
                       IPv6ExtHdrHopByHop, ICMPv6PacketTooBig, Raw, TCP, UDP,
                       conf, get_if_hwaddr, sendp)

VIP4, VIP6, UDP_VIP4 = "198.18.100.1", "fd00:100::1", "198.18.100.4"
ECHO, UDP_PORT = 7000, 5202
SRC4, SRC6 = "198.18.2.1", "fd00:2::1"
REPEAT = 5


def ip4(**kw):
    return IP(src=SRC4, dst=VIP4, **kw)


def ip6(**kw):
    return IPv6(src=SRC6, dst=VIP6, **kw)


def syn(sport=40000):
    return TCP(sport=sport, dport=ECHO, flags="S", seq=1)


def raw_tcp(doff):
    """A TCP header with data offset doff, built by hand: scapy recomputes it."""
    return Raw(bytes(TCP(sport=40001, dport=ECHO, flags="S"))[:12] +
               bytes([doff << 4, 0x02]) + b"\xff\xff\x00\x00\x00\x00")


def split(addr_port):
    addr, port = addr_port.rsplit(":", 1)
    return addr.strip("[]"), int(port)


def client_frames(flow4, flow6):
    """(frame, drop reason or None) for what a client can send through a router."""
    (c4, p4), (c6, p6) = split(flow4), split(flow6)
    quote4 = IP(src=VIP4, dst=c4) / TCP(sport=ECHO, dport=p4, flags="A")
    quote6 = IPv6(src=VIP6, dst=c6) / TCP(sport=ECHO, dport=p6, flags="A")
    bad_quote = Raw(bytes([0x42]) + bytes(27))  # IHL 2
    return [
        (ip4(proto=6) / raw_tcp(2), "tcp_bad_doff"),
        (ip4(proto=6) / raw_tcp(15), "tcp_bad_doff"),
        (ip6(nh=6) / raw_tcp(3), "tcp_bad_doff"),
        (ip4(proto=6) / Raw(bytes(TCP(sport=40002, dport=ECHO))[:10]), "l4_trunc"),
        (ip6(nh=6) / Raw(bytes(TCP(sport=40002, dport=ECHO))[:10]), "l4_trunc"),
        (IP(src=SRC4, dst=UDP_VIP4, proto=17) /
         Raw(bytes(UDP(sport=40003, dport=UDP_PORT))[:4] + b"\x00\x04\x00\x00"), "udp_bad_len"),
        (IP(src=SRC4, dst=UDP_VIP4, proto=17) /
         Raw(bytes(UDP(sport=40003, dport=UDP_PORT))[:4] + b"\x07\xd0\x00\x00" + b"x" * 16),
         "udp_bad_len"),
        (ip4(flags="MF", frag=0) / syn() / Raw(b"x" * 64), "frag"),
        (ip4(frag=100, proto=6) / Raw(b"x" * 64), "frag"),
        (ip6() / IPv6ExtHdrFragment(m=1, offset=0, id=7) / syn() / Raw(b"x" * 64), "frag"),
        (ip6() / IPv6ExtHdrFragment(m=0, offset=20, id=7, nh=6) / Raw(b"x" * 64), "frag"),
        (ip6() / (IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt() /
                  IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt() /
                  IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt()) / syn(), "ip6_ext"),
        (ip4() / ICMP(type=3, code=4, nexthopmtu=68) / bad_quote, "icmp_bad_quote"),
        # Well formed, and forwarded: options, a hop-by-hop header, and
        # errors about another client's flows, which go to that flow's backend.
        (ip4(options=[IPOption_Router_Alert()]) / syn(40004), None),
        (ip6() / IPv6ExtHdrHopByHop() / syn(40005), None),
        (ip4() / ICMP(type=3, code=4, nexthopmtu=68) / quote4, None),
        (ip6() / ICMPv6PacketTooBig(mtu=600) / quote6, None),
    ]


def link_frames():
    """(frame after Ethernet, drop reason, EtherType for a raw payload) for
    what only a neighbour on the node's link can send."""
    good4 = bytes(ip4() / syn(40010))
    good6 = bytes(ip6() / syn(40011))
    bad_ihl = Raw(bytes([0x43]) + good4[1:])
    return [
        (Raw(good4[:10]), "ip4_trunc", 0x0800),
        (Raw(b"\x00\x01"), "eth_trunc", 0x8100),
        (bad_ihl, "ip4_bad_ihl", 0x0800),
        (Raw(good4[:2] + (2000).to_bytes(2, "big") + good4[4:]), "ip4_bad_len", 0x0800),
        (Raw(good4[:2] + (10).to_bytes(2, "big") + good4[4:]), "ip4_bad_len", 0x0800),
        (Raw(good6[:4] + (2000).to_bytes(2, "big") + good6[6:]), "ip6_bad_len", 0x86dd),
        (Raw(good6[:20]), "ip6_trunc", 0x86dd),
        (Raw(bytes([0x46]) + good6[1:]), "ip6_bad_ver", 0x86dd),
        (Raw(bytes(ip6(nh=60)) + b"\x06\x08"), "ip6_ext", 0x86dd),
        (Dot1Q(vlan=5, type=0x0800) / bad_ihl, "ip4_bad_ihl", None),
        (Dot1AD(vlan=4) / Dot1Q(vlan=5) / ip4(proto=6) / raw_tcp(2), "tcp_bad_doff", None),
    ]


def l4_malformed(proto, l4):
    if proto == 6:
        return len(l4) < 20 or l4[12] >> 4 < 5 or (l4[12] >> 4) * 4 > len(l4)
    if proto == 17:
        return len(l4) < 8 or not 8 <= int.from_bytes(l4[4:6], "big") <= len(l4)
    return proto in (1, 58) and len(l4) < 8


def ip4_malformed(ip):
    if len(ip) < 20 or ip[0] >> 4 != 4 or ip[0] & 15 < 5:
        return True
    hl, total = (ip[0] & 15) * 4, int.from_bytes(ip[2:4], "big")
    if not hl <= total <= len(ip):
        return True
    if int.from_bytes(ip[6:8], "big") & 0x3fff:
        return True  # a fragment
    return l4_malformed(ip[9], ip[hl:total])


def ip6_malformed(ip):
    if len(ip) < 40 or ip[0] >> 4 != 6:
        return True
    end = 40 + int.from_bytes(ip[4:6], "big")
    if end > len(ip):
        return True
    nh, off = ip[6], 40
    while nh in (0, 43, 60, 44):
        if nh == 44 or off + 8 > end:
            return True  # a fragment, or an extension header cut short
        nh, off = ip[off], off + (ip[off + 1] + 1) * 8
    return off > end or l4_malformed(nh, ip[off:end])


def frame_malformed(frame):
    off, etype = 12, int.from_bytes(frame[12:14], "big")
    while etype in (0x8100, 0x88a8):
        off += 4
        etype = int.from_bytes(frame[off:off + 2], "big")
    ip = frame[off + 2:]
    if etype == 0x0800:
        return ip4_malformed(ip)
    return etype == 0x86dd and ip6_malformed(ip)


def check(paths):
    from scapy.all import rdpcap
    frames = [bytes(p) for path in paths for p in rdpcap(path)]
    print(sum(frame_malformed(f) for f in frames), len(frames))


def main():
    if sys.argv[1] == "check":
        check(sys.argv[2:])
        return
    mode, iface, dst = sys.argv[1:4]
    conf.verb = 0
    src = get_if_hwaddr(iface)
    frames, expect = [], {}
    if mode == "client":
        for pkt, reason in client_frames(sys.argv[4], sys.argv[5]):
            frames.append(Ether(src=src, dst=dst) / pkt)
            if reason:
                expect[reason] = expect.get(reason, 0) + REPEAT
    else:
        for pkt, reason, etype in link_frames():
            eth = Ether(src=src, dst=dst, type=etype) if etype else Ether(src=src, dst=dst)
            frames.append(eth / pkt)
            expect[reason] = expect.get(reason, 0) + REPEAT
    for _ in range(REPEAT):
        sendp(frames, iface=iface)
    print(json.dumps({"sent": len(frames) * REPEAT, "expect": expect}))


main()
