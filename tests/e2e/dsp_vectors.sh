#!/bin/sh
# tests/e2e/dsp_vectors.sh: every DSP 2025-1 example message of the
# specification (tests/data/dsp/*/example/) is sent, as published, to the
# provider endpoint of tesserad it belongs to, with a valid caller token.
# One line per example says whether it was accepted (2xx) or refused (the
# status and the error @type); response objects (Catalog, ContractNegotiation,
# errors, ...) are not requests and are listed as skipped with the reason.
# Checked: no example gets a 5xx or an answer that is not the right DSP
# object; each refusal has the status the HTTPS binding gives its reason
# (an unknown pid 404, an unknown offer or agreement 400, an unknown
# dataset 404) and a reason showing the message itself was understood.
. "${top_srcdir:-.}/tests/lib.sh"
t_need "$CURL" "$PYTHON3" openssl

TESSERA="$top_builddir/tessera"
TESSERAD="$top_builddir/tesserad"
MINT="$top_builddir/tests/e2e/mint_token"
EXAMPLES="$top_srcdir/tests/data/dsp"
[ -x "$MINT" ] || { echo "# skip: $MINT not built (make check builds it)"; exit 77; }
ls "$EXAMPLES"/*/example/*.json >/dev/null 2>&1 || { echo "# skip: no examples in $EXAMPLES"; exit 77; }

# shellcheck disable=SC2046
set -- $("$PYTHON3" -c '
import socket
ss = [socket.socket() for _ in range(5)]
for s in ss: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))')
PP=$1 PM=$2 CP=$3 CM=$4 DEAD=$5
PROV="$T_DIR/p"; CONS="$T_DIR/c"
PDID="did:web:127.0.0.1%3A$PP"
C="$CURL -s --max-time 10 --cacert $T_DIR/ca/ca.crt"

"$TESSERA" ca "$T_DIR/ca" >/dev/null || exit 1
"$TESSERA" init "$PROV" --port "$PP" --mgmt-port "$PM" --ca "$T_DIR/ca" >/dev/null || exit 1
"$TESSERA" init "$CONS" --port "$CP" --mgmt-port "$CM" --ca "$T_DIR/ca" >/dev/null || exit 1
PKEY=$(sed -n 's/^api_key = //p' "$PROV/tessera.conf")

# up NAME DIR PORT: start a daemon (its pid in UP), wait until /health answers.
up() {
    "$TESSERAD" -c "$2/tessera.conf" -f -d dsp >/dev/null 2>>"$T_DIR/$1.log" &
    UP=$!
    i=0; until $C -o /dev/null "https://127.0.0.1:$3/health"; do
        i=$((i + 1)); [ $i -lt 100 ] || break; sleep 0.05; done
}
up p "$PROV" "$PP"; P_PID=$UP
up c "$CONS" "$CP"; C_PID=$UP
T_PIDS="$P_PID $C_PID"

# P publishes one offer with the examples' policy, for the one example sent again with
# its offer replaced by this one.
pm() { $C -X "$1" -H "X-Api-Key: $PKEY" --data-binary "$3" "http://127.0.0.1:$PM/api/v1$2"; }
printf 'vector data\n' >"$T_DIR/asset.txt"
pm POST /assets "{\"id\":\"a1\",\"file\":\"$T_DIR/asset.txt\"}" >/dev/null
pm POST /policies '{"id":"use","policy":{"@type":"Set","permission":[{"action":"use"}]}}' >/dev/null
pm POST /offers '{"id":"off1","asset_id":"a1","policy_id":"use"}' | grep -q '"id":"off1"'
t_check $? "P publishes offer off1"

cat >"$T_DIR/vectors.py" <<'PY'
# vectors.py EXAMPLES BASE CAFILE MINT CONSUMER_DIR PROVIDER_DID DEAD_PORT: sends each
# example; prints "# ..." lines and "0|1<TAB>description" check lines.
import glob, json, os, ssl, subprocess, sys, urllib.error, urllib.request

examples, base, cafile, mint, cons, pdid, dead = sys.argv[1:8]
ctx = ssl.create_default_context(cafile=cafile)
CTX = "https://w3id.org/dspace/2025/1/context.jsonld"

# Not requests: what each is, so the listing says why it is skipped.
RESPONSES = {
    "Catalog": "a Catalog is the answer to a CatalogRequestMessage",
    "Dataset": "a Dataset is the answer to a dataset request",
    "CatalogError": "an error answer",
    "ContractNegotiation": "the ACK answer of the negotiation endpoints",
    "ContractNegotiationError": "an error answer",
    "TransferProcess": "the ACK answer of the transfer endpoints",
    "TransferError": "an error answer",
}


def route(m):
    """(method, path, error type, ack type) for a request message, or a skip reason."""
    t = m.get("@type")
    cp, pp = m.get("consumerPid"), m.get("providerPid")
    neg, tp = "ContractNegotiationError", "TransferError"
    if t == "CatalogRequestMessage":
        return "POST", "/catalog/request", "CatalogError", "Catalog"
    if t == "DatasetRequestMessage":  # the binding: GET with the id in the path
        return "GET", "/catalog/datasets/" + m["dataset"], "CatalogError", "Dataset"
    if t == "ContractRequestMessage":
        if pp:
            return "POST", "/negotiations/%s/request" % pp, neg, "ContractNegotiation"
        return "POST", "/negotiations/request", neg, "ContractNegotiation"
    if t == "ContractOfferMessage":
        if cp:
            return "POST", "/callback/negotiations/%s/offers" % cp, neg, "ContractNegotiation"
        return "POST", "/negotiations/offers", neg, "ContractNegotiation"
    if t == "ContractAgreementMessage":
        return "POST", "/callback/negotiations/%s/agreement" % cp, neg, "ContractNegotiation"
    if t == "ContractAgreementVerificationMessage":
        return ("POST", "/negotiations/%s/agreement/verification" % pp, neg,
                "ContractNegotiation")
    if t == "ContractNegotiationEventMessage":
        if m.get("eventType") == "FINALIZED":  # provider -> consumer
            return "POST", "/callback/negotiations/%s/events" % cp, neg, "ContractNegotiation"
        return "POST", "/negotiations/%s/events" % pp, neg, "ContractNegotiation"
    if t == "ContractNegotiationTerminationMessage":
        return "POST", "/negotiations/%s/termination" % pp, neg, "ContractNegotiation"
    if t == "TransferRequestMessage":
        return "POST", "/transfers/request", tp, "TransferProcess"
    if t == "TransferStartMessage":  # provider -> consumer, with the data address
        return "POST", "/callback/transfers/%s/start" % cp, tp, "TransferProcess"
    if t == "TransferCompletionMessage":
        return "POST", "/transfers/%s/completion" % pp, tp, "TransferProcess"
    if t == "TransferSuspensionMessage":
        return "POST", "/transfers/%s/suspension" % pp, tp, "TransferProcess"
    if t == "TransferTerminationMessage":
        return "POST", "/transfers/%s/termination" % pp, tp, "TransferProcess"
    if t in RESPONSES:
        return "%s: %s" % (t, RESPONSES[t])
    if "protocolVersions" in m:
        return "the version document served at /.well-known/dspace-version"
    if m.get("type") in ("CatalogService", "DataService") or "serviceEndpoint" in m:
        return "a DID document service entry"
    return "unknown @type %r" % t


def expected(m, method, path):
    """(status, a word the refusal's reason must contain, or None for accepted)."""
    t = m.get("@type")
    if t == "CatalogRequestMessage":
        return 200, None
    if t == "DatasetRequestMessage":
        return 404, m["dataset"]  # no such dataset here
    if t == "ContractRequestMessage" and path == "/negotiations/request":
        return 400, m["offer"]["@id"]  # an offer this provider does not publish
    if t == "ContractOfferMessage" and path == "/negotiations/offers":
        return 201, None  # a provider-initiated negotiation: recorded as OFFERED
    if t == "TransferRequestMessage":
        return 400, m["agreementId"]  # no such agreement
    # Everything else names a negotiation or transfer process this connector never saw:
    # the provider's pid on a provider endpoint, the consumer's on a callback.
    return 404, m.get("consumerPid") if path.startswith("/callback/") else m.get("providerPid")


def token():
    return subprocess.run([mint, cons, pdid], check=True, capture_output=True,
                          text=True).stdout.strip()


def send(method, path, body):
    req = urllib.request.Request(base + path, method=method,
                                 headers={"Authorization": token()})
    if method == "POST":
        req.data = json.dumps(body).encode()
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


checks = []


def check(ok, desc):
    checks.append("%d\t%s" % (0 if ok else 1, desc))


def run(name, m, expect=None):
    r = route(m)
    if isinstance(r, str):
        print("# %-50s skipped: %s" % (name, r))
        return
    method, path, err_type, ack_type = r
    want, word = expect if expect else expected(m, method, path)
    status, raw = send(method, path, m)
    try:
        ans = json.loads(raw)
    except ValueError:
        ans = None
    got_type = ans.get("@type") if isinstance(ans, dict) else None
    if 200 <= status < 300:
        print("# %-50s %s %s: accepted (%d %s)" % (name, method, path, status, got_type))
    else:
        print("# %-50s %s %s: refused %d %s" % (name, method, path, status, got_type))
    check(status < 500, "%s: no 5xx (%d)" % (name, status))
    check(status == want, "%s: HTTP %d (got %d)" % (name, want, status))
    if not isinstance(ans, dict) or CTX not in (ans.get("@context") or []):
        check(False, "%s: the answer is a DSP JSON object (%r)" % (name, raw[:200]))
        return
    if 200 <= status < 300:
        check(got_type == ack_type, "%s: answer is a %s (%s)" % (name, ack_type, got_type))
        return
    reason = ans.get("reason")
    good = (got_type == err_type and isinstance(ans.get("code"), str) and
            isinstance(reason, list) and reason and all(isinstance(x, str) for x in reason))
    if err_type != "CatalogError":
        good = good and isinstance(ans.get("consumerPid"), str) and \
            isinstance(ans.get("providerPid"), str)
    check(good, "%s: a well-formed %s (%s)" % (name, err_type, json.dumps(ans)[:300]))
    if word:
        check(word in " ".join(reason or []),
              "%s: the reason is about %s (%s)" % (name, word, reason))


files = sorted(glob.glob(os.path.join(examples, "*", "example", "*.json")))
for f in files:
    run(os.path.relpath(f, examples), json.load(open(f)))

# The initial request example again, naming the offer this provider publishes (the
# policy is the example's own): accepted.  Its agreement goes to a port nobody serves.
f = os.path.join(examples, "negotiation", "example", "contract-request-message_initial.json")
m = json.load(open(f))
m["offer"]["@id"], m["offer"]["target"] = "off1", "a1"
m["callbackAddress"] = "https://127.0.0.1:%s/callback" % dead
run("contract-request-message_initial.json with off1", m, (201, None))
print("# %d example files" % len(files))
for c in checks:
    print(c)
PY

"$PYTHON3" "$T_DIR/vectors.py" "$EXAMPLES" "https://127.0.0.1:$PP/dsp/2025-1" "$T_DIR/ca/ca.crt" \
    "$MINT" "$CONS" "$PDID" "$DEAD" >"$T_DIR/vectors.out" 2>&1
t_check $? "vectors.py ran"
grep '^#' "$T_DIR/vectors.out"
grep -v '^#\|^[01]	' "$T_DIR/vectors.out"
n=$(grep -c '^[01]	' "$T_DIR/vectors.out")
[ "$n" -ge 60 ]; t_check $? "at least 60 checks were made ($n)"
while IFS="$(printf '\t')" read -r rc desc; do
    case $rc in 0 | 1) t_check "$rc" "$desc" ;; esac
done <"$T_DIR/vectors.out"

kill -TERM $T_PIDS; for p in $T_PIDS; do wait "$p"; done
T_PIDS=""
if grep -q 'AddressSanitizer\|runtime error' "$T_DIR"/*.log; then
    t_check 1 "sanitizer reports"; grep -A20 'AddressSanitizer\|runtime error' "$T_DIR"/*.log | head -60
fi
t_done
