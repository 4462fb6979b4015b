#!/bin/sh
# tests/e2e/metrics.sh: GET /metrics of tesserad (management port) and of
# tessera-catalogd, scraped with curl after real work (an offer published
# to a catalog node and found there, a `tessera get`, a permitted and a
# refused use) and checked by a small parser of the Prometheus text format
# (tests/e2e/prom_check.py): the format is valid, and the numbers are the
# ones that work produced.  tesserad's route wants the API key (X-Api-Key
# or a Bearer token); without it: 401.
. "${top_srcdir:-.}/tests/lib.sh"
t_need "$CURL" "$PYTHON3" openssl

. "$top_srcdir/tests/e2e/space_lib.sh"
space_init catalog
space_start
P="$TESSERA -C $PROV"
C="$TESSERA -C $CONS"
KEYP=$(sed -n 's/^api_key *= *//p' "$PROV/tessera.conf")
KEYC=$(sed -n 's/^api_key *= *//p' "$CONS/tessera.conf")

head -c 200000 /dev/urandom >"$T_DIR/data.bin"
printf '{"@type":"Set","permission":[{"action":"use","constraint":[{"leftOperand":"count","operator":"lteq","rightOperand":2}]}]}\n' >"$T_DIR/p.json"
$P asset add data --file "$T_DIR/data.bin" --title "Metrics sample" >/dev/null &&
    $P policy add twice "$T_DIR/p.json" >/dev/null &&
    $P offer add data-offer --asset data --policy twice >/dev/null
t_check $? "provider: an offer for 2 uses"
grep -q "^urls = $CAT\$" "$PROV/tessera.conf"; t_check $? "init --catalog wrote [catalog] urls"
i=0; until [ "$($TESSERA --json catalog query --catalog "$CAT" Metrics 2>/dev/null | jget 'd["count"]')" = 1 ]; do
    i=$((i + 1)); [ $i -lt 100 ] || break; sleep 0.1; done
t_eq "$($TESSERA --json catalog query --catalog "$CAT" Metrics | jget 'd["count"]')" 1 \
    "the offer is published to the catalog node and found there"
$C get "$PURL" data-offer -o "$T_DIR/got.bin" >/dev/null 2>"$T_DIR/get.err"
t_check $? "get: negotiated, transferred, copied (use 1 of 2) $(cat "$T_DIR/get.err")"
OBJ=$($C --json vault ls | jget 'd["items"][0]["id"]')
$C vault cat "$OBJ" >/dev/null; t_check $? "vault cat: use 2 of 2, permitted"
$C vault cat "$OBJ" >/dev/null 2>&1; t_eq "$?" 1 "vault cat: use 3 of 2, refused"

# scrape URL KEY NAME: the page into $T_DIR/NAME.txt, checked into $T_DIR/NAME.json
scrape() {
    $CURL -s -D "$T_DIR/$3.hdr" -H "X-Api-Key: $2" "$1" >"$T_DIR/$3.txt"
    "$PYTHON3" "$top_srcdir/tests/e2e/prom_check.py" "$T_DIR/$3.txt" >"$T_DIR/$3.json" 2>"$T_DIR/$3.err"
}
# val NAME SERIES: a value of the scrape NAME (0 when absent)
val() { "$PYTHON3" -c "import json,sys; d=json.load(open('$T_DIR/$1.json')); print(int(d.get(sys.argv[1], 0)))" "$2"; }

scrape "http://127.0.0.1:$PM/metrics" "$KEYP" prov
t_check $? "provider /metrics: valid Prometheus text format $(cat "$T_DIR/prov.err")"
grep -qi "^content-type: text/plain; version=0.0.4" "$T_DIR/prov.hdr"; t_check $? "with the format's content type"
t_eq "$(val prov 'tessera_negotiations{role=provider,state=FINALIZED}')" 1 "provider: 1 finalized negotiation"
t_eq "$(val prov 'tessera_transfers{role=provider,state=COMPLETED}')" 1 "provider: 1 completed transfer"
t_eq "$(val prov 'tessera_agreements{}')" 1 "provider: 1 agreement"
t_eq "$(val prov 'tessera_offers{}') $(val prov 'tessera_assets{}')" "1 1" "provider: 1 offer of 1 asset"
[ "$(val prov 'tessera_policy_decisions_total{decision=permit,point=offer}')" -ge 1 ]
t_check $? "provider: the offer's policy permitted the consumer (point offer)"
t_eq "$(val prov 'tessera_policy_decisions_total{decision=permit,point=request}')" 1 "provider: 1 data request permitted"
[ "$(val prov 'tessera_http_requests_total{class=dsp,code=201,server=protocol}')" -ge 1 ]
t_check $? "provider: DSP requests counted by class and status"
[ "$(val prov 'tessera_http_requests_total{class=data,code=200,server=protocol}')" -ge 1 ]
t_check $? "provider: the data request counted"
[ "$(val prov 'tessera_data_bytes_total{}')" -ge 200000 ]; t_check $? "provider: the bytes sent counted"

scrape "http://127.0.0.1:$CM/metrics" "$KEYC" cons
t_check $? "consumer /metrics: valid $(cat "$T_DIR/cons.err")"
t_eq "$(val cons 'tessera_vault_objects{}') $(val cons 'tessera_vault_bytes{}')" "1 200000" "consumer: 1 object of 200000 bytes in the vault"
t_eq "$(val cons 'tessera_policy_decisions_total{decision=permit,point=use}')" 2 "consumer: 2 uses permitted (get's copy, vault cat)"
t_eq "$(val cons 'tessera_policy_decisions_total{decision=deny,point=use}')" 1 "consumer: 1 use refused"
t_eq "$(val cons 'tessera_ledger_entries{}')" "$($C --json ledger | jget 'len(d["items"])')" "consumer: the ledger's entries"
t_eq "$(val cons 'tessera_transfers{role=consumer,state=COMPLETED}')" 1 "consumer: 1 completed transfer"
[ "$(val cons 'tessera_http_requests_total{class=mgmt,code=200,server=management}')" -ge 3 ]
t_check $? "consumer: management API requests counted"
[ "$(val cons 'tessera_http_requests_total{class=mgmt,code=403,server=management}')" -ge 1 ]
t_check $? "consumer: the refused use's 403 counted"

t_eq "$($CURL -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PM/metrics")" 401 "without the key: 401"
t_eq "$($CURL -s -o /dev/null -w '%{http_code}' -H "X-Api-Key: nope" "http://127.0.0.1:$PM/metrics")" 401 "a wrong key: 401"
t_eq "$($CURL -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $KEYP" "http://127.0.0.1:$PM/metrics")" 200 \
    "the key as a Bearer token (a Prometheus scrape job): 200"

$CURL -s --cacert "$T_DIR/ca/ca.crt" "$CAT/metrics" >"$T_DIR/cat.txt"
"$PYTHON3" "$top_srcdir/tests/e2e/prom_check.py" "$T_DIR/cat.txt" >"$T_DIR/cat.json" 2>"$T_DIR/cat.err"
t_check $? "catalog /metrics: valid $(cat "$T_DIR/cat.err")"
t_eq "$(val cat 'tessera_catalog_credentials{status=active}')" 2 "catalog: 2 active credentials (participant and offer)"
[ "$(val cat 'tessera_catalog_ingests_total{outcome=accepted}')" -ge 1 ]; t_check $? "catalog: the ingest accepted"
[ "$(val cat 'tessera_catalog_queries_total{}')" -ge 2 ]; t_check $? "catalog: the queries counted"
$CURL -s --cacert "$T_DIR/ca/ca.crt" -o /dev/null -X POST --data 'not-a-jwt' "$CAT/credentials"
$CURL -s --cacert "$T_DIR/ca/ca.crt" "$CAT/metrics" >"$T_DIR/cat.txt"
"$PYTHON3" "$top_srcdir/tests/e2e/prom_check.py" "$T_DIR/cat.txt" >"$T_DIR/cat.json"
t_eq "$(val cat 'tessera_catalog_ingests_total{outcome=refused}')" 1 "catalog: a bad credential counted as refused"

printf 'x_total 1\n' >"$T_DIR/bad.txt"
"$PYTHON3" "$top_srcdir/tests/e2e/prom_check.py" "$T_DIR/bad.txt" >/dev/null 2>&1
t_eq "$?" 1 "the parser refuses a sample without HELP and TYPE (it can fail)"

space_stop
t_done
