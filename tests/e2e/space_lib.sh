# tests/e2e/space_lib.sh: a small data space on loopback for the CLI tests
# (tests/cli/get.sh, tests/e2e/cli.sh, tests/e2e/metrics.sh), sourced after
# tests/lib.sh.  Sets TESSERA TESSERAD CATALOGD, the ports PP PM (provider
# protocol and management), CP CM (consumer), KP (catalog node), the
# folders PROV CONS, the URLs PURL CAT; the CLI trusts the demo CA.
#   space_init [catalog]   the CA, both participants (the provider publishing
#                          to the catalog node when "catalog" is given) and
#                          that node's folder
#   space_start            start every daemon initialised, wait until each answers
#   space_stop             stop them, and check that no sanitizer reported anything
# Daemons' stderr goes to $T_DIR/NAME.log; their PIDs into T_PIDS.

TESSERA="$top_builddir/tessera"
TESSERAD="$top_builddir/tesserad"
CATALOGD="$top_builddir/tessera-catalogd"
free_port() { "$PYTHON3" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
jget() { "$PYTHON3" -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
PP=$(free_port); PM=$(free_port); CP=$(free_port); CM=$(free_port); KP=$(free_port)
PROV="$T_DIR/provider"
CONS="$T_DIR/consumer"
PURL="https://127.0.0.1:$PP"
CAT="https://127.0.0.1:$KP"
SPACE_CATALOG=""
export TESSERA_CLIENT_CA_FILE="$T_DIR/ca/ca.crt"
# the provider's gx:LegalPerson needs them
export TESSERA_PARTICIPANT_REGISTRATION_NUMBER=DE123456789 TESSERA_PARTICIPANT_LEGAL_COUNTRY=DE

space_init() {
    "$TESSERA" ca "$T_DIR/ca" >/dev/null || exit 1
    if [ "${1:-}" = catalog ]; then
        SPACE_CATALOG=1
        "$TESSERA" catalog init "$T_DIR/cat" --port "$KP" --ca "$T_DIR/ca" >/dev/null || exit 1
    fi
    "$TESSERA" init "$PROV" --name Provider --port "$PP" --mgmt-port "$PM" --ca "$T_DIR/ca" \
        ${SPACE_CATALOG:+--catalog "$CAT"} >/dev/null || exit 1
    "$TESSERA" init "$CONS" --name Consumer --port "$CP" --mgmt-port "$CM" --ca "$T_DIR/ca" \
        >/dev/null || exit 1
}

space_start() {
    ports="$PP $CP"
    if [ -n "$SPACE_CATALOG" ]; then
        "$CATALOGD" -c "$T_DIR/cat/catalog.conf" -f 2>"$T_DIR/cat.log" &
        T_PIDS="$T_PIDS $!"
        ports="$KP $ports"
    fi
    for who in provider consumer; do
        "$TESSERAD" -c "$T_DIR/$who/tessera.conf" -f >/dev/null 2>>"$T_DIR/$who.log" &
        T_PIDS="$T_PIDS $!"
    done
    for port in $ports; do
        i=0; until $CURL -s -o /dev/null --cacert "$T_DIR/ca/ca.crt" "https://127.0.0.1:$port/health"; do
            i=$((i + 1)); [ $i -lt 100 ] || break; sleep 0.05; done
    done
}

# space_stop: stop every daemon (SIGTERM), then check their logs for sanitizer reports
space_stop() {
    for p in $T_PIDS; do kill "$p" 2>/dev/null; done
    for p in $T_PIDS; do wait "$p" 2>/dev/null; done
    T_PIDS=""
    ! grep -q "ERROR: AddressSanitizer\|ERROR: LeakSanitizer" "$T_DIR"/*.log
    t_check $? "no sanitizer reports"
}
