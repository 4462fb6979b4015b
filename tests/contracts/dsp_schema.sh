#!/bin/sh
# tests/contracts/dsp_schema.sh: every DSP 2025-1 message contracts/dsp.c
# builds validates against the spec's own JSON schema for its type.
# tests/unit/contracts/test_dsp writes one file per builder case into a
# folder (TSR_DSP_OUT) and tests/dsp_validate.py checks them with
# python3-jsonschema; skipped (77) when jsonschema is not installed.
. "${top_srcdir:-.}/tests/lib.sh"

PY=
for p in "$PYTHON3" python3 /usr/bin/python3; do
    if "$p" -c 'import jsonschema' >/dev/null 2>&1; then PY=$p; break; fi
done
[ -n "$PY" ] || { echo "# skip: python3-jsonschema is not installed"; exit 77; }

V="$top_srcdir/tests/dsp_validate.py"
S="$top_srcdir/tests/data/dsp"
OUT="$T_DIR/out"
mkdir -p "$OUT"

# The validator itself: the spec's examples pass (but the DID service
# entries, which are not messages), a damaged message fails.
set --
for f in "$S"/*/example/*.json; do
    case $f in *did-service*) ;; *) set -- "$@" "$f" ;; esac
done
"$PY" "$V" "$S" "$@" >"$T_DIR/examples.txt" 2>&1
t_check $? "the spec's examples validate ($(grep -c '^ok' "$T_DIR/examples.txt") files)"

"$PY" - "$S/transfer/example/transfer-termination-message.json" "$T_DIR/bad.json" <<'PYEOF'
import json, sys
m = json.load(open(sys.argv[1]))
del m["providerPid"]  # required through the repaired #/definitions reference
json.dump(m, open(sys.argv[2], "w"))
PYEOF
"$PY" "$V" "$S" "$T_DIR/bad.json" >"$T_DIR/bad.txt" 2>&1
t_eq "$?" 1 "a termination message without providerPid fails validation"
grep -q "providerPid" "$T_DIR/bad.txt"; t_check $? "and the report names providerPid"

# What tessera builds.
TSR_DSP_OUT="$OUT" "$top_builddir/tests/unit/contracts/test_dsp" >"$T_DIR/unit.txt" 2>&1
t_check $? "test_dsp built and parsed back every message"
n=$(ls "$OUT"/*.json 2>/dev/null | wc -l)
[ "$n" -ge 30 ]; t_check $? "one file per builder case ($n)"
for f in contract-request-initial contract-request-counter contract-offer-initial \
    contract-offer contract-agreement contract-agreement-verification \
    contract-negotiation-event-accepted contract-negotiation-event-finalized \
    contract-negotiation-termination contract-negotiation contract-negotiation-error \
    transfer-request transfer-request-push transfer-start transfer-completion \
    transfer-suspension transfer-termination transfer-process transfer-error \
    catalog-request dataset-request catalog catalog-empty dataset catalog-error \
    protocol-version; do
    [ -f "$OUT/$f.json" ]; t_check $? "built $f"
done
"$PY" "$V" "$S" "$OUT"/*.json >"$T_DIR/built.txt" 2>&1
st=$?
grep -v '^ok' "$T_DIR/built.txt" | sed 's/^/# /'
t_check $st "every built message validates against its schema"

t_done
