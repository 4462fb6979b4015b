# tests/lib.sh: shared helpers for tessera's shell tests (sourced).
# Each test prints "ok N - what" / "not ok N - what" and exits 1 when any
# check failed, 77 when a tool it needs is missing.
set -u

: "${top_builddir:=$(pwd)}"
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${CURL:=curl}"
: "${NGHTTP:=nghttp}"
: "${H2LOAD:=h2load}"
: "${PYTHON3:=python3}"

T_N=0
T_FAIL=0
T_PIDS=""
T_DIR=$(mktemp -d "${TMPDIR:-/tmp}/tessera-test.XXXXXX")

t_cleanup() {
    for p in $T_PIDS; do kill "$p" 2>/dev/null; done
    for p in $T_PIDS; do wait "$p" 2>/dev/null; done
    if [ "$T_FAIL" = 0 ] && [ -z "${T_KEEP:-}" ]; then rm -rf "$T_DIR"; else echo "# kept $T_DIR"; fi
}
trap t_cleanup EXIT

# ok CONDITION-EXIT-STATUS DESCRIPTION...: record one check.
t_check() {
    status=$1; shift
    T_N=$((T_N + 1))
    if [ "$status" = 0 ]; then
        echo "ok $T_N - $*"
    else
        echo "not ok $T_N - $*"
        T_FAIL=$((T_FAIL + 1))
    fi
}

# t_eq ACTUAL EXPECTED DESCRIPTION...
t_eq() {
    a=$1; e=$2; shift 2
    if [ "$a" = "$e" ]; then t_check 0 "$*"; else t_check 1 "$* (got '$a', want '$e')"; fi
}

t_need() {
    for tool in "$@"; do
        command -v "$tool" >/dev/null 2>&1 || { echo "# skip: $tool not found"; exit 77; }
    done
}

# t_wait_file FILE PATTERN [SECONDS]: wait until FILE contains PATTERN.
t_wait_file() {
    i=0; lim=$(( ${3:-10} * 10 ))
    while ! grep -q "$2" "$1" 2>/dev/null; do
        i=$((i + 1)); [ $i -ge $lim ] && return 1
        sleep 0.1
    done
    return 0
}

# t_alive PID: the process still runs.
t_alive() { kill -0 "$1" 2>/dev/null; }

t_done() {
    echo "# $((T_N - T_FAIL)) passed, $T_FAIL failed"
    [ "$T_FAIL" = 0 ] || exit 1
    exit 0
}

# t_mkcert DIR: a throwaway self-signed P-256 certificate for 127.0.0.1.
t_mkcert() {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$1/key.pem" -out "$1/cert.pem" -days 2 -subj /CN=localhost \
        -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" >/dev/null 2>&1
}
