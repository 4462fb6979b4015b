#!/bin/sh
# tests/e2e/catalog_chain.sh: three catalog nodes federated as a chain (C
# pulls B's event log, B pulls A's, A pulls nobody; tests/e2e/catalog.sh
# runs them as a ring) and three provider connectors publishing to A.  A
# query at C finds an offer published at A within 2 seconds, through B;
# a removed offer disappears from all three; a forged, tampered, expired,
# wrongly issued, incomplete or not closed credential is refused at every
# node with its reason; a forgery written into A's or B's event log is
# refused by the next node down the chain and never reaches C.
. "${top_srcdir:-.}/tests/lib.sh"
t_need "$CURL" "$PYTHON3" sqlite3 openssl
. "$top_srcdir/tests/e2e/catalog_lib.sh"

AP=$(free_port); BP=$(free_port); CP=$(free_port)
A="https://127.0.0.1:$AP"
B="https://127.0.0.1:$BP"
CC="https://127.0.0.1:$CP"
export TESSERA_PARTICIPANT_REGISTRATION_NUMBER=DE123456789 TESSERA_PARTICIPANT_LEGAL_COUNTRY=DE

"$TESSERA" ca "$CA" >/dev/null || exit 1
cat_node A "$AP"; t_check $? "catalog init A, no peer (the head of the chain)"
cat_node B "$BP" "$A"; t_check $? "catalog init B, peer A"
cat_node C "$CP" "$B"; t_check $? "catalog init C, peer B"
grep -q "^peers" "$T_DIR/catA/catalog.conf"; t_eq $? 1 "A has no peers"
for n in A B C; do
    "$CATALOGD" -c "$T_DIR/cat$n/catalog.conf" -f 2>"$T_DIR/cat$n.log" &
    T_PIDS="$T_PIDS $!"
done
wait_up "$A" && wait_up "$B" && wait_up "$CC"; t_check $? "the three nodes are up"

# --- three connectors publish to A; their participants reach C through B
for n in 1 2 3; do
    port=$(free_port); mport=$(free_port)
    cat_provider "$T_DIR/prov$n" "Provider $n" "$port" "$mport" "$A" || exit 1
    "$TESSERAD" -c "$T_DIR/prov$n/tessera.conf" -f 2>"$T_DIR/prov$n.log" &
    T_PIDS="$T_PIDS $!"
    eval "PORT$n=$port"
    wait_up "https://127.0.0.1:$port"; t_check $? "connector $n is up"
done
wait_count 3 "$CC" --type LegalPerson; t_check $? "C lists the three participants"

echo "t,v" >"$T_DIR/data.csv"
printf '{"@type":"Set","permission":[{"action":"use"}]}\n' >"$T_DIR/policy.json"
for n in 1 2 3; do
    Tn="$TESSERA -C $T_DIR/prov$n"
    $Tn asset add "gauges-$n" --file "$T_DIR/data.csv" --title "Pressure gauges $n" \
        --description "Readings of gauge bank $n" --keyword gauges --media-type text/csv \
        >/dev/null && $Tn policy add use "$T_DIR/policy.json" >/dev/null
    t_check $? "provider $n: asset and policy"
done
T="$TESSERA -C $T_DIR/prov1"
DID="did:web:127.0.0.1%3A$PORT1"

# --- an offer published at A is found at C within 2 seconds
T_OFFER=$(date +%s%N)
$T offer add gauges-1-offer --asset gauges-1 --policy use >/dev/null
t_check $? "provider 1: offer added"
wait_count 1 "$CC" pressure gauges --participant "$DID"; t_check $? "C finds it, through B"
ms=$(( ($(date +%s%N) - T_OFFER) / 1000000 ))
[ "$ms" -lt 2000 ]; t_check $? "C finds it within 2 seconds of the offer's creation ($ms ms)"
for n in 2 3; do
    $TESSERA -C "$T_DIR/prov$n" offer add "gauges-$n-offer" --asset "gauges-$n" --policy use \
        >/dev/null
    t_check $? "provider $n: offer added"
done
for node in "$A" "$B" "$CC"; do
    wait_count 3 "$node" pressure gauges --keyword gauges
    t_check $? "$(nm "$node") lists the three offers"
done
$C "$CC/query?q=gauges&limit=5" >"$T_DIR/c.json"
want=$(for p in "$PORT1" "$PORT2" "$PORT3"; do echo "https://127.0.0.1:$p/dsp/2025-1"; done |
    LC_ALL=C sort | tr '\n' ' ')
t_eq "$(jget '" ".join(sorted(set(i["endpoint"] for i in d["items"]))) + " "' <"$T_DIR/c.json")" \
    "$want" "C's results link to each offering connector's DSP endpoint"

# --- refused with their reason at every node
$T --json sd show >"$T_DIR/sd.json"; t_check $? "tessera sd show"
cat_refusals "$T_DIR/sd.json" "$T_DIR/prov1/participant.key" "$DID" "$A" "$B" "$CC"

# --- a forgery in A's log is refused by B; one in B's log by C; neither reaches C
BAD=$(cat_tamper "$(cat_offer_jwt "$T_DIR/sd.json")")
WAKE=$(cat_offer_jwt "$T_DIR/sd.json")
cat_relay_forgery "$T_DIR/catA" "$A" "$B" "$T_DIR/catB.log" "$WAKE" "$BAD"
cat_relay_forgery "$T_DIR/catB" "$B" "$CC" "$T_DIR/catC.log" "$WAKE" "$BAD"
t_eq "$(count_at "$CC" tampered)" 0 "C lists neither forgery"

# --- a removed offer disappears from all three
$T offer rm gauges-1-offer >/dev/null; t_check $? "provider 1: offer rm"
for node in "$A" "$B" "$CC"; do
    wait_count 0 "$node" pressure gauges --participant "$DID"
    t_check $? "$(nm "$node") no longer lists the removed offer"
    t_eq "$(count_at "$node" pressure gauges)" 2 "$(nm "$node") still lists the other two"
done
$C "$CC/events?after=0&limit=1000" | jget '[e["kind"] for e in d["events"]]' | grep -q withdrawn
t_check $? "C's own event log holds the withdrawal it relayed"

t_done
