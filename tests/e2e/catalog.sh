#!/bin/sh
# tests/e2e/catalog.sh: self-descriptions and the federated catalog on
# loopback.  Three catalog nodes federated as a ring (B pulls A's event
# log, C pulls B's, A pulls C's; tests/e2e/catalog_chain.sh runs them as a
# chain) and three provider connectors publishing to A: the participants
# and their offers are verified and found by `tessera catalog query` at A
# and, through federation, at B and C; a removed offer is withdrawn at all
# three; a forged, tampered, expired, wrongly issued, incomplete or not
# closed credential is refused at every node with its reason, and a
# forgery written into any node's event log is refused by the node that
# pulls it, which re-verifies everything.  Also: POST /query, the HTML
# search page (in headless chromium too: required when
# TESSERA_REQUIRE_CHROMIUM=1, as CI sets it) and the DCAT-AP export (read
# back with rdflib when python3-rdflib is installed).
. "${top_srcdir:-.}/tests/lib.sh"
t_need "$CURL" "$PYTHON3" sqlite3 openssl
. "$top_srcdir/tests/e2e/catalog_lib.sh"

PP=$(free_port); PM=$(free_port); AP=$(free_port); BP=$(free_port); CP=$(free_port)
HP=$(free_port)
A="https://127.0.0.1:$AP"
B="https://127.0.0.1:$BP"
CC="https://127.0.0.1:$CP"
# an independent RDF parser for the shape and DCAT checks (Debian's python3-rdflib)
RDFPY=""
for py in "$PYTHON3" /usr/bin/python3; do
    if "$py" -c 'import rdflib' 2>/dev/null; then RDFPY=$py; break; fi
done

"$TESSERA" ca "$CA" >/dev/null || exit 1
"$TESSERA" catalog init "$T_DIR/catA" --port "$AP" --peer "$CC" --ca "$CA" >/dev/null
t_check $? "catalog init A, peer C"
"$TESSERA" catalog init "$T_DIR/catB" --port "$BP" --peer "$A" --ca "$CA" >/dev/null
t_check $? "catalog init B, peer A"
"$TESSERA" catalog init "$T_DIR/catC" --port "$CP" --peer "$B" --ca "$CA" >/dev/null
t_check $? "catalog init C, peer B"
grep -q "^peers = \"$A\"" "$T_DIR/catB/catalog.conf"; t_check $? "B's catalog.conf names its peer"
"$CATALOGD" -c "$T_DIR/catB/catalog.conf" -n >/dev/null; t_check $? "tessera-catalogd -n accepts it"
"$TESSERA" init "$T_DIR/prov" --name "Provider GmbH" --port "$PP" --mgmt-port "$PM" --ca "$CA" \
    >/dev/null || exit 1
cat >>"$T_DIR/prov/tessera.conf" <<EOF

[catalog]
urls = $A
EOF
# [participant] keys given through the environment (TESSERA_SECTION_KEY)
export TESSERA_PARTICIPANT_REGISTRATION_NUMBER=DE123456789 TESSERA_PARTICIPANT_LEGAL_COUNTRY=DE

# an open-data portal serving a DCAT-AP catalogue, harvested by A
(cd "$top_srcdir/tests/data/dcat" && exec "$PYTHON3" -m http.server "$HP" --bind 127.0.0.1) \
    >/dev/null 2>&1 & H_PID=$!
i=0; until $CURL -s -o /dev/null "http://127.0.0.1:$HP/portal.rdf"; do
    i=$((i + 1)); [ $i -lt 100 ] || break; sleep 0.05; done
TESSERA_HARVEST_SOURCES="http://127.0.0.1:$HP/portal.rdf" \
    "$CATALOGD" -c "$T_DIR/catA/catalog.conf" -f 2>"$T_DIR/catA.log" & A_PID=$!
"$CATALOGD" -c "$T_DIR/catB/catalog.conf" -f 2>"$T_DIR/catB.log" & B_PID=$!
"$CATALOGD" -c "$T_DIR/catC/catalog.conf" -f 2>"$T_DIR/catC.log" & C_PID=$!
"$TESSERAD" -c "$T_DIR/prov/tessera.conf" -f 2>"$T_DIR/prov.log" & P_PID=$!
T_PIDS="$A_PID $B_PID $C_PID $P_PID $H_PID"
wait_up "$A" && wait_up "$B" && wait_up "$CC" && wait_up "https://127.0.0.1:$PP"
t_check $? "all four daemons up"

T="$TESSERA -C $T_DIR/prov"
DID="did:web:127.0.0.1%3A$PP"

# --- the participant is published at start
wait_count 1 "$A" --type LegalPerson --participant "$DID"
t_check $? "A lists the participant (gx:LegalPerson) after tesserad starts"

# --- an offer is published on change, and found by text and filters
echo "t,v" >"$T_DIR/data.csv"
printf '{"@type":"Set","permission":[{"action":"use"}]}\n' >"$T_DIR/policy.json"
$T asset add readings --file "$T_DIR/data.csv" --title "Press line sensor readings" \
    --description "Hourly readings of press line 3" --keyword sensors --keyword steel \
    --media-type text/csv >/dev/null && $T policy add use "$T_DIR/policy.json" >/dev/null
t_check $? "provider: asset and policy added"
T_OFFER=$(date +%s%N)
$T offer add readings-offer --asset readings --policy use >/dev/null
t_check $? "provider: offer added"
# published to A, relayed A -> B -> C by long polls, verified at each node
wait_count 1 "$CC" press readings --participant "$DID"; t_check $? "C finds it, relayed by B"
ms=$(( ($(date +%s%N) - T_OFFER) / 1000000 ))
[ "$ms" -lt 2000 ]; t_check $? "C finds it within 2 seconds of the offer's creation ($ms ms)"
wait_count 1 "$A" press readings; t_check $? "A finds the offer by text"
out=$($TESSERA catalog query --catalog "$A" press readings)
echo "$out" | grep -q "Press line sensor readings"; t_check $? "tessera catalog query prints the title"
echo "$out" | grep -q "https://127.0.0.1:$PP/dsp/2025-1"; t_check $? "... and the DSP endpoint"
t_eq "$(count_at "$A" --keyword steel --type ServiceOffering --media-type text/csv)" 1 \
    "A finds it by keyword, type and media type"
t_eq "$(count_at "$A" --keyword copper)" 0 "no result for another keyword"
t_eq "$($TESSERA --json catalog query --catalog "$A" readings | jget 'd["items"][0]["dataset_id"]')" \
    readings "the result names the DSP dataset"
$T --json sd show >"$T_DIR/sd.json"; t_check $? "tessera sd show"
t_eq "$(jget 'sorted(c["credential"]["credentialSubject"]["type"] for c in d["credentials"])' <"$T_DIR/sd.json")" \
    "['gx:LegalPerson', 'gx:ServiceOffering']" "sd show: one LegalPerson, one ServiceOffering"
t_eq "$(jget '[c["state"] for c in d["catalogs"]]' <"$T_DIR/sd.json")" "['published']" \
    "sd show: published to A"
if [ -n "$RDFPY" ]; then
    "$RDFPY" "$top_srcdir/tests/gx_shapes.py" "$top_srcdir/tests/data/gaiax/gx-2511-shapes-subset.ttl" \
        "$T_DIR/sd.json" >"$T_DIR/shapes.out"
    t_check $? "the self-descriptions pass the Gaia-X 2511 shapes (minCount, maxCount, closed, sh:in)"
    sed 's/^/#   /' "$T_DIR/shapes.out"
fi

# --- federation: B pulls A's log and verifies each credential itself; C pulls B's
wait_count 1 "$B" press readings --participant "$DID"; t_check $? "B finds the offer published at A"

# --- two more connectors publish to A; C sees all three participants
for n in 2 3; do
    port=$(free_port); mport=$(free_port)
    "$TESSERA" init "$T_DIR/prov$n" --name "Provider $n" --port "$port" --mgmt-port "$mport" \
        --ca "$CA" >/dev/null || exit 1
    printf '\n[catalog]\nurls = %s\n' "$A" >>"$T_DIR/prov$n/tessera.conf"
    "$TESSERAD" -c "$T_DIR/prov$n/tessera.conf" -f 2>"$T_DIR/prov$n.log" &
    T_PIDS="$T_PIDS $!"
    wait_up "https://127.0.0.1:$port"
    Tn="$TESSERA -C $T_DIR/prov$n"
    $Tn asset add "turbines-$n" --file "$T_DIR/data.csv" --title "Turbine vibration $n" \
        --keyword wind --media-type text/csv >/dev/null &&
        $Tn policy add use "$T_DIR/policy.json" >/dev/null &&
        $Tn offer add "turbines-$n-offer" --asset "turbines-$n" --policy use >/dev/null
    t_check $? "provider $n: offer added"
done
wait_count 2 "$CC" turbine vibration --keyword wind; t_check $? "C finds the offers of providers 2 and 3"
wait_count 3 "$CC" --type LegalPerson; t_check $? "C lists the three participants"
t_eq "$(count_at "$A" --participant "$DID")" 2 \
    "A holds its entries once, though the ring brings them back (duplicates are harmless)"

# --- refused with their reason at every node, and nothing is stored
cat_refusals "$T_DIR/sd.json" "$T_DIR/prov/participant.key" "$DID" "$A" "$B" "$CC"
code=$($C -o "$T_DIR/refused2.json" -w '%{http_code}' -X POST \
    --data-binary @"$top_srcdir/tests/data/gaiax/service-offering.tampered.vc.jwt" "$A/assets")
t_eq "$code" 422 "A refuses the tampered synthetic vector (POST /assets)"

# --- a forgery written into any node's log is refused by the node that pulls it
BAD=$(cat_tamper "$(cat_offer_jwt "$T_DIR/sd.json")")
WAKE=$(cat_offer_jwt "$T_DIR/sd.json")
cat_relay_forgery "$T_DIR/catA" "$A" "$B" "$T_DIR/catB.log" "$WAKE" "$BAD"
cat_relay_forgery "$T_DIR/catB" "$B" "$CC" "$T_DIR/catC.log" "$WAKE" "$BAD"
cat_relay_forgery "$T_DIR/catC" "$CC" "$A" "$T_DIR/catA.log" "$WAKE" "$BAD"

# --- harvest: the portal's datasets at A, marked unsigned, not relayed to peers
wait_count 1 "$A" bicycle; t_check $? "A harvested the portal's DCAT-AP catalogue"
$C "$A/query?type=ExternalDataset" >"$T_DIR/ext.json"
t_eq "$(jget '"%d %s" % (d["count"], sorted(set(i["signed"] for i in d["items"])))' <"$T_DIR/ext.json")" \
    "3 [False]" "three external datasets, all marked unsigned"
t_eq "$(count_at "$B" bicycle)" 0 "B does not get harvested entries from A's log"

# --- an unsigned or mistyped body is refused
code=$($C -o /dev/null -w '%{http_code}' -X POST --data-binary 'not a jwt' "$A/credentials")
t_eq "$code" 422 "garbage is refused"

# --- POST /query with a JSON filter
t_eq "$($C -X POST -H 'content-type: application/json' \
    -d '{"q": "press", "mediaType": "text/csv", "type": "ServiceOffering", "limit": 5}' \
    "$A/query" | jget 'd["count"]')" 1 "POST /query with a JSON filter finds the offer"

# --- POST /query with "or": one of the branches must hold, besides the top's conditions
orq() { $C -X POST -H 'content-type: application/json' -d "$1" "$A/query"; }
t_eq "$(orq '{"type": "ServiceOffering", "or": [{"keyword": "steel"}, {"keyword": "wind"}]}' |
    jget 'sorted(i["title"] for i in d["items"])')" \
    "['Press line sensor readings', 'Turbine vibration 2', 'Turbine vibration 3']" \
    "POST /query: keyword steel OR wind finds the three offers"
t_eq "$(orq '{"q": "turbine", "or": [{"keyword": "wind"}, {"mediaType": "text/csv"}]}' |
    jget 'd["count"]')" 2 "... an entry both branches find is listed once"
t_eq "$(orq '{"or": [{"participant": "'"$DID"'", "type": "LegalPerson"}, {"q": "press"}]}' |
    jget 'sorted(i["type"] for i in d["items"])')" "['LegalPerson', 'ServiceOffering']" \
    "... a branch of several conditions (participant AND type) OR text"
orq '{"or": [{"keyword": "steel"}, {"keyword": "wind"}], "limit": 2}' >"$T_DIR/or1.json"
orq '{"or": [{"keyword": "steel"}, {"keyword": "wind"}], "limit": 2, "cursor": "2"}' \
    >"$T_DIR/or2.json"
t_eq "$(jget 'd["count"], d["next_cursor"]' <"$T_DIR/or1.json")/$(jget 'd["count"]' <"$T_DIR/or2.json")" \
    "2 2/1" "... paged with a cursor: 2 results, then the third"
t_eq "$("$PYTHON3" -c 'import json,sys; a=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2]))
print(len(set(i["id"] for i in a["items"] + b["items"])))' "$T_DIR/or1.json" "$T_DIR/or2.json")" 3 \
    "... the two pages do not overlap"
code=$($C -o "$T_DIR/or.json" -w '%{http_code}' -X POST -d '{"keyword": "a", "or": [{"keyword": "b"}]}' \
    "$A/query")
[ "$code" = 400 ] && grep -q "given at the top too" "$T_DIR/or.json"
t_check $? "... a condition at the top and in a branch is refused (400)"
code=$($C -o /dev/null -w '%{http_code}' -X POST -d '{"or": []}' "$A/query")
t_eq "$code" 400 "... and an empty or"

# --- paging: a cursor for the next page
$C -G --data-urlencode "participant=$DID" "$A/query?limit=1" >"$T_DIR/p1.json"
t_eq "$(jget 'd["next_cursor"]' <"$T_DIR/p1.json")" 1 "a full page gives a cursor"
t_eq "$($C -G --data-urlencode "participant=$DID" "$A/query?limit=1&cursor=1" |
    jget 'd["count"]')" 1 "the next page holds the provider's other entry"
t_eq "$($C -G --data-urlencode "participant=$DID" "$A/query?limit=1&cursor=2" |
    jget 'd["count"]')" 0 "and the one after it nothing"
$TESSERA catalog query --catalog "$A" --participant "$DID" --limit 1 >"$T_DIR/cq.txt"
grep -q -- "--cursor 1" "$T_DIR/cq.txt"; t_check $? "tessera catalog query says how to get the next page"
t_eq "$(count_at "$A" --participant "$DID" --limit 1 --cursor 1)/$(count_at "$A" --participant "$DID" --limit 1 --cursor 2)" \
    "1/0" "tessera catalog query --cursor: the second page, then none"

# --- the search page: plain HTML, search, filter, open
$C "$A/?q=press+readings&type=ServiceOffering&keyword=steel" >"$T_DIR/page.html"
grep -q 'id="count">1 result<' "$T_DIR/page.html"; t_check $? "search page: one result"
grep -q '>Press line sensor readings</a>' "$T_DIR/page.html"; t_check $? "search page: its title"
$C "$A/?q=press&keyword=copper" | grep -q 'id="count">0 results<'
t_check $? "search page: a filter that excludes it"
ENTRY=$(sed -n 's/.*href="\(\/entry?id=[^"]*\)".*/\1/p' "$T_DIR/page.html" | head -1)
$C "$A$ENTRY" >"$T_DIR/entry.html"
grep -q "https://127.0.0.1:$PP/dsp/2025-1" "$T_DIR/entry.html" && grep -q 'id="jwt">ey' "$T_DIR/entry.html"
t_check $? "entry page: the DSP endpoint and the VC-JWT"
$C "$A/?q=%3Cscript%3E" | grep -q '<script>'; t_eq $? 1 "search page: input is escaped"

# --- the same pages in a real browser (Debian's chromium, headless): skipped when it
# is not installed, unless TESSERA_REQUIRE_CHROMIUM=1 (CI installs it and sets that)
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [ -n "$CHROMIUM" ]; then
    # dom URL: the page's DOM after chromium parsed it (cleartext on the same port)
    dom() {
        timeout 60 "$CHROMIUM" --headless --no-sandbox --disable-gpu --no-first-run \
            --user-data-dir="$T_DIR/chromium" --dump-dom "$1" 2>/dev/null
    }
    H="http://127.0.0.1:$AP"
    dom "$H/" >"$T_DIR/c0.html"
    grep -q '<form method="get" action="/" role="search">' "$T_DIR/c0.html"
    t_check $? "chromium: the search page has its search form"
    dom "$H/?q=press&type=ServiceOffering" >"$T_DIR/c1.html"
    grep -q 'id="count">1 result<' "$T_DIR/c1.html"; t_check $? "chromium: search finds the offer"
    dom "$H/?q=press&type=ServiceOffering&mediaType=image%2Fpng" | grep -q 'id="count">0 results<'
    t_check $? "chromium: a media type filter excludes it"
    link=$(sed -n 's/.*<a class="title" href="\([^"]*\)".*/\1/p' "$T_DIR/c1.html" | head -1 |
        sed 's/&amp;/\&/g')
    dom "$H$link" >"$T_DIR/c2.html"
    grep -q '<h1 id="title">Press line sensor readings</h1>' "$T_DIR/c2.html"
    t_check $? "chromium: opening the result shows the offer"
elif [ "${TESSERA_REQUIRE_CHROMIUM:-0}" = 1 ]; then
    t_check 1 "chromium: not found, and TESSERA_REQUIRE_CHROMIUM=1 requires it"
else
    echo "# chromium not found: the browser checks of the search page are skipped"
fi

# --- DCAT-AP RDF/XML export, read back by an independent RDF parser
$C -o "$T_DIR/dcat.rdf" "$A/dcat?q=press"; t_check $? "GET /dcat"
grep -q '<dct:title>Press line sensor readings</dct:title>' "$T_DIR/dcat.rdf"
t_check $? "the export holds the dataset's title"
if [ -n "$RDFPY" ]; then
    got=$("$RDFPY" - "$T_DIR/dcat.rdf" <<'EOF'
import sys, rdflib
from rdflib.namespace import DCAT, DCTERMS, RDF
g = rdflib.Graph()
g.parse(sys.argv[1], format="xml")
ds = list(g.subjects(RDF.type, DCAT.Dataset))
titles = sorted(str(g.value(d, DCTERMS.title)) for d in ds)
kws = sorted(str(k) for d in ds for k in g.objects(d, DCAT.keyword))
urls = [str(u) for d in ds for dist in g.objects(d, DCAT.distribution)
        for u in g.objects(dist, DCAT.accessURL)]
cat = list(g.subjects(RDF.type, DCAT.Catalog))
print(len(cat), titles, kws, len(urls))
EOF
)
    t_eq "$got" "1 ['Press line sensor readings'] ['sensors', 'steel'] 1" \
        "rdflib reads the DCAT-AP export back: catalog, dataset, keywords, access URL"
else
    echo "# rdflib (python3-rdflib) not found: RDF read-back not checked"
fi

# --- removing the offer withdraws it everywhere
$T offer rm readings-offer >/dev/null; t_check $? "provider: offer rm"
wait_count 0 "$A" press readings; t_check $? "A no longer lists the removed offer"
wait_count 0 "$B" press readings; t_check $? "B no longer lists it either"
wait_count 0 "$CC" press readings; t_check $? "nor does C"
t_eq "$(count_at "$B" --type LegalPerson --participant "$DID")" 1 "the participant stays"
$C "$A/events?after=0" | jget '[e["kind"] for e in d["events"]]' | grep -q withdrawn
t_check $? "A's event log holds the withdrawal"

# --- sd publish to an explicit catalog
$T sd publish --catalog "$B" >/dev/null; t_check $? "tessera sd publish --catalog B"
t_eq "$(count_at "$B" --type LegalPerson --participant "$DID")" 1 \
    "B holds one active LegalPerson (the older ones superseded)"

t_done
