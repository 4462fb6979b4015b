# tests/e2e/catalog_lib.sh: helpers of the catalog end-to-end tests
# (tests/e2e/catalog.sh: three nodes federated as a ring;
# tests/e2e/catalog_chain.sh: as a chain), sourced after tests/lib.sh.
# Each node must refuse, with its reason, what it is sent directly
# (cat_refusals) and what a peer relays after someone tampered with the
# peer's log (cat_relay_forgery): a node re-verifies everything.

TESSERA="$top_builddir/tessera"
TESSERAD="$top_builddir/tesserad"
CATALOGD="$top_builddir/tessera-catalogd"
MINT="$top_builddir/tests/e2e/mint_vc"
CA="$T_DIR/ca"
C="$CURL -s --cacert $CA/ca.crt"
export TESSERA_CLIENT_CA_FILE="$CA/ca.crt"

free_port() { "$PYTHON3" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
jget() { "$PYTHON3" -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# wait_up URL: until /health answers
wait_up() {
    i=0; until $C -o /dev/null "$1/health"; do
        i=$((i + 1)); [ $i -lt 100 ] || return 1; sleep 0.05; done
}
# count_at URL ARGS...: the number of results of a query
count_at() { u=$1; shift; $TESSERA --json catalog query --catalog "$u" "$@" | jget 'd["count"]'; }
# wait_count N URL ARGS...: until the query finds N results (5 s)
wait_count() {
    n=$1; shift; i=0
    while [ "$(count_at "$@" 2>/dev/null)" != "$n" ]; do
        i=$((i + 1)); [ $i -lt 50 ] || return 1; sleep 0.1; done
}

# nm URL: A, B or C for the node's URL (the tests name them $A, $B, $CC)
nm() {
    case $1 in "${A:-}") echo A ;; "${B:-}") echo B ;; "${CC:-}") echo C ;; *) echo "$1" ;; esac
}

# cat_node NAME PORT [PEER_URL]...: a catalog node's folder $T_DIR/catNAME
cat_node() {
    name=$1; port=$2; shift 2
    peers=""
    for p in "$@"; do peers="$peers --peer $p"; done
    # shellcheck disable=SC2086
    "$TESSERA" catalog init "$T_DIR/cat$name" --port "$port" $peers --ca "$CA" >/dev/null
}

# cat_provider DIR NAME PORT MGMT_PORT CATALOG_URL: a connector publishing to the catalog
cat_provider() {
    "$TESSERA" init "$1" --name "$2" --port "$3" --mgmt-port "$4" --ca "$CA" >/dev/null &&
        printf '\n[catalog]\nurls = %s\n' "$5" >>"$1/tessera.conf"
}

# cat_offer_jwt SD_JSON: the VC-JWT of the offer in `tessera --json sd show` output
cat_offer_jwt() { jget '[c["jwt"] for c in d["credentials"] if c["offer_id"]][0]' <"$1"; }

# cat_tamper JWT: the JWT with its offer's name and keywords changed, its signature kept
cat_tamper() {
    "$PYTHON3" - "$1" <<'EOF'
import base64, json, sys
h, p, s = sys.argv[1].split(".")
d = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
d["credentialSubject"]["schema:name"] = "Tampered offer"
d["credentialSubject"]["gx:keyword"] = ["tampered"]
p = base64.urlsafe_b64encode(json.dumps(d, separators=(",", ":")).encode()).decode().rstrip("=")
print(h + "." + p + "." + s)
EOF
}

# cat_variant SD_JSON KEY KID PYTHON: the offer credential of SD_JSON changed by PYTHON
# (on c, the credential, and s, its subject) and signed with KEY as KID
cat_variant() {
    "$PYTHON3" -c "
import json, sys
d = json.load(open(sys.argv[1]))
c = [x['credential'] for x in d['credentials'] if x['offer_id']][0]
s = c['credentialSubject']
$4
json.dump(c, sys.stdout)" "$1" | "$MINT" "$2" "$3"
}

# cat_refusals SD_JSON KEY DID NODE_URL...: a forged, a tampered, an expired, a
# wrongly issued, an incomplete and a not closed offer credential are each refused
# (422) at every node with their reason, and none of them is listed there.
cat_refusals() {
    sd=$1; key=$2; did=$3; shift 3
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
        -out "$T_DIR/attacker.key" 2>/dev/null
    t_check $? "an attacker's key"
    for v in "forged|attacker|s['schema:name'] = 'Tampered offer'|signature does not verify" \
             "tampered|tamper||signature does not verify" \
             "expired|$key|c['validFrom'] = '2020-01-01T00:00:00Z'; c['validUntil'] = '2021-01-01T00:00:00Z'|expired" \
             "wrongly issued|$key|s['gx:providedBy'] = {'id': 'did:web:victim.example'}|may not describe" \
             "incomplete|$key|del s['gx:serviceOfferingTermsAndConditions']|TermsAndConditions is missing" \
             "not closed|$key|s['gx:bogus'] = 1|closed shape"; do
        name=${v%%|*}; rest=${v#*|}; signer=${rest%%|*}; rest=${rest#*|}
        expr=${rest%%|*}; reason=${rest#*|}
        case $signer in
        tamper) jwt=$(cat_tamper "$(cat_offer_jwt "$sd")") ;;
        attacker) jwt=$(cat_variant "$sd" "$T_DIR/attacker.key" "$did#key-1" "$expr") ;;
        *) jwt=$(cat_variant "$sd" "$signer" "$did#key-1" "$expr") ;;
        esac
        t_check $? "make a $name credential"
        for node in "$@"; do
            code=$($C -o "$T_DIR/r.json" -w '%{http_code}' -X POST \
                --data-binary "$jwt" "$node/credentials")
            [ "$code" = 422 ] && grep -q "$reason" "$T_DIR/r.json"
            t_check $? "$name: refused ($code) at $(nm "$node") with \"$reason\""
        done
    done
    for node in "$@"; do
        t_eq "$(count_at "$node" tampered)/$(count_at "$node" --participant did:web:victim.example)" \
            0/0 "$(nm "$node") lists none of them"
    done
}

# cat_relay_forgery FROM_DIR FROM_URL TO_URL TO_LOG WAKE_JWT BAD_JWT: BAD_JWT written
# into FROM's event log behind its back (as a compromised or lying node would serve
# it) is refused by TO, which pulls FROM, and not listed there.  Posting WAKE_JWT
# (already known to FROM: a duplicate, nothing changes) answers TO's long poll.
cat_relay_forgery() {
    from_dir=$1; from=$2; to=$3; to_log=$4; wake=$5; bad=$6
    sqlite3 "$from_dir/state/catalog.db" \
        "INSERT INTO cat_event (kind, ref, jwt, at_ms) VALUES ('published', 'forged', '$bad', 0)"
    t_check $? "a forged entry is written into the log of $(nm "$from")"
    $C -o /dev/null -X POST --data-binary "$wake" "$from/credentials"
    t_wait_file "$to_log" "peer $from: entry refused: .*signature does not verify" 10
    t_check $? "$(nm "$to") refuses the forged entry it pulled from $(nm "$from"), saying why"
    t_eq "$(count_at "$to" tampered)" 0 "... and $(nm "$to") does not list it"
}
