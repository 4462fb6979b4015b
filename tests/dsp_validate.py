#!/usr/bin/env python3
"""tests/dsp_validate.py: validate DSP 2025-1 messages against the spec's JSON schemas.

usage: dsp_validate.py SCHEMA_DIR FILE...

SCHEMA_DIR is tests/data/dsp (the schemas as published, under catalog/, common/,
negotiation/, transfer/).  Each FILE holds one JSON message; the schema is chosen by its
@type (the version document, which has none, by its protocolVersions member).  Prints
"ok FILE" or "FAIL FILE: reason" per file and exits 0 when all passed, 1 otherwise, 2 on
usage errors.

The published transfer schemas reference "transfer-schema.json#definitions/...", which is
not a JSON Pointer; references are repaired to "#/definitions/..." on loading, the only
change made to the schemas.  Works with python3-jsonschema 4.10 (Debian 12, RefResolver)
and with later releases (the referencing library).
"""
import glob
import json
import os
import sys
import warnings

try:
    import jsonschema
except ImportError:
    print("jsonschema is not installed", file=sys.stderr)
    sys.exit(77)

SCHEMA_OF_TYPE = {
    "CatalogRequestMessage": "catalog/catalog-request-message-schema.json",
    "DatasetRequestMessage": "catalog/dataset-request-message-schema.json",
    "Catalog": "catalog/catalog-schema.json",
    "Dataset": "catalog/dataset-schema.json",
    "CatalogError": "catalog/catalog-error-schema.json",
    "ContractRequestMessage": "negotiation/contract-request-message-schema.json",
    "ContractOfferMessage": "negotiation/contract-offer-message-schema.json",
    "ContractAgreementMessage": "negotiation/contract-agreement-message-schema.json",
    "ContractAgreementVerificationMessage":
        "negotiation/contract-agreement-verification-message-schema.json",
    "ContractNegotiationEventMessage": "negotiation/contract-negotiation-event-message-schema.json",
    "ContractNegotiationTerminationMessage":
        "negotiation/contract-negotiation-termination-message-schema.json",
    "ContractNegotiation": "negotiation/contract-negotiation-schema.json",
    "ContractNegotiationError": "negotiation/contract-negotiation-error-schema.json",
    "TransferRequestMessage": "transfer/transfer-request-message-schema.json",
    "TransferStartMessage": "transfer/transfer-start-message-schema.json",
    "TransferCompletionMessage": "transfer/transfer-completion-message-schema.json",
    "TransferSuspensionMessage": "transfer/transfer-suspension-message-schema.json",
    "TransferTerminationMessage": "transfer/transfer-termination-message-schema.json",
    "TransferProcess": "transfer/transfer-process-schema.json",
    "TransferError": "transfer/transfer-error-schema.json",
}
VERSION_SCHEMA = "common/protocol-version-schema.json"


def repair_refs(node):
    """Turn "x.json#definitions/Y" into "x.json#/definitions/Y", in place."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and "#definitions/" in value:
                node[key] = value.replace("#definitions/", "#/definitions/")
            else:
                repair_refs(value)
    elif isinstance(node, list):
        for item in node:
            repair_refs(item)


def load_schemas(schema_dir):
    """All schemas under schema_dir: {relative path: schema}, refs repaired."""
    schemas = {}
    for path in glob.glob(os.path.join(schema_dir, "*", "*-schema.json")):
        with open(path, encoding="utf-8") as f:
            schema = json.load(f)
        repair_refs(schema)
        schemas[os.path.relpath(path, schema_dir)] = schema
    return schemas


class Validators:
    """Builds one validator per schema, resolving $refs among the local schemas only."""

    def __init__(self, schemas):
        self.schemas = schemas
        self.by_id = {s["$id"]: s for s in schemas.values() if "$id" in s}
        self.registry = None
        try:
            from referencing import Registry, Resource
            from referencing.jsonschema import DRAFT201909

            self.registry = Registry().with_resources(
                (sid, Resource.from_contents(s, default_specification=DRAFT201909))
                for sid, s in self.by_id.items())
        except ImportError:
            pass

    def get(self, rel):
        schema = self.schemas[rel]
        cls = jsonschema.Draft201909Validator
        if self.registry is not None:
            return cls(schema, registry=self.registry)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            resolver = jsonschema.RefResolver(schema.get("$id", ""), schema, store=dict(self.by_id))
        return cls(schema, resolver=resolver)


def schema_for(doc):
    if not isinstance(doc, dict):
        return None, "not a JSON object"
    if "@type" not in doc:
        if "protocolVersions" in doc:
            return VERSION_SCHEMA, None
        return None, "no @type"
    rel = SCHEMA_OF_TYPE.get(doc["@type"]) if isinstance(doc["@type"], str) else None
    if rel is None:
        return None, "no schema for @type %r" % (doc["@type"],)
    return rel, None


def main(argv):
    if len(argv) < 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    schemas = load_schemas(argv[1])
    wanted = list(SCHEMA_OF_TYPE.values()) + [VERSION_SCHEMA]
    missing = [r for r in wanted if r not in schemas]
    if missing:
        print("missing schemas in %s: %s" % (argv[1], ", ".join(missing)), file=sys.stderr)
        return 2
    validators = Validators(schemas)
    failed = 0
    for path in argv[2:]:
        try:
            with open(path, encoding="utf-8") as f:
                doc = json.load(f)
        except (OSError, ValueError) as e:
            print("FAIL %s: %s" % (path, e))
            failed += 1
            continue
        rel, why = schema_for(doc)
        if rel is None:
            print("FAIL %s: %s" % (path, why))
            failed += 1
            continue
        try:
            errors = sorted(validators.get(rel).iter_errors(doc), key=lambda e: list(e.path))
        except Exception as e:  # an unresolvable $ref must not pass silently
            print("FAIL %s: %s: %s" % (path, rel, e))
            failed += 1
            continue
        if errors:
            failed += 1
            for e in errors:
                where = "/".join(str(p) for p in e.absolute_path) or "(top)"
                print("FAIL %s: %s: %s: %s" % (path, rel, where, e.message))
        else:
            print("ok %s (%s)" % (path, rel))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
