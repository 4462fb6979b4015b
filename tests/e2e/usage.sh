#!/bin/sh
# tests/e2e/usage.sh: consumer-side usage control with two real connectors
# on loopback.  Received data lands encrypted in the consumer's vault and
# every local use goes through the connector: an agreement limited to 3
# uses refuses the 4th `vault cat`; one valid until T refuses after T; a
# delete duty removes the data on time, and also when the consumer was
# stopped at that time and starts later; every use, refusal and duty is in
# the signed usage ledger, whose extract the provider fetches and checks;
# editing one byte of the ledger makes `tessera ledger --verify` fail.
. "${top_srcdir:-.}/tests/lib.sh"
t_need "$CURL" "$PYTHON3" openssl

TESSERA="$top_builddir/tessera"
TESSERAD="$top_builddir/tesserad"
free_port() { "$PYTHON3" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
jget() { "$PYTHON3" -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
# iso SECONDS: the UTC time SECONDS from now, RFC 3339.
iso() { "$PYTHON3" -c "import datetime as d; print((d.datetime.now(d.timezone.utc) + d.timedelta(seconds=$1)).strftime('%Y-%m-%dT%H:%M:%SZ'))"; }
# until_past RFC3339: sleep until that time has passed (plus a margin).
until_past() { "$PYTHON3" -c "import datetime as d, time; t = d.datetime.strptime('$1', '%Y-%m-%dT%H:%M:%SZ').replace(tzinfo=d.timezone.utc); time.sleep(max(0, (t - d.datetime.now(d.timezone.utc)).total_seconds() + 1.2))"; }
PP=$(free_port); PM=$(free_port); CP=$(free_port); CM=$(free_port)
PROV="$T_DIR/provider"
CONS="$T_DIR/consumer"
PURL="https://127.0.0.1:$PP"

"$TESSERA" ca "$T_DIR/ca" >/dev/null || exit 1
"$TESSERA" init "$PROV" --name Provider --port "$PP" --mgmt-port "$PM" --ca "$T_DIR/ca" >/dev/null || exit 1
"$TESSERA" init "$CONS" --name Consumer --port "$CP" --mgmt-port "$CM" --ca "$T_DIR/ca" >/dev/null || exit 1

P_PID=""; C_PID=""
launch() {
    "$TESSERAD" -c "$2/tessera.conf" -f -d policy,data >/dev/null 2>>"$T_DIR/$1.log" &
    LAST=$!
    i=0; until $CURL -s -o /dev/null --cacert "$T_DIR/ca/ca.crt" "https://127.0.0.1:$3/health"; do
        i=$((i + 1)); [ $i -lt 100 ] || break; sleep 0.05; done
}
start_p() { launch provider "$PROV" "$PP"; P_PID=$LAST; T_PIDS="$P_PID $C_PID"; }
start_c() { launch consumer "$CONS" "$CP"; C_PID=$LAST; T_PIDS="$P_PID $C_PID"; }
start_p
start_c
PT="$TESSERA -C $PROV --json"
CT="$TESSERA -C $CONS --json"
C="$TESSERA -C $CONS"

head -c 300000 /dev/urandom >"$T_DIR/data.bin"
$PT asset add data --file "$T_DIR/data.bin" >/dev/null; t_check $? "provider: asset add"

# offer NAME POLICY-JSON: publish an offer of the asset under that policy.
offer() {
    printf '%s\n' "$2" >"$T_DIR/$1.json"
    $PT policy add "$1" "$T_DIR/$1.json" >/dev/null && $PT offer add "$1-offer" --asset data --policy "$1" >/dev/null
}
# get NAME: negotiate NAME's offer and transfer it into the vault; prints "AGREEMENT OBJECT".
get() {
    ag=$($CT negotiate "$PURL" "$1-offer" --wait | jget 'd["agreement_id"]') || return 1
    $CT transfer "$ag" --wait >/dev/null || return 1
    obj=$($CT vault ls | jget '[o["id"] for o in d["items"] if o["agreement_id"] == "'"$ag"'"][0]') || return 1
    echo "$ag $obj"
}
# cat OBJ [ARGS]: one use; the bytes into $T_DIR/out.bin, the reason into $T_DIR/cat.err.
cat_obj() { $C vault cat "$@" >"$T_DIR/out.bin" 2>"$T_DIR/cat.err"; }

# --- an agreement limited to 3 uses, with a duty to inform the provider
offer count '{"@type":"Set","permission":[{"action":"use","constraint":[{"leftOperand":"count","operator":"lteq","rightOperand":3}],"duty":[{"action":"inform"}]}]}'
t_check $? "provider: offer limited to 3 uses"
set -- $(get count); AG1=${1:-}; OBJ1=${2:-}
[ -n "$OBJ1" ]; t_check $? "consumer: negotiated and transferred into the vault ($OBJ1)"
t_eq "$($CT vault show "$OBJ1" | jget 'd["size"], d["uses"]')" "300000 0" "the vault object is the whole asset, not used yet"
! grep -q "$(head -c 64 "$T_DIR/data.bin" | od -An -tx1 | tr -d ' \n' | head -c 32)" "$CONS/state/vault/$OBJ1.tv" 2>/dev/null
t_check $? "the vault file is not the plaintext"
for n in 1 2 3; do
    cat_obj "$OBJ1"; t_check $? "vault cat, use $n of 3: permitted"
done
cmp -s "$T_DIR/data.bin" "$T_DIR/out.bin"; t_check $? "vault cat gives back the bytes received"
cat_obj "$OBJ1"; t_eq "$?" 1 "vault cat, use 4 of 3: refused (exit 1)"
grep -q "count" "$T_DIR/cat.err"; t_check $? "with the agreement's reason: $(cat "$T_DIR/cat.err")"
t_eq "$($CT vault show "$OBJ1" | jget 'd["uses"]')" 3 "the refusal is not counted"
t_eq "$($CURL -s -o /dev/null -w '%{http_code}' -H "X-Api-Key: $(sed -n 's/^api_key *= *//p' "$CONS/tessera.conf")" \
    "http://127.0.0.1:$CM/api/v1/vault/$OBJ1/content")" 403 "the management API refuses it with 403"
t_wait_file "$T_DIR/provider.log" "informed by did:web:127.0.0.1%3A$CP" 10
t_check $? "the inform duty reached the provider"

# --- received data is never offered onwards
$CT asset add resell --file "$CONS/state/vault/$OBJ1.tv" >/dev/null 2>&1
t_eq "$?" 1 "consumer: a vault file cannot be added as an asset"
$CT transfer "$AG1" --out "$CONS/state/vault/copy" >/dev/null 2>&1
t_eq "$?" 1 "consumer: a transfer cannot export into the vault"

# --- an agreement valid until T
T=$(iso 8)
offer until "{\"@type\":\"Set\",\"permission\":[{\"action\":\"use\",\"constraint\":[{\"leftOperand\":\"dateTime\",\"operator\":\"lteq\",\"rightOperand\":{\"@value\":\"$T\",\"@type\":\"xsd:dateTime\"}}]}]}"
set -- $(get until); AG2=${1:-}; OBJ2=${2:-}
[ -n "$OBJ2" ]; t_check $? "consumer: an agreement valid until $T, data in the vault"
cat_obj "$OBJ2" --purpose analytics; t_check $? "vault cat before T: permitted"
until_past "$T"
cat_obj "$OBJ2"; t_eq "$?" 1 "vault cat after T: refused (exit 1)"
grep -q "dateTime" "$T_DIR/cat.err"; t_check $? "with the reason: $(cat "$T_DIR/cat.err")"

# --- a duty to delete 6 s after the agreement, run on time
offer del '{"@type":"Set","permission":[{"action":"use","duty":[{"action":"delete","constraint":[{"leftOperand":"elapsedTime","operator":"lteq","rightOperand":{"@value":"PT6S","@type":"xsd:duration"}}]}]}]}'
set -- $(get del); AG3=${1:-}; OBJ3=${2:-}
[ -n "$OBJ3" ]; t_check $? "consumer: an agreement with a delete duty, data in the vault"
cat_obj "$OBJ3"; t_check $? "vault cat before the deadline: permitted"
i=0; while [ -e "$CONS/state/vault/$OBJ3.tv" ] && [ $i -lt 120 ]; do i=$((i + 1)); sleep 0.1; done
[ ! -e "$CONS/state/vault/$OBJ3.tv" ]; t_check $? "the delete duty removed the file on time"
$CT vault show "$OBJ3" >/dev/null 2>&1; t_eq "$?" 1 "and the object is gone from the vault"
cat_obj "$OBJ3"; t_eq "$?" 1 "vault cat after the delete: refused"
$CT ledger --agreement "$AG3" | jget '[e["event"] for e in d["items"]]' >"$T_DIR/ev3"
grep -q "duty:delete" "$T_DIR/ev3"; t_check $? "the delete is in the ledger: $(cat "$T_DIR/ev3")"
$CT transfer "$AG3" --wait >/dev/null; t_check $? "the same agreement's data transferred again, after its deadline"
i=0; while [ "$($CT ledger --agreement "$AG3" | jget '[e["event"] for e in d["items"]].count("duty:delete")')" != 2 ] && [ $i -lt 50 ]; do
    i=$((i + 1)); sleep 0.1; done
t_eq "$($CT vault ls | jget 'len([o for o in d["items"] if o["agreement_id"] == "'"$AG3"'"])')" 0 \
    "is deleted at once (the duty is re-armed)"

# --- a duty to delete at T2 that falls due while the consumer is stopped
T2=$(iso 7)
offer del2 "{\"@type\":\"Set\",\"permission\":[{\"action\":\"use\",\"duty\":[{\"action\":\"delete\",\"constraint\":[{\"leftOperand\":\"dateTime\",\"operator\":\"lteq\",\"rightOperand\":{\"@value\":\"$T2\",\"@type\":\"xsd:dateTime\"}}]}]}]}"
set -- $(get del2); AG4=${1:-}; OBJ4=${2:-}
[ -n "$OBJ4" ]; t_check $? "consumer: an agreement with a delete duty at $T2, data in the vault"
kill "$C_PID"; wait "$C_PID" 2>/dev/null
until_past "$T2"
[ -e "$CONS/state/vault/$OBJ4.tv" ]; t_check $? "the consumer is stopped at T2: the file is still there"
start_c
i=0; while [ -e "$CONS/state/vault/$OBJ4.tv" ] && [ $i -lt 100 ]; do i=$((i + 1)); sleep 0.1; done
[ ! -e "$CONS/state/vault/$OBJ4.tv" ]; t_check $? "it starts later and runs the overdue delete duty"
$CT ledger --agreement "$AG4" | jget '[e["event"] for e in d["items"]]' >"$T_DIR/ev4"
grep -q "duty:delete" "$T_DIR/ev4"; t_check $? "recorded in the ledger: $(cat "$T_DIR/ev4")"
cat_obj "$OBJ1"; t_eq "$?" 1 "the use count survived the restart (still refused)"

# --- the ledger, and the provider's extract
$C ledger --verify >"$T_DIR/verify.out"; t_check $? "ledger --verify: valid ($(cat "$T_DIR/verify.out"))"
$C ledger >"$T_DIR/ledger.txt"; t_check $? "ledger lists the entries"
ev=$($CT ledger --agreement "$AG1" | jget 'sorted(e["event"] for e in d["items"])')
t_eq "$ev" "['duty:inform', 'receive', 'refuse', 'refuse', 'refuse', 'use', 'use', 'use']" \
    "agreement 1: received, 3 uses, 3 refusals (CLI, API, after the restart), 1 inform"
$PT agreement ledger "$AG1" >"$T_DIR/extract.json"; t_check $? "provider: agreement ledger (extract fetched and verified)"
t_eq "$(jget 'd["verified"], len(d["entries"]), [e["event"] for e in d["entries"]].count("use")' <"$T_DIR/extract.json")" \
    "True 8 3" "the provider sees the agreement's 8 entries, 3 of them uses"
$CT agreement ledger "$AG1" >/dev/null 2>&1; t_eq "$?" 1 "the consumer is not the provider: refused"

# --- the management API's answers match doc/openapi.yaml (with python3-yaml and python3-jsonschema)
KC="X-Api-Key: $(sed -n 's/^api_key *= *//p' "$CONS/tessera.conf")"
KP="X-Api-Key: $(sed -n 's/^api_key *= *//p' "$PROV/tessera.conf")"
$CURL -s -H "$KC" "http://127.0.0.1:$CM/api/v1/vault" >"$T_DIR/a-vault.json"
$CURL -s -H "$KC" "http://127.0.0.1:$CM/api/v1/vault/$OBJ1" >"$T_DIR/a-vobj.json"
$CURL -s -H "$KC" "http://127.0.0.1:$CM/api/v1/ledger?agreement=$AG1&limit=5" >"$T_DIR/a-ledger.json"
$CURL -s -H "$KC" "http://127.0.0.1:$CM/api/v1/ledger/verify" >"$T_DIR/a-report.json"
$CURL -s -H "$KP" "http://127.0.0.1:$PM/api/v1/agreements/$AG1/ledger" >"$T_DIR/a-extract.json"
t_eq "$(jget 'len(d["items"]), d["limit"]' <"$T_DIR/a-ledger.json")" "5 5" "GET /ledger pages with limit"
"$PYTHON3" "$top_srcdir/tests/openapi_validate.py" "$top_srcdir/doc/openapi.yaml" "$T_DIR" \
    a-vault=VaultList a-vobj=VaultObject a-ledger=LedgerList a-report=LedgerReport \
    a-extract=LedgerExtract
rc=$?
case $rc in
2) echo "# skip: python3-yaml or python3-jsonschema missing, answers not validated" ;;
*) t_check $rc "vault and ledger answers validate against doc/openapi.yaml" ;;
esac

LOG="$CONS/state/ledger/ledger.log"
cp "$LOG" "$T_DIR/ledger.orig"
size=$(wc -c <"$LOG")
off=$((size / 2))
"$PYTHON3" - "$LOG" "$off" <<'PY'
import sys
p, off = sys.argv[1], int(sys.argv[2])
b = bytearray(open(p, "rb").read())
b[off] = ord("A") if b[off] != ord("A") else ord("B")
open(p, "wb").write(bytes(b))
PY
$C ledger --verify >/dev/null 2>"$T_DIR/verify.err"; t_eq "$?" 1 "one byte edited: ledger --verify fails (exit 1)"
grep -q "first bad entry" "$T_DIR/verify.err"; t_check $? "naming the first bad entry: $(cat "$T_DIR/verify.err")"
kill "$C_PID"; wait "$C_PID" 2>/dev/null; start_c
cat_obj "$OBJ1"; t_eq "$?" 1 "restarted on the edited ledger: every use is refused (fail closed)"
grep -q "usage ledger" "$T_DIR/cat.err"; t_check $? "saying why: $(cat "$T_DIR/cat.err")"
cp "$T_DIR/ledger.orig" "$LOG"
head -n 3 "$T_DIR/ledger.orig" >"$LOG"
$C ledger --verify >/dev/null 2>&1; t_eq "$?" 1 "the end cut off: ledger --verify fails"
cp "$T_DIR/ledger.orig" "$LOG"
$C ledger --verify >/dev/null 2>&1; t_check $? "restored: valid again"
kill "$C_PID"; wait "$C_PID" 2>/dev/null; start_c
cat_obj "$OBJ1"; grep -q "count lteq 3" "$T_DIR/cat.err"
t_check $? "restarted on the restored ledger: uses are decided by the agreement again"

kill "$P_PID" "$C_PID"; wait "$P_PID" "$C_PID" 2>/dev/null
T_PIDS=""
! grep -q "ERROR: AddressSanitizer\|ERROR: LeakSanitizer" "$T_DIR/provider.log" "$T_DIR/consumer.log"
t_check $? "no sanitizer reports"
echo "# $T_N checks, $T_FAIL failed"
[ "$T_FAIL" = 0 ]
