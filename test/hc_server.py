#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Servers a health check meets, for the namespace tests.

Usage:
  hc_server.py http ADDRESS PORT [--tls CERT KEY] [--drain FILE] [--log FILE]
      Answers every GET: /status/NNN with status NNN, /early/NNN with an
      interim 103 Early Hints and then NNN, any other path with 200, or
      503 while FILE exists (an operator draining the backend).
      With --tls it speaks HTTPS. Each request is a line "TIME PATH" in LOG.
  hc_server.py silent ADDRESS PORT
      Accepts connections and never says a word.
  hc_server.py count ADDRESS PORT --log FILE
      Accepts connections and closes them; each is a line "TIME accept" in LOG.
  hc_server.py short ADDRESS PORT
      Reads the request, answers the start of a status line ("HTTP/1.1 2")
      and closes, the answer and the close in one segment (corked): a
      checker woken once must read both.
"""
import argparse
import http.server
import os
import socket
import ssl
import time


def log_line(path, text):
    if path:
        with open(path, "a") as f:
            f.write("%.6f %s\n" % (time.time(), text))


def listener(addr, port):
    s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(512)
    return s


def serve_http(args):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            log_line(args.log, self.path)
            if self.path.startswith("/status/"):
                code = int(self.path[len("/status/"):])
            elif self.path.startswith("/early/"):
                code = int(self.path[len("/early/"):])
                # Longer than the status line lbd keeps of an answer.
                self.send_response_only(103)
                self.send_header("Link", "</style.css>; rel=preload; as=style")
                self.end_headers()
            else:
                code = 503 if args.drain and os.path.exists(args.drain) else 200
            body = b"%d\n" % code
            self.send_response(code)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    class Server(http.server.ThreadingHTTPServer):
        allow_reuse_address = True
        address_family = socket.AF_INET6 if ":" in args.address else socket.AF_INET

    srv = Server((args.address, args.port), Handler)
    if args.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls[0], args.tls[1])
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    srv.serve_forever()


def serve_silent(args):
    s = listener(args.address, args.port)
    held = []
    while True:
        c, _ = s.accept()
        held.append(c)	# kept open, never read nor answered


def serve_count(args):
    s = listener(args.address, args.port)
    while True:
        c, _ = s.accept()
        log_line(args.log, "accept")
        c.close()


def serve_short(args):
    s = listener(args.address, args.port)
    while True:
        c, _ = s.accept()
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
        c.recv(4096)
        c.send(b"HTTP/1.1 2")
        c.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["http", "silent", "count", "short"])
    p.add_argument("address")
    p.add_argument("port", type=int)
    p.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    p.add_argument("--drain")
    p.add_argument("--log")
    args = p.parse_args()
    modes = {"http": serve_http, "silent": serve_silent, "count": serve_count,
             "short": serve_short}
    modes[args.mode](args)


main()
