#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""A VIP as the data path's pinned maps hold it, for the namespace tests.

Usage: lbmaps.py PIN_DIR ADDRESS PORT
Prints one JSON object: "slots", the backend address of each slot of the
VIP's Maglev table (null for an empty slot), and "up", the addresses
whose backend entries let flows stay. IPv4 VIPs and backends only.
"""
import json
import socket
import struct
import subprocess
import sys


def bpftool(*args):
    return json.loads(subprocess.check_output(["bpftool", "-j", "map", *args]))


def raw(hexbytes):
    return bytes(int(x, 16) for x in hexbytes)


def u32(b):
    return struct.unpack("<I", b[:4])[0]


def main():
    pins, addr, port = sys.argv[1], socket.inet_aton(sys.argv[2]), int(sys.argv[3])
    vip = None
    for e in bpftool("dump", "pinned", pins + "/vip_map"):
        k = raw(e["key"])
        if k[:4] == addr and struct.unpack(">H", k[16:18])[0] == port and k[20] == 0:
            vip = u32(raw(e["value"]))
    names, up = {}, []
    # lbd numbers backends from 1: a test's few are among the first ids.
    for i in range(1, 65):
        v = raw(bpftool("lookup", "pinned", pins + "/backends", "key",
                        *[str(b) for b in struct.pack("<I", i)])["value"])
        if v[16] == 4 and struct.unpack("<H", v[18:20])[0] == vip:
            names[i] = socket.inet_ntoa(v[:4])
            if v[17] & 1:
                up.append(names[i])
    slots = []
    inner = [u32(raw(e["value"])) for e in bpftool("dump", "pinned", pins + "/vip_tables")
             if u32(raw(e["key"])) == vip]
    if inner:
        ent = {u32(raw(e["key"])): struct.unpack("<Q", raw(e["value"]))[0]
               for e in bpftool("dump", "id", str(inner[0]))}
        for s in range(ent.get(0, 0)):
            slots.append(names.get((ent[1 + s // 4] >> (16 * (s % 4))) & 0xffff))
    print(json.dumps({"slots": slots, "up": sorted(up)}))


main()
