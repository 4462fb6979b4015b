#!/bin/sh
# tests/e2e/demo.sh: scripts/demo, what ./quickstart runs, works on this
# build: it exits 0 within a minute, shows each step the README promises
# (the offer found in the catalog, the negotiation, the transfer with
# matching digests, `tessera get`, a permitted use, refused uses with the
# agreement's reason, the ledger verified, the metrics), and leaves no
# process and no folder behind.
. "${top_srcdir:-.}/tests/lib.sh"
t_need "$CURL" "$PYTHON3" openssl timeout

start=$(date +%s)
TMPDIR="$T_DIR" timeout 120 sh "$top_srcdir/scripts/demo" "$top_builddir" >"$T_DIR/demo.out" 2>&1
rc=$?
t_eq "$rc" 0 "scripts/demo exits 0"
el=$(($(date +%s) - start))
[ "$el" -lt 60 ]; t_check $? "in under a minute ($el s)"
o="$T_DIR/demo.out"
grep -q "ServiceOffering  Press line sensor readings" "$o"; t_check $? "the offer is found in the catalog node"
grep -q "FINALIZED" "$o"; t_check $? "the negotiation is finalized"
[ "$(grep -c "^[0-9a-f]\{64\}  .*/re[a-z]*\.csv$" "$o")" = 2 ] &&
    [ "$(grep "^[0-9a-f]\{64\}  .*/re[a-z]*\.csv$" "$o" | cut -d' ' -f1 | sort -u | wc -l)" = 1 ]
t_check $? "the digests of sent and received data match"
grep -q "sha-256 [0-9a-f]\{64\} verified" "$o"; t_check $? "tessera get verified its copy"
grep -q "^time,sensor,temperature_c,humidity_pct" "$o"; t_check $? "a permitted use shows the data"
grep -q "prohibition overrides" "$o"; t_check $? "a use for another purpose is refused, with the reason"
grep -q "count lteq 3 unsatisfied" "$o"; t_check $? "a fourth use is refused, with the reason"
grep -q "^usage ledger valid" "$o"; t_check $? "the ledger verifies"
grep -q "^tessera_policy_decisions_total" "$o"; t_check $? "the metrics are shown"
grep -q "all three exited cleanly" "$o"; t_check $? "everything stopped cleanly"
! ls -d "$T_DIR"/tessera-demo.* >/dev/null 2>&1; t_check $? "its folder is removed"
if command -v pgrep >/dev/null 2>&1; then
    ! pgrep -f "$T_DIR/tessera-demo" >/dev/null; t_check $? "no process of it is left running"
fi
! grep -q "ERROR: AddressSanitizer\|ERROR: LeakSanitizer" "$o"; t_check $? "no sanitizer reports from the CLI"
[ "$T_FAIL" = 0 ] || sed 's/^/# /' "$o" | tail -n 40
t_done
