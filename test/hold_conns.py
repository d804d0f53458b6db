#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Long-lived TCP connections through a VIP, for the scale-out test: opens
N connections (each greeted by its backend's name), then for SECONDS sends
a line on every one each half second and expects it echoed. Prints one
JSON object: connections opened, broken (an error, a reset or a wrong echo),
and how many each backend took.

Usage: hold_conns.py ADDRESS PORT N SECONDS
"""
import json
import socket
import sys
import time


def main():
    addr, port, n, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    conns, per_backend, broken = [], {}, 0
    for _ in range(n):
        s = socket.create_connection((addr, port), timeout=3)
        f = s.makefile("rb")
        name = f.readline().decode().strip()
        per_backend[name] = per_backend.get(name, 0) + 1
        conns.append((s, f))
    alive = list(range(n))
    deadline = time.monotonic() + seconds
    round_no = 0
    while time.monotonic() < deadline and alive:
        round_no += 1
        line = ("ping %d\n" % round_no).encode()
        still = []
        for i in alive:
            s, f = conns[i]
            try:
                s.sendall(line)
                if f.readline() != line:
                    raise OSError("wrong echo")
                still.append(i)
            except OSError:
                broken += 1
        alive = still
        time.sleep(0.5)
    for s, _ in conns:
        s.close()
    print(json.dumps({"opened": n, "broken": broken, "rounds": round_no,
                      "backends": per_backend}))


main()
