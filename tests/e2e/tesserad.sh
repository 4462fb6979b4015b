#!/bin/sh
# tests/e2e/tesserad.sh: a participant made by `tessera ca` and
# `tessera init` runs as tesserad: its DID document and health on one port
# (h2/http1.1, TLS/cleartext), the management API and its key, mutual TLS,
# configuration errors with file:line, environment overrides, SIGHUP reload
# (a valid file applies, a broken one is refused), one daemon per state
# folder, SIGTERM stops cleanly.
. "${top_srcdir:-.}/tests/lib.sh"
t_need "$CURL" "$PYTHON3" openssl

TESSERA="$top_builddir/tessera"
TESSERAD="$top_builddir/tesserad"
free_port() { "$PYTHON3" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
P=$(free_port)
M=$(free_port)
A="$T_DIR/alice"
C="$CURL -s --max-time 10 --cacert $T_DIR/ca/ca.crt"

"$TESSERA" ca "$T_DIR/ca" >/dev/null
t_check $? "tessera ca"
did=$("$TESSERA" --json init "$A" --name "Alice AG" --host 127.0.0.1 --port "$P" --mgmt-port "$M" \
    --ca "$T_DIR/ca" | "$PYTHON3" -c 'import json,sys; print(json.load(sys.stdin)["did"])')
t_eq "$did" "did:web:127.0.0.1%3A$P" "tessera init prints the participant's did:web"

# --- options and configuration checks
"$TESSERAD" --version | grep -q "^tesserad [0-9]"; t_check $? "tesserad --version"
"$TESSERAD" --help-config >"$T_DIR/keys"
for k in participant.did server.port server.max_body_size management.api_key log.level; do
    grep -q "^$k " "$T_DIR/keys"; t_check $? "--help-config lists $k"
done
t_eq "$("$TESSERAD" -c "$A/tessera.conf" -n)" "configuration OK" "tesserad -n accepts the new participant"
"$TESSERAD" >/dev/null 2>&1; t_eq "$?" "2" "no -c is a usage error"

cp "$A/tessera.conf" "$T_DIR/bad.conf"
printf '[server]\nmax_body_sise = 1M\n' >>"$T_DIR/bad.conf"
line=$(wc -l <"$T_DIR/bad.conf")
err=$("$TESSERAD" -c "$T_DIR/bad.conf" -n 2>&1); rc=$?
t_eq "$rc" "1" "unknown key refused"
echo "$err" | grep -q "bad.conf:$line:.*max_body_sise.*max_body_size"
t_check $? "error names file:line and suggests the key ($err)"
cp "$A/tessera.conf" "$T_DIR/bad2.conf"
printf '[server]\nmax_streams = 0\n' >>"$T_DIR/bad2.conf"
err=$("$TESSERAD" -c "$T_DIR/bad2.conf" -n 2>&1)
t_eq "$?" "1" "out-of-range value refused"
echo "$err" | grep -q "bad2.conf:[0-9]*:.*max_streams"; t_check $? "and named ($err)"
err=$(TESSERA_SERVER_PORT=99999 "$TESSERAD" -c "$A/tessera.conf" -n 2>&1)
t_eq "$?" "1" "bad environment override refused"
echo "$err" | grep -q "TESSERA_SERVER_PORT"; t_check $? "and the variable named ($err)"

# --- running
"$TESSERAD" -c "$A/tessera.conf" -f 2>"$T_DIR/alice.log" &
D=$!
T_PIDS="$D"
i=0; until $C -o /dev/null "https://127.0.0.1:$P/health"; do
    i=$((i + 1)); [ $i -lt 100 ] || break; sleep 0.1; done
t_eq "$($C --http2 -w ' %{http_version}' "https://127.0.0.1:$P/health" | tr -d '\n')" '{"status":"ok"} 2' "health over h2+TLS"
t_eq "$($C --http1.1 -w ' %{http_version}' "https://127.0.0.1:$P/health" | tr -d '\n')" '{"status":"ok"} 1.1' "health over http/1.1+TLS"
t_eq "$($C --http2-prior-knowledge -w ' %{http_version}' "http://127.0.0.1:$P/health" | tr -d '\n')" '{"status":"ok"} 2' "health over h2c"
t_eq "$($C --http1.1 -w ' %{http_version}' "http://127.0.0.1:$P/health" | tr -d '\n')" '{"status":"ok"} 1.1' "health over cleartext http/1.1"

$C --http2 "https://127.0.0.1:$P/.well-known/did.json" >"$T_DIR/did.json"
openssl pkey -in "$A/participant.key" -pubout -outform DER 2>/dev/null >"$T_DIR/pub.der"
"$PYTHON3" - "$T_DIR/did.json" "$T_DIR/pub.der" "$did" <<'PY'
import base64, json, sys
doc = json.load(open(sys.argv[1]))
der = open(sys.argv[2], "rb").read()
did = sys.argv[3]
def b64(s): return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
vm = doc["verificationMethod"][0]
jwk = vm["publicKeyJwk"]
ok = (doc["id"] == did and vm["id"] == did + "#key-1" and vm["controller"] == did
      and jwk["kty"] == "EC" and jwk["crv"] == "P-256" and "d" not in jwk
      and der[-64:] == b64(jwk["x"]) + b64(jwk["y"])
      and doc["assertionMethod"] == [did + "#key-1"]
      and doc["service"][0]["serviceEndpoint"] == "https://" + did.split(":")[2].replace("%3A", ":"))
sys.exit(0 if ok else 1)
PY
t_check $? "did.json: our DID, the participant key's public half, no private part, DSP endpoint"

KEY=$(sed -n 's/^api_key = //p' "$A/tessera.conf")
MG="http://127.0.0.1:$M/api/v1/status"
t_eq "$($C -o /dev/null -w '%{http_code}' "$MG")" "401" "management API without key is 401"
t_eq "$($C -o /dev/null -w '%{http_code}' -H 'X-Api-Key: wrong-key-wrong-key' "$MG")" "401" "wrong key is 401"
got=$($C -H "X-Api-Key: $KEY" "$MG" | "$PYTHON3" -c 'import json,sys; print(json.load(sys.stdin)["did"])')
t_eq "$got" "$did" "management status with the key names the DID"
t_eq "$($C -o /dev/null -w '%{http_code}' -H "X-Api-Key: $KEY" "https://127.0.0.1:$P/api/v1/status")" "404" \
    "the management API is not on the protocol port"

"$TESSERAD" -c "$A/tessera.conf" -f 2>"$T_DIR/second.log"; rc=$?
t_eq "$rc" "1" "a second tesserad on the same state folder refuses to start"
grep -q "another tesserad" "$T_DIR/second.log"; t_check $? "and says why"

# --- SIGHUP: a broken file is refused, a valid change applies
big=$(head -c 3000 /dev/zero | tr '\0' a)
t_eq "$($C -o /dev/null -w '%{http_code}' -H "X-Big: $big" "https://127.0.0.1:$P/health")" "200" \
    "3 kB header accepted with the default limit"
cp "$A/tessera.conf" "$T_DIR/good.conf"
printf 'garbage line\n' >>"$A/tessera.conf"
kill -HUP "$D"; sleep 0.5
grep -q "reload refused" "$T_DIR/alice.log"; t_check $? "SIGHUP with a broken file is refused"
t_eq "$($C -o /dev/null -w '%{http_code}' "https://127.0.0.1:$P/health")" "200" "and the old configuration keeps serving"
cp "$T_DIR/good.conf" "$A/tessera.conf"
printf '[server]\nmax_header_size = 2k\n' >>"$A/tessera.conf"
kill -HUP "$D"; sleep 0.5
grep -q "configuration reloaded" "$T_DIR/alice.log"; t_check $? "SIGHUP with a valid file reloads"
t_eq "$($C -o /dev/null -w '%{http_code}' -H "X-Big: $big" "https://127.0.0.1:$P/health")" "431" \
    "the new header limit applies"
cp "$A/tessera.conf" "$T_DIR/good2.conf"
printf '[identity]\ndeny = did:web:example.com\n' >>"$A/tessera.conf"
kill -HUP "$D"; sleep 0.5
grep -q "reload refused: \[identity\] deny changed, which needs a restart" "$T_DIR/alice.log"
t_check $? "SIGHUP refuses a change it cannot apply without a restart, naming the key"
cp "$T_DIR/good2.conf" "$A/tessera.conf"
t_alive "$D"; t_check $? "tesserad still runs"

# --- SIGTERM
kill -TERM "$D"; wait "$D"; rc=$?
t_eq "$rc" "0" "SIGTERM stops tesserad with status 0"
T_PIDS=""
cp "$T_DIR/good.conf" "$A/tessera.conf"

# --- mutual TLS: client certificates checked against the CA when configured
TESSERA_SERVER_CLIENT_CA="$T_DIR/ca/ca.crt" TESSERA_SERVER_REQUIRE_CLIENT_CERT=yes \
    "$TESSERAD" -c "$A/tessera.conf" -f 2>"$T_DIR/mtls.log" &
D=$!
T_PIDS="$D"
i=0; until $C -o /dev/null --cert "$A/tls.crt" --key "$A/tls.key" "https://127.0.0.1:$P/health"; do
    i=$((i + 1)); [ $i -lt 100 ] || break; sleep 0.1; done
t_eq "$($C --cert "$A/tls.crt" --key "$A/tls.key" "https://127.0.0.1:$P/health")" '{"status":"ok"}' \
    "mutual TLS: a certificate from the CA is accepted"
$C -o /dev/null "https://127.0.0.1:$P/health"; rc=$?
t_check $([ $rc -ne 0 ] && echo 0 || echo 1) "mutual TLS: no client certificate, no connection (curl $rc)"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T_DIR/x.key" \
    -out "$T_DIR/x.crt" -days 1 -subj /CN=mallory >/dev/null 2>&1
$C -o /dev/null --cert "$T_DIR/x.crt" --key "$T_DIR/x.key" "https://127.0.0.1:$P/health"; rc=$?
t_check $([ $rc -ne 0 ] && echo 0 || echo 1) "mutual TLS: a self-signed client certificate is refused (curl $rc)"
kill -TERM "$D"; wait "$D"
T_PIDS=""
if grep -q 'AddressSanitizer\|runtime error' "$T_DIR"/*.log; then
    t_check 1 "sanitizer reports"; cat "$T_DIR"/*.log
fi
t_done
