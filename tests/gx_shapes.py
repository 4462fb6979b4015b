#!/usr/bin/env python3
"""tests/gx_shapes.py: check Gaia-X credentials against the 2511 SHACL shapes.

    gx_shapes.py SHAPES.ttl FILE.json...

Each FILE is a credential (VCDM 2.0, compacted with the gx:, schema:, dct:,
dcat: and vcard: prefixes, as tessera writes them), a list of them, or the
answer of `tessera --json sd show` (its credentials[].credential).  The
credential subject and every node nested in it are turned into triples,
and each node whose type has a NodeShape (sh:targetClass) is checked for
the shape's sh:minCount, sh:maxCount, sh:closed (with sh:ignoredProperties)
and sh:in constraints: the subset of SHACL that decides whether a
self-description is complete and has no unknown members.  Nested node
shapes (sh:node, sh:class) are checked on the nested node's own type.

An independent check of lib/vc.c's hand-written shape tables: it reads the
shapes themselves with rdflib (Debian's python3-rdflib).  Prints one line
per violation and exits 1 when there is any, 0 otherwise, 2 on bad input.
"""
import json
import sys

import rdflib
from rdflib.namespace import RDF, SH

PREFIXES = {
    "gx": "https://w3id.org/gaia-x/2511#",
    "schema": "https://schema.org/",
    "dct": "http://purl.org/dc/terms/",
    "dcat": "http://www.w3.org/ns/dcat#",
    "vcard": "http://www.w3.org/2006/vcard/ns#",
}


def expand(term):
    if ":" in term:
        p, local = term.split(":", 1)
        if p in PREFIXES:
            return rdflib.URIRef(PREFIXES[p] + local)
        if p in ("http", "https", "did", "urn"):
            return rdflib.URIRef(term)
    raise ValueError("unknown term " + term)


class Graph:
    def __init__(self):
        self.nodes = {}  # id -> {"types": set, "props": {iri: [values]}}
        self.n = 0

    def add(self, obj):
        nid = obj.get("id") or obj.get("@id")
        if nid is None:
            self.n += 1
            nid = "_:b%d" % self.n
        node = self.nodes.setdefault(nid, {"types": set(), "props": {}})
        types = obj.get("type", obj.get("@type", []))
        for t in types if isinstance(types, list) else [types]:
            node["types"].add(expand(t))
        for k, v in obj.items():
            if k in ("id", "@id", "type", "@type"):
                continue
            values = node["props"].setdefault(expand(k), [])
            for item in v if isinstance(v, list) else [v]:
                if isinstance(item, dict) and "@value" not in item:
                    values.append(("node", self.add(item)))
                else:
                    lit = item["@value"] if isinstance(item, dict) else item
                    values.append(("lit", str(lit).lower() if isinstance(lit, bool) else str(lit)))
        return nid


def shapes_by_class(g):
    out = {}
    for shape in g.subjects(RDF.type, SH.NodeShape):
        for cls in g.objects(shape, SH.targetClass):
            out.setdefault(cls, []).append(shape)
    return out


def in_list(g, head):
    return [str(x) for x in rdflib.collection.Collection(g, head)]


def check_node(g, shapes, graph, nid, where, problems):
    node = graph.nodes[nid]
    for cls in node["types"]:
        for shape in shapes.get(cls, []):
            paths = set()
            for ps in g.objects(shape, SH.property):
                path = g.value(ps, SH.path)
                paths.add(path)
                values = node["props"].get(path, [])
                mn = g.value(ps, SH.minCount)
                mx = g.value(ps, SH.maxCount)
                if mn is not None and len(values) < int(mn):
                    problems.append("%s (%s): %s: %d value(s), at least %s required"
                                    % (where, g.qname(cls), g.qname(path), len(values), mn))
                if mx is not None and len(values) > int(mx):
                    problems.append("%s (%s): %s: %d values, at most %s allowed"
                                    % (where, g.qname(cls), g.qname(path), len(values), mx))
                allowed = g.value(ps, SH["in"])
                if allowed is not None:
                    ok = set(in_list(g, allowed))
                    for kind, v in values:
                        if kind == "lit" and v not in ok:
                            problems.append("%s (%s): %s: %r is not in sh:in"
                                            % (where, g.qname(cls), g.qname(path), v))
            if (shape, SH.closed, rdflib.Literal(True)) in g:
                ignored = set()
                for head in g.objects(shape, SH.ignoredProperties):
                    ignored |= {rdflib.URIRef(x) for x in in_list(g, head)}
                for p in node["props"]:
                    if p not in paths and p not in ignored:
                        problems.append("%s (%s): %s is not allowed (closed shape)"
                                        % (where, g.qname(cls), p))
    for p, values in node["props"].items():
        for kind, v in values:
            if kind == "node":
                check_node(g, shapes, graph, v, where + " / " + str(p).split("/")[-1].split("#")[-1],
                           problems)


def credentials(doc):
    if isinstance(doc, list):
        for d in doc:
            yield from credentials(d)
    elif "credentials" in doc:
        for c in doc["credentials"]:
            yield c["credential"]
    else:
        yield doc


def main(argv):
    if len(argv) < 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    g = rdflib.Graph()
    g.parse(argv[1], format="turtle")
    shapes = shapes_by_class(g)
    problems, n = [], 0
    for path in argv[2:]:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        for cred in credentials(doc):
            n += 1
            graph = Graph()
            subj = cred["credentialSubject"]
            graph.add(subj)
            check_node(g, shapes, graph, subj.get("id", "_:b1"), subj.get("id", "subject"),
                       problems)
    for p in problems:
        print(p)
    print("# %d credential(s), %d violation(s)" % (n, len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
