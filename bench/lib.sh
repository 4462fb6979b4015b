# bench/lib.sh: shared helpers for tessera's benchmarks (sourced by bench/*).
#
# A benchmark measures tessera against a reference (nginx) in the same run
# and prints the ratio; it is not a test and exits 0 unless something
# failed to run.  These helpers give it a private temp dir, locate the
# build and source trees, start and stop nginx with a throwaway config on
# an ephemeral loopback port, read a process's memory from /proc, and
# make sure nothing is left running or on disk when the script ends.
#
# Settings a benchmark reads from the environment:
#   TESSERA_BUILDDIR  where tesserad and tessera were built (default: the
#                     current directory if ./tesserad or ./config.status
#                     exists, else the directory above the script)
#   TESSERA_SRCDIR    the source tree (default: the directory above the script)
#   NGINX, H2LOAD, CURL, OPENSSL   the tools (default: found on PATH, nginx
#                     also in /usr/sbin)
#   BENCH_KEEP=1      keep the temp dir (its path is printed) for a post-mortem

B_PIDS=""
B_DIR=""
B_NGINX_PID=""
B_ME=$(basename "$0")

b_log() { printf '%s: %s\n' "$B_ME" "$*" >&2; }
b_die() { b_log "$*"; exit 1; }

# b_stop PID: SIGTERM, up to 5 s grace, then SIGKILL; reaps the child.
b_stop() {
    [ -n "$1" ] || return 0
    kill -TERM "$1" 2>/dev/null || { wait "$1" 2>/dev/null; return 0; }
    _i=0
    while kill -0 "$1" 2>/dev/null && [ $_i -lt 50 ]; do
        sleep 0.1
        _i=$((_i + 1))
    done
    kill -KILL "$1" 2>/dev/null
    wait "$1" 2>/dev/null
    return 0
}

# b_track PID: stop PID on exit.  b_untrack PID: it was stopped already.
b_track() { B_PIDS="$B_PIDS $1"; }
b_untrack() {
    _keep=""
    for _p in $B_PIDS; do [ "$_p" = "$1" ] || _keep="$_keep $_p"; done
    B_PIDS=$_keep
}

b_cleanup() {
    _rc=$?
    trap - EXIT INT TERM HUP PIPE
    b_nginx_stop
    for _p in $B_PIDS; do b_stop "$_p"; done
    B_PIDS=""
    if [ -n "$B_DIR" ] && [ -d "$B_DIR" ]; then
        if [ "${BENCH_KEEP:-0}" = 1 ]; then b_log "kept $B_DIR"; else rm -rf "$B_DIR"; fi
    fi
    exit $_rc
}

# b_init: the temp dir ($B_DIR) and the trap that empties it and stops every
# tracked process however the script ends.
b_init() {
    trap b_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    trap 'exit 129' HUP
    # A reader that went away (| head) must not kill us before the cleanup.
    trap 'exit 141' PIPE
    B_DIR=$(mktemp -d "${TMPDIR:-/tmp}/tessera-bench.XXXXXX") || b_die "cannot make a temp dir"
}

# b_dirs: set B_BUILDDIR and B_SRCDIR (absolute).
b_dirs() {
    _here=$(cd "$(dirname "$0")/.." && pwd)
    if [ -n "${TESSERA_BUILDDIR:-}" ]; then
        B_BUILDDIR=$(cd "$TESSERA_BUILDDIR" && pwd) || b_die "no such dir $TESSERA_BUILDDIR"
    elif [ -x ./tesserad ] || [ -f ./config.status ]; then
        B_BUILDDIR=$(pwd)
    else
        B_BUILDDIR=$_here
    fi
    if [ -n "${TESSERA_SRCDIR:-}" ]; then
        B_SRCDIR=$(cd "$TESSERA_SRCDIR" && pwd) || b_die "no such dir $TESSERA_SRCDIR"
    else
        B_SRCDIR=$_here
    fi
}

# b_need TOOL...: each tool is an executable on PATH (or a path).
b_need() {
    for _t in "$@"; do
        command -v "$_t" >/dev/null 2>&1 || b_die "$_t not found (see bench/README.md)"
    done
}

# b_free_port: print a TCP port that is free on 127.0.0.1 right now.  The
# kernel picks it (bind to port 0); another process could take it before we
# do, so callers that can retry do.
b_free_port() {
    if command -v python3 >/dev/null 2>&1; then
        python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])' && return 0
    fi
    # No python: a random port in the ephemeral range that nobody listens on.
    while :; do
        _p=$(awk 'BEGIN { srand(); print 20000 + int(rand() * 40000) }')
        b_listening "$_p" || { echo "$_p"; return 0; }
        sleep 0.01
    done
}

# b_listening PORT: something listens on 127.0.0.1:PORT or 0.0.0.0:PORT
# (read from /proc/net/tcp, so that probing does not make a request).
b_listening() {
    _hex=$(printf '%04X' "$1")
    awk -v p="$_hex" 'NR > 1 && $4 == "0A" {
            split($2, a, ":")
            if (a[2] == p && (a[1] == "0100007F" || a[1] == "00000000")) found = 1
        }
        END { exit !found }' /proc/net/tcp
}

# b_wait_listen PORT PID [SECONDS]: wait until PORT listens; fails at once
# if PID exits first.
b_wait_listen() {
    _i=0
    _lim=$(( ${3:-15} * 20 ))
    while ! b_listening "$1"; do
        kill -0 "$2" 2>/dev/null || return 1
        _i=$((_i + 1))
        [ $_i -ge $_lim ] && return 1
        sleep 0.05
    done
    return 0
}

# b_wait_file FILE PATTERN PID [SECONDS]: wait until FILE contains PATTERN.
b_wait_file() {
    _i=0
    _lim=$(( ${4:-15} * 20 ))
    while ! grep -q "$2" "$1" 2>/dev/null; do
        kill -0 "$3" 2>/dev/null || return 1
        _i=$((_i + 1))
        [ $_i -ge $_lim ] && return 1
        sleep 0.05
    done
    return 0
}

# b_mem PID FIELD: FIELD (VmRSS, VmHWM, ...) of PID in kB, or "?".
b_mem() {
    awk -v f="$2:" '$1 == f { print $2; found = 1 } END { if (!found) print "?" }' \
        "/proc/$1/status" 2>/dev/null || echo "?"
}

# b_children PID: the direct children of PID (from /proc, no procps needed).
b_children() {
    if [ -r "/proc/$1/task/$1/children" ]; then
        tr ' ' '\n' <"/proc/$1/task/$1/children" | grep .
        return 0
    fi
    for _s in /proc/[0-9]*/stat; do
        # field 4 is the parent; the command name in field 2 may hold spaces
        awk -v pp="$1" '{ sub(/^.*\) /, "")
            if ($2 == pp) { split(FILENAME, a, "/"); print a[3] } }' "$_s" 2>/dev/null
    done
}

# cpu_ticks PID: user + system CPU time of PID so far, in clock ticks.
cpu_ticks() {
    # The command name (field 2) may hold spaces: count from after it.
    sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $12 + $13 }'
}
HZ=$(getconf CLK_TCK 2>/dev/null || echo 100)

# cpu_busy: "BUSY TOTAL" clock ticks of the whole machine so far (every CPU;
# busy = all but idle and iowait), to tell how much of it other processes
# took during a run: numbers from a shared machine mean little otherwise.
cpu_busy() {
    awk '$1 == "cpu" { t = 0; for (i = 2; i <= NF; i++) t += $i
        print t - $5 - $6, t; exit }' /proc/stat
}

# b_cpus: number of online CPUs.
b_cpus() {
    getconf _NPROCESSORS_ONLN 2>/dev/null || nproc 2>/dev/null || echo 1
}

# b_median N...: the median of the numbers (the lower middle one for an even count).
b_median() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

# b_nginx_start ROOT CERT KEY [EXTRA_SERVER_DIRECTIVES]: nginx with one
# worker, in the foreground, serving files under ROOT over TLS (h2 and
# http/1.1) on an ephemeral 127.0.0.1 port; its config, pid and logs live
# in $B_DIR/nginx.  Sets B_NGINX_PID (the master) and B_NGINX_PORT.  Run
# under $B_PIN (e.g. "taskset -c 1") when that is set.
b_nginx_start() {
    _nd=$B_DIR/nginx
    mkdir -p "$_nd/tmp" || return 1
    # Running as root, nginx would switch its worker to "nobody", which
    # cannot read our 0700 temp dir; otherwise the user directive is
    # ignored with a warning, so leave it out.
    _user=""
    [ "$(id -u)" = 0 ] && _user="user root;"
    _try=0
    while [ $_try -lt 5 ]; do
        _try=$((_try + 1))
        B_NGINX_PORT=$(b_free_port) || return 1
        cat >"$_nd/nginx.conf" <<EOF
# written by bench/lib.sh for one benchmark run
$_user
worker_processes 1;
daemon off;
master_process on;
pid $_nd/nginx.pid;
error_log $_nd/error.log warn;
events {
    worker_connections 1024;
}
http {
    access_log off;
    client_body_temp_path $_nd/tmp/body;
    proxy_temp_path $_nd/tmp/proxy;
    fastcgi_temp_path $_nd/tmp/fastcgi;
    uwsgi_temp_path $_nd/tmp/uwsgi;
    scgi_temp_path $_nd/tmp/scgi;
    types { }
    default_type text/plain;
    sendfile on;
    tcp_nodelay on;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
    open_file_cache max=64 inactive=60s;
    open_file_cache_valid 60s;
    server {
        listen 127.0.0.1:$B_NGINX_PORT ssl http2;
        server_name localhost;
        ssl_certificate $2;
        ssl_certificate_key $3;
        ssl_protocols TLSv1.3 TLSv1.2;
        ssl_session_cache shared:SSL:1m;
        root $1;
        ${4:-}
    }
}
EOF
        # -e: the error log before the config is read (the built-in
        # default is not writable by everyone); -p: relative paths.
        ${B_PIN:-} "${NGINX:-nginx}" -p "$_nd/" -e "$_nd/error.log" -c "$_nd/nginx.conf" \
            >"$_nd/stdout" 2>&1 &
        B_NGINX_PID=$!
        b_track "$B_NGINX_PID"
        if b_wait_listen "$B_NGINX_PORT" "$B_NGINX_PID" 10; then
            return 0
        fi
        b_stop "$B_NGINX_PID"
        b_untrack "$B_NGINX_PID"
        grep -q 'Address already in use' "$_nd/error.log" "$_nd/stdout" 2>/dev/null || break
    done
    b_log "nginx did not start:"
    cat "$_nd/error.log" "$_nd/stdout" >&2 2>/dev/null
    return 1
}

# b_nginx_worker: the pid of nginx's (single) worker process.
b_nginx_worker() {
    b_children "$B_NGINX_PID" | head -n 1
}

# b_nginx_stop: stop nginx and make sure its worker is gone too (a master
# killed with SIGKILL would leave it behind).
b_nginx_stop() {
    [ -n "${B_NGINX_PID:-}" ] || return 0
    _w=$(b_nginx_worker)
    b_stop "$B_NGINX_PID"
    b_untrack "$B_NGINX_PID"
    if [ -n "$_w" ] && kill -0 "$_w" 2>/dev/null; then
        kill -KILL "$_w" 2>/dev/null
    fi
    B_NGINX_PID=""
}

# ---------------------------------------------------------------- participants

# b_programs: set TESSERAD and TESSERA (unless set) from $B_BUILDDIR, or die.
b_programs() {
    TESSERAD=${TESSERAD:-}
    TESSERA=${TESSERA:-}
    for _d in "$B_BUILDDIR" "$B_BUILDDIR/connector"; do
        [ -z "$TESSERAD" ] && [ -x "$_d/tesserad" ] && TESSERAD=$_d/tesserad
        [ -z "$TESSERA" ] && [ -x "$_d/tessera" ] && TESSERA=$_d/tessera
    done
    [ -n "$TESSERAD" ] || b_die "no tesserad in $B_BUILDDIR (build it, or set TESSERA_BUILDDIR)"
    [ -n "$TESSERA" ] || b_die "no tessera in $B_BUILDDIR (build it, or set TESSERA_BUILDDIR)"
}

# conf_key FILE KEY: the value of KEY in a tessera.conf (first match).
conf_key() {
    awk -v k="$2" '$0 ~ "^[ \t]*" k "[ \t]*=" { sub(/^[^=]*=[ \t]*/, ""); sub(/[ \t]*$/, "");
        print; exit }' "$1"
}

# start_participant NAME PIN: a participant in $B_DIR/NAME (tessera init with the CA in
# $B_DIR/ca, which must exist; $TESSERA and $TESSERAD set), started under PIN; sets
# S_PID, S_PORT (protocol), S_MPORT (management), S_KEY (API key).
start_participant() {
    _try=0
    while :; do
        _try=$((_try + 1))
        S_PORT=$(b_free_port)
        S_MPORT=$(b_free_port)
        [ "$S_PORT" != "$S_MPORT" ] || continue
        rm -rf "${B_DIR:?}/$1"
        "$TESSERA" init "$B_DIR/$1" --ca "$B_DIR/ca" --host 127.0.0.1 --port "$S_PORT" \
            --mgmt-port "$S_MPORT" >"$B_DIR/$1.init" 2>&1 ||
            { cat "$B_DIR/$1.init" >&2; b_die "tessera init $1 failed"; }
        TESSERA_SERVER_LISTEN=127.0.0.1 TESSERA_LOG_LEVEL=${TESSERA_LOG_LEVEL:-warn} \
            $2 "$TESSERAD" -c "$B_DIR/$1/tessera.conf" -f >"$B_DIR/$1.log" 2>&1 &
        S_PID=$!
        b_track "$S_PID"
        if b_wait_listen "$S_PORT" "$S_PID" 20 && b_wait_listen "$S_MPORT" "$S_PID" 20; then
            break
        fi
        b_stop "$S_PID"
        b_untrack "$S_PID"
        if [ $_try -ge 3 ] || ! grep -qi 'in use' "$B_DIR/$1.log"; then
            cat "$B_DIR/$1.log" >&2
            b_die "tesserad ($1) did not start"
        fi
    done
    S_KEY=$(conf_key "$B_DIR/$1/tessera.conf" api_key)
    [ -n "$S_KEY" ] || b_die "no management api_key in $B_DIR/$1/tessera.conf"
}

# api PORT KEY METHOD PATH [BODY]: one management API call (at most
# $API_TIMEOUT seconds, default 10); prints the
# status code and leaves the body in $B_DIR/api.out.
api() {
    if [ $# -ge 5 ]; then
        "${CURL:-curl}" -s --max-time "${API_TIMEOUT:-10}" -o "$B_DIR/api.out" -w '%{http_code}' -X "$3" \
            -H "X-Api-Key: $2" -H 'Content-Type: application/json' --data-binary "$5" \
            "http://127.0.0.1:$1/api/v1$4"
    else
        "${CURL:-curl}" -s --max-time "${API_TIMEOUT:-10}" -o "$B_DIR/api.out" -w '%{http_code}' -X "$3" \
            -H "X-Api-Key: $2" "http://127.0.0.1:$1/api/v1$4"
    fi
}
