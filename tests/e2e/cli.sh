#!/bin/sh
# tests/e2e/cli.sh: every tessera command and sub-command against real
# daemons (a catalog node, a provider and a consumer on loopback), each
# with --json: the output is one JSON document (parsed), with the fields
# scripts rely on; and the exit status of each failure class: 2 for a
# usage error, 1 for a refusal (unknown id, duplicate, policy), 3 when the
# connector or the peer cannot be reached, with {"error", "exit"} on
# stdout under --json.  Also: a command list the test knows must match
# `tessera help`, so a new command without a case here fails.
. "${top_srcdir:-.}/tests/lib.sh"
t_need "$CURL" "$PYTHON3" openssl

. "$top_srcdir/tests/e2e/space_lib.sh"

# js FILE EXPR: evaluate a python expression on the JSON document in FILE (as d)
js() { "$PYTHON3" -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }
# j NAME TESSERA-ARGS...: run tessera --json ARGS; stdout into $T_DIR/NAME.json; check that the
# exit status is 0 and stdout is exactly one JSON document
N=0
j() {
    name=$1; shift
    "$TESSERA" --json "$@" >"$T_DIR/$name.json" 2>"$T_DIR/$name.err"
    rc=$?
    if [ $rc = 0 ] && "$PYTHON3" -c 'import json,sys; json.load(open(sys.argv[1]))' "$T_DIR/$name.json" 2>/dev/null; then
        t_check 0 "tessera $*: exit 0, one JSON document"
    else
        t_check 1 "tessera $*: exit $rc, $(head -c 300 "$T_DIR/$name.err")"
    fi
}
# fails STATUS NAME TESSERA-ARGS...: the command exits STATUS; with --json its stdout is
# {"error": TEXT, "exit": STATUS}
fails() {
    want=$1; name=$2; shift 2
    "$TESSERA" --json "$@" >"$T_DIR/$name.json" 2>"$T_DIR/$name.err"
    rc=$?
    got=$(js "$T_DIR/$name.json" 'd["exit"], bool(d["error"])' 2>/dev/null)
    if [ "$rc" = "$want" ] && [ "$got" = "$want True" ]; then
        t_check 0 "tessera $*: exit $want ($(head -n 1 "$T_DIR/$name.err"))"
    else
        t_check 1 "tessera $*: exit $rc, want $want; stdout $(head -c 200 "$T_DIR/$name.json")"
    fi
}

# --- commands without a connector
j ca ca "$T_DIR/ca"
t_eq "$(js "$T_DIR/ca.json" 'bool(d["certificate"] if "certificate" in d else d)')" True "ca: a result"
j catinit catalog init "$T_DIR/cat" --port "$KP" --ca "$T_DIR/ca"
j pinit init "$PROV" --name Provider --port "$PP" --mgmt-port "$PM" --ca "$T_DIR/ca" --catalog "$CAT"
t_eq "$(js "$T_DIR/pinit.json" 'd["did"]')" "did:web:127.0.0.1%3A$PP" "init: the DID"
j cinit init "$CONS" --name Consumer --port "$CP" --mgmt-port "$CM" --ca "$T_DIR/ca"
j version version
j help help
printf '{"@type":"Set","permission":[{"action":"use","constraint":[{"leftOperand":"count","operator":"lteq","rightOperand":2}]}]}\n' >"$T_DIR/p.json"
j eval policy eval "$T_DIR/p.json" --count 1
t_eq "$(js "$T_DIR/eval.json" 'd["decision"] if "decision" in d else d.get("permitted")')" permit "policy eval: permit"
"$TESSERA" --json policy eval "$T_DIR/p.json" --count 3 >"$T_DIR/deny.json" 2>/dev/null
t_eq "$?:$(js "$T_DIR/deny.json" 'd["decision"]')" "1:deny" "policy eval, a 3rd use of 2: deny, exit 1, the decision as JSON"
fails 2 initagain init
fails 1 initexists init "$PROV"
fails 2 nocmd frobnicate
fails 2 badopt status --frob

# the commands this test drives; a new one must be added here
cmds=$("$TESSERA" --json help | "$PYTHON3" -c 'import json,sys; print(" ".join(c["name"] for c in json.load(sys.stdin)["commands"]))')
t_eq "$cmds" "agreement asset ca catalog get help init ledger negotiate negotiation offer policy sd status transfer vault version" \
    "tessera help lists the commands this test covers"

fails 2 noconn status
DEAD=$(free_port)
"$TESSERA" --json --api "http://127.0.0.1:$DEAD" --api-key k status >"$T_DIR/dead.json" 2>/dev/null
t_eq "$?" 3 "status: a connector that does not answer: exit 3"

SPACE_CATALOG=1
space_start
P="-C $PROV"
C="-C $CONS"

# --- the provider's side
j status $P status
t_eq "$(js "$T_DIR/status.json" 'd["did"], d["dsp"]')" "did:web:127.0.0.1%3A$PP True" "status: DID, DSP engine up"
head -c 100000 /dev/urandom >"$T_DIR/data.bin"
j aadd $P asset add data --file "$T_DIR/data.bin" --title "CLI sample" --keyword cli --media-type application/octet-stream
t_eq "$(js "$T_DIR/aadd.json" 'd["id"], d["size"]')" "data 100000" "asset add: id and size"
fails 1 adup $P asset add data --file "$T_DIR/data.bin"
fails 2 anofile $P asset add other
j als $P asset ls
t_eq "$(js "$T_DIR/als.json" 'len(d["items"])')" 1 "asset ls: {items: [1]}"
j ashow $P asset show data
t_eq "$(js "$T_DIR/ashow.json" 'd["title"]')" "CLI sample" "asset show: the title"
fails 1 anone $P asset show nope
j padd $P policy add twice "$T_DIR/p.json"
j pls $P policy ls
j pshow $P policy show twice
t_eq "$(js "$T_DIR/pshow.json" 'd["policy"]["permission"][0]["action"]')" use "policy show: the policy"
j oadd $P offer add data-offer --asset data --policy twice
fails 1 onoasset $P offer add x --asset nope --policy twice
j ols $P offer ls
j oshow $P offer show data-offer
t_eq "$(js "$T_DIR/oshow.json" 'd["asset_id"], d["policy_id"]')" "data twice" "offer show: asset and policy"
j sdshow $P sd show
j sdpub $P sd publish
i=0; until [ "$("$TESSERA" --json catalog query --catalog "$CAT" CLI 2>/dev/null | "$PYTHON3" -c 'import json,sys; print(json.load(sys.stdin)["count"])' 2>/dev/null)" = 1 ]; do
    i=$((i + 1)); [ $i -lt 100 ] || break; sleep 0.1; done
j query catalog query --catalog "$CAT" CLI
t_eq "$(js "$T_DIR/query.json" 'd["count"], d["items"][0]["dataset_id"]')" "1 data" "catalog query: the offer, found at the catalog node"
fails 3 querydead catalog query --catalog "https://127.0.0.1:$DEAD" CLI

# --- the consumer's side
j fetch $C catalog fetch "$PURL"
fails 3 fetchdead $C catalog fetch "https://127.0.0.1:$DEAD"
fails 2 fetchbad $C catalog fetch not-a-url
j neg $C negotiate "$PURL" data-offer --wait
AG=$(js "$T_DIR/neg.json" 'd["agreement_id"]')
t_eq "$(js "$T_DIR/neg.json" 'd["state"]')" FINALIZED "negotiate --wait: FINALIZED"
j negnowait $C negotiate "$PURL" data-offer
NEG2=$(js "$T_DIR/negnowait.json" 'd["id"]')
fails 1 negbad $C negotiate "$PURL" nope --wait
j nls $C negotiation ls
j nshow $C negotiation show "$NEG2"
i=0; until [ "$(js "$T_DIR/nshow.json" 'd["state"]')" = FINALIZED ] || [ $i -ge 50 ]; do
    i=$((i + 1)); sleep 0.1; "$TESSERA" --json $C negotiation show "$NEG2" >"$T_DIR/nshow.json"; done
fails 1 nterm $C negotiation terminate "$NEG2"
j agls $C agreement ls
j agshow $C agreement show "$AG"
t_eq "$(js "$T_DIR/agshow.json" 'd["id"]')" "$AG" "agreement show: the agreement"
j tp $C transfer "$AG" --wait
TP=$(js "$T_DIR/tp.json" 'd["id"]')
t_eq "$(js "$T_DIR/tp.json" 'd["state"], d["bytes"]')" "COMPLETED 100000" "transfer --wait: COMPLETED, 100000 bytes"
j tls $C transfer ls --state COMPLETED
j tshow $C transfer show "$TP"
fails 1 tsusp $C transfer suspend "$TP"
fails 1 tres $C transfer resume "$TP"
fails 1 tterm $C transfer terminate "$TP"
fails 1 tnone $C transfer nope-agreement
j get $C get "$PURL" data-offer -o "$T_DIR/got.bin"
cmp -s "$T_DIR/data.bin" "$T_DIR/got.bin"; t_check $? "get: the bytes"
j vls $C vault ls
OBJ=$(js "$T_DIR/vls.json" '[o["id"] for o in d["items"] if o["agreement_id"] == "'"$AG"'"][0]')
j vshow $C vault show "$OBJ"
t_eq "$(js "$T_DIR/vshow.json" 'd["size"]')" 100000 "vault show: the size"
"$TESSERA" $C vault cat "$OBJ" >"$T_DIR/cat.bin"; t_check $? "vault cat: use 1 of 2"
cmp -s "$T_DIR/data.bin" "$T_DIR/cat.bin"; t_check $? "vault cat: the bytes"
"$TESSERA" $C vault cat "$OBJ" >/dev/null; t_check $? "vault cat: use 2 of 2"
"$TESSERA" $C vault cat "$OBJ" >/dev/null 2>"$T_DIR/vcat3.err"
t_eq "$?" 1 "vault cat: use 3 of 2 refused, exit 1 ($(cat "$T_DIR/vcat3.err"))"
fails 2 vcatjson $C vault cat "$OBJ"
j ledger $C ledger
j lverify $C ledger --verify
t_eq "$(js "$T_DIR/lverify.json" 'd["valid"]')" True "ledger --verify: valid"
j agledger $P agreement ledger "$AG"
t_eq "$(js "$T_DIR/agledger.json" 'd["verified"]')" True "agreement ledger (provider): verified"
j vrm $C vault rm "$OBJ"
fails 1 vrm2 $C vault rm "$OBJ"

# --- removal on the provider's side
j orm $P offer rm data-offer
j prm $P policy rm twice
fails 1 prm2 $P policy rm twice
j arm $P asset rm data

space_stop
t_done
