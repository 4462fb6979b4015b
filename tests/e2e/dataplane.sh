# tests/e2e/dataplane.sh: what the data-plane tests (transfer.sh, push.sh)
# share, sourced after tests/lib.sh.  Expects $TESSERAD, $C (curl with
# the test CA), $CC and $P (the CLI on the consumer and the provider), $PP
# (the provider's protocol port) and $T_DIR.
jget() { "$PYTHON3" -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# up NAME DIR PORT [ENV=VALUE...]: start a daemon (its pid in UP), wait until /health answers.
up() {
    n=$1 dir=$2 port=$3
    shift 3
    env "$@" "$TESSERAD" -c "$dir/tessera.conf" -f -d data >/dev/null 2>>"$T_DIR/$n.log" &
    UP=$!
    i=0; until $C -o /dev/null "https://127.0.0.1:$port/health"; do
        i=$((i + 1)); [ $i -lt 100 ] || break; sleep 0.05; done
}

# dp_offers SIZE: offers data (SIZE random bytes), changing (a copy of
# it) and small (64 KiB) under a plain "use" policy at P, and the
# consumer's agreements for them in AG, AGX and AGS.
dp_offers() {
    head -c "$1" /dev/urandom >"$T_DIR/data.bin"
    cp "$T_DIR/data.bin" "$T_DIR/changing.bin"
    head -c 65536 /dev/urandom >"$T_DIR/small.bin"
    printf '{"@type": "Set", "permission": [{"action": "use"}]}\n' >"$T_DIR/use.json"
    $P policy add use "$T_DIR/use.json" >/dev/null
    for a in data changing small; do
        $P asset add "$a" --file "$T_DIR/$a.bin" >/dev/null
        $P offer add "$a" --asset "$a" --policy use >/dev/null
    done
    AG=$(dp_agree data)
    AGX=$(dp_agree changing)
    AGS=$(dp_agree small)
    case "$AG $AGX $AGS" in
    urn:uuid:*" "urn:uuid:*" "urn:uuid:*) t_check 0 "three agreements" ;;
    *) t_check 1 "three agreements ($AG $AGX $AGS)"; t_done ;;
    esac
}
dp_agree() { $CC negotiate "https://127.0.0.1:$PP/dsp/2025-1" "$1" --wait 2>/dev/null | tail -n 1; }

# show ID MEMBER: a member of C's transfer ID.
show() { $CC --json transfer show "$1" | jget "d.get(\"$2\")"; }
# wait_state ID STATE [SECONDS]
wait_state() {
    i=0; lim=$(( ${3:-30} * 10 ))
    while [ "$(show "$1" state)" != "$2" ]; do
        i=$((i + 1)); [ $i -lt $lim ] || return 1; sleep 0.1; done
}
# vault_obj TRANSFER: C's vault object for the transfer, or nothing.
vault_obj() {
    $CC --json vault ls | jget '" ".join(o["id"] for o in d["items"] if o["transfer_id"] == "'"$1"'")'
}
# exact TRANSFER FILE DESC: the vault object of TRANSFER decrypts to FILE.
exact() {
    o=$(vault_obj "$1")
    if [ -n "$o" ] && $CC vault cat "$o" | cmp -s - "$2"; then t_check 0 "$3"
    else t_check 1 "$3 (object '$o')"; fi
}
