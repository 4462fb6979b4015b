#!/usr/bin/env python3
"""tests/openapi_validate.py SPEC DIR NAME=SCHEMA...: check that each answer
DIR/NAME.json matches the schema SCHEMA of the OpenAPI 3.0 document SPEC
(doc/openapi.yaml).  Prints one line per mismatch; exits 1 when any, 2 when
python3-yaml or python3-jsonschema is missing (the caller skips)."""
import json
import sys

try:
    import jsonschema
    import yaml
except ImportError:
    sys.exit(2)

schemas = yaml.safe_load(open(sys.argv[1]))["components"]["schemas"]


def conv(s):
    # OpenAPI 3.0 schema -> JSON Schema: nullable, local $refs.
    if isinstance(s, list):
        return [conv(x) for x in s]
    if not isinstance(s, dict):
        return s
    if "$ref" in s:
        return conv(schemas[s["$ref"].split("/")[-1]])
    out = {k: conv(v) for k, v in s.items() if k not in ("nullable", "example")}
    if s.get("nullable"):
        out = {"anyOf": [out, {"type": "null"}]}
    return out


bad = 0
for arg in sys.argv[3:]:
    name, schema = arg.split("=", 1)
    try:
        jsonschema.validate(json.load(open("%s/%s.json" % (sys.argv[2], name))),
                            conv(schemas[schema]))
    except (jsonschema.ValidationError, ValueError, OSError) as e:
        print("# %s does not match %s: %s" % (name, schema, getattr(e, "message", e)))
        bad += 1
sys.exit(1 if bad else 0)
