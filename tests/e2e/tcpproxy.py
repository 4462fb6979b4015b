#!/usr/bin/env python3
"""tests/e2e/tcpproxy.py: a TCP relay that misbehaves on request, to put a
slow or broken link between two tesserad (TLS passes through untouched).

    tcpproxy.py TARGET_PORT [--listen PORT] [--rate BYTES_PER_S] [--cut-after BYTES] [--up]

Listens on 127.0.0.1 (an ephemeral port unless --listen names one, so that
a relay killed to drop its links can come back on the same port) and
prints "PORT <n>" once ready.
--rate throttles what flows from the target back to the client (the
download direction); --cut-after closes both sides of the first connection
that has carried that many bytes back, as a dropped link does.  Writing a
number to the file named by $TCPPROXY_RATE_FILE (checked every 0.1 s)
changes the rate while running.  --up throttles the other direction
instead (client to target: an upload, e.g. a push).  Logs one line per
connection and cut to stderr.
"""
import argparse
import os
import socket
import sys
import threading
import time

RCVBUF = 262144
cut_done = threading.Event()
rate = [0.0]


def pump(src, dst, limit_rate, cut_after, name):
    sent = 0
    # A token bucket: the rate holds from any moment on, also on a
    # connection that was fast before (HTTP/2 reuses connections).
    bucket = 0.0
    last = time.monotonic()
    try:
        while True:
            data = src.recv(16384 if limit_rate and rate[0] > 0 else 65536)
            if not data:
                break
            while limit_rate and rate[0] > 0:
                now = time.monotonic()
                bucket = min(bucket + (now - last) * rate[0], 65536.0)
                last = now
                if bucket >= len(data):
                    bucket -= len(data)
                    break
                time.sleep((len(data) - bucket) / rate[0])
            if cut_after and not cut_done.is_set() and sent + len(data) >= cut_after:
                cut_done.set()
                print("cut %s after %d bytes" % (name, sent), file=sys.stderr, flush=True)
                break
            dst.sendall(data)
            sent += len(data)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        s.close()


def serve(client, target, cut_after, n, up):
    try:
        upstream = socket.socket()
        # A fixed, small receive buffer: the kernel's autotuning would
        # otherwise let tens of MB pile up in the relay, and a sender
        # would see its data "sent" long before the slowed link carried it.
        upstream.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
        upstream.connect(("127.0.0.1", target))
    except OSError:
        client.close()
        return
    name = "connection %d" % n
    print("%s open" % name, file=sys.stderr, flush=True)
    threading.Thread(target=pump, args=(client, upstream, up, 0, name), daemon=True).start()
    threading.Thread(target=pump, args=(upstream, client, not up, cut_after, name),
                     daemon=True).start()


def watch_rate(path):
    while True:
        try:
            with open(path) as f:
                rate[0] = float(f.read().strip() or 0)
        except (OSError, ValueError):
            pass
        time.sleep(0.1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("target", type=int)
    ap.add_argument("--rate", type=float, default=0)
    ap.add_argument("--cut-after", type=int, default=0)
    ap.add_argument("--listen", type=int, default=0)
    ap.add_argument("--up", action="store_true")
    a = ap.parse_args()
    rate[0] = a.rate
    if os.environ.get("TCPPROXY_RATE_FILE"):
        threading.Thread(target=watch_rate, args=(os.environ["TCPPROXY_RATE_FILE"],),
                         daemon=True).start()
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)  # inherited by the accepted
    ls.bind(("127.0.0.1", a.listen))
    ls.listen(64)
    print("PORT %d" % ls.getsockname()[1], flush=True)
    n = 0
    while True:
        c, _ = ls.accept()
        n += 1
        serve(c, a.target, a.cut_after, n, a.up)


if __name__ == "__main__":
    main()
