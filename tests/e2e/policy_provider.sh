#!/bin/sh
# tests/e2e/policy_provider.sh: the provider enforces its usage policies
# (tessera-policy(7)), with two real tesserad on loopback: P provides, C
# consumes through its management API, and some requests go with curl
# straight to P's DSP and data endpoints, as C (tokens minted by
# tests/e2e/mint_token).
#  - a policy with an unknown operand is refused by P's management API;
#  - an offer restricted to another participant is not in C's catalog, its
#    dataset answers 404, and C's contract request for it is refused (403);
#  - a contract request whose policy differs from the offer: 400;
#  - an agreement for 2 data requests: the 3rd gets 403 with the reason,
#    and a new transfer under it is refused;
#  - an agreement valid until T (dateTime lteq T, seconds ahead): a
#    transfer starts before T and P restarts; another (C's own) starts
#    before T; after T P's monitor terminates both (C's transfer shows
#    TERMINATED by the counter-party), a data request gets 403 and a new
#    transfer request is refused naming the dateTime constraint.
. "${top_srcdir:-.}/tests/lib.sh"
t_need "$CURL" "$PYTHON3" openssl

TESSERA="$top_builddir/tessera"
TESSERAD="$top_builddir/tesserad"
MINT="$top_builddir/tests/e2e/mint_token"
[ -x "$MINT" ] || { echo "# skip: $MINT not built (make check builds it)"; exit 77; }
# shellcheck disable=SC2046
set -- $("$PYTHON3" -c '
import socket
ss = [socket.socket() for _ in range(5)]
for s in ss: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))')
PP=$1 PM=$2 CP=$3 CM=$4 DEAD=$5
# jstr NAME: the string member NAME of the flat JSON object on stdin.
jstr() { sed -n 's/.*"'"$1"'":"\([^"]*\)".*/\1/p'; }
jget() { "$PYTHON3" -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
PROV="$T_DIR/p"; CONS="$T_DIR/c"
PDID="did:web:127.0.0.1%3A$PP"
OTHER="did:web:someone-else.example"
BASE="https://127.0.0.1:$PP/dsp/2025-1"
DATA="https://127.0.0.1:$PP/data"
CTX='"@context":["https://w3id.org/dspace/2025/1/context.jsonld"]'
R="$T_DIR/r"
C="$CURL -s --max-time 10 --cacert $T_DIR/ca/ca.crt"
mkdir -p "$R" "$T_DIR/trace-p"

"$TESSERA" ca "$T_DIR/ca" >/dev/null || exit 1
"$TESSERA" init "$PROV" --port "$PP" --mgmt-port "$PM" --ca "$T_DIR/ca" >/dev/null || exit 1
"$TESSERA" init "$CONS" --port "$CP" --mgmt-port "$CM" --ca "$T_DIR/ca" >/dev/null || exit 1
PKEY=$(sed -n 's/^api_key = //p' "$PROV/tessera.conf")
CKEY=$(sed -n 's/^api_key = //p' "$CONS/tessera.conf")

# up NAME DIR PORT [ENV=VALUE...]: start a daemon (its pid in UP), wait until /health answers.
up() {
    n=$1 dir=$2 port=$3
    shift 3
    env "$@" "$TESSERAD" -c "$dir/tessera.conf" -f -d dsp,data,policy >/dev/null \
        2>>"$T_DIR/$n.log" &
    UP=$!
    i=0; until $C -o /dev/null "https://127.0.0.1:$port/health"; do
        i=$((i + 1)); [ $i -lt 100 ] || break; sleep 0.05; done
}
up_p() { up p "$PROV" "$PP" TESSERA_DSP_TRACE_DIR="$T_DIR/trace-p"; P_PID=$UP; }
up_p
up c "$CONS" "$CP"; C_PID=$UP
T_PIDS="$P_PID $C_PID"

# pm METHOD PATH [BODY]: P's management API; cm likewise for C.
pm() { $C -X "$1" -H "X-Api-Key: $PKEY" ${3:+--data-binary "$3"} "http://127.0.0.1:$PM/api/v1$2"; }
cm() { $C -X "$1" -H "X-Api-Key: $CKEY" ${3:+--data-binary "$3"} "http://127.0.0.1:$CM/api/v1$2"; }
# dsp NAME METHOD PATH [BODY]: a request to P's DSP endpoints as C; ST gets the
# status, $R/NAME.json the answer.
dsp() {
    printf '%s' "${4-}" >"$R/$1.req"
    set -- -X "$2" -o "$R/$1.json" -w '%{http_code}' -H "Authorization: $("$MINT" "$CONS" "$PDID")" \
        "$BASE$3" ${4:+-H 'Content-Type: application/json' --data-binary "@$R/$1.req"}
    ST=$($C "$@")
}
# msg TYPE [NAME=STRING | NAME:=JSON]...: a DSP 2025-1 message.
msg() {
    m="{$CTX,\"@type\":\"$1\""
    shift
    for a in "$@"; do
        case $a in
        *:=*) m="$m,\"${a%%:=*}\":${a#*:=}" ;;
        *) m="$m,\"${a%%=*}\":\"${a#*=}\"" ;;
        esac
    done
    echo "$m}"
}
# reason FILE: the DSP error body's reasons, joined.
reason() { jget '" ".join(d.get("reason", []))' <"$1"; }
# wait_until CMD VALUE [SECONDS]: poll until `CMD` prints VALUE.
wait_until() {
    i=0; lim=$(( ${3:-10} * 10 ))
    while [ "$(eval "$1")" != "$2" ]; do
        i=$((i + 1)); [ $i -lt $lim ] || return 1; sleep 0.1; done
}
# negotiate OFFER: C negotiates P's offer to FINALIZED; prints the agreement id.
negotiate() {
    n=$(cm POST /negotiations "{\"provider_url\":\"https://127.0.0.1:$PP\",\"offer_id\":\"$1\"}" |
        jstr id)
    wait_until "cm GET /negotiations/$n | jstr state" FINALIZED 20
    cm GET "/negotiations/$n" | jstr agreement_id
}
# data_token PID: the token in the start message P sent for transfer PID.
data_token() {
    i=0; until grep -q "TransferStartMessage.*$1" "$T_DIR"/trace-p/*.json 2>/dev/null; do
        i=$((i + 1)); [ $i -lt 50 ] || break; sleep 0.1; done
    "$PYTHON3" - "$T_DIR/trace-p" "$1" <<'PY'
import glob, json, os, sys
for f in sorted(glob.glob(os.path.join(sys.argv[1], "*.json"))):
    d = json.load(open(f))
    if d.get("@type") == "TransferStartMessage" and d.get("providerPid") == sys.argv[2]:
        print([p["value"] for p in d["dataAddress"]["endpointProperties"]
               if p["name"] == "authorization"][0])
        break
PY
}
# tp_request NAME AGREEMENT: a transfer request as C with a callback nobody
# answers, so that P's transfer stays STARTED; P's pid in TP.
tp_request() {
    dsp "$1" POST /transfers/request "$(msg TransferRequestMessage consumerPid="urn:uuid:$1" \
        agreementId="$2" format=HttpData-PULL callbackAddress="https://127.0.0.1:$DEAD/cb")"
    TP=$(jstr providerPid <"$R/$1.json")
}
# pull NAME TOKEN PID: a data request; prints the status, the body in $R/NAME.data.
pull() { $C -o "$R/$1.data" -w '%{http_code}' -H "Authorization: Bearer $2" "$DATA/$3"; }

# --- the management API refuses a policy it could not enforce
st=$($C -o "$R/typo.json" -w '%{http_code}' -X POST -H "X-Api-Key: $PKEY" --data-binary \
    '{"id":"typo","policy":{"@type":"Set","permission":[{"action":"use","constraint":[{"leftOperand":"cuont","operator":"lteq","rightOperand":3}]}]}}' \
    "http://127.0.0.1:$PM/api/v1/policies")
t_eq "$st" 400 "a policy with an unknown left operand: 400"
grep -q "cuont" "$R/typo.json"; t_check $? "the reason names the unknown operand"
t_eq "$($C -o /dev/null -w '%{http_code}' -H "X-Api-Key: $PKEY" "http://127.0.0.1:$PM/api/v1/policies/typo")" \
    404 "and it was not stored"
st=$($C -o "$R/badact.json" -w '%{http_code}' -X POST -H "X-Api-Key: $PKEY" --data-binary \
    '{"id":"badact","policy":{"permission":[{"action":"usee"}]}}' "http://127.0.0.1:$PM/api/v1/policies")
t_eq "$st:$(grep -c usee "$R/badact.json")" "400:1" "an unknown action: 400 naming it"

# --- P publishes
printf 'some data\n' >"$T_DIR/asset.txt"
printf 'for someone else\n' >"$T_DIR/secret.txt"
printf 'gone before anyone pulls it\n' >"$T_DIR/vanish.txt"
pm POST /assets "{\"id\":\"a1\",\"file\":\"$T_DIR/asset.txt\"}" >/dev/null
pm POST /assets "{\"id\":\"secret\",\"file\":\"$T_DIR/secret.txt\"}" >/dev/null
pm POST /assets "{\"id\":\"vanish\",\"file\":\"$T_DIR/vanish.txt\"}" >/dev/null
USE='"permission":[{"action":"use"}]'
OTHERP="\"permission\":[{\"action\":\"use\",\"assignee\":\"$OTHER\"}]"
COUNT2='"permission":[{"action":"use","constraint":[{"leftOperand":"count","operator":"lteq","rightOperand":2}]}]'
pm POST /policies "{\"id\":\"use\",\"policy\":{\"@type\":\"Set\",$USE}}" >/dev/null
pm POST /policies "{\"id\":\"other\",\"policy\":{\"@type\":\"Set\",$OTHERP}}" >/dev/null
pm POST /policies "{\"id\":\"count2\",\"policy\":{\"@type\":\"Set\",$COUNT2}}" >/dev/null
pm POST /offers '{"id":"off-use","asset_id":"a1","policy_id":"use"}' >/dev/null
pm POST /offers '{"id":"off-other","asset_id":"secret","policy_id":"other"}' >/dev/null
pm POST /offers '{"id":"off-count","asset_id":"a1","policy_id":"count2"}' >/dev/null
t_eq "$(pm GET /offers/off-other | jstr asset_id)" secret "P offers asset secret to $OTHER only"

# --- visibility
"$TESSERA" -C "$CONS" --json catalog fetch "https://127.0.0.1:$PP" >"$R/catalog.json"
t_check $? "C fetches P's catalog"
offers=$(jget 'sorted(o["@id"] for ds in (d["dataset"] if isinstance(d["dataset"], list) else [d["dataset"]]) for o in (ds["hasPolicy"] if isinstance(ds["hasPolicy"], list) else [ds["hasPolicy"]]))' <"$R/catalog.json")
t_eq "$offers" "['off-count', 'off-use']" "C sees the offers it may use, not off-other"
dsp ds-secret GET /catalog/datasets/secret
t_eq "$ST" 404 "dataset secret (only offered to $OTHER): 404 for C"
dsp ds-a1 GET /catalog/datasets/a1
t_eq "$ST" 200 "dataset a1: 200"

# --- contract requests
req() { msg ContractRequestMessage consumerPid="$1" offer:="{\"@type\":\"Offer\",$2}" \
    callbackAddress="https://127.0.0.1:$DEAD/cb"; }
NNEG=$(pm GET /negotiations | grep -o '"role":"' | wc -l | tr -d ' ')
dsp neg-other POST /negotiations/request \
    "$(req urn:uuid:n1 "\"@id\":\"off-other\",\"target\":\"secret\",$OTHERP")"
t_eq "$ST:$(jstr @type <"$R/neg-other.json")" "403:ContractNegotiationError" \
    "C's contract request for off-other, as published: 403 ContractNegotiationError"
reason "$R/neg-other.json" | grep -q "not granted\|no permission"; t_check $? \
    "with the decision's reason ($(reason "$R/neg-other.json"))"
"$TESSERA" -C "$CONS" negotiate "https://127.0.0.1:$PP" off-other >/dev/null 2>&1
t_eq "$?" 1 "tessera negotiate off-other fails on C"
dsp neg-diff POST /negotiations/request \
    "$(req urn:uuid:n2 "\"@id\":\"off-use\",\"target\":\"a1\",\"permission\":[{\"action\":\"distribute\"}]")"
t_eq "$ST:$(jstr @type <"$R/neg-diff.json")" "400:ContractNegotiationError" \
    "a contract request whose policy differs from the offer: 400"
reason "$R/neg-diff.json" | grep -q "policy"; t_check $? "the reason says the policy differs"
t_eq "$(pm GET /negotiations | grep -o '"role":"' | wc -l | tr -d ' ')" "$NNEG" \
    "no negotiation was created for them"

# --- 2 data requests, then 403
AG2=$(negotiate off-count)
t_eq "$(pm GET "/agreements/$AG2" | jstr id)" "$AG2" "C and P agree on off-count ($AG2)"
pm GET "/agreements/$AG2" | grep -q '"leftOperand":"count"'
t_check $? "P's agreement carries the offer's count constraint"
tp_request t-count "$AG2"
t_eq "$ST" 201 "a transfer under it starts ($TP)"
TOK=$(data_token "$TP")
t_eq "$(pull d1 "$TOK" "$TP")" 200 "data request 1: 200"
cmp -s "$R/d1.data" "$T_DIR/asset.txt"; t_check $? "with the asset's bytes"
t_eq "$(pull d2 "$TOK" "$TP")" 200 "data request 2: 200"
t_eq "$(pull d3 "$TOK" "$TP")" 403 "data request 3: 403"
t_eq "$(jget 'd["code"] + " " + d["decision"]["decision"]' <"$R/d3.data")" "policy deny" \
    "a JSON body with the decision"
jget 'd["error"]' <"$R/d3.data" | grep -q "count lteq 2"; t_check $? \
    "and the reason: $(jget 'd["error"]' <"$R/d3.data")"
t_eq "$(pull d4 "$TOK" "$TP")" 403 "data request 4: still 403"
tp_request t-count2 "$AG2"
t_eq "$ST:$(jstr @type <"$R/t-count2.json")" "403:TransferError" \
    "a new transfer under the used-up agreement: 403 TransferError"
reason "$R/t-count2.json" | grep -q count; t_check $? "naming the count"

# --- valid until T
UNTIL_MS=$("$PYTHON3" -c 'import time; print(int(time.time() * 1000) + 7000)')
UNTIL=$("$PYTHON3" -c "import datetime,sys; print(datetime.datetime.fromtimestamp($UNTIL_MS / 1000, datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%S.%f')[:23] + 'Z')")
# before_t: prints True while it is before T.
before_t() { "$PYTHON3" -c "import time; print(int(time.time() * 1000) < $UNTIL_MS)"; }
pm POST /policies "{\"id\":\"until\",\"policy\":{\"@type\":\"Set\",\"permission\":[{\"action\":\"use\",\"constraint\":[{\"leftOperand\":\"dateTime\",\"operator\":\"lteq\",\"rightOperand\":{\"@value\":\"$UNTIL\",\"@type\":\"xsd:dateTime\"}}]}]}}" >/dev/null
pm POST /offers '{"id":"off-until","asset_id":"vanish","policy_id":"until"}' >/dev/null
AGU=$(negotiate off-until)
t_eq "$(pm GET "/agreements/$AGU" | jstr id)" "$AGU" "C and P agree on off-until, valid until $UNTIL"
# TU: P's transfer for a callback nobody answers (stays STARTED at P).
tp_request t-until "$AGU"; TU=$TP
t_eq "$ST" 201 "a transfer request before T: 201"
TOKU=$(data_token "$TU")
t_eq "$(pm GET "/transfers/$TU" | jstr state)" STARTED "it is STARTED at P"
# The monitor's timers are rebuilt from the store when P restarts.
kill -TERM "$P_PID"; wait "$P_PID"
up_p
T_PIDS="$P_PID $C_PID"
# TC: C's own transfer, started shortly before T.  The file is gone, so C's
# pull fails and retries (for some 7 s) while the transfer stays STARTED.
rm -f "$T_DIR/vanish.txt"
"$PYTHON3" -c "import time; time.sleep(max(0, ($UNTIL_MS - 2500) / 1000 - time.time()))"
TC=$(cm POST /transfers "{\"agreement_id\":\"$AGU\",\"out\":\"$T_DIR/got-until.txt\"}" | jstr id)
wait_until "cm GET /transfers/$TC | jstr state" STARTED 5
t_check $? "C's transfer $TC starts"
t_eq "$(before_t)" True "(before T)"
TCP=$(cm GET "/transfers/$TC" | jstr provider_pid)
t_eq "$(pm GET "/transfers/$TCP" | jstr state)" STARTED "it is STARTED at P ($TCP)"
wait_until "pm GET /transfers/$TU | jstr state" TERMINATED 15
t_check $? "after T, P's monitor (restarted before T) terminates $TU"
pm GET "/transfers/$TU" | jstr error | grep -q dateTime; t_check $? \
    "with the reason: $(pm GET "/transfers/$TU" | jstr error)"
t_eq "$(before_t)" False "(and that was after T)"
wait_until "cm GET /transfers/$TC | jstr state" TERMINATED 10
t_check $? "C's transfer shows TERMINATED"
t_eq "$(cm GET "/transfers/$TC" | jstr error)" "terminated by the counter-party" \
    "terminated by P, not by C's own pull"
t_eq "$(pm GET "/transfers/$TCP" | jstr state)" TERMINATED "P's side of it is TERMINATED"
pm GET "/transfers/$TCP" | jstr error | grep -q dateTime; t_check $? "by the policy monitor"
t_eq "$(pull du "$TOKU" "$TU")" 403 "a data request after T: 403"
grep -q '"error":"[^"]' "$R/du.data"; t_check $? "with a JSON reason"
tp_request t-until2 "$AGU"
t_eq "$ST:$(jstr @type <"$R/t-until2.json")" "403:TransferError" \
    "a new transfer request after T: 403 TransferError"
reason "$R/t-until2.json" | grep -q dateTime; t_check $? "naming the dateTime constraint"

kill -TERM "$P_PID" "$C_PID"; wait "$P_PID"; rp=$?; wait "$C_PID"; rc=$?
t_eq "$rp:$rc" "0:0" "both daemons stop cleanly"
T_PIDS=""
if grep -q 'AddressSanitizer\|runtime error' "$T_DIR"/*.log; then
    t_check 1 "sanitizer reports"; grep -A20 'AddressSanitizer\|runtime error' "$T_DIR"/*.log | head -60
fi
t_done
