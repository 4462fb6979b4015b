#!/bin/sh
# tests/transports/http.sh: one port answers HTTP/2 and HTTP/1.1, over TLS
# and cleartext, with real clients (curl, nghttp, h2load); bad input gets
# the right status or a closed connection, and the server keeps serving.
. "${top_srcdir:-.}/tests/lib.sh"
t_need "$CURL" "$PYTHON3" openssl

H="$top_builddir/tests/transports/http_harness"
RAW="$PYTHON3 $top_srcdir/tests/transports/rawhttp.py"
t_mkcert "$T_DIR" || { echo "# cannot make a certificate"; exit 1; }
"$H" -c "$T_DIR/cert.pem" -k "$T_DIR/key.pem" -l read_ms=1500 -l idle_ms=3000 \
    -l body=1M -l header=8k >"$T_DIR/port" 2>"$T_DIR/log" &
HPID=$!
T_PIDS="$HPID"
t_wait_file "$T_DIR/port" PORT || { cat "$T_DIR/log"; exit 1; }
P=$(awk '{print $2}' "$T_DIR/port")
U="http://127.0.0.1:$P"
S="https://127.0.0.1:$P"
C="$CURL -s --max-time 20 --cacert $T_DIR/cert.pem"

# --- one port, four ways in
t_eq "$($C --http1.1 "$U/info")" "proto=11 tls=0" "cleartext HTTP/1.1"
t_eq "$($C --http2-prior-knowledge "$U/info")" "proto=20 tls=0" "cleartext HTTP/2 (prior knowledge)"
t_eq "$($C --http1.1 "$S/info")" "proto=11 tls=1" "TLS with ALPN http/1.1"
t_eq "$($C --http2 "$S/info")" "proto=20 tls=1" "TLS with ALPN h2"
t_eq "$($C --http2 -o /dev/null -w '%{http_version}' "$S/health")" "2" "curl sees HTTP/2 over TLS"
t_eq "$($C --http1.0 "$U/health")" "ok" "HTTP/1.0"
t_eq "$($C -I --http1.1 -o /dev/null -w '%{http_code}' "$U/health")" "200" "HEAD answers like GET"

# --- routing
t_eq "$($C "$S/items/a%20b")" "a b" "route parameter percent-decoded"
t_eq "$($C -o /dev/null -w '%{http_code}' "$S/nope")" "404" "unknown path is 404"
t_eq "$($C -o /dev/null -w '%{http_code}' -X DELETE "$S/health")" "405" "wrong method is 405"
t_eq "$($C -o /dev/null -w '%header{allow}' -X DELETE "$S/health")" "GET, HEAD" "and names the allowed methods"
t_eq "$($C -o /dev/null -w '%{http_code}' "$S/health/")" "404" "trailing slash is another resource"

# --- bodies in and out
head -c 300000 /dev/urandom >"$T_DIR/body"
want=$(sha256sum <"$T_DIR/body" | cut -d' ' -f1)
for v in --http1.1 --http2; do
    got=$($C $v --data-binary @"$T_DIR/body" "$S/echo" | sha256sum | cut -d' ' -f1)
    t_eq "$got" "$want" "echo of 300 kB over TLS $v"
done
got=$($C --http1.1 -H 'Transfer-Encoding: chunked' --data-binary @"$T_DIR/body" "$U/echo" |
    sha256sum | cut -d' ' -f1)
t_eq "$got" "$want" "chunked request body"
got=$($C --http2-prior-knowledge -H 'Expect: 100-continue' --data-binary @"$T_DIR/body" "$U/echo" |
    sha256sum | cut -d' ' -f1)
t_eq "$got" "$want" "h2c echo"
got=$($C --http1.1 -H 'Expect: 100-continue' --expect100-timeout 10 --data-binary @"$T_DIR/body" \
    "$U/echo" | sha256sum | cut -d' ' -f1)
t_eq "$got" "$want" "HTTP/1.1 Expect: 100-continue"
# The server must send "100 Continue" itself: curl waits 10 s for it here,
# and the whole upload may take 5.
got=$($C --http1.1 --max-time 5 -H 'Expect: 100-continue' --expect100-timeout 10 \
    --data-binary @"$T_DIR/body" -w '%{http_code}' -o /dev/null "$U/echo")
t_eq "$got" "200" "100 Continue is sent before the body"
for v in --http1.1 --http2; do
    n=$($C $v "$S/stream?n=5000000" | wc -c)
    t_eq "$n" "5000000" "streamed 5 MB of unknown length $v (deferred source resumed)"
done
t_eq "$($C "$S/async")" "later" "asynchronous answer from a timer"
# A body produced faster than the socket drains fills the output buffer
# again and again; each time the writer must come back for more by itself
# (this once stalled until the read timeout; here that is 1.5 s a stall,
# so a stalled transfer cannot finish within the 5 s allowed).
for v in --http1.1 --http2; do
    n=$($C $v --max-time 5 "$S/blob?n=64M" | wc -c)
    t_eq "$n" "67108864" "64 MB with a Content-Length, produced at once, $v"
done

# A source that ends short of its Content-Length must not look complete.
$C --http1.1 -o /dev/null "$S/short"; rc=$?
t_check $([ $rc -ne 0 ] && echo 0 || echo 1) "short body over HTTP/1.1 is an error for the client (curl $rc)"
$C --http2 -o /dev/null "$S/short"; rc=$?
t_check $([ $rc -ne 0 ] && echo 0 || echo 1) "short body over HTTP/2 is an error for the client (curl $rc)"

# --- limits
big=$(head -c 12000 /dev/zero | tr '\0' a)
for v in --http1.1 --http2; do
    t_eq "$($C $v -o /dev/null -w '%{http_code}' -H "X-Big: $big" "$S/health")" "431" \
        "oversized header is 431 $v"
done
t_eq "$($C --http2-prior-knowledge -o /dev/null -w '%{http_code}' -H "X-Big: $big" "$U/health")" \
    "431" "oversized header is 431 over h2c"
head -c 2000000 /dev/zero >"$T_DIR/big"
t_eq "$($C --http1.1 -o /dev/null -w '%{http_code}' --data-binary @"$T_DIR/big" "$S/echo")" "413" \
    "oversized body is 413 over HTTP/1.1"
# With a declared length the answer comes before the body, then RST_STREAM
# NO_ERROR (RFC 9113 §8.1); curl 7.88 reports that as a failure, nghttp
# shows the status.
if command -v "$NGHTTP" >/dev/null 2>&1; then
    "$NGHTTP" -v -d "$T_DIR/big" "$S/echo" 2>&1 | grep -q ':status: 413'
    t_check $? "oversized declared body is 413 over HTTP/2, before the body is read"
fi
t_eq "$($C --http1.1 -o /dev/null -w '%{http_code}' -H 'Transfer-Encoding: chunked' \
    --data-binary @"$T_DIR/big" "$U/echo")" "413" "oversized chunked body is 413"

# --- malformed HTTP/1.1, slow and idle clients, HTTP/2 abuse (raw sockets)
$RAW malformed "$P" >"$T_DIR/raw" 2>&1; t_check $? "malformed HTTP/1.1 requests ($(grep -c '^ok' "$T_DIR/raw") probes)"
grep -v '^ok' "$T_DIR/raw"
$RAW pipeline "$P" >"$T_DIR/raw" 2>&1; t_check $? "pipelined and chunked HTTP/1.1"
grep -v '^ok' "$T_DIR/raw"
$RAW slow "$P" 1.5 >"$T_DIR/slow" 2>&1 &
slowpid=$!
$RAW idle "$P" 3 >"$T_DIR/idle" 2>&1 &
idlepid=$!
sleep 0.3
t_eq "$($C --http2 "$S/health")" "ok" "others are served while a slow client holds a connection"
wait $slowpid; t_check $? "a request that never ends gets 408 within the read timeout"
grep -v '^ok' "$T_DIR/slow"
wait $idlepid; t_check $? "a silent connection is closed"
grep -v '^ok' "$T_DIR/idle"
$RAW some-resets "$P" 200 >"$T_DIR/raw" 2>&1; t_check $? "a few RST_STREAMs are fine"
grep -v '^ok' "$T_DIR/raw"
$RAW rapid-reset "$P" 3000 >"$T_DIR/raw" 2>&1; t_check $? "a burst of RST_STREAM closes that connection"
grep -v '^ok' "$T_DIR/raw"
$RAW h2-bad "$P" >"$T_DIR/raw" 2>&1; t_check $? "HTTP/2 protocol errors get GOAWAY"
grep -v '^ok' "$T_DIR/raw"
printf 'GET /health HTTP/1.1\r\nHost: x\r\n\r\n' | openssl s_client -quiet -connect "127.0.0.1:$P" \
    -alpn http/1.1 >/dev/null 2>&1 </dev/null
t_eq "$($C --http2 "$S/health")" "ok" "still serving after the abuse"
t_alive "$HPID"; t_check $? "the server process is alive"

# --- real HTTP/2 clients
if command -v "$NGHTTP" >/dev/null 2>&1; then
    t_eq "$("$NGHTTP" "$S/health" 2>/dev/null)" "ok" "nghttp over TLS"
    t_eq "$("$NGHTTP" "$U/health" 2>/dev/null)" "ok" "nghttp cleartext (prior knowledge)"
    n=$("$NGHTTP" -m 20 "$S/stream?n=100000" 2>/dev/null | wc -c)
    t_eq "$n" "2000000" "nghttp: 20 concurrent streams on one connection"
else
    echo "# nghttp not found: skipped its checks"
fi
if command -v "$H2LOAD" >/dev/null 2>&1; then
    out=$("$H2LOAD" -n 5000 -c 8 -m 16 "$S/health" 2>&1)
    echo "$out" | grep -q '5000 succeeded, 0 failed'; t_check $? "h2load: 5000 requests over TLS, none failed"
    out=$("$H2LOAD" -n 2000 -c 4 -m 8 "$U/health" 2>&1)
    echo "$out" | grep -q '2000 succeeded, 0 failed'; t_check $? "h2load: 2000 requests over h2c, none failed"
    out=$("$H2LOAD" -n 2000 -c 4 --h1 "$U/health" 2>&1)
    echo "$out" | grep -q '2000 succeeded, 0 failed'; t_check $? "h2load --h1: 2000 keep-alive HTTP/1.1 requests"
else
    echo "# h2load not found: skipped its checks"
fi

# --- graceful stop: a transfer in flight completes after SIGTERM
$C --http2 -o "$T_DIR/drain" --limit-rate 10M "$S/stream?n=8000000" &
cpid=$!
sleep 0.3
kill -TERM "$HPID"
wait $cpid; rc=$?
t_eq "$rc:$(wc -c <"$T_DIR/drain")" "0:8000000" "SIGTERM drains: the stream in flight completes"
i=0; while t_alive "$HPID" && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
t_alive "$HPID"; t_check $([ $? -ne 0 ] && echo 0 || echo 1) "the server exits after draining"
wait "$HPID"; t_eq "$?" "0" "and exits with status 0"
T_PIDS=""
if grep -q 'ERROR: AddressSanitizer\|runtime error' "$T_DIR/log"; then
    t_check 1 "sanitizer report in the server log"; cat "$T_DIR/log"
fi
t_done
