#!/usr/bin/env python3
"""Raw-socket probes for tessera's HTTP server: what curl will not send.

    rawhttp.py malformed PORT      malformed HTTP/1.1, one connection each
    rawhttp.py pipeline PORT       two pipelined requests, then a chunked one
    rawhttp.py slow PORT SECONDS   a request head that never ends -> 408
    rawhttp.py idle PORT SECONDS   a connection that sends nothing is closed
    rawhttp.py rapid-reset PORT N  N HEADERS+RST_STREAM pairs on one h2 connection
    rawhttp.py some-resets PORT N  as rapid-reset, but few enough to be tolerated
    rawhttp.py h2-bad PORT         HTTP/2 protocol errors -> GOAWAY, then close

Each probe prints one line per check ("ok - ..." / "FAIL - ...") and exits
non-zero when any check failed.
"""
import socket
import struct
import sys
import time

failures = 0


def check(cond, what):
    global failures
    print(("ok - " if cond else "FAIL - ") + what)
    if not cond:
        failures += 1


def connect(port, timeout=5.0):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    return s


def read_all(s, limit=1 << 20):
    data = b""
    try:
        while len(data) < limit:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except socket.timeout:
        pass
    except ConnectionResetError:
        pass
    return data


def status_of(resp):
    if not resp.startswith(b"HTTP/1.1 "):
        return None
    try:
        return int(resp[9:12])
    except ValueError:
        return None


def one_shot(port, raw, timeout=5.0):
    s = connect(port, timeout)
    s.sendall(raw)
    resp = read_all(s)
    s.close()
    return resp


def malformed(port):
    cases = [
        (b"GARBAGE\r\n\r\n", 400, "request line without target and version"),
        (b"GET / HTTP/1.1\r\n\r\n", 400, "HTTP/1.1 without Host"),
        (b"GET /health HTTP/3.0\r\nHost: x\r\n\r\n", 505, "unsupported HTTP version"),
        (b"GET /health HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400, "obs-fold"),
        (b"GET /health HTTP/1.1\r\nHost: x\r\nBad Header: v\r\n\r\n", 400, "space in field name"),
        (b"GET /health HTTP/1.1\r\nHost: x\r\nX: a\x01b\r\n\r\n", 400, "control char in value"),
        (b"GET /he alth HTTP/1.1\r\nHost: x\r\n\r\n", 400, "space in target"),
        (b"GET http://x/health HTTP/1.1\r\nHost: x\r\n\r\n", 400, "absolute-form target"),
        (b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
         b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, "Content-Length with chunked"),
        (b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400,
         "negative Content-Length"),
        (b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
         400, "conflicting Content-Length"),
        (b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501,
         "unknown transfer coding"),
        (b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n", 400,
         "bad chunk size"),
        (b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
         b"ffffffffffffffffff\r\n", 400, "chunk size overflow"),
        (b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n",
         400, "missing CRLF after chunk data"),
        (b"GET /items/%zz HTTP/1.1\r\nHost: x\r\n\r\n", 400, "bad percent escape in a parameter"),
        (b"GET /items/a%00b HTTP/1.1\r\nHost: x\r\n\r\n", 400, "NUL escape in a parameter"),
        (b"GET /items/a%2fb HTTP/1.1\r\nHost: x\r\n\r\n", 400, "escaped slash in a parameter"),
        (b"POST /echo HTTP/1.1\r\nHost: x\r\nExpect: magic\r\nContent-Length: 1\r\n\r\n",
         417, "unknown expectation"),
    ]
    for raw, want, what in cases:
        resp = one_shot(port, raw)
        got = status_of(resp)
        check(got == want, "%s -> %s (got %s)" % (what, want, got))
        if got is not None and got >= 400:
            check(b"connection: close" in resp.lower(), "%s closes the connection" % what)


def pipeline(port):
    s = connect(port)
    s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /items/two HTTP/1.1\r\nHost: x\r\n\r\n"
              b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
              b"4;ext=1\r\nabcd\r\n3\r\nefg\r\n0\r\nTrailer: x\r\n\r\n"
              b"GET /health HTTP/1.0\r\n\r\n")
    data = read_all(s)
    s.close()
    parts = data.split(b"HTTP/1.1 ")
    check(len(parts) == 5, "four pipelined answers (got %d)" % (len(parts) - 1))
    check(data.count(b"HTTP/1.1 200") == 4, "all four are 200")
    check(b"\r\n\r\ntwo" in data, "the second answer names its parameter")
    check(b"\r\n\r\nabcdefg" in data, "the chunked body arrived whole")
    check(data.endswith(b"ok\n"), "HTTP/1.0 answer ends the connection")


def slow(port, seconds):
    s = connect(port, timeout=seconds + 5)
    s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
    t0 = time.time()
    # Drip a byte at a time: the read timeout must still fire.
    resp = b""
    s.settimeout(0.2)
    while time.time() - t0 < seconds + 4:
        try:
            s.sendall(b"X")
        except OSError:
            break
        try:
            chunk = s.recv(4096)
            if not chunk:
                break
            resp += chunk
        except socket.timeout:
            pass
        except ConnectionResetError:
            break
    elapsed = time.time() - t0
    check(status_of(resp) == 408, "unfinished request gets 408 (got %r)" % resp[:40])
    check(elapsed < seconds + 3, "within the read timeout (%.1fs)" % elapsed)


def idle(port, seconds):
    s = connect(port, timeout=seconds + 5)
    t0 = time.time()
    data = read_all(s)
    elapsed = time.time() - t0
    check(data == b"", "idle connection closed without a response")
    check(elapsed < seconds + 3, "closed in time (%.1fs)" % elapsed)


def frame(ftype, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + \
        struct.pack(">I", stream) + payload


PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
# :method GET, :scheme http, :path /health as a literal, :authority localhost
REQ_HPACK = b"\x82\x86\x04\x07/health\x01\x09localhost"


def read_frames(s, seconds):
    """Return the list of (type, flags, stream, payload) until EOF/timeout."""
    s.settimeout(0.5)
    buf = b""
    frames = []
    end = time.time() + seconds
    eof = False
    while time.time() < end:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            if any(f[0] == 7 for f in frames):
                break
            continue
        except ConnectionResetError:
            eof = True
            break
        if not chunk:
            eof = True
            break
        buf += chunk
        while len(buf) >= 9:
            ln = struct.unpack(">I", b"\0" + buf[:3])[0]
            if len(buf) < 9 + ln:
                break
            frames.append((buf[3], buf[4], struct.unpack(">I", buf[5:9])[0] & 0x7fffffff,
                           buf[9:9 + ln]))
            buf = buf[9 + ln:]
    return frames, eof


def rapid_reset(port, n, expect_goaway=True):
    s = connect(port, timeout=10)
    s.sendall(PREFACE + frame(4, 0, 0))
    out = b""
    sid = 1
    sent = 0
    try:
        for _ in range(n):
            out += frame(1, 0x05, sid, REQ_HPACK) + frame(3, 0, sid, struct.pack(">I", 8))
            sid += 2
            if len(out) > 32768:
                s.sendall(out)
                sent += len(out)
                out = b""
        if out:
            s.sendall(out)
    except (BrokenPipeError, ConnectionResetError):
        pass
    frames, eof = read_frames(s, 5 if expect_goaway else 1)
    goaway = [f for f in frames if f[0] == 7]
    code = struct.unpack(">I", goaway[0][3][4:8])[0] if goaway else None
    print("# %d resets sent, %d frames back, goaway=%s eof=%s" % (n, len(frames), code, eof))
    if expect_goaway:
        # nghttp2's rapid-reset limiter ends the session with INTERNAL_ERROR;
        # ENHANCE_YOUR_CALM would be as right.
        check(code in (2, 11), "a reset flood is answered with GOAWAY (got %s)" % code)
    else:
        check(code is None and not eof, "a few resets leave the connection open")
    s.close()


def h2_bad(port):
    cases = [
        (frame(1, 0x05, 2, REQ_HPACK), "HEADERS on an even (server) stream id"),
        (frame(0, 0x01, 1, b"data"), "DATA on an idle stream"),
        (frame(4, 0, 0, b"\x00\x02\x00\x00\x00\x05"), "SETTINGS_ENABLE_PUSH=5"),
        (frame(1, 0x05, 1, b"\xff\xff\xff\xff\xff"), "HPACK garbage"),
    ]
    for raw, what in cases:
        s = connect(port, timeout=5)
        s.sendall(PREFACE + frame(4, 0, 0) + raw)
        frames, eof = read_frames(s, 3)
        goaway = [f for f in frames if f[0] == 7]
        check(bool(goaway), "%s -> GOAWAY" % what)
        s.close()


def main():
    cmd, port = sys.argv[1], int(sys.argv[2])
    if cmd == "malformed":
        malformed(port)
    elif cmd == "pipeline":
        pipeline(port)
    elif cmd == "slow":
        slow(port, float(sys.argv[3]))
    elif cmd == "idle":
        idle(port, float(sys.argv[3]))
    elif cmd == "rapid-reset":
        rapid_reset(port, int(sys.argv[3]))
    elif cmd == "some-resets":
        rapid_reset(port, int(sys.argv[3]), expect_goaway=False)
    elif cmd == "h2-bad":
        h2_bad(port)
    else:
        sys.exit("unknown probe " + cmd)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
