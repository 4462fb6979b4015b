#!/bin/sh
# tests/cli/ca_init.sh: `tessera ca` and `tessera init` make a CA and
# participants whose files, modes, certificates and configuration are what
# tessera(1) promises; the command framework's lookup, help, usage errors,
# exit statuses and --json output behave as documented.
. "${top_srcdir:-.}/tests/lib.sh"
t_need openssl "$PYTHON3"

T="$top_builddir/tessera"
D="$T_DIR"
is_json() { "$PYTHON3" -c 'import json,sys; json.load(sys.stdin)'; }
# jget KEY: a string member of the JSON document on stdin
jget() { "$PYTHON3" -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
mode() { stat -c %a "$1"; }

# --- tessera ca
out=$("$T" ca "$D/ca" 2>"$D/err"); rc=$?
t_eq "$rc" 0 "ca exits 0"
t_eq "$out" "$(cd "$D/ca" && pwd)/ca.crt" "ca prints the certificate's path"
t_eq "$(mode "$D/ca")" 700 "CA folder is 0700"
t_eq "$(mode "$D/ca/ca.crt")" 644 "ca.crt is 0644"
t_eq "$(mode "$D/ca/ca.key")" 600 "ca.key is 0600"
openssl x509 -in "$D/ca/ca.crt" -noout -text >"$D/ca.txt" 2>&1
grep -q "CA:TRUE" "$D/ca.txt"; t_check $? "ca.crt is a CA certificate"
grep -q "Subject:.*CN *= *tessera demo CA" "$D/ca.txt"; t_check $? "default CA name"
sum=$(sha256sum <"$D/ca/ca.key")
"$T" ca "$D/ca" >/dev/null 2>"$D/err"; rc=$?
t_eq "$rc" 1 "second ca into the same folder exits 1"
grep -q "^tessera: .*already holds a CA" "$D/err"; t_check $? "and says why"
t_eq "$(sha256sum <"$D/ca/ca.key")" "$sum" "and leaves the CA key alone"
"$T" --json ca --name "Test CA 2" "$D/ca2" >"$D/out" 2>"$D/err"; rc=$?
t_eq "$rc" 0 "ca --json --name exits 0"
is_json <"$D/out"; t_check $? "ca --json prints one JSON document"
t_eq "$(jget certificate <"$D/out")" "$(cd "$D/ca2" && pwd)/ca.crt" "ca --json certificate"
t_eq "$(jget dir <"$D/out")" "$(cd "$D/ca2" && pwd)" "ca --json dir"
openssl x509 -in "$D/ca2/ca.crt" -noout -subject | grep -q "Test CA 2"
t_check $? "--name sets the CN"
"$T" ca "$D/no/such/parent" >/dev/null 2>&1; t_eq $? 1 "ca under a missing parent exits 1"
"$T" ca >/dev/null 2>&1; t_eq $? 2 "ca without DIR is a usage error"

# --- tessera init with a CA
out=$("$T" init "$D/prov" --ca "$D/ca" --port 18443 --mgmt-port 18181 2>"$D/err"); rc=$?
t_eq "$rc" 0 "init --ca exits 0"
t_eq "$(echo "$out" | head -n 1)" "did:web:127.0.0.1%3A18443" "init prints the DID first"
echo "$out" | grep -q "$(cd "$D/prov" && pwd)"; t_check $? "and the folder"
t_eq "$(mode "$D/prov")" 700 "participant folder is 0700"
t_eq "$(mode "$D/prov/participant.key")" 600 "participant.key is 0600"
t_eq "$(mode "$D/prov/tls.key")" 600 "tls.key is 0600"
t_eq "$(mode "$D/prov/tessera.conf")" 600 "tessera.conf is 0600"
t_eq "$(mode "$D/prov/state")" 700 "state/ is 0700"
openssl pkey -in "$D/prov/participant.key" -noout -text 2>/dev/null | grep -q "prime256v1\|P-256"
t_check $? "participant key is P-256"
openssl verify -CAfile "$D/ca/ca.crt" "$D/prov/tls.crt" >/dev/null 2>&1
t_check $? "openssl verify accepts tls.crt against the CA"
openssl x509 -in "$D/prov/tls.crt" -noout -ext subjectAltName >"$D/san" 2>&1
grep -q "IP Address:127.0.0.1" "$D/san"; t_check $? "SAN has IP 127.0.0.1"
grep -q "DNS:localhost" "$D/san"; t_check $? "SAN has DNS localhost"
cmp -s "$D/ca/ca.crt" "$D/prov/ca.crt"; t_check $? "ca.crt copied into the folder"
C="$D/prov/tessera.conf"
grep -q '^did = did:web:127.0.0.1%3A18443$' "$C"; t_check $? "conf: participant DID"
grep -q '^name = prov$' "$C"; t_check $? "conf: name defaults to the folder's"
grep -q '^listen = 127.0.0.1$' "$C"; t_check $? "conf: loopback host listens on loopback"
grep -q '^port = 18443$' "$C"; t_check $? "conf: server port"
grep -q '^port = 18181$' "$C"; t_check $? "conf: management port"
grep -Eq '^api_key = [A-Za-z0-9_-]{43}$' "$C"; t_check $? "conf: 32-byte base64url API key"
grep -q '^ca_file = ca.crt$' "$C"; t_check $? "conf: CA trusted for outgoing TLS"
grep -q '^client_ca' "$C"; t_eq $? 1 "conf: no client_ca without --mtls"
grep -q '^# ' "$C"; t_check $? "conf: commented template"
if [ -x "$top_builddir/tesserad" ]; then
    out=$(cd / && "$top_builddir/tesserad" -c "$C" -n 2>&1)
    t_eq "$out" "configuration OK" "tesserad -n accepts the generated tessera.conf"
else
    echo "# skip: no tesserad to check the configuration with"
fi

# refusals leave the participant alone
sum=$(sha256sum <"$C")
"$T" init "$D/prov" >/dev/null 2>"$D/err"; rc=$?
t_eq "$rc" 1 "init into a folder with a tessera.conf exits 1"
grep -q "^tessera: .*already holds a participant" "$D/err"; t_check $? "and says why"
t_eq "$(sha256sum <"$C")" "$sum" "and does not touch tessera.conf"

# --- init without a CA: self-signed, other host, JSON
"$T" --json init "$D/cons" --host example.org --port 443 --name "Consumer GmbH" \
    >"$D/out" 2>"$D/err"; rc=$?
t_eq "$rc" 0 "init without --ca exits 0"
is_json <"$D/out"; t_check $? "init --json prints one JSON document"
t_eq "$(jget did <"$D/out")" "did:web:example.org" "did:web without port 443"
t_eq "$(jget config <"$D/out")" "$(cd "$D/cons" && pwd)/tessera.conf" "init --json config"
t_eq "$(jget management_url <"$D/out")" "http://127.0.0.1:8181/api/v1" "init --json management_url"
subj=$(openssl x509 -in "$D/cons/tls.crt" -noout -subject -nameopt RFC2253)
iss=$(openssl x509 -in "$D/cons/tls.crt" -noout -issuer -nameopt RFC2253)
t_eq "${iss#issuer=}" "${subj#subject=}" "tls.crt is self-signed"
openssl verify -CAfile "$D/cons/tls.crt" -partial_chain "$D/cons/tls.crt" >/dev/null 2>&1
t_check $? "self-signed tls.crt verifies against itself"
[ ! -e "$D/cons/ca.crt" ]; t_check $? "no ca.crt without --ca"
grep -q '^listen = 0.0.0.0$' "$D/cons/tessera.conf"; t_check $? "public host listens on 0.0.0.0"
grep -q '^name = "\{0,1\}Consumer GmbH"\{0,1\}$' "$D/cons/tessera.conf"
t_check $? "--name kept"
grep -q '^ca_file' "$D/cons/tessera.conf"; t_eq $? 1 "no client ca_file without --ca"

"$T" init "$D/m" --ca "$D/ca" --mtls --port 28443 --mgmt-port 28181 >/dev/null 2>&1
t_eq $? 0 "init --mtls exits 0"
grep -q '^client_ca = ca.crt$' "$D/m/tessera.conf"; t_check $? "--mtls sets client_ca"
if [ -x "$top_builddir/tesserad" ]; then
    out=$(cd / && "$top_builddir/tesserad" -c "$D/m/tessera.conf" -n 2>&1)
    t_eq "$out" "configuration OK" "tesserad -n accepts the --mtls configuration"
fi

# --- failures leave nothing behind, so a retry works
"$T" init "$D/bad" --ca "$D/nope" >/dev/null 2>"$D/err"; rc=$?
t_eq "$rc" 1 "init with a missing CA exits 1"
[ ! -e "$D/bad" ]; t_check $? "and creates no folder"
mkdir "$D/pre"; : >"$D/pre/tls.crt"
"$T" init "$D/pre" >/dev/null 2>"$D/err"; t_eq $? 1 "init refuses to overwrite a tls.crt"
t_eq "$(ls "$D/pre")" "tls.crt" "and adds nothing to the folder"
rm "$D/pre/tls.crt"
"$T" init "$D/pre" >/dev/null 2>"$D/err"; t_eq $? 0 "retry in the emptied folder works"
"$T" init "$D/h" --host 10.1.2.3 >/dev/null 2>&1; t_eq $? 2 "a non-loopback IP host is refused"
[ ! -e "$D/h" ]; t_check $? "and creates nothing"
"$T" init "$D/mt" --mtls >/dev/null 2>&1; t_eq $? 2 "--mtls without --ca is a usage error"

# --- usage errors: exit 2 with the reason
for p in 0 70000 abc ""; do
    "$T" init "$D/p" --port "$p" >/dev/null 2>"$D/err"; rc=$?
    t_eq "$rc" 2 "--port '$p' is a usage error"
done
grep -q "^usage: tessera init DIR" "$D/err"; t_check $? "usage error prints the usage line"
"$T" init "$D/p" --mgmt-port 65536 >/dev/null 2>&1; t_eq $? 2 "--mgmt-port 65536 is a usage error"
"$T" init "$D/p" --port 9000 --mgmt-port 9000 >/dev/null 2>&1; t_eq $? 2 "equal ports refused"
[ ! -e "$D/p" ]; t_check $? "usage errors create nothing"
"$T" init "$D/p" --catalog ftp://x >/dev/null 2>"$D/err"
t_eq $? 2 "--catalog with a URL that is not http(s) is a usage error"
"$T" init "$D/p" --bogus >/dev/null 2>"$D/err"
grep -q "^tessera: init: unknown option '--bogus'" "$D/err"; t_check $? "unknown option named"
"$T" init "$D/p" --port >/dev/null 2>"$D/err"; t_eq $? 2 "option without its value"
grep -q "needs a value" "$D/err"; t_check $? "missing value named"
"$T" init >/dev/null 2>&1; t_eq $? 2 "init without DIR"
"$T" init a b >/dev/null 2>&1; t_eq $? 2 "init with two DIRs"

# --- the command framework
"$T" frobnicate >/dev/null 2>"$D/err"; rc=$?
t_eq "$rc" 2 "unknown command exits 2"
grep -q "^tessera: unknown command 'frobnicate'; valid commands: .*ca.*init" "$D/err"
t_check $? "unknown command lists the valid ones"
"$T" >/dev/null 2>&1; t_eq $? 2 "no command is a usage error"
"$T" --bogus help >/dev/null 2>&1; t_eq $? 2 "unknown global option exits 2"
"$T" in -h >"$D/out" 2>&1; t_eq $? 0 "unambiguous prefix 'in' runs init"
grep -q "^usage: tessera init DIR" "$D/out"; t_check $? "init -h prints its usage"
"$T" help >"$D/out" 2>&1; t_eq $? 0 "help exits 0"
grep -q "^  ca DIR" "$D/out" && grep -q "^  init DIR" "$D/out"; t_check $? "help lists ca and init"
"$T" help init >"$D/help1"; "$T" init --help >"$D/help2"
cmp -s "$D/help1" "$D/help2"; t_check $? "'help init' and 'init --help' print the same"
"$T" --json help | is_json; t_check $? "help --json is one JSON document"
"$T" --json frobnicate >"$D/out" 2>/dev/null; rc=$?
t_eq "$rc" 2 "--json unknown command still exits 2"
t_eq "$(jget exit <"$D/out")" 2 "--json failure prints an error document"
t_eq "$("$T" --version)" "$("$T" version)" "--version and version agree"
"$T" --json version | is_json; t_check $? "version --json"

# Two commands sharing a prefix (ca and catalog, once catalog exists) must not
# be guessed between.  Find such a prefix from the command list itself.
names=$("$T" --json help | "$PYTHON3" -c \
    'import json,sys; print(" ".join(c["name"] for c in json.load(sys.stdin)["commands"]))')
amb=$("$PYTHON3" -c '
import sys
n = sys.argv[1:]
for a in n:
    for b in n:
        if a < b:
            k = 0
            while k < min(len(a), len(b)) and a[k] == b[k]:
                k += 1
            if k > 0 and a[:k] not in n:
                print(a[:k]); sys.exit(0)' $names)
if [ -n "$amb" ]; then
    "$T" "$amb" >/dev/null 2>"$D/err"; t_eq $? 2 "ambiguous prefix '$amb' exits 2"
    grep -q "^tessera: ambiguous command '$amb': " "$D/err"; t_check $? "and names the candidates"
else
    echo "# skip: no two commands share a prefix yet ($names)"
fi

t_done
