#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Catch one tunnelled health probe on the wire and check its bytes, for
test/health_tunnel_test.sh: an IPv4-in-IPv4 frame from the node's tunnel
source to a backend, whose outer header checksum is right, whose inner
packet is a TCP segment to the VIP, and whose inner TCP checksum is right
too (the kernel finished it at csum_start after lb_probe moved the
headers). Prints one line describing the packet; exits 1 on a wrong one,
2 when none came within the time.

Usage: tunnel_capture.py IFACE SOURCE VIP PORT SECONDS
"""
import sys

from scapy.all import IP, TCP, sniff  # noqa: E402 (scapy's layout)


def ip_csum_ok(raw):
    """A header's ones' complement sum over itself, checksum included, is 0xffff."""
    total = 0
    for i in range(0, len(raw), 2):
        total += raw[i] << 8 | raw[i + 1]
    while total >> 16:
        total = (total & 0xffff) + (total >> 16)
    return total == 0xffff


def tcp_csum_ok(inner):
    """Rebuild the segment without its checksum and let scapy compute it."""
    got = inner[TCP].chksum
    fresh = inner.copy()
    del fresh[TCP].chksum
    return IP(bytes(fresh))[TCP].chksum == got


def check(outer, vip, port):
    raw = bytes(outer)
    hdr = raw[:outer.ihl * 4]
    if not ip_csum_ok(hdr):
        return f"outer header checksum wrong: {hdr.hex()}"
    if outer.flags != 'DF' or outer.ttl != 64:
        return f"outer flags {outer.flags} ttl {outer.ttl}"
    inner = IP(raw[outer.ihl * 4:])
    if inner.dst != vip or TCP not in inner or inner[TCP].dport != port:
        return f"inner packet is not to {vip}:{port}: {inner.summary()}"
    if not tcp_csum_ok(inner):
        return f"inner TCP checksum {inner[TCP].chksum:#06x} is wrong: {raw.hex()}"
    return None


def main():
    iface, source, vip, port, seconds = sys.argv[1:6]
    port = int(port)
    pkts = sniff(iface=iface, count=1, timeout=float(seconds),
                 lfilter=lambda p: IP in p and p[IP].proto == 4 and p[IP].src == source)
    if not pkts:
        print(f"no tunnelled probe from {source} on {iface} in {seconds} s")
        return 2
    outer = pkts[0][IP]
    why = check(outer, vip, port)
    if why:
        print(why)
        return 1
    inner = IP(bytes(outer)[outer.ihl * 4:])
    print(f"{outer.src} > {outer.dst} ipip: {inner.src}:{inner[TCP].sport} > "
          f"{inner.dst}:{inner[TCP].dport} flags {inner[TCP].flags} checksums ok")
    return 0


sys.exit(main())
