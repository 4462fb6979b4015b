#!/bin/sh
# tests/docs/mandoc-lint.sh: every manual page in man/ (man/*.[1-8]) passes
# `mandoc -Tlint -Wwarning` without a single message: no syntax error, no
# misused macro, no broken list.  Style-level messages (such as cross
# references to pages that are not installed here) are not checked.
# Skipped (77) when mandoc is missing (Debian package mandoc).
. "${top_srcdir:-.}/tests/lib.sh"

# configure's AC_PATH_PROGS leaves MANDOC empty when it found none.
MANDOC=${MANDOC:-mandoc}
t_need "$MANDOC"

pages=0
for page in "$top_srcdir"/man/*.[1-8]; do
    [ -f "$page" ] || continue
    pages=$((pages + 1))
    name=${page##*/}
    # -Tlint writes its messages on stdout; any message or a non-zero
    # status (2 = warnings, 3 = errors, ...) is a failure.
    out=$("$MANDOC" -Tlint -Wwarning "$page" 2>&1)
    rc=$?
    if [ "$rc" = 0 ] && [ -z "$out" ]; then
        t_check 0 "man/$name: mandoc -Tlint -Wwarning is clean"
    else
        t_check 1 "man/$name: mandoc -Tlint -Wwarning reports (exit $rc):"
        printf '%s\n' "$out" | sed 's/^/#   /'
    fi
done
if [ "$pages" = 0 ]; then
    echo "# skip: no manual pages in $top_srcdir/man"
    exit 77
fi
t_done
