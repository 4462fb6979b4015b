#!/bin/sh
# tests/e2e/transfer.sh: the data plane between two real tesserad, with a
# relay (tests/e2e/tcpproxy.py) on the data path that slows the link down
# so that things can happen midway:
#  - the link dropped midway (the relay killed and restarted): the
#    consumer resumes with a Range request from where the data stopped
#    and the vault ends up with the exact bytes;
#  - the provider killed (SIGKILL) midway and restarted: the same;
#  - the consumer killed (SIGKILL) midway and restarted: it takes up the
#    vault object it had begun, asks only for the rest, and the vault holds
#    the exact bytes;
#  - a source changed in place after it was offered: the consumer sees the
#    digest differ from the provider's Repr-Digest, keeps nothing and ends
#    the transfer with the reason;
#  - while a slowed-down pull runs, the management API shows its live
#    bytes and rate;
#  - the provider terminates a transfer mid-stream: the stream is stopped
#    at once, no object reaches the vault, and the transfer's token no
#    longer opens the data;
#  - 100 transfers started at once all complete with the source's digest.
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
mkdir -p "$T_DIR/trace-p"

"$TESSERA" ca "$T_DIR/ca" >/dev/null || exit 1
"$TESSERA" init "$PROV" --port "$PP" --mgmt-port "$PM" --ca "$T_DIR/ca" >/dev/null || exit 1
"$TESSERA" init "$CONS" --port "$CP" --mgmt-port "$CM" --ca "$T_DIR/ca" >/dev/null || exit 1

# The relay in front of P's data endpoint (P hands out its address), at the
# rate in $T_DIR/rate (bytes per second, 0: unlimited).
echo 0 >"$T_DIR/rate"
relay_up() {
    TCPPROXY_RATE_FILE="$T_DIR/rate" "$PYTHON3" "$top_srcdir/tests/e2e/tcpproxy.py" "$PP" \
        --listen "$XP" >"$T_DIR/relay.port" 2>>"$T_DIR/relay.log" &
    X_PID=$!
    t_wait_file "$T_DIR/relay.port" PORT || { echo "# the relay did not start"; exit 1; }
    rm -f "$T_DIR/relay.port"
}
rate() { echo "$1" >"$T_DIR/rate"; sleep 0.2; }

up_p() {
    up p "$PROV" "$PP" TESSERA_SERVER_PUBLIC_URL="https://127.0.0.1:$XP" \
        TESSERA_DSP_TRACE_DIR="$T_DIR/trace-p"
    P_PID=$UP
}
up_c() { up c "$CONS" "$CP"; C_PID=$UP; }
pids() { T_PIDS="$P_PID $C_PID $X_PID"; }
relay_up
up_p
up_c
pids

P="$TESSERA -C $PROV"
CC="$TESSERA -C $CONS"
dp_offers 25165824 # 24 MiB: 3 s at 8 MB/s

# start AGREEMENT: a transfer; C's id printed.
start() { $CC --json transfer "$1" | jget 'd["id"]'; }
resumes() { grep -c "resuming at byte" "$T_DIR/c.log"; }

# --- the link dropped midway
rate 8000000
T1=$(start "$AG")
sleep 1.2
kill "$X_PID"; wait "$X_PID" 2>/dev/null
relay_up; pids
rate 0
wait_state "$T1" COMPLETED 60; t_check $? "a transfer whose link dropped midway completes"
t_eq "$(resumes)" 1 "... resumed from where it stopped (Range)"
exact "$T1" "$T_DIR/data.bin" "... and the vault holds the exact bytes"

# --- the provider killed midway
rate 8000000
T2=$(start "$AG")
sleep 1.2
kill -KILL "$P_PID"; wait "$P_PID" 2>/dev/null
up_p; pids
rate 0
wait_state "$T2" COMPLETED 60; t_check $? "a transfer whose provider was killed midway completes"
t_eq "$(resumes)" 2 "... resumed from where it stopped"
exact "$T2" "$T_DIR/data.bin" "... with the exact bytes"

# --- the consumer killed midway
rate 8000000
T3=$(start "$AG")
sleep 1.2
kill -KILL "$C_PID"; wait "$C_PID" 2>/dev/null
rate 0
up_c; pids
wait_state "$T3" COMPLETED 60; t_check $? "a transfer whose consumer was killed midway completes"
grep -q "transfer $T3: [1-9][0-9]* bytes were stored before the restart" "$T_DIR/c.log"
t_check $? "... it took up the vault object begun before the restart"
t_eq "$(resumes)" 3 "... and asked only for the rest (Range)"
exact "$T3" "$T_DIR/data.bin" "... with the exact bytes"
t_eq "$($CC --json vault ls | jget 'len([o for o in d["items"] if o["transfer_id"] == "'"$T3"'"])')" \
    1 "... in one vault object"

# --- the source changed in place after it was offered
"$PYTHON3" -c '
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(12345678); b = f.read(1); f.seek(12345678); f.write(bytes([b[0] ^ 1]))' \
    "$T_DIR/changing.bin"
T4=$(start "$AGX")
wait_state "$T4" TERMINATED 40; t_check $? "a transfer of a source changed in place ends TERMINATED"
show "$T4" error | grep -q "SHA-256"; t_check $? "... naming the digest that did not match"
t_eq "$(vault_obj "$T4")" "" "... and nothing of it is in the vault"

# --- terminated by the provider mid-stream
rate 4000000
T5=$(start "$AG")
sleep 1
$CC --json transfer show "$T5" >"$T_DIR/t5-live.json"
t_eq "$(jget '0 < d["bytes"] < 25165824 and d.get("total_bytes") == 25165824 and d["rate_bps"] > 0' \
    <"$T_DIR/t5-live.json")" True "a slowed-down pull shows its live bytes and rate in the API"
P5=$(show "$T5" provider_pid)
t_eq "$($P --json transfer show "$P5" | jget '0 < d["bytes"] <= 25165824 and d["rate_bps"] > 0')" \
    True "... also at the provider"
TOK=$("$PYTHON3" - "$T_DIR/trace-p" "$P5" <<'PY'
import glob, json, os, sys
for f in sorted(glob.glob(os.path.join(sys.argv[1], "*.json"))):
    d = json.load(open(f))
    if d.get("@type") == "TransferStartMessage" and d.get("providerPid") == sys.argv[2]:
        print([p["value"] for p in d["dataAddress"]["endpointProperties"]
               if p["name"] == "authorization"][0])
PY
)
$P transfer terminate "$P5" >/dev/null
t_check $? "P terminates the transfer mid-stream"
sleep 0.3
grep -q "transfer $P5: stopping a response in progress" "$T_DIR/p.log"
t_check $? "... and stops the response in progress at once"
rate 0
wait_state "$T5" TERMINATED 10; t_check $? "... the consumer's transfer is TERMINATED"
t_eq "$(vault_obj "$T5")" "" "... and nothing of it is in the vault"
st=$($C -o "$T_DIR/t5.json" -w '%{http_code}' -H "Authorization: Bearer $TOK" \
    "https://127.0.0.1:$PP/data/$P5")
t_eq "$st" 403 "... and its token no longer opens the data"

# --- 100 transfers at once
WANT=$(sha256sum "$T_DIR/small.bin" | cut -d' ' -f1)
: >"$T_DIR/many"
i=0
M=""
while [ $i -lt 100 ]; do
    i=$((i + 1))
    # A subshell of its own: dash would run the EXIT trap (the cleanup) in it.
    (trap - EXIT; $CC --json transfer "$AGS" 2>>"$T_DIR/many.err" | jget 'd["id"]' \
        >>"$T_DIR/many") &
    M="$M $!"
done
for p in $M; do wait "$p"; done
i=0
until [ "$(grep -c urn: "$T_DIR/many")" -ge 100 ] || [ $i -ge 100 ]; do i=$((i + 1)); sleep 0.1; done
t_eq "$(grep -c urn: "$T_DIR/many")" 100 "100 transfers started at once"
i=0
while :; do
    $CC --json transfer ls --limit 1000 >"$T_DIR/ls.json" 2>/dev/null ||
        $CC --json transfer ls >"$T_DIR/ls.json"
    n=$(jget 'len([t for t in d["items"] if t["agreement_id"] == "'"$AGS"'" and t["state"] == "COMPLETED"])' \
        <"$T_DIR/ls.json")
    [ "$n" -ge 100 ] || [ $i -ge 300 ] && break
    i=$((i + 1)); sleep 0.1
done
t_eq "$n" 100 "... all 100 complete"
t_eq "$(jget 'len(set(t["sha256"] for t in d["items"] if t["agreement_id"] == "'"$AGS"'"))' \
    <"$T_DIR/ls.json"):$(jget 'list(set(t["sha256"] for t in d["items"] if t["agreement_id"] == "'"$AGS"'"))[0]' \
    <"$T_DIR/ls.json")" "1:$WANT" "... each with the source's digest"

t_check $(t_alive "$P_PID" && t_alive "$C_PID"; echo $?) "both daemons still run"
t_done
