#!/bin/sh
# tests/cli/get.sh: `tessera get PROVIDER_URL OFFER_ID -o PATH` against two
# real connectors on loopback: negotiate + transfer + verify in one command
# writes the provider's exact bytes to PATH (exit 0, --json parsed), and
# each failure class has its exit status: 2 usage, 1 refused (an unknown
# offer, a policy that does not permit the consumer, PATH already there),
# 3 unreachable (the provider, or the consumer's own connector).
. "${top_srcdir:-.}/tests/lib.sh"
t_need "$CURL" "$PYTHON3" openssl

. "$top_srcdir/tests/e2e/space_lib.sh"
space_init
space_start
P="$TESSERA -C $PROV"
C="$TESSERA -C $CONS"

head -c 700000 /dev/urandom >"$T_DIR/data.bin"
printf '{"@type":"Set","permission":[{"action":"use"}]}\n' >"$T_DIR/use.json"
printf '{"@type":"Set","permission":[{"action":"use","assignee":"did:web:someone.else"}]}\n' >"$T_DIR/other.json"
$P asset add data --file "$T_DIR/data.bin" >/dev/null &&
    $P policy add use "$T_DIR/use.json" >/dev/null &&
    $P policy add other "$T_DIR/other.json" >/dev/null &&
    $P offer add data-offer --asset data --policy use >/dev/null &&
    $P offer add closed-offer --asset data --policy other >/dev/null
t_check $? "provider: an asset offered under two policies"

$C get "$PURL" data-offer -o "$T_DIR/got.bin" >"$T_DIR/out" 2>"$T_DIR/err"
t_eq "$?" 0 "get: negotiated, transferred and verified (exit 0)"
cmp -s "$T_DIR/data.bin" "$T_DIR/got.bin"; t_check $? "PATH holds the provider's exact bytes"
sum=$(sha256sum "$T_DIR/data.bin" | cut -d' ' -f1)
grep -q "$sum verified" "$T_DIR/out"; t_check $? "it says the digest was verified: $(cat "$T_DIR/out")"
grep -q "agreement" "$T_DIR/err"; t_check $? "and names the agreement on stderr"
t_eq "$($C --json vault ls | jget 'len(d["items"])')" 1 "the data is also in the consumer's vault"

$C --json get "$PURL" data-offer -o "$T_DIR/got2.bin" >"$T_DIR/out.json"
t_eq "$?" 0 "get --json: exit 0"
t_eq "$(jget 'd["verified"], d["bytes"], d["sha256"] == "'"$sum"'", bool(d["agreement_id"]), bool(d["transfer_id"])' <"$T_DIR/out.json")" \
    "True 700000 True True True" "get --json: one document with the ids, size and digest"

# --- usage errors: exit 2
$C get "$PURL" data-offer >/dev/null 2>"$T_DIR/err"; t_eq "$?" 2 "without -o: usage error (exit 2)"
grep -q "\-o PATH" "$T_DIR/err"; t_check $? "saying what is missing: $(head -n 1 "$T_DIR/err")"
$C get "$PURL" -o "$T_DIR/x" >/dev/null 2>&1; t_eq "$?" 2 "without OFFER_ID: exit 2"
$C get ftp://x data-offer -o "$T_DIR/x" >/dev/null 2>&1; t_eq "$?" 2 "not an http(s) URL: exit 2"
$C get --bogus "$PURL" data-offer -o "$T_DIR/x" >/dev/null 2>&1; t_eq "$?" 2 "an unknown option: exit 2"

# --- refused: exit 1
$C get "$PURL" data-offer -o "$T_DIR/got.bin" >/dev/null 2>"$T_DIR/err"
t_eq "$?" 1 "PATH exists: refused (exit 1), nothing overwritten"
cmp -s "$T_DIR/data.bin" "$T_DIR/got.bin"; t_check $? "the existing file is untouched"
$C get "$PURL" no-such-offer -o "$T_DIR/x1" >/dev/null 2>"$T_DIR/err"
t_eq "$?" 1 "an unknown offer: exit 1 ($(cat "$T_DIR/err"))"
$C --json get "$PURL" closed-offer -o "$T_DIR/x2" >"$T_DIR/err.json" 2>"$T_DIR/err"
t_eq "$?" 1 "an offer whose policy does not permit us: exit 1 ($(cat "$T_DIR/err"))"
t_eq "$(jget 'd["exit"], bool(d["error"])' <"$T_DIR/err.json")" "1 True" "--json: the error as one document"
[ ! -e "$T_DIR/x1" ] && [ ! -e "$T_DIR/x2" ]; t_check $? "no file is left behind by a refusal"

# --- unreachable: exit 3
DEAD=$(free_port)
$C get "https://127.0.0.1:$DEAD" data-offer -o "$T_DIR/x3" >/dev/null 2>"$T_DIR/err"
t_eq "$?" 3 "a provider that cannot be reached: exit 3 ($(cat "$T_DIR/err"))"
"$TESSERA" --api "http://127.0.0.1:$DEAD" --api-key k get "$PURL" data-offer -o "$T_DIR/x4" >/dev/null 2>&1
t_eq "$?" 3 "our own connector cannot be reached: exit 3"

$C get -h | grep -qi "negotiate"; t_check $? "get -h explains the command"

space_stop
t_done
