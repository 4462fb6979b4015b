#!/bin/sh
# tests/e2e/dsp_errors.sh: tesserad's DSP 2025-1 endpoints refuse bad input
# as the HTTPS bindings say.  A provider P, a consumer C that negotiates
# and transfers for real, and a second consumer C2; then requests sent
# with curl straight to P's DSP endpoints: malformed and mistyped bodies,
# missing fields, unknown offers and pids, someone else's pid, illegal
# transitions, a repeated request, every kind of bad token (minted by
# tests/e2e/mint_token), a denied DID, and the pull data endpoint.  Each
# refusal is checked three ways: the HTTP status, the error body (its
# @type, the pids when tesserad knows them, "code" and "reason"), and that
# the negotiation or transfer it aimed at did not change.
. "${top_srcdir:-.}/tests/lib.sh"
t_need "$CURL" "$PYTHON3" openssl

TESSERA="$top_builddir/tessera"
TESSERAD="$top_builddir/tesserad"
MINT="$top_builddir/tests/e2e/mint_token"
[ -x "$MINT" ] || { echo "# skip: $MINT not built (make check builds it)"; exit 77; }
# Python starts slowly on a loaded machine: one run finds all the ports, one checks all
# the error bodies at the end, and flat JSON members are read with sed (jstr).
# shellcheck disable=SC2046
set -- $("$PYTHON3" -c '
import socket
ss = [socket.socket() for _ in range(7)]
for s in ss: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))')
PP=$1 PM=$2 CP=$3 CM=$4 XP=$5 XM=$6 DEAD=$7
# jstr NAME: the string member NAME of the flat JSON object on stdin (the last one).
jstr() { sed -n 's/.*"'"$1"'":"\([^"]*\)".*/\1/p'; }
PROV="$T_DIR/p"; CONS="$T_DIR/c"; CONS2="$T_DIR/c2"
PDID="did:web:127.0.0.1%3A$PP"; CDID="did:web:127.0.0.1%3A$CP"; C2DID="did:web:127.0.0.1%3A$XP"
BASE="https://127.0.0.1:$PP/dsp/2025-1"
CTX='"@context":["https://w3id.org/dspace/2025/1/context.jsonld"]'
R="$T_DIR/r"
C="$CURL -s --max-time 10 --cacert $T_DIR/ca/ca.crt"
mkdir -p "$R" "$T_DIR/trace-p" "$T_DIR/trace-c"

"$TESSERA" ca "$T_DIR/ca" >/dev/null || exit 1
"$TESSERA" init "$PROV" --port "$PP" --mgmt-port "$PM" --ca "$T_DIR/ca" >/dev/null || exit 1
"$TESSERA" init "$CONS" --port "$CP" --mgmt-port "$CM" --ca "$T_DIR/ca" >/dev/null || exit 1
"$TESSERA" init "$CONS2" --port "$XP" --mgmt-port "$XM" --ca "$T_DIR/ca" >/dev/null || exit 1
PKEY=$(sed -n 's/^api_key = //p' "$PROV/tessera.conf")
CKEY=$(sed -n 's/^api_key = //p' "$CONS/tessera.conf")

# up NAME DIR PORT [ENV=VALUE...]: start a daemon (its pid in UP), wait until /health answers.
up() {
    n=$1 dir=$2 port=$3
    shift 3
    env "$@" "$TESSERAD" -c "$dir/tessera.conf" -f -d dsp,data >/dev/null 2>>"$T_DIR/$n.log" &
    UP=$!
    i=0; until $C -o /dev/null "https://127.0.0.1:$port/health"; do
        i=$((i + 1)); [ $i -lt 100 ] || break; sleep 0.05; done
}
up p "$PROV" "$PP" TESSERA_DSP_TRACE_DIR="$T_DIR/trace-p"; P_PID=$UP
up c "$CONS" "$CP" TESSERA_DSP_TRACE_DIR="$T_DIR/trace-c"; C_PID=$UP
up c2 "$CONS2" "$XP"; X_PID=$UP
T_PIDS="$P_PID $C_PID $X_PID"

# pm METHOD PATH [BODY]: P's management API; cm likewise for C.
pm() { $C -X "$1" -H "X-Api-Key: $PKEY" ${3:+--data-binary "$3"} "http://127.0.0.1:$PM/api/v1$2"; }
cm() { $C -X "$1" -H "X-Api-Key: $CKEY" ${3:+--data-binary "$3"} "http://127.0.0.1:$CM/api/v1$2"; }
pneg_state() { pm GET "/negotiations/$1" | jstr state; }
ptp_state() { pm GET "/transfers/$1" | jstr state; }
# pcount negotiations|transfers: how many P has (each item has one "role").
pcount() { pm GET "/$1" | grep -o '"role":"' | wc -l | tr -d ' '; }
# mint DIR AUD [options]: a caller token ("Bearer ...") signed with DIR's participant key.
mint() { "$MINT" "$@"; }

# dsp NAME METHOD URL_PATH [BODY [AUTH]]: a request to P's DSP endpoints (below BASE,
# or a full URL).  BODY "" sends none, "@FILE" a file; AUTH defaults to a fresh token of
# C for P, "none" sends no Authorization header.  Sets ST (the status) and LAST (NAME);
# the answer is in $R/NAME.json.
dsp() {
    LAST=$1 method=$2
    case $3 in https://*) url=$3 ;; *) url="$BASE$3" ;; esac
    body=${4-}
    if [ $# -ge 5 ]; then auth=$5; else auth=$(mint "$CONS" "$PDID"); fi
    case $body in
    "") : >"$R/$1.req" ;;
    @*) cp "${body#@}" "$R/$1.req" ;;
    *) printf '%s' "$body" >"$R/$1.req" ;;
    esac
    set -- -X "$2" -o "$R/$1.json" -w '%{http_code}'
    [ "$auth" = none ] || set -- "$@" -H "Authorization: $auth"
    [ "$method" = GET ] ||
        set -- "$@" -H 'Content-Type: application/json' --data-binary "@$R/$LAST.req"
    ST=$($C "$@" "$url")
}

# msg TYPE [NAME=STRING | NAME:=JSON]...: a DSP 2025-1 message (STRING needs no escaping).
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
CB=https://127.0.0.1:1/cb

cat >"$T_DIR/err.py" <<'PY'
# err.py EXPECT.TSV: each line FILE TYPE CODE CPID PPID WORD DESC says FILE is a DSP error
# body of @type TYPE with the DSP context, "code" CODE, a non-empty "reason" array
# mentioning WORD, and the pids CPID/PPID ("-": not checked).  Prints one line per
# check: 0 or 1, a tab, DESC and the reason (or what is wrong).
import json, sys

def check(f, typ, code, cpid, ppid, word):
    try:
        d = json.load(open(f))
    except Exception as e:
        return ["not JSON: %s" % e], ""
    if not isinstance(d, dict):
        return ["not an object"], ""
    bad = []
    if d.get("@type") != typ:
        bad.append("@type %r" % d.get("@type"))
    if "https://w3id.org/dspace/2025/1/context.jsonld" not in (d.get("@context") or []):
        bad.append("no DSP @context")
    if d.get("code") != code:
        bad.append("code %r" % d.get("code"))
    reason = d.get("reason")
    if not isinstance(reason, list) or not reason or not all(isinstance(r, str) for r in reason):
        bad.append("reason %r" % (reason,))
        reason = []
    text = " ".join(reason)
    if word != "-" and word not in text:
        bad.append("reason does not mention %r" % word)
    if typ != "CatalogError":
        for k, want in (("consumerPid", cpid), ("providerPid", ppid)):
            if k not in d or not isinstance(d[k], str):
                bad.append("no %s" % k)
            elif want != "-" and d[k] != want:
                bad.append("%s %r, want %r" % (k, d[k], want))
    return bad, text

for line in open(sys.argv[1]):
    f, typ, code, cpid, ppid, word, desc = line.rstrip("\n").split("\t")
    bad, text = check(f, typ, code, cpid, ppid, word)
    detail = ("; ".join(bad) + " -- " if bad else "") + text
    print("%d\t%s: %s body (%s)" % (1 if bad else 0, desc, typ, detail.replace("\n", " ")))
PY

# refused DESC STATUS TYPE CPID PPID WORD: the last dsp request was answered STATUS,
# and (checked by err.py at the end) with a TYPE error body.
refused() {
    t_eq "$ST" "$2" "$1: HTTP $2"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$R/$LAST.json" "$3" "$2" "$4" "$5" "$6" "$1" \
        >>"$T_DIR/expect.tsv"
}

# --- P publishes; C negotiates to FINALIZED through its management API
printf 'some data\n' >"$T_DIR/asset.txt"
pm POST /assets "{\"id\":\"a1\",\"file\":\"$T_DIR/asset.txt\"}" >/dev/null
pm POST /assets "{\"id\":\"a2\",\"file\":\"$T_DIR/asset.txt\"}" >/dev/null
pm POST /policies '{"id":"use","policy":{"@type":"Set","permission":[{"action":"use"}]}}' >/dev/null
pm POST /offers '{"id":"off1","asset_id":"a1","policy_id":"use"}' >/dev/null
t_eq "$(pm GET /offers/off1 | jstr asset_id)" "a1" "P publishes asset a1 under offer off1"

NC=$(cm POST /negotiations "{\"provider_url\":\"https://127.0.0.1:$PP\",\"offer_id\":\"off1\"}" |
    jstr id)
i=0; while [ "$(cm GET "/negotiations/$NC" | jstr state)" != FINALIZED ]; do
    i=$((i + 1)); [ $i -lt 100 ] || break; sleep 0.1; done
neg=$(cm GET "/negotiations/$NC")
t_eq "$(echo "$neg" | jstr state)" FINALIZED "C's negotiation reaches FINALIZED"
NP=$(echo "$neg" | jstr provider_pid)
AG=$(echo "$neg" | jstr agreement_id)
t_eq "$(pneg_state "$NP")" FINALIZED "P's side ($NP) is FINALIZED"
NNEG=$(pcount negotiations)

# --- bodies that are not DSP messages
dsp bad-json POST /negotiations/request '{"@type": "ContractRequestMessage",'
refused "malformed JSON" 400 ContractNegotiationError "" "" "malformed JSON"
dsp array POST /negotiations/request "[$(msg ContractRequestMessage)]"
refused "a JSON array body" 400 ContractNegotiationError "" "" "object"
dsp empty POST /negotiations/request ""
refused "an empty body" 400 ContractNegotiationError "" "" "empty"
dsp empty-p POST "/negotiations/$NP/events" ""
refused "an empty body on an existing negotiation" 400 ContractNegotiationError - - "empty"
printf '{"a":"\377"}' >"$T_DIR/latin1.json"
dsp not-utf8 POST /negotiations/request "@$T_DIR/latin1.json"
refused "a body that is not UTF-8" 400 ContractNegotiationError "" "" "malformed JSON"
dsp cat-json POST /catalog/request '{'
refused "malformed JSON to the catalog" 400 CatalogError - - "malformed JSON"
dsp tp-json POST /transfers/request 'null'
refused "a JSON null to /transfers/request" 400 TransferError "" "" "object"

# --- wrong @type, missing fields
OFFER='{"@type":"Offer","@id":"off1","target":"a1","permission":[{"action":"use"}]}'
dsp wrong-type POST /negotiations/request \
    "$(msg ContractOfferMessage providerPid=urn:uuid:p1 offer:="$OFFER" callbackAddress=$CB)"
refused "a ContractOfferMessage posted to /negotiations/request" 400 ContractNegotiationError \
    - - "ContractRequestMessage"
dsp wrong-type2 POST /catalog/request "$(msg DatasetRequestMessage dataset=a1)"
refused "a DatasetRequestMessage posted to /catalog/request" 400 CatalogError - - \
    "CatalogRequestMessage"
NOCTX="{\"@type\":\"ContractRequestMessage\",\"consumerPid\":\"urn:uuid:n0\","
dsp no-context POST /negotiations/request "$NOCTX\"offer\":$OFFER,\"callbackAddress\":\"$CB\"}"
refused "no @context" 400 ContractNegotiationError - - "@context"
dsp no-cpid POST /negotiations/request \
    "$(msg ContractRequestMessage offer:="$OFFER" callbackAddress=$CB)"
refused "no consumerPid" 400 ContractNegotiationError - - "consumerPid"
dsp no-offer POST /negotiations/request \
    "$(msg ContractRequestMessage consumerPid=urn:uuid:n1 callbackAddress=$CB)"
refused "no offer" 400 ContractNegotiationError - - "offer"
dsp no-cb POST /negotiations/request \
    "$(msg ContractRequestMessage consumerPid=urn:uuid:n1 offer:="$OFFER")"
refused "no callbackAddress" 400 ContractNegotiationError - - "callbackAddress"
dsp no-event POST "/negotiations/$NP/events" \
    "$(msg ContractNegotiationEventMessage providerPid=$NP consumerPid=$NC)"
refused "an event without eventType" 400 ContractNegotiationError - - "eventType"
dsp bad-event POST "/negotiations/$NP/events" \
    "$(msg ContractNegotiationEventMessage providerPid=$NP consumerPid=$NC eventType=DONE)"
refused "an unknown eventType" 400 ContractNegotiationError - - "eventType"
dsp tp-no-agreement POST /transfers/request \
    "$(msg TransferRequestMessage consumerPid=urn:uuid:t0 format=HttpData-PULL callbackAddress=$CB)"
refused "a TransferRequestMessage without agreementId" 400 TransferError - - "agreementId"
t_eq "$(pcount negotiations)" "$NNEG" "none of these created a negotiation"
t_eq "$(pneg_state "$NP")" FINALIZED "and the existing one is still FINALIZED"

# --- offers P does not publish as asked
USE='"permission":[{"action":"use"}]'
NODIST='"prohibition":[{"action":"distribute"}]'
# req CPID OFFER_MEMBERS: an initial contract request for {"@type":"Offer",OFFER_MEMBERS}
req() { msg ContractRequestMessage consumerPid="$1" offer:="{\"@type\":\"Offer\",$2}" \
    callbackAddress=$CB; }
dsp no-such-offer POST /negotiations/request \
    "$(req urn:uuid:n2 "\"@id\":\"nooffer\",\"target\":\"a1\",$USE")"
refused "an unknown offer id" 400 ContractNegotiationError urn:uuid:n2 "" "nooffer"
dsp other-target POST /negotiations/request \
    "$(req urn:uuid:n3 "\"@id\":\"off1\",\"target\":\"a2\",$USE")"
refused "the offer with another dataset as target" 400 ContractNegotiationError urn:uuid:n3 "" "a2"
dsp other-policy POST /negotiations/request \
    "$(req urn:uuid:n4 '"@id":"off1","target":"a1","permission":[{"action":"distribute"}]')"
refused "a policy that differs from the published one" 400 ContractNegotiationError urn:uuid:n4 "" \
    "policy"
dsp more-policy POST /negotiations/request \
    "$(req urn:uuid:n5 "\"@id\":\"off1\",\"target\":\"a1\",$USE,$NODIST")"
refused "the published policy plus a prohibition" 400 ContractNegotiationError urn:uuid:n5 "" \
    "policy"
dsp other-assigner POST /negotiations/request \
    "$(req urn:uuid:n6 "\"@id\":\"off1\",\"target\":\"a1\",\"assigner\":\"$C2DID\",$USE")"
refused "an offer naming another assigner" 400 ContractNegotiationError urn:uuid:n6 "" "assigner"
t_eq "$(pcount negotiations)" "$NNEG" "no negotiation was created for them"

# --- unknown pids
U=urn:uuid:00000000-0000-4000-8000-000000000000
dsp get-unknown GET "/negotiations/$U"
refused "GET an unknown negotiation" 404 ContractNegotiationError "" "$U" "$U"
dsp ev-unknown POST "/negotiations/$U/events" \
    "$(msg ContractNegotiationEventMessage providerPid=$U consumerPid=$NC eventType=ACCEPTED)"
refused "an event for an unknown negotiation" 404 ContractNegotiationError - "$U" "$U"
dsp ver-unknown POST "/negotiations/$U/agreement/verification" \
    "$(msg ContractAgreementVerificationMessage providerPid=$U consumerPid=$NC)"
refused "a verification for an unknown negotiation" 404 ContractNegotiationError - "$U" "$U"
dsp term-unknown POST "/negotiations/$U/termination" \
    "$(msg ContractNegotiationTerminationMessage providerPid=$U consumerPid=$NC)"
refused "a termination for an unknown negotiation" 404 ContractNegotiationError - "$U" "$U"
dsp req-unknown POST "/negotiations/$U/request" \
    "$(msg ContractRequestMessage providerPid=$U consumerPid=$NC offer:="$OFFER")"
refused "a counter-request for an unknown negotiation" 404 ContractNegotiationError - "$U" "$U"
dsp cb-unknown POST "/callback/negotiations/$U/events" \
    "$(msg ContractNegotiationEventMessage providerPid=$NP consumerPid=$U eventType=FINALIZED)"
refused "a consumer callback for an unknown negotiation" 404 ContractNegotiationError "$U" - "$U"
dsp tp-get-unknown GET "/transfers/$U"
refused "GET an unknown transfer" 404 TransferError "" "$U" "$U"
dsp tp-done-unknown POST "/transfers/$U/completion" \
    "$(msg TransferCompletionMessage providerPid=$U consumerPid=urn:uuid:t9)"
refused "a completion for an unknown transfer" 404 TransferError - "$U" "$U"
dsp ds-unknown GET /catalog/datasets/nosuchdataset
refused "an unknown dataset" 404 CatalogError - - "nosuchdataset"

# --- another consumer's negotiation looks like no negotiation
X2=$(mint "$CONS2" "$PDID")
dsp get-other GET "/negotiations/$NP" "" "$X2"
refused "C2 asks about C's negotiation" 404 ContractNegotiationError - "$NP" "$NP"
dsp term-other POST "/negotiations/$NP/termination" \
    "$(msg ContractNegotiationTerminationMessage providerPid=$NP consumerPid=$NC code=x)" \
    "$(mint "$CONS2" "$PDID")"
refused "C2 terminates C's negotiation" 404 ContractNegotiationError - "$NP" "$NP"
t_eq "$(pneg_state "$NP")" FINALIZED "C's negotiation is still FINALIZED"

# --- illegal transitions on the FINALIZED negotiation
dsp verify-again POST "/negotiations/$NP/agreement/verification" \
    "$(msg ContractAgreementVerificationMessage providerPid=$NP consumerPid=$NC)"
refused "a verification on a FINALIZED negotiation" 400 ContractNegotiationError "$NC" "$NP" \
    "FINALIZED"
dsp accept-late POST "/negotiations/$NP/events" \
    "$(msg ContractNegotiationEventMessage providerPid=$NP consumerPid=$NC eventType=ACCEPTED)"
refused "an ACCEPTED event on a FINALIZED negotiation" 400 ContractNegotiationError "$NC" "$NP" \
    "FINALIZED"
dsp terminate-late POST "/negotiations/$NP/termination" \
    "$(msg ContractNegotiationTerminationMessage providerPid=$NP consumerPid=$NC)"
refused "a termination of a FINALIZED negotiation" 400 ContractNegotiationError "$NC" "$NP" \
    "FINALIZED"
dsp finalize-consumer POST "/negotiations/$NP/events" \
    "$(msg ContractNegotiationEventMessage providerPid=$NP consumerPid=$NC eventType=FINALIZED)"
refused "a FINALIZED event from the consumer" 400 ContractNegotiationError "$NC" "$NP" "FINALIZED"
dsp pid-mismatch POST "/negotiations/$NP/events" \
    "$(msg ContractNegotiationEventMessage providerPid="$NP" consumerPid=urn:uuid:x \
        eventType=ACCEPTED)"
refused "an event whose consumerPid is not the negotiation's" 400 ContractNegotiationError "$NC" \
    "$NP" "consumerPid"
t_eq "$(pneg_state "$NP")" FINALIZED "the negotiation is still FINALIZED"
dsp get-ok GET "/negotiations/$NP"
f="$R/get-ok.json"
t_eq "$ST:$(jstr @type <"$f") $(jstr state <"$f") $(jstr consumerPid <"$f")" \
    "200:ContractNegotiation FINALIZED $NC" "C's own GET: 200, FINALIZED"

# --- a repeated request is answered as the first was
"$PYTHON3" - "$T_DIR/trace-c" "$NC" "$T_DIR/initial.json" <<'PY'
import glob, json, os, sys
for f in sorted(glob.glob(os.path.join(sys.argv[1], "*.json"))):
    d = json.load(open(f))
    if d.get("@type") == "ContractRequestMessage" and d.get("consumerPid") == sys.argv[2]:
        open(sys.argv[3], "w").write(json.dumps(d))
        break
PY
t_check $? "C's initial ContractRequestMessage found in its trace"
dsp again POST /negotiations/request "@$T_DIR/initial.json"
t_eq "$ST" 201 "C's initial request posted again: 201"
f="$R/again.json"
t_eq "$(jstr @type <"$f") $(jstr providerPid <"$f") $(jstr consumerPid <"$f")" \
    "ContractNegotiation $NP $NC" "the same providerPid"
t_eq "$(pcount negotiations)" "$NNEG" "and no second negotiation"
dsp again-c2 POST /negotiations/request "@$T_DIR/initial.json" "$(mint "$CONS2" "$PDID")"
refused "C2 posts C's request (C's consumerPid)" 400 ContractNegotiationError "$NC" "" "in use"
t_eq "$(pcount negotiations)" "$NNEG" "and no negotiation for C2"

# --- tokens
dsp no-auth GET "/negotiations/$NP" "" none
refused "no Authorization header" 401 ContractNegotiationError - - "Authorization"
dsp basic GET "/negotiations/$NP" "" "Basic x"
refused "Authorization: Basic x" 401 ContractNegotiationError - - "Bearer"
dsp junk GET "/negotiations/$NP" "" "Bearer not.a.jwt"
refused "a Bearer token that is no JWT" 401 ContractNegotiationError - - "token"
dsp expired GET "/negotiations/$NP" "" "$(mint "$CONS" "$PDID" --iat-offset -400 --exp-offset -100)"
refused "an expired token" 401 ContractNegotiationError - - "expired"
dsp future GET "/negotiations/$NP" "" "$(mint "$CONS" "$PDID" --iat-offset 300 --exp-offset 500)"
refused "a token not valid yet" 401 ContractNegotiationError - - "not valid before"
dsp long GET "/negotiations/$NP" "" "$(mint "$CONS" "$PDID" --exp-offset 3600)"
refused "a token valid for an hour" 401 ContractNegotiationError - - "lifetime"
dsp aud GET "/negotiations/$NP" "" "$(mint "$CONS" "$CDID")"
refused "a token for another audience" 401 ContractNegotiationError - - "audience"
dsp forged GET "/negotiations/$NP" "" "$(mint "$CONS2" "$PDID" --iss "$CDID")"
refused "a token claiming C, signed by C2's key" 401 ContractNegotiationError - - "signature"
dsp kid GET "/negotiations/$NP" "" "$(mint "$CONS" "$PDID" --kid "$CDID#key-9")"
refused "a kid C's DID document does not list" 401 ContractNegotiationError - - "key-9"
dsp kid-other GET "/negotiations/$NP" "" "$(mint "$CONS" "$PDID" --kid "$C2DID#key-1")"
refused "a kid of another DID" 401 ContractNegotiationError - - "kid"
TOK=$(mint "$CONS" "$PDID")
dsp once GET "/negotiations/$NP" "" "$TOK"
t_eq "$ST" 200 "a valid token is accepted once"
dsp twice GET "/negotiations/$NP" "" "$TOK"
refused "the same token again (replayed)" 401 ContractNegotiationError - - "replayed"
dsp jti1 GET "/negotiations/$NP" "" "$(mint "$CONS" "$PDID" --jti urn:uuid:jti-1)"
t_eq "$ST" 200 "a token with jti urn:uuid:jti-1 is accepted"
dsp jti2 GET "/negotiations/$NP" "" "$(mint "$CONS" "$PDID" --jti urn:uuid:jti-1 --exp-offset 200)"
refused "a new token reusing that jti" 401 ContractNegotiationError - - "replayed"
dsp cat-noauth POST /catalog/request "$(msg CatalogRequestMessage)" none
refused "a catalog request without a token" 401 CatalogError - - "Authorization"
dsp tp-noauth GET "/transfers/$U" "" none
refused "a transfer GET without a token" 401 TransferError - - "Authorization"
t_eq "$(pneg_state "$NP")" FINALIZED "no token changed the negotiation"

# --- catalog requests
dsp filter POST /catalog/request "$(msg CatalogRequestMessage filter:='[{"title":"x"}]')"
refused "a catalog filter (unsupported)" 400 CatalogError - - "filter"
dsp catalog POST /catalog/request "$(msg CatalogRequestMessage extra:='{"x":1}')"
t_eq "$ST:$(grep -o '^{"@context":\[[^]]*\],"@type":"[A-Za-z]*"' "$R/catalog.json" | jstr @type)" \
    "200:Catalog" \
    "a catalog request with an unknown extra property: 200"

# --- transfers
PULL=HttpData-PULL
dsp tp-bad-agreement POST /transfers/request \
    "$(msg TransferRequestMessage consumerPid=urn:uuid:t0 agreementId=$U format=$PULL \
        callbackAddress=$CB)"
refused "a transfer request under an unknown agreement" 400 TransferError urn:uuid:t0 "" "$U"
dsp tp-other-agreement POST /transfers/request \
    "$(msg TransferRequestMessage consumerPid=urn:uuid:t0 agreementId="$AG" format=$PULL \
        callbackAddress=$CB)" \
    "$(mint "$CONS2" "$PDID")"
refused "C2 requests a transfer under C's agreement" 400 TransferError urn:uuid:t0 "" "$AG"
dsp tp-format POST /transfers/request \
    "$(msg TransferRequestMessage consumerPid=urn:uuid:t0 agreementId=$AG format=S3-PUSH \
    callbackAddress=$CB)"
refused "a format P does not offer" 400 TransferError urn:uuid:t0 "" "S3-PUSH"
t_eq "$(pcount transfers)" 0 "no transfer was created for them"

# T1: a transfer P starts for a callback nobody answers, so it stays STARTED
TREQ="$(msg TransferRequestMessage consumerPid=urn:uuid:t1 agreementId="$AG" format=$PULL \
    callbackAddress="https://127.0.0.1:$DEAD/cb")"
dsp t1 POST /transfers/request "$TREQ"
T1=$(jstr providerPid <"$R/t1.json")
t_eq "$ST:$(jstr @type <"$R/t1.json")" 201:TransferProcess "a transfer request of C: 201 ($T1)"
dsp t1-again POST /transfers/request "$TREQ"
t_eq "$ST:$(jstr providerPid <"$R/t1-again.json")" "201:$T1" \
    "the same request again: 201, the same providerPid"
t_eq "$(pcount transfers)" 1 "and one transfer"
# data_token PID: the token in the start message P sent for transfer PID.
data_token() {
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
i=0; until grep -q "TransferStartMessage.*$T1" "$T_DIR"/trace-p/*.json 2>/dev/null; do
    i=$((i + 1)); [ $i -lt 50 ] || break; sleep 0.1; done
TOK1=$(data_token "$T1")
t_eq "$(ptp_state "$T1")" STARTED "T1 is STARTED on P"
DATA="https://127.0.0.1:$PP/data"
t_eq "$($C -o "$T_DIR/t1.data" -w '%{http_code}' -H "Authorization: Bearer $TOK1" "$DATA/$T1")" \
    200 \
    "the data endpoint with T1's token: 200"
cmp -s "$T_DIR/t1.data" "$T_DIR/asset.txt"; t_check $? "and the asset's bytes"
t_eq "$($C -o "$R/d1.json" -w '%{http_code}' "$DATA/$T1")" 401 \
    "the data endpoint without a token: 401"
t_eq "$($C -o "$R/d2.json" -w '%{http_code}' -H "Authorization: $(mint "$CONS" "$PDID")" \
    "$DATA/$T1")" \
    401 "the data endpoint with a DSP caller token instead: 401"

# T2: a real transfer through C's management API, to COMPLETED
T2C=$(cm POST /transfers "{\"agreement_id\":\"$AG\",\"out\":\"$T_DIR/got.txt\"}" | jstr id)
i=0; while [ "$(cm GET "/transfers/$T2C" | jstr state)" != COMPLETED ]; do
    i=$((i + 1)); [ $i -lt 100 ] || break; sleep 0.1; done
T2=$(cm GET "/transfers/$T2C" | jstr provider_pid)
i=0; while [ "$(ptp_state "$T2")" != COMPLETED ]; do
    i=$((i + 1)); [ $i -lt 100 ] || break; sleep 0.1; done
t_eq "$(ptp_state "$T2")" COMPLETED "C's transfer T2 ($T2) is COMPLETED on P"
TOK2=$(data_token "$T2")
t_eq "$($C -o "$R/d3.json" -w '%{http_code}' -H "Authorization: Bearer $TOK2" "$DATA/$T1")" 401 \
    "T2's token on T1 (STARTED): 401"
t_eq "$($C -o "$R/d4.json" -w '%{http_code}' -H "Authorization: Bearer $TOK2" "$DATA/$T2")" 403 \
    "T2's own token after T2 COMPLETED: 403"
for f in d1 d2 d3 d4; do
    grep -q '^{"error":"[^"]' "$R/$f.json"
    t_check $? "data endpoint refusal $f has a JSON error body"
done
dsp tp-suspend-done POST "/transfers/$T2/suspension" \
    "$(msg TransferSuspensionMessage providerPid=$T2 consumerPid=$T2C)"
refused "a suspension of a COMPLETED transfer" 400 TransferError "$T2C" "$T2" "COMPLETED"
t_eq "$(ptp_state "$T2")" COMPLETED "T2 is still COMPLETED"
dsp tp-get-other GET "/transfers/$T1" "" "$(mint "$CONS2" "$PDID")"
refused "C2 asks about C's transfer" 404 TransferError - "$T1" "$T1"
t_eq "$(ptp_state "$T1")" STARTED "T1 is still STARTED"

# --- a denied DID: P restarted with [identity] deny = C2
kill -TERM "$P_PID"; wait "$P_PID"
up p "$PROV" "$PP" TESSERA_IDENTITY_DENY="$C2DID"; P_PID=$UP
T_PIDS="$P_PID $C_PID $X_PID"
dsp denied GET "/negotiations/$NP" "" "$(mint "$CONS2" "$PDID")"
refused "a caller on the deny list" 403 ContractNegotiationError - - "denied"
dsp denied-cat POST /catalog/request "$(msg CatalogRequestMessage)" "$(mint "$CONS2" "$PDID")"
refused "a denied caller asks for the catalog" 403 CatalogError - - "denied"
dsp allowed GET "/negotiations/$NP"
t_eq "$ST" 200 "C is still served"

# --- the error bodies, all checked at once
"$PYTHON3" "$T_DIR/err.py" "$T_DIR/expect.tsv" >"$T_DIR/err.out" 2>&1
t_check $? "err.py ran"
while IFS="$(printf '\t')" read -r rc desc; do t_check "$rc" "$desc"; done <"$T_DIR/err.out"

# --- every error body validates against its DSP 2025-1 schema
if "$PYTHON3" -c 'import jsonschema' 2>/dev/null; then
    for f in "$R"/*.json; do
        grep -q '"@type":"[A-Za-z]*Error"' "$f" && echo "$f"
    done >"$T_DIR/errors.list"
    # shellcheck disable=SC2046
    "$PYTHON3" "$top_srcdir/tests/dsp_validate.py" "$top_srcdir/tests/data/dsp" \
        $(cat "$T_DIR/errors.list") >"$T_DIR/validate.out" 2>&1
    t_check $? "all $(wc -l <"$T_DIR/errors.list") error bodies validate against their schemas"
    grep -v '^ok' "$T_DIR/validate.out" | head -10
else
    echo "# python3-jsonschema missing: schema checks skipped"
fi

if grep -q ': 5[0-9][0-9] ' "$T_DIR"/*.log; then
    t_check 1 "no 5xx answers"; grep ': 5[0-9][0-9] ' "$T_DIR"/*.log | head
fi
kill -TERM $T_PIDS; for p in $T_PIDS; do wait "$p"; done
T_PIDS=""
if grep -q 'AddressSanitizer\|runtime error' "$T_DIR"/*.log; then
    t_check 1 "sanitizer reports"
    grep -A20 'AddressSanitizer\|runtime error' "$T_DIR"/*.log | head -60
fi
t_done
