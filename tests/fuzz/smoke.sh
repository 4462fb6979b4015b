#!/bin/sh
# tests/fuzz/smoke.sh: run each libFuzzer target briefly over a copy of its
# seed corpus; fail if any of them finds a crash, a leak or a timeout.
# Called by `make fuzz-smoke` (see tests/fuzz/README.md):
#
#   smoke.sh FUZZDIR TARGET...
#
# FUZZDIR holds corpus/<target>/ and <target>.dict; each TARGET is the path
# of a built fuzzer.  FUZZ_SECONDS (default 20) is the time per target.
# Findings are kept in ./fuzz-artifacts/<target>/ (in the build directory);
# the source tree is never written to.
set -u

if [ $# -lt 2 ]; then
    echo "usage: $0 FUZZDIR TARGET..." >&2
    exit 2
fi
fuzzdir=$1
shift
seconds=${FUZZ_SECONDS:-20}
case $seconds in
    '' | *[!0-9]*)
        echo "FUZZ_SECONDS must be a number of seconds, not '$seconds'" >&2
        exit 2
        ;;
esac

# UBSan reports must stop the run (a report alone is not a crash to libFuzzer).
UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS ASAN_OPTIONS

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tsr-fuzz.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
artifacts=$(pwd)/fuzz-artifacts

failed=
for target in "$@"; do
    name=$(basename "$target")
    if [ ! -x "$target" ]; then
        echo "FAIL $name: $target is not built" >&2
        failed="$failed $name"
        continue
    fi
    corpus=$tmp/$name
    mkdir -p "$corpus" "$artifacts/$name"
    if [ -d "$fuzzdir/corpus/$name" ]; then
        cp "$fuzzdir/corpus/$name"/* "$corpus"/ 2>/dev/null
    fi
    set -- -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$artifacts/$name/"
    if [ -f "$fuzzdir/$name.dict" ]; then
        set -- "$@" -dict="$fuzzdir/$name.dict"
    fi
    log=$artifacts/$name/smoke.log
    echo "fuzz $name for ${seconds}s ($(ls "$corpus" | wc -l) seeds)"
    "$target" "$@" "$corpus" >"$log" 2>&1
    rc=$?
    stats=$(sed -n -e 's/^stat::number_of_executed_units: *\([0-9]*\)/execs=\1/p' \
        -e 's/^stat::peak_rss_mb: *\([0-9]*\)/peak_rss_mb=\1/p' "$log" | tr '\n' ' ')
    cov=$(grep -E '^#[0-9]+' "$log" | tail -n 1 |
        sed -n 's/.*\(cov: [0-9]*\).*\(ft: [0-9]*\).*/\1 \2/p')
    if [ $rc -ne 0 ]; then
        echo "FAIL $name (exit $rc): the log is $log" >&2
        grep -E 'ERROR:|SUMMARY:|runtime error|property violated|Test unit written' "$log" \
            | head -n 20 >&2
        failed="$failed $name"
    else
        echo "ok   $name: $cov $stats"
    fi
done

if [ -n "$failed" ]; then
    echo "fuzz-smoke failed:$failed" >&2
    echo "Reproduce with: TARGET fuzz-artifacts/<target>/crash-... (tests/fuzz/README.md)" >&2
    exit 1
fi
echo "fuzz-smoke: all targets ran ${seconds}s without a finding"
