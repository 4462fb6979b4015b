/*
 * tests/unit/contracts/test_odrl.c: the ODRL engine (contracts/odrl.h):
 * every input shape peers send, refusal of what it does not understand
 * and of hostile sizes, every operator both ways, the time, count,
 * purpose and spatial operands, logical constraints, refinements, duty
 * timing, prohibitions and conflict strategies, the Catena-X profile,
 * the report output, the cache.  The SolidLab and W3C suites run in
 * test_odrl_suites.c.
 */
#include "lib/tsr.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "contracts/odrl.h"
#include "lib/buf.h"
#include "lib/json.h"
#include "lib/mem.h"
#include "lib/time.h"

/* Table checks exported by contracts/odrl.c for this test. */
bool tsr_odrl__action_table_sorted(void);
bool tsr_odrl__operand_table_sorted(void);

/* ------------------------------------------------------------ helpers */

/* JSON written with single quotes, for readability; none of it contains an apostrophe. */
static char *J(const char *s)
{
    char *r = tsr_strdup(s);

    assert_non_null(r);
    for (char *p = r; *p != '\0'; p++)
        if (*p == '\'')
            *p = '"';
    return r;
}

static int64_t T(const char *s)
{
    int64_t ms = 0;

    assert_int_equal(tsr_time_parse_ms(s, &ms, NULL), 0);
    return ms;
}

static int compile_opts(const char *json, const struct tsr_odrl_options *o,
                        struct tsr_odrl_policy **p, struct tsr_diag *d)
{
    char *s = J(json);
    int rc = tsr_odrl_parse(s, strlen(s), o, p, d);

    tsr_free(s);
    return rc;
}

static struct tsr_odrl_policy *compile_ok_opts(const char *json, const struct tsr_odrl_options *o)
{
    struct tsr_odrl_policy *p = NULL;
    struct tsr_diag d;

    tsr_diag_clear(&d);
    int rc = compile_opts(json, o, &p, &d);
    if (rc != 0)
        fail_msg("compile failed (%d): %s\n%s", rc, d.msg, json);
    assert_non_null(p);
    return p;
}

static struct tsr_odrl_policy *compile_ok(const char *json)
{
    return compile_ok_opts(json, NULL);
}

/* Compile must fail with code and a message containing what. */
static void refused_opts(const char *json, const struct tsr_odrl_options *o, int code,
                         const char *what)
{
    struct tsr_odrl_policy *p = NULL;
    struct tsr_diag d;

    tsr_diag_clear(&d);
    int rc = compile_opts(json, o, &p, &d);
    if (rc != code || strstr(d.msg, what) == NULL)
        fail_msg("expected %d with '%s', got %d '%s' for %s", code, what, rc, d.msg, json);
    assert_null(p);
}

static void refused(const char *json, int code, const char *what)
{
    refused_opts(json, NULL, code, what);
}

static struct tsr_odrl_decision dec;

static void req_init(struct tsr_odrl_request *r, const char *action)
{
    tsr_odrl_request_init(r);
    r->action = action;
    r->now_ms = T("2026-06-01T12:00:00Z");
}

static enum tsr_odrl_effect eval(const struct tsr_odrl_policy *p,
                                 const struct tsr_odrl_request *r)
{
    assert_int_equal(tsr_odrl_eval(p, r, &dec), 0);
    assert_int_equal(tsr_odrl_permitted(&dec), dec.effect == TSR_ODRL_PERMIT);
    return dec.effect;
}

static const struct tsr_odrl_constraint_report *find_report(const char *operand)
{
    for (size_t i = 0; i < dec.n_constraints; i++)
        if (strcmp(dec.constraints[i].operand, operand) == 0)
            return &dec.constraints[i];
    return NULL;
}

/* The policy behind the last one(): dec borrows from it until the next call. */
static struct tsr_odrl_policy *last;

/* One permission on "use" with the given constraint list (inner JSON), evaluated. */
static enum tsr_odrl_effect one(const char *constraint, const struct tsr_odrl_request *r)
{
    char buf[4096];
    snprintf(buf, sizeof(buf),
             "{'@context': 'https://w3id.org/dspace/2025/1/context.jsonld', '@type': 'Agreement',"
             " '@id': 'urn:a:1', 'permission': [{'action': 'use', 'constraint': [%s]}]}",
             constraint);
    tsr_odrl_policy_free(last);
    last = compile_ok(buf);
    return eval(last, r);
}

static int group_teardown(void **state)
{
    (void)state;
    tsr_odrl_policy_free(last);
    last = NULL;
    return 0;
}

static void expect_one(const char *constraint, const struct tsr_odrl_request *r,
                       enum tsr_odrl_effect want)
{
    enum tsr_odrl_effect got = one(constraint, r);
    if (got != want) {
        struct tsr_buf b;
        tsr_buf_init(&b, 1 << 16);
        (void)tsr_odrl_decision_text(&dec, &b);
        fail_msg("%s: expected %s, got %s\n%s", constraint, tsr_odrl_effect_name(want),
                 tsr_odrl_effect_name(got), tsr_buf_str(&b));
    }
}

/* ------------------------------------------------------------ vocabulary */

static void test_tables(void **state)
{
    (void)state;
    assert_true(tsr_odrl__action_table_sorted());
    assert_true(tsr_odrl__operand_table_sorted());
    for (int a = 0; a < TSR_ODRL_ACT_CUSTOM; a++)
        assert_int_equal(tsr_odrl_action_lookup(tsr_odrl_action_name((enum tsr_odrl_action)a)),
                         a);
    for (int o = 0; o < TSR_ODRL_OPERATOR_COUNT; o++)
        assert_string_not_equal(tsr_odrl_operator_name((enum tsr_odrl_operator)o), "?");
    assert_string_equal(tsr_odrl_operator_name((enum tsr_odrl_operator)99), "?");
}

static void test_action_hierarchy(void **state)
{
    (void)state;
    assert_true(tsr_odrl_action_includes(TSR_ODRL_ACT_USE, TSR_ODRL_ACT_READ));
    assert_true(tsr_odrl_action_includes(TSR_ODRL_ACT_USE, TSR_ODRL_ACT_PRINT));
    /* display is in play, which is in use */
    assert_true(tsr_odrl_action_includes(TSR_ODRL_ACT_PLAY, TSR_ODRL_ACT_DISPLAY));
    assert_true(tsr_odrl_action_includes(TSR_ODRL_ACT_USE, TSR_ODRL_ACT_DISPLAY));
    assert_true(tsr_odrl_action_includes(TSR_ODRL_ACT_REPRODUCE, TSR_ODRL_ACT_EXTRACT));
    assert_true(tsr_odrl_action_includes(TSR_ODRL_ACT_TRANSFER, TSR_ODRL_ACT_SELL));
    assert_true(tsr_odrl_action_includes(TSR_ODRL_ACT_TRANSFER, TSR_ODRL_ACT_GIVE));
    assert_false(tsr_odrl_action_includes(TSR_ODRL_ACT_USE, TSR_ODRL_ACT_SELL));
    assert_false(tsr_odrl_action_includes(TSR_ODRL_ACT_READ, TSR_ODRL_ACT_USE));
    assert_false(tsr_odrl_action_includes(TSR_ODRL_ACT_USE, TSR_ODRL_ACT_LEND));
    assert_int_equal(tsr_odrl_action_lookup("odrl:print"), TSR_ODRL_ACT_PRINT);
    assert_int_equal(tsr_odrl_action_lookup("http://www.w3.org/ns/odrl/2/read"),
                     TSR_ODRL_ACT_READ);
    /* deprecated terms give their exact match */
    assert_int_equal(tsr_odrl_action_lookup("write"), TSR_ODRL_ACT_MODIFY);
    assert_int_equal(tsr_odrl_action_lookup("copy"), TSR_ODRL_ACT_REPRODUCE);
    assert_int_equal(tsr_odrl_action_lookup("bogus"), -1);
    assert_int_equal(tsr_odrl_action_lookup("USE"), -1);

    /* The hierarchy applies in evaluation: a use permission covers read, not sell. */
    struct tsr_odrl_policy *p = compile_ok("{'@type': 'Set', 'permission': {'action': 'use'}}");
    struct tsr_odrl_request r;
    req_init(&r, "read");
    assert_int_equal(eval(p, &r), TSR_ODRL_PERMIT);
    r.action = "odrl:display";
    assert_int_equal(eval(p, &r), TSR_ODRL_PERMIT);
    r.action = "sell";
    assert_int_equal(eval(p, &r), TSR_ODRL_NOT_APPLICABLE);
    tsr_odrl_policy_free(p);
}

/* ------------------------------------------------------------ shapes */

static void test_shapes(void **state)
{
    /* The same policy as peers send it; all must decide alike. */
    static const char *const shapes[] = {
        /* DSP 2025-1: unprefixed terms */
        "{'@context': 'https://w3id.org/dspace/2025/1/context.jsonld', '@type': 'Offer',"
        " '@id': 'urn:p', 'permission': [{'action': 'read', 'constraint': [{'leftOperand':"
        " 'dateTime', 'operator': 'lt', 'rightOperand': '2030-01-01T00:00:00Z'}, {'leftOperand':"
        " 'purpose', 'operator': 'eq', 'rightOperand': 'research'}]}]}",
        /* DSP 2024-1 / EDC: odrl: prefixes and {'@id'} values, single objects */
        "{'@context': {'odrl': 'http://www.w3.org/ns/odrl/2/'}, '@type': 'odrl:Offer',"
        " '@id': 'urn:p', 'odrl:permission': {'odrl:action': {'@id': 'odrl:read'},"
        " 'odrl:constraint': {'odrl:and': [{'odrl:leftOperand': {'@id': 'odrl:dateTime'},"
        " 'odrl:operator': {'@id': 'odrl:lt'}, 'odrl:rightOperand': {'@value':"
        " '2030-01-01T00:00:00Z', '@type': 'xsd:dateTime'}}, {'odrl:leftOperand': {'@id':"
        " 'odrl:purpose'}, 'odrl:operator': {'@id': 'odrl:eq'}, 'odrl:rightOperand':"
        " 'research'}]}}}",
        /* full IRIs everywhere */
        "{'@type': 'http://www.w3.org/ns/odrl/2/Offer', '@id': 'urn:p',"
        " 'http://www.w3.org/ns/odrl/2/permission': [{'http://www.w3.org/ns/odrl/2/action':"
        " 'http://www.w3.org/ns/odrl/2/read', 'http://www.w3.org/ns/odrl/2/constraint': ["
        "{'http://www.w3.org/ns/odrl/2/leftOperand': 'http://www.w3.org/ns/odrl/2/dateTime',"
        " 'http://www.w3.org/ns/odrl/2/operator': 'http://www.w3.org/ns/odrl/2/lt',"
        " 'http://www.w3.org/ns/odrl/2/rightOperand': {'@value': '2030-01-01T00:00:00Z',"
        " '@type': 'http://www.w3.org/2001/XMLSchema#dateTime'}},"
        "{'http://www.w3.org/ns/odrl/2/leftOperand': 'http://www.w3.org/ns/odrl/2/purpose',"
        " 'http://www.w3.org/ns/odrl/2/operator': 'http://www.w3.org/ns/odrl/2/eq',"
        " 'http://www.w3.org/ns/odrl/2/rightOperand': 'research'}]}]}",
        /* a prefix of our own for ODRL, andSequence as @list */
        "{'@context': [{'o': 'http://www.w3.org/ns/odrl/2/'}], '@type': 'o:Set',"
        " 'o:permission': [{'o:action': 'o:read', 'o:constraint': {'o:andSequence': {'@list': ["
        "{'o:leftOperand': 'o:dateTime', 'o:operator': 'o:lteq', 'o:rightOperand':"
        " '2030-01-01T00:00:00Z'}, {'o:leftOperand': 'o:purpose', 'o:operator': 'o:isAnyOf',"
        " 'o:rightOperand': ['research']}]}}}]}",
        /* constraints by reference, in a @graph */
        "{'@context': 'http://www.w3.org/ns/odrl.jsonld', '@graph': [{'@id': 'urn:p', '@type':"
        " 'Set', 'permission': [{'@id': 'urn:r', 'action': 'read', 'constraint': [{'@id':"
        " 'urn:c1'}, 'urn:c2']}]}, {'@id': 'urn:c1', 'leftOperand': 'dateTime', 'operator': 'lt',"
        " 'rightOperand': '2030-01-01T00:00:00Z'}, {'@id': 'urn:c2', 'leftOperand': 'purpose',"
        " 'operator': 'eq', 'rightOperand': {'@value': 'research', '@type': 'xsd:string'}}]}",
        /* a DSP ContractAgreementMessage: the policy is its agreement */
        "{'@context': 'https://w3id.org/dspace/2025/1/context.jsonld', '@type':"
        " 'ContractAgreementMessage', 'providerPid': 'x', 'consumerPid': 'y', 'agreement': {"
        "'@id': 'urn:p', '@type': 'Agreement', 'target': 'urn:asset', 'assigner': 'did:web:p',"
        " 'assignee': 'did:web:c', 'timestamp': '2026-01-01T00:00:00Z', 'permission': [{"
        "'action': 'read', 'constraint': [{'leftOperand': 'dateTime', 'operator': 'lt',"
        " 'rightOperand': '2030-01-01T00:00:00Z'}, {'leftOperand': 'purpose', 'operator': 'eq',"
        " 'rightOperand': 'research'}]}]}}",
        /* DSP 2024-1: prefixed message and offer, prefixes from the built-in table */
        "{'@type': 'dspace:ContractRequestMessage', 'dspace:offer': {'@type': 'odrl:Offer',"
        " '@id': 'urn:p', 'odrl:permission': [{'odrl:action': {'@id': 'odrl:read'},"
        " 'odrl:constraint': [{'odrl:leftOperand': 'odrl:dateTime', 'odrl:operator': 'odrl:lt',"
        " 'odrl:rightOperand': '2030-01-01T00:00:00Z'}, {'odrl:leftOperand': 'odrl:purpose',"
        " 'odrl:operator': 'odrl:eq', 'odrl:rightOperand': 'research'}]}]}}",
        /* the DSP schema's stray operator spelling, and a dataType member */
        "{'@type': 'Set', 'permission': [{'action': ['read'], 'constraint': [{'leftOperand':"
        " 'dateTime', 'operator': 'term-lteq', 'dataType': 'xsd:dateTime', 'rightOperand':"
        " '2030-01-01T00:00:00Z'}, {'leftOperand': 'purpose', 'operator': 'isPartOf',"
        " 'rightOperand': ['research', 'teaching']}]}]}",
    };
    struct tsr_odrl_request r;

    (void)state;
    for (size_t i = 0; i < TSR_ARRAY_SIZE(shapes); i++) {
        struct tsr_odrl_policy *p = compile_ok(shapes[i]);
        req_init(&r, "read");
        r.purpose = "research";
        r.assignee = "did:web:c";
        r.target = "urn:asset";
        if (eval(p, &r) != TSR_ODRL_PERMIT)
            fail_msg("shape %zu: %s", i, dec.why);
        r.purpose = "marketing";
        assert_int_equal(eval(p, &r), TSR_ODRL_DENY);
        r.purpose = "research";
        r.now_ms = T("2031-01-01T00:00:00Z");
        assert_int_equal(eval(p, &r), TSR_ODRL_DENY);
        r.now_ms = T("2026-06-01T12:00:00Z");
        r.action = "print"; /* not included in read */
        assert_int_equal(eval(p, &r), TSR_ODRL_NOT_APPLICABLE);
        tsr_odrl_policy_free(p);
    }
}

static void test_accessors(void **state)
{
    (void)state;
    struct tsr_odrl_policy *p = compile_ok(
        "{'@context': {'ex': 'http://example.org/'}, '@type': 'Agreement', '@id': 'urn:agr:7',"
        " 'target': 'ex:asset', 'assigner': 'did:web:prov', 'assignee': 'did:web:cons',"
        " 'conflict': 'perm', 'permission': [{'action': 'use'}, {'action': 'read'}],"
        " 'prohibition': {'action': 'distribute'}, 'obligation': [{'action': 'delete'}]}");
    assert_string_equal(tsr_odrl_policy_id(p), "urn:agr:7");
    assert_int_equal(tsr_odrl_policy_type(p), TSR_ODRL_AGREEMENT);
    assert_int_equal(tsr_odrl_policy_conflict(p), TSR_ODRL_CONFLICT_PERM);
    assert_string_equal(tsr_odrl_policy_target(p), "http://example.org/asset");
    assert_string_equal(tsr_odrl_policy_assigner(p), "did:web:prov");
    assert_string_equal(tsr_odrl_policy_assignee(p), "did:web:cons");
    assert_int_equal(tsr_odrl_policy_rule_count(p, TSR_ODRL_PERMISSION), 2);
    assert_int_equal(tsr_odrl_policy_rule_count(p, TSR_ODRL_PROHIBITION), 1);
    assert_int_equal(tsr_odrl_policy_rule_count(p, TSR_ODRL_OBLIGATION), 1);

    /* Policy-level target and assignee apply to every rule: the request must match them. */
    struct tsr_odrl_request r;
    req_init(&r, "read");
    r.assignee = "did:web:cons";
    r.target = "ex:asset"; /* a prefixed name equals its expansion */
    assert_int_equal(eval(p, &r), TSR_ODRL_PERMIT);
    r.target = "http://example.org/other";
    assert_int_equal(eval(p, &r), TSR_ODRL_NOT_APPLICABLE);
    r.target = NULL; /* the caller vouches for the asset */
    r.assignee = "did:web:someone-else";
    assert_int_equal(eval(p, &r), TSR_ODRL_NOT_APPLICABLE);
    r.assignee = NULL;
    assert_int_equal(eval(p, &r), TSR_ODRL_NOT_APPLICABLE);
    tsr_odrl_policy_free(p);

    /* Offer without @type members beyond rules: read as a Set. */
    p = compile_ok("{'permission': [{'action': 'use'}]}");
    assert_int_equal(tsr_odrl_policy_type(p), TSR_ODRL_SET);
    assert_null(tsr_odrl_policy_id(p));
    tsr_odrl_policy_free(p);
}

/* ------------------------------------------------------------ refusals and limits */

static void test_refusals(void **state)
{
    static const struct {
        const char *json;
        int code;
        const char *what;
    } cases[] = {
        {"{'permission': [{'action': 'use', 'constraint': {'leftOperand': 'dayOfWeek',"
         " 'operator': 'eq', 'rightOperand': 'Sunday'}}]}",
         TSR_EPOLICY, "unknown left operand 'dayOfWeek'"},
        {"{'permission': [{'action': 'fly'}]}", TSR_EPOLICY, "unknown action 'fly'"},
        {"{'permission': [{'action': 'attachPolicy'}]}", TSR_EPOLICY, "unknown action"},
        {"{'permission': [{'action': 'use', 'constraint': {'leftOperand': 'count',"
         " 'operator': 'about', 'rightOperand': 3}}]}",
         TSR_EPOLICY, "unknown operator 'about'"},
        /* a typo in a member name must not drop the constraint */
        {"{'permission': [{'action': 'use', 'constraint': {'leftOperand': 'count',"
         " 'operator': 'lteq', 'rightOperant': 3}}]}",
         TSR_EPOLICY, "unknown member 'rightOperant'"},
        {"{'permission': [{'action': 'use', 'constrait': {'leftOperand': 'count',"
         " 'operator': 'lteq', 'rightOperand': 3}}]}",
         TSR_EPOLICY, "unknown member 'constrait'"},
        {"{'permisson': [{'action': 'use'}]}", TSR_EPOLICY, "unknown member 'permisson'"},
        {"{'@type': 'Set', 'inheritFrom': 'urn:x', 'permission': [{'action': 'use'}]}",
         TSR_EPOLICY, "inheritFrom"},
        {"{'@type': 'Ticket', 'permission': [{'action': 'use'}]}", TSR_EPOLICY,
         "not supported"},
        {"{'conflict': 'whatever', 'permission': [{'action': 'use'}]}", TSR_EPOLICY,
         "unknown conflict"},
        {"{'permission': [{'action': 'use', 'constraint': {'leftOperand': 'count', 'operator':"
         " 'lteq', 'rightOperandReference': 'http://x/pip'}}]}",
         TSR_EPOLICY, "rightOperandReference"},
        {"{'permission': [{'action': 'use', 'constraint': {'leftOperand': 'dateTime',"
         " 'operator': 'lt', 'rightOperand': 'tomorrow'}}]}",
         TSR_EINVAL, "expected an xsd:dateTime, got 'tomorrow'"},
        {"{'permission': [{'action': 'use', 'constraint': {'leftOperand': 'count',"
         " 'operator': 'lteq', 'rightOperand': 'three'}}]}",
         TSR_EINVAL, "expected an integer"},
        {"{'permission': [{'action': 'use', 'constraint': {'leftOperand': 'count',"
         " 'operator': 'lteq', 'rightOperand': -1}}]}",
         TSR_EINVAL, "negative"},
        {"{'permission': [{'action': 'use', 'constraint': {'leftOperand': 'count',"
         " 'operator': 'lteq', 'rightOperand': 1.5}}]}",
         TSR_EINVAL, "expected an integer"},
        {"{'permission': [{'action': 'use', 'constraint': {'leftOperand': 'elapsedTime',"
         " 'operator': 'lteq', 'rightOperand': '30 days'}}]}",
         TSR_EINVAL, "xsd:duration"},
        {"{'permission': [{'action': 'use', 'constraint': {'leftOperand': 'elapsedTime',"
         " 'operator': 'lteq', 'rightOperand': 'P1Y1MT-1S'}}]}",
         TSR_EINVAL, "xsd:duration"},
        {"{'permission': [{'action': 'use', 'constraint': {'leftOperand': 'payAmount',"
         " 'operator': 'eq', 'rightOperand': {'@value': '5.00', '@type': 'xsd:hexBinary'}}}]}",
         TSR_EPOLICY, "unsupported datatype"},
        {"{'permission': [{'action': 'use', 'constraint': {'leftOperand': 'purpose',"
         " 'operator': 'lt', 'rightOperand': 'research'}}]}",
         TSR_EPOLICY, "needs an ordered value"},
        {"{'permission': [{'action': 'use', 'constraint': {'leftOperand': 'purpose',"
         " 'operator': 'eq', 'rightOperand': ['a', 'b']}}]}",
         TSR_EINVAL, "exactly one right operand"},
        {"{'permission': [{'action': 'use', 'constraint': {'leftOperand': 'dateTime',"
         " 'operator': 'isAnyOf', 'rightOperand': ['2026-01-01T00:00:00Z']}}]}",
         TSR_EPOLICY, "not supported with dateTime"},
        {"{'permission': [{'action': 'use', 'constraint': {'leftOperand': 'timeInterval',"
         " 'operator': 'lt', 'rightOperand': 'P1D'}}]}",
         TSR_EPOLICY, "timeInterval"},
        {"{'permission': [{'action': 'use', 'constraint': {'leftOperand': 'inForceDate',"
         " 'operator': 'gteq', 'rightOperand': '2026-01-01T00:00:00'}}]}",
         TSR_EINVAL, "no time zone"},
        {"{'permission': [{'action': 'use', 'constraint': {'and': [], 'leftOperand': 'count'}}]}",
         TSR_EINVAL, "either logical or atomic"},
        {"{'permission': [{'action': 'use', 'constraint': {'and': []}}]}", TSR_EINVAL,
         "has no constraints"},
        {"{'permission': [{'action': 'use', 'constraint': {'and': [{'leftOperand': 'count',"
         " 'operator': 'eq', 'rightOperand': 1}], 'or': [{'leftOperand': 'count',"
         " 'operator': 'eq', 'rightOperand': 1}]}}]}",
         TSR_EINVAL, "exactly one of"},
        {"{'permission': [{'action': 'use', 'constraint': {'leftOperand': 'count',"
         " 'operator': 'eq'}}]}",
         TSR_EINVAL, "needs leftOperand, operator and rightOperand"},
        {"{'permission': [{'action': 'use', 'constraint': [{'@id': 'urn:missing'}]}]}",
         TSR_EINVAL, "not in the document"},
        {"{'permission': [{'target': 'urn:x'}]}", TSR_EINVAL, "no action"},
        {"{'permission': [{'action': 42}]}", TSR_EINVAL, "must be an IRI"},
        {"{'permission': [{'action': 'use', 'duty': {'action': 'delete', 'consequence':"
         " {'action': 'inform', 'consequence': {'action': 'inform'}}}}]}",
         TSR_EINVAL, "cannot have a consequence"},
        {"{'prohibition': [{'action': 'use', 'duty': {'action': 'delete'}}]}", TSR_EPOLICY,
         "unknown member 'duty'"},
        {"[1, 2]", TSR_EINVAL, "must be a JSON object"},
        {"{'permission': [{'action': 'use'}], 'permission2': 1,", TSR_EINVAL, "line"},
        {"{'permission': [{'action': 'use'}], 'odrl:permission': []}", TSR_EINVAL,
         "duplicate"},
    };

    (void)state;
    for (size_t i = 0; i < TSR_ARRAY_SIZE(cases); i++)
        refused(cases[i].json, cases[i].code, cases[i].what);
}

/* A permission whose constraint nests `levels` and's deep. */
static char *nested_policy(int levels)
{
    struct tsr_buf b;

    tsr_buf_init(&b, 1 << 20);
    assert_int_equal(tsr_buf_adds(&b, "{\"permission\": [{\"action\": \"use\", \"constraint\": "),
                     0);
    for (int i = 0; i < levels; i++)
        assert_int_equal(tsr_buf_adds(&b, "{\"and\": ["), 0);
    assert_int_equal(tsr_buf_adds(&b, "{\"leftOperand\": \"count\", \"operator\": \"lteq\", "
                                      "\"rightOperand\": 5}"),
                     0);
    for (int i = 0; i < levels; i++)
        assert_int_equal(tsr_buf_adds(&b, "]}"), 0);
    assert_int_equal(tsr_buf_adds(&b, "}]}"), 0);
    return tsr_buf_steal(&b, NULL);
}

static void test_limits(void **state)
{
    struct tsr_odrl_policy *p = NULL;
    struct tsr_diag d;
    struct tsr_buf b;
    char *s;

    (void)state;
    /* Nesting within the default depth compiles; past it, refused with the limit named. */
    s = nested_policy(7);
    assert_int_equal(tsr_odrl_parse(s, strlen(s), NULL, &p, &d), 0);
    tsr_odrl_policy_free(p);
    tsr_free(s);
    s = nested_policy(9);
    assert_int_equal(tsr_odrl_parse(s, strlen(s), NULL, &p, &d), TSR_ELIMIT);
    assert_non_null(strstr(d.msg, "nest deeper than 8"));
    assert_null(p);
    tsr_free(s);
    /* Far deeper: stopped by the JSON pre-scan before any tree is built. */
    s = nested_policy(5000);
    assert_int_equal(tsr_odrl_parse(s, strlen(s), NULL, &p, &d), TSR_ELIMIT);
    tsr_free(s);
    /* The same through tsr_odrl_compile on a tree the caller built (deeper than the index walk). */
    s = nested_policy(40);
    json_t *j = json_loads(s, 0, NULL);
    assert_non_null(j);
    assert_int_equal(tsr_odrl_compile(j, NULL, &p, &d), TSR_ELIMIT);
    json_decref(j);
    tsr_free(s);

    /* A huge right operand list. */
    tsr_buf_init(&b, 1 << 22);
    assert_int_equal(tsr_buf_adds(&b, "{\"permission\": [{\"action\": \"use\", \"constraint\": "
                                      "{\"leftOperand\": \"purpose\", \"operator\": \"isAnyOf\", "
                                      "\"rightOperand\": ["), 0);
    for (int i = 0; i < 300; i++)
        assert_int_equal(tsr_buf_addf(&b, "%s\"p%d\"", i ? "," : "", i), 0);
    assert_int_equal(tsr_buf_adds(&b, "]}}]}"), 0);
    assert_int_equal(tsr_odrl_parse(b.data, b.len, NULL, &p, &d), TSR_ELIMIT);
    if (strstr(d.msg, "256") == NULL)
        fail_msg("%s", d.msg);
    /* ... which a caller may allow explicitly. */
    struct tsr_odrl_options o;
    memset(&o, 0, sizeof(o));
    o.max_list = 300;
    assert_int_equal(tsr_odrl_parse(b.data, b.len, &o, &p, &d), 0);
    tsr_odrl_policy_free(p);
    tsr_buf_cleanup(&b);

    /* Too many rules. */
    tsr_buf_init(&b, 1 << 22);
    assert_int_equal(tsr_buf_adds(&b, "{\"permission\": ["), 0);
    for (int i = 0; i < 70; i++)
        assert_int_equal(tsr_buf_addf(&b, "%s{\"action\": \"use\"}", i ? "," : ""), 0);
    assert_int_equal(tsr_buf_adds(&b, "]}"), 0);
    assert_int_equal(tsr_odrl_parse(b.data, b.len, NULL, &p, &d), TSR_ELIMIT);
    assert_non_null(strstr(d.msg, "more than 64 rules"));
    tsr_buf_cleanup(&b);

    /* Too many constraints in total (each list short enough). */
    tsr_buf_init(&b, 1 << 22);
    assert_int_equal(tsr_buf_adds(&b, "{\"permission\": ["), 0);
    for (int r = 0; r < 3; r++) {
        assert_int_equal(tsr_buf_addf(&b, "%s{\"action\": \"use\", \"constraint\": [",
                                      r ? "," : ""), 0);
        for (int i = 0; i < 200; i++)
            assert_int_equal(tsr_buf_addf(&b, "%s{\"leftOperand\": \"count\", \"operator\": "
                                              "\"lteq\", \"rightOperand\": %d}",
                                          i ? "," : "", i),
                             0);
        assert_int_equal(tsr_buf_adds(&b, "]}"), 0);
    }
    assert_int_equal(tsr_buf_adds(&b, "]}"), 0);
    assert_int_equal(tsr_odrl_parse(b.data, b.len, NULL, &p, &d), TSR_ELIMIT);
    assert_non_null(strstr(d.msg, "more than 512 constraints"));
    tsr_buf_cleanup(&b);

    /* An over-long IRI. */
    tsr_buf_init(&b, 1 << 22);
    assert_int_equal(tsr_buf_adds(&b, "{\"permission\": [{\"action\": \"use\", \"target\": \"urn:"),
                     0);
    for (int i = 0; i < 3000; i++)
        assert_int_equal(tsr_buf_adds(&b, "x"), 0);
    assert_int_equal(tsr_buf_adds(&b, "\"}]}"), 0);
    assert_int_equal(tsr_odrl_parse(b.data, b.len, NULL, &p, &d), TSR_ELIMIT);
    tsr_buf_cleanup(&b);

    /* The whole document. */
    memset(&o, 0, sizeof(o));
    o.max_bytes = 64;
    s = J("{'permission': [{'action': 'use', 'target': 'urn:a-rather-long-target-name-here'}]}");
    assert_int_equal(tsr_odrl_parse(s, strlen(s), &o, &p, &d), TSR_ELIMIT);
    tsr_free(s);
    assert_int_equal(tsr_odrl_compile(NULL, NULL, &p, &d), TSR_EINVAL);
}

/* ------------------------------------------------------------ operators */

static void test_operators_scalar(void **state)
{
    struct tsr_odrl_request r;
    struct tsr_odrl_named nv[] = {{"payAmount", "5.00"}, {"resolution", "1200"}};

    (void)state;
    req_init(&r, "use");
    r.use_count = 4; /* this is the 5th use */
    r.named = nv;
    r.n_named = TSR_ARRAY_SIZE(nv);
    static const struct {
        const char *c;
        enum tsr_odrl_effect want;
    } cases[] = {
        {"{'leftOperand': 'count', 'operator': 'eq', 'rightOperand': 5}", TSR_ODRL_PERMIT},
        {"{'leftOperand': 'count', 'operator': 'eq', 'rightOperand': 4}", TSR_ODRL_DENY},
        {"{'leftOperand': 'count', 'operator': 'neq', 'rightOperand': 4}", TSR_ODRL_PERMIT},
        {"{'leftOperand': 'count', 'operator': 'neq', 'rightOperand': 5}", TSR_ODRL_DENY},
        {"{'leftOperand': 'count', 'operator': 'lt', 'rightOperand': 6}", TSR_ODRL_PERMIT},
        {"{'leftOperand': 'count', 'operator': 'lt', 'rightOperand': 5}", TSR_ODRL_DENY},
        {"{'leftOperand': 'count', 'operator': 'lteq', 'rightOperand': 5}", TSR_ODRL_PERMIT},
        {"{'leftOperand': 'count', 'operator': 'lteq', 'rightOperand': 4}", TSR_ODRL_DENY},
        {"{'leftOperand': 'count', 'operator': 'gt', 'rightOperand': 4}", TSR_ODRL_PERMIT},
        {"{'leftOperand': 'count', 'operator': 'gt', 'rightOperand': 5}", TSR_ODRL_DENY},
        {"{'leftOperand': 'count', 'operator': 'gteq', 'rightOperand': 5}", TSR_ODRL_PERMIT},
        {"{'leftOperand': 'count', 'operator': 'gteq', 'rightOperand': 6}", TSR_ODRL_DENY},
        /* decimals, against decimals and integers */
        {"{'leftOperand': 'payAmount', 'operator': 'eq', 'rightOperand': {'@value': '5.0',"
         " '@type': 'xsd:decimal'}, 'unit': 'http://dbpedia.org/resource/Euro'}",
         TSR_ODRL_PERMIT},
        {"{'leftOperand': 'payAmount', 'operator': 'eq', 'rightOperand': 5}", TSR_ODRL_PERMIT},
        {"{'leftOperand': 'payAmount', 'operator': 'gt', 'rightOperand': 4.99}",
         TSR_ODRL_PERMIT},
        {"{'leftOperand': 'payAmount', 'operator': 'lt', 'rightOperand': '4.999999'}",
         TSR_ODRL_DENY},
        /* a generic operand typed by its right operand */
        {"{'leftOperand': 'resolution', 'operator': 'lteq', 'rightOperand': {'@value': '1200',"
         " '@type': 'xsd:integer'}}", TSR_ODRL_PERMIT},
        {"{'leftOperand': 'resolution', 'operator': 'lt', 'rightOperand': 1200}",
         TSR_ODRL_DENY},
        /* no value supplied: unsatisfied, whatever the operator */
        {"{'leftOperand': 'language', 'operator': 'neq', 'rightOperand': 'de'}",
         TSR_ODRL_DENY},
    };
    for (size_t i = 0; i < TSR_ARRAY_SIZE(cases); i++)
        expect_one(cases[i].c, &r, cases[i].want);
    const struct tsr_odrl_constraint_report *c = find_report("language");
    assert_non_null(c);
    assert_string_equal(c->note, "no value supplied");

    /* A named value of the wrong type is unsatisfied, with the value shown. */
    struct tsr_odrl_named bad[] = {{"payAmount", "five"}};
    r.named = bad;
    r.n_named = 1;
    expect_one("{'leftOperand': 'payAmount', 'operator': 'neq', 'rightOperand': 6}", &r,
               TSR_ODRL_DENY);
    c = find_report("payAmount");
    assert_string_equal(c->actual, "five");
    assert_string_equal(c->note, "a supplied value has the wrong type");
}

static bool world(void *arg, enum tsr_odrl_rel rel, const char *s, const char *o)
{
    int *calls = arg;

    (*calls)++;
    return rel == TSR_ODRL_REL_IS_A && strcmp(s, "urn:dev:printer7") == 0 &&
           strcmp(o, "urn:class:printer") == 0;
}

static void test_operators_set(void **state)
{
    struct tsr_odrl_request r;
    struct tsr_odrl_named groups[] = {
        {"fileFormat", "pdf"},
        {"fileFormat", "csv"},
        {"systemDevice", "urn:dev:printer7"},
    };
    struct tsr_odrl_fact facts[] = {
        {TSR_ODRL_REL_PART_OF, "DE", "EU"},
        {TSR_ODRL_REL_PART_OF, "EU", "Europe"},
        {TSR_ODRL_REL_PART_OF, "FR", "EU"},
    };
    int calls = 0;

    (void)state;
    req_init(&r, "use");
    r.named = groups;
    r.n_named = TSR_ARRAY_SIZE(groups);
    r.facts = facts;
    r.n_facts = TSR_ARRAY_SIZE(facts);
    r.spatial = "DE";
    r.related = world;
    r.related_arg = &calls;
    static const struct {
        const char *c;
        enum tsr_odrl_effect want;
    } cases[] = {
        /* L = {pdf, csv} */
        {"{'leftOperand': 'fileFormat', 'operator': 'isAnyOf', 'rightOperand': ['csv', 'xml']}",
         TSR_ODRL_PERMIT},
        {"{'leftOperand': 'fileFormat', 'operator': 'isAnyOf', 'rightOperand': ['xml', 'doc']}",
         TSR_ODRL_DENY},
        {"{'leftOperand': 'fileFormat', 'operator': 'isNoneOf', 'rightOperand': ['xml', 'doc']}",
         TSR_ODRL_PERMIT},
        {"{'leftOperand': 'fileFormat', 'operator': 'isNoneOf', 'rightOperand': ['pdf']}",
         TSR_ODRL_DENY},
        {"{'leftOperand': 'fileFormat', 'operator': 'isAllOf', 'rightOperand': ['pdf', 'csv']}",
         TSR_ODRL_PERMIT},
        {"{'leftOperand': 'fileFormat', 'operator': 'isAllOf', 'rightOperand': ['pdf', 'xml']}",
         TSR_ODRL_DENY},
        /* isPartOf: every l is in R (flat) or partOf it (facts, transitively) */
        {"{'leftOperand': 'fileFormat', 'operator': 'isPartOf', 'rightOperand': ['pdf', 'csv',"
         " 'xml']}", TSR_ODRL_PERMIT},
        {"{'leftOperand': 'fileFormat', 'operator': 'isPartOf', 'rightOperand': ['pdf']}",
         TSR_ODRL_DENY},
        {"{'leftOperand': 'spatial', 'operator': 'isPartOf', 'rightOperand': 'EU'}",
         TSR_ODRL_PERMIT},
        {"{'leftOperand': 'spatial', 'operator': 'isPartOf', 'rightOperand': 'Europe'}",
         TSR_ODRL_PERMIT},
        {"{'leftOperand': 'spatial', 'operator': 'isPartOf', 'rightOperand': 'US'}",
         TSR_ODRL_DENY},
        /* hasPart: every r is part of some l */
        {"{'leftOperand': 'fileFormat', 'operator': 'hasPart', 'rightOperand': 'csv'}",
         TSR_ODRL_PERMIT},
        {"{'leftOperand': 'fileFormat', 'operator': 'hasPart', 'rightOperand': 'xml'}",
         TSR_ODRL_DENY},
        /* isA: through the caller's callback */
        {"{'leftOperand': 'systemDevice', 'operator': 'isA', 'rightOperand':"
         " 'urn:class:printer'}", TSR_ODRL_PERMIT},
        {"{'leftOperand': 'systemDevice', 'operator': 'isA', 'rightOperand':"
         " 'urn:class:scanner'}", TSR_ODRL_DENY},
        /* absent value: even isNoneOf is unsatisfied (closed world) */
        {"{'leftOperand': 'language', 'operator': 'isNoneOf', 'rightOperand': ['de']}",
         TSR_ODRL_DENY},
        /* eq on a multi-valued operand is not satisfied */
        {"{'leftOperand': 'fileFormat', 'operator': 'eq', 'rightOperand': 'pdf'}",
         TSR_ODRL_DENY},
    };
    for (size_t i = 0; i < TSR_ARRAY_SIZE(cases); i++)
        expect_one(cases[i].c, &r, cases[i].want);
    assert_true(calls > 0);

    /* hasPart with spatial: EU has part DE */
    r.spatial = "EU";
    expect_one("{'leftOperand': 'spatial', 'operator': 'hasPart', 'rightOperand': ['DE', 'FR']}",
               &r, TSR_ODRL_PERMIT);
    expect_one("{'leftOperand': 'spatial', 'operator': 'hasPart', 'rightOperand': ['DE', 'US']}",
               &r, TSR_ODRL_DENY);
}

/* ------------------------------------------------------------ operands */

static void test_count(void **state)
{
    struct tsr_odrl_request r;
    const char *c = "{'leftOperand': 'count', 'operator': 'lteq', 'rightOperand': 3}";

    (void)state;
    req_init(&r, "use");
    for (uint64_t used = 0; used < 6; used++) {
        r.use_count = used;
        expect_one(c, &r, used < 3 ? TSR_ODRL_PERMIT : TSR_ODRL_DENY);
    }
    const struct tsr_odrl_constraint_report *rep = find_report("count");
    assert_string_equal(rep->actual, "6");
    assert_string_equal(rep->right, "3");
    assert_int_equal(rep->sat, TSR_ODRL_UNSATISFIED);
    assert_string_equal(dec.why, "a constraint is not satisfied");
    r.use_count = UINT64_MAX;
    expect_one(c, &r, TSR_ODRL_DENY);
}

static void test_elapsed_time(void **state)
{
    struct tsr_odrl_request r;
    const char *c = "{'leftOperand': 'elapsedTime', 'operator': 'lteq', 'rightOperand': 'P30D'}";

    (void)state;
    req_init(&r, "use");
    /* No start known: unsatisfied. */
    expect_one(c, &r, TSR_ODRL_DENY);
    assert_string_equal(find_report("elapsedTime")->note, "no first use or agreement time");
    r.agreement_ms = T("2026-05-10T12:00:00Z");
    expect_one(c, &r, TSR_ODRL_PERMIT);
    assert_string_equal(find_report("elapsedTime")->actual, "P22D");
    r.agreement_ms = T("2026-05-02T12:00:00Z"); /* exactly 30 days */
    expect_one(c, &r, TSR_ODRL_PERMIT);
    r.agreement_ms = T("2026-05-02T11:59:59Z");
    expect_one(c, &r, TSR_ODRL_DENY);
    /* eq is read as "at most" (a period of use) */
    expect_one("{'leftOperand': 'elapsedTime', 'operator': 'eq', 'rightOperand': 'P31D'}", &r,
               TSR_ODRL_PERMIT);
    /* counted from the first use when known */
    r.first_use_ms = T("2026-05-20T00:00:00Z");
    expect_one(c, &r, TSR_ODRL_PERMIT);
    expect_one("{'leftOperand': 'elapsedTime', 'operator': 'gt', 'rightOperand': 'PT1H'}", &r,
               TSR_ODRL_PERMIT);
    /* calendar months: one month after Jan 31 is Feb 28 (2026) */
    r.first_use_ms = TSR_ODRL_TIME_UNSET;
    r.agreement_ms = T("2026-01-31T10:00:00Z");
    r.now_ms = T("2026-02-28T10:00:00Z");
    expect_one("{'leftOperand': 'elapsedTime', 'operator': 'lteq', 'rightOperand': 'P1M'}", &r,
               TSR_ODRL_PERMIT);
    r.now_ms = T("2026-02-28T10:00:00.001Z");
    expect_one("{'leftOperand': 'elapsedTime', 'operator': 'lteq', 'rightOperand': 'P1M'}", &r,
               TSR_ODRL_DENY);
    /* leap year, years, time parts */
    r.agreement_ms = T("2027-01-31T00:00:00Z");
    r.now_ms = T("2028-02-29T00:00:00Z");
    expect_one("{'leftOperand': 'elapsedTime', 'operator': 'lteq', 'rightOperand': 'P1Y1M'}",
               &r, TSR_ODRL_PERMIT);
}

static void test_delay_and_interval(void **state)
{
    struct tsr_odrl_request r;

    (void)state;
    req_init(&r, "use");
    r.agreement_ms = T("2026-06-01T11:00:00Z");
    /* a delay of one hour has passed (eq reads as "at least") */
    expect_one("{'leftOperand': 'delayPeriod', 'operator': 'eq', 'rightOperand': 'PT1H'}", &r,
               TSR_ODRL_PERMIT);
    expect_one("{'leftOperand': 'delayPeriod', 'operator': 'eq', 'rightOperand': 'PT1H1S'}", &r,
               TSR_ODRL_DENY);
    expect_one("{'leftOperand': 'delayPeriod', 'operator': 'lt', 'rightOperand': 'PT2H'}", &r,
               TSR_ODRL_PERMIT);
    r.agreement_ms = TSR_ODRL_TIME_UNSET;
    expect_one("{'leftOperand': 'delayPeriod', 'operator': 'eq', 'rightOperand': 'PT1H'}", &r,
               TSR_ODRL_DENY);
    /* timeInterval: at most one use per day */
    const char *ti = "{'leftOperand': 'timeInterval', 'operator': 'eq', 'rightOperand': 'P1D'}";
    expect_one(ti, &r, TSR_ODRL_PERMIT); /* first use */
    r.last_use_ms = T("2026-05-31T12:00:00Z");
    expect_one(ti, &r, TSR_ODRL_PERMIT);
    r.last_use_ms = T("2026-05-31T12:00:00.001Z");
    expect_one(ti, &r, TSR_ODRL_DENY);
    expect_one("{'leftOperand': 'timeInterval', 'operator': 'gteq', 'rightOperand': 'PT12H'}",
               &r, TSR_ODRL_PERMIT);
}

static void test_datetime_and_inforce(void **state)
{
    struct tsr_odrl_request r;
    const char *window = "{'and': [{'leftOperand': 'dateTime', 'operator': 'gteq', "
                         "'rightOperand': '2026-01-01'}, {'leftOperand': 'dateTime', "
                         "'operator': 'lt', 'rightOperand': '2026-07-01T00:00:00+02:00'}]}";

    (void)state;
    req_init(&r, "use");
    expect_one(window, &r, TSR_ODRL_PERMIT);
    r.now_ms = T("2026-06-30T22:00:00Z"); /* = 2026-07-01T00:00+02:00 */
    expect_one(window, &r, TSR_ODRL_DENY);
    r.now_ms = T("2025-12-31T23:59:59.999Z");
    expect_one(window, &r, TSR_ODRL_DENY);
    r.now_ms = TSR_ODRL_TIME_UNSET;
    expect_one(window, &r, TSR_ODRL_DENY);

    /* EDC inForceDate, absolute and relative to the agreement */
    req_init(&r, "use");
    const char *abs = "{'leftOperand': 'https://w3id.org/edc/v0.0.1/ns/inForceDate', "
                      "'operator': 'lteq', 'rightOperand': {'@value': '2026-06-01T12:00:00Z', "
                      "'@type': 'xsd:dateTime'}}";
    expect_one(abs, &r, TSR_ODRL_PERMIT);
    r.now_ms++;
    expect_one(abs, &r, TSR_ODRL_DENY);
    const char *rel = "{'and': [{'leftOperand': 'edc:inForceDate', 'operator': 'gteq', "
                      "'rightOperand': 'contractAgreement'}, {'leftOperand': 'inForceDate', "
                      "'operator': 'lteq', 'rightOperand': 'contractAgreement + 30d'}]}";
    req_init(&r, "use");
    expect_one(rel, &r, TSR_ODRL_DENY); /* no agreement time */
    assert_string_equal(find_report("edc:inForceDate")->note, "no agreement time");
    r.agreement_ms = T("2026-05-02T12:00:00Z");
    expect_one(rel, &r, TSR_ODRL_PERMIT);
    r.agreement_ms--;
    expect_one(rel, &r, TSR_ODRL_DENY);
    r.agreement_ms = r.now_ms + 1; /* not yet in force */
    expect_one(rel, &r, TSR_ODRL_DENY);
    expect_one("{'leftOperand': 'inForceDate', 'operator': 'gt', 'rightOperand': "
               "'contractAgreement+5h'}", &r, TSR_ODRL_DENY);
}

static void test_purpose_spatial_recipient(void **state)
{
    struct tsr_odrl_request r;

    (void)state;
    req_init(&r, "use");
    const char *pol = "{'@context': {'dpv': 'https://w3id.org/dpv#'}, 'permission': [{'action':"
                      " 'use', 'constraint': [{'leftOperand': 'purpose', 'operator': 'isAnyOf',"
                      " 'rightOperand': [{'@id': 'dpv:AcademicResearch'}, 'dpv:ServiceProvision']},"
                      " {'leftOperand': 'spatial', 'operator': 'eq', 'rightOperand': 'DE'},"
                      " {'leftOperand': 'recipient', 'operator': 'isNoneOf', 'rightOperand':"
                      " ['did:web:competitor']}]}]}";
    struct tsr_odrl_policy *p = compile_ok(pol);
    r.spatial = "DE";
    r.recipient = "did:web:partner";
    r.purpose = "https://w3id.org/dpv#AcademicResearch";
    assert_int_equal(eval(p, &r), TSR_ODRL_PERMIT);
    r.purpose = "dpv:ServiceProvision"; /* the policy's prefix applies to request values */
    assert_int_equal(eval(p, &r), TSR_ODRL_PERMIT);
    r.purpose = "dpv:Marketing";
    assert_int_equal(eval(p, &r), TSR_ODRL_DENY);
    r.purpose = NULL;
    assert_int_equal(eval(p, &r), TSR_ODRL_DENY);
    /* a field may also come as a named value */
    struct tsr_odrl_named nv[] = {{"purpose", "dpv:AcademicResearch"}};
    r.named = nv;
    r.n_named = 1;
    assert_int_equal(eval(p, &r), TSR_ODRL_PERMIT);
    r.spatial = "FR";
    assert_int_equal(eval(p, &r), TSR_ODRL_DENY);
    r.spatial = "DE";
    r.recipient = "did:web:competitor";
    assert_int_equal(eval(p, &r), TSR_ODRL_DENY);
    r.recipient = NULL; /* not known: unsatisfied */
    assert_int_equal(eval(p, &r), TSR_ODRL_DENY);
    tsr_odrl_policy_free(p);
}

/* ------------------------------------------------------------ logic */

static void test_xone(void **state)
{
    struct tsr_odrl_request r;
    const char *x = "{'xone': [{'leftOperand': 'purpose', 'operator': 'eq', 'rightOperand': "
                    "'a'}, {'leftOperand': 'count', 'operator': 'lteq', 'rightOperand': 2}]}";

    (void)state;
    req_init(&r, "use");
    r.purpose = "a";
    r.use_count = 5;
    expect_one(x, &r, TSR_ODRL_PERMIT); /* only the first */
    r.purpose = "b";
    r.use_count = 0;
    expect_one(x, &r, TSR_ODRL_PERMIT); /* only the second */
    r.purpose = "a";
    expect_one(x, &r, TSR_ODRL_DENY); /* both */
    assert_string_equal(find_report("xone")->note, "more than one operand is satisfied");
    r.purpose = "b";
    r.use_count = 5;
    expect_one(x, &r, TSR_ODRL_DENY); /* neither */
}

static void test_and_sequence(void **state)
{
    struct tsr_odrl_request r;
    const char *s = "{'andSequence': [{'leftOperand': 'purpose', 'operator': 'eq', "
                    "'rightOperand': 'a'}, {'leftOperand': 'count', 'operator': 'lteq', "
                    "'rightOperand': 2}, {'leftOperand': 'spatial', 'operator': 'eq', "
                    "'rightOperand': 'DE'}]}";

    (void)state;
    req_init(&r, "use");
    r.purpose = "a";
    r.spatial = "DE";
    expect_one(s, &r, TSR_ODRL_PERMIT);
    assert_int_equal(find_report("spatial")->sat, TSR_ODRL_SATISFIED);
    r.use_count = 9;
    expect_one(s, &r, TSR_ODRL_DENY);
    /* evaluation stopped at count: spatial was not looked at */
    assert_int_equal(find_report("count")->sat, TSR_ODRL_UNSATISFIED);
    assert_int_equal(find_report("spatial")->sat, TSR_ODRL_NOT_EVALUATED);
    assert_int_equal(find_report("andSequence")->sat, TSR_ODRL_UNSATISFIED);
    /* a plain and evaluates (and reports) everything */
    expect_one("{'and': [{'leftOperand': 'count', 'operator': 'lteq', 'rightOperand': 2}, "
               "{'leftOperand': 'spatial', 'operator': 'eq', 'rightOperand': 'DE'}]}",
               &r, TSR_ODRL_DENY);
    assert_int_equal(find_report("spatial")->sat, TSR_ODRL_SATISFIED);
}

static void test_or_nested(void **state)
{
    struct tsr_odrl_request r;
    const char *c = "{'or': [{'and': [{'leftOperand': 'purpose', 'operator': 'eq', "
                    "'rightOperand': 'a'}, {'xone': [{'leftOperand': 'spatial', 'operator': "
                    "'eq', 'rightOperand': 'DE'}, {'leftOperand': 'spatial', 'operator': 'eq', "
                    "'rightOperand': 'FR'}]}]}, {'leftOperand': 'count', 'operator': 'eq', "
                    "'rightOperand': 1}]}";

    (void)state;
    req_init(&r, "use");
    r.purpose = "a";
    r.spatial = "FR";
    r.use_count = 3;
    expect_one(c, &r, TSR_ODRL_PERMIT);
    /* nested reports carry their depth */
    bool saw_depth2 = false;
    for (size_t i = 0; i < dec.n_constraints; i++)
        saw_depth2 |= dec.constraints[i].depth == 3;
    assert_true(saw_depth2);
    r.spatial = "IT";
    expect_one(c, &r, TSR_ODRL_DENY);
    r.use_count = 0;
    expect_one(c, &r, TSR_ODRL_PERMIT);
}

/* ------------------------------------------------------------ refinements */

static void test_refinements(void **state)
{
    struct tsr_odrl_request r;
    struct tsr_odrl_named nv[] = {{"resolution", "1000"}};
    /* The W3C CG example B1's shape. */
    struct tsr_odrl_policy *p = compile_ok(
        "{'@context': 'http://www.w3.org/ns/odrl.jsonld', '@type': 'Set', 'uid':"
        " 'http://example.com/policy/B1', 'permission': [{'target':"
        " 'http://example.com/document/1234', 'action': [{'rdf:value': {'@id': 'odrl:print'},"
        " 'refinement': [{'leftOperand': 'resolution', 'operator': 'lteq', 'rightOperand':"
        " {'@value': '1200', '@type': 'xsd:integer'}, 'unit':"
        " 'http://dbpedia.org/resource/Dots_per_inch'}]}]}]}");

    (void)state;
    req_init(&r, "print");
    r.target = "http://example.com/document/1234";
    r.named = nv;
    r.n_named = 1;
    assert_int_equal(eval(p, &r), TSR_ODRL_PERMIT);
    assert_int_equal(dec.constraints[0].scope, TSR_ODRL_IN_REFINEMENT);
    nv[0].value = "1600";
    assert_int_equal(eval(p, &r), TSR_ODRL_DENY);
    assert_string_equal(dec.why, "an action refinement is not satisfied");
    assert_true(dec.rules[0].action_match);
    assert_false(dec.rules[0].refinements_ok);
    assert_true(dec.rules[0].constraints_ok);
    r.n_named = 0;
    assert_int_equal(eval(p, &r), TSR_ODRL_DENY);
    /* the refinement applies to print only; another permitted action does not see it */
    r.action = "read";
    assert_int_equal(eval(p, &r), TSR_ODRL_NOT_APPLICABLE);
    tsr_odrl_policy_free(p);

    /* Refinements on an asset collection. */
    p = compile_ok("{'permission': [{'action': 'read', 'target': {'@type': 'AssetCollection',"
                   " 'source': 'urn:coll:reports', 'refinement': {'leftOperand': 'language',"
                   " 'operator': 'eq', 'rightOperand': 'de'}}}]}");
    struct tsr_odrl_fact f[] = {{TSR_ODRL_REL_PART_OF, "urn:doc:1", "urn:coll:reports"}};
    struct tsr_odrl_named lang[] = {{"language", "de"}};
    req_init(&r, "read");
    r.target = "urn:doc:1";
    r.facts = f;
    r.n_facts = 1;
    r.named = lang;
    r.n_named = 1;
    assert_int_equal(eval(p, &r), TSR_ODRL_PERMIT);
    lang[0].value = "en";
    assert_int_equal(eval(p, &r), TSR_ODRL_NOT_APPLICABLE);
    assert_int_equal(dec.constraints[0].scope, TSR_ODRL_IN_TARGET);
    tsr_odrl_policy_free(p);
}

/* ------------------------------------------------------------ duties */

static const struct tsr_odrl_pending *find_pending(enum tsr_odrl_action a)
{
    for (size_t i = 0; i < dec.n_pending; i++)
        if (dec.pending[i].action == a)
            return &dec.pending[i];
    return NULL;
}

static void test_duties(void **state)
{
    struct tsr_odrl_request r;
    struct tsr_odrl_duty_fact df[2];
    const char *pol =
        "{'@context': {'dbpedia': 'http://dbpedia.org/resource/'}, '@type': 'Agreement',"
        " '@id': 'urn:agr', 'permission': [{'@id': 'urn:perm', 'action':"
        " 'use', 'duty': [{'@id': 'urn:pay', 'action': [{'rdf:value': {'@id': 'odrl:compensate'},"
        " 'refinement': [{'leftOperand': 'payAmount', 'operator': 'eq', 'rightOperand': '5.00',"
        " 'unit': 'dbpedia:Euro'}]}], 'compensatedParty': 'did:web:prov'}, {'@id': 'urn:del',"
        " 'action': 'delete', 'constraint': [{'leftOperand': 'dateTime', 'operator': 'lteq',"
        " 'rightOperand': '2026-12-31T00:00:00Z'}], 'consequence': {'action': 'inform',"
        " 'informedParty': 'did:web:prov'}}]}]}";
    struct tsr_odrl_policy *p = compile_ok(pol);
    const struct tsr_odrl_pending *pd;

    (void)state;
    req_init(&r, "read");
    /* compensate is a pre-duty: not paid, no use; both duties are listed */
    assert_int_equal(eval(p, &r), TSR_ODRL_DENY);
    assert_string_equal(dec.why, "a duty is not fulfilled (pre-duty pending or duty violated)");
    pd = find_pending(TSR_ODRL_ACT_COMPENSATE);
    assert_non_null(pd);
    assert_int_equal(pd->timing, TSR_ODRL_TIMING_PRE);
    assert_string_equal(pd->id, "urn:pay");
    assert_string_equal(pd->rule_id, "urn:perm");
    assert_string_equal(tsr_odrl_duty_param(pd->duty, "payAmount"), "5.00");
    assert_string_equal(tsr_odrl_duty_param(pd->duty, "unit"),
                        "http://dbpedia.org/resource/Euro");
    assert_string_equal(tsr_odrl_duty_param(pd->duty, "compensatedParty"), "did:web:prov");
    assert_null(tsr_odrl_duty_param(pd->duty, "informedParty"));
    assert_null(find_pending(TSR_ODRL_ACT_DELETE)); /* post-duties only come with a permit */

    /* paid (by duty id): permitted; the delete duty is pending with its deadline */
    df[0].duty = "urn:pay";
    df[0].state = TSR_ODRL_DUTY_FULFILLED;
    r.duties = df;
    r.n_duties = 1;
    assert_int_equal(eval(p, &r), TSR_ODRL_PERMIT);
    assert_null(find_pending(TSR_ODRL_ACT_COMPENSATE));
    pd = find_pending(TSR_ODRL_ACT_DELETE);
    assert_non_null(pd);
    assert_int_equal(pd->timing, TSR_ODRL_TIMING_POST);
    assert_int_equal(pd->role, TSR_ODRL_DUTY);
    assert_int_equal(pd->deadline_ms, T("2026-12-31T00:00:00Z"));
    assert_int_equal(pd->not_before_ms, TSR_ODRL_TIME_UNSET);
    assert_string_equal(pd->action_iri, "http://www.w3.org/ns/odrl/2/delete");
    /* the deadline is a window, not a condition: still permitted after it */
    r.now_ms = T("2027-01-02T00:00:00Z");
    assert_int_equal(eval(p, &r), TSR_ODRL_PERMIT);

    /* a violated post-duty deactivates the permission and brings its consequence */
    df[1].duty = "delete"; /* by action */
    df[1].state = TSR_ODRL_DUTY_VIOLATED;
    r.n_duties = 2;
    assert_int_equal(eval(p, &r), TSR_ODRL_DENY);
    assert_false(dec.rules[0].duties_ok);
    assert_int_equal(find_pending(TSR_ODRL_ACT_DELETE)->state, TSR_ODRL_DUTY_VIOLATED);
    pd = find_pending(TSR_ODRL_ACT_INFORM);
    assert_non_null(pd);
    assert_int_equal(pd->role, TSR_ODRL_CONSEQUENCE);
    assert_string_equal(tsr_odrl_duty_param(pd->duty, "informedParty"), "did:web:prov");
    /* delete fulfilled: nothing pending */
    df[1].state = TSR_ODRL_DUTY_FULFILLED;
    assert_int_equal(eval(p, &r), TSR_ODRL_PERMIT);
    assert_int_equal(dec.n_pending, 0);
    tsr_odrl_policy_free(p);

    /* The SolidLab reading: plain duties as obligations after use. */
    struct tsr_odrl_options o;
    memset(&o, 0, sizeof(o));
    o.default_timing = TSR_ODRL_TIMING_POST;
    p = compile_ok_opts("{'permission': [{'action': 'read', 'duty': {'action': 'compensate'}}]}",
                        &o);
    req_init(&r, "read");
    assert_int_equal(eval(p, &r), TSR_ODRL_PERMIT);
    assert_int_equal(find_pending(TSR_ODRL_ACT_COMPENSATE)->timing, TSR_ODRL_TIMING_POST);
    df[0].duty = "odrl:compensate";
    df[0].state = TSR_ODRL_DUTY_VIOLATED;
    r.duties = df;
    r.n_duties = 1;
    assert_int_equal(eval(p, &r), TSR_ODRL_DENY);
    tsr_odrl_policy_free(p);

    /* Explicit preDuty / postDuty, and a duty whose constraint does not hold is not in force. */
    p = compile_ok("{'permission': [{'action': 'read', 'preDuty': {'action': 'inform'},"
                   " 'postDuty': {'action': 'compensate', 'constraint': {'leftOperand':"
                   " 'purpose', 'operator': 'eq', 'rightOperand': 'commercial'}}, 'duty':"
                   " {'action': 'delete', 'constraint': [{'leftOperand': 'delayPeriod',"
                   " 'operator': 'eq', 'rightOperand': 'P7D'}, {'leftOperand': 'elapsedTime',"
                   " 'operator': 'lteq', 'rightOperand': 'P30D'}]}}]}");
    req_init(&r, "read");
    r.purpose = "research";
    r.agreement_ms = T("2026-05-01T00:00:00Z");
    assert_int_equal(eval(p, &r), TSR_ODRL_DENY); /* inform first */
    assert_int_equal(find_pending(TSR_ODRL_ACT_INFORM)->timing, TSR_ODRL_TIMING_PRE);
    df[0].duty = "inform";
    df[0].state = TSR_ODRL_DUTY_FULFILLED;
    r.duties = df;
    r.n_duties = 1;
    assert_int_equal(eval(p, &r), TSR_ODRL_PERMIT);
    assert_null(find_pending(TSR_ODRL_ACT_COMPENSATE)); /* not commercial: not in force */
    pd = find_pending(TSR_ODRL_ACT_DELETE);
    assert_int_equal(pd->not_before_ms, T("2026-05-08T00:00:00Z"));
    assert_int_equal(pd->deadline_ms, T("2026-05-31T00:00:00Z"));
    r.purpose = "commercial";
    assert_int_equal(eval(p, &r), TSR_ODRL_PERMIT);
    assert_int_equal(find_pending(TSR_ODRL_ACT_COMPENSATE)->timing, TSR_ODRL_TIMING_POST);
    tsr_odrl_policy_free(p);
}

static void test_obligations(void **state)
{
    struct tsr_odrl_request r;
    struct tsr_odrl_duty_fact df = {"urn:obl", TSR_ODRL_DUTY_VIOLATED};
    struct tsr_odrl_policy *p = compile_ok(
        "{'permission': {'action': 'use'}, 'obligation': [{'@id': 'urn:obl', 'action': 'delete',"
        " 'constraint': {'leftOperand': 'dateTime', 'operator': 'eq', 'rightOperand':"
        " '2026-09-01T00:00:00Z'}, 'consequence': {'action': 'compensate'}}]}");

    (void)state;
    req_init(&r, "use");
    assert_int_equal(eval(p, &r), TSR_ODRL_PERMIT);
    const struct tsr_odrl_pending *pd = find_pending(TSR_ODRL_ACT_DELETE);
    assert_non_null(pd);
    assert_int_equal(pd->role, TSR_ODRL_OBLIGATION);
    assert_int_equal(pd->not_before_ms, T("2026-09-01T00:00:00Z"));
    assert_int_equal(pd->deadline_ms, T("2026-09-01T00:00:00Z"));
    assert_null(pd->rule_id);
    /* obligations are listed with a refusal too, and a violation brings its consequence */
    r.action = "transfer";
    assert_int_equal(eval(p, &r), TSR_ODRL_NOT_APPLICABLE);
    assert_non_null(find_pending(TSR_ODRL_ACT_DELETE));
    r.action = "use";
    r.duties = &df;
    r.n_duties = 1;
    assert_int_equal(eval(p, &r), TSR_ODRL_PERMIT); /* they do not change the decision */
    assert_non_null(find_pending(TSR_ODRL_ACT_COMPENSATE));
    tsr_odrl_policy_free(p);
}

/* ------------------------------------------------------------ prohibitions */

static void test_prohibitions(void **state)
{
    struct tsr_odrl_request r;
    const char *rules =
        "'permission': [{'action': 'use'}], 'prohibition': [{'@id': 'urn:noshare', 'action':"
        " 'distribute', 'constraint': {'leftOperand': 'recipient', 'operator': 'isNoneOf',"
        " 'rightOperand': ['did:web:partner']}, 'remedy': {'action': 'delete'}}]";
    char buf[1024];

    (void)state;
    snprintf(buf, sizeof(buf), "{%s}", rules);
    struct tsr_odrl_policy *p = compile_ok(buf);
    req_init(&r, "distribute");
    r.recipient = "did:web:partner";
    assert_int_equal(eval(p, &r), TSR_ODRL_PERMIT); /* prohibition's constraint false */
    assert_int_equal(dec.decided_by, 0);
    r.recipient = "did:web:stranger";
    assert_int_equal(eval(p, &r), TSR_ODRL_DENY);
    assert_string_equal(dec.why, "prohibited: a prohibition overrides the permission");
    assert_int_equal(dec.rules[dec.decided_by].kind, TSR_ODRL_PROHIBITION);
    assert_string_equal(dec.rules[dec.decided_by].id, "urn:noshare");
    const struct tsr_odrl_pending *pd = find_pending(TSR_ODRL_ACT_DELETE);
    assert_non_null(pd);
    assert_int_equal(pd->role, TSR_ODRL_REMEDY);
    r.action = "read"; /* not distribute: the prohibition does not apply */
    assert_int_equal(eval(p, &r), TSR_ODRL_PERMIT);
    tsr_odrl_policy_free(p);

    snprintf(buf, sizeof(buf), "{'conflict': 'perm', %s}", rules);
    p = compile_ok(buf);
    req_init(&r, "distribute");
    r.recipient = "did:web:stranger";
    assert_int_equal(eval(p, &r), TSR_ODRL_PERMIT);
    assert_null(find_pending(TSR_ODRL_ACT_DELETE));
    tsr_odrl_policy_free(p);

    snprintf(buf, sizeof(buf), "{'conflict': 'invalid', %s}", rules);
    p = compile_ok(buf);
    assert_int_equal(eval(p, &r), TSR_ODRL_DENY);
    assert_non_null(strstr(dec.why, "policy void"));
    tsr_odrl_policy_free(p);

    snprintf(buf, sizeof(buf), "{'conflict': 'odrl:prohibit', %s}", rules);
    p = compile_ok(buf);
    assert_int_equal(eval(p, &r), TSR_ODRL_DENY);
    tsr_odrl_policy_free(p);

    /* A prohibition alone. */
    p = compile_ok("{'prohibition': {'action': 'use'}}");
    req_init(&r, "read");
    assert_int_equal(eval(p, &r), TSR_ODRL_DENY);
    assert_string_equal(dec.why, "prohibited by a prohibition");
    tsr_odrl_policy_free(p);
}

/* ------------------------------------------------------------ parties and assets */

static bool member_of(void *arg, enum tsr_odrl_rel rel, const char *s, const char *o)
{
    (void)arg;
    return rel == TSR_ODRL_REL_PART_OF && strcmp(s, "did:web:bob") == 0 &&
           strcmp(o, "http://example.org/partners") == 0;
}

static void test_collections(void **state)
{
    struct tsr_odrl_request r;
    struct tsr_odrl_fact f[] = {
        {TSR_ODRL_REL_PART_OF, "did:web:alice", "ex:partners"},
        {TSR_ODRL_REL_PART_OF, "urn:x", "http://example.org/assets"},
    };
    struct tsr_odrl_policy *p = compile_ok(
        "{'@context': {'ex': 'http://example.org/'}, 'permission': [{'action': 'read',"
        " 'assignee': {'@id': 'ex:partners', '@type': 'PartyCollection'}, 'target':"
        " {'@type': 'AssetCollection', 'source': 'ex:assets'}}]}");

    (void)state;
    req_init(&r, "read");
    r.assignee = "did:web:alice";
    r.target = "urn:x";
    assert_int_equal(eval(p, &r), TSR_ODRL_NOT_APPLICABLE); /* no facts yet */
    assert_false(dec.rules[0].party_match);
    assert_false(dec.rules[0].target_match);
    r.facts = f;
    r.n_facts = 2;
    assert_int_equal(eval(p, &r), TSR_ODRL_PERMIT);
    r.assignee = "did:web:bob";
    assert_int_equal(eval(p, &r), TSR_ODRL_NOT_APPLICABLE);
    r.related = member_of;
    assert_int_equal(eval(p, &r), TSR_ODRL_PERMIT);
    r.target = "urn:y";
    assert_int_equal(eval(p, &r), TSR_ODRL_NOT_APPLICABLE);
    assert_true(dec.rules[0].party_match);
    assert_false(dec.rules[0].target_match);
    tsr_odrl_policy_free(p);
}

/* ------------------------------------------------------------ profiles */

static char *read_data(const char *name)
{
    const char *top = getenv("top_srcdir");
    char path[1024];
    json_t *j = NULL;
    struct tsr_diag d;

    snprintf(path, sizeof(path), "%s/tests/data/odrl/catenax/%s", top ? top : ".", name);
    if (tsr_json_read_file(path, NULL, &j, &d) != 0)
        fail_msg("%s", d.msg);
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    assert_non_null(s);
    return s;
}

static struct tsr_odrl_policy *compile_file(const char *name, const struct tsr_odrl_options *o,
                                            int want, const char *what)
{
    char *s = read_data(name);
    struct tsr_odrl_policy *p = NULL;
    struct tsr_diag d;

    tsr_diag_clear(&d);
    int rc = tsr_odrl_parse(s, strlen(s), o, &p, &d);
    free(s);
    if (rc != want || (what != NULL && strstr(d.msg, what) == NULL))
        fail_msg("%s: expected %d '%s', got %d '%s'", name, want, what ? what : "", rc, d.msg);
    return p;
}

static void test_catenax(void **state)
{
    struct tsr_odrl_registry *reg = tsr_odrl_registry_new();
    struct tsr_odrl_options o;
    struct tsr_odrl_request r;
    struct tsr_odrl_policy *p;

    (void)state;
    assert_non_null(reg);
    /* Without the profile: refused, naming the operand. */
    compile_file("example_usage_policy.json", NULL, TSR_EPOLICY, "cx-policy:FrameworkAgreement");
    compile_file("access-policy.json", NULL, TSR_EPOLICY, "unknown action 'access'");

    assert_int_equal(tsr_odrl_registry_add_catenax(reg), 0);
    memset(&o, 0, sizeof(o));
    o.registry = reg;

    p = compile_file("example_usage_policy.json", &o, 0, NULL);
    struct tsr_odrl_named nv[] = {{"FrameworkAgreement", "DataExchangeGovernance:1.0"}};
    req_init(&r, "use");
    r.purpose = "cx.core.industrycore:1";
    assert_int_equal(eval(p, &r), TSR_ODRL_DENY); /* no framework agreement credential */
    r.named = nv;
    r.n_named = 1;
    assert_int_equal(eval(p, &r), TSR_ODRL_PERMIT);
    const struct tsr_odrl_constraint_report *c = find_report("cx-policy:ContractReference");
    assert_non_null(c);
    assert_int_equal(c->sat, TSR_ODRL_CONTRACTUAL);
    r.purpose = "cx.pcf.base:1";
    assert_int_equal(eval(p, &r), TSR_ODRL_DENY);
    /* the full IRI of the operand names it too */
    struct tsr_odrl_named full[] = {
        {"https://w3id.org/catenax/policy/FrameworkAgreement", "DataExchangeGovernance:1.0"}};
    r.named = full;
    r.purpose = "cx.core.industrycore:1";
    assert_int_equal(eval(p, &r), TSR_ODRL_PERMIT);
    tsr_odrl_policy_free(p);

    /*
     * The comprehensive sample: the contractual terms do not block the
     * permission and do not make its prohibition (contractual only) apply.
     */
    p = compile_file("usage-policy-comprehensive-sample.json", &o, 0, NULL);
    assert_int_equal(tsr_odrl_policy_rule_count(p, TSR_ODRL_PROHIBITION), 1);
    assert_int_equal(tsr_odrl_policy_rule_count(p, TSR_ODRL_OBLIGATION), 1);
    req_init(&r, "use");
    r.named = nv;
    r.n_named = 1;
    r.purpose = "cx.pcf.base:1";
    assert_int_equal(eval(p, &r), TSR_ODRL_PERMIT);
    assert_int_equal(dec.n_pending, 1); /* the provisioning-end obligation */
    r.purpose = "cx.other:1";
    assert_int_equal(eval(p, &r), TSR_ODRL_DENY);
    tsr_odrl_policy_free(p);

    /* The access policy: membership and BPN from the peer's verified credentials. */
    p = compile_file("access-policy.json", &o, 0, NULL);
    struct tsr_odrl_named cred[] = {{"Membership", "active"},
                                    {"BusinessPartnerNumber", "BPNL012345678910"}};
    req_init(&r, "access");
    r.named = cred;
    r.n_named = 2;
    assert_int_equal(eval(p, &r), TSR_ODRL_PERMIT);
    cred[1].value = "BPNL000000000000";
    assert_int_equal(eval(p, &r), TSR_ODRL_DENY);
    r.action = "cx-policy:access"; /* the bare term resolved to the first registered IRI */
    cred[1].value = "BPNL012345678910";
    assert_int_equal(eval(p, &r), TSR_ODRL_PERMIT);
    r.action = "use"; /* access is a root of its own */
    assert_int_equal(eval(p, &r), TSR_ODRL_NOT_APPLICABLE);
    tsr_odrl_policy_free(p);
    tsr_odrl_registry_free(reg);
}

static void test_registry(void **state)
{
    struct tsr_odrl_registry *reg = tsr_odrl_registry_new();
    struct tsr_odrl_options o;
    struct tsr_odrl_request r;

    (void)state;
    assert_int_equal(tsr_odrl_registry_add_operand(reg, "https://ex.org/dayOfWeek", NULL,
                                                   TSR_ODRL_T_STRING, TSR_ODRL_SRC_NAMED), 0);
    assert_int_equal(tsr_odrl_registry_add_operand(reg, "https://ex.org/dayOfWeek", "x",
                                                   TSR_ODRL_T_STRING, TSR_ODRL_SRC_NAMED),
                     TSR_EEXIST);
    assert_int_equal(tsr_odrl_registry_add_operand(reg, "no-colon", NULL, TSR_ODRL_T_STRING,
                                                   TSR_ODRL_SRC_NAMED), TSR_EINVAL);
    assert_int_equal(tsr_odrl_registry_add_operand(reg, "https://ex.org/x/", NULL,
                                                   TSR_ODRL_T_STRING, TSR_ODRL_SRC_NAMED),
                     TSR_EINVAL);
    assert_int_equal(tsr_odrl_registry_add_operand(reg, "https://ex.org/peer", "peer",
                                                   TSR_ODRL_T_IRI, TSR_ODRL_SRC_ASSIGNEE), 0);
    assert_int_equal(tsr_odrl_registry_add_operand(reg, "https://ex.org/level", "level",
                                                   TSR_ODRL_T_INTEGER, TSR_ODRL_SRC_NAMED), 0);
    assert_int_equal(tsr_odrl_registry_add_action(reg, "https://ex.org/train", "train",
                                                  TSR_ODRL_ACT_USE, TSR_ODRL_TIMING_AUTO), 0);
    assert_int_equal(tsr_odrl_registry_add_action(reg, "https://ex.org/train", NULL,
                                                  TSR_ODRL_ACT_USE, TSR_ODRL_TIMING_AUTO),
                     TSR_EEXIST);
    memset(&o, 0, sizeof(o));
    o.registry = reg;
    /* The registered type is checked at compile time. */
    refused_opts("{'@context': {'ex': 'https://ex.org/'}, 'permission': [{'action': 'use',"
                 " 'constraint': {'leftOperand': 'ex:level', 'operator': 'gt', 'rightOperand':"
                 " 'high'}}]}", &o, TSR_EINVAL, "expected an integer");
    struct tsr_odrl_policy *p = compile_ok_opts(
        "{'@context': {'ex': 'https://ex.org/'}, 'permission': [{'action': 'use', 'constraint':"
        " [{'leftOperand': 'ex:dayOfWeek', 'operator': 'eq', 'rightOperand': 'Sunday'},"
        " {'leftOperand': 'ex:peer', 'operator': 'isAnyOf', 'rightOperand': ['did:web:a']},"
        " {'leftOperand': 'ex:level', 'operator': 'gteq', 'rightOperand': 2}]}, {'action':"
        " 'ex:train'}]}", &o);
    struct tsr_odrl_named nv[] = {{"dayOfWeek", "Sunday"}, {"level", "3"}};
    req_init(&r, "read");
    r.named = nv;
    r.n_named = 2;
    r.assignee = "did:web:a";
    assert_int_equal(eval(p, &r), TSR_ODRL_PERMIT);
    nv[0].value = "Monday";
    assert_int_equal(eval(p, &r), TSR_ODRL_DENY);
    nv[0].value = "Sunday";
    nv[1].value = "1";
    assert_int_equal(eval(p, &r), TSR_ODRL_DENY);
    nv[1].value = "3";
    r.assignee = "did:web:b";
    assert_int_equal(eval(p, &r), TSR_ODRL_DENY);
    /* a profile action: by term or IRI; use does not include it unless its parent says so */
    r.action = "train";
    assert_int_equal(eval(p, &r), TSR_ODRL_PERMIT);
    r.action = "ex:train";
    assert_int_equal(eval(p, &r), TSR_ODRL_PERMIT);
    tsr_odrl_policy_free(p);
    tsr_odrl_registry_free(reg);
}

/* ------------------------------------------------------------ requests and output */

static void test_request_errors(void **state)
{
    struct tsr_odrl_policy *p = compile_ok("{'permission': [{'action': 'use'}]}");
    struct tsr_odrl_request r;

    (void)state;
    req_init(&r, NULL);
    assert_int_equal(tsr_odrl_eval(p, &r, &dec), TSR_EINVAL);
    assert_int_equal(dec.effect, TSR_ODRL_DENY);
    r.action = "teleport";
    assert_int_equal(tsr_odrl_eval(p, &r, &dec), TSR_EINVAL);
    assert_int_equal(dec.effect, TSR_ODRL_DENY);
    assert_non_null(strstr(dec.why, "unknown"));
    assert_int_equal(tsr_odrl_eval(NULL, &r, &dec), TSR_EINVAL);
    tsr_odrl_policy_free(p);
}

static void test_output(void **state)
{
    struct tsr_odrl_request r;
    struct tsr_buf b;
    struct tsr_odrl_policy *p = compile_ok(
        "{'permission': [{'@id': 'urn:perm:1', 'action': 'use', 'constraint': [{'@id':"
        " 'urn:c:count', 'leftOperand': 'count', 'operator': 'lteq', 'rightOperand': 3},"
        " {'leftOperand': 'dateTime', 'operator': 'lt', 'rightOperand':"
        " '2030-01-01T00:00:00Z'}], 'duty': {'action': 'delete', 'constraint': {'leftOperand':"
        " 'dateTime', 'operator': 'lteq', 'rightOperand': '2026-12-31T00:00:00Z'}}}]}");

    (void)state;
    req_init(&r, "use");
    r.use_count = 3;
    assert_int_equal(eval(p, &r), TSR_ODRL_DENY);
    tsr_buf_init(&b, 1 << 16);
    assert_int_equal(tsr_odrl_decision_text(&dec, &b), 0);
    const char *t = tsr_buf_str(&b);
    assert_non_null(strstr(t, "deny: a constraint is not satisfied"));
    assert_non_null(strstr(t, "permission 0 <urn:perm:1>: inactive"));
    assert_non_null(strstr(t, "count lteq 3 (actual 4): unsatisfied"));
    assert_non_null(strstr(t, "dateTime lt 2030-01-01T00:00:00Z (actual 2026-06-01T12:00:00Z): "
                              "satisfied"));
    tsr_buf_cleanup(&b);

    json_t *j = tsr_odrl_decision_json(&dec);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "decision")), "deny");
    json_t *c0 = json_array_get(json_object_get(j, "constraints"), 0);
    assert_string_equal(json_string_value(json_object_get(c0, "id")), "urn:c:count");
    assert_string_equal(json_string_value(json_object_get(c0, "actual")), "4");
    assert_string_equal(json_string_value(json_object_get(c0, "state")), "unsatisfied");
    json_decref(j);

    r.use_count = 0;
    assert_int_equal(eval(p, &r), TSR_ODRL_PERMIT);
    j = tsr_odrl_decision_json(&dec);
    json_t *p0 = json_array_get(json_object_get(j, "pending"), 0);
    assert_string_equal(json_string_value(json_object_get(p0, "deadline")),
                        "2026-12-31T00:00:00Z");
    assert_string_equal(json_string_value(json_object_get(p0, "timing")), "post");
    assert_string_equal(json_string_value(json_object_get(p0, "rule")), "urn:perm:1");
    json_decref(j);
    tsr_buf_init(&b, 1 << 16);
    assert_int_equal(tsr_odrl_decision_text(&dec, &b), 0);
    assert_non_null(strstr(tsr_buf_str(&b), "duty http://www.w3.org/ns/odrl/2/delete (pending)"));
    tsr_buf_cleanup(&b);
    /* a buffer too small for the text fails cleanly */
    tsr_buf_init(&b, 16);
    assert_int_equal(tsr_odrl_decision_text(&dec, &b), TSR_ELIMIT);
    tsr_buf_cleanup(&b);
    tsr_odrl_policy_free(p);
}

static void test_truncated_reports(void **state)
{
    struct tsr_buf b;
    struct tsr_odrl_policy *p = NULL;
    struct tsr_diag d;
    struct tsr_odrl_request r;

    (void)state;
    tsr_buf_init(&b, 1 << 20);
    assert_int_equal(tsr_buf_adds(&b, "{\"permission\": [{\"action\": \"use\", \"constraint\": "
                                      "{\"or\": ["), 0);
    for (int i = 0; i < 100; i++)
        assert_int_equal(tsr_buf_addf(&b, "%s{\"leftOperand\": \"count\", \"operator\": \"eq\", "
                                          "\"rightOperand\": %d}", i ? "," : "", 100 - i), 0);
    assert_int_equal(tsr_buf_adds(&b, "]}}]}"), 0);
    assert_int_equal(tsr_odrl_parse(b.data, b.len, NULL, &p, &d), 0);
    req_init(&r, "use");
    r.use_count = 0; /* only the last member, count eq 1, holds */
    assert_int_equal(eval(p, &r), TSR_ODRL_PERMIT);
    assert_true(dec.truncated);
    assert_int_equal(dec.n_constraints, TSR_ODRL_MAX_CONSTRAINT_REPORTS);
    tsr_odrl_policy_free(p);
    tsr_buf_cleanup(&b);
}

static void test_next_boundary(void **state)
{
    struct tsr_odrl_request r;
    struct tsr_odrl_policy *p = compile_ok(
        "{'permission': [{'action': 'use', 'constraint': [{'leftOperand': 'dateTime',"
        " 'operator': 'lteq', 'rightOperand': '2026-12-31T00:00:00Z'}, {'leftOperand':"
        " 'elapsedTime', 'operator': 'lt', 'rightOperand': 'P10D'}]}]}");

    (void)state;
    req_init(&r, "use");
    assert_int_equal(tsr_odrl_next_boundary(p, &r), T("2026-12-31T00:00:00Z"));
    r.agreement_ms = T("2026-05-30T00:00:00Z");
    assert_int_equal(tsr_odrl_next_boundary(p, &r), T("2026-06-09T00:00:00Z"));
    r.now_ms = T("2027-01-01T00:00:00Z");
    assert_int_equal(tsr_odrl_next_boundary(p, &r), TSR_ODRL_TIME_UNSET);
    r.now_ms = TSR_ODRL_TIME_UNSET;
    assert_int_equal(tsr_odrl_next_boundary(p, &r), TSR_ODRL_TIME_UNSET);
    tsr_odrl_policy_free(p);
}

static void test_cache(void **state)
{
    struct tsr_odrl_cache *c = tsr_odrl_cache_new(2);
    char id[16];

    (void)state;
    assert_non_null(c);
    assert_null(tsr_odrl_cache_new(0));
    for (int i = 0; i < 3; i++) {
        snprintf(id, sizeof(id), "agr-%d", i);
        assert_int_equal(tsr_odrl_cache_put(c, id, compile_ok("{'permission': {'action':"
                                                               " 'use'}}")), 0);
        /* touch agr-0 so that agr-1 is the least recently used when agr-2 arrives */
        if (i == 1)
            assert_non_null(tsr_odrl_cache_get(c, "agr-0"));
    }
    assert_non_null(tsr_odrl_cache_get(c, "agr-0"));
    assert_null(tsr_odrl_cache_get(c, "agr-1"));
    assert_non_null(tsr_odrl_cache_get(c, "agr-2"));
    /* replace in place */
    struct tsr_odrl_policy *p2 = compile_ok("{'@id': 'v2', 'permission': {'action': 'read'}}");
    assert_int_equal(tsr_odrl_cache_put(c, "agr-2", p2), 0);
    assert_ptr_equal(tsr_odrl_cache_get(c, "agr-2"), p2);
    tsr_odrl_cache_remove(c, "agr-2");
    tsr_odrl_cache_remove(c, "agr-2");
    assert_null(tsr_odrl_cache_get(c, "agr-2"));
    assert_int_equal(tsr_odrl_cache_put(c, NULL, NULL), TSR_EINVAL);
    tsr_odrl_cache_free(c);
    tsr_odrl_cache_free(NULL);
}

/* Every allocation failure during compilation is reported, never a crash or a leak. */
static void test_out_of_memory(void **state)
{
    struct tsr_odrl_registry *reg = tsr_odrl_registry_new();
    struct tsr_odrl_options o;
    char *s = J("{'@context': {'ex': 'http://example.org/'}, '@graph': [{'@type': 'Agreement',"
                " '@id': 'urn:a', 'permission': [{'action': [{'rdf:value': 'read', 'refinement':"
                " {'leftOperand': 'resolution', 'operator': 'lt', 'rightOperand': 5}}],"
                " 'target': 'ex:t', 'constraint': ['urn:c'], 'duty': {'action': 'inform',"
                " 'informedParty': 'ex:p'}}]}, {'@id': 'urn:c', 'or': [{'leftOperand':"
                " 'cx-policy:Membership', 'operator': 'eq', 'rightOperand': 'active'},"
                " {'leftOperand': 'count', 'operator': 'lt', 'rightOperand': 3}]}]}");
    bool ok = false;

    (void)state;
    assert_int_equal(tsr_odrl_registry_add_catenax(reg), 0);
    memset(&o, 0, sizeof(o));
    o.registry = reg;
    for (long n = 0; n < 400 && !ok; n++) {
        struct tsr_odrl_policy *p = NULL;
        struct tsr_diag d;
        tsr_mem_fail_after(n);
        int rc = tsr_odrl_parse(s, strlen(s), &o, &p, &d);
        tsr_mem_fail_after(-1);
        if (rc == 0) {
            ok = true;
            assert_non_null(p);
        } else {
            assert_int_equal(rc, TSR_ENOMEM);
            assert_null(p);
        }
        tsr_odrl_policy_free(p);
    }
    assert_true(ok);
    tsr_free(s);
    tsr_odrl_registry_free(reg);
}

/* A target given as a node with both @id and uid: @id wins, whichever member comes first. */
static void test_entity_id_and_uid(void **state)
{
    static const char *const policies[] = {
        "{'@context': 'http://www.w3.org/ns/odrl.jsonld', '@type': 'Set', 'permission': [{"
        "'action': 'read', 'target': {'@id': 'urn:asset', 'uid': 'urn:other'}}]}",
        "{'@context': 'http://www.w3.org/ns/odrl.jsonld', '@type': 'Set', 'permission': [{"
        "'action': 'read', 'target': {'uid': 'urn:other', '@id': 'urn:asset'}}]}",
    };
    struct tsr_odrl_request r;

    (void)state;
    for (size_t i = 0; i < TSR_ARRAY_SIZE(policies); i++) {
        struct tsr_odrl_policy *p = compile_ok(policies[i]);
        req_init(&r, "read");
        r.target = "urn:asset";
        if (eval(p, &r) != TSR_ODRL_PERMIT)
            fail_msg("policy %zu: %s", i, dec.why);
        r.target = "urn:other";
        assert_int_equal(eval(p, &r), TSR_ODRL_NOT_APPLICABLE);
        tsr_odrl_policy_free(p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tables),
        cmocka_unit_test(test_action_hierarchy),
        cmocka_unit_test(test_shapes),
        cmocka_unit_test(test_accessors),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_operators_scalar),
        cmocka_unit_test(test_operators_set),
        cmocka_unit_test(test_count),
        cmocka_unit_test(test_elapsed_time),
        cmocka_unit_test(test_delay_and_interval),
        cmocka_unit_test(test_datetime_and_inforce),
        cmocka_unit_test(test_purpose_spatial_recipient),
        cmocka_unit_test(test_xone),
        cmocka_unit_test(test_and_sequence),
        cmocka_unit_test(test_or_nested),
        cmocka_unit_test(test_refinements),
        cmocka_unit_test(test_duties),
        cmocka_unit_test(test_obligations),
        cmocka_unit_test(test_prohibitions),
        cmocka_unit_test(test_collections),
        cmocka_unit_test(test_catenax),
        cmocka_unit_test(test_registry),
        cmocka_unit_test(test_request_errors),
        cmocka_unit_test(test_output),
        cmocka_unit_test(test_truncated_reports),
        cmocka_unit_test(test_next_boundary),
        cmocka_unit_test(test_cache),
        cmocka_unit_test(test_out_of_memory),
        cmocka_unit_test(test_entity_id_and_uid),
    };
    return cmocka_run_group_tests(tests, NULL, group_teardown);
}
