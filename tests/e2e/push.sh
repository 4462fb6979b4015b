#!/bin/sh
# tests/e2e/push.sh: HttpData-PUSH between two real tesserad, and to a
# plain HTTP server, with a relay (tests/e2e/tcpproxy.py --up) in front of
# the consumer that slows the upload down so that things can happen midway:
#  - a push into the consumer's own endpoint lands in its vault with the
#    exact bytes, and both ends complete;
#  - a push to a plain HTTP server (a PUT handler written here) gets the
#    exact bytes, with the Repr-Digest of the source;
#  - a source changed in place after it was offered: the consumer's
#    endpoint sees the digest differ, keeps nothing, and the transfer ends
#    TERMINATED;
#  - while a slowed-down push runs, the management API shows its live
#    bytes and rate at both ends, and the CLI shows them too;
#  - a push suspended midway and resumed goes on from what the consumer
#    holds and ends with the exact bytes, as does one whose provider or
#    consumer was killed (SIGKILL) midway and restarted; one terminated
#    midway leaves nothing in the vault and stops the provider's push.
. "${top_srcdir:-.}/tests/lib.sh"
. "${top_srcdir:-.}/tests/e2e/dataplane.sh"
t_need "$CURL" "$PYTHON3" openssl cmp sha256sum

TESSERA="$top_builddir/tessera"
TESSERAD="$top_builddir/tesserad"
# shellcheck disable=SC2046
set -- $("$PYTHON3" -c '
import socket
ss = [socket.socket() for _ in range(5)]
for s in ss: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))')
PP=$1 PM=$2 CP=$3 CM=$4 XP=$5
PROV="$T_DIR/p"; CONS="$T_DIR/c"
C="$CURL -s --max-time 20 --cacert $T_DIR/ca/ca.crt"

"$TESSERA" ca "$T_DIR/ca" >/dev/null || exit 1
"$TESSERA" init "$PROV" --port "$PP" --mgmt-port "$PM" --ca "$T_DIR/ca" >/dev/null || exit 1
"$TESSERA" init "$CONS" --port "$CP" --mgmt-port "$CM" --ca "$T_DIR/ca" >/dev/null || exit 1

# The relay in front of C's protocol port (C names it as its address, so
# the push goes through it), slowing the upload to the rate in $T_DIR/rate.
echo 0 >"$T_DIR/rate"
TCPPROXY_RATE_FILE="$T_DIR/rate" "$PYTHON3" "$top_srcdir/tests/e2e/tcpproxy.py" "$CP" \
    --listen "$XP" --up >"$T_DIR/relay.port" 2>>"$T_DIR/relay.log" &
X_PID=$!
t_wait_file "$T_DIR/relay.port" PORT || { echo "# the relay did not start"; exit 1; }
rate() { echo "$1" >"$T_DIR/rate"; sleep 0.2; }

# A plain HTTP server taking PUTs: each body goes to $T_DIR/put/<name>, its
# Repr-Digest header to <name>.digest.
mkdir -p "$T_DIR/put"
cat >"$T_DIR/putsrv.py" <<'PY'
import http.server, os, sys
root = sys.argv[1]
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_PUT(self):
        name = os.path.basename(self.path.rstrip("/")) or "index"
        n = int(self.headers.get("Content-Length", "0"))
        with open(os.path.join(root, name + ".part"), "wb") as f:
            while n > 0:
                b = self.rfile.read(min(n, 1 << 20))
                if not b:
                    break
                f.write(b)
                n -= len(b)
        os.rename(os.path.join(root, name + ".part"), os.path.join(root, name))
        with open(os.path.join(root, name + ".digest"), "w") as f:
            f.write(self.headers.get("Repr-Digest", ""))
        self.send_response(201)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *a):
        pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
print("PORT %d" % s.server_address[1], flush=True)
s.serve_forever()
PY
"$PYTHON3" "$T_DIR/putsrv.py" "$T_DIR/put" >"$T_DIR/putsrv.port" 2>>"$T_DIR/putsrv.log" &
H_PID=$!
t_wait_file "$T_DIR/putsrv.port" PORT || { echo "# the PUT server did not start"; exit 1; }
HP=$(sed -n 's/^PORT //p' "$T_DIR/putsrv.port")

up p "$PROV" "$PP"; P_PID=$UP
up c "$CONS" "$CP" TESSERA_SERVER_PUBLIC_URL="https://127.0.0.1:$XP"; C_PID=$UP
T_PIDS="$P_PID $C_PID $X_PID $H_PID"

P="$TESSERA -C $PROV"
CC="$TESSERA -C $CONS"
dp_offers 16777216 # 16 MiB: 4 s at 4 MB/s

# push AGREEMENT URL|self: a push transfer; C's id printed.
push() { $CC --json transfer "$1" --push "$2" | jget 'd["id"]'; }
pshow() { $P --json transfer show "$1" | jget "d.get(\"$2\")"; }

# --- into the consumer's vault, through its own endpoint
out=$($CC transfer "$AG" --push self --wait 2>"$T_DIR/wait1.err")
t_check $? "a push into the consumer's vault completes (--wait)"
T1=$(echo "$out" | sed -n 's/^transfer \(urn:[^ ]*\) completed.*/\1/p')
t_eq "$(show "$T1" transfer_type)" HttpData-PUSH "... as an HttpData-PUSH transfer"
exact "$T1" "$T_DIR/data.bin" "... and the vault holds the exact bytes"
t_eq "$(show "$T1" sha256)" "$(sha256sum "$T_DIR/data.bin" | cut -d' ' -f1)" \
    "... with the source's digest on the transfer"
P1=$(show "$T1" provider_pid)
t_eq "$(pshow "$P1" state)" COMPLETED "... and the provider's transfer is COMPLETED"
grep -q "transfer $P1: pushing to https://127.0.0.1:$XP/push/.* in pieces" "$T_DIR/p.log"
t_check $? "... pushed to the consumer's endpoint in pieces"

# --- to a plain HTTP server
T2=$(push "$AGS" "http://127.0.0.1:$HP/incoming/small.bin")
wait_state "$T2" COMPLETED 30; t_check $? "a push to a plain HTTP server completes"
cmp -s "$T_DIR/put/small.bin" "$T_DIR/small.bin"
t_check $? "... and the server got the exact bytes"
want=$("$PYTHON3" -c '
import base64, hashlib, sys
md = hashlib.sha256(open(sys.argv[1], "rb").read()).digest()
print("sha-256=:%s:" % base64.b64encode(md).decode())' \
    "$T_DIR/small.bin")
t_eq "$(cat "$T_DIR/put/small.bin.digest")" "$want" "... with the source's Repr-Digest"
t_eq "$(vault_obj "$T2")" "" "... and nothing went into the consumer's vault"
st=$($C -o /dev/null -w '%{http_code}' -X PUT --data-binary @"$T_DIR/small.bin" \
    "https://127.0.0.1:$CP/push/$T2")
t_eq "$st" 401 "a PUT to the push endpoint without a token is refused (401)"

# --- what the management API refuses
KEY=$(sed -n 's/^api_key = //p' "$CONS/tessera.conf")
api_tp() {
    $CURL -s -o /dev/null -w '%{http_code}' -H "X-Api-Key: $KEY" \
        -H 'Content-Type: application/json' -d "$1" "http://127.0.0.1:$CM/api/v1/transfers"
}
t_eq "$(api_tp '{"agreement_id": "'"$AGS"'", "push": "ftp://127.0.0.1/x"}')" 400 \
    "a push to a URL that is not http(s) is refused (400)"
t_eq "$(api_tp '{"agreement_id": "'"$AGS"'", "push": "self", "out": "/tmp/x"}')" 400 \
    "push and out together are refused (400)"
$CC transfer "$AGS" --push /tmp/x >/dev/null 2>&1
t_eq $? 2 "tessera transfer --push with a path is a usage error"

# --- a source changed in place after it was offered
"$PYTHON3" -c '
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(12345678); b = f.read(1); f.seek(12345678); f.write(bytes([b[0] ^ 1]))' \
    "$T_DIR/changing.bin"
T3=$(push "$AGX" self)
wait_state "$T3" TERMINATED 30; t_check $? "a push of a source changed in place ends TERMINATED"
pshow "$(show "$T3" provider_pid)" error | grep -q "HTTP 422"
t_check $? "... the consumer refused the data (422)"
grep -q "transfer $T3: the pushed data is not kept" "$T_DIR/c.log"
t_check $? "... since its digest did not match"
t_eq "$(vault_obj "$T3")" "" "... and nothing of it is in the vault"

# --- live progress while a slowed-down push runs; suspended and resumed midway
rate 2000000 # 8 s for all of it: time for the checks below on a loaded machine
T4=$(push "$AG" self)
sleep 1.5
$CC --json transfer show "$T4" >"$T_DIR/t4.json"
t_eq "$(jget 'd["state"]' <"$T_DIR/t4.json")" STARTED "a slowed-down push is running"
t_eq "$(jget '0 < d["bytes"] < 16777216 and d.get("total_bytes") == 16777216' <"$T_DIR/t4.json")" \
    True "... the API shows its live bytes at the consumer"
t_eq "$(jget 'd["rate_bps"] > 500000' <"$T_DIR/t4.json")" True "... and its rate"
P4=$(show "$T4" provider_pid)
t_eq "$($P --json transfer show "$P4" | jget '0 < d["bytes"] <= 16777216 and d["rate_bps"] > 0')" \
    True "... and at the provider"
$CC transfer suspend "$T4" >/dev/null; t_check $? "the consumer suspends it midway"
sleep 0.5
t_eq "$(pshow "$P4" state)" SUSPENDED "... the provider's transfer is SUSPENDED"
grep -q "transfer $P4: SUSPENDED: the push stops" "$T_DIR/p.log"
t_check $? "... and its push stops"
rate 0
$CC transfer resume "$T4" >/dev/null; t_check $? "the consumer resumes it"
wait_state "$T4" COMPLETED 60; t_check $? "... and it completes"
grep -q "transfer $P4: the receiver holds [1-9][0-9]* bytes: going on from there" "$T_DIR/p.log"
t_check $? "... the push went on from what the consumer held"
exact "$T4" "$T_DIR/data.bin" "... with the exact bytes"

# --- the CLI's progress line (on a terminal: script(1) gives it one)
if command -v script >/dev/null 2>&1; then
    rate 4000000
    script -qec "$CC transfer $AG --push self --wait" /dev/null >"$T_DIR/tty.out" 2>&1
    rate 0
    grep -q 'MiB/s, [0-9hms]* left' "$T_DIR/tty.out"
    t_check $? "the CLI's --wait line shows the bytes, rate and time left"
fi

# --- the provider killed midway, then the consumer killed midway
rate 4000000
T6=$(push "$AG" self)
sleep 1.5
kill -KILL "$P_PID"; wait "$P_PID" 2>/dev/null
up p "$PROV" "$PP"; P_PID=$UP
T_PIDS="$P_PID $C_PID $X_PID $H_PID"
rate 0
wait_state "$T6" COMPLETED 60; t_check $? "a push whose provider was killed midway completes"
P6=$(show "$T6" provider_pid)
grep -q "transfer $P6: the receiver holds [1-9][0-9]* bytes: going on from there" "$T_DIR/p.log"
t_check $? "... the restarted provider went on from what the consumer held"
exact "$T6" "$T_DIR/data.bin" "... with the exact bytes"
rate 4000000
T7=$(push "$AG" self)
sleep 1.5
kill -KILL "$C_PID"; wait "$C_PID" 2>/dev/null
rate 0
up c "$CONS" "$CP" TESSERA_SERVER_PUBLIC_URL="https://127.0.0.1:$XP"; C_PID=$UP
T_PIDS="$P_PID $C_PID $X_PID $H_PID"
wait_state "$T7" COMPLETED 60; t_check $? "a push whose consumer was killed midway completes"
grep -q "transfer $T7: [1-9][0-9]* pushed bytes were stored before the restart" "$T_DIR/c.log"
t_check $? "... the consumer took up the vault object it had begun"
exact "$T7" "$T_DIR/data.bin" "... with the exact bytes"

# --- terminated by the consumer midway
rate 4000000
T5=$(push "$AG" self)
sleep 1.5
P5=$(show "$T5" provider_pid)
$CC transfer terminate "$T5" >/dev/null; t_check $? "the consumer terminates a push midway"
rate 0
i=0
until [ "$(pshow "$P5" state)" = TERMINATED ] || [ $i -ge 100 ]; do i=$((i + 1)); sleep 0.1; done
t_eq "$(pshow "$P5" state)" TERMINATED "... the provider's transfer is TERMINATED"
grep -q "transfer $P5: TERMINATED: the push stops" "$T_DIR/p.log"
t_check $? "... and its push stops"
t_eq "$(vault_obj "$T5")" "" "... and nothing of it is in the vault"

t_check $(t_alive "$P_PID" && t_alive "$C_PID"; echo $?) "both daemons still run"
t_done
