#!/bin/sh
# tests/cli/completion.sh: contrib/bash-completion/tessera parses (bash -n),
# completes the commands, sub-commands and options of tessera, and knows
# every command `tessera help` lists (so a new command is not forgotten).
. "${top_srcdir:-.}/tests/lib.sh"
t_need bash "$PYTHON3"
F="$top_srcdir/contrib/bash-completion/tessera"

bash -n "$F"; t_check $? "the completion file parses (bash -n)"
# comp WORDS...: what completing the last word of "tessera WORDS" offers, one line
comp() {
    bash -c '. "$1"; shift; COMP_WORDS=(tessera "$@"); COMP_CWORD=$#; _tessera; echo "${COMPREPLY[*]}"' \
        sh "$F" "$@"
}
t_eq "$(comp ne)" "negotiate negotiation" "tessera ne<TAB>: negotiate negotiation"
t_eq "$(comp g)" "get" "tessera g<TAB>: get"
t_eq "$(comp vault "")" "ls show cat rm" "tessera vault <TAB>: its sub-commands"
t_eq "$(comp --json -C dir transfer s)" "show suspend" "global options are skipped"
t_eq "$(comp get --o)" "--output" "tessera get --o<TAB>: --output"
t_eq "$(comp vault cat x --p)" "--purpose" "tessera vault cat ID --p<TAB>: --purpose"
cmds=$("$top_builddir/tessera" --json help | "$PYTHON3" -c 'import json,sys; print(" ".join(c["name"] for c in json.load(sys.stdin)["commands"]))')
t_eq "$(comp "")" "$cmds" "every command of 'tessera help' completes"
# and every sub-command of each command that has some (a '|' in its usage: 'tessera CMD help';
# asking the others would run them: 'tessera init help' makes a participant called help)
parents=$("$top_builddir/tessera" --json help | "$PYTHON3" -c 'import json,sys; print(" ".join(c["name"] for c in json.load(sys.stdin)["commands"] if "|" in c["usage"]))')
for c in $parents; do
    subs=$("$top_builddir/tessera" --json "$c" help 2>/dev/null | "$PYTHON3" -c 'import json,sys; print(" ".join(sorted(c["name"] for c in json.load(sys.stdin)["commands"])))' 2>/dev/null) || continue
    [ -n "$subs" ] || continue
    got=$(comp "$c" "" | tr ' ' '\n' | sort | tr '\n' ' ' | sed 's/ $//')
    t_eq "$got" "$subs" "tessera $c <TAB>: its sub-commands"
done
t_done
