#!/bin/sh
# tests/e2e/sdnotify.sh: tesserad and tessera-catalogd speak systemd's
# notify protocol (Type=notify units in contrib/systemd): with
# $NOTIFY_SOCKET set, READY=1 once they listen, RELOADING=1 then READY=1
# around tesserad's SIGHUP reload, STOPPING=1 on SIGTERM; a socket in the
# abstract namespace ("@name") works too.  A python listener stands in for
# systemd.  Also: the unit files name the installed programs and use
# Type=notify.
. "${top_srcdir:-.}/tests/lib.sh"
t_need "$CURL" "$PYTHON3" openssl

TESSERA="$top_builddir/tessera"
TESSERAD="$top_builddir/tesserad"
CATALOGD="$top_builddir/tessera-catalogd"
free_port() { "$PYTHON3" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PP=$(free_port); PM=$(free_port); KP=$(free_port)

# listen SOCKET LOG: a datagram listener writing each message as a line of LOG
listen() {
    "$PYTHON3" - "$1" "$2" <<'PY' &
import os, socket, sys
path, log = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\0" + path[1:] if path.startswith("@") else path)
open(log + ".up", "w").close()
while True:
    m = s.recv(4096)
    with open(log, "a") as f:
        f.write(m.decode() + "\n")
PY
    T_PIDS="$T_PIDS $!"
    i=0; until [ -e "$2.up" ]; do i=$((i + 1)); [ $i -lt 100 ] || break; sleep 0.05; done
}

"$TESSERA" ca "$T_DIR/ca" >/dev/null || exit 1
"$TESSERA" init "$T_DIR/p" --port "$PP" --mgmt-port "$PM" --ca "$T_DIR/ca" >/dev/null || exit 1
"$TESSERA" catalog init "$T_DIR/cat" --port "$KP" --ca "$T_DIR/ca" >/dev/null || exit 1

listen "$T_DIR/notify.sock" "$T_DIR/d.log"
NOTIFY_SOCKET="$T_DIR/notify.sock" "$TESSERAD" -c "$T_DIR/p/tessera.conf" -f 2>"$T_DIR/tesserad.log" &
D_PID=$!; T_PIDS="$T_PIDS $D_PID"
t_wait_file "$T_DIR/d.log" "READY=1" 10; t_check $? "tesserad: READY=1"
$CURL -s -o /dev/null --cacert "$T_DIR/ca/ca.crt" "https://127.0.0.1:$PP/health"
t_check $? "... once its port answers"
kill -HUP "$D_PID"
t_wait_file "$T_DIR/d.log" "RELOADING=1" 10; t_check $? "tesserad, SIGHUP: RELOADING=1"
i=0; while [ "$(grep -c 'READY=1' "$T_DIR/d.log")" -lt 2 ] && [ $i -lt 100 ]; do i=$((i + 1)); sleep 0.05; done
t_eq "$(grep -c 'READY=1' "$T_DIR/d.log")" 2 "... then READY=1 again"
kill "$D_PID"; wait "$D_PID"
t_wait_file "$T_DIR/d.log" "STOPPING=1" 5; t_check $? "tesserad, SIGTERM: STOPPING=1"

listen "@tessera-test-$$" "$T_DIR/c.log"
NOTIFY_SOCKET="@tessera-test-$$" "$CATALOGD" -c "$T_DIR/cat/catalog.conf" -f 2>"$T_DIR/catalogd.log" &
C_PID=$!; T_PIDS="$T_PIDS $C_PID"
t_wait_file "$T_DIR/c.log" "READY=1" 10; t_check $? "tessera-catalogd: READY=1 (abstract socket)"
kill "$C_PID"; wait "$C_PID"
t_wait_file "$T_DIR/c.log" "STOPPING=1" 5; t_check $? "tessera-catalogd, SIGTERM: STOPPING=1"

for u in tesserad tessera-catalogd; do
    f="$top_builddir/contrib/systemd/$u.service"
    [ -f "$f" ] || f="$top_srcdir/contrib/systemd/$u.service.in"
    grep -q "^Type=notify$" "$f"; t_check $? "$u.service: Type=notify"
    grep -q "^ExecStart=.*/$u -c /etc/tessera/.* -f$" "$f"; t_check $? "$u.service: runs $u in the foreground"
done

for p in $T_PIDS; do kill "$p" 2>/dev/null; done
for p in $T_PIDS; do wait "$p" 2>/dev/null; done
T_PIDS=""
! grep -q "ERROR: AddressSanitizer\|ERROR: LeakSanitizer" "$T_DIR"/*.log
t_check $? "no sanitizer reports"
t_done
