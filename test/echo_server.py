#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""A backend's server for the namespace tests: greets each connection with
its name, then echoes every line it gets.

Usage: echo_server.py NAME [ADDRESS [PORT]]   (default 198.18.100.1 80)
"""
import socket
import sys
import threading


def serve(c, greeting):
    try:
        c.sendall(greeting)
        for line in c.makefile("rb"):
            c.sendall(line)
    except OSError:
        pass
    finally:
        c.close()


def main():
    greeting = sys.argv[1].encode() + b"\n"
    addr = sys.argv[2] if len(sys.argv) > 2 else "198.18.100.1"
    port = int(sys.argv[3]) if len(sys.argv) > 3 else 80
    # An IPv6 address ("::" too) takes IPv4 connections as well.
    s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(512)
    while True:
        c, _ = s.accept()
        threading.Thread(target=serve, args=(c, greeting), daemon=True).start()


main()
