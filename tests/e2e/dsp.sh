#!/bin/sh
# tests/e2e/dsp.sh: two connectors on loopback (TLS, did:web, separate state)
# driven by the tessera CLI: the provider publishes an asset, a policy and
# an offer; the consumer fetches the catalog, negotiates to FINALIZED on
# both sides and transfers; the bytes match.  Then the same with each
# daemon killed (SIGKILL) and restarted in the middle of a negotiation and
# of a transfer.  Every DSP message either daemon sent validates against
# the DSP 2025-1 JSON schema of its type.
. "${top_srcdir:-.}/tests/lib.sh"
t_need "$CURL" "$PYTHON3" openssl

TESSERA="$top_builddir/tessera"
TESSERAD="$top_builddir/tesserad"
free_port() { "$PYTHON3" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
jget() { "$PYTHON3" -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
PP=$(free_port); PM=$(free_port); CP=$(free_port); CM=$(free_port)
PROV="$T_DIR/provider"
CONS="$T_DIR/consumer"
PURL="https://127.0.0.1:$PP"
mkdir -p "$T_DIR/trace-p" "$T_DIR/trace-c"

"$TESSERA" ca "$T_DIR/ca" >/dev/null || exit 1
"$TESSERA" init "$PROV" --name Provider --port "$PP" --mgmt-port "$PM" --ca "$T_DIR/ca" >/dev/null || exit 1
"$TESSERA" init "$CONS" --name Consumer --port "$CP" --mgmt-port "$CM" --ca "$T_DIR/ca" >/dev/null || exit 1

P_PID=""; C_PID=""
# launch NAME DIR TRACE PORT: start a daemon in the background ($! is its
# pid; it must be a child of this shell so that wait works) and wait until
# it answers.
launch() {
    TESSERA_DSP_TRACE_DIR="$3" "$TESSERAD" -c "$2/tessera.conf" -f -d dsp,data \
        >/dev/null 2>>"$T_DIR/$1.log" &
    LAST=$!
    i=0; until $CURL -s -o /dev/null --cacert "$T_DIR/ca/ca.crt" "https://127.0.0.1:$4/health"; do
        i=$((i + 1)); [ $i -lt 100 ] || break; sleep 0.05; done
}
start_p() { launch provider "$PROV" "$T_DIR/trace-p" "$PP"; P_PID=$LAST; T_PIDS="$P_PID $C_PID"; }
start_c() { launch consumer "$CONS" "$T_DIR/trace-c" "$CP"; C_PID=$LAST; T_PIDS="$P_PID $C_PID"; }
start_p
start_c
PT="$TESSERA -C $PROV --json"
CT="$TESSERA -C $CONS --json"

# --- the provider publishes
head -c 2500000 /dev/urandom >"$T_DIR/readings.bin"
printf '{"@type":"Set","permission":[{"action":"use"}]}\n' >"$T_DIR/policy.json"
$PT asset add sensor --file "$T_DIR/readings.bin" --title "Sensor readings" \
    --keyword sensors --keyword press-line --media-type application/octet-stream >/dev/null
t_check $? "provider: asset add"
$PT policy add use-only "$T_DIR/policy.json" >/dev/null; t_check $? "provider: policy add"
$PT offer add sensor-offer --asset sensor --policy use-only >/dev/null; t_check $? "provider: offer add"

# --- the consumer finds it, negotiates, transfers
$CT catalog fetch "$PURL" >"$T_DIR/catalog.json"; t_check $? "consumer: catalog fetch"
got=$(jget '[o["@id"] for d in (d["dataset"] if isinstance(d["dataset"], list) else [d["dataset"]]) if d["@id"] == "sensor" for o in d["hasPolicy"]]' <"$T_DIR/catalog.json")
t_eq "$got" "['sensor-offer']" "the catalog lists the offer on dataset sensor"
got=$(jget '[d.get("dcat:keyword") for d in (d["dataset"] if isinstance(d["dataset"], list) else [d["dataset"]]) if d["@id"] == "sensor"]' <"$T_DIR/catalog.json")
t_eq "$got" "[['sensors', 'press-line']]" "the dataset carries the asset's keywords"

$CT negotiate "$PURL" sensor-offer --wait >"$T_DIR/neg.json"; t_check $? "consumer: negotiate --wait"
NEG=$(jget 'd["id"]' <"$T_DIR/neg.json")
AG=$(jget 'd["agreement_id"]' <"$T_DIR/neg.json")
t_eq "$($CT negotiation show "$NEG" | jget 'd["state"]')" "FINALIZED" "consumer: negotiation FINALIZED"
pstate=$($PT negotiation ls | jget '[n["state"] for n in d["items"] if n["consumer_pid"] == "'"$NEG"'"]')
t_eq "$pstate" "['FINALIZED']" "provider: the same negotiation FINALIZED"
t_eq "$($PT agreement show "$AG" | jget 'd["consumer_did"]')" "did:web:127.0.0.1%3A$CP" \
    "provider: the agreement's assignee is the consumer's verified DID"

$CT transfer "$AG" --out "$T_DIR/got1.bin" --wait >"$T_DIR/tp.json"; t_check $? "consumer: transfer --wait"
t_eq "$(jget 'd["state"]' <"$T_DIR/tp.json")" "COMPLETED" "transfer COMPLETED"
cmp -s "$T_DIR/readings.bin" "$T_DIR/got1.bin"; t_check $? "the bytes match"

# wait_state CLI KIND ID STATE: poll until KIND ID reaches STATE (30 s).
wait_state() {
    i=0
    while [ $i -lt 300 ]; do
        s=$($1 $2 show "$3" 2>/dev/null | jget 'd["state"]' 2>/dev/null)
        [ "$s" = "$4" ] && return 0
        case $s in TERMINATED) echo "# $2 $3 TERMINATED: $($1 $2 show "$3" | jget 'd["error"]')"; return 1 ;; esac
        i=$((i + 1)); sleep 0.1
    done
    echo "# $2 $3 stuck in $s"
    return 1
}

# --- kill -9 in the middle of a negotiation, each side in turn
for victim in provider consumer; do
    id=$($CT negotiate "$PURL" sensor-offer | jget 'd["id"]')
    if [ $victim = provider ]; then kill -9 "$P_PID"; wait "$P_PID" 2>/dev/null; start_p
    else kill -9 "$C_PID"; wait "$C_PID" 2>/dev/null; start_c; fi
    wait_state "$CT" negotiation "$id" FINALIZED
    t_check $? "negotiation finishes after the $victim was killed mid-way and restarted"
    pstate=$($PT negotiation ls | jget '[n["state"] for n in d["items"] if n["consumer_pid"] == "'"$id"'"]')
    t_eq "$pstate" "['FINALIZED']" "the provider agrees ($victim killed)"
    ag=$($CT negotiation show "$id" | jget 'd["agreement_id"]')
    $PT agreement show "$ag" >/dev/null; t_check $? "the agreement exists on both sides ($victim killed)"
done

# --- kill -9 in the middle of a transfer, each side in turn
head -c 40000000 /dev/urandom >"$T_DIR/big.bin"
$PT asset add big --file "$T_DIR/big.bin" >/dev/null
$PT offer add big-offer --asset big --policy use-only >/dev/null
ag=$($CT negotiate "$PURL" big-offer --wait | jget 'd["agreement_id"]')
for victim in provider consumer; do
    rm -f "$T_DIR/got-$victim.bin"
    id=$($CT transfer "$ag" --out "$T_DIR/got-$victim.bin" | jget 'd["id"]')
    sleep 0.05
    if [ $victim = provider ]; then kill -9 "$P_PID"; wait "$P_PID" 2>/dev/null; start_p
    else kill -9 "$C_PID"; wait "$C_PID" 2>/dev/null; start_c; fi
    wait_state "$CT" transfer "$id" COMPLETED
    t_check $? "transfer finishes after the $victim was killed mid-way and restarted"
    cmp -s "$T_DIR/big.bin" "$T_DIR/got-$victim.bin"; t_check $? "and the bytes match ($victim killed)"
    [ ! -e "$T_DIR/got-$victim.bin.part" ]; t_check $? "no partial file is left ($victim killed)"
done

# --- every message sent validates against its DSP 2025-1 schema
n=$(ls "$T_DIR/trace-p" "$T_DIR/trace-c" | grep -c json)
if "$PYTHON3" -c 'import jsonschema' 2>/dev/null; then
    "$PYTHON3" "$top_srcdir/tests/dsp_validate.py" "$top_srcdir/tests/data/dsp" \
        "$T_DIR"/trace-p/*.json "$T_DIR"/trace-c/*.json >"$T_DIR/validate.out" 2>&1
    t_check $? "all $n DSP messages sent validate against their schemas"
    grep -v '^ok ' "$T_DIR/validate.out" | head -20
    for ty in CatalogRequestMessage Catalog ContractRequestMessage ContractNegotiation \
        ContractAgreementMessage ContractAgreementVerificationMessage \
        ContractNegotiationEventMessage TransferRequestMessage TransferProcess \
        TransferStartMessage TransferCompletionMessage; do
        grep -q "\"@type\":\"$ty\"" "$T_DIR"/trace-p/*.json "$T_DIR"/trace-c/*.json
        t_check $? "a $ty was sent and validated"
    done
else
    echo "# python3-jsonschema missing: schema checks skipped"
fi

kill -TERM "$P_PID" "$C_PID"; wait "$P_PID"; rp=$?; wait "$C_PID"; rc=$?
t_eq "$rp:$rc" "0:0" "both daemons stop cleanly"
T_PIDS=""
if grep -q 'AddressSanitizer\|runtime error' "$T_DIR"/*.log; then
    t_check 1 "sanitizer reports"; grep -A20 'AddressSanitizer\|runtime error' "$T_DIR"/*.log | head -60
fi
t_done
