#!/bin/sh
# tests/e2e/mgmt.sh: the management API and the CLI commands built on it,
# against one tesserad made with `tessera ca` and `tessera init`: assets
# (file and URL, size and SHA-256), policies and offers added, listed,
# shown and removed with --json checked; refusals (missing file,
# duplicate id, asset in use, bad input, wrong key) with their exit
# statuses and messages; the API's JSON error bodies with curl; answers
# checked against doc/openapi.yaml's schemas, and every route of
# connector/mgmt.c documented there; a hash abandoned by its client; the
# daemon down is exit status 3.  Negotiations and transfers between two
# daemons are tested by the DSP end-to-end test.
. "${top_srcdir:-.}/tests/lib.sh"
t_need "$CURL" "$PYTHON3" openssl

TESSERA="$top_builddir/tessera"
TESSERAD="$top_builddir/tesserad"
free_port() { "$PYTHON3" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
P=$(free_port)
M=$(free_port)
A="$T_DIR/alice"
C="$CURL -s --max-time 20"
json() { "$PYTHON3" -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

"$TESSERA" ca "$T_DIR/ca" >/dev/null
t_check $? "tessera ca"
"$TESSERA" init "$A" --name "Alice AG" --host 127.0.0.1 --port "$P" --mgmt-port "$M" \
    --ca "$T_DIR/ca" >/dev/null
t_check $? "tessera init"
KEY=$(sed -n 's/^api_key = //p' "$A/tessera.conf")
API="http://127.0.0.1:$M/api/v1"
T="$TESSERA -C $A"

"$TESSERAD" -c "$A/tessera.conf" -f 2>"$T_DIR/alice.log" &
D=$!
T_PIDS="$D"
i=0; until $C -o /dev/null "http://127.0.0.1:$M/health"; do
    i=$((i + 1)); [ $i -lt 100 ] || break; sleep 0.1; done

# --- status
t_eq "$($T --json status | json 'd["name"], d["did"], d["dsp"]')" \
    "Alice AG did:web:127.0.0.1%3A$P True" "status --json: name, DID, DSP engine running"
$T status | grep -q "^did  *did:web:127.0.0.1%3A$P$"; t_check $? "status for people names the DID"

# --- assets: a file (given relatively: the CLI makes it absolute), a URL
mkdir "$T_DIR/data"
head -c 5000000 /dev/urandom >"$T_DIR/data/big.bin"   # several hashing slices
sum=$(openssl dgst -sha256 -r "$T_DIR/data/big.bin" | cut -d' ' -f1)
out=$(cd "$T_DIR/data" && $T --json asset add a1 --file big.bin --title "Big data" \
    --description "five megabytes" --keyword x --keyword "y z" --media-type application/octet-stream)
t_check $? "asset add --file"
t_eq "$(echo "$out" | json 'd["id"], d["file"], d["size"], d["sha256"], d["keywords"], d["url"]')" \
    "a1 $T_DIR/data/big.bin 5000000 $sum ['x', 'y z'] None" \
    "asset: absolute path, size and SHA-256 of the file, keywords"
out=$($T --json asset add a2 --url https://data.example/x.csv --media-type text/csv)
t_eq "$(echo "$out" | json 'd["url"], d["file"], d["size"], d["media_type"]')" \
    "https://data.example/x.csv None None text/csv" "asset add --url"
t_eq "$($T --json asset ls | json '[a["id"] for a in d["items"]]')" "['a1', 'a2']" "asset ls --json lists both"
$T asset ls >"$T_DIR/ls.txt"
head -1 "$T_DIR/ls.txt" | grep -q "^ID  *TITLE  *SIZE  *CREATED  *SOURCE$"
t_check $? "asset ls: a header for people"
grep -q "^a1  *Big data  *4.8 MiB  *20[0-9-]* [0-9:]*  *$T_DIR/data/big.bin$" "$T_DIR/ls.txt"
t_check $? "asset ls: aligned row with a readable size and time"
t_eq "$($T --json asset show a1 | json 'd["sha256"]')" "$sum" "asset show --json"
$T asset show a1 | grep -q "^size  *4.8 MiB (5000000 bytes)$"; t_check $? "asset show for people"

err=$($T asset add a3 --file "$T_DIR/data/nope.bin" 2>&1); rc=$?
t_eq "$rc" "1" "a missing file is refused"
echo "$err" | grep -q "nope.bin: No such file or directory"; t_check $? "and said so ($err)"
err=$($T asset add a3 --file "$T_DIR/data" 2>&1); rc=$?
t_eq "$rc" "1" "a folder is refused"
echo "$err" | grep -q "not a regular file"; t_check $? "and said so ($err)"
err=$($T asset add a1 --url https://data.example/other 2>&1); rc=$?
t_eq "$rc" "1" "a duplicate id is refused"
echo "$err" | grep -q "a1 already exists"; t_check $? "and said so ($err)"
err=$($T asset add 'bad id' --url https://data.example/y 2>&1); t_eq "$?" "1" "a malformed id is refused ($err)"
err=$($T asset add a3 --url ftp://x/y 2>&1); t_eq "$?" "1" "a non-HTTP URL is refused ($err)"
$T --json asset add a3 --url ftp://x/y 2>/dev/null | json 'd["exit"]' >"$T_DIR/x"
t_eq "$(cat "$T_DIR/x")" "1" "--json: a failure is one document with the exit status"

# --- usage errors: exit status 2
$T asset add a3 2>/dev/null; t_eq "$?" "2" "asset add without a source"
$T asset add a3 --file x --url http://x/ 2>/dev/null; t_eq "$?" "2" "asset add with both sources"
$T asset add a3 --url http://x/ --bogus 2>/dev/null; t_eq "$?" "2" "unknown option"
$T asset 2>/dev/null; t_eq "$?" "2" "asset without a sub-command"
$T asset frobnicate 2>/dev/null; t_eq "$?" "2" "unknown sub-command"
$T asset show 2>/dev/null; t_eq "$?" "2" "asset show without an ID"
$T negotiate http://x/ 2>/dev/null; t_eq "$?" "2" "negotiate without OFFER_ID"
$T negotiate ftp://x/ o1 2>/dev/null; t_eq "$?" "2" "negotiate with a non-HTTP URL"
$T negotiate http://x/ o1 --timeout 0 2>/dev/null; t_eq "$?" "2" "negotiate --timeout 0"
$T transfer 2>/dev/null; t_eq "$?" "2" "transfer without an agreement"
$T transfer ls --role boss 2>/dev/null; t_eq "$?" "2" "transfer ls --role boss"
$T negotiation ls --state finalized 2>/dev/null; t_eq "$?" "2" "negotiation ls --state in lower case"
"$TESSERA" status 2>/dev/null; t_eq "$?" "2" "no connector named"
$T asset -h | grep -q "asset add ID"; t_check $? "asset -h lists the sub-commands"
$T transfer -h | grep -q "AGREEMENT_ID"; t_check $? "transfer -h explains both forms"

# --- policies and offers
cat >"$T_DIR/p1.json" <<'EOF'
{"@type": "Offer", "permission": [{"action": "use", "constraint": [{"leftOperand": "spatial", "operator": "eq", "rightOperand": "EU"}]}]}
EOF
t_eq "$($T policy add p1 "$T_DIR/p1.json")" "policy p1 added" "policy add FILE"
t_eq "$(echo '{"@type":"Set","prohibition":[{"action":"distribute"}]}' | $T --json policy add p2 - | json 'd["policy"]["prohibition"][0]["action"]')" \
    "distribute" "policy add - (standard input)"
echo '[1,2]' >"$T_DIR/bad.json"
err=$($T policy add p3 "$T_DIR/bad.json" 2>&1); t_eq "$?" "1" "a policy that is not an object is refused ($err)"
echo '{"a":' >"$T_DIR/bad.json"
err=$($T policy add p3 "$T_DIR/bad.json" 2>&1); t_eq "$?" "1" "malformed JSON is refused ($err)"
t_eq "$($T --json policy show p1 | json 'd["policy"]["permission"][0]["constraint"][0]["rightOperand"]')" \
    "EU" "policy show --json keeps the policy"
$T policy ls | grep -q "^p1  *Offer  *20[0-9-]* [0-9:]*  *1 permission$"; t_check $? "policy ls for people"
t_eq "$($T --json policy ls | json 'len(d["items"])')" "2" "policy ls --json"

t_eq "$($T offer add o1 --asset a1 --policy p1)" "offer o1 added: asset a1 under policy p1" "offer add"
err=$($T offer add o2 --asset nope --policy p1 2>&1); rc=$?
t_eq "$rc" "1" "an offer of a missing asset is refused"
echo "$err" | grep -q "nope"; t_check $? "and the missing asset is named ($err)"
$T offer add o2 --asset a1 2>/dev/null; t_eq "$?" "2" "offer add without --policy"
t_eq "$($T --json offer ls | json '[(o["id"], o["asset_id"], o["policy_id"]) for o in d["items"]]')" \
    "[('o1', 'a1', 'p1')]" "offer ls --json"

err=$($T asset rm a1 2>&1); rc=$?
t_eq "$rc" "1" "removing an asset an offer uses is refused"
echo "$err" | grep -q "o1"; t_check $? "and the offer is named ($err)"
err=$($T policy rm p1 2>&1); t_eq "$?" "1" "removing a policy an offer uses is refused ($err)"
t_eq "$($T offer rm o1)" "offer o1 removed" "offer rm"
t_eq "$($T --json asset rm a1 | json 'd["deleted"]')" "True" "then asset rm"
err=$($T asset show a1 2>&1); rc=$?
t_eq "$rc" "1" "a removed asset is gone"
echo "$err" | grep -q "a1"; t_check $? "and the message names it ($err)"
t_eq "$($T policy rm p1)" "policy p1 removed" "policy rm"

# --- negotiations, agreements, transfers: empty lists and unknown ids
t_eq "$($T --json negotiation ls)" '{"items":[]}' "negotiation ls --json: none yet"
t_eq "$($T --json agreement ls)" '{"items":[]}' "agreement ls --json: none yet"
t_eq "$($T --json transfer ls --role consumer)" '{"items":[]}' "transfer ls --json: none yet"
$T negotiation show urn:uuid:nope 2>/dev/null; t_eq "$?" "1" "negotiation show of an unknown id"
$T transfer terminate urn:uuid:nope 2>/dev/null; t_eq "$?" "1" "transfer terminate of an unknown id"
err=$($T transfer urn:uuid:no-such-agreement 2>&1); t_eq "$?" "1" "a transfer under an unknown agreement ($err)"
err=$($T catalog fetch http://127.0.0.1:1/ 2>&1); rc=$?
t_eq "$rc" "3" "catalog fetch from an unreachable provider: exit status 3"
echo "$err" | grep -qi "connect"; t_check $? "and why ($err)"

# --- the API itself: status codes and JSON error bodies
body() { "$PYTHON3" -c 'import json,sys; d=json.load(sys.stdin); print(d["code"], "error" in d and len(d["error"]) > 0)'; }
t_eq "$($C -w ' %{http_code}' "$API/assets" | tr -d '\n' | sed 's/.* //')" "401" "no key: 401"
t_eq "$($C "$API/assets" | body)" "unauthorized True" "no key: JSON error body"
t_eq "$($C -H 'X-Api-Key: wrong-key-wrong-key' -o /dev/null -w '%{http_code}' "$API/status")" \
    "401" "wrong key: 401"
t_eq "$($C -o /dev/null -w '%{http_code}' "$API/nothing/here")" "401" \
    "unknown path without a key: 401 (nothing is revealed)"
K="-H X-Api-Key:$KEY"
t_eq "$($C $K -o "$T_DIR/b" -w '%{http_code}' "$API/assets/nope")" "404" "unknown asset: 404"
t_eq "$(body <"$T_DIR/b")" "not_found True" "with a not_found body"
t_eq "$($C $K -o "$T_DIR/b" -w '%{http_code}' "$API/no/such/thing")" "404" "unknown endpoint: 404"
t_eq "$(body <"$T_DIR/b")" "not_found True" "with a JSON body"
t_eq "$($C $K -o "$T_DIR/b" -w '%{http_code}' -X PUT "$API/assets")" "405" "wrong method: 405"
t_eq "$(body <"$T_DIR/b")" "method_not_allowed True" "with a JSON body"
t_eq "$($C $K -o "$T_DIR/b" -w '%{http_code}' -d '{"id":' "$API/assets")" "400" "malformed JSON: 400"
t_eq "$(body <"$T_DIR/b")" "invalid True" "with an invalid body"
t_eq "$($C $K -o "$T_DIR/b" -w '%{http_code}' -d '{"id":"x","url":"http://a/","titel":"t"}' "$API/assets")" \
    "400" "an unknown member: 400"
grep -q 'titel' "$T_DIR/b"; t_check $? "naming the member"
t_eq "$($C $K -o /dev/null -w '%{http_code}' -d '[]' "$API/policies")" "400" "a body that is not an object: 400"
t_eq "$($C $K -o /dev/null -w '%{http_code}' -d '{"provider_url":"file:///etc/passwd"}' "$API/catalog/request")" \
    "400" "catalog request for a non-HTTP URL: 400"
t_eq "$($C $K -o /dev/null -w '%{http_code}' "$API/negotiations?limit=5000")" "400" "limit over 1000: 400"
t_eq "$($C $K -o /dev/null -w '%{http_code}' "$API/transfers?state=bad-state")" "400" "malformed state filter: 400"
t_eq "$($C $K -o "$T_DIR/b" -w '%{http_code}' -d '{"agreement_id":"x","out":"relative/path"}' "$API/transfers")" \
    "400" "a relative transfer path: 400"
t_eq "$($C $K -o /dev/null -w '%{http_code}' -d '{"id":"dup","url":"http://a/"}' "$API/assets")" "201" "create: 201"
t_eq "$($C $K -o "$T_DIR/b" -w '%{http_code}' -d '{"id":"dup","url":"http://a/"}' "$API/assets")" "409" "duplicate: 409"
t_eq "$(body <"$T_DIR/b")" "exists True" "with an exists body"
t_eq "$($C $K -o /dev/null -w '%{http_code}' -X DELETE "$API/assets/dup")" "204" "delete: 204"
for i in 1 2 3; do $C $K -o /dev/null -d "{\"id\":\"pg$i\",\"url\":\"http://a/$i\"}" "$API/assets"; done
t_eq "$($C $K "$API/assets?limit=2&offset=1" | json '[a["id"] for a in d["items"]], d["limit"], d["offset"]')" \
    "['pg1', 'pg2'] 2 1" "limit and offset page through a list"

# --- answers match doc/openapi.yaml's schemas (with python3-yaml and python3-jsonschema)
OPENAPI="$top_srcdir/doc/openapi.yaml"
$C $K "$API/status" >"$T_DIR/status.json"
$C $K "$API/assets?limit=1" >"$T_DIR/assets.json"
$C $K "$API/assets/pg1" >"$T_DIR/asset.json"
$C $K -d '{"id":"p9","policy":{"@type":"Offer","permission":[{"action":"use"}]}}' "$API/policies" >"$T_DIR/policy.json"
$C $K -d '{"id":"o9","asset_id":"a2","policy_id":"p9"}' "$API/offers" >"$T_DIR/offer.json"
$C $K "$API/offers" >"$T_DIR/offers.json"
$C $K "$API/negotiations" >"$T_DIR/negs.json"
$C $K "$API/transfers" >"$T_DIR/tps.json"
$C $K "$API/agreements" >"$T_DIR/ags.json"
$C $K "$API/assets/nope" >"$T_DIR/error.json"
"$PYTHON3" "$top_srcdir/tests/openapi_validate.py" "$OPENAPI" "$T_DIR" status=Status \
    assets=AssetList asset=Asset policy=Policy offer=Offer offers=OfferList negs=NegotiationList \
    tps=TransferList ags=AgreementList error=Error
rc=$?
case $rc in
2) echo "# skip: python3-yaml or python3-jsonschema missing, answers not validated" ;;
*) t_check $rc "answers validate against doc/openapi.yaml" ;;
esac

# --- every route of connector/mgmt.c is documented, and nothing else is
"$PYTHON3" - "$top_srcdir/connector/mgmt.c" "$OPENAPI" <<'PY'
import re, sys
src = open(sys.argv[1]).read()
table = src[src.index("static const struct route routes[]"):]
table = table[:table.index("};")]
code = {(m, re.sub(r":(\w+)", r"{\1}", p)) for m, p in re.findall(r'\{"([A-Z]+)", "([^"]+)",', table)}
# GET /metrics (connector/metrics.h) lives beside the API, not under its base path
mh = open(sys.argv[1].replace("mgmt.c", "metrics.h")).read()
code |= {("GET", p) for p in re.findall(r'#define TSR_METRICS_PATH "([^"]+)"', mh)}
doc, path = set(), None
for line in open(sys.argv[2]):
    m = re.match(r"^  (/\S*):\s*$", line)
    if m:
        path = m.group(1)
        continue
    if re.match(r"^\S", line):
        path = None
    m = re.match(r"^    (get|post|put|patch|delete):\s*$", line)
    if path and m:
        doc.add((m.group(1).upper(), path))
for m, p in sorted(code - doc):
    print("# not in openapi.yaml: %s %s" % (m, p))
for m, p in sorted(doc - code):
    print("# in openapi.yaml but not served: %s %s" % (m, p))
sys.exit(0 if code == doc and len(code) > 20 else 1)
PY
t_check $? "openapi.yaml documents exactly the routes of connector/mgmt.c"

# --- a client that gives up while a large file is hashed: the daemon stops hashing
truncate -s 3G "$T_DIR/data/huge.bin"
# HTTP/2: a closed connection resets its streams at once (an HTTP/1.1 request whose
# client half-closes is still answered, so the add would simply complete).
$C $K --http2-prior-knowledge --max-time 1 -o /dev/null -d "{\"id\":\"huge\",\"file\":\"$T_DIR/data/huge.bin\"}" "$API/assets" &
cpid=$!
sleep 0.3
t_eq "$($T --json status | json 'd["did"]')" "did:web:127.0.0.1%3A$P" "the API answers while a file is hashed"
wait $cpid
t_wait_file "$T_DIR/alice.log" "asset huge: the client went away; hashing .* abandoned" 10
t_check $? "the daemon notices the client went away and stops hashing"
t_alive "$D"; t_check $? "tesserad survives the abandoned request"
$T asset show huge >/dev/null 2>&1; t_eq "$?" "1" "and the abandoned asset was not added"
rm -f "$T_DIR/data/huge.bin"

# --- a catalog request abandoned while the provider stays silent: the daemon
# keeps its context until the DSP engine gives up or is stopped (no leak)
"$PYTHON3" -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(4)
print(s.getsockname()[1], flush=True)
conns = []
while True:
    conns.append(s.accept())' >"$T_DIR/silent.port" &
S=$!
T_PIDS="$D $S"
i=0; until [ -s "$T_DIR/silent.port" ]; do i=$((i + 1)); [ $i -lt 50 ] || break; sleep 0.1; done
$C $K --http2-prior-knowledge --max-time 0.5 -o /dev/null \
    -d "{\"provider_url\":\"http://127.0.0.1:$(cat "$T_DIR/silent.port")\"}" "$API/catalog/request"
t_eq "$?" "28" "a catalog request to a silent provider: the client gives up"
t_eq "$($T --json status | json 'd["name"]')" "Alice AG" "and the daemon carries on"

# --- a wrong key and a stopped daemon through the CLI
err=$("$TESSERA" --api "http://127.0.0.1:$M" --api-key wrong-key-wrong-key status 2>&1); rc=$?
t_eq "$rc" "1" "a wrong API key: exit status 1"
echo "$err" | grep -q "wrong API key"; t_check $? "with the daemon's message ($err)"
kill -TERM "$D"; wait "$D"; rc=$?
t_eq "$rc" "0" "tesserad stops (with a catalog request still pending)"
kill "$S"; wait "$S" 2>/dev/null
T_PIDS=""
err=$($T status 2>&1); rc=$?
t_eq "$rc" "3" "daemon down: exit status 3"
echo "$err" | grep -q "cannot reach the connector"; t_check $? "and said so ($err)"
t_eq "$($T --json asset ls 2>/dev/null | json 'd["exit"]')" "3" "--json: exit 3 in the document"

if grep -q 'AddressSanitizer\|runtime error\|LeakSanitizer' "$T_DIR"/*.log; then
    t_check 1 "sanitizer reports"; cat "$T_DIR"/*.log
fi
t_done
