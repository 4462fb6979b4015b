#!/usr/bin/env python3
"""scripts/odrl-fixtures.py: turn the public ODRL evaluation suites into JSON test fixtures.

usage: odrl-fixtures.py SOLIDLAB_DIR W3C_DIR [OUT_DIR]

SOLIDLAB_DIR  a copy of github.com/SolidLabResearch/ODRL-Test-Suite (Turtle; the folder that
              holds data/index.ttl), e.g. ../shared/vectors/odrl/solidlab-test-suite
W3C_DIR       a copy of github.com/w3c/odrl formal-semantics examples (JSON-LD; the folder
              that holds formal-semantics/examples),
              e.g. ../shared/vectors/odrl/w3c-odrl-formal-semantics
OUT_DIR       where solidlab/*.json and w3c/*.json are written (default: tests/data/odrl next to
              this script's parent folder)

Run once by a developer when a suite changes; the output is committed and `make check` reads
only the JSON, so neither Python nor rdflib is needed to build or test tessera.  Needs
python3-rdflib (Debian 12: 6.1.1) for the Turtle.  tests/data/odrl/README.md describes the
fixture format and every mapping rule and correction applied here; keep the two in step.

Each fixture is one test case:
  {"id", "suite", "title", "source": {...file names...}, "corrections": [...],
   "engine":   compile options the case needs beyond tessera's defaults, with reasons,
   "policy":   the policy as compacted JSON-LD in the shape Dataspace Protocol peers send,
   "request":  {"assignee", "action", "target", "operands"},
   "world":    {"now", "partOf": {member: [collection...]}, "duties": [...]},
   "expected": {"decision", "rule", "activation", "premises", "constraints", "conditions"}}
The script refuses (exit 1) any triple or JSON member it has no rule for, so nothing in a
source case is silently dropped.
"""
import datetime
import glob
import json
import os
import re
import shutil
import sys

try:
    import rdflib
    from rdflib import RDF, Literal, URIRef, Namespace
except ImportError:
    print("odrl-fixtures.py: python3-rdflib is not installed (apt-get install python3-rdflib)",
          file=sys.stderr)
    sys.exit(2)

# Keep literals as written ("2024-01-01T00:00:00.000Z"), not rdflib's normalised form.
rdflib.NORMALIZE_LITERALS = False

ODRL = Namespace("http://www.w3.org/ns/odrl/2/")
DCT = Namespace("http://purl.org/dc/terms/")
XSD = "http://www.w3.org/2001/XMLSchema#"
REPORT = Namespace("https://w3id.org/force/compliance-report#")
EX = Namespace("http://example.org/")
TEMP = Namespace("http://example.com/request/")

ODRL_CONTEXT = "http://www.w3.org/ns/odrl.jsonld"
POLICY_TYPES = ("Set", "Offer", "Agreement", "Policy")
RULE_KINDS = ("permission", "prohibition", "obligation")
LOGICAL = ("and", "or", "xone", "andSequence")
# tessera's default compile limits (contracts/odrl.h); a case over them says so in "engine".
DEFAULT_MAX_CONSTRAINTS = 512
DEFAULT_MAX_LIST = 256
SOLIDLAB_COMMIT = "7958238e72511059478e43ec9e57b053504cfd2c"
W3C_COMMIT = "f86f89b03c3749aac850b889f7b733ca7e2429a0"


class ConvertError(Exception):
    pass


def local(iri, ns=ODRL):
    """ODRL terms become bare names (the DSP 2025-1 context maps them); other IRIs stay whole."""
    s = str(iri)
    if s.startswith(str(ns)):
        return s[len(str(ns)):]
    return s


def literal_json(lit):
    if not isinstance(lit, Literal):
        raise ConvertError("expected a literal, got %r" % (lit,))
    if lit.datatype is None:
        return str(lit)
    dt = str(lit.datatype)
    if dt.startswith(XSD):
        dt = "xsd:" + dt[len(XSD):]
    return {"@value": str(lit), "@type": dt}


class Graph:
    """A parsed Turtle file, and the triples used so far (to prove none was dropped)."""

    def __init__(self, path):
        self.path = path
        self.g = rdflib.Graph()
        self.g.parse(path, format="turtle")
        self.used = set()

    def objs(self, s, p):
        out = []
        for o in self.g.objects(s, p):
            self.used.add((s, p, o))
            out.append(o)
        return out

    def one(self, s, p, required=True):
        vals = self.objs(s, p)
        if len(vals) > 1:
            raise ConvertError("%s: %s has %d values for %s" % (self.path, s, len(vals), p))
        if not vals:
            if required:
                raise ConvertError("%s: %s has no %s" % (self.path, s, p))
            return None
        return vals[0]

    def types(self, s):
        return [local(t) for t in self.objs(s, RDF.type)]

    def mark(self, s, p):
        self.objs(s, p)

    def check_all_used(self, ignore_pred=()):
        left = [t for t in self.g if t not in self.used and t[1] not in ignore_pred]
        if left:
            raise ConvertError("%s: %d triples have no mapping rule, e.g. %s"
                               % (self.path, len(left), " ".join(str(x) for x in left[0])))


# ----------------------------------------------------------------------------- SolidLab policy

def constraint_sort_key(c):
    """RDF lists of and/or members are unordered; sort for stable, readable output."""
    if "leftOperand" in c:
        ro = c["rightOperand"]
        if isinstance(ro, dict):
            ro = ro.get("@value", ro.get("@id", ""))
        return (str(ro), c["operator"], c["leftOperand"])
    for op in LOGICAL:
        if op in c:
            return min(constraint_sort_key(m) for m in c[op])
    return ("",)


def convert_constraint(g, node, depth=0):
    if depth > 16:
        raise ConvertError("constraint nesting too deep at %s" % node)
    out = {"@id": str(node)}
    types = g.types(node)
    for op in LOGICAL:
        members = g.objs(node, ODRL[op])
        if members:
            if "Constraint" in types:
                raise ConvertError("%s is a Constraint with a logical operand" % node)
            out[op] = sorted((convert_constraint(g, m, depth + 1) for m in members),
                             key=constraint_sort_key)
            return out
    out["leftOperand"] = local(g.one(node, ODRL.leftOperand))
    out["operator"] = local(g.one(node, ODRL.operator))
    ro = g.one(node, ODRL.rightOperand)
    out["rightOperand"] = literal_json(ro) if isinstance(ro, Literal) else {"@id": str(ro)}
    for extra in ("unit", "dataType", "status"):
        v = g.one(node, ODRL[extra], required=False)
        if v is not None:
            out[extra] = literal_json(v) if isinstance(v, Literal) else str(v)
    return out


def convert_party_or_asset(g, node, collection_type):
    """A plain IRI stays a string; a declared collection becomes {"@id", "@type", "source"}."""
    types = g.types(node)
    if collection_type in types:
        out = {"@id": str(node), "@type": collection_type}
        src = g.one(node, ODRL.source, required=False)
        if src is not None:
            out["source"] = str(src)
        refinements = g.objs(node, ODRL.refinement)
        if refinements:
            out["refinement"] = [convert_constraint(g, r) for r in refinements]
        return out
    if types:
        raise ConvertError("%s: unexpected type %s" % (node, types))
    return str(node)


def convert_rule(g, node, kind):
    out = {"@id": str(node)}
    g.types(node)
    actions = g.objs(node, ODRL.action)
    if len(actions) > 1:
        raise ConvertError("%s: compact rule with %d actions" % (node, len(actions)))
    if actions:
        out["action"] = local(actions[0])
    for prop, ctype in (("target", "AssetCollection"), ("assignee", "PartyCollection"),
                        ("assigner", "PartyCollection")):
        vals = g.objs(node, ODRL[prop])
        if len(vals) > 1:
            raise ConvertError("%s: %d values for %s" % (node, len(vals), prop))
        if vals:
            out[prop] = convert_party_or_asset(g, vals[0], ctype)
    cons = g.objs(node, ODRL.constraint)
    if cons:
        out["constraint"] = sorted((convert_constraint(g, c) for c in cons),
                                   key=constraint_sort_key)
    for sub in ("duty", "remedy", "consequence"):
        subs = g.objs(node, ODRL[sub])
        if subs:
            out[sub] = [convert_rule(g, d, sub) for d in sorted(subs)]
    return out


def convert_policy(path):
    g = Graph(path)
    roots = [s for s in g.g.subjects(RDF.type, None)
             if local(g.g.value(s, RDF.type)) in POLICY_TYPES + ("Request",)]
    if len(roots) != 1:
        raise ConvertError("%s: %d policies" % (path, len(roots)))
    root = roots[0]
    ptype = g.types(root)[0]
    uid = g.one(root, ODRL.uid, required=False)
    if uid is not None and uid != root:
        raise ConvertError("%s: uid %s differs from the node %s" % (path, uid, root))
    out = {"@context": ODRL_CONTEXT, "@id": str(root), "@type": ptype}
    description = g.one(root, DCT.description, required=False)
    g.mark(root, DCT.source)
    for kind in RULE_KINDS:
        rules = g.objs(root, ODRL[kind])
        if rules:
            out[kind] = [convert_rule(g, r, kind) for r in sorted(rules)]
    g.check_all_used()
    return out, (str(description) if description is not None else None)


def request_of(path):
    """An odrl:Request with one permission: the (assignee, action, target) asked for."""
    pol, _ = convert_policy(path)
    perms = pol.get("permission", [])
    if pol["@type"] != "Request" or len(perms) != 1 or len(pol) != 4:
        raise ConvertError("%s: not a one-permission Request" % path)
    p = perms[0]
    req = {}
    for k in ("assignee", "action", "target"):
        if k in p:
            req[k] = p[k]
    if set(p) - {"@id", "assignee", "action", "target"}:
        raise ConvertError("%s: request permission has %s" % (path, sorted(p)))
    return pol["@id"], p["@id"], req


# ----------------------------------------------------------------------------- SolidLab world

DEONTIC = {"NonSet": "not-set", "Fulfilled": "fulfilled", "Violated": "violated"}
PERFORMANCE = {"Performed": "performed", "Unperformed": "unperformed", "Unknown": "unknown"}


def world_of(path):
    g = Graph(path)
    world = {"now": None, "partOf": {}, "duties": []}
    sotws = list(g.g.subjects(RDF.type, EX.Sotw))
    if len(sotws) != 1:
        raise ConvertError("%s: %d SotW nodes" % (path, len(sotws)))
    g.types(sotws[0])
    g.mark(sotws[0], EX.includes)
    now = g.one(TEMP.currentTime, DCT.issued)
    world["now"] = str(now)
    for s, o in g.g.subject_objects(ODRL.partOf):
        g.used.add((s, ODRL.partOf, o))
        world["partOf"].setdefault(str(s), []).append(str(o))
        for t in g.types(s):
            if t != "http://xmlns.com/foaf/0.1/Person":
                raise ConvertError("%s: member %s of type %s" % (path, s, t))
    for k in world["partOf"]:
        world["partOf"][k].sort()
    reports = {}
    for pr in g.g.subjects(RDF.type, REPORT.PolicyReport):
        g.types(pr)
        g.mark(pr, DCT.created)
        g.mark(pr, REPORT.policy)
        for dr in g.objs(pr, REPORT.ruleReport):
            if local(g.one(dr, RDF.type), REPORT) != "DutyReport":
                raise ConvertError("%s: rule report %s is not a DutyReport" % (path, dr))
            g.mark(dr, REPORT.attemptState)
            duty = {
                "report": str(dr),
                "duty": str(g.one(dr, REPORT.rule)),
                "state": DEONTIC[local(g.one(dr, REPORT.deonticState), REPORT)],
                "performance": PERFORMANCE[local(g.one(dr, REPORT.performanceState), REPORT)],
            }
            world["duties"].append(duty)
            reports[str(dr)] = duty
    g.check_all_used()
    world["duties"].sort(key=lambda d: d["duty"])
    return world, reports


# ----------------------------------------------------------------------------- SolidLab expected

SAT = {"Satisfied": True, "Unsatisfied": False}


def expected_of(path, case_iri):
    g = Graph(path)
    case = URIRef(case_iri)
    title = str(g.one(case, DCT.title))
    refs = {k: str(g.one(case, EX[k])) for k in ("policy", "request", "sotw", "expectedReport")}
    g.types(case)
    rep = URIRef(refs["expectedReport"])
    g.types(rep)
    g.mark(rep, DCT.created)
    g.mark(rep, REPORT.policy)
    g.mark(rep, REPORT.policyRequest)
    rr = g.one(rep, REPORT.ruleReport)
    rtype = local(g.one(rr, RDF.type), REPORT)
    rule_kind = {"PermissionReport": "permission", "ProhibitionReport": "prohibition"}[rtype]
    activation = local(g.one(rr, REPORT.activationState), REPORT)
    if activation not in ("Active", "Inactive"):
        raise ConvertError("%s: activation %s" % (path, activation))
    g.mark(rr, REPORT.attemptState)
    g.mark(rr, REPORT.ruleRequest)
    exp = {
        "activationIncludesPremises": True,
        "decision": "permit" if (rule_kind == "permission" and activation == "Active") else "deny",
        "rule": rule_kind,
        "ruleId": str(g.one(rr, REPORT.rule)),
        "activation": activation,
        "premises": {},
        "constraints": [],
    }
    conditions = [str(c) for c in g.objs(rr, REPORT.conditionReport)]

    dangling = []
    seen = set()

    def walk(node, depth):
        if depth > 16:
            raise ConvertError("%s: report nesting too deep" % path)
        if (node, None, None) not in g.g:
            dangling.append(str(node))
            return
        seen.add(node)
        kind = local(g.one(node, RDF.type), REPORT)
        sat = SAT[local(g.one(node, REPORT.satisfactionState), REPORT)]
        if kind in ("TargetReport", "PartyReport", "ActionReport"):
            name = kind[:-len("Report")].lower()
            if name in exp["premises"]:
                raise ConvertError("%s: two %s reports" % (path, kind))
            exp["premises"][name] = sat
            return
        if kind != "ConstraintReport":
            raise ConvertError("%s: premise %s of type %s" % (path, node, kind))
        entry = {"constraint": str(g.one(node, REPORT.constraint)), "satisfied": sat}
        lop = g.one(node, REPORT.constraintLogicalOperand, required=False)
        if lop is not None:
            entry["logical"] = local(lop)
        # The echoed operands are informative only (the reference evaluator omits them on
        # unsatisfied constraints); the constraint id names the constraint.
        g.mark(node, REPORT.constraintLeftOperand)
        g.mark(node, REPORT.constraintOperator)
        g.mark(node, REPORT.constraintRightOperand)
        exp["constraints"].append(entry)
        for sub in g.objs(node, REPORT.premiseReport):
            walk(sub, depth + 1)

    for p in g.objs(rr, REPORT.premiseReport):
        walk(p, 0)
    # Each file reports on one rule, so a premise or constraint report that the rule report
    # does not reach (its premiseReport names ids that are not in the file) still belongs to
    # that rule: it is kept, and the repair is recorded.
    orphans = []
    for kind in ("TargetReport", "PartyReport", "ActionReport", "ConstraintReport"):
        for s in sorted(g.g.subjects(RDF.type, REPORT[kind])):
            if s not in seen and not any((p, REPORT.premiseReport, s) in g.g
                                         for p in g.g.subjects(RDF.type, None)):
                orphans.append(s)
    for s in orphans:
        walk(s, 0)
    exp["constraints"].sort(key=lambda c: c["constraint"])
    exp["premises"] = dict(sorted(exp["premises"].items()))
    fixes = []
    if dangling or orphans:
        fixes.append("the rule report's premiseReport names %d report(s) not in the file (%s); "
                     "the file's unreferenced report(s) %s are taken as the rule's premises"
                     % (len(dangling), ", ".join(dangling),
                        ", ".join(str(o) for o in orphans)))
    g.check_all_used()
    return title, refs, exp, conditions, fixes


def source_path(base, url):
    m = re.search(r"/data/(.+)$", str(url))
    if not m:
        raise ConvertError("index: cannot map %s to a local file" % url)
    return os.path.join(base, "data", m.group(1))


def convert_solidlab(base, out_dir):
    index = rdflib.Graph()
    index.parse(os.path.join(base, "data", "index.ttl"), format="nt")
    cases = sorted(set(index.subjects(EX.policySource, None)))
    os.makedirs(out_dir, exist_ok=True)
    names = []
    for case in cases:
        files = {k: source_path(base, index.value(case, EX[k + "Source"]))
                 for k in ("policy", "request", "sotw", "expectedReport")}
        policy, description = convert_policy(files["policy"])
        req_policy, req_rule, request = request_of(files["request"])
        world, duty_reports = world_of(files["sotw"])
        title, refs, expected, conditions, corrections = expected_of(files["expectedReport"],
                                                                      str(case))
        if refs["policy"] != policy["@id"] or refs["request"] != req_policy:
            raise ConvertError("%s: policy/request ids differ from the index" % case)
        # Duty states: the SotW carries prior DutyReports naming the duty they report on.  The
        # expected report cites them as its conditionReport.  Where the cited report names a
        # duty that is not in this policy (cases 065-068 reuse policy-19's duty id for
        # policy-21), it is re-attached to this rule's only duty; see README.md.
        duties_in_rule = []
        for kind in RULE_KINDS:
            for r in policy.get(kind, []):
                if r["@id"] == expected["ruleId"]:
                    duties_in_rule = [d["@id"] for d in r.get("duty", [])]
        for cref in conditions:
            if cref not in duty_reports:
                raise ConvertError("%s: conditionReport %s is not in the SotW" % (case, cref))
            d = duty_reports[cref]
            if d["duty"] not in duties_in_rule:
                if len(duties_in_rule) != 1:
                    raise ConvertError("%s: cannot re-attach duty report %s" % (case, cref))
                corrections.append(
                    "SotW duty report %s names duty %s, which is not in this policy; the "
                    "expected report cites it as the condition report of rule %s, so it is "
                    "re-attached to that rule's duty %s"
                    % (cref, d["duty"], expected["ruleId"], duties_in_rule[0]))
                d["duty"] = duties_in_rule[0]
        expected["conditions"] = [{"duty": duty_reports[c]["duty"],
                                   "state": duty_reports[c]["state"]} for c in conditions]
        for d in world["duties"]:
            del d["report"]
        stem = os.path.splitext(os.path.basename(files["expectedReport"]))[0]
        rel = lambda p: os.path.relpath(p, base)
        fixture = {
            "id": stem,
            "suite": "solidlab",
            "uri": str(case),
            "title": title,
            "description": description,
            "source": {"repository": "https://github.com/SolidLabResearch/ODRL-Test-Suite",
                       "commit": SOLIDLAB_COMMIT,
                       "policy": rel(files["policy"]), "request": rel(files["request"]),
                       "sotw": rel(files["sotw"]), "testcase": rel(files["expectedReport"])},
            "corrections": corrections,
            "engine": engine_options(
                policy, "post",
                "the suite reads a plain duty as 'permit unless violated' (policy-19 and "
                "policy-21: 'given that eventually the duty is fulfilled'; cases 059-061), "
                "i.e. tessera's POST timing; the W3C draft (case C11) reads it as a "
                "pre-condition, tessera's default for compensate"),
            "policy": policy,
            "request": request,
            "world": world,
            "expected": expected,
        }
        write_json(os.path.join(out_dir, stem + ".json"), fixture)
        names.append(stem)
    if len(names) != 68:
        print("odrl-fixtures.py: warning: %d SolidLab cases (68 expected)" % len(names),
              file=sys.stderr)
    lic = os.path.join(base, "LICENSE.md")
    shutil.copyfile(lic, os.path.join(out_dir, "LICENSE.md"))
    return names


# ----------------------------------------------------------------------------- W3C examples

W3C_REPORT = "report:"


def load_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def strip_odrl(v):
    if isinstance(v, str):
        for p in ("odrl:", str(ODRL)):
            if v.startswith(p):
                return v[len(p):]
    return v


def rfc3339(value, what, corrections):
    """xsd:dateTime without a zone is read as UTC (RFC 3339 needs one); a space is a 'T'."""
    v = value
    if re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", v):
        corrections.append("%s %r: space between date and time replaced by 'T'" % (what, value))
        v = v.replace(" ", "T", 1)
    if not re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$", v):
        if re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?$", v):
            corrections.append("%s %r has no time zone; read as UTC" % (what, value))
            v += "Z"
        else:
            raise ConvertError("%s: %r is not an xsd:dateTime" % (what, value))
    datetime.datetime.fromisoformat(v.replace("Z", "+00:00"))
    return v


# Prefixes the CG examples use without declaring them in the policy (the same example's
# request and state files declare "ex").
W3C_UNDECLARED_PREFIXES = {"ex": "https://ex.org/"}
# Profile left operands of the examples: how a test supplies their value.
W3C_PROFILE_OPERANDS = {
    "ex:dayOfWeek": {"iri": "https://ex.org/dayOfWeek", "name": "dayOfWeek", "type": "string",
                     "value": "weekday of the current time, in English"},
}
ODRL_TERMS_LO = {"dateTime", "resolution", "payAmount", "count", "purpose", "spatial"}


def w3c_policy(src, corrections):
    """The CG examples are compacted JSON-LD already; only uid becomes @id (DSP nulls uid)."""
    known_policy = {"@context", "@type", "uid", "permission", "prohibition", "obligation"}
    extra = set(src) - known_policy
    if extra:
        raise ConvertError("policy members without a rule: %s" % sorted(extra))
    out = {"@context": ODRL_CONTEXT, "@id": src["uid"], "@type": src["@type"]}
    for kind in RULE_KINDS:
        if kind in src:
            out[kind] = json.loads(json.dumps(src[kind]))
    used = set()
    for lo in find_key(out, "leftOperand"):
        if ":" in lo and not lo.startswith(("http:", "https:", "odrl:")):
            used.add(lo.split(":", 1)[0])
    declared = {p: W3C_UNDECLARED_PREFIXES[p] for p in sorted(used)
                if p in W3C_UNDECLARED_PREFIXES}
    if used - set(declared):
        raise ConvertError("undeclared prefixes %s" % sorted(used - set(declared)))
    if declared:
        out["@context"] = [ODRL_CONTEXT, declared]
        corrections.append("prefix(es) %s used in the policy without a declaration; declared "
                           "as in the example's request and state files" % declared)
    return out


def find_key(node, key):
    found = []
    if isinstance(node, dict):
        if key in node and isinstance(node[key], str):
            found.append(node[key])
        for v in node.values():
            found += find_key(v, key)
    elif isinstance(node, list):
        for v in node:
            found += find_key(v, key)
    return found


def find_operand(node, unit):
    """The leftOperand of a refinement or constraint whose unit is the given IRI."""
    found = []
    if isinstance(node, dict):
        if node.get("unit") == unit and "leftOperand" in node:
            found.append(node["leftOperand"])
        for v in node.values():
            found += find_operand(v, unit)
    elif isinstance(node, list):
        for v in node:
            found += find_operand(v, unit)
    return found


def find_node(node, node_id):
    if isinstance(node, dict):
        if node.get("@id") == node_id:
            return node
        for v in node.values():
            r = find_node(v, node_id)
            if r is not None:
                return r
    elif isinstance(node, list):
        for v in node:
            r = find_node(v, node_id)
            if r is not None:
                return r
    return None


def w3c_value(v, what, corrections):
    if isinstance(v, dict) and "@id" in v and "@type" in v and "@value" not in v:
        corrections.append("%s: typed literal written as {\"@id\": %r}; read as @value"
                           % (what, v["@id"]))
        v = {"@value": v["@id"], "@type": v["@type"]}
    return v


def iri_same_but_scheme(a, b):
    return a.split("://", 1)[-1] == b.split("://", 1)[-1]


def w3c_state(path, policy, now, corrections):
    """Payments recorded in the state of the world, as duty facts.

    A payment names the duty it pays (conditionId).  The duty is FULFILLED when the payment
    matches the duty's compensate refinement (payAmount and its unit) and was made before
    the request; anything else would leave it unknown, and the script stops instead so
    that a changed example gets looked at."""
    st = load_json(path)
    duties = []
    ctx = st.get("context")
    for c in ctx if isinstance(ctx, list) else [ctx]:
        if c.get("@type") != "pay:Payment":
            raise ConvertError("%s: state context of type %s" % (path, c.get("@type")))
        known = {"@id", "@type", "conditionId", "pay:payer", "pay:payee", "pay:reference",
                 "pay:netAmount", "pay:currency", "pay:paymentDate"}
        if set(c) - known:
            raise ConvertError("%s: payment members %s" % (path, sorted(set(c) - known)))
        duty = find_node(policy, c["conditionId"])
        if duty is None:
            raise ConvertError("%s: payment for unknown duty %s" % (path, c["conditionId"]))
        refs = [r for a in (duty["action"] if isinstance(duty["action"], list) else [])
                for r in a.get("refinement", []) if r.get("leftOperand") == "payAmount"]
        if len(refs) != 1 or refs[0]["operator"] != "eq":
            raise ConvertError("%s: duty %s has no payAmount eq refinement" % (path, duty["@id"]))
        want, unit = refs[0]["rightOperand"], refs[0].get("unit")
        paid, currency = c["pay:netAmount"], c["pay:currency"]
        at = rfc3339(c["pay:paymentDate"]["@value"], "payment date", corrections)
        if currency != unit and iri_same_but_scheme(currency, unit):
            corrections.append("payment currency %s differs from the duty's unit %s only by "
                               "its scheme; taken as the same currency" % (currency, unit))
            currency = unit
        if (float(paid["@value"]) != float(want["@value"]) or currency != unit
                or parse_time(at) > parse_time(now)):
            raise ConvertError("%s: payment does not fulfil duty %s" % (path, duty["@id"]))
        duties.append({
            "duty": c["conditionId"],
            "action": "compensate",
            "state": "fulfilled",
            "performance": "performed",
            "at": at,
            "by": c["pay:payer"],
            "payAmount": paid,
            "unit": currency,
        })
    return duties


def parse_time(v):
    return datetime.datetime.fromisoformat(v.replace("Z", "+00:00"))


STATE_NAME = {"Active": "Active", "Inactive": "Inactive", "Permit": "permit", "Deny": "deny",
              "Satisfied": True, "Not-Satisfied": False, "Not-set": "not-set",
              "Fulfilled": "fulfilled", "Violated": "violated"}


def report_state(v):
    if not isinstance(v, str) or not v.startswith(W3C_REPORT):
        raise ConvertError("report state %r" % (v,))
    return STATE_NAME[v[len(W3C_REPORT):]]


def w3c_expected(path, corrections):
    rep = load_json(path)
    exp = {"activationIncludesPremises": False, "decision": None, "rule": "permission",
           "ruleId": None, "activation": None, "constraints": [], "conditions": []}
    for key, node in rep.items():
        if key in ("@context", "dct:created") or not isinstance(node, dict):
            continue
        t = node["@type"]
        if t == "report:ruleReport":
            exp["ruleId"] = node["report:rule"]
            exp["activation"] = report_state(node["report:activationState"])
            exp["decision"] = report_state(node["report:controlState"])
        elif t == "report:ConstraintReport":
            exp["constraints"].append({"constraint": node["report:constraint"],
                                       "satisfied": report_state(node["report:satisfactionState"])})
        elif t == "report:ConditionReport":
            duty = node.get("report:condition", node.get("report:constraint"))
            act = node["report:activationState"]
            if act == "report:Satisfied":
                corrections.append("condition report %s: activationState report:Satisfied "
                                   "read as report:Active" % node["@id"])
                act = "report:Active"
            exp["conditions"].append({"duty": duty, "activation": report_state(act),
                                      "state": report_state(node["report:deonticState"])})
        elif t == "report:ActionReport":
            pass  # performance of the duty's action: the world's duty facts say it
        else:
            raise ConvertError("%s: report node of type %s" % (path, t))
    if exp["decision"] is None:
        raise ConvertError("%s: no rule report" % path)
    return exp


def convert_w3c(base, out_dir):
    ex_dir = os.path.join(base, "formal-semantics", "examples")
    if not os.path.isdir(ex_dir):
        raise ConvertError("%s: no formal-semantics/examples" % base)
    os.makedirs(out_dir, exist_ok=True)
    names = []
    for case_dir in sorted(glob.glob(os.path.join(ex_dir, "*", "*", "*"))):
        if not os.path.isdir(case_dir):
            continue
        cid = os.path.basename(case_dir)
        example_dir = os.path.dirname(case_dir)
        policies = glob.glob(os.path.join(example_dir, "policy*.json"))
        reqs = glob.glob(os.path.join(case_dir, "evaluationrequest*.json"))
        states = glob.glob(os.path.join(case_dir, "state*.json"))
        reports = glob.glob(os.path.join(case_dir, "compliancereport*.json"))
        if len(policies) != 1 or len(reqs) != 1 or len(reports) != 1 or len(states) > 1:
            raise ConvertError("%s: expected one policy, request and report" % case_dir)
        corrections = []
        policy = w3c_policy(load_json(policies[0]), corrections)
        er = load_json(reqs[0])
        known = {"@context", "@type", "@id", "evaluatedAction", "evaluatedParty",
                 "evaluatedTarget", "requestParameters"}
        if set(er) - known:
            raise ConvertError("%s: request members %s" % (reqs[0], sorted(set(er) - known)))
        request = {"action": strip_odrl(er["evaluatedAction"]), "target": er["evaluatedTarget"]}
        if "evaluatedParty" in er:
            request["assignee"] = er["evaluatedParty"]
        world = {"now": None, "partOf": {}, "duties": []}
        params = er.get("requestParameters", [])
        for p in params if isinstance(params, list) else [params]:
            feature = p["describesFeature"]
            value = w3c_value(p["value"], "request parameter %s" % feature, corrections)
            if feature == "sotw:CurrentXSDDateTime":
                world["now"] = rfc3339(value["@value"], "current time", corrections)
                continue
            ops = sorted(set(find_operand(policy, feature)))
            if len(ops) != 1:
                raise ConvertError("%s: feature %s matches operands %s" % (cid, feature, ops))
            request.setdefault("operands", {})[ops[0]] = dict(value, unit=feature)
            corrections.append("request parameter describing %s is the value of the "
                               "leftOperand %s, whose unit in the policy is that IRI"
                               % (feature, ops[0]))
        if world["now"] is None:
            created = load_json(reports[0])["dct:created"]["@value"]
            world["now"] = rfc3339(created, "report creation time", corrections)
            corrections.append("the request gives no current time; the report's dct:created "
                               "is used (no constraint of this policy reads the time)")
        profile = []
        for lo in sorted(set(find_key(policy, "leftOperand"))):
            if lo in W3C_PROFILE_OPERANDS:
                po = W3C_PROFILE_OPERANDS[lo]
                profile.append({k: po[k] for k in ("iri", "name", "type")})
                day = parse_time(world["now"]).strftime("%A")
                request.setdefault("operands", {})[po["name"]] = {"@value": day,
                                                                   "@type": "xsd:string"}
                corrections.append("%s is a profile operand of the example (%s); its value is "
                                   "the %s: %s" % (lo, po["iri"], po["value"], day))
            elif ":" in lo or lo not in ODRL_TERMS_LO:
                raise ConvertError("%s: left operand %s has no rule" % (cid, lo))
        # The CG draft's requests name party billie1 while the policy's assignee and the
        # payer in the state are billie; the reports permit, so the draft means one party.
        for kind in RULE_KINDS:
            for r in policy.get(kind, []):
                a = r.get("assignee")
                if (isinstance(a, str) and request.get("assignee") not in (None, a)
                        and request["assignee"].rstrip("0123456789") == a):
                    corrections.append("evaluatedParty %s is the policy's assignee %s with a "
                                       "stray digit (the state's payer is %s; the reports "
                                       "permit); read as %s"
                                       % (request["assignee"], a, a, a))
                    request["assignee"] = a
        if states:
            world["duties"] = w3c_state(states[0], policy, world["now"], corrections)
        expected = w3c_expected(reports[0], corrections)
        rel = lambda p: os.path.relpath(p, base)
        fixture = {
            "id": cid,
            "suite": "w3c",
            "uri": er["@id"],
            "title": "%s: %s" % (os.path.basename(example_dir), cid),
            "description": None,
            "source": {"repository": "https://github.com/w3c/odrl", "commit": W3C_COMMIT,
                       "policy": rel(policies[0]), "request": rel(reqs[0]),
                       "sotw": rel(states[0]) if states else None, "testcase": rel(reports[0])},
            "corrections": corrections,
            "engine": engine_options(policy, None, None),
            "policy": policy,
            "request": request,
            "world": world,
            "expected": expected,
        }
        if profile:
            fixture["engine"]["profileOperands"] = profile
        write_json(os.path.join(out_dir, cid + ".json"), fixture)
        names.append(cid)
    for cand in (os.path.join(base, "LICENSE.md"), os.path.join(base, "..", "LICENSE.md")):
        if os.path.isfile(cand):
            shutil.copyfile(cand, os.path.join(out_dir, "LICENSE.md"))
            break
    else:
        if not os.path.isfile(os.path.join(out_dir, "LICENSE.md")):
            print("odrl-fixtures.py: warning: no LICENSE.md for the W3C examples; copy "
                  "w3c/odrl's LICENSE.md (commit %s) to %s" % (W3C_COMMIT, out_dir),
                  file=sys.stderr)
    return names


def find_units(node):
    out = []
    if isinstance(node, dict):
        if "unit" in node:
            out.append(node["unit"])
        for v in node.values():
            out += find_units(v)
    elif isinstance(node, list):
        for v in node:
            out += find_units(v)
    return out


def policy_stats(node, depth=0, acc=None):
    """(constraints incl. logical ones, longest list, deepest logical nesting) of a policy."""
    if acc is None:
        acc = {"constraints": 0, "list": 0, "depth": 0}
    if isinstance(node, dict):
        if "leftOperand" in node or any(op in node for op in LOGICAL):
            acc["constraints"] += 1
            if any(op in node for op in LOGICAL):
                acc["depth"] = max(acc["depth"], depth + 1)
                depth += 1
        for v in node.values():
            policy_stats(v, depth, acc)
    elif isinstance(node, list):
        acc["list"] = max(acc["list"], len(node))
        for v in node:
            policy_stats(v, depth, acc)
    return acc


def rules_without_action(policy):
    return [r["@id"] for kind in RULE_KINDS for r in policy.get(kind, []) if "action" not in r]


def engine_options(policy, duty_timing, duty_reason):
    """Compile options a case needs beyond tessera's defaults, each with its reason."""
    eng = {}
    if duty_timing and any("duty" in r for k in RULE_KINDS for r in policy.get(k, [])):
        eng["dutyTiming"] = duty_timing
        eng["dutyTimingReason"] = duty_reason
    if rules_without_action(policy):
        eng["allowNoAction"] = True
        eng["allowNoActionReason"] = ("rule(s) %s have no action (ODRL 2.2 requires one); the "
                                      "suite means every action" % ", ".join(
                                          rules_without_action(policy)))
    st = policy_stats(policy)
    if st["constraints"] > DEFAULT_MAX_CONSTRAINTS or st["list"] > DEFAULT_MAX_LIST:
        eng["maxConstraints"] = max(st["constraints"], DEFAULT_MAX_CONSTRAINTS)
        eng["maxList"] = max(st["list"], DEFAULT_MAX_LIST)
        eng["limitsReason"] = ("%d constraints and a list of %d items are over tessera's "
                               "default limits (%d, %d); with the defaults it must be refused"
                               % (st["constraints"], st["list"], DEFAULT_MAX_CONSTRAINTS,
                                  DEFAULT_MAX_LIST))
    return eng


def is_leaf(v):
    """Small objects (an atomic constraint, a typed value, a report entry) fit on one line."""
    if isinstance(v, dict):
        return all(not isinstance(x, (dict, list)) or (isinstance(x, dict) and is_flat(x))
                   for x in v.values())
    if isinstance(v, list):
        return all(not isinstance(x, (dict, list)) for x in v)
    return True


def is_flat(v):
    return isinstance(v, dict) and all(not isinstance(x, (dict, list)) for x in v.values())


def dump(v, indent=0):
    pad = " " * indent
    if is_leaf(v):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, dict):
        items = ["%s %s: %s" % (pad, json.dumps(k), dump(x, indent + 1)) for k, x in v.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    items = ["%s %s" % (pad, dump(x, indent + 1)) for x in v]
    return "[\n" + ",\n".join(items) + "\n" + pad + "]"


def write_json(path, obj):
    text = dump(obj) + "\n"
    if json.loads(text) != obj:
        raise ConvertError("%s: output does not read back" % path)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def main(argv):
    if len(argv) not in (3, 4):
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    here = os.path.dirname(os.path.abspath(__file__))
    out = os.path.normpath(argv[3] if len(argv) == 4
                           else os.path.join(here, "..", "tests", "data", "odrl"))
    try:
        for sub in ("solidlab", "w3c"):
            for old in glob.glob(os.path.join(out, sub, "*.json")):
                os.remove(old)
        s = convert_solidlab(argv[1], os.path.join(out, "solidlab"))
        w = convert_w3c(argv[2], os.path.join(out, "w3c"))
    except (ConvertError, KeyError, OSError, ValueError) as e:
        print("odrl-fixtures.py: %s" % e, file=sys.stderr)
        return 1
    print("wrote %d SolidLab and %d W3C fixtures under %s" % (len(s), len(w), out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
