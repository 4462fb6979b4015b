#!/bin/sh
# tests/e2e/tck_hooks.sh: the conformance kit's test modes are off unless
# configured ([identity] static_token, [tck] hooks), and do what
# tests/interop/tck/run relies on when they are on: the static token is
# accepted as its participant and nothing else is, the /tck hooks exist,
# record agreements and start a negotiation as a consumer.
. "${top_srcdir:-.}/tests/lib.sh"
t_need "$CURL" "$PYTHON3"

TESSERA="$top_builddir/tessera"
TESSERAD="$top_builddir/tesserad"
free_port() { "$PYTHON3" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PP=$(free_port); PM=$(free_port)
URL="http://127.0.0.1:$PP"
TOKEN="tck-token-for-this-test-only"

"$TESSERA" init "$T_DIR/cut" --port "$PP" --mgmt-port "$PM" >/dev/null || exit 1

# start [VAR=VALUE...]: the daemon with these environment overrides.
start() {
    env TESSERA_SERVER_LISTEN=127.0.0.1 TESSERA_SERVER_TLS=no TESSERA_SERVER_PUBLIC_URL="$URL" "$@" \
        "$TESSERAD" -c "$T_DIR/cut/tessera.conf" -f -d dsp >>"$T_DIR/tesserad.log" 2>&1 &
    PID=$!
    T_PIDS=$PID
    i=0; until $CURL -s -o /dev/null "$URL/health"; do
        i=$((i + 1)); [ $i -lt 100 ] || break; sleep 0.05; done
}
stop() { kill -TERM "$PID"; wait "$PID"; T_PIDS=""; }
# status METHOD PATH [AUTH] [BODY]: the HTTP status of one request.
status() {
    $CURL -s -o "$T_DIR/body" -w '%{http_code}' -X "$1" ${3:+-H "Authorization: $3"} \
        -H 'Content-Type: application/json' ${4:+-d "$4"} "$URL$2"
}
CATREQ='{"@context":["https://w3id.org/dspace/2025/1/context.jsonld"],"@type":"CatalogRequestMessage"}'

# --- off by default
start
t_eq "$(status POST /tck/agreements "" '{"id":"A1","asset":"x"}')" 404 "no /tck hooks by default"
t_eq "$(status POST /dsp/2025-1/catalog/request "$TOKEN" "$CATREQ")" 401 \
    "no static token is accepted by default"
stop

# --- on
start TESSERA_IDENTITY_STATIC_TOKEN="$TOKEN" TESSERA_TCK_HOOKS=yes
t_eq "$(status POST /dsp/2025-1/catalog/request "$TOKEN" "$CATREQ")" 200 \
    "the static token is accepted"
t_eq "$(status POST /dsp/2025-1/catalog/request "$TOKEN-x" "$CATREQ")" 401 \
    "another token is not"
t_eq "$(status POST /dsp/2025-1/catalog/request '{"clientId":"edc"}' "$CATREQ")" 401 \
    "EDC mock tokens are not accepted unless mock_tokens is on"
# The paging QuerySpec a stock EDC sends is the one filter supported (the
# binding: any other filter is a 400).
QS='"filter":[{"@type":"QuerySpec","offset":0,"limit":1,"filterExpression":[]}]'
for ds in d1 d2; do
    "$TESSERA" -C "$T_DIR/cut" asset add "$ds" --file "$T_DIR/cut/tessera.conf" >/dev/null
    printf '{"@type":"Set","permission":[{"action":"use"}]}\n' >"$T_DIR/use.json"
    "$TESSERA" -C "$T_DIR/cut" policy add "use-$ds" "$T_DIR/use.json" >/dev/null
    "$TESSERA" -C "$T_DIR/cut" offer add "o-$ds" --asset "$ds" --policy "use-$ds" >/dev/null
done
t_eq "$(status POST /dsp/2025-1/catalog/request "$TOKEN" "${CATREQ%?},$QS}")" 200 \
    "an EDC QuerySpec filter is accepted"
t_eq "$("$PYTHON3" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["dataset"]))' "$T_DIR/body")" 1 \
    "and its limit applies"
QS='"filter":[{"@type":"QuerySpec","filterExpression":[{"operandLeft":"id","operator":"=","operandRight":"d1"}]}]'
t_eq "$(status POST /dsp/2025-1/catalog/request "$TOKEN" "${CATREQ%?},$QS}")" 400 \
    "a QuerySpec with a filter expression is refused (400)"
t_eq "$(status POST /tck/agreements "" '{"id":"ATP9901","asset":"x"}')" 201 \
    "/tck/agreements records an agreement"
t_eq "$(status POST /tck/agreements "" '{"asset":"x"}')" 400 "/tck/agreements needs an id"
got=$("$TESSERA" -C "$T_DIR/cut" --json agreement show ATP9901 |
    "$PYTHON3" -c 'import json,sys; d=json.load(sys.stdin); print(d["consumer_did"])')
t_eq "$got" "TCK_PARTICIPANT" "the agreement's consumer is the static participant"
# A negotiation as consumer with a provider that is not there: recorded and
# requested (the request itself then fails, which is not what is tested).
body='{"providerId":"TCK_PARTICIPANT","offerId":"o1","datasetId":"ds1","connectorAddress":"http://127.0.0.1:9/dsp"}'
t_eq "$(status POST /tck/negotiations/requests "" "$body")" 200 \
    "/tck/negotiations/requests starts a negotiation"
n=$("$TESSERA" -C "$T_DIR/cut" --json negotiation ls |
    "$PYTHON3" -c 'import json,sys; d=json.load(sys.stdin); print(len([x for x in d["items"] if x["role"] == "consumer"]))')
t_eq "$n" 1 "the consumer negotiation is recorded"
stop

# --- EDC's development identity
start TESSERA_IDENTITY_MOCK_TOKENS=yes
t_eq "$(status POST /dsp/2025-1/catalog/request '{"region":"any","clientId":"edc-1"}' "$CATREQ")" 200 \
    "with mock_tokens an EDC mock token is accepted"
t_eq "$(status POST /dsp/2025-1/catalog/request '{"region":"any"}' "$CATREQ")" 401 \
    "a mock token without clientId is not"
t_eq "$(status POST /dsp/2025-1/catalog/request "$TOKEN" "$CATREQ")" 401 \
    "nor is the static token when it is not configured"
stop

if grep -q 'AddressSanitizer\|runtime error' "$T_DIR/tesserad.log"; then
    t_check 1 "sanitizer reports"; grep -A20 'AddressSanitizer\|runtime error' "$T_DIR/tesserad.log" | head -40
fi
t_done
