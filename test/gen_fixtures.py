#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""
The fixture table for the balancer (kern/lb_xdp.bpf.c).

Every input frame and every expected output frame is built with scapy, which
computes the lengths and checksums itself: the expected bytes come from an
implementation independent of the BPF program. What the program should do
with each frame is written down here from the specification, not from the
program; the backend a new flow gets is predicted with a Python port of
common/lb_hash.h.

Usage: gen_fixtures.py OUT.json

The JSON holds a standard environment ("env") and the cases. A case's own
"env" is applied on top of the standard one (entries added or replaced,
"delete": true removes one). Map keys and values are given as hex, packed
here from the layouts in common/lb_abi.h, next to a readable form.
test/test_xdp_fixtures.c runs each case on a freshly loaded program.
"""

import ipaddress
import json
import logging
import struct
import sys

logging.getLogger("scapy.runtime").setLevel(logging.ERROR)

from scapy.layers.inet import ICMP, IP, TCP, UDP, IPOption_NOP, IPOption_RR  # noqa: E402
from scapy.layers.inet6 import (  # noqa: E402
    ICMPv6EchoReply,
    ICMPv6EchoRequest,
    ICMPv6PacketTooBig,
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrFragment,
    IPv6ExtHdrHopByHop,
    IPv6ExtHdrRouting,
)
from scapy.layers.l2 import ARP, GRE, Dot1Q, Ether  # noqa: E402
from scapy.packet import Raw  # noqa: E402

# --- The ABI (common/lb_abi.h) and the XDP actions -------------------------

XDP_DROP, XDP_PASS, XDP_TX = 1, 2, 3
VERDICT_NAMES = {XDP_DROP: "drop", XDP_PASS: "pass", XDP_TX: "tx"}

FAMILY_IPV4, FAMILY_IPV6 = 4, 6
VIP_KEY_FRAG = 0x01
VIP_F_HASH_L3 = 0x01
BACKEND_F_UP = 0x01
IPV4_HDR, IPV6_HDR = 20, 40
ICMP6_QUOTE_MAX = 128
MTU_DEFAULT = 1500
OUTER_TTL = 64
ICMP_ERROR_TOS = 0xC0

PROTO_ICMP, PROTO_TCP, PROTO_UDP, PROTO_GRE, PROTO_ICMPV6 = 1, 6, 17, 47, 58
PROTO_IPIP, PROTO_IPV6 = 4, 41

ETH_P_IP, ETH_P_ARP, ETH_P_IPV6 = 0x0800, 0x0806, 0x86DD
ETH_P_8021Q, ETH_P_8021AD = 0x8100, 0x88A8

# --- Addresses -----------------------------------------------------------

LB_MAC = "02:00:00:00:00:01"       # the balancer's interface (lb_cfg.src_mac)
ROUTER_MAC = "02:00:00:00:00:fe"   # where client traffic comes from
NEXT_HOP_MAC = "02:00:00:00:00:99"  # lb_cfg.next_hop_mac

CLIENT4 = "198.51.100.7"
CLIENT6 = "2001:db8:c1::7"
ROUTER4 = "203.0.113.1"
ROUTER6 = "2001:db8:ff::1"
OTHER4 = "203.0.113.9"              # not a VIP
OTHER6 = "2001:db8:ee::9"

VIP4_A = "192.0.2.10"    # tcp/80 (id 0), udp/53 (id 1), echo answered
VIP4_B = "192.0.2.20"    # tcp/443 (id 2, IPv6 backends), no echo
VIP4_C = "192.0.2.30"    # tcp all ports (id 6), tcp/22 (id 7, IPv6 backends)
VIP4_L3 = "192.0.2.40"   # udp all ports (id 8) and tcp all ports (id 15), l3
VIP4_F = "192.0.2.50"    # udp/4789 l3 (id 10) and its fragment entry
VIP4_NT = "192.0.2.60"   # tcp/80 (id 11), no table
VIP6_A = "2001:db8:1::10"  # tcp/80 (id 3), udp/53 (id 4), echo answered
VIP6_B = "2001:db8:1::20"  # tcp/443 (id 5, IPv4 backends), no echo
VIP6_C = "2001:db8:1::30"  # tcp all ports (id 14)
VIP6_L3 = "2001:db8:1::40"  # udp all ports, l3 (id 9)

SRC4 = "10.255.0.1"
SRC6 = "fd00:ff::1"

BACKENDS = {
    1: "10.1.0.1",
    2: "10.1.0.2",
    3: "10.1.0.3",
    4: "fd00:1::4",
    5: "fd00:1::5",
    6: "fd00:1::6",
    9: "10.1.0.9",      # in no table: reached only through the flow table
    10: "fd00:1::a",    # likewise
}

TABLE_V4_7 = [1, 2, 3, 2, 3, 1, 3]
TABLE_V4_13 = [3, 1, 2, 2, 3, 1, 1, 2, 3, 3, 1, 2, 1]
TABLE_V6_7 = [4, 5, 6, 5, 6, 4, 6]
TABLE_V6_13 = [6, 4, 5, 5, 6, 4, 4, 5, 6, 6, 4, 5, 4]


def family_of(addr):
    return FAMILY_IPV6 if ":" in addr else FAMILY_IPV4


def addr16(addr):
    """An address as stored in the ABI's __be32[4]: IPv4 in the first word."""
    if addr is None:
        return bytes(16)
    raw = ipaddress.ip_address(addr).packed
    return raw + bytes(16 - len(raw))


def addr_int(addr):
    return int(ipaddress.ip_address(addr))


# --- Packing the ABI structs ---------------------------------------------


def pack_vip_key(addr, port, proto, flags):
    return addr16(addr) + struct.pack(">HBBB3x", port, proto, family_of(addr), flags)


def pack_vip(vip_id, flags):
    return struct.pack("<II", vip_id, flags)


def pack_backend(addr, family, flags, vip_id):
    return addr16(addr) + struct.pack("<BBH", family, flags, vip_id)


def pack_cfg(c):
    return (
        bytes.fromhex(c["src_mac"].replace(":", ""))
        + bytes.fromhex(c["next_hop_mac"].replace(":", ""))
        + struct.pack("<HBB", c["mtu"], c["src4_plen"], c["src6_plen"])
        + addr16(c["src4"])[:4]
        + addr16(c["src6"])
        + struct.pack("<IIIII", c.get("flow_cap", 0), c.get("deny4_rules", 0), c.get("deny6_rules", 0),
                      c.get("allow_rules", 0), c.get("block_gen", 0))
    )


def flow_key(src, dst, sport, dport, proto):
    """struct lb_flow_key, as the client sent the flow."""
    return addr16(src) + addr16(dst) + struct.pack(">HHBB2x", sport, dport, proto, family_of(src))


def key_zero_ports(key):
    return key[:32] + bytes(4) + key[36:]


def key_text(key):
    fam = key[37]
    n = 4 if fam == FAMILY_IPV4 else 16
    src = ipaddress.ip_address(key[:n])
    dst = ipaddress.ip_address(key[16:16 + n])
    sport, dport = struct.unpack(">HH", key[32:36])
    return "%s:%d -> %s:%d proto %d" % (src, sport, dst, dport, key[36])


# --- The flow hash, ported from common/lb_hash.h --------------------------

M32 = 0xFFFFFFFF
HASH_SEED = 0x5EED1CE5


def _rotl(x, r):
    return ((x << r) | (x >> (32 - r))) & M32


def _mix(h, w):
    w = (w * 0xCC9E2D51) & M32
    w = _rotl(w, 15)
    w = (w * 0x1B873593) & M32
    h ^= w
    h = _rotl(h, 13)
    return (h * 5 + 0xE6546B64) & M32


def _final(h, n):
    h ^= n
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & M32
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & M32
    h ^= h >> 16
    return h


def flow_hash(key):
    """lb_flow_hash(): the key's words as they lie in memory (little-endian
    host), ports as one word (sport low), then proto | family << 8."""
    words = struct.unpack("<8I", key[:32])
    ports = struct.unpack("<I", key[32:36])[0]
    tail = key[36] | key[37] << 8
    h = HASH_SEED
    if key[37] == FAMILY_IPV4:
        for w in (words[0], words[4], ports, tail):
            h = _mix(h, w)
        return _final(h, 16)
    for w in words + (ports, tail):
        h = _mix(h, w)
    return _final(h, 40)


def spread_hash(key):
    """lb_spread_hash(): the seed, the ports word and the address words
    folded by xor, then Murmur3's finaliser. Tunnel sources and flow labels."""
    x = HASH_SEED ^ struct.unpack("<I", key[32:36])[0]
    for w in struct.unpack("<8I", key[:32]):
        x ^= w
    return _final(x, 0)


# --- The environment -----------------------------------------------------


class Env:
    def __init__(self):
        self.cfg = {}
        self.vips = {}       # (addr, port, proto, key_flags) -> (id, flags) or None
        self.backends = {}   # id -> (addr, family, flags)
        self.tables = {}     # vip id -> [backend ids] or None
        self.flows = {}      # flow key bytes -> backend id

    def merged(self, over):
        e = Env()
        e.cfg = dict(self.cfg)
        e.vips = dict(self.vips)
        e.backends = dict(self.backends)
        e.tables = dict(self.tables)
        e.flows = dict(self.flows)
        if over is None:
            return e
        e.cfg.update(over.cfg)
        for k, v in over.vips.items():
            if v is None:
                e.vips.pop(k, None)
            else:
                e.vips[k] = v
        e.backends.update(over.backends)
        for k, v in over.tables.items():
            if v is None:
                e.tables.pop(k, None)
            else:
                e.tables[k] = v
        e.flows.update(over.flows)
        return e

    def to_json(self, full_cfg=None):
        out = {}
        if self.cfg:
            c = dict(full_cfg if full_cfg is not None else self.cfg)
            out["cfg"] = dict(c, hex=pack_cfg(c).hex())
        if self.vips:
            vips = []
            for (addr, port, proto, kflags), v in self.vips.items():
                ent = {"addr": addr, "port": port, "proto": proto, "key_flags": kflags,
                       "key": pack_vip_key(addr, port, proto, kflags).hex()}
                if v is None:
                    ent["delete"] = True
                else:
                    ent.update({"id": v[0], "flags": v[1], "value": pack_vip(*v).hex()})
                vips.append(ent)
            out["vips"] = vips
        if self.backends:
            out["backends"] = [
                {"id": i, "addr": a, "family": f, "flags": fl, "vip": v,
                 "value": pack_backend(a, f, fl, v).hex()}
                for i, (a, f, fl, v) in sorted(self.backends.items())
            ]
        if self.tables:
            tabs = []
            for vip_id, slots in sorted(self.tables.items()):
                if slots is None:
                    tabs.append({"vip": vip_id, "delete": True})
                else:
                    tabs.append({"vip": vip_id, "slots": slots})
            out["tables"] = tabs
        if self.flows:
            out["flows"] = [{"desc": key_text(k), "key": k.hex(), "backend": b}
                            for k, b in self.flows.items()]
        return out


BACKEND_VIP_NONE = 0xFFFF   # vip_id of a retired backend


def backend(addr, flags=BACKEND_F_UP, vip=0):
    """A backend entry: as lbd writes it, it names the one VIP it serves.
    Here most backends sit in several VIPs' tables and name VIP 0; a fixture
    whose flow follows its entry names the VIP the flow is for."""
    return (addr, family_of(addr), flags, vip)


def base_env():
    e = Env()
    e.cfg = {
        "src_mac": LB_MAC,
        "next_hop_mac": NEXT_HOP_MAC,
        "mtu": 1500,
        "src4": SRC4,
        "src4_plen": 32,
        "src6": SRC6,
        "src6_plen": 128,
    }
    e.vips = {
        (VIP4_A, 80, PROTO_TCP, 0): (0, 0),
        (VIP4_A, 53, PROTO_UDP, 0): (1, 0),
        (VIP4_A, 0, PROTO_ICMP, 0): (12, 0),
        (VIP4_B, 443, PROTO_TCP, 0): (2, 0),
        (VIP6_A, 80, PROTO_TCP, 0): (3, 0),
        (VIP6_A, 53, PROTO_UDP, 0): (4, 0),
        (VIP6_A, 0, PROTO_ICMPV6, 0): (13, 0),
        (VIP6_B, 443, PROTO_TCP, 0): (5, 0),
        (VIP4_C, 0, PROTO_TCP, 0): (6, 0),
        (VIP4_C, 22, PROTO_TCP, 0): (7, 0),
        (VIP4_L3, 0, PROTO_UDP, 0): (8, VIP_F_HASH_L3),
        (VIP6_L3, 0, PROTO_UDP, 0): (9, VIP_F_HASH_L3),
        (VIP4_F, 4789, PROTO_UDP, 0): (10, VIP_F_HASH_L3),
        (VIP4_F, 0, PROTO_UDP, VIP_KEY_FRAG): (10, VIP_F_HASH_L3),
        (VIP4_NT, 80, PROTO_TCP, 0): (11, 0),
        (VIP4_L3, 0, PROTO_TCP, 0): (15, VIP_F_HASH_L3),
        (VIP6_C, 0, PROTO_TCP, 0): (14, 0),
    }
    e.backends = {i: backend(a) for i, a in BACKENDS.items()}
    e.tables = {
        0: TABLE_V4_7,
        1: TABLE_V4_13,
        2: TABLE_V6_7,
        3: TABLE_V6_7,
        4: TABLE_V6_13,
        5: TABLE_V4_7,
        6: TABLE_V4_7,
        7: TABLE_V6_7,
        8: TABLE_V4_7,
        9: TABLE_V6_7,
        10: TABLE_V4_7,
        14: TABLE_V6_7,
        15: TABLE_V4_13,
    }
    return e


BASE = base_env()


def over(cfg=None, vips=None, backends=None, tables=None, flows=None):
    o = Env()
    o.cfg = cfg or {}
    o.vips = vips or {}
    o.backends = backends or {}
    o.tables = tables or {}
    o.flows = flows or {}
    return o


# --- Frames --------------------------------------------------------------


def l2(dst, src, tags, ethertype):
    """Ethernet with VLAN tags: tags is a list of (tpid, vid, pcp)."""
    if not tags:
        return bytes(Ether(dst=dst, src=src, type=ethertype))
    p = Ether(dst=dst, src=src, type=tags[0][0])
    for i, (_tpid, vid, pcp) in enumerate(tags):
        nxt = tags[i + 1][0] if i + 1 < len(tags) else ethertype
        p = p / Dot1Q(prio=pcp, vlan=vid, type=nxt)
    return bytes(p)


def frame(ip_pkt, tags=(), pad=b"", ethertype=None):
    ip_bytes = bytes(ip_pkt)
    if ethertype is None:
        ethertype = ETH_P_IPV6 if (ip_bytes[0] >> 4) == 6 else ETH_P_IP
    return l2(LB_MAC, ROUTER_MAC, list(tags), ethertype) + ip_bytes + pad


TAG1 = [(ETH_P_8021Q, 100, 3)]
TAG2 = [(ETH_P_8021AD, 200, 0), (ETH_P_8021Q, 300, 5)]


def tcp4(dst, dport, flags="S", src=CLIENT4, sport=40000, tos=0, payload=b"", **ip):
    return IP(src=src, dst=dst, tos=tos, ttl=57, id=0x1234, **ip) / TCP(
        sport=sport, dport=dport, flags=flags, seq=1000, ack=(2000 if "A" in flags else 0)
    ) / Raw(payload)


def udp4(dst, dport, src=CLIENT4, sport=40000, tos=0, payload=b"q" * 12, **ip):
    return IP(src=src, dst=dst, tos=tos, ttl=57, id=0x1234, **ip) / UDP(sport=sport, dport=dport) / Raw(payload)


def tcp6(dst, dport, flags="S", src=CLIENT6, sport=40000, tc=0, fl=0x12345, payload=b"", ext=None):
    p = IPv6(src=src, dst=dst, tc=tc, fl=fl, hlim=57)
    if ext is not None:
        p = p / ext
    return p / TCP(sport=sport, dport=dport, flags=flags, seq=1000,
                   ack=(2000 if "A" in flags else 0)) / Raw(payload)


def udp6(dst, dport, src=CLIENT6, sport=40000, tc=0, payload=b"q" * 12):
    return IPv6(src=src, dst=dst, tc=tc, fl=0x54321, hlim=57) / UDP(sport=sport, dport=dport) / Raw(payload)


# --- The specification, as a model of the forwarding path -----------------


class Outcome:
    def __init__(self):
        self.verdict = None
        self.out = None
        self.counters = {}
        self.flows = {}

    def count(self, name, n=1):
        self.counters[name] = self.counters.get(name, 0) + n


def tunnel_src4(cfg, h):
    if not cfg["src4"] or addr_int(cfg["src4"]) == 0:
        return None
    plen = cfg["src4_plen"]
    if plen >= 32:
        return cfg["src4"]
    mask = (M32 << (32 - plen)) & M32
    return str(ipaddress.IPv4Address((addr_int(cfg["src4"]) & mask) | (h & ~mask & M32)))


def tunnel_src6(cfg, h):
    if not cfg["src6"] or addr_int(cfg["src6"]) == 0:
        return None
    plen = cfg["src6_plen"]
    if plen >= 128:
        return cfg["src6"]
    host_bits = 128 - max(plen, 96)
    mask = 0 if host_bits >= 32 else (M32 << host_bits) & M32
    a = addr_int(cfg["src6"])
    low = (a & M32 & mask) | (h & ~mask & M32)
    return str(ipaddress.IPv6Address((a & ~M32) | low))


def follow(e, flows, key):
    """The flow table's word on key: (1, backend id) when its backend is up,
    (0, None) when there is no entry, (-1, None) when its backend is gone."""
    if key not in flows:
        return 0, None
    fb = e.backends.get(flows[key])
    if fb is not None and fb[2] & BACKEND_F_UP:
        return 1, flows[key]
    return -1, None


def addr_has_l3(e, key):
    """Whether the destination has an l3 VIP: vip_filter marks it, and the
    data path then looks the VIP up before the flow table."""
    fam = key[37]
    n = 4 if fam == FAMILY_IPV4 else 16
    dst = str(ipaddress.ip_address(key[16:16 + n]))
    return any(v is not None and v[1] & VIP_F_HASH_L3 and addr == dst
               for (addr, _port, _proto, _kf), v in e.vips.items())


def answerable(src):
    """May an ICMP message go to this source address (bytes)? Not to an
    unspecified, loopback, multicast or broadcast one."""
    a = ipaddress.ip_address(src)
    if a.version == 4:
        return a.packed[0] not in (0, 127) and a.packed[0] < 224
    return not (a.is_multicast or a.is_unspecified or a.is_loopback)


def forward(e, tags, inner, pad, key, vip_id, *, l3=False, frag=False, later=False,
            syn=False, rst=False, tcp=False, steered=False, tos=0):
    """What the specification says happens to a packet that reached VIP vip_id.

    inner: the IP packet (bytes, no padding); key: the flow key as the client
    sent it (for an ICMP error: the quoted flow reversed)."""
    o = Outcome()
    o.flows = dict(e.flows)
    flen = len(l2(LB_MAC, ROUTER_MAC, tags, 0)) + len(inner) + len(pad)
    be_id = None
    known = 0
    # Established packets follow the flow table before the VIP lookup, and
    # count for the VIP their backend entry names; SYNs, fragments and
    # packets to an l3 VIP's address wait for the VIP. A flow whose backend
    # is not up goes on to the VIP.
    untried = True
    if not syn and not frag and not later and not addr_has_l3(e, key):
        untried = False
        known, be_id = follow(e, o.flows, key)
        if be_id is not None:
            vip_id = e.backends[be_id][3]
    o.count("vip.%d.packets" % vip_id)
    o.count("vip.%d.bytes" % vip_id, flen)
    if be_id is None and l3:
        key = key_zero_ports(key)
    elif be_id is None and frag:
        o.verdict = XDP_DROP
        o.count("drop.frag")
        return o
    h = flow_hash(key)
    # A SYN to an l3 VIP follows the address pair's flow like any packet:
    # the entry carries the client's other connections too.
    if be_id is None and (l3 or (untried and not syn)):
        known, be_id = follow(e, o.flows, key)
    if be_id is None and known < 0:
        o.count("event.flow_repick")
    if be_id is None and known == 0 and tcp and not later and not steered and not syn:
        o.count("vip.%d.nonsyn_miss" % vip_id)
    if be_id is None:
        table = e.tables.get(vip_id)
        be_id = table[h % len(table)] if table else 0
        if be_id == 0:
            o.verdict = XDP_DROP
            o.count("drop.no_backend")
            return o
        if be_id not in e.backends or e.backends[be_id][1] == 0:
            o.verdict = XDP_DROP
            o.count("drop.bad_backend")
            return o
        if not steered and not rst:
            # An entry rewritten in place is no new flow.
            if key not in o.flows:
                o.count("vip.%d.new_flows" % vip_id)
            o.flows[key] = be_id
    be_addr, be_fam, _, _ = e.backends[be_id]
    outer_len = IPV4_HDR if be_fam == FAMILY_IPV4 else IPV6_HDR
    mtu = e.cfg["mtu"] or MTU_DEFAULT
    fam = key[37]
    if len(inner) + outer_len > mtu:
        n = 4 if fam == FAMILY_IPV4 else 16
        # No ICMP error about an error, to a source that may not get one
        # (RFC 1122 3.2.2, RFC 4443 2.4 (e)), or about an IPv4 fragment.
        if steered or not answerable(key[:n]) or (fam == FAMILY_IPV4 and (frag or later)):
            o.verdict = XDP_DROP
            o.count("drop.too_big")
            return o
        client = str(ipaddress.ip_address(key[:n]))
        vip = str(ipaddress.ip_address(key[16:16 + n]))
        if fam == FAMILY_IPV4:
            quote = inner[:(inner[0] & 0xF) * 4 + 8]
            err = IP(version=4, ihl=5, tos=ICMP_ERROR_TOS, id=0, flags=0, frag=0, ttl=OUTER_TTL,
                     proto=PROTO_ICMP, src=vip, dst=client) / ICMP(
                type=3, code=4, unused=0, nexthopmtu=mtu - outer_len) / Raw(quote)
            o.out = l2(e.cfg["next_hop_mac"], e.cfg["src_mac"], tags, ETH_P_IP) + bytes(err)
        else:
            quote = inner[:min(len(inner), ICMP6_QUOTE_MAX) & ~1]
            err = IPv6(tc=0, fl=0, hlim=OUTER_TTL, nh=PROTO_ICMPV6, src=vip, dst=client) / \
                ICMPv6PacketTooBig(mtu=mtu - outer_len) / Raw(quote)
            o.out = l2(e.cfg["next_hop_mac"], e.cfg["src_mac"], tags, ETH_P_IPV6) + bytes(err)
        o.verdict = XDP_TX
        o.count("event.too_big_sent")
        return o
    inner_proto = PROTO_IPIP if fam == FAMILY_IPV4 else PROTO_IPV6
    if be_fam == FAMILY_IPV4:
        src = tunnel_src4(e.cfg, spread_hash(key))
        if src is None:
            o.verdict = XDP_DROP
            o.count("drop.no_config")
            return o
        outer = IP(version=4, ihl=5, tos=tos, id=0, flags="DF", frag=0, ttl=OUTER_TTL,
                   proto=inner_proto, src=src, dst=be_addr) / Raw(inner)
        ethertype = ETH_P_IP
    else:
        src = tunnel_src6(e.cfg, spread_hash(key))
        if src is None:
            o.verdict = XDP_DROP
            o.count("drop.no_config")
            return o
        outer = IPv6(tc=tos, fl=spread_hash(key) & 0xFFFFF, nh=inner_proto, hlim=OUTER_TTL,
                     src=src, dst=be_addr) / Raw(inner)
        ethertype = ETH_P_IPV6
    o.out = l2(e.cfg["next_hop_mac"], e.cfg["src_mac"], tags, ethertype) + bytes(outer)
    o.verdict = XDP_TX
    o.count("backend.%d.packets" % be_id)
    o.count("backend.%d.bytes" % be_id, flen)
    if steered:
        o.count("event.icmp_steered")
    return o


# --- The table -----------------------------------------------------------

CASES = []


def emit(name, desc, frm, verdict, out=None, counters=None, env=None, flows=None):
    if any(c["name"] == name for c in CASES):
        raise SystemExit("duplicate case name " + name)
    e = BASE.merged(env)
    counters = dict(counters or {})
    counters["verdict." + VERDICT_NAMES[verdict]] = counters.get(
        "verdict." + VERDICT_NAMES[verdict], 0) + 1
    if verdict == XDP_PASS:
        out = frm
    c = {"name": name, "desc": desc}
    if env is not None:
        c["env"] = env.to_json(full_cfg=e.cfg if env.cfg else None)
    c.update({
        "in": frm.hex(),
        "verdict": verdict,
        "verdict_name": VERDICT_NAMES[verdict],
        "out": out.hex() if out is not None else None,
        "counters": {k: v for k, v in sorted(counters.items()) if v},
    })
    fl = e.flows if flows is None else flows
    c["flows_after"] = [{"desc": key_text(k), "key": k.hex(), "backend": b} for k, b in fl.items()]
    c["flow_count"] = len(fl)
    CASES.append(c)


def emit_pass(name, desc, frm, env=None):
    emit(name, desc, frm, XDP_PASS, env=env)


def emit_drop(name, desc, frm, reason, env=None, counters=None):
    cnt = dict(counters or {})
    cnt["drop." + reason] = 1
    emit(name, desc, frm, XDP_DROP, counters=cnt, env=env)


def emit_forward(name, desc, pkt, vip_id, key, *, tags=(), pad=b"", env=None, tos=0, **kw):
    e = BASE.merged(env)
    inner = bytes(pkt)
    frm = frame(inner, tags, pad)
    o = forward(e, list(tags), inner, pad, key, vip_id, tos=tos, **kw)
    emit(name, desc, frm, o.verdict, out=o.out, counters=o.counters, env=env, flows=o.flows)
    return o


def key4(dst, sport, dport, proto, src=CLIENT4):
    return flow_key(src, dst, sport, dport, proto)


def key6(dst, sport, dport, proto, src=CLIENT6):
    return flow_key(src, dst, sport, dport, proto)


def build_cases():
    # -- Not ours: passed byte for byte --------------------------------------
    emit_pass("pass_arp", "ARP request: not IP",
              bytes(Ether(dst="ff:ff:ff:ff:ff:ff", src=ROUTER_MAC) /
                    ARP(op=1, hwsrc=ROUTER_MAC, psrc=ROUTER4, pdst=VIP4_A)))
    emit_pass("pass_v4_not_vip", "IPv4 TCP to an address that is no VIP",
              frame(tcp4(OTHER4, 80)))
    emit_pass("pass_v6_not_vip", "IPv6 TCP to an address that is no VIP",
              frame(tcp6(OTHER6, 80)))
    emit_pass("pass_v4_vip_other_port", "TCP to a VIP address on a port with no service and no all-ports entry",
              frame(tcp4(VIP4_A, 81)))
    emit_pass("pass_v6_vip_other_proto", "UDP to a VIP address that only has a TCP service",
              frame(udp6(VIP6_B, 443)))
    emit_pass("pass_gre_to_vip", "GRE to a VIP address: protocol not balanced",
              frame(IP(src=CLIENT4, dst=VIP4_A, ttl=57) / GRE(proto=0x0800) /
                    IP(src="10.9.9.1", dst="10.9.9.2") / UDP(sport=1, dport=2)))
    emit_pass("pass_third_vlan_tag", "three VLAN tags before a TCP SYN to a VIP",
              frame(tcp4(VIP4_A, 80), tags=[(ETH_P_8021AD, 10, 0), (ETH_P_8021Q, 20, 0),
                                             (ETH_P_8021Q, 30, 0)]))
    emit_pass("pass_echo_v4_no_entry", "echo request to a VIP address without an ICMP entry",
              frame(IP(src=CLIENT4, dst=VIP4_B, ttl=57) / ICMP(type=8, id=7, seq=1) / Raw(b"ping" * 4)))
    emit_pass("pass_echo_v6_no_entry", "ICMPv6 echo request to a VIP address without an ICMPv6 entry",
              frame(IPv6(src=CLIENT6, dst=VIP6_B, hlim=57) / ICMPv6EchoRequest(id=7, seq=1, data=b"ping" * 4)))
    emit_pass("pass_echo_v4_from_broadcast", "echo request from 255.255.255.255 to a VIP with an ICMP entry: not answered",
              frame(IP(src="255.255.255.255", dst=VIP4_A, ttl=57) / ICMP(type=8, id=7, seq=1) / Raw(b"ping" * 4)))
    emit_pass("pass_echo_v4_from_multicast", "echo request from 224.0.0.1: not answered",
              frame(IP(src="224.0.0.1", dst=VIP4_A, ttl=57) / ICMP(type=8, id=7, seq=1) / Raw(b"ping" * 4)))
    emit_pass("pass_echo_v6_from_multicast", "ICMPv6 echo request from ff02::1: not answered",
              frame(IPv6(src="ff02::1", dst=VIP6_A, hlim=57) / ICMPv6EchoRequest(id=7, seq=1, data=b"ping" * 4)))
    emit_pass("pass_echo_v6_from_loopback", "ICMPv6 echo request from ::1: not answered",
              frame(IPv6(src="::1", dst=VIP6_A, hlim=57) / ICMPv6EchoRequest(id=7, seq=1, data=b"ping" * 4)))
    emit_pass("pass_echo_v4_fragment", "fragmented echo request (MF set) to a VIP with an ICMP entry",
              frame(IP(src=CLIENT4, dst=VIP4_A, ttl=57, flags="MF") / ICMP(type=8, id=7, seq=1) /
                    Raw(b"ping" * 4)))
    emit_pass("pass_icmp_port_unreach_to_vip", "ICMP port unreachable (3/3) to a VIP: not steered",
              frame(IP(src=ROUTER4, dst=VIP4_A, ttl=60) / ICMP(type=3, code=3) /
                    Raw(bytes(IP(src=VIP4_A, dst=CLIENT4, proto=PROTO_UDP) / UDP(sport=53, dport=40000))[:28])))
    emit_pass("pass_frag_needed_not_vip", "frag-needed quoting a flow of an address that is no VIP",
              frame(IP(src=ROUTER4, dst=OTHER4, tos=0xc0, ttl=60) / ICMP(type=3, code=4, nexthopmtu=1400) /
                    Raw(bytes(IP(src=OTHER4, dst=CLIENT4) / TCP(sport=80, dport=40000, flags="A"))[:28])))
    emit_pass("pass_ptb_quote_not_tcp_udp", "packet-too-big quoting an ICMPv6 packet from the VIP",
              frame(IPv6(src=ROUTER6, dst=VIP6_A, hlim=60) / ICMPv6PacketTooBig(mtu=1280) /
                    Raw(bytes(IPv6(src=VIP6_A, dst=CLIENT6, hlim=64) /
                              ICMPv6EchoReply(id=1, seq=1, data=b"x" * 16)))))
    emit_pass("pass_v4_later_frag_port_vip", "later IPv4 fragment to a port-only VIP address, no fragment entry",
              frame(IP(src=CLIENT4, dst=VIP4_A, proto=PROTO_TCP, frag=185, ttl=57, id=77) / Raw(b"d" * 40)))
    emit_pass("pass_v4_later_frag_no_frag_entry", "later fragment to an l3 port VIP whose fragment entry is removed",
              frame(IP(src=CLIENT4, dst=VIP4_F, proto=PROTO_UDP, frag=185, ttl=57, id=78) / Raw(b"d" * 40)),
              env=over(vips={(VIP4_F, 0, PROTO_UDP, VIP_KEY_FRAG): None}))
    emit_pass("pass_frag_entry_not_whole_packets", "UDP to another port of an address that has only a fragment entry",
              frame(udp4(VIP4_F, 9999, sport=6004)))

    # -- Malformed: dropped and counted -------------------------------------
    emit_drop("drop_eth_trunc_vlan", "802.1Q tag cut short (16-byte frame)",
              bytes(Ether(dst=LB_MAC, src=ROUTER_MAC, type=ETH_P_8021Q)) + b"\x00\x64", "eth_trunc")
    emit_drop("drop_ip4_trunc", "IPv4 header of 10 bytes",
              bytes(Ether(dst=LB_MAC, src=ROUTER_MAC, type=ETH_P_IP)) + bytes(IP(src=CLIENT4, dst=VIP4_A))[:10],
              "ip4_trunc")
    emit_drop("drop_ip4_ihl_4", "IPv4 IHL 4",
              frame(IP(src=CLIENT4, dst=VIP4_A, ihl=4, proto=PROTO_TCP) / Raw(bytes(TCP(dport=80, flags="S")))),
              "ip4_bad_ihl")
    emit_drop("drop_ip4_version_6", "version 6 in an IPv4 ethertype frame",
              frame(IP(src=CLIENT4, dst=VIP4_A, version=6) / TCP(dport=80, flags="S"), ethertype=ETH_P_IP),
              "ip4_bad_ihl")
    emit_drop("drop_ip4_ihl_past_frame", "IHL 15 (60 bytes) in a 30-byte IP packet",
              frame(IP(src=CLIENT4, dst=VIP4_A, ihl=15, proto=PROTO_UDP) / Raw(b"x" * 10)), "ip4_trunc")
    emit_drop("drop_ip4_totlen_below_hdr", "IPv4 total length 19",
              frame(IP(src=CLIENT4, dst=VIP4_A, len=19) / TCP(dport=80, flags="S")), "ip4_bad_len")
    emit_drop("drop_ip4_totlen_past_frame", "IPv4 total length 1000 in a 40-byte packet",
              frame(IP(src=CLIENT4, dst=VIP4_A, len=1000) / TCP(dport=80, flags="S")), "ip4_bad_len")
    emit_drop("drop_ip6_trunc", "IPv6 header of 30 bytes",
              bytes(Ether(dst=LB_MAC, src=ROUTER_MAC, type=ETH_P_IPV6)) +
              bytes(IPv6(src=CLIENT6, dst=VIP6_A))[:30], "ip6_trunc")
    emit_drop("drop_ip6_version_4", "version 4 in an IPv6 ethertype frame",
              frame(IPv6(src=CLIENT6, dst=VIP6_A, version=4) / TCP(dport=80, flags="S"), ethertype=ETH_P_IPV6),
              "ip6_bad_ver")
    emit_drop("drop_ip6_payload_past_frame", "IPv6 payload length 500 with 20 bytes present",
              frame(IPv6(src=CLIENT6, dst=VIP6_A, plen=500) / TCP(dport=80, flags="S")), "ip6_bad_len")
    emit_drop("drop_ip6_seven_ext_headers", "seven extension headers before TCP",
              frame(tcp6(VIP6_A, 80, ext=IPv6ExtHdrHopByHop() / IPv6ExtHdrDestOpt() / IPv6ExtHdrRouting() /
                         IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt() /
                         IPv6ExtHdrDestOpt())), "ip6_ext")
    emit_drop("drop_ip6_ext_past_packet", "hop-by-hop header claiming 88 bytes in a 28-byte payload",
              frame(IPv6(src=CLIENT6, dst=VIP6_A, nh=0) /
                    Raw(bytes([PROTO_TCP, 10, 1, 4, 0, 0, 0, 0]) + bytes(TCP(dport=80, flags="S")))),
              "ip6_ext")
    emit_drop("drop_ip6_ext_cut", "hop-by-hop next header with no byte of it present",
              frame(IPv6(src=CLIENT6, dst=VIP6_A, nh=0)), "ip6_ext")
    emit_pass("pass_l4_trunc_tcp_not_vip", "TCP header of 10 bytes to an address that is no VIP: the stack's",
              frame(IP(src=CLIENT4, dst=OTHER4, proto=PROTO_TCP) / Raw(bytes(TCP(dport=80, flags="S"))[:10])))
    emit_drop("drop_l4_trunc_udp_v6", "UDP header of 4 bytes to a VIP",
              frame(IPv6(src=CLIENT6, dst=VIP6_A, nh=PROTO_UDP) / Raw(bytes(UDP(dport=53))[:4])), "l4_trunc")
    emit_drop("drop_l4_trunc_icmp", "ICMP header of 4 bytes",
              frame(IP(src=CLIENT4, dst=VIP4_A, proto=PROTO_ICMP) / Raw(bytes(ICMP(type=8))[:4])), "l4_trunc")
    emit_drop("drop_l4_trunc_tcp_padded",
              "IPv4 packet with a 10-byte TCP header, Ethernet padding to 60 bytes: the header ends at the IP packet",
              frame(IP(src=CLIENT4, dst=VIP4_A, proto=PROTO_TCP, ttl=57) /
                    Raw(bytes(TCP(sport=40000, dport=80, flags="A"))[:10]), pad=bytes(16)), "l4_trunc")
    emit_drop("drop_frag_quote_trunc", "frag-needed to a VIP quoting 20 bytes of IP and 2 of TCP",
              frame(IP(src=ROUTER4, dst=VIP4_A, tos=0xc0, ttl=60) / ICMP(type=3, code=4, nexthopmtu=1400) /
                    Raw(bytes(IP(src=VIP4_A, dst=CLIENT4) / TCP(sport=80, dport=40000, flags="A"))[:22])),
              "l4_trunc")
    emit_drop("drop_ptb_quote_trunc", "packet-too-big quoting 40 bytes of IPv6 and 2 of TCP",
              frame(IPv6(src=ROUTER6, dst=VIP6_A, hlim=60) / ICMPv6PacketTooBig(mtu=1280) /
                    Raw(bytes(IPv6(src=VIP6_A, dst=CLIENT6) / TCP(sport=80, dport=40000, flags="A"))[:42])),
              "l4_trunc")
    emit_drop("drop_l4_trunc_udp_v6_padded",
              "IPv6 packet with a 4-byte UDP header and 10 trailing bytes: the header ends at the IP packet",
              frame(IPv6(src=CLIENT6, dst=VIP6_A, nh=PROTO_UDP, hlim=57) / Raw(bytes(UDP(sport=5357, dport=53))[:4]),
                    pad=bytes(10)), "l4_trunc")
    emit_drop("drop_l4_trunc_icmp6", "ICMPv6 header of 4 bytes",
              frame(IPv6(src=CLIENT6, dst=VIP6_A, nh=PROTO_ICMPV6) /
                    Raw(bytes(ICMPv6EchoRequest())[:4])), "l4_trunc")
    emit_drop("drop_frag_quote_trunc_padded",
              "frag-needed to an all-ports VIP quoting 20 bytes of IP and 2 of TCP, then Ethernet padding",
              frame(IP(src=ROUTER4, dst=VIP4_C, tos=0xc0, ttl=60) / ICMP(type=3, code=4, nexthopmtu=1400) /
                    Raw(bytes(IP(src=VIP4_C, dst=CLIENT4) / TCP(sport=8080, dport=40000, flags="A"))[:22]),
                    pad=bytes(10)), "l4_trunc")
    emit_drop("drop_ip6_later_frag_hdr_in_padding",
              "later-fragment header whose last 4 bytes lie in the padding after a 4-byte IPv6 payload",
              frame(IPv6(src=CLIENT6, dst=VIP6_L3, nh=44, plen=4),
                    pad=bytes(IPv6ExtHdrFragment(nh=PROTO_UDP, offset=10, m=1, id=7)) + bytes(6)), "ip6_ext")
    emit_drop("drop_ip6_ext_in_padding", "hop-by-hop header lying in the padding after a 0-byte IPv6 payload",
              frame(IPv6(src=CLIENT6, dst=VIP6_A, nh=0, plen=0), pad=bytes([PROTO_TCP, 0]) + bytes(12)),
              "ip6_ext")

    # -- Balanced: the four encapsulations ----------------------------------
    emit_forward("v4_tcp_syn_v4in4", "IPv4 TCP SYN to a VIP with IPv4 backends",
                 tcp4(VIP4_A, 80), 0, key4(VIP4_A, 40000, 80, PROTO_TCP), syn=True, tcp=True)
    emit_forward("v4_udp_v4in4", "IPv4 UDP to a VIP with a 13-slot table",
                 udp4(VIP4_A, 53, sport=5353), 1, key4(VIP4_A, 5353, 53, PROTO_UDP))
    emit_forward("v4_tcp_syn_v4in6", "IPv4 TCP SYN to a VIP with IPv6 backends",
                 tcp4(VIP4_B, 443, sport=40001), 2, key4(VIP4_B, 40001, 443, PROTO_TCP), syn=True, tcp=True)
    emit_forward("v6_tcp_syn_v6in6", "IPv6 TCP SYN to a VIP with IPv6 backends",
                 tcp6(VIP6_A, 80, sport=40002), 3, key6(VIP6_A, 40002, 80, PROTO_TCP), syn=True, tcp=True)
    emit_forward("v6_udp_v6in6", "IPv6 UDP to a VIP with a 13-slot table",
                 udp6(VIP6_A, 53, sport=5354), 4, key6(VIP6_A, 5354, 53, PROTO_UDP))
    emit_forward("v6_tcp_syn_v6in4", "IPv6 TCP SYN to a VIP with IPv4 backends",
                 tcp6(VIP6_B, 443, sport=40003, payload=b"h" * 40), 5, key6(VIP6_B, 40003, 443, PROTO_TCP),
                 syn=True, tcp=True)

    # -- VLAN tags, options, padding, ToS -----------------------------------
    emit_forward("v4_vlan1_syn", "one 802.1Q tag, kept on the way out",
                 tcp4(VIP4_A, 80, sport=40010), 0, key4(VIP4_A, 40010, 80, PROTO_TCP),
                 tags=TAG1, syn=True, tcp=True)
    emit_forward("v6_vlan2_syn", "802.1ad + 802.1Q tags, kept on the way out",
                 tcp6(VIP6_A, 80, sport=40011), 3, key6(VIP6_A, 40011, 80, PROTO_TCP),
                 tags=TAG2, syn=True, tcp=True)
    emit_forward("v4_vlan2_v4in6", "two tags, IPv4 client, IPv6 backend",
                 tcp4(VIP4_B, 443, sport=40012), 2, key4(VIP4_B, 40012, 443, PROTO_TCP),
                 tags=TAG2, syn=True, tcp=True)
    emit_forward("v4_options_syn", "IPv4 with 12 bytes of options (NOP x4, record route)",
                 IP(src=CLIENT4, dst=VIP4_A, ttl=57, id=0x2222,
                    options=[IPOption_NOP(), IPOption_NOP(), IPOption_NOP(), IPOption_NOP(),
                             IPOption_RR(routers=["10.0.0.1"])]) /
                 TCP(sport=40013, dport=80, flags="S", seq=1000),
                 0, key4(VIP4_A, 40013, 80, PROTO_TCP), syn=True, tcp=True)
    emit_forward("v4_padded_short_frame", "54-byte ACK padded to 60: padding cut before encapsulation",
                 tcp4(VIP4_A, 80, flags="A", sport=40014), 0, key4(VIP4_A, 40014, 80, PROTO_TCP),
                 pad=bytes(6), tcp=True)
    emit_forward("v6_trailing_bytes", "IPv6 UDP followed by 10 bytes of trailer after the packet",
                 udp6(VIP6_A, 53, sport=5355), 4, key6(VIP6_A, 5355, 53, PROTO_UDP), pad=b"\xee" * 10)
    emit_forward("v4_tos_copied_v4in4", "ToS 0xb8 copied to the outer IPv4 header",
                 tcp4(VIP4_A, 80, sport=40015, tos=0xb8), 0, key4(VIP4_A, 40015, 80, PROTO_TCP),
                 syn=True, tcp=True, tos=0xb8)
    emit_forward("v4_tos_copied_v4in6", "ToS 0x2e copied to the outer traffic class",
                 tcp4(VIP4_B, 443, sport=40016, tos=0x2e), 2, key4(VIP4_B, 40016, 443, PROTO_TCP),
                 syn=True, tcp=True, tos=0x2e)
    emit_forward("v6_tc_copied_v6in6", "traffic class 0xb9 copied, flow label from the spread hash",
                 tcp6(VIP6_A, 80, sport=40017, tc=0xb9), 3, key6(VIP6_A, 40017, 80, PROTO_TCP),
                 syn=True, tcp=True, tos=0xb9)
    emit_forward("v6_tc_copied_v6in4", "traffic class 0x48 copied to the outer ToS",
                 tcp6(VIP6_B, 443, sport=40018, tc=0x48), 5, key6(VIP6_B, 40018, 443, PROTO_TCP),
                 syn=True, tcp=True, tos=0x48)

    # -- Tunnel sources -----------------------------------------------------
    emit_forward("tunnel_src4_per_flow", "src4 10.255.0.0/20: host bits from the spread hash",
                 tcp4(VIP4_A, 80, sport=40020), 0, key4(VIP4_A, 40020, 80, PROTO_TCP), syn=True, tcp=True,
                 env=over(cfg={"src4": "10.255.0.0", "src4_plen": 20}))
    emit_forward("tunnel_src6_per_flow_112", "src6 fd00:ff::/112: low 16 bits from the spread hash",
                 tcp6(VIP6_A, 80, sport=40021), 3, key6(VIP6_A, 40021, 80, PROTO_TCP), syn=True, tcp=True,
                 env=over(cfg={"src6": "fd00:ff::", "src6_plen": 112}))
    emit_forward("tunnel_src6_per_flow_64", "src6 fd00:ff::/64: only the low 32 bits from the spread hash",
                 tcp4(VIP4_B, 443, sport=40022), 2, key4(VIP4_B, 40022, 443, PROTO_TCP), syn=True, tcp=True,
                 env=over(cfg={"src6": "fd00:ff:0:0:abcd:ef01::", "src6_plen": 64}))

    # -- VIP lookup ---------------------------------------------------------
    emit_forward("all_ports_vip", "TCP to port 8080 of an all-ports VIP",
                 tcp4(VIP4_C, 8080, sport=40030), 6, key4(VIP4_C, 40030, 8080, PROTO_TCP), syn=True, tcp=True)
    emit_forward("port_vip_over_all_ports", "TCP to port 22, which has its own VIP beside the all-ports one",
                 tcp4(VIP4_C, 22, sport=40031), 7, key4(VIP4_C, 40031, 22, PROTO_TCP), syn=True, tcp=True)
    emit_forward("port_miss_falls_back", "TCP to port 23: no port VIP, the all-ports VIP takes it",
                 tcp4(VIP4_C, 23, sport=40032), 6, key4(VIP4_C, 40032, 23, PROTO_TCP), syn=True, tcp=True)

    # -- Fragments ----------------------------------------------------------
    emit_forward("frag_v4_first_5tuple", "first IPv4 fragment (MF) to a 5tuple VIP",
                 IP(src=CLIENT4, dst=VIP4_A, flags="MF", ttl=57, id=90) / TCP(sport=40040, dport=80, flags="A") /
                 Raw(b"f" * 64), 0, key4(VIP4_A, 40040, 80, PROTO_TCP), frag=True, tcp=True)
    emit_forward("frag_v4_later_5tuple", "later IPv4 fragment to an all-ports 5tuple VIP",
                 IP(src=CLIENT4, dst=VIP4_C, proto=PROTO_TCP, frag=10, ttl=57, id=91) / Raw(b"f" * 64),
                 6, key4(VIP4_C, 0, 0, PROTO_TCP), frag=True, later=True, tcp=True)
    emit_forward("frag_v6_first_5tuple", "first IPv6 fragment (offset 0, M) to a 5tuple VIP",
                 tcp6(VIP6_A, 80, flags="A", sport=40041, ext=IPv6ExtHdrFragment(offset=0, m=1, id=92),
                      payload=b"f" * 64),
                 3, key6(VIP6_A, 40041, 80, PROTO_TCP), frag=True, tcp=True)
    emit_forward("frag_v6_later_5tuple", "later IPv6 fragment to an all-ports 5tuple VIP",
                 IPv6(src=CLIENT6, dst=VIP6_C, hlim=57) / IPv6ExtHdrFragment(nh=PROTO_TCP, offset=10, m=1, id=93) /
                 Raw(b"f" * 64), 14, key6(VIP6_C, 0, 0, PROTO_TCP), frag=True, later=True, tcp=True)
    emit_forward("v6_atomic_fragment", "IPv6 fragment header with offset 0 and no M: a whole packet",
                 tcp6(VIP6_A, 80, sport=40042, ext=IPv6ExtHdrFragment(offset=0, m=0, id=94)),
                 3, key6(VIP6_A, 40042, 80, PROTO_TCP), syn=True, tcp=True)
    emit_forward("l3_v4_udp", "UDP to an l3 VIP: the flow key has no ports",
                 udp4(VIP4_L3, 5000, sport=6000), 8, key4(VIP4_L3, 6000, 5000, PROTO_UDP), l3=True)
    k = key4(VIP4_L3, 6004, 5000, PROTO_UDP)
    emit_forward("l3_stale_5tuple_entry", "UDP to an l3 VIP with an entry under its full 5-tuple "
                 "(left from a 5tuple VIP): placed by address pair, the entry not followed",
                 udp4(VIP4_L3, 5000, sport=6004), 8, k, l3=True,
                 env=over(flows={k: 9}, backends={9: backend(BACKENDS[9], vip=8)}))
    emit_forward("l3_frag_v4_first", "first IPv4 UDP fragment to an l3 VIP",
                 IP(src=CLIENT4, dst=VIP4_L3, flags="MF", ttl=57, id=95) / UDP(sport=6001, dport=5000) /
                 Raw(b"f" * 64), 8, key4(VIP4_L3, 6001, 5000, PROTO_UDP), l3=True, frag=True)
    emit_forward("l3_frag_v4_later", "later IPv4 UDP fragment to an l3 all-ports VIP",
                 IP(src=CLIENT4, dst=VIP4_L3, proto=PROTO_UDP, frag=9, ttl=57, id=95) / Raw(b"g" * 40),
                 8, key4(VIP4_L3, 0, 0, PROTO_UDP), l3=True, frag=True, later=True)
    emit_forward("l3_frag_v6_first", "first IPv6 UDP fragment to an l3 VIP",
                 IPv6(src=CLIENT6, dst=VIP6_L3, hlim=57) / IPv6ExtHdrFragment(offset=0, m=1, id=96) /
                 UDP(sport=6002, dport=5000) / Raw(b"f" * 64),
                 9, key6(VIP6_L3, 6002, 5000, PROTO_UDP), l3=True, frag=True)
    emit_forward("l3_frag_v6_later", "later IPv6 UDP fragment to an l3 all-ports VIP",
                 IPv6(src=CLIENT6, dst=VIP6_L3, hlim=57) / IPv6ExtHdrFragment(nh=PROTO_UDP, offset=9, m=0, id=96) /
                 Raw(b"g" * 40), 9, key6(VIP6_L3, 0, 0, PROTO_UDP), l3=True, frag=True, later=True)
    emit_forward("l3_frag_later_via_frag_entry", "later fragment to an l3 port VIP, found through its fragment entry",
                 IP(src=CLIENT4, dst=VIP4_F, proto=PROTO_UDP, frag=185, ttl=57, id=97) / Raw(b"g" * 40),
                 10, key4(VIP4_F, 0, 0, PROTO_UDP), l3=True, frag=True, later=True)
    emit_forward("l3_frag_first_port_vip", "first fragment to that l3 port VIP: same backend as its later fragments",
                 IP(src=CLIENT4, dst=VIP4_F, flags="MF", ttl=57, id=97) / UDP(sport=6003, dport=4789) /
                 Raw(b"f" * 64), 10, key4(VIP4_F, 6003, 4789, PROTO_UDP), l3=True, frag=True)
    emit_forward("l3_frag_v4_later_tiny", "later fragment with 4 bytes of data: no L4 header is read",
                 IP(src=CLIENT4, dst=VIP4_L3, proto=PROTO_UDP, frag=20, ttl=57, id=99) / Raw(b"tiny"),
                 8, key4(VIP4_L3, 0, 0, PROTO_UDP), l3=True, frag=True, later=True, pad=bytes(2))
    emit_forward("l3_tcp_first_frag_nonsyn", "first fragment of a TCP ACK to an l3 VIP: a non-SYN miss",
                 IP(src=CLIENT4, dst=VIP4_L3, flags="MF", ttl=57, id=100) / TCP(sport=40043, dport=443, flags="A") /
                 Raw(b"f" * 64), 15, key4(VIP4_L3, 40043, 443, PROTO_TCP), l3=True, frag=True, tcp=True)
    emit_forward("l3_tcp_later_frag_no_miss", "later TCP fragment to an l3 VIP: no ports, not a non-SYN miss",
                 IP(src=CLIENT4, dst=VIP4_L3, proto=PROTO_TCP, frag=10, ttl=57, id=100) / Raw(b"g" * 40),
                 15, key4(VIP4_L3, 0, 0, PROTO_TCP), l3=True, frag=True, later=True, tcp=True)
    k = key4(VIP4_L3, 0, 0, PROTO_TCP)
    emit_forward("l3_tcp_syn_flow_hit", "SYN to an l3 VIP whose address pair has a flow on backend 9: it joins the pair's backend",
                 tcp4(VIP4_L3, 443, sport=40044), 15, key4(VIP4_L3, 40044, 443, PROTO_TCP), l3=True, syn=True,
                 tcp=True, env=over(flows={k: 9}))
    emit_forward("l3_tcp_syn_new_pair", "SYN to an l3 VIP from a new address pair: table, recorded, not a non-SYN miss",
                 tcp4(VIP4_L3, 443, sport=40046), 15, key4(VIP4_L3, 40046, 443, PROTO_TCP), l3=True, syn=True,
                 tcp=True)
    emit_forward("l3_tcp_ack_flow_hit", "ACK to an l3 VIP: follows the address pair's flow on backend 9",
                 tcp4(VIP4_L3, 443, flags="A", sport=40045), 15, key4(VIP4_L3, 40045, 443, PROTO_TCP), l3=True,
                 tcp=True, env=over(flows={k: 9}))

    # -- IPv6 extension headers ---------------------------------------------
    emit_forward("v6_ext_hbh_dstopt_tcp", "hop-by-hop and destination options before a TCP SYN",
                 tcp6(VIP6_A, 80, sport=40050, ext=IPv6ExtHdrHopByHop() / IPv6ExtHdrDestOpt()),
                 3, key6(VIP6_A, 40050, 80, PROTO_TCP), syn=True, tcp=True)
    emit_forward("v6_six_ext_headers", "six extension headers (the most walked) before a TCP SYN",
                 tcp6(VIP6_A, 80, sport=40051, ext=IPv6ExtHdrHopByHop() / IPv6ExtHdrDestOpt() / IPv6ExtHdrRouting() /
                      IPv6ExtHdrFragment(offset=0, m=0, id=98) / IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt()),
                 3, key6(VIP6_A, 40051, 80, PROTO_TCP), syn=True, tcp=True)

    # -- Flow table ---------------------------------------------------------
    k = key4(VIP4_A, 40060, 80, PROTO_TCP)
    emit_forward("syn_overwrites_flow", "SYN for a flow recorded on backend 9: the table's choice replaces it",
                 tcp4(VIP4_A, 80, sport=40060), 0, k, syn=True, tcp=True, env=over(flows={k: 9}))
    emit_forward("nonsyn_miss_ack", "ACK with no flow entry: counted, placed by the table, recorded",
                 tcp4(VIP4_A, 80, flags="A", sport=40061, payload=b"GET / HTTP/1.0\r\n\r\n"), 0,
                 key4(VIP4_A, 40061, 80, PROTO_TCP), tcp=True)
    emit_forward("synack_is_not_syn", "SYN+ACK with no flow entry: a non-SYN miss",
                 tcp4(VIP4_A, 80, flags="SA", sport=40068), 0, key4(VIP4_A, 40068, 80, PROTO_TCP), tcp=True)
    emit_forward("rst_miss_no_entry", "RST with no flow entry: placed by the table, never recorded",
                 tcp4(VIP4_A, 80, flags="R", sport=40062), 0, key4(VIP4_A, 40062, 80, PROTO_TCP),
                 tcp=True, rst=True)
    k = key4(VIP4_A, 40063, 80, PROTO_TCP)
    emit_forward("flow_hit_off_table", "ACK of a flow recorded on backend 9, which is in no table",
                 tcp4(VIP4_A, 80, flags="A", sport=40063), 0, k, tcp=True, env=over(flows={k: 9}))
    k = key4(VIP4_A, 40064, 80, PROTO_TCP)
    emit_forward("flow_hit_v6_backend", "ACK of an IPv4 flow recorded on IPv6 backend 10",
                 tcp4(VIP4_A, 80, flags="A", sport=40064), 0, k, tcp=True, env=over(flows={k: 10}))
    k = key4(VIP4_A, 40065, 80, PROTO_TCP)
    emit_forward("flow_hit_rst", "RST of a flow recorded on backend 9: follows the flow",
                 tcp4(VIP4_A, 80, flags="RA", sport=40065), 0, k, tcp=True, rst=True, env=over(flows={k: 9}))
    k = key4(VIP4_A, 40066, 80, PROTO_TCP)
    emit_forward("flow_backend_down_repick", "ACK of a flow whose backend 9 is down: picked again, entry replaced",
                 tcp4(VIP4_A, 80, flags="A", sport=40066), 0, k, tcp=True,
                 env=over(flows={k: 9}, backends={9: backend(BACKENDS[9], 0)}))
    k = key4(VIP4_A, 40068, 80, PROTO_TCP)
    emit("flow_of_removed_vip_passed",
         "ACK of a flow whose VIP was removed (its backend retired): passed, not forwarded",
         frame(bytes(tcp4(VIP4_A, 80, flags="A", sport=40068))), XDP_PASS,
         env=over(flows={k: 9}, backends={9: backend(BACKENDS[9], 0, vip=BACKEND_VIP_NONE)},
                  vips={(VIP4_A, 80, PROTO_TCP, 0): None}))
    k = key6(VIP6_A, 5356, 53, PROTO_UDP)
    emit_forward("flow_hit_udp_v6", "IPv6 UDP of a flow recorded on backend 10",
                 udp6(VIP6_A, 53, sport=5356), 4, k,
                 env=over(flows={k: 10}, backends={10: backend(BACKENDS[10], vip=4)}))
    emit_forward("all_backends_down_table_serves", "every backend marked down: a SYN still gets the table's choice",
                 tcp4(VIP4_A, 80, sport=40067), 0, key4(VIP4_A, 40067, 80, PROTO_TCP), syn=True, tcp=True,
                 env=over(backends={i: backend(BACKENDS[i], 0) for i in (1, 2, 3)}))

    # -- No backend, bad backend, no config ---------------------------------
    emit_forward("no_table_no_backend", "SYN to a VIP that has no table",
                 tcp4(VIP4_NT, 80, sport=40070), 11, key4(VIP4_NT, 40070, 80, PROTO_TCP), syn=True, tcp=True)
    emit_forward("empty_slots_no_backend", "SYN to a VIP whose table slots are all 0",
                 tcp4(VIP4_A, 80, sport=40071), 0, key4(VIP4_A, 40071, 80, PROTO_TCP), syn=True, tcp=True,
                 env=over(tables={0: [0] * 7}))
    emit_forward("bad_backend", "SYN to a VIP whose table names backend 20, which has no entry",
                 tcp4(VIP4_A, 80, sport=40072), 0, key4(VIP4_A, 40072, 80, PROTO_TCP), syn=True, tcp=True,
                 env=over(tables={0: [20] * 7}))
    emit_forward("no_config_v4", "IPv4 backend and no IPv4 tunnel source",
                 tcp4(VIP4_A, 80, sport=40073), 0, key4(VIP4_A, 40073, 80, PROTO_TCP), syn=True, tcp=True,
                 env=over(cfg={"src4": "0.0.0.0"}))
    emit_forward("no_config_v6", "IPv6 backend and no IPv6 tunnel source",
                 tcp6(VIP6_A, 80, sport=40074), 3, key6(VIP6_A, 40074, 80, PROTO_TCP), syn=True, tcp=True,
                 env=over(cfg={"src6": "::"}))

    # -- Too big: ICMP error to the client -----------------------------------
    emit_forward("too_big_v4", "1400-byte IPv4 SYN, mtu 1400, IPv4 backend: frag-needed with mtu 1380",
                 tcp4(VIP4_A, 80, sport=40080, payload=b"b" * 1360), 0, key4(VIP4_A, 40080, 80, PROTO_TCP),
                 syn=True, tcp=True, env=over(cfg={"mtu": 1400}))
    emit_forward("too_big_v4_options_vlan2", "too big with IPv4 options and two tags: the quote has the options",
                 IP(src=CLIENT4, dst=VIP4_A, ttl=57, id=0x3333,
                    options=[IPOption_NOP(), IPOption_NOP(), IPOption_NOP(), IPOption_NOP(),
                             IPOption_RR(routers=["10.0.0.1"])]) /
                 TCP(sport=40081, dport=80, flags="A", seq=5, ack=6) / Raw(b"b" * 1000),
                 0, key4(VIP4_A, 40081, 80, PROTO_TCP), tags=TAG2, tcp=True, env=over(cfg={"mtu": 1000}))
    emit_forward("too_big_v4_to_v6_backend", "IPv4 client, IPv6 backend: frag-needed with mtu - 40",
                 tcp4(VIP4_B, 443, flags="A", sport=40082, payload=b"b" * 1400), 2,
                 key4(VIP4_B, 40082, 443, PROTO_TCP), tcp=True, env=over(cfg={"mtu": 1420}))
    emit_forward("too_big_v6", "IPv6 client and backend: packet-too-big quoting 128 bytes",
                 tcp6(VIP6_A, 80, sport=40083, payload=b"b" * 1300), 3, key6(VIP6_A, 40083, 80, PROTO_TCP),
                 syn=True, tcp=True, env=over(cfg={"mtu": 1280}))
    emit_forward("too_big_v6_vlan1_to_v4", "IPv6 client, IPv4 backend, one tag: packet-too-big with mtu - 20",
                 tcp6(VIP6_B, 443, flags="A", sport=40084, payload=b"b" * 1300), 5,
                 key6(VIP6_B, 40084, 443, PROTO_TCP), tags=TAG1, tcp=True, env=over(cfg={"mtu": 1300}))
    emit_forward("too_big_v6_odd_quote", "mtu 100, 75-byte IPv6 packet: packet-too-big quoting 74 bytes, mtu 60",
                 tcp6(VIP6_A, 80, sport=40087, payload=b"o" * 15), 3, key6(VIP6_A, 40087, 80, PROTO_TCP),
                 syn=True, tcp=True, env=over(cfg={"mtu": 100}))
    emit_forward("v4_vlan2_padded", "two tags and Ethernet padding: padding cut, tags kept",
                 tcp4(VIP4_A, 80, flags="A", sport=40088), 0, key4(VIP4_A, 40088, 80, PROTO_TCP),
                 tags=TAG2, pad=bytes(6), tcp=True)
    emit_forward("mtu0_default_fits", "mtu 0 means 1500: a 1480-byte IPv4 packet still fits in IPv4",
                 tcp4(VIP4_A, 80, sport=40085, payload=b"m" * 1440), 0, key4(VIP4_A, 40085, 80, PROTO_TCP),
                 syn=True, tcp=True, env=over(cfg={"mtu": 0}))
    emit_forward("mtu0_default_too_big", "mtu 0 means 1500: a 1481-byte IPv4 packet does not",
                 tcp4(VIP4_A, 80, sport=40086, payload=b"m" * 1441), 0, key4(VIP4_A, 40086, 80, PROTO_TCP),
                 syn=True, tcp=True, env=over(cfg={"mtu": 0}))

    # -- Too big, no answer: a source that may not get one, an IPv4 fragment
    for name, src in (("multicast", "224.0.0.5"), ("broadcast", "255.255.255.255"),
                      ("zero_net", "0.1.2.3"), ("loopback", "127.0.0.9")):
        emit_forward("too_big_v4_from_" + name, "too big from %s (%s): dropped, no frag-needed" % (src, name),
                     tcp4(VIP4_A, 80, src=src, sport=40090, payload=b"b" * 1360), 0,
                     key4(VIP4_A, 40090, 80, PROTO_TCP, src=src), syn=True, tcp=True,
                     env=over(cfg={"mtu": 1400}))
    for name, src in (("multicast", "ff02::1"), ("unspecified", "::")):
        emit_forward("too_big_v6_from_" + name, "too big from %s: dropped, no packet-too-big" % src,
                     tcp6(VIP6_A, 80, src=src, sport=40091, payload=b"b" * 1300), 3,
                     key6(VIP6_A, 40091, 80, PROTO_TCP, src=src), syn=True, tcp=True,
                     env=over(cfg={"mtu": 1280}))
    emit_forward("too_big_v4_just_below_multicast", "too big from 223.255.255.254: answered",
                 tcp4(VIP4_A, 80, src="223.255.255.254", sport=40092, payload=b"b" * 1360), 0,
                 key4(VIP4_A, 40092, 80, PROTO_TCP, src="223.255.255.254"), syn=True, tcp=True,
                 env=over(cfg={"mtu": 1400}))
    emit_forward("too_big_l3_frag_v4_first", "too big first IPv4 fragment to an l3 VIP: dropped, no frag-needed",
                 IP(src=CLIENT4, dst=VIP4_L3, flags="MF", ttl=57, id=101) / UDP(sport=6005, dport=5000) /
                 Raw(b"f" * 1400), 8, key4(VIP4_L3, 6005, 5000, PROTO_UDP), l3=True, frag=True,
                 env=over(cfg={"mtu": 1400}))
    emit_forward("too_big_l3_frag_v4_later", "too big later IPv4 fragment to an l3 VIP: dropped, no frag-needed",
                 IP(src=CLIENT4, dst=VIP4_L3, proto=PROTO_UDP, frag=185, ttl=57, id=101) / Raw(b"g" * 1400),
                 8, key4(VIP4_L3, 0, 0, PROTO_UDP), l3=True, frag=True, later=True,
                 env=over(cfg={"mtu": 1400}))
    emit_forward("too_big_l3_frag_v6_later", "too big later IPv6 fragment to an l3 VIP: packet-too-big, the source fragments",
                 IPv6(src=CLIENT6, dst=VIP6_L3, hlim=57) / IPv6ExtHdrFragment(nh=PROTO_UDP, offset=185, m=0, id=102) /
                 Raw(b"g" * 1300), 9, key6(VIP6_L3, 0, 0, PROTO_UDP), l3=True, frag=True, later=True,
                 env=over(cfg={"mtu": 1280}))

    # -- Echo ---------------------------------------------------------------
    req = IP(src=CLIENT4, dst=VIP4_A, ttl=57, id=0x4444, tos=0x10) / ICMP(type=8, id=0x77, seq=3) / Raw(b"abcdefgh" * 4)
    rep = IP(src=VIP4_A, dst=CLIENT4, ttl=OUTER_TTL, id=0x4444, tos=0x10) / ICMP(type=0, id=0x77, seq=3) / \
        Raw(b"abcdefgh" * 4)
    emit("echo_v4", "echo request to a VIP with an ICMP entry: answered in place", frame(req), XDP_TX,
         out=l2(NEXT_HOP_MAC, LB_MAC, [], ETH_P_IP) + bytes(rep), counters={"event.icmp_echo": 1})
    req = IP(src=CLIENT4, dst=VIP4_A, ttl=57, id=0x4445) / ICMP(type=8, id=0x78, seq=4) / Raw(b"p")
    rep = IP(src=VIP4_A, dst=CLIENT4, ttl=OUTER_TTL, id=0x4445) / ICMP(type=0, id=0x78, seq=4) / Raw(b"p")
    emit("echo_v4_padded_vlan1", "short echo request with one tag and padding: frame length unchanged",
         frame(req, TAG1, pad=b"\x00" * 13), XDP_TX,
         out=l2(NEXT_HOP_MAC, LB_MAC, TAG1, ETH_P_IP) + bytes(rep) + b"\x00" * 13,
         counters={"event.icmp_echo": 1})
    req = IPv6(src=CLIENT6, dst=VIP6_A, hlim=57, tc=0x20, fl=0xabcde) / \
        ICMPv6EchoRequest(id=0x99, seq=5, data=b"v6ping" * 5)
    rep = IPv6(src=VIP6_A, dst=CLIENT6, hlim=OUTER_TTL, tc=0x20, fl=0xabcde) / \
        ICMPv6EchoReply(id=0x99, seq=5, data=b"v6ping" * 5)
    emit("echo_v6", "ICMPv6 echo request to a VIP with an ICMPv6 entry: answered in place", frame(req), XDP_TX,
         out=l2(NEXT_HOP_MAC, LB_MAC, [], ETH_P_IPV6) + bytes(rep), counters={"event.icmp_echo": 1})

    # -- ICMP errors steered to the flow's backend ---------------------------
    def frag_needed(vip, vport, cport, proto=PROTO_TCP, tos=0xC0, mtu=1400, extra=0):
        l4 = TCP(sport=vport, dport=cport, flags="A") if proto == PROTO_TCP else UDP(sport=vport, dport=cport)
        quoted = bytes(IP(src=vip, dst=CLIENT4, ttl=64) / l4 / Raw(b"r" * 200))[:28 + extra]
        return IP(src=ROUTER4, dst=vip, tos=tos, ttl=60, id=0x5555) / ICMP(type=3, code=4, nexthopmtu=mtu) / Raw(quoted)

    def ptb(vip, vport, cport, proto=PROTO_TCP, mtu=1280):
        l4 = TCP(sport=vport, dport=cport, flags="A") if proto == PROTO_TCP else UDP(sport=vport, dport=cport)
        quoted = bytes(IPv6(src=vip, dst=CLIENT6, hlim=64) / l4 / Raw(b"r" * 200))
        return IPv6(src=ROUTER6, dst=vip, hlim=60, tc=0) / ICMPv6PacketTooBig(mtu=mtu) / Raw(quoted)

    k = key4(VIP4_A, 40090, 80, PROTO_TCP)
    emit_forward("frag_needed_steered_flow", "frag-needed about a flow recorded on backend 9: sent there whole",
                 frag_needed(VIP4_A, 80, 40090), 0, k, steered=True, tcp=True, tos=0xC0,
                 env=over(flows={k: 9}))
    emit_forward("frag_needed_steered_table", "frag-needed about an unknown flow: table's choice, no entry, no miss",
                 frag_needed(VIP4_A, 80, 40091, tos=0x00), 0, key4(VIP4_A, 40091, 80, PROTO_TCP),
                 steered=True, tcp=True, tos=0x00)
    emit_forward("frag_needed_steered_v4in6", "frag-needed about a TCP flow of a VIP with IPv6 backends",
                 IP(src=ROUTER4, dst=VIP4_B, tos=0xC0, ttl=60) / ICMP(type=3, code=4, nexthopmtu=1400) /
                 Raw(bytes(IP(src=VIP4_B, dst=CLIENT4) / TCP(sport=443, dport=40092, flags="A"))[:28]),
                 2, key4(VIP4_B, 40092, 443, PROTO_TCP), steered=True, tcp=True, tos=0xC0)
    k = key4(VIP4_A, 40093, 80, PROTO_TCP)
    emit_forward("frag_needed_steered_down", "frag-needed about a flow whose backend is down: table, entry kept",
                 frag_needed(VIP4_A, 80, 40093), 0, k, steered=True, tcp=True, tos=0xC0,
                 env=over(flows={k: 9}, backends={9: backend(BACKENDS[9], 0)}))
    emit_forward("frag_needed_steered_vlan2", "frag-needed about a UDP flow, two tags kept",
                 frag_needed(VIP4_A, 53, 5360, proto=PROTO_UDP), 1, key4(VIP4_A, 5360, 53, PROTO_UDP),
                 tags=TAG2, steered=True, tos=0xC0)
    emit_forward("frag_needed_steered_padded", "frag-needed quoting 24 bytes, with 6 bytes of trailer: trailer cut",
                 IP(src=ROUTER4, dst=VIP4_A, tos=0xc0, ttl=60) / ICMP(type=3, code=4, nexthopmtu=1400) /
                 Raw(bytes(IP(src=VIP4_A, dst=CLIENT4) / TCP(sport=80, dport=40100, flags="A"))[:24]),
                 0, key4(VIP4_A, 40100, 80, PROTO_TCP), pad=bytes(6), steered=True, tcp=True, tos=0xC0)
    emit_forward("frag_needed_steered_too_big", "frag-needed that would not fit once encapsulated: dropped",
                 frag_needed(VIP4_A, 80, 40094, extra=60), 0, key4(VIP4_A, 40094, 80, PROTO_TCP),
                 steered=True, tcp=True, tos=0xC0, env=over(cfg={"mtu": 120}))
    k = key6(VIP6_A, 40095, 80, PROTO_TCP)
    emit_forward("ptb_steered_flow", "packet-too-big about a flow recorded on backend 10",
                 ptb(VIP6_A, 80, 40095), 3, k, steered=True, tcp=True,
                 env=over(flows={k: 10}, backends={10: backend(BACKENDS[10], vip=3)}))
    emit_forward("ptb_steered_table", "packet-too-big about an unknown flow: table's choice, no entry",
                 ptb(VIP6_A, 80, 40096), 3, key6(VIP6_A, 40096, 80, PROTO_TCP), steered=True, tcp=True)
    emit_forward("ptb_steered_v6in4", "packet-too-big about a TCP flow of a VIP with IPv4 backends",
                 IPv6(src=ROUTER6, dst=VIP6_B, hlim=60) / ICMPv6PacketTooBig(mtu=1280) /
                 Raw(bytes(IPv6(src=VIP6_B, dst=CLIENT6) / TCP(sport=443, dport=40097, flags="A") / Raw(b"r" * 8))),
                 5, key6(VIP6_B, 40097, 443, PROTO_TCP), steered=True, tcp=True)
    emit_forward("ptb_steered_l3", "packet-too-big about a UDP flow of an l3 VIP: ports ignored",
                 ptb(VIP6_L3, 5000, 6010, proto=PROTO_UDP), 9, key6(VIP6_L3, 6010, 5000, PROTO_UDP),
                 steered=True, l3=True)
    k = key4(VIP4_C, 40098, 8080, PROTO_TCP)
    emit_forward("frag_needed_router_options", "frag-needed whose own IP header has options, about a flow on backend 9",
                 IP(src=ROUTER4, dst=VIP4_C, tos=0xc0, ttl=60, options=[IPOption_NOP()] * 4) /
                 ICMP(type=3, code=4, nexthopmtu=1400) /
                 Raw(bytes(IP(src=VIP4_C, dst=CLIENT4) / TCP(sport=8080, dport=40098, flags="A"))[:28]),
                 6, k, steered=True, tcp=True, tos=0xC0,
                 env=over(flows={k: 9}, backends={9: backend(BACKENDS[9], vip=6)}))
    emit_forward("frag_needed_quote_options", "frag-needed quoting an IPv4 header with options",
                 IP(src=ROUTER4, dst=VIP4_C, tos=0xc0, ttl=60) / ICMP(type=3, code=4, nexthopmtu=1400) /
                 Raw(bytes(IP(src=VIP4_C, dst=CLIENT4, options=[IPOption_NOP()] * 8) /
                           TCP(sport=8081, dport=40099, flags="A"))[:36]),
                 6, key4(VIP4_C, 40099, 8081, PROTO_TCP), steered=True, tcp=True, tos=0xC0)


    malformed_l4_cases()
    icmp_quote_cases()


def tcp_raw(sport, dport, flags, doff, opts=b"", payload=b""):
    """A TCP header whose data offset says doff, whatever follows it."""
    hdr = bytes(TCP(sport=sport, dport=dport, flags=flags, seq=1000, ack=(2000 if "A" in flags else 0),
                    dataofs=doff, window=8192))
    return hdr[:20] + opts + payload


def udp_raw(sport, dport, length, payload):
    """A UDP header whose length field says length, whatever follows it."""
    return struct.pack(">HHHH", sport, dport, length, 0) + payload


def malformed_l4_cases():
    """TCP data offsets and UDP lengths: dropped and counted when the
    destination is a VIP address, with the near misses that still go
    through, and passed untouched when it is not."""
    v4 = dict(src=CLIENT4, ttl=57, id=0x6000)
    v6 = dict(src=CLIENT6, hlim=57, fl=0x12345)
    # -- TCP data offset ----------------------------------------------------
    emit_drop("drop_tcp_doff_4", "TCP SYN with data offset 4 (16 bytes) to a VIP",
              frame(IP(dst=VIP4_A, proto=PROTO_TCP, **v4) / Raw(tcp_raw(40200, 80, "S", 4))), "tcp_bad_doff")
    emit_drop("drop_tcp_doff_0_v6", "IPv6 TCP SYN with data offset 0 to a VIP",
              frame(IPv6(dst=VIP6_A, nh=PROTO_TCP, **v6) / Raw(tcp_raw(40201, 80, "S", 0))), "tcp_bad_doff")
    emit_drop("drop_tcp_doff_past_packet", "data offset 15 (60 bytes) with 24 bytes of TCP in the packet",
              frame(IP(dst=VIP4_A, proto=PROTO_TCP, **v4) / Raw(tcp_raw(40202, 80, "S", 15, payload=b"abcd"))),
              "tcp_bad_doff")
    emit_drop("drop_tcp_doff_into_padding", "data offset 8 whose last 12 bytes would be Ethernet padding",
              frame(IP(dst=VIP4_A, proto=PROTO_TCP, **v4) / Raw(tcp_raw(40203, 80, "A", 8)), pad=bytes(12)),
              "tcp_bad_doff")
    k = key4(VIP4_A, 40204, 80, PROTO_TCP)
    emit_drop("drop_tcp_doff_established", "ACK with data offset 3 of a flow recorded on backend 9: not followed",
              frame(IP(dst=VIP4_A, proto=PROTO_TCP, **v4) / Raw(tcp_raw(40204, 80, "A", 3, payload=b"x" * 20))),
              "tcp_bad_doff", env=over(flows={k: 9}))
    emit_drop("drop_tcp_doff_vip_other_port", "data offset 2 to a VIP address on a port with no service",
              frame(IP(dst=VIP4_A, proto=PROTO_TCP, **v4) / Raw(tcp_raw(40205, 81, "S", 2))), "tcp_bad_doff")
    emit_drop("drop_tcp_doff_first_fragment", "first fragment to an l3 VIP whose TCP header runs past it",
              frame(IP(dst=VIP4_L3, proto=PROTO_TCP, flags="MF", **v4) /
                    Raw(tcp_raw(40206, 443, "A", 10, opts=b"\x01" * 8))), "tcp_bad_doff")
    emit_pass("pass_tcp_doff_not_vip", "data offset 2 to an address that is no VIP: passed untouched",
              frame(IP(dst=OTHER4, proto=PROTO_TCP, **v4) / Raw(tcp_raw(40207, 80, "S", 2))))
    emit_forward("tcp_doff_15_options", "data offset 15: 40 bytes of options, all in the packet",
                 IP(dst=VIP4_A, proto=PROTO_TCP, **v4) / Raw(tcp_raw(40208, 80, "S", 15, opts=b"\x01" * 40)),
                 0, key4(VIP4_A, 40208, 80, PROTO_TCP), syn=True, tcp=True)
    emit_forward("tcp_doff_ends_at_packet_end", "data offset 6 ending on the IP packet's last byte, then padding",
                 IP(dst=VIP4_A, proto=PROTO_TCP, **v4) / Raw(tcp_raw(40209, 80, "A", 6, opts=b"\x01" * 4)),
                 0, key4(VIP4_A, 40209, 80, PROTO_TCP), tcp=True, pad=bytes(2))
    emit_forward("tcp_doff_6_v6", "IPv6 data offset 6 with a payload",
                 IPv6(dst=VIP6_A, nh=PROTO_TCP, **v6) / Raw(tcp_raw(40210, 80, "S", 6, opts=b"\x01" * 4,
                                                                    payload=b"p" * 9)),
                 3, key6(VIP6_A, 40210, 80, PROTO_TCP), syn=True, tcp=True)
    emit_forward("tcp_first_fragment_whole_header", "first fragment to an l3 VIP holding its whole TCP header",
                 IP(dst=VIP4_L3, proto=PROTO_TCP, flags="MF", **v4) / Raw(tcp_raw(40211, 443, "A", 5, payload=b"f" * 16)),
                 15, key4(VIP4_L3, 40211, 443, PROTO_TCP), l3=True, frag=True, tcp=True)

    # -- UDP length ---------------------------------------------------------
    emit_drop("drop_udp_len_7", "UDP length 7 to a VIP",
              frame(IP(dst=VIP4_A, proto=PROTO_UDP, **v4) / Raw(udp_raw(5400, 53, 7, b"q" * 12))), "udp_bad_len")
    emit_drop("drop_udp_len_0_v6", "IPv6 UDP length 0 (a jumbogram without its option) to a VIP",
              frame(IPv6(dst=VIP6_A, nh=PROTO_UDP, **v6) / Raw(udp_raw(5401, 53, 0, b"q" * 12))), "udp_bad_len")
    emit_drop("drop_udp_len_past_payload", "UDP length 100 with 20 bytes of UDP in the packet",
              frame(IP(dst=VIP4_A, proto=PROTO_UDP, **v4) / Raw(udp_raw(5402, 53, 100, b"q" * 12))), "udp_bad_len")
    emit_drop("drop_udp_len_into_padding", "IPv6 UDP length counting 6 bytes of the trailer after the packet",
              frame(IPv6(dst=VIP6_A, nh=PROTO_UDP, **v6) / Raw(udp_raw(5403, 53, 26, b"q" * 12)), pad=bytes(10)),
              "udp_bad_len")
    emit_drop("drop_udp_len_7_first_fragment", "first fragment to an l3 VIP with UDP length 7",
              frame(IP(dst=VIP4_L3, proto=PROTO_UDP, flags="MF", **v4) / Raw(udp_raw(5404, 5000, 7, b"f" * 16))),
              "udp_bad_len")
    emit_pass("pass_udp_bad_len_not_vip", "IPv6 UDP length 3 to an address that is no VIP: passed untouched",
              frame(IPv6(dst=OTHER6, nh=PROTO_UDP, **v6) / Raw(udp_raw(5405, 53, 3, b"q" * 12))))
    emit_forward("udp_len_8_empty", "UDP length 8, no payload",
                 IP(dst=VIP4_A, proto=PROTO_UDP, **v4) / Raw(udp_raw(5406, 53, 8, b"")),
                 1, key4(VIP4_A, 5406, 53, PROTO_UDP))
    emit_forward("udp_len_short_of_payload", "UDP length 12 in a 20-byte IP payload: the rest is allowed, kept",
                 IP(dst=VIP4_A, proto=PROTO_UDP, **v4) / Raw(udp_raw(5407, 53, 12, b"q" * 12)),
                 1, key4(VIP4_A, 5407, 53, PROTO_UDP))
    emit_forward("udp_len_exact_v6", "IPv6 UDP length equal to the payload, then a trailer",
                 IPv6(dst=VIP6_A, nh=PROTO_UDP, **v6) / Raw(udp_raw(5408, 53, 20, b"q" * 12)),
                 4, key6(VIP6_A, 5408, 53, PROTO_UDP), pad=bytes(10))
    emit_forward("udp_first_fragment_len_past", "first fragment to an l3 VIP: UDP length 1000 past the fragment",
                 IP(dst=VIP4_L3, proto=PROTO_UDP, flags="MF", **v4) / Raw(udp_raw(5409, 5000, 1000, b"f" * 16)),
                 8, key4(VIP4_L3, 5409, 5000, PROTO_UDP), l3=True, frag=True)


def icmp_quote_cases():
    """ICMP errors: only those sent to a VIP address and quoting a valid
    header of a packet that address sent are steered."""
    def fn(dst, quoted, **ip):
        return IP(src=ROUTER4, dst=dst, tos=0xC0, ttl=60, **ip) / ICMP(type=3, code=4, nexthopmtu=1400) / Raw(quoted)

    def tb(dst, quoted):
        return IPv6(src=ROUTER6, dst=dst, hlim=60) / ICMPv6PacketTooBig(mtu=1280) / Raw(quoted)

    q4 = bytes(IP(src=VIP4_A, dst=CLIENT4) / TCP(sport=80, dport=40300, flags="A"))[:28]
    q6 = bytes(IPv6(src=VIP6_A, dst=CLIENT6) / TCP(sport=80, dport=40301, flags="A"))
    emit_pass("pass_frag_needed_to_other_address", "frag-needed sent to an address that is no VIP, quoting a VIP flow",
              frame(fn(OTHER4, q4)))
    emit_pass("pass_ptb_to_other_address", "packet-too-big sent to an address that is no VIP, quoting a VIP flow",
              frame(tb(OTHER6, q6)))
    emit_pass("pass_frag_needed_bad_quote_not_vip", "frag-needed with a quoted IHL of 3 to an address that is no VIP",
              frame(fn(OTHER4, bytes([0x43]) + q4[1:])))
    emit_pass("pass_frag_needed_quote_other_source", "frag-needed to VIP A quoting a packet VIP C sent",
              frame(fn(VIP4_A, bytes(IP(src=VIP4_C, dst=CLIENT4) / TCP(sport=8080, dport=40302, flags="A"))[:28])))
    emit_pass("pass_ptb_quote_other_source", "packet-too-big to VIP A quoting a packet of another address",
              frame(tb(VIP6_A, bytes(IPv6(src=VIP6_B, dst=CLIENT6) / TCP(sport=443, dport=40303, flags="A")))))
    emit_drop("drop_frag_needed_quote_version_6", "frag-needed to a VIP quoting a header of version 6",
              frame(fn(VIP4_A, bytes([0x65]) + q4[1:])), "icmp_bad_quote")
    emit_drop("drop_frag_needed_quote_ihl_4", "frag-needed to a VIP quoting an IPv4 header with IHL 4",
              frame(fn(VIP4_A, bytes([0x44]) + q4[1:])), "icmp_bad_quote")
    emit_drop("drop_frag_needed_quote_totlen_below_ihl", "frag-needed quoting a total length of 12",
              frame(fn(VIP4_A, bytes(IP(src=VIP4_A, dst=CLIENT4, len=12, proto=PROTO_TCP)) + q4[20:])),
              "icmp_bad_quote")
    emit_drop("drop_frag_needed_quote_totlen_no_l4", "frag-needed quoting a TCP packet of total length 24",
              frame(fn(VIP4_A, bytes(IP(src=VIP4_A, dst=CLIENT4, len=24, proto=PROTO_TCP)) + q4[20:])),
              "icmp_bad_quote")
    emit_drop("drop_ptb_quote_version_4", "packet-too-big to a VIP quoting an IPv4 packet",
              frame(tb(VIP6_A, bytes(IP(src=VIP4_A, dst=CLIENT4) / TCP(sport=80, dport=40304, flags="A")) +
                       bytes(20))), "icmp_bad_quote")
    emit_drop("drop_ptb_quote_plen_4", "packet-too-big quoting an IPv6 header with payload length 4",
              frame(tb(VIP6_A, bytes(IPv6(src=VIP6_A, dst=CLIENT6, plen=4, nh=PROTO_TCP)) + q6[40:]))
              , "icmp_bad_quote")
    q = bytes(IP(src=VIP4_A, dst=CLIENT4, len=28) / UDP(sport=53, dport=5410, len=8))
    emit_forward("frag_needed_quote_totlen_28", "frag-needed quoting a UDP packet of total length 28: steered",
                 fn(VIP4_A, q), 1, key4(VIP4_A, 5410, 53, PROTO_UDP), steered=True, tos=0xC0)
    q = bytes(IPv6(src=VIP6_A, dst=CLIENT6, plen=8, nh=PROTO_UDP)) + struct.pack(">HHHH", 53, 5411, 8, 0)
    emit_forward("ptb_quote_plen_8", "packet-too-big quoting a UDP packet of payload length 8: steered",
                 tb(VIP6_A, q), 4, key6(VIP6_A, 5411, 53, PROTO_UDP), steered=True)
    q = bytes(IP(src=VIP4_L3, dst=CLIENT4, len=20, frag=100, proto=PROTO_UDP)) + bytes(8)
    emit_forward("frag_needed_quote_later_fragment", "frag-needed quoting a later fragment of 20 bytes from an l3 VIP",
                 fn(VIP4_L3, q), 8, key4(VIP4_L3, 0, 0, PROTO_UDP), steered=True, l3=True, later=True, tos=0xC0)


def main():
    if len(sys.argv) != 2:
        sys.stderr.write("usage: gen_fixtures.py OUT.json\n")
        return 2
    build_cases()
    doc = {
        "comment": "generated by test/gen_fixtures.py; do not edit",
        "env": BASE.to_json(),
        "cases": CASES,
    }
    with open(sys.argv[1], "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
