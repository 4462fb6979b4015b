#!/bin/sh
# tests/docs/docs-sync.sh: the manual pages describe the programs that were
# built, no more and no less (the idea of curl's test1139).  The programs'
# own help output is the reference, so nothing here parses C:
#
#   tesserad --help-config  <->  man/tessera.conf.5
#       every key is an item ".It Ic NAME Ar TYPE" (one-of keys:
#       ".It Ic NAME Cm a | b | c") under ".Ss [SECTION]" in ".Sh KEYS";
#       its item shows the default as ".Ql VALUE" (or says "Default: empty"
#       / "no default"), both bounds, and one of "Applied on reload",
#       "Needs a restart", "Read at start-up" ("Applied on reload" only for
#       keys --help-config calls reloadable); no item names a key that
#       does not exist.
#   tesserad -h  <->  man/tesserad.8
#       every option is on an ".It Fl ..." line, and every ".It Fl" option
#       exists.
#   tessera help, tessera CMD -h, tessera CMD SUB -h  <->  man/tessera.1
#       every command and sub-command is an item ".It [Xo] Ic CMD [SUB] ..."
#       under ".Sh COMMANDS" that shows all its options with Fl (short and
#       long forms) and no option it lacks; the global options are the
#       ".It Fl" items of DESCRIPTION; every Fl anywhere in the page exists.
#       A Fl after ".Ic tessera CMD" (or ".Ic CMD") on the same line is
#       taken as an option of CMD, one after ".Ic tesserad" is not checked.
#
# Every failure says what is missing (or extra) in which page, and where
# the reference came from.
. "${top_srcdir:-.}/tests/lib.sh"

TESSERAD="$top_builddir/tesserad"
TESSERA="$top_builddir/tessera"
MAN="$top_srcdir/man"
F="$T_DIR"

for f in "$TESSERAD" "$TESSERA"; do
    if [ ! -x "$f" ]; then
        echo "# $f is not built"
        exit 1
    fi
done

# report CATEGORY DESCRIPTION: one check from the problems file $F/problems,
# whose lines are "CATEGORY<TAB>message".
report() {
    if grep -q "^$1	" "$F/problems"; then
        t_check 1 "$2"
        grep "^$1	" "$F/problems" | cut -f2- | sed 's/^/#   /'
    else
        t_check 0 "$2"
    fi
}

# Option words of help lines that start with white space and a dash:
# "  -c, --config FILE   text" gives "-c" and "--config".
opt_words() {
    awk '/^[ \t]+-/ {
        for (i = 1; i <= NF; i++) {
            w = $i
            sub(/,$/, "", w)
            if (w !~ /^--?[A-Za-z0-9][-A-Za-z0-9]*$/)
                break
            print w
        }
    }'
}

# Awk functions shared by the page parsers: the options named by Fl on one
# mdoc line, normalised to "-x" / "--long".
AWK_FL='
function is_macro(t) { return t ~ /^[A-Z][a-z][a-z]?$/ || t ~ /^%[A-Z]$/ }
function is_punct(t) { return t ~ /^[][.,:;()|?!]+$/ }
function norm(t) {
    if (t ~ /^\\-/) return "-" substr(t, 2)
    if (t ~ /^-/) return "-" t
    return "-" t
}
# fl_list(line): the Fl options of line, as "opt<SUBSEP>position" in FL[1..n]
function fl_list(line,    n, i, j, k, t, cnt, tok) {
    cnt = 0
    n = split(line, tok, /[ \t]+/)
    sub(/^\./, "", tok[1])
    for (i = 1; i <= n; i++) {
        if (tok[i] != "Fl")
            continue
        for (k = i + 1; k <= n; k++) {
            t = tok[k]
            if (t == "" || is_macro(t) || is_punct(t))
                break
            t = norm(t)
            if (t ~ /^-[A-Za-z0-9][A-Za-z0-9]+$/) {
                # combined short options: -fn
                for (j = 2; j <= length(t); j++)
                    FL[++cnt] = "-" substr(t, j, 1) SUBSEP i
            } else {
                FL[++cnt] = t SUBSEP i
            }
        }
    }
    return cnt
}
'

: >"$F/problems"

# ===================================================== tessera.conf(5)

"$TESSERAD" --help-config >"$F/keys.txt" 2>"$F/err"
t_eq "$?" 0 "tesserad --help-config exits 0"
n=$(grep -c '^[^ ]' "$F/keys.txt")
[ "$n" -gt 0 ]; t_check $? "tesserad --help-config lists keys ($n)"

awk -v page="tessera.conf.5" '
function has_word(text, w,    re) {
    re = w
    gsub(/[][\\.^$*+?(){}|]/, "\\\\&", re)
    return text ~ ("(^|[^A-Za-z0-9])" re "([^A-Za-z0-9]|$)")
}
function prob(cat, msg) { printf "%s\t%s\n", cat, msg }
FILENAME == ARGV[1] {
    # --help-config: "section.name  TYPE[ BOUNDS], default \"X\"|no default[, reloadable]..."
    if ($0 ~ /^[ \t]/)
        next
    key = $1
    order[++nkeys] = key
    KEY[key] = 1
    TYPE[key] = $2
    if ($3 ~ /\.\./) BOUNDS[key] = $3
    else if ($3 == "length" || $3 == "items") BOUNDS[key] = $4
    sub(/,$/, "", BOUNDS[key])
    sub(/,$/, "", TYPE[key])
    if ($0 ~ /, no default/) {
        DEF[key] = ""; HASDEF[key] = 0
    } else if (match($0, /, default "([^"\\]|\\.)*"/)) {
        d = substr($0, RSTART + 11, RLENGTH - 12)
        gsub(/\\"/, "\"", d); gsub(/\\\\/, "\\", d)
        DEF[key] = d; HASDEF[key] = 1
    }
    RELOAD[key] = $0 ~ /, reloadable/
    next
}
# the page
/^\.Sh / { inkeys = ($0 == ".Sh KEYS"); sec = ""; cur = ""; next }
!inkeys { next }
/^\.Ss / {
    cur = ""
    s = $0
    if (s ~ /^\.Ss \[[^]]*\]/) {
        sub(/^\.Ss \[/, "", s); sub(/\].*$/, "", s); sec = s
    } else {
        sec = ""
        prob("extra", page ": in KEYS, \"" $0 "\" is not a \".Ss [section]\" heading")
    }
    next
}
/^\.It Ic / {
    cur = (sec == "" ? "" : sec ".") $3
    if (cur in ITEM)
        prob("extra", page ": key " cur " is documented twice")
    ITEM[cur] = $0
    TEXT[cur] = ""
    next
}
cur != "" { TEXT[cur] = TEXT[cur] "\n" $0 }
END {
    for (i = 1; i <= nkeys; i++) {
        k = order[i]
        sname = k; name = k
        if (k ~ /\./) { sub(/\..*$/, "", sname); sub(/^[^.]*\./, "", name) } else sname = ""
        if (!(k in ITEM)) {
            prob("missing", page ": key " k " (tesserad --help-config) is not documented: add \".It Ic " name " Ar " TYPE[k] "\" under \".Ss [" sname "]\" in KEYS")
            continue
        }
        it = ITEM[k]; text = TEXT[k]
        # the type
        if (TYPE[k] ~ /^one-of\(/) {
            v = TYPE[k]; sub(/^one-of\(/, "", v); sub(/\)$/, "", v)
            nv = split(v, vals, "|")
            for (j = 1; j <= nv; j++)
                if (!has_word(it, vals[j]))
                    prob("type", page ": key " k ": \"" it "\" does not show the value " vals[j] " (--help-config: " TYPE[k] ")")
        } else {
            split(it, w, /[ \t]+/)
            if (w[4] != "Ar" || w[5] != TYPE[k])
                prob("type", page ": key " k ": item \"" it "\" should read \".It Ic " name " Ar " TYPE[k] "\" (--help-config type)")
        }
        # the default
        if (HASDEF[k] && DEF[k] != "") {
            d = DEF[k]
            found = 0
            m = split(text, lines, "\n")
            for (j = 1; j <= m; j++) {
                l = lines[j]
                if (index(l, "Ql \"" d "\"") || index(l " ", "Ql " d " ") ) found = 1
            }
            if (!found)
                prob("default", page ": key " k ": the default \"" d "\" (--help-config) is not shown as \".Ql " d "\"")
        } else if (HASDEF[k]) {
            if (index(text, "Default: empty") == 0)
                prob("default", page ": key " k ": the default is empty (--help-config) but the item does not say \"Default: empty\"")
        } else if (tolower(text) !~ /no default/) {
            prob("default", page ": key " k ": it has no default (--help-config) but the item does not say \"no default\"")
        }
        # the bounds
        if (BOUNDS[k] != "") {
            split(BOUNDS[k], b, /\.\./)
            if (b[1] !~ /^0[a-z]*$/ && !has_word(text, b[1]))
                prob("bounds", page ": key " k ": the lower bound " b[1] " (--help-config: " BOUNDS[k] ") is not in its item")
            if (b[1] ~ /^0[a-z]+$/ && !has_word(text, b[1]) && !has_word(text, "0"))
                prob("bounds", page ": key " k ": the lower bound " b[1] " (--help-config: " BOUNDS[k] ") is not in its item")
            if (!has_word(text, b[2]))
                prob("bounds", page ": key " k ": the upper bound " b[2] " (--help-config: " BOUNDS[k] ") is not in its item")
        }
        # reload behaviour
        a = index(text, "Applied on reload") > 0
        if (!a && index(text, "Needs a restart") == 0 && index(text, "Read at start-up") == 0)
            prob("reload", page ": key " k ": the item does not say \"Applied on reload\", \"Needs a restart\" or \"Read at start-up\"")
        if (a && !RELOAD[k])
            prob("reload", page ": key " k ": the item says \"Applied on reload\" but --help-config does not call it reloadable")
    }
    for (k in ITEM)
        if (!(k in KEY))
            prob("extra", page ": documents key " k ", which tesserad --help-config does not list")
}
' "$F/keys.txt" "$MAN/tessera.conf.5" | sed 's/^/conf-/' >>"$F/problems"

report conf-missing "tessera.conf.5 documents every key of tesserad --help-config"
report conf-extra "tessera.conf.5 documents no key that tesserad lacks"
report conf-type "tessera.conf.5 shows each key's type"
report conf-default "tessera.conf.5 shows each key's default"
report conf-bounds "tessera.conf.5 shows each key's bounds"
report conf-reload "tessera.conf.5 says what a reload does with each key"

# ===================================================== tesserad(8)

"$TESSERAD" -h >"$F/tesserad-h.txt" 2>&1
t_eq "$?" 0 "tesserad -h exits 0"
opt_words <"$F/tesserad-h.txt" | sort -u >"$F/tesserad-opts"
n=$(wc -l <"$F/tesserad-opts")
[ "$n" -gt 0 ]; t_check $? "tesserad -h lists options ($n)"

awk -v page="tesserad.8" "$AWK_FL"'
function prob(cat, msg) { printf "%s\t%s\n", cat, msg }
FILENAME == ARGV[1] { OPT[$1] = 1; next }
/^\.It / {
    n = fl_list($0)
    for (i = 1; i <= n; i++) {
        split(FL[i], p, SUBSEP)
        DOC[p[1]] = 1
        if (!(p[1] in OPT))
            prob("extra", page ":" FNR ": documents option " p[1] ", which tesserad -h does not list")
    }
}
END {
    for (o in OPT)
        if (!(o in DOC))
            prob("missing", page ": option " o " (tesserad -h) has no \".It Fl\" item")
}
' "$F/tesserad-opts" "$MAN/tesserad.8" | sed 's/^/d-/' >>"$F/problems"

report d-missing "tesserad.8 documents every option of tesserad -h"
report d-extra "tesserad.8 documents no option that tesserad lacks"

# ===================================================== tessera(1)

# facts: "G OPT" global option, "C CMD" top-level command, "L PATH" a
# command path that needs its own item, "O PATH<TAB>OPT" an option of it.
"$TESSERA" -h >"$F/tessera-h.txt" 2>&1
t_eq "$?" 0 "tessera -h exits 0"
"$TESSERA" help >"$F/tessera-help.txt" 2>&1
t_eq "$?" 0 "tessera help exits 0"
sed -n '/^global options/,$p' "$F/tessera-h.txt" | opt_words | sort -u | sed 's/^/G /' \
    >"$F/facts"
# "  NAME USAGE" lines of the "commands:" block, up to the blank line.
sed -n '/^commands:/,/^$/p' "$F/tessera-help.txt" | awk '/^  [a-z]/ { print }' \
    >"$F/commands.txt"
n=$(wc -l <"$F/commands.txt")
[ "$n" -gt 0 ]; t_check $? "tessera help lists commands ($n)"
hfail=0
while read -r cmd usage; do
    echo "C $cmd" >>"$F/facts"
    # Sub-commands: a word list "a|b|c" followed by "..." in the usage line,
    # and the "commands:" block of `tessera CMD -h` when it has one.
    subs=$(printf '%s\n' "$usage" | awk '{
        for (i = 1; i < NF; i++)
            if ($(i + 1) == "..." && $i ~ /^[a-z][-a-z]*(\|[a-z][-a-z]*)*$/) {
                n = split($i, s, "|")
                for (j = 1; j <= n; j++) print s[j]
            }
    }')
    first=$(printf '%s\n' "$usage" | awk '{ print $1 }')
    own=yes
    if [ -n "$subs" ]; then
        "$TESSERA" "$cmd" -h </dev/null >"$F/h.txt" 2>&1 || hfail=1
        subs=$( (printf '%s\n' "$subs"
                 sed -n '/^commands:/,/^$/p' "$F/h.txt" |
                     awk -v c="$cmd" '$1 == c && NF >= 2 { print $2 }') | sort -u)
        case $first in *"|"*) own=no ;; esac
        printf '%s\n' "$subs" | grep -qx "$first" && own=no
    fi
    paths=""
    [ $own = yes ] && paths="$cmd"
    for s in $subs; do paths="$paths
$cmd $s"; done
    printf '%s\n' "$paths" | while read -r p; do
        [ -n "$p" ] || continue
        echo "L $p" >>"$F/facts"
        # $p is one or two words: the command and its sub-command
        "$TESSERA" $p -h </dev/null >"$F/h.txt" 2>&1 || { echo "# tessera $p -h failed"; echo x >"$F/hfail"; }
        { sed -n '1s/^usage: //p' "$F/h.txt" | tr ' []()|' '\n\n\n\n\n\n' |
              grep -E '^--?[A-Za-z0-9][-A-Za-z0-9]*$'
          sed 1d "$F/h.txt" | opt_words; } |
            grep -vx -e -h -e --help | sort -u | sed "s/^/O $p	/" >>"$F/facts"
    done
done <"$F/commands.txt"
[ ! -e "$F/hfail" ] && [ $hfail = 0 ]; t_check $? "tessera CMD [SUB] -h works for every command"

awk -v page="tessera.1" "$AWK_FL"'
function prob(cat, msg) { printf "%s\t%s\n", cat, msg }
# ic_path(line, limit): the command path named by the last "Ic" of line
# before token number limit (0: anywhere), without a leading "tessera";
# "-" when that Ic names another program; "" when there is no Ic or no
# command word after it.
function ic_path(line, limit,    n, i, k, tok, last, path) {
    n = split(line, tok, /[ \t]+/)
    sub(/^\./, "", tok[1])
    if (limit == 0) limit = n + 1
    last = 0
    for (i = 1; i < limit; i++)
        if (tok[i] == "Ic") last = i
    if (!last) return ""
    k = last + 1
    if (k < limit && tok[k] == "tessera") k++
    if (k >= limit || tok[k] !~ /^[a-z][-a-z]*$/) return ""
    if (!(tok[k] in CMD)) return "-"
    path = tok[k]
    for (k++; k < limit && tok[k] ~ /^[a-z][-a-z]*$/; k++)
        path = path " " tok[k]
    return path
}
# resolve(path): the longest prefix of path that is an item path or a command
function resolve(p) {
    while (p != "") {
        if (p in LEAF || p in CMD) return p
        if (p !~ / /) return ""
        sub(/ [^ ]*$/, "", p)
    }
    return ""
}
function known_anywhere(o) { return (o in GLOBAL) || (o in ANYOPT) || o == "-h" || o == "--help" || o == "--" }
FILENAME == ARGV[1] {
    if ($1 == "G") GLOBAL[$2] = 1
    else if ($1 == "C") CMD[$2] = 1
    else if ($1 == "L") { p = $0; sub(/^L /, "", p); LEAF[p] = 1 }
    else if ($1 == "O") {
        split(substr($0, 3), f, "\t")
        OPT[f[1], f[2]] = 1; ANYOPT[f[2]] = 1; OPTS[f[1]] = OPTS[f[1]] " " f[2]
    }
    next
}
/^\.Sh / { sh = substr($0, 5); cur = ""; next }
sh == "COMMANDS" && /^\.Ss / { cur = ""; next }
!/^\./ || /^\.\\"/ { next }
# a command item
sh == "COMMANDS" && /^\.It / && ($2 == "Ic" || ($2 == "Xo" && $3 == "Ic")) {
    p = ic_path($0, 0)
    if (p == "" || p == "-") {
        prob("cmd-extra", page ":" FNR ": item \"" $0 "\" documents a command that tessera help does not list")
        cur = ""
    } else {
        cur = p
        if (p in ITEM)
            prob("cmd-extra", page ":" FNR ": command \"" p "\" has a second item")
        ITEM[p] = FNR
        if (!(p in LEAF) && !(p in CMD))
            prob("cmd-extra", page ":" FNR ": documents command \"tessera " p "\", which tessera help does not list")
    }
}
{
    n = fl_list($0)
    for (i = 1; i <= n; i++) {
        split(FL[i], q, SUBSEP)
        o = q[1]
        ctx = ic_path($0, q[2])
        if (ctx == "-")
            continue            # an option of another program (tesserad)
        if (sh == "DESCRIPTION" && $1 == ".It") {
            GDOC[o] = 1
            if (!(o in GLOBAL))
                prob("global", page ":" FNR ": DESCRIPTION lists " o " as a global option, which tessera -h does not")
            continue
        }
        if (ctx == "" && sh == "COMMANDS" && cur != "") {
            ctx = cur
        } else if (ctx != "") {
            ctx = resolve(ctx)
        }
        if (ctx != "" && (ctx in LEAF)) {
            SEEN[ctx, o] = 1
            if (!((ctx, o) in OPT) && !(o in GLOBAL) && o != "-h" && o != "--help")
                prob("opt-extra", page ":" FNR ": shows " o " for \"tessera " ctx "\", which \"tessera " ctx " -h\" does not list")
        } else if (!known_anywhere(o)) {
            prob("opt-extra", page ":" FNR ": mentions " o ", which no tessera command has")
        }
    }
}
END {
    for (c in CMD) {
        found = 0
        for (p in ITEM) if (p == c || index(p, c " ") == 1) found = 1
        if (!found)
            prob("cmd-missing", page ": command \"" c "\" (tessera help) has no item under COMMANDS")
    }
    for (p in LEAF)
        if (!(p in ITEM))
            prob("cmd-missing", page ": \"tessera " p "\" (from tessera help / tessera " p " -h) has no item: add \".It Ic " p " ...\" under COMMANDS")
    for (k in OPT) {
        split(k, f, SUBSEP)
        if ((f[1] in ITEM) && !((f[1], f[2]) in SEEN))
            prob("opt-missing", page ": the item of \"tessera " f[1] "\" does not show its option " f[2] " (tessera " f[1] " -h)")
    }
    for (o in GLOBAL)
        if (!(o in GDOC))
            prob("global", page ": global option " o " (tessera -h) has no \".It Fl\" item in DESCRIPTION")
}
' "$F/facts" "$MAN/tessera.1" | sed 's/^/c-/' >>"$F/problems"

report c-cmd-missing "tessera.1 has an item for every command and sub-command"
report c-cmd-extra "tessera.1 documents no command that tessera lacks"
report c-opt-missing "tessera.1 shows every option of every command"
report c-opt-extra "tessera.1 shows no option that a command lacks"
report c-global "tessera.1 lists exactly the global options of tessera -h"

t_done
