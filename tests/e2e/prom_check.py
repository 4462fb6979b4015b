#!/usr/bin/env python3
"""tests/e2e/prom_check.py FILE: check a Prometheus text exposition (0.0.4).

Every sample belongs to a family announced by one HELP and one TYPE line
before it, names and label names are valid, label values are correctly
escaped, values parse as floats, counters are named *_total and never
negative, no series repeats.  Prints the samples as JSON
{"name{k=v,...}": value} (labels sorted) on success; exits 1 with the
first problem otherwise.
"""
import json
import re
import sys

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r"[a-zA-Z_][a-zA-Z0-9_]*"
VALUE = r'"((?:[^"\\\n]|\\\\|\\"|\\n)*)"'


def fail(n, line, why):
    print("line %d: %s: %r" % (n, why, line), file=sys.stderr)
    sys.exit(1)


def main():
    text = open(sys.argv[1], encoding="utf-8").read()
    if text and not text.endswith("\n"):
        fail(0, text[-40:], "does not end with a newline")
    helps, types, out = {}, {}, {}
    for n, line in enumerate(text.split("\n")[:-1], 1):
        if line.startswith("#"):
            m = re.fullmatch(r"# (HELP|TYPE) (%s) (.*)" % NAME, line)
            if not m:
                fail(n, line, "a comment that is not HELP or TYPE")
            kind, name, rest = m.groups()
            seen = helps if kind == "HELP" else types
            if name in seen:
                fail(n, line, "a second %s for %s" % (kind, name))
            if kind == "TYPE" and rest not in ("counter", "gauge", "untyped", "summary", "histogram"):
                fail(n, line, "unknown type")
            if any(k.startswith(name + "{") or k == name for k in out):
                fail(n, line, "%s after the family's samples" % kind)
            seen[name] = rest
            continue
        m = re.fullmatch(r"(%s)(?:\{(.*)\})? (\S+)" % NAME, line)
        if not m:
            fail(n, line, "not a sample line")
        name, labels, value = m.groups()
        if name not in helps or name not in types:
            fail(n, line, "a sample without HELP and TYPE")
        pairs = []
        rest = labels or ""
        while rest:
            lm = re.match(r"(%s)=%s(,|$)" % (LABEL, VALUE), rest)
            if not lm:
                fail(n, line, "bad labels")
            raw = lm.group(2)
            val = re.sub(r'\\(.)', lambda e: {"n": "\n", "\\": "\\", '"': '"'}[e.group(1)], raw)
            pairs.append((lm.group(1), val))
            rest = rest[lm.end():]
        if len({k for k, _ in pairs}) != len(pairs):
            fail(n, line, "a label twice")
        try:
            v = float(value)
        except ValueError:
            fail(n, line, "the value is not a number")
        if types[name] == "counter":
            if not name.endswith("_total"):
                fail(n, line, "a counter not named *_total")
            if v < 0:
                fail(n, line, "a negative counter")
        key = name + "{" + ",".join("%s=%s" % p for p in sorted(pairs)) + "}"
        if key in out:
            fail(n, line, "the same series twice")
        out[key] = v
    json.dump(out, sys.stdout, sort_keys=True)
    print()


main()
