#!/bin/sh
# tests/cli/policy_eval.sh: `tessera policy eval` decides offline, without a
# connector: permit exits 0 and shows the rule and constraints behind it;
# deny exits 1 with the failing constraint on stderr; --json prints the
# decision; a policy with an unknown term is refused (exit 1, the term
# named); usage errors exit 2.
. "${top_srcdir:-.}/tests/lib.sh"
t_need "$PYTHON3"

T="$top_builddir/tessera"
D="$T_DIR"
jget() { "$PYTHON3" -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

cat >"$D/p.json" <<'JSON'
{"@context": {"cx-policy": "https://w3id.org/catenax/policy/"},
 "@type": "Offer",
 "permission": [{"action": "use", "constraint": [
   {"leftOperand": "count", "operator": "lteq", "rightOperand": 3},
   {"leftOperand": "purpose", "operator": "eq", "rightOperand": "research"},
   {"leftOperand": "dateTime", "operator": "lt", "rightOperand":
      {"@value": "2030-01-01T00:00:00Z", "@type": "xsd:dateTime"}},
   {"leftOperand": "cx-policy:Membership", "operator": "eq", "rightOperand": "active"}]}],
 "prohibition": [{"action": "use", "assignee": "did:web:banned.example"}]}
JSON
ok="--purpose research --at 2026-06-01T00:00:00Z --operand Membership=active"

# shellcheck disable=SC2086
out=$("$T" policy eval "$D/p.json" $ok --count 3 2>"$D/err"); rc=$?
t_eq "$rc" 0 "the 3rd use for research, a member, before 2030: permit (exit 0)"
echo "$out" | grep -q '^permit'; t_check $? "it says permit"
echo "$out" | grep -q 'count lteq 3 (actual 3): satisfied'; t_check $? "with the count constraint"
t_eq "$(cat "$D/err")" "" "and nothing on stderr"

# shellcheck disable=SC2086
out=$("$T" policy eval "$D/p.json" $ok --count 4 2>"$D/err"); rc=$?
t_eq "$rc" 1 "the 4th use: deny (exit 1)"
echo "$out" | grep -q '^deny'; t_check $? "it says deny"
grep -q 'count lteq 3 unsatisfied (actual 4)' "$D/err"; t_check $? "the reason names the count on stderr"

out=$("$T" policy eval "$D/p.json" --purpose marketing --at 2026-06-01T00:00:00Z \
    --operand Membership=active 2>"$D/err"); rc=$?
t_eq "$rc" 1 "another purpose: deny"
grep -q 'purpose eq research unsatisfied (actual marketing)' "$D/err"; t_check $? "purpose named"

# shellcheck disable=SC2086
"$T" policy eval "$D/p.json" $ok --at 2030-01-01T00:00:00Z >/dev/null 2>"$D/err"; rc=$?
t_eq "$rc" 1 "at the end of the window: deny"
grep -q 'dateTime lt' "$D/err"; t_check $? "the time constraint named"

"$T" policy eval "$D/p.json" --purpose research --at 2026-06-01T00:00:00Z >/dev/null 2>"$D/err"
t_eq "$?" 1 "no Membership value: deny (fails closed)"

# shellcheck disable=SC2086
"$T" policy eval "$D/p.json" $ok --assignee did:web:banned.example >/dev/null 2>&1
t_eq "$?" 1 "a prohibited assignee: deny"
# shellcheck disable=SC2086
"$T" policy eval "$D/p.json" $ok --assignee did:web:fine.example >/dev/null 2>&1
t_eq "$?" 0 "another assignee: permit"

# shellcheck disable=SC2086
out=$("$T" --json policy eval "$D/p.json" $ok --count 9 2>/dev/null); rc=$?
t_eq "$rc:$(echo "$out" | jget 'd["decision"]')" "1:deny" "--json: the decision as JSON, exit 1"
t_eq "$(echo "$out" | jget '[c["state"] for c in d["constraints"] if c["leftOperand"] == "count"]')" \
    "['unsatisfied']" "--json lists the count constraint unsatisfied"
# shellcheck disable=SC2086
out=$("$T" --json policy eval "$D/p.json" $ok); rc=$?
t_eq "$rc:$(echo "$out" | jget 'd["decision"]')" "0:permit" "--json permit, exit 0"

echo '{"permission":[{"action":"use","constraint":[{"leftOperand":"spatial","operator":"isPartOf","rightOperand":"EU"}]}]}' >"$D/eu.json"
"$T" policy eval "$D/eu.json" --spatial DE >/dev/null 2>"$D/err"; rc=$?
t_eq "$rc" 1 "spatial DE isPartOf EU without the fact: deny"
"$T" policy eval "$D/eu.json" --spatial DE --part-of DE=EU >/dev/null 2>"$D/err"; rc=$?
t_eq "$rc" 0 "with --part-of DE=EU: permit"
"$T" policy eval "$D/eu.json" --spatial DE --part-of DE= >/dev/null 2>&1
t_eq "$?" 2 "--part-of without a whole: exit 2"

echo '{"permission":[{"action":"use","constraint":[{"leftOperand":"cuont","operator":"lteq","rightOperand":3}]}]}' >"$D/typo.json"
"$T" policy eval "$D/typo.json" >/dev/null 2>"$D/err"; rc=$?
t_eq "$rc" 1 "a policy with an unknown operand: exit 1"
grep -q "unknown left operand 'cuont'" "$D/err"; t_check $? "the unknown term is named"

"$T" policy eval >/dev/null 2>"$D/err"; t_eq "$?" 2 "no FILE: usage error (exit 2)"
grep -q '^usage: tessera policy eval' "$D/err"; t_check $? "with the usage line"
"$T" policy eval "$D/p.json" --count 0 >/dev/null 2>&1; t_eq "$?" 2 "--count 0: exit 2"
"$T" policy eval "$D/p.json" --at tomorrow >/dev/null 2>&1; t_eq "$?" 2 "--at not a time: exit 2"
"$T" policy eval "$D/p.json" --operand Membership >/dev/null 2>&1; t_eq "$?" 2 "--operand without =: exit 2"
"$T" policy eval "$D/p.json" --bogus >/dev/null 2>&1; t_eq "$?" 2 "an unknown option: exit 2"
"$T" policy eval "$D/missing.json" >/dev/null 2>&1; t_eq "$?" 1 "a missing file: exit 1"
t_done
